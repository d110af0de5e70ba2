/* Inverted dropout with an explicit mask, so a test can fix the mask. */
#include "nn/kernels.h"

void nn_dropout_mask(float *mask, size_t len, float p, struct pcg32 *rng)
{
    float keep = 1.f / (1.f - p);
    for (size_t i = 0; i < len; i++)
        mask[i] = pcg32_float(rng) < p ? 0.f : keep;
}

void nn_dropout_forward(float *y, const float *x, const float *mask, size_t len)
{
    for (size_t i = 0; i < len; i++)
        y[i] = x[i] * mask[i];
}

void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t len)
{
    for (size_t i = 0; i < len; i++)
        dx[i] += dy[i] * mask[i];
}
