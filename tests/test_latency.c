#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latency/fingerprint.h"
#include "latency/lut.h"
#include "latency/timing.h"

/* A two-layer net on 28x28x1, written out by hand. */
static struct arch tiny_arch(void)
{
    struct arch a;
    memset(&a, 0, sizeof a);
    a.in_h = a.in_w = 28;
    a.in_c = 1;
    a.classes = 10;
    a.stem = (struct arch_stem){3, 1, 16, ARCH_ACT_HSWISH};
    a.n_layers = 2;
    a.layers[0] = (struct arch_layer){3, 2, 16, 64, 24, 0, ARCH_ACT_RELU};
    a.layers[1] = (struct arch_layer){5, 1, 24, 72, 24, 1, ARCH_ACT_HSWISH};
    a.head = (struct arch_head){96, ARCH_ACT_HSWISH, 128, ARCH_ACT_HSWISH, 0.2f};
    return a;
}

static struct lat_stats stats(double med)
{
    return (struct lat_stats){5, med, med, 0.01, med * 0.9, med * 1.2};
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/hwnas-lut-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_lut_keys)
{
    struct arch a = tiny_arch();
    char k[LUT_KEY_MAX];
    ck_assert_int_eq(lut_n_units(&a), 4);
    lut_key(&a, 0, k);
    ck_assert_str_eq(k, "stem-in:28x28x1-k:3-s:1-out:16-act:hswish");
    lut_key(&a, 1, k);
    ck_assert_str_eq(k, "layer-in:28x28x16-mid:64-out:24-k:3-s:2-se:0-act:relu-res:0");
    lut_key(&a, 2, k);
    ck_assert_str_eq(k, "layer-in:14x14x24-mid:72-out:24-k:5-s:1-se:24-act:hswish-res:1");
    lut_key(&a, 3, k);
    ck_assert_str_eq(k, "head-in:14x14x24-conv:96-cact:hswish-fc:128-fact:hswish-cls:10");
}
END_TEST

START_TEST(test_lut_put_get_predict)
{
    struct arch a = tiny_arch();
    struct lat_fingerprint fp;
    lat_fingerprint_current(&fp, 1);
    struct lut t;
    lut_init(&t, &fp);
    char k[LUT_KEY_MAX];
    for (int u = 0; u < 4; u++) {
        lut_key(&a, u, k);
        struct lat_stats s = stats(10.0 * (u + 1));
        ck_assert_int_eq(lut_put(&t, k, &s), HW_OK);
    }
    /* many unrelated keys force the table to grow and rehash */
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "layer-in:%dx7x8-mid:8-out:8-k:3-s:1-se:0-act:relu-res:1", i + 1);
        struct lat_stats s = stats(1);
        ck_assert_int_eq(lut_put(&t, k, &s), HW_OK);
    }
    ck_assert_int_eq(t.n, 304);
    double total, unit[4];
    struct hw_err e;
    ck_assert_int_eq(lut_predict(&t, &a, &total, unit, NULL, &e), HW_OK);
    ck_assert_double_eq_tol(total, 100.0, 1e-9);
    ck_assert_double_eq_tol(unit[2], 30.0, 1e-9);
    a.layers[1].se = 0;
    char missing[LUT_KEY_MAX];
    ck_assert_int_eq(lut_predict(&t, &a, &total, NULL, missing, &e), HW_ENOTFOUND);
    ck_assert_str_eq(missing, "layer-in:14x14x24-mid:72-out:24-k:5-s:1-se:0-act:hswish-res:1");
    ck_assert_ptr_nonnull(strstr(e.msg, missing));
    lut_release(&t);
}
END_TEST

static void round_trip(int csv)
{
    struct arch a = tiny_arch();
    struct lat_fingerprint fp;
    lat_fingerprint_current(&fp, 1);
    struct lut t, back;
    lut_init(&t, &fp);
    char k[LUT_KEY_MAX];
    for (int u = 0; u < 4; u++) {
        lut_key(&a, u, k);
        struct lat_stats s = stats(3.25 * (u + 1));
        lut_put(&t, k, &s);
    }
    char path[] = "/tmp/hwnas-lutx-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct hw_err e;
    ck_assert_int_eq(csv ? lut_export_csv(&t, f, &e) : lut_export_json(&t, f, &e), HW_OK);
    fclose(f);
    ck_assert_int_eq(lut_import(&back, path, &e), HW_OK);
    ck_assert_str_eq(back.fp.hash, fp.hash);
    ck_assert_int_eq(back.n, 4);
    for (int u = 0; u < 4; u++) {
        lut_key(&a, u, k);
        ck_assert_ptr_nonnull(lut_get(&back, k));
        ck_assert_double_eq_tol(lut_get(&back, k)->st.median_us, 3.25 * (u + 1), 1e-3);
    }
    unlink(path);
    lut_release(&t);
    lut_release(&back);
}

START_TEST(test_lut_json_round_trip) { round_trip(0); }
END_TEST
START_TEST(test_lut_csv_round_trip) { round_trip(1); }
END_TEST

/* A valid JSON export with one substitution, for the refusal cases. */
static const char *good_json =
    "{\"format\":\"hwnas-lut\",\"version\":1,\"units\":\"microseconds\",\"fingerprint\":"
    "{\"hash\":\"HASH\",\"cpu\":\"cpu\",\"threads\":1,\"backend\":\"b\",\"blas_core\":\"c\","
    "\"compiler\":\"gcc\",\"hwnas_version\":\"0\"},\"entries\":[{\"key\":"
    "\"KEY\",\"count\":5,\"mean_us\":2,\"median_us\":MED,\"var_us\":0,\"min_us\":1,\"max_us\":3}]}";

static char *make_json(const char *key, const char *med, int good_hash)
{
    struct lat_fingerprint f;
    memset(&f, 0, sizeof f);
    strcpy(f.cpu, "cpu");
    f.threads = 1;
    strcpy(f.backend, "b");
    strcpy(f.blas_core, "c");
    strcpy(f.compiler, "gcc");
    strcpy(f.version, "0");
    lat_fingerprint_rehash(&f);
    static char buf[2048];
    const char *src = good_json;
    char *o = buf;
    while (*src) {
        if (!strncmp(src, "HASH", 4)) o += sprintf(o, "%s", good_hash ? f.hash : "0000000000000000"), src += 4;
        else if (!strncmp(src, "KEY", 3)) o += sprintf(o, "%s", key), src += 3;
        else if (!strncmp(src, "MED", 3)) o += sprintf(o, "%s", med), src += 3;
        else *o++ = *src++;
    }
    *o = '\0';
    return strdup(buf); /* callers free; each case keeps its own text */
}

START_TEST(test_lut_import_refusals)
{
    const char *okkey = "stem-in:28x28x1-k:3-s:1-out:16-act:hswish";
    struct lut t;
    struct hw_err e;
    char *good = make_json(okkey, "2", 1);
    ck_assert_int_eq(lut_import(&t, write_tmp(good), &e), HW_OK);
    free(good);
    lut_release(&t);
    struct { const char *text; const char *msg; } bad[] = {
        {make_json(okkey, "2", 0), "$.fingerprint.hash"},
        {make_json("stem-in:28x28", "2", 1), "$.entries[0].key: 'stem-in:28x28'"},
        {make_json(okkey, "-4", 1), "median_us: -4"},
        {make_json(okkey, "9", 1), "median_us 9 is not between"},
        {"{\"format\":\"hwnas-lut\",\"version\":2}", "$.version: 2"},
        {"{\"format\":\"x\"", "not valid JSON"},
        {"{\"format\":\"hwnas-lut\",\"extra\":1}", "unknown key 'extra'"},
        {"key,count\n", "expected the header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text, "%s", bad[i].text);
        char *path = write_tmp(text);
        ck_assert_int_eq(lut_import(&t, path, &e), HW_EINVAL);
        ck_assert_msg(strstr(e.msg, bad[i].msg) && strstr(e.msg, path), "case %zu: %s", i, e.msg);
        ck_assert_int_eq(t.n, 0);
        unlink(path);
    }
    for (int i = 0; i < 4; i++)
        free((char *)bad[i].text);
    ck_assert_int_eq(lut_import(&t, "/nonexistent/lut.json", &e), HW_EIO);
}
END_TEST

START_TEST(test_fingerprint_compare)
{
    struct lat_fingerprint a, b;
    lat_fingerprint_current(&a, 1);
    b = a;
    struct hw_err e;
    ck_assert_int_eq(lat_fingerprint_compare(&a, &b, &e), HW_OK);
    snprintf(b.blas_core, sizeof b.blas_core, "SkylakeX");
    snprintf(a.blas_core, sizeof a.blas_core, "Haswell");
    ck_assert_int_eq(lat_fingerprint_compare(&a, &b, &e), HW_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(e.msg, "blas core: table has 'Haswell', this run has 'SkylakeX'"));
    b = a;
    b.threads = 2;
    ck_assert_int_eq(lat_fingerprint_compare(&a, &b, &e), HW_EMISMATCH);
    ck_assert_ptr_nonnull(strstr(e.msg, "threads"));
    lat_fingerprint_rehash(&b);
    ck_assert_str_ne(a.hash, b.hash);
}
END_TEST

START_TEST(test_stats_from_samples)
{
    double s[] = {5, 1, 3, 2, 4};
    struct lat_stats st;
    lat_stats_from_samples(s, 5, &st);
    ck_assert_double_eq(st.median_us, 3);
    ck_assert_double_eq(st.mean_us, 3);
    ck_assert_double_eq(st.min_us, 1);
    ck_assert_double_eq(st.max_us, 5);
    ck_assert_double_eq_tol(st.var_us, 2.5, 1e-12);
    double s2[] = {4, 1, 3, 2};
    lat_stats_from_samples(s2, 4, &st);
    ck_assert_double_eq(st.median_us, 2.5);
}
END_TEST

static void count_calls(void *ctx) { (*(int *)ctx)++; }

START_TEST(test_time_counts_runs)
{
    int calls = 0;
    struct lat_stats st;
    lat_time(count_calls, &calls, 3, 300, &st);
    ck_assert_int_eq(calls, 303);
    ck_assert_int_eq(st.count, 300);
    ck_assert(st.min_us <= st.median_us && st.median_us <= st.max_us);
}
END_TEST

Suite *suite_latency(void)
{
    Suite *s = suite_create("latency");
    TCase *tc = tcase_create("lut");
    tcase_add_test(tc, test_lut_keys);
    tcase_add_test(tc, test_lut_put_get_predict);
    tcase_add_test(tc, test_lut_json_round_trip);
    tcase_add_test(tc, test_lut_csv_round_trip);
    tcase_add_test(tc, test_lut_import_refusals);
    suite_add_tcase(s, tc);
    tc = tcase_create("fingerprint");
    tcase_add_test(tc, test_fingerprint_compare);
    suite_add_tcase(s, tc);
    tc = tcase_create("timing");
    tcase_add_test(tc, test_stats_from_samples);
    tcase_add_test(tc, test_time_counts_runs);
    suite_add_tcase(s, tc);
    return s;
}
