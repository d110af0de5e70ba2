/* Measurements on this CPU with hwnas's own kernels: the latency table's units
 * and whole networks end to end (the ground truth the table is validated
 * against). Batch 1, INFER mode, random weights: latency does not depend on
 * the weight values. The caller sets the thread count (nn_set_threads) and
 * passes the matching timing (lat_timing_defaults). */
#ifndef HWNAS_LATENCY_MEASURE_H
#define HWNAS_LATENCY_MEASURE_H

#include "latency/timing.h"
#include "space/arch.h"
#include "util/err.h"

/* Defaults for `threads` threads: 3 warm-up runs, then 15 to 100 timed runs
 * within about 0.5 s, on the clock lat_clock_for_threads picks. */
void lat_timing_defaults(struct lat_timing *tm, int threads);

/* Times the units of a (0 = stem, 1..n_layers, n_layers+1 = head) flagged in
 * want (lut_n_units(a) bytes; NULL: every unit) inside the whole network:
 * every timed run is a full forward, unit by unit, with the clock read around
 * each wanted unit. A unit timed alone runs with its weights and buffers hot
 * in cache and comes out 10-25 % faster than inside a network, where the
 * previous unit has just written its input and its weights were last used a
 * whole forward ago; timing in place keeps the table additive. st has
 * lut_n_units(a) slots; only wanted ones are written. */
int lat_measure_units(const struct arch *a, const unsigned char *want,
                      const struct lat_timing *tm, struct lat_stats *st, struct hw_err *err);

/* Times the whole network end to end (nn_net_forward, batch 1). */
int lat_measure_arch(const struct arch *a, const struct lat_timing *tm, struct lat_stats *st,
                     struct hw_err *err);

/* Times n networks end to end in `rounds` interleaved passes (network 0..n-1,
 * then again) and gives each the smallest of its per-pass lat_stat (us). On a
 * shared machine other tenants only ever slow a run down, and a slow spell
 * lasts seconds: interleaving spreads each network's passes over the whole
 * measurement and the minimum keeps the pass the spell missed. progress
 * (optional) is called after each timing with the count done so far; a
 * non-zero return stops the measurement with HW_EINTR. */
int lat_measure_archs(const struct arch *a, int n, int rounds, const struct lat_timing *tm,
                      double *best_us, int (*progress)(void *ctx, int done), void *ctx,
                      struct hw_err *err);

#endif
