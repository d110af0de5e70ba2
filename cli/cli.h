/* Shared pieces of the hwnas command line: the flag parser every command
 * uses, exit codes and the common --db resolution.
 *
 * Exit codes: 0 success, 1 the work failed (bad file, missing table, ...),
 * 2 usage error (unknown flag, bad flag value, missing argument). */
#ifndef HWNAS_CLI_CLI_H
#define HWNAS_CLI_CLI_H

#include <stddef.h>

#include "util/err.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
/* Returned by cli_parse when --help was printed: the command exits 0. */
#define CLI_HELP_SHOWN 3

/* The release, from the Makefile's VERSION. */
#ifndef HWNAS_VERSION
#define HWNAS_VERSION "0.1.0"
#endif

/* A numeric macro as a string literal, so flag help quotes the real default:
 * "(default " CLI_STR_OF(EVAL_PROXY_SUBSET) ")". */
#define CLI_STR_OF_(x) #x
#define CLI_STR_OF(x) CLI_STR_OF_(x)

enum cli_flag_type {
    CLI_BOOL,   /* int*: set to 1 when present */
    CLI_INT,    /* int*  */
    CLI_LONG,   /* long* */
    CLI_DOUBLE, /* double* */
    CLI_STR,    /* const char**: points into argv */
    CLI_DURATION, /* double* seconds: "90", "90s", "30m", "2h" */
};

struct cli_flag {
    const char *name;    /* without dashes: "seed" for --seed */
    enum cli_flag_type type;
    void *dest;
    const char *metavar; /* "N", "FILE"; NULL for bools */
    const char *help;
};

struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;   /* "hwnas space show NAME|FILE [flags]" */
    const struct cli_flag *flags; /* terminated by {0} */
    int min_pos, max_pos; /* positional argument counts (max -1: any) */
};

/* Parses argv (argv[0] is the command word) against cmd's flags. Positional
 * arguments are collected into pos (capacity argc). Returns CLI_EXIT_OK,
 * CLI_EXIT_USAGE after printing one line to stderr naming the flag and value,
 * or CLI_HELP_SHOWN after printing the usage to stdout. */
int cli_parse(const struct cli_command *cmd, int argc, char **argv,
              char **pos, int *npos);
/* Prints usage and flag list of cmd to stdout. */
void cli_print_help(const struct cli_command *cmd);
/* Prints "hwnas: <msg>" to stderr and returns CLI_EXIT_FAIL. */
int cli_fail(const struct hw_err *err);
/* Prints "hwnas <cmd>: <fmt...>" to stderr and returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Runs hwnas again with OPENBLAS_CORETYPE=SkylakeX when OpenBLAS loaded
 * weaker kernels than this CPU runs and the user set no core type
 * (cli/blas_core.c); returns when nothing is to be done. */
void cli_choose_blas_core(char **argv);

/* A note for the user when OPENBLAS_CORETYPE, set by them, holds OpenBLAS to
 * weaker kernels than this CPU runs; 0 when there is none. */
int cli_blas_core_note(char *buf, size_t size);

struct db_run;
struct space;
/* For a new search run: path gets the space's name, or its file's absolute
 * path; *text (malloc'd) a copy of the file, NULL for a shipped space. */
int cli_space_record(const char *name_or_file, char *path, size_t size, char **text,
                     struct hw_err *err);
/* The space run searched: its stored copy ("space_json" in its config) when
 * it has one, so it resumes from any folder and after the file moved or
 * changed (with a warning); else its space name or file as recorded. */
int cli_run_space(const struct db_run *run, struct space *out, struct hw_err *err);

/* Database path: the --db flag if given, else $HWNAS_DB, else ./hwnas.db. */
const char *cli_db_path(const char *flag_value);
/* A decimal number (digits, point, exponent) with an optional one-letter
 * suffix from `suffixes` scaling it by the matching entry of mults ("250k"
 * with "kKMm", {1e3, 1e3, 1e6, 1e6}). HW_EINVAL for anything else: hex,
 * inf, NaN, out of range, trailing text. */
int cli_parse_scaled(const char *s, const char *suffixes, const double *mults, double *v);
/* Parses a duration like "90", "90s", "30m", "1.5h" into seconds. */
int cli_parse_duration(const char *s, double *seconds);

/* A subcommand of a two-word command ("hwnas lut export"). */
struct cli_subcommand {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand word */
    const char *summary;
};

/* Runs the subcommand named by argv[1] from subs (terminated by {0}); with
 * --help or no/unknown subcommand prints the list (stdout for --help, exit 0;
 * stderr otherwise, exit 2). */
int cli_dispatch(const char *cmd, const struct cli_subcommand *subs, int argc, char **argv);

struct arch;
struct arch_input;
/* An arch from a built-in name, an arch JSON file or a model file (the arch
 * a trained model was saved with, e.g. a NetAdapt result); in (may be NULL)
 * changes a built-in's input size and classes. */
int cli_resolve_arch(const char *name_or_file, const struct arch_input *in, struct arch *out,
                     struct hw_err *err);

/* Common flags every command accepts, set by the dispatcher. */
extern int cli_quiet;

#endif
