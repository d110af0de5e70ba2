/* NetAdapt benchmark (figures, not pass/fail):
 *
 *   bench_netadapt [EPOCHS] [LONG] [SHORT_STEPS] [SUBSET] [DELTA] [RATIO] [MODEL]
 *
 * 1. fmnist-ref trained EPOCHS (default 10) with the anchor recipe on the
 *    first SUBSET training images (default 0: all 50k), or read from MODEL (a
 *    model file of fmnist-ref trained so); its predicted (table) and measured
 *    latency, validation accuracy.
 * 2. NetAdapt to RATIO (default 0.7) x its predicted latency, DELTA (default
 *    0.01) of L0 per iteration, SHORT_STEPS (default 200) per proposal, then a
 *    long fine-tune of LONG epochs (default 5). Accuracy lost (target <= 1.0
 *    point) and measured latency ratio.
 * 3. The obvious alternative: fmnist-ref with a uniform width multiplier
 *    (channels make_divisible(c*w, 8)) whose measured latency matches the
 *    NetAdapt result (bisection on w), trained from scratch for EPOCHS + LONG
 *    epochs (the same total); accuracy side by side.
 * The table lives in a temporary database (profiled on demand, 1 thread);
 * training uses all cores. Small version: bench_netadapt 1 1 5 2000 0.1 0.85 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "latency/measure.h"
#include "latency/table.h"
#include "netadapt/finetune.h"
#include "netadapt/run.h"
#include "space/refs.h"

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

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 10, long_epochs = argc > 2 ? atoi(argv[2]) : 5;
    int short_steps = argc > 3 ? atoi(argv[3]) : 200, subset = argc > 4 ? atoi(argv[4]) : 0;
    double delta = argc > 5 ? atof(argv[5]) : 0.01, ratio = argc > 6 ? atof(argv[6]) : 0.7;
    const char *model = argc > 7 ? argv[7] : NULL;
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
    tr.train = &prefix, tr.val = &val, tr.steps = short_steps;
    struct na_ops ops = {netadapt_table_latency, &table, netadapt_tune, &tr};
    struct na_run_config cfg = {.max_batch = tr.batch, .workdir = dir};
    struct na_state st;
    int rc = netadapt_run(db, r.id, &cfg, &ops, &net, &st, &err);
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

    double lo = 0.2, hi = 1.0, w = 1.0;
    for (int i = 0; i < 8; i++) {
        w = 0.5 * (lo + hi);
        struct arch a = width_multiplied(&ref, w);
        if (measured_ms(&a) > m_na)
            hi = w;
        else
            lo = w;
    }
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

    lat_table_release(&table);
    db_close(db);
    data_set_release(&train);
    data_set_release(&val);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
