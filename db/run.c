/* Search runs, their candidates (with the controller state saved alongside)
 * and trained models. */
#include "db/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const db_run_status_names[4] = {"running", "stopped", "done", "failed"};
static const char *const cand_status_names[] = {"ok", "failed", "duplicate"};
static const char *const model_source_names[] = {"train", "candidate", "netadapt"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *db_run_status_name(enum db_run_status s)
{
    return (unsigned)s < 4 ? db_run_status_names[s] : "?";
}

const char *db_cand_status_name(enum db_cand_status s)
{
    return (unsigned)s < (unsigned)N_OF(cand_status_names) ? cand_status_names[s] : "?";
}

const char *db_model_source_name(enum db_model_source s)
{
    return (unsigned)s < (unsigned)N_OF(model_source_names) ? model_source_names[s] : "?";
}

/* ---- runs ------------------------------------------------------------------ */

#define RUN_COLS                                                                         \
    "id, name, space, controller, target_ms, w_alpha, w_beta, seed, trials_max, "       \
    "time_budget_s, device_id, config, status, created_at, updated_at"

static const char sql_run_insert[] =
    "INSERT INTO runs (name, space, controller, target_ms, w_alpha, w_beta, seed, trials_max, "
    "time_budget_s, device_id, config, status) VALUES ("
    "COALESCE(NULLIF(?1, ''), 'run-' || (SELECT COALESCE(MAX(id), 0) + 1 FROM runs)), "
    "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULLIF(?10, 0), ?11, 'running')";
static const char sql_run_by_id[] = "SELECT " RUN_COLS " FROM runs WHERE id = ?1";
static const char sql_run_by_name[] = "SELECT " RUN_COLS " FROM runs WHERE name = ?1";
static const char sql_run_list[] = "SELECT " RUN_COLS " FROM runs ORDER BY id";
static const char sql_run_status[] =
    "UPDATE runs SET status = ?2, updated_at = " DB_NOW " WHERE id = ?1";
static const char sql_run_state[] =
    "UPDATE runs SET state = ?2, updated_at = " DB_NOW " WHERE id = ?1";
static const char sql_run_touch[] = "UPDATE runs SET updated_at = " DB_NOW " WHERE id = ?1";
static const char sql_run_load_state[] = "SELECT state FROM runs WHERE id = ?1";

static int decode_run(struct db_reader *rd, void *row)
{
    struct db_run *r = row;
    r->id = db_read_int64(rd, 0);
    db_read_text(rd, 1, r->name, sizeof r->name);
    db_read_text(rd, 2, r->space, sizeof r->space);
    db_read_text(rd, 3, r->controller, sizeof r->controller);
    r->target_ms = db_read_real(rd, 4);
    r->w_alpha = db_read_real(rd, 5);
    r->w_beta = db_read_real(rd, 6);
    r->seed = (uint64_t)db_read_int64(rd, 7); /* stored as its two's complement */
    r->trials_max = db_read_int(rd, 8);
    r->time_budget_s = db_read_real(rd, 9);
    r->device_id = db_read_int64(rd, 10); /* NULL reads as 0 */
    r->config_json = db_read_strdup(rd, 11);
    r->status = (enum db_run_status)db_read_enum(rd, 12, db_run_status_names, 4);
    db_read_text(rd, 13, r->created_at, sizeof r->created_at);
    db_read_text(rd, 14, r->updated_at, sizeof r->updated_at);
    return rd->rc;
}

void db_run_release(struct db_run *r)
{
    free(r->config_json);
    r->config_json = NULL;
}

static void release_run(void *row)
{
    db_run_release(row);
}

static const struct db_rowtype run_row = {sizeof(struct db_run), decode_run, release_run};

static int check_run(struct db *db, const struct db_run *r, struct hw_err *err)
{
    int rc = db_check_text(db, "run name", r->name, sizeof r->name, 0, err);
    if (rc == HW_OK)
        rc = db_check_text(db, "run space", r->space, sizeof r->space, 1, err);
    if (rc == HW_OK)
        rc = db_check_text(db, "run controller", r->controller, sizeof r->controller, 1, err);
    if (rc != HW_OK)
        return rc;
    if (!isfinite(r->target_ms) || r->target_ms <= 0)
        return hw_error(err, HW_EINVAL, "%s: run target_ms %g is not > 0", db->path,
                        r->target_ms);
    if (!isfinite(r->w_alpha) || !isfinite(r->w_beta))
        return hw_error(err, HW_EINVAL, "%s: run reward exponents %g, %g are not finite",
                        db->path, r->w_alpha, r->w_beta);
    if (r->trials_max < 0 || !isfinite(r->time_budget_s) || r->time_budget_s < 0)
        return hw_error(err, HW_EINVAL, "%s: run limits (%d trials, %g s) are negative",
                        db->path, r->trials_max, r->time_budget_s);
    return HW_OK;
}

int db_run_create(struct db *db, struct db_run *run, struct hw_err *err)
{
    int rc = check_run(db, run, err);
    if (rc != HW_OK)
        return rc;
    rc = db_begin(db, err);
    if (rc != HW_OK)
        return rc;
    struct db_run stored, taken;
    memset(&stored, 0, sizeof stored);
    if (run->name[0]) {
        /* Checked here, inside the transaction, for a message that says what to do. */
        rc = db_select_one(db, &run_row, &taken, sql_run_by_name, "run", err, "t", run->name);
        if (rc == HW_OK) {
            rc = hw_error(err, HW_EINVAL,
                          "%s: run name '%s' is taken (run %lld); pick another --name or "
                          "--resume it",
                          db->path, run->name, (long long)taken.id);
            db_run_release(&taken);
        } else if (rc == HW_ENOTFOUND) {
            hw_err_clear(err);
            rc = HW_OK;
        }
    }
    if (rc == HW_OK)
        rc = db_write(db, sql_run_insert, "create run", NULL, err, "tttdddlidlt", run->name,
                      run->space, run->controller, run->target_ms, run->w_alpha, run->w_beta,
                      (int64_t)run->seed, run->trials_max, run->time_budget_s, run->device_id,
                      run->config_json);
    if (rc == HW_OK)
        rc = db_select_one(db, &run_row, &stored, sql_run_by_id, "new run", err, "l",
                           (int64_t)sqlite3_last_insert_rowid(db->conn));
    /* claimed before any other process can see the row, so a --resume of it
     * can never slip in between */
    if (rc == HW_OK)
        rc = db_claim_commit(db, DB_CLAIM_SEARCH, stored.id, stored.name, err);
    if (rc != HW_OK) {
        db_rollback(db);
        db_run_release(&stored);
        return rc;
    }
    run->id = stored.id;
    memcpy(run->name, stored.name, sizeof run->name);
    run->status = stored.status;
    memcpy(run->created_at, stored.created_at, sizeof run->created_at);
    memcpy(run->updated_at, stored.updated_at, sizeof run->updated_at);
    db_run_release(&stored);
    return HW_OK;
}

int db_run_get(struct db *db, int64_t id, struct db_run *out, struct hw_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "run id %lld", (long long)id);
    return db_select_one(db, &run_row, out, sql_run_by_id, what, err, "l", id);
}

int db_run_find_by_name(struct db *db, const char *name, struct db_run *out, struct hw_err *err)
{
    char what[DB_NAME_MAX + 16];
    snprintf(what, sizeof what, "run '%.127s'", name);
    return db_select_one(db, &run_row, out, sql_run_by_name, what, err, "t", name);
}

/* Parses a positive decimal id; 0 when s is not one. */
static int64_t parse_id(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno ? 0 : (int64_t)v;
}

int db_run_lookup(struct db *db, const char *name_or_id, struct db_run *out,
                  struct hw_err *err)
{
    int rc = db_run_find_by_name(db, name_or_id, out, err);
    int64_t id = parse_id(name_or_id);
    if (rc == HW_ENOTFOUND && id > 0)
        rc = db_run_get(db, id, out, err);
    if (rc == HW_ENOTFOUND)
        hw_error(err, rc, "%s: no run named or numbered '%.127s'; `hwnas runs list` shows them",
                 db->path, name_or_id);
    return rc;
}

int db_run_list(struct db *db, struct db_run **out, int *n, struct hw_err *err)
{
    return db_select(db, &run_row, (void **)out, n, sql_run_list, "list runs", err, "");
}

void db_run_list_free(struct db_run *r, int n)
{
    db_rows_free(&run_row, r, n);
}

int db_run_set_status(struct db *db, int64_t run_id, enum db_run_status s, struct hw_err *err)
{
    if ((unsigned)s >= 4)
        return hw_error(err, HW_EINVAL, "%s: run status %d is not valid", db->path, (int)s);
    return db_update(db, sql_run_status, "set run status", "run", run_id, err, "lt", run_id,
                     db_run_status_names[s]);
}

int db_run_save_state(struct db *db, int64_t run_id, const void *blob, size_t len,
                      struct hw_err *err)
{
    return db_update(db, sql_run_state, "save run state", "run", run_id, err, "lb", run_id, blob,
                     len);
}

int db_run_load_state(struct db *db, int64_t run_id, void **blob, size_t *len,
                      struct hw_err *err)
{
    return db_blob_load(db, sql_run_load_state, run_id, blob, len, "run", err);
}

/* ---- candidates --------------------------------------------------------------- */

#define CAND_COLS                                                                       \
    "id, run_id, trial, arch_json, arch_hash, tokens, macs, params, predicted_ms, "    \
    "val_acc, reward, wall_s, status, created_at, val_loss, train_loss, evaluator, worker"

static const char sql_cand_insert[] =
    "INSERT INTO candidates (run_id, trial, arch_json, arch_hash, tokens, macs, params, "
    "predicted_ms, val_acc, reward, wall_s, status, val_loss, train_loss, evaluator, worker) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
static const char sql_pending_done[] = "DELETE FROM pending WHERE run_id = ?1 AND trial = ?2";
static const char sql_pending_insert[] =
    "INSERT INTO pending (run_id, trial, arch_json, arch_hash, tokens, macs, params, "
    "predicted_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/* the candidate columns, so one decoder reads both */
static const char sql_pending_list[] =
    "SELECT 0, run_id, trial, arch_json, arch_hash, tokens, macs, params, predicted_ms, "
    "NULL, NULL, NULL, 'ok', created_at, NULL, NULL, '', '' FROM pending WHERE run_id = ?1 "
    "ORDER BY trial";
static const char sql_trials_used[] =
    "SELECT (SELECT count(*) FROM candidates WHERE run_id = ?1) + "
    "(SELECT count(*) FROM pending WHERE run_id = ?1)";
static const char sql_cand_by_id[] = "SELECT " CAND_COLS " FROM candidates WHERE id = ?1";
static const char sql_cand_by_hash[] =
    "SELECT " CAND_COLS " FROM candidates WHERE run_id = ?1 AND arch_hash = ?2 "
    "AND status = 'ok' ORDER BY trial LIMIT 1";
static const char sql_cand_count[] = "SELECT count(*) FROM candidates WHERE run_id = ?1";
/* A negative LIMIT means no limit in SQLite. */
static const char sql_cand_by_trial[] =
    "SELECT " CAND_COLS " FROM candidates WHERE run_id = ?1 ORDER BY trial LIMIT ?2";
static const char sql_cand_by_reward[] =
    "SELECT " CAND_COLS " FROM candidates WHERE run_id = ?1 "
    "ORDER BY reward IS NULL, reward DESC, trial LIMIT ?2";

/* Tokens are stored as readable text, "3,1,0,2". */
static int tokens_format(struct db *db, const struct db_candidate *c, char **out,
                         struct hw_err *err)
{
    *out = NULL;
    if (c->n_tokens < 0 || c->n_tokens > DB_TOKENS_MAX)
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d: %d tokens (0..%d allowed)",
                        db->path, c->trial, c->n_tokens, DB_TOKENS_MAX);
    char *s = malloc((size_t)c->n_tokens * 12 + 1);
    if (!s)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", db->path);
    size_t pos = 0;
    s[0] = '\0';
    for (int i = 0; i < c->n_tokens; i++) {
        if (c->tokens[i] < 0) {
            free(s);
            return hw_error(err, HW_EINVAL, "%s: candidate trial %d: token %d is %d (< 0)",
                            db->path, c->trial, i, c->tokens[i]);
        }
        pos += (size_t)sprintf(s + pos, i ? ",%d" : "%d", c->tokens[i]);
    }
    *out = s;
    return HW_OK;
}

static void tokens_parse(struct db_reader *rd, int col, struct db_candidate *c)
{
    const char *s = rd->rc == HW_OK ? (const char *)sqlite3_column_text(rd->st, col) : NULL;
    c->n_tokens = 0;
    while (s && *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > 1000000 || (*end && *end != ',') ||
            c->n_tokens == DB_TOKENS_MAX) {
            rd->rc = hw_error(rd->err, HW_EDB, "%s: candidate %lld: bad tokens text near '%.20s'",
                              rd->db->path, (long long)c->id, s);
            return;
        }
        c->tokens[c->n_tokens++] = (int)v;
        s = *end ? end + 1 : end;
    }
}

static int decode_candidate(struct db_reader *rd, void *row)
{
    struct db_candidate *c = row;
    c->id = db_read_int64(rd, 0);
    c->run_id = db_read_int64(rd, 1);
    c->trial = db_read_int(rd, 2);
    c->arch_json = db_read_strdup(rd, 3);
    db_read_text(rd, 4, c->arch_hash, sizeof c->arch_hash);
    tokens_parse(rd, 5, c);
    c->macs = db_read_int64(rd, 6);
    c->params = db_read_int64(rd, 7);
    c->predicted_ms = db_read_real(rd, 8);
    c->val_acc = db_read_real(rd, 9);
    c->reward = db_read_real(rd, 10);
    c->wall_s = db_read_real(rd, 11);
    c->status = (enum db_cand_status)db_read_enum(rd, 12, cand_status_names,
                                                  N_OF(cand_status_names));
    db_read_text(rd, 13, c->created_at, sizeof c->created_at);
    c->val_loss = db_read_real(rd, 14);
    c->train_loss = db_read_real(rd, 15);
    db_read_text(rd, 16, c->evaluator, sizeof c->evaluator);
    db_read_text(rd, 17, c->worker, sizeof c->worker);
    return rd->rc;
}

void db_candidate_release(struct db_candidate *c)
{
    free(c->arch_json);
    c->arch_json = NULL;
}

static void release_candidate(void *row)
{
    db_candidate_release(row);
}

static const struct db_rowtype cand_row = {sizeof(struct db_candidate), decode_candidate,
                                           release_candidate};

static int check_candidate(struct db *db, const struct db_candidate *c, struct hw_err *err)
{
    if (!c->arch_json || !c->arch_json[0])
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d has no arch JSON", db->path,
                        c->trial);
    if (c->trial < 0)
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d is negative", db->path,
                        c->trial);
    if ((unsigned)c->status >= (unsigned)N_OF(cand_status_names))
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d: status %d is not valid",
                        db->path, c->trial, (int)c->status);
    if (!memchr(c->arch_hash, 0, sizeof c->arch_hash))
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d: arch hash is not terminated",
                        db->path, c->trial);
    if (!memchr(c->worker, 0, sizeof c->worker))
        return hw_error(err, HW_EINVAL, "%s: candidate trial %d: worker is not terminated",
                        db->path, c->trial);
    return db_check_text(db, "candidate arch hash", c->arch_hash, sizeof c->arch_hash, 1, err);
}

/* A candidate (pending 0) or a pending row (pending 1) and the run's state,
 * in one transaction; a candidate replaces its pending row. */
static int add_row(struct db *db, struct db_candidate *c, int pending, const void *state,
                   size_t len, struct hw_err *err)
{
    char *tokens = NULL;
    int rc = check_candidate(db, c, err);
    if (rc == HW_OK)
        rc = tokens_format(db, c, &tokens, err);
    if (rc != HW_OK)
        return rc;
    char what[64];
    snprintf(what, sizeof what, "add %s trial %d of run %lld",
             pending ? "pending" : "candidate", c->trial, (long long)c->run_id);
    int64_t id = 0;
    rc = db_begin(db, err);
    if (rc == HW_OK && pending)
        rc = db_write(db, sql_pending_insert, what, NULL, err, "litttlld", c->run_id, c->trial,
                      c->arch_json, c->arch_hash, tokens, c->macs, c->params, c->predicted_ms);
    if (rc == HW_OK && !pending) {
        rc = db_write(db, sql_cand_insert, what, NULL, err, "litttllddddtddtt", c->run_id,
                      c->trial, c->arch_json, c->arch_hash, tokens, c->macs, c->params,
                      c->predicted_ms, c->val_acc, c->reward, c->wall_s,
                      cand_status_names[c->status], c->val_loss, c->train_loss,
                      c->evaluator[0] ? c->evaluator : "proxy", c->worker);
        id = sqlite3_last_insert_rowid(db->conn);
        if (rc == HW_OK)
            rc = db_write(db, sql_pending_done, what, NULL, err, "li", c->run_id, c->trial);
    }
    if (rc == HW_OK)
        rc = state ? db_update(db, sql_run_state, what, "run", c->run_id, err, "lb", c->run_id,
                               state, len)
                   : db_update(db, sql_run_touch, what, "run", c->run_id, err, "l", c->run_id);
    if (rc == HW_OK)
        rc = db_commit(db, err);
    if (rc != HW_OK)
        db_rollback(db);
    else if (!pending)
        c->id = id;
    free(tokens);
    return rc;
}

int db_candidate_add(struct db *db, struct db_candidate *c, const void *state, size_t len,
                     struct hw_err *err)
{
    return add_row(db, c, 0, state, len, err);
}

int db_candidate_get(struct db *db, int64_t id, struct db_candidate *out, struct hw_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "candidate id %lld", (long long)id);
    return db_select_one(db, &cand_row, out, sql_cand_by_id, what, err, "l", id);
}

int db_candidate_find_by_hash(struct db *db, int64_t run_id, const char *hash,
                              struct db_candidate *out, struct hw_err *err)
{
    char what[DB_HASH_MAX + 64];
    snprintf(what, sizeof what, "candidate with arch hash %.64s in run %lld", hash,
             (long long)run_id);
    return db_select_one(db, &cand_row, out, sql_cand_by_hash, what, err, "lt", run_id, hash);
}

int db_candidate_count(struct db *db, int64_t run_id, int *n, struct hw_err *err)
{
    return db_select_int(db, sql_cand_count, run_id, n, "count candidates", err);
}

int db_pending_add(struct db *db, const struct db_candidate *c, const void *state, size_t len,
                   struct hw_err *err)
{
    struct db_candidate row = *c; /* add_row sets the id of candidates only */
    return add_row(db, &row, 1, state, len, err);
}

int db_pending_list(struct db *db, int64_t run_id, struct db_candidate **out, int *n,
                    struct hw_err *err)
{
    return db_select(db, &cand_row, (void **)out, n, sql_pending_list, "list pending candidates",
                     err, "l", run_id);
}

int db_trials_used(struct db *db, int64_t run_id, int *n, struct hw_err *err)
{
    return db_select_int(db, sql_trials_used, run_id, n, "count trials", err);
}

int db_candidate_list(struct db *db, int64_t run_id, enum db_cand_order order, int limit,
                      struct db_candidate **out, int *n, struct hw_err *err)
{
    const char *sql = order == DB_ORDER_REWARD ? sql_cand_by_reward : sql_cand_by_trial;
    return db_select(db, &cand_row, (void **)out, n, sql, "list candidates", err, "li", run_id,
                     limit > 0 ? limit : -1);
}

void db_candidate_list_free(struct db_candidate *c, int n)
{
    db_rows_free(&cand_row, c, n);
}

/* ---- models --------------------------------------------------------------------- */

#define MODEL_COLS "id, name, path, arch_json, val_acc, test_acc, source, source_id, created_at"

static const char sql_model_insert[] =
    "INSERT INTO models (name, path, arch_json, val_acc, test_acc, source, source_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, 0))";
static const char sql_model_by_id[] = "SELECT " MODEL_COLS " FROM models WHERE id = ?1";
static const char sql_model_by_path[] =
    "SELECT " MODEL_COLS " FROM models WHERE path = ?1 ORDER BY id DESC LIMIT 1";
static const char sql_model_list[] = "SELECT " MODEL_COLS " FROM models ORDER BY id";
static const char sql_model_test_acc[] = "UPDATE models SET test_acc = ?2 WHERE id = ?1";

static int decode_model(struct db_reader *rd, void *row)
{
    struct db_model *m = row;
    m->id = db_read_int64(rd, 0);
    db_read_text(rd, 1, m->name, sizeof m->name);
    db_read_text(rd, 2, m->path, sizeof m->path);
    m->arch_json = db_read_strdup(rd, 3);
    m->val_acc = db_read_real(rd, 4);
    m->test_acc = db_read_real(rd, 5);
    m->source = (enum db_model_source)db_read_enum(rd, 6, model_source_names,
                                                   N_OF(model_source_names));
    m->source_id = db_read_int64(rd, 7);
    db_read_text(rd, 8, m->created_at, sizeof m->created_at);
    return rd->rc;
}

void db_model_release(struct db_model *m)
{
    free(m->arch_json);
    m->arch_json = NULL;
}

static void release_model(void *row)
{
    db_model_release(row);
}

static const struct db_rowtype model_row = {sizeof(struct db_model), decode_model,
                                            release_model};

int db_model_add(struct db *db, struct db_model *m, struct hw_err *err)
{
    int rc = db_check_text(db, "model name", m->name, sizeof m->name, 0, err);
    if (rc == HW_OK)
        rc = db_check_text(db, "model path", m->path, sizeof m->path, 1, err);
    if (rc == HW_OK && (!m->arch_json || !m->arch_json[0]))
        rc = hw_error(err, HW_EINVAL, "%s: model %s has no arch JSON", db->path, m->path);
    if (rc == HW_OK && (unsigned)m->source >= (unsigned)N_OF(model_source_names))
        rc = hw_error(err, HW_EINVAL, "%s: model %s: source %d is not valid", db->path, m->path,
                      (int)m->source);
    if (rc == HW_OK)
        rc = db_write(db, sql_model_insert, "add model", NULL, err, "tttddtl", m->name, m->path,
                      m->arch_json, m->val_acc, m->test_acc, model_source_names[m->source],
                      m->source_id);
    if (rc == HW_OK)
        m->id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

int db_model_get(struct db *db, int64_t id, struct db_model *out, struct hw_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "model id %lld", (long long)id);
    return db_select_one(db, &model_row, out, sql_model_by_id, what, err, "l", id);
}

int db_model_find_by_path(struct db *db, const char *path, struct db_model *out,
                          struct hw_err *err)
{
    char what[DB_PATH_MAX + 16];
    snprintf(what, sizeof what, "model file %s", path);
    return db_select_one(db, &model_row, out, sql_model_by_path, what, err, "t", path);
}

int db_model_set_test_acc(struct db *db, int64_t id, double test_acc, struct hw_err *err)
{
    return db_update(db, sql_model_test_acc, "set model test accuracy", "model", id, err, "ld",
                     id, test_acc);
}

int db_model_list(struct db *db, struct db_model **out, int *n, struct hw_err *err)
{
    return db_select(db, &model_row, (void **)out, n, sql_model_list, "list models", err, "");
}

void db_model_list_free(struct db_model *m, int n)
{
    db_rows_free(&model_row, m, n);
}
