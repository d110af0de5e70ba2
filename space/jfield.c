#include "space/jfield.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jfield_join(char *buf, const char *path, const char *key)
{
    snprintf(buf, JFIELD_PATH_MAX, "%s%s%s", path, path[0] ? "." : "", key);
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

static int wrong_type(const struct jfield_ctx *c, const char *path, const char *want,
                      const cJSON *v)
{
    return hw_error(c->err, HW_EINVAL, "%s: %s: expected %s, got %s", c->source, path, want,
                    type_name(v));
}

static int read_number(const struct jfield_ctx *c, const cJSON *v, const char *path,
                       const struct jfield *f, double *out)
{
    if (!cJSON_IsNumber(v))
        return wrong_type(c, path, "a number", v);
    double x = v->valuedouble;
    if (!(x >= f->lo && x <= f->hi))
        return hw_error(c->err, HW_EINVAL, "%s: %s: %g is out of range [%g, %g]", c->source,
                        path, x, f->lo, f->hi);
    *out = x;
    return HW_OK;
}

static int read_int(const struct jfield_ctx *c, const cJSON *v, const char *path,
                    const struct jfield *f, int *out)
{
    if (!cJSON_IsNumber(v))
        return wrong_type(c, path, "an integer", v);
    double x = v->valuedouble;
    if (x != floor(x) || !isfinite(x))
        return hw_error(c->err, HW_EINVAL, "%s: %s: %g is not an integer", c->source, path, x);
    if (f->type == JF_INT_OF) {
        for (int i = 0; i < f->n_set; i++)
            if (x == f->set[i]) {
                *out = f->set[i];
                return HW_OK;
            }
        char list[64] = "";
        for (int i = 0; i < f->n_set; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? ", " : "",
                     f->set[i]);
        return hw_error(c->err, HW_EINVAL, "%s: %s: %g is not one of %s", c->source, path, x,
                        list);
    }
    double d = 0;
    int rc = read_number(c, v, path, f, &d);
    if (rc == HW_OK)
        *out = (int)d;
    return rc;
}

/* Element size of dest for one value of type t. */
static size_t value_size(enum jfield_type t)
{
    switch (t) {
    case JF_NUMBER: return sizeof(double);
    case JF_FLOAT: return sizeof(float);
    case JF_ACT: return sizeof(enum arch_act);
    case JF_OBJECT:
    case JF_ARRAY: return sizeof(const cJSON *);
    default: return sizeof(int);
    }
}

static int read_value(const struct jfield_ctx *c, const cJSON *v, const char *path,
                      const struct jfield *f, void *dest)
{
    switch (f->type) {
    case JF_INT:
    case JF_INT_OF:
        return read_int(c, v, path, f, dest);
    case JF_NUMBER:
        return read_number(c, v, path, f, dest);
    case JF_FLOAT: {
        double d = 0;
        int rc = read_number(c, v, path, f, &d);
        if (rc == HW_OK)
            *(float *)dest = (float)d;
        return rc;
    }
    case JF_BOOL:
        if (!cJSON_IsBool(v))
            return wrong_type(c, path, "true or false", v);
        *(int *)dest = cJSON_IsTrue(v);
        return HW_OK;
    case JF_ACT:
        if (!cJSON_IsString(v))
            return wrong_type(c, path, "an activation name", v);
        if (arch_act_parse(v->valuestring, dest) != HW_OK)
            return hw_error(c->err, HW_EINVAL,
                            "%s: %s: '%.40s' is not one of relu, relu6, hswish", c->source,
                            path, v->valuestring);
        return HW_OK;
    case JF_STRING:
        if (!cJSON_IsString(v))
            return wrong_type(c, path, "a string", v);
        if (strlen(v->valuestring) >= (size_t)f->hi)
            return hw_error(c->err, HW_EINVAL, "%s: %s: '%.40s...' is longer than %d bytes",
                            c->source, path, v->valuestring, (int)f->hi - 1);
        memcpy(dest, v->valuestring, strlen(v->valuestring) + 1);
        return HW_OK;
    case JF_OBJECT:
        if (!cJSON_IsObject(v))
            return wrong_type(c, path, "an object", v);
        *(const cJSON **)dest = v;
        return HW_OK;
    case JF_ARRAY: {
        if (!cJSON_IsArray(v))
            return wrong_type(c, path, "an array", v);
        int n = cJSON_GetArraySize(v);
        if (n < f->lo || n > f->hi)
            return hw_error(c->err, HW_EINVAL, "%s: %s: %d items, expected %g to %g",
                            c->source, path, n, f->lo, f->hi);
        *(const cJSON **)dest = v;
        return HW_OK;
    }
    }
    return hw_error(c->err, HW_EINVAL, "%s: %s: unreadable field", c->source, path);
}

static int read_list(const struct jfield_ctx *c, const cJSON *v, const char *path,
                     const struct jfield *f)
{
    if (!cJSON_IsArray(v))
        return wrong_type(c, path, "an array", v);
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > f->list_max)
        return hw_error(c->err, HW_EINVAL, "%s: %s: %d items, expected 1 to %d", c->source,
                        path, n, f->list_max);
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        char p[JFIELD_PATH_MAX];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        int rc = read_value(c, it, p, f, (char *)f->dest + (size_t)i * value_size(f->type));
        if (rc)
            return rc;
    }
    *f->count = n;
    return HW_OK;
}

int jfield_read_object(const struct jfield_ctx *c, const cJSON *obj, const char *path,
                       const struct jfield *fields)
{
    if (!cJSON_IsObject(obj))
        return wrong_type(c, path[0] ? path : "(top level)", "an object", obj);
    /* Unknown and duplicate keys first: a typo must not read as "missing". */
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        char p[JFIELD_PATH_MAX];
        jfield_join(p, path, key);
        const struct jfield *f = fields;
        while (f->key && strcmp(f->key, key) != 0)
            f++;
        if (!f->key) {
            char keys[256] = "";
            for (f = fields; f->key; f++)
                snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s",
                         f == fields ? "" : ", ", f->key);
            return hw_error(c->err, HW_EINVAL, "%s: %s: unknown key (expected: %s)", c->source,
                            p, keys);
        }
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (prev->string && strcmp(prev->string, key) == 0)
                return hw_error(c->err, HW_EINVAL, "%s: %s: duplicate key", c->source, p);
    }
    for (const struct jfield *f = fields; f->key; f++) {
        char p[JFIELD_PATH_MAX];
        jfield_join(p, path, f->key);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->key);
        if (!v) {
            if (f->optional)
                continue;
            return hw_error(c->err, HW_EINVAL, "%s: %s: missing", c->source, p);
        }
        int rc = f->list_max > 0 ? read_list(c, v, p, f) : read_value(c, v, p, f, f->dest);
        if (rc)
            return rc;
    }
    return HW_OK;
}

int jfield_parse(const struct jfield_ctx *c, const char *text, cJSON **root)
{
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!*root) {
        long off = end ? (long)(end - text) : 0;
        return hw_error(c->err, HW_EINVAL, "%s: invalid JSON at byte %ld", c->source, off);
    }
    return HW_OK;
}

int jfield_read_file(const char *path, char **text, struct hw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hw_error(err, HW_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return hw_error(err, HW_ENOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return hw_error(err, HW_EIO, "%s: read error", path);
    }
    if (memchr(buf, '\0', len)) {
        free(buf);
        return hw_error(err, HW_EINVAL, "%s: contains a NUL byte; not a text file", path);
    }
    buf[len] = '\0';
    *text = buf;
    return HW_OK;
}
