/* ONNX export: the exported file passes the ONNX checker (Debian's
 * python3-onnx, full check with shape inference) and ONNX Runtime
 * (onnxruntime-node, tests/ort/run.js) gives the logits of hwnas's own
 * inference on the same 256 images: fmnist-ref and a searched arch with SE,
 * h-swish and residuals (both trained an epoch on 10,000 images: shorter
 * trainings leave logits up to 90 and float rounding differences near the
 * 1e-4 bound, 1e-5 at 10,000), mobilenetv3-small at 224 x 224 and
 * mobilenetv2 at 64 x 64 (random weights, BN statistics from random images). Damaged
 * model files get a clear error and leave no .onnx behind. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deploy/onnx.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "space/arch_json.h"
#include "space/refs.h"
#include "space/space.h"
#include "tests/cli_run.h"

#define N_IMAGES 256

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/hwnas-deploy-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *root(void)
{
    const char *r = getenv("HWNAS_ROOT");
    return r ? r : ".";
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs hwnas with args; fails the test with its stderr unless it exits 0. */
static void hwnas_ok(const char *args)
{
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "hwnas %s: exit %d: %s", args, r.status, r.err);
    cli_run_release(&r);
}

/* onnx.checker.check_model with full_check (strict shape inference). */
static void onnx_checker(const char *onnx)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import onnx,sys; m = onnx.load(sys.argv[1]); "
             "onnx.checker.check_model(m, full_check=True); "
             "assert [o.version for o in m.opset_import] == [%d]\" '%s'",
             ONNX_OPSET, onnx);
    ck_assert_msg(system(cmd) == 0, "the ONNX checker refused %s", onnx);
}

/* Runs the exported model under ONNX Runtime on raw (n, h, w, c) pixels in
 * [0, 1] and compares with hwnas's INFER forward of the model file on the
 * same pixels normalized as hwnas trains: max |difference| <= tol (1e-4 for
 * the nets issue 32 names) and the same argmax for every image. */
static void compare_with_ort(const char *model, const char *onnx, const float *raw, int n,
                             float mean, float std, double tol)
{
    struct hw_err e;
    hw_err_clear(&e);
    struct nn_net *train = NULL, *infer = NULL;
    ck_assert_msg(model_load(model, 2, &train, &e) == HW_OK, "%s", e.msg);
    const struct arch *a = nn_net_arch(train);
    int h = a->in_h, w = a->in_w, c = a->in_c, k = a->classes, batch = 32;
    ck_assert_int_eq(nn_net_create(&infer, a, batch, NN_MODE_INFER, &e), HW_OK);
    ck_assert_int_eq(nn_net_fold_from(infer, train, &e), HW_OK);
    size_t per = (size_t)h * w * c;
    float *x = malloc(sizeof *x * per * batch), *nchw = malloc(sizeof *nchw * per * n);
    float *ours = malloc(sizeof *ours * k * n), *theirs = malloc(sizeof *theirs * k * n);
    ck_assert(x && nchw && ours && theirs);
    for (int i = 0; i < n; i += batch) {
        int m = n - i < batch ? n - i : batch;
        for (size_t j = 0; j < per * m; j++)
            x[j] = (raw[per * i + j] - mean) / std;
        memcpy(ours + (size_t)k * i, nn_net_forward(infer, x, m, NULL), sizeof *ours * k * m);
    }
    for (int i = 0; i < n; i++) /* NHWC -> NCHW */
        for (int y = 0; y < h * w; y++)
            for (int ch = 0; ch < c; ch++)
                nchw[((size_t)i * c + ch) * h * w + y] = raw[((size_t)i * h * w + y) * c + ch];
    char in[128], out[128], cmd[1024];
    snprintf(in, sizeof in, "%s/in.f32", dir);
    snprintf(out, sizeof out, "%s/out.f32", dir);
    FILE *f = fopen(in, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(nchw, sizeof *nchw, per * n, f), per * n);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "node '%s/tests/ort/run.js' '%s' '%s' %d %d %d %d '%s' >/dev/null",
             root(), onnx, in, n, c, h, w, out);
    ck_assert_msg(system(cmd) == 0, "ONNX Runtime could not run %s (make deps installs "
                  "onnxruntime-node into tests/ort)", onnx);
    f = fopen(out, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(theirs, sizeof *theirs, (size_t)k * n + 1, f), (size_t)k * n);
    fclose(f);
    double maxdiff = 0, maxabs = 0;
    int argmax_differs = 0;
    for (int i = 0; i < n; i++) {
        int ao = 0, at = 0;
        for (int j = 0; j < k; j++) {
            double d = fabs(ours[i * k + j] - theirs[i * k + j]);
            maxdiff = d > maxdiff ? d : maxdiff;
            maxabs = fabs(ours[i * k + j]) > maxabs ? fabs(ours[i * k + j]) : maxabs;
            ao = ours[i * k + j] > ours[i * k + ao] ? j : ao;
            at = theirs[i * k + j] > theirs[i * k + at] ? j : at;
        }
        argmax_differs += ao != at;
    }
    ck_assert_msg(maxdiff <= tol, "%s: logits differ by up to %g (largest logit %g)", onnx,
                  maxdiff, maxabs);
    ck_assert_msg(argmax_differs == 0, "%s: argmax differs on %d of %d images", onnx,
                  argmax_differs, n);
    ck_assert_msg(maxabs > 1e-2, "%s: logits are all near zero (%g): nothing was compared",
                  onnx, maxabs);
    fprintf(stderr, "onnx check: %s: %d images, max |logit difference| %.2g (largest logit "
            "%.3g), argmax equal\n", a->name, n, maxdiff, maxabs);
    free(x);
    free(nchw);
    free(ours);
    free(theirs);
    nn_net_free(infer);
    nn_net_free(train);
}

/* The first N_IMAGES Fashion-MNIST test images as [0, 1] pixels, and the
 * normalization of the training split. */
static float *test_images(float *mean, float *std)
{
    struct hw_err e;
    hw_err_clear(&e);
    struct data_set train, val, test;
    ck_assert_msg(data_load_trainval(NULL, 10, &train, &val, &e) == HW_OK, "%s", e.msg);
    ck_assert_int_eq(data_load_test(NULL, 10, &train, &test, &e), HW_OK);
    size_t per = (size_t)test.h * test.w * test.c;
    float *raw = malloc(sizeof *raw * per * N_IMAGES);
    ck_assert_ptr_nonnull(raw);
    for (size_t j = 0; j < per * N_IMAGES; j++)
        raw[j] = test.pixels[j] / 255.0f;
    *mean = train.mean;
    *std = train.std;
    data_set_release(&train);
    data_set_release(&val);
    data_set_release(&test);
    return raw;
}

/* The ONNX checker, then ONNX Runtime against hwnas on the first test
 * images with the training split's normalization (bound 1e-4). */
static void check_on_test_images(const char *model, const char *onnx)
{
    onnx_checker(onnx);
    float mean, std;
    float *raw = test_images(&mean, &std);
    compare_with_ort(model, onnx, raw, N_IMAGES, mean, std, 1e-4);
    free(raw);
}

/* Trains arch (a reference name or a JSON file) briefly, exports it through
 * the CLI and compares ONNX Runtime with hwnas on the test images. */
static void trained_roundtrip(const char *arch, const char *name)
{
    char model[128], onnx[128], args[512];
    snprintf(model, sizeof model, "%s/%s.hwm", dir, name);
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", dir, name);
    snprintf(args, sizeof args, "train '%s' --epochs 1 --subset 10000 --threads 2 --quiet --out '%s'",
             arch, model);
    hwnas_ok(args);
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", model, onnx);
    hwnas_ok(args);
    check_on_test_images(model, onnx);
}

START_TEST(test_onnx_fmnist_ref)
{
    trained_roundtrip("fmnist-ref", "fmnist-ref");
}
END_TEST

/* A sampled fmnist-space arch with SE, h-swish and a residual add. */
START_TEST(test_onnx_searched)
{
    struct hw_err e;
    hw_err_clear(&e);
    struct space s;
    ck_assert_int_eq(space_load_builtin("fmnist", &s, &e), HW_OK);
    struct pcg32 rng;
    pcg32_seed(&rng, 7, 1);
    int tokens[space_n_tokens(&s)];
    struct arch a;
    int found = 0;
    for (int tries = 0; tries < 1000 && !found; tries++) {
        space_sample(&s, &rng, tokens);
        ck_assert_int_eq(space_decode(&s, tokens, &a, &e), HW_OK);
        int se = 0, hs = 0, res = 0;
        for (int i = 0; i < a.n_layers; i++) {
            se += a.layers[i].se;
            hs += a.layers[i].act == ARCH_ACT_HSWISH;
            res += arch_layer_residual(&a.layers[i]);
        }
        found = se && hs && res && a.head.fc_hidden > 0;
    }
    ck_assert_msg(found, "no fmnist arch with SE, h-swish, a residual and an FC head in 1000");
    char path[128];
    snprintf(path, sizeof path, "%s/searched.json", dir);
    char *json = arch_to_json_string(&a);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(json, f);
    fclose(f);
    free(json);
    trained_roundtrip(path, "searched");
}
END_TEST

/* A reference net with random weights and BN running statistics from random
 * images (momentum 0.1: the folded convs then keep activations in a sane
 * range, as after training), exported with --norm, against ONNX Runtime on
 * random images. */
static void random_roundtrip(const char *name, const struct arch_input *in, double tol)
{
    struct hw_err e;
    hw_err_clear(&e);
    struct arch a;
    ck_assert_int_eq(arch_reference(name, in, &a, &e), HW_OK);
    struct nn_net *net = NULL;
    ck_assert_int_eq(nn_net_create(&net, &a, 4, NN_MODE_TRAIN, &e), HW_OK);
    struct pcg32 rng;
    pcg32_seed(&rng, 11, 3);
    nn_net_init_params(net, &rng);
    size_t per = (size_t)a.in_h * a.in_w * a.in_c;
    float *x = malloc(sizeof *x * per * 4);
    ck_assert_ptr_nonnull(x);
    for (int it = 0; it < 25; it++) {
        for (size_t j = 0; j < per * 4; j++)
            x[j] = (pcg32_float(&rng) - 0.5f) / 0.25f;
        nn_net_forward(net, x, 4, &rng);
    }
    free(x);
    char model[128], onnx[128], args[512];
    snprintf(model, sizeof model, "%s/%s.hwm", dir, name);
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", dir, name);
    ck_assert_int_eq(model_save(model, net, &e), HW_OK);
    nn_net_free(net);
    /* Not Fashion-MNIST's shape: the normalization must be given. */
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", model, onnx);
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "--norm"), "%s", r.err);
    ck_assert(!file_exists(onnx));
    cli_run_release(&r);
    snprintf(args, sizeof args, "export '%s' --format onnx --norm 0.5,0.25 --out '%s'", model,
             onnx);
    hwnas_ok(args);
    onnx_checker(onnx);
    float *raw = malloc(sizeof *raw * per * N_IMAGES);
    ck_assert_ptr_nonnull(raw);
    for (size_t j = 0; j < per * N_IMAGES; j++)
        raw[j] = pcg32_float(&rng);
    compare_with_ort(model, onnx, raw, N_IMAGES, 0.5f, 0.25f, tol);
    free(raw);
}

START_TEST(test_onnx_mobilenetv3_small)
{
    random_roundtrip("mobilenetv3-small", NULL, 1e-4); /* 224 x 224 x 3, 1000 classes */
}
END_TEST

/* ReLU6 (Clip with rank-0 bounds), no SE, a head without a hidden FC. Its
 * random-weight logits reach ~20, where float32 rounding alone (7e-6
 * relative) passes 1e-4: the bound is 5e-4 here. */
START_TEST(test_onnx_mobilenetv2)
{
    const struct arch_input in = {64, 64, 3, 10};
    random_roundtrip("mobilenetv2", &in, 5e-4);
}
END_TEST

/* Exports that must fail: each names the file and what is wrong, and leaves
 * no .onnx (nor a temporary) in the folder. */
static void export_fails(const char *args, const char *onnx, const char *expect)
{
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status != 0, "hwnas %s succeeded", args);
    ck_assert_msg(strstr(r.err, expect), "hwnas %s: '%s' not in: %s", args, expect, r.err);
    ck_assert_msg(!file_exists(onnx), "hwnas %s left %s behind", args, onnx);
    cli_run_release(&r);
}

START_TEST(test_onnx_refusals)
{
    char model[128], cut[128], foreign[128], onnx[128], args[640], cmd[512];
    snprintf(model, sizeof model, "%s/ref.hwm", dir);
    snprintf(cut, sizeof cut, "%s/cut.hwm", dir);
    snprintf(foreign, sizeof foreign, "%s/foreign.hwm", dir);
    snprintf(onnx, sizeof onnx, "%s/out.onnx", dir);
    snprintf(args, sizeof args,
             "train fmnist-ref --epochs 1 --subset 256 --threads 2 --quiet --out '%s'", model);
    hwnas_ok(args);
    snprintf(cmd, sizeof cmd, "head -c 100000 '%s' > '%s' && printf 'PK\\003\\004 not a model' "
             "> '%s'", model, cut, foreign);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", cut, onnx);
    export_fails(args, onnx, "truncated");
    export_fails(args, onnx, cut);
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", foreign, onnx);
    export_fails(args, onnx, "not an hwnas model file");
    snprintf(args, sizeof args, "export '%s/none.hwm' --format onnx --out '%s'", dir, onnx);
    export_fails(args, onnx, "none.hwm");
    snprintf(args, sizeof args, "export '%s' --format onnx --norm 0.5,0 --out '%s'", model, onnx);
    export_fails(args, onnx, "--norm");
    snprintf(args, sizeof args, "export '%s' --format onnx --norm 0.5 --out '%s'", model, onnx);
    export_fails(args, onnx, "--norm");
    snprintf(args, sizeof args, "export '%s' --format onnx --train-final 1 --out '%s'", model,
             onnx);
    export_fails(args, onnx, "--train-final");
    /* the write itself fails (the target is a folder, so the rename of the
     * written temporary fails): the temporary is removed */
    char sub[160];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", model, sub);
    export_fails(args, onnx, sub);
    snprintf(args, sizeof args, "export '%s' --format onnx", model);
    export_fails(args, onnx, "--out");
    snprintf(args, sizeof args, "export somerun --best --format onnx --out '%s'", onnx);
    export_fails(args, onnx, "--train-final");
    /* nothing else in the folder: no temporary left by a failed write */
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 4", dir);
    ck_assert_int_eq(system(cmd), 0);
    /* the export that works, and the help that shows it */
    snprintf(args, sizeof args, "export '%s' --format onnx --out '%s'", model, onnx);
    hwnas_ok(args);
    ck_assert(file_exists(onnx));
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, "export --help"), 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "--format onnx"), "%s", r.out);
    cli_run_release(&r);
}
END_TEST

/* A run's choice trained and exported in one command: export RUN --best
 * --train-final E --format onnx (a tiny space: the final training on the
 * 50k split takes seconds). */
START_TEST(test_onnx_run_train_final)
{
    char space[128], db[128], onnx[128], model[128], args[1024];
    snprintf(space, sizeof space, "%s/space.json", dir);
    snprintf(db, sizeof db, "%s/runs.db", dir);
    snprintf(onnx, sizeof onnx, "%s/run.onnx", dir);
    snprintf(model, sizeof model, "%s/run.hwm", dir);
    FILE *f = fopen(space, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"version\":1,\"name\":\"onnx-run\",\"input\":{\"h\":28,\"w\":28,\"c\":1},"
          "\"classes\":10,\"stem\":{\"k\":3,\"stride\":2,\"out\":8,\"act\":\"relu\"},"
          "\"head\":{\"conv_out\":32,\"conv_act\":\"hswish\",\"fc_hidden\":0,"
          "\"fc_act\":\"relu\",\"dropout\":0},\"blocks\":[{\"stride\":2,\"width\":16,"
          "\"kernel\":[3],\"expansion\":[2],\"se\":[1],\"act\":[\"hswish\"],\"layers\":[1,2],"
          "\"width_mult\":[1.0]}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "profile --space '%s' --runs 1 --warmup 0 --rounds 1 "
             "--calib-samples 0 --db '%s' --quiet", space, db);
    hwnas_ok(args);
    snprintf(args, sizeof args, "search --space '%s' --target-ms 100 --trials 1 --proxy-epochs 1 "
             "--proxy-subset 256 --proxy-val 256 --db '%s' --name r --quiet", space, db);
    hwnas_ok(args);
    snprintf(args, sizeof args, "export r --best --train-final 1 --format onnx --out '%s' "
             "--model '%s' --threads 2 --db '%s'", onnx, model, db);
    hwnas_ok(args);
    check_on_test_images(model, onnx);
}
END_TEST

Suite *suite_deploy(void)
{
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("onnx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_onnx_fmnist_ref);
    tcase_add_test(tc, test_onnx_searched);
    tcase_add_test(tc, test_onnx_mobilenetv3_small);
    tcase_add_test(tc, test_onnx_mobilenetv2);
    tcase_add_test(tc, test_onnx_run_train_final);
    tcase_add_test(tc, test_onnx_refusals);
    suite_add_tcase(s, tc);
    return s;
}
