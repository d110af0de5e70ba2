#include "search/reward.h"

#include <math.h>
#include <string.h>

static const char *const score_names[] = {"acc", "loss", "train-loss"};
#define N_SCORES ((int)(sizeof score_names / sizeof score_names[0]))

const char *reward_score_name(enum reward_score s)
{
    return (unsigned)s < (unsigned)N_SCORES ? score_names[s] : "?";
}

int reward_score_parse(const char *name)
{
    for (int i = 0; i < N_SCORES; i++)
        if (name && strcmp(name, score_names[i]) == 0)
            return i;
    return -1;
}

double reward_quality(const struct reward_cfg *cfg, double acc, double loss, double train_loss)
{
    if (cfg->score == REWARD_SCORE_ACC)
        return acc;
    double l = cfg->score == REWARD_SCORE_TRAIN_LOSS ? train_loss : loss;
    return isnan(l) ? NAN : exp(-l); /* exp(-inf) = 0: diverged */
}

struct reward_cfg reward_cfg_soft(double target_ms, double w)
{
    return (struct reward_cfg){target_ms, w, w, REWARD_SCORE_ACC};
}

struct reward_cfg reward_cfg_hard(double target_ms)
{
    return (struct reward_cfg){target_ms, 0.0, -1.0, REWARD_SCORE_ACC};
}

int reward_cfg_validate(const struct reward_cfg *cfg, struct hw_err *err)
{
    if (!(cfg->target_ms > 0) || !isfinite(cfg->target_ms))
        return hw_error(err, HW_EINVAL, "reward: target latency %g ms must be a positive number",
                        cfg->target_ms);
    if (!isfinite(cfg->alpha) || !isfinite(cfg->beta))
        return hw_error(err, HW_EINVAL, "reward: exponents alpha %g / beta %g must be finite",
                        cfg->alpha, cfg->beta);
    if ((unsigned)cfg->score >= (unsigned)N_SCORES)
        return hw_error(err, HW_EINVAL, "reward: score %d is none of acc, loss, train-loss",
                        (int)cfg->score);
    return HW_OK;
}

double reward_mnas(const struct reward_cfg *cfg, double acc, double lat_ms)
{
    double w = lat_ms <= cfg->target_ms ? cfg->alpha : cfg->beta;
    return acc * pow(lat_ms / cfg->target_ms, w);
}
