#include "search/synth.h"

#include <math.h>

/* splitmix64 finaliser: a well-mixed 64-bit hash. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0,1) from (seed, what, t, a, b). */
static double unit(const struct synth_objective *o, int what, int t, int a, int b)
{
    uint64_t h = mix(o->seed ^ mix((uint64_t)what << 48 ^ (uint64_t)t << 32 ^
                                   (uint64_t)a << 16 ^ (uint64_t)b));
    return (double)(h >> 11) * 0x1.0p-53;
}

static double cost(const struct synth_objective *o, int t, int c)
{
    return (0.5 + unit(o, 0, t, 0, 0)) * (1.0 + c * (0.5 + unit(o, 1, t, 0, 0)));
}

static double gain(const struct synth_objective *o, int t, int c)
{
    return cost(o, t, c) * (0.5 + unit(o, 2, t, c, 0));
}

static double mean_gain(const struct synth_objective *o, int t)
{
    double s = 0;
    for (int c = 0; c < o->vocab.choices[t]; c++)
        s += gain(o, t, c);
    return s / o->vocab.choices[t];
}

static double pair(const struct synth_objective *o, int t, int a, int b)
{
    return 0.6 * (unit(o, 3, t, a, b) - 0.5) * mean_gain(o, t);
}

void synth_vocab_blocks(struct ctrl_vocab *v, int blocks)
{
    static const int per_block[6] = {3, 3, 2, 2, 3, 3};
    v->n_tokens = 6 * blocks;
    for (int t = 0; t < v->n_tokens; t++)
        v->choices[t] = per_block[t % 6];
}

void synth_objective_init(struct synth_objective *o, const struct ctrl_vocab *vocab,
                          uint64_t seed)
{
    o->vocab = *vocab;
    o->seed = seed;
    double benefit = 0;
    o->lat_min = o->lat_max = 0;
    for (int t = 0; t < vocab->n_tokens; t++) {
        /* cost grows with the choice index, so the extremes are the ends. */
        o->lat_min += cost(o, t, 0);
        o->lat_max += cost(o, t, vocab->choices[t] - 1);
        benefit += mean_gain(o, t); /* pair terms average to ~0 */
    }
    o->b0 = benefit / log(5.0);
    o->reward = reward_cfg_hard(0.5 * (o->lat_min + o->lat_max));
}

double synth_latency(const struct synth_objective *o, const int *tokens)
{
    double lat = 0;
    for (int t = 0; t < o->vocab.n_tokens; t++)
        lat += cost(o, t, tokens[t]);
    return lat;
}

double synth_accuracy(const struct synth_objective *o, const int *tokens)
{
    double b = 0;
    for (int t = 0; t < o->vocab.n_tokens; t++) {
        b += gain(o, t, tokens[t]);
        if (t > 0)
            b += pair(o, t, tokens[t - 1], tokens[t]);
    }
    return 1.0 - exp(-b / o->b0);
}

double synth_reward(void *ctx, const int *tokens)
{
    const struct synth_objective *o = ctx;
    return reward_mnas(&o->reward, synth_accuracy(o, tokens), synth_latency(o, tokens));
}
