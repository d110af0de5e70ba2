/* Softmax cross-entropy with label smoothing. */
#include <math.h>

#include "nn/kernels.h"

/* log sum_j exp(z_j), shifted by the row's maximum against overflow. */
static double row_lse(const float *z, int classes)
{
    float mx = z[0];
    for (int j = 1; j < classes; j++)
        mx = z[j] > mx ? z[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < classes; j++)
        sum += exp((double)(z[j] - mx));
    return mx + log(sum);
}

float nn_xent_forward_backward(float *dlogits, const float *logits, const int *labels, int n,
                               int classes, float smoothing)
{
    double total = 0.0;
    float off = smoothing / classes, on = 1.f - smoothing + off;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        double lse = row_lse(z, classes);
        for (int j = 0; j < classes; j++) {
            float target = j == labels[i] ? on : off;
            total -= target * (z[j] - lse);
            if (dlogits)
                dlogits[(size_t)i * classes + j] +=
                    (float)((exp(z[j] - lse) - target) / n);
        }
    }
    return (float)(total / n);
}

float nn_xent_soft_forward_backward(float *dlogits, const float *logits, const float *targets,
                                    int n, int classes)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes, *t = targets + (size_t)i * classes;
        double lse = row_lse(z, classes);
        for (int j = 0; j < classes; j++) {
            total -= t[j] * (z[j] - lse);
            if (dlogits)
                dlogits[(size_t)i * classes + j] += (float)((exp(z[j] - lse) - t[j]) / n);
        }
    }
    return (float)(total / n);
}
