/* The reference pages follow the binary: every command 'hwnas --help' lists
 * has its page under docs/ (linked from the README), the page names each of
 * its subcommands, and every long flag that the command's --help (and each
 * subcommand's) prints appears in the page. A flag added to cli/ without a
 * word in docs/ fails here. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/jfield.h"
#include "tests/cli_run.h"

/* train and eval share one page; every other command has its own. */
static const char *page_of(const char *cmd)
{
    return !strcmp(cmd, "train") || !strcmp(cmd, "eval") ? "train-eval" : cmd;
}

/* The text of HWNAS_ROOT/rel (caller frees), failing the test when absent. */
static char *read_doc(const char *rel)
{
    const char *root = getenv("HWNAS_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    char *text = NULL;
    ck_assert_msg(jfield_read_file(path, &text, NULL) == 0, "%s is missing", rel);
    return text;
}

/* Stdout of "hwnas <args>", which must exit 0 (caller frees). */
static char *help_of(const char *args)
{
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "hwnas %s: exit %d: %s", args, r.status, r.err);
    char *out = r.out;
    r.out = NULL;
    cli_run_release(&r);
    return out;
}

static int flag_char(int c) { return islower(c) || isdigit(c) || c == '-'; }

/* Whether text holds word as a whole: not inside a longer flag or name. */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        if ((p == text || !flag_char((unsigned char)p[-1])) &&
            !flag_char((unsigned char)p[n]))
            return 1;
    return 0;
}

/* Appends to missing (size bytes) every --flag of help that page lacks. */
static void check_flags(const char *help, const char *page, const char *name, char *missing,
                        size_t size)
{
    for (const char *p = strstr(help, "--"); p; p = strstr(p + 2, "--")) {
        if ((p > help && flag_char((unsigned char)p[-1])) || !islower((unsigned char)p[2]))
            continue;
        char flag[64];
        size_t n = 0;
        while (n + 1 < sizeof flag && flag_char((unsigned char)p[n]))
            flag[n] = p[n], n++;
        flag[n] = '\0';
        if (!has_word(page, flag))
            snprintf(missing + strlen(missing), size - strlen(missing), " %s (%s)", flag, name);
    }
}

/* The names listed under heading ("commands:", "subcommands:") of a --help,
 * each the first word of a line indented by two spaces, into names[max]. */
static int list_names(const char *help, const char *heading, char names[][32], int max)
{
    const char *p = strstr(help, heading);
    int n = 0;
    if (!p)
        return 0;
    for (p = strchr(p + 1, '\n'); p && p[1] == ' ' && p[2] == ' ' && n < max; p = strchr(p + 1, '\n'))
        sscanf(p + 3, "%31s", names[n++]);
    return n;
}

START_TEST(test_docs_cover_help)
{
    char *top = help_of("--help"), *readme = read_doc("README.md");
    char cmds[32][32], missing[4096] = "";
    int nc = list_names(top, "\ncommands:", cmds, 32);
    ck_assert_int_ge(nc, 12);
    for (int i = 0; i < nc; i++) {
        char rel[96], args[128];
        snprintf(rel, sizeof rel, "docs/%s.md", page_of(cmds[i]));
        ck_assert_msg(strstr(readme, rel), "README.md does not link %s", rel);
        char *page = read_doc(rel), *help;
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        help = help_of(args);
        check_flags(help, page, cmds[i], missing, sizeof missing);
        char subs[16][32];
        int ns = list_names(help, "\nsubcommands:", subs, 16);
        for (int j = 0; j < ns; j++) {
            char words[96];
            snprintf(words, sizeof words, "hwnas %s %s", cmds[i], subs[j]);
            if (!strstr(page, words))
                snprintf(missing + strlen(missing), sizeof missing - strlen(missing),
                         " '%s' (%s)", words, rel);
            snprintf(args, sizeof args, "%s %s --help", cmds[i], subs[j]);
            char *sub_help = help_of(args);
            check_flags(sub_help, page, words + 6, missing, sizeof missing);
            free(sub_help);
        }
        free(help);
        free(page);
    }
    ck_assert_msg(!missing[0], "docs/ lacks:%s", missing);
    free(readme);
    free(top);
}
END_TEST

Suite *suite_docs(void)
{
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, test_docs_cover_help);
    suite_add_tcase(s, tc);
    return s;
}
