/* The hwnas store: one SQLite file holding devices, latency tables, LUT
 * validations, search runs and their candidates, models and NetAdapt runs.
 * Only db/ talks SQL; every other module uses these functions and row structs.
 *
 * Conventions
 * - Every function returns HW_OK or a negative HW_E* status and, on failure,
 *   fills err (may be NULL) with one sentence naming the database file.
 *   SQLite failures are HW_EDB; constraint violations and bad arguments are
 *   HW_EINVAL; a missing row is HW_ENOTFOUND.
 * - Every write is one transaction: it happens completely or not at all.
 * - Row structs are plain data. Fixed char arrays hold bounded text (writes
 *   longer than the array are refused with HW_EINVAL); `char *` members hold
 *   unbounded JSON, are owned by the struct and freed by its *_release.
 *   Lists are malloc'd arrays owned by the caller and freed with *_list_free
 *   (or free() for structs without owned members, as stated).
 * - Real columns that may be unknown (a failed candidate's accuracy, a model's
 *   test accuracy) read and write NaN for "unknown" (SQL NULL).
 * - Timestamps are UTC ISO-8601 text ("2026-11-01T12:00:00Z") set by the db.
 * - A struct db is used by one thread at a time. Several processes or handles
 *   may open the same file: WAL mode and a 5 s busy timeout serialise writers.
 */
#ifndef HWNAS_DB_DB_H
#define HWNAS_DB_DB_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Schema version this hwnas writes (PRAGMA user_version). */
#define DB_SCHEMA_VERSION 10

#define DB_HASH_MAX 65   /* hex hash + NUL */
#define DB_NAME_MAX 128  /* run / model / space / controller names */
#define DB_PATH_MAX 1024 /* file paths */
#define DB_KEY_MAX 160   /* latency table keys (== LUT_KEY_MAX) */
#define DB_TIME_MAX 32   /* ISO-8601 timestamps */
#define DB_EVALUATOR_MAX 48 /* a candidate's evaluator name */
#define DB_WORKER_MAX 96    /* "host:rank" of the worker that evaluated a candidate */
#define DB_TOKENS_MAX 256
#define DB_LAYERS_MAX 256 /* NetAdapt step layer list, e.g. "2,3,5" */

struct db; /* opaque handle */

/* ---- opening ---------------------------------------------------------- */

enum db_open_flags {
    /* Refuse (HW_ENOTFOUND) instead of creating a missing file: for commands
     * that only read, so a typo'd path does not leave an empty database. */
    DB_OPEN_EXISTING = 1 << 0,
    /* Open read-only (implies DB_OPEN_EXISTING). Nothing is written, so a
     * database whose schema is older than DB_SCHEMA_VERSION is refused
     * (it would need a migration). */
    DB_OPEN_READONLY = 1 << 1,
};

/* Opens (creating unless flags say otherwise) the database at path and brings
 * its schema up to DB_SCHEMA_VERSION, one migration per transaction.
 * Sets WAL mode, a 5 s busy timeout and foreign keys on.
 * The path comes from cli_db_path (--db, $HWNAS_DB, ./hwnas.db).
 * Refused, with nothing written to the file:
 *   - a missing file with DB_OPEN_EXISTING/READONLY (HW_ENOTFOUND),
 *   - a file that is not an SQLite database (HW_EDB),
 *   - a schema newer than this hwnas knows (HW_EMISMATCH; the message names
 *     the file, its version and ours).
 * On success *out owns the connection; release it with db_close. */
int db_open(struct db **out, const char *path, int flags, struct hw_err *err);
/* Closes the connection and frees db (NULL is fine). */
void db_close(struct db *db);
/* The path db was opened with (owned by db). */
const char *db_path(const struct db *db);
/* Whether the file is sound: SQLite's integrity_check (pages, indexes,
 * UNIQUE constraints) and foreign_key_check both find nothing. HW_EDB names
 * the first problem either reports. */
int db_check(struct db *db, struct hw_err *err);

/* ---- claims: one process per run -------------------------------------- */

enum db_claim_kind { DB_CLAIM_SEARCH = 0, DB_CLAIM_NETADAPT = 1 };

/* Claims run `id` (search or NetAdapt; label names it in messages) of db's
 * file for this process until db_close(db) or the process ends, kill -9
 * included (a lock on one byte of the file, db/claim.c). Another process
 * holding it: HW_EBUSY naming the file and the run. An in-memory database
 * needs no claim (HW_OK); a filesystem without such locks gets a warning
 * and HW_OK (the run goes on unguarded). */
int db_claim(struct db *db, enum db_claim_kind kind, int64_t id, const char *label,
             struct hw_err *err);

/* ---- devices ---------------------------------------------------------- */

/* A device fingerprint (see latency/fingerprint.h; same field sizes). */
struct db_device {
    int64_t id;
    char hash[DB_HASH_MAX]; /* unique key of the fingerprint */
    char cpu[128];
    int threads;
    char backend[64];
    char blas_core[32];
    char compiler[160];
    char version[32]; /* hwnas version */
    char created_at[DB_TIME_MAX];
};

/* Id of the device with d->hash, inserting d when there is none. If a row
 * with that hash exists but another field differs (a corrupt row or a hash
 * collision), HW_EMISMATCH names the field. d->id and d->created_at are
 * ignored on input. */
int db_device_get_or_create(struct db *db, const struct db_device *d, int64_t *id,
                            struct hw_err *err);
/* The device with this hash / id into *out; HW_ENOTFOUND when there is none. */
int db_device_find(struct db *db, const char *hash, struct db_device *out, struct hw_err *err);
int db_device_get(struct db *db, int64_t id, struct db_device *out, struct hw_err *err);
/* What a user types for a device: a decimal id, a full hash, or a prefix of
 * one hash (tried in that order). HW_ENOTFOUND when nothing matches, HW_EINVAL when a prefix
 * matches several. */
int db_device_lookup(struct db *db, const char *text, struct db_device *out,
                     struct hw_err *err);
/* All devices, by id. *out is a malloc'd array of *n rows (free() it; NULL when
 * *n == 0). */
int db_device_list(struct db *db, struct db_device **out, int *n, struct hw_err *err);

/* ---- latency table entries -------------------------------------------- */

/* One timed unit, in microseconds. Valid: non-empty key shorter than
 * DB_KEY_MAX, count >= 1, all figures finite, >= 0 and
 * min_us <= median_us <= max_us, min_us <= mean_us <= max_us. */
struct db_lut_entry {
    char key[DB_KEY_MAX];
    int count;
    double mean_us, median_us, var_us, min_us, max_us;
    char created_at[DB_TIME_MAX];
};

/* Inserts or replaces (device_id, e->key); HW_EINVAL for an invalid entry or
 * unknown device. */
int db_lut_put(struct db *db, int64_t device_id, const struct db_lut_entry *e,
               struct hw_err *err);
/* Inserts or replaces n entries in one transaction: all or nothing. An invalid
 * entry fails the whole call; the message names its index and key. */
int db_lut_put_many(struct db *db, int64_t device_id, const struct db_lut_entry *e, int n,
                    struct hw_err *err);
/* The entry for key into *out; HW_ENOTFOUND (message names key) if missing. */
int db_lut_get(struct db *db, int64_t device_id, const char *key, struct db_lut_entry *out,
               struct hw_err *err);
/* Number of entries of the device. */
int db_lut_count(struct db *db, int64_t device_id, int *n, struct hw_err *err);
/* Calls fn(ctx, entry) for every entry of the device in key order. A non-zero
 * return from fn stops the walk and is returned (fn fills err itself). fn must
 * not write to db. */
int db_lut_iterate(struct db *db, int64_t device_id,
                   int (*fn)(void *ctx, const struct db_lut_entry *e), void *ctx,
                   struct hw_err *err);
/* Deletes every entry of the device (for `lut import --replace`); one
 * transaction. */
int db_lut_clear(struct db *db, int64_t device_id, struct hw_err *err);

/* ---- LUT calibrations -------------------------------------------------- */

/* A device's fit of whole-network latency against its table's sums for one
 * input shape: measured ~ alpha_us + beta * sum + gamma_us * params / 1e6
 * + delta_us * MACs / 1e6 (schema 3; 0 in rows migrated from older files).
 * Valid: input non-empty, samples >= 1, the four coefficients finite. */
struct db_calibration {
    int64_t device_id;
    char input[DB_KEY_MAX];    /* "28x28x1" */
    int samples;
    double alpha_us, beta, gamma_us;
    double rmspe_sum, rmspe_fit; /* on the fitted samples, fractions */
    char created_at[DB_TIME_MAX];
    double delta_us;
    char stat[8]; /* the timing statistic fitted: "min" (LAT_STAT_NAME) or "median" (older) */
};

/* Inserts or replaces (c->device_id, c->input). */
int db_calibration_put(struct db *db, const struct db_calibration *c, struct hw_err *err);
/* Calibrations of device_id by input; *out malloc'd (free(); NULL when *n == 0). */
int db_calibration_list(struct db *db, int64_t device_id, struct db_calibration **out, int *n,
                        struct hw_err *err);

/* ---- LUT validations --------------------------------------------------- */

struct db_validation {
    int64_t id, device_id;
    char space[DB_NAME_MAX];
    int samples;
    double rmse_us, rmspe;     /* rmspe as a fraction (0.03 = 3 %) */
    double within5, within10;  /* shares in [0, 1] */
    char *details_json;        /* owned; may be NULL */
    char created_at[DB_TIME_MAX];
};

/* Stores v (v->id and created_at ignored); *id (may be NULL) gets the new id. */
int db_validation_add(struct db *db, const struct db_validation *v, int64_t *id,
                      struct hw_err *err);
/* Validations of device_id (0: of every device), newest first. Free with
 * db_validation_list_free. */
int db_validation_list(struct db *db, int64_t device_id, struct db_validation **out, int *n,
                       struct hw_err *err);
void db_validation_release(struct db_validation *v);
void db_validation_list_free(struct db_validation *v, int n);

/* ---- search runs -------------------------------------------------------- */

enum db_run_status { DB_RUN_RUNNING, DB_RUN_STOPPED, DB_RUN_DONE, DB_RUN_FAILED };

/* "running" | "stopped" | "done" | "failed". */
const char *db_run_status_name(enum db_run_status s);

struct db_run {
    int64_t id;
    char name[DB_NAME_MAX]; /* unique */
    char space[DB_PATH_MAX]; /* space name or file */
    char controller[DB_NAME_MAX];
    double target_ms;
    double w_alpha, w_beta;
    uint64_t seed;
    int trials_max;       /* 0: no limit */
    double time_budget_s; /* 0: no limit */
    int64_t device_id;
    char *config_json; /* owned; may be NULL: the full configuration */
    enum db_run_status status;
    char created_at[DB_TIME_MAX], updated_at[DB_TIME_MAX];
};

/* Creates a run from *run (id, status, timestamps ignored; status starts as
 * running). An empty run->name is replaced by "run-<id>". On success run->id,
 * name, status and timestamps are filled in. A name already taken is
 * HW_EINVAL naming it; an unknown device_id is HW_EINVAL. The new run is
 * claimed (db_claim) before its row commits, so no other process can resume
 * it meanwhile. */
int db_run_create(struct db *db, struct db_run *run, struct hw_err *err);
/* The run with this id / name into *out (release with db_run_release);
 * HW_ENOTFOUND when there is none. */
int db_run_get(struct db *db, int64_t id, struct db_run *out, struct hw_err *err);
int db_run_find_by_name(struct db *db, const char *name, struct db_run *out, struct hw_err *err);
/* What a user types for RUN: a name, or else a decimal id. */
int db_run_lookup(struct db *db, const char *name_or_id, struct db_run *out,
                  struct hw_err *err);
/* All runs by id; free with db_run_list_free. */
int db_run_list(struct db *db, struct db_run **out, int *n, struct hw_err *err);
void db_run_release(struct db_run *r);
void db_run_list_free(struct db_run *r, int n);
/* Sets the status (and updated_at); HW_ENOTFOUND for an unknown run. */
int db_run_set_status(struct db *db, int64_t run_id, enum db_run_status s, struct hw_err *err);
/* Replaces the run's controller state (weights, optimizer, RNG: an opaque
 * blob of len bytes; blob NULL clears it). Prefer db_candidate_add, which
 * saves it together with the candidate. */
int db_run_save_state(struct db *db, int64_t run_id, const void *blob, size_t len,
                      struct hw_err *err);
/* The run's last saved state: *blob is malloc'd (caller frees) with *len
 * bytes, or NULL with *len 0 when none was saved. HW_ENOTFOUND for an
 * unknown run. */
int db_run_load_state(struct db *db, int64_t run_id, void **blob, size_t *len,
                      struct hw_err *err);

/* ---- candidates ---------------------------------------------------------- */

enum db_cand_status { DB_CAND_OK, DB_CAND_FAILED, DB_CAND_DUPLICATE };

/* "ok" | "failed" | "duplicate". */
const char *db_cand_status_name(enum db_cand_status s);

struct db_candidate {
    int64_t id, run_id;
    int trial; /* 0, 1, ... within the run; unique per run */
    char *arch_json; /* owned; required on add */
    char arch_hash[DB_HASH_MAX];
    int n_tokens;
    int tokens[DB_TOKENS_MAX]; /* controller tokens, each >= 0 */
    int64_t macs, params;
    double predicted_ms; /* from the latency table */
    double val_acc;      /* NaN: not evaluated (failed) */
    double val_loss;     /* validation cross-entropy; NaN: not evaluated or not
                          * recorded (before schema 5); inf: training diverged */
    double train_loss;   /* mean training loss of the proxy's last epoch; NaN: not
                          * evaluated or not recorded (before schema 7); inf:
                          * training diverged */
    double reward;       /* NaN: none */
    double wall_s;       /* evaluation wall time */
    char evaluator[DB_EVALUATOR_MAX]; /* what scored it: "proxy", or "supernet:" and the
                                       * supernet file's CRC-32; "" before schema 8 (proxy) */
    char worker[DB_WORKER_MAX]; /* "host:rank" of the MPI worker that evaluated it; ""
                                 * when the searching process did (and before schema 9) */
    enum db_cand_status status;
    char created_at[DB_TIME_MAX];
};

/* The crash-safety contract of the search: in ONE transaction, inserts *c
 * (id and created_at ignored; c->id is set on success), deletes the pending
 * row of the same trial if there is one, and, when state is not NULL,
 * replaces the run's controller state with state[0..len) and touches the
 * run's updated_at. After a crash either all are stored or none.
 * A second candidate with the same (run, trial), an unknown run or invalid
 * fields (no arch JSON, empty hash, negative token) are HW_EINVAL. */
int db_candidate_add(struct db *db, struct db_candidate *c, const void *state, size_t len,
                     struct hw_err *err);
/* The candidate with this id into *out (release with db_candidate_release). */
int db_candidate_get(struct db *db, int64_t id, struct db_candidate *out, struct hw_err *err);
/* The earliest candidate of the run with this arch hash and status ok (so a
 * duplicate arch is not trained twice); HW_ENOTFOUND when there is none. */
int db_candidate_find_by_hash(struct db *db, int64_t run_id, const char *hash,
                              struct db_candidate *out, struct hw_err *err);
/* Number of candidates of the run (every status). */
int db_candidate_count(struct db *db, int64_t run_id, int *n, struct hw_err *err);

/* Pending candidates: proposed by the controller, not yet evaluated. The
 * search stores one the moment it is proposed, in ONE transaction with the
 * controller state that proposed it (state as in db_candidate_add), so a
 * crash while it is evaluated loses neither: a resume evaluates it again.
 * db_candidate_add of the same trial removes it. Uses the fields trial,
 * arch_json, arch_hash, tokens, macs, params and predicted_ms of *c. */
int db_pending_add(struct db *db, const struct db_candidate *c, const void *state, size_t len,
                   struct hw_err *err);
/* The run's pending candidates in trial order (fields as stored; the rest
 * read NaN or 0). Free with db_candidate_list_free. */
int db_pending_list(struct db *db, int64_t run_id, struct db_candidate **out, int *n,
                    struct hw_err *err);
/* Trials used by the run: its candidates plus its pending ones. The search
 * numbers trials 0..n-1, so this is the next trial index on resume. */
int db_trials_used(struct db *db, int64_t run_id, int *n, struct hw_err *err);

enum db_cand_order {
    DB_ORDER_TRIAL,  /* trial ascending: the whole history, for fronts/resume */
    DB_ORDER_REWARD, /* reward descending (unknown last), then trial */
};
/* Candidates of the run in the given order, at most limit (<= 0: all).
 * Free with db_candidate_list_free. */
int db_candidate_list(struct db *db, int64_t run_id, enum db_cand_order order, int limit,
                      struct db_candidate **out, int *n, struct hw_err *err);
void db_candidate_release(struct db_candidate *c);
void db_candidate_list_free(struct db_candidate *c, int n);

/* ---- models ---------------------------------------------------------------- */

enum db_model_source {
    DB_MODEL_TRAIN,     /* hwnas train */
    DB_MODEL_CANDIDATE, /* a search candidate trained in full (source_id: candidate) */
    DB_MODEL_NETADAPT,  /* a NetAdapt result (source_id: NetAdapt run) */
};

/* "train" | "candidate" | "netadapt". */
const char *db_model_source_name(enum db_model_source s);

struct db_model {
    int64_t id;
    char name[DB_NAME_MAX];
    char path[DB_PATH_MAX]; /* the model file */
    char *arch_json;        /* owned; required on add */
    double val_acc, test_acc; /* NaN: not measured */
    enum db_model_source source;
    int64_t source_id; /* 0: none */
    char created_at[DB_TIME_MAX];
};

/* Stores *m (id, created_at ignored); m->id is set on success. */
int db_model_add(struct db *db, struct db_model *m, struct hw_err *err);
/* The model with this id / newest model with this file path; HW_ENOTFOUND. */
int db_model_get(struct db *db, int64_t id, struct db_model *out, struct hw_err *err);
int db_model_find_by_path(struct db *db, const char *path, struct db_model *out,
                          struct hw_err *err);
/* Records a test accuracy measured later (`hwnas eval --split test`). */
int db_model_set_test_acc(struct db *db, int64_t id, double test_acc, struct hw_err *err);
/* All models by id; free with db_model_list_free. */
int db_model_list(struct db *db, struct db_model **out, int *n, struct hw_err *err);
void db_model_release(struct db_model *m);
void db_model_list_free(struct db_model *m, int n);

/* ---- reranks ------------------------------------------------------------- */

/* A search candidate trained again with a longer budget than the search's
 * proxy (`hwnas runs rerank`), its validation accuracy from that training.
 * One row per (run, arch, epochs, subset, seed). */
struct db_rerank {
    int64_t id, run_id, candidate_id;
    int trial;
    char arch_hash[DB_HASH_MAX];
    int epochs, subset; /* subset: training images, 0 = the whole split */
    uint64_t seed;
    double val_acc, wall_s;
    char created_at[DB_TIME_MAX];
};

/* Stores *r (id, created_at ignored; r->id set). HW_EINVAL for invalid
 * fields or a second row with the same run, arch and budget. */
int db_rerank_add(struct db *db, struct db_rerank *r, struct hw_err *err);
/* The run's reranks, best validation accuracy first; *out malloc'd (free();
 * NULL when *n == 0). */
int db_rerank_list(struct db *db, int64_t run_id, struct db_rerank **out, int *n,
                   struct hw_err *err);

/* ---- NetAdapt ---------------------------------------------------------------- */

struct db_netadapt {
    int64_t id;
    char source_model[DB_PATH_MAX];  /* model file NetAdapt started from */
    char current_model[DB_PATH_MAX]; /* latest accepted model file ("" before the first) */
    double target_ms, delta;         /* delta as a fraction of the initial latency */
    double initial_ms, current_ms;   /* predicted latency at start / now */
    int iterations;                  /* completed iterations */
    int64_t device_id;
    char *config_json; /* owned; may be NULL */
    enum db_run_status status;
    char created_at[DB_TIME_MAX], updated_at[DB_TIME_MAX];
};

enum db_na_kind { DB_NA_EXPAND, DB_NA_BOTTLENECK };

/* "expand" | "bottleneck". */
const char *db_na_kind_name(enum db_na_kind k);

/* One proposal of one iteration. No owned members: free lists with free(). */
struct db_na_step {
    int64_t id, netadapt_id;
    int iteration, proposal;
    enum db_na_kind kind;
    char layers[DB_LAYERS_MAX]; /* trimmed layer indices, e.g. "4" or "1,2,3" */
    int channels_before, channels_after;
    double latency_ms; /* predicted latency of the trimmed net */
    double val_acc;    /* after short fine-tune; NaN if not evaluated */
    double val_loss;   /* the same's validation loss; NaN: not measured (schema < 10) */
    int chosen;        /* 1 for the proposal kept this iteration */
    char created_at[DB_TIME_MAX];
};

/* Creates a NetAdapt run from *r (id, iterations, status, timestamps ignored;
 * current_ms starts at initial_ms); r is updated with what was stored. The
 * run is claimed (db_claim) before its row commits. */
int db_netadapt_create(struct db *db, struct db_netadapt *r, struct hw_err *err);
/* The NetAdapt run with this id (release with db_netadapt_release). */
int db_netadapt_get(struct db *db, int64_t id, struct db_netadapt *out, struct hw_err *err);
/* All NetAdapt runs by id; free with db_netadapt_list_free. */
int db_netadapt_list(struct db *db, struct db_netadapt **out, int *n, struct hw_err *err);
void db_netadapt_release(struct db_netadapt *r);
void db_netadapt_list_free(struct db_netadapt *r, int n);
int db_netadapt_set_status(struct db *db, int64_t id, enum db_run_status s, struct hw_err *err);
/* Ends run id in ONE transaction: stores its final model *m (m->id set, as
 * db_model_add) and marks the run done. Apart, a kill between the two left
 * the model stored and the run to resume, which stored it again. */
int db_netadapt_finish(struct db *db, int64_t id, struct db_model *m, struct hw_err *err);
/* Records one finished iteration in ONE transaction: inserts the n proposals
 * steps[] (all with steps[i].iteration == iteration == the run's iterations
 * count, netadapt_id == id, at most one with chosen == 1), sets the run's
 * current model file, current latency and state blob (NULL keeps the old
 * state), and advances its iteration count. Ids in steps are ignored.
 * Invalid steps are HW_EINVAL; an iteration other than the run's next one
 * (recorded twice, or skipped) is refused whole with HW_ENOTFOUND or
 * HW_EINVAL. */
int db_netadapt_add_iteration(struct db *db, int64_t id, int iteration,
                              const struct db_na_step *steps, int n,
                              const char *current_model, double current_ms,
                              const void *state, size_t len, struct hw_err *err);
/* Every step of the run ordered by iteration then proposal; *out is malloc'd
 * (free() it). */
int db_netadapt_steps(struct db *db, int64_t id, struct db_na_step **out, int *n,
                      struct hw_err *err);
/* Saved state, as db_run_load_state. */
int db_netadapt_load_state(struct db *db, int64_t id, void **blob, size_t *len,
                           struct hw_err *err);

#endif
