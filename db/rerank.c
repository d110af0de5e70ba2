/* Re-ranking of a search's best candidates with a longer training budget. */
#include <math.h>
#include <stdlib.h>

#include "db/internal.h"

static const char sql_rerank_insert[] =
    "INSERT INTO reranks (run_id, candidate_id, trial, arch_hash, epochs, subset, seed, val_acc, "
    "wall_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_rerank_list[] =
    "SELECT id, run_id, candidate_id, trial, arch_hash, epochs, subset, seed, val_acc, wall_s, "
    "created_at FROM reranks WHERE run_id = ?1 ORDER BY val_acc DESC, trial, id";

int db_rerank_add(struct db *db, struct db_rerank *r, struct hw_err *err)
{
    int rc = db_check_text(db, "rerank arch hash", r->arch_hash, sizeof r->arch_hash, 1, err);
    if (rc == HW_OK && (r->epochs < 1 || r->subset < 0 || r->trial < 0))
        rc = hw_error(err, HW_EINVAL, "%s: rerank of trial %d: epochs %d, subset %d are not "
                      "valid", db->path, r->trial, r->epochs, r->subset);
    if (rc == HW_OK && !(r->val_acc >= 0 && r->val_acc <= 1 && isfinite(r->wall_s)))
        rc = hw_error(err, HW_EINVAL, "%s: rerank of trial %d: accuracy %g, wall %g s are not "
                      "valid", db->path, r->trial, r->val_acc, r->wall_s);
    if (rc == HW_OK)
        rc = db_write(db, sql_rerank_insert, "add rerank", NULL, err, "llitiildd", r->run_id,
                      r->candidate_id, r->trial, r->arch_hash, r->epochs, r->subset,
                      (int64_t)r->seed, r->val_acc, r->wall_s);
    if (rc == HW_OK)
        r->id = sqlite3_last_insert_rowid(db->conn);
    return rc;
}

static int decode_rerank(struct db_reader *rd, void *row)
{
    struct db_rerank *r = row;
    r->id = db_read_int64(rd, 0);
    r->run_id = db_read_int64(rd, 1);
    r->candidate_id = db_read_int64(rd, 2);
    r->trial = db_read_int(rd, 3);
    db_read_text(rd, 4, r->arch_hash, sizeof r->arch_hash);
    r->epochs = db_read_int(rd, 5);
    r->subset = db_read_int(rd, 6);
    r->seed = (uint64_t)db_read_int64(rd, 7);
    r->val_acc = db_read_real(rd, 8);
    r->wall_s = db_read_real(rd, 9);
    db_read_text(rd, 10, r->created_at, sizeof r->created_at);
    return rd->rc;
}

static const struct db_rowtype rerank_row = {sizeof(struct db_rerank), decode_rerank, NULL};

int db_rerank_list(struct db *db, int64_t run_id, struct db_rerank **out, int *n,
                   struct hw_err *err)
{
    return db_select(db, &rerank_row, (void **)out, n, sql_rerank_list, "list reranks", err, "l",
                     run_id);
}
