/* SVG charts written straight to a stream: axes with round ticks, points,
 * lines, a reference line with a label that stays inside the picture, and a
 * text legend. One drawing code for every chart hwnas makes (the Pareto
 * scatter of `runs pareto --svg`, the charts of `runs report`).
 *
 * Usage: plot_begin, any drawing calls in data coordinates, plot_end. Every
 * <circle> written is a data point (the legend is coloured text), so a reader
 * of the SVG can count them. Each chart's CSS classes are its own (the
 * caller's css string): charts inlined in one HTML page share one style
 * sheet, so a class means the same thing in every chart. */
#ifndef HWNAS_UTIL_PLOT_H
#define HWNAS_UTIL_PLOT_H

#include <stdio.h>

#include "util/err.h"

/* Data range [lo, hi] mapped to pixels [p0, p1], ticks every step. */
struct plot_axis {
    double lo, hi, step;
    double p0, p1;
};

struct plot {
    FILE *f; /* borrowed */
    int width, height;
    struct plot_axis x, y;
    int poly_n; /* points of the open polyline or polygon so far */
};

struct plot_opts {
    const char *title;            /* drawn at the top, XML-escaped; NULL = none */
    const char *x_label, *y_label; /* axis units, XML-escaped */
    const char *css;              /* the chart's own rules, e.g. ".dot{fill:#999}"; may be NULL */
    int width, height;            /* pixels; 0 = 720 x 480 */
};

/* Opens an SVG of opts' size on f whose axes cover [xlo, xhi] x [ylo, yhi]
 * (widened to round ticks; non-finite bounds fall back to [0, 1]) and
 * draws the background, title, grid, ticks, axes and their labels. */
void plot_begin(struct plot *p, FILE *f, const struct plot_opts *opts, double xlo, double xhi,
                double ylo, double yhi);
/* Closes the SVG; HW_EIO naming what (e.g. "pareto svg") if f failed. */
int plot_end(struct plot *p, const char *what, struct hw_err *err);

/* Pixel coordinates of data values. */
double plot_px(const struct plot_axis *a, double v);

/* A circle of radius r at data (x, y) with class cls and, when title is not
 * NULL, a tooltip (XML-escaped). */
void plot_circle(struct plot *p, const char *cls, double x, double y, double r,
                 const char *title);
/* A <polyline> (closed = 0) or <polygon> (closed = 1) of class cls through the
 * data points given to plot_poly_point, in order, until plot_poly_end. */
void plot_poly_begin(struct plot *p, const char *cls, int closed);
void plot_poly_point(struct plot *p, double x, double y);
void plot_poly_end(struct plot *p);
/* A full-height vertical line at data x with label (XML-escaped, may be
 * NULL) in colour beside its top: right of the line where it fits in the
 * picture, else left of it (plot_label_place). */
void plot_vline(struct plot *p, const char *cls, double x, const char *label,
                const char *colour);

/* A legend entry: a coloured dot and its text. */
struct plot_key {
    const char *colour, *text; /* text XML-escaped */
};
/* The n keys right-aligned along the bottom edge. */
void plot_legend(struct plot *p, const struct plot_key *keys, int n);

/* Writes s to f with & < > " escaped (XML and HTML text and attributes). */
void plot_put_escaped(FILE *f, const char *s);

/* The text-anchor ("start" or "end") and x at which a label of len
 * characters at font size 12 sits beside a line at pixel lx, 4 px off it,
 * inside [0, width]: right of the line when it fits, else left of it. */
const char *plot_label_place(int width, double lx, size_t len, double *x);
/* A generous width of one character at font size 12 in a sans-serif font
 * (digits and lower case are about 6.7 px; wide capitals reach 9). */
#define PLOT_CHAR_PX 7.5

#endif
