/* Controller machinery on the synthetic objective of search/synth.h (issue 5
 * target): best reward after N trials for random, evolution, rl (REINFORCE)
 * and rl with PPO, per seed.
 * rl and evolution should beat random on at least 4 of 5 seeds.
 *
 *   build/bench/bench_controllers [trials=500] [seeds=5] [blocks=7] [rl-lr=default]
 *
 * When the real spaces land, the same table should come from the fmnist
 * space's token vocabulary with "MACs under a latency-table target" as the
 * objective: only the ctrl_objective_fn passed to ctrl_optimize changes. */
#include <stdio.h>
#include <stdlib.h>

#include "search/ctrl.h"
#include "search/synth.h"
#include "util/timer.h"

/* One column of the table: a controller kind with its config. */
struct variant {
    const char *name;
    enum ctrl_kind kind;
    int batch, ppo_epochs;
};

static const struct variant variants[] = {
    {"random", CTRL_RANDOM, 1, 0},
    {"evolution", CTRL_EVOLUTION, 1, 0},
    {"rl", CTRL_RL, 1, 0},        /* REINFORCE, one arch per update (the default) */
    {"rl-ppo", CTRL_RL, 5, 4},    /* PPO, batches of 5, 4 epochs */
};
#define N_VARIANTS (int)(sizeof variants / sizeof variants[0])
/* A long evolution run stands in for the optimum, to show how close each gets. */
#define REF_TRIALS 20000

static double rl_lr; /* 0: the default */

static int run(const struct variant *v, const struct ctrl_vocab *vocab,
               struct synth_objective *obj, int trials, uint64_t seed, double *best)
{
    struct ctrl_config cfg;
    ctrl_config_default(&cfg);
    if (rl_lr > 0)
        cfg.lr = rl_lr;
    cfg.batch = v->batch;
    cfg.ppo_epochs = v->ppo_epochs;
    struct ctrl *c;
    struct hw_err err;
    int rc = ctrl_create(&c, v->kind, vocab, &cfg, seed, &err);
    if (rc == HW_OK)
        rc = ctrl_optimize(c, trials, synth_reward, obj, best, NULL, &err);
    if (rc != HW_OK)
        fprintf(stderr, "%s: %s\n", v->name, err.msg);
    ctrl_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    int trials = argc > 1 ? atoi(argv[1]) : 500;
    int seeds = argc > 2 ? atoi(argv[2]) : 5;
    int blocks = argc > 3 ? atoi(argv[3]) : 7;
    rl_lr = argc > 4 ? atof(argv[4]) : 0;
    if (trials < 1 || seeds < 1 || blocks < 1 || blocks * 6 > CTRL_MAX_TOKENS ||
        !(rl_lr >= 0 && rl_lr < 1)) {
        fprintf(stderr, "usage: %s [trials>=1] [seeds>=1] [blocks 1..%d] [rl-lr in (0, 1)]\n",
                argv[0], CTRL_MAX_TOKENS / 6);
        return 2;
    }
    struct ctrl_vocab vocab;
    synth_vocab_blocks(&vocab, blocks);
    struct ctrl_config dflt;
    ctrl_config_default(&dflt);
    printf("synthetic objective: %d tokens (%d blocks), %d trials per run, hard constraint at "
           "the midpoint of the latency range; rl's Adam step %g; best reward per run\n\n",
           vocab.n_tokens, blocks, trials, rl_lr > 0 ? rl_lr : dflt.lr);
    printf("%-5s", "seed");
    for (int k = 0; k < N_VARIANTS; k++)
        printf(" %10s", variants[k].name);
    printf(" %12s\n", "ref(evo 20k)");
    int wins[N_VARIANTS] = {0};
    double ms[N_VARIANTS] = {0};
    for (int s = 1; s <= seeds; s++) {
        struct synth_objective obj;
        synth_objective_init(&obj, &vocab, (uint64_t)s);
        double best[N_VARIANTS], ref;
        printf("%-5d", s);
        for (int k = 0; k < N_VARIANTS; k++) {
            uint64_t t0 = timer_now_ns();
            if (run(&variants[k], &vocab, &obj, trials, (uint64_t)s * 1000 + 7, &best[k]) != HW_OK)
                return 1;
            ms[k] += (double)(timer_now_ns() - t0) / 1e6 / trials / seeds;
            wins[k] += best[k] > best[0];
            printf(" %10.5f", best[k]);
        }
        if (run(&variants[1], &vocab, &obj, REF_TRIALS, (uint64_t)s, &ref) != HW_OK)
            return 1;
        printf(" %12.5f\n", ref);
    }
    printf("%-5s", "wins");
    for (int k = 0; k < N_VARIANTS; k++)
        printf(" %7d/%-2d", wins[k], seeds);
    printf("   (best reward > random's)\n%-5s", "ms");
    for (int k = 0; k < N_VARIANTS; k++)
        printf(" %10.3f", ms[k]);
    printf("   (controller + objective time per trial)\n");
    return 0;
}
