/* Pieces shared by the latency commands (profile, latency, validate, lut). */
#ifndef HWNAS_CLI_LAT_CLI_H
#define HWNAS_CLI_LAT_CLI_H

#include "db/db.h"
#include "latency/table.h"

/* Checks --threads and --cpu, sets the kernel thread count and pins to cpu
 * (-1: no pinning). Returns CLI_EXIT_OK or prints and returns an exit code. */
int lat_cli_setup(const char *cmd, int threads, int cpu);
/* Opens the database (created when missing) and the table of device `sel`
 * (NULL: this machine with `threads` threads). Returns CLI_EXIT_OK, or
 * prints the error, closes what it opened and returns CLI_EXIT_FAIL. */
int lat_cli_open(const char *db_flag, const char *sel, int threads, struct db **db,
                 struct lat_table *t);
/* Applies --runs/--warmup overrides (runs 0, warmup -1: keep) to t's timing; a --runs value
 * is then the fixed sample count. */
void lat_cli_timing(struct lat_table *t, int runs, int warmup);
/* "device 3 (0123456789abcdef, 1 thread, this machine)" into buf. */
void lat_cli_device_name(const struct lat_table *t, char *buf, int n);
/* The calibration a run predicts with, as text a run's config keeps so a
 * resume can tell when `profile` refitted it in between: lat_calib_text's
 * "A us + B x sum + C us/Mparams[ + D us/MMACs]", or "none (the plain sum)"
 * when c is NULL. */
void lat_cli_calib_text(const struct lut_calib *c, char *buf, size_t size);

#endif
