/* NetAdapt runs and the proposals of each iteration. */
#include "db/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"expand", "bottleneck"};

const char *db_na_kind_name(enum db_na_kind k)
{
    return (unsigned)k < 2 ? kind_names[k] : "?";
}

#define NA_COLS                                                                         \
    "id, source_model, current_model, target_ms, delta, initial_ms, current_ms, "      \
    "iterations, device_id, config, status, created_at, updated_at"

static const char sql_na_insert[] =
    "INSERT INTO netadapt_runs (source_model, current_model, target_ms, delta, initial_ms, "
    "current_ms, device_id, config, status) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULLIF(?6, 0), ?7, 'running')";
static const char sql_na_by_id[] = "SELECT " NA_COLS " FROM netadapt_runs WHERE id = ?1";
static const char sql_na_list[] = "SELECT " NA_COLS " FROM netadapt_runs ORDER BY id";
static const char sql_na_status[] =
    "UPDATE netadapt_runs SET status = ?2, updated_at = " DB_NOW " WHERE id = ?1";
/* Advances only from the expected iteration, so a stale resumer cannot
 * record the same iteration twice. */
static const char sql_na_advance[] =
    "UPDATE netadapt_runs SET iterations = iterations + 1, current_model = ?3, "
    "current_ms = ?4, state = COALESCE(?5, state), updated_at = " DB_NOW
    " WHERE id = ?1 AND iterations = ?2";
static const char sql_na_state[] = "SELECT state FROM netadapt_runs WHERE id = ?1";

#define STEP_COLS                                                                       \
    "id, netadapt_id, iteration, proposal, kind, layers, channels_before, "            \
    "channels_after, latency_ms, val_acc, chosen, created_at, val_loss"

static const char sql_step_insert[] =
    "INSERT INTO netadapt_steps (netadapt_id, iteration, proposal, kind, layers, "
    "channels_before, channels_after, latency_ms, val_acc, chosen, val_loss) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char sql_step_list[] =
    "SELECT " STEP_COLS " FROM netadapt_steps WHERE netadapt_id = ?1 "
    "ORDER BY iteration, proposal";

static int decode_na(struct db_reader *rd, void *row)
{
    struct db_netadapt *r = row;
    r->id = db_read_int64(rd, 0);
    db_read_text(rd, 1, r->source_model, sizeof r->source_model);
    db_read_text(rd, 2, r->current_model, sizeof r->current_model);
    r->target_ms = db_read_real(rd, 3);
    r->delta = db_read_real(rd, 4);
    r->initial_ms = db_read_real(rd, 5);
    r->current_ms = db_read_real(rd, 6);
    r->iterations = db_read_int(rd, 7);
    r->device_id = db_read_int64(rd, 8);
    r->config_json = db_read_strdup(rd, 9);
    r->status = (enum db_run_status)db_read_enum(rd, 10, db_run_status_names, 4);
    db_read_text(rd, 11, r->created_at, sizeof r->created_at);
    db_read_text(rd, 12, r->updated_at, sizeof r->updated_at);
    return rd->rc;
}

void db_netadapt_release(struct db_netadapt *r)
{
    free(r->config_json);
    r->config_json = NULL;
}

static void release_na(void *row)
{
    db_netadapt_release(row);
}

static const struct db_rowtype na_row = {sizeof(struct db_netadapt), decode_na, release_na};

static int decode_step(struct db_reader *rd, void *row)
{
    struct db_na_step *p = row;
    p->id = db_read_int64(rd, 0);
    p->netadapt_id = db_read_int64(rd, 1);
    p->iteration = db_read_int(rd, 2);
    p->proposal = db_read_int(rd, 3);
    p->kind = (enum db_na_kind)db_read_enum(rd, 4, kind_names, 2);
    db_read_text(rd, 5, p->layers, sizeof p->layers);
    p->channels_before = db_read_int(rd, 6);
    p->channels_after = db_read_int(rd, 7);
    p->latency_ms = db_read_real(rd, 8);
    p->val_acc = db_read_real(rd, 9);
    p->chosen = db_read_int(rd, 10);
    db_read_text(rd, 11, p->created_at, sizeof p->created_at);
    p->val_loss = db_read_real(rd, 12);
    return rd->rc;
}

static const struct db_rowtype step_row = {sizeof(struct db_na_step), decode_step, NULL};

int db_netadapt_create(struct db *db, struct db_netadapt *r, struct hw_err *err)
{
    int rc = db_check_text(db, "NetAdapt source model", r->source_model,
                           sizeof r->source_model, 1, err);
    if (rc == HW_OK)
        rc = db_check_text(db, "NetAdapt current model", r->current_model,
                           sizeof r->current_model, 0, err);
    if (rc != HW_OK)
        return rc;
    if (!isfinite(r->target_ms) || r->target_ms <= 0 || !isfinite(r->initial_ms) ||
        r->initial_ms <= 0 || !isfinite(r->delta) || r->delta <= 0 || r->delta >= 1)
        return hw_error(err, HW_EINVAL,
                        "%s: NetAdapt target %g ms, initial %g ms, delta %g: need targets > 0 "
                        "and 0 < delta < 1",
                        db->path, r->target_ms, r->initial_ms, r->delta);
    if ((rc = db_begin(db, err)) != HW_OK)
        return rc;
    rc = db_write(db, sql_na_insert, "create NetAdapt run", NULL, err, "ttdddlt",
                  r->source_model, r->current_model, r->target_ms, r->delta, r->initial_ms,
                  r->device_id, r->config_json);
    int64_t id = sqlite3_last_insert_rowid(db->conn);
    char label[32];
    snprintf(label, sizeof label, "%lld", (long long)id);
    /* read back and claimed before the row is visible to any other process;
     * a failure leaves neither row nor claim */
    struct db_netadapt stored;
    memset(&stored, 0, sizeof stored);
    if (rc == HW_OK)
        rc = db_netadapt_get(db, id, &stored, err);
    if (rc == HW_OK)
        rc = db_claim_commit(db, DB_CLAIM_NETADAPT, id, label, err);
    if (rc != HW_OK) {
        db_rollback(db);
        db_netadapt_release(&stored);
        return rc;
    }
    r->id = id;
    r->iterations = stored.iterations;
    r->current_ms = stored.current_ms;
    r->status = stored.status;
    memcpy(r->created_at, stored.created_at, sizeof r->created_at);
    memcpy(r->updated_at, stored.updated_at, sizeof r->updated_at);
    db_netadapt_release(&stored);
    return HW_OK;
}

int db_netadapt_get(struct db *db, int64_t id, struct db_netadapt *out, struct hw_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "NetAdapt run %lld", (long long)id);
    return db_select_one(db, &na_row, out, sql_na_by_id, what, err, "l", id);
}

int db_netadapt_list(struct db *db, struct db_netadapt **out, int *n, struct hw_err *err)
{
    return db_select(db, &na_row, (void **)out, n, sql_na_list, "list NetAdapt runs", err, "");
}

void db_netadapt_list_free(struct db_netadapt *r, int n)
{
    db_rows_free(&na_row, r, n);
}

int db_netadapt_set_status(struct db *db, int64_t id, enum db_run_status s, struct hw_err *err)
{
    if ((unsigned)s >= 4)
        return hw_error(err, HW_EINVAL, "%s: NetAdapt status %d is not valid", db->path, (int)s);
    return db_update(db, sql_na_status, "set NetAdapt status", "NetAdapt run", id, err, "lt", id,
                     db_run_status_names[s]);
}

int db_netadapt_finish(struct db *db, int64_t id, struct db_model *m, struct hw_err *err)
{
    int rc = db_begin(db, err);
    if (rc == HW_OK)
        rc = db_model_add(db, m, err);
    if (rc == HW_OK)
        rc = db_netadapt_set_status(db, id, DB_RUN_DONE, err);
    if (rc == HW_OK)
        rc = db_commit(db, err);
    if (rc != HW_OK)
        db_rollback(db);
    return rc;
}

static int check_steps(struct db *db, int64_t id, int iteration, const struct db_na_step *steps,
                       int n, struct hw_err *err)
{
    int chosen = 0;
    for (int i = 0; i < n; i++) {
        const struct db_na_step *p = &steps[i];
        const char *bad = NULL;
        if (p->netadapt_id != id || p->iteration != iteration)
            bad = "belongs to another run or iteration";
        else if ((unsigned)p->kind >= 2)
            bad = "has an unknown kind";
        else if (!memchr(p->layers, 0, sizeof p->layers) || !p->layers[0])
            bad = "has an empty or unterminated layer list";
        else if (p->channels_before < 1 || p->channels_after < 1 ||
                 p->channels_after > p->channels_before)
            bad = "has channels that do not shrink";
        else if (p->chosen != 0 && p->chosen != 1)
            bad = "has chosen not 0/1";
        if (bad)
            return hw_error(err, HW_EINVAL, "%s: NetAdapt run %lld iteration %d proposal %d %s",
                            db->path, (long long)id, iteration, p->proposal, bad);
        chosen += p->chosen;
    }
    if (chosen > 1)
        return hw_error(err, HW_EINVAL, "%s: NetAdapt run %lld iteration %d: %d proposals chosen",
                        db->path, (long long)id, iteration, chosen);
    return HW_OK;
}

int db_netadapt_add_iteration(struct db *db, int64_t id, int iteration,
                              const struct db_na_step *steps, int n,
                              const char *current_model, double current_ms,
                              const void *state, size_t len, struct hw_err *err)
{
    int rc = check_steps(db, id, iteration, steps, n, err);
    if (rc == HW_OK)
        rc = db_check_text(db, "NetAdapt current model", current_model, DB_PATH_MAX, 1, err);
    if (rc != HW_OK)
        return rc;
    char what[96];
    snprintf(what, sizeof what, "record NetAdapt run %lld iteration %d", (long long)id,
             iteration);
    sqlite3_stmt *st;
    rc = db_prepare(db, sql_step_insert, &st, what, err);
    if (rc != HW_OK)
        return rc;
    rc = db_begin(db, err);
    for (int i = 0; rc == HW_OK && i < n; i++) {
        const struct db_na_step *p = &steps[i];
        rc = db_bind(db, st, what, err, "liittiiddid", id, iteration, p->proposal,
                     kind_names[p->kind], p->layers, p->channels_before, p->channels_after,
                     p->latency_ms, p->val_acc, p->chosen, p->val_loss);
        if (rc == HW_OK)
            rc = db_step_done(db, st, what, err);
    }
    sqlite3_finalize(st);
    if (rc == HW_OK) {
        rc = db_update(db, sql_na_advance, what, "NetAdapt run at that iteration", id, err,
                       "litdb", id, iteration, current_model, current_ms, state, len);
    }
    if (rc == HW_OK)
        rc = db_commit(db, err);
    if (rc != HW_OK)
        db_rollback(db);
    return rc;
}

int db_netadapt_steps(struct db *db, int64_t id, struct db_na_step **out, int *n,
                      struct hw_err *err)
{
    return db_select(db, &step_row, (void **)out, n, sql_step_list, "list NetAdapt steps", err,
                     "l", id);
}

int db_netadapt_load_state(struct db *db, int64_t id, void **blob, size_t *len,
                           struct hw_err *err)
{
    return db_blob_load(db, sql_na_state, id, blob, len, "NetAdapt run", err);
}
