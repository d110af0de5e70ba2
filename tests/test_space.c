#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/arch.h"
#include "space/arch_json.h"
#include "space/export.h"
#include "space/refs.h"
#include "space/space.h"
#include "tests/cli_run.h"

static struct arch ref(const char *name)
{
    struct arch a;
    struct hw_err err;
    ck_assert_msg(arch_reference(name, NULL, &a, &err) == HW_OK, "%s", err.msg);
    return a;
}

static struct space shipped(const char *name)
{
    struct space s;
    struct hw_err err;
    ck_assert_msg(space_load_builtin(name, &s, &err) == HW_OK, "%s", err.msg);
    return s;
}

/* Copies text with the first `from` replaced by `to` (from must occur). */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "test bug: '%s' not in the base text", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return s;
}

/* Every expected fragment must appear in msg. */
static void assert_has(const char *msg, const char *const *want)
{
    for (int i = 0; want[i]; i++)
        ck_assert_msg(strstr(msg, want[i]) != NULL, "message '%s' lacks '%s'", msg, want[i]);
}

/* ---- arch_cost ---- */

START_TEST(test_cost_reference_totals)
{
    /* torchvision's published parameter counts and its MAC ("GFLOPS") figures,
     * and DESIGN.md's fmnist-ref. */
    static const struct {
        const char *name;
        long long params, macs;
    } want[] = {
        {"mobilenetv3-large", 5483032, 216589760},
        {"mobilenetv3-small", 2542856, 56510400},
        {"mobilenetv2", 3504872, 300774272},
        /* fmnist-ref's SE squeezes 72 -> 16 (explicit sq, the anchor's rule),
         * not torchvision's 24. */
        {"fmnist-ref", 546322, 6776864},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct arch a = ref(want[i].name);
        struct arch_cost c = arch_cost(&a);
        ck_assert_msg(c.params == want[i].params, "%s params %lld", want[i].name,
                      (long long)c.params);
        ck_assert_msg(c.macs == want[i].macs, "%s macs %lld", want[i].name, (long long)c.macs);
    }
}
END_TEST

START_TEST(test_cost_parts_sum)
{
    /* Stem + layers + head parts == total, and a hand-computed layer. */
    struct arch a = ref("fmnist-ref");
    struct arch_cost sum = arch_cost_stem(&a);
    int h, w;
    for (int i = 0; i < a.n_layers; i++) {
        arch_layer_input_size(&a, i, &h, &w);
        struct arch_cost c = arch_cost_layer(&a.layers[i], h, w);
        sum.params += c.params;
        sum.macs += c.macs;
    }
    arch_layer_input_size(&a, a.n_layers, &h, &w);
    ck_assert_int_eq(h, 4);
    ck_assert_int_eq(arch_head_in(&a), 80);
    struct arch_cost hc = arch_cost_head(&a, h, w, arch_head_in(&a));
    ck_assert_int_eq(sum.params + hc.params, arch_cost(&a).params);
    ck_assert_int_eq(sum.macs + hc.macs, arch_cost(&a).macs);
    /* layers[1]: 28x28x16 -> expand 64, dw 3x3 s2 -> 14x14, project 24. */
    struct arch_cost c = arch_cost_layer(&a.layers[1], 28, 28);
    ck_assert_int_eq(c.macs, 784 * 16 * 64 + 196 * 9 * 64 + 196 * 64 * 24);
    ck_assert_int_eq(c.params, 16 * 64 + 128 + 9 * 64 + 128 + 64 * 24 + 48);
}
END_TEST

/* ---- arch_validate, arch_hash, arch_equal ---- */

START_TEST(test_validate_refusals)
{
    struct hw_err err;
    struct arch a = ref("fmnist-ref");
    a.layers[3].in = 32;
    ck_assert_int_eq(arch_validate(&a, "x.json", &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"x.json", "layers[3].in", "32", "24", NULL});
    a = ref("fmnist-ref");
    a.layers[2].k = 4;
    ck_assert_int_eq(arch_validate(&a, "x.json", &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"layers[2].k: 4 is not one of 3, 5, 7", NULL});
    a = ref("fmnist-ref");
    a.head.dropout = 1.0f;
    ck_assert_int_eq(arch_validate(&a, "x.json", &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"head.dropout: 1", NULL});
    a = ref("fmnist-ref");
    a.n_layers = ARCH_MAX_LAYERS + 1;
    ck_assert_int_eq(arch_validate(&a, "x.json", &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"layers: 65 is out of range", NULL});
}
END_TEST

START_TEST(test_hash_equal)
{
    struct arch a = ref("mobilenetv3-large"), b = a;
    snprintf(b.name, sizeof b.name, "renamed");
    ck_assert(arch_equal(&a, &b));
    ck_assert_uint_eq(arch_hash(&a), arch_hash(&b));
    b.layers[7].mid += 8;
    ck_assert(!arch_equal(&a, &b));
    ck_assert_uint_ne(arch_hash(&a), arch_hash(&b));
    b = a;
    b.head.dropout = 0.1f;
    ck_assert(!arch_equal(&a, &b));
    ck_assert_uint_ne(arch_hash(&a), arch_hash(&b));
    /* FNV-1a 64 of nothing is the offset basis; of one field it is fixed. */
    struct arch s = ref("mobilenetv3-small");
    ck_assert_uint_ne(arch_hash(&a), arch_hash(&s));
}
END_TEST

/* ---- arch JSON ---- */

static const char arch_base[] =
    "{\"version\":1,\"name\":\"t\",\"input\":{\"h\":28,\"w\":28,\"c\":1},\"classes\":10,"
    "\"stem\":{\"k\":3,\"stride\":1,\"out\":16,\"act\":\"hswish\"},"
    "\"layers\":[{\"k\":3,\"stride\":1,\"in\":16,\"mid\":16,\"out\":16,\"se\":true,\"act\":\"relu\"},"
    "{\"k\":5,\"stride\":2,\"in\":16,\"mid\":64,\"out\":24,\"se\":false,\"act\":\"hswish\"}],"
    "\"head\":{\"conv_out\":384,\"conv_act\":\"hswish\",\"fc_hidden\":0,\"fc_act\":\"relu\","
    "\"dropout\":0.2}}";

START_TEST(test_arch_json_round_trip)
{
    struct hw_err err;
    struct arch back;
    ck_assert_msg(arch_from_json_string(arch_base, "base", &back, &err) == HW_OK, "%s", err.msg);
    ck_assert_int_eq(back.n_layers, 2);
    ck_assert_int_eq(back.layers[1].mid, 64);
    for (const char *const *n = arch_reference_names(); *n; n++) {
        struct arch a = ref(*n);
        char *text = arch_to_json_string(&a);
        ck_assert_ptr_nonnull(text);
        ck_assert_msg(arch_from_json_string(text, *n, &back, &err) == HW_OK, "%s", err.msg);
        ck_assert(arch_equal(&a, &back));
        ck_assert_str_eq(a.name, back.name);
        ck_assert(back.head.dropout == 0.2f);
        free(text);
    }
}
END_TEST

START_TEST(test_arch_json_refusals)
{
    static const struct {
        const char *from, *to;
        const char *want[4];
    } cases[] = {
        {"\"k\":5,", "\"k\":4,", {"net.json: layers[1].k: 4 is not one of 3, 5, 7"}},
        {"\"in\":16,\"mid\":64", "\"in\":24,\"mid\":64",
         {"layers[1].in: 24 does not match the previous output 16"}},
        {"\"version\":1", "\"version\":2", {"version: 2 is not supported"}},
        {"\"classes\":10", "\"classes\":\"10\"", {"classes: expected an integer, got a string"}},
        {"\"se\":true", "\"se\":1", {"layers[0].se: expected true or false, got a number"}},
        {"\"act\":\"relu\"}", "\"act\":\"gelu\"}", {"layers[0].act: 'gelu' is not one of"}},
        {"\"dropout\":0.2", "\"dropout\":0.2,\"drop\":1", {"head.drop: unknown key"}},
        {"\"stride\":2", "\"stride\":3", {"layers[1].stride: 3 is not one of 1, 2"}},
        {"\"mid\":64", "\"mid\":0", {"layers[1].mid: 0 is out of range [1, 16384]"}},
        {"\"classes\":10,", "", {"net.json: classes: missing"}},
        {"\"h\":28", "\"h\":28.5", {"input.h: 28.5 is not an integer"}},
        {"\"classes\":10", "\"classes\":10,\"classes\":10", {"classes: duplicate key"}},
        {"\"stem\":{\"k\":3", "\"stem\":{\"k\":1", {"stem.k: 1 is not one of 3, 5, 7"}},
        {"\"dropout\":0.2", "\"dropout\":1", {"head.dropout: 1 is out of range [0, 0.99]"}},
        {"\"input\":{\"h\":28,\"w\":28,\"c\":1}", "\"input\":[28,28,1]",
         {"net.json: input: expected an object, got an array"}},
        {"}}", "}", {"net.json: invalid JSON at byte"}},
        {"{\"version\"", "[{\"version\"", {"net.json: invalid JSON"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = replaced(arch_base, cases[i].from, cases[i].to);
        struct arch a;
        struct hw_err err;
        ck_assert_msg(arch_from_json_string(text, "net.json", &a, &err) == HW_EINVAL,
                      "case %zu accepted", i);
        assert_has(err.msg, cases[i].want);
        free(text);
    }
}
END_TEST

/* ---- refs ---- */

START_TEST(test_reference_input_override)
{
    struct hw_err err;
    struct arch a;
    struct arch_input in = {32, 32, 3, 100};
    ck_assert_int_eq(arch_reference("fmnist-ref", &in, &a, &err), HW_OK);
    ck_assert_int_eq(a.in_h, 32);
    ck_assert_int_eq(a.classes, 100);
    in = (struct arch_input){0, 0, 0, 0};
    ck_assert_int_eq(arch_resolve("mobilenetv2", &in, &a, &err), HW_OK);
    ck_assert_int_eq(a.in_h, 224);
    ck_assert_int_eq(arch_resolve("no-such-net", NULL, &a, &err), HW_ENOTFOUND);
    assert_has(err.msg, (const char *[]){"no-such-net", "mobilenetv3-large", NULL});
    in = (struct arch_input){0, 7, 0, 1};
    ck_assert_int_eq(arch_reference("fmnist-ref", &in, &a, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"classes: 1 is out of range", NULL});
}
END_TEST

/* ---- space ---- */

/* Two small blocks: 2*2*2*1*2*1 * 1*2*1*1*2*2 = 128 archs. */
static const char space_base[] =
    "{\"version\":1,\"name\":\"tiny\",\"input\":{\"h\":28,\"w\":28,\"c\":1},\"classes\":10,"
    "\"stem\":{\"k\":3,\"stride\":1,\"out\":16,\"act\":\"hswish\"},"
    "\"head\":{\"conv_out\":64,\"conv_act\":\"hswish\",\"fc_hidden\":0,\"fc_act\":\"relu\","
    "\"dropout\":0},"
    "\"blocks\":[{\"stride\":1,\"width\":16,\"kernel\":[3,5],\"expansion\":[1,3],\"se\":[0,1],"
    "\"act\":[\"relu\"],\"layers\":[1,2],\"width_mult\":[1.0]},"
    "{\"stride\":2,\"width\":24,\"kernel\":[3],\"expansion\":[3,6],\"se\":[0],"
    "\"act\":[\"hswish\"],\"layers\":[1,2],\"width_mult\":[1.0,1.5]}]}";

static struct space tiny(void)
{
    struct space s;
    struct hw_err err;
    ck_assert_msg(space_from_json_string(space_base, "tiny.json", &s, &err) == HW_OK, "%s",
                  err.msg);
    return s;
}

/* tiny with its head searched: 3 conv widths x 2 hidden FCs. */
static struct space tiny_head(void)
{
    char *text = replaced(space_base, "]}]}",
                          "]}],\"head_options\":{\"conv_out\":[64,0,96],\"fc_hidden\":[0,32]}}");
    struct space s;
    struct hw_err err;
    ck_assert_msg(space_from_json_string(text, "tiny-head.json", &s, &err) == HW_OK, "%s",
                  err.msg);
    free(text);
    return s;
}

START_TEST(test_space_load)
{
    struct space s = tiny();
    ck_assert_int_eq(space_n_tokens(&s), 12);
    ck_assert_str_eq(space_token_name(&s, 7), "b1.expansion");
    ck_assert_int_eq(space_token_choices(&s, 11), 2);
    ck_assert(space_size(&s) == 128.0);
    for (const char *const *n = space_builtin_names(); *n; n++) {
        struct space b = shipped(*n);
        ck_assert_str_eq(b.name, *n);
        ck_assert_int_eq(space_n_tokens(&b), b.n_blocks * SPACE_N_CHOICES);
    }
    /* The built-in text equals the file in the repo. */
    const char *root = getenv("HWNAS_ROOT");
    if (root) {
        char path[512];
        struct space f, b = shipped("fmnist");
        struct hw_err err;
        snprintf(path, sizeof path, "%s/spaces/fmnist.json", root);
        ck_assert_msg(space_load(path, &f, &err) == HW_OK, "%s", err.msg);
        ck_assert(f.n_blocks == b.n_blocks && memcmp(f.blocks, b.blocks, sizeof f.blocks) == 0);
    }
}
END_TEST

/* The hash follows every field that changes decoding, and nothing else. */
START_TEST(test_space_hash)
{
    struct space a = tiny(), b = tiny();
    uint64_t h = space_hash(&a);
    ck_assert(h == space_hash(&b));
    snprintf(b.name, sizeof b.name, "renamed");
    ck_assert(h == space_hash(&b));
    static const char *const edits[][2] = {
        {"\"width_mult\":[1.0,1.5]", "\"width_mult\":[1.0,1.25]"},
        {"\"kernel\":[3,5]", "\"kernel\":[3,7]"},
        {"\"expansion\":[3,6]", "\"expansion\":[6,3]"}, /* order: token meaning */
        {"\"layers\":[1,2],\"width_mult\":[1.0]}", "\"layers\":[1],\"width_mult\":[1.0]}"},
        {"\"stride\":2,\"width\":24", "\"stride\":1,\"width\":24"},
        {"\"out\":16", "\"out\":8"},
        {"\"conv_out\":64", "\"conv_out\":32"},
        {"\"h\":28", "\"h\":32"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *text = replaced(space_base, edits[i][0], edits[i][1]);
        struct space c;
        struct hw_err err;
        ck_assert_msg(space_from_json_string(text, "edit.json", &c, &err) == HW_OK, "%s: %s",
                      edits[i][1], err.msg);
        ck_assert_msg(space_hash(&c) != h, "edit %zu (%s) kept the hash", i, edits[i][1]);
        free(text);
    }
    ck_assert(space_hash(&a) != space_hash((struct space[]){shipped("fmnist")}));
}
END_TEST

START_TEST(test_space_json_refusals)
{
    static const struct {
        const char *from, *to;
        const char *want[4];
    } cases[] = {
        {"\"kernel\":[3,5]", "\"kernel\":[3,4]", {"sp.json: blocks[0].kernel[1]: 4 is not one of"}},
        {"\"kernel\":[3,5]", "\"kernel\":[3,3]", {"blocks[0].kernel[1]: 3 repeats option 0"}},
        {"\"width_mult\":[1.0,1.5]", "\"width_mult\":[1.0,1.05]",
         {"blocks[1].width_mult[1]: 1.05 gives 24 channels, as width_mult[0] does"}},
        {"\"expansion\":[3,6]", "\"expansion\":[3,3.1]",
         {"blocks[1].expansion[1]: 3.1 gives the same mid (48)"}},
        {"\"layers\":[1,2]", "\"layers\":[]", {"blocks[0].layers: 0 items, expected 1 to 8"}},
        {"\"blocks\"", "\"block\"", {"block: unknown key"}},
        {"{\"stride\":2,\"width\":24", "{\"stride\":1,\"width\":16",
         {"blocks[1].width_mult[0]", "must not share a width (16)"}},
        {"\"se\":[0,1]", "\"se\":[0,2]", {"blocks[0].se[1]: 2 is out of range [0, 1]"}},
        {"\"act\":[\"relu\"]", "\"act\":\"relu\"", {"blocks[0].act: expected an array"}},
        {"\"version\":1", "\"version\":3", {"version: 3 is not supported"}},
        {"\"layers\":[1,2]", "\"layers\":[1,64]", {"blocks: up to 66 layers, more than 64"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = replaced(space_base, cases[i].from, cases[i].to);
        struct space s;
        struct hw_err err;
        ck_assert_msg(space_from_json_string(text, "sp.json", &s, &err) == HW_EINVAL,
                      "case %zu accepted", i);
        assert_has(err.msg, cases[i].want);
        free(text);
    }
    struct space s;
    struct hw_err err;
    ck_assert_int_eq(space_resolve("nope", &s, &err), HW_ENOTFOUND);
    assert_has(err.msg, (const char *[]){"nope", "fmnist", NULL});
}
END_TEST

START_TEST(test_space_decode_encode)
{
    static const char *const names[] = {"fmnist", "mbv3-224"};
    for (int k = 0; k < 2; k++) {
        struct space s = shipped(names[k]);
        struct pcg32 rng;
        pcg32_seed(&rng, 11, 3);
        int tok[SPACE_MAX_TOKENS], back[SPACE_MAX_TOKENS];
        for (int i = 0; i < 300; i++) {
            struct arch a, b;
            struct hw_err err;
            space_sample(&s, &rng, tok);
            ck_assert_msg(space_decode(&s, tok, &a, &err) == HW_OK, "%s", err.msg);
            ck_assert_msg(space_encode(&s, &a, back, &err) == HW_OK, "%s", err.msg);
            ck_assert(memcmp(tok, back, sizeof tok[0] * (size_t)space_n_tokens(&s)) == 0);
            ck_assert_int_eq(space_decode(&s, back, &b, &err), HW_OK);
            ck_assert(arch_equal(&a, &b));
        }
    }
    /* Decoding by hand: tiny with all tokens 1 except layers 0. */
    struct space t = tiny();
    int tok[12] = {1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1};
    struct arch a;
    struct hw_err err;
    ck_assert_int_eq(space_decode(&t, tok, &a, &err), HW_OK);
    ck_assert_int_eq(a.n_layers, 3);
    ck_assert(a.layers[0].k == 5 && a.layers[0].mid == 48 && a.layers[0].se == 1);
    ck_assert(a.layers[1].in == 16 && a.layers[1].mid == 48 && a.layers[1].stride == 1);
    ck_assert(a.layers[2].out == 40 && a.layers[2].mid == 96 && a.layers[2].stride == 2);
    tok[4] = 2;
    ck_assert_int_eq(space_decode(&t, tok, &a, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"token 4 (b0.layers): 2 is not in [0, 2)", NULL});
}
END_TEST

START_TEST(test_space_encode_refusals)
{
    struct space s = shipped("fmnist");
    struct arch a = ref("fmnist-ref");
    int tok[SPACE_MAX_TOKENS];
    struct hw_err err;
    /* fmnist-ref itself differs in one mid (layers[2]: 72; the space's e4 gives 96). */
    ck_assert_int_eq(space_encode(&s, &a, tok, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"not in space fmnist", "layers[2].mid: 72", NULL});
    a.layers[2].mid = 96;
    ck_assert_msg(space_encode(&s, &a, tok, &err) == HW_OK, "%s", err.msg);
    a.layers[5].k = 3;
    ck_assert_int_eq(space_encode(&s, &a, tok, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"layers[6].k: 5 differs", NULL});
    a = ref("fmnist-ref");
    a.layers[2].mid = 96;
    a.head.conv_out = 256;
    ck_assert_int_eq(space_encode(&s, &a, tok, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"stem, head or classes differ", NULL});
}
END_TEST

START_TEST(test_space_sample_deterministic)
{
    struct space s = shipped("fmnist");
    struct pcg32 r1, r2, r3;
    pcg32_seed(&r1, 5, 1);
    pcg32_seed(&r2, 5, 1);
    pcg32_seed(&r3, 6, 1);
    int a[SPACE_MAX_TOKENS], b[SPACE_MAX_TOKENS], c[SPACE_MAX_TOKENS];
    int n = space_n_tokens(&s), differ = 0;
    for (int i = 0; i < 20; i++) {
        space_sample(&s, &r1, a);
        space_sample(&s, &r2, b);
        space_sample(&s, &r3, c);
        ck_assert(memcmp(a, b, sizeof a[0] * (size_t)n) == 0);
        differ += memcmp(a, c, sizeof a[0] * (size_t)n) != 0;
        for (int t = 0; t < n; t++)
            ck_assert(a[t] >= 0 && a[t] < space_token_choices(&s, t));
    }
    ck_assert_int_gt(differ, 15);
}
END_TEST

START_TEST(test_space_cost_bounds)
{
    /* Against brute force over all archs of the tiny space (_i 1: with its
     * head searched). */
    struct space s = _i ? tiny_head() : tiny();
    struct arch_cost lo, hi, blo = {INT64_MAX, INT64_MAX}, bhi = {0, 0};
    int tok[SPACE_MAX_TOKENS], nt = space_n_tokens(&s);
    for (int code = 0; code < (int)space_size(&s); code++) {
        int c = code;
        for (int t = 0; t < nt; t++) {
            tok[t] = c % space_token_choices(&s, t);
            c /= space_token_choices(&s, t);
        }
        struct arch a;
        struct hw_err err;
        ck_assert_int_eq(space_decode(&s, tok, &a, &err), HW_OK);
        struct arch_cost k = arch_cost(&a);
        blo.params = k.params < blo.params ? k.params : blo.params;
        blo.macs = k.macs < blo.macs ? k.macs : blo.macs;
        bhi.params = k.params > bhi.params ? k.params : bhi.params;
        bhi.macs = k.macs > bhi.macs ? k.macs : bhi.macs;
    }
    space_cost_bounds(&s, &lo, &hi);
    ck_assert_int_eq(lo.params, blo.params);
    ck_assert_int_eq(lo.macs, blo.macs);
    ck_assert_int_eq(hi.params, bhi.params);
    ck_assert_int_eq(hi.macs, bhi.macs);
    /* DESIGN.md: the fmnist space spans at least 10x. */
    struct space f = shipped("fmnist");
    space_cost_bounds(&f, &lo, &hi);
    ck_assert_int_ge(hi.macs, 10 * lo.macs);
}
END_TEST

/* A searched head: its tokens, decoding, encoding, refusals and hash. */
START_TEST(test_space_head_options)
{
    struct space s = tiny_head(), t = tiny();
    ck_assert_int_eq(space_n_tokens(&s), 14);
    ck_assert_int_eq(space_head_token0(&s), 12);
    ck_assert_str_eq(space_token_name(&s, 12), "head.conv_out");
    ck_assert_str_eq(space_token_name(&s, 13), "head.fc_hidden");
    ck_assert_int_eq(space_token_choices(&s, 12), 3);
    ck_assert_int_eq(space_token_choices(&s, 13), 2);
    ck_assert(space_size(&s) == 128.0 * 6);
    ck_assert(space_hash(&s) != space_hash(&t));
    static const int conv[] = {64, 0, 96}, fc[] = {0, 32};
    int tok[SPACE_MAX_TOKENS] = {0}, back[SPACE_MAX_TOKENS];
    struct hw_err err;
    for (int c = 0; c < 3; c++)
        for (int f = 0; f < 2; f++) {
            struct arch a;
            tok[12] = c;
            tok[13] = f;
            ck_assert_msg(space_decode(&s, tok, &a, &err) == HW_OK, "%s", err.msg);
            ck_assert_int_eq(a.head.conv_out, conv[c]);
            ck_assert_int_eq(a.head.fc_hidden, fc[f]);
            ck_assert_int_eq(a.head.conv_act, t.base.head.conv_act); /* the rest stays */
            ck_assert_msg(space_encode(&s, &a, back, &err) == HW_OK, "%s", err.msg);
            ck_assert(memcmp(tok, back, sizeof tok[0] * 14) == 0);
        }
    struct arch a;
    ck_assert_int_eq(space_decode(&s, tok, &a, &err), HW_OK);
    a.head.conv_out = 80;
    ck_assert_int_eq(space_encode(&s, &a, back, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"not in space tiny", "head.conv_out: 80", NULL});
    a.head.conv_out = 96;
    a.head.fc_hidden = 16;
    ck_assert_int_eq(space_encode(&s, &a, back, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"head.fc_hidden: 16 is not a head option", NULL});
    a.head.fc_hidden = 32;
    a.head.conv_act = ARCH_ACT_RELU;
    ck_assert_int_eq(space_encode(&s, &a, back, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"head or classes differ", NULL});
    /* one field alone: its token alone, decoded and encoded back */
    for (int f = 0; f < 2; f++) {
        char *one = replaced(space_base, "]}]}", f ? "]}],\"head_options\":{\"fc_hidden\":[0,32]}}"
                                                   : "]}],\"head_options\":{\"conv_out\":[0,96]}}");
        struct space u;
        ck_assert_int_eq(space_from_json_string(one, "h.json", &u, &err), HW_OK);
        ck_assert_int_eq(space_n_tokens(&u), 13);
        ck_assert_str_eq(space_token_name(&u, 12), f ? "head.fc_hidden" : "head.conv_out");
        int ut[SPACE_MAX_TOKENS] = {0}, ub[SPACE_MAX_TOKENS];
        ut[12] = 1;
        struct arch x;
        ck_assert_int_eq(space_decode(&u, ut, &x, &err), HW_OK);
        ck_assert_int_eq(f ? x.head.fc_hidden : x.head.conv_out, f ? 32 : 96);
        ck_assert_int_eq(f ? x.head.conv_out : x.head.fc_hidden, f ? 64 : 0); /* the base's */
        ck_assert_int_eq(space_encode(&u, &x, ub, &err), HW_OK);
        ck_assert(memcmp(ut, ub, sizeof ut[0] * 13) == 0);
        free(one);
    }
    /* the head tokens decode out of range like any other */
    tok[13] = 2;
    ck_assert_int_eq(space_decode(&s, tok, &a, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"token 13 (head.fc_hidden): 2 is not in [0, 2)", NULL});
    /* one field alone gives one token; a repeat or an unknown field is refused */
    static const struct {
        const char *opts, *want;
        int n_tokens;
    } cases[] = {
        {"{\"fc_hidden\":[0,32]}", NULL, 13},
        {"{}", NULL, 12},
        {"{\"conv_out\":[64,64]}", "head_options.conv_out[1]: 64 repeats option 0", 0},
        {"{\"fc\":[8]}", "head_options.fc: unknown key", 0},
        {"{\"conv_out\":[-8]}", "head_options.conv_out[0]: -8 is out of range", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char to[128];
        snprintf(to, sizeof to, "]}],\"head_options\":%s}", cases[i].opts);
        char *text = replaced(space_base, "]}]}", to);
        struct space u;
        int rc = space_from_json_string(text, "h.json", &u, &err);
        if (cases[i].want) {
            ck_assert_msg(rc == HW_EINVAL, "case %zu accepted", i);
            assert_has(err.msg, (const char *[]){"h.json", cases[i].want, NULL});
        } else {
            ck_assert_msg(rc == HW_OK, "case %zu: %s", i, err.msg);
            ck_assert_int_eq(space_n_tokens(&u), cases[i].n_tokens);
        }
        free(text);
    }
    /* no head_options: the hash is the one of a space that never had them */
    char *text = replaced(space_base, "]}]}", "]}],\"head_options\":{}}");
    struct space u;
    ck_assert_int_eq(space_from_json_string(text, "h.json", &u, &err), HW_OK);
    ck_assert(space_hash(&u) == space_hash(&t));
    free(text);
    /* a searched width's base value decodes nothing, so it does not hash */
    text = replaced(space_base, "]}]}",
                    "]}],\"head_options\":{\"conv_out\":[64,0,96],\"fc_hidden\":[0,32]}}");
    char *edited = replaced(text, "\"conv_out\":64,", "\"conv_out\":128,");
    ck_assert_int_eq(space_from_json_string(edited, "h.json", &u, &err), HW_OK);
    ck_assert(space_hash(&u) == space_hash(&s));
    free(edited);
    edited = replaced(text, "\"conv_act\":\"hswish\"", "\"conv_act\":\"relu\"");
    ck_assert_int_eq(space_from_json_string(edited, "h.json", &u, &err), HW_OK);
    ck_assert(space_hash(&u) != space_hash(&s));
    free(edited);
    free(text);
}
END_TEST

/* ---- export ---- */

START_TEST(test_export_round_trip)
{
    /* the lists, and timm's one-line form (which holds no newline) */
    static const struct {
        const char *name;
        int (*put)(const struct arch *, char **, struct hw_err *);
        int (*get)(const char *, const struct arch *, struct arch *, struct hw_err *);
    } fmts[] = {{"timm", arch_to_timm, arch_from_timm},
                {"mnasnet", arch_to_mnasnet, arch_from_mnasnet},
                {"timm line", arch_to_timm_line, arch_from_timm}};
    for (const char *const *n = arch_reference_names(); *n; n++)
        for (int f = 0; f < 3; f++) {
            struct arch a = ref(*n), back;
            struct hw_err err;
            char *text;
            ck_assert_msg(fmts[f].put(&a, &text, &err) == HW_OK, "%s: %s", *n, err.msg);
            ck_assert_msg(fmts[f].get(text, &a, &back, &err) == HW_OK, "%s: %s", *n, err.msg);
            ck_assert_msg(arch_equal(&a, &back), "%s %s: %s", *n, fmts[f].name, text);
            ck_assert_msg(f < 2 || !strchr(text, '\n'), "%s %s: %s", *n, fmts[f].name, text);
            free(text);
        }
    /* Sampled members of both spaces too. */
    struct space s = shipped("mbv3-224");
    struct pcg32 rng;
    pcg32_seed(&rng, 9, 9);
    for (int i = 0; i < 50; i++) {
        int tok[SPACE_MAX_TOKENS];
        struct arch a, back;
        struct hw_err err;
        char *text;
        space_sample(&s, &rng, tok);
        ck_assert_int_eq(space_decode(&s, tok, &a, &err), HW_OK);
        ck_assert_msg(arch_to_timm(&a, &text, &err) == HW_OK, "%s", err.msg);
        ck_assert_int_eq(arch_from_timm(text, &a, &back, &err), HW_OK);
        ck_assert(arch_equal(&a, &back));
        free(text);
    }
}
END_TEST

START_TEST(test_export_timm_reference_strings)
{
    /* timm's own arch_def strings (algorithms.md §1.4) parse to the same
     * networks; blocks without nre take the model's h-swish. */
    static const char large[] =
        "ds_r1_k3_s1_e1_c16_nre | ir_r1_k3_s2_e4_c24_nre, ir_r1_k3_s1_e3_c24_nre | "
        "ir_r3_k5_s2_e3_c40_se0.25_nre | ir_r1_k3_s2_e6_c80, ir_r1_k3_s1_e2.5_c80, "
        "ir_r2_k3_s1_e2.3_c80 | ir_r2_k3_s1_e6_c112_se0.25 | ir_r3_k5_s2_e6_c160_se0.25 | "
        "cn_r1_k1_s1_c960";
    static const char small[] =
        "ds_r1_k3_s2_e1_c16_se0.25_nre | ir_r1_k3_s2_e4.5_c24_nre, ir_r1_k3_s1_e3.67_c24_nre | "
        "ir_r1_k5_s2_e4_c40_se0.25, ir_r2_k5_s1_e6_c40_se0.25 | ir_r2_k5_s1_e3_c48_se0.25 | "
        "ir_r3_k5_s2_e6_c96_se0.25 | cn_r1_k1_s1_c576";
    struct arch a = ref("mobilenetv3-large"), s = ref("mobilenetv3-small"), back;
    struct hw_err err;
    ck_assert_msg(arch_from_timm(large, &a, &back, &err) == HW_OK, "%s", err.msg);
    ck_assert(arch_equal(&a, &back));
    ck_assert_msg(arch_from_timm(small, &s, &back, &err) == HW_OK, "%s", err.msg);
    ck_assert(arch_equal(&s, &back));
    char *text;
    ck_assert_int_eq(arch_to_timm(&a, &text, &err), HW_OK);
    ck_assert_ptr_nonnull(strstr(text, "'ir_r2_k3_s1_e2.3_c80_nhs'"));
    ck_assert_ptr_nonnull(strstr(text, "['cn_r1_k1_s1_c960_nhs']"));
    free(text);
    /* one line: timm's own string, activations spelled out, 3.67 as its
     * shortest equivalent */
    ck_assert_int_eq(arch_to_timm_line(&s, &text, &err), HW_OK);
    ck_assert_str_eq(text, "ds_r1_k3_s2_e1_c16_se0.25_nre | ir_r1_k3_s2_e4.5_c24_nre, "
                           "ir_r1_k3_s1_e3.7_c24_nre | ir_r1_k5_s2_e4_c40_se0.25_nhs, "
                           "ir_r2_k5_s1_e6_c40_se0.25_nhs | ir_r2_k5_s1_e3_c48_se0.25_nhs | "
                           "ir_r3_k5_s2_e6_c96_se0.25_nhs | cn_r1_k1_s1_c576_nhs");
    free(text);
    /* A mid timm cannot reach is refused on export. */
    a.layers[3].mid = 76;
    ck_assert_int_eq(arch_to_timm(&a, &text, &err), HW_EINVAL);
    assert_has(err.msg, (const char *[]){"timm: layers[3].mid: 76", NULL});
}
END_TEST

START_TEST(test_export_refusals)
{
    static const struct {
        int mnasnet;
        const char *text;
        const char *want[4];
    } cases[] = {
        {0, "ds_r1_k3_s1_e1_c16, ir_r1_k4_s2_e4_c24",
         {"timm: offset 20, block 1 'ir_r1_k4_s2_e4_c24'", "k4: kernel is not one of 3, 5, 7"}},
        {0, "xx_r1_k3_s1_c16", {"token 'xx'", "block type must be one of ds, ir, cn"}},
        {0, "ir_r1_k3_s2_c24", {"missing option 'e'"}},
        {0, "ir_r1_k3_s2_e4_c20", {"c20 is not a multiple of 8"}},
        {0, "ir_r1_k3_s2_e4_c24_zz9", {"token 'zz9'", "unknown option"}},
        {0, "ir_r1__k3_s2_e4_c24", {"empty option"}},
        {0, "ir_r1_k3_s2_e4_c24_se1.5", {"se1.5: the squeeze ratio must be in (0, 1]"}},
        {0, "ir_r1_k3_s2_e4_c24 ; x", {"offset 19", "unexpected character (0x3b)"}},
        {0, "ds_r1_k3_s1_e1_c16, cn_r1_k1_s1_c960, ir_r1_k3_s2_e4_c24",
         {"block 2", "a block after the cn head conv"}},
        {0, "ir_r1_k3_s1_e1_c16", {"gives mid == in (16)", "write it as ds"}},
        {0, "ir_r1_k3_s2_e1.2.3_c24", {"token 'e1.2.3'", "not a decimal number"}},
        {0, "ir_r1_k3_s2_k5_e4_c24", {"token 'k5'", "repeats an option"}},
        {1, "r1_k3_s12_e1_i16_o16", {"mnasnet: offset 6, block 0", "token 's12'", "two equal digits"}},
        {1, "r1_k3_s11_e1_i32_o16", {"i32 does not match the previous output 16"}},
        {1, "r1_k3_s11_e1_i16_o16_noskip", {"noskip on a layer with stride 1"}},
        {1, "r1_k3_s11_e6_i16_c16", {"token 'c16'", "unknown option"}},
        {1, "r65_k3_s11_e6_i16_o16", {"r65: repeats must be in [1, 64]"}},
        {1, "r1_k3_s11_e99999999_i16_o16", {"larger than 1000000"}},
    };
    struct arch tmpl = ref("fmnist-ref"), out;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hw_err err;
        int rc = cases[i].mnasnet ? arch_from_mnasnet(cases[i].text, &tmpl, &out, &err)
                                  : arch_from_timm(cases[i].text, &tmpl, &out, &err);
        ck_assert_msg(rc == HW_EINVAL, "case %zu accepted", i);
        assert_has(err.msg, cases[i].want);
    }
}
END_TEST

/* ---- the hwnas space command ---- */

START_TEST(test_cli_show_json_totals)
{
    static const struct {
        const char *name;
        double params, macs;
    } want[] = {{"mobilenetv3-large", 5483032, 216589760},
                {"mobilenetv3-small", 2542856, 56510400},
                {"mobilenetv2", 3504872, 300774272}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char args[128];
        struct cli_run r;
        snprintf(args, sizeof args, "space show %s --json", want[i].name);
        ck_assert_int_eq(cli_run(&r, args), 0);
        ck_assert_msg(r.status == 0, "%s", r.err);
        cJSON *o = cJSON_Parse(r.out);
        ck_assert_ptr_nonnull(o);
        ck_assert(cJSON_GetObjectItem(o, "params")->valuedouble == want[i].params);
        ck_assert(cJSON_GetObjectItem(o, "macs")->valuedouble == want[i].macs);
        struct arch a;
        struct hw_err err;
        ck_assert_int_eq(arch_from_json(cJSON_GetObjectItem(o, "arch"), "out", "arch", &a, &err),
                         HW_OK);
        cJSON_Delete(o);
        cli_run_release(&r);
    }
}
END_TEST

START_TEST(test_cli_space_errors)
{
    static const struct {
        const char *args;
        int status;
        const char *want;
    } cases[] = {
        {"space show no-such-net", 1, "no-such-net: not a reference"},
        {"space show fmnist-ref --format xml", 2, "--format: 'xml' is not one of"},
        {"space show fmnist-ref --input 28x28", 2, "--input: '28x28' is not HxWxC"},
        {"space show fmnist-ref --input 0x28x1", 2, "--input: '0x28x1' is not HxWxC"},
        {"space show fmnist-ref --classes 1", 1, "fmnist-ref: classes: 1 is out of range"},
        {"space show fmnist-ref --size -3", 2, "--size: -3 is not positive"},
        {"space show fmnist-ref --bogus", 2, "unknown flag '--bogus'"},
        {"space info nowhere", 1, "nowhere: not a shipped space"},
        {"space sample fmnist --n 0", 2, "--n: 0 is not in"},
        {"space frobnicate", 2, "unknown subcommand 'frobnicate'"},
        {"space show /tmp/hwnas-test-bad-arch.json", 1,
         "/tmp/hwnas-test-bad-arch.json: layers[1].k: 4 is not one of 3, 5, 7"},
    };
    char *bad = replaced(arch_base, "\"k\":5,", "\"k\":4,");
    FILE *f = fopen("/tmp/hwnas-test-bad-arch.json", "w");
    ck_assert_ptr_nonnull(f);
    fputs(bad, f);
    fclose(f);
    free(bad);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cli_run r;
        ck_assert_int_eq(cli_run(&r, cases[i].args), 0);
        ck_assert_msg(r.status == cases[i].status, "'%s' exited %d: %s", cases[i].args, r.status,
                      r.err);
        ck_assert_msg(strstr(r.err, cases[i].want), "'%s' said '%s'", cases[i].args, r.err);
        cli_run_release(&r);
    }
    remove("/tmp/hwnas-test-bad-arch.json");
}
END_TEST

START_TEST(test_cli_sample_info_list)
{
    struct cli_run a, b;
    ck_assert_int_eq(cli_run(&a, "space sample fmnist --seed 7 --n 3"), 0);
    ck_assert_int_eq(cli_run(&b, "space sample fmnist --seed 7 --n 3"), 0);
    ck_assert_int_eq(a.status, 0);
    ck_assert_str_eq(a.out, b.out);
    cJSON *arr = cJSON_Parse(a.out);
    ck_assert(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 3);
    struct space s = shipped("fmnist");
    for (cJSON *it = arr->child; it; it = it->next) {
        struct arch x;
        struct hw_err err;
        int tok[SPACE_MAX_TOKENS];
        ck_assert_int_eq(arch_from_json(it, "sample", "", &x, &err), HW_OK);
        ck_assert_int_eq(space_encode(&s, &x, tok, &err), HW_OK);
    }
    cJSON_Delete(arr);
    cli_run_release(&a);
    cli_run_release(&b);
    ck_assert_int_eq(cli_run(&a, "space info fmnist --samples 200"), 0);
    ck_assert_int_eq(a.status, 0);
    ck_assert_ptr_nonnull(strstr(a.out, "architectures: 8.16293e+08"));
    cli_run_release(&a);
    ck_assert_int_eq(cli_run(&a, "space list"), 0);
    ck_assert_ptr_nonnull(strstr(a.out, "mobilenetv3-small"));
    ck_assert_ptr_nonnull(strstr(a.out, "mbv3-224"));
    cli_run_release(&a);
    ck_assert_int_eq(cli_run(&a, "space show fmnist-ref --format timm"), 0);
    ck_assert_ptr_nonnull(strstr(a.out, "'ir_r1_k3_s2_e4_c24_nre'"));
    cli_run_release(&a);
}
END_TEST

Suite *suite_space(void)
{
    Suite *s = suite_create("space");
    struct {
        const char *name;
        const TTest *test;
        int loops; /* runs with _i = 0..loops-1 (0: once) */
    } cases[] = {
        {"arch_cost", test_cost_reference_totals},
        {"arch_cost_parts", test_cost_parts_sum},
        {"arch_validate", test_validate_refusals},
        {"arch_hash", test_hash_equal},
        {"arch_json_round_trip", test_arch_json_round_trip},
        {"arch_from_json_string", test_arch_json_refusals},
        {"arch_reference", test_reference_input_override},
        {"space_from_json_string", test_space_load},
        {"space_hash", test_space_hash},
        {"space_json_refusals", test_space_json_refusals},
        {"space_decode_encode", test_space_decode_encode},
        {"space_encode", test_space_encode_refusals},
        {"space_sample", test_space_sample_deterministic},
        {"space_cost_bounds", test_space_cost_bounds, 2},
        {"space_head_options", test_space_head_options},
        {"export_round_trip", test_export_round_trip},
        {"arch_from_timm", test_export_timm_reference_strings},
        {"export_refusals", test_export_refusals},
        {"cli_show_json", test_cli_show_json_totals},
        {"cli_errors", test_cli_space_errors},
        {"cli_sample_info_list", test_cli_sample_info_list},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, cases[i].test, 0, cases[i].loops ? cases[i].loops : 1);
        suite_add_tcase(s, tc);
    }
    return s;
}
