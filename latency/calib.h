/* Calibration of the table's sums against whole networks.
 *
 * Summing per-layer entries misses what depends on the whole network: a layer
 * timed inside a small network finds its weights still in cache one forward
 * later, inside a large one it does not. Validation on this machine showed
 * the sum over-predicting small fmnist networks by ~2 % and under-predicting
 * large ones by 5-7 % (measured ~ 1.11 x sum - 46 us); on another machine
 * of the same kind the sum missed by up to 10 % on networks with many thin
 * high-resolution layers, which a term in the MACs corrects. So each device
 * gets, per input shape, a least-squares fit over networks sampled from the
 * space (spread over its latency range, latency/spread.h) and measured end to
 * end at profile time:
 *
 *     latency ~ alpha + beta * sum + gamma * params / 1e6 + delta * MACs / 1e6
 *
 * weighted by 1 / measured^2 (it minimises the relative error, the figure
 * validation reports). The samples are drawn with their own seed, apart from
 * the ones `hwnas validate` draws, so validation stays out of sample. */
#ifndef HWNAS_LATENCY_CALIB_H
#define HWNAS_LATENCY_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct lat_calib {
    double alpha_us, beta;
    double gamma_us; /* per million parameters */
    double delta_us; /* per million MACs (0 in calibrations older than it) */
    int samples;
    double rmspe_sum, rmspe_fit; /* on the fitted samples, fractions */
    /* 1: fitted to fastest runs, the statistic the table predicts (timing.h);
     * 0: to medians, by an hwnas before that: kept, shown, not used */
    int stat_min;
};

/* What a calibration reads of a network. */
struct lat_calib_x {
    double sum_us; /* the table's sum */
    int64_t params, macs;
};

/* Fewest samples a fit takes (four coefficients, and some to spare). */
#define LAT_CALIB_MIN_SAMPLES 8

/* Fits c from n networks and their measured latencies (us). A term whose
 * feature carries no information of its own (parameters or MACs collinear
 * with the other features) is dropped (its coefficient 0). HW_EINVAL (naming
 * the problem) for fewer than LAT_CALIB_MIN_SAMPLES samples, a non-positive
 * or non-finite figure, a degenerate fit, or one predicting a non-positive
 * latency for any of the samples. */
int lat_calib_fit(const struct lat_calib_x *x, const double *measured_us, int n,
                  struct lat_calib *c, struct hw_err *err);

/* The calibrated latency of a network (us); the sum itself where the fit
 * would give a non-positive time (far outside the range it was fitted on). */
double lat_calib_apply(const struct lat_calib *c, const struct lat_calib_x *x);

/* c as text: "A us + B x sum + C us/Mparams", then " + D us/MMACs" when D is
 * not 0 (so a calibration older than the MACs term reads as it did). */
void lat_calib_text(const struct lat_calib *c, char *buf, size_t size);

#endif
