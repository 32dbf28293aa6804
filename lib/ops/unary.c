/* Unary elementwise ops and activations.
 *
 * Every op maps t: T -> T elementwise. Float math is done in double and
 * stored in the tensor's dtype. The op id selects the function; its
 * parameters (slope, beta, bounds...) travel in p[] and are kept in
 * node->fparams, so one backward, dc__unary_backward, serves them all.
 * The activations of training steps (relu, sigmoid, tanh, gelu, silu) on
 * contiguous f32 run vectorised float loops instead (fastmath.h). */
#include "../core/internal.h"
#include "../core/threads.h"
#include "fastmath.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

#define SQRT_2_OVER_PI 0.7978845608028654   /* sqrt(2 / pi) */
#define INV_SQRT_2 0.7071067811865476       /* 1 / sqrt(2) */
#define INV_SQRT_2PI 0.3989422804014327     /* 1 / sqrt(2 pi) */
#define GELU_C 0.044715

/* ---------------------------------------------------------------- */
/* Scalar functions and their derivatives                            */
/* ---------------------------------------------------------------- */

/* exp of a non-positive argument only, so nothing overflows at any x. */
static inline double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static inline double gelu_value(double x, double approx) {
    if (approx != 0.0)
        return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
    return 0.5 * x * (1.0 + erf(x * INV_SQRT_2));
}

static inline double gelu_deriv(double x, double approx) {
    if (approx != 0.0) {
        double th = tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
        double dinner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x);
        return 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * dinner;
    }
    return 0.5 * (1.0 + erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* log(1 + exp(beta x)) / beta, written so exp never overflows; x itself
 * where beta x > threshold (PyTorch's switch to the linear part). */
static inline double softplus_value(double x, double beta, double threshold) {
    double bx = beta * x;
    if (bx > threshold) return x;
    return (fmax(bx, 0.0) + log1p(exp(-fabs(bx)))) / beta;
}

/* NaN stays NaN (comparisons with NaN are false). */
static inline double clamp_value(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* Value of op at x with parameters p0, p1. */
#define UNARY_CASES(T, LOOP)                                                    \
    case DC_OP_NEG: LOOP(T, -v)                                                 \
    case DC_OP_ABS: LOOP(T, fabs(v))                                            \
    case DC_OP_EXP: LOOP(T, exp(v))                                             \
    case DC_OP_LOG: LOOP(T, log(v))                                             \
    case DC_OP_SQRT: LOOP(T, sqrt(v))                                           \
    case DC_OP_RSQRT: LOOP(T, 1.0 / sqrt(v))                                    \
    case DC_OP_SQUARE: LOOP(T, v * v)                                           \
    case DC_OP_TANH: LOOP(T, tanh(v))                                           \
    case DC_OP_SIGMOID: LOOP(T, sigmoid(v))                                     \
    case DC_OP_RELU: LOOP(T, v > 0.0 || v != v ? v : 0.0)                       \
    case DC_OP_LEAKY_RELU: LOOP(T, v > 0.0 ? v : v * p0)                        \
    case DC_OP_GELU: LOOP(T, gelu_value(v, p0))                                 \
    case DC_OP_SILU: LOOP(T, v * sigmoid(v))                                    \
    case DC_OP_SOFTPLUS: LOOP(T, softplus_value(v, p0, p1))                     \
    case DC_OP_CLAMP: LOOP(T, clamp_value(v, p0, p1))                           \
    default: break;

#define LOOP_CONTIG(T, EXPR)                                                    \
    for (int64_t i = 0; i < n; i++) {                                           \
        double v = x[i];                                                        \
        o[i] = (T)(EXPR);                                                       \
    }                                                                           \
    break;
#define LOOP_STRIDED(T, EXPR)                                                   \
    for (int64_t i = 0; i < n; i++) {                                           \
        double v = x[i * sx];                                                   \
        o[i * so] = (T)(EXPR);                                                  \
    }                                                                           \
    break;

/* One row of a float op; the contiguous case gets straight loops. */
#define FLOAT_ROW(NAME, T)                                                      \
    static void NAME(dc_op_id op, const double *p, void *o_, int64_t so,        \
                     const void *x_, int64_t sx, int64_t n) {                   \
        T *o = o_;                                                              \
        const T *x = x_;                                                        \
        double p0 = p[0], p1 = p[1];                                            \
        (void)p0;                                                               \
        (void)p1;                                                               \
        if (so == 1 && sx == 1) {                                               \
            switch (op) { UNARY_CASES(T, LOOP_CONTIG) }                         \
        } else {                                                                \
            switch (op) { UNARY_CASES(T, LOOP_STRIDED) }                        \
        }                                                                       \
    }
FLOAT_ROW(unary_f32, float)
FLOAT_ROW(unary_f64, double)

/* Integer ops (neg, abs, square, relu, clamp) wrap like C unsigned
 * arithmetic: neg and abs of the minimum give the minimum back. The
 * clamp bounds p[] were converted to T by the caller. */
#define INT_ROW(NAME, T, UT)                                                    \
    static void NAME(dc_op_id op, T lo, T hi, void *o_, int64_t so,             \
                     const void *x_, int64_t sx, int64_t n) {                   \
        T *o = o_;                                                              \
        const T *x = x_;                                                        \
        for (int64_t i = 0; i < n; i++) {                                       \
            T v = x[i * sx], r = v;                                             \
            switch (op) {                                                       \
            case DC_OP_NEG: r = (T)(0u - (UT)v); break;                         \
            case DC_OP_ABS: r = v < 0 ? (T)(0u - (UT)v) : v; break;             \
            case DC_OP_SQUARE: r = (T)((UT)v * (UT)v); break;                   \
            case DC_OP_RELU: r = v > 0 ? v : 0; break;                          \
            case DC_OP_CLAMP: r = v < lo ? lo : v > hi ? hi : v; break;         \
            default: break;                                                     \
            }                                                                   \
            o[i * so] = r;                                                      \
        }                                                                       \
    }
INT_ROW(unary_i32, int32_t, uint32_t)
INT_ROW(unary_i64, int64_t, uint64_t)

/* Derivative of op at x (input) and y (output). Kinks follow PyTorch:
 * relu'(0) = 0, abs'(0) = 0, clamp passes where lo <= x <= hi. */
static double unary_deriv(dc_op_id op, double x, double y, const double *p) {
    switch (op) {
    case DC_OP_NEG: return -1.0;
    case DC_OP_ABS: return x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
    case DC_OP_EXP: return y;
    case DC_OP_LOG: return 1.0 / x;
    case DC_OP_SQRT: return 0.5 / y;
    case DC_OP_RSQRT: return -0.5 * y * y * y;
    case DC_OP_SQUARE: return 2.0 * x;
    case DC_OP_TANH: return 1.0 - y * y;
    case DC_OP_SIGMOID: return y * (1.0 - y);
    case DC_OP_RELU: return x > 0.0 ? 1.0 : 0.0;
    case DC_OP_LEAKY_RELU: return x > 0.0 ? 1.0 : p[0];
    case DC_OP_GELU: return gelu_deriv(x, p[0]);
    case DC_OP_SILU: {
        double s = sigmoid(x);
        return s * (1.0 + x * (1.0 - s));
    }
    case DC_OP_SOFTPLUS: return p[0] * x > p[1] ? 1.0 : sigmoid(p[0] * x);
    case DC_OP_CLAMP: return x >= p[0] && x <= p[1] ? 1.0 : 0.0;
    default: return NAN;
    }
}

/* ---------------------------------------------------------------- */
/* Contiguous f32 activations (vectorised, fastmath.h)               */
/* ---------------------------------------------------------------- */

#define SQRT_2_OVER_PI_F 0.7978845608f
#define INV_SQRT_2PI_F 0.3989422804f

/* Value of an op for x (p0: the GELU approximation flag). */
#define FAST_VALUES(X)                                                          \
    X(relu, (v > 0.0f || v != v) ? v : 0.0f)                                    \
    X(sigmoid, dc__sigmoidf(v))                                                 \
    X(tanh, dc__tanhf(v))                                                       \
    X(silu, v * dc__sigmoidf(v))                                                \
    X(gelu, 0.5f * v * (1.0f + dc__tanhf(SQRT_2_OVER_PI_F * (v + 0.044715f * v * v * v))))\
    X(gelu_exact, v * dc__normal_cdf(v))                                        \
    X(square, v * v)

#define FAST_FWD(NAME, EXPR)                                                    \
    DC_VEC_CLONES_FMA static void fwd_##NAME(float *o, const float *x, int64_t n) { \
        for (int64_t i = 0; i < n; i++) {                                       \
            float v = x[i];                                                     \
            o[i] = EXPR;                                                        \
        }                                                                       \
    }
FAST_VALUES(FAST_FWD)

/* Derivative times g, from x (v) and the output (y); a zero derivative
 * gives 0 even where g is infinite, as the general path. */
static inline float gelu_tanh_deriv_f(float v) {
    float th = dc__tanhf(SQRT_2_OVER_PI_F * (v + 0.044715f * v * v * v));
    float dinner = SQRT_2_OVER_PI_F * (1.0f + 3.0f * 0.044715f * v * v);
    return 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * dinner;
}

/* GELU'(x) = Phi(x) + x phi(x), with Phi(x) = y / x from the forward's
 * output y = x Phi(x): one division instead of a second erfc (and its
 * exp) per element. Near 0, where y / x would lose digits (or divide by
 * zero), Phi(x) = 1/2 + x phi(0) (the x^3 term is below 1e-10 there). */
static inline float gelu_exact_deriv_f(float v, float y) {
    float a = v < 0.0f ? -v : v;
    bool tiny = a < 0.0009765625f;   /* 2^-10 */
    float cdf = tiny ? 0.5f + v * INV_SQRT_2PI_F : y / (tiny ? 1.0f : v);
    return cdf + v * INV_SQRT_2PI_F * dc__expf(-0.5f * v * v);
}

static inline float silu_deriv_f(float v) {
    float s = dc__sigmoidf(v);
    return s * (1.0f + v * (1.0f - s));
}

#define FAST_DERIVS(X)                                                          \
    X(relu, v > 0.0f ? 1.0f : 0.0f)                                             \
    X(sigmoid, y * (1.0f - y))                                                  \
    X(tanh, 1.0f - y * y)                                                       \
    X(silu, silu_deriv_f(v))                                                    \
    X(gelu, gelu_tanh_deriv_f(v))                                               \
    X(gelu_exact, gelu_exact_deriv_f(v, y))                                     \
    X(square, 2.0f * v)

#define FAST_BWD(NAME, EXPR)                                                    \
    DC_VEC_CLONES_FMA static void bwd_##NAME(float *gi, const float *g, const float *x, \
                                         const float *out, int64_t n) {         \
        for (int64_t i = 0; i < n; i++) {                                       \
            float v = x[i], y = out[i];                                         \
            (void)v;                                                            \
            (void)y;                                                            \
            float d = EXPR;                                                     \
            gi[i] = d == 0.0f ? 0.0f : g[i] * d;                                \
        }                                                                       \
    }
FAST_DERIVS(FAST_BWD)

typedef void (*fast_fwd_fn)(float *, const float *, int64_t);
typedef void (*fast_bwd_fn)(float *, const float *, const float *, const float *, int64_t);

/* The vectorised pair for op; both NULL when there is none (then the
 * general loops run). Returned by value: GCC 12 mistakes a target_clones
 * function stored through a pointer argument for a dangling local. */
typedef struct {
    fast_fwd_fn fwd;
    fast_bwd_fn bwd;
} fast_fns;

static fast_fns fast_pair(dc_op_id op, const double *p) {
    switch (op) {
    case DC_OP_RELU: return (fast_fns){fwd_relu, bwd_relu};
    case DC_OP_SIGMOID: return (fast_fns){fwd_sigmoid, bwd_sigmoid};
    case DC_OP_TANH: return (fast_fns){fwd_tanh, bwd_tanh};
    case DC_OP_SILU: return (fast_fns){fwd_silu, bwd_silu};
    /* MSE's square: a float product is the double one rounded, and 2v is
     * exact, so these give the general path's bits */
    case DC_OP_SQUARE: return (fast_fns){fwd_square, bwd_square};
    case DC_OP_GELU:
        return p[0] != 0.0 ? (fast_fns){fwd_gelu, bwd_gelu}
                           : (fast_fns){fwd_gelu_exact, bwd_gelu_exact};
    default: return (fast_fns){NULL, NULL};
    }
}

/* Contiguous f32 runs of the vector loops, split over the library's
 * threads when large (a GPT's MLP activations are millions of elements).
 * Elementwise, so any split gives the same bits. */
#define PAR_CHUNK ((int64_t)1 << 15)

typedef struct fast_job {
    fast_fns f;
    bool backward;
    float *o;                        /* out (forward) or gi (backward) */
    const float *a, *b, *c;          /* x; or gout, x, y */
    int64_t n;
} fast_job;

static void fast_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const fast_job *j = ctx;
    int64_t lo = chunk * PAR_CHUNK, len = j->n - lo < PAR_CHUNK ? j->n - lo : PAR_CHUNK;
    if (j->backward) j->f.bwd(j->o + lo, j->a + lo, j->b + lo, j->c + lo, len);
    else j->f.fwd(j->o + lo, j->a + lo, len);
}

static void run_fast(const fast_job *j) {
    int64_t chunks = (j->n + PAR_CHUNK - 1) / PAR_CHUNK;
    if (chunks > 1) dc__parallel_for(fast_chunk, (void *)j, chunks, (int)(chunks < 64 ? chunks : 64));
    else fast_chunk((void *)j, 0, 0);
}

/* ---------------------------------------------------------------- */
/* Driver                                                            */
/* ---------------------------------------------------------------- */

/* A value converted to dtype as a tensor element would be. */
static int64_t to_dtype_int(double v, dc_dtype dtype) {
    if (dtype == DC_I32) {
        int32_t cell;
        dc__store(&cell, dtype, 0, v);
        return cell;
    }
    int64_t cell;
    dc__store(&cell, dtype, 0, v);
    return cell;
}

static void run_unary(dc_op_id op, const double *p, dc_tensor *out, const dc_tensor *t) {
    if (out->numel == 0) return;
    fast_fns fast = t->dtype == DC_F32 ? fast_pair(op, p) : (fast_fns){NULL, NULL};
    if (fast.fwd && dc__tensor_is_contiguous(t) && dc__tensor_is_contiguous(out)) {
        run_fast(&(fast_job){fast, false, dc__tensor_data(out), dc__tensor_data(t), NULL, NULL,
                             t->numel});
        return;
    }
    int64_t strides[2][DC_MAX_DIMS];
    memcpy(strides[0], out->strides, sizeof out->strides);
    memcpy(strides[1], t->strides, sizeof t->strides);
    int64_t offs[2] = {out->offset, t->offset};
    dc_iter it;
    dc__iter_init(&it, t->ndim, t->shape, 2, strides, offs);
    int64_t esz = (int64_t)dc_dtype_size(t->dtype);
    char *o = out->storage->data;
    const char *x = t->storage->data;
    int64_t lo = 0, hi = 0;
    if (op == DC_OP_CLAMP && !dc__dtype_is_float(t->dtype)) {
        lo = to_dtype_int(p[0], t->dtype);
        hi = to_dtype_int(p[1], t->dtype);
    }
    while (dc__iter_next(&it)) {
        void *po = o + it.off[0] * esz;
        const void *px = x + it.off[1] * esz;
        if (fast.fwd && it.istride[0] == 1 && it.istride[1] == 1) {   /* e.g. a narrowed gate */
            fast.fwd(po, px, it.inner);
            continue;
        }
        switch (t->dtype) {
        case DC_F32: unary_f32(op, p, po, it.istride[0], px, it.istride[1], it.inner); break;
        case DC_F64: unary_f64(op, p, po, it.istride[0], px, it.istride[1], it.inner); break;
        case DC_I32:
            unary_i32(op, (int32_t)lo, (int32_t)hi, po, it.istride[0], px, it.istride[1],
                      it.inner);
            break;
        case DC_I64: unary_i64(op, lo, hi, po, it.istride[0], px, it.istride[1], it.inner); break;
        default: break;
        }
    }
}

/* t: T -> T. int_ok: the op also takes i32 and i64. p: two parameters,
 * kept in the node. */
static dc_tensor *unary_op(const char *func, dc_op_id op, dc_tensor *t, bool int_ok,
                           double p0, double p1) {
    DC_CHECK_TENSOR_OR_NULL(t, func, "t");
    bool is_int = t->dtype == DC_I32 || t->dtype == DC_I64;
    if (!dc__dtype_is_float(t->dtype) && !(int_ok && is_int)) {
        dc__fail(DC_E_DTYPE, "%s: needs %s, not %s", func,
                 int_ok ? "an f32, f64, i32 or i64 tensor" : "an f32 or f64 tensor",
                 dc_dtype_name(t->dtype));
        return NULL;
    }
    double p[2] = {p0, p1};
    dc_tensor *out = dc__tensor_new(t->dtype, t->ndim, t->shape, false);
    if (!out) return NULL;
    run_unary(op, p, out, t);
    dc_node *node;
    out = dc__record_or_drop(out, op, &t, 1, &node);
    if (node) {
        node->fparams[0] = p0;
        node->fparams[1] = p1;
    }
    return dc__publish(out);
}

#define DERIV_ROW(NAME, T)                                                      \
    static void NAME(dc_op_id op, const double *p, T *gi, const T *g,          \
                     const T *x, const T *y, const int64_t *s, int64_t n) {     \
        for (int64_t i = 0; i < n; i++) {                                       \
            double d = unary_deriv(op, x[i * s[2]], y[i * s[3]], p);            \
            gi[i * s[0]] = (T)(d == 0.0 ? 0.0 : g[i * s[1]] * d);               \
        }                                                                       \
    }
DERIV_ROW(deriv_f32, float)
DERIV_ROW(deriv_f64, double)

/* t: T -> T. gt = g * f'(t), computed from t and the output y. A zero
 * derivative gives 0 even where g is infinite (masked, as PyTorch). */
dc_status dc__unary_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    dc_tensor *t = node->inputs[0];
    if (!t->requires_grad) return DC_OK;
    if (!dc__dtype_is_float(t->dtype) || gout->dtype != t->dtype || out->dtype != t->dtype)
        return dc__fail(DC_E_INTERNAL, "dc__unary_backward: unexpected dtypes");
    dc_tensor *gi = dc__tensor_new(t->dtype, t->ndim, t->shape, false);
    if (!gi) return dc_last_status();
    fast_fns fast = t->dtype == DC_F32 ? fast_pair(node->op, node->fparams)
                                       : (fast_fns){NULL, NULL};
    if (gi->numel > 0 && fast.bwd && dc__tensor_is_contiguous(t) &&
        dc__tensor_is_contiguous(gout) && dc__tensor_is_contiguous(out)) {
        run_fast(&(fast_job){fast, true, dc__tensor_data(gi), dc__tensor_data(gout),
                             dc__tensor_data(t), dc__tensor_data(out), gi->numel});
    } else if (gi->numel > 0) {
        const dc_tensor *ops[4] = {gi, gout, t, out};
        int64_t strides[4][DC_MAX_DIMS], offs[4];
        for (int k = 0; k < 4; k++) {
            memcpy(strides[k], ops[k]->strides, sizeof ops[k]->strides);
            offs[k] = ops[k]->offset;
        }
        dc_iter it;
        dc__iter_init(&it, t->ndim, t->shape, 4, strides, offs);
        while (dc__iter_next(&it)) {
            bool rows_contiguous = it.istride[0] == 1 && it.istride[1] == 1 &&
                                   it.istride[2] == 1 && it.istride[3] == 1;
            if (fast.bwd && rows_contiguous)
                fast.bwd((float *)gi->storage->data + it.off[0],
                   (const float *)gout->storage->data + it.off[1],
                   (const float *)t->storage->data + it.off[2],
                   (const float *)out->storage->data + it.off[3], it.inner);
            else if (t->dtype == DC_F32)
                deriv_f32(node->op, node->fparams, (float *)gi->storage->data + it.off[0],
                          (const float *)gout->storage->data + it.off[1],
                          (const float *)t->storage->data + it.off[2],
                          (const float *)out->storage->data + it.off[3], it.istride, it.inner);
            else
                deriv_f64(node->op, node->fparams, (double *)gi->storage->data + it.off[0],
                          (const double *)gout->storage->data + it.off[1],
                          (const double *)t->storage->data + it.off[2],
                          (const double *)out->storage->data + it.off[3], it.istride, it.inner);
        }
    }
    return dc__set_grad(gin, 0, dc__publish(gi));
}

/* ---------------------------------------------------------------- */
/* Public ops (all t: T -> T; backward: dc__unary_backward)           */
/* ---------------------------------------------------------------- */

dc_tensor *dc_neg(dc_tensor *t) { return unary_op("dc_neg", DC_OP_NEG, t, true, 0, 0); }
dc_tensor *dc_abs(dc_tensor *t) { return unary_op("dc_abs", DC_OP_ABS, t, true, 0, 0); }
dc_tensor *dc_exp(dc_tensor *t) { return unary_op("dc_exp", DC_OP_EXP, t, false, 0, 0); }
dc_tensor *dc_log(dc_tensor *t) { return unary_op("dc_log", DC_OP_LOG, t, false, 0, 0); }
dc_tensor *dc_sqrt(dc_tensor *t) { return unary_op("dc_sqrt", DC_OP_SQRT, t, false, 0, 0); }
dc_tensor *dc_rsqrt(dc_tensor *t) { return unary_op("dc_rsqrt", DC_OP_RSQRT, t, false, 0, 0); }
dc_tensor *dc_square(dc_tensor *t) { return unary_op("dc_square", DC_OP_SQUARE, t, true, 0, 0); }
dc_tensor *dc_tanh(dc_tensor *t) { return unary_op("dc_tanh", DC_OP_TANH, t, false, 0, 0); }
dc_tensor *dc_sigmoid(dc_tensor *t) {
    return unary_op("dc_sigmoid", DC_OP_SIGMOID, t, false, 0, 0);
}
dc_tensor *dc_relu(dc_tensor *t) { return unary_op("dc_relu", DC_OP_RELU, t, true, 0, 0); }
dc_tensor *dc_silu(dc_tensor *t) { return unary_op("dc_silu", DC_OP_SILU, t, false, 0, 0); }

dc_tensor *dc_leaky_relu(dc_tensor *t, double negative_slope) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_leaky_relu", "t");
    if (!isfinite(negative_slope)) {
        dc__fail(DC_E_INVALID, "dc_leaky_relu: negative_slope must be finite, not %g",
                 negative_slope);
        return NULL;
    }
    return unary_op("dc_leaky_relu", DC_OP_LEAKY_RELU, t, false, negative_slope, 0);
}

dc_tensor *dc_gelu(dc_tensor *t, dc_gelu_approx approx) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_gelu", "t");
    if (approx != DC_GELU_EXACT && approx != DC_GELU_TANH) {
        dc__fail(DC_E_INVALID, "dc_gelu: unknown approximation %d", (int)approx);
        return NULL;
    }
    return unary_op("dc_gelu", DC_OP_GELU, t, false, approx == DC_GELU_TANH ? 1.0 : 0.0, 0);
}

dc_tensor *dc_softplus(dc_tensor *t, double beta, double threshold) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_softplus", "t");
    if (!isfinite(beta) || beta == 0.0 || isnan(threshold)) {
        dc__fail(DC_E_INVALID,
                 "dc_softplus: beta must be finite and non-zero and threshold not NaN "
                 "(got %g, %g)", beta, threshold);
        return NULL;
    }
    return unary_op("dc_softplus", DC_OP_SOFTPLUS, t, false, beta, threshold);
}

dc_tensor *dc_clamp(dc_tensor *t, double lo, double hi) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_clamp", "t");
    if (isnan(lo) || isnan(hi) || lo > hi) {
        dc__fail(DC_E_INVALID, "dc_clamp: needs lo <= hi, neither NaN (got %g, %g)", lo, hi);
        return NULL;
    }
    return unary_op("dc_clamp", DC_OP_CLAMP, t, true, lo, hi);
}
