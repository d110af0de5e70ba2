/* A NetAdapt run recorded in the database, resumable after a crash.
 *
 * Each iteration's chosen net is written to its own model file first
 * (atomically), then the iteration -- every proposal as a netadapt_steps row,
 * the new current model, latency and the state blob -- is committed in one
 * transaction. A crash before the commit loses only the iteration in flight:
 * the resumed run starts it again from the last committed model. */
#ifndef HWNAS_NETADAPT_RUN_H
#define HWNAS_NETADAPT_RUN_H

#include <stddef.h>

#include "db/db.h"
#include "netadapt/netadapt.h"
#include "util/err.h"

/* What the state blob holds (JSON, {"version":1,...}). */
struct na_state {
    int iteration;           /* iterations completed */
    char model[DB_PATH_MAX]; /* current model file */
    double latency_ms;       /* predicted latency of that model */
    struct na_eval eval;     /* its validation accuracy and loss (NaN: not measured) */
};

/* JSON text of s into *json (malloc'd, caller frees), length in *len. */
int netadapt_state_encode(const struct na_state *s, char **json, size_t *len,
                          struct hw_err *err);
/* Parses a blob written by netadapt_state_encode; HW_EINVAL naming the field. */
int netadapt_state_decode(const void *blob, size_t len, struct na_state *s,
                          struct hw_err *err);

struct na_run_config {
    int max_batch;       /* training batch of trimmed nets */
    const char *workdir; /* per-iteration models: <workdir>/netadapt-<id>-it<k>.hwm */
    int max_iterations;  /* stop after this many in this call (0: no limit) */
    int quiet;           /* no progress bar / summary lines */
};

/* Runs or resumes NetAdapt run `id` (created with db_netadapt_create: source
 * model, target, delta, initial latency L0) until the predicted latency is
 * <= the target: from the saved state when there is one, else from the
 * source model. *out receives the current net (TRAIN mode, not yet long
 * fine-tuned; owned by the caller) and *state its state. HW_ENOTFOUND when
 * no proposal can cut delta * L0 any more (the state reached is still
 * returned in *out / *state). */
int netadapt_run(struct db *db, int64_t id, const struct na_run_config *cfg,
                 const struct na_ops *ops, struct nn_net **out, struct na_state *state,
                 struct hw_err *err);

#endif
