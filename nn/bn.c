/* Batch normalization over the rows of (m, c), m = N*H*W. Channel sums use
 * per-thread double partials so large batches keep their precision. */
#include <math.h>
#include <string.h>

#include "nn/kernels.h"

#define BN_PAR(m, c) ((size_t)(m) * (c) > 32768)

void nn_bn_sums(double *sa, double *sb, const float *a, const float *b, const float *bmean,
                const float *bscale, int m, int c)
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
            if (b) {
                const float *br = b + (size_t)i * c;
                for (int j = 0; j < c; j++) {
                    pa[j] += ar[j];
                    pb[j] += ar[j] * ((br[j] - bmean[j]) * bscale[j]);
                }
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

/* y (m, c) = x * scale + shift. */
static void bn_apply(float *y, const float *x, const float *scale, const float *shift, int m, int c)
{
#pragma omp parallel for if (BN_PAR(m, c)) schedule(static)
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * c;
        float *yr = y + (size_t)i * c;
        for (int j = 0; j < c; j++)
            yr[j] = xr[j] * scale[j] + shift[j];
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
                     const float *gamma, const float *beta, int m, int c)
{
    float scale[c], shift[c];
    for (int j = 0; j < c; j++) {
        scale[j] = gamma[j] * invstd[j];
        shift[j] = beta[j] - mean[j] * scale[j];
    }
    bn_apply(y, x, scale, shift, m, c);
}

void nn_bn_forward(float *y, float *mean, float *invstd, float *run_mean, float *run_var,
                   const float *x, const float *gamma, const float *beta, int m, int c)
{
    double s[c], q[c];
    nn_bn_sums(s, q, x, NULL, NULL, NULL, m, c);
    nn_bn_stats(mean, invstd, run_mean, run_var, s, q, m, c);
    nn_bn_normalize(y, x, mean, invstd, gamma, beta, m, c);
}

void nn_bn_backward_apply(float *dx, float *dgamma, float *dbeta, const double *sdy,
                          const double *sdyx, int count, const float *dy, const float *x,
                          const float *mean, const float *invstd, const float *gamma, int m, int c)
{
    float k1[c], k2[c], g[c];
    for (int j = 0; j < c; j++) {
        if (dgamma)
            dgamma[j] += (float)sdyx[j];
        if (dbeta)
            dbeta[j] += (float)sdy[j];
        // dx = g * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) * invstd
        g[j] = gamma[j] * invstd[j];
        k1[j] = (float)(sdy[j] / count);
        k2[j] = (float)(sdyx[j] / count) * invstd[j];
    }
    if (!dx)
        return;
#pragma omp parallel for if (BN_PAR(m, c)) schedule(static)
    for (int i = 0; i < m; i++) {
        const float *dyr = dy + (size_t)i * c, *xr = x + (size_t)i * c;
        float *dxr = dx + (size_t)i * c;
        for (int j = 0; j < c; j++)
            dxr[j] += g[j] * (dyr[j] - k1[j] - (xr[j] - mean[j]) * k2[j]);
    }
}

void nn_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                    const float *mean, const float *invstd, const float *gamma, int m, int c)
{
    double sdy[c], sdyx[c];
    nn_bn_sums(sdy, sdyx, dy, x, mean, invstd, m, c);
    nn_bn_backward_apply(dx, dgamma, dbeta, sdy, sdyx, m, dy, x, mean, invstd, gamma, m, c);
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
                        const float *run_mean, const float *run_var, int m, int c)
{
    float scale[c], shift[c];
    nn_bn_fold(scale, shift, gamma, beta, run_mean, run_var, c);
    bn_apply(y, x, scale, shift, m, c);
}
