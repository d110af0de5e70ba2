/* NetAdapt run loop with database records and resume (see run.h). */
#include "netadapt/run.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluator/model.h"
#include "util/progress.h"

#define NA_STATE_VERSION 1

int netadapt_state_encode(const struct na_state *s, char **json, size_t *len,
                          struct hw_err *err)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "version", NA_STATE_VERSION) ||
        !cJSON_AddNumberToObject(o, "iteration", s->iteration) ||
        !cJSON_AddStringToObject(o, "model", s->model) ||
        !cJSON_AddNumberToObject(o, "latency_ms", s->latency_ms) ||
        !cJSON_AddNumberToObject(o, "acc", s->eval.acc) ||
        (isfinite(s->eval.loss) && !cJSON_AddNumberToObject(o, "loss", s->eval.loss)) ||
        !(*json = cJSON_PrintUnformatted(o))) {
        cJSON_Delete(o);
        return hw_error(err, HW_ENOMEM, "netadapt: out of memory encoding the state");
    }
    cJSON_Delete(o);
    *len = strlen(*json);
    return HW_OK;
}

/* The number at key of o into *v; HW_EINVAL naming the key otherwise. */
static int state_number(const cJSON *o, const char *key, double *v, struct hw_err *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(n))
        return hw_error(err, HW_EINVAL, "netadapt state: %s: missing or not a number", key);
    *v = n->valuedouble;
    return HW_OK;
}

int netadapt_state_decode(const void *blob, size_t len, struct na_state *s, struct hw_err *err)
{
    /* loss: since validation loss is measured (states before it lack it) */
    static const char *keys[] = {"version", "iteration", "model", "latency_ms", "acc", "loss"};
    double version = 0, iteration = 0;
    cJSON *o = cJSON_ParseWithLength(blob, len);
    int rc = HW_OK;
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return hw_error(err, HW_EINVAL, "netadapt state: not a JSON object");
    }
    for (const cJSON *c = o->child; c && !rc; c = c->next) {
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && strcmp(c->string, keys[k]) != 0)
            k++;
        if (k == sizeof keys / sizeof keys[0])
            rc = hw_error(err, HW_EINVAL, "netadapt state: unknown key \"%s\"", c->string);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");
    if (!rc && (rc = state_number(o, "version", &version, err)) == HW_OK &&
        version != NA_STATE_VERSION)
        rc = hw_error(err, HW_EINVAL, "netadapt state: version: %g is not %d", version,
                      NA_STATE_VERSION);
    if (!rc && (rc = state_number(o, "iteration", &iteration, err)) == HW_OK &&
        (iteration < 0 || iteration != floor(iteration) || iteration > 1e6))
        rc = hw_error(err, HW_EINVAL, "netadapt state: iteration: %g is not a count", iteration);
    if (!rc && (!cJSON_IsString(m) || strlen(m->valuestring) >= sizeof s->model))
        rc = hw_error(err, HW_EINVAL, "netadapt state: model: missing, not a string or too long");
    if (!rc)
        rc = state_number(o, "latency_ms", &s->latency_ms, err);
    if (!rc)
        rc = state_number(o, "acc", &s->eval.acc, err);
    s->eval.loss = NAN;
    if (!rc && cJSON_GetObjectItemCaseSensitive(o, "loss"))
        rc = state_number(o, "loss", &s->eval.loss, err);
    if (!rc) {
        s->iteration = (int)iteration;
        snprintf(s->model, sizeof s->model, "%s", m->valuestring);
    }
    cJSON_Delete(o);
    return rc;
}

/* Where run id's state stands: the saved state, or iteration 0 at the
 * source model (its accuracy measured now, its latency L0). */
static int load_start(struct db *db, const struct db_netadapt *r, const struct na_run_config *cfg,
                      const struct na_ops *ops, struct na_state *st, struct nn_net **net,
                      struct hw_err *err)
{
    void *blob = NULL;
    size_t len = 0;
    int rc = db_netadapt_load_state(db, r->id, &blob, &len, err);
    if (rc)
        return rc;
    if (blob) {
        rc = netadapt_state_decode(blob, len, st, err);
        free(blob);
        if (!rc && st->iteration != r->iterations)
            rc = hw_error(err, HW_EINVAL,
                          "netadapt run %lld: state is at iteration %d but the run at %d",
                          (long long)r->id, st->iteration, r->iterations);
        if (!rc)
            rc = model_load(st->model, cfg->max_batch, net, err);
        /* a state from before losses were measured, resumed to rank by loss */
        if (!rc && !isfinite(netadapt_quality(ops->score, &st->eval)))
            rc = ops->tune(ops->tune_ctx, *net, 0, -1, &st->eval, err);
        return rc;
    }
    memset(st, 0, sizeof *st);
    snprintf(st->model, sizeof st->model, "%s", r->source_model);
    st->latency_ms = r->initial_ms;
    rc = model_load(st->model, cfg->max_batch, net, err);
    if (!rc)
        rc = ops->tune(ops->tune_ctx, *net, 0, -1, &st->eval, err);
    return rc;
}

/* Records iteration it (chosen net already saved at model) in one transaction. */
static int record(struct db *db, int64_t id, const struct na_iteration *it,
                  const struct na_state *st, struct hw_err *err)
{
    struct db_na_step steps[NA_MAX_PROPOSALS];
    for (int i = 0; i < it->n; i++) {
        const struct na_proposal *p = &it->props[i];
        steps[i] = (struct db_na_step){
            .netadapt_id = id, .iteration = it->iteration, .proposal = i,
            .kind = p->kind == NA_EXPAND ? DB_NA_EXPAND : DB_NA_BOTTLENECK,
            .channels_before = p->channels_before, .channels_after = p->channels_after,
            .latency_ms = p->latency_ms, .val_acc = p->eval.acc, .val_loss = p->eval.loss,
            .chosen = i == it->chosen};
        netadapt_proposal_units(p, steps[i].layers, sizeof steps[i].layers);
    }
    char *blob;
    size_t len;
    int rc = netadapt_state_encode(st, &blob, &len, err);
    if (rc)
        return rc;
    rc = db_netadapt_add_iteration(db, id, it->iteration, steps, it->n, st->model,
                                   st->latency_ms, blob, len, err);
    free(blob);
    return rc;
}

int netadapt_run(struct db *db, int64_t id, const struct na_run_config *cfg,
                 const struct na_ops *ops, struct nn_net **out, struct na_state *state,
                 struct hw_err *err)
{
    struct db_netadapt r;
    struct nn_net *net = NULL;
    *out = NULL;
    int rc = db_netadapt_get(db, id, &r, err);
    if (rc)
        return rc;
    rc = load_start(db, &r, cfg, ops, state, &net, err);
    double cut = r.delta * r.initial_ms;
    int stuck = 0; /* no proposal can cut any more: the state reached stands */
    for (int done = 0; !rc && state->latency_ms > r.target_ms &&
                       (cfg->max_iterations <= 0 || done < cfg->max_iterations);
         done++) {
        struct na_iteration it;
        struct na_state next = *state;
        /* The last step only needs to reach the target; and where no
         * proposal can cut a whole step any more (latency falls in steps as
         * channels go), take the smallest cut each proposal can make. */
        double want = state->latency_ms - r.target_ms < cut ? state->latency_ms - r.target_ms : cut;
        rc = netadapt_iterate(net, state->latency_ms, &state->eval, want, state->iteration,
                              cfg->max_batch, ops, &it, err);
        if (rc == HW_ENOTFOUND && want > NA_MIN_CUT_MS) {
            if (!cfg->quiet)
                log_info("netadapt %lld iter %d: no proposal cuts %.4f ms; trying smaller cuts",
                         (long long)id, state->iteration + 1, want);
            rc = netadapt_iterate(net, state->latency_ms, &state->eval, NA_MIN_CUT_MS,
                                  state->iteration, cfg->max_batch, ops, &it, err);
        }
        stuck = rc == HW_ENOTFOUND;
        if (rc)
            break;
        const struct na_proposal *p = &it.props[it.chosen];
        next.iteration = state->iteration + 1;
        next.latency_ms = p->latency_ms;
        next.eval = p->eval;
        snprintf(next.model, sizeof next.model, "%s/netadapt-%lld-it%03d.hwm", cfg->workdir,
                 (long long)id, next.iteration);
        rc = model_save(next.model, it.net, err);
        if (!rc)
            rc = record(db, id, &it, &next, err);
        if (rc) {
            nn_net_free(it.net);
            break;
        }
        nn_net_free(net);
        net = it.net;
        *state = next;
        if (!cfg->quiet) {
            char units[64];
            netadapt_proposal_units(p, units, sizeof units);
            log_info("netadapt %lld iter %d: %d proposals, kept %s units %s %d->%d ch: "
                     "%.4f ms (%.1f%% of L0, target %.4f), val acc %.4f, loss %.4f",
                     (long long)id, next.iteration, it.n, p->kind == NA_EXPAND ? "expand" : "bottleneck",
                     units, p->channels_before, p->channels_after, p->latency_ms,
                     100.0 * p->latency_ms / r.initial_ms, r.target_ms, p->eval.acc,
                     p->eval.loss);
        }
    }
    db_netadapt_release(&r);
    if (rc && !stuck) {
        nn_net_free(net);
        return rc;
    }
    *out = net;
    return rc;
}
