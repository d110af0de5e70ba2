/* Batch normalization over the rows of (m, c), m = N*H*W. Channel sums use
 * per-thread double partials so large batches keep their precision.
 *
 * Every pass takes the channels in blocks of up to 4 vectors of 16 floats
 * (then one of 8, then the last c % 8 one by one) and runs down the rows with
 * the block's per-channel values and sums in registers. Row by row over all
 * channels, as before, they went through memory at every element and the
 * passes ran at 17-41 GB/s even on tensors that fit in L2 (190 GB/s here). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/simd.h"

#define BN_PAR(m, c) ((size_t)(m) * (c) > 32768)

/* Rows summed in float before their block's sums join the double partials:
 * vectors instead of conversions to double per element, at a precision loss
 * of a few dozen float additions (the forward sums shift each block by its
 * first row, so a channel's offset does not swamp its variance). */
#define BN_BLOCK 64

#define BN_INLINE static inline __attribute__((always_inline))

/* This thread's rows [*r0, *r1) of m. */
static void bn_rows(int m, int *r0, int *r1)
{
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    *r0 = (int)((long)m * t / nt);
    *r1 = (int)((long)m * (t + 1) / nt);
}

/* A block of n rows joins the double partials of its cnt channels: sums of
 * d = a - k (k NULL: 0) were fa and fb, so sum a = fa + n k and
 * sum a^2 = fb + 2 k fa + n k^2. */
static void bn_join(double *pa, double *pb, const float *k, const float *fa, const float *fb,
                    int cnt, int n)
{
    for (int l = 0; l < cnt; l++) {
        double kk = k ? k[l] : 0.0;
        pa[l] += fa[l] + n * kk;
        pb[l] += fb[l] + 2 * kk * fa[l] + n * kk * kk;
    }
}

/* The kernels on channels [j, j + L*nv) of rows [r0, r1), nv <= 4:
 *   sums:   pa += sum a, pb += sum a^2;
 *   gsums:  with xhat = (x - mean) * invstd, dz = dy * act'(xhat * gamma + beta):
 *           pa += sum dz, pb += sum dz * xhat;
 *   apply:  y = act(x * scale + shift);
 *   bapply: dx (+)= gi * (dz - k1 - xhat * k2). */
#define BN_DEFINE(V, L)                                                                            \
    BN_INLINE void bn_sums_##V(double *pa, double *pb, const float *restrict a, int r0, int r1,    \
                               int c, int j, int nv)                                               \
    {                                                                                              \
        for (int i0 = r0; i0 < r1; i0 += BN_BLOCK) {                                               \
            int i1 = i0 + BN_BLOCK < r1 ? i0 + BN_BLOCK : r1;                                      \
            V k0[4], fa[4], fb[4];                                                                 \
            for (int v = 0; v < nv; v++) {                                                         \
                k0[v] = *(const V##u *)(a + (size_t)i0 * c + j + L * v);                           \
                fa[v] = fb[v] = (V){0};                                                            \
            }                                                                                      \
            for (int i = i0; i < i1; i++)                                                          \
                for (int v = 0; v < nv; v++) {                                                     \
                    V d = *(const V##u *)(a + (size_t)i * c + j + L * v) - k0[v];                  \
                    fa[v] += d;                                                                    \
                    fb[v] += d * d;                                                                \
                }                                                                                  \
            bn_join(pa + j, pb + j, (const float *)k0, (const float *)fa, (const float *)fb,       \
                    L * nv, i1 - i0);                                                              \
        }                                                                                          \
    }                                                                                              \
    BN_INLINE void bn_gsums_##V(double *pa, double *pb, const float *restrict dy,                 \
                                const float *restrict x, const float *mean, const float *invstd,   \
                                const float *gamma, const float *beta, enum nn_act act, int r0,    \
                                int r1, int c, int j, int nv)                                      \
    {                                                                                              \
        V mu[4], is[4], g[4], b[4];                                                                \
        for (int v = 0; v < nv; v++) {                                                             \
            mu[v] = *(const V##u *)(mean + j + L * v);                                             \
            is[v] = *(const V##u *)(invstd + j + L * v);                                           \
            g[v] = *(const V##u *)(gamma + j + L * v);                                             \
            b[v] = *(const V##u *)(beta + j + L * v);                                              \
        }                                                                                          \
        for (int i0 = r0; i0 < r1; i0 += BN_BLOCK) {                                               \
            int i1 = i0 + BN_BLOCK < r1 ? i0 + BN_BLOCK : r1;                                      \
            V fa[4], fb[4];                                                                        \
            for (int v = 0; v < nv; v++)                                                           \
                fa[v] = fb[v] = (V){0};                                                            \
            for (int i = i0; i < i1; i++)                                                          \
                for (int v = 0; v < nv; v++) {                                                     \
                    size_t o = (size_t)i * c + j + L * v;                                          \
                    V xhat = (*(const V##u *)(x + o) - mu[v]) * is[v];                             \
                    V dz = *(const V##u *)(dy + o) * V##_act_grad(xhat * g[v] + b[v], act);        \
                    fa[v] += dz;                                                                   \
                    fb[v] += dz * xhat;                                                            \
                }                                                                                  \
            bn_join(pa + j, pb + j, NULL, (const float *)fa, (const float *)fb, L * nv, i1 - i0);  \
        }                                                                                          \
    }                                                                                              \
    BN_INLINE void bn_apply_##V(float *restrict y, const float *restrict x, const float *scale,    \
                                const float *shift, enum nn_act act, int r0, int r1, int c, int j, \
                                int nv)                                                            \
    {                                                                                              \
        V sc[4], sh[4];                                                                            \
        for (int v = 0; v < nv; v++) {                                                             \
            sc[v] = *(const V##u *)(scale + j + L * v);                                            \
            sh[v] = *(const V##u *)(shift + j + L * v);                                            \
        }                                                                                          \
        for (int i = r0; i < r1; i++)                                                              \
            for (int v = 0; v < nv; v++) {                                                         \
                size_t o = (size_t)i * c + j + L * v;                                              \
                *(V##u *)(y + o) = V##_act(*(const V##u *)(x + o) * sc[v] + sh[v], act);           \
            }                                                                                      \
    }                                                                                              \
    BN_INLINE void bn_bapply_##V(float *restrict dx, const float *restrict dy,                    \
                                 const float *restrict x, const float *mean, const float *invstd,  \
                                 const float *gamma, const float *beta, const float *gi,           \
                                 const float *k1, const float *k2, enum nn_act act, int add,       \
                                 int r0, int r1, int c, int j, int nv)                             \
    {                                                                                              \
        V mu[4], is[4], g[4], b[4], gv[4], c1[4], c2[4];                                           \
        for (int v = 0; v < nv; v++) {                                                             \
            mu[v] = *(const V##u *)(mean + j + L * v);                                             \
            is[v] = *(const V##u *)(invstd + j + L * v);                                           \
            g[v] = *(const V##u *)(gamma + j + L * v);                                             \
            b[v] = *(const V##u *)(beta + j + L * v);                                              \
            gv[v] = *(const V##u *)(gi + j + L * v);                                               \
            c1[v] = *(const V##u *)(k1 + j + L * v);                                               \
            c2[v] = *(const V##u *)(k2 + j + L * v);                                               \
        }                                                                                          \
        for (int i = r0; i < r1; i++)                                                              \
            for (int v = 0; v < nv; v++) {                                                         \
                size_t o = (size_t)i * c + j + L * v;                                              \
                V xhat = (*(const V##u *)(x + o) - mu[v]) * is[v];                                 \
                V dz = *(const V##u *)(dy + o) * V##_act_grad(xhat * g[v] + b[v], act);            \
                V r = gv[v] * (dz - c1[v] - xhat * c2[v]);                                         \
                *(V##u *)(dx + o) = add ? *(const V##u *)(dx + o) + r : r;                         \
            }                                                                                      \
    }

BN_DEFINE(v16, 16)
BN_DEFINE(v8, 8)

/* Runs CALL(V, i0, i1, j, nv) over rows [r0, r1) in blocks of BN_BLOCK (a
 * block's rows stay in cache across its passes) and, in each, over the
 * channels in blocks (4 vectors of 16, then the rest of 16, then one of 8);
 * j ends at the first of the last c % 8 channels, which the caller does one
 * by one. */
#define BN_PASSES(c, r0, r1, j, CALL)                                                              \
    do {                                                                                           \
        j = 0;                                                                                     \
        for (int i0 = (r0); i0 < (r1); i0 += BN_BLOCK) {                                           \
            int i1 = i0 + BN_BLOCK < (r1) ? i0 + BN_BLOCK : (r1);                                  \
            for (j = 0; j + 64 <= (c); j += 64)                                                    \
                CALL(v16, i0, i1, j, 4);                                                           \
            switch (((c) - j) / 16) {                                                              \
            case 1: CALL(v16, i0, i1, j, 1); break;                                                \
            case 2: CALL(v16, i0, i1, j, 2); break;                                                \
            case 3: CALL(v16, i0, i1, j, 3); break;                                                \
            default: break;                                                                        \
            }                                                                                      \
            j += ((c) - j) / 16 * 16;                                                              \
            if ((c) - j >= 8) {                                                                    \
                CALL(v8, i0, i1, j, 1);                                                            \
                j += 8;                                                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* One lane of the backward: xhat and dz = dy * act'(xhat * gamma + beta). */
BN_INLINE float bn_dz(const float *dy, const float *x, const float *mean, const float *invstd,
                      const float *gamma, const float *beta, enum nn_act act, size_t o, int l,
                      float *xhat)
{
    *xhat = (x[o] - mean[l]) * invstd[l];
    return dy[o] * nn_act_grad(act, *xhat * gamma[l] + beta[l]);
}

/* What the per-thread row functions of the two reductions read. */
struct bn_args {
    const float *a, *x, *mean, *invstd, *gamma, *beta; /* a: x (forward) or dy */
    enum nn_act act;
    int c;
};

/* s, q (c) = the sums fn adds into per-thread double partials over its rows. */
static void bn_reduce(double *s, double *q, int m, const struct bn_args *g,
                      void (*fn)(double *pa, double *pb, int r0, int r1, const struct bn_args *g))
{
    int c = g->c;
    memset(s, 0, sizeof(double) * c);
    memset(q, 0, sizeof(double) * c);
#pragma omp parallel if (BN_PAR(m, c))
    {
        double pa[c], pb[c];
        memset(pa, 0, sizeof pa);
        memset(pb, 0, sizeof pb);
        int r0, r1;
        bn_rows(m, &r0, &r1);
        fn(pa, pb, r0, r1, g);
#pragma omp critical
        for (int l = 0; l < c; l++) {
            s[l] += pa[l];
            q[l] += pb[l];
        }
    }
}

static void bn_sums_rows(double *pa, double *pb, int r0, int r1, const struct bn_args *g)
{
    const float *x = g->a;
    int c = g->c, j;
#define SUMS(V, i0, i1, j, nv) bn_sums_##V(pa, pb, x, i0, i1, c, j, nv)
    BN_PASSES(c, r0, r1, j, SUMS);
#undef SUMS
    for (int i = r0; i < r1 && j < c; i++) /* shifted by the first row, as above */
        for (int l = j; l < c; l++) {
            double d = (double)x[(size_t)i * c + l] - x[(size_t)r0 * c + l];
            pa[l] += d;
            pb[l] += d * d;
        }
    for (int l = j; l < c && r1 > r0; l++) {
        double k = x[(size_t)r0 * c + l], n = r1 - r0, fa = pa[l];
        pa[l] = fa + n * k;
        pb[l] += 2 * k * fa + n * k * k;
    }
}

void nn_bn_sums(double *s, double *q, const float *x, int m, int c)
{
    struct bn_args g = {.a = x, .c = c};
    bn_reduce(s, q, m, &g, bn_sums_rows);
}

BN_INLINE void bn_gsums_act(double *pa, double *pb, int r0, int r1, const struct bn_args *g,
                            enum nn_act act)
{
    const float *dy = g->a, *x = g->x, *mean = g->mean, *invstd = g->invstd;
    const float *gamma = g->gamma, *beta = g->beta;
    int c = g->c, j;
#define GSUMS(V, i0, i1, j, nv)                                                                    \
    bn_gsums_##V(pa, pb, dy, x, mean, invstd, gamma, beta, act, i0, i1, c, j, nv)
    BN_PASSES(c, r0, r1, j, GSUMS);
#undef GSUMS
    for (int i = r0; i < r1 && j < c; i++)
        for (int l = j; l < c; l++) {
            float xhat, dz = bn_dz(dy, x, mean, invstd, gamma, beta, act, (size_t)i * c + l, l,
                                   &xhat);
            pa[l] += dz;
            pb[l] += dz * xhat;
        }
}

static void bn_gsums_rows(double *pa, double *pb, int r0, int r1, const struct bn_args *g)
{
    NN_ACT_DISPATCH(g->act, A, bn_gsums_act(pa, pb, r0, r1, g, A))
}

void nn_bn_grad_sums(double *sdy, double *sdyx, const float *dy, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta, enum nn_act act,
                     int m, int c)
{
    struct bn_args g = {dy, x, mean, invstd, gamma, beta, act, c};
    bn_reduce(sdy, sdyx, m, &g, bn_gsums_rows);
}

BN_INLINE void bn_apply_rows(float *y, const float *x, const float *scale, const float *shift,
                             enum nn_act act, int r0, int r1, int c)
{
    int j;
#define APPLY(V, i0, i1, j, nv) bn_apply_##V(y, x, scale, shift, act, i0, i1, c, j, nv)
    BN_PASSES(c, r0, r1, j, APPLY);
#undef APPLY
    for (int i = r0; i < r1 && j < c; i++)
        for (int l = j; l < c; l++) {
            size_t o = (size_t)i * c + l;
            y[o] = nn_act_value(act, x[o] * scale[l] + shift[l]);
        }
}

/* y (m, c) = act(x * scale + shift). */
static void bn_apply(float *y, const float *x, const float *scale, const float *shift,
                     enum nn_act act, int m, int c)
{
#pragma omp parallel if (BN_PAR(m, c))
    {
        int r0, r1;
        bn_rows(m, &r0, &r1);
        NN_ACT_DISPATCH(act, A, bn_apply_rows(y, x, scale, shift, A, r0, r1, c))
    }
}

void nn_bn_stats(float *mean, float *invstd, float *run_mean, float *run_var, const double *s,
                 const double *q, int count, int c)
{
    for (int j = 0; j < c; j++) {
        double mu = s[j] / count, var = q[j] / count - mu * mu;
        if (var < 0)
            var = 0;
        mean[j] = (float)mu;
        invstd[j] = (float)(1.0 / sqrt(var + NN_BN_EPS));
        if (!run_mean)
            continue;
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        run_mean[j] += NN_BN_MOMENTUM * (float)(mu - run_mean[j]);
        run_var[j] += NN_BN_MOMENTUM * (float)(unbiased - run_var[j]);
    }
}

void nn_bn_normalize(float *y, const float *x, const float *mean, const float *invstd,
                     const float *gamma, const float *beta, enum nn_act act, int m, int c)
{
    float scale[c], shift[c];
    for (int j = 0; j < c; j++) {
        scale[j] = gamma[j] * invstd[j];
        shift[j] = beta[j] - mean[j] * scale[j];
    }
    bn_apply(y, x, scale, shift, act, m, c);
}

void nn_bn_forward(float *y, float *mean, float *invstd, float *run_mean, float *run_var,
                   const float *x, const float *gamma, const float *beta, enum nn_act act, int m,
                   int c)
{
    double s[c], q[c];
    nn_bn_sums(s, q, x, m, c);
    nn_bn_stats(mean, invstd, run_mean, run_var, s, q, m, c);
    nn_bn_normalize(y, x, mean, invstd, gamma, beta, act, m, c);
}

BN_INLINE void bn_bapply_rows(float *dx, const float *dy, const float *x, const float *mean,
                              const float *invstd, const float *gamma, const float *beta,
                              const float *gi, const float *k1, const float *k2, enum nn_act act,
                              int add, int r0, int r1, int c)
{
    int j;
#define BAPPLY(V, i0, i1, j, nv)                                                                           \
    bn_bapply_##V(dx, dy, x, mean, invstd, gamma, beta, gi, k1, k2, act, add, i0, i1, c, j, nv)
    BN_PASSES(c, r0, r1, j, BAPPLY);
#undef BAPPLY
    for (int i = r0; i < r1 && j < c; i++)
        for (int l = j; l < c; l++) {
            size_t o = (size_t)i * c + l;
            float xhat, dz = bn_dz(dy, x, mean, invstd, gamma, beta, act, o, l, &xhat);
            float r = gi[l] * (dz - k1[l] - xhat * k2[l]);
            dx[o] = add ? dx[o] + r : r;
        }
}

void nn_bn_backward_apply(float *dx, float *dgamma, float *dbeta, const double *sdy,
                          const double *sdyx, int count, const float *dy, const float *x,
                          const float *mean, const float *invstd, const float *gamma,
                          const float *beta, enum nn_act act, int m, int c, int dx_add)
{
    float k1[c], k2[c], g[c];
    for (int j = 0; j < c; j++) {
        if (dgamma)
            dgamma[j] += (float)sdyx[j];
        if (dbeta)
            dbeta[j] += (float)sdy[j];
        // dx = g * (dz - mean(dz) - xhat * mean(dz * xhat)), xhat = (x - mean) * invstd
        g[j] = gamma[j] * invstd[j];
        k1[j] = (float)(sdy[j] / count);
        k2[j] = (float)(sdyx[j] / count);
    }
    if (!dx)
        return;
#pragma omp parallel if (BN_PAR(m, c))
    {
        int r0, r1;
        bn_rows(m, &r0, &r1);
        NN_ACT_DISPATCH(act, A, bn_bapply_rows(dx, dy, x, mean, invstd, gamma, beta, g, k1, k2, A,
                                               dx_add, r0, r1, c))
    }
}

void nn_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                    const float *mean, const float *invstd, const float *gamma, const float *beta,
                    enum nn_act act, int m, int c)
{
    double sdy[c], sdyx[c];
    nn_bn_grad_sums(sdy, sdyx, dy, x, mean, invstd, gamma, beta, act, m, c);
    nn_bn_backward_apply(dx, dgamma, dbeta, sdy, sdyx, m, dy, x, mean, invstd, gamma, beta, act, m,
                         c, 1);
}

void nn_bn_fold(float *scale, float *shift, const float *gamma, const float *beta,
                const float *run_mean, const float *run_var, int c)
{
    for (int j = 0; j < c; j++) {
        scale[j] = gamma[j] / sqrtf(run_var[j] + NN_BN_EPS);
        shift[j] = beta[j] - run_mean[j] * scale[j];
    }
}

void nn_bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var, enum nn_act act, int m, int c)
{
    float scale[c], shift[c];
    nn_bn_fold(scale, shift, gamma, beta, run_mean, run_var, c);
    bn_apply(y, x, scale, shift, act, m, c);
}
