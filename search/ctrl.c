#include "search/ctrl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/ctrl_impl.h"
#include "util/binfile.h"

/* Saved states start with this magic ("HWCT") and a format version. */
#define CTRL_MAGIC 0x54435748u
#define CTRL_FORMAT 1u
/* Stream selector of every controller's PCG32; the seed picks the state. */
#define CTRL_RNG_STREAM 0x6377u

static const char *const kind_names[] = {"random", "evolution", "rl"};

static const struct ctrl_ops *kind_ops(enum ctrl_kind kind)
{
    switch (kind) {
    case CTRL_RANDOM: return &ctrl_random_ops;
    case CTRL_EVOLUTION: return &ctrl_evolution_ops;
    case CTRL_RL: return &ctrl_rl_ops;
    }
    return NULL;
}

void ctrl_buf_release(struct ctrl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ctrl_put(struct ctrl_buf *b, const void *p, size_t n)
{
    return bin_append(&b->data, &b->len, &b->cap, p, n);
}

int ctrl_get(struct ctrl_reader *r, void *p, size_t n, const char *what, struct hw_err *err)
{
    if (r->len - r->pos < n)
        return hw_error(err, HW_EINVAL, "controller state: truncated at byte %zu reading %s",
                        r->pos, what);
    memcpy(p, r->data + r->pos, n);
    r->pos += n;
    return HW_OK;
}

void ctrl_random_tokens(struct ctrl *c, int *tokens)
{
    for (int t = 0; t < c->vocab.n_tokens; t++)
        tokens[t] = (int)pcg32_bounded(&c->rng, (uint32_t)c->vocab.choices[t]);
}

void ctrl_config_default(struct ctrl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->hidden = 64;
    cfg->lr = 0.003;
    cfg->baseline_decay = 0.95;
    cfg->entropy_weight = 0.001;
    cfg->grad_clip = 5.0;
    cfg->temperature = 1.0;
    cfg->logit_clip = 0.0;
    cfg->init_range = 0.1;
    cfg->batch = 1;
    cfg->ppo_epochs = 0;
    cfg->ppo_clip = 0.2;
    cfg->population = 50;
    cfg->sample_size = 10;
}

const char *ctrl_kind_name(enum ctrl_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "?";
}

int ctrl_kind_parse(const char *s, enum ctrl_kind *out, struct hw_err *err)
{
    for (int k = 0; k < 3; k++)
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum ctrl_kind)k;
            return HW_OK;
        }
    return hw_error(err, HW_EINVAL, "controller '%s' is not one of random, evolution, rl", s);
}

static int check_vocab(const struct ctrl_vocab *v, struct hw_err *err)
{
    if (v->n_tokens < 1 || v->n_tokens > CTRL_MAX_TOKENS)
        return hw_error(err, HW_EINVAL, "controller vocab: n_tokens %d is not in 1..%d",
                        v->n_tokens, CTRL_MAX_TOKENS);
    for (int t = 0; t < v->n_tokens; t++)
        if (v->choices[t] < 1 || v->choices[t] > CTRL_MAX_CHOICES)
            return hw_error(err, HW_EINVAL, "controller vocab: choices[%d] = %d is not in 1..%d",
                            t, v->choices[t], CTRL_MAX_CHOICES);
    return HW_OK;
}

/* Each kind reads only its fields, so only those are checked. */
static int check_config(enum ctrl_kind kind, const struct ctrl_config *c, struct hw_err *err)
{
#define BAD(field, fmt, val, why) \
    hw_error(err, HW_EINVAL, "controller config: " field " = " fmt " " why, val)
    if (kind == CTRL_RL) {
        if (c->hidden < 1 || c->hidden > 1024)
            return BAD("hidden", "%d", c->hidden, "is not in 1..1024");
        if (!(c->lr > 0 && c->lr < 1))
            return BAD("lr", "%g", c->lr, "is not in (0, 1)");
        if (!(c->baseline_decay >= 0 && c->baseline_decay < 1))
            return BAD("baseline_decay", "%g", c->baseline_decay, "is not in [0, 1)");
        if (!(c->entropy_weight >= 0 && isfinite(c->entropy_weight)))
            return BAD("entropy_weight", "%g", c->entropy_weight, "must be >= 0");
        if (!(c->grad_clip >= 0 && isfinite(c->grad_clip)))
            return BAD("grad_clip", "%g", c->grad_clip, "must be >= 0");
        if (!(c->temperature > 0 && isfinite(c->temperature)))
            return BAD("temperature", "%g", c->temperature, "must be > 0");
        if (!(c->logit_clip >= 0 && isfinite(c->logit_clip)))
            return BAD("logit_clip", "%g", c->logit_clip, "must be >= 0");
        if (!(c->init_range >= 0 && c->init_range <= 10))
            return BAD("init_range", "%g", c->init_range, "is not in [0, 10]");
        if (c->batch < 1 || c->batch > 4096)
            return BAD("batch", "%d", c->batch, "is not in 1..4096");
        if (c->ppo_epochs < 0 || c->ppo_epochs > 100)
            return BAD("ppo_epochs", "%d", c->ppo_epochs, "is not in 0..100");
        if (c->ppo_epochs > 0 && !(c->ppo_clip > 0 && c->ppo_clip < 1))
            return BAD("ppo_clip", "%g", c->ppo_clip, "is not in (0, 1)");
    } else if (kind == CTRL_EVOLUTION) {
        if (c->population < 1 || c->population > 1000000)
            return BAD("population", "%d", c->population, "is not in 1..1000000");
        if (c->sample_size < 1 || c->sample_size > c->population)
            return BAD("sample_size", "%d", c->sample_size, "is not in 1..population");
    }
#undef BAD
    return HW_OK;
}

/* Common part of create and load: fields validated, RNG set, kind state
 * built (its init may draw initial weights from the RNG). */
static int ctrl_build(struct ctrl **out, enum ctrl_kind kind, const struct ctrl_vocab *vocab,
                      const struct ctrl_config *cfg, const struct pcg32 *rng,
                      struct hw_err *err)
{
    *out = NULL;
    const struct ctrl_ops *ops = kind_ops(kind);
    if (!ops)
        return hw_error(err, HW_EINVAL, "controller kind %d is not one of random, evolution, rl",
                        (int)kind);
    int rc = check_vocab(vocab, err);
    if (rc == HW_OK)
        rc = check_config(kind, cfg, err);
    if (rc != HW_OK)
        return rc;
    struct ctrl *c = calloc(1, sizeof *c);
    if (!c)
        return hw_error(err, HW_ENOMEM, "controller: out of memory");
    c->kind = kind;
    c->ops = ops;
    c->vocab = *vocab;
    c->cfg = *cfg;
    c->rng = *rng;
    rc = ops->init(c, err);
    if (rc != HW_OK) {
        ctrl_free(c);
        return rc;
    }
    *out = c;
    return HW_OK;
}

int ctrl_create(struct ctrl **out, enum ctrl_kind kind, const struct ctrl_vocab *vocab,
                const struct ctrl_config *cfg, uint64_t seed, struct hw_err *err)
{
    struct ctrl_config def;
    if (!cfg) {
        ctrl_config_default(&def);
        cfg = &def;
    }
    struct pcg32 rng;
    pcg32_seed(&rng, seed, CTRL_RNG_STREAM);
    return ctrl_build(out, kind, vocab, cfg, &rng, err);
}

void ctrl_propose(struct ctrl *c, int *tokens)
{
    c->ops->propose(c, tokens);
    c->n_proposed++;
}

int ctrl_report(struct ctrl *c, const int *tokens, double reward, struct hw_err *err)
{
    for (int t = 0; t < c->vocab.n_tokens; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab.choices[t])
            return hw_error(err, HW_EINVAL, "controller report: token %d = %d is not in 0..%d",
                            t, tokens[t], c->vocab.choices[t] - 1);
    if (!isfinite(reward))
        return hw_error(err, HW_EINVAL, "controller report: reward %g is not finite", reward);
    int rc = c->ops->report(c, tokens, reward, err);
    if (rc == HW_OK)
        c->n_reported++;
    return rc;
}

int ctrl_save(const struct ctrl *c, struct ctrl_buf *out, struct hw_err *err)
{
    uint32_t head[3] = {CTRL_MAGIC, CTRL_FORMAT, (uint32_t)c->kind};
    int rc = ctrl_put(out, head, sizeof head);
    if (rc == HW_OK)
        rc = ctrl_put(out, &c->vocab, sizeof c->vocab);
    if (rc == HW_OK)
        rc = ctrl_put(out, &c->cfg, sizeof c->cfg);
    if (rc == HW_OK)
        rc = ctrl_put(out, &c->rng, sizeof c->rng);
    if (rc == HW_OK)
        rc = ctrl_put(out, &c->n_proposed, sizeof c->n_proposed);
    if (rc == HW_OK)
        rc = ctrl_put(out, &c->n_reported, sizeof c->n_reported);
    if (rc == HW_OK)
        rc = c->ops->save(c, out);
    if (rc != HW_OK)
        return hw_error(err, rc, "controller save: out of memory");
    return HW_OK;
}

int ctrl_load(struct ctrl **out, const void *data, size_t len, struct hw_err *err)
{
    *out = NULL;
    struct ctrl_reader r = {data, len, 0};
    uint32_t head[3];
    struct ctrl_vocab vocab;
    struct ctrl_config cfg;
    struct pcg32 rng;
    int rc = ctrl_get(&r, head, sizeof head, "header", err);
    if (rc != HW_OK)
        return rc;
    if (head[0] != CTRL_MAGIC)
        return hw_error(err, HW_EINVAL, "controller state: bad magic 0x%08x", head[0]);
    if (head[1] != CTRL_FORMAT)
        return hw_error(err, HW_EINVAL, "controller state: format %u is not the supported %u",
                        head[1], CTRL_FORMAT);
    if ((rc = ctrl_get(&r, &vocab, sizeof vocab, "vocab", err)) != HW_OK ||
        (rc = ctrl_get(&r, &cfg, sizeof cfg, "config", err)) != HW_OK ||
        (rc = ctrl_get(&r, &rng, sizeof rng, "rng", err)) != HW_OK)
        return rc;
    struct ctrl *c;
    rc = ctrl_build(&c, (enum ctrl_kind)head[2], &vocab, &cfg, &rng, err);
    if (rc != HW_OK)
        return hw_error_prefix(err, "controller state");
    /* init may have drawn from the RNG: restore the saved one. */
    c->rng = rng;
    if ((rc = ctrl_get(&r, &c->n_proposed, sizeof c->n_proposed, "n_proposed", err)) != HW_OK ||
        (rc = ctrl_get(&r, &c->n_reported, sizeof c->n_reported, "n_reported", err)) != HW_OK ||
        (rc = c->ops->load(c, &r, err)) != HW_OK)
        goto error;
    if (r.pos != r.len) {
        rc = hw_error(err, HW_EINVAL, "controller state: %zu trailing bytes", r.len - r.pos);
        goto error;
    }
    *out = c;
    return HW_OK;
error:
    ctrl_free(c);
    return rc;
}

void ctrl_free(struct ctrl *c)
{
    if (!c)
        return;
    c->ops->release(c);
    free(c);
}

enum ctrl_kind ctrl_kind_of(const struct ctrl *c) { return c->kind; }
const struct ctrl_vocab *ctrl_vocab_of(const struct ctrl *c) { return &c->vocab; }
long ctrl_n_proposed(const struct ctrl *c) { return c->n_proposed; }
long ctrl_n_reported(const struct ctrl *c) { return c->n_reported; }

int ctrl_optimize(struct ctrl *c, int trials, ctrl_objective_fn objective, void *ctx,
                  double *best_reward, int *best_tokens, struct hw_err *err)
{
    int tokens[CTRL_MAX_TOKENS];
    double best = -INFINITY;
    for (int i = 0; i < trials; i++) {
        ctrl_propose(c, tokens);
        double r = objective(ctx, tokens);
        int rc = ctrl_report(c, tokens, r, err);
        if (rc != HW_OK)
            return rc;
        if (r > best) {
            best = r;
            if (best_tokens)
                memcpy(best_tokens, tokens, sizeof(int) * (size_t)c->vocab.n_tokens);
        }
    }
    if (best_reward)
        *best_reward = best;
    return HW_OK;
}
