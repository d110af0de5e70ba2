/* Status codes and error messages shared by every hwnas module.
 *
 * Library functions return an int status (HW_OK or a negative HW_E* code) and,
 * on failure, fill a caller-owned struct hw_err with one sentence that names the
 * input and the bad value ("arch.json: layers[3].k: 4 is not one of 3,5,7").
 * Only cli/ prints the message and exits. */
#ifndef HWNAS_UTIL_ERR_H
#define HWNAS_UTIL_ERR_H

#include <stdarg.h>

enum hw_status {
    HW_OK = 0,
    HW_EINVAL = -1,    /* bad input: flag, JSON, file contents */
    HW_EIO = -2,       /* file could not be read or written */
    HW_ENOMEM = -3,    /* allocation failed */
    HW_EDB = -4,       /* SQLite failure or unusable database */
    HW_ENOTFOUND = -5, /* a named thing (run, device, key) does not exist */
    HW_EMISMATCH = -6, /* data belongs to another device/version/arch */
    HW_EINTR = -7,     /* stopped by the user (Ctrl-C) */
    HW_EBUSY = -8,     /* in use by another process (a run being searched) */
};

#define HW_ERR_MSG_MAX 512

struct hw_err {
    int status;
    char msg[HW_ERR_MSG_MAX];
};

/* Clears err (may be NULL). */
void hw_err_clear(struct hw_err *err);

/* Formats a message into err (may be NULL) and returns status, so callers
 * write `return hw_error(err, HW_EINVAL, "%s: bad", path);`. */
int hw_error(struct hw_err *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to the message already in err; returns err->status. */
int hw_error_prefix(struct hw_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Short name of a status code ("invalid input", "I/O error", ...). */
const char *hw_status_name(int status);

#endif
