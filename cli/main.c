/* hwnas: hardware-aware neural architecture search. Dispatches to one
 * subcommand per cli/cmd_<name>.c. */
#include "cli/cli.h"
#include "cli/commands.h"
#include "cluster/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command_entry {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command_entry commands[] = {
    {"space", cmd_space, "architectures and search spaces: show, info, sample, list"},
    {"profile", cmd_profile, "build this machine's latency table for a search space"},
    {"latency", cmd_latency, "predicted (and measured) latency of an architecture"},
    {"validate", cmd_validate, "how well the latency table predicts sampled networks"},
    {"lut", cmd_lut, "latency tables: list, show, export, import"},
    {"train", cmd_train, "train an architecture on the training split (val accuracy per epoch)"},
    {"eval", cmd_eval, "accuracy of a saved model on the validation or test split"},
    {"supernet", cmd_supernet, "weight-sharing supernet: train over a space, score subnets"},
    {"search", cmd_search, "latency-constrained architecture search (resumable)"},
    {"runs", cmd_runs, "search runs: list, show, pareto front (table and SVG), rerank"},
    {"export", cmd_export, "export a run's winner (arch JSON, timm, MnasNet, trained weights) or a model as ONNX"},
    {"netadapt", cmd_netadapt, "trim a trained model's channels to a latency target (NetAdapt)"},
    {NULL, NULL, NULL},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: hwnas <command> [flags]\n\n"
                 "hwnas %s: hardware-aware neural architecture search\n\ncommands:\n",
            HWNAS_VERSION);
    for (size_t i = 0; commands[i].name; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'hwnas <command> --help' describes a command and its flags.\n"
                 "The database is ./hwnas.db unless --db FILE or $HWNAS_DB says otherwise.\n");
}

int main(int argc, char **argv)
{
    cli_choose_blas_core(argv);
    struct hw_err e;
    hw_err_clear(&e);
    if (cluster_init(&argc, &argv, &e)) {
        fprintf(stderr, "hwnas: %s\n", e.msg);
        return CLI_EXIT_FAIL;
    }
    if (cluster_active() && cluster_rank() > 0)
        return cluster_worker_main(); /* rank 0 runs the command; the others evaluate for it */
    atexit(cluster_finish);
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hwnas %s\n", HWNAS_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = commands[i].run(argc - 1, argv + 1);
            cluster_set_exit_status(rc);
            return rc;
        }
    fprintf(stderr, "hwnas: unknown command '%s' (see 'hwnas --help')\n", argv[1]);
    return CLI_EXIT_USAGE;
}
