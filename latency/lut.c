#include "latency/lut.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "space/jfield.h"
#include "util/fnv.h"

/* How lut_key writes the three kinds of key and lut_input_shape an input
 * shape; the import prints what it read back with the same formats. */
#define INPUT_SHAPE "%dx%dx%d"
#define KEY_STEM "stem-in:%dx%dx%d-k:%d-s:%d-out:%d-act:%s"
#define KEY_LAYER "layer-in:%dx%dx%d-mid:%d-out:%d-k:%d-s:%d-se:%d-act:%s-res:%d"
#define KEY_HEAD "head-in:%dx%dx%d-conv:%d-cact:%s-fc:%d-fact:%s-cls:%d"

int lut_n_units(const struct arch *a)
{
    return a->n_layers + 2;
}

void lut_key(const struct arch *a, int u, char *key)
{
    int h = a->in_h, w = a->in_w;
    if (u == 0) {
        snprintf(key, LUT_KEY_MAX, KEY_STEM, h, w, a->in_c, a->stem.k, a->stem.stride,
                 a->stem.out, arch_act_name(a->stem.act));
        return;
    }
    h = arch_conv_out_size(h, a->stem.k, a->stem.stride);
    w = arch_conv_out_size(w, a->stem.k, a->stem.stride);
    int c = a->stem.out;
    for (int i = 0; i < u - 1 && i < a->n_layers; i++) {
        h = arch_conv_out_size(h, a->layers[i].k, a->layers[i].stride);
        w = arch_conv_out_size(w, a->layers[i].k, a->layers[i].stride);
        c = a->layers[i].out;
    }
    if (u <= a->n_layers) {
        const struct arch_layer *l = &a->layers[u - 1];
        /* se: the squeeze channels (0: no SE), so every SE size is its own key */
        snprintf(key, LUT_KEY_MAX, KEY_LAYER, h, w, l->in, l->mid, l->out, l->k, l->stride,
                 arch_layer_squeeze(l), arch_act_name(l->act), arch_layer_residual(l));
        return;
    }
    const struct arch_head *hd = &a->head;
    snprintf(key, LUT_KEY_MAX, KEY_HEAD, h, w, c, hd->conv_out, arch_act_name(hd->conv_act),
             hd->fc_hidden, arch_act_name(hd->fc_act), a->classes);
}

void lut_init(struct lut *t, const struct lat_fingerprint *fp)
{
    memset(t, 0, sizeof *t);
    if (fp)
        t->fp = *fp;
}

void lut_release(struct lut *t)
{
    free(t->entries);
    t->entries = NULL;
    t->n = t->cap = 0;
    t->n_calib = 0;
}

static struct lut_entry *lut_slot(struct lut_entry *e, int cap, const char *key)
{
    size_t i = (size_t)(fnv1a64_str(FNV1A64_BASIS_SHORT, key) & (uint64_t)(cap - 1));
    while (e[i].key[0] && strcmp(e[i].key, key) != 0)
        i = (i + 1) & (size_t)(cap - 1);
    return &e[i];
}

int lut_put(struct lut *t, const char *key, const struct lat_stats *st)
{
    if (strlen(key) >= LUT_KEY_MAX)
        return HW_EINVAL;
    if (2 * (t->n + 1) > t->cap) { /* keep the load factor under 1/2 */
        int cap = t->cap ? t->cap * 2 : 64;
        struct lut_entry *e = calloc((size_t)cap, sizeof *e);
        if (!e)
            return HW_ENOMEM;
        for (int i = 0; i < t->cap; i++)
            if (t->entries[i].key[0])
                *lut_slot(e, cap, t->entries[i].key) = t->entries[i];
        free(t->entries);
        t->entries = e;
        t->cap = cap;
    }
    struct lut_entry *s = lut_slot(t->entries, t->cap, key);
    if (!s->key[0]) {
        snprintf(s->key, sizeof s->key, "%s", key);
        t->n++;
    }
    s->st = *st;
    return HW_OK;
}

const struct lut_entry *lut_get(const struct lut *t, const char *key)
{
    if (!t->cap)
        return NULL;
    const struct lut_entry *s = lut_slot(t->entries, t->cap, key);
    return s->key[0] ? s : NULL;
}

int lut_predict(const struct lut *t, const struct arch *a, double *total_us,
                double *unit_us, char *missing_key, struct hw_err *err)
{
    double sum = 0;
    char key[LUT_KEY_MAX];
    for (int u = 0; u < lut_n_units(a); u++) {
        lut_key(a, u, key);
        const struct lut_entry *e = lut_get(t, key);
        if (!e) {
            if (missing_key)
                memcpy(missing_key, key, LUT_KEY_MAX);
            return hw_error(err, HW_ENOTFOUND, "latency table has no entry for %s", key);
        }
        if (unit_us)
            unit_us[u] = lat_stat(&e->st);
        sum += lat_stat(&e->st);
    }
    *total_us = sum;
    return HW_OK;
}

/* ---- calibrations ---- */

void lut_input_shape(const struct arch *a, char *buf)
{
    snprintf(buf, LUT_INPUT_MAX, INPUT_SHAPE, a->in_h, a->in_w, a->in_c);
}

int lut_set_calib(struct lut *t, const char *input, const struct lat_calib *c)
{
    int i = 0;
    while (i < t->n_calib && strcmp(t->calib[i].input, input) != 0)
        i++;
    if (i == LUT_MAX_CALIB)
        return HW_ENOMEM;
    snprintf(t->calib[i].input, sizeof t->calib[i].input, "%s", input);
    t->calib[i].c = *c;
    t->calib[i].created_at[0] = '\0';
    if (i == t->n_calib)
        t->n_calib++;
    return HW_OK;
}

const struct lut_calib *lut_get_calib(const struct lut *t, const struct arch *a)
{
    char in[LUT_INPUT_MAX];
    lut_input_shape(a, in);
    for (int i = 0; i < t->n_calib; i++)
        if (strcmp(t->calib[i].input, in) == 0)
            return t->calib[i].c.stat_min ? &t->calib[i] : NULL;
    return NULL;
}

double lut_calibrated(const struct lut *t, const struct arch *a, double sum_us)
{
    const struct lut_calib *c = lut_get_calib(t, a);
    if (!c)
        return sum_us;
    struct arch_cost cost = arch_cost(a);
    struct lat_calib_x x = {sum_us, cost.params, cost.macs};
    return lat_calib_apply(&c->c, &x);
}

/* ---- export ---- */

static cJSON *fingerprint_to_json(const struct lat_fingerprint *fp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "hash", fp->hash);
    cJSON_AddStringToObject(o, "cpu", fp->cpu);
    cJSON_AddNumberToObject(o, "threads", fp->threads);
    cJSON_AddStringToObject(o, "backend", fp->backend);
    cJSON_AddStringToObject(o, "blas_core", fp->blas_core);
    cJSON_AddStringToObject(o, "compiler", fp->compiler);
    cJSON_AddStringToObject(o, "hwnas_version", fp->version);
    return o;
}

static int cmp_entry_key(const void *a, const void *b)
{
    return strcmp(((const struct lut_entry *)a)->key, ((const struct lut_entry *)b)->key);
}

/* Entries sorted by key (caller frees), so exports are stable. */
static struct lut_entry *lut_sorted(const struct lut *t)
{
    struct lut_entry *s = malloc(sizeof *s * (size_t)(t->n ? t->n : 1));
    if (!s)
        return NULL;
    int k = 0;
    for (int i = 0; i < t->cap; i++)
        if (t->entries[i].key[0])
            s[k++] = t->entries[i];
    qsort(s, (size_t)k, sizeof *s, cmp_entry_key);
    return s;
}

cJSON *lut_to_json(const struct lut *t)
{
    struct lut_entry *s = lut_sorted(t);
    if (!s)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "hwnas-lut");
    cJSON_AddNumberToObject(root, "version", 4);
    cJSON_AddStringToObject(root, "units", "microseconds");
    cJSON_AddItemToObject(root, "fingerprint", fingerprint_to_json(&t->fp));
    cJSON *arr = cJSON_AddArrayToObject(root, "entries");
    for (int i = 0; i < t->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "key", s[i].key);
        cJSON_AddNumberToObject(e, "count", s[i].st.count);
        cJSON_AddNumberToObject(e, "mean_us", s[i].st.mean_us);
        cJSON_AddNumberToObject(e, "median_us", s[i].st.median_us);
        cJSON_AddNumberToObject(e, "var_us", s[i].st.var_us);
        cJSON_AddNumberToObject(e, "min_us", s[i].st.min_us);
        cJSON_AddNumberToObject(e, "max_us", s[i].st.max_us);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON *cal = cJSON_AddArrayToObject(root, "calibrations");
    for (int i = 0; i < t->n_calib; i++)
        cJSON_AddItemToArray(cal, lut_calib_to_json(&t->calib[i]));
    free(s);
    return root;
}

cJSON *lut_calib_to_json(const struct lut_calib *cal)
{
    const struct lat_calib *c = &cal->c;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "input", cal->input);
    cJSON_AddNumberToObject(e, "samples", c->samples);
    cJSON_AddNumberToObject(e, "alpha_us", c->alpha_us);
    cJSON_AddNumberToObject(e, "beta", c->beta);
    cJSON_AddNumberToObject(e, "gamma_us", c->gamma_us);
    cJSON_AddNumberToObject(e, "delta_us", c->delta_us);
    cJSON_AddNumberToObject(e, "rmspe_sum", c->rmspe_sum);
    cJSON_AddNumberToObject(e, "rmspe_fit", c->rmspe_fit);
    cJSON_AddStringToObject(e, "stat", c->stat_min ? "min" : "median");
    return e;
}

int lut_export_json(const struct lut *t, FILE *out, struct hw_err *err)
{
    cJSON *root = lut_to_json(t);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return hw_error(err, HW_ENOMEM, "out of memory exporting the latency table");
    int ok = fputs(text, out) >= 0 && fputc('\n', out) != EOF;
    free(text);
    return ok ? HW_OK : hw_error(err, HW_EIO, "could not write the latency table export");
}

int lut_export_csv(const struct lut *t, FILE *out, struct hw_err *err)
{
    struct lut_entry *s = lut_sorted(t);
    if (!s)
        return hw_error(err, HW_ENOMEM, "out of memory exporting the latency table");
    const struct lat_fingerprint *fp = &t->fp;
    fprintf(out, "# hwnas-lut version 1, units microseconds\n");
    fprintf(out, "# hash=%s\n# cpu=%s\n# threads=%d\n# backend=%s\n# blas_core=%s\n"
                 "# compiler=%s\n# hwnas_version=%s\n",
            fp->hash, fp->cpu, fp->threads, fp->backend, fp->blas_core, fp->compiler, fp->version);
    fprintf(out, "key,count,mean_us,median_us,var_us,min_us,max_us\n");
    for (int i = 0; i < t->n; i++)
        fprintf(out, "%s,%d,%.4f,%.4f,%.6f,%.4f,%.4f\n", s[i].key, s[i].st.count,
                s[i].st.mean_us, s[i].st.median_us, s[i].st.var_us, s[i].st.min_us,
                s[i].st.max_us);
    free(s);
    return ferror(out) ? hw_error(err, HW_EIO, "could not write the latency table export") : HW_OK;
}

/* ---- import ---- */

/* Whether k is a key lut_key writes: one of the three shapes, with
 * non-negative numbers and known activations, and written as lut_key writes
 * it (printed back from what was read, it is the same string): sscanf alone
 * lets spaces, newlines, signs and leading zeros through, and such a key
 * matches no arch and breaks the CSV export. */
static int key_valid(const char *k)
{
    int v[9] = {0}, got = 0, want = 0;
    char a1[16] = "", a2[16] = "relu", back[LUT_KEY_MAX] = "";
    if (strncmp(k, "stem-", 5) == 0) {
        want = 7;
        got = sscanf(k, "stem-in:%dx%dx%d-k:%d-s:%d-out:%d-act:%15[a-z0-9]", &v[0], &v[1],
                     &v[2], &v[3], &v[4], &v[5], a1);
        snprintf(back, sizeof back, KEY_STEM, v[0], v[1], v[2], v[3], v[4], v[5], a1);
    } else if (strncmp(k, "layer-", 6) == 0) {
        want = 10;
        got = sscanf(k, "layer-in:%dx%dx%d-mid:%d-out:%d-k:%d-s:%d-se:%d-act:%15[a-z0-9]-res:%d",
                     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], a1, &v[8]);
        snprintf(back, sizeof back, KEY_LAYER, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
                 a1, v[8]);
    } else if (strncmp(k, "head-", 5) == 0) {
        want = 8;
        got = sscanf(k, "head-in:%dx%dx%d-conv:%d-cact:%15[a-z0-9]-fc:%d-fact:%15[a-z0-9]-cls:%d",
                     &v[0], &v[1], &v[2], &v[3], a1, &v[4], a2, &v[5]);
        snprintf(back, sizeof back, KEY_HEAD, v[0], v[1], v[2], v[3], a1, v[4], a2, v[5]);
    }
    for (int i = 0; i < 9; i++)
        if (v[i] < 0)
            return 0;
    enum arch_act act;
    return want && got == want && arch_act_parse(a1, &act) == HW_OK &&
           arch_act_parse(a2, &act) == HW_OK && strcmp(back, k) == 0;
}

/* Limits of an imported table, the same for both formats (a table taken
 * from a CSV file exports to JSON and imports back): times up to 1e12 us
 * (11.6 days), a variance up to that squared. */
#define LUT_MAX_US 1e12
#define LUT_MAX_VAR_US 1e24
#define LUT_MAX_COUNT 1000000000
#define LUT_MAX_THREADS 1024

/* Whether a fingerprint field has a control character: none has one on a
 * real machine, and a newline or CR would break the CSV export's header. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static int check_stats(const struct lat_stats *st, const char *where, struct hw_err *err)
{
    const double f[] = {st->mean_us, st->median_us, st->var_us, st->min_us, st->max_us};
    const char *names[] = {"mean_us", "median_us", "var_us", "min_us", "max_us"};
    for (int i = 0; i < 5; i++) {
        double hi = i == 2 ? LUT_MAX_VAR_US : LUT_MAX_US;
        if (!isfinite(f[i]) || f[i] < 0 || f[i] > hi)
            return hw_error(err, HW_EINVAL, "%s.%s: %g is not a time in [0, %g]", where,
                            names[i], f[i], hi);
    }
    if (st->count < 1 || st->count > LUT_MAX_COUNT)
        return hw_error(err, HW_EINVAL, "%s.count: %d is not a run count in 1..%d", where,
                        st->count, LUT_MAX_COUNT);
    if (st->min_us > st->median_us || st->median_us > st->max_us)
        return hw_error(err, HW_EINVAL, "%s: median_us %g is not between min_us %g and max_us %g",
                        where, st->median_us, st->min_us, st->max_us);
    return HW_OK;
}

/* JSON import: read by space/jfield's tables, so messages name the file,
 * the JSON path and the value. */
static int import_json(struct lut *t, const char *text, const char *path, struct hw_err *err)
{
    const struct jfield_ctx c_ctx = {path, err};
    cJSON *root;
    int rc = jfield_parse(&c_ctx, text, &root);
    if (rc)
        return rc;
    char fmt[32], units[32], hash[17];
    int version;
    const cJSON *fp, *arr, *cal = NULL;
    struct lat_fingerprint f;
    memset(&f, 0, sizeof f);
    const struct jfield top[] = {
        {"format", JF_STRING, fmt, 0, sizeof fmt},
        {"version", JF_INT, &version, 1, 4}, /* 3: calibrations may carry delta_us, 4: stat */
        {"units", JF_STRING, units, 0, sizeof units},
        {"fingerprint", JF_OBJECT, &fp},
        {"entries", JF_ARRAY, &arr, 0, 1e7},
        {"calibrations", JF_ARRAY, &cal, 0, LUT_MAX_CALIB, .optional = 1},
        {NULL}};
    const struct jfield fpf[] = {
        {"hash", JF_STRING, hash, 0, sizeof hash},
        {"cpu", JF_STRING, f.cpu, 0, sizeof f.cpu},
        {"threads", JF_INT, &f.threads, 1, LUT_MAX_THREADS},
        {"backend", JF_STRING, f.backend, 0, sizeof f.backend},
        {"blas_core", JF_STRING, f.blas_core, 0, sizeof f.blas_core},
        {"compiler", JF_STRING, f.compiler, 0, sizeof f.compiler},
        {"hwnas_version", JF_STRING, f.version, 0, sizeof f.version},
        {NULL}};
    if ((rc = jfield_read_object(&c_ctx, root, "$", top)))
        goto out;
    if (strcmp(fmt, "hwnas-lut") != 0) {
        rc = hw_error(err, HW_EINVAL, "%s: $.format: '%s' is not 'hwnas-lut'", path, fmt);
        goto out;
    }
    if (strcmp(units, "microseconds") != 0) {
        rc = hw_error(err, HW_EINVAL, "%s: $.units: '%s' is not 'microseconds'", path, units);
        goto out;
    }
    if ((rc = jfield_read_object(&c_ctx, fp, "$.fingerprint", fpf)))
        goto out;
    for (const struct jfield *x = fpf; x->key; x++)
        if (x->type == JF_STRING && has_control(x->dest)) {
            rc = hw_error(err, HW_EINVAL, "%s: $.fingerprint.%s: '%.40s' has a control character",
                          path, x->key, (const char *)x->dest);
            goto out;
        }
    lat_fingerprint_rehash(&f);
    if (strcmp(f.hash, hash) != 0) {
        rc = hw_error(err, HW_EINVAL, "%s: $.fingerprint.hash: '%s' does not match its fields (%s)",
                      path, hash, f.hash);
        goto out;
    }
    lut_init(t, &f);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char where[48], key[LUT_KEY_MAX];
        snprintf(where, sizeof where, "$.entries[%d]", i);
        struct lat_stats st;
        const struct jfield ef[] = {
            {"key", JF_STRING, key, 0, sizeof key},
            {"count", JF_INT, &st.count, 1, LUT_MAX_COUNT},
            {"mean_us", JF_NUMBER, &st.mean_us, 0, LUT_MAX_US},
            {"median_us", JF_NUMBER, &st.median_us, 0, LUT_MAX_US},
            {"var_us", JF_NUMBER, &st.var_us, 0, LUT_MAX_VAR_US},
            {"min_us", JF_NUMBER, &st.min_us, 0, LUT_MAX_US},
            {"max_us", JF_NUMBER, &st.max_us, 0, LUT_MAX_US},
            {NULL}};
        if ((rc = jfield_read_object(&c_ctx, e, where, ef)))
            goto out;
        if (!key_valid(key)) {
            rc = hw_error(err, HW_EINVAL, "%s: %s.key: '%s' is not a latency table key", path,
                          where, key);
            goto out;
        }
        if (lut_get(t, key)) {
            rc = hw_error(err, HW_EINVAL, "%s: %s.key: '%s' appears twice", path, where, key);
            goto out;
        }
        if ((rc = check_stats(&st, where, err)) || (rc = lut_put(t, key, &st))) {
            if (rc == HW_ENOMEM)
                hw_error(err, rc, "%s: out of memory", where);
            hw_error_prefix(err, "%s", path);
            goto out;
        }
    }
    i = 0;
    for (const cJSON *e = cal ? cal->child : NULL; e; e = e->next, i++) {
        char where[48], in[LUT_INPUT_MAX];
        snprintf(where, sizeof where, "$.calibrations[%d]", i);
        struct lat_calib c = {.delta_us = 0}; /* absent in files older than the MACs term */
        char stat[8] = "median"; /* absent in files older than fitting to fastest runs */
        const struct jfield cf[] = {
            {"input", JF_STRING, in, 0, sizeof in},
            {"samples", JF_INT, &c.samples, 1, 1e6},
            {"alpha_us", JF_NUMBER, &c.alpha_us, -1e9, 1e9},
            {"beta", JF_NUMBER, &c.beta, -1e3, 1e3},
            {"gamma_us", JF_NUMBER, &c.gamma_us, -1e9, 1e9},
            {"delta_us", JF_NUMBER, &c.delta_us, -1e9, 1e9, .optional = 1},
            {"rmspe_sum", JF_NUMBER, &c.rmspe_sum, 0, 1e3},
            {"rmspe_fit", JF_NUMBER, &c.rmspe_fit, 0, 1e3},
            {"stat", JF_STRING, stat, 0, sizeof stat, .optional = 1},
            {NULL}};
        if ((rc = jfield_read_object(&c_ctx, e, where, cf)))
            goto out;
        if (strcmp(stat, "min") != 0 && strcmp(stat, "median") != 0) {
            rc = hw_error(err, HW_EINVAL, "%s: %s.stat: '%s' is not min or median", path, where,
                          stat);
            goto out;
        }
        c.stat_min = strcmp(stat, "min") == 0;
        int h = 0, w = 0, ch = 0;
        char back[LUT_INPUT_MAX] = "";
        if (sscanf(in, INPUT_SHAPE, &h, &w, &ch) == 3)
            snprintf(back, sizeof back, INPUT_SHAPE, h, w, ch);
        if (strcmp(back, in) != 0 || h < 1 || w < 1 || ch < 1) {
            rc = hw_error(err, HW_EINVAL, "%s: %s.input: '%s' is not an input shape HxWxC", path,
                          where, in);
            goto out;
        }
        for (int j = 0; j < t->n_calib; j++)
            if (strcmp(t->calib[j].input, in) == 0) {
                rc = hw_error(err, HW_EINVAL, "%s: %s.input: '%s' appears twice", path, where,
                              in);
                goto out;
            }
        lut_set_calib(t, in, &c);
    }
out:
    cJSON_Delete(root);
    return rc;
}

/* Splits s at commas into at most n fields (in place); returns the count. */
static int split_csv(char *s, char **f, int n)
{
    int k = 0;
    f[k++] = s;
    for (char *p = s; *p && k < n + 1; p++)
        if (*p == ',') {
            *p = '\0';
            if (k == n)
                return n + 1;
            f[k++] = p + 1;
        }
    return k;
}

static int parse_double_field(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && !*end && !errno;
}

/* The fingerprint's '#' header lines of a CSV export, each required once. */
static const char *const csv_fp_fields[] = {"hash", "cpu", "threads", "backend", "blas_core",
                                            "compiler", "hwnas_version"};
#define CSV_FP_FIELDS ((int)(sizeof csv_fp_fields / sizeof csv_fp_fields[0]))

/* One header line "k=v" into the fingerprint or hash, flagging field i in
 * *seen; refused where the JSON import refuses the same field (not silently
 * cut or read as 0), and when it is repeated. */
static int csv_header_field(const char *k, const char *v, int lineno, struct lat_fingerprint *f,
                            char *hash, unsigned *seen, struct hw_err *err)
{
    int i = 0;
    while (i < CSV_FP_FIELDS && strcmp(k, csv_fp_fields[i]) != 0)
        i++;
    if (i == CSV_FP_FIELDS)
        return hw_error(err, HW_EINVAL, "line %d: unknown header field '%s'", lineno, k);
    if (*seen & 1u << i)
        return hw_error(err, HW_EINVAL, "line %d: header field '%s' appears twice", lineno, k);
    *seen |= 1u << i;
    if (!strcmp(k, "threads")) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (end == v || *end || errno || n < 1 || n > LUT_MAX_THREADS)
            return hw_error(err, HW_EINVAL, "line %d: threads: '%s' is not a thread count in 1..%d",
                            lineno, v, LUT_MAX_THREADS);
        f->threads = (int)n;
        return HW_OK;
    }
    char *const dst[] = {hash, f->cpu, NULL, f->backend, f->blas_core, f->compiler, f->version};
    const size_t size[] = {sizeof f->hash, sizeof f->cpu, 0, sizeof f->backend,
                           sizeof f->blas_core, sizeof f->compiler, sizeof f->version};
    if (strlen(v) >= size[i])
        return hw_error(err, HW_EINVAL, "line %d: %s: '%.40s...' is longer than %zu bytes", lineno,
                        k, v, size[i] - 1);
    if (has_control(v))
        return hw_error(err, HW_EINVAL, "line %d: %s: '%.40s' has a control character", lineno, k,
                        v);
    memcpy(dst[i], v, strlen(v) + 1);
    return HW_OK;
}

static int import_csv(struct lut *t, char *text, struct hw_err *err)
{
    struct lat_fingerprint f;
    memset(&f, 0, sizeof f);
    char hash[17] = "";
    int have_header = 0, lineno = 0;
    unsigned seen = 0;
    lut_init(t, NULL);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        line[strcspn(line, "\r")] = '\0';
        if (!*line)
            continue;
        if (line[0] == '#') {
            char *v = strchr(line, '=');
            if (!v)
                continue;
            *v++ = '\0';
            const char *k = line + 1;
            while (*k == ' ')
                k++;
            int rc = csv_header_field(k, v, lineno, &f, hash, &seen, err);
            if (rc)
                return rc;
            continue;
        }
        if (!have_header) {
            if (strcmp(line, "key,count,mean_us,median_us,var_us,min_us,max_us") != 0)
                return hw_error(err, HW_EINVAL,
                                "line %d: expected the header 'key,count,mean_us,median_us,var_us,min_us,max_us'",
                                lineno);
            for (int i = 0; i < CSV_FP_FIELDS; i++)
                if (!(seen & 1u << i))
                    return hw_error(err, HW_EINVAL,
                                    "line %d: the fingerprint comment line '# %s=' is missing",
                                    lineno, csv_fp_fields[i]);
            lat_fingerprint_rehash(&f);
            if (strcmp(f.hash, hash) != 0)
                return hw_error(err, HW_EINVAL, "hash: '%s' does not match the fingerprint fields (%s)",
                                hash, f.hash);
            t->fp = f;
            have_header = 1;
            continue;
        }
        char *fld[8];
        if (split_csv(line, fld, 7) != 7)
            return hw_error(err, HW_EINVAL, "line %d: expected 7 comma-separated fields", lineno);
        if (strlen(fld[0]) >= LUT_KEY_MAX || !key_valid(fld[0]))
            return hw_error(err, HW_EINVAL, "line %d: key '%s' is not a latency table key", lineno,
                            fld[0]);
        if (lut_get(t, fld[0]))
            return hw_error(err, HW_EINVAL, "line %d: key '%s' appears twice", lineno, fld[0]);
        double v[6];
        static const char *const names[] = {"count", "mean_us", "median_us", "var_us", "min_us", "max_us"};
        for (int i = 0; i < 6; i++)
            if (!parse_double_field(fld[i + 1], &v[i]))
                return hw_error(err, HW_EINVAL, "line %d: %s: '%s' is not a number", lineno,
                                names[i], fld[i + 1]);
        if (v[0] != floor(v[0]) || v[0] < 1 || v[0] > LUT_MAX_COUNT)
            return hw_error(err, HW_EINVAL, "line %d: count: '%s' is not a run count in 1..%d",
                            lineno, fld[1], LUT_MAX_COUNT);
        struct lat_stats st = {(int)v[0], v[1], v[2], v[3], v[4], v[5]};
        char where[32];
        snprintf(where, sizeof where, "line %d", lineno);
        int rc = check_stats(&st, where, err);
        if (rc)
            return rc;
        if (lut_put(t, fld[0], &st))
            return hw_error(err, HW_ENOMEM, "line %d: out of memory", lineno);
    }
    if (!have_header)
        return hw_error(err, HW_EINVAL, "no CSV header line found");
    return HW_OK;
}

/* Format by the first non-blank character; text is consumed (the CSV reader
 * splits it in place). On failure t is left empty. */
static int import_text(struct lut *t, char *text, const char *path, struct hw_err *err)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    int rc;
    if (*p == '{')
        rc = import_json(t, text, path, err);
    else if ((rc = import_csv(t, text, err)))
        hw_error_prefix(err, "%s", path);
    if (rc)
        lut_release(t);
    return rc;
}

int lut_import(struct lut *t, const char *path, struct hw_err *err)
{
    lut_init(t, NULL);
    char *text;
    int rc = jfield_read_file(path, &text, err);
    if (rc)
        return rc;
    rc = import_text(t, text, path, err);
    free(text);
    return rc;
}

int lut_import_string(struct lut *t, const char *text, const char *name, struct hw_err *err)
{
    lut_init(t, NULL);
    char *copy = strdup(text);
    if (!copy)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", name);
    int rc = import_text(t, copy, name, err);
    free(copy);
    return rc;
}
