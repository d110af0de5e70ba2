#include "evaluator/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "space/arch_json.h"
#include "util/binfile.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model files store floats little-endian; add byte swapping for this target"
#endif

#define MODEL_MAX_BYTES ((size_t)1 << 31)

int model_to_bytes(struct nn_net *net, void **bytes, size_t *len, struct hw_err *err)
{
    *bytes = NULL;
    *len = 0;
    char *json = arch_to_json_string(nn_net_arch(net));
    if (!json)
        return hw_error(err, HW_ENOMEM, "cannot serialize the arch");
    size_t jlen = strlen(json);
    uint64_t np = nn_net_n_params(net), ns = nn_net_n_state(net);
    struct bin_buf b = {0};
    int rc = bin_put(&b, MODEL_MAGIC, 8);
    rc = rc ? rc : bin_put_u32(&b, MODEL_VERSION);
    rc = rc ? rc : bin_put_u32(&b, (uint32_t)jlen);
    rc = rc ? rc : bin_put(&b, json, jlen);
    rc = rc ? rc : bin_put_u64(&b, np);
    rc = rc ? rc : bin_put(&b, nn_net_params(net), np * sizeof(float));
    rc = rc ? rc : bin_put_u64(&b, ns);
    rc = rc ? rc : bin_put(&b, nn_net_state(net), ns * sizeof(float));
    rc = rc ? rc : bin_put_u32(&b, (uint32_t)crc32(0L, b.p, (uInt)b.len));
    free(json);
    if (rc != HW_OK) {
        free(b.p);
        return hw_error(err, rc, "out of memory while serializing a model");
    }
    *bytes = b.p;
    *len = b.len;
    return HW_OK;
}

int model_save(const char *path, struct nn_net *net, struct hw_err *err)
{
    void *bytes;
    size_t len;
    int rc = model_to_bytes(net, &bytes, &len, err);
    if (rc != HW_OK) {
        hw_error_prefix(err, "%s", path);
        return rc;
    }
    /* Written beside the target and renamed: a crash never leaves half a model. */
    rc = bin_write_atomic(path, bytes, len, err);
    free(bytes);
    return rc;
}

/* Reads a u64 count of floats and steps over them; *at gets their offset. */
static int skip_floats(struct bin_cursor *c, uint64_t *n, size_t *at, const char *what,
                       struct hw_err *err)
{
    int rc = bin_take(c, n, 8, what, err);
    if (rc != HW_OK)
        return rc;
    if (*n > (c->len - c->pos) / sizeof(float))
        return hw_error(err, HW_EINVAL,
                        "%s: truncated: %s: %llu values do not fit in the %zu bytes left at "
                        "offset %zu", c->path, what, (unsigned long long)*n, c->len - c->pos,
                        c->pos);
    *at = c->pos;
    c->pos += *n * sizeof(float);
    return HW_OK;
}

/* Structure first (so a cut file says "truncated"), then the checksum over
 * everything before it, and only then the arch and its net: a damaged file
 * is refused before an arch it garbled (one asking for gigabytes) is built.
 * A sound file whose counts are not what its arch needs says which differs. */
static int parse_model(struct bin_cursor *c, int max_batch, struct nn_net **out,
                       struct hw_err *err)
{
    char magic[8];
    uint32_t version = 0, jlen = 0, stored = 0;
    if (c->len < 8 || memcmp(c->p, MODEL_MAGIC, 8) != 0)
        return hw_error(err, HW_EINVAL, "%s: magic: not an hwnas model file (no %s)",
                        c->path, MODEL_MAGIC);
    int rc = bin_take(c, magic, 8, "magic", err);
    rc = rc ? rc : bin_take(c, &version, 4, "version", err);
    if (rc != HW_OK)
        return rc;
    if (version > MODEL_VERSION || version == 0)
        return hw_error(err, HW_EMISMATCH,
                        "%s: version: %u is not supported (this hwnas reads up to %d)",
                        c->path, version, MODEL_VERSION);
    rc = bin_take(c, &jlen, 4, "arch JSON length", err);
    if (rc != HW_OK)
        return rc;
    if (jlen > c->len - c->pos)
        return hw_error(err, HW_EINVAL,
                        "%s: truncated: arch JSON of %u bytes does not fit in the file",
                        c->path, jlen);
    size_t json_at = c->pos, params_at = 0, state_at = 0;
    uint64_t np = 0, ns = 0;
    c->pos += jlen;
    rc = skip_floats(c, &np, &params_at, "params", err);
    rc = rc ? rc : skip_floats(c, &ns, &state_at, "state", err);
    size_t body = c->pos;
    rc = rc ? rc : bin_take(c, &stored, 4, "checksum", err);
    if (rc != HW_OK)
        return rc;
    if (c->pos != c->len)
        return hw_error(err, HW_EINVAL, "%s: %zu trailing bytes after the checksum", c->path,
                        c->len - c->pos);
    uint32_t actual = (uint32_t)crc32(0L, c->p, (uInt)body);
    if (stored != actual)
        return hw_error(err, HW_EINVAL,
                        "%s: checksum: stored CRC-32 %08x, contents give %08x (file damaged)",
                        c->path, stored, actual);

    char *json = malloc((size_t)jlen + 1);
    if (!json)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", c->path);
    memcpy(json, c->p + json_at, jlen);
    json[jlen] = 0;
    struct arch a;
    rc = arch_from_json_string(json, c->path, &a, err);
    free(json);
    if (rc != HW_OK)
        return rc;
    struct nn_net *net = NULL;
    rc = nn_net_create(&net, &a, max_batch, NN_MODE_TRAIN, err);
    if (rc != HW_OK)
        return rc;
    const struct {
        const char *what;
        uint64_t n, want;
        size_t at;
        float *dst;
    } part[] = {{"params", np, nn_net_n_params(net), params_at, nn_net_params(net)},
                {"state", ns, nn_net_n_state(net), state_at, nn_net_state(net)}};
    for (int i = 0; i < 2; i++) {
        if (part[i].n != part[i].want) {
            rc = hw_error(err, HW_EMISMATCH, "%s: %s: file has %llu values, arch %s needs %llu",
                          c->path, part[i].what, (unsigned long long)part[i].n, a.name,
                          (unsigned long long)part[i].want);
            nn_net_free(net);
            return rc;
        }
        memcpy(part[i].dst, c->p + part[i].at, part[i].n * sizeof(float));
    }
    *out = net;
    return HW_OK;
}

int model_load_bytes(const void *bytes, size_t len, const char *name, int max_batch,
                     struct nn_net **out, struct hw_err *err)
{
    *out = NULL;
    if (len > MODEL_MAX_BYTES) /* the checksum covers at most 4 GiB */
        return hw_error(err, HW_EINVAL, "%s: larger than %zu bytes: not a model", name,
                        MODEL_MAX_BYTES);
    struct bin_cursor c = {bytes, len, 0, name};
    return parse_model(&c, max_batch, out, err);
}

int model_load(const char *path, int max_batch, struct nn_net **out,
               struct hw_err *err)
{
    *out = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = bin_read_file(path, MODEL_MAX_BYTES, "a model", &bytes, &len, err);
    if (rc != HW_OK)
        return rc;
    rc = model_load_bytes(bytes, len, path, max_batch, out, err);
    free(bytes);
    return rc;
}
