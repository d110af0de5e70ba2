/* NetAdapt fine-tuning on the evaluator's trainer (see finetune.h). */
#include "netadapt/finetune.h"

#include "evaluator/train.h"
#include "latency/table.h"

void netadapt_trainer_default(struct na_trainer *t)
{
    *t = (struct na_trainer){.steps = 200, .batch = 128, .lr = 0.01, .val_subset = 2000,
                             .seed = 1};
}

/* Quiet training with the evaluator's recipe and no per-epoch validation. */
static void base_config(struct train_config *c, int batch)
{
    train_config_default(c);
    c->batch = batch;
    c->val_subset = -1;
    c->quiet = 1;
}

int netadapt_tune(void *ctx, struct nn_net *net, int iteration, int proposal,
                  struct na_eval *out, struct hw_err *err)
{
    const struct na_trainer *t = ctx;
    int rc = HW_OK;
    if (proposal >= 0 && t->steps > 0) {
        int n = t->steps * t->batch;
        if (n > t->train->n)
            n = t->train->n / t->batch * t->batch;
        /* The window: a borrowed view of n consecutive images of the split. */
        struct data_set window = *t->train;
        size_t start = (size_t)iteration * n % (size_t)(t->train->n - n + 1);
        window.n = n;
        window.pixels += start * t->train->h * t->train->w * t->train->c;
        window.labels += start;
        struct train_config c;
        struct train_result res;
        base_config(&c, t->batch);
        c.epochs = 1;
        c.lr = t->lr;
        c.schedule = TRAIN_COSINE;
        c.warmup = 0;
        rc = train_run(net, &window, NULL, &c, t->seed + (uint64_t)iteration, NULL, NULL, &res,
                       err);
        if (!rc && res.diverged)
            rc = hw_error(err, HW_EINVAL, "netadapt: iteration %d proposal %d: fine-tune diverged",
                          iteration, proposal);
    }
    return rc ? rc
              : train_evaluate_loss(net, t->val, t->val_subset, t->batch, &out->acc, &out->loss,
                                    err);
}

int netadapt_tune_long(const struct na_trainer *t, struct nn_net *net, int epochs, double lr,
                       double *acc, struct hw_err *err)
{
    struct train_config c;
    struct train_result res;
    base_config(&c, t->batch);
    c.epochs = epochs;
    c.lr = lr;
    c.quiet = 0;
    int rc = epochs > 0 ? train_run(net, t->train, NULL, &c, t->seed ^ 0x10e6ULL, NULL, NULL,
                                    &res, err)
                        : HW_OK;
    return rc ? rc : train_evaluate(net, t->val, 0, t->batch, acc, err);
}

int netadapt_table_latency(void *ctx, const struct arch *a, double *ms, struct hw_err *err)
{
    struct lat_table *t = ctx;
    double us;
    int threads = nn_get_threads();
    nn_set_threads(t->lut.fp.threads);
    int rc = lat_table_predict(t, a, &us, NULL, NULL, err);
    nn_set_threads(threads);
    *ms = us / 1000.0;
    return rc;
}
