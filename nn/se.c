/* Squeeze-and-excite: pool -> FC + bias -> ReLU -> FC + bias -> hard-sigmoid
 * -> channel-wise scale. The two FCs are nn_matmul on the (n, c) pooled rows. */
#include "nn/kernels.h"
#include "nn/simd.h"

/* y = x * gate, channel-wise, for pixels [p0, p1) of sample b: whole
 * vectors explicitly (a compiler's loop over c = 16 spends more on its
 * prologue than on its one vector), the last c % 16 channels in a short loop. */
static void se_scale(float *y, const float *x, const float *gate, int b, int p0, int p1, int hw,
                     int c)
{
    const float *restrict g = gate + (size_t)b * c;
    int nv = c / 16;
    for (int p = p0; p < p1; p++) {
        size_t o = ((size_t)b * hw + p) * c;
        const float *restrict xp = x + o;
        float *restrict yp = y + o;
        for (int v = 0; v < nv; v++)
            *(v16u *)(yp + 16 * v) = *(const v16u *)(xp + 16 * v) * *(const v16u *)(g + 16 * v);
        for (int j = nv * 16; j < c; j++)
            yp[j] = xp[j] * g[j];
    }
}

#define SE_SCALE_PIXELS 64

void nn_se_forward(float *y, const struct nn_se_cache *s, const float *x, const float *w1,
                   const float *b1, const float *w2, const float *b2, int n, int hw, int c, int sq)
{
    nn_avgpool_forward(s->pooled, x, n, hw, c);
    // hid (n, sq) = pooled . w1^T + b1; gate_pre (n, c) = relu(hid) . w2^T + b2
    nn_matmul_forward(s->hid, s->pooled, w1, b1, NULL, NN_ACT_NONE, n, c, sq);
    nn_act_forward(s->hid_act, s->hid, NN_ACT_RELU, (size_t)n * sq);
    nn_matmul_forward(s->gate_pre, s->hid_act, w2, b2, NULL, NN_ACT_NONE, n, sq, c);
    nn_act_forward(s->gate, s->gate_pre, NN_ACT_HSIGMOID, (size_t)n * c);
    // slices of pixels, so one large sample also splits over the threads
    int per = (hw + SE_SCALE_PIXELS - 1) / SE_SCALE_PIXELS;
    NN_PAR_FOR((size_t)n * hw * c > 65536 && nn_fork_ok(), "omp parallel for schedule(static)",
               for (int i = 0; i < n * per; i++) {
                   int b = i / per, p0 = i % per * SE_SCALE_PIXELS;
                   se_scale(y, x, s->gate, b, p0,
                            p0 + SE_SCALE_PIXELS < hw ? p0 + SE_SCALE_PIXELS : hw, hw, c);
               });
}

void nn_se_backward(float *dx, float *dw1, float *db1, float *dw2, float *db2,
                    const struct nn_se_cache *s, const float *dy, const float *x,
                    const float *w1, const float *w2, int n, int hw, int c, int sq)
{
    // dgate (n, c) = sum over hw of dy * x, then through the hard-sigmoid
    float *dg = s->dgate;
    NN_PAR_FOR((size_t)n * hw * c > 65536 && nn_fork_ok(), "omp parallel for schedule(static)",
               for (int b = 0; b < n; b++) {
                   float *d = dg + (size_t)b * c;
                   for (int j = 0; j < c; j++)
                       d[j] = 0.f;
                   for (int p = 0; p < hw; p++) {
                       size_t o = ((size_t)b * hw + p) * c;
                       for (int j = 0; j < c; j++)
                           d[j] += dy[o + j] * x[o + j];
                   }
                   const float *gp = s->gate_pre + (size_t)b * c;
                   for (int j = 0; j < c; j++)
                       d[j] *= nn_act_grad(NN_ACT_HSIGMOID, gp[j]);
               });
    // through FC2 into dhid (n, sq), then the ReLU, then FC1 into dgate's
    // storage, reused for dpooled (n, c)
    for (size_t i = 0; i < (size_t)n * sq; i++)
        s->dhid[i] = 0.f;
    nn_matmul_backward(s->dhid, dw2, db2, dg, s->hid_act, w2, n, sq, c, 1);
    for (size_t i = 0; i < (size_t)n * sq; i++)
        s->dhid[i] *= nn_act_grad(NN_ACT_RELU, s->hid[i]);
    for (size_t i = 0; i < (size_t)n * c; i++)
        dg[i] = 0.f;
    nn_matmul_backward(dg, dw1, db1, s->dhid, s->pooled, w1, n, c, sq, 1);
    if (!dx)
        return;
    // dx += dy * gate + dpooled / hw
    float inv = 1.f / hw;
    NN_PAR_FOR((size_t)n * hw * c > 65536 && nn_fork_ok(),
               "omp parallel for collapse(2) schedule(static)",
               for (int b = 0; b < n; b++)
                   for (int p = 0; p < hw; p++) {
                       size_t o = ((size_t)b * hw + p) * c;
                       const float *g = s->gate + (size_t)b * c, *dp = dg + (size_t)b * c;
                       for (int j = 0; j < c; j++)
                           dx[o + j] += dy[o + j] * g[j] + dp[j] * inv;
                   });
}
