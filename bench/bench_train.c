/* Training benchmarks (figures, not pass/fail):
 *
 *   bench_train ref [EPOCHS] [THREADS]
 *       fmnist-ref trained with the anchor recipe on the 50k split for EPOCHS
 *       (default 10), validation after each epoch, then test accuracy once.
 *       Target: >= 92.0 % test; PyTorch 1.13 here: 92.7 % on 60k, 400-460 img/s.
 *   bench_train proxy [N] [SEED]
 *       cost of eval_proxy (default config) on N (default 5) archs sampled
 *       from the fmnist space: wall seconds, accuracy, MACs; median cost.
 *   bench_train fidelity [N] [EPOCHS] [SET] [FROM]
 *       N (default 12) fmnist-space archs: proxy accuracy vs. validation
 *       accuracy after EPOCHS (default 10) full epochs, and Kendall's tau
 *       between the two rankings (target >= 0.5). SET "wide" (default):
 *       MACs log-evenly from the smallest to the largest the space reaches;
 *       "mid": quantiles of uniform samples (4.5-14 MMACs, session 3's run).
 *       The full accuracies go to fidelity-SET.txt. Long: N full trainings;
 *       FROM continues a stopped run at arch FROM, appending to that file.
 *   bench_train near DB SPACE N DIR [LO] [HI] [SEED]
 *       N archs of SPACE whose predicted latency (this machine's table in
 *       DB, 1 thread) lies in [LO, HI] (default 0.5-0.7) x fmnist-ref's:
 *       picked at even latency steps from 400N uniform samples, written as
 *       DIR/nearNN.json. The "near" fidelity set: archs where a search under
 *       a 0.6x target actually decides (bench/fidelity_near.sh trains them).
 *   bench_train proxies-near DIR RESULTS EPOCHS SUBSET VAL [SEED]
 *       the same for the near set: the archs of DIR with both seeds in
 *       RESULTS, against the mean of the two seeds' accuracies.
 *   bench_train archs [N] [SET] [DIR]
 *       lists the archs of a fidelity set (MACs, params, layers), no training.
 *   bench_train proxies FULL_FILE EPOCHS SUBSET VAL [SEED] [BATCH] [LR] [AUG]
 *       the fidelity archs again with another proxy budget (EPOCHS epochs on
 *       SUBSET images, VAL validation images, 0: all; batch, peak lr and
 *       augmentation 0/1 default to eval_proxy's), against the
 *       full-training accuracies a fidelity run wrote (FULL_FILE: "SET/N",
 *       then one per line in percent, maybe fewer than N when the run was
 *       stopped early; without the first line, set "mid"): Kendall's tau and the median cost.
 *       bench/data/fidelity-wide.txt holds the 10-epoch accuracies of the 12 wide archs
 *       (seed 1, measured 2026-11-26..29, about 3 h on 2 cores), so proxies can be compared
 *       without training them again: bench_train proxies bench/data/fidelity-wide.txt ...
 * The data are read once. Threads: all online cores unless given ($THREADS
 * for every mode, or ref's own argument). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/stats.h"
#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/proxy.h"
#include "evaluator/train.h"
#include "latency/table.h"
#include "nn/net.h"
#include "space/arch_json.h"
#include "space/refs.h"
#include "space/space.h"
#include "util/pcg32.h"

static struct data_set train_set, val_set;

static void die(const struct hw_err *err)
{
    fprintf(stderr, "bench_train: %s\n", err->msg);
    exit(1);
}

static int print_epoch(const struct train_epoch *e, void *ctx)
{
    printf("  epoch %2d/%d loss %.4f train %.2f%% val %.2f%% %.0f img/s %.1fs\n",
           e->epoch, e->epochs, e->loss, 100 * e->train_acc, 100 * e->val_acc,
           e->img_per_s, e->seconds);
    fflush(stdout);
    return 0;
}

/* Trains a from scratch with the anchor recipe; returns validation accuracy. */
static double train_full(const struct arch *a, int epochs, uint64_t seed,
                         int verbose, struct nn_net **keep)
{
    struct train_config c;
    train_config_default(&c);
    c.epochs = epochs;
    c.quiet = !verbose;
    struct hw_err err = {0};
    struct nn_net *net = NULL;
    struct train_result r;
    if (nn_net_create(&net, a, c.batch, NN_MODE_TRAIN, &err) != HW_OK)
        die(&err);
    train_init_params(net, seed);
    if (train_run(net, &train_set, &val_set, &c, seed, verbose ? print_epoch : NULL,
                  NULL, &r, &err) != HW_OK)
        die(&err);
    printf("  %s: %d epochs, val %.2f%%, %.0f img/s, %.0fs%s\n", a->name, epochs,
           100 * r.val_acc, r.img_per_s, r.seconds, r.diverged ? " DIVERGED" : "");
    if (keep)
        *keep = net;
    else
        nn_net_free(net);
    return r.diverged ? 0 : r.val_acc;
}

static void bench_ref(int epochs)
{
    struct arch a;
    struct hw_err err = {0};
    if (arch_resolve("fmnist-ref", NULL, &a, &err) != HW_OK)
        die(&err);
    printf("fmnist-ref, anchor recipe, %d epochs on %d images, %d threads\n", epochs,
           train_set.n, nn_get_threads());
    struct nn_net *net;
    train_full(&a, epochs, 1, 1, &net);
    struct data_set test;
    double acc;
    if (data_load_test(NULL, a.classes, &train_set, &test, &err) != HW_OK ||
        train_evaluate(net, &test, 0, 500, &acc, &err) != HW_OK)
        die(&err);
    printf("test accuracy %.2f%% (target >= 92.0%%; PyTorch anchor 92.7%% on 60k)\n",
           100 * acc);
    data_set_release(&test);
    nn_net_free(net);
}

/* n archs of the fmnist space: with spread, n picks at even MACs quantiles
 * of 20n samples (diverse sizes); without, the first n samples. */
static void sample_archs(struct arch *out, int n, uint64_t seed, int spread)
{
    struct hw_err err = {0};
    struct space sp;
    if (space_resolve("fmnist", &sp, &err) != HW_OK)
        die(&err);
    int tokens[SPACE_MAX_TOKENS];
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 1);
    int pool = spread ? 20 * n : n;
    struct arch *all = malloc(sizeof *all * (size_t)pool);
    for (int i = 0; i < pool; i++) {
        space_sample(&sp, &rng, tokens);
        if (space_decode(&sp, tokens, &all[i], &err) != HW_OK)
            die(&err);
    }
    if (spread) {
        /* Insertion sort by MACs: the pool is small. */
        for (int i = 1; i < pool; i++) {
            struct arch t = all[i];
            int64_t m = arch_cost(&t).macs;
            int j = i - 1;
            while (j >= 0 && arch_cost(&all[j]).macs > m) {
                all[j + 1] = all[j];
                j--;
            }
            all[j + 1] = t;
        }
    }
    for (int i = 0; i < n; i++) {
        out[i] = all[spread ? (int)((i + 0.5) * pool / n) : i];
        snprintf(out[i].name, sizeof out[i].name, "cand%02d", i);
    }
    free(all);
}

/* n archs of the fmnist space whose MACs are spread evenly on a log scale
 * from the smallest to the largest of a pool: 50n samples, each drawn with
 * a size bias b in [0,1] (every choice is, with probability 3/4, the option
 * at fraction b of its list, which the space orders small to large; else
 * uniform), so the pool reaches both ends of the space, which plain
 * uniform samples almost never do. */
static void sample_wide(struct arch *out, int n, uint64_t seed)
{
    struct hw_err err = {0};
    struct space sp;
    if (space_resolve("fmnist", &sp, &err) != HW_OK)
        die(&err);
    int tokens[SPACE_MAX_TOKENS], pool = 50 * n, nt = space_n_tokens(&sp);
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 2);
    struct arch *all = malloc(sizeof *all * (size_t)pool);
    double *lm = malloc(sizeof *lm * (size_t)pool), lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < pool; i++) {
        double b = pcg32_double(&rng);
        for (int t = 0; t < nt; t++) {
            int k = space_token_choices(&sp, t);
            tokens[t] = pcg32_double(&rng) < 0.75 ? (int)lround(b * (k - 1))
                                                  : (int)pcg32_bounded(&rng, (uint32_t)k);
        }
        if (space_decode(&sp, tokens, &all[i], &err) != HW_OK)
            die(&err);
        lm[i] = log((double)arch_cost(&all[i]).macs);
        lo = fmin(lo, lm[i]);
        hi = fmax(hi, lm[i]);
    }
    for (int i = 0; i < n; i++) {
        double want = lo + (hi - lo) * (n > 1 ? (double)i / (n - 1) : 0.5);
        int best = -1;
        for (int j = 0; j < pool; j++)
            if (!isnan(lm[j]) && (best < 0 || fabs(lm[j] - want) < fabs(lm[best] - want)))
                best = j;
        out[i] = all[best];
        lm[best] = NAN; /* used */
        snprintf(out[i].name, sizeof out[i].name, "wide%02d", i);
    }
    free(all);
    free(lm);
}

/* DIR/NAME.json: the arch, for hwnas latency/train. */
static void write_arch_json(const char *dir, const struct arch *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, a->name);
    char *js = arch_to_json_string(a);
    FILE *f = js ? fopen(path, "w") : NULL;
    if (!f || fputs(js, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench_train: cannot write %s\n", path);
        exit(1);
    }
    free(js);
}

/* The archs of a fidelity set: "mid" (the run of session 3: 12 of 240
 * uniform samples, 4.5-14 MMACs) or "wide" (sample_wide). */
static void fidelity_archs(struct arch *out, int n, const char *set)
{
    if (strcmp(set, "mid") == 0)
        sample_archs(out, n, 2024, 1);
    else if (strcmp(set, "wide") == 0)
        sample_wide(out, n, 2024);
    else {
        fprintf(stderr, "bench_train: fidelity set '%s' is not mid or wide\n", set);
        exit(2);
    }
}

struct near_pick {
    double us;
    int idx;
};

static int cmp_pick(const void *a, const void *b)
{
    double x = ((const struct near_pick *)a)->us, y = ((const struct near_pick *)b)->us;
    return (x > y) - (x < y);
}

/* bench_train near: see the header. Needs no data set. */
static int bench_near(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_train near DB SPACE N DIR [LO] [HI] [SEED]\n");
        return 2;
    }
    int n = atoi(argv[4]);
    double lo = argc > 6 ? atof(argv[6]) : 0.5, hi = argc > 7 ? atof(argv[7]) : 0.7;
    uint64_t seed = argc > 8 ? (uint64_t)atoll(argv[8]) : 2026;
    if (n < 1 || n > 100 || !(lo > 0 && hi > lo)) {
        fprintf(stderr, "bench_train near: N must be in [1, 100] and 0 < LO < HI\n");
        return 2;
    }
    struct hw_err err = {0};
    struct db *db = NULL;
    struct lat_table t;
    struct space sp;
    struct arch ref;
    double ref_us;
    nn_set_threads(1);
    if (db_open(&db, argv[2], 0, &err) != HW_OK || lat_table_open(&t, db, NULL, 1, &err) != HW_OK ||
        space_resolve(argv[3], &sp, &err) != HW_OK ||
        arch_resolve("fmnist-ref", NULL, &ref, &err) != HW_OK ||
        lat_table_predict(&t, &ref, &ref_us, NULL, NULL, &err) != HW_OK)
        die(&err);
    int pool = 400 * n, tokens[SPACE_MAX_TOKENS], kept = 0;
    struct arch *all = malloc(sizeof *all * (size_t)pool);
    struct near_pick *pick = malloc(sizeof *pick * (size_t)pool);
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 3);
    for (int i = 0; i < pool; i++) {
        double us;
        space_sample(&sp, &rng, tokens);
        if (space_decode(&sp, tokens, &all[i], &err) != HW_OK ||
            lat_table_predict(&t, &all[i], &us, NULL, NULL, &err) != HW_OK)
            die(&err);
        if (us >= lo * ref_us && us <= hi * ref_us)
            pick[kept++] = (struct near_pick){us, i};
    }
    printf("fmnist-ref predicted %.1f us; %d of %d samples in [%.2f, %.2f] x\n", ref_us, kept,
           pool, lo, hi);
    if (kept < n) {
        fprintf(stderr, "bench_train near: only %d samples in the window\n", kept);
        return 1;
    }
    qsort(pick, (size_t)kept, sizeof *pick, cmp_pick);
    for (int i = 0; i < n; i++) {
        const struct near_pick *p = &pick[(int)((i + 0.5) * kept / n)];
        struct arch *a = &all[p->idx];
        snprintf(a->name, sizeof a->name, "near%02d", i);
        struct arch_cost cost = arch_cost(a);
        printf("%s: %.1f us (%.2f x), %.2f MMACs, %.0fk params\n", a->name, p->us,
               p->us / ref_us, cost.macs / 1e6, cost.params / 1e3);
        write_arch_json(argv[5], a);
    }
    free(all);
    free(pick);
    lat_table_release(&t);
    db_close(db);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_proxy(int n, uint64_t seed)
{
    struct arch *archs = malloc(sizeof *archs * (size_t)n);
    double *secs = malloc(sizeof *secs * (size_t)n);
    sample_archs(archs, n, seed, 0);
    struct eval_proxy_config c;
    eval_proxy_config_default(&c);
    c.train = &train_set;
    c.val = &val_set;
    printf("eval_proxy defaults: %d epochs on %d images, val on %d, %d threads\n",
           c.epochs, c.subset, c.val_subset, nn_get_threads());
    for (int i = 0; i < n; i++) {
        struct eval_result r;
        struct hw_err err = {0};
        if (eval_proxy(&archs[i], &c, seed + (uint64_t)i, &r, &err) != HW_OK)
            die(&err);
        struct arch_cost cost = arch_cost(&archs[i]);
        printf("  %s: %.2f MMACs %.0fk params: val %.2f%% in %.1fs (%.0f img/s)\n",
               archs[i].name, cost.macs / 1e6, cost.params / 1e3, 100 * r.val_acc,
               r.wall_s, r.img_per_s);
        fflush(stdout);
        secs[i] = r.wall_s;
    }
    qsort(secs, (size_t)n, sizeof *secs, cmp_double);
    printf("median proxy cost %.1fs (aim <= 20s)\n", secs[n / 2]);
    free(archs);
    free(secs);
}


static void bench_fidelity(int n, int epochs, const char *set, int from)
{
    struct arch *archs = malloc(sizeof *archs * (size_t)n);
    double *proxy = malloc(sizeof *proxy * (size_t)n), *full = malloc(sizeof *full * (size_t)n);
    fidelity_archs(archs, n, set);
    char path[64];
    snprintf(path, sizeof path, "fidelity-%s.txt", set);
    /* for `proxies`: the set, then one accuracy per line; a run continued
     * FROM an arch appends to what the stopped run wrote */
    FILE *keep = fopen(path, from > 0 ? "a" : "w");
    if (!keep) {
        fprintf(stderr, "bench_train: cannot write %s\n", path);
        exit(1);
    }
    if (from == 0)
        fprintf(keep, "%s/%d\n", set, n);
    struct eval_proxy_config c;
    eval_proxy_config_default(&c);
    c.train = &train_set;
    c.val = &val_set;
    for (int i = from; i < n; i++) {
        struct eval_result r;
        struct hw_err err = {0};
        if (eval_proxy(&archs[i], &c, 1, &r, &err) != HW_OK)
            die(&err);
        struct arch_cost cost = arch_cost(&archs[i]);
        printf("%s: %.2f MMACs, proxy val %.2f%% (%.1fs)\n", archs[i].name,
               cost.macs / 1e6, 100 * r.val_acc, r.wall_s);
        proxy[i] = r.val_acc;
        full[i] = train_full(&archs[i], epochs, 1, 0, NULL);
        fprintf(keep, "%.2f\n", 100 * full[i]);
        fflush(stdout);
        fflush(keep);
    }
    fclose(keep);
    printf("full accuracies written to %s\n", path);
    printf("Kendall tau (proxy vs %d-epoch val accuracy, %d archs): %.3f (target >= 0.5)\n",
           epochs, n - from, kendall_tau(proxy + from, full + from, n - from));
    if (from > 0)
        printf("(the archs from %d on; 'proxies %s ...' scores all of them)\n", from, path);
    free(archs);
    free(proxy);
    free(full);
}

/* Proxy accuracies of the fidelity archs under another budget, against
 * the full accuracies of an earlier fidelity run. */
static void proxies_run(struct arch *archs, const double *full, int n, int epochs, int subset,
                        int val_subset, uint64_t seed, int batch, double lr, int augment);

static void bench_proxies(const char *full_file, int epochs, int subset, int val_subset,
                          uint64_t seed, int batch, double lr, int augment)
{
    double full[64];
    int n = 0;
    FILE *f = fopen(full_file, "r");
    if (!f) {
        fprintf(stderr, "bench_train: cannot open %s\n", full_file);
        exit(1);
    }
    /* "SET/N": the first accuracies of fidelity set SET of N archs (a run
     * stopped early leaves fewer); files without that line are session 3's */
    char set[16] = "mid";
    int size = 0;
    if (fscanf(f, " %15[a-z]/%d", set, &size) < 1)
        snprintf(set, sizeof set, "mid");
    while (n < 64 && fscanf(f, "%lf", &full[n]) == 1)
        full[n++] /= 100; /* percent in the file, fractions like the proxy's */
    fclose(f);
    if (n < 2) {
        fprintf(stderr, "bench_train: %s: fewer than 2 accuracies\n", full_file);
        exit(1);
    }
    if (size < n)
        size = n;
    struct arch *archs = malloc(sizeof *archs * (size_t)size);
    fidelity_archs(archs, size, set);
    proxies_run(archs, full, n, epochs, subset, val_subset, seed, batch, lr, augment);
    free(archs);
}

/* The near set: DIR/nearNN.json with both seeds' accuracies in RESULTS
 * (bench/fidelity_near.sh's "arch seed accuracy seconds" lines); full gets
 * their mean (a fraction). Returns the count. */
static int near_set(const char *dir, const char *results, struct arch *archs, double *full, int max)
{
    int n = 0;
    for (int i = 0; i < 100 && n < max; i++) {
        char path[4096], name[32], line[256];
        snprintf(name, sizeof name, "near%02d", i);
        snprintf(path, sizeof path, "%s/%s.json", dir, name);
        if (access(path, R_OK) != 0)
            continue;
        double acc[2] = {0, 0};
        int got = 0;
        FILE *f = fopen(results, "r");
        if (!f) {
            fprintf(stderr, "bench_train: cannot open %s\n", results);
            exit(1);
        }
        while (fgets(line, sizeof line, f)) {
            char a[32];
            int seed;
            double v;
            if (sscanf(line, "%31s %d %lf", a, &seed, &v) == 3 && strcmp(a, name) == 0 &&
                (seed == 1 || seed == 2))
                acc[seed - 1] = v, got |= 1 << (seed - 1);
        }
        fclose(f);
        if (got != 3)
            continue; /* both seeds or nothing */
        struct hw_err err = {0};
        if (arch_load(path, &archs[n], &err) != HW_OK)
            die(&err);
        snprintf(archs[n].name, sizeof archs[n].name, "%s", name);
        full[n++] = (acc[0] + acc[1]) / 200;
    }
    return n;
}

static void proxies_run(struct arch *archs, const double *full, int n, int epochs, int subset,
                        int val_subset, uint64_t seed, int batch, double lr, int augment)
{
    double proxy[100], neg_loss[100], neg_train[100], secs[100];
    struct eval_proxy_config c;
    eval_proxy_config_default(&c);
    c.train = &train_set;
    c.val = &val_set;
    c.epochs = epochs;
    c.subset = subset;
    c.val_subset = val_subset;
    if (batch > 0)
        c.batch = batch;
    if (lr > 0)
        c.lr = lr;
    if (augment >= 0)
        c.augment = augment;
    printf("proxy: %d epochs on %d images, val on %d, seed %llu, batch %d, lr %g, augment %d\n",
           epochs, subset, val_subset ? val_subset : val_set.n, (unsigned long long)seed,
           c.batch, c.lr, c.augment);
    for (int i = 0; i < n; i++) {
        struct eval_result r;
        struct hw_err err = {0};
        if (eval_proxy(&archs[i], &c, seed, &r, &err) != HW_OK)
            die(&err);
        proxy[i] = r.val_acc;
        neg_loss[i] = -r.val_loss;
        neg_train[i] = -r.train_loss;
        secs[i] = r.wall_s;
        printf("  %s: %.2f MMACs, proxy %.2f%% (val loss %.4f, last epoch's train loss %.4f), "
               "full %.2f%% (%.1fs)\n",
               archs[i].name, arch_cost(&archs[i]).macs / 1e6, 100 * r.val_acc, r.val_loss,
               r.train_loss, 100 * full[i], r.wall_s);
        fflush(stdout);
    }
    qsort(secs, (size_t)n, sizeof *secs, cmp_double);
    printf("Kendall tau %.3f over %d archs (ranked by proxy val loss instead: %.3f, by the last "
           "epoch's train loss: %.3f); median proxy cost %.1fs\n",
           kendall_tau(proxy, full, n), n, kendall_tau(neg_loss, full, n),
           kendall_tau(neg_train, full, n), secs[n / 2]);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ref";
    if (strcmp(mode, "near") == 0)
        return bench_near(argc, argv);
    int a2 = argc > 2 ? atoi(argv[2]) : 0, a3 = argc > 3 ? atoi(argv[3]) : 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int env_threads = getenv("THREADS") ? atoi(getenv("THREADS")) : 0;
    if (env_threads > 0)
        cores = env_threads;
    nn_set_threads(strcmp(mode, "ref") == 0 && a3 > 0 ? a3 : (int)(cores > 0 ? cores : 1));
    struct hw_err err = {0};
    if (data_load_trainval(NULL, 10, &train_set, &val_set, &err) != HW_OK)
        die(&err);
    if (strcmp(mode, "ref") == 0)
        bench_ref(a2 > 0 ? a2 : 10);
    else if (strcmp(mode, "proxy") == 0)
        bench_proxy(a2 > 0 ? a2 : 5, a3 > 0 ? (uint64_t)a3 : 1);
    else if (strcmp(mode, "fidelity") == 0)
        bench_fidelity(a2 > 1 ? a2 : 12, a3 > 0 ? a3 : 10, argc > 4 ? argv[4] : "wide",
                       argc > 5 && atoi(argv[5]) > 0 ? atoi(argv[5]) : 0);
    else if (strcmp(mode, "archs") == 0) {
        int n = a2 > 0 ? a2 : 12;
        struct arch *archs = malloc(sizeof *archs * (size_t)n);
        fidelity_archs(archs, n, argc > 3 ? argv[3] : "wide");
        for (int i = 0; i < n; i++) {
            struct arch_cost cost = arch_cost(&archs[i]);
            printf("%s: %.2f MMACs, %.0fk params, %d layers\n", archs[i].name, cost.macs / 1e6,
                   cost.params / 1e3, archs[i].n_layers);
            if (argc > 4)
                write_arch_json(argv[4], &archs[i]);
        }
        free(archs);
    } else if (strcmp(mode, "proxies-near") == 0 && argc >= 7) {
        struct arch archs[100];
        double full[100];
        int n = near_set(argv[2], argv[3], archs, full, 100);
        if (n < 2) {
            fprintf(stderr, "bench_train: %s: fewer than 2 archs with both seeds\n", argv[3]);
            return 1;
        }
        proxies_run(archs, full, n, atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                    argc > 7 ? (uint64_t)atoll(argv[7]) : 1, 0, 0, -1);
    } else if (strcmp(mode, "proxies") == 0 && argc >= 6)
        bench_proxies(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                      argc > 6 ? (uint64_t)atoll(argv[6]) : 1, argc > 7 ? atoi(argv[7]) : 0,
                      argc > 8 ? atof(argv[8]) : 0, argc > 9 ? atoi(argv[9]) : -1);
    else {
        fprintf(stderr, "usage: bench_train ref [EPOCHS] [THREADS] | proxy [N] [SEED] | "
                        "fidelity [N] [EPOCHS] [mid|wide] [FROM] | near DB SPACE N DIR [LO] [HI] [SEED] | archs [N] [mid|wide] [DIR] | proxies FULL_FILE EPOCHS SUBSET VAL [SEED] [BATCH] [LR] [AUG] | proxies-near DIR RESULTS EPOCHS SUBSET VAL [SEED]\n");
        return 2;
    }
    data_set_release(&train_set);
    data_set_release(&val_set);
    return 0;
}
