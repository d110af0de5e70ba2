#include "latency/measure.h"
#include "latency/lut.h"
#include "nn/net.h"
#include "util/timer.h"

#include <stdlib.h>

void lat_timing_defaults(struct lat_timing *tm, int threads)
{
    *tm = (struct lat_timing){.warmup = 3, .runs = 100, .min_runs = 15, .budget_ms = 500,
                              .clock = lat_clock_for_threads(threads)};
}

/* An INFER net for a, batch 1, random weights and input. */
static int build_net(const struct arch *a, struct nn_net **net, float **x, struct hw_err *err)
{
    int rc = nn_net_create(net, a, 1, NN_MODE_INFER, err);
    if (rc)
        return rc;
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 2);
    nn_net_init_params(*net, &rng);
    size_t n = (size_t)a->in_h * (size_t)a->in_w * (size_t)a->in_c;
    *x = malloc(sizeof **x * n);
    if (!*x) {
        nn_net_free(*net);
        return hw_error(err, HW_ENOMEM, "out of memory for a %zu-float input", n);
    }
    for (size_t i = 0; i < n; i++)
        (*x)[i] = (float)pcg32_normal(&rng);
    return HW_OK;
}

int lat_measure_units(const struct arch *a, const unsigned char *want,
                      const struct lat_timing *tm, struct lat_stats *st, struct hw_err *err)
{
    int nu = lut_n_units(a);
    struct nn_net *net;
    float *x;
    int rc = build_net(a, &net, &x, err);
    if (rc)
        return rc;
    /* samples[u * runs + i]: run i of unit u */
    double *samples = malloc(sizeof *samples * (size_t)nu * (size_t)tm->runs);
    if (!samples) {
        nn_net_free(net);
        free(x);
        return hw_error(err, HW_ENOMEM, "out of memory for %d x %d timing samples", nu, tm->runs);
    }
    double overhead = lat_clock_overhead_us(tm->clock);
    nn_net_set_input(net, x, 1);
    for (int i = 0; i < tm->warmup; i++)
        for (int u = 0; u < nu; u++)
            nn_net_forward_unit(net, u, 1);
    uint64_t start = timer_now_ns();
    int n = 0;
    while (!lat_timing_done(tm, n, start)) {
        for (int u = 0; u < nu; u++) {
            if (want && !want[u]) {
                nn_net_forward_unit(net, u, 1);
                continue;
            }
            uint64_t t0 = lat_clock_ns(tm->clock);
            nn_net_forward_unit(net, u, 1);
            double us = (double)(lat_clock_ns(tm->clock) - t0) * 1e-3 - overhead;
            samples[(size_t)u * (size_t)tm->runs + (size_t)n] = us > 0 ? us : 0;
        }
        n++;
    }
    for (int u = 0; u < nu; u++)
        if (!want || want[u])
            lat_stats_from_samples(samples + (size_t)u * (size_t)tm->runs, n, &st[u]);
    free(samples);
    nn_net_free(net);
    free(x);
    return HW_OK;
}

struct net_ctx {
    struct nn_net *net;
    const float *x;
};

static void run_net(void *p)
{
    struct net_ctx *c = p;
    nn_net_forward(c->net, c->x, 1, NULL);
}

int lat_measure_arch(const struct arch *a, const struct lat_timing *tm, struct lat_stats *st,
                     struct hw_err *err)
{
    struct nn_net *net;
    float *x;
    int rc = build_net(a, &net, &x, err);
    if (rc)
        return rc;
    struct net_ctx c = {net, x};
    lat_time(run_net, &c, tm, st);
    nn_net_free(net);
    free(x);
    return HW_OK;
}

int lat_measure_archs(const struct arch *a, int n, int rounds, const struct lat_timing *tm,
                      double *best_us, int (*progress)(void *ctx, int done), void *ctx,
                      struct hw_err *err)
{
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            struct lat_stats st;
            int rc = lat_measure_arch(&a[i], tm, &st, err);
            if (rc)
                return rc;
            if (r == 0 || lat_stat(&st) < best_us[i])
                best_us[i] = lat_stat(&st);
            if (progress && progress(ctx, r * n + i + 1))
                return hw_error(err, HW_EINTR, "stopped after %d of %d timings", r * n + i + 1,
                                rounds * n);
        }
    return HW_OK;
}
