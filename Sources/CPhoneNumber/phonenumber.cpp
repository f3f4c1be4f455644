// libphonenumber behind the plain C interface of include/CPhoneNumber.h.

#include "CPhoneNumber.h"

// Some libphonenumber versions mark parts of their API deprecated; keep that noise (and
// any other warning from the library's headers) out of our build without touching
// anyone else's flags.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#pragma clang diagnostic ignored "-Wdeprecated"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <cstring>
#include <string>

namespace {

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// The singleton, with logging muted. With a verbose logger the library writes pieces of
// the input (e.g. "Possible country calling code: 1"); its default logger is already a
// null one, but we do not rely on that. A function-local static is initialised exactly
// once even under concurrent first calls (C++11), so SetLogger, which is not itself
// thread-safe, runs before any other use.
const PhoneNumberUtil &util() {
    static const PhoneNumberUtil *const instance = [] {
        PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
        u->SetLogger(new NullLogger()); // takes ownership
        return u;
    }();
    return *instance;
}

// Overwrites a string that held customer data before it is freed.
void wipe(std::string &s) {
    if (!s.empty()) {
        volatile char *p = &s[0];
        for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
    }
    s.clear();
}

int normalize(const char *number, const char *default_region, char *out, size_t out_capacity) {
    // Region codes are upper-case two-letter strings for libphonenumber; "ZZ" is its
    // "unknown region", under which only numbers with a country calling code parse.
    std::string region = "ZZ";
    if (default_region != nullptr && default_region[0] != '\0') {
        region.assign(default_region);
        for (char &c : region) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        }
    }

    std::string input(number);
    PhoneNumber parsed;
    const PhoneNumberUtil::ErrorType error = util().Parse(input, region, &parsed);
    wipe(input);
    switch (error) {
    case PhoneNumberUtil::NO_PARSING_ERROR:
        break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        return PK_PHONE_NO_COUNTRY_CODE;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN:
        return PK_PHONE_TOO_SHORT;
    case PhoneNumberUtil::TOO_LONG_NSN:
        return PK_PHONE_TOO_LONG;
    case PhoneNumberUtil::NOT_A_NUMBER:
    default:
        return PK_PHONE_NOT_A_NUMBER;
    }

    int result = PK_PHONE_OK;
    if (parsed.has_extension()) {
        result = PK_PHONE_HAS_EXTENSION;
    } else if (!util().IsValidNumber(parsed)) {
        result = PK_PHONE_INVALID_NUMBER;
    } else {
        std::string e164;
        util().Format(parsed, PhoneNumberUtil::E164, &e164);
        if (e164.size() + 1 > out_capacity) {
            result = PK_PHONE_BAD_ARGUMENT;
        } else {
            std::memcpy(out, e164.c_str(), e164.size() + 1);
        }
        wipe(e164);
    }
    parsed.Clear();
    return result;
}

} // namespace

extern "C" int pk_phone_normalize(const char *number, const char *default_region, char *out,
                                  size_t out_capacity) {
    if (out != nullptr && out_capacity > 0) out[0] = '\0';
    if (number == nullptr || out == nullptr || out_capacity == 0) return PK_PHONE_BAD_ARGUMENT;
    try {
        const int result = normalize(number, default_region, out, out_capacity);
        if (result != PK_PHONE_OK) out[0] = '\0';
        return result;
    } catch (...) {
        // Nothing may unwind into Swift.
        out[0] = '\0';
        return PK_PHONE_INTERNAL_ERROR;
    }
}
