#include "latency/measure.h"
#include "nn/net.h"

#include <stdlib.h>

void lat_unit_arch(const struct arch *a, int u, struct arch *out, int *unit_out)
{
    *out = *a;
    if (u == 0) { /* the stem, and nothing after it worth timing */
        out->n_layers = 0;
        *unit_out = 0;
        return;
    }
    int h = arch_conv_out_size(a->in_h, a->stem.k, a->stem.stride);
    int w = arch_conv_out_size(a->in_w, a->stem.k, a->stem.stride);
    int c = a->stem.out;
    for (int i = 0; i < u - 1 && i < a->n_layers; i++) {
        h = arch_conv_out_size(h, a->layers[i].k, a->layers[i].stride);
        w = arch_conv_out_size(w, a->layers[i].k, a->layers[i].stride);
        c = a->layers[i].out;
    }
    /* A 3x3 stride-1 stem on a 1-channel input of the unit's input size
     * produces a tensor of exactly the shape the unit reads. */
    out->in_h = h;
    out->in_w = w;
    out->in_c = 1;
    out->stem = (struct arch_stem){3, 1, c, ARCH_ACT_RELU};
    if (u <= a->n_layers) {
        out->layers[0] = a->layers[u - 1];
        out->n_layers = 1;
        *unit_out = 1;
    } else {
        out->n_layers = 0;
        *unit_out = 1;
    }
}

struct unit_ctx {
    struct nn_net *net;
    int unit;
};

static void run_unit(void *p)
{
    struct unit_ctx *c = p;
    nn_net_forward_unit(c->net, c->unit, 1);
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

int lat_measure_unit(const struct arch *a, int u, const struct lat_measure_config *cfg,
                     struct lat_stats *st, struct hw_err *err)
{
    struct arch ua;
    int unit;
    lat_unit_arch(a, u, &ua, &unit);
    struct nn_net *net;
    float *x;
    int rc = build_net(&ua, &net, &x, err);
    if (rc)
        return rc;
    nn_net_set_input(net, x, 1);
    for (int i = 0; i < unit; i++) /* fill the unit's input buffer */
        nn_net_forward_unit(net, i, 1);
    struct unit_ctx c = {net, unit};
    lat_time(run_unit, &c, cfg->warmup, cfg->runs, st);
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

int lat_measure_arch(const struct arch *a, const struct lat_measure_config *cfg,
                     struct lat_stats *st, struct hw_err *err)
{
    struct nn_net *net;
    float *x;
    int rc = build_net(a, &net, &x, err);
    if (rc)
        return rc;
    struct net_ctx c = {net, x};
    lat_time(run_net, &c, cfg->warmup, cfg->runs, st);
    nn_net_free(net);
    free(x);
    return HW_OK;
}
