#include "space/arch.h"

#include <stdio.h>
#include <string.h>

#include "util/fnv.h"

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

int arch_layer_squeeze(const struct arch_layer *l)
{
    if (!l->se)
        return 0;
    return l->sq > 0 ? l->sq : arch_se_squeeze(l->mid);
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

int arch_kernel_ok(int k)
{
    return k == 3 || k == 5 || k == 7;
}

static int check_range(struct hw_err *err, const char *src, const char *path,
                       long v, long lo, long hi)
{
    if (v < lo || v > hi)
        return hw_error(err, HW_EINVAL, "%s: %s: %ld is out of range [%ld, %ld]",
                        src, path, v, lo, hi);
    return HW_OK;
}

static int check_kernel(struct hw_err *err, const char *src, const char *path, int k)
{
    if (!arch_kernel_ok(k))
        return hw_error(err, HW_EINVAL, "%s: %s: %d is not one of 3, 5, 7", src, path, k);
    return HW_OK;
}

static int check_stride(struct hw_err *err, const char *src, const char *path, int s)
{
    if (s != 1 && s != 2)
        return hw_error(err, HW_EINVAL, "%s: %s: %d is not one of 1, 2", src, path, s);
    return HW_OK;
}

static int check_act(struct hw_err *err, const char *src, const char *path, enum arch_act a)
{
    if (a != ARCH_ACT_RELU && a != ARCH_ACT_RELU6 && a != ARCH_ACT_HSWISH)
        return hw_error(err, HW_EINVAL, "%s: %s: %d is not an activation", src, path, (int)a);
    return HW_OK;
}

static int validate_layer(const struct arch_layer *l, int i, int prev_out,
                          const char *src, struct hw_err *err)
{
    char p[48];
#define LPATH(f) (snprintf(p, sizeof p, "layers[%d]." f, i), p)
    int rc;
    if ((rc = check_kernel(err, src, LPATH("k"), l->k)) ||
        (rc = check_stride(err, src, LPATH("stride"), l->stride)) ||
        (rc = check_range(err, src, LPATH("in"), l->in, 1, ARCH_MAX_CHANNELS)) ||
        (rc = check_range(err, src, LPATH("mid"), l->mid, 1, ARCH_MAX_CHANNELS)) ||
        (rc = check_range(err, src, LPATH("out"), l->out, 1, ARCH_MAX_CHANNELS)) ||
        (rc = check_range(err, src, LPATH("se"), l->se, 0, 1)) ||
        (rc = check_act(err, src, LPATH("act"), l->act)) ||
        (rc = check_range(err, src, LPATH("sq"), l->sq, 0, l->se ? l->mid : 0)))
        return rc;
    if (l->in != prev_out)
        return hw_error(err, HW_EINVAL, "%s: %s: %d does not match the previous output %d",
                        src, LPATH("in"), l->in, prev_out);
#undef LPATH
    return HW_OK;
}

int arch_validate(const struct arch *a, const char *source, struct hw_err *err)
{
    const char *src = source ? source : "arch";
    int rc;
    if (!memchr(a->name, '\0', sizeof a->name))
        return hw_error(err, HW_EINVAL, "%s: name: not terminated within %zu bytes", src,
                        sizeof a->name);
    if ((rc = check_range(err, src, "input.h", a->in_h, 1, ARCH_MAX_SIZE)) ||
        (rc = check_range(err, src, "input.w", a->in_w, 1, ARCH_MAX_SIZE)) ||
        (rc = check_range(err, src, "input.c", a->in_c, 1, ARCH_MAX_CHANNELS)) ||
        (rc = check_range(err, src, "classes", a->classes, 2, ARCH_MAX_CLASSES)) ||
        (rc = check_kernel(err, src, "stem.k", a->stem.k)) ||
        (rc = check_stride(err, src, "stem.stride", a->stem.stride)) ||
        (rc = check_range(err, src, "stem.out", a->stem.out, 1, ARCH_MAX_CHANNELS)) ||
        (rc = check_act(err, src, "stem.act", a->stem.act)) ||
        (rc = check_range(err, src, "layers", a->n_layers, 0, ARCH_MAX_LAYERS)))
        return rc;
    int prev = a->stem.out;
    for (int i = 0; i < a->n_layers; i++) {
        if ((rc = validate_layer(&a->layers[i], i, prev, src, err)))
            return rc;
        prev = a->layers[i].out;
    }
    const struct arch_head *h = &a->head;
    if ((rc = check_range(err, src, "head.conv_out", h->conv_out, 0, ARCH_MAX_CHANNELS)) ||
        (rc = check_act(err, src, "head.conv_act", h->conv_act)) ||
        (rc = check_range(err, src, "head.fc_hidden", h->fc_hidden, 0, ARCH_MAX_CHANNELS)) ||
        (rc = check_act(err, src, "head.fc_act", h->fc_act)))
        return rc;
    if (!(h->dropout >= 0.0f && h->dropout < 1.0f))
        return hw_error(err, HW_EINVAL, "%s: head.dropout: %g is not in [0, 1)", src,
                        (double)h->dropout);
    return HW_OK;
}

/* Conv weights (no bias) followed by BN: the torchvision Conv2dNormActivation. */
static struct arch_cost conv_bn(int64_t cin_per_group, int64_t cout, int k, int64_t out_hw)
{
    struct arch_cost c;
    c.params = cin_per_group * cout * k * k + 2 * cout;
    c.macs = cin_per_group * cout * k * k * out_hw;
    return c;
}

/* Fully connected (or 1x1 conv on a 1x1 map) with bias. */
static struct arch_cost fc_bias(int64_t cin, int64_t cout)
{
    return (struct arch_cost){cin * cout + cout, cin * cout};
}

static void cost_add(struct arch_cost *sum, struct arch_cost c)
{
    sum->params += c.params;
    sum->macs += c.macs;
}

struct arch_cost arch_cost_stem(const struct arch *a)
{
    int64_t h = arch_conv_out_size(a->in_h, a->stem.k, a->stem.stride);
    int64_t w = arch_conv_out_size(a->in_w, a->stem.k, a->stem.stride);
    return conv_bn(a->in_c, a->stem.out, a->stem.k, h * w);
}

struct arch_cost arch_cost_layer(const struct arch_layer *l, int h, int w)
{
    struct arch_cost c = {0, 0};
    int64_t oh = arch_conv_out_size(h, l->k, l->stride);
    int64_t ow = arch_conv_out_size(w, l->k, l->stride);
    if (l->mid != l->in)
        cost_add(&c, conv_bn(l->in, l->mid, 1, (int64_t)h * w));
    cost_add(&c, conv_bn(1, l->mid, l->k, oh * ow)); /* depthwise */
    if (l->se) {
        int sq = arch_layer_squeeze(l);
        cost_add(&c, fc_bias(l->mid, sq));
        cost_add(&c, fc_bias(sq, l->mid));
    }
    cost_add(&c, conv_bn(l->mid, l->out, 1, oh * ow));
    return c;
}

void arch_cost_head_parts(const struct arch *a, int h, int w, int c,
                          struct arch_cost parts[ARCH_HEAD_PARTS])
{
    int64_t ch = c;
    memset(parts, 0, ARCH_HEAD_PARTS * sizeof parts[0]);
    if (a->head.conv_out > 0) {
        parts[ARCH_HEAD_CONV] = conv_bn(ch, a->head.conv_out, 1, (int64_t)h * w);
        ch = a->head.conv_out;
    }
    if (a->head.fc_hidden > 0) {
        parts[ARCH_HEAD_FC] = fc_bias(ch, a->head.fc_hidden);
        ch = a->head.fc_hidden;
    }
    parts[ARCH_HEAD_CLASSIFIER] = fc_bias(ch, a->classes);
}

struct arch_cost arch_cost_head(const struct arch *a, int h, int w, int c)
{
    struct arch_cost parts[ARCH_HEAD_PARTS], sum = {0, 0};
    arch_cost_head_parts(a, h, w, c, parts);
    for (int i = 0; i < ARCH_HEAD_PARTS; i++)
        cost_add(&sum, parts[i]);
    return sum;
}

void arch_layer_input_size(const struct arch *a, int i, int *h, int *w)
{
    int y = arch_conv_out_size(a->in_h, a->stem.k, a->stem.stride);
    int x = arch_conv_out_size(a->in_w, a->stem.k, a->stem.stride);
    for (int j = 0; j < i && j < a->n_layers; j++) {
        y = arch_conv_out_size(y, a->layers[j].k, a->layers[j].stride);
        x = arch_conv_out_size(x, a->layers[j].k, a->layers[j].stride);
    }
    *h = y;
    *w = x;
}

int arch_head_in(const struct arch *a)
{
    return a->n_layers > 0 ? a->layers[a->n_layers - 1].out : a->stem.out;
}

struct arch_cost arch_cost(const struct arch *a)
{
    struct arch_cost sum = arch_cost_stem(a);
    int h, w;
    arch_layer_input_size(a, 0, &h, &w);
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        cost_add(&sum, arch_cost_layer(l, h, w));
        h = arch_conv_out_size(h, l->k, l->stride);
        w = arch_conv_out_size(w, l->k, l->stride);
    }
    cost_add(&sum, arch_cost_head(a, h, w, arch_head_in(a)));
    return sum;
}

/* The defining fields in a fixed order: the one list both arch_hash and
 * arch_equal read, so they cannot disagree. Returns the count. */
static int defining_fields(const struct arch *a, int32_t *f)
{
    int n = 0;
    int32_t dropout;
    memcpy(&dropout, &a->head.dropout, sizeof dropout);
    int32_t fixed[] = {a->in_h, a->in_w, a->in_c, a->classes, a->stem.k, a->stem.stride,
                       a->stem.out, (int32_t)a->stem.act, a->head.conv_out,
                       (int32_t)a->head.conv_act, a->head.fc_hidden,
                       (int32_t)a->head.fc_act, dropout, a->n_layers};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        f[n++] = fixed[i];
    for (int i = 0; i < a->n_layers && i < ARCH_MAX_LAYERS; i++) {
        const struct arch_layer *l = &a->layers[i];
        int32_t lf[] = {l->k, l->stride, l->in, l->mid, l->out, l->se, (int32_t)l->act,
                        arch_layer_squeeze(l)};
        for (size_t j = 0; j < sizeof lf / sizeof lf[0]; j++)
            f[n++] = lf[j];
    }
    return n;
}

#define ARCH_MAX_FIELDS (14 + 8 * ARCH_MAX_LAYERS)

uint64_t arch_hash(const struct arch *a)
{
    int32_t f[ARCH_MAX_FIELDS];
    int n = defining_fields(a, f);
    uint64_t h = FNV1A64_BASIS;
    for (int i = 0; i < n; i++)
        h = fnv1a64_le(h, (uint32_t)f[i], 4);
    return h;
}

int arch_equal(const struct arch *a, const struct arch *b)
{
    int32_t fa[ARCH_MAX_FIELDS], fb[ARCH_MAX_FIELDS];
    int na = defining_fields(a, fa), nb = defining_fields(b, fb);
    return na == nb && memcmp(fa, fb, (size_t)na * sizeof fa[0]) == 0;
}
