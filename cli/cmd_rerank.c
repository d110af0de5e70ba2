/* hwnas runs rerank RUN: the search's best distinct candidates trained again
 * with a longer budget than its proxy, so the winner is chosen on a less
 * noisy accuracy. A short proxy ranks neighbours within its noise (about a
 * point here) and favours networks that learn fast over ones that end up
 * better; a few longer trainings of the top of the list fix most of that at
 * a fraction of the search's cost. Validation split only: the test set stays
 * unseen. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cluster/cluster.h"
#include "db/db.h"
#include "evaluator/data.h"
#include "evaluator/proxy.h"
#include "space/arch_json.h"

/* Up to k of the run's candidates: evaluated, distinct archs, best reward
 * first, only those predicted within the target unless any_latency. */
static int pick_top(const struct db_candidate *cs, int n, double target_ms, int any_latency,
                    int k, int *pick)
{
    int np = 0;
    for (int i = 0; i < n && np < k; i++) {
        const struct db_candidate *c = &cs[i];
        if (c->status != DB_CAND_OK || isnan(c->val_acc) || isnan(c->reward))
            continue;
        if (!any_latency && !(c->predicted_ms <= target_ms))
            continue;
        int seen = 0;
        for (int j = 0; j < np && !seen; j++)
            seen = strcmp(cs[pick[j]].arch_hash, c->arch_hash) == 0;
        if (!seen)
            pick[np++] = i;
    }
    return np;
}

/* The rerank of candidate c under this budget, if one is stored. */
static const struct db_rerank *find_rerank(const struct db_rerank *rr, int n,
                                           const struct db_candidate *c, int epochs, int subset,
                                           uint64_t seed)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rr[i].arch_hash, c->arch_hash) && rr[i].epochs == epochs &&
            rr[i].subset == subset && rr[i].seed == seed)
            return &rr[i];
    return NULL;
}

/* --seed's value when not given: train with the run's own seed. */
#define SEED_RUNS LONG_MIN

int cli_rerank_best(const struct db_rerank *rr, int nr, const struct db_candidate *cs, int n,
                    double target_ms, int *cand, double *acc, int *epochs, int *subset)
{
    if (nr == 0)
        return 0;
    /* the budget of the newest rerank */
    const struct db_rerank *newest = &rr[0];
    for (int i = 1; i < nr; i++)
        if (rr[i].id > newest->id)
            newest = &rr[i];
    int best = -1;
    double best_acc = -1;
    for (int i = 0; i < n; i++) {
        if (!(cs[i].predicted_ms <= target_ms))
            continue;
        double sum = 0;
        int k = 0;
        for (int j = 0; j < nr; j++)
            if (rr[j].candidate_id == cs[i].id && rr[j].epochs == newest->epochs &&
                rr[j].subset == newest->subset) {
                sum += rr[j].val_acc;
                k++;
            }
        if (k > 0 && sum / k > best_acc) {
            best_acc = sum / k;
            best = i;
        }
    }
    if (best < 0)
        return 0;
    *cand = best;
    *acc = best_acc;
    *epochs = newest->epochs;
    *subset = newest->subset;
    return 1;
}

/* The --json report (docs/json.md): the run, this rerank's budget, the picked
 * candidates with their reranked accuracy, every stored rerank and the
 * winner 'export --reranked' takes. The caller owns it. */
static cJSON *rerank_json(const struct db_run *r, const struct db_candidate *cs, int n,
                          const int *pick, int np, const struct db_rerank *rr, int nr,
                          int epochs, int subset, uint64_t seed, int trained)
{
    cJSON *o = cli_json_root();
    cJSON_AddItemToObject(o, "run", cli_json_run(r, n));
    cJSON_AddNumberToObject(o, "epochs", epochs);
    cJSON_AddNumberToObject(o, "subset", subset);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "trained", trained);
    cJSON *ca = cJSON_AddArrayToObject(o, "candidates");
    for (int i = 0; i < np; i++) {
        const struct db_rerank *x = find_rerank(rr, nr, &cs[pick[i]], epochs, subset, seed);
        cJSON *c = cli_json_candidate(&cs[pick[i]]);
        cJSON_AddNumberToObject(c, "rerank_val_acc_pct", x ? 100 * x->val_acc : NAN);
        cJSON_AddNumberToObject(c, "rerank_wall_s", x ? x->wall_s : NAN);
        cJSON_AddItemToArray(ca, c);
    }
    cJSON *ra = cJSON_AddArrayToObject(o, "reranks");
    for (int i = 0; i < nr; i++)
        cJSON_AddItemToArray(ra, cli_json_rerank(&rr[i]));
    int bi, be, bs;
    double ba;
    if (cli_rerank_best(rr, nr, cs, n, r->target_ms, &bi, &ba, &be, &bs)) {
        cJSON *b = cJSON_AddObjectToObject(o, "best");
        cJSON_AddNumberToObject(b, "trial", cs[bi].trial);
        cJSON_AddNumberToObject(b, "val_acc_pct", 100 * ba);
        cJSON_AddNumberToObject(b, "epochs", be);
        cJSON_AddNumberToObject(b, "subset", bs);
    } else {
        cJSON_AddNullToObject(o, "best");
    }
    return o;
}

/* One stand-alone training (the proxy with the rerank's recipe, ctx). */
static int rerank_eval(void *ctx, const struct arch *a, uint64_t seed, struct search_eval *out,
                       struct hw_err *err)
{
    struct eval_result res;
    int rc = eval_proxy(a, ctx, seed, &res, err);
    if (rc == HW_OK) {
        out->acc = res.val_acc;
        out->loss = res.val_loss;
        out->train_loss = res.train_loss;
        out->wall_s = res.wall_s;
    }
    return rc;
}

/* The data folder run r was searched on (its config), or NULL. */
static const char *run_data_dir(const struct db_run *r, char *buf, size_t size)
{
    cJSON *cfg = r->config_json ? cJSON_Parse(r->config_json) : NULL;
    const cJSON *dd = cJSON_GetObjectItemCaseSensitive(cfg, "data");
    const char *dir = NULL;
    if (cJSON_IsString(dd)) {
        snprintf(buf, size, "%s", dd->valuestring);
        dir = buf;
    }
    cJSON_Delete(cfg);
    return dir;
}

int cmd_runs_rerank(int argc, char **argv)
{
    const char *db_flag = NULL, *data = NULL;
    int top = 5, epochs = 3, subset = 0, threads = 2, any_latency = 0, json = 0;
    long seed = SEED_RUNS;
    double worker_timeout = 0;
    const struct cli_flag flags[] = {
        {"top", CLI_INT, &top, "K", "candidates to train again, best reward first (default 5)"},
        {"epochs", CLI_INT, &epochs, "E", "training epochs each (default 3)"},
        {"subset", CLI_INT, &subset, "N",
         "training images: the first N of the 50k split (default 0: all)"},
        {"seed", CLI_LONG, &seed, "S", "training seed, >= 0 (default: the run's)"},
        {"any-latency", CLI_BOOL, &any_latency, NULL,
         "also candidates predicted over the run's target"},
        {"threads", CLI_INT, &threads, "T", "training threads (per worker under mpirun; default 2)"},
        {"worker-timeout", CLI_DURATION, &worker_timeout, "D", "under mpirun: give a worker up when it has not answered a training after D (default: 1 h until a first result, then 10 x the longest, at least 5 min)"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset folder (default: the run's)"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default ./hwnas.db or $HWNAS_DB)"},
        {"json", CLI_BOOL, &json, NULL, "progress on stderr; the reranked candidates and the winner as JSON at the end"},
        {0},
    };
    const struct cli_command cmd = {
        "runs rerank",
        "Trains a run's K best distinct candidates (by reward, predicted within the\n"
        "target) again for E epochs with the full recipe (batch 128, crop/flip,\n"
        "one-cycle) and validates each on all 10,000 validation images; a less noisy\n"
        "ranking than the search's short proxy. Each result is stored as it is done;\n"
        "running again skips what is stored for the same budget and seed, so an\n"
        "interrupted rerank continues. 'hwnas export RUN --reranked' then exports\n"
        "the best of them.",
        "hwnas runs rerank RUN [--top K] [--epochs E] [--subset N] [--seed S] [--any-latency]\n"
        "                      [--json]",
        flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (top < 1 || top > 1000)
        return cli_usage_error(&cmd, "--top: %d is not in [1, 1000]", top);
    if (epochs < 1 || epochs > 1000)
        return cli_usage_error(&cmd, "--epochs: %d is not in [1, 1000]", epochs);
    if (subset < 0)
        return cli_usage_error(&cmd, "--subset: %d is negative", subset);
    if (threads < 1 || threads > 256)
        return cli_usage_error(&cmd, "--threads: %d is not in [1, 256]", threads);
    if (seed != SEED_RUNS && seed < 0)
        return cli_usage_error(&cmd, "--seed: %ld is negative", seed);

    struct hw_err e;
    hw_err_clear(&e);
    struct db *db;
    if (db_open(&db, cli_db_path(db_flag), DB_OPEN_EXISTING, &e))
        return cli_fail(&e);
    struct db_run r;
    if (db_run_lookup(db, pos[0], &r, &e)) {
        db_close(db);
        return cli_fail(&e);
    }
    uint64_t s = seed == SEED_RUNS ? r.seed : (uint64_t)seed;
    char data_buf[1024];
    if (!data)
        data = run_data_dir(&r, data_buf, sizeof data_buf);
    struct db_candidate *cs = NULL;
    struct db_rerank *rr = NULL;
    int n = 0, nr = 0, *pick = NULL, np = 0;
    struct data_set train = {0}, val = {0};
    rc = db_candidate_list(db, r.id, DB_ORDER_REWARD, 0, &cs, &n, &e);
    if (!rc && !(pick = malloc(sizeof *pick * (size_t)(n ? n : 1))))
        rc = hw_error(&e, HW_ENOMEM, "out of memory");
    if (!rc && n == 0)
        rc = hw_error(&e, HW_ENOTFOUND, "run '%s' has no candidates yet", r.name);
    if (!rc && (np = pick_top(cs, n, r.target_ms, any_latency, top, pick)) == 0)
        rc = hw_error(&e, HW_ENOTFOUND, "run '%s' has no evaluated candidate predicted within "
                      "its target %.4f ms (--any-latency takes the others too)", r.name,
                      r.target_ms);
    if (!rc)
        rc = db_rerank_list(db, r.id, &rr, &nr, &e);
    int todo = 0;
    for (int i = 0; !rc && i < np; i++)
        todo += !find_rerank(rr, nr, &cs[pick[i]], epochs, subset, s);
    struct arch a;
    if (!rc && todo > 0) {
        rc = arch_from_json_string(cs[pick[0]].arch_json, "candidate", &a, &e);
        if (!rc)
            rc = data_load_trainval(data, a.classes, &train, &val, &e);
    }
    char images[32] = "all 50,000";
    if (subset)
        snprintf(images, sizeof images, "%d", subset);
    FILE *txt = json ? stderr : stdout; /* --json: stdout holds the document alone */
    if (!rc && !cli_quiet)
        fprintf(txt, "run '%s': %d candidate%s, %d to train (%d epoch%s on %s training images, seed "
               "%llu)\n", r.name, np, np == 1 ? "" : "s", todo, epochs, epochs == 1 ? "" : "s",
               images, (unsigned long long)s);
    struct eval_proxy_config pc;
    eval_proxy_config_default(&pc);
    pc.epochs = epochs;
    pc.subset = subset;
    pc.val_subset = 0;
    pc.batch = 128;
    pc.lr = 0.2;
    pc.augment = 1;
    pc.threads = threads;
    pc.train = &train;
    pc.val = &val;
    /* the trainings are independent: under mpirun the workers take them,
     * several at once; otherwise this process trains one after another */
    struct search_pool pool;
    struct search_local_pool local;
    struct cluster_pool *cp = NULL;
    struct arch *archs = NULL;
    search_pool_local(&pool, &local, rerank_eval, &pc);
    if (!rc && todo > 0 && cluster_active()) {
        char abs[PATH_MAX];
        struct cluster_eval_setup cs_setup;
        memset(&cs_setup, 0, sizeof cs_setup);
        cs_setup.data_dir = data && realpath(data, abs) ? abs : data ? data : DATA_DEFAULT_DIR;
        cs_setup.classes = a.classes;
        cs_setup.proxy = pc;
        supernet_eval_config_default(&cs_setup.sn_eval);
        cs_setup.threads = threads;
        cs_setup.timeout_s = worker_timeout;
        if ((rc = cluster_pool_open(&cp, &cs_setup, &pool, &e)) == HW_OK && !cli_quiet)
            fprintf(txt, "training on %d MPI workers, %d thread%s each\n", pool.slots, threads,
                   threads == 1 ? "" : "s");
    }
    if (!rc && !(archs = malloc(sizeof *archs * (size_t)(np ? np : 1))))
        rc = hw_error(&e, HW_ENOMEM, "out of memory");
    int trained = 0;
    for (int next = 0, busy = 0; !rc;) {
        while (!rc && busy < pool.slots && next < np) {
            const struct db_candidate *c = &cs[pick[next]];
            char src[160];
            snprintf(src, sizeof src, "run %s trial %d", r.name, c->trial);
            if (!find_rerank(rr, nr, c, epochs, subset, s) &&
                !(rc = arch_from_json_string(c->arch_json, src, &archs[next], &e)) &&
                !(rc = pool.submit(pool.ctx, next, &archs[next], s, &e)))
                busy++;
            next++;
        }
        if (rc || busy == 0)
            break;
        int i;
        struct search_eval res = {NAN, NAN, NAN, NAN, ""};
        if ((rc = pool.collect(pool.ctx, &i, &res, &e)))
            break;
        busy--;
        const struct db_candidate *c = &cs[pick[i]];
        struct db_rerank row = {.run_id = r.id, .candidate_id = c->id, .trial = c->trial,
                                .epochs = epochs, .subset = subset, .seed = s,
                                .val_acc = res.acc, .wall_s = res.wall_s};
        snprintf(row.arch_hash, sizeof row.arch_hash, "%s", c->arch_hash);
        if ((rc = db_rerank_add(db, &row, &e)))
            break;
        trained++;
        if (!cli_quiet) {
            fprintf(txt, "  [%d/%d] trial %d: search %.2f%% -> %.2f%% (%.0f s%s%s)\n", trained,
                    todo, c->trial, 100 * c->val_acc, 100 * res.acc, res.wall_s,
                    res.worker[0] ? ", worker " : "", res.worker);
            fflush(txt);
        }
    }
    cluster_pool_close(cp);
    free(archs);
    free(rr);
    rr = NULL;
    if (!rc)
        rc = db_rerank_list(db, r.id, &rr, &nr, &e);
    int exit_code = CLI_EXIT_OK;
    if (!rc && json)
        exit_code = cli_json_print(rerank_json(&r, cs, n, pick, np, rr, nr, epochs, subset, s,
                                               trained));
    if (!rc && !json && !cli_quiet) {
        printf("%6s %12s %9s %9s %7s %7s %8s\n", "trial", "predicted_ms", "search", "reranked",
               "epochs", "subset", "wall_s");
        for (int j = 0; j < nr; j++) {
            const struct db_candidate *c = NULL;
            for (int i = 0; i < n && !c; i++)
                if (cs[i].id == rr[j].candidate_id)
                    c = &cs[i];
            printf("%6d %12.4f %8.2f%% %8.2f%% %7d %7d %8.1f\n", rr[j].trial,
                   c ? c->predicted_ms : NAN, c ? 100 * c->val_acc : NAN, 100 * rr[j].val_acc,
                   rr[j].epochs, rr[j].subset, rr[j].wall_s);
        }
    }
    int bi, be, bs;
    double ba;
    if (!rc && !json && cli_rerank_best(rr, nr, cs, n, r.target_ms, &bi, &ba, &be, &bs))
        printf("best within the target at %d epoch%s on %s images: trial %d, %.2f%% (export it "
               "with 'hwnas export %s --reranked')\n", be, be == 1 ? "" : "s",
               bs ? "a subset of" : "all", cs[bi].trial, 100 * ba, r.name);
    data_set_release(&train);
    data_set_release(&val);
    free(rr);
    free(pick);
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    db_close(db);
    return rc ? cli_fail(&e) : exit_code;
}
