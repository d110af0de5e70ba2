/* The timing harness: warm-up runs, then repeated timed runs of a callback;
 * the median is the figure (robust to the noise of a shared machine). */
#ifndef HWNAS_LATENCY_TIMING_H
#define HWNAS_LATENCY_TIMING_H

struct lat_stats {
    int count;
    double mean_us, median_us, var_us, min_us, max_us;
};

/* Runs fn(ctx) warmup times untimed, then runs times timed, into st.
 * runs must be >= 1. */
void lat_time(void (*fn)(void *ctx), void *ctx, int warmup, int runs,
              struct lat_stats *st);
/* Statistics of n samples in microseconds (sorts samples in place). */
void lat_stats_from_samples(double *samples_us, int n, struct lat_stats *st);
/* Pins the calling thread to CPU cpu; returns HW_OK or HW_EINVAL. */
int lat_pin_cpu(int cpu);

#endif
