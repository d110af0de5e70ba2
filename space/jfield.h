/* Strict, table-driven reading of JSON objects for the arch and space
 * readers (internal to space/).
 *
 * A table of struct jfield describes one object: each key, its type and
 * range, and where the value goes. jfield_read_object refuses, with a message
 * "<source>: <json path>: <problem>", a non-object, unknown or duplicate keys,
 * missing required keys, wrong types, non-integral or out-of-range numbers,
 * values outside a set, and unknown activations. cJSON nodes stay owned by the
 * caller's root. */
#ifndef HWNAS_SPACE_JFIELD_H
#define HWNAS_SPACE_JFIELD_H

#include <cjson/cJSON.h>

#include "space/arch.h"
#include "util/err.h"

#define JFIELD_PATH_MAX 96

enum jfield_type {
    JF_INT,    /* int*, integral, in [lo, hi] */
    JF_INT_OF, /* int*, one of set[0..n_set) */
    JF_NUMBER, /* double*, in [lo, hi] */
    JF_FLOAT,  /* float*, in [lo, hi] */
    JF_BOOL,   /* int*: 0 or 1 */
    JF_ACT,    /* enum arch_act*: "relu" | "relu6" | "hswish" */
    JF_STRING, /* char[hi]: copied, length < hi */
    JF_OBJECT, /* const cJSON**: any object (its caller reads it) */
    JF_ARRAY,  /* const cJSON**: array of lo..hi items (its caller reads it) */
};

struct jfield {
    const char *key; /* NULL ends a table */
    enum jfield_type type;
    void *dest;
    double lo, hi;
    const int *set;
    int n_set;
    int optional; /* absent: dest untouched */
    /* list_max > 0: the value is an array of 1..list_max values of `type`,
     * written to consecutive elements of dest; the count goes to *count. */
    int list_max;
    int *count;
};

/* Who reads: the source name for messages and the error to fill. */
struct jfield_ctx {
    const char *source;
    struct hw_err *err;
};

/* Reads object `obj` found at JSON path `path` ("" for the root) by table
 * `fields`. Returns HW_OK or HW_EINVAL. */
int jfield_read_object(const struct jfield_ctx *c, const cJSON *obj, const char *path,
                       const struct jfield *fields);

/* "path.key" (or "key" at the root) into buf of JFIELD_PATH_MAX. */
void jfield_join(char *buf, const char *path, const char *key);

/* Parses text (not NUL-safe beyond len) into a cJSON tree owned by the
 * caller, refusing invalid JSON with the byte offset of the error. */
int jfield_parse(const struct jfield_ctx *c, const char *text, cJSON **root);

/* Reads a whole file into a malloc'd NUL-terminated string (caller frees). */
int jfield_read_file(const char *path, char **text, struct hw_err *err);

#endif
