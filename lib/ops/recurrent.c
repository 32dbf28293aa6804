/* LSTM and GRU cells (one time step), as torch.nn.LSTMCell / GRUCell.
 * The GRU cell is composed of differentiable ops (linear, add, sigmoid,
 * tanh, mul, narrow); the LSTM cell is the fused LSTM layer op
 * (lstm_fused.c) run for one step. Neither needs a backward of its own. */
#include "../core/internal.h"
#include "lstm_fused.h"
#include "op_util.h"

#include <stdio.h>

/* The shapes and dtypes of one cell step; gates is 4 (LSTM) or 3 (GRU). */
typedef struct cell_args {
    const char *func;
    int gates;
    dc_tensor *x, *h, *c;          /* c only for LSTM */
    dc_tensor *w_ih, *w_hh, *b_ih, *b_hh;
} cell_args;

static bool live_or_null(const dc_tensor *t, const char *func, const char *arg) {
    if (t == NULL || dc__is_tensor(t)) return true;
    dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor", func, arg);
    return false;
}

/* t must be 2-D (rows, cols) (cols < 0: any) with x's dtype. */
static bool matrix_ok(const dc_tensor *t, const dc_tensor *x, int64_t rows, int64_t cols,
                      const char *func, const char *arg) {
    if (!dc__require_same_dtype(x, t, func)) return false;
    if (t->ndim == 2 && t->shape[0] == rows && (cols < 0 || t->shape[1] == cols)) return true;
    char want[64];
    if (cols < 0) snprintf(want, sizeof want, "(%lld, hidden_size)", (long long)rows);
    else snprintf(want, sizeof want, "(%lld, %lld)", (long long)rows, (long long)cols);
    dc__fail(DC_E_SHAPE, "%s: '%s' must be %s, not %d-D of first size %lld", func, arg, want,
             t->ndim, (long long)(t->ndim > 0 ? t->shape[0] : 0));
    return false;
}

static bool bias_ok(const dc_tensor *b, const dc_tensor *x, int64_t n, const char *func,
                    const char *arg) {
    if (b == NULL) return true;
    if (!dc__require_same_dtype(x, b, func)) return false;
    if (b->ndim == 1 && b->shape[0] == n) return true;
    dc__fail(DC_E_SHAPE, "%s: '%s' must be (%lld), not %d-D", func, arg, (long long)n, b->ndim);
    return false;
}

/* x: (B, I), h and c: (B, H), w_ih: (G H, I), w_hh: (G H, H), biases
 * (G H) or NULL. Records the failure and returns false otherwise. */
static bool cell_args_ok(const cell_args *a) {
    const char *f = a->func;
    if (!live_or_null(a->b_ih, f, "b_ih") || !live_or_null(a->b_hh, f, "b_hh")) return false;
    if (!dc__require_float(a->x, f)) return false;
    if (a->x->ndim != 2) {
        dc__fail(DC_E_SHAPE, "%s: x must be (batch, input_size), not %d-D", f, a->x->ndim);
        return false;
    }
    int64_t batch = a->x->shape[0], in = a->x->shape[1];
    if (!matrix_ok(a->h, a->x, batch, -1, f, "h")) return false;
    int64_t hid = a->h->shape[1];
    int64_t g = a->gates * hid;
    return (!a->c || matrix_ok(a->c, a->x, batch, hid, f, "c")) &&
           matrix_ok(a->w_ih, a->x, g, in, f, "w_ih") &&
           matrix_ok(a->w_hh, a->x, g, hid, f, "w_hh") && bias_ok(a->b_ih, a->x, g, f, "b_ih") &&
           bias_ok(a->b_hh, a->x, g, f, "b_hh");
}

/* t @ w^T + b (b may be NULL): (B, K) x (G H, K) -> (B, G H). */
static dc_tensor *linear(dc_tensor *t, dc_tensor *w, dc_tensor *b) {
    return dc__linear(t, w, b);
}

/* Gate number i (of width hid) of (B, G H) pre-activations. */
static dc_tensor *gate(dc_tensor *pre, int i, int64_t hid) {
    return dc_narrow(pre, 1, i * hid, hid);
}

/* ---------------------------------------------------------------- */
/* LSTM                                                              */
/* ---------------------------------------------------------------- */

/* x: (B, I), h, c: (B, H) -> h', c': (B, H) with
 *     i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the 4 gate blocks of
 *                  x W_ih^T + b_ih + h W_hh^T + b_hh
 *     c' = f c + i g,  h' = o tanh(c') */
static dc_status lstm_scoped(const cell_args *a, dc_tensor **h_new, dc_tensor **c_new) {
    int64_t batch = a->h->shape[0], hid = a->h->shape[1];
    const int64_t state_shape[2] = {batch, hid};
    /* both biases add to the same pre-activations: one bias for the projection */
    dc_tensor *bias = a->b_ih && a->b_hh ? dc_add(a->b_ih, a->b_hh) : a->b_ih ? a->b_ih : a->b_hh;
    if (a->b_ih && !bias) return dc_last_status();
    /* (1, B, 4H): a sequence of one step, time-major */
    dc_tensor *xp = dc_unsqueeze(linear(a->x, a->w_ih, bias), 0);
    /* y = [h' | c'], each B H values */
    dc_tensor *y = dc__lstm_layer(xp, a->w_hh, a->h, a->c, false, true);
    dc_tensor *h = dc_view(dc_narrow(y, 0, 0, batch * hid), 2, state_shape);
    dc_tensor *c = dc_view(dc_narrow(y, 0, batch * hid, batch * hid), 2, state_shape);
    if (!h || !c) return dc_last_status();
    *h_new = h;
    *c_new = c;
    return DC_OK;
}

dc_status dc_lstm_cell(dc_tensor *x, dc_tensor *h, dc_tensor *c, dc_tensor *w_ih,
                       dc_tensor *w_hh, dc_tensor *b_ih, dc_tensor *b_hh, dc_tensor **h_out,
                       dc_tensor **c_out) {
    const char *f = "dc_lstm_cell";
    dc_tensor *required[5] = {x, h, c, w_ih, w_hh};
    static const char *const names[5] = {"x", "h", "c", "w_ih", "w_hh"};
    for (int i = 0; i < 5; i++) {
        /* a NULL input keeps the error of the op that made it (op chains) */
        if (required[i] == NULL) return dc__null_input(f, names[i]);
        if (!dc__is_tensor(required[i]))
            return dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor", f, names[i]);
    }
    if (!h_out || !c_out) return dc__fail(DC_E_INVALID, "%s: 'h_out' and 'c_out' are needed", f);
    cell_args a = {f, 4, x, h, c, w_ih, w_hh, b_ih, b_hh};
    if (!cell_args_ok(&a)) return dc_last_status();

    dc_scope *scope = dc_scope_begin();
    if (!scope) return dc_last_status();
    dc_tensor *hn = NULL, *cn = NULL;
    dc_status st = lstm_scoped(&a, &hn, &cn);
    dc_retain(hn);
    dc_retain(cn);
    dc_scope_end(scope);
    if (st != DC_OK) return st;
    /* hand both to the caller's scope; on failure the published one stays
     * with that scope (no leak) and the out-parameters stay untouched */
    if (!dc__publish(hn)) {
        dc_release(cn);
        return dc_last_status();
    }
    if (!dc__publish(cn)) return dc_last_status();
    *h_out = hn;
    *c_out = cn;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* GRU                                                               */
/* ---------------------------------------------------------------- */

/* x: (B, I), h: (B, H) -> h': (B, H) with gi = x W_ih^T + b_ih and
 * gh = h W_hh^T + b_hh split into (r, z, n) blocks:
 *     r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z)
 *     n = tanh(gi_n + r gh_n),   h' = (1 - z) n + z h = n + z (h - n) */
static dc_tensor *gru_scoped(const cell_args *a) {
    int64_t hid = a->h->shape[1];
    dc_tensor *gi = linear(a->x, a->w_ih, a->b_ih);
    dc_tensor *gh = linear(a->h, a->w_hh, a->b_hh);
    dc_tensor *r = dc_sigmoid(dc_add(gate(gi, 0, hid), gate(gh, 0, hid)));
    dc_tensor *z = dc_sigmoid(dc_add(gate(gi, 1, hid), gate(gh, 1, hid)));
    dc_tensor *n = dc_tanh(dc_add(gate(gi, 2, hid), dc_mul(r, gate(gh, 2, hid))));
    return dc_add(n, dc_mul(z, dc_sub(a->h, n)));
}

dc_tensor *dc_gru_cell(dc_tensor *x, dc_tensor *h, dc_tensor *w_ih, dc_tensor *w_hh,
                       dc_tensor *b_ih, dc_tensor *b_hh) {
    const char *f = "dc_gru_cell";
    DC_CHECK_TENSOR_OR_NULL(x, f, "x");
    DC_CHECK_TENSOR_OR_NULL(h, f, "h");
    DC_CHECK_TENSOR_OR_NULL(w_ih, f, "w_ih");
    DC_CHECK_TENSOR_OR_NULL(w_hh, f, "w_hh");
    cell_args a = {f, 3, x, h, NULL, w_ih, w_hh, b_ih, b_hh};
    if (!cell_args_ok(&a)) return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *y = dc_retain(gru_scoped(&a));
    dc_scope_end(scope);
    return dc__publish(y);
}
