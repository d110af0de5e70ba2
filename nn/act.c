/* Activations, elementwise; the scalar definitions are in nn/kernels.h. */
#include "nn/kernels.h"

/* Elementwise loops below run one branch-free body per activation so the
 * compiler vectorizes each; the switch sits outside the loop. */
#define NN_ACT_LOOP(n, body)                                                                       \
    NN_PAR_FOR(n > 65536 && nn_fork_ok(), "omp parallel for simd schedule(static)",                \
               for (size_t i = 0; i < n; i++) body)

void nn_act_forward(float *y, const float *x, enum nn_act act, size_t n)
{
    switch (act) {
    case NN_ACT_NONE:
        if (y != x)
            NN_ACT_LOOP(n, { y[i] = x[i]; });
        break;
    case NN_ACT_RELU: NN_ACT_LOOP(n, { y[i] = nn_act_value(NN_ACT_RELU, x[i]); }); break;
    case NN_ACT_RELU6: NN_ACT_LOOP(n, { y[i] = nn_act_value(NN_ACT_RELU6, x[i]); }); break;
    case NN_ACT_HSWISH: NN_ACT_LOOP(n, { y[i] = nn_act_value(NN_ACT_HSWISH, x[i]); }); break;
    case NN_ACT_HSIGMOID: NN_ACT_LOOP(n, { y[i] = nn_act_value(NN_ACT_HSIGMOID, x[i]); }); break;
    }
}

void nn_act_backward(float *dx, const float *dy, const float *x, enum nn_act act, size_t n)
{
    switch (act) {
    case NN_ACT_NONE: NN_ACT_LOOP(n, { dx[i] += dy[i]; }); break;
    case NN_ACT_RELU: NN_ACT_LOOP(n, { dx[i] += dy[i] * nn_act_grad(NN_ACT_RELU, x[i]); }); break;
    case NN_ACT_RELU6: NN_ACT_LOOP(n, { dx[i] += dy[i] * nn_act_grad(NN_ACT_RELU6, x[i]); }); break;
    case NN_ACT_HSWISH:
        NN_ACT_LOOP(n, { dx[i] += dy[i] * nn_act_grad(NN_ACT_HSWISH, x[i]); });
        break;
    case NN_ACT_HSIGMOID:
        NN_ACT_LOOP(n, { dx[i] += dy[i] * nn_act_grad(NN_ACT_HSIGMOID, x[i]); });
        break;
    }
}

/* Per-row, so no threading: callers parallelize over rows. */
#define NN_EPI_LOOP(act)                                                                           \
    do {                                                                                           \
        if (bias && res)                                                                           \
            for (int i = 0; i < c; i++) y[i] = nn_act_value(act, y[i] + bias[i]) + res[i];         \
        else if (bias)                                                                             \
            for (int i = 0; i < c; i++) y[i] = nn_act_value(act, y[i] + bias[i]);                  \
        else if (res)                                                                              \
            for (int i = 0; i < c; i++) y[i] = nn_act_value(act, y[i]) + res[i];                   \
        else                                                                                       \
            for (int i = 0; i < c; i++) y[i] = nn_act_value(act, y[i]);                            \
    } while (0)

void nn_epilogue_row(float *restrict y, const float *restrict bias, const float *restrict res,
                     enum nn_act act, int c)
{
    switch (act) {
    case NN_ACT_NONE:
        if (bias || res)
            NN_EPI_LOOP(NN_ACT_NONE);
        break;
    case NN_ACT_RELU: NN_EPI_LOOP(NN_ACT_RELU); break;
    case NN_ACT_RELU6: NN_EPI_LOOP(NN_ACT_RELU6); break;
    case NN_ACT_HSWISH: NN_EPI_LOOP(NN_ACT_HSWISH); break;
    case NN_ACT_HSIGMOID: NN_EPI_LOOP(NN_ACT_HSIGMOID); break;
    }
}
