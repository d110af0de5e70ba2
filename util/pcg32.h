/* PCG32 (XSH-RR 64/32, O'Neill 2014): every random choice in hwnas comes from
 * one of these seeded streams, so a run is reproducible from its seed.
 * The struct is plain data: copy it to fork a stream, store it to resume. */
#ifndef HWNAS_UTIL_PCG32_H
#define HWNAS_UTIL_PCG32_H

#include <stddef.h>
#include <stdint.h>

struct pcg32 {
    uint64_t state;
    uint64_t inc; /* always odd */
};

/* Seeds the generator with an initial state and a stream selector. */
void pcg32_seed(struct pcg32 *rng, uint64_t initstate, uint64_t stream);
uint32_t pcg32_next(struct pcg32 *rng);
/* Uniform integer in [0, bound) without modulo bias; bound must be > 0. */
uint32_t pcg32_bounded(struct pcg32 *rng, uint32_t bound);
/* Uniform float in [0, 1) with 24 bits of precision. */
float pcg32_float(struct pcg32 *rng);
/* Uniform double in [0, 1) with 53 bits of precision. */
double pcg32_double(struct pcg32 *rng);
/* Standard normal (Box-Muller, no cached second value so the state alone
 * describes the stream). */
double pcg32_normal(struct pcg32 *rng);
/* Fisher-Yates shuffle of n ints. */
void pcg32_shuffle_int(struct pcg32 *rng, int *a, size_t n);

#endif
