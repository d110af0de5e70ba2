#include "tests/crash_matrix.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "evaluator/model.h"
#include "nn/net.h"
#include "supernet/supernet.h"
#include "tests/cli_run.h"
#include "util/binfile.h"
#include "util/fnv.h"
#include "util/pcg32.h"
#include "util/timer.h"

/* ---- what a run has finished --------------------------------------------- */

/* The records a command has finished, as "key\tvalue" lines, sorted. A
 * value that is empty or starts with '~' is a record still in progress (a
 * checkpoint, a table entry timed again), which may change; others may
 * not. */
struct rows {
    char **line; /* owned */
    int n, cap;
    int torn;       /* records or files that are not whole */
    int holes;      /* records missing from their numbering (trial 0..n-1) */
    char note[512]; /* the first torn or missing one */
};

static void rows_add(struct rows *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rows_add(struct rows *r, const char *key, const char *fmt, ...)
{
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        char **grown = realloc(r->line, sizeof *grown * (size_t)cap);
        if (!grown)
            abort(); /* a test's own bookkeeping: no way to report */
        r->line = grown;
        r->cap = cap;
    }
    size_t len = strlen(key) + strlen(value) + 2;
    if (!(r->line[r->n] = malloc(len)))
        abort();
    snprintf(r->line[r->n++], len, "%s\t%s", key, value);
}

/* Counts a flaw in *count and keeps the first one's description. */
static void rows_flaw(struct rows *r, int *count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rows_flaw(struct rows *r, int *count, const char *fmt, ...)
{
    if ((*count)++ == 0 && !r->note[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->note, sizeof r->note, fmt, ap);
        va_end(ap);
    }
}

static void rows_release(struct rows *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->line[i]);
    free(r->line);
    memset(r, 0, sizeof *r);
}

static int by_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Length of a line's key (up to the tab). */
static size_t key_len(const char *line)
{
    return strcspn(line, "\t");
}

static int same_key(const char *a, const char *b)
{
    size_t n = key_len(a);
    return n == key_len(b) && strncmp(a, b, n) == 0;
}

/* The line of r with line's key, or NULL. */
static const char *find_key(const struct rows *r, const char *line)
{
    for (int i = 0; i < r->n; i++)
        if (same_key(r->line[i], line))
            return r->line[i];
    return NULL;
}

static int rows_same(const struct rows *a, const struct rows *b)
{
    for (int i = 0; a->n == b->n && i < a->n; i++)
        if (strcmp(a->line[i], b->line[i]) != 0)
            return 0;
    return a->n == b->n;
}

static uint64_t fnv_bytes(const void *p, size_t n)
{
    uint64_t h = FNV1A64_BASIS;
    for (size_t i = 0; i < n; i++)
        h = fnv1a64_byte(h, ((const unsigned char *)p)[i]);
    return h;
}

/* Every model (.hwm) and supernet (.hwsn) file in dir loads; a row for
 * each: the hash of a model's bytes, a finished supernet's step count and
 * weights (its file also holds the training's wall time), or "~" and the
 * steps of a supernet checkpoint. A leftover "<file>.tmp" of a killed atomic write is
 * no output. */
static void rows_files(const char *dir, struct rows *r)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        int model = n > 4 && !strcmp(e->d_name + n - 4, ".hwm");
        int sn = n > 5 && !strcmp(e->d_name + n - 5, ".hwsn");
        if (!model && !sn)
            continue;
        char path[512], key[300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(key, sizeof key, "file %s", e->d_name);
        struct hw_err err;
        if (model) {
            struct nn_net *net = NULL;
            unsigned char *bytes = NULL;
            size_t len = 0;
            if (model_load(path, 2, &net, &err) != HW_OK ||
                bin_read_file(path, (size_t)1 << 30, "model", &bytes, &len, &err) != HW_OK)
                rows_flaw(r, &r->torn, "%s does not load: %s", path, err.msg);
            else
                rows_add(r, key, "%016llx", (unsigned long long)fnv_bytes(bytes, len));
            nn_net_free(net);
            free(bytes);
            continue;
        }
        struct supernet s;
        if (supernet_load(path, &s, &err) != HW_OK) {
            rows_flaw(r, &r->torn, "%s does not load: %s", path, err.msg);
            continue;
        }
        if (s.step < s.total_steps)
            rows_add(r, key, "~%ld of %ld steps", s.step, s.total_steps);
        else
            rows_add(r, key, "%ld steps, weights %016llx", s.step,
                     (unsigned long long)fnv_bytes(s.params, sizeof(float) * s.n_params));
        supernet_release(&s);
    }
    if (d)
        closedir(d);
}

/* dir/t.db opened, or NULL when there is none yet (or it does not open,
 * which check() reports). */
static struct db *open_db(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct db *db;
    return db_open(&db, path, DB_OPEN_EXISTING, NULL) == HW_OK ? db : NULL;
}

/* ---- the commands ---------------------------------------------------------- */

/* tmpl with every "{dir}" replaced by dir, into out. */
static void expand(const char *tmpl, const char *dir, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = tmpl; *p && n + 1 < size;) {
        if (strncmp(p, "{dir}", 5) == 0) {
            n += (size_t)snprintf(out + n, size - n, "%s", dir);
            p += 5;
        } else {
            out[n++] = *p++;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

/* A command's arguments: "{dir}" stands for the run's folder, which holds
 * a copy of the setup's files. */
struct crash_args {
    char start[1024];
    char resume[1024]; /* after a kill; "" runs start again */
};

struct crash_case {
    const char *name;
    /* Makes the setup files in dir (which holds tiny.json, the small space of
     * tests/cli_run.h) and the arguments; 0, or -1 with msg saying why. */
    int (*setup)(const char *dir, int full, struct crash_args *a, char *msg, size_t size);
    /* Whether the killed run left something for resume to continue; NULL:
     * resume always. */
    int (*started)(const char *dir);
    /* What the run in dir has finished, besides its model files. */
    void (*rows)(const char *dir, struct rows *r);
    /* How the end result is compared with the uninterrupted run's: every
     * line (deterministic), keys only (timings), or the distinct values
     * (records numbered by id, one per attempt). */
    enum { SAME_ROWS, SAME_KEYS, SAME_VALUES } compare;
    /* Whether a run after a kill does the work again from its start (train,
     * validate): each kill's moment is then drawn within one whole run, not
     * within the time the runs have summed so far. */
    int restarts;
    /* Whether the reference's latency table goes to the interrupted run's
     * database before it starts: keys the command times on demand (the
     * layers NetAdapt trims to widths the space lacks) take other times
     * in every run, and other times make other choices. */
    int share_table;
};

/* Runs hwnas with the args fmt makes; 0 when it exits 0, else -1 with msg
 * naming the command and its stderr. With out, the stdout (malloc'd). */
static int hwnas(char **out, char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int hwnas(char **out, char *msg, size_t size, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    struct cli_run r;
    if (cli_run(&r, args) != 0 || r.status != 0) {
        snprintf(msg, size, "setup: hwnas %s: exit %d: %.300s", args, r.status,
                 r.err ? r.err : "");
        cli_run_release(&r);
        return -1;
    }
    if (out)
        *out = r.out, r.out = NULL;
    cli_run_release(&r);
    return 0;
}

/* The small space profiled into dir/t.db, quickly: the commands after it
 * need a table, not a good one. */
static int profile_quick(const char *dir, char *msg, size_t size)
{
    return hwnas(NULL, msg, size, "profile --space %s/tiny.json --db %s/t.db --runs 3 "
                 "--warmup 1 --rounds 1 --calib-samples 20 --quiet", dir, dir);
}

/* dir/arch.json: an arch of the small space (its sample of seed 5). */
static int write_arch(const char *dir, char *msg, size_t size)
{
    char *arch = NULL, path[256];
    if (hwnas(&arch, msg, size, "space sample %s/tiny.json --seed 5", dir))
        return -1;
    snprintf(path, sizeof path, "%s/arch.json", dir);
    FILE *f = fopen(path, "w");
    int bad = !f || fputs(arch, f) < 0;
    bad = (f && fclose(f)) || bad;
    free(arch);
    return bad ? (snprintf(msg, size, "setup: cannot write %s", path), -1) : 0;
}

static int setup_profile(const char *dir, int full, struct crash_args *a, char *msg,
                         size_t size)
{
    /* each key timed as a user's profile times it (runs within ~0.5 s) */
    snprintf(a->start, sizeof a->start, "profile --space {dir}/tiny.json --db {dir}/t.db "
             "--rounds %d --calib-samples %d --quiet", full ? 3 : 2, full ? 100 : 30);
    a->resume[0] = '\0';
    return 0;
}

struct lut_rows {
    struct rows *r;
    int64_t device;
};

static int lut_row(void *p, const struct db_lut_entry *e)
{
    struct lut_rows *c = p;
    char key[160];
    snprintf(key, sizeof key, "lut %lld %s", (long long)c->device, e->key);
    rows_add(c->r, key, "~%d runs, fastest %.3f us", e->count, e->min_us);
    return 0;
}

/* Every table key and calibration of every device; their figures change
 * as later passes time them again. */
static void rows_profile(const char *dir, struct rows *r)
{
    struct db *db = open_db(dir);
    struct db_device *devs = NULL;
    int nd = 0;
    if (!db || db_device_list(db, &devs, &nd, NULL) != HW_OK)
        nd = 0;
    for (int i = 0; i < nd; i++) {
        struct lut_rows ctx = {r, devs[i].id};
        db_lut_iterate(db, devs[i].id, lut_row, &ctx, NULL);
        struct db_calibration *cal = NULL;
        int nc = 0;
        if (db_calibration_list(db, devs[i].id, &cal, &nc, NULL) != HW_OK)
            nc = 0;
        for (int j = 0; j < nc; j++) {
            char key[128];
            snprintf(key, sizeof key, "calibration %lld %s", (long long)devs[i].id,
                     cal[j].input);
            rows_add(r, key, "~%d networks, %s", cal[j].samples, cal[j].created_at);
        }
        free(cal);
    }
    free(devs);
    db_close(db);
}

static int setup_validate(const char *dir, int full, struct crash_args *a, char *msg,
                          size_t size)
{
    snprintf(a->start, sizeof a->start, "validate --space {dir}/tiny.json --samples %d "
             "--rounds %d --runs %d --db {dir}/t.db", full ? 100 : 40, full ? 3 : 2, full ? 50 : 20);
    a->resume[0] = '\0';
    return profile_quick(dir, msg, size);
}

/* Every validation, whole: its details list as many measured samples as it
 * says. One per finished attempt, each with its own id. */
static void rows_validate(const char *dir, struct rows *r)
{
    struct db *db = open_db(dir);
    struct db_validation *v = NULL;
    int n = 0;
    if (!db || db_validation_list(db, 0, &v, &n, NULL) != HW_OK)
        n = 0;
    for (int i = 0; i < n; i++) {
        cJSON *details = v[i].details_json ? cJSON_Parse(v[i].details_json) : NULL;
        int whole = cJSON_IsArray(details) && cJSON_GetArraySize(details) == v[i].samples;
        for (int j = 0; whole && j < v[i].samples; j++)
            whole = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(details, j),
                                                             "measured_us")) > 0;
        cJSON_Delete(details);
        char key[64];
        snprintf(key, sizeof key, "validation %lld", (long long)v[i].id);
        if (whole)
            rows_add(r, key, "%s, %d samples", v[i].space, v[i].samples);
        else
            rows_flaw(r, &r->torn, "validation %lld: its details are not %d measured samples",
                      (long long)v[i].id, v[i].samples);
    }
    db_validation_list_free(v, n);
    db_close(db);
}

#define SEARCH_ARGS "search --space {dir}/tiny.json --target-ms 0.05 --controller evolution " \
                    "--seed 4 --proxy-epochs 1 --proxy-subset 256 --proxy-val 256 " \
                    "--train-threads 1 --quiet --name k --db {dir}/t.db"

static int setup_search(const char *dir, int full, struct crash_args *a, char *msg, size_t size)
{
    snprintf(a->start, sizeof a->start, SEARCH_ARGS " --trials %d", full ? 40 : 12);
    snprintf(a->resume, sizeof a->resume, "search --resume k --db {dir}/t.db --quiet "
             "--train-threads 1");
    return profile_quick(dir, msg, size);
}

/* dir/t.db opened with search run k in *run (release both), or NULL when
 * there is no such run yet. */
static struct db *open_run(const char *dir, struct db_run *run)
{
    struct db *db = open_db(dir);
    if (db && db_run_lookup(db, "k", run, NULL) == HW_OK)
        return db;
    db_close(db);
    return NULL;
}

/* The search scoring with a supernet's shared weights (evaluator/): the
 * resume loads the supernet again. */
static int setup_search_supernet(const char *dir, int full, struct crash_args *a, char *msg,
                                 size_t size)
{
    snprintf(a->start, sizeof a->start, SEARCH_ARGS " --trials %d --evaluator supernet "
             "--supernet {dir}/s.hwsn --sn-recal 500 --sn-val 1000", full ? 60 : 20);
    snprintf(a->resume, sizeof a->resume, "search --resume k --db {dir}/t.db --quiet "
             "--train-threads 1");
    return profile_quick(dir, msg, size) ||
           hwnas(NULL, msg, size, "supernet train --space %s/tiny.json --subset 2000 --epochs 1 "
                 "--batch 32 --threads 1 --quiet --out %s/s.hwsn", dir, dir) ? -1 : 0;
}

static int search_started(const char *dir)
{
    struct db_run run;
    struct db *db = open_run(dir, &run);
    if (db)
        db_run_release(&run);
    db_close(db);
    return db != NULL;
}

/* Run k's candidates, trials 0..n-1 once each: arch and what it scored. */
static void rows_search(const char *dir, struct rows *r)
{
    struct db_run run;
    struct db *db = open_run(dir, &run);
    struct db_candidate *cs = NULL;
    int n = 0;
    if (!db)
        return;
    if (db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &n, NULL) != HW_OK)
        n = 0;
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "trial %04d", cs[i].trial);
        rows_add(r, key, "%s acc %.6f loss %.6f train loss %.6f", cs[i].arch_hash,
                 cs[i].val_acc, cs[i].val_loss, cs[i].train_loss);
        if (cs[i].trial != i)
            rows_flaw(r, &r->holes, "run k: candidate %d of %d is trial %d", i, n, cs[i].trial);
    }
    db_candidate_list_free(cs, n);
    db_run_release(&run);
    db_close(db);
}

static int setup_rerank(const char *dir, int full, struct crash_args *a, char *msg, size_t size)
{
    snprintf(a->start, sizeof a->start, "runs rerank k --top %d --epochs 1 --subset %d "
             "--any-latency --threads 1 --quiet --db {dir}/t.db", full ? 10 : 3,
             full ? 2048 : 512);
    a->resume[0] = '\0';
    char search[1024];
    expand(full ? SEARCH_ARGS " --trials 30" : SEARCH_ARGS " --trials 10", dir, search,
           sizeof search);
    return profile_quick(dir, msg, size) || hwnas(NULL, msg, size, "%s", search) ? -1 : 0;
}

/* Run k's reranks: one per candidate and budget. */
static void rows_rerank(const char *dir, struct rows *r)
{
    struct db_run run;
    struct db *db = open_run(dir, &run);
    struct db_rerank *rr = NULL;
    int n = 0;
    if (!db)
        return;
    if (db_rerank_list(db, run.id, &rr, &n, NULL) != HW_OK)
        n = 0;
    for (int i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "rerank trial %d, %d epochs on %d images, seed %llu",
                 rr[i].trial, rr[i].epochs, rr[i].subset, (unsigned long long)rr[i].seed);
        rows_add(r, key, "%s acc %.6f", rr[i].arch_hash, rr[i].val_acc);
    }
    free(rr);
    db_run_release(&run);
    db_close(db);
}

static int setup_netadapt(const char *dir, int full, struct crash_args *a, char *msg,
                          size_t size)
{
    char *lat = NULL;
    int rc = profile_quick(dir, msg, size) || write_arch(dir, msg, size) ||
             hwnas(NULL, msg, size, "train %s/arch.json --epochs 1 --subset 1024 --threads 1 "
                   "--out %s/m.hwm --quiet", dir, dir) ||
             hwnas(&lat, msg, size, "latency %s/m.hwm --db %s/t.db --json", dir, dir);
    cJSON *o = rc ? NULL : cJSON_Parse(lat);
    double l0_us = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "predicted_us"));
    cJSON_Delete(o);
    free(lat);
    if (rc || !(l0_us > 0))
        return rc ? -1 : (snprintf(msg, size, "setup: no latency of %s/m.hwm", dir), -1);
    snprintf(a->start, sizeof a->start, "netadapt --model {dir}/m.hwm --target-ms %.6f "
             "--delta %g --short-steps %d --val-subset 1000 --long-epochs %d --seed 3 "
             "--workdir {dir} --quiet --db {dir}/t.db", 0.82 * l0_us / 1000,
             full ? 0.01 : 0.02, full ? 60 : 30, full ? 1 : 0);
    snprintf(a->resume, sizeof a->resume, "netadapt --resume 1 --db {dir}/t.db --quiet");
    return 0;
}

static int netadapt_started(const char *dir)
{
    struct db *db = open_db(dir);
    struct db_netadapt run;
    int found = db && db_netadapt_get(db, 1, &run, NULL) == HW_OK;
    if (found)
        db_netadapt_release(&run);
    db_close(db);
    return found;
}

/* NetAdapt run 1's proposals: iterations 0..k-1, each with one chosen, k
 * the run's count; the model it stands at is there; when done, where it
 * ended. */
static void rows_netadapt(const char *dir, struct rows *r)
{
    struct db *db = open_db(dir);
    struct db_netadapt run;
    struct db_na_step *st = NULL;
    int n = 0;
    if (!db || db_netadapt_get(db, 1, &run, NULL) != HW_OK) {
        db_close(db);
        return;
    }
    if (db_netadapt_steps(db, 1, &st, &n, NULL) != HW_OK)
        n = 0;
    int iterations = 0, chosen = 0;
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "step %03d.%03d", st[i].iteration, st[i].proposal);
        rows_add(r, key, "%s %s %d->%d %.6f ms acc %.6f%s", db_na_kind_name(st[i].kind),
                 st[i].layers, st[i].channels_before, st[i].channels_after, st[i].latency_ms,
                 st[i].val_acc, st[i].chosen ? " chosen" : "");
        if (st[i].iteration == iterations - 1) {
            chosen += st[i].chosen;
            continue;
        }
        if (iterations > 0 && chosen != 1)
            rows_flaw(r, &r->holes, "NetAdapt run 1: iteration %d chose %d proposals",
                      iterations - 1, chosen);
        if (st[i].iteration != iterations)
            rows_flaw(r, &r->holes, "NetAdapt run 1: iteration %d follows %d",
                      st[i].iteration, iterations - 1);
        iterations = st[i].iteration + 1;
        chosen = st[i].chosen;
    }
    if (iterations > 0 && chosen != 1)
        rows_flaw(r, &r->holes, "NetAdapt run 1: iteration %d chose %d proposals",
                  iterations - 1, chosen);
    if (run.iterations != iterations)
        rows_flaw(r, &r->holes, "NetAdapt run 1 counts %d iterations, its proposals %d",
                  run.iterations, iterations);
    if (run.current_model[0] && access(run.current_model, F_OK) != 0)
        rows_flaw(r, &r->holes, "NetAdapt run 1 stands at %s, which is missing",
                  run.current_model);
    if (run.status == DB_RUN_DONE)
        rows_add(r, "netadapt 1", "done, %d iterations, %.6f ms", run.iterations,
                 run.current_ms);
    struct db_model *m = NULL;
    if (db_model_list(db, &m, &n, NULL) != HW_OK)
        n = 0;
    for (int i = 0; i < n; i++) {
        const char *base = strrchr(m[i].path, '/');
        char key[300];
        snprintf(key, sizeof key, "model %s", base ? base + 1 : m[i].path);
        rows_add(r, key, "%s of NetAdapt run %lld, acc %.6f", m[i].name,
                 (long long)m[i].source_id, m[i].val_acc);
    }
    db_model_list_free(m, n);
    free(st);
    db_netadapt_release(&run);
    db_close(db);
}

static int setup_train(const char *dir, int full, struct crash_args *a, char *msg, size_t size)
{
    snprintf(a->start, sizeof a->start, "train {dir}/arch.json --epochs %d --subset %d "
             "--threads 1 --out {dir}/m.hwm --quiet", full ? 3 : 2, full ? 8192 : 2048);
    a->resume[0] = '\0';
    return write_arch(dir, msg, size);
}

static int setup_supernet(const char *dir, int full, struct crash_args *a, char *msg,
                          size_t size)
{
    /* checkpoints often, so kills find some to resume from */
    snprintf(a->start, sizeof a->start, "supernet train --space {dir}/tiny.json --subset %d "
             "--epochs 2 --batch 32 --threads 1 --quiet --out {dir}/s.hwsn "
             "--checkpoint-every 0.2s", full ? 6000 : 2000);
    snprintf(a->resume, sizeof a->resume, "supernet train --resume --out {dir}/s.hwsn "
             "--threads 1 --quiet --checkpoint-every 0.2s");
    return 0;
}

static int supernet_started(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/s.hwsn", dir);
    return access(path, F_OK) == 0;
}

/* Its output is its model file, which every row has. */
static void rows_none(const char *dir, struct rows *r)
{
}

static const struct crash_case cases[] = {
    {"profile", setup_profile, NULL, rows_profile, SAME_KEYS, 0, 0},
    {"validate", setup_validate, NULL, rows_validate, SAME_VALUES, 1, 0},
    {"search", setup_search, search_started, rows_search, SAME_ROWS, 0, 0},
    {"runs rerank", setup_rerank, NULL, rows_rerank, SAME_ROWS, 0, 0},
    {"netadapt", setup_netadapt, netadapt_started, rows_netadapt, SAME_ROWS, 0, 1},
    {"train --out", setup_train, NULL, rows_none, SAME_ROWS, 1, 0},
    {"supernet train", setup_supernet, supernet_started, rows_none, SAME_ROWS, 0, 0},
    /* the full matrix only, from here */
    {"search supernet", setup_search_supernet, search_started, rows_search, SAME_ROWS, 0, 0},
};

/* How many cases the reduced matrix runs: the first ones. */
#define REDUCED_CASES 7

int crash_matrix_size(int full)
{
    return full ? (int)(sizeof cases / sizeof cases[0]) : REDUCED_CASES;
}

const char *crash_matrix_command(int i)
{
    return cases[i].name;
}

/* ---- the driver ------------------------------------------------------------- */

struct drive {
    const struct crash_case *c;
    const struct crash_opts *o;
    struct crash_tally *t;
    struct crash_args a;
    char where[160]; /* the moment every report line names */
    char top[64];    /* the setup's files; ref/ and run/ below it */
    char ref[80], run[80];
    size_t report_len;
    /* the reference's start-up (data, database, state) and its mean time
     * between two stores (a candidate, an iteration, a checkpoint) */
    double startup_s, unit_s;
};

/* Appends a line to the report: seed, command, moment, what. */
static void say(struct drive *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct drive *d, const char *fmt, ...)
{
    char what[1200], line[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int n = snprintf(line, sizeof line, "crash matrix seed %llu, %s, %s: %s\n",
                     (unsigned long long)d->o->seed, d->c->name, d->where, what);
    char *grown = realloc(d->t->report, d->report_len + (size_t)n + 1);
    if (!grown)
        return;
    memcpy(grown + d->report_len, line, (size_t)n + 1);
    d->t->report = grown;
    d->report_len += (size_t)n;
}

/* Copies the setup's files (not its folders) into a new folder dir. */
static int copy_setup(struct drive *d, const char *dir)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "mkdir %s && find %s -maxdepth 1 -type f -exec cp -p -t %s {} +",
             dir, d->top, dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Waits up to delay seconds for pid: 1 when it ended (*st its status), 0
 * when it still runs. */
static int wait_for(pid_t pid, double delay, int *st)
{
    uint64_t start = timer_now_ns();
    for (;;) {
        if (waitpid(pid, st, WNOHANG) == pid)
            return 1;
        double left = delay - timer_since_s(start);
        if (left <= 0)
            return 0;
        struct timespec nap = {0, left < 1e-3 ? (long)(left * 1e9) : 1000000};
        nanosleep(&nap, NULL);
    }
}

/* Checks the run in dir: the database sound, its rows into *cur (sorted),
 * each at most once, whole, none missing from its numbering, and every row
 * of prev (what an earlier check found; may be NULL) still there with the
 * same value unless it was in progress. Counts into the tally. */
static void check(struct drive *d, const char *dir, struct rows *cur, const struct rows *prev)
{
    char path[160];
    snprintf(path, sizeof path, "%s/t.db", dir);
    if (access(path, F_OK) == 0) {
        struct db *db = NULL;
        struct hw_err err;
        if (db_open(&db, path, DB_OPEN_EXISTING, &err) != HW_OK || db_check(db, &err) != HW_OK) {
            d->t->integrity++;
            say(d, "%s", err.msg);
        }
        db_close(db);
    }
    d->c->rows(dir, cur);
    rows_files(dir, cur);
    if (cur->n > 1) /* qsort of no lines: a NULL array UBSan refuses */
        qsort(cur->line, (size_t)cur->n, sizeof *cur->line, by_line);
    if (cur->torn || cur->holes) {
        d->t->integrity += cur->torn;
        d->t->losses += cur->holes;
        say(d, "%d torn, %d missing: %s", cur->torn, cur->holes, cur->note);
    }
    for (int i = 1; i < cur->n; i++)
        if (same_key(cur->line[i - 1], cur->line[i])) {
            d->t->duplicates++;
            say(d, "stored twice: '%s' and '%s'", cur->line[i - 1], cur->line[i]);
        }
    for (int i = 0; prev && i < prev->n; i++) {
        const char *now = find_key(cur, prev->line[i]);
        const char *value = prev->line[i] + key_len(prev->line[i]);
        if (!now) {
            d->t->losses++;
            say(d, "'%s', finished before, is gone", prev->line[i]);
        } else if (value[1] && value[1] != '~' && strcmp(now, prev->line[i]) != 0) {
            d->t->mismatches++;
            say(d, "'%s', finished before, became '%s'", prev->line[i], now);
        }
    }
}

/* The part of a row the comparison with the uninterrupted run looks at. */
static void compared(const struct crash_case *c, const char *line, char *out, size_t size)
{
    size_t k = key_len(line);
    if (c->compare == SAME_KEYS)
        snprintf(out, size, "%.*s", (int)k, line);
    else if (c->compare == SAME_VALUES)
        snprintf(out, size, "%s", line[k] ? line + k + 1 : "");
    else
        snprintf(out, size, "%s", line);
}

/* Whether some row of r before index `before` compares as s. */
static int seen(const struct crash_case *c, const struct rows *r, int before, const char *s)
{
    char x[600];
    for (int i = 0; i < before; i++) {
        compared(c, r->line[i], x, sizeof x);
        if (!strcmp(x, s))
            return 1;
    }
    return 0;
}

/* Counts what one side has and the other has not (distinct rows, as the
 * case compares them). */
static void compare(struct drive *d, const struct rows *got, const struct rows *ref)
{
    const struct rows *side[2] = {got, ref};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < side[s]->n; i++) {
            char x[600];
            compared(d->c, side[s]->line[i], x, sizeof x);
            if (seen(d->c, side[s], i, x) || seen(d->c, side[1 - s], side[1 - s]->n, x))
                continue;
            if (d->t->mismatches++ < 4)
                say(d, "only the %s run has '%s'", s ? "uninterrupted" : "interrupted", x);
        }
}

/* The arguments of the next run in the run's folder: start for the first
 * one or when a kill left nothing to resume. */
static void next_args(struct drive *d, int first, char *args, size_t size)
{
    int resume = !first && d->a.resume[0] && (!d->c->started || d->c->started(d->run));
    expand(resume ? d->a.resume : d->a.start, d->run, args, size);
}

/* A hash of what the run in dir has stored, to see it change. */
static uint64_t stored(const struct drive *d, const char *dir)
{
    struct rows r = {0};
    d->c->rows(dir, &r);
    rows_files(dir, &r);
    if (r.n > 1)
        qsort(r.line, (size_t)r.n, sizeof *r.line, by_line);
    uint64_t h = FNV1A64_BASIS;
    for (int i = 0; i < r.n; i++)
        h = fnv1a64_str(fnv1a64_byte(h, '\n'), r.line[i]);
    rows_release(&r);
    return h;
}

/* Waits until the run in dir has stored something other than `was`, or
 * pid ended (1, *st its status). */
static int wait_stored(const struct drive *d, const char *dir, uint64_t was, pid_t pid, int *st)
{
    while (stored(d, dir) == was)
        if (wait_for(pid, 0.02, st))
            return 1;
    return 0;
}

/* Runs the reference in d->ref, watching what it stores: its duration into
 * the tally; its start-up and its mean time between stores (a unit of its
 * work) into d. 0, or -1 (reported) when it failed. */
static int reference(struct drive *d)
{
    char args[2048], log[128];
    expand(d->a.start, d->ref, args, sizeof args);
    snprintf(log, sizeof log, "%s/log.txt", d->ref);
    uint64_t was = stored(d, d->ref), start = timer_now_ns();
    pid_t pid = cli_spawn(args, log);
    int st = 0, ended = pid < 0, stores = 0;
    double first = 0, last = 0;
    while (!ended) {
        ended = wait_for(pid, 0.02, &st);
        double s = timer_since_s(start);
        uint64_t now = stored(d, d->ref);
        if (now != was) {
            first = stores++ ? first : s;
            last = s;
            was = now;
        }
        d->t->ref_s = s;
    }
    /* the first store came after the start-up and one unit */
    d->unit_s = stores > 1 ? (last - first) / (stores - 1) : d->t->ref_s;
    d->startup_s = stores > 1 && first > d->unit_s ? first - d->unit_s : 0;
    if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        d->t->failed++;
        say(d, "hwnas %s: status %d (output in %s)", args, st, log);
        return -1;
    }
    return 0;
}

/* The interrupted run: kills at moments[0..kills), then a last run unless
 * one finished first; its end state into *got. */
static void interrupted(struct drive *d, const double *moments, struct rows *got)
{
    char args[2048], log[128];
    snprintf(log, sizeof log, "%s/log.txt", d->run);
    struct rows prev = {0};
    int ended = 0, killed = 0; /* how the last run ended */
    for (int k = 0; k < d->o->kills; k++) {
        /* a moment past the start-up comes after the run's first store */
        int late = !d->c->restarts && moments[k] >= d->startup_s;
        snprintf(d->where, sizeof d->where, "kill %d of %d at %.3f s%s (the uninterrupted "
                 "run took %.3f s: %.3f s of start-up, then a store every %.3f s)", k + 1,
                 d->o->kills, late ? moments[k] - d->startup_s : moments[k],
                 late ? " after the run's first store" : " into its run", d->t->ref_s,
                 d->startup_s, d->unit_s);
        next_args(d, k == 0, args, sizeof args);
        d->t->resumes += killed;
        uint64_t was = stored(d, d->run), start = timer_now_ns();
        pid_t pid = cli_spawn(args, log);
        int st = 0;
        if (pid < 0) {
            d->t->failed++;
            say(d, "cannot start hwnas %s", args);
            rows_release(&prev);
            return;
        }
        ended = late ? wait_stored(d, d->run, was, pid, &st) ||
                           wait_for(pid, moments[k] - d->startup_s, &st)
                     : wait_for(pid, moments[k], &st);
        killed = !ended;
        if (killed) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            d->t->kills += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        }
        d->t->crash_s += timer_since_s(start);
        if (ended && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
            d->t->failed++;
            say(d, "hwnas %s ended with status %d before the kill (output in %s)", args, st,
                log);
            break;
        }
        /* finished before its moment: a command that restarts runs again
         * for the next one; the others are done */
        if (ended && !d->c->restarts)
            break;
        rows_release(got);
        check(d, d->run, got, &prev);
        d->t->advanced += !rows_same(got, &prev);
        rows_release(&prev);
        prev = *got;
        memset(got, 0, sizeof *got);
    }
    if (!ended) {
        snprintf(d->where, sizeof d->where, "the run after %d kills", d->t->kills);
        next_args(d, 0, args, sizeof args);
        d->t->resumes++;
        uint64_t start = timer_now_ns();
        struct cli_run r;
        int rc = cli_run(&r, args);
        d->t->crash_s += timer_since_s(start);
        if (rc != 0 || r.status != 0) {
            d->t->failed++;
            say(d, "hwnas %s: exit %d: %.400s", args, r.status, r.err ? r.err : "");
        }
        cli_run_release(&r);
    } else {
        snprintf(d->where, sizeof d->where, "the end, %d of %d kills made", d->t->kills,
                 d->o->kills);
    }
    check(d, d->run, got, &prev);
    rows_release(&prev);
}

void crash_matrix_run(int i, const struct crash_opts *o, struct crash_tally *t)
{
    memset(t, 0, sizeof *t);
    /* one thread in every hwnas: NetAdapt has no flag for it, results are
     * compared exactly (another team size sums in another order), and on a
     * shared 2-core machine its 2-thread fine-tunes ran 5x slower */
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    struct drive d = {.c = &cases[i], .o = o, .t = t};
    t->command = d.c->name;
    t->planned = o->kills;
    snprintf(d.where, sizeof d.where, "setup");
    char tag[17], msg[1024], args[2048];
    int n = 0;
    for (const char *p = d.c->name; *p && n < 16; p++)
        if ((*p >= 'a' && *p <= 'z') || *p == ' ')
            tag[n++] = *p == ' ' ? '-' : *p;
    tag[n] = '\0';
    if (cli_tiny_dir(d.top, tag) != 0) {
        t->failed++;
        say(&d, "cannot make a folder in /tmp");
        return;
    }
    snprintf(d.ref, sizeof d.ref, "%s/ref", d.top);
    snprintf(d.run, sizeof d.run, "%s/run", d.top);
    struct rows ref = {0}, got = {0};
    double *moments = calloc((size_t)(o->kills > 0 ? o->kills : 1), sizeof *moments);
    if (!moments || d.c->setup(d.top, o->full, &d.a, msg, sizeof msg) != 0 ||
        copy_setup(&d, d.ref) != 0 || copy_setup(&d, d.run) != 0) {
        t->failed++;
        say(&d, "%s", moments ? msg : "out of memory");
        goto done;
    }
    snprintf(d.where, sizeof d.where, "the uninterrupted run");
    if (reference(&d) != 0)
        goto done;
    check(&d, d.ref, &ref, NULL);
    if (ref.n == 0) {
        t->failed++;
        say(&d, "it left nothing to check");
        goto done;
    }
    if (d.c->share_table &&
        (hwnas(NULL, msg, sizeof msg, "lut export --db %s/t.db --out %s/lut.json", d.ref,
               d.ref) ||
         hwnas(NULL, msg, sizeof msg, "lut import %s/lut.json --db %s/t.db", d.ref, d.run))) {
        t->failed++;
        say(&d, "%s", msg);
        goto done;
    }
    /* the moments: within one run of a command that restarts; else, at
     * even odds, within a run's start-up or within the unit of work after
     * its first store (which a start-up of seconds would leave rare) */
    struct pcg32 rng;
    pcg32_seed(&rng, o->seed, (uint64_t)i + 1);
    for (int k = 0; k < o->kills; k++) {
        double u = pcg32_double(&rng);
        moments[k] = d.c->restarts ? o->span * u * t->ref_s
                     : u < 0.5     ? 2 * u * d.startup_s
                                   : d.startup_s + (2 * u - 1) * o->span * d.unit_s;
    }
    interrupted(&d, moments, &got);
    compare(&d, &got, &ref);
done:
    if (crash_tally_clean(t)) {
        snprintf(args, sizeof args, "rm -rf %s", d.top);
        if (system(args) != 0)
            say(&d, "cannot remove %s", d.top);
    } else {
        say(&d, "the files are in %s", d.top);
    }
    free(moments);
    rows_release(&ref);
    rows_release(&got);
}

int crash_tally_clean(const struct crash_tally *t)
{
    return !t->failed && !t->integrity && !t->losses && !t->duplicates && !t->mismatches;
}

void crash_tally_release(struct crash_tally *t)
{
    free(t->report);
    t->report = NULL;
}
