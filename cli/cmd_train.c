/* hwnas train ARCH: trains an architecture on the 50k training split,
 * validating after every epoch, and optionally saves the model. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "space/refs.h"

/* ctx: the "epoch_log" array of --json, or NULL to print a line. */
static int print_epoch(const struct train_epoch *e, void *ctx)
{
    cJSON *log = ctx;
    if (log) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", e->epoch);
        cJSON_AddNumberToObject(o, "loss", e->loss);
        cJSON_AddNumberToObject(o, "train_acc_pct", 100 * e->train_acc);
        cJSON_AddNumberToObject(o, "val_acc_pct", 100 * e->val_acc);
        cJSON_AddNumberToObject(o, "val_loss", e->val_loss);
        cJSON_AddNumberToObject(o, "lr", e->lr);
        cJSON_AddNumberToObject(o, "img_per_s", e->img_per_s);
        cJSON_AddNumberToObject(o, "train_s", e->seconds);
        cJSON_AddItemToArray(log, o);
        return 0;
    }
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
                   const char *schedule, const char *data, const char *out, cJSON *report,
                   struct train_result *res, struct hw_err *err)
{
    struct arch a = *arch;
    struct data_set train, val;
    if (data_load_trainval(data, a.classes, &train, &val, err) != HW_OK)
        return err->status;
    struct nn_net *net = NULL;
    cJSON *log = NULL;
    int status = nn_net_create(&net, &a, tc->batch, NN_MODE_TRAIN, err);
    if (status == HW_OK) {
        struct arch_cost cost = arch_cost(&a);
        int n_train = tc->subset > 0 && tc->subset < train.n ? tc->subset : train.n;
        const char *name = a.name[0] ? a.name : "arch";
        if (report) {
            cJSON_AddStringToObject(report, "arch", name);
            cJSON_AddNumberToObject(report, "params", (double)cost.params);
            cJSON_AddNumberToObject(report, "macs", (double)cost.macs);
            cJSON_AddNumberToObject(report, "train_images", n_train);
            cJSON_AddNumberToObject(report, "val_images", val.n);
            cJSON_AddNumberToObject(report, "epochs", tc->epochs);
            cJSON_AddNumberToObject(report, "batch", tc->batch);
            cJSON_AddStringToObject(report, "schedule", schedule);
            cJSON_AddNumberToObject(report, "lr", tc->lr);
            cJSON_AddNumberToObject(report, "seed", (double)seed);
            cJSON_AddNumberToObject(report, "threads", tc->threads);
            log = cJSON_AddArrayToObject(report, "epoch_log");
            if (!log)
                status = hw_error(err, HW_ENOMEM, "out of memory for the epoch log");
        } else {
            printf("training %s: %lld params, %lld MACs; %d train / %d val images; "
                   "%d epochs, batch %d, %s lr %g, seed %llu, %d threads\n",
                   name, (long long)cost.params, (long long)cost.macs, n_train, val.n,
                   tc->epochs, tc->batch, schedule, tc->lr, (unsigned long long)seed,
                   tc->threads);
            fflush(stdout);
        }
    }
    if (status == HW_OK) {
        train_init_params(net, seed);
        status = train_run(net, &train, &val, tc, seed, print_epoch, log, res, err);
    }
    if (status == HW_OK && res->diverged)
        status = hw_error(err, HW_EINVAL,
                          "training diverged (loss is not finite) in epoch %d; try a "
                          "lower --lr than %g", res->epochs_done + 1, tc->lr);
    if (status == HW_OK && out)
        status = model_save(out, net, err);
    if (status == HW_OK && report) {
        cJSON_AddNumberToObject(report, "val_acc_pct", 100 * res->val_acc);
        cJSON_AddNumberToObject(report, "val_loss", res->val_loss);
        cJSON_AddNumberToObject(report, "img_per_s", res->img_per_s);
        cJSON_AddNumberToObject(report, "train_s", res->seconds);
        if (out)
            cJSON_AddStringToObject(report, "model_file", out);
        else
            cJSON_AddNullToObject(report, "model_file");
    } else if (status == HW_OK) {
        printf("done: val accuracy %.2f%%, %.0f img/s, %.1fs\n", 100 * res->val_acc,
               res->img_per_s, res->seconds);
        if (out)
            printf("saved %s\n", out);
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
    int json = 0;
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
        {"json", CLI_BOOL, &json, NULL, "print the setup, every epoch and the result as JSON"},
        {0},
    };
    const struct cli_command cmd = {
        "train",
        "Train an architecture (a built-in name, an arch JSON file or a model file's arch,\n"
        "from new weights) on the fixed 50,000-image training split (one-cycle SGD,\n"
        "Nesterov momentum, weight decay 4e-5, label smoothing 0.1, random crop and\n"
        "flip), with accuracy on the 10,000-image validation split after every epoch;\n"
        "--out saves the model file that eval, export --format onnx and netadapt read.",
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
    cJSON *report = NULL;
    if (json && !(report = cli_json_root())) {
        hw_error(&err, HW_ENOMEM, "out of memory");
        return cli_fail(&err);
    }
    struct train_result res;
    if (cli_train_arch(&a, &tc, (uint64_t)seed, schedule, data, out, report, &res, &err)) {
        cJSON_Delete(report);
        return cli_fail(&err);
    }
    return report ? cli_json_print(report) : CLI_EXIT_OK;
}
