/* NetAdapt benchmark (figures, not pass/fail):
 *
 *   bench_netadapt [EPOCHS] [LONG] [SHORT_STEPS] [SUBSET] [DELTA] [RATIO] [MODEL|-]
 *                  [SCORE=acc|loss] [VAL=2000]
 *
 * 1. fmnist-ref trained EPOCHS (default 10) with the anchor recipe on the
 *    first SUBSET training images (default 0: all 50k), or read from MODEL (a
 *    model file of fmnist-ref trained so); its predicted (table) and measured
 *    latency, validation accuracy.
 * 2. NetAdapt to RATIO (default 0.7) x its predicted latency, DELTA (default
 *    0.01) of L0 per iteration, SHORT_STEPS (default 200) per proposal, then a
 *    long fine-tune of LONG epochs (default 5). Accuracy lost (target <= 1.0
 *    point) and measured latency ratio. Proposals are ranked by SCORE on VAL
 *    validation images (netadapt's --score and --val-subset).
 * 3. The obvious alternative: fmnist-ref with a uniform width multiplier
 *    (channels make_divisible(c*w, 8)) whose measured latency matches the
 *    NetAdapt result (bisection on w), trained from scratch for EPOCHS + LONG
 *    epochs (the same total); accuracy side by side.
 * The table lives in a temporary database (profiled on demand, 1 thread);
 * training uses all cores. Small version: bench_netadapt 1 1 5 2000 0.1 0.85
 *
 *   bench_netadapt width MEASURED_MS OUT.json
 *
 * The uniform width multiplier of fmnist-ref measured at MEASURED_MS (1
 * thread), as an arch JSON file (bench/netadapt_compare.sh trains it).
 *
 *   bench_netadapt noise [ITERATIONS] [SHORT_STEPS] [EPOCHS] [DELTA] [MODEL|-] [SEED_B]
 *
 * How much of NetAdapt's choice is noise (issue 35): fmnist-ref (trained
 * EPOCHS, default 3, or MODEL), then ITERATIONS (default 3) iterations in
 * which every proposal is fine-tuned twice, SHORT_STEPS (default 200) each:
 * scoring A with fine-tune seed 1, judged on validation images 0..4999;
 * scoring B with seed SEED_B (default 2; 1: B judges A's fine-tuned net, so
 * only the validation images differ) on images 5000..9999. Each is judged by accuracy and
 * by loss, on 2,000 and on 5,000 images. Per iteration and judge: whether A
 * and B choose the same proposal and Kendall's tau between their rankings
 * (of the selection rule's score). The run goes on with A's choice by
 * accuracy on 2,000 images (what netadapt does today). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/stats.h"
#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "latency/measure.h"
#include "latency/table.h"
#include "netadapt/finetune.h"
#include "netadapt/run.h"
#include "space/arch_json.h"
#include "space/refs.h"
#include "util/timer.h"

static void die(const struct hw_err *err)
{
    fprintf(stderr, "bench_netadapt: %s\n", err->msg);
    exit(1);
}

static void check(int rc, const struct hw_err *err)
{
    if (rc != HW_OK)
        die(err);
}

/* Trains a from scratch; returns the net (caller frees). */
static struct nn_net *train_new(const struct arch *a, int epochs, int subset,
                                const struct data_set *train)
{
    struct train_config c;
    struct train_result r;
    struct hw_err err;
    struct nn_net *net;
    train_config_default(&c);
    c.epochs = epochs;
    c.subset = subset;
    c.val_subset = -1;
    check(nn_net_create(&net, a, c.batch, NN_MODE_TRAIN, &err), &err);
    train_init_params(net, 1);
    check(train_run(net, train, NULL, &c, 1, NULL, NULL, &r, &err), &err);
    return net;
}

/* Measured end-to-end latency of a in ms, one thread. */
static double measured_ms(const struct arch *a)
{
    struct lat_timing tm;
    struct lat_stats st;
    struct hw_err err;
    int threads = nn_get_threads();
    nn_set_threads(1);
    lat_timing_defaults(&tm, 1);
    check(lat_measure_arch(a, &tm, &st, &err), &err);
    nn_set_threads(threads);
    return lat_stat(&st) / 1000.0;
}

static int scale(int c, double w) { return arch_make_divisible(c * w, 8); }

/* fmnist-ref with every channel count c -> make_divisible(c*w, 8) (the
 * head's hidden FC excepted, as MobileNetV3 keeps its classifier). */
static struct arch width_multiplied(const struct arch *ref, double w)
{
    struct arch a = *ref;
    a.stem.out = scale(ref->stem.out, w);
    for (int i = 0; i < a.n_layers; i++) {
        const struct arch_layer *o = &ref->layers[i];
        struct arch_layer *l = &a.layers[i];
        l->in = scale(o->in, w);
        l->out = scale(o->out, w);
        l->mid = o->mid == o->in ? l->in : scale(o->mid, w);
        l->sq = o->sq > 0 ? scale(o->sq, w) : 0;
    }
    a.head.conv_out = scale(ref->head.conv_out, w);
    return a;
}

/* ---- noise: every proposal scored twice ---------------------------------- */

enum { JUDGES = 4 }; /* acc@2000, loss@2000, acc@5000, loss@5000 */
static const char *const judge_names[JUDGES] = {"acc 2k", "loss 2k", "acc 5k", "loss 5k"};

struct noise {
    struct na_trainer t[2];     /* A, B */
    struct data_set view[2];    /* their validation images */
    double q[NA_MAX_PROPOSALS][2][JUDGES]; /* per proposal, scoring, judge: quality */
};

/* Quality of net on scoring s's images for each judge (higher is better:
 * accuracy, or minus the loss). */
static void judge(const struct noise *z, int s, const struct nn_net *net, double *q)
{
    struct hw_err err;
    double acc, loss;
    for (int i = 0; i < 2; i++) {
        check(train_evaluate_loss(net, &z->view[s], i ? 5000 : 2000, 500, &acc, &loss, &err),
              &err);
        q[2 * i] = acc;
        q[2 * i + 1] = -loss;
    }
}

/* na_tune_fn: tunes a copy of net as scoring B, then net itself as A. */
static int noise_tune(void *ctx, struct nn_net *net, int iteration, int proposal,
                      struct na_eval *out, struct hw_err *err)
{
    struct noise *z = ctx;
    void *bytes;
    size_t len;
    struct nn_net *copy;
    struct na_eval unused;
    int same_seed = z->t[1].seed == z->t[0].seed;
    if (!same_seed) {
        check(model_to_bytes(net, &bytes, &len, err), err);
        check(model_load_bytes(bytes, len, "copy", 128, &copy, err), err);
        free(bytes);
        check(netadapt_tune(&z->t[1], copy, iteration, proposal, &unused, err), err);
        judge(z, 1, copy, z->q[proposal][1]);
        nn_net_free(copy);
    }
    check(netadapt_tune(&z->t[0], net, iteration, proposal, &unused, err), err);
    judge(z, 0, net, z->q[proposal][0]);
    if (same_seed) /* the same fine-tune: only the images differ */
        judge(z, 1, net, z->q[proposal][1]);
    *out = (struct na_eval){z->q[proposal][0][0], -z->q[proposal][0][1]};
    return HW_OK;
}

static int argmin(const double *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] < v[b])
            b = i;
    return b;
}

static int noise_main(int argc, char **argv, struct lat_table *table, const struct arch *ref,
                      const struct data_set *train, const struct data_set *val)
{
    int iterations = argc > 2 ? atoi(argv[2]) : 3, steps = argc > 3 ? atoi(argv[3]) : 200;
    int epochs = argc > 4 ? atoi(argv[4]) : 3;
    double delta = argc > 5 ? atof(argv[5]) : 0.01;
    const char *model = argc > 6 && strcmp(argv[6], "-") ? argv[6] : NULL;
    uint64_t seed_b = argc > 7 ? strtoull(argv[7], NULL, 10) : 2;
    struct hw_err err = {0};
    struct nn_net *cur;
    if (model)
        check(model_load(model, 128, &cur, &err), &err);
    else
        cur = train_new(ref, epochs, 0, train);
    static struct noise z;
    for (int s = 0; s < 2; s++) {
        netadapt_trainer_default(&z.t[s]);
        z.view[s] = *val;
        z.view[s].n = 5000;
        z.view[s].pixels += (size_t)s * 5000 * val->h * val->w * val->c;
        z.view[s].labels += (size_t)s * 5000;
        z.t[s].train = train, z.t[s].val = &z.view[s], z.t[s].steps = steps;
        z.t[s].seed = s ? seed_b : 1;
    }
    struct na_ops ops = {netadapt_table_latency, table, noise_tune, &z, NULL, NULL};
    double lat0, l0, q0[2][JUDGES];
    check(netadapt_table_latency(table, nn_net_arch(cur), &l0, &err), &err);
    lat0 = l0;
    printf("NetAdapt noise: fmnist-ref %s, L0 %.4f ms, delta %g, %d short steps; A: seed 1, "
           "val 0..4999; B: seed %llu, val 5000..9999\n\n",
           model ? model : "trained here", l0, delta, steps, (unsigned long long)seed_b);
    printf("%-5s %4s", "iter", "n");
    for (int j = 0; j < JUDGES; j++)
        printf("  %8s same  tau", judge_names[j]);
    printf("\n");
    int same[JUDGES] = {0};
    double tau_sum[JUDGES] = {0};
    int done = 0;
    for (int it = 0; it < iterations; it++) {
        for (int s = 0; s < 2; s++)
            judge(&z, s, cur, q0[s]);
        struct na_iteration r;
        uint64_t t0 = timer_now_ns();
        struct na_eval e0 = {q0[0][0], -q0[0][1]};
        int rc = netadapt_iterate(cur, lat0, &e0, delta * l0, it, 128, &ops, &r, &err);
        if (rc == HW_ENOTFOUND)
            break;
        check(rc, &err);
        printf("%-5d %4d", it + 1, r.n);
        for (int j = 0; j < JUDGES; j++) {
            double sc[2][NA_MAX_PROPOSALS];
            for (int s = 0; s < 2; s++)
                for (int i = 0; i < r.n; i++)
                    sc[s][i] = netadapt_score(q0[s][j], lat0, z.q[i][s][j], r.props[i].latency_ms);
            int a = argmin(sc[0], r.n), b = argmin(sc[1], r.n);
            /* tau of the scores: low is good for both, so the sign is kept */
            double tau = kendall_tau(sc[0], sc[1], r.n);
            same[j] += a == b;
            tau_sum[j] += tau;
            printf("  %8s %4s %5.2f", "", a == b ? "yes" : "no", tau);
        }
        printf("   (%.0f s)\n", (double)(timer_now_ns() - t0) / 1e9);
        fflush(stdout);
        lat0 = r.props[r.chosen].latency_ms;
        nn_net_free(cur);
        cur = r.net;
        done++;
    }
    printf("%-10s", "all");
    for (int j = 0; j < JUDGES; j++)
        printf("  %8s %d/%d %5.2f", "", same[j], done, done ? tau_sum[j] / done : NAN);
    printf("   (same choice in A and B / iterations, mean tau)\n");
    nn_net_free(cur);
    return 0;
}

/* The largest w in [0.2, 1] (bisection, `steps` halvings) whose
 * width-multiplied ref measures at most ms. */
static double width_for_ms(const struct arch *ref, double ms, int steps)
{
    double lo = 0.2, hi = 1.0;
    for (int i = 0; i < steps; i++) {
        double w = 0.5 * (lo + hi);
        struct arch a = width_multiplied(ref, w);
        if (measured_ms(&a) > ms)
            hi = w;
        else
            lo = w;
    }
    return lo;
}

/* bench_netadapt width MEASURED_MS OUT.json: the uniform width multiplier of
 * fmnist-ref whose measured latency (1 thread) is the largest not above
 * MEASURED_MS (bisection on w in [0.2, 1], 10 steps), written as an arch. */
static int width_mode(int argc, char **argv)
{
    if (argc < 4 || !(atof(argv[2]) > 0)) {
        fprintf(stderr, "usage: bench_netadapt width MEASURED_MS OUT.json\n");
        return 2;
    }
    double target = atof(argv[2]);
    struct hw_err err = {0};
    struct arch ref;
    check(arch_resolve("fmnist-ref", NULL, &ref, &err), &err);
    double lo = width_for_ms(&ref, target, 10);
    struct arch uni = width_multiplied(&ref, lo);
    snprintf(uni.name, sizeof uni.name, "fmnist-ref-x%.3f", lo);
    char *js = arch_to_json_string(&uni);
    FILE *f = js ? fopen(argv[3], "w") : NULL;
    if (!f || fputs(js, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_netadapt: cannot write %s\n", argv[3]);
        return 1;
    }
    free(js);
    printf("width x%.3f: measured %.4f ms (target %.4f ms), %s\n", lo, measured_ms(&uni), target,
           argv[3]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "width") == 0)
        return width_mode(argc, argv);
    int epochs = argc > 1 ? atoi(argv[1]) : 10, long_epochs = argc > 2 ? atoi(argv[2]) : 5;
    int short_steps = argc > 3 ? atoi(argv[3]) : 200, subset = argc > 4 ? atoi(argv[4]) : 0;
    double delta = argc > 5 ? atof(argv[5]) : 0.01, ratio = argc > 6 ? atof(argv[6]) : 0.7;
    const char *model = argc > 7 && strcmp(argv[7], "-") ? argv[7] : NULL;
    enum na_score score = argc > 8 && strcmp(argv[8], "loss") == 0 ? NA_SCORE_LOSS : NA_SCORE_ACC;
    int val_subset = argc > 9 ? atoi(argv[9]) : 2000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    struct hw_err err = {0};
    struct data_set train, val;
    struct arch ref;
    nn_set_threads(cores > 0 ? (int)cores : 1);
    check(arch_resolve("fmnist-ref", NULL, &ref, &err), &err);
    check(data_load_trainval(NULL, ref.classes, &train, &val, &err), &err);
    char dir[] = "/tmp/bench-netadapt-XXXXXX", dbp[64], src[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(dbp, sizeof dbp, "%s/t.db", dir);
    snprintf(src, sizeof src, "%s/ref.hwm", dir);
    struct db *db;
    struct lat_table table;
    check(db_open(&db, dbp, 0, &err), &err);
    check(lat_table_open(&table, db, NULL, 1, &err), &err);
    int rc = 0;
    if (argc > 1 && strcmp(argv[1], "noise") == 0) {
        rc = noise_main(argc, argv, &table, &ref, &train, &val);
        goto done;
    }

    struct nn_net *net;
    if (model) {
        printf("fmnist-ref: read from %s\n", model);
        check(model_load(model, 128, &net, &err), &err);
        if (!arch_equal(nn_net_arch(net), &ref)) {
            fprintf(stderr, "bench_netadapt: %s is not fmnist-ref\n", model);
            return 1;
        }
    } else {
        printf("fmnist-ref: %d epochs on %d images\n", epochs, subset > 0 ? subset : train.n);
        fflush(stdout);
        net = train_new(&ref, epochs, subset, &train);
    }
    double acc0, l0, m0;
    check(train_evaluate(net, &val, 0, 500, &acc0, &err), &err);
    check(model_save(src, net, &err), &err);
    nn_net_free(net);
    check(netadapt_table_latency(&table, &ref, &l0, &err), &err);
    m0 = measured_ms(&ref);
    printf("  val %.2f%%, predicted %.4f ms, measured %.4f ms\n", 100 * acc0, l0, m0);
    fflush(stdout);

    struct db_netadapt r = {.target_ms = ratio * l0, .delta = delta, .initial_ms = l0,
                            .device_id = table.device_id};
    snprintf(r.source_model, sizeof r.source_model, "%s", src);
    check(db_netadapt_create(db, &r, &err), &err);
    struct na_trainer tr;
    netadapt_trainer_default(&tr);
    /* the fine-tunes see the same SUBSET prefix as the from-scratch trainings */
    struct data_set prefix = train;
    if (subset > 0 && subset < train.n)
        prefix.n = subset;
    tr.train = &prefix, tr.val = &val, tr.steps = short_steps, tr.val_subset = val_subset;
    struct na_ops ops = {netadapt_table_latency, &table, netadapt_tune, &tr, NULL, NULL, score};
    printf("NetAdapt: proposals ranked by validation %s on %d images\n",
           score == NA_SCORE_LOSS ? "loss" : "accuracy", val_subset);
    struct na_run_config cfg = {.max_batch = tr.batch, .workdir = dir};
    struct na_state st;
    rc = netadapt_run(db, r.id, &cfg, &ops, &net, &st, &err);
    if (rc != HW_OK && !(rc == HW_ENOTFOUND && net))
        die(&err);
    double acc_na, m_na;
    check(netadapt_tune_long(&tr, net, long_epochs, 0.05, &acc_na, &err), &err);
    m_na = measured_ms(nn_net_arch(net));
    printf("NetAdapt: %d iterations, predicted %.4f ms (%.3f x L0), measured %.4f ms "
           "(%.3f x), val %.2f%% (%+.2f points)\n",
           st.iteration, st.latency_ms, st.latency_ms / l0, m_na, m_na / m0, 100 * acc_na,
           100 * (acc_na - acc0));
    nn_net_free(net);

    double lo = width_for_ms(&ref, m_na, 8);
    struct arch uni = width_multiplied(&ref, lo);
    double m_uni = measured_ms(&uni), acc_uni;
    net = train_new(&uni, epochs + long_epochs, subset, &train);
    check(train_evaluate(net, &val, 0, 500, &acc_uni, &err), &err);
    nn_net_free(net);
    printf("uniform width x%.3f: measured %.4f ms (%.3f x), %d epochs, val %.2f%%\n", lo, m_uni,
           m_uni / m0, epochs + long_epochs, 100 * acc_uni);
    printf("\n%-22s %10s %10s %8s\n", "model", "meas. ms", "x ref", "val %");
    printf("%-22s %10.4f %10.3f %8.2f\n", "fmnist-ref", m0, 1.0, 100 * acc0);
    printf("%-22s %10.4f %10.3f %8.2f\n", "NetAdapt", m_na, m_na / m0, 100 * acc_na);
    printf("%-22s %10.4f %10.3f %8.2f\n", "uniform width", m_uni, m_uni / m0, 100 * acc_uni);

done:
    lat_table_release(&table);
    db_close(db);
    data_set_release(&train);
    data_set_release(&val);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return rc || system(cmd) != 0;
}
