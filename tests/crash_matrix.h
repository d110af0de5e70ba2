/* The crash matrix (issue 31): each long command of hwnas is killed with
 * SIGKILL at random moments and resumed (run again, for a command without
 * --resume) until it finishes. After every kill and at the end the database
 * passes integrity_check and foreign_key_check, every model and supernet
 * file in the run's folder loads, nothing finished is lost or stored twice,
 * and the end result equals an uninterrupted run's where the command is
 * deterministic (one training thread, a fixed seed). One driver serves the
 * Check suite `crash` (a reduced matrix) and bench/crash_matrix (the full
 * one: bench/RESULTS.md#crash-matrix).
 *
 * Kill moments are drawn by PCG32 from (seed, command) and the uninterrupted
 * run's measured times: anywhere in one run for a command that starts over
 * (train, validate); for the others at even odds in a run's start-up or in
 * the unit of work after its first store. A seed names the moments again;
 * what the process was doing at a moment still depends on the machine's
 * load. hwnas is run as tests/cli_run.h runs it ($HWNAS_BIN from
 * $HWNAS_ROOT), with one OpenMP and BLAS thread (the driver sets
 * OMP_NUM_THREADS and OPENBLAS_NUM_THREADS to 1 in this process), in a
 * folder /tmp/hwnas-<command>-XXXXXX that is removed unless something went
 * wrong. */
#ifndef HWNAS_TESTS_CRASH_MATRIX_H
#define HWNAS_TESTS_CRASH_MATRIX_H

#include <stdint.h>

struct crash_opts {
    uint64_t seed; /* of the kill moments */
    int kills;     /* moments drawn per command */
    double span;   /* moments fall in this share of a run or of a unit of work */
    int full;      /* the bench's larger settings: more trials, samples, epochs */
};

/* What one command's row of the matrix found; every count from failed on
 * must be 0. */
struct crash_tally {
    const char *command; /* static */
    int planned;         /* kill moments drawn */
    int kills;           /* of them, those that killed a running process */
    int resumes;         /* runs started after a kill */
    int advanced;        /* kills after which more was stored than after the one
                          * before (the others came in a start-up, or in a run that
                          * restarts and stores only at its end) */
    int failed;          /* runs (the setup's and the reference's too) that exited nonzero */
    int integrity;       /* checks that found the database or an output file damaged */
    int losses;          /* finished records gone later, or missing from their numbering */
    int duplicates;      /* records stored twice */
    int mismatches;      /* differences from the uninterrupted run's result */
    double ref_s;        /* the uninterrupted run */
    double crash_s;      /* every run of the interrupted one, the killed ones included */
    char *report;        /* one line a problem, each naming the seed and the kill; NULL
                          * when there was none (owned: crash_tally_release) */
};

/* The commands of the matrix, 0..crash_matrix_size(full)-1; the full one
 * adds a search scored by a supernet. */
int crash_matrix_size(int full);
const char *crash_matrix_command(int i);

/* Runs command i's row: setup, the uninterrupted reference, o->kills kills
 * with their checks, the last run and the comparison; fills *t. */
void crash_matrix_run(int i, const struct crash_opts *o, struct crash_tally *t);
/* Whether t counts no failure, damage, loss, duplicate or mismatch. */
int crash_tally_clean(const struct crash_tally *t);
/* Frees t's report. */
void crash_tally_release(struct crash_tally *t);

#endif
