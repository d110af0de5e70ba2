/* One process per run: an open-file-description lock (Linux F_OFD_SETLK) on
 * one byte of the database file. SQLite locks bytes from 0x40000000 on (its
 * pending byte, reserved byte and shared range, 512 bytes in all); claims
 * sit far past them, one byte per (kind, id), beyond the end of any
 * database hwnas writes. An OFD lock belongs to its own descriptor: SQLite
 * closing its descriptors does not drop it (a POSIX process lock would go),
 * and it dies with the descriptor or the process, kill -9 included, so a
 * crashed run never stays claimed. The descriptor is the db's, closed after
 * the connection: closing a descriptor of the file while SQLite holds POSIX
 * locks on it (in WAL mode a shared lock for the connection's life) would
 * drop them, and another process could then take the database for unused,
 * checkpoint and delete the WAL under this one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "db/internal.h"
#include "util/progress.h"

#define CLAIM_BASE 0x60000000LL
#define CLAIM_KIND_SPAN 0x08000000LL /* ids per kind */

static const char *claim_kind_name(enum db_claim_kind kind)
{
    return kind == DB_CLAIM_NETADAPT ? "NetAdapt run" : "search run";
}

/* F_WRLCK or F_UNLCK on the claim's byte; an OFD unlock touches only this
 * descriptor's OFD locks, never SQLite's POSIX ones. fcntl's result. */
static int claim_lock(struct db *db, enum db_claim_kind kind, int64_t id, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(CLAIM_BASE + (long long)kind * CLAIM_KIND_SPAN + id);
    fl.l_len = 1;
    return fcntl(db->claim_fd, F_OFD_SETLK, &fl);
}

int db_claim(struct db *db, enum db_claim_kind kind, int64_t id, const char *label,
             struct hw_err *err)
{
    if (id < 0 || id >= CLAIM_KIND_SPAN)
        return hw_error(err, HW_EINVAL, "%s: %s id %lld cannot be claimed (0..%lld)",
                        db->path, claim_kind_name(kind), (long long)id,
                        (long long)CLAIM_KIND_SPAN - 1);
    if (strcmp(db->path, ":memory:") == 0 || db->path[0] == '\0')
        return HW_OK; /* nothing another process could open */
    /* Never closed before the connection, not even when the lock is
     * refused: closing it would drop SQLite's locks on the file (struct db). */
    if (db->claim_fd < 0 && (db->claim_fd = open(db->path, O_RDWR | O_CLOEXEC)) < 0)
        return hw_error(err, HW_EIO, "%s: cannot open to claim %s %lld: %s", db->path,
                        claim_kind_name(kind), (long long)id, strerror(errno));
    if (claim_lock(db, kind, id, F_WRLCK) != 0) {
        int e = errno;
        if (e == EAGAIN || e == EACCES)
            return hw_error(err, HW_EBUSY, "%s: %s '%s' is in use by another hwnas process; "
                            "wait for it to finish or stop it (Ctrl-C) before resuming",
                            db->path, claim_kind_name(kind), label);
        if (e == ENOLCK || e == EINVAL || e == EOPNOTSUPP || e == ENOSYS) {
            /* a filesystem without such locks (some network mounts): the run
             * goes on, as it would have before claims, with the risk named */
            log_warn("%s: this filesystem cannot lock the file (%s), so nothing keeps a "
                     "second hwnas process off %s '%s': run one at a time", db->path,
                     strerror(e), claim_kind_name(kind), label);
            return HW_OK;
        }
        return hw_error(err, HW_EIO, "%s: cannot lock to claim %s '%s': %s", db->path,
                        claim_kind_name(kind), label, strerror(e));
    }
    return HW_OK;
}

int db_claim_commit(struct db *db, enum db_claim_kind kind, int64_t id, const char *label,
                    struct hw_err *err)
{
    int rc = db_claim(db, kind, id, label, err);
    if (rc != HW_OK)
        return rc;
    rc = db_commit(db, err);
    /* the rolled-back id will be handed out again: give its claim back (no
     * descriptor when claims are not needed, as for an in-memory db) */
    if (rc != HW_OK && db->claim_fd >= 0)
        (void)claim_lock(db, kind, id, F_UNLCK);
    return rc;
}
