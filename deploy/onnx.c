/* ONNX export: the arch walked in the order nn/net.c builds it, each piece
 * emitted as standard ONNX nodes through the protobuf-c code generated from
 * Debian's onnx.proto. Every message and buffer the graph points to comes
 * from one list of allocations, freed together after packing. */
#include "deploy/onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "onnx.pb-c.h"
#include "space/arch_json.h"
#include "util/binfile.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ONNX raw_data is little-endian; add byte swapping for this target"
#endif

struct ob {
    void **allocs;
    size_t n_allocs, cap_allocs;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    struct nn_net *net;
    int oom;        /* an allocation failed: everything after is skipped */
    int missing;    /* a tensor the arch implies was not in the net */
    int clip_consts; /* Clip's bounds are initializers already */
    char what[96];  /* the missing tensor, for the message */
};

static void *ob_alloc(struct ob *b, size_t size)
{
    if (b->oom)
        return NULL;
    if (b->n_allocs == b->cap_allocs) {
        size_t cap = b->cap_allocs ? 2 * b->cap_allocs : 256;
        void **p = realloc(b->allocs, cap * sizeof *p);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->allocs = p;
        b->cap_allocs = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        b->oom = 1;
        return NULL;
    }
    b->allocs[b->n_allocs++] = p;
    return p;
}

static char *ob_strf(struct ob *b, const char *fmt, ...)
{
    if (b->oom)
        return NULL;
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    char *s = ob_alloc(b, strlen(tmp) + 1);
    if (s)
        strcpy(s, tmp);
    return s;
}

/* Appends p to the array *arr of *n (capacity *cap). */
static void ob_push(struct ob *b, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (b->oom || !p)
        return;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **q = realloc(*arr, c * sizeof *q);
        if (!q) {
            b->oom = 1;
            return;
        }
        *arr = q;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
}

/* An initializer named name with dims; returns its float storage (zeroed),
 * for the caller to fill, or NULL when out of memory. */
static float *ob_init(struct ob *b, const char *name, int ndims, const int64_t *dims)
{
    Onnx__TensorProto *t = ob_alloc(b, sizeof *t);
    int64_t *d = ob_alloc(b, sizeof *d * (ndims ? ndims : 1));
    size_t n = 1;
    for (int i = 0; i < ndims; i++)
        n *= (size_t)dims[i];
    float *data = ob_alloc(b, n * sizeof(float));
    char *nm = ob_strf(b, "%s", name);
    if (!t || !d || !data || !nm)
        return NULL;
    onnx__tensor_proto__init(t);
    if (ndims)
        memcpy(d, dims, sizeof *d * ndims);
    t->n_dims = ndims;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = nm;
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = (uint8_t *)data;
    ob_push(b, (void ***)&b->inits, &b->n_inits, &b->cap_inits, t);
    return data;
}

static Onnx__AttributeProto *ob_attr(struct ob *b, const char *name,
                                     Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = ob_alloc(b, sizeof *a);
    char *nm = ob_strf(b, "%s", name);
    if (!a || !nm)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = nm;
    a->has_type = 1;
    a->type = type;
    return a;
}

static Onnx__AttributeProto *attr_i(struct ob *b, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
    return a;
}

static Onnx__AttributeProto *attr_f(struct ob *b, const char *name, float v)
{
    Onnx__AttributeProto *a = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
    return a;
}

static Onnx__AttributeProto *attr_ints(struct ob *b, const char *name, int n, int64_t v)
{
    Onnx__AttributeProto *a = ob_attr(b, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *p = ob_alloc(b, sizeof *p * n);
    if (!a || !p)
        return NULL;
    for (int i = 0; i < n; i++)
        p[i] = v;
    a->n_ints = n;
    a->ints = p;
    return a;
}

/* A node op(in[0..n_in-1]) -> out with n_attrs attributes.
 * Returns out. */
static const char *ob_node(struct ob *b, const char *op, const char *out, int n_in,
                           const char *const *in, Onnx__AttributeProto *const *attrs,
                           int n_attrs)
{
    Onnx__NodeProto *nd = ob_alloc(b, sizeof *nd);
    char **ins = ob_alloc(b, sizeof *ins * n_in);
    char **outs = ob_alloc(b, sizeof *outs);
    Onnx__AttributeProto **at = ob_alloc(b, sizeof *at * (n_attrs ? n_attrs : 1));
    char *o = ob_strf(b, "%s", out), *opn = ob_strf(b, "%s", op);
    if (!nd || !ins || !outs || !at || !o || !opn)
        return out;
    onnx__node_proto__init(nd);
    for (int i = 0; i < n_in; i++)
        ins[i] = (char *)in[i];
    for (int i = 0; i < n_attrs; i++) {
        if (!attrs[i])
            return out; /* out of memory: already flagged */
        at[i] = attrs[i];
    }
    outs[0] = o;
    nd->n_input = n_in;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    nd->name = o;
    nd->op_type = opn;
    nd->n_attribute = n_attrs;
    nd->attribute = at;
    ob_push(b, (void ***)&b->nodes, &b->n_nodes, &b->cap_nodes, nd);
    return o;
}

/* The net's tensor (unit, name); NULL (and the name remembered) if absent. */
static const float *tensor(struct ob *b, int unit, const char *name, size_t want)
{
    struct nn_tensor t;
    struct hw_err e;
    hw_err_clear(&e);
    if (nn_net_tensor(b->net, unit, name, &t, &e) != HW_OK || t.size != want) {
        if (!b->missing)
            snprintf(b->what, sizeof b->what, "unit %d tensor '%s'", unit, name);
        b->missing = 1;
        return NULL;
    }
    return t.data;
}

/* A rank-0 float initializer (Clip's bounds, the normalization). */
static void scalar(struct ob *b, const char *name, float v)
{
    float *p = ob_init(b, name, 0, NULL);
    if (p)
        *p = v;
}

/* The activation after value x (named base): returns the activated value. */
static const char *emit_act(struct ob *b, const char *x, const char *base, enum nn_act act)
{
    switch (act) {
    case NN_ACT_NONE:
        return x;
    case NN_ACT_RELU:
        return ob_node(b, "Relu", ob_strf(b, "%s.relu", base), 1, &x, NULL, 0);
    case NN_ACT_RELU6: {
        if (!b->clip_consts) {
            scalar(b, "const.zero", 0.f);
            scalar(b, "const.six", 6.f);
            b->clip_consts = 1;
        }
        const char *in[3] = {x, "const.zero", "const.six"};
        return ob_node(b, "Clip", ob_strf(b, "%s.relu6", base), 3, in, NULL, 0);
    }
    case NN_ACT_HSWISH:
        return ob_node(b, "HardSwish", ob_strf(b, "%s.hswish", base), 1, &x, NULL, 0);
    case NN_ACT_HSIGMOID: {
        Onnx__AttributeProto *at[2] = {attr_f(b, "alpha", 1.f / 6.f), attr_f(b, "beta", 0.5f)};
        return ob_node(b, "HardSigmoid", ob_strf(b, "%s.hsigmoid", base), 1, &x, at, 2);
    }
    }
    return x;
}

enum conv_kind { CONV_FULL, CONV_1X1, CONV_DW };

/* A conv of unit u with its BN (prefix bn, e.g. "expand.bn") folded in, then
 * act. Weights in hwnas's layout (nn/net.h) are rewritten as ONNX's
 * (Cout, Cin/group, k, k). */
static const char *emit_conv_bn(struct ob *b, const char *x, int u, const char *base,
                                enum conv_kind kind, const char *wname, const char *bn, int cin,
                                int cout, int k, int stride, enum nn_act act)
{
    size_t per = kind == CONV_DW ? (size_t)k * k : (size_t)cin * k * k;
    size_t wsize = per * (kind == CONV_DW ? (size_t)cin : (size_t)cout);
    char nm[64];
    const float *w = tensor(b, u, wname, wsize);
    const float *v[4];
    const char *suf[4] = {".g", ".b", ".mean", ".var"};
    for (int i = 0; i < 4; i++) {
        snprintf(nm, sizeof nm, "%s%s", bn, suf[i]);
        v[i] = tensor(b, u, nm, (size_t)cout);
    }
    if (!w || !v[0] || !v[1] || !v[2] || !v[3])
        return x;
    int64_t wd[4] = {cout, kind == CONV_DW ? 1 : cin, k, k}, bd[1] = {cout};
    char *wn = ob_strf(b, "%s.weight", base), *bnm = ob_strf(b, "%s.bias", base);
    float *fw = ob_init(b, wn, 4, wd), *fb = ob_init(b, bnm, 1, bd);
    float *scale = malloc(sizeof *scale * cout);
    if (!fw || !fb || !scale) {
        free(scale);
        b->oom = 1;
        return x;
    }
    nn_bn_fold(scale, fb, v[0], v[1], v[2], v[3], cout);
    for (int o = 0; o < cout; o++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                if (kind == CONV_DW) { /* (k, k, C) */
                    fw[((size_t)o * k + ky) * k + kx] =
                        w[((size_t)ky * k + kx) * cout + o] * scale[o];
                    continue;
                }
                for (int c = 0; c < cin; c++) /* (Cout, k, k, Cin) */
                    fw[(((size_t)o * cin + c) * k + ky) * k + kx] =
                        w[(((size_t)o * k + ky) * k + kx) * cin + c] * scale[o];
            }
    free(scale);
    const char *in[3] = {x, wn, bnm};
    Onnx__AttributeProto *at[4] = {attr_ints(b, "kernel_shape", 2, k),
                                   attr_ints(b, "strides", 2, stride),
                                   attr_ints(b, "pads", 4, k / 2),
                                   attr_i(b, "group", kind == CONV_DW ? cout : 1)};
    const char *y = ob_node(b, "Conv", base, 3, in, at, 4);
    return emit_act(b, y, base, act);
}

/* A 1x1 conv with a plain bias on a (N, cin, 1, 1) value: SE's two FCs.
 * w is (cout, cin) as stored. */
static const char *emit_fc_conv(struct ob *b, const char *x, int u, const char *base,
                                const char *wname, const char *bname, int cin, int cout)
{
    const float *w = tensor(b, u, wname, (size_t)cin * cout), *bias = tensor(b, u, bname, cout);
    if (!w || !bias)
        return x;
    int64_t wd[4] = {cout, cin, 1, 1}, bd[1] = {cout};
    char *wn = ob_strf(b, "%s.weight", base), *bnm = ob_strf(b, "%s.bias", base);
    float *fw = ob_init(b, wn, 4, wd), *fb = ob_init(b, bnm, 1, bd);
    if (!fw || !fb)
        return x;
    memcpy(fw, w, sizeof *fw * cin * cout);
    memcpy(fb, bias, sizeof *fb * cout);
    const char *in[3] = {x, wn, bnm};
    return ob_node(b, "Conv", base, 3, in, NULL, 0);
}

/* A fully connected layer on (N, cin): Gemm with B = w (cout, cin) transposed. */
static const char *emit_gemm(struct ob *b, const char *x, int u, const char *base,
                             const char *wname, const char *bname, int cin, int cout,
                             const char *out)
{
    const float *w = tensor(b, u, wname, (size_t)cin * cout), *bias = tensor(b, u, bname, cout);
    if (!w || !bias)
        return x;
    int64_t wd[2] = {cout, cin}, bd[1] = {cout};
    char *wn = ob_strf(b, "%s.weight", base), *bnm = ob_strf(b, "%s.bias", base);
    float *fw = ob_init(b, wn, 2, wd), *fb = ob_init(b, bnm, 1, bd);
    if (!fw || !fb)
        return x;
    memcpy(fw, w, sizeof *fw * cin * cout);
    memcpy(fb, bias, sizeof *fb * cout);
    const char *in[3] = {x, wn, bnm};
    Onnx__AttributeProto *at[1] = {attr_i(b, "transB", 1)};
    return ob_node(b, "Gemm", out ? out : base, 3, in, at, 1);
}

static enum nn_act act_of(enum arch_act a) { return (enum nn_act)nn_act_of_arch(a); }

/* The graph's nodes and initializers, in nn/net.c's build order. */
static void emit_graph(struct ob *b, const struct arch *a, float mean, float std)
{
    scalar(b, "norm.mean", mean);
    scalar(b, "norm.std", std);
    const char *sub_in[2] = {"input", "norm.mean"};
    const char *x = ob_node(b, "Sub", "norm.centered", 2, sub_in, NULL, 0);
    const char *div_in[2] = {x, "norm.std"};
    x = ob_node(b, "Div", "norm.out", 2, div_in, NULL, 0);
    const struct arch_stem *st = &a->stem;
    x = emit_conv_bn(b, x, 0, "stem.conv", CONV_FULL, "conv.w", "bn", a->in_c, st->out, st->k,
                     st->stride, act_of(st->act));
    for (int i = 0; i < a->n_layers && !b->oom && !b->missing; i++) {
        const struct arch_layer *l = &a->layers[i];
        int u = i + 1;
        const char *in = x;
        enum nn_act act = act_of(l->act);
        char base[32];
        if (l->mid != l->in) {
            snprintf(base, sizeof base, "l%d.expand", i);
            x = emit_conv_bn(b, x, u, base, CONV_1X1, "expand.w", "expand.bn", l->in, l->mid, 1,
                             1, act);
        }
        snprintf(base, sizeof base, "l%d.dw", i);
        x = emit_conv_bn(b, x, u, base, CONV_DW, "dw.w", "dw.bn", l->mid, l->mid, l->k,
                         l->stride, act);
        if (l->se) {
            int sq = arch_layer_squeeze(l);
            const char *p = ob_node(b, "GlobalAveragePool", ob_strf(b, "l%d.se.pool", i), 1, &x,
                                    NULL, 0);
            snprintf(base, sizeof base, "l%d.se.fc1", i);
            p = emit_fc_conv(b, p, u, base, "se.w1", "se.b1", l->mid, sq);
            p = emit_act(b, p, base, NN_ACT_RELU);
            snprintf(base, sizeof base, "l%d.se.fc2", i);
            p = emit_fc_conv(b, p, u, base, "se.w2", "se.b2", sq, l->mid);
            p = emit_act(b, p, base, NN_ACT_HSIGMOID);
            const char *mul_in[2] = {x, p};
            x = ob_node(b, "Mul", ob_strf(b, "l%d.se.out", i), 2, mul_in, NULL, 0);
        }
        snprintf(base, sizeof base, "l%d.project", i);
        x = emit_conv_bn(b, x, u, base, CONV_1X1, "project.w", "project.bn", l->mid, l->out, 1, 1,
                         NN_ACT_NONE);
        if (arch_layer_residual(l)) {
            const char *add_in[2] = {x, in};
            x = ob_node(b, "Add", ob_strf(b, "l%d.add", i), 2, add_in, NULL, 0);
        }
    }
    int u = a->n_layers + 1, c = a->n_layers ? a->layers[a->n_layers - 1].out : st->out;
    const struct arch_head *hd = &a->head;
    if (hd->conv_out > 0) {
        x = emit_conv_bn(b, x, u, "head.conv", CONV_1X1, "conv.w", "conv.bn", c, hd->conv_out,
                         1, 1, act_of(hd->conv_act));
        c = hd->conv_out;
    }
    x = ob_node(b, "GlobalAveragePool", "head.pool", 1, &x, NULL, 0);
    Onnx__AttributeProto *flat[1] = {attr_i(b, "axis", 1)};
    x = ob_node(b, "Flatten", "head.flatten", 1, &x, flat, 1);
    if (hd->fc_hidden > 0) {
        x = emit_gemm(b, x, u, "head.fc1", "fc1.w", "fc1.b", c, hd->fc_hidden, NULL);
        x = emit_act(b, x, "head.fc1", act_of(hd->fc_act));
        c = hd->fc_hidden;
    }
    x = emit_gemm(b, x, u, "head.fc2", "fc2.w", "fc2.b", c, a->classes, "logits");
    if (!b->oom && !b->missing && strcmp(x, "logits") != 0)
        b->missing = 1; /* the classifier was not emitted */
}

/* A float32 tensor value (N, dims...) with N symbolic. */
static Onnx__ValueInfoProto *value_info(struct ob *b, const char *name, int ndims,
                                        const int64_t *dims)
{
    Onnx__ValueInfoProto *v = ob_alloc(b, sizeof *v);
    Onnx__TypeProto *tp = ob_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ob_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = ob_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dim = ob_alloc(b, sizeof *dim * (ndims + 1));
    if (!v || !tp || !tt || !sh || !dim)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i <= ndims; i++) {
        Onnx__TensorShapeProto__Dimension *d = ob_alloc(b, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "N";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i - 1];
        }
        dim[i] = d;
    }
    sh->n_dim = ndims + 1;
    sh->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = (char *)name;
    v->type = tp;
    return v;
}

static Onnx__StringStringEntryProto *meta(struct ob *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *m = ob_alloc(b, sizeof *m);
    char *k = ob_strf(b, "%s", key), *v = ob_alloc(b, strlen(value) + 1);
    if (!m || !k || !v)
        return NULL;
    onnx__string_string_entry_proto__init(m);
    strcpy(v, value);
    m->key = k;
    m->value = v;
    return m;
}

int onnx_export(const char *path, struct nn_net *net, float mean, float std,
                struct hw_err *err)
{
    const struct arch *a = nn_net_arch(net);
    if (!(std > 0.f) || mean != mean)
        return hw_error(err, HW_EINVAL, "%s: normalization mean %g, std %g: std must be "
                        "positive", path, mean, std);
    struct ob b = {.net = net};
    emit_graph(&b, a, mean, std);
    char *json = arch_to_json_string(a);
    int64_t in_dims[3] = {a->in_c, a->in_h, a->in_w}, out_dims[1] = {a->classes};
    Onnx__ValueInfoProto *vin = value_info(&b, "input", 3, in_dims);
    Onnx__ValueInfoProto *vout = value_info(&b, "logits", 1, out_dims);
    Onnx__GraphProto *g = ob_alloc(&b, sizeof *g);
    Onnx__ModelProto *m = ob_alloc(&b, sizeof *m);
    Onnx__OperatorSetIdProto *ops = ob_alloc(&b, sizeof *ops);
    Onnx__OperatorSetIdProto **opsv = ob_alloc(&b, sizeof *opsv);
    Onnx__ValueInfoProto **ins = ob_alloc(&b, sizeof *ins), **outs = ob_alloc(&b, sizeof *outs);
    Onnx__StringStringEntryProto **props = ob_alloc(&b, sizeof *props * 3);
    char norm[64];
    snprintf(norm, sizeof norm, "%.9g", mean);
    if (props && json) {
        props[0] = meta(&b, "hwnas_arch", json);
        props[1] = meta(&b, "hwnas_norm_mean", norm);
        snprintf(norm, sizeof norm, "%.9g", std);
        props[2] = meta(&b, "hwnas_norm_std", norm);
    }
    int rc = HW_OK;
    if (b.missing)
        rc = hw_error(err, HW_EMISMATCH, "%s: the net lacks %s that its arch '%s' implies",
                      path, b.what, a->name);
    else if (b.oom || !json || !vin || !vout || !g || !m || !ops || !opsv || !ins || !outs ||
             !props || !props[0] || !props[1] || !props[2])
        rc = hw_error(err, HW_ENOMEM, "%s: out of memory building the ONNX graph", path);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (rc == HW_OK) {
        onnx__graph_proto__init(g);
        g->name = a->name[0] ? (char *)a->name : "hwnas";
        g->n_node = b.n_nodes;
        g->node = b.nodes;
        g->n_initializer = b.n_inits;
        g->initializer = b.inits;
        ins[0] = vin;
        outs[0] = vout;
        g->n_input = 1;
        g->input = ins;
        g->n_output = 1;
        g->output = outs;
        onnx__operator_set_id_proto__init(ops);
        ops->domain = "";
        ops->has_version = 1;
        ops->version = ONNX_OPSET;
        opsv[0] = ops;
        onnx__model_proto__init(m);
        m->has_ir_version = 1;
        m->ir_version = ONNX__VERSION__IR_VERSION;
        m->n_opset_import = 1;
        m->opset_import = opsv;
        m->producer_name = "hwnas";
        m->producer_version = HWNAS_VERSION;
        m->doc_string = "input: float32 NCHW raw pixels in [0, 1]; output: logits";
        m->graph = g;
        m->n_metadata_props = 3;
        m->metadata_props = props;
        len = onnx__model_proto__get_packed_size(m);
        bytes = malloc(len ? len : 1);
        if (!bytes)
            rc = hw_error(err, HW_ENOMEM, "%s: out of memory packing %zu bytes", path, len);
        else if (onnx__model_proto__pack(m, bytes) != len)
            rc = hw_error(err, HW_EIO, "%s: protobuf-c packed a different size than it "
                          "computed", path);
    }
    if (rc == HW_OK)
        rc = bin_write_atomic(path, bytes, len, err);
    free(bytes);
    free(json);
    for (size_t i = 0; i < b.n_allocs; i++)
        free(b.allocs[i]);
    free(b.allocs);
    free(b.nodes);
    free(b.inits);
    return rc;
}
