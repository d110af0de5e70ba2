/* hwnas runs report: the page a user opens. A tiny search is reported, the
 * page checked for its sections, its escaping and anything it could fetch,
 * then opened in headless Chromium (make deps installs it): the test fails
 * on any console message (the page's Content-Security-Policy turns a script
 * or a fetch into one) and on a blank screenshot. A copy of the page with a
 * deliberate script error and a missing image must be caught, so the console
 * check is known to see. Also: the Pareto SVG's target label stays inside
 * the picture. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "search/pareto.h"
#include "tests/cli_run.h"
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

static char dir[64];

/* The test's folder: made and removed by the parent process (an unchecked
 * fixture), so a failing test leaves nothing behind. */
static void make_dir(void)
{
    ck_assert_int_eq(cli_tiny_dir(dir, "report"), 0);
}

static void remove_dir(void)
{
    ck_assert_int_eq(cli_tiny_dir_remove(dir), 0);
}

/* Runs hwnas with the args fmt makes into r (the caller releases it). */
static void hwnas(struct cli_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hwnas(struct cli_run *r, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    ck_assert_int_eq(cli_run(r, args), 0);
}

/* Requires r to have exited 0, then releases it. */
static void expect_ok(struct cli_run *r)
{
    ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
    cli_run_release(r);
}

/* The whole file at path, NUL-terminated (caller frees); NULL if unreadable. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return s;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Nothing on the page could be fetched or run: "http" only in the SVG
 * namespace and the CSP's http-equiv, no src/href/url()/@import/script. */
static void check_self_contained(const char *html)
{
    for (const char *p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
        ck_assert_msg(!strncmp(p, "http://www.w3.org/2000/svg\"", 27) ||
                          !strncmp(p, "http-equiv=\"Content-Security-Policy\"", 36),
                      "external reference: %.60s", p);
    static const char *const never[] = {"src=", "href=", "url(", "@import", "<script",
                                        "<link", "<iframe", "<object", "<embed"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        ck_assert_msg(!strstr(html, never[i]), "the page has %s", never[i]);
}

/* 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) -> *px of
 * w x h pixels, 4 bytes each (caller frees). 0, or -1 with why in msg. */
static int png_decode(const unsigned char *p, size_t len, unsigned char **px, int *w, int *h,
                      char *msg, size_t msg_len)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char *idat = NULL;
    size_t nidat = 0, pos = 8;
    int depth = 0, ctype = 0, interlace = 0;
    *px = NULL;
    *w = *h = 0;
    if (len < 8 || memcmp(p, sig, 8)) {
        snprintf(msg, msg_len, "not a PNG");
        return -1;
    }
    while (pos + 12 <= len) {
        uint32_t n = (uint32_t)p[pos] << 24 | p[pos + 1] << 16 | p[pos + 2] << 8 | p[pos + 3];
        const unsigned char *type = p + pos + 4, *data = p + pos + 8;
        if (n > len - pos - 12)
            break;
        if (!memcmp(type, "IHDR", 4) && n >= 13) {
            *w = data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3];
            *h = data[4] << 24 | data[5] << 16 | data[6] << 8 | data[7];
            depth = data[8];
            ctype = data[9];
            interlace = data[12];
        } else if (!memcmp(type, "IDAT", 4)) {
            unsigned char *grown = realloc(idat, nidat + n);
            if (!grown)
                break;
            idat = grown;
            memcpy(idat + nidat, data, n);
            nidat += n;
        } else if (!memcmp(type, "IEND", 4)) {
            break;
        }
        pos += 12 + n;
    }
    int bpp = ctype == 6 ? 4 : 3;
    if (depth != 8 || (ctype != 2 && ctype != 6) || interlace || *w <= 0 || *h <= 0 ||
        !idat) {
        snprintf(msg, msg_len, "PNG of depth %d, colour type %d, interlace %d, %dx%d: not "
                 "decoded here", depth, ctype, interlace, *w, *h);
        free(idat);
        return -1;
    }
    size_t stride = (size_t)*w * bpp;
    uLongf raw_len = (uLongf)((stride + 1) * (size_t)*h);
    unsigned char *raw = malloc(raw_len);
    *px = malloc((size_t)*w * *h * 4);
    if (!raw || !*px || uncompress(raw, &raw_len, idat, nidat) != Z_OK ||
        raw_len != (stride + 1) * (size_t)*h) {
        snprintf(msg, msg_len, "PNG data does not inflate to %dx%d pixels", *w, *h);
        free(raw);
        free(idat);
        free(*px);
        *px = NULL;
        return -1;
    }
    free(idat);
    /* undo the per-row filters in place, then widen to RGBA */
    for (int y = 0; y < *h; y++) {
        unsigned char *row = raw + y * (stride + 1) + 1, *up = y ? row - stride - 1 : NULL;
        int filter = row[-1];
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = up ? up[i] : 0;
            int c = up && i >= (size_t)bpp ? up[i - bpp] : 0;
            int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
            int pred = filter == 1   ? a
                       : filter == 2 ? b
                       : filter == 3 ? (a + b) / 2
                       : filter == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
                                     : 0;
            row[i] = (unsigned char)(row[i] + pred);
        }
        for (int x = 0; x < *w; x++) {
            unsigned char *d = *px + ((size_t)y * *w + x) * 4, *s = row + (size_t)x * bpp;
            d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = bpp == 4 ? s[3] : 255;
        }
    }
    free(raw);
    return 0;
}

/* Pixels of the screenshot at path that are not white, and its distinct
 * colours (counted up to 64). */
static void screenshot_stats(const char *path, long *ink, int *colours)
{
    size_t len;
    unsigned char *png = (unsigned char *)slurp(path, &len), *px;
    int w, h;
    char msg[160];
    ck_assert_msg(png, "no screenshot at %s", path);
    ck_assert_msg(png_decode(png, len, &px, &w, &h, msg, sizeof msg) == 0, "%s: %s", path, msg);
    free(png);
    uint32_t seen[64];
    *ink = 0;
    *colours = 0;
    for (long i = 0; i < (long)w * h; i++) {
        const unsigned char *q = px + i * 4;
        uint32_t rgb = (uint32_t)q[0] << 16 | q[1] << 8 | q[2];
        *ink += rgb != 0xffffff;
        int known = 0;
        for (int k = 0; k < *colours && !known; k++)
            known = seen[k] == rgb;
        if (!known && *colours < 64)
            seen[(*colours)++] = rgb;
    }
    free(px);
}

/* Opens page in headless Chromium (its own profile, so parallel runs do not
 * share one), screenshots it to png and returns the console lines it logged
 * (caller frees; "" for none). Fails the test when Chromium is missing. */
static char *chromium_console(const char *page, const char *png)
{
    ck_assert_msg(system("command -v chromium >/dev/null 2>&1") == 0,
                  "chromium is not installed: run 'make deps' (it installs Debian's chromium "
                  "for this test)");
    char cmd[1024], log[128];
    snprintf(log, sizeof log, "%s/chromium.log", dir);
    snprintf(cmd, sizeof cmd,
             "timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run "
             "--user-data-dir=%s/chromium-profile --enable-logging=stderr --v=0 "
             "--window-size=1200,1600 --screenshot=%s 'file://%s' >%s 2>&1",
             dir, png, page, log);
    int st = system(cmd);
    char *out = slurp(log, NULL);
    ck_assert_msg(st == 0, "chromium failed (status %d): %s", st, out ? out : "");
    /* keep the console lines only */
    char *kept = calloc(1, out ? strlen(out) + 1 : 1), *end = kept, *save = NULL;
    ck_assert_ptr_nonnull(kept);
    for (char *line = out ? strtok_r(out, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        if (strstr(line, ":CONSOLE"))
            end += sprintf(end, "%s\n", line);
    free(out);
    return kept;
}

START_TEST(test_runs_report)
{
    char db[128], html[128], space[128];
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(html, sizeof html, "%s/report.html", dir);
    snprintf(space, sizeof space, "%s/tiny.json", dir);
    struct cli_run r;
    hwnas(&r, "profile --space %s --db %s --runs 3 --warmup 1 --quiet", space, db);
    expect_ok(&r);
    /* a name that needs escaping */
    hwnas(&r, "search --space %s --target-ms 0.05 --controller evolution --trials 6 --seed 4 "
             "--proxy-epochs 1 --proxy-subset 256 --proxy-val 256 --train-threads 1 "
             "--name 'r<&>\"' --db %s --quiet", space, db);
    expect_ok(&r);

    /* before any validation: the section says how to get one */
    hwnas(&r, "runs report 'r<&>\"' --db %s --html %s", db, html);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char want[160];
    snprintf(want, sizeof want, "report written to %s\n", html);
    ck_assert_str_eq(r.out, want);
    cli_run_release(&r);
    char *page = slurp(html, NULL);
    ck_assert_ptr_nonnull(page);
    ck_assert_ptr_nonnull(strstr(page, "<code>hwnas validate --space "));
    ck_assert_int_eq(count_of(page, "<svg "), 2);
    free(page);

    hwnas(&r, "validate --space %s --samples 6 --runs 3 --rounds 1 --db %s --quiet", space, db);
    expect_ok(&r);
    hwnas(&r, "runs report 'r<&>\"' --db %s --html %s --json", db, html);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "\"version\":\t1") && strstr(r.out, "\"validation\":\t1"),
                  "%s", r.out);
    snprintf(want, sizeof want, "\"html_file\":\t\"%s\"", html);
    ck_assert_msg(strstr(r.out, want), "%s", r.out);
    cli_run_release(&r);
    page = slurp(html, NULL);
    ck_assert_ptr_nonnull(page);
    for (const char *const *s = (const char *const[]){
             "<section id=\"reward\">", "<section id=\"pareto\">", "<section id=\"latency\">",
             "<section id=\"top\">", "distinct candidates by reward", "Pareto front (",
             "class=\"band\"", "class=\"diag\"", "class=\"best\"", "<td class=\"blocks\">ir_r",
             "cn_r1_k1_s1_c32_nhs</td>", "<dt>controller</dt><dd>evolution</dd>", NULL};
         *s; s++)
        ck_assert_msg(strstr(page, *s), "the page lacks %s", *s);
    ck_assert_int_eq(count_of(page, "<svg "), 3);
    /* one row per distinct arch: as many rows as the heading says, no two
     * with the same block string */
    int k = 0;
    const char *h = strstr(page, "<h2>Top ");
    ck_assert(h && sscanf(h, "<h2>Top %d", &k) == 1 && k >= 1 && k <= 6);
    ck_assert_int_eq(count_of(page, "<tr><td>"), k);
    const char *blocks[6];
    int nb = 0;
    for (const char *b = strstr(page, "<td class=\"blocks\">"); b && nb < 6;
         b = strstr(b + 1, "<td class=\"blocks\">"))
        blocks[nb++] = b + strlen("<td class=\"blocks\">");
    ck_assert_int_eq(nb, k);
    for (int i = 0; i < nb; i++)
        for (int j = i + 1; j < nb; j++)
            ck_assert_msg(strncmp(blocks[i], blocks[j],
                                  (size_t)(strstr(blocks[i], "</td>") - blocks[i]) + 5) != 0,
                          "rows %d and %d show the same arch", i, j);
    ck_assert_ptr_nonnull(strstr(page, "<h1>hwnas run r&lt;&amp;&gt;&quot;</h1>"));
    ck_assert_ptr_null(strstr(page, "r<&>"));
    check_self_contained(page);

    /* Chromium: no console message, and something drawn */
    char png[128];
    snprintf(png, sizeof png, "%s/report.png", dir);
    char *console = chromium_console(html, png);
    ck_assert_msg(console[0] == '\0', "console messages opening the report:\n%s", console);
    free(console);
    long ink;
    int colours;
    screenshot_stats(png, &ink, &colours);
    ck_assert_msg(ink > 20000 && colours > 3, "the screenshot looks blank: %ld non-white "
                  "pixels, %d colours", ink, colours);

    /* the control: the same page with a script error and a missing image */
    char broken[128];
    snprintf(broken, sizeof broken, "%s/broken.html", dir);
    char *body = strstr(page, "<body>") + 6;
    FILE *f = fopen(broken, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%.*s<img src=\"missing.png\"><script>undefinedFunction();</script>%s",
            (int)(body - page), page, body);
    ck_assert_int_eq(fclose(f), 0);
    free(page);
    snprintf(png, sizeof png, "%s/broken.png", dir);
    console = chromium_console(broken, png);
    ck_assert_msg(count_of(console, ":CONSOLE") >= 2 && strstr(console, "missing.png"),
                  "the console check missed a broken page; Chromium logged:\n%s", console);
    free(console);

    /* refusals: an unknown run names it and the database; an unwritable
     * file is named and leaves no temporary file */
    hwnas(&r, "runs report nosuchrun --db %s --html %s/x.html", db, dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "'nosuchrun'") && strstr(r.err, db), "%s", r.err);
    cli_run_release(&r);
    hwnas(&r, "runs report 'r<&>\"' --db %s --html %s/tiny.json/x.html", db, dir);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "%s/tiny.json/x.html: cannot write", dir);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    cli_run_release(&r);
    char sub[128], tmp[140];
    snprintf(sub, sizeof sub, "%s/adir", dir); /* the temp file is written, the rename fails */
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    hwnas(&r, "runs report 'r<&>\"' --db %s --html %s", db, sub);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "%s: cannot write", sub);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    cli_run_release(&r);
    snprintf(tmp, sizeof tmp, "%s.tmp", sub);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    hwnas(&r, "runs report 'r<&>\"' --db %s", db);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--html FILE is required"));
    cli_run_release(&r);
}
END_TEST

Suite *suite_report(void)
{
    Suite *s = suite_create("report");
    TCase *label = tcase_create("pareto_svg_write");
    tcase_add_test(label, test_pareto_target_label);
    suite_add_tcase(s, label);
    TCase *page = tcase_create("runs_report");
    tcase_set_timeout(page, 180);
    tcase_add_unchecked_fixture(page, make_dir, remove_dir);
    tcase_add_test(page, test_runs_report);
    suite_add_tcase(s, page);
    return s;
}
