/* Arch <-> block strings: timm's arch_def and MnasNet's (tensorflow/tpu)
 * blocks_args.
 *
 * The strings describe the layers only; input, classes, stem and the rest of
 * the head come from a template arch when parsing. Consecutive identical
 * layers (stride 1, in == out, same k, SE, act, and one ratio reproducing
 * every mid) are grouped as rN; the first layer of a group takes the stride
 * and the channel change, as in both grammars.
 *
 * timm:    ds_r1_k3_s1_e1_c16_nre | ir_r1_k3_s2_e4_c24_nre | cn_r1_k1_s1_c960
 *   ds = depthwise separable (mid == in, no expand conv), ir = inverted
 *   residual with mid = make_divisible(in * e, 8), cn = the head's 1x1 conv
 *   (only as the last block; it sets head.conv_out and conv_act). c must be a
 *   multiple of 8 (timm rounds it). Printed as a Python list of stages, which
 *   timm's decode_arch_def takes as is.
 * MnasNet: r1_k3_s11_e1_i32_o16_se0.25_nre
 *   s is two equal digits; mid = in * e rounded to the nearest integer;
 *   e1 means mid == in (no expand conv). i must match the previous output.
 *   hwnas extensions: e may be a decimal (MobileNetV3's 2.5, 2.3), and the
 *   activation tokens nre/nr6/nhs as in timm.
 * Both: se0.25 means hwnas's SE (squeeze make_divisible(mid/4, 8), hard-sigmoid
 *   gate: timm's se_from_exp form; tpu's MnasNet squeezes the block input and
 *   uses a sigmoid). A block without an activation token uses the template's
 *   stem activation. noskip is accepted only where no residual applies.
 *
 * Parsing is strict: any malformed text is refused with a message naming the
 * format, byte offset, block string and token. Text outside block strings may
 * only be whitespace and the list punctuation , | [ ] ' ". */
#ifndef HWNAS_SPACE_EXPORT_H
#define HWNAS_SPACE_EXPORT_H

#include "space/arch.h"
#include "util/err.h"

/* The arch as text; *out is malloc'd (caller frees). HW_EINVAL names the
 * layer and field the format cannot express (e.g. a mid timm cannot reach). */
int arch_to_timm(const struct arch *a, char **out, struct hw_err *err);
int arch_to_mnasnet(const struct arch *a, char **out, struct hw_err *err);
/* timm's form on one line, as timm's own strings read: no quotes or
 * brackets, blocks joined by ", " and stages by " | " ("ds_r1_k3_s1_e1_c16_nre
 * | ir_r1_k3_s2_e4_c24_nre, ir_r1_k3_s1_e3_c24_nre | cn_r1_k1_s1_c960_nhs").
 * arch_from_timm reads it back. */
int arch_to_timm_line(const struct arch *a, char **out, struct hw_err *err);

/* Text -> arch, taking input, classes, stem and head from tmpl (for timm the
 * head's conv comes from a cn block, 0 without one). *out is written only on
 * success. */
int arch_from_timm(const char *text, const struct arch *tmpl, struct arch *out,
                   struct hw_err *err);
int arch_from_mnasnet(const char *text, const struct arch *tmpl, struct arch *out,
                      struct hw_err *err);

#endif
