/* The autodiff engine: recording rules, accumulation, modes, freeing the
 * history, custom functions, and misuse. Per-op gradients are checked in
 * test_gradcheck. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A leaf requiring grad; owned by the open scope, if any (as tu_f64). */
static dc_tensor *leaf(int64_t n, const double *v) {
    dc_tensor *t = tu_f64(1, &n, v);
    TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

START_TEST(records_only_when_an_input_requires_grad) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *a = tu_f64(1, (int64_t[]){2}, v);
    dc_tensor *b = tu_f64(1, (int64_t[]){2}, v);
    dc_tensor *c = dc_mul(a, b);
    ck_assert_int_eq(dc_requires_grad(c), 0);
    ck_assert_int_eq(dc_is_leaf(c), 1);
    TU_OK(dc_set_requires_grad(a, 1));
    dc_tensor *d = dc_mul(a, b);
    ck_assert_int_eq(dc_requires_grad(d), 1);
    ck_assert_int_eq(dc_is_leaf(d), 0);
    TU_FAILS(dc_set_requires_grad(d, 0), DC_E_STATE);
    dc_tensor *i = dc_arange(DC_I64, 0, 3, 1);
    TU_FAILS(dc_set_requires_grad(i, 1), DC_E_DTYPE);
    TU_FAILS(dc_set_requires_grad(NULL, 1), DC_E_INVALID);
    ck_assert_int_eq(dc_requires_grad(NULL), -1);
    ck_assert_int_eq(dc_is_leaf(NULL), -1);
    dc_scope_end(s);
}
END_TEST

/* d/dx sum(x*x + 3x) = 2x + 3, twice accumulated. */
START_TEST(gradients_accumulate_and_zero) {
    const double v[3] = {1, -2, 0.5};
    dc_tensor *x = leaf(3, v);
    for (int rep = 0; rep < 2; rep++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *y = dc_sum(dc_add(dc_mul(x, x), dc_mul_scalar(x, 3)), NULL, 0, 0);
        TU_OK(dc_backward(y, NULL, 0));
        dc_scope_end(s);
    }
    dc_tensor *g = dc_grad(x);
    const double want[3] = {2 * 5, 2 * -1, 2 * 4};
    tu_assert_values(g, want, 3, 1e-12, 0);
    dc_release(g);
    TU_OK(dc_zero_grad(x));
    TU_NULL_WITH(dc_grad(x), DC_E_STATE);
    dc_release(x);
}
END_TEST

START_TEST(grad_of_a_leaf_is_a_private_copy) {
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *go = tu_f64(1, (int64_t[]){2}, (double[]){5, 6});
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_mul_scalar(x, 1);
    TU_OK(dc_backward(y, go, 0));
    dc_scope_end(s);
    dc_tensor *g = dc_grad(x);
    ck_assert_ptr_ne(dc_data_ptr(g), dc_data_ptr(go));
    TU_OK(dc_fill(go, 0));   /* does not touch x's gradient */
    const double want[2] = {5, 6};
    tu_assert_values(g, want, 2, 0, 0);
    dc_release(g);
    dc_release(go);
    dc_release(x);
}
END_TEST

START_TEST(grad_of_non_leaf_or_untracked_is_an_error) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *y = dc_mul(x, x);
    TU_NULL_WITH(dc_grad(y), DC_E_STATE);
    dc_tensor *plain = tu_f64(1, (int64_t[]){2}, v);
    TU_NULL_WITH(dc_grad(plain), DC_E_STATE);
    TU_NULL_WITH(dc_grad(NULL), DC_E_INVALID);
    TU_FAILS(dc_backward(plain, NULL, 0), DC_E_STATE);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

START_TEST(backward_of_non_scalar_needs_grad_output) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *y = dc_mul(x, x);
    TU_FAILS(dc_backward(y, NULL, 0), DC_E_SHAPE);
    dc_tensor *wrong = dc_ones(DC_F64, 1, (int64_t[]){3});
    TU_FAILS(dc_backward(y, wrong, 0), DC_E_SHAPE);
    dc_tensor *wrong_dtype = dc_ones(DC_F32, 1, (int64_t[]){2});
    TU_FAILS(dc_backward(y, wrong_dtype, 0), DC_E_DTYPE);
    dc_tensor *go = tu_f64(1, (int64_t[]){2}, (double[]){1, 10});
    TU_OK(dc_backward(y, go, 0));
    dc_tensor *g = dc_grad(x);
    const double want[2] = {2, 40};
    tu_assert_values(g, want, 2, 0, 0);
    TU_FAILS(dc_backward(NULL, NULL, 0), DC_E_INVALID);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

START_TEST(backward_twice_needs_retain_graph) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *y = dc_sum(dc_mul(x, x), NULL, 0, 0);
    TU_OK(dc_backward(y, NULL, 1));
    TU_OK(dc_backward(y, NULL, 0));
    dc_tensor *g = dc_grad(x);
    const double want[2] = {4, 8};
    tu_assert_values(g, want, 2, 0, 0);
    TU_FAILS(dc_backward(y, NULL, 0), DC_E_STATE);
    /* a tensor built on the freed history cannot go back through it */
    dc_tensor *z = dc_mul_scalar(y, 2);
    TU_FAILS(dc_backward(z, NULL, 0), DC_E_STATE);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

START_TEST(in_place_change_of_a_saved_tensor_is_caught) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *w = tu_f64(1, (int64_t[]){2}, v);
    dc_tensor *y = dc_sum(dc_mul(x, w), NULL, 0, 0);
    TU_OK(dc_fill(w, 7));   /* w was saved for x's gradient */
    TU_FAILS(dc_backward(y, NULL, 0), DC_E_STATE);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

START_TEST(no_grad_mode_nests) {
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    int outer = dc_set_grad_enabled(0);
    int inner = dc_set_grad_enabled(0);
    ck_assert_int_eq(outer, 1);
    ck_assert_int_eq(inner, 0);
    ck_assert_int_eq(dc_requires_grad(dc_mul(x, x)), 0);
    dc_set_grad_enabled(inner);
    ck_assert_int_eq(dc_is_grad_enabled(), 0);
    dc_set_grad_enabled(outer);
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    ck_assert_int_eq(dc_requires_grad(dc_mul(x, x)), 1);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

static void *grad_mode_in_thread(void *arg) {
    (void)arg;
    return (void *)(intptr_t)dc_is_grad_enabled();
}

START_TEST(no_grad_mode_is_per_thread) {
    int prev = dc_set_grad_enabled(0);
    pthread_t th;
    void *ret;
    pthread_create(&th, NULL, grad_mode_in_thread, NULL);
    pthread_join(th, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, 1);
    dc_set_grad_enabled(prev);
}
END_TEST

START_TEST(detach_shares_data_without_history) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *y = dc_mul_scalar(x, 3);
    dc_tensor *d = dc_detach(y);
    ck_assert_int_eq(dc_requires_grad(d), 0);
    ck_assert_int_eq(dc_is_leaf(d), 1);
    ck_assert_ptr_eq(dc_data_ptr(d), dc_data_ptr(y));
    /* x*detach(3x): gradient flows through the first factor only */
    dc_tensor *z = dc_sum(dc_mul(x, d), NULL, 0, 0);
    TU_OK(dc_backward(z, NULL, 0));
    const double want[2] = {3, 6};
    tu_assert_values(dc_grad(x), want, 2, 0, 0);
    TU_NULL_WITH(dc_detach(NULL), DC_E_INVALID);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

/* A diamond: y = a*b where a and b both come from x. */
START_TEST(diamond_graph_sums_both_paths) {
    dc_scope *s = dc_scope_begin();
    const double v[2] = {1.5, -2};
    dc_tensor *x = leaf(2, v);
    dc_tensor *a = dc_mul_scalar(x, 2);
    dc_tensor *b = dc_add_scalar(x, 1);
    dc_tensor *y = dc_sum(dc_mul(a, b), NULL, 0, 0);   /* 2x(x+1) -> 4x + 2 */
    TU_OK(dc_backward(y, NULL, 0));
    const double want[2] = {8, -6};
    tu_assert_values(dc_grad(x), want, 2, 1e-12, 0);
    dc_scope_end(s);   /* x, made in the scope, goes with it */
}
END_TEST

/* Large gradients are added on the pool: into a leaf's gradient (flat)
 * and into slice windows of an accumulator (strided, split by the first
 * axis). The same bits on 1 and 2 threads, and the values by hand. */
static float *big_grads(int threads, const float *av, const float *bv, int64_t n) {
    TU_OK(dc_set_num_threads(threads));
    dc_scope *s = dc_scope_begin();
    int64_t shape[3] = {64, 3, 1024}, win[3] = {64, 1, 1024};
    dc_tensor *x = dc_zeros(DC_F32, 3, shape);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *a = dc_from_data(DC_F32, 3, shape, av);
    dc_tensor *b = dc_from_data(DC_F32, 3, win, bv);
    TU_NOTNULL(a);
    TU_NOTNULL(b);
    /* x * a + x * a: two gradients of x; the narrows: windows of y's */
    dc_tensor *y = dc_mul(dc_add(x, x), a);
    dc_tensor *l = dc_add(dc_sum(dc_mul(dc_narrow(y, 1, 0, 1), b), NULL, 0, 0),
                          dc_sum(dc_mul(dc_narrow(y, 1, 2, 1), b), NULL, 0, 0));
    l = dc_add(l, dc_sum(y, NULL, 0, 0));
    TU_OK(dc_backward(l, NULL, 0));
    float *g = malloc((size_t)n * sizeof *g);
    ck_assert_ptr_nonnull(g);
    TU_OK(dc_copy_to(dc_grad(x), DC_F32, g, (size_t)n * sizeof *g));
    dc_scope_end(s);   /* x, made in the scope, goes with it */
    TU_OK(dc_set_num_threads(0));
    return g;
}

START_TEST(large_gradients_add_on_the_pool) {
    enum { N = 64 * 3 * 1024, W = 64 * 1024 };
    float *av = malloc(N * sizeof *av), *bv = malloc(W * sizeof *bv);
    ck_assert(av && bv);
    for (int i = 0; i < N; i++) av[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < W; i++) bv[i] = (float)((i * 13) % 61) / 30.0f - 1.0f;
    float *g1 = big_grads(1, av, bv, N), *g2 = big_grads(2, av, bv, N);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(memcmp(&g1[i], &g2[i], sizeof g1[i]) == 0, "grad[%d]: %.9g vs %.9g", i,
                      g1[i], g2[i]);
        /* d l / d y = 1 + b on windows 0 and 2 of axis 1; d y / d x = 2a */
        int row = i / 1024 % 3, w = i / 3072 * 1024 + i % 1024;
        double want = 2.0 * av[i] * (1.0 + (row != 1 ? bv[w] : 0.0));
        ck_assert_msg(fabs(g1[i] - want) <= 1e-6 * (1 + fabs(want)), "grad[%d] = %.9g, want %.9g",
                      i, g1[i], want);
    }
    free(av);
    free(bv);
    free(g1);
    free(g2);
}
END_TEST

START_TEST(history_is_freed_with_its_output) {
    const double v[4] = {1, 2, 3, 4};
    dc_tensor *x = leaf(4, v);
    int64_t before = dc_live_allocations();
    dc_tensor *y = dc_mul(x, x);
    dc_tensor *z = dc_exp(y);
    dc_release(y);   /* z's history keeps y */
    ck_assert_int_gt(dc_live_allocations(), before);
    dc_release(z);   /* no backward: everything goes */
    ck_assert_int_eq(dc_live_allocations(), before);
    dc_release(x);
}
END_TEST

/* 100,000 ops in one chain: freeing and backward must not recurse. */
START_TEST(deep_chain_does_not_overflow_the_stack) {
    const double v[1] = {1};
    dc_tensor *x = leaf(1, v);
    dc_tensor *y = dc_retain(x);
    for (int i = 0; i < 100000; i++) {
        dc_tensor *n = dc_mul_scalar(y, 1.0);
        dc_release(y);
        y = n;
    }
    TU_NOTNULL(y);
    TU_OK(dc_backward(y, NULL, 0));
    const double want[1] = {1};
    dc_tensor *g = dc_grad(x);
    tu_assert_values(g, want, 1, 0, 0);
    dc_release(g);
    dc_release(y);
    dc_tensor *z = dc_retain(x);
    for (int i = 0; i < 100000; i++) {
        dc_tensor *n = dc_add_scalar(z, 0.0);
        dc_release(z);
        z = n;
    }
    dc_release(z);   /* freed without a backward */
    dc_release(x);
}
END_TEST

/* A linear fit trained for 100,000 steps: memory stays flat. */
START_TEST(training_loop_memory_is_flat) {
    const double xs[4] = {0, 1, 2, 3}, ys[4] = {1, 3, 5, 7};
    dc_tensor *x = tu_f64(1, (int64_t[]){4}, xs);
    dc_tensor *t = tu_f64(1, (int64_t[]){4}, ys);
    dc_tensor *w = leaf(1, (double[]){0});
    dc_tensor *b = leaf(1, (double[]){0});
    int64_t at_1000 = 0;
    for (int step = 0; step < 100000; step++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *pred = dc_add(dc_mul(x, w), b);
        dc_tensor *loss = dc_mean(dc_square(dc_sub(pred, t)), NULL, 0, 0);
        TU_OK(dc_backward(loss, NULL, 0));
        int prev = dc_set_grad_enabled(0);
        dc_tensor *params[2] = {w, b};
        for (int p = 0; p < 2; p++) {
            dc_tensor *g = dc_grad(params[p]);
            dc_tensor *nw = dc_sub(params[p], dc_mul_scalar(g, 0.05));
            double val;
            TU_OK(dc_item(nw, &val));
            TU_OK(dc_fill(params[p], val));
            TU_OK(dc_zero_grad(params[p]));
        }
        dc_set_grad_enabled(prev);
        dc_scope_end(s);
        if (step == 1000) at_1000 = dc_live_allocations();
    }
    ck_assert_int_eq(dc_live_allocations(), at_1000);
    double wv, bv;
    TU_OK(dc_item(w, &wv));
    TU_OK(dc_item(b, &bv));
    ck_assert_double_eq_tol(wv, 2, 1e-9);
    ck_assert_double_eq_tol(bv, 1, 1e-9);
    dc_release(w);
    dc_release(b);
    dc_release(x);
    dc_release(t);
}
END_TEST

/* ---- custom ops: f(x) = x^3 with a hand-written backward ---- */

static int ctx_freed;
static void free_ctx(void *ctx) {
    ctx_freed++;
    free(ctx);
}

static dc_tensor *cube_forward(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_mul(dc_mul(in[0], in[0]), in[0]);
}

static dc_status cube_backward(dc_tensor *const *in, int n, dc_tensor *out, dc_tensor *gout,
                               dc_tensor **gin, void *ctx) {
    (void)n;
    (void)out;
    double scale = *(double *)ctx;   /* 3 */
    gin[0] = dc_mul(gout, dc_mul_scalar(dc_square(in[0]), scale));
    return gin[0] ? DC_OK : dc_last_status();
}

START_TEST(custom_op_forward_and_backward) {
    ctx_freed = 0;
    const double v[3] = {1, -2, 0.5};
    dc_tensor *x = leaf(3, v);
    double *ctx = malloc(sizeof *ctx);
    *ctx = 3;
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_custom_op("cube", &x, 1, cube_forward, cube_backward, ctx, free_ctx);
    TU_NOTNULL(y);
    const double yw[3] = {1, -8, 0.125};
    tu_assert_values(y, yw, 3, 1e-15, 0);
    ck_assert_int_eq(dc_requires_grad(y), 1);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    const double gw[3] = {3, 12, 0.75};
    tu_assert_values(dc_grad(x), gw, 3, 1e-15, 0);
    dc_scope_end(s);
    ck_assert_int_eq(ctx_freed, 1);   /* the node died with the backward */
    dc_release(x);
}
END_TEST

START_TEST(custom_op_without_recording_frees_ctx_at_once) {
    ctx_freed = 0;
    const double v[1] = {2};
    dc_tensor *x = tu_f64(1, (int64_t[]){1}, v);   /* no grad */
    dc_tensor *y = dc_custom_op("cube", &x, 1, cube_forward, cube_backward,
                                malloc(sizeof(double)), free_ctx);
    ck_assert_int_eq(ctx_freed, 1);
    const double yw[1] = {8};
    tu_assert_values(y, yw, 1, 0, 0);
    dc_release(y);
    dc_release(x);
}
END_TEST

static dc_tensor *returns_input(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return in[0];
}
static dc_tensor *returns_null(dc_tensor *const *in, int n, void *ctx) {
    (void)in;
    (void)n;
    (void)ctx;
    return NULL;
}
static dc_status wrong_shape_backward(dc_tensor *const *in, int n, dc_tensor *out,
                                      dc_tensor *gout, dc_tensor **gin, void *ctx) {
    (void)in;
    (void)n;
    (void)out;
    (void)gout;
    (void)ctx;
    gin[0] = dc_ones(DC_F64, 1, (int64_t[]){7});
    return DC_OK;
}
static dc_status failing_backward(dc_tensor *const *in, int n, dc_tensor *out,
                                  dc_tensor *gout, dc_tensor **gin, void *ctx) {
    (void)in;
    (void)n;
    (void)out;
    (void)gout;
    (void)gin;
    (void)ctx;
    return DC_E_UNSUPPORTED;
}

START_TEST(custom_op_misuse_is_reported) {
    ctx_freed = 0;
    const double v[2] = {1, 2};
    dc_tensor *x = leaf(2, v);
    dc_scope *s = dc_scope_begin();
    /* forward returning its input: the output is still a node of its own */
    dc_tensor *y = dc_custom_op("id", &x, 1, returns_input, wrong_shape_backward, NULL, NULL);
    TU_NOTNULL(y);
    ck_assert_ptr_ne(y, x);
    ck_assert_int_eq(dc_is_leaf(x), 1);
    TU_FAILS(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0), DC_E_SHAPE);
    dc_tensor *z = dc_custom_op("fails", &x, 1, returns_input, failing_backward, NULL, NULL);
    TU_FAILS(dc_backward(dc_sum(z, NULL, 0, 0), NULL, 0), DC_E_UNSUPPORTED);
    TU_NULL_WITH(dc_custom_op("null", &x, 1, returns_null, NULL, malloc(1), free_ctx),
                 DC_E_INVALID);
    ck_assert_int_eq(ctx_freed, 1);
    TU_NULL_WITH(dc_custom_op("x", &x, 1, NULL, NULL, malloc(1), free_ctx), DC_E_INVALID);
    ck_assert_int_eq(ctx_freed, 2);
    TU_NULL_WITH(dc_custom_op("x", NULL, 1, returns_input, NULL, NULL, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_custom_op("x", &x, -1, returns_input, NULL, NULL, NULL), DC_E_INVALID);
    dc_tensor *nul = NULL;
    TU_NULL_WITH(dc_custom_op("x", &nul, 1, returns_input, NULL, NULL, NULL), DC_E_INVALID);
    dc_scope_end(s);
    dc_release(x);
}
END_TEST

int main(void) {
    Suite *s = suite_create("autograd");
    TCase *tc = tu_tcase("tape");
    tcase_add_test(tc, records_only_when_an_input_requires_grad);
    tcase_add_test(tc, gradients_accumulate_and_zero);
    tcase_add_test(tc, grad_of_a_leaf_is_a_private_copy);
    tcase_add_test(tc, grad_of_non_leaf_or_untracked_is_an_error);
    tcase_add_test(tc, backward_of_non_scalar_needs_grad_output);
    tcase_add_test(tc, backward_twice_needs_retain_graph);
    tcase_add_test(tc, in_place_change_of_a_saved_tensor_is_caught);
    tcase_add_test(tc, no_grad_mode_nests);
    tcase_add_test(tc, no_grad_mode_is_per_thread);
    tcase_add_test(tc, detach_shares_data_without_history);
    tcase_add_test(tc, diamond_graph_sums_both_paths);
    suite_add_tcase(s, tc);
    tc = tu_tcase("memory");
    tcase_add_test(tc, history_is_freed_with_its_output);
    tcase_add_test(tc, deep_chain_does_not_overflow_the_stack);
    tcase_add_test(tc, large_gradients_add_on_the_pool);
    tcase_add_test(tc, training_loop_memory_is_flat);
    suite_add_tcase(s, tc);
    tc = tu_tcase("custom");
    tcase_add_test(tc, custom_op_forward_and_backward);
    tcase_add_test(tc, custom_op_without_recording_frees_ctx_at_once);
    tcase_add_test(tc, custom_op_misuse_is_reported);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
