/* Gradient clipping, as torch.nn.utils.clip_grad_norm_ and
 * clip_grad_value_ of PyTorch 1.13. Norms are accumulated in double for
 * every gradient dtype. */
#include "../core/internal.h"

#include <math.h>
#include <string.h>

static dc_status check_params(dc_tensor *const *params, int n, const char *func) {
    if (n < 0) return dc__fail(DC_E_INVALID, "%s: n must be >= 0, not %d", func, n);
    if (n > 0 && params == NULL) return dc__fail(DC_E_INVALID, "%s: 'params' is NULL", func);
    for (int i = 0; i < n; i++) {
        if (!dc__is_tensor(params[i]))
            return dc__fail(DC_E_INVALID, "%s: params[%d] is %s", func, i,
                            params[i] ? "not a live tensor" : "NULL");
        /* a gradient listed twice would be counted and scaled twice */
        for (int j = 0; j < i; j++)
            if (params[j] == params[i])
                return dc__fail(DC_E_INVALID, "%s: params[%d] and params[%d] are the same "
                                              "tensor", func, j, i);
        const dc_tensor *g = params[i]->grad;
        if (g && g->dtype != DC_F32 && g->dtype != DC_F64)
            return dc__fail(DC_E_DTYPE, "%s: the gradient of params[%d] is %s", func, i,
                            dc_dtype_name(g->dtype));
    }
    return DC_OK;
}

static void iter_over(dc_iter *it, const dc_tensor *t) {
    int64_t strides[1][DC_MAX_DIMS];
    memcpy(strides[0], t->strides, sizeof t->strides);
    dc__iter_init(it, t->ndim, t->shape, 1, strides, &t->offset);
}

/* Adds one element's share to a norm accumulator: max |x| for p = inf
 * (NaN wins, as torch.max), else sum |x|^p. */
static inline double norm_acc(double acc, double x, double p) {
    double a = fabs(x);
    if (isinf(p)) return (isnan(a) || a > acc) ? a : acc;
    if (p == 2.0) return acc + a * a;
    if (p == 1.0) return acc + a;
    return acc + pow(a, p);
}

static double norm_finish(double acc, double p) {
    if (isinf(p) || p == 1.0) return acc;
    if (p == 2.0) return sqrt(acc);
    return pow(acc, 1.0 / p);
}

/* torch.norm(g, p) */
static double tensor_norm(const dc_tensor *g, double p) {
    double acc = 0.0;
    dc_iter it;
    iter_over(&it, g);
    while (dc__iter_next(&it)) {
        if (g->dtype == DC_F32) {
            const float *d = (const float *)g->storage->data + it.off[0];
            for (int64_t i = 0; i < it.inner; i++) acc = norm_acc(acc, d[i * it.istride[0]], p);
        } else {
            const double *d = (const double *)g->storage->data + it.off[0];
            for (int64_t i = 0; i < it.inner; i++) acc = norm_acc(acc, d[i * it.istride[0]], p);
        }
    }
    return norm_finish(acc, p);
}

static void scale_in_place(dc_tensor *g, double factor) {
    dc_iter it;
    iter_over(&it, g);
    while (dc__iter_next(&it)) {
        if (g->dtype == DC_F32) {
            float *d = (float *)g->storage->data + it.off[0];
            const float f = (float)factor;
            for (int64_t i = 0; i < it.inner; i++) d[i * it.istride[0]] *= f;
        } else {
            double *d = (double *)g->storage->data + it.off[0];
            for (int64_t i = 0; i < it.inner; i++) d[i * it.istride[0]] *= factor;
        }
    }
    dc__bump_version(g);
}

dc_status dc_clip_grad_norm(dc_tensor *const *params, int n, double max_norm, double norm_type,
                            double *total_norm) {
    const char *f = "dc_clip_grad_norm";
    dc_status st = check_params(params, n, f);
    if (st != DC_OK) return st;
    if (!(max_norm >= 0.0))
        return dc__fail(DC_E_INVALID, "%s: max_norm must be >= 0, not %g", f, max_norm);
    if (!(norm_type > 0.0))
        return dc__fail(DC_E_INVALID, "%s: norm_type must be > 0 (or INFINITY), not %g", f,
                        norm_type);
    /* total = norm of the per-gradient norms, as PyTorch stacks them */
    double acc = 0.0;
    int with_grad = 0;
    for (int i = 0; i < n; i++) {
        const dc_tensor *g = params[i]->grad;
        if (!g) continue;
        acc = norm_acc(acc, tensor_norm(g, norm_type), norm_type);
        with_grad++;
    }
    double total = norm_finish(acc, norm_type);
    if (with_grad > 0) {
        double coef = max_norm / (total + 1e-6);
        if (coef > 1.0) coef = 1.0;        /* torch.clamp(max=1): NaN stays */
        for (int i = 0; i < n; i++)
            if (params[i]->grad) scale_in_place(params[i]->grad, coef);
    }
    if (total_norm) *total_norm = total;
    return DC_OK;
}

static void clamp_in_place(dc_tensor *g, double c) {
    dc_iter it;
    iter_over(&it, g);
    while (dc__iter_next(&it)) {
        if (g->dtype == DC_F32) {
            float *d = (float *)g->storage->data + it.off[0];
            const float hi = (float)c, lo = -hi;
            for (int64_t i = 0; i < it.inner; i++) {
                float *x = &d[i * it.istride[0]];
                *x = *x < lo ? lo : *x > hi ? hi : *x;    /* NaN stays */
            }
        } else {
            double *d = (double *)g->storage->data + it.off[0];
            for (int64_t i = 0; i < it.inner; i++) {
                double *x = &d[i * it.istride[0]];
                *x = *x < -c ? -c : *x > c ? c : *x;
            }
        }
    }
    dc__bump_version(g);
}

dc_status dc_clip_grad_value(dc_tensor *const *params, int n, double clip_value) {
    const char *f = "dc_clip_grad_value";
    dc_status st = check_params(params, n, f);
    if (st != DC_OK) return st;
    if (!(clip_value >= 0.0))
        return dc__fail(DC_E_INVALID, "%s: clip_value must be >= 0, not %g", f, clip_value);
    for (int i = 0; i < n; i++)
        if (params[i]->grad) clamp_in_place(params[i]->grad, clip_value);
    return DC_OK;
}
