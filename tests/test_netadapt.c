/* NetAdapt: weight surgery and the algorithm.
 *
 * Surgery oracle: a trimmed net must compute, to float tolerance, what the
 * untrimmed net computes with the removed channels masked to zero wherever
 * they flow. The masked net is built here independently of the surgery's
 * copy: a copy of the untrimmed parameters where every removed channel's
 * producing BN has gamma = beta = 0 (so in eval mode it outputs exactly 0,
 * and 0 through relu/h-swish, residual adds, SE gating and pooling stays 0)
 * and every removed SE squeeze unit has a zero reduce row and bias (relu(0)
 * feeds nothing to the expand FC). Both are folded to INFER nets and their
 * logits compared: |got - want| <= 1e-4 + 1e-4 |want|. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "evaluator/model.h"
#include "netadapt/netadapt.h"
#include "netadapt/run.h"
#include "netadapt/surgery.h"
#include "nn/net.h"
#include "space/arch.h"

#define BATCH 3

static struct arch_layer L(int k, int s, int in, int mid, int out, int se, enum arch_act act)
{
    return (struct arch_layer){.k = k, .stride = s, .in = in, .mid = mid, .out = out, .se = se,
                               .act = act};
}

/* SE everywhere but one layer; layers without expand conv, residual chains
 * through the stem, a head conv. */
static struct arch arch_se(void)
{
    struct arch a = {.name = "t-se", .in_h = 12, .in_w = 12, .in_c = 1, .classes = 5};
    a.stem = (struct arch_stem){.k = 3, .stride = 1, .out = 8, .act = ARCH_ACT_HSWISH};
    a.layers[0] = L(3, 1, 8, 8, 8, 1, ARCH_ACT_RELU);        /* residual, no expand */
    a.layers[1] = L(3, 2, 8, 32, 16, 1, ARCH_ACT_HSWISH);    /* expand, stride 2 */
    a.layers[2] = L(5, 1, 16, 48, 16, 1, ARCH_ACT_HSWISH);   /* residual, sq 16 */
    a.layers[3] = L(3, 1, 16, 40, 24, 0, ARCH_ACT_RELU);     /* no SE */
    a.n_layers = 4;
    a.head = (struct arch_head){.conv_out = 32, .conv_act = ARCH_ACT_HSWISH, .fc_hidden = 24,
                                .fc_act = ARCH_ACT_HSWISH, .dropout = 0.2f};
    return a;
}

/* No SE; a residual layer without expand inside a group; the head is the
 * classifier alone (fc_hidden selects whether an FC sits between). */
static struct arch arch_plain(int fc_hidden)
{
    struct arch a = {.name = "t-plain", .in_h = 10, .in_w = 10, .in_c = 2, .classes = 4};
    a.stem = (struct arch_stem){.k = 3, .stride = 2, .out = 8, .act = ARCH_ACT_RELU};
    a.layers[0] = L(3, 1, 8, 24, 16, 0, ARCH_ACT_RELU);
    a.layers[1] = L(3, 1, 16, 16, 16, 0, ARCH_ACT_HSWISH); /* residual, no expand */
    a.layers[2] = L(5, 1, 16, 40, 16, 0, ARCH_ACT_RELU6);  /* residual, expand */
    a.n_layers = 3;
    a.head = (struct arch_head){.fc_hidden = fc_hidden, .fc_act = ARCH_ACT_RELU};
    return a;
}

static void fill(float *p, size_t n, struct pcg32 *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * pcg32_float(rng);
}

/* A TRAIN net with He-normal weights and non-trivial BN and biases. */
static struct nn_net *random_net(const struct arch *a, uint64_t seed)
{
    static const char *bns[] = {"bn", "expand.bn", "dw.bn", "project.bn", "conv.bn"};
    static const char *biases[] = {"se.b1", "se.b2", "fc1.b", "fc2.b"};
    struct nn_net *net;
    struct hw_err err;
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 7);
    ck_assert_int_eq(nn_net_create(&net, a, BATCH, NN_MODE_TRAIN, &err), HW_OK);
    nn_net_init_params(net, &rng);
    for (int u = 0; u < nn_net_n_units(net); u++) {
        struct nn_tensor t;
        for (size_t i = 0; i < sizeof bns / sizeof bns[0]; i++) {
            char name[32];
            static const char *part[] = {".g", ".b", ".mean", ".var"};
            static const float lo[] = {0.5f, -0.5f, -0.5f, 0.5f}, hi[] = {1.5f, 0.5f, 0.5f, 1.5f};
            for (int j = 0; j < 4; j++) {
                snprintf(name, sizeof name, "%s%s", bns[i], part[j]);
                if (nn_net_tensor(net, u, name, &t, &err) == HW_OK)
                    fill(t.data, t.size, &rng, lo[j], hi[j]);
            }
        }
        for (size_t i = 0; i < sizeof biases / sizeof biases[0]; i++)
            if (nn_net_tensor(net, u, biases[i], &t, &err) == HW_OK)
                fill(t.data, t.size, &rng, -0.3f, 0.3f);
    }
    return net;
}

static struct nn_net *copy_net(struct nn_net *src)
{
    struct nn_net *net;
    struct hw_err err;
    ck_assert_int_eq(nn_net_create(&net, nn_net_arch(src), BATCH, NN_MODE_TRAIN, &err), HW_OK);
    memcpy(nn_net_params(net), nn_net_params(src), nn_net_n_params(src) * sizeof(float));
    memcpy(nn_net_state(net), nn_net_state(src), nn_net_n_state(src) * sizeof(float));
    return net;
}

static int kept(const struct na_keep *k, int c)
{
    for (int i = 0; i < k->n; i++)
        if (k->idx[i] == c)
            return 1;
    return 0;
}

/* Zeros the named rows (axis 0) of unit u's tensor for channels not in k. */
static void zero_removed(struct nn_net *net, int u, const char *name, const struct na_keep *k)
{
    struct nn_tensor t;
    struct hw_err err;
    if (!k->idx || nn_net_tensor(net, u, name, &t, &err) != HW_OK)
        return;
    size_t row = t.size / (size_t)t.shape[0];
    for (int c = 0; c < t.shape[0]; c++)
        if (!kept(k, c))
            memset(t.data + (size_t)c * row, 0, row * sizeof(float));
}

static void zero_bn(struct nn_net *net, int u, const char *bn, const struct na_keep *k)
{
    char name[32];
    snprintf(name, sizeof name, "%s.g", bn);
    zero_removed(net, u, name, k);
    snprintf(name, sizeof name, "%s.b", bn);
    zero_removed(net, u, name, k);
}

/* The untrimmed net with p's removed channels masked (see the top comment). */
static struct nn_net *masked_net(struct nn_net *src, const struct na_plan *p)
{
    struct nn_net *net = copy_net(src);
    for (int u = 0; u <= p->from.n_layers; u++) {
        zero_bn(net, u, u == 0 ? "bn" : "project.bn", &p->width[u]);
        if (u == 0)
            continue;
        zero_bn(net, u, "expand.bn", &p->mid[u]);
        zero_bn(net, u, "dw.bn", &p->mid[u]);
        zero_removed(net, u, "se.w1", &p->sq[u]);
        zero_removed(net, u, "se.b1", &p->sq[u]);
    }
    return net;
}

/* Logits (BATCH, classes) of a TRAIN net folded to INFER, into out. */
static void logits(struct nn_net *train, const float *x, float *out)
{
    struct nn_net *inf;
    struct hw_err err;
    ck_assert_int_eq(nn_net_create(&inf, nn_net_arch(train), BATCH, NN_MODE_INFER, &err), HW_OK);
    ck_assert_int_eq(nn_net_fold_from(inf, train, &err), HW_OK);
    memcpy(out, nn_net_forward(inf, x, BATCH, NULL),
           BATCH * (size_t)nn_net_arch(train)->classes * sizeof(float));
    nn_net_free(inf);
}

/* Trims src and checks the equivalence; also that the mask mattered, so the
 * comparison can fail. */
static void check_trim(const struct arch *a, enum na_kind kind, int unit, int channels)
{
    struct hw_err err;
    struct pcg32 rng;
    struct nn_net *src = random_net(a, 11 + unit), *trimmed;
    struct na_plan p;
    ck_assert_msg(netadapt_plan(src, kind, unit, channels, &p, &err) == HW_OK, "%s", err.msg);
    ck_assert_msg(netadapt_plan_apply(src, &p, BATCH, &trimmed, &err) == HW_OK, "%s", err.msg);
    struct nn_net *masked = masked_net(src, &p);
    int nx = BATCH * a->in_h * a->in_w * a->in_c, nc = BATCH * a->classes;
    float *x = malloc(nx * sizeof(float)), got[nc], want[nc], orig[nc];
    pcg32_seed(&rng, 5, 5);
    fill(x, nx, &rng, -1.5f, 1.5f);
    logits(trimmed, x, got);
    logits(masked, x, want);
    logits(src, x, orig);
    double moved = 0;
    for (int i = 0; i < nc; i++) {
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f + 1e-4f * fabsf(want[i]),
                      "kind %d unit %d -> %d: logit %d got %.7g want %.7g", kind, unit, channels,
                      i, got[i], want[i]);
        moved = fmax(moved, fabsf(orig[i] - want[i]));
    }
    ck_assert_msg(moved > 1e-3, "masking changed nothing (%g)", moved);
    ck_assert_int_eq(netadapt_channels(nn_net_arch(trimmed), kind, unit), channels);
    free(x);
    nn_net_free(masked);
    nn_net_free(trimmed);
    nn_net_free(src);
    netadapt_plan_release(&p);
}

START_TEST(test_groups)
{
    struct na_group g[ARCH_MAX_LAYERS + 1];
    struct arch a = arch_se();
    ck_assert_int_eq(netadapt_groups(&a, g), 3);
    ck_assert_int_eq(g[0].first, 0);
    ck_assert_int_eq(g[0].last, 1);
    ck_assert_int_eq(g[1].first, 2);
    ck_assert_int_eq(g[1].last, 3);
    ck_assert_int_eq(g[2].first, 4);
    ck_assert_int_eq(g[2].last, 4);
    a = arch_plain(0);
    ck_assert_int_eq(netadapt_groups(&a, g), 2);
    ck_assert_int_eq(g[1].first, 1);
    ck_assert_int_eq(g[1].last, 3);
}
END_TEST

START_TEST(test_trim_arch)
{
    struct arch a = arch_se(), b;
    struct hw_err err;
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_BOTTLENECK, 2, 8, &b, &err), HW_OK);
    ck_assert_int_eq(b.layers[1].out, 8);
    ck_assert_int_eq(b.layers[2].in, 8);
    ck_assert_int_eq(b.layers[2].out, 8);
    ck_assert_int_eq(b.layers[3].in, 8);
    ck_assert_int_eq(b.layers[2].mid, 48);
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_BOTTLENECK, 0, 4, &b, &err), HW_OK);
    ck_assert_int_eq(b.stem.out, 4);
    ck_assert_int_eq(b.layers[0].mid, 4);
    ck_assert_int_eq(b.layers[1].in, 4);
    /* mid == in would drop the expand conv of units 4 and 3 */
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 4, 16, &b, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "expand conv"));
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 3, 16, &b, &err), HW_EINVAL);
    /* unit 4 at 16 -> 16, stride 1 would become residual */
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_BOTTLENECK, 4, 16, &b, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "residual"));
    /* not targets: unit 1 has no expand; unit 3 does not start a group; 32 is not < 32 */
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 1, 4, &b, &err), HW_EINVAL);
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_BOTTLENECK, 3, 8, &b, &err), HW_EINVAL);
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 2, 32, &b, &err), HW_EINVAL);
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 2, 0, &b, &err), HW_EINVAL);
    /* a consumer's in reaching its mid would drop its expand conv */
    a.layers[3].mid = 8;
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_BOTTLENECK, 2, 8, &b, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "unit 4"));
}
END_TEST

START_TEST(test_expand_se)
{
    struct arch a = arch_se();
    check_trim(&a, NA_EXPAND, 3, 32); /* squeeze 16 -> 8 */
    check_trim(&a, NA_EXPAND, 3, 40); /* squeeze kept */
    check_trim(&a, NA_EXPAND, 2, 16);
    check_trim(&a, NA_EXPAND, 4, 24); /* no SE */
    a.layers[2].sq = 12; /* explicit squeeze: kept (40 -> rule 16), capped (32 -> 8) */
    check_trim(&a, NA_EXPAND, 3, 40);
    check_trim(&a, NA_EXPAND, 3, 32);
    struct arch b;
    struct hw_err err;
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 3, 40, &b, &err), HW_OK);
    ck_assert_int_eq(arch_layer_squeeze(&b.layers[2]), 12);
    ck_assert_int_eq(netadapt_trim_arch(&a, NA_EXPAND, 3, 32, &b, &err), HW_OK);
    ck_assert_int_eq(arch_layer_squeeze(&b.layers[2]), 8);
}
END_TEST

START_TEST(test_expand_plain)
{
    struct arch a = arch_plain(12);
    check_trim(&a, NA_EXPAND, 1, 16);
    check_trim(&a, NA_EXPAND, 3, 24);
}
END_TEST

START_TEST(test_bottleneck_se)
{
    struct arch a = arch_se();
    check_trim(&a, NA_BOTTLENECK, 0, 5); /* stem + a layer without expand */
    check_trim(&a, NA_BOTTLENECK, 2, 8); /* residual pair with SE */
    check_trim(&a, NA_BOTTLENECK, 4, 8); /* into the head conv */
}
END_TEST

START_TEST(test_bottleneck_plain)
{
    struct arch a = arch_plain(12); /* into fc1 */
    check_trim(&a, NA_BOTTLENECK, 1, 12);
    check_trim(&a, NA_BOTTLENECK, 0, 4);
    a = arch_plain(0); /* straight into the classifier */
    check_trim(&a, NA_BOTTLENECK, 1, 12);
}
END_TEST

/* Kept channels: the largest L2 norm (expand) and the largest sum of norms
 * over the group's producers (bottleneck), in original order. */
START_TEST(test_plan_choice)
{
    struct arch a = arch_plain(0);
    struct nn_net *net = random_net(&a, 3);
    struct nn_tensor t;
    struct hw_err err;
    struct na_plan p;
    /* unit 1 expand.w (24, 8): row r has norm proportional to (r * 7) % 24 */
    ck_assert_int_eq(nn_net_tensor(net, 1, "expand.w", &t, &err), HW_OK);
    for (int r = 0; r < 24; r++)
        for (int c = 0; c < 8; c++)
            t.data[r * 8 + c] = (c % 2 ? -1.f : 1.f) * (float)((r * 7) % 24);
    ck_assert_int_eq(netadapt_plan(net, NA_EXPAND, 1, 16, &p, &err), HW_OK);
    ck_assert_int_eq(p.mid[1].n, 16);
    for (int i = 0, prev = -1; i < 16; i++) {
        int r = p.mid[1].idx[i];
        ck_assert_int_ge((r * 7) % 24, 8);
        ck_assert_int_gt(r, prev);
        prev = r;
    }
    netadapt_plan_release(&p);
    /* group units 1..3: producer norms per channel c: unit 1: c, unit 2: 15-c,
     * unit 3: 2 for c in {3, 9}; sums are 15 except 17 at 3 and 9. */
    for (int u = 1; u <= 3; u++) {
        ck_assert_int_eq(nn_net_tensor(net, u, "project.w", &t, &err), HW_OK);
        int cols = t.shape[1];
        for (int r = 0; r < 16; r++) {
            float v = u == 1 ? r : u == 2 ? 15 - r : (r == 3 || r == 9) ? 2 : 0;
            for (int c = 0; c < cols; c++)
                t.data[r * cols + c] = c == 0 ? v : 0.f;
        }
    }
    ck_assert_int_eq(netadapt_plan(net, NA_BOTTLENECK, 1, 2, &p, &err), HW_OK);
    ck_assert_int_eq(p.width[1].n, 2);
    ck_assert_int_eq(p.width[1].idx[0], 3);
    ck_assert_int_eq(p.width[1].idx[1], 9);
    ck_assert_int_eq(p.width[3].idx[1], 9);
    ck_assert_int_eq(p.mid[2].idx[0], 3); /* unit 2 has no expand: mid follows */
    ck_assert_ptr_null(p.mid[3].idx);
    netadapt_plan_release(&p);
    nn_net_free(net);
}
END_TEST

/* ---- the algorithm, with a fake latency (MACs / 1e5 "ms") and fake
 * accuracies per proposal index ---- */

struct fake {
    double acc[NA_MAX_PROPOSALS], loss[NA_MAX_PROPOSALS];
    int calls;
    struct arch seen[NA_MAX_PROPOSALS];
};

static double fake_ms(const struct arch *a) { return (double)arch_cost(a).macs / 1e5; }

static int fake_latency(void *ctx, const struct arch *a, double *ms, struct hw_err *err)
{
    *ms = fake_ms(a);
    return HW_OK;
}

static int fake_tune(void *ctx, struct nn_net *net, int iteration, int proposal,
                     struct na_eval *out, struct hw_err *err)
{
    struct fake *f = ctx;
    f->seen[f->calls++] = *nn_net_arch(net);
    *out = (struct na_eval){f->acc[proposal], f->loss[proposal]};
    return HW_OK;
}

/* The proposal the rule picks by q0 and the proposals' qualities q. */
static int rule_choice(const struct na_iteration *it, double q0, double lat0, const double *q)
{
    int best = -1;
    double best_score = 0;
    for (int i = 0; i < it->n; i++) {
        double s = (q0 - q[i] + 1e-6) / (lat0 - it->props[i].latency_ms + 1e-5);
        if (best < 0 || s < best_score)
            best = i, best_score = s;
    }
    return best;
}

START_TEST(test_iterate_choice)
{
    struct arch a = arch_se();
    struct nn_net *net = random_net(&a, 9);
    struct fake f = {.calls = 0};
    struct na_ops ops = {fake_latency, NULL, fake_tune, &f, NULL, NULL, NA_SCORE_ACC};
    struct na_iteration it;
    struct hw_err err;
    double lat0 = fake_ms(&a), cut = 0.04 * lat0;
    struct na_eval e0 = {0.85, 0.4};
    /* losses ranked unlike the accuracies */
    for (int i = 0; i < NA_MAX_PROPOSALS; i++) {
        f.acc[i] = 0.8 + 0.01 * ((i * 5) % 7);
        f.loss[i] = 0.45 + 0.01 * ((i * 3) % 4);
    }
    ck_assert_msg(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &it, &err) == HW_OK,
                  "%s", err.msg);
    /* targets: expand units 2, 3, 4; groups starting at 0, 2, 4 */
    ck_assert_int_ge(it.n, 3);
    ck_assert_int_eq(f.calls, it.n);
    for (int i = 0; i < it.n; i++) {
        const struct na_proposal *p = &it.props[i];
        struct arch t;
        /* the largest multiple of 8 meeting the constraint: the next one up
         * (structurally valid) does not */
        ck_assert_int_eq(p->channels_after % 8, 0);
        ck_assert_int_eq(netadapt_trim_arch(&a, p->kind, p->unit, p->channels_after, &t, &err),
                         HW_OK);
        ck_assert(fake_ms(&t) <= lat0 - cut);
        ck_assert_double_eq_tol(p->latency_ms, fake_ms(&t), 1e-12);
        ck_assert(arch_equal(&f.seen[i], &t));
        for (int c = p->channels_after + 8; c < p->channels_before; c += 8)
            if (netadapt_trim_arch(&a, p->kind, p->unit, c, &t, &err) == HW_OK)
                ck_assert(fake_ms(&t) > lat0 - cut);
        ck_assert(p->eval.acc == f.acc[i] && p->eval.loss == f.loss[i]);
    }
    int best = rule_choice(&it, e0.acc, lat0, f.acc);
    ck_assert_int_eq(it.chosen, best);
    ck_assert(arch_equal(nn_net_arch(it.net), &f.seen[best]));
    nn_net_free(it.net);
    /* by loss: the quality is minus the loss; accuracy's choice lost most */
    f.loss[best] = 1.5;
    double neg_loss[NA_MAX_PROPOSALS];
    for (int i = 0; i < NA_MAX_PROPOSALS; i++)
        neg_loss[i] = -f.loss[i];
    ops.score = NA_SCORE_LOSS;
    f.calls = 0;
    ck_assert_int_eq(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &it, &err), HW_OK);
    int by_loss = rule_choice(&it, -e0.loss, lat0, neg_loss);
    ck_assert_int_eq(it.chosen, by_loss);
    ck_assert_int_ne(by_loss, best); /* the fake's losses pick another proposal */
    ck_assert(arch_equal(nn_net_arch(it.net), &f.seen[by_loss]));
    nn_net_free(it.net);
    ops.score = NA_SCORE_ACC;
    /* the rule prefers a smaller accuracy loss per ms saved: a proposal
     * losing 0.01 for 2 ms beats one losing 0.004 for 0.5 ms */
    ck_assert(netadapt_score(0.9, 10, 0.89, 8) < netadapt_score(0.9, 10, 0.896, 9.5));
    /* nothing can cut 90 % */
    ck_assert_int_eq(netadapt_iterate(net, lat0, &e0, 0.9 * lat0, 4, BATCH, &ops, &it, &err),
                     HW_ENOTFOUND);
    ck_assert_ptr_null(it.net);
    nn_net_free(net);
}
END_TEST

/* A farm as MPI workers would be: trims and tunes here, but reports the
 * proposals last first (and, by mode, one twice or one never). */
struct fake_farm {
    struct fake *f;
    int mode; /* 0: all, last first; 1: proposal 0 twice; 2: proposal 0 never */
};

static int fake_farm(void *ctx, struct nn_net *cur, int iteration, int max_batch,
                     const struct na_proposal *props, int n, na_done_fn done, void *dctx,
                     struct hw_err *err)
{
    struct fake_farm *ff = ctx;
    for (int k = 0; k <= n; k++) {
        int i = k == n ? 0 : n - 1 - k;
        if ((k == n && ff->mode != 1) || (ff->mode == 2 && i == 0))
            continue;
        struct nn_net *net;
        struct na_eval e;
        void *bytes;
        size_t len;
        int rc = netadapt_trim(cur, props[i].kind, props[i].unit, props[i].channels_after,
                               max_batch, &net, err);
        rc = rc ? rc : fake_tune(ff->f, net, iteration, i, &e, err);
        rc = rc ? rc : model_to_bytes(net, &bytes, &len, err);
        nn_net_free(net);
        if (!rc) {
            rc = done(dctx, i, &e, bytes, len, err);
            free(bytes);
        }
        if (rc)
            return rc;
    }
    return HW_OK;
}

/* Proposals farmed out and reported in any order give the serial choice,
 * accuracies and chosen net; a proposal reported twice or never is an error. */
START_TEST(test_iterate_farmed)
{
    struct arch a = arch_se();
    struct nn_net *net = random_net(&a, 9);
    struct fake f = {.calls = 0};
    struct na_ops ops = {fake_latency, NULL, fake_tune, &f, NULL, NULL, NA_SCORE_LOSS};
    struct na_iteration serial, farmed;
    struct hw_err err;
    double lat0 = fake_ms(&a), cut = 0.04 * lat0;
    struct na_eval e0 = {0.85, 0.4};
    /* accuracies repeat every 5 proposals */
    for (int i = 0; i < NA_MAX_PROPOSALS; i++) {
        f.acc[i] = 0.8 + 0.01 * ((i * 3) % 5);
        f.loss[i] = 0.45 + 0.01 * ((i * 2) % 5);
    }
    /* a NaN loss is the worst, wherever it comes in the order */
    f.loss[0] = NAN;
    ck_assert_int_eq(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &serial, &err),
                     HW_OK);
    struct fake_farm ff = {&f, 0};
    ops.farm = fake_farm;
    ops.farm_ctx = &ff;
    ck_assert_msg(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &farmed, &err) ==
                      HW_OK, "%s", err.msg);
    ck_assert_int_ge(serial.n, 3);
    ck_assert_int_ne(serial.chosen, 0);
    ck_assert_int_eq(farmed.n, serial.n);
    ck_assert_int_eq(farmed.chosen, serial.chosen);
    for (int i = 0; i < serial.n; i++) {
        ck_assert_double_eq(farmed.props[i].eval.acc, serial.props[i].eval.acc);
        ck_assert(farmed.props[i].eval.loss == serial.props[i].eval.loss || i == 0);
        ck_assert_double_eq(farmed.props[i].score, serial.props[i].score);
    }
    void *b1, *b2;
    size_t l1, l2;
    ck_assert_int_eq(model_to_bytes(serial.net, &b1, &l1, &err), HW_OK);
    ck_assert_int_eq(model_to_bytes(farmed.net, &b2, &l2, &err), HW_OK);
    ck_assert_uint_eq(l1, l2);
    ck_assert_int_eq(memcmp(b1, b2, l1), 0);
    free(b1);
    free(b2);
    nn_net_free(serial.net);
    nn_net_free(farmed.net);
    ff.mode = 1;
    ck_assert_int_eq(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &farmed, &err),
                     HW_EINVAL);
    ck_assert_msg(strstr(err.msg, "proposal 0 came back twice"), "%s", err.msg);
    ck_assert_ptr_null(farmed.net);
    ff.mode = 2;
    ck_assert_int_eq(netadapt_iterate(net, lat0, &e0, cut, 3, BATCH, &ops, &farmed, &err),
                     HW_EINVAL);
    ck_assert_msg(strstr(err.msg, "proposals came back"), "%s", err.msg);
    ck_assert_ptr_null(farmed.net);
    nn_net_free(net);
}
END_TEST

START_TEST(test_proposal_units)
{
    char buf[32];
    struct na_proposal p = {.kind = NA_BOTTLENECK, .unit = 2, .first = 2, .last = 4};
    netadapt_proposal_units(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "2,3,4");
    p = (struct na_proposal){.kind = NA_EXPAND, .unit = 5, .first = 5, .last = 5};
    netadapt_proposal_units(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "5");
}
END_TEST

/* ---- runs: state blob and resume ---- */

START_TEST(test_state_codec)
{
    struct na_state s = {.iteration = 7, .latency_ms = 0.125, .eval = {0.875, 0.375}}, t;
    struct hw_err err;
    char *json;
    size_t len;
    snprintf(s.model, sizeof s.model, "/tmp/x \"y\".hwm");
    ck_assert_int_eq(netadapt_state_encode(&s, &json, &len, &err), HW_OK);
    ck_assert_int_eq(netadapt_state_decode(json, len, &t, &err), HW_OK);
    ck_assert_int_eq(t.iteration, 7);
    ck_assert_str_eq(t.model, s.model);
    ck_assert(t.latency_ms == 0.125 && t.eval.acc == 0.875 && t.eval.loss == 0.375);
    free(json);
    /* a state from before losses were stored */
    const char *old = "{\"version\":1,\"iteration\":1,\"model\":\"m\",\"latency_ms\":1,\"acc\":0.5}";
    ck_assert_int_eq(netadapt_state_decode(old, strlen(old), &t, &err), HW_OK);
    ck_assert(t.eval.acc == 0.5 && isnan(t.eval.loss));
    static const char *bad[] = {
        "[]", "{\"version\":1,\"iteration\":1,\"model\":\"m\",\"latency_ms\":1}",
        "{\"version\":2,\"iteration\":1,\"model\":\"m\",\"latency_ms\":1,\"acc\":1}",
        "{\"version\":1,\"iteration\":1.5,\"model\":\"m\",\"latency_ms\":1,\"acc\":1}",
        "{\"version\":1,\"iteration\":1,\"model\":3,\"latency_ms\":1,\"acc\":1}",
        "{\"version\":1,\"iteration\":1,\"model\":\"m\",\"latency_ms\":1,\"acc\":1,\"x\":0}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_int_eq(netadapt_state_decode(bad[i], strlen(bad[i]), &t, &err), HW_EINVAL);
}
END_TEST

/* Accuracy a deterministic function of the arch, so two runs choose alike. */
static int arch_tune(void *ctx, struct nn_net *net, int iteration, int proposal,
                     struct na_eval *out, struct hw_err *err)
{
    const struct arch *a = nn_net_arch(net);
    out->acc = 0.5 + 0.4 * (double)(arch_hash(a) % 1000) / 1000.0;
    out->loss = 1.5 - out->acc;
    return HW_OK;
}

/* Runs NetAdapt id to the target, stopping after `stop` iterations per call
 * (0: never) as a crash would; returns the number of calls. */
static int run_to_end(struct db *db, int64_t id, const char *dir, int stop, struct arch *final)
{
    struct na_ops ops = {fake_latency, NULL, arch_tune, NULL};
    struct na_run_config cfg = {.max_batch = BATCH, .workdir = dir, .max_iterations = stop,
                                .quiet = 1};
    struct na_state st;
    struct nn_net *net;
    struct hw_err err;
    struct db_netadapt r;
    int calls = 0;
    double target;
    ck_assert_int_eq(db_netadapt_get(db, id, &r, &err), HW_OK);
    target = r.target_ms;
    db_netadapt_release(&r);
    do {
        ck_assert_msg(netadapt_run(db, id, &cfg, &ops, &net, &st, &err) == HW_OK, "%s", err.msg);
        *final = *nn_net_arch(net);
        nn_net_free(net);
        calls++;
        ck_assert_int_eq(db_netadapt_get(db, id, &r, &err), HW_OK);
        ck_assert_int_eq(r.iterations, st.iteration);
        ck_assert_str_eq(r.current_model, st.model);
        db_netadapt_release(&r);
    } while (st.latency_ms > target && calls < 50);
    return calls;
}

/* A temporary folder with a random arch_se() model at src and an open
 * database; remove_fixture() deletes both. */
static struct db *open_fixture(char *dir, char *src, int src_size)
{
    char dbp[64];
    struct hw_err err;
    struct db *db;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(src, (size_t)src_size, "%s/src.hwm", dir);
    snprintf(dbp, sizeof dbp, "%s/t.db", dir);
    struct arch a = arch_se();
    struct nn_net *net = random_net(&a, 4);
    ck_assert_int_eq(model_save(src, net, &err), HW_OK);
    nn_net_free(net);
    ck_assert_msg(db_open(&db, dbp, 0, &err) == HW_OK, "%s", err.msg);
    return db;
}

static void remove_fixture(struct db *db, const char *dir)
{
    db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_run_resume)
{
    char dir[] = "/tmp/hwnas-na-XXXXXX", src[64];
    struct db *db = open_fixture(dir, src, sizeof src);
    struct arch a = arch_se();
    struct hw_err err;
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        struct db_netadapt r = {.target_ms = 0.7 * fake_ms(&a), .delta = 0.03,
                                .initial_ms = fake_ms(&a)};
        snprintf(r.source_model, sizeof r.source_model, "%s", src);
        ck_assert_msg(db_netadapt_create(db, &r, &err) == HW_OK, "%s", err.msg);
        ids[i] = r.id;
    }
    struct arch whole, resumed;
    ck_assert_int_eq(run_to_end(db, ids[0], dir, 0, &whole), 1);
    /* one iteration per call: every call after the first resumes */
    int calls = run_to_end(db, ids[1], dir, 1, &resumed);
    struct db_na_step *sa, *sb;
    int na, nb;
    ck_assert_int_eq(db_netadapt_steps(db, ids[0], &sa, &na, &err), HW_OK);
    ck_assert_int_eq(db_netadapt_steps(db, ids[1], &sb, &nb, &err), HW_OK);
    ck_assert_int_ge(calls, 3);
    ck_assert_int_eq(na, nb);
    ck_assert(arch_equal(&whole, &resumed));
    ck_assert(fake_ms(&whole) <= 0.7 * fake_ms(&a));
    for (int i = 0; i < na; i++) {
        ck_assert_int_eq(sa[i].iteration, sb[i].iteration);
        ck_assert_int_eq(sa[i].proposal, sb[i].proposal);
        ck_assert_int_eq(sa[i].channels_after, sb[i].channels_after);
        ck_assert_int_eq(sa[i].chosen, sb[i].chosen);
        ck_assert_str_eq(sa[i].layers, sb[i].layers);
    }
    ck_assert_int_eq(sb[nb - 1].iteration, calls - 1);
    free(sa);
    free(sb);
    remove_fixture(db, dir);
}
END_TEST

/* A step larger than any one proposal can make: the run takes smaller cuts
 * and still reaches the target (it used to stop short, stuck). */
START_TEST(test_run_small_steps)
{
    char dir[] = "/tmp/hwnas-na-XXXXXX", src[64];
    struct db *db = open_fixture(dir, src, sizeof src);
    struct arch a = arch_se();
    struct hw_err err;
    struct db_netadapt r = {.target_ms = 0.6 * fake_ms(&a), .delta = 0.35,
                            .initial_ms = fake_ms(&a)};
    snprintf(r.source_model, sizeof r.source_model, "%s", src);
    ck_assert_msg(db_netadapt_create(db, &r, &err) == HW_OK, "%s", err.msg);
    /* no single proposal cuts 35 % of this net */
    struct na_ops ops = {fake_latency, NULL, arch_tune, NULL};
    struct na_proposal props[NA_MAX_PROPOSALS];
    int n;
    ck_assert_int_eq(netadapt_proposals(&a, 0.65 * fake_ms(&a), &ops, props, &n, &err), HW_OK);
    ck_assert_int_eq(n, 0);
    struct arch final;
    run_to_end(db, r.id, dir, 0, &final);
    ck_assert(fake_ms(&final) <= 0.6 * fake_ms(&a));
    ck_assert_int_eq(db_netadapt_get(db, r.id, &r, &err), HW_OK);
    ck_assert_int_ge(r.iterations, 2);
    db_netadapt_release(&r);
    remove_fixture(db, dir);
}
END_TEST

Suite *suite_netadapt(void)
{
    Suite *s = suite_create("netadapt");
    struct {
        const char *name;
        const TTest *tests[3];
    } cases[] = {
        {"netadapt_groups", {test_groups}},
        {"netadapt_trim_arch", {test_trim_arch}},
        {"netadapt_plan", {test_plan_choice}},
        {"netadapt_plan_apply", {test_expand_se, test_expand_plain, test_bottleneck_se}},
        {"netadapt_plan_apply_plain", {test_bottleneck_plain}},
        {"netadapt_iterate", {test_iterate_choice, test_iterate_farmed}},
        {"netadapt_proposal_units", {test_proposal_units}},
        {"netadapt_state", {test_state_codec}},
        {"netadapt_run", {test_run_resume, test_run_small_steps}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        for (int j = 0; j < 3 && cases[i].tests[j]; j++)
            tcase_add_test(tc, cases[i].tests[j]);
        suite_add_tcase(s, tc);
    }
    return s;
}
