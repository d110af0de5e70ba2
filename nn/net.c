/* A network from an arch, as a flat list of ops over named buffers.
 *
 * Create walks the arch once and records three tables: tensors (parameters
 * and BN state, carved from one allocation each by offset), buffers
 * (activations per image, each with a gradient in TRAIN mode) and ops (a
 * kernel call with its buffers and tensors). Everything is then allocated in
 * one arena for max_batch images, so forward and backward never allocate.
 * TRAIN mode emits a conv op and a BN op that applies the activation too (its
 * backward recomputes the BN output from the conv output); INFER mode emits
 * one conv op per conv with BN folded into its weights and the activation and
 * residual fused into its epilogue. */
#include "nn/net.h"

#include <cblas.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nn/kernels.h"

enum op_kind { OP_CONV, OP_MATMUL, OP_DW, OP_BN, OP_ACT, OP_SE, OP_ADD, OP_POOL, OP_DROPOUT };

struct tensor_info {
    int unit;
    char name[24];
    int ndim, shape[4];
    size_t size, off;
    int in_state; /* BN running statistics live in state, the rest in params */
    int decay;
    int fan;      /* for initialization; 0: constant init (BN, biases) */
    float init;   /* the constant */
};

struct buf {
    int h, w, c;
    size_t per; /* floats per image */
    size_t off; /* in the arena (INFER: buffers whose lifetimes do not overlap share) */
    int grad_set; /* TRAIN: one op's backward writes the whole grad (no zeroing first) */
    float *data, *grad;
};

struct op {
    enum op_kind kind;
    int in, in2, out; /* buffers; in2: residual or add operand, -1 if none */
    int h, w, cin, cout, k, stride, sq; /* input geometry per image */
    enum nn_act act;
    int tw, tb, tw2, tb2;        /* weights / biases (SE: second FC in tw2, tb2) */
    int tg, tbeta, tmean, tvar;  /* BN: its own op in TRAIN, folded into a conv in INFER */
    float p;                     /* dropout */
    size_t aux_n;                /* floats of op-private memory */
    float *aux;                  /* BN: mean, invstd; CONV: col, dcol; SE: cache; dropout mask */
    float *fw, *fb;              /* the weights and bias the forward uses */
    double *part;                /* BN in TRAIN: (team, 2, c) partial sums of the threads */
};

struct nn_net {
    struct arch arch;
    enum nn_mode mode;
    int max_batch, eval, last_n;
    int team;       /* TRAIN: most threads a pass uses (per-thread memory exists for them) */
    int drop_drawn; /* the last forward drew dropout masks */
    int n_tensors, n_bufs, n_ops, cap;
    struct tensor_info *tensors;
    struct buf *bufs;
    struct op *ops;
    int unit_op[ARCH_MAX_LAYERS + 3]; /* first op of unit u; unit_op[n_units] = n_ops */
    size_t n_params, n_state, n_folded;
    size_t act_floats; /* the activation buffers' part of the arena */
    float *params, *grads, *state, *folded, *arena, *input;
    struct nn_pool *pool; /* lends the arena, when not NULL */
    float *tgrads;  /* TRAIN: (team - 1, n_params) parameter grads of threads 1.. */
    double *parts;  /* TRAIN: every BN op's partial sums */
    unsigned char *decay;
};

/* ---- building ---- */

static int add_tensor(struct nn_net *net, int unit, const char *name, int ndim, const int *shape,
                      int in_state, int decay, int fan, float init)
{
    struct tensor_info *t = &net->tensors[net->n_tensors];
    memset(t, 0, sizeof *t);
    t->unit = unit;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->size *= (size_t)shape[i];
    }
    t->in_state = in_state;
    t->decay = decay;
    t->fan = fan;
    t->init = init;
    size_t *next = in_state ? &net->n_state : &net->n_params;
    t->off = *next;
    *next += t->size;
    return net->n_tensors++;
}

static int add_buf(struct nn_net *net, int h, int w, int c)
{
    struct buf *b = &net->bufs[net->n_bufs];
    memset(b, 0, sizeof *b);
    b->h = h;
    b->w = w;
    b->c = c;
    b->per = (size_t)h * w * c;
    return net->n_bufs++;
}

static struct op *add_op(struct nn_net *net, enum op_kind kind, int in, int out)
{
    struct op *o = &net->ops[net->n_ops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->in = in;
    o->in2 = -1;
    o->out = out;
    o->tw = o->tb = o->tw2 = o->tb2 = -1;
    o->tg = o->tbeta = o->tmean = o->tvar = -1;
    o->h = net->bufs[in].h;
    o->w = net->bufs[in].w;
    o->cin = net->bufs[in].c;
    o->cout = net->bufs[out].c;
    o->k = o->stride = 1;
    return o;
}

static int add_vec(struct nn_net *net, int unit, const char *prefix, const char *suffix, int c,
                   int in_state, float init)
{
    char name[24];
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    return add_tensor(net, unit, name, 1, &c, in_state, 0, 0, init);
}

/* A conv (kind CONV, MATMUL or DW) from buffer in, then either BN (bn names
 * the tensors' prefix) or a bias (bias names the tensor), then act, then
 * + buffer res (-1: none). Returns the output buffer. */
static int add_conv(struct nn_net *net, int unit, enum op_kind kind, const char *wname,
                    const char *bn, const char *bias, int in, int cout, int k, int stride,
                    enum nn_act act, int res)
{
    struct buf *bi = &net->bufs[in];
    int cin = bi->c, oh = arch_conv_out_size(bi->h, k, stride);
    int ow = arch_conv_out_size(bi->w, k, stride);
    int shape[4], ndim, fan;
    if (kind == OP_DW) {
        cout = cin;
        shape[0] = k, shape[1] = k, shape[2] = cin, ndim = 3, fan = k * k;
    } else if (kind == OP_CONV) {
        shape[0] = cout, shape[1] = k, shape[2] = k, shape[3] = cin, ndim = 4, fan = cout * k * k;
    } else {
        shape[0] = cout, shape[1] = cin, ndim = 2, fan = cout;
    }
    int tw = add_tensor(net, unit, wname, ndim, shape, 0, 1, fan, 0.f);
    int tg = -1, tbeta = -1, tmean = -1, tvar = -1, tb = -1;
    if (bn) {
        tg = add_vec(net, unit, bn, ".g", cout, 0, 1.f);
        tbeta = add_vec(net, unit, bn, ".b", cout, 0, 0.f);
        tmean = add_vec(net, unit, bn, ".mean", cout, 1, 0.f);
        tvar = add_vec(net, unit, bn, ".var", cout, 1, 1.f);
    } else if (bias) {
        tb = add_tensor(net, unit, bias, 1, &cout, 0, 0, 0, 0.f);
    }
    int train = net->mode == NN_MODE_TRAIN;
    int out = add_buf(net, oh, ow, cout);
    struct op *o = add_op(net, kind, in, out);
    o->k = k;
    o->stride = stride;
    o->tw = tw;
    o->tb = tb;
    if (kind == OP_CONV && train) /* col and dcol; inference gathers patches in blocks */
        o->aux_n = nn_conv_col_size(net->max_batch, bi->h, bi->w, cin, k, stride) * 2;
    if (!train) {
        /* One op: folded BN, fused activation and residual. */
        o->tg = tg, o->tbeta = tbeta, o->tmean = tmean, o->tvar = tvar;
        o->act = act;
        o->in2 = res;
        return out;
    }
    if (bn) { /* the activation runs inside the BN op */
        int z = add_buf(net, oh, ow, cout);
        struct op *b = add_op(net, OP_BN, out, z);
        b->tg = tg, b->tbeta = tbeta, b->tmean = tmean, b->tvar = tvar;
        b->act = act;
        b->aux_n = 2 * (size_t)cout;
        out = z;
    } else if (act != NN_ACT_NONE) {
        int a = add_buf(net, oh, ow, cout);
        add_op(net, OP_ACT, out, a)->act = act;
        out = a;
    }
    if (res >= 0) {
        int s = add_buf(net, oh, ow, cout);
        add_op(net, OP_ADD, out, s)->in2 = res;
        out = s;
    }
    return out;
}

static int add_se(struct nn_net *net, int unit, int in, int sq)
{
    struct buf *bi = &net->bufs[in];
    int c = bi->c;
    int s1[2] = {sq, c}, s2[2] = {c, sq};
    int out = add_buf(net, bi->h, bi->w, c);
    struct op *o = add_op(net, OP_SE, in, out);
    o->sq = sq;
    o->tw = add_tensor(net, unit, "se.w1", 2, s1, 0, 1, sq, 0.f);
    o->tb = add_tensor(net, unit, "se.b1", 1, &sq, 0, 0, 0, 0.f);
    o->tw2 = add_tensor(net, unit, "se.w2", 2, s2, 0, 1, c, 0.f);
    o->tb2 = add_tensor(net, unit, "se.b2", 1, &c, 0, 0, 0, 0.f);
    o->aux_n = (size_t)net->max_batch * (4 * (size_t)c + 3 * (size_t)sq);
    return out;
}

int nn_act_of_arch(enum arch_act a)
{
    switch (a) {
    case ARCH_ACT_RELU: return NN_ACT_RELU;
    case ARCH_ACT_RELU6: return NN_ACT_RELU6;
    case ARCH_ACT_HSWISH: return NN_ACT_HSWISH;
    }
    return NN_ACT_NONE;
}

static enum nn_act act_of(enum arch_act a) { return (enum nn_act)nn_act_of_arch(a); }

static void build(struct nn_net *net)
{
    const struct arch *a = &net->arch;
    int x = add_buf(net, a->in_h, a->in_w, a->in_c);
    net->unit_op[0] = 0;
    const struct arch_stem *st = &a->stem;
    enum op_kind stem_kind = st->k == 1 && st->stride == 1 ? OP_MATMUL : OP_CONV;
    x = add_conv(net, 0, stem_kind, "conv.w", "bn", NULL, x, st->out, st->k, st->stride,
                 act_of(st->act), -1);
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        int u = i + 1, in = x;
        net->unit_op[u] = net->n_ops;
        enum nn_act act = act_of(l->act);
        if (l->mid != l->in)
            x = add_conv(net, u, OP_MATMUL, "expand.w", "expand.bn", NULL, x, l->mid, 1, 1, act, -1);
        x = add_conv(net, u, OP_DW, "dw.w", "dw.bn", NULL, x, l->mid, l->k, l->stride, act, -1);
        if (l->se)
            x = add_se(net, u, x, arch_layer_squeeze(l));
        x = add_conv(net, u, OP_MATMUL, "project.w", "project.bn", NULL, x, l->out, 1, 1,
                     NN_ACT_NONE, arch_layer_residual(l) ? in : -1);
    }
    int u = a->n_layers + 1;
    net->unit_op[u] = net->n_ops;
    const struct arch_head *hd = &a->head;
    if (hd->conv_out > 0)
        x = add_conv(net, u, OP_MATMUL, "conv.w", "conv.bn", NULL, x, hd->conv_out, 1, 1,
                     act_of(hd->conv_act), -1);
    int pooled = add_buf(net, 1, 1, net->bufs[x].c);
    add_op(net, OP_POOL, x, pooled);
    x = pooled;
    if (hd->fc_hidden > 0)
        x = add_conv(net, u, OP_MATMUL, "fc1.w", NULL, "fc1.b", x, hd->fc_hidden, 1, 1,
                     act_of(hd->fc_act), -1);
    if (net->mode == NN_MODE_TRAIN && hd->dropout > 0.f) {
        int d = add_buf(net, 1, 1, net->bufs[x].c);
        struct op *o = add_op(net, OP_DROPOUT, x, d);
        o->p = hd->dropout;
        o->aux_n = (size_t)net->max_batch * net->bufs[x].c;
        x = d;
    }
    add_conv(net, u, OP_MATMUL, "fc2.w", NULL, "fc2.b", x, a->classes, 1, 1, NN_ACT_NONE, -1);
    net->unit_op[u + 1] = net->n_ops;
}

static float *tdata(struct nn_net *net, int t)
{
    const struct tensor_info *ti = &net->tensors[t];
    return (ti->in_state ? net->state : net->params) + ti->off;
}

/* Floats rounded up to whole 64-byte lines. Every block of the arena and of
 * the folded weights starts on a line, so the alignment of a layer's
 * weights and scratch, and with it how many of its 16-float loads split a
 * line, does not depend on the sizes of the layers placed before it: the
 * latency table times a layer in one network and predicts it in others.
 * (SE and FC weights stay in the packed parameter vector.) */
static size_t line_up(size_t floats) { return (floats + 15) / 16 * 16; }

/* Folded 1x1 and stem convs keep their weights packed for nn_pw_forward. */
static size_t folded_w_size(const struct nn_net *net, const struct op *o)
{
    if (o->kind == OP_MATMUL)
        return nn_pw_packed_size(o->cin, o->cout);
    if (o->kind == OP_CONV)
        return nn_pw_packed_size(o->k * o->k * o->cin, o->cout);
    return net->tensors[o->tw].size;
}

/* TRAIN keeps every buffer and its grad (the backward reads them all). A
 * gradient needs zeroing before the backward unless a single op reads the
 * buffer, as its plain input, and that op's kernel can overwrite its dx
 * (1x1, depthwise, BN): then nothing is added to it and the writer sets all
 * of it. Returns the floats the buffers take. */
static size_t plan_train_buffers(struct nn_net *net)
{
    int readers[net->n_bufs], set_ok[net->n_bufs];
    memset(readers, 0, sizeof readers);
    memset(set_ok, 0, sizeof set_ok);
    for (int i = 0; i < net->n_ops; i++) {
        const struct op *o = &net->ops[i];
        readers[o->in]++;
        set_ok[o->in] = o->kind == OP_MATMUL || o->kind == OP_DW || o->kind == OP_BN;
        if (o->in2 >= 0)
            readers[o->in2]++;
    }
    size_t total = 0;
    for (int i = 1; i < net->n_bufs; i++) {
        net->bufs[i].off = total;
        net->bufs[i].grad_set = readers[i] == 1 && set_ok[i];
        total += 2 * net->bufs[i].per * net->max_batch;
    }
    return total;
}

/* Whether slot size a suits a buffer of need floats better than size b:
 * the smallest slot that holds it, else the largest (grown the least). */
static int fits_better(size_t a, size_t b, size_t need)
{
    if ((a >= need) != (b >= need))
        return a >= need;
    return a >= need ? a < b : a > b;
}

/* INFER reuses memory: a buffer lives from the op that writes it to the end
 * of the unit of its last reader (so running one unit again, as the latency
 * profiler does, never finds its input overwritten), and takes the free slot
 * that fits it best, growing one only when none holds it. A forward then
 * touches a few slots instead of a fresh buffer per op, which keeps the
 * activations in cache. Returns the floats the slots take. */
static size_t plan_infer_buffers(struct nn_net *net)
{
    int n = net->n_bufs, n_units = net->arch.n_layers + 2;
    int def[n], last[n], slot_of[n], n_slots = 0;
    int busy_until[n]; /* per slot: the last op using its buffer */
    size_t slot_size[n], slot_off[n], total = 0;
    for (int i = 0; i < n; i++)
        def[i] = last[i] = -1;
    for (int u = 0; u < n_units; u++) {
        int end = net->unit_op[u + 1] - 1;
        for (int i = net->unit_op[u]; i <= end; i++) {
            const struct op *o = &net->ops[i];
            if (def[o->out] < 0)
                def[o->out] = i;
            if (last[o->in] < end)
                last[o->in] = end;
            if (o->in2 >= 0 && last[o->in2] < end)
                last[o->in2] = end;
        }
    }
    for (int i = 1; i < n; i++) {
        size_t need = net->bufs[i].per * net->max_batch;
        int best = -1;
        for (int s = 0; s < n_slots; s++)
            if (busy_until[s] < def[i] &&
                (best < 0 || fits_better(slot_size[s], slot_size[best], need)))
                best = s;
        if (best < 0) {
            best = n_slots++;
            slot_size[best] = 0;
        }
        if (slot_size[best] < need)
            slot_size[best] = need;
        busy_until[best] = last[i] > def[i] ? last[i] : def[i];
        slot_of[i] = best;
    }
    for (int s = 0; s < n_slots; s++) {
        slot_off[s] = total;
        total += line_up(slot_size[s]);
    }
    for (int i = 1; i < n; i++)
        net->bufs[i].off = slot_off[slot_of[i]];
    return total;
}

/* Points every op at its memory once the allocations exist; the activation
 * buffers take the first net->act_floats of the arena (plan_*_buffers). */
static void bind(struct nn_net *net)
{
    size_t pos = line_up(net->act_floats);
    int train = net->mode == NN_MODE_TRAIN;
    for (int i = 0; i < net->n_bufs; i++) {
        struct buf *b = &net->bufs[i];
        if (i == 0) {
            b->data = net->input;
            continue;
        }
        b->data = net->arena + b->off;
        if (train)
            b->grad = b->data + b->per * net->max_batch;
    }
    size_t fpos = 0;
    for (int i = 0; i < net->n_ops; i++) {
        struct op *o = &net->ops[i];
        o->aux = o->aux_n ? net->arena + pos : NULL;
        pos += line_up(o->aux_n);
        if (o->tw < 0)
            continue;
        if (o->tg >= 0) {
            o->fw = net->folded + fpos;
            fpos += line_up(folded_w_size(net, o));
            o->fb = net->folded + fpos;
            fpos += line_up(net->tensors[o->tg].size);
        } else {
            o->fw = tdata(net, o->tw);
            o->fb = o->tb >= 0 ? tdata(net, o->tb) : NULL;
        }
    }
}

static size_t arena_size(const struct nn_net *net, size_t *folded)
{
    size_t n = line_up(net->act_floats);
    *folded = 0;
    for (int i = 0; i < net->n_ops; i++) {
        const struct op *o = &net->ops[i];
        n += line_up(o->aux_n);
        if (o->tg >= 0 && o->kind != OP_BN) /* a conv with BN folded in */
            *folded += line_up(folded_w_size(net, o)) + line_up(net->tensors[o->tg].size);
    }
    return n;
}

static void threads_init(void)
{
    static int done;
    if (!done) {
        /* nn_sgemm splits work over OpenMP threads; a second, spinning
         * OpenBLAS pool would only compete with them for the cores. */
        openblas_set_num_threads(1);
        done = 1;
    }
}

/* The grads and the per-thread memory of a TRAIN net's team. */
static int train_alloc(struct nn_net *net)
{
    int procs = omp_get_num_procs(), maxt = omp_get_max_threads();
    net->team = procs > maxt ? procs : maxt;
    size_t n_parts = 0;
    for (int i = 0; i < net->n_ops; i++)
        if (net->ops[i].kind == OP_BN)
            n_parts += (size_t)net->team * 2 * net->ops[i].cin;
    net->grads = calloc(net->n_params, sizeof(float));
    net->tgrads = calloc((net->team - 1) * net->n_params + 1, sizeof(float));
    net->parts = calloc(n_parts + 1, sizeof(double));
    if (!net->grads || !net->tgrads || !net->parts)
        return HW_ENOMEM;
    for (int i = 0, pos = 0; i < net->n_ops; i++) {
        struct op *o = &net->ops[i];
        if (o->kind == OP_BN) {
            o->part = net->parts + pos;
            pos += net->team * 2 * o->cin;
        }
    }
    return HW_OK;
}

int nn_net_create(struct nn_net **out, const struct arch *a, int max_batch, enum nn_mode mode,
                  struct hw_err *err)
{
    return nn_net_create_pooled(out, a, max_batch, mode, NULL, err);
}

void nn_pool_release(struct nn_pool *pool)
{
    free(pool->mem);
    pool->mem = NULL;
    pool->cap = 0;
}

int nn_net_create_pooled(struct nn_net **out, const struct arch *a, int max_batch,
                         enum nn_mode mode, struct nn_pool *pool, struct hw_err *err)
{
    *out = NULL;
    if (pool && pool->busy)
        return hw_error(err, HW_EINVAL, "nn_net_create: the pool's memory is in use by another "
                        "net");
    if (max_batch < 1)
        return hw_error(err, HW_EINVAL, "nn_net_create: max_batch %d is not positive", max_batch);
    if (a->n_layers < 0 || a->n_layers > ARCH_MAX_LAYERS || a->in_h < 1 || a->in_w < 1 ||
        a->in_c < 1 || a->classes < 1 || a->stem.out < 1 || a->stem.k < 1 || a->stem.stride < 1)
        return hw_error(err, HW_EINVAL, "nn_net_create: arch '%s' has impossible sizes", a->name);
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        int prev = i ? a->layers[i - 1].out : a->stem.out;
        if (l->in != prev || l->mid < 1 || l->out < 1 || l->k < 1 || l->k % 2 == 0 ||
            (l->stride != 1 && l->stride != 2))
            return hw_error(err, HW_EINVAL,
                            "nn_net_create: arch '%s': layers[%d] (k %d, stride %d, in %d, mid %d, "
                            "out %d) is not buildable",
                            a->name, i, l->k, l->stride, l->in, l->mid, l->out);
    }
    threads_init();
    struct nn_net *net = calloc(1, sizeof *net);
    if (!net)
        goto nomem;
    net->arch = *a;
    net->mode = mode;
    net->max_batch = max_batch;
    /* a layer with expand and SE has 19 tensors (5 per conv+BN, 4 for SE) */
    net->cap = 24 * (a->n_layers + 3);
    net->tensors = calloc(net->cap, sizeof *net->tensors);
    net->bufs = calloc(net->cap, sizeof *net->bufs);
    net->ops = calloc(net->cap, sizeof *net->ops);
    if (!net->tensors || !net->bufs || !net->ops)
        goto nomem;
    build(net);
    net->act_floats =
        mode == NN_MODE_TRAIN ? plan_train_buffers(net) : plan_infer_buffers(net);
    size_t arena = arena_size(net, &net->n_folded);
    net->params = calloc(net->n_params, sizeof(float));
    net->state = calloc(net->n_state ? net->n_state : 1, sizeof(float));
    net->decay = calloc(net->n_params, 1);
    size_t arena_bytes = ((arena * sizeof(float)) | 63) + 1;
    if (pool && pool->cap < arena_bytes) {
        nn_pool_release(pool);
        pool->mem = aligned_alloc(64, arena_bytes);
        pool->cap = pool->mem ? arena_bytes : 0;
    }
    net->pool = pool;
    if (pool)
        pool->busy = 1;
    net->arena = pool ? pool->mem : aligned_alloc(64, arena_bytes);
    net->input = aligned_alloc(64, ((net->bufs[0].per * max_batch * sizeof(float)) | 63) + 1);
    if (!net->params || !net->state || !net->decay || !net->arena || !net->input)
        goto nomem;
    if (mode == NN_MODE_TRAIN) {
        if (train_alloc(net) != HW_OK)
            goto nomem;
    } else if (net->n_folded) {
        net->folded = aligned_alloc(64, net->n_folded * sizeof(float));
        if (!net->folded)
            goto nomem;
        memset(net->folded, 0, net->n_folded * sizeof(float));
    }
    if (!pool) /* pooled memory keeps the last net's values: harmless, since every
                * buffer is written before it is read (a supernet trained with and
                * without this zeroing got the same weights), and 0.1-0.3 s a net */
        memset(net->arena, 0, arena * sizeof(float));
    memset(net->input, 0, net->bufs[0].per * max_batch * sizeof(float));
    for (int t = 0; t < net->n_tensors; t++) {
        const struct tensor_info *ti = &net->tensors[t];
        if (!ti->in_state && ti->decay)
            memset(net->decay + ti->off, 1, ti->size);
        if (ti->in_state && ti->init != 0.f)
            for (size_t i = 0; i < ti->size; i++)
                net->state[ti->off + i] = ti->init;
    }
    bind(net);
    nn_net_fold(net);
    *out = net;
    return HW_OK;
nomem:
    nn_net_free(net);
    return hw_error(err, HW_ENOMEM, "nn_net_create: out of memory for arch '%s' at batch %d",
                    a->name, max_batch);
}

void nn_net_free(struct nn_net *net)
{
    if (!net)
        return;
    free(net->tensors);
    free(net->bufs);
    free(net->ops);
    free(net->params);
    free(net->grads);
    free(net->tgrads);
    free(net->parts);
    free(net->state);
    free(net->folded);
    free(net->decay);
    if (net->pool)
        net->pool->busy = 0;
    else
        free(net->arena);
    free(net->input);
    free(net);
}

const struct arch *nn_net_arch(const struct nn_net *net) { return &net->arch; }
enum nn_mode nn_net_mode(const struct nn_net *net) { return net->mode; }
size_t nn_net_n_params(const struct nn_net *net) { return net->n_params; }
float *nn_net_params(struct nn_net *net) { return net->params; }
float *nn_net_grads(struct nn_net *net) { return net->grads; }
const unsigned char *nn_net_decay_mask(const struct nn_net *net) { return net->decay; }
size_t nn_net_n_state(const struct nn_net *net) { return net->n_state; }
float *nn_net_state(struct nn_net *net) { return net->state; }
int nn_net_n_units(const struct nn_net *net) { return net->arch.n_layers + 2; }

void nn_net_init_params(struct nn_net *net, struct pcg32 *rng)
{
    for (int t = 0; t < net->n_tensors; t++) {
        const struct tensor_info *ti = &net->tensors[t];
        float *d = tdata(net, t);
        /* Kaiming-normal, fan-out mode as torchvision initializes MobileNetV3. */
        double sd = ti->fan ? sqrt(2.0 / ti->fan) : 0.0;
        for (size_t i = 0; i < ti->size; i++)
            d[i] = ti->fan ? (float)(sd * pcg32_normal(rng)) : ti->init;
    }
    nn_net_fold(net);
}

int nn_net_tensor(struct nn_net *net, int unit, const char *name, struct nn_tensor *out,
                  struct hw_err *err)
{
    for (int t = 0; t < net->n_tensors; t++) {
        const struct tensor_info *ti = &net->tensors[t];
        if (ti->unit != unit || strcmp(ti->name, name) != 0)
            continue;
        out->data = tdata(net, t);
        out->ndim = ti->ndim;
        memset(out->shape, 0, sizeof out->shape);
        memcpy(out->shape, ti->shape, sizeof(int) * ti->ndim);
        out->size = ti->size;
        return HW_OK;
    }
    return hw_error(err, HW_ENOTFOUND, "nn_net_tensor: unit %d of arch '%s' has no tensor '%s'",
                    unit, net->arch.name, name);
}

/* ---- running ----
 * TRAIN mode runs a whole pass in one OpenMP team: thread t of nt owns a
 * contiguous slice of the batch and runs every op on it, so per-image work
 * (convs, activations, SE, pooling) needs no synchronization at all. BN is the
 * only op that mixes images: each thread sums its slice into its own row of
 * the op's partials, one barrier, then every thread adds the rows in the same
 * order (identical statistics everywhere). Parameter grads go to a private
 * copy per thread (thread 0 uses net->grads) and are added up once at the end.
 * A pass thus costs one barrier per BN op instead of one per kernel, which
 * matters most when other processes hold the cores. INFER mode runs the ops
 * as one slice, the kernels splitting their own work over the threads. */

/* The BN barrier of the training team. libgomp's barriers spin for a long
 * while (its spin policy is read from the environment once, at load): when
 * other processes hold the cores, the spinning thread burns the time slice
 * its descheduled partner needs, and two threads ran slower than one
 * (measured: 480 vs 770 img/s at load 3.4). This one spins briefly, then
 * sleeps on a futex until the last thread arrives. */
struct team_barrier {
    atomic_int count, gen;
};

#define TEAM_SPIN 4000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void team_barrier_wait(struct team_barrier *b, int nt)
{
    if (nt == 1)
        return;
    int gen = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == nt - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
        syscall(SYS_futex, &b->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
        return;
    }
    for (int i = 0; i < TEAM_SPIN; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != gen)
            return;
        cpu_relax();
    }
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == gen)
        syscall(SYS_futex, &b->gen, FUTEX_WAIT_PRIVATE, gen, NULL, NULL, 0);
}

struct slice {
    int t, nt;     /* this thread and the team size */
    int b0, n;     /* images [b0, b0 + n) */
    int total;     /* images in the whole batch */
    float *grads;  /* this thread's parameter grads; NULL: none */
    struct team_barrier *bar;
};

/* Image b0 of buffer b. */
static float *bdata(const struct nn_net *net, int b, int b0)
{
    return net->bufs[b].data + (size_t)b0 * net->bufs[b].per;
}

static float *bgrad(const struct nn_net *net, int b, int b0)
{
    return b > 0 ? net->bufs[b].grad + (size_t)b0 * net->bufs[b].per : NULL;
}

static float *sgrad(const struct nn_net *net, const struct slice *s, int t)
{
    return t < 0 || !s->grads ? NULL : s->grads + net->tensors[t].off;
}

/* The SE cache of images [b0, ...): each array holds max_batch rows. */
static struct nn_se_cache se_cache(const struct nn_net *net, const struct op *o, int b0)
{
    size_t nc = (size_t)net->max_batch * o->cin, ns = (size_t)net->max_batch * o->sq;
    size_t oc = (size_t)b0 * o->cin, os = (size_t)b0 * o->sq;
    struct nn_se_cache c;
    c.pooled = o->aux + oc;
    c.gate_pre = o->aux + nc + oc;
    c.gate = o->aux + 2 * nc + oc;
    c.dgate = o->aux + 3 * nc + oc;
    c.hid = o->aux + 4 * nc + os;
    c.hid_act = o->aux + 4 * nc + ns + os;
    c.dhid = o->aux + 4 * nc + 2 * ns + os;
    return c;
}

/* Adds the team's rows of partial sums part (nt, 2, c) into s and q (c);
 * called after the barrier that follows the last write. */
static void bn_team_sums(double *s, double *q, const double *part, int nt, int c)
{
    for (int j = 0; j < c; j++)
        s[j] = q[j] = 0;
    for (int t = 0; t < nt; t++)
        for (int j = 0; j < c; j++) {
            s[j] += part[(size_t)t * 2 * c + j];
            q[j] += part[(size_t)t * 2 * c + c + j];
        }
}

static void bn_forward_train(struct nn_net *net, struct op *o, const struct slice *s)
{
    int c = o->cin, m = s->n * o->h * o->w;
    const float *x = bdata(net, o->in, s->b0);
    double *part = o->part + (size_t)s->t * 2 * c, sum[c], sq[c];
    nn_bn_sums(part, part + c, x, m, c);
    team_barrier_wait(s->bar, s->nt);
    bn_team_sums(sum, sq, o->part, s->nt, c);
    /* thread 0 keeps the statistics for the backward and moves the running ones */
    float mean[c], invstd[c];
    int lead = s->t == 0;
    nn_bn_stats(mean, invstd, lead ? tdata(net, o->tmean) : NULL, lead ? tdata(net, o->tvar) : NULL,
                sum, sq, s->total * o->h * o->w, c);
    if (lead) {
        memcpy(o->aux, mean, sizeof mean);
        memcpy(o->aux + c, invstd, sizeof invstd);
    }
    nn_bn_normalize(bdata(net, o->out, s->b0), x, mean, invstd, tdata(net, o->tg),
                    tdata(net, o->tbeta), o->act, m, c);
}

static void bn_backward_train(struct nn_net *net, struct op *o, const struct slice *s)
{
    int c = o->cin, m = s->n * o->h * o->w;
    const float *x = bdata(net, o->in, s->b0), *dy = bgrad(net, o->out, s->b0);
    const float *mean = o->aux, *invstd = o->aux + c;
    double *part = o->part + (size_t)s->t * 2 * c, sdy[c], sdyx[c];
    nn_bn_grad_sums(part, part + c, dy, x, mean, invstd, tdata(net, o->tg), tdata(net, o->tbeta),
                    o->act, m, c);
    team_barrier_wait(s->bar, s->nt);
    bn_team_sums(sdy, sdyx, o->part, s->nt, c);
    /* gamma and beta grads are whole-batch sums: thread 0 adds them */
    int lead = s->t == 0;
    nn_bn_backward_apply(bgrad(net, o->in, s->b0), lead ? sgrad(net, s, o->tg) : NULL,
                         lead ? sgrad(net, s, o->tbeta) : NULL, sdy, sdyx,
                         s->total * o->h * o->w, dy, x, mean, invstd, tdata(net, o->tg),
                         tdata(net, o->tbeta), o->act, m, c, !net->bufs[o->in].grad_set);
}

static void op_forward(struct nn_net *net, struct op *o, const struct slice *s)
{
    int n = s->n, b0 = s->b0;
    float *x = bdata(net, o->in, b0), *y = bdata(net, o->out, b0);
    const float *res = o->in2 >= 0 ? bdata(net, o->in2, b0) : NULL;
    size_t len = (size_t)n * net->bufs[o->out].per;
    int m = n * o->h * o->w;
    switch (o->kind) {
    case OP_CONV: {
        if (o->tg >= 0) { /* INFER, BN folded: packed weights */
            nn_conv_forward_packed(y, x, o->fw, o->fb, o->act, n, o->h, o->w, o->cin, o->cout,
                                   o->k, o->stride);
            break;
        }
        float *col = o->aux + nn_conv_col_size(b0, o->h, o->w, o->cin, o->k, o->stride);
        nn_conv_forward(y, col, x, o->fw, o->fb, o->act, n, o->h, o->w, o->cin, o->cout, o->k,
                        o->stride);
        break;
    }
    case OP_MATMUL:
        if (o->tg >= 0) /* INFER, BN folded: packed weights */
            nn_pw_forward(y, x, o->fw, o->fb, res, o->act, m, o->cin, o->cout);
        else
            nn_matmul_forward(y, x, o->fw, o->fb, res, o->act, m, o->cin, o->cout);
        break;
    case OP_DW:
        nn_dwconv_forward(y, x, o->fw, o->fb, o->act, n, o->h, o->w, o->cin, o->k, o->stride);
        break;
    case OP_BN:
        if (net->eval)
            nn_bn_forward_eval(y, x, tdata(net, o->tg), tdata(net, o->tbeta), tdata(net, o->tmean),
                               tdata(net, o->tvar), o->act, m, o->cin);
        else
            bn_forward_train(net, o, s);
        break;
    case OP_ACT: nn_act_forward(y, x, o->act, len); break;
    case OP_SE: {
        struct nn_se_cache c = se_cache(net, o, b0);
        nn_se_forward(y, &c, x, tdata(net, o->tw), tdata(net, o->tb), tdata(net, o->tw2),
                      tdata(net, o->tb2), n, o->h * o->w, o->cin, o->sq);
        break;
    }
    case OP_ADD: nn_add_forward(y, x, res, len); break;
    case OP_POOL: nn_avgpool_forward(y, x, n, o->h * o->w, o->cin); break;
    case OP_DROPOUT: /* the mask was drawn for the whole batch before the pass */
        if (net->eval || !net->drop_drawn)
            memcpy(y, x, len * sizeof(float));
        else
            nn_dropout_forward(y, x, o->aux + (size_t)b0 * o->cin, len);
        break;
    }
}

static void op_backward(struct nn_net *net, struct op *o, const struct slice *s)
{
    int n = s->n, b0 = s->b0;
    const float *x = bdata(net, o->in, b0), *dy = bgrad(net, o->out, b0);
    float *dx = bgrad(net, o->in, b0);
    size_t len = (size_t)n * net->bufs[o->out].per;
    int m = n * o->h * o->w;
    switch (o->kind) {
    case OP_CONV: {
        size_t off = nn_conv_col_size(b0, o->h, o->w, o->cin, o->k, o->stride);
        float *dcol = o->aux + nn_conv_col_size(net->max_batch, o->h, o->w, o->cin, o->k, o->stride);
        nn_conv_backward(dx, sgrad(net, s, o->tw), dcol + off, dy, o->aux + off, o->fw, n, o->h,
                         o->w, o->cin, o->cout, o->k, o->stride);
        break;
    }
    case OP_MATMUL:
        nn_matmul_backward(dx, sgrad(net, s, o->tw), sgrad(net, s, o->tb), dy, x, o->fw, m, o->cin,
                           o->cout, !net->bufs[o->in].grad_set);
        break;
    case OP_DW:
        nn_dwconv_backward(dx, sgrad(net, s, o->tw), dy, x, o->fw, n, o->h, o->w, o->cin, o->k,
                           o->stride, !net->bufs[o->in].grad_set);
        break;
    case OP_BN: bn_backward_train(net, o, s); break;
    case OP_ACT: nn_act_backward(dx, dy, x, o->act, len); break;
    case OP_SE: {
        struct nn_se_cache c = se_cache(net, o, b0);
        nn_se_backward(dx, sgrad(net, s, o->tw), sgrad(net, s, o->tb), sgrad(net, s, o->tw2),
                       sgrad(net, s, o->tb2), &c, dy, x, tdata(net, o->tw), tdata(net, o->tw2), n,
                       o->h * o->w, o->cin, o->sq);
        break;
    }
    case OP_ADD: nn_add_backward(dx, bgrad(net, o->in2, b0), dy, len); break;
    case OP_POOL: nn_avgpool_backward(dx, dy, n, o->h * o->w, o->cin); break;
    case OP_DROPOUT: /* a forward that drew no mask (no rng) passed x through */
        if (net->drop_drawn)
            nn_dropout_backward(dx, dy, o->aux + (size_t)b0 * o->cin, len);
        else
            for (size_t i = 0; i < len; i++)
                dx[i] += dy[i];
        break;
    }
}

/* The training team's size for a batch of n. */
static int team_size(const struct nn_net *net, int n)
{
    int nt = omp_get_max_threads();
    nt = nt < net->team ? nt : net->team;
    return nt < n ? nt : n;
}

static struct slice slice_of(int t, int nt, int n, float *grads, struct team_barrier *bar)
{
    struct slice s = {t, nt, (int)((long)t * n / nt), 0, n, grads, bar};
    s.n = (int)((long)(t + 1) * n / nt) - s.b0;
    return s;
}

const float *nn_net_forward(struct nn_net *net, const float *x, int n, struct pcg32 *rng)
{
    /* The input buffer is only read, so the caller's images are used in place. */
    net->bufs[0].data = (float *)x;
    net->last_n = n;
    if (net->mode == NN_MODE_INFER) {
        struct slice s = slice_of(0, 1, n, NULL, NULL);
        for (int i = 0; i < net->n_ops; i++)
            op_forward(net, &net->ops[i], &s);
        net->bufs[0].data = net->input;
        return nn_net_output(net);
    }
    /* Dropout masks come from rng in op order, before the threads split. */
    net->drop_drawn = !net->eval && rng;
    for (int i = 0; i < net->n_ops && net->drop_drawn; i++) {
        struct op *o = &net->ops[i];
        if (o->kind == OP_DROPOUT)
            nn_dropout_mask(o->aux, (size_t)n * o->cin, o->p, rng);
    }
    int nt = team_size(net, n);
    struct team_barrier bar = {0, 0};
#pragma omp parallel num_threads(nt)
    {
        /* OpenMP may give fewer threads than asked (OMP_THREAD_LIMIT): the
         * slices and the barrier follow the team that runs. */
        struct slice s = slice_of(omp_get_thread_num(), omp_get_num_threads(), n, NULL, &bar);
        for (int i = 0; i < net->n_ops; i++)
            op_forward(net, &net->ops[i], &s);
    }
    net->bufs[0].data = net->input;
    return nn_net_output(net);
}

/* Backward through the whole net from the logits' gradient, already in the
 * last buffer's grad, adding into the grads. */
static void backward_from_logits(struct nn_net *net, int n)
{
    int nt = team_size(net, n);
    size_t np = net->n_params;
    struct team_barrier bar = {0, 0};
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), run = omp_get_num_threads(); /* run <= nt */
        float *g = t == 0 ? net->grads : net->tgrads + (size_t)(t - 1) * np;
        struct slice s = slice_of(t, run, n, g, &bar);
        if (t > 0)
            memset(g, 0, np * sizeof(float));
        for (int i = 1; i < net->n_bufs - 1; i++)
            if (!net->bufs[i].grad_set)
                memset(bgrad(net, i, s.b0), 0, (size_t)s.n * net->bufs[i].per * sizeof(float));
        for (int i = net->n_ops - 1; i >= 0; i--)
            op_backward(net, &net->ops[i], &s);
        if (run > 1) {
            team_barrier_wait(&bar, run);
#pragma omp for simd schedule(static) nowait
            for (size_t j = 0; j < np; j++)
                for (int u = 1; u < run; u++)
                    net->grads[j] += net->tgrads[(size_t)(u - 1) * np + j];
        }
    }
}

float nn_net_backward(struct nn_net *net, const int *labels, int n, float label_smoothing)
{
    struct buf *last = &net->bufs[net->n_bufs - 1];
    memset(last->grad, 0, (size_t)n * last->per * sizeof(float));
    float loss = nn_xent_forward_backward(last->grad, last->data, labels, n, net->arch.classes,
                                          label_smoothing);
    backward_from_logits(net, n);
    return loss;
}

float nn_net_backward_soft(struct nn_net *net, const float *targets, int n)
{
    struct buf *last = &net->bufs[net->n_bufs - 1];
    memset(last->grad, 0, (size_t)n * last->per * sizeof(float));
    float loss = nn_xent_soft_forward_backward(last->grad, last->data, targets, n,
                                               net->arch.classes);
    backward_from_logits(net, n);
    return loss;
}

void nn_net_zero_grad(struct nn_net *net)
{
    if (net->grads)
        memset(net->grads, 0, net->n_params * sizeof(float));
}

void nn_net_set_eval(struct nn_net *net, int eval) { net->eval = eval; }

void nn_net_fold(struct nn_net *net)
{
    for (int i = 0; i < net->n_ops; i++) {
        struct op *o = &net->ops[i];
        if (o->tg < 0 || o->kind == OP_BN)
            continue;
        int c = o->cout;
        float scale[c];
        nn_bn_fold(scale, o->fb, tdata(net, o->tg), tdata(net, o->tbeta), tdata(net, o->tmean),
                   tdata(net, o->tvar), c);
        const float *w = tdata(net, o->tw);
        size_t size = net->tensors[o->tw].size;
        if (o->kind == OP_MATMUL)
            nn_pw_pack(o->fw, w, scale, o->cin, c);
        else if (o->kind == OP_CONV) /* (cout, k, k, cin) is a (cout, k*k*cin) matrix */
            nn_pw_pack(o->fw, w, scale, o->k * o->k * o->cin, c);
        else /* depthwise (k, k, c): channel fastest */
            for (size_t j = 0; j < size; j++)
                o->fw[j] = w[j] * scale[j % c];
    }
}

/* Whether a and b carve params and state identically (same names and shapes). */
static int same_tensors(const struct nn_net *a, const struct nn_net *b)
{
    if (a->n_tensors != b->n_tensors || a->n_params != b->n_params || a->n_state != b->n_state)
        return 0;
    for (int t = 0; t < a->n_tensors; t++) {
        const struct tensor_info *x = &a->tensors[t], *y = &b->tensors[t];
        if (x->unit != y->unit || strcmp(x->name, y->name) != 0 || x->ndim != y->ndim ||
            memcmp(x->shape, y->shape, sizeof x->shape) != 0)
            return 0;
    }
    return 1;
}

int nn_net_fold_from(struct nn_net *infer, const struct nn_net *train, struct hw_err *err)
{
    if (infer->mode != NN_MODE_INFER || !same_tensors(infer, train))
        return hw_error(err, HW_EMISMATCH,
                        "nn_net_fold_from: arch '%s' (%zu params) does not match arch '%s' (%zu "
                        "params) or the target is not an INFER net",
                        train->arch.name, train->n_params, infer->arch.name, infer->n_params);
    memcpy(infer->params, train->params, train->n_params * sizeof(float));
    memcpy(infer->state, train->state, train->n_state * sizeof(float));
    nn_net_fold(infer);
    return HW_OK;
}

void nn_net_set_input(struct nn_net *net, const float *x, int n)
{
    memcpy(net->input, x, net->bufs[0].per * n * sizeof(float));
    net->last_n = n;
}

void nn_net_forward_unit(struct nn_net *net, int u, int n)
{
    struct slice s = slice_of(0, 1, n, NULL, NULL);
    for (int i = net->unit_op[u]; i < net->unit_op[u + 1]; i++)
        op_forward(net, &net->ops[i], &s);
}

const float *nn_net_output(const struct nn_net *net)
{
    return net->bufs[net->n_bufs - 1].data;
}

void nn_set_threads(int n)
{
    threads_init();
    omp_set_num_threads(n < 1 ? 1 : n);
}

int nn_get_threads(void) { return omp_get_max_threads(); }

int nn_fork_ok(void) { return omp_get_max_threads() > 1 && !omp_in_parallel(); }

int nn_net_n_ops(const struct nn_net *net) { return net->n_ops; }

void nn_net_op_info(const struct nn_net *net, int i, struct nn_op_info *out)
{
    static const char *const names[] = {"stem", "1x1", "dw", "bn", "act", "se", "add", "pool",
                                        "dropout"};
    const struct op *o = &net->ops[i];
    int u = 0;
    while (net->unit_op[u + 1] <= i)
        u++;
    double hw = (double)o->h * o->w;
    double ohw = (double)arch_conv_out_size(o->h, o->k, o->stride) *
                 arch_conv_out_size(o->w, o->k, o->stride);
    out->unit = u;
    out->kind = names[o->kind];
    out->macs = out->weights = 0;
    switch (o->kind) {
    case OP_CONV:
        out->macs = ohw * o->k * o->k * o->cin * o->cout;
        out->weights = (double)o->k * o->k * o->cin * o->cout + o->cout;
        break;
    case OP_MATMUL:
        out->kind = o->h * o->w == 1 ? "fc" : "1x1";
        out->macs = hw * o->cin * o->cout;
        out->weights = (double)o->cin * o->cout + o->cout;
        break;
    case OP_DW:
        out->macs = ohw * o->k * o->k * o->cin;
        out->weights = (double)o->k * o->k * o->cin + o->cin;
        break;
    case OP_SE:
        out->macs = 2.0 * o->cin * o->sq + 2 * hw * o->cin;
        out->weights = 2.0 * o->cin * o->sq + o->cin + o->sq;
        break;
    default: break;
    }
}

void nn_net_forward_op(struct nn_net *net, int i, int n)
{
    struct slice s = slice_of(0, 1, n, NULL, NULL);
    op_forward(net, &net->ops[i], &s);
}
