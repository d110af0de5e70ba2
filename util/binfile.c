#include "util/binfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bin_append(unsigned char **p, size_t *len, size_t *cap, const void *src, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n)
            c *= 2;
        unsigned char *q = realloc(*p, c);
        if (!q)
            return HW_ENOMEM;
        *p = q;
        *cap = c;
    }
    memcpy(*p + *len, src, n);
    *len += n;
    return HW_OK;
}

int bin_put(struct bin_buf *b, const void *src, size_t n)
{
    return bin_append(&b->p, &b->len, &b->cap, src, n);
}

int bin_put_u32(struct bin_buf *b, uint32_t v) { return bin_put(b, &v, 4); }

int bin_put_u64(struct bin_buf *b, uint64_t v) { return bin_put(b, &v, 8); }

int bin_write_atomic(const char *path, const void *bytes, size_t len, struct hw_err *err)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return hw_error(err, HW_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return hw_error(err, HW_EIO, "%s: cannot write: %s", path, strerror(errno));
    const unsigned char *p = bytes;
    size_t done = 0;
    int bad = 0;
    while (done < len && !bad) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            bad = 1;
        else
            done += (size_t)w;
    }
    bad = bad || fsync(fd) != 0;
    int saved = errno;
    bad = close(fd) != 0 || bad;
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            saved = errno;
        remove(tmp);
        return hw_error(err, HW_EIO, "%s: cannot write: %s", path, strerror(saved));
    }
    return HW_OK;
}

int bin_read_file(const char *path, size_t max, const char *what, unsigned char **out,
                  size_t *len, struct hw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hw_error(err, HW_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *p = NULL;
    size_t n = 0, cap = 0;
    int rc = HW_OK;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > max) {
                rc = hw_error(err, HW_EINVAL, "%s: larger than %zu bytes: not %s", path, max,
                              what);
                break;
            }
            unsigned char *q = realloc(p, cap);
            if (!q) {
                rc = hw_error(err, HW_ENOMEM, "%s: out of memory", path);
                break;
            }
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                rc = hw_error(err, HW_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc != HW_OK) {
        free(p);
        return rc;
    }
    *out = p;
    *len = n;
    return HW_OK;
}

int bin_take(struct bin_cursor *c, void *dst, size_t n, const char *what, struct hw_err *err)
{
    if (n > c->len - c->pos)
        return hw_error(err, HW_EINVAL,
                        "%s: truncated: %s needs %zu bytes at offset %zu, file has %zu", c->path,
                        what, n, c->pos, c->len);
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return HW_OK;
}
