/* Batch normalization over the rows of (m, c), m = N*H*W. Channel sums use
 * per-thread double partials so large batches keep their precision. */
#include <math.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/simd.h"

#define BN_PAR(m, c) ((size_t)(m) * (c) > 32768)

/* Rows summed in float before their block's sums join the double partials:
 * 16-wide float vectors instead of conversions to double per element, at a
 * precision loss of a few dozen float additions. */
#define BN_BLOCK 32

/* Channel sums over the m rows, in per-thread double partials. Forward
 * (x NULL): sa = sum a, sb = sum a * a. Backward (a = dy): with
 * dz = dy * act'(z), z = xhat * gamma + beta, xhat = (x - mean) * invstd,
 * sa = sum dz, sb = sum dz * xhat. */
static void bn_accumulate(double *sa, double *sb, const float *a, const float *x,
                          const float *mean, const float *invstd, const float *gamma,
                          const float *beta, enum nn_act act, int m, int c)
{
    memset(sa, 0, sizeof(double) * c);
    memset(sb, 0, sizeof(double) * c);
#pragma omp parallel if (BN_PAR(m, c))
    {
        double pa[c], pb[c];
        memset(pa, 0, sizeof pa);
        memset(pb, 0, sizeof pb);
#pragma omp for schedule(static)
        for (int i0 = 0; i0 < m; i0 += BN_BLOCK) {
            int i1 = i0 + BN_BLOCK < m ? i0 + BN_BLOCK : m;
            float fa[c], fb[c];
            memset(fa, 0, sizeof fa);
            memset(fb, 0, sizeof fb);
            for (int i = i0; i < i1; i++) {
                const float *ar = a + (size_t)i * c;
                if (x) {
                    const float *xr = x + (size_t)i * c;
                    NN_ACT_DISPATCH(act, ACT, for (int j = 0; j < c; j++) {
                        float xhat = (xr[j] - mean[j]) * invstd[j];
                        float dz = ar[j] * nn_act_grad(ACT, xhat * gamma[j] + beta[j]);
                        fa[j] += dz;
                        fb[j] += dz * xhat;
                    })
                } else { /* shifted by the block's first row: a channel's offset
                          * would swamp its variance in float sums of squares */
                    const float *k0 = a + (size_t)i0 * c;
                    for (int j = 0; j < c; j++) {
                        float d = ar[j] - k0[j];
                        fa[j] += d;
                        fb[j] += d * d;
                    }
                }
            }
            if (x)
                for (int j = 0; j < c; j++) {
                    pa[j] += fa[j];
                    pb[j] += fb[j];
                }
            else /* sum a = sum d + n k, sum a^2 = sum d^2 + 2 k sum d + n k^2 */
                for (int j = 0; j < c; j++) {
                    double k = a[(size_t)i0 * c + j], n = i1 - i0;
                    pa[j] += fa[j] + n * k;
                    pb[j] += fb[j] + 2 * k * fa[j] + n * k * k;
                }
        }
#pragma omp critical
        for (int j = 0; j < c; j++) {
            sa[j] += pa[j];
            sb[j] += pb[j];
        }
    }
}

void nn_bn_sums(double *s, double *q, const float *x, int m, int c)
{
    bn_accumulate(s, q, x, NULL, NULL, NULL, NULL, NULL, NN_ACT_NONE, m, c);
}

void nn_bn_grad_sums(double *sdy, double *sdyx, const float *dy, const float *x, const float *mean,
                     const float *invstd, const float *gamma, const float *beta, enum nn_act act,
                     int m, int c)
{
    bn_accumulate(sdy, sdyx, dy, x, mean, invstd, gamma, beta, act, m, c);
}

/* y (m, c) = act(x * scale + shift). */
static void bn_apply(float *y, const float *x, const float *scale, const float *shift,
                     enum nn_act act, int m, int c)
{
#pragma omp parallel for if (BN_PAR(m, c)) schedule(static)
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * c;
        float *yr = y + (size_t)i * c;
        for (int j = 0; j < c; j++)
            yr[j] = xr[j] * scale[j] + shift[j];
        nn_epilogue_row(yr, NULL, NULL, act, c);
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
#pragma omp parallel for if (BN_PAR(m, c)) schedule(static)
    for (int i = 0; i < m; i++) {
        const float *dyr = dy + (size_t)i * c, *xr = x + (size_t)i * c;
        float *dxr = dx + (size_t)i * c;
        if (!dx_add)
            memset(dxr, 0, sizeof(float) * c); /* one row, in cache: not a pass */
        NN_ACT_DISPATCH(act, ACT, for (int j = 0; j < c; j++) {
            float xhat = (xr[j] - mean[j]) * invstd[j];
            float dz = dyr[j] * nn_act_grad(ACT, xhat * gamma[j] + beta[j]);
            dxr[j] += g[j] * (dz - k1[j] - xhat * k2[j]);
        })
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
