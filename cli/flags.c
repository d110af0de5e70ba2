#include "cli/cli.h"
#include "evaluator/model.h"
#include "space/refs.h"
#include "util/progress.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_quiet;

void cli_print_help(const struct cli_command *cmd)
{
    printf("usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (!cmd->flags || !cmd->flags[0].name)
        return;
    printf("\nflags:\n");
    for (const struct cli_flag *f = cmd->flags; f->name; f++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", f->name, f->metavar ? " " : "",
                 f->metavar ? f->metavar : "");
        printf("  %-24s %s\n", left, f->help);
    }
    printf("  %-24s %s\n", "--quiet", "no progress or informational output");
    printf("  %-24s %s\n", "--help", "show this help");
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hwnas %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'hwnas %s --help')\n", cmd->name);
    return CLI_EXIT_USAGE;
}

int cli_fail(const struct hw_err *err)
{
    fprintf(stderr, "hwnas: %s\n", err->msg[0] ? err->msg : hw_status_name(err->status));
    return CLI_EXIT_FAIL;
}

const char *cli_db_path(const char *flag_value)
{
    if (flag_value && flag_value[0])
        return flag_value;
    const char *env = getenv("HWNAS_DB");
    if (env && env[0])
        return env;
    return "hwnas.db";
}

int cli_parse_scaled(const char *s, const char *suffixes, const double *mults, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    /* strtod also reads "0x1p4", "inf" and "nan(...)": only decimal text here */
    if (end == s || errno || !isfinite(x) || strspn(s, "+-.0123456789eE") < (size_t)(end - s))
        return HW_EINVAL;
    const char *hit = *end ? strchr(suffixes, *end) : NULL;
    if (hit)
        x *= mults[hit - suffixes], end++;
    if (*end)
        return HW_EINVAL;
    *v = x;
    return HW_OK;
}

int cli_parse_duration(const char *s, double *seconds)
{
    static const double mults[] = {1, 60, 3600};
    double v;
    if (cli_parse_scaled(s, "smh", mults, &v) || v < 0)
        return HW_EINVAL;
    *seconds = v;
    return HW_OK;
}

static int parse_value(const struct cli_command *cmd, const struct cli_flag *f,
                       const char *v)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case CLI_INT: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno || x < -2147483647L || x > 2147483647L)
            return cli_usage_error(cmd, "--%s: '%s' is not an integer", f->name, v);
        *(int *)f->dest = (int)x;
        return CLI_EXIT_OK;
    }
    case CLI_LONG: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno)
            return cli_usage_error(cmd, "--%s: '%s' is not an integer", f->name, v);
        *(long *)f->dest = x;
        return CLI_EXIT_OK;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || x != x)
            return cli_usage_error(cmd, "--%s: '%s' is not a number", f->name, v);
        *(double *)f->dest = x;
        return CLI_EXIT_OK;
    }
    case CLI_STR:
        *(const char **)f->dest = v;
        return CLI_EXIT_OK;
    case CLI_DURATION:
        if (cli_parse_duration(v, (double *)f->dest) != HW_OK)
            return cli_usage_error(cmd, "--%s: '%s' is not a duration (e.g. 90s, 30m, 2h)",
                                   f->name, v);
        return CLI_EXIT_OK;
    case CLI_BOOL:
        break;
    }
    return cli_usage_error(cmd, "--%s takes no value", f->name);
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv,
              char **pos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_print_help(cmd);
            return CLI_HELP_SHOWN;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            cli_quiet = 1;
            hw_log_quiet = 1;
            continue;
        }
        if (a[1] != '-')
            return cli_usage_error(cmd, "unknown flag '%s'", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct cli_flag *f = NULL;
        for (const struct cli_flag *g = cmd->flags; g && g->name; g++)
            if (strlen(g->name) == len && strncmp(g->name, name, len) == 0)
                f = g;
        if (!f)
            return cli_usage_error(cmd, "unknown flag '--%.*s'", (int)len, name);
        if (f->type == CLI_BOOL) {
            if (eq)
                return cli_usage_error(cmd, "--%s takes no value", f->name);
            *(int *)f->dest = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return cli_usage_error(cmd, "--%s needs a value (%s)", f->name,
                                       f->metavar ? f->metavar : "value");
            v = argv[++i];
        }
        int rc = parse_value(cmd, f, v);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    if (*npos < cmd->min_pos)
        return cli_usage_error(cmd, "missing argument (usage: %s)", cmd->usage);
    if (cmd->max_pos >= 0 && *npos > cmd->max_pos)
        return cli_usage_error(cmd, "unexpected argument '%s'", pos[cmd->max_pos]);
    return CLI_EXIT_OK;
}

int cli_dispatch(const char *cmd, const struct cli_subcommand *subs, int argc, char **argv)
{
    if (argc >= 2)
        for (const struct cli_subcommand *c = subs; c->name; c++)
            if (strcmp(argv[1], c->name) == 0)
                return c->run(argc - 1, argv + 1);
    int help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    FILE *out = help ? stdout : stderr;
    if (argc >= 2 && !help)
        fprintf(stderr, "hwnas %s: unknown subcommand '%s'\n", cmd, argv[1]);
    fprintf(out, "usage: hwnas %s <subcommand> [flags]\n\nsubcommands:\n", cmd);
    for (const struct cli_subcommand *c = subs; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out, "\n'hwnas %s <subcommand> --help' describes its flags.\n", cmd);
    return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_resolve_arch(const char *name_or_file, const struct arch_input *in, struct arch *out,
                     struct hw_err *err)
{
    char magic[sizeof MODEL_MAGIC] = "";
    FILE *f = fopen(name_or_file, "rb");
    if (f) {
        size_t got = fread(magic, 1, sizeof magic - 1, f);
        magic[got] = '\0';
        fclose(f);
    }
    if (strcmp(magic, MODEL_MAGIC) != 0)
        return arch_resolve(name_or_file, in, out, err);
    struct nn_net *net;
    int rc = model_load(name_or_file, 2, &net, err);
    if (rc)
        return rc;
    *out = *nn_net_arch(net);
    nn_net_free(net);
    return HW_OK;
}
