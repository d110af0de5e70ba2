/* The kernels nn/net.c is built from, one file per kind (nn/<kind>.c), each
 * with its forward and backward side by side.
 *
 * Conventions (llm.c): outputs first, then inputs, then sizes. Tensors are
 * NHWC float32 with C fastest; a shape comment names every buffer. Backward
 * kernels ADD into every gradient they produce (activation and parameter
 * grads), so a tensor consumed twice (a residual input) collects both parts;
 * callers zero gradients first. The kernels whose input gradient is the
 * biggest write (1x1, depthwise, BN) take dx_add: 0 overwrites dx instead
 * (its old contents, even NaN, are never read), for a sole writer that
 * would otherwise need a zeroing pass over it. A NULL gradient pointer means "not needed".
 * Kernels split their work over the OpenMP threads set by nn_set_threads and
 * never allocate. All pointers are borrowed from the caller. */
#ifndef HWNAS_NN_KERNELS_H
#define HWNAS_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "util/pcg32.h"

/* Bumped whenever a change to the inference kernels or the buffer plan moves
 * their timings: it is part of the latency-table fingerprint (backend), so a
 * table measured with older kernels is refused rather than silently used.
 * r2: activations in the 1x1 conv's registers, tiles of at most 4 vectors,
 * INFER buffers shared by lifetime, direct stem conv.
 * r3: image stems (1 or 3 input channels) accumulate their taps in
 * registers straight from the input, no patch gathered (2-3x faster).
 * r4: SE pools in registers and scales by whole vectors; batch-1 FCs sum
 * their lanes by shuffles (a 28x28x16 SE 7.4 -> 3.1 us); depthwise in
 * 16-float vectors.
 * r5: folded weights and op scratch on 64-byte lines.
 * r6: wide depthwise layers a block of channels at a time; batch-1 FCs
 * stream eight rows; no OpenMP region around a loop that stays serial. */
#define NN_KERNELS_REVISION 6

/* Whether a kernel forks OpenMP threads for work above its threshold: only
 * with more than one thread and outside any parallel region. Entering a
 * region costs about 1.2 us even when its if clause keeps it serial (libgomp
 * still sets up a team of one), which the small ops of a batch-1 pass paid
 * several times each (an SE: six regions). */
int nn_fork_ok(void);
/* `for` statement __VA_ARGS__ under _Pragma(PRAGMA) (an "omp parallel for
 * ..." string) when FORK, else run as is: the same iterations either way. */
#define NN_PAR_FOR(fork, pragma, ...)                                                              \
    do {                                                                                           \
        if (fork) {                                                                                \
            _Pragma(pragma) __VA_ARGS__                                                            \
        } else {                                                                                   \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } while (0)
/* Block __VA_ARGS__ as an "omp parallel" region when FORK, else once on
 * this thread (omp_get_thread_num() 0 of omp_get_num_threads() 1 there). */
#define NN_PAR_REGION(fork, ...)                                                                   \
    do {                                                                                           \
        if (fork) {                                                                                \
            _Pragma("omp parallel") { __VA_ARGS__ }                                                \
        } else {                                                                                   \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } while (0)

enum nn_act { NN_ACT_NONE, NN_ACT_RELU, NN_ACT_RELU6, NN_ACT_HSWISH, NN_ACT_HSIGMOID };

/* ---- activations (act.c) ---- */

/* Scalar definitions, the single source of truth for every fused epilogue:
 * hard-sigmoid(x) = relu6(x + 3) / 6, h-swish(x) = x * hard-sigmoid(x). */
static inline float nn_act_value(enum nn_act act, float x)
{
    switch (act) {
    case NN_ACT_NONE: return x;
    case NN_ACT_RELU: return x > 0.f ? x : 0.f;
    case NN_ACT_RELU6: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case NN_ACT_HSWISH: {
        float t = x + 3.f;
        t = t < 0.f ? 0.f : (t > 6.f ? 6.f : t);
        return x * t * (1.f / 6.f);
    }
    case NN_ACT_HSIGMOID: {
        float t = x + 3.f;
        t = t < 0.f ? 0.f : (t > 6.f ? 6.f : t);
        return t * (1.f / 6.f);
    }
    }
    return x;
}

/* d act(x) / dx (the one-sided value at the kinks). */
static inline float nn_act_grad(enum nn_act act, float x)
{
    switch (act) {
    case NN_ACT_NONE: return 1.f;
    case NN_ACT_RELU: return x > 0.f ? 1.f : 0.f;
    case NN_ACT_RELU6: return x > 0.f && x < 6.f ? 1.f : 0.f;
    case NN_ACT_HSWISH: return x < -3.f ? 0.f : (x > 3.f ? 1.f : (2.f * x + 3.f) * (1.f / 6.f));
    case NN_ACT_HSIGMOID: return x > -3.f && x < 3.f ? 1.f / 6.f : 0.f;
    }
    return 1.f;
}

/* y (n) = act(x (n)); y may equal x. */
void nn_act_forward(float *y, const float *x, enum nn_act act, size_t n);
/* dx (n) += dy (n) * act'(x (n)), x being the forward input. */
void nn_act_backward(float *dx, const float *dy, const float *x, enum nn_act act, size_t n);

/* The fused epilogue of conv kernels, on one row of c channels:
 * y = act(y + bias) + res. bias (c) and res (c) may be NULL. */
void nn_epilogue_row(float *y, const float *bias, const float *res, enum nn_act act, int c);

/* ---- matmul.c: 1x1 convolution and fully connected layer ---- */

/* y (m, cout) = x (m, cin) . w (cout, cin)^T, then the epilogue
 * act(. + bias (cout)) + res (m, cout); m = N*H*W for a 1x1 conv, N for FC. */
void nn_matmul_forward(float *y, const float *x, const float *w, const float *bias,
                       const float *res, enum nn_act act, int m, int cin, int cout);
/* dx (m, cin) += dy (m, cout) . w (= with dx_add 0); dw (cout, cin) += dy^T . x;
 * dbias (cout) += column sums of dy. */
void nn_matmul_backward(float *dx, float *dw, float *dbias, const float *dy,
                        const float *x, const float *w, int m, int cin, int cout, int dx_add);

/* Inference 1x1 conv on weights packed once: wp (nn_pw_packed_size) holds
 * (w (cout, cin) * scale (cout))^T padded to whole vectors (scale may be NULL).
 * y (m, cout) = x (m, cin) . w^T with the same epilogue as nn_matmul_forward. */
size_t nn_pw_packed_size(int cin, int cout);
void nn_pw_pack(float *wp, const float *w, const float *scale, int cin, int cout);
void nn_pw_forward(float *y, const float *x, const float *wp, const float *bias, const float *res,
                   enum nn_act act, int m, int cin, int cout);

/* Row-major C (m, n) = op(A) . op(B) + beta * C with op = transpose when
 * ta/tb is set, split over the nn threads (OpenBLAS itself runs one thread). */
void nn_sgemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* ---- conv.c: k x k convolution (the stem), padding k/2, via im2col ---- */

/* Columns of the im2col matrix: (N*OH*OW, k*k*cin), row order (ky, kx, ci). */
size_t nn_conv_col_size(int n, int h, int w, int cin, int k, int stride);
/* y (n, oh, ow, cout) = conv(x (n, h, w, cin), w (cout, k, k, cin)), epilogue
 * act(. + bias) ; col (nn_conv_col_size) is scratch kept for the backward. */
void nn_conv_forward(float *y, float *col, const float *x, const float *wt, const float *bias,
                     enum nn_act act, int n, int h, int w, int cin, int cout, int k, int stride);
/* Inference on weights packed by nn_pw_pack as a (cout, k*k*cin) matrix
 * (BN scale folded in); no col scratch. Same result as nn_conv_forward. */
void nn_conv_forward_packed(float *y, const float *x, const float *wp, const float *bias,
                            enum nn_act act, int n, int h, int w, int cin, int cout, int k,
                            int stride);
/* dwt (cout, k, k, cin) += dy^T col; dx (n, h, w, cin) += col2im(dy . wt) using
 * dcol (nn_conv_col_size) as scratch. col is the forward's. */
void nn_conv_backward(float *dx, float *dwt, float *dcol, const float *dy, const float *col,
                      const float *wt, int n, int h, int w, int cin, int cout, int k, int stride);

/* ---- dwconv.c: depthwise k x k, stride 1/2, padding k/2 ---- */

/* y (n, oh, ow, c) = dwconv(x (n, h, w, c), w (k, k, c)), epilogue act(. + bias (c)). */
void nn_dwconv_forward(float *y, const float *x, const float *wt, const float *bias,
                       enum nn_act act, int n, int h, int w, int c, int k, int stride);
/* dx (n, h, w, c) += ... (= with dx_add 0), dwt (k, k, c) += ... */
void nn_dwconv_backward(float *dx, float *dwt, const float *dy, const float *x, const float *wt,
                        int n, int h, int w, int c, int k, int stride, int dx_add);

/* ---- bn.c: batch normalization over the m = N*H*W rows of (m, c) ---- */

/* PyTorch's BatchNorm2d defaults, as the fmnist-ref anchor trains with. The
 * slow 0.01 of torchvision's MobileNetV3 (600 epochs) leaves the running
 * statistics near their initial values after a proxy training of a few dozen
 * steps, and validation in eval mode then scores at chance. */
#define NN_BN_EPS 1e-5f
#define NN_BN_MOMENTUM 0.1f

/* BN is followed by the activation act (NN_ACT_NONE: none) in the same pass:
 * y = act(z), z = xhat * gamma + beta, xhat = (x - mean) * invstd; the
 * backward recomputes z from x rather than keeping it.
 * Training: batch statistics. Writes mean (c) and invstd (c) for the backward
 * and moves run_mean / run_var (c) by momentum towards the batch mean and the
 * unbiased batch variance (PyTorch's convention). y (m, c) may not alias x. */
void nn_bn_forward(float *y, float *mean, float *invstd, float *run_mean, float *run_var,
                   const float *x, const float *gamma, const float *beta, enum nn_act act, int m,
                   int c);
/* With dz = dy * act'(z): dx (m, c) += ..., dgamma (c) += sum dz * xhat,
 * dbeta (c) += sum dz. */
void nn_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                    const float *mean, const float *invstd, const float *gamma, const float *beta,
                    enum nn_act act, int m, int c);
/* The pieces of the two above, for callers that split the m rows (the
 * trainer's threads, each holding a slice of the batch) and add the sums of
 * all slices before the rest. Sums overwrite their outputs (c):
 * s = sum x, q = sum x * x; sdy = sum dz, sdyx = sum dz * xhat. */
void nn_bn_sums(double *s, double *q, const float *x, int m, int c);
void nn_bn_grad_sums(double *sdy, double *sdyx, const float *dy, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta, enum nn_act act,
                     int m, int c);
/* mean, invstd (c) from s and q over count rows; moves run_mean / run_var as
 * nn_bn_forward does unless they are NULL. */
void nn_bn_stats(float *mean, float *invstd, float *run_mean, float *run_var, const double *s,
                 const double *q, int count, int c);
/* y (m, c) = act(xhat * gamma + beta). */
void nn_bn_normalize(float *y, const float *x, const float *mean, const float *invstd,
                     const float *gamma, const float *beta, enum nn_act act, int m, int c);
/* nn_bn_backward given the sums over all count rows; dx is added to (written
 * with dx_add 0) for the m rows passed here. */
void nn_bn_backward_apply(float *dx, float *dgamma, float *dbeta, const double *sdy,
                          const double *sdyx, int count, const float *dy, const float *x,
                          const float *mean, const float *invstd, const float *gamma,
                          const float *beta, enum nn_act act, int m, int c, int dx_add);
/* Evaluation: the running statistics, y (m, c) = act(scale * x + shift). */
void nn_bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var, enum nn_act act, int m, int c);
/* Folding into the preceding conv: scale (c) = gamma / sqrt(var + eps),
 * shift (c) = beta - mean * scale. */
void nn_bn_fold(float *scale, float *shift, const float *gamma, const float *beta,
                const float *run_mean, const float *run_var, int c);

/* ---- se.c: squeeze-and-excite on x (n, hw, c), squeeze sq ---- */

/* What the forward keeps for the backward, and the backward's scratch;
 * all caller-owned, each (n, c) or (n, sq). */
struct nn_se_cache {
    float *pooled;   /* (n, c)  mean of x over hw */
    float *hid;      /* (n, sq) pre-ReLU */
    float *hid_act;  /* (n, sq) */
    float *gate_pre; /* (n, c)  pre-hard-sigmoid */
    float *gate;     /* (n, c) */
    float *dgate;    /* (n, c)  backward scratch */
    float *dhid;     /* (n, sq) backward scratch */
};
/* y (n, hw, c) = x * hsig(w2 relu(w1 pool(x) + b1) + b2); w1 (sq, c), w2 (c, sq). */
void nn_se_forward(float *y, const struct nn_se_cache *s, const float *x, const float *w1,
                   const float *b1, const float *w2, const float *b2, int n, int hw, int c, int sq);
void nn_se_backward(float *dx, float *dw1, float *db1, float *dw2, float *db2,
                    const struct nn_se_cache *s, const float *dy, const float *x,
                    const float *w1, const float *w2, int n, int hw, int c, int sq);

/* ---- pool.c: global average pool and elementwise ops ---- */

/* y (n, c) = mean of x (n, hw, c) over hw. */
void nn_avgpool_forward(float *y, const float *x, int n, int hw, int c);
/* dx (n, hw, c) += dy (n, c) / hw. */
void nn_avgpool_backward(float *dx, const float *dy, int n, int hw, int c);
/* y (len) = a + b (the residual add). */
void nn_add_forward(float *y, const float *a, const float *b, size_t len);
/* da += dy, db += dy. */
void nn_add_backward(float *da, float *db, const float *dy, size_t len);

/* ---- dropout.c ---- */

/* mask (len) = 0 with probability p, else 1 / (1 - p), drawn from rng. */
void nn_dropout_mask(float *mask, size_t len, float p, struct pcg32 *rng);
/* y = x * mask. */
void nn_dropout_forward(float *y, const float *x, const float *mask, size_t len);
/* dx += dy * mask. */
void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t len);

/* ---- loss.c: softmax cross-entropy with label smoothing ---- */

/* Target per row: (1 - eps) on the label plus eps / classes everywhere.
 * Returns the mean loss over n rows and adds its gradient (softmax - target) / n
 * into dlogits (n, classes) when dlogits is not NULL. */
float nn_xent_forward_backward(float *dlogits, const float *logits, const int *labels,
                               int n, int classes, float smoothing);
/* The same against any target rows targets (n, classes) (each summing to 1):
 * mean of -sum_j t_j log softmax(z)_j, gradient (softmax - t) / n. */
float nn_xent_soft_forward_backward(float *dlogits, const float *logits, const float *targets,
                                    int n, int classes);

#endif
