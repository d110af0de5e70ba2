/* An explicit, per-layer network architecture (the MobileNetV3 family).
 *
 * Channels are explicit (not ratios) so NetAdapt can trim any layer. The arch
 * is plain data with a fixed layer array: struct assignment copies it.
 *
 * Network: input (H,W,C) -> stem conv k x k stride s -> BN -> act
 *   -> layers (inverted bottlenecks) -> head -> classes.
 * Layer (bneck): [1x1 expand in->mid, BN, act]  (omitted when mid == in)
 *   -> k x k depthwise stride s, BN, act -> [SE on mid] -> 1x1 project mid->out, BN
 *   -> + input when stride == 1 and in == out.
 * SE: global avg pool -> FC mid->sq (+bias) -> ReLU -> FC sq->mid (+bias)
 *   -> hard-sigmoid -> channel-wise multiply; sq = make_divisible(mid/4, 8).
 * Head: [1x1 conv -> conv_out, BN, conv_act] (omitted when conv_out == 0)
 *   -> global avg pool -> [FC -> fc_hidden (+bias), fc_act] (omitted when 0)
 *   -> dropout -> FC -> classes (+bias).
 */
#ifndef HWNAS_SPACE_ARCH_H
#define HWNAS_SPACE_ARCH_H

#include <stdint.h>

#include "util/err.h"

#define ARCH_MAX_LAYERS 64
#define ARCH_VERSION 1
/* Bounds that keep every count well inside int64 and every size inside int:
 * channels and classes up to 2^14 and 2^20, spatial size up to 2^12. */
#define ARCH_MAX_CHANNELS 16384
#define ARCH_MAX_SIZE 4096
#define ARCH_MAX_CLASSES (1 << 20)

enum arch_act {
    ARCH_ACT_RELU = 0,
    ARCH_ACT_RELU6 = 1,
    ARCH_ACT_HSWISH = 2,
};

struct arch_stem {
    int k, stride, out;
    enum arch_act act;
};

struct arch_layer {
    int k;      /* depthwise kernel: 3, 5 or 7 */
    int stride; /* 1 or 2 */
    int in, mid, out;
    int se;     /* 0/1 */
    enum arch_act act;
    int sq;     /* SE squeeze channels; 0 = the default arch_se_squeeze(mid).
                   Explicit so nets built with other rounding rules (and
                   NetAdapt-trimmed layers) keep their exact size. */
};

struct arch_head {
    int conv_out;  /* 0: no 1x1 conv before pooling */
    enum arch_act conv_act;
    int fc_hidden; /* 0: no hidden FC after pooling */
    enum arch_act fc_act;
    float dropout; /* before the classifier, training only */
};

struct arch {
    char name[64];
    int in_h, in_w, in_c;
    int classes;
    struct arch_stem stem;
    int n_layers;
    struct arch_layer layers[ARCH_MAX_LAYERS];
    struct arch_head head;
};

/* torchvision's _make_divisible(v, 8). */
int arch_make_divisible(double v, int divisor);
/* Squeeze channels of a layer's SE: make_divisible(mid / 4, 8). */
int arch_se_squeeze(int mid);
/* Squeeze channels of layer l's SE (0 when it has none). */
int arch_layer_squeeze(const struct arch_layer *l);
/* Whether layer l has an identity residual (stride 1 and in == out). */
int arch_layer_residual(const struct arch_layer *l);
/* Spatial size after a conv with kernel k and stride s, padding k/2. */
int arch_conv_out_size(int in, int k, int stride);

const char *arch_act_name(enum arch_act act);
/* Parses "relu" | "relu6" | "hswish"; returns HW_EINVAL on anything else. */
int arch_act_parse(const char *s, enum arch_act *out);

/* Whether k is an allowed kernel size (3, 5, 7) for stem and layers. */
int arch_kernel_ok(int k);

/* Checks every invariant (channel chaining, kernels, strides, sizes > 0,
 * layer count); the message names `source` (a file name or "arch") and the
 * field path, e.g. "net.json: layers[3].in: 24 does not match previous out 40".
 * Returns HW_OK or HW_EINVAL. */
int arch_validate(const struct arch *a, const char *source, struct hw_err *err);

/* Parameter and MAC counts, torchvision convention: params = conv/FC weights
 * + biases + BN gamma/beta; MACs = conv + FC multiply-accumulates. */
struct arch_cost {
    int64_t params, macs;
};
/* The arguments must have passed arch_validate (the counts cannot overflow). */
struct arch_cost arch_cost_stem(const struct arch *a);
/* Cost of one layer whose input is h x w. */
struct arch_cost arch_cost_layer(const struct arch_layer *l, int h, int w);
/* Head parts with the head's input at h x w x c: [ARCH_HEAD_CONV] the 1x1
 * conv, [ARCH_HEAD_FC] the hidden FC, [ARCH_HEAD_CLASSIFIER] the last FC
 * (absent parts cost 0). */
enum { ARCH_HEAD_CONV, ARCH_HEAD_FC, ARCH_HEAD_CLASSIFIER, ARCH_HEAD_PARTS };
void arch_cost_head_parts(const struct arch *a, int h, int w, int c,
                          struct arch_cost parts[ARCH_HEAD_PARTS]);
/* Sum of the head parts. */
struct arch_cost arch_cost_head(const struct arch *a, int h, int w, int c);
/* Whole network: stem + layers + head. */
struct arch_cost arch_cost(const struct arch *a);
/* Input spatial size of layer i (i == n_layers gives the head's input). */
void arch_layer_input_size(const struct arch *a, int i, int *h, int *w);
/* Channels entering the head (last layer's out, or the stem's if no layers). */
int arch_head_in(const struct arch *a);

/* FNV-1a 64 hash of the fields that define the network (everything but the
 * name), each field as 4 little-endian bytes, so it is stable across hosts. */
uint64_t arch_hash(const struct arch *a);
/* 1 when a and b define the same network (the name is ignored), else 0. */
int arch_equal(const struct arch *a, const struct arch *b);

#endif
