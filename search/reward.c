#include "search/reward.h"

#include <math.h>

struct reward_cfg reward_cfg_soft(double target_ms, double w)
{
    return (struct reward_cfg){target_ms, w, w};
}

struct reward_cfg reward_cfg_hard(double target_ms)
{
    return (struct reward_cfg){target_ms, 0.0, -1.0};
}

int reward_cfg_validate(const struct reward_cfg *cfg, struct hw_err *err)
{
    if (!(cfg->target_ms > 0) || !isfinite(cfg->target_ms))
        return hw_error(err, HW_EINVAL, "reward: target latency %g ms must be a positive number",
                        cfg->target_ms);
    if (!isfinite(cfg->alpha) || !isfinite(cfg->beta))
        return hw_error(err, HW_EINVAL, "reward: exponents alpha %g / beta %g must be finite",
                        cfg->alpha, cfg->beta);
    return HW_OK;
}

double reward_mnas(const struct reward_cfg *cfg, double acc, double lat_ms)
{
    double w = lat_ms <= cfg->target_ms ? cfg->alpha : cfg->beta;
    return acc * pow(lat_ms / cfg->target_ms, w);
}
