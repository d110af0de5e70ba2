/* The schema, as ordered migrations. db_migrations[i] takes a database from
 * user_version i to i + 1 inside one transaction. Never edit a released
 * step: append a new one (and bump DB_SCHEMA_VERSION in db.h) instead. */
#include "db/internal.h"

static const char migration_1[] =
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  hash TEXT NOT NULL UNIQUE,"
    "  cpu TEXT NOT NULL,"
    "  threads INTEGER NOT NULL CHECK (threads >= 1),"
    "  backend TEXT NOT NULL,"
    "  blas_core TEXT NOT NULL,"
    "  compiler TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ");"

    /* Microseconds; one row per (device, unit key). */
    "CREATE TABLE lut_entries ("
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL CHECK (length(key) > 0),"
    "  count INTEGER NOT NULL CHECK (count >= 1),"
    "  mean_us REAL NOT NULL,"
    "  median_us REAL NOT NULL,"
    "  var_us REAL NOT NULL,"
    "  min_us REAL NOT NULL,"
    "  max_us REAL NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  PRIMARY KEY (device_id, key)"
    ") WITHOUT ROWID;"

    "CREATE TABLE validations ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  space TEXT NOT NULL,"
    "  samples INTEGER NOT NULL,"
    "  rmse_us REAL, rmspe REAL, within5 REAL, within10 REAL,"
    "  details TEXT,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ");"

    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  space TEXT NOT NULL,"
    "  controller TEXT NOT NULL,"
    "  target_ms REAL NOT NULL,"
    "  w_alpha REAL NOT NULL,"
    "  w_beta REAL NOT NULL,"
    "  seed INTEGER NOT NULL,"
    "  trials_max INTEGER NOT NULL,"
    "  time_budget_s REAL NOT NULL,"
    "  device_id INTEGER REFERENCES devices(id),"
    "  config TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('running','stopped','done','failed')),"
    "  state BLOB,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  updated_at TEXT NOT NULL DEFAULT " DB_NOW ");"

    "CREATE TABLE candidates ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  trial INTEGER NOT NULL CHECK (trial >= 0),"
    "  arch_json TEXT NOT NULL,"
    "  arch_hash TEXT NOT NULL,"
    "  tokens TEXT NOT NULL,"
    "  macs INTEGER NOT NULL,"
    "  params INTEGER NOT NULL,"
    "  predicted_ms REAL,"
    "  val_acc REAL,"
    "  reward REAL,"
    "  wall_s REAL,"
    "  status TEXT NOT NULL CHECK (status IN ('ok','failed','duplicate')),"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  UNIQUE (run_id, trial));"
    "CREATE INDEX candidates_by_hash ON candidates (run_id, arch_hash);"
    "CREATE INDEX candidates_by_reward ON candidates (run_id, reward);"

    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  arch_json TEXT NOT NULL,"
    "  val_acc REAL,"
    "  test_acc REAL,"
    "  source TEXT NOT NULL CHECK (source IN ('train','candidate','netadapt')),"
    "  source_id INTEGER,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ");"
    "CREATE INDEX models_by_path ON models (path);"

    "CREATE TABLE netadapt_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  source_model TEXT NOT NULL,"
    "  current_model TEXT NOT NULL,"
    "  target_ms REAL NOT NULL,"
    "  delta REAL NOT NULL,"
    "  initial_ms REAL NOT NULL,"
    "  current_ms REAL NOT NULL,"
    "  iterations INTEGER NOT NULL DEFAULT 0,"
    "  device_id INTEGER REFERENCES devices(id),"
    "  config TEXT,"
    "  status TEXT NOT NULL CHECK (status IN ('running','stopped','done','failed')),"
    "  state BLOB,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  updated_at TEXT NOT NULL DEFAULT " DB_NOW ");"

    "CREATE TABLE netadapt_steps ("
    "  id INTEGER PRIMARY KEY,"
    "  netadapt_id INTEGER NOT NULL REFERENCES netadapt_runs(id) ON DELETE CASCADE,"
    "  iteration INTEGER NOT NULL,"
    "  proposal INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('expand','bottleneck')),"
    "  layers TEXT NOT NULL,"
    "  channels_before INTEGER NOT NULL,"
    "  channels_after INTEGER NOT NULL,"
    "  latency_ms REAL,"
    "  val_acc REAL,"
    "  chosen INTEGER NOT NULL CHECK (chosen IN (0, 1)),"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  UNIQUE (netadapt_id, iteration, proposal));";

/* 2: per-device calibration of the table's sums against whole networks
 * (latency/calib.h), one row per input shape. */
static const char migration_2[] =
    "CREATE TABLE lut_calibrations ("
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  input TEXT NOT NULL,"
    "  samples INTEGER NOT NULL CHECK (samples >= 1),"
    "  alpha_us REAL NOT NULL,"
    "  beta REAL NOT NULL,"
    "  gamma_us REAL NOT NULL,"
    "  rmspe_sum REAL,"
    "  rmspe_fit REAL,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  PRIMARY KEY (device_id, input));";

/* 3: a calibration term in the MACs (latency/calib.h); older calibrations
 * keep their meaning with it at 0. */
static const char migration_3[] =
    "ALTER TABLE lut_calibrations ADD COLUMN delta_us REAL NOT NULL DEFAULT 0;";

/* 4: search candidates trained again with a longer budget (db.h, reranks). */
static const char migration_4[] =
    "CREATE TABLE reranks ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,"
    "  trial INTEGER NOT NULL CHECK (trial >= 0),"
    "  arch_hash TEXT NOT NULL,"
    "  epochs INTEGER NOT NULL CHECK (epochs >= 1),"
    "  subset INTEGER NOT NULL CHECK (subset >= 0),"
    "  seed INTEGER NOT NULL,"
    "  val_acc REAL NOT NULL CHECK (val_acc >= 0 AND val_acc <= 1),"
    "  wall_s REAL NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  UNIQUE (run_id, arch_hash, epochs, subset, seed));";

/* 5: the validation cross-entropy of each candidate's proxy training, which
 * a search may score by (search/reward.h); older candidates read NaN. */
static const char migration_5[] = "ALTER TABLE candidates ADD COLUMN val_loss REAL;";

/* 6: the timing statistic a calibration was fitted to; the ones before it
 * were fitted to medians, which the table no longer predicts
 * (latency/timing.h), so they are kept but not used. */
static const char migration_6[] =
    "ALTER TABLE lut_calibrations ADD COLUMN stat TEXT NOT NULL DEFAULT 'median' "
    "CHECK (stat IN ('median', 'min'));";

/* 7: the mean training loss of the proxy's last epoch, the third score a
 * search may rank by (search/reward.h); older candidates read NaN. */
static const char migration_7[] = "ALTER TABLE candidates ADD COLUMN train_loss REAL;";

/* 8: which evaluator scored each candidate ("proxy", "supernet:<crc>"); older
 * candidates read "" (the proxy, the only evaluator then). */
static const char migration_8[] = "ALTER TABLE candidates ADD COLUMN evaluator TEXT;";

/* 9: candidates proposed but not yet evaluated (a search keeps several in
 * flight when workers evaluate them; a resume evaluates them again), and
 * which worker evaluated each candidate ("host:rank"; "" in this process). */
static const char migration_9[] =
    "ALTER TABLE candidates ADD COLUMN worker TEXT;"
    "CREATE TABLE pending ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  trial INTEGER NOT NULL CHECK (trial >= 0),"
    "  arch_json TEXT NOT NULL,"
    "  arch_hash TEXT NOT NULL,"
    "  tokens TEXT NOT NULL,"
    "  macs INTEGER NOT NULL,"
    "  params INTEGER NOT NULL,"
    "  predicted_ms REAL,"
    "  created_at TEXT NOT NULL DEFAULT " DB_NOW ","
    "  PRIMARY KEY (run_id, trial));";

/* 10: NetAdapt proposals' validation loss (ranked by with --score loss);
 * older proposals read NaN. */
static const char migration_10[] = "ALTER TABLE netadapt_steps ADD COLUMN val_loss REAL;";

const char *const db_migrations[] = {migration_1, migration_2, migration_3, migration_4,
                                     migration_5, migration_6, migration_7, migration_8,
                                     migration_9, migration_10};
const int db_n_migrations = (int)(sizeof db_migrations / sizeof db_migrations[0]);

_Static_assert(sizeof db_migrations / sizeof db_migrations[0] == DB_SCHEMA_VERSION,
               "DB_SCHEMA_VERSION must equal the number of migrations");
