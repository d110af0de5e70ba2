#include "evaluator/proxy.h"

#include <math.h>
#include <string.h>

#include "evaluator/train.h"
#include "nn/net.h"
#include "util/timer.h"

void eval_proxy_config_default(struct eval_proxy_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = EVAL_PROXY_EPOCHS;
    c->subset = EVAL_PROXY_SUBSET;
    c->val_subset = EVAL_PROXY_VAL_SUBSET;
    c->batch = EVAL_PROXY_BATCH;
    c->lr = 0.2;
    c->augment = 0;
}

int eval_proxy(const struct arch *a, const struct eval_proxy_config *cfg,
               uint64_t seed, struct eval_result *out, struct hw_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t t0 = timer_now_ns();
    int rc = arch_validate(a, "arch", err);
    if (rc != HW_OK)
        return rc;
    struct data_set own_train = {0}, own_val = {0};
    const struct data_set *train = cfg->train, *val = cfg->val;
    if (!train || !val) {
        rc = data_load_trainval(cfg->data_dir, a->classes, &own_train, &own_val, err);
        if (rc != HW_OK)
            return rc;
        train = &own_train;
        val = &own_val;
    }
    struct train_config tc;
    train_config_default(&tc);
    tc.epochs = cfg->epochs;
    tc.batch = cfg->batch;
    tc.lr = cfg->lr;
    tc.augment = cfg->augment;
    tc.subset = cfg->subset;
    tc.val_subset = cfg->val_subset;
    tc.val_last_only = 1;
    tc.threads = cfg->threads;
    tc.quiet = 1; /* the search draws its own progress */

    struct nn_net *net = NULL;
    struct train_result res;
    rc = nn_net_create(&net, a, tc.batch, NN_MODE_TRAIN, err);
    if (rc == HW_OK) {
        train_init_params(net, seed);
        rc = train_run(net, train, val, &tc, seed, NULL, NULL, &res, err);
    }
    if (rc == HW_OK) {
        /* a last step can leave non-finite weights the training loss never
         * saw: their validation loss is NaN or inf */
        out->diverged = res.diverged || !isfinite(res.val_loss);
        out->val_acc = out->diverged ? 0.0 : res.val_acc;
        out->val_loss = out->diverged ? INFINITY : res.val_loss;
        /* a training that diverged stopped mid-epoch: its last whole epoch's
         * loss (or none) would score it, so it scores like its val loss */
        out->train_loss = out->diverged ? INFINITY : res.loss;
        out->img_per_s = res.img_per_s;
    } else {
        hw_error_prefix(err, "proxy evaluation of %s", a->name);
    }
    nn_net_free(net);
    data_set_release(&own_train);
    data_set_release(&own_val);
    out->wall_s = timer_since_s(t0);
    return rc;
}
