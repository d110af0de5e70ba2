#include "util/err.h"

#include <stdio.h>
#include <string.h>

void hw_err_clear(struct hw_err *err)
{
    if (!err)
        return;
    err->status = HW_OK;
    err->msg[0] = '\0';
}

int hw_error(struct hw_err *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

int hw_error_prefix(struct hw_err *err, const char *fmt, ...)
{
    if (!err)
        return HW_EINVAL;
    char prefix[HW_ERR_MSG_MAX], old[HW_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->status;
}

const char *hw_status_name(int status)
{
    switch (status) {
    case HW_OK: return "ok";
    case HW_EINVAL: return "invalid input";
    case HW_EIO: return "I/O error";
    case HW_ENOMEM: return "out of memory";
    case HW_EDB: return "database error";
    case HW_ENOTFOUND: return "not found";
    case HW_EMISMATCH: return "mismatch";
    case HW_EINTR: return "interrupted";
    case HW_EBUSY: return "busy";
    }
    return "unknown error";
}
