/* The search loop: sample -> predicted latency -> proxy accuracy -> reward ->
 * controller update. Every proposal is stored as a pending candidate the
 * moment it is made, and every result replaces its pending row, each in one
 * transaction together with the controller state, so a run stopped at any
 * point (Ctrl-C, kill -9, power loss) resumes losing at most the
 * evaluations in flight, which it makes again, and continues the same
 * sequence. Where candidates are evaluated (this process, or workers of a
 * cluster several at a time) is the evaluator pool's business. */
#ifndef HWNAS_SEARCH_RUN_H
#define HWNAS_SEARCH_RUN_H

#include <signal.h>
#include <stdint.h>

#include "db/db.h"
#include "search/ctrl.h"
#include "search/reward.h"
#include "space/space.h"
#include "util/err.h"

/* What a trial produced, for progress displays. */
struct search_trial_info {
    int trial;          /* 0-based index within the run */
    int trials_max;     /* 0: no limit */
    int duplicate;      /* 1 when the arch was evaluated before in this run */
    int redrawn;        /* proposals over a cap (latency or parameters) drawn before this one */
    double predicted_ms, val_acc, val_loss, train_loss, reward, wall_s;
    double best_reward;
    double best_acc_under_target; /* NaN until a candidate meets the target */
    double elapsed_s;   /* this session */
    const char *worker; /* who evaluated it ("host:rank"); "": this process */
};

struct search_eval {
    double acc;    /* fraction */
    double loss;   /* validation cross-entropy; inf when the training diverged */
    double train_loss; /* mean training loss of the last epoch; inf when diverged */
    double wall_s;
    char worker[96]; /* who evaluated it ("host:rank"); "": this process */
};

/* Where candidates are evaluated, up to `slots` at once. submit starts the
 * evaluation of arch a (proxy training seeded with seed) under the ticket
 * `trial`; collect waits until one submitted candidate is done and gives its
 * ticket and result. Results may come in any order. An error of either
 * fails the search; the run stays resumable (what was in flight is stored
 * as pending and evaluated again). */
struct search_pool {
    int slots;
    int (*submit)(void *ctx, int trial, const struct arch *a, uint64_t seed,
                  struct hw_err *err);
    int (*collect)(void *ctx, int *trial, struct search_eval *out, struct hw_err *err);
    void *ctx;
};

/* The pool of one slot that runs evaluate in this process (collect does
 * the work): what a search uses without a pool of its own, and what other
 * queues of trainings (reranks) use outside a cluster. Fill *pool; *lp
 * holds its state and must outlive it. */
struct search_local_pool {
    int (*evaluate)(void *ctx, const struct arch *a, uint64_t seed, struct search_eval *out,
                    struct hw_err *err);
    void *ctx;
    int busy, trial;
    uint64_t seed;
    struct arch a; /* a copy: the caller's may move before collect */
};
void search_pool_local(struct search_pool *pool, struct search_local_pool *lp,
                       int (*evaluate)(void *ctx, const struct arch *a, uint64_t seed,
                                       struct search_eval *out, struct hw_err *err),
                       void *ctx);

struct search_hooks {
    /* Predicted latency of a in milliseconds (a latency table lookup that may
     * measure missing keys on demand). */
    int (*predict_ms)(void *ctx, const struct arch *a, double *ms, struct hw_err *err);
    void *predict_ctx;
    /* Validation accuracy (fraction) and mean cross-entropy of a after proxy
     * training with this seed, its last epoch's training loss, and the wall
     * time it took. */
    int (*evaluate)(void *ctx, const struct arch *a, uint64_t seed, struct search_eval *out,
                    struct hw_err *err);
    void *eval_ctx;
    /* Called after each stored trial; may be NULL. */
    void (*on_trial)(void *ctx, const struct search_trial_info *info);
    void *trial_ctx;
    /* What evaluate is, recorded with each candidate it scores ("proxy",
     * "supernet:<crc>"); NULL: "proxy". */
    const char *evaluator;
    /* Evaluates candidates instead of evaluate, several at once (a cluster's
     * workers); NULL: evaluate, one at a time, in this process. */
    const struct search_pool *pool;
};

struct search_limits {
    int trials_max;        /* stop when the run has this many candidates; 0: none */
    double time_budget_s;  /* stop starting trials after this long (this session); 0: none */
    volatile sig_atomic_t *stop; /* set by a signal handler; checked between trials */
    /* Training cap: a proposal predicted above max_train_ms is never trained
     * nor stored; the controller is asked again (at most SEARCH_MAX_REDRAWS
     * times in a row, then the trial fails). evolution and random are told
     * nothing of it. rl is told a graded reward for it, the reward of a
     * candidate of the run's median quality so far at its predicted latency
     * (R(m) with Q = median Q of the trained candidates; nothing before the
     * first is trained): a policy told nothing drifts past the cap (a real
     * run found nothing under it in 20,000 draws at trial 17), and one told
     * reward 0 collapsed onto its first few feasible archs (234 of 250
     * trials duplicates). The redraws advance the controller's RNG (and rl's
     * weights), saved with the next candidate, so resumes still continue
     * the same sequence. 0: no cap (MnasNet: every proposal is trained and
     * the reward's latency term penalizes it). */
    double max_train_ms;
    /* Parameter cap (model size, the constraint users ask for besides
     * latency): a proposal with more than max_params weights is redrawn
     * untrained like one over the training cap, before its latency is
     * looked up. rl is told the median-quality reward scaled by
     * max_params / params (no latency term: with both caps loose, rl may
     * favour big redraws over slow ones), so it learns which way is smaller.
     * 0: no cap. */
    double max_params;
};

#define SEARCH_MAX_REDRAWS 20000

/* The median quality Q (reward_quality under rc) of the run's trained
 * candidates, into *q: status OK with a finite Q only (a duplicate counts
 * once, as the candidate it repeats; a diverged loss counts as Q 0); NaN
 * before the first. What rl's redraws are told under a cap. */
int search_run_median_quality(struct db *db, int64_t run_id, const struct reward_cfg *rc,
                              double *q, struct hw_err *err);

/* Runs trials for run_id until a limit or *stop. The controller c must be
 * the run's controller in the state saved with its last candidate or
 * pending row (or fresh for a new run); the candidates already stored are
 * kept, the pending ones are evaluated first, and trial numbering continues
 * after both. Each trial's evaluation seed is derived from seed and the
 * trial index, so the same seed and latency table give the same candidates;
 * with a pool of one slot the sequence is the serial one. A proposal whose
 * arch was evaluated before in the run is stored as a duplicate of it, never
 * evaluated twice (one whose arch is still being evaluated waits for that
 * result). When a limit is reached no new proposal is made and the ones in
 * flight are collected. Returns HW_OK when a limit was reached, HW_EINTR
 * when stopped by *stop (a pool's evaluations in flight stay pending), or
 * the error of a failed step (the run stays resumable). */
int search_run(struct db *db, int64_t run_id, const struct space *s,
               const struct reward_cfg *rc, struct ctrl *c, uint64_t seed,
               const struct search_hooks *hooks, const struct search_limits *lim,
               struct hw_err *err);

/* The controller's view of a space: one token per block choice. */
void search_space_vocab(const struct space *s, struct ctrl_vocab *v);

/* Seed of the proxy training of trial t of a run seeded with seed. */
uint64_t search_trial_seed(uint64_t seed, int trial);

#endif
