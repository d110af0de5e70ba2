#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "latency/calib.h"
#include "latency/fingerprint.h"
#include "latency/lut.h"
#include "latency/keys.h"
#include "latency/measure.h"
#include "latency/spread.h"
#include "latency/table.h"
#include "latency/timing.h"
#include "tests/cli_run.h"
#include "util/pcg32.h"

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

/* Entries whose fastest run (lat_stat, what the table sums) is 0.9 x med. */
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
    ck_assert_double_eq_tol(total, 0.9 * 100.0, 1e-9); /* the fastest runs, not the medians */
    ck_assert_double_eq_tol(unit[2], 0.9 * 30.0, 1e-9);
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
    struct lat_calib cal = {.alpha_us = -12.5, .beta = 1.125, .gamma_us = 30.25,
                            .delta_us = 2.5, .samples = 100, .rmspe_sum = 0.0625,
                            .rmspe_fit = 0.03125, .stat_min = 1};
    char in[LUT_INPUT_MAX];
    lut_input_shape(&a, in);
    ck_assert_int_eq(lut_set_calib(&t, in, &cal), HW_OK);
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
    if (csv) {
        ck_assert_ptr_null(lut_get_calib(&back, &a)); /* CSV carries entries only */
    } else {
        const struct lut_calib *c = lut_get_calib(&back, &a);
        ck_assert_ptr_nonnull(c);
        ck_assert(c->c.alpha_us == cal.alpha_us && c->c.beta == cal.beta &&
                  c->c.gamma_us == cal.gamma_us && c->c.delta_us == cal.delta_us &&
                  c->c.samples == cal.samples &&
                  c->c.rmspe_sum == cal.rmspe_sum && c->c.rmspe_fit == cal.rmspe_fit);
        ck_assert_double_eq_tol(lut_calibrated(&back, &a, 100), -12.5 + 112.5 +
                                30.25 * arch_cost(&a).params / 1e6 +
                                2.5 * arch_cost(&a).macs / 1e6, 1e-9);
        /* one fitted to medians (an older hwnas) travels but is not used */
        lut_release(&back);
        cal.stat_min = 0;
        ck_assert_int_eq(lut_set_calib(&t, in, &cal), HW_OK);
        f = fopen(path, "w");
        ck_assert_int_eq(lut_export_json(&t, f, &e), HW_OK);
        fclose(f);
        ck_assert_int_eq(lut_import(&back, path, &e), HW_OK);
        ck_assert_int_eq(back.n_calib, 1);
        ck_assert_int_eq(back.calib[0].c.stat_min, 0);
        ck_assert_ptr_null(lut_get_calib(&back, &a));
        ck_assert_double_eq(lut_calibrated(&back, &a, 100), 100);
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

/* The fingerprint of good_json and good_csv. */
static struct lat_fingerprint test_fp(void)
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
    return f;
}

static char *make_json(const char *key, const char *med, int good_hash)
{
    struct lat_fingerprint f = test_fp();
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

/* json with a "calibrations" array of the given objects. */
static char *with_calib(const char *json, const char *objects)
{
    char buf[4096];
    size_t n = strlen(json) - 1; /* before the closing brace */
    snprintf(buf, sizeof buf, "%.*s,\"calibrations\":[%s]}", (int)n, json, objects);
    return strdup(buf);
}

#define CALIB(in) "{\"input\":\"" in "\",\"samples\":9,\"alpha_us\":-3,\"beta\":1.1," \
                  "\"gamma_us\":2,\"rmspe_sum\":0.05,\"rmspe_fit\":0.02}"
#define CALIB_MACS(in, d) "{\"input\":\"" in "\",\"samples\":9,\"alpha_us\":-3,\"beta\":1.1," \
                          "\"gamma_us\":2,\"delta_us\":" d ",\"rmspe_sum\":0.05,\"rmspe_fit\":0.02}"
#define CALIB_STAT(in, s) "{\"input\":\"" in "\",\"samples\":9,\"alpha_us\":-3,\"beta\":1.1," \
                          "\"gamma_us\":2,\"rmspe_sum\":0.05,\"rmspe_fit\":0.02,\"stat\":\"" s "\"}"

START_TEST(test_lut_import_refusals)
{
    const char *okkey = "stem-in:28x28x1-k:3-s:1-out:16-act:hswish";
    struct lut t;
    struct hw_err e;
    char *good = make_json(okkey, "2", 1);
    ck_assert_int_eq(lut_import(&t, write_tmp(good), &e), HW_OK);
    lut_release(&t);
    char *calibrated = with_calib(good, CALIB("28x28x1"));
    ck_assert_msg(lut_import(&t, write_tmp(calibrated), &e) == HW_OK, "%s", e.msg);
    ck_assert_int_eq(t.n_calib, 1);
    ck_assert(t.calib[0].c.delta_us == 0); /* a file older than the MACs term */
    free(calibrated);
    lut_release(&t);
    calibrated = with_calib(good, CALIB_MACS("28x28x1", "4.5"));
    ck_assert_msg(lut_import(&t, write_tmp(calibrated), &e) == HW_OK, "%s", e.msg);
    ck_assert(t.n_calib == 1 && t.calib[0].c.delta_us == 4.5);
    free(calibrated);
    lut_release(&t);
    struct { const char *text; const char *msg; } bad[] = {
        {make_json(okkey, "2", 0), "$.fingerprint.hash"},
        {make_json("stem-in:28x28", "2", 1), "$.entries[0].key: 'stem-in:28x28'"},
        {make_json(okkey, "-4", 1), "median_us: -4"},
        {make_json(okkey, "9", 1), "median_us 9 is not between"},
        /* keys sscanf reads but lut_key never writes (fuzz_lut_json: a
         * newline inside a key broke the table's CSV export) */
        {make_json("stem-in:\\n28x28x1-k:3-s:1-out:16-act:hswish", "2", 1),
         "$.entries[0].key: 'stem-in:\n28x28x1"},
        {make_json("stem-in:28x28x1-k:03-s:1-out:16-act:hswish", "2", 1), "-k:03-s"},
        {make_json("stem-in:28x28x1-k:3-s:-1-out:16-act:hswish", "2", 1), "-s:-1-out"},
        {make_json("head-in:7x7x8-conv:0-cact:relu-fc:0-fact:gelu-cls:10", "2", 1),
         "fact:gelu-cls:10' is not a latency table key"},
        {"{\"format\":\"hwnas-lut\",\"version\":5}", "$.version: 5"},
        {"{\"format\":\"x\"", "invalid JSON at byte"},
        {"{\"format\":\"hwnas-lut\",\"extra\":1}", "$.extra: unknown key"},
        {"key,count\n", "expected the header"},
        {with_calib(good, CALIB("28x28")), "$.calibrations[0].input: '28x28'"},
        {with_calib(good, CALIB(" 28x28x01")), "$.calibrations[0].input: ' 28x28x01'"},
        {with_calib(good, CALIB("28x28x1") "," CALIB("28x28x1")),
         "$.calibrations[1].input: '28x28x1' appears twice"},
        {with_calib(good, CALIB_MACS("28x28x1", "\"x\"")), "$.calibrations[0].delta_us"},
        {with_calib(good, CALIB_STAT("28x28x1", "p90")), "$.calibrations[0].stat: 'p90'"},
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
    /* a control character in a fingerprint field (it would break the CSV
     * export's header lines) */
    char *ctl = make_json(okkey, "2", 1);
    memcpy(strstr(ctl, "\"cpu\""), "\"cpu\":\"\\nu\"", 11); /* "cpu":"cpu" -> "cpu":"\nu" */
    ck_assert_int_eq(lut_import_string(&t, ctl, "c.json", &e), HW_EINVAL);
    ck_assert_msg(strstr(e.msg, "c.json: $.fingerprint.cpu: '\nu' has a control character"), "%s",
                  e.msg);
    free(ctl);
    for (int i = 0; i < 8; i++) /* the make_json cases */
        free((char *)bad[i].text);
    for (size_t i = 12; i < sizeof bad / sizeof bad[0]; i++) /* the with_calib cases */
        free((char *)bad[i].text);
    free(good);
    ck_assert_int_eq(lut_import(&t, "/nonexistent/lut.json", &e), HW_EIO);
}
END_TEST

/* A CSV export of test_fp() with its threads line (line 4) and one entry's
 * fields after its key (line 10) given; malloc'd. */
static char *make_csv(const char *threads_line, const char *fields)
{
    struct lat_fingerprint f = test_fp();
    char buf[2048];
    snprintf(buf, sizeof buf,
             "# hwnas-lut version 1, units microseconds\n# hash=%s\n# cpu=cpu\n%s\n"
             "# backend=b\n# blas_core=c\n# compiler=gcc\n# hwnas_version=0\n"
             "key,count,mean_us,median_us,var_us,min_us,max_us\n"
             "stem-in:28x28x1-k:3-s:1-out:16-act:hswish,%s\n", f.hash, threads_line, fields);
    return strdup(buf);
}

/* The CSV reader refuses what the JSON reader refuses, naming the line,
 * field and value (found by fuzz_lut_csv: a var_us of 4e125, or no threads
 * line, imported from CSV, and the table's JSON export was then refused). */
START_TEST(test_lut_import_csv_refusals)
{
    struct lut t, back;
    struct hw_err e;
    char *text = make_csv("# threads=1", "5,2,2,1e24,1,1e12");
    ck_assert_msg(lut_import_string(&t, text, "t.csv", &e) == HW_OK, "%s", e.msg);
    free(text);
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    ck_assert_int_eq(lut_export_json(&t, f, &e), HW_OK);
    fclose(f);
    ck_assert_msg(lut_import_string(&back, json, "t.json", &e) == HW_OK, "%s", e.msg);
    ck_assert_int_eq(back.n, 1);
    free(json);
    lut_release(&t);
    lut_release(&back);
    struct { const char *threads_line, *fields, *msg; } bad[] = {
        {"# threads=1", "5,2,2,4.4e125,1,3", "line 10.var_us: 4.4e+125 is not a time in [0, 1e+24]"},
        {"# threads=1", "5,2,2e12,0,1,3e12", "line 10.median_us: 2e+12 is not a time in [0, 1e+12]"},
        {"# threads=1", "2.5,2,2,0,1,3", "line 10: count: '2.5' is not a run count in 1..1000000000"},
        {"# threads=1", "1e10,2,2,0,1,3", "line 10: count: '1e10' is not a run count"},
        {"# threads=1", "nan,2,2,0,1,3", "line 10: count: 'nan' is not a run count"},
        {"# threads=x1", "5,2,2,0,1,3", "line 4: threads: 'x1' is not a thread count in 1..1024"},
        {"# threads=0", "5,2,2,0,1,3", "line 4: threads: '0' is not a thread count"},
        {"# threads=99999999999999999999", "5,2,2,0,1,3", "line 4: threads: '99999999999999999999'"},
        {"", "5,2,2,0,1,3", "line 9: the fingerprint comment line '# threads=' is missing"},
        {"# threads=1\n# cpu=cpu", "5,2,2,0,1,3", "line 5: header field 'cpu' appears twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = make_csv(bad[i].threads_line, bad[i].fields);
        ck_assert_int_eq(lut_import_string(&t, text, "t.csv", &e), HW_EINVAL);
        ck_assert_msg(strstr(e.msg, bad[i].msg) && !strncmp(e.msg, "t.csv: ", 7), "case %zu: %s",
                      i, e.msg);
        ck_assert_int_eq(t.n, 0);
        free(text);
    }
    /* a cpu field longer than the JSON reader takes is refused, not cut; one
     * with a control character is refused */
    char cpu[300];
    memset(cpu, 'x', sizeof cpu - 1);
    cpu[sizeof cpu - 1] = '\0';
    const char *cpus[][2] = {{cpu, "' is longer than 127 bytes"},
                             {"c\tpu", "c\tpu' has a control character"}};
    text = make_csv("# threads=1", "5,2,2,0,1,3");
    char *at = strstr(text, "# cpu=cpu");
    for (int i = 0; i < 2; i++) {
        char *edited = malloc(strlen(text) + sizeof cpu);
        sprintf(edited, "%.*s# cpu=%s%s", (int)(at - text), text, cpus[i][0],
                at + strlen("# cpu=cpu"));
        ck_assert_int_eq(lut_import_string(&t, edited, "t.csv", &e), HW_EINVAL);
        ck_assert_msg(!strncmp(e.msg, "t.csv: line 3: cpu: '", 21) && strstr(e.msg, cpus[i][1]),
                      "%s", e.msg);
        free(edited);
    }
    free(text);
}
END_TEST

/* The cpu field names model, architecture, cores and kernel; a table from
 * another of any is refused with that part named. */
START_TEST(test_fingerprint_cpu_parts)
{
    struct lat_fingerprint here, other;
    lat_fingerprint_current(&here, 1);
    char model[128], arch[128], cores[128], kernel[128];
    ck_assert_int_eq(sscanf(here.cpu, "%127[^|]| %127[^|]| %127[^|]| %127[^\n]", model, arch,
                            cores, kernel), 4);
    ck_assert_msg(strstr(cores, " cores") && !strncmp(kernel, "Linux ", 6), "%s", here.cpu);
#if defined(__x86_64__)
    ck_assert_msg(!strncmp(arch, "x86_64", 6), "%s", here.cpu);
#elif defined(__aarch64__)
    ck_assert_msg(!strncmp(arch, "aarch64", 7), "%s", here.cpu);
#endif
    static const struct {
        const char *from, *to, *part;
    } cases[] = {{" | Linux ", " | Linux 0.0-other", "kernel: table has 'Linux 0.0-other'"},
                 {" cores | ", "999 cores | ", "cores: table has '999 cores'"},
                 {"x86_64 | ", "riscv64 | ", "architecture: table has 'riscv64'"},
                 {"aarch64 | ", "riscv64 | ", "architecture: table has 'riscv64'"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *at = strstr(here.cpu, cases[i].from);
        if (!at)
            continue; /* the other architecture's case */
        other = here;
        /* rebuild the field with the part replaced */
        char buf[256];
        size_t pre = (size_t)(at - here.cpu);
        const char *after = at + strlen(cases[i].from);
        if (!strcmp(cases[i].from, " | Linux ")) /* replace the whole release */
            after = "";
        else if (!strcmp(cases[i].from, " cores | ")) { /* replace the count before it */
            while (pre > 0 && here.cpu[pre - 1] != ' ')
                pre--;
            after = at + strlen(cases[i].from);
        }
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, here.cpu, cases[i].to, after);
        snprintf(other.cpu, sizeof other.cpu, "%s", buf);
        lat_fingerprint_rehash(&other);
        struct hw_err e;
        ck_assert_int_eq(lat_fingerprint_compare(&other, &here, &e), HW_EMISMATCH);
        ck_assert_msg(strstr(e.msg, cases[i].part), "%s -> %s", other.cpu, e.msg);
    }
    /* an older table's plain model name: the whole field is named */
    other = here;
    snprintf(other.cpu, sizeof other.cpu, "%s", "Some CPU");
    struct hw_err e;
    ck_assert_int_eq(lat_fingerprint_compare(&other, &here, &e), HW_EMISMATCH);
    ck_assert_msg(strstr(e.msg, "cpu: table has 'Some CPU'"), "%s", e.msg);
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
    /* a clock glitch (a reading clamped to 0) is not the fastest run */
    double s3[] = {33.1, 0, 34.0, 32.9, 0};
    lat_stats_from_samples(s3, 5, &st);
    ck_assert_double_eq(st.min_us, 32.9);
    ck_assert_double_eq(st.median_us, 33.1); /* of the three real runs */
    double s4[] = {0, 0, 0.1};
    lat_stats_from_samples(s4, 3, &st);
    ck_assert_double_eq(st.min_us, 0); /* mostly 0: a unit cheaper than the clock */
    /* the glitches leave every figure, so min <= mean and median holds */
    double s5[] = {0, 10, 10.1, 10.2, 10.3}, s6[] = {0, 10}, s7[] = {0, 0, 5, 6};
    double *sets[] = {s5, s6, s7};
    int lens[] = {5, 2, 4};
    for (int i = 0; i < 3; i++) {
        lat_stats_from_samples(sets[i], lens[i], &st);
        ck_assert_int_eq(st.count, lens[i]);
        ck_assert(st.min_us <= st.mean_us && st.mean_us <= st.max_us);
        ck_assert(st.min_us <= st.median_us && st.median_us <= st.max_us);
    }
    lat_stats_from_samples(s5, 5, &st);
    ck_assert_double_eq(st.min_us, 10);
    ck_assert_double_eq_tol(st.mean_us, 10.15, 1e-12);
    lat_stats_from_samples(s6, 2, &st); /* half glitches: all kept */
    ck_assert_double_eq(st.min_us, 0);
}
END_TEST

static void count_calls(void *ctx) { (*(int *)ctx)++; }

START_TEST(test_time_counts_runs)
{
    int calls = 0;
    struct lat_stats st;
    struct lat_timing tm = {3, 300, 300, 0, LAT_CLOCK_WALL};
    lat_time(count_calls, &calls, &tm, &st);
    ck_assert_int_eq(calls, 303);
    ck_assert_int_eq(st.count, 300);
    ck_assert(st.min_us <= st.median_us && st.median_us <= st.max_us);
    /* a budget stops after min_runs once it has passed */
    calls = 0;
    tm = (struct lat_timing){0, 100000, 7, 1e-6, LAT_CLOCK_THREAD};
    lat_time(count_calls, &calls, &tm, &st);
    ck_assert_int_eq(calls, 7);
    ck_assert(lat_clock_overhead_us(LAT_CLOCK_THREAD) >= 0);
}
END_TEST


/* ---- table: database glue, selection, on-demand measurement ---- */

static char db_file[64];

static const char *fresh_db(void)
{
    snprintf(db_file, sizeof db_file, "/tmp/hwnas-latdb-XXXXXX");
    int fd = mkstemp(db_file);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(db_file);
    return db_file;
}

static void drop_db(const char *path)
{
    char p[96];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Few runs so measuring tests stay fast. */
static void quick(struct lat_table *t)
{
    t->timing = (struct lat_timing){1, 3, 3, 0, LAT_CLOCK_WALL};
}

/* Opens the database at path and this machine's 1-thread table in it. */
static struct db *open_local(const char *path, struct lat_table *t)
{
    struct db *db;
    struct hw_err e;
    ck_assert_msg(db_open(&db, path, 0, &e) == HW_OK, "%s", e.msg);
    ck_assert_msg(lat_table_open(t, db, NULL, 1, &e) == HW_OK, "%s", e.msg);
    return db;
}

START_TEST(test_table_round_trip)
{
    const char *path = fresh_db();
    struct hw_err e;
    struct lat_table t;
    struct db *db = open_local(path, &t);
    ck_assert(t.local);
    ck_assert_int_eq(t.lut.n, 0);
    struct arch a = tiny_arch();
    char k[LUT_KEY_MAX];
    for (int u = 0; u < 4; u++) {
        lut_key(&a, u, k);
        struct lat_stats s = stats(7.5 * (u + 1));
        ck_assert_int_eq(lat_table_put(&t, k, &s, &e), HW_OK);
    }
    int64_t id = t.device_id;
    lat_table_release(&t);
    /* reopened by id: same device, same entries, the device row's fingerprint */
    char sel[32];
    snprintf(sel, sizeof sel, "%lld", (long long)id);
    ck_assert_int_eq(lat_table_open(&t, db, sel, 1, &e), HW_OK);
    ck_assert_int_eq(t.lut.n, 4);
    ck_assert(t.local);
    struct lat_fingerprint here;
    lat_fingerprint_current(&here, 1);
    ck_assert_str_eq(t.lut.fp.hash, here.hash);
    double total;
    ck_assert_int_eq(lut_predict(&t.lut, &a, &total, NULL, NULL, &e), HW_OK);
    ck_assert_double_eq_tol(total, 0.9 * 75.0, 1e-9);
    lat_table_release(&t);
    /* by hash prefix; a 2-thread table is another device */
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%.6s", here.hash);
    ck_assert_int_eq(lat_table_open(&t, db, prefix, 1, &e), HW_OK);
    ck_assert_int_eq(t.device_id, id);
    lat_table_release(&t);
    ck_assert_int_eq(lat_table_open(&t, db, NULL, 2, &e), HW_OK);
    ck_assert_int_ne(t.device_id, id);
    ck_assert_int_eq(t.lut.n, 0);
    lat_table_release(&t);
    ck_assert_int_eq(lat_table_open(&t, db, "999", 1, &e), HW_ENOTFOUND);
    ck_assert_int_eq(lat_table_open(&t, db, "zzzzzz", 1, &e), HW_ENOTFOUND);
    db_close(db);
    drop_db(path);
}
END_TEST

START_TEST(test_table_refuses_other_device)
{
    const char *path = fresh_db();
    struct db *db;
    struct hw_err e;
    ck_assert_int_eq(db_open(&db, path, 0, &e), HW_OK);
    struct lat_fingerprint other;
    lat_fingerprint_current(&other, 1);
    snprintf(other.blas_core, sizeof other.blas_core, "Pentium4");
    lat_fingerprint_rehash(&other);
    int64_t id;
    ck_assert_int_eq(lat_device_get_or_create(db, &other, &id, &e), HW_OK);
    char sel[32];
    snprintf(sel, sizeof sel, "%lld", (long long)id);
    struct lat_table t;
    ck_assert_int_eq(lat_table_open(&t, db, sel, 1, &e), HW_OK);
    ck_assert(!t.local);
    ck_assert_int_eq(lat_table_require_local(&t, &e), HW_EMISMATCH);
    ck_assert_msg(strstr(e.msg, "blas core: table has 'Pentium4', this run has"), "%s", e.msg);
    /* predicting from it works; a missing key is an error, not a measurement */
    struct arch a = tiny_arch();
    char k[LUT_KEY_MAX];
    lut_key(&a, 0, k);
    struct lat_stats s = stats(4);
    ck_assert_int_eq(lat_table_put(&t, k, &s, &e), HW_OK);
    ck_assert_int_eq(lat_lookup_or_measure(&t, &a, 0, &s, &e), HW_OK);
    ck_assert_double_eq(s.median_us, 4);
    ck_assert_int_eq(lat_lookup_or_measure(&t, &a, 1, &s, &e), HW_ENOTFOUND);
    lut_key(&a, 1, k);
    ck_assert_msg(strstr(e.msg, k) && strstr(e.msg, "Pentium4"), "%s", e.msg);
    double total;
    ck_assert_int_eq(lat_table_predict(&t, &a, &total, NULL, NULL, &e), HW_ENOTFOUND);
    ck_assert_int_eq(lat_table_measure(&t, &a, NULL, &e), HW_EMISMATCH);
    int n;
    ck_assert_int_eq(db_lut_count(db, id, &n, &e), HW_OK);
    ck_assert_int_eq(n, 1);
    lat_table_release(&t);
    db_close(db);
    drop_db(path);
}
END_TEST

START_TEST(test_lookup_or_measure)
{
    const char *path = fresh_db();
    struct hw_err e;
    struct lat_table t;
    struct db *db = open_local(path, &t);
    quick(&t);
    struct arch a = tiny_arch();
    a.layers[1].mid = 37; /* an odd channel count, as NetAdapt makes */
    struct lat_stats s;
    ck_assert_int_eq(lat_lookup_or_measure(&t, &a, 2, &s, &e), HW_OK);
    ck_assert_int_eq(s.count, 3);
    ck_assert(s.median_us > 0);
    char k[LUT_KEY_MAX];
    lut_key(&a, 2, k);
    struct db_lut_entry de;
    ck_assert_int_eq(db_lut_get(db, t.device_id, k, &de, &e), HW_OK);
    ck_assert_double_eq(de.median_us, s.median_us);
    ck_assert_int_eq(t.lut.n, 1);
    /* predict measures the other three in one pass */
    double total, unit[4];
    int measured;
    ck_assert_int_eq(lat_table_predict(&t, &a, &total, unit, &measured, &e), HW_OK);
    ck_assert_int_eq(measured, 3);
    ck_assert_int_eq(t.lut.n, 4);
    ck_assert_double_eq(unit[2], s.min_us);
    ck_assert_double_eq_tol(total, unit[0] + unit[1] + unit[2] + unit[3], 1e-9);
    ck_assert_int_eq(lat_table_predict(&t, &a, &total, NULL, &measured, &e), HW_OK);
    ck_assert_int_eq(measured, 0);
    lat_table_release(&t);
    db_close(db);
    drop_db(path);
}
END_TEST

/* A later pass lowers an entry only where it times faster; the database
 * holds what memory holds; another device's table is refused. */
START_TEST(test_table_remeasure)
{
    const char *path = fresh_db();
    struct hw_err e;
    struct lat_table t;
    struct db *db = open_local(path, &t);
    quick(&t);
    struct arch a = tiny_arch();
    char k[LUT_KEY_MAX];
    /* unit 0: an entry no real timing can beat; unit 1: one any timing beats */
    struct lat_stats fast = stats(0), slow = stats(1e9);
    lut_key(&a, 0, k);
    ck_assert_int_eq(lat_table_put(&t, k, &fast, &e), HW_OK);
    lut_key(&a, 1, k);
    ck_assert_int_eq(lat_table_put(&t, k, &slow, &e), HW_OK);
    unsigned char want[4] = {1, 1, 0, 0}, faster[4] = {0};
    ck_assert_msg(lat_table_remeasure(&t, &a, want, faster, &e) == HW_OK, "%s", e.msg);
    ck_assert(!faster[0] && faster[1] && !faster[2] && !faster[3]);
    lut_key(&a, 0, k);
    ck_assert_double_eq(lut_get(&t.lut, k)->st.median_us, 0);
    lut_key(&a, 1, k);
    double lowered = lut_get(&t.lut, k)->st.median_us;
    ck_assert(lowered > 0 && lowered < 1e9);
    ck_assert_int_eq(lut_get(&t.lut, k)->st.count, 3);
    struct db_lut_entry de;
    ck_assert_int_eq(db_lut_get(db, t.device_id, k, &de, &e), HW_OK);
    ck_assert_double_eq(de.median_us, lowered);
    /* a unit with no entry yet gets one; units not wanted stay absent */
    want[0] = want[1] = 0, want[2] = 1;
    memset(faster, 0, sizeof faster);
    ck_assert_int_eq(lat_table_remeasure(&t, &a, want, faster, &e), HW_OK);
    ck_assert(faster[2] && !faster[3]);
    ck_assert_int_eq(t.lut.n, 3);
    /* two units with one key (a repeated layer): only the faster of the two
     * is stored, not both in turn */
    struct arch r = a;
    r.n_layers = 3;
    r.layers[2] = r.layers[1];
    char rk[LUT_KEY_MAX];
    lut_key(&r, 2, rk);
    lut_key(&r, 3, k);
    ck_assert_str_eq(rk, k);
    struct lat_stats huge = stats(1e9);
    ck_assert_int_eq(lat_table_put(&t, k, &huge, &e), HW_OK);
    unsigned char rwant[5] = {0, 0, 1, 1, 0}, rfaster[5] = {0};
    ck_assert_int_eq(lat_table_remeasure(&t, &r, rwant, rfaster, &e), HW_OK);
    ck_assert(rfaster[2] != rfaster[3]); /* one entry, from one of the two */
    ck_assert_int_eq(db_lut_get(db, t.device_id, k, &de, &e), HW_OK);
    ck_assert_double_eq(de.median_us, lut_get(&t.lut, k)->st.median_us);
    ck_assert(de.median_us < 1e9);
    lat_table_release(&t);
    /* not this machine's table: refused, nothing written */
    struct lat_fingerprint other;
    lat_fingerprint_current(&other, 1);
    snprintf(other.compiler, sizeof other.compiler, "tcc 0.9");
    lat_fingerprint_rehash(&other);
    int64_t id;
    ck_assert_int_eq(lat_device_get_or_create(db, &other, &id, &e), HW_OK);
    char sel[32];
    snprintf(sel, sizeof sel, "%lld", (long long)id);
    ck_assert_int_eq(lat_table_open(&t, db, sel, 1, &e), HW_OK);
    ck_assert_int_eq(lat_table_remeasure(&t, &a, NULL, NULL, &e), HW_EMISMATCH);
    int n;
    ck_assert_int_eq(db_lut_count(db, id, &n, &e), HW_OK);
    ck_assert_int_eq(n, 0);
    lat_table_release(&t);
    db_close(db);
    drop_db(path);
}
END_TEST

START_TEST(test_table_import)
{
    const char *path = fresh_db();
    struct db *db;
    struct hw_err e;
    ck_assert_int_eq(db_open(&db, path, 0, &e), HW_OK);
    const char *okkey = "stem-in:28x28x1-k:3-s:1-out:16-act:hswish";
    char *bad = make_json(okkey, "-1", 1);
    char *bad_path = strdup(write_tmp(bad));
    ck_assert_int_eq(lat_table_import(db, bad_path, NULL, NULL, &e), HW_EINVAL);
    struct db_device *d;
    int n;
    ck_assert_int_eq(db_device_list(db, &d, &n, &e), HW_OK);
    ck_assert_int_eq(n, 0); /* refused whole: not even the device row */
    free(d);
    char *good = make_json(okkey, "2", 1);
    char *good_path = strdup(write_tmp(good));
    int64_t id;
    ck_assert_int_eq(lat_table_import(db, good_path, &id, &n, &e), HW_OK);
    ck_assert_int_eq(n, 1);
    struct db_device dev;
    ck_assert_int_eq(db_device_get(db, id, &dev, &e), HW_OK);
    ck_assert_str_eq(dev.cpu, "cpu");
    ck_assert_str_eq(dev.blas_core, "c");
    struct db_lut_entry de;
    ck_assert_int_eq(db_lut_get(db, id, okkey, &de, &e), HW_OK);
    ck_assert_double_eq(de.median_us, 2);
    unlink(bad_path);
    unlink(good_path);
    free(bad);
    free(good);
    free(bad_path);
    free(good_path);
    db_close(db);
    drop_db(path);
}
END_TEST

/* ---- keys of a space ---- */

/* Two blocks small enough to enumerate every arch: 2*1*2*1*2*1 x 2*2*1*1*2*2 = 8 x 32. */
static const char *tiny_space_json =
    "{\"version\":1,\"name\":\"tiny\",\"input\":{\"h\":8,\"w\":8,\"c\":1},\"classes\":3,"
    "\"stem\":{\"k\":3,\"stride\":1,\"out\":8,\"act\":\"relu\"},"
    "\"head\":{\"conv_out\":16,\"conv_act\":\"hswish\",\"fc_hidden\":0,\"fc_act\":\"relu\","
    "\"dropout\":0},\"blocks\":["
    "{\"stride\":1,\"width\":8,\"kernel\":[3,5],\"expansion\":[1],\"se\":[0,1],\"act\":[\"relu\"],"
    "\"layers\":[1,2],\"width_mult\":[1.0]},"
    "{\"stride\":2,\"width\":16,\"kernel\":[3,5],\"expansion\":[2,3],\"se\":[0],"
    "\"act\":[\"relu\"],\"layers\":[1,2],\"width_mult\":[0.5,1.0]}]}";

/* The same with a searched head: [1] 2 conv widths x 2 hidden FCs, [2] the
 * conv widths alone, [3] the hidden FCs alone. */
static const char *const tiny_head_opts[] = {
    "}",
    ",\"head_options\":{\"conv_out\":[16,24],\"fc_hidden\":[0,12]}}",
    ",\"head_options\":{\"conv_out\":[16,24]}}",
    ",\"head_options\":{\"fc_hidden\":[0,12]}}",
};
/* head keys per last-block width in each of them */
static const int tiny_heads[] = {1, 4, 2, 2};

/* tiny_space_json with tiny_head_opts[heads]. */
static void tiny_space_with(struct space *s, int heads)
{
    char text[2048];
    size_t n = strlen(tiny_space_json) - 1; /* without the closing brace */
    snprintf(text, sizeof text, "%.*s%s", (int)n, tiny_space_json, tiny_head_opts[heads]);
    struct hw_err e;
    ck_assert_msg(space_from_json_string(text, "tiny", s, &e) == HW_OK, "%s", e.msg);
}


/* _i: 0 the tiny space, 1-3 the same with its head searched (tiny_head_opts). */
START_TEST(test_space_keys)
{
    struct space s;
    tiny_space_with(&s, _i);
    struct lut need, every;
    lut_init(&need, NULL);
    lut_init(&every, NULL);
    struct hw_err e;
    ck_assert_int_eq(lat_space_keys(&s, &need, &e), HW_OK);
    /* oracle: the keys of every arch of the space, by brute force */
    int nt = space_n_tokens(&s), tok[SPACE_MAX_TOKENS] = {0};
    struct lat_stats z = {0};
    for (;;) {
        struct arch a;
        char k[LUT_KEY_MAX];
        ck_assert_int_eq(space_decode(&s, tok, &a, &e), HW_OK);
        for (int u = 0; u < lut_n_units(&a); u++) {
            lut_key(&a, u, k);
            lut_put(&every, k, &z);
        }
        int t = 0;
        while (t < nt && ++tok[t] == space_token_choices(&s, t))
            tok[t++] = 0;
        if (t == nt)
            break;
    }
    /* stem 1; block 0: 4 first (in 8 = out 8) whose repeats are the same keys;
     * block 1: 2 k x 2 e x 2 w first + 2 x 2 x 2 repeats; head: 2 widths,
     * each with tiny_heads[_i] head options */
    ck_assert_int_eq(every.n, 1 + 4 + 16 + 2 * tiny_heads[_i]);
    ck_assert_int_eq(need.n, every.n);
    for (int i = 0; i < every.cap; i++)
        if (every.entries[i].key[0])
            ck_assert_msg(lut_get(&need, every.entries[i].key), "%s", every.entries[i].key);
    lut_release(&need);
    lut_release(&every);
}
END_TEST

START_TEST(test_space_cover)
{
    struct space s;
    tiny_space_with(&s, _i);
    struct lut need, have;
    lut_init(&need, NULL);
    lut_init(&have, NULL);
    struct hw_err e;
    ck_assert_int_eq(lat_space_keys(&s, &need, &e), HW_OK);
    struct lat_stats z = {0};
    int nets = 0, n;
    for (;;) {
        struct arch a;
        unsigned char want[ARCH_MAX_LAYERS + 2];
        ck_assert_int_eq(lat_space_cover(&s, &need, &have, &a, want, &n, &e), HW_OK);
        if (!n)
            break;
        int flagged = 0;
        for (int u = 0; u < lut_n_units(&a); u++) {
            if (!want[u])
                continue;
            char k[LUT_KEY_MAX];
            lut_key(&a, u, k);
            ck_assert_ptr_nonnull(lut_get(&need, k));
            ck_assert_ptr_null(lut_get(&have, k)); /* only missing keys, once */
            lut_put(&have, k, &z);
            flagged++;
        }
        ck_assert_int_eq(flagged, n);
        ck_assert_int_lt(++nets, 30);
    }
    ck_assert_int_eq(have.n, need.n);
    /* block 1 has 8 first-layer keys (and, searched, the head 8) and one
     * arch holds one of each: 8 nets suffice */
    ck_assert_int_eq(nets, 8);
    lut_release(&need);
    lut_release(&have);
}
END_TEST

static int count_timings(void *ctx, int done)
{
    int *calls = ctx;
    ck_assert_int_eq(done, ++*calls);
    return done == 5; /* the caller stops the sixth */
}

START_TEST(test_measure_units)
{
    struct arch a = tiny_arch();
    unsigned char want[4] = {0, 0, 1, 0};
    struct lat_stats st[4];
    memset(st, 0, sizeof st);
    struct lat_timing tm = {1, 5, 5, 0, LAT_CLOCK_THREAD};
    struct hw_err e;
    ck_assert_int_eq(lat_measure_units(&a, want, &tm, st, &e), HW_OK);
    ck_assert_int_eq(st[2].count, 5);
    ck_assert_int_eq(st[1].count, 0); /* not wanted: untouched */
    ck_assert(st[2].median_us > 0);
    ck_assert_int_eq(lat_measure_arch(&a, &tm, &st[0], &e), HW_OK);
    ck_assert_int_eq(st[0].count, 5);
    /* several networks in interleaved passes: one progress call per timing */
    struct arch two[2] = {a, a};
    two[1].layers[0].mid *= 2;
    double med[2];
    int calls = 0;
    ck_assert_int_eq(lat_measure_archs(two, 2, 2, &tm, med, count_timings, &calls, &e), HW_OK);
    ck_assert_int_eq(calls, 4);
    ck_assert(med[0] > 0 && med[1] > 0);
    calls = 0;
    ck_assert_int_eq(lat_measure_archs(two, 2, 3, &tm, med, count_timings, &calls, &e), HW_EINTR);
    ck_assert_int_eq(calls, 5);
    /* every layer with expand and SE: the most tensors per layer (once overflowed nn's
     * tensor table; ASan catches a regression) */
    a.n_layers = 20;
    for (int i = 0; i < a.n_layers; i++)
        a.layers[i] = (struct arch_layer){3, 1, 16, 32, 16, 1, ARCH_ACT_HSWISH};
    a.head.conv_out = 32;
    struct lat_stats deep[22];
    tm.runs = tm.min_runs = 1;
    ck_assert_int_eq(lat_measure_units(&a, NULL, &tm, deep, &e), HW_OK);
    ck_assert_int_eq(deep[21].count, 1);
}
END_TEST

/* ---- calibration ---- */

START_TEST(test_calib_fit)
{
    enum { N = 12 };
    struct lat_calib_x x[N];
    double measured[N];
    for (int i = 0; i < N; i++) {
        x[i].sum_us = 150 + 40.0 * i;
        x[i].params = 250000 + 90000 * ((i * 7) % N); /* not collinear with sum */
        x[i].macs = 2000000 + 500000 * ((i * 5) % N);  /* nor with either */
        measured[i] = -40 + 1.1 * x[i].sum_us + 25 * (double)x[i].params / 1e6 +
                      3 * (double)x[i].macs / 1e6;
    }
    struct lat_calib c;
    struct hw_err e;
    ck_assert_msg(lat_calib_fit(x, measured, N, &c, &e) == HW_OK, "%s", e.msg);
    ck_assert_double_eq_tol(c.alpha_us, -40, 1e-6);
    ck_assert_double_eq_tol(c.beta, 1.1, 1e-9);
    ck_assert_double_eq_tol(c.gamma_us, 25, 1e-6);
    ck_assert_double_eq_tol(c.delta_us, 3, 1e-6);
    ck_assert_int_eq(c.samples, N);
    ck_assert(c.rmspe_fit < 1e-9 && c.rmspe_sum > 0.01);
    struct lat_calib_x q = {400, 1000000, 2000000};
    ck_assert_double_eq_tol(lat_calib_apply(&c, &q), -40 + 440 + 25 + 6, 1e-6);
    char text[160];
    lat_calib_text(&c, text, sizeof text);
    ck_assert_str_eq(text, "-40 us + 1.1 x sum + 25 us/Mparams + 3 us/MMACs");
    /* the same networks 1000x slower (a slow device): same fit, scaled */
    struct lat_calib_x slow_x[N];
    double slow[N];
    for (int i = 0; i < N; i++) {
        slow_x[i] = x[i];
        slow_x[i].sum_us *= 1000;
        slow[i] = 1000 * measured[i];
    }
    ck_assert_msg(lat_calib_fit(slow_x, slow, N, &c, &e) == HW_OK, "%s", e.msg);
    ck_assert_double_eq_tol(c.alpha_us, -40000, 1e-2);
    ck_assert_double_eq_tol(c.beta, 1.1, 1e-9);
    ck_assert_double_eq_tol(c.gamma_us, 25000, 1e-2);
    ck_assert_double_eq_tol(c.delta_us, 3000, 1e-2);
    /* noisy timings: the fit is the weighted least-squares optimum, so the
     * weighted residual is orthogonal to every feature */
    for (int i = 0; i < N; i++)
        measured[i] *= 1 + 0.04 * sin(1.7 * i + 0.3);
    ck_assert_msg(lat_calib_fit(x, measured, N, &c, &e) == HW_OK, "%s", e.msg);
    double g[4] = {0, 0, 0, 0};
    for (int i = 0; i < N; i++) {
        double f[4] = {1, x[i].sum_us, x[i].params / 1e6, x[i].macs / 1e6};
        double res = (lat_calib_apply(&c, &x[i]) - measured[i]) / (measured[i] * measured[i]);
        for (int j = 0; j < 4; j++)
            g[j] += res * f[j];
    }
    for (int j = 0; j < 4; j++)
        ck_assert_msg(fabs(g[j]) < 1e-9, "feature %d: %g", j, g[j]);
    ck_assert(c.rmspe_fit < c.rmspe_sum);
    /* MACs that carry nothing of their own (constant): three terms, and the
     * text reads as a calibration older than the MACs term did */
    for (int i = 0; i < N; i++) {
        x[i].macs = 5000000;
        measured[i] = -40 + 1.1 * x[i].sum_us + 25 * (double)x[i].params / 1e6;
    }
    ck_assert_msg(lat_calib_fit(x, measured, N, &c, &e) == HW_OK, "%s", e.msg);
    ck_assert(c.delta_us == 0);
    ck_assert_double_eq_tol(c.gamma_us, 25, 1e-6);
    lat_calib_text(&c, text, sizeof text);
    ck_assert_str_eq(text, "-40 us + 1.1 x sum + 25 us/Mparams");
    /* neither parameters nor MACs carry anything: two terms */
    for (int i = 0; i < N; i++) {
        x[i].params = 500000;
        measured[i] = 10 + 0.9 * x[i].sum_us;
    }
    ck_assert_msg(lat_calib_fit(x, measured, N, &c, &e) == HW_OK, "%s", e.msg);
    ck_assert(c.gamma_us == 0 && c.delta_us == 0);
    ck_assert_double_eq_tol(c.beta, 0.9, 1e-9);
    ck_assert_double_eq_tol(c.alpha_us, 10, 1e-6);
    /* refusals */
    ck_assert_int_eq(lat_calib_fit(x, measured, LAT_CALIB_MIN_SAMPLES - 1, &c, &e), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "at least"));
    measured[3] = -1;
    ck_assert_int_eq(lat_calib_fit(x, measured, N, &c, &e), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "network 3"));
    for (int i = 0; i < N; i++)
        x[i].sum_us = 100, measured[i] = 100 + i;
    ck_assert_int_eq(lat_calib_fit(x, measured, N, &c, &e), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "do not vary"));
}
END_TEST

/* ---- samples spread over the latency range ---- */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Spread samples are ordered, priced by the table, and reach the ends of
 * the range far more often than uniform samples; a missing key is named. */
START_TEST(test_sample_spread)
{
    struct space s;
    struct hw_err e;
    ck_assert_int_eq(space_resolve("fmnist", &s, &e), HW_OK);
    struct lut t;
    lut_init(&t, NULL);
    ck_assert_int_eq(lat_space_keys(&s, &t, &e), HW_OK);
    for (int i = 0; i < t.cap; i++)
        if (t.entries[i].key[0]) { /* a made-up time per key, 1-11 us */
            unsigned h = 2166136261u;
            for (const char *c = t.entries[i].key; *c; c++)
                h = (h ^ (unsigned char)*c) * 16777619u;
            t.entries[i].st = stats(1 + (h % 1000) / 100.0);
        }
    enum { N = 30, U = 600 };
    struct arch *a = malloc(sizeof *a * N);
    double sum[N], uni[U];
    struct pcg32 rng;
    pcg32_seed(&rng, 7, 1);
    ck_assert_msg(lat_sample_spread(&s, &t, &rng, N, a, sum, &e) == HW_OK, "%s", e.msg);
    for (int i = 0; i < N; i++) {
        double us;
        ck_assert_int_eq(lut_predict(&t, &a[i], &us, NULL, NULL, &e), HW_OK);
        ck_assert(us == sum[i]);
        if (i > 0)
            ck_assert(sum[i] >= sum[i - 1]);
        for (int j = 0; j < i; j++) /* no pool entry taken twice (8e8 archs: no repeats) */
            ck_assert_msg(memcmp(&a[i], &a[j], sizeof a[i]) != 0, "samples %d and %d", j, i);
    }
    /* shuffled: the same archs in another order */
    struct arch *b = malloc(sizeof *b * N);
    memcpy(b, a, sizeof *b * N);
    lat_shuffle_archs(b, N, &rng);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (int j = 0; j < N && !found; j++)
            found = memcmp(&b[i], &a[j], sizeof a[j]) == 0;
        ck_assert(found);
        moved += memcmp(&b[i], &a[i], sizeof a[i]) != 0;
    }
    ck_assert_int_gt(moved, N / 2);
    free(b);
    /* uniform samples' quartiles: half of them fall outside; far more of
     * the spread ones do */
    pcg32_seed(&rng, 8, 1);
    for (int i = 0; i < U; i++) {
        int tok[SPACE_MAX_TOKENS];
        struct arch u;
        space_sample(&s, &rng, tok);
        ck_assert_int_eq(space_decode(&s, tok, &u, &e), HW_OK);
        ck_assert_int_eq(lut_predict(&t, &u, &uni[i], NULL, NULL, &e), HW_OK);
    }
    qsort(uni, U, sizeof *uni, cmp_dbl);
    int outside = 0;
    for (int i = 0; i < N; i++)
        outside += sum[i] < uni[U / 4] || sum[i] > uni[3 * U / 4];
    ck_assert_msg(outside >= 2 * N / 3, "%d of %d outside the uniform quartiles", outside, N);
    ck_assert(sum[0] < uni[U / 20] && sum[N - 1] > uni[U - U / 20]);
    /* the same seed, the same samples */
    double again[N];
    pcg32_seed(&rng, 7, 1);
    ck_assert_int_eq(lat_sample_spread(&s, &t, &rng, N, a, again, &e), HW_OK);
    ck_assert(memcmp(sum, again, sizeof sum) == 0);
    /* a table without the head's keys */
    struct lut partial;
    lut_init(&partial, NULL);
    for (int i = 0; i < t.cap; i++)
        if (t.entries[i].key[0] && strncmp(t.entries[i].key, "head", 4) != 0)
            lut_put(&partial, t.entries[i].key, &t.entries[i].st);
    ck_assert_int_eq(lat_sample_spread(&s, &partial, &rng, N, a, NULL, &e), HW_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "head"));
    ck_assert_int_eq(lat_sample_spread(&s, &t, &rng, 0, a, NULL, &e), HW_EINVAL);
    lut_release(&partial);
    lut_release(&t);
    free(a);
}
END_TEST

/* A stored calibration changes predictions for its input shape only, and
 * survives reopening; another device's table cannot be calibrated here. */
START_TEST(test_table_calibration)
{
    const char *path = fresh_db();
    struct hw_err e;
    struct lat_table t;
    struct db *db = open_local(path, &t);
    struct arch a = tiny_arch(), other = tiny_arch();
    other.in_h = other.in_w = 10;
    char k[LUT_KEY_MAX];
    for (int u = 0; u < 4; u++) {
        struct lat_stats s = stats(7.5 * (u + 1));
        lut_key(&a, u, k);
        ck_assert_int_eq(lat_table_put(&t, k, &s, &e), HW_OK);
        lut_key(&other, u, k);
        ck_assert_int_eq(lat_table_put(&t, k, &s, &e), HW_OK);
    }
    ck_assert_ptr_null(lut_get_calib(&t.lut, &a));
    struct db_calibration row = {.device_id = t.device_id, .samples = 9, .alpha_us = -5,
                                 .beta = 1.2, .gamma_us = 1000, .delta_us = 2,
                                 .rmspe_sum = 0.05, .rmspe_fit = 0.01, .stat = "median"};
    snprintf(row.input, sizeof row.input, "%dx%dx%d", a.in_h, a.in_w, a.in_c);
    /* one fitted to medians (an older hwnas) is loaded but not used */
    ck_assert_int_eq(db_calibration_put(db, &row, &e), HW_OK);
    lat_table_release(&t);
    ck_assert_int_eq(lat_table_open(&t, db, NULL, 1, &e), HW_OK);
    ck_assert_int_eq(t.lut.n_calib, 1);
    ck_assert_ptr_null(lut_get_calib(&t.lut, &a));
    double total, unit[4];
    ck_assert_int_eq(lat_table_predict(&t, &a, &total, unit, NULL, &e), HW_OK);
    ck_assert_double_eq_tol(total, 0.9 * 75, 1e-9);
    snprintf(row.stat, sizeof row.stat, "min");
    ck_assert_int_eq(db_calibration_put(db, &row, &e), HW_OK);
    lat_table_release(&t);
    ck_assert_int_eq(lat_table_open(&t, db, NULL, 1, &e), HW_OK);
    ck_assert_ptr_nonnull(lut_get_calib(&t.lut, &a));
    ck_assert_ptr_null(lut_get_calib(&t.lut, &other));
    ck_assert_int_eq(lat_table_predict(&t, &a, &total, unit, NULL, &e), HW_OK);
    ck_assert_double_eq_tol(total, -5 + 1.2 * 0.9 * 75 + 1000 * arch_cost(&a).params / 1e6 +
                                       2 * arch_cost(&a).macs / 1e6, 1e-9);
    ck_assert_double_eq_tol(unit[3], 0.9 * 30, 1e-12); /* the breakdown stays the table's */
    ck_assert_int_eq(lat_table_predict(&t, &other, &total, NULL, NULL, &e), HW_OK);
    ck_assert_double_eq_tol(total, 0.9 * 75, 1e-9);
    /* bad rows are refused */
    row.beta = NAN;
    ck_assert_int_eq(db_calibration_put(db, &row, &e), HW_EINVAL);
    row.beta = 1;
    row.samples = 0;
    ck_assert_int_eq(db_calibration_put(db, &row, &e), HW_EINVAL);
    lat_table_release(&t);
    /* another machine's table cannot be calibrated here */
    struct db_device d;
    struct lat_fingerprint fp;
    lat_fingerprint_current(&fp, 1);
    snprintf(fp.cpu, sizeof fp.cpu, "Another CPU");
    lat_fingerprint_rehash(&fp);
    lat_fingerprint_to_device(&fp, &d);
    int64_t far;
    ck_assert_int_eq(db_device_get_or_create(db, &d, &far, &e), HW_OK);
    char sel[32];
    snprintf(sel, sizeof sel, "%lld", (long long)far);
    ck_assert_int_eq(lat_table_open(&t, db, sel, 1, &e), HW_OK);
    struct arch archs[LAT_CALIB_MIN_SAMPLES];
    double meas[LAT_CALIB_MIN_SAMPLES];
    for (int i = 0; i < LAT_CALIB_MIN_SAMPLES; i++)
        archs[i] = a, meas[i] = 80 + i;
    ck_assert_int_eq(lat_table_calibrate(&t, archs, meas, LAT_CALIB_MIN_SAMPLES, NULL, &e),
                     HW_EMISMATCH);
    lat_table_release(&t);
    db_close(db);
    drop_db(path);
}
END_TEST

/* ---- the commands ---- */

static void run_ok(struct cli_run *r, const char *args)
{
    ck_assert_int_eq(cli_run(r, args), 0);
    ck_assert_msg(r->status == 0, "%s: exit %d: %s", args, r->status, r->err);
}

START_TEST(test_cli_profile_validate_latency)
{
    const char *db = fresh_db();
    char *space_path = strdup(write_tmp(tiny_space_json));
    char args[512];
    struct cli_run r;
    snprintf(args, sizeof args, "profile --space %s --runs 3 --warmup 1 --db %s --quiet",
             space_path, db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "23 distinct keys, 0 already measured, 23 to measure"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "measured 23 keys in 8 networks"), "%s", r.out);
    const char *lowered = strstr(r.out, "fastest of 3 passes (");
    ck_assert_msg(lowered, "%s", r.out);
    int n_lowered = -1;
    ck_assert_int_eq(sscanf(lowered, "fastest of 3 passes (%d entries lowered", &n_lowered), 1);
    ck_assert_msg(n_lowered >= 0 && n_lowered <= 23, "%d of 23 keys lowered", n_lowered);
    ck_assert_msg(strstr(r.out, "calibration from 100 networks measured end to end"), "%s", r.out);
    cli_run_release(&r);
    run_ok(&r, args); /* again: nothing left, the calibration stands */
    ck_assert_msg(strstr(r.out, "23 already measured, 0 to measure"), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "passes"), "%s", r.out);
    ck_assert_msg(!strstr(r.out, "calibration from"), "%s", r.out);
    cli_run_release(&r);
    /* a calibration fitted to medians (an older hwnas) is shown as not used,
     * and the next profile fits a new one */
    sqlite3 *raw;
    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw, "UPDATE lut_calibrations SET stat = 'median'", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(raw);
    snprintf(args, sizeof args, "lut show --db %s", db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "fitted to medians by an older hwnas: not used"), "%s", r.out);
    cli_run_release(&r);
    snprintf(args, sizeof args, "profile --space %s --runs 3 --warmup 1 --db %s --quiet",
             space_path, db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "calibration from 100 networks"), "%s", r.out);
    cli_run_release(&r);
    snprintf(args, sizeof args, "validate --space %s --samples 3 --runs 3 --json --db %s",
             space_path, db);
    run_ok(&r, args);
    ck_assert_ptr_nonnull(strstr(r.out, "\"samples\":\t3"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"hwnas_version\":"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"within10_pct\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"calibrated\":\ttrue"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"sampling\":\t\"uniform\""));
    ck_assert_ptr_nonnull(strstr(r.out, "\"params\":"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"arch\":"));
    cli_run_release(&r);
    snprintf(args, sizeof args, "validate --space %s --samples 4 --runs 3 --rounds 1 --spread "
             "--db %s", space_path, db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "4 sampled archs (seed 1, spread over the latency range)"), "%s",
                  r.out);
    /* the drift-scaled figures (a diagnostic) only with --verbose */
    ck_assert_msg(!strstr(r.out, "speed drift"), "%s", r.out);
    cli_run_release(&r);
    snprintf(args, sizeof args, "validate --space %s --samples 2 --runs 3 --rounds 1 --verbose "
             "--db %s", space_path, db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "machine speed drift") && strstr(r.out, "scaled by its drift"),
                  "%s", r.out);
    cli_run_release(&r);
    snprintf(args, sizeof args, "validate --run r --spread --db %s", db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 2 && strstr(r.err, "--spread samples a space"), "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "validate --space %s --rounds 0 --db %s", space_path, db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--rounds: 0 is not in [1, 100]"), "%s", r.err);
    cli_run_release(&r);
    /* latency of fmnist-ref: every key missing, measured on demand */
    snprintf(args, sizeof args, "latency fmnist-ref --runs 3 --measure --db %s", db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "9 missing keys measured now"), "%s", r.out);
    ck_assert_ptr_nonnull(strstr(r.out, "head-in:4x4x80-conv:384"));
    ck_assert_ptr_nonnull(strstr(r.out, "measured:  runs 3"));
    cli_run_release(&r);
    snprintf(args, sizeof args, "lut list --db %s", db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "      32  "), "%s", r.out); /* 23 + 9 entries */
    cli_run_release(&r);
    snprintf(args, sizeof args, "lut show --db %s", db);
    run_ok(&r, args);
    ck_assert_msg(strstr(r.out, "# calibration for 8x8x1 inputs (100 networks)"), "%s", r.out);
    cli_run_release(&r);
    unlink(space_path);
    free(space_path);
    drop_db(db);
}
END_TEST

/* On a CPU with the AVX-512 subsets of OpenBLAS's SkylakeX kernels hwnas uses
 * them even when OpenBLAS takes the CPU for an older core (cli/main.c); a
 * core type set by the user is kept. The fingerprint shows the one in use. */
START_TEST(test_cli_blas_core)
{
    const char *db = fresh_db();
    char args[256];
    struct cli_run r;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("HWNAS_BLAS_CHOSEN");
    snprintf(args, sizeof args, "latency fmnist-ref --runs 1 --quiet --db %s", db);
    run_ok(&r, args);
    cli_run_release(&r);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    int avx512 = 0;
#endif
    /* profile tells a user whose core type holds back this CPU, and only them */
    char *space_path = strdup(write_tmp(tiny_space_json));
    char prof[512];
    snprintf(prof, sizeof prof, "profile --space %s --runs 1 --warmup 0 --rounds 1 --db %s",
             space_path, db);
    run_ok(&r, prof);
    ck_assert_msg(!strstr(r.err, "OPENBLAS_CORETYPE"), "%s", r.err);
    cli_run_release(&r);
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    run_ok(&r, args);
    cli_run_release(&r);
    run_ok(&r, prof);
    ck_assert_msg(!avx512 == !strstr(r.err, "note: OPENBLAS_CORETYPE=Haswell is set"), "%s",
                  r.err);
    cli_run_release(&r);
    unsetenv("OPENBLAS_CORETYPE");
    snprintf(args, sizeof args, "lut list --db %s", db);
    run_ok(&r, args);
    if (avx512)
        ck_assert_msg(strstr(r.out, "SkylakeX") || strstr(r.out, "Cooperlake") ||
                      strstr(r.out, "SapphireRapids"), "%s", r.out);
#if defined(__x86_64__) || defined(__i386__) /* OpenBLAS for ARM has no such core */
    ck_assert_msg(strstr(r.out, "Haswell"), "%s", r.out);
#endif
    cli_run_release(&r);
    free(space_path);
    drop_db(db);
}
END_TEST

START_TEST(test_cli_lut_export_import)
{
    char src[64], dst[64], exp[80], args[512];
    snprintf(src, sizeof src, "%s", fresh_db());
    snprintf(dst, sizeof dst, "%s", fresh_db());
    snprintf(exp, sizeof exp, "%s.json", src);
    struct cli_run r;
    snprintf(args, sizeof args, "latency fmnist-ref --runs 2 --db %s", src);
    run_ok(&r, args);
    cli_run_release(&r);
    for (int csv = 0; csv < 2; csv++) {
        snprintf(args, sizeof args, "lut export --format %s --out %s --db %s --quiet",
                 csv ? "csv" : "json", exp, src);
        run_ok(&r, args);
        cli_run_release(&r);
        snprintf(args, sizeof args, "lut import %s --db %s", exp, dst);
        run_ok(&r, args);
        ck_assert_msg(strstr(r.out, "imported 9 entries"), "%s", r.out);
        cli_run_release(&r);
    }
    snprintf(args, sizeof args, "lut show --db %s", dst);
    run_ok(&r, args);
    ck_assert_ptr_nonnull(strstr(r.out, "9 entries"));
    ck_assert_ptr_nonnull(strstr(r.out, "stem-in:28x28x1-k:3-s:1-out:16-act:hswish"));
    cli_run_release(&r);
    /* a bad file: refused, nothing written to a fresh database */
    char bad_db[64];
    snprintf(bad_db, sizeof bad_db, "%s", fresh_db());
    char *bad = make_json("stem-in:28x28x1-k:3-s:1-out:16-act:hswish", "NaN", 1);
    char *bad_path = strdup(write_tmp(bad));
    snprintf(args, sizeof args, "lut import %s --db %s", bad_path, bad_db);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, bad_path), "%s", r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "lut list --db %s", bad_db);
    run_ok(&r, args);
    ck_assert_msg(!strstr(r.out, "\n   1 "), "%s", r.out);
    cli_run_release(&r);
    /* another device's table: predicts, but never measures */
    snprintf(args, sizeof args, "latency mobilenetv3-small --device %.8s --db %s",
             "0000000000000000", dst);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_int_eq(r.status, 1);
    cli_run_release(&r);
    unlink(bad_path);
    unlink(exp);
    free(bad);
    free(bad_path);
    drop_db(src);
    drop_db(dst);
    drop_db(bad_db);
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
    tcase_add_test(tc, test_lut_import_csv_refusals);
    tcase_add_test(tc, test_calib_fit);
    tcase_add_test(tc, test_sample_spread);
    suite_add_tcase(s, tc);
    tc = tcase_create("fingerprint");
    tcase_add_test(tc, test_fingerprint_compare);
    tcase_add_test(tc, test_fingerprint_cpu_parts);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, test_table_round_trip);
    tcase_add_test(tc, test_table_refuses_other_device);
    tcase_add_test(tc, test_lookup_or_measure);
    tcase_add_test(tc, test_table_remeasure);
    tcase_add_test(tc, test_table_import);
    tcase_add_test(tc, test_table_calibration);
    suite_add_tcase(s, tc);
    tc = tcase_create("keys");
    tcase_add_loop_test(tc, test_space_keys, 0, 4);
    tcase_add_loop_test(tc, test_space_cover, 0, 4);
    suite_add_tcase(s, tc);
    tc = tcase_create("measure");
    /* well under a second alone; a 2-thread training on the same 2 cores
     * (OpenMP threads spinning against each other) once took it past 4 s */
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_measure_units);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cli_profile_validate_latency);
    tcase_add_test(tc, test_cli_lut_export_import);
    tcase_add_test(tc, test_cli_blas_core);
    suite_add_tcase(s, tc);
    tc = tcase_create("timing");
    tcase_add_test(tc, test_stats_from_samples);
    tcase_add_test(tc, test_time_counts_runs);
    suite_add_tcase(s, tc);
    return s;
}
