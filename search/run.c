#include "search/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/arch_json.h"
#include "util/timer.h"

void search_space_vocab(const struct space *s, struct ctrl_vocab *v)
{
    memset(v, 0, sizeof *v);
    v->n_tokens = space_n_tokens(s);
    for (int t = 0; t < v->n_tokens; t++)
        v->choices[t] = space_token_choices(s, t);
}

uint64_t search_trial_seed(uint64_t seed, int trial)
{
    /* splitmix64 of (seed, trial): nearby trials get unrelated seeds */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(trial + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Best reward and best accuracy under the target among stored candidates,
 * so progress after a resume reports the whole run. */
static int run_bests(struct db *db, int64_t run_id, double target_ms, double *best_reward,
                     double *best_acc, struct hw_err *err)
{
    struct db_candidate *cs;
    int n;
    int rc = db_candidate_list(db, run_id, DB_ORDER_TRIAL, 0, &cs, &n, err);
    if (rc)
        return rc;
    *best_reward = NAN;
    *best_acc = NAN;
    for (int i = 0; i < n; i++) {
        if (isfinite(cs[i].reward) && !(cs[i].reward <= *best_reward))
            *best_reward = cs[i].reward;
        if (isfinite(cs[i].val_acc) && cs[i].predicted_ms <= target_ms &&
            !(cs[i].val_acc <= *best_acc))
            *best_acc = cs[i].val_acc;
    }
    db_candidate_list_free(cs, n);
    return HW_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int search_run_median_quality(struct db *db, int64_t run_id, const struct reward_cfg *rc,
                              double *q, struct hw_err *err)
{
    struct db_candidate *cs;
    int n;
    int st = db_candidate_list(db, run_id, DB_ORDER_TRIAL, 0, &cs, &n, err);
    if (st)
        return st;
    double *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
    if (!v) {
        db_candidate_list_free(cs, n);
        return hw_error(err, HW_ENOMEM, "out of memory reading the run's candidates");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        double x = reward_quality(rc, cs[i].val_acc, cs[i].val_loss, cs[i].train_loss);
        if (cs[i].status == DB_CAND_OK && isfinite(x))
            v[m++] = x;
    }
    db_candidate_list_free(cs, n);
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    *q = m == 0 ? NAN : m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
    free(v);
    return HW_OK;
}

/* One trial: propose (redrawing proposals over a cap), evaluate
 * (or reuse a duplicate's result), store the candidate and the controller
 * state in one transaction. */
static int search_trial(struct db *db, int64_t run_id, int trial, const struct space *s,
                        const struct reward_cfg *rc, struct ctrl *c, uint64_t seed,
                        const struct search_hooks *h, const struct search_limits *lim,
                        struct search_trial_info *info, struct hw_err *err)
{
    double max_train_ms = lim->max_train_ms, max_params = lim->max_params;
    volatile sig_atomic_t *stop = lim->stop;
    int tokens[CTRL_MAX_TOKENS];
    struct arch a;
    double pred_ms = NAN; /* known once a capped proposal was predicted */
    double q_ref = NAN;   /* rl under a cap: the quality its redraws are told */
    int st;
    info->redrawn = 0;
    if ((max_train_ms > 0 || max_params > 0) && ctrl_kind_of(c) == CTRL_RL &&
        (st = search_run_median_quality(db, run_id, rc, &q_ref, err)))
        return st;
    int over_params = 0; /* redraws for the parameter cap, of info->redrawn */
    for (;;) {
        ctrl_propose(c, tokens);
        if ((st = space_decode(s, tokens, &a, err)))
            return st;
        pred_ms = NAN;
        double told = NAN; /* what rl hears of a redrawn proposal */
        double params = (double)arch_cost(&a).params;
        if (max_params > 0 && params > max_params) {
            told = q_ref * (max_params / params);
            over_params++;
        } else {
            if (!(max_train_ms > 0))
                break;
            if ((st = h->predict_ms(h->predict_ctx, &a, &pred_ms, err)))
                return st;
            if (!isfinite(pred_ms))
                return hw_error(err, HW_EINVAL,
                                "predicted latency %g ms of a proposal is not finite", pred_ms);
            if (pred_ms <= max_train_ms)
                break;
            told = reward_mnas(rc, q_ref, pred_ms);
        }
        if (isfinite(q_ref) && (st = ctrl_report(c, tokens, told, err)))
            return st;
        if (++info->redrawn >= SEARCH_MAX_REDRAWS)
            return over_params == info->redrawn
                       ? hw_error(err, HW_EINVAL,
                                  "%d proposals in a row had more than the cap of %.0f "
                                  "parameters; start a new run with a larger --max-params",
                                  info->redrawn, max_params)
                   : over_params == 0
                       ? hw_error(err, HW_EINVAL,
                                  "%d proposals in a row were predicted over the training cap "
                                  "of %.4f ms; start a new run with a larger --max-over or "
                                  "--target-ms", info->redrawn, max_train_ms)
                       : hw_error(err, HW_EINVAL,
                                  "%d proposals in a row were redrawn: %d predicted over the "
                                  "training cap of %.4f ms, %d over the cap of %.0f parameters; "
                                  "start a new run with a larger --max-over, --target-ms or "
                                  "--max-params", info->redrawn, info->redrawn - over_params,
                                  max_train_ms, over_params, max_params);
        /* nothing is saved until a proposal is accepted: stopping here
         * loses only redraws, which a resume makes again */
        if (stop && *stop)
            return hw_error(err, HW_EINTR, "search stopped after %d candidates", trial);
    }
    struct db_candidate cand;
    memset(&cand, 0, sizeof cand);
    cand.run_id = run_id;
    cand.trial = trial;
    cand.n_tokens = space_n_tokens(s);
    memcpy(cand.tokens, tokens, sizeof tokens[0] * (size_t)cand.n_tokens);
    snprintf(cand.arch_hash, sizeof cand.arch_hash, "%016llx",
             (unsigned long long)arch_hash(&a));
    struct arch_cost cost = arch_cost(&a);
    cand.macs = cost.macs;
    cand.params = cost.params;

    struct db_candidate prev;
    st = db_candidate_find_by_hash(db, run_id, cand.arch_hash, &prev, err);
    if (st == HW_OK) { /* seen before: reuse, never train twice */
        cand.predicted_ms = prev.predicted_ms;
        cand.val_acc = prev.val_acc;
        cand.val_loss = prev.val_loss;
        cand.train_loss = prev.train_loss;
        memcpy(cand.evaluator, prev.evaluator, sizeof cand.evaluator);
        cand.wall_s = 0;
        cand.status = DB_CAND_DUPLICATE;
        db_candidate_release(&prev);
        info->duplicate = 1;
    } else if (st == HW_ENOTFOUND) {
        if (isfinite(pred_ms))
            cand.predicted_ms = pred_ms;
        else if ((st = h->predict_ms(h->predict_ctx, &a, &cand.predicted_ms, err)))
            return st;
        /* a hook that leaves a field unset leaves it NaN, never stack garbage */
        struct search_eval ev = {NAN, NAN, NAN, NAN};
        if ((st = h->evaluate(h->eval_ctx, &a, search_trial_seed(seed, trial), &ev, err)))
            return st;
        cand.val_acc = ev.acc;
        cand.val_loss = ev.loss;
        cand.train_loss = ev.train_loss;
        cand.wall_s = ev.wall_s;
        snprintf(cand.evaluator, sizeof cand.evaluator, "%s",
                 h->evaluator ? h->evaluator : "proxy");
        cand.status = DB_CAND_OK;
        info->duplicate = 0;
    } else {
        return st;
    }
    cand.reward = reward_mnas(rc, reward_quality(rc, cand.val_acc, cand.val_loss, cand.train_loss),
                              cand.predicted_ms);
    if ((st = ctrl_report(c, tokens, cand.reward, err)))
        return st;
    struct ctrl_buf state = {0};
    if ((st = ctrl_save(c, &state, err)))
        return st;
    cand.arch_json = arch_to_json_string(&a);
    if (!cand.arch_json) {
        ctrl_buf_release(&state);
        return hw_error(err, HW_ENOMEM, "out of memory writing trial %d's arch", trial);
    }
    st = db_candidate_add(db, &cand, state.data, state.len, err);
    ctrl_buf_release(&state);
    free(cand.arch_json);
    if (st)
        return st;
    info->trial = trial;
    info->predicted_ms = cand.predicted_ms;
    info->val_acc = cand.val_acc;
    info->val_loss = cand.val_loss;
    info->train_loss = cand.train_loss;
    info->reward = cand.reward;
    info->wall_s = cand.wall_s;
    if (!(cand.reward <= info->best_reward))
        info->best_reward = cand.reward;
    if (cand.predicted_ms <= rc->target_ms && !(cand.val_acc <= info->best_acc_under_target))
        info->best_acc_under_target = cand.val_acc;
    return HW_OK;
}

int search_run(struct db *db, int64_t run_id, const struct space *s,
               const struct reward_cfg *rc, struct ctrl *c, uint64_t seed,
               const struct search_hooks *hooks, const struct search_limits *lim,
               struct hw_err *err)
{
    int done;
    int st = db_candidate_count(db, run_id, &done, err);
    if (st)
        return st;
    struct search_trial_info info;
    memset(&info, 0, sizeof info);
    info.trials_max = lim->trials_max;
    if ((st = run_bests(db, run_id, rc->target_ms, &info.best_reward,
                        &info.best_acc_under_target, err)))
        return st;
    uint64_t t0 = timer_now_ns();
    for (int trial = done;; trial++) {
        if (lim->trials_max > 0 && trial >= lim->trials_max)
            return HW_OK;
        if (lim->time_budget_s > 0 && timer_since_s(t0) >= lim->time_budget_s)
            return HW_OK;
        if (lim->stop && *lim->stop)
            return hw_error(err, HW_EINTR, "search stopped after %d candidates", trial);
        if ((st = search_trial(db, run_id, trial, s, rc, c, seed, hooks, lim, &info, err)))
            return st == HW_EINTR ? st : hw_error_prefix(err, "trial %d", trial);
        info.elapsed_s = timer_since_s(t0);
        if (hooks->on_trial)
            hooks->on_trial(hooks->trial_ctx, &info);
    }
}
