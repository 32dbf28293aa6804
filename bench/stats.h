/* Order statistics shared by the benchmark programs (header only). */
#ifndef DEEPCORE_BENCH_STATS_H
#define DEEPCORE_BENCH_STATS_H

#include <stdlib.h>

/* For qsort: ascending doubles. */
static inline int bench_cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The median of n values (sorts them; the mean of the middle two when n
 * is even). */
static inline double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
