#ifndef PRIVACYKIT_CPHONENUMBER_H
#define PRIVACYKIT_CPHONENUMBER_H

// Plain C face of Google's libphonenumber (Debian libphonenumber-dev), so that Swift can
// use it without C++ interoperability. Thread-safe: the library's PhoneNumberUtil is a
// process-wide singleton whose parse/validate/format calls are const and lock-protected.
// Nothing here logs or prints: the library's logger is replaced with a null logger
// before first use, and phone numbers are customer PII.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The number is valid; `out` holds it in E.164 form, e.g. "+886912345678".
#define PK_PHONE_OK 0
/// The text parsed as a phone number, but it is not a valid number for its region
/// (wrong length or an unassigned range).
#define PK_PHONE_INVALID_NUMBER 1
/// The text does not look like a phone number at all.
#define PK_PHONE_NOT_A_NUMBER 2
/// A NULL argument, or `out_capacity` too small for the result (then `out` is "" if it
/// has room for the terminator).
#define PK_PHONE_BAD_ARGUMENT 3
/// The number has no country calling code ("+…" or an international prefix) and the
/// region is missing or unknown, or the country calling code does not exist.
#define PK_PHONE_NO_COUNTRY_CODE 4
/// Too few digits to be a phone number.
#define PK_PHONE_TOO_SHORT 5
/// Too many digits (or too much text) to be a phone number.
#define PK_PHONE_TOO_LONG 6
/// The number carries an extension ("ext. 12", ";ext=12"), which E.164 cannot express.
#define PK_PHONE_HAS_EXTENSION 7
/// The library failed unexpectedly (e.g. out of memory).
#define PK_PHONE_INTERNAL_ERROR 8

/// Room for any E.164 result plus the terminating NUL.
#define PK_PHONE_E164_CAPACITY 32

/// Parses `number` (UTF-8; local formats with trunk prefixes, "(+886) 912 345 678",
/// "+44 (0)20 7946 0958", dots, dashes, spaces, full-width digits) and, when it is valid,
/// writes its E.164 form and a terminating NUL to `out`.
///
/// `default_region` is an ISO 3166-1 alpha-2 code (case-insensitive) used when the number
/// has no country calling code; NULL or "" means none is known.
///
/// Returns one of the PK_PHONE_* codes. On any code but PK_PHONE_OK, `out` is set to ""
/// (when `out` is non-NULL and `out_capacity` > 0): a partial number is never left there.
int pk_phone_normalize(const char *number, const char *default_region, char *out,
                       size_t out_capacity);

#ifdef __cplusplus
}
#endif

#endif
