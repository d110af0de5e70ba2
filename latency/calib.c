/* Calibration fit (see calib.h). */
#include "latency/calib.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { NF = 4 }; /* features: 1, sum, params / 1e6, MACs / 1e6 */

static void features(const struct lat_calib_x *x, double f[NF])
{
    f[0] = 1;
    f[1] = x->sum_us;
    f[2] = (double)x->params / 1e6;
    f[3] = (double)x->macs / 1e6;
}

static double raw(const struct lat_calib *c, const struct lat_calib_x *x)
{
    double f[NF];
    features(x, f);
    return c->alpha_us * f[0] + c->beta * f[1] + c->gamma_us * f[2] + c->delta_us * f[3];
}

double lat_calib_apply(const struct lat_calib *c, const struct lat_calib_x *x)
{
    double us = raw(c, x);
    return us > 0 ? us : x->sum_us; /* far outside the fitted range: the sum */
}

void lat_calib_text(const struct lat_calib *c, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%.6g us + %.6g x sum + %.6g us/Mparams", c->alpha_us, c->beta,
                     c->gamma_us);
    if (c->delta_us != 0 && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " + %.6g us/MMACs", c->delta_us);
}

/* Solves the k x k system m x = r (k <= NF) by Gaussian elimination with
 * partial pivoting; 0 when a pivot is negligible against the matrix scale. */
static int solve(double m[NF][NF], double r[NF], int k, double x[NF])
{
    double scale = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            scale = fmax(scale, fabs(m[i][j]));
    for (int col = 0; col < k; col++) {
        int piv = col;
        for (int i = col + 1; i < k; i++)
            if (fabs(m[i][col]) > fabs(m[piv][col]))
                piv = i;
        if (!(fabs(m[piv][col]) > 1e-10 * scale))
            return 0;
        for (int j = 0; j < k; j++) {
            double t = m[col][j];
            m[col][j] = m[piv][j];
            m[piv][j] = t;
        }
        double t = r[col];
        r[col] = r[piv];
        r[piv] = t;
        for (int i = col + 1; i < k; i++) {
            double f = m[i][col] / m[col][col];
            for (int j = col; j < k; j++)
                m[i][j] -= f * m[col][j];
            r[i] -= f * r[col];
        }
    }
    for (int i = k - 1; i >= 0; i--) {
        double s = r[i];
        for (int j = i + 1; j < k; j++)
            s -= m[i][j] * x[j];
        x[i] = s / m[i][i];
    }
    return 1;
}

/* Weighted least squares on the k features use[0..k) (indices into
 * features()); coef[use[i]] receives their coefficients, the others 0. */
static int fit_terms(const struct lat_calib_x *xs, const double *measured_us, int n,
                     const int *use, int k, double coef[NF])
{
    double m[NF][NF] = {{0}}, r[NF] = {0}, x[NF];
    for (int s = 0; s < n; s++) {
        double all[NF], f[NF];
        features(&xs[s], all);
        for (int i = 0; i < k; i++)
            f[i] = all[use[i]];
        double w = 1 / (measured_us[s] * measured_us[s]);
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++)
                m[i][j] += w * f[i] * f[j];
            r[i] += w * f[i] * measured_us[s];
        }
    }
    /* Scale to a unit diagonal first: the features' units differ (1, us,
     * Mparams, MMACs), so without it the pivot test would depend on how slow
     * the networks are. */
    double d[NF];
    for (int i = 0; i < k; i++) {
        if (!(m[i][i] > 0))
            return 0;
        d[i] = sqrt(m[i][i]);
    }
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            m[i][j] /= d[i] * d[j];
        r[i] /= d[i];
    }
    if (!solve(m, r, k, x))
        return 0;
    for (int i = 0; i < NF; i++)
        coef[i] = 0;
    for (int i = 0; i < k; i++)
        coef[use[i]] = x[i] / d[i];
    return 1;
}

static double rmspe(const struct lat_calib *c, const struct lat_calib_x *x,
                    const double *measured_us, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        double rel = lat_calib_apply(c, &x[i]) / measured_us[i] - 1;
        s += rel * rel;
    }
    return sqrt(s / n);
}

int lat_calib_fit(const struct lat_calib_x *x, const double *measured_us, int n,
                  struct lat_calib *c, struct hw_err *err)
{
    memset(c, 0, sizeof *c);
    if (n < LAT_CALIB_MIN_SAMPLES)
        return hw_error(err, HW_EINVAL, "calibration: %d networks, at least %d are needed", n,
                        LAT_CALIB_MIN_SAMPLES);
    for (int i = 0; i < n; i++)
        if (!(x[i].sum_us > 0 && isfinite(x[i].sum_us) && measured_us[i] > 0 &&
              isfinite(measured_us[i]) && x[i].params >= 0 && x[i].macs >= 0))
            return hw_error(err, HW_EINVAL, "calibration: network %d has sum %g us, %lld params, "
                            "%lld MACs, measured %g us", i, x[i].sum_us, (long long)x[i].params,
                            (long long)x[i].macs, measured_us[i]);
    /* all four terms; failing that (a feature collinear with the others),
     * without params, without MACs, then the plain line */
    static const int sets[][NF] = {{0, 1, 2, 3}, {0, 1, 3}, {0, 1, 2}, {0, 1}};
    static const int sizes[] = {4, 3, 3, 2};
    double coef[NF];
    int ok = 0;
    for (int t = 0; t < 4 && !ok; t++)
        ok = fit_terms(x, measured_us, n, sets[t], sizes[t], coef);
    if (!ok)
        return hw_error(err, HW_EINVAL, "calibration: the %d networks' sums do not vary "
                        "enough to fit", n);
    *c = (struct lat_calib){.alpha_us = coef[0], .beta = coef[1], .gamma_us = coef[2],
                            .delta_us = coef[3], .samples = n};
    for (int i = 0; i < n; i++) {
        double us = raw(c, &x[i]);
        if (!(us > 0)) {
            char text[160];
            lat_calib_text(c, text, sizeof text);
            return hw_error(err, HW_EINVAL, "calibration: the fit (%s) predicts %g us for "
                            "network %d", text, us, i);
        }
    }
    struct lat_calib id = {.beta = 1};
    c->rmspe_sum = rmspe(&id, x, measured_us, n);
    c->rmspe_fit = rmspe(c, x, measured_us, n);
    return HW_OK;
}
