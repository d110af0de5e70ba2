/* The identity of a latency table: what was measured on which machine with
 * which build. A table is only valid for the fingerprint it was made under;
 * a mismatch is refused, never silently used. */
#ifndef HWNAS_LATENCY_FINGERPRINT_H
#define HWNAS_LATENCY_FINGERPRINT_H

#include "util/err.h"

struct lat_fingerprint {
    char cpu[128];      /* "model | architecture | N cores | Linux release"; the model
                           from /proc/cpuinfo ("model name", or ARM's core parts) */
    int threads;        /* threads the kernels ran with */
    char backend[64];   /* hwnas kernel backend and layout */
    char blas_core[32]; /* OpenBLAS core in use (OPENBLAS_CORETYPE or detected) */
    char compiler[160]; /* compiler version and optimisation flags */
    char version[32];   /* hwnas version */
    char hash[17];      /* FNV-1a 64 of all of the above, hex */
};

/* Describes this machine and build for a run with `threads` threads. */
void lat_fingerprint_current(struct lat_fingerprint *fp, int threads);
/* Recomputes fp->hash from the other fields. */
void lat_fingerprint_rehash(struct lat_fingerprint *fp);
/* HW_OK when a and b match; otherwise HW_EMISMATCH with a message naming
 * the first differing field and both values ("blas core: table has Haswell,
 * this run has SkylakeX"). */
int lat_fingerprint_compare(const struct lat_fingerprint *table,
                            const struct lat_fingerprint *now, struct hw_err *err);

#endif
