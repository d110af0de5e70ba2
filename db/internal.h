/* Shared plumbing of the db/ sources (not for other modules): the handle, statement
 * helpers that bind every parameter or fail, row decoding into growing
 * arrays, transactions, enum <-> text. Every helper finalizes what it
 * prepares on every path. */
#ifndef HWNAS_DB_INTERNAL_H
#define HWNAS_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdarg.h>

#include "db/db.h"

struct db {
    sqlite3 *conn;
    char path[DB_PATH_MAX];
    /* db/claim.c: a descriptor of the file for the claim's lock, opened by
     * the first db_claim and closed only after the connection (closing any
     * descriptor of the file drops the process's POSIX locks, SQLite's
     * among them); -1 until then */
    int claim_fd;
};

/* For a transaction that creates run `id`: claims it (db_claim), then
 * commits, so no other process sees the row unclaimed; a failed commit gives
 * the claim back. On failure the caller rolls back. */
int db_claim_commit(struct db *db, enum db_claim_kind kind, int64_t id, const char *label,
                    struct hw_err *err);

/* Column default for timestamps (UTC ISO-8601). */
#define DB_NOW "(strftime('%Y-%m-%dT%H:%M:%SZ','now'))"

/* Schema migrations: db_migrations[i] takes user_version i to i + 1. */
extern const char *const db_migrations[];
extern const int db_n_migrations;

/* Applies steps[v..n) to a database at user_version v, each in its own
 * IMMEDIATE transaction that re-reads user_version first (another process may
 * have migrated meanwhile) and ends by setting user_version to its number.
 * A failing step is rolled back whole and reported naming the file and the
 * version it was migrating to. db_open runs it with db_migrations; it is
 * exposed for tests of the mechanism. */
int db_migrate(struct db *db, const char *const *steps, int n, struct hw_err *err);

/* Fills err from the connection's last error: "<path>: <what>: <sqlite msg>".
 * Constraint violations are HW_EINVAL (the input broke a rule), the rest
 * HW_EDB. Returns the status. */
int db_sql_error(struct db *db, const char *what, struct hw_err *err);

/* Prepares sql into *st (NULL on failure). */
int db_prepare(struct db *db, const char *sql, sqlite3_stmt **st, const char *what,
               struct hw_err *err);

/* Binds parameters 1..strlen(fmt) from the arguments, one per fmt char:
 *   'i' int, 'l' int64_t, 'd' double (NaN binds NULL),
 *   't' const char * (NULL binds NULL), 'b' const void *, size_t (NULL binds NULL).
 * Fails (HW_EDB) unless fmt covers exactly the statement's parameters. */
int db_bind(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err,
            const char *fmt, ...);
int db_bind_v(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err,
              const char *fmt, va_list ap);

/* Steps st expecting SQLITE_DONE, then resets it for reuse. */
int db_step_done(struct db *db, sqlite3_stmt *st, const char *what, struct hw_err *err);

/* Prepares, binds (fmt as db_bind), runs and finalizes a statement that
 * returns no rows. *changes (may be NULL) gets the number of rows changed. */
int db_write(struct db *db, const char *sql, const char *what, int *changes,
             struct hw_err *err, const char *fmt, ...);

/* As db_write for an UPDATE/DELETE of the row `id` of a `thing` ("run"):
 * HW_ENOTFOUND naming it when no row changed. */
int db_update(struct db *db, const char *sql, const char *what, const char *thing, int64_t id,
              struct hw_err *err, const char *fmt, ...);

/* Runs sql (one parameter ?1 = id) returning one integer, into *n. */
int db_select_int(struct db *db, const char *sql, int64_t id, int *n, const char *what,
                  struct hw_err *err);

/* Reads the columns of the current row of a statement. The first failure
 * sticks in rc (and err); later reads then do nothing and return zeros, so a
 * decoder is a plain list of reads ending in `return rd->rc`. */
struct db_reader {
    struct db *db;
    sqlite3_stmt *st;
    struct hw_err *err;
    int rc;
};

int64_t db_read_int64(struct db_reader *rd, int col);
int db_read_int(struct db_reader *rd, int col);
/* SQL NULL reads as NaN. */
double db_read_real(struct db_reader *rd, int col);
/* Text into a fixed buffer; a value that does not fit (a damaged or foreign
 * row) fails with HW_EDB naming the column. NULL reads as "". */
void db_read_text(struct db_reader *rd, int col, char *buf, size_t size);
/* Malloc'd copy of a text column (NULL for SQL NULL); caller frees. */
char *db_read_strdup(struct db_reader *rd, int col);
/* Index of the column's text in names[0..n); HW_EDB naming the column otherwise. */
int db_read_enum(struct db_reader *rd, int col, const char *const *names, int n);

/* Decodes the current row into row (row_size bytes, zeroed first). A row left
 * half-filled by a failure must still be safe to release. */
typedef int (*db_decode_fn)(struct db_reader *rd, void *row);
/* Frees the owned members of one row. NULL when rows own nothing. */
typedef void (*db_release_fn)(void *row);

struct db_rowtype {
    size_t size;
    db_decode_fn decode;
    db_release_fn release;
};

/* Runs sql with parameters (fmt as db_bind) and decodes every row into a
 * malloc'd array *out of *n rows (NULL when empty). On failure nothing is
 * left allocated. */
int db_select(struct db *db, const struct db_rowtype *rt, void **out, int *n, const char *sql,
              const char *what, struct hw_err *err, const char *fmt, ...);
/* As db_select, expecting at most one row, decoded into row. HW_ENOTFOUND
 * (err names what) when there is none. */
int db_select_one(struct db *db, const struct db_rowtype *rt, void *row, const char *sql,
                  const char *what, struct hw_err *err, const char *fmt, ...);
/* Frees an array from db_select. */
void db_rows_free(const struct db_rowtype *rt, void *rows, int n);

/* Checks a bounded text argument before writing: required ones non-empty,
 * all shorter than size (NULL counts as ""). HW_EINVAL names the field. */
int db_check_text(struct db *db, const char *field, const char *s, size_t size, int required,
                  struct hw_err *err);

/* BEGIN IMMEDIATE (takes the write lock up front, so the busy timeout
 * applies instead of a deadlock on upgrade), COMMIT, ROLLBACK. Rollback keeps
 * the error already in err. */
int db_begin(struct db *db, struct hw_err *err);
int db_commit(struct db *db, struct hw_err *err);
void db_rollback(struct db *db);

/* Text of enum db_run_status (runs and NetAdapt runs share it). */
extern const char *const db_run_status_names[4];

/* Runs sql (a SELECT of one blob column with parameter ?1 = id) and copies
 * the blob into *blob (malloc'd, caller frees; NULL with *len 0 for SQL NULL).
 * HW_ENOTFOUND naming `what` and id when there is no row. */
int db_blob_load(struct db *db, const char *sql, int64_t id, void **blob, size_t *len,
                 const char *what, struct hw_err *err);

#endif
