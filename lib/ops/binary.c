/* Binary elementwise ops with NumPy broadcasting.
 *
 * Every op runs one row kernel per (op, dtype) over a dc_iter of three
 * operands (out, a, b); broadcast operands get stride 0 on the axes they
 * are stretched along. Integer arithmetic wraps (it is done in the
 * unsigned type of the same width, so signed overflow is never undefined
 * behaviour); integer division truncates toward zero. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "op_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Row kernels                                                       */
/* ---------------------------------------------------------------- */

/* One row: o[i] = f(x[i], y[i]) for i < n, strides in elements. */
typedef void (*bin_row_fn)(void *o, int64_t so, const void *x, int64_t sx,
                           const void *y, int64_t sy, int64_t n);

/* Defines a row kernel for element type T computing EXPR from p and q.
 * The all-contiguous case gets a straight loop the compiler vectorises. */
#define BIN_ROW(NAME, T, EXPR)                                               \
    static void NAME(void *o_, int64_t so, const void *x_, int64_t sx,       \
                     const void *y_, int64_t sy, int64_t n) {                \
        T *o = o_;                                                           \
        const T *x = x_, *y = y_;                                            \
        if (so == 1 && sx == 1 && sy == 1) {                                 \
            for (int64_t i = 0; i < n; i++) {                                \
                T p = x[i], q = y[i];                                        \
                o[i] = (T)(EXPR);                                            \
            }                                                                \
        } else {                                                             \
            for (int64_t i = 0; i < n; i++) {                                \
                T p = x[i * sx], q = y[i * sy];                              \
                o[i * so] = (T)(EXPR);                                       \
            }                                                                \
        }                                                                    \
    }

/* NaN-propagating maximum / minimum (as torch.maximum). */
#define FMAX(p, q) (((p) != (p) || (q) != (q)) ? (p) + (q) : ((p) > (q) ? (p) : (q)))
#define FMIN(p, q) (((p) != (p) || (q) != (q)) ? (p) + (q) : ((p) < (q) ? (p) : (q)))

BIN_ROW(add_f32, float, p + q)
BIN_ROW(add_f64, double, p + q)
BIN_ROW(add_i32, int32_t, (uint32_t)p + (uint32_t)q)
BIN_ROW(add_i64, int64_t, (uint64_t)p + (uint64_t)q)
BIN_ROW(add_u8, uint8_t, p + q)

BIN_ROW(sub_f32, float, p - q)
BIN_ROW(sub_f64, double, p - q)
BIN_ROW(sub_i32, int32_t, (uint32_t)p - (uint32_t)q)
BIN_ROW(sub_i64, int64_t, (uint64_t)p - (uint64_t)q)
BIN_ROW(sub_u8, uint8_t, p - q)

BIN_ROW(mul_f32, float, p * q)
BIN_ROW(mul_f64, double, p * q)
BIN_ROW(mul_i32, int32_t, (uint32_t)p * (uint32_t)q)
BIN_ROW(mul_i64, int64_t, (uint64_t)p * (uint64_t)q)
BIN_ROW(mul_u8, uint8_t, p * q)

/* Zero divisors are rejected before these run; MIN / -1 wraps to MIN. */
BIN_ROW(div_f32, float, p / q)
BIN_ROW(div_f64, double, p / q)
BIN_ROW(div_i32, int32_t, q == -1 ? 0u - (uint32_t)p : (uint32_t)(p / q))
BIN_ROW(div_i64, int64_t, q == -1 ? 0u - (uint64_t)p : (uint64_t)(p / q))
BIN_ROW(div_u8, uint8_t, p / q)

BIN_ROW(pow_f32, float, powf(p, q))
BIN_ROW(pow_f64, double, pow(p, q))

BIN_ROW(max_f32, float, FMAX(p, q))
BIN_ROW(max_f64, double, FMAX(p, q))
BIN_ROW(max_i32, int32_t, p > q ? p : q)
BIN_ROW(max_i64, int64_t, p > q ? p : q)
BIN_ROW(max_u8, uint8_t, p > q ? p : q)

BIN_ROW(min_f32, float, FMIN(p, q))
BIN_ROW(min_f64, double, FMIN(p, q))
BIN_ROW(min_i32, int32_t, p < q ? p : q)
BIN_ROW(min_i64, int64_t, p < q ? p : q)
BIN_ROW(min_u8, uint8_t, p < q ? p : q)

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN,
                        BIN_KINDS } bin_kind;

/* Indexed by kind, then dtype (DC_F32, DC_F64, DC_I32, DC_I64, DC_U8);
 * NULL: the dtype is not supported by the op. */
static const bin_row_fn bin_rows[BIN_KINDS][5] = {
    [BIN_ADD] = {add_f32, add_f64, add_i32, add_i64, add_u8},
    [BIN_SUB] = {sub_f32, sub_f64, sub_i32, sub_i64, sub_u8},
    [BIN_MUL] = {mul_f32, mul_f64, mul_i32, mul_i64, mul_u8},
    [BIN_DIV] = {div_f32, div_f64, div_i32, div_i64, div_u8},
    [BIN_POW] = {pow_f32, pow_f64, NULL, NULL, NULL},
    [BIN_MAX] = {max_f32, max_f64, max_i32, max_i64, max_u8},
    [BIN_MIN] = {min_f32, min_f64, min_i32, min_i64, min_u8},
};

/* The kernel of kind for dtype, or NULL (DC_E_DTYPE recorded). */
static bin_row_fn bin_row_for(bin_kind kind, dc_dtype dtype, const char *func) {
    bin_row_fn fn = NULL;
    if (dtype >= DC_F32 && dtype <= DC_U8) fn = bin_rows[kind][dtype];
    if (!fn) {
        if (kind == BIN_POW)
            dc__fail(DC_E_DTYPE, "%s: needs f32 or f64 tensors, not %s", func,
                     dc_dtype_name(dtype));
        else
            dc__fail(DC_E_DTYPE, "%s: %s tensors are not supported (f32, f64, i32, i64, u8 are)",
                     func, dc_dtype_name(dtype));
    }
    return fn;
}

/* ---------------------------------------------------------------- */
/* Broadcasting and the driver                                       */
/* ---------------------------------------------------------------- */

/* Puts "func: " before the message of the failure just recorded. */
static bool prefix_error(const char *func) {
    char why[256];   /* dc__fail must not read the buffer it writes */
    snprintf(why, sizeof why, "%s", dc_last_error());
    dc__fail(dc_last_status(), "%s: %s", func, why);
    return false;
}

/* Broadcast shape of n tensors; on mismatch (DC_E_SHAPE) or a result too
 * large to count (DC_E_OVERFLOW) the error names func. */
static bool broadcast_all(const char *func, dc_tensor *const *ts, int n, int *nd,
                          int64_t *shape) {
    int cur = ts[0]->ndim;
    int64_t acc[DC_MAX_DIMS], next[DC_MAX_DIMS], numel;
    memcpy(acc, ts[0]->shape, sizeof acc);
    for (int i = 1; i < n; i++) {
        if (dc__broadcast_shapes(cur, acc, ts[i]->ndim, ts[i]->shape, &cur, next) != DC_OK)
            return prefix_error(func);
        memcpy(acc, next, sizeof acc);
    }
    if (dc__check_shape(func, cur, acc, &numel) != DC_OK) return false;
    *nd = cur;
    memcpy(shape, acc, sizeof acc);
    return true;
}

/* Contiguous operands of one shape (no broadcast) with at least
 * BIN_PAR_MIN elements run on the pool, in parts of at least BIN_PART
 * elements: the GPT's residual adds (262k elements, eight a step) ran on
 * the caller while the other thread waited. Elementwise, so any split
 * gives the same bits. */
#define BIN_PAR_MIN ((int64_t)1 << 16)
#define BIN_PART ((int64_t)1 << 14)

typedef struct bin_job {
    bin_row_fn fn;
    char *o;
    const char *x, *y;
    int64_t esz;
} bin_job;

static void bin_part(void *ctx, int64_t lo, int64_t hi) {
    const bin_job *j = ctx;
    j->fn(j->o + lo * j->esz, 1, j->x + lo * j->esz, 1, j->y + lo * j->esz, 1, hi - lo);
}

/* out = fn(a, b) elementwise over out's (broadcast) shape. */
static void run_binary(bin_row_fn fn, dc_tensor *out, const dc_tensor *a, const dc_tensor *b) {
    if (out->numel == 0) return;
    if (out->numel >= BIN_PAR_MIN && a->numel == out->numel && b->numel == out->numel &&
        dc__tensor_is_contiguous(out) && dc__tensor_is_contiguous(a) &&
        dc__tensor_is_contiguous(b)) {
        bin_job j = {fn, dc__tensor_data(out), dc__tensor_data(a), dc__tensor_data(b),
                     (int64_t)dc_dtype_size(out->dtype)};
        dc__parallel_range(bin_part, &j, out->numel, out->numel, BIN_PART);
        return;
    }
    int64_t strides[3][DC_MAX_DIMS];
    memcpy(strides[0], out->strides, sizeof out->strides);
    dc__broadcast_strides(a, out->ndim, out->shape, strides[1]);
    dc__broadcast_strides(b, out->ndim, out->shape, strides[2]);
    int64_t offs[3] = {out->offset, a->offset, b->offset};
    dc_iter it;
    dc__iter_init(&it, out->ndim, out->shape, 3, strides, offs);
    int64_t esz = (int64_t)dc_dtype_size(out->dtype);
    char *o = out->storage->data;
    const char *x = a->storage->data, *y = b->storage->data;
    while (dc__iter_next(&it))
        fn(o + it.off[0] * esz, it.istride[0], x + it.off[1] * esz, it.istride[1],
           y + it.off[2] * esz, it.istride[2], it.inner);
}

/* True when some element of t is zero. */
static bool has_zero(const dc_tensor *t) {
    if (t->numel == 0) return false;
    int64_t strides[1][DC_MAX_DIMS];
    memcpy(strides[0], t->strides, sizeof t->strides);
    dc_iter it;
    dc__iter_init(&it, t->ndim, t->shape, 1, strides, &t->offset);
    while (dc__iter_next(&it))
        for (int64_t i = 0; i < it.inner; i++)
            if (dc__load(t->storage->data, t->dtype, it.off[0] + i * it.istride[0]) == 0.0)
                return true;
    return false;
}

/* The unrecorded result of a binary op, owned by the caller, or NULL. */
static dc_tensor *binary_compute(const char *func, bin_kind kind, dc_tensor *a, dc_tensor *b) {
    if (!dc__require_same_dtype(a, b, func)) return NULL;
    bin_row_fn fn = bin_row_for(kind, a->dtype, func);
    if (!fn) return NULL;
    dc_tensor *ab[2] = {a, b};
    int nd;
    int64_t shape[DC_MAX_DIMS];
    if (!broadcast_all(func, ab, 2, &nd, shape)) return NULL;
    dc_tensor *out = dc__tensor_new(a->dtype, nd, shape, false);
    if (!out) return NULL;
    if (kind == BIN_DIV && !dc__dtype_is_float(a->dtype) && out->numel > 0 && has_zero(b)) {
        dc_release(out);
        dc__fail(DC_E_RANGE, "%s: integer division by zero", func);
        return NULL;
    }
    run_binary(fn, out, a, b);
    return out;
}

/* Forward of the tensor-tensor ops: checks, computes, records. */
static dc_tensor *binary_op(const char *func, bin_kind kind, dc_op_id op, dc_tensor *a,
                            dc_tensor *b) {
    DC_CHECK_TENSOR_OR_NULL(a, func, "a");
    DC_CHECK_TENSOR_OR_NULL(b, func, "b");
    dc_tensor *out = binary_compute(func, kind, a, b);
    if (!out) return NULL;
    dc_tensor *inputs[2] = {a, b};
    dc_node *node;
    out = dc__record_or_drop(out, op, inputs, 2, &node);
    return dc__publish(out);
}

/* Forward of the ops with a scalar on the right: the scalar becomes a
 * 0-d tensor of t's dtype (so the value is converted as a tensor element
 * would be), and the value actually used is kept in node->fparams[0]. */
static dc_tensor *scalar_op(const char *func, bin_kind kind, dc_op_id op, dc_tensor *t,
                            double value) {
    DC_CHECK_TENSOR_OR_NULL(t, func, "t");
    if (!bin_row_for(kind, t->dtype, func)) return NULL;
    dc_tensor *s = dc__tensor_new(t->dtype, 0, NULL, false);
    if (!s) return NULL;
    dc__store(dc__tensor_data(s), s->dtype, 0, value);
    double used = dc__load(dc__tensor_data(s), s->dtype, 0);
    dc_tensor *out = binary_compute(func, kind, t, s);
    dc_release(s);
    if (!out) return NULL;
    dc_node *node;
    out = dc__record_or_drop(out, op, &t, 1, &node);
    if (node) node->fparams[0] = used;
    return dc__publish(out);
}

/* ---------------------------------------------------------------- */
/* Backward helpers                                                  */
/* ---------------------------------------------------------------- */

static bool wants_grad(const dc_node *node, int i) { return node->inputs[i]->requires_grad; }

/* Stores g (of the output's shape) in gin[i], summed to input i's shape. */
static dc_status give_grad(dc_node *node, dc_tensor **gin, int i, dc_tensor *g) {
    const dc_tensor *in = node->inputs[i];
    return dc__set_grad(gin, i, dc__sum_to_shape(g, in->ndim, in->shape));
}

/* ---------------------------------------------------------------- */
/* add, sub, mul, div                                                */
/* ---------------------------------------------------------------- */

/* a: A, b: B (broadcastable) -> broadcast(A, B) */
dc_tensor *dc_add(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_add", BIN_ADD, DC_OP_ADD, a, b);
}

/* True when a's values are seen by nobody but the caller's one reference
 * and the node of the Linear that made it (whose backward never reads
 * its output), and x matches a element for element. */
static bool add_over_ok(const dc_tensor *x, const dc_tensor *a) {
    return a->grad_fn && a->grad_fn->op == DC_OP_LINEAR && dc__dtype_is_float(a->dtype) &&
           x->dtype == a->dtype && x->ndim == a->ndim &&
           memcmp(x->shape, a->shape, (size_t)a->ndim * sizeof(int64_t)) == 0 &&
           atomic_load(&a->refcount) == 1 && atomic_load(&a->storage->refcount) == 1 &&
           a->storage->owns_data && dc__tensor_is_contiguous(a) && dc__tensor_is_contiguous(x);
}

/* op_util.h says what this may do to a. */
dc_tensor *dc__add_over(dc_tensor *x, dc_tensor *a) {
    if (!dc__is_tensor(x) || !dc__is_tensor(a) || !add_over_ok(x, a)) return dc_add(x, a);
    dc_tensor *out = dc__tensor_view(a, a->ndim, a->shape, a->strides, a->offset);
    if (!out) return NULL;
    run_binary(bin_rows[BIN_ADD][a->dtype], out, x, a);
    dc_tensor *inputs[2] = {x, a};
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_ADD, inputs, 2, &node);
    return dc__publish(out);
}

/* ga = sum_to(g, A), gb = sum_to(g, B); needs nothing saved. */
dc_status dc__add_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) st = give_grad(node, gin, 0, gout);
    if (st == DC_OK && wants_grad(node, 1)) st = give_grad(node, gin, 1, gout);
    return st;
}

/* a: A, b: B -> broadcast(A, B) */
dc_tensor *dc_sub(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_sub", BIN_SUB, DC_OP_SUB, a, b);
}

/* ga = sum_to(g, A), gb = sum_to(-g, B) */
dc_status dc__sub_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) st = give_grad(node, gin, 0, gout);
    if (st == DC_OK && wants_grad(node, 1)) st = give_grad(node, gin, 1, dc_neg(gout));
    return st;
}

/* a: A, b: B -> broadcast(A, B) */
dc_tensor *dc_mul(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_mul", BIN_MUL, DC_OP_MUL, a, b);
}

/* ga = sum_to(g * b, A), gb = sum_to(g * a, B); the inputs the node
 * already holds are all it needs. */
dc_status dc__mul_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *a = node->inputs[0], *b = node->inputs[1];
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) st = give_grad(node, gin, 0, dc_mul(gout, b));
    if (st == DC_OK && wants_grad(node, 1)) st = give_grad(node, gin, 1, dc_mul(gout, a));
    return st;
}

/* a: A, b: B -> broadcast(A, B) */
dc_tensor *dc_div(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_div", BIN_DIV, DC_OP_DIV, a, b);
}

/* ga = sum_to(g / b, A), gb = sum_to(-g * a / b^2, B) */
dc_status dc__div_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *a = node->inputs[0], *b = node->inputs[1];
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) st = give_grad(node, gin, 0, dc_div(gout, b));
    if (st == DC_OK && wants_grad(node, 1))
        st = give_grad(node, gin, 1, dc_neg(dc_div(dc_mul(gout, a), dc_mul(b, b))));
    return st;
}

/* ---------------------------------------------------------------- */
/* pow                                                               */
/* ---------------------------------------------------------------- */

/* a: A, b: B (f32/f64) -> broadcast(A, B) */
dc_tensor *dc_pow(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_pow", BIN_POW, DC_OP_POW, a, b);
}

/* ga = g * b * a^(b-1), 0 where b == 0;
 * gb = g * a^b * log(a), 0 where a == 0 and b >= 0 (as PyTorch). */
dc_status dc__pow_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    dc_tensor *a = node->inputs[0], *b = node->inputs[1];
    dc_tensor *zero = dc_scalar(gout->dtype, 0.0);
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) {
        dc_tensor *d = dc_mul(b, dc_pow(a, dc_add_scalar(b, -1.0)));
        d = dc_where(dc_eq(b, zero), zero, d);
        st = give_grad(node, gin, 0, dc_mul(gout, d));
    }
    if (st == DC_OK && wants_grad(node, 1)) {
        dc_tensor *d = dc_mul(out, dc_log(a));
        d = dc_where(dc_eq(a, zero), dc_where(dc_ge(b, zero), zero, d), d);
        st = give_grad(node, gin, 1, dc_mul(gout, d));
    }
    return st;
}

/* ---------------------------------------------------------------- */
/* maximum, minimum                                                  */
/* ---------------------------------------------------------------- */

/* a: A, b: B -> broadcast(A, B); NaN wins. */
dc_tensor *dc_maximum(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_maximum", BIN_MAX, DC_OP_MAXIMUM, a, b);
}

/* The gradient goes to the winner; ties split it half and half. `wins`
 * compares (a, b) for a's share and (b, a) for b's. */
static dc_status extremum_backward(dc_node *node, dc_tensor *gout, dc_tensor **gin,
                                   dc_tensor *(*wins)(dc_tensor *, dc_tensor *)) {
    dc_tensor *a = node->inputs[0], *b = node->inputs[1];
    dc_tensor *zero = dc_scalar(gout->dtype, 0.0);
    dc_tensor *tie = dc_where(dc_eq(a, b), dc_mul_scalar(gout, 0.5), zero);
    dc_status st = DC_OK;
    if (wants_grad(node, 0)) st = give_grad(node, gin, 0, dc_where(wins(a, b), gout, tie));
    if (st == DC_OK && wants_grad(node, 1))
        st = give_grad(node, gin, 1, dc_where(wins(b, a), gout, tie));
    return st;
}

/* ga = g where a > b, g/2 where a == b; gb likewise. */
dc_status dc__maximum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                               dc_tensor **gin) {
    (void)out;
    return extremum_backward(node, gout, gin, dc_gt);
}

/* a: A, b: B -> broadcast(A, B); NaN wins. */
dc_tensor *dc_minimum(dc_tensor *a, dc_tensor *b) {
    return binary_op("dc_minimum", BIN_MIN, DC_OP_MINIMUM, a, b);
}

/* ga = g where a < b, g/2 where a == b; gb likewise. */
dc_status dc__minimum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                               dc_tensor **gin) {
    (void)out;
    return extremum_backward(node, gout, gin, dc_lt);
}

/* ---------------------------------------------------------------- */
/* where                                                             */
/* ---------------------------------------------------------------- */

/* Selection by element size: one byte of cond picks x or y. */
#define WHERE_ROW(NAME, T)                                                         \
    static void NAME(void *o_, int64_t so, const uint8_t *c, int64_t sc,          \
                     const void *x_, int64_t sx, const void *y_, int64_t sy,      \
                     int64_t n) {                                                 \
        T *o = o_;                                                                \
        const T *x = x_, *y = y_;                                                 \
        for (int64_t i = 0; i < n; i++)                                           \
            o[i * so] = c[i * sc] ? x[i * sx] : y[i * sy];                        \
    }
WHERE_ROW(where_1, uint8_t)
WHERE_ROW(where_4, uint32_t)
WHERE_ROW(where_8, uint64_t)

static void run_where(dc_tensor *out, const dc_tensor *cond, const dc_tensor *a,
                      const dc_tensor *b) {
    if (out->numel == 0) return;
    const dc_tensor *ops[4] = {out, cond, a, b};
    int64_t strides[4][DC_MAX_DIMS], offs[4];
    for (int k = 0; k < 4; k++) {
        dc__broadcast_strides(ops[k], out->ndim, out->shape, strides[k]);
        offs[k] = ops[k]->offset;
    }
    dc_iter it;
    dc__iter_init(&it, out->ndim, out->shape, 4, strides, offs);
    size_t esz = dc_dtype_size(out->dtype);
    char *o = out->storage->data;
    const uint8_t *c = cond->storage->data;
    const char *x = a->storage->data, *y = b->storage->data;
    /* one kernel per element size: where only moves bits */
    void (*row)(void *, int64_t, const uint8_t *, int64_t, const void *, int64_t,
                const void *, int64_t, int64_t) =
        esz == 1 ? where_1 : esz == 4 ? where_4 : where_8;
    while (dc__iter_next(&it))
        row(o + it.off[0] * (int64_t)esz, it.istride[0], c + it.off[1], it.istride[1],
            x + it.off[2] * (int64_t)esz, it.istride[2], y + it.off[3] * (int64_t)esz,
            it.istride[3], it.inner);
}

/* cond: C (bool), a: A, b: B -> broadcast(C, A, B) */
dc_tensor *dc_where(dc_tensor *cond, dc_tensor *a, dc_tensor *b) {
    DC_CHECK_TENSOR_OR_NULL(cond, "dc_where", "cond");
    DC_CHECK_TENSOR_OR_NULL(a, "dc_where", "a");
    DC_CHECK_TENSOR_OR_NULL(b, "dc_where", "b");
    if (cond->dtype != DC_BOOL) {
        dc__fail(DC_E_DTYPE, "dc_where: 'cond' must be bool, not %s", dc_dtype_name(cond->dtype));
        return NULL;
    }
    if (!dc__require_same_dtype(a, b, "dc_where")) return NULL;
    if (!bin_row_for(BIN_ADD, a->dtype, "dc_where")) return NULL;   /* numeric dtypes */
    dc_tensor *inputs[3] = {cond, a, b};
    int nd;
    int64_t shape[DC_MAX_DIMS];
    if (!broadcast_all("dc_where", inputs, 3, &nd, shape)) return NULL;
    dc_tensor *out = dc__tensor_new(a->dtype, nd, shape, false);
    if (!out) return NULL;
    run_where(out, cond, a, b);
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_WHERE, inputs, 3, &node);
    return dc__publish(out);
}

/* ga = sum_to(where(cond, g, 0), A), gb = sum_to(where(cond, 0, g), B);
 * cond gets none. */
dc_status dc__where_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *cond = node->inputs[0];
    dc_tensor *zero = dc_scalar(gout->dtype, 0.0);
    dc_status st = DC_OK;
    if (wants_grad(node, 1)) st = give_grad(node, gin, 1, dc_where(cond, gout, zero));
    if (st == DC_OK && wants_grad(node, 2))
        st = give_grad(node, gin, 2, dc_where(cond, zero, gout));
    return st;
}

/* ---------------------------------------------------------------- */
/* Scalar on the right                                               */
/* ---------------------------------------------------------------- */

/* t: T -> T */
dc_tensor *dc_add_scalar(dc_tensor *t, double value) {
    return scalar_op("dc_add_scalar", BIN_ADD, DC_OP_ADD_SCALAR, t, value);
}

/* gt = g */
dc_status dc__add_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    (void)node;
    (void)out;
    return dc__set_grad(gin, 0, gout);
}

/* t: T -> T */
dc_tensor *dc_mul_scalar(dc_tensor *t, double value) {
    return scalar_op("dc_mul_scalar", BIN_MUL, DC_OP_MUL_SCALAR, t, value);
}

/* gt = g * value */
dc_status dc__mul_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    (void)out;
    return dc__set_grad(gin, 0, dc_mul_scalar(gout, node->fparams[0]));
}

/* t: T (f32/f64) -> T */
dc_tensor *dc_pow_scalar(dc_tensor *t, double exponent) {
    return scalar_op("dc_pow_scalar", BIN_POW, DC_OP_POW_SCALAR, t, exponent);
}

/* gt = g * e * t^(e-1); 0 for e == 0 (as PyTorch, also at t == 0). */
dc_status dc__pow_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    (void)out;
    double e = node->fparams[0];
    dc_tensor *t = node->inputs[0];
    if (e == 0.0) return dc__set_grad(gin, 0, dc_zeros_like(t));
    dc_tensor *d = dc_mul_scalar(dc_pow_scalar(t, e - 1.0), e);
    return dc__set_grad(gin, 0, dc_mul(gout, d));
}
