/* NetAdapt weight surgery: trim channels out of a trained network.
 *
 * Units are numbered as in nn/net.h and the latency table: unit 0 = stem,
 * unit u = 1..n_layers = arch layer u-1. The activation leaving unit u is
 * "tensor u"; a layer with an identity residual (stride 1, in == out) ties its
 * input tensor to its output tensor, so the channel count of a run of tied
 * tensors -- a bottleneck group -- can only change as a whole.
 *
 * Two kinds of trim (MobileNetV3's two NetAdapt proposals):
 *   NA_EXPAND      unit u's expansion (mid) channels, only where the layer has
 *                  an expand conv (mid != in). Kept: the mid filters whose
 *                  expand.w rows have the largest L2 norm. Cut with them: the
 *                  expand BN, the depthwise channels and dw BN, the SE
 *                  reduce's input columns and expand's output rows + bias,
 *                  and the project conv's input columns.
 *   NA_BOTTLENECK  the width of the group whose first producer is unit f:
 *                  the producers are units f..l (stem conv or project conv
 *                  rows + their BN), the consumers are the units reading those
 *                  tensors (units f+1..l+1: expand.w input columns, or -- for a
 *                  layer without expand conv, whose mid is its input -- the dw
 *                  channels, SE and project columns as for NA_EXPAND; or the
 *                  head's first conv/FC input columns). Kept: the channels
 *                  with the largest sum over producers of the row L2 norms.
 * SE squeeze: a layer on the default rule (sq 0) gets make_divisible(mid/4,
 * 8) of the NEW mid; a layer with an explicit sq keeps it, capped at that
 * rule's value (written explicitly). The squeeze never grows. When it
 * shrinks, the squeeze units kept are those whose se.w1 rows, restricted to
 * the kept mid columns, have the largest L2 norm; otherwise all are kept.
 *
 * A trim is refused (HW_EINVAL) when it would change a layer's structure: a
 * count that makes mid == in drops an expand conv, one that makes in == out at
 * stride 1 adds a residual. Kept channels stay in their original order. */
#ifndef HWNAS_NETADAPT_SURGERY_H
#define HWNAS_NETADAPT_SURGERY_H

#include "nn/net.h"
#include "space/arch.h"
#include "util/err.h"

enum na_kind { NA_EXPAND, NA_BOTTLENECK };

/* A run of tied tensors: units first..last produce it (first == last for a
 * width not shared through a residual). */
struct na_group {
    int first, last;
};

/* The bottleneck groups of a in unit order, into g (room for
 * ARCH_MAX_LAYERS + 1); returns their count. */
int netadapt_groups(const struct arch *a, struct na_group *g);

/* Current channel count a trim of this kind changes: unit's mid (NA_EXPAND)
 * or the width of the group starting at unit (NA_BOTTLENECK). Returns 0 when
 * unit is not a valid target of that kind (no expand conv / not a group's
 * first unit / out of range). */
int netadapt_channels(const struct arch *a, enum na_kind kind, int unit);

/* The arch after trimming to `channels` (1 <= channels < current). HW_EINVAL,
 * naming the unit and value, for an invalid target or count. */
int netadapt_trim_arch(const struct arch *a, enum na_kind kind, int unit, int channels,
                       struct arch *out, struct hw_err *err);

/* Channels kept in one dimension: idx (n ascending indices into the old
 * dimension, owned by the plan), or idx NULL when the dimension is unchanged. */
struct na_keep {
    int n;
    int *idx;
};

/* Everything a trim keeps. Released with netadapt_plan_release. */
struct na_plan {
    enum na_kind kind;
    int unit, channels;
    struct arch from, to;
    struct na_keep width[ARCH_MAX_LAYERS + 1]; /* tensor u: output of unit u */
    struct na_keep mid[ARCH_MAX_LAYERS + 1];   /* unit u's mid (u >= 1) */
    struct na_keep sq[ARCH_MAX_LAYERS + 1];    /* unit u's SE squeeze */
};

/* Chooses the kept channels from net's weights (net is read, not changed:
 * non-const only because nn_net_tensor is). *p is filled and owns its lists. */
int netadapt_plan(struct nn_net *net, enum na_kind kind, int unit, int channels,
                  struct na_plan *p, struct hw_err *err);
void netadapt_plan_release(struct na_plan *p);

/* A new TRAIN net for p->to (batches up to max_batch) holding src's
 * parameters and BN statistics restricted to the kept channels; *out is owned
 * by the caller (nn_net_free). src must be built for p->from (HW_EMISMATCH). */
int netadapt_plan_apply(struct nn_net *src, const struct na_plan *p, int max_batch,
                        struct nn_net **out, struct hw_err *err);

/* netadapt_plan then netadapt_plan_apply. */
int netadapt_trim(struct nn_net *src, enum na_kind kind, int unit, int channels, int max_batch,
                  struct nn_net **out, struct hw_err *err);

#endif
