/* Measurements on this CPU with hwnas's own kernels: one unit (the latency
 * table entry) or a whole network end to end (the ground truth the table is
 * validated against). Batch 1, INFER mode, random weights: latency does not
 * depend on the weight values. */
#ifndef HWNAS_LATENCY_MEASURE_H
#define HWNAS_LATENCY_MEASURE_H

#include "latency/timing.h"
#include "space/arch.h"
#include "util/err.h"

struct lat_measure_config {
    int warmup; /* untimed runs before timing */
    int runs;   /* timed runs; the median is the figure */
};

/* The smallest arch whose unit `*unit_out` computes exactly unit u of a:
 * the stem alone, one layer fed by a cheap stem of the right shape, or the
 * head fed by such a stem. */
void lat_unit_arch(const struct arch *a, int u, struct arch *out, int *unit_out);

/* Times unit u of arch a in isolation (the table entry for its key). */
int lat_measure_unit(const struct arch *a, int u, const struct lat_measure_config *cfg,
                     struct lat_stats *st, struct hw_err *err);

/* Times the whole network end to end (nn_net_forward, batch 1). */
int lat_measure_arch(const struct arch *a, const struct lat_measure_config *cfg,
                     struct lat_stats *st, struct hw_err *err);

#endif
