/* Subnet evaluation: supernet weights, recalibrated BN, validation. */
#include <math.h>
#include <string.h>

#include "evaluator/train.h"
#include "supernet/supernet.h"
#include "util/timer.h"

void supernet_eval_config_default(struct supernet_eval_config *c)
{
    c->recal = SUPERNET_EVAL_RECAL;
    c->batch = SUPERNET_EVAL_BATCH;
    c->val = SUPERNET_EVAL_VAL;
}

int supernet_eval(const struct supernet *sn, const struct arch *a,
                  const struct supernet_eval_config *c, const struct data_set *train,
                  const struct data_set *val, struct nn_pool pools[2], struct eval_result *out,
                  struct hw_err *err)
{
    memset(out, 0, sizeof *out);
    out->val_loss = out->train_loss = NAN;
    if (c->batch < 2 || c->recal < c->batch || c->recal > train->n)
        return hw_error(err, HW_EINVAL, "supernet evaluation: BN recalibration on %d images "
                        "in batches of %d (need 2 <= batch <= images <= %d)", c->recal,
                        c->batch, train->n);
    uint64_t t0 = timer_now_ns();
    struct nn_net *net = NULL, *infer = NULL;
    int rc = nn_net_create_pooled(&net, a, c->batch, NN_MODE_TRAIN, pools ? &pools[0] : NULL, err);
    rc = rc ? rc : supernet_gather(sn, net, err);
    rc = rc ? rc : train_recalibrate_bn_loss(net, train, c->recal, c->batch, &out->train_loss,
                                             err);
    rc = rc ? rc : nn_net_create_pooled(&infer, a, TRAIN_EVAL_BATCH, NN_MODE_INFER,
                                        pools ? &pools[1] : NULL, err);
    rc = rc ? rc : nn_net_fold_from(infer, net, err);
    rc = rc ? rc : train_accuracy_loss(infer, val, c->val, TRAIN_EVAL_BATCH, &out->val_acc,
                                       &out->val_loss, err);
    nn_net_free(net);
    nn_net_free(infer);
    if (rc == HW_OK && (!isfinite(out->val_loss) || !isfinite(out->train_loss))) {
        out->diverged = 1;
        out->val_acc = 0;
        out->val_loss = out->train_loss = INFINITY;
    }
    out->wall_s = timer_since_s(t0);
    return rc;
}
