/* A weight-sharing supernet over a block-wise space (once-for-all style):
 * one set of weights from which every arch of the space takes its own.
 *
 * Sharing: each tensor of a subnet is a slice of one "slot" of the
 * supernet, a tensor as large as the largest arch of the space needs:
 *   - layer j of block b of every arch uses slot "b<b>.l<j>.<name>": a
 *     block with fewer layers leaves its last slots unused (the first layers
 *     serve shallower blocks);
 *   - channels are the first ones (a narrower width, a smaller expansion or
 *     squeeze takes the first rows and columns of the larger tensor);
 *   - a depthwise kernel k takes the k x k centre of the largest kernel;
 *   - ReLU and h-swish share weights; SE weights are used when SE is on;
 *   - the head's FC layers get a slot per input they read ("fc2.w@fc1",
 *     "fc2.w@conv", "fc2.w@pool"), since a classifier over hidden FC
 *     features and one over pooled conv features are different functions.
 * BN gamma and beta are sliced like the channels; BN running statistics are
 * not kept: every subnet recalibrates them on training images before it is
 * scored (supernet_eval), as once-for-all and SPOS do.
 *
 * Training (supernet_train): the sandwich rule of BigNAS/once-for-all: per
 * step the largest arch, the smallest and (sandwich - 2) uniform samples,
 * their gradients summed into one SGD step; the largest learns from the
 * labels, the others from a mix of the labels and the largest's predictions
 * (in-place distillation). See bench/RESULTS.md#supernet for the measured
 * choice of scheme and settings.
 *
 * File (all little-endian): magic "HWNASSN1", u32 version, u64 space hash,
 * u32 length + the space's JSON text, the training config and progress, the
 * slot table (key, dims), u64 P + P floats of weights, u64 P (or 0) + the
 * momentum buffer, u32 CRC-32 of every byte before it. Written atomically,
 * so a checkpoint survives kill -9. */
#ifndef HWNAS_SUPERNET_SUPERNET_H
#define HWNAS_SUPERNET_SUPERNET_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "evaluator/data.h"
#include "evaluator/proxy.h"
#include "nn/net.h"
#include "space/space.h"
#include "util/err.h"

#define SUPERNET_MAGIC "HWNASSN1"
#define SUPERNET_VERSION 1
#define SUPERNET_KEY_MAX 40

struct supernet_slot {
    char key[SUPERNET_KEY_MAX]; /* "stem.conv.w", "b2.l0.dw.w", "head.fc2.w@fc1" */
    int ndim, shape[4];
    size_t off, size; /* into params */
    int decay;        /* weight decay applies (conv/FC weights) */
};

struct supernet_config {
    int epochs;
    int subset;          /* training images: the first N of the training split; 0: all */
    int batch;
    double lr;           /* peak of the one-cycle schedule */
    double momentum;     /* Nesterov */
    double weight_decay;
    double label_smoothing;
    int sandwich;        /* subnets per step: the largest, the smallest, then uniform */
    double distill;      /* weight of the largest's predictions in the others' targets */
    int augment;         /* random crop + flip */
    uint64_t seed;
};

/* Defaults: see supernet.c (the measured choice). */
void supernet_config_default(struct supernet_config *c);

struct supernet {
    struct space space;
    char *space_json;   /* owned: the definition the file carries */
    uint64_t space_hash;
    int n_slots;
    struct supernet_slot *slots; /* owned */
    size_t n_params;
    float *params, *grads, *mom; /* owned, n_params each */
    unsigned char *decay;        /* owned, n_params */
    struct supernet_config cfg;
    long step;          /* training steps done */
    long total_steps;   /* of the whole training */
    double train_s;     /* training wall time so far, over every session */
    uint32_t crc;       /* CRC-32 of the file last loaded or saved: names these weights */
};

/* Builds an untrained supernet for the space defined by space_json (source
 * names it in messages), with cfg; weights initialized from cfg->seed as
 * nn initializes a net (He-normal, fan-out; BN 1 and 0). Release with
 * supernet_release. */
int supernet_init(struct supernet *sn, const char *space_json, const char *source,
                  const struct supernet_config *cfg, struct hw_err *err);
void supernet_release(struct supernet *sn);

/* Steps per epoch: whole batches of the training subset. */
long supernet_steps_per_epoch(const struct supernet_config *c, int train_n);

int supernet_save(struct supernet *sn, const char *path, struct hw_err *err);
/* Loads path into *sn (released by the caller). Refuses a damaged or
 * truncated file naming what is wrong. */
int supernet_load(const char *path, struct supernet *sn, struct hw_err *err);
/* HW_EMISMATCH naming both hashes when the supernet was trained for another
 * space than s. path names the file in the message. */
int supernet_check_space(const struct supernet *sn, const struct space *s, const char *path,
                         struct hw_err *err);

/* The slot of a tensor key; NULL when there is none. */
const struct supernet_slot *supernet_slot_find(const struct supernet *sn, const char *key);

/* Copies arch a's weights (a must be in the space: HW_EINVAL naming the
 * field otherwise) from the supernet into net, a TRAIN or INFER net of a
 * (INFER nets are folded with unit BN statistics: recalibrate before use). */
int supernet_gather(const struct supernet *sn, struct nn_net *net, struct hw_err *err);
/* Adds net's parameter gradients into the supernet's grads at the slices
 * supernet_gather read. net: TRAIN mode, of an arch in the space. */
int supernet_scatter_grads(struct supernet *sn, const struct nn_net *net, struct hw_err *err);

/* Tokens of the sandwich rule's largest and smallest archs: every choice at
 * its largest (smallest) option; SE on (off) where the block offers it;
 * activation from rng (shared weights, so neither is larger). */
void supernet_tokens_largest(const struct space *s, struct pcg32 *rng, int *tokens);
void supernet_tokens_smallest(const struct space *s, struct pcg32 *rng, int *tokens);

/* Training progress, for the caller's progress bar and checkpoints. Return
 * non-zero from on_step to stop (HW_EINTR). */
struct supernet_step {
    long step, total;
    double loss;       /* the largest subnet's loss at this step */
    double seconds;    /* this session */
};
typedef int (*supernet_step_fn)(const struct supernet_step *st, void *ctx);

/* Trains from sn->step to sn->total_steps on train (borrowed), with threads
 * (0: unchanged). Saves sn to checkpoint (may be NULL) every checkpoint_s
 * seconds, when stopped and at the end. Returns HW_OK, HW_EINTR (stopped by
 * *stop or on_step, checkpoint saved) or an error (a diverged loss is one:
 * lower --lr). The same config, data and thread count give the same
 * weights whether or not the training was stopped and resumed. */
int supernet_train(struct supernet *sn, const struct data_set *train, int threads,
                   const char *checkpoint, double checkpoint_s, volatile sig_atomic_t *stop,
                   supernet_step_fn on_step, void *ctx, struct hw_err *err);

/* Subnet evaluation: its weights from the supernet, BN statistics
 * recalibrated on the first `recal` training images (a fixed sample), then
 * accuracy and cross-entropy on the first `val` validation images (0: all)
 * and, as the "train loss" score, the cross-entropy of the recalibration
 * batches themselves (train_recalibrate_bn_loss: no extra pass). */
struct supernet_eval_config {
    int recal;  /* training images for BN statistics */
    int batch;  /* recalibration batch */
    int val;    /* validation images; 0: all */
};
#define SUPERNET_EVAL_RECAL 2000
#define SUPERNET_EVAL_BATCH 200
#define SUPERNET_EVAL_VAL 5000
void supernet_eval_config_default(struct supernet_eval_config *c);

/* out: val_acc, val_loss, train_loss, wall_s (img_per_s 0; diverged when a
 * loss is not finite). pools (may be NULL): two nn pools, zero-initialized
 * and kept by the caller across calls, so successive evaluations reuse
 * their memory (nn_pool_release both at the end). */
int supernet_eval(const struct supernet *sn, const struct arch *a,
                  const struct supernet_eval_config *c, const struct data_set *train,
                  const struct data_set *val, struct nn_pool pools[2], struct eval_result *out,
                  struct hw_err *err);

#endif
