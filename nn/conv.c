/* k x k convolution (the stem) as im2col + sgemm; padding k/2. */
#include <omp.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/simd.h"
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

/* ---- inference, direct: the image stems (cin 1 or 3, cout <= 64) ----
 * A run of 8 output pixels of one row accumulates in registers, nv vectors
 * of 16 channels each, tap by tap straight from the input: no patch is
 * copied. A tap outside the image reads as 0 (a select, not a branch, so
 * the run stays unrolled); the pixels of a last, partial run past the row
 * are computed and not stored. For the 28x28 grey stem of the fmnist space
 * gathering patches for the 1x1 kernel cost more than its math: a pixel
 * there has only 9 multiply-adds per channel. wp is packed as for the
 * gathered path: (tap (ky, kx, ci), channel rounded up to 16). */
#define STEM_NP(n) (((n) + 15) / 16 * 16)
#define STEM_RUN 8

static inline __attribute__((always_inline)) void
stem_run(float *restrict yo, const float *restrict xb, const float *restrict wp,
         const float *restrict bias, enum nn_act act, int h, int w, int cin, int cout, int k,
         int stride, int oy, int ox0, int npx, int nv)
{
    int np = STEM_NP(cout), pad = k / 2;
    v16 acc[STEM_RUN][4];
    for (int p = 0; p < STEM_RUN; p++)
        for (int v = 0; v < nv; v++)
            acc[p][v] = bias ? *(const v16u *)(bias + 16 * v) : (v16){0};
    for (int ky = 0; ky < k; ky++) {
        int iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h)
            continue;
        const float *xr = xb + (size_t)iy * w * cin;
        for (int kx = 0; kx < k; kx++) {
            int ix0 = ox0 * stride - pad + kx;
            for (int ci = 0; ci < cin; ci++) {
                const float *wt = wp + (size_t)((ky * k + kx) * cin + ci) * np;
                v16 wv[4];
                for (int v = 0; v < nv; v++)
                    wv[v] = *(const v16u *)(wt + 16 * v);
                for (int p = 0; p < STEM_RUN; p++) {
                    int ix = ix0 + p * stride;
                    float xs = (unsigned)ix < (unsigned)w ? xr[(size_t)ix * cin + ci] : 0.f;
                    v16 xv = (v16){0} + xs;
                    for (int v = 0; v < nv; v++)
                        acc[p][v] += xv * wv[v];
                }
            }
        }
    }
    int full = cout / 16;
    for (int p = 0; p < STEM_RUN && p < npx; p++) {
        float *yp = yo + (size_t)p * cout;
        for (int v = 0; v < nv; v++) {
            v16 z = v16_act(acc[p][v], act);
            if (v < full) {
                *(v16u *)(yp + 16 * v) = z;
            } else {
                float tmp[16];
                *(v16u *)tmp = z;
                for (int j = 16 * v; j < cout; j++)
                    yp[j] = tmp[j - 16 * v];
            }
        }
    }
}

/* Output rows [r0, r1) of the batch (row r = image r / oh, row r % oh). */
static void stem_rows(float *y, const float *x, const float *wp, const float *bias,
                      enum nn_act act, int h, int w, int cin, int cout, int k, int stride,
                      int oh, int ow, long r0, long r1)
{
    int nv = STEM_NP(cout) / 16;
    /* the bias read as whole vectors: a copy padded with zeros */
    float bpad[64] = {0};
    for (int j = 0; bias && j < cout; j++)
        bpad[j] = bias[j];
    const float *bp = bias ? bpad : NULL;
#define STEM_CASE(CIN, NV)                                                                        \
    stem_run(yo, xb, wp, bp, A, h, w, CIN, cout, k, stride, oy, ox, npx, NV)
#define STEM_NV(CIN)                                                                              \
    switch (nv) {                                                                                  \
    case 1: STEM_CASE(CIN, 1); break;                                                              \
    case 2: STEM_CASE(CIN, 2); break;                                                              \
    case 3: STEM_CASE(CIN, 3); break;                                                              \
    default: STEM_CASE(CIN, 4); break;                                                             \
    }
    for (long r = r0; r < r1; r++) {
        int b = (int)(r / oh), oy = (int)(r % oh);
        const float *xb = x + (size_t)b * h * w * cin;
        float *yr = y + (size_t)r * ow * cout;
        NN_ACT_DISPATCH(act, A, {
            for (int ox = 0; ox < ow; ox += STEM_RUN) {
                int npx = ow - ox < STEM_RUN ? ow - ox : STEM_RUN;
                float *yo = yr + (size_t)ox * cout;
                if (cin == 1) {
                    STEM_NV(1)
                } else {
                    STEM_NV(3)
                }
            }
        })
    }
#undef STEM_NV
#undef STEM_CASE
}

/* Inference: the direct kernel above for image stems; otherwise the patches
 * of a few output pixels at a time are gathered into a block that stays in
 * L1 and multiplied by the packed weights there with the 1x1 kernel's
 * register tiles (epilogue fused), so the im2col matrix is never written
 * out whole. */
void nn_conv_forward_packed(float *y, const float *x, const float *wp, const float *bias,
                            enum nn_act act, int n, int h, int w, int cin, int cout, int k,
                            int stride)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int pad = k / 2, kc = k * k * cin;
    if ((cin == 1 || cin == 3) && cout <= 64) {
        long rows = (long)n * oh;
        if ((double)rows * ow * kc * cout <= (1 << 20) || omp_get_max_threads() < 2 ||
            omp_in_parallel()) {
            stem_rows(y, x, wp, bias, act, h, w, cin, cout, k, stride, oh, ow, 0, rows);
            return;
        }
#pragma omp parallel
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            stem_rows(y, x, wp, bias, act, h, w, cin, cout, k, stride, oh, ow, rows * t / nt,
                      rows * (t + 1) / nt);
        }
        return;
    }
    int rows = 2048 / kc > 48 ? 48 : 2048 / kc; /* pixels per block: <= 8 KB of patches */
    if (rows < 1)
        rows = 1;
    long total = (long)n * oh * ow, blocks = (total + rows - 1) / rows;
#pragma omp parallel for if (total * kc * cout > (1 << 20)) schedule(static)
    for (long bl = 0; bl < blocks; bl++) {
        float col[rows * kc];
        long p0 = bl * rows, p1 = p0 + rows < total ? p0 + rows : total;
        /* the pixel's (b, oy, ox) stepped along, not divided out per pixel:
         * three 64-bit divisions a pixel took half of a 28x28 stem's time */
        int b = (int)(p0 / ((long)oh * ow)), oy = (int)(p0 / ow % oh), ox = (int)(p0 % ow) - 1;
        for (long p = p0; p < p1; p++) {
            if (++ox == ow) {
                ox = 0;
                if (++oy == oh)
                    oy = 0, b++;
            }
            float *row = col + (p - p0) * kc;
            int iy0 = oy * stride - pad, ix0 = ox * stride - pad;
            const float *xb = x + (size_t)b * h * w * cin;
            if (iy0 >= 0 && iy0 + k <= h && ix0 >= 0 && ix0 + k <= w) {
                /* k * cin floats per row of the patch: a short row (3 for a
                 * 3x3 grey stem, 9 for RGB) is copied by a loop, as a
                 * memcpy call would cost more than the copy (for a 28x28
                 * grey stem the calls took most of its 20 us) */
                int kr = k * cin;
                for (int ky = 0; ky < k; ky++) {
                    const float *src = xb + ((size_t)(iy0 + ky) * w + ix0) * cin;
                    float *dst = row + ky * kr;
                    if (kr == 3)
                        dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
                    else if (kr == 9)
                        memcpy(dst, src, 9 * sizeof(float));
                    else
                        memcpy(dst, src, sizeof(float) * kr);
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
