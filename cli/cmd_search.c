/* hwnas search: a latency-constrained architecture search, resumable. */
#include <cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "cluster/cluster.h"
#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/proxy.h"
#include "latency/table.h"
#include "nn/net.h"
#include "search/run.h"
#include "supernet/supernet.h"
#include "util/progress.h"

static volatile sig_atomic_t stop_requested;

/* CPU time of this process (user + system), seconds. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct opts {
    const char *space, *controller, *device, *name, *resume, *db, *data, *score, *max_params_s;
    const char *evaluator, *supernet;
    int rerank, json;
    struct supernet_eval_config sn_eval;
    double target_ms, w, time_budget, max_over, max_params, worker_timeout;
    int hard, trials, lat_threads, train_threads, population, sample_size, hidden;
    double lr;
    long seed;
    enum reward_score score_kind;
    struct eval_proxy_config proxy;
};

static struct opts o;

static const struct cli_flag flags[] = {
    {"space", CLI_STR, &o.space, "S", "search space: fmnist, mbv3-224 or a space JSON file (default fmnist)"},
    {"target-ms", CLI_DOUBLE, &o.target_ms, "T", "latency target T in milliseconds (required for a new run)"},
    {"controller", CLI_STR, &o.controller, "C", "rl | evolution | random (default rl)"},
    {"trials", CLI_INT, &o.trials, "N", "stop when the run has N candidates (default 100)"},
    {"time-budget", CLI_DURATION, &o.time_budget, "D", "stop starting trials after D (90s, 30m, 2h) in this session"},
    {"seed", CLI_LONG, &o.seed, "S", "seed of the controller and of every proxy training (default 1)"},
    {"w", CLI_DOUBLE, &o.w, "W", "reward exponent w (soft constraint, default -0.07)"},
    {"hard", CLI_BOOL, &o.hard, NULL, "hard constraint: w = 0 under the target, -1 over it"},
    {"max-over", CLI_DOUBLE, &o.max_over, "R", "train only proposals predicted <= R x target, redraw the rest untrained; rl is told each redraw's reward at the run's median quality (default: train all, as MnasNet)"},
    {"max-params", CLI_STR, &o.max_params_s, "P", "train only proposals with at most P parameters (250000, 250k or 0.25M), redraw the rest untrained; rl is told the median-quality reward scaled by P / their parameters (default: no cap)"},
    {"score", CLI_STR, &o.score, "acc|loss|train-loss", "reward's quality term: exp(-the proxy training's last-epoch training loss) (train-loss, the proxy's default: it ranked 3-epoch proxies closest to full trainings), exp(-its validation loss) (loss, the supernet's default: it ranks supernet scores best), or its validation accuracy (acc, MnasNet's ACC)"},
    {"device", CLI_STR, &o.device, "ID", "latency table of this device (id or hash; default this machine)"},
    {"threads", CLI_INT, &o.lat_threads, "N", "threads the latency table was profiled with (default 1)"},
    {"train-threads", CLI_INT, &o.train_threads, "N", "threads for proxy training (default 2)"},
    {"population", CLI_INT, &o.population, "P", "evolution: population size (default 50)"},
    {"sample-size", CLI_INT, &o.sample_size, "S", "evolution: tournament size (default 10)"},
    {"hidden", CLI_INT, &o.hidden, "H", "rl: LSTM units (default 64)"},
    {"lr", CLI_DOUBLE, &o.lr, "X", "rl: Adam step size (default 0.003)"},
    {"evaluator", CLI_STR, &o.evaluator, "proxy|supernet", "how candidates are scored: a short proxy training each (default), or weights taken from a trained supernet (--supernet FILE: a second each)"},
    {"supernet", CLI_STR, &o.supernet, "FILE", "the supernet of --evaluator supernet ('hwnas supernet train' makes one)"},
    {"sn-recal", CLI_INT, &o.sn_eval.recal, "N", "supernet: training images for each subnet's BN statistics (default " CLI_STR_OF(SUPERNET_EVAL_RECAL) ")"},
    {"sn-val", CLI_INT, &o.sn_eval.val, "N", "supernet: validation images per subnet (default " CLI_STR_OF(SUPERNET_EVAL_VAL) "; 0: all)"},
    {"rerank", CLI_INT, &o.rerank, "K", "when the search ends, train its K best distinct candidates under the target stand-alone ('hwnas runs rerank RUN --top K'), so the winner is picked on real training"},
    {"worker-timeout", CLI_DURATION, &o.worker_timeout, "D", "under mpirun: give a worker up when it has not answered a candidate after D, and give the candidate to another; a worker also ends itself 3 x past D (default: 1 h until a first result, then 10 x the longest evaluation, at least 5 min; no self-ending)"},
    {"name", CLI_STR, &o.name, "RUN", "name of the new run (default run-<id>)"},
    {"resume", CLI_STR, &o.resume, "RUN", "continue a stopped or crashed run"},
    {"proxy-epochs", CLI_INT, &o.proxy.epochs, "E", "proxy training epochs per candidate (default " CLI_STR_OF(EVAL_PROXY_EPOCHS) ")"},
    {"proxy-subset", CLI_INT, &o.proxy.subset, "N", "training images per proxy training (default " CLI_STR_OF(EVAL_PROXY_SUBSET) ")"},
    {"proxy-val", CLI_INT, &o.proxy.val_subset, "N", "validation images per proxy evaluation (default 0: all 10,000)"},
    {"proxy-batch", CLI_INT, &o.proxy.batch, "B", "proxy training batch size (default " CLI_STR_OF(EVAL_PROXY_BATCH) ")"},
    {"proxy-lr", CLI_DOUBLE, &o.proxy.lr, "X", "proxy training peak learning rate (default 0.2)"},
    {"proxy-augment", CLI_INT, &o.proxy.augment, "0|1", "crop/flip augmentation in proxy training (default 0)"},
    {"data", CLI_STR, &o.data, "DIR", "IDX dataset folder (default " DATA_DEFAULT_DIR ")"},
    {"db", CLI_STR, &o.db, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
    {"json", CLI_BOOL, &o.json, NULL, "no line per trial: the run's summary as JSON at the end (not with --rerank)"},
    {0},
};

static const struct cli_command cmd = {
    "search",
    "Search a block-wise space for the architecture with the best MnasNet reward\n"
    "ACC x (LAT/T)^w: LAT predicted by this device's latency table, ACC the quality\n"
    "after proxy training: exp(-its last epoch's training loss) by default,\n"
    "exp(-validation loss) with --score loss, the validation accuracy with --score acc\n"
    "(MnasNet's own; it ranks 3-epoch trainings worst). Every\n"
    "candidate is stored in the database as it is evaluated; Ctrl-C stops cleanly and\n"
    "--resume RUN continues the same sequence.",
    "hwnas search --space S --target-ms T [--controller rl|evolution|random] [--trials N]\n"
    "                    [--time-budget 30m] [--seed S] [--device ID] [--name RUN] [--hard]\n"
    "                    [--max-over R] [--score acc|loss|train-loss]\n"
    "                    [--evaluator supernet --supernet FILE] [--rerank K] [--json]\n"
    "       hwnas search --resume RUN [--trials N] [--time-budget D] [--train-threads N]\n"
    "       mpirun -np N hwnas search ...   (rank 0 searches, ranks 1..N-1 evaluate candidates)",
    flags, 0, 0};

struct ctx {
    struct lat_table *table;
    int lat_threads, train_threads;
    struct eval_proxy_config proxy;
    const struct supernet *sn; /* NULL: the proxy evaluates */
    struct supernet_eval_config sn_eval;
    struct nn_pool pools[2];
    int json; /* no line per trial */
    struct progress bar;
    double target_ms;
    int stored; /* candidates of the run stored so far */
    int evaluated;   /* this session, duplicates not counted */
    double eval_wall; /* their evaluation time, summed */
};

static int predict_hook(void *p, const struct arch *a, double *ms, struct hw_err *err)
{
    struct ctx *c = p;
    /* on-demand measurements must run with the table's thread count */
    int saved = nn_get_threads();
    nn_set_threads(c->lat_threads);
    double us;
    int n_measured = 0;
    int rc = lat_table_predict(c->table, a, &us, NULL, &n_measured, err);
    nn_set_threads(saved);
    *ms = us / 1000.0;
    return rc;
}

static int eval_hook(void *p, const struct arch *a, uint64_t seed, struct search_eval *out,
                     struct hw_err *err)
{
    struct ctx *c = p;
    struct eval_result r;
    int rc = c->sn ? supernet_eval(c->sn, a, &c->sn_eval, c->proxy.train, c->proxy.val, c->pools,
                                   &r, err)
                   : eval_proxy(a, &c->proxy, seed, &r, err);
    if (rc)
        return rc;
    out->acc = r.val_acc;
    out->loss = r.val_loss;
    out->train_loss = r.train_loss;
    out->wall_s = r.wall_s;
    return HW_OK;
}

static void trial_hook(void *p, const struct search_trial_info *t)
{
    struct ctx *c = p;
    char best_acc[16] = "-", eta[24] = "";
    if (isfinite(t->best_acc_under_target))
        snprintf(best_acc, sizeof best_acc, "%.2f%%", 100 * t->best_acc_under_target);
    progress_update(&c->bar, ++c->stored);
    if (!t->duplicate) {
        c->evaluated++;
        c->eval_wall += t->wall_s;
    }
    if (!c->bar.enabled && t->trials_max > 0)
        snprintf(eta, sizeof eta, " (%d/%d)", c->stored, t->trials_max);
    progress_note(&c->bar, "best reward %.4f, best acc under target %s", t->best_reward, best_acc);
    if (c->json)
        return;
    if (c->bar.enabled)
        fputs("\r\033[K", stderr);
    printf("trial %4d%s %7.4f ms %s acc %6.2f%% loss %.4f train %.4f reward %.4f%s | best "
           "%.4f, under target %s%s%s\n",
           t->trial, eta, t->predicted_ms, t->predicted_ms <= c->target_ms ? "<=T" : "> T",
           100 * t->val_acc, t->val_loss, t->train_loss, t->reward, t->duplicate ? " (duplicate, not retrained)" : "",
           t->best_reward, best_acc, t->worker && t->worker[0] ? " | worker " : "",
           t->worker ? t->worker : "");
    if (t->redrawn > 0)
        printf("           (%d proposal%s over a cap redrawn before it)\n", t->redrawn,
               t->redrawn == 1 ? "" : "s");
    fflush(stdout);
}

/* space_hash as the run config stores it: 16 hex digits in buf[17]. */
static const char *space_hash_hex(const struct space *sp, char *buf)
{
    snprintf(buf, 17, "%016" PRIx64, space_hash(sp));
    return buf;
}

/* "250000", "250k", "0.25M" -> 250000 in *v; 0, or -1 when s is not a
 * whole count > 0 (at most 1e12). */
static int parse_count(const char *s, double *v)
{
    static const double mults[] = {1e3, 1e3, 1e6, 1e6};
    double x;
    if (cli_parse_scaled(s, "kKMm", mults, &x) || !(x >= 1 && x <= 1e12) || x != floor(x))
        return -1;
    *v = x;
    return 0;
}

static char *config_json(const struct opts *op, const char *calibration, const struct space *sp,
                         const char *space_text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "latency_calibration", calibration);
    char hash[17];
    cJSON_AddStringToObject(root, "space_hash", space_hash_hex(sp, hash));
    if (space_text)
        cJSON_AddStringToObject(root, "space_json", space_text);
    cJSON *px = cJSON_AddObjectToObject(root, "proxy");
    cJSON_AddNumberToObject(px, "epochs", op->proxy.epochs);
    cJSON_AddNumberToObject(px, "subset", op->proxy.subset);
    cJSON_AddNumberToObject(px, "val_subset", op->proxy.val_subset);
    cJSON_AddNumberToObject(px, "batch", op->proxy.batch);
    cJSON_AddNumberToObject(px, "lr", op->proxy.lr);
    cJSON_AddNumberToObject(px, "augment", op->proxy.augment);
    cJSON_AddNumberToObject(root, "lat_threads", op->lat_threads);
    cJSON_AddNumberToObject(root, "train_threads", op->train_threads);
    cJSON_AddStringToObject(root, "data", op->data ? op->data : DATA_DEFAULT_DIR);
    cJSON_AddBoolToObject(root, "hard", op->hard);
    if (op->max_over > 0)
        cJSON_AddNumberToObject(root, "max_over", op->max_over);
    if (op->max_params > 0)
        cJSON_AddNumberToObject(root, "max_params", op->max_params);
    cJSON_AddStringToObject(root, "score", reward_score_name(op->score_kind));
    if (op->supernet) {
        cJSON *sn = cJSON_AddObjectToObject(root, "supernet");
        cJSON_AddStringToObject(sn, "file", op->supernet);
        cJSON_AddStringToObject(sn, "evaluator", op->evaluator);
        cJSON_AddNumberToObject(sn, "recal", op->sn_eval.recal);
        cJSON_AddNumberToObject(sn, "val", op->sn_eval.val);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Reads back what config_json wrote (a run made by this hwnas). */
static int config_read(const char *text, struct opts *op, struct hw_err *err)
{
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *px = cJSON_GetObjectItemCaseSensitive(root, "proxy");
    const char *need[] = {"epochs", "subset", "val_subset", "batch", "lr"};
    double v[5];
    for (int i = 0; i < 5; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(px, need[i]);
        if (!cJSON_IsNumber(x)) {
            cJSON_Delete(root);
            return hw_error(err, HW_EINVAL, "run config: proxy.%s is missing", need[i]);
        }
        v[i] = x->valuedouble;
    }
    op->proxy.epochs = (int)v[0];
    op->proxy.subset = (int)v[1];
    op->proxy.val_subset = (int)v[2];
    op->proxy.batch = (int)v[3];
    op->proxy.lr = v[4];
    /* runs from before proxy.augment was recorded trained with augmentation */
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(px, "augment");
    op->proxy.augment = cJSON_IsNumber(aug) ? aug->valueint : 1;
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "lat_threads");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(root, "train_threads");
    const cJSON *dd = cJSON_GetObjectItemCaseSensitive(root, "data");
    op->lat_threads = cJSON_IsNumber(lt) ? lt->valueint : 1;
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(root, "max_over");
    op->max_over = cJSON_IsNumber(mo) ? mo->valuedouble : 0; /* absent: no cap */
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(root, "max_params");
    op->max_params = cJSON_IsNumber(mp) ? mp->valuedouble : 0;
    /* absent: a run from before --score, scored by accuracy */
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "score");
    int kind = sc ? reward_score_parse(cJSON_GetStringValue(sc)) : REWARD_SCORE_ACC;
    if (kind < 0) {
        hw_error(err, HW_EINVAL, "run config: score '%s' is none of acc, loss, train-loss",
                 cJSON_IsString(sc) ? sc->valuestring : "(not a string)");
        cJSON_Delete(root);
        return HW_EINVAL;
    }
    op->score_kind = (enum reward_score)kind;
    const cJSON *sn = cJSON_GetObjectItemCaseSensitive(root, "supernet");
    if (sn) {
        static char file[1024], name[DB_EVALUATOR_MAX];
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(sn, "file");
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(sn, "evaluator");
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(sn, "recal");
        const cJSON *vv = cJSON_GetObjectItemCaseSensitive(sn, "val");
        if (!cJSON_IsString(f) || !cJSON_IsString(ev) || !cJSON_IsNumber(rc) ||
            !cJSON_IsNumber(vv)) {
            cJSON_Delete(root);
            return hw_error(err, HW_EINVAL, "run config: supernet.file/evaluator/recal/val "
                            "missing or of the wrong type");
        }
        snprintf(file, sizeof file, "%s", f->valuestring);
        snprintf(name, sizeof name, "%s", ev->valuestring);
        op->supernet = file;
        op->evaluator = name;
        op->sn_eval.recal = rc->valueint;
        op->sn_eval.val = vv->valueint;
    }
    if (!o.train_threads) /* the only knob a resume may change: not part of the result */
        op->train_threads = cJSON_IsNumber(tt) ? tt->valueint : 2;
    static char data[1024];
    snprintf(data, sizeof data, "%s", cJSON_IsString(dd) ? dd->valuestring : DATA_DEFAULT_DIR);
    op->data = data;
    cJSON_Delete(root);
    return HW_OK;
}

/* The --json summary of a search session into *out (caller owns): the run as
 * stored now, its best reward and its most accurate candidate within the
 * target (what the trial lines call "under target"), each null when none. */
static int summary_json(struct db *db, int64_t run_id, int session, cJSON **out,
                        struct hw_err *err)
{
    struct db_run r;
    int rc = db_run_get(db, run_id, &r, err);
    if (rc)
        return rc;
    struct db_candidate *cs;
    int n;
    if ((rc = db_candidate_list(db, run_id, DB_ORDER_TRIAL, 0, &cs, &n, err))) {
        db_run_release(&r);
        return rc;
    }
    int best = -1, under = -1; /* the first of equals, as search_run counts them */
    for (int i = 0; i < n; i++) {
        if (isfinite(cs[i].reward) && (best < 0 || cs[i].reward > cs[best].reward))
            best = i;
        if (cs[i].status == DB_CAND_OK && isfinite(cs[i].val_acc) &&
            cs[i].predicted_ms <= r.target_ms && (under < 0 || cs[i].val_acc > cs[under].val_acc))
            under = i;
    }
    cJSON *o = cli_json_root();
    cJSON_AddItemToObject(o, "run", cli_json_run(&r, n));
    cJSON_AddNumberToObject(o, "session_candidates", session);
    cJSON_AddNumberToObject(o, "best_reward", best < 0 ? NAN : cs[best].reward);
    cJSON_AddItemToObject(o, "best_reward_candidate",
                          best < 0 ? cJSON_CreateNull() : cli_json_candidate(&cs[best]));
    cJSON_AddItemToObject(o, "best_under_target",
                          under < 0 ? cJSON_CreateNull() : cli_json_candidate(&cs[under]));
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    *out = o;
    return o ? HW_OK : hw_error(err, HW_ENOMEM, "out of memory for the run's summary");
}

int cmd_search(int argc, char **argv)
{
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.w = REWARD_DEFAULT_W;
    o.lat_threads = 1;
    o.max_over = NAN; /* not given (the flag parser refuses NaN) */
    /* evaluator/proxy.h: the last epoch's training loss ranked the default
     * proxy trainings closest to 10-epoch accuracy, validation loss next,
     * accuracy last */
    o.score_kind = REWARD_SCORE_TRAIN_LOSS;
    eval_proxy_config_default(&o.proxy);
    supernet_eval_config_default(&o.sn_eval);
    char *pos[argc];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (!o.resume && !(o.target_ms > 0))
        return cli_usage_error(&cmd, "--target-ms must be given and > 0 (got %g)", o.target_ms);
    if (o.trials < 0 || o.train_threads < 0 || o.lat_threads < 1 || o.proxy.epochs < 1 ||
        o.proxy.subset < 0 || o.proxy.val_subset < 0 || o.proxy.batch < 1 || !(o.proxy.lr > 0))
        return cli_usage_error(&cmd, "--trials/--threads/--train-threads/--proxy-* must be positive");
    if (o.proxy.augment != 0 && o.proxy.augment != 1)
        return cli_usage_error(&cmd, "--proxy-augment: %d is not 0 or 1", o.proxy.augment);
    if (o.seed < 0)
        return cli_usage_error(&cmd, "--seed: %ld is negative", o.seed);
    if (!isnan(o.max_over) && !(o.max_over > 0 && isfinite(o.max_over)))
        return cli_usage_error(&cmd, "--max-over: %g must be a finite ratio > 0 (omit it for no "
                                     "cap)", o.max_over);
    if (isnan(o.max_over))
        o.max_over = 0; /* no cap (a resume reads the run's own) */
    if (o.max_params_s && parse_count(o.max_params_s, &o.max_params))
        return cli_usage_error(&cmd, "--max-params: '%s' is not a parameter count > 0 (250000, "
                                     "250k or 0.25M)", o.max_params_s);
    /* bench/RESULTS.md#supernet: supernet scores rank by validation loss best */
    if (!o.score && o.supernet)
        o.score_kind = REWARD_SCORE_LOSS;
    if (o.score) {
        int k = reward_score_parse(o.score);
        if (k < 0)
            return cli_usage_error(&cmd, "--score: '%s' is none of acc, loss, train-loss",
                                   o.score);
        o.score_kind = (enum reward_score)k;
    }
    if (o.population < 0 || o.sample_size < 0 || o.hidden < 0 || o.lr < 0)
        return cli_usage_error(&cmd, "--population/--sample-size/--hidden/--lr must be positive");
    struct eval_proxy_config dp;
    eval_proxy_config_default(&dp);
    int proxy_set = o.proxy.epochs != dp.epochs || o.proxy.subset != dp.subset ||
                    o.proxy.val_subset != dp.val_subset || o.proxy.batch != dp.batch ||
                    o.proxy.lr != dp.lr || o.proxy.augment != dp.augment;
    struct supernet_eval_config se;
    supernet_eval_config_default(&se);
    int sn_set = (o.evaluator && strcmp(o.evaluator, "proxy")) || o.supernet ||
                 o.sn_eval.recal != se.recal || o.sn_eval.val != se.val;
    if (o.evaluator && strcmp(o.evaluator, "proxy") && strcmp(o.evaluator, "supernet"))
        return cli_usage_error(&cmd, "--evaluator: '%s' is none of proxy, supernet", o.evaluator);
    if (o.evaluator && !strcmp(o.evaluator, "supernet") && !o.supernet)
        return cli_usage_error(&cmd, "--evaluator supernet needs --supernet FILE (make one with "
                                     "'hwnas supernet train --space S')");
    if (o.supernet && o.evaluator && !strcmp(o.evaluator, "proxy"))
        return cli_usage_error(&cmd, "--supernet is for --evaluator supernet, not proxy");
    if (sn_set && !o.supernet && !o.resume)
        return cli_usage_error(&cmd, "--sn-recal/--sn-val are for --evaluator supernet");
    if (o.sn_eval.recal < 2 || o.sn_eval.val < 0 || o.rerank < 0)
        return cli_usage_error(&cmd, "--sn-recal must be >= 2, --sn-val and --rerank >= 0");
    if (o.json && o.rerank > 0)
        return cli_usage_error(&cmd, "--json prints the search's summary: rerank after it with "
                                     "'hwnas runs rerank RUN --top %d'", o.rerank);
    if (o.resume && (o.space || o.target_ms > 0 || o.controller || o.name || o.device || o.hard ||
                     o.population || o.sample_size || o.hidden || o.lr > 0 || o.max_over > 0 ||
                     o.max_params_s || o.score || proxy_set || sn_set))
        return cli_usage_error(&cmd, "--resume continues a run with its own configuration; "
                                     "only --trials, --time-budget, --train-threads and --rerank "
                                     "may change");

    struct hw_err e;
    hw_err_clear(&e);
    enum ctrl_kind kind = CTRL_RL;
    if (o.controller && ctrl_kind_parse(o.controller, &kind, &e))
        return cli_usage_error(&cmd, "--controller: %s", e.msg);
    struct db *db = NULL;
    struct lat_table table;
    struct ctrl *ctrl = NULL;
    struct data_set train = {0}, val = {0};
    struct db_run run;
    memset(&run, 0, sizeof run);
    memset(&table, 0, sizeof table);
    int have_table = 0, have_run = 0, have_data = 0;
    struct space space;
    struct supernet sn;
    memset(&sn, 0, sizeof sn);
    int have_sn = 0;
    char sn_abs[PATH_MAX], sn_name[DB_EVALUATOR_MAX];
    char *space_text = NULL, data_abs[PATH_MAX];
    char devsel[32];
    cJSON *summary = NULL; /* --json */

    if ((rc = db_open(&db, cli_db_path(o.db), 0, &e)))
        goto out;
    if (o.resume) {
        if ((rc = db_run_lookup(db, o.resume, &run, &e)))
            goto out;
        have_run = 1;
        /* before its state is read: another process may still be writing it */
        if ((rc = db_claim(db, DB_CLAIM_SEARCH, run.id, run.name, &e)))
            goto out;
        if ((rc = config_read(run.config_json, &o, &e)))
            goto out;
        o.space = run.space;
        snprintf(devsel, sizeof devsel, "%lld", (long long)run.device_id);
        o.device = devsel;
        if (o.trials)
            run.trials_max = o.trials;
    } else if (!o.trials) {
        o.trials = 100;
    }
    if (!o.train_threads)
        o.train_threads = 2;
    /* a new run parses the very text it stores (one read of the file) */
    if (!o.resume && (rc = cli_space_record(o.space ? o.space : "fmnist", run.space,
                                            sizeof run.space, &space_text, &e)))
        goto out;
    if ((rc = o.resume       ? cli_run_space(&run, &space, &e)
              : space_text ? space_from_json_string(space_text, o.space, &space, &e)
                           : space_resolve(run.space, &space, &e)))
        goto out;
    if (o.supernet) {
        if ((rc = supernet_load(o.supernet, &sn, &e)))
            goto out;
        have_sn = 1;
        if ((rc = supernet_check_space(&sn, &space, o.supernet, &e)))
            goto out;
        snprintf(sn_name, sizeof sn_name, "supernet:%08x", sn.crc);
        if (o.resume && strcmp(sn_name, o.evaluator)) {
            rc = hw_error(&e, HW_EMISMATCH, "%s: the supernet changed since run '%s' started "
                          "(%s then, %s now): its candidates would be scored by other weights",
                          o.supernet, run.name, o.evaluator, sn_name);
            goto out;
        }
        if (sn.step < sn.total_steps)
            log_warn("%s: supernet trained %ld of %ld steps only (continue with 'hwnas "
                     "supernet train --resume --out %s')", o.supernet, sn.step, sn.total_steps,
                     o.supernet);
        if (!o.resume && realpath(o.supernet, sn_abs)) /* a resume may run from elsewhere */
            o.supernet = sn_abs;
        o.evaluator = sn_name;
    }
    if ((rc = lat_table_open(&table, db, o.device, o.lat_threads, &e)))
        goto out;
    have_table = 1;
    if (table.lut.n == 0) {
        rc = hw_error(&e, HW_ENOTFOUND,
                      "%s: no latency table for device %lld (%s, %d thread%s); make one with "
                      "'hwnas profile --space %s%s' first",
                      db_path(db), (long long)table.device_id, table.lut.fp.cpu,
                      table.lut.fp.threads, table.lut.fp.threads == 1 ? "" : "s",
                      o.space ? o.space : "fmnist", o.db ? " --db ..." : "");
        goto out;
    }
    /* every arch of a space has its input shape: the first one stands for all */
    struct arch first;
    int zero[SPACE_MAX_TOKENS] = {0};
    char calibration[128];
    if ((rc = space_decode(&space, zero, &first, &e)))
        goto out;
    lat_cli_calib_text(lut_get_calib(&table.lut, &first), calibration, sizeof calibration);
    if (o.resume) {
        cJSON *cfg = cJSON_Parse(run.config_json);
        /* the stored tokens and the controller's state mean other archs in
         * another space; runs from before the hash was recorded go on */
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(cfg, "space_hash");
        char now[17];
        space_hash_hex(&space, now);
        if (sh && (!cJSON_IsString(sh) || strcmp(sh->valuestring, now) != 0)) {
            rc = hw_error(&e, HW_EMISMATCH, "run '%s' searched space %s with hash %s, but %s "
                          "now gives hash %s (its definition changed): resuming would read the "
                          "run's tokens as other archs; start a new run", run.name, run.space,
                          cJSON_IsString(sh) ? sh->valuestring : "(not a string)", run.space,
                          now);
            cJSON_Delete(cfg);
            goto out;
        }
        const cJSON *was = cJSON_GetObjectItemCaseSensitive(cfg, "latency_calibration");
        if (!cJSON_IsString(was) || strcmp(was->valuestring, calibration) != 0)
            log_warn("run '%s' was predicted with latency calibration %s; the table now has "
                     "%s: new candidates use the new one, stored ones keep theirs", run.name,
                     cJSON_IsString(was) ? was->valuestring : "(not recorded)", calibration);
        cJSON_Delete(cfg);
        void *blob;
        size_t len;
        if ((rc = db_run_load_state(db, run.id, &blob, &len, &e)))
            goto out;
        if (blob) {
            rc = ctrl_load(&ctrl, blob, len, &e);
            free(blob);
            if (rc)
                goto out;
        }
    }
    if (!ctrl) { /* a new run, or one that stopped before its first candidate */
        if (o.resume && (rc = ctrl_kind_parse(run.controller, &kind, &e)))
            goto out;
        struct ctrl_vocab v;
        search_space_vocab(&space, &v);
        struct ctrl_config cc;
        ctrl_config_default(&cc);
        if (o.population)
            cc.population = o.population;
        if (o.sample_size)
            cc.sample_size = o.sample_size;
        if (o.hidden)
            cc.hidden = o.hidden;
        if (o.lr > 0)
            cc.lr = o.lr;
        if ((rc = ctrl_create(&ctrl, kind, &v, &cc, o.resume ? run.seed : (uint64_t)o.seed, &e)))
            goto out;
    }
    if (!o.resume) {
        snprintf(run.name, sizeof run.name, "%s", o.name ? o.name : "");
        snprintf(run.controller, sizeof run.controller, "%s", ctrl_kind_name(ctrl_kind_of(ctrl)));
        run.target_ms = o.target_ms;
        struct reward_cfg r = o.hard ? reward_cfg_hard(o.target_ms) : reward_cfg_soft(o.target_ms, o.w);
        run.w_alpha = r.alpha;
        run.w_beta = r.beta;
        run.seed = (uint64_t)o.seed;
        run.trials_max = o.trials;
        run.time_budget_s = o.time_budget;
        run.device_id = table.device_id;
        if (o.data && realpath(o.data, data_abs)) /* a resume may run from elsewhere */
            o.data = data_abs;
        run.config_json = config_json(&o, calibration, &space, space_text);
        rc = db_run_create(db, &run, &e);
        if (rc)
            goto out;
        have_run = 1; /* and claimed by db_run_create */
    }
    if ((rc = data_load_trainval(o.data ? o.data : DATA_DEFAULT_DIR, space.base.classes, &train,
                                 &val, &e)))
        goto out;
    have_data = 1;
    db_run_set_status(db, run.id, DB_RUN_RUNNING, NULL);

    struct ctx c;
    memset(&c, 0, sizeof c);
    c.table = &table;
    c.lat_threads = o.lat_threads;
    c.train_threads = o.train_threads;
    c.proxy = o.proxy;
    c.proxy.threads = o.train_threads;
    c.proxy.train = &train;
    c.proxy.val = &val;
    c.target_ms = run.target_ms;
    if (have_sn) {
        c.sn = &sn;
        c.sn_eval = o.sn_eval; /* recal as configured, or as the resumed run stored it */
        if (c.sn_eval.batch > c.sn_eval.recal)
            c.sn_eval.batch = c.sn_eval.recal;
        nn_set_threads(o.train_threads);
    }
    int done = 0;
    db_candidate_count(db, run.id, &done, NULL);
    progress_init(&c.bar, "search", run.trials_max, "trials", cli_quiet);
    c.bar.done = c.bar.base = c.stored = done;
    c.json = o.json;
    if (!o.json)
        printf("run '%s' (id %lld): space %s, controller %s, target %.4f ms, w %g/%g, %d of %d "
               "trials done\n", run.name, (long long)run.id, run.space, run.controller,
               run.target_ms, run.w_alpha, run.w_beta, done, run.trials_max);
    fflush(stdout);
    struct search_hooks hooks = {predict_hook, &c, eval_hook, &c, trial_hook, &c,
                                 have_sn ? sn_name : "proxy"};
    struct search_pool workers;
    struct cluster_pool *cp = NULL;
    if (cluster_active()) {
        /* the workers evaluate; this process proposes and stores */
        struct cluster_eval_setup cs;
        memset(&cs, 0, sizeof cs);
        cs.data_dir = realpath(o.data ? o.data : DATA_DEFAULT_DIR, data_abs) ? data_abs
                      : o.data ? o.data : DATA_DEFAULT_DIR;
        cs.classes = space.base.classes;
        cs.proxy = c.proxy;
        cs.supernet = have_sn ? o.supernet : NULL;
        cs.sn_eval = c.sn_eval;
        if (!have_sn)
            supernet_eval_config_default(&cs.sn_eval);
        cs.threads = o.train_threads;
        cs.timeout_s = o.worker_timeout;
        cs.stop = &stop_requested;
        if ((rc = cluster_pool_open(&cp, &cs, &workers, &e))) {
            db_run_set_status(db, run.id, DB_RUN_STOPPED, NULL);
            goto out;
        }
        hooks.pool = &workers;
        if (!o.json)
            printf("evaluating on %d MPI workers (ranks 1..%d), %d training thread%s each\n",
                   workers.slots, workers.slots, o.train_threads,
                   o.train_threads == 1 ? "" : "s");
    }
    struct search_limits lim = {run.trials_max, o.time_budget, &stop_requested,
                                o.max_over * run.target_ms, o.max_params};
    if (o.max_over > 0)
        log_info("training cap: proposals predicted over %.4f ms (%g x target) are redrawn "
                 "untrained%s", lim.max_train_ms, o.max_over,
                 ctrl_kind_of(ctrl) == CTRL_RL
                     ? "; the policy is told their reward at the run's median quality"
                     : "");
    if (o.max_params > 0)
        log_info("parameter cap: proposals with more than %.0f parameters are redrawn "
                 "untrained%s", o.max_params,
                 ctrl_kind_of(ctrl) == CTRL_RL
                     ? "; the policy is told the median-quality reward x cap / their parameters"
                     : "");
    struct reward_cfg rcfg = {run.target_ms, run.w_alpha, run.w_beta, o.score_kind};
    if (o.score_kind == REWARD_SCORE_LOSS)
        log_info("reward scores candidates by exp(-validation loss), not accuracy");
    else if (o.score_kind == REWARD_SCORE_TRAIN_LOSS)
        log_info("reward scores candidates by exp(-%s), not validation accuracy",
                 have_sn ? "the loss of their BN recalibration batches"
                         : "the proxy's last-epoch training loss");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double cpu0 = cpu_seconds();
    rc = search_run(db, run.id, &space, &rcfg, ctrl, run.seed, &hooks, &lim, &e);
    cluster_pool_close(cp);
    progress_finish(&c.bar);
    if (cp && c.evaluated > 0 && !o.json) {
        /* what this process spends per candidate while workers train */
        double per = (cpu_seconds() - cpu0) / (c.stored - done), mean = c.eval_wall / c.evaluated;
        printf("coordinator (rank 0): %.2f ms CPU per candidate, %.3f %% of the mean "
               "evaluation (%.2f s)\n", 1e3 * per, 100 * per / mean, mean);
    }
    if (rc == HW_EINTR) {
        db_run_set_status(db, run.id, DB_RUN_STOPPED, NULL);
        fprintf(stderr, "hwnas: %s; continue with 'hwnas search --resume %s'\n", e.msg, run.name);
        rc = HW_OK;
    } else if (rc == HW_OK) {
        db_candidate_count(db, run.id, &done, NULL);
        int finished = run.trials_max > 0 && done >= run.trials_max;
        db_run_set_status(db, run.id, finished ? DB_RUN_DONE : DB_RUN_STOPPED, NULL);
        if (!o.json)
            printf("run '%s': %d candidates; see 'hwnas runs show %s' and 'hwnas runs pareto "
                   "%s'\n", run.name, done, run.name, run.name);
    } else {
        db_run_set_status(db, run.id, DB_RUN_FAILED, NULL);
    }
    if (rc == HW_OK && o.json)
        rc = summary_json(db, run.id, c.stored - c.bar.base, &summary, &e);
    nn_pool_release(&c.pools[0]);
    nn_pool_release(&c.pools[1]);
out:
    if (rc)
        cli_fail(&e);
    if (have_data) {
        data_set_release(&train);
        data_set_release(&val);
    }
    ctrl_free(ctrl);
    if (have_sn)
        supernet_release(&sn);
    free(space_text);
    if (have_table)
        lat_table_release(&table);
    if (have_run || run.config_json)
        db_run_release(&run);
    db_close(db);
    if (rc == HW_OK && o.rerank > 0 && !stop_requested && have_run) {
        /* the winner is picked on real training, not on the search's scores */
        signal(SIGINT, SIG_DFL); /* rerank trains for long: Ctrl-C ends it at once */
        signal(SIGTERM, SIG_DFL);
        char top[16], *av[] = {"rerank", run.name, "--top", top, "--db",
                               (char *)cli_db_path(o.db), NULL};
        snprintf(top, sizeof top, "%d", o.rerank);
        printf("reranking the %d best distinct candidates under the target by stand-alone "
               "training\n", o.rerank);
        fflush(stdout);
        return cmd_runs_rerank(6, av);
    }
    if (summary) /* made last: rc is HW_OK */
        return cli_json_print(summary);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
