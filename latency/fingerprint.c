#include "latency/fingerprint.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "nn/kernels.h"
#include "util/fnv.h"

#ifndef HWNAS_VERSION
#define HWNAS_VERSION "dev"
#endif
#ifndef HWNAS_CFLAGS
#define HWNAS_CFLAGS ""
#endif

/* ARM cores by their /proc/cpuinfo "CPU part" (implementer 0x41, Arm). */
static const char *arm_part_name(unsigned part)
{
    static const struct {
        unsigned part;
        const char *name;
    } parts[] = {{0xd03, "Cortex-A53"}, {0xd04, "Cortex-A35"}, {0xd05, "Cortex-A55"},
                 {0xd07, "Cortex-A57"}, {0xd08, "Cortex-A72"}, {0xd09, "Cortex-A73"},
                 {0xd0a, "Cortex-A75"}, {0xd0b, "Cortex-A76"}, {0xd0c, "Neoverse-N1"},
                 {0xd0d, "Cortex-A77"}, {0xd40, "Neoverse-V1"}, {0xd41, "Cortex-A78"},
                 {0xd44, "Cortex-X1"},  {0xd46, "Cortex-A510"}, {0xd47, "Cortex-A710"},
                 {0xd48, "Cortex-X2"},  {0xd49, "Neoverse-N2"}, {0xd4d, "Cortex-A715"},
                 {0xd4e, "Cortex-X3"},  {0xd4f, "Neoverse-V2"}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].part == part)
            return parts[i].name;
    return NULL;
}

/* The value after "key<spaces>:" on a /proc/cpuinfo line, or NULL. */
static char *cpuinfo_value(char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || (line[k] != ' ' && line[k] != '\t' && line[k] != ':'))
        return NULL;
    char *colon = strchr(line, ':');
    if (!colon)
        return NULL;
    colon++;
    while (*colon == ' ' || *colon == '\t')
        colon++;
    colon[strcspn(colon, "\n")] = '\0';
    return colon;
}

/* x86: "model name". ARM has none: its cores are named from "CPU
 * implementer" / "CPU part", every distinct kind with its count, so a phone's
 * big.LITTLE cluster reads "4x Cortex-A55 + 4x Cortex-A76". */
static void read_cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512], kinds[8][32];
    int counts[8] = {0}, n_kinds = 0;
    unsigned impl = 0;
    while (fgets(line, sizeof line, f)) {
        char *v;
        if ((v = cpuinfo_value(line, "model name"))) {
            snprintf(out, n, "%s", v);
            fclose(f);
            return;
        }
        if ((v = cpuinfo_value(line, "CPU implementer")))
            impl = (unsigned)strtoul(v, NULL, 0);
        if ((v = cpuinfo_value(line, "CPU part"))) {
            unsigned part = (unsigned)strtoul(v, NULL, 0);
            const char *name = impl == 0x41 ? arm_part_name(part) : NULL;
            char kind[32];
            if (name)
                snprintf(kind, sizeof kind, "%s", name);
            else
                snprintf(kind, sizeof kind, "0x%02x/0x%03x", impl, part);
            int k = 0;
            while (k < n_kinds && strcmp(kinds[k], kind) != 0)
                k++;
            if (k == n_kinds && n_kinds < 8)
                snprintf(kinds[n_kinds++], sizeof kinds[0], "%s", kind);
            if (k < 8)
                counts[k]++;
        }
    }
    fclose(f);
    size_t pos = 0;
    for (int k = 0; k < n_kinds && pos < n; k++)
        pos += (size_t)snprintf(out + pos, n - pos, "%s%dx %s", k ? " + " : "", counts[k],
                                kinds[k]);
}

/* The fingerprint's cpu field: model | architecture | cores | kernel. A
 * table is refused on another kernel revision too (scheduler and frequency
 * governor changes move timings). */
static void read_cpu(char *out, size_t n)
{
    char model[96];
    read_cpu_model(model, sizeof model);
    struct utsname u;
    if (uname(&u) != 0) {
        snprintf(u.machine, sizeof u.machine, "unknown");
        snprintf(u.release, sizeof u.release, "unknown");
    }
    snprintf(out, n, "%s | %s | %ld cores | Linux %s", model, u.machine,
             sysconf(_SC_NPROCESSORS_CONF), u.release);
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
    read_cpu(fp->cpu, sizeof fp->cpu);
    fp->threads = threads;
    snprintf(fp->backend, sizeof fp->backend, "hwnas-nn r%d nhwc fp32 + openblas",
             NN_KERNELS_REVISION);
    const char *core = openblas_get_corename();
    snprintf(fp->blas_core, sizeof fp->blas_core, "%s", core ? core : "unknown");
    snprintf(fp->compiler, sizeof fp->compiler, "gcc %s %s", __VERSION__, HWNAS_CFLAGS);
    snprintf(fp->version, sizeof fp->version, "%s", HWNAS_VERSION);
    lat_fingerprint_rehash(fp);
}

/* Splits a cpu field at " | " into at most 4 parts; returns the count. */
static int cpu_parts(const char *s, char parts[4][128])
{
    int k = 0;
    while (k < 4) {
        const char *bar = strstr(s, " | ");
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        snprintf(parts[k++], 128, "%.*s", (int)len, s);
        if (!bar)
            break;
        s = bar + 3;
    }
    return k;
}

/* Which part of two cpu fields differs ("cpu model", "architecture",
 * "cores", "kernel") with both parts; NULL when either field has another
 * shape (a table of an older hwnas): the whole field is then named. */
static const char *cpu_part_differs(const char *a, const char *b, char *pa, char *pb, size_t n)
{
    static const char *const names[] = {"cpu model", "architecture", "cores", "kernel"};
    char x[4][128], y[4][128];
    if (cpu_parts(a, x) != 4 || cpu_parts(b, y) != 4)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (strcmp(x[i], y[i]) != 0) {
            snprintf(pa, n, "%s", x[i]);
            snprintf(pb, n, "%s", y[i]);
            return names[i];
        }
    return NULL;
}

int lat_fingerprint_compare(const struct lat_fingerprint *t,
                            const struct lat_fingerprint *n, struct hw_err *err)
{
    const char *field = NULL, *a = NULL, *b = NULL;
    char ta[16], tb[16], pa[128], pb[128];
    if (strcmp(t->cpu, n->cpu) != 0) {
        field = cpu_part_differs(t->cpu, n->cpu, pa, pb, sizeof pa);
        if (field)
            a = pa, b = pb;
        else
            field = "cpu", a = t->cpu, b = n->cpu;
    } else if (t->threads != n->threads) {
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
