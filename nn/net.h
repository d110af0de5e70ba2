/* A network built from an arch: parameters, activations and the forward and
 * backward passes, shared by the latency profiler (inference, batch 1) and the
 * evaluator (training, mini-batches).
 *
 * Layout: activations are NHWC float32, (N,H,W,C) with C fastest. Weights:
 *   stem conv   (Cout, k, k, Cin)   -- rows match the im2col column order
 *   1x1 conv    (Cout, Cin)
 *   depthwise   (k, k, C)           -- channel fastest, vectorizes over C
 *   FC          (Cout, Cin) + bias (Cout)
 *   SE          reduce (sq, mid) + bias (sq), expand (mid, sq) + bias (mid)
 *   BN          gamma (C), beta (C); running mean/var live in the state buffer
 *
 * Units are the pieces the latency table times separately:
 *   unit 0 = stem, units 1..n_layers = layers, unit n_layers+1 = head.
 *
 * Modes: NN_MODE_TRAIN keeps BN as a separate op (batch statistics, running
 * averages) and allocates gradients and backward buffers. NN_MODE_INFER folds
 * BN into the preceding conv (weights and a per-channel bias), allocates all
 * buffers up front, and never allocates in nn_net_forward. */
#ifndef HWNAS_NN_NET_H
#define HWNAS_NN_NET_H

#include <stddef.h>

#include "space/arch.h"
#include "util/err.h"
#include "util/pcg32.h"

enum nn_mode { NN_MODE_TRAIN, NN_MODE_INFER };

/* The kernels' activation for an arch's (an enum nn_act of nn/kernels.h). */
int nn_act_of_arch(enum arch_act a);

struct nn_net; /* opaque; owned by the caller of nn_net_create */

/* Builds a net for arch a (copied) with room for batches up to max_batch.
 * The parameters are zero until nn_net_init_params or a load. */
int nn_net_create(struct nn_net **out, const struct arch *a, int max_batch,
                  enum nn_mode mode, struct hw_err *err);
void nn_net_free(struct nn_net *net);

/* Memory that a sequence of nets built one after another can share: the
 * activation arena (most of a TRAIN net's memory: 0.4-1.2 GB at batch 128
 * for fmnist-space nets) is taken from the pool, grown when a net needs
 * more, and kept when the net is freed. A supernet builds a net per
 * subnet; without a pool each one's memory is faulted in afresh, which
 * cost more than training the subnet. One live net per pool (a second is
 * refused); free the net before nn_pool_release. Zero-initialize. */
struct nn_pool {
    void *mem;
    size_t cap;
    int busy;
};
int nn_net_create_pooled(struct nn_net **out, const struct arch *a, int max_batch,
                         enum nn_mode mode, struct nn_pool *pool, struct hw_err *err);
void nn_pool_release(struct nn_pool *pool);
const struct arch *nn_net_arch(const struct nn_net *net);
enum nn_mode nn_net_mode(const struct nn_net *net);

/* He-normal conv/FC weights (fan-out mode, as torchvision initializes
 * MobileNetV3), BN gamma 1 beta 0, biases 0, running mean 0 var 1; an INFER
 * net is folded afterwards. */
void nn_net_init_params(struct nn_net *net, struct pcg32 *rng);

/* Trainable parameters: one allocation (TRAIN mode layout: unfolded BN),
 * carved into named tensors; grads has the same layout. decay_mask[i] is 1
 * where weight decay applies (conv/FC weights), 0 for BN and biases.
 * state: BN running mean and variance. All owned by net. */
size_t nn_net_n_params(const struct nn_net *net);
float *nn_net_params(struct nn_net *net);
float *nn_net_grads(struct nn_net *net); /* NULL in INFER mode */
const unsigned char *nn_net_decay_mask(const struct nn_net *net);
size_t nn_net_n_state(const struct nn_net *net);
float *nn_net_state(struct nn_net *net);

/* A named view into params or state, for weight surgery and loading.
 * Names per unit: stem: "conv.w" "bn.g" "bn.b" "bn.mean" "bn.var";
 * layer: "expand.w" "expand.bn.*" (absent when mid == in) "dw.w" "dw.bn.*"
 * "se.w1" "se.b1" "se.w2" "se.b2" (when SE) "project.w" "project.bn.*";
 * head: "conv.w" "conv.bn.*" (when conv_out) "fc1.w" "fc1.b" (when fc_hidden)
 * "fc2.w" "fc2.b" (the classifier, always). Shapes as in the layout above.
 * HW_ENOTFOUND for an unknown name. In INFER mode the views are the unfolded
 * params: call nn_net_fold after writing them. */
struct nn_tensor {
    float *data;
    int ndim;
    int shape[4];
    size_t size;
};
int nn_net_tensor(struct nn_net *net, int unit, const char *name,
                  struct nn_tensor *out, struct hw_err *err);

/* Forward pass of n <= max_batch images x (n, in_h, in_w, in_c) NHWC.
 * TRAIN mode: BN uses batch statistics and updates running averages
 * (momentum 0.1, eps 1e-5, as PyTorch); dropout draws from rng. INFER mode: rng unused.
 * Returns logits (n, classes), owned by net, valid until the next forward. */
const float *nn_net_forward(struct nn_net *net, const float *x, int n,
                            struct pcg32 *rng);

/* Logits (n, classes) of the last forward (whole or last unit), owned by net. */
const float *nn_net_output(const struct nn_net *net);

/* Softmax cross-entropy with label smoothing on the last forward's logits,
 * then backward through the whole net, *adding* into the grads.
 * Returns the mean loss over the n images. TRAIN mode only. */
float nn_net_backward(struct nn_net *net, const int *labels, int n,
                      float label_smoothing);
/* The same against soft targets (n, classes), each row a distribution
 * (in-place distillation: a teacher's probabilities mixed with the labels).
 * Returns the mean cross-entropy. TRAIN mode only. */
float nn_net_backward_soft(struct nn_net *net, const float *targets, int n);
void nn_net_zero_grad(struct nn_net *net);

/* Copies trained weights from a TRAIN net into an INFER net of the same arch,
 * folding BN (running statistics) into conv weights and biases. Refuses
 * (HW_EMISMATCH) a target that is not INFER or whose tensors differ. */
int nn_net_fold_from(struct nn_net *infer, const struct nn_net *train,
                     struct hw_err *err);
/* Recomputes an INFER net's folded weights from its own params and state;
 * call after writing them (a load, weight surgery). No-op in TRAIN mode. */
void nn_net_fold(struct nn_net *net);

/* TRAIN mode only: eval != 0 makes forward use the BN running statistics
 * (without updating them) and skip dropout, as for validation; backward is
 * then meaningless. Default 0. */
void nn_net_set_eval(struct nn_net *net, int eval);

/* Per-unit inference, for the latency table: runs unit u for batch n on the
 * net's own buffers (input of unit u = output of unit u-1; unit 0 reads the
 * buffer filled by nn_net_set_input). INFER mode. */
int nn_net_n_units(const struct nn_net *net);
void nn_net_set_input(struct nn_net *net, const float *x, int n);
void nn_net_forward_unit(struct nn_net *net, int u, int n);

/* Per-op inference timing, for the kernel benchmark: the ops of an INFER
 * net in order, each with its kind ("stem", "1x1", "dw", "se", "add",
 * "pool", "fc", ...), the unit it belongs to, its multiply-adds at batch 1
 * and the weights it reads (the bytes a batch-1 FC or SE must stream).
 * nn_net_forward_op runs op i alone on the net's buffers (after
 * nn_net_set_input, ops in order reproduce nn_net_forward). */
struct nn_op_info {
    const char *kind;
    int unit;
    double macs;
    double weights; /* floats of weights and biases the op reads */
};
int nn_net_n_ops(const struct nn_net *net);
void nn_net_op_info(const struct nn_net *net, int i, struct nn_op_info *out);
void nn_net_forward_op(struct nn_net *net, int i, int n);

/* Threads used by hwnas kernels (OpenMP, process-wide). OpenBLAS is kept at
 * one thread; the kernels split sgemm calls over the OpenMP threads. TRAIN
 * forward and backward passes split the batch over them instead (results
 * then depend on the thread count in the last bits). */
void nn_set_threads(int n);
int nn_get_threads(void);

#endif
