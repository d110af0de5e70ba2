#include "cli/lat_cli.h"
#include "cli/cli.h"
#include "latency/timing.h"
#include "nn/net.h"

#include <inttypes.h>
#include <stdio.h>

int lat_cli_setup(const char *cmd, int threads, int cpu)
{
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "hwnas %s: --threads: %d is not in [1, 256]\n", cmd, threads);
        return CLI_EXIT_USAGE;
    }
    nn_set_threads(threads);
    if (cpu >= 0 && lat_pin_cpu(cpu) != HW_OK) {
        fprintf(stderr, "hwnas %s: --cpu: cannot pin to CPU %d\n", cmd, cpu);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int lat_cli_open(const char *db_flag, const char *sel, int threads, struct db **db,
                 struct lat_table *t)
{
    struct hw_err err;
    int rc = db_open(db, cli_db_path(db_flag), 0, &err);
    if (rc == HW_OK && (rc = lat_table_open(t, *db, sel, threads, &err)) != HW_OK)
        db_close(*db);
    return rc ? cli_fail(&err) : CLI_EXIT_OK;
}

void lat_cli_timing(struct lat_table *t, int runs, int warmup)
{
    if (runs > 0)
        t->timing.runs = t->timing.min_runs = runs;
    if (warmup >= 0)
        t->timing.warmup = warmup;
}

void lat_cli_device_name(const struct lat_table *t, char *buf, int n)
{
    snprintf(buf, (size_t)n, "device %" PRId64 " (%s, %d thread%s%s)", t->device_id,
             t->lut.fp.hash, t->lut.fp.threads, t->lut.fp.threads == 1 ? "" : "s",
             t->local ? ", this machine" : ", another machine");
}

void lat_cli_calib_text(const struct lut_calib *c, char *buf, size_t size)
{
    if (c)
        lat_calib_text(&c->c, buf, size);
    else
        snprintf(buf, size, "none (the plain sum)");
}
