#include "latency/fingerprint.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/kernels.h"
#include "util/fnv.h"

#ifndef HWNAS_VERSION
#define HWNAS_VERSION "dev"
#endif
#ifndef HWNAS_CFLAGS
#define HWNAS_CFLAGS ""
#endif

static void read_cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            break;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, n, "%s", colon);
        break;
    }
    fclose(f);
}

void lat_fingerprint_rehash(struct lat_fingerprint *fp)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s|%d|%s|%s|%s|%s", fp->cpu, fp->threads, fp->backend,
             fp->blas_core, fp->compiler, fp->version);
    uint64_t h = fnv1a64_str(FNV1A64_BASIS_SHORT, buf);
    snprintf(fp->hash, sizeof fp->hash, "%016llx", (unsigned long long)h);
}

void lat_fingerprint_current(struct lat_fingerprint *fp, int threads)
{
    memset(fp, 0, sizeof *fp);
    read_cpu_model(fp->cpu, sizeof fp->cpu);
    fp->threads = threads;
    snprintf(fp->backend, sizeof fp->backend, "hwnas-nn r%d nhwc fp32 + openblas",
             NN_KERNELS_REVISION);
    const char *core = openblas_get_corename();
    snprintf(fp->blas_core, sizeof fp->blas_core, "%s", core ? core : "unknown");
    snprintf(fp->compiler, sizeof fp->compiler, "gcc %s %s", __VERSION__, HWNAS_CFLAGS);
    snprintf(fp->version, sizeof fp->version, "%s", HWNAS_VERSION);
    lat_fingerprint_rehash(fp);
}

int lat_fingerprint_compare(const struct lat_fingerprint *t,
                            const struct lat_fingerprint *n, struct hw_err *err)
{
    const char *field = NULL, *a = NULL, *b = NULL;
    char ta[16], tb[16];
    if (strcmp(t->cpu, n->cpu) != 0)
        field = "cpu", a = t->cpu, b = n->cpu;
    else if (t->threads != n->threads) {
        snprintf(ta, sizeof ta, "%d", t->threads);
        snprintf(tb, sizeof tb, "%d", n->threads);
        field = "threads", a = ta, b = tb;
    } else if (strcmp(t->backend, n->backend) != 0)
        field = "backend", a = t->backend, b = n->backend;
    else if (strcmp(t->blas_core, n->blas_core) != 0)
        field = "blas core", a = t->blas_core, b = n->blas_core;
    else if (strcmp(t->compiler, n->compiler) != 0)
        field = "compiler", a = t->compiler, b = n->compiler;
    else if (strcmp(t->version, n->version) != 0)
        field = "hwnas version", a = t->version, b = n->version;
    if (!field)
        return HW_OK;
    return hw_error(err, HW_EMISMATCH,
                    "latency table is for another device: %s: table has '%s', this run has '%s'",
                    field, a, b);
}
