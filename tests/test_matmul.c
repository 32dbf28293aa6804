/* dc_matmul against a naive triple-loop reference computed here, with
 * numpy.matmul's rules written out independently: 1-D promotion,
 * broadcast batch axes, every operand layout GEMM may read in place (and
 * the ones it must copy), empty sizes and bad input. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const dc_dtype dtypes[] = {DC_F64, DC_F32};

/* ---------------------------------------------------------------- */
/* Reference                                                         */
/* ---------------------------------------------------------------- */

typedef struct ref {
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t n;
    double *v;      /* the product */
    double *mag;    /* sum of |a_ik * b_kj|: the scale of rounding errors */
} ref;

static double *values_of(dc_tensor *t) {
    int64_t n = dc_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(dc_copy_to(t, DC_F64, v, (size_t)n * sizeof *v));
    return v;
}

/* Offset (in matrices) of the batch index idx (nbatch axes) within an
 * operand whose own nb batch axes are right-aligned to it. */
static int64_t batch_offset(const int64_t *idx, int nbatch, const int64_t *shape, int nb) {
    int64_t off = 0;
    for (int j = 0; j < nb; j++) {
        int i = j + nbatch - nb;
        off = off * shape[j] + (shape[j] == 1 ? 0 : idx[i]);
    }
    return off;
}

static void ref_matmul(dc_tensor *a, dc_tensor *b, ref *r) {
    int na = dc_ndim(a), nb = dc_ndim(b);
    const int64_t *sa = dc_shape(a), *sb = dc_shape(b);
    int64_t m = na == 1 ? 1 : sa[na - 2], k = sa[na - 1];
    int64_t n = nb == 1 ? 1 : sb[nb - 1];
    ck_assert_int_eq(k, nb == 1 ? sb[0] : sb[nb - 2]);
    int ba = na > 2 ? na - 2 : 0, bb = nb > 2 ? nb - 2 : 0;
    int nbatch = ba > bb ? ba : bb;
    int64_t bshape[DC_MAX_DIMS], nmat = 1;
    for (int i = 0; i < nbatch; i++) {
        int ia = i - (nbatch - ba), ib = i - (nbatch - bb);
        int64_t x = ia >= 0 ? sa[ia] : 1, y = ib >= 0 ? sb[ib] : 1;
        ck_assert(x == y || x == 1 || y == 1);
        bshape[i] = x == 1 ? y : x;
        nmat *= bshape[i];
    }
    r->ndim = nbatch;
    memcpy(r->shape, bshape, (size_t)nbatch * sizeof *bshape);
    if (na > 1) r->shape[r->ndim++] = m;
    if (nb > 1) r->shape[r->ndim++] = n;
    r->n = nmat * m * n;
    r->v = calloc((size_t)(r->n ? r->n : 1), sizeof *r->v);
    r->mag = calloc((size_t)(r->n ? r->n : 1), sizeof *r->mag);
    ck_assert(r->v && r->mag);
    double *av = values_of(a), *bv = values_of(b);
    for (int64_t t = 0; t < nmat; t++) {
        int64_t idx[DC_MAX_DIMS], rem = t;
        for (int i = nbatch - 1; i >= 0; i--) {
            idx[i] = rem % bshape[i];
            rem /= bshape[i];
        }
        const double *am = av + batch_offset(idx, nbatch, sa, ba) * m * k;
        const double *bm = bv + batch_offset(idx, nbatch, sb, bb) * k * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t p = 0; p < k; p++) {
                    double x = am[i * k + p] * bm[p * n + j];
                    r->v[t * m * n + i * n + j] += x;
                    r->mag[t * m * n + i * n + j] += fabs(x);
                }
    }
    free(av);
    free(bv);
}

/* got matches the reference: f64 to 1e-12, f32 to 1e-5 of the scale of
 * each dot product (relative error of a sum, robust to cancellation). */
static void assert_matches(dc_tensor *got, const ref *r) {
    tu_assert_shape(got, r->ndim, r->shape);
    ck_assert_int_eq(dc_numel(got), r->n);
    ck_assert_msg(dc_is_contiguous(got), "the result is not contiguous");
    double rtol = dc_tensor_dtype(got) == DC_F32 ? 1e-5 : 1e-12;
    double *g = values_of(got);
    for (int64_t i = 0; i < r->n; i++) {
        double tol = rtol * r->mag[i] + 1e-30;
        if (!(fabs(g[i] - r->v[i]) <= tol)) {
            double gi = g[i];
            free(g);
            ck_abort_msg("element %lld: got %.17g, wanted %.17g", (long long)i, gi, r->v[i]);
        }
    }
    free(g);
}

static void ref_free(ref *r) {
    free(r->v);
    free(r->mag);
}

/* dc_matmul(a, b) equals the reference. Returns the product (scoped). */
static dc_tensor *check_product(dc_tensor *a, dc_tensor *b) {
    TU_NOTNULL(a);
    TU_NOTNULL(b);
    ref r;
    ref_matmul(a, b, &r);
    dc_tensor *c = dc_matmul(a, b);
    TU_NOTNULL(c);
    ck_assert_int_eq(dc_tensor_dtype(c), dc_tensor_dtype(a));
    assert_matches(c, &r);
    ref_free(&r);
    return c;
}

static dc_tensor *rnd(dc_dtype dt, int ndim, const int64_t *shape, uint64_t seed) {
    dc_rng *rng = dc_rng_new(seed);
    ck_assert_ptr_nonnull(rng);
    dc_tensor *t = dc_rand_uniform(rng, dt, ndim, shape, -1.0, 1.0);
    dc_rng_free(rng);
    TU_NOTNULL(t);
    return t;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* A random tensor of the given shape: R(dt, seed, 2, 3). */
#define R(dt, seed, ...) rnd(dt, NDIM(__VA_ARGS__), SHAPE(__VA_ARGS__), seed)

/* ---------------------------------------------------------------- */
/* Values                                                            */
/* ---------------------------------------------------------------- */

START_TEST(by_hand) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = dc_from_data(DC_F64, 2, SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dc_tensor *b = dc_from_data(DC_F64, 2, SHAPE(3, 2), (double[]){7, 8, 9, 10, 11, 12});
    dc_tensor *c = dc_matmul(dc_cast(a, dt), dc_cast(b, dt));
    tu_assert_shape(c, 2, SHAPE(2, 2));
    tu_assert_values(c, (double[]){58, 64, 139, 154}, 4, 0, 0);
    dc_tensor *v = dc_from_data(DC_F64, 1, SHAPE(3), (double[]){1, -1, 2});
    dc_tensor *d = dc_matmul(dc_cast(v, dt), dc_cast(v, dt));
    tu_assert_shape(d, 0, NULL);
    tu_assert_values(d, (double[]){6}, 1, 0, 0);
    dc_scope_end(s);
}
END_TEST

START_TEST(two_d_shapes) {
    dc_dtype dt = dtypes[_i];
    static const int64_t mkn[][3] = {
        {1, 7, 5}, {6, 1, 4}, {5, 4, 1}, {1, 1, 1}, {1, 9, 1}, {64, 33, 17}, {3, 4, 5},
        {17, 64, 33},
    };
    dc_scope *s = dc_scope_begin();
    for (size_t i = 0; i < sizeof mkn / sizeof *mkn; i++) {
        int64_t m = mkn[i][0], k = mkn[i][1], n = mkn[i][2];
        check_product(R(dt, 10 + i, m, k), R(dt, 20 + i, k, n));
    }
    dc_scope_end(s);
}
END_TEST

START_TEST(one_d_operands) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    tu_assert_shape(check_product(R(dt, 1, 7), R(dt, 2, 7)), 0, NULL);
    tu_assert_shape(check_product(R(dt, 3, 4), R(dt, 4, 4, 6)), 1, SHAPE(6));
    tu_assert_shape(check_product(R(dt, 5, 5, 4), R(dt, 6, 4)), 1, SHAPE(5));
    tu_assert_shape(check_product(R(dt, 7, 1), R(dt, 8, 1, 3)), 1, SHAPE(3));
    tu_assert_shape(check_product(R(dt, 9, 3), R(dt, 10, 2, 3, 5)), 2, SHAPE(2, 5));
    tu_assert_shape(check_product(R(dt, 11, 2, 4, 3), R(dt, 12, 3)), 2, SHAPE(2, 4));
    tu_assert_shape(check_product(R(dt, 13, 2, 1, 4, 3), R(dt, 14, 3)), 3, SHAPE(2, 1, 4));
    dc_scope_end(s);
}
END_TEST

START_TEST(batched_broadcast) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    tu_assert_shape(check_product(R(dt, 1, 2, 1, 3, 4), R(dt, 2, 5, 4, 6)), 4,
                    SHAPE(2, 5, 3, 6));
    check_product(R(dt, 3, 2, 3, 4), R(dt, 4, 2, 4, 5));          /* same batch */
    check_product(R(dt, 5, 1, 3, 4), R(dt, 6, 3, 4, 5));          /* size-1 on a */
    check_product(R(dt, 7, 3, 3, 4), R(dt, 8, 1, 4, 5));          /* size-1 on b: folds */
    check_product(R(dt, 9, 4, 5), R(dt, 10, 3, 5, 2));            /* 2-D a */
    check_product(R(dt, 11, 3, 4, 5), R(dt, 12, 5, 2));           /* 2-D b: one GEMM */
    check_product(R(dt, 13, 2, 3, 4, 5), R(dt, 14, 5, 2));        /* folds two axes */
    check_product(R(dt, 15, 2, 3, 4, 5), R(dt, 16, 3, 5, 2));     /* no fold */
    check_product(R(dt, 17, 2, 1, 1, 4, 5), R(dt, 18, 1, 3, 2, 5, 2));
    check_product(R(dt, 19, 3, 1, 5), R(dt, 20, 5, 2));           /* M = 1 rows fold */
    dc_scope_end(s);
}
END_TEST

/* A batch of small products is split over the pool by products: the
 * same bits on 1 and 2 threads, and right (the reference) on both. */
static void check_threads_agree(dc_tensor *a, dc_tensor *b) {
    TU_OK(dc_set_num_threads(1));
    double *one = values_of(check_product(a, b));
    TU_OK(dc_set_num_threads(2));
    dc_tensor *c = check_product(a, b);
    double *two = values_of(c);
    for (int64_t i = 0; i < dc_numel(c); i++)
        ck_assert_msg(memcmp(&one[i], &two[i], sizeof one[i]) == 0,
                      "element %lld: %.17g on 1 thread, %.17g on 2", (long long)i, one[i],
                      two[i]);
    free(one);
    free(two);
    TU_OK(dc_set_num_threads(0));
}

START_TEST(batched_split_over_threads) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    /* 32 products of 48 x 40 x 32 (attention's per-head shape, smaller) */
    check_threads_agree(R(dt, 1, 4, 8, 48, 32), R(dt, 2, 4, 8, 32, 40));
    /* b broadcast over the first axis; 30 products over two batch axes */
    check_threads_agree(R(dt, 3, 6, 5, 40, 32), R(dt, 4, 5, 32, 40));
    /* transposed views (q k^T), and an odd count (21) */
    dc_tensor *bt = dc_transpose(R(dt, 5, 3, 7, 40, 32), -1, -2);
    check_threads_agree(R(dt, 6, 3, 7, 40, 32), bt);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Layouts: in place (row- or column-major, any ld, any batch stride) */
/* and copied (neither), all against the reference and each other.  */
/* ---------------------------------------------------------------- */

/* The product of the views equals the product of contiguous copies. */
static void check_views(dc_tensor *a, dc_tensor *b) {
    dc_tensor *c = check_product(a, b);
    dc_tensor *c2 = dc_matmul(dc_contiguous(a), dc_contiguous(b));
    double rtol = dc_tensor_dtype(a) == DC_F32 ? 1e-5 : 1e-12;
    tu_assert_close(c, c2, rtol, rtol);
}

START_TEST(transposed_operands) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    /* column-major matrices: GEMM's transpose flags */
    dc_tensor *at = dc_transpose(R(dt, 1, 33, 64), 0, 1);        /* (64, 33) */
    dc_tensor *bt = dc_transpose(R(dt, 2, 17, 33), 0, 1);        /* (33, 17) */
    TU_NOTNULL(at);
    TU_NOTNULL(bt);
    ck_assert(!dc_is_contiguous(at) && !dc_is_contiguous(bt));
    check_views(at, R(dt, 3, 33, 17));
    check_views(R(dt, 4, 64, 33), bt);
    check_views(at, bt);
    /* batched, transposed last two axes */
    dc_tensor *abt = dc_transpose(R(dt, 5, 2, 4, 3), 1, 2);      /* (2, 3, 4) */
    dc_tensor *bbt = dc_transpose(R(dt, 6, 2, 5, 4), -1, -2);    /* (2, 4, 5) */
    check_views(abt, bbt);
    check_views(abt, R(dt, 7, 4, 5));
    /* batch axis moved inside: batch stride K, row stride B*K */
    int perm[3] = {1, 0, 2};
    dc_tensor *ap = dc_permute(R(dt, 8, 3, 2, 4), perm);         /* (2, 3, 4) */
    check_views(ap, R(dt, 9, 4, 5));
    check_views(ap, bbt);
    dc_scope_end(s);
}
END_TEST

/* A random tensor with tu_noncontig's layout. tu_noncontig releases its
 * scratch tensors itself, so call this with no scope open; the caller
 * releases the result. */
static dc_tensor *noncontig(dc_dtype dt, uint64_t seed, int ndim, const int64_t *shape) {
    dc_tensor *t = rnd(dt, ndim, shape, seed);
    dc_tensor *v = tu_noncontig(t);
    dc_release(t);
    TU_NOTNULL(v);
    ck_assert(!dc_is_contiguous(v));
    return v;
}

START_TEST(noncontig_operands) {
    dc_dtype dt = dtypes[_i];
    dc_tensor *in[] = {
        noncontig(dt, 1, 2, SHAPE(5, 6)),    noncontig(dt, 2, 2, SHAPE(6, 7)),
        noncontig(dt, 3, 3, SHAPE(2, 5, 6)), noncontig(dt, 4, 1, SHAPE(6)),
        noncontig(dt, 5, 1, SHAPE(7)),       noncontig(dt, 6, 4, SHAPE(2, 1, 6, 6)),
    };
    dc_scope *s = dc_scope_begin();
    check_views(in[0], in[1]);
    check_views(in[2], in[1]);
    check_views(in[3], in[1]);
    check_views(in[1], in[4]);
    check_views(in[3], in[3]);
    check_views(in[2], in[5]);
    check_views(in[5], in[3]);
    dc_scope_end(s);
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) dc_release(in[i]);
}
END_TEST

START_TEST(sliced_operands) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    /* rows of a longer row: ld > K, read in place */
    dc_tensor *a = dc_narrow(R(dt, 1, 5, 9), 1, 2, 4);           /* (5, 4), ld 9 */
    check_views(a, R(dt, 2, 4, 3));
    /* every other column: neither layout, copied */
    dc_tensor *b = dc_slice(R(dt, 3, 4, 6), 1, 0, 6, 2);         /* (4, 3) */
    check_views(a, b);
    /* every other row: ld = 2 * cols */
    dc_tensor *c = dc_slice(R(dt, 4, 8, 4), 0, 1, 8, 2);         /* (4, 4) */
    check_views(c, dc_transpose(c, 0, 1));
    /* strided vectors: a row read as a transposed column, and back */
    dc_tensor *v = dc_slice(R(dt, 5, 10), 0, 0, 10, 2);          /* (5,) stride 2 */
    check_views(v, R(dt, 6, 5, 3));
    check_views(R(dt, 7, 4, 5), v);
    check_views(v, v);
    /* sliced batch: no fold, one GEMM per matrix */
    dc_tensor *sb = dc_slice(R(dt, 10, 6, 3, 4), 0, 0, 6, 2);    /* (3, 3, 4) */
    check_views(sb, R(dt, 11, 4, 2));
    /* single rows spaced wider than K: fold with ld = batch stride */
    dc_tensor *rows = dc_narrow(R(dt, 12, 4, 1, 7), 2, 1, 3);    /* (4, 1, 3) */
    check_views(rows, R(dt, 13, 3, 5));
    dc_scope_end(s);
}
END_TEST

START_TEST(expanded_operands) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    /* stride-0 batch axis: in place, one GEMM per batch index */
    dc_tensor *a = dc_expand(R(dt, 1, 1, 3, 4), 3, SHAPE(5, 3, 4));
    check_views(a, R(dt, 2, 5, 4, 2));
    check_views(R(dt, 3, 5, 2, 3), a);
    check_views(a, R(dt, 4, 4, 2));
    /* stride-0 rows (every row the same): rows overlap, copied */
    dc_tensor *r = dc_expand(R(dt, 5, 1, 4), 2, SHAPE(3, 4));
    check_views(r, R(dt, 6, 4, 2));
    check_views(R(dt, 7, 2, 3), r);
    /* stride-0 columns */
    dc_tensor *c = dc_expand(R(dt, 8, 4, 1), 2, SHAPE(4, 3));
    check_views(c, R(dt, 9, 3, 2));
    check_views(R(dt, 10, 2, 4), c);
    dc_scope_end(s);
}
END_TEST

START_TEST(empty_sizes) {
    dc_dtype dt = dtypes[_i];
    dc_scope *s = dc_scope_begin();
    /* K = 0: zeros, not garbage */
    dc_tensor *z = dc_matmul(dc_empty(dt, 2, SHAPE(3, 0)), dc_empty(dt, 2, SHAPE(0, 4)));
    tu_assert_shape(z, 2, SHAPE(3, 4));
    tu_assert_values(z, (double[12]){0}, 12, 0, 0);
    dc_tensor *d = dc_matmul(dc_empty(dt, 1, SHAPE(0)), dc_empty(dt, 1, SHAPE(0)));
    tu_assert_shape(d, 0, NULL);
    tu_assert_values(d, (double[]){0}, 1, 0, 0);
    dc_tensor *zb = dc_matmul(dc_empty(dt, 3, SHAPE(2, 3, 0)), dc_empty(dt, 2, SHAPE(0, 2)));
    tu_assert_shape(zb, 3, SHAPE(2, 3, 2));
    tu_assert_values(zb, (double[12]){0}, 12, 0, 0);
    /* M, N or the batch empty */
    tu_assert_shape(dc_matmul(dc_empty(dt, 2, SHAPE(0, 3)), R(dt, 1, 3, 4)), 2, SHAPE(0, 4));
    tu_assert_shape(dc_matmul(R(dt, 2, 2, 3), dc_empty(dt, 2, SHAPE(3, 0))), 2, SHAPE(2, 0));
    tu_assert_shape(dc_matmul(dc_empty(dt, 3, SHAPE(0, 2, 3)), R(dt, 3, 3, 4)), 3,
                    SHAPE(0, 2, 4));
    tu_assert_shape(dc_matmul(dc_empty(dt, 3, SHAPE(0, 2, 3)), R(dt, 4, 1, 3, 4)), 3,
                    SHAPE(0, 2, 4));
    dc_scope_end(s);
}
END_TEST

/* Recording: the product of a tensor that requires grad is not a leaf;
 * with recording off it is. */
START_TEST(records_history) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = R(DC_F64, 1, 2, 3), *b = R(DC_F64, 2, 3, 2);
    TU_OK(dc_set_requires_grad(a, 1));
    dc_tensor *c = dc_matmul(a, b);
    TU_NOTNULL(c);
    ck_assert_int_eq(dc_is_leaf(c), 0);
    ck_assert_int_eq(dc_requires_grad(c), 1);
    int prev = dc_set_grad_enabled(0);
    dc_tensor *d = dc_matmul(a, b);
    dc_set_grad_enabled(prev);
    TU_NOTNULL(d);
    ck_assert_int_eq(dc_is_leaf(d), 1);
    ck_assert_int_eq(dc_requires_grad(d), 0);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad input                                                         */
/* ---------------------------------------------------------------- */

START_TEST(bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *a = R(DC_F32, 1, 2, 3), *b = R(DC_F32, 2, 3, 4);
    TU_NULL_WITH(dc_matmul(NULL, b), DC_E_INVALID);
    TU_NULL_WITH(dc_matmul(a, NULL), DC_E_INVALID);
    /* dtypes */
    TU_NULL_WITH(dc_matmul(a, dc_cast(b, DC_F64)), DC_E_DTYPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_matmul"));
    TU_NULL_WITH(dc_matmul(dc_cast(a, DC_I64), dc_cast(b, DC_I64)), DC_E_DTYPE);
    TU_NULL_WITH(dc_matmul(dc_cast(a, DC_I32), dc_cast(b, DC_I32)), DC_E_DTYPE);
    TU_NULL_WITH(dc_matmul(a, dc_cast(b, DC_U8)), DC_E_DTYPE);
    /* a failed first op keeps its error through the chain */
    dc_clear_error();
    ck_assert_ptr_null(dc_matmul(dc_matmul(dc_cast(a, DC_I64), dc_cast(b, DC_I64)), b));
    ck_assert_int_eq(dc_last_status(), DC_E_DTYPE);
    /* inner sizes: the message names both shapes */
    TU_NULL_WITH(dc_matmul(a, a), DC_E_SHAPE);
    ck_assert_msg(strstr(dc_last_error(), "(2, 3)") != NULL, "%s", dc_last_error());
    TU_NULL_WITH(dc_matmul(R(DC_F32, 3, 2, 5, 3), R(DC_F32, 4, 2, 4, 6)), DC_E_SHAPE);
    ck_assert_msg(strstr(dc_last_error(), "(2, 5, 3)") && strstr(dc_last_error(), "(2, 4, 6)"),
                  "%s", dc_last_error());
    TU_NULL_WITH(dc_matmul(R(DC_F32, 5, 3), R(DC_F32, 6, 4)), DC_E_SHAPE);
    TU_NULL_WITH(dc_matmul(R(DC_F32, 7, 4), a), DC_E_SHAPE);
    TU_NULL_WITH(dc_matmul(a, R(DC_F32, 8, 4)), DC_E_SHAPE);
    /* batch axes that do not broadcast */
    TU_NULL_WITH(dc_matmul(R(DC_F32, 9, 2, 2, 3), R(DC_F32, 10, 3, 3, 4)), DC_E_SHAPE);
    TU_NULL_WITH(dc_matmul(R(DC_F32, 11, 2, 1, 2, 3), R(DC_F32, 12, 3, 5, 3, 4)), DC_E_SHAPE);
    /* 0-d operands */
    TU_NULL_WITH(dc_matmul(dc_scalar(DC_F32, 2), b), DC_E_SHAPE);
    TU_NULL_WITH(dc_matmul(a, dc_scalar(DC_F32, 2)), DC_E_SHAPE);
    /* a result too large to count: stride-0 operands that take no memory */
    dc_tensor *tall = dc_expand(dc_ones(DC_F32, 2, SHAPE(1, 1)), 2, SHAPE(1LL << 40, 1));
    dc_tensor *wide = dc_expand(dc_ones(DC_F32, 2, SHAPE(1, 1)), 2, SHAPE(1, 1LL << 30));
    TU_NOTNULL(tall);
    TU_NOTNULL(wide);
    TU_NULL_WITH(dc_matmul(tall, wide), DC_E_OVERFLOW);
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("matmul");
    int nd = (int)(sizeof dtypes / sizeof *dtypes);
    TCase *values = tu_tcase("values");
    tcase_add_loop_test(values, by_hand, 0, nd);
    tcase_add_loop_test(values, two_d_shapes, 0, nd);
    tcase_add_loop_test(values, one_d_operands, 0, nd);
    tcase_add_loop_test(values, batched_broadcast, 0, nd);
    tcase_add_loop_test(values, empty_sizes, 0, nd);
    tcase_add_loop_test(values, batched_split_over_threads, 0, nd);
    tcase_add_test(values, records_history);
    suite_add_tcase(s, values);
    TCase *layouts = tu_tcase("layouts");
    tcase_add_loop_test(layouts, transposed_operands, 0, nd);
    tcase_add_loop_test(layouts, noncontig_operands, 0, nd);
    tcase_add_loop_test(layouts, sliced_operands, 0, nd);
    tcase_add_loop_test(layouts, expanded_operands, 0, nd);
    suite_add_tcase(s, layouts);
    TCase *bad = tu_tcase("bad_input");
    tcase_add_test(bad, bad_input);
    suite_add_tcase(s, bad);
    return tu_run(s);
}
