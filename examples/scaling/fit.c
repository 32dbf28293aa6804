#include "fit.h"

#include <math.h>
#include <stddef.h>

/* Plain fit of log(L - c); the squared error of L through *sse. */
static int fit_with_offset(const double *x, const double *y, int n, double c,
                           sc_power_fit *fit, double *sse) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        if (!(x[i] > 0) || !(y[i] - c > 0) || !isfinite(x[i]) || !isfinite(y[i])) return -1;
        double lx = log(x[i]), ly = log(y[i] - c);
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        syy += ly * ly;
    }
    double vx = sxx - sx * sx / n, vy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
    if (!(vx > 0)) return -1;
    double slope = cxy / vx;
    fit->alpha = -slope;
    fit->a = exp((sy - slope * sx) / n);
    fit->c = c;
    fit->r2 = vy > 0 ? cxy * cxy / (vx * vy) : 1.0;
    if (sse) {
        *sse = 0;
        for (int i = 0; i < n; i++) {
            double e = fit->a * pow(x[i], -fit->alpha) + c - y[i];
            *sse += e * e;
        }
    }
    return 0;
}

int sc_fit_power(const double *n_params, const double *loss, int n, sc_power_fit *fit) {
    if (n < 2) return -1;
    return fit_with_offset(n_params, loss, n, 0.0, fit, NULL);
}

static double error_at(const double *x, const double *y, int n, double c) {
    sc_power_fit f;
    double sse;
    return fit_with_offset(x, y, n, c, &f, &sse) == 0 ? sse : INFINITY;
}

int sc_fit_power_offset(const double *n_params, const double *loss, int n,
                        sc_power_fit *fit) {
    if (n < 3) return -1;
    double lo = INFINITY;
    for (int i = 0; i < n; i++)
        if (loss[i] < lo) lo = loss[i];
    if (!(lo > 0) || !isfinite(lo)) return -1;
    enum { GRID = 1000 };
    double top = lo * (1 - 1e-9), step = top / GRID, best_c = 0, best = INFINITY;
    for (int g = 0; g <= GRID; g++) {
        double e = error_at(n_params, loss, n, g * step);
        if (e < best) {
            best = e;
            best_c = g * step;
        }
    }
    if (!isfinite(best)) return -1;
    /* Golden section on the grid cell either side of the best point. */
    double left = best_c - step > 0 ? best_c - step : 0;
    double right = best_c + step < top ? best_c + step : top;
    const double r = 0.6180339887498949;
    double c1 = right - r * (right - left), c2 = left + r * (right - left);
    double e1 = error_at(n_params, loss, n, c1), e2 = error_at(n_params, loss, n, c2);
    for (int it = 0; it < 200 && right - left > 1e-15 * (1 + lo); it++) {
        if (e1 < e2) {
            right = c2;
            c2 = c1;
            e2 = e1;
            c1 = right - r * (right - left);
            e1 = error_at(n_params, loss, n, c1);
        } else {
            left = c1;
            c1 = c2;
            e1 = e2;
            c2 = left + r * (right - left);
            e2 = error_at(n_params, loss, n, c2);
        }
    }
    double c = e1 < e2 ? c1 : c2;
    if ((e1 < e2 ? e1 : e2) > best) c = best_c;
    double sse;
    if (fit_with_offset(n_params, loss, n, c, fit, &sse) != 0) return -1;
    double mean = 0, sst = 0;
    for (int i = 0; i < n; i++) mean += loss[i] / n;
    for (int i = 0; i < n; i++) sst += (loss[i] - mean) * (loss[i] - mean);
    fit->r2 = sst > 0 ? 1 - sse / sst : 1.0;
    return 0;
}
