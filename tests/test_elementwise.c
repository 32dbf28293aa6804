/* Elementwise ops (lib/ops/binary.c, compare.c, unary.c): values against
 * PyTorch (tests/fixtures/gen_elementwise.py) or worked out by hand,
 * broadcasting, strided inputs, scalars, empty tensors, integer paths,
 * NaN and infinity, gradients at kinks, and bad input. */
#include "testutil.h"

#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

static const int64_t S13[1] = {13};

/* x = -3 + 0.5 i (i < 13), or xp = 0.25 + 0.25 i (as the fixture script). */
static dc_tensor *x13(dc_dtype dtype, int positive) {
    double v[13];
    for (int i = 0; i < 13; i++) v[i] = positive ? 0.25 + 0.25 * i : -3.0 + 0.5 * i;
    return dtype == DC_F32 ? tu_f32(1, S13, v) : tu_f64(1, S13, v);
}

static dc_tensor *i32v(int ndim, const int64_t *shape, const int32_t *v) {
    return dc_from_data(DC_I32, ndim, shape, v);
}

static dc_tensor *boolv(int ndim, const int64_t *shape, const uint8_t *v) {
    return dc_from_data(DC_BOOL, ndim, shape, v);
}

static void assert_dtype(const dc_tensor *t, dc_dtype d) {
    ck_assert_msg(t != NULL, "NULL: %s", dc_last_error());
    ck_assert_int_eq(dc_tensor_dtype(t), d);
}

/* i64 elements compared exactly (doubles would round past 2^53). */
static void assert_i64(dc_tensor *t, const int64_t *want, int64_t n) {
    assert_dtype(t, DC_I64);
    ck_assert_int_eq(dc_numel(t), n);
    int64_t got[16];
    TU_OK(dc_copy_to(t, DC_I64, got, sizeof got));
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "element %lld: %lld, wanted %lld", (long long)i,
                      (long long)got[i], (long long)want[i]);
}

/* Gradient of t after backward from y with grad_output ones (no sum). */
static dc_tensor *grad_with_ones(dc_tensor *y, dc_tensor *t) {
    dc_tensor *ones = dc_ones_like(y);
    TU_OK(dc_backward(y, ones, 0));
    return dc_grad(t);
}

/* A copy of t whose last axis has stride 2 (every other element of a
 * buffer twice as long), so it is strided even when other axes have size
 * 1; a 0-d t gives a 0-d view at a non-zero offset. Meant to run inside
 * a scope, which owns the buffer (tu_noncontig releases its buffer, which
 * a scope owns too, so it is not used here). */
static dc_tensor *strided(dc_tensor *t) {
    int nd = dc_ndim(t);
    int64_t shape[DC_MAX_DIMS] = {1};
    if (nd > 0) memcpy(shape, dc_shape(t), (size_t)nd * sizeof *shape);
    int last = nd > 0 ? nd - 1 : 0;
    shape[last] *= 2;
    dc_tensor *base = dc_full(dc_tensor_dtype(t), nd > 0 ? nd : 1, shape, 99);
    dc_tensor *v = dc_slice(base, last, nd > 0 ? 0 : 1, shape[last], 2);
    if (nd == 0) v = dc_view(v, 0, NULL);
    TU_NOTNULL(v);
    if (nd > 0 && dc_numel(t) > 1) ck_assert_int_eq(dc_is_contiguous(v), 0);
    int64_t n = dc_numel(t);
    double *vals = malloc((size_t)(n ? n : 1) * sizeof *vals);
    TU_OK(dc_copy_to(t, DC_F64, vals, (size_t)n * sizeof *vals));
    TU_OK(dc_copy_from(v, DC_F64, vals, (size_t)n * sizeof *vals));
    free(vals);
    return v;
}

static int64_t fp_overflow_raised(void) { return fetestexcept(FE_OVERFLOW) != 0; }

/* ---------------------------------------------------------------- */
/* Binary ops against PyTorch: (2,1,3) with (4,1) -> (2,4,3)          */
/* ---------------------------------------------------------------- */

typedef dc_tensor *(*binary_fn)(dc_tensor *, dc_tensor *);
static const binary_fn binary_ops[7] = {dc_add, dc_sub, dc_mul, dc_div,
                                        dc_pow, dc_maximum, dc_minimum};
#define BIN_FIXTURE_DOUBLES (7 * 24 + 7 * 6 + 7 * 4)

static const int64_t SA[3] = {2, 1, 3}, SB[2] = {4, 1}, SOUT[3] = {2, 4, 3};

static dc_tensor *fixture_a(dc_dtype dt) {
    double v[6];
    for (int i = 0; i < 6; i++) v[i] = 0.25 + 0.5 * i;
    return dt == DC_F32 ? tu_f32(3, SA, v) : tu_f64(3, SA, v);
}

static dc_tensor *fixture_b(dc_dtype dt) {
    double v[4];
    for (int i = 0; i < 4; i++) v[i] = -1.0 + 0.75 * i;
    return dt == DC_F32 ? tu_f32(2, SB, v) : tu_f64(2, SB, v);
}

START_TEST(binary_broadcast_values) {
    dc_scope *s = dc_scope_begin();
    double *want = tu_read_fixture("elementwise_binary.f64", BIN_FIXTURE_DOUBLES * sizeof(double));
    dc_tensor *a = fixture_a(DC_F64), *b = fixture_b(DC_F64);
    dc_tensor *a_nc = strided(a), *b_nc = strided(b);
    dc_tensor *a32 = fixture_a(DC_F32), *b32 = fixture_b(DC_F32);
    for (int k = 0; k < 7; k++) {
        dc_tensor *y = binary_ops[k](a, b);
        tu_assert_shape(y, 3, SOUT);
        tu_assert_values(y, want + 24 * k, 24, 1e-14, 1e-14);
        /* strided inputs give the same values */
        tu_assert_values(binary_ops[k](a_nc, b_nc), want + 24 * k, 24, 1e-14, 1e-14);
        /* f32 (through the dtype's own kernel) */
        dc_tensor *y32 = binary_ops[k](a32, b32);
        assert_dtype(y32, DC_F32);
        tu_assert_values(y32, want + 24 * k, 24, 1e-6, 1e-6);
        /* swapped operand order broadcasts too: (4,1) with (2,1,3) */
        tu_assert_shape(binary_ops[k](b, a), 3, SOUT);
    }
    free(want);
    dc_scope_end(s);
}
END_TEST

/* Gradients through broadcasting (needs dc_sum for the reductions). */
START_TEST(binary_broadcast_grads) {
    dc_scope *s = dc_scope_begin();
    double *want = tu_read_fixture("elementwise_binary.f64", BIN_FIXTURE_DOUBLES * sizeof(double));
    double w[24];
    for (int i = 0; i < 24; i++) w[i] = 1.0 + 0.1 * i;
    dc_tensor *wt = tu_f64(3, SOUT, w);
    for (int k = 0; k < 7; k++) {
        dc_tensor *a = fixture_a(DC_F64), *b = fixture_b(DC_F64);
        TU_OK(dc_set_requires_grad(a, 1));
        TU_OK(dc_set_requires_grad(b, 1));
        dc_tensor *y = binary_ops[k](a, b);
        TU_NOTNULL(y);
        ck_assert_int_eq(dc_is_leaf(y), 0);
        TU_OK(dc_backward(y, wt, 0));
        dc_tensor *ga = dc_grad(a), *gb = dc_grad(b);
        tu_assert_shape(ga, 3, SA);
        tu_assert_shape(gb, 2, SB);
        tu_assert_values(ga, want + 7 * 24 + 6 * k, 6, 1e-12, 1e-12);
        tu_assert_values(gb, want + 7 * 24 + 7 * 6 + 4 * k, 4, 1e-12, 1e-12);
    }
    free(want);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Binary ops by hand                                                */
/* ---------------------------------------------------------------- */

START_TEST(binary_same_shape_f32) {
    dc_scope *s = dc_scope_begin();
    int64_t sh[2] = {2, 2};
    dc_tensor *a = tu_f32(2, sh, (double[]){1, 2, 3, 4});
    dc_tensor *b = tu_f32(2, sh, (double[]){0.5, -2, 8, 0.25});
    tu_assert_values(dc_add(a, b), (double[]){1.5, 0, 11, 4.25}, 4, 0, 0);
    tu_assert_values(dc_sub(a, b), (double[]){0.5, 4, -5, 3.75}, 4, 0, 0);
    tu_assert_values(dc_mul(a, b), (double[]){0.5, -4, 24, 1}, 4, 0, 0);
    tu_assert_values(dc_div(a, b), (double[]){2, -1, 0.375, 16}, 4, 0, 0);
    tu_assert_values(dc_pow(a, b), (double[]){1, 0.25, 6561, 1.4142135623730951}, 4, 0, 1e-7);
    tu_assert_values(dc_maximum(a, b), (double[]){1, 2, 8, 4}, 4, 0, 0);
    tu_assert_values(dc_minimum(a, b), (double[]){0.5, -2, 3, 0.25}, 4, 0, 0);
    assert_dtype(dc_add(a, b), DC_F32);
    /* transposed (strided) left operand */
    dc_tensor *at = dc_transpose(a, 0, 1);
    tu_assert_values(dc_sub(at, b), (double[]){0.5, 5, -6, 3.75}, 4, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* Contiguous operands of one shape over 64k elements run on the pool in
 * parts (binary.c): every element against the scalar result, f32 and i64
 * (8-byte elements), on one thread and two, with a ragged last part. */
START_TEST(binary_split_over_threads) {
    dc_scope *s = dc_scope_begin();
    int64_t n = 100003;
    float *af = malloc((size_t)n * sizeof(float)), *bf = malloc((size_t)n * sizeof(float));
    int64_t *ai = malloc((size_t)n * sizeof(int64_t)), *bi = malloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        af[i] = (float)(i % 1000) * 0.25f;
        bf[i] = (float)(i % 17) - 8.0f;
        ai[i] = i * 3;
        bi[i] = -i;
    }
    dc_tensor *a = dc_from_data(DC_F32, 1, &n, af), *b = dc_from_data(DC_F32, 1, &n, bf);
    dc_tensor *ia = dc_from_data(DC_I64, 1, &n, ai), *ib = dc_from_data(DC_I64, 1, &n, bi);
    float *got = malloc((size_t)n * sizeof(float));
    int64_t *goti = malloc((size_t)n * sizeof(int64_t));
    for (int th = 1; th <= 2; th++) {
        TU_OK(dc_set_num_threads(th));
        TU_OK(dc_copy_to(dc_mul(a, b), DC_F32, got, (size_t)n * sizeof(float)));
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(got[i] == af[i] * bf[i], "threads %d: element %lld", th, (long long)i);
        TU_OK(dc_copy_to(dc_sub(ia, ib), DC_I64, goti, (size_t)n * sizeof(int64_t)));
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(goti[i] == 4 * i, "threads %d: i64 element %lld", th, (long long)i);
    }
    TU_OK(dc_set_num_threads(0));
    free(af);
    free(bf);
    free(ai);
    free(bi);
    free(got);
    free(goti);
    dc_scope_end(s);
}
END_TEST

START_TEST(binary_scalars_and_empty) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *s3 = dc_scalar(DC_F64, 3.0), *s4 = dc_scalar(DC_F64, 4.0);
    dc_tensor *y = dc_mul(s3, s4);
    tu_assert_shape(y, 0, NULL);
    tu_assert_values(y, (double[]){12}, 1, 0, 0);
    int64_t n3 = 3;
    dc_tensor *v = tu_f64(1, &n3, (double[]){1, 2, 3});
    tu_assert_values(dc_sub(s3, v), (double[]){2, 1, 0}, 3, 0, 0);
    tu_assert_shape(dc_sub(v, s3), 1, &n3);
    /* a non-contiguous 0-d tensor */
    tu_assert_values(dc_add(strided(s3), v), (double[]){4, 5, 6}, 3, 0, 0);
    /* empty: (0, 3) with (3,) -> (0, 3); (0,) with (1,) -> (0,) */
    int64_t e03[2] = {0, 3}, z = 0, one = 1;
    dc_tensor *e = dc_zeros(DC_F64, 2, e03);
    tu_assert_shape(dc_add(e, v), 2, e03);
    tu_assert_shape(dc_maximum(v, e), 2, e03);
    dc_tensor *e0 = dc_zeros(DC_F64, 1, &z), *o1 = dc_ones(DC_F64, 1, &one);
    tu_assert_shape(dc_div(e0, o1), 1, &z);
    tu_assert_shape(dc_pow(o1, e0), 1, &z);
    /* integer division by a zero that no output element uses is fine */
    dc_tensor *ie = dc_zeros(DC_I64, 1, &z), *izero = dc_zeros(DC_I64, 1, &one);
    tu_assert_shape(dc_div(ie, izero), 1, &z);
    dc_scope_end(s);
}
END_TEST

START_TEST(binary_integer_paths) {
    dc_scope *s = dc_scope_begin();
    int64_t n4 = 4;
    int64_t big = (int64_t)1 << 62;
    dc_tensor *a = tu_i64(1, &n4, (int64_t[]){7, -7, big + 1, INT64_MAX});
    dc_tensor *b = tu_i64(1, &n4, (int64_t[]){-2, 2, 1, 1});
    assert_i64(dc_add(a, b), (int64_t[]){5, -5, big + 2, INT64_MIN}, 4);   /* wraps */
    assert_i64(dc_sub(a, b), (int64_t[]){9, -9, big, INT64_MAX - 1}, 4);
    assert_i64(dc_mul(a, b), (int64_t[]){-14, -14, big + 1, INT64_MAX}, 4);
    assert_i64(dc_div(a, b), (int64_t[]){-3, -3, big + 1, INT64_MAX}, 4);  /* toward zero */
    assert_i64(dc_maximum(a, b), (int64_t[]){7, 2, big + 1, INT64_MAX}, 4);
    assert_i64(dc_minimum(a, b), (int64_t[]){-2, -7, 1, 1}, 4);

    int64_t n3 = 3;
    dc_tensor *c = i32v(1, &n3, (int32_t[]){INT32_MIN, -9, 9});
    dc_tensor *d = i32v(1, &n3, (int32_t[]){-1, 4, -4});
    dc_tensor *q = dc_div(c, d);
    assert_dtype(q, DC_I32);
    tu_assert_values(q, (double[]){INT32_MIN, -2, -2}, 3, 0, 0);   /* MIN / -1 wraps */
    tu_assert_values(dc_add(c, d), (double[]){INT32_MAX, -5, 5}, 3, 0, 0);

    uint8_t u1[3] = {250, 3, 200}, u2[3] = {10, 5, 2};
    dc_tensor *x = dc_from_data(DC_U8, 1, &n3, u1), *y = dc_from_data(DC_U8, 1, &n3, u2);
    assert_dtype(dc_add(x, y), DC_U8);
    tu_assert_values(dc_add(x, y), (double[]){4, 8, 202}, 3, 0, 0);
    tu_assert_values(dc_sub(x, y), (double[]){240, 254, 198}, 3, 0, 0);
    tu_assert_values(dc_mul(x, y), (double[]){196, 15, 144}, 3, 0, 0);
    tu_assert_values(dc_div(x, y), (double[]){25, 0, 100}, 3, 0, 0);
    tu_assert_values(dc_maximum(x, y), (double[]){250, 5, 200}, 3, 0, 0);

    /* integer division by zero fails; float division gives inf / nan */
    dc_tensor *zi = tu_i64(1, &n4, (int64_t[]){1, 0, 1, 1});
    TU_NULL_WITH(dc_div(a, zi), DC_E_RANGE);
    dc_tensor *zu = dc_zeros(DC_U8, 1, &n3);
    TU_NULL_WITH(dc_div(x, zu), DC_E_RANGE);
    dc_tensor *ff = tu_f64(1, &n3, (double[]){1, -1, 0});
    dc_tensor *fz = dc_zeros(DC_F64, 1, &n3);
    tu_assert_values(dc_div(ff, fz), (double[]){INFINITY, -INFINITY, NAN}, 3, 0, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(maximum_nan_inf) {
    dc_scope *s = dc_scope_begin();
    int64_t n5 = 5;
    dc_tensor *a = tu_f64(1, &n5, (double[]){NAN, 1, -INFINITY, INFINITY, NAN});
    dc_tensor *b = tu_f64(1, &n5, (double[]){0, NAN, 2, 3, NAN});
    tu_assert_values(dc_maximum(a, b), (double[]){NAN, NAN, 2, INFINITY, NAN}, 5, 0, 0);
    tu_assert_values(dc_minimum(a, b), (double[]){NAN, NAN, -INFINITY, 3, NAN}, 5, 0, 0);
    dc_tensor *a32 = tu_f32(1, &n5, (double[]){NAN, 1, -INFINITY, INFINITY, NAN});
    dc_tensor *b32 = tu_f32(1, &n5, (double[]){0, NAN, 2, 3, NAN});
    tu_assert_values(dc_maximum(a32, b32), (double[]){NAN, NAN, 2, INFINITY, NAN}, 5, 0, 0);
    tu_assert_values(dc_minimum(b32, a32), (double[]){NAN, NAN, -INFINITY, 3, NAN}, 5, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* maximum/minimum backward: the winner takes g, ties split it (torch 1.13). */
START_TEST(maximum_minimum_tie_grads) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    for (int k = 0; k < 2; k++) {
        dc_tensor *a = tu_f64(1, &n3, (double[]){1, 5, 2});
        dc_tensor *b = tu_f64(1, &n3, (double[]){3, 5, 0});
        TU_OK(dc_set_requires_grad(a, 1));
        TU_OK(dc_set_requires_grad(b, 1));
        dc_tensor *y = k == 0 ? dc_maximum(a, b) : dc_minimum(a, b);
        dc_tensor *g = tu_f64(1, &n3, (double[]){10, 20, 30});
        TU_OK(dc_backward(y, g, 0));
        if (k == 0) {
            tu_assert_values(dc_grad(a), (double[]){0, 10, 30}, 3, 0, 0);
            tu_assert_values(dc_grad(b), (double[]){10, 10, 0}, 3, 0, 0);
        } else {
            tu_assert_values(dc_grad(a), (double[]){10, 10, 0}, 3, 0, 0);
            tu_assert_values(dc_grad(b), (double[]){0, 10, 30}, 3, 0, 0);
        }
    }
    dc_scope_end(s);
}
END_TEST

/* add/sub/mul keep no extra tensor; only one side needing grad works. */
START_TEST(binary_backward_saves_nothing) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2;
    dc_tensor *a = tu_f64(1, &n2, (double[]){2, 3});
    dc_tensor *b = tu_f64(1, &n2, (double[]){5, 7});
    TU_OK(dc_set_requires_grad(a, 1));
    binary_fn fns[3] = {dc_add, dc_sub, dc_mul};
    double want_a[3][2] = {{1, 1}, {1, 1}, {5, 7}};
    for (int k = 0; k < 3; k++) {
        dc_tensor *y = fns[k](a, b);
        TU_NOTNULL(y);
        ck_assert_ptr_nonnull(y->grad_fn);
        ck_assert_ptr_null(y->grad_fn->saved);
        TU_OK(dc_zero_grad(a));
        tu_assert_values(grad_with_ones(y, a), want_a[k], 2, 0, 0);
        TU_NULL_WITH(dc_grad(b), DC_E_STATE);
    }
    /* sub gives -g to b */
    TU_OK(dc_set_requires_grad(b, 1));
    tu_assert_values(grad_with_ones(dc_sub(a, b), b), (double[]){-1, -1}, 2, 0, 0);
    /* nothing is recorded with grad mode off */
    int prev = dc_set_grad_enabled(0);
    ck_assert_int_eq(dc_is_leaf(dc_mul(a, b)), 1);
    dc_set_grad_enabled(prev);
    dc_scope_end(s);
}
END_TEST

/* pow's gradient special cases, as PyTorch: 0 for b == 0 (to a), and 0
 * for a == 0, b >= 0 (to b). */
START_TEST(pow_grad_special_cases) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    dc_tensor *a = tu_f64(1, &n3, (double[]){0, 0, 2});
    dc_tensor *b = tu_f64(1, &n3, (double[]){0, 2, 3});
    TU_OK(dc_set_requires_grad(a, 1));
    TU_OK(dc_set_requires_grad(b, 1));
    dc_tensor *y = dc_pow(a, b);
    tu_assert_values(y, (double[]){1, 0, 8}, 3, 0, 0);
    TU_OK(dc_backward(y, dc_ones_like(y), 0));
    tu_assert_values(dc_grad(a), (double[]){0, 0, 12}, 3, 0, 0);
    tu_assert_values(dc_grad(b), (double[]){0, 0, 8 * 0.6931471805599453}, 3, 0, 1e-15);
    dc_scope_end(s);
}
END_TEST

START_TEST(where_values) {
    dc_scope *s = dc_scope_begin();
    int64_t s21[2] = {2, 1}, s13[2] = {1, 3}, s23[2] = {2, 3};
    dc_tensor *cond = boolv(2, s21, (uint8_t[]){1, 0});
    dc_tensor *a = tu_f64(2, s13, (double[]){1, 2, 3});
    dc_tensor *b = dc_scalar(DC_F64, -1);
    dc_tensor *y = dc_where(cond, a, b);
    tu_assert_shape(y, 2, s23);
    tu_assert_values(y, (double[]){1, 2, 3, -1, -1, -1}, 6, 0, 0);
    /* cond from a comparison, strided operands, f32 */
    dc_tensor *x = tu_f32(2, s23, (double[]){-1, 2, -3, 4, -5, 6});
    dc_tensor *xt = strided(x);
    dc_tensor *zero = dc_scalar(DC_F32, 0);
    tu_assert_values(dc_where(dc_gt(xt, zero), xt, zero), (double[]){0, 2, 0, 4, 0, 6}, 6, 0, 0);
    /* integers, 0-d cond */
    int64_t n2 = 2;
    dc_tensor *i1 = tu_i64(1, &n2, (int64_t[]){(int64_t)1 << 60, 2});
    dc_tensor *i2 = tu_i64(1, &n2, (int64_t[]){3, 4});
    dc_tensor *t0 = boolv(0, NULL, (uint8_t[]){1});
    assert_i64(dc_where(t0, i1, i2), (int64_t[]){(int64_t)1 << 60, 2}, 2);
    dc_tensor *u1 = dc_from_data(DC_U8, 1, &n2, (uint8_t[]){1, 2});
    dc_tensor *u2 = dc_from_data(DC_U8, 1, &n2, (uint8_t[]){3, 4});
    dc_tensor *cm = boolv(1, &n2, (uint8_t[]){0, 1});
    tu_assert_values(dc_where(cm, u1, u2), (double[]){3, 2}, 2, 0, 0);
    dc_tensor *j1 = i32v(1, &n2, (int32_t[]){5, 6}), *j2 = i32v(1, &n2, (int32_t[]){7, 8});
    tu_assert_values(dc_where(cm, j1, j2), (double[]){7, 6}, 2, 0, 0);
    /* empty */
    int64_t z = 0;
    tu_assert_shape(dc_where(dc_zeros(DC_BOOL, 1, &z), dc_scalar(DC_I64, 1),
                             dc_scalar(DC_I64, 2)), 1, &z);
    dc_scope_end(s);
}
END_TEST

START_TEST(where_grads) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    dc_tensor *cond = boolv(1, &n3, (uint8_t[]){1, 0, 1});
    dc_tensor *a = tu_f64(1, &n3, (double[]){1, 2, 3});
    dc_tensor *b = tu_f64(1, &n3, (double[]){4, 5, 6});
    TU_OK(dc_set_requires_grad(a, 1));
    TU_OK(dc_set_requires_grad(b, 1));
    dc_tensor *y = dc_where(cond, a, b);
    TU_OK(dc_backward(y, tu_f64(1, &n3, (double[]){7, 8, 9}), 0));
    tu_assert_values(dc_grad(a), (double[]){7, 0, 9}, 3, 0, 0);
    tu_assert_values(dc_grad(b), (double[]){0, 8, 0}, 3, 0, 0);
    TU_NULL_WITH(dc_grad(cond), DC_E_STATE);
    dc_scope_end(s);
}
END_TEST

START_TEST(scalar_ops) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    dc_tensor *x = tu_f32(1, &n3, (double[]){1, -2, 4});
    tu_assert_values(dc_add_scalar(x, 0.5), (double[]){1.5, -1.5, 4.5}, 3, 0, 0);
    tu_assert_values(dc_mul_scalar(x, -3), (double[]){-3, 6, -12}, 3, 0, 0);
    tu_assert_values(dc_pow_scalar(x, 2), (double[]){1, 4, 16}, 3, 0, 0);
    tu_assert_values(dc_pow_scalar(x, 0.5), (double[]){1, NAN, 2}, 3, 0, 0);
    tu_assert_values(dc_pow_scalar(x, 0), (double[]){1, 1, 1}, 3, 0, 0);
    assert_dtype(dc_mul_scalar(x, 2), DC_F32);
    /* the scalar is converted to the tensor's dtype (truncation for ints) */
    dc_tensor *i = tu_i64(1, &n3, (int64_t[]){1, -2, ((int64_t)1 << 60) + 1});
    assert_i64(dc_add_scalar(i, 2.9), (int64_t[]){3, 0, ((int64_t)1 << 60) + 3}, 3);
    assert_i64(dc_mul_scalar(i, -2.5), (int64_t[]){-2, 4, -((int64_t)1 << 61) - 2}, 3);
    dc_tensor *u = dc_from_data(DC_U8, 1, &n3, (uint8_t[]){1, 2, 255});
    tu_assert_values(dc_add_scalar(u, 1), (double[]){2, 3, 0}, 3, 0, 0);
    /* 0-d, strided and empty */
    tu_assert_values(dc_mul_scalar(dc_scalar(DC_F64, 3), 2), (double[]){6}, 1, 0, 0);
    tu_assert_values(dc_add_scalar(strided(x), 1), (double[]){2, -1, 5}, 3, 0, 0);
    int64_t z = 0;
    tu_assert_shape(dc_pow_scalar(dc_zeros(DC_F64, 1, &z), 3), 1, &z);
    dc_scope_end(s);
}
END_TEST

START_TEST(scalar_op_grads) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    dc_tensor *x = tu_f64(1, &n3, (double[]){0, 2, 3});
    TU_OK(dc_set_requires_grad(x, 1));
    tu_assert_values(grad_with_ones(dc_add_scalar(x, 5), x), (double[]){1, 1, 1}, 3, 0, 0);
    TU_OK(dc_zero_grad(x));
    tu_assert_values(grad_with_ones(dc_mul_scalar(x, -4), x), (double[]){-4, -4, -4}, 3, 0, 0);
    TU_OK(dc_zero_grad(x));
    tu_assert_values(grad_with_ones(dc_pow_scalar(x, 3), x), (double[]){0, 12, 27}, 3, 0, 0);
    TU_OK(dc_zero_grad(x));
    /* exponent 0: gradient 0 everywhere, also at x == 0 */
    tu_assert_values(grad_with_ones(dc_pow_scalar(x, 0), x), (double[]){0, 0, 0}, 3, 0, 0);
    /* f32: the scalar used is the f32-rounded value */
    dc_tensor *x32 = tu_f32(1, &n3, (double[]){1, 2, 3});
    TU_OK(dc_set_requires_grad(x32, 1));
    tu_assert_values(grad_with_ones(dc_mul_scalar(x32, 0.1), x32),
                     (double[]){(float)0.1, (float)0.1, (float)0.1}, 3, 0, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(binary_bad_input) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2, n3 = 3;
    dc_tensor *f2 = dc_ones(DC_F64, 1, &n2), *f3 = dc_ones(DC_F64, 1, &n3);
    dc_tensor *g2 = dc_ones(DC_F32, 1, &n2), *i2 = dc_ones(DC_I64, 1, &n2);
    dc_tensor *bl = dc_ones(DC_BOOL, 1, &n2);
    binary_fn all[7] = {dc_add, dc_sub, dc_mul, dc_div, dc_pow, dc_maximum, dc_minimum};
    for (int k = 0; k < 7; k++) {
        TU_NULL_WITH(all[k](NULL, f2), DC_E_INVALID);
        TU_NULL_WITH(all[k](f2, NULL), DC_E_INVALID);
        TU_NULL_WITH(all[k](f2, g2), DC_E_DTYPE);
        TU_NULL_WITH(all[k](i2, f2), DC_E_DTYPE);
        TU_NULL_WITH(all[k](f2, f3), DC_E_SHAPE);
        ck_assert_msg(strstr(dc_last_error(), "dc_") != NULL, "message names no function: %s",
                      dc_last_error());
        TU_NULL_WITH(all[k](bl, bl), DC_E_DTYPE);
    }
    TU_NULL_WITH(dc_pow(i2, i2), DC_E_DTYPE);
    /* broadcast results too large to count: (2^31, 1) with (1, 2^31) */
    int64_t tall[2] = {(int64_t)1 << 31, 1}, wide[2] = {1, (int64_t)1 << 31};
    dc_tensor *one = dc_scalar(DC_F64, 1);
    dc_tensor *ht = dc_expand(one, 2, tall), *hw = dc_expand(one, 2, wide);
    TU_NOTNULL(ht);
    TU_NOTNULL(hw);
    for (int k = 0; k < 7; k++) {
        TU_NULL_WITH(all[k](ht, hw), DC_E_OVERFLOW);
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_"));
    }
    TU_NULL_WITH(dc_where(dc_expand(dc_ones(DC_BOOL, 0, NULL), 2, tall), ht, hw), DC_E_OVERFLOW);
    /* a NULL input keeps the earlier failure of a chain */
    dc_clear_error();
    ck_assert_ptr_null(dc_add(dc_mul(f2, f3), f2));
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_mul"));

    TU_NULL_WITH(dc_where(NULL, f2, f2), DC_E_INVALID);
    TU_NULL_WITH(dc_where(bl, NULL, f2), DC_E_INVALID);
    TU_NULL_WITH(dc_where(bl, f2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_where(i2, f2, f2), DC_E_DTYPE);
    TU_NULL_WITH(dc_where(bl, f2, g2), DC_E_DTYPE);
    TU_NULL_WITH(dc_where(bl, bl, bl), DC_E_DTYPE);
    TU_NULL_WITH(dc_where(bl, f3, f3), DC_E_SHAPE);
    TU_NULL_WITH(dc_where(dc_ones(DC_BOOL, 1, &n3), f2, f2), DC_E_SHAPE);

    TU_NULL_WITH(dc_add_scalar(NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_mul_scalar(NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_pow_scalar(NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_add_scalar(bl, 1), DC_E_DTYPE);
    TU_NULL_WITH(dc_mul_scalar(bl, 1), DC_E_DTYPE);
    TU_NULL_WITH(dc_pow_scalar(i2, 2), DC_E_DTYPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Comparisons                                                       */
/* ---------------------------------------------------------------- */

typedef dc_tensor *(*cmp_fn)(dc_tensor *, dc_tensor *);
static const cmp_fn cmp_ops[6] = {dc_eq, dc_ne, dc_lt, dc_le, dc_gt, dc_ge};

START_TEST(compare_values) {
    dc_scope *s = dc_scope_begin();
    /* (3,1) against (2,): (3,2); NaN compares unequal to everything */
    int64_t s31[2] = {3, 1}, n2 = 2, s32[2] = {3, 2};
    dc_tensor *a = tu_f64(2, s31, (double[]){1, 2, NAN});
    dc_tensor *b = tu_f64(1, &n2, (double[]){2, 1});
    const double want[6][6] = {
        {0, 1, 1, 0, 0, 0}, /* eq */
        {1, 0, 0, 1, 1, 1}, /* ne */
        {1, 0, 0, 0, 0, 0}, /* lt */
        {1, 1, 1, 0, 0, 0}, /* le */
        {0, 0, 0, 1, 0, 0}, /* gt */
        {0, 1, 1, 1, 0, 0}, /* ge */
    };
    dc_tensor *a32 = strided(tu_f32(2, s31, (double[]){1, 2, NAN}));
    dc_tensor *b32 = tu_f32(1, &n2, (double[]){2, 1});
    for (int k = 0; k < 6; k++) {
        dc_tensor *y = cmp_ops[k](a, b);
        assert_dtype(y, DC_BOOL);
        tu_assert_shape(y, 2, s32);
        tu_assert_values(y, want[k], 6, 0, 0);
        tu_assert_values(cmp_ops[k](a32, b32), want[k], 6, 0, 0);
    }
    dc_scope_end(s);
}
END_TEST

START_TEST(compare_integers_and_bool) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    int64_t p53 = (int64_t)1 << 53;   /* p53 and p53 + 1 are one double */
    dc_tensor *a = tu_i64(1, &n3, (int64_t[]){p53, p53 + 1, -5});
    dc_tensor *b = tu_i64(1, &n3, (int64_t[]){p53 + 1, p53 + 1, 7});
    tu_assert_values(dc_eq(a, b), (double[]){0, 1, 0}, 3, 0, 0);
    tu_assert_values(dc_lt(a, b), (double[]){1, 0, 1}, 3, 0, 0);
    dc_tensor *c = i32v(1, &n3, (int32_t[]){-1, 0, 1});
    dc_tensor *z = dc_scalar(DC_I32, 0);
    tu_assert_values(dc_ge(c, z), (double[]){0, 1, 1}, 3, 0, 0);
    dc_tensor *u = dc_from_data(DC_U8, 1, &n3, (uint8_t[]){0, 128, 255});
    tu_assert_values(dc_gt(u, dc_scalar(DC_U8, 127)), (double[]){0, 1, 1}, 3, 0, 0);
    dc_tensor *p = boolv(1, &n3, (uint8_t[]){1, 0, 1}), *q = boolv(1, &n3, (uint8_t[]){1, 1, 0});
    tu_assert_values(dc_ne(p, q), (double[]){0, 1, 1}, 3, 0, 0);
    tu_assert_values(dc_le(p, q), (double[]){1, 1, 0}, 3, 0, 0);
    /* 0-d and empty */
    tu_assert_shape(dc_eq(z, z), 0, NULL);
    int64_t e = 0;
    tu_assert_shape(dc_lt(dc_zeros(DC_F64, 1, &e), dc_scalar(DC_F64, 1)), 1, &e);
    dc_scope_end(s);
}
END_TEST

START_TEST(compare_not_recorded) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2;
    dc_tensor *a = tu_f64(1, &n2, (double[]){1, 2});
    TU_OK(dc_set_requires_grad(a, 1));
    for (int k = 0; k < 6; k++) {
        dc_tensor *y = cmp_ops[k](a, a);
        TU_NOTNULL(y);
        ck_assert_int_eq(dc_requires_grad(y), 0);
        ck_assert_int_eq(dc_is_leaf(y), 1);
    }
    dc_scope_end(s);
}
END_TEST

START_TEST(compare_bad_input) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2, n3 = 3;
    dc_tensor *f2 = dc_ones(DC_F64, 1, &n2), *f3 = dc_ones(DC_F64, 1, &n3);
    dc_tensor *i2 = dc_ones(DC_I32, 1, &n2);
    for (int k = 0; k < 6; k++) {
        TU_NULL_WITH(cmp_ops[k](NULL, f2), DC_E_INVALID);
        TU_NULL_WITH(cmp_ops[k](f2, NULL), DC_E_INVALID);
        TU_NULL_WITH(cmp_ops[k](f2, i2), DC_E_DTYPE);
        TU_NULL_WITH(cmp_ops[k](f2, f3), DC_E_SHAPE);
    }
    int64_t tall[2] = {(int64_t)1 << 31, 1}, wide[2] = {1, (int64_t)1 << 31};
    dc_tensor *one = dc_scalar(DC_I64, 1);
    for (int k = 0; k < 6; k++)
        TU_NULL_WITH(cmp_ops[k](dc_expand(one, 2, tall), dc_expand(one, 2, wide)),
                     DC_E_OVERFLOW);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Unary ops against PyTorch (values and gradients at 13 points)      */
/* ---------------------------------------------------------------- */

typedef dc_tensor *(*unary_fn)(dc_tensor *);
static dc_tensor *leaky01(dc_tensor *t) { return dc_leaky_relu(t, 0.1); }
static dc_tensor *gelu_exact(dc_tensor *t) { return dc_gelu(t, DC_GELU_EXACT); }
static dc_tensor *gelu_tanh(dc_tensor *t) { return dc_gelu(t, DC_GELU_TANH); }
static dc_tensor *softplus_1_20(dc_tensor *t) { return dc_softplus(t, 1, 20); }
static dc_tensor *softplus_2_1(dc_tensor *t) { return dc_softplus(t, 2, 1); }
static dc_tensor *clamp_m1_2(dc_tensor *t) { return dc_clamp(t, -1, 2); }

/* Same order as UNARY in gen_elementwise.py; the last 3 take xp. */
static const unary_fn unary_ops[17] = {
    dc_neg, dc_abs, dc_exp, dc_square, dc_tanh, dc_sigmoid, dc_relu, leaky01, gelu_exact,
    gelu_tanh, dc_silu, softplus_1_20, softplus_2_1, clamp_m1_2, dc_log, dc_sqrt, dc_rsqrt,
};

START_TEST(unary_values_and_grads) {
    int k = _i;
    dc_scope *s = dc_scope_begin();
    double *vals = tu_read_fixture("elementwise_unary.f64", 17 * 13 * sizeof(double));
    double *grads = tu_read_fixture("elementwise_unary_grad.f64", 17 * 13 * sizeof(double));
    int positive = k >= 14;
    dc_tensor *x = x13(DC_F64, positive);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = unary_ops[k](x);
    tu_assert_values(y, vals + 13 * k, 13, 1e-15, 1e-14);
    tu_assert_values(grad_with_ones(y, x), grads + 13 * k, 13, 1e-15, 1e-13);
    /* strided input */
    dc_tensor *xn = strided(x13(DC_F64, positive));
    tu_assert_values(unary_ops[k](xn), vals + 13 * k, 13, 1e-15, 1e-14);
    /* f32, contiguous and strided, with its gradient */
    dc_tensor *x32 = x13(DC_F32, positive);
    TU_OK(dc_set_requires_grad(x32, 1));
    dc_tensor *y32 = unary_ops[k](x32);
    assert_dtype(y32, DC_F32);
    tu_assert_values(y32, vals + 13 * k, 13, 1e-6, 1e-6);
    tu_assert_values(grad_with_ones(y32, x32), grads + 13 * k, 13, 1e-6, 1e-5);
    tu_assert_values(unary_ops[k](strided(x13(DC_F32, positive))), vals + 13 * k, 13, 1e-6,
                     1e-6);
    /* 0-d and empty */
    dc_tensor *x0 = dc_scalar(DC_F64, positive ? 0.25 : -3.0);
    dc_tensor *y0 = unary_ops[k](x0);
    tu_assert_shape(y0, 0, NULL);
    tu_assert_values(y0, vals + 13 * k, 1, 1e-15, 1e-14);
    int64_t e[2] = {3, 0};
    tu_assert_shape(unary_ops[k](dc_zeros(DC_F64, 2, e)), 2, e);
    free(vals);
    free(grads);
    dc_scope_end(s);
}
END_TEST

START_TEST(unary_integer_paths) {
    dc_scope *s = dc_scope_begin();
    int64_t n5 = 5;
    dc_tensor *a = i32v(1, &n5, (int32_t[]){INT32_MIN, -7, 0, 3, INT32_MAX});
    dc_tensor *y = dc_neg(a);
    assert_dtype(y, DC_I32);
    tu_assert_values(y, (double[]){INT32_MIN, 7, 0, -3, -INT32_MAX}, 5, 0, 0);
    tu_assert_values(dc_abs(a), (double[]){INT32_MIN, 7, 0, 3, INT32_MAX}, 5, 0, 0);
    tu_assert_values(dc_relu(a), (double[]){0, 0, 0, 3, INT32_MAX}, 5, 0, 0);
    tu_assert_values(dc_clamp(a, -5, 2), (double[]){-5, -5, 0, 2, 2}, 5, 0, 0);
    tu_assert_values(dc_clamp(a, -INFINITY, 1), (double[]){INT32_MIN, -7, 0, 1, 1}, 5, 0, 0);
    tu_assert_values(dc_clamp(a, 0, INFINITY), (double[]){0, 0, 0, 3, INT32_MAX}, 5, 0, 0);
    tu_assert_values(dc_square(a), (double[]){0, 49, 0, 9, 1}, 5, 0, 0);   /* wraps */
    /* i64, strided (every other element of a longer buffer) */
    int64_t n6 = 6;
    int64_t big = ((int64_t)1 << 53) + 1;
    dc_tensor *base = tu_i64(1, &n6, (int64_t[]){-big, 99, 4, 99, -3, 99});
    dc_tensor *b = dc_slice(base, 0, 0, 6, 2);
    TU_NOTNULL(b);
    ck_assert_int_eq(dc_is_contiguous(b), 0);
    assert_i64(dc_neg(b), (int64_t[]){big, -4, 3}, 3);
    assert_i64(dc_abs(b), (int64_t[]){big, 4, 3}, 3);
    assert_i64(dc_square(b), (int64_t[]){(int64_t)((uint64_t)big * (uint64_t)big), 16, 9}, 3);
    assert_i64(dc_relu(b), (int64_t[]){0, 4, 0}, 3);
    assert_i64(dc_clamp(b, -big + 1, 3), (int64_t[]){-big + 1, 3, -3}, 3);
    /* 0-d and empty */
    tu_assert_values(dc_neg(dc_scalar(DC_I64, 5)), (double[]){-5}, 1, 0, 0);
    int64_t z = 0;
    tu_assert_shape(dc_relu(dc_zeros(DC_I32, 1, &z)), 1, &z);
    dc_scope_end(s);
}
END_TEST

/* f32 square (MSE's) on the vector path gives exactly the float products
 * x * x and gradients 2 x g, as the double path rounded does. */
START_TEST(square_f32_is_exact) {
    dc_scope *s = dc_scope_begin();
    int64_t n = 1001;
    dc_rng *rng = dc_rng_new(9);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 1, &n, 0.0, 1e3);
    dc_tensor *g = dc_rand_normal(rng, DC_F32, 1, &n, 0.0, 1.0);
    dc_rng_free(rng);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_square(x);
    TU_OK(dc_backward(y, g, 0));
    float xv[1001], gv[1001], yv[1001], gx[1001];
    TU_OK(dc_copy_to(x, DC_F32, xv, sizeof xv));
    TU_OK(dc_copy_to(g, DC_F32, gv, sizeof gv));
    TU_OK(dc_copy_to(y, DC_F32, yv, sizeof yv));
    TU_OK(dc_copy_to(dc_grad(x), DC_F32, gx, sizeof gx));
    for (int64_t i = 0; i < n; i++) {
        float want = (float)((double)xv[i] * (double)xv[i]);
        float want_g = (float)((double)gv[i] * (2.0 * (double)xv[i]));
        ck_assert_msg(memcmp(&yv[i], &want, sizeof want) == 0, "y[%lld] = %.9g, want %.9g",
                      (long long)i, yv[i], want);
        ck_assert_msg(memcmp(&gx[i], &want_g, sizeof want_g) == 0,
                      "grad[%lld] = %.9g, want %.9g", (long long)i, gx[i], want_g);
    }
    dc_scope_end(s);
}
END_TEST

/* Activations of large tensors run split over threads: the same bits on
 * 1 and 2 threads, forward and backward, and the right values across the
 * chunk boundaries (checked against double math). */
START_TEST(unary_split_over_threads) {
    dc_scope *s = dc_scope_begin();
    int64_t n = 100003;   /* several chunks and a ragged last one */
    dc_rng *rng = dc_rng_new(5);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 1, &n, 0.0, 3.0);
    dc_rng_free(rng);
    TU_OK(dc_set_requires_grad(x, 1));
    float *res[2][2];
    for (int th = 0; th < 2; th++) {
        TU_OK(dc_set_num_threads(th + 1));
        dc_tensor *y = dc_gelu(x, DC_GELU_EXACT);
        TU_OK(dc_backward(dc_sum(dc_mul(y, y), NULL, 0, 0), NULL, 0));
        res[th][0] = malloc((size_t)n * sizeof(float));
        res[th][1] = malloc((size_t)n * sizeof(float));
        TU_OK(dc_copy_to(y, DC_F32, res[th][0], (size_t)n * sizeof(float)));
        TU_OK(dc_copy_to(dc_grad(x), DC_F32, res[th][1], (size_t)n * sizeof(float)));
        TU_OK(dc_zero_grad(x));
    }
    TU_OK(dc_set_num_threads(0));
    ck_assert(memcmp(res[0][0], res[1][0], (size_t)n * sizeof(float)) == 0);
    ck_assert(memcmp(res[0][1], res[1][1], (size_t)n * sizeof(float)) == 0);
    float *xv = malloc((size_t)n * sizeof(float));
    TU_OK(dc_copy_to(x, DC_F32, xv, (size_t)n * sizeof(float)));
    for (int64_t i = 0; i < n; i += 997) {
        double v = xv[i], want = 0.5 * v * erfc(-v / sqrt(2.0));
        ck_assert_msg(fabs(res[0][0][i] - want) <= 1e-5 + 1e-5 * fabs(want),
                      "gelu(%g): got %g, wanted %g", v, (double)res[0][0][i], want);
    }
    free(xv);
    for (int th = 0; th < 2; th++) {
        free(res[th][0]);
        free(res[th][1]);
    }
    dc_scope_end(s);
}
END_TEST

/* The f32 exact-GELU derivative (taken from the forward's output, with
 * a series near 0) against double math, across 0, the series' edge at
 * 2^-10, both tails and values between. */
START_TEST(gelu_exact_f32_derivative) {
    dc_scope *s = dc_scope_begin();
    static const double pts[] = {0.0, -0.0, 1e-30, -1e-30, 1e-4, -1e-4, 0.0009765, 0.0009766,
                                 -0.0009766, 0.001, -0.01, 0.3, -0.7, 1.0, -1.0, 2.5, -3.0,
                                 5.0, -5.0, 8.0, -9.0, 12.0, -12.0};
    enum { N = sizeof pts / sizeof pts[0] };
    float xf[N];
    for (int i = 0; i < N; i++) xf[i] = (float)pts[i];
    int64_t n = N;
    dc_tensor *x = dc_from_data(DC_F32, 1, &n, xf);
    TU_OK(dc_set_requires_grad(x, 1));
    float g[N];
    TU_OK(dc_copy_to(grad_with_ones(dc_gelu(x, DC_GELU_EXACT), x), DC_F32, g, sizeof g));
    for (int i = 0; i < N; i++) {
        double v = xf[i];
        double want = 0.5 * erfc(-v / sqrt(2.0)) + v * exp(-0.5 * v * v) / sqrt(2.0 * 3.14159265358979323846);
        ck_assert_msg(fabs(g[i] - want) <= 1e-6 + 2e-6 * fabs(want),
                      "gelu'(%g): got %.9g, wanted %.9g", v, (double)g[i], want);
    }
    dc_scope_end(s);
}
END_TEST

/* sigmoid, softplus, silu, gelu and tanh at +-1e4: exact limits, no
 * overflow, finite gradients. */
START_TEST(unary_large_inputs) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2;
    for (int d = 0; d < 2; d++) {
        const double v[2] = {-1e4, 1e4};
        dc_tensor *x = d ? tu_f32(1, &n2, v) : tu_f64(1, &n2, v);
        TU_OK(dc_set_requires_grad(x, 1));
        feclearexcept(FE_ALL_EXCEPT);
        dc_tensor *sg = dc_sigmoid(x);
        dc_tensor *sp = dc_softplus(x, 1, 20);
        dc_tensor *sp_big = dc_softplus(x, 1, 1e9);   /* no linear switch: still finite */
        dc_tensor *sl = dc_silu(x);
        dc_tensor *ge = dc_gelu(x, DC_GELU_EXACT), *gt = dc_gelu(x, DC_GELU_TANH);
        dc_tensor *th = dc_tanh(x);
        ck_assert_msg(!fp_overflow_raised(), "an op overflowed");
        tu_assert_values(sg, (double[]){0, 1}, 2, 0, 0);
        tu_assert_values(sp, (double[]){0, 1e4}, 2, 0, 0);
        tu_assert_values(sp_big, (double[]){0, 1e4}, 2, 0, 0);
        tu_assert_values(sl, (double[]){0, 1e4}, 2, 0, 0);
        tu_assert_values(ge, (double[]){0, 1e4}, 2, 0, 0);
        tu_assert_values(gt, (double[]){0, 1e4}, 2, 0, 0);
        tu_assert_values(th, (double[]){-1, 1}, 2, 0, 0);
        tu_assert_values(grad_with_ones(sg, x), (double[]){0, 0}, 2, 0, 0);
        TU_OK(dc_zero_grad(x));
        tu_assert_values(grad_with_ones(sp_big, x), (double[]){0, 1}, 2, 0, 0);
        TU_OK(dc_zero_grad(x));
        tu_assert_values(grad_with_ones(sl, x), (double[]){0, 1}, 2, 0, 0);
        ck_assert_msg(!fp_overflow_raised(), "a backward overflowed");
    }
    dc_scope_end(s);
}
END_TEST

START_TEST(unary_nan_and_kinks) {
    dc_scope *s = dc_scope_begin();
    int64_t n3 = 3;
    dc_tensor *x = tu_f64(1, &n3, (double[]){NAN, -INFINITY, INFINITY});
    tu_assert_values(dc_relu(x), (double[]){NAN, 0, INFINITY}, 3, 0, 0);
    tu_assert_values(dc_clamp(x, -1, 1), (double[]){NAN, -1, 1}, 3, 0, 0);
    tu_assert_values(dc_sigmoid(x), (double[]){NAN, 0, 1}, 3, 0, 0);
    tu_assert_values(dc_abs(x), (double[]){NAN, INFINITY, INFINITY}, 3, 0, 0);
    tu_assert_values(dc_log(dc_scalar(DC_F64, 0)), (double[]){-INFINITY}, 1, 0, 0);
    tu_assert_values(dc_rsqrt(dc_scalar(DC_F64, 0)), (double[]){INFINITY}, 1, 0, 0);
    tu_assert_values(dc_sqrt(dc_scalar(DC_F64, -1)), (double[]){NAN}, 1, 0, 0);
    /* gradients at kinks, as PyTorch: relu'(0) = 0, abs'(0) = 0,
     * clamp passes the gradient at the bounds themselves */
    dc_tensor *k = tu_f64(1, &n3, (double[]){0, -1, 2});
    TU_OK(dc_set_requires_grad(k, 1));
    tu_assert_values(grad_with_ones(dc_relu(k), k), (double[]){0, 0, 1}, 3, 0, 0);
    TU_OK(dc_zero_grad(k));
    tu_assert_values(grad_with_ones(dc_abs(k), k), (double[]){0, -1, 1}, 3, 0, 0);
    TU_OK(dc_zero_grad(k));
    tu_assert_values(grad_with_ones(dc_clamp(k, -1, 2), k), (double[]){1, 1, 1}, 3, 0, 0);
    TU_OK(dc_zero_grad(k));
    tu_assert_values(grad_with_ones(dc_clamp(k, -0.5, 1), k), (double[]){1, 0, 0}, 3, 0, 0);
    TU_OK(dc_zero_grad(k));
    tu_assert_values(grad_with_ones(dc_leaky_relu(k, 0.2), k), (double[]){0.2, 0.2, 1}, 3, 0, 0);
    /* an infinite incoming gradient is masked where the derivative is 0 */
    TU_OK(dc_zero_grad(k));
    dc_tensor *y = dc_relu(k);
    TU_OK(dc_backward(y, tu_f64(1, &n3, (double[]){INFINITY, INFINITY, 1}), 0));
    tu_assert_values(dc_grad(k), (double[]){0, 0, 1}, 3, 0, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(unary_bad_input) {
    dc_scope *s = dc_scope_begin();
    int64_t n2 = 2;
    dc_tensor *i32 = dc_ones(DC_I32, 1, &n2), *i64 = dc_ones(DC_I64, 1, &n2);
    dc_tensor *u8 = dc_ones(DC_U8, 1, &n2), *bl = dc_ones(DC_BOOL, 1, &n2);
    dc_tensor *f = dc_ones(DC_F64, 1, &n2);
    /* float-only ops (by index in unary_ops) */
    for (int k = 0; k < 17; k++) {
        int int_ok = unary_ops[k] == dc_neg || unary_ops[k] == dc_abs ||
                     unary_ops[k] == dc_square || unary_ops[k] == dc_relu ||
                     unary_ops[k] == clamp_m1_2;
        TU_NULL_WITH(unary_ops[k](NULL), DC_E_INVALID);
        TU_NULL_WITH(unary_ops[k](u8), DC_E_DTYPE);
        TU_NULL_WITH(unary_ops[k](bl), DC_E_DTYPE);
        if (int_ok) {
            TU_NOTNULL(unary_ops[k](i32));
            TU_NOTNULL(unary_ops[k](i64));
        } else {
            TU_NULL_WITH(unary_ops[k](i32), DC_E_DTYPE);
            TU_NULL_WITH(unary_ops[k](i64), DC_E_DTYPE);
        }
    }
    TU_NULL_WITH(dc_clamp(f, 2, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_clamp(f, NAN, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_clamp(f, 0, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_clamp(i32, 1, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_leaky_relu(f, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_leaky_relu(f, INFINITY), DC_E_INVALID);
    TU_NULL_WITH(dc_gelu(f, (dc_gelu_approx)2), DC_E_INVALID);
    TU_NULL_WITH(dc_gelu(NULL, DC_GELU_TANH), DC_E_INVALID);
    TU_NULL_WITH(dc_softplus(f, 0, 20), DC_E_INVALID);
    TU_NULL_WITH(dc_softplus(f, NAN, 20), DC_E_INVALID);
    TU_NULL_WITH(dc_softplus(f, 1, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_softplus(NULL, 1, 20), DC_E_INVALID);
    TU_NULL_WITH(dc_leaky_relu(NULL, 0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_clamp(NULL, 0, 1), DC_E_INVALID);
    /* a chain keeps the first failure */
    dc_clear_error();
    ck_assert_ptr_null(dc_relu(dc_exp(i32)));
    ck_assert_int_eq(dc_last_status(), DC_E_DTYPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_exp"));
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("elementwise");
    TCase *tc = tu_tcase("binary");
    tcase_add_test(tc, binary_broadcast_values);
    tcase_add_test(tc, binary_broadcast_grads);
    tcase_add_test(tc, binary_same_shape_f32);
    tcase_add_test(tc, binary_split_over_threads);
    tcase_add_test(tc, binary_scalars_and_empty);
    tcase_add_test(tc, binary_integer_paths);
    tcase_add_test(tc, maximum_nan_inf);
    tcase_add_test(tc, maximum_minimum_tie_grads);
    tcase_add_test(tc, binary_backward_saves_nothing);
    tcase_add_test(tc, pow_grad_special_cases);
    tcase_add_test(tc, where_values);
    tcase_add_test(tc, where_grads);
    tcase_add_test(tc, scalar_ops);
    tcase_add_test(tc, scalar_op_grads);
    tcase_add_test(tc, binary_bad_input);
    suite_add_tcase(s, tc);
    TCase *tcc = tu_tcase("compare");
    tcase_add_test(tcc, compare_values);
    tcase_add_test(tcc, compare_integers_and_bool);
    tcase_add_test(tcc, compare_not_recorded);
    tcase_add_test(tcc, compare_bad_input);
    suite_add_tcase(s, tcc);
    TCase *tcu = tu_tcase("unary");
    tcase_add_loop_test(tcu, unary_values_and_grads, 0, 17);
    tcase_add_test(tcu, unary_integer_paths);
    tcase_add_test(tcu, unary_large_inputs);
    tcase_add_test(tcu, unary_split_over_threads);
    tcase_add_test(tcu, square_f32_is_exact);
    tcase_add_test(tcu, gelu_exact_f32_derivative);
    tcase_add_test(tcu, unary_nan_and_kinks);
    tcase_add_test(tcu, unary_bad_input);
    suite_add_tcase(s, tcu);
    return tu_run(s);
}
