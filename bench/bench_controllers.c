/* Controller machinery on the synthetic objective of search/synth.h (issue 5
 * target): best reward after N trials for random, evolution and rl, per seed.
 * rl and evolution should beat random on at least 4 of 5 seeds.
 *
 *   build/bench/bench_controllers [trials=500] [seeds=5] [blocks=7]
 *
 * When the real spaces land, the same table should come from the fmnist
 * space's token vocabulary with "MACs under a latency-table target" as the
 * objective: only the ctrl_objective_fn passed to ctrl_optimize changes. */
#include <stdio.h>
#include <stdlib.h>

#include "search/ctrl.h"
#include "search/synth.h"
#include "util/timer.h"

int main(int argc, char **argv)
{
    int trials = argc > 1 ? atoi(argv[1]) : 500;
    int seeds = argc > 2 ? atoi(argv[2]) : 5;
    int blocks = argc > 3 ? atoi(argv[3]) : 7;
    if (trials < 1 || seeds < 1 || blocks < 1 || blocks * 6 > CTRL_MAX_TOKENS) {
        fprintf(stderr, "usage: %s [trials>=1] [seeds>=1] [blocks 1..%d]\n", argv[0],
                CTRL_MAX_TOKENS / 6);
        return 2;
    }
    struct ctrl_vocab vocab;
    synth_vocab_blocks(&vocab, blocks);
    printf("synthetic objective: %d tokens (%d blocks), %d trials, hard constraint at the "
           "midpoint of the latency range\n\n", vocab.n_tokens, blocks, trials);
    printf("%-6s %10s %10s %10s   %-9s %-9s  %s\n", "seed", "random", "evolution", "rl",
           "evo>rand", "rl>rand", "ms per trial (rand/evo/rl)");
    int evo_wins = 0, rl_wins = 0;
    for (int s = 1; s <= seeds; s++) {
        struct synth_objective obj;
        synth_objective_init(&obj, &vocab, (uint64_t)s);
        double best[3], ms[3];
        for (int k = 0; k < 3; k++) {
            struct ctrl *c;
            struct hw_err err;
            if (ctrl_create(&c, (enum ctrl_kind)k, &vocab, NULL, (uint64_t)s * 1000 + 7, &err) ||
                0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            uint64_t t0 = timer_now_ns();
            if (ctrl_optimize(c, trials, synth_reward, &obj, &best[k], NULL, &err) != HW_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            ms[k] = (double)(timer_now_ns() - t0) / 1e6 / trials;
            ctrl_free(c);
        }
        int ew = best[CTRL_EVOLUTION] > best[CTRL_RANDOM], rw = best[CTRL_RL] > best[CTRL_RANDOM];
        evo_wins += ew;
        rl_wins += rw;
        printf("%-6d %10.5f %10.5f %10.5f   %-9s %-9s  %.3f / %.3f / %.3f\n", s,
               best[CTRL_RANDOM], best[CTRL_EVOLUTION], best[CTRL_RL], ew ? "yes" : "no",
               rw ? "yes" : "no", ms[0], ms[1], ms[2]);
    }
    printf("\nevolution beat random on %d of %d seeds; rl on %d of %d\n", evo_wins, seeds,
           rl_wins, seeds);
    return 0;
}
