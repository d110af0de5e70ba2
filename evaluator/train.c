#include "evaluator/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "util/progress.h"
#include "util/timer.h"

/* PCG32 stream selectors: one independent stream per use of the seed. */
#define STREAM_INIT 0x696e6974u    /* "init" */
#define STREAM_DROPOUT 0x64726f70u /* "drop" */

/* PyTorch OneCycleLR defaults (div_factor, final_div_factor) and the
 * half-width of its momentum cycle (0.85..0.95 around 0.9). */
#define ONE_CYCLE_DIV 25.0
#define ONE_CYCLE_FINAL_DIV 1e4
#define ONE_CYCLE_MOMENTUM_SWING 0.05

void train_config_default(struct train_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->batch = 128;
    c->lr = 0.2;
    c->momentum = 0.9;
    c->weight_decay = 4e-5;
    c->label_smoothing = 0.1;
    c->schedule = TRAIN_ONE_CYCLE;
    c->warmup = 0.3;
    c->augment = 1;
    c->eval_batch = TRAIN_EVAL_BATCH;
    c->bn_recal = 2000;
}

void train_init_params(struct nn_net *net, uint64_t seed)
{
    struct pcg32 rng;
    pcg32_seed(&rng, seed, STREAM_INIT);
    nn_net_init_params(net, &rng);
}

/* Cosine interpolation from a (pct 0) to b (pct 1). */
static double anneal_cos(double a, double b, double pct)
{
    return b + (a - b) / 2.0 * (cos(M_PI * pct) + 1.0);
}

void train_schedule_at(const struct train_config *c, long step, long total,
                       double *lr, double *momentum)
{
    *momentum = c->momentum;
    if (c->schedule == TRAIN_ONE_CYCLE) {
        /* As OneCycleLR: phase 1 ends at step warmup*total - 1. */
        double end1 = c->warmup * (double)total - 1.0, end2 = (double)total - 1.0;
        double lo = c->lr / ONE_CYCLE_DIV, final = lo / ONE_CYCLE_FINAL_DIV;
        double m_hi = c->momentum + ONE_CYCLE_MOMENTUM_SWING;
        double m_lo = c->momentum - ONE_CYCLE_MOMENTUM_SWING;
        if ((double)step <= end1 && end1 > 0) {
            double pct = (double)step / end1;
            *lr = anneal_cos(lo, c->lr, pct);
            *momentum = anneal_cos(m_hi, m_lo, pct);
        } else {
            double start = end1 > 0 ? end1 : 0;
            double pct = end2 > start ? ((double)step - start) / (end2 - start) : 1.0;
            *lr = anneal_cos(c->lr, final, pct);
            *momentum = anneal_cos(m_lo, m_hi, pct);
        }
        return;
    }
    double w = c->warmup * (double)total;
    if ((double)step < w) {
        *lr = c->lr * ((double)step + 1.0) / w;
        return;
    }
    double pct = (double)total > w ? ((double)step - w) / ((double)total - w) : 1.0;
    *lr = anneal_cos(c->lr, 0.0, pct);
}

/* Images in logits (n, classes) whose top class is their label. */
static int count_correct(const float *logits, const int *y, int n, int classes)
{
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (l[k] > l[best])
                best = k;
        correct += best == y[i];
    }
    return correct;
}

int train_accuracy(struct nn_net *infer, const struct data_set *set, int n,
                   int batch, double *acc, struct hw_err *err)
{
    return train_accuracy_loss(infer, set, n, batch, acc, NULL, err);
}

int train_accuracy_loss(struct nn_net *infer, const struct data_set *set, int n,
                        int batch, double *acc, double *loss, struct hw_err *err)
{
    const struct arch *a = nn_net_arch(infer);
    struct data_iter it;
    int rc = data_iter_init(&it, set, n, batch, 0, 0, 0, 0, err);
    if (rc != HW_OK)
        return rc;
    size_t img = (size_t)set->h * set->w * set->c;
    float *x = malloc(sizeof *x * img * (size_t)batch);
    int *y = malloc(sizeof *y * (size_t)batch);
    if (!x || !y) {
        rc = hw_error(err, HW_ENOMEM, "out of memory for an evaluation batch of %d",
                      batch);
        goto out;
    }
    long correct = 0, total = 0;
    data_iter_epoch(&it);
    int b;
    double xent = 0;
    while ((b = data_iter_next(&it, x, y)) > 0) {
        const float *logits = nn_net_forward(infer, x, b, NULL);
        correct += count_correct(logits, y, b, a->classes);
        if (loss) /* mean over the batch, no smoothing, no gradient */
            xent += (double)nn_xent_forward_backward(NULL, logits, y, b, a->classes, 0.f) * b;
        total += b;
    }
    *acc = total ? (double)correct / (double)total : 0.0;
    if (loss)
        *loss = total ? xent / (double)total : NAN;
out:
    free(x);
    free(y);
    data_iter_release(&it);
    return rc;
}

int train_evaluate_loss(const struct nn_net *net, const struct data_set *set, int n, int batch,
                        double *acc, double *loss, struct hw_err *err)
{
    struct nn_net *infer = NULL;
    int rc = nn_net_create(&infer, nn_net_arch(net), batch, NN_MODE_INFER, err);
    if (rc == HW_OK)
        rc = nn_net_fold_from(infer, net, err);
    if (rc == HW_OK)
        rc = train_accuracy_loss(infer, set, n, batch, acc, loss, err);
    nn_net_free(infer);
    return rc;
}

int train_evaluate(const struct nn_net *net, const struct data_set *set, int n,
                   int batch, double *acc, struct hw_err *err)
{
    return train_evaluate_loss(net, set, n, batch, acc, NULL, err);
}

int train_recalibrate_bn(struct nn_net *net, const struct data_set *set, int n,
                         int batch, struct hw_err *err)
{
    return train_recalibrate_bn_loss(net, set, n, batch, NULL, err);
}

int train_recalibrate_bn_loss(struct nn_net *net, const struct data_set *set, int n, int batch,
                              double *loss, struct hw_err *err)
{
    const size_t ns = nn_net_n_state(net);
    float *state = nn_net_state(net);
    struct data_iter it;
    int rc = data_iter_init(&it, set, n, batch, 0, 0, 1, 0, err);
    if (rc != HW_OK)
        return rc;
    size_t img = (size_t)set->h * set->w * set->c;
    float *x = malloc(sizeof *x * img * (size_t)batch);
    int *y = malloc(sizeof *y * (size_t)batch);
    double *sum = calloc(ns ? ns : 1, sizeof *sum);
    if (!x || !y || !sum) {
        rc = hw_error(err, HW_ENOMEM, "out of memory for BN recalibration");
        goto out;
    }
    /* With the running values zeroed, one TRAIN forward leaves exactly
     * momentum * (batch statistic) in them: read each batch's statistics
     * back that way and average them. No dropout (a NULL rng): it comes
     * after the last BN, so it changes no statistic, only the loss. */
    const int classes = nn_net_arch(net)->classes;
    nn_net_set_eval(net, 0);
    data_iter_epoch(&it);
    int batches = 0, b;
    double xent = 0;
    while ((b = data_iter_next(&it, x, y)) > 0) {
        memset(state, 0, sizeof *state * ns);
        const float *logits = nn_net_forward(net, x, b, NULL);
        for (size_t i = 0; i < ns; i++)
            sum[i] += state[i] / NN_BN_MOMENTUM;
        if (loss)
            xent += (double)nn_xent_forward_backward(NULL, logits, y, b, classes, 0.f) * b;
        batches++;
    }
    for (size_t i = 0; i < ns; i++)
        state[i] = (float)(sum[i] / batches);
    if (loss)
        *loss = xent / ((double)batches * batch);
out:
    free(x);
    free(y);
    free(sum);
    data_iter_release(&it);
    return rc;
}

static int check_config(const struct train_config *c, const struct arch *a,
                        const struct data_set *train, const struct data_set *val,
                        struct hw_err *err)
{
    if (c->epochs < 1)
        return hw_error(err, HW_EINVAL, "epochs: %d is not positive", c->epochs);
    if (c->batch < 2)
        return hw_error(err, HW_EINVAL,
                        "batch: %d is too small for batch-norm statistics (need >= 2)",
                        c->batch);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return hw_error(err, HW_EINVAL, "lr: %g is not a positive number", c->lr);
    if (c->momentum < 0 || c->momentum >= 1)
        return hw_error(err, HW_EINVAL, "momentum: %g is not in [0, 1)", c->momentum);
    if (c->weight_decay < 0)
        return hw_error(err, HW_EINVAL, "weight decay: %g is negative", c->weight_decay);
    if (c->label_smoothing < 0 || c->label_smoothing >= 1)
        return hw_error(err, HW_EINVAL, "label smoothing: %g is not in [0, 1)",
                        c->label_smoothing);
    if (c->warmup < 0 || c->warmup >= 1)
        return hw_error(err, HW_EINVAL, "warmup: %g is not in [0, 1)", c->warmup);
    if (c->eval_batch < 1)
        return hw_error(err, HW_EINVAL, "eval batch: %d is not positive", c->eval_batch);
    if (c->bn_recal < 0 || (c->bn_recal > 0 && c->bn_recal < c->batch))
        return hw_error(err, HW_EINVAL,
                        "BN recalibration: %d images is less than one batch of %d",
                        c->bn_recal, c->batch);
    const struct data_set *sets[2] = {train, val};
    for (int i = 0; i < 2; i++) {
        const struct data_set *s = sets[i];
        if (!s)
            continue;
        if (s->h != a->in_h || s->w != a->in_w || s->c != a->in_c)
            return hw_error(err, HW_EMISMATCH,
                            "%s: images are %dx%dx%d but arch %s takes %dx%dx%d",
                            i ? "validation set" : "training set", s->h, s->w, s->c,
                            a->name, a->in_h, a->in_w, a->in_c);
        if (s->classes > a->classes)
            return hw_error(err, HW_EMISMATCH,
                            "%s has %d classes but arch %s outputs %d",
                            i ? "validation set" : "training set", s->classes,
                            a->name, a->classes);
    }
    return HW_OK;
}

void train_sgd_step(float *restrict p, const float *restrict grad,
                              float *restrict v, const unsigned char *restrict mask,
                              size_t n, float lr, float m, float wd)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + (mask[i] ? wd * p[i] : 0.0f);
        float vi = m * v[i] + g;
        v[i] = vi;
        p[i] -= lr * (g + m * vi);
    }
}

int train_run(struct nn_net *net, const struct data_set *train,
              const struct data_set *val, const struct train_config *cfg,
              uint64_t seed, train_epoch_fn on_epoch, void *ctx,
              struct train_result *result, struct hw_err *err)
{
    memset(result, 0, sizeof *result);
    result->val_acc = -1;
    result->val_loss = NAN;
    const struct arch *a = nn_net_arch(net);
    if (nn_net_mode(net) != NN_MODE_TRAIN)
        return hw_error(err, HW_EINVAL, "arch %s: training needs a TRAIN-mode net",
                        a->name);
    int rc = check_config(cfg, a, train, val, err);
    if (rc != HW_OK)
        return rc;
    if (cfg->threads > 0)
        nn_set_threads(cfg->threads);

    struct data_iter it;
    rc = data_iter_init(&it, train, cfg->subset, cfg->batch, 1, cfg->augment, 1, seed,
                        err);
    if (rc != HW_OK)
        return rc;
    const size_t n_params = nn_net_n_params(net);
    const size_t img = (size_t)train->h * train->w * train->c;
    float *x = malloc(sizeof *x * img * (size_t)cfg->batch);
    int *y = malloc(sizeof *y * (size_t)cfg->batch);
    float *velocity = calloc(n_params ? n_params : 1, sizeof *velocity);
    struct nn_net *infer = NULL;
    if (!x || !y || !velocity) {
        rc = hw_error(err, HW_ENOMEM, "arch %s: out of memory for training buffers",
                      a->name);
        goto out;
    }
    int validate = val && cfg->val_subset >= 0;
    if (validate) {
        rc = nn_net_create(&infer, a, cfg->eval_batch, NN_MODE_INFER, err);
        if (rc != HW_OK)
            goto out;
    }

    struct pcg32 dropout_rng;
    pcg32_seed(&dropout_rng, seed, STREAM_DROPOUT);
    const int per_epoch = data_iter_batches(&it);
    const long total_steps = (long)per_epoch * cfg->epochs;
    float *params = nn_net_params(net), *grads = nn_net_grads(net);
    const unsigned char *mask = nn_net_decay_mask(net);
    struct progress bar;
    progress_init(&bar, "train", total_steps * cfg->batch, "img", cfg->quiet);
    uint64_t t_start = timer_now_ns();
    double train_s = 0;
    long step = 0;

    for (int ep = 1; ep <= cfg->epochs; ep++) {
        uint64_t t_epoch = timer_now_ns();
        data_iter_epoch(&it);
        double loss_sum = 0, lr = 0, mom = 0;
        long correct = 0, seen = 0;
        int b;
        while ((b = data_iter_next(&it, x, y)) > 0) {
            train_schedule_at(cfg, step, total_steps, &lr, &mom);
            const float *logits = nn_net_forward(net, x, b, &dropout_rng);
            correct += count_correct(logits, y, b, a->classes);
            nn_net_zero_grad(net);
            float loss = nn_net_backward(net, y, b, (float)cfg->label_smoothing);
            if (!isfinite(loss)) {
                result->diverged = 1;
                break;
            }
            train_sgd_step(params, grads, velocity, mask, n_params, (float)lr,
                              (float)mom, (float)cfg->weight_decay);
            loss_sum += loss;
            seen += b;
            step++;
            progress_update(&bar, step * cfg->batch);
            progress_note(&bar, "epoch %d/%d loss %.3f", ep, cfg->epochs,
                          loss_sum / (double)(seen / cfg->batch));
        }
        double secs = timer_since_s(t_epoch);
        train_s += secs;
        if (result->diverged)
            break;
        struct train_epoch e = {
            .epoch = ep, .epochs = cfg->epochs,
            .loss = loss_sum / per_epoch,
            .train_acc = (double)correct / (double)seen,
            .val_acc = -1, .val_loss = NAN, .lr = lr, .seconds = secs,
            .img_per_s = (double)seen / secs,
        };
        if (validate && (!cfg->val_last_only || ep == cfg->epochs)) {
            rc = cfg->bn_recal > 0 ? train_recalibrate_bn(net, train, cfg->bn_recal,
                                                           cfg->batch, err)
                                   : HW_OK;
            if (rc == HW_OK)
                rc = nn_net_fold_from(infer, net, err);
            if (rc == HW_OK)
                rc = train_accuracy_loss(infer, val, cfg->val_subset, cfg->eval_batch,
                                         &e.val_acc, &e.val_loss, err);
            if (rc != HW_OK)
                break;
        }
        result->epochs_done = ep;
        result->loss = e.loss;
        result->val_acc = e.val_acc;
        result->val_loss = e.val_loss;
        if (on_epoch && on_epoch(&e, ctx)) {
            rc = hw_error(err, HW_EINTR, "training stopped after epoch %d of %d", ep,
                          cfg->epochs);
            break;
        }
    }
    progress_finish(&bar);
    result->seconds = timer_since_s(t_start);
    result->img_per_s = train_s > 0 ? (double)step * cfg->batch / train_s : 0;
out:
    nn_net_free(infer);
    free(x);
    free(y);
    free(velocity);
    data_iter_release(&it);
    return rc;
}
