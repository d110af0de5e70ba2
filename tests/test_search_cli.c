/* The search as a user runs it: a real hwnas process, killed with SIGKILL
 * mid-run and resumed, must end with exactly the candidates of a run that was
 * never interrupted; while it runs, no second process may resume it. */
#include <check.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db/db.h"
#include "evaluator/model.h"
#include "evaluator/proxy.h"
#include "nn/net.h"
#include "space/refs.h"
#include "tests/cli_run.h"

#define SEARCH_FLAGS "--space %s --target-ms 0.05 --controller evolution --trials 12 --seed 4 " \
                     "--proxy-epochs 1 --proxy-subset 256 --proxy-val 256 --train-threads 1 --quiet"

static char dir[64];

static void setup_dir(void)
{
    ck_assert_int_eq(cli_tiny_dir(dir, "scli"), 0);
}

/* Removes the folder setup_dir made. */
static void remove_dir(void)
{
    ck_assert_int_eq(cli_tiny_dir_remove(dir), 0);
}

/* Runs hwnas with the args fmt and ap make (into args[1024]) and requires
 * exit 0; r is the caller's to release. */
static void run_vok(struct cli_run *r, char *args, const char *fmt, va_list ap)
{
    vsnprintf(args, 1024, fmt, ap);
    ck_assert_int_eq(cli_run(r, args), 0);
    ck_assert_msg(r->status == 0, "hwnas %s: exit %d: %s", args, r->status, r->err);
}

static void run_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run_ok(const char *fmt, ...)
{
    char args[1024];
    struct cli_run r;
    va_list ap;
    va_start(ap, fmt);
    run_vok(&r, args, fmt, ap);
    va_end(ap);
    cli_run_release(&r);
}

/* A fresh folder (setup_dir) with the tiny space (its path into space, 128
 * bytes) profiled into a.db (its path into db_path, 128 bytes). */
static void setup_profiled(char *space, char *db_path)
{
    setup_dir();
    snprintf(space, 128, "%s/tiny.json", dir);
    snprintf(db_path, 128, "%s/a.db", dir);
    run_ok("profile --space %s --db %s --runs 3 --warmup 1 --quiet", space, db_path);
}

/* A run as stored: the open database, the run and its candidates. */
struct stored_run {
    struct db *db;
    struct db_run run;
    struct db_candidate *cs;
    int n;
};

/* Opens db_path and reads run `name` with its candidates in order into x
 * (failing the test when it cannot); stored_run_release frees them. */
static void stored_run_read(struct stored_run *x, const char *db_path, const char *name,
                            enum db_cand_order order)
{
    struct hw_err e;
    ck_assert_msg(db_open(&x->db, db_path, DB_OPEN_EXISTING, &e) == HW_OK, "%s", e.msg);
    ck_assert_msg(db_run_lookup(x->db, name, &x->run, &e) == HW_OK, "%s", e.msg);
    ck_assert_msg(db_candidate_list(x->db, x->run.id, order, 0, &x->cs, &x->n, &e) == HW_OK,
                  "%s", e.msg);
}

static void stored_run_release(struct stored_run *x)
{
    db_candidate_list_free(x->cs, x->n);
    db_run_release(&x->run);
    db_close(x->db);
}

/* Run `name` records score in its config, has n candidates, each with
 * both losses finite and positive and the reward Q x (LAT / 0.05)^-0.07
 * with the quality term Q that score names. */
static void check_scored_run(const char *db_path, const char *name, const char *score, int n)
{
    struct stored_run x;
    stored_run_read(&x, db_path, name, DB_ORDER_TRIAL);
    const struct db_candidate *cs = x.cs;
    char want[64];
    snprintf(want, sizeof want, "\"score\":\"%s\"", score);
    ck_assert_msg(strstr(x.run.config_json, want), "%s", x.run.config_json);
    ck_assert_int_eq(x.n, n);
    for (int i = 0; i < x.n; i++) {
        ck_assert(cs[i].val_loss > 0 && isfinite(cs[i].val_loss));
        ck_assert(cs[i].train_loss > 0 && isfinite(cs[i].train_loss) &&
                  cs[i].train_loss != cs[i].val_loss);
        double q = strcmp(score, "acc") == 0    ? cs[i].val_acc
                   : strcmp(score, "loss") == 0 ? exp(-cs[i].val_loss)
                                                : exp(-cs[i].train_loss);
        ck_assert_double_eq_tol(cs[i].reward, q * pow(cs[i].predicted_ms / 0.05, -0.07), 1e-9);
    }
    stored_run_release(&x);
}

/* "hash:acc:loss:train_loss" of every candidate of run `name`, in trial order. */
static char *history(const char *db_path, const char *name, int *n_out)
{
    struct stored_run x;
    stored_run_read(&x, db_path, name, DB_ORDER_TRIAL);
    char *s = calloc((size_t)x.n + 1, 128);
    for (int i = 0; i < x.n; i++)
        sprintf(s + strlen(s), "%s:%.6f:%.6f:%.6f,", x.cs[i].arch_hash, x.cs[i].val_acc,
                x.cs[i].val_loss, x.cs[i].train_loss);
    *n_out = x.n;
    stored_run_release(&x);
    return s;
}

static int count_candidates(const char *db_path)
{
    struct db *db;
    if (db_open(&db, db_path, DB_OPEN_EXISTING, NULL) != HW_OK)
        return 0;
    struct db_run r;
    int n = 0;
    if (db_run_lookup(db, "k", &r, NULL) == HW_OK) {
        db_candidate_count(db, r.id, &n, NULL);
        db_run_release(&r);
    }
    db_close(db);
    return n;
}

/* Whether the arch JSON of run k's last candidate contains needle. */
static int last_arch_has(const char *db_path, const char *needle)
{
    struct stored_run x;
    stored_run_read(&x, db_path, "k", DB_ORDER_TRIAL);
    ck_assert_int_gt(x.n, 0);
    const char *json = x.cs[x.n - 1].arch_json;
    int has = json && strstr(json, needle) != NULL;
    stored_run_release(&x);
    return has;
}

/* Runs hwnas with args (exit 0 required) and parses its stdout as exactly
 * one JSON document with the shared root keys; the caller deletes it. */
static cJSON *run_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *run_json(const char *fmt, ...)
{
    char args[1024];
    struct cli_run r;
    va_list ap;
    va_start(ap, fmt);
    run_vok(&r, args, fmt, ap);
    va_end(ap);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(r.out, &end, 0);
    ck_assert_msg(cJSON_IsObject(o), "hwnas %s: stdout is no JSON object: %s", args, r.out);
    ck_assert_msg(strspn(end, " \t\r\n") == strlen(end), "hwnas %s: text after the JSON: %s",
                  args, end);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "version");
    ck_assert_msg(cJSON_IsNumber(v) && v->valueint == 1, "hwnas %s: no \"version\": 1", args);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "hwnas_version")),
                     HWNAS_VERSION);
    cli_run_release(&r);
    return o;
}

/* The number at the '/'-separated path of o ("run/candidates", "top/0/trial"). */
static double jnum(const cJSON *o, const char *path)
{
    char buf[128], *save, *part;
    snprintf(buf, sizeof buf, "%s", path);
    for (part = strtok_r(buf, "/", &save); part && o; part = strtok_r(NULL, "/", &save))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(part))
                             : cJSON_GetObjectItemCaseSensitive(o, part);
    ck_assert_msg(cJSON_IsNumber(o), "no number at %s", path);
    return o->valuedouble;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    ck_assert_msg(s, "no string \"%s\"", key);
    return s;
}

/* A candidate object agrees with the database's row of its trial (cJSON
 * prints 15 significant digits when they read back within DBL_EPSILON). */
static void check_candidate(const cJSON *j, const struct db_candidate *cs, int n)
{
    int trial = (int)jnum(j, "trial");
    ck_assert(trial >= 0 && trial < n && cs[trial].trial == trial);
    ck_assert_double_eq_tol(jnum(j, "predicted_ms"), cs[trial].predicted_ms, 1e-12);
    ck_assert_double_eq_tol(jnum(j, "val_acc_pct"), 100 * cs[trial].val_acc, 1e-9);
    ck_assert_double_eq_tol(jnum(j, "reward"), cs[trial].reward, 1e-12);
    ck_assert_str_eq(jstr(j, "arch_hash"), cs[trial].arch_hash);
}

START_TEST(test_search_survives_kill9)
{
    char a_db[128], b_db[128], space[128];
    setup_profiled(space, a_db);
    snprintf(b_db, sizeof b_db, "%s/b.db", dir);
    run_ok("lut export --db %s --out %s/lut.json", a_db, dir);
    run_ok("lut import %s/lut.json --db %s", dir, b_db);
    /* the reference: one uninterrupted run */
    run_ok("search " SEARCH_FLAGS " --name k --db %s", space, a_db);

    /* the same run, killed with SIGKILL once a few candidates are stored */
    char spawn_args[1024];
    snprintf(spawn_args, sizeof spawn_args, "search " SEARCH_FLAGS " --name k --db %s", space,
             b_db);
    pid_t pid = cli_spawn(spawn_args, NULL);
    ck_assert_int_gt(pid, 0);
    int seen = 0;
    for (int i = 0; i < 600 && seen < 4; i++) {
        usleep(50000);
        seen = count_candidates(b_db);
    }
    ck_assert_int_ge(seen, 4);
    /* while it runs, a second process may not resume the run (both would
     * store trial N; the state it read would be stale) */
    struct cli_run busy;
    char busy_args[512];
    snprintf(busy_args, sizeof busy_args, "search --resume k --db %s --train-threads 1", b_db);
    ck_assert_int_eq(cli_run(&busy, busy_args), 0);
    ck_assert_msg(busy.status == 1 && strstr(busy.err, "in use by another hwnas process") &&
                      strstr(busy.err, b_db),
                  "exit %d: %s", busy.status, busy.err);
    cli_run_release(&busy);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    int after_kill = count_candidates(b_db);
    ck_assert_int_lt(after_kill, 12); /* killed mid-run, not after */
    run_ok("search --resume k --db %s --quiet --train-threads 1", b_db);

    int na, nb;
    char *ha = history(a_db, "k", &na), *hb = history(b_db, "k", &nb);
    ck_assert_int_eq(na, 12);
    ck_assert_int_eq(nb, 12);
    ck_assert_str_eq(ha, hb);
    free(ha);
    free(hb);

    /* a resume after `profile` refitted the calibration says so */
    struct cli_run r;
    char args[512];
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(b_db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "UPDATE lut_calibrations SET alpha_us = alpha_us + 1",
                                  NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(raw), 1);
    sqlite3_close(raw);
    snprintf(args, sizeof args, "search --resume k --trials 13 --db %s --train-threads 1", b_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.err, "was predicted with latency calibration"),
                  "exit %d: %s", r.status, r.err);
    cli_run_release(&r);
    /* an unchanged calibration resumes silently */
    snprintf(args, sizeof args, "search --resume k --trials 13 --db %s --train-threads 1", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && !strstr(r.err, "latency calibration"), "exit %d: %s",
                  r.status, r.err);
    cli_run_release(&r);
    /* the space file edited under the run: the run goes on in the space it
     * searched, from the copy stored with it, and says the file changed */
    FILE *sf = fopen(space, "w");
    char *edited = strdup(cli_tiny_space);
    memcpy(strstr(edited, "\"width\":24"), "\"width\":32", 10);
    fputs(edited, sf);
    fclose(sf);
    int before = count_candidates(b_db);
    snprintf(args, sizeof args, "search --resume k --trials 14 --db %s --train-threads 1", b_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.err, "changed since run 'k' began") &&
                      strstr(r.err, space), "exit %d: %s", r.status, r.err);
    cli_run_release(&r);
    ck_assert_int_eq(count_candidates(b_db), before + 1);
    ck_assert_msg(last_arch_has(b_db, "\"out\":\t24") && !last_arch_has(b_db, "\"out\":\t32"),
                  "the new candidate is not of the run's own space");
    /* the file gone (moved, or a relative path from another folder): the same */
    char moved[160];
    snprintf(moved, sizeof moved, "%s.moved", space);
    ck_assert_int_eq(rename(space, moved), 0);
    snprintf(args, sizeof args, "search --resume k --trials 15 --db %s --train-threads 1", b_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && !strstr(r.err, "changed since"), "exit %d: %s", r.status,
                  r.err);
    cli_run_release(&r);
    ck_assert_int_eq(count_candidates(b_db), before + 2);
    /* a run without the copy (made before it was stored) resolves the file
     * again: edited, its tokens would decode to other archs, so the resume is
     * refused and nothing is added */
    ck_assert_int_eq(rename(moved, space), 0);
    ck_assert_int_eq(sqlite3_open(b_db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "UPDATE runs SET config = "
                                  "json_remove(config, '$.space_json')", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    snprintf(args, sizeof args, "search --resume k --trials 16 --db %s --train-threads 1", b_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "its definition changed") &&
                      strstr(r.err, "start a new run"), "exit %d: %s", r.status, r.err);
    cli_run_release(&r);
    ck_assert_int_eq(count_candidates(b_db), before + 2);
    sf = fopen(space, "w");
    fputs(cli_tiny_space, sf);
    fclose(sf);
    free(edited);

    /* the table checked on the run's own best archs */
    snprintf(args, sizeof args, "validate --run k --samples 3 --rounds 1 --runs 3 --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "the 3 best distinct candidates of run k"),
                  "exit %d: %s%s", r.status, r.out, r.err);
    cli_run_release(&r);

    /* results commands read the run */
    snprintf(args, sizeof args, "runs pareto k --db %s --svg %s/front.svg", a_db, dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "on the accuracy/latency front"));
    cli_run_release(&r);
    /* export: the best arch as JSON loads back; strings; a missing trial */
    snprintf(args, sizeof args, "export k --best --db %s --out %s/best.json", a_db, dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "space show %s/best.json --json", dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "\"macs\""), "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "export k --id 3 --format timm --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "run k trial 3") && strstr(r.out, "ir_r"),
                  "%s", r.out);
    cli_run_release(&r);
    snprintf(args, sizeof args, "export k --id 99 --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "no trial 99"), "%s", r.err);
    cli_run_release(&r);

    /* rerank: with the target moved between the candidates' latencies, the
     * two best distinct candidates within it are trained again and stored;
     * a second call trains nothing, a lost row is trained again; export
     * --reranked takes the better of the two */
    snprintf(args, sizeof args, "export k --reranked --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "no reranked candidate"), "%s", r.err);
    cli_run_release(&r);
    struct db *db;
    struct hw_err he;
    ck_assert_int_eq(db_open(&db, a_db, DB_OPEN_EXISTING, &he), HW_OK);
    struct db_run run;
    ck_assert_int_eq(db_run_lookup(db, "k", &run, &he), HW_OK);
    struct db_candidate *cs;
    int nc;
    ck_assert_int_eq(db_candidate_list(db, run.id, DB_ORDER_REWARD, 0, &cs, &nc, &he), HW_OK);
    double lat[64];
    int nl = 0;
    for (int i = 0; i < nc && nl < 64; i++)
        if (cs[i].status == DB_CAND_OK)
            lat[nl++] = cs[i].predicted_ms;
    for (int i = 1; i < nl; i++) /* sort to take the median */
        for (int k = i; k > 0 && lat[k] < lat[k - 1]; k--) {
            double t = lat[k];
            lat[k] = lat[k - 1];
            lat[k - 1] = t;
        }
    double target = lat[nl / 2];
    int want[2], nw = 0; /* the first two distinct ok candidates within it, by reward */
    for (int i = 0; i < nc && nw < 2; i++) {
        int seen = cs[i].status != DB_CAND_OK || !(cs[i].predicted_ms <= target);
        for (int k = 0; k < nw && !seen; k++)
            seen = strcmp(cs[want[k]].arch_hash, cs[i].arch_hash) == 0;
        if (!seen)
            want[nw++] = i;
    }
    ck_assert_int_eq(nw, 2);
    sqlite3 *rawdb;
    char sql[160];
    ck_assert_int_eq(sqlite3_open(a_db, &rawdb), SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE runs SET target_ms = %.17g WHERE name = 'k'", target);
    ck_assert_int_eq(sqlite3_exec(rawdb, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(args, sizeof args, "runs rerank k --top 2 --epochs 1 --subset 256 --threads 1 "
             "--db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "2 to train") && strstr(r.out, "best within"),
                  "exit %d: %s%s", r.status, r.out, r.err);
    cli_run_release(&r);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "0 to train"), "%s%s", r.out, r.err);
    cli_run_release(&r);
    snprintf(sql, sizeof sql, "DELETE FROM reranks WHERE trial = %d", cs[want[1]].trial);
    ck_assert_int_eq(sqlite3_exec(rawdb, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rawdb);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "1 to train"), "%s%s", r.out, r.err);
    cli_run_release(&r);
    struct db_rerank *rr;
    int nr;
    ck_assert_int_eq(db_rerank_list(db, run.id, &rr, &nr, &he), HW_OK);
    ck_assert_int_eq(nr, 2);
    for (int i = 0; i < nr; i++) {
        ck_assert(rr[i].epochs == 1 && rr[i].subset == 256 && rr[i].val_acc > 0);
        ck_assert(rr[i].seed == run.seed); /* the run's seed by default */
        ck_assert(rr[i].trial == cs[want[0]].trial || rr[i].trial == cs[want[1]].trial);
    }
    ck_assert(rr[0].val_acc >= rr[1].val_acc && rr[0].trial != rr[1].trial);
    int best_trial = rr[0].trial;
    free(rr);
    db_candidate_list_free(cs, nc);
    db_run_release(&run);
    db_close(db);
    snprintf(args, sizeof args, "export k --reranked --format timm --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    char label[64];
    snprintf(label, sizeof label, "run k trial %d:", best_trial);
    ck_assert_msg(r.status == 0 && strstr(r.out, label) && strstr(r.out, "reranked"), "%s%s",
                  r.out, r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "runs show k --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "reranked"), "%s", r.out);
    cli_run_release(&r);

    /* scored by the proxy's training loss, the default (no --score): the run
     * records it, every candidate's reward is exp(-its last epoch's training
     * loss) x the latency term, a resume keeps it */
    run_ok("search " SEARCH_FLAGS " --trials 4 --name L --db %s", space, a_db);
    snprintf(args, sizeof args, "search --resume L --score acc --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 2 && strstr(r.err, "only --trials"), "%s", r.err);
    cli_run_release(&r);
    run_ok("search --resume L --trials 6 --train-threads 1 --quiet --db %s", a_db);
    check_scored_run(a_db, "L", "train-loss", 6);
    /* --score acc: MnasNet's own quality term, recorded and used */
    run_ok("search " SEARCH_FLAGS " --trials 2 --score acc --name A --db %s", space, a_db);
    check_scored_run(a_db, "A", "acc", 2);
    /* --score loss: the proxy's validation loss, recorded and used; runs
     * show names the quality term and lists both losses */
    run_ok("search " SEARCH_FLAGS " --trials 2 --score loss --name T --db %s", space, a_db);
    check_scored_run(a_db, "T", "loss", 2);
    /* --max-params (the tiny space's archs have 3,618-12,186, median 5,858):
     * recorded in the run, kept by a resume, met by every candidate */
    run_ok("search " SEARCH_FLAGS " --trials 3 --max-params 5.9k --name P --db %s", space, a_db);
    run_ok("search --resume P --trials 5 --train-threads 1 --quiet --db %s", a_db);
    ck_assert_int_eq(db_open(&db, a_db, DB_OPEN_EXISTING, &he), HW_OK);
    ck_assert_int_eq(db_run_lookup(db, "P", &run, &he), HW_OK);
    ck_assert_msg(strstr(run.config_json, "\"max_params\":5900"), "%s", run.config_json);
    ck_assert_int_eq(db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &nc, &he), HW_OK);
    ck_assert_int_eq(nc, 5);
    for (int i = 0; i < nc; i++)
        ck_assert_msg(cs[i].params <= 5900, "trial %d: %lld params", i, (long long)cs[i].params);
    db_candidate_list_free(cs, nc);
    db_run_release(&run);
    db_close(db);
    snprintf(args, sizeof args, "runs show T --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "exp(-val_loss)") && strstr(r.out, "train_loss"),
                  "%s", r.out);
    /* the config line leaves out the space file's copy and gives its size */
    ck_assert_msg(strstr(r.out, "\"score\":\"loss\"") && !strstr(r.out, "space_json") &&
                      strstr(r.out, "space file copy kept with the run ("),
                  "%s", r.out);
    cli_run_release(&r);
    /* a run from before --score (no "score" in its config) resumes scored
     * by accuracy; a score this hwnas does not know is refused by name */
    ck_assert_int_eq(sqlite3_open(a_db, &rawdb), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(rawdb, "UPDATE runs SET config = json_remove(config, '$.score') "
                                  "WHERE name = 'L'", NULL, NULL, NULL), SQLITE_OK);
    run_ok("search --resume L --trials 7 --train-threads 1 --quiet --db %s", a_db);
    ck_assert_int_eq(db_open(&db, a_db, DB_OPEN_EXISTING, &he), HW_OK);
    ck_assert_int_eq(db_run_lookup(db, "L", &run, &he), HW_OK);
    ck_assert_int_eq(db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &nc, &he), HW_OK);
    ck_assert_int_eq(nc, 7);
    ck_assert_double_eq_tol(cs[6].reward,
                            cs[6].val_acc * pow(cs[6].predicted_ms / 0.05, -0.07), 1e-9);
    db_candidate_list_free(cs, nc);
    db_run_release(&run);
    db_close(db);
    ck_assert_int_eq(sqlite3_exec(rawdb, "UPDATE runs SET config = json_set(config, '$.score', "
                                  "'f1') WHERE name = 'L'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rawdb);
    snprintf(args, sizeof args, "search --resume L --trials 8 --db %s", a_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "score 'f1' is none of"), "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

START_TEST(test_search_refusals)
{
    setup_dir();
    struct {
        const char *args;
        int status;
        const char *msg;
    } cases[] = {
        {"search --space fmnist --target-ms 0.3 --db %s/x.db", 1, "no latency table for device"},
        {"search --space fmnist --db %s/x.db", 2, "--target-ms must be given"},
        {"search --target-ms 0.3 --controller greedy --db %s/x.db", 2, "greedy"},
        {"search --target-ms 0.3 --trialz 3 --db %s/x.db", 2, "unknown flag '--trialz'"},
        {"search --resume nosuchrun --db %s/x.db", 1, "nosuchrun"},
        {"search --resume k --target-ms 2 --db %s/x.db", 2, "only --trials"},
        {"search --resume k --proxy-epochs 5 --db %s/x.db", 2, "only --trials"},
        {"search --resume k --max-over 1 --db %s/x.db", 2, "only --trials"},
        {"search --resume k --score loss --db %s/x.db", 2, "only --trials"},
        {"search --resume k --max-params 1M --db %s/x.db", 2, "only --trials"},
        {"search --target-ms 0.3 --max-params 12q --db %s/x.db", 2, "--max-params: '12q'"},
        {"search --target-ms 0.3 --max-params 0 --db %s/x.db", 2, "--max-params: '0'"},
        {"search --target-ms 0.3 --max-params -5k --db %s/x.db", 2, "--max-params: '-5k'"},
        {"search --target-ms 0.3 --max-params 0x10 --db %s/x.db", 2, "--max-params: '0x10'"},
        {"search --target-ms 0.3 --max-params 2.5 --db %s/x.db", 2, "--max-params: '2.5'"},
        {"search --target-ms 0.3 --max-params inf --db %s/x.db", 2, "--max-params: 'inf'"},
        {"search --target-ms 0.3 --time-budget inf --db %s/x.db", 2, "--time-budget: 'inf'"},
        {"search --target-ms 0.3 --time-budget 0x1p4m --db %s/x.db", 2, "--time-budget: '0x1p4m'"},
        {"search --target-ms 0.3 --score f1 --db %s/x.db", 2, "--score: 'f1' is none of"},
        {"search --target-ms 0.3 --max-over -1 --db %s/x.db", 2, "--max-over: -1"},
        {"search --target-ms 0.3 --max-over 0 --controller random --db %s/x.db", 2,
         "finite ratio > 0"},
        {"search --target-ms 0.3 --max-over 1 --db %s/x.db", 1, "no latency table for device"},
        {"search --target-ms 0.3 --proxy-augment 2 --db %s/x.db", 2, "--proxy-augment: 2"},
        {"search --target-ms 0.3 --proxy-lr 0 --db %s/x.db", 2, "must be positive"},
        {"search --target-ms 0.3 --json --rerank 2 --db %s/x.db", 2, "rerank after it"},
        {"export k --best --json --db %s/x.db", 2, "give --out FILE"},
        {"runs show nosuchrun --db %s/x.db", 1, "nosuchrun"},
        {"validate --run nosuchrun --db %s/x.db", 1, "nosuchrun"},
        {"export nosuchrun --best --db %s/x.db", 1, "nosuchrun"},
        {"export k --best --pareto --db %s/x.db", 2, "exactly one of"},
        {"export k --best --reranked --db %s/x.db", 2, "exactly one of"},
        {"runs rerank k --top 0 --db %s/x.db", 2, "--top: 0"},
        {"runs rerank k --epochs 0 --db %s/x.db", 2, "--epochs: 0"},
        {"runs rerank nosuchrun --db %s/x.db", 1, "nosuchrun"},
        {"runs rerank k --seed -3 --db %s/x.db", 2, "--seed: -3 is negative"},
        {"export k --best --format tflite --db %s/x.db", 2, "'tflite' is not json"},
        {"runs list --db %s/newer.db", 1, "schema version 42"},
        {"search --space fmnist --target-ms 0.3 --db %s/newer.db", 1, "schema version 42"},
        {"profile --space fmnist --db %s/newer.db", 1, "schema version 42"},
    };
    /* a database written by a newer hwnas: refused by every command, untouched */
    char newer[128];
    snprintf(newer, sizeof newer, "%s/newer.db", dir);
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(newer, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE t(x); PRAGMA user_version = 42", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(raw);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, cases[i].args, dir);
        struct cli_run r;
        ck_assert_int_eq(cli_run(&r, args), 0);
        ck_assert_msg(r.status == cases[i].status && strstr(r.err, cases[i].msg),
                      "hwnas %s: exit %d, stderr: %s", args, r.status, r.err);
        cli_run_release(&r);
    }
    /* --help quotes the proxy's real defaults (it once said 10000 after the
     * default became 9000) */
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, "search --help"), 0);
    ck_assert_int_eq(r.status, 0);
    char want[3][96];
    snprintf(want[0], sizeof want[0], "proxy training (default %d)", EVAL_PROXY_SUBSET);
    snprintf(want[1], sizeof want[1], "per candidate (default %d)", EVAL_PROXY_EPOCHS);
    snprintf(want[2], sizeof want[2], "batch size (default %d)", EVAL_PROXY_BATCH);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(r.out, want[i]) || strstr(r.err, want[i]), "no '%s' in --help",
                      want[i]);
    cli_run_release(&r);
    char args[128];
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

START_TEST(test_model_file_as_arch)
{
    /* a model file stands for its arch wherever an ARCH is taken */
    setup_dir();
    struct arch a;
    struct hw_err e;
    ck_assert_int_eq(arch_reference("fmnist-ref", NULL, &a, &e), HW_OK);
    struct nn_net *net;
    ck_assert_int_eq(nn_net_create(&net, &a, 2, NN_MODE_TRAIN, &e), HW_OK);
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 1);
    nn_net_init_params(net, &rng);
    char path[128], args[256];
    snprintf(path, sizeof path, "%s/ref.hwm", dir);
    ck_assert_int_eq(model_save(path, net, &e), HW_OK);
    nn_net_free(net);
    snprintf(args, sizeof args, "space show %s --json", path);
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "6776864"), "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

/* Iterations NetAdapt run 1 of db_path has stored; -1 before it exists. */
static int na_iterations(const char *db_path, int *status)
{
    struct db *db;
    int n = -1;
    if (db_open(&db, db_path, DB_OPEN_EXISTING, NULL) != HW_OK)
        return n;
    struct db_netadapt r;
    if (db_netadapt_get(db, 1, &r, NULL) == HW_OK) {
        n = r.iterations;
        *status = (int)r.status;
        db_netadapt_release(&r);
    }
    db_close(db);
    return n;
}

/* NetAdapt as a user runs it: killed with SIGKILL between iterations and
 * resumed, it must make exactly the choices of a run never interrupted. */
START_TEST(test_netadapt_survives_kill9)
{
    setup_dir();
    char a_db[128], b_db[128], args[1024];
    snprintf(a_db, sizeof a_db, "%s/a.db", dir);
    snprintf(b_db, sizeof b_db, "%s/b.db", dir);
    char why[1024];
    double l0_ms;
    ck_assert_msg(cli_na_fixture(dir, a_db, &l0_ms, why, sizeof why) == 0, "%s", why);

#define NA_FLAGS "netadapt --model %s/m.hwm --target-ms %.6f --delta 0.02 --short-steps 30 " \
                 "--val-subset 1000 --long-epochs 0 --seed 3 --score acc --workdir %s --quiet " \
                 "--db %s"
    /* the reference: one uninterrupted run; the keys it measured on demand
     * then go to b's table, so both runs predict alike */
    run_ok(NA_FLAGS, dir, 0.82 * l0_ms, dir, a_db);
    int status = 0, total = na_iterations(a_db, &status);
    ck_assert_int_ge(total, 2); /* on-demand timings vary: cuts of 2-15 %, 2-6 iterations */
    ck_assert_int_eq(status, DB_RUN_DONE);
    run_ok("lut export --db %s --out %s/lut.json", a_db, dir);
    run_ok("lut import %s/lut.json --db %s", dir, b_db);

    snprintf(args, sizeof args, NA_FLAGS, dir, 0.82 * l0_ms, dir, b_db);
    pid_t pid = cli_spawn(args, NULL);
    ck_assert_int_gt(pid, 0);
    int seen = -1;
    /* up to a minute: the first iteration took over 12 s under ASan beside
     * a 2-thread training on the same 2 cores */
    for (int i = 0; i < 6000 && seen < 1; i++) {
        usleep(10000);
        seen = na_iterations(b_db, &status);
    }
    ck_assert_int_ge(seen, 1);
    struct cli_run busy;
    snprintf(args, sizeof args, "netadapt --resume 1 --db %s --quiet", b_db);
    ck_assert_int_eq(cli_run(&busy, args), 0);
    ck_assert_msg(busy.status == 1 && strstr(busy.err, "NetAdapt run '1' is in use"),
                  "exit %d: %s", busy.status, busy.err);
    cli_run_release(&busy);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_lt(na_iterations(b_db, &status), total); /* killed mid-run */
    ck_assert_int_eq(status, DB_RUN_RUNNING);
    run_ok("netadapt --resume 1 --db %s --quiet", b_db);
    /* a resume of the finished run (after a kill that came once it had
     * ended) has nothing to do and says so */
    snprintf(args, sizeof args, "netadapt --resume 1 --db %s", b_db);
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "NetAdapt run 1 is done already"),
                  "exit %d: %s", r.status, r.err);
    cli_run_release(&r);

    char *ha = cli_na_history(a_db), *hb = cli_na_history(b_db);
    ck_assert_ptr_nonnull(ha);
    ck_assert_ptr_nonnull(hb);
    ck_assert_str_eq(ha, hb);
    free(ha);
    free(hb);

    /* list and show --json against the database */
    cJSON *o = run_json("netadapt list --db %s --json", a_db);
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(o, "runs");
    ck_assert_int_eq(cJSON_GetArraySize(runs), 1);
    ck_assert_double_eq(jnum(runs, "0/id"), 1);
    ck_assert_double_eq(jnum(runs, "0/iterations"), total);
    ck_assert_str_eq(jstr(cJSON_GetArrayItem(runs, 0), "status"), "done");
    cJSON_Delete(o);
    struct db *db;
    struct hw_err e;
    ck_assert_int_eq(db_open(&db, a_db, DB_OPEN_EXISTING, &e), HW_OK);
    struct db_na_step *steps;
    int n;
    ck_assert_int_eq(db_netadapt_steps(db, 1, &steps, &n, &e), HW_OK);
    db_close(db);
    o = run_json("netadapt show 1 --db %s --json", a_db);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "steps");
    ck_assert_int_eq(cJSON_GetArraySize(js), n);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(js, i);
        ck_assert_double_eq(jnum(x, "iteration"), steps[i].iteration + 1);
        ck_assert_double_eq_tol(jnum(x, "latency_ms"), steps[i].latency_ms, 1e-12);
        ck_assert(steps[i].val_loss > 0); /* measured, whatever ranks the proposals */
        ck_assert_double_eq_tol(jnum(x, "val_loss"), steps[i].val_loss, 1e-12);
        ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "chosen")),
                         steps[i].chosen);
    }
    ck_assert_double_eq(jnum(o, "run/iterations"), total);
    free(steps);
    cJSON_Delete(o);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    ck_assert_int_eq(system(args), 0);
}
END_TEST

/* ---- --json (docs/json.md) ------------------------------------------------ */

START_TEST(test_json_search_results)
{
    setup_dir();
    char db_path[128], space[128];
    snprintf(db_path, sizeof db_path, "%s/j.db", dir);
    snprintf(space, sizeof space, "%s/tiny.json", dir);
    cJSON *o = run_json("profile --space %s --db %s --runs 3 --warmup 1 --json", space, db_path);
    double measured = jnum(o, "keys_measured"), alpha = jnum(o, "calibration/alpha_us");
    ck_assert(measured > 0 && measured == jnum(o, "keys_needed"));
    ck_assert_double_eq(jnum(o, "keys_present_before"), 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "calibrated_now")));
    ck_assert_double_eq(jnum(o, "calibration/samples"), 100);
    cJSON_Delete(o);
    /* again: nothing to measure or fit, the same calibration reported */
    o = run_json("profile --space %s --db %s --json", space, db_path);
    ck_assert_double_eq(jnum(o, "keys_measured"), 0);
    ck_assert_double_eq(jnum(o, "keys_present_before"), measured);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "calibrated_now")));
    ck_assert_double_eq(jnum(o, "calibration/alpha_us"), alpha);
    cJSON_Delete(o);

    o = run_json("lut list --db %s --json", db_path);
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(o, "devices");
    ck_assert_int_eq(cJSON_GetArraySize(devs), 1);
    double device = jnum(devs, "0/id"), entries = jnum(devs, "0/entries");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(devs, 0), "here")));
    char hash[32];
    snprintf(hash, sizeof hash, "%s", jstr(cJSON_GetArrayItem(devs, 0), "hash"));
    cJSON_Delete(o);
    struct db *db;
    struct hw_err e;
    ck_assert_int_eq(db_open(&db, db_path, DB_OPEN_EXISTING, &e), HW_OK);
    int count;
    ck_assert_int_eq(db_lut_count(db, (int64_t)device, &count, &e), HW_OK);
    ck_assert_int_eq((int)entries, count);
    ck_assert_double_eq(entries, measured);
    o = run_json("lut show --db %s --json", db_path);
    ck_assert_double_eq(jnum(o, "device_id"), device);
    ck_assert_double_eq(jnum(o, "entries"), entries);
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(o, "table");
    ck_assert_str_eq(jstr(table, "format"), "hwnas-lut");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(table, "entries")),
                     count);
    ck_assert_double_eq_tol(jnum(table, "calibrations/0/alpha_us"), alpha, 1e-12 * fabs(alpha));
    cJSON_Delete(o);

    /* lut export and import: the file, the device and the entries, as written */
    o = run_json("lut export --db %s --format csv --out %s/lut.csv --json", db_path, dir);
    char lut_file[128];
    snprintf(lut_file, sizeof lut_file, "%s/lut.csv", dir);
    ck_assert_str_eq(jstr(o, "file"), lut_file);
    ck_assert_str_eq(jstr(o, "format"), "csv");
    ck_assert_str_eq(jstr(o, "hash"), hash);
    ck_assert_double_eq(jnum(o, "device_id"), device);
    ck_assert_double_eq(jnum(o, "entries"), count);
    ck_assert_double_eq(jnum(o, "calibrations"), 1);
    cJSON_Delete(o);
    o = run_json("lut import %s --db %s/imported.db --json", lut_file, dir);
    ck_assert_str_eq(jstr(o, "file"), lut_file);
    ck_assert_str_eq(jstr(o, "hash"), hash);
    ck_assert_double_eq(jnum(o, "entries"), count);
    struct db *idb;
    struct db_device idev;
    char idb_path[128];
    snprintf(idb_path, sizeof idb_path, "%s/imported.db", dir);
    ck_assert_int_eq(db_open(&idb, idb_path, DB_OPEN_EXISTING, &e), HW_OK);
    ck_assert_int_eq(db_device_get(idb, (int64_t)jnum(o, "device_id"), &idev, &e), HW_OK);
    ck_assert_str_eq(idev.hash, hash);
    ck_assert_str_eq(jstr(o, "cpu"), idev.cpu);
    int icount;
    ck_assert_int_eq(db_lut_count(idb, idev.id, &icount, &e), HW_OK);
    ck_assert_int_eq(icount, count);
    db_close(idb);
    cJSON_Delete(o);

    /* the search's summary against the database it wrote */
    o = run_json("search --space %s --target-ms 0.05 --controller evolution --trials 4 --seed 4 "
                 "--proxy-epochs 1 --proxy-subset 256 --proxy-val 256 --train-threads 1 "
                 "--name j --db %s --json", space, db_path);
    struct db_run run;
    ck_assert_int_eq(db_run_lookup(db, "j", &run, &e), HW_OK);
    struct db_candidate *cs;
    int n;
    ck_assert_int_eq(db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &n, &e), HW_OK);
    ck_assert_int_eq(n, 4);
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(o, "run");
    ck_assert_str_eq(jstr(jr, "name"), "j");
    ck_assert_str_eq(jstr(jr, "status"), "done");
    ck_assert_double_eq(jnum(jr, "id"), (double)run.id);
    ck_assert_double_eq(jnum(jr, "candidates"), 4);
    ck_assert_double_eq(jnum(o, "session_candidates"), 4);
    double best = -INFINITY, best_acc = -INFINITY;
    for (int i = 0; i < n; i++) {
        best = fmax(best, cs[i].reward);
        if (cs[i].status == DB_CAND_OK && cs[i].predicted_ms <= run.target_ms)
            best_acc = fmax(best_acc, cs[i].val_acc);
    }
    ck_assert_double_eq_tol(jnum(o, "best_reward"), best, 1e-12);
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(o, "best_reward_candidate");
    check_candidate(jb, cs, n);
    ck_assert_double_eq_tol(jnum(jb, "reward"), best, 1e-12);
    const cJSON *under = cJSON_GetObjectItemCaseSensitive(o, "best_under_target");
    if (isfinite(best_acc)) {
        check_candidate(under, cs, n);
        ck_assert_double_eq_tol(jnum(under, "val_acc_pct"), 100 * best_acc, 1e-9);
        ck_assert(jnum(under, "predicted_ms") <= run.target_ms);
    } else {
        ck_assert(cJSON_IsNull(under));
    }
    int best_trial = (int)jnum(jb, "trial");
    cJSON_Delete(o);

    o = run_json("runs list --db %s --json", db_path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "runs")), 1);
    jr = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "runs"), 0);
    ck_assert_str_eq(jstr(jr, "name"), "j");
    ck_assert_double_eq(jnum(jr, "candidates"), 4);
    ck_assert_double_eq_tol(jnum(jr, "target_ms"), 0.05, 1e-12);
    ck_assert_double_eq_tol(jnum(jr, "best_reward"), best, 1e-12);
    ck_assert_double_eq_tol(jnum(jr, "best_reward_val_acc_pct"), 100 * cs[best_trial].val_acc,
                            1e-9);
    cJSON_Delete(o);

    o = run_json("runs show j --top 3 --db %s --json", db_path);
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(o, "top");
    ck_assert_int_eq(cJSON_GetArraySize(top), 3);
    for (int i = 0; i < 3; i++)
        check_candidate(cJSON_GetArrayItem(top, i), cs, n);
    ck_assert_int_eq((int)jnum(top, "0/trial"), best_trial);
    ck_assert_str_eq(jstr(o, "score"), "train-loss");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
    ck_assert_str_eq(jstr(cfg, "score"), "train-loss");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(cfg, "space_json"));
    ck_assert(jnum(o, "space_json_bytes") > 100);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "reranks")), 0);
    cJSON_Delete(o);

    /* the front: the candidates the table lists, as many as it says */
    struct cli_run r;
    char args[256];
    snprintf(args, sizeof args, "runs pareto j --db %s", db_path);
    ck_assert_int_eq(cli_run(&r, args), 0);
    int nf = -1;
    const char *p = strstr(r.out, "4 candidates, ");
    ck_assert_msg(r.status == 0 && p && sscanf(p, "4 candidates, %d on", &nf) == 1, "%s", r.out);
    cli_run_release(&r);
    o = run_json("runs pareto j --db %s --svg %s/front.svg --json", db_path, dir);
    const cJSON *front = cJSON_GetObjectItemCaseSensitive(o, "front");
    ck_assert_int_eq(cJSON_GetArraySize(front), nf);
    for (int i = 0; i < nf; i++)
        check_candidate(cJSON_GetArrayItem(front, i), cs, n);
    ck_assert_str_eq(strrchr(jstr(o, "svg_file"), '/'), "/front.svg");
    ck_assert_int_eq(access(jstr(o, "svg_file"), R_OK), 0);
    cJSON_Delete(o);

    /* export: what was written where */
    o = run_json("export j --best --out %s/best.json --db %s --json", dir, db_path);
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(o, "archs");
    ck_assert_int_eq(cJSON_GetArraySize(archs), 1);
    check_candidate(cJSON_GetArrayItem(archs, 0), cs, n);
    ck_assert_int_eq((int)jnum(archs, "0/trial"), best_trial);
    ck_assert_str_eq(jstr(o, "choice"), "best");
    ck_assert_str_eq(strrchr(jstr(o, "out_file"), '/'), "/best.json");
    ck_assert_int_eq(access(jstr(o, "out_file"), R_OK), 0);
    cJSON_Delete(o);
    o = run_json("export j --pareto --format timm --out %s/front.txt --db %s --json", dir,
                 db_path);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "archs")), nf);
    cJSON_Delete(o);

    /* the outputs that had --json before share the root */
    char arch[128];
    snprintf(arch, sizeof arch, "%s/t0.json", dir);
    FILE *f = fopen(arch, "w");
    fputs(cs[0].arch_json, f);
    fclose(f);
    o = run_json("latency %s --db %s --json", arch, db_path);
    ck_assert_double_eq_tol(jnum(o, "predicted_us"), 1000 * cs[0].predicted_ms, 1e-6);
    cJSON_Delete(o);
    o = run_json("space show %s --json", arch);
    ck_assert_double_eq(jnum(o, "params"), (double)cs[0].params);
    cJSON_Delete(o);

    db_candidate_list_free(cs, n);
    db_run_release(&run);
    db_close(db);
    remove_dir();
}
END_TEST

/* runs rerank --json against the reranks stored, then export --reranked
 * --train-final --json against the model row it registered. */
START_TEST(test_json_rerank_train_final)
{
    char db_path[128], space[128], model[128];
    setup_profiled(space, db_path);
    snprintf(model, sizeof model, "%s/w.hwm", dir);
    /* a target every candidate meets, in an ASan build too (its kernels,
     * and so its table, are many times slower) */
    run_ok("search --db %s --name r " SEARCH_FLAGS " --target-ms 5", db_path, space);
    cJSON *o = run_json("runs rerank r --top 3 --epochs 1 --subset 256 --threads 1 --db %s "
                        "--json", db_path);
    struct stored_run x;
    stored_run_read(&x, db_path, "r", DB_ORDER_TRIAL);
    const struct db_run run = x.run;
    const struct db_candidate *cs = x.cs;
    int n = x.n, nr;
    ck_assert_double_eq(run.target_ms, 5);
    struct db_rerank *rr;
    struct hw_err e;
    ck_assert_int_eq(db_rerank_list(x.db, run.id, &rr, &nr, &e), HW_OK);
    ck_assert_int_gt(nr, 0);
    ck_assert_str_eq(jstr(cJSON_GetObjectItemCaseSensitive(o, "run"), "name"), "r");
    ck_assert_double_eq(jnum(o, "epochs"), 1);
    ck_assert_double_eq(jnum(o, "subset"), 256);
    ck_assert_double_eq(jnum(o, "seed"), (double)run.seed);
    ck_assert_double_eq(jnum(o, "trained"), nr);
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(o, "candidates");
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(o, "reranks");
    ck_assert_int_eq(cJSON_GetArraySize(jc), nr); /* one rerank each, distinct archs */
    ck_assert_int_eq(cJSON_GetArraySize(jr), nr);
    for (int i = 0; i < nr; i++) {
        const cJSON *c = cJSON_GetArrayItem(jc, i);
        check_candidate(c, cs, n);
        ck_assert(jnum(c, "predicted_ms") <= run.target_ms);
        const struct db_rerank *x = NULL;
        for (int j = 0; j < nr && !x; j++)
            if (rr[j].trial == (int)jnum(c, "trial"))
                x = &rr[j];
        ck_assert_ptr_nonnull(x);
        ck_assert_double_eq_tol(jnum(c, "rerank_val_acc_pct"), 100 * x->val_acc, 1e-9);
        const cJSON *y = cJSON_GetArrayItem(jr, i); /* as stored, best first */
        ck_assert_double_eq(jnum(y, "trial"), rr[i].trial);
        ck_assert_double_eq_tol(jnum(y, "val_acc_pct"), 100 * rr[i].val_acc, 1e-9);
        if (i > 0) /* in reward order, as the search ranked them */
            ck_assert(jnum(cJSON_GetArrayItem(jc, i - 1), "reward") >= jnum(c, "reward"));
    }
    /* the winner: the best reranked accuracy (one seed, all within the target) */
    ck_assert_double_eq(jnum(o, "best/trial"), rr[0].trial);
    ck_assert_double_eq_tol(jnum(o, "best/val_acc_pct"), 100 * rr[0].val_acc, 1e-9);
    int best_trial = rr[0].trial;
    cJSON_Delete(o);
    /* again: everything stored, nothing trained */
    o = run_json("runs rerank r --top 3 --epochs 1 --subset 256 --threads 1 --db %s --json",
                 db_path);
    ck_assert_double_eq(jnum(o, "trained"), 0);
    ck_assert_double_eq(jnum(o, "best/trial"), best_trial);
    cJSON_Delete(o);

    o = run_json("export r --reranked --train-final 1 --threads 1 --model %s --out %s/w.json "
                 "--db %s --json", model, dir, db_path);
    ck_assert_str_eq(jstr(o, "choice"), "reranked");
    ck_assert_double_eq(jnum(o, "archs/0/trial"), best_trial);
    ck_assert_double_eq_tol(jnum(o, "reranked_val_acc_pct"), 100 * rr[0].val_acc, 1e-9);
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(o, "train_final");
    ck_assert_double_eq(jnum(tf, "epochs"), 1);
    ck_assert_double_eq(jnum(tf, "train_images"), 50000);
    ck_assert_double_eq(jnum(tf, "test_images"), 10000);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tf, "epoch_log")), 1);
    ck_assert_str_eq(jstr(tf, "model_file"), model);
    struct db_model m;
    ck_assert_int_eq(db_model_find_by_path(x.db, model, &m, &e), HW_OK);
    ck_assert_int_eq(m.source, DB_MODEL_CANDIDATE);
    ck_assert_int_eq(m.source_id, cs[best_trial].id);
    ck_assert_double_eq_tol(jnum(tf, "eval_val_acc_pct"), 100 * m.val_acc, 1e-9);
    ck_assert_double_eq_tol(jnum(tf, "test_acc_pct"), 100 * m.test_acc, 1e-9);
    double test_acc = jnum(tf, "test_acc_pct");
    db_model_release(&m);
    cJSON_Delete(o);
    /* the model's test accuracy, as 'hwnas eval' measures it */
    o = run_json("eval %s --split test --threads 1 --json", model);
    ck_assert_str_eq(jstr(o, "split"), "test");
    ck_assert_double_eq_tol(jnum(o, "test_acc_pct"), test_acc, 1e-9);
    cJSON_Delete(o);

    free(rr);
    stored_run_release(&x);
    remove_dir();
}
END_TEST

/* supernet eval --json: one document whose scores are the text output's. */
START_TEST(test_json_supernet_eval)
{
    setup_dir();
    char sn[128], arch[128];
    snprintf(sn, sizeof sn, "%s/t.hwsn", dir);
    run_ok("supernet train --space %s/tiny.json --subset 1000 --epochs 1 --batch 32 --threads 1 "
           "--quiet --out %s", dir, sn);
    cJSON *o = run_json("supernet eval %s --sample 3 --recal 200 --val 500 --threads 1 --json",
                        sn);
    ck_assert_str_eq(jstr(o, "file"), sn);
    ck_assert_str_eq(jstr(o, "space"), "tiny");
    ck_assert_double_eq(jnum(o, "recal_images"), 200);
    ck_assert_double_eq(jnum(o, "val_images"), 500);
    ck_assert_double_eq(jnum(o, "sample_seed"), 1);
    const cJSON *subs = cJSON_GetObjectItemCaseSensitive(o, "subnets");
    ck_assert_int_eq(cJSON_GetArraySize(subs), 3);
    struct cli_run r;
    char args[512];
    snprintf(args, sizeof args, "supernet eval %s --sample 3 --recal 200 --val 500 --threads 1",
             sn);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *line = r.out;
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetArrayItem(subs, i);
        char name[32], want[128];
        snprintf(name, sizeof name, "sample-%d", i);
        ck_assert_str_eq(jstr(x, "arch"), name);
        snprintf(want, sizeof want, "%-24s val acc %6.2f%%  val loss %.4f", name,
                 jnum(x, "val_acc_pct"), jnum(x, "val_loss"));
        ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "want '%s' in %s", want, r.out);
        ck_assert(jnum(x, "eval_s") > 0 && jnum(x, "train_loss") > 0);
        line = strchr(line, '\n') + 1;
    }
    cli_run_release(&r);
    /* an arch given as a file: its hash, and no sample seed */
    snprintf(args, sizeof args, "space sample %s/tiny.json --seed 3", dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    snprintf(arch, sizeof arch, "%s/a.json", dir);
    FILE *f = fopen(arch, "w");
    fputs(r.out, f);
    fclose(f);
    cli_run_release(&r);
    struct arch a;
    struct hw_err e;
    ck_assert_int_eq(arch_resolve(arch, NULL, &a, &e), HW_OK);
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, arch_hash(&a));
    cJSON_Delete(o);
    o = run_json("supernet eval %s %s --recal 200 --val 0 --threads 1 --json", sn, arch);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "sample_seed")));
    ck_assert_double_eq(jnum(o, "val_images"), 10000);
    ck_assert_str_eq(jstr(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "subnets"), 0),
                          "arch_hash"), hash);
    cJSON_Delete(o);
    remove_dir();
}
END_TEST

START_TEST(test_json_train_eval)
{
    setup_dir();
    struct cli_run r;
    char args[512], arch[128];
    snprintf(args, sizeof args, "space sample %s/tiny.json --seed 5", dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(arch, sizeof arch, "%s/arch.json", dir);
    FILE *f = fopen(arch, "w");
    fputs(r.out, f);
    fclose(f);
    cli_run_release(&r);
    cJSON *t = run_json("train %s --epochs 1 --subset 256 --threads 1 --out %s/m.hwm --json",
                        arch, dir);
    ck_assert_double_eq(jnum(t, "epochs"), 1);
    ck_assert_double_eq(jnum(t, "train_images"), 256);
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(t, "epoch_log");
    ck_assert_int_eq(cJSON_GetArraySize(log), 1);
    double val = jnum(t, "val_acc_pct");
    ck_assert_double_eq_tol(jnum(log, "0/val_acc_pct"), val, 1e-12);
    char model[128];
    snprintf(model, sizeof model, "%s/m.hwm", dir);
    ck_assert_str_eq(jstr(t, "model_file"), model);

    /* eval of the saved model: the accuracy train reported, and the text's */
    cJSON *ev = run_json("eval %s --threads 1 --json", model);
    ck_assert_str_eq(jstr(ev, "split"), "val");
    ck_assert_double_eq(jnum(ev, "images"), jnum(t, "val_images"));
    double acc = jnum(ev, "val_acc_pct");
    ck_assert_double_eq_tol(acc, 100 * jnum(ev, "correct") / jnum(ev, "images"), 1e-9);
    ck_assert_double_eq_tol(acc, val, 0.2); /* a BN-folded copy: a few images may differ */
    snprintf(args, sizeof args, "eval %s --threads 1", model);
    ck_assert_int_eq(cli_run(&r, args), 0);
    char want[64];
    snprintf(want, sizeof want, "validation accuracy %.2f%% (%d/%d)", acc,
             (int)jnum(ev, "correct"), (int)jnum(ev, "images"));
    ck_assert_msg(r.status == 0 && strstr(r.out, want), "no '%s' in %s", want, r.out);
    cli_run_release(&r);
    /* the model as ONNX */
    cJSON *x = run_json("export %s --format onnx --out %s/m.onnx --json", model, dir);
    const cJSON *onnx = cJSON_GetObjectItemCaseSensitive(x, "onnx");
    ck_assert_str_eq(jstr(onnx, "arch"), jstr(t, "arch"));
    ck_assert_str_eq(jstr(onnx, "model_file"), model);
    ck_assert_int_eq(access(jstr(onnx, "onnx_file"), R_OK), 0);
    ck_assert_double_eq(jnum(onnx, "opset"), 14);
    ck_assert(jnum(onnx, "norm_std") > 0);
    cJSON_Delete(x);
    cJSON_Delete(ev);
    cJSON_Delete(t);
    remove_dir();
}
END_TEST

Suite *suite_search_cli(void)
{
    Suite *s = suite_create("search_cli");
    TCase *tc = tcase_create("search_cli");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_search_survives_kill9);
    tcase_add_test(tc, test_search_refusals);
    tcase_add_test(tc, test_model_file_as_arch);
    tcase_add_test(tc, test_netadapt_survives_kill9);
    suite_add_tcase(s, tc);
    TCase *json = tcase_create("json");
    tcase_set_timeout(json, 240);
    tcase_add_test(json, test_json_search_results);
    tcase_add_test(json, test_json_train_eval);
    tcase_add_test(json, test_json_rerank_train_final);
    tcase_add_test(json, test_json_supernet_eval);
    suite_add_tcase(s, json);
    return s;
}
