/* hwnas export RUN: a search's winning architecture (or its front) as arch
 * JSON, timm block strings or MnasNet strings; optionally trained for real.
 * hwnas export MODEL --format onnx: a trained model with its weights as ONNX
 * (also RUN --train-final E --format onnx: train the choice, then export it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "db/db.h"
#include "deploy/onnx.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "search/pareto.h"
#include "space/arch_json.h"
#include "space/export.h"
#include "util/progress.h"

struct export_opts {
    const char *db, *format, *out, *model, *data, *norm;
    int best, pareto, id, train_final, threads, reranked, json;
};

static int write_arch(FILE *f, const char *format, const struct arch *a, const char *label,
                      struct hw_err *err)
{
    char *text = NULL;
    int rc = HW_OK;
    if (!strcmp(format, "json")) {
        text = arch_to_json_string(a);
        if (!text)
            return hw_error(err, HW_ENOMEM, "out of memory writing %s", label);
    } else if (!strcmp(format, "timm")) {
        rc = arch_to_timm(a, &text, err);
    } else {
        rc = arch_to_mnasnet(a, &text, err);
    }
    if (rc)
        return rc;
    if (strcmp(format, "json") != 0)
        fprintf(f, "# %s\n", label);
    fprintf(f, "%s\n", text);
    free(text);
    return HW_OK;
}

/* The arch stored with a candidate, named after the run and trial. */
static int candidate_arch(const struct db_run *r, const struct db_candidate *c, struct arch *a,
                          struct hw_err *err)
{
    char src[160];
    snprintf(src, sizeof src, "run %s trial %d", r->name, c->trial);
    int rc = arch_from_json_string(c->arch_json, src, a, err);
    if (rc == HW_OK)
        snprintf(a->name, sizeof a->name, "%s-t%d", r->name, c->trial);
    return rc;
}

/* Trains the chosen arch for real and reports validation and test accuracy
 * of the saved model; the model is registered in the database. With report
 * (--json) the report goes there as a "train_final" object instead. */
static int train_final(struct db *db, const struct db_run *r, const struct db_candidate *c,
                       const struct arch *a, const struct export_opts *o, char *model,
                       size_t model_size, cJSON *report, struct hw_err *err)
{
    cJSON *tr = report ? cJSON_AddObjectToObject(report, "train_final") : NULL;
    if (o->model)
        snprintf(model, model_size, "%s", o->model);
    else
        snprintf(model, model_size, "%s-t%d.hwm", r->name, c->trial);
    struct train_config tc;
    train_config_default(&tc);
    tc.epochs = o->train_final;
    tc.threads = o->threads;
    tc.quiet = cli_quiet;
    struct train_result res;
    int rc = cli_train_arch(a, &tc, r->seed, "onecycle", o->data, model, tr, &res, err);
    if (rc)
        return rc;
    double val_acc, test_acc;
    int n_val, n_test;
    const char *name;
    if ((rc = cli_eval_model(model, o->data, 0, TRAIN_EVAL_BATCH, &val_acc, &n_val, &name, err)) ||
        (rc = cli_eval_model(model, o->data, 1, TRAIN_EVAL_BATCH, &test_acc, &n_test, &name, err)))
        return rc;
    if (tr) { /* the saved model's accuracies, as 'hwnas eval' measures them */
        cJSON_AddNumberToObject(tr, "eval_val_acc_pct", 100 * val_acc);
        cJSON_AddNumberToObject(tr, "test_acc_pct", 100 * test_acc);
        cJSON_AddNumberToObject(tr, "test_images", n_test);
    } else {
        printf("%s: validation %.2f%% (%d images), test %.2f%% (%d images), predicted %.4f "
               "ms\n", model, 100 * val_acc, n_val, 100 * test_acc, n_test, c->predicted_ms);
    }
    struct db_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", a->name);
    snprintf(m.path, sizeof m.path, "%s", model);
    m.arch_json = arch_to_json_string(a);
    m.val_acc = val_acc;
    m.test_acc = test_acc;
    m.source = DB_MODEL_CANDIDATE;
    m.source_id = c->id;
    rc = db_model_add(db, &m, err);
    free(m.arch_json);
    return rc;
}

/* --norm MEAN,STD: both finite, STD > 0. */
static int parse_norm(const char *text, float *mean, float *std, struct hw_err *err)
{
    char *end;
    *mean = strtof(text, &end);
    int ok = end != text && *end == ',';
    if (ok) {
        const char *s = end + 1;
        *std = strtof(s, &end);
        ok = end != s && !*end && isfinite(*mean) && isfinite(*std) && *std > 0.f;
    }
    return ok ? HW_OK
              : hw_error(err, HW_EINVAL, "--norm: '%s' is not MEAN,STD with a finite STD > 0 "
                         "(e.g. 0.286,0.353)", text);
}

/* The pixel normalization the model was trained with: --norm MEAN,STD, or
 * the statistics of the training split of the dataset it was trained on
 * (model files do not record it). *source says which, for the report. */
static int model_norm(const struct arch *a, const struct export_opts *o, float *mean,
                      float *std, char *source, size_t source_size, struct hw_err *err)
{
    if (o->norm) {
        snprintf(source, source_size, "--norm");
        return parse_norm(o->norm, mean, std, err);
    }
    const char *dir = o->data ? o->data : DATA_DEFAULT_DIR;
    snprintf(source, source_size, "the training split of %s; pass --norm if the model was "
             "trained on other data", dir);
    struct data_set train, val;
    int rc = data_load_trainval(o->data, a->classes, &train, &val, err);
    if (rc == HW_OK && (train.h != a->in_h || train.w != a->in_w || train.c != a->in_c))
        rc = hw_error(err, HW_EMISMATCH, "%s: images are %dx%dx%d but model '%s' takes "
                      "%dx%dx%d: give its normalization with --norm MEAN,STD", dir, train.h,
                      train.w, train.c, a->name, a->in_h, a->in_w, a->in_c);
    if (rc == HW_OK) {
        *mean = train.mean;
        *std = train.std;
    }
    data_set_release(&train);
    data_set_release(&val);
    return rc;
}

/* A model file's network and weights as ONNX at o->out; with report (--json)
 * what was written is added to it as an "onnx" object. */
static int export_onnx(const char *model, const struct export_opts *o, cJSON *report,
                       struct hw_err *err)
{
    struct nn_net *net = NULL;
    int rc = model_load(model, 2, &net, err);
    float mean = 0.f, std = 1.f;
    char source[1200];
    if (rc == HW_OK)
        rc = model_norm(nn_net_arch(net), o, &mean, &std, source, sizeof source, err);
    if (rc == HW_OK)
        rc = onnx_export(o->out, net, mean, std, err);
    if (rc == HW_OK)
        fprintf(stderr, "wrote %s: %s as ONNX (opset %d), input 'input' Nx%dx%dx%d raw pixels "
                "in [0, 1], output 'logits' Nx%d; the graph normalizes pixels with mean %.4f, "
                "std %.4f (from %s)\n", o->out, nn_net_arch(net)->name, ONNX_OPSET,
                nn_net_arch(net)->in_c, nn_net_arch(net)->in_h, nn_net_arch(net)->in_w,
                nn_net_arch(net)->classes, mean, std, source);
    if (rc == HW_OK && report) {
        cJSON *x = cJSON_AddObjectToObject(report, "onnx");
        cJSON_AddStringToObject(x, "model_file", model);
        cJSON_AddStringToObject(x, "onnx_file", o->out);
        cJSON_AddStringToObject(x, "arch", nn_net_arch(net)->name);
        cJSON_AddNumberToObject(x, "opset", ONNX_OPSET);
        cJSON_AddNumberToObject(x, "norm_mean", mean);
        cJSON_AddNumberToObject(x, "norm_std", std);
        cJSON_AddStringToObject(x, "norm_source", o->norm ? "--norm" : "training split");
    }
    nn_net_free(net);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    struct export_opts o = {.format = "json", .id = -1, .threads = 2};
    const struct cli_flag flags[] = {
        {"best", CLI_BOOL, &o.best, NULL, "the candidate with the best reward"},
        {"reranked", CLI_BOOL, &o.reranked, NULL,
         "the candidate with the best accuracy after 'hwnas runs rerank'"},
        {"id", CLI_INT, &o.id, "N", "the candidate of trial N (as 'hwnas runs show' lists)"},
        {"pareto", CLI_BOOL, &o.pareto, NULL, "every candidate on the accuracy/latency front"},
        {"format", CLI_STR, &o.format, "F",
         "json (hwnas arch), timm (arch_def strings), mnasnet, or onnx (graph and weights)"},
        {"out", CLI_STR, &o.out, "FILE", "write to FILE instead of stdout"},
        {"train-final", CLI_INT, &o.train_final, "E",
         "train the chosen arch on the 50k split for E epochs; report val and test accuracy"},
        {"model", CLI_STR, &o.model, "FILE", "model file for --train-final (default RUN-tN.hwm)"},
        {"threads", CLI_INT, &o.threads, "T", "training threads for --train-final (default 2)"},
        {"data", CLI_STR, &o.data, "DIR", "IDX dataset folder (default " DATA_DEFAULT_DIR ")"},
        {"norm", CLI_STR, &o.norm, "MEAN,STD",
         "onnx: pixel normalization (default: that of --data's training split)"},
        {"db", CLI_STR, &o.db, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
        {"json", CLI_BOOL, &o.json, NULL, "report what was written where as JSON (needs --out)"},
        {0},
    };
    const struct cli_command cmd = {
        "export",
        "Export a search run's chosen architecture: as hwnas arch JSON (loadable by every\n"
        "command), timm arch_def block strings or MnasNet block strings. With\n"
        "--train-final E the architecture is trained for real and saved with its weights.\n"
        "\n"
        "--format onnx writes a deployable model: the network with its weights (BN\n"
        "folded), input 'input' float32 N x C x H x W of raw pixels in [0, 1] (the\n"
        "dataset normalization is the graph's first nodes), output 'logits' N x classes,\n"
        "opset 14. Its source is a model file (hwnas train --out, export --train-final),\n"
        "or a run's choice with --train-final E (trained first, then exported).",
        "hwnas export RUN (--best | --reranked | --id N | --pareto) [--format json|timm|mnasnet]\n"
        "                    [--out FILE] [--train-final E [--model FILE]]\n"
        "       hwnas export MODEL.hwm --format onnx --out FILE.onnx [--norm MEAN,STD]\n"
        "       hwnas export RUN (--best | --reranked | --id N) --train-final E --format onnx\n"
        "                    --out FILE.onnx",
        flags, 1, 1};
    char *pos[argc];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    int onnx = !strcmp(o.format, "onnx"), chosen = o.best + o.reranked + o.pareto + (o.id >= 0);
    if (strcmp(o.format, "json") && strcmp(o.format, "timm") && strcmp(o.format, "mnasnet") &&
        !onnx)
        return cli_usage_error(&cmd, "--format: '%s' is not json, timm, mnasnet or onnx",
                               o.format);
    if (onnx && !o.out)
        return cli_usage_error(&cmd, "--format onnx writes a binary model: give --out FILE.onnx");
    if (onnx && (o.pareto || (chosen && !o.train_final)))
        return cli_usage_error(&cmd, "--format onnx needs weights: export a model file "
                               "(hwnas export MODEL.hwm --format onnx), or one run choice "
                               "with --train-final E (--best, --reranked or --id)");
    if (onnx && !chosen && (o.train_final || o.model))
        return cli_usage_error(&cmd, "--train-final and --model choose a run's candidate: "
                               "'%s' is exported as the model file it names", pos[0]);
    if (o.norm && !onnx)
        return cli_usage_error(&cmd, "--norm is for --format onnx");
    if (o.json && !o.out)
        return cli_usage_error(&cmd, "--json reports what was written where: give --out FILE");
    if (o.norm) { /* refused now, not after a --train-final training */
        float m, sd;
        struct hw_err ne;
        if (parse_norm(o.norm, &m, &sd, &ne))
            return cli_usage_error(&cmd, "%s", ne.msg);
    }
    if (onnx && !chosen) {
        cJSON *report = o.json ? cli_json_root() : NULL;
        struct hw_err e;
        hw_err_clear(&e);
        if (export_onnx(pos[0], &o, report, &e)) {
            cJSON_Delete(report);
            return cli_fail(&e);
        }
        return report ? cli_json_print(report) : CLI_EXIT_OK;
    }
    if (chosen != 1)
        return cli_usage_error(&cmd, "choose exactly one of --best, --reranked, --id N, --pareto");
    if (o.train_final < 0 || (o.train_final && o.pareto))
        return cli_usage_error(&cmd, "--train-final takes a positive epoch count and one arch "
                                     "(--best, --reranked or --id)");
    if (o.threads < 1)
        return cli_usage_error(&cmd, "--threads: %d is not positive", o.threads);

    struct hw_err e;
    hw_err_clear(&e);
    struct db *db;
    if (db_open(&db, cli_db_path(o.db), DB_OPEN_EXISTING, &e))
        return cli_fail(&e);
    cJSON *report = o.json ? cli_json_root() : NULL, *archs = NULL;
    struct db_run r;
    if (db_run_lookup(db, pos[0], &r, &e)) {
        db_close(db);
        return cli_fail(&e);
    }
    struct db_candidate *cs = NULL;
    int n = 0, *pick = NULL, n_pick = 0;
    double rerank_acc = NAN;
    char rerank_note[64] = "";
    rc = db_candidate_list(db, r.id, o.best ? DB_ORDER_REWARD : DB_ORDER_TRIAL, 0, &cs, &n, &e);
    if (!rc && n == 0)
        rc = hw_error(&e, HW_ENOTFOUND, "run '%s' has no candidates yet", r.name);
    if (!rc && !(pick = malloc(sizeof *pick * (size_t)n)))
        rc = hw_error(&e, HW_ENOMEM, "out of memory");
    if (!rc && o.best) {
        pick[n_pick++] = 0;
    } else if (!rc && o.reranked) {
        struct db_rerank *rr = NULL;
        int nr = 0, bi, be, bs;
        rc = db_rerank_list(db, r.id, &rr, &nr, &e);
        if (!rc && !cli_rerank_best(rr, nr, cs, n, r.target_ms, &bi, &rerank_acc, &be, &bs))
            rc = hw_error(&e, HW_ENOTFOUND, "run '%s' has no reranked candidate within its "
                          "target: run 'hwnas runs rerank %s' first", r.name, r.name);
        if (!rc) {
            pick[n_pick++] = bi;
            snprintf(rerank_note, sizeof rerank_note, ", reranked %.2f%% (%d epoch%s)",
                     100 * rerank_acc, be, be == 1 ? "" : "s");
        }
        free(rr);
    } else if (!rc && o.id >= 0) {
        for (int i = 0; i < n; i++)
            if (cs[i].trial == o.id)
                pick[n_pick++] = i;
        if (!n_pick)
            rc = hw_error(&e, HW_ENOTFOUND, "run '%s' has no trial %d (it has trials 0..%d)",
                          r.name, o.id, n - 1);
    } else if (!rc) {
        struct pareto_point *pts = malloc(sizeof *pts * (size_t)n);
        if (!pts)
            rc = hw_error(&e, HW_ENOMEM, "out of memory");
        for (int i = 0; !rc && i < n; i++)
            pts[i] = (struct pareto_point){cs[i].predicted_ms,
                                           cs[i].status == DB_CAND_OK ? cs[i].val_acc : NAN};
        if (!rc)
            n_pick = pareto_front(pts, n, pick);
        free(pts);
    }
    if (!rc && report) {
        static const char *const choices[] = {"best", "reranked", "id", "pareto"};
        cJSON_AddItemToObject(report, "run", cli_json_run(&r, n));
        cJSON_AddStringToObject(report, "choice", choices[o.best ? 0 : o.reranked ? 1
                                                          : o.id >= 0 ? 2 : 3]);
        cJSON_AddNumberToObject(report, "reranked_val_acc_pct", 100 * rerank_acc);
        cJSON_AddStringToObject(report, "format", o.format);
        if (onnx)
            cJSON_AddNullToObject(report, "out_file");
        else
            cJSON_AddStringToObject(report, "out_file", o.out);
        archs = cJSON_AddArrayToObject(report, "archs");
    }
    FILE *f = stdout;
    if (!rc && o.out && !onnx && !(f = fopen(o.out, "w"))) {
        rc = hw_error(&e, HW_EIO, "%s: cannot write: %s", o.out, strerror(errno));
        f = stdout;
    }
    if (!rc && o.pareto && !strcmp(o.format, "json"))
        fprintf(f, "[\n");
    struct arch a;
    for (int k = 0; !rc && k < n_pick; k++) {
        const struct db_candidate *c = &cs[pick[k]];
        char label[256];
        snprintf(label, sizeof label, "run %s trial %d: search val acc %.2f%%%s, predicted %.4f "
                 "ms, reward %.4f", r.name, c->trial, 100 * c->val_acc, rerank_note,
                 c->predicted_ms, c->reward);
        if ((rc = candidate_arch(&r, c, &a, &e)))
            break;
        if (archs) {
            cJSON *x = cli_json_candidate(c);
            cJSON_AddStringToObject(x, "name", a.name);
            cJSON_AddItemToArray(archs, x);
        }
        if (o.pareto && !strcmp(o.format, "json") && k)
            fprintf(f, ",\n");
        if (!onnx)
            rc = write_arch(f, o.format, &a, label, &e);
        else
            fprintf(stderr, "%s\n", label);
    }
    if (!rc && o.pareto && !strcmp(o.format, "json"))
        fprintf(f, "]\n");
    if (f != stdout && fclose(f) != 0 && !rc)
        rc = hw_error(&e, HW_EIO, "%s: write failed", o.out);
    if (!rc && o.out && !onnx)
        log_info("wrote %d architecture%s to %s", n_pick, n_pick == 1 ? "" : "s", o.out);
    char model[1024] = "";
    if (!rc && o.train_final)
        rc = train_final(db, &r, &cs[pick[0]], &a, &o, model, sizeof model, report, &e);
    if (!rc && onnx)
        rc = export_onnx(model, &o, report, &e);
    free(pick);
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    db_close(db);
    if (rc) {
        cJSON_Delete(report);
        return cli_fail(&e);
    }
    return report ? cli_json_print(report) : CLI_EXIT_OK;
}
