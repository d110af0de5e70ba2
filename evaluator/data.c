#include "evaluator/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA_PATH_MAX 4096

/* dir/name.gz if it exists, else dir/name (raw); messages name the .gz. */
static void data_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s.gz", dir, name);
    if (access(buf, F_OK) == 0)
        return;
    snprintf(buf, n, "%s/%s", dir, name);
    if (access(buf, F_OK) != 0)
        snprintf(buf, n, "%s/%s.gz", dir, name);
}

void data_set_release(struct data_set *set)
{
    free(set->pixels);
    free(set->labels);
    memset(set, 0, sizeof *set);
}

int data_set_from_idx(struct data_set *out, const struct idx_array *images,
                      const char *images_name, const struct idx_array *labels,
                      const char *labels_name, int classes, const int *idx,
                      int n_idx, struct hw_err *err)
{
    memset(out, 0, sizeof *out);
    if (images->ndim != 3 && images->ndim != 4)
        return hw_error(err, HW_EINVAL, "%s: ndim: %d is not 3 (N,H,W) or 4 (N,H,W,C)",
                        images_name, images->ndim);
    if (labels->ndim != 1)
        return hw_error(err, HW_EINVAL, "%s: ndim: %d is not 1 (labels)", labels_name,
                        labels->ndim);
    if (labels->dims[0] != images->dims[0])
        return hw_error(err, HW_EINVAL,
                        "%s: dims[0]: %d labels, but %s has %d images", labels_name,
                        labels->dims[0], images_name, images->dims[0]);
    for (int i = 0; i < labels->dims[0]; i++)
        if (labels->data[i] >= classes)
            return hw_error(err, HW_EINVAL,
                            "%s: label[%d]: %d is out of range for %d classes",
                            labels_name, i, labels->data[i], classes);
    int n = idx ? n_idx : images->dims[0];
    size_t img = (size_t)images->dims[1] * images->dims[2] *
                 (images->ndim == 4 ? images->dims[3] : 1);
    out->pixels = malloc(img * (size_t)n);
    out->labels = malloc((size_t)n);
    if (!out->pixels || !out->labels) {
        data_set_release(out);
        return hw_error(err, HW_ENOMEM, "%s: out of memory for %d images",
                        images_name, n);
    }
    for (int i = 0; i < n; i++) {
        int r = idx ? idx[i] : i;
        memcpy(out->pixels + img * (size_t)i, images->data + img * (size_t)r, img);
        out->labels[i] = labels->data[r];
    }
    out->n = n;
    out->h = images->dims[1];
    out->w = images->dims[2];
    out->c = images->ndim == 4 ? images->dims[3] : 1;
    out->classes = classes;
    return HW_OK;
}

void data_set_measure_norm(struct data_set *set)
{
    /* A histogram keeps the sums exact and the result order-independent. */
    uint64_t hist[256] = {0};
    size_t total = (size_t)set->n * set->h * set->w * set->c;
    for (size_t i = 0; i < total; i++)
        hist[set->pixels[i]]++;
    double s = 0, sq = 0;
    for (int v = 0; v < 256; v++) {
        double x = v / 255.0;
        s += x * (double)hist[v];
        sq += x * x * (double)hist[v];
    }
    double mean = total ? s / (double)total : 0;
    double var = total ? sq / (double)total - mean * mean : 0;
    set->mean = (float)mean;
    set->std = var > 1e-12 ? (float)sqrt(var) : 1.0f;
}

/* Reads one images file and one labels file named by their MNIST stems. */
static int load_pair(const char *dir, const char *images_stem, const char *labels_stem,
                     struct idx_array *images, char *images_path,
                     struct idx_array *labels, char *labels_path, struct hw_err *err)
{
    if (!dir)
        dir = DATA_DEFAULT_DIR;
    data_path(images_path, DATA_PATH_MAX, dir, images_stem);
    data_path(labels_path, DATA_PATH_MAX, dir, labels_stem);
    int rc = idx_read(images_path, 3, 4, images, err);
    if (rc != HW_OK)
        return rc;
    rc = idx_read(labels_path, 1, 1, labels, err);
    if (rc != HW_OK)
        idx_array_release(images);
    return rc;
}

int data_load_trainval(const char *dir, int classes, struct data_set *train,
                       struct data_set *val, struct hw_err *err)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    char ipath[DATA_PATH_MAX], lpath[DATA_PATH_MAX];
    struct idx_array images, labels;
    int rc = load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       &images, ipath, &labels, lpath, err);
    if (rc != HW_OK)
        return rc;
    int n = images.dims[0], *order = NULL;
    if (n < 6) {
        rc = hw_error(err, HW_EINVAL,
                      "%s: dims[0]: %d images is too few to split into train and "
                      "validation", ipath, n);
        goto out;
    }
    order = malloc(sizeof *order * (size_t)n);
    if (!order) {
        rc = hw_error(err, HW_ENOMEM, "%s: out of memory", ipath);
        goto out;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    struct pcg32 split;
    pcg32_seed(&split, DATA_SPLIT_SEED, DATA_SPLIT_STREAM);
    pcg32_shuffle_int(&split, order, (size_t)n);
    int n_val = n / 6;
    rc = data_set_from_idx(train, &images, ipath, &labels, lpath, classes, order,
                           n - n_val, err);
    if (rc == HW_OK)
        rc = data_set_from_idx(val, &images, ipath, &labels, lpath, classes,
                               order + (n - n_val), n_val, err);
    if (rc != HW_OK) {
        data_set_release(train);
        goto out;
    }
    data_set_measure_norm(train);
    val->mean = train->mean;
    val->std = train->std;
out:
    free(order);
    idx_array_release(&images);
    idx_array_release(&labels);
    return rc;
}

int data_load_test(const char *dir, int classes, const struct data_set *norm_from,
                   struct data_set *test, struct hw_err *err)
{
    memset(test, 0, sizeof *test);
    char ipath[DATA_PATH_MAX], lpath[DATA_PATH_MAX];
    struct idx_array images, labels;
    int rc = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                       &images, ipath, &labels, lpath, err);
    if (rc != HW_OK)
        return rc;
    rc = data_set_from_idx(test, &images, ipath, &labels, lpath, classes, NULL, 0, err);
    if (rc == HW_OK && (test->h != norm_from->h || test->w != norm_from->w ||
                        test->c != norm_from->c)) {
        rc = hw_error(err, HW_EINVAL,
                      "%s: images are %dx%dx%d, but the training images are %dx%dx%d",
                      ipath, test->h, test->w, test->c, norm_from->h, norm_from->w,
                      norm_from->c);
        data_set_release(test);
    }
    if (rc == HW_OK) {
        test->mean = norm_from->mean;
        test->std = norm_from->std;
    }
    idx_array_release(&images);
    idx_array_release(&labels);
    return rc;
}

void data_fill_batch(const struct data_set *set, const int *rows, int n,
                     struct pcg32 *rng, float *x, int *y)
{
    float lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = ((float)v / 255.0f - set->mean) / set->std;
    const int h = set->h, w = set->w, c = set->c;
    const size_t img = (size_t)h * w * c;
    for (int i = 0; i < n; i++) {
        const unsigned char *src = set->pixels + img * (size_t)rows[i];
        float *dst = x + img * (size_t)i; /* (h,w,c) */
        y[i] = set->labels[rows[i]];
        int dy = 0, dx = 0, flip = 0;
        if (rng) {
            dy = (int)pcg32_bounded(rng, 2 * DATA_CROP_PAD + 1) - DATA_CROP_PAD;
            dx = (int)pcg32_bounded(rng, 2 * DATA_CROP_PAD + 1) - DATA_CROP_PAD;
            flip = (int)(pcg32_next(rng) >> 31);
        }
        for (int r = 0; r < h; r++) {
            int sr = r + dy;
            for (int col = 0; col < w; col++) {
                /* Output column col shows the shifted image at column q. */
                int q = flip ? w - 1 - col : col;
                int sc = q + dx;
                float *d = dst + ((size_t)r * w + col) * c;
                if (sr < 0 || sr >= h || sc < 0 || sc >= w) {
                    for (int k = 0; k < c; k++)
                        d[k] = lut[0];
                } else {
                    const unsigned char *s = src + ((size_t)sr * w + sc) * c;
                    for (int k = 0; k < c; k++)
                        d[k] = lut[s[k]];
                }
            }
        }
    }
}

int data_iter_init(struct data_iter *it, const struct data_set *set, int n,
                   int batch, int shuffle, int augment, int drop_last,
                   uint64_t seed, struct hw_err *err)
{
    memset(it, 0, sizeof *it);
    if (batch < 1)
        return hw_error(err, HW_EINVAL, "batch size %d is not positive", batch);
    if (n <= 0 || n > set->n)
        n = set->n;
    if (drop_last && n < batch)
        return hw_error(err, HW_EINVAL,
                        "%d images are fewer than one batch of %d", n, batch);
    it->order = malloc(sizeof *it->order * (size_t)(n ? n : 1));
    if (!it->order)
        return hw_error(err, HW_ENOMEM, "out of memory for %d indices", n);
    for (int i = 0; i < n; i++)
        it->order[i] = i;
    it->set = set;
    it->n = n;
    it->batch = batch;
    it->shuffle = shuffle;
    it->augment = augment;
    it->drop_last = drop_last;
    pcg32_seed(&it->rng, seed, 0x64617461 /* "data" */);
    return HW_OK;
}

void data_iter_epoch(struct data_iter *it)
{
    if (it->shuffle) {
        /* Shuffle the identity, so an epoch's order depends only on the rng. */
        for (int i = 0; i < it->n; i++)
            it->order[i] = i;
        pcg32_shuffle_int(&it->rng, it->order, (size_t)it->n);
    }
    it->pos = 0;
}

int data_iter_next(struct data_iter *it, float *x, int *y)
{
    int left = it->n - it->pos;
    int b = left < it->batch ? left : it->batch;
    if (b <= 0 || (it->drop_last && b < it->batch))
        return 0;
    data_fill_batch(it->set, it->order + it->pos, b, it->augment ? &it->rng : NULL,
                    x, y);
    it->pos += b;
    return b;
}

int data_iter_batches(const struct data_iter *it)
{
    return it->drop_last ? it->n / it->batch : (it->n + it->batch - 1) / it->batch;
}

void data_iter_release(struct data_iter *it)
{
    free(it->order);
    memset(it, 0, sizeof *it);
}
