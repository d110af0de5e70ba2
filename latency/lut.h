/* The latency lookup table: per-unit timings (stem, each block layer, head)
 * keyed by shape, belonging to one device fingerprint. Predicted latency of an
 * arch is the sum of its units' entries.
 *
 * This is the in-memory table used for prediction (no SQL on the search's hot
 * path); db/ persists it, lut_export_* / lut_import_* move it between machines. */
#ifndef HWNAS_LATENCY_LUT_H
#define HWNAS_LATENCY_LUT_H

#include <stdio.h>

#include "latency/calib.h"
#include "latency/fingerprint.h"
#include "latency/timing.h"
#include "space/arch.h"
#include "util/err.h"

#define LUT_KEY_MAX 160

struct lut_entry {
    char key[LUT_KEY_MAX];
    struct lat_stats st; /* microseconds */
};

#define LUT_INPUT_MAX 32 /* "224x224x3" */
#define LUT_MAX_CALIB 16 /* input shapes with a calibration */

/* The table's calibration for networks of one input shape (calib.h). */
struct lut_calib {
    char input[LUT_INPUT_MAX];
    struct lat_calib c;
    char created_at[32]; /* when it was fitted, as stored ("" when not known) */
};

struct lut {
    struct lat_fingerprint fp;
    struct lut_entry *entries; /* owned; n used of cap, open-addressed by key hash */
    int n, cap;
    struct lut_calib calib[LUT_MAX_CALIB];
    int n_calib;
};

/* Key of unit u of arch a (0 = stem, 1..n_layers = layers, n_layers+1 = head)
 * into key (LUT_KEY_MAX bytes). Keys name every shape that changes the work:
 *   stem-in:28x28x1-k:3-s:1-out:16-act:hswish
 *   layer-in:14x14x24-mid:72-out:40-k:5-s:2-se:24-act:hswish-res:0
 *   head-in:7x7x80-conv:384-cact:hswish-fc:512-fact:hswish-cls:10 */
void lut_key(const struct arch *a, int u, char *key);
/* Number of units of a (n_layers + 2). */
int lut_n_units(const struct arch *a);

void lut_init(struct lut *t, const struct lat_fingerprint *fp);
void lut_release(struct lut *t);
/* Inserts or replaces an entry; HW_ENOMEM on allocation failure. */
int lut_put(struct lut *t, const char *key, const struct lat_stats *st);
/* The entry for key, or NULL. The pointer is valid until the next lut_put. */
const struct lut_entry *lut_get(const struct lut *t, const char *key);

/* Predicted latency of a in microseconds: sum of the entries' lat_stat. unit_us
 * (optional, lut_n_units(a) doubles) receives the per-unit figures. When a key
 * is missing, returns HW_ENOTFOUND naming it and, if missing_key is not NULL,
 * copies it there (LUT_KEY_MAX bytes). */
int lut_predict(const struct lut *t, const struct arch *a, double *total_us,
                double *unit_us, char *missing_key, struct hw_err *err);

/* a's input shape as calibrations name it ("28x28x1"), LUT_INPUT_MAX bytes. */
void lut_input_shape(const struct arch *a, char *buf);
/* Sets (adds or replaces) the calibration of an input shape; HW_ENOMEM when
 * LUT_MAX_CALIB shapes are taken. */
int lut_set_calib(struct lut *t, const char *input, const struct lat_calib *c);
/* The calibration for a's input shape, or NULL (also when the one stored
 * was fitted to medians by an older hwnas: stat_min 0). */
const struct lut_calib *lut_get_calib(const struct lut *t, const struct arch *a);
/* a's calibrated latency from its entries' sum (the sum when no calibration
 * applies). */
double lut_calibrated(const struct lut *t, const struct arch *a, double sum_us);

/* Export: JSON (fingerprint, "units": "microseconds", entries, calibrations) or CSV (a
 * '#'-comment header carrying the fingerprint and units, then
 * key,count,mean_us,median_us,var_us,min_us,max_us; no calibrations). */
int lut_export_json(const struct lut *t, FILE *out, struct hw_err *err);
/* The JSON export as a new tree (caller deletes it); NULL when out of memory. */
struct cJSON *lut_to_json(const struct lut *t);
/* One calibration as the export writes it: input, samples, alpha_us, beta,
 * gamma_us, delta_us, rmspe_sum, rmspe_fit (fractions), stat (a new tree). */
struct cJSON *lut_calib_to_json(const struct lut_calib *cal);
int lut_export_csv(const struct lut *t, FILE *out, struct hw_err *err);
/* Import from a file (format from its first non-blank character: '{' JSON,
 * otherwise CSV). Validates everything before returning: on any error the
 * message names the file, line or JSON path and value, and t is left empty.
 * On success t is initialised and owns the entries. */
int lut_import(struct lut *t, const char *path, struct hw_err *err);
/* The same from a file's text already in memory (borrowed, NUL-terminated);
 * name stands for the file in messages. */
int lut_import_string(struct lut *t, const char *text, const char *name, struct hw_err *err);

#endif
