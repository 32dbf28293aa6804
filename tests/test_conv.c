/* Convolutions and pooling against PyTorch 1.13: forward values and the
 * gradients of sum(out * gout) for every case of the tables below (the
 * same tables, in the same order, as tests/fixtures/gen_conv.py, which
 * wrote the conv_*.f64 fixtures), in f64 and f32, with contiguous and
 * non-contiguous inputs. Then hand-checked corner cases (ties, padding
 * that never wins, empty batches, partial requires_grad) and bad input
 * for every function. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SH(...) ((const int64_t[]){__VA_ARGS__})

static const dc_dtype dtypes[] = {DC_F64, DC_F32};

static double atol_of(dc_dtype dt) { return dt == DC_F64 ? 1e-10 : 1e-5; }
static double rtol_of(dc_dtype dt) { return dt == DC_F64 ? 1e-10 : 1e-5; }

static int64_t numel_of(int nd, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= shape[i];
    return n;
}

/* A leaf of dtype with the given values, optionally with strided storage,
 * optionally requiring grad. Owned by the innermost scope. */
static dc_tensor *leaf(dc_dtype dt, int nd, const int64_t *shape, const double *v,
                       int noncontig, int requires_grad) {
    dc_tensor *t = dt == DC_F64 ? tu_f64(nd, shape, v) : tu_f32(nd, shape, v);
    TU_NOTNULL(t);
    if (noncontig) t = tu_noncontig(t);
    if (requires_grad) TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

/* The gradient of t compared with want. */
static void assert_grad(dc_tensor *t, const double *want, dc_dtype dt) {
    dc_tensor *g = dc_grad(t);
    TU_NOTNULL(g);
    ck_assert_int_eq(dc_tensor_dtype(g), dt);
    tu_assert_shape(g, dc_ndim(t), dc_shape(t));
    tu_assert_values(g, want, dc_numel(t), atol_of(dt), rtol_of(dt));
}

/* ---------------------------------------------------------------- */
/* Convolutions vs PyTorch                                           */
/* ---------------------------------------------------------------- */

typedef struct conv_case {
    const char *name;
    int nd;                 /* 4: conv2d, 3: conv1d (uses entry 0 of the pairs) */
    int64_t x[4], w[4];
    int bias;
    int64_t stride[2], pad[2], dil[2], groups;
} conv_case;

static const conv_case conv_cases[] = {
    {"basic", 4, {2, 3, 5, 6}, {4, 3, 3, 3}, 1, {1, 1}, {0, 0}, {1, 1}, 1},
    {"stride2_pad1", 4, {2, 3, 7, 6}, {4, 3, 3, 3}, 1, {2, 2}, {1, 1}, {1, 1}, 1},
    {"dilation2", 4, {1, 2, 7, 7}, {2, 2, 3, 3}, 1, {1, 1}, {2, 2}, {2, 2}, 1},
    {"mixed", 4, {1, 2, 7, 9}, {3, 2, 3, 2}, 1, {2, 1}, {1, 2}, {2, 3}, 1},
    {"groups2", 4, {2, 4, 5, 5}, {6, 2, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, 2},
    {"depthwise", 4, {1, 3, 5, 4}, {6, 1, 3, 3}, 1, {1, 2}, {1, 1}, {1, 1}, 3},
    {"k1x1_nobias", 4, {2, 5, 4, 3}, {3, 5, 1, 1}, 0, {1, 1}, {0, 0}, {1, 1}, 1},
    {"rect_nobias", 4, {1, 3, 6, 5}, {2, 3, 2, 4}, 0, {2, 1}, {0, 1}, {1, 1}, 1},
    {"c1d", 3, {2, 3, 10}, {4, 3, 3}, 1, {2}, {1}, {1}, 1},
    {"c1d_groups_nobias", 3, {1, 4, 9}, {4, 2, 2}, 0, {1}, {2}, {3}, 2},
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof *conv_cases))

/* Output shape by PyTorch's formula, written out here. */
static void conv_out_shape(const conv_case *c, int64_t *out) {
    out[0] = c->x[0];
    out[1] = c->w[0];
    for (int a = 2; a < c->nd; a++) {
        int k = a - 2;
        out[a] = (c->x[a] + 2 * c->pad[k] - c->dil[k] * (c->w[a] - 1) - 1) / c->stride[k] + 1;
    }
}

static dc_tensor *run_conv(const conv_case *c, dc_tensor *x, dc_tensor *w, dc_tensor *b) {
    if (c->nd == 3)
        return dc_conv1d(x, w, b, c->stride[0], c->pad[0], c->dil[0], c->groups);
    return dc_conv2d(x, w, b, c->stride, c->pad, c->dil, c->groups);
}

static void check_conv(const conv_case *c, const double *v, dc_dtype dt, int noncontig) {
    int64_t oshape[4];
    conv_out_shape(c, oshape);
    int64_t nx = numel_of(c->nd, c->x), nw = numel_of(c->nd, c->w);
    int64_t nb = c->bias ? c->w[0] : 0, no = numel_of(c->nd, oshape);
    const double *vx = v, *vw = vx + nx, *vb = vw + nw, *vgout = vb + nb;
    const double *vout = vgout + no, *vgx = vout + no, *vgw = vgx + nx, *vgb = vgw + nw;

    dc_scope *s = dc_scope_begin();
    dc_tensor *x = leaf(dt, c->nd, c->x, vx, noncontig, 1);
    ck_assert_int_eq(dc_is_contiguous(x), !noncontig);
    dc_tensor *w = leaf(dt, c->nd, c->w, vw, noncontig, 1);
    dc_tensor *b = c->bias ? leaf(dt, 1, SH(c->w[0]), vb, noncontig, 1) : NULL;
    dc_tensor *y = run_conv(c, x, w, b);
    TU_NOTNULL(y);
    ck_assert_int_eq(dc_tensor_dtype(y), dt);
    tu_assert_shape(y, c->nd, oshape);
    tu_assert_values(y, vout, no, atol_of(dt), rtol_of(dt));
    dc_tensor *gout = leaf(dt, c->nd, oshape, vgout, noncontig, 0);
    TU_OK(dc_backward(y, gout, 0));
    assert_grad(x, vgx, dt);
    assert_grad(w, vgw, dt);
    if (b) assert_grad(b, vgb, dt);
    dc_scope_end(s);
}

START_TEST(conv_vs_torch) {
    const conv_case *c = &conv_cases[_i];
    int64_t oshape[4];
    conv_out_shape(c, oshape);
    int64_t nx = numel_of(c->nd, c->x), nw = numel_of(c->nd, c->w);
    int64_t nb = c->bias ? c->w[0] : 0, no = numel_of(c->nd, oshape);
    int64_t total = 2 * (nx + nw + nb + no);
    char file[96];
    snprintf(file, sizeof file, "conv_%s.f64", c->name);
    double *v = tu_read_fixture(file, (size_t)total * sizeof(double));
    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++)
        for (int nc = 0; nc <= 1; nc++) check_conv(c, v, dtypes[d], nc);
    free(v);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Pooling vs PyTorch                                                */
/* ---------------------------------------------------------------- */

enum { MAXP, AVGP, ADAP };

typedef struct pool_case {
    const char *name;
    int kind;
    int64_t x[4];
    int64_t k[2];           /* kernel; adaptive: the output size */
    int has_stride, has_pad;
    int64_t stride[2], pad[2];
    int count_include_pad;
} pool_case;

static const pool_case pool_cases[] = {
    {"max_k2", MAXP, {2, 3, 6, 7}, {2, 2}, 0, 0, {0, 0}, {0, 0}, 0},
    {"max_k3s2p1", MAXP, {1, 2, 7, 6}, {3, 3}, 1, 1, {2, 2}, {1, 1}, 0},
    {"max_rect", MAXP, {2, 2, 5, 7}, {3, 2}, 1, 1, {2, 1}, {1, 0}, 0},
    {"max_ties", MAXP, {1, 2, 6, 6}, {3, 3}, 1, 1, {1, 1}, {1, 1}, 0},
    {"avg_k2", AVGP, {2, 3, 6, 7}, {2, 2}, 0, 0, {0, 0}, {0, 0}, 1},
    {"avg_k3s2p1_incl", AVGP, {1, 2, 7, 6}, {3, 3}, 1, 1, {2, 2}, {1, 1}, 1},
    {"avg_k3s2p1_excl", AVGP, {1, 2, 7, 6}, {3, 3}, 1, 1, {2, 2}, {1, 1}, 0},
    {"avg_rect_excl", AVGP, {2, 2, 5, 7}, {3, 2}, 1, 1, {1, 2}, {1, 1}, 0},
    {"ada_5x7_3x2", ADAP, {2, 3, 5, 7}, {3, 2}, 0, 0, {0, 0}, {0, 0}, 0},
    {"ada_6x6_4x4", ADAP, {1, 2, 6, 6}, {4, 4}, 0, 0, {0, 0}, {0, 0}, 0},
    {"ada_up_3x5_5x7", ADAP, {1, 2, 3, 5}, {5, 7}, 0, 0, {0, 0}, {0, 0}, 0},
    {"ada_global", ADAP, {2, 3, 4, 5}, {1, 1}, 0, 0, {0, 0}, {0, 0}, 0},
};
#define N_POOL_CASES ((int)(sizeof pool_cases / sizeof *pool_cases))

static void pool_out_shape(const pool_case *c, int64_t *out) {
    out[0] = c->x[0];
    out[1] = c->x[1];
    for (int k = 0; k < 2; k++) {
        if (c->kind == ADAP) {
            out[2 + k] = c->k[k];
            continue;
        }
        int64_t s = c->has_stride ? c->stride[k] : c->k[k];
        int64_t p = c->has_pad ? c->pad[k] : 0;
        out[2 + k] = (c->x[2 + k] + 2 * p - c->k[k]) / s + 1;
    }
}

static dc_tensor *run_pool(const pool_case *c, dc_tensor *x) {
    const int64_t *s = c->has_stride ? c->stride : NULL;
    const int64_t *p = c->has_pad ? c->pad : NULL;
    switch (c->kind) {
    case MAXP: return dc_max_pool2d(x, c->k, s, p);
    case AVGP: return dc_avg_pool2d(x, c->k, s, p, c->count_include_pad);
    default: return dc_adaptive_avg_pool2d(x, c->k[0], c->k[1]);
    }
}

static void check_pool(const pool_case *c, const double *v, dc_dtype dt, int noncontig) {
    int64_t oshape[4];
    pool_out_shape(c, oshape);
    int64_t nx = numel_of(4, c->x), no = numel_of(4, oshape);
    const double *vx = v, *vgout = vx + nx, *vout = vgout + no, *vgx = vout + no;
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = leaf(dt, 4, c->x, vx, noncontig, 1);
    ck_assert_int_eq(dc_is_contiguous(x), !noncontig);
    dc_tensor *y = run_pool(c, x);
    TU_NOTNULL(y);
    ck_assert_int_eq(dc_tensor_dtype(y), dt);
    tu_assert_shape(y, 4, oshape);
    tu_assert_values(y, vout, no, atol_of(dt), rtol_of(dt));
    TU_OK(dc_backward(y, leaf(dt, 4, oshape, vgout, noncontig, 0), 0));
    assert_grad(x, vgx, dt);
    dc_scope_end(s);
}

START_TEST(pool_vs_torch) {
    const pool_case *c = &pool_cases[_i];
    int64_t oshape[4];
    pool_out_shape(c, oshape);
    int64_t total = 2 * (numel_of(4, c->x) + numel_of(4, oshape));
    char file[96];
    snprintf(file, sizeof file, "conv_%s.f64", c->name);
    double *v = tu_read_fixture(file, (size_t)total * sizeof(double));
    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++)
        for (int nc = 0; nc <= 1; nc++) check_pool(c, v, dtypes[d], nc);
    free(v);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Hand-checked cases                                                */
/* ---------------------------------------------------------------- */

/* A 2x2 kernel of ones over a 3x3 ramp, by hand: sums of 2x2 blocks. */
START_TEST(conv_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(4, SH(1, 1, 3, 3), (const double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    dc_tensor *w = dc_ones(DC_F64, 4, SH(1, 1, 2, 2));
    dc_tensor *b = tu_f64(1, SH(1), (const double[]){0.5});
    dc_tensor *y = dc_conv2d(x, w, b, NULL, NULL, NULL, 1);
    tu_assert_shape(y, 4, SH(1, 1, 2, 2));
    tu_assert_values(y, (const double[]){12.5, 16.5, 24.5, 28.5}, 4, 0, 0);
    /* padding 1, stride 2: corners of the padded 5x5 */
    y = dc_conv2d(x, w, NULL, SH(2, 2), SH(1, 1), NULL, 1);
    tu_assert_shape(y, 4, SH(1, 1, 2, 2));
    tu_assert_values(y, (const double[]){1, 5, 11, 28}, 4, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* Only x, or only w, requires grad: the other gets none, and the one that
 * does matches the full run. */
START_TEST(conv_partial_grad) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_uniform(NULL, DC_F64, 4, SH(2, 2, 4, 4), -1, 1);
    dc_tensor *w = dc_rand_uniform(NULL, DC_F64, 4, SH(3, 2, 3, 3), -1, 1);
    dc_tensor *b = dc_rand_uniform(NULL, DC_F64, 1, SH(3), -1, 1);
    TU_OK(dc_set_requires_grad(x, 1));
    TU_OK(dc_set_requires_grad(w, 1));
    TU_OK(dc_set_requires_grad(b, 1));
    TU_OK(dc_backward(dc_sum(dc_conv2d(x, w, b, NULL, NULL, NULL, 1), NULL, 0, 0), NULL, 0));
    dc_tensor *gx = dc_grad(x), *gw = dc_grad(w), *gb = dc_grad(b);
    TU_NOTNULL(gb);
    /* each output position adds b once: 2 images x 2 x 2 positions */
    tu_assert_values(gb, (const double[]){8, 8, 8}, 3, 1e-12, 0);
    TU_OK(dc_zero_grad(x));
    TU_OK(dc_zero_grad(w));
    TU_OK(dc_set_requires_grad(w, 0));
    TU_OK(dc_set_requires_grad(b, 0));
    TU_OK(dc_backward(dc_sum(dc_conv2d(x, w, b, NULL, NULL, NULL, 1), NULL, 0, 0), NULL, 0));
    tu_assert_close(dc_grad(x), gx, 1e-12, 1e-12);
    TU_NULL_WITH(dc_grad(w), DC_E_STATE);
    TU_OK(dc_zero_grad(x));
    TU_OK(dc_set_requires_grad(x, 0));
    TU_OK(dc_set_requires_grad(w, 1));
    TU_OK(dc_backward(dc_sum(dc_conv2d(x, w, NULL, NULL, NULL, NULL, 1), NULL, 0, 0), NULL, 0));
    tu_assert_close(dc_grad(w), gw, 1e-12, 1e-12);
    TU_NULL_WITH(dc_grad(x), DC_E_STATE);
    dc_scope_end(s);
}
END_TEST

/* An empty batch gives an empty output and empty gradients. */
START_TEST(conv_pool_empty_batch) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F32, 4, SH(0, 2, 5, 5));
    dc_tensor *w = dc_ones(DC_F32, 4, SH(3, 2, 3, 3));
    TU_OK(dc_set_requires_grad(x, 1));
    TU_OK(dc_set_requires_grad(w, 1));
    dc_tensor *y = dc_conv2d(x, w, NULL, NULL, SH(1, 1), NULL, 1);
    tu_assert_shape(y, 4, SH(0, 3, 5, 5));
    TU_OK(dc_backward(y, dc_zeros(DC_F32, 4, SH(0, 3, 5, 5)), 0));
    tu_assert_shape(dc_grad(x), 4, SH(0, 2, 5, 5));
    tu_assert_values(dc_grad(w), (const double[54]){0}, 54, 0, 0);
    tu_assert_shape(dc_max_pool2d(x, SH(2, 2), NULL, NULL), 4, SH(0, 2, 2, 2));
    tu_assert_shape(dc_avg_pool2d(x, SH(2, 2), NULL, NULL, 1), 4, SH(0, 2, 2, 2));
    tu_assert_shape(dc_adaptive_avg_pool2d(x, 3, 1), 4, SH(0, 2, 3, 1));
    dc_scope_end(s);
}
END_TEST

/* conv1d is conv2d of height 1. */
START_TEST(conv1d_matches_conv2d) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_uniform(NULL, DC_F32, 3, SH(2, 4, 11), -1, 1);
    dc_tensor *w = dc_rand_uniform(NULL, DC_F32, 3, SH(6, 2, 3), -1, 1);
    dc_tensor *b = dc_rand_uniform(NULL, DC_F32, 1, SH(6), -1, 1);
    dc_tensor *y1 = dc_conv1d(x, w, b, 2, 1, 2, 2);
    dc_tensor *y2 = dc_conv2d(dc_unsqueeze(x, 2), dc_unsqueeze(w, 2), b, SH(1, 2), SH(0, 1),
                              SH(1, 2), 2);
    tu_assert_shape(y1, 3, SH(2, 6, 5));
    tu_assert_close(y1, dc_squeeze(y2, 2), 0, 0);
    dc_scope_end(s);
}
END_TEST

/* Ties: the first maximum (in row-major window order) takes the gradient;
 * overlapping windows add up. */
START_TEST(max_pool_ties_first_wins) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_full(DC_F64, 4, SH(1, 1, 3, 3), 2.0);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_max_pool2d(x, SH(2, 2), SH(1, 1), NULL);
    tu_assert_values(y, (const double[]){2, 2, 2, 2}, 4, 0, 0);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    /* windows start at (0,0), (0,1), (1,0), (1,1): each picks its start */
    tu_assert_values(dc_grad(x), (const double[]){1, 1, 0, 1, 1, 0, 0, 0, 0}, 9, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* Padding never wins max pooling, even when every input is negative. */
START_TEST(max_pool_padding_never_wins) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f32(4, SH(1, 1, 2, 2), (const double[]){-4, -3, -2, -1});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_max_pool2d(x, SH(2, 2), SH(1, 1), SH(1, 1));
    tu_assert_shape(y, 4, SH(1, 1, 3, 3));
    tu_assert_values(y, (const double[]){-4, -3, -3, -2, -1, -1, -2, -1, -1}, 9, 0, 0);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    tu_assert_values(dc_grad(x), (const double[]){1, 2, 2, 4}, 4, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* A NaN in a window wins it (PyTorch propagates NaN through max pooling). */
START_TEST(max_pool_nan) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(4, SH(1, 1, 2, 2), (const double[]){1, NAN, 3, 2});
    dc_tensor *y = dc_max_pool2d(x, SH(2, 2), NULL, NULL);
    tu_assert_values(y, (const double[]){NAN}, 1, 0, 0);
    dc_scope_end(s);
}
END_TEST

/* Average pooling with and without the padded zeros, by hand. */
START_TEST(avg_pool_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(4, SH(1, 1, 2, 2), (const double[]){1, 2, 3, 4});
    dc_tensor *incl = dc_avg_pool2d(x, SH(2, 2), SH(1, 1), SH(1, 1), 1);
    dc_tensor *excl = dc_avg_pool2d(x, SH(2, 2), SH(1, 1), SH(1, 1), 0);
    tu_assert_values(incl, (const double[]){0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}, 9,
                     1e-15, 0);
    tu_assert_values(excl, (const double[]){1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, 9, 1e-15, 0);
    dc_scope_end(s);
}
END_TEST

/* A kernel far larger than the input, padded by half of it: one window
 * holding the single input element (no overflow in the divisor). */
START_TEST(pool_huge_kernel) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(4, SH(1, 1, 1, 1), (const double[]){3});
    const int64_t *k = SH(INT64_C(1) << 40, INT64_C(1) << 40);
    const int64_t *p = SH(INT64_C(1) << 39, INT64_C(1) << 39);
    tu_assert_values(dc_max_pool2d(x, k, NULL, p), (const double[]){3}, 1, 0, 0);
    tu_assert_values(dc_avg_pool2d(x, k, NULL, p, 0), (const double[]){3}, 1, 0, 0);
    tu_assert_values(dc_avg_pool2d(x, k, NULL, p, 1), (const double[]){3.0 / 0x1p80}, 1, 0,
                     1e-15);
    dc_scope_end(s);
}
END_TEST

/* Adaptive bins that overlap: 5 -> 3 is [0,2), [1,4), [3,5). */
START_TEST(adaptive_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(4, SH(1, 1, 1, 5), (const double[]){1, 2, 3, 4, 5});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_adaptive_avg_pool2d(x, 1, 3);
    tu_assert_values(y, (const double[]){1.5, 3, 4.5}, 3, 1e-15, 0);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    tu_assert_values(dc_grad(x), (const double[]){0.5, 0.5 + 1.0 / 3, 1.0 / 3,
                                                  1.0 / 3 + 0.5, 0.5}, 5, 1e-15, 0);
    dc_scope_end(s);
}
END_TEST

/* With recording off nothing is kept (the argmax indices included: the
 * leak fixture would see them). */
START_TEST(no_grad_mode) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_uniform(NULL, DC_F32, 4, SH(1, 2, 4, 4), -1, 1);
    TU_OK(dc_set_requires_grad(x, 1));
    int prev = dc_set_grad_enabled(0);
    dc_tensor *y = dc_max_pool2d(x, SH(2, 2), NULL, NULL);
    dc_set_grad_enabled(prev);
    TU_NOTNULL(y);
    ck_assert_int_eq(dc_requires_grad(y), 0);
    ck_assert_int_eq(dc_is_leaf(y), 1);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad input                                                         */
/* ---------------------------------------------------------------- */

START_TEST(conv2d_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F32, 4, SH(1, 4, 5, 5));
    dc_tensor *w = dc_zeros(DC_F32, 4, SH(2, 4, 3, 3));
    dc_tensor *b = dc_zeros(DC_F32, 1, SH(2));
    TU_NULL_WITH(dc_conv2d(NULL, w, b, NULL, NULL, NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, NULL, b, NULL, NULL, NULL, 1), DC_E_INVALID);
    /* an earlier failure is kept through the chain */
    TU_NULL_WITH(dc_conv2d(dc_reshape(x, 1, SH(7)), w, b, NULL, NULL, NULL, 1), DC_E_SHAPE);
    /* dtypes */
    TU_NULL_WITH(dc_conv2d(dc_zeros(DC_I32, 4, SH(1, 4, 5, 5)), w, b, NULL, NULL, NULL, 1),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_conv2d(x, dc_zeros(DC_F64, 4, SH(2, 4, 3, 3)), b, NULL, NULL, NULL, 1),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_conv2d(x, w, dc_zeros(DC_F64, 1, SH(2)), NULL, NULL, NULL, 1),
                 DC_E_DTYPE);
    /* shapes */
    TU_NULL_WITH(dc_conv2d(dc_zeros(DC_F32, 3, SH(4, 5, 5)), w, b, NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, dc_zeros(DC_F32, 3, SH(2, 4, 3)), b, NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, dc_zeros(DC_F32, 4, SH(2, 3, 3, 3)), b, NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, w, dc_zeros(DC_F32, 1, SH(3)), NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, w, dc_zeros(DC_F32, 2, SH(1, 2)), NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, dc_zeros(DC_F32, 4, SH(2, 4, 0, 3)), b, NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    /* the kernel does not fit: too small, or too dilated */
    TU_NULL_WITH(dc_conv2d(dc_zeros(DC_F32, 4, SH(1, 4, 2, 5)), w, b, NULL, NULL, NULL, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, SH(1, 3), 1), DC_E_SHAPE);
    /* groups */
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, NULL, -2), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, NULL, 3), DC_E_SHAPE);
    TU_NULL_WITH(dc_conv2d(x, dc_zeros(DC_F32, 4, SH(3, 2, 3, 3)), dc_zeros(DC_F32, 1, SH(3)),
                           NULL, NULL, NULL, 2),
                 DC_E_SHAPE);   /* 3 output channels in 2 groups */
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, NULL, 2), DC_E_SHAPE); /* 4 != 2 * 4 */
    /* parameters */
    TU_NULL_WITH(dc_conv2d(x, w, b, SH(0, 1), NULL, NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, SH(1, -1), NULL, NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, SH(-1, 0), NULL, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, SH(1, 0), 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, SH(INT64_MAX / 2, 0), NULL, 1), DC_E_OVERFLOW);
    TU_NULL_WITH(dc_conv2d(x, w, b, NULL, NULL, SH(INT64_MAX / 2 + 1, 1), 1), DC_E_OVERFLOW);
    /* a huge output plane: the column buffer cannot exist */
    TU_NULL_WITH(dc_conv2d(dc_zeros(DC_F32, 4, SH(0, 4, INT64_MAX / 40, 5)), w, b, NULL,
                           NULL, NULL, 1),
                 DC_E_OVERFLOW);
    dc_scope_end(s);
}
END_TEST

START_TEST(conv1d_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F64, 3, SH(2, 4, 8));
    dc_tensor *w = dc_zeros(DC_F64, 3, SH(2, 4, 3));
    TU_NULL_WITH(dc_conv1d(NULL, w, NULL, 1, 0, 1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(x, NULL, NULL, 1, 0, 1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(dc_zeros(DC_F64, 4, SH(2, 4, 1, 8)), w, NULL, 1, 0, 1, 1),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_conv1d(x, dc_zeros(DC_F64, 2, SH(2, 4)), NULL, 1, 0, 1, 1), DC_E_SHAPE);
    TU_NULL_WITH(dc_conv1d(x, dc_zeros(DC_F32, 3, SH(2, 4, 3)), NULL, 1, 0, 1, 1),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_conv1d(dc_zeros(DC_U8, 3, SH(2, 4, 8)), w, NULL, 1, 0, 1, 1), DC_E_DTYPE);
    TU_NULL_WITH(dc_conv1d(x, w, dc_zeros(DC_F64, 1, SH(5)), 1, 0, 1, 1), DC_E_SHAPE);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 0, 0, 1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 1, -1, 1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 1, 0, 0, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 1, 0, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 1, 0, 1, 2), DC_E_SHAPE);
    TU_NULL_WITH(dc_conv1d(x, w, NULL, 1, 0, 5, 1), DC_E_SHAPE);   /* span 11 > 8 */
    ck_assert_msg(strstr(dc_last_error(), "dc_conv1d") != NULL, "message: %s",
                  dc_last_error());
    dc_scope_end(s);
}
END_TEST

/* The checks max and avg pooling share. */
typedef dc_tensor *(*pool_fn)(dc_tensor *x, const int64_t *k, const int64_t *s,
                              const int64_t *p);

static dc_tensor *max_fn(dc_tensor *x, const int64_t *k, const int64_t *s, const int64_t *p) {
    return dc_max_pool2d(x, k, s, p);
}

static dc_tensor *avg_fn(dc_tensor *x, const int64_t *k, const int64_t *s, const int64_t *p) {
    return dc_avg_pool2d(x, k, s, p, 0);
}

static void pool_bad_input(pool_fn f, const char *name) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F32, 4, SH(1, 2, 5, 5));
    TU_NULL_WITH(f(NULL, SH(2, 2), NULL, NULL), DC_E_INVALID);
    TU_NULL_WITH(f(dc_zeros(DC_I64, 4, SH(1, 2, 5, 5)), SH(2, 2), NULL, NULL), DC_E_DTYPE);
    TU_NULL_WITH(f(dc_zeros(DC_F32, 3, SH(2, 5, 5)), SH(2, 2), NULL, NULL), DC_E_SHAPE);
    TU_NULL_WITH(f(x, NULL, NULL, NULL), DC_E_INVALID);
    TU_NULL_WITH(f(x, SH(0, 2), NULL, NULL), DC_E_INVALID);
    TU_NULL_WITH(f(x, SH(2, 2), SH(1, 0), NULL), DC_E_INVALID);
    TU_NULL_WITH(f(x, SH(2, 2), NULL, SH(-1, 0)), DC_E_INVALID);
    TU_NULL_WITH(f(x, SH(2, 2), NULL, SH(1, 2)), DC_E_INVALID);  /* more than half */
    TU_NULL_WITH(f(x, SH(3, 3), NULL, SH(2, 1)), DC_E_INVALID);
    ck_assert_msg(strstr(dc_last_error(), name) != NULL, "message: %s", dc_last_error());
    TU_NULL_WITH(f(x, SH(6, 2), NULL, NULL), DC_E_SHAPE);          /* kernel > input */
    TU_NULL_WITH(f(x, SH(2, INT64_MAX), NULL, NULL), DC_E_SHAPE);
    dc_scope_end(s);
}

START_TEST(max_pool_bad_input) { pool_bad_input(max_fn, "dc_max_pool2d"); }
END_TEST

START_TEST(avg_pool_bad_input) { pool_bad_input(avg_fn, "dc_avg_pool2d"); }
END_TEST

START_TEST(adaptive_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F64, 4, SH(1, 2, 5, 5));
    TU_NULL_WITH(dc_adaptive_avg_pool2d(NULL, 2, 2), DC_E_INVALID);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(dc_zeros(DC_I32, 4, SH(1, 2, 5, 5)), 2, 2),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(dc_zeros(DC_F64, 2, SH(5, 5)), 2, 2), DC_E_SHAPE);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(x, 0, 2), DC_E_INVALID);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(x, 2, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(dc_zeros(DC_F64, 4, SH(1, 2, 0, 5)), 2, 2),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(x, INT64_MAX / 2, 1), DC_E_OVERFLOW);
    TU_NULL_WITH(dc_adaptive_avg_pool2d(x, INT64_MAX / 64, INT64_MAX / 64), DC_E_OVERFLOW);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* The direct f32 kernels (lib/ops/conv_direct.c) vs the GEMM path    */
/* ---------------------------------------------------------------- */

/* Stride 1, no dilation, one group, at most 16 input channels: f32 takes
 * the direct kernels, f64 im2col + GEMM. Each case aims at one of their
 * branches. */
typedef struct direct_case {
    const char *name;
    int64_t x[4], w[4], pad[2];
    int noncontig;
} direct_case;

static const direct_case direct_cases[] = {
    {"lenet_conv1", {3, 1, 12, 12}, {6, 1, 5, 5}, {2, 2}, 0},
    {"lenet_conv2_rows", {4, 6, 9, 9}, {16, 6, 5, 5}, {0, 0}, 0},
    {"c16_oc11_blocks", {2, 16, 7, 7}, {11, 16, 3, 3}, {1, 1}, 1},
    {"wide_rect_kernel", {2, 3, 5, 40}, {5, 3, 2, 4}, {1, 3}, 0},
    {"kw7_split_taps", {2, 2, 6, 20}, {13, 2, 3, 7}, {2, 3}, 1},
    {"kh1_conv1d_like", {3, 4, 1, 33}, {3, 4, 1, 3}, {0, 1}, 0},
    {"batch_over_chunks", {21, 2, 6, 5}, {3, 2, 3, 3}, {1, 0}, 0},
};
#define N_DIRECT_CASES ((int)(sizeof direct_cases / sizeof *direct_cases))

/* f32 conv of the case on x64/w64/b64's values: output and gradients
 * (gx, gw, gb) for the upstream gradient g64, into res[0..3]. */
static void direct_run(const direct_case *c, dc_dtype dt, dc_tensor *x64, dc_tensor *w64,
                       dc_tensor *b64, dc_tensor *g64, dc_tensor **res) {
    /* detached: a same-dtype cast may hand back a view */
    dc_tensor *x = dc_detach(dc_cast(x64, dt)), *w = dc_detach(dc_cast(w64, dt));
    dc_tensor *b = dc_detach(dc_cast(b64, dt));
    if (c->noncontig) x = tu_noncontig(x);
    TU_OK(dc_set_requires_grad(x, 1));
    TU_OK(dc_set_requires_grad(w, 1));
    TU_OK(dc_set_requires_grad(b, 1));
    int64_t one[2] = {1, 1};
    dc_tensor *y = dc_conv2d(x, w, b, one, c->pad, one, 1);
    TU_NOTNULL(y);
    TU_OK(dc_backward(y, dc_cast(g64, dt), 0));
    res[0] = dc_cast(y, DC_F64);
    res[1] = dc_cast(dc_grad(x), DC_F64);
    res[2] = dc_cast(dc_grad(w), DC_F64);
    res[3] = dc_cast(dc_grad(b), DC_F64);
    for (int k = 0; k < 4; k++) TU_NOTNULL(res[k]);
}

/* Random f64 x, w, b and an upstream gradient g for the case: ops[0..3]. */
static void direct_operands(const direct_case *c, uint64_t seed, dc_tensor **ops) {
    dc_rng *rng = dc_rng_new(seed);
    int64_t oshape[4] = {c->x[0], c->w[0], c->x[2] + 2 * c->pad[0] - c->w[2] + 1,
                         c->x[3] + 2 * c->pad[1] - c->w[3] + 1};
    ops[0] = dc_rand_normal(rng, DC_F64, 4, c->x, 0.0, 1.0);
    ops[1] = dc_rand_normal(rng, DC_F64, 4, c->w, 0.0, 1.0);
    ops[2] = dc_rand_normal(rng, DC_F64, 1, c->w, 0.0, 1.0);
    ops[3] = dc_rand_normal(rng, DC_F64, 4, oshape, 0.0, 1.0);
    dc_rng_free(rng);
    for (int k = 0; k < 4; k++) TU_NOTNULL(ops[k]);
}

START_TEST(direct_matches_gemm) {
    const direct_case *c = &direct_cases[_i];
    dc_scope *s = dc_scope_begin();
    dc_tensor *op[4];
    direct_operands(c, 100 + (uint64_t)_i, op);
    dc_tensor *x = op[0], *w = op[1], *b = op[2], *g = op[3];
    dc_tensor *want[4], *got[4];
    direct_run(c, DC_F64, x, w, b, g, want);
    direct_run(c, DC_F32, x, w, b, g, got);
    /* f32 sums of up to a few thousand unit-sized terms */
    for (int k = 0; k < 4; k++) tu_assert_close(got[k], want[k], 2e-3, 1e-4);
    dc_scope_end(s);
}
END_TEST

/* The weight and bias gradients add the images up in a fixed order: the
 * same bits on one thread and on two. */
START_TEST(direct_same_bits_on_any_threads) {
    const direct_case *c = &direct_cases[_i];
    int threads = dc_get_num_threads();
    dc_scope *s = dc_scope_begin();
    dc_tensor *op[4];
    direct_operands(c, 7, op);
    dc_tensor *x = op[0], *w = op[1], *b = op[2], *g = op[3];
    dc_tensor *one[4], *two[4];
    TU_OK(dc_set_num_threads(1));
    direct_run(c, DC_F32, x, w, b, g, one);
    TU_OK(dc_set_num_threads(2));
    direct_run(c, DC_F32, x, w, b, g, two);
    TU_OK(dc_set_num_threads(threads));
    for (int k = 0; k < 4; k++) tu_assert_close(two[k], one[k], 0.0, 0.0);
    dc_scope_end(s);
}
END_TEST

/* Max pooling split over planes: a batch big enough for several chunks
 * of planes, checked window by window against loops written here, and
 * the same bits on one thread and two. Windows 2x2 stride 2 (the fast
 * kernel) and 3x3 stride 2 padding 1 (the general one). */
static void pool_by_loops(const double *x, int64_t planes, int64_t h, int64_t w, int64_t k,
                          int64_t st, int64_t pad, const double *gout, double *out,
                          double *gx) {
    int64_t oh = (h + 2 * pad - k) / st + 1, ow = (w + 2 * pad - k) / st + 1;
    for (int64_t i = 0; i < planes * h * w; i++) gx[i] = 0.0;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t a = 0; a < oh; a++)
            for (int64_t b = 0; b < ow; b++) {
                double best = -INFINITY;
                int64_t at = -1;
                for (int64_t i = a * st - pad; i < a * st - pad + k; i++)
                    for (int64_t j = b * st - pad; j < b * st - pad + k; j++)
                        if (i >= 0 && i < h && j >= 0 && j < w && x[(p * h + i) * w + j] > best) {
                            best = x[(p * h + i) * w + j];
                            at = (p * h + i) * w + j;
                        }
                int64_t o = (p * oh + a) * ow + b;
                out[o] = best;
                gx[at] += gout[o];
            }
}

START_TEST(max_pool_split_over_threads) {
    const int64_t k = _i == 0 ? 2 : 3, st = 2, pad = _i == 0 ? 0 : 1;
    const int64_t shape[4] = {3, 8, 40, 36}, planes = 24, h = 40, w = 36;
    const int64_t oh = (h + 2 * pad - k) / st + 1, ow = (w + 2 * pad - k) / st + 1;
    const int64_t oshape[4] = {3, 8, oh, ow};
    int threads = dc_get_num_threads();
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(11);
    dc_tensor *x64 = dc_rand_normal(rng, DC_F64, 4, shape, 0.0, 1.0);
    dc_tensor *g64 = dc_rand_normal(rng, DC_F64, 4, oshape, 0.0, 1.0);
    dc_rng_free(rng);
    double *xv = malloc((size_t)(planes * h * w) * sizeof(double));
    double *gv = malloc((size_t)(planes * oh * ow) * sizeof(double));
    double *want_out = malloc((size_t)(planes * oh * ow) * sizeof(double));
    double *want_gx = malloc((size_t)(planes * h * w) * sizeof(double));
    TU_OK(dc_copy_to(x64, DC_F64, xv, (size_t)(planes * h * w) * sizeof(double)));
    TU_OK(dc_copy_to(g64, DC_F64, gv, (size_t)(planes * oh * ow) * sizeof(double)));
    pool_by_loops(xv, planes, h, w, k, st, pad, gv, want_out, want_gx);
    dc_tensor *results[2][2];
    for (int t = 1; t <= 2; t++) {
        TU_OK(dc_set_num_threads(t));
        dc_tensor *x = dc_detach(dc_cast(x64, DC_F32));
        TU_OK(dc_set_requires_grad(x, 1));
        dc_tensor *y = dc_max_pool2d(x, (int64_t[]){k, k}, (int64_t[]){st, st},
                                     (int64_t[]){pad, pad});
        TU_NOTNULL(y);
        TU_OK(dc_backward(y, dc_cast(g64, DC_F32), 0));
        /* f32 copies of the inputs pick the same winners (no ties) */
        tu_assert_values(y, want_out, planes * oh * ow, 1e-6, 1e-6);
        tu_assert_values(dc_grad(x), want_gx, planes * h * w, 1e-6, 1e-6);
        results[t - 1][0] = y;
        results[t - 1][1] = dc_grad(x);
    }
    TU_OK(dc_set_num_threads(threads));
    tu_assert_close(results[1][0], results[0][0], 0.0, 0.0);
    tu_assert_close(results[1][1], results[0][1], 0.0, 0.0);
    free(xv);
    free(gv);
    free(want_out);
    free(want_gx);
    dc_scope_end(s);
}
END_TEST

/* f32 2x2 pooling runs 8 windows at a time (vectors), f64 one at a
 * time: on windows full of ties and NaNs both pick the same winners.
 * Widths 40 and 24: groups of 8 windows per row and a last group
 * overlapping the one before (20 and 12 outputs); 14 and 8: rows of
 * fewer than 8 outputs, window by window. */
START_TEST(max_pool_vector_groups_match_scalar) {
    enum { H = 6, WMAX = 40 };
    static const int64_t widths[] = {40, 24, 14, 8};
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        int64_t W = widths[k];
        double v[H * WMAX];
        for (int i = 0; i < H * W; i++) {
            int r = (i * i * 31 + i * 7 + 3) % 11;
            v[i] = r == 10 ? NAN : (double)(r % 3);   /* 0, 1, 2 and NaN: many ties */
        }
        double gout[(H / 2) * (WMAX / 2)];
        for (int i = 0; i < (H / 2) * (W / 2); i++) gout[i] = 1.0 + i;
        dc_scope *s = dc_scope_begin();
        dc_tensor *res[2][2];
        for (int d = 0; d < 2; d++) {
            dc_tensor *x = d ? tu_f32(4, SH(1, 1, H, W), v) : tu_f64(4, SH(1, 1, H, W), v);
            TU_OK(dc_set_requires_grad(x, 1));
            dc_tensor *y = dc_max_pool2d(x, (int64_t[]){2, 2}, (int64_t[]){2, 2},
                                         (int64_t[]){0, 0});
            TU_NOTNULL(y);
            dc_tensor *g = d ? tu_f32(4, SH(1, 1, H / 2, W / 2), gout)
                             : tu_f64(4, SH(1, 1, H / 2, W / 2), gout);
            TU_OK(dc_backward(y, g, 0));
            res[d][0] = dc_cast(y, DC_F64);
            res[d][1] = dc_cast(dc_grad(x), DC_F64);
        }
        tu_assert_close(res[1][0], res[0][0], 0.0, 0.0);
        tu_assert_close(res[1][1], res[0][1], 0.0, 0.0);
        dc_scope_end(s);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("conv");
    TCase *tc = tu_tcase("torch");
    tcase_add_loop_test(tc, conv_vs_torch, 0, N_CONV_CASES);
    tcase_add_loop_test(tc, pool_vs_torch, 0, N_POOL_CASES);
    suite_add_tcase(s, tc);
    tc = tu_tcase("direct");
    tcase_add_loop_test(tc, direct_matches_gemm, 0, N_DIRECT_CASES);
    tcase_add_loop_test(tc, direct_same_bits_on_any_threads, 0, N_DIRECT_CASES);
    tcase_add_loop_test(tc, max_pool_split_over_threads, 0, 2);
    tcase_add_test(tc, max_pool_vector_groups_match_scalar);
    suite_add_tcase(s, tc);
    tc = tu_tcase("by_hand");
    tcase_add_test(tc, conv_by_hand);
    tcase_add_test(tc, conv_partial_grad);
    tcase_add_test(tc, conv_pool_empty_batch);
    tcase_add_test(tc, conv1d_matches_conv2d);
    tcase_add_test(tc, max_pool_ties_first_wins);
    tcase_add_test(tc, max_pool_padding_never_wins);
    tcase_add_test(tc, max_pool_nan);
    tcase_add_test(tc, avg_pool_by_hand);
    tcase_add_test(tc, pool_huge_kernel);
    tcase_add_test(tc, adaptive_by_hand);
    tcase_add_test(tc, no_grad_mode);
    suite_add_tcase(s, tc);
    tc = tu_tcase("bad_input");
    tcase_add_test(tc, conv2d_bad_input);
    tcase_add_test(tc, conv1d_bad_input);
    tcase_add_test(tc, max_pool_bad_input);
    tcase_add_test(tc, avg_pool_bad_input);
    tcase_add_test(tc, adaptive_bad_input);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
