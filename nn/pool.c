/* Global average pool and the residual add. */
#include "nn/kernels.h"

void nn_avgpool_forward(float *y, const float *x, int n, int hw, int c)
{
    // y (n, c) = mean over hw of x (n, hw, c)
    float inv = 1.f / hw;
#pragma omp parallel for if ((size_t)n * hw * c > 65536) schedule(static)
    for (int b = 0; b < n; b++) {
        float *yb = y + (size_t)b * c;
        const float *xb = x + (size_t)b * hw * c;
        for (int j = 0; j < c; j++)
            yb[j] = 0.f;
        for (int p = 0; p < hw; p++)
            for (int j = 0; j < c; j++)
                yb[j] += xb[(size_t)p * c + j];
        for (int j = 0; j < c; j++)
            yb[j] *= inv;
    }
}

void nn_avgpool_backward(float *dx, const float *dy, int n, int hw, int c)
{
    // dx (n, hw, c) += dy (n, c) / hw
    float inv = 1.f / hw;
#pragma omp parallel for if ((size_t)n * hw * c > 65536) schedule(static)
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++)
            for (int j = 0; j < c; j++)
                dx[((size_t)b * hw + p) * c + j] += dy[(size_t)b * c + j] * inv;
}

void nn_add_forward(float *y, const float *a, const float *b, size_t len)
{
#pragma omp parallel for simd if (len > 65536) schedule(static)
    for (size_t i = 0; i < len; i++)
        y[i] = a[i] + b[i];
}

void nn_add_backward(float *da, float *db, const float *dy, size_t len)
{
#pragma omp parallel for simd if (len > 65536) schedule(static)
    for (size_t i = 0; i < len; i++) {
        da[i] += dy[i];
        db[i] += dy[i];
    }
}
