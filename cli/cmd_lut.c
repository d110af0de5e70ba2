/* hwnas lut list|show|export|import: the latency tables in the database. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "util/progress.h"

static int lut_list(int argc, char **argv)
{
    const char *db_flag = NULL;
    int threads = 1, json = 0;
    const struct cli_flag flags[] = {
        {"threads", CLI_INT, &threads, "N", "thread count that marks this machine's table (default 1)"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "JSON output"},
        {0}};
    const struct cli_command cmd = {
        "lut list", "Devices (fingerprints) in the database with their entry counts.",
        "hwnas lut list [--db FILE] [--json]", flags, 0, 0};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    struct hw_err err;
    struct db *db;
    if (db_open(&db, cli_db_path(db_flag), DB_OPEN_EXISTING, &err))
        return cli_fail(&err);
    struct db_device *d;
    int n;
    if ((rc = db_device_list(db, &d, &n, &err))) {
        db_close(db);
        return cli_fail(&err);
    }
    struct lat_fingerprint here;
    lat_fingerprint_current(&here, threads);
    cJSON *root = json ? cli_json_root() : NULL, *arr = cJSON_AddArrayToObject(root, "devices");
    if (!json)
        printf("%4s  %-16s %7s %8s  %-10s %-5s %s\n", "id", "hash", "threads", "entries",
               "blas core", "here", "cpu");
    for (int i = 0; rc == HW_OK && i < n; i++) {
        int count, is_here = strcmp(d[i].hash, here.hash) == 0;
        if ((rc = db_lut_count(db, d[i].id, &count, &err)))
            break;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)d[i].id);
            cJSON_AddStringToObject(o, "hash", d[i].hash);
            cJSON_AddNumberToObject(o, "threads", d[i].threads);
            cJSON_AddNumberToObject(o, "entries", count);
            cJSON_AddStringToObject(o, "blas_core", d[i].blas_core);
            cJSON_AddBoolToObject(o, "here", is_here);
            cJSON_AddStringToObject(o, "cpu", d[i].cpu);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%4" PRId64 "  %-16s %7d %8d  %-10s %-5s %s\n", d[i].id, d[i].hash,
                   d[i].threads, count, d[i].blas_core, is_here ? "yes" : "-", d[i].cpu);
        }
    }
    free(d);
    db_close(db);
    if (rc) {
        cJSON_Delete(root);
        return cli_fail(&err);
    }
    return json ? cli_json_print(root) : CLI_EXIT_OK;
}

/* The --json root of export and import: the file, the device (id and
 * fingerprint hash) and the entries written or read; the caller owns it. */
static cJSON *lut_file_json(const char *file, int64_t device_id, const char *hash, int entries)
{
    cJSON *o = cli_json_root();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "device_id", (double)device_id);
    cJSON_AddStringToObject(o, "hash", hash);
    cJSON_AddNumberToObject(o, "entries", entries);
    return o;
}

/* show and export: a device's table, printed or exported. */
static int lut_dump(int argc, char **argv, int show)
{
    const char *device = NULL, *db_flag = NULL, *format = "json", *out_path = NULL;
    int threads = 1, json = 0;
    const struct cli_flag show_flags[] = {
        {"device", CLI_STR, &device, "ID|HASH", "device (default: this machine)"},
        {"threads", CLI_INT, &threads, "N", "thread count of this machine's table (default 1)"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "JSON output: the table as 'hwnas lut export' writes it"},
        {0}};
    const struct cli_flag export_flags[] = {
        {"device", CLI_STR, &device, "ID|HASH", "device (default: this machine)"},
        {"threads", CLI_INT, &threads, "N", "thread count of this machine's table (default 1)"},
        {"format", CLI_STR, &format, "json|csv", "export format (default json)"},
        {"out", CLI_STR, &out_path, "FILE", "write to FILE instead of stdout"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "report what was written where as JSON (needs --out)"},
        {0}};
    const struct cli_command show_cmd = {
        "lut show", "A device's latency table: every key with its figures in microseconds.",
        "hwnas lut show [--device ID|HASH] [--json]", show_flags, 0, 0};
    const struct cli_command export_cmd = {
        "lut export",
        "Exports a device's latency table with its fingerprint and units, as JSON or as\n"
        "CSV (fingerprint in '#' header lines); 'hwnas lut import' reads either back.",
        "hwnas lut export [--device ID|HASH] [--format json|csv] [--out FILE [--json]]",
        export_flags, 0, 0};
    const struct cli_command *cmd = show ? &show_cmd : &export_cmd;
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    int csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "json") != 0)
        return cli_usage_error(cmd, "--format: '%s' is not json or csv", format);
    if (threads < 1 || threads > 256)
        return cli_usage_error(cmd, "--threads: %d is not in [1, 256]", threads);
    if (!show && json && !out_path)
        return cli_usage_error(cmd, "--json reports what was written: give --out FILE (without "
                                    "it the table itself goes to stdout)");
    struct hw_err err;
    struct db *db;
    struct lat_table t;
    if ((rc = lat_cli_open(db_flag, device, threads, &db, &t)))
        return rc;
    int exit_code = CLI_EXIT_OK;
    char dev[128];
    lat_cli_device_name(&t, dev, sizeof dev);
    if (show && json) {
        cJSON *o = cli_json_root();
        cJSON_AddNumberToObject(o, "device_id", (double)t.device_id);
        cJSON_AddStringToObject(o, "device", dev);
        cJSON_AddNumberToObject(o, "entries", t.lut.n);
        cJSON_AddItemToObject(o, "table", lut_to_json(&t.lut));
        exit_code = cli_json_print(o);
    } else if (show) {
        printf("%s: %d entries\n", dev, t.lut.n);
        for (int i = 0; i < t.lut.n_calib; i++) {
            const struct lat_calib *c = &t.lut.calib[i].c;
            char text[160];
            lat_calib_text(c, text, sizeof text);
            printf("# calibration for %s inputs (%d networks): latency = %s; RMSPE %.2f %% "
                   "(sum) -> %.2f %%%s\n", t.lut.calib[i].input, c->samples, text,
                   100 * c->rmspe_sum, 100 * c->rmspe_fit,
                   c->stat_min ? "" : " (fitted to medians by an older hwnas: not used; "
                                      "'hwnas profile' fits a new one)");
        }
        rc = lut_export_csv(&t.lut, stdout, &err);
    } else {
        FILE *f = out_path ? fopen(out_path, "w") : stdout;
        if (!f) {
            rc = hw_error(&err, HW_EIO, "%s: cannot open for writing", out_path);
        } else {
            rc = csv ? lut_export_csv(&t.lut, f, &err) : lut_export_json(&t.lut, f, &err);
            if (out_path && fclose(f) != 0 && rc == HW_OK)
                rc = hw_error(&err, HW_EIO, "%s: write failed", out_path);
            if (rc == HW_OK && json) {
                cJSON *o = lut_file_json(out_path, t.device_id, t.lut.fp.hash, t.lut.n);
                cJSON_AddStringToObject(o, "format", csv ? "csv" : "json");
                cJSON_AddNumberToObject(o, "calibrations", t.lut.n_calib);
                exit_code = cli_json_print(o);
            } else if (rc == HW_OK && out_path)
                log_info("wrote %d entries of device %" PRId64 " to %s", t.lut.n, t.device_id,
                         out_path);
        }
    }
    lat_table_release(&t);
    db_close(db);
    return rc ? cli_fail(&err) : exit_code;
}

static int lut_import_cmd(int argc, char **argv)
{
    const char *db_flag = NULL;
    int json = 0;
    const struct cli_flag flags[] = {
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "report the file, the device and the entries read as JSON"},
        {0}};
    const struct cli_command cmd = {
        "lut import",
        "Imports a latency table exported by 'hwnas lut export' (JSON or CSV) under\n"
        "the device of its fingerprint. The whole file is validated first; a bad\n"
        "file is refused with nothing written.",
        "hwnas lut import FILE [--db FILE] [--json]", flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    struct hw_err err;
    struct db *db;
    if (db_open(&db, cli_db_path(db_flag), 0, &err))
        return cli_fail(&err);
    int64_t id;
    int n;
    struct db_device d;
    rc = lat_table_import(db, pos[0], &id, &n, &err);
    if (rc == HW_OK && json)
        rc = db_device_get(db, id, &d, &err);
    db_close(db);
    if (rc)
        return cli_fail(&err);
    if (json) {
        cJSON *o = lut_file_json(pos[0], id, d.hash, n);
        cJSON_AddStringToObject(o, "cpu", d.cpu);
        return cli_json_print(o);
    }
    printf("imported %d entries from %s into device %" PRId64 "\n", n, pos[0], id);
    return CLI_EXIT_OK;
}

static int lut_show(int argc, char **argv) { return lut_dump(argc, argv, 1); }
static int lut_export(int argc, char **argv) { return lut_dump(argc, argv, 0); }

static const struct cli_subcommand subcommands[] = {
    {"list", lut_list, "devices with their entry counts"},
    {"show", lut_show, "a device's table (CSV, microseconds)"},
    {"export", lut_export, "a device's table as JSON or CSV with its fingerprint"},
    {"import", lut_import_cmd, "a table file, validated whole, under its fingerprint's device"},
    {0},
};

int cmd_lut(int argc, char **argv)
{
    return cli_dispatch("lut", subcommands, argc, argv);
}
