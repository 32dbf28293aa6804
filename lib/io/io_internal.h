/*
 * Internal entry points of the dataset readers (lib/io/idx.c, csv.c). The
 * public path-based functions read the file and call these; the fuzz
 * targets (tests/fuzz/) call them on raw buffers.
 */
#ifndef DEEPCORE_IO_INTERNAL_H
#define DEEPCORE_IO_INTERNAL_H

#include "../core/internal.h"

#include <stdio.h>
#include <string.h>

/* strerror_r must be the POSIX one (int result, text in our buffer): the
 * project builds with _POSIX_C_SOURCE=200809L; _GNU_SOURCE would select
 * glibc's char * variant, which may ignore the buffer. */
#ifdef _GNU_SOURCE
#error "lib/io needs the POSIX strerror_r: do not define _GNU_SOURCE"
#endif

/* Room for the text of any errno value. */
#define DC__ERRNO_TEXT_MAX 128

/* The text of errno value err in buf (size bytes), for messages. strerror
 * returns a static buffer shared by every thread; this does not. */
static inline const char *dc__errno_text(int err, char *buf, size_t size) {
    if (strerror_r(err, buf, size) != 0)
        snprintf(buf, size, "error %d", err);
    return buf;
}
/* The same in a buffer that lives to the end of the enclosing block:
 *     dc__fail(DC_E_IO, "%s: ...: %s", func, DC__ERRNO_TEXT(errno)); */
#define DC__ERRNO_TEXT(err) \
    dc__errno_text((err), (char[DC__ERRNO_TEXT_MAX]){0}, DC__ERRNO_TEXT_MAX)

/* Reads a whole file into a new dc__malloc'd buffer (one extra NUL byte
 * after the data, not counted in *size). Files larger than max_size are
 * DC_E_FORMAT; a missing or unreadable file is DC_E_IO with the
 * errno text.
 * func names the public function in messages. (lib/io/idx.c) */
dc_status dc__read_file(const char *path, size_t max_size, const char *func,
                        unsigned char **data, size_t *size);

/* An IDX buffer, plain or gzip (detected by its magic 1f 8b), as a new
 * tensor owned by the caller (in no scope). max_bytes bounds the tensor's
 * size in bytes (0: 4 GiB). Malformed or hostile input is DC_E_FORMAT;
 * nothing larger than about twice the data actually present is ever
 * allocated. */
dc_tensor *dc__idx_parse(const void *data, size_t size, size_t max_bytes);

/* Numeric CSV text of size bytes (need not be NUL-terminated) as a new
 * (rows, columns) tensor of dtype owned by the caller (in no scope). */
dc_tensor *dc__csv_parse(const char *text, size_t size, int header_rows,
                         dc_dtype dtype);

/* Test hook for crash safety: when > 0, the countdown-th file operation
 * of a save on this thread (each write, the fsync, the rename) fails with
 * EIO, as a full disk or a pulled cable would. 0 (the default) is off.
 * Only tests set it; it is not exported. */
extern _Thread_local long dc__io_fault_countdown;

#endif /* DEEPCORE_IO_INTERNAL_H */
