/* Deployment latency (issue 32): each net exported to ONNX and timed under
 * ONNX Runtime (onnxruntime-node, one thread, batch 1, tests/ort/run.js)
 * beside hwnas's own end-to-end measurement of the same net (one thread,
 * batch 1) and, with --db, the latency table's prediction. Nets: the model
 * files given (e.g. the demo's winner), fmnist-ref, mobilenetv3-small and
 * -large, and N archs sampled uniformly from the fmnist space, over which the
 * rank agreement (Spearman) of hwnas's measurement and of the table with
 * ONNX Runtime is reported. A near-empty net (4x4x1 input, one 3x3 conv to
 * one channel, one class) shows the fixed cost of a call through Node's
 * binding, which every ONNX Runtime figure includes (a C or Python caller
 * pays less). Both runtimes are timed one after the other,
 * never at once, in `rounds` interleaved passes; each figure is the lowest
 * per-pass median (the machine is shared: others only ever slow a run).
 *
 *   build/bench/bench_onnx [--db FILE] [--samples N] [--seed S] [--rounds R]
 *                          [--runs K] [MODEL.hwm ...]
 * Run from the repository root (it calls node tests/ort/run.js).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "deploy/onnx.h"
#include "evaluator/model.h"
#include "latency/lut.h"
#include "latency/measure.h"
#include "latency/table.h"
#include "space/refs.h"
#include "space/space.h"

#define MAX_NETS 256

struct net_row {
    char name[64];
    struct arch a;
    char onnx[96];
    int sampled;
    double hw_us, ort_us, pred_us; /* lowest per-pass median; pred NAN without a table */
};

static void die(const char *what, const struct hw_err *e)
{
    fprintf(stderr, "bench_onnx: %s: %s\n", what, e->msg);
    exit(1);
}

/* The exported file of a net with random weights (latency does not depend
 * on their values) or of a model file's weights. */
static void export_row(struct net_row *r, const char *model, const char *dir, int i)
{
    struct hw_err e;
    hw_err_clear(&e);
    struct nn_net *net = NULL;
    if (model) {
        if (model_load(model, 2, &net, &e))
            die(model, &e);
        r->a = *nn_net_arch(net);
    } else {
        if (nn_net_create(&net, &r->a, 2, NN_MODE_TRAIN, &e))
            die(r->name, &e);
        struct pcg32 rng;
        pcg32_seed(&rng, 1000 + i, 7);
        nn_net_init_params(net, &rng);
    }
    snprintf(r->onnx, sizeof r->onnx, "%s/net%d.onnx", dir, i);
    if (onnx_export(r->onnx, net, 0.5f, 0.25f, &e))
        die(r->onnx, &e);
    nn_net_free(net);
}

/* ONNX Runtime's median batch-1 latency in microseconds. */
static double ort_time(const struct net_row *r, int runs)
{
    char cmd[512], line[256] = "";
    snprintf(cmd, sizeof cmd, "node tests/ort/run.js '%s' --time %d %d %d %d", r->onnx,
             r->a.in_c, r->a.in_h, r->a.in_w, runs);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(line, sizeof line, p)) {
        fprintf(stderr, "bench_onnx: %s gave no timing (is onnxruntime-node in tests/ort? "
                "run make deps)\n", cmd);
        exit(1);
    }
    pclose(p);
    const char *m = strstr(line, "\"median_ms\":");
    if (!m) {
        fprintf(stderr, "bench_onnx: unexpected output of %s: %s\n", cmd, line);
        exit(1);
    }
    return 1000 * atof(m + 12);
}

/* Spearman's rank correlation of x and y (no ties expected in timings). */
static double spearman(const double *x, const double *y, int n)
{
    double d2 = 0;
    for (int i = 0; i < n; i++) {
        int rx = 0, ry = 0;
        for (int j = 0; j < n; j++) {
            rx += x[j] < x[i];
            ry += y[j] < y[i];
        }
        d2 += (double)(rx - ry) * (rx - ry);
    }
    return n > 1 ? 1 - 6 * d2 / ((double)n * ((double)n * n - 1)) : NAN;
}

int main(int argc, char **argv)
{
    const char *dbpath = NULL;
    int samples = 20, rounds = 2, runs = 200;
    unsigned seed = 1;
    static struct net_row rows[MAX_NETS];
    int n = 0;
    char dir[] = "/tmp/hwnas-bench-onnx-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct hw_err e;
    hw_err_clear(&e);
    const char *models[MAX_NETS];
    int n_models = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbpath = argv[++i];
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc)
            samples = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_onnx [--db FILE] [--samples N] [--seed S] "
                            "[--rounds R] [--runs K] [MODEL.hwm ...]\n");
            return 2;
        } else if (n_models < 8)
            models[n_models++] = argv[i];
    }
    if (samples < 0 || samples > MAX_NETS - 16 || rounds < 1 || runs < 1) {
        fprintf(stderr, "bench_onnx: --samples in [0, %d], --rounds and --runs positive\n",
                MAX_NETS - 16);
        return 2;
    }
    for (int i = 0; i < n_models; i++, n++) {
        snprintf(rows[n].name, sizeof rows[n].name, "%s", models[i]);
        export_row(&rows[n], models[i], dir, n);
    }
    const char *refs[] = {"fmnist-ref", "mobilenetv3-small", "mobilenetv3-large"};
    for (int i = 0; i < 3; i++, n++) {
        snprintf(rows[n].name, sizeof rows[n].name, "%s", refs[i]);
        if (arch_reference(refs[i], NULL, &rows[n].a, &e))
            die(refs[i], &e);
        export_row(&rows[n], NULL, dir, n);
    }
    int empty = n++;
    struct arch *ea = &rows[empty].a;
    snprintf(rows[empty].name, sizeof rows[empty].name, "near-empty (call overhead)");
    snprintf(ea->name, sizeof ea->name, "near-empty");
    ea->in_h = ea->in_w = 4;
    ea->in_c = ea->classes = 1;
    ea->stem = (struct arch_stem){.k = 3, .stride = 1, .out = 1, .act = ARCH_ACT_RELU};
    export_row(&rows[empty], NULL, dir, empty);
    struct space s;
    if (space_load_builtin("fmnist", &s, &e))
        die("fmnist space", &e);
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 32);
    int tokens[space_n_tokens(&s)];
    for (int i = 0; i < samples; i++, n++) {
        space_sample(&s, &rng, tokens);
        if (space_decode(&s, tokens, &rows[n].a, &e))
            die("sample", &e);
        snprintf(rows[n].name, sizeof rows[n].name, "fmnist-sample-%d", i);
        rows[n].sampled = 1;
        export_row(&rows[n], NULL, dir, n);
    }
    struct db *db = NULL;
    struct lat_table t;
    for (int i = 0; i < n; i++)
        rows[i].pred_us = NAN;
    if (dbpath) {
        if (db_open(&db, dbpath, DB_OPEN_EXISTING, &e) || lat_table_open(&t, db, NULL, 1, &e))
            die(dbpath, &e);
        for (int i = 0; i < n; i++) {
            double sum;
            struct hw_err pe;
            if (lut_predict(&t.lut, &rows[i].a, &sum, NULL, NULL, &pe) == HW_OK)
                rows[i].pred_us = lut_calibrated(&t.lut, &rows[i].a, sum);
        }
        lat_table_release(&t);
        db_close(db);
    }
    nn_set_threads(1);
    struct lat_timing tm;
    lat_timing_defaults(&tm, 1);
    for (int i = 0; i < n; i++)
        rows[i].hw_us = rows[i].ort_us = INFINITY;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            struct lat_stats st;
            if (lat_measure_arch(&rows[i].a, &tm, &st, &e))
                die(rows[i].name, &e);
            double o = ort_time(&rows[i], runs);
            rows[i].hw_us = fmin(rows[i].hw_us, st.median_us);
            rows[i].ort_us = fmin(rows[i].ort_us, o);
            fprintf(stderr, "\rround %d/%d: %d/%d nets", r + 1, rounds, i + 1, n);
        }
    fprintf(stderr, "\n");
    /* ONNX Runtime minus the near-empty net's time: the net's own share */
    double ovh = rows[empty].ort_us;
    printf("%-28s %8s %9s %10s %10s %10s %10s\n", "net", "MMACs", "hwnas_us", "onnxrt_us",
           "ort/hwnas", "-call/hw", "table_us");
    double hx[MAX_NETS], ox[MAX_NETS], px[MAX_NETS];
    int ns = 0, np = 0;
    for (int i = 0; i < n; i++) {
        const struct net_row *w = &rows[i];
        printf("%-28.28s %8.2f %9.1f %10.1f %10.2f %10.2f %10.1f\n", w->name,
               arch_cost(&w->a).macs / 1e6, w->hw_us, w->ort_us, w->ort_us / w->hw_us,
               (w->ort_us - ovh) / w->hw_us, w->pred_us);
        if (w->sampled) {
            hx[ns] = w->hw_us;
            ox[ns++] = w->ort_us;
            if (!isnan(w->pred_us))
                px[np++] = w->pred_us;
        }
    }
    if (ns > 1) {
        printf("\nSpearman over %d sampled fmnist archs: hwnas measured vs ONNX Runtime %.3f",
               ns, spearman(hx, ox, ns));
        if (np == ns)
            printf("; latency table vs ONNX Runtime %.3f", spearman(px, ox, ns));
        printf("\n");
        double lr[MAX_NETS];
        for (int i = 0; i < ns; i++)
            lr[i] = ox[i] / hx[i];
        printf("near-empty net (the cost of a call through Node's binding): ONNX Runtime "
               "%.1f us, hwnas %.1f us\n", ovh, rows[empty].hw_us);
        for (int i = 1; i < ns; i++) /* insertion sort for the median ratio */
            for (int j = i; j > 0 && lr[j] < lr[j - 1]; j--) {
                double tmp = lr[j];
                lr[j] = lr[j - 1];
                lr[j - 1] = tmp;
            }
        printf("ONNX Runtime / hwnas over the sampled archs: median %.2f, range %.2f-%.2f\n",
               lr[ns / 2], lr[0], lr[ns - 1]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
