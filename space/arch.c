#include "space/arch.h"

#include <string.h>

int arch_make_divisible(double v, int divisor)
{
    int r = (int)(v + divisor / 2.0) / divisor * divisor;
    if (r < divisor)
        r = divisor;
    if (r < 0.9 * v)
        r += divisor;
    return r;
}

int arch_se_squeeze(int mid)
{
    return arch_make_divisible(mid / 4, 8);
}

int arch_layer_residual(const struct arch_layer *l)
{
    return l->stride == 1 && l->in == l->out;
}

int arch_conv_out_size(int in, int k, int stride)
{
    int pad = k / 2;
    return (in + 2 * pad - k) / stride + 1;
}

const char *arch_act_name(enum arch_act act)
{
    switch (act) {
    case ARCH_ACT_RELU: return "relu";
    case ARCH_ACT_RELU6: return "relu6";
    case ARCH_ACT_HSWISH: return "hswish";
    }
    return "?";
}

int arch_act_parse(const char *s, enum arch_act *out)
{
    static const enum arch_act all[] = {ARCH_ACT_RELU, ARCH_ACT_RELU6, ARCH_ACT_HSWISH};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, arch_act_name(all[i])) == 0) {
            *out = all[i];
            return HW_OK;
        }
    return HW_EINVAL;
}
