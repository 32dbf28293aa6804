/* Reductions, softmax and log_softmax: values against PyTorch fixtures
 * (tests/fixtures/gen_reduce.py) and hand-computed cases, dtypes,
 * non-contiguous inputs, empty tensors, NaN/inf, and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Fixture cases on x of shape (2, 3, 4)                             */
/* ---------------------------------------------------------------- */

typedef enum op { OP_SUM, OP_MEAN, OP_MAX, OP_MIN, OP_VAR, OP_STD, OP_LSE, OP_SOFTMAX,
                  OP_LOG_SOFTMAX, OP_ARGMAX, OP_ARGMIN } op;

typedef struct fx_case {
    const char *file;
    op op;
    int axes[3];
    int naxes;
    int keepdim;
    int correction;
    int ndim;
    int64_t shape[3];
} fx_case;

static const fx_case fx_cases[] = {
    {"reduce_sum_02.f64", OP_SUM, {0, 2}, 2, 0, 0, 1, {3}},
    {"reduce_sum_m1_keep.f64", OP_SUM, {-1}, 1, 1, 0, 3, {2, 3, 1}},
    {"reduce_sum_01_keep.f64", OP_SUM, {1, 0}, 2, 1, 0, 3, {1, 1, 4}},
    {"reduce_mean_0.f64", OP_MEAN, {-3}, 1, 0, 0, 2, {3, 4}},
    {"reduce_mean_12.f64", OP_MEAN, {2, 1}, 2, 0, 0, 1, {2}},
    {"reduce_mean_all.f64", OP_MEAN, {0}, 0, 0, 0, 0, {0}},
    {"reduce_max_01.f64", OP_MAX, {0, 1}, 2, 0, 0, 1, {4}},
    {"reduce_min_m1.f64", OP_MIN, {-1}, 1, 0, 0, 2, {2, 3}},
    {"reduce_var_1_c1.f64", OP_VAR, {1}, 1, 0, 1, 2, {2, 4}},
    {"reduce_var_02_c0.f64", OP_VAR, {0, -1}, 2, 0, 0, 1, {3}},
    {"reduce_std_all_c1.f64", OP_STD, {0}, 0, 0, 1, 0, {0}},
    {"reduce_lse_12.f64", OP_LSE, {1, 2}, 2, 0, 0, 1, {2}},
    {"reduce_lse_0.f64", OP_LSE, {0}, 1, 0, 0, 2, {3, 4}},
    {"reduce_softmax_1.f64", OP_SOFTMAX, {1}, 1, 0, 0, 3, {2, 3, 4}},
    {"reduce_softmax_0.f64", OP_SOFTMAX, {0}, 1, 0, 0, 3, {2, 3, 4}},
    {"reduce_log_softmax_m1.f64", OP_LOG_SOFTMAX, {-1}, 1, 0, 0, 3, {2, 3, 4}},
    {"reduce_argmax_1.i64", OP_ARGMAX, {1}, 1, 0, 0, 2, {2, 4}},
    {"reduce_argmin_m1.i64", OP_ARGMIN, {-1}, 1, 0, 0, 2, {2, 3}},
};
#define N_FX (int)(sizeof fx_cases / sizeof *fx_cases)

static dc_tensor *apply(const fx_case *c, dc_tensor *x) {
    const int *ax = c->naxes ? c->axes : NULL;
    switch (c->op) {
    case OP_SUM: return dc_sum(x, ax, c->naxes, c->keepdim);
    case OP_MEAN: return dc_mean(x, ax, c->naxes, c->keepdim);
    case OP_MAX: return dc_max(x, ax, c->naxes, c->keepdim);
    case OP_MIN: return dc_min(x, ax, c->naxes, c->keepdim);
    case OP_VAR: return dc_var(x, ax, c->naxes, c->correction, c->keepdim);
    case OP_STD: return dc_std(x, ax, c->naxes, c->correction, c->keepdim);
    case OP_LSE: return dc_logsumexp(x, ax, c->naxes, c->keepdim);
    case OP_SOFTMAX: return dc_softmax(x, c->axes[0]);
    case OP_LOG_SOFTMAX: return dc_log_softmax(x, c->axes[0]);
    case OP_ARGMAX: return dc_argmax(x, c->axes[0], c->keepdim);
    case OP_ARGMIN: return dc_argmin(x, c->axes[0], c->keepdim);
    }
    return NULL;
}

static const int64_t x_shape[3] = {2, 3, 4};

static dc_tensor *load_x(void) {
    double *v = tu_read_fixture("reduce_x.f64", 24 * sizeof(double));
    dc_tensor *x = tu_f64(3, x_shape, v);
    free(v);
    TU_NOTNULL(x);
    return x;
}

/* x with every stride reversed: storage holds x permuted (2, 1, 0). */
static dc_tensor *reversed_strides(dc_tensor *x) {
    const int rev[3] = {2, 1, 0};
    dc_tensor *p = dc_permute(x, rev);
    dc_tensor *base = dc_contiguous(p);
    dc_tensor *v = dc_permute(base, rev);
    dc_release(p);
    dc_release(base);
    TU_NOTNULL(v);
    ck_assert_int_eq(dc_is_contiguous(v), 0);
    return v;
}

/* variant 0: f64, 1: tu_noncontig, 2: reversed strides, 3: f32 */
static void check_fixture_case(const fx_case *c, int variant) {
    dc_tensor *x0 = load_x();
    dc_tensor *x = variant == 0 ? dc_retain(x0)
                   : variant == 1 ? tu_noncontig(x0)
                   : variant == 2 ? reversed_strides(x0)
                                  : dc_cast(x0, DC_F32);
    TU_NOTNULL(x);
    int64_t n = 1;
    for (int i = 0; i < c->ndim; i++) n *= c->shape[i];
    bool is_arg = c->op == OP_ARGMAX || c->op == OP_ARGMIN;
    size_t esz = is_arg ? sizeof(int64_t) : sizeof(double);
    void *raw = tu_read_fixture(c->file, (size_t)n * esz);
    double want[24];
    for (int64_t i = 0; i < n; i++)
        want[i] = is_arg ? (double)((int64_t *)raw)[i] : ((double *)raw)[i];
    free(raw);

    dc_tensor *y = apply(c, x);
    TU_NOTNULL(y);
    tu_assert_shape(y, c->ndim, c->shape);
    dc_dtype want_dt = is_arg ? DC_I64 : variant == 3 ? DC_F32 : DC_F64;
    ck_assert_int_eq(dc_tensor_dtype(y), want_dt);
    double tol = variant == 3 ? 1e-5 : 1e-12;
    tu_assert_values(y, want, n, tol, tol);
    dc_release(y);
    dc_release(x);
    dc_release(x0);
}

START_TEST(fixture_values) {
    check_fixture_case(&fx_cases[_i / 4], _i % 4);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Hand cases                                                        */
/* ---------------------------------------------------------------- */

/* The single value of a one-element tensor (then released). */
static double item_of(dc_tensor *t) {
    TU_NOTNULL(t);
    double v;
    TU_OK(dc_item(t, &v));
    dc_release(t);
    return v;
}

START_TEST(keepdim_and_all_axes) {
    const int64_t sh[2] = {2, 3};
    const double v[6] = {1, 2, 3, 4, 5, 6};
    dc_tensor *x = tu_f64(2, sh, v);
    dc_tensor *s = dc_sum(x, NULL, 0, 1);
    const int64_t one_one[2] = {1, 1};
    tu_assert_shape(s, 2, one_one);
    tu_assert_values(s, (double[]){21}, 1, 0, 0);
    dc_release(s);
    const int both[2] = {-1, 0};
    s = dc_sum(x, both, 2, 0);
    tu_assert_shape(s, 0, NULL);
    tu_assert_values(s, (double[]){21}, 1, 0, 0);
    dc_release(s);
    const int ax0 = -2;
    s = dc_mean(x, &ax0, 1, 1);
    const int64_t sh13[2] = {1, 3};
    tu_assert_shape(s, 2, sh13);
    tu_assert_values(s, (double[]){2.5, 3.5, 4.5}, 3, 1e-15, 0);
    dc_release(s);
    /* a 0-d tensor accepts axis 0 and reduces nothing */
    dc_tensor *sc = dc_scalar(DC_F64, 7.0);
    const int z = 0;
    ck_assert_double_eq(item_of(dc_sum(sc, &z, 1, 0)), 7.0);
    ck_assert_double_eq(item_of(dc_max(sc, NULL, 0, 1)), 7.0);
    ck_assert_double_eq(item_of(dc_argmax(sc, 0, 0)), 0.0);
    dc_release(sc);
    dc_release(x);
}
END_TEST

START_TEST(integer_sums) {
    const int64_t sh[1] = {3};
    int32_t i32[3] = {2000000000, 2000000000, -5};
    dc_tensor *a = dc_from_data(DC_I32, 1, sh, i32);
    dc_tensor *s = dc_sum(a, NULL, 0, 0);
    ck_assert_int_eq(dc_tensor_dtype(s), DC_I64);
    int64_t got;
    TU_OK(dc_copy_to(s, DC_I64, &got, sizeof got));
    ck_assert_int_eq(got, 3999999995LL);
    ck_assert_int_eq(dc_requires_grad(s), 0);
    dc_release(s);
    dc_release(a);
    /* i64 beyond 2^53 stays exact */
    int64_t big[3] = {(1LL << 60) + 1, (1LL << 60) + 3, -7};
    a = dc_from_data(DC_I64, 1, sh, big);
    s = dc_sum(a, NULL, 0, 0);
    TU_OK(dc_copy_to(s, DC_I64, &got, sizeof got));
    ck_assert_int_eq(got, (1LL << 61) - 3);
    dc_release(s);
    s = dc_max(a, NULL, 0, 0);
    ck_assert_int_eq(dc_tensor_dtype(s), DC_I64);
    TU_OK(dc_copy_to(s, DC_I64, &got, sizeof got));
    ck_assert_int_eq(got, (1LL << 60) + 3);
    dc_release(s);
    dc_release(a);
    /* u8 and bool sums count in i64 */
    uint8_t u8[3] = {200, 100, 255};
    a = dc_from_data(DC_U8, 1, sh, u8);
    s = dc_sum(a, NULL, 0, 0);
    ck_assert_int_eq(dc_tensor_dtype(s), DC_I64);
    ck_assert_double_eq(item_of(s), 555.0);
    s = dc_min(a, NULL, 0, 0);
    ck_assert_int_eq(dc_tensor_dtype(s), DC_U8);
    ck_assert_double_eq(item_of(s), 100.0);
    dc_release(a);
    uint8_t b[3] = {1, 0, 1};
    a = dc_from_data(DC_BOOL, 1, sh, b);
    ck_assert_double_eq(item_of(dc_sum(a, NULL, 0, 0)), 2.0);
    dc_release(a);
    /* i32 over an axis of a non-contiguous view */
    const int64_t sh23[2] = {2, 3};
    int32_t m[6] = {1, -2, 3, 4, 5, -6};
    a = dc_from_data(DC_I32, 2, sh23, m);
    dc_tensor *at = dc_transpose(a, 0, 1);              /* (3, 2) */
    const int ax1 = 1;
    s = dc_sum(at, &ax1, 1, 0);
    tu_assert_values(s, (double[]){5, 3, -3}, 3, 0, 0);
    dc_release(s);
    s = dc_argmin(at, 0, 1);
    const int64_t sh12[2] = {1, 2};
    tu_assert_shape(s, 2, sh12);
    tu_assert_values(s, (double[]){1, 2}, 2, 0, 0);
    dc_release(s);
    dc_release(at);
    dc_release(a);
}
END_TEST

START_TEST(ties_and_nan) {
    const int64_t sh[1] = {5};
    dc_tensor *x = tu_f64(1, sh, (double[]){1, 3, 3, -2, -2});
    ck_assert_double_eq(item_of(dc_argmax(x, 0, 0)), 1.0);
    ck_assert_double_eq(item_of(dc_argmin(x, -1, 0)), 3.0);
    /* the gradient of max/min is split among tied extremes */
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *m = dc_max(x, NULL, 0, 0);
    TU_OK(dc_backward(m, NULL, 0));
    dc_tensor *g = dc_grad(x);
    tu_assert_values(g, (double[]){0, 0.5, 0.5, 0, 0}, 5, 0, 0);
    dc_release(g);
    dc_release(m);
    TU_OK(dc_zero_grad(x));
    m = dc_min(x, NULL, 0, 0);
    ck_assert_double_eq(item_of(dc_retain(m)), -2.0);
    TU_OK(dc_backward(m, NULL, 0));
    g = dc_grad(x);
    tu_assert_values(g, (double[]){0, 0, 0, 0.5, 0.5}, 5, 0, 0);
    dc_release(g);
    dc_release(m);
    dc_release(x);
    /* NaN propagates through max/min and is the extreme of argmax/argmin */
    dc_tensor *n = tu_f32(1, sh, (double[]){1, NAN, 5, NAN, -1});
    ck_assert(isnan(item_of(dc_max(n, NULL, 0, 0))));
    ck_assert(isnan(item_of(dc_min(n, NULL, 0, 0))));
    ck_assert_double_eq(item_of(dc_argmax(n, 0, 0)), 1.0);
    ck_assert_double_eq(item_of(dc_argmin(n, 0, 0)), 1.0);
    ck_assert(isnan(item_of(dc_sum(n, NULL, 0, 0))));
    ck_assert(isnan(item_of(dc_logsumexp(n, NULL, 0, 0))));
    dc_release(n);
    /* infinities */
    dc_tensor *inf = tu_f64(1, sh, (double[]){-INFINITY, 1, INFINITY, 2, 3});
    ck_assert_double_eq(item_of(dc_max(inf, NULL, 0, 0)), INFINITY);
    ck_assert_double_eq(item_of(dc_min(inf, NULL, 0, 0)), -INFINITY);
    ck_assert(isnan(item_of(dc_sum(inf, NULL, 0, 0))));
    ck_assert_double_eq(item_of(dc_logsumexp(inf, NULL, 0, 0)), INFINITY);
    dc_release(inf);
}
END_TEST

START_TEST(empty_tensors) {
    const int64_t sh[2] = {0, 3};
    dc_tensor *e = dc_zeros(DC_F32, 2, sh);
    const int ax0 = 0, ax1 = 1;
    dc_tensor *s = dc_sum(e, &ax0, 1, 0);
    tu_assert_values(s, (double[]){0, 0, 0}, 3, 0, 0);
    dc_release(s);
    ck_assert_double_eq(item_of(dc_sum(e, NULL, 0, 0)), 0.0);
    ck_assert(isnan(item_of(dc_mean(e, NULL, 0, 0))));
    ck_assert(isnan(item_of(dc_var(e, NULL, 0, 0, 0))));
    ck_assert_double_eq(item_of(dc_logsumexp(e, NULL, 0, 0)), -INFINITY);
    s = dc_mean(e, &ax0, 1, 1);
    tu_assert_values(s, (double[]){NAN, NAN, NAN}, 3, 0, 0);
    dc_release(s);
    TU_NULL_WITH(dc_max(e, &ax0, 1, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_min(e, NULL, 0, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_argmax(e, 0, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_argmin(e, -2, 1), DC_E_SHAPE);
    /* reducing a non-empty axis of an empty tensor is fine */
    s = dc_max(e, &ax1, 1, 0);
    const int64_t sh0[1] = {0};
    tu_assert_shape(s, 1, sh0);
    dc_release(s);
    s = dc_argmax(e, 1, 1);
    const int64_t sh01[2] = {0, 1};
    tu_assert_shape(s, 2, sh01);
    dc_release(s);
    s = dc_softmax(e, 0);
    tu_assert_shape(s, 2, sh);
    dc_release(s);
    s = dc_log_softmax(e, 1);
    tu_assert_shape(s, 2, sh);
    dc_release(s);
    dc_release(e);
}
END_TEST

START_TEST(variance_corrections) {
    const int64_t sh[1] = {4};
    dc_tensor *x = tu_f64(1, sh, (double[]){1, 2, 3, 6});
    /* mean 3, squared deviations 4 1 0 9: M2 = 14 */
    ck_assert_double_eq_tol(item_of(dc_var(x, NULL, 0, 0, 0)), 14.0 / 4, 1e-15);
    ck_assert_double_eq_tol(item_of(dc_var(x, NULL, 0, 1, 0)), 14.0 / 3, 1e-15);
    ck_assert_double_eq_tol(item_of(dc_var(x, NULL, 0, 2, 0)), 14.0 / 2, 1e-15);
    ck_assert_double_eq_tol(item_of(dc_std(x, NULL, 0, 1, 0)), sqrt(14.0 / 3), 1e-15);
    /* N - correction <= 0: inf when M2 > 0, nan when M2 == 0 (torch) */
    ck_assert_double_eq(item_of(dc_var(x, NULL, 0, 4, 0)), INFINITY);
    ck_assert_double_eq(item_of(dc_var(x, NULL, 0, 9, 0)), INFINITY);
    dc_release(x);
    const int64_t one[1] = {1};
    dc_tensor *s = tu_f64(1, one, (double[]){5});
    ck_assert(isnan(item_of(dc_var(s, NULL, 0, 1, 0))));
    ck_assert_double_eq(item_of(dc_var(s, NULL, 0, 0, 0)), 0.0);
    dc_release(s);
    /* a large offset does not ruin the variance (two passes) */
    dc_tensor *big = tu_f32(1, sh, (double[]){1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 6});
    ck_assert_double_eq_tol(item_of(dc_var(big, NULL, 0, 1, 0)), 14.0 / 3, 1e-5);
    dc_release(big);
}
END_TEST

START_TEST(long_rows_stay_accurate) {
    /* 1e8 + 1 - 1e8 in f32: an f32 accumulator gives 0 */
    const int64_t sh3[1] = {3};
    dc_tensor *c = tu_f32(1, sh3, (double[]){1e8, 1, -1e8});
    ck_assert_double_eq(item_of(dc_sum(c, NULL, 0, 0)), 1.0);
    dc_release(c);
    /* a million copies of 0.1f, in a contiguous row and as a strided column */
    const int64_t n = 1000000;
    dc_tensor *x = dc_full(DC_F32, 1, &n, 0.1);
    double want = (double)n * (double)0.1f;
    double got = item_of(dc_sum(x, NULL, 0, 0));
    ck_assert_msg(fabs(got - want) <= 1e-6 * want, "got %.10g want %.10g", got, want);
    const int64_t sh2[2] = {n / 2, 2};
    dc_tensor *v = dc_view(x, 2, sh2);
    const int ax0 = 0;
    dc_tensor *s = dc_sum(v, &ax0, 1, 0);
    tu_assert_values(s, (double[]){want / 2, want / 2}, 2, 0, 1e-6);
    dc_release(s);
    got = item_of(dc_mean(v, NULL, 0, 0));
    ck_assert_msg(fabs(got - (double)0.1f) <= 1e-7, "mean %.10g", got);
    dc_release(v);
    dc_release(x);
}
END_TEST

START_TEST(logsumexp_extremes) {
    const int64_t sh[2] = {3, 2};
    dc_tensor *x = tu_f32(2, sh, (double[]){1e4, 1e4, -INFINITY, -INFINITY, -1e4, -INFINITY});
    const int ax = -1;
    dc_tensor *l = dc_logsumexp(x, &ax, 1, 0);
    tu_assert_values(l, (double[]){1e4 + log(2.0), -INFINITY, -1e4}, 3, 0, 1e-7);
    dc_release(l);
    /* its gradient is the softmax; an all -inf row gets none, not NaN */
    dc_tensor *d = dc_cast(x, DC_F64);
    TU_OK(dc_set_requires_grad(d, 1));
    l = dc_logsumexp(d, &ax, 1, 1);
    dc_tensor *go = dc_ones(DC_F64, 2, (int64_t[]){3, 1});
    TU_OK(dc_backward(l, go, 0));
    dc_tensor *g = dc_grad(d);
    tu_assert_values(g, (double[]){0.5, 0.5, 0, 0, 1, 0}, 6, 1e-12, 0);
    dc_release(g);
    dc_release(go);
    dc_release(l);
    dc_release(d);
    dc_release(x);
}
END_TEST

START_TEST(softmax_extremes) {
    const int64_t sh[2] = {4, 3};
    const double v[12] = {1e4, -1e4, 0,          /* finite, far apart */
                          -INFINITY, 2, -INFINITY, /* one finite entry */
                          -INFINITY, -INFINITY, -INFINITY,
                          -1e4, -1e4, -1e4};
    for (int d = 0; d < 2; d++) {
        dc_tensor *x = d ? tu_f64(2, sh, v) : tu_f32(2, sh, v);
        dc_tensor *y = dc_softmax(x, -1);
        const double third = 1.0 / 3;
        tu_assert_values(y, (double[]){1, 0, 0, 0, 1, 0, NAN, NAN, NAN, third, third, third},
                         12, 1e-7, 0);
        dc_release(y);
        y = dc_log_softmax(x, 1);
        tu_assert_values(y, (double[]){0, -2e4, -1e4, -INFINITY, 0, -INFINITY, NAN, NAN, NAN,
                                       -log(3.0), -log(3.0), -log(3.0)},
                         12, 1e-6, 0);
        dc_release(y);
        dc_release(x);
    }
}
END_TEST

START_TEST(softmax_scalar_and_noncontig_grad) {
    dc_tensor *s = dc_scalar(DC_F64, 3.0);
    ck_assert_double_eq(item_of(dc_softmax(s, 0)), 1.0);
    ck_assert_double_eq(item_of(dc_log_softmax(s, -1)), 0.0);
    dc_release(s);
    /* softmax backward against the closed form y_i (g_i - sum_j g_j y_j),
     * along axis 0 of a transposed input with a transposed grad_output */
    const int64_t sh[2] = {2, 3};
    dc_tensor *x0 = tu_f64(2, sh, (double[]){0.5, -1, 2, 1, 0, -0.5});
    dc_tensor *x = tu_noncontig(x0);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_softmax(x, 0);
    dc_tensor *g0 = tu_f64(2, sh, (double[]){1, 2, 3, -1, 0.5, 4});
    dc_tensor *g = tu_noncontig(g0);
    TU_OK(dc_backward(y, g, 0));
    dc_tensor *gx = dc_grad(x);
    double want[6];
    const double xv[6] = {0.5, -1, 2, 1, 0, -0.5}, gv[6] = {1, 2, 3, -1, 0.5, 4};
    for (int j = 0; j < 3; j++) {
        double e0 = exp(xv[j]), e1 = exp(xv[3 + j]);
        double y0 = e0 / (e0 + e1), y1 = e1 / (e0 + e1);
        double dot = gv[j] * y0 + gv[3 + j] * y1;
        want[j] = y0 * (gv[j] - dot);
        want[3 + j] = y1 * (gv[3 + j] - dot);
    }
    tu_assert_values(gx, want, 6, 1e-14, 1e-12);
    dc_release(gx);
    dc_release(g);
    dc_release(g0);
    dc_release(y);
    dc_release(x);
    dc_release(x0);
}
END_TEST

START_TEST(recording) {
    const int64_t sh[2] = {2, 2};
    dc_tensor *x = tu_f64(2, sh, (double[]){1, 2, 3, 4});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *s = dc_sum(x, NULL, 0, 0);
    ck_assert_int_eq(dc_requires_grad(s), 1);
    ck_assert_int_eq(dc_is_leaf(s), 0);
    dc_release(s);
    s = dc_argmax(x, 0, 0);
    ck_assert_int_eq(dc_requires_grad(s), 0);
    ck_assert_int_eq(dc_is_leaf(s), 1);
    dc_release(s);
    s = dc_std(x, NULL, 0, 1, 0);
    ck_assert_int_eq(dc_requires_grad(s), 1);
    dc_release(s);
    int prev = dc_set_grad_enabled(0);
    s = dc_softmax(x, 1);
    ck_assert_int_eq(dc_requires_grad(s), 0);
    dc_release(s);
    dc_set_grad_enabled(prev);
    /* mean backward divides by the count of reduced elements */
    const int ax = 1;
    s = dc_mean(x, &ax, 1, 0);
    dc_tensor *go = tu_f64(1, (int64_t[]){2}, (double[]){2, 4});
    TU_OK(dc_backward(s, go, 0));
    dc_tensor *g = dc_grad(x);
    tu_assert_values(g, (double[]){1, 1, 2, 2}, 4, 0, 0);
    dc_release(g);
    dc_release(go);
    dc_release(s);
    /* in a scope, dc_std leaves nothing behind but its result */
    dc_scope *sc = dc_scope_begin();
    TU_NOTNULL(dc_std(x, NULL, 0, 0, 1));
    TU_OK(dc_scope_end(sc));
    dc_release(x);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad input                                                         */
/* ---------------------------------------------------------------- */

typedef dc_tensor *(*axes_fn)(dc_tensor *, const int *, int, int);

static dc_tensor *var_c1(dc_tensor *t, const int *a, int n, int k) { return dc_var(t, a, n, 1, k); }
static dc_tensor *std_c1(dc_tensor *t, const int *a, int n, int k) { return dc_std(t, a, n, 1, k); }

static const axes_fn axes_fns[] = {dc_sum, dc_mean, dc_max, dc_min, var_c1, std_c1, dc_logsumexp};
static const bool axes_fn_float_only[] = {false, true, false, false, true, true, true};

START_TEST(bad_axes_input) {
    axes_fn f = axes_fns[_i];
    const int64_t sh[2] = {2, 3};
    dc_tensor *x = dc_ones(DC_F32, 2, sh);
    TU_NULL_WITH(f(NULL, NULL, 0, 0), DC_E_INVALID);
    /* a NULL input keeps the error of an earlier failure */
    dc_clear_error();
    const int bad = 5;
    ck_assert_ptr_null(f(f(x, &bad, 1, 0), NULL, 0, 0));
    ck_assert_int_eq(dc_last_status(), DC_E_RANGE);
    const int out_of_range[2] = {0, 2}, negative[1] = {-3}, dup[2] = {1, -1};
    TU_NULL_WITH(f(x, out_of_range, 2, 0), DC_E_RANGE);
    TU_NULL_WITH(f(x, negative, 1, 1), DC_E_RANGE);
    TU_NULL_WITH(f(x, dup, 2, 0), DC_E_INVALID);
    TU_NULL_WITH(f(x, NULL, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(f(x, dup, -1, 0), DC_E_INVALID);
    TU_NULL_WITH(f(x, dup, DC_MAX_DIMS + 1, 0), DC_E_INVALID);
    dc_tensor *i = dc_ones(DC_I32, 2, sh);
    if (axes_fn_float_only[_i]) {
        TU_NULL_WITH(f(i, NULL, 0, 0), DC_E_DTYPE);
    } else {
        dc_tensor *r = f(i, NULL, 0, 0);
        TU_NOTNULL(r);
        dc_release(r);
    }
    dc_release(i);
    dc_release(x);
}
END_TEST

START_TEST(bad_axis_input) {
    const int64_t sh[2] = {2, 3};
    dc_tensor *x = dc_ones(DC_F64, 2, sh);
    dc_tensor *i = dc_ones(DC_I64, 2, sh);
    TU_NULL_WITH(dc_argmax(NULL, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_argmin(NULL, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_softmax(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_log_softmax(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_argmax(x, 2, 0), DC_E_RANGE);
    TU_NULL_WITH(dc_argmin(x, -3, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_softmax(x, 2), DC_E_RANGE);
    TU_NULL_WITH(dc_log_softmax(x, -3), DC_E_RANGE);
    TU_NULL_WITH(dc_softmax(i, 0), DC_E_DTYPE);
    TU_NULL_WITH(dc_log_softmax(i, 1), DC_E_DTYPE);
    dc_release(i);
    dc_release(x);
}
END_TEST

int main(void) {
    Suite *s = suite_create("reduce");
    TCase *tc = tu_tcase("fixtures");
    tcase_add_loop_test(tc, fixture_values, 0, 4 * N_FX);
    suite_add_tcase(s, tc);
    tc = tu_tcase("values");
    tcase_add_test(tc, keepdim_and_all_axes);
    tcase_add_test(tc, integer_sums);
    tcase_add_test(tc, ties_and_nan);
    tcase_add_test(tc, empty_tensors);
    tcase_add_test(tc, variance_corrections);
    tcase_add_test(tc, long_rows_stay_accurate);
    tcase_add_test(tc, logsumexp_extremes);
    tcase_add_test(tc, softmax_extremes);
    tcase_add_test(tc, softmax_scalar_and_noncontig_grad);
    tcase_add_test(tc, recording);
    suite_add_tcase(s, tc);
    tc = tu_tcase("errors");
    tcase_add_loop_test(tc, bad_axes_input, 0, (int)(sizeof axes_fns / sizeof *axes_fns));
    tcase_add_test(tc, bad_axis_input);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
