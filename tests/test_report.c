/* The charts' labels stay inside the picture: the Pareto SVG's target label
 * at either end of the latency axis. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/pareto.h"
#include "util/plot.h"

/* A generous width of a character at font size 12 (sans-serif digits and
 * lower case are 6.7 px): the oracle for labels fitting. */
#define CHAR_PX 7.0

/* The x and text-anchor of the <text> whose content is label in svg;
 * 0 when there is none. */
static int find_label(const char *svg, const char *label, double *x, char *anchor, size_t n)
{
    char want[128];
    snprintf(want, sizeof want, ">%s</text>", label);
    const char *end = strstr(svg, want), *t = end;
    while (t && t > svg && strncmp(t, "<text ", 6) != 0)
        t--;
    if (!end || t == svg)
        return 0;
    const char *xs = strstr(t, " x=\""), *as = strstr(t, "text-anchor=\"");
    if (!xs || xs > end)
        return 0;
    *x = strtod(xs + 4, NULL);
    snprintf(anchor, n, "start"); /* SVG's default */
    if (as && as < end)
        snprintf(anchor, n, "%.*s", (int)strcspn(as + 13, "\""), as + 13);
    return 1;
}

/* Whether a label of len characters at x with anchor lies within [0, width]. */
static int label_fits(double x, const char *anchor, size_t len, double width)
{
    double w = (double)len * CHAR_PX;
    double left = !strcmp(anchor, "end") ? x - w : !strcmp(anchor, "middle") ? x - w / 2 : x;
    return left >= 0 && left + w <= width;
}

/* The target at the right end of the data (the case that was cut to
 * "target 0.12" at the SVG's right edge) and at the left end. */
START_TEST(test_pareto_target_label)
{
    struct pareto_point pts[] = {{0.05, 0.80}, {0.08, 0.84}, {0.11, 0.86}, {0.126, 0.88}};
    const double targets[] = {0.1273, 0.02};
    const char *labels[] = {"target 0.1273 ms", "target 0.02 ms"};
    for (int i = 0; i < 2; i++) {
        char *svg, anchor[16];
        double x;
        struct pareto_svg_opts o = {"front", targets[i], 0, 0};
        ck_assert_int_eq(pareto_svg_string(&svg, pts, 4, &o, NULL), HW_OK);
        double width = strtod(strstr(svg, "width=\"") + 7, NULL);
        ck_assert_msg(find_label(svg, labels[i], &x, anchor, sizeof anchor), "%s", svg);
        ck_assert_msg(label_fits(x, anchor, strlen(labels[i]), width),
                      "'%s' at x %.1f, anchor %s, does not fit in width %.0f", labels[i], x,
                      anchor, width);
        free(svg);
    }
    /* plot_label_place on both sides of a 720-px picture */
    double x;
    ck_assert_str_eq(plot_label_place(720, 100, 16, &x), "start");
    ck_assert(label_fits(x, "start", 16, 720) && x > 100);
    ck_assert_str_eq(plot_label_place(720, 700, 16, &x), "end");
    ck_assert(label_fits(x, "end", 16, 720) && x < 700);
}
END_TEST

Suite *suite_report(void)
{
    Suite *s = suite_create("report");
    TCase *label = tcase_create("pareto_svg_write");
    tcase_add_test(label, test_pareto_target_label);
    suite_add_tcase(s, label);
    return s;
}
