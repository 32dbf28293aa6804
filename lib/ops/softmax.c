/* softmax and log_softmax along one axis, with their backward functions.
 *
 * Every tensor involved is walked as rows along the axis: dc_iter runs
 * over the other axes (the axis itself is given size 1) and yields, for
 * each operand, the offset of a row's first element; the row then steps
 * by that operand's stride along the axis. Math is in double, except on
 * the hot path of training steps: contiguous f32 rows along the last
 * axis run float loops with the vectorisable exp of fastmath.h.
 *
 * Attention uses an internal variant, dc__softmax_attention: softmax of
 * (scale x), optionally with a causal mask, in one op (recorded as
 * DC_OP_SOFTMAX with iparams[1] = 1, fparams[0] = scale, iparams[2] =
 * causal), instead of a scale, a where and a softmax each with a tensor
 * of scores and its own backward. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "fastmath.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

static inline double ld(const char *base, dc_dtype dt, int64_t i) {
    return dt == DC_F32 ? (double)((const float *)base)[i] : ((const double *)base)[i];
}

static inline void st(char *base, dc_dtype dt, int64_t i, double v) {
    if (dt == DC_F32) ((float *)base)[i] = (float)v;
    else ((double *)base)[i] = v;
}

/* One row of each of up to 3 same-shape tensors. */
typedef struct row {
    char *p[3];                     /* element 0 of the row */
    int64_t s[3];                   /* stride along the axis */
    int64_t len;
} row;

typedef void (*row_fn)(const row *r, dc_dtype dt, void *ctx);

/* Calls fn on every row along axis of the tensors ts (same shape, same
 * floating dtype). */
static void for_each_row(dc_tensor *const *ts, int nt, int axis, row_fn fn, void *ctx) {
    const dc_tensor *t0 = ts[0];
    if (t0->numel == 0) return;
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, t0->shape, sizeof shape);
    shape[axis] = 1;
    int64_t strides[DC_ITER_MAX_OPS][DC_MAX_DIMS];
    int64_t offs[DC_ITER_MAX_OPS];
    row r = {.len = t0->shape[axis]};
    size_t esz = dc_dtype_size(t0->dtype);
    for (int k = 0; k < nt; k++) {
        memcpy(strides[k], ts[k]->strides, sizeof strides[k]);
        offs[k] = ts[k]->offset;
        r.s[k] = ts[k]->strides[axis];
    }
    dc_iter it;
    dc__iter_init(&it, t0->ndim, shape, nt, strides, offs);
    while (dc__iter_next(&it)) {
        for (int64_t i = 0; i < it.inner; i++) {
            for (int k = 0; k < nt; k++)
                r.p[k] = (char *)ts[k]->storage->data +
                         (it.off[k] + i * it.istride[k]) * (int64_t)esz;
            fn(&r, t0->dtype, ctx);
        }
    }
}

/* max of a row; NaN wins. */
static double row_max(const char *x, dc_dtype dt, int64_t s, int64_t len) {
    double m = -INFINITY;
    for (int64_t i = 0; i < len; i++) {
        double v = ld(x, dt, i * s);
        if (v > m || isnan(v)) m = v;
        if (isnan(m)) break;
    }
    return m;
}

/* Rows of (x, y). With m the row's max, y = exp(x - m) / sum exp(x - m)
 * or x - m - log(sum). A row of only -inf gives x - m = NaN everywhere
 * (torch does the same); one finite entry among -inf gives 1 (or 0) there
 * and 0 (or -inf) elsewhere. */
static void softmax_row(const row *r, dc_dtype dt, void *ctx) {
    bool log_out = *(const bool *)ctx;
    const char *x = r->p[0];
    char *y = r->p[1];
    double m = row_max(x, dt, r->s[0], r->len);
    double sum = 0.0;
    for (int64_t i = 0; i < r->len; i++) {
        double e = exp(ld(x, dt, i * r->s[0]) - m);
        sum += e;
        if (!log_out) st(y, dt, i * r->s[1], e);
    }
    if (log_out) {
        double shift = m + log(sum);
        for (int64_t i = 0; i < r->len; i++)
            st(y, dt, i * r->s[1], ld(x, dt, i * r->s[0]) - shift);
    } else {
        double inv = 1.0 / sum;
        for (int64_t i = 0; i < r->len; i++)
            st(y, dt, i * r->s[1], ld(y, dt, i * r->s[1]) * inv);
    }
}

/* ---------------------------------------------------------------- */
/* Contiguous f32 rows along the last axis                           */
/* ---------------------------------------------------------------- */

/* Sum of n floats in 8 interleaved partial sums (a loop the compiler
 * vectorises; a plain float sum cannot be reordered). */
static inline float sum_f32(const float *v, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += v[i + k];
    float s = 0.0f;
    for (; i < n; i++) s += v[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

/* max of scale x over the first `valid` of len entries; NaN if one is
 * NaN. In 16 running maxima and a separate NaN flag: a loop that keeps
 * one NaN-aware maximum does not vectorise. */
static inline float row_max_f32(const float *x, int64_t len, int64_t valid, float scale) {
    float acc[16];
    int nan[16];
    for (int k = 0; k < 16; k++) {
        acc[k] = -INFINITY;
        nan[k] = 0;
    }
    int64_t i = 0;
    for (; i + 16 <= len; i += 16)
        for (int k = 0; k < 16; k++) {
            float v = i + k < valid ? x[i + k] * scale : -INFINITY;
            acc[k] = v > acc[k] ? v : acc[k];
            nan[k] |= v != v;
        }
    float m = -INFINITY;
    int any_nan = 0;
    for (; i < len; i++) {
        float v = i < valid ? x[i] * scale : -INFINITY;
        m = v > m ? v : m;
        any_nan |= v != v;
    }
    for (int k = 0; k < 16; k++) {
        m = acc[k] > m ? acc[k] : m;
        any_nan |= nan[k];
    }
    return any_nan ? NAN : m;
}

/* y[0..len) = softmax (or log_softmax) of scale x over the first `valid`
 * entries of the row; the rest (masked out) get 0 (or -inf). The softmax
 * loops run over the whole row, masked entries taken as -inf (whose exp
 * is 0): causal rows have every length up to len, and loops that stop at
 * `valid` would spend most of their time in scalar remainders. */
DC_VEC_CLONES_FMA static void softmax_row_f32(const float *x, float *y, int64_t len, int64_t valid,
                                          float scale, bool log_out) {
    float m = row_max_f32(x, len, valid, scale);
    if (m != m || m == -INFINITY) {
        /* a NaN, or nothing but -inf: x - m is NaN everywhere (as the
         * double path and PyTorch) */
        for (int64_t i = 0; i < len; i++) y[i] = (i < valid ? x[i] * scale : -INFINITY) - m;
        if (!log_out) for (int64_t i = 0; i < len; i++) y[i] = dc__expf(y[i]);
        return;
    }
    if (log_out) {
        /* sum first: y may be x */
        float acc[8] = {0}, sum = 0.0f;
        int64_t i = 0;
        for (; i + 8 <= valid; i += 8)
            for (int k = 0; k < 8; k++) acc[k] += dc__expf(x[i + k] * scale - m);
        for (; i < valid; i++) sum += dc__expf(x[i] * scale - m);
        for (int k = 0; k < 8; k++) sum += acc[k];
        float lsum = logf(sum);   /* (x - m) first: exact when x is near m, even if large */
        for (i = 0; i < valid; i++) y[i] = (x[i] * scale - m) - lsum;
        for (i = valid; i < len; i++) y[i] = -INFINITY;
        return;
    }
    for (int64_t i = 0; i < len; i++) y[i] = dc__expf((i < valid ? x[i] * scale : -INFINITY) - m);
    float inv = 1.0f / sum_f32(y, len);
    for (int64_t i = 0; i < len; i++) y[i] *= inv;
}

/* Rows are split over the library's threads when there are at least
 * PAR_ROW_ELEMS elements (a GPT's attention scores are half a million per
 * layer); each row is computed alone, so any split gives the same bits. */
#define PAR_ROW_ELEMS ((int64_t)1 << 15)

/* fn on parts of nrows rows of len elements, on the pool when there are
 * at least PAR_ROW_ELEMS elements. */
static void over_rows(dc__range_fn fn, void *ctx, int64_t nrows, int64_t len) {
    dc__parallel_range(fn, ctx, nrows, nrows * (len > 0 ? len : 1), PAR_ROW_ELEMS);
}

/* Rows lo..hi-1 of length len of the last axis; causal: row r (query
 * r % rows_l of its matrix) sees the first (r % rows_l) + 1 entries.
 * y may be x (each row is read before it is written). */
static void softmax_row_range_f32(const float *x, float *y, int64_t lo, int64_t hi, int64_t len,
                                  int64_t rows_l, bool causal, float scale, bool log_out) {
    for (int64_t r = lo; r < hi; r++) {
        int64_t valid = causal ? (r % rows_l) + 1 : len;
        if (valid > len) valid = len;
        softmax_row_f32(x + r * len, y + r * len, len, valid, scale, log_out);
    }
}

typedef struct softmax_job {
    const float *x;
    float *y;
    int64_t len, rows_l;
    bool causal, log_out;
    float scale;
} softmax_job;

static void softmax_part(void *ctx, int64_t lo, int64_t hi) {
    const softmax_job *j = ctx;
    softmax_row_range_f32(j->x, j->y, lo, hi, j->len, j->rows_l, j->causal, j->scale,
                          j->log_out);
}

static void softmax_rows_f32(const float *x, float *y, int64_t nrows, int64_t len,
                             int64_t rows_l, bool causal, float scale, bool log_out) {
    softmax_job j = {x, y, len, rows_l, causal, log_out, scale};
    over_rows(softmax_part, &j, nrows, len);
}

/* gin = scale y (g - sum(g y)) (softmax), or g - exp(y) sum(g) (log). */
DC_VEC_CLONES_FMA static void softmax_grad_row_range_f32(const float *y, const float *g, float *gi,
                                                     int64_t nrows, int64_t len, float scale,
                                                     bool log_out) {
    float tmp[256];
    for (int64_t r = 0; r < nrows; r++) {
        const float *yr = y + r * len, *gr = g + r * len;
        float *gir = gi + r * len;
        float dot = 0.0f;
        if (log_out) {
            dot = sum_f32(gr, len);
            for (int64_t i = 0; i < len; i++) gir[i] = gr[i] - dc__expf(yr[i]) * dot;
            continue;
        }
        if (len <= 256) {
            for (int64_t i = 0; i < len; i++) tmp[i] = gr[i] * yr[i];
            dot = sum_f32(tmp, len);
        } else {
            double d = 0.0;
            for (int64_t i = 0; i < len; i++) d += (double)gr[i] * yr[i];
            dot = (float)d;
        }
        for (int64_t i = 0; i < len; i++) gir[i] = scale * yr[i] * (gr[i] - dot);
    }
}

typedef struct softmax_grad_job {
    const float *y, *g;
    float *gi;
    int64_t len;
    float scale;
    bool log_out;
} softmax_grad_job;

static void softmax_grad_part(void *ctx, int64_t lo, int64_t hi) {
    const softmax_grad_job *j = ctx;
    softmax_grad_row_range_f32(j->y + lo * j->len, j->g + lo * j->len, j->gi + lo * j->len,
                               hi - lo, j->len, j->scale, j->log_out);
}

static void softmax_grad_rows_f32(const float *y, const float *g, float *gi, int64_t nrows,
                                  int64_t len, float scale, bool log_out) {
    softmax_grad_job j = {y, g, gi, len, scale, log_out};
    over_rows(softmax_grad_part, &j, nrows, len);
}

/* True when the f32 float path serves t along axis. */
static bool fast_rows(const dc_tensor *t, int axis) {
    return t->dtype == DC_F32 && t->ndim > 0 && axis == t->ndim - 1 &&
           dc__tensor_is_contiguous(t);
}

static dc_tensor *softmax_forward(dc_tensor *t, int axis, bool log_out, const char *func) {
    DC_CHECK_TENSOR_OR_NULL(t, func, "t");
    if (!dc__require_float(t, func) || !dc__norm_axis(&axis, t->ndim, func)) return NULL;
    dc_tensor *out = dc__tensor_new(t->dtype, t->ndim, t->shape, false);
    if (!out) return NULL;
    if (t->ndim == 0) {
        /* one element: softmax 1, log_softmax 0 (NaN and infinities
         * follow the row rule: x - x) */
        double x = ld(dc__tensor_data(t), t->dtype, 0);
        double y = x - x;
        st(dc__tensor_data(out), t->dtype, 0, log_out ? y : exp(y));
    } else if (fast_rows(t, axis)) {
        int64_t len = t->shape[axis];
        softmax_rows_f32(dc__tensor_data(t), dc__tensor_data(out), len ? t->numel / len : 0,
                         len, 1, false, 1.0f, log_out);
    } else {
        dc_tensor *ts[2] = {t, out};
        for_each_row(ts, 2, axis, softmax_row, &log_out);
    }
    dc_node *node;
    out = dc__record_or_drop(out, log_out ? DC_OP_LOG_SOFTMAX : DC_OP_SOFTMAX, &t, 1, &node);
    if (node) node->iparams[0] = axis;
    return dc__publish(out);
}

/* ---------------------------------------------------------------- */
/* softmax                                                           */
/* ---------------------------------------------------------------- */

/* t: (..., N, ...) -> same shape; each row along axis sums to 1 */
dc_tensor *dc_softmax(dc_tensor *t, int axis) {
    return softmax_forward(t, axis, false, "dc_softmax");
}

/* Rows of (y, gout, gin): gin = y * (gout - sum(gout * y)). */
static void softmax_grad_row(const row *r, dc_dtype dt, void *ctx) {
    (void)ctx;
    double dot = 0.0;
    for (int64_t i = 0; i < r->len; i++)
        dot += ld(r->p[0], dt, i * r->s[0]) * ld(r->p[1], dt, i * r->s[1]);
    for (int64_t i = 0; i < r->len; i++) {
        double y = ld(r->p[0], dt, i * r->s[0]);
        st(r->p[2], dt, i * r->s[2], y * (ld(r->p[1], dt, i * r->s[1]) - dot));
    }
}

/* Rows of (y, gout, gin) for y = log_softmax(x): gin = gout - exp(y) * sum(gout). */
static void log_softmax_grad_row(const row *r, dc_dtype dt, void *ctx) {
    (void)ctx;
    double sum = 0.0;
    for (int64_t i = 0; i < r->len; i++) sum += ld(r->p[1], dt, i * r->s[1]);
    for (int64_t i = 0; i < r->len; i++) {
        double y = ld(r->p[0], dt, i * r->s[0]);
        st(r->p[2], dt, i * r->s[2], ld(r->p[1], dt, i * r->s[1]) - exp(y) * sum);
    }
}

/* Backward of both from the output y alone (the node keeps nothing). */
static dc_status softmax_grad(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin,
                              row_fn fn) {
    dc_tensor *g = dc__tensor_new(out->dtype, out->ndim, out->shape, false);
    if (!g) return dc_last_status();
    int axis = (int)node->iparams[0];
    bool scaled = node->iparams[1] != 0;
    if (out->ndim == 0) {
        /* one element: the output does not depend on the input */
        st(dc__tensor_data(g), g->dtype, 0, 0.0);
    } else if (fast_rows(out, axis) && dc__tensor_is_contiguous(gout)) {
        int64_t len = out->shape[axis];
        softmax_grad_rows_f32(dc__tensor_data(out), dc__tensor_data(gout), dc__tensor_data(g),
                              len ? out->numel / len : 0, len,
                              scaled ? (float)node->fparams[0] : 1.0f, fn == log_softmax_grad_row);
    } else if (scaled) {
        /* the attention variant on a strided gradient: scale afterwards */
        dc_tensor *ts[3] = {out, gout, g};
        for_each_row(ts, 3, axis, fn, NULL);
        float *gp = dc__tensor_data(g);
        for (int64_t i = 0; i < g->numel; i++) gp[i] *= (float)node->fparams[0];
    } else {
        dc_tensor *ts[3] = {out, gout, g};
        for_each_row(ts, 3, axis, fn, NULL);
    }
    return dc__set_grad(gin, 0, dc__publish(g));
}

dc_status dc__softmax_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    return softmax_grad(node, out, gout, gin, softmax_grad_row);
}

/* ---------------------------------------------------------------- */
/* log_softmax                                                       */
/* ---------------------------------------------------------------- */

/* t: (..., N, ...) -> same shape; logsumexp of each row along axis is 0 */
dc_tensor *dc_log_softmax(dc_tensor *t, int axis) {
    return softmax_forward(t, axis, true, "dc_log_softmax");
}

dc_status dc__log_softmax_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                   dc_tensor **gin) {
    return softmax_grad(node, out, gout, gin, log_softmax_grad_row);
}

/* ---------------------------------------------------------------- */
/* Attention scores                                                  */
/* ---------------------------------------------------------------- */

/* True when nothing but the caller's one reference sees the scores'
 * values: a product's output (matmul's backward never reads its output)
 * or a tensor outside autodiff, alone on its storage. The probabilities
 * then overwrite the scores instead of taking a buffer of their own: the
 * softmax node keeps its input alive until backward, and a GPT's scores
 * are 2 MiB a layer that nothing reads again. The storage version is
 * left as it is on purpose: no recorded backward reads these values. */
static bool scores_reusable(const dc_tensor *s) {
    bool product_or_plain = s->grad_fn ? s->grad_fn->op == DC_OP_MATMUL : !s->requires_grad;
    return product_or_plain && atomic_load(&s->refcount) == 1 &&
           atomic_load(&s->storage->refcount) == 1 && s->storage->owns_data &&
           dc__tensor_is_contiguous(s);
}

/* scores: (..., L, S) f32 -> softmax(scale scores) along the last axis;
 * causal: query i sees keys j <= i only (the others get probability 0).
 * Internal to dc_scaled_dot_product_attention, which hands its scores
 * over: when only that reference sees them (scores_reusable), the result
 * is written over them and shares their storage, so the caller must not
 * read scores afterwards. Other dtypes or strided scores return NULL
 * without an error (the caller composes the ops). */
dc_tensor *dc__softmax_attention(dc_tensor *scores, double scale, bool causal) {
    if (!dc__is_tensor(scores) || scores->ndim < 2 || !fast_rows(scores, scores->ndim - 1))
        return NULL;
    dc_tensor *out = scores_reusable(scores)
                         ? dc__tensor_view(scores, scores->ndim, scores->shape, scores->strides,
                                           scores->offset)
                         : dc__tensor_new(scores->dtype, scores->ndim, scores->shape, false);
    if (!out) return NULL;
    int64_t len = scores->shape[scores->ndim - 1], rows_l = scores->shape[scores->ndim - 2];
    softmax_rows_f32(dc__tensor_data(scores), dc__tensor_data(out), len ? scores->numel / len : 0,
                     len, rows_l > 0 ? rows_l : 1, causal, (float)scale, false);
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_SOFTMAX, &scores, 1, &node);
    if (node) {
        node->iparams[0] = scores->ndim - 1;
        node->iparams[1] = 1;
        node->iparams[2] = causal;
        node->fparams[0] = scale;
    }
    return dc__publish(out);
}

/* ---------------------------------------------------------------- */
/* Cross-entropy of class-index targets, fused                       */
/* ---------------------------------------------------------------- */

/* x's row r (contiguous, length c) as doubles: max and log-sum-exp. */
static double row_logsumexp(const char *x, dc_dtype dt, int64_t r, int64_t c) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < c; j++) {
        double v = ld(x, dt, r * c + j);
        if (v > mx) mx = v;
    }
    if (isinf(mx)) return mx;          /* a row of -inf (or +inf): as log_softmax */
    double s = 0.0;
    for (int64_t j = 0; j < c; j++) s += exp(ld(x, dt, r * c + j) - mx);
    /* cppcheck-suppress invalidFunctionArg ; s >= 1: the max itself adds exp(0) */
    return mx + log(s);
}

/* The rows of a cross-entropy, forward (lse_rows[r] for kept rows) or
 * backward (gx's rows), split over the pool by row_chunks: each row is
 * computed alone, so any split gives the same bits (a GPT's 2048 rows of
 * 86 logits ran on one thread while the other waited). */
typedef struct ce_job {
    const char *xd;
    dc_dtype dt;
    int64_t n, c;
    const int64_t *y;
    const bool *k;
    double *lse_rows;          /* forward: written; backward: read */
    char *gd;                  /* backward: gx's data, else NULL */
    double scale;
} ce_job;

static void ce_part(void *ctx, int64_t lo, int64_t hi) {
    const ce_job *j = ctx;
    for (int64_t r = lo; r < hi; r++) {
        if (!j->k[r]) continue;
        if (!j->gd) {
            j->lse_rows[r] = row_logsumexp(j->xd, j->dt, r, j->c);
            continue;
        }
        for (int64_t q = 0; q < j->c; q++) {
            double p = exp(ld(j->xd, j->dt, r * j->c + q) - j->lse_rows[r]);
            st(j->gd, j->dt, r * j->c + q, j->scale * (p - (q == j->y[r] ? 1.0 : 0.0)));
        }
    }
}

static void run_ce(ce_job *j) { over_rows(ce_part, j, j->n, j->c); }

/* x: (N, C) float, labels: i64 (N) in 0..C-1 (ignored rows hold any valid
 * class), keep: bool (N) -> 0-d  sum over kept rows of
 * (logsumexp(x_n) - x[n, y_n]), divided by denom. The loss of
 * dc_loss_forward for cross-entropy without class weights or label
 * smoothing, as one op: no log-probability tensor, gather, mask and
 * division, each with its own backward, in every training step. */
dc_tensor *dc__cross_entropy_rows(dc_tensor *x, dc_tensor *labels, dc_tensor *keep, double denom) {
    if (!dc__is_tensor(x) || !dc__is_tensor(labels) || !dc__is_tensor(keep) || x->ndim != 2 ||
        !dc__dtype_is_float(x->dtype) || labels->dtype != DC_I64 || keep->dtype != DC_BOOL ||
        labels->ndim != 1 || keep->ndim != 1 || labels->shape[0] != x->shape[0] ||
        keep->shape[0] != x->shape[0] || !dc__tensor_is_contiguous(labels) ||
        !dc__tensor_is_contiguous(keep)) {
        dc__fail(DC_E_INTERNAL, "cross_entropy_rows: unexpected operands");
        return NULL;
    }
    dc_tensor *inputs[3] = {x, labels, keep};
    int64_t n = x->shape[0], c = x->shape[1];
    dc_tensor *xc = dc__contiguous_ref(x);
    dc_tensor *out = xc ? dc__tensor_new(x->dtype, 0, NULL, false) : NULL;
    /* each row's log-sum-exp, kept for the backward (which would
     * otherwise compute it again) when the op is recorded */
    dc_tensor *lse = out ? dc__tensor_new(DC_F64, 1, &n, true) : NULL;
    if (!out || !lse) {
        dc_release(xc);
        dc_release(out);
        return NULL;
    }
    const char *xd = dc__tensor_data(xc);
    const int64_t *y = dc__tensor_data(labels);
    const bool *k = dc__tensor_data(keep);
    double *lse_rows = dc__tensor_data(lse);
    ce_job j = {.xd = xd, .dt = x->dtype, .n = n, .c = c, .y = y, .k = k, .lse_rows = lse_rows};
    run_ce(&j);
    double total = 0.0;   /* in row order, whatever the split */
    for (int64_t r = 0; r < n; r++)
        if (k[r]) total += lse_rows[r] - ld(xd, x->dtype, r * c + y[r]);
    st(dc__tensor_data(out), x->dtype, 0, total / denom);
    dc_release(xc);
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_CROSS_ENTROPY, inputs, 3, &node);
    if (node) {
        node->fparams[0] = denom;
        node->saved = lse;   /* the node takes this reference */
    } else {
        dc_release(lse);
    }
    return dc__publish(out);
}

/* gout: () -> gx[n, :] = gout / denom (softmax(x_n) - onehot(y_n)) on kept
 * rows, 0 on ignored ones; softmax from the forward's saved log-sum-exp. */
dc_status dc__cross_entropy_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                     dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    if (!x->requires_grad) return DC_OK;
    dc_tensor *xc = dc__contiguous_ref(x);
    dc_tensor *gx = xc ? dc__tensor_new(x->dtype, 2, x->shape, true) : NULL;
    if (!gx) {
        dc_release(xc);
        return dc_last_status();
    }
    ce_job j = {.xd = dc__tensor_data(xc), .dt = x->dtype, .n = x->shape[0],
                .c = x->shape[1], .y = dc__tensor_data(node->inputs[1]),
                .k = dc__tensor_data(node->inputs[2]), .lse_rows = dc__tensor_data(node->saved),
                .gd = dc__tensor_data(gx),
                .scale = ld(dc__tensor_data(gout), gout->dtype, 0) / node->fparams[0]};
    run_ce(&j);
    dc_release(xc);
    gin[0] = gx;
    return DC_OK;
}
