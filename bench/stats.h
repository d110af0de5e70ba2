/* Statistics shared by the benchmarks (header only: each bench is one file). */
#ifndef HWNAS_BENCH_STATS_H
#define HWNAS_BENCH_STATS_H

#include <math.h>

/* Kendall's tau-b of two paired samples. */
static inline double kendall_tau(const double *x, const double *y, int n)
{
    long conc = 0, disc = 0, tx = 0, ty = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j];
            if (!isfinite(dx)) /* two diverged archs (both -inf): tied */
                dx = 0;
            if (!isfinite(dy))
                dy = 0;
            if (dx == 0 && dy == 0)
                continue;
            if (dx == 0)
                tx++;
            else if (dy == 0)
                ty++;
            else if ((dx > 0) == (dy > 0))
                conc++;
            else
                disc++;
        }
    double d = sqrt((double)(conc + disc + tx) * (double)(conc + disc + ty));
    return d > 0 ? (double)(conc - disc) / d : 0;
}

#endif
