/* Samples spread over the latency range (see spread.h). */
#include "latency/spread.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pooled {
    double log_sum, sum_us;
    int tokens[SPACE_MAX_TOKENS];
};

static int by_log_sum(const void *a, const void *b)
{
    double x = ((const struct pooled *)a)->log_sum, y = ((const struct pooled *)b)->log_sum;
    return (x > y) - (x < y);
}

int lat_sample_spread(const struct space *s, const struct lut *t, struct pcg32 *rng, int n,
                      struct arch *out, double *sum_us, struct hw_err *err)
{
    if (n < 1 || n > LAT_SPREAD_MAX)
        return hw_error(err, HW_EINVAL, "spread sampling: %d samples is not in [1, %d]", n,
                        LAT_SPREAD_MAX);
    int np = n * LAT_SPREAD_POOL;
    if (np > LAT_SPREAD_POOL_MAX)
        np = n > LAT_SPREAD_POOL_MAX ? n : LAT_SPREAD_POOL_MAX;
    struct pooled *pool = malloc(sizeof *pool * (size_t)np);
    char *used = calloc((size_t)np, 1);
    double *sums = sum_us ? sum_us : malloc(sizeof *sums * (size_t)n);
    int rc = HW_OK;
    if (!pool || !used || !sums)
        rc = hw_error(err, HW_ENOMEM, "out of memory for a pool of %d samples", np);
    for (int i = 0; rc == HW_OK && i < np; i++) {
        struct arch a;
        double us;
        space_sample(s, rng, pool[i].tokens);
        if ((rc = space_decode(s, pool[i].tokens, &a, err)) ||
            (rc = lut_predict(t, &a, &us, NULL, NULL, err)))
            break;
        pool[i].sum_us = us;
        pool[i].log_sum = log(us > 0 ? us : 1e-9);
    }
    if (rc == HW_OK) {
        qsort(pool, (size_t)np, sizeof *pool, by_log_sum);
        double lo = pool[0].log_sum, hi = pool[np - 1].log_sum;
        int at = 0; /* the pool index nearest the previous point */
        for (int j = 0; rc == HW_OK && j < n; j++) {
            double goal = n > 1 ? lo + (hi - lo) * j / (n - 1) : 0.5 * (lo + hi);
            while (at + 1 < np && pool[at + 1].log_sum <= goal)
                at++;
            /* the nearest unused pool entry on either side of the goal */
            int best = -1;
            for (int l = at, r = at + 1; best < 0 && (l >= 0 || r < np);) {
                while (l >= 0 && used[l])
                    l--;
                while (r < np && used[r])
                    r++;
                if (l < 0 && r >= np)
                    break;
                if (l < 0)
                    best = r;
                else if (r >= np)
                    best = l;
                else
                    best = goal - pool[l].log_sum <= pool[r].log_sum - goal ? l : r;
            }
            assert(best >= 0); /* n <= np: an unused entry is left */
            used[best] = 1;
            rc = space_decode(s, pool[best].tokens, &out[j], err);
            sums[j] = pool[best].sum_us;
        }
        /* fastest first: the picks were made in goal order, but a taken
         * neighbour can push one past the next */
        if (rc == HW_OK)
            for (int i = 1; i < n; i++)
                for (int k = i; k > 0 && sums[k] < sums[k - 1]; k--) {
                    double ts = sums[k];
                    sums[k] = sums[k - 1];
                    sums[k - 1] = ts;
                    struct arch ta = out[k];
                    out[k] = out[k - 1];
                    out[k - 1] = ta;
                }
    }
    free(pool);
    free(used);
    if (sums != sum_us)
        free(sums);
    return rc;
}

void lat_shuffle_archs(struct arch *a, int n, struct pcg32 *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pcg32_bounded(rng, (uint32_t)i + 1);
        struct arch tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}
