/* Search controllers: the part of a search that decides which architecture to
 * try next and learns from the rewards.
 *
 * A controller sees the search space only as a token vocabulary: n_tokens
 * positions, position t taking one of choices[t] values (a block-wise space
 * emits one token per block decision: kernel, expansion, SE, activation,
 * layers, width). Three kinds:
 *   CTRL_RANDOM     uniform random tokens;
 *   CTRL_EVOLUTION  regularized (aging) evolution, Real et al. 2019;
 *   CTRL_RL         an LSTM policy (search/lstm.h) trained by REINFORCE with a
 *                   moving-average baseline and an entropy bonus, or by PPO; Adam.
 *
 * Protocol: ctrl_propose() gives the next candidate; ctrl_report() gives a
 * reward for a token list (normally a proposal; reports may come in any order
 * and a caller may also report candidates it chose itself, e.g. a cached
 * duplicate). Every random choice comes from the controller's own PCG32 stream,
 * and ctrl_save() captures the whole state (weights, Adam moments, baseline,
 * RNG, population, pending batch), so a controller restored by ctrl_load()
 * continues exactly the sequence the saved one would have produced.
 * Not thread-safe: one controller, one caller. */
#ifndef HWNAS_SEARCH_CTRL_H
#define HWNAS_SEARCH_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CTRL_MAX_TOKENS 128
#define CTRL_MAX_CHOICES 64

enum ctrl_kind {
    CTRL_RANDOM = 0,
    CTRL_EVOLUTION = 1,
    CTRL_RL = 2,
};

struct ctrl_vocab {
    int n_tokens;                  /* 1..CTRL_MAX_TOKENS */
    int choices[CTRL_MAX_TOKENS];  /* each 1..CTRL_MAX_CHOICES */
};

/* Tunables of every kind; each kind reads only its own fields. Plain data,
 * saved with the state. ctrl_config_default() gives the values in brackets. */
struct ctrl_config {
    /* rl */
    int hidden;            /* LSTM units and embedding size [64] */
    double lr;             /* Adam step size [0.003] */
    double baseline_decay; /* EMA decay of the reward baseline [0.95] */
    double entropy_weight; /* weight of the summed per-token entropy [0.001] */
    double grad_clip;      /* global gradient norm limit, 0 = none [5] */
    double temperature;    /* softmax temperature, > 0 [1] */
    double logit_clip;     /* C: logits become C*tanh(z/C), 0 = none [0] */
    double init_range;     /* weights start uniform in +-init_range [0.1] */
    int batch;             /* reports per policy update [1] */
    int ppo_epochs;        /* 0 = REINFORCE, k > 0 = PPO, k passes per batch [0] */
    double ppo_clip;       /* PPO ratio clip epsilon [0.2] */
    /* evolution */
    int population;        /* P: living models; the first P proposals are random [50] */
    int sample_size;       /* S: tournament size, 1..P [10] */
};

struct ctrl;

/* A growable byte buffer for saved states. Zero-initialise it; the owner
 * frees the bytes with ctrl_buf_release(). */
struct ctrl_buf {
    unsigned char *data;
    size_t len, cap;
};
void ctrl_buf_release(struct ctrl_buf *b);

void ctrl_config_default(struct ctrl_config *cfg);

/* "random" | "evolution" | "rl" <-> kind. Parse returns HW_EINVAL (message
 * lists the names) on anything else. */
const char *ctrl_kind_name(enum ctrl_kind kind);
int ctrl_kind_parse(const char *s, enum ctrl_kind *out, struct hw_err *err);

/* Creates a controller of `kind` over `vocab` with `cfg` (NULL = defaults),
 * its RNG seeded from `seed`. On success *out is owned by the caller
 * (ctrl_free). Bad vocabularies or configs give HW_EINVAL naming the field. */
int ctrl_create(struct ctrl **out, enum ctrl_kind kind, const struct ctrl_vocab *vocab,
                const struct ctrl_config *cfg, uint64_t seed, struct hw_err *err);

/* Writes the next candidate into tokens[0..n_tokens). */
void ctrl_propose(struct ctrl *c, int *tokens);

/* Feeds back the reward of a candidate (tokens are copied). HW_EINVAL if a
 * token is out of range or the reward is not finite. */
int ctrl_report(struct ctrl *c, const int *tokens, double reward, struct hw_err *err);

/* Appends the full state (kind, vocab, config and everything learned) to
 * out. HW_ENOMEM on allocation failure. */
int ctrl_save(const struct ctrl *c, struct ctrl_buf *out, struct hw_err *err);

/* Rebuilds a controller from ctrl_save() bytes; *out is owned by the caller.
 * Truncated, foreign or inconsistent bytes give HW_EINVAL. */
int ctrl_load(struct ctrl **out, const void *data, size_t len, struct hw_err *err);

void ctrl_free(struct ctrl *c);

enum ctrl_kind ctrl_kind_of(const struct ctrl *c);
const struct ctrl_vocab *ctrl_vocab_of(const struct ctrl *c);
/* Number of proposals and reports so far (restored by ctrl_load). */
long ctrl_n_proposed(const struct ctrl *c);
long ctrl_n_reported(const struct ctrl *c);

/* An objective for ctrl_optimize: the reward of a token list. ctx is the
 * caller's. The search loop has its own driver; this one serves benchmarks and
 * tests with objectives that need no training (search/synth.h). */
typedef double (*ctrl_objective_fn)(void *ctx, const int *tokens);

/* Runs `trials` propose -> objective -> report rounds. best_reward (may be
 * NULL) gets the best reward seen, best_tokens (may be NULL, n_tokens ints)
 * its tokens. */
int ctrl_optimize(struct ctrl *c, int trials, ctrl_objective_fn objective, void *ctx,
                  double *best_reward, int *best_tokens, struct hw_err *err);

#endif
