/* hwnas netadapt: trim a trained model's channels to a latency target
 * (netadapt/), then fine-tune it long; `netadapt list` and `netadapt show ID`
 * print the recorded runs and their proposals. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "cluster/cluster.h"
#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "latency/table.h"
#include "netadapt/finetune.h"
#include "netadapt/run.h"
#include "space/arch_json.h"
#include "util/progress.h"

/* Settings a run keeps in its config JSON so --resume continues alike. */
struct na_settings {
    int short_steps, long_epochs, val_subset, start_epochs;
    double short_lr, long_lr;
    long seed;
    char out[1024], workdir[1024];
    char calibration[128]; /* lat_cli_calib_text at the start; "" in older runs */
    enum na_score score;   /* what proposals are ranked by; older runs: accuracy */
};

static const char *const score_names[] = {"acc", "loss"};
/* What new runs rank proposals by without --score: two scorings of the same
 * proposals (other fine-tune seed, other validation images) rank them alike
 * by loss (Kendall tau 0.75-0.81 on fmnist-ref), barely by accuracy
 * (0.39-0.44; bench/RESULTS.md#netadapt). */
#define NA_DEFAULT_SCORE "loss"

/* "acc" or "loss" into *out; -1 for anything else. */
static int parse_score(const char *text, enum na_score *out)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(text, score_names[i]) == 0) {
            *out = (enum na_score)i;
            return 0;
        }
    return -1;
}

static char *settings_json(const struct na_settings *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "short_steps", s->short_steps);
    cJSON_AddNumberToObject(o, "short_lr", s->short_lr);
    cJSON_AddNumberToObject(o, "long_epochs", s->long_epochs);
    cJSON_AddNumberToObject(o, "long_lr", s->long_lr);
    cJSON_AddNumberToObject(o, "val_subset", s->val_subset);
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON_AddStringToObject(o, "out", s->out);
    cJSON_AddStringToObject(o, "workdir", s->workdir);
    cJSON_AddStringToObject(o, "latency_calibration", s->calibration);
    cJSON_AddStringToObject(o, "score", score_names[s->score]);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int settings_parse(const char *json, int64_t id, struct na_settings *s, struct hw_err *err)
{
    static const char *nums[] = {"short_steps", "short_lr", "long_epochs", "long_lr",
                                 "val_subset", "seed"};
    static const char *strs[] = {"out", "workdir"};
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    double v[6];
    int rc = HW_OK;
    for (int i = 0; i < 6 && !rc; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, nums[i]);
        if (!cJSON_IsNumber(n))
            rc = hw_error(err, HW_EINVAL, "NetAdapt run %lld: config.%s: missing or not a number",
                          (long long)id, nums[i]);
        else
            v[i] = n->valuedouble;
    }
    for (int i = 0; i < 2 && !rc; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, strs[i]);
        if (!cJSON_IsString(n) || strlen(n->valuestring) >= sizeof s->out)
            rc = hw_error(err, HW_EINVAL, "NetAdapt run %lld: config.%s: missing or not a path",
                          (long long)id, strs[i]);
        else
            snprintf(i ? s->workdir : s->out, sizeof s->out, "%s", n->valuestring);
    }
    if (!rc) {
        s->short_steps = (int)v[0], s->short_lr = v[1], s->long_epochs = (int)v[2];
        s->long_lr = v[3], s->val_subset = (int)v[4], s->seed = (long)v[5];
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "latency_calibration");
        snprintf(s->calibration, sizeof s->calibration, "%s",
                 cJSON_IsString(c) ? c->valuestring : "");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "score");
        s->score = NA_SCORE_ACC; /* runs before --score ranked by accuracy */
        if (sc && (!cJSON_IsString(sc) || parse_score(sc->valuestring, &s->score)))
            rc = hw_error(err, HW_EINVAL, "NetAdapt run %lld: config.score: not \"acc\" or "
                          "\"loss\"", (long long)id);
    }
    cJSON_Delete(o);
    return rc;
}

/* A resumed run predicted its earlier steps with the calibration it
 * recorded; when `profile` has refitted it since, later steps compare
 * latencies on another scale: say so. */
static void warn_calibration(const struct lat_table *t, const struct db_netadapt *r,
                             const struct na_settings *s)
{
    struct nn_net *net = NULL;
    struct hw_err e = {0};
    char now[128];
    if (model_load(r->source_model, 1, &net, &e) != HW_OK)
        return; /* netadapt_run reports a missing model itself */
    lat_cli_calib_text(lut_get_calib(&t->lut, nn_net_arch(net)), now, sizeof now);
    nn_net_free(net);
    if (strcmp(now, s->calibration) != 0)
        log_warn("NetAdapt run %lld was predicted with latency calibration %s; the table now "
                 "has %s: its remaining steps compare latencies on the new scale",
                 (long long)r->id, s->calibration[0] ? s->calibration : "(not recorded)", now);
}

/* The source model of `--run RUN --best`: the run's highest-reward candidate,
 * trained start_epochs with the evaluator's recipe and saved under workdir. */
static int train_best(struct db *db, const char *run_name, const struct na_settings *s,
                      const struct data_set *train, const struct data_set *val, char *path,
                      size_t size, struct hw_err *err)
{
    struct db_run run;
    struct db_candidate *c = NULL;
    struct nn_net *net = NULL;
    struct arch a;
    int n = 0, rc = db_run_lookup(db, run_name, &run, err);
    if (rc)
        return rc;
    rc = db_candidate_list(db, run.id, DB_ORDER_REWARD, 1, &c, &n, err);
    if (!rc && (n == 0 || isnan(c[0].reward)))
        rc = hw_error(err, HW_ENOTFOUND, "run %s has no evaluated candidate", run.name);
    if (!rc)
        rc = arch_from_json_string(c[0].arch_json, "candidate", &a, err);
    if (!rc) {
        printf("training the best candidate of run %s (trial %d, val %.2f%%) for %d epochs\n",
               run.name, c[0].trial, 100 * c[0].val_acc, s->start_epochs);
        snprintf(path, size, "%s/netadapt-run%lld-trial%d.hwm", s->workdir, (long long)run.id,
                 c[0].trial);
        rc = nn_net_create(&net, &a, 128, NN_MODE_TRAIN, err);
    }
    if (!rc) {
        struct train_config tc;
        struct train_result res;
        train_config_default(&tc);
        tc.epochs = s->start_epochs;
        tc.val_subset = -1;
        tc.quiet = cli_quiet;
        train_init_params(net, (uint64_t)s->seed);
        rc = train_run(net, train, NULL, &tc, (uint64_t)s->seed, NULL, NULL, &res, err);
    }
    if (!rc)
        rc = model_save(path, net, err);
    nn_net_free(net);
    db_candidate_list_free(c, n);
    db_run_release(&run);
    return rc;
}

/* Long fine-tune, final model file, model row, status done. */
static int finish(struct db *db, int64_t id, const struct na_settings *s,
                  const struct na_trainer *tr, struct nn_net *net, const struct na_state *st,
                  struct hw_err *err)
{
    double acc;
    char path[1024];
    if (s->out[0])
        snprintf(path, sizeof path, "%s", s->out);
    else
        snprintf(path, sizeof path, "%s/netadapt-%lld.hwm", s->workdir, (long long)id);
    printf("long fine-tune: %d epochs, peak lr %g\n", s->long_epochs, s->long_lr);
    fflush(stdout);
    int rc = netadapt_tune_long(tr, net, s->long_epochs, s->long_lr, &acc, err);
    if (rc)
        return rc;
    struct db_model m = {.val_acc = acc, .test_acc = NAN, .source = DB_MODEL_NETADAPT,
                         .source_id = id};
    snprintf(m.name, sizeof m.name, "netadapt-%lld", (long long)id);
    snprintf(m.path, sizeof m.path, "%s", path);
    m.arch_json = arch_to_json_string(nn_net_arch(net));
    if (!m.arch_json)
        return hw_error(err, HW_ENOMEM, "out of memory writing the arch JSON");
    rc = model_save(path, net, err);
    if (!rc)
        rc = db_netadapt_finish(db, id, &m, err);
    if (!rc)
        printf("done: %d iterations, predicted %.4f ms, val accuracy %.2f%% after the long "
               "fine-tune (%.2f%% after the last short one); model %s (model id %lld)\n",
               st->iteration, st->latency_ms, 100 * acc, 100 * st->eval.acc, path,
               (long long)m.id);
    free(m.arch_json);
    return rc;
}

/* A NetAdapt run as a new JSON object (caller owns). */
static cJSON *run_json(const struct db_netadapt *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "status", db_run_status_name(r->status));
    cJSON_AddNumberToObject(o, "iterations", r->iterations);
    cJSON_AddNumberToObject(o, "initial_ms", r->initial_ms);
    cJSON_AddNumberToObject(o, "current_ms", r->current_ms);
    cJSON_AddNumberToObject(o, "target_ms", r->target_ms);
    cJSON_AddNumberToObject(o, "delta", r->delta);
    cJSON_AddStringToObject(o, "source_model", r->source_model);
    cJSON_AddStringToObject(o, "current_model", r->current_model);
    cJSON_AddNumberToObject(o, "device_id", (double)r->device_id);
    cJSON_AddStringToObject(o, "created_at", r->created_at);
    cJSON_AddStringToObject(o, "updated_at", r->updated_at);
    return o;
}

static int cmd_list(struct db *db, int json)
{
    struct db_netadapt *r;
    int n;
    struct hw_err err;
    if (db_netadapt_list(db, &r, &n, &err))
        return cli_fail(&err);
    cJSON *root = json ? cli_json_root() : NULL, *arr = cJSON_AddArrayToObject(root, "runs");
    if (!json)
        printf("%4s  %-8s  %5s  %10s  %10s  %10s  %s\n", "id", "status", "iters", "L0 ms",
               "now ms", "target ms", "source");
    for (int i = 0; i < n; i++) {
        if (json)
            cJSON_AddItemToArray(arr, run_json(&r[i]));
        else
            printf("%4lld  %-8s  %5d  %10.4f  %10.4f  %10.4f  %s\n", (long long)r[i].id,
                   db_run_status_name(r[i].status), r[i].iterations, r[i].initial_ms,
                   r[i].current_ms, r[i].target_ms, r[i].source_model);
    }
    db_netadapt_list_free(r, n);
    return json ? cli_json_print(root) : CLI_EXIT_OK;
}

static int cmd_show(struct db *db, const char *id_text, int json)
{
    struct db_netadapt r;
    struct db_na_step *st;
    struct hw_err err;
    int n;
    char *end;
    long long id = strtoll(id_text, &end, 10);
    if (*end || id <= 0) {
        hw_error(&err, HW_EINVAL, "netadapt show: '%s' is not a run id", id_text);
        return cli_fail(&err);
    }
    if (db_netadapt_get(db, id, &r, &err) || db_netadapt_steps(db, id, &st, &n, &err))
        return cli_fail(&err);
    if (json) {
        cJSON *o = cli_json_root(), *steps;
        cJSON_AddItemToObject(o, "run", run_json(&r));
        steps = cJSON_AddArrayToObject(o, "steps");
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "iteration", st[i].iteration + 1);
            cJSON_AddNumberToObject(e, "proposal", st[i].proposal);
            cJSON_AddStringToObject(e, "kind", db_na_kind_name(st[i].kind));
            cJSON_AddStringToObject(e, "layers", st[i].layers);
            cJSON_AddNumberToObject(e, "channels_before", st[i].channels_before);
            cJSON_AddNumberToObject(e, "channels_after", st[i].channels_after);
            cJSON_AddNumberToObject(e, "latency_ms", st[i].latency_ms);
            cJSON_AddNumberToObject(e, "val_acc_pct", 100 * st[i].val_acc);
            if (isnan(st[i].val_loss))
                cJSON_AddNullToObject(e, "val_loss");
            else
                cJSON_AddNumberToObject(e, "val_loss", st[i].val_loss);
            cJSON_AddBoolToObject(e, "chosen", st[i].chosen);
            cJSON_AddItemToArray(steps, e);
        }
        free(st);
        db_netadapt_release(&r);
        return cli_json_print(o);
    }
    printf("NetAdapt run %lld (%s): %s -> %s\nL0 %.4f ms, target %.4f ms, delta %g, now "
           "%.4f ms after %d iterations\n",
           id, db_run_status_name(r.status), r.source_model, r.current_model, r.initial_ms,
           r.target_ms, r.delta, r.current_ms, r.iterations);
    printf("%4s %4s %-10s %-12s %9s %10s %8s %8s %s\n", "iter", "prop", "kind", "units",
           "channels", "lat ms", "val acc", "val loss", "chosen");
    for (int i = 0; i < n; i++)
        printf("%4d %4d %-10s %-12s %4d->%-4d %10.4f %7.2f%% %8.4f %s\n", st[i].iteration + 1,
               st[i].proposal, db_na_kind_name(st[i].kind), st[i].layers,
               st[i].channels_before, st[i].channels_after, st[i].latency_ms,
               100 * st[i].val_acc, st[i].val_loss, st[i].chosen ? "*" : "");
    free(st);
    db_netadapt_release(&r);
    return CLI_EXIT_OK;
}

/* Under mpirun: the workers trim and tune each iteration's proposals. */
static int open_workers(struct cluster_pool **cp, const char *data, const struct na_trainer *tr,
                        double timeout_s, struct na_ops *ops, struct hw_err *err)
{
    char data_abs[PATH_MAX];
    struct cluster_eval_setup cs;
    memset(&cs, 0, sizeof cs);
    const char *dir = data ? data : DATA_DEFAULT_DIR;
    cs.data_dir = realpath(dir, data_abs) ? data_abs : dir;
    cs.classes = 10;
    eval_proxy_config_default(&cs.proxy);
    supernet_eval_config_default(&cs.sn_eval);
    cs.netadapt = tr;
    cs.threads = nn_get_threads();
    cs.timeout_s = timeout_s;
    int rc = cluster_pool_open(cp, &cs, NULL, err);
    if (rc)
        return rc;
    ops->farm = cluster_na_farm;
    ops->farm_ctx = *cp;
    printf("tuning proposals on %d MPI workers (ranks 1..%d), %d training thread%s each\n",
           cluster_size() - 1, cluster_size() - 1, cs.threads, cs.threads == 1 ? "" : "s");
    fflush(stdout);
    return HW_OK;
}

int cmd_netadapt(int argc, char **argv)
{
    struct na_settings s = {.short_steps = 200, .long_epochs = 5, .val_subset = 2000,
                            .start_epochs = 10, .short_lr = 0.01, .long_lr = 0.05, .seed = 1};
    const char *model = NULL, *run = NULL, *out = NULL, *db_flag = NULL, *data = NULL;
    const char *score_flag = NA_DEFAULT_SCORE;
    const char *workdir = ".";
    double target = 0, delta = 0.01;
    int best = 0, lat_threads = 1, json = 0, train_threads = 0;
    double worker_timeout = 0;
    long resume = 0;
    const struct cli_flag flags[] = {
        {"model", CLI_STR, &model, "FILE", "start from this trained model file"},
        {"run", CLI_STR, &run, "RUN", "start from a search run (with --best)"},
        {"best", CLI_BOOL, &best, NULL, "the run's highest-reward candidate, trained --start-epochs"},
        {"start-epochs", CLI_INT, &s.start_epochs, "E", "training of the --best candidate (default 10)"},
        {"target-ms", CLI_DOUBLE, &target, "T", "predicted latency target in ms"},
        {"delta", CLI_DOUBLE, &delta, "D", "latency cut per iteration as a fraction of L0 (default 0.01)"},
        {"short-steps", CLI_INT, &s.short_steps, "N", "SGD steps of each proposal's fine-tune (default 200)"},
        {"short-lr", CLI_DOUBLE, &s.short_lr, "X", "short fine-tune lr (default 0.01)"},
        {"long-epochs", CLI_INT, &s.long_epochs, "E", "final fine-tune epochs (default 5)"},
        {"long-lr", CLI_DOUBLE, &s.long_lr, "X", "final fine-tune peak lr (default 0.05)"},
        {"val-subset", CLI_INT, &s.val_subset, "N", "validation images per proposal (default 2000)"},
        {"seed", CLI_LONG, &s.seed, "S", "seed (default 1)"},
        {"score", CLI_STR, &score_flag, "acc|loss", "rank proposals by validation accuracy or loss (default " NA_DEFAULT_SCORE ")"},
        {"out", CLI_STR, &out, "FILE", "final model file (default WORKDIR/netadapt-ID.hwm)"},
        {"workdir", CLI_STR, &workdir, "DIR", "where per-iteration models go (default .)"},
        {"resume", CLI_LONG, &resume, "ID", "continue NetAdapt run ID with its saved settings"},
        {"lat-threads", CLI_INT, &lat_threads, "T", "threads of the latency table (default 1)"},
        {"train-threads", CLI_INT, &train_threads, "N", "threads of each fine-tune (default: all cores; under mpirun: of each worker)"},
        {"worker-timeout", CLI_DURATION, &worker_timeout, "D", "under mpirun: give a worker up when it has not answered a proposal after D (default as search)"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset directory (default " DATA_DEFAULT_DIR ")"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "list and show: JSON output"},
        {0},
    };
    const struct cli_command cmd = {
        "netadapt", "Trim a trained model's channels until its predicted latency meets a "
                    "target (NetAdapt), then fine-tune; 'list' and 'show ID' print runs.",
        "hwnas netadapt (--model FILE | --run RUN --best) --target-ms T [flags]\n"
        "       hwnas netadapt --resume ID | list [--json] | show ID [--json]",
        flags, 0, 2};
    char *pos[3];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc == CLI_HELP_SHOWN)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    int is_list = npos == 1 && strcmp(pos[0], "list") == 0;
    int is_show = npos == 2 && strcmp(pos[0], "show") == 0;
    if (npos && !is_list && !is_show)
        return cli_usage_error(&cmd, "expected 'list' or 'show ID', got '%s'", pos[0]);
    if (json && !npos)
        return cli_usage_error(&cmd, "--json is for 'list' and 'show ID'");
    if (!npos && !resume && !model == !(run && best))
        return cli_usage_error(&cmd, "give exactly one of --model FILE or --run RUN --best");
    if (!npos && !resume && !(target > 0))
        return cli_usage_error(&cmd, "--target-ms: %g is not positive", target);
    if (!(delta > 0 && delta < 1))
        return cli_usage_error(&cmd, "--delta: %g is not in (0, 1)", delta);
    if (s.short_steps < 0 || s.long_epochs < 0 || s.val_subset < 0 || s.start_epochs < 1)
        return cli_usage_error(&cmd, "steps, epochs and subsets must not be negative");
    if (train_threads < 0)
        return cli_usage_error(&cmd, "--train-threads: %d is negative", train_threads);
    if (parse_score(score_flag, &s.score))
        return cli_usage_error(&cmd, "--score: '%s' is not acc or loss", score_flag);
    if (train_threads > 0)
        nn_set_threads(train_threads);

    struct hw_err err = {0};
    struct db *db;
    if (db_open(&db, cli_db_path(db_flag), 0, &err))
        return cli_fail(&err);
    if (is_list || is_show) {
        rc = is_list ? cmd_list(db, json) : cmd_show(db, pos[1], json);
        db_close(db);
        return rc;
    }
    struct lat_table table;
    struct data_set train = {0}, val = {0};
    struct nn_net *net = NULL;
    struct db_netadapt r = {0};
    struct na_state st;
    int64_t id = resume;
    int done_already = 0;
    rc = lat_table_open(&table, db, NULL, lat_threads, &err);
    if (rc) {
        db_close(db);
        return cli_fail(&err);
    }
    /* hwnas trains on Fashion-MNIST-like IDX sets: 10 classes */
    rc = data_load_trainval(data, 10, &train, &val, &err);
    if (!rc && resume) {
        char label[32];
        snprintf(label, sizeof label, "%lld", (long long)id);
        rc = db_claim(db, DB_CLAIM_NETADAPT, id, label, &err);
        if (!rc)
            rc = db_netadapt_get(db, id, &r, &err);
        /* nothing to do, as for a finished search: a resume after a kill
         * that came once the run had ended succeeds */
        done_already = !rc && r.status == DB_RUN_DONE;
        if (done_already)
            printf("NetAdapt run %lld is done already: %d iterations, %.4f ms\n", (long long)id,
                   r.iterations, r.current_ms);
        if (!rc && !done_already)
            rc = settings_parse(r.config_json, id, &s, &err);
        if (!rc && !done_already)
            warn_calibration(&table, &r, &s);
        if (!rc && !done_already)
            rc = db_netadapt_set_status(db, id, DB_RUN_RUNNING, &err);
    } else if (!rc) {
        snprintf(s.workdir, sizeof s.workdir, "%s", workdir);
        snprintf(r.source_model, sizeof r.source_model, "%s", model ? model : "");
        if (run)
            rc = train_best(db, run, &s, &train, &val, r.source_model, sizeof r.source_model,
                            &err);
        if (!rc)
            rc = model_load(r.source_model, 128, &net, &err);
        if (!rc)
            rc = netadapt_table_latency(&table, nn_net_arch(net), &r.initial_ms, &err);
        if (!rc)
            lat_cli_calib_text(lut_get_calib(&table.lut, nn_net_arch(net)), s.calibration,
                               sizeof s.calibration);
        nn_net_free(net);
        net = NULL;
        if (!rc && r.initial_ms <= target)
            rc = hw_error(&err, HW_EINVAL, "%s: predicted %.4f ms already meets --target-ms %g",
                          r.source_model, r.initial_ms, target);
        r.target_ms = target;
        r.delta = delta;
        r.device_id = table.device_id;
        if (!rc) {
            snprintf(s.out, sizeof s.out, "%s", out ? out : "");
            r.config_json = settings_json(&s);
            rc = db_netadapt_create(db, &r, &err); /* claims it too */
            id = r.id;
        }
    }
    if (!rc && !done_already) {
        printf("NetAdapt run %lld: %s, L0 %.4f ms -> target %.4f ms, delta %g x L0, proposals "
               "ranked by validation %s\n", (long long)id, r.source_model, r.initial_ms,
               r.target_ms, r.delta, s.score == NA_SCORE_LOSS ? "loss" : "accuracy");
        fflush(stdout);
        struct na_trainer tr;
        netadapt_trainer_default(&tr);
        tr.train = &train, tr.val = &val, tr.steps = s.short_steps, tr.lr = s.short_lr;
        tr.val_subset = s.val_subset, tr.seed = (uint64_t)s.seed;
        struct na_ops ops = {netadapt_table_latency, &table, netadapt_tune, &tr, NULL, NULL,
                             s.score};
        struct na_run_config cfg = {.max_batch = tr.batch, .workdir = s.workdir,
                                    .quiet = cli_quiet};
        struct cluster_pool *cp = NULL;
        if (cluster_active())
            rc = open_workers(&cp, data, &tr, worker_timeout, &ops, &err);
        if (!rc)
            rc = netadapt_run(db, id, &cfg, &ops, &net, &st, &err);
        cluster_pool_close(cp);
        if (rc == HW_ENOTFOUND && net) {
            fprintf(stderr, "hwnas: %s; stopping at %.4f ms\n", err.msg, st.latency_ms);
            rc = HW_OK;
        }
        if (!rc)
            rc = finish(db, id, &s, &tr, net, &st, &err);
        if (rc && rc != HW_EINTR)
            db_netadapt_set_status(db, id, DB_RUN_FAILED, NULL);
    }
    nn_net_free(net);
    db_netadapt_release(&r);
    data_set_release(&train);
    data_set_release(&val);
    lat_table_release(&table);
    db_close(db);
    return rc ? cli_fail(&err) : CLI_EXIT_OK;
}
