/* hwnas validate: how well the latency table predicts whole networks. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "latency/measure.h"
#include "latency/spread.h"
#include "space/arch_json.h"
#include "space/space.h"
#include "util/pcg32.h"
#include "util/progress.h"

struct sample {
    int index;
    double predicted_us, measured_us, rel; /* rel = predicted / measured - 1 */
    double sum_us; /* the table's sum before calibration */
    double drift; /* the probe's time right after the sample's kept pass / its fastest */
    int64_t macs, params;
    int slot; /* index into the archs array */
};

struct summary {
    double rmse_us, rmspe, within5, within10;
};

/* Accuracy over n samples; with normalize, each prediction is first scaled
 * by the machine's speed drift measured beside it; with sums, the table's
 * uncalibrated sums are scored instead of the predictions. */
static struct summary summarize(const struct sample *v, int n, int normalize, int sums)
{
    struct summary s = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        double pred = (sums ? v[i].sum_us : v[i].predicted_us) * (normalize ? v[i].drift : 1);
        double d = pred - v[i].measured_us, rel = pred / v[i].measured_us - 1;
        s.rmse_us += d * d;
        s.rmspe += rel * rel;
        s.within5 += fabs(rel) <= 0.05;
        s.within10 += fabs(rel) <= 0.10;
    }
    s.rmse_us = sqrt(s.rmse_us / n);
    s.rmspe = sqrt(s.rmspe / n);
    s.within5 /= n;
    s.within10 /= n;
    return s;
}

static int by_abs_rel_desc(const void *a, const void *b)
{
    double x = fabs(((const struct sample *)a)->rel), y = fabs(((const struct sample *)b)->rel);
    return (x < y) - (x > y);
}

static int by_slot(const void *a, const void *b)
{
    return ((const struct sample *)a)->slot - ((const struct sample *)b)->slot;
}

/* The samples as JSON; with archs (indexed like v before any sorting), each
 * with its arch. */
static cJSON *samples_json(const struct sample *v, int n, const struct arch *archs)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "sample", v[i].index);
        cJSON_AddNumberToObject(e, "predicted_us", v[i].predicted_us);
        cJSON_AddNumberToObject(e, "sum_us", v[i].sum_us);
        cJSON_AddNumberToObject(e, "measured_us", v[i].measured_us);
        cJSON_AddNumberToObject(e, "error_pct", 100 * v[i].rel);
        cJSON_AddNumberToObject(e, "drift", v[i].drift);
        cJSON_AddNumberToObject(e, "macs", (double)v[i].macs);
        cJSON_AddNumberToObject(e, "params", (double)v[i].params);
        if (archs)
            cJSON_AddItemToObject(e, "arch", arch_to_json(&archs[v[i].slot]));
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

/* The table's sum and its calibrated prediction (no measuring), with a
 * missing key explained as a space not yet profiled. */
static int predict_or_explain(const struct lat_table *t, const struct arch *a, double *sum_us,
                              double *us, const char *space_name, struct hw_err *err)
{
    char missing[LUT_KEY_MAX];
    int rc = lut_predict(&t->lut, a, sum_us, NULL, missing, err);
    if (rc == HW_ENOTFOUND)
        hw_error(err, rc, "the latency table has no entry for %s: run 'hwnas profile --space %s' "
                 "first", missing, space_name);
    else if (rc == HW_OK)
        *us = lut_calibrated(&t->lut, a, *sum_us);
    return rc;
}

/* Up to *n of run `name`'s evaluated candidates, best reward first, one per
 * distinct arch; *n becomes how many there were; v[i].index is the trial. */
static int run_archs(struct db *db, const char *name, struct arch *archs, struct sample *v,
                     int *n, struct hw_err *err)
{
    struct db_run run;
    struct db_candidate *c = NULL;
    int nc = 0, k = 0, rc = db_run_lookup(db, name, &run, err);
    if (rc)
        return rc;
    rc = db_candidate_list(db, run.id, DB_ORDER_REWARD, 0, &c, &nc, err);
    for (int i = 0; !rc && i < nc && k < *n; i++) {
        int seen = isnan(c[i].reward);
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(c[j].arch_hash, c[i].arch_hash) == 0;
        if (seen)
            continue;
        rc = arch_from_json_string(c[i].arch_json, "candidate", &archs[k], err);
        if (rc)
            hw_error_prefix(err, "run %s trial %d", run.name, c[i].trial);
        v[k++].index = c[i].trial;
    }
    if (!rc && k == 0)
        rc = hw_error(err, HW_ENOTFOUND, "run %s has no evaluated candidate", run.name);
    if (!rc)
        *n = k;
    if (c)
        db_candidate_list_free(c, nc);
    db_run_release(&run);
    return rc;
}

int cmd_validate(int argc, char **argv)
{
    const char *space_name = NULL, *db_flag = NULL, *run_name = NULL;
    int samples = 100, threads = 1, runs = 0, json = 0, cpu = -1, rounds = 3, spread = 0;
    int verbose = 0;
    long seed = 1;
    const struct cli_flag flags[] = {
        {"space", CLI_STR, &space_name, "S", "search space: a shipped name or a space JSON file"},
        {"samples", CLI_INT, &samples, "N", "architectures to sample (default 100)"},
        {"seed", CLI_LONG, &seed, "S", "sampling seed (default 1)"},
        {"spread", CLI_BOOL, &spread, NULL,
         "samples spread evenly over the space's log latency range instead of uniform ones "
         "(which crowd its middle)"},
        {"run", CLI_STR, &run_name, "RUN",
         "instead of samples, the N best distinct candidates of search run RUN (by reward)"},
        {"threads", CLI_INT, &threads, "N", "kernel threads (default 1)"},
        {"runs", CLI_INT, &runs, "R", "timed end-to-end runs per arch (default: 15-100 in ~0.5 s)"},
        {"rounds", CLI_INT, &rounds, "R",
         "interleaved timing passes over the samples, fastest kept (default 3)"},
        {"cpu", CLI_INT, &cpu, "N", "pin to CPU N"},
        {"json", CLI_BOOL, &json, NULL, "JSON output (every sample)"},
        {"verbose", CLI_BOOL, &verbose, NULL, "also the figures with each prediction scaled by the machine's speed drift (a diagnostic; always in --json)"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {0}};
    const struct cli_command cmd = {
        "validate",
        "Samples architectures of a space, predicts each from this machine's latency\n"
        "table and measures it end to end (batch 1, the fastest run, the table's\n"
        "statistic, of --rounds interleaved passes: other tenants of a shared machine\n"
        "only ever slow a run down); prints RMSE (us),\n"
        "RMSPE, the share within +-5 % and +-10 %, and the five worst. A probe network\n"
        "(the space's first arch) is timed after each sample to track the machine's\n"
        "speed drift; with --verbose, figures with predictions scaled by it are printed\n"
        "beside the raw ones (which are the ones stored in the database). Profile the space\n"
        "first ('hwnas profile').",
        "hwnas validate --space S [--samples N] [--seed S] [--spread] [--json]\n"
        "       hwnas validate --run RUN [--samples N] [--json]", flags, 0, 0};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (!space_name && !run_name)
        return cli_usage_error(&cmd, "--space or --run is required");
    if (spread && run_name)
        return cli_usage_error(&cmd, "--spread samples a space; --run takes a run's candidates");
    if (samples < 1 || samples > 100000)
        return cli_usage_error(&cmd, "--samples: %d is not in [1, 100000]", samples);
    if (rounds < 1 || rounds > 100)
        return cli_usage_error(&cmd, "--rounds: %d is not in [1, 100]", rounds);
    if (runs < 0 || runs > 100000)
        return cli_usage_error(&cmd, "--runs: %d is not in [1, 100000]", runs);
    if ((rc = lat_cli_setup("validate", threads, cpu)))
        return rc;
    struct hw_err err;
    struct space s;
    struct db *db;
    struct lat_table t;
    if ((rc = lat_cli_open(db_flag, NULL, threads, &db, &t)))
        return rc;
    lat_cli_timing(&t, runs, -1);
    struct arch *archs = NULL;
    struct sample *v = NULL;
    struct db_run run = {0};
    char run_space[sizeof run.space];
    if (run_name) {
        if ((rc = db_run_lookup(db, run_name, &run, &err)))
            goto fail;
        rc = space_name ? space_resolve(space_name, &s, &err) : cli_run_space(&run, &s, &err);
        snprintf(run_space, sizeof run_space, "%s", run.space);
        db_run_release(&run);
        if (!space_name) /* for messages */
            space_name = run_space;
        if (rc)
            goto fail;
    } else if ((rc = space_resolve(space_name, &s, &err))) {
        goto fail;
    }
    v = calloc((size_t)samples, sizeof *v);
    if (!v) {
        hw_error(&err, HW_ENOMEM, "out of memory for %d samples", samples);
        goto fail;
    }
    /* The probe: the space's first arch (every token 0), timed after each
     * sample. On a shared machine the speed drifts by tens of percent within
     * a minute (other jobs' cache and memory traffic); the probe's time over
     * its fastest time tracks that drift. */
    int zero[SPACE_MAX_TOKENS] = {0};
    struct arch probe;
    double probe_sum_us, probe_pred_us, probe_best_us = 0;
    if ((rc = space_decode(&s, zero, &probe, &err)) ||
        (rc = predict_or_explain(&t, &probe, &probe_sum_us, &probe_pred_us, space_name, &err)))
        goto fail;
    struct pcg32 rng;
    pcg32_seed(&rng, (uint64_t)seed, 0x76616c6964ull);
    archs = malloc(sizeof *archs * (size_t)samples);
    if (!archs) {
        hw_error(&err, HW_ENOMEM, "out of memory for %d samples", samples);
        goto fail;
    }
    if (run_name) {
        /* the run's best distinct archs: what a search selects, where a
         * table's errors matter most (a search favours archs it
         * under-predicts) */
        if ((rc = run_archs(db, run_name, archs, v, &samples, &err)))
            goto fail;
    } else if (spread) {
        if ((rc = lat_sample_spread(&s, &t.lut, &rng, samples, archs, NULL, &err))) {
            if (rc == HW_ENOTFOUND)
                hw_error_prefix(&err, "run 'hwnas profile --space %s' first", space_name);
            goto fail;
        }
        lat_shuffle_archs(archs, samples, &rng); /* timed in random order, as profile does */
        for (int i = 0; i < samples; i++)
            v[i].index = i;
    } else
        for (int i = 0; i < samples; i++) {
            int tok[SPACE_MAX_TOKENS];
            space_sample(&s, &rng, tok);
            if ((rc = space_decode(&s, tok, &archs[i], &err)))
                goto fail;
            v[i].index = i;
        }
    for (int i = 0; i < samples; i++) {
        if ((rc = predict_or_explain(&t, &archs[i], &v[i].sum_us, &v[i].predicted_us,
                                     space_name, &err)))
            goto fail;
        struct arch_cost cost = arch_cost(&archs[i]);
        v[i].macs = cost.macs;
        v[i].params = cost.params;
    }
    /* rounds interleaved passes over the samples; each keeps its fastest pass
     * and the probe timed right after that pass */
    struct progress p;
    progress_init(&p, "validate", samples * rounds, "timings", cli_quiet || json);
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < samples; i++) {
            struct lat_stats st, pst;
            if ((rc = lat_measure_arch(&archs[i], &t.timing, &st, &err)) ||
                (rc = lat_measure_arch(&probe, &t.timing, &pst, &err)))
                goto fail;
            if ((r == 0 && i == 0) || lat_stat(&pst) < probe_best_us)
                probe_best_us = lat_stat(&pst);
            if (r == 0 || lat_stat(&st) < v[i].measured_us) {
                v[i].measured_us = lat_stat(&st);
                v[i].drift = lat_stat(&pst); /* divided by the fastest below */
                v[i].rel = v[i].predicted_us / v[i].measured_us - 1;
            }
            progress_update(&p, r * samples + i + 1);
        }
    progress_finish(&p);
    for (int i = 0; i < samples; i++)
        v[i].drift /= probe_best_us;
    struct summary sm = summarize(v, samples, 0, 0), nm = summarize(v, samples, 1, 0),
                   um = summarize(v, samples, 0, 1);
    const struct lut_calib *cal = lut_get_calib(&t.lut, &probe);
    double drift_lo = v[0].drift, drift_hi = v[0].drift;
    for (int i = 1; i < samples; i++) {
        drift_lo = fmin(drift_lo, v[i].drift);
        drift_hi = fmax(drift_hi, v[i].drift);
    }
    for (int i = 0; i < samples; i++)
        v[i].slot = i;
    cJSON *details = samples_json(v, samples, NULL);
    char *details_text = cJSON_PrintUnformatted(details);
    struct db_validation row = {.device_id = t.device_id, .samples = samples,
                                .rmse_us = sm.rmse_us, .rmspe = sm.rmspe, .within5 = sm.within5,
                                .within10 = sm.within10, .details_json = details_text};
    snprintf(row.space, sizeof row.space, "%s", s.name);
    int64_t vid = 0;
    rc = db_validation_add(db, &row, &vid, &err);
    free(details_text);
    if (rc) {
        cJSON_Delete(details);
        goto fail;
    }
    qsort(v, (size_t)samples, sizeof *v, by_abs_rel_desc);
    int worst = samples < 5 ? samples : 5, exit_code = CLI_EXIT_OK;
    if (json) {
        cJSON *o = cli_json_root();
        cJSON_AddStringToObject(o, "space", s.name);
        cJSON_AddNumberToObject(o, "device", (double)t.device_id);
        cJSON_AddStringToObject(o, "fingerprint", t.lut.fp.hash);
        cJSON_AddNumberToObject(o, "validation", (double)vid);
        cJSON_AddNumberToObject(o, "samples", samples);
        if (run_name)
            cJSON_AddStringToObject(o, "run", run_name);
        else {
            cJSON_AddNumberToObject(o, "seed", (double)seed);
            cJSON_AddStringToObject(o, "sampling", spread ? "spread" : "uniform");
        }
        cJSON_AddNumberToObject(o, "rounds", rounds);
        cJSON_AddStringToObject(o, "units", "microseconds");
        cJSON_AddNumberToObject(o, "rmse_us", sm.rmse_us);
        cJSON_AddNumberToObject(o, "rmspe_pct", 100 * sm.rmspe);
        cJSON_AddNumberToObject(o, "within5_pct", 100 * sm.within5);
        cJSON_AddNumberToObject(o, "within10_pct", 100 * sm.within10);
        cJSON *norm = cJSON_AddObjectToObject(o, "drift_normalized");
        cJSON_AddNumberToObject(norm, "drift_min", drift_lo);
        cJSON_AddNumberToObject(norm, "drift_max", drift_hi);
        cJSON_AddNumberToObject(norm, "rmse_us", nm.rmse_us);
        cJSON_AddNumberToObject(norm, "rmspe_pct", 100 * nm.rmspe);
        cJSON_AddNumberToObject(norm, "within5_pct", 100 * nm.within5);
        cJSON_AddNumberToObject(norm, "within10_pct", 100 * nm.within10);
        cJSON *unc = cJSON_AddObjectToObject(o, "uncalibrated_sums");
        cJSON_AddBoolToObject(unc, "calibrated", cal != NULL);
        cJSON_AddNumberToObject(unc, "rmse_us", um.rmse_us);
        cJSON_AddNumberToObject(unc, "rmspe_pct", 100 * um.rmspe);
        cJSON_AddNumberToObject(unc, "within5_pct", 100 * um.within5);
        cJSON_AddNumberToObject(unc, "within10_pct", 100 * um.within10);
        cJSON_AddItemToObject(o, "worst", samples_json(v, worst, archs));
        cJSON_Delete(details);
        qsort(v, (size_t)samples, sizeof *v, by_slot);
        cJSON_AddItemToObject(o, "all", samples_json(v, samples, archs));
        exit_code = cli_json_print(o);
    } else {
        cJSON_Delete(details);
        char dev[128];
        lat_cli_device_name(&t, dev, sizeof dev);
        if (run_name)
            printf("space %s, the %d best distinct candidates of run %s, fastest of %d passes "
                   "each, %s\n", s.name, samples, run_name, rounds, dev);
        else
            printf("space %s, %d sampled archs (seed %ld%s), fastest of %d passes each, %s\n",
                   s.name, samples, seed, spread ? ", spread over the latency range" : "",
                   rounds, dev);
        printf("RMSE %.1f us, RMSPE %.2f %%, within +-5 %%: %.1f %%, within +-10 %%: %.1f %%\n",
               sm.rmse_us, 100 * sm.rmspe, 100 * sm.within5, 100 * sm.within10);
        if (cal) {
            char text[160];
            lat_calib_text(&cal->c, text, sizeof text);
            printf("predictions calibrated (%s, fitted on %d other networks); the sums alone: "
                   "RMSPE %.2f %%, within +-5 %%: %.1f %%, within +-10 %%: %.1f %%\n", text,
                   cal->c.samples, 100 * um.rmspe, 100 * um.within5, 100 * um.within10);
        } else
            printf("predictions are the table's sums: no calibration for %dx%dx%d inputs (run "
                   "'hwnas profile --space %s')\n", probe.in_h, probe.in_w, probe.in_c,
                   space_name);
        if (verbose) /* a diagnostic that reads as a second verdict without its explanation */
            printf("machine speed drift (probe time / its fastest): %.3f .. %.3f; with each\n"
                   "prediction scaled by its drift: RMSE %.1f us, RMSPE %.2f %%, within +-5 %%: "
                   "%.1f %%, within +-10 %%: %.1f %%\n", drift_lo, drift_hi, nm.rmse_us,
                   100 * nm.rmspe, 100 * nm.within5, 100 * nm.within10);
        printf("\nworst %d:\n%8s %14s %14s %8s %10s\n", worst, run_name ? "trial" : "sample",
               "predicted us",
               "measured us", "error", "MMACs");
        for (int i = 0; i < worst; i++)
            printf("%8d %14.1f %14.1f %+7.1f%% %10.2f\n", v[i].index, v[i].predicted_us,
                   v[i].measured_us, 100 * v[i].rel, v[i].macs / 1e6);
        printf("\nstored as validation %lld\n", (long long)vid);
    }
    free(v);
    free(archs);
    lat_table_release(&t);
    db_close(db);
    return exit_code;
fail:
    free(v);
    free(archs);
    lat_table_release(&t);
    db_close(db);
    return cli_fail(&err);
}
