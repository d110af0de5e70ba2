/* Tests of the SQLite store. Raw sqlite3 calls appear here only to play the
 * part of another program (a newer hwnas, a second process) or to inspect
 * what db/ wrote. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/internal.h"

/* ---- fixtures ------------------------------------------------------------ */

static char tmp_path[64];

/* A fresh path in /tmp with no file behind it. */
static const char *tmp_db(void)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/hwnas-db-XXXXXX");
    int fd = mkstemp(tmp_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(tmp_path);
    return tmp_path;
}

static void remove_db(const char *path)
{
    char side[96];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static struct db *open_ok(const char *path)
{
    struct db *db = NULL;
    struct hw_err err;
    hw_err_clear(&err);
    int rc = db_open(&db, path, 0, &err);
    ck_assert_msg(rc == HW_OK, "db_open: %s", err.msg);
    return db;
}

/* Whole file contents (malloc'd) and size. */
static char *read_file(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*size + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return buf;
}

/* Runs one statement on its own connection, as another program would. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *c;
    ck_assert_int_eq(sqlite3_open(path, &c), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(c, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(c));
    ck_assert_int_eq(sqlite3_close(c), SQLITE_OK);
}

/* A single integer result of sql on its own connection. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *c;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(path, &c), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(c));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static struct db_device device(const char *hash, const char *cpu)
{
    struct db_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.hash, sizeof d.hash, "%s", hash);
    snprintf(d.cpu, sizeof d.cpu, "%s", cpu);
    d.threads = 1;
    snprintf(d.backend, sizeof d.backend, "hwnas-nn nhwc fp32 + openblas");
    snprintf(d.blas_core, sizeof d.blas_core, "Haswell");
    snprintf(d.compiler, sizeof d.compiler, "gcc 12.2.0 -O3 -march=native");
    snprintf(d.version, sizeof d.version, "0.1.0");
    return d;
}

static int64_t add_device(struct db *db, const char *hash)
{
    struct db_device d = device(hash, "AMD EPYC 7B13");
    int64_t id = 0;
    struct hw_err err;
    ck_assert_msg(db_device_get_or_create(db, &d, &id, &err) == HW_OK, "%s", err.msg);
    return id;
}

static struct db_lut_entry lut_entry(const char *key, double med)
{
    struct db_lut_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.key, sizeof e.key, "%s", key);
    e.count = 50;
    e.mean_us = med * 1.05;
    e.median_us = med;
    e.var_us = 0.25;
    e.min_us = med * 0.9;
    e.max_us = med * 1.5;
    return e;
}

static struct db_run run_spec(const char *name, int64_t device_id)
{
    struct db_run r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.space, sizeof r.space, "fmnist");
    snprintf(r.controller, sizeof r.controller, "rl");
    r.target_ms = 0.4;
    r.w_alpha = r.w_beta = -0.07;
    r.seed = 42;
    r.trials_max = 300;
    r.time_budget_s = 1800;
    r.device_id = device_id;
    return r;
}

static int64_t add_run(struct db *db, const char *name)
{
    struct db_run r = run_spec(name, 0);
    struct hw_err err;
    ck_assert_msg(db_run_create(db, &r, &err) == HW_OK, "%s", err.msg);
    return r.id;
}

static struct db_candidate candidate(int64_t run_id, int trial, const char *hash, double reward)
{
    static char json[] = "{\"version\":1,\"layers\":[]}";
    struct db_candidate c;
    memset(&c, 0, sizeof c);
    c.run_id = run_id;
    c.trial = trial;
    c.arch_json = json;
    snprintf(c.arch_hash, sizeof c.arch_hash, "%s", hash);
    c.n_tokens = 4;
    c.tokens[0] = 2;
    c.tokens[1] = 0;
    c.tokens[2] = 13;
    c.tokens[3] = trial;
    c.macs = 6776864;
    c.params = 546322;
    c.predicted_ms = 0.35;
    c.val_acc = 0.9;
    c.val_loss = 0.3125;
    c.train_loss = 0.6875;
    c.reward = reward;
    c.wall_s = 12.5;
    c.status = DB_CAND_OK;
    return c;
}

/* ---- db_open / db_close ------------------------------------------------------ */

START_TEST(test_open_creates_schema)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    ck_assert_str_eq(db_path(db), path);
    db_close(db);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    static const char *const tables[] = {"devices", "lut_entries", "validations", "runs",
                                         "candidates", "models", "netadapt_runs",
                                         "netadapt_steps"};
    for (int i = 0; i < 8; i++) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        ck_assert_msg(raw_int(path, sql) == 1, "table %s missing", tables[i]);
    }
    /* WAL is a property of the file: it persists after close. */
    sqlite3 *c;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(path, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(c);
    remove_db(path);
}
END_TEST

START_TEST(test_open_reopen_keeps_data)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t id = add_device(db, "aaaa");
    db_close(db);
    db = open_ok(path); /* migrations must not run again over existing data */
    struct db_device d;
    struct hw_err err;
    ck_assert_int_eq(db_device_find(db, "aaaa", &d, &err), HW_OK);
    ck_assert_int_eq(d.id, id);
    ck_assert_str_eq(d.cpu, "AMD EPYC 7B13");
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_open_refuses_newer_schema)
{
    const char *path = tmp_db();
    db_close(open_ok(path));
    /* Rollback-journal mode, so that even switching to WAL would show in the bytes. */
    raw_exec(path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99");
    long before_n, after_n;
    char *before = read_file(path, &before_n);
    struct db *db = (struct db *)1;
    struct hw_err err;
    hw_err_clear(&err);
    ck_assert_int_eq(db_open(&db, path, 0, &err), HW_EMISMATCH);
    ck_assert_ptr_null(db);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "schema version 99"));
    char known[16];
    snprintf(known, sizeof known, "(%d)", DB_SCHEMA_VERSION);
    ck_assert_ptr_nonnull(strstr(err.msg, known));
    char *after = read_file(path, &after_n);
    ck_assert_int_eq(before_n, after_n);
    ck_assert(memcmp(before, after, (size_t)before_n) == 0);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 99);
    free(before);
    free(after);
    remove_db(path);
}
END_TEST

START_TEST(test_open_refuses_non_sqlite)
{
    const char *path = tmp_db();
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 100; i++)
        fputs("this is a CSV file, not a database\n", f);
    fclose(f);
    long before_n, after_n;
    char *before = read_file(path, &before_n);
    struct db *db;
    struct hw_err err;
    ck_assert_int_eq(db_open(&db, path, 0, &err), HW_EDB);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "not an SQLite database"));
    char *after = read_file(path, &after_n);
    ck_assert_int_eq(before_n, after_n);
    ck_assert(memcmp(before, after, (size_t)before_n) == 0);
    free(before);
    free(after);
    remove_db(path);
}
END_TEST

START_TEST(test_open_existing_and_readonly)
{
    const char *path = tmp_db();
    struct db *db;
    struct hw_err err;
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_EXISTING, &err), HW_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "no database at"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_READONLY, &err), HW_ENOTFOUND);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing was created */

    db = open_ok(path);
    add_device(db, "aaaa");
    db_close(db);
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_READONLY, &err), HW_OK);
    struct db_device d = device("bbbb", "cpu"), found;
    int64_t id;
    ck_assert_int_eq(db_device_find(db, "aaaa", &found, &err), HW_OK);
    ck_assert_int_eq(db_device_get_or_create(db, &d, &id, &err), HW_EDB);
    db_close(db);

    /* An old (here: empty, version 0) file cannot be migrated read-only. */
    remove_db(path);
    fclose(fopen(path, "w"));
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_READONLY, &err), HW_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(err.msg, "schema version 0"));
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_EXISTING, &err), HW_OK); /* upgrades */
    db_close(db);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    remove_db(path);
}
END_TEST

START_TEST(test_open_two_handles)
{
    const char *path = tmp_db();
    struct db *a = open_ok(path), *b = open_ok(path);
    int64_t dev = add_device(a, "aaaa");
    struct db_lut_entry e = lut_entry("stem-x", 10), got;
    struct hw_err err;
    ck_assert_int_eq(db_lut_put(b, dev, &e, &err), HW_OK); /* b sees a's device */
    ck_assert_int_eq(db_lut_get(a, dev, "stem-x", &got, &err), HW_OK);

    /* WAL: a reader in the middle of a transaction does not block a writer,
     * and keeps its snapshot. */
    sqlite3 *reader;
    ck_assert_int_eq(sqlite3_open(path, &reader), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM lut_entries;", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    struct db_lut_entry e2 = lut_entry("head-y", 20);
    ck_assert_msg(db_lut_put(a, dev, &e2, &err) == HW_OK, "%s", err.msg);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    int n;
    ck_assert_int_eq(db_lut_count(b, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    db_close(a);
    db_close(b);
    remove_db(path);
}
END_TEST

START_TEST(test_open_foreign_keys_on)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct db_lut_entry e = lut_entry("stem-x", 10);
    struct hw_err err;
    ck_assert_int_eq(db_lut_put(db, 12345, &e, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "FOREIGN KEY"));
    db_close(db);
    remove_db(path);
}
END_TEST

/* Two processes creating the same new file at once: one migrates, the other
 * waits (busy timeout) and finds the schema done. */
START_TEST(test_open_concurrent_create)
{
    const char *path = tmp_db();
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            struct db *db;
            if (db_open(&db, path, 0, NULL) != HW_OK)
                _exit(1);
            for (int k = 0; k < 20; k++) {
                char hash[16];
                snprintf(hash, sizeof hash, "p%dk%d", i, k);
                struct db_device d = device(hash, "cpu");
                int64_t id;
                if (db_device_get_or_create(db, &d, &id, NULL) != HW_OK)
                    _exit(2);
            }
            db_close(db);
            _exit(0);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %d", i,
                      status);
    }
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM devices"), 40);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    remove_db(path);
}
END_TEST

/* A row another program damaged is reported, naming the column, and the
 * half-read row is freed (ASan checks). */
START_TEST(test_open_damaged_row)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct db_run r = run_spec("r", 0);
    r.config_json = "{}";
    struct hw_err err;
    ck_assert_int_eq(db_run_create(db, &r, &err), HW_OK);
    raw_exec(path, "UPDATE runs SET updated_at = printf('%.100c', 'x')");
    struct db_run got;
    ck_assert_int_eq(db_run_get(db, r.id, &got, &err), HW_EDB);
    ck_assert_ptr_nonnull(strstr(err.msg, "updated_at"));
    struct db_run *list;
    int n = -1;
    ck_assert_int_eq(db_run_list(db, &list, &n, &err), HW_EDB);
    ck_assert_int_eq(n, 0);
    db_close(db);
    remove_db(path);
}
END_TEST

/* A sound file passes; a row whose parent is gone (written with foreign
 * keys off, as by an older SQLite) is named. */
START_TEST(test_check_finds_orphans)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    ck_assert_int_eq(db_check(db, &err), HW_OK);
    raw_exec(path, "INSERT INTO validations (device_id, space, samples) VALUES (42, 's', 1)");
    ck_assert_int_eq(db_check(db, &err), HW_EDB);
    ck_assert_msg(strstr(err.msg, "foreign key check") && strstr(err.msg, "validations") &&
                      strstr(err.msg, "devices"), "%s", err.msg);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- db_migrate ------------------------------------------------------------------- */

/* A schema-1 file (before latency calibrations) with a table in it opens
 * as the current schema with its entries intact. */
START_TEST(test_migrate_from_1)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t dev = add_device(db, "aaaa");
    struct db_lut_entry e = {.count = 3, .mean_us = 2, .median_us = 2, .min_us = 1, .max_us = 3};
    struct hw_err err;
    snprintf(e.key, sizeof e.key, "stem-x");
    ck_assert_int_eq(db_lut_put(db, dev, &e, &err), HW_OK);
    db_close(db);
    raw_exec(path, "DROP TABLE reranks; DROP TABLE lut_calibrations; "
                   "ALTER TABLE candidates DROP COLUMN val_loss; ALTER TABLE candidates DROP COLUMN train_loss; ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 1");
    db = open_ok(path);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    int n;
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    struct db_calibration c = {.device_id = dev, .input = "28x28x1", .samples = 9, .beta = 1,
                               .stat = "min"};
    ck_assert_msg(db_calibration_put(db, &c, &err) == HW_OK, "%s", err.msg);
    struct db_calibration *list;
    ck_assert_int_eq(db_calibration_list(db, dev, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(list[0].input, "28x28x1");
    free(list);
    db_close(db);
    remove_db(path);
}
END_TEST

/* A schema-2 file (calibrations without the MACs term) keeps its
 * calibrations, which read with delta_us 0. */
START_TEST(test_migrate_from_2)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t dev = add_device(db, "bbbb");
    struct hw_err err;
    struct db_calibration c = {.device_id = dev, .input = "28x28x1", .samples = 9,
                               .alpha_us = 3, .beta = 1.5, .gamma_us = 7, .delta_us = 2,
                               .stat = "min"};
    ck_assert_msg(db_calibration_put(db, &c, &err) == HW_OK, "%s", err.msg);
    db_close(db);
    raw_exec(path, "DROP TABLE reranks; ALTER TABLE lut_calibrations DROP COLUMN delta_us; "
                   "ALTER TABLE lut_calibrations DROP COLUMN stat; "
                   "ALTER TABLE candidates DROP COLUMN val_loss; ALTER TABLE candidates DROP COLUMN train_loss; ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 2");
    db = open_ok(path);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    struct db_calibration *list;
    int n;
    ck_assert_int_eq(db_calibration_list(db, dev, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert(list[0].alpha_us == 3 && list[0].beta == 1.5 && list[0].gamma_us == 7 &&
              list[0].delta_us == 0);
    free(list);
    c.delta_us = NAN;
    ck_assert_int_eq(db_calibration_put(db, &c, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "delta"));
    db_close(db);
    remove_db(path);
}
END_TEST

/* A candidate stored, the file turned into an older schema by sql, then
 * reopened (migrated): the old candidate as read back, and a new one added
 * after the migration. */
static void migrate_candidates(const char *sql, struct db_candidate *old, struct db_candidate *fresh)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t run = add_run(db, "old");
    struct db_candidate c = candidate(run, 0, "old", 0.7);
    ck_assert_int_eq(db_candidate_add(db, &c, NULL, 0, &err), HW_OK);
    db_close(db);
    raw_exec(path, sql);
    db = open_ok(path);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    ck_assert_int_eq(db_candidate_get(db, c.id, old, &err), HW_OK);
    struct db_candidate next = candidate(run, 1, "new", 0.8);
    ck_assert_int_eq(db_candidate_add(db, &next, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_get(db, next.id, fresh, &err), HW_OK);
    db_close(db);
    remove_db(path);
}

/* A schema-4 file (candidates without their validation loss) keeps its
 * candidates, which read with val_loss NaN, and takes new ones with it. */
START_TEST(test_migrate_from_4)
{
    struct db_candidate old, fresh;
    migrate_candidates("ALTER TABLE candidates DROP COLUMN val_loss; "
                       "ALTER TABLE lut_calibrations DROP COLUMN stat; "
                       "ALTER TABLE candidates DROP COLUMN train_loss; ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 4",
                       &old, &fresh);
    ck_assert(old.val_acc == 0.9 && old.reward == 0.7 && isnan(old.val_loss));
    ck_assert(fresh.val_loss == 0.3125);
    db_candidate_release(&old);
    db_candidate_release(&fresh);
}
END_TEST

/* A schema-7 file (candidates without their evaluator) reads "" for the old
 * ones (scored by the proxy, the only evaluator then); a new one stores
 * "proxy" when its evaluator is left empty. */
START_TEST(test_migrate_from_7)
{
    struct db_candidate old, fresh;
    migrate_candidates("ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 7",
                       &old, &fresh);
    ck_assert_str_eq(old.evaluator, "");
    ck_assert_str_eq(fresh.evaluator, "proxy");
    ck_assert(old.train_loss == 0.6875 && old.reward == 0.7);
    db_candidate_release(&old);
    db_candidate_release(&fresh);
}
END_TEST

/* A schema-6 file (candidates without the proxy's training loss) keeps its
 * candidates, which read with train_loss NaN, and takes new ones with it. */
START_TEST(test_migrate_from_6)
{
    struct db_candidate old, fresh;
    migrate_candidates("ALTER TABLE candidates DROP COLUMN train_loss; ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 6",
                       &old, &fresh);
    ck_assert(old.val_loss == 0.3125 && old.reward == 0.7 && isnan(old.train_loss));
    ck_assert(fresh.train_loss == 0.6875 && fresh.val_loss == 0.3125);
    db_candidate_release(&old);
    db_candidate_release(&fresh);
}
END_TEST

/* A schema-5 file's calibrations were fitted to medians: they read with
 * stat "median" (kept, not used by the table); new ones need a known stat. */
START_TEST(test_migrate_from_5)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t dev = add_device(db, "cccc");
    struct hw_err err;
    struct db_calibration c = {.device_id = dev, .input = "28x28x1", .samples = 9,
                               .alpha_us = 3, .beta = 1.5, .stat = "min"};
    ck_assert_msg(db_calibration_put(db, &c, &err) == HW_OK, "%s", err.msg);
    db_close(db);
    raw_exec(path, "ALTER TABLE lut_calibrations DROP COLUMN stat; ALTER TABLE candidates DROP COLUMN train_loss; ALTER TABLE candidates DROP COLUMN evaluator; DROP TABLE pending; ALTER TABLE candidates DROP COLUMN worker; ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 5");
    db = open_ok(path);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    struct db_calibration *list;
    int n;
    ck_assert_int_eq(db_calibration_list(db, dev, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(list[0].stat, "median");
    ck_assert(list[0].alpha_us == 3 && list[0].beta == 1.5);
    free(list);
    snprintf(c.stat, sizeof c.stat, "p90");
    ck_assert_int_eq(db_calibration_put(db, &c, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "'p90'"));
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_migrate_step_is_atomic)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    /* The file is at DB_SCHEMA_VERSION: steps up to it are skipped (they
     * would fail), the one after it runs. */
    enum { N = DB_SCHEMA_VERSION + 1 };
    const char *bad[N], *good[N];
    for (int i = 0; i < N - 1; i++)
        bad[i] = good[i] = "SELECT no_such_column";
    bad[N - 1] = "CREATE TABLE extra (x); INSERT INTO nosuch VALUES (1);";
    good[N - 1] = "CREATE TABLE extra (x);";
    char next[32];
    snprintf(next, sizeof next, "schema version %d", N);
    ck_assert_int_eq(db_migrate(db, bad, N, &err), HW_EDB);
    ck_assert_ptr_nonnull(strstr(err.msg, next));
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name='extra'"), 0);

    ck_assert_msg(db_migrate(db, good, N, &err) == HW_OK, "%s", err.msg);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), N);
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name='extra'"), 1);
    db_close(db);

    /* This hwnas does not know version N: the migrated file is now refused. */
    ck_assert_int_eq(db_open(&db, path, 0, &err), HW_EMISMATCH);
    remove_db(path);
}
END_TEST

/* ---- devices --------------------------------------------------------------------- */

START_TEST(test_device_get_or_create)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t a = add_device(db, "aaaa"), a2 = add_device(db, "aaaa"), b = add_device(db, "bbbb");
    ck_assert_int_eq(a, a2);
    ck_assert_int_ne(a, b);

    struct db_device other = device("aaaa", "Intel Xeon");
    int64_t id;
    ck_assert_int_eq(db_device_get_or_create(db, &other, &id, &err), HW_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(err.msg, "cpu"));
    other = device("cccc", "x");
    other.threads = 0;
    ck_assert_int_eq(db_device_get_or_create(db, &other, &id, &err), HW_EINVAL);
    other = device("", "x");
    ck_assert_int_eq(db_device_get_or_create(db, &other, &id, &err), HW_EINVAL);

    struct db_device d;
    ck_assert_int_eq(db_device_get(db, b, &d, &err), HW_OK);
    ck_assert_str_eq(d.hash, "bbbb");
    ck_assert_str_eq(d.blas_core, "Haswell");
    ck_assert_int_eq(d.threads, 1);
    ck_assert_int_eq(strlen(d.created_at), 20);
    ck_assert_int_eq(db_device_find(db, "zzzz", &d, &err), HW_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "zzzz"));
    ck_assert_int_eq(db_device_get(db, 999, &d, &err), HW_ENOTFOUND);

    struct db_device *list;
    int n;
    ck_assert_int_eq(db_device_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(list[0].hash, "aaaa");
    ck_assert_str_eq(list[1].hash, "bbbb");
    free(list);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_device_lookup)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t a = add_device(db, "5a3f00aa11"), b = add_device(db, "5a3f99bb22");
    add_device(db, "c0ffee0000");
    struct db_device d;
    ck_assert_int_eq(db_device_lookup(db, "5a3f00aa11", &d, &err), HW_OK);
    ck_assert_int_eq(d.id, a);
    ck_assert_int_eq(db_device_lookup(db, "5a3f9", &d, &err), HW_OK);
    ck_assert_int_eq(d.id, b);
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%lld", (long long)b);
    ck_assert_int_eq(db_device_lookup(db, idtext, &d, &err), HW_OK);
    ck_assert_str_eq(d.hash, "5a3f99bb22");
    ck_assert_int_eq(db_device_lookup(db, "5a3f", &d, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "ambiguous"));
    ck_assert_int_eq(db_device_lookup(db, "c0ffee", &d, &err), HW_OK);
    ck_assert_int_eq(db_device_lookup(db, "dead", &d, &err), HW_ENOTFOUND);
    ck_assert_int_eq(db_device_lookup(db, "", &d, &err), HW_ENOTFOUND);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- latency table ------------------------------------------------------------------ */

static int collect_keys(void *ctx, const struct db_lut_entry *e)
{
    char *out = ctx;
    strcat(out, e->key);
    strcat(out, ";");
    return strcmp(e->key, "stop") == 0 ? 77 : 0;
}

START_TEST(test_lut_put_get)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t dev = add_device(db, "aaaa"), dev2 = add_device(db, "bbbb");
    const char *key = "layer-in:14x14x40-mid:120-out:40-k:5-s:1-se:1-act:hswish-res:1";
    struct db_lut_entry e = lut_entry(key, 123.456789), got;
    ck_assert_int_eq(db_lut_put(db, dev, &e, &err), HW_OK);
    ck_assert_int_eq(db_lut_get(db, dev, key, &got, &err), HW_OK);
    ck_assert_str_eq(got.key, key);
    ck_assert_int_eq(got.count, 50);
    ck_assert(got.median_us == e.median_us && got.mean_us == e.mean_us &&
              got.var_us == e.var_us && got.min_us == e.min_us && got.max_us == e.max_us);
    /* Tables are per device. */
    ck_assert_int_eq(db_lut_get(db, dev2, key, &got, &err), HW_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, key));

    /* Upsert replaces. */
    e = lut_entry(key, 99.0);
    e.count = 7;
    ck_assert_int_eq(db_lut_put(db, dev, &e, &err), HW_OK);
    ck_assert_int_eq(db_lut_get(db, dev, key, &got, &err), HW_OK);
    ck_assert_int_eq(got.count, 7);
    ck_assert(got.median_us == 99.0);
    int n;
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);

    /* Invalid entries. */
    struct db_lut_entry bad = lut_entry("k", 10);
    bad.count = 0;
    ck_assert_int_eq(db_lut_put(db, dev, &bad, &err), HW_EINVAL);
    bad = lut_entry("k", 10);
    bad.median_us = NAN;
    ck_assert_int_eq(db_lut_put(db, dev, &bad, &err), HW_EINVAL);
    bad = lut_entry("k", 10);
    bad.min_us = 11;
    ck_assert_int_eq(db_lut_put(db, dev, &bad, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "ordered"));
    bad = lut_entry("", 10);
    ck_assert_int_eq(db_lut_put(db, dev, &bad, &err), HW_EINVAL);
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_lut_put_many_atomic)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t dev = add_device(db, "aaaa");
    struct db_lut_entry old = lut_entry("b", 5.0);
    ck_assert_int_eq(db_lut_put(db, dev, &old, &err), HW_OK);

    struct db_lut_entry batch[4] = {lut_entry("a", 1), lut_entry("b", 2), lut_entry("c", 3),
                                    lut_entry("d", 4)};
    batch[3].var_us = -1; /* invalid, after three good rows were written */
    ck_assert_int_eq(db_lut_put_many(db, dev, batch, 4, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "entry 3"));
    int n;
    struct db_lut_entry got;
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(db_lut_get(db, dev, "b", &got, &err), HW_OK);
    ck_assert(got.median_us == 5.0); /* the replaced row came back */
    ck_assert_int_eq(db_lut_get(db, dev, "a", &got, &err), HW_ENOTFOUND);

    /* A batch the database itself refuses (unknown device) also leaves nothing. */
    batch[3] = lut_entry("d", 4);
    ck_assert_int_eq(db_lut_put_many(db, 999, batch, 4, &err), HW_EINVAL);
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM lut_entries"), 1);

    ck_assert_int_eq(db_lut_put_many(db, dev, batch, 4, &err), HW_OK);
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(db_lut_get(db, dev, "b", &got, &err), HW_OK);
    ck_assert(got.median_us == 2.0);
    ck_assert_int_eq(db_lut_put_many(db, dev, batch, 0, &err), HW_OK);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_lut_iterate)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t dev = add_device(db, "aaaa"), dev2 = add_device(db, "bbbb");
    struct db_lut_entry batch[4] = {lut_entry("stem-1", 1), lut_entry("head-1", 2),
                                    lut_entry("layer-1", 3), lut_entry("stop", 4)};
    ck_assert_int_eq(db_lut_put_many(db, dev, batch, 3, &err), HW_OK);
    struct db_lut_entry other = lut_entry("other", 9);
    ck_assert_int_eq(db_lut_put(db, dev2, &other, &err), HW_OK);
    char keys[256] = "";
    ck_assert_int_eq(db_lut_iterate(db, dev, collect_keys, keys, &err), HW_OK);
    ck_assert_str_eq(keys, "head-1;layer-1;stem-1;");
    /* The callback's status stops the walk and comes back. */
    ck_assert_int_eq(db_lut_put(db, dev, &batch[3], &err), HW_OK);
    struct db_lut_entry z = lut_entry("zzz", 1);
    ck_assert_int_eq(db_lut_put(db, dev, &z, &err), HW_OK);
    keys[0] = '\0';
    ck_assert_int_eq(db_lut_iterate(db, dev, collect_keys, keys, &err), 77);
    ck_assert_str_eq(keys, "head-1;layer-1;stem-1;stop;");

    ck_assert_int_eq(db_lut_clear(db, dev, &err), HW_OK);
    int n;
    ck_assert_int_eq(db_lut_count(db, dev, &n, &err), HW_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(db_lut_count(db, dev2, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- validations ------------------------------------------------------------------ */

START_TEST(test_validation_add_list)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t dev = add_device(db, "aaaa"), dev2 = add_device(db, "bbbb");
    struct db_validation v;
    memset(&v, 0, sizeof v);
    v.device_id = dev;
    snprintf(v.space, sizeof v.space, "fmnist");
    v.samples = 100;
    v.rmse_us = 4.5;
    v.rmspe = 0.031;
    v.within5 = 0.96;
    v.within10 = 1.0;
    v.details_json = "{\"worst\":[]}";
    int64_t id1, id2;
    ck_assert_int_eq(db_validation_add(db, &v, &id1, &err), HW_OK);
    v.device_id = dev2;
    v.details_json = NULL;
    v.rmse_us = NAN;
    ck_assert_int_eq(db_validation_add(db, &v, &id2, &err), HW_OK);
    v.samples = 0;
    ck_assert_int_eq(db_validation_add(db, &v, NULL, &err), HW_EINVAL);

    struct db_validation *list;
    int n;
    ck_assert_int_eq(db_validation_list(db, 0, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(list[0].id, id2); /* newest first */
    ck_assert(isnan(list[0].rmse_us));
    ck_assert_ptr_null(list[0].details_json);
    db_validation_list_free(list, n);
    ck_assert_int_eq(db_validation_list(db, dev, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(list[0].id, id1);
    ck_assert_str_eq(list[0].space, "fmnist");
    ck_assert_int_eq(list[0].samples, 100);
    ck_assert(list[0].rmspe == 0.031 && list[0].within5 == 0.96);
    ck_assert_str_eq(list[0].details_json, "{\"worst\":[]}");
    db_validation_list_free(list, n);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- runs ------------------------------------------------------------------------ */

START_TEST(test_run_create_find)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t dev = add_device(db, "aaaa");
    struct db_run r = run_spec("first", dev);
    r.seed = 0xfedcba9876543210ull; /* above INT64_MAX */
    r.config_json = "{\"trials\":300}";
    ck_assert_int_eq(db_run_create(db, &r, &err), HW_OK);
    ck_assert_int_gt(r.id, 0);
    ck_assert_int_eq(r.status, DB_RUN_RUNNING);
    ck_assert_int_eq(strlen(r.created_at), 20);

    struct db_run dup = run_spec("first", dev);
    ck_assert_int_eq(db_run_create(db, &dup, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "'first' is taken"));
    struct db_run anon = run_spec("", 0);
    ck_assert_int_eq(db_run_create(db, &anon, &err), HW_OK);
    ck_assert_str_eq(anon.name, "run-2");
    struct db_run bad = run_spec("bad", 0);
    bad.target_ms = 0;
    ck_assert_int_eq(db_run_create(db, &bad, &err), HW_EINVAL);
    bad = run_spec("bad", 4242); /* unknown device */
    ck_assert_int_eq(db_run_create(db, &bad, &err), HW_EINVAL);
    bad = run_spec("bad", 0);
    bad.space[0] = '\0';
    ck_assert_int_eq(db_run_create(db, &bad, &err), HW_EINVAL);

    struct db_run got;
    ck_assert_int_eq(db_run_find_by_name(db, "first", &got, &err), HW_OK);
    ck_assert_int_eq(got.id, r.id);
    ck_assert(got.seed == 0xfedcba9876543210ull);
    ck_assert_str_eq(got.space, "fmnist");
    ck_assert_str_eq(got.controller, "rl");
    ck_assert(got.target_ms == 0.4 && got.w_alpha == -0.07 && got.w_beta == -0.07);
    ck_assert_int_eq(got.trials_max, 300);
    ck_assert(got.time_budget_s == 1800);
    ck_assert_int_eq(got.device_id, dev);
    ck_assert_str_eq(got.config_json, "{\"trials\":300}");
    db_run_release(&got);
    ck_assert_int_eq(db_run_get(db, anon.id, &got, &err), HW_OK);
    ck_assert_int_eq(got.device_id, 0);
    ck_assert_ptr_null(got.config_json);
    db_run_release(&got);

    char idtext[32];
    snprintf(idtext, sizeof idtext, "%lld", (long long)anon.id);
    ck_assert_int_eq(db_run_lookup(db, idtext, &got, &err), HW_OK);
    ck_assert_str_eq(got.name, "run-2");
    db_run_release(&got);
    ck_assert_int_eq(db_run_lookup(db, "first", &got, &err), HW_OK);
    db_run_release(&got);
    ck_assert_int_eq(db_run_lookup(db, "nosuch", &got, &err), HW_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "'nosuch'"));
    ck_assert_int_eq(db_run_lookup(db, "77", &got, &err), HW_ENOTFOUND);

    struct db_run *list;
    int n;
    ck_assert_int_eq(db_run_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(list[0].name, "first");
    ck_assert_str_eq(list[1].name, "run-2");
    db_run_list_free(list, n);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_run_set_status)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t id = add_run(db, "r");
    ck_assert_int_eq(db_run_set_status(db, id, DB_RUN_STOPPED, &err), HW_OK);
    struct db_run got;
    ck_assert_int_eq(db_run_get(db, id, &got, &err), HW_OK);
    ck_assert_int_eq(got.status, DB_RUN_STOPPED);
    ck_assert_str_eq(db_run_status_name(got.status), "stopped");
    db_run_release(&got);
    ck_assert_int_eq(db_run_set_status(db, id + 1, DB_RUN_DONE, &err), HW_ENOTFOUND);
    ck_assert_int_eq(db_run_set_status(db, id, (enum db_run_status)9, &err), HW_EINVAL);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_run_state_round_trip)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t id = add_run(db, "r");
    void *blob;
    size_t len;
    ck_assert_int_eq(db_run_load_state(db, id, &blob, &len, &err), HW_OK);
    ck_assert_ptr_null(blob);
    ck_assert_uint_eq(len, 0);

    unsigned char state[3000];
    for (size_t i = 0; i < sizeof state; i++)
        state[i] = (unsigned char)(i * 7 % 256); /* includes zero bytes */
    ck_assert_int_eq(db_run_save_state(db, id, state, sizeof state, &err), HW_OK);
    ck_assert_int_eq(db_run_load_state(db, id, &blob, &len, &err), HW_OK);
    ck_assert_uint_eq(len, sizeof state);
    ck_assert(memcmp(blob, state, len) == 0);
    free(blob);
    ck_assert_int_eq(db_run_save_state(db, id, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_run_load_state(db, id, &blob, &len, &err), HW_OK);
    ck_assert_ptr_null(blob);
    ck_assert_int_eq(db_run_save_state(db, 999, state, 4, &err), HW_ENOTFOUND);
    ck_assert_int_eq(db_run_load_state(db, 999, &blob, &len, &err), HW_ENOTFOUND);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- candidates ------------------------------------------------------------------- */

START_TEST(test_candidate_add_with_state)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t run = add_run(db, "r");
    struct db_candidate c = candidate(run, 0, "h0", 0.8);
    const char s1[] = "state after trial 0";
    ck_assert_int_eq(db_candidate_add(db, &c, s1, sizeof s1, &err), HW_OK);
    ck_assert_int_gt(c.id, 0);
    void *blob;
    size_t len;
    ck_assert_int_eq(db_run_load_state(db, run, &blob, &len, &err), HW_OK);
    ck_assert_uint_eq(len, sizeof s1);
    ck_assert_str_eq(blob, s1);
    free(blob);

    /* A candidate that cannot be stored (trial taken) must not store its state. */
    struct db_candidate again = candidate(run, 0, "h1", 0.5);
    const char s2[] = "state after a failed insert";
    ck_assert_int_eq(db_candidate_add(db, &again, s2, sizeof s2, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "trial 0"));
    ck_assert_int_eq(db_run_load_state(db, run, &blob, &len, &err), HW_OK);
    ck_assert_str_eq(blob, s1);
    free(blob);
    /* Nor may a candidate of an unknown run be stored. */
    struct db_candidate orphan = candidate(run + 10, 0, "h1", 0.5);
    ck_assert_int_eq(db_candidate_add(db, &orphan, s2, sizeof s2, &err), HW_EINVAL);
    int n;
    ck_assert_int_eq(db_candidate_count(db, run, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM candidates"), 1);

    /* The state update failing after the candidate row was written must take
     * the row with it (another program's trigger plays the failing disk). */
    raw_exec(path, "CREATE TRIGGER fail_state BEFORE UPDATE OF state ON runs "
                   "WHEN NEW.state = CAST('boom' AS BLOB) BEGIN SELECT RAISE(ABORT, 'injected'); END");
    struct db_candidate late = candidate(run, 1, "h1", 0.5);
    ck_assert_int_ne(db_candidate_add(db, &late, "boom", 4, &err), HW_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "injected"));
    ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM candidates"), 1);
    raw_exec(path, "DROP TRIGGER fail_state");

    /* Without a state blob the old one stays. */
    struct db_candidate c1 = candidate(run, 1, "h1", 0.7);
    ck_assert_int_eq(db_candidate_add(db, &c1, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_run_load_state(db, run, &blob, &len, &err), HW_OK);
    ck_assert_str_eq(blob, s1);
    free(blob);

    /* Bad input. */
    struct db_candidate bad = candidate(run, 5, "h5", 0.1);
    bad.arch_json = NULL;
    ck_assert_int_eq(db_candidate_add(db, &bad, NULL, 0, &err), HW_EINVAL);
    bad = candidate(run, 5, "", 0.1);
    ck_assert_int_eq(db_candidate_add(db, &bad, NULL, 0, &err), HW_EINVAL);
    bad = candidate(run, 5, "h5", 0.1);
    bad.tokens[1] = -3;
    ck_assert_int_eq(db_candidate_add(db, &bad, NULL, 0, &err), HW_EINVAL);
    bad.tokens[1] = 0;
    bad.n_tokens = DB_TOKENS_MAX + 1;
    ck_assert_int_eq(db_candidate_add(db, &bad, NULL, 0, &err), HW_EINVAL);
    db_close(db);
    remove_db(path);
}
END_TEST

/* POSIX locks this process holds on path's file within SQLite's lock bytes
 * (0x40000000 on, 512 bytes), from /proc/locks. */
static int sqlite_locks_held(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    FILE *f = fopen("/proc/locks", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[16], mode[16], rw[16], dev[32];
        long pid;
        unsigned long long ino, start;
        if (sscanf(line, "%*[^:]: %15s %15s %15s %ld %31[^:]:%*[^:]:%llu %llu", kind, mode, rw,
                   &pid, dev, &ino, &start) == 7 &&
            strcmp(kind, "POSIX") == 0 && pid == (long)getpid() && ino == (unsigned long long)sb.st_ino &&
            start >= 0x40000000ULL && start < 0x40000200ULL)
            n++;
    }
    fclose(f);
    return n;
}

/* A claim refused (another process holds the run) leaves this process's
 * SQLite locks in place: closing any descriptor of the file would drop them,
 * and another process could then checkpoint and delete the WAL under it. */
START_TEST(test_claim_refused_keeps_sqlite_locks)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t run = add_run(db, "r");
    db_close(db); /* and with it the creator's claim; the child is forked with no connection */
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct db *child;
        char c = 0;
        if (db_open(&child, path, 0, NULL) != HW_OK ||
            db_claim(child, DB_CLAIM_SEARCH, run, "r", NULL) != HW_OK)
            _exit(1);
        if (write(up[1], "c", 1) != 1 || read(down[0], &c, 1) < 0)
            _exit(2);
        db_close(child);
        _exit(0);
    }
    char c;
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    db = open_ok(path);
    struct hw_err err;
    int n;
    ck_assert_int_eq(db_candidate_count(db, run, &n, &err), HW_OK);
    int held = sqlite_locks_held(path);
    ck_assert_int_gt(held, 0); /* WAL: a shared lock for the connection's life */
    ck_assert_int_eq(db_claim(db, DB_CLAIM_SEARCH, run, "r", &err), HW_EBUSY);
    ck_assert_ptr_nonnull(strstr(err.msg, "'r' is in use"));
    ck_assert_int_eq(sqlite_locks_held(path), held);
    ck_assert_int_eq(db_claim(db, DB_CLAIM_NETADAPT, run, "r", &err), HW_OK); /* another kind */
    ck_assert_int_eq(sqlite_locks_held(path), held);
    ck_assert_int_eq(write(down[1], "x", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the child's claim died with its connection */
    ck_assert_int_eq(db_claim(db, DB_CLAIM_SEARCH, run, "r", &err), HW_OK);
    close(up[0]), close(up[1]), close(down[0]), close(down[1]);
    db_close(db);
    remove_db(path);
}
END_TEST

/* A new run is claimed by its creator before its row commits: no window in
 * which another --resume could take it. (OFD locks of two connections of
 * one process conflict as two processes' would.) */
START_TEST(test_create_claims_the_run)
{
    const char *path = tmp_db();
    struct db *maker = open_ok(path), *other = open_ok(path);
    struct hw_err err;
    int64_t run = add_run(maker, "fresh");
    ck_assert_int_eq(db_claim(other, DB_CLAIM_SEARCH, run, "fresh", &err), HW_EBUSY);
    struct db_netadapt r;
    memset(&r, 0, sizeof r);
    snprintf(r.source_model, sizeof r.source_model, "ref.hwm");
    r.target_ms = 0.3, r.delta = 0.01, r.initial_ms = 0.6;
    ck_assert_int_eq(db_netadapt_create(maker, &r, &err), HW_OK);
    ck_assert_int_eq(db_claim(other, DB_CLAIM_NETADAPT, r.id, "na", &err), HW_EBUSY);
    /* a creation whose claim is refused (another process holds the id the
     * insert would get) is rolled back: no row */
    ck_assert_int_eq(db_claim(other, DB_CLAIM_SEARCH, run + 1, "next", &err), HW_OK);
    struct db_run next = run_spec("next", 0);
    ck_assert_int_eq(db_run_create(maker, &next, &err), HW_EBUSY);
    struct db_run found;
    ck_assert_int_eq(db_run_find_by_name(maker, "next", &found, &err), HW_ENOTFOUND);
    db_close(maker);
    ck_assert_int_eq(db_claim(other, DB_CLAIM_SEARCH, run, "fresh", &err), HW_OK);
    ck_assert_int_eq(db_claim(other, DB_CLAIM_NETADAPT, r.id, "na", &err), HW_OK);
    db_close(other);
    remove_db(path);
}
END_TEST

/* A process that dies right after db_candidate_add (no db_close) loses nothing. */
START_TEST(test_candidate_add_survives_exit)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    int64_t run = add_run(db, "r");
    db_close(db);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct db *child;
        if (db_open(&child, path, 0, NULL) != HW_OK)
            _exit(1);
        struct db_candidate c = candidate(run, 0, "h0", 0.8);
        int rc = db_candidate_add(child, &c, "S", 2, NULL);
        _exit(rc == HW_OK ? 0 : 2); /* like kill -9: no close, no checkpoint */
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    db = open_ok(path);
    struct hw_err err;
    int n;
    ck_assert_int_eq(db_candidate_count(db, run, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    void *blob;
    size_t len;
    ck_assert_int_eq(db_run_load_state(db, run, &blob, &len, &err), HW_OK);
    ck_assert_str_eq(blob, "S");
    free(blob);
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_candidate_get_find)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t run = add_run(db, "r"), run2 = add_run(db, "r2");
    struct db_candidate failed = candidate(run, 0, "dup", NAN);
    failed.status = DB_CAND_FAILED;
    failed.val_acc = NAN;
    failed.val_loss = NAN;
    failed.train_loss = NAN;
    struct db_candidate ok = candidate(run, 1, "dup", 0.8);
    struct db_candidate copy = candidate(run, 2, "dup", 0.8);
    copy.status = DB_CAND_DUPLICATE;
    struct db_candidate elsewhere = candidate(run2, 0, "only-in-r2", 0.8);
    ck_assert_int_eq(db_candidate_add(db, &failed, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_add(db, &ok, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_add(db, &copy, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_add(db, &elsewhere, NULL, 0, &err), HW_OK);

    struct db_candidate got;
    ck_assert_int_eq(db_candidate_find_by_hash(db, run, "dup", &got, &err), HW_OK);
    ck_assert_int_eq(got.id, ok.id); /* not the failed one, not the later copy */
    db_candidate_release(&got);
    ck_assert_int_eq(db_candidate_find_by_hash(db, run, "only-in-r2", &got, &err), HW_ENOTFOUND);

    ck_assert_int_eq(db_candidate_get(db, failed.id, &got, &err), HW_OK);
    ck_assert_int_eq(got.status, DB_CAND_FAILED);
    ck_assert(isnan(got.val_acc) && isnan(got.val_loss) && isnan(got.train_loss) &&
              isnan(got.reward));
    ck_assert_str_eq(got.arch_json, failed.arch_json);
    ck_assert_str_eq(got.arch_hash, "dup");
    ck_assert_int_eq(got.n_tokens, 4);
    ck_assert_int_eq(got.tokens[0], 2);
    ck_assert_int_eq(got.tokens[2], 13);
    ck_assert_int_eq(got.macs, 6776864);
    ck_assert_int_eq(got.params, 546322);
    ck_assert(got.predicted_ms == 0.35 && got.wall_s == 12.5);
    db_candidate_release(&got);
    ck_assert_int_eq(db_candidate_get(db, 9999, &got, &err), HW_ENOTFOUND);
    ck_assert_int_eq(db_candidate_get(db, ok.id, &got, &err), HW_OK);
    ck_assert(got.val_loss == 0.3125 && got.val_acc == 0.9 && got.train_loss == 0.6875);
    db_candidate_release(&got);
    /* a diverged training's infinite loss reads back as infinite */
    struct db_candidate diverged = candidate(run, 4, "div", 0);
    diverged.val_acc = 0;
    diverged.val_loss = INFINITY;
    diverged.train_loss = INFINITY;
    ck_assert_int_eq(db_candidate_add(db, &diverged, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_get(db, diverged.id, &got, &err), HW_OK);
    ck_assert(isinf(got.val_loss) && got.val_loss > 0 && isinf(got.train_loss));
    db_candidate_release(&got);

    /* No tokens at all round-trips too. */
    struct db_candidate empty = candidate(run, 3, "e", 0.1);
    empty.n_tokens = 0;
    ck_assert_int_eq(db_candidate_add(db, &empty, NULL, 0, &err), HW_OK);
    ck_assert_int_eq(db_candidate_get(db, empty.id, &got, &err), HW_OK);
    ck_assert_int_eq(got.n_tokens, 0);
    db_candidate_release(&got);
    ck_assert_str_eq(db_cand_status_name(DB_CAND_DUPLICATE), "duplicate");
    db_close(db);
    remove_db(path);
}
END_TEST

START_TEST(test_candidate_list)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    int64_t run = add_run(db, "r");
    const double rewards[] = {0.5, NAN, 0.9, 0.7, 0.9};
    for (int t = 0; t < 5; t++) {
        char hash[8];
        snprintf(hash, sizeof hash, "h%d", t);
        struct db_candidate c = candidate(run, t, hash, rewards[t]);
        ck_assert_int_eq(db_candidate_add(db, &c, NULL, 0, &err), HW_OK);
    }
    struct db_candidate *list;
    int n;
    ck_assert_int_eq(db_candidate_list(db, run, DB_ORDER_REWARD, 0, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 5);
    static const int want_reward[] = {2, 4, 3, 0, 1}; /* desc, ties by trial, unknown last */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(list[i].trial, want_reward[i]);
    db_candidate_list_free(list, n);
    ck_assert_int_eq(db_candidate_list(db, run, DB_ORDER_REWARD, 2, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(list[1].trial, 4);
    db_candidate_list_free(list, n);
    ck_assert_int_eq(db_candidate_list(db, run, DB_ORDER_TRIAL, -1, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(list[i].tokens[3], i);
    db_candidate_list_free(list, n);
    ck_assert_int_eq(db_candidate_list(db, run + 1, DB_ORDER_TRIAL, 0, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(list);
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- models ---------------------------------------------------------------------- */

START_TEST(test_model_add_find)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    struct db_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "winner");
    snprintf(m.path, sizeof m.path, "/tmp/w.hwm");
    m.arch_json = "{\"a\":1}";
    m.val_acc = 0.91;
    m.test_acc = NAN;
    m.source = DB_MODEL_CANDIDATE;
    m.source_id = 3;
    ck_assert_int_eq(db_model_add(db, &m, &err), HW_OK);
    int64_t first = m.id;
    m.arch_json = "{\"a\":2}";
    m.source = DB_MODEL_NETADAPT;
    m.source_id = 0;
    ck_assert_int_eq(db_model_add(db, &m, &err), HW_OK);

    struct db_model got;
    ck_assert_int_eq(db_model_find_by_path(db, "/tmp/w.hwm", &got, &err), HW_OK);
    ck_assert_int_eq(got.id, m.id); /* the newest with that path */
    ck_assert_str_eq(got.arch_json, "{\"a\":2}");
    ck_assert_int_eq(got.source, DB_MODEL_NETADAPT);
    ck_assert_int_eq(got.source_id, 0);
    db_model_release(&got);
    ck_assert_int_eq(db_model_set_test_acc(db, first, 0.925, &err), HW_OK);
    ck_assert_int_eq(db_model_get(db, first, &got, &err), HW_OK);
    ck_assert(got.test_acc == 0.925 && got.val_acc == 0.91);
    ck_assert_int_eq(got.source, DB_MODEL_CANDIDATE);
    ck_assert_int_eq(got.source_id, 3);
    ck_assert_str_eq(got.name, "winner");
    db_model_release(&got);
    ck_assert_int_eq(db_model_set_test_acc(db, 999, 0.5, &err), HW_ENOTFOUND);
    ck_assert_int_eq(db_model_find_by_path(db, "/nope", &got, &err), HW_ENOTFOUND);
    m.path[0] = '\0';
    ck_assert_int_eq(db_model_add(db, &m, &err), HW_EINVAL);

    struct db_model *list;
    int n;
    ck_assert_int_eq(db_model_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 2);
    ck_assert(isnan(list[1].test_acc));
    db_model_list_free(list, n);
    ck_assert_str_eq(db_model_source_name(DB_MODEL_TRAIN), "train");
    db_close(db);
    remove_db(path);
}
END_TEST

/* ---- NetAdapt ------------------------------------------------------------------------ */

static struct db_na_step step(int64_t na, int it, int proposal, int chosen)
{
    struct db_na_step p;
    memset(&p, 0, sizeof p);
    p.netadapt_id = na;
    p.iteration = it;
    p.proposal = proposal;
    p.kind = proposal == 0 ? DB_NA_BOTTLENECK : DB_NA_EXPAND;
    snprintf(p.layers, sizeof p.layers, proposal == 0 ? "1,2" : "%d", proposal + 2);
    p.channels_before = 120;
    p.channels_after = 104 - 8 * proposal;
    p.latency_ms = 0.5 - 0.01 * proposal;
    p.val_acc = 0.9 - 0.001 * proposal;
    p.val_loss = proposal == 2 ? NAN : 0.25 + 0.125 * proposal;
    p.chosen = chosen;
    return p;
}

/* A NetAdapt run created in db, as stored. */
static struct db_netadapt na_create(struct db *db)
{
    struct hw_err err;
    struct db_netadapt r;
    memset(&r, 0, sizeof r);
    snprintf(r.source_model, sizeof r.source_model, "ref.hwm");
    r.target_ms = 0.3;
    r.delta = 0.01;
    r.initial_ms = 0.6;
    ck_assert_msg(db_netadapt_create(db, &r, &err) == HW_OK, "%s", err.msg);
    return r;
}

START_TEST(test_netadapt_iterations)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    struct db_netadapt r = na_create(db);
    ck_assert_int_eq(r.iterations, 0);
    ck_assert(r.current_ms == 0.6);
    ck_assert_int_eq(r.status, DB_RUN_RUNNING);

    struct db_na_step it0[3] = {step(r.id, 0, 0, 0), step(r.id, 0, 1, 1), step(r.id, 0, 2, 0)};
    ck_assert_int_eq(db_netadapt_add_iteration(db, r.id, 0, it0, 3, "na-1.hwm", 0.58, "S0", 3,
                                               &err),
                     HW_OK);
    /* The same iteration again is refused whole. */
    ck_assert_int_ne(db_netadapt_add_iteration(db, r.id, 0, it0, 3, "na-1.hwm", 0.58, "S0", 3,
                                               &err),
                     HW_OK);
    /* Two chosen proposals, or a step of another iteration, are refused. */
    struct db_na_step two[2] = {step(r.id, 1, 0, 1), step(r.id, 1, 1, 1)};
    ck_assert_int_eq(db_netadapt_add_iteration(db, r.id, 1, two, 2, "x", 0.5, NULL, 0, &err),
                     HW_EINVAL);
    two[1] = step(r.id, 0, 1, 0);
    ck_assert_int_eq(db_netadapt_add_iteration(db, r.id, 1, two, 2, "x", 0.5, NULL, 0, &err),
                     HW_EINVAL);
    /* The run's iteration counter guards against a skipped iteration. */
    struct db_na_step it2[1] = {step(r.id, 2, 0, 1)};
    ck_assert_int_eq(db_netadapt_add_iteration(db, r.id, 2, it2, 1, "x", 0.5, NULL, 0, &err),
                     HW_ENOTFOUND);
    struct db_na_step it1[2] = {step(r.id, 1, 0, 1), step(r.id, 1, 1, 0)};
    ck_assert_int_eq(db_netadapt_add_iteration(db, r.id, 1, it1, 2, "na-2.hwm", 0.55, NULL, 0,
                                               &err),
                     HW_OK);

    struct db_na_step *steps;
    int n;
    ck_assert_int_eq(db_netadapt_steps(db, r.id, &steps, &n, &err), HW_OK);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(steps[0].iteration, 0);
    ck_assert_int_eq(steps[0].kind, DB_NA_BOTTLENECK);
    ck_assert_str_eq(steps[0].layers, "1,2");
    ck_assert_int_eq(steps[1].chosen, 1);
    ck_assert_int_eq(steps[1].channels_after, 96);
    ck_assert(steps[2].val_acc == 0.9 - 0.002);
    ck_assert(steps[1].val_loss == 0.375 && isnan(steps[2].val_loss));
    ck_assert_int_eq(steps[3].iteration, 1);
    ck_assert_int_eq(steps[4].proposal, 1);
    free(steps);

    struct db_netadapt got;
    ck_assert_int_eq(db_netadapt_get(db, r.id, &got, &err), HW_OK);
    ck_assert_int_eq(got.iterations, 2);
    ck_assert_str_eq(got.current_model, "na-2.hwm");
    ck_assert(got.current_ms == 0.55);
    db_netadapt_release(&got);
    void *blob;
    size_t len;
    ck_assert_int_eq(db_netadapt_load_state(db, r.id, &blob, &len, &err), HW_OK);
    ck_assert_str_eq(blob, "S0"); /* NULL state kept the previous one */
    free(blob);

    ck_assert_int_eq(db_netadapt_set_status(db, r.id, DB_RUN_DONE, &err), HW_OK);
    struct db_netadapt *list;
    ck_assert_int_eq(db_netadapt_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(list[0].status, DB_RUN_DONE);
    db_netadapt_list_free(list, n);
    ck_assert_int_eq(db_netadapt_get(db, r.id + 1, &got, &err), HW_ENOTFOUND);
    r.delta = 2;
    ck_assert_int_eq(db_netadapt_create(db, &r, &err), HW_EINVAL);
    ck_assert_str_eq(db_na_kind_name(DB_NA_EXPAND), "expand");
    db_close(db);
    /* a schema-9 file (proposals without their loss) reads them as NaN */
    raw_exec(path, "ALTER TABLE netadapt_steps DROP COLUMN val_loss; PRAGMA user_version = 9");
    db = open_ok(path);
    ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
    ck_assert_int_eq(db_netadapt_steps(db, r.id, &steps, &n, &err), HW_OK);
    ck_assert_int_eq(n, 5);
    ck_assert(steps[1].val_acc == 0.9 - 0.001 && isnan(steps[1].val_loss));
    free(steps);
    db_close(db);
    remove_db(path);
}
END_TEST

/* The final model and the done status commit together: when the status
 * cannot be set, no model is left for a resume to store a second time. */
START_TEST(test_netadapt_finish)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    struct db_netadapt r = na_create(db);
    struct db_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "netadapt-%lld", (long long)r.id);
    snprintf(m.path, sizeof m.path, "/tmp/na.hwm");
    m.arch_json = "{\"a\":1}";
    m.val_acc = 0.9;
    m.test_acc = NAN;
    m.source = DB_MODEL_NETADAPT;
    m.source_id = r.id;
    ck_assert_int_eq(db_netadapt_finish(db, r.id + 1, &m, &err), HW_ENOTFOUND);
    struct db_model *list;
    int n;
    ck_assert_int_eq(db_model_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 0);
    db_model_list_free(list, n);
    ck_assert_int_eq(db_netadapt_finish(db, r.id, &m, &err), HW_OK);
    ck_assert_int_eq(db_model_list(db, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(list[0].id, m.id);
    db_model_list_free(list, n);
    struct db_netadapt got;
    ck_assert_int_eq(db_netadapt_get(db, r.id, &got, &err), HW_OK);
    ck_assert_int_eq(got.status, DB_RUN_DONE);
    db_netadapt_release(&got);
    db_close(db);
    remove_db(path);
}
END_TEST

/* Reranks: stored per (run, arch, budget, seed), listed best first; a
 * repeat or invalid figures are refused. */
START_TEST(test_rerank_add_list)
{
    const char *path = tmp_db();
    struct db *db = open_ok(path);
    struct hw_err err;
    struct db_run r = run_spec("rr", 0);
    ck_assert_msg(db_run_create(db, &r, &err) == HW_OK, "%s", err.msg);
    int64_t cand[2];
    for (int i = 0; i < 2; i++) {
        struct db_candidate c = {.run_id = r.id, .trial = i, .arch_json = "{}", .macs = 1,
                                 .params = 1, .predicted_ms = 0.1, .val_acc = 0.8,
                                 .val_loss = NAN, .train_loss = NAN, .reward = 0.8,
                                 .status = DB_CAND_OK};
        snprintf(c.arch_hash, sizeof c.arch_hash, "h%d", i);
        ck_assert_msg(db_candidate_add(db, &c, NULL, 0, &err) == HW_OK, "%s", err.msg);
        cand[i] = c.id;
    }
    struct db_rerank a = {.run_id = r.id, .candidate_id = cand[0], .trial = 0, .epochs = 3,
                          .subset = 0, .seed = 3, .val_acc = 0.91, .wall_s = 60},
                     b = a;
    snprintf(a.arch_hash, sizeof a.arch_hash, "h0");
    b.candidate_id = cand[1];
    b.trial = 1;
    b.val_acc = 0.93;
    snprintf(b.arch_hash, sizeof b.arch_hash, "h1");
    ck_assert_msg(db_rerank_add(db, &a, &err) == HW_OK, "%s", err.msg);
    ck_assert_msg(db_rerank_add(db, &b, &err) == HW_OK, "%s", err.msg);
    ck_assert_int_eq(db_rerank_add(db, &a, &err), HW_EINVAL); /* same arch, budget, seed */
    a.epochs = 5; /* another budget is another row */
    ck_assert_msg(db_rerank_add(db, &a, &err) == HW_OK, "%s", err.msg);
    a.val_acc = 1.5;
    ck_assert_int_eq(db_rerank_add(db, &a, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "accuracy 1.5"));
    a.val_acc = 0.9;
    a.epochs = 0;
    ck_assert_int_eq(db_rerank_add(db, &a, &err), HW_EINVAL);
    struct db_rerank *list;
    int n;
    ck_assert_int_eq(db_rerank_list(db, r.id, &list, &n, &err), HW_OK);
    ck_assert_int_eq(n, 3);
    ck_assert(list[0].trial == 1 && list[0].val_acc == 0.93 && list[0].seed == 3);
    ck_assert(list[1].val_acc == 0.91 && list[2].epochs == 5);
    ck_assert_str_eq(list[1].arch_hash, "h0");
    free(list);
    db_close(db);
    remove_db(path);
}
END_TEST

Suite *suite_db(void)
{
    Suite *s = suite_create("db");
    struct {
        const char *name;
        const TTest *tests[12];
    } cases[] = {
        {"db_open",
         {test_open_creates_schema, test_open_reopen_keeps_data, test_open_refuses_newer_schema,
          test_open_refuses_non_sqlite, test_open_existing_and_readonly, test_open_two_handles, test_open_foreign_keys_on, test_open_concurrent_create,
          test_open_damaged_row}},
        {"db_check", {test_check_finds_orphans}},
        {"db_migrate", {test_migrate_step_is_atomic, test_migrate_from_1, test_migrate_from_2,
                        test_migrate_from_4, test_migrate_from_5,
                        test_migrate_from_6, test_migrate_from_7}},
        {"db_device", {test_device_get_or_create, test_device_lookup}},
        {"db_lut", {test_lut_put_get, test_lut_put_many_atomic, test_lut_iterate}},
        {"db_validation", {test_validation_add_list}},
        {"db_run", {test_run_create_find, test_run_set_status, test_run_state_round_trip}},
        {"db_candidate",
         {test_candidate_add_with_state, test_candidate_add_survives_exit,
          test_claim_refused_keeps_sqlite_locks, test_create_claims_the_run,
          test_candidate_get_find, test_candidate_list}},
        {"db_model", {test_model_add_find}},
        {"db_rerank", {test_rerank_add_list}},
        {"db_netadapt", {test_netadapt_iterations, test_netadapt_finish}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        for (int j = 0; j < 12 && cases[i].tests[j]; j++)
            tcase_add_test(tc, cases[i].tests[j]);
        suite_add_tcase(s, tc);
    }
    return s;
}
