/* The timing harness: warm-up runs, then repeated timed runs, summarised as
 * min, median, mean and max.
 *
 * The latency table stores, predicts and is validated against one statistic
 * of them, lat_stat (below): the fastest run. On a shared machine other
 * tenants only ever slow a run down, and here they do it in bursts: with
 * fmnist-ref timed 200 times in a row, the median of one such window came
 * out at 288-300 us in some and at 380-420 us in others, seconds apart, while
 * the fastest run of most windows stayed at 285-298 us. A table of medians
 * then records whichever phase each key happened to be timed in (in
 * validation, 57-86 % of 100 fmnist networks within +-5 %, from run to run);
 * one of fastest runs, 82-93 %. On a quiet device the fastest run is within
 * a few per cent of the median.
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

/* The statistic the latency table uses (see above): the fastest timed run. */
static inline double lat_stat(const struct lat_stats *st) { return st->min_us; }
#define LAT_STAT_NAME "min"

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
/* Statistics of n >= 1 samples in microseconds (sorts samples in place);
 * min_us is the smallest positive sample when the median is positive. */
void lat_stats_from_samples(double *samples_us, int n, struct lat_stats *st);
/* Pins the calling thread to CPU cpu; returns HW_OK or HW_EINVAL. */
int lat_pin_cpu(int cpu);

#endif
