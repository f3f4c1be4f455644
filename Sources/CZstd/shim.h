#ifndef PRIVACYKIT_CZSTD_H
#define PRIVACYKIT_CZSTD_H
// Zstandard (Debian libzstd-dev): optional compression of backups before encryption.
#include <zstd.h>
#endif
