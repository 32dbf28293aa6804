/* Tensors: making them, inspecting them, reading and writing elements. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

START_TEST(zeros_ones_full_scalar) {
    int64_t shape[3] = {2, 3, 4};
    dc_tensor *z = dc_zeros(DC_F32, 3, shape);
    dc_tensor *o = dc_ones(DC_I32, 3, shape);
    dc_tensor *f = dc_full(DC_F64, 3, shape, -2.5);
    dc_tensor *s = dc_scalar(DC_I64, 7);
    tu_assert_shape(z, 3, shape);
    ck_assert_int_eq(dc_numel(z), 24);
    ck_assert_int_eq(dc_tensor_dtype(o), DC_I32);
    double zw[24], ow[24], fw[24];
    for (int i = 0; i < 24; i++) zw[i] = 0, ow[i] = 1, fw[i] = -2.5;
    tu_assert_values(z, zw, 24, 0, 0);
    tu_assert_values(o, ow, 24, 0, 0);
    tu_assert_values(f, fw, 24, 0, 0);
    ck_assert_int_eq(dc_ndim(s), 0);
    ck_assert_int_eq(dc_numel(s), 1);
    double v;
    TU_OK(dc_item(s, &v));
    ck_assert_double_eq(v, 7);
    const int64_t *st = dc_strides(z);
    ck_assert_int_eq(st[0], 12);
    ck_assert_int_eq(st[1], 4);
    ck_assert_int_eq(st[2], 1);
    ck_assert_int_eq(dc_is_contiguous(z), 1);
    ck_assert_int_eq(dc_size(z, -1), 4);
    ck_assert_int_eq(dc_size(z, 0), 2);
    dc_release(z);
    dc_release(o);
    dc_release(f);
    dc_release(s);
}
END_TEST

START_TEST(up_to_eight_dims_and_empty) {
    int64_t shape[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    dc_tensor *t = dc_ones(DC_U8, 8, shape);
    ck_assert_int_eq(dc_numel(t), 16);
    dc_release(t);
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    TU_NULL_WITH(dc_zeros(DC_F32, 9, nine), DC_E_SHAPE);
    TU_NULL_WITH(dc_zeros(DC_F32, -1, nine), DC_E_SHAPE);
    TU_NULL_WITH(dc_zeros(DC_F32, 2, NULL), DC_E_INVALID);
    /* empty, but its strides would overflow */
    TU_NULL_WITH(dc_zeros(DC_F32, 4, (int64_t[]){0, 4, INT64_MAX / 4, 5}), DC_E_OVERFLOW);
    int64_t empty[2] = {0, 5};
    dc_tensor *e = dc_zeros(DC_F32, 2, empty);
    ck_assert_int_eq(dc_numel(e), 0);
    TU_OK(dc_copy_to(e, DC_F32, NULL, 0));
    double v;
    TU_FAILS(dc_item(e, &v), DC_E_SHAPE);
    dc_release(e);
}
END_TEST

START_TEST(arange_like_numpy) {
    dc_tensor *a = dc_arange(DC_I64, 0, 5, 1);
    const double w1[5] = {0, 1, 2, 3, 4};
    tu_assert_values(a, w1, 5, 0, 0);
    dc_tensor *b = dc_arange(DC_F64, 1, 0, -0.25);
    const double w2[4] = {1, 0.75, 0.5, 0.25};
    tu_assert_values(b, w2, 4, 0, 0);
    dc_tensor *c = dc_arange(DC_F32, 3, 3, 1);
    ck_assert_int_eq(dc_numel(c), 0);
    dc_tensor *d = dc_arange(DC_F32, 0, 1, 0.3);   /* ceil(1/0.3) = 4 */
    const double w4[4] = {0, 0.3, 0.6, 0.9};
    tu_assert_values(d, w4, 4, 1e-6, 0);
    dc_release(a);
    dc_release(b);
    dc_release(c);
    dc_release(d);
    TU_NULL_WITH(dc_arange(DC_F32, 0, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_arange(DC_F32, 0, INFINITY, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_arange(DC_F32, 0, 1e30, 1e-30), DC_E_OVERFLOW);
}
END_TEST

START_TEST(from_data_copies) {
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    dc_tensor *t = dc_from_data(DC_F32, 2, shape, buf);
    buf[0] = 100;   /* the tensor has its own copy */
    const double want[6] = {1, 2, 3, 4, 5, 6};
    tu_assert_values(t, want, 6, 0, 0);
    ck_assert_ptr_ne(dc_data_ptr(t), buf);
    dc_release(t);
    TU_NULL_WITH(dc_from_data(DC_F32, 2, shape, NULL), DC_E_INVALID);
}
END_TEST

static int released_count;
static void count_release(void *data, void *ctx) {
    ck_assert_ptr_eq(data, ctx);
    released_count++;
}

/* A large strided copy runs on the pool, split by the first axis: every
 * element lands where it belongs on 1 and on 2 threads (f32 transposed,
 * and an f64 -> f32 conversion of a sliced view). */
START_TEST(large_copies_on_the_pool) {
    enum { R = 300, C = 700 };
    /* 2 threads first: a part left out would show in fresh memory, where
     * a second run may get the first one's block back */
    for (int threads = 2; threads >= 1; threads--) {
        TU_OK(dc_set_num_threads(threads));
        dc_scope *s = dc_scope_begin();
        dc_tensor *x = dc_arange(DC_F32, 0, R * C, 1);
        dc_tensor *m = dc_reshape(x, 2, (const int64_t[]){R, C});
        dc_tensor *t = dc_contiguous(dc_transpose(m, 0, 1));   /* (C, R) */
        TU_NOTNULL(t);
        float *v = malloc((size_t)R * C * sizeof *v);
        ck_assert_ptr_nonnull(v);
        TU_OK(dc_copy_to(t, DC_F32, v, (size_t)R * C * sizeof *v));
        for (int i = 0; i < C; i++)
            for (int j = 0; j < R; j++)
                ck_assert_msg(v[i * R + j] == (float)(j * C + i), "t[%d][%d] = %g", i, j,
                              v[i * R + j]);
        dc_tensor *d = dc_arange(DC_F64, 0, 2 * R * C, 1);
        dc_tensor *every_other = dc_slice(dc_reshape(d, 2, (const int64_t[]){2 * R, C}), 0, 0,
                                          2 * R, 2);   /* (R, C), rows 0, 2, 4, ... */
        dc_tensor *f = dc_cast(every_other, DC_F32);
        TU_NOTNULL(f);
        TU_OK(dc_copy_to(f, DC_F32, v, (size_t)R * C * sizeof *v));
        for (int i = 0; i < R; i++)
            for (int j = 0; j < C; j++)
                ck_assert_msg(v[i * C + j] == (float)(2 * i * C + j), "f[%d][%d] = %g", i, j,
                              v[i * C + j]);
        free(v);
        dc_scope_end(s);
    }
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Zero-filled tensors over 1 MiB are zeroed on the pool (tensor.c): a
 * block freed full of ones and taken again comes back all zeros, to its
 * last byte (a size that is not whole cache lines), on 2 threads and 1. */
START_TEST(large_zeros_on_the_pool) {
    const int64_t n = 300007;   /* 1.2 MB of f32 */
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int threads = 2; threads >= 1; threads--) {
        TU_OK(dc_set_num_threads(threads));
        dc_tensor *ones = dc_ones(DC_F32, 1, &n);
        TU_NOTNULL(ones);
        dc_release(ones);
        dc_tensor *z = dc_zeros(DC_F32, 1, &n);
        TU_NOTNULL(z);
        TU_OK(dc_copy_to(z, DC_F32, v, (size_t)n * sizeof *v));
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(v[i] == 0.0f, "threads %d: zeros[%lld] = %g", threads, (long long)i,
                          v[i]);
        dc_release(z);
    }
    free(v);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

START_TEST(wrap_data_shares_and_calls_release_once) {
    double buf[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    released_count = 0;
    dc_tensor *t = dc_wrap_data(DC_F64, 2, shape, buf, count_release, buf);
    TU_NOTNULL(t);
    ck_assert_ptr_eq(dc_data_ptr(t), buf);
    buf[3] = 40;   /* no copy: the change shows */
    double v;
    int64_t idx[2] = {1, 1};
    TU_OK(dc_get(t, idx, &v));
    ck_assert_double_eq(v, 40);
    /* a view keeps the buffer alive after the tensor goes */
    dc_tensor *view = dc_transpose(t, 0, 1);
    TU_NOTNULL(view);
    dc_release(t);
    ck_assert_int_eq(released_count, 0);
    dc_release(view);
    ck_assert_int_eq(released_count, 1);
    /* no callback, and bad input: the buffer stays the caller's */
    dc_tensor *u = dc_wrap_data(DC_F64, 2, shape, buf, NULL, NULL);
    TU_NOTNULL(u);
    dc_release(u);
    TU_NULL_WITH(dc_wrap_data(DC_F64, 2, shape, NULL, NULL, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_wrap_data(DC_F64, 2, shape, (char *)buf + 1, count_release, buf),
                 DC_E_INVALID);
    int64_t neg[2] = {2, -2};
    TU_NULL_WITH(dc_wrap_data(DC_F64, 2, neg, buf, count_release, buf), DC_E_SHAPE);
    ck_assert_int_eq(released_count, 1);
}
END_TEST

START_TEST(copy_to_converts_dtypes) {
    int64_t shape[1] = {5};
    const double vals[5] = {-2.7, -0.5, 0, 1.9, 300};
    dc_tensor *t = tu_f64(1, shape, vals);
    int32_t i32[5];
    TU_OK(dc_copy_to(t, DC_I32, i32, sizeof i32));
    ck_assert_int_eq(i32[0], -2);   /* truncation toward zero */
    ck_assert_int_eq(i32[1], 0);
    ck_assert_int_eq(i32[3], 1);
    ck_assert_int_eq(i32[4], 300);
    uint8_t u8[5];
    TU_OK(dc_copy_to(t, DC_U8, u8, sizeof u8));
    ck_assert_int_eq(u8[0], 0);     /* saturates */
    ck_assert_int_eq(u8[4], 255);
    uint8_t b[5];
    TU_OK(dc_copy_to(t, DC_BOOL, b, sizeof b));
    ck_assert_int_eq(b[0], 1);
    ck_assert_int_eq(b[2], 0);
    float f[5];
    TU_FAILS(dc_copy_to(t, DC_F32, f, sizeof f - 1), DC_E_RANGE);
    TU_FAILS(dc_copy_to(t, (dc_dtype)77, f, sizeof f), DC_E_DTYPE);
    TU_FAILS(dc_copy_to(NULL, DC_F32, f, sizeof f), DC_E_INVALID);
    TU_FAILS(dc_copy_to(t, DC_F32, NULL, sizeof f), DC_E_INVALID);
    dc_release(t);
}
END_TEST

START_TEST(int64_values_stay_exact) {
    int64_t big[3] = {(1LL << 53) + 1, INT64_MAX, INT64_MIN};
    int64_t shape[1] = {3};
    dc_tensor *t = dc_from_data(DC_I64, 1, shape, big);
    int64_t back[3];
    TU_OK(dc_copy_to(t, DC_I64, back, sizeof back));
    ck_assert(memcmp(back, big, sizeof big) == 0);
    dc_tensor *c = dc_empty(DC_I64, 1, shape);
    TU_OK(dc_copy_from(c, DC_I64, big, sizeof big));
    TU_OK(dc_copy_to(c, DC_I64, back, sizeof back));
    ck_assert(memcmp(back, big, sizeof big) == 0);
    dc_release(t);
    dc_release(c);
}
END_TEST

START_TEST(copy_from_writes_views_in_row_major_order) {
    int64_t shape[2] = {2, 3};
    dc_tensor *t = dc_zeros(DC_F32, 2, shape);
    dc_tensor *tt = dc_transpose(t, 0, 1);   /* (3, 2) */
    ck_assert_int_eq(dc_is_contiguous(tt), 0);
    const int32_t src[6] = {1, 2, 3, 4, 5, 6};   /* tt rows: [1 2] [3 4] [5 6] */
    TU_OK(dc_copy_from(tt, DC_I32, src, sizeof src));
    const double want[6] = {1, 3, 5, 2, 4, 6};
    tu_assert_values(t, want, 6, 0, 0);
    TU_FAILS(dc_copy_from(tt, DC_I32, src, 5), DC_E_RANGE);
    TU_FAILS(dc_copy_from(tt, DC_I32, NULL, sizeof src), DC_E_INVALID);
    dc_release(tt);
    dc_release(t);
}
END_TEST

START_TEST(get_set_fill_item) {
    int64_t shape[2] = {3, 4};
    dc_tensor *t = dc_zeros(DC_I32, 2, shape);
    int64_t idx[2] = {-1, 2};
    TU_OK(dc_set(t, idx, 9.7));
    double v;
    int64_t same[2] = {2, -2};
    TU_OK(dc_get(t, same, &v));
    ck_assert_double_eq(v, 9);
    int64_t out_of_range[2] = {3, 0};
    TU_FAILS(dc_get(t, out_of_range, &v), DC_E_RANGE);
    TU_FAILS(dc_set(t, out_of_range, 1), DC_E_RANGE);
    int64_t neg[2] = {-4, 0};
    TU_FAILS(dc_get(t, neg, &v), DC_E_RANGE);
    TU_FAILS(dc_get(t, NULL, &v), DC_E_INVALID);
    TU_FAILS(dc_get(t, idx, NULL), DC_E_INVALID);
    TU_FAILS(dc_item(t, &v), DC_E_SHAPE);
    TU_OK(dc_fill(t, -3));
    double want[12];
    for (int i = 0; i < 12; i++) want[i] = -3;
    tu_assert_values(t, want, 12, 0, 0);
    /* fill through a strided view touches only the view */
    dc_tensor *col = dc_slice(t, 1, 1, 4, 2);   /* columns 1 and 3 */
    TU_OK(dc_fill(col, 5));
    const double w2[12] = {-3, 5, -3, 5, -3, 5, -3, 5, -3, 5, -3, 5};
    tu_assert_values(t, w2, 12, 0, 0);
    dc_release(col);
    dc_release(t);
    TU_FAILS(dc_fill(NULL, 1), DC_E_INVALID);
    TU_FAILS(dc_item(NULL, &v), DC_E_INVALID);
    TU_FAILS(dc_set(NULL, idx, 1), DC_E_INVALID);
}
END_TEST

START_TEST(accessors_reject_null) {
    ck_assert_int_eq(dc_ndim(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    ck_assert_int_eq(dc_numel(NULL), -1);
    ck_assert_int_eq(dc_size(NULL, 0), -1);
    ck_assert_ptr_null(dc_shape(NULL));
    ck_assert_ptr_null(dc_strides(NULL));
    ck_assert_ptr_null(dc_data_ptr(NULL));
    ck_assert_int_eq(dc_is_contiguous(NULL), -1);
    ck_assert_int_eq((int)dc_tensor_dtype(NULL), -1);
    int64_t shape[1] = {2};
    dc_tensor *t = dc_zeros(DC_F32, 1, shape);
    dc_clear_error();
    ck_assert_int_eq(dc_size(t, 1), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_RANGE);
    dc_release(t);
}
END_TEST

START_TEST(like_constructors) {
    int64_t shape[2] = {2, 2};
    dc_tensor *t = dc_full(DC_F64, 2, shape, 3);
    dc_tensor *z = dc_zeros_like(t);
    dc_tensor *o = dc_ones_like(t);
    const double zw[4] = {0, 0, 0, 0}, ow[4] = {1, 1, 1, 1};
    tu_assert_values(z, zw, 4, 0, 0);
    tu_assert_values(o, ow, 4, 0, 0);
    ck_assert_int_eq(dc_tensor_dtype(o), DC_F64);
    dc_release(t);
    dc_release(z);
    dc_release(o);
    TU_NULL_WITH(dc_ones_like(NULL), DC_E_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tensor");
    TCase *tc = tu_tcase("make");
    tcase_add_test(tc, zeros_ones_full_scalar);
    tcase_add_test(tc, large_copies_on_the_pool);
    tcase_add_test(tc, large_zeros_on_the_pool);
    tcase_add_test(tc, up_to_eight_dims_and_empty);
    tcase_add_test(tc, arange_like_numpy);
    tcase_add_test(tc, from_data_copies);
    tcase_add_test(tc, wrap_data_shares_and_calls_release_once);
    tcase_add_test(tc, like_constructors);
    suite_add_tcase(s, tc);
    tc = tu_tcase("read_write");
    tcase_add_test(tc, copy_to_converts_dtypes);
    tcase_add_test(tc, int64_values_stay_exact);
    tcase_add_test(tc, copy_from_writes_views_in_row_major_order);
    tcase_add_test(tc, get_set_fill_item);
    tcase_add_test(tc, accessors_reject_null);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
