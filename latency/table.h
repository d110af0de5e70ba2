/* A device's latency table as the commands and the search use it: the
 * in-memory struct lut (fast lookups, no SQL on the hot path) backed by its
 * rows in the database, with on-demand measurement of missing keys when the
 * table belongs to this machine.
 *
 * Device selection: by default the table of this machine's fingerprint for
 * the given thread count (its device row is created on first use). Another
 * device (an imported table) can be selected by id or hash: predicting from
 * it is allowed, measuring into it is refused with a message naming the
 * first fingerprint field that differs from this machine's. */
#ifndef HWNAS_LATENCY_TABLE_H
#define HWNAS_LATENCY_TABLE_H

#include <stdint.h>

#include "db/db.h"
#include "latency/calib.h"
#include "latency/fingerprint.h"
#include "latency/lut.h"
#include "latency/timing.h"
#include "space/arch.h"
#include "util/err.h"

struct lat_table {
    struct lut lut;          /* entries, calibrations and the fingerprint; owned */
    struct db *db;           /* borrowed; outlives the table */
    int64_t device_id;
    struct lat_fingerprint here; /* this machine and build, same thread count */
    int local;               /* lut.fp matches `here`: measuring allowed */
    struct lat_timing timing; /* used for on-demand measurements */
    char newest_entry[DB_TIME_MAX]; /* created_at of the newest stored entry */
};

/* Device row <-> fingerprint (same fields; the hash is recomputed). */
void lat_fingerprint_to_device(const struct lat_fingerprint *fp, struct db_device *d);
void lat_fingerprint_from_device(const struct db_device *d, struct lat_fingerprint *fp);
/* Id of fp's device row, created when missing. */
int lat_device_get_or_create(struct db *db, const struct lat_fingerprint *fp, int64_t *id,
                             struct hw_err *err);

/* Opens the table of device `sel` (NULL or "": this machine with `threads`
 * threads, created if new) and loads its entries. On success t owns its
 * entries; release with lat_table_release. timing starts at
 * lat_timing_defaults(threads). */
int lat_table_open(struct lat_table *t, struct db *db, const char *sel, int threads,
                   struct hw_err *err);
void lat_table_release(struct lat_table *t);

/* HW_OK when the table may be measured into on this machine; otherwise
 * HW_EMISMATCH naming the differing fingerprint field. */
int lat_table_require_local(const struct lat_table *t, struct hw_err *err);

/* Stores one entry in the database and in memory (one transaction). */
int lat_table_put(struct lat_table *t, const char *key, const struct lat_stats *st,
                  struct hw_err *err);

/* Measures the units of a flagged in want (NULL: all) inside a's network and
 * stores every one (one transaction); refused unless the table is local. */
int lat_table_measure(struct lat_table *t, const struct arch *a, const unsigned char *want,
                      struct hw_err *err);

/* Another timing pass over the same units: each one whose lat_stat comes out
 * lower than its stored entry's replaces it (one transaction; of units
 * sharing a key, the fastest); faster (optional, lut_n_units(a) flags) gets
 * faster[u] = 1 for each unit stored, others untouched. A shared machine
 * only ever slows a pass down, so the fastest of several passes spread in
 * time is the steadiest figure per key (as lat_measure_archs keeps for whole
 * networks). */
int lat_table_remeasure(struct lat_table *t, const struct arch *a, const unsigned char *want,
                        unsigned char *faster, struct hw_err *err);

/* The entry for unit u of a. A missing key is measured (inside a's network),
 * stored in the database and in memory when the table is local; otherwise
 * HW_ENOTFOUND names the key and the device. *st receives the entry. */
int lat_lookup_or_measure(struct lat_table *t, const struct arch *a, int u,
                          struct lat_stats *st, struct hw_err *err);

/* Predicted latency of a (us): the sum of its entries' lat_stat, calibrated when
 * the device has a calibration for a's input shape. Every missing unit is
 * measured in one pass first when the table is local (else HW_ENOTFOUND as
 * above). unit_us (optional, lut_n_units(a) doubles) gets the per-unit
 * entries (uncalibrated); *n_measured (optional) the number of units
 * measured. */
int lat_table_predict(struct lat_table *t, const struct arch *a, double *total_us,
                      double *unit_us, int *n_measured, struct hw_err *err);

/* Fits a calibration from n networks of one input shape (a[0]'s) measured end
 * to end on this machine (refused unless the table is local), stores it for
 * the device (replacing any) and uses it from then on. */
int lat_table_calibrate(struct lat_table *t, const struct arch *a, const double *measured_us,
                        int n, struct lat_calib *out, struct hw_err *err);

/* Imports a lut_import file (validated whole first) into the device row of
 * its fingerprint (created when new), all entries in one transaction, then
 * its calibrations. Nothing is written when the file is refused. *device_id and *n (optional) receive
 * the device and the entry count. */
int lat_table_import(struct db *db, const char *path, int64_t *device_id, int *n,
                     struct hw_err *err);

#endif
