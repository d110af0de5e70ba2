/* The timing harness: warm-up runs, then repeated timed runs; the median is
 * the figure (robust to the noise of a shared machine).
 *
 * Clocks: with one thread the calling thread's CPU time is used. On an idle
 * core it equals wall time (the kernels never sleep or wait), but it does not
 * count the time the thread spends preempted, which on a shared machine
 * otherwise dominates the tail of every run longer than a scheduler slice.
 * With several threads the other threads' work must count, so wall time is
 * used. Each sample has the clock's own reading cost subtracted (a CPU-time
 * reading is a system call, about 1 us here). */
#ifndef HWNAS_LATENCY_TIMING_H
#define HWNAS_LATENCY_TIMING_H

#include <stdint.h>

struct lat_stats {
    int count;
    double mean_us, median_us, var_us, min_us, max_us;
};

enum lat_clock {
    LAT_CLOCK_WALL,   /* CLOCK_MONOTONIC */
    LAT_CLOCK_THREAD, /* CLOCK_THREAD_CPUTIME_ID of the calling thread */
};

/* How many runs to time. After `warmup` untimed runs, runs are timed until
 * `runs` samples, or earlier once at least `min_runs` samples were taken and
 * `budget_ms` of wall time has passed (budget_ms 0: exactly `runs`), so
 * cheap units get many samples and expensive ones a bounded time. */
struct lat_timing {
    int warmup;
    int runs;     /* >= 1: the most samples */
    int min_runs; /* 1..runs */
    double budget_ms;
    enum lat_clock clock;
};

/* The clock for measurements with `threads` threads (see above). */
enum lat_clock lat_clock_for_threads(int threads);
/* A reading of clock c in nanoseconds. */
uint64_t lat_clock_ns(enum lat_clock c);
/* Median cost of one reading of c in microseconds (what an empty interval
 * measures); computed once per clock and cached. */
double lat_clock_overhead_us(enum lat_clock c);

/* Whether a timing loop that has taken `done` samples since wall time
 * start_ns (timer_now_ns) should stop. */
int lat_timing_done(const struct lat_timing *tm, int done, uint64_t start_ns);

/* Runs fn(ctx) tm->warmup times untimed, then timed runs per tm, into st. */
void lat_time(void (*fn)(void *ctx), void *ctx, const struct lat_timing *tm,
              struct lat_stats *st);
/* Statistics of n >= 1 samples in microseconds (sorts samples in place). */
void lat_stats_from_samples(double *samples_us, int n, struct lat_stats *st);
/* Pins the calling thread to CPU cpu; returns HW_OK or HW_EINVAL. */
int lat_pin_cpu(int cpu);

#endif
