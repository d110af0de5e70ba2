/* hwnas latency: predicted latency of an architecture from the table, with a
 * per-unit breakdown, and optionally its measured end-to-end latency. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "latency/measure.h"
#include "space/refs.h"

static void print_stats_json(cJSON *o, const struct lat_stats *st)
{
    cJSON_AddNumberToObject(o, "runs", st->count);
    cJSON_AddNumberToObject(o, "min_us", st->min_us);
    cJSON_AddNumberToObject(o, "median_us", st->median_us);
    cJSON_AddNumberToObject(o, "mean_us", st->mean_us);
    cJSON_AddNumberToObject(o, "max_us", st->max_us);
}

static int print_json(const struct arch *a, const struct lat_table *t, const double *unit_us,
                      double total, const struct lat_stats *measured)
{
    cJSON *o = cli_json_root();
    cJSON_AddStringToObject(o, "arch", a->name);
    cJSON_AddNumberToObject(o, "device", (double)t->device_id);
    cJSON_AddStringToObject(o, "fingerprint", t->lut.fp.hash);
    cJSON_AddStringToObject(o, "units", "microseconds");
    cJSON_AddNumberToObject(o, "predicted_us", total);
    double sum = 0;
    for (int u = 0; u < lut_n_units(a); u++)
        sum += unit_us[u];
    cJSON_AddNumberToObject(o, "sum_us", sum);
    cJSON_AddBoolToObject(o, "calibrated", lut_get_calib(&t->lut, a) != NULL);
    cJSON *arr = cJSON_AddArrayToObject(o, "breakdown");
    for (int u = 0; u < lut_n_units(a); u++) {
        char key[LUT_KEY_MAX];
        lut_key(a, u, key);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "key", key);
        cJSON_AddNumberToObject(e, "us", unit_us[u]);
        cJSON_AddItemToArray(arr, e);
    }
    if (measured) {
        cJSON *m = cJSON_AddObjectToObject(o, "measured");
        print_stats_json(m, measured);
        /* against the statistic the table predicts (timing.h) */
        cJSON_AddStringToObject(o, "statistic", LAT_STAT_NAME);
        cJSON_AddNumberToObject(o, "error_pct", 100 * (total / lat_stat(measured) - 1));
        cJSON_AddNumberToObject(o, "error_median_pct", 100 * (total / measured->median_us - 1));
    }
    return cli_json_print(o);
}

int cmd_latency(int argc, char **argv)
{
    const char *device = NULL, *db_flag = NULL;
    int threads = 1, runs = 0, measure = 0, json = 0, cpu = -1;
    const struct cli_flag flags[] = {
        {"device", CLI_STR, &device, "ID|HASH", "table of another device (default: this machine)"},
        {"threads", CLI_INT, &threads, "N", "kernel threads (default 1)"},
        {"measure", CLI_BOOL, &measure, NULL, "also time the whole network end to end"},
        {"runs", CLI_INT, &runs, "N", "timed runs for --measure and on-demand keys (default: 15-100 within ~0.5 s)"},
        {"cpu", CLI_INT, &cpu, "N", "pin to CPU N"},
        {"json", CLI_BOOL, &json, NULL, "JSON output"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {0}};
    const struct cli_command cmd = {
        "latency",
        "Predicted latency of an architecture (a built-in reference or an arch JSON\n"
        "file): the sum of its units' latency table entries, with a per-unit\n"
        "breakdown. Keys missing from this machine's table are measured and stored;\n"
        "another device's table (--device) can only predict. --measure adds an\n"
        "end-to-end timing (batch 1) in the style of TFLite's benchmark_model.",
        "hwnas latency ARCH [--device ID|HASH] [--measure] [--runs N] [--json]", flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (runs < 0 || runs > 100000)
        return cli_usage_error(&cmd, "--runs: %d is not in [1, 100000]", runs);
    if ((rc = lat_cli_setup("latency", threads, cpu)))
        return rc;
    struct hw_err err;
    struct arch a;
    if (cli_resolve_arch(pos[0], NULL, &a, &err))
        return cli_fail(&err);
    struct db *db;
    struct lat_table t;
    if ((rc = lat_cli_open(db_flag, device, threads, &db, &t)))
        return rc;
    lat_cli_timing(&t, runs, -1);
    double unit_us[ARCH_MAX_LAYERS + 2], total;
    struct lat_stats measured;
    int n_measured = 0;
    rc = lat_table_predict(&t, &a, &total, unit_us, &n_measured, &err);
    if (rc == HW_OK && measure && (rc = lat_table_require_local(&t, &err)) == HW_OK)
        rc = lat_measure_arch(&a, &t.timing, &measured, &err);
    if (rc) {
        lat_table_release(&t);
        db_close(db);
        return cli_fail(&err);
    }
    if (json) {
        rc = print_json(&a, &t, unit_us, total, measure ? &measured : NULL);
    } else {
        char dev[128];
        lat_cli_device_name(&t, dev, sizeof dev);
        printf("%s on %s", a.name[0] ? a.name : pos[0], dev);
        if (n_measured)
            printf(", %d missing key%s measured now", n_measured, n_measured == 1 ? "" : "s");
        printf("\n\n%4s  %-72s %10s %6s\n", "unit", "key", "us", "share");
        double sum = 0;
        for (int u = 0; u < lut_n_units(&a); u++)
            sum += unit_us[u];
        for (int u = 0; u < lut_n_units(&a); u++) {
            char key[LUT_KEY_MAX];
            lut_key(&a, u, key);
            printf("%4d  %-72s %10.1f %5.1f%%\n", u, key, unit_us[u], 100 * unit_us[u] / sum);
        }
        const struct lut_calib *cal = lut_get_calib(&t.lut, &a);
        if (cal) {
            char text[160];
            lat_calib_text(&cal->c, text, sizeof text);
            printf("\nsum of units: %.1f us; calibrated: %s (%.3f M params, %.2f M MACs)", sum,
                   text, arch_cost(&a).params / 1e6, arch_cost(&a).macs / 1e6);
        }
        printf("\npredicted: %.1f us (%.3f ms), batch 1, %d thread%s\n", total, total / 1000,
               t.lut.fp.threads, t.lut.fp.threads == 1 ? "" : "s");
        if (measure)
            printf("measured:  runs %d, min %.1f us, median %.1f us, mean %.1f us, max %.1f us "
                   "\n           prediction %+.1f%% of the fastest run (the statistic the table "
                   "predicts), %+.1f%% of the median\n",
                   measured.count, measured.min_us, measured.median_us, measured.mean_us,
                   measured.max_us, 100 * (total / lat_stat(&measured) - 1),
                   100 * (total / measured.median_us - 1));
    }
    lat_table_release(&t);
    db_close(db);
    return rc;
}
