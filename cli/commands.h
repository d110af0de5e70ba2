/* Entry points of the hwnas subcommands: one file cli/cmd_<name>.c each.
 * argv[0] is the command word; the return value is the process exit code. */
#ifndef HWNAS_CLI_COMMANDS_H
#define HWNAS_CLI_COMMANDS_H

#include <stdint.h>

int cmd_space(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_lut(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_supernet(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_runs_rerank(int argc, char **argv); /* hwnas runs rerank */
int cmd_export(int argc, char **argv);
int cmd_netadapt(int argc, char **argv);

/* Shared by train and export --train-final: trains arch a from seed on the
 * training split (validating each epoch, printing a line per epoch) and saves
 * the model to out when not NULL. With report (not NULL, caller owns) nothing
 * is printed: the setup, an "epoch_log" array and the result are added to it
 * as keys of 'hwnas train --json' (docs/json.md). */
struct arch;
struct train_config;
struct train_result;
struct hw_err;
struct cJSON;
int cli_train_arch(const struct arch *a, const struct train_config *tc, uint64_t seed,
                   const char *schedule, const char *data, const char *out,
                   struct cJSON *report, struct train_result *res, struct hw_err *err);
/* Shared by eval and export --train-final: accuracy of the model file at path
 * on the validation split, or the test set when test is set; *n images, *name
 * the arch's name (static storage). */
int cli_eval_model(const char *path, const char *data, int test, int batch, double *acc, int *n,
                   const char **name, struct hw_err *err);

/* Shared by runs rerank and export --reranked: the winner of a run's
 * reranks. Only reranks with the budget (epochs, subset) of the newest one
 * count, an arch's accuracies over seeds are averaged, and only candidates
 * predicted within target_ms compete. Returns 1 with *cand (index into cs),
 * *acc and the budget, or 0 when none qualifies. */
struct db_rerank;
struct db_candidate;
int cli_rerank_best(const struct db_rerank *rr, int nr, const struct db_candidate *cs, int n,
                    double target_ms, int *cand, double *acc, int *epochs, int *subset);

#endif
