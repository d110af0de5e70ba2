/* ONNX export of a trained network: graph and weights in one .onnx file that
 * ONNX Runtime (or any ONNX consumer) runs without hwnas.
 *
 * The graph (opset 14, IR version of Debian's onnx.proto):
 *   input  'input'  float32 (N, C, H, W), raw pixels scaled to [0, 1]; N symbolic
 *   Sub mean, Div std                  the dataset normalization hwnas trains with
 *   Conv (BN folded in: weights scaled per output channel, BN shift as bias)
 *     + Relu | Clip(0, 6) | HardSwish  per conv, as the arch says
 *   SE: GlobalAveragePool, Conv 1x1 + bias, Relu, Conv 1x1 + bias,
 *       HardSigmoid(alpha 1/6, beta 1/2), Mul
 *   residual Add, GlobalAveragePool, Flatten, Gemm (+ act) for the head
 *   output 'logits' float32 (N, classes)
 * BN is folded with the same arithmetic as hwnas's inference (nn_bn_fold), so
 * ONNX Runtime's logits equal nn_net_forward's up to float rounding.
 * Metadata: the arch JSON ('hwnas_arch') and the normalization, so the file
 * says what it is. */
#ifndef HWNAS_DEPLOY_ONNX_H
#define HWNAS_DEPLOY_ONNX_H

#include "nn/net.h"
#include "util/err.h"

#define ONNX_OPSET 14

/* Writes net (either mode; its unfolded params and BN state are read) to
 * path as ONNX, replaced atomically (temporary file, rename): a failure
 * leaves no partial file. Pixels are normalized as (x - mean) / std with
 * std > 0. */
int onnx_export(const char *path, struct nn_net *net, float mean, float std,
                struct hw_err *err);

#endif
