/* IDX files (the MNIST / Fashion-MNIST container), gzip-compressed or raw.
 *
 * Format: 4-byte magic {0, 0, type, ndim}, then ndim big-endian uint32
 * dimensions, then prod(dims) elements. hwnas reads only type 0x08
 * (unsigned byte), which is what image and label files use. The reader is
 * strict: a truncated file, trailing bytes after the data, a zero dimension,
 * a wrong type or dimension count is refused with a message naming the file
 * and the bad field. */
#ifndef HWNAS_EVALUATOR_IDX_H
#define HWNAS_EVALUATOR_IDX_H

#include <stddef.h>

#include "util/err.h"

#define IDX_MAX_DIMS 4

struct idx_array {
    int ndim;
    int dims[IDX_MAX_DIMS];
    size_t size;         /* prod(dims) */
    unsigned char *data; /* size bytes, owned by the array */
};

/* Reads path (gzip or raw; zlib reads both) into out. The file must have
 * between min_ndim and max_ndim dimensions. On failure out is left empty and
 * err names path and the bad field ("magic", "type", "ndim", "dims[1]",
 * "data" for truncation or trailing bytes, "gzip" for a corrupt stream). */
int idx_read(const char *path, int min_ndim, int max_ndim,
             struct idx_array *out, struct hw_err *err);

/* Frees the data; the array becomes empty. Safe on an empty array. */
void idx_array_release(struct idx_array *a);

#endif
