#include "util/plot.h"

#include <math.h>
#include <string.h>

/* Expands [lo, hi] to multiples of a 1-2-5 step giving about 5 ticks. */
static struct plot_axis axis_make(double lo, double hi, double p0, double p1)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
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
    return (struct plot_axis){floor(lo / step) * step, ceil(hi / step) * step, step, p0, p1};
}

double plot_px(const struct plot_axis *a, double v)
{
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

void plot_put_escaped(FILE *f, const char *s)
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

/* Tick lines and labels along one axis; vertical = the y axis. */
static void put_ticks(FILE *f, const struct plot_axis *a, const struct plot_axis *other,
                      int vertical)
{
    for (int i = 0; a->lo + i * a->step <= a->hi + 1e-9 * a->step; i++) {
        double v = a->lo + i * a->step, p = plot_px(a, v);
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

void plot_begin(struct plot *p, FILE *f, const struct plot_opts *opts, double xlo, double xhi,
                double ylo, double yhi)
{
    int w = opts->width > 0 ? opts->width : 720, h = opts->height > 0 ? opts->height : 480;
    /* margins: left for y labels, bottom for x labels and the legend */
    *p = (struct plot){f, w, h, axis_make(xlo, xhi, 70, w - 20), axis_make(ylo, yhi, h - 50, 40),
                       0};
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", w, h, w, h);
    fprintf(f, "<style>.grid{stroke:#e4e4e4}.axis{stroke:#333}%s</style>\n",
            opts->css ? opts->css : "");
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    if (opts->title) {
        fprintf(f, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", w / 2);
        plot_put_escaped(f, opts->title);
        fputs("</text>\n", f);
    }
    put_ticks(f, &p->x, &p->y, 0);
    put_ticks(f, &p->y, &p->x, 1);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            p->x.p0, p->y.p0, p->x.p1, p->y.p0);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            p->x.p0, p->y.p0, p->x.p0, p->y.p1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", (p->x.p0 + p->x.p1) / 2,
            h - 12);
    plot_put_escaped(f, opts->x_label);
    fprintf(f, "</text>\n<text transform=\"translate(18 %.1f) rotate(-90)\" "
               "text-anchor=\"middle\">", (p->y.p0 + p->y.p1) / 2);
    plot_put_escaped(f, opts->y_label);
    fputs("</text>\n", f);
}

int plot_end(struct plot *p, const char *what, struct hw_err *err)
{
    fputs("</svg>\n", p->f);
    if (ferror(p->f))
        return hw_error(err, HW_EIO, "%s: write failed", what);
    return HW_OK;
}

void plot_circle(struct plot *p, const char *cls, double x, double y, double r,
                 const char *title)
{
    fprintf(p->f, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\">", cls,
            plot_px(&p->x, x), plot_px(&p->y, y), r);
    if (title) {
        fputs("<title>", p->f);
        plot_put_escaped(p->f, title);
        fputs("</title>", p->f);
    }
    fputs("</circle>\n", p->f);
}

void plot_poly_begin(struct plot *p, const char *cls, int closed)
{
    fprintf(p->f, "<%s class=\"%s\" points=\"", closed ? "polygon" : "polyline", cls);
    p->poly_n = 0;
}

void plot_poly_point(struct plot *p, double x, double y)
{
    fprintf(p->f, "%s%.1f,%.1f", p->poly_n++ ? " " : "", plot_px(&p->x, x), plot_px(&p->y, y));
}

void plot_poly_end(struct plot *p)
{
    fputs("\"/>\n", p->f);
}

const char *plot_label_place(int width, double lx, size_t len, double *x)
{
    double text_px = (double)len * PLOT_CHAR_PX;
    if (lx + 4 + text_px <= width - 2) {
        *x = lx + 4;
        return "start";
    }
    /* left of the line, or flush with the right edge when even that fails */
    *x = fmin(fmax(lx - 4, text_px + 2), width - 2);
    return "end";
}

void plot_vline(struct plot *p, const char *cls, double x, const char *label,
                const char *colour)
{
    double px = plot_px(&p->x, x), tx;
    fprintf(p->f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", cls, px,
            p->y.p0, px, p->y.p1);
    if (label) {
        const char *anchor = plot_label_place(p->width, px, strlen(label), &tx);
        fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">", tx,
                p->y.p1 + 12, anchor, colour);
        plot_put_escaped(p->f, label);
        fputs("</text>", p->f);
    }
    fputc('\n', p->f);
}

void plot_legend(struct plot *p, const struct plot_key *keys, int n)
{
    fprintf(p->f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", p->width - 20, p->height - 12);
    for (int i = 0; i < n; i++) {
        fprintf(p->f, "%s<tspan fill=\"%s\">&#9679; ", i ? "  " : "", keys[i].colour);
        plot_put_escaped(p->f, keys[i].text);
        fputs("</tspan>", p->f);
    }
    fputs("</text>\n", p->f);
}
