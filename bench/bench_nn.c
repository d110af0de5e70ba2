/* nn engine figures:
 *  (a) inference latency of MobileNetV3-Large/-Small at 224x224x3, batch 1,
 *      one thread: median and min over many runs after warm-up; the 1x1 convs'
 *      achieved GFLOP/s beside raw sgemm on the same shapes; every op timed
 *      inside whole passes, summed by kind (OPS=1 prints each op, PW_SHAPES=1
 *      each 1x1 shape);
 *      the batch-1 FC and SE layers' weight-streaming rate beside a plain
 *      read of as many bytes as the net's weights, warm (cached) and cold
 *      (after 128 MB of other reads);
 *  (b) training throughput of fmnist-ref at batch 128 on 2 threads
 *      (forward + backward + a plain SGD step), images/s.
 * OpenBLAS picks its kernels at load time: run with OPENBLAS_CORETYPE=SkylakeX
 * to compare cores; the core in use is printed.
 * Usage: bench_nn [runs] (default 200) | bench_nn train [steps] (training only,
 * default 20 steps). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/net.h"
#include "space/arch.h"
#include "space/refs.h"
#include "util/timer.h"

/* The nets as the CLI knows them (space/refs.c), so the figures here are
 * those of `hwnas latency NAME`. */
static struct arch reference(const char *name)
{
    struct arch a;
    struct hw_err err;
    if (arch_reference(name, NULL, &a, &err)) {
        fprintf(stderr, "bench_nn: %s\n", err.msg);
        exit(1);
    }
    return a;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and min (ms) of `runs` calls of fn after `warm` calls. */
static void time_runs(void (*fn)(void *), void *ctx, int warm, int runs, double *med, double *min)
{
    double t[runs];
    for (int i = 0; i < warm; i++)
        fn(ctx);
    for (int i = 0; i < runs; i++) {
        uint64_t t0 = timer_now_ns();
        fn(ctx);
        t[i] = (timer_now_ns() - t0) / 1e6;
    }
    qsort(t, runs, sizeof t[0], cmp_double);
    *med = t[runs / 2];
    *min = t[0];
}

struct infer_ctx {
    struct nn_net *net;
    const float *x;
};
static void run_infer(void *p)
{
    struct infer_ctx *c = p;
    nn_net_forward(c->net, c->x, 1, NULL);
}

struct mm_ctx {
    float *y, *x, *w, *b, *wp;
    int m, cin, cout, raw;
};
static void run_mm(void *p)
{
    struct mm_ctx *c = p;
    if (c->raw)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->m, c->cout, c->cin, 1.f, c->x,
                    c->cin, c->w, c->cin, 0.f, c->y, c->cout);
    else
        nn_pw_forward(c->y, c->x, c->wp, c->b, NULL, NN_ACT_HSWISH, c->m, c->cin, c->cout);
}

/* Every 1x1 conv of the arch at batch 1: sums of median times (ms) of the nn
 * kernel (with its bias + h-swish epilogue) and of raw sgemm; returns flops. */
static double pointwise_shapes(const struct arch *a, double *t_nn, double *t_raw, int runs)
{
    int shapes[2 * ARCH_MAX_LAYERS + 2][3], n = 0;
    int h = arch_conv_out_size(a->in_h, a->stem.k, a->stem.stride);
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        if (l->mid != l->in)
            shapes[n][0] = h * h, shapes[n][1] = l->in, shapes[n++][2] = l->mid;
        h = arch_conv_out_size(h, l->k, l->stride);
        shapes[n][0] = h * h, shapes[n][1] = l->mid, shapes[n++][2] = l->out;
    }
    shapes[n][0] = h * h, shapes[n][1] = a->layers[a->n_layers - 1].out;
    shapes[n++][2] = a->head.conv_out;
    double flops = 0, med, min;
    *t_nn = *t_raw = 0;
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 1);
    for (int s = 0; s < n; s++) {
        int m = shapes[s][0], cin = shapes[s][1], cout = shapes[s][2];
        struct mm_ctx c = {malloc(sizeof(float) * m * cout), malloc(sizeof(float) * m * cin),
                           malloc(sizeof(float) * cout * cin), malloc(sizeof(float) * cout),
                           malloc(sizeof(float) * nn_pw_packed_size(cin, cout)), m, cin, cout, 0};
        for (int i = 0; i < m * cin; i++)
            c.x[i] = pcg32_float(&rng) - 0.5f;
        for (int i = 0; i < cout * cin; i++)
            c.w[i] = pcg32_float(&rng) - 0.5f;
        for (int i = 0; i < cout; i++)
            c.b[i] = 0.1f;
        nn_pw_pack(c.wp, c.w, NULL, cin, cout);
        double t_nn_before = *t_nn;
        time_runs(run_mm, &c, 5, runs, &med, &min);
        *t_nn += med;
        c.raw = 1;
        time_runs(run_mm, &c, 5, runs, &med, &min);
        *t_raw += med;
        if (getenv("PW_SHAPES"))
            printf("  1x1 m %5d cin %4d cout %4d: nn %.1f  raw %.1f GFLOP/s\n", m, cin, cout,
                   2.0 * m * cin * cout / (*t_nn - t_nn_before) / 1e6, 2.0 * m * cin * cout / med / 1e6);
        flops += 2.0 * m * cin * cout;
        free(c.y), free(c.x), free(c.w), free(c.b), free(c.wp);
    }
    return flops;
}

/* Best-of-20 GB/s of summing a buffer of `bytes` (four 64-byte streams).
 * Warm: pass after pass over the same buffer, so it stays in the caches
 * that hold it. Cold: 128 MB of other data read before each pass, as a
 * whole network's pass (weights and activations) evicts a layer's weights
 * before it runs again; the rate a weight-streaming kernel cannot beat. */
static double read_rate(size_t bytes, int cold)
{
    typedef float v16 __attribute__((vector_size(64)));
    size_t n = bytes / 256 * 64, ne = cold ? (128u << 20) / sizeof(float) : 0;
    float *a = aligned_alloc(64, n * sizeof(float) + 64);
    float *ev = ne ? aligned_alloc(64, ne * sizeof(float)) : NULL;
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i & 1023) * 1e-3f;
    for (size_t i = 0; i < ne; i++)
        ev[i] = 1.f;
    double best = 1e30;
    v16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (int r = 0; r < 20; r++) {
        for (size_t i = 0; i < ne; i += 16)
            s1 += *(const v16 *)(ev + i);
        uint64_t t0 = timer_now_ns();
        for (size_t i = 0; i < n; i += 64) {
            s0 += *(const v16 *)(a + i), s1 += *(const v16 *)(a + i + 16);
            s2 += *(const v16 *)(a + i + 32), s3 += *(const v16 *)(a + i + 48);
        }
        double dt = (timer_now_ns() - t0) / 1e9;
        best = dt < best ? dt : best;
    }
    v16 s = s0 + s1 + s2 + s3;
    volatile float sink = s[0];
    (void)sink;
    free(a);
    free(ev);
    return n * sizeof(float) / best / 1e9;
}

/* Where the time goes: every op timed inside whole forward passes (so with
 * the caches as the pass leaves them, like XNNPACK's -p profile), the
 * median per op summed by kind; issue 3 quotes XNNPACK's shares (1x1 61 %,
 * depthwise 22 %, SE 6 %). OPS=1 in the environment prints every op. */
static void op_breakdown(struct nn_net *net, const float *x, int runs)
{
    static const char *const kinds[] = {"stem", "1x1", "dw", "se", "add", "pool", "fc"};
    enum { NK = sizeof kinds / sizeof kinds[0] };
    int n_ops = nn_net_n_ops(net);
    double *t = malloc(sizeof(double) * n_ops * runs), sum[NK + 1] = {0}, macs[NK + 1] = {0};
    double wts[NK + 1] = {0};
    double total = 0;
    int cnt[NK + 1] = {0};
    for (int r = -3; r < runs; r++) { /* three passes to warm up */
        nn_net_set_input(net, x, 1);
        for (int i = 0; i < n_ops; i++) {
            uint64_t t0 = timer_now_ns();
            nn_net_forward_op(net, i, 1);
            if (r >= 0)
                t[(size_t)i * runs + r] = (timer_now_ns() - t0) / 1e6;
        }
    }
    for (int i = 0; i < n_ops; i++) {
        struct nn_op_info info;
        nn_net_op_info(net, i, &info);
        qsort(t + (size_t)i * runs, runs, sizeof(double), cmp_double);
        double med = t[(size_t)i * runs + runs / 2];
        int k = 0;
        while (k < NK && strcmp(kinds[k], info.kind) != 0)
            k++;
        sum[k] += med, macs[k] += info.macs, wts[k] += info.weights, cnt[k]++, total += med;
        if (getenv("OPS"))
            printf("  op %3d unit %2d %-5s %8.1f us  %6.2f M MACs  %5.1f GFLOP/s\n", i, info.unit,
                   info.kind, med * 1e3, info.macs / 1e6, 2 * info.macs / med / 1e6);
    }
    printf("%-18s per op in sequence, sum of medians %.3f ms:", "", total);
    for (int k = 0; k <= NK; k++) {
        if (!cnt[k])
            continue;
        printf("  %s %.0f%% (%.2f ms", k < NK ? kinds[k] : "other", 100 * sum[k] / total, sum[k]);
        if (macs[k] > 0)
            printf(", %.0f GFLOP/s", 2 * macs[k] / sum[k] / 1e6);
        printf(")");
    }
    printf("\n");
    /* batch-1 FC and SE stream their weights: their rate beside a plain read */
    size_t bytes = 4 * nn_net_n_params(net);
    printf("%-18s weights streamed: fc %.1f MB at %.1f GB/s, se %.1f MB at %.1f GB/s; plain read "
           "of %.1f MB (the net's weights): %.1f GB/s warm, %.1f GB/s cold\n",
           "", 4 * wts[6] / 1e6, 4 * wts[6] / sum[6] / 1e6, 4 * wts[3] / 1e6,
           4 * wts[3] / sum[3] / 1e6, bytes / 1e6, read_rate(bytes, 0), read_rate(bytes, 1));
    free(t);
}

static void bench_infer(const struct arch *a, int runs)
{
    struct nn_net *net;
    struct hw_err err;
    if (nn_net_create(&net, a, 1, NN_MODE_INFER, &err) != HW_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    struct pcg32 rng;
    pcg32_seed(&rng, 42, 1);
    nn_net_init_params(net, &rng);
    size_t nx = (size_t)a->in_h * a->in_w * a->in_c;
    float *x = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++)
        x[i] = pcg32_float(&rng);
    struct infer_ctx c = {net, x};
    double med, min, t_nn, t_raw;
    time_runs(run_infer, &c, 20, runs, &med, &min);
    double flops = pointwise_shapes(a, &t_nn, &t_raw, runs / 4 > 20 ? runs / 4 : 20);
    printf("%-18s params %zu  latency median %.3f ms  min %.3f ms  (%d runs)\n", a->name,
           nn_net_n_params(net), med, min, runs);
    printf("%-18s 1x1 convs: %.2f MFLOP, nn %.3f ms = %.1f GFLOP/s, raw sgemm %.3f ms = %.1f "
           "GFLOP/s\n",
           "", flops / 1e6, t_nn, flops / t_nn / 1e6, t_raw, flops / t_raw / 1e6);
    op_breakdown(net, x, runs / 4 > 20 ? runs / 4 : 20);
    free(x);
    nn_net_free(net);
}

static void bench_train(int batch, int threads, int steps)
{
    struct arch a = reference("fmnist-ref");
    struct nn_net *net;
    struct hw_err err;
    if (nn_net_create(&net, &a, batch, NN_MODE_TRAIN, &err) != HW_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    nn_set_threads(threads);
    struct pcg32 rng;
    pcg32_seed(&rng, 7, 1);
    nn_net_init_params(net, &rng);
    size_t nx = (size_t)batch * 28 * 28;
    float *x = malloc(nx * sizeof(float));
    int *labels = malloc(batch * sizeof(int));
    for (size_t i = 0; i < nx; i++)
        x[i] = pcg32_float(&rng);
    for (int i = 0; i < batch; i++)
        labels[i] = (int)pcg32_bounded(&rng, 10);
    float *p = nn_net_params(net);
    const float *g = nn_net_grads(net);
    size_t np = nn_net_n_params(net);
    double t_fwd = 0, t_bwd = 0, t_sgd = 0;
    float loss = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        uint64_t t0 = timer_now_ns();
        nn_net_forward(net, x, batch, &rng);
        uint64_t t1 = timer_now_ns();
        nn_net_zero_grad(net);
        loss = nn_net_backward(net, labels, batch, 0.1f);
        uint64_t t2 = timer_now_ns();
        for (size_t i = 0; i < np; i++)
            p[i] -= 0.01f * g[i];
        uint64_t t3 = timer_now_ns();
        if (s >= 0)
            t_fwd += (t1 - t0) / 1e9, t_bwd += (t2 - t1) / 1e9, t_sgd += (t3 - t2) / 1e9;
    }
    double total = t_fwd + t_bwd + t_sgd;
    printf("fmnist-ref train   batch %d, %d threads, %d steps: %.0f images/s  (per step: forward "
           "%.1f ms, backward %.1f ms, sgd %.2f ms; loss %.3f)\n",
           batch, threads, steps, steps * batch / total, t_fwd / steps * 1e3, t_bwd / steps * 1e3,
           t_sgd / steps * 1e3, loss);
    free(x);
    free(labels);
    nn_net_free(net);
}

int main(int argc, char **argv)
{
    printf("OpenBLAS core: %s\n", openblas_get_corename());
    int threads = getenv("TRAIN_THREADS") ? atoi(getenv("TRAIN_THREADS")) : 2;
    if (argc > 1 && strcmp(argv[1], "train") == 0) {
        int steps = argc > 2 ? atoi(argv[2]) : 20;
        bench_train(128, threads, steps > 0 ? steps : 20);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "fmnist-ref") == 0) {
        struct arch ref = reference("fmnist-ref");
        nn_set_threads(1);
        bench_infer(&ref, argc > 2 ? atoi(argv[2]) : 400);
        return 0;
    }
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    if (runs < 5)
        runs = 5;
    nn_set_threads(1);
    struct arch large = reference("mobilenetv3-large"), small = reference("mobilenetv3-small");
    bench_infer(&large, runs);
    bench_infer(&small, runs);
    bench_train(128, threads, 20);
    return 0;
}
