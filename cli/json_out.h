/* The --json output every hwnas command shares (docs/json.md lists the keys):
 * one JSON document on stdout, snake_case keys with the unit in the key
 * (latency_ms, val_acc_pct), and a root that starts with
 *   "version": CLI_JSON_VERSION, "hwnas_version": "0.1.0".
 * Progress and logs stay on stderr; with --json the human text is not printed. */
#ifndef HWNAS_CLI_JSON_OUT_H
#define HWNAS_CLI_JSON_OUT_H

#include <cjson/cJSON.h>

/* The schema version of every command's --json output: raised when a key is
 * renamed or removed or changes its meaning, not when one is added. */
#define CLI_JSON_VERSION 1

struct db_candidate;
struct db_rerank;
struct db_run;

/* A root object holding "version" and "hwnas_version"; NULL when out of
 * memory. The caller owns it (cli_json_print deletes it). */
cJSON *cli_json_root(void);
/* Prints root (may be NULL: out of memory) as the one document on stdout and
 * deletes it. CLI_EXIT_OK, or CLI_EXIT_FAIL with a message on stderr. */
int cli_json_print(cJSON *root);
/* A search candidate as a new object (caller owns): trial, status,
 * predicted_ms, val_acc_pct, val_loss, train_loss, reward, macs, params,
 * wall_s, evaluator, worker, arch_hash. Unknown figures (NaN) print as null,
 * as cJSON prints every NaN or infinity. NULL when out of memory. */
cJSON *cli_json_candidate(const struct db_candidate *c);
/* A search run as a new object (caller owns): id, name, space, controller,
 * status, target_ms, w_under, w_over, seed, trials_max, time_budget_s,
 * device_id, candidates (its count, given by the caller), created_at,
 * updated_at. NULL when out of memory. */
cJSON *cli_json_run(const struct db_run *r, int candidates);

/* A stored rerank as a new object (caller owns): trial, val_acc_pct, epochs,
 * subset, seed, wall_s. NULL when out of memory. */
cJSON *cli_json_rerank(const struct db_rerank *rr);

#endif
