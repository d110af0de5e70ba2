/* The accuracy/latency Pareto front of a search and its SVG scatter plot.
 * A point dominates another if it is no slower and no less accurate, and
 * strictly better in one of the two. Points with a non-finite coordinate are
 * ignored (neither on the front nor drawn). */
#ifndef HWNAS_SEARCH_PARETO_H
#define HWNAS_SEARCH_PARETO_H

#include <stdio.h>

#include "util/err.h"

struct pareto_point {
    double lat_ms; /* minimised */
    double acc;    /* maximised; a fraction in [0, 1] (the SVG shows percent) */
};

/* Writes the indices of the non-dominated points of pts[0..n) into idx
 * (caller-owned, room for n) ordered by increasing latency, and returns how
 * many there are. Of several identical points only the first is kept.
 * O(n^2) time, no allocation: fine for the few thousand candidates of a run. */
int pareto_front(const struct pareto_point *pts, int n, int *idx);

struct pareto_svg_opts {
    const char *title;  /* drawn at the top, XML-escaped; NULL = none */
    double target_ms;   /* vertical target line; <= 0 = none */
    int width, height;  /* pixels; 0 = 720 x 480 */
};

/* Writes a standalone SVG scatter (util/plot): every point a circle (front
 * points highlighted and joined in latency order), the target line with its
 * label inside the picture, axes with ticks and the units "latency (ms)" /
 * "validation accuracy (%)". Each circle has a <title> tooltip with its
 * values. The <svg> element also serves inline in HTML (hwnas runs report).
 * HW_EIO if the stream fails. */
int pareto_svg_write(FILE *f, const struct pareto_point *pts, int n,
                     const struct pareto_svg_opts *opts, struct hw_err *err);

/* The same SVG as a NUL-terminated string in *out (caller frees). */
int pareto_svg_string(char **out, const struct pareto_point *pts, int n,
                      const struct pareto_svg_opts *opts, struct hw_err *err);

#endif
