#define _GNU_SOURCE
#include "latency/timing.h"
#include "util/err.h"
#include "util/timer.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void lat_stats_from_samples(double *s, int n, struct lat_stats *st)
{
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    /* Readings of 0 (clamped from <= 0) are glitches of the thread CPU clock,
     * not runs: under a hypervisor it can fail to advance over a whole unit
     * (seen: a 0 among 100 runs of a 33 us head while the host was busy), and
     * the table keeps minima. While they are fewer than half the readings
     * they are dropped from every figure, so min <= mean, median <= max holds
     * (the database and the importer refuse anything else); a unit cheaper
     * than a clock reading (mostly 0) keeps them all. */
    st->count = n; /* runs timed, glitches included */
    int zeros = 0;
    while (zeros < n && s[zeros] <= 0)
        zeros++;
    if (2 * zeros < n) {
        s += zeros;
        n -= zeros;
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    double mean = sum / n, var = 0;
    for (int i = 0; i < n; i++)
        var += (s[i] - mean) * (s[i] - mean);
    /* rounding can put a mean of equal readings an ulp outside them */
    mean = mean < s[0] ? s[0] : mean > s[n - 1] ? s[n - 1] : mean;
    st->mean_us = mean;
    st->var_us = n > 1 ? var / (n - 1) : 0;
    st->median_us = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    st->min_us = s[0];
    st->max_us = s[n - 1];
}

enum lat_clock lat_clock_for_threads(int threads)
{
    return threads <= 1 ? LAT_CLOCK_THREAD : LAT_CLOCK_WALL;
}

uint64_t lat_clock_ns(enum lat_clock c)
{
    if (c == LAT_CLOCK_WALL)
        return timer_now_ns();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double lat_clock_overhead_us(enum lat_clock c)
{
    static double cached[2] = {-1, -1};
    if (cached[c] >= 0)
        return cached[c];
    double s[501];
    for (int i = 0; i < 501; i++) {
        uint64_t t0 = lat_clock_ns(c);
        s[i] = (double)(lat_clock_ns(c) - t0) * 1e-3;
    }
    struct lat_stats st;
    lat_stats_from_samples(s, 501, &st);
    cached[c] = st.median_us;
    return cached[c];
}

int lat_timing_done(const struct lat_timing *tm, int done, uint64_t start_ns)
{
    if (done >= tm->runs)
        return 1;
    if (done < tm->min_runs || tm->budget_ms <= 0)
        return 0;
    return (double)(timer_now_ns() - start_ns) * 1e-6 >= tm->budget_ms;
}

void lat_time(void (*fn)(void *ctx), void *ctx, const struct lat_timing *tm, struct lat_stats *st)
{
    double overhead = lat_clock_overhead_us(tm->clock);
    for (int i = 0; i < tm->warmup; i++)
        fn(ctx);
    double stack[256];
    int cap = tm->runs;
    double *s = cap <= 256 ? stack : malloc(sizeof *s * (size_t)cap);
    if (!s) { /* fall back to fewer samples rather than fail a measurement */
        s = stack;
        cap = 256;
    }
    uint64_t start = timer_now_ns();
    int n = 0;
    while (n < cap && !lat_timing_done(tm, n, start)) {
        uint64_t t0 = lat_clock_ns(tm->clock);
        fn(ctx);
        double us = (double)(lat_clock_ns(tm->clock) - t0) * 1e-3 - overhead;
        s[n++] = us > 0 ? us : 0;
    }
    lat_stats_from_samples(s, n, st);
    if (s != stack)
        free(s);
}

int lat_pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? HW_OK : HW_EINVAL;
}
