#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "evaluator/data.h"
#include "evaluator/idx.h"
#include "evaluator/model.h"
#include "evaluator/proxy.h"
#include "evaluator/train.h"
#include "nn/net.h"
#include "space/arch_json.h"
#include "tests/cli_run.h"

/* ---- helpers: IDX files written byte by byte, independent of the reader */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hwnas-test-eval-%d", (int)getpid());
    mkdir(tmpdir, 0700);
}

/* Removes the files a test wrote (Check forks each test: one dir per pid). */
static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Header {0,0,type,ndim} + big-endian dims, then payload; gz selects gzip. */
static void write_idx(const char *path, int gz, int type, int ndim, const int *dims,
                      const unsigned char *payload, size_t n)
{
    unsigned char hdr[4 + 4 * 8] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    for (int i = 0; i < ndim; i++) {
        hdr[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        hdr[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        hdr[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        hdr[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        gzwrite(f, hdr, 4 + 4 * ndim);
        if (n)
            gzwrite(f, payload, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        fwrite(hdr, 1, 4 + 4 * (size_t)ndim, f);
        if (n)
            fwrite(payload, 1, n, f);
        fclose(f);
    }
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(p, 1, n, f);
    fclose(f);
}

/* Reads path expecting failure; asserts the status and that the message
 * names the file and contains `want`. */
static void expect_idx_error(const char *path, int min_ndim, int max_ndim,
                             int status, const char *want)
{
    struct idx_array a;
    struct hw_err err = {0};
    ck_assert_int_eq(idx_read(path, min_ndim, max_ndim, &a, &err), status);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message '%s' lacks path", err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg,
                  want);
    ck_assert_ptr_null(a.data);
}

/* A small dataset: n images h x w whose pixels encode the image number
 * (pixel 0 = i % 251, the rest a pattern), labels i % classes. */
static void write_dataset(const char *dir, const char *prefix, int n, int h, int w,
                          int classes)
{
    unsigned char *px = malloc((size_t)n * h * w), *lb = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < h * w; j++)
            px[(size_t)i * h * w + j] = (unsigned char)(j == 0 ? i % 251 : (i + j) % 256);
        lb[i] = (unsigned char)(i % classes);
    }
    char p[512];
    int di[3] = {n, h, w}, dl[1] = {n};
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    write_idx(p, 1, 8, 3, di, px, (size_t)n * h * w);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, prefix); /* raw */
    write_idx(p, 0, 8, 1, dl, lb, (size_t)n);
    free(px);
    free(lb);
}

/* ---- idx_read */

START_TEST(test_idx_read_good)
{
    make_tmpdir();
    unsigned char payload[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        payload[i] = (unsigned char)(i * 7);
    int dims[3] = {2, 3, 4};
    for (int gz = 0; gz < 2; gz++) {
        char p[512];
        tmp_path(p, sizeof p, gz ? "good.gz" : "good.raw");
        write_idx(p, gz, 8, 3, dims, payload, sizeof payload);
        struct idx_array a;
        struct hw_err err = {0};
        ck_assert_int_eq(idx_read(p, 3, 4, &a, &err), HW_OK);
        ck_assert_int_eq(a.ndim, 3);
        ck_assert_int_eq(a.dims[0], 2);
        ck_assert_int_eq(a.dims[1], 3);
        ck_assert_int_eq(a.dims[2], 4);
        ck_assert_uint_eq(a.size, 24);
        ck_assert_mem_eq(a.data, payload, 24);
        idx_array_release(&a);
        ck_assert_ptr_null(a.data);
    }
    remove_tmpdir();
}
END_TEST

START_TEST(test_idx_read_bad_files)
{
    make_tmpdir();
    char p[512];
    unsigned char payload[64] = {1, 2, 3};
    int dims[3] = {2, 4, 4};

    tmp_path(p, sizeof p, "empty");
    write_bytes(p, "", 0);
    expect_idx_error(p, 3, 3, HW_EINVAL, "empty file");

    tmp_path(p, sizeof p, "magic");
    write_bytes(p, "\x1f\x00\x08\x03\0\0\0\1\0\0\0\1\0\0\0\1x", 17);
    expect_idx_error(p, 3, 3, HW_EINVAL, "magic: 0x1f000803");

    tmp_path(p, sizeof p, "shortmagic");
    write_bytes(p, "\0\0", 2);
    expect_idx_error(p, 3, 3, HW_EINVAL, "magic: truncated (2 of 4 bytes)");

    tmp_path(p, sizeof p, "type.gz");
    write_idx(p, 1, 0x0d, 3, dims, payload, 32); /* 0x0d: float */
    expect_idx_error(p, 3, 3, HW_EINVAL, "type: 0x0d is not 0x08");

    tmp_path(p, sizeof p, "ndim.gz");
    write_idx(p, 1, 8, 2, dims, payload, 8);
    expect_idx_error(p, 3, 4, HW_EINVAL, "ndim: 2 is not in 3..4");

    tmp_path(p, sizeof p, "shortdims");
    write_bytes(p, "\0\0\x08\x03\0\0\0\2\0\0", 10);
    expect_idx_error(p, 3, 3, HW_EINVAL, "dims: truncated (6 of 12 bytes)");

    int zero[3] = {2, 0, 4};
    tmp_path(p, sizeof p, "zerodim.gz");
    write_idx(p, 1, 8, 3, zero, payload, 0);
    expect_idx_error(p, 3, 3, HW_EINVAL, "dims[1]: 0 (empty)");

    int huge[3] = {0x7fffffff, 0x7fffffff, 1};
    tmp_path(p, sizeof p, "huge");
    write_idx(p, 0, 8, 3, huge, payload, 4);
    expect_idx_error(p, 3, 3, HW_EINVAL, "dims[1]: 2147483647 makes the data larger");

    tmp_path(p, sizeof p, "trunc.gz");
    write_idx(p, 1, 8, 3, dims, payload, 31);
    expect_idx_error(p, 3, 3, HW_EINVAL,
                     "data: truncated: header declares 32 bytes, file has 31");

    tmp_path(p, sizeof p, "trunc.raw");
    write_idx(p, 0, 8, 3, dims, payload, 5);
    expect_idx_error(p, 3, 3, HW_EINVAL, "header declares 32 bytes, file has 5");

    tmp_path(p, sizeof p, "trailing.gz");
    write_idx(p, 1, 8, 3, dims, payload, 33);
    expect_idx_error(p, 3, 3, HW_EINVAL, "data: trailing bytes after the 32");

    tmp_path(p, sizeof p, "missing-file");
    unlink(p);
    expect_idx_error(p, 3, 3, HW_EIO, "cannot open");
    remove_tmpdir();
}
END_TEST

/* A gzip stream with a corrupted body, and one cut in the middle. */
START_TEST(test_idx_read_bad_gzip)
{
    make_tmpdir();
    char p[512];
    unsigned char payload[4096];
    for (int i = 0; i < 4096; i++)
        payload[i] = (unsigned char)(i * 31 + i / 7);
    int dims[3] = {4, 32, 32};
    tmp_path(p, sizeof p, "good-for-corrupt.gz");
    write_idx(p, 1, 8, 3, dims, payload, sizeof payload);
    FILE *f = fopen(p, "rb");
    unsigned char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_gt(n, 60);

    unsigned char bad[16384];
    memcpy(bad, buf, n);
    for (size_t i = 20; i < n - 8; i++)
        bad[i] ^= 0x5a; /* deflate body garbled, gzip header intact */
    tmp_path(p, sizeof p, "corrupt.gz");
    write_bytes(p, bad, n);
    expect_idx_error(p, 3, 3, HW_EINVAL, "gzip: ");

    tmp_path(p, sizeof p, "cut.gz");
    write_bytes(p, buf, n / 2);
    expect_idx_error(p, 3, 3, HW_EINVAL, "gzip: ");
    remove_tmpdir();
}
END_TEST

/* ---- data_set_from_idx / data_load_trainval / data_load_test */

START_TEST(test_data_set_from_idx_mismatch)
{
    make_tmpdir();
    char ip[512], lp[512];
    unsigned char px[3 * 4] = {0}, lb[3] = {0, 1, 2};
    int di[3] = {3, 2, 2}, dl2[1] = {2}, dl3[1] = {3};
    tmp_path(ip, sizeof ip, "m-images");
    write_idx(ip, 0, 8, 3, di, px, sizeof px);
    struct idx_array images, labels;
    struct hw_err err = {0};
    struct data_set s;
    ck_assert_int_eq(idx_read(ip, 3, 4, &images, &err), HW_OK);

    tmp_path(lp, sizeof lp, "m-labels-short");
    write_idx(lp, 0, 8, 1, dl2, lb, 2);
    ck_assert_int_eq(idx_read(lp, 1, 1, &labels, &err), HW_OK);
    ck_assert_int_eq(data_set_from_idx(&s, &images, ip, &labels, lp, 10, NULL, 0, &err),
                     HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "dims[0]: 2 labels, but"));
    ck_assert_ptr_nonnull(strstr(err.msg, "has 3 images"));
    idx_array_release(&labels);

    tmp_path(lp, sizeof lp, "m-labels-range");
    write_idx(lp, 0, 8, 1, dl3, lb, 3);
    ck_assert_int_eq(idx_read(lp, 1, 1, &labels, &err), HW_OK);
    ck_assert_int_eq(data_set_from_idx(&s, &images, ip, &labels, lp, 2, NULL, 0, &err),
                     HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "label[2]: 2 is out of range for 2 classes"));
    ck_assert_ptr_nonnull(strstr(err.msg, lp));

    ck_assert_int_eq(data_set_from_idx(&s, &images, ip, &labels, lp, 3, NULL, 0, &err),
                     HW_OK);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.h, 2);
    ck_assert_int_eq(s.c, 1);
    ck_assert_int_eq(s.labels[2], 2);
    data_set_release(&s);
    idx_array_release(&labels);
    idx_array_release(&images);
    remove_tmpdir();
}
END_TEST

START_TEST(test_data_load_trainval_split)
{
    make_tmpdir();
    write_dataset(tmpdir, "train", 240, 5, 4, 10);
    struct data_set tr, va, tr2, va2;
    struct hw_err err = {0};
    ck_assert_int_eq(data_load_trainval(tmpdir, 10, &tr, &va, &err), HW_OK);
    ck_assert_int_eq(tr.n, 200);
    ck_assert_int_eq(va.n, 40);
    ck_assert_int_eq(tr.h, 5);
    ck_assert_int_eq(tr.w, 4);
    /* Pixel (0,0) and the label identify the source image: every image
     * lands in exactly one split, and the split is not the file order. */
    int seen[240] = {0}, in_order = 0;
    const struct data_set *sets[2] = {&tr, &va};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sets[s]->n; i++) {
            const unsigned char *img = sets[s]->pixels + (size_t)i * 20;
            int id = img[0]; /* i % 251 == i for 240 images */
            if (img[1] != (id + 1) % 256 || sets[s]->labels[i] != id % 10)
                ck_abort_msg("image %d of split %d is not from the file", i, s);
            seen[id]++;
            in_order += s == 0 && id == i;
        }
    for (int i = 0; i < 240; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_lt(in_order, 20);
    /* The split is fixed: a second load gives the same sets. */
    ck_assert_int_eq(data_load_trainval(tmpdir, 10, &tr2, &va2, &err), HW_OK);
    ck_assert_mem_eq(tr.pixels, tr2.pixels, 200 * 20);
    ck_assert_mem_eq(va.labels, va2.labels, 40);
    ck_assert(tr.mean == va.mean && tr.std == va.std && tr.std > 0);

    /* The test file is separate and borrows the training normalization. */
    struct data_set te;
    ck_assert_int_eq(data_load_test(tmpdir, 10, &tr, &te, &err), HW_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "t10k-images-idx3-ubyte.gz: cannot open"));
    write_dataset(tmpdir, "t10k", 30, 5, 4, 10);
    ck_assert_int_eq(data_load_test(tmpdir, 10, &tr, &te, &err), HW_OK);
    ck_assert_int_eq(te.n, 30);
    ck_assert(te.mean == tr.mean && te.std == tr.std);
    ck_assert_int_eq(te.labels[17], 7);
    data_set_release(&te);
    write_dataset(tmpdir, "t10k", 30, 4, 4, 10);
    ck_assert_int_eq(data_load_test(tmpdir, 10, &tr, &te, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "images are 4x4x1, but the training images are 5x4x1"));

    /* Labels out of range for the arch's class count are refused. */
    data_set_release(&tr2);
    data_set_release(&va2);
    ck_assert_int_eq(data_load_trainval(tmpdir, 9, &tr2, &va2, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "train-labels-idx1-ubyte: label[9]: 9 is out of range"));
    data_set_release(&tr);
    data_set_release(&va);
    remove_tmpdir();
}
END_TEST

/* The real Fashion-MNIST: split sizes, the documented normalization and a
 * pinned split (the first training images of the fixed order never change). */
START_TEST(test_data_load_trainval_fmnist)
{
    struct data_set tr, va;
    struct hw_err err = {0};
    ck_assert_int_eq(data_load_trainval(NULL, 10, &tr, &va, &err), HW_OK);
    ck_assert_int_eq(tr.n, 50000);
    ck_assert_int_eq(va.n, 10000);
    ck_assert_int_eq(tr.h * tr.w * tr.c, 784);
    ck_assert_float_eq_tol(tr.mean, 0.286f, 0.002f);
    ck_assert_float_eq_tol(tr.std, 0.353f, 0.002f);
    int count[10] = {0};
    for (int i = 0; i < va.n; i++)
        count[va.labels[i]]++;
    for (int k = 0; k < 10; k++)
        ck_assert_int_lt(abs(count[k] - 1000), 120);
    static const unsigned char train_first[8] = {7, 8, 1, 5, 9, 6, 4, 5};
    static const unsigned char val_first[8] = {8, 1, 3, 4, 9, 0, 0, 0};
    ck_assert_mem_eq(tr.labels, train_first, 8);
    ck_assert_mem_eq(va.labels, val_first, 8);
    data_set_release(&tr);
    data_set_release(&va);
}
END_TEST

/* ---- data_fill_batch */

/* The naive reference: pad by 2 with black, crop at (oy,ox), mirror. */
static void reference_augment(const unsigned char *src, int h, int w, int oy, int ox,
                              int flip, unsigned char *out)
{
    int ph = h + 2 * DATA_CROP_PAD, pw = w + 2 * DATA_CROP_PAD;
    unsigned char *pad = calloc((size_t)ph * pw, 1);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            pad[(r + DATA_CROP_PAD) * pw + c + DATA_CROP_PAD] = src[r * w + c];
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            int cc = flip ? w - 1 - c : c;
            out[r * w + c] = pad[(r + oy) * pw + cc + ox];
        }
    free(pad);
}

START_TEST(test_data_fill_batch)
{
    enum { H = 6, W = 5, N = 4 };
    struct data_set s = {.n = N, .h = H, .w = W, .c = 1, .classes = 10,
                         .mean = 0.25f, .std = 0.5f};
    s.pixels = malloc(N * H * W);
    s.labels = malloc(N);
    for (int i = 0; i < N * H * W; i++)
        s.pixels[i] = (unsigned char)(1 + (i * 37) % 250); /* no zeros */
    for (int i = 0; i < N; i++)
        s.labels[i] = (unsigned char)(9 - i);
    float x[N * H * W];
    int y[N], rows[N] = {2, 0, 3, 3};

    /* Without augmentation: exact normalization, row order kept. */
    data_fill_batch(&s, rows, N, NULL, x, y);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(y[i], 9 - rows[i]);
        for (int j = 0; j < H * W; j++) {
            float want = (s.pixels[rows[i] * H * W + j] / 255.0f - 0.25f) / 0.5f;
            ck_assert_float_eq_tol(x[i * H * W + j], want, 1e-6f);
        }
    }

    /* With augmentation: every image is one of the 50 crops/flips of the
     * reference, and over many draws all 50 occur. */
    struct pcg32 rng;
    pcg32_seed(&rng, 5, 6);
    int hits[5][5][2] = {{{0}}};
    for (int trial = 0; trial < 400; trial++) {
        data_fill_batch(&s, rows, N, &rng, x, y);
        for (int i = 0; i < N; i++) {
            int found = 0;
            for (int oy = 0; oy < 5 && !found; oy++)
                for (int ox = 0; ox < 5 && !found; ox++)
                    for (int fl = 0; fl < 2 && !found; fl++) {
                        unsigned char ref[H * W];
                        reference_augment(s.pixels + rows[i] * H * W, H, W, oy, ox, fl, ref);
                        int same = 1;
                        for (int j = 0; j < H * W && same; j++)
                            same = fabsf(x[i * H * W + j] - (ref[j] / 255.0f - 0.25f) / 0.5f) < 1e-6f;
                        if (same) {
                            hits[oy][ox][fl]++;
                            found = 1;
                        }
                    }
            ck_assert_msg(found, "trial %d image %d is no crop/flip of its source", trial, i);
        }
    }
    for (int oy = 0; oy < 5; oy++)
        for (int ox = 0; ox < 5; ox++)
            for (int fl = 0; fl < 2; fl++)
                ck_assert_int_gt(hits[oy][ox][fl], 10); /* expected 32 */

    /* Reproducible from the rng state. */
    float x2[N * H * W];
    struct pcg32 a, b;
    pcg32_seed(&a, 77, 1);
    b = a;
    data_fill_batch(&s, rows, N, &a, x, y);
    data_fill_batch(&s, rows, N, &b, x2, y);
    ck_assert_mem_eq(x, x2, sizeof x);
    data_set_release(&s);
}
END_TEST

/* ---- data_iter */

START_TEST(test_data_iter)
{
    enum { N = 50 };
    struct data_set s = {.n = N, .h = 1, .w = 1, .c = 1, .classes = 256,
                         .mean = 0, .std = 1.0f / 255.0f};
    s.pixels = malloc(N);
    s.labels = malloc(N);
    for (int i = 0; i < N; i++)
        s.pixels[i] = s.labels[i] = (unsigned char)i;
    struct hw_err err = {0};
    struct data_iter it, it2;
    float x[16];
    int y[16], y2[16];

    /* Subset of 37, batches of 16, drop_last: 2 batches, no repeats, rows < 37. */
    ck_assert_int_eq(data_iter_init(&it, &s, 37, 16, 1, 0, 1, 99, &err), HW_OK);
    ck_assert_int_eq(data_iter_init(&it2, &s, 37, 16, 1, 0, 1, 99, &err), HW_OK);
    ck_assert_int_eq(data_iter_batches(&it), 2);
    int first_epoch[32], differs = 0;
    for (int ep = 0; ep < 2; ep++) {
        data_iter_epoch(&it);
        data_iter_epoch(&it2);
        int seen[N] = {0}, k = 0, b;
        while ((b = data_iter_next(&it, x, y)) > 0) {
            ck_assert_int_eq(b, 16);
            ck_assert_int_eq(data_iter_next(&it2, x, y2), 16);
            for (int i = 0; i < b; i++) {
                ck_assert_int_lt(y[i], 37);
                ck_assert_int_eq(y[i], y2[i]); /* same seed, same order */
                ck_assert_float_eq_tol(x[i], (float)y[i], 1e-3f);
                ck_assert_int_eq(seen[y[i]]++, 0);
                if (ep == 0)
                    first_epoch[k] = y[i];
                else
                    differs += first_epoch[k] != y[i]; /* a new epoch reshuffles */
                k++;
            }
        }
        ck_assert_int_eq(k, 32);
    }
    ck_assert_int_gt(differs, 0);
    data_iter_release(&it);
    data_iter_release(&it2);

    /* Evaluation order: no shuffle, keep the last partial batch. */
    ck_assert_int_eq(data_iter_init(&it, &s, 0, 16, 0, 0, 0, 1, &err), HW_OK);
    ck_assert_int_eq(data_iter_batches(&it), 4);
    data_iter_epoch(&it);
    int total = 0, b;
    while ((b = data_iter_next(&it, x, y)) > 0) {
        for (int i = 0; i < b; i++)
            ck_assert_int_eq(y[i], total + i);
        total += b;
    }
    ck_assert_int_eq(total, N);
    data_iter_release(&it);

    ck_assert_int_eq(data_iter_init(&it, &s, 10, 16, 1, 0, 1, 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "10 images are fewer than one batch of 16"));
    ck_assert_int_eq(data_iter_init(&it, &s, 10, 0, 1, 0, 1, 1, &err), HW_EINVAL);
    data_set_release(&s);
}
END_TEST

/* ---- trainer: a tiny net on a synthetic 3-class task */

/* 8x8x1 -> stem 8 -> (3x3, SE, residual) -> (5x5 s2, expand 24 -> 16) -> head. */
static struct arch tiny_arch(void)
{
    struct arch a;
    memset(&a, 0, sizeof a);
    strcpy(a.name, "tiny");
    a.in_h = a.in_w = 8;
    a.in_c = 1;
    a.classes = 3;
    a.stem = (struct arch_stem){.k = 3, .stride = 1, .out = 8, .act = ARCH_ACT_HSWISH};
    a.n_layers = 2;
    a.layers[0] = (struct arch_layer){.k = 3, .stride = 1, .in = 8, .mid = 8, .out = 8,
                                      .se = 1, .act = ARCH_ACT_RELU};
    a.layers[1] = (struct arch_layer){.k = 5, .stride = 2, .in = 8, .mid = 24, .out = 16,
                                      .se = 0, .act = ARCH_ACT_HSWISH};
    a.head = (struct arch_head){.conv_out = 32, .conv_act = ARCH_ACT_HSWISH,
                                .fc_hidden = 16, .fc_act = ARCH_ACT_HSWISH,
                                .dropout = 0.2f};
    return a;
}

/* Class 0: bright top rows; 1: bright bottom rows; 2: bright middle columns;
 * plus noise. Separable, but not by a single pixel. */
static void synthetic_set(struct data_set *s, int n, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->h = s->w = 8;
    s->c = 1;
    s->classes = 3;
    s->pixels = malloc((size_t)n * 64);
    s->labels = malloc((size_t)n);
    struct pcg32 r;
    pcg32_seed(&r, seed, 3);
    for (int i = 0; i < n; i++) {
        int k = (int)pcg32_bounded(&r, 3);
        s->labels[i] = (unsigned char)k;
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                int on = (k == 0 && y < 3) || (k == 1 && y > 4) ||
                         (k == 2 && x > 2 && x < 5);
                int v = (on ? 150 : 30) + (int)pcg32_bounded(&r, 100);
                s->pixels[i * 64 + y * 8 + x] = (unsigned char)v;
            }
    }
    data_set_measure_norm(s);
}

static struct nn_net *tiny_net(uint64_t seed, int batch)
{
    struct arch a = tiny_arch();
    struct nn_net *net = NULL;
    struct hw_err err = {0};
    ck_assert_msg(nn_net_create(&net, &a, batch, NN_MODE_TRAIN, &err) == HW_OK, "%s",
                  err.msg);
    train_init_params(net, seed);
    return net;
}

static void tiny_config(struct train_config *c)
{
    train_config_default(c);
    c->epochs = 6;
    c->batch = 32;
    c->lr = 0.1;
    c->augment = 0;
    c->eval_batch = 64;
    c->threads = 1;
    c->quiet = 1;
}

START_TEST(test_train_schedule_at)
{
    struct train_config c;
    train_config_default(&c); /* one-cycle, lr 0.2, warmup 0.3, momentum 0.9 */
    double lr, m;
    /* PyTorch OneCycleLR(max_lr=0.2, total_steps=100): phase 1 ends at
     * step 29; start lr 0.2/25, end 0.2/25/1e4; momentum 0.95 -> 0.85 -> 0.95. */
    train_schedule_at(&c, 0, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.008, 1e-12);
    ck_assert_double_eq_tol(m, 0.95, 1e-12);
    train_schedule_at(&c, 29, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.2, 1e-12);
    ck_assert_double_eq_tol(m, 0.85, 1e-12);
    train_schedule_at(&c, 64, 100, &lr, &m); /* halfway through phase 2 */
    ck_assert_double_eq_tol(lr, (0.2 + 8e-7) / 2, 1e-12);
    ck_assert_double_eq_tol(m, 0.9, 1e-12);
    train_schedule_at(&c, 99, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 8e-7, 1e-15);
    ck_assert_double_eq_tol(m, 0.95, 1e-12);
    /* Quarter of phase 1 by cosine: lo + (hi-lo) * (1 - cos(pi/4)) / 2. */
    c.warmup = 0.41; /* phase 1 ends at step 40 */
    train_schedule_at(&c, 10, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.008 + 0.192 * (1 - sqrt(0.5)) / 2, 1e-12);

    c.schedule = TRAIN_COSINE;
    c.warmup = 0.1;
    c.lr = 1.0;
    train_schedule_at(&c, 0, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.1, 1e-12);
    ck_assert_double_eq_tol(m, 0.9, 1e-12);
    train_schedule_at(&c, 9, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 1.0, 1e-12);
    train_schedule_at(&c, 55, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.5, 1e-12);
    train_schedule_at(&c, 100, 100, &lr, &m);
    ck_assert_double_eq_tol(lr, 0.0, 1e-12);
}
END_TEST

START_TEST(test_train_sgd_step)
{
    /* Hand-computed with PyTorch's rule: g = grad + wd*p (masked);
     * v = m*v + g; p -= lr*(g + m*v). */
    float p[2] = {1.0f, 2.0f}, g[2] = {0.5f, -1.0f}, v[2] = {0.1f, 0.0f};
    const unsigned char mask[2] = {1, 0};
    train_sgd_step(p, g, v, mask, 2, 0.1f, 0.9f, 0.01f);
    ck_assert_float_eq_tol(v[0], 0.6f, 1e-6f);
    ck_assert_float_eq_tol(p[0], 0.895f, 1e-6f);
    ck_assert_float_eq_tol(v[1], -1.0f, 1e-6f);
    ck_assert_float_eq_tol(p[1], 2.19f, 1e-6f); /* no decay: mask 0 */
    train_sgd_step(p, g, v, mask, 2, 0.1f, 0.9f, 0.01f);
    ck_assert_float_eq_tol(v[0], 1.04895f, 1e-6f);
    ck_assert_float_eq_tol(p[0], 0.7496995f, 1e-6f);
}
END_TEST

START_TEST(test_train_recalibrate_bn)
{
    /* One batch: the recalibrated statistics must be what the running
     * averages converge to when that batch is seen over and over, i.e. a
     * fixed point of the running update (which moves them by 1 % of their
     * distance to the batch statistics per forward). */
    struct data_set tr;
    synthetic_set(&tr, 32, 4);
    struct nn_net *net = tiny_net(5, 32);
    struct hw_err err = {0};
    size_t ns = nn_net_n_state(net);
    float *init = malloc(sizeof *init * ns), *recal = malloc(sizeof *recal * ns);
    memcpy(init, nn_net_state(net), sizeof *init * ns);
    ck_assert_int_eq(train_recalibrate_bn(net, &tr, 32, 32, &err), HW_OK);
    memcpy(recal, nn_net_state(net), sizeof *recal * ns);

    float x[32 * 64];
    int y[32], rows[32];
    for (int i = 0; i < 32; i++)
        rows[i] = i;
    data_fill_batch(&tr, rows, 32, NULL, x, y);
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 1);
    for (int it = 0; it < 10; it++)
        nn_net_forward(net, x, 32, &rng);
    const float *ema = nn_net_state(net);
    int moved = 0;
    for (size_t i = 0; i < ns; i++) {
        /* A statistic off by d would move by about 0.1 d in 10 steps. */
        ck_assert_msg(fabsf(recal[i] - ema[i]) <= 1e-5f * (1.0f + fabsf(ema[i])),
                      "state[%zu]: recalibrated %g, after 10 steps %g", i, recal[i], ema[i]);
        moved += fabsf(recal[i] - init[i]) > 1e-3f;
    }
    ck_assert_uint_gt((size_t)moved, ns / 2); /* not the initial 0 / 1 */
    ck_assert_int_eq(train_recalibrate_bn(net, &tr, 16, 32, &err), HW_EINVAL);
    free(init);
    free(recal);
    nn_net_free(net);
    data_set_release(&tr);
}
END_TEST

static int count_epochs(const struct train_epoch *e, void *ctx)
{
    int *calls = ctx;
    ck_assert_int_eq(e->epoch, *calls + 1);
    ck_assert(e->img_per_s > 0 && e->loss > 0);
    (*calls)++;
    return 0;
}

START_TEST(test_train_run_learns)
{
    struct data_set tr, va;
    synthetic_set(&tr, 640, 1);
    synthetic_set(&va, 300, 2);
    va.mean = tr.mean;
    va.std = tr.std;
    struct nn_net *net = tiny_net(7, 32);
    struct train_config c;
    tiny_config(&c);
    struct train_result res;
    struct hw_err err = {0};
    double before;
    ck_assert_int_eq(train_evaluate(net, &va, 0, 64, &before, &err), HW_OK);
    int calls = 0;
    ck_assert_msg(train_run(net, &tr, &va, &c, 11, count_epochs, &calls, &res, &err) == HW_OK,
                  "%s", err.msg);
    ck_assert_int_eq(calls, 6);
    ck_assert_int_eq(res.epochs_done, 6);
    ck_assert_int_eq(res.diverged, 0);
    ck_assert_msg(res.val_acc > 0.9, "val acc %.3f (before %.3f)", res.val_acc, before);
    /* train_evaluate folds the same way the trainer's validation does. */
    double after;
    ck_assert_int_eq(train_evaluate(net, &va, 0, 50, &after, &err), HW_OK);
    ck_assert_double_eq_tol(after, res.val_acc, 1e-9);
    /* res.val_loss against a naive cross-entropy of the same folded net */
    struct nn_net *infer;
    ck_assert_int_eq(nn_net_create(&infer, nn_net_arch(net), va.n, NN_MODE_INFER, &err), HW_OK);
    ck_assert_int_eq(nn_net_fold_from(infer, net, &err), HW_OK);
    float *x = malloc(sizeof *x * (size_t)va.n * va.h * va.w * va.c);
    int *y = malloc(sizeof *y * (size_t)va.n), *rows = malloc(sizeof *rows * (size_t)va.n);
    for (int i = 0; i < va.n; i++)
        rows[i] = i;
    data_fill_batch(&va, rows, va.n, NULL, x, y);
    const float *logits = nn_net_forward(infer, x, va.n, NULL);
    int k = nn_net_arch(net)->classes;
    double xent = 0;
    for (int i = 0; i < va.n; i++) {
        double z = 0;
        for (int j = 0; j < k; j++)
            z += exp((double)logits[i * k + j]);
        xent -= log(exp((double)logits[i * k + y[i]]) / z);
    }
    ck_assert_msg(fabs(res.val_loss - xent / va.n) < 1e-5, "val loss %.6f, naive %.6f",
                  res.val_loss, xent / va.n);
    ck_assert(res.val_loss > 0 && res.val_loss < 0.5);
    free(x);
    free(y);
    free(rows);
    nn_net_free(infer);
    nn_net_free(net);
    data_set_release(&tr);
    data_set_release(&va);
}
END_TEST

START_TEST(test_train_run_deterministic)
{
    struct data_set tr;
    synthetic_set(&tr, 200, 1);
    struct train_config c;
    tiny_config(&c);
    c.epochs = 1;
    c.augment = 1;
    struct train_result res;
    struct hw_err err = {0};
    struct nn_net *n1 = tiny_net(3, 32), *n2 = tiny_net(3, 32), *n3 = tiny_net(3, 32);
    ck_assert_int_eq(train_run(n1, &tr, NULL, &c, 5, NULL, NULL, &res, &err), HW_OK);
    ck_assert_int_eq(train_run(n2, &tr, NULL, &c, 5, NULL, NULL, &res, &err), HW_OK);
    ck_assert_int_eq(train_run(n3, &tr, NULL, &c, 6, NULL, NULL, &res, &err), HW_OK);
    size_t np = nn_net_n_params(n1);
    ck_assert_mem_eq(nn_net_params(n1), nn_net_params(n2), np * sizeof(float));
    ck_assert_mem_eq(nn_net_state(n1), nn_net_state(n2),
                     nn_net_n_state(n1) * sizeof(float));
    ck_assert(memcmp(nn_net_params(n1), nn_net_params(n3), np * sizeof(float)) != 0);
    nn_net_free(n1);
    nn_net_free(n2);
    nn_net_free(n3);
    data_set_release(&tr);
}
END_TEST

static int stop_now(const struct train_epoch *e, void *ctx)
{
    return 1;
}

START_TEST(test_train_run_refuses)
{
    struct data_set tr;
    synthetic_set(&tr, 100, 1);
    struct nn_net *net = tiny_net(1, 32);
    struct train_config c;
    tiny_config(&c);
    struct train_result res;
    struct hw_err err = {0};

    c.epochs = 0;
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_EINVAL);
    ck_assert_str_eq(err.msg, "epochs: 0 is not positive");
    tiny_config(&c);
    c.lr = -1;
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_EINVAL);
    ck_assert_str_eq(err.msg, "lr: -1 is not a positive number");
    tiny_config(&c);
    tr.w = 7;
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_EMISMATCH);
    ck_assert_str_eq(err.msg, "training set: images are 8x7x1 but arch tiny takes 8x8x1");
    tr.w = 8;
    c.subset = 20; /* fewer than a batch */
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_EINVAL);
    ck_assert_str_eq(err.msg, "20 images are fewer than one batch of 32");
    tiny_config(&c);
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, stop_now, NULL, &res, &err), HW_EINTR);
    ck_assert_int_eq(res.epochs_done, 1);
    ck_assert_str_eq(err.msg, "training stopped after epoch 1 of 6");
    /* An absurd learning rate diverges: reported, not an error. */
    c.lr = 1e30;
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_OK);
    ck_assert_int_eq(res.diverged, 1);
    nn_net_free(net);
    data_set_release(&tr);
}
END_TEST

/* ---- model files */

static void model_tmp(char *p, size_t n, const char *name)
{
    make_tmpdir();
    tmp_path(p, n, name);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 64);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Rewrites the CRC so a test reaches the check behind it. */
static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t c = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    memcpy(b + n - 4, &c, 4);
}

static void expect_model_error(const char *path, int status, const char *want)
{
    struct nn_net *net = (struct nn_net *)1;
    struct hw_err err = {0};
    ck_assert_int_eq(model_load(path, 8, &net, &err), status);
    ck_assert_ptr_null(net);
    ck_assert_msg(strstr(err.msg, path) != NULL, "message '%s' lacks path", err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
}

START_TEST(test_model_save_load)
{
    char p[512];
    model_tmp(p, sizeof p, "tiny.model");
    struct data_set tr;
    synthetic_set(&tr, 128, 1);
    struct nn_net *net = tiny_net(9, 32), *back = NULL;
    struct train_config c;
    tiny_config(&c);
    c.epochs = 1;
    struct train_result res;
    struct hw_err err = {0};
    /* Train a little so BN running statistics are not their defaults. */
    ck_assert_int_eq(train_run(net, &tr, NULL, &c, 1, NULL, NULL, &res, &err), HW_OK);
    ck_assert_msg(model_save(p, net, &err) == HW_OK, "%s", err.msg);
    ck_assert_msg(model_load(p, 16, &back, &err) == HW_OK, "%s", err.msg);
    ck_assert(arch_equal(nn_net_arch(net), nn_net_arch(back)));
    ck_assert_uint_eq(nn_net_n_params(back), nn_net_n_params(net));
    ck_assert_mem_eq(nn_net_params(back), nn_net_params(net),
                     nn_net_n_params(net) * sizeof(float));
    ck_assert_mem_eq(nn_net_state(back), nn_net_state(net),
                     nn_net_n_state(net) * sizeof(float));
    double a1, a2;
    ck_assert_int_eq(train_evaluate(net, &tr, 0, 64, &a1, &err), HW_OK);
    ck_assert_int_eq(train_evaluate(back, &tr, 0, 64, &a2, &err), HW_OK);
    ck_assert_double_eq(a1, a2);
    nn_net_free(back);
    nn_net_free(net);
    data_set_release(&tr);
    remove_tmpdir();
}
END_TEST

START_TEST(test_model_load_bad_files)
{
    char good[512], p[512];
    model_tmp(good, sizeof good, "good.model");
    struct nn_net *net = tiny_net(2, 8);
    struct hw_err err = {0};
    ck_assert_int_eq(model_save(good, net, &err), HW_OK);
    size_t n;
    unsigned char *b = slurp(good, &n);
    uint32_t jlen;
    memcpy(&jlen, b + 12, 4);
    size_t params_at = 16 + jlen; /* u64 count, then floats */

    tmp_path(p, sizeof p, "magic.model");
    write_bytes(p, "HWNASMDX", 8);
    expect_model_error(p, HW_EINVAL, "magic: not an hwnas model file");

    tmp_path(p, sizeof p, "version.model");
    b[8] = 2;
    write_bytes(p, b, n);
    expect_model_error(p, HW_EMISMATCH, "version: 2 is not supported (this hwnas reads up to 1)");
    b[8] = 1;

    tmp_path(p, sizeof p, "trunc.model");
    write_bytes(p, b, n - 100);
    expect_model_error(p, HW_EINVAL, "truncated");

    tmp_path(p, sizeof p, "trunc-json.model");
    write_bytes(p, b, 16 + jlen / 2);
    expect_model_error(p, HW_EINVAL, "truncated: arch JSON");

    tmp_path(p, sizeof p, "trailing.model");
    memset(b + n, 0, 4);
    write_bytes(p, b, n + 4);
    expect_model_error(p, HW_EINVAL, "4 trailing bytes");

    tmp_path(p, sizeof p, "crc.model");
    b[params_at + 8 + 40] ^= 0x10; /* one bit of one weight */
    write_bytes(p, b, n);
    expect_model_error(p, HW_EINVAL, "checksum: stored CRC-32");
    b[params_at + 8 + 40] ^= 0x10;

    /* A sound file whose params count disagrees with its arch (one weight
     * fewer, CRC made consistent: another layout). */
    tmp_path(p, sizeof p, "count.model");
    uint64_t np;
    memcpy(&np, b + params_at, 8);
    uint64_t wrong = np - 1;
    memcpy(b + params_at, &wrong, 8);
    size_t last = params_at + 8 + wrong * sizeof(float); /* the weight dropped */
    memmove(b + last, b + last + sizeof(float), n - last - sizeof(float));
    n -= sizeof(float);
    fix_crc(b, n);
    write_bytes(p, b, n);
    char want[128];
    snprintf(want, sizeof want, "params: file has %llu values, arch tiny needs %llu",
             (unsigned long long)wrong, (unsigned long long)np);
    expect_model_error(p, HW_EMISMATCH, want);

    tmp_path(p, sizeof p, "missing.model");
    expect_model_error(p, HW_EIO, "cannot open");
    free(b);
    nn_net_free(net);
    remove_tmpdir();
}
END_TEST

/* A saved file's bytes load to the same net; a refusal names the name given
 * for them. */
START_TEST(test_model_load_bytes)
{
    char p[512];
    model_tmp(p, sizeof p, "bytes.model");
    struct nn_net *net = tiny_net(3, 8), *back = NULL;
    struct hw_err err = {0};
    ck_assert_int_eq(model_save(p, net, &err), HW_OK);
    size_t n;
    unsigned char *b = slurp(p, &n);
    ck_assert_msg(model_load_bytes(b, n, "mem.hwm", 8, &back, &err) == HW_OK, "%s", err.msg);
    ck_assert(arch_equal(nn_net_arch(net), nn_net_arch(back)));
    ck_assert_mem_eq(nn_net_params(back), nn_net_params(net),
                     nn_net_n_params(net) * sizeof(float));
    nn_net_free(back);
    ck_assert_int_eq(model_load_bytes(b, n - 1, "mem.hwm", 8, &back, &err), HW_EINVAL);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(err.msg, "mem.hwm: truncated: checksum"), "%s", err.msg);

    /* A damaged arch asking for terabytes (4096x4096 input, 16384 channels)
     * is refused by the checksum before its net is built. */
    struct arch huge = tiny_arch();
    huge.in_h = huge.in_w = ARCH_MAX_SIZE;
    huge.stem.out = huge.layers[0].in = huge.layers[0].mid = ARCH_MAX_CHANNELS;
    huge.layers[0].out = huge.layers[1].in = ARCH_MAX_CHANNELS;
    char *json = arch_to_json_string(&huge);
    uint32_t jlen, hlen = (uint32_t)strlen(json);
    memcpy(&jlen, b + 12, 4);
    size_t rest = n - 16 - jlen; /* counts, floats and the checksum, now wrong */
    unsigned char *d = malloc(16 + hlen + rest);
    memcpy(d, b, 12);
    memcpy(d + 12, &hlen, 4);
    memcpy(d + 16, json, hlen);
    memcpy(d + 16 + hlen, b + 16 + jlen, rest);
    ck_assert_int_eq(model_load_bytes(d, 16 + hlen + rest, "mem.hwm", 8, &back, &err), HW_EINVAL);
    ck_assert_msg(strstr(err.msg, "mem.hwm: checksum: stored CRC-32"), "%s", err.msg);
    free(d);
    free(json);
    free(b);
    nn_net_free(net);
    remove_tmpdir();
}
END_TEST

/* ---- eval_proxy */

struct val_log {
    int validated, last_validated;
};

/* Counts the epochs that reported a validation. */
static int log_val(const struct train_epoch *e, void *ctx)
{
    struct val_log *l = ctx;
    if (e->val_acc >= 0) {
        l->validated++;
        l->last_validated = e->epoch;
    }
    return 0;
}

START_TEST(test_eval_proxy)
{
    struct data_set tr, va;
    synthetic_set(&tr, 400, 1);
    synthetic_set(&va, 200, 2);
    struct eval_proxy_config c;
    eval_proxy_config_default(&c);
    c.train = &tr;
    c.val = &va;
    c.subset = 256;
    c.val_subset = 100;
    c.batch = 32;
    c.epochs = 3;
    c.threads = 1;
    struct arch a = tiny_arch();
    struct eval_result r1, r2;
    struct hw_err err = {0};
    ck_assert_msg(eval_proxy(&a, &c, 42, &r1, &err) == HW_OK, "%s", err.msg);
    ck_assert_int_eq(eval_proxy(&a, &c, 42, &r2, &err), HW_OK);
    ck_assert_double_eq(r1.val_acc, r2.val_acc); /* deterministic */
    ck_assert_double_eq(r1.train_loss, r2.train_loss);
    /* the proxy validates once, after the last epoch: the same figures as a
     * training that validates after every epoch */
    struct nn_net *net;
    ck_assert_int_eq(nn_net_create(&net, &a, c.batch, NN_MODE_TRAIN, &err), HW_OK);
    train_init_params(net, 42);
    struct train_config tc;
    train_config_default(&tc);
    tc.epochs = c.epochs, tc.batch = c.batch, tc.lr = c.lr, tc.augment = c.augment;
    tc.subset = c.subset, tc.val_subset = c.val_subset, tc.threads = 1, tc.quiet = 1;
    struct val_log vlog = {0};
    struct train_result every;
    ck_assert_int_eq(train_run(net, &tr, &va, &tc, 42, log_val, &vlog, &every, &err), HW_OK);
    ck_assert_int_eq(vlog.validated, 3);
    ck_assert_double_eq(every.val_acc, r1.val_acc);
    ck_assert_double_eq(every.val_loss, r1.val_loss);
    ck_assert_double_eq(every.loss, r1.train_loss);
    train_init_params(net, 42);
    tc.val_last_only = 1;
    vlog = (struct val_log){0};
    ck_assert_int_eq(train_run(net, &tr, &va, &tc, 42, log_val, &vlog, &every, &err), HW_OK);
    ck_assert_int_eq(vlog.validated, 1);
    ck_assert_int_eq(vlog.last_validated, 3);
    ck_assert_double_eq(every.val_acc, r1.val_acc);
    nn_net_free(net);
    ck_assert(r1.val_acc > 0.5 && r1.wall_s > 0 && !r1.diverged);
    ck_assert(r1.val_loss > 0 && isfinite(r1.val_loss));
    /* the last epoch's training loss, label smoothing 0.1 included: above
     * the entropy of the smoothed 3-class targets, below chance's ln 3 */
    double hi = 1 - 0.1 + 0.1 / 3, lo = 0.1 / 3, floor = -(hi * log(hi) + 2 * lo * log(lo));
    ck_assert_msg(r1.train_loss > floor && r1.train_loss < log(3.0), "train loss %g",
                  r1.train_loss);
    c.lr = 1e30; /* diverges: a result with accuracy 0 and infinite losses */
    ck_assert_int_eq(eval_proxy(&a, &c, 42, &r2, &err), HW_OK);
    ck_assert(r2.diverged && r2.val_acc == 0 && isinf(r2.val_loss) && r2.val_loss > 0);
    ck_assert(isinf(r2.train_loss) && r2.train_loss > 0);
    c.lr = 0.2;
    a.layers[1].in = 9; /* broken chain */
    ck_assert_int_eq(eval_proxy(&a, &c, 42, &r1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "layers[1].in"));
    data_set_release(&tr);
    data_set_release(&va);
}
END_TEST

/* ---- cmd_train / cmd_eval: usage errors and bad files through the binary */

/* Runs hwnas, expects exit code `status` and `want` in its stderr. */
static void expect_cli(const char *args, int status, const char *want)
{
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == status, "hwnas %s: exit %d, want %d (%s)", args, r.status,
                  status, r.err);
    ck_assert_msg(strstr(r.err, want) != NULL, "hwnas %s: stderr '%s' lacks '%s'", args,
                  r.err, want);
    cli_run_release(&r);
}

START_TEST(test_cmd_train_usage)
{
    expect_cli("train fmnist-ref --epochs 0", 2, "--epochs: 0 is not positive");
    expect_cli("train fmnist-ref --batch 1", 2, "--batch: 1 is below 2");
    expect_cli("train fmnist-ref --schedule step", 2,
               "--schedule: 'step' is not onecycle or cosine");
    expect_cli("train", 2, "missing argument");
    expect_cli("train no-such-net", 1, "no-such-net");
    expect_cli("train fmnist-ref --data /nonexistent-dir", 1,
               "/nonexistent-dir/train-images-idx3-ubyte.gz: cannot open");
    expect_cli("train fmnist-ref --out /nonexistent-dir/m", 1, "cannot write");
}
END_TEST

START_TEST(test_cmd_eval_usage)
{
    char args[600], p[512];
    expect_cli("eval x.model --split train", 2, "--split: 'train' is not val or test");
    make_tmpdir();
    tmp_path(p, sizeof p, "not-a-model");
    write_bytes(p, "hello world, not a model", 24);
    snprintf(args, sizeof args, "eval %s --split val", p);
    expect_cli(args, 1, "magic: not an hwnas model file");
    remove_tmpdir();
}
END_TEST

Suite *suite_evaluator(void)
{
    Suite *s = suite_create("evaluator");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"idx_read", test_idx_read_good},
        {"idx_read", test_idx_read_bad_files},
        {"idx_read", test_idx_read_bad_gzip},
        {"data_set_from_idx", test_data_set_from_idx_mismatch},
        {"data_load_trainval", test_data_load_trainval_split},
        {"data_load_trainval", test_data_load_trainval_fmnist},
        {"data_fill_batch", test_data_fill_batch},
        {"data_iter", test_data_iter},
        {"train_schedule_at", test_train_schedule_at},
        {"train_sgd_step", test_train_sgd_step},
        {"train_recalibrate_bn", test_train_recalibrate_bn},
        {"train_run", test_train_run_learns},
        {"train_run", test_train_run_deterministic},
        {"train_run", test_train_run_refuses},
        {"model_save", test_model_save_load},
        {"model_load", test_model_load_bad_files},
        {"model_load_bytes", test_model_load_bytes},
        {"eval_proxy", test_eval_proxy},
        {"cmd_train", test_cmd_train_usage},
        {"cmd_eval", test_cmd_eval_usage},
    };
    TCase *tc = NULL;
    const char *cur = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cur || strcmp(cur, cases[i].name) != 0) {
            tc = tcase_create(cases[i].name);
            tcase_set_timeout(tc, 60);
            suite_add_tcase(s, tc);
            cur = cases[i].name;
        }
        tcase_add_test(tc, cases[i].fn);
    }
    return s;
}
