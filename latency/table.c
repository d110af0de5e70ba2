#include "latency/table.h"
#include "latency/measure.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lat_fingerprint_to_device(const struct lat_fingerprint *fp, struct db_device *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->hash, sizeof d->hash, "%s", fp->hash);
    snprintf(d->cpu, sizeof d->cpu, "%s", fp->cpu);
    d->threads = fp->threads;
    snprintf(d->backend, sizeof d->backend, "%s", fp->backend);
    snprintf(d->blas_core, sizeof d->blas_core, "%s", fp->blas_core);
    snprintf(d->compiler, sizeof d->compiler, "%s", fp->compiler);
    snprintf(d->version, sizeof d->version, "%s", fp->version);
}

void lat_fingerprint_from_device(const struct db_device *d, struct lat_fingerprint *fp)
{
    memset(fp, 0, sizeof *fp);
    snprintf(fp->cpu, sizeof fp->cpu, "%s", d->cpu);
    fp->threads = d->threads;
    snprintf(fp->backend, sizeof fp->backend, "%s", d->backend);
    snprintf(fp->blas_core, sizeof fp->blas_core, "%s", d->blas_core);
    snprintf(fp->compiler, sizeof fp->compiler, "%s", d->compiler);
    snprintf(fp->version, sizeof fp->version, "%s", d->version);
    lat_fingerprint_rehash(fp);
}

int lat_device_get_or_create(struct db *db, const struct lat_fingerprint *fp, int64_t *id,
                             struct hw_err *err)
{
    struct db_device d;
    lat_fingerprint_to_device(fp, &d);
    return db_device_get_or_create(db, &d, id, err);
}


static int load_entry(void *ctx, const struct db_lut_entry *e)
{
    struct lat_table *t = ctx;
    struct lat_stats st = {e->count, e->mean_us, e->median_us, e->var_us, e->min_us, e->max_us};
    if (strcmp(e->created_at, t->newest_entry) > 0)
        snprintf(t->newest_entry, sizeof t->newest_entry, "%s", e->created_at);
    return lut_put(&t->lut, e->key, &st);
}

static int load_calibrations(struct lat_table *t, struct hw_err *err)
{
    struct db_calibration *rows = NULL;
    int n = 0;
    int rc = db_calibration_list(t->db, t->device_id, &rows, &n, err);
    for (int i = 0; rc == HW_OK && i < n; i++) {
        struct lat_calib c = {.alpha_us = rows[i].alpha_us, .beta = rows[i].beta,
                              .gamma_us = rows[i].gamma_us, .delta_us = rows[i].delta_us,
                              .samples = rows[i].samples, .rmspe_sum = rows[i].rmspe_sum,
                              .rmspe_fit = rows[i].rmspe_fit,
                              .stat_min = strcmp(rows[i].stat, LAT_STAT_NAME) == 0};
        if (lut_set_calib(&t->lut, rows[i].input, &c))
            rc = hw_error(err, HW_EDB, "%s: device %" PRId64 " has more than %d calibrations",
                          db_path(t->db), t->device_id, LUT_MAX_CALIB);
        for (int j = 0; j < t->lut.n_calib; j++)
            if (strcmp(t->lut.calib[j].input, rows[i].input) == 0)
                snprintf(t->lut.calib[j].created_at, sizeof t->lut.calib[j].created_at, "%s",
                         rows[i].created_at);
    }
    free(rows);
    return rc;
}

int lat_table_open(struct lat_table *t, struct db *db, const char *sel, int threads,
                   struct hw_err *err)
{
    memset(t, 0, sizeof *t);
    t->db = db;
    lat_fingerprint_current(&t->here, threads);
    lat_timing_defaults(&t->timing, threads);
    struct lat_fingerprint fp;
    int rc;
    if (!sel || !sel[0]) {
        fp = t->here;
        rc = lat_device_get_or_create(db, &fp, &t->device_id, err);
    } else {
        struct db_device d;
        rc = db_device_lookup(db, sel, &d, err);
        if (rc == HW_OK) {
            lat_fingerprint_from_device(&d, &fp);
            t->device_id = d.id;
            if (strcmp(fp.hash, d.hash) != 0)
                rc = hw_error(err, HW_EDB, "%s: device %" PRId64 " has hash %s but its fields "
                              "hash to %s (a corrupt row)", db_path(db), d.id, d.hash, fp.hash);
        }
    }
    if (rc)
        return rc;
    lut_init(&t->lut, &fp);
    t->local = lat_fingerprint_compare(&fp, &t->here, NULL) == HW_OK;
    rc = db_lut_iterate(db, t->device_id, load_entry, t, err);
    if (rc == HW_OK)
        rc = load_calibrations(t, err);
    if (rc) {
        lut_release(&t->lut);
        if (rc == HW_ENOMEM)
            hw_error(err, rc, "out of memory loading the latency table of device %" PRId64,
                     t->device_id);
        t->lut.n_calib = 0;
        return rc;
    }
    return HW_OK;
}

void lat_table_release(struct lat_table *t)
{
    lut_release(&t->lut);
}

static int put_calibration(struct db *db, int64_t device_id, const char *input,
                           const struct lat_calib *c, struct hw_err *err)
{
    struct db_calibration row = {.device_id = device_id, .samples = c->samples,
                                 .alpha_us = c->alpha_us, .beta = c->beta,
                                 .gamma_us = c->gamma_us, .delta_us = c->delta_us,
                                 .rmspe_sum = c->rmspe_sum,
                                 .rmspe_fit = c->rmspe_fit};
    snprintf(row.input, sizeof row.input, "%s", input);
    snprintf(row.stat, sizeof row.stat, "%s", c->stat_min ? LAT_STAT_NAME : "median");
    return db_calibration_put(db, &row, err);
}

int lat_table_calibrate(struct lat_table *t, const struct arch *a, const double *measured_us,
                        int n, struct lat_calib *out, struct hw_err *err)
{
    struct lat_calib_x *x = malloc(sizeof *x * (size_t)(n > 0 ? n : 1));
    int rc = lat_table_require_local(t, err);
    if (rc == HW_OK && !x)
        rc = hw_error(err, HW_ENOMEM, "out of memory calibrating %d networks", n);
    for (int i = 0; rc == HW_OK && i < n; i++) {
        rc = lut_predict(&t->lut, &a[i], &x[i].sum_us, NULL, NULL, err);
        struct arch_cost cost = arch_cost(&a[i]);
        x[i].params = cost.params;
        x[i].macs = cost.macs;
    }
    struct lat_calib c;
    if (rc == HW_OK)
        rc = lat_calib_fit(x, measured_us, n, &c, err);
    c.stat_min = 1; /* the caller measured lat_stat */
    free(x);
    if (rc)
        return rc;
    char in[LUT_INPUT_MAX];
    lut_input_shape(&a[0], in);
    int have = 0; /* a stale one (fitted to medians) is replaced too */
    for (int i = 0; i < t->lut.n_calib; i++)
        have |= strcmp(t->lut.calib[i].input, in) == 0;
    if (!have && t->lut.n_calib == LUT_MAX_CALIB)
        return hw_error(err, HW_EINVAL, "device %" PRId64 " already has calibrations for %d "
                        "input shapes, the most a table keeps", t->device_id, LUT_MAX_CALIB);
    if ((rc = put_calibration(t->db, t->device_id, in, &c, err)))
        return rc;
    lut_set_calib(&t->lut, in, &c);
    if (out)
        *out = c;
    return HW_OK;
}

int lat_table_require_local(const struct lat_table *t, struct hw_err *err)
{
    int rc = lat_fingerprint_compare(&t->lut.fp, &t->here, err);
    if (rc)
        hw_error_prefix(err, "cannot measure into device %" PRId64 " here", t->device_id);
    return rc;
}

static void to_db_entry(const char *key, const struct lat_stats *st, struct db_lut_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->count = st->count;
    e->mean_us = st->mean_us;
    e->median_us = st->median_us;
    e->var_us = st->var_us;
    e->min_us = st->min_us;
    e->max_us = st->max_us;
}

int lat_table_put(struct lat_table *t, const char *key, const struct lat_stats *st,
                  struct hw_err *err)
{
    struct db_lut_entry e;
    to_db_entry(key, st, &e);
    int rc = db_lut_put(t->db, t->device_id, &e, err);
    if (rc)
        return rc;
    if (lut_put(&t->lut, key, st))
        return hw_error(err, HW_ENOMEM, "out of memory adding %s to the latency table", key);
    return HW_OK;
}

/* Times the wanted units of a inside its network and stores them (one
 * transaction); faster_only keeps an existing entry whose lat_stat is lower,
 * and of units sharing a key the fastest, and flags stored units in
 * faster[u] (optional). */
static int measure_store(struct lat_table *t, const struct arch *a, const unsigned char *want,
                         int faster_only, unsigned char *faster, struct hw_err *err)
{
    int rc = lat_table_require_local(t, err);
    if (rc)
        return rc;
    int nu = lut_n_units(a);
    struct lat_stats st[ARCH_MAX_LAYERS + 2];
    struct db_lut_entry e[ARCH_MAX_LAYERS + 2];
    rc = lat_measure_units(a, want, &t->timing, st, err);
    if (rc)
        return rc;
    int n = 0, unit[ARCH_MAX_LAYERS + 2];
    for (int u = 0; u < nu; u++) {
        if (want && !want[u])
            continue;
        char key[LUT_KEY_MAX];
        lut_key(a, u, key);
        const struct lut_entry *old = faster_only ? lut_get(&t->lut, key) : NULL;
        if (old && lat_stat(&old->st) <= lat_stat(&st[u]))
            continue;
        int j = faster_only ? 0 : n;
        while (j < n && strcmp(e[j].key, key) != 0)
            j++;
        if (j < n && lat_stat(&st[unit[j]]) <= lat_stat(&st[u]))
            continue;
        unit[j] = u;
        to_db_entry(key, &st[u], &e[j]);
        n += j == n;
    }
    rc = n ? db_lut_put_many(t->db, t->device_id, e, n, err) : HW_OK;
    for (int i = 0; rc == HW_OK && i < n; i++)
        if (lut_put(&t->lut, e[i].key, &st[unit[i]]))
            rc = hw_error(err, HW_ENOMEM, "out of memory adding %s to the latency table", e[i].key);
    for (int i = 0; rc == HW_OK && faster && i < n; i++)
        faster[unit[i]] = 1;
    return rc;
}

int lat_table_measure(struct lat_table *t, const struct arch *a, const unsigned char *want,
                      struct hw_err *err)
{
    return measure_store(t, a, want, 0, NULL, err);
}

int lat_table_remeasure(struct lat_table *t, const struct arch *a, const unsigned char *want,
                        unsigned char *faster, struct hw_err *err)
{
    return measure_store(t, a, want, 1, faster, err);
}

/* HW_ENOTFOUND for a key missing from a table that may not be measured. */
static int missing_error(const struct lat_table *t, const char *key, struct hw_err *err)
{
    struct hw_err why;
    lat_fingerprint_compare(&t->lut.fp, &t->here, &why);
    return hw_error(err, HW_ENOTFOUND,
                    "latency table of device %" PRId64 " has no entry for %s, and it cannot be "
                    "measured here (%s)", t->device_id, key, why.msg);
}

int lat_lookup_or_measure(struct lat_table *t, const struct arch *a, int u,
                          struct lat_stats *st, struct hw_err *err)
{
    char key[LUT_KEY_MAX];
    lut_key(a, u, key);
    const struct lut_entry *e = lut_get(&t->lut, key);
    if (!e) {
        if (!t->local)
            return missing_error(t, key, err);
        unsigned char want[ARCH_MAX_LAYERS + 2] = {0};
        want[u] = 1;
        int rc = lat_table_measure(t, a, want, err);
        if (rc)
            return rc;
        e = lut_get(&t->lut, key);
    }
    *st = e->st;
    return HW_OK;
}

int lat_table_predict(struct lat_table *t, const struct arch *a, double *total_us,
                      double *unit_us, int *n_measured, struct hw_err *err)
{
    int nu = lut_n_units(a), missing = 0;
    unsigned char want[ARCH_MAX_LAYERS + 2] = {0};
    char key[LUT_KEY_MAX];
    for (int u = 0; u < nu; u++) {
        lut_key(a, u, key);
        if (!lut_get(&t->lut, key)) {
            if (!t->local)
                return missing_error(t, key, err);
            want[u] = 1;
            missing++;
        }
    }
    if (missing) {
        int rc = lat_table_measure(t, a, want, err);
        if (rc)
            return rc;
    }
    if (n_measured)
        *n_measured = missing;
    int rc = lut_predict(&t->lut, a, total_us, unit_us, NULL, err);
    if (rc == HW_OK)
        *total_us = lut_calibrated(&t->lut, a, *total_us);
    return rc;
}

static void lut_to_db_entries(const struct lut *t, struct db_lut_entry *e)
{
    int n = 0;
    for (int i = 0; i < t->cap; i++)
        if (t->entries[i].key[0])
            to_db_entry(t->entries[i].key, &t->entries[i].st, &e[n++]);
}

int lat_table_import(struct db *db, const char *path, int64_t *device_id, int *n,
                     struct hw_err *err)
{
    struct lut t;
    int rc = lut_import(&t, path, err);
    if (rc)
        return rc;
    struct db_lut_entry *e = malloc(sizeof *e * (size_t)(t.n ? t.n : 1));
    if (!e) {
        lut_release(&t);
        return hw_error(err, HW_ENOMEM, "%s: out of memory for %d entries", path, t.n);
    }
    lut_to_db_entries(&t, e);
    int64_t id;
    rc = lat_device_get_or_create(db, &t.fp, &id, err);
    if (rc == HW_OK)
        rc = db_lut_put_many(db, id, e, t.n, err);
    for (int i = 0; rc == HW_OK && i < t.n_calib; i++)
        rc = put_calibration(db, id, t.calib[i].input, &t.calib[i].c, err);
    if (rc == HW_OK) {
        if (device_id)
            *device_id = id;
        if (n)
            *n = t.n;
    }
    free(e);
    lut_release(&t);
    return rc;
}
