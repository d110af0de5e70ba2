#include "space/space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/arch_json.h"
#include "space/jfield.h"
#include "util/fnv.h"

/* The shipped spaces are compiled in: the assembler copies spaces/<name>.json
 * (paths relative to the repo root, where make runs) into .rodata with a
 * terminating NUL. The Makefile lists the JSON files as prerequisites of this
 * object so an edit rebuilds it. */
__asm__(".section .rodata\n"
        ".global hwnas_space_json_fmnist\n"
        "hwnas_space_json_fmnist:\n"
        ".incbin \"spaces/fmnist.json\"\n"
        ".byte 0\n"
        ".global hwnas_space_json_mbv3_224\n"
        "hwnas_space_json_mbv3_224:\n"
        ".incbin \"spaces/mbv3-224.json\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char hwnas_space_json_fmnist[];
extern const char hwnas_space_json_mbv3_224[];

static const char *const builtin_names[] = {"fmnist", "mbv3-224", NULL};

static const char *const choice_names[SPACE_N_CHOICES] = {
    "kernel", "expansion", "se", "act", "layers", "width_mult"};

const char *const *space_builtin_names(void)
{
    return builtin_names;
}

/* mid of a layer with input `in` at expansion e (1 means no expand conv). */
static int layer_mid(int in, double e)
{
    return e == 1.0 ? in : arch_make_divisible(in * e, 8);
}

static int block_out(const struct space_block *b, int w)
{
    return arch_make_divisible(b->base_width * b->width_mult[w], 8);
}

static int read_block(const struct jfield_ctx *c, const cJSON *node, const char *path,
                      struct space_block *b)
{
    static const int strides[] = {1, 2}, kernels[] = {3, 5, 7};
    const struct jfield fields[] = {
        {.key = "stride", .type = JF_INT_OF, .dest = &b->stride, .set = strides, .n_set = 2},
        {.key = "width", .type = JF_INT, .dest = &b->base_width, .lo = 1,
         .hi = ARCH_MAX_CHANNELS},
        {.key = "kernel", .type = JF_INT_OF, .dest = b->kernel, .set = kernels, .n_set = 3,
         .list_max = SPACE_MAX_OPTIONS, .count = &b->n[SPACE_KERNEL]},
        {.key = "expansion", .type = JF_NUMBER, .dest = b->expansion, .lo = 1, .hi = 16,
         .list_max = SPACE_MAX_OPTIONS, .count = &b->n[SPACE_EXPANSION]},
        {.key = "se", .type = JF_INT, .dest = b->se, .lo = 0, .hi = 1,
         .list_max = SPACE_MAX_OPTIONS, .count = &b->n[SPACE_SE]},
        {.key = "act", .type = JF_ACT, .dest = b->act, .list_max = SPACE_MAX_OPTIONS,
         .count = &b->n[SPACE_ACT]},
        {.key = "layers", .type = JF_INT, .dest = b->layers, .lo = 1, .hi = ARCH_MAX_LAYERS,
         .list_max = SPACE_MAX_OPTIONS, .count = &b->n[SPACE_LAYERS]},
        {.key = "width_mult", .type = JF_NUMBER, .dest = b->width_mult, .lo = 0.01, .hi = 16,
         .list_max = SPACE_MAX_OPTIONS, .count = &b->n[SPACE_WIDTH]},
        {0},
    };
    return jfield_read_object(c, node, path, fields);
}

/* Value of option i of choice ch as a double, to compare options generically. */
static double option_value(const struct space_block *b, int ch, int i)
{
    switch (ch) {
    case SPACE_KERNEL: return b->kernel[i];
    case SPACE_EXPANSION: return b->expansion[i];
    case SPACE_SE: return b->se[i];
    case SPACE_ACT: return b->act[i];
    case SPACE_LAYERS: return b->layers[i];
    default: return b->width_mult[i];
    }
}

/* The checks that make tokens <-> archs a bijection (see space.h): no repeated
 * option, distinct widths, distinct mids for every possible block input, and
 * unambiguous block boundaries. in_w[0..n_in) are the possible inputs. */
static int check_block(const struct space *s, int bi, const int *in_w, int n_in,
                       const char *src, struct hw_err *err)
{
    const struct space_block *b = &s->blocks[bi];
    for (int ch = 0; ch < SPACE_N_CHOICES; ch++)
        for (int i = 0; i < b->n[ch]; i++)
            for (int j = 0; j < i; j++)
                if (option_value(b, ch, i) == option_value(b, ch, j))
                    return hw_error(err, HW_EINVAL, "%s: blocks[%d].%s[%d]: %g repeats option %d",
                                    src, bi, choice_names[ch], i, option_value(b, ch, i), j);
    for (int i = 0; i < b->n[SPACE_WIDTH]; i++) {
        int out = block_out(b, i);
        if (out > ARCH_MAX_CHANNELS)
            return hw_error(err, HW_EINVAL, "%s: blocks[%d].width_mult[%d]: %g gives %d channels "
                            "(at most %d)", src, bi, i, b->width_mult[i], out, ARCH_MAX_CHANNELS);
        for (int j = 0; j < i; j++)
            if (block_out(b, j) == out)
                return hw_error(err, HW_EINVAL, "%s: blocks[%d].width_mult[%d]: %g gives %d "
                                "channels, as width_mult[%d] does", src, bi, i,
                                b->width_mult[i], out, j);
        if (b->stride == 1 && bi > 0)
            for (int j = 0; j < n_in; j++)
                if (in_w[j] == out)
                    return hw_error(err, HW_EINVAL, "%s: blocks[%d].width_mult[%d]: a stride-1 "
                                    "block must not share a width (%d) with the block before "
                                    "it, or the block boundary is ambiguous", src, bi, i, out);
    }
    for (int e = 0; e < b->n[SPACE_EXPANSION]; e++) {
        for (int j = 0; j < n_in + b->n[SPACE_WIDTH]; j++) {
            int in = j < n_in ? in_w[j] : block_out(b, j - n_in); /* first layer, repeats */
            int mid = layer_mid(in, b->expansion[e]);
            if (mid > ARCH_MAX_CHANNELS)
                return hw_error(err, HW_EINVAL, "%s: blocks[%d].expansion[%d]: %g gives %d "
                                "channels (at most %d)", src, bi, e, b->expansion[e], mid,
                                ARCH_MAX_CHANNELS);
            for (int f = 0; f < e && j < n_in; f++)
                if (layer_mid(in, b->expansion[f]) == mid)
                    return hw_error(err, HW_EINVAL, "%s: blocks[%d].expansion[%d]: %g gives the "
                                    "same mid (%d) as expansion[%d] for %d input channels",
                                    src, bi, e, b->expansion[e], mid, f, in);
        }
    }
    return HW_OK;
}

static int read_head_options(const struct jfield_ctx *c, const cJSON *node,
                             struct space_head_options *h)
{
    const struct jfield fields[] = {
        {.key = "conv_out", .type = JF_INT, .dest = h->conv_out, .lo = 0,
         .hi = ARCH_MAX_CHANNELS, .optional = 1, .list_max = SPACE_MAX_OPTIONS,
         .count = &h->n_conv},
        {.key = "fc_hidden", .type = JF_INT, .dest = h->fc_hidden, .lo = 0,
         .hi = ARCH_MAX_CHANNELS, .optional = 1, .list_max = SPACE_MAX_OPTIONS,
         .count = &h->n_fc},
        {0},
    };
    return jfield_read_object(c, node, "head_options", fields);
}

/* No head option may repeat (tokens <-> archs stays a bijection). */
static int check_head_options(const struct space_head_options *h, const char *src,
                              struct hw_err *err)
{
    for (int f = 0; f < 2; f++) {
        const int *v = f ? h->fc_hidden : h->conv_out;
        for (int i = 0; i < (f ? h->n_fc : h->n_conv); i++)
            for (int j = 0; j < i; j++)
                if (v[i] == v[j])
                    return hw_error(err, HW_EINVAL, "%s: head_options.%s[%d]: %d repeats "
                                    "option %d", src, f ? "fc_hidden" : "conv_out", i, v[i], j);
    }
    return HW_OK;
}

static int check_space(struct space *s, const char *src, struct hw_err *err)
{
    int rc = arch_validate(&s->base, src, err);
    if (rc)
        return rc;
    int in_w[SPACE_MAX_OPTIONS] = {s->base.stem.out}, n_in = 1, max_layers = 0;
    for (int bi = 0; bi < s->n_blocks; bi++) {
        const struct space_block *b = &s->blocks[bi];
        if ((rc = check_block(s, bi, in_w, n_in, src, err)))
            return rc;
        int most = 0;
        for (int i = 0; i < b->n[SPACE_LAYERS]; i++)
            if (b->layers[i] > most)
                most = b->layers[i];
        max_layers += most;
        n_in = b->n[SPACE_WIDTH];
        for (int i = 0; i < n_in; i++)
            in_w[i] = block_out(b, i);
    }
    if (max_layers > ARCH_MAX_LAYERS)
        return hw_error(err, HW_EINVAL, "%s: blocks: up to %d layers, more than %d", src,
                        max_layers, ARCH_MAX_LAYERS);
    if ((rc = check_head_options(&s->head, src, err)))
        return rc;
    for (int t = 0; t < space_head_token0(s); t++)
        snprintf(s->token_names[t], sizeof s->token_names[t], "b%d.%s", t / SPACE_N_CHOICES,
                 choice_names[t % SPACE_N_CHOICES]);
    int t = space_head_token0(s);
    if (s->head.n_conv)
        snprintf(s->token_names[t++], sizeof s->token_names[0], "head.conv_out");
    if (s->head.n_fc)
        snprintf(s->token_names[t], sizeof s->token_names[0], "head.fc_hidden");
    return HW_OK;
}

static int space_from_json(const cJSON *root, const char *src, struct space *out,
                           struct hw_err *err)
{
    struct jfield_ctx c = {src, err};
    struct space *s = calloc(1, sizeof *s);
    if (!s)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", src);
    int version = 0, rc;
    const cJSON *input = NULL, *stem = NULL, *head = NULL, *blocks = NULL, *head_opts = NULL;
    const struct jfield top[] = {
        {.key = "version", .type = JF_INT, .dest = &version, .lo = 0, .hi = 1e9},
        {.key = "name", .type = JF_STRING, .dest = s->name, .hi = sizeof s->name},
        {.key = "input", .type = JF_OBJECT, .dest = &input},
        {.key = "classes", .type = JF_INT, .dest = &s->base.classes, .lo = 2,
         .hi = ARCH_MAX_CLASSES},
        {.key = "stem", .type = JF_OBJECT, .dest = &stem},
        {.key = "head", .type = JF_OBJECT, .dest = &head},
        {.key = "blocks", .type = JF_ARRAY, .dest = &blocks, .lo = 1, .hi = SPACE_MAX_BLOCKS},
        {.key = "head_options", .type = JF_OBJECT, .dest = &head_opts, .optional = 1},
        {0},
    };
    if ((rc = jfield_read_object(&c, root, "", top)))
        goto done;
    if (version != SPACE_VERSION) {
        rc = hw_error(err, HW_EINVAL, "%s: version: %d is not supported (this hwnas reads %d)",
                      src, version, SPACE_VERSION);
        goto done;
    }
    if ((rc = arch_json_read_input(&c, input, "input", &s->base)) ||
        (rc = arch_json_read_stem(&c, stem, "stem", &s->base.stem)) ||
        (rc = arch_json_read_head(&c, head, "head", &s->base.head)) ||
        (head_opts && (rc = read_head_options(&c, head_opts, &s->head))))
        goto done;
    memcpy(s->base.name, s->name, sizeof s->name);
    for (const cJSON *it = blocks->child; it; it = it->next, s->n_blocks++) {
        char p[JFIELD_PATH_MAX];
        snprintf(p, sizeof p, "blocks[%d]", s->n_blocks);
        if ((rc = read_block(&c, it, p, &s->blocks[s->n_blocks])))
            goto done;
    }
    if ((rc = check_space(s, src, err)) == HW_OK)
        *out = *s;
done:
    free(s);
    return rc;
}

int space_from_json_string(const char *text, const char *source, struct space *out,
                           struct hw_err *err)
{
    struct jfield_ctx c = {source, err};
    cJSON *root;
    int rc = jfield_parse(&c, text, &root);
    if (rc)
        return rc;
    rc = space_from_json(root, source, out, err);
    cJSON_Delete(root);
    return rc;
}

int space_load(const char *path, struct space *out, struct hw_err *err)
{
    char *text;
    int rc = jfield_read_file(path, &text, err);
    if (rc)
        return rc;
    rc = space_from_json_string(text, path, out, err);
    free(text);
    return rc;
}

const char *space_builtin_text(const char *name)
{
    const char *texts[] = {hwnas_space_json_fmnist, hwnas_space_json_mbv3_224};
    for (int i = 0; builtin_names[i]; i++)
        if (strcmp(name, builtin_names[i]) == 0)
            return texts[i];
    return NULL;
}

int space_load_builtin(const char *name, struct space *out, struct hw_err *err)
{
    const char *text = space_builtin_text(name);
    if (text) {
        char src[96];
        snprintf(src, sizeof src, "spaces/%s.json (built in)", name);
        return space_from_json_string(text, src, out, err);
    }
    return hw_error(err, HW_ENOTFOUND, "%s: not a shipped space (fmnist, mbv3-224) nor a "
                    "space JSON file", name);
}

int space_resolve(const char *name_or_file, struct space *out, struct hw_err *err)
{
    for (int i = 0; builtin_names[i]; i++)
        if (strcmp(name_or_file, builtin_names[i]) == 0)
            return space_load_builtin(name_or_file, out, err);
    FILE *f = fopen(name_or_file, "rb");
    if (!f)
        return space_load_builtin(name_or_file, out, err); /* names the shipped spaces */
    fclose(f);
    return space_load(name_or_file, out, err);
}

int space_head_token0(const struct space *s)
{
    return s->n_blocks * SPACE_N_CHOICES;
}

int space_n_tokens(const struct space *s)
{
    return space_head_token0(s) + (s->head.n_conv > 0) + (s->head.n_fc > 0);
}

int space_token_choices(const struct space *s, int t)
{
    int h = t - space_head_token0(s);
    if (h < 0)
        return s->blocks[t / SPACE_N_CHOICES].n[t % SPACE_N_CHOICES];
    return h == 0 && s->head.n_conv ? s->head.n_conv : s->head.n_fc;
}

/* The base head with option ci of conv_out and fi of fc_hidden (each
 * ignored when that width is not searched). */
static struct arch_head head_at(const struct space *s, int ci, int fi)
{
    struct arch_head h = s->base.head;
    if (s->head.n_conv)
        h.conv_out = s->head.conv_out[ci];
    if (s->head.n_fc)
        h.fc_hidden = s->head.fc_hidden[fi];
    return h;
}

/* The head that the head tokens tok (from space_head_token0) choose. */
static struct arch_head head_of(const struct space *s, const int *tok)
{
    int ci = s->head.n_conv ? *tok++ : 0;
    return head_at(s, ci, s->head.n_fc ? *tok : 0);
}

const char *space_token_name(const struct space *s, int t)
{
    return s->token_names[t];
}

int space_decode(const struct space *s, const int *tokens, struct arch *out, struct hw_err *err)
{
    for (int t = 0; t < space_n_tokens(s); t++)
        if (tokens[t] < 0 || tokens[t] >= space_token_choices(s, t))
            return hw_error(err, HW_EINVAL, "%s: token %d (%s): %d is not in [0, %d)", s->name,
                            t, s->token_names[t], tokens[t], space_token_choices(s, t));
    struct arch a = s->base;
    int in = a.stem.out;
    for (int bi = 0; bi < s->n_blocks; bi++) {
        const struct space_block *b = &s->blocks[bi];
        const int *tok = tokens + bi * SPACE_N_CHOICES;
        int out = block_out(b, tok[SPACE_WIDTH]);
        for (int r = 0; r < b->layers[tok[SPACE_LAYERS]]; r++) {
            int lin = r == 0 ? in : out;
            a.layers[a.n_layers++] = (struct arch_layer){
                .k = b->kernel[tok[SPACE_KERNEL]],
                .stride = r == 0 ? b->stride : 1,
                .in = lin,
                .mid = layer_mid(lin, b->expansion[tok[SPACE_EXPANSION]]),
                .out = out,
                .se = b->se[tok[SPACE_SE]],
                .act = b->act[tok[SPACE_ACT]],
            };
        }
        in = out;
    }
    a.head = head_of(s, tokens + space_head_token0(s));
    int rc = arch_validate(&a, s->name, err);
    if (rc == HW_OK)
        *out = a;
    return rc;
}

static int not_in_space(const struct space *s, const struct arch *a, struct hw_err *err,
                        const char *fmt, int li, int value)
{
    char what[128];
    snprintf(what, sizeof what, fmt, li, value);
    return hw_error(err, HW_EINVAL, "arch '%s' is not in space %s: %s", a->name, s->name, what);
}

/* Index of option v of choice ch in block b, or -1. */
static int find_option(const struct space_block *b, int ch, double v)
{
    for (int i = 0; i < b->n[ch]; i++)
        if (option_value(b, ch, i) == v)
            return i;
    return -1;
}

static int find_int(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return i;
    return -1;
}

static int encode_block(const struct space *s, const struct arch *a, int bi, int *li,
                        int *tok, struct hw_err *err)
{
    const struct space_block *b = &s->blocks[bi];
    int first = *li;
    if (first >= a->n_layers)
        return not_in_space(s, a, err, "layers: %d layers end before block %d", a->n_layers, bi);
    const struct arch_layer *l0 = &a->layers[first];
    if (l0->stride != b->stride)
        return not_in_space(s, a, err, "layers[%d].stride: %d is not the block's stride",
                            first, l0->stride);
    int n = 1;
    while (first + n < a->n_layers && a->layers[first + n].stride == 1 &&
           a->layers[first + n].in == l0->out && a->layers[first + n].out == l0->out)
        n++;
    if ((tok[SPACE_LAYERS] = find_option(b, SPACE_LAYERS, n)) < 0)
        return not_in_space(s, a, err, "layers[%d]: a block of %d layers is not an option",
                            first, n);
    tok[SPACE_WIDTH] = -1;
    for (int w = 0; w < b->n[SPACE_WIDTH]; w++)
        if (block_out(b, w) == l0->out)
            tok[SPACE_WIDTH] = w;
    if (tok[SPACE_WIDTH] < 0)
        return not_in_space(s, a, err, "layers[%d].out: %d is not a width option", first,
                            l0->out);
    if ((tok[SPACE_KERNEL] = find_option(b, SPACE_KERNEL, l0->k)) < 0)
        return not_in_space(s, a, err, "layers[%d].k: %d is not a kernel option", first, l0->k);
    if ((tok[SPACE_SE] = find_option(b, SPACE_SE, l0->se)) < 0)
        return not_in_space(s, a, err, "layers[%d].se: %d is not an SE option", first, l0->se);
    if ((tok[SPACE_ACT] = find_option(b, SPACE_ACT, l0->act)) < 0)
        return not_in_space(s, a, err, "layers[%d].act: %d is not an activation option", first,
                            (int)l0->act);
    tok[SPACE_EXPANSION] = -1;
    for (int e = 0; e < b->n[SPACE_EXPANSION]; e++)
        if (layer_mid(l0->in, b->expansion[e]) == l0->mid)
            tok[SPACE_EXPANSION] = e;
    if (tok[SPACE_EXPANSION] < 0)
        return not_in_space(s, a, err, "layers[%d].mid: %d is not an expansion option", first,
                            l0->mid);
    *li = first + n;
    return HW_OK;
}

int space_encode(const struct space *s, const struct arch *a, int *tokens, struct hw_err *err)
{
    int rc = arch_validate(a, a->name[0] ? a->name : "arch", err);
    if (rc)
        return rc;
    int *ht = tokens + space_head_token0(s);
    if (s->head.n_conv && (*ht++ = find_int(s->head.conv_out, s->head.n_conv,
                                            a->head.conv_out)) < 0)
        return hw_error(err, HW_EINVAL, "arch '%s' is not in space %s: head.conv_out: %d is not "
                        "a head option", a->name, s->name, a->head.conv_out);
    if (s->head.n_fc && (*ht = find_int(s->head.fc_hidden, s->head.n_fc, a->head.fc_hidden)) < 0)
        return hw_error(err, HW_EINVAL, "arch '%s' is not in space %s: head.fc_hidden: %d is "
                        "not a head option", a->name, s->name, a->head.fc_hidden);
    struct arch base = *a, want = s->base;
    base.n_layers = 0;
    want.head = head_of(s, tokens + space_head_token0(s));
    if (!arch_equal(&base, &want))
        return hw_error(err, HW_EINVAL, "arch '%s' is not in space %s: its input, stem, head or "
                        "classes differ from the space's", a->name, s->name);
    int li = 0;
    for (int bi = 0; bi < s->n_blocks; bi++)
        if ((rc = encode_block(s, a, bi, &li, tokens + bi * SPACE_N_CHOICES, err)))
            return rc;
    if (li < a->n_layers)
        return not_in_space(s, a, err, "layers[%d]: %d layers beyond the space's blocks", li,
                            a->n_layers - li);
    /* The first layer of each block fixed the tokens; decoding them checks
     * every repeat (kernel, mid, SE, act) against the block's choice. */
    struct arch back;
    if ((rc = space_decode(s, tokens, &back, err)))
        return rc;
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *x = &a->layers[i], *y = &back.layers[i];
        const char *field = x->k != y->k ? "k" : x->mid != y->mid ? "mid"
                            : x->se != y->se ? "se" : x->act != y->act ? "act" : NULL;
        if (field) {
            char fmt[96];
            snprintf(fmt, sizeof fmt, "layers[%%d].%s: %%d differs from its block's first layer",
                     field);
            int v = field[0] == 'k' ? x->k : field[0] == 'm' ? x->mid
                    : field[0] == 's' ? x->se : (int)x->act;
            return not_in_space(s, a, err, fmt, i, v);
        }
    }
    return HW_OK;
}

void space_sample(const struct space *s, struct pcg32 *rng, int *tokens)
{
    for (int t = 0; t < space_n_tokens(s); t++)
        tokens[t] = (int)pcg32_bounded(rng, (uint32_t)space_token_choices(s, t));
}

/* Cost of block b at input h x w with `in` channels for options e, k, se, n
 * layers and width w (the activation does not change costs). */
static struct arch_cost block_cost(const struct space_block *b, int h, int w, int in,
                                   const int *opt)
{
    struct arch_cost sum = {0, 0};
    int out = block_out(b, opt[SPACE_WIDTH]);
    for (int r = 0; r < b->layers[opt[SPACE_LAYERS]]; r++) {
        int lin = r ? out : in;
        struct arch_layer l = {b->kernel[opt[SPACE_KERNEL]], r ? 1 : b->stride, lin,
                               layer_mid(lin, b->expansion[opt[SPACE_EXPANSION]]), out,
                               b->se[opt[SPACE_SE]], ARCH_ACT_RELU};
        struct arch_cost c = arch_cost_layer(&l, h, w);
        sum.params += c.params;
        sum.macs += c.macs;
        h = arch_conv_out_size(h, l.k, l.stride);
        w = arch_conv_out_size(w, l.k, l.stride);
    }
    return sum;
}

/* The extreme (sign +1: max, -1: min) of one metric (0 params, 1 MACs). */
static int64_t cost_extreme(const struct space *s, int metric, int sign)
{
    int64_t best[SPACE_MAX_OPTIONS], next[SPACE_MAX_OPTIONS];
    int in_w[SPACE_MAX_OPTIONS] = {s->base.stem.out}, n_in = 1, h, w;
    struct arch_cost stem = arch_cost_stem(&s->base);
    best[0] = metric ? stem.macs : stem.params;
    arch_layer_input_size(&s->base, 0, &h, &w);
    for (int bi = 0; bi < s->n_blocks; bi++) {
        const struct space_block *b = &s->blocks[bi];
        int have[SPACE_MAX_OPTIONS] = {0}, opt[SPACE_N_CHOICES] = {0};
        for (int p = 0; p < n_in; p++)
            for (opt[SPACE_KERNEL] = 0; opt[SPACE_KERNEL] < b->n[SPACE_KERNEL]; opt[SPACE_KERNEL]++)
            for (opt[SPACE_EXPANSION] = 0; opt[SPACE_EXPANSION] < b->n[SPACE_EXPANSION];
                 opt[SPACE_EXPANSION]++)
            for (opt[SPACE_SE] = 0; opt[SPACE_SE] < b->n[SPACE_SE]; opt[SPACE_SE]++)
            for (opt[SPACE_LAYERS] = 0; opt[SPACE_LAYERS] < b->n[SPACE_LAYERS]; opt[SPACE_LAYERS]++)
            for (int o = 0; o < b->n[SPACE_WIDTH]; o++) {
                opt[SPACE_WIDTH] = o;
                struct arch_cost c = block_cost(b, h, w, in_w[p], opt);
                int64_t v = best[p] + (metric ? c.macs : c.params);
                if (!have[o]++ || (v - next[o]) * sign > 0)
                    next[o] = v;
            }
        n_in = b->n[SPACE_WIDTH];
        for (int o = 0; o < n_in; o++) {
            best[o] = next[o];
            in_w[o] = block_out(b, o);
        }
        h = arch_conv_out_size(h, 3, b->stride);
        w = arch_conv_out_size(w, 3, b->stride);
    }
    int64_t result = 0;
    int first = 1;
    struct arch head = s->base;
    int nc = s->head.n_conv ? s->head.n_conv : 1, nf = s->head.n_fc ? s->head.n_fc : 1;
    for (int ci = 0; ci < nc; ci++)
        for (int fi = 0; fi < nf; fi++) {
            head.head = head_at(s, ci, fi);
            for (int p = 0; p < n_in; p++) {
                struct arch_cost c = arch_cost_head(&head, h, w, in_w[p]);
                int64_t v = best[p] + (metric ? c.macs : c.params);
                if (first || (v - result) * sign > 0)
                    result = v;
                first = 0;
            }
        }
    return result;
}

void space_cost_bounds(const struct space *s, struct arch_cost *min, struct arch_cost *max)
{
    *min = (struct arch_cost){cost_extreme(s, 0, -1), cost_extreme(s, 1, -1)};
    *max = (struct arch_cost){cost_extreme(s, 0, 1), cost_extreme(s, 1, 1)};
}

double space_size(const struct space *s)
{
    double n = 1;
    for (int t = 0; t < space_n_tokens(s); t++)
        n *= space_token_choices(s, t);
    return n;
}

double space_log10_size(const struct space *s)
{
    return log10(space_size(s));
}

uint64_t space_hash(const struct space *s)
{
    /* a searched head width replaces the base's, which then decodes nothing */
    struct arch base = s->base;
    if (s->head.n_conv)
        base.head.conv_out = 0;
    if (s->head.n_fc)
        base.head.fc_hidden = 0;
    uint64_t h = fnv1a64_le(arch_hash(&base), (uint64_t)s->n_blocks, 8);
    for (int bi = 0; bi < s->n_blocks; bi++) {
        const struct space_block *b = &s->blocks[bi];
        h = fnv1a64_le(fnv1a64_le(h, (uint64_t)b->stride, 8), (uint64_t)b->base_width, 8);
        for (int ch = 0; ch < SPACE_N_CHOICES; ch++) {
            h = fnv1a64_le(h, (uint64_t)b->n[ch], 8);
            /* options to 1e-9: a multiplier's last bits from another parse
             * do not make another space */
            for (int i = 0; i < b->n[ch]; i++)
                h = fnv1a64_le(h, (uint64_t)llround(option_value(b, ch, i) * 1e9), 8);
        }
    }
    /* only when searched, so spaces from before head_options keep their hash */
    if (s->head.n_conv || s->head.n_fc) {
        h = fnv1a64_le(fnv1a64_le(h, (uint64_t)s->head.n_conv, 8), (uint64_t)s->head.n_fc, 8);
        for (int i = 0; i < s->head.n_conv; i++)
            h = fnv1a64_le(h, (uint64_t)s->head.conv_out[i], 8);
        for (int i = 0; i < s->head.n_fc; i++)
            h = fnv1a64_le(h, (uint64_t)s->head.fc_hidden[i], 8);
    }
    return h;
}
