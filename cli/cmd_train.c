/* hwnas train ARCH: trains an architecture on the 50k training split,
 * validating after every epoch, and optionally saves the model. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "space/refs.h"

static int print_epoch(const struct train_epoch *e, void *ctx)
{
    printf("epoch %2d/%d  loss %.4f  train %.2f%%  val %.2f%%  lr %.4f  %.0f img/s  %.1fs\n",
           e->epoch, e->epochs, e->loss, 100 * e->train_acc, 100 * e->val_acc, e->lr,
           e->img_per_s, e->seconds);
    fflush(stdout);
    return 0;
}

/* Default thread count: every online core ("uses both cores"). */
static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Whether FILE can be written, checked before a long training, not after. */
static int writable(const char *path, struct hw_err *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return hw_error(err, HW_EIO, "%s: cannot write: %s", path, strerror(errno));
    fclose(f);
    remove(tmp);
    return HW_OK;
}

int cli_train_arch(const struct arch *arch, const struct train_config *tc, uint64_t seed,
                   const char *schedule, const char *data, const char *out,
                   struct train_result *res, struct hw_err *err)
{
    struct arch a = *arch;
    struct data_set train, val;
    if (data_load_trainval(data, a.classes, &train, &val, err) != HW_OK)
        return err->status;
    struct nn_net *net = NULL;
    int status = nn_net_create(&net, &a, tc->batch, NN_MODE_TRAIN, err);
    if (status == HW_OK) {
        struct arch_cost cost = arch_cost(&a);
        int n_train = tc->subset > 0 && tc->subset < train.n ? tc->subset : train.n;
        printf("training %s: %lld params, %lld MACs; %d train / %d val images; "
               "%d epochs, batch %d, %s lr %g, seed %llu, %d threads\n",
               a.name[0] ? a.name : "arch", (long long)cost.params, (long long)cost.macs,
               n_train, val.n, tc->epochs, tc->batch, schedule, tc->lr,
               (unsigned long long)seed, tc->threads);
        fflush(stdout);
        train_init_params(net, seed);
        status = train_run(net, &train, &val, tc, seed, print_epoch, NULL, res, err);
    }
    if (status == HW_OK && res->diverged)
        status = hw_error(err, HW_EINVAL,
                          "training diverged (loss is not finite) in epoch %d; try a "
                          "lower --lr than %g", res->epochs_done + 1, tc->lr);
    if (status == HW_OK) {
        printf("done: val accuracy %.2f%%, %.0f img/s, %.1fs\n", 100 * res->val_acc,
               res->img_per_s, res->seconds);
        if (out) {
            status = model_save(out, net, err);
            if (status == HW_OK)
                printf("saved %s\n", out);
        }
    }
    nn_net_free(net);
    data_set_release(&train);
    data_set_release(&val);
    return status;
}

int cmd_train(int argc, char **argv)
{
    struct train_config tc;
    train_config_default(&tc);
    long seed = 1;
    const char *data = NULL, *out = NULL, *schedule = "onecycle";
    tc.threads = online_cores();
    const struct cli_flag flags[] = {
        {"epochs", CLI_INT, &tc.epochs, "E", "epochs (default 10)"},
        {"subset", CLI_INT, &tc.subset, "N", "train on the first N training images (default all 50,000)"},
        {"batch", CLI_INT, &tc.batch, "B", "mini-batch size (default 128)"},
        {"lr", CLI_DOUBLE, &tc.lr, "X", "peak learning rate (default 0.2)"},
        {"schedule", CLI_STR, &schedule, "S", "onecycle (default) or cosine"},
        {"seed", CLI_LONG, &seed, "S", "seed of weights, batch order, augmentation, dropout (default 1)"},
        {"threads", CLI_INT, &tc.threads, "T", "threads (default: all cores)"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset directory (default " DATA_DEFAULT_DIR ")"},
        {"out", CLI_STR, &out, "FILE", "save the trained model to FILE"},
        {0},
    };
    const struct cli_command cmd = {
        "train", "Train an architecture (built-in name or JSON file) on the training "
                 "split, with validation accuracy after every epoch.",
        "hwnas train ARCH [flags]", flags, 1, 1};
    char *pos[2];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc == CLI_HELP_SHOWN)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (tc.epochs < 1)
        return cli_usage_error(&cmd, "--epochs: %d is not positive", tc.epochs);
    if (tc.batch < 2)
        return cli_usage_error(&cmd, "--batch: %d is below 2 (batch-norm needs 2)", tc.batch);
    if (tc.subset < 0)
        return cli_usage_error(&cmd, "--subset: %d is negative", tc.subset);
    if (!(tc.lr > 0))
        return cli_usage_error(&cmd, "--lr: %g is not positive", tc.lr);
    if (tc.threads < 1)
        return cli_usage_error(&cmd, "--threads: %d is not positive", tc.threads);
    if (seed < 0)
        return cli_usage_error(&cmd, "--seed: %ld is negative", seed);
    if (strcmp(schedule, "onecycle") == 0)
        tc.schedule = TRAIN_ONE_CYCLE;
    else if (strcmp(schedule, "cosine") == 0)
        tc.schedule = TRAIN_COSINE, tc.warmup = 0.05;
    else
        return cli_usage_error(&cmd, "--schedule: '%s' is not onecycle or cosine", schedule);
    tc.quiet = cli_quiet;

    struct hw_err err = {0};
    if (out && writable(out, &err) != HW_OK)
        return cli_fail(&err);
    struct arch a;
    if (cli_resolve_arch(pos[0], NULL, &a, &err) != HW_OK)
        return cli_fail(&err);
    struct train_result res;
    return cli_train_arch(&a, &tc, (uint64_t)seed, schedule, data, out, &res, &err) == HW_OK
               ? CLI_EXIT_OK
               : cli_fail(&err);
}
