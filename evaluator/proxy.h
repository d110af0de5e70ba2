/* Proxy evaluation of a candidate architecture for the search: a short,
 * seeded training on (a subset of) the training split, then accuracy on
 * (a subset of) the validation split -- MnasNet's ACC(m). Never touches the
 * test set. */
#ifndef HWNAS_EVALUATOR_PROXY_H
#define HWNAS_EVALUATOR_PROXY_H

#include <stdint.h>

#include "evaluator/data.h"
#include "space/arch.h"
#include "util/err.h"

struct eval_proxy_config {
    int epochs;
    int subset;      /* training images: the first N of the training split */
    int val_subset;  /* validation images: the first N; 0: all 10,000 */
    int batch;
    double lr;       /* peak of the one-cycle schedule */
    int augment;     /* random crop + flip while training */
    int threads;     /* 0: leave nn's thread count as it is */
    const char *data_dir; /* NULL: DATA_DEFAULT_DIR */
    /* Preloaded splits (borrowed), so a search reads the files once; when
     * NULL, each call loads data_dir itself. */
    const struct data_set *train, *val;
};

/* Cheap defaults: the anchor recipe (one-cycle, lr 0.2, BN recalibration)
 * shortened to EVAL_PROXY_EPOCHS epochs on the first EVAL_PROXY_SUBSET
 * training images, validated on the first EVAL_PROXY_VAL_SUBSET validation
 * images, with batch EVAL_PROXY_BATCH and no augmentation. With the anchor's
 * batch 128 and crop/flip, 2 x 6,000 images are only 94 steps and candidates
 * stop at 74-78 % (still mostly ranking how fast a net starts to learn);
 * batch 64 without augmentation reaches 83-85 % on the same 12 fidelity
 * archs at a lower cost (bench_train proxies: median 15 s vs 17 s). Neither
 * ranks those 12 archs (all within 1.1 points after 10 epochs) better than
 * chance: Kendall tau 0.06 vs -0.18..0.12. */
#define EVAL_PROXY_BATCH 64
#define EVAL_PROXY_EPOCHS 2
#define EVAL_PROXY_SUBSET 6000
#define EVAL_PROXY_VAL_SUBSET 4000
void eval_proxy_config_default(struct eval_proxy_config *c);

struct eval_result {
    double val_acc;    /* fraction in [0,1]; 0 when diverged */
    double train_loss; /* mean loss of the last epoch */
    double wall_s;     /* whole evaluation: build, train, validate */
    double img_per_s;  /* training throughput */
    int diverged;      /* the loss became NaN/inf: val_acc is 0 */
};

/* Trains arch a from scratch (weights from seed) for the configured budget
 * and reports validation accuracy. The same arch, config, seed and thread
 * count always give the same result. A diverged training is a result (a
 * poor candidate), not an error: HW_OK with out->diverged set. Errors: bad
 * arch or config, data files, memory. */
int eval_proxy(const struct arch *a, const struct eval_proxy_config *cfg,
               uint64_t seed, struct eval_result *out, struct hw_err *err);

#endif
