#define _GNU_SOURCE
#include "latency/timing.h"
#include "util/err.h"
#include "util/timer.h"

#include <sched.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void lat_stats_from_samples(double *s, int n, struct lat_stats *st)
{
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += s[i];
    double mean = sum / n, var = 0;
    for (int i = 0; i < n; i++)
        var += (s[i] - mean) * (s[i] - mean);
    st->count = n;
    st->mean_us = mean;
    st->var_us = n > 1 ? var / (n - 1) : 0;
    st->median_us = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    st->min_us = s[0];
    st->max_us = s[n - 1];
}

void lat_time(void (*fn)(void *ctx), void *ctx, int warmup, int runs, struct lat_stats *st)
{
    for (int i = 0; i < warmup; i++)
        fn(ctx);
    double stack[256];
    double *s = runs <= 256 ? stack : malloc(sizeof *s * (size_t)runs);
    if (!s) { /* fall back to fewer samples rather than fail a measurement */
        s = stack;
        runs = 256;
    }
    for (int i = 0; i < runs; i++) {
        uint64_t t0 = timer_now_ns();
        fn(ctx);
        s[i] = (double)(timer_now_ns() - t0) * 1e-3;
    }
    lat_stats_from_samples(s, runs, st);
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
