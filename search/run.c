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

/* A proposal between its pending row and its result. */
enum flight_state {
    FLIGHT_QUEUED,    /* stored as pending, not yet submitted */
    FLIGHT_SUBMITTED, /* with the pool */
    FLIGHT_WAITING,   /* its arch is being evaluated for an earlier trial: takes that result */
};

struct flight {
    enum flight_state state;
    int redrawn; /* proposals over a cap drawn before it */
    struct db_candidate cand; /* trial, tokens, hash, costs, predicted_ms; no arch JSON */
    struct arch a;
};

struct loop {
    struct db *db;
    int64_t run_id;
    const struct space *s;
    const struct reward_cfg *rc;
    struct ctrl *c;
    uint64_t seed;
    const struct search_hooks *h;
    const struct search_limits *lim;
    const struct search_pool *pool;
    struct flight *f; /* in trial order */
    int n, cap, submitted;
    int next_trial, stored;
    struct search_trial_info info;
    uint64_t t0;
};

static int local_submit(void *p, int trial, const struct arch *a, uint64_t seed,
                        struct hw_err *err)
{
    struct search_local_pool *lp = p;
    if (lp->busy)
        return hw_error(err, HW_EINVAL, "local evaluator: trial %d submitted while trial %d "
                        "is in flight", trial, lp->trial);
    lp->busy = 1;
    lp->trial = trial;
    lp->seed = seed;
    lp->a = *a;
    return HW_OK;
}

/* collect does the work, so a stop between trials finds nothing in flight */
static int local_collect(void *p, int *trial, struct search_eval *out, struct hw_err *err)
{
    struct search_local_pool *lp = p;
    if (!lp->busy)
        return hw_error(err, HW_EINVAL, "local evaluator: nothing in flight to collect");
    lp->busy = 0;
    *trial = lp->trial;
    return lp->evaluate(lp->ctx, &lp->a, lp->seed, out, err);
}

void search_pool_local(struct search_pool *pool, struct search_local_pool *lp,
                       int (*evaluate)(void *ctx, const struct arch *a, uint64_t seed,
                                       struct search_eval *out, struct hw_err *err),
                       void *ctx)
{
    memset(lp, 0, sizeof *lp);
    lp->evaluate = evaluate;
    lp->ctx = ctx;
    *pool = (struct search_pool){1, local_submit, local_collect, lp};
}

static int find_flight(const struct loop *L, int trial)
{
    for (int i = 0; i < L->n; i++)
        if (L->f[i].cand.trial == trial)
            return i;
    return -1;
}

static void drop_flight(struct loop *L, int i)
{
    memmove(&L->f[i], &L->f[i + 1], sizeof L->f[0] * (size_t)(L->n - i - 1));
    L->n--;
}

/* A new flight slot at the end (in trial order), or NULL without memory. */
static struct flight *push_flight(struct loop *L, struct hw_err *err)
{
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 8;
        struct flight *f = realloc(L->f, sizeof *f * (size_t)cap);
        if (!f) {
            hw_error(err, HW_ENOMEM, "out of memory for the candidates in flight");
            return NULL;
        }
        L->f = f;
        L->cap = cap;
    }
    struct flight *f = &L->f[L->n++];
    memset(f, 0, sizeof *f);
    return f;
}

/* Whether an earlier proposal with this arch hash is being evaluated. */
static int hash_in_flight(const struct loop *L, const char *hash, int before)
{
    for (int i = 0; i < before; i++)
        if (L->f[i].state != FLIGHT_WAITING && !strcmp(L->f[i].cand.arch_hash, hash))
            return 1;
    return 0;
}

/* Stores trial cand (its result fields filled) with the controller state
 * after its report, replacing its pending row, and tells on_trial. */
static int store_result(struct loop *L, struct db_candidate *cand, const struct arch *a,
                        int redrawn, struct hw_err *err)
{
    const struct reward_cfg *rc = L->rc;
    cand->reward = reward_mnas(rc, reward_quality(rc, cand->val_acc, cand->val_loss,
                                                  cand->train_loss),
                               cand->predicted_ms);
    int st = ctrl_report(L->c, cand->tokens, cand->reward, err);
    if (st)
        return st;
    struct ctrl_buf state = {0};
    if ((st = ctrl_save(L->c, &state, err)))
        return st;
    cand->arch_json = arch_to_json_string(a);
    if (!cand->arch_json) {
        ctrl_buf_release(&state);
        return hw_error(err, HW_ENOMEM, "out of memory writing trial %d's arch", cand->trial);
    }
    st = db_candidate_add(L->db, cand, state.data, state.len, err);
    ctrl_buf_release(&state);
    free(cand->arch_json);
    cand->arch_json = NULL;
    if (st)
        return st;
    L->stored++;
    struct search_trial_info *info = &L->info;
    info->trial = cand->trial;
    info->duplicate = cand->status == DB_CAND_DUPLICATE;
    info->redrawn = redrawn;
    info->predicted_ms = cand->predicted_ms;
    info->val_acc = cand->val_acc;
    info->val_loss = cand->val_loss;
    info->train_loss = cand->train_loss;
    info->reward = cand->reward;
    info->wall_s = cand->wall_s;
    info->worker = cand->worker;
    if (!(cand->reward <= info->best_reward))
        info->best_reward = cand->reward;
    if (cand->predicted_ms <= rc->target_ms && !(cand->val_acc <= info->best_acc_under_target))
        info->best_acc_under_target = cand->val_acc;
    info->elapsed_s = timer_since_s(L->t0);
    if (L->h->on_trial)
        L->h->on_trial(L->h->trial_ctx, info);
    return HW_OK;
}

/* Stores cand as a duplicate of the evaluated candidate prev (its scores,
 * no new evaluation). */
static int store_duplicate(struct loop *L, struct db_candidate *cand, const struct arch *a,
                           int redrawn, const struct db_candidate *prev, struct hw_err *err)
{
    cand->predicted_ms = prev->predicted_ms;
    cand->val_acc = prev->val_acc;
    cand->val_loss = prev->val_loss;
    cand->train_loss = prev->train_loss;
    memcpy(cand->evaluator, prev->evaluator, sizeof cand->evaluator);
    memcpy(cand->worker, prev->worker, sizeof cand->worker);
    cand->wall_s = 0;
    cand->status = DB_CAND_DUPLICATE;
    return store_result(L, cand, a, redrawn, err);
}

/* The run's evaluated candidate with this hash, when there is one: 1 with
 * *prev filled (release it), 0 when none, or a negative error status. */
static int find_evaluated(struct loop *L, const char *hash, struct db_candidate *prev,
                          struct hw_err *err)
{
    int st = db_candidate_find_by_hash(L->db, L->run_id, hash, prev, err);
    return st == HW_OK ? 1 : st == HW_ENOTFOUND ? 0 : -st;
}

static void fill_identity(const struct space *s, const struct arch *a, const int *tokens,
                          struct db_candidate *cand)
{
    cand->n_tokens = space_n_tokens(s);
    memcpy(cand->tokens, tokens, sizeof tokens[0] * (size_t)cand->n_tokens);
    snprintf(cand->arch_hash, sizeof cand->arch_hash, "%016llx",
             (unsigned long long)arch_hash(a));
    struct arch_cost cost = arch_cost(a);
    cand->macs = cost.macs;
    cand->params = cost.params;
}

/* Asks the controller for the next proposal within the caps (redrawing
 * the rest), into tokens and *a; *pred_ms is its predicted latency when a
 * cap needed it (NaN otherwise), *redrawn the proposals drawn before it. */
static int draw(struct loop *L, int *tokens, struct arch *a, double *pred_ms, int *redrawn,
                struct hw_err *err)
{
    const struct search_limits *lim = L->lim;
    const struct search_hooks *h = L->h;
    double max_train_ms = lim->max_train_ms, max_params = lim->max_params;
    double q_ref = NAN; /* rl under a cap: the quality its redraws are told */
    int st;
    *redrawn = 0;
    if ((max_train_ms > 0 || max_params > 0) && ctrl_kind_of(L->c) == CTRL_RL &&
        (st = search_run_median_quality(L->db, L->run_id, L->rc, &q_ref, err)))
        return st;
    int over_params = 0; /* redraws for the parameter cap, of *redrawn */
    for (;;) {
        ctrl_propose(L->c, tokens);
        if ((st = space_decode(L->s, tokens, a, err)))
            return st;
        *pred_ms = NAN;
        double told = NAN; /* what rl hears of a redrawn proposal */
        double params = (double)arch_cost(a).params;
        if (max_params > 0 && params > max_params) {
            told = q_ref * (max_params / params);
            over_params++;
        } else {
            if (!(max_train_ms > 0))
                return HW_OK;
            if ((st = h->predict_ms(h->predict_ctx, a, pred_ms, err)))
                return st;
            if (!isfinite(*pred_ms))
                return hw_error(err, HW_EINVAL,
                                "predicted latency %g ms of a proposal is not finite", *pred_ms);
            if (*pred_ms <= max_train_ms)
                return HW_OK;
            told = reward_mnas(L->rc, q_ref, *pred_ms);
        }
        if (isfinite(q_ref) && (st = ctrl_report(L->c, tokens, told, err)))
            return st;
        if (++*redrawn >= SEARCH_MAX_REDRAWS)
            return over_params == *redrawn
                       ? hw_error(err, HW_EINVAL,
                                  "%d proposals in a row had more than the cap of %.0f "
                                  "parameters; start a new run with a larger --max-params",
                                  *redrawn, max_params)
                   : over_params == 0
                       ? hw_error(err, HW_EINVAL,
                                  "%d proposals in a row were predicted over the training cap "
                                  "of %.4f ms; start a new run with a larger --max-over or "
                                  "--target-ms", *redrawn, max_train_ms)
                       : hw_error(err, HW_EINVAL,
                                  "%d proposals in a row were redrawn: %d predicted over the "
                                  "training cap of %.4f ms, %d over the cap of %.0f parameters; "
                                  "start a new run with a larger --max-over, --target-ms or "
                                  "--max-params", *redrawn, *redrawn - over_params,
                                  max_train_ms, over_params, max_params);
        /* nothing is saved until a proposal is accepted: stopping here
         * loses only redraws, which a resume makes again */
        if (lim->stop && *lim->stop)
            return hw_error(err, HW_EINTR, "search stopped after %d candidates", L->stored);
    }
}

static int submit(struct loop *L, struct flight *f, struct hw_err *err)
{
    int st = L->pool->submit(L->pool->ctx, f->cand.trial, &f->a,
                             search_trial_seed(L->seed, f->cand.trial), err);
    if (st)
        return st;
    f->state = FLIGHT_SUBMITTED;
    L->submitted++;
    return HW_OK;
}

/* One new trial: a proposal stored as a duplicate at once when its arch was
 * evaluated before, else stored as pending (with the controller state that
 * proposed it) and submitted, or set waiting for the same arch in flight. */
static int propose(struct loop *L, struct hw_err *err)
{
    int tokens[CTRL_MAX_TOKENS];
    struct arch a;
    double pred_ms;
    int redrawn, st;
    if ((st = draw(L, tokens, &a, &pred_ms, &redrawn, err)))
        return st;
    struct db_candidate cand;
    memset(&cand, 0, sizeof cand);
    cand.run_id = L->run_id;
    cand.trial = L->next_trial;
    fill_identity(L->s, &a, tokens, &cand);
    struct db_candidate prev;
    int found = find_evaluated(L, cand.arch_hash, &prev, err);
    if (found < 0)
        return -found;
    if (found) { /* seen before: reuse, never train twice */
        st = store_duplicate(L, &cand, &a, redrawn, &prev, err);
        db_candidate_release(&prev);
        if (st == HW_OK)
            L->next_trial++;
        return st;
    }
    cand.predicted_ms = pred_ms;
    if (!isfinite(pred_ms) &&
        (st = L->h->predict_ms(L->h->predict_ctx, &a, &cand.predicted_ms, err)))
        return st;
    struct ctrl_buf state = {0};
    if ((st = ctrl_save(L->c, &state, err)))
        return st;
    cand.arch_json = arch_to_json_string(&a);
    if (!cand.arch_json) {
        ctrl_buf_release(&state);
        return hw_error(err, HW_ENOMEM, "out of memory writing trial %d's arch", cand.trial);
    }
    st = db_pending_add(L->db, &cand, state.data, state.len, err);
    ctrl_buf_release(&state);
    free(cand.arch_json);
    cand.arch_json = NULL;
    if (st)
        return st;
    L->next_trial++;
    struct flight *f = push_flight(L, err);
    if (!f)
        return HW_ENOMEM;
    f->cand = cand;
    f->a = a;
    f->redrawn = redrawn;
    f->state = hash_in_flight(L, cand.arch_hash, L->n - 1) ? FLIGHT_WAITING : FLIGHT_QUEUED;
    return f->state == FLIGHT_QUEUED ? submit(L, f, err) : HW_OK;
}

/* The run's pending candidates (a resume): evaluated first, in trial order;
 * one whose arch was evaluated meanwhile is stored as its duplicate. */
static int load_pending(struct loop *L, struct hw_err *err)
{
    struct db_candidate *pend;
    int n, st = db_pending_list(L->db, L->run_id, &pend, &n, err);
    if (st)
        return st;
    for (int i = 0; i < n && st == HW_OK; i++) {
        struct arch a;
        if (pend[i].n_tokens != space_n_tokens(L->s)) {
            st = hw_error(err, HW_EINVAL, "pending trial %d has %d tokens, the space %d",
                          pend[i].trial, pend[i].n_tokens, space_n_tokens(L->s));
            break;
        }
        if ((st = space_decode(L->s, pend[i].tokens, &a, err)))
            break;
        char hash[DB_HASH_MAX];
        snprintf(hash, sizeof hash, "%016llx", (unsigned long long)arch_hash(&a));
        if (strcmp(hash, pend[i].arch_hash)) {
            st = hw_error(err, HW_EINVAL, "pending trial %d: its tokens give arch %s, not the "
                          "stored %s", pend[i].trial, hash, pend[i].arch_hash);
            break;
        }
        struct db_candidate cand = pend[i];
        cand.arch_json = NULL;
        cand.val_acc = cand.val_loss = cand.train_loss = cand.reward = cand.wall_s = NAN;
        struct db_candidate prev;
        int found = find_evaluated(L, cand.arch_hash, &prev, err);
        if (found < 0) {
            st = -found;
            break;
        }
        if (found) {
            st = store_duplicate(L, &cand, &a, 0, &prev, err);
            db_candidate_release(&prev);
            continue;
        }
        struct flight *f = push_flight(L, err);
        if (!f) {
            st = HW_ENOMEM;
            break;
        }
        f->cand = cand;
        f->a = a;
        f->state = hash_in_flight(L, cand.arch_hash, L->n - 1) ? FLIGHT_WAITING : FLIGHT_QUEUED;
    }
    db_candidate_list_free(pend, n);
    return st;
}

/* Takes one result from the pool and stores it, with the proposals that
 * waited for the same arch as its duplicates. */
static int collect(struct loop *L, struct hw_err *err)
{
    int trial = -1;
    /* a hook that leaves a field unset leaves it NaN, never stack garbage */
    struct search_eval ev = {NAN, NAN, NAN, NAN, ""};
    int st = L->pool->collect(L->pool->ctx, &trial, &ev, err);
    if (st)
        return st;
    int i = find_flight(L, trial);
    if (i < 0 || L->f[i].state != FLIGHT_SUBMITTED)
        return hw_error(err, HW_EINVAL, "the evaluator returned trial %d, which was not "
                        "submitted", trial);
    struct flight done = L->f[i];
    drop_flight(L, i);
    L->submitted--;
    done.cand.val_acc = ev.acc;
    done.cand.val_loss = ev.loss;
    done.cand.train_loss = ev.train_loss;
    done.cand.wall_s = ev.wall_s;
    snprintf(done.cand.evaluator, sizeof done.cand.evaluator, "%s",
             L->h->evaluator ? L->h->evaluator : "proxy");
    snprintf(done.cand.worker, sizeof done.cand.worker, "%s", ev.worker);
    done.cand.status = DB_CAND_OK;
    if ((st = store_result(L, &done.cand, &done.a, done.redrawn, err)))
        return hw_error_prefix(err, "trial %d", trial);
    for (int j = 0; j < L->n;) {
        struct flight *w = &L->f[j];
        if (w->state != FLIGHT_WAITING || strcmp(w->cand.arch_hash, done.cand.arch_hash)) {
            j++;
            continue;
        }
        if ((st = store_duplicate(L, &w->cand, &w->a, w->redrawn, &done.cand, err)))
            return hw_error_prefix(err, "trial %d", w->cand.trial);
        drop_flight(L, j);
    }
    return HW_OK;
}

static int may_start(const struct loop *L)
{
    const struct search_limits *lim = L->lim;
    return !(lim->time_budget_s > 0 && timer_since_s(L->t0) >= lim->time_budget_s) &&
           !(lim->stop && *lim->stop);
}

static int run_loop(struct loop *L, struct hw_err *err)
{
    int st;
    if ((st = load_pending(L, err)))
        return st;
    for (;;) {
        if (L->lim->stop && *L->lim->stop)
            return hw_error(err, HW_EINTR, "search stopped after %d candidates", L->stored);
        for (int i = 0; i < L->n && L->submitted < L->pool->slots && may_start(L); i++)
            if (L->f[i].state == FLIGHT_QUEUED && (st = submit(L, &L->f[i], err)))
                return hw_error_prefix(err, "trial %d", L->f[i].cand.trial);
        /* waiting proposals hold no slot: bound them by the slots too */
        while (L->submitted < L->pool->slots && L->n < 2 * L->pool->slots && may_start(L) &&
               !(L->lim->trials_max > 0 && L->next_trial >= L->lim->trials_max)) {
            int trial = L->next_trial;
            if ((st = propose(L, err)))
                return st == HW_EINTR ? st : hw_error_prefix(err, "trial %d", trial);
        }
        if (L->submitted == 0)
            return L->lim->stop && *L->lim->stop
                       ? hw_error(err, HW_EINTR, "search stopped after %d candidates", L->stored)
                       : HW_OK;
        if ((st = collect(L, err)))
            return st;
    }
}

int search_run(struct db *db, int64_t run_id, const struct space *s,
               const struct reward_cfg *rc, struct ctrl *c, uint64_t seed,
               const struct search_hooks *hooks, const struct search_limits *lim,
               struct hw_err *err)
{
    struct loop L;
    memset(&L, 0, sizeof L);
    L.db = db;
    L.run_id = run_id;
    L.s = s;
    L.rc = rc;
    L.c = c;
    L.seed = seed;
    L.h = hooks;
    L.lim = lim;
    struct search_local_pool lp;
    struct search_pool local;
    search_pool_local(&local, &lp, hooks->evaluate, hooks->eval_ctx);
    L.pool = hooks->pool ? hooks->pool : &local;
    if (L.pool->slots < 1)
        return hw_error(err, HW_EINVAL, "the evaluator offers %d slots (>= 1 needed)",
                        L.pool->slots);
    int st = db_trials_used(db, run_id, &L.next_trial, err);
    if (st == HW_OK)
        st = db_candidate_count(db, run_id, &L.stored, err);
    if (st)
        return st;
    L.info.trials_max = lim->trials_max;
    if ((st = run_bests(db, run_id, rc->target_ms, &L.info.best_reward,
                        &L.info.best_acc_under_target, err)))
        return st;
    L.t0 = timer_now_ns();
    st = run_loop(&L, err);
    free(L.f);
    return st;
}
