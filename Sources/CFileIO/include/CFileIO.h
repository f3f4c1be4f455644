#ifndef PRIVACYKIT_CFILEIO_H
#define PRIVACYKIT_CFILEIO_H

// Linux file I/O that Swift's Glibc module leaves out because it needs _GNU_SOURCE.

/// O_DIRECT for open(2) (0 where the system has none).
int pk_o_direct(void);

/// sync_file_range(SYNC_FILE_RANGE_WRITE): start write-back of a byte range without waiting
/// (returns 0 and does nothing where the system has none).
int pk_start_writeback(int fd, long long offset, long long count);

#endif
