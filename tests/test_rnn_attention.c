/* Recurrent layers (lib/nn/rnn.c), multi-head attention and the pre-norm
 * transformer block (lib/nn/attention.c) against PyTorch.
 *
 * tests/fixtures/gen_rnn_attention.py writes one file per case (layout in
 * its docstring): inputs, PyTorch's weights in state_dict order, loss
 * weights, the expected outputs and the gradients of
 *     loss = sum(out * w_out) [+ sum(h_n * w_h) [+ sum(c_n * w_c)]].
 * The weights are copied into our modules by state_dict name, which also
 * checks that the names and shapes match PyTorch's. Expected values are
 * PyTorch's results computed in f64 from the same f32 inputs; ours are
 * computed in f32, so the tolerance is f32 rounding: 1e-5 relative plus
 * 1e-6 absolute (for entries that cancel to near zero). */
#include "testutil.h"

#include "core/internal.h"
#include "ops/op_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define RTOL 1e-5
#define ATOL 1e-6
/* An element that is zero in exact arithmetic (the gradient of attention's
 * key bias: softmax ignores a constant added to every score; PyTorch's f64
 * gives ~1e-16) keeps the f32 rounding of the terms that cancel in it:
 * PyTorch's own f32 run of rnnattn_mha_cross_causal leaves up to 4.8e-7
 * there, ours 3.4e-7 to 1.03e-6 depending on the GEMM backend's order of
 * sums. Only for such elements (reference within ATOL of zero), the
 * absolute tolerance is ULPS_OF_MAX units of f32 rounding of the tensor's
 * largest |value|, which stands for the size of the cancelling terms. */
#define ULPS_OF_MAX 2.0

/* ---------------------------------------------------------------- */
/* Fixture reading                                                   */
/* ---------------------------------------------------------------- */

typedef struct reader {
    float *data;
    int64_t n, pos;
    const char *name;
} reader;

static reader open_case(const char *file, int64_t n_floats) {
    reader r = {tu_read_fixture(file, (size_t)n_floats * sizeof(float)), n_floats, 0, file};
    return r;
}

static const float *next_values(reader *r, int64_t n) {
    ck_assert_msg(r->pos + n <= r->n, "%s: read past the end", r->name);
    const float *v = r->data + r->pos;
    r->pos += n;
    return v;
}

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* The next tensor of the file as an f32 tensor (in the open scope). */
static dc_tensor *take(reader *r, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_from_data(DC_F32, ndim, shape, next_values(r, numel_of(ndim, shape)));
    TU_NOTNULL(t);
    return t;
}

static dc_tensor *take_leaf(reader *r, int ndim, const int64_t *shape) {
    dc_tensor *t = take(r, ndim, shape);
    TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

/* The next values of the file (0 / 1) as a DC_BOOL tensor. */
static dc_tensor *take_bool(reader *r, int ndim, const int64_t *shape) {
    int64_t n = numel_of(ndim, shape);
    const float *v = next_values(r, n);
    unsigned char *b = malloc((size_t)n);
    ck_assert_ptr_nonnull(b);
    for (int64_t i = 0; i < n; i++) b[i] = v[i] != 0.0f;
    dc_tensor *t = dc_from_data(DC_BOOL, ndim, shape, b);
    free(b);
    TU_NOTNULL(t);
    return t;
}

/* t matches the next values of the file (and has their count). */
static void expect_next(reader *r, const dc_tensor *t, const char *what) {
    TU_NOTNULL(t);
    int64_t n = dc_numel(t);
    const float *want = next_values(r, n);
    double *got = malloc((size_t)n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    TU_OK(dc_copy_to(t, DC_F64, got, (size_t)n * sizeof *got));
    double largest = 0;
    for (int64_t i = 0; i < n; i++) largest = fmax(largest, fabs((double)want[i]));
    double zero_atol = fmax(ATOL, ULPS_OF_MAX * (double)FLT_EPSILON * largest);
    for (int64_t i = 0; i < n; i++) {
        double w = want[i], g = got[i];
        double atol = fabs(w) <= ATOL ? zero_atol : ATOL;
        if (!(fabs(g - w) <= atol + RTOL * fabs(w))) {
            free(got);
            ck_abort_msg("%s, %s: element %lld is %.9g, PyTorch %.9g", r->name, what,
                         (long long)i, g, w);
        }
    }
    free(got);
}

static void expect_grad(reader *r, dc_tensor *leaf, const char *what) {
    dc_tensor *g = dc_grad(leaf);
    ck_assert_msg(g != NULL, "%s: no gradient for %s: %s", r->name, what, dc_last_error());
    tu_assert_shape(g, dc_ndim(leaf), dc_shape(leaf));
    expect_next(r, g, what);
}

static void close_case(reader *r) {
    ck_assert_msg(r->pos == r->n, "%s: %lld of %lld values used", r->name, (long long)r->pos,
                  (long long)r->n);
    free(r->data);
}

/* The module's state dict is exactly names[] (in order); copies the next
 * values of the file into each entry, found by name. */
static void load_state(dc_module *m, const char *const *names, int n, reader *r) {
    ck_assert_int_eq(dc_module_state_count(m), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(dc_module_state_name(m, i), names[i]);
        dc_tensor *t = dc_module_state_find(m, names[i]);
        TU_NOTNULL(t);
        int64_t k = dc_numel(t);
        TU_OK(dc_copy_from(t, DC_F32, next_values(r, k), (size_t)k * sizeof(float)));
    }
}

static void expect_param_grads(dc_module *m, const char *const *names, int n, reader *r) {
    for (int i = 0; i < n; i++) expect_grad(r, dc_module_state_find(m, names[i]), names[i]);
}

static dc_tensor *weighted_sum(dc_tensor *t, dc_tensor *w) {
    return dc_sum(dc_mul(t, w), NULL, 0, 0);
}

/* ---------------------------------------------------------------- */
/* RNN, LSTM, GRU against PyTorch                                    */
/* ---------------------------------------------------------------- */

enum { RB = 2, RT = 5, RI = 4, RH = 5, RL = 2 };

typedef struct rnn_case {
    dc_rnn_kind kind;
    const char *kind_name;
    bool batch_first, with_h0;
} rnn_case;

static rnn_case rnn_case_of(int i) {
    static const dc_rnn_kind kinds[3] = {DC_RNN_TANH, DC_RNN_LSTM, DC_RNN_GRU};
    static const char *const names[3] = {"tanh", "lstm", "gru"};
    return (rnn_case){kinds[i / 4], names[i / 4], (i / 2) % 2 == 0, i % 2 == 0};
}

/* weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ... (PyTorch). */
static int rnn_state_names(char names[][32], const char **ptrs, bool bias) {
    int n = 0;
    for (int l = 0; l < RL; l++) {
        const char *kinds[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (int j = 0; j < (bias ? 4 : 2); j++) {
            snprintf(names[n], 32, "%s_l%d", kinds[j], l);
            ptrs[n] = names[n];
            n++;
        }
    }
    return n;
}

static int64_t rnn_case_floats(rnn_case c) {
    bool lstm = c.kind == DC_RNN_LSTM;
    int64_t g = (c.kind == DC_RNN_LSTM ? 4 : c.kind == DC_RNN_GRU ? 3 : 1) * RH;
    int64_t params = 0;
    for (int l = 0; l < RL; l++) params += g * (l == 0 ? RI : RH) + g * RH + 2 * g;
    int64_t x = RB * RT * RI, state = RL * RB * RH, out = RB * RT * RH;
    int64_t states = c.with_h0 ? state * (lstm ? 2 : 1) : 0;
    int64_t results = out + state * (lstm ? 2 : 1);
    return x + states + params + 2 * results + x + states + params;
}

START_TEST(rnn_matches_torch) {
    rnn_case c = rnn_case_of(_i);
    bool lstm = c.kind == DC_RNN_LSTM;
    char file[96];
    snprintf(file, sizeof file, "rnnattn_rnn_%s_%s_%s.f32", c.kind_name,
             c.batch_first ? "bf" : "tm", c.with_h0 ? "h0" : "zero");
    reader r = open_case(file, rnn_case_floats(c));
    char name_buf[4 * RL][32];
    const char *names[4 * RL];
    int n_names = rnn_state_names(name_buf, names, true);

    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_rnn_new(c.kind, RI, RH, RL, 1, c.batch_first, NULL);
    TU_NOTNULL(m);
    const int64_t *xs = c.batch_first ? SH(RB, RT, RI) : SH(RT, RB, RI);
    const int64_t *os = c.batch_first ? SH(RB, RT, RH) : SH(RT, RB, RH);
    dc_tensor *x = take_leaf(&r, 3, xs);
    dc_tensor *h0 = c.with_h0 ? take_leaf(&r, 3, SH(RL, RB, RH)) : NULL;
    dc_tensor *c0 = c.with_h0 && lstm ? take_leaf(&r, 3, SH(RL, RB, RH)) : NULL;
    load_state(m, names, n_names, &r);

    dc_tensor *out = NULL, *h_n = NULL, *c_n = NULL;
    TU_OK(dc_rnn_forward(m, x, h0, c0, &out, &h_n, lstm ? &c_n : NULL));
    tu_assert_shape(out, 3, os);
    tu_assert_shape(h_n, 3, SH(RL, RB, RH));
    /* (the file order fixes the order of the reads: one statement each) */
    dc_tensor *w_out = take(&r, 3, os);
    dc_tensor *w_h = take(&r, 3, SH(RL, RB, RH));
    dc_tensor *loss = dc_add(weighted_sum(out, w_out), weighted_sum(h_n, w_h));
    if (lstm) {
        tu_assert_shape(c_n, 3, SH(RL, RB, RH));
        dc_tensor *w_c = take(&r, 3, SH(RL, RB, RH));
        loss = dc_add(loss, weighted_sum(c_n, w_c));
    }
    TU_NOTNULL(loss);
    expect_next(&r, out, "out");
    expect_next(&r, h_n, "h_n");
    if (lstm) expect_next(&r, c_n, "c_n");

    TU_OK(dc_backward(loss, NULL, 0));
    expect_grad(&r, x, "x");
    if (h0) expect_grad(&r, h0, "h0");
    if (c0) expect_grad(&r, c0, "c0");
    expect_param_grads(m, names, n_names, &r);
    dc_scope_end(s);
    dc_module_release(m);
    close_case(&r);
}
END_TEST

/* Names, shapes, kinds and the uniform(-1/sqrt(H), 1/sqrt(H)) init. */
START_TEST(rnn_structure_and_init) {
    const struct {
        dc_rnn_kind kind;
        const char *name;
        int64_t gates;
        int bias;
    } kinds[] = {{DC_RNN_TANH, "RNN", 1, 1}, {DC_RNN_LSTM, "LSTM", 4, 1}, {DC_RNN_GRU, "GRU", 3, 0}};
    dc_rng *rng = dc_rng_new(7);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const int64_t in = 3, hs = 16;
        dc_module *m = dc_rnn_new(kinds[k].kind, in, hs, RL, kinds[k].bias, 0, rng);
        TU_NOTNULL(m);
        ck_assert_str_eq(dc_module_kind(m), kinds[k].name);
        char name_buf[4 * RL][32];
        const char *names[4 * RL];
        int n = rnn_state_names(name_buf, names, kinds[k].bias);
        ck_assert_int_eq(dc_module_state_count(m), n);
        ck_assert_int_eq(dc_module_param_count(m), n);
        ck_assert_int_eq(dc_module_child_count(m), 0);
        dc_scope *s = dc_scope_begin();
        for (int i = 0; i < n; i++) {
            ck_assert_str_eq(dc_module_state_name(m, i), names[i]);
            dc_tensor *t = dc_module_state_tensor(m, i);
            ck_assert_int_eq(dc_tensor_dtype(t), DC_F32);
            ck_assert_int_eq(dc_requires_grad(t), 1);
            int64_t rows = kinds[k].gates * hs;
            bool weight = strncmp(names[i], "weight", 6) == 0;
            int64_t cols = strstr(names[i], "ih_l0") ? in : hs;
            if (weight) tu_assert_shape(t, 2, SH(rows, cols));
            else tu_assert_shape(t, 1, SH(rows));
            /* within the bound, and spread over it (not constant) */
            double bound = 1.0 / sqrt((double)hs);
            double lo, hi;
            TU_OK(dc_item(dc_min(t, NULL, 0, 0), &lo));
            TU_OK(dc_item(dc_max(t, NULL, 0, 0), &hi));
            ck_assert_msg(lo >= -bound && hi <= bound && hi - lo > bound, "%s in [%g, %g]",
                          names[i], lo, hi);
        }
        dc_scope_end(s);
        dc_module_release(m);
    }
    dc_rng_free(rng);
}
END_TEST

/* One layer, one step: the output is one dc_lstm_cell / dc_gru_cell step
 * (the layer uses the cells' formulas with a precomputed projection). */
START_TEST(rnn_step_agrees_with_cells) {
    dc_rng *rng = dc_rng_new(3);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 3, SH(1, 3, 4), 0, 1);
    dc_tensor *h0 = dc_rand_normal(rng, DC_F32, 3, SH(1, 3, 5), 0, 1);
    dc_tensor *c0 = dc_rand_normal(rng, DC_F32, 3, SH(1, 3, 5), 0, 1);
    dc_tensor *x0 = dc_squeeze(x, 0), *h = dc_squeeze(h0, 0), *c = dc_squeeze(c0, 0);
    for (int k = 0; k < 2; k++) {
        dc_rnn_kind kind = k == 0 ? DC_RNN_LSTM : DC_RNN_GRU;
        dc_module *m = dc_rnn_new(kind, 4, 5, 1, 1, 0, rng);
        TU_NOTNULL(m);
        dc_tensor *w_ih = dc_module_state_find(m, "weight_ih_l0");
        dc_tensor *w_hh = dc_module_state_find(m, "weight_hh_l0");
        dc_tensor *b_ih = dc_module_state_find(m, "bias_ih_l0");
        dc_tensor *b_hh = dc_module_state_find(m, "bias_hh_l0");
        dc_tensor *out = NULL, *h_n = NULL, *c_n = NULL;
        TU_OK(dc_rnn_forward(m, x, h0, c0, &out, &h_n, &c_n));
        dc_tensor *want_h, *want_c = NULL;
        if (kind == DC_RNN_LSTM) {
            TU_OK(dc_lstm_cell(x0, h, c, w_ih, w_hh, b_ih, b_hh, &want_h, &want_c));
            tu_assert_close(dc_squeeze(c_n, 0), want_c, 1e-6, 1e-5);
        } else {
            want_h = dc_gru_cell(x0, h, w_ih, w_hh, b_ih, b_hh);
            ck_assert_ptr_null(c_n);
        }
        tu_assert_close(dc_squeeze(out, 0), want_h, 1e-6, 1e-5);
        tu_assert_close(dc_squeeze(h_n, 0), want_h, 1e-6, 1e-5);
        dc_module_release(m);
    }
    dc_scope_end(s);
    dc_rng_free(rng);
}
END_TEST

/* dc_module_forward is the output with zero states; explicit zero states,
 * a strided input and outputs the caller does not want change nothing. */
START_TEST(rnn_forward_variants) {
    dc_rng *rng = dc_rng_new(11);
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_rnn_new(DC_RNN_LSTM, 4, 6, 2, 1, 1, rng);
    TU_NOTNULL(m);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 3, SH(3, 7, 4), 0, 1);
    dc_tensor *zero = dc_zeros(DC_F32, 3, SH(2, 3, 6));
    dc_tensor *out = NULL, *h_n = NULL, *c_n = NULL;
    TU_OK(dc_rnn_forward(m, x, NULL, NULL, &out, &h_n, &c_n));
    tu_assert_shape(out, 3, SH(3, 7, 6));
    /* h_n of the last layer is the last step of out */
    tu_assert_close(dc_narrow(h_n, 0, 1, 1), dc_transpose(dc_narrow(out, 1, 6, 1), 0, 1), 0, 0);

    tu_assert_close(dc_module_forward(m, x), out, 0, 0);
    dc_tensor *o2 = NULL, *h2 = NULL, *c2 = NULL;
    TU_OK(dc_rnn_forward(m, x, zero, zero, &o2, &h2, &c2));
    tu_assert_close(o2, out, 0, 0);
    tu_assert_close(h2, h_n, 0, 0);
    tu_assert_close(c2, c_n, 0, 0);

    dc_tensor *strided = tu_noncontig(x);
    ck_assert_int_eq(dc_is_contiguous(strided), 0);
    TU_OK(dc_rnn_forward(m, strided, NULL, NULL, &o2, NULL, NULL));
    tu_assert_close(o2, out, 1e-6, 1e-5);

    /* only c_n wanted */
    dc_tensor *only_c = NULL;
    TU_OK(dc_rnn_forward(m, x, NULL, NULL, NULL, NULL, &only_c));
    tu_assert_close(only_c, c_n, 0, 0);
    dc_module_release(m);

    /* GRU: c0 is ignored and *c_n becomes NULL */
    m = dc_rnn_new(DC_RNN_GRU, 4, 6, 2, 0, 1, rng);
    TU_NOTNULL(m);
    dc_tensor *c_sentinel = x;
    TU_OK(dc_rnn_forward(m, x, NULL, dc_ones(DC_F32, 1, SH(9)), &o2, &h2, &c_sentinel));
    ck_assert_ptr_null(c_sentinel);
    tu_assert_close(dc_module_forward(m, x), o2, 0, 0);
    dc_module_release(m);
    dc_scope_end(s);
    dc_rng_free(rng);
}
END_TEST

/* Without a scope every result belongs to the caller; the ones not asked
 * for are not leaked (the leak fixture checks). */
START_TEST(rnn_results_without_scope) {
    dc_module *m = dc_rnn_new(DC_RNN_LSTM, 2, 3, 1, 1, 0, NULL);
    TU_NOTNULL(m);
    dc_tensor *x = dc_ones(DC_F32, 3, SH(4, 2, 2));
    dc_tensor *out = NULL, *h_n = NULL;
    TU_OK(dc_rnn_forward(m, x, NULL, NULL, &out, &h_n, NULL));
    tu_assert_shape(out, 3, SH(4, 2, 3));
    tu_assert_shape(h_n, 3, SH(1, 2, 3));
    dc_release(out);
    dc_release(h_n);
    dc_tensor *y = dc_module_forward(m, x);
    TU_NOTNULL(y);
    dc_release(y);
    dc_release(x);
    dc_module_release(m);
}
END_TEST

START_TEST(rnn_bad_input) {
    TU_NULL_WITH(dc_rnn_new((dc_rnn_kind)3, 4, 5, 1, 1, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_rnn_new(DC_RNN_GRU, 0, 5, 1, 1, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_rnn_new(DC_RNN_GRU, 4, 0, 1, 1, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_rnn_new(DC_RNN_GRU, 4, 5, 0, 1, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_rnn_new(DC_RNN_LSTM, 4, INT64_MAX / 2, 1, 1, 0, NULL), DC_E_OVERFLOW);
    TU_NULL_WITH(dc_rnn_new(DC_RNN_TANH, INT64_MAX / 2, INT64_MAX / 2, 1, 1, 0, NULL),
                 DC_E_OVERFLOW);

    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_rnn_new(DC_RNN_LSTM, 4, 5, 2, 1, 1, NULL);
    TU_NOTNULL(m);
    dc_tensor *x = dc_zeros(DC_F32, 3, SH(2, 3, 4));
    dc_tensor *sentinel = x, *out = sentinel, *h_n = sentinel, *c_n = sentinel;
    TU_FAILS(dc_rnn_forward(NULL, x, NULL, NULL, &out, &h_n, &c_n), DC_E_INVALID);
    TU_FAILS(dc_rnn_forward(m, NULL, NULL, NULL, &out, &h_n, &c_n), DC_E_INVALID);
    TU_FAILS(dc_rnn_forward(m, dc_zeros(DC_F32, 2, SH(3, 4)), NULL, NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, dc_zeros(DC_F32, 3, SH(2, 3, 5)), NULL, NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, dc_zeros(DC_F32, 3, SH(2, 0, 4)), NULL, NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, dc_zeros(DC_F64, 3, SH(2, 3, 4)), NULL, NULL, &out, &h_n, &c_n),
             DC_E_DTYPE);
    TU_FAILS(dc_rnn_forward(m, dc_zeros(DC_I64, 3, SH(2, 3, 4)), NULL, NULL, &out, &h_n, &c_n),
             DC_E_DTYPE);
    /* states: (layers, batch, hidden) of x's dtype */
    TU_FAILS(dc_rnn_forward(m, x, dc_zeros(DC_F32, 3, SH(1, 2, 5)), NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, x, dc_zeros(DC_F32, 3, SH(2, 3, 5)), NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, x, dc_zeros(DC_F32, 2, SH(2, 5)), NULL, &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, x, NULL, dc_zeros(DC_F32, 3, SH(2, 2, 4)), &out, &h_n, &c_n),
             DC_E_SHAPE);
    TU_FAILS(dc_rnn_forward(m, x, dc_zeros(DC_F64, 3, SH(2, 2, 5)), NULL, &out, &h_n, &c_n),
             DC_E_DTYPE);
    TU_FAILS(dc_rnn_forward(m, x, NULL, dc_zeros(DC_F64, 3, SH(2, 2, 5)), &out, &h_n, &c_n),
             DC_E_DTYPE);
    /* a failed producer's error is kept */
    dc_clear_error();
    ck_assert_int_eq(dc_rnn_forward(m, dc_zeros(DC_F32, 1, SH(-1)), NULL, NULL, &out, &h_n, &c_n),
                     DC_E_SHAPE);
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
    /* out-parameters untouched on failure */
    ck_assert_ptr_eq(out, sentinel);
    ck_assert_ptr_eq(h_n, sentinel);
    ck_assert_ptr_eq(c_n, sentinel);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 3, SH(2, 3, 7))), DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, NULL), DC_E_INVALID);

    /* not an RNN */
    dc_module *mha = dc_multihead_attention_new(4, 2, 1, NULL);
    TU_NOTNULL(mha);
    TU_FAILS(dc_rnn_forward(mha, x, NULL, NULL, &out, &h_n, &c_n), DC_E_INVALID);
    dc_module_release(mha);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Multi-head attention against PyTorch                              */
/* ---------------------------------------------------------------- */

enum { AB = 2, AE = 8, AHEADS = 2 };

typedef enum mask_kind { MASK_NONE, MASK_LS, MASK_B1LS } mask_kind;

static const struct mha_case {
    const char *name;
    int64_t L, S;
    bool cross;
    mask_kind mask;
    bool causal, bias;
} mha_cases[] = {
    {"self", 4, 4, false, MASK_NONE, false, true},
    {"self_causal", 4, 4, false, MASK_NONE, true, true},
    {"self_mask_nobias", 4, 4, false, MASK_LS, false, false},
    {"cross_mask", 3, 5, true, MASK_LS, false, true},
    {"cross_bmask", 3, 5, true, MASK_B1LS, false, true},
    {"cross_causal", 5, 3, true, MASK_NONE, true, true},
};
#define N_MHA_CASES ((int)(sizeof mha_cases / sizeof mha_cases[0]))

static const char *const mha_names_bias[] = {"in_proj_weight", "in_proj_bias",
                                             "out_proj.weight", "out_proj.bias"};
static const char *const mha_names_nobias[] = {"in_proj_weight", "out_proj.weight"};

static int64_t mha_param_floats(bool bias) {
    return 3 * AE * AE + AE * AE + (bias ? 4 * AE : 0);
}

START_TEST(mha_matches_torch) {
    const struct mha_case *c = &mha_cases[_i];
    int64_t q_n = AB * c->L * AE, kv_n = c->cross ? 2 * AB * c->S * AE : 0;
    int64_t mask_n = c->mask == MASK_NONE ? 0 : c->mask == MASK_LS ? c->L * c->S
                                                                  : AB * c->L * c->S;
    int64_t p = mha_param_floats(c->bias);
    char file[96];
    snprintf(file, sizeof file, "rnnattn_mha_%s.f32", c->name);
    reader r = open_case(file, q_n + kv_n + mask_n + p + 2 * q_n + q_n + kv_n + p);

    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_multihead_attention_new(AE, AHEADS, c->bias, NULL);
    TU_NOTNULL(m);
    dc_tensor *q = take_leaf(&r, 3, SH(AB, c->L, AE)), *k = q, *v = q;
    if (c->cross) {
        k = take_leaf(&r, 3, SH(AB, c->S, AE));
        v = take_leaf(&r, 3, SH(AB, c->S, AE));
    }
    dc_tensor *mask = NULL;
    if (c->mask == MASK_LS) mask = take_bool(&r, 2, SH(c->L, c->S));
    if (c->mask == MASK_B1LS) mask = take_bool(&r, 4, SH(AB, 1, c->L, c->S));
    const char *const *names = c->bias ? mha_names_bias : mha_names_nobias;
    int n_names = c->bias ? 4 : 2;
    load_state(m, names, n_names, &r);

    dc_tensor *out = dc_multihead_attention_forward(m, q, k, v, mask, c->causal);
    TU_NOTNULL(out);
    tu_assert_shape(out, 3, SH(AB, c->L, AE));
    dc_tensor *loss = weighted_sum(out, take(&r, 3, SH(AB, c->L, AE)));
    expect_next(&r, out, "out");
    TU_OK(dc_backward(loss, NULL, 0));
    expect_grad(&r, q, "q");
    if (c->cross) {
        expect_grad(&r, k, "k");
        expect_grad(&r, v, "v");
    }
    expect_param_grads(m, names, n_names, &r);
    dc_scope_end(s);
    dc_module_release(m);
    close_case(&r);
}
END_TEST

START_TEST(mha_structure_and_init) {
    dc_rng *rng = dc_rng_new(5);
    const int64_t e = 12;
    dc_module *m = dc_multihead_attention_new(e, 3, 1, rng);
    TU_NOTNULL(m);
    ck_assert_str_eq(dc_module_kind(m), "MultiheadAttention");
    ck_assert_int_eq(dc_module_state_count(m), 4);
    ck_assert_int_eq(dc_module_param_count(m), 4);
    ck_assert_int_eq(dc_module_child_count(m), 1);
    ck_assert_str_eq(dc_module_child_name(m, 0), "out_proj");
    dc_scope *s = dc_scope_begin();
    for (int i = 0; i < 4; i++) ck_assert_str_eq(dc_module_state_name(m, i), mha_names_bias[i]);
    dc_tensor *w = dc_module_state_find(m, "in_proj_weight");
    tu_assert_shape(w, 2, SH(3 * e, e));
    tu_assert_shape(dc_module_state_find(m, "in_proj_bias"), 1, SH(3 * e));
    tu_assert_shape(dc_module_state_find(m, "out_proj.weight"), 2, SH(e, e));
    tu_assert_shape(dc_module_state_find(m, "out_proj.bias"), 1, SH(e));
    /* biases start at zero; in_proj_weight is xavier-uniform with
     * fan_in e, fan_out 3e */
    double zeros[3 * 12] = {0};
    tu_assert_values(dc_module_state_find(m, "in_proj_bias"), zeros, 3 * e, 0, 0);
    tu_assert_values(dc_module_state_find(m, "out_proj.bias"), zeros, e, 0, 0);
    double bound = sqrt(6.0 / (double)(e + 3 * e)), lo, hi;
    TU_OK(dc_item(dc_min(w, NULL, 0, 0), &lo));
    TU_OK(dc_item(dc_max(w, NULL, 0, 0), &hi));
    ck_assert_msg(lo >= -bound && hi <= bound && hi - lo > bound, "in [%g, %g]", lo, hi);
    dc_scope_end(s);
    dc_module_release(m);

    m = dc_multihead_attention_new(e, 4, 0, rng);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_state_count(m), 2);
    for (int i = 0; i < 2; i++) ck_assert_str_eq(dc_module_state_name(m, i), mha_names_nobias[i]);
    dc_module_release(m);
    dc_rng_free(rng);
}
END_TEST

/* dc_module_forward is unmasked self-attention; distinct (copied) k and v
 * take the unfused projection path and agree; strided inputs too. */
START_TEST(mha_forward_variants) {
    dc_rng *rng = dc_rng_new(9);
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_multihead_attention_new(6, 3, 1, rng);
    TU_NOTNULL(m);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 3, SH(2, 5, 6), 0, 1);
    dc_tensor *want = dc_multihead_attention_forward(m, x, x, x, NULL, 0);
    TU_NOTNULL(want);
    tu_assert_close(dc_module_forward(m, x), want, 0, 0);
    dc_tensor *x2 = dc_clone(x), *x3 = dc_clone(x);
    tu_assert_close(dc_multihead_attention_forward(m, x, x2, x3, NULL, 0), want, 1e-6, 1e-5);
    dc_tensor *strided = tu_noncontig(x);
    tu_assert_close(dc_multihead_attention_forward(m, strided, strided, strided, NULL, 0), want,
                    1e-6, 1e-5);
    /* an all-true mask is no mask; causal: the first query sees only
     * the first key, so changing later keys leaves it alone */
    dc_tensor *all = dc_ones(DC_BOOL, 2, SH(5, 5));
    tu_assert_close(dc_multihead_attention_forward(m, x, x, x, all, 0), want, 1e-6, 1e-5);
    dc_tensor *c1 = dc_multihead_attention_forward(m, x, x, x, NULL, 1);
    dc_tensor *k2 = dc_concat((dc_tensor *const[]){dc_narrow(x, 1, 0, 1),
                                                  dc_mul_scalar(dc_narrow(x, 1, 1, 4), -2.0)},
                              2, 1);
    dc_tensor *c2 = dc_multihead_attention_forward(m, x, k2, k2, NULL, 1);
    tu_assert_close(dc_narrow(c2, 1, 0, 1), dc_narrow(c1, 1, 0, 1), 1e-6, 1e-5);
    dc_module_release(m);
    dc_scope_end(s);
    dc_rng_free(rng);
}
END_TEST

START_TEST(mha_bad_input) {
    TU_NULL_WITH(dc_multihead_attention_new(8, 3, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_new(0, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_new(8, 0, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_new(-8, 2, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_new(INT64_MAX - 1, 1, 1, NULL), DC_E_OVERFLOW);

    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_multihead_attention_new(8, 2, 1, NULL);
    TU_NOTNULL(m);
    dc_tensor *q = dc_zeros(DC_F32, 3, SH(2, 3, 8));
    dc_tensor *kv = dc_zeros(DC_F32, 3, SH(2, 5, 8));
    const char *f = "dc_multihead_attention_forward";
    TU_NULL_WITH(dc_multihead_attention_forward(NULL, q, kv, kv, NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_forward(m, NULL, kv, kv, NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, NULL, kv, NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, NULL, NULL, 0), DC_E_INVALID);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), f));
    dc_clear_error();
    ck_assert_ptr_null(dc_multihead_attention_forward(m, dc_zeros(DC_F32, 1, SH(-1)), kv, kv,
                                                      NULL, 0));
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
    /* rank, feature size, batch and length agreement */
    TU_NULL_WITH(dc_multihead_attention_forward(m, dc_zeros(DC_F32, 2, SH(3, 8)), kv, kv, NULL, 0),
                 DC_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), f));
    TU_NULL_WITH(dc_multihead_attention_forward(m, dc_zeros(DC_F32, 3, SH(2, 3, 6)), kv, kv,
                                                NULL, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, dc_zeros(DC_F32, 3, SH(2, 5, 4)), kv,
                                                NULL, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, dc_zeros(DC_F32, 3, SH(2, 4, 8)),
                                                NULL, 0), DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, dc_zeros(DC_F32, 3, SH(3, 3, 8)), kv, kv,
                                                NULL, 0), DC_E_SHAPE);
    /* dtypes */
    TU_NULL_WITH(dc_multihead_attention_forward(m, dc_zeros(DC_F64, 3, SH(2, 3, 8)), kv, kv,
                                                NULL, 0), DC_E_DTYPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, dc_zeros(DC_F64, 3, SH(2, 5, 8)),
                                                NULL, 0), DC_E_DTYPE);
    /* masks: broadcastable to (B, heads, L, S), bool or q's dtype */
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, kv, dc_ones(DC_BOOL, 2, SH(5, 3)), 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, kv, dc_ones(DC_BOOL, 4, SH(2, 3, 3, 5)),
                                                0), DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, kv,
                                                dc_ones(DC_BOOL, 5, SH(1, 2, 2, 3, 5)), 0),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, kv, dc_ones(DC_I64, 2, SH(3, 5)), 0),
                 DC_E_DTYPE);
    TU_NULL_WITH(dc_multihead_attention_forward(m, q, kv, kv, dc_ones(DC_F64, 2, SH(3, 5)), 0),
                 DC_E_DTYPE);
    /* a float mask of q's dtype is fine */
    TU_NOTNULL(dc_multihead_attention_forward(m, q, kv, kv, dc_zeros(DC_F32, 2, SH(3, 5)), 0));
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 3, SH(2, 3, 7))), DC_E_SHAPE);
    /* not an attention module */
    dc_module *rnn = dc_rnn_new(DC_RNN_GRU, 8, 8, 1, 1, 1, NULL);
    TU_NOTNULL(rnn);
    TU_NULL_WITH(dc_multihead_attention_forward(rnn, q, kv, kv, NULL, 0), DC_E_INVALID);
    dc_module_release(rnn);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Transformer block                                                 */
/* ---------------------------------------------------------------- */

enum { TD = 8, TFF = 16, TT = 4 };

static const char *const block_names[] = {
    "ln_1.weight", "ln_1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
    "attn.out_proj.weight", "attn.out_proj.bias", "ln_2.weight", "ln_2.bias",
    "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"};
#define N_BLOCK_NAMES 12

START_TEST(block_matches_torch) {
    bool causal = _i == 1;
    int64_t x_n = AB * TT * TD;
    int64_t p = 2 * TD + mha_param_floats(true) + 2 * TD + (TD * TFF + TFF) + (TFF * TD + TD);
    reader r = open_case(causal ? "rnnattn_block_causal.f32" : "rnnattn_block_full.f32",
                         x_n + p + 2 * x_n + x_n + p);
    dc_scope *s = dc_scope_begin();
    /* dropout is on in the module but off in eval mode */
    dc_module *m = dc_transformer_block_new(TD, AHEADS, TFF, 0.3, causal, NULL);
    TU_NOTNULL(m);
    TU_OK(dc_module_set_training(m, 0));
    dc_tensor *x = take_leaf(&r, 3, SH(AB, TT, TD));
    load_state(m, block_names, N_BLOCK_NAMES, &r);
    dc_tensor *out = dc_module_forward(m, x);
    TU_NOTNULL(out);
    tu_assert_shape(out, 3, SH(AB, TT, TD));
    dc_tensor *loss = weighted_sum(out, take(&r, 3, SH(AB, TT, TD)));
    expect_next(&r, out, "out");
    TU_OK(dc_backward(loss, NULL, 0));
    expect_grad(&r, x, "x");
    expect_param_grads(m, block_names, N_BLOCK_NAMES, &r);
    dc_scope_end(s);
    dc_module_release(m);
    close_case(&r);
}
END_TEST

/* The residual add of a Linear's output gives dc_add's values and
 * gradients, reusing the output's storage only when nothing else holds
 * it. */
START_TEST(residual_add_over_linear_output) {
    dc_rng *rng = dc_rng_new(3);
    dc_module *lin = dc_linear_new(TD, TD, 1, rng);
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 3, SH(AB, TT, TD), 0.0, 1.0);
    dc_tensor *w = dc_rand_normal(rng, DC_F32, 3, SH(AB, TT, TD), 0.0, 1.0);
    TU_NOTNULL(lin);
    TU_NOTNULL(x);
    TU_NOTNULL(w);
    TU_OK(dc_set_requires_grad(x, 1));
    float want[AB * TT * TD], want_gx[AB * TT * TD], got[AB * TT * TD], got_gx[AB * TT * TD];
    for (int variant = 0; variant < 3; variant++) {
        /* 0: dc_add; 1: dc__add_over, a handed over; 2: a still held */
        dc_scope *s = dc_scope_begin();
        dc_tensor *a = dc_module_forward(lin, x);
        TU_NOTNULL(a);
        dc_tensor *held = variant == 2 ? dc_retain(a) : NULL;
        dc_tensor *out = variant == 0 ? dc_add(x, a) : dc__add_over(x, a);
        TU_NOTNULL(out);
        ck_assert_int_eq(dc__tensor_data(out) == dc__tensor_data(a), variant == 1);
        TU_OK(dc_backward(weighted_sum(out, w), NULL, 0));
        dc_tensor *gx = dc_grad(x);
        TU_NOTNULL(gx);
        TU_OK(dc_copy_to(out, DC_F32, variant ? got : want, sizeof got));
        TU_OK(dc_copy_to(gx, DC_F32, variant ? got_gx : want_gx, sizeof got_gx));
        TU_OK(dc_zero_grad(x));
        dc_release(held);
        dc_scope_end(s);
        if (variant == 0) continue;
        for (int i = 0; i < AB * TT * TD; i++) {
            ck_assert(got[i] == want[i]);
            ck_assert(got_gx[i] == want_gx[i]);
        }
    }
    dc_release(x);
    dc_release(w);
    dc_module_release(lin);
    dc_rng_free(rng);
}
END_TEST

START_TEST(block_structure) {
    dc_module *m = dc_transformer_block_new(TD, AHEADS, TFF, 0.1, 1, NULL);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_state_count(m), N_BLOCK_NAMES);
    ck_assert_int_eq(dc_module_param_count(m), N_BLOCK_NAMES);
    for (int i = 0; i < N_BLOCK_NAMES; i++)
        ck_assert_str_eq(dc_module_state_name(m, i), block_names[i]);
    const char *children[] = {"ln_1", "attn", "ln_2", "mlp"};
    ck_assert_int_eq(dc_module_child_count(m), 4);
    for (int i = 0; i < 4; i++) ck_assert_str_eq(dc_module_child_name(m, i), children[i]);
    dc_module *attn = dc_module_child(m, 1), *mlp = dc_module_child(m, 3);
    ck_assert_str_eq(dc_module_kind(attn), "MultiheadAttention");
    ck_assert_str_eq(dc_module_kind(mlp), "Sequential");
    ck_assert_int_eq(dc_module_child_count(mlp), 3);
    dc_module *first = dc_module_child(mlp, 0);
    ck_assert_str_eq(dc_module_kind(first), "Linear");
    dc_module_release(first);
    dc_module_release(attn);
    dc_module_release(mlp);
    dc_scope *s = dc_scope_begin();
    tu_assert_shape(dc_module_state_find(m, "mlp.0.weight"), 2, SH(TFF, TD));
    tu_assert_shape(dc_module_state_find(m, "mlp.2.weight"), 2, SH(TD, TFF));
    dc_scope_end(s);
    dc_module_release(m);
}
END_TEST

/* Dropout acts only when training: eval output is deterministic, training
 * with p > 0 differs from it, training with p = 0 does not. */
START_TEST(block_dropout_only_when_training) {
    dc_rng *rng = dc_rng_new(21);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 3, SH(2, 5, TD), 0, 1);
    dc_module *m = dc_transformer_block_new(TD, AHEADS, TFF, 0.5, 0, rng);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_is_training(m), 1);
    dc_tensor *train = dc_module_forward(m, x);
    TU_NOTNULL(train);
    TU_OK(dc_module_set_training(m, 0));
    dc_tensor *eval = dc_module_forward(m, x);
    tu_assert_close(dc_module_forward(m, x), eval, 0, 0);
    double diff;
    TU_OK(dc_item(dc_max(dc_abs(dc_sub(train, eval)), NULL, 0, 0), &diff));
    ck_assert_msg(diff > 1e-3, "training output equals eval output (%g)", diff);
    dc_module_release(m);

    dc_rng *twin = dc_rng_new(77);
    m = dc_transformer_block_new(TD, AHEADS, TFF, 0.0, 0, twin);
    TU_NOTNULL(m);
    dc_tensor *t0 = dc_module_forward(m, x);
    TU_OK(dc_module_set_training(m, 0));
    tu_assert_close(dc_module_forward(m, x), t0, 0, 0);
    dc_module_release(m);
    dc_rng_free(twin);
    dc_scope_end(s);
    dc_rng_free(rng);
}
END_TEST

START_TEST(block_bad_input) {
    TU_NULL_WITH(dc_transformer_block_new(8, 3, 16, 0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(0, 1, 16, 0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(8, 0, 16, 0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(8, 2, 0, 0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(8, 2, 16, -0.1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(8, 2, 16, 1.5, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_transformer_block_new(8, 2, 16, NAN, 1, NULL), DC_E_INVALID);
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_transformer_block_new(8, 2, 16, 0.1, 1, NULL);
    TU_NOTNULL(m);
    TU_NULL_WITH(dc_module_forward(m, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 2, SH(4, 8))), DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 3, SH(2, 4, 6))), DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F64, 3, SH(2, 4, 8))), DC_E_DTYPE);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rnn_attention");
    TCase *rnn = tu_tcase("rnn");
    tcase_add_loop_test(rnn, rnn_matches_torch, 0, 12);
    tcase_add_test(rnn, rnn_structure_and_init);
    tcase_add_test(rnn, rnn_step_agrees_with_cells);
    tcase_add_test(rnn, rnn_forward_variants);
    tcase_add_test(rnn, rnn_results_without_scope);
    tcase_add_test(rnn, rnn_bad_input);
    suite_add_tcase(s, rnn);

    TCase *mha = tu_tcase("attention");
    tcase_add_loop_test(mha, mha_matches_torch, 0, N_MHA_CASES);
    tcase_add_test(mha, mha_structure_and_init);
    tcase_add_test(mha, mha_forward_variants);
    tcase_add_test(mha, mha_bad_input);
    suite_add_tcase(s, mha);

    TCase *block = tu_tcase("transformer_block");
    tcase_add_loop_test(block, block_matches_torch, 0, 2);
    tcase_add_test(block, block_structure);
    tcase_add_test(block, residual_add_over_linear_output);
    tcase_add_test(block, block_dropout_only_when_training);
    tcase_add_test(block, block_bad_input);
    suite_add_tcase(s, block);
    return tu_run(s);
}
