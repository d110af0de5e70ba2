/* Opening the store, schema migrations and the statement plumbing shared by
 * the table files (db/internal.h). */
#include "db/internal.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_BUSY_TIMEOUT_MS 5000

#ifndef HWNAS_VERSION
#define HWNAS_VERSION "dev"
#endif

static const char sql_user_version[] = "PRAGMA user_version";
static const char sql_wal[] = "PRAGMA journal_mode=WAL";
static const char sql_foreign_keys[] = "PRAGMA foreign_keys=ON";
/* In WAL mode NORMAL keeps every commit across a crash of the process (the
 * kill -9 case resume relies on); only a power loss may drop the last few,
 * never corrupt the file. FULL would fsync each candidate and LUT entry. */
static const char sql_synchronous[] = "PRAGMA synchronous=NORMAL";
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_integrity_check[] = "PRAGMA integrity_check";
static const char sql_foreign_key_check[] = "PRAGMA foreign_key_check";
/* PRAGMA takes no bound parameters, so the version is formatted in. */
static const char fmt_set_user_version[] = "PRAGMA user_version = %d";

const char *db_path(const struct db *db)
{
    return db->path;
}

int db_check(struct db *db, struct hw_err *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql_integrity_check, &st, "integrity check", err);
    if (rc != HW_OK)
        return rc;
    /* one row "ok", or one row a problem */
    int s = sqlite3_step(st);
    const char *text = s == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (s != SQLITE_ROW)
        rc = db_sql_error(db, "integrity check", err);
    else if (!text || strcmp(text, "ok") != 0)
        rc = hw_error(err, HW_EDB, "%s: integrity check: %s", db->path, text ? text : "no text");
    sqlite3_finalize(st);
    if (rc != HW_OK || (rc = db_prepare(db, sql_foreign_key_check, &st, "foreign key check",
                                        err)) != HW_OK)
        return rc;
    /* no rows, or one a row whose parent is missing: table, rowid, parent */
    s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        rc = hw_error(err, HW_EDB, "%s: foreign key check: row %lld of %s refers to a missing "
                      "row of %s", db->path, (long long)sqlite3_column_int64(st, 1),
                      (const char *)sqlite3_column_text(st, 0),
                      (const char *)sqlite3_column_text(st, 2));
    else if (s != SQLITE_DONE)
        rc = db_sql_error(db, "foreign key check", err);
    sqlite3_finalize(st);
    return rc;
}

/* ---- errors and statements --------------------------------------------- */

int db_sql_error(struct db *db, const char *what, struct hw_err *err)
{
    int code = sqlite3_errcode(db->conn) & 0xff;
    int status = code == SQLITE_CONSTRAINT ? HW_EINVAL : HW_EDB;
    return hw_error(err, status, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->conn));
}

int db_prepare(struct db *db, const char *sql, sqlite3_stmt **st, const char *what,
               struct hw_err *err)
{
    *st = NULL;
    if (sqlite3_prepare_v2(db->conn, sql, -1, st, NULL) != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return db_sql_error(db, what, err);
    }
    return HW_OK;
}

int db_bind_v(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err,
              const char *fmt, va_list ap)
{
    int want = sqlite3_bind_parameter_count(st);
    if ((int)strlen(fmt) != want)
        return hw_error(err, HW_EDB, "%s: %s: statement has %d parameters, %d bound", db->path,
                        what, want, (int)strlen(fmt));
    for (int i = 1; *fmt; fmt++, i++) {
        int rc;
        switch (*fmt) {
        case 'i':
            rc = sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 'l':
            rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'd': {
            double v = va_arg(ap, double);
            rc = isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
            break;
        }
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            rc = p ? sqlite3_bind_blob64(st, i, p, len, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i);
            break;
        }
        default:
            return hw_error(err, HW_EDB, "%s: %s: bad bind type '%c'", db->path, what, *fmt);
        }
        if (rc != SQLITE_OK)
            return db_sql_error(db, what, err);
    }
    return HW_OK;
}

int db_bind(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = db_bind_v(db, st, what, err, fmt, ap);
    va_end(ap);
    return rc;
}

int db_step_done(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? HW_OK : db_sql_error(db, what, err);
    sqlite3_reset(st);
    return rc;
}

static int write_v(struct db *db, const char *sql, const char *what, int *changes,
                   struct hw_err *err, const char *fmt, va_list ap)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql, &st, what, err);
    if (rc == HW_OK)
        rc = db_bind_v(db, st, what, err, fmt, ap);
    if (rc == HW_OK)
        rc = db_step_done(db, st, what, err);
    if (rc == HW_OK && changes)
        *changes = sqlite3_changes(db->conn);
    sqlite3_finalize(st);
    return rc;
}

int db_write(struct db *db, const char *sql, const char *what, int *changes,
             struct hw_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = write_v(db, sql, what, changes, err, fmt, ap);
    va_end(ap);
    return rc;
}

int db_update(struct db *db, const char *sql, const char *what, const char *thing, int64_t id,
              struct hw_err *err, const char *fmt, ...)
{
    int changes = 0;
    va_list ap;
    va_start(ap, fmt);
    int rc = write_v(db, sql, what, &changes, err, fmt, ap);
    va_end(ap);
    if (rc == HW_OK && changes == 0)
        rc = hw_error(err, HW_ENOTFOUND, "%s: %s: %s id %lld not found", db->path, what, thing,
                      (long long)id);
    return rc;
}

int db_select_int(struct db *db, const char *sql, int64_t id, int *n, const char *what,
                  struct hw_err *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql, &st, what, err);
    if (rc == HW_OK)
        rc = db_bind(db, st, what, err, "l", id);
    if (rc == HW_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *n = sqlite3_column_int(st, 0);
        else
            rc = db_sql_error(db, what, err);
    }
    sqlite3_finalize(st);
    return rc;
}

void db_rows_free(const struct db_rowtype *rt, void *rows, int n)
{
    if (rt->release)
        for (int i = 0; i < n; i++)
            rt->release((char *)rows + (size_t)i * rt->size);
    free(rows);
}

static int select_v(struct db *db, const struct db_rowtype *rt, void **out, int *n,
                    const char *sql, const char *what, struct hw_err *err, const char *fmt,
                    va_list ap)
{
    *out = NULL;
    *n = 0;
    char *rows = NULL;
    int count = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql, &st, what, err);
    if (rc == HW_OK)
        rc = db_bind_v(db, st, what, err, fmt, ap);
    while (rc == HW_OK) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            rc = db_sql_error(db, what, err);
            break;
        }
        if (count == cap) {
            int ncap = cap ? 2 * cap : 16;
            char *grown = realloc(rows, (size_t)ncap * rt->size);
            if (!grown) {
                rc = hw_error(err, HW_ENOMEM, "%s: %s: out of memory", db->path, what);
                break;
            }
            rows = grown;
            cap = ncap;
        }
        void *row = rows + (size_t)count * rt->size;
        memset(row, 0, rt->size);
        struct db_reader rd = {db, st, err, HW_OK};
        rc = rt->decode(&rd, row);
        if (rc != HW_OK && rt->release)
            rt->release(row);
        if (rc == HW_OK)
            count++;
    }
    sqlite3_finalize(st);
    if (rc != HW_OK) {
        db_rows_free(rt, rows, count);
        return rc;
    }
    if (count == 0) {
        free(rows);
        rows = NULL;
    }
    *out = rows;
    *n = count;
    return HW_OK;
}

int db_select(struct db *db, const struct db_rowtype *rt, void **out, int *n, const char *sql,
              const char *what, struct hw_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = select_v(db, rt, out, n, sql, what, err, fmt, ap);
    va_end(ap);
    return rc;
}

int db_select_one(struct db *db, const struct db_rowtype *rt, void *row, const char *sql,
                  const char *what, struct hw_err *err, const char *fmt, ...)
{
    void *rows;
    int n;
    va_list ap;
    va_start(ap, fmt);
    int rc = select_v(db, rt, &rows, &n, sql, what, err, fmt, ap);
    va_end(ap);
    if (rc != HW_OK)
        return rc;
    if (n == 0)
        return hw_error(err, HW_ENOTFOUND, "%s: %s not found", db->path, what);
    memcpy(row, rows, rt->size);
    if (rt->release)
        for (int i = 1; i < n; i++)
            rt->release((char *)rows + (size_t)i * rt->size);
    free(rows);
    return HW_OK;
}

int64_t db_read_int64(struct db_reader *rd, int col)
{
    return rd->rc == HW_OK ? sqlite3_column_int64(rd->st, col) : 0;
}

int db_read_int(struct db_reader *rd, int col)
{
    return rd->rc == HW_OK ? sqlite3_column_int(rd->st, col) : 0;
}

double db_read_real(struct db_reader *rd, int col)
{
    if (rd->rc != HW_OK || sqlite3_column_type(rd->st, col) == SQLITE_NULL)
        return NAN;
    return sqlite3_column_double(rd->st, col);
}

void db_read_text(struct db_reader *rd, int col, char *buf, size_t size)
{
    buf[0] = '\0';
    if (rd->rc != HW_OK)
        return;
    const unsigned char *s = sqlite3_column_text(rd->st, col);
    size_t len = (size_t)sqlite3_column_bytes(rd->st, col);
    if (!s)
        return;
    if (len >= size) {
        rd->rc = hw_error(rd->err, HW_EDB, "%s: column %s holds %zu bytes, more than the %zu allowed",
                          rd->db->path, sqlite3_column_name(rd->st, col), len, size - 1);
        return;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
}

char *db_read_strdup(struct db_reader *rd, int col)
{
    const unsigned char *s = rd->rc == HW_OK ? sqlite3_column_text(rd->st, col) : NULL;
    if (!s)
        return NULL;
    size_t len = (size_t)sqlite3_column_bytes(rd->st, col);
    char *copy = malloc(len + 1);
    if (!copy) {
        rd->rc = hw_error(rd->err, HW_ENOMEM, "%s: out of memory reading %s", rd->db->path,
                          sqlite3_column_name(rd->st, col));
        return NULL;
    }
    memcpy(copy, s, len + 1);
    return copy;
}

int db_read_enum(struct db_reader *rd, int col, const char *const *names, int n)
{
    char text[32];
    db_read_text(rd, col, text, sizeof text);
    if (rd->rc != HW_OK)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], text) == 0)
            return i;
    rd->rc = hw_error(rd->err, HW_EDB, "%s: column %s: '%s' is not a known value", rd->db->path,
                      sqlite3_column_name(rd->st, col), text);
    return 0;
}

int db_check_text(struct db *db, const char *field, const char *s, size_t size, int required,
                  struct hw_err *err)
{
    if (!s)
        s = "";
    if (required && !s[0])
        return hw_error(err, HW_EINVAL, "%s: %s is empty", db->path, field);
    if (strlen(s) >= size)
        return hw_error(err, HW_EINVAL, "%s: %s '%.40s...' is longer than %zu characters",
                        db->path, field, s, size - 1);
    return HW_OK;
}

int db_blob_load(struct db *db, const char *sql, int64_t id, void **blob, size_t *len,
                 const char *what, struct hw_err *err)
{
    *blob = NULL;
    *len = 0;
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql, &st, what, err);
    if (rc == HW_OK)
        rc = db_bind(db, st, what, err, "l", id);
    if (rc == HW_OK) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE) {
            rc = hw_error(err, HW_ENOTFOUND, "%s: %s %lld not found", db->path, what,
                          (long long)id);
        } else if (s != SQLITE_ROW) {
            rc = db_sql_error(db, what, err);
        } else if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            const void *p = sqlite3_column_blob(st, 0);
            *blob = malloc(n ? n : 1);
            if (!*blob)
                rc = hw_error(err, HW_ENOMEM, "%s: %s: out of memory", db->path, what);
            else {
                if (n)
                    memcpy(*blob, p, n);
                *len = n;
            }
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- transactions -------------------------------------------------------- */

static int exec_sql(struct db *db, const char *sql, const char *what, struct hw_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->conn, sql, NULL, NULL, &msg) == SQLITE_OK)
        return HW_OK;
    int code = sqlite3_errcode(db->conn) & 0xff;
    hw_error(err, code == SQLITE_CONSTRAINT ? HW_EINVAL : HW_EDB, "%s: %s: %s", db->path, what,
             msg ? msg : sqlite3_errmsg(db->conn));
    sqlite3_free(msg);
    return err ? err->status : HW_EDB;
}

int db_begin(struct db *db, struct hw_err *err)
{
    return exec_sql(db, sql_begin, "begin transaction", err);
}

int db_commit(struct db *db, struct hw_err *err)
{
    int rc = exec_sql(db, sql_commit, "commit", err);
    if (rc != HW_OK)
        db_rollback(db);
    return rc;
}

void db_rollback(struct db *db)
{
    /* Only when a transaction is open: a failed COMMIT may already have
     * rolled back. */
    if (!sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, sql_rollback, NULL, NULL, NULL);
}

/* ---- opening and migrations ---------------------------------------------- */

static int read_user_version(struct db *db, int *version, struct hw_err *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql_user_version, &st, "read schema version", err);
    if (rc != HW_OK)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        rc = db_sql_error(db, "read schema version", err);
    sqlite3_finalize(st);
    return rc;
}

int db_migrate(struct db *db, const char *const *steps, int n, struct hw_err *err)
{
    for (;;) {
        int rc = db_begin(db, err);
        if (rc != HW_OK)
            return rc;
        int v = 0;
        rc = read_user_version(db, &v, err);
        if (rc == HW_OK && v >= n)
            return db_commit(db, err); /* up to date (maybe by another process) */
        char what[64], set[64];
        snprintf(what, sizeof what, "migration to schema version %d", v + 1);
        snprintf(set, sizeof set, fmt_set_user_version, v + 1);
        if (rc == HW_OK)
            rc = exec_sql(db, steps[v], what, err);
        if (rc == HW_OK)
            rc = exec_sql(db, set, what, err);
        if (rc == HW_OK)
            rc = db_commit(db, err);
        if (rc != HW_OK) {
            db_rollback(db);
            return rc;
        }
    }
}

/* Runs a PRAGMA, ignoring the row some of them return. */
static int pragma(struct db *db, const char *sql, struct hw_err *err)
{
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql, &st, sql, err);
    if (rc != HW_OK)
        return rc;
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = db_sql_error(db, sql, err);
    sqlite3_finalize(st);
    return rc;
}

/* Switching to WAL needs an exclusive lock, and SQLite does not call the busy
 * handler for it: a second process opening the same new file at the same
 * moment would fail with "database is locked". Retried for the busy timeout. */
static int set_wal(struct db *db, struct hw_err *err)
{
    for (int waited_ms = 0;; waited_ms += 10) {
        int rc = pragma(db, sql_wal, err);
        if (rc == HW_OK || (sqlite3_errcode(db->conn) & 0xff) != SQLITE_BUSY ||
            waited_ms >= DB_BUSY_TIMEOUT_MS)
            return rc;
        usleep(10000);
    }
}

/* Checks what the file holds before anything writes to it. */
static int check_version(struct db *db, int flags, struct hw_err *err)
{
    int v = 0;
    int rc = read_user_version(db, &v, err);
    if (rc != HW_OK) {
        if ((sqlite3_errcode(db->conn) & 0xff) == SQLITE_NOTADB)
            return hw_error(err, HW_EDB, "%s is not an SQLite database (%s)", db->path,
                            sqlite3_errmsg(db->conn));
        return rc;
    }
    if (v > DB_SCHEMA_VERSION)
        return hw_error(err, HW_EMISMATCH,
                        "%s has schema version %d, newer than this hwnas (%s) knows (%d); "
                        "use a newer hwnas or another --db file; the file was not changed",
                        db->path, v, HWNAS_VERSION, DB_SCHEMA_VERSION);
    if ((flags & DB_OPEN_READONLY) && v < DB_SCHEMA_VERSION)
        return hw_error(err, HW_EMISMATCH,
                        "%s has schema version %d and this hwnas needs %d; open it once "
                        "without read-only to upgrade",
                        db->path, v, DB_SCHEMA_VERSION);
    return HW_OK;
}

int db_open(struct db **out, const char *path, int flags, struct hw_err *err)
{
    *out = NULL;
    if (!path || !path[0])
        return hw_error(err, HW_EINVAL, "database path is empty");
    if (strlen(path) >= DB_PATH_MAX)
        return hw_error(err, HW_EINVAL, "database path '%.60s...' is too long", path);
    if (flags & DB_OPEN_READONLY)
        flags |= DB_OPEN_EXISTING;
    struct stat sb;
    if ((flags & DB_OPEN_EXISTING) && stat(path, &sb) != 0 && errno == ENOENT)
        return hw_error(err, HW_ENOTFOUND,
                        "no database at %s; run `hwnas profile` first (or pass --db FILE / "
                        "set HWNAS_DB)",
                        path);

    struct db *db = calloc(1, sizeof *db);
    if (!db)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", path);
    snprintf(db->path, sizeof db->path, "%s", path);
    db->claim_fd = -1;
    int oflags = (flags & DB_OPEN_READONLY) ? SQLITE_OPEN_READONLY
                                            : SQLITE_OPEN_READWRITE |
                                                  ((flags & DB_OPEN_EXISTING) ? 0 : SQLITE_OPEN_CREATE);
    int rc = HW_OK;
    if (sqlite3_open_v2(path, &db->conn, oflags, NULL) != SQLITE_OK) {
        rc = hw_error(err, HW_EDB, "cannot open database %s: %s", path,
                      db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, DB_BUSY_TIMEOUT_MS);
    rc = check_version(db, flags, err);
    if (rc == HW_OK)
        rc = pragma(db, sql_foreign_keys, err);
    if (rc == HW_OK && !(flags & DB_OPEN_READONLY)) {
        /* WAL lets a `runs list` read while a search writes. */
        rc = set_wal(db, err);
        if (rc == HW_OK)
            rc = pragma(db, sql_synchronous, err);
        if (rc == HW_OK)
            rc = db_migrate(db, db_migrations, db_n_migrations, err);
    }
    if (rc != HW_OK)
        goto fail;
    *out = db;
    return HW_OK;
fail:
    db_close(db);
    return rc;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    /* Every function finalizes what it prepares; a leftover statement is a bug. */
    assert(!db->conn || sqlite3_next_stmt(db->conn, NULL) == NULL);
    /* The claim's descriptor only after the connection is gone (struct db):
     * a connection that would not close keeps its locks and the claim too. */
    if (sqlite3_close(db->conn) == SQLITE_OK && db->claim_fd >= 0)
        close(db->claim_fd);
    free(db);
}
