/* Stacked RNN, LSTM and GRU layers, as torch.nn.RNN / LSTM / GRU.
 *
 * Each layer projects its whole input sequence with one matmul before the
 * time loop (x W_ih^T + b_ih for every step at once); the loop then only
 * does the recurrent product h W_hh^T and the gate arithmetic. The gate
 * formulas are those of dc_lstm_cell / dc_gru_cell (PyTorch's):
 *     LSTM  i, f, g, o = sigma, sigma, tanh, sigma of (xW_ih^T + b_ih + hW_hh^T + b_hh)
 *           c' = f c + i g,  h' = o tanh(c')
 *     GRU   r, z = sigma(x_r + h_r), sigma(x_z + h_z)   (x_* and h_* include biases)
 *           n = tanh(x_n + r h_n),  h' = (1 - z) n + z h
 *     RNN   h' = tanh(xW_ih^T + b_ih + hW_hh^T + b_hh)
 * The cells themselves take the raw input and W_ih, so calling them would
 * redo the input projection at every step. An LSTM layer runs its whole
 * time loop as one op (lib/ops/lstm_fused.c, with its own backward); RNN
 * and GRU layers compose the same differentiable ops as their cells. */
#include "module.h"
#include "../ops/lstm_fused.h"
#include "../ops/op_util.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

typedef struct rnn_impl {
    dc_rnn_kind kind;
    int64_t input_size;
    int64_t hidden_size;
    int64_t num_layers;
    bool bias;
    bool batch_first;
} rnn_impl;

static dc_tensor *rnn_module_forward(dc_module *m, dc_tensor *x);

static const dc_module_vtable rnn_vtables[3] = {
    {"RNN", rnn_module_forward, NULL},
    {"LSTM", rnn_module_forward, NULL},
    {"GRU", rnn_module_forward, NULL},
};

static bool is_rnn(const dc_module *m) {
    return m->vt == &rnn_vtables[0] || m->vt == &rnn_vtables[1] || m->vt == &rnn_vtables[2];
}

/* Rows of the gate matrices, in units of H: 4 for LSTM (i, f, g, o), 3 for
 * GRU (r, z, n), 1 for the tanh RNN. */
static int64_t gate_count(dc_rnn_kind kind) {
    return kind == DC_RNN_LSTM ? 4 : kind == DC_RNN_GRU ? 3 : 1;
}

/* ---------------------------------------------------------------- */
/* Construction                                                      */
/* ---------------------------------------------------------------- */

/* A (rows, cols) or (rows) f32 parameter uniform in (-bound, bound). */
static dc_status add_uniform_param(dc_module *m, const char *name, int ndim, int64_t rows,
                                   int64_t cols, double bound, dc_rng *rng) {
    int64_t shape[2] = {rows, cols};
    dc_tensor *t = dc__tensor_new(DC_F32, ndim, shape, false);
    if (!t) return dc_last_status();
    dc_status st = dc_init_uniform(t, -bound, bound, rng);
    if (st != DC_OK) {
        dc_release(t);
        return st;
    }
    return dc__module_add_param(m, name, t);
}

static dc_status add_layer_params(dc_module *m, const rnn_impl *cfg, int64_t layer,
                                  dc_rng *rng) {
    int64_t rows = gate_count(cfg->kind) * cfg->hidden_size;
    int64_t in = layer == 0 ? cfg->input_size : cfg->hidden_size;
    double bound = 1.0 / sqrt((double)cfg->hidden_size);
    char name[48];
    dc_status st;
    snprintf(name, sizeof name, "weight_ih_l%lld", (long long)layer);
    if ((st = add_uniform_param(m, name, 2, rows, in, bound, rng)) != DC_OK) return st;
    snprintf(name, sizeof name, "weight_hh_l%lld", (long long)layer);
    if ((st = add_uniform_param(m, name, 2, rows, cfg->hidden_size, bound, rng)) != DC_OK)
        return st;
    if (!cfg->bias) return DC_OK;
    snprintf(name, sizeof name, "bias_ih_l%lld", (long long)layer);
    if ((st = add_uniform_param(m, name, 1, rows, 0, bound, rng)) != DC_OK) return st;
    snprintf(name, sizeof name, "bias_hh_l%lld", (long long)layer);
    return add_uniform_param(m, name, 1, rows, 0, bound, rng);
}

static bool rnn_config_ok(dc_rnn_kind kind, int64_t input_size, int64_t hidden_size,
                          int64_t num_layers) {
    const char *f = "dc_rnn_new";
    if (kind != DC_RNN_TANH && kind != DC_RNN_LSTM && kind != DC_RNN_GRU) {
        dc__fail(DC_E_INVALID, "%s: unknown kind %d", f, (int)kind);
        return false;
    }
    if (input_size < 1 || hidden_size < 1 || num_layers < 1) {
        dc__fail(DC_E_INVALID,
                 "%s: input_size (%lld), hidden_size (%lld) and num_layers (%lld) must be >= 1",
                 f, (long long)input_size, (long long)hidden_size, (long long)num_layers);
        return false;
    }
    /* 4H must fit; the stacked final state is built with an int count. */
    if (hidden_size > INT64_MAX / 4 || num_layers > INT_MAX) {
        dc__fail(DC_E_OVERFLOW, "%s: hidden_size %lld or num_layers %lld is too large", f,
                 (long long)hidden_size, (long long)num_layers);
        return false;
    }
    return true;
}

dc_module *dc_rnn_new(dc_rnn_kind kind, int64_t input_size, int64_t hidden_size,
                      int64_t num_layers, int bias, int batch_first, dc_rng *rng) {
    if (!rnn_config_ok(kind, input_size, hidden_size, num_layers)) return NULL;
    dc_module *m = dc__module_new(&rnn_vtables[kind], sizeof(rnn_impl));
    if (!m) return NULL;
    rnn_impl *cfg = m->impl;
    *cfg = (rnn_impl){kind, input_size, hidden_size, num_layers, bias != 0, batch_first != 0};
    for (int64_t layer = 0; layer < num_layers; layer++) {
        if (add_layer_params(m, cfg, layer, rng) != DC_OK) {
            dc_module_release(m);
            return NULL;
        }
    }
    return m;
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

typedef struct layer_weights {
    dc_tensor *w_ih, *w_hh, *b_ih, *b_hh;   /* borrowed; biases may be NULL */
} layer_weights;

static layer_weights weights_of(const dc_module *m, int64_t layer) {
    char name[48];
    layer_weights w;
    snprintf(name, sizeof name, "weight_ih_l%lld", (long long)layer);
    w.w_ih = dc__module_own(m, name);
    snprintf(name, sizeof name, "weight_hh_l%lld", (long long)layer);
    w.w_hh = dc__module_own(m, name);
    snprintf(name, sizeof name, "bias_ih_l%lld", (long long)layer);
    w.b_ih = dc__module_own(m, name);
    snprintf(name, sizeof name, "bias_hh_l%lld", (long long)layer);
    w.b_hh = dc__module_own(m, name);
    return w;
}

/* a (..., K), w (N, K), b (N) or NULL -> a W^T (+ b): (..., N). */
static dc_tensor *affine(dc_tensor *a, dc_tensor *w, dc_tensor *b) {
    return dc__linear(a, w, b);   /* one op, bias folded into the GEMM */
}

/* The steps of seq along its time axis (n of them), each (B, G), into
 * steps[0..n-1]: views, one narrow each. The backward pass adds the
 * gradient of each step straight into the window of the sequence's
 * gradient (see slice_backward_into in lib/autograd/engine.c), so the T
 * steps cost O(T B G) there, not a sequence-sized tensor per step. */
static dc_status split_steps(dc_tensor *seq, int time_axis, int64_t n, dc_tensor **steps) {
    for (int64_t t = 0; t < n; t++) {
        steps[t] = dc_squeeze(dc_narrow(seq, time_axis, t, 1), time_axis);
        if (!steps[t]) return dc_last_status();
    }
    return DC_OK;
}

/* Gate j of a (B, n H) tensor: columns j H .. (j + 1) H - 1. */
static dc_tensor *gate(dc_tensor *g, int64_t j, int64_t hs) {
    return dc_narrow(g, 1, j * hs, hs);
}

/* xp: (B, 3H) input projection holding b_ih; h: (B, H) -> (B, H). */
static dc_tensor *gru_step(dc_tensor *xp, dc_tensor *h, dc_tensor *w_hh, dc_tensor *b_hh,
                           int64_t hs) {
    dc_tensor *hp = affine(h, w_hh, b_hh);
    dc_tensor *rz = dc_sigmoid(dc_add(dc_narrow(xp, 1, 0, 2 * hs), dc_narrow(hp, 1, 0, 2 * hs)));
    dc_tensor *n = dc_tanh(dc_add(gate(xp, 2, hs), dc_mul(gate(rz, 0, hs), gate(hp, 2, hs))));
    /* (1 - z) n + z h == n + z (h - n) */
    return dc_add(n, dc_mul(gate(rz, 1, hs), dc_sub(h, n)));
}

/* The state of one layer from a (L, B, H) tensor, or zeros (B, H). */
static dc_tensor *initial_state(dc_tensor *s0, int64_t layer, dc_dtype dt, int64_t batch,
                                int64_t hs) {
    if (s0) return dc_squeeze(dc_narrow(s0, 0, layer, 1), 0);
    return dc_zeros(dt, 2, (const int64_t[]){batch, hs});
}

typedef struct seq_result {
    dc_tensor *out;         /* the output sequence */
    dc_tensor *h, *c;       /* the final states (c: LSTM only) */
} seq_result;

/* The last step of a (B, T, H) or (T, B, H) sequence: (B, H), a view. */
static dc_tensor *last_step(dc_tensor *seq, int time_axis) {
    return dc_squeeze(dc_narrow(seq, time_axis, seq->shape[time_axis] - 1, 1), time_axis);
}

/* An LSTM layer: the input projection (both biases folded in), then the
 * fused time loop. want_c: the last cell state is needed (then the op's
 * output holds it after the states, and out and c are views of it). */
static dc_status run_lstm_layer(const rnn_impl *cfg, layer_weights w, dc_tensor *in,
                                dc_tensor *h, dc_tensor *c, bool want_c, seq_result *res) {
    dc_tensor *bias = w.b_ih;
    if (w.b_ih && !(bias = dc_add(w.b_ih, w.b_hh))) return dc_last_status();
    dc_tensor *y = dc__lstm_layer(affine(in, w.w_ih, bias), w.w_hh, h, c, cfg->batch_first,
                                  want_c);
    if (!y) return dc_last_status();
    if (!want_c) {
        res->out = y;
        res->c = NULL;
    } else {
        /* in is x or the previous layer's output, both set here
         * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
        int64_t shape[3] = {in->shape[0], in->shape[1], cfg->hidden_size};
        int64_t states = shape[0] * shape[1] * shape[2], batch = h->shape[0];
        res->out = dc_view(dc_narrow(y, 0, 0, states), 3, shape);
        res->c = dc_view(dc_narrow(y, 0, states, batch * cfg->hidden_size), 2,
                         (const int64_t[]){batch, cfg->hidden_size});
    }
    res->h = res->out ? last_step(res->out, cfg->batch_first ? 1 : 0) : NULL;
    return res->h && (!want_c || res->c) ? DC_OK : dc_last_status();
}

/* One RNN or GRU layer over the whole sequence; what it makes belongs to
 * the scope open in the caller. steps: scratch of T entries. */
static dc_status run_layer(const rnn_impl *cfg, layer_weights w, dc_tensor *in, dc_tensor *h,
                           dc_tensor **steps, seq_result *res) {
    int time_axis = cfg->batch_first ? 1 : 0;
    /* in is x or the previous layer's output, set whenever run_layer returned DC_OK (a
     * failed op leaves dc_last_status() != DC_OK)
     * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
    int64_t n_steps = in->shape[time_axis], hs = cfg->hidden_size;
    bool gru = cfg->kind == DC_RNN_GRU;
    /* RNN adds b_hh to the same pre-activation as b_ih: fold it into the
     * projection. GRU scales the n part of W_hh h + b_hh by r. */
    dc_tensor *bias = w.b_ih;
    if (!gru && w.b_ih && !(bias = dc_add(w.b_ih, w.b_hh))) return dc_last_status();
    dc_tensor *xp = affine(in, w.w_ih, bias);
    if (!xp) return dc_last_status();
    /* steps[] first holds the projected inputs, then the outputs. */
    dc_status st = split_steps(xp, time_axis, n_steps, steps);
    if (st != DC_OK) return st;
    for (int64_t t = 0; t < n_steps; t++) {
        dc_tensor *x_t = steps[t];
        if (gru) {
            h = gru_step(x_t, h, w.w_hh, w.b_hh, hs);
        } else {
            h = dc_tanh(dc_add(x_t, affine(h, w.w_hh, NULL)));
        }
        if (!h) return dc_last_status();
        steps[t] = h;
    }
    res->out = dc_stack(steps, (int)n_steps, time_axis);
    res->h = h;
    res->c = NULL;
    return res->out ? DC_OK : dc_last_status();
}

/* Runs every layer inside the caller's scope; the results belong to it.
 * want_c: an LSTM's final cell states are needed. */
static dc_status run_stack(const dc_module *m, dc_tensor *x, dc_tensor *h0, dc_tensor *c0,
                           bool want_c, seq_result *res) {
    const rnn_impl *cfg = m->impl;
    int time_axis = cfg->batch_first ? 1 : 0;
    int64_t batch = x->shape[1 - time_axis], layers = cfg->num_layers;
    bool lstm = cfg->kind == DC_RNN_LSTM;
    /* per-step scratch of the GRU / tanh-RNN loop (the fused LSTM needs none) */
    dc_tensor **steps = lstm ? NULL : dc__calloc((size_t)x->shape[time_axis], sizeof *steps);
    dc_tensor **finals = dc__calloc(2 * (size_t)layers, sizeof *finals);
    dc_status st = (steps || lstm) && finals ? DC_OK : DC_E_NOMEM;
    dc_tensor *in = x;
    for (int64_t l = 0; l < layers && st == DC_OK; l++) {
        dc_tensor *h = initial_state(h0, l, x->dtype, batch, cfg->hidden_size);
        dc_tensor *c = lstm ? initial_state(c0, l, x->dtype, batch, cfg->hidden_size) : NULL;
        if (!h || (lstm && !c)) {
            st = dc_last_status();
            break;
        }
        seq_result layer_res = {0};
        st = lstm ? run_lstm_layer(cfg, weights_of(m, l), in, h, c, want_c, &layer_res)
                  : run_layer(cfg, weights_of(m, l), in, h, steps, &layer_res);
        if (st != DC_OK) break;
        in = layer_res.out;
        finals[l] = layer_res.h;
        finals[layers + l] = layer_res.c;
    }
    if (st == DC_OK) {
        res->out = in;
        res->h = dc_stack(finals, (int)layers, 0);
        res->c = lstm && want_c ? dc_stack(finals + layers, (int)layers, 0) : NULL;
        if (!res->h || (lstm && want_c && !res->c)) st = dc_last_status();
    }
    dc__free(steps);
    dc__free(finals);
    return st;
}

/* s0 is NULL or (L, B, H) of x's dtype. */
static dc_status check_state(const dc_tensor *s0, const char *arg, const rnn_impl *cfg,
                             const dc_tensor *x, int64_t batch) {
    const char *f = "dc_rnn_forward";
    if (!s0) return DC_OK;
    if (!dc__is_tensor(s0)) return dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor", f, arg);
    if (s0->dtype != x->dtype)
        return dc__fail(DC_E_DTYPE, "%s: %s is %s, x is %s", f, arg, dc_dtype_name(s0->dtype),
                        dc_dtype_name(x->dtype));
    if (s0->ndim != 3 || s0->shape[0] != cfg->num_layers || s0->shape[1] != batch ||
        s0->shape[2] != cfg->hidden_size)
        return dc__fail(DC_E_SHAPE, "%s: %s must be (%lld, %lld, %lld) (layers, batch, hidden)",
                        f, arg, (long long)cfg->num_layers, (long long)batch,
                        (long long)cfg->hidden_size);
    return DC_OK;
}

static dc_status check_input(const dc_module *m, const dc_tensor *x) {
    const char *f = "dc_rnn_forward";
    const rnn_impl *cfg = m->impl;
    dc_dtype wdt = dc__module_own(m, "weight_ih_l0")->dtype;
    if (x->dtype != wdt)
        return dc__fail(DC_E_DTYPE, "%s: x is %s, the weights are %s", f,
                        dc_dtype_name(x->dtype), dc_dtype_name(wdt));
    if (x->ndim != 3 || x->shape[2] != cfg->input_size)
        return dc__fail(DC_E_SHAPE, "%s: x must be %s with %lld features (got %d dims, last %lld)",
                        f, cfg->batch_first ? "(batch, time, features)" : "(time, batch, features)",
                        (long long)cfg->input_size, x->ndim,
                        x->ndim > 0 ? (long long)x->shape[x->ndim - 1] : 0LL);
    int64_t n_steps = x->shape[cfg->batch_first ? 1 : 0];
    if (n_steps < 1 || n_steps > INT_MAX)
        return dc__fail(DC_E_SHAPE, "%s: the sequence has %lld steps (1..%d)", f,
                        (long long)n_steps, INT_MAX);
    return DC_OK;
}

/* Gives the caller the results it asked for (the others are dropped) by
 * the library's rule; the out-parameters are written only when every
 * wanted result made it. */
static dc_status hand_out(seq_result res, dc_tensor **out, dc_tensor **h_n, dc_tensor **c_n) {
    dc_tensor *got[3] = {res.out, res.h, res.c};
    dc_tensor **dst[3] = {out, h_n, c_n};
    for (int i = 0; i < 3; i++)
        if (got[i] && !dst[i]) {
            dc_release(got[i]);
            got[i] = NULL;
        }
    for (int i = 0; i < 3; i++) {
        if (!got[i] || dc__publish(got[i])) continue;
        /* dc__publish dropped got[i]; the ones before it sit in the scope. */
        for (int j = i + 1; j < 3; j++) dc_release(got[j]);
        return dc_last_status() != DC_OK ? dc_last_status() : DC_E_NOMEM;
    }
    for (int i = 0; i < 3; i++)
        if (dst[i]) *dst[i] = got[i];
    return DC_OK;
}

/* x: (B, T, I) or (T, B, I); h0, c0: (L, B, H) or NULL ->
 * out (B, T, H) or (T, B, H), h_n and c_n (L, B, H). */
dc_status dc_rnn_forward(dc_module *rnn, dc_tensor *x, dc_tensor *h0, dc_tensor *c0,
                         dc_tensor **out, dc_tensor **h_n, dc_tensor **c_n) {
    const char *f = "dc_rnn_forward";
    /* A NULL argument keeps the error of the call that produced it. */
    if (!rnn) return dc__null_input(f, "rnn");
    if (!dc__is_module(rnn)) return dc__fail(DC_E_INVALID, "%s: 'rnn' is not a live module", f);
    if (!is_rnn(rnn))
        return dc__fail(DC_E_INVALID, "%s: a %s is not an RNN, LSTM or GRU", f, rnn->vt->kind);
    if (!x) return dc__null_input(f, "x");
    DC_CHECK_TENSOR_OR_STATUS(x, f, "x");
    const rnn_impl *cfg = rnn->impl;
    bool lstm = cfg->kind == DC_RNN_LSTM;
    dc_status st = check_input(rnn, x);
    if (st != DC_OK) return st;
    int64_t batch = x->shape[cfg->batch_first ? 0 : 1];
    st = check_state(h0, "h0", cfg, x, batch);
    /* c0 means nothing to an RNN or GRU: ignored there. */
    if (st == DC_OK && lstm) st = check_state(c0, "c0", cfg, x, batch);
    if (st != DC_OK) return st;

    dc_scope *scope = dc_scope_begin();
    if (!scope) return dc_last_status();
    seq_result res = {0};
    st = run_stack(rnn, x, h0, lstm ? c0 : NULL, lstm && c_n, &res);
    if (st == DC_OK) {
        dc_retain(res.out);
        dc_retain(res.h);
        dc_retain(res.c);
    }
    dc_scope_end(scope);
    if (st != DC_OK) return st;
    return hand_out(res, out, h_n, c_n);
}

static dc_tensor *rnn_module_forward(dc_module *m, dc_tensor *x) {
    dc_tensor *out = NULL;
    return dc_rnn_forward(m, x, NULL, NULL, &out, NULL, NULL) == DC_OK ? out : NULL;
}
