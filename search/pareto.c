#include "search/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/plot.h"

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

int pareto_svg_write(FILE *f, const struct pareto_point *pts, int n,
                     const struct pareto_svg_opts *opts, struct hw_err *err)
{
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
    if (!isfinite(ylo)) { ylo = 0; yhi = 100; }
    struct plot_opts po = {
        opts ? opts->title : NULL, "latency (ms)", "validation accuracy (%)",
        ".cand{fill:#9aa5b1;fill-opacity:0.6}.front{fill:#d9480f;stroke:#fff}"
        ".frontline{fill:none;stroke:#d9480f;stroke-width:2}"
        ".target{stroke:#1971c2;stroke-dasharray:6 4;stroke-width:1.5}",
        opts ? opts->width : 0, opts ? opts->height : 0};
    struct plot p;
    plot_begin(&p, f, &po, xlo, xhi, ylo, yhi);
    char front_key[48], all_key[48], text[64];
    snprintf(front_key, sizeof front_key, "Pareto front (%d)", m);
    snprintf(all_key, sizeof all_key, "all candidates (%d)", drawn);
    plot_legend(&p, (const struct plot_key[]){{"#d9480f", front_key}, {"#9aa5b1", all_key}}, 2);
    if (target > 0) {
        snprintf(text, sizeof text, "target %.4g ms", target);
        plot_vline(&p, "target", target, text, "#1971c2");
    }
    for (int i = 0; i < n; i++)
        if (valid(&pts[i]) && !on_front[i]) {
            snprintf(text, sizeof text, "%.4g ms, %.2f %%", pts[i].lat_ms, 100 * pts[i].acc);
            plot_circle(&p, "cand", pts[i].lat_ms, 100 * pts[i].acc, 3, text);
        }
    if (m > 0) {
        plot_poly_begin(&p, "frontline", 0);
        for (int i = 0; i < m; i++)
            plot_poly_point(&p, pts[front[i]].lat_ms, 100 * pts[front[i]].acc);
        plot_poly_end(&p);
    }
    for (int i = 0; i < m; i++) {
        const struct pareto_point *q = &pts[front[i]];
        snprintf(text, sizeof text, "%.4g ms, %.2f %%", q->lat_ms, 100 * q->acc);
        plot_circle(&p, "front", q->lat_ms, 100 * q->acc, 4.5, text);
    }
    free(front);
    free(on_front);
    return plot_end(&p, "pareto svg", err);
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
