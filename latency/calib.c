/* Calibration fit (see calib.h). */
#include "latency/calib.h"

#include <math.h>
#include <string.h>

double lat_calib_apply(const struct lat_calib *c, double sum_us, int64_t params)
{
    double us = c->alpha_us + c->beta * sum_us + c->gamma_us * (double)params / 1e6;
    return us > 0 ? us : sum_us; /* far outside the fitted range: the sum */
}

/* Solves the k x k system m x = r (k <= 3) by Gaussian elimination with
 * partial pivoting; 0 when a pivot is negligible against the matrix scale. */
static int solve(double m[3][3], double r[3], int k, double x[3])
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

/* Weighted least squares on features (1, sum, params/1e6)[0..k). */
static int fit_terms(const double *sum_us, const int64_t *params, const double *measured_us,
                     int n, int k, double x[3])
{
    double m[3][3] = {{0}}, r[3] = {0};
    for (int s = 0; s < n; s++) {
        double f[3] = {1, sum_us[s], (double)params[s] / 1e6};
        double w = 1 / (measured_us[s] * measured_us[s]);
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++)
                m[i][j] += w * f[i] * f[j];
            r[i] += w * f[i] * measured_us[s];
        }
    }
    x[2] = 0;
    /* Scale to a unit diagonal first: the features' units differ (1, us,
     * Mparams), so without it the pivot test would depend on how slow the
     * networks are. */
    double d[3];
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
    for (int i = 0; i < k; i++)
        x[i] /= d[i];
    return 1;
}

static double rmspe(const struct lat_calib *c, const double *sum_us, const int64_t *params,
                    const double *measured_us, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        double rel = lat_calib_apply(c, sum_us[i], params[i]) / measured_us[i] - 1;
        s += rel * rel;
    }
    return sqrt(s / n);
}

int lat_calib_fit(const double *sum_us, const int64_t *params, const double *measured_us,
                  int n, struct lat_calib *c, struct hw_err *err)
{
    memset(c, 0, sizeof *c);
    if (n < LAT_CALIB_MIN_SAMPLES)
        return hw_error(err, HW_EINVAL, "calibration: %d networks, at least %d are needed", n,
                        LAT_CALIB_MIN_SAMPLES);
    for (int i = 0; i < n; i++)
        if (!(sum_us[i] > 0 && isfinite(sum_us[i]) && measured_us[i] > 0 &&
              isfinite(measured_us[i]) && params[i] >= 0))
            return hw_error(err, HW_EINVAL,
                            "calibration: network %d has sum %g us, %lld params, measured %g us",
                            i, sum_us[i], (long long)params[i], measured_us[i]);
    double x[3];
    int k = 3;
    if (!fit_terms(sum_us, params, measured_us, n, k, x)) {
        k = 2;
        if (!fit_terms(sum_us, params, measured_us, n, k, x))
            return hw_error(err, HW_EINVAL, "calibration: the %d networks' sums do not vary "
                            "enough to fit", n);
    }
    *c = (struct lat_calib){.alpha_us = x[0], .beta = x[1], .gamma_us = x[2], .samples = n};
    for (int i = 0; i < n; i++) {
        double us = c->alpha_us + c->beta * sum_us[i] + c->gamma_us * (double)params[i] / 1e6;
        if (!(us > 0))
            return hw_error(err, HW_EINVAL, "calibration: the fit (%g + %g x sum + %g x Mparams) "
                            "predicts %g us for network %d", c->alpha_us, c->beta, c->gamma_us,
                            us, i);
    }
    struct lat_calib id = {.beta = 1};
    c->rmspe_sum = rmspe(&id, sum_us, params, measured_us, n);
    c->rmspe_fit = rmspe(c, sum_us, params, measured_us, n);
    return HW_OK;
}
