/* 1x1 convolution and fully connected layer: one sgemm over the NHWC rows.
 * OpenBLAS runs single-threaded (nn_set_threads); nn_sgemm splits the output
 * over the OpenMP threads itself so one thread pool serves every kernel. */
#include <cblas.h>
#include <omp.h>

#include "nn/kernels.h"

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
    int chunk = ((len + threads - 1) / threads + 15) / 16 * 16;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num();
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

void nn_matmul_forward(float *y, const float *x, const float *w, const float *bias,
                       const float *res, enum nn_act act, int m, int cin, int cout)
{
    // y (m, cout) = x (m, cin) . w (cout, cin)^T; one row (batch-1 FC, SE) is
    // a matrix-vector product, where sgemm's packing costs more than the math
    if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, cout, cin, 1.f, w, cin, x, 1, 0.f, y, 1);
    else
        nn_sgemm(0, 1, m, cout, cin, x, cin, w, cin, 0.f, y, cout);
    if (!bias && !res && act == NN_ACT_NONE)
        return;
#pragma omp parallel for if ((size_t)m * cout > 65536) schedule(static)
    for (int i = 0; i < m; i++)
        nn_epilogue_row(y + (size_t)i * cout, bias, res ? res + (size_t)i * cout : NULL, act, cout);
}

void nn_matmul_backward(float *dx, float *dw, float *dbias, const float *dy, const float *x,
                        const float *w, int m, int cin, int cout)
{
    // dx (m, cin) += dy (m, cout) . w (cout, cin)
    if (dx)
        nn_sgemm(0, 0, m, cin, cout, dy, cout, w, cin, 1.f, dx, cin);
    // dw (cout, cin) += dy^T (cout, m) . x (m, cin)
    if (dw)
        nn_sgemm(1, 0, cout, cin, m, dy, cout, x, cin, 1.f, dw, cin);
    if (dbias)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < cout; j++)
                dbias[j] += dy[(size_t)i * cout + j];
}
