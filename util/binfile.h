/* Binary files written whole and read back checked: a growing byte buffer
 * for serialization, an atomic replace (temporary file, fsync, rename: a
 * crash or kill -9 leaves the old file or the new one, never half of one),
 * and a bounds-checked cursor whose every read names what it was reading.
 * Integers are stored little-endian (the native order: hosts of another
 * order are refused at compile time by the users of these helpers). */
#ifndef HWNAS_UTIL_BINFILE_H
#define HWNAS_UTIL_BINFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct bin_buf {
    unsigned char *p; /* owned; free() it */
    size_t len, cap;
};

/* Appends src[0..n) to the malloc'd bytes *p holding *len of *cap,
 * doubling *cap as needed; HW_ENOMEM (nothing changed) when it cannot grow.
 * The one growth rule behind bin_put and other byte buffers. */
int bin_append(unsigned char **p, size_t *len, size_t *cap, const void *src, size_t n);
/* Appends n bytes; HW_ENOMEM when the buffer cannot grow. */
int bin_put(struct bin_buf *b, const void *src, size_t n);
int bin_put_u32(struct bin_buf *b, uint32_t v);
int bin_put_u64(struct bin_buf *b, uint64_t v);

/* Replaces path by bytes[0..len) through "<path>.tmp", fsync and rename. */
int bin_write_atomic(const char *path, const void *bytes, size_t len, struct hw_err *err);

/* Reads the whole file (at most max bytes: more is "not a <what>") into a
 * malloc'd *out of *len bytes. */
int bin_read_file(const char *path, size_t max, const char *what, unsigned char **out,
                  size_t *len, struct hw_err *err);

/* A cursor over a file's bytes (borrowed); path names it in messages. */
struct bin_cursor {
    const unsigned char *p;
    size_t len, pos;
    const char *path;
};

/* Copies the next n bytes into dst, or says the file is truncated at what. */
int bin_take(struct bin_cursor *c, void *dst, size_t n, const char *what, struct hw_err *err);

#endif
