/* The full crash matrix (tests/crash_matrix.h): every long command killed
 * with SIGKILL at several random moments, resumed, and checked; prints one
 * row a command and exits 1 unless every failure, integrity, loss, duplicate
 * and mismatch count is 0. Figures: bench/RESULTS.md#crash-matrix.
 *
 *   make hwnas build/bench/crash_matrix
 *   build/bench/crash_matrix [--seed S] [--kills K] [--only COMMAND] [--reduced]
 *
 * Runs $HWNAS_BIN (default ./build/hwnas) from $HWNAS_ROOT (default .). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/crash_matrix.h"

int main(int argc, char **argv)
{
    struct crash_opts o = {.seed = 1, .kills = 30, .span = 1.0, .full = 1};
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            o.seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--kills") && i + 1 < argc)
            o.kills = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--reduced"))
            o.full = 0, o.kills = 2, o.span = 0.8;
        else {
            fprintf(stderr, "usage: %s [--seed S] [--kills K] [--only COMMAND] [--reduced]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.kills < 1 || o.kills > 1000) {
        fprintf(stderr, "--kills: %d is not in [1, 1000]\n", o.kills);
        return 2;
    }
    char cwd[PATH_MAX], bin[PATH_MAX + 16];
    if (!getcwd(cwd, sizeof cwd))
        return 2;
    snprintf(bin, sizeof bin, "%s/build/hwnas", cwd);
    setenv("HWNAS_ROOT", cwd, 0);
    setenv("HWNAS_BIN", bin, 0);
    printf("crash matrix: seed %llu, %d kills per command, %s settings\n\n",
           (unsigned long long)o.seed, o.kills, o.full ? "full" : "reduced");
    printf("%-15s %6s %8s %7s %6s %9s %6s %10s %10s %7s %7s\n", "command", "kills", "advanced",
           "resumes", "failed", "integrity", "losses", "duplicates", "mismatches", "ref_s",
           "crash_s");
    int bad = 0, ran = 0;
    for (int i = 0; i < crash_matrix_size(o.full); i++) {
        if (only && strcmp(only, crash_matrix_command(i)) != 0)
            continue;
        struct crash_tally t;
        crash_matrix_run(i, &o, &t);
        char kills[16];
        snprintf(kills, sizeof kills, "%d/%d", t.kills, t.planned);
        printf("%-15s %6s %8d %7d %6d %9d %6d %10d %10d %7.1f %7.1f\n", t.command, kills,
               t.advanced, t.resumes, t.failed, t.integrity, t.losses, t.duplicates,
               t.mismatches, t.ref_s, t.crash_s);
        if (t.report)
            fprintf(stderr, "%s", t.report);
        fflush(stdout);
        bad += !crash_tally_clean(&t);
        ran++;
        crash_tally_release(&t);
    }
    if (!ran) {
        fprintf(stderr, "--only: no command '%s'\n", only);
        return 2;
    }
    return bad ? 1 : 0;
}
