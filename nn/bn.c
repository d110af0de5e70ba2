/* Batch normalization over the rows of (m, c), m = N*H*W. Channel sums use
 * per-thread double partials so large batches keep their precision. */
#include <math.h>
#include <string.h>

#include "nn/kernels.h"

#define BN_PAR(m, c) ((size_t)(m) * (c) > 32768)

/* Runs body with the activation a compile-time constant ACT, so each
 * instance of the loop inside vectorizes without a switch per element. */
#define BN_WITH_ACT(act, body)                                                                     \
    switch (act) {                                                                                 \
    case NN_ACT_NONE: { const enum nn_act ACT = NN_ACT_NONE; body; } break;                       \
    case NN_ACT_RELU: { const enum nn_act ACT = NN_ACT_RELU; body; } break;                       \
    case NN_ACT_RELU6: { const enum nn_act ACT = NN_ACT_RELU6; body; } break;                     \
    case NN_ACT_HSWISH: { const enum nn_act ACT = NN_ACT_HSWISH; body; } break;                   \
    case NN_ACT_HSIGMOID: { const enum nn_act ACT = NN_ACT_HSIGMOID; body; } break;               \
    }

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
        for (int i = 0; i < m; i++) {
            const float *ar = a + (size_t)i * c;
            if (x) {
                const float *xr = x + (size_t)i * c;
                BN_WITH_ACT(act, for (int j = 0; j < c; j++) {
                    float xhat = (xr[j] - mean[j]) * invstd[j];
                    float dz = ar[j] * nn_act_grad(ACT, xhat * gamma[j] + beta[j]);
                    pa[j] += dz;
                    pb[j] += dz * xhat;
                })
            } else {
                for (int j = 0; j < c; j++) {
                    pa[j] += ar[j];
                    pb[j] += (double)ar[j] * ar[j];
                }
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
                          const float *beta, enum nn_act act, int m, int c)
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
        BN_WITH_ACT(act, for (int j = 0; j < c; j++) {
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
                         c);
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
