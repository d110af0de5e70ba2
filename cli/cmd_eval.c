/* hwnas eval MODEL: accuracy of a saved model on the validation split or,
 * when asked explicitly, the test set. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "evaluator/data.h"
#include "evaluator/model.h"
#include "evaluator/train.h"
#include "util/timer.h"

int cli_eval_model(const char *path, const char *data, int test, int batch, double *acc, int *n,
                   const char **name, struct hw_err *err)
{
    static char arch_name[64];
    struct nn_net *net = NULL;
    /* Batch 2 is the smallest TRAIN net; evaluation runs on a folded copy. */
    if (model_load(path, 2, &net, err) != HW_OK)
        return err->status;
    const struct arch *a = nn_net_arch(net);
    snprintf(arch_name, sizeof arch_name, "%s", a->name[0] ? a->name : "arch");
    *name = arch_name;
    struct data_set train, val, test_set = {0};
    int status = data_load_trainval(data, a->classes, &train, &val, err);
    if (status == HW_OK && test)
        status = data_load_test(data, a->classes, &train, &test_set, err);
    const struct data_set *set = test ? &test_set : &val;
    if (status == HW_OK)
        status = train_evaluate(net, set, 0, batch, acc, err);
    *n = set->n;
    nn_net_free(net);
    data_set_release(&train);
    data_set_release(&val);
    data_set_release(&test_set);
    return status;
}

int cmd_eval(int argc, char **argv)
{
    const char *split = "val", *data = NULL;
    int batch = TRAIN_EVAL_BATCH, threads = 0, json = 0;
    const struct cli_flag flags[] = {
        {"split", CLI_STR, &split, "val|test", "which images (default val; test only for a final figure)"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset directory (default " DATA_DEFAULT_DIR ")"},
        {"batch", CLI_INT, &batch, "B", "images per forward pass (default 64)"},
        {"threads", CLI_INT, &threads, "T", "threads (default: all cores, or $OMP_NUM_THREADS)"},
        {"json", CLI_BOOL, &json, NULL, "JSON output"},
        {0},
    };
    const struct cli_command cmd = {
        "eval", "Accuracy of a trained model file on the validation split or the test set.",
        "hwnas eval MODEL [--split val|test] [flags]", flags, 1, 1};
    char *pos[2];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc == CLI_HELP_SHOWN)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    int test = strcmp(split, "test") == 0;
    if (!test && strcmp(split, "val") != 0)
        return cli_usage_error(&cmd, "--split: '%s' is not val or test", split);
    if (batch < 1)
        return cli_usage_error(&cmd, "--batch: %d is not positive", batch);
    if (threads < 0)
        return cli_usage_error(&cmd, "--threads: %d is negative", threads);
    if (threads > 0)
        nn_set_threads(threads);

    struct hw_err err = {0};
    double acc;
    int n;
    uint64_t t0 = timer_now_ns();
    const char *name;
    if (cli_eval_model(pos[0], data, test, batch, &acc, &n, &name, &err) != HW_OK)
        return cli_fail(&err);
    long correct = (long)(acc * n + 0.5);
    double seconds = timer_since_s(t0);
    if (json) {
        cJSON *o = cli_json_root();
        cJSON_AddStringToObject(o, "model_file", pos[0]);
        cJSON_AddStringToObject(o, "arch", name);
        cJSON_AddStringToObject(o, "split", test ? "test" : "val");
        cJSON_AddNumberToObject(o, test ? "test_acc_pct" : "val_acc_pct", 100 * acc);
        cJSON_AddNumberToObject(o, "correct", (double)correct);
        cJSON_AddNumberToObject(o, "images", n);
        cJSON_AddNumberToObject(o, "eval_s", seconds);
        return cli_json_print(o);
    }
    printf("%s (%s): %s accuracy %.2f%% (%ld/%d) in %.1fs\n", pos[0], name,
           test ? "test" : "validation", 100 * acc, correct, n, seconds);
    return CLI_EXIT_OK;
}
