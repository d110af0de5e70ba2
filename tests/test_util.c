#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/pcg32.h"
#include "util/progress.h"
#include "util/timer.h"

START_TEST(test_pcg32_known_answers)
{
    /* DESIGN.md: state 42, stream 54. */
    static const uint32_t want[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                    0x83d2f293, 0xbfa4784b, 0xcbed606e};
    struct pcg32 r;
    pcg32_seed(&r, 42, 54);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(pcg32_next(&r), want[i]);
}
END_TEST

START_TEST(test_pcg32_bounded_uniform)
{
    struct pcg32 r;
    pcg32_seed(&r, 7, 1);
    int counts[6] = {0};
    for (int i = 0; i < 60000; i++) {
        uint32_t v = pcg32_bounded(&r, 6);
        ck_assert_uint_lt(v, 6);
        counts[v]++;
    }
    for (int i = 0; i < 6; i++)
        ck_assert_int_lt(abs(counts[i] - 10000), 400);
    /* bound 1 always yields 0; a bound near 2^32 still terminates. */
    ck_assert_uint_eq(pcg32_bounded(&r, 1), 0);
    ck_assert_uint_lt(pcg32_bounded(&r, 0xF0000000u), 0xF0000000u);
}
END_TEST

START_TEST(test_pcg32_float_normal)
{
    struct pcg32 r;
    pcg32_seed(&r, 123, 5);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        float f = pcg32_float(&r);
        ck_assert(f >= 0.0f && f < 1.0f);
        double d = pcg32_double(&r);
        ck_assert(d >= 0.0 && d < 1.0);
        double n = pcg32_normal(&r);
        ck_assert(isfinite(n));
        sum += n;
        sq += n * n;
    }
    ck_assert_double_lt(fabs(sum / 100000), 0.02);
    ck_assert_double_lt(fabs(sq / 100000 - 1.0), 0.03);
}
END_TEST

START_TEST(test_pcg32_shuffle)
{
    struct pcg32 r, r2;
    pcg32_seed(&r, 9, 9);
    r2 = r;
    int a[50], b[50], seen[50] = {0};
    for (int i = 0; i < 50; i++)
        a[i] = b[i] = i;
    pcg32_shuffle_int(&r, a, 50);
    pcg32_shuffle_int(&r2, b, 50);
    int moved = 0;
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(a[i], b[i]); /* same state, same permutation */
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 40);
}
END_TEST

START_TEST(test_err_messages)
{
    struct hw_err e;
    hw_err_clear(&e);
    ck_assert_int_eq(hw_error(&e, HW_EINVAL, "layer %d: kernel %d", 3, 4), HW_EINVAL);
    ck_assert_str_eq(e.msg, "layer 3: kernel 4");
    ck_assert_int_eq(hw_error_prefix(&e, "%s", "net.json"), HW_EINVAL);
    ck_assert_str_eq(e.msg, "net.json: layer 3: kernel 4");
    ck_assert_int_eq(hw_error(NULL, HW_EIO, "x"), HW_EIO);
    ck_assert_str_eq(hw_status_name(HW_EMISMATCH), "mismatch");
}
END_TEST

START_TEST(test_timer_and_duration)
{
    uint64_t t0 = timer_now_ns();
    ck_assert_uint_ge(timer_now_ns(), t0);
    ck_assert(timer_since_s(t0) >= 0);
    char buf[32];
    progress_format_duration(buf, sizeof buf, 42);
    ck_assert_str_eq(buf, "42s");
    progress_format_duration(buf, sizeof buf, 184);
    ck_assert_str_eq(buf, "3m04s");
    progress_format_duration(buf, sizeof buf, 3720);
    ck_assert_str_eq(buf, "1h02m");
}
END_TEST

START_TEST(test_progress_no_bar_off_tty)
{
    /* Under Check, stderr is not a terminal: the redrawn bar must stay
     * disabled (plain log lines instead, for long runs only). */
    struct progress p;
    progress_init(&p, "test", 10, "items", 0);
    ck_assert_int_eq(p.enabled, 0);
    progress_update(&p, 5);
    ck_assert_int_eq(p.done, 5);
    progress_finish(&p);
}
END_TEST

/* Reads what fn writes to stderr into buf (n bytes, NUL-terminated). */
static void capture_stderr(void (*fn)(void), char *buf, size_t n)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t got = fread(buf, 1, n - 1, tmp);
    buf[got] = '\0';
    fclose(tmp);
}

static void progress_short_run(void)
{
    struct progress p;
    progress_init(&p, "short", 10, "items", 0);
    for (int i = 1; i <= 10; i++)
        progress_update(&p, i);
    progress_finish(&p);
}

static void progress_logged_run(void)
{
    struct progress p;
    progress_init(&p, "long", 10, "items", 0);
    p.log_every_ns = 1; /* as if every update came a minute after the last */
    progress_note(&p, "best %d", 7);
    p.last_draw_ns = 0; /* even on a clock too coarse to have moved */
    progress_update(&p, 5);
    p.last_draw_ns = 0;
    progress_update(&p, 10);
    progress_finish(&p); /* the last line already says 10/10: not again */
}

static void progress_resumed_run(void)
{
    struct progress p;
    progress_init(&p, "resumed", 50, "items", 0);
    p.done = p.base = 40;
    p.log_every_ns = 1;
    p.start_ns -= 200000000ULL; /* this session: 0.2 s so far */
    p.last_draw_ns = 0;
    progress_update(&p, 50);
}

START_TEST(test_progress_log_lines_off_tty)
{
    /* Off a terminal, a short run writes nothing; a long one writes plain
     * lines (no carriage returns or escapes) with count, share and note. */
    char buf[1024];
    hw_log_quiet = 0;
    capture_stderr(progress_short_run, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
    capture_stderr(progress_logged_run, buf, sizeof buf);
    ck_assert_msg(strstr(buf, "long: 5/10 items (50%)") != NULL, "got '%s'", buf);
    ck_assert_msg(strstr(buf, "ETA") != NULL && strstr(buf, "best 7\n") != NULL, "got '%s'", buf);
    const char *last = strstr(buf, "long: 10/10 items (100%)");
    ck_assert_msg(last != NULL && strstr(last + 1, "long: 10/10") == NULL, "got '%s'", buf);
    capture_stderr(progress_resumed_run, buf, sizeof buf);
    /* 40 of the 50 were done before: the rate counts the 10 of this session
     * (10 in 0.2 s: 50/s; counting all 50 would say 250/s) */
    ck_assert_msg(strstr(buf, "resumed: 50/50 items (100%)") != NULL, "got '%s'", buf);
    double rate = -1;
    const char *at = strstr(buf, "%), ");
    ck_assert_msg(at && sscanf(at + 4, "%lf", &rate) == 1, "got '%s'", buf);
    ck_assert_msg(rate > 0 && rate <= 50.5, "rate %.1f: '%s'", rate, buf);
    ck_assert_msg(strchr(buf, '\r') == NULL && strchr(buf, '\033') == NULL, "got '%s'", buf);
}
END_TEST

Suite *suite_util(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("pcg32");
    tcase_add_test(tc, test_pcg32_known_answers);
    tcase_add_test(tc, test_pcg32_bounded_uniform);
    tcase_add_test(tc, test_pcg32_float_normal);
    tcase_add_test(tc, test_pcg32_shuffle);
    suite_add_tcase(s, tc);
    tc = tcase_create("err");
    tcase_add_test(tc, test_err_messages);
    suite_add_tcase(s, tc);
    tc = tcase_create("progress");
    tcase_add_test(tc, test_timer_and_duration);
    tcase_add_test(tc, test_progress_no_bar_off_tty);
    tcase_add_test(tc, test_progress_log_lines_off_tty);
    suite_add_tcase(s, tc);
    return s;
}
