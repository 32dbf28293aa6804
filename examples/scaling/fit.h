/* Power laws through (N, L) points: L = a N^-alpha, and with an offset
 * (an irreducible loss) L = a N^-alpha + c. */
#ifndef SCALING_FIT_H
#define SCALING_FIT_H

typedef struct sc_power_fit {
    double a, alpha, c;     /* c = 0 for the plain form */
    double r2;              /* plain: of log L on log N; offset: of L itself */
} sc_power_fit;

/* Least squares of log L = log a - alpha log N. n >= 2 points with N, L
 * > 0 and not all N equal; returns 0, or -1 when they are not. */
int sc_fit_power(const double *n_params, const double *loss, int n, sc_power_fit *fit);
/* The offset form: for a given c the best a and alpha are the plain fit
 * of L - c (linear least squares in log space), so only c needs a
 * search. c runs over [0, min L): a grid, then golden-section refinement
 * around the grid's best, minimising the squared error of L itself.
 * (Gauss-Newton on all three would be faster but needs a good start and
 * can wander to c >= min L; a bounded 1-D search cannot.) Needs n >= 3. */
int sc_fit_power_offset(const double *n_params, const double *loss, int n,
                        sc_power_fit *fit);

#endif
