/* Image classification data for training and evaluating candidates.
 *
 * A dataset directory holds four IDX files with the MNIST names
 * (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte), each gzip-compressed (".gz") or raw. The default is
 * Fashion-MNIST from Debian's dataset-fashion-mnist.
 *
 * The training file is split once, the same way on every machine: its
 * indices are shuffled by a PCG32 seeded with DATA_SPLIT_SEED/DATA_SPLIT_STREAM,
 * the last n/6 of that order form the validation split (10,000 of 60,000) and
 * the rest, in that shuffled order, the training split. A subset of the
 * training split is its first N images, so small subsets are class-balanced
 * in expectation and nested (subset 5000 contains subset 1000).
 * The test file is read only by data_load_test, which the search and NetAdapt
 * never call.
 *
 * Images stay as bytes; batches are produced as normalized float NHWC
 * (N,H,W,C): x = (pixel/255 - mean) / std, with mean and std measured on the
 * training split (Fashion-MNIST: 0.286, 0.353) and shared by all splits. */
#ifndef HWNAS_EVALUATOR_DATA_H
#define HWNAS_EVALUATOR_DATA_H

#include <stdint.h>

#include "evaluator/idx.h"
#include "util/err.h"
#include "util/pcg32.h"

#define DATA_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define DATA_SPLIT_SEED 0x6877616e73ULL /* "hwans": fixed forever */
#define DATA_SPLIT_STREAM 50010
/* Augmentation: random crop of the image zero-padded by this many pixels. */
#define DATA_CROP_PAD 2

struct data_set {
    int n, h, w, c;
    int classes;            /* labels are in [0, classes) */
    unsigned char *pixels;  /* (n,h,w,c) bytes, owned */
    unsigned char *labels;  /* (n), owned */
    float mean, std;        /* normalization of the training split */
};

/* Loads dir's training file and splits it into train and val (see above).
 * Labels must be < classes. dir NULL means DATA_DEFAULT_DIR. Both sets are
 * owned by the caller (data_set_release). */
int data_load_trainval(const char *dir, int classes, struct data_set *train,
                       struct data_set *val, struct hw_err *err);

/* Loads dir's test file, normalized with the statistics of the training
 * split (norm_from, e.g. the train set from data_load_trainval). Only for an
 * explicit final evaluation of a chosen model. */
int data_load_test(const char *dir, int classes, const struct data_set *norm_from,
                   struct data_set *test, struct hw_err *err);

/* Builds a set from an images IDX array (N,H,W) or (N,H,W,C) and a labels
 * array (N), checking counts and label range; names are used in messages.
 * Takes the rows listed in idx (n_idx of them; idx NULL means all in order).
 * mean/std are left 0: the caller sets them (data_set_measure_norm). */
int data_set_from_idx(struct data_set *out, const struct idx_array *images,
                      const char *images_name, const struct idx_array *labels,
                      const char *labels_name, int classes, const int *idx,
                      int n_idx, struct hw_err *err);

/* Sets set->mean and set->std to the pixel statistics of the whole set. */
void data_set_measure_norm(struct data_set *set);

void data_set_release(struct data_set *set);

/* Fills x (n,h,w,c) normalized and y (n) with the images rows[0..n-1].
 * With rng non-NULL each image is augmented independently: shifted by
 * (dy,dx) uniform in [-DATA_CROP_PAD, DATA_CROP_PAD] with zero (black)
 * fill -- a random crop of the padded image -- and mirrored left-right with
 * probability 1/2. */
void data_fill_batch(const struct data_set *set, const int *rows, int n,
                     struct pcg32 *rng, float *x, int *y);

/* Mini-batches over the first n images of a set (a subset), in a fresh
 * shuffled order each epoch when shuffle is set. */
struct data_iter {
    const struct data_set *set; /* borrowed */
    int n, batch;
    int shuffle, augment, drop_last;
    int *order; /* (n), owned */
    int pos;
    struct pcg32 rng; /* order and augmentation */
};

/* n <= 0 or n > set->n means the whole set. drop_last skips a final partial
 * batch (small batches upset batch-norm statistics in training). */
int data_iter_init(struct data_iter *it, const struct data_set *set, int n,
                   int batch, int shuffle, int augment, int drop_last,
                   uint64_t seed, struct hw_err *err);
/* Starts an epoch: reshuffles when shuffle is set, rewinds otherwise. */
void data_iter_epoch(struct data_iter *it);
/* Fills the next batch; returns its size, 0 at the end of the epoch. */
int data_iter_next(struct data_iter *it, float *x, int *y);
/* Batches per epoch. */
int data_iter_batches(const struct data_iter *it);
void data_iter_release(struct data_iter *it);

#endif
