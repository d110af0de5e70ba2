/* Regularized (aging) evolution, Real et al. 2019 (AmoebaNet), Algorithm 1:
 * the first P proposals are random; after that, sample S living members
 * uniformly (with replacement), mutate the best one in a single token, and
 * let the oldest member die when a reported child joins. Killing the oldest
 * rather than the worst keeps lucky evaluations from living forever.
 *
 * Reported (tokens, reward) pairs join the population in report order, so a
 * caller that reports a cached duplicate still ages the population. */
#include <stdlib.h>
#include <string.h>

#include "search/ctrl_impl.h"

struct evo_state {
    int cap;         /* P */
    int count;       /* living members, <= cap */
    int oldest;      /* ring index of the oldest member */
    int *tokens;     /* (cap, n_tokens) */
    double *reward;  /* (cap) */
};

static int evo_init(struct ctrl *c, struct hw_err *err)
{
    struct evo_state *s = calloc(1, sizeof *s);
    if (!s)
        return hw_error(err, HW_ENOMEM, "evolution: out of memory");
    c->state = s;
    s->cap = c->cfg.population;
    s->tokens = malloc(sizeof(int) * (size_t)s->cap * (size_t)c->vocab.n_tokens);
    s->reward = malloc(sizeof(double) * (size_t)s->cap);
    if (!s->tokens || !s->reward)
        return hw_error(err, HW_ENOMEM, "evolution: out of memory for population %d", s->cap);
    return HW_OK;
}

static void evo_release(struct ctrl *c)
{
    struct evo_state *s = c->state;
    if (!s)
        return;
    free(s->tokens);
    free(s->reward);
    free(s);
    c->state = NULL;
}

/* Changes one token with more than one choice to a different value. */
static void evo_mutate(struct ctrl *c, int *tokens)
{
    int n = c->vocab.n_tokens, mutable = 0;
    for (int t = 0; t < n; t++)
        mutable += c->vocab.choices[t] > 1;
    if (mutable == 0)
        return;
    int pick = (int)pcg32_bounded(&c->rng, (uint32_t)mutable);
    for (int t = 0; t < n; t++) {
        if (c->vocab.choices[t] < 2 || pick-- > 0)
            continue;
        /* Uniform over the other choices: draw from k-1 and skip the current one. */
        int v = (int)pcg32_bounded(&c->rng, (uint32_t)(c->vocab.choices[t] - 1));
        tokens[t] = v >= tokens[t] ? v + 1 : v;
        return;
    }
}

static void evo_propose(struct ctrl *c, int *tokens)
{
    struct evo_state *s = c->state;
    if (s->count < s->cap) {
        ctrl_random_tokens(c, tokens);
        return;
    }
    int best = -1;
    for (int i = 0; i < c->cfg.sample_size; i++) {
        int j = (int)pcg32_bounded(&c->rng, (uint32_t)s->count);
        if (best < 0 || s->reward[j] > s->reward[best])
            best = j;
    }
    int n = c->vocab.n_tokens;
    memcpy(tokens, s->tokens + (size_t)best * n, sizeof(int) * (size_t)n);
    evo_mutate(c, tokens);
}

static int evo_report(struct ctrl *c, const int *tokens, double reward, struct hw_err *err)
{
    struct evo_state *s = c->state;
    int slot;
    if (s->count < s->cap) {
        slot = s->count++;
    } else {
        slot = s->oldest;
        s->oldest = (s->oldest + 1) % s->cap;
    }
    int n = c->vocab.n_tokens;
    memcpy(s->tokens + (size_t)slot * n, tokens, sizeof(int) * (size_t)n);
    s->reward[slot] = reward;
    return HW_OK;
}

static int evo_save(const struct ctrl *c, struct ctrl_buf *b)
{
    const struct evo_state *s = c->state;
    size_t n = (size_t)s->count;
    int rc = ctrl_put(b, &s->count, sizeof s->count);
    if (rc == HW_OK)
        rc = ctrl_put(b, &s->oldest, sizeof s->oldest);
    if (rc == HW_OK)
        rc = ctrl_put(b, s->tokens, sizeof(int) * n * (size_t)c->vocab.n_tokens);
    if (rc == HW_OK)
        rc = ctrl_put(b, s->reward, sizeof(double) * n);
    return rc;
}

static int evo_load(struct ctrl *c, struct ctrl_reader *r, struct hw_err *err)
{
    struct evo_state *s = c->state;
    int rc = ctrl_get(r, &s->count, sizeof s->count, "evolution count", err);
    if (rc == HW_OK)
        rc = ctrl_get(r, &s->oldest, sizeof s->oldest, "evolution oldest", err);
    if (rc != HW_OK)
        return rc;
    if (s->count < 0 || s->count > s->cap || s->oldest < 0 ||
        s->oldest >= (s->count < s->cap ? 1 : s->cap))
        return hw_error(err, HW_EINVAL,
                        "controller state: evolution count %d / oldest %d do not fit population %d",
                        s->count, s->oldest, s->cap);
    size_t n = (size_t)s->count;
    rc = ctrl_get(r, s->tokens, sizeof(int) * n * (size_t)c->vocab.n_tokens,
                  "evolution tokens", err);
    if (rc == HW_OK)
        rc = ctrl_get(r, s->reward, sizeof(double) * n, "evolution rewards", err);
    if (rc != HW_OK)
        return rc;
    for (size_t i = 0; i < n * (size_t)c->vocab.n_tokens; i++) {
        int t = (int)(i % (size_t)c->vocab.n_tokens);
        if (s->tokens[i] < 0 || s->tokens[i] >= c->vocab.choices[t])
            return hw_error(err, HW_EINVAL, "controller state: evolution member %zu token %d = %d "
                            "is out of range", i / (size_t)c->vocab.n_tokens, t, s->tokens[i]);
    }
    return HW_OK;
}

const struct ctrl_ops ctrl_evolution_ops = {
    .init = evo_init,
    .propose = evo_propose,
    .report = evo_report,
    .save = evo_save,
    .load = evo_load,
    .release = evo_release,
};
