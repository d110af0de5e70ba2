/* Vector types and activation helpers for the inference kernels, written
 * with GCC's vector extensions so they build for whatever -march selects
 * (one zmm per v16 with AVX-512, two ymm with AVX2). Unaligned loads and
 * stores go through the *u types. Min and max are compare-and-select, which
 * GCC turns into vminps / vmaxps. The activations match nn_act_value. */
#ifndef HWNAS_NN_SIMD_H
#define HWNAS_NN_SIMD_H

#include "nn/kernels.h"

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int v16i __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32)));

#define NN_SIMD_DEFINE(V, VI)                                                                      \
    static inline V V##_max0(V a)                                                                  \
    {                                                                                              \
        return (V)((VI)a & (a > 0.f));                                                             \
    }                                                                                              \
    static inline V V##_min6(V a)                                                                  \
    {                                                                                              \
        VI m = a < 6.f;                                                                            \
        return (V)(((VI)a & m) | ((VI)((V){0} + 6.f) & ~m));                                       \
    }                                                                                              \
    /* act(z) for one act known to the caller (the switch folds away when inlined). */            \
    static inline __attribute__((always_inline)) V V##_act(V z, enum nn_act act)                   \
    {                                                                                              \
        switch (act) {                                                                             \
        case NN_ACT_NONE: return z;                                                                \
        case NN_ACT_RELU: return V##_max0(z);                                                      \
        case NN_ACT_RELU6: return V##_min6(V##_max0(z));                                           \
        case NN_ACT_HSWISH: return z * V##_min6(V##_max0(z + 3.f)) * (1.f / 6.f);                   \
        case NN_ACT_HSIGMOID: return V##_min6(V##_max0(z + 3.f)) * (1.f / 6.f);                     \
        }                                                                                          \
        return z;                                                                                  \
    }                                                                                              \
    /* act'(z), as nn_act_grad computes it lane by lane. */                                       \
    static inline __attribute__((always_inline)) V V##_act_grad(V z, enum nn_act act)              \
    {                                                                                              \
        const V one = (V){0} + 1.f;                                                                \
        switch (act) {                                                                             \
        case NN_ACT_NONE: return one;                                                              \
        case NN_ACT_RELU: return (V)((VI)one & (z > 0.f));                                         \
        case NN_ACT_RELU6: return (V)((VI)one & ((z > 0.f) & (z < 6.f)));                          \
        case NN_ACT_HSWISH: {                                                                      \
            V t = (2.f * z + 3.f) * (1.f / 6.f);                                                   \
            VI hi = z > 3.f;                                                                       \
            t = (V)((VI)t & ~(z < -3.f));                                                          \
            return (V)(((VI)t & ~hi) | ((VI)one & hi));                                            \
        }                                                                                          \
        case NN_ACT_HSIGMOID: return (V)((VI)((V){0} + 1.f / 6.f) & ((z > -3.f) & (z < 3.f)));     \
        }                                                                                          \
        return one;                                                                                \
    }

NN_SIMD_DEFINE(v16, v16i)
NN_SIMD_DEFINE(v8, v8i)

/* Calls BODY with the activation a compile-time constant ACT in each case, so
 * a kernel specialized on it (always_inline) compiles once per activation. */
#define NN_ACT_DISPATCH(act, ACT, BODY)                                                            \
    switch (act) {                                                                                 \
    case NN_ACT_NONE: { const enum nn_act ACT = NN_ACT_NONE; BODY; } break;                       \
    case NN_ACT_RELU: { const enum nn_act ACT = NN_ACT_RELU; BODY; } break;                       \
    case NN_ACT_RELU6: { const enum nn_act ACT = NN_ACT_RELU6; BODY; } break;                     \
    case NN_ACT_HSWISH: { const enum nn_act ACT = NN_ACT_HSWISH; BODY; } break;                   \
    case NN_ACT_HSIGMOID: { const enum nn_act ACT = NN_ACT_HSIGMOID; BODY; } break;               \
    }

#endif
