/* The fused LSTM layer op (lib/ops/lstm_fused.c) against the same
 * recurrence composed of public ops, in f32 (the finite-difference
 * checks of tests/gradcheck_nn.c run its f64 loops): with a hidden size
 * that fills whole vectors and leaves a tail, and with enough batch rows
 * that two threads share each step's gates. And its argument checks. */
#include "testutil.h"

#include "core/internal.h"
#include "ops/lstm_fused.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

enum { MAX_T = 6 };

/* Batch, steps, hidden size and threads of a case. */
typedef struct dims {
    int64_t b, t, h;
    int threads;
} dims;

/* _i: bits 0-1 the layout and output (see fused_matches_composed_ops);
 * bit 2: the large case, 64 x 64 states a step in two chunks. */
static dims dims_of(int i) {
    return i & 4 ? (dims){64, 3, 64, 2} : (dims){3, MAX_T, 37, 1};
}

/* One LSTM layer written with public ops, as the fused op documents.
 * Returns the states (B, T, H) or (T, B, H); *c_last gets c_{T-1}. */
static dc_tensor *composed_lstm(dc_tensor *xp, dc_tensor *w_hh, dc_tensor *h, dc_tensor *c,
                                bool batch_first, dc_tensor **c_last) {
    int axis = batch_first ? 1 : 0;
    int64_t n_steps = xp->shape[axis], FH = h->shape[1];
    dc_tensor *steps[MAX_T];
    dc_tensor *w_t = dc_transpose(w_hh, 0, 1);
    for (int t = 0; t < n_steps; t++) {
        dc_tensor *pre = dc_add(dc_squeeze(dc_narrow(xp, axis, t, 1), axis), dc_matmul(h, w_t));
        dc_tensor *i = dc_sigmoid(dc_narrow(pre, 1, 0, FH));
        dc_tensor *f = dc_sigmoid(dc_narrow(pre, 1, FH, FH));
        dc_tensor *g = dc_tanh(dc_narrow(pre, 1, 2 * FH, FH));
        dc_tensor *o = dc_sigmoid(dc_narrow(pre, 1, 3 * FH, FH));
        c = dc_add(dc_mul(f, c), dc_mul(i, g));
        h = dc_mul(o, dc_tanh(c));
        steps[t] = h;
    }
    *c_last = c;
    return dc_stack(steps, (int)n_steps, axis);
}

/* A random f32 leaf requiring grad. */
static dc_tensor *leaf(dc_rng *rng, int ndim, const int64_t *shape, double std) {
    dc_tensor *t = dc_rand_normal(rng, DC_F32, ndim, shape, 0.0, std);
    TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

/* sum(states * w_out) [+ sum(c_last * w_c)] */
static dc_tensor *loss_of(dc_tensor *states, dc_tensor *c_last, dc_tensor *w_out,
                          dc_tensor *w_c) {
    dc_tensor *loss = dc_sum(dc_mul(states, w_out), NULL, 0, 0);
    return c_last ? dc_add(loss, dc_sum(dc_mul(c_last, w_c), NULL, 0, 0)) : loss;
}

/* _i: bit 0 batch_first, bit 1 with the last cell state in the output,
 * bit 2 the large case. */
START_TEST(fused_matches_composed_ops) {
    bool batch_first = _i & 1, with_c = (_i >> 1) & 1;
    dims d = dims_of(_i);
    const int64_t FB = d.b, FT = d.t, FH = d.h;
    TU_OK(dc_set_num_threads(d.threads));
    dc_rng *rng = dc_rng_new(40 + (uint64_t)_i);
    dc_scope *s = dc_scope_begin();
    const int64_t *xs = batch_first ? SH(FB, FT, 4 * FH) : SH(FT, FB, 4 * FH);
    const int64_t *ys = batch_first ? SH(FB, FT, FH) : SH(FT, FB, FH);
    dc_tensor *in[4] = {leaf(rng, 3, xs, 1.0), leaf(rng, 2, SH(4 * FH, FH), 0.3),
                        leaf(rng, 2, SH(FB, FH), 1.0), leaf(rng, 2, SH(FB, FH), 1.0)};
    dc_tensor *w_out = dc_rand_normal(rng, DC_F32, 3, ys, 0.0, 1.0);
    dc_tensor *w_c = dc_rand_normal(rng, DC_F32, 2, SH(FB, FH), 0.0, 1.0);

    dc_tensor *want_c = NULL;
    dc_tensor *want = composed_lstm(in[0], in[1], in[2], in[3], batch_first, &want_c);
    TU_OK(dc_backward(loss_of(want, with_c ? want_c : NULL, w_out, w_c), NULL, 0));
    dc_tensor *want_grads[4];
    for (int k = 0; k < 4; k++) {
        want_grads[k] = dc_grad(in[k]);
        TU_OK(dc_zero_grad(in[k]));
    }

    dc_tensor *y = dc__lstm_layer(in[0], in[1], in[2], in[3], batch_first, with_c);
    TU_NOTNULL(y);
    dc_tensor *got = y, *got_c = NULL;
    if (with_c) {
        tu_assert_shape(y, 1, SH(FB * FT * FH + FB * FH));
        got = dc_view(dc_narrow(y, 0, 0, FB * FT * FH), 3, ys);
        got_c = dc_view(dc_narrow(y, 0, FB * FT * FH, FB * FH), 2, SH(FB, FH));
        tu_assert_close(got_c, want_c, 1e-6, 1e-5);
    }
    tu_assert_shape(got, 3, ys);
    tu_assert_close(got, want, 1e-6, 1e-5);
    TU_OK(dc_backward(loss_of(got, got_c, w_out, w_c), NULL, 0));
    for (int k = 0; k < 4; k++) tu_assert_close(dc_grad(in[k]), want_grads[k], 1e-5, 1e-4);

    /* without recording: the same values, and no history */
    int prev = dc_set_grad_enabled(0);
    dc_tensor *plain = dc__lstm_layer(in[0], in[1], in[2], in[3], batch_first, with_c);
    dc_set_grad_enabled(prev);
    TU_NOTNULL(plain);
    ck_assert_int_eq(dc_requires_grad(plain), 0);
    tu_assert_close(plain, y, 0, 0);
    dc_scope_end(s);
    dc_rng_free(rng);
}
END_TEST

/* An empty batch gives empty states and a zero weight gradient. */
START_TEST(fused_empty_batch) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *xp = dc_zeros(DC_F32, 3, SH(0, 3, 8));
    dc_tensor *w = dc_ones(DC_F32, 2, SH(8, 2));
    TU_OK(dc_set_requires_grad(xp, 1));
    TU_OK(dc_set_requires_grad(w, 1));
    dc_tensor *st = dc_zeros(DC_F32, 2, SH(0, 2));
    dc_tensor *y = dc__lstm_layer(xp, w, st, st, true, false);
    tu_assert_shape(y, 3, SH(0, 3, 2));
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    tu_assert_close(dc_grad(w), dc_zeros(DC_F32, 2, SH(8, 2)), 0, 0);
    tu_assert_shape(dc_grad(xp), 3, SH(0, 3, 8));
    dc_scope_end(s);
}
END_TEST

/* The op checks what its callers should have: dtypes and shapes. */
START_TEST(fused_bad_arguments) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *xp = dc_zeros(DC_F32, 3, SH(2, 3, 8));
    dc_tensor *w = dc_zeros(DC_F32, 2, SH(8, 2));
    dc_tensor *st = dc_zeros(DC_F32, 2, SH(3, 2));   /* time-major: B is 3 */
    TU_NOTNULL(dc__lstm_layer(xp, w, st, st, false, false));
    TU_NULL_WITH(dc__lstm_layer(NULL, w, st, st, false, false), DC_E_INVALID);
    TU_NULL_WITH(dc__lstm_layer(xp, w, st, NULL, false, false), DC_E_INVALID);
    TU_NULL_WITH(dc__lstm_layer(xp, w, st, st, true, false), DC_E_SHAPE);   /* B 2 */
    TU_NULL_WITH(dc__lstm_layer(xp, dc_zeros(DC_F32, 2, SH(8, 3)), st, st, false, false),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc__lstm_layer(dc_zeros(DC_F32, 3, SH(2, 3, 7)), w, st, st, false, false),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc__lstm_layer(dc_zeros(DC_F32, 3, SH(0, 3, 8)), w, st, st, false, false),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc__lstm_layer(dc_zeros(DC_F32, 2, SH(3, 8)), w, st, st, false, false),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc__lstm_layer(xp, w, st, dc_zeros(DC_F64, 2, SH(3, 2)), false, false),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc__lstm_layer(dc_zeros(DC_I32, 3, SH(2, 3, 8)), dc_zeros(DC_I32, 2, SH(8, 2)),
                                dc_zeros(DC_I32, 2, SH(3, 2)), dc_zeros(DC_I32, 2, SH(3, 2)),
                                false, false),
                 DC_E_DTYPE);
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *suite = suite_create("lstm_fused");
    TCase *tc = tu_tcase("lstm_fused");
    tcase_add_loop_test(tc, fused_matches_composed_ops, 0, 8);
    tcase_add_test(tc, fused_bad_arguments);
    tcase_add_test(tc, fused_empty_batch);
    suite_add_tcase(suite, tc);
    return tu_run(suite);
}
