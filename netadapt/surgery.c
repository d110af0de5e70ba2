/* NetAdapt weight surgery (see surgery.h).
 *
 * A plan lists, for every channel dimension of the net (the tensor widths,
 * each layer's mid and SE squeeze), which old channels survive. Applying it is
 * one generic copy: every named tensor of the new net is filled from the old
 * one, each axis mapped through the keep list of the dimension it indexes
 * (the rule table below says which). So both proposal kinds share all of the
 * copying; they differ only in how the plan is chosen. */
#include "netadapt/surgery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arch level ---- */

int netadapt_groups(const struct arch *a, struct na_group *g)
{
    int n = 0;
    for (int u = 0; u <= a->n_layers; u++) {
        if (u > 0 && arch_layer_residual(&a->layers[u - 1])) {
            g[n - 1].last = u; /* a residual unit carries its input's width */
            continue;
        }
        g[n].first = g[n].last = u;
        n++;
    }
    return n;
}

static int tensor_width(const struct arch *a, int t)
{
    return t == 0 ? a->stem.out : a->layers[t - 1].out;
}

static int layer_has_expand(const struct arch_layer *l) { return l->mid != l->in; }

/* The group starting at unit first; 0 when first does not start one. */
static int find_group(const struct arch *a, int first, struct na_group *out)
{
    struct na_group g[ARCH_MAX_LAYERS + 1];
    int n = netadapt_groups(a, g);
    for (int i = 0; i < n; i++)
        if (g[i].first == first) {
            *out = g[i];
            return 1;
        }
    return 0;
}

int netadapt_channels(const struct arch *a, enum na_kind kind, int unit)
{
    struct na_group g;
    if (kind == NA_EXPAND)
        return unit >= 1 && unit <= a->n_layers && layer_has_expand(&a->layers[unit - 1])
                   ? a->layers[unit - 1].mid
                   : 0;
    return find_group(a, unit, &g) ? tensor_width(a, unit) : 0;
}

int netadapt_trim_arch(const struct arch *a, enum na_kind kind, int unit, int channels,
                       struct arch *out, struct hw_err *err)
{
    const char *what = kind == NA_EXPAND ? "expansion" : "bottleneck";
    int cur = netadapt_channels(a, kind, unit);
    if (cur == 0)
        return hw_error(err, HW_EINVAL, "netadapt: unit %d has no %s channels to trim", unit,
                        what);
    if (channels < 1 || channels >= cur)
        return hw_error(err, HW_EINVAL, "netadapt: unit %d: %s channels %d not in [1, %d)",
                        unit, what, channels, cur);
    *out = *a;
    if (kind == NA_EXPAND) {
        out->layers[unit - 1].mid = channels;
    } else {
        struct na_group g = {unit, unit};
        find_group(a, unit, &g);
        for (int t = g.first; t <= g.last; t++) {
            if (t == 0)
                out->stem.out = channels;
            else
                out->layers[t - 1].out = channels;
            if (t < a->n_layers) { /* layer t reads tensor t */
                struct arch_layer *l = &out->layers[t];
                if (!layer_has_expand(&a->layers[t]))
                    l->mid = channels;
                l->in = channels;
            }
        }
    }
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *o = &a->layers[i];
        struct arch_layer *l = &out->layers[i];
        if (o->sq > 0 && l->mid != o->mid) {
            int rule = arch_se_squeeze(l->mid);
            l->sq = o->sq < rule ? o->sq : rule;
        }
        if (layer_has_expand(o) != layer_has_expand(l) ||
            arch_layer_residual(o) != arch_layer_residual(l))
            return hw_error(err, HW_EINVAL,
                            "netadapt: unit %d: %s channels %d would %s unit %d (in %d, mid %d, "
                            "out %d)",
                            unit, what, channels,
                            layer_has_expand(o) != layer_has_expand(l) ? "remove the expand conv of"
                                                                       : "change the residual of",
                            i + 1, l->in, l->mid, l->out);
    }
    return HW_OK;
}

/* ---- choosing channels ---- */

struct scored {
    double s;
    int i;
};

static int by_score_desc(const void *x, const void *y)
{
    const struct scored *a = x, *b = y;
    if (a->s != b->s)
        return a->s < b->s ? 1 : -1;
    return a->i - b->i; /* ties: lower index first, so the choice is deterministic */
}

/* k = the m indices of the largest scores (of n), ascending. */
static int keep_top(const double *score, int n, int m, struct na_keep *k, struct hw_err *err)
{
    struct scored *s = malloc((size_t)n * sizeof *s);
    unsigned char *take = calloc((size_t)n, 1);
    k->idx = malloc((size_t)m * sizeof *k->idx);
    if (!s || !take || !k->idx) {
        free(s);
        free(take);
        free(k->idx);
        k->idx = NULL;
        return hw_error(err, HW_ENOMEM, "netadapt: out of memory choosing %d of %d channels", m,
                        n);
    }
    for (int i = 0; i < n; i++)
        s[i] = (struct scored){score[i], i};
    qsort(s, (size_t)n, sizeof *s, by_score_desc);
    for (int i = 0; i < m; i++)
        take[s[i].i] = 1;
    k->n = 0;
    for (int i = 0; i < n; i++)
        if (take[i])
            k->idx[k->n++] = i;
    free(s);
    free(take);
    return HW_OK;
}

static int keep_copy(const struct na_keep *src, struct na_keep *dst, struct hw_err *err)
{
    dst->idx = malloc((size_t)src->n * sizeof *dst->idx);
    if (!dst->idx)
        return hw_error(err, HW_ENOMEM, "netadapt: out of memory copying %d channels", src->n);
    memcpy(dst->idx, src->idx, (size_t)src->n * sizeof *dst->idx);
    dst->n = src->n;
    return HW_OK;
}

/* score[r] += L2 norm of row r of t (rows along axis 0), over the columns in
 * cols (a 2-D tensor's axis 1) or over the whole row when cols is NULL. */
static void add_row_norms(const struct nn_tensor *t, const struct na_keep *cols, double *score)
{
    size_t row = t->size / (size_t)t->shape[0];
    for (int r = 0; r < t->shape[0]; r++) {
        const float *w = t->data + (size_t)r * row;
        double ss = 0;
        if (cols)
            for (int j = 0; j < cols->n; j++)
                ss += (double)w[cols->idx[j]] * w[cols->idx[j]];
        else
            for (size_t j = 0; j < row; j++)
                ss += (double)w[j] * w[j];
        score[r] += sqrt(ss);
    }
}

/* Keeps the top `m` rows of tensor `name` of unit u (scored over cols). */
static int keep_top_rows(struct nn_net *net, int u, const char *name, const struct na_keep *cols,
                         int m, struct na_keep *k, struct hw_err *err)
{
    struct nn_tensor t;
    int rc = nn_net_tensor(net, u, name, &t, err);
    if (rc)
        return rc;
    double *score = calloc((size_t)t.shape[0], sizeof *score);
    if (!score)
        return hw_error(err, HW_ENOMEM, "netadapt: out of memory scoring %s", name);
    add_row_norms(&t, cols, score);
    rc = keep_top(score, t.shape[0], m, k, err);
    free(score);
    return rc;
}

/* Unit u's mid keeps `keep` (copied); its SE squeeze follows the arch rule. */
static int plan_mid(struct na_plan *p, struct nn_net *net, int u, const struct na_keep *keep,
                    struct hw_err *err)
{
    int rc = keep_copy(keep, &p->mid[u], err);
    if (rc)
        return rc;
    int sq_old = arch_layer_squeeze(&p->from.layers[u - 1]);
    int sq_new = arch_layer_squeeze(&p->to.layers[u - 1]);
    if (sq_new == sq_old)
        return HW_OK;
    return keep_top_rows(net, u, "se.w1", keep, sq_new, &p->sq[u], err);
}

void netadapt_plan_release(struct na_plan *p)
{
    for (int i = 0; i <= ARCH_MAX_LAYERS; i++) {
        free(p->width[i].idx);
        free(p->mid[i].idx);
        free(p->sq[i].idx);
    }
    memset(p, 0, sizeof *p);
}

int netadapt_plan(struct nn_net *net, enum na_kind kind, int unit, int channels,
                  struct na_plan *p, struct hw_err *err)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->unit = unit;
    p->channels = channels;
    p->from = *nn_net_arch(net);
    int rc = netadapt_trim_arch(&p->from, kind, unit, channels, &p->to, err);
    if (rc)
        return rc;
    struct na_keep keep = {0, NULL};
    if (kind == NA_EXPAND) {
        rc = keep_top_rows(net, unit, "expand.w", NULL, channels, &keep, err);
        if (!rc)
            rc = plan_mid(p, net, unit, &keep, err);
    } else {
        struct na_group g = {unit, unit};
        find_group(&p->from, unit, &g);
        int width = tensor_width(&p->from, unit);
        double *score = calloc((size_t)width, sizeof *score);
        if (!score)
            rc = hw_error(err, HW_ENOMEM, "netadapt: out of memory scoring unit %d", unit);
        for (int t = g.first; !rc && t <= g.last; t++) {
            struct nn_tensor w;
            rc = nn_net_tensor(net, t, t == 0 ? "conv.w" : "project.w", &w, err);
            if (!rc)
                add_row_norms(&w, NULL, score);
        }
        if (!rc)
            rc = keep_top(score, width, channels, &keep, err);
        free(score);
        for (int t = g.first; !rc && t <= g.last; t++) {
            rc = keep_copy(&keep, &p->width[t], err);
            if (!rc && t < p->from.n_layers && !layer_has_expand(&p->from.layers[t]))
                rc = plan_mid(p, net, t + 1, &keep, err);
        }
    }
    free(keep.idx);
    if (rc)
        netadapt_plan_release(p);
    return rc;
}

/* ---- applying a plan ---- */

enum unit_kind { U_STEM, U_LAYER, U_HEAD };

/* Which dimension each axis of a tensor indexes: 'o' the unit's output
 * width, 'i' its input width (in the head only for its first conv/FC), 'm'
 * mid, 's' SE squeeze, '.' a dimension no trim changes. bn: the name is a BN
 * prefix standing for its four vectors. */
struct tensor_rule {
    enum unit_kind unit;
    const char *name;
    const char *axes;
    int bn;
};

static const struct tensor_rule rules[] = {
    {U_STEM, "conv.w", "o...", 0},  {U_STEM, "bn", "o", 1},
    {U_LAYER, "expand.w", "mi", 0}, {U_LAYER, "expand.bn", "m", 1},
    {U_LAYER, "dw.w", "..m", 0},    {U_LAYER, "dw.bn", "m", 1},
    {U_LAYER, "se.w1", "sm", 0},    {U_LAYER, "se.b1", "s", 0},
    {U_LAYER, "se.w2", "ms", 0},    {U_LAYER, "se.b2", "m", 0},
    {U_LAYER, "project.w", "om", 0}, {U_LAYER, "project.bn", "o", 1},
    {U_HEAD, "conv.w", ".i", 0},    {U_HEAD, "conv.bn", ".", 1},
    {U_HEAD, "fc1.w", ".i", 0},     {U_HEAD, "fc1.b", ".", 0},
    {U_HEAD, "fc2.w", ".i", 0},     {U_HEAD, "fc2.b", ".", 0},
};

static const struct na_keep *axis_keep(const struct na_plan *p, int u, char axis)
{
    const struct na_keep *k = NULL;
    switch (axis) {
    case 'o': k = &p->width[u]; break;
    case 'i': k = &p->width[u - 1]; break;
    case 'm': k = &p->mid[u]; break;
    case 's': k = &p->sq[u]; break;
    }
    return k && k->idx ? k : NULL;
}

/* dst[i0,i1,i2,i3] = src[k0(i0), k1(i1), k2(i2), k3(i3)], each k the keep
 * list of that axis or the identity. Checks that the shapes agree with the
 * plan: HW_EMISMATCH otherwise (src built for another arch). */
static int copy_tensor(const struct nn_tensor *dst, const struct nn_tensor *src,
                       const struct na_keep *const ax[4], int u, const char *name,
                       struct hw_err *err)
{
    int d[4] = {1, 1, 1, 1}, s[4] = {1, 1, 1, 1};
    for (int a = 0; a < dst->ndim; a++) {
        d[a] = dst->shape[a];
        s[a] = src->shape[a];
        int ok = src->ndim == dst->ndim &&
                 (ax[a] ? d[a] == ax[a]->n && ax[a]->idx[ax[a]->n - 1] < s[a] : d[a] == s[a]);
        if (!ok)
            return hw_error(err, HW_EMISMATCH,
                            "netadapt: unit %d %s: source shape does not match the trim plan "
                            "(axis %d: %d vs %d)",
                            u, name, a, s[a], d[a]);
    }
    float *out = dst->data;
    for (int i0 = 0; i0 < d[0]; i0++) {
        int j0 = ax[0] ? ax[0]->idx[i0] : i0;
        for (int i1 = 0; i1 < d[1]; i1++) {
            int j1 = ax[1] ? ax[1]->idx[i1] : i1;
            for (int i2 = 0; i2 < d[2]; i2++) {
                int j2 = ax[2] ? ax[2]->idx[i2] : i2;
                const float *row = src->data + (((size_t)j0 * s[1] + j1) * s[2] + j2) * s[3];
                for (int i3 = 0; i3 < d[3]; i3++)
                    *out++ = row[ax[3] ? ax[3]->idx[i3] : i3];
            }
        }
    }
    return HW_OK;
}

/* Copies one named tensor of unit u; a name dst lacks must be absent in src
 * too. *head_in says whether the head's input width was already consumed. */
static int copy_named(struct nn_net *dst, struct nn_net *src, const struct na_plan *p, int u,
                      const char *name, const char *axes, int *head_in, struct hw_err *err)
{
    struct nn_tensor td, ts;
    struct hw_err probe;
    int in_dst = nn_net_tensor(dst, u, name, &td, &probe) == HW_OK;
    int in_src = nn_net_tensor(src, u, name, &ts, &probe) == HW_OK;
    if (!in_dst && !in_src)
        return HW_OK;
    if (in_dst != in_src)
        return hw_error(err, HW_EMISMATCH, "netadapt: unit %d %s: present in only one network",
                        u, name);
    const struct na_keep *ax[4] = {NULL, NULL, NULL, NULL};
    for (int a = 0; axes[a]; a++) {
        if (axes[a] == 'i' && u == p->from.n_layers + 1) {
            if (*head_in)
                continue;
            *head_in = 1;
        }
        ax[a] = axis_keep(p, u, axes[a]);
    }
    return copy_tensor(&td, &ts, ax, u, name, err);
}

int netadapt_plan_apply(struct nn_net *src, const struct na_plan *p, int max_batch,
                        struct nn_net **out, struct hw_err *err)
{
    static const char *bn_parts[] = {".g", ".b", ".mean", ".var"};
    struct nn_net *dst = NULL;
    int rc = HW_OK, n_units = p->from.n_layers + 2, head_in = 0;
    *out = NULL;
    if (nn_net_n_units(src) != n_units)
        return hw_error(err, HW_EMISMATCH, "netadapt: source net has %d units, the plan %d",
                        nn_net_n_units(src), n_units);
    rc = nn_net_create(&dst, &p->to, max_batch, NN_MODE_TRAIN, err);
    if (rc)
        return rc;
    for (int u = 0; u < n_units; u++) {
        enum unit_kind kind = u == 0 ? U_STEM : u == n_units - 1 ? U_HEAD : U_LAYER;
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            const struct tensor_rule *t = &rules[r];
            if (t->unit != kind)
                continue;
            for (int b = 0; b < (t->bn ? 4 : 1); b++) {
                char name[32];
                snprintf(name, sizeof name, "%s%s", t->name, t->bn ? bn_parts[b] : "");
                rc = copy_named(dst, src, p, u, name, t->axes, &head_in, err);
                if (rc)
                    goto error;
            }
        }
    }
    *out = dst;
    return HW_OK;
error:
    nn_net_free(dst);
    return rc;
}

int netadapt_trim(struct nn_net *src, enum na_kind kind, int unit, int channels, int max_batch,
                  struct nn_net **out, struct hw_err *err)
{
    struct na_plan p;
    int rc = netadapt_plan(src, kind, unit, channels, &p, err);
    if (rc)
        return rc;
    rc = netadapt_plan_apply(src, &p, max_batch, out, err);
    netadapt_plan_release(&p);
    return rc;
}
