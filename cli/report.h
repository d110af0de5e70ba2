/* The HTML report of a search run (hwnas runs report): one self-contained
 * page, inline CSS and SVG, no script and nothing fetched (its
 * Content-Security-Policy refuses both, so a browser reports any slip as a
 * console error). Sections: the run's header; the best reward over trials;
 * the accuracy/latency scatter with the Pareto front (the same drawing as
 * `runs pareto --svg`); the latency table's validation on the run's device
 * (predicted vs measured whole networks) or how to get one; the top
 * candidates with their timm block strings. Every string from the database
 * is HTML-escaped. */
#ifndef HWNAS_CLI_REPORT_H
#define HWNAS_CLI_REPORT_H

#include <stdio.h>

#include "util/err.h"

struct db_candidate;
struct db_run;
struct db_validation;
struct pareto_point;

/* What the page shows; every pointer is borrowed. */
struct cli_report {
    const struct db_run *run;
    const struct db_candidate *cands; /* every candidate, trial order */
    const struct pareto_point *pts;   /* cands[i] as `runs pareto` draws it */
    int n;
    const struct db_candidate *top; /* the best by reward, best first */
    int n_top;
    const struct db_validation *val; /* the device's newest validation; NULL: none */
};

/* Writes the page to f. HW_EIO if f fails, HW_ENOMEM. A validation whose
 * stored samples cannot be read is reported in its section, not refused. */
int cli_report_write(FILE *f, const struct cli_report *r, struct hw_err *err);

#endif
