/* Arch <-> JSON (schema version ARCH_VERSION).
 *
 *   {"version": 1, "name": "fmnist-ref",
 *    "input": {"h": 28, "w": 28, "c": 1}, "classes": 10,
 *    "stem": {"k": 3, "stride": 1, "out": 16, "act": "hswish"},
 *    "layers": [{"k": 3, "stride": 1, "in": 16, "mid": 16, "out": 16,
 *                "se": true, "act": "relu"}, ...],
 *    "head": {"conv_out": 384, "conv_act": "hswish", "fc_hidden": 512,
 *             "fc_act": "hswish", "dropout": 0.2}}
 *
 * Every key is required except "name". Reading is strict: unknown or duplicate
 * keys, wrong types, out-of-range values and broken channel chains are refused
 * with "<source>: <json path>: <problem>", e.g.
 * "net.json: layers[3].k: 4 is not one of 3, 5, 7". */
#ifndef HWNAS_SPACE_ARCH_JSON_H
#define HWNAS_SPACE_ARCH_JSON_H

#include <cjson/cJSON.h>

#include "space/arch.h"
#include "util/err.h"

/* Parses an arch from the JSON text (NUL-terminated); source names it in
 * messages. *out is written only on success. */
int arch_from_json_string(const char *text, const char *source, struct arch *out,
                          struct hw_err *err);
/* Reads an arch from a cJSON object (owned by the caller) at JSON path
 * `path` ("" for a whole document), so other documents can embed archs. */
int arch_from_json(const cJSON *node, const char *source, const char *path, struct arch *out,
                   struct hw_err *err);
/* Loads an arch JSON file; messages are prefixed with the path. */
int arch_load(const char *path, struct arch *out, struct hw_err *err);

/* Readers of the arch parts that other documents (space JSON) share; c, node
 * and path as in jfield_read_object. */
struct jfield_ctx;
int arch_json_read_input(const struct jfield_ctx *c, const cJSON *node, const char *path,
                         struct arch *a);
int arch_json_read_stem(const struct jfield_ctx *c, const cJSON *node, const char *path,
                        struct arch_stem *stem);
int arch_json_read_head(const struct jfield_ctx *c, const cJSON *node, const char *path,
                        struct arch_head *head);

/* A new cJSON object describing a (caller owns; free with cJSON_Delete);
 * NULL when out of memory. */
cJSON *arch_to_json(const struct arch *a);
/* Formatted JSON text, malloc'd (caller frees); NULL when out of memory. */
char *arch_to_json_string(const struct arch *a);

#endif
