/* Gradient checks of the composite neural-network ops: batch_norm,
 * layer_norm, dropout, embedding, scaled dot-product attention, LSTM and
 * GRU cells. They have no op ids of their own (autodiff runs through the
 * ops they are made of), so each case is listed under an op it relies on;
 * the case name says which composite it checks. */
#include "gradcheck.h"

#include "core/internal.h"
#include "ops/lstm_fused.h"

/* ---------------------------------------------------------------- */
/* batch_norm, layer_norm                                            */
/* ---------------------------------------------------------------- */

/* in: x, weight, bias (weight / bias optional by n). ctx: the running
 * statistics for evaluation mode, or NULL for training. */
static dc_tensor *f_batch_norm(dc_tensor *const *in, int n, void *ctx) {
    dc_tensor *const *running = ctx;
    dc_tensor *w = n > 1 ? in[1] : NULL, *b = n > 2 ? in[2] : NULL;
    if (running) return dc_batch_norm(in[0], running[0], running[1], w, b, 0, 0.1, 1e-5);
    return dc_batch_norm(in[0], NULL, NULL, w, b, 1, 0.1, 1e-5);
}

static void batch_norm_train_2d(void) {
    int64_t c = 3;
    dc_tensor *in[3] = {gc_input(1, 2, (const int64_t[]){5, 3}, -2, 2, 0),
                        gc_input(2, 1, &c, 0.5, 1.5, 0), gc_input(3, 1, &c, -1, 1, 0)};
    gc_check(f_batch_norm, in, 3, NULL);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
}

static void batch_norm_train_4d_noncontig(void) {
    int64_t c = 2;
    dc_tensor *in[2] = {gc_input(4, 4, (const int64_t[]){2, 2, 2, 3}, -2, 2, 1),
                        gc_input(5, 1, &c, 0.5, 1.5, 0)};
    gc_check(f_batch_norm, in, 2, NULL);
    for (int i = 0; i < 2; i++) dc_release(in[i]);
}

static void batch_norm_eval(void) {
    int64_t c = 3;
    dc_rng *rng = dc_rng_new(6);
    dc_tensor *running[2] = {dc_rand_uniform(rng, DC_F64, 1, &c, -1, 1),
                             dc_rand_uniform(rng, DC_F64, 1, &c, 0.5, 2)};
    dc_rng_free(rng);
    dc_tensor *in[3] = {gc_input(7, 3, (const int64_t[]){2, 3, 2}, -2, 2, 1),
                        gc_input(8, 1, &c, 0.5, 1.5, 0), gc_input(9, 1, &c, -1, 1, 0)};
    gc_check(f_batch_norm, in, 3, running);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
    dc_release(running[0]);
    dc_release(running[1]);
}

/* in: x, [weight, bias]; ctx: the number of normalised axes. */
static dc_tensor *f_layer_norm(dc_tensor *const *in, int n, void *ctx) {
    return dc_layer_norm(in[0], *(const int *)ctx, n > 1 ? in[1] : NULL, n > 2 ? in[2] : NULL,
                         1e-5);
}

static void layer_norm_1_axis_affine(void) {
    int nd = 1;
    int64_t d = 4;
    dc_tensor *in[3] = {gc_input(10, 2, (const int64_t[]){3, 4}, -2, 2, 0),
                        gc_input(11, 1, &d, 0.5, 1.5, 0), gc_input(12, 1, &d, -1, 1, 0)};
    gc_check(f_layer_norm, in, 3, &nd);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
}

static void layer_norm_2_axes_noncontig(void) {
    int nd = 2;
    dc_tensor *in[1] = {gc_input(13, 3, (const int64_t[]){2, 3, 4}, -2, 2, 1)};
    gc_check(f_layer_norm, in, 1, &nd);
    dc_release(in[0]);
}

/* ---------------------------------------------------------------- */
/* dropout, embedding                                                */
/* ---------------------------------------------------------------- */

/* A generator re-seeded at every evaluation, so the mask never changes. */
static dc_tensor *f_dropout(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    dc_rng *rng = dc_rng_new(77);
    dc_tensor *y = dc_dropout(in[0], 0.4, 1, rng);
    dc_rng_free(rng);
    return y;
}

static void dropout_fixed_seed(void) {
    dc_tensor *x = gc_input(14, 2, (const int64_t[]){4, 5}, -2, 2, 1);
    gc_check(f_dropout, &x, 1, NULL);
    dc_release(x);
}

/* in: weight; ctx: the indices. */
static dc_tensor *f_embedding(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    return dc_embedding(in[0], ctx);
}

static void embedding_repeated_indices(void) {
    dc_tensor *idx = dc_from_data(DC_I64, 2, (const int64_t[]){2, 3},
                                  (const int64_t[]){4, 0, 4, 1, 4, 0});
    dc_tensor *w = gc_input(15, 2, (const int64_t[]){5, 3}, -1, 1, 1);
    gc_check(f_embedding, &w, 1, idx);
    dc_release(w);
    dc_release(idx);
}

/* ---------------------------------------------------------------- */
/* attention                                                         */
/* ---------------------------------------------------------------- */

typedef struct att_params {
    dc_tensor *bool_mask;   /* or NULL */
    int causal;
    double scale;
} att_params;

/* in: q, k, v, [float mask]. */
static dc_tensor *f_attention(dc_tensor *const *in, int n, void *ctx) {
    const att_params *p = ctx;
    dc_tensor *mask = n > 3 ? in[3] : p->bool_mask;
    return dc_scaled_dot_product_attention(in[0], in[1], in[2], mask, p->causal, p->scale);
}

static void attention_causal(void) {
    att_params p = {NULL, 1, 0.0};
    dc_tensor *in[3] = {gc_input(16, 3, (const int64_t[]){2, 3, 4}, -1, 1, 0),
                        gc_input(17, 3, (const int64_t[]){2, 4, 4}, -1, 1, 1),
                        gc_input(18, 3, (const int64_t[]){2, 4, 3}, -1, 1, 0)};
    gc_check(f_attention, in, 3, &p);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
}

static void attention_bool_mask_broadcast(void) {
    dc_tensor *mask = dc_from_data(DC_BOOL, 2, (const int64_t[]){2, 3},
                                   (const uint8_t[]){1, 0, 1, 0, 1, 1});
    att_params p = {mask, 0, 0.7};
    dc_tensor *in[3] = {gc_input(19, 4, (const int64_t[]){1, 2, 2, 3}, -1, 1, 1),
                        gc_input(20, 3, (const int64_t[]){2, 3, 3}, -1, 1, 0),
                        gc_input(21, 3, (const int64_t[]){2, 3, 2}, -1, 1, 0)};
    gc_check(f_attention, in, 3, &p);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
    dc_release(mask);
}

static void attention_float_mask(void) {
    att_params p = {NULL, 0, 0.0};
    dc_tensor *in[4] = {gc_input(22, 2, (const int64_t[]){3, 2}, -1, 1, 0),
                        gc_input(23, 2, (const int64_t[]){4, 2}, -1, 1, 0),
                        gc_input(24, 2, (const int64_t[]){4, 3}, -1, 1, 1),
                        gc_input(25, 2, (const int64_t[]){3, 4}, -1, 1, 0)};
    gc_check(f_attention, in, 4, &p);
    for (int i = 0; i < 4; i++) dc_release(in[i]);
}

/* ---------------------------------------------------------------- */
/* LSTM, GRU                                                         */
/* ---------------------------------------------------------------- */

/* in: x, h, c, w_ih, w_hh, [b_ih, b_hh] -> concat(h', c') along axis 1. */
static dc_tensor *f_lstm(dc_tensor *const *in, int n, void *ctx) {
    (void)ctx;
    dc_tensor *h = NULL, *c = NULL;
    if (dc_lstm_cell(in[0], in[1], in[2], in[3], in[4], n > 5 ? in[5] : NULL,
                     n > 6 ? in[6] : NULL, &h, &c) != DC_OK)
        return NULL;
    /* gc_check calls f inside a scope of its own, which owns h and c */
    dc_tensor *both[2] = {h, c};
    return dc_concat(both, 2, 1);
}

static void lstm_cell_with_bias(void) {
    int64_t g = 8;   /* 4 gates x hidden 2 */
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[7] = {gc_input(26, 2, (const int64_t[]){2, 3}, -1, 1, 0),
                        gc_input(27, 2, (const int64_t[]){2, 2}, -1, 1, 0),
                        gc_input(28, 2, (const int64_t[]){2, 2}, -1, 1, 1),
                        gc_input(29, 2, (const int64_t[]){8, 3}, -1, 1, 1),
                        gc_input(30, 2, (const int64_t[]){8, 2}, -1, 1, 0),
                        gc_input(31, 1, &g, -1, 1, 0),
                        gc_input(32, 1, &g, -1, 1, 0)};
    gc_check(f_lstm, in, 7, NULL);
    dc_scope_end(s);
}

static void lstm_cell_without_bias(void) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[5] = {gc_input(33, 2, (const int64_t[]){1, 2}, -1, 1, 0),
                        gc_input(34, 2, (const int64_t[]){1, 3}, -1, 1, 0),
                        gc_input(35, 2, (const int64_t[]){1, 3}, -1, 1, 0),
                        gc_input(36, 2, (const int64_t[]){12, 2}, -1, 1, 0),
                        gc_input(37, 2, (const int64_t[]){12, 3}, -1, 1, 1)};
    gc_check(f_lstm, in, 5, NULL);
    dc_scope_end(s);
}

/* in: x, h, w_ih, w_hh, [b_ih, b_hh]. */
static dc_tensor *f_gru(dc_tensor *const *in, int n, void *ctx) {
    (void)ctx;
    return dc_gru_cell(in[0], in[1], in[2], in[3], n > 4 ? in[4] : NULL, n > 5 ? in[5] : NULL);
}

static void gru_cell_with_bias(void) {
    int64_t g = 9;   /* 3 gates x hidden 3 */
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[6] = {gc_input(38, 2, (const int64_t[]){2, 2}, -1, 1, 0),
                        gc_input(39, 2, (const int64_t[]){2, 3}, -1, 1, 1),
                        gc_input(40, 2, (const int64_t[]){9, 2}, -1, 1, 0),
                        gc_input(41, 2, (const int64_t[]){9, 3}, -1, 1, 1),
                        gc_input(42, 1, &g, -1, 1, 0),
                        gc_input(43, 1, &g, -1, 1, 0)};
    gc_check(f_gru, in, 6, NULL);
    dc_scope_end(s);
}

static void gru_cell_without_bias(void) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[4] = {gc_input(44, 2, (const int64_t[]){3, 2}, -1, 1, 0),
                        gc_input(45, 2, (const int64_t[]){3, 2}, -1, 1, 0),
                        gc_input(46, 2, (const int64_t[]){6, 2}, -1, 1, 0),
                        gc_input(47, 2, (const int64_t[]){6, 2}, -1, 1, 0)};
    gc_check(f_gru, in, 4, NULL);
    dc_scope_end(s);
}

/* Cross-entropy of (N, C) logits with class indices (the fused op):
 * mean with an ignored target, sum, and logits seen through a transpose. */
typedef struct ce_ctx {
    dc_loss *loss;
    dc_tensor *target;
    int transposed;        /* the input is (C, N): use its transpose */
} ce_ctx;

static dc_tensor *f_cross_entropy(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    const ce_ctx *c = ctx;
    dc_tensor *x = c->transposed ? dc_transpose(in[0], 0, 1) : in[0];
    return dc_loss_forward(c->loss, x, c->target);
}

static void run_cross_entropy(dc_reduction reduction, int transposed) {
    dc_scope *s = dc_scope_begin();
    const int64_t shape[2] = {transposed ? 5 : 4, transposed ? 4 : 5};
    dc_tensor *x = gc_input(60 + (uint64_t)transposed, 2, shape, -3, 3, 0);
    ce_ctx c = {dc_loss_new(DC_LOSS_CROSS_ENTROPY, reduction),
                dc_from_data(DC_I64, 1, (const int64_t[]){4}, (const int64_t[]){2, 7, 0, 4}),
                transposed};
    TU_OK(dc_loss_set_ignore_index(c.loss, 7));
    gc_check(f_cross_entropy, &x, 1, &c);
    dc_loss_release(c.loss);
    dc_scope_end(s);
}

static void cross_entropy_mean_ignored(void) { run_cross_entropy(DC_REDUCTION_MEAN, 0); }
static void cross_entropy_sum_transposed(void) { run_cross_entropy(DC_REDUCTION_SUM, 1); }

/* The fused LSTM layer op itself over several steps. in: xp, w_hh and,
 * when n is 4, h0 and c0 (else the constant states of ctx). */
typedef struct lstm_layer_ctx {
    bool batch_first, with_c;
    dc_tensor *h0, *c0;   /* used when the inputs do not include them */
} lstm_layer_ctx;

static dc_tensor *f_lstm_layer(dc_tensor *const *in, int n, void *ctx) {
    const lstm_layer_ctx *c = ctx;
    return dc__lstm_layer(in[0], in[1], n > 2 ? in[2] : c->h0, n > 3 ? in[3] : c->c0,
                          c->batch_first, c->with_c);
}

/* Time-major, T 3, B 2, H 2, the last cell state in the output, every
 * input requiring grad (c0 strided). */
static void lstm_layer_time_major_with_c(void) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[4] = {gc_input(70, 3, (const int64_t[]){3, 2, 8}, -2, 2, 0),
                        gc_input(71, 2, (const int64_t[]){8, 2}, -1, 1, 0),
                        gc_input(72, 2, (const int64_t[]){2, 2}, -1, 1, 0),
                        gc_input(73, 2, (const int64_t[]){2, 2}, -1, 1, 1)};
    lstm_layer_ctx c = {false, true, NULL, NULL};
    gc_check(f_lstm_layer, in, 4, &c);
    dc_scope_end(s);
}

/* Batch-first, B 2, T 4, H 3, only the states out; xp and w_hh strided. */
static void lstm_layer_batch_first_strided(void) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[4] = {gc_input(74, 3, (const int64_t[]){2, 4, 12}, -2, 2, 1),
                        gc_input(75, 2, (const int64_t[]){12, 3}, -1, 1, 1),
                        gc_input(76, 2, (const int64_t[]){2, 3}, -1, 1, 0),
                        gc_input(77, 2, (const int64_t[]){2, 3}, -1, 1, 0)};
    lstm_layer_ctx c = {true, false, NULL, NULL};
    gc_check(f_lstm_layer, in, 4, &c);
    dc_scope_end(s);
}

/* Constant initial states (no gradient wanted for them), batch-first
 * with the last cell state: B 3, T 2, H 2. */
static void lstm_layer_constant_states(void) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[2] = {gc_input(78, 3, (const int64_t[]){3, 2, 8}, -2, 2, 0),
                        gc_input(79, 2, (const int64_t[]){8, 2}, -1, 1, 0)};
    lstm_layer_ctx c = {true, true, dc_detach(gc_input(80, 2, (const int64_t[]){3, 2}, -1, 1, 0)),
                        dc_detach(gc_input(81, 2, (const int64_t[]){3, 2}, -1, 1, 0))};
    ck_assert_int_eq(dc_requires_grad(c.h0), 0);
    gc_check(f_lstm_layer, in, 2, &c);
    dc_scope_end(s);
}

const gc_case gc_cases_nn[] = {
    {DC_OP_VAR, "batch_norm train 2-D", batch_norm_train_2d},
    {DC_OP_VAR, "batch_norm train 4-D noncontig", batch_norm_train_4d_noncontig},
    {DC_OP_RSQRT, "batch_norm eval", batch_norm_eval},
    {DC_OP_LAYER_NORM, "layer_norm 1 axis affine", layer_norm_1_axis_affine},
    {DC_OP_LAYER_NORM, "layer_norm 2 axes noncontig", layer_norm_2_axes_noncontig},
    {DC_OP_MUL, "dropout fixed seed", dropout_fixed_seed},
    {DC_OP_INDEX_SELECT, "embedding repeated indices", embedding_repeated_indices},
    {DC_OP_SOFTMAX, "attention causal", attention_causal},
    {DC_OP_WHERE, "attention bool mask broadcast", attention_bool_mask_broadcast},
    {DC_OP_SOFTMAX, "attention float mask", attention_float_mask},
    {DC_OP_LINEAR, "lstm_cell with bias", lstm_cell_with_bias},
    {DC_OP_LSTM, "lstm_cell without bias", lstm_cell_without_bias},
    {DC_OP_TANH, "gru_cell with bias", gru_cell_with_bias},
    {DC_OP_TANH, "gru_cell without bias", gru_cell_without_bias},
    {DC_OP_CROSS_ENTROPY, "cross_entropy mean, ignored target", cross_entropy_mean_ignored},
    {DC_OP_CROSS_ENTROPY, "cross_entropy sum, transposed logits", cross_entropy_sum_transposed},
    {DC_OP_LSTM, "lstm layer time-major, with c", lstm_layer_time_major_with_c},
    {DC_OP_LSTM, "lstm layer batch-first, strided", lstm_layer_batch_first_strided},
    {DC_OP_LSTM, "lstm layer, constant states", lstm_layer_constant_states},
    {0, NULL, NULL},
};
