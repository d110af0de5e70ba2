/* 1x1 convolution and fully connected layer: one sgemm over the NHWC rows.
 * OpenBLAS runs single-threaded (nn_set_threads); nn_sgemm splits the output
 * over the OpenMP threads itself so one thread pool serves every kernel. */
#include <cblas.h>
#include <omp.h>

#include "nn/kernels.h"
#include "nn/simd.h"

/* Below this many multiply-adds a second thread costs more than it saves. */
#define NN_SGEMM_PAR_MIN (1 << 18)

void nn_sgemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
              int ldb, float beta, float *c, int ldc)
{
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
    int threads = omp_get_max_threads();
    if (threads <= 1 || (double)m * n * k < NN_SGEMM_PAR_MIN || omp_in_parallel()) {
        cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* Split the larger output dimension in 16-aligned slices: rows of C come
     * from rows of op(A), columns of C from columns of op(B). */
    int split_m = m >= n;
    int len = split_m ? m : n;
#pragma omp parallel num_threads(threads)
    {
        /* split by the team actually given (OMP_THREAD_LIMIT may shrink it) */
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int chunk = ((len + nt - 1) / nt + 15) / 16 * 16;
        int lo = t * chunk, hi = lo + chunk < len ? lo + chunk : len;
        if (lo < hi) {
            if (split_m) {
                const float *as = ta ? a + lo : a + (size_t)lo * lda;
                cblas_sgemm(CblasRowMajor, opa, opb, hi - lo, n, k, 1.f, as, lda, b, ldb, beta,
                            c + (size_t)lo * ldc, ldc);
            } else {
                const float *bs = tb ? b + (size_t)lo * ldb : b + lo;
                cblas_sgemm(CblasRowMajor, opa, opb, m, hi - lo, k, 1.f, a, lda, bs, ldb, beta,
                            c + lo, ldc);
            }
        }
    }
}

/* The lane sums of four vectors, by halving: three rounds of shuffles and
 * adds instead of 60 dependent scalar adds per four rows. */
static inline void hsum4(v16 a0, v16 a1, v16 a2, v16 a3, float *s0, float *s1, float *s2,
                         float *s3)
{
    // lanes 0-7: a0's halves added, 8-15: a1's (b: a2 and a3)
    v16 a = __builtin_shufflevector(a0, a1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
            __builtin_shufflevector(a0, a1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    v16 b = __builtin_shufflevector(a2, a3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
            __builtin_shufflevector(a2, a3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    // four lanes each of a0, a1, a2, a3
    v16 q = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
            __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    v8 h = __builtin_shufflevector(q, q, 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(q, q, 1, 3, 5, 7, 9, 11, 13, 15);
    *s0 = h[0] + h[1], *s1 = h[2] + h[3], *s2 = h[4] + h[5], *s3 = h[6] + h[7];
}

/* Rows [r, r + R) of y = w . x (R a multiple of 4): R accumulators, one
 * weight stream per row. */
static inline __attribute__((always_inline)) void gemv_rows(float *restrict y,
                                                            const float *restrict w,
                                                            const float *restrict x, int r,
                                                            int cols, int R)
{
    const float *wr[8];
    v16 a[8];
    for (int i = 0; i < R; i++)
        wr[i] = w + (size_t)(r + i) * cols, a[i] = (v16){0};
    int c = 0;
    for (; c + 16 <= cols; c += 16) {
        v16 xv = *(const v16u *)(x + c);
        for (int i = 0; i < R; i++)
            a[i] += *(const v16u *)(wr[i] + c) * xv;
    }
    if (c + 8 <= cols) {
        // the half-vector tail of 8..15 columns (cols 120, 40, 24, ...)
        v8 xv = *(const v8u *)(x + c), z = {0};
        for (int i = 0; i < R; i++) {
            v8 p = *(const v8u *)(wr[i] + c) * xv;
            a[i] += __builtin_shufflevector(p, z, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        }
        c += 8;
    }
    for (int i = 0; i < R; i += 4) {
        float s[4];
        hsum4(a[i], a[i + 1], a[i + 2], a[i + 3], &s[0], &s[1], &s[2], &s[3]);
        for (int q = 0; q < 4; q++) {
            for (int cc = c; cc < cols; cc++)
                s[q] += wr[i + q][cc] * x[cc];
            y[r + i + q] = s[q];
        }
    }
}

/* y (rows) = w (rows, cols) . x (cols). Memory-bound (every weight is read
 * once, at batch 1 usually from L3 or DRAM): eight rows at a time keep eight
 * streams in flight. On the head and SE shapes of MobileNetV3 four streams
 * ran at about twice OpenBLAS sgemv's rate, eight at another 1.1-1.3x over
 * 23 MB of such matrices read in turn (bench_nn, "weights streamed"). */
static void gemv(float *restrict y, const float *restrict w, const float *restrict x, int rows,
                 int cols)
{
    int r = 0;
    for (; r + 8 <= rows; r += 8)
        gemv_rows(y, w, x, r, cols, 8);
    for (; r + 4 <= rows; r += 4)
        gemv_rows(y, w, x, r, cols, 4);
    for (; r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        float acc = 0.f;
        for (int c = 0; c < cols; c++)
            acc += wr[c] * x[c];
        y[r] = acc;
    }
}

void nn_matmul_forward(float *y, const float *x, const float *w, const float *bias,
                       const float *res, enum nn_act act, int m, int cin, int cout)
{
    // y (m, cout) = x (m, cin) . w (cout, cin)^T; one row (batch-1 FC, SE) is
    // a matrix-vector product, where sgemm's packing costs more than the math
    if (m == 1)
        gemv(y, w, x, cout, cin);
    else
        nn_sgemm(0, 1, m, cout, cin, x, cin, w, cin, 0.f, y, cout);
    if (!bias && !res && act == NN_ACT_NONE)
        return;
    NN_PAR_FOR((size_t)m * cout > 65536 && nn_fork_ok(), "omp parallel for schedule(static)",
               for (int i = 0; i < m; i++) nn_epilogue_row(y + (size_t)i * cout, bias,
                                                           res ? res + (size_t)i * cout : NULL,
                                                           act, cout););
}

void nn_matmul_backward(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                        const float *w, int m, int cin, int cout, int dx_add)
{
    // dx (m, cin) += dy (m, cout) . w (cout, cin); beta 0: dx is never read
    if (dx)
        nn_sgemm(0, 0, m, cin, cout, dy, cout, w, cin, dx_add ? 1.f : 0.f, dx, cin);
    // dw (cout, cin) += dy^T (cout, m) . x (m, cin)
    if (dw)
        nn_sgemm(1, 0, cout, cin, m, dy, cout, x, cin, 1.f, dw, cin);
    if (dbias)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < cout; j++)
                dbias[j] += dy[(size_t)i * cout + j];
}

/* ---- inference 1x1 conv: register-tiled GEMM with the epilogue fused ----
 * For the batch-1 shapes of mobile nets (a few dozen to a few thousand rows,
 * K and N of 16..1000) sgemm's packing of the activations costs as much as
 * the math; here the weights are packed once (at fold time) and the
 * activations are read in place. A tile is mr rows x nv vectors of 16 floats
 * with mr * nv <= 24 accumulators, so narrow outputs (cout 16..80) still
 * keep enough independent FMAs in flight. */

#define PW_NP(n) (((n) + 15) / 16 * 16)

size_t nn_pw_packed_size(int cin, int cout) { return (size_t)cin * PW_NP(cout); }

void nn_pw_pack(float *wp, const float *w, const float *scale, int cin, int cout)
{
    // wp (cin, np) = (w (cout, cin) * scale (cout))^T, zero columns up to np
    int np = PW_NP(cout);
    for (int k = 0; k < cin; k++)
        for (int j = 0; j < np; j++)
            wp[(size_t)k * np + j] =
                j < cout ? w[(size_t)j * cin + k] * (scale ? scale[j] : 1.f) : 0.f;
}

/* The epilogue runs on the accumulators before the one store: bias, the
 * activation (a constant here: one copy of the tile per activation), the
 * residual. Only a partial last vector goes through memory. */
static inline __attribute__((always_inline)) void
pw_tile(float *restrict y, const float *restrict x, const float *restrict wp,
        const float *restrict bias, const float *restrict res, enum nn_act act, int m, int k,
        int n, int i0, int j0, int mr, int nv)
{
    int np = PW_NP(n);
    v16 acc[12][4];
    const float *xr[12];
    for (int r = 0; r < mr; r++) {
        /* rows past m repeat the last row: computed, never stored */
        xr[r] = x + (size_t)(i0 + r < m ? i0 + r : m - 1) * k;
        for (int v = 0; v < nv; v++)
            acc[r][v] = (v16){0};
    }
    for (int kk = 0; kk < k; kk++) {
        v16 wv[4];
        for (int v = 0; v < nv; v++)
            wv[v] = *(const v16u *)(wp + (size_t)kk * np + j0 + 16 * v);
        for (int r = 0; r < mr; r++) {
            v16 xb = (v16){0} + xr[r][kk];
            for (int v = 0; v < nv; v++)
                acc[r][v] += xb * wv[v];
        }
    }
    int cols = n - j0 < 16 * nv ? n - j0 : 16 * nv;
    int full = cols / 16; /* whole vectors; cols % 16 more in a partial one */
    v16 bv[4];
    for (int v = 0; v < full; v++)
        bv[v] = bias ? *(const v16u *)(bias + j0 + 16 * v) : (v16){0};
    for (int r = 0; r < mr && i0 + r < m; r++) {
        float *yr = y + (size_t)(i0 + r) * n + j0;
        const float *rr = res ? res + (size_t)(i0 + r) * n + j0 : NULL;
        for (int v = 0; v < full; v++) {
            v16 z = v16_act(acc[r][v] + bv[v], act);
            if (rr)
                z += *(const v16u *)(rr + 16 * v);
            *(v16u *)(yr + 16 * v) = z;
        }
        if (full < nv) {
            float tmp[16];
            *(v16u *)tmp = acc[r][full];
            for (int j = 16 * full; j < cols; j++) {
                float z = nn_act_value(act, tmp[j - 16 * full] + (bias ? bias[j0 + j] : 0.f));
                yr[j] = rr ? z + rr[j] : z;
            }
        }
    }
}

/* Rows per tile for nv vectors per row. */
static int pw_mr(int nv) { return nv <= 2 ? 12 : nv == 3 ? 8 : 6; }

/* Tiles [b0, b1) of one column block of nv vectors starting at j0. */
static void pw_tiles(float *y, const float *x, const float *wp, const float *bias,
                     const float *res, enum nn_act act, int m, int k, int n, int j0, int nv,
                     int b0, int b1)
{
    int mr = pw_mr(nv);
    for (int b = b0; b < b1; b++) {
        int i0 = b * mr;
        NN_ACT_DISPATCH(act, A, {
            switch (nv) {
            case 1: pw_tile(y, x, wp, bias, res, A, m, k, n, i0, j0, 12, 1); break;
            case 2: pw_tile(y, x, wp, bias, res, A, m, k, n, i0, j0, 12, 2); break;
            case 3: pw_tile(y, x, wp, bias, res, A, m, k, n, i0, j0, 8, 3); break;
            default: pw_tile(y, x, wp, bias, res, A, m, k, n, i0, j0, 6, 4); break;
            }
        })
    }
}

/* One column block, all rows. A parallel region is opened only when it
 * pays and none is open: even a one-thread region costs a team setup, and
 * callers running inside one (the stem's blocks) call this per block. */
static void pw_block(float *y, const float *x, const float *wp, const float *bias,
                     const float *res, enum nn_act act, int m, int k, int n, int j0, int nv)
{
    int blocks = (m + pw_mr(nv) - 1) / pw_mr(nv);
    if ((double)m * k * nv * 16 <= (1 << 18) || omp_get_max_threads() < 2 || omp_in_parallel()) {
        pw_tiles(y, x, wp, bias, res, act, m, k, n, j0, nv, 0, blocks);
        return;
    }
#pragma omp parallel
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        pw_tiles(y, x, wp, bias, res, act, m, k, n, j0, nv, (int)((long)blocks * t / nt),
                 (int)((long)blocks * (t + 1) / nt));
    }
}

void nn_pw_forward(float *y, const float *x, const float *wp, const float *bias, const float *res,
                   enum nn_act act, int m, int cin, int cout)
{
    /* the vectors of a row in near-equal blocks of at most 4 (wider tiles run
     * out of registers: 24 accumulators + the weight vectors) */
    int total = PW_NP(cout) / 16, nblk = (total + 3) / 4;
    for (int bi = 0, j = 0; bi < nblk; bi++) {
        int nv = (total - j + (nblk - bi) - 1) / (nblk - bi);
        pw_block(y, x, wp, bias, res, act, m, cin, cout, j * 16, nv);
        j += nv;
    }
}
