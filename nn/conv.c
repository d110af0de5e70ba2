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

/* Inference: the patches of a few output pixels at a time are gathered into
 * a block that stays in L1 and multiplied by the packed weights there with
 * the 1x1 kernel's register tiles (epilogue fused), so the im2col matrix is
 * never written out whole. */
void nn_conv_forward_packed(float *y, const float *x, const float *wp, const float *bias,
                            enum nn_act act, int n, int h, int w, int cin, int cout, int k,
                            int stride)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int pad = k / 2, kc = k * k * cin;
    int rows = 2048 / kc > 48 ? 48 : 2048 / kc; /* pixels per block: <= 8 KB of patches */
    if (rows < 1)
        rows = 1;
    long total = (long)n * oh * ow, blocks = (total + rows - 1) / rows;
#pragma omp parallel for if (total * kc * cout > (1 << 20)) schedule(static)
    for (long bl = 0; bl < blocks; bl++) {
        float col[rows * kc];
        long p0 = bl * rows, p1 = p0 + rows < total ? p0 + rows : total;
        for (long p = p0; p < p1; p++) {
            int b = (int)(p / ((long)oh * ow)), oy = (int)(p / ow % oh), ox = (int)(p % ow);
            float *row = col + (p - p0) * kc;
            int iy0 = oy * stride - pad, ix0 = ox * stride - pad;
            const float *xb = x + (size_t)b * h * w * cin;
            if (iy0 >= 0 && iy0 + k <= h && ix0 >= 0 && ix0 + k <= w) {
                /* k * cin floats per row of the patch; a 3x3 RGB stem's 9
                 * get a constant size (inlined: a memcpy call would cost
                 * more than the copy) */
                for (int ky = 0; ky < k; ky++) {
                    const float *src = xb + ((size_t)(iy0 + ky) * w + ix0) * cin;
                    if (k * cin == 9)
                        memcpy(row + ky * 9, src, 9 * sizeof(float));
                    else
                        memcpy(row + ky * k * cin, src, sizeof(float) * k * cin);
                }
                continue;
            }
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    int iy = iy0 + ky, ix = ix0 + kx;
                    int inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                    for (int j = 0; j < cin; j++)
                        row[(ky * k + kx) * cin + j] =
                            inside ? xb[((size_t)iy * w + ix) * cin + j] : 0.f;
                }
        }
        nn_pw_forward(y + p0 * cout, col, wp, bias, NULL, act, (int)(p1 - p0), kc, cout);
    }
}

void nn_conv_backward(float *dx, float *dwt, float *dcol, const float *dy, const float *col,
                      const float *wt, int n, int h, int w, int cin, int cout, int k, int stride)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int pad = k / 2, kc = k * k * cin, m = n * oh * ow;
    // dwt (cout, kc) += dy^T (cout, m) . col (m, kc)
    if (dwt)
        nn_matmul_backward(NULL, dwt, NULL, dy, col, wt, m, kc, cout, 1);
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
