/* The supernet's slots, the slicing between it and a subnet, and its file. */
#include "supernet/supernet.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/binfile.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "supernet files store floats little-endian; add byte swapping for this target"
#endif

#define SUPERNET_MAX_BYTES ((size_t)1 << 32)

void supernet_config_default(struct supernet_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->subset = 0;
    c->batch = 128;
    c->lr = 0.1;
    c->momentum = 0.9;
    c->weight_decay = 4e-5;
    c->label_smoothing = 0.1;
    c->sandwich = 4;
    c->distill = 0.5;
    c->augment = 0;
    c->seed = 1;
}

long supernet_steps_per_epoch(const struct supernet_config *c, int train_n)
{
    int n = c->subset > 0 && c->subset < train_n ? c->subset : train_n;
    return n / c->batch;
}

/* ---- which slot a subnet tensor reads ---- */

static const char *const stem_names[] = {"conv.w", "bn.g", "bn.b"};
static const char *const layer_names[] = {"expand.w", "expand.bn.g", "expand.bn.b", "dw.w",
                                          "dw.bn.g",  "dw.bn.b",     "se.w1",       "se.b1",
                                          "se.w2",    "se.b2",       "project.w",   "project.bn.g",
                                          "project.bn.b"};
static const char *const head_names[] = {"conv.w", "conv.bn.g", "conv.bn.b", "fc1.w",
                                         "fc1.b",  "fc2.w",     "fc2.b"};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One tensor of a subnet and the slot key it reads. */
struct binding {
    struct nn_tensor t;
    size_t off; /* into the net's params (and grads) */
    char key[SUPERNET_KEY_MAX];
    int decay;
};

/* Calls fn for every parameter tensor of net, whose arch has tokens tok. */
typedef int (*bind_fn)(const struct binding *b, void *ctx, struct hw_err *err);

static int visit(const struct space *s, struct nn_net *net, const int *tok, bind_fn fn,
                 void *ctx, struct hw_err *err)
{
    const struct arch *a = nn_net_arch(net);
    const float *p0 = nn_net_params(net);
    const unsigned char *mask = nn_net_decay_mask(net);
    int unit = 0, rc;
    struct binding b;
    /* one pass per unit kind: stem, each block's layers, head */
    for (int u = 0; u < a->n_layers + 2; u++) {
        const char *const *names;
        int n_names;
        char prefix[24];
        if (u == 0) {
            names = stem_names, n_names = N_OF(stem_names);
            snprintf(prefix, sizeof prefix, "stem.");
        } else if (u <= a->n_layers) {
            /* layer u-1: find its block and index within the block */
            int li = u - 1, blk = 0, first = 0;
            while (blk < s->n_blocks) {
                int n = s->blocks[blk].layers[tok[blk * SPACE_N_CHOICES + SPACE_LAYERS]];
                if (li < first + n)
                    break;
                first += n;
                blk++;
            }
            names = layer_names, n_names = N_OF(layer_names);
            snprintf(prefix, sizeof prefix, "b%d.l%d.", blk, li - first);
        } else {
            names = head_names, n_names = N_OF(head_names);
            snprintf(prefix, sizeof prefix, "head.");
        }
        unit = u;
        for (int i = 0; i < n_names; i++) {
            if (nn_net_tensor(net, unit, names[i], &b.t, NULL) != HW_OK)
                continue; /* absent in this arch (no expand conv, no SE, ...) */
            const char *variant = "";
            if (u == a->n_layers + 1 && !strncmp(names[i], "fc1.", 4))
                variant = a->head.conv_out ? "@conv" : "@pool";
            else if (u == a->n_layers + 1 && !strncmp(names[i], "fc2.", 4))
                variant = a->head.fc_hidden ? "@fc1" : a->head.conv_out ? "@conv" : "@pool";
            snprintf(b.key, sizeof b.key, "%s%s%s", prefix, names[i], variant);
            b.off = (size_t)(b.t.data - p0);
            b.decay = mask[b.off];
            if ((rc = fn(&b, ctx, err)))
                return rc;
        }
    }
    return HW_OK;
}

const struct supernet_slot *supernet_slot_find(const struct supernet *sn, const char *key)
{
    for (int i = 0; i < sn->n_slots; i++)
        if (!strcmp(sn->slots[i].key, key))
            return &sn->slots[i];
    return NULL;
}

/* ---- building the slots ---- */

static int option_extreme(const double *v, int n, int largest)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (largest ? v[i] > v[best] : v[i] < v[best])
            best = i;
    return best;
}

static int option_extreme_int(const int *v, int n, int largest)
{
    double d[SPACE_MAX_OPTIONS];
    for (int i = 0; i < n; i++)
        d[i] = v[i];
    return option_extreme(d, n, largest);
}

static void tokens_extreme(const struct space *s, struct pcg32 *rng, int *tok, int largest)
{
    for (int b = 0; b < s->n_blocks; b++) {
        const struct space_block *k = &s->blocks[b];
        int *t = tok + b * SPACE_N_CHOICES;
        t[SPACE_KERNEL] = option_extreme_int(k->kernel, k->n[SPACE_KERNEL], largest);
        t[SPACE_EXPANSION] = option_extreme(k->expansion, k->n[SPACE_EXPANSION], largest);
        t[SPACE_SE] = option_extreme_int(k->se, k->n[SPACE_SE], largest);
        t[SPACE_ACT] = (int)pcg32_bounded(rng, (uint32_t)k->n[SPACE_ACT]);
        t[SPACE_LAYERS] = option_extreme_int(k->layers, k->n[SPACE_LAYERS], largest);
        t[SPACE_WIDTH] = option_extreme(k->width_mult, k->n[SPACE_WIDTH], largest);
    }
    int h = space_head_token0(s);
    if (s->head.n_conv)
        tok[h++] = option_extreme_int(s->head.conv_out, s->head.n_conv, largest);
    if (s->head.n_fc)
        tok[h++] = option_extreme_int(s->head.fc_hidden, s->head.n_fc, largest);
}

void supernet_tokens_largest(const struct space *s, struct pcg32 *rng, int *tokens)
{
    tokens_extreme(s, rng, tokens, 1);
}

void supernet_tokens_smallest(const struct space *s, struct pcg32 *rng, int *tokens)
{
    tokens_extreme(s, rng, tokens, 0);
}

/* Index of the largest value among the options that are 0 (zero != 0) or
 * not (zero == 0); -1 when there is none. */
static int head_variant(const int *v, int n, int zero)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if ((v[i] == 0) == zero && (best < 0 || v[i] > v[best]))
            best = i;
    return best;
}

struct merge_ctx {
    struct supernet *sn;
    int cap;
    const float *init;      /* the net's initialized params, copied into new slots */
    unsigned char *written; /* per slot: initialized by an earlier max arch */
};

static int merge_slot(const struct binding *b, void *p, struct hw_err *err)
{
    struct merge_ctx *m = p;
    struct supernet *sn = m->sn;
    struct supernet_slot *sl = (struct supernet_slot *)supernet_slot_find(sn, b->key);
    if (!sl) {
        if (sn->n_slots == m->cap) {
            int cap = m->cap ? 2 * m->cap : 64;
            struct supernet_slot *q = realloc(sn->slots, sizeof *q * (size_t)cap);
            if (!q)
                return hw_error(err, HW_ENOMEM, "supernet: out of memory for its slots");
            sn->slots = q;
            m->cap = cap;
        }
        sl = &sn->slots[sn->n_slots++];
        memset(sl, 0, sizeof *sl);
        snprintf(sl->key, sizeof sl->key, "%s", b->key);
        sl->ndim = b->t.ndim;
        sl->decay = b->decay;
    }
    if (sl->ndim != b->t.ndim)
        return hw_error(err, HW_EINVAL, "supernet: tensor %s has %d dimensions in one arch and "
                        "%d in another", b->key, sl->ndim, b->t.ndim);
    for (int d = 0; d < sl->ndim; d++)
        sl->shape[d] = b->t.shape[d] > sl->shape[d] ? b->t.shape[d] : sl->shape[d];
    return HW_OK;
}

/* Index arithmetic of one slice: the subnet tensor's shape ds within the
 * slot's shape ss; a depthwise kernel (dims 0 and 1 of "dw.w") is centred. */
static void slice_offsets(const struct supernet_slot *sl, const struct nn_tensor *t, int *off)
{
    size_t len = strlen(sl->key);
    int centre = len > 5 && !strcmp(sl->key + len - 5, ".dw.w");
    for (int d = 0; d < 4; d++)
        off[d] = centre && d < 2 ? (sl->shape[d] - t->shape[d]) / 2 : 0;
}

enum slice_dir { SLICE_GATHER, SLICE_SCATTER, SLICE_SCATTER_ADD };

/* Copies between the slot's data sup and the subnet tensor sub. */
static void slice_move(const struct supernet_slot *sl, const struct nn_tensor *t, float *sup,
                       float *sub, enum slice_dir dir)
{
    int ds[4] = {1, 1, 1, 1}, ss[4] = {1, 1, 1, 1}, off[4];
    for (int d = 0; d < t->ndim; d++) {
        ds[d] = t->shape[d];
        ss[d] = sl->shape[d];
    }
    slice_offsets(sl, t, off);
    size_t k = 0;
    for (int i0 = 0; i0 < ds[0]; i0++)
        for (int i1 = 0; i1 < ds[1]; i1++)
            for (int i2 = 0; i2 < ds[2]; i2++, k += (size_t)ds[3]) {
                size_t s0 = (((size_t)(i0 + off[0]) * ss[1] + (size_t)(i1 + off[1])) * ss[2] +
                             (size_t)(i2 + off[2])) * ss[3];
                float *a = sup + s0, *b = sub + k;
                if (dir == SLICE_GATHER)
                    memcpy(b, a, sizeof(float) * (size_t)ds[3]);
                else if (dir == SLICE_SCATTER)
                    memcpy(a, b, sizeof(float) * (size_t)ds[3]);
                else
                    for (int i3 = 0; i3 < ds[3]; i3++)
                        a[i3] += b[i3];
            }
}

static int check_fits(const struct supernet_slot *sl, const struct binding *b,
                      struct hw_err *err)
{
    if (!sl)
        return hw_error(err, HW_EMISMATCH, "supernet has no weights for tensor %s", b->key);
    for (int d = 0; d < b->t.ndim; d++)
        if (b->t.shape[d] > sl->shape[d] || b->t.ndim != sl->ndim)
            return hw_error(err, HW_EMISMATCH, "supernet: tensor %s dimension %d is %d, the "
                            "supernet holds %d", b->key, d, b->t.shape[d], sl->shape[d]);
    return HW_OK;
}

/* The initialized weights of a max arch into the slots no earlier max arch
 * wrote (each slot is initialized once, at its full size). */
static int init_slot(const struct binding *b, void *p, struct hw_err *err)
{
    struct merge_ctx *m = p;
    const struct supernet_slot *sl = supernet_slot_find(m->sn, b->key);
    int rc = check_fits(sl, b, err);
    if (rc || m->written[sl - m->sn->slots])
        return rc;
    m->written[sl - m->sn->slots] = 1;
    slice_move(sl, &b->t, m->sn->params + sl->off, (float *)m->init + b->off, SLICE_SCATTER);
    return HW_OK;
}

/* The archs whose union of tensors, at their largest, covers every slot:
 * the largest arch once per head variant (conv or none, hidden FC or none). */
static int for_each_max_arch(struct supernet *sn, uint64_t seed, bind_fn fn, int init,
                             struct merge_ctx *m, struct hw_err *err)
{
    const struct space *s = &sn->space;
    int cv[2] = {-1, -1}, fv[2] = {-1, -1};
    for (int z = 0; z < 2; z++) {
        cv[z] = s->head.n_conv ? head_variant(s->head.conv_out, s->head.n_conv, z) : (z ? -1 : 0);
        fv[z] = s->head.n_fc ? head_variant(s->head.fc_hidden, s->head.n_fc, z) : (z ? -1 : 0);
    }
    struct pcg32 rng;
    pcg32_seed(&rng, seed, 0x736e6d78u); /* "snmx" */
    for (int ci = 0; ci < 2; ci++)
        for (int fi = 0; fi < 2; fi++) {
            if (cv[ci] < 0 || fv[fi] < 0)
                continue;
            int tok[SPACE_MAX_TOKENS];
            supernet_tokens_largest(s, &rng, tok);
            int h = space_head_token0(s);
            if (s->head.n_conv)
                tok[h++] = cv[ci];
            if (s->head.n_fc)
                tok[h++] = fv[fi];
            struct arch a;
            struct nn_net *net = NULL;
            int rc = space_decode(s, tok, &a, err);
            rc = rc ? rc : nn_net_create(&net, &a, 1, NN_MODE_TRAIN, err);
            if (rc == HW_OK && init) {
                struct pcg32 r;
                pcg32_seed(&r, seed, 0x736e696eu + (uint64_t)(ci * 2 + fi)); /* "snin" */
                nn_net_init_params(net, &r);
                m->init = nn_net_params(net);
            }
            rc = rc ? rc : visit(s, net, tok, fn, m, err);
            nn_net_free(net);
            if (rc)
                return rc;
        }
    return HW_OK;
}

static int alloc_params(struct supernet *sn, struct hw_err *err)
{
    size_t n = 0;
    for (int i = 0; i < sn->n_slots; i++) {
        struct supernet_slot *sl = &sn->slots[i];
        sl->size = 1;
        for (int d = 0; d < sl->ndim; d++)
            sl->size *= (size_t)sl->shape[d];
        sl->off = n;
        n += sl->size;
    }
    sn->n_params = n;
    sn->params = calloc(n, sizeof(float));
    sn->grads = calloc(n, sizeof(float));
    sn->mom = calloc(n, sizeof(float));
    sn->decay = calloc(n, 1);
    if (!sn->params || !sn->grads || !sn->mom || !sn->decay)
        return hw_error(err, HW_ENOMEM, "supernet: out of memory for %zu weights", n);
    for (int i = 0; i < sn->n_slots; i++)
        memset(sn->decay + sn->slots[i].off, sn->slots[i].decay, sn->slots[i].size);
    return HW_OK;
}

/* Space from its text, slots and buffers; weights zero. */
static int build(struct supernet *sn, const char *space_json, const char *source,
                 struct hw_err *err)
{
    int rc = space_from_json_string(space_json, source, &sn->space, err);
    if (rc)
        return rc;
    sn->space_hash = space_hash(&sn->space);
    sn->space_json = strdup(space_json);
    if (!sn->space_json)
        return hw_error(err, HW_ENOMEM, "supernet: out of memory");
    struct merge_ctx m = {sn, 0, NULL, NULL};
    rc = for_each_max_arch(sn, 0, merge_slot, 0, &m, err);
    return rc ? rc : alloc_params(sn, err);
}

int supernet_init(struct supernet *sn, const char *space_json, const char *source,
                  const struct supernet_config *cfg, struct hw_err *err)
{
    memset(sn, 0, sizeof *sn);
    sn->cfg = *cfg;
    int rc = build(sn, space_json, source, err);
    if (rc == HW_OK) {
        struct merge_ctx m = {sn, 0, NULL, calloc((size_t)sn->n_slots, 1)};
        rc = m.written ? for_each_max_arch(sn, cfg->seed, init_slot, 1, &m, err)
                       : hw_error(err, HW_ENOMEM, "supernet: out of memory");
        free(m.written);
    }
    if (rc)
        supernet_release(sn);
    return rc;
}

void supernet_release(struct supernet *sn)
{
    free(sn->space_json);
    free(sn->slots);
    free(sn->params);
    free(sn->grads);
    free(sn->mom);
    free(sn->decay);
    memset(sn, 0, sizeof *sn);
}

/* ---- gather and scatter ---- */

struct move_ctx {
    const struct supernet *sn;
    float *sub; /* the net's params or grads */
    enum slice_dir dir;
};

static int move_one(const struct binding *b, void *p, struct hw_err *err)
{
    struct move_ctx *m = p;
    const struct supernet_slot *sl = supernet_slot_find(m->sn, b->key);
    int rc = check_fits(sl, b, err);
    if (rc)
        return rc;
    float *base = m->dir == SLICE_GATHER ? m->sn->params : m->sn->grads;
    slice_move(sl, &b->t, base + sl->off, m->sub + b->off, m->dir);
    return HW_OK;
}

static int move(const struct supernet *sn, struct nn_net *net, float *sub, enum slice_dir dir,
                struct hw_err *err)
{
    int tok[SPACE_MAX_TOKENS];
    int rc = space_encode(&sn->space, nn_net_arch(net), tok, err);
    if (rc)
        return rc;
    struct move_ctx m = {sn, sub, dir};
    return visit(&sn->space, net, tok, move_one, &m, err);
}

int supernet_gather(const struct supernet *sn, struct nn_net *net, struct hw_err *err)
{
    int rc = move(sn, net, nn_net_params(net), SLICE_GATHER, err);
    if (rc == HW_OK)
        nn_net_fold(net);
    return rc;
}

int supernet_scatter_grads(struct supernet *sn, const struct nn_net *net, struct hw_err *err)
{
    struct nn_net *n = (struct nn_net *)net; /* tensor views only read here */
    if (!nn_net_grads(n))
        return hw_error(err, HW_EINVAL, "supernet: scatter needs a TRAIN net");
    return move(sn, n, nn_net_grads(n), SLICE_SCATTER_ADD, err);
}

int supernet_check_space(const struct supernet *sn, const struct space *s, const char *path,
                         struct hw_err *err)
{
    uint64_t h = space_hash(s);
    if (h != sn->space_hash)
        return hw_error(err, HW_EMISMATCH, "%s: supernet was trained for space '%s' (hash "
                        "%016" PRIx64 "), not for space '%s' (hash %016" PRIx64 ")",
                        path, sn->space.name, sn->space_hash, s->name, h);
    return HW_OK;
}

/* ---- the file ---- */

static int put_config(struct bin_buf *b, const struct supernet *sn)
{
    const struct supernet_config *c = &sn->cfg;
    double d[] = {c->lr, c->momentum, c->weight_decay, c->label_smoothing, c->distill,
                  sn->train_s};
    int32_t i[] = {c->epochs, c->subset, c->batch, c->sandwich, c->augment};
    int rc = bin_put(b, i, sizeof i);
    rc = rc ? rc : bin_put(b, d, sizeof d);
    rc = rc ? rc : bin_put_u64(b, c->seed);
    rc = rc ? rc : bin_put_u64(b, (uint64_t)sn->step);
    return rc ? rc : bin_put_u64(b, (uint64_t)sn->total_steps);
}

int supernet_save(struct supernet *sn, const char *path, struct hw_err *err)
{
    struct bin_buf b = {0};
    uint32_t jlen = (uint32_t)strlen(sn->space_json);
    int rc = bin_put(&b, SUPERNET_MAGIC, 8);
    rc = rc ? rc : bin_put_u32(&b, SUPERNET_VERSION);
    rc = rc ? rc : bin_put_u64(&b, sn->space_hash);
    rc = rc ? rc : bin_put_u32(&b, jlen);
    rc = rc ? rc : bin_put(&b, sn->space_json, jlen);
    rc = rc ? rc : put_config(&b, sn);
    rc = rc ? rc : bin_put_u32(&b, (uint32_t)sn->n_slots);
    for (int i = 0; i < sn->n_slots && !rc; i++) {
        const struct supernet_slot *sl = &sn->slots[i];
        int32_t dims[5] = {sl->ndim, sl->shape[0], sl->shape[1], sl->shape[2], sl->shape[3]};
        rc = bin_put(&b, sl->key, SUPERNET_KEY_MAX);
        rc = rc ? rc : bin_put(&b, dims, sizeof dims);
    }
    rc = rc ? rc : bin_put_u64(&b, sn->n_params);
    rc = rc ? rc : bin_put(&b, sn->params, sn->n_params * sizeof(float));
    rc = rc ? rc : bin_put_u64(&b, sn->n_params);
    rc = rc ? rc : bin_put(&b, sn->mom, sn->n_params * sizeof(float));
    uint32_t crc = rc ? 0 : (uint32_t)crc32(0L, b.p, (uInt)b.len);
    rc = rc ? rc : bin_put_u32(&b, crc);
    if (rc) {
        free(b.p);
        return hw_error(err, rc, "%s: out of memory while serializing", path);
    }
    rc = bin_write_atomic(path, b.p, b.len, err);
    if (rc == HW_OK)
        sn->crc = crc;
    free(b.p);
    return rc;
}

static int parse(struct bin_cursor *c, struct supernet *sn, struct hw_err *err)
{
    char magic[8];
    uint32_t version = 0, jlen = 0, nslots = 0, stored = 0;
    uint64_t hash = 0, np = 0, nm = 0, step = 0, total = 0, seed = 0;
    if (c->len < 8 || memcmp(c->p, SUPERNET_MAGIC, 8) != 0)
        return hw_error(err, HW_EINVAL, "%s: magic: not an hwnas supernet file (no %s)",
                        c->path, SUPERNET_MAGIC);
    /* the checksum first: a damaged file is reported as such, not by the
     * first field it happens to break */
    if (c->len < 12)
        return hw_error(err, HW_EINVAL, "%s: truncated", c->path);
    memcpy(&stored, c->p + c->len - 4, 4);
    uint32_t actual = (uint32_t)crc32(0L, c->p, (uInt)(c->len - 4));
    if (stored != actual)
        return hw_error(err, HW_EINVAL, "%s: checksum: stored CRC-32 %08x, contents give %08x "
                        "(file damaged or truncated)", c->path, stored, actual);
    c->len -= 4;
    uint32_t crc = stored;
    int rc = bin_take(c, magic, 8, "magic", err);
    rc = rc ? rc : bin_take(c, &version, 4, "version", err);
    if (rc)
        return rc;
    if (version == 0 || version > SUPERNET_VERSION)
        return hw_error(err, HW_EMISMATCH, "%s: version: %u is not supported (this hwnas "
                        "reads up to %d)", c->path, version, SUPERNET_VERSION);
    rc = bin_take(c, &hash, 8, "space hash", err);
    rc = rc ? rc : bin_take(c, &jlen, 4, "space JSON length", err);
    if (rc)
        return rc;
    if (jlen > c->len - c->pos)
        return hw_error(err, HW_EINVAL, "%s: truncated: space JSON of %u bytes", c->path, jlen);
    char *json = malloc((size_t)jlen + 1);
    if (!json)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", c->path);
    memcpy(json, c->p + c->pos, jlen);
    json[jlen] = 0;
    c->pos += jlen;
    int32_t iv[5];
    double dv[6];
    rc = bin_take(c, iv, sizeof iv, "training config", err);
    rc = rc ? rc : bin_take(c, dv, sizeof dv, "training config", err);
    rc = rc ? rc : bin_take(c, &seed, 8, "seed", err);
    rc = rc ? rc : bin_take(c, &step, 8, "step", err);
    rc = rc ? rc : bin_take(c, &total, 8, "total steps", err);
    rc = rc ? rc : bin_take(c, &nslots, 4, "slot count", err);
    if (rc == HW_OK)
        rc = build(sn, json, c->path, err);
    free(json);
    if (rc)
        return rc;
    if (sn->space_hash != hash)
        return hw_error(err, HW_EMISMATCH, "%s: space hash %016" PRIx64 " recorded, its space "
                        "JSON gives %016" PRIx64 " (written by another hwnas version?)",
                        c->path, hash, sn->space_hash);
    struct supernet_config *cf = &sn->cfg;
    cf->epochs = iv[0], cf->subset = iv[1], cf->batch = iv[2], cf->sandwich = iv[3];
    cf->augment = iv[4];
    cf->lr = dv[0], cf->momentum = dv[1], cf->weight_decay = dv[2];
    cf->label_smoothing = dv[3], cf->distill = dv[4];
    sn->train_s = dv[5];
    cf->seed = seed;
    sn->step = (long)step;
    sn->total_steps = (long)total;
    if (cf->batch < 2 || cf->epochs < 1 || cf->sandwich < 1 || sn->step < 0 ||
        sn->step > sn->total_steps)
        return hw_error(err, HW_EINVAL, "%s: training config: batch %d, epochs %d, sandwich "
                        "%d, step %ld of %ld is not valid", c->path, cf->batch, cf->epochs,
                        cf->sandwich, sn->step, sn->total_steps);
    if ((int)nslots != sn->n_slots)
        return hw_error(err, HW_EMISMATCH, "%s: %u slots stored, the space needs %d", c->path,
                        nslots, sn->n_slots);
    for (int i = 0; i < sn->n_slots; i++) {
        char key[SUPERNET_KEY_MAX];
        int32_t dims[5];
        rc = bin_take(c, key, sizeof key, "slot table", err);
        rc = rc ? rc : bin_take(c, dims, sizeof dims, "slot table", err);
        if (rc)
            return rc;
        const struct supernet_slot *sl = &sn->slots[i];
        if (strncmp(key, sl->key, sizeof key) || dims[0] != sl->ndim ||
            memcmp(dims + 1, sl->shape, sizeof(int32_t) * 4))
            return hw_error(err, HW_EMISMATCH, "%s: slot %d is %.*s, the space needs %s with "
                            "other dimensions or name", c->path, i, SUPERNET_KEY_MAX - 1, key,
                            sl->key);
    }
    rc = bin_take(c, &np, 8, "weight count", err);
    if (rc == HW_OK && np != sn->n_params)
        return hw_error(err, HW_EMISMATCH, "%s: %" PRIu64 " weights stored, the space needs %zu",
                        c->path, np, sn->n_params);
    rc = rc ? rc : bin_take(c, sn->params, np * sizeof(float), "weights", err);
    rc = rc ? rc : bin_take(c, &nm, 8, "momentum count", err);
    if (rc == HW_OK && nm != np)
        return hw_error(err, HW_EMISMATCH, "%s: %" PRIu64 " momentum values for %" PRIu64
                        " weights", c->path, nm, np);
    rc = rc ? rc : bin_take(c, sn->mom, nm * sizeof(float), "momentum", err);
    if (rc == HW_OK && c->pos != c->len)
        rc = hw_error(err, HW_EINVAL, "%s: %zu unexpected bytes before the checksum", c->path,
                      c->len - c->pos);
    sn->crc = crc;
    return rc;
}

int supernet_load(const char *path, struct supernet *sn, struct hw_err *err)
{
    memset(sn, 0, sizeof *sn);
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = bin_read_file(path, SUPERNET_MAX_BYTES, "a supernet", &bytes, &len, err);
    if (rc)
        return rc;
    struct bin_cursor c = {bytes, len, 0, path};
    rc = parse(&c, sn, err);
    free(bytes);
    if (rc)
        supernet_release(sn);
    return rc;
}
