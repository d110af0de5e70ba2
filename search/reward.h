/* MnasNet's latency-aware reward (Tan et al. 2019, §3):
 *   R(m) = ACC(m) * (LAT(m) / T)^w,  w = alpha if LAT(m) <= T else beta.
 * Soft constraint (default): alpha = beta = -0.07, so doubling latency costs
 * about 5 % relative accuracy. Hard constraint: alpha = 0, beta = -1.
 * MobileNetV3-Small used w = -0.15. */
#ifndef HWNAS_SEARCH_REWARD_H
#define HWNAS_SEARCH_REWARD_H

#include "util/err.h"

#define REWARD_DEFAULT_W (-0.07)

/* The quality term Q(m) that stands for ACC(m): MnasNet's proxy validation
 * accuracy, exp(-L) of the proxy's mean validation cross-entropy L, or
 * exp(-L) of its last epoch's mean training loss (in (0, 1], 0 for a
 * diverged training). Over eight proxy seeds the training loss ranked the
 * proxies closest to their 10-epoch accuracies (Kendall tau mean 0.55),
 * validation loss next (0.47), accuracy last (0.36): evaluator/proxy.h. The same
 * evolution run (fmnist, T 0.197 ms, seed 1, 250 trials) scored by loss
 * found a winner at 92.02 +- 0.06 % test after the 10-epoch recipe (4
 * seeds) against 91.85 +- 0.26 % scored by accuracy (2026-11-29). */
enum reward_score { REWARD_SCORE_ACC, REWARD_SCORE_LOSS, REWARD_SCORE_TRAIN_LOSS };

struct reward_cfg {
    double target_ms; /* T, > 0 */
    double alpha;     /* exponent at or under the target */
    double beta;      /* exponent over the target */
    enum reward_score score; /* REWARD_SCORE_ACC unless set */
};

/* "acc" | "loss" | "train-loss" (static strings; "?" out of range); reward_score_parse
 * returns the enum value of a name, or -1 for anything else. */
const char *reward_score_name(enum reward_score s);
int reward_score_parse(const char *name);
/* Q(m) of a candidate with validation accuracy acc, validation loss loss and
 * last-epoch training loss train_loss: acc, exp(-loss) or exp(-train_loss)
 * by cfg->score (the one used NaN: NaN; inf: 0, a diverged training). */
double reward_quality(const struct reward_cfg *cfg, double acc, double loss, double train_loss);

/* Soft constraint with one exponent w for both sides (alpha = beta = w). */
struct reward_cfg reward_cfg_soft(double target_ms, double w);
/* Hard constraint: alpha = 0, beta = -1. */
struct reward_cfg reward_cfg_hard(double target_ms);

/* Checks target > 0, finite exponents and a known score; the message names
 * the bad field. */
int reward_cfg_validate(const struct reward_cfg *cfg, struct hw_err *err);

/* R(m) for quality acc (any scale: a fraction or a percentage; R keeps it)
 * and latency lat_ms > 0. cfg must be valid. */
double reward_mnas(const struct reward_cfg *cfg, double acc, double lat_ms);

#endif
