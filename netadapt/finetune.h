/* The trainer and latency table behind NetAdapt, as na_ops callbacks.
 *
 * Short-term fine-tune of a proposal: `steps` SGD steps of batch `batch` on a
 * window of the training split that moves with the iteration (all proposals
 * of one iteration see the same images in the same order, so they compete
 * fairly; successive iterations see new images), cosine schedule from lr to
 * 0, no warm-up (the weights are trained already). Then validation accuracy
 * and loss on the first val_subset images of the validation split -- never the test
 * set. Long-term fine-tune: the evaluator's recipe (one-cycle) for a number of
 * epochs on the whole training split at a lower peak lr. */
#ifndef HWNAS_NETADAPT_FINETUNE_H
#define HWNAS_NETADAPT_FINETUNE_H

#include <stdint.h>

#include "evaluator/data.h"
#include "netadapt/netadapt.h"
#include "nn/net.h"
#include "util/err.h"

struct na_trainer {
    const struct data_set *train, *val; /* borrowed */
    int steps;       /* short fine-tune SGD steps per proposal (0: validate only) */
    int batch;       /* <= the nets' max_batch */
    double lr;       /* short fine-tune starting lr */
    int val_subset;  /* validation images (0: all) */
    uint64_t seed;
};

/* The defaults: 200 steps of 128, lr 0.01, 2,000 validation images, seed 1. */
void netadapt_trainer_default(struct na_trainer *t);

/* na_tune_fn with ctx a struct na_trainer: short fine-tune (skipped for
 * proposal -1), then validation accuracy. */
int netadapt_tune(void *ctx, struct nn_net *net, int iteration, int proposal,
                  struct na_eval *out, struct hw_err *err);

/* Long fine-tune: `epochs` of one-cycle at peak lr on the whole training
 * split, then accuracy on the whole validation split into *acc. */
int netadapt_tune_long(const struct na_trainer *t, struct nn_net *net, int epochs, double lr,
                       double *acc, struct hw_err *err);

/* na_latency_fn with ctx a latency/table.h struct lat_table: the predicted
 * latency in ms, missing keys measured on demand (lat_table_predict) with the
 * table's thread count; the process's kernel thread count is restored after. */
int netadapt_table_latency(void *ctx, const struct arch *a, double *ms, struct hw_err *err);

#endif
