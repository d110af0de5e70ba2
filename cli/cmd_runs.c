/* hwnas runs list|show|pareto|report: what searches have found (rerank:
 * cmd_rerank.c; the report's page: report.c). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/report.h"
#include "db/db.h"
#include "search/pareto.h"
#include "search/reward.h"
#include "util/binfile.h"

static const char *db_flag;
static int show_top = 10;
static const char *svg_path;
static const char *html_path;
static int report_top = 10;
static int json;

static const struct cli_flag list_flags[] = {
    {"db", CLI_STR, &db_flag, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
    {"json", CLI_BOOL, &json, NULL, "JSON output"},
    {0},
};
static const struct cli_flag show_flags[] = {
    {"db", CLI_STR, &db_flag, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
    {"top", CLI_INT, &show_top, "N", "candidates to list, best reward first (default 10)"},
    {"json", CLI_BOOL, &json, NULL, "JSON output"},
    {0},
};
static const struct cli_flag pareto_flags[] = {
    {"db", CLI_STR, &db_flag, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
    {"svg", CLI_STR, &svg_path, "FILE", "also draw the front as an SVG scatter into FILE"},
    {"json", CLI_BOOL, &json, NULL, "JSON output"},
    {0},
};

static const struct cli_flag report_flags[] = {
    {"db", CLI_STR, &db_flag, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
    {"html", CLI_STR, &html_path, "FILE", "the page to write (required; replaced atomically)"},
    {"top", CLI_INT, &report_top, "N", "candidates in the table, best reward first (default 10)"},
    {"json", CLI_BOOL, &json, NULL, "JSON output"},
    {0},
};

static const struct cli_command runs_list = {
    "runs list", "List the search runs in the database.", "hwnas runs list [--db FILE] [--json]",
    list_flags, 0, 0};
static const struct cli_command runs_show = {
    "runs show", "Show a run's configuration and its best candidates.",
    "hwnas runs show RUN [--top N] [--json]", show_flags, 1, 1};
static const struct cli_command runs_pareto = {
    "runs pareto",
    "The accuracy/latency Pareto front of a run: candidates no other beats on both\n"
    "validation accuracy and predicted latency.",
    "hwnas runs pareto RUN [--svg FILE] [--json]", pareto_flags, 1, 1};
static const struct cli_command runs_report = {
    "runs report",
    "Write one self-contained HTML page about a run (inline SVG and CSS, no script,\n"
    "nothing fetched): its configuration, the best reward over trials with every\n"
    "candidate's reward, the accuracy/latency scatter with the Pareto front and the\n"
    "target, the latency table's predicted vs measured whole networks on the run's\n"
    "device (from 'hwnas validate'), and the top candidates with their timm block\n"
    "strings. Open it in any browser.",
    "hwnas runs report RUN --html FILE [--top N] [--json]", report_flags, 1, 1};

static int open_db(struct db **db, struct hw_err *e)
{
    return db_open(db, cli_db_path(db_flag), DB_OPEN_EXISTING, e);
}

/* Opens the database and looks run `name` up; on failure nothing stays open. */
static int open_run(const char *name, struct db **db, struct db_run *r, struct hw_err *e)
{
    int rc = open_db(db, e);
    if (rc == HW_OK && (rc = db_run_lookup(*db, name, r, e)))
        db_close(*db);
    return rc;
}

static int do_list(const char *unused)
{
    struct hw_err e;
    struct db *db;
    if (open_db(&db, &e))
        return cli_fail(&e);
    struct db_run *runs;
    int n;
    if (db_run_list(db, &runs, &n, &e)) {
        db_close(db);
        return cli_fail(&e);
    }
    cJSON *root = json ? cli_json_root() : NULL, *arr = cJSON_AddArrayToObject(root, "runs");
    if (!json)
        printf("%-4s %-20s %-10s %-10s %10s %8s %9s %-8s %s\n", "id", "name", "space",
               "controller", "target_ms", "trials", "best_acc", "status", "updated");
    for (int i = 0; i < n; i++) {
        int count = 0;
        struct db_candidate *best = NULL;
        int nb = 0;
        db_candidate_count(db, runs[i].id, &count, &e);
        db_candidate_list(db, runs[i].id, DB_ORDER_REWARD, 1, &best, &nb, &e);
        double best_acc = nb > 0 ? best[0].val_acc : NAN;
        if (json) {
            cJSON *o = cli_json_run(&runs[i], count);
            cJSON_AddNumberToObject(o, "best_reward", nb > 0 ? best[0].reward : NAN);
            cJSON_AddNumberToObject(o, "best_reward_val_acc_pct", 100 * best_acc);
            cJSON_AddItemToArray(arr, o);
        } else {
            char acc[16] = "-";
            if (isfinite(best_acc))
                snprintf(acc, sizeof acc, "%.2f%%", 100 * best_acc);
            printf("%-4lld %-20s %-10s %-10s %10.3f %8d %9s %-8s %s\n", (long long)runs[i].id,
                   runs[i].name, runs[i].space, runs[i].controller, runs[i].target_ms, count,
                   acc, db_run_status_name(runs[i].status), runs[i].updated_at);
        }
        db_candidate_list_free(best, nb);
    }
    if (n == 0 && !json)
        printf("(no runs yet: start one with 'hwnas search')\n");
    db_run_list_free(runs, n);
    db_close(db);
    return json ? cli_json_print(root) : CLI_EXIT_OK;
}

static void print_candidate_header(void)
{
    printf("%6s %-10s %12s %8s %8s %10s %10s %9s %8s %8s  %s\n", "trial", "status",
           "predicted_ms", "val_acc", "val_loss", "train_loss", "reward", "MACs", "params",
           "wall_s", "worker");
}

static void print_candidate(const struct db_candidate *c)
{
    char loss[16] = "-", tloss[16] = "-"; /* not recorded before schema 5 / 7 */
    if (!isnan(c->val_loss))
        snprintf(loss, sizeof loss, "%.4f", c->val_loss);
    if (!isnan(c->train_loss))
        snprintf(tloss, sizeof tloss, "%.4f", c->train_loss);
    /* "-": evaluated by the searching process itself (no MPI worker) */
    printf("%6d %-10s %12.4f %7.2f%% %8s %10s %10.5f %8.2fM %7.3fM %8.1f  %s\n", c->trial,
           db_cand_status_name(c->status), c->predicted_ms, 100 * c->val_acc, loss, tloss, c->reward,
           (double)c->macs / 1e6, (double)c->params / 1e6, c->wall_s,
           c->worker[0] ? c->worker : "-");
}

/* The reward's quality term of a run: its config's "score" ("acc" when
 * absent, as for a run from before --score, or unknown). */
static enum reward_score run_score(const cJSON *cfg)
{
    const char *score = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "score"));
    int kind = score ? reward_score_parse(score) : -1;
    return kind < 0 ? REWARD_SCORE_ACC : (enum reward_score)kind;
}

static cJSON *show_json(const struct db_run *r, int count, int used, cJSON *cfg,
                        const cJSON *space_copy, const struct db_candidate *cs, int n,
                        const struct db_rerank *rr, int nr)
{
    cJSON *o = cli_json_root();
    cJSON_AddItemToObject(o, "run", cli_json_run(r, count));
    cJSON_AddStringToObject(o, "score", reward_score_name(run_score(cfg)));
    cJSON_AddNumberToObject(o, "pending", used > count ? used - count : 0);
    if (cfg)
        cJSON_AddItemReferenceToObject(o, "config", cfg);
    else
        cJSON_AddNullToObject(o, "config");
    if (cJSON_IsString(space_copy))
        cJSON_AddNumberToObject(o, "space_json_bytes",
                                (double)strlen(cJSON_GetStringValue(space_copy)));
    else
        cJSON_AddNullToObject(o, "space_json_bytes");
    cJSON *top = cJSON_AddArrayToObject(o, "top");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(top, cli_json_candidate(&cs[i]));
    cJSON *ra = cJSON_AddArrayToObject(o, "reranks");
    for (int i = 0; i < nr; i++)
        cJSON_AddItemToArray(ra, cli_json_rerank(&rr[i]));
    return o;
}

static void show_text(const struct db_run *r, int count, int used, const cJSON *cfg,
                      const cJSON *space_copy, const struct db_candidate *cs, int n,
                      const struct db_rerank *rr, int nr)
{
    printf("run %lld '%s': space %s, controller %s, status %s\n", (long long)r->id, r->name,
           r->space, r->controller, db_run_status_name(r->status));
    enum reward_score kind = run_score(cfg);
    const char *q = kind == REWARD_SCORE_LOSS         ? "exp(-val_loss)"
                    : kind == REWARD_SCORE_TRAIN_LOSS ? "exp(-train_loss)"
                                                      : "ACC";
    printf("target %.4f ms, reward %s x (LAT/T)^w with w = %g under / %g over the target\n",
           r->target_ms, q, r->w_alpha, r->w_beta);
    printf("seed %llu, trials %d of %d, time budget %s, device %lld\n",
           (unsigned long long)r->seed, count, r->trials_max,
           r->time_budget_s > 0 ? "set" : "none", (long long)r->device_id);
    if (used > count)
        printf("%d candidate%s proposed but not evaluated yet ('hwnas search --resume %s' "
               "evaluates them first)\n", used - count, used - count == 1 ? "" : "s", r->name);
    char *rest = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    if (rest || r->config_json)
        printf("config %s\n", rest ? rest : r->config_json);
    if (cJSON_IsString(space_copy))
        printf("space file copy kept with the run (%zu bytes)\n",
               strlen(cJSON_GetStringValue(space_copy)));
    cJSON_free(rest);
    printf("created %s, updated %s\n\n", r->created_at, r->updated_at);
    printf("top %d by reward:\n", n);
    print_candidate_header();
    for (int i = 0; i < n; i++)
        print_candidate(&cs[i]);
    if (nr > 0) {
        printf("\nreranked ('hwnas runs rerank'), best first:\n%6s %9s %7s %7s %8s\n", "trial",
               "val_acc", "epochs", "subset", "wall_s");
        for (int i = 0; i < nr; i++)
            printf("%6d %8.2f%% %7d %7d %8.1f\n", rr[i].trial, 100 * rr[i].val_acc,
                   rr[i].epochs, rr[i].subset, rr[i].wall_s);
    }
}

static int do_show(const char *name)
{
    struct hw_err e;
    struct db *db;
    struct db_run r;
    if (open_run(name, &db, &r, &e))
        return cli_fail(&e);
    int count = 0, used = 0;
    db_candidate_count(db, r.id, &count, &e);
    db_trials_used(db, r.id, &used, &e);
    struct db_candidate *cs = NULL;
    struct db_rerank *rr = NULL;
    int n = 0, nr = 0, exit_code = CLI_EXIT_OK;
    int rc = db_candidate_list(db, r.id, DB_ORDER_REWARD, show_top, &cs, &n, &e);
    if (rc == HW_OK)
        rc = db_rerank_list(db, r.id, &rr, &nr, &e);
    if (rc == HW_OK) {
        /* the config without the space file's copy, which runs to kilobytes
         * of escaped JSON: its size stands in for it */
        cJSON *cfg = r.config_json ? cJSON_Parse(r.config_json) : NULL;
        cJSON *space_copy = cJSON_DetachItemFromObjectCaseSensitive(cfg, "space_json");
        if (json)
            exit_code =
                cli_json_print(show_json(&r, count, used, cfg, space_copy, cs, n, rr, nr));
        else
            show_text(&r, count, used, cfg, space_copy, cs, n, rr, nr);
        cJSON_Delete(space_copy);
        cJSON_Delete(cfg);
    }
    db_candidate_list_free(cs, n);
    free(rr);
    db_run_release(&r);
    db_close(db);
    return rc ? cli_fail(&e) : exit_code;
}

/* The candidates (trial order) as points of the accuracy/latency plane, as
 * `runs pareto` and the report draw them; malloc'd, NULL when out of memory. */
static struct pareto_point *run_points(const struct db_candidate *cs, int n)
{
    struct pareto_point *pts = malloc(sizeof *pts * (size_t)(n ? n : 1));
    for (int i = 0; pts && i < n; i++) /* duplicates repeat a point: leave them out */
        pts[i] = (struct pareto_point){cs[i].predicted_ms,
                                       cs[i].status == DB_CAND_OK ? cs[i].val_acc : NAN};
    return pts;
}

static int do_pareto(const char *name)
{
    struct hw_err e;
    struct db *db;
    struct db_run r;
    if (open_run(name, &db, &r, &e))
        return cli_fail(&e);
    struct db_candidate *cs = NULL;
    int n = 0, nf = 0, rc = db_candidate_list(db, r.id, DB_ORDER_TRIAL, 0, &cs, &n, &e);
    struct pareto_point *pts = rc ? NULL : run_points(cs, n);
    int *idx = rc ? NULL : malloc(sizeof *idx * (size_t)(n ? n : 1));
    if (!rc && (!pts || !idx))
        rc = hw_error(&e, HW_ENOMEM, "out of memory for %d candidates", n);
    if (!rc) {
        nf = pareto_front(pts, n, idx);
        if (!json) {
            printf("run '%s': %d candidates, %d on the accuracy/latency front (target %.4f ms)\n",
                   r.name, n, nf, r.target_ms);
            print_candidate_header();
            for (int i = 0; i < nf; i++)
                print_candidate(&cs[idx[i]]);
        }
        if (svg_path) {
            FILE *f = fopen(svg_path, "w");
            char title[256];
            snprintf(title, sizeof title, "hwnas run %s: %s, %s", r.name, r.space, r.controller);
            struct pareto_svg_opts o = {title, r.target_ms, 0, 0};
            if (!f)
                rc = hw_error(&e, HW_EIO, "%s: cannot write", svg_path);
            else {
                rc = pareto_svg_write(f, pts, n, &o, &e);
                if (fclose(f) != 0 && !rc)
                    rc = hw_error(&e, HW_EIO, "%s: write failed", svg_path);
            }
            if (!rc && !json)
                printf("front drawn to %s\n", svg_path);
        }
    }
    int exit_code = CLI_EXIT_OK;
    if (!rc && json) {
        cJSON *o = cli_json_root(), *front = NULL;
        cJSON_AddItemToObject(o, "run", cli_json_run(&r, n));
        if (svg_path)
            cJSON_AddStringToObject(o, "svg_file", svg_path);
        else
            cJSON_AddNullToObject(o, "svg_file");
        front = cJSON_AddArrayToObject(o, "front");
        for (int i = 0; i < nf; i++)
            cJSON_AddItemToArray(front, cli_json_candidate(&cs[idx[i]]));
        exit_code = cli_json_print(o);
    }
    free(pts);
    free(idx);
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    db_close(db);
    return rc ? cli_fail(&e) : exit_code;
}

/* The newest validation of the device with its samples stored, into *v
 * (release it) with *found 1; *found 0 when there is none. */
static int device_validation(struct db *db, int64_t device_id, struct db_validation *v,
                             int *found, struct hw_err *e)
{
    struct db_validation *vs = NULL;
    int nv = 0, rc = device_id > 0 ? db_validation_list(db, device_id, &vs, &nv, e) : HW_OK;
    *found = 0;
    for (int i = 0; !rc && i < nv && !*found; i++)
        if (vs[i].samples > 0 && vs[i].details_json) {
            *v = vs[i];
            vs[i].details_json = NULL; /* moved to *v */
            *found = 1;
        }
    db_validation_list_free(vs, nv);
    return rc;
}

static int do_report(const char *name)
{
    if (!html_path || !html_path[0])
        return cli_usage_error(&runs_report, "--html FILE is required");
    if (report_top < 1)
        return cli_usage_error(&runs_report, "--top: %d is not positive", report_top);
    struct hw_err e;
    struct db *db;
    struct db_run r;
    if (open_run(name, &db, &r, &e))
        return cli_fail(&e);
    struct db_candidate *cs = NULL, *top = NULL;
    struct db_validation v = {0};
    struct pareto_point *pts = NULL;
    char *page = NULL;
    size_t len = 0;
    int n = 0, nt = 0, has_val = 0;
    int rc = db_candidate_list(db, r.id, DB_ORDER_TRIAL, 0, &cs, &n, &e);
    int shown = 0; /* the first report_top distinct archs of top[0..nt) */
    if (!rc)
        rc = db_candidate_list(db, r.id, DB_ORDER_REWARD, 0, &top, &nt, &e);
    for (int i = 0; !rc && i < nt && shown < report_top; i++) {
        int dup = 0;
        for (int j = 0; j < shown && !dup; j++)
            dup = strcmp(top[j].arch_hash, top[i].arch_hash) == 0;
        if (!dup) { /* swapped, not copied: each row keeps its own strings */
            struct db_candidate t = top[shown];
            top[shown++] = top[i];
            top[i] = t;
        }
    }
    if (!rc)
        rc = device_validation(db, r.device_id, &v, &has_val, &e);
    if (!rc && !(pts = run_points(cs, n)))
        rc = hw_error(&e, HW_ENOMEM, "out of memory for %d candidates", n);
    if (!rc) {
        struct cli_report rep = {&r, cs, pts, n, top, shown, has_val ? &v : NULL};
        FILE *f = open_memstream(&page, &len);
        if (!f)
            rc = hw_error(&e, HW_ENOMEM, "report: cannot open a memory stream");
        else {
            rc = cli_report_write(f, &rep, &e);
            if (fclose(f) != 0 && !rc)
                rc = hw_error(&e, HW_ENOMEM, "report: memory stream failed");
        }
    }
    if (!rc)
        rc = bin_write_atomic(html_path, page, len, &e);
    int exit_code = CLI_EXIT_OK;
    if (!rc && json) {
        cJSON *o = cli_json_root();
        cJSON_AddItemToObject(o, "run", cli_json_run(&r, n));
        cJSON_AddNumberToObject(o, "top", shown);
        if (has_val)
            cJSON_AddNumberToObject(o, "validation", (double)v.id);
        else
            cJSON_AddNullToObject(o, "validation");
        cJSON_AddStringToObject(o, "html_file", html_path);
        exit_code = cli_json_print(o);
    } else if (!rc) {
        printf("report written to %s\n", html_path);
    }
    free(page);
    free(pts);
    if (has_val)
        db_validation_release(&v);
    db_candidate_list_free(top, nt);
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    db_close(db);
    return rc ? cli_fail(&e) : exit_code;
}

/* Parses a subcommand's flags, then runs it with its one positional (if any). */
static int run_sub(const struct cli_command *cmd, int (*fn)(const char *arg), int argc, char **argv)
{
    char *pv[argc + 1];
    int npos, rc = cli_parse(cmd, argc, argv, pv, &npos);
    if (rc == CLI_EXIT_OK)
        return fn(npos ? pv[0] : NULL);
    return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

static int runs_list_cmd(int argc, char **argv) { return run_sub(&runs_list, do_list, argc, argv); }
static int runs_show_cmd(int argc, char **argv) { return run_sub(&runs_show, do_show, argc, argv); }
static int runs_pareto_cmd(int argc, char **argv)
{
    return run_sub(&runs_pareto, do_pareto, argc, argv);
}
static int runs_report_cmd(int argc, char **argv)
{
    return run_sub(&runs_report, do_report, argc, argv);
}

int cmd_runs(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"list", runs_list_cmd, "every search run"},
        {"show", runs_show_cmd, "a run's configuration and best candidates"},
        {"pareto", runs_pareto_cmd, "the accuracy/latency front (--svg FILE to draw it)"},
        {"report", runs_report_cmd, "one HTML page about a run (--html FILE)"},
        {"rerank", cmd_runs_rerank, "train the best candidates again, longer, to pick the winner"},
        {0},
    };
    return cli_dispatch("runs", subs, argc, argv);
}
