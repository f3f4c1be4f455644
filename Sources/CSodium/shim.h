#ifndef PRIVACYKIT_CSODIUM_SHIM_H
#define PRIVACYKIT_CSODIUM_SHIM_H

#include <sodium.h>

// Macro constants that Swift imports with awkward types, or not at all, are re-exported
// as functions so the Sodium module reads every size from the library at run time.
static inline size_t pk_base64_urlsafe_no_padding_variant(void) {
    return (size_t)sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

static inline size_t pk_base64_encoded_len(size_t bin_len) {
    return sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

// crypto_generichash_state is declared 64-byte aligned, which Swift cannot import; the
// Sodium module allocates it as aligned raw memory and passes it through these.
static inline int pk_generichash_init(void *state, const unsigned char *key, size_t keylen,
                                      size_t outlen) {
    return crypto_generichash_init((crypto_generichash_state *)state, key, keylen, outlen);
}

static inline int pk_generichash_update(void *state, const unsigned char *in,
                                        unsigned long long inlen) {
    return crypto_generichash_update((crypto_generichash_state *)state, in, inlen);
}

static inline int pk_generichash_final(void *state, unsigned char *out, size_t outlen) {
    return crypto_generichash_final((crypto_generichash_state *)state, out, outlen);
}

#endif
