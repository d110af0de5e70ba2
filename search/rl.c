/* The rl controller: the LSTM policy of search/lstm.h trained with Adam on
 * batches of reported (tokens, reward) pairs.
 *
 * Advantage A_i = R_i - b with b an exponential moving average of past rewards
 * (initialised to the first batch's mean, so the first update is centred).
 * REINFORCE ascends  mean_i[A_i log p(a_i)] + entropy_weight * mean_i[H(a_i)].
 * PPO (ppo_epochs = k > 0) takes k Adam steps per batch on the clipped
 * surrogate mean_i[min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i)] + the entropy
 * term, r_i = p_new(a_i) / p_old(a_i). Its first step has r = 1, where the
 * surrogate's gradient equals REINFORCE's, so REINFORCE is PPO with one
 * unclipped step and the two share one update routine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/ctrl_impl.h"
#include "search/lstm.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

struct rl_state {
    struct lstm_policy pol;
    double *grad, *m, *v;  /* (n_params) each: gradient, Adam moments */
    long adam_t;           /* Adam steps taken */
    double baseline;
    int have_baseline;
    int pending;           /* reports waiting for the next update, < batch */
    int *batch_tokens;     /* (batch, n_tokens) */
    double *batch_reward;  /* (batch) */
    double *old_logp;      /* (batch): PPO's p_old */
};

static void rl_release(struct ctrl *c)
{
    struct rl_state *s = c->state;
    if (!s)
        return;
    lstm_policy_release(&s->pol);
    free(s->grad);
    free(s->m);
    free(s->v);
    free(s->batch_tokens);
    free(s->batch_reward);
    free(s->old_logp);
    free(s);
    c->state = NULL;
}

static int rl_init(struct ctrl *c, struct hw_err *err)
{
    struct rl_state *s = calloc(1, sizeof *s);
    if (!s)
        return hw_error(err, HW_ENOMEM, "rl controller: out of memory");
    c->state = s;
    int rc = lstm_policy_init(&s->pol, &c->vocab, c->cfg.hidden, c->cfg.temperature,
                              c->cfg.logit_clip, err);
    if (rc != HW_OK)
        return rc;
    size_t n = s->pol.n_params, b = (size_t)c->cfg.batch;
    s->grad = malloc(sizeof(double) * n);
    s->m = calloc(n, sizeof(double));
    s->v = calloc(n, sizeof(double));
    s->batch_tokens = malloc(sizeof(int) * b * (size_t)c->vocab.n_tokens);
    s->batch_reward = malloc(sizeof(double) * b);
    s->old_logp = malloc(sizeof(double) * b);
    if (!s->grad || !s->m || !s->v || !s->batch_tokens || !s->batch_reward || !s->old_logp)
        return hw_error(err, HW_ENOMEM, "rl controller: out of memory");
    lstm_policy_randomize(&s->pol, c->cfg.init_range, &c->rng);
    return HW_OK;
}

static void rl_propose(struct ctrl *c, int *tokens)
{
    struct rl_state *s = c->state;
    lstm_policy_forward(&s->pol, tokens, &c->rng, NULL);
}

/* Ascent step on s->grad: global-norm clip, then Adam. */
static void adam_ascend(struct ctrl *c, struct rl_state *s)
{
    size_t n = s->pol.n_params;
    double scale = 1.0;
    if (c->cfg.grad_clip > 0) {
        double sq = 0;
        for (size_t i = 0; i < n; i++)
            sq += s->grad[i] * s->grad[i];
        if (sqrt(sq) > c->cfg.grad_clip)
            scale = c->cfg.grad_clip / sqrt(sq);
    }
    s->adam_t++;
    double c1 = 1.0 - pow(ADAM_B1, (double)s->adam_t), c2 = 1.0 - pow(ADAM_B2, (double)s->adam_t);
    for (size_t i = 0; i < n; i++) {
        double g = s->grad[i] * scale;
        s->m[i] = ADAM_B1 * s->m[i] + (1 - ADAM_B1) * g;
        s->v[i] = ADAM_B2 * s->v[i] + (1 - ADAM_B2) * g * g;
        s->pol.params[i] += c->cfg.lr * (s->m[i] / c1) / (sqrt(s->v[i] / c2) + ADAM_EPS);
    }
}

static void rl_update(struct ctrl *c, struct rl_state *s)
{
    int B = s->pending, T = c->vocab.n_tokens;
    double adv[4096];
    if (!s->have_baseline) {
        double sum = 0;
        for (int i = 0; i < B; i++)
            sum += s->batch_reward[i];
        s->baseline = sum / B;
        s->have_baseline = 1;
    }
    for (int i = 0; i < B; i++)
        adv[i] = s->batch_reward[i] - s->baseline;
    for (int i = 0; i < B; i++)
        s->baseline = c->cfg.baseline_decay * s->baseline +
                      (1 - c->cfg.baseline_decay) * s->batch_reward[i];

    int ppo = c->cfg.ppo_epochs > 0, epochs = ppo ? c->cfg.ppo_epochs : 1;
    double eps = c->cfg.ppo_clip;
    for (int e = 0; e < epochs; e++) {
        memset(s->grad, 0, sizeof(double) * s->pol.n_params);
        for (int i = 0; i < B; i++) {
            int *tok = s->batch_tokens + (size_t)i * T;
            double lp = lstm_policy_forward(&s->pol, tok, NULL, NULL);
            if (e == 0)
                s->old_logp[i] = lp;
            double ratio = exp(lp - s->old_logp[i]);
            /* Where the clipped term is the smaller one its gradient is zero. */
            int clipped = ppo && ((adv[i] > 0 && ratio > 1 + eps) || (adv[i] < 0 && ratio < 1 - eps));
            double coef = clipped ? 0.0 : adv[i] * ratio / B;
            lstm_policy_backward(&s->pol, tok, coef, c->cfg.entropy_weight / B, s->grad);
        }
        adam_ascend(c, s);
    }
    s->pending = 0;
}

static int rl_report(struct ctrl *c, const int *tokens, double reward, struct hw_err *err)
{
    struct rl_state *s = c->state;
    int T = c->vocab.n_tokens;
    memcpy(s->batch_tokens + (size_t)s->pending * T, tokens, sizeof(int) * (size_t)T);
    s->batch_reward[s->pending++] = reward;
    if (s->pending == c->cfg.batch)
        rl_update(c, s);
    return HW_OK;
}

static int rl_save(const struct ctrl *c, struct ctrl_buf *b)
{
    const struct rl_state *s = c->state;
    size_t n = s->pol.n_params;
    int rc = ctrl_put(b, s->pol.params, sizeof(double) * n);
    if (rc == HW_OK) rc = ctrl_put(b, s->m, sizeof(double) * n);
    if (rc == HW_OK) rc = ctrl_put(b, s->v, sizeof(double) * n);
    if (rc == HW_OK) rc = ctrl_put(b, &s->adam_t, sizeof s->adam_t);
    if (rc == HW_OK) rc = ctrl_put(b, &s->baseline, sizeof s->baseline);
    if (rc == HW_OK) rc = ctrl_put(b, &s->have_baseline, sizeof s->have_baseline);
    if (rc == HW_OK) rc = ctrl_put(b, &s->pending, sizeof s->pending);
    if (rc == HW_OK)
        rc = ctrl_put(b, s->batch_tokens, sizeof(int) * (size_t)s->pending * c->vocab.n_tokens);
    if (rc == HW_OK) rc = ctrl_put(b, s->batch_reward, sizeof(double) * (size_t)s->pending);
    return rc;
}

static int rl_load(struct ctrl *c, struct ctrl_reader *r, struct hw_err *err)
{
    struct rl_state *s = c->state;
    size_t n = s->pol.n_params;
    int rc;
    if ((rc = ctrl_get(r, s->pol.params, sizeof(double) * n, "rl weights", err)) != HW_OK ||
        (rc = ctrl_get(r, s->m, sizeof(double) * n, "rl Adam m", err)) != HW_OK ||
        (rc = ctrl_get(r, s->v, sizeof(double) * n, "rl Adam v", err)) != HW_OK ||
        (rc = ctrl_get(r, &s->adam_t, sizeof s->adam_t, "rl Adam step", err)) != HW_OK ||
        (rc = ctrl_get(r, &s->baseline, sizeof s->baseline, "rl baseline", err)) != HW_OK ||
        (rc = ctrl_get(r, &s->have_baseline, sizeof s->have_baseline, "rl baseline flag", err)) != HW_OK ||
        (rc = ctrl_get(r, &s->pending, sizeof s->pending, "rl pending", err)) != HW_OK)
        return rc;
    if (s->pending < 0 || s->pending >= c->cfg.batch)
        return hw_error(err, HW_EINVAL, "controller state: rl pending %d is not in 0..%d",
                        s->pending, c->cfg.batch - 1);
    int T = c->vocab.n_tokens;
    if ((rc = ctrl_get(r, s->batch_tokens, sizeof(int) * (size_t)s->pending * T,
                       "rl batch tokens", err)) != HW_OK ||
        (rc = ctrl_get(r, s->batch_reward, sizeof(double) * (size_t)s->pending,
                       "rl batch rewards", err)) != HW_OK)
        return rc;
    for (int i = 0; i < s->pending * T; i++)
        if (s->batch_tokens[i] < 0 || s->batch_tokens[i] >= c->vocab.choices[i % T])
            return hw_error(err, HW_EINVAL, "controller state: rl batch token %d = %d is out of range",
                            i, s->batch_tokens[i]);
    return HW_OK;
}

const struct ctrl_ops ctrl_rl_ops = {
    .init = rl_init,
    .propose = rl_propose,
    .report = rl_report,
    .save = rl_save,
    .load = rl_load,
    .release = rl_release,
};
