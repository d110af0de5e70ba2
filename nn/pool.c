/* Global average pool and the residual add. */
#include "nn/kernels.h"
#include "nn/simd.h"

/* Mean over hw of x's channels [j, j + 16 * NV), in registers: a pass that
 * accumulates into y in memory waits on a store-to-load round trip per
 * pixel, which made the pool of a 28x28x16 SE cost as much as its gates.
 * The pixels are summed in order, one chain per vector: four chains side
 * by side for narrow blocks were measurably faster only on a 56x56x16 pool
 * (a few us) and moved the logits of an -O1 build past the 1e-4 the ONNX
 * Runtime comparison allows. */
#define POOL_BLOCK(NV)                                                                             \
    do {                                                                                           \
        v16 acc[NV] = {{0}};                                                                       \
        for (int p = 0; p < hw; p++)                                                               \
            for (int v = 0; v < NV; v++)                                                           \
                acc[v] += *(const v16u *)(xb + (size_t)p * c + j + 16 * v);                        \
        for (int v = 0; v < NV; v++)                                                               \
            *(v16u *)(yb + j + 16 * v) = acc[v] * inv;                                             \
        j += 16 * NV;                                                                              \
    } while (0)

/* yb (c) = mean over hw of xb (hw, c), one image. */
static void pool_image(float *restrict yb, const float *restrict xb, int hw, int c, float inv)
{
    int j = 0;
    while (c - j >= 64)
        POOL_BLOCK(4);
    if (c - j >= 32)
        POOL_BLOCK(2);
    if (c - j >= 16)
        POOL_BLOCK(1);
    if (c - j >= 8) {
        v8 acc = {0};
        for (int p = 0; p < hw; p++)
            acc += *(const v8u *)(xb + (size_t)p * c + j);
        *(v8u *)(yb + j) = acc * inv;
        j += 8;
    }
    if (j < c) {
        float acc[8] = {0};
        int tail = c - j;
        for (int p = 0; p < hw; p++)
            for (int t = 0; t < tail; t++)
                acc[t] += xb[(size_t)p * c + j + t];
        for (int t = 0; t < tail; t++)
            yb[j + t] = acc[t] * inv;
    }
}

void nn_avgpool_forward(float *y, const float *x, int n, int hw, int c)
{
    // y (n, c) = mean over hw of x (n, hw, c)
    float inv = 1.f / hw;
    NN_PAR_FOR((size_t)n * hw * c > 65536 && nn_fork_ok(), "omp parallel for schedule(static)",
               for (int b = 0; b < n; b++)
                   pool_image(y + (size_t)b * c, x + (size_t)b * hw * c, hw, c, inv););
}

void nn_avgpool_backward(float *dx, const float *dy, int n, int hw, int c)
{
    // dx (n, hw, c) += dy (n, c) / hw
    float inv = 1.f / hw;
    NN_PAR_FOR((size_t)n * hw * c > 65536 && nn_fork_ok(), "omp parallel for schedule(static)",
               for (int b = 0; b < n; b++)
                   for (int p = 0; p < hw; p++)
                       for (int j = 0; j < c; j++)
                           dx[((size_t)b * hw + p) * c + j] += dy[(size_t)b * c + j] * inv;);
}

void nn_add_forward(float *y, const float *a, const float *b, size_t len)
{
    NN_PAR_FOR(len > 65536 && nn_fork_ok(), "omp parallel for simd schedule(static)",
               for (size_t i = 0; i < len; i++) y[i] = a[i] + b[i];);
}

void nn_add_backward(float *da, float *db, const float *dy, size_t len)
{
    NN_PAR_FOR(len > 65536 && nn_fork_ok(), "omp parallel for simd schedule(static)",
               for (size_t i = 0; i < len; i++) {
                   da[i] += dy[i];
                   db[i] += dy[i];
               });
}
