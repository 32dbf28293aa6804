/* Gradient checks of the reductions, softmax and log_softmax. */
#include "gradcheck.h"

#include "core/internal.h"

#include <stdlib.h>

/* What a case computes: an op over axes (softmax: axes[0]). */
typedef struct red_params {
    int op;
    int axes[DC_MAX_DIMS];
    int naxes;
    int keepdim;
    int correction;
} red_params;

#define OP_STD 1000   /* dc_std, checked through DC_OP_SQRT and DC_OP_VAR */

static dc_tensor *f_reduce(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    const red_params *p = ctx;
    const int *ax = p->naxes ? p->axes : NULL;
    switch (p->op) {
    case DC_OP_SUM: return dc_sum(in[0], ax, p->naxes, p->keepdim);
    case DC_OP_MEAN: return dc_mean(in[0], ax, p->naxes, p->keepdim);
    case DC_OP_MAX: return dc_max(in[0], ax, p->naxes, p->keepdim);
    case DC_OP_MIN: return dc_min(in[0], ax, p->naxes, p->keepdim);
    case DC_OP_VAR: return dc_var(in[0], ax, p->naxes, p->correction, p->keepdim);
    case OP_STD: return dc_std(in[0], ax, p->naxes, p->correction, p->keepdim);
    case DC_OP_LOGSUMEXP: return dc_logsumexp(in[0], ax, p->naxes, p->keepdim);
    case DC_OP_SOFTMAX: return dc_softmax(in[0], p->axes[0]);
    case DC_OP_LOG_SOFTMAX: return dc_log_softmax(in[0], p->axes[0]);
    default: return NULL;
    }
}

static void check_random(red_params p, uint64_t seed, int ndim, const int64_t *shape,
                         int noncontig) {
    dc_tensor *x = gc_input(seed, ndim, shape, -2.0, 2.0, noncontig);
    gc_check(f_reduce, &x, 1, &p);
    dc_release(x);
}

/* An input without ties (max/min stay differentiable): a permutation of
 * 0.5 * (0, 1, ..., n-1), shifted to be centred on 0. */
static void check_distinct(red_params p, int ndim, const int64_t *shape, int noncontig) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    ck_assert(n % 37 != 0);
    double *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = 0.5 * (double)((i * 37) % n) - 0.25 * (double)n;
    dc_tensor *x = dc_from_data(DC_F64, ndim, shape, v);
    free(v);
    TU_NOTNULL(x);
    if (noncontig) {
        dc_tensor *nc = tu_noncontig(x);
        dc_release(x);
        x = nc;
    }
    TU_OK(dc_set_requires_grad(x, 1));
    gc_check(f_reduce, &x, 1, &p);
    dc_release(x);
}

static const int64_t s234[3] = {2, 3, 4};
static const int64_t s35[2] = {3, 5};
static const int64_t s6[1] = {6};

/* sum */
static void sum_all(void) { check_random((red_params){DC_OP_SUM, {0}, 0, 0, 0}, 1, 3, s234, 0); }
static void sum_axes_keep(void) {
    check_random((red_params){DC_OP_SUM, {0, -1}, 2, 1, 0}, 2, 3, s234, 0);
}
static void sum_noncontig(void) {
    check_random((red_params){DC_OP_SUM, {1}, 1, 0, 0}, 3, 2, s35, 1);
}
static void sum_middle_noncontig(void) {
    check_random((red_params){DC_OP_SUM, {1}, 1, 1, 0}, 4, 3, s234, 1);
}

/* mean */
static void mean_all_keep(void) {
    check_random((red_params){DC_OP_MEAN, {0}, 0, 1, 0}, 5, 2, s35, 0);
}
static void mean_axes(void) {
    check_random((red_params){DC_OP_MEAN, {2, 0}, 2, 0, 0}, 6, 3, s234, 0);
}
static void mean_noncontig(void) {
    check_random((red_params){DC_OP_MEAN, {-2}, 1, 1, 0}, 7, 3, s234, 1);
}

/* max, min */
static void max_all(void) { check_distinct((red_params){DC_OP_MAX, {0}, 0, 0, 0}, 3, s234, 0); }
static void max_axis_keep(void) {
    check_distinct((red_params){DC_OP_MAX, {1}, 1, 1, 0}, 3, s234, 0);
}
static void max_axes_noncontig(void) {
    check_distinct((red_params){DC_OP_MAX, {0, 2}, 2, 0, 0}, 3, s234, 1);
}
static void min_axis(void) { check_distinct((red_params){DC_OP_MIN, {-1}, 1, 0, 0}, 2, s35, 0); }
static void min_noncontig_keep(void) {
    check_distinct((red_params){DC_OP_MIN, {0}, 1, 1, 0}, 2, s35, 1);
}
static void min_all_1d(void) { check_distinct((red_params){DC_OP_MIN, {0}, 0, 0, 0}, 1, s6, 0); }

/* var, std */
static void var_all(void) { check_random((red_params){DC_OP_VAR, {0}, 0, 0, 1}, 8, 3, s234, 0); }
static void var_axis_c0_keep(void) {
    check_random((red_params){DC_OP_VAR, {1}, 1, 1, 0}, 9, 3, s234, 0);
}
static void var_axes_noncontig(void) {
    check_random((red_params){DC_OP_VAR, {0, -1}, 2, 0, 1}, 10, 3, s234, 1);
}
static void var_c2(void) { check_random((red_params){DC_OP_VAR, {1}, 1, 0, 2}, 11, 2, s35, 1); }
static void std_axis(void) { check_random((red_params){OP_STD, {-1}, 1, 0, 1}, 12, 2, s35, 0); }

/* logsumexp */
static void lse_all(void) {
    check_random((red_params){DC_OP_LOGSUMEXP, {0}, 0, 0, 0}, 13, 3, s234, 0);
}
static void lse_axes_keep(void) {
    check_random((red_params){DC_OP_LOGSUMEXP, {2, 1}, 2, 1, 0}, 14, 3, s234, 0);
}
static void lse_noncontig(void) {
    check_random((red_params){DC_OP_LOGSUMEXP, {0}, 1, 0, 0}, 15, 2, s35, 1);
}

/* softmax, log_softmax */
static void softmax_last(void) {
    check_random((red_params){DC_OP_SOFTMAX, {-1}, 1, 0, 0}, 16, 3, s234, 0);
}
static void softmax_first_noncontig(void) {
    check_random((red_params){DC_OP_SOFTMAX, {0}, 1, 0, 0}, 17, 2, s35, 1);
}
static void softmax_middle(void) {
    check_random((red_params){DC_OP_SOFTMAX, {1}, 1, 0, 0}, 18, 3, s234, 1);
}
static void log_softmax_last(void) {
    check_random((red_params){DC_OP_LOG_SOFTMAX, {1}, 1, 0, 0}, 19, 2, s35, 0);
}
static void log_softmax_first_noncontig(void) {
    check_random((red_params){DC_OP_LOG_SOFTMAX, {-3}, 1, 0, 0}, 20, 3, s234, 1);
}
static void log_softmax_1d(void) {
    check_random((red_params){DC_OP_LOG_SOFTMAX, {0}, 1, 0, 0}, 21, 1, s6, 0);
}

const gc_case gc_cases_reduce[] = {
    {DC_OP_SUM, "sum all", sum_all},
    {DC_OP_SUM, "sum axes 0,-1 keepdim", sum_axes_keep},
    {DC_OP_SUM, "sum axis 1 noncontig", sum_noncontig},
    {DC_OP_SUM, "sum middle axis noncontig keepdim", sum_middle_noncontig},
    {DC_OP_MEAN, "mean all keepdim", mean_all_keep},
    {DC_OP_MEAN, "mean axes 2,0", mean_axes},
    {DC_OP_MEAN, "mean axis -2 noncontig keepdim", mean_noncontig},
    {DC_OP_MAX, "max all", max_all},
    {DC_OP_MAX, "max axis 1 keepdim", max_axis_keep},
    {DC_OP_MAX, "max axes 0,2 noncontig", max_axes_noncontig},
    {DC_OP_MIN, "min axis -1", min_axis},
    {DC_OP_MIN, "min axis 0 noncontig keepdim", min_noncontig_keep},
    {DC_OP_MIN, "min all 1-d", min_all_1d},
    {DC_OP_VAR, "var all", var_all},
    {DC_OP_VAR, "var axis 1 correction 0 keepdim", var_axis_c0_keep},
    {DC_OP_VAR, "var axes 0,-1 noncontig", var_axes_noncontig},
    {DC_OP_VAR, "var correction 2 noncontig", var_c2},
    {DC_OP_VAR, "std axis -1", std_axis},
    {DC_OP_LOGSUMEXP, "logsumexp all", lse_all},
    {DC_OP_LOGSUMEXP, "logsumexp axes 2,1 keepdim", lse_axes_keep},
    {DC_OP_LOGSUMEXP, "logsumexp axis 0 noncontig", lse_noncontig},
    {DC_OP_SOFTMAX, "softmax last axis", softmax_last},
    {DC_OP_SOFTMAX, "softmax axis 0 noncontig", softmax_first_noncontig},
    {DC_OP_SOFTMAX, "softmax middle axis noncontig", softmax_middle},
    {DC_OP_LOG_SOFTMAX, "log_softmax axis 1", log_softmax_last},
    {DC_OP_LOG_SOFTMAX, "log_softmax axis -3 noncontig", log_softmax_first_noncontig},
    {DC_OP_LOG_SOFTMAX, "log_softmax 1-d", log_softmax_1d},
    {0, NULL, NULL},
};
