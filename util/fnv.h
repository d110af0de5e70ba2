/* FNV-1a 64: the one hash behind arch, space, table-key and device
 * fingerprints. Values are mixed byte by byte, little-endian, so hashes are
 * the same on every host. */
#ifndef HWNAS_UTIL_FNV_H
#define HWNAS_UTIL_FNV_H

#include <stdint.h>

#define FNV1A64_BASIS 0xcbf29ce484222325ULL
/* The basis the device fingerprint and the table's key slots have always
 * used: FNV's decimal offset basis with its last digit lost. Kept, so that
 * device hashes stored in databases stay what they were. */
#define FNV1A64_BASIS_SHORT 1469598103934665603ULL

static inline uint64_t fnv1a64_byte(uint64_t h, unsigned char b)
{
    return (h ^ b) * 0x100000001b3ULL;
}

/* The low nbytes of v, least significant first. */
static inline uint64_t fnv1a64_le(uint64_t h, uint64_t v, int nbytes)
{
    for (int b = 0; b < nbytes; b++)
        h = fnv1a64_byte(h, (unsigned char)(v >> (8 * b)));
    return h;
}

/* The bytes of a NUL-terminated string, without the NUL. */
static inline uint64_t fnv1a64_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = fnv1a64_byte(h, (unsigned char)*s);
    return h;
}

#endif
