/* Neural-network ops: batch_norm, layer_norm, dropout, embedding,
 * scaled dot-product attention, LSTM / GRU cells, and the initialisers.
 *
 * Forward values and gradients are compared with PyTorch 1.13: the
 * fixtures nn_ops_*.f64 are written by tests/fixtures/gen_nn_ops.py (its
 * docstring lists the layout of each file). Their inputs are exact in f32,
 * so each case also runs in f32 against the same f64 expectations. Dropout
 * and the initialisers are checked by their statistics and exact bounds. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

static double atol_of(dc_dtype dt) { return dt == DC_F32 ? 2e-5 : 1e-10; }
static double rtol_of(dc_dtype dt) { return dt == DC_F32 ? 1e-5 : 1e-10; }

/* A fixture file of f64 values read in order. */
typedef struct fixture {
    double *data;
    size_t n, pos;
} fixture;

static fixture fx_open(const char *name, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "nn_ops_%s.f64", name);
    fixture f = {tu_read_fixture(path, n * sizeof(double)), n, 0};
    return f;
}

/* The next count values. */
static const double *fx_take(fixture *f, int64_t count) {
    ck_assert_msg(f->pos + (size_t)count <= f->n, "fixture too short");
    const double *p = f->data + f->pos;
    f->pos += (size_t)count;
    return p;
}

static void fx_close(fixture *f) {
    ck_assert_msg(f->pos == f->n, "fixture: %zu values read of %zu", f->pos, f->n);
    free(f->data);
}

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* A tensor of dtype dt from the next values of f (owned by the open
 * scope); a leaf requiring grad when grad is set; strided when noncontig. */
static dc_tensor *fx_tensor(fixture *f, dc_dtype dt, int ndim, const int64_t *shape, int grad,
                            int noncontig) {
    const double *v = fx_take(f, numel_of(ndim, shape));
    dc_tensor *t = dt == DC_F32 ? tu_f32(ndim, shape, v) : tu_f64(ndim, shape, v);
    TU_NOTNULL(t);
    if (noncontig) t = tu_noncontig(t);
    if (grad) TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

/* got has the next numel(got) values of f. */
static void fx_expect(fixture *f, const dc_tensor *got, dc_dtype dt) {
    ck_assert_msg(got != NULL, "NULL result: %s", dc_last_error());
    ck_assert_int_eq(dc_tensor_dtype(got), dt);
    tu_assert_values(got, fx_take(f, dc_numel(got)), dc_numel(got), atol_of(dt), rtol_of(dt));
}

/* The gradient of leaf t has the next values of f. */
static void fx_expect_grad(fixture *f, dc_tensor *t, dc_dtype dt) {
    dc_tensor *g = dc_grad(t);
    ck_assert_msg(g != NULL, "no gradient: %s", dc_last_error());
    tu_assert_shape(g, dc_ndim(t), dc_shape(t));
    fx_expect(f, g, dt);
}

static const int64_t s64[2] = {6, 4}, s2344[4] = {2, 3, 4, 4}, s435[3] = {4, 3, 5};
static const int64_t s345[3] = {3, 4, 5}, s234[3] = {2, 3, 4};

/* ---------------------------------------------------------------- */
/* batch_norm                                                        */
/* ---------------------------------------------------------------- */

typedef struct bn_case {
    const char *file;
    int ndim;
    const int64_t *shape;
    int training, affine;
    double momentum, eps;
} bn_case;

static const bn_case bn_2d_train = {"bn2d_train", 2, s64, 1, 1, 0.1, 1e-5};
static const bn_case bn_2d_eval = {"bn2d_eval", 2, s64, 0, 1, 0.1, 1e-5};
static const bn_case bn_4d_train = {"bn4d_train", 4, s2344, 1, 1, 0.2, 1e-3};
static const bn_case bn_4d_eval = {"bn4d_eval", 4, s2344, 0, 1, 0.2, 1e-3};
static const bn_case bn_3d_plain = {"bn3d_train_plain", 3, s435, 1, 0, 0.1, 1e-5};

static void check_batch_norm(const bn_case *k, dc_dtype dt, int noncontig) {
    int64_t n = numel_of(k->ndim, k->shape), c = k->shape[1];
    size_t total = (size_t)(4 * n + 2 * c + (k->affine ? 4 * c : 0) + (k->training ? 2 * c : 0));
    fixture f = fx_open(k->file, total);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = fx_tensor(&f, dt, k->ndim, k->shape, 1, noncontig);
    dc_tensor *w = k->affine ? fx_tensor(&f, dt, 1, &c, 1, 0) : NULL;
    dc_tensor *b = k->affine ? fx_tensor(&f, dt, 1, &c, 1, 0) : NULL;
    const double *rm0 = f.data + f.pos;
    dc_tensor *rm = fx_tensor(&f, dt, 1, &c, 0, noncontig);
    const double *rv0 = f.data + f.pos;
    dc_tensor *rv = fx_tensor(&f, dt, 1, &c, 0, 0);
    dc_tensor *gout = fx_tensor(&f, dt, k->ndim, k->shape, 0, 0);

    dc_tensor *y = dc_batch_norm(x, rm, rv, w, b, k->training, k->momentum, k->eps);
    TU_NOTNULL(y);
    tu_assert_shape(y, k->ndim, k->shape);
    fx_expect(&f, y, dt);
    if (k->training) {
        fx_expect(&f, rm, dt);
        fx_expect(&f, rv, dt);
    } else {   /* evaluation leaves the running statistics alone */
        tu_assert_values(rm, rm0, c, 0, 0);
        tu_assert_values(rv, rv0, c, 0, 0);
    }
    TU_OK(dc_backward(y, gout, 0));
    fx_expect_grad(&f, x, dt);
    if (k->affine) {
        fx_expect_grad(&f, w, dt);
        fx_expect_grad(&f, b, dt);
    }
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(batch_norm_2d_train) { check_batch_norm(&bn_2d_train, DC_F64, 0); }
END_TEST
START_TEST(batch_norm_2d_train_f32_noncontig) { check_batch_norm(&bn_2d_train, DC_F32, 1); }
END_TEST
START_TEST(batch_norm_2d_eval) { check_batch_norm(&bn_2d_eval, DC_F64, 0); }
END_TEST
START_TEST(batch_norm_4d_train) { check_batch_norm(&bn_4d_train, DC_F64, 0); }
END_TEST
START_TEST(batch_norm_4d_train_f32) { check_batch_norm(&bn_4d_train, DC_F32, 0); }
END_TEST
START_TEST(batch_norm_4d_eval_noncontig) { check_batch_norm(&bn_4d_eval, DC_F64, 1); }
END_TEST
START_TEST(batch_norm_3d_train_without_affine) { check_batch_norm(&bn_3d_plain, DC_F64, 0); }
END_TEST

/* Training without running statistics normalises just the same. */
START_TEST(batch_norm_train_without_running_stats) {
    int64_t c = 4;
    fixture f = fx_open("bn2d_train", 4 * 24 + 2 * 4 + 4 * 4 + 2 * 4);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = fx_tensor(&f, DC_F64, 2, s64, 0, 0);
    dc_tensor *w = fx_tensor(&f, DC_F64, 1, &c, 0, 0);
    dc_tensor *b = fx_tensor(&f, DC_F64, 1, &c, 0, 0);
    fx_take(&f, 2 * c + 24);   /* running stats, gout */
    dc_tensor *y = dc_batch_norm(x, NULL, NULL, w, b, 1, 0.1, 1e-5);
    fx_expect(&f, y, DC_F64);
    dc_scope_end(s);
    free(f.data);
}
END_TEST

/* By hand: x (4, 1) = 1, 2, 3, 6: mean 3, biased var 3.5, unbiased 14/3;
 * momentum 0.5 from running (0, 1) gives mean 1.5, var (1 + 14/3) / 2. */
START_TEST(batch_norm_running_update_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(2, (const int64_t[]){4, 1}, (const double[]){1, 2, 3, 6});
    dc_tensor *rm = dc_zeros(DC_F64, 1, (const int64_t[]){1});
    dc_tensor *rv = dc_ones(DC_F64, 1, (const int64_t[]){1});
    dc_tensor *y = dc_batch_norm(x, rm, rv, NULL, NULL, 1, 0.5, 0.0);
    double r = 1.0 / sqrt(3.5);
    tu_assert_values(y, (const double[]){-2 * r, -r, 0, 3 * r}, 4, 1e-12, 1e-12);
    tu_assert_values(rm, (const double[]){1.5}, 1, 1e-15, 0);
    tu_assert_values(rv, (const double[]){(1.0 + 14.0 / 3.0) / 2.0}, 1, 1e-15, 1e-15);
    dc_scope_end(s);
}
END_TEST

START_TEST(batch_norm_bad_input) {
    dc_scope *s = dc_scope_begin();
    int64_t c = 3;
    dc_tensor *x = dc_ones(DC_F64, 2, (const int64_t[]){4, 3});
    dc_tensor *rm = dc_zeros(DC_F64, 1, &c), *rv = dc_ones(DC_F64, 1, &c);
    dc_tensor *w = dc_ones(DC_F64, 1, &c);
    dc_tensor *w4 = dc_ones(DC_F64, 1, (const int64_t[]){4});
    dc_tensor *w32 = dc_ones(DC_F32, 1, &c);
    TU_NULL_WITH(dc_batch_norm(NULL, rm, rv, w, w, 1, 0.1, 1e-5), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm(dc_ones(DC_I64, 2, (const int64_t[]){4, 3}), NULL, NULL, NULL,
                               NULL, 1, 0.1, 1e-5),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_batch_norm(dc_ones(DC_F64, 1, &c), NULL, NULL, NULL, NULL, 1, 0.1, 1e-5),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_batch_norm(x, rm, rv, w4, NULL, 1, 0.1, 1e-5), DC_E_SHAPE);
    TU_NULL_WITH(dc_batch_norm(x, rm, rv, NULL, w4, 1, 0.1, 1e-5), DC_E_SHAPE);
    TU_NULL_WITH(dc_batch_norm(x, rm, rv, w32, NULL, 1, 0.1, 1e-5), DC_E_DTYPE);
    TU_NULL_WITH(dc_batch_norm(x, w4, rv, NULL, NULL, 1, 0.1, 1e-5), DC_E_SHAPE);
    TU_NULL_WITH(dc_batch_norm(x, rm, w32, NULL, NULL, 0, 0.1, 1e-5), DC_E_DTYPE);
    TU_NULL_WITH(dc_batch_norm(x, rm, NULL, NULL, NULL, 1, 0.1, 1e-5), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm(x, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm(x, rm, rv, NULL, NULL, 1, 0.1, -1.0), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm(x, rm, rv, NULL, NULL, 1, NAN, 1e-5), DC_E_INVALID);
    /* one value per channel cannot be normalised in training (PyTorch) */
    TU_NULL_WITH(dc_batch_norm(dc_ones(DC_F64, 2, (const int64_t[]){1, 3}), rm, rv, NULL, NULL, 1,
                               0.1, 1e-5),
                 DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm(dc_ones(DC_F64, 4, (const int64_t[]){1, 3, 1, 1}), NULL, NULL,
                               NULL, NULL, 1, 0.1, 1e-5),
                 DC_E_INVALID);
    /* ... but it can in evaluation */
    TU_NOTNULL(dc_batch_norm(dc_ones(DC_F64, 2, (const int64_t[]){1, 3}), rm, rv, NULL, NULL, 0,
                             0.1, 1e-5));
    /* failures leave the running statistics alone */
    tu_assert_values(rm, (const double[]){0, 0, 0}, 3, 0, 0);
    tu_assert_values(rv, (const double[]){1, 1, 1}, 3, 0, 0);
    /* a NULL from a failed op keeps that op's error */
    dc_clear_error();
    ck_assert_ptr_null(dc_batch_norm(dc_add(x, w32), NULL, NULL, NULL, NULL, 1, 0.1, 1e-5));
    ck_assert_int_eq(dc_last_status(), DC_E_DTYPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* layer_norm                                                        */
/* ---------------------------------------------------------------- */

static void check_layer_norm(const char *file, int ndim, const int64_t *shape, int nd, int affine,
                             double eps, dc_dtype dt, int noncontig) {
    int64_t n = numel_of(ndim, shape);
    const int64_t *tail = shape + (ndim - nd);
    int64_t m = numel_of(nd, tail);
    fixture f = fx_open(file, (size_t)(4 * n + (affine ? 4 * m : 0)));
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = fx_tensor(&f, dt, ndim, shape, 1, noncontig);
    dc_tensor *w = affine ? fx_tensor(&f, dt, nd, tail, 1, noncontig) : NULL;
    dc_tensor *b = affine ? fx_tensor(&f, dt, nd, tail, 1, 0) : NULL;
    dc_tensor *gout = fx_tensor(&f, dt, ndim, shape, 0, 0);
    dc_tensor *y = dc_layer_norm(x, nd, w, b, eps);
    TU_NOTNULL(y);
    tu_assert_shape(y, ndim, shape);
    fx_expect(&f, y, dt);
    TU_OK(dc_backward(y, gout, 0));
    fx_expect_grad(&f, x, dt);
    if (affine) {
        fx_expect_grad(&f, w, dt);
        fx_expect_grad(&f, b, dt);
    }
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(layer_norm_1_axis_affine) {
    check_layer_norm("ln1_affine", 3, s345, 1, 1, 1e-5, DC_F64, 0);
}
END_TEST
START_TEST(layer_norm_1_axis_affine_f32_noncontig) {
    check_layer_norm("ln1_affine", 3, s345, 1, 1, 1e-5, DC_F32, 1);
}
END_TEST
START_TEST(layer_norm_2_axes_plain) {
    check_layer_norm("ln2_plain", 3, s345, 2, 0, 1e-5, DC_F64, 0);
}
END_TEST
START_TEST(layer_norm_2_axes_affine) {
    check_layer_norm("ln2_affine", 3, s234, 2, 1, 1e-3, DC_F64, 1);
}
END_TEST
START_TEST(layer_norm_2_axes_affine_f32) {
    check_layer_norm("ln2_affine", 3, s234, 2, 1, 1e-3, DC_F32, 0);
}
END_TEST

START_TEST(layer_norm_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_ones(DC_F64, 2, (const int64_t[]){2, 3});
    dc_tensor *w3 = dc_ones(DC_F64, 1, (const int64_t[]){3});
    dc_tensor *w2 = dc_ones(DC_F64, 1, (const int64_t[]){2});
    TU_NULL_WITH(dc_layer_norm(NULL, 1, NULL, NULL, 1e-5), DC_E_INVALID);
    TU_NULL_WITH(dc_layer_norm(dc_ones(DC_I32, 1, (const int64_t[]){3}), 1, NULL, NULL, 1e-5),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_layer_norm(x, 0, NULL, NULL, 1e-5), DC_E_RANGE);
    TU_NULL_WITH(dc_layer_norm(x, 3, NULL, NULL, 1e-5), DC_E_RANGE);
    TU_NULL_WITH(dc_layer_norm(x, 1, w2, NULL, 1e-5), DC_E_SHAPE);
    TU_NULL_WITH(dc_layer_norm(x, 2, w3, NULL, 1e-5), DC_E_SHAPE);
    TU_NULL_WITH(dc_layer_norm(x, 1, w3, dc_ones(DC_F32, 1, (const int64_t[]){3}), 1e-5),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_layer_norm(x, 1, NULL, NULL, NAN), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* dropout                                                           */
/* ---------------------------------------------------------------- */

enum { DROP_N = 100000 };

/* Dropout of ones(DROP_N) in dtype dt: the fraction zeroed is within 0.01
 * (7 standard deviations) of p and every kept value is exactly 1/(1-p) as
 * the dtype holds it. */
static void check_dropout_stats(dc_dtype dt, double p) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(99);
    int64_t n = DROP_N;
    dc_tensor *y = dc_dropout(dc_ones(dt, 1, &n), p, 1, rng);
    dc_rng_free(rng);
    TU_NOTNULL(y);
    double *v = malloc(DROP_N * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(dc_copy_to(y, DC_F64, v, DROP_N * sizeof *v));
    double keep = dt == DC_F32 ? (double)(float)(1.0 / (1.0 - p)) : 1.0 / (1.0 - p);
    int64_t zeros = 0, others = 0;
    for (int i = 0; i < DROP_N; i++) {
        if (v[i] == 0.0) zeros++;
        else if (v[i] != keep) others++;
    }
    free(v);
    ck_assert_int_eq(others, 0);
    double frac = (double)zeros / DROP_N;
    ck_assert_msg(fabs(frac - p) < 0.01, "fraction zeroed %g, p %g", frac, p);
    dc_scope_end(s);
}

START_TEST(dropout_statistics_f64) { check_dropout_stats(DC_F64, 0.3); }
END_TEST
START_TEST(dropout_statistics_f32) { check_dropout_stats(DC_F32, 0.75); }
END_TEST

/* The gradient is the mask: y / x where kept, 0 where dropped. */
START_TEST(dropout_gradient_is_the_mask) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(3);
    dc_tensor *x = tu_noncontig(dc_rand_uniform(rng, DC_F64, 2, (const int64_t[]){5, 8}, 1, 2));
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_dropout(x, 0.4, 1, rng);
    dc_rng_free(rng);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    double xv[40], yv[40], gv[40];
    TU_OK(dc_copy_to(x, DC_F64, xv, sizeof xv));
    TU_OK(dc_copy_to(y, DC_F64, yv, sizeof yv));
    TU_OK(dc_copy_to(dc_grad(x), DC_F64, gv, sizeof gv));
    int kept = 0;
    for (int i = 0; i < 40; i++) {
        if (yv[i] == 0.0) {
            ck_assert(gv[i] == 0.0);
        } else {
            kept++;
            ck_assert(gv[i] == 1.0 / 0.6);
            ck_assert(yv[i] == xv[i] * (1.0 / 0.6));
        }
    }
    ck_assert(kept > 0 && kept < 40);
    dc_scope_end(s);
}
END_TEST

START_TEST(dropout_identity_and_extremes) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f32(1, (const int64_t[]){4}, (const double[]){1, -2, 3, 4});
    ck_assert_ptr_eq(dc_dropout(x, 0.5, 0, NULL), x);     /* eval: x itself */
    ck_assert_ptr_eq(dc_dropout(x, 0.0, 1, NULL), x);     /* p = 0 */
    dc_tensor *z = dc_dropout(x, 1.0, 1, NULL);           /* p = 1: zeros */
    ck_assert_ptr_ne(z, x);
    tu_assert_values(z, (const double[]){0, 0, 0, 0}, 4, 0, 0);
    dc_scope_end(s);
    /* the reference returned for x is a new one: x survives its scope */
    dc_tensor *x2 = dc_ones(DC_F64, 1, (const int64_t[]){3});
    s = dc_scope_begin();
    ck_assert_ptr_eq(dc_dropout(x2, 0.2, 0, NULL), x2);
    dc_scope_end(s);
    tu_assert_values(x2, (const double[]){1, 1, 1}, 3, 0, 0);
    dc_release(x2);
}
END_TEST

/* The mask depends on the seed only: same seed, same mask; and the
 * thread's generator is used when rng is NULL. */
START_TEST(dropout_same_seed_same_mask) {
    dc_scope *s = dc_scope_begin();
    int64_t n = 1000;
    dc_tensor *x = dc_ones(DC_F64, 1, &n);
    dc_rng *r1 = dc_rng_new(42), *r2 = dc_rng_new(42), *r3 = dc_rng_new(43);
    dc_tensor *a = dc_dropout(x, 0.5, 1, r1);
    dc_tensor *b = dc_dropout(x, 0.5, 1, r2);
    dc_tensor *c = dc_dropout(x, 0.5, 1, r3);
    dc_rng_free(r1);
    dc_rng_free(r2);
    dc_rng_free(r3);
    tu_assert_close(a, b, 0, 0);
    double same;
    TU_OK(dc_item(dc_sum(dc_cast(dc_eq(a, c), DC_I64), NULL, 0, 0), &same));
    ck_assert_msg(same < 900, "different seeds gave %g equal of 1000", same);
    dc_manual_seed(42);
    dc_tensor *d = dc_dropout(x, 0.5, 1, NULL);
    tu_assert_close(d, a, 0, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(dropout_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_ones(DC_F64, 1, (const int64_t[]){3});
    TU_NULL_WITH(dc_dropout(NULL, 0.5, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_dropout(dc_ones(DC_I64, 1, (const int64_t[]){3}), 0.5, 1, NULL), DC_E_DTYPE);
    TU_NULL_WITH(dc_dropout(x, -0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_dropout(x, 1.5, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_dropout(x, NAN, 0, NULL), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* embedding                                                         */
/* ---------------------------------------------------------------- */

static void check_embedding(dc_dtype dt, dc_dtype idx_dt, int noncontig_idx) {
    int64_t *raw = tu_read_fixture("nn_ops_embedding_idx.i64", 8 * sizeof(int64_t));
    fixture f = fx_open("embedding", 21 + 24 + 24 + 21);
    dc_scope *s = dc_scope_begin();
    const int64_t ws[2] = {7, 3}, is[2] = {2, 4}, ys[3] = {2, 4, 3};
    dc_tensor *idx = dc_cast(dc_from_data(DC_I64, 2, is, raw), idx_dt);
    free(raw);
    if (noncontig_idx) idx = tu_noncontig(idx);
    dc_tensor *w = fx_tensor(&f, dt, 2, ws, 1, 0);
    dc_tensor *gout = fx_tensor(&f, dt, 3, ys, 0, 0);
    dc_tensor *y = dc_embedding(w, idx);
    tu_assert_shape(y, 3, ys);
    fx_expect(&f, y, dt);
    TU_OK(dc_backward(y, gout, 0));
    fx_expect_grad(&f, w, dt);   /* repeated indices add up */
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(embedding_i64) { check_embedding(DC_F64, DC_I64, 0); }
END_TEST
START_TEST(embedding_i32_f32) { check_embedding(DC_F32, DC_I32, 0); }
END_TEST
START_TEST(embedding_noncontig_indices) { check_embedding(DC_F64, DC_I64, 1); }
END_TEST

/* A 0-d index gives one row (dim); an empty index gives (0, dim). */
START_TEST(embedding_scalar_and_empty_indices) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_arange(DC_F64, 0, 6, 1);
    w = dc_reshape(w, 2, (const int64_t[]){3, 2});
    dc_tensor *y = dc_embedding(w, tu_i64(0, NULL, (const int64_t[]){2}));
    tu_assert_shape(y, 1, (const int64_t[]){2});
    tu_assert_values(y, (const double[]){4, 5}, 2, 0, 0);
    y = dc_embedding(w, dc_zeros(DC_I32, 1, (const int64_t[]){0}));
    tu_assert_shape(y, 2, (const int64_t[]){0, 2});
    dc_scope_end(s);
}
END_TEST

START_TEST(embedding_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_ones(DC_F64, 2, (const int64_t[]){5, 2});
    dc_tensor *idx = tu_i64(1, (const int64_t[]){3}, (const int64_t[]){0, 4, 1});
    TU_NULL_WITH(dc_embedding(NULL, idx), DC_E_INVALID);
    TU_NULL_WITH(dc_embedding(w, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_embedding(w, dc_ones(DC_F64, 1, (const int64_t[]){3})), DC_E_DTYPE);
    TU_NULL_WITH(dc_embedding(dc_ones(DC_F64, 1, (const int64_t[]){5}), idx), DC_E_SHAPE);
    TU_NULL_WITH(dc_embedding(w, tu_i64(1, (const int64_t[]){2}, (const int64_t[]){1, 5})),
                 DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "5") != NULL, "message: %s", dc_last_error());
    TU_NULL_WITH(dc_embedding(w, tu_i64(1, (const int64_t[]){2}, (const int64_t[]){-1, 0})),
                 DC_E_RANGE);
    ck_assert_msg(strstr(dc_last_error(), "-1") != NULL, "message: %s", dc_last_error());
    const int64_t eight[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    TU_NULL_WITH(dc_embedding(w, dc_zeros(DC_I64, 8, eight)), DC_E_SHAPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* scaled dot-product attention                                      */
/* ---------------------------------------------------------------- */

typedef enum { MASK_NONE, MASK_BOOL, MASK_FLOAT, MASK_CAUSAL } mask_kind;

/* q (2, 2, 3, 4), k (2, kv_heads, 5, 4), v (2, kv_heads, 5, 6). */
static void check_attention(const char *file, int64_t kv_heads, mask_kind mk, double scale,
                            dc_dtype dt, int noncontig) {
    const int64_t qs[4] = {2, 2, 3, 4}, ks[4] = {2, kv_heads, 5, 4}, vs[4] = {2, kv_heads, 5, 6};
    const int64_t ys[4] = {2, 2, 3, 6}, bms[2] = {3, 5}, fms[4] = {2, 1, 3, 5};
    int64_t nq = 48, nk = numel_of(4, ks), nv = numel_of(4, vs), ny = 72;
    int64_t nmask = mk == MASK_BOOL ? 15 : mk == MASK_FLOAT ? 30 : 0;
    fixture f = fx_open(file, (size_t)(2 * nq + 2 * nk + 2 * nv + nmask + 2 * ny));
    dc_scope *s = dc_scope_begin();
    dc_tensor *q = fx_tensor(&f, dt, 4, qs, 1, noncontig);
    dc_tensor *k = fx_tensor(&f, dt, 4, ks, 1, noncontig);
    dc_tensor *v = fx_tensor(&f, dt, 4, vs, 1, 0);
    dc_tensor *mask = NULL;
    if (mk == MASK_BOOL) {
        const double *m = fx_take(&f, 15);
        uint8_t bits[15];
        for (int i = 0; i < 15; i++) bits[i] = m[i] != 0.0;
        mask = dc_from_data(DC_BOOL, 2, bms, bits);
    } else if (mk == MASK_FLOAT) {
        mask = fx_tensor(&f, dt, 4, fms, 0, noncontig);
    }
    dc_tensor *gout = fx_tensor(&f, dt, 4, ys, 0, 0);
    dc_tensor *y = dc_scaled_dot_product_attention(q, k, v, mask, mk == MASK_CAUSAL, scale);
    TU_NOTNULL(y);
    tu_assert_shape(y, 4, ys);
    fx_expect(&f, y, dt);
    TU_OK(dc_backward(y, gout, 0));
    fx_expect_grad(&f, q, dt);
    fx_expect_grad(&f, k, dt);
    fx_expect_grad(&f, v, dt);
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(attention_bool_mask) { check_attention("att_bool", 2, MASK_BOOL, 0.0, DC_F64, 0); }
END_TEST
START_TEST(attention_bool_mask_f32_noncontig) {
    check_attention("att_bool", 2, MASK_BOOL, 0.0, DC_F32, 1);
}
END_TEST
START_TEST(attention_float_mask) {
    check_attention("att_float", 2, MASK_FLOAT, 0.3, DC_F64, 1);
}
END_TEST
START_TEST(attention_causal) { check_attention("att_causal", 2, MASK_CAUSAL, 0.0, DC_F64, 0); }
END_TEST
START_TEST(attention_broadcast_heads) {
    check_attention("att_bcast", 1, MASK_NONE, -1.0, DC_F64, 0);
}
END_TEST

/* A row with every position masked out is NaN (softmax of only -inf), as
 * in PyTorch; the other rows are unaffected. */
START_TEST(attention_fully_masked_row_is_nan) {
    dc_scope *s = dc_scope_begin();
    const int64_t qs[2] = {2, 3};
    dc_tensor *q = tu_f64(2, qs, (const double[]){1, 0, 0, 0, 1, 0});
    dc_tensor *v = tu_f64(2, qs, (const double[]){1, 2, 3, 4, 5, 6});
    dc_tensor *mask = dc_from_data(DC_BOOL, 2, (const int64_t[]){2, 2},
                                   (const uint8_t[]){0, 0, 1, 0});
    dc_tensor *y = dc_scaled_dot_product_attention(q, q, v, mask, 0, 1.0);
    tu_assert_values(y, (const double[]){NAN, NAN, NAN, 1, 2, 3}, 6, 1e-15, 0);
    dc_scope_end(s);
}
END_TEST

/* By hand: one query, two keys with scores 0 and log 3 (scale 1): weights
 * 1/4, 3/4. */
START_TEST(attention_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *q = tu_f64(2, (const int64_t[]){1, 1}, (const double[]){log(3.0)});
    dc_tensor *k = tu_f64(2, (const int64_t[]){2, 1}, (const double[]){0, 1});
    dc_tensor *v = tu_f64(2, (const int64_t[]){2, 2}, (const double[]){4, 8, 0, 4});
    dc_tensor *y = dc_scaled_dot_product_attention(q, k, v, NULL, 0, 1.0);
    tu_assert_values(y, (const double[]){1, 5}, 2, 1e-14, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(attention_bad_input) {
    dc_scope *s = dc_scope_begin();
    const int64_t s34[2] = {3, 4}, s54[2] = {5, 4}, s56[2] = {5, 6};
    dc_tensor *q = dc_ones(DC_F64, 2, s34), *k = dc_ones(DC_F64, 2, s54);
    dc_tensor *v = dc_ones(DC_F64, 2, s56);
    TU_NULL_WITH(dc_scaled_dot_product_attention(NULL, k, v, NULL, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, NULL, v, NULL, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, k, NULL, NULL, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_scaled_dot_product_attention(dc_ones(DC_I64, 2, s34), k, v, NULL, 0, 0),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, dc_ones(DC_F32, 2, s54), v, NULL, 0, 0),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(dc_ones(DC_F64, 1, (const int64_t[]){4}), k, v,
                                                 NULL, 0, 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, dc_ones(DC_F64, 2, (const int64_t[]){5, 3}),
                                                 v, NULL, 0, 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, k, dc_ones(DC_F64, 2, (const int64_t[]){4, 6}),
                                                 NULL, 0, 0),
                 DC_E_SHAPE);
    /* batch axes that do not broadcast */
    TU_NULL_WITH(dc_scaled_dot_product_attention(dc_ones(DC_F64, 3, (const int64_t[]){2, 3, 4}),
                                                 dc_ones(DC_F64, 3, (const int64_t[]){3, 5, 4}),
                                                 dc_ones(DC_F64, 3, (const int64_t[]){3, 5, 6}),
                                                 NULL, 0, 0),
                 DC_E_SHAPE);
    /* masks: wrong shape, would grow the scores, wrong dtypes */
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, k, v, dc_zeros(DC_BOOL, 2, s34), 0, 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(
                     q, k, v, dc_zeros(DC_F64, 3, (const int64_t[]){2, 3, 5}), 0, 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(
                     q, k, v, dc_zeros(DC_I64, 2, (const int64_t[]){3, 5}), 0, 0),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(
                     q, k, v, dc_zeros(DC_F32, 2, (const int64_t[]){3, 5}), 0, 0),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_scaled_dot_product_attention(q, k, v, NULL, 0, NAN), DC_E_INVALID);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* LSTM and GRU cells                                                */
/* ---------------------------------------------------------------- */

static const int64_t s43_4[2] = {16, 3}, s44_4[2] = {16, 4}, s16[1] = {16};
static const int64_t s33_3[2] = {12, 3}, s34_3[2] = {12, 4}, s12[1] = {12};
static const int64_t s23[2] = {2, 3}, s24[2] = {2, 4};

static void check_lstm(dc_dtype dt, int with_noncontig) {
    fixture f = fx_open("lstm", 48 + 64 + 16 + 16 + 6 + 6 + 8 * 8 + 48 + 64 + 32 + 12 + 16);
    dc_scope *s = dc_scope_begin();
    dc_tensor *w_ih = fx_tensor(&f, dt, 2, s43_4, 1, with_noncontig);
    dc_tensor *w_hh = fx_tensor(&f, dt, 2, s44_4, 1, 0);
    dc_tensor *b_ih = fx_tensor(&f, dt, 1, s16, 1, with_noncontig);
    dc_tensor *b_hh = fx_tensor(&f, dt, 1, s16, 1, 0);
    dc_tensor *x1 = fx_tensor(&f, dt, 2, s23, 1, 0);
    dc_tensor *x2 = fx_tensor(&f, dt, 2, s23, 1, with_noncontig);
    dc_tensor *h0 = fx_tensor(&f, dt, 2, s24, 1, with_noncontig);
    dc_tensor *c0 = fx_tensor(&f, dt, 2, s24, 1, 0);
    dc_tensor *gh = fx_tensor(&f, dt, 2, s24, 0, 0);
    dc_tensor *gc = fx_tensor(&f, dt, 2, s24, 0, 0);
    dc_tensor *h1, *c1, *h2, *c2;
    TU_OK(dc_lstm_cell(x1, h0, c0, w_ih, w_hh, b_ih, b_hh, &h1, &c1));
    TU_OK(dc_lstm_cell(x2, h1, c1, w_ih, w_hh, b_ih, b_hh, &h2, &c2));
    tu_assert_shape(h2, 2, s24);
    tu_assert_shape(c2, 2, s24);
    fx_expect(&f, h1, dt);
    fx_expect(&f, c1, dt);
    fx_expect(&f, h2, dt);
    fx_expect(&f, c2, dt);
    dc_tensor *loss = dc_add(dc_sum(dc_mul(h2, gh), NULL, 0, 0), dc_sum(dc_mul(c2, gc), NULL, 0, 0));
    TU_OK(dc_backward(loss, NULL, 0));
    dc_tensor *leaves[8] = {w_ih, w_hh, b_ih, b_hh, x1, x2, h0, c0};
    for (int i = 0; i < 8; i++) fx_expect_grad(&f, leaves[i], dt);
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(lstm_two_steps) { check_lstm(DC_F64, 0); }
END_TEST
START_TEST(lstm_two_steps_f32_noncontig) { check_lstm(DC_F32, 1); }
END_TEST

static void check_gru(dc_dtype dt, int with_noncontig) {
    fixture f = fx_open("gru", 36 + 48 + 12 + 12 + 6 + 6 + 8 + 8 + 8 + 8 + 36 + 48 + 24 + 12 + 8);
    dc_scope *s = dc_scope_begin();
    dc_tensor *w_ih = fx_tensor(&f, dt, 2, s33_3, 1, 0);
    dc_tensor *w_hh = fx_tensor(&f, dt, 2, s34_3, 1, with_noncontig);
    dc_tensor *b_ih = fx_tensor(&f, dt, 1, s12, 1, 0);
    dc_tensor *b_hh = fx_tensor(&f, dt, 1, s12, 1, with_noncontig);
    dc_tensor *x1 = fx_tensor(&f, dt, 2, s23, 1, with_noncontig);
    dc_tensor *x2 = fx_tensor(&f, dt, 2, s23, 1, 0);
    dc_tensor *h0 = fx_tensor(&f, dt, 2, s24, 1, 0);
    dc_tensor *gh = fx_tensor(&f, dt, 2, s24, 0, 0);
    dc_tensor *h1 = dc_gru_cell(x1, h0, w_ih, w_hh, b_ih, b_hh);
    dc_tensor *h2 = dc_gru_cell(x2, h1, w_ih, w_hh, b_ih, b_hh);
    tu_assert_shape(h2, 2, s24);
    fx_expect(&f, h1, dt);
    fx_expect(&f, h2, dt);
    TU_OK(dc_backward(h2, gh, 0));
    dc_tensor *leaves[7] = {w_ih, w_hh, b_ih, b_hh, x1, x2, h0};
    for (int i = 0; i < 7; i++) fx_expect_grad(&f, leaves[i], dt);
    dc_scope_end(s);
    fx_close(&f);
}

START_TEST(gru_two_steps) { check_gru(DC_F64, 0); }
END_TEST
START_TEST(gru_two_steps_f32_noncontig) { check_gru(DC_F32, 1); }
END_TEST

/* Without biases, by hand: all-zero weights give gates of 1/2 and
 * g = n = 0, so c' = c / 2, h' = tanh(c / 2) / 2 and GRU's h' = h / 2. */
START_TEST(cells_without_bias_by_hand) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_ones(DC_F64, 2, (const int64_t[]){1, 2});
    dc_tensor *h = tu_f64(2, (const int64_t[]){1, 1}, (const double[]){0.8});
    dc_tensor *c = tu_f64(2, (const int64_t[]){1, 1}, (const double[]){2.0});
    dc_tensor *hn = NULL, *cn = NULL;
    TU_OK(dc_lstm_cell(x, h, c, dc_zeros(DC_F64, 2, (const int64_t[]){4, 2}),
                       dc_zeros(DC_F64, 2, (const int64_t[]){4, 1}), NULL, NULL, &hn, &cn));
    tu_assert_values(cn, (const double[]){1.0}, 1, 1e-15, 0);
    tu_assert_values(hn, (const double[]){0.5 * tanh(1.0)}, 1, 1e-15, 1e-15);
    dc_tensor *g = dc_gru_cell(x, h, dc_zeros(DC_F64, 2, (const int64_t[]){3, 2}),
                               dc_zeros(DC_F64, 2, (const int64_t[]){3, 1}), NULL, NULL);
    tu_assert_values(g, (const double[]){0.4}, 1, 1e-15, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(lstm_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_ones(DC_F64, 2, s23), *h = dc_ones(DC_F64, 2, s24);
    dc_tensor *c = dc_ones(DC_F64, 2, s24);
    dc_tensor *wi = dc_ones(DC_F64, 2, s43_4), *wh = dc_ones(DC_F64, 2, s44_4);
    dc_tensor *b = dc_ones(DC_F64, 1, s16);
    dc_tensor *sentinel = x, *ho = sentinel, *co = sentinel;
    TU_FAILS(dc_lstm_cell(NULL, h, c, wi, wh, b, b, &ho, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, NULL, c, wi, wh, b, b, &ho, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, h, NULL, wi, wh, b, b, &ho, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, h, c, NULL, wh, b, b, &ho, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, NULL, b, b, &ho, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, wh, b, b, NULL, &co), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, wh, b, b, &ho, NULL), DC_E_INVALID);
    TU_FAILS(dc_lstm_cell(dc_ones(DC_I64, 2, s23), h, c, wi, wh, b, b, &ho, &co), DC_E_DTYPE);
    TU_FAILS(dc_lstm_cell(x, dc_ones(DC_F32, 2, s24), c, wi, wh, b, b, &ho, &co), DC_E_DTYPE);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, wh, dc_ones(DC_F32, 1, s16), b, &ho, &co), DC_E_DTYPE);
    TU_FAILS(dc_lstm_cell(dc_ones(DC_F64, 1, (const int64_t[]){3}), h, c, wi, wh, b, b, &ho, &co),
             DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, dc_ones(DC_F64, 2, (const int64_t[]){3, 4}), c, wi, wh, b, b, &ho,
                          &co),
             DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, h, dc_ones(DC_F64, 2, (const int64_t[]){2, 5}), wi, wh, b, b, &ho,
                          &co),
             DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, h, c, dc_ones(DC_F64, 2, s33_3), wh, b, b, &ho, &co), DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, h, c, dc_ones(DC_F64, 2, (const int64_t[]){16, 2}), wh, b, b, &ho,
                          &co),
             DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, dc_ones(DC_F64, 2, (const int64_t[]){16, 3}), b, b, &ho,
                          &co),
             DC_E_SHAPE);
    TU_FAILS(dc_lstm_cell(x, h, c, wi, wh, b, dc_ones(DC_F64, 1, s12), &ho, &co), DC_E_SHAPE);
    ck_assert_ptr_eq(ho, sentinel);   /* out-parameters untouched on failure */
    ck_assert_ptr_eq(co, sentinel);
    /* a NULL from a failed op keeps that op's error */
    dc_clear_error();
    ck_assert_int_eq(dc_lstm_cell(dc_add(x, dc_ones(DC_F32, 2, s23)), h, c, wi, wh, b, b, &ho,
                                  &co),
                     DC_E_DTYPE);
    dc_scope_end(s);
}
END_TEST

START_TEST(gru_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_ones(DC_F64, 2, s23), *h = dc_ones(DC_F64, 2, s24);
    dc_tensor *wi = dc_ones(DC_F64, 2, s33_3), *wh = dc_ones(DC_F64, 2, s34_3);
    dc_tensor *b = dc_ones(DC_F64, 1, s12);
    TU_NULL_WITH(dc_gru_cell(NULL, h, wi, wh, b, b), DC_E_INVALID);
    TU_NULL_WITH(dc_gru_cell(x, NULL, wi, wh, b, b), DC_E_INVALID);
    TU_NULL_WITH(dc_gru_cell(x, h, NULL, wh, b, b), DC_E_INVALID);
    TU_NULL_WITH(dc_gru_cell(x, h, wi, NULL, b, b), DC_E_INVALID);
    TU_NULL_WITH(dc_gru_cell(dc_ones(DC_I32, 2, s23), h, wi, wh, b, b), DC_E_DTYPE);
    TU_NULL_WITH(dc_gru_cell(x, h, dc_ones(DC_F32, 2, s33_3), wh, b, b), DC_E_DTYPE);
    TU_NULL_WITH(dc_gru_cell(x, h, wi, wh, b, dc_ones(DC_F32, 1, s12)), DC_E_DTYPE);
    TU_NULL_WITH(dc_gru_cell(x, h, dc_ones(DC_F64, 2, s43_4), wh, b, b), DC_E_SHAPE);
    TU_NULL_WITH(dc_gru_cell(x, h, wi, dc_ones(DC_F64, 2, (const int64_t[]){12, 3}), b, b),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_gru_cell(x, h, wi, wh, dc_ones(DC_F64, 1, s16), b), DC_E_SHAPE);
    TU_NULL_WITH(dc_gru_cell(x, dc_ones(DC_F64, 1, (const int64_t[]){4}), wi, wh, b, b),
                 DC_E_SHAPE);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Initialisers                                                      */
/* ---------------------------------------------------------------- */

typedef struct stats {
    double mean, std, max_abs;
} stats;

static stats stats_of(dc_tensor *t) {
    int64_t n = dc_numel(t);
    double *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(dc_copy_to(t, DC_F64, v, (size_t)n * sizeof *v));
    stats st = {0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        st.mean += v[i];
        if (fabs(v[i]) > st.max_abs) st.max_abs = fabs(v[i]);
    }
    st.mean /= (double)n;
    for (int64_t i = 0; i < n; i++) st.std += (v[i] - st.mean) * (v[i] - st.mean);
    st.std = sqrt(st.std / (double)n);
    free(v);
    return st;
}

/* A uniform(-bound, bound) sample: inside the bound (as the dtype rounds
 * it), reaching close to it, with the uniform's std within 2 %. */
static void assert_uniform(dc_tensor *t, double bound) {
    stats st = stats_of(t);
    double limit = dc_tensor_dtype(t) == DC_F32 ? (double)(float)bound : bound;
    ck_assert_msg(st.max_abs <= limit, "max %.17g over the bound %.17g", st.max_abs, limit);
    ck_assert_msg(st.max_abs > 0.99 * bound, "max %g, bound %g", st.max_abs, bound);
    double want = bound / sqrt(3.0);
    ck_assert_msg(fabs(st.std / want - 1.0) < 0.02, "std %g, wanted %g", st.std, want);
    ck_assert_msg(fabs(st.mean) < 0.02 * want, "mean %g", st.mean);
}

static void assert_normal(dc_tensor *t, double std) {
    stats st = stats_of(t);
    ck_assert_msg(fabs(st.std / std - 1.0) < 0.02, "std %g, wanted %g", st.std, std);
    ck_assert_msg(fabs(st.mean) < 0.02 * std, "mean %g", st.mean);
}

static const int64_t big[2] = {200, 500};   /* 10^5 elements, fan_in 500, fan_out 200 */

START_TEST(init_kaiming_uniform_bound) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(1);
    dc_tensor *w = dc_zeros(DC_F64, 2, big);
    TU_OK(dc_init_kaiming_uniform(w, 0.0, 0, rng));
    assert_uniform(w, sqrt(2.0) * sqrt(3.0 / 500.0));
    TU_OK(dc_init_kaiming_uniform(w, 0.0, 1, rng));             /* fan_out */
    assert_uniform(w, sqrt(2.0) * sqrt(3.0 / 200.0));
    /* a = sqrt(5), PyTorch's Linear/Conv default: bound 1 / sqrt(fan_in);
     * conv weight (16, 8, 3, 3): fan_in 72 */
    dc_tensor *conv = dc_zeros(DC_F32, 4, (const int64_t[]){16, 8, 3, 3});
    TU_OK(dc_init_kaiming_uniform(conv, sqrt(5.0), 0, rng));
    stats st = stats_of(conv);
    ck_assert(st.max_abs <= (double)(float)(1.0 / sqrt(72.0)));
    ck_assert(st.max_abs > 0.98 / sqrt(72.0));
    dc_rng_free(rng);
    dc_scope_end(s);
}
END_TEST

START_TEST(init_kaiming_normal_std) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(2);
    dc_tensor *w = dc_zeros(DC_F32, 2, big);
    TU_OK(dc_init_kaiming_normal(w, 0.2, 0, rng));
    assert_normal(w, sqrt(2.0 / 1.04) / sqrt(500.0));
    /* conv weight (50, 20, 10, 10): fan_out 5000 */
    dc_tensor *conv = dc_zeros(DC_F64, 4, (const int64_t[]){50, 20, 10, 10});
    TU_OK(dc_init_kaiming_normal(conv, 0.0, 1, rng));
    assert_normal(conv, sqrt(2.0) / sqrt(5000.0));
    dc_rng_free(rng);
    dc_scope_end(s);
}
END_TEST

START_TEST(init_xavier) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(3);
    dc_tensor *w = dc_zeros(DC_F32, 2, big);
    TU_OK(dc_init_xavier_uniform(w, 1.5, rng));
    assert_uniform(w, 1.5 * sqrt(6.0 / 700.0));
    dc_tensor *w64 = dc_zeros(DC_F64, 2, big);
    TU_OK(dc_init_xavier_normal(w64, 2.0, rng));
    assert_normal(w64, 2.0 * sqrt(2.0 / 700.0));
    /* conv weight (25, 40, 10, 10): fans 4000 and 2500 */
    dc_tensor *conv = dc_zeros(DC_F64, 4, (const int64_t[]){25, 40, 10, 10});
    TU_OK(dc_init_xavier_uniform(conv, 1.0, rng));
    assert_uniform(conv, sqrt(6.0 / 6500.0));
    dc_rng_free(rng);
    dc_scope_end(s);
}
END_TEST

/* uniform / normal draw exactly what dc_rand_* draws from the same seed,
 * also into a strided view. */
START_TEST(init_uniform_normal_match_rand) {
    dc_scope *s = dc_scope_begin();
    const int64_t sh[2] = {7, 9};
    dc_rng *rng = dc_rng_new(11);
    dc_tensor *want_u = dc_rand_uniform(rng, DC_F32, 2, sh, -0.5, 2.0);
    dc_tensor *want_n = dc_rand_normal(rng, DC_F64, 2, sh, 1.0, 3.0);
    TU_OK(dc_rng_seed(rng, 11));
    dc_tensor *u = tu_noncontig(dc_zeros(DC_F32, 2, sh));
    dc_tensor *n = dc_zeros(DC_F64, 2, sh);
    TU_OK(dc_init_uniform(u, -0.5, 2.0, rng));
    TU_OK(dc_init_normal(n, 1.0, 3.0, rng));
    tu_assert_close(u, want_u, 0, 0);
    tu_assert_close(n, want_n, 0, 0);
    /* NULL: the thread's generator */
    dc_manual_seed(11);
    TU_OK(dc_init_uniform(u, -0.5, 2.0, NULL));
    tu_assert_close(u, want_u, 0, 0);
    dc_rng_free(rng);
    /* statistics over 10^5 elements */
    dc_tensor *w = dc_zeros(DC_F64, 2, big);
    TU_OK(dc_init_uniform(w, -3.0, 3.0, NULL));
    assert_uniform(w, 3.0);
    TU_OK(dc_init_normal(w, 0.0, 0.25, NULL));
    assert_normal(w, 0.25);
    dc_scope_end(s);
}
END_TEST

/* An initialiser is an in-place change: history recorded before it can no
 * longer be back-propagated (the version check of autodiff). Nothing is
 * recorded by the initialiser itself: t stays a leaf. */
START_TEST(init_bumps_version_without_recording) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_ones(DC_F64, 2, (const int64_t[]){3, 4});
    TU_OK(dc_set_requires_grad(w, 1));
    dc_tensor *y = dc_sum(dc_mul(w, w), NULL, 0, 0);
    TU_OK(dc_init_xavier_uniform(w, 1.0, NULL));
    ck_assert_int_eq(dc_is_leaf(w), 1);
    ck_assert_int_eq(dc_requires_grad(w), 1);
    TU_FAILS(dc_backward(y, NULL, 0), DC_E_STATE);
    dc_scope_end(s);
}
END_TEST

START_TEST(init_empty_tensor_is_a_no_op) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *e = dc_zeros(DC_F64, 2, (const int64_t[]){0, 5});
    TU_OK(dc_init_kaiming_uniform(e, 0.0, 0, NULL));
    TU_OK(dc_init_xavier_normal(e, 1.0, NULL));
    TU_OK(dc_init_uniform(e, 0.0, 1.0, NULL));
    dc_scope_end(s);
}
END_TEST

START_TEST(init_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = dc_zeros(DC_F64, 2, (const int64_t[]){3, 4});
    dc_tensor *wi = dc_zeros(DC_I64, 2, (const int64_t[]){3, 4});
    dc_tensor *v = dc_zeros(DC_F64, 1, (const int64_t[]){4});
    TU_FAILS(dc_init_uniform(NULL, 0, 1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_normal(NULL, 0, 1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_xavier_uniform(NULL, 1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_xavier_normal(NULL, 1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_kaiming_uniform(NULL, 0, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_kaiming_normal(NULL, 0, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_uniform(wi, 0, 1, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_normal(wi, 0, 1, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_xavier_uniform(wi, 1, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_xavier_normal(wi, 1, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_kaiming_uniform(wi, 0, 0, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_kaiming_normal(wi, 0, 0, NULL), DC_E_DTYPE);
    TU_FAILS(dc_init_xavier_uniform(v, 1, NULL), DC_E_SHAPE);
    TU_FAILS(dc_init_xavier_normal(v, 1, NULL), DC_E_SHAPE);
    TU_FAILS(dc_init_kaiming_uniform(v, 0, 0, NULL), DC_E_SHAPE);
    TU_FAILS(dc_init_kaiming_normal(v, 0, 1, NULL), DC_E_SHAPE);
    TU_FAILS(dc_init_uniform(w, 1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_uniform(w, 0, INFINITY, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_normal(w, 0, -1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_normal(w, NAN, 1, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_xavier_uniform(w, NAN, NULL), DC_E_INVALID);
    TU_FAILS(dc_init_kaiming_normal(w, INFINITY, 0, NULL), DC_E_INVALID);
    /* failures leave the tensor alone */
    stats st = stats_of(w);
    ck_assert(st.max_abs == 0.0);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */

/* ---------------------------------------------------------------- */
/* Large f32 layer norm and attention: split over threads            */
/* ---------------------------------------------------------------- */

/* Values of t as doubles (malloc'd). */
static double *values_of(dc_tensor *t) {
    TU_NOTNULL(t);
    size_t n = (size_t)dc_numel(t);
    double *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(dc_copy_to(t, DC_F64, v, n * sizeof *v));
    return v;
}

static void assert_close(const double *got, const double *want, size_t n, double tol,
                         const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i])),
                      "%s[%zu]: got %.9g, wanted %.9g", what, i, got[i], want[i]);
}

/* f32 layer norm over rows of 100 (1000 rows, in several blocks and a
 * ragged last one): the same bits on 1 and 2 threads, forward and every
 * gradient, and the f64 results within f32 rounding. */
START_TEST(layer_norm_f32_split_over_threads) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(11);
    int64_t xs[2] = {1000, 100}, d = 100;
    dc_tensor *x64 = dc_rand_normal(rng, DC_F64, 2, xs, 0.5, 2.0);
    dc_tensor *w64 = dc_rand_normal(rng, DC_F64, 1, &d, 1.0, 0.5);
    dc_tensor *b64 = dc_rand_normal(rng, DC_F64, 1, &d, 0.0, 0.5);
    dc_tensor *g64 = dc_rand_normal(rng, DC_F64, 2, xs, 0.0, 1.0);
    dc_rng_free(rng);
    double *res[3][4];   /* f32 on 1 and 2 threads, f64: y, gx, gw, gb */
    for (int run = 0; run < 3; run++) {
        dc_dtype dt = run < 2 ? DC_F32 : DC_F64;
        TU_OK(dc_set_num_threads(run == 1 ? 2 : 1));
        dc_tensor *x = dc_cast(x64, dt), *w = dc_cast(w64, dt), *b = dc_cast(b64, dt);
        TU_OK(dc_set_requires_grad(x, 1));
        TU_OK(dc_set_requires_grad(w, 1));
        TU_OK(dc_set_requires_grad(b, 1));
        dc_tensor *y = dc_layer_norm(x, 1, w, b, 1e-5);
        TU_OK(dc_backward(dc_sum(dc_mul(y, dc_cast(g64, dt)), NULL, 0, 0), NULL, 0));
        res[run][0] = values_of(y);
        res[run][1] = values_of(dc_grad(x));
        res[run][2] = values_of(dc_grad(w));
        res[run][3] = values_of(dc_grad(b));
    }
    TU_OK(dc_set_num_threads(0));
    size_t sizes[4] = {100000, 100000, 100, 100};
    const char *names[4] = {"y", "gx", "gw", "gb"};
    for (int k = 0; k < 4; k++) {
        ck_assert_msg(memcmp(res[0][k], res[1][k], sizes[k] * sizeof(double)) == 0,
                      "%s differs between 1 and 2 threads", names[k]);
        /* gw and gb sum 1000 rows in f32 */
        assert_close(res[0][k], res[2][k], sizes[k], k < 2 ? 2e-5 : 2e-4, names[k]);
    }
    for (int run = 0; run < 3; run++)
        for (int k = 0; k < 4; k++) free(res[run][k]);
    dc_scope_end(s);
}
END_TEST

/* f32 causal attention with 80000 scores (split over threads; the
 * scores' buffer is reused for the probabilities): the same bits on 1 and
 * 2 threads and the f64 results (the composed ops) within f32 rounding,
 * forward and the gradients of q, k and v. */
START_TEST(attention_f32_split_over_threads) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(12);
    int64_t qs[4] = {2, 4, 100, 16};
    dc_tensor *src[4];
    for (int i = 0; i < 4; i++) src[i] = dc_rand_normal(rng, DC_F64, 4, qs, 0.0, 1.0);
    dc_rng_free(rng);
    double *res[3][4];   /* y, gq, gk, gv */
    for (int run = 0; run < 3; run++) {
        dc_dtype dt = run < 2 ? DC_F32 : DC_F64;
        TU_OK(dc_set_num_threads(run == 1 ? 2 : 1));
        dc_tensor *in[3];
        for (int i = 0; i < 3; i++) {
            in[i] = dc_cast(src[i], dt);
            TU_OK(dc_set_requires_grad(in[i], 1));
        }
        dc_tensor *y = dc_scaled_dot_product_attention(in[0], in[1], in[2], NULL, 1, 0.0);
        TU_OK(dc_backward(dc_sum(dc_mul(y, dc_cast(src[3], dt)), NULL, 0, 0), NULL, 0));
        res[run][0] = values_of(y);
        for (int i = 0; i < 3; i++) res[run][i + 1] = values_of(dc_grad(in[i]));
    }
    TU_OK(dc_set_num_threads(0));
    const char *names[4] = {"y", "gq", "gk", "gv"};
    size_t n = 2 * 4 * 100 * 16;
    for (int k = 0; k < 4; k++) {
        ck_assert_msg(memcmp(res[0][k], res[1][k], n * sizeof(double)) == 0,
                      "%s differs between 1 and 2 threads", names[k]);
        assert_close(res[0][k], res[2][k], n, 1e-4, names[k]);
    }
    for (int run = 0; run < 3; run++)
        for (int k = 0; k < 4; k++) free(res[run][k]);
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("nn_ops");
    TCase *tc;
    tc = tu_tcase("batch_norm");
    tcase_add_test(tc, batch_norm_2d_train);
    tcase_add_test(tc, batch_norm_2d_train_f32_noncontig);
    tcase_add_test(tc, batch_norm_2d_eval);
    tcase_add_test(tc, batch_norm_4d_train);
    tcase_add_test(tc, batch_norm_4d_train_f32);
    tcase_add_test(tc, batch_norm_4d_eval_noncontig);
    tcase_add_test(tc, batch_norm_3d_train_without_affine);
    tcase_add_test(tc, batch_norm_train_without_running_stats);
    tcase_add_test(tc, batch_norm_running_update_by_hand);
    tcase_add_test(tc, batch_norm_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("layer_norm");
    tcase_add_test(tc, layer_norm_1_axis_affine);
    tcase_add_test(tc, layer_norm_1_axis_affine_f32_noncontig);
    tcase_add_test(tc, layer_norm_2_axes_plain);
    tcase_add_test(tc, layer_norm_2_axes_affine);
    tcase_add_test(tc, layer_norm_2_axes_affine_f32);
    tcase_add_test(tc, layer_norm_bad_input);
    tcase_add_test(tc, layer_norm_f32_split_over_threads);
    suite_add_tcase(s, tc);
    tc = tu_tcase("dropout");
    tcase_add_test(tc, dropout_statistics_f64);
    tcase_add_test(tc, dropout_statistics_f32);
    tcase_add_test(tc, dropout_gradient_is_the_mask);
    tcase_add_test(tc, dropout_identity_and_extremes);
    tcase_add_test(tc, dropout_same_seed_same_mask);
    tcase_add_test(tc, dropout_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("embedding");
    tcase_add_test(tc, embedding_i64);
    tcase_add_test(tc, embedding_i32_f32);
    tcase_add_test(tc, embedding_noncontig_indices);
    tcase_add_test(tc, embedding_scalar_and_empty_indices);
    tcase_add_test(tc, embedding_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("attention");
    tcase_add_test(tc, attention_bool_mask);
    tcase_add_test(tc, attention_f32_split_over_threads);
    tcase_add_test(tc, attention_bool_mask_f32_noncontig);
    tcase_add_test(tc, attention_float_mask);
    tcase_add_test(tc, attention_causal);
    tcase_add_test(tc, attention_broadcast_heads);
    tcase_add_test(tc, attention_fully_masked_row_is_nan);
    tcase_add_test(tc, attention_by_hand);
    tcase_add_test(tc, attention_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("cells");
    tcase_add_test(tc, lstm_two_steps);
    tcase_add_test(tc, lstm_two_steps_f32_noncontig);
    tcase_add_test(tc, gru_two_steps);
    tcase_add_test(tc, gru_two_steps_f32_noncontig);
    tcase_add_test(tc, cells_without_bias_by_hand);
    tcase_add_test(tc, lstm_bad_input);
    tcase_add_test(tc, gru_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("init");
    tcase_add_test(tc, init_kaiming_uniform_bound);
    tcase_add_test(tc, init_kaiming_normal_std);
    tcase_add_test(tc, init_xavier);
    tcase_add_test(tc, init_uniform_normal_match_rand);
    tcase_add_test(tc, init_bumps_version_without_recording);
    tcase_add_test(tc, init_empty_tensor_is_a_no_op);
    tcase_add_test(tc, init_bad_input);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
