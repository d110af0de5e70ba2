/* hwnas profile: builds this machine's latency table for a search space. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/lat_cli.h"
#include "latency/keys.h"
#include "latency/measure.h"
#include "latency/spread.h"
#include "space/space.h"
#include "util/pcg32.h"
#include "util/progress.h"
#include "util/timer.h"

static volatile sig_atomic_t stop_requested;

/* A network of the space that times some of its keys (want[u] for unit u;
 * n of them). */
struct cover_net {
    struct arch a;
    unsigned char want[ARCH_MAX_LAYERS + 2];
    unsigned char lowered[ARCH_MAX_LAYERS + 2]; /* by a pass after the first */
    int n;
};

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Keys of need that are in have. */
static int count_present(const struct lut *need, const struct lut *have)
{
    int n = 0;
    for (int i = 0; i < need->cap; i++)
        if (need->entries[i].key[0] && lut_get(have, need->entries[i].key))
            n++;
    return n;
}

static int calib_progress(void *ctx, int done)
{
    progress_update(ctx, done);
    return stop_requested;
}

/* Samples n archs of s spread over its latency range (their own seed
 * stream, apart from validate's),
 * measures each end to end (rounds interleaved passes, the fastest pass) and
 * fits the table's calibration for s's input shape (latency/calib.h). Ctrl-C
 * stops it without fitting (HW_EINTR). */
/* quiet (--json): no line saying what was fitted */
static int calibrate(struct lat_table *t, const struct space *s, int n, int rounds, int quiet,
                     struct hw_err *err)
{
    struct arch *a = malloc(sizeof *a * (size_t)n);
    double *measured = malloc(sizeof *measured * (size_t)n);
    int rc = HW_OK;
    if (!a || !measured)
        rc = hw_error(err, HW_ENOMEM, "out of memory for %d calibration networks", n);
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 0x63616c6962ull);
    /* spread over the latency range: uniform samples crowd the middle, and
     * a fit on them extrapolates badly to the fast and slow ends where
     * constrained searches end up */
    if (rc == HW_OK)
        rc = lat_sample_spread(s, &t->lut, &rng, n, a, NULL, err);
    if (rc == HW_OK)
        lat_shuffle_archs(a, n, &rng);
    struct progress p;
    progress_init(&p, "calibrate", n * rounds, "timings", cli_quiet);
    if (rc == HW_OK)
        rc = lat_measure_archs(a, n, rounds, &t->timing, measured, calib_progress, &p, err);
    progress_finish(&p);
    struct lat_calib c;
    if (rc == HW_OK && (rc = lat_table_calibrate(t, a, measured, n, &c, err)) == HW_OK &&
        !quiet) {
        char text[160];
        lat_calib_text(&c, text, sizeof text);
        printf("calibration from %d networks measured end to end: latency = %s; RMSPE on them "
               "%.2f %% (sum alone) -> %.2f %%\n", n, text, 100 * c.rmspe_sum,
               100 * c.rmspe_fit);
    }
    free(a);
    free(measured);
    return rc;
}

/* The --json report of a profile run (docs/json.md); cal is the input
 * shape's calibration now, NULL when there is none. */
static cJSON *report_json(const struct space *s, const struct lat_table *t, const char *dev,
                          int needed, int before, int measured, int networks, int passes,
                          int lowered, double secs, int present, const struct lut_calib *cal,
                          int calibrated_now)
{
    cJSON *o = cli_json_root();
    cJSON_AddStringToObject(o, "space", s->name);
    cJSON_AddNumberToObject(o, "device_id", (double)t->device_id);
    cJSON_AddStringToObject(o, "device", dev);
    cJSON_AddStringToObject(o, "fingerprint", t->lut.fp.hash);
    cJSON_AddNumberToObject(o, "keys_needed", needed);
    cJSON_AddNumberToObject(o, "keys_present_before", before);
    cJSON_AddNumberToObject(o, "keys_measured", measured);
    cJSON_AddNumberToObject(o, "keys_present", present);
    cJSON_AddNumberToObject(o, "networks", networks);
    cJSON_AddNumberToObject(o, "passes", passes);
    cJSON_AddNumberToObject(o, "entries_lowered", lowered);
    cJSON_AddNumberToObject(o, "profile_s", secs);
    cJSON_AddBoolToObject(o, "calibrated_now", calibrated_now);
    if (!cal) {
        cJSON_AddNullToObject(o, "calibration");
        return o;
    }
    char text[160];
    lat_calib_text(&cal->c, text, sizeof text);
    cJSON *c = lut_calib_to_json(cal);
    cJSON_AddStringToObject(c, "formula", text);
    cJSON_AddItemToObject(o, "calibration", c);
    return o;
}

int cmd_profile(int argc, char **argv)
{
    const char *space_name = NULL, *db_flag = NULL;
    int threads = 1, runs = 0, warmup = -1, cpu = -1, calib_n = 100, recalibrate = 0, rounds = 3;
    int json = 0;
    const struct cli_flag flags[] = {
        {"space", CLI_STR, &space_name, "S", "search space: a shipped name or a space JSON file"},
        {"threads", CLI_INT, &threads, "N", "kernel threads (default 1, as MobileNetV3 measures)"},
        {"runs", CLI_INT, &runs, "R", "timed runs per key (default: 15-100 within ~0.5 s)"},
        {"warmup", CLI_INT, &warmup, "W", "untimed runs before timing (default 3)"},
        {"cpu", CLI_INT, &cpu, "N", "pin to CPU N"},
        {"calib-samples", CLI_INT, &calib_n, "N",
         "networks measured end to end to calibrate the sums (default 100; 0: none)"},
        {"recalibrate", CLI_BOOL, &recalibrate, NULL, "calibrate again even if nothing changed"},
        {"rounds", CLI_INT, &rounds, "R",
         "interleaved timing passes over the keys' networks and over the calibration networks, fastest kept (default 3)"},
        {"db", CLI_STR, &db_flag, "FILE", "database (default $HWNAS_DB or ./hwnas.db)"},
        {"json", CLI_BOOL, &json, NULL, "report the keys measured and the calibration as JSON"},
        {0}};
    const struct cli_command cmd = {
        "profile",
        "Builds this machine's latency table for a search space: lists the distinct\n"
        "table keys the space needs (stem, every block layer shape, every head input\n"
        "width), then times each one not yet in the table, inside whole networks of\n"
        "the space (batch 1, the fastest timed run, microseconds). Each network's\n"
        "entries are saved as soon as they are measured: Ctrl-C stops between\n"
        "networks with a consistent table, and running again continues. The same\n"
        "networks are timed --rounds times in interleaved passes and each key keeps\n"
        "its fastest time (other tenants of a shared machine only slow runs\n"
        "down). Then, when keys were added or the space's input shape has no\n"
        "calibration yet, it measures --calib-samples networks spread over the\n"
        "space's latency range end to end and fits latency ~ alpha + beta x sum +\n"
        "gamma x params + delta x MACs, which every prediction for that input shape\n"
        "uses from then on (the sum alone misses cache effects that grow with the\n"
        "network and per-layer overheads).",
        "hwnas profile --space S [--threads N] [--runs R] [--warmup W] [--cpu N]\n"
        "                     [--calib-samples N] [--rounds R] [--recalibrate] [--db FILE]\n"
        "                     [--json]",
        flags, 0, 0};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (!space_name)
        return cli_usage_error(&cmd, "--space is required");
    if (calib_n != 0 && (calib_n < LAT_CALIB_MIN_SAMPLES || calib_n > 10000))
        return cli_usage_error(&cmd, "--calib-samples: %d is not 0 or in [%d, 10000]", calib_n,
                               LAT_CALIB_MIN_SAMPLES);
    if (rounds < 1 || rounds > 100)
        return cli_usage_error(&cmd, "--rounds: %d is not in [1, 100]", rounds);
    if (runs < 0 || runs > 100000 || warmup > 100000)
        return cli_usage_error(&cmd, "--runs/--warmup: %d/%d out of range", runs, warmup);
    if ((rc = lat_cli_setup("profile", threads, cpu)))
        return rc;
    struct hw_err err;
    struct space s;
    if (space_resolve(space_name, &s, &err))
        return cli_fail(&err);
    struct db *db;
    struct lat_table t;
    if ((rc = lat_cli_open(db_flag, NULL, threads, &db, &t)))
        return rc;
    lat_cli_timing(&t, runs, warmup);
    /* Ctrl-C: stop between networks (and calibration timings), table intact */
    stop_requested = 0;
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    struct lut need;
    lut_init(&need, NULL);
    if ((rc = lat_space_keys(&s, &need, &err)))
        goto fail;
    int present = count_present(&need, &t.lut), missing = need.n - present, before = present;
    char dev[128];
    lat_cli_device_name(&t, dev, sizeof dev);
    if (!json)
        printf("space %s: %d distinct keys, %d already measured, %d to measure on %s\n",
               s.name, need.n, present, missing, dev);
    char note[400];
    if (!cli_quiet && cli_blas_core_note(note, sizeof note))
        fprintf(stderr, "%s\n", note);

    /* Pass 1 measures every missing key; passes 2..rounds time the same
     * networks again, in the same order, and keep each key's fastest
     * time: a slow spell of a shared machine then spoils one pass of a
     * key, not its entry. */
    struct cover_net *nets = NULL;
    int n_nets = 0, cap_nets = 0, done = 0, timed = 0, improved = 0, passes = 1;
    struct progress p;
    progress_init(&p, "profile", missing * rounds, "key timings", cli_quiet);
    uint64_t start = timer_now_ns();
    while (!stop_requested) {
        if (n_nets == cap_nets) {
            cap_nets = cap_nets ? 2 * cap_nets : 64;
            struct cover_net *grown = realloc(nets, sizeof *nets * (size_t)cap_nets);
            if (!grown) {
                rc = hw_error(&err, HW_ENOMEM, "out of memory for %d profiling networks",
                              cap_nets);
                break;
            }
            nets = grown;
        }
        struct cover_net *c = &nets[n_nets];
        memset(c->lowered, 0, sizeof c->lowered);
        if ((rc = lat_space_cover(&s, &need, &t.lut, &c->a, c->want, &c->n, &err)) || c->n == 0)
            break;
        if ((rc = lat_table_measure(&t, &c->a, c->want, &err)))
            break;
        done += c->n;
        timed += c->n;
        n_nets++;
        progress_update(&p, timed);
    }
    int in_pass = 0; /* a later pass that Ctrl-C cut short */
    while (rc == HW_OK && passes < rounds && n_nets > 0 && !stop_requested) {
        int i = 0;
        for (; i < n_nets && !stop_requested; i++) {
            if ((rc = lat_table_remeasure(&t, &nets[i].a, nets[i].want, nets[i].lowered, &err)))
                break;
            timed += nets[i].n;
            progress_update(&p, timed);
        }
        if (i < n_nets)
            in_pass = passes + 1;
        else
            passes++;
    }
    progress_finish(&p);
    for (int i = 0; i < n_nets; i++)
        for (int u = 0; u < ARCH_MAX_LAYERS + 2; u++)
            improved += nets[i].lowered[u];
    free(nets);
    if (rc)
        goto fail;
    double secs = timer_since_s(start);
    char took[32];
    progress_format_duration(took, sizeof took, secs);
    present = count_present(&need, &t.lut);
    /* --json: an interrupted profile reports on stderr and exits 1, no JSON */
    FILE *out = json ? stderr : stdout;
    if (!json || stop_requested) {
        fprintf(out, "measured %d keys in %d networks in %s (%.1f s)", done, n_nets, took, secs);
        if (passes > 1)
            fprintf(out, ", fastest of %d passes (%d entries lowered after the first)", passes,
                    improved);
        fprintf(out, "; the table has %d of the %d keys of %s", present, need.n, s.name);
        if (in_pass)
            fprintf(out, " (interrupted in pass %d of %d: every key has an entry, passes %d-%d "
                    "are skipped; run again to calibrate)\n", in_pass, rounds, in_pass, rounds);
        else
            fprintf(out, "%s\n", stop_requested ? " (interrupted: run again to continue)" : "");
    }
    /* Calibrate when the table changed since the last fit for this input
     * shape (or there is none); the fit belongs to the device and the input
     * shape, so the last space profiled at a shape sets it. */
    int zero[SPACE_MAX_TOKENS] = {0};
    struct arch first;
    if ((rc = space_decode(&s, zero, &first, &err)))
        goto fail;
    const struct lut_calib *cal = lut_get_calib(&t.lut, &first);
    int stale = !cal || done > 0 || strcmp(cal->created_at, t.newest_entry) < 0;
    int calibrated_now = 0;
    if (!stop_requested && present == need.n && calib_n > 0 && (stale || recalibrate)) {
        rc = calibrate(&t, &s, calib_n, rounds, json, &err);
        if (rc == HW_EINTR)
            fprintf(out, "calibration interrupted: run again to calibrate\n");
        else if (rc)
            goto fail;
        calibrated_now = rc == HW_OK;
    }
    int exit_code = stop_requested ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    if (json && !stop_requested)
        exit_code = cli_json_print(report_json(&s, &t, dev, need.n, before, done, n_nets, passes,
                                               improved, secs, present,
                                               lut_get_calib(&t.lut, &first), calibrated_now));
    sigaction(SIGINT, &old, NULL);
    lut_release(&need);
    lat_table_release(&t);
    db_close(db);
    return exit_code;
fail:
    sigaction(SIGINT, &old, NULL);
    lut_release(&need);
    lat_table_release(&t);
    db_close(db);
    return cli_fail(&err);
}
