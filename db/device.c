/* Devices (fingerprints), their latency table entries and LUT validations. */
#include "db/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- devices ------------------------------------------------------------ */

#define DEVICE_COLS "id, hash, cpu, threads, backend, blas_core, compiler, version, created_at"

static const char sql_device_insert[] =
    "INSERT INTO devices (hash, cpu, threads, backend, blas_core, compiler, version) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (hash) DO NOTHING";
static const char sql_device_by_hash[] = "SELECT " DEVICE_COLS " FROM devices WHERE hash = ?1";
static const char sql_device_by_id[] = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?1";
static const char sql_device_by_prefix[] =
    "SELECT " DEVICE_COLS " FROM devices WHERE substr(hash, 1, length(?1)) = ?1 "
    "ORDER BY id LIMIT 2";
static const char sql_device_list[] = "SELECT " DEVICE_COLS " FROM devices ORDER BY id";

static int decode_device(struct db_reader *rd, void *row)
{
    struct db_device *d = row;
    d->id = db_read_int64(rd, 0);
    db_read_text(rd, 1, d->hash, sizeof d->hash);
    db_read_text(rd, 2, d->cpu, sizeof d->cpu);
    d->threads = db_read_int(rd, 3);
    db_read_text(rd, 4, d->backend, sizeof d->backend);
    db_read_text(rd, 5, d->blas_core, sizeof d->blas_core);
    db_read_text(rd, 6, d->compiler, sizeof d->compiler);
    db_read_text(rd, 7, d->version, sizeof d->version);
    db_read_text(rd, 8, d->created_at, sizeof d->created_at);
    return rd->rc;
}

static const struct db_rowtype device_row = {sizeof(struct db_device), decode_device, NULL};

static int check_device(struct db *db, const struct db_device *d, struct hw_err *err)
{
    /* Fields are arrays of the same sizes as the columns' limits: refuse
     * unterminated ones rather than read past them. */
    if (!memchr(d->hash, 0, sizeof d->hash) || !memchr(d->cpu, 0, sizeof d->cpu) ||
        !memchr(d->backend, 0, sizeof d->backend) ||
        !memchr(d->blas_core, 0, sizeof d->blas_core) ||
        !memchr(d->compiler, 0, sizeof d->compiler) || !memchr(d->version, 0, sizeof d->version))
        return hw_error(err, HW_EINVAL, "%s: device: a text field is not terminated", db->path);
    if (!d->hash[0])
        return hw_error(err, HW_EINVAL, "%s: device hash is empty", db->path);
    if (d->threads < 1)
        return hw_error(err, HW_EINVAL, "%s: device %s: threads %d is not >= 1", db->path,
                        d->hash, d->threads);
    return HW_OK;
}

/* Names the first field in which a stored device differs from d, or NULL. */
static const char *device_diff(const struct db_device *a, const struct db_device *b)
{
    if (strcmp(a->cpu, b->cpu) != 0)
        return "cpu";
    if (a->threads != b->threads)
        return "threads";
    if (strcmp(a->backend, b->backend) != 0)
        return "backend";
    if (strcmp(a->blas_core, b->blas_core) != 0)
        return "blas core";
    if (strcmp(a->compiler, b->compiler) != 0)
        return "compiler";
    if (strcmp(a->version, b->version) != 0)
        return "hwnas version";
    return NULL;
}

int db_device_get_or_create(struct db *db, const struct db_device *d, int64_t *id,
                            struct hw_err *err)
{
    int rc = check_device(db, d, err);
    if (rc != HW_OK)
        return rc;
    rc = db_begin(db, err);
    if (rc != HW_OK)
        return rc;
    struct db_device stored;
    rc = db_write(db, sql_device_insert, "add device", NULL, err, "ttitttt", d->hash, d->cpu,
                  d->threads, d->backend, d->blas_core, d->compiler, d->version);
    if (rc == HW_OK)
        rc = db_select_one(db, &device_row, &stored, sql_device_by_hash, "device", err, "t",
                           d->hash);
    if (rc == HW_OK) {
        const char *field = device_diff(&stored, d);
        if (field)
            rc = hw_error(err, HW_EMISMATCH,
                          "%s: device %s is stored with another %s; the database row is "
                          "damaged or two fingerprints share a hash",
                          db->path, d->hash, field);
    }
    if (rc == HW_OK)
        rc = db_commit(db, err);
    if (rc != HW_OK) {
        db_rollback(db);
        return rc;
    }
    *id = stored.id;
    return HW_OK;
}

int db_device_find(struct db *db, const char *hash, struct db_device *out, struct hw_err *err)
{
    char what[96];
    snprintf(what, sizeof what, "device %.64s", hash);
    return db_select_one(db, &device_row, out, sql_device_by_hash, what, err, "t", hash);
}

int db_device_get(struct db *db, int64_t id, struct db_device *out, struct hw_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "device id %lld", (long long)id);
    return db_select_one(db, &device_row, out, sql_device_by_id, what, err, "l", id);
}

int db_device_lookup(struct db *db, const char *text, struct db_device *out,
                     struct hw_err *err)
{
    char *end;
    long long id = strtoll(text, &end, 10);
    if (text[0] && !*end && id > 0 && db_device_get(db, id, out, err) == HW_OK)
        return HW_OK;
    if (db_device_find(db, text, out, err) == HW_OK)
        return HW_OK;
    struct db_device *rows = NULL;
    int n = 0;
    int rc = text[0] ? db_select(db, &device_row, (void **)&rows, &n, sql_device_by_prefix,
                                 "look up device", err, "t", text)
                     : HW_OK;
    if (rc == HW_OK && n == 1)
        *out = rows[0];
    else if (rc == HW_OK && n > 1)
        rc = hw_error(err, HW_EINVAL, "%s: device '%.64s' is ambiguous: give more of its hash",
                      db->path, text);
    else if (rc == HW_OK)
        rc = hw_error(err, HW_ENOTFOUND,
                      "%s: no device with id or hash '%.64s'; `hwnas lut list` shows them",
                      db->path, text);
    free(rows);
    return rc;
}

int db_device_list(struct db *db, struct db_device **out, int *n, struct hw_err *err)
{
    return db_select(db, &device_row, (void **)out, n, sql_device_list, "list devices", err, "");
}

/* ---- latency table entries ------------------------------------------------- */

#define LUT_COLS "key, count, mean_us, median_us, var_us, min_us, max_us, created_at"

static const char sql_lut_put[] =
    "INSERT INTO lut_entries (device_id, key, count, mean_us, median_us, var_us, min_us, max_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (device_id, key) DO UPDATE SET count = excluded.count, "
    "mean_us = excluded.mean_us, median_us = excluded.median_us, var_us = excluded.var_us, "
    "min_us = excluded.min_us, max_us = excluded.max_us, created_at = " DB_NOW;
static const char sql_lut_get[] =
    "SELECT " LUT_COLS " FROM lut_entries WHERE device_id = ?1 AND key = ?2";
static const char sql_lut_count[] = "SELECT count(*) FROM lut_entries WHERE device_id = ?1";
static const char sql_lut_all[] =
    "SELECT " LUT_COLS " FROM lut_entries WHERE device_id = ?1 ORDER BY key";
static const char sql_lut_clear[] = "DELETE FROM lut_entries WHERE device_id = ?1";

static int decode_lut(struct db_reader *rd, void *row)
{
    struct db_lut_entry *e = row;
    db_read_text(rd, 0, e->key, sizeof e->key);
    e->count = db_read_int(rd, 1);
    e->mean_us = db_read_real(rd, 2);
    e->median_us = db_read_real(rd, 3);
    e->var_us = db_read_real(rd, 4);
    e->min_us = db_read_real(rd, 5);
    e->max_us = db_read_real(rd, 6);
    db_read_text(rd, 7, e->created_at, sizeof e->created_at);
    return rd->rc;
}

static const struct db_rowtype lut_row = {sizeof(struct db_lut_entry), decode_lut, NULL};

static int ok_us(double v)
{
    return isfinite(v) && v >= 0;
}

/* Validates entry e (index i of a batch, -1 alone). */
static int check_lut_entry(struct db *db, const struct db_lut_entry *e, int i,
                           struct hw_err *err)
{
    char where[32] = "";
    if (i >= 0)
        snprintf(where, sizeof where, "entry %d: ", i);
    if (!memchr(e->key, 0, sizeof e->key) || !e->key[0])
        return hw_error(err, HW_EINVAL, "%s: %slatency key is empty or too long", db->path,
                        where);
    const char *bad = NULL;
    if (e->count < 1)
        bad = "count < 1";
    else if (!ok_us(e->mean_us) || !ok_us(e->median_us) || !ok_us(e->var_us) ||
             !ok_us(e->min_us) || !ok_us(e->max_us))
        bad = "a figure is negative or not finite";
    else if (e->min_us > e->median_us || e->median_us > e->max_us || e->min_us > e->mean_us ||
             e->mean_us > e->max_us)
        bad = "figures are not ordered min <= mean, median <= max";
    if (bad)
        return hw_error(err, HW_EINVAL, "%s: %slatency entry %s: %s", db->path, where, e->key,
                        bad);
    return HW_OK;
}

/* Validates and writes one entry through the prepared upsert st. */
static int lut_put_one(struct db *db, sqlite3_stmt *st, int64_t device_id,
                       const struct db_lut_entry *e, int i, struct hw_err *err)
{
    int rc = check_lut_entry(db, e, i, err);
    if (rc != HW_OK)
        return rc;
    char what[DB_KEY_MAX + 64];
    snprintf(what, sizeof what, "put latency entry %s of device %lld", e->key,
             (long long)device_id);
    rc = db_bind(db, st, what, err, "ltiddddd", device_id, e->key, e->count, e->mean_us,
                 e->median_us, e->var_us, e->min_us, e->max_us);
    if (rc == HW_OK)
        rc = db_step_done(db, st, what, err);
    return rc;
}

int db_lut_put_many(struct db *db, int64_t device_id, const struct db_lut_entry *e, int n,
                    struct hw_err *err)
{
    if (n < 0)
        return hw_error(err, HW_EINVAL, "%s: negative entry count %d", db->path, n);
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql_lut_put, &st, "put latency entries", err);
    if (rc != HW_OK)
        return rc;
    rc = db_begin(db, err);
    for (int i = 0; rc == HW_OK && i < n; i++)
        rc = lut_put_one(db, st, device_id, &e[i], n > 1 ? i : -1, err);
    sqlite3_finalize(st);
    if (rc == HW_OK)
        rc = db_commit(db, err);
    if (rc != HW_OK)
        db_rollback(db);
    return rc;
}

int db_lut_put(struct db *db, int64_t device_id, const struct db_lut_entry *e,
               struct hw_err *err)
{
    return db_lut_put_many(db, device_id, e, 1, err);
}

int db_lut_get(struct db *db, int64_t device_id, const char *key, struct db_lut_entry *out,
               struct hw_err *err)
{
    char what[DB_KEY_MAX + 64];
    snprintf(what, sizeof what, "latency entry %s of device %lld", key, (long long)device_id);
    return db_select_one(db, &lut_row, out, sql_lut_get, what, err, "lt", device_id, key);
}

int db_lut_count(struct db *db, int64_t device_id, int *n, struct hw_err *err)
{
    return db_select_int(db, sql_lut_count, device_id, n, "count latency entries", err);
}

int db_lut_iterate(struct db *db, int64_t device_id,
                   int (*fn)(void *ctx, const struct db_lut_entry *e), void *ctx,
                   struct hw_err *err)
{
    /* Streams rows (a table of a big space has thousands of entries) rather
     * than going through db_select's array. */
    sqlite3_stmt *st;
    int rc = db_prepare(db, sql_lut_all, &st, "read latency table", err);
    if (rc == HW_OK)
        rc = db_bind(db, st, "read latency table", err, "l", device_id);
    while (rc == HW_OK) {
        int s = sqlite3_step(st);
        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            rc = db_sql_error(db, "read latency table", err);
            break;
        }
        struct db_lut_entry e;
        struct db_reader rd = {db, st, err, HW_OK};
        rc = decode_lut(&rd, &e);
        if (rc == HW_OK)
            rc = fn(ctx, &e);
    }
    sqlite3_finalize(st);
    return rc;
}

int db_lut_clear(struct db *db, int64_t device_id, struct hw_err *err)
{
    /* A single statement is its own transaction. */
    return db_write(db, sql_lut_clear, "clear latency table", NULL, err, "l", device_id);
}

/* ---- calibrations ----------------------------------------------------------- */

static const char sql_calibration_put[] =
    "INSERT OR REPLACE INTO lut_calibrations (device_id, input, samples, alpha_us, beta, "
    "gamma_us, rmspe_sum, rmspe_fit, delta_us, stat) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char sql_calibration_list[] =
    "SELECT device_id, input, samples, alpha_us, beta, gamma_us, rmspe_sum, rmspe_fit, "
    "created_at, delta_us, stat FROM lut_calibrations WHERE device_id = ?1 ORDER BY input";

static int decode_calibration(struct db_reader *rd, void *row)
{
    struct db_calibration *c = row;
    c->device_id = db_read_int64(rd, 0);
    db_read_text(rd, 1, c->input, sizeof c->input);
    c->samples = db_read_int(rd, 2);
    c->alpha_us = db_read_real(rd, 3);
    c->beta = db_read_real(rd, 4);
    c->gamma_us = db_read_real(rd, 5);
    c->rmspe_sum = db_read_real(rd, 6);
    c->rmspe_fit = db_read_real(rd, 7);
    db_read_text(rd, 8, c->created_at, sizeof c->created_at);
    c->delta_us = db_read_real(rd, 9);
    db_read_text(rd, 10, c->stat, sizeof c->stat);
    return rd->rc;
}

static const struct db_rowtype calibration_row = {sizeof(struct db_calibration),
                                                  decode_calibration, NULL};

int db_calibration_put(struct db *db, const struct db_calibration *c, struct hw_err *err)
{
    int rc = db_check_text(db, "calibration input", c->input, sizeof c->input, 1, err);
    if (rc == HW_OK && c->samples < 1)
        rc = hw_error(err, HW_EINVAL, "%s: calibration samples %d is not >= 1", db->path,
                      c->samples);
    if (rc == HW_OK && !(isfinite(c->alpha_us) && isfinite(c->beta) && isfinite(c->gamma_us) &&
                         isfinite(c->delta_us)))
        rc = hw_error(err, HW_EINVAL, "%s: calibration of %s: alpha %g, beta %g, gamma %g, "
                      "delta %g are not all finite", db->path, c->input, c->alpha_us, c->beta,
                      c->gamma_us, c->delta_us);
    if (rc == HW_OK)
    if (rc == HW_OK && strcmp(c->stat, "min") != 0 && strcmp(c->stat, "median") != 0)
        rc = hw_error(err, HW_EINVAL, "%s: calibration of %s: statistic '%s' is not min or median",
                      db->path, c->input, c->stat);
    if (rc == HW_OK)
        rc = db_write(db, sql_calibration_put, "store calibration", NULL, err, "ltiddddddt",
                      c->device_id, c->input, c->samples, c->alpha_us, c->beta, c->gamma_us,
                      c->rmspe_sum, c->rmspe_fit, c->delta_us, c->stat);
    return rc;
}

int db_calibration_list(struct db *db, int64_t device_id, struct db_calibration **out, int *n,
                        struct hw_err *err)
{
    return db_select(db, &calibration_row, (void **)out, n, sql_calibration_list,
                     "list calibrations", err, "l", device_id);
}

/* ---- validations ------------------------------------------------------------ */

#define VALIDATION_COLS \
    "id, device_id, space, samples, rmse_us, rmspe, within5, within10, details, created_at"

static const char sql_validation_add[] =
    "INSERT INTO validations (device_id, space, samples, rmse_us, rmspe, within5, within10, "
    "details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char sql_validation_list[] =
    "SELECT " VALIDATION_COLS " FROM validations WHERE ?1 = 0 OR device_id = ?1 "
    "ORDER BY id DESC";

static int decode_validation(struct db_reader *rd, void *row)
{
    struct db_validation *v = row;
    v->id = db_read_int64(rd, 0);
    v->device_id = db_read_int64(rd, 1);
    db_read_text(rd, 2, v->space, sizeof v->space);
    v->samples = db_read_int(rd, 3);
    v->rmse_us = db_read_real(rd, 4);
    v->rmspe = db_read_real(rd, 5);
    v->within5 = db_read_real(rd, 6);
    v->within10 = db_read_real(rd, 7);
    v->details_json = db_read_strdup(rd, 8);
    db_read_text(rd, 9, v->created_at, sizeof v->created_at);
    return rd->rc;
}

void db_validation_release(struct db_validation *v)
{
    free(v->details_json);
    v->details_json = NULL;
}

static void release_validation(void *row)
{
    db_validation_release(row);
}

static const struct db_rowtype validation_row = {sizeof(struct db_validation),
                                                 decode_validation, release_validation};

int db_validation_add(struct db *db, const struct db_validation *v, int64_t *id,
                      struct hw_err *err)
{
    int rc = db_check_text(db, "validation space", v->space, sizeof v->space, 1, err);
    if (rc == HW_OK && v->samples < 1)
        rc = hw_error(err, HW_EINVAL, "%s: validation samples %d is not >= 1", db->path,
                      v->samples);
    if (rc == HW_OK)
        rc = db_write(db, sql_validation_add, "add validation", NULL, err, "ltiddddt",
                      v->device_id, v->space, v->samples, v->rmse_us, v->rmspe, v->within5,
                      v->within10, v->details_json);
    if (rc == HW_OK && id)
        *id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

int db_validation_list(struct db *db, int64_t device_id, struct db_validation **out, int *n,
                       struct hw_err *err)
{
    return db_select(db, &validation_row, (void **)out, n, sql_validation_list,
                     "list validations", err, "l", device_id);
}

void db_validation_list_free(struct db_validation *v, int n)
{
    db_rows_free(&validation_row, v, n);
}
