/* One LSTM layer over a whole sequence as one op (see lstm_fused.h).
 *
 * Composed of public ops, a step costs a matmul and about ten elementwise
 * ops, each with its own node, output tensor and, in the backward pass,
 * its own gradient tensors and accumulations; the weight gradient of the
 * recurrent product is then T small products added up. Here the forward
 * is, per step, one GEMM and one pass over the gates, and the backward,
 * per step, one pass computing the gates' gradient and one GEMM for the
 * gradient of h_{t-1}; the gradient of W_hh is a single GEMM over all
 * steps at the end.
 *
 * Rows. Every per-(batch, step) array here (xp and its gradient, the
 * output, the saved gates and states) is a matrix of B T rows in xp's own
 * row order: row (b, t) is b T + t when batch_first, t B + b otherwise.
 * The B rows of step t are then equally spaced, so a step's rows reach
 * GEMM in place with a leading dimension. */
#include "lstm_fused.h"

#include "../core/threads.h"
#include "../kernels/kernels.h"
#include "fastmath.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

static const char *const FNAME = "lstm";

/* ---------------------------------------------------------------- */
/* Geometry and saved state                                          */
/* ---------------------------------------------------------------- */

typedef struct lstm_geom {
    int64_t batch, steps, hs;   /* B, T, H */
    int64_t rows;               /* B T */
    int64_t step_rows;          /* rows from (b, t) to (b, t + 1) */
    int64_t batch_rows;         /* rows from (b, t) to (b + 1, t) */
    size_t es;                  /* element size in bytes */
} lstm_geom;

static lstm_geom geom_of(const dc_tensor *xp, bool batch_first) {
    lstm_geom g;
    g.batch = xp->shape[batch_first ? 0 : 1];
    g.steps = xp->shape[batch_first ? 1 : 0];
    g.hs = xp->shape[2] / 4;
    g.rows = g.batch * g.steps;
    g.step_rows = batch_first ? 1 : g.batch;
    g.batch_rows = batch_first ? g.steps : 1;
    g.es = dc_dtype_size(xp->dtype);
    return g;
}

static int64_t row_of(const lstm_geom *g, int64_t b, int64_t t) {
    return t * g->step_rows + b * g->batch_rows;
}

/* What the forward keeps for the backward, all in one buffer of 7 H
 * values per row: the activated gates (i, f, g, o: 4 H), c_t, tanh(c_t)
 * and h_{t-1} (the h0 row at t = 0: the left operand of the step's GEMM
 * and of the weight gradient). */
typedef struct lstm_saved {
    char *acts, *c, *tanh_c, *h_prev;
} lstm_saved;

#define SAVED_PER_ROW 7   /* in units of H */

static lstm_saved saved_of(const lstm_geom *g, dc_tensor *buf) {
    char *base = dc__tensor_data(buf);
    size_t row_bytes = (size_t)g->hs * g->es, n = (size_t)g->rows;
    return (lstm_saved){base, base + 4 * n * row_bytes, base + 5 * n * row_bytes,
                        base + 6 * n * row_bytes};
}

/* ---------------------------------------------------------------- */
/* One row of gates: the elementwise part of a step                  */
/* ---------------------------------------------------------------- */

static inline double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Forward of one (b, t): from the pre-activations xp + hw and c_{t-1},
 * the activated gates, c_t, tanh(c_t) and h_t.
 * Backward of one (b, t): from dh (the output's gradient plus the
 * recurrent one), dc (in: the gradient of c_t from step t + 1; out: that
 * of c_{t-1}) and the saved values, the pre-activations' gradient dpre.
 *     dc_t += dh o (1 - tanh^2 c_t)
 *     di = dc_t g, df = dc_t c_{t-1}, dg = dc_t i, do = dh tanh(c_t)
 *     dpre = (di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)); dc_{t-1} = dc_t f */
/* The loops take restrict pointers as parameters: only then does the
 * compiler know that the loads and stores do not overlap, and vectorise
 * (the row wrappers below turn the untyped row pointers into them). The
 * forward makes one pass per kind of gate, each with one transcendental
 * function, which compiles to shorter vector code than one pass with
 * five (measured 15% faster), then combines them. */
#define LSTM_ROW_FNS(SUF, T, SIGMOID, TANH)                                                     \
    DC_VEC_CLONES_FMA static void fwd_gates_##SUF(int64_t hs, const T *restrict x,                  \
                                              const T *restrict hw, const T *restrict cp,       \
                                              T *restrict act, T *restrict c, T *restrict tc,   \
                                              T *restrict h) {                                  \
        for (int64_t j = 0; j < 2 * hs; j++) act[j] = SIGMOID(x[j] + hw[j]); /* i, f */        \
        for (int64_t j = 2 * hs; j < 3 * hs; j++) act[j] = TANH(x[j] + hw[j]); /* g */         \
        for (int64_t j = 3 * hs; j < 4 * hs; j++) act[j] = SIGMOID(x[j] + hw[j]); /* o */      \
        for (int64_t j = 0; j < hs; j++) {                                                      \
            T cn = act[hs + j] * cp[j] + act[j] * act[2 * hs + j];                              \
            T t = TANH(cn);                                                                     \
            c[j] = cn;                                                                          \
            tc[j] = t;                                                                          \
            h[j] = act[3 * hs + j] * t;                                                         \
        }                                                                                       \
    }                                                                                           \
    static void fwd_row_##SUF(int64_t hs, const void *xp, const void *hw, const void *cp,       \
                              void *act, void *c, void *tc, void *h) {                          \
        fwd_gates_##SUF(hs, xp, hw, cp, act, c, tc, h);                                         \
    }                                                                                           \
    DC_VEC_CLONES_FMA static void bwd_gates_##SUF(                                                  \
        int64_t hs, const T *restrict dy, const T *restrict dhr, const T *restrict ai,          \
        const T *restrict af, const T *restrict ag, const T *restrict ao, const T *restrict cp,  \
        const T *restrict tc, T *restrict dc, T *restrict di, T *restrict df, T *restrict dg,   \
        T *restrict dout) {                                                                     \
        for (int64_t j = 0; j < hs; j++) {                                                      \
            T dh = dy[j] + dhr[j];                                                              \
            T i = ai[j], f = af[j], g = ag[j], o = ao[j], t = tc[j];                            \
            T dct = dc[j] + dh * o * (1 - t * t);                                               \
            di[j] = dct * g * i * (1 - i);                                                      \
            df[j] = dct * cp[j] * f * (1 - f);                                                  \
            dg[j] = dct * i * (1 - g * g);                                                      \
            dout[j] = dh * t * o * (1 - o);                                                     \
            dc[j] = dct * f;                                                                    \
        }                                                                                       \
    }                                                                                           \
    static void bwd_row_##SUF(int64_t hs, const void *dy, const void *dhr, const void *act_,    \
                              const void *cp, const void *tc, void *dc, void *dpre_) {          \
        const T *act = act_;                                                                    \
        T *dpre = dpre_;                                                                        \
        bwd_gates_##SUF(hs, dy, dhr, act, act + hs, act + 2 * hs, act + 3 * hs, cp, tc, dc,     \
                        dpre, dpre + hs, dpre + 2 * hs, dpre + 3 * hs);                         \
    }

LSTM_ROW_FNS(f32, float, dc__sigmoidf, dc__tanhf)
LSTM_ROW_FNS(f64, double, sigmoid_d, tanh)

typedef struct row_fns {
    void (*fwd)(int64_t hs, const void *xp, const void *hw, const void *c_prev, void *act,
                void *c, void *tanh_c, void *h);
    void (*bwd)(int64_t hs, const void *dy, const void *dh_rec, const void *act,
                const void *c_prev, const void *tanh_c, void *dc, void *dpre);
} row_fns;

static row_fns row_fns_for(dc_dtype dt) {
    return dt == DC_F32 ? (row_fns){fwd_row_f32, bwd_row_f32} : (row_fns){fwd_row_f64, bwd_row_f64};
}

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* w (4H, H), any strides -> its transpose (H, 4H), contiguous: the step's
 * product h W_hh^T then reads both operands along their rows, which our
 * GEMM runs faster than a transposed right operand at these shapes. In
 * tiles, so that neither side is walked a whole column at a time. */
#define TRANSPOSE_TILE 16
#define TRANSPOSE_LOOP(T)                                                                  \
    do {                                                                                   \
        const T *src = dc__tensor_data(w);                                                 \
        T *dst = dc__tensor_data(wt);                                                      \
        for (int64_t r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE)                              \
            for (int64_t k0 = 0; k0 < cols; k0 += TRANSPOSE_TILE) {                        \
                int64_t r1 = r0 + TRANSPOSE_TILE < rows ? r0 + TRANSPOSE_TILE : rows;      \
                int64_t k1 = k0 + TRANSPOSE_TILE < cols ? k0 + TRANSPOSE_TILE : cols;      \
                for (int64_t k = k0; k < k1; k++)                                          \
                    for (int64_t r = r0; r < r1; r++) dst[k * rows + r] = src[r * rs + k * cs]; \
            }                                                                              \
    } while (0)

static dc_tensor *transposed_copy(const dc_tensor *w) {
    int64_t rows = w->shape[0], cols = w->shape[1];
    int64_t rs = w->strides[0], cs = w->strides[1];
    dc_tensor *wt = dc__tensor_new(w->dtype, 2, (const int64_t[]){cols, rows}, false);
    if (!wt) return NULL;
    if (w->dtype == DC_F32) TRANSPOSE_LOOP(float);
    else TRANSPOSE_LOOP(double);
    return wt;
}

/* Records DC_E_SHAPE / DC_E_DTYPE unless the arguments are as
 * dc__lstm_layer documents. */
static bool args_ok(const dc_tensor *xp, const dc_tensor *w_hh, const dc_tensor *h0,
                    const dc_tensor *c0, bool batch_first) {
    if (!dc__dtype_is_float(xp->dtype) || w_hh->dtype != xp->dtype || h0->dtype != xp->dtype ||
        c0->dtype != xp->dtype) {
        dc__fail(DC_E_DTYPE, "%s: xp, w_hh, h0 and c0 must share one floating dtype", FNAME);
        return false;
    }
    bool ok = xp->ndim == 3 && xp->shape[2] % 4 == 0 && w_hh->ndim == 2;
    if (ok) {
        int64_t batch = xp->shape[batch_first ? 0 : 1], steps = xp->shape[batch_first ? 1 : 0];
        int64_t hs = xp->shape[2] / 4;
        ok = steps >= 1 && hs >= 1 && w_hh->shape[0] == 4 * hs && w_hh->shape[1] == hs &&
             h0->ndim == 2 && h0->shape[0] == batch && h0->shape[1] == hs && c0->ndim == 2 &&
             c0->shape[0] == batch && c0->shape[1] == hs;
    }
    if (!ok)
        dc__fail(DC_E_SHAPE, "%s: xp must be (B, T, 4H) or (T, B, 4H) with T >= 1, w_hh "
                             "(4H, H), h0 and c0 (B, H)", FNAME);
    return ok;
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

/* The gate passes of one step are split over the library's threads by
 * batch rows, in chunks of at least this many elements (B H is 4096 for
 * the benchmark's LSTM: two chunks). */
#define GATE_CHUNK_ELEMS 2048

/* One step's gate pass over batch rows, for dc__parallel_for. */
typedef struct step_job {
    const lstm_geom *g;
    row_fns fn;
    int64_t t;
    int nchunks;
    /* forward */
    const char *xp, *c0, *hw;
    const lstm_saved *s;
    char *y;
    /* backward */
    const char *gy, *dh;
    char *dc, *dxp;
} step_job;

static int gate_chunks(const lstm_geom *g) {
    int64_t by_size = g->batch * g->hs / GATE_CHUNK_ELEMS;
    int64_t n = dc__pool_threads();
    if (by_size < n) n = by_size;
    if (g->batch < n) n = g->batch;
    return n < 1 ? 1 : (int)n;
}

/* c_{t-1} of batch row b, whose row at step t is r. */
static const char *c_prev_of(const step_job *j, int64_t b, size_t r) {
    size_t hb = (size_t)j->g->hs * j->g->es;
    return j->t > 0 ? j->s->c + (r - (size_t)j->g->step_rows) * hb : j->c0 + (size_t)b * hb;
}

/* Forward gates of batch rows lo..hi of step t; h_t is also the next
 * step's h_prev. */
static void forward_gates_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const step_job *j = ctx;
    const lstm_geom *g = j->g;
    const lstm_saved *s = j->s;
    size_t hb = (size_t)g->hs * g->es, gb = 4 * hb;
    int64_t lo, hi;
    dc__chunk_range(g->batch, j->nchunks, chunk, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) {
        size_t r = (size_t)row_of(g, b, j->t);
        j->fn.fwd(g->hs, j->xp + r * gb, j->hw + (size_t)b * gb, c_prev_of(j, b, r),
                  s->acts + r * gb, s->c + r * hb, s->tanh_c + r * hb, j->y + r * hb);
        if (j->t + 1 < g->steps)
            memcpy(s->h_prev + (r + (size_t)g->step_rows) * hb, j->y + r * hb, hb);
    }
}

/* The time loop: per step, hw = h_{t-1} W_hh^T (one GEMM, w_t is W_hh^T)
 * and the gate pass. y: the states h_t, in row order. hw: scratch of
 * B x 4H. */
static dc_status forward_loop(const lstm_geom *g, dc_dtype dt, const char *xp, const char *w_t,
                              const char *h0, const char *c0, const lstm_saved *s, char *hw,
                              char *y) {
    int64_t hs = g->hs, gw = 4 * hs;
    size_t hb = (size_t)hs * g->es;
    for (int64_t b = 0; b < g->batch; b++)
        memcpy(s->h_prev + (size_t)row_of(g, b, 0) * hb, h0 + (size_t)b * hb, hb);
    step_job j = {.g = g, .fn = row_fns_for(dt), .nchunks = gate_chunks(g), .xp = xp, .c0 = c0,
                  .hw = hw, .s = s, .y = y};
    for (int64_t t = 0; t < g->steps; t++) {
        size_t r0 = (size_t)row_of(g, 0, t);
        dc_status st = dc__gemm(dt, false, false, g->batch, gw, hs, 1.0, s->h_prev + r0 * hb,
                                g->batch_rows * hs, w_t, gw, 0.0, hw, gw);
        if (st != DC_OK) return st;
        j.t = t;
        dc__parallel_for(forward_gates_chunk, &j, j.nchunks, j.nchunks);
    }
    return DC_OK;
}

/* The forward without its recording: the states into y (and, with_c, the
 * last cell state after them), what the backward needs into saved. */
static dc_status run_forward(const lstm_geom *g, dc_tensor *xp, dc_tensor *w_hh, dc_tensor *h0,
                             dc_tensor *c0, dc_tensor *saved, dc_tensor *y, bool with_c) {
    dc_dtype dt = xp->dtype;
    dc_tensor *xc = dc__contiguous_ref(xp);
    dc_tensor *hc = xc ? dc__contiguous_ref(h0) : NULL;
    dc_tensor *cc = hc ? dc__contiguous_ref(c0) : NULL;
    dc_tensor *w_t = cc ? transposed_copy(w_hh) : NULL;
    dc_tensor *hw = w_t ? dc__tensor_new(dt, 2, (const int64_t[]){g->batch, 4 * g->hs}, false)
                        : NULL;
    dc_status st = hw ? DC_OK : dc__failure_status();
    lstm_saved s = saved_of(g, saved);
    if (st == DC_OK)
        st = forward_loop(g, dt, dc__tensor_data(xc), dc__tensor_data(w_t), dc__tensor_data(hc),
                          dc__tensor_data(cc), &s, dc__tensor_data(hw), dc__tensor_data(y));
    if (st == DC_OK && with_c) {   /* c_{T-1} in batch order after the states */
        size_t hb = (size_t)g->hs * g->es;
        char *tail = (char *)dc__tensor_data(y) + (size_t)g->rows * hb;
        for (int64_t b = 0; b < g->batch; b++)
            memcpy(tail + (size_t)b * hb, s.c + (size_t)row_of(g, b, g->steps - 1) * hb, hb);
    }
    dc_release(xc);
    dc_release(hc);
    dc_release(cc);
    dc_release(w_t);
    dc_release(hw);
    return st;
}

dc_tensor *dc__lstm_layer(dc_tensor *xp, dc_tensor *w_hh, dc_tensor *h0, dc_tensor *c0,
                          bool batch_first, bool with_c) {
    DC_CHECK_TENSOR_OR_NULL(xp, FNAME, "xp");
    DC_CHECK_TENSOR_OR_NULL(w_hh, FNAME, "w_hh");
    DC_CHECK_TENSOR_OR_NULL(h0, FNAME, "h0");
    DC_CHECK_TENSOR_OR_NULL(c0, FNAME, "c0");
    if (!args_ok(xp, w_hh, h0, c0, batch_first)) return NULL;
    lstm_geom g = geom_of(xp, batch_first);
    int64_t states = g.rows * g.hs;
    int64_t flat = states + (with_c ? g.batch * g.hs : 0);
    int64_t y_shape[3] = {xp->shape[0], xp->shape[1], g.hs};
    dc_tensor *y = with_c ? dc__tensor_new_for(FNAME, xp->dtype, 1, &flat, false)
                          : dc__tensor_new_for(FNAME, xp->dtype, 3, y_shape, false);
    int64_t saved_n = states * SAVED_PER_ROW;   /* below 2^60: xp's 4 H a row fit */
    dc_tensor *saved = y ? dc__tensor_new_for(FNAME, xp->dtype, 1, &saved_n, false) : NULL;
    if (!saved || run_forward(&g, xp, w_hh, h0, c0, saved, y, with_c) != DC_OK) {
        dc_release(saved);
        dc_release(y);
        return NULL;
    }
    dc_tensor *inputs[4] = {xp, w_hh, h0, c0};
    dc_node *node;
    y = dc__record_or_drop(y, DC_OP_LSTM, inputs, 4, &node);
    if (node) {
        node->iparams[0] = batch_first;
        node->iparams[1] = with_c;
        node->saved = saved;   /* the node takes this reference */
    } else {
        dc_release(saved);
    }
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* Backward                                                          */
/* ---------------------------------------------------------------- */

/* Backward gates of batch rows lo..hi of step t. */
static void backward_gates_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const step_job *j = ctx;
    const lstm_geom *g = j->g;
    size_t hb = (size_t)g->hs * g->es, gb = 4 * hb;
    int64_t lo, hi;
    dc__chunk_range(g->batch, j->nchunks, chunk, &lo, &hi);
    for (int64_t b = lo; b < hi; b++) {
        size_t r = (size_t)row_of(g, b, j->t);
        j->fn.bwd(g->hs, j->gy + r * hb, j->dh + (size_t)b * hb, j->s->acts + r * gb,
                  c_prev_of(j, b, r), j->s->tanh_c + r * hb, j->dc + (size_t)b * hb,
                  j->dxp + r * gb);
    }
}

/* Back through time: per step (last first), the gate pass writing the
 * pre-activations' gradient into dxp, then the gradient of h_{t-1}
 * through the recurrent product, dh = dpre_t W_hh (not needed after step
 * 0 unless h0 wants it). dh: (B, H), zero on entry; dc: (B, H), the
 * gradient of the last cell state on entry. On return they hold those of
 * h0 and c0. */
static dc_status backward_loop(const lstm_geom *g, dc_dtype dt, const char *gy, const char *w,
                               const char *c0, const lstm_saved *s, char *dxp, char *dh,
                               char *dc, bool need_dh0) {
    int64_t hs = g->hs, gw = 4 * hs;
    size_t gb = (size_t)gw * g->es;
    step_job j = {.g = g, .fn = row_fns_for(dt), .nchunks = gate_chunks(g), .c0 = c0, .s = s,
                  .gy = gy, .dh = dh, .dc = dc, .dxp = dxp};
    for (int64_t t = g->steps - 1; t >= 0; t--) {
        j.t = t;
        dc__parallel_for(backward_gates_chunk, &j, j.nchunks, j.nchunks);
        if (t == 0 && !need_dh0) break;
        size_t r0 = (size_t)row_of(g, 0, t);
        dc_status st = dc__gemm(dt, false, false, g->batch, hs, gw, 1.0, dxp + r0 * gb,
                                g->batch_rows * gw, w, hs, 0.0, dh, hs);
        if (st != DC_OK) return st;
    }
    return DC_OK;
}

/* gin: xp's gradient (the gates' pre-activations of every step), W_hh's
 * (sum over rows of dpre^T h_{t-1}: one GEMM), h0's and c0's. */
dc_status dc__lstm_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *xp = node->inputs[0], *w = node->inputs[1];
    dc_tensor *h0 = node->inputs[2], *c0 = node->inputs[3];
    bool batch_first = node->iparams[0] != 0, with_c = node->iparams[1] != 0;
    lstm_geom g = geom_of(xp, batch_first);
    dc_dtype dt = xp->dtype;
    const int64_t state_shape[2] = {g.batch, g.hs};
    dc_tensor *gy = dc__contiguous_ref(gout);
    dc_tensor *wc = gy ? dc__contiguous_ref(w) : NULL;
    dc_tensor *cc = wc ? dc__contiguous_ref(c0) : NULL;
    dc_tensor *dxp = cc ? dc__tensor_new(dt, 3, xp->shape, false) : NULL;
    dc_tensor *dh = dxp ? dc__tensor_new(dt, 2, state_shape, true) : NULL;
    dc_tensor *dc = dh ? dc__tensor_new(dt, 2, state_shape, !with_c) : NULL;
    dc_tensor *dw = dc && w->requires_grad ? dc__tensor_new(dt, 2, w->shape, g.rows == 0)
                                           : NULL;
    dc_status st = dc && (dw || !w->requires_grad) ? DC_OK : dc__failure_status();
    if (st == DC_OK && with_c)
        memcpy(dc__tensor_data(dc), (const char *)dc__tensor_data(gy) + (size_t)g.rows * g.hs * g.es,
               (size_t)g.batch * g.hs * g.es);
    lstm_saved s = saved_of(&g, node->saved);
    if (st == DC_OK)
        st = backward_loop(&g, dt, dc__tensor_data(gy), dc__tensor_data(wc), dc__tensor_data(cc),
                           &s, dc__tensor_data(dxp), dc__tensor_data(dh), dc__tensor_data(dc),
                           h0->requires_grad);
    if (st == DC_OK && dw && g.rows > 0)
        st = dc__gemm(dt, true, false, 4 * g.hs, g.hs, g.rows, 1.0, dc__tensor_data(dxp),
                      4 * g.hs, s.h_prev, g.hs, 0.0, dc__tensor_data(dw), g.hs);
    dc_release(gy);
    dc_release(wc);
    dc_release(cc);
    dc_tensor *grads[4] = {dxp, dw, dh, dc};
    for (int i = 0; i < 4; i++) {
        if (st == DC_OK && node->inputs[i]->requires_grad) gin[i] = grads[i];
        else dc_release(grads[i]);
    }
    return st;
}
