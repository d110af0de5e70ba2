/* Architectures of a space spread evenly over its latency range.
 *
 * Uniform samples of a factorized space crowd the middle of its latency
 * range (each latency is a sum of many independent choices), so a
 * calibration fitted on them, or a validation scored on them, says little
 * about the fast and slow ends, where a constrained search often ends up.
 * This draws a pool of uniform samples, orders it by the table's sum and
 * keeps the sample nearest each of n points spaced evenly in log(sum)
 * between the pool's fastest and slowest. */
#ifndef HWNAS_LATENCY_SPREAD_H
#define HWNAS_LATENCY_SPREAD_H

#include "latency/lut.h"
#include "space/space.h"
#include "util/pcg32.h"

/* Pool size per requested sample, and the largest pool. */
#define LAT_SPREAD_POOL 30
#define LAT_SPREAD_POOL_MAX 100000
/* Most samples one call draws. */
#define LAT_SPREAD_MAX 100000

/* n distinct samples of s (distinct pool draws; a small space may repeat an
 * arch) into out, fastest first, spread over the log of their table sums;
 * sum_us (optional) receives the sums. HW_ENOTFOUND naming the key when the
 * table lacks one. */
int lat_sample_spread(const struct space *s, const struct lut *t, struct pcg32 *rng, int n,
                      struct arch *out, double *sum_us, struct hw_err *err);

/* Shuffles a[0..n) (Fisher-Yates from rng): networks timed in random order,
 * so a drift of the machine's speed during the passes does not correlate
 * with their latency. */
void lat_shuffle_archs(struct arch *a, int n, struct pcg32 *rng);

#endif
