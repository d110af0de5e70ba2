/* A synthetic search objective that needs no training, for exercising the
 * controllers (tests, bench/bench_controllers.c): every token choice has a
 * latency cost and an accuracy benefit, neighbouring tokens interact, accuracy
 * saturates with total benefit, and the MnasNet reward (search/reward.h)
 * trades it against the summed latency. All numbers are a pure function of
 * (seed, position, choice), so nothing is stored and any vocab works.
 *
 * Shape (u = hash-uniform in [0,1)):
 *   cost(t,c)   = (0.5 + u) * (1 + c * (0.5 + u'))           ms, grows with c
 *   gain(t,c)   = cost(t,c) * (0.5 + u'')                  efficiency varies
 *   pair(t,a,b) = 0.6 * (u''' - 0.5) * mean gain            tokens t-1 = a, t = b
 *   LAT = sum cost;  B = sum gain + sum pair;  ACC = 1 - exp(-B / B0)
 * with B0 = (mean benefit of a random arch) / ln 5 (ACC ~ 0.8 there) and by
 * default the hard constraint at the midpoint of the latency range. */
#ifndef HWNAS_SEARCH_SYNTH_H
#define HWNAS_SEARCH_SYNTH_H

#include <stdint.h>

#include "search/ctrl.h"
#include "search/reward.h"

struct synth_objective {
    struct ctrl_vocab vocab;
    uint64_t seed;
    double b0;                /* benefit scale of ACC */
    double lat_min, lat_max;  /* over the whole space, ms */
    struct reward_cfg reward; /* may be changed after init */
};

/* A vocabulary shaped like a block-wise MobileNetV3 space: per block kernel
 * (3), expansion (3), SE (2), activation (2), layers (3), width (3). */
void synth_vocab_blocks(struct ctrl_vocab *v, int blocks);

/* Fills o for vocab and seed; reward = hard constraint at the midpoint of
 * [lat_min, lat_max]. */
void synth_objective_init(struct synth_objective *o, const struct ctrl_vocab *vocab,
                          uint64_t seed);

double synth_latency(const struct synth_objective *o, const int *tokens);
double synth_accuracy(const struct synth_objective *o, const int *tokens);
/* ctrl_objective_fn: ctx is a const struct synth_objective *. */
double synth_reward(void *ctx, const int *tokens);

#endif
