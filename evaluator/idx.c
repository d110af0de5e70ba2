#include "evaluator/idx.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
/* Larger declared sizes are refused: no real IDX file comes near, and a
 * corrupt header must not make us allocate gigabytes. */
#define IDX_MAX_BYTES ((size_t)1 << 31)
/* The buffer grows towards the declared size as data actually arrives, so a
 * short file with a huge header costs little memory and time (a 16 MiB
 * first chunk made each such fuzz_idx run 60x slower under ASan; the
 * doublings cost nothing measurable on Fashion-MNIST's 47 MB file: see
 * bench/RESULTS.md#fuzzing). */
#define IDX_FIRST_CHUNK ((size_t)64 << 10)

void idx_array_release(struct idx_array *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* zlib's message without the "path: " it prefixes, since ours names it. */
static const char *zlib_reason(gzFile f, const char *path, int *zerr)
{
    const char *msg = gzerror(f, zerr);
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

/* Reads up to n bytes; returns the count read, or -1 after filling err with
 * zlib's reason when the stream is corrupt or cut short. */
static long read_bytes(gzFile f, const char *path, void *buf, size_t n,
                       struct hw_err *err)
{
    size_t got = 0;
    while (got < n) {
        unsigned want = n - got > (1u << 30) ? 1u << 30 : (unsigned)(n - got);
        int r = gzread(f, (unsigned char *)buf + got, want);
        if (r < 0 || (r == 0 && !gzeof(f))) {
            int zerr;
            const char *msg = zlib_reason(f, path, &zerr);
            hw_error(err, HW_EINVAL, "%s: gzip: %s", path,
                     zerr == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    /* zlib reports a gzip stream cut short as Z_BUF_ERROR with a short read. */
    int zerr;
    const char *msg = zlib_reason(f, path, &zerr);
    if (zerr == Z_BUF_ERROR) {
        hw_error(err, HW_EINVAL, "%s: gzip: %s (compressed stream truncated)",
                 path, msg);
        return -1;
    }
    return (long)got;
}

static int read_header(gzFile f, const char *path, int min_ndim, int max_ndim,
                       struct idx_array *out, struct hw_err *err)
{
    unsigned char magic[4];
    long got = read_bytes(f, path, magic, 4, err);
    if (got < 0)
        return err->status;
    if (got == 0)
        return hw_error(err, HW_EINVAL, "%s: empty file", path);
    if (got < 4)
        return hw_error(err, HW_EINVAL, "%s: magic: truncated (%ld of 4 bytes)",
                        path, got);
    if (magic[0] != 0 || magic[1] != 0)
        return hw_error(err, HW_EINVAL,
                        "%s: magic: 0x%02x%02x%02x%02x does not start with two zero "
                        "bytes (not an IDX file)",
                        path, magic[0], magic[1], magic[2], magic[3]);
    if (magic[2] != IDX_TYPE_UBYTE)
        return hw_error(err, HW_EINVAL,
                        "%s: type: 0x%02x is not 0x08 (unsigned byte)", path, magic[2]);
    if (magic[3] < min_ndim || magic[3] > max_ndim)
        return hw_error(err, HW_EINVAL, "%s: ndim: %d is not in %d..%d", path,
                        magic[3], min_ndim, max_ndim);
    out->ndim = magic[3];

    unsigned char dims[4 * IDX_MAX_DIMS];
    got = read_bytes(f, path, dims, 4 * (size_t)out->ndim, err);
    if (got < 0)
        return err->status;
    if (got < 4 * out->ndim)
        return hw_error(err, HW_EINVAL, "%s: dims: truncated (%ld of %d bytes)",
                        path, got, 4 * out->ndim);
    out->size = 1;
    for (int i = 0; i < out->ndim; i++) {
        const unsigned char *d = dims + 4 * i;
        uint32_t v = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                     (uint32_t)d[2] << 8 | d[3];
        if (v == 0)
            return hw_error(err, HW_EINVAL, "%s: dims[%d]: 0 (empty)", path, i);
        if (v > INT32_MAX || out->size * v > IDX_MAX_BYTES)
            return hw_error(err, HW_EINVAL,
                            "%s: dims[%d]: %u makes the data larger than %zu bytes",
                            path, i, v, IDX_MAX_BYTES);
        out->dims[i] = (int)v;
        out->size *= v;
    }
    return HW_OK;
}

static int read_data(gzFile f, const char *path, struct idx_array *out,
                     struct hw_err *err)
{
    size_t cap = 0, got = 0;
    while (got < out->size) {
        if (got == cap) {
            size_t ncap = cap ? cap * 2 : IDX_FIRST_CHUNK;
            if (ncap > out->size)
                ncap = out->size;
            unsigned char *p = realloc(out->data, ncap);
            if (!p)
                return hw_error(err, HW_ENOMEM, "%s: out of memory for %zu bytes",
                                path, ncap);
            out->data = p;
            cap = ncap;
        }
        long r = read_bytes(f, path, out->data + got, cap - got, err);
        if (r < 0)
            return err->status;
        got += (size_t)r;
        if (got < cap)
            break; /* end of file */
    }
    if (got < out->size)
        return hw_error(err, HW_EINVAL,
                        "%s: data: truncated: header declares %zu bytes, file has %zu",
                        path, out->size, got);
    unsigned char extra;
    long r = read_bytes(f, path, &extra, 1, err);
    if (r < 0)
        return err->status;
    if (r > 0)
        return hw_error(err, HW_EINVAL,
                        "%s: data: trailing bytes after the %zu declared by the header",
                        path, out->size);
    return HW_OK;
}

int idx_read(const char *path, int min_ndim, int max_ndim, struct idx_array *out,
             struct hw_err *err)
{
    memset(out, 0, sizeof *out);
    if (min_ndim < 1 || max_ndim > IDX_MAX_DIMS || min_ndim > max_ndim)
        return hw_error(err, HW_EINVAL, "%s: bad ndim range %d..%d", path,
                        min_ndim, max_ndim);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return hw_error(err, HW_EIO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
    int rc = read_header(f, path, min_ndim, max_ndim, out, err);
    if (rc == HW_OK)
        rc = read_data(f, path, out, err);
    gzclose(f);
    if (rc != HW_OK)
        idx_array_release(out);
    return rc;
}
