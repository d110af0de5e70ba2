#include "util/pcg32.h"

#include <math.h>

#define PCG32_MULT 6364136223846793005ULL

void pcg32_seed(struct pcg32 *rng, uint64_t initstate, uint64_t stream)
{
    rng->state = 0;
    rng->inc = (stream << 1u) | 1u;
    pcg32_next(rng);
    rng->state += initstate;
    pcg32_next(rng);
}

uint32_t pcg32_next(struct pcg32 *rng)
{
    uint64_t old = rng->state;
    rng->state = old * PCG32_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t pcg32_bounded(struct pcg32 *rng, uint32_t bound)
{
    /* Reject the low values that would make some residues more likely. */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = pcg32_next(rng);
        if (r >= threshold)
            return r % bound;
    }
}

float pcg32_float(struct pcg32 *rng)
{
    return (float)(pcg32_next(rng) >> 8) * (1.0f / 16777216.0f);
}

double pcg32_double(struct pcg32 *rng)
{
    uint64_t hi = pcg32_next(rng) >> 5, lo = pcg32_next(rng) >> 6;
    return (double)(hi * 67108864ULL + lo) * (1.0 / 9007199254740992.0);
}

double pcg32_normal(struct pcg32 *rng)
{
    double u1 = 1.0 - pcg32_double(rng); /* (0, 1]: log is finite */
    double u2 = pcg32_double(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void pcg32_shuffle_int(struct pcg32 *rng, int *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = pcg32_bounded(rng, (uint32_t)i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
