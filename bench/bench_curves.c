/* Best-reward-so-far curves of stored search runs (issue 30: rl, evolution
 * and random on the supernet evaluator, 3 seeds each), read from the
 * database: the best reward after each power-of-two-ish number of trials,
 * the trial that first reached the run's final best, the mean reward of the
 * first and of the last 100 trials (a policy that learns proposes better
 * archs on average, not only a better best), the share of duplicates (archs
 * proposed again), and the evaluation seconds per trial.
 *
 *   build/bench/bench_curves DB RUN [RUN...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"

static const int marks[] = {50, 100, 200, 500, 1000, 2000, 3000, 5000, 8000, 12000};
#define N_MARKS (int)(sizeof marks / sizeof marks[0])

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_curves DB RUN [RUN...]\n");
        return 2;
    }
    struct db *db;
    struct hw_err e;
    if (db_open(&db, argv[1], DB_OPEN_EXISTING, &e)) {
        fprintf(stderr, "bench_curves: %s\n", e.msg);
        return 1;
    }
    printf("%-14s %6s", "run", "trials");
    for (int m = 0; m < N_MARKS; m++)
        printf(" %7d", marks[m]);
    printf("  %8s %7s %7s %6s %6s\n", "best@", "mean1st", "meanlst", "dup%", "s/eval");
    for (int r = 2; r < argc; r++) {
        struct db_run run;
        struct db_candidate *cs;
        int n;
        if (db_run_lookup(db, argv[r], &run, &e) ||
            db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &n, &e)) {
            fprintf(stderr, "bench_curves: %s\n", e.msg);
            return 1;
        }
        double best = -INFINITY, wall = 0, first = 0, last = 0;
        int nf = 0, nl = 0;
        int best_at = -1, dups = 0, evals = 0, m = 0;
        printf("%-14s %6d", run.name, n);
        for (int i = 0; i < n; i++) {
            if (isfinite(cs[i].reward) && cs[i].reward > best) {
                best = cs[i].reward;
                best_at = i;
            }
            if (isfinite(cs[i].reward) && i < 100)
                first += cs[i].reward, nf++;
            if (isfinite(cs[i].reward) && i >= n - 100)
                last += cs[i].reward, nl++;
            if (cs[i].status == DB_CAND_DUPLICATE)
                dups++;
            else if (cs[i].status == DB_CAND_OK)
                wall += cs[i].wall_s, evals++;
            while (m < N_MARKS && i + 1 == marks[m]) {
                printf(" %7.4f", best);
                m++;
            }
        }
        for (; m < N_MARKS; m++)
            printf(" %7s", "-");
        printf("  %8d %7.4f %7.4f %5.1f%% %6.2f\n", best_at, nf ? first / nf : NAN,
               nl ? last / nl : NAN, n ? 100.0 * dups / n : 0, evals ? wall / evals : 0);
        db_candidate_list_free(cs, n);
        db_run_release(&run);
    }
    db_close(db);
    return 0;
}
