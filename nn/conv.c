/* k x k convolution (the stem) as im2col + sgemm; padding k/2. */
#include <string.h>

#include "nn/kernels.h"
#include "space/arch.h"

size_t nn_conv_col_size(int n, int h, int w, int cin, int k, int stride)
{
    size_t oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    return (size_t)n * oh * ow * k * k * cin;
}

void nn_conv_forward(float *y, float *col, const float *x, const float *wt, const float *bias,
                     enum nn_act act, int n, int h, int w, int cin, int cout, int k, int stride)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int pad = k / 2, kc = k * k * cin;
    // col (n*oh*ow, k*k*cin): one row per output pixel, zeros outside the image
#pragma omp parallel for collapse(2) if ((size_t)n * oh * ow * kc > 65536) schedule(static)
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *row = col + (((size_t)b * oh + oy) * ow + ox) * kc;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy * stride - pad + ky;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ox * stride - pad + kx;
                        float *dst = row + (ky * k + kx) * cin;
                        const float *src = x + (((size_t)b * h + iy) * w + ix) * cin;
                        int inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                        /* a loop, not memcpy: cin is 1 or 3 for image stems */
                        for (int j = 0; j < cin; j++)
                            dst[j] = inside ? src[j] : 0.f;
                    }
                }
            }
    nn_matmul_forward(y, col, wt, bias, NULL, act, n * oh * ow, kc, cout);
}

void nn_conv_backward(float *dx, float *dwt, float *dcol, const float *dy, const float *col,
                      const float *wt, int n, int h, int w, int cin, int cout, int k, int stride)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int pad = k / 2, kc = k * k * cin, m = n * oh * ow;
    // dwt (cout, kc) += dy^T (cout, m) . col (m, kc)
    if (dwt)
        nn_matmul_backward(NULL, dwt, NULL, dy, col, wt, m, kc, cout);
    if (!dx)
        return;
    // dcol (m, kc) = dy (m, cout) . wt (cout, kc), then scattered back (col2im);
    // images are independent, so threads split the batch.
    nn_sgemm(0, 0, m, kc, cout, dy, cout, wt, kc, 0.f, dcol, kc);
#pragma omp parallel for if ((size_t)m * kc > 65536) schedule(static)
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *row = dcol + (((size_t)b * oh + oy) * ow + ox) * kc;
                for (int ky = 0; ky < k; ky++) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h)
                        continue;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = ox * stride - pad + kx;
                        if (ix < 0 || ix >= w)
                            continue;
                        float *d = dx + (((size_t)b * h + iy) * w + ix) * cin;
                        const float *s = row + (ky * k + kx) * cin;
                        for (int j = 0; j < cin; j++)
                            d[j] += s[j];
                    }
                }
            }
}
