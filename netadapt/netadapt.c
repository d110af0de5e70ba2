/* NetAdapt iterations (see netadapt.h). */
#include "netadapt/netadapt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluator/model.h"
#include "util/progress.h"

double netadapt_score(double q0, double lat0, double q, double lat)
{
    return (q0 - q + 1e-6) / (lat0 - lat + 1e-5);
}

double netadapt_quality(enum na_score score, const struct na_eval *e)
{
    return score == NA_SCORE_LOSS ? -e->loss : e->acc;
}

/* The largest count (a multiple of NA_CHANNEL_STEP below the current one)
 * whose arch predicts <= lat_max_ms; *found 0 when none does. */
static int choose_channels(const struct arch *a, enum na_kind kind, int unit, double lat_max_ms,
                           const struct na_ops *ops, struct na_proposal *p, int *found,
                           struct hw_err *err)
{
    int cur = netadapt_channels(a, kind, unit);
    *found = 0;
    for (int c = (cur - 1) / NA_CHANNEL_STEP * NA_CHANNEL_STEP; c >= NA_CHANNEL_STEP;
         c -= NA_CHANNEL_STEP) {
        struct arch t;
        struct hw_err skip;
        double ms;
        if (netadapt_trim_arch(a, kind, unit, c, &t, &skip) != HW_OK)
            continue; /* this count would change a layer's structure */
        int rc = ops->latency(ops->latency_ctx, &t, &ms, err);
        if (rc)
            return rc;
        if (ms <= lat_max_ms) {
            *p = (struct na_proposal){.kind = kind, .unit = unit, .first = unit, .last = unit,
                                      .channels_before = cur, .channels_after = c,
                                      .latency_ms = ms, .eval = {NAN, NAN}, .score = NAN};
            *found = 1;
            return HW_OK;
        }
    }
    return HW_OK;
}

int netadapt_proposals(const struct arch *a, double lat_max_ms, const struct na_ops *ops,
                       struct na_proposal *props, int *n, struct hw_err *err)
{
    struct na_group g[ARCH_MAX_LAYERS + 1];
    int n_groups = netadapt_groups(a, g), found, rc;
    *n = 0;
    for (int u = 1; u <= a->n_layers; u++) {
        if (!netadapt_channels(a, NA_EXPAND, u))
            continue;
        rc = choose_channels(a, NA_EXPAND, u, lat_max_ms, ops, &props[*n], &found, err);
        if (rc)
            return rc;
        *n += found;
    }
    for (int i = 0; i < n_groups; i++) {
        rc = choose_channels(a, NA_BOTTLENECK, g[i].first, lat_max_ms, ops, &props[*n], &found,
                             err);
        if (rc)
            return rc;
        if (found)
            props[(*n)++].last = g[i].last;
    }
    return HW_OK;
}

/* Scores proposal i (its eval set) against quality q0; 1 when it is now the
 * chosen one: the lowest score, of equal ones the first. A score that is not
 * a number (a NaN loss) counts as the worst, so the choice never depends on
 * the order proposals are scored in. */
static int keep(struct na_iteration *it, int i, enum na_score by, double q0, double lat0)
{
    struct na_proposal *p = &it->props[i];
    p->score = netadapt_score(q0, lat0, netadapt_quality(by, &p->eval), p->latency_ms);
    if (isnan(p->score))
        p->score = INFINITY;
    int c = it->chosen;
    if (c >= 0 && !(p->score < it->props[c].score || (p->score == it->props[c].score && i < c)))
        return 0;
    it->chosen = i;
    return 1;
}

static void note(struct progress *bar, const struct na_iteration *it)
{
    const struct na_proposal *c = &it->props[it->chosen];
    progress_note(bar, "best: unit %d -> %d ch, acc %.4f, loss %.4f", c->unit, c->channels_after,
                  c->eval.acc, c->eval.loss);
}

/* What farm_done keeps while farmed proposals come back. */
struct farmed {
    struct na_iteration *it;
    struct progress *bar;
    enum na_score by;
    double q0, lat0;
    int done;
    unsigned char back[NA_MAX_PROPOSALS]; /* proposals that came back */
    void *best; /* the chosen one's model bytes */
    size_t best_len;
};

static int farm_done(void *dctx, int i, const struct na_eval *e, const void *model, size_t len,
                     struct hw_err *err)
{
    struct farmed *f = dctx;
    if (i < 0 || i >= f->it->n || f->back[i])
        return hw_error(err, HW_EINVAL, "netadapt: proposal %d came back twice or was never "
                        "sent", i);
    f->back[i] = 1;
    f->it->props[i].eval = *e;
    f->done++;
    progress_update(f->bar, f->done);
    if (!keep(f->it, i, f->by, f->q0, f->lat0))
        return HW_OK;
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return hw_error(err, HW_ENOMEM, "netadapt: out of memory keeping proposal %d", i);
    memcpy(copy, model, len);
    free(f->best);
    f->best = copy;
    f->best_len = len;
    note(f->bar, f->it);
    return HW_OK;
}

int netadapt_iterate(struct nn_net *cur, double lat0, const struct na_eval *e0, double cut_ms,
                     int iteration, int max_batch, const struct na_ops *ops,
                     struct na_iteration *it, struct hw_err *err)
{
    double q0 = netadapt_quality(ops->score, e0);
    memset(it, 0, sizeof *it);
    it->iteration = iteration;
    it->chosen = -1;
    int rc = netadapt_proposals(nn_net_arch(cur), lat0 - cut_ms, ops, it->props, &it->n, err);
    if (rc)
        return rc;
    if (it->n == 0)
        return hw_error(err, HW_ENOTFOUND,
                        "netadapt: iteration %d: no layer or group can cut %.4f ms from %.4f ms "
                        "in steps of %d channels",
                        iteration, cut_ms, lat0, NA_CHANNEL_STEP);
    struct progress bar;
    char label[32];
    snprintf(label, sizeof label, "netadapt iter %d", iteration + 1);
    progress_init(&bar, label, it->n, "proposals", hw_log_quiet);
    if (ops->farm) {
        struct farmed f = {it, &bar, ops->score, q0, lat0, 0, {0}, NULL, 0};
        rc = ops->farm(ops->farm_ctx, cur, iteration, max_batch, it->props, it->n, farm_done, &f,
                       err);
        if (!rc && f.done < it->n)
            rc = hw_error(err, HW_EINVAL, "netadapt: iteration %d: %d of %d proposals came back",
                          iteration, f.done, it->n);
        if (!rc)
            rc = model_load_bytes(f.best, f.best_len, "the chosen proposal", max_batch, &it->net,
                                  err);
        free(f.best);
        if (rc)
            goto error;
    } else {
        for (int i = 0; i < it->n; i++) {
            struct na_proposal *p = &it->props[i];
            progress_update(&bar, i);
            struct nn_net *net = NULL;
            rc = netadapt_trim(cur, p->kind, p->unit, p->channels_after, max_batch, &net, err);
            if (!rc)
                rc = ops->tune(ops->tune_ctx, net, iteration, i, &p->eval, err);
            if (rc) {
                nn_net_free(net);
                goto error;
            }
            if (keep(it, i, ops->score, q0, lat0)) {
                nn_net_free(it->net);
                it->net = net;
            } else {
                nn_net_free(net);
            }
            note(&bar, it);
        }
    }
    progress_update(&bar, it->n);
    progress_finish(&bar);
    return HW_OK;
error:
    progress_finish(&bar);
    nn_net_free(it->net);
    it->net = NULL;
    it->chosen = -1;
    return rc;
}

void netadapt_proposal_units(const struct na_proposal *p, char *buf, int size)
{
    int len = snprintf(buf, (size_t)size, "%d", p->first);
    for (int u = p->first + 1; u <= p->last && len < size; u++)
        len += snprintf(buf + len, (size_t)(size - len), ",%d", u);
}
