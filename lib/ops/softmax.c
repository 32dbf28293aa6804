/* softmax and log_softmax along one axis, with their backward functions.
 *
 * Every tensor involved is walked as rows along the axis: dc_iter runs
 * over the other axes (the axis itself is given size 1) and yields, for
 * each operand, the offset of a row's first element; the row then steps
 * by that operand's stride along the axis. Math is in double. */
#include "../core/internal.h"
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
    if (out->ndim == 0) {
        /* one element: the output does not depend on the input */
        st(dc__tensor_data(g), g->dtype, 0, 0.0);
    } else {
        dc_tensor *ts[3] = {out, gout, g};
        for_each_row(ts, 3, (int)node->iparams[0], fn, NULL);
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
