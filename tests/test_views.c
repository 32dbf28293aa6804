/* Views, copies, joins, indexing and casts (lib/ops/views.c, copy.c,
 * join.c, index.c). Expected values are written by hand, or come from
 * tests/fixtures/gen_views.py (NumPy / PyTorch). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const double[]){__VA_ARGS__})
#define NVALS(...) ((int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double)))
/* t has exactly the listed values (f64-exact) */
#define ASSERT_VALUES(t, ...) tu_assert_values((t), VALS(__VA_ARGS__), NVALS(__VA_ARGS__), 0, 0)

/* f64 tensor holding 0, 1, 2, ... in row-major order. */
static dc_tensor *seq(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = (double)i;
    dc_tensor *t = tu_f64(ndim, shape, v);
    free(v);
    TU_NOTNULL(t);
    return t;
}

/* A strided (non-contiguous) tensor with t's shape, dtype and values, for
 * use inside a scope: the same layouts as tu_noncontig (last two axes
 * swapped in storage; every other element for 0-D and 1-D), but leaving
 * the intermediate tensors to the scope (tu_noncontig releases them). */
static dc_tensor *noncontig(dc_tensor *t) {
    int nd = dc_ndim(t);
    int64_t n = dc_numel(t);
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, dc_shape(t), (size_t)nd * sizeof *sh);
    dc_tensor *view;
    if (nd >= 2) {
        int64_t tmp = sh[nd - 1];
        sh[nd - 1] = sh[nd - 2];
        sh[nd - 2] = tmp;
        view = dc_transpose(dc_empty(dc_tensor_dtype(t), nd, sh), nd - 2, nd - 1);
    } else {
        int64_t len = 2 * n;
        view = dc_slice(dc_zeros(dc_tensor_dtype(t), 1, &len), 0, 0, len, 2);
        if (nd == 0) view = dc_reshape(view, 0, NULL);
    }
    TU_NOTNULL(view);
    double *vals = malloc((size_t)(n ? n : 1) * sizeof *vals);
    ck_assert_ptr_nonnull(vals);
    TU_OK(dc_copy_to(t, DC_F64, vals, (size_t)n * sizeof *vals));
    TU_OK(dc_copy_from(view, DC_F64, vals, (size_t)n * sizeof *vals));
    free(vals);
    return view;
}

static double get(const dc_tensor *t, const int64_t *index) {
    double v;
    TU_OK(dc_get(t, index, &v));
    return v;
}

static void assert_strides(const dc_tensor *t, int ndim, const int64_t *want) {
    const int64_t *s = dc_strides(t);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(s[i] == want[i], "stride %d: %lld, wanted %lld", i, (long long)s[i],
                      (long long)want[i]);
}

/* v is a view of base: no copy, and a write through v shows in base at
 * base_index. The old value is put back. */
static void assert_shares(dc_tensor *v, dc_tensor *base, const int64_t *v_index,
                          const int64_t *base_index) {
    double old = get(v, v_index);
    TU_OK(dc_set(v, v_index, 1234.5));
    ck_assert(get(base, base_index) == 1234.5);
    TU_OK(dc_set(v, v_index, old));
}

/* ---------------------------------------------------------------- */
/* view, reshape                                                     */
/* ---------------------------------------------------------------- */

START_TEST(view_of_contiguous_shares_storage) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(3, SH(2, 3, 4));
    dc_tensor *v = dc_view(t, 2, SH(4, -1));
    tu_assert_shape(v, 2, SH(4, 6));
    assert_strides(v, 2, SH(6, 1));
    ck_assert_ptr_eq(dc_data_ptr(v), dc_data_ptr(t));
    ck_assert(get(v, SH(2, 5)) == 17.0);
    /* a write through the view with dc_copy_from shows in the base */
    double row[24];
    for (int i = 0; i < 24; i++) row[i] = -i;
    TU_OK(dc_copy_from(v, DC_F64, row, sizeof row));
    ck_assert(get(t, SH(1, 2, 3)) == -23.0);
    dc_scope_end(s);
}
END_TEST

/* The strides PyTorch gives for the same views. */
START_TEST(view_splits_and_merges_strided_axes) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = dc_transpose(seq(3, SH(2, 3, 4)), 0, 1);   /* (3,2,4) strides (4,12,1) */
    assert_strides(t, 3, SH(4, 12, 1));
    dc_tensor *v = dc_view(t, 4, SH(3, 2, 2, 2));
    tu_assert_shape(v, 4, SH(3, 2, 2, 2));
    assert_strides(v, 4, SH(4, 12, 2, 1));
    ck_assert(get(v, SH(2, 1, 1, 0)) == get(t, SH(2, 1, 2)));
    /* size-1 axes may go anywhere */
    dc_tensor *w = dc_view(t, 5, SH(3, 1, 2, 4, 1));
    tu_assert_shape(w, 5, SH(3, 1, 2, 4, 1));
    ck_assert(get(w, SH(1, 0, 1, 3, 0)) == get(t, SH(1, 1, 3)));
    /* merging works where the axes are contiguous among themselves */
    dc_tensor *e = dc_slice(seq(1, SH(12)), 0, 0, 12, 2);      /* stride 2 */
    dc_tensor *m = dc_view(e, 2, SH(2, 3));
    assert_strides(m, 2, SH(6, 2));
    ASSERT_VALUES(m, 0, 2, 4, 6, 8, 10);
    dc_tensor *back = dc_view(m, 1, SH(-1));
    assert_strides(back, 1, SH(2));
    ASSERT_VALUES(back, 0, 2, 4, 6, 8, 10);
    ck_assert_ptr_eq(dc_data_ptr(back), dc_data_ptr(e));
    dc_scope_end(s);
}
END_TEST

START_TEST(view_fails_on_transposed_reshape_copies) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *base = seq(2, SH(2, 3));
    dc_tensor *t = dc_transpose(base, 0, 1);
    ck_assert_int_eq(dc_is_contiguous(t), 0);
    TU_NULL_WITH(dc_view(t, 1, SH(6)), DC_E_SHAPE);
    TU_NULL_WITH(dc_view(t, 2, SH(2, 3)), DC_E_SHAPE);
    dc_tensor *r = dc_reshape(t, 1, SH(6));
    ASSERT_VALUES(r, 0, 3, 1, 4, 2, 5);
    ck_assert_ptr_ne(dc_data_ptr(r), dc_data_ptr(base));
    ck_assert_int_eq(dc_is_contiguous(r), 1);
    /* a copy: writing into it leaves the base alone */
    TU_OK(dc_set(r, SH(1), 99.0));
    ck_assert(get(base, SH(1, 0)) == 3.0);
    /* the same on a tu_noncontig input */
    dc_tensor *nc = noncontig(seq(2, SH(2, 3)));
    TU_NULL_WITH(dc_view(nc, 1, SH(6)), DC_E_SHAPE);
    dc_tensor *r2 = dc_reshape(nc, 2, SH(3, 2));
    ASSERT_VALUES(r2, 0, 1, 2, 3, 4, 5);
    dc_scope_end(s);
}
END_TEST

START_TEST(reshape_is_a_view_when_it_can_be) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(2, SH(4, 6));
    dc_tensor *r = dc_reshape(t, 3, SH(2, -1, 3));
    tu_assert_shape(r, 3, SH(2, 4, 3));
    ck_assert_ptr_eq(dc_data_ptr(r), dc_data_ptr(t));
    assert_shares(r, t, SH(1, 3, 2), SH(3, 5));
    /* 0-dim <-> shapes of ones */
    dc_tensor *sc = dc_scalar(DC_F64, 7.0);
    dc_tensor *o = dc_reshape(sc, 2, SH(1, 1));
    tu_assert_shape(o, 2, SH(1, 1));
    dc_tensor *z = dc_view(o, 0, NULL);
    ck_assert_int_eq(dc_ndim(z), 0);
    ck_assert(get(z, NULL) == 7.0);
    ck_assert_ptr_eq(dc_data_ptr(z), dc_data_ptr(sc));
    /* empty tensors */
    dc_tensor *e = dc_zeros(DC_F32, 2, SH(0, 3));
    tu_assert_shape(dc_reshape(e, 3, SH(3, -1, 2)), 3, SH(3, 0, 2));
    tu_assert_shape(dc_view(e, 1, SH(0)), 1, SH(0));
    dc_scope_end(s);
}
END_TEST

START_TEST(view_and_reshape_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(2, SH(2, 3));
    dc_tensor *e = dc_zeros(DC_F64, 2, SH(0, 3));
    for (int k = 0; k < 2; k++) {
        dc_tensor *(*f)(dc_tensor *, int, const int64_t *) = k ? dc_reshape : dc_view;
        TU_NULL_WITH(f(NULL, 1, SH(6)), DC_E_INVALID);
        TU_NULL_WITH(f(t, 2, SH(-1, -1)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, 2, SH(4, 2)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, 2, SH(4, -1)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, 2, SH(-2, -3)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, 1, NULL), DC_E_INVALID);
        TU_NULL_WITH(f(t, 9, SH(1, 1, 1, 1, 1, 1, 1, 1, 6)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, -1, SH(6)), DC_E_SHAPE);
        TU_NULL_WITH(f(t, 0, NULL), DC_E_SHAPE);
        /* sizes whose product overflows */
        TU_NULL_WITH(f(t, 3, SH(INT64_MAX, INT64_MAX, 6)), DC_E_SHAPE);
        /* -1 among sizes holding zero elements could be anything */
        TU_NULL_WITH(f(e, 2, SH(0, -1)), DC_E_SHAPE);
    }
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* flatten, squeeze, unsqueeze                                       */
/* ---------------------------------------------------------------- */

START_TEST(flatten_ranges) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(3, SH(2, 3, 4));
    dc_tensor *f = dc_flatten(t, 1, 2);
    tu_assert_shape(f, 2, SH(2, 12));
    ck_assert_ptr_eq(dc_data_ptr(f), dc_data_ptr(t));
    tu_assert_shape(dc_flatten(t, 0, -1), 1, SH(24));
    tu_assert_shape(dc_flatten(t, -2, -2), 3, SH(2, 3, 4));
    /* non-contiguous: a copy, in row-major order of the view */
    dc_tensor *p = dc_transpose(seq(2, SH(2, 3)), 0, 1);
    ASSERT_VALUES(dc_flatten(p, 0, 1), 0, 3, 1, 4, 2, 5);
    /* a 0-dim tensor becomes 1-D */
    tu_assert_shape(dc_flatten(dc_scalar(DC_F32, 1.0), 0, -1), 1, SH(1));
    TU_NULL_WITH(dc_flatten(t, 2, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_flatten(t, 0, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_flatten(t, -4, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_flatten(NULL, 0, 1), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

START_TEST(squeeze_and_unsqueeze) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(3, SH(2, 1, 3));
    dc_tensor *q = dc_squeeze(t, 1);
    tu_assert_shape(q, 2, SH(2, 3));
    ASSERT_VALUES(q, 0, 1, 2, 3, 4, 5);
    ck_assert_ptr_eq(dc_data_ptr(q), dc_data_ptr(t));
    tu_assert_shape(dc_squeeze(t, -2), 2, SH(2, 3));
    /* an axis of size != 1 is left alone, as torch does; still a new view */
    dc_tensor *same = dc_squeeze(t, 0);
    ck_assert_ptr_ne(same, t);
    tu_assert_shape(same, 3, SH(2, 1, 3));
    assert_shares(same, t, SH(1, 0, 2), SH(1, 0, 2));
    tu_assert_shape(dc_squeeze(dc_scalar(DC_F64, 2), 0), 0, NULL);

    dc_tensor *m = seq(2, SH(2, 3));
    dc_tensor *u0 = dc_unsqueeze(m, 0);
    tu_assert_shape(u0, 3, SH(1, 2, 3));
    ck_assert_ptr_eq(dc_data_ptr(u0), dc_data_ptr(m));
    tu_assert_shape(dc_unsqueeze(m, 1), 3, SH(2, 1, 3));
    tu_assert_shape(dc_unsqueeze(m, 2), 3, SH(2, 3, 1));
    tu_assert_shape(dc_unsqueeze(m, -1), 3, SH(2, 3, 1));
    tu_assert_shape(dc_unsqueeze(m, -3), 3, SH(1, 2, 3));
    ASSERT_VALUES(dc_unsqueeze(noncontig(m), 1), 0, 1, 2, 3, 4, 5);
    tu_assert_shape(dc_unsqueeze(dc_scalar(DC_F64, 2), 0), 1, SH(1));

    TU_NULL_WITH(dc_squeeze(t, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_squeeze(t, -4), DC_E_RANGE);
    TU_NULL_WITH(dc_squeeze(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_unsqueeze(m, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_unsqueeze(m, -4), DC_E_RANGE);
    TU_NULL_WITH(dc_unsqueeze(NULL, 0), DC_E_INVALID);
    dc_tensor *full = dc_zeros(DC_F32, 8, SH(1, 1, 1, 1, 1, 1, 1, 1));
    TU_NULL_WITH(dc_unsqueeze(full, 0), DC_E_SHAPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* transpose, permute                                                */
/* ---------------------------------------------------------------- */

START_TEST(permute_values_and_strides) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(3, SH(2, 3, 4));
    dc_tensor *p = dc_permute(t, (const int[]){2, 0, 1});
    tu_assert_shape(p, 3, SH(4, 2, 3));
    assert_strides(p, 3, SH(1, 12, 4));
    /* out[i][j][k] = t[j][k][i] = 12 j + 4 k + i */
    ASSERT_VALUES(p, 0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                  2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23);
    ck_assert_ptr_eq(dc_data_ptr(p), dc_data_ptr(t));
    assert_shares(p, t, SH(3, 1, 2), SH(1, 2, 3));
    /* negative axes are allowed in perm */
    tu_assert_close(dc_permute(t, (const int[]){-1, 0, -2}), p, 0, 0);
    /* a transpose of a non-contiguous tensor */
    dc_tensor *nc = noncontig(seq(2, SH(2, 3)));
    dc_tensor *tr = dc_transpose(nc, 0, 1);
    tu_assert_shape(tr, 2, SH(3, 2));
    ASSERT_VALUES(tr, 0, 3, 1, 4, 2, 5);
    ck_assert_int_eq(dc_is_contiguous(tr), 1);   /* tu_noncontig's base order */
    ASSERT_VALUES(dc_transpose(t, -1, 0), 0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21,
                  2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23);
    ASSERT_VALUES(dc_transpose(t, 1, 1), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23);
    ck_assert_int_eq(dc_ndim(dc_transpose(dc_scalar(DC_F64, 1), 0, -1)), 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(permute_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(3, SH(2, 3, 4));
    TU_NULL_WITH(dc_permute(t, (const int[]){0, 0, 1}), DC_E_INVALID);
    TU_NULL_WITH(dc_permute(t, (const int[]){0, 1, 3}), DC_E_RANGE);
    TU_NULL_WITH(dc_permute(t, (const int[]){-4, 1, 2}), DC_E_RANGE);
    TU_NULL_WITH(dc_permute(t, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_permute(NULL, (const int[]){0}), DC_E_INVALID);
    TU_NULL_WITH(dc_transpose(t, 0, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_transpose(t, -4, 0), DC_E_RANGE);
    TU_NULL_WITH(dc_transpose(NULL, 0, 1), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* slice, narrow                                                     */
/* ---------------------------------------------------------------- */

START_TEST(slice_clamps_like_python) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(1, SH(10));
    ASSERT_VALUES(dc_slice(t, 0, 2, 8, 2), 2, 4, 6);
    ASSERT_VALUES(dc_slice(t, 0, 0, 10, 3), 0, 3, 6, 9);
    ASSERT_VALUES(dc_slice(t, 0, -3, 100, 1), 7, 8, 9);
    ASSERT_VALUES(dc_slice(t, 0, -100, 3, 1), 0, 1, 2);
    ASSERT_VALUES(dc_slice(t, 0, 1, -7, 1), 1, 2);
    ASSERT_VALUES(dc_slice(t, 0, 8, INT64_MAX, INT64_MAX), 8);
    ASSERT_VALUES(dc_slice(t, -1, INT64_MIN, INT64_MAX, 4), 0, 4, 8);
    tu_assert_shape(dc_slice(t, 0, 5, 2, 1), 1, SH(0));
    tu_assert_shape(dc_slice(t, 0, 12, 20, 1), 1, SH(0));
    dc_tensor *v = dc_slice(t, 0, 3, 9, 2);
    assert_strides(v, 1, SH(2));
    ck_assert_ptr_eq(dc_data_ptr(v), (double *)dc_data_ptr(t) + 3);
    assert_shares(v, t, SH(2), SH(7));
    dc_scope_end(s);
}
END_TEST

START_TEST(slice_of_matrices) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *m = seq(2, SH(3, 4));
    dc_tensor *c = dc_slice(m, 1, 1, 4, 2);
    tu_assert_shape(c, 2, SH(3, 2));
    assert_strides(c, 2, SH(4, 2));
    ASSERT_VALUES(c, 1, 3, 5, 7, 9, 11);
    ASSERT_VALUES(dc_slice(m, -2, 1, 3, 1), 4, 5, 6, 7, 8, 9, 10, 11);
    ASSERT_VALUES(dc_slice(noncontig(m), 1, 0, 4, 3), 0, 3, 4, 7, 8, 11);
    /* permute then slice, against NumPy */
    dc_tensor *x = dc_add_scalar(dc_mul_scalar(seq(3, SH(2, 3, 4)), 0.5), -1.0);
    TU_NOTNULL(x);
    dc_tensor *ps = dc_slice(dc_permute(x, (const int[]){2, 0, 1}), 2, 0, 3, 2);
    tu_assert_shape(ps, 3, SH(4, 2, 2));
    double *want = tu_read_fixture("views_permslice_out.f64", 16 * sizeof(double));
    tu_assert_values(ps, want, 16, 0, 0);
    free(want);
    dc_scope_end(s);
}
END_TEST

START_TEST(narrow_is_strict) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *m = seq(2, SH(3, 4));
    dc_tensor *n = dc_narrow(m, 1, 1, 2);
    ASSERT_VALUES(n, 1, 2, 5, 6, 9, 10);
    ck_assert_ptr_eq(dc_data_ptr(n), (double *)dc_data_ptr(m) + 1);
    ASSERT_VALUES(dc_narrow(m, -1, -2, 2), 2, 3, 6, 7, 10, 11);
    ASSERT_VALUES(dc_narrow(m, 0, 2, 1), 8, 9, 10, 11);
    tu_assert_shape(dc_narrow(m, 0, 3, 0), 2, SH(0, 4));
    TU_NULL_WITH(dc_narrow(m, 1, 5, 0), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(m, 1, -5, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(m, 1, 2, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(m, 1, 0, -1), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(m, 1, 1, INT64_MAX), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(m, 2, 0, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(dc_scalar(DC_F64, 1), 0, 0, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_narrow(NULL, 0, 0, 1), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

START_TEST(slice_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *m = seq(2, SH(3, 4));
    TU_NULL_WITH(dc_slice(m, 0, 0, 2, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_slice(m, 0, 2, 0, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_slice(m, 2, 0, 2, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_slice(m, -3, 0, 2, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_slice(dc_scalar(DC_F64, 1), 0, 0, 1, 1), DC_E_RANGE);
    TU_NULL_WITH(dc_slice(NULL, 0, 0, 1, 1), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* expand                                                            */
/* ---------------------------------------------------------------- */

START_TEST(expand_broadcasts_with_zero_strides) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *c = tu_f64(2, SH(3, 1), VALS(1, 2, 3));
    dc_tensor *e = dc_expand(c, 3, SH(2, 3, 2));
    tu_assert_shape(e, 3, SH(2, 3, 2));
    assert_strides(e, 3, SH(0, 1, 0));
    ASSERT_VALUES(e, 1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3);
    ck_assert_ptr_eq(dc_data_ptr(e), dc_data_ptr(c));
    assert_shares(e, c, SH(1, 2, 1), SH(2, 0));
    tu_assert_shape(dc_expand(c, 2, SH(-1, 4)), 2, SH(3, 4));
    tu_assert_shape(dc_expand(c, 3, SH(0, 3, 1)), 3, SH(0, 3, 1));
    tu_assert_shape(dc_expand(c, 2, SH(3, 0)), 2, SH(3, 0));
    ASSERT_VALUES(dc_expand(dc_scalar(DC_F64, 5), 1, SH(3)), 5, 5, 5);
    dc_tensor *nc = noncontig(tu_f64(1, SH(2), VALS(7, 8)));
    ck_assert_int_eq(dc_is_contiguous(nc), 0);
    ASSERT_VALUES(dc_expand(nc, 2, SH(3, 2)), 7, 8, 7, 8, 7, 8);

    TU_NULL_WITH(dc_expand(c, 2, SH(4, 4)), DC_E_SHAPE);
    TU_NULL_WITH(dc_expand(c, 1, SH(3)), DC_E_SHAPE);
    TU_NULL_WITH(dc_expand(c, 3, SH(-1, 3, 1)), DC_E_SHAPE);
    TU_NULL_WITH(dc_expand(c, 2, SH(3, -2)), DC_E_SHAPE);
    TU_NULL_WITH(dc_expand(c, 9, SH(1, 1, 1, 1, 1, 1, 1, 3, 1)), DC_E_SHAPE);
    TU_NULL_WITH(dc_expand(c, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_expand(c, 3, SH(INT64_MAX, 3, INT64_MAX)), DC_E_OVERFLOW);
    TU_NULL_WITH(dc_expand(NULL, 1, SH(3)), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* clone, contiguous, cast                                           */
/* ---------------------------------------------------------------- */

START_TEST(clone_and_contiguous) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(2, SH(2, 3));
    dc_tensor *nc = noncontig(t);
    dc_tensor *c = dc_clone(nc);
    ASSERT_VALUES(c, 0, 1, 2, 3, 4, 5);
    ck_assert_int_eq(dc_is_contiguous(c), 1);
    TU_OK(dc_set(c, SH(0, 0), 50));
    ck_assert(get(nc, SH(0, 0)) == 0.0);
    ck_assert_ptr_ne(dc_data_ptr(dc_clone(t)), dc_data_ptr(t));

    /* contiguous: the same tensor when already contiguous, else a copy */
    ck_assert_ptr_eq(dc_contiguous(t), t);
    dc_tensor *k = dc_contiguous(nc);
    ck_assert_ptr_ne(k, nc);
    ck_assert_int_eq(dc_is_contiguous(k), 1);
    ASSERT_VALUES(k, 0, 1, 2, 3, 4, 5);
    ck_assert_ptr_ne(dc_data_ptr(k), dc_data_ptr(nc));
    /* int dtypes copy too */
    dc_tensor *ints = dc_transpose(tu_i64(2, SH(2, 2), (const int64_t[]){1, 2, 3, 4}), 0, 1);
    dc_tensor *ic = dc_contiguous(ints);
    ck_assert_int_eq(dc_tensor_dtype(ic), DC_I64);
    ASSERT_VALUES(ic, 1, 3, 2, 4);
    TU_NULL_WITH(dc_clone(NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_contiguous(NULL), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

START_TEST(cast_converts) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = tu_f64(1, SH(4), VALS(1.7, -2.5, 0.0, 3.25));
    dc_tensor *i = dc_cast(t, DC_I32);
    ck_assert_int_eq(dc_tensor_dtype(i), DC_I32);
    ASSERT_VALUES(i, 1, -2, 0, 3);
    ASSERT_VALUES(dc_cast(t, DC_BOOL), 1, 1, 0, 1);
    dc_tensor *f = dc_cast(t, DC_F32);
    ck_assert_int_eq(dc_tensor_dtype(f), DC_F32);
    ASSERT_VALUES(f, 1.7f, -2.5, 0, 3.25);
    ASSERT_VALUES(dc_cast(i, DC_F64), 1, -2, 0, 3);
    ck_assert_ptr_eq(dc_cast(t, DC_F64), t);
    dc_tensor *nc = noncontig(tu_f64(2, SH(2, 2), VALS(1.5, 2.5, -3.5, 4.5)));
    ASSERT_VALUES(dc_cast(nc, DC_I64), 1, 2, -3, 4);
    TU_NULL_WITH(dc_cast(t, (dc_dtype)42), DC_E_DTYPE);
    TU_NULL_WITH(dc_cast(t, (dc_dtype)-1), DC_E_DTYPE);
    TU_NULL_WITH(dc_cast(NULL, DC_F32), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* What gets recorded: float casts and views; not int casts, not a
 * contiguous tensor's dc_contiguous. */
START_TEST(recording_of_copies_and_casts) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = seq(2, SH(2, 2));
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *f = dc_cast(x, DC_F32);
    ck_assert_int_eq(dc_requires_grad(f), 1);
    ck_assert_int_eq(dc_is_leaf(f), 0);
    dc_tensor *i = dc_cast(x, DC_I32);
    ck_assert_int_eq(dc_requires_grad(i), 0);
    ck_assert_int_eq(dc_is_leaf(i), 1);
    ck_assert_int_eq(dc_is_leaf(dc_contiguous(x)), 1);
    ck_assert_int_eq(dc_is_leaf(dc_clone(x)), 0);
    ck_assert_int_eq(dc_is_leaf(dc_view(x, 1, SH(4))), 0);
    int prev = dc_set_grad_enabled(0);
    ck_assert_int_eq(dc_requires_grad(dc_view(x, 1, SH(4))), 0);
    dc_set_grad_enabled(prev);
    dc_scope_end(s);
}
END_TEST

/* f64 -> f32 -> (reshape with copy) -> backward gives the gradient in f64. */
START_TEST(cast_and_copy_backward) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = seq(2, SH(2, 3));
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_reshape(dc_transpose(dc_cast(x, DC_F32), 0, 1), 1, SH(6));
    TU_NOTNULL(y);
    dc_tensor *g = tu_f32(1, SH(6), VALS(10, 20, 30, 40, 50, 60));
    TU_OK(dc_backward(y, g, 0));
    dc_tensor *gx = dc_grad(x);
    ck_assert_int_eq(dc_tensor_dtype(gx), DC_F64);
    /* y = [x00 x10 x01 x11 x02 x12] */
    ASSERT_VALUES(gx, 10, 30, 50, 20, 40, 60);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* concat, stack                                                     */
/* ---------------------------------------------------------------- */

START_TEST(concat_values) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = tu_f64(2, SH(2, 2), VALS(1, 2, 3, 4));
    dc_tensor *b = tu_f64(2, SH(2, 1), VALS(5, 6));
    dc_tensor *c = dc_concat((dc_tensor *[]){a, b}, 2, 1);
    tu_assert_shape(c, 2, SH(2, 3));
    ASSERT_VALUES(c, 1, 2, 5, 3, 4, 6);
    ASSERT_VALUES(dc_concat((dc_tensor *[]){b, a, b}, 3, -1), 5, 1, 2, 5, 6, 3, 4, 6);
    dc_tensor *r = tu_f64(2, SH(1, 2), VALS(7, 8));
    ASSERT_VALUES(dc_concat((dc_tensor *[]){a, r, noncontig(a)}, 3, 0),
                  1, 2, 3, 4, 7, 8, 1, 2, 3, 4);
    /* one input: a copy */
    dc_tensor *one = dc_concat((dc_tensor *[]){a}, 1, 0);
    ASSERT_VALUES(one, 1, 2, 3, 4);
    ck_assert_ptr_ne(dc_data_ptr(one), dc_data_ptr(a));
    /* empty pieces */
    dc_tensor *e = dc_zeros(DC_F64, 2, SH(2, 0));
    ASSERT_VALUES(dc_concat((dc_tensor *[]){e, b, e}, 3, 1), 5, 6);
    /* ints */
    dc_tensor *ia = tu_i64(1, SH(2), (const int64_t[]){1, 2});
    dc_tensor *ic = dc_concat((dc_tensor *[]){ia, ia}, 2, 0);
    ck_assert_int_eq(dc_tensor_dtype(ic), DC_I64);
    ASSERT_VALUES(ic, 1, 2, 1, 2);
    dc_scope_end(s);
}
END_TEST

START_TEST(concat_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = seq(2, SH(2, 2));
    dc_tensor *a32 = dc_cast(a, DC_F32);
    dc_tensor *b = seq(2, SH(3, 3));
    dc_tensor *v = seq(1, SH(2));
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, a32}, 2, 0), DC_E_DTYPE);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, v}, 2, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, b}, 2, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, a}, 2, 2), DC_E_RANGE);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, a}, 2, -3), DC_E_RANGE);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, a}, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, a}, -1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_concat(NULL, 2, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){a, NULL}, 2, 0), DC_E_INVALID);
    dc_tensor *sc = dc_scalar(DC_F64, 1);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){sc, sc}, 2, 0), DC_E_RANGE);
    /* sizes past the element limit cannot be made, not even as an empty view */
    TU_NULL_WITH(dc_expand(dc_zeros(DC_U8, 2, SH(0, 1)), 2, SH(0, INT64_MAX / 2 + 1)),
                 DC_E_OVERFLOW);
    /* joined sizes that overflow: each input is just within the limit */
    dc_tensor *huge = dc_expand(dc_zeros(DC_U8, 2, SH(0, 1)), 2, SH(0, INT64_MAX / 16 - 1));
    TU_NOTNULL(huge);
    TU_NULL_WITH(dc_concat((dc_tensor *[]){huge, huge}, 2, 1), DC_E_OVERFLOW);
    dc_scope_end(s);
}
END_TEST

/* Many inputs (more than a node's iparams could describe). */
START_TEST(concat_backward_many_inputs) {
    dc_scope *s = dc_scope_begin();
    enum { N = 25 };
    dc_tensor *parts[N];
    for (int i = 0; i < N; i++) {
        int64_t len = 1 + i % 3;
        parts[i] = dc_full(DC_F64, 2, (const int64_t[]){2, len}, 0.0);
        TU_NOTNULL(parts[i]);
        if (i % 4 != 1) TU_OK(dc_set_requires_grad(parts[i], 1));
    }
    dc_tensor *c = dc_concat(parts, N, 1);
    TU_NOTNULL(c);
    int64_t cols = dc_size(c, 1);
    dc_tensor *g = seq(2, (const int64_t[]){2, cols});
    TU_OK(dc_backward(c, g, 0));
    int64_t at = 0;
    for (int i = 0; i < N; i++) {
        int64_t len = 1 + i % 3;
        if (i % 4 != 1) {
            dc_tensor *gi = dc_grad(parts[i]);
            tu_assert_shape(gi, 2, (const int64_t[]){2, len});
            for (int64_t j = 0; j < len; j++) {
                ck_assert(get(gi, (const int64_t[]){0, j}) == (double)(at + j));
                ck_assert(get(gi, (const int64_t[]){1, j}) == (double)(cols + at + j));
            }
        }
        at += len;
    }
    dc_scope_end(s);
}
END_TEST

START_TEST(stack_values) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = tu_f64(1, SH(2), VALS(1, 2));
    dc_tensor *b = tu_f64(1, SH(2), VALS(3, 4));
    dc_tensor *c = noncontig(tu_f64(1, SH(2), VALS(5, 6)));
    dc_tensor *s0 = dc_stack((dc_tensor *[]){a, b, c}, 3, 0);
    tu_assert_shape(s0, 2, SH(3, 2));
    ASSERT_VALUES(s0, 1, 2, 3, 4, 5, 6);
    dc_tensor *s1 = dc_stack((dc_tensor *[]){a, b, c}, 3, -1);
    tu_assert_shape(s1, 2, SH(2, 3));
    ASSERT_VALUES(s1, 1, 3, 5, 2, 4, 6);
    tu_assert_shape(dc_stack((dc_tensor *[]){a}, 1, 1), 2, SH(2, 1));
    dc_tensor *sc = dc_scalar(DC_F64, 9);
    ASSERT_VALUES(dc_stack((dc_tensor *[]){sc, sc}, 2, 0), 9, 9);
    /* many inputs */
    dc_tensor *many[12];
    for (int i = 0; i < 12; i++) many[i] = i % 2 ? a : b;
    tu_assert_shape(dc_stack(many, 12, 1), 2, SH(2, 12));

    dc_tensor *w = tu_f64(1, SH(3), VALS(1, 2, 3));
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, w}, 2, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, dc_cast(b, DC_F32)}, 2, 0), DC_E_DTYPE);
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, b}, 2, 2), DC_E_RANGE);
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, b}, 2, -3), DC_E_RANGE);
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, b}, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_stack(NULL, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_stack((dc_tensor *[]){a, NULL}, 2, 0), DC_E_INVALID);
    dc_tensor *full = dc_zeros(DC_F32, 8, SH(1, 1, 1, 1, 1, 1, 1, 1));
    TU_NULL_WITH(dc_stack((dc_tensor *[]){full}, 1, 0), DC_E_SHAPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* index_select, gather                                              */
/* ---------------------------------------------------------------- */

START_TEST(index_select_values) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *m = seq(2, SH(3, 4));
    dc_tensor *rows = dc_index_select(m, 0, tu_i64(1, SH(3), (const int64_t[]){2, 0, 2}));
    tu_assert_shape(rows, 2, SH(3, 4));
    ASSERT_VALUES(rows, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11);
    dc_tensor *i32 = dc_cast(tu_i64(1, SH(2), (const int64_t[]){3, 1}), DC_I32);
    ASSERT_VALUES(dc_index_select(m, -1, i32), 3, 1, 7, 5, 11, 9);
    /* non-contiguous tensor and index */
    dc_tensor *nidx = noncontig(tu_i64(1, SH(2), (const int64_t[]){1, 1}));
    ck_assert_int_eq(dc_is_contiguous(nidx), 0);
    ASSERT_VALUES(dc_index_select(noncontig(m), 0, nidx), 4, 5, 6, 7, 4, 5, 6, 7);
    /* empty index */
    tu_assert_shape(dc_index_select(m, 1, tu_i64(1, SH(0), NULL)), 2, SH(3, 0));
    /* ints */
    dc_tensor *im = dc_cast(m, DC_I32);
    ASSERT_VALUES(dc_index_select(im, 1, i32), 3, 1, 7, 5, 11, 9);
    /* an inner axis (3 rows around it) picking 3 of 4 columns, with a
     * repeat, and its gradient: runs of one element copied and added back
     * a row of 4 apart in the input, 3 in the output */
    dc_tensor *mg = seq(2, SH(3, 4));
    TU_OK(dc_set_requires_grad(mg, 1));
    dc_tensor *cols = dc_index_select(mg, 1, tu_i64(1, SH(3), (const int64_t[]){3, 1, 3}));
    ASSERT_VALUES(cols, 3, 1, 3, 7, 5, 7, 11, 9, 11);
    TU_OK(dc_backward(cols, dc_add_scalar(seq(2, SH(3, 3)), 1.0), 0));
    ASSERT_VALUES(dc_grad(mg), 0, 2, 0, 4, 0, 5, 0, 10, 0, 8, 0, 16);
    /* empty rows under a huge outer size: nothing to copy, at once (a
     * loop over the 2^26 x 64 empty rows would take seconds) */
    dc_tensor *e = dc_zeros(DC_F32, 3, SH((int64_t)1 << 26, 4, 0));
    TU_OK(dc_set_requires_grad(e, 1));
    int64_t many[64] = {0};
    dc_tensor *ey = dc_index_select(e, 1, tu_i64(1, SH(64), many));
    tu_assert_shape(ey, 3, SH((int64_t)1 << 26, 64, 0));
    TU_OK(dc_backward(dc_sum(ey, NULL, 0, 0), NULL, 0));
    tu_assert_shape(dc_grad(e), 3, SH((int64_t)1 << 26, 4, 0));
    /* 3-D with repeats and its gradient, against PyTorch */
    dc_tensor *x = dc_add_scalar(dc_mul_scalar(seq(3, SH(2, 3, 4)), 0.5), -1.0);
    TU_NOTNULL(x);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_index_select(x, 2, tu_i64(1, SH(4), (const int64_t[]){3, 0, 3, 1}));
    double *want = tu_read_fixture("views_isel_out.f64", 24 * sizeof(double));
    tu_assert_values(y, want, 24, 0, 0);
    free(want);
    TU_OK(dc_backward(y, dc_add_scalar(seq(3, SH(2, 3, 4)), 1.0), 0));
    want = tu_read_fixture("views_isel_grad.f64", 24 * sizeof(double));
    tu_assert_values(dc_grad(x), want, 24, 0, 0);
    free(want);
    dc_scope_end(s);
}
END_TEST

START_TEST(index_select_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *m = seq(2, SH(3, 4));
    dc_tensor *ok = tu_i64(1, SH(1), (const int64_t[]){0});
    TU_NULL_WITH(dc_index_select(m, 0, tu_i64(1, SH(2), (const int64_t[]){0, -1})), DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "-1") != NULL, "%s", dc_last_error());
    TU_NULL_WITH(dc_index_select(m, 0, tu_i64(1, SH(2), (const int64_t[]){5, 0})), DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "5") != NULL, "%s", dc_last_error());
    TU_NULL_WITH(dc_index_select(m, 0, dc_cast(ok, DC_F32)), DC_E_DTYPE);
    TU_NULL_WITH(dc_index_select(m, 0, dc_cast(ok, DC_U8)), DC_E_DTYPE);
    TU_NULL_WITH(dc_index_select(m, 0, tu_i64(2, SH(1, 1), (const int64_t[]){0})), DC_E_SHAPE);
    TU_NULL_WITH(dc_index_select(m, 2, ok), DC_E_RANGE);
    TU_NULL_WITH(dc_index_select(m, -3, ok), DC_E_RANGE);
    TU_NULL_WITH(dc_index_select(dc_scalar(DC_F64, 1), 0, ok), DC_E_RANGE);
    TU_NULL_WITH(dc_index_select(NULL, 0, ok), DC_E_INVALID);
    TU_NULL_WITH(dc_index_select(m, 0, NULL), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

START_TEST(gather_values) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = tu_f64(2, SH(2, 3), VALS(1, 2, 3, 4, 5, 6));
    dc_tensor *idx = tu_i64(2, SH(2, 2), (const int64_t[]){0, 0, 2, 1});
    ASSERT_VALUES(dc_gather(t, 1, idx), 1, 1, 6, 5);
    /* axis 0; index smaller than t off the axis */
    dc_tensor *i0 = tu_i64(2, SH(1, 2), (const int64_t[]){1, 0});
    ASSERT_VALUES(dc_gather(t, 0, i0), 4, 2);
    dc_tensor *i3 = tu_i64(2, SH(3, 3), (const int64_t[]){1, 0, 1, 0, 0, 0, 1, 1, 1});
    ASSERT_VALUES(dc_gather(t, 0, dc_narrow(i3, 0, 0, 3)), 4, 2, 6, 1, 2, 3, 4, 5, 6);
    /* non-contiguous tensor and index (transposed), i32 */
    dc_tensor *nidx = dc_transpose(dc_cast(idx, DC_I32), 0, 1);   /* [[0,2],[0,1]] */
    ASSERT_VALUES(dc_gather(noncontig(t), -1, nidx), 1, 3, 4, 5);
    tu_assert_shape(dc_gather(t, 1, tu_i64(2, SH(2, 0), NULL)), 2, SH(2, 0));
    /* 3-D along axis 1, and its gradient, against PyTorch */
    dc_tensor *x = dc_add_scalar(dc_mul_scalar(seq(3, SH(2, 3, 4)), 0.5), -1.0);
    TU_NOTNULL(x);
    TU_OK(dc_set_requires_grad(x, 1));
    int64_t *gi = tu_read_fixture("views_gather_idx.i64", 12 * sizeof(int64_t));
    dc_tensor *y = dc_gather(x, 1, tu_i64(3, SH(2, 2, 3), gi));
    free(gi);
    double *want = tu_read_fixture("views_gather_out.f64", 12 * sizeof(double));
    tu_assert_values(y, want, 12, 0, 0);
    free(want);
    TU_OK(dc_backward(y, dc_add_scalar(seq(3, SH(2, 2, 3)), 1.0), 0));
    want = tu_read_fixture("views_gather_grad.f64", 24 * sizeof(double));
    tu_assert_values(dc_grad(x), want, 24, 0, 0);
    free(want);
    dc_scope_end(s);
}
END_TEST

START_TEST(gather_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = seq(2, SH(2, 3));
    dc_tensor *ok = tu_i64(2, SH(1, 1), (const int64_t[]){0});
    TU_NULL_WITH(dc_gather(t, 1, tu_i64(2, SH(1, 2), (const int64_t[]){0, 7})), DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "7") != NULL, "%s", dc_last_error());
    TU_NULL_WITH(dc_gather(t, 1, tu_i64(2, SH(1, 1), (const int64_t[]){-2})), DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "-2") != NULL, "%s", dc_last_error());
    TU_NULL_WITH(dc_gather(t, 1, tu_i64(1, SH(1), (const int64_t[]){0})), DC_E_SHAPE);
    TU_NULL_WITH(dc_gather(t, 1, tu_i64(2, SH(3, 1), (const int64_t[]){0, 0, 0})), DC_E_SHAPE);
    TU_NULL_WITH(dc_gather(t, 1, dc_cast(ok, DC_F64)), DC_E_DTYPE);
    TU_NULL_WITH(dc_gather(t, 1, dc_cast(ok, DC_BOOL)), DC_E_DTYPE);
    TU_NULL_WITH(dc_gather(t, 2, ok), DC_E_RANGE);
    TU_NULL_WITH(dc_gather(t, -3, ok), DC_E_RANGE);
    TU_NULL_WITH(dc_gather(dc_scalar(DC_F64, 1), 0, dc_scalar(DC_I64, 0)), DC_E_RANGE);
    TU_NULL_WITH(dc_gather(NULL, 0, ok), DC_E_INVALID);
    TU_NULL_WITH(dc_gather(t, 0, NULL), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Autodiff through views, and allocation failures                    */
/* ---------------------------------------------------------------- */

START_TEST(view_family_backward) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = seq(2, SH(2, 3));
    TU_OK(dc_set_requires_grad(x, 1));
    /* y = x^T[0:3:2, :] expanded to (2, 2, 2), unsqueezed, squeezed */
    dc_tensor *y = dc_squeeze(dc_unsqueeze(dc_expand(dc_slice(dc_transpose(x, 0, 1), 0, 0, 3, 2),
                                                     3, SH(2, 2, 2)), 0), 0);
    TU_NOTNULL(y);
    TU_OK(dc_backward(y, seq(3, SH(2, 2, 2)), 0));
    /* y[b][i][j] = x[j][2i]; dx[j][2i] = sum_b g[b][i][j] */
    ASSERT_VALUES(dc_grad(x), 0 + 4, 0, 2 + 6, 1 + 5, 0, 3 + 7);
    /* narrow + view + permute */
    TU_OK(dc_zero_grad(x));
    dc_tensor *z = dc_permute(dc_view(dc_narrow(x, 1, 1, 2), 3, SH(2, 1, 2)),
                              (const int[]){2, 1, 0});
    TU_NOTNULL(z);
    TU_OK(dc_backward(z, tu_f64(3, SH(2, 1, 2), VALS(1, 2, 3, 4)), 0));
    /* z[k][0][i] = x[i][1+k] */
    ASSERT_VALUES(dc_grad(x), 0, 1, 3, 0, 2, 4);
    dc_scope_end(s);
}
END_TEST

/* The ops of this family with recording on, failing each allocation in
 * turn: each failure is clean (DC_E_NOMEM, nothing left alive). */
static bool run_family(void *arg) {
    (void)arg;
    dc_tensor *x = dc_zeros(DC_F64, 2, SH(3, 4));
    if (!x || dc_set_requires_grad(x, 1) != DC_OK) return false;
    dc_tensor *idx = dc_zeros(DC_I64, 1, SH(2));
    dc_tensor *gidx = dc_zeros(DC_I64, 2, SH(3, 4));
    dc_tensor *r = dc_reshape(dc_transpose(x, 0, 1), 1, SH(12));
    dc_tensor *c = dc_concat((dc_tensor *[]){x, x, x}, 3, 0);
    dc_tensor *st = dc_stack((dc_tensor *[]){x, x, x, x, x, x, x, x, x}, 9, 1);
    dc_tensor *is = dc_index_select(x, 1, idx);
    dc_tensor *g = dc_gather(x, 0, gidx);
    dc_tensor *k = dc_cast(dc_contiguous(dc_expand(dc_slice(x, 0, 0, 1, 1), 2, SH(2, 4))), DC_F32);
    return r && c && st && is && g && k;
}

START_TEST(allocation_failures_are_clean) {
    ck_assert_int_gt(tu_fail_each_allocation(run_family, NULL, 1000), 10);
}
END_TEST

int main(void) {
    Suite *s = suite_create("views");
    TCase *tc = tu_tcase("views");
    tcase_add_test(tc, view_of_contiguous_shares_storage);
    tcase_add_test(tc, view_splits_and_merges_strided_axes);
    tcase_add_test(tc, view_fails_on_transposed_reshape_copies);
    tcase_add_test(tc, reshape_is_a_view_when_it_can_be);
    tcase_add_test(tc, view_and_reshape_bad_input);
    tcase_add_test(tc, flatten_ranges);
    tcase_add_test(tc, squeeze_and_unsqueeze);
    tcase_add_test(tc, permute_values_and_strides);
    tcase_add_test(tc, permute_bad_input);
    tcase_add_test(tc, slice_clamps_like_python);
    tcase_add_test(tc, slice_of_matrices);
    tcase_add_test(tc, narrow_is_strict);
    tcase_add_test(tc, slice_bad_input);
    tcase_add_test(tc, expand_broadcasts_with_zero_strides);
    suite_add_tcase(s, tc);
    TCase *cp = tu_tcase("copy");
    tcase_add_test(cp, clone_and_contiguous);
    tcase_add_test(cp, cast_converts);
    tcase_add_test(cp, recording_of_copies_and_casts);
    tcase_add_test(cp, cast_and_copy_backward);
    suite_add_tcase(s, cp);
    TCase *jn = tu_tcase("join");
    tcase_add_test(jn, concat_values);
    tcase_add_test(jn, concat_bad_input);
    tcase_add_test(jn, concat_backward_many_inputs);
    tcase_add_test(jn, stack_values);
    suite_add_tcase(s, jn);
    TCase *ix = tu_tcase("index");
    tcase_add_test(ix, index_select_values);
    tcase_add_test(ix, index_select_bad_input);
    tcase_add_test(ix, gather_values);
    tcase_add_test(ix, gather_bad_input);
    suite_add_tcase(s, ix);
    TCase *ad = tu_tcase("autodiff");
    tcase_add_test(ad, view_family_backward);
    tcase_add_test(ad, allocation_failures_are_clean);
    suite_add_tcase(s, ad);
    return tu_run(s);
}
