/* Calibration of the table's sums against whole networks.
 *
 * Summing per-layer entries misses what depends on the whole network: a layer
 * timed inside a small network finds its weights still in cache one forward
 * later, inside a large one it does not. Validation on this machine showed
 * the sum over-predicting small fmnist networks by ~2 % and under-predicting
 * large ones by 5-7 % (measured ~ 1.11 x sum - 46 us). So each device gets,
 * per input shape, a least-squares fit over networks sampled from the space
 * and measured end to end at profile time:
 *
 *     latency ~ alpha + beta * sum + gamma * params / 1e6
 *
 * weighted by 1 / measured^2 (it minimises the relative error, the figure
 * validation reports). The samples are drawn with their own seed, apart from
 * the ones `hwnas validate` draws, so validation stays out of sample. */
#ifndef HWNAS_LATENCY_CALIB_H
#define HWNAS_LATENCY_CALIB_H

#include <stdint.h>

#include "util/err.h"

struct lat_calib {
    double alpha_us, beta, gamma_us; /* gamma per million parameters */
    int samples;
    double rmspe_sum, rmspe_fit; /* on the fitted samples, fractions */
};

/* Fewest samples a fit takes (three coefficients, and some to spare). */
#define LAT_CALIB_MIN_SAMPLES 8

/* Fits c from n networks: their table sums (us), parameter counts and
 * measured latencies (us). When the parameter counts carry no information of
 * their own (collinear with the sums), gamma is 0 and the fit has two terms.
 * HW_EINVAL (naming the problem) for fewer than LAT_CALIB_MIN_SAMPLES
 * samples, a non-positive or non-finite figure, a degenerate fit, or one
 * predicting a non-positive latency for any of the samples. */
int lat_calib_fit(const double *sum_us, const int64_t *params, const double *measured_us,
                  int n, struct lat_calib *c, struct hw_err *err);

/* The calibrated latency of a network (us); the sum itself where the fit
 * would give a non-positive time (far outside the range it was fitted on). */
double lat_calib_apply(const struct lat_calib *c, double sum_us, int64_t params);

#endif
