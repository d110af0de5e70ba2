/* Supernet training: the sandwich rule with in-place distillation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluator/train.h"
#include "supernet/supernet.h"
#include "util/timer.h"

#define STREAM_SAMPLE 0x736e7370u  /* "snsp": the subnets of a step */
#define STREAM_DROPOUT 0x736e6470u /* "sndp" */

/* The k-th subnet of a step: 0 the largest, 1 the smallest, then uniform. */
static void step_tokens(const struct space *s, struct pcg32 *rng, int k, int *tok)
{
    if (k == 0)
        supernet_tokens_largest(s, rng, tok);
    else if (k == 1)
        supernet_tokens_smallest(s, rng, tok);
    else
        space_sample(s, rng, tok);
}

/* Targets of a distilled subnet: (1 - d) x the smoothed labels + d x the
 * teacher's softmax (teacher logits (n, classes)). */
static void soft_targets(float *t, const float *teacher, const int *y, int n, int classes,
                         double smoothing, double d)
{
    for (int i = 0; i < n; i++) {
        const float *z = teacher + (size_t)i * classes;
        float *r = t + (size_t)i * classes;
        float mx = z[0];
        for (int j = 1; j < classes; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)(z[j] - mx));
        for (int j = 0; j < classes; j++) {
            double label = (j == y[i] ? 1 - smoothing : 0) + smoothing / classes;
            r[j] = (float)((1 - d) * label + d * exp((double)(z[j] - mx)) / sum);
        }
    }
}

int supernet_train(struct supernet *sn, const struct data_set *train, int threads,
                   const char *checkpoint, double checkpoint_s, volatile sig_atomic_t *stop,
                   supernet_step_fn on_step, void *ctx, struct hw_err *err)
{
    const struct supernet_config *c = &sn->cfg;
    const struct space *s = &sn->space;
    const struct arch *base = &s->base;
    if (train->h != base->in_h || train->w != base->in_w || train->c != base->in_c)
        return hw_error(err, HW_EMISMATCH, "training set: images are %dx%dx%d but space %s "
                        "takes %dx%dx%d", train->h, train->w, train->c, s->name, base->in_h,
                        base->in_w, base->in_c);
    if (threads > 0)
        nn_set_threads(threads);
    const int classes = base->classes;
    struct data_iter it;
    int rc = data_iter_init(&it, train, c->subset, c->batch, 1, c->augment, 1, c->seed, err);
    if (rc)
        return rc;
    const long per_epoch = data_iter_batches(&it);
    if (per_epoch < 1) {
        data_iter_release(&it);
        return hw_error(err, HW_EINVAL, "supernet: %d training images are less than one batch "
                        "of %d", c->subset, c->batch);
    }
    sn->total_steps = per_epoch * c->epochs;
    const size_t img = (size_t)train->h * train->w * train->c;
    float *x = malloc(sizeof *x * img * (size_t)c->batch);
    int *y = malloc(sizeof *y * (size_t)c->batch);
    float *teacher = malloc(sizeof(float) * (size_t)c->batch * classes);
    float *targets = malloc(sizeof(float) * (size_t)c->batch * classes);
    if (!x || !y || !teacher || !targets) {
        rc = hw_error(err, HW_ENOMEM, "supernet: out of memory for training buffers");
        goto out;
    }
    /* the batches already trained on, drawn again so the order and the
     * augmentation continue exactly where they stopped */
    for (long k = 0; k < sn->step; k++) {
        if (k % per_epoch == 0)
            data_iter_epoch(&it);
        data_iter_next(&it, x, y);
    }
    struct train_config tc;
    train_config_default(&tc);
    tc.lr = c->lr;
    tc.momentum = c->momentum;
    struct nn_pool pool = {0};
    uint64_t t0 = timer_now_ns(), t_saved = t0;
    double train_s0 = sn->train_s;
    while (sn->step < sn->total_steps) {
        if (stop && *stop) {
            rc = hw_error(err, HW_EINTR, "supernet training stopped at step %ld of %ld",
                          sn->step, sn->total_steps);
            break;
        }
        if (sn->step % per_epoch == 0)
            data_iter_epoch(&it);
        int b = data_iter_next(&it, x, y);
        struct pcg32 rng, drop;
        /* the seed picks the state, the step the stream: no two (seed, step)
         * pairs share a sequence */
        pcg32_seed(&rng, c->seed, ((uint64_t)STREAM_SAMPLE << 32) ^ (uint64_t)sn->step);
        pcg32_seed(&drop, c->seed, ((uint64_t)STREAM_DROPOUT << 32) ^ (uint64_t)sn->step);
        double loss0 = 0;
        for (int k = 0; k < c->sandwich && rc == HW_OK; k++) {
            int tok[SPACE_MAX_TOKENS];
            struct arch a;
            struct nn_net *net = NULL;
            step_tokens(s, &rng, k, tok);
            rc = space_decode(s, tok, &a, err);
            rc = rc ? rc : nn_net_create_pooled(&net, &a, c->batch, NN_MODE_TRAIN, &pool, err);
            rc = rc ? rc : supernet_gather(sn, net, err);
            if (rc == HW_OK) {
                const float *logits = nn_net_forward(net, x, b, &drop);
                nn_net_zero_grad(net);
                float loss;
                if (k == 0 || c->distill <= 0) {
                    if (k == 0)
                        memcpy(teacher, logits, sizeof(float) * (size_t)b * classes);
                    loss = nn_net_backward(net, y, b, (float)c->label_smoothing);
                } else {
                    soft_targets(targets, teacher, y, b, classes, c->label_smoothing,
                                 c->distill);
                    loss = nn_net_backward_soft(net, targets, b);
                }
                if (k == 0)
                    loss0 = loss;
                if (!isfinite(loss))
                    rc = hw_error(err, HW_EINVAL, "supernet training diverged at step %ld "
                                  "(loss %g): try a lower --lr than %g", sn->step, loss, c->lr);
                else
                    rc = supernet_scatter_grads(sn, net, err);
            }
            nn_net_free(net);
        }
        if (rc)
            break;
        double lr, mom;
        train_schedule_at(&tc, sn->step, sn->total_steps, &lr, &mom);
        train_sgd_step(sn->params, sn->grads, sn->mom, sn->decay, sn->n_params, (float)lr,
                       (float)mom, (float)c->weight_decay);
        memset(sn->grads, 0, sizeof(float) * sn->n_params);
        sn->step++;
        double secs = timer_since_s(t0);
        sn->train_s = train_s0 + secs;
        struct supernet_step st = {sn->step, sn->total_steps, loss0, secs};
        if (on_step && on_step(&st, ctx)) {
            rc = hw_error(err, HW_EINTR, "supernet training stopped at step %ld of %ld",
                          sn->step, sn->total_steps);
            break;
        }
        if (checkpoint && checkpoint_s > 0 && sn->step < sn->total_steps &&
            timer_since_s(t_saved) >= checkpoint_s) {
            if ((rc = supernet_save(sn, checkpoint, err)))
                break;
            t_saved = timer_now_ns();
        }
    }
    /* the last state, also when stopped (a failed step left it unchanged) */
    if (checkpoint && (rc == HW_OK || rc == HW_EINTR)) {
        struct hw_err e2;
        int rs = supernet_save(sn, checkpoint, &e2);
        if (rs) {
            rc = rs;
            if (err)
                *err = e2;
        }
    }
    nn_pool_release(&pool);
out:
    free(x);
    free(y);
    free(teacher);
    free(targets);
    data_iter_release(&it);
    return rc;
}
