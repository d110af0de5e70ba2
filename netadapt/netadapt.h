/* NetAdapt (Yang et al., ECCV'18, as used for MobileNetV3): trim a trained
 * network's channels, one proposal per iteration, until its predicted
 * latency meets a target.
 *
 * Iteration i from a current net (latency lat0, validation quality q0,
 * initial latency L0): for every proposal target -- each layer with an expand
 * conv (NA_EXPAND) and each residual-tied bottleneck group (NA_BOTTLENECK),
 * see surgery.h -- the largest channel count, a multiple of 8 below the
 * current one, whose predicted latency is <= lat0 - delta * L0 (counts that
 * would change a layer's structure are skipped); targets with no such count
 * give no proposal. Each proposal is trimmed (largest L2 norm kept),
 * fine-tuned briefly and validated; the kept proposal minimises
 *     (q0 - q + 1e-6) / (lat0 - lat + 1e-5)
 * (the official code's rule, i.e. the best dAcc/|dLatency|), where the
 * quality q is the validation accuracy (NA_SCORE_ACC, the paper's) or minus
 * the validation loss (NA_SCORE_LOSS: on fmnist-ref, two scorings with other
 * fine-tune seeds and validation images rank proposals alike far more often
 * by loss; bench_netadapt noise).
 *
 * The work that depends on data and the device comes in through callbacks
 * (struct na_ops), so the algorithm is tested with fakes and the CLI plugs in
 * the latency table and the trainer (netadapt/finetune.h). */
#ifndef HWNAS_NETADAPT_NETADAPT_H
#define HWNAS_NETADAPT_NETADAPT_H

#include "netadapt/surgery.h"
#include "nn/net.h"
#include "space/arch.h"
#include "util/err.h"

/* At most one proposal per layer plus one per group. */
#define NA_MAX_PROPOSALS (2 * ARCH_MAX_LAYERS + 1)
/* Channel counts tried are multiples of this (the official code's minimum). */
#define NA_CHANNEL_STEP 8
/* The cut asked of an iteration when no proposal can make a whole delta step
 * (ms): any proposal that lowers the predicted latency at all. */
#define NA_MIN_CUT_MS 1e-4

/* Predicted latency of a, in ms (e.g. the device table, measuring missing
 * keys on demand). */
typedef int (*na_latency_fn)(void *ctx, const struct arch *a, double *ms, struct hw_err *err);
/* What validating a net measured. */
struct na_eval {
    double acc;  /* validation accuracy in [0,1] */
    double loss; /* mean validation cross-entropy */
};

enum na_score {
    NA_SCORE_ACC = 0,  /* q = accuracy */
    NA_SCORE_LOSS = 1, /* q = -loss */
};

/* The quality q of e that `score` ranks by (higher is better). */
double netadapt_quality(enum na_score score, const struct na_eval *e);

/* Short-term fine-tune of net in place (TRAIN mode; proposal -1 for none:
 * only validate), then its validation accuracy and loss into *out.
 * iteration and proposal let it vary data windows and seeds reproducibly. */
typedef int (*na_tune_fn)(void *ctx, struct nn_net *net, int iteration, int proposal,
                          struct na_eval *out, struct hw_err *err);

struct na_proposal;
/* A farmed proposal i's result: what it measured and the tuned net as model
 * file bytes (evaluator/model.h; borrowed for the call). */
typedef int (*na_done_fn)(void *dctx, int i, const struct na_eval *e, const void *model,
                          size_t len, struct hw_err *err);
/* Trims and tunes proposals 0..n-1 of `iteration` from cur elsewhere (other
 * processes or machines), exactly as trimming here into a TRAIN net of
 * max_batch and calling tune(iteration, i) would; every result goes to done,
 * in any order, before it returns. */
typedef int (*na_farm_fn)(void *ctx, struct nn_net *cur, int iteration, int max_batch,
                          const struct na_proposal *props, int n, na_done_fn done, void *dctx,
                          struct hw_err *err);

struct na_ops {
    na_latency_fn latency;
    void *latency_ctx; /* borrowed */
    na_tune_fn tune;
    void *tune_ctx;    /* borrowed */
    na_farm_fn farm;   /* NULL: proposals are tuned here, one after another */
    void *farm_ctx;    /* borrowed */
    enum na_score score; /* what the selection rule ranks by */
};

struct na_proposal {
    enum na_kind kind;
    int unit;                  /* surgery.h's target unit */
    int first, last;           /* units whose channels change (first == last: NA_EXPAND) */
    int channels_before, channels_after;
    double latency_ms;
    struct na_eval eval;       /* after the short fine-tune */
    double score;              /* the selection rule's value; lower is better */
};

/* The selection rule above. */
double netadapt_score(double q0, double lat0, double q, double lat);

/* ChooseNumFilters for every target of a: proposals (room for
 * NA_MAX_PROPOSALS) whose predicted latency is <= lat_max_ms, in unit order,
 * expand targets before groups; eval and score are left NaN. */
int netadapt_proposals(const struct arch *a, double lat_max_ms, const struct na_ops *ops,
                       struct na_proposal *props, int *n, struct hw_err *err);

/* One finished iteration. */
struct na_iteration {
    int iteration;
    struct na_proposal props[NA_MAX_PROPOSALS];
    int n, chosen;       /* chosen: index into props */
    struct nn_net *net;  /* the chosen trimmed, fine-tuned net; owned by the caller */
};

/* Runs iteration `iteration` from cur (read only; latency lat0, measured
 * e0): proposals under lat0 - cut_ms, each trimmed into a TRAIN net of
 * max_batch and tuned (by ops->farm when set), the best kept in it->net;
 * of equal scores the first proposal wins, so farmed and serial choices
 * agree. HW_ENOTFOUND when no target
 * can cut cut_ms any more. */
int netadapt_iterate(struct nn_net *cur, double lat0, const struct na_eval *e0, double cut_ms,
                     int iteration, int max_batch, const struct na_ops *ops,
                     struct na_iteration *it, struct hw_err *err);

/* "u" for an expand proposal, "first,...,last" for a group (units) into buf. */
void netadapt_proposal_units(const struct na_proposal *p, char *buf, int size);

#endif
