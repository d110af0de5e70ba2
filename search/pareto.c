#include "search/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int valid(const struct pareto_point *p)
{
    return isfinite(p->lat_ms) && isfinite(p->acc);
}

/* Whether a (at index ia) pushes b (at ib) off the front; exact ties go to
 * the lower index so one copy survives. */
static int dominates(const struct pareto_point *a, int ia, const struct pareto_point *b, int ib)
{
    if (a->lat_ms > b->lat_ms || a->acc < b->acc)
        return 0;
    if (a->lat_ms < b->lat_ms || a->acc > b->acc)
        return 1;
    return ia < ib;
}

int pareto_front(const struct pareto_point *pts, int n, int *idx)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!valid(&pts[i]))
            continue;
        int dominated = 0;
        for (int j = 0; j < n && !dominated; j++)
            dominated = j != i && valid(&pts[j]) && dominates(&pts[j], j, &pts[i], i);
        if (dominated)
            continue;
        /* insertion by latency; front members have distinct latencies */
        int k = m++;
        while (k > 0 && pts[idx[k - 1]].lat_ms > pts[i].lat_ms) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = i;
    }
    return m;
}

/* An axis: data range [lo, hi] mapped to pixels [p0, p1], ticks every step. */
struct axis {
    double lo, hi, step;
    double p0, p1;
};

static double axis_px(const struct axis *a, double v)
{
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* Expands [lo, hi] to multiples of a 1-2-5 step giving about 5 ticks. */
static struct axis axis_make(double lo, double hi, double p0, double p1)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? 0.1 * fabs(lo) : 1.0;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), step = 10 * mag;
    static const double mult[] = {1, 2, 5};
    for (int i = 0; i < 3; i++)
        if (mult[i] * mag >= raw) {
            step = mult[i] * mag;
            break;
        }
    return (struct axis){floor(lo / step) * step, ceil(hi / step) * step, step, p0, p1};
}

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void put_circle(FILE *f, const struct axis *x, const struct axis *y,
                       const struct pareto_point *p, const char *cls, double r)
{
    fprintf(f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"><title>%.4g ms, %.2f %%"
               "</title></circle>\n",
            cls, axis_px(x, p->lat_ms), axis_px(y, 100 * p->acc), r, p->lat_ms, 100 * p->acc);
}

/* Tick lines and labels along one axis; vertical = the y axis. */
static void put_ticks(FILE *f, const struct axis *a, const struct axis *other, int vertical)
{
    for (int i = 0; a->lo + i * a->step <= a->hi + 1e-9 * a->step; i++) {
        double v = a->lo + i * a->step, p = axis_px(a, v);
        if (fabs(v) < 1e-12 * a->step)
            v = 0; /* no "-0" label */
        if (vertical)
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                    other->p0, p, other->p1, p, other->p0 - 6, p + 4, v);
        else
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                    p, other->p0, p, other->p1, p, other->p0 + 18, v);
    }
}

int pareto_svg_write(FILE *f, const struct pareto_point *pts, int n,
                     const struct pareto_svg_opts *opts, struct hw_err *err)
{
    int w = opts && opts->width > 0 ? opts->width : 720;
    int h = opts && opts->height > 0 ? opts->height : 480;
    double target = opts ? opts->target_ms : 0;
    int *front = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    char *on_front = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!front || !on_front) {
        free(front);
        free(on_front);
        return hw_error(err, HW_ENOMEM, "pareto svg: out of memory for %d points", n);
    }
    int m = pareto_front(pts, n, front);
    for (int i = 0; i < m; i++)
        on_front[front[i]] = 1;

    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int drawn = 0;
    for (int i = 0; i < n; i++) {
        if (!valid(&pts[i]))
            continue;
        drawn++;
        xlo = fmin(xlo, pts[i].lat_ms);
        xhi = fmax(xhi, pts[i].lat_ms);
        ylo = fmin(ylo, 100 * pts[i].acc);
        yhi = fmax(yhi, 100 * pts[i].acc);
    }
    if (target > 0) {
        xlo = fmin(xlo, target);
        xhi = fmax(xhi, target);
    }
    if (!isfinite(xlo)) { xlo = 0; xhi = 1; }
    if (!isfinite(ylo)) { ylo = 0; yhi = 100; }
    /* margins: left for y labels, bottom for x labels */
    struct axis x = axis_make(xlo, xhi, 70, w - 20);
    struct axis y = axis_make(ylo, yhi, h - 50, 40);

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", w, h, w, h);
    fputs("<style>.grid{stroke:#e4e4e4}.axis{stroke:#333}.cand{fill:#9aa5b1;fill-opacity:0.6}"
          ".front{fill:#d9480f;stroke:#fff}.frontline{fill:none;stroke:#d9480f;stroke-width:2}"
          ".target{stroke:#1971c2;stroke-dasharray:6 4;stroke-width:1.5}</style>\n", f);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    if (opts && opts->title) {
        fprintf(f, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", w / 2);
        put_escaped(f, opts->title);
        fputs("</text>\n", f);
    }
    /* legend as coloured text, so every <circle> is a data point */
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"><tspan fill=\"#d9480f\">&#9679; "
               "Pareto front (%d)</tspan>  <tspan fill=\"#9aa5b1\">&#9679; all candidates (%d)"
               "</tspan></text>\n", w - 20, h - 12, m, drawn);
    put_ticks(f, &x, &y, 0);
    put_ticks(f, &y, &x, 1);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            x.p0, y.p0, x.p1, y.p0);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            x.p0, y.p0, x.p0, y.p1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">latency (ms)</text>\n",
            (x.p0 + x.p1) / 2, h - 12);
    fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">"
               "validation accuracy (%%)</text>\n", (y.p0 + y.p1) / 2);
    if (target > 0) {
        double tx = axis_px(&x, target);
        fprintf(f, "<line class=\"target\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1971c2\">target %.4g ms</text>\n",
                tx, y.p0, tx, y.p1, tx + 4, y.p1 + 12, target);
    }
    for (int i = 0; i < n; i++)
        if (valid(&pts[i]) && !on_front[i])
            put_circle(f, &x, &y, &pts[i], "cand", 3);
    if (m > 0) {
        fputs("<polyline class=\"frontline\" points=\"", f);
        for (int i = 0; i < m; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", axis_px(&x, pts[front[i]].lat_ms),
                    axis_px(&y, 100 * pts[front[i]].acc));
        fputs("\"/>\n", f);
    }
    for (int i = 0; i < m; i++)
        put_circle(f, &x, &y, &pts[front[i]], "front", 4.5);
    fputs("</svg>\n", f);
    free(front);
    free(on_front);
    if (ferror(f))
        return hw_error(err, HW_EIO, "pareto svg: write failed");
    return HW_OK;
}

int pareto_svg_string(char **out, const struct pareto_point *pts, int n,
                      const struct pareto_svg_opts *opts, struct hw_err *err)
{
    size_t len;
    *out = NULL;
    FILE *f = open_memstream(out, &len);
    if (!f)
        return hw_error(err, HW_ENOMEM, "pareto svg: cannot open a memory stream");
    int rc = pareto_svg_write(f, pts, n, opts, err);
    if (fclose(f) != 0 && rc == HW_OK)
        rc = hw_error(err, HW_ENOMEM, "pareto svg: memory stream failed");
    if (rc != HW_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
