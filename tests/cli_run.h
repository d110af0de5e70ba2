/* Runs the built hwnas binary for CLI tests and captures what it printed.
 *
 * The binary is $HWNAS_BIN (set by `make test`/`make asan`), run from
 * $HWNAS_ROOT (the repo root) through /bin/sh, so args are shell words.
 * $HWNAS_RUNNER, when set, prefixes the command (an emulator for a
 * cross-built binary: make check-aarch64 sets qemu-aarch64). */
#ifndef HWNAS_TESTS_CLI_RUN_H
#define HWNAS_TESTS_CLI_RUN_H

#include <sys/types.h>

struct cli_run {
    int status;  /* exit code, or -1 if the process did not exit normally */
    char *out;   /* everything written to stdout, NUL-terminated (owned) */
    char *err;   /* everything written to stderr, NUL-terminated (owned) */
};

/* Runs "$HWNAS_BIN <args>" and fills r. Returns 0, or -1 when the command
 * could not be run at all (no HWNAS_BIN, no temp files): r is then empty. */
int cli_run(struct cli_run *r, const char *args);
/* Starts "$HWNAS_BIN <args>" as cli_run does, without waiting: its stdout
 * and stderr are appended to the file log (NULL: dropped). The process id
 * (hwnas's own: the shell execs it; the caller waits for it), or -1 when
 * it could not be started. */
pid_t cli_spawn(const char *args, const char *log);
/* Frees r's buffers. */
void cli_run_release(struct cli_run *r);

/* A two-block space of 64 archs, small enough to profile in a second or two. */
extern const char cli_tiny_space[];
/* Makes a fresh folder /tmp/hwnas-<tag>-XXXXXX (its path into dir, 64
 * bytes) holding cli_tiny_space as tiny.json; 0, or -1 on failure. */
int cli_tiny_dir(char *dir, const char *tag);
/* Removes such a folder with everything in it; 0, or -1 on failure. */
int cli_tiny_dir_remove(const char *dir);

/* A NetAdapt starting point in dir (made by cli_tiny_dir): the tiny space
 * profiled into db_path, a 3-layer arch of it trained briefly into
 * dir/m.hwm; its predicted latency into *l0_ms. 0, or -1 with what failed in
 * why. */
int cli_na_fixture(const char *dir, const char *db_path, double *l0_ms, char *why, int why_size);
/* Every proposal of NetAdapt run 1 in db_path as a line each, after a line
 * with the run's end state (malloc'd); NULL when it cannot be read. */
char *cli_na_history(const char *db_path);

#endif
