#include "cli/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "search/pareto.h"
#include "space/arch_json.h"
#include "space/export.h"
#include "util/plot.h"

/* The page's own style; each chart brings its classes in its <svg>. */
static const char page_css[] =
    "body{font-family:sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;"
    "color:#212529;background:#fff}"
    "h1{font-size:22px;margin-bottom:8px}"
    "h2{font-size:17px;margin-top:32px;border-bottom:1px solid #dee2e6;padding-bottom:4px}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0}"
    "dt{color:#495057}dd{margin:0}.note{color:#495057}"
    "table{border-collapse:collapse;font-size:13px}"
    "th,td{padding:4px 8px;border-bottom:1px solid #e9ecef;text-align:right}"
    "th{background:#f1f3f5}.blocks{text-align:left}td.blocks{font-family:monospace;font-size:12px}";

static void put(FILE *f, const char *s)
{
    plot_put_escaped(f, s);
}

/* One <dt>/<dd> pair of the header; the value is escaped. */
static void put_field(FILE *f, const char *name, const char *value)
{
    fprintf(f, "<dt>%s</dt><dd>", name);
    put(f, value);
    fputs("</dd>\n", f);
}

static void put_header(FILE *f, const struct cli_report *r)
{
    const struct db_run *run = r->run;
    char text[160];
    fputs("<header><h1>hwnas run ", f);
    put(f, run->name);
    fputs("</h1>\n<dl>\n", f);
    put_field(f, "space", run->space);
    put_field(f, "controller", run->controller);
    snprintf(text, sizeof text, "%.4g ms (reward weight %g under, %g over)", run->target_ms,
             run->w_alpha, run->w_beta);
    put_field(f, "target", text);
    if (run->trials_max > 0)
        snprintf(text, sizeof text, "%d of %d", r->n, run->trials_max);
    else
        snprintf(text, sizeof text, "%d (no trial limit)", r->n);
    put_field(f, "trials", text);
    put_field(f, "status", db_run_status_name(run->status));
    snprintf(text, sizeof text, "%lld", (long long)run->device_id);
    put_field(f, "device", text);
    snprintf(text, sizeof text, "%s, updated %s", run->created_at, run->updated_at);
    put_field(f, "created", text);
    fputs("</dl></header>\n", f);
}

/* (a): every candidate's reward as a faint dot and the best so far as a
 * step line, over trials. */
static int put_reward(FILE *f, const struct cli_report *r, struct hw_err *err)
{
    double lo = INFINITY, hi = -INFINITY;
    int scored = 0, last = 0, best_trial = 0;
    for (int i = 0; i < r->n; i++)
        if (isfinite(r->cands[i].reward)) {
            lo = fmin(lo, r->cands[i].reward);
            hi = fmax(hi, r->cands[i].reward);
            last = r->cands[i].trial;
            scored++;
        }
    fputs("<section id=\"reward\"><h2>Best reward over trials</h2>\n", f);
    if (scored == 0) {
        fputs("<p class=\"note\">No candidate has a reward yet.</p></section>\n", f);
        return HW_OK;
    }
    struct plot_opts po = {NULL, "trial", "reward",
                           ".dot{fill:#868e96;fill-opacity:0.6}"
                           ".best{fill:none;stroke:#2f9e44;stroke-width:2}", 0, 0};
    struct plot p;
    char text[64];
    plot_begin(&p, f, &po, 0, last, lo, hi);
    plot_legend(&p, (const struct plot_key[]){{"#2f9e44", "best so far"},
                                              {"#868e96", "each candidate"}}, 2);
    for (int i = 0; i < r->n; i++)
        if (isfinite(r->cands[i].reward)) {
            snprintf(text, sizeof text, "trial %d: reward %.4f", r->cands[i].trial,
                     r->cands[i].reward);
            plot_circle(&p, "dot", r->cands[i].trial, r->cands[i].reward, 3, text);
        }
    plot_poly_begin(&p, "best", 0);
    double best = -INFINITY;
    for (int i = 0; i < r->n; i++) {
        double v = r->cands[i].reward;
        if (!(v > best))
            continue;
        if (isfinite(best)) /* the step: along the old best, then up */
            plot_poly_point(&p, r->cands[i].trial, best);
        plot_poly_point(&p, r->cands[i].trial, v);
        best = v;
        best_trial = r->cands[i].trial;
    }
    plot_poly_point(&p, last, best);
    plot_poly_end(&p);
    int rc = plot_end(&p, "report", err);
    fprintf(f, "<p class=\"note\">%d of %d candidates scored; the best reward, %.4f, came at "
               "trial %d.</p></section>\n", scored, r->n, best, best_trial);
    return rc;
}

/* (b): the same drawing as `runs pareto --svg`. */
static int put_pareto(FILE *f, const struct cli_report *r, struct hw_err *err)
{
    fputs("<section id=\"pareto\"><h2>Accuracy and latency</h2>\n", f);
    struct pareto_svg_opts o = {NULL, r->run->target_ms, 0, 0};
    int rc = pareto_svg_write(f, r->pts, r->n, &o, err);
    fputs("<p class=\"note\">Validation accuracy of each evaluated candidate against the "
          "latency the table predicts; the front holds those no other candidate beats on "
          "both, the dashed line is the run's target.</p></section>\n", f);
    return rc;
}

/* The validation's stored samples as predicted and measured milliseconds
 * (each array malloc'd, the caller frees them); how many, 0 when none is
 * readable, -1 when out of memory. */
static int validation_samples(const struct db_validation *v, double **pred, double **meas)
{
    cJSON *root = v->details_json ? cJSON_Parse(v->details_json) : NULL;
    int n = cJSON_IsArray(root) ? cJSON_GetArraySize(root) : 0, k = 0;
    *pred = malloc(sizeof **pred * (size_t)(n ? n : 1));
    *meas = malloc(sizeof **meas * (size_t)(n ? n : 1));
    if (!*pred || !*meas) {
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, root) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "predicted_us");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "measured_us");
        if (cJSON_IsNumber(p) && cJSON_IsNumber(m) && p->valuedouble > 0 &&
            m->valuedouble > 0 && isfinite(p->valuedouble) && isfinite(m->valuedouble)) {
            (*pred)[k] = p->valuedouble / 1000;
            (*meas)[k++] = m->valuedouble / 1000;
        }
    }
    cJSON_Delete(root);
    return k;
}

/* The predicted-vs-measured scatter: y = x, the +-5 % band around it. */
static int put_validation_chart(FILE *f, const double *pred, const double *meas, int n,
                                struct hw_err *err)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, fmin(pred[i], meas[i]));
        hi = fmax(hi, fmax(pred[i], meas[i]));
    }
    struct plot_opts po = {NULL, "measured latency (ms)", "predicted latency (ms)",
                           ".band{fill:#74c0fc;fill-opacity:0.3}"
                           ".diag{fill:none;stroke:#1971c2;stroke-width:1.5}"
                           ".meas{fill:#e8590c;fill-opacity:0.8}", 0, 0};
    struct plot p;
    plot_begin(&p, f, &po, fmax(0, lo), hi, fmax(0, lo), hi);
    plot_legend(&p, (const struct plot_key[]){{"#e8590c", "networks"}, {"#1971c2", "y = x"},
                                              {"#74c0fc", "\xc2\xb1" "5 %"}}, 3);
    /* The band between y = 0.95 x and y = 1.05 x, cut to the plot's square
     * (both axes got the same range, so p.x and p.y agree). */
    double a = p.x.lo, b = p.x.hi;
    plot_poly_begin(&p, "band", 1);
    plot_poly_point(&p, a, a);
    plot_poly_point(&p, a / 0.95, a);
    plot_poly_point(&p, b, 0.95 * b);
    plot_poly_point(&p, b, b);
    plot_poly_point(&p, b / 1.05, b);
    plot_poly_point(&p, a, 1.05 * a);
    plot_poly_end(&p);
    plot_poly_begin(&p, "diag", 0);
    plot_poly_point(&p, a, a);
    plot_poly_point(&p, b, b);
    plot_poly_end(&p);
    char text[96];
    for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "predicted %.4f ms, measured %.4f ms (%+.1f %%)", pred[i],
                 meas[i], 100 * (pred[i] / meas[i] - 1));
        plot_circle(&p, "meas", meas[i], pred[i], 3.5, text);
    }
    return plot_end(&p, "report", err);
}

/* (c): the latency table against whole networks measured on the run's
 * device, or one sentence on how to get that. */
static int put_validation(FILE *f, const struct cli_report *r, struct hw_err *err)
{
    const struct db_validation *v = r->val;
    fputs("<section id=\"latency\"><h2>Latency table: predicted vs measured</h2>\n", f);
    double *pred = NULL, *meas = NULL;
    int n = v ? validation_samples(v, &pred, &meas) : 0, rc = HW_OK;
    if (n < 0) {
        rc = hw_error(err, HW_ENOMEM, "report: out of memory for validation %lld's samples",
                      (long long)v->id);
    } else if (n == 0) {
        fprintf(f, "<p class=\"note\">No whole-network latency measurements are stored for "
                   "device %lld, so the table's predictions are not checked here: "
                   "<code>hwnas validate --space ", (long long)r->run->device_id);
        put(f, r->run->space);
        fputs("</code> on that machine measures some.</p>\n", f);
    } else {
        rc = put_validation_chart(f, pred, meas, n, err);
        fprintf(f, "<p class=\"note\">Validation %lld of device %lld (space ", (long long)v->id,
                (long long)v->device_id);
        put(f, v->space);
        fprintf(f, ", %s): %d networks timed end to end; RMSPE %.1f %%, %.0f %% within "
                   "&#177;5 %%, %.0f %% within &#177;10 %%.</p>\n", v->created_at, n,
                100 * v->rmspe, 100 * v->within5, 100 * v->within10);
    }
    fputs("</section>\n", f);
    free(pred);
    free(meas);
    return rc;
}

/* A count as 950, 12.3k or 4.56M. */
static void put_count(FILE *f, int64_t v)
{
    if (v < 1000)
        fprintf(f, "<td>%lld</td>", (long long)v);
    else if (v < 1000000)
        fprintf(f, "<td>%.1fk</td>", v / 1e3);
    else
        fprintf(f, "<td>%.2fM</td>", v / 1e6);
}

/* A candidate's arch as timm's one-line block string, or why not. */
static void put_blocks(FILE *f, const struct db_candidate *c)
{
    struct arch a;
    struct hw_err e;
    char *text = NULL;
    fputs("<td class=\"blocks\">", f);
    if (arch_from_json_string(c->arch_json, "candidate", &a, &e) == HW_OK &&
        arch_to_timm_line(&a, &text, &e) == HW_OK)
        put(f, text);
    else
        put(f, e.msg);
    fputs("</td>", f);
    free(text);
}

/* (d): the best candidates by reward. */
static void put_top(FILE *f, const struct cli_report *r)
{
    fprintf(f, "<section id=\"top\"><h2>Top %d distinct candidates by reward</h2>\n", r->n_top);
    if (r->n_top == 0) {
        fputs("<p class=\"note\">No candidates yet.</p></section>\n", f);
        return;
    }
    fputs("<table><thead><tr><th>trial</th><th class=\"blocks\">blocks (timm)</th><th>reward</th>"
          "<th>val. accuracy</th><th>latency (ms)</th><th>params</th><th>MACs</th>"
          "<th>evaluator</th></tr></thead><tbody>\n", f);
    for (int i = 0; i < r->n_top; i++) {
        const struct db_candidate *c = &r->top[i];
        fprintf(f, "<tr><td>%d</td>", c->trial);
        put_blocks(f, c);
        if (isfinite(c->reward))
            fprintf(f, "<td>%.4f</td>", c->reward);
        else
            fputs("<td>-</td>", f);
        if (isfinite(c->val_acc))
            fprintf(f, "<td>%.2f %%</td>", 100 * c->val_acc);
        else
            fputs("<td>-</td>", f);
        fprintf(f, "<td>%.4f</td>", c->predicted_ms);
        put_count(f, c->params);
        put_count(f, c->macs);
        fputs("<td>", f);
        put(f, c->evaluator[0] ? c->evaluator : "proxy");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n<p class=\"note\">Blocks as timm's arch_def strings "
          "(<code>hwnas export RUN --format timm</code> writes them as a list).</p>"
          "</section>\n", f);
}

int cli_report_write(FILE *f, const struct cli_report *r, struct hw_err *err)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>hwnas run ", f);
    put(f, r->run->name);
    fprintf(f, "</title>\n<style>%s</style>\n</head><body>\n", page_css);
    put_header(f, r);
    int rc = put_reward(f, r, err);
    if (rc == HW_OK)
        rc = put_pareto(f, r, err);
    if (rc == HW_OK)
        rc = put_validation(f, r, err);
    if (rc == HW_OK)
        put_top(f, r);
    fputs("<footer class=\"note\"><p>Written by hwnas " HWNAS_VERSION ".</p></footer>\n"
          "</body></html>\n", f);
    if (rc == HW_OK && ferror(f))
        rc = hw_error(err, HW_EIO, "report: write failed");
    return rc;
}
