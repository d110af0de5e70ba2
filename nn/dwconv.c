/* Depthwise k x k convolution, stride 1 or 2, padding k/2, NHWC.
 *
 * Forward: per output pixel, the channels go in blocks of up to 8 vectors of
 * 16 floats held in registers while the k*k taps accumulate into them (8
 * independent FMA chains hide the FMA latency), then one vector of 8 and the
 * last lanes one by one. 16-float vectors took 10-30 % off 8-float ones on a
 * Zen 5 (full-width AVX-512); with AVX2 they compile to pairs of 8. Interior
 * pixels take a path with the kernel size a compile-time constant and no
 * bounds checks; border pixels clip the tap ranges. The activation is
 * applied in the registers before the one store, and is a constant in each
 * copy of a row kernel. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "nn/kernels.h"
#include "nn/simd.h"
#include "space/arch.h"


#define DW_INLINE static inline __attribute__((always_inline))

/* dw_block_V: channels [j, j + L*nv) of one output pixel in vectors V of L
 * floats (nv <= 8); taps [ky0,ky1) x [kx0,kx1). base: offset in x of the
 * tap (0,0), possibly outside the image.
 * dw_span_V: the same channels of P <= 4 interior output pixels side by side
 * (pixel p reads from base + p*step), nv <= 3: each weight vector is loaded
 * once for the P pixels, so a tap costs 1 + 1/P loads per FMA instead of 2. */
#define DW_DEFINE(V, L)                                                                            \
    DW_INLINE void dw_block_##V(float *restrict y, const float *restrict x, ptrdiff_t base,         \
                                const float *restrict wt, const float *restrict bias,              \
                                enum nn_act act, int c, int wc, int k, int ky0, int ky1, int kx0,  \
                                int kx1, int j, int nv, int accum)                                 \
    {                                                                                              \
        V acc[8];                                                                                  \
        for (int v = 0; v < nv; v++)                                                               \
            acc[v] = accum  ? *(const V##u *)(y + j + L * v)                                       \
                     : bias ? *(const V##u *)(bias + j + L * v)                                    \
                            : (V){0};                                                              \
        for (int ky = ky0; ky < ky1; ky++)                                                         \
            for (int kx = kx0; kx < kx1; kx++) {                                                   \
                const float *xp = x + base + (ptrdiff_t)ky * wc + (ptrdiff_t)kx * c + j;           \
                const float *wp = wt + (ky * k + kx) * c + j;                                      \
                for (int v = 0; v < nv; v++)                                                       \
                    acc[v] += *(const V##u *)(xp + L * v) * *(const V##u *)(wp + L * v);           \
            }                                                                                      \
        for (int v = 0; v < nv; v++)                                                               \
            *(V##u *)(y + j + L * v) = V##_act(acc[v], act);                                       \
    }                                                                                              \
    DW_INLINE void dw_span_##V(float *restrict y, const float *restrict x, ptrdiff_t base,          \
                               ptrdiff_t step, const float *restrict wt,                           \
                               const float *restrict bias, enum nn_act act, int c, int wc, int K,  \
                               int j, int nv, int P, int accum)                                    \
    {                                                                                              \
        V acc[4][3];                                                                               \
        for (int v = 0; v < nv; v++) {                                                             \
            V b = bias ? *(const V##u *)(bias + j + L * v) : (V){0};                               \
            for (int p = 0; p < P; p++)                                                            \
                acc[p][v] = accum ? *(const V##u *)(y + (size_t)p * c + j + L * v) : b;            \
        }                                                                                          \
        for (int ky = 0; ky < K; ky++)                                                             \
            for (int kx = 0; kx < K; kx++) {                                                       \
                const float *xp = x + base + (ptrdiff_t)ky * wc + (ptrdiff_t)kx * c + j;           \
                const float *wp = wt + (ky * K + kx) * c + j;                                      \
                for (int v = 0; v < nv; v++) {                                                     \
                    V wv = *(const V##u *)(wp + L * v);                                            \
                    for (int p = 0; p < P; p++)                                                    \
                        acc[p][v] += *(const V##u *)(xp + p * step + L * v) * wv;                  \
                }                                                                                  \
            }                                                                                      \
        for (int p = 0; p < P; p++)                                                                \
            for (int v = 0; v < nv; v++)                                                           \
                *(V##u *)(y + (size_t)p * c + j + L * v) = V##_act(acc[p][v], act);               \
    }

DW_DEFINE(v16, 16)
DW_DEFINE(v8, 8)

DW_INLINE void dw_pixel(float *restrict y, const float *restrict x, ptrdiff_t base,
                        const float *restrict wt, const float *restrict bias, enum nn_act act,
                        int c, int cn, int wc, int k, int ky0, int ky1, int kx0, int kx1,
                        int accum)
{
    int j = 0;
    for (; j + 128 <= cn; j += 128)
        dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 8, accum);
    switch ((cn - j) / 16) {
    case 1: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 1, accum); break;
    case 2: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 2, accum); break;
    case 3: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 3, accum); break;
    case 4: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 4, accum); break;
    case 5: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 5, accum); break;
    case 6: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 6, accum); break;
    case 7: dw_block_v16(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 7, accum); break;
    default: break;
    }
    j += (cn - j) / 16 * 16;
    if (cn - j >= 8) {
        dw_block_v8(y, x, base, wt, bias, act, c, wc, k, ky0, ky1, kx0, kx1, j, 1, accum);
        j += 8;
    }
    for (; j < cn; j++) {
        float acc = accum ? y[j] : bias ? bias[j] : 0.f;
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++)
                acc += x[base + (ptrdiff_t)ky * wc + (ptrdiff_t)kx * c + j] * wt[(ky * k + kx) * c + j];
        y[j] = nn_act_value(act, acc);
    }
}

/* One output row of one image; K > 0 is the kernel size as a constant for
 * the interior path (always_inline makes it one), k the same at run time.
 * Interior pixels of a row whose taps are all inside go four at a time
 * through dw_span_v16 in blocks of 3 vectors (12 accumulators) and
 * dw_span_v8 for a half vector; the last c % 8 channels and the border
 * pixels one at a time. */
DW_INLINE void dw_row(float *restrict y, const float *restrict x, const float *restrict wt,
                      const float *restrict bias, enum nn_act act, int h, int w, int c, int cn,
                      int k, int stride, int oy, int ow, int K, int accum)
{
    int pad = k / 2, iy = oy * stride - pad, wc = w * c;
    int ky0 = iy < 0 ? -iy : 0, ky1 = iy + k > h ? h - iy : k;
    int row_full = ky0 == 0 && ky1 == k;
    /* interior columns: ix = ox*stride - pad >= 0 and ix + k <= w */
    int lo = (pad + stride - 1) / stride, hi = w - k + pad >= 0 ? (w - k + pad) / stride + 1 : 0;
    hi = hi < ow ? hi : ow;
    int c16 = cn / 16 * 16, c8 = cn / 8 * 8, ox = 0;
    while (ox < ow) {
        if (row_full && K > 0 && ox >= lo && ox + 4 <= hi) {
            ptrdiff_t base = (ptrdiff_t)iy * wc + (ptrdiff_t)(ox * stride - pad) * c;
            ptrdiff_t step = (ptrdiff_t)stride * c;
            float *yo = y + (size_t)ox * c;
            int j = 0;
            for (; j + 48 <= c16; j += 48)
                dw_span_v16(yo, x, base, step, wt, bias, act, c, wc, K, j, 3, 4, accum);
            if (c16 - j == 32)
                dw_span_v16(yo, x, base, step, wt, bias, act, c, wc, K, j, 2, 4, accum);
            else if (c16 - j == 16)
                dw_span_v16(yo, x, base, step, wt, bias, act, c, wc, K, j, 1, 4, accum);
            if (c8 > c16)
                dw_span_v8(yo, x, base, step, wt, bias, act, c, wc, K, c16, 1, 4, accum);
            for (int p = 0; p < 4 && c8 < cn; p++)
                for (int jj = c8; jj < cn; jj++) {
                    float acc = accum ? yo[(size_t)p * c + jj] : bias ? bias[jj] : 0.f;
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++)
                            acc += x[base + p * step + (ptrdiff_t)ky * wc + (ptrdiff_t)kx * c + jj] *
                                   wt[(ky * K + kx) * c + jj];
                    yo[(size_t)p * c + jj] = nn_act_value(act, acc);
                }
            ox += 4;
            continue;
        }
        int ix = ox * stride - pad;
        int kx0 = ix < 0 ? -ix : 0, kx1 = ix + k > w ? w - ix : k;
        ptrdiff_t base = (ptrdiff_t)iy * wc + (ptrdiff_t)ix * c;
        if (row_full && kx0 == 0 && kx1 == k)
            dw_pixel(y + (size_t)ox * c, x, base, wt, bias, act, c, cn, wc, K, 0, K, 0, K, accum);
        else
            dw_pixel(y + (size_t)ox * c, x, base, wt, bias, act, c, cn, wc, k, ky0, ky1, kx0, kx1,
                     accum);
        ox++;
    }
}

static void dw_row_3(float *y, const float *x, const float *wt, const float *bias, enum nn_act act,
                     int h, int w, int c, int cn, int stride, int oy, int ow, int accum)
{
    NN_ACT_DISPATCH(act, A, dw_row(y, x, wt, bias, A, h, w, c, cn, 3, stride, oy, ow, 3, accum))
}
static void dw_row_5(float *y, const float *x, const float *wt, const float *bias, enum nn_act act,
                     int h, int w, int c, int cn, int stride, int oy, int ow, int accum)
{
    NN_ACT_DISPATCH(act, A, dw_row(y, x, wt, bias, A, h, w, c, cn, 5, stride, oy, ow, 5, accum))
}
static void dw_row_7(float *y, const float *x, const float *wt, const float *bias, enum nn_act act,
                     int h, int w, int c, int cn, int stride, int oy, int ow, int accum)
{
    NN_ACT_DISPATCH(act, A, dw_row(y, x, wt, bias, A, h, w, c, cn, 7, stride, oy, ow, 7, accum))
}

/* Output row oy of image b, channel block blk (cb channels from blk * cb). */
static void dw_out_row(float *y, const float *x, const float *wt, const float *bias,
                       enum nn_act act, int h, int w, int c, int k, int stride, int oh, int ow,
                       int accum, int cb, int b, int blk, int oy)
{
    int j0 = blk * cb, cn = c - j0 < cb ? c - j0 : cb;
    float *yr = y + (((size_t)b * oh + oy) * ow) * c + j0;
    const float *xb = x + (size_t)b * h * w * c + j0, *wb = wt + j0;
    const float *bb = bias ? bias + j0 : NULL;
    switch (k) {
    case 3: dw_row_3(yr, xb, wb, bb, act, h, w, c, cn, stride, oy, ow, accum); break;
    case 5: dw_row_5(yr, xb, wb, bb, act, h, w, c, cn, stride, oy, ow, accum); break;
    case 7: dw_row_7(yr, xb, wb, bb, act, h, w, c, cn, stride, oy, ow, accum); break;
    default: dw_row(yr, xb, wb, bb, act, h, w, c, cn, k, stride, oy, ow, k, accum); break;
    }
}

/* Channels per block of dw_forward: the block's k*k weights within 16 KB
 * (a third of a 48 KB L1), so they stay there across the rows. */
#ifndef DW_BLOCK_FLOATS
#define DW_BLOCK_FLOATS 4096
#endif
static int dw_channel_block(int c, int k)
{
    if (k * k * c <= DW_BLOCK_FLOATS)
        return c;
    int cb = DW_BLOCK_FLOATS / (k * k) / 16 * 16;
    return cb < 16 ? 16 : cb;
}

/* accum: y += the convolution (act NONE, bias NULL) instead of y = ...
 * Wide layers go a block of channels at a time over all rows: with every
 * channel per pixel, the weights of 960 channels at k5 (96 KB) streamed from
 * L2 once per pixel. */
static void dw_forward(float *y, const float *x, const float *wt, const float *bias,
                       enum nn_act act, int n, int h, int w, int c, int k, int stride, int accum)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    int cb = dw_channel_block(c, k), nb = (c + cb - 1) / cb;
    // y (n, oh, ow, c); x (n, h, w, c); wt (k, k, c)
    NN_PAR_FOR((size_t)n * oh * ow * c * k * k > 200000 && nn_fork_ok(),
               "omp parallel for collapse(3) schedule(static)",
               for (int b = 0; b < n; b++)
                   for (int blk = 0; blk < nb; blk++)
                       for (int oy = 0; oy < oh; oy++)
                           dw_out_row(y, x, wt, bias, act, h, w, c, k, stride, oh, ow, accum, cb,
                                      b, blk, oy););
}

void nn_dwconv_forward(float *y, const float *x, const float *wt, const float *bias,
                       enum nn_act act, int n, int h, int w, int c, int k, int stride)
{
    dw_forward(y, x, wt, bias, act, n, h, w, c, k, stride, 0);
}

/* Backward on one image for channels [j, j + 8*nv) (nv <= 8), both as
 * gathers, so nothing is read-modified-written per tap:
 *   dwt (ky, kx) += sum over the output pixels whose tap (ky, kx) is inside
 *     of dy * x, tap by tap over that rectangle, summed in registers;
 *   dx (iy, ix) += sum over the taps that reach it from an output pixel
 *     (oy = (iy + pad - ky) / stride when that divides) of dy * w.
 * The image's slice of x, dy and dx stays in cache across the taps. */
DW_INLINE void dw_back_block(float *restrict dx, float *restrict dwt, const float *restrict dy,
                             const float *restrict x, const float *restrict wt, int h, int w, int c,
                             int k, int stride, int oh, int ow, int j, int nv, int dx_add)
{
    int pad = k / 2;
    /* dwt in blocks of output rows (about 32 pixels) when the image's slice
     * of x and dy outgrows L1: a block's rows stay there across the k*k taps,
     * where tap by tap over the whole image they streamed from L2 k*k times
     * (28x28x16 k3: 0.53 -> 0.40 ms). Small images go whole (blocks only
     * added overhead there: 7x7x144 k7 0.53 -> 0.60 ms). */
    int rows = ow >= 32 ? 1 : (32 + ow - 1) / ow;
    if ((size_t)(h * w + oh * ow) * 32 * nv <= 32768)
        rows = oh;
    for (int r0 = 0; r0 < oh && dwt; r0 += rows) {
        int r1 = r0 + rows < oh ? r0 + rows : oh;
        for (int ky = 0; ky < k; ky++) {
            /* output rows whose tap ky is inside: 0 <= oy*stride - pad + ky < h */
            int oy0 = pad - ky > 0 ? (pad - ky + stride - 1) / stride : 0;
            /* (C division truncates: a negative numerator means no row) */
            int oy1 = h - 1 + pad - ky < 0 ? 0 : (h - 1 + pad - ky) / stride + 1;
            oy0 = oy0 > r0 ? oy0 : r0;
            oy1 = oy1 < r1 ? oy1 : r1;
            if (oy0 >= oy1)
                continue;
            for (int kx = 0; kx < k; kx++) {
                int ox0 = pad - kx > 0 ? (pad - kx + stride - 1) / stride : 0;
                int ox1 = w - 1 + pad - kx < 0 ? 0 : (w - 1 + pad - kx) / stride + 1;
                ox1 = ox1 < ow ? ox1 : ow;
                /* U pixels side by side in their own accumulators: few
                 * channels (nv 1-2) alone are too few FMA chains */
                const int U = nv <= 2 ? 4 : nv <= 4 ? 2 : 1;
                v8 acc[4][8];
                for (int u = 0; u < U; u++)
                    for (int v = 0; v < nv; v++)
                        acc[u][v] = (v8){0};
                for (int oy = oy0; oy < oy1; oy++) {
                    const float *g = dy + ((size_t)oy * ow) * c + j;
                    const float *xr = x + ((size_t)(oy * stride - pad + ky) * w) * c + j;
                    int ox = ox0;
                    for (; ox + U <= ox1; ox += U)
                        for (int u = 0; u < U; u++) {
                            const float *gp = g + (size_t)(ox + u) * c;
                            const float *xp = xr + (ptrdiff_t)((ox + u) * stride - pad + kx) * c;
                            for (int v = 0; v < nv; v++)
                                acc[u][v] += *(const v8u *)(gp + 8 * v) * *(const v8u *)(xp + 8 * v);
                        }
                    for (; ox < ox1; ox++) {
                        const float *gp = g + (size_t)ox * c;
                        const float *xp = xr + (ptrdiff_t)(ox * stride - pad + kx) * c;
                        for (int v = 0; v < nv; v++)
                            acc[0][v] += *(const v8u *)(gp + 8 * v) * *(const v8u *)(xp + 8 * v);
                    }
                }
                float *d = dwt + (ky * k + kx) * c + j;
                for (int v = 0; v < nv; v++) {
                    for (int u = 1; u < U; u++)
                        acc[0][v] += acc[u][v];
                    *(v8u *)(d + 8 * v) += acc[0][v];
                }
            }
        }
    }
    if (!dx)
        return;
    for (int iy = 0; iy < h; iy++)
        for (int ix = 0; ix < w; ix++) {
            float *d = dx + ((size_t)iy * w + ix) * c + j;
            v8 acc[8];
            for (int v = 0; v < nv; v++)
                acc[v] = dx_add ? *(const v8u *)(d + 8 * v) : (v8){0};
            /* only the taps of the pixel's phase reach it: ky = (iy + pad) mod stride, ... */
            for (int ky = (iy + pad) % stride; ky < k; ky += stride) {
                int ty = iy + pad - ky, oy = ty / stride;
                if (ty < 0 || oy >= oh)
                    continue;
                for (int kx = (ix + pad) % stride; kx < k; kx += stride) {
                    int tx = ix + pad - kx, ox = tx / stride;
                    if (tx < 0 || ox >= ow)
                        continue;
                    const float *gp = dy + ((size_t)oy * ow + ox) * c + j;
                    const float *wp = wt + (ky * k + kx) * c + j;
                    for (int v = 0; v < nv; v++)
                        acc[v] += *(const v8u *)(gp + 8 * v) * *(const v8u *)(wp + 8 * v);
                }
            }
            for (int v = 0; v < nv; v++)
                *(v8u *)(d + 8 * v) = acc[v];
        }
}

/* The channels [c0, c1) of one image, any count (a scalar loop for the
 * last c % 8): the same sums as dw_back_block. */
static void dw_back_tail(float *dx, float *dwt, const float *dy, const float *x, const float *wt,
                         int h, int w, int c, int k, int stride, int oh, int ow, int c0, int c1)
{
    int pad = k / 2;
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            const float *g = dy + ((size_t)oy * ow + ox) * c;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * stride - pad + ky;
                if (iy < 0 || iy >= h)
                    continue;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * stride - pad + kx;
                    if (ix < 0 || ix >= w)
                        continue;
                    size_t xo = ((size_t)iy * w + ix) * c;
                    for (int jj = c0; jj < c1; jj++) {
                        if (dx)
                            dx[xo + jj] += g[jj] * wt[(ky * k + kx) * c + jj];
                        if (dwt)
                            dwt[(ky * k + kx) * c + jj] += g[jj] * x[xo + jj];
                    }
                }
            }
        }
}

/* Both gradients for channels [c0, c1) of every image (c0 a multiple of 8). */
static void dw_back_range(float *dx, float *dwt, const float *dy, const float *x, const float *wt,
                          int n, int h, int w, int c, int k, int stride, int oh, int ow,
                          int dx_add, int c0, int c1)
{
    for (int b = 0; b < n && c0 < c1; b++) {
        size_t xo = (size_t)b * h * w * c, yo = (size_t)b * oh * ow * c;
        float *dxb = dx ? dx + xo : NULL;
        int j = c0, full = c0 + (c1 - c0) / 8 * 8;
        for (; j < full; j += 64) {
            int nv = (full - j) / 8 < 8 ? (full - j) / 8 : 8;
            switch (nv) {
#define DW_BACK_CASE(NV)                                                                           \
    case NV:                                                                                       \
        dw_back_block(dxb, dwt, dy + yo, x + xo, wt, h, w, c, k, stride, oh, ow, j, NV, dx_add);   \
        break;
                DW_BACK_CASE(1) DW_BACK_CASE(2) DW_BACK_CASE(3) DW_BACK_CASE(4)
                DW_BACK_CASE(5) DW_BACK_CASE(6) DW_BACK_CASE(7) DW_BACK_CASE(8)
#undef DW_BACK_CASE
            }
        }
        if (full < c1 && dxb && !dx_add) /* the tail scatters: zero it first */
            for (size_t p = 0; p < (size_t)h * w; p++)
                memset(dxb + p * c + full, 0, sizeof(float) * (c1 - full));
        if (full < c1)
            dw_back_tail(dxb, dwt, dy + yo, x + xo, wt, h, w, c, k, stride, oh, ow, full, c1);
    }
}

void nn_dwconv_backward(float *dx, float *dwt, const float *dy, const float *x, const float *wt,
                        int n, int h, int w, int c, int k, int stride, int dx_add)
{
    int oh = arch_conv_out_size(h, k, stride), ow = arch_conv_out_size(w, k, stride);
    if (dx && stride == 1 && k % 2 == 1) {
        /* Stride 1: dx is the forward convolution of dy with the kernel turned
         * 180 degrees (padding k/2 either way), so the forward's register-
         * blocked rows compute it, 2-3x faster than the gather below. */
        float *rot = malloc(sizeof(float) * k * k * c);
        if (rot) {
            for (int t = 0; t < k * k; t++)
                memcpy(rot + (size_t)(k * k - 1 - t) * c, wt + (size_t)t * c, sizeof(float) * c);
            dw_forward(dx, dy, rot, NULL, NN_ACT_NONE, n, h, w, c, k, 1, dx_add);
            free(rot);
            dx = NULL; /* done: only dwt below */
            if (!dwt)
                return;
        }
    }
    /* Threads own disjoint channel ranges: both dx and dwt are then written
     * without races or per-thread copies. */
    int threads = (size_t)n * oh * ow * c * k * k > 200000 && !omp_in_parallel()
                      ? omp_get_max_threads()
                      : 1;
    if (threads <= 1) { /* no region: even a team of one costs its setup */
        dw_back_range(dx, dwt, dy, x, wt, n, h, w, c, k, stride, oh, ow, dx_add, 0, c);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        /* split by the team actually given, which may be smaller */
        int nt = omp_get_num_threads();
        int chunk = ((c + nt - 1) / nt + 7) / 8 * 8;
        int c0 = omp_get_thread_num() * chunk;
        int c1 = c0 + chunk < c ? c0 + chunk : c;
        dw_back_range(dx, dwt, dy, x, wt, n, h, w, c, k, stride, oh, ow, dx_add, c0, c1);
    }
}
