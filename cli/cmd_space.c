/* hwnas space show|info|sample|list: architectures and search spaces. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/commands.h"
#include "space/arch_json.h"
#include "space/export.h"
#include "space/refs.h"
#include "space/space.h"
#include "util/pcg32.h"

/* ---- space show ---- */

/* One table row; 0 prints "-" for k, mid, stride, se (the squeeze channels);
 * NULL act prints "-". */
static void print_row(int h, int w, int c, const char *op, int k, int mid, int out, int se,
                      const char *act, int stride, struct arch_cost cost)
{
    char in[32], ks[8] = "-", mids[12] = "-", ss[4] = "-", ses[12] = "-";
    snprintf(in, sizeof in, "%dx%dx%d", h, w, c);
    if (k)
        snprintf(ks, sizeof ks, "%d", k);
    if (mid)
        snprintf(mids, sizeof mids, "%d", mid);
    if (stride)
        snprintf(ss, sizeof ss, "%d", stride);
    if (se)
        snprintf(ses, sizeof ses, "%d", se);
    printf("%-13s %-10s %2s %6s %6d %4s %-7s %2s %10lld %13lld\n", in, op, ks, mids, out,
           ses, act ? act : "-", ss, (long long)cost.params, (long long)cost.macs);
}

static void print_table(const struct arch *a)
{
    printf("%s: input %dx%dx%d, %d classes\n\n", a->name[0] ? a->name : "arch", a->in_h, a->in_w,
           a->in_c, a->classes);
    printf("%-13s %-10s %2s %6s %6s %4s %-7s %2s %10s %13s\n", "input", "operator", "k", "mid",
           "out", "SE", "act", "s", "params", "MACs");
    print_row(a->in_h, a->in_w, a->in_c, "conv2d", a->stem.k, 0, a->stem.out, 0,
              arch_act_name(a->stem.act), a->stem.stride, arch_cost_stem(a));
    int h, w;
    for (int i = 0; i < a->n_layers; i++) {
        const struct arch_layer *l = &a->layers[i];
        arch_layer_input_size(a, i, &h, &w);
        print_row(h, w, l->in, arch_layer_residual(l) ? "bneck+res" : "bneck", l->k, l->mid,
                  l->out, arch_layer_squeeze(l), arch_act_name(l->act), l->stride, arch_cost_layer(l, h, w));
    }
    arch_layer_input_size(a, a->n_layers, &h, &w);
    int ch = arch_head_in(a);
    struct arch_cost parts[ARCH_HEAD_PARTS], none = {0, 0};
    arch_cost_head_parts(a, h, w, ch, parts);
    if (a->head.conv_out) {
        print_row(h, w, ch, "conv2d 1x1", 1, 0, a->head.conv_out, 0,
                  arch_act_name(a->head.conv_act), 1, parts[ARCH_HEAD_CONV]);
        ch = a->head.conv_out;
    }
    print_row(h, w, ch, "avgpool", 0, 0, ch, 0, NULL, 0, none);
    if (a->head.fc_hidden) {
        print_row(1, 1, ch, "fc", 0, 0, a->head.fc_hidden, 0, arch_act_name(a->head.fc_act), 0,
                  parts[ARCH_HEAD_FC]);
        ch = a->head.fc_hidden;
    }
    print_row(1, 1, ch, "fc", 0, 0, a->classes, 0, NULL, 0, parts[ARCH_HEAD_CLASSIFIER]);
    struct arch_cost t = arch_cost(a);
    printf("\ntotal: %lld params, %lld MACs (%.2f M), %d layers, dropout %g before the last fc\n",
           (long long)t.params, (long long)t.macs, t.macs / 1e6, a->n_layers,
           (double)a->head.dropout);
}

static int show_json(const struct arch *a)
{
    struct arch_cost t = arch_cost(a);
    cJSON *o = cli_json_root();
    cJSON_AddNumberToObject(o, "params", (double)t.params);
    cJSON_AddNumberToObject(o, "macs", (double)t.macs);
    cJSON_AddItemToObject(o, "arch", arch_to_json(a));
    cJSON *layers = cJSON_AddArrayToObject(o, "layer_costs");
    int h, w;
    for (int i = 0; i < a->n_layers; i++) {
        arch_layer_input_size(a, i, &h, &w);
        struct arch_cost c = arch_cost_layer(&a->layers[i], h, w);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "h", h);
        cJSON_AddNumberToObject(l, "w", w);
        cJSON_AddNumberToObject(l, "params", (double)c.params);
        cJSON_AddNumberToObject(l, "macs", (double)c.macs);
        cJSON_AddItemToArray(layers, l);
    }
    return cli_json_print(o);
}

static int show_strings(const struct arch *a, int mnasnet)
{
    struct hw_err err;
    char *s = NULL;
    int rc = mnasnet ? arch_to_mnasnet(a, &s, &err) : arch_to_timm(a, &s, &err);
    if (rc)
        return cli_fail(&err);
    printf("%s", s);
    free(s);
    return CLI_EXIT_OK;
}

/* "HxWxC" with positive sizes -> h, w, c. */
static int parse_input(const char *s, struct arch_input *in)
{
    int n = 0;
    if (sscanf(s, "%dx%dx%d%n", &in->h, &in->w, &in->c, &n) != 3 || s[n] != '\0' ||
        in->h < 1 || in->w < 1 || in->c < 1)
        return HW_EINVAL;
    return HW_OK;
}

static int space_show(int argc, char **argv)
{
    int json = 0, size = 0, channels = 0, classes = 0;
    const char *format = "table", *input = NULL;
    const struct cli_flag flags[] = {
        {"json", CLI_BOOL, &json, NULL, "same as --format json"},
        {"format", CLI_STR, &format, "FMT", "table (default), json, timm or mnasnet"},
        {"input", CLI_STR, &input, "HxWxC", "input size, e.g. 32x32x3"},
        {"size", CLI_INT, &size, "N", "square input N x N"},
        {"channels", CLI_INT, &channels, "C", "input channels"},
        {"classes", CLI_INT, &classes, "K", "number of classes"},
        {0},
    };
    const struct cli_command cmd = {
        "space show",
        "Per-layer table of an architecture (a built-in reference or an arch JSON\n"
        "file): input size, operator, kernel, mid/out channels, SE, activation,\n"
        "stride, params and MACs (torchvision convention), with totals.\n"
        "References: mobilenetv3-large, mobilenetv3-small, mobilenetv2, fmnist-ref.",
        "hwnas space show NAME|FILE [--format table|json|timm|mnasnet] [--input HxWxC]",
        flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    /* 0 keeps the reference's own value, so only positive values are taken. */
    if (size < 0 || channels < 0 || classes < 0)
        return cli_usage_error(&cmd, "--%s: %d is not positive",
                               size < 0 ? "size" : channels < 0 ? "channels" : "classes",
                               size < 0 ? size : channels < 0 ? channels : classes);
    struct arch_input in = {size, size, channels, classes};
    if (input && parse_input(input, &in) != HW_OK)
        return cli_usage_error(&cmd, "--input: '%s' is not HxWxC (e.g. 32x32x3, all > 0)",
                               input);
    if (input && channels)
        in.c = channels;
    if (json)
        format = "json";
    if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "timm") &&
        strcmp(format, "mnasnet"))
        return cli_usage_error(&cmd, "--format: '%s' is not one of table, json, timm, mnasnet",
                               format);
    struct arch a;
    struct hw_err err;
    if (cli_resolve_arch(pos[0], &in, &a, &err))
        return cli_fail(&err);
    if (strcmp(format, "json") == 0)
        return show_json(&a);
    if (strcmp(format, "timm") == 0 || strcmp(format, "mnasnet") == 0)
        return show_strings(&a, format[0] == 'm');
    print_table(&a);
    return CLI_EXIT_OK;
}

/* ---- space info ---- */

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int space_info(int argc, char **argv)
{
    int samples = 1000;
    long seed = 1;
    const struct cli_flag flags[] = {
        {"samples", CLI_INT, &samples, "N", "archs sampled for the ranges (default 1000)"},
        {"seed", CLI_LONG, &seed, "S", "sampling seed (default 1)"},
        {0},
    };
    const struct cli_command cmd = {
        "space info",
        "Size of a search space (a shipped name or a space JSON file), its tokens,\n"
        "and MACs, params and layer counts over seeded samples.",
        "hwnas space info SPACE [--samples N] [--seed S]", flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (samples < 1 || samples > 10000000)
        return cli_usage_error(&cmd, "--samples: %d is not in [1, 10000000]", samples);
    struct hw_err err;
    struct space *s = malloc(sizeof *s);
    int64_t *v = malloc(3 * (size_t)samples * sizeof *v);
    if (!s || !v) {
        free(s);
        free(v);
        hw_error(&err, HW_ENOMEM, "out of memory for %d samples", samples);
        return cli_fail(&err);
    }
    if (space_resolve(pos[0], s, &err)) {
        free(s);
        free(v);
        return cli_fail(&err);
    }
    printf("space %s: input %dx%dx%d, %d classes, %d blocks, %d tokens\n", s->name, s->base.in_h,
           s->base.in_w, s->base.in_c, s->base.classes, s->n_blocks, space_n_tokens(s));
    printf("architectures: %.6g (10^%.2f)\ntokens:", space_size(s), space_log10_size(s));
    for (int t = 0; t < space_n_tokens(s); t++)
        printf("%s %s(%d)", t % SPACE_N_CHOICES ? "" : "\n ", space_token_name(s, t),
               space_token_choices(s, t));
    struct pcg32 rng;
    pcg32_seed(&rng, (uint64_t)seed, 0x5ace);
    int tok[SPACE_MAX_TOKENS];
    for (int i = 0; i < samples; i++) {
        struct arch a;
        space_sample(s, &rng, tok);
        if (space_decode(s, tok, &a, &err)) {
            free(s);
            free(v);
            return cli_fail(&err);
        }
        struct arch_cost c = arch_cost(&a);
        v[i] = c.macs;
        v[samples + i] = c.params;
        v[2 * samples + i] = a.n_layers;
    }
    printf("\n\nover %d samples (seed %ld):   min       median          max\n", samples, seed);
    static const char *const what[] = {"MACs", "params", "layers"};
    for (int k = 0; k < 3; k++) {
        int64_t *x = v + (size_t)k * samples;
        qsort(x, (size_t)samples, sizeof *x, cmp_i64);
        printf("  %-8s %20lld %12lld %12lld\n", what[k], (long long)x[0],
               (long long)x[samples / 2], (long long)x[samples - 1]);
    }
    struct arch_cost lo, hi;
    space_cost_bounds(s, &lo, &hi);
    printf("  exact over the whole space:\n  %-8s %20lld %12s %12lld  (%.1fx)\n", "MACs",
           (long long)lo.macs, "", (long long)hi.macs, (double)hi.macs / (double)lo.macs);
    printf("  %-8s %20lld %12s %12lld  (%.1fx)\n", "params", (long long)lo.params, "",
           (long long)hi.params, (double)hi.params / (double)lo.params);
    free(s);
    free(v);
    return CLI_EXIT_OK;
}

/* ---- space sample ---- */

static int space_sample_cmd(int argc, char **argv)
{
    long seed = 1;
    int n = 1;
    const struct cli_flag flags[] = {
        {"seed", CLI_LONG, &seed, "S", "sampling seed (default 1)"},
        {"n", CLI_INT, &n, "N", "number of archs (default 1; N > 1 prints an array)"},
        {0},
    };
    const struct cli_command cmd = {
        "space sample",
        "Uniformly sampled architectures of a space as arch JSON (loadable by\n"
        "'hwnas space show FILE'). The same seed gives the same archs.",
        "hwnas space sample SPACE [--seed S] [--n N]", flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (n < 1 || n > 100000)
        return cli_usage_error(&cmd, "--n: %d is not in [1, 100000]", n);
    struct hw_err err;
    struct space *s = malloc(sizeof *s);
    if (!s) {
        hw_error(&err, HW_ENOMEM, "out of memory");
        return cli_fail(&err);
    }
    if (space_resolve(pos[0], s, &err)) {
        free(s);
        return cli_fail(&err);
    }
    struct pcg32 rng;
    pcg32_seed(&rng, (uint64_t)seed, 0x5ace);
    cJSON *arr = n > 1 ? cJSON_CreateArray() : NULL, *one = NULL;
    int tok[SPACE_MAX_TOKENS];
    for (int i = 0; i < n; i++) {
        struct arch a;
        space_sample(s, &rng, tok);
        if (space_decode(s, tok, &a, &err)) {
            cJSON_Delete(arr);
            free(s);
            return cli_fail(&err);
        }
        one = arch_to_json(&a);
        if (arr)
            cJSON_AddItemToArray(arr, one);
    }
    free(s);
    return cli_json_print(arr ? arr : one);
}

/* ---- space list ---- */

static int space_list(int argc, char **argv)
{
    const struct cli_flag flags[] = {{0}};
    const struct cli_command cmd = {"space list",
                                    "The built-in reference architectures and shipped spaces.",
                                    "hwnas space list", flags, 0, 0};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    struct hw_err err;
    printf("reference architectures (hwnas space show NAME):\n");
    for (const char *const *n = arch_reference_names(); *n; n++) {
        struct arch a;
        if (arch_reference(*n, NULL, &a, &err))
            return cli_fail(&err);
        struct arch_cost c = arch_cost(&a);
        printf("  %-18s %dx%dx%d -> %-5d %2d layers %10lld params %12lld MACs\n", *n, a.in_h,
               a.in_w, a.in_c, a.classes, a.n_layers, (long long)c.params, (long long)c.macs);
    }
    printf("search spaces (hwnas space info NAME):\n");
    for (const char *const *n = space_builtin_names(); *n; n++) {
        struct space *s = malloc(sizeof *s);
        if (!s || space_load_builtin(*n, s, &err)) {
            free(s);
            return cli_fail(&err);
        }
        printf("  %-18s %dx%dx%d -> %-5d %2d blocks %d tokens, %.3g archs\n", *n, s->base.in_h,
               s->base.in_w, s->base.in_c, s->base.classes, s->n_blocks, space_n_tokens(s),
               space_size(s));
        free(s);
    }
    return CLI_EXIT_OK;
}

static const struct cli_subcommand subcommands[] = {
    {"show", space_show, "per-layer table, JSON, timm or MnasNet strings of an arch"},
    {"info", space_info, "size, tokens and MACs/params ranges of a search space"},
    {"sample", space_sample_cmd, "sample archs of a space as JSON"},
    {"list", space_list, "built-in references and shipped spaces"},
    {0},
};

int cmd_space(int argc, char **argv)
{
    return cli_dispatch("space", subcommands, argc, argv);
}
