/* Scalers and one-hot encoding.
 *
 * A scaler is fitted on (N, ...) samples: one feature per element of the
 * trailing shape, statistics over axis 0. Both kinds reduce to
 * y = x * scale[f] + shift[f], computed in double and stored in x's dtype.
 * A feature is constant when its minimum equals its maximum (tested that
 * way, not with std == 0, so rounding in the mean cannot turn a constant
 * feature into noise scaled by 1e16). */
#include "io_internal.h"

#include <math.h>
#include <string.h>

typedef enum scaler_kind { SCALER_MINMAX, SCALER_STANDARD } scaler_kind;

struct dc_scaler {
    scaler_kind kind;
    double lo, hi;           /* min-max target range */
    bool fitted;
    int ndim;                /* of the fitted x, >= 1 */
    int64_t shape[DC_MAX_DIMS];   /* trailing shape in shape[1..ndim-1] */
    int64_t features;
    double *scale;
    double *shift;
};

static dc_scaler *scaler_new(scaler_kind kind, double lo, double hi) {
    dc_scaler *s = dc__calloc(1, sizeof *s);
    if (!s) return NULL;
    s->kind = kind;
    s->lo = lo;
    s->hi = hi;
    return s;
}

dc_scaler *dc_scaler_minmax_new(double lo, double hi) {
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi)) {
        dc__fail(DC_E_INVALID, "dc_scaler_minmax_new: the range [%g, %g] is not finite and "
                 "increasing", lo, hi);
        return NULL;
    }
    return scaler_new(SCALER_MINMAX, lo, hi);
}

dc_scaler *dc_scaler_standard_new(void) { return scaler_new(SCALER_STANDARD, 0, 0); }

void dc_scaler_release(dc_scaler *s) {
    if (!s) return;
    dc__free(s->scale);
    dc__free(s->shift);
    dc__free(s);
}

/* Per-feature statistics of a contiguous (n, features) array. */
typedef struct feature_stats {
    double *min, *max, *mean, *m2;   /* m2: sum of squared deviations */
} feature_stats;

#define STATS_LOOP(T)                                                           \
    do {                                                                        \
        const T *v = data;                                                      \
        for (int64_t f = 0; f < nf; f++) {                                      \
            st->min[f] = st->max[f] = (double)v[f];                             \
            st->mean[f] = st->m2[f] = 0;                                        \
        }                                                                       \
        for (int64_t i = 0; i < n; i++)                                         \
            for (int64_t f = 0; f < nf; f++) {                                  \
                double x = (double)v[i * nf + f];                               \
                if (x < st->min[f]) st->min[f] = x;                             \
                if (x > st->max[f]) st->max[f] = x;                             \
                st->mean[f] += x;                                               \
            }                                                                   \
        for (int64_t f = 0; f < nf; f++) st->mean[f] /= (double)n;              \
        for (int64_t i = 0; i < n; i++)                                         \
            for (int64_t f = 0; f < nf; f++) {                                  \
                double d = (double)v[i * nf + f] - st->mean[f];                 \
                st->m2[f] += d * d;                                             \
            }                                                                   \
    } while (0)

static void compute_stats(const void *data, dc_dtype dtype, int64_t n, int64_t nf,
                          feature_stats *st) {
    if (dtype == DC_F32) STATS_LOOP(float);
    else STATS_LOOP(double);
}

static void set_coefficients(dc_scaler *s, const feature_stats *st, int64_t n) {
    for (int64_t f = 0; f < s->features; f++) {
        bool constant = st->min[f] == st->max[f];
        if (s->kind == SCALER_MINMAX) {
            s->scale[f] = constant ? 0.0 : (s->hi - s->lo) / (st->max[f] - st->min[f]);
            s->shift[f] = constant ? s->lo : s->lo - st->min[f] * s->scale[f];
        } else {
            double sd = sqrt(st->m2[f] / (double)n);
            s->scale[f] = constant ? 0.0 : 1.0 / sd;
            s->shift[f] = constant ? 0.0 : -st->mean[f] / sd;
        }
    }
}

static bool check_float_samples(const dc_tensor *x, const char *func) {
    if (x->dtype != DC_F32 && x->dtype != DC_F64) {
        dc__fail(DC_E_DTYPE, "%s: needs an f32 or f64 tensor, not %s (use dc_cast)", func,
                 dc_dtype_name(x->dtype));
        return false;
    }
    if (x->ndim < 1) {
        dc__fail(DC_E_SHAPE, "%s: x needs a sample axis (axis 0)", func);
        return false;
    }
    return true;
}

dc_status dc_scaler_fit(dc_scaler *s, const dc_tensor *x) {
    const char *func = "dc_scaler_fit";
    if (!s) return dc__fail(DC_E_INVALID, "%s: 's' is NULL", func);
    DC_CHECK_TENSOR_OR_STATUS(x, func, "x");
    if (!check_float_samples(x, func)) return dc_last_status();
    int64_t n = x->shape[0];
    if (n < 1) return dc__fail(DC_E_SHAPE, "%s: x has no samples", func);
    int64_t nf = x->numel / n;
    dc_tensor *c = dc__copy_contiguous(x);
    double *scale = dc__calloc((size_t)(nf ? nf : 1), sizeof *scale);
    double *shift = dc__calloc((size_t)(nf ? nf : 1), sizeof *shift);
    double *work = dc__calloc((size_t)(nf ? nf : 1), 4 * sizeof *work);
    if (!c || !scale || !shift || !work) {
        dc_release(c);
        dc__free(scale);
        dc__free(shift);
        dc__free(work);
        return DC_E_NOMEM;
    }
    feature_stats st = {work, work + nf, work + 2 * nf, work + 3 * nf};
    compute_stats(dc__tensor_data(c), c->dtype, n, nf, &st);
    dc__free(s->scale);
    dc__free(s->shift);
    s->scale = scale;
    s->shift = shift;
    s->features = nf;
    s->ndim = x->ndim;
    memcpy(s->shape, x->shape, sizeof s->shape);
    set_coefficients(s, &st, n);
    s->fitted = true;
    dc__free(work);
    dc_release(c);
    return DC_OK;
}

#define TRANSFORM_LOOP(T)                                                       \
    do {                                                                        \
        T *v = data;                                                            \
        for (int64_t i = 0; i < rows; i++)                                      \
            for (int64_t f = 0; f < nf; f++) {                                  \
                T *p = &v[i * nf + f];                                          \
                *p = (T)((double)*p * s->scale[f] + s->shift[f]);               \
            }                                                                   \
    } while (0)

/* x: (M, ...fitted trailing shape) -> the same shape and dtype. */
dc_tensor *dc_scaler_transform(const dc_scaler *s, dc_tensor *x) {
    const char *func = "dc_scaler_transform";
    if (!s) {
        dc__fail(DC_E_INVALID, "%s: 's' is NULL", func);
        return NULL;
    }
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    if (!s->fitted) {
        dc__fail(DC_E_STATE, "%s: the scaler is not fitted (call dc_scaler_fit)", func);
        return NULL;
    }
    if (!check_float_samples(x, func)) return NULL;
    if (x->ndim != s->ndim ||
        memcmp(x->shape + 1, s->shape + 1, (size_t)(x->ndim - 1) * sizeof *x->shape) != 0) {
        dc__fail(DC_E_SHAPE, "%s: x's sample shape differs from the one fitted "
                 "(%d-D samples of %lld features)", func, s->ndim - 1,
                 (long long)s->features);
        return NULL;
    }
    dc_tensor *out = dc__copy_contiguous(x);
    if (!out) return NULL;
    int64_t rows = out->shape[0], nf = s->features;
    void *data = dc__tensor_data(out);
    if (out->dtype == DC_F32) TRANSFORM_LOOP(float);
    else TRANSFORM_LOOP(double);
    return dc__publish(out);
}

/* labels: (...) integer -> (..., num_classes) of dtype. */
dc_tensor *dc_one_hot(const dc_tensor *labels, int64_t num_classes, dc_dtype dtype) {
    const char *func = "dc_one_hot";
    DC_CHECK_TENSOR_OR_NULL(labels, func, "labels");
    if (labels->dtype != DC_I32 && labels->dtype != DC_I64 && labels->dtype != DC_U8) {
        dc__fail(DC_E_DTYPE, "%s: labels must be i32, i64 or u8, not %s", func,
                 dc_dtype_name(labels->dtype));
        return NULL;
    }
    if (!dc__dtype_valid(dtype)) {
        dc__fail(DC_E_DTYPE, "%s: unknown dtype %d", func, (int)dtype);
        return NULL;
    }
    if (num_classes < 1) {
        dc__fail(DC_E_INVALID, "%s: num_classes %lld is not positive", func,
                 (long long)num_classes);
        return NULL;
    }
    if (labels->ndim >= DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "%s: labels have %d dims; the result would exceed %d", func,
                 labels->ndim, DC_MAX_DIMS);
        return NULL;
    }
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, labels->shape, (size_t)labels->ndim * sizeof *shape);
    shape[labels->ndim] = num_classes;
    dc_tensor *lab = dc__tensor_new(DC_I64, labels->ndim, labels->shape, false);
    dc_tensor *out = lab ? dc__tensor_new_for(func, dtype, labels->ndim + 1, shape, true) : NULL;
    if (!out) {
        dc_release(lab);
        return NULL;
    }
    dc__copy_elements(lab, labels);
    const int64_t *v = dc__tensor_data(lab);
    void *o = dc__tensor_data(out);
    for (int64_t i = 0; i < lab->numel; i++) {
        if (v[i] < 0 || v[i] >= num_classes) {
            dc__fail(DC_E_RANGE, "%s: label %lld (element %lld) is outside 0..%lld", func,
                     (long long)v[i], (long long)i, (long long)(num_classes - 1));
            dc_release(lab);
            dc_release(out);
            return NULL;
        }
        dc__store(o, dtype, i * num_classes + v[i], 1.0);
    }
    dc_release(lab);
    return dc__publish(out);
}
