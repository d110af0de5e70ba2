/* Training a network on a data_set: mini-batch SGD with Nesterov momentum,
 * weight decay on conv/FC weights only, one-cycle or cosine learning rate,
 * label smoothing, dropout, crop/flip augmentation, per-epoch validation.
 *
 * The default recipe matches ../shared/anchors/torch_train_fmnist.py (PyTorch
 * SGD nesterov + OneCycleLR): peak lr 0.2, batch 128, weight decay 4e-5,
 * label smoothing 0.1. One-cycle follows PyTorch's OneCycleLR exactly: lr
 * rises by half a cosine from lr/25 to lr over the first `warmup` (0.3) of
 * the steps, then falls by half a cosine to lr/25/1e4; momentum moves
 * inversely between momentum+0.05 and momentum-0.05 (0.95 -> 0.85 -> 0.95).
 * Cosine: linear warm-up from 0 to lr over the first `warmup` of the steps,
 * then half a cosine to 0, momentum fixed.
 *
 * Validation accuracy is measured on an INFER-mode copy of the net
 * (nn_net_fold_from: BN folded with its running statistics), i.e. exactly the
 * network that would be deployed. Before each validation the BN running
 * statistics are recomputed as plain averages over `bn_recal` training images
 * (train_recalibrate_bn), so they describe the final weights rather than an
 * average over recent steps taken while the weights were still moving.
 * With nn's earlier BN momentum of 0.01 this was the difference between
 * 10 % and 78 % validation accuracy after one short proxy epoch; with 0.1 it
 * is cheap insurance (2,000 forward images). Once-for-all recalibrates BN of
 * each subnet the same way.
 *
 * Deterministic: the same seed, data and thread count give the same weights.
 * Initialization, batch order, augmentation and dropout each draw from their
 * own PCG32 stream derived from the seed. */
#ifndef HWNAS_EVALUATOR_TRAIN_H
#define HWNAS_EVALUATOR_TRAIN_H

#include <stdint.h>

#include "evaluator/data.h"
#include "nn/net.h"
#include "util/err.h"

enum train_schedule { TRAIN_ONE_CYCLE, TRAIN_COSINE };

/* Images per forward pass when validating or testing. Small enough that a
 * pass's activations stay in L2: 10,000 images of the rl-s1 winner took
 * 2.8-3.0 s at 500 and 2.0-2.2 s at 64 (1 thread); the results are the same
 * at any batch (inference treats images independently). */
#define TRAIN_EVAL_BATCH 64

struct train_config {
    int epochs;
    int batch;
    double lr;              /* peak learning rate */
    double momentum;        /* Nesterov; the centre of one-cycle's range */
    double weight_decay;    /* L2, only where nn_net_decay_mask is 1 */
    double label_smoothing;
    enum train_schedule schedule;
    double warmup;          /* fraction of all steps spent rising to lr */
    int augment;            /* random crop (pad 2) + horizontal flip */
    int subset;             /* train on the first N training images; 0: all */
    int val_subset;         /* validate on the first N; 0: all; <0: skip */
    int val_last_only;      /* validate after the last epoch only (a proxy
                               reads nothing else; the same final result) */
    int eval_batch;         /* batch of the INFER net used to validate */
    int bn_recal;           /* training images for BN statistics; 0: keep
                               the running averages */
    int threads;            /* nn_set_threads before training; 0: unchanged */
    int quiet;              /* no progress bar */
};

/* The anchor recipe: 10 epochs, batch 128, lr 0.2, momentum 0.9, weight
 * decay 4e-5, label smoothing 0.1, one-cycle with warmup 0.3, augmentation,
 * the whole training split, validation on all of it, eval batch 500, BN
 * statistics recomputed over 2,000 training images. */
void train_config_default(struct train_config *c);

/* Figures of one finished epoch, handed to the epoch callback. */
struct train_epoch {
    int epoch, epochs;   /* 1-based */
    double loss;         /* mean training loss over the epoch's batches */
    double train_acc;    /* on the augmented training batches, in train mode */
    double val_acc;      /* fraction in [0,1]; -1 when validation is skipped */
    double val_loss;     /* mean cross-entropy on validation; NaN when skipped */
    double lr;           /* at the epoch's last step */
    double seconds;      /* of training (validation excluded) */
    double img_per_s;    /* training images per second in this epoch */
};

/* Called after each epoch; a non-zero return stops training (HW_EINTR). */
typedef int (*train_epoch_fn)(const struct train_epoch *e, void *ctx);

struct train_result {
    int epochs_done;
    double loss;          /* of the last epoch */
    double val_acc;       /* after the last epoch; -1 when skipped */
    double val_loss;      /* mean validation cross-entropy then; NaN when skipped */
    double seconds;       /* total wall time, validation included */
    double img_per_s;     /* training images per second over all epochs */
    int diverged;         /* the loss became NaN/inf: training stopped */
};

/* Initializes net's parameters (nn_net_init_params) from the seed's
 * initialization stream, so a seed fixes the starting weights too. */
void train_init_params(struct nn_net *net, uint64_t seed);

/* Learning rate and momentum at step (0-based) of total steps. */
void train_schedule_at(const struct train_config *c, long step, long total,
                       double *lr, double *momentum);

/* One SGD step with Nesterov momentum over n parameters, PyTorch's
 * formulation (dampening 0): g = grad + wd*mask*p; v = m*v + g;
 * p -= lr*(g + m*v). p and v are updated in place. */
void train_sgd_step(float *restrict p, const float *restrict grad,
                    float *restrict v, const unsigned char *restrict mask,
                    size_t n, float lr, float m, float wd);

/* Trains net (TRAIN mode, parameters already initialized or loaded) on the
 * training set, validating on val (may be NULL) after every epoch. Calls
 * on_epoch (may be NULL) with ctx after each epoch. Returns HW_OK (also when
 * the loss diverged: result->diverged says so), HW_EINTR when on_epoch asked
 * to stop, or an error. net is modified in place; the sets are borrowed. */
int train_run(struct nn_net *net, const struct data_set *train,
              const struct data_set *val, const struct train_config *cfg,
              uint64_t seed, train_epoch_fn on_epoch, void *ctx,
              struct train_result *result, struct hw_err *err);

/* Replaces net's BN running statistics by their average over the batch
 * statistics of the first n images of set (whole batches of `batch`, no
 * augmentation, n >= batch), in TRAIN mode. batch must not exceed the net's
 * max_batch. Use after training or weight surgery, before folding. */
int train_recalibrate_bn(struct nn_net *net, const struct data_set *set, int n,
                         int batch, struct hw_err *err);
/* The same, also giving the mean cross-entropy (no smoothing) of those
 * images' logits under their batch statistics in *loss: a training loss
 * that costs no extra pass (the supernet's "train-loss" score). */
int train_recalibrate_bn_loss(struct nn_net *net, const struct data_set *set, int n, int batch,
                              double *loss, struct hw_err *err);

/* Accuracy of the first n images of set (n <= 0: all) through an INFER net,
 * in batches of at most batch (which must not exceed the net's max_batch). */
int train_accuracy(struct nn_net *infer, const struct data_set *set, int n,
                   int batch, double *acc, struct hw_err *err);

/* The same, also giving the mean cross-entropy (no label smoothing) of
 * those images in *loss (NaN when there are none). */
int train_accuracy_loss(struct nn_net *infer, const struct data_set *set, int n,
                        int batch, double *acc, double *loss, struct hw_err *err);

/* Accuracy of a TRAIN net as deployed: folds it into a fresh INFER net
 * (max batch `batch`) and calls train_accuracy. */
int train_evaluate(const struct nn_net *net, const struct data_set *set, int n,
                   int batch, double *acc, struct hw_err *err);
/* The same, also giving the mean cross-entropy in *loss (may be NULL). */
int train_evaluate_loss(const struct nn_net *net, const struct data_set *set, int n, int batch,
                        double *acc, double *loss, struct hw_err *err);

#endif
