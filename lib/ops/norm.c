/* Batch and layer normalisation, composed of differentiable public ops
 * (mean, var, rsqrt, mul, add), so autodiff needs no backward of their
 * own. Intermediates live in a private scope; the result is retained past
 * it and published to the caller's. */
#include "../core/internal.h"
#include "op_util.h"

#include <math.h>
#include <stdio.h>

/* An optional tensor argument: NULL is fine, anything else must be live. */
static bool optional_ok(const dc_tensor *t, const char *func, const char *arg) {
    if (t == NULL || dc__is_tensor(t)) return true;
    dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor", func, arg);
    return false;
}

/* "(3, 4)" into buf. */
static const char *shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, ")");
    return buf;
}

/* An optional parameter tensor: NULL, or x's dtype and shape (ndim, shape). */
static bool param_ok(const dc_tensor *p, const dc_tensor *x, int ndim, const int64_t *shape,
                     const char *func, const char *arg) {
    if (p == NULL) return true;
    if (p->dtype != x->dtype) {
        dc__fail(DC_E_DTYPE, "%s: '%s' is %s, the input %s", func, arg, dc_dtype_name(p->dtype),
                 dc_dtype_name(x->dtype));
        return false;
    }
    bool same = p->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = p->shape[i] == shape[i];
    if (!same) {
        char want[128], got[128];
        dc__fail(DC_E_SHAPE, "%s: '%s' has shape %s, wanted %s", func, arg,
                 shape_str(got, sizeof got, p->ndim, p->shape),
                 shape_str(want, sizeof want, ndim, shape));
        return false;
    }
    return true;
}

/* y * weight + bias, either of which may be NULL (shapes broadcast). */
static dc_tensor *affine(dc_tensor *y, dc_tensor *weight, dc_tensor *bias) {
    if (weight) y = dc_mul(y, weight);
    if (bias) y = dc_add(y, bias);
    return y;
}

/* ---------------------------------------------------------------- */
/* batch_norm                                                        */
/* ---------------------------------------------------------------- */

#define BN "dc_batch_norm"

static bool batch_norm_args_ok(dc_tensor *x, dc_tensor *rm, dc_tensor *rv, dc_tensor *w,
                               dc_tensor *b, int training, double momentum, double eps) {
    if (!optional_ok(rm, BN, "running_mean") || !optional_ok(rv, BN, "running_var") ||
        !optional_ok(w, BN, "weight") || !optional_ok(b, BN, "bias"))
        return false;
    if (!dc__require_float(x, BN)) return false;
    if (x->ndim < 2) {
        dc__fail(DC_E_SHAPE, BN ": input must be (N, C) or (N, C, ...), not %d-D", x->ndim);
        return false;
    }
    if ((rm == NULL) != (rv == NULL)) {
        dc__fail(DC_E_INVALID, BN ": give both running_mean and running_var, or neither");
        return false;
    }
    if (!training && rm == NULL) {
        dc__fail(DC_E_INVALID, BN ": evaluation mode needs running_mean and running_var");
        return false;
    }
    if (!(eps >= 0.0) || !isfinite(eps) || !isfinite(momentum)) {
        dc__fail(DC_E_INVALID, BN ": eps (%g) must be >= 0 and momentum (%g) finite", eps,
                 momentum);
        return false;
    }
    const int64_t *c = &x->shape[1];
    if (!param_ok(rm, x, 1, c, BN, "running_mean") || !param_ok(rv, x, 1, c, BN, "running_var") ||
        !param_ok(w, x, 1, c, BN, "weight") || !param_ok(b, x, 1, c, BN, "bias"))
        return false;
    int64_t per_channel = x->shape[1] > 0 ? x->numel / x->shape[1] : 0;
    if (training && per_channel == 1) {
        dc__fail(DC_E_INVALID, BN ": training needs more than 1 value per channel "
                 "(input of %d dims, %lld values per channel)", x->ndim,
                 (long long)per_channel);
        return false;
    }
    return true;
}

/* stat (1, C, 1...) -> (C), a no-grad copy. */
static dc_tensor *channel_vector(dc_tensor *stat) {
    int64_t c = stat->shape[1];
    return dc_reshape(dc_detach(stat), 1, &c);
}

/* running = (1 - momentum) running + momentum batch_stat, written in place
 * without recording (the buffers are state, not part of the graph). */
static dc_status update_running(dc_tensor *running, dc_tensor *batch_stat, double momentum) {
    int prev = dc_set_grad_enabled(0);
    dc_tensor *next = dc_add(dc_mul_scalar(running, 1.0 - momentum),
                             dc_mul_scalar(channel_vector(batch_stat), momentum));
    dc_set_grad_enabled(prev);
    if (!next) return dc_last_status();
    dc__copy_elements(running, next);
    dc__bump_version(running);
    return DC_OK;
}

/* x: (N, C, ...) -> (N, C, ...); running stats, weight, bias: (C) or NULL.
 * Runs inside a scope of the caller (dc_batch_norm's). */
static dc_tensor *batch_norm_scoped(dc_tensor *x, dc_tensor *rm, dc_tensor *rv, dc_tensor *w,
                                    dc_tensor *b, int training, double momentum, double eps) {
    int axes[DC_MAX_DIMS];
    int naxes = 0;
    int64_t bshape[DC_MAX_DIMS];            /* (1, C, 1, ...) */
    for (int i = 0; i < x->ndim; i++) {
        bshape[i] = i == 1 ? x->shape[1] : 1;
        if (i != 1) axes[naxes++] = i;
    }
    dc_tensor *wb = w ? dc_reshape(w, x->ndim, bshape) : NULL;
    dc_tensor *bb = b ? dc_reshape(b, x->ndim, bshape) : NULL;
    if ((w && !wb) || (b && !bb)) return NULL;

    if (!training) {
        dc_tensor *mean = dc_reshape(rm, x->ndim, bshape);
        dc_tensor *inv = dc_rsqrt(dc_add_scalar(dc_reshape(rv, x->ndim, bshape), eps));
        return affine(dc_mul(dc_sub(x, mean), inv), wb, bb);
    }
    dc_tensor *mean = dc_mean(x, axes, naxes, 1);
    dc_tensor *var = dc_var(x, axes, naxes, 0, 1);
    dc_tensor *y = affine(dc_mul(dc_sub(x, mean), dc_rsqrt(dc_add_scalar(var, eps))), wb, bb);
    if (!y) return NULL;
    int64_t count = x->shape[1] > 0 ? x->numel / x->shape[1] : 0;
    if (rm && count > 0) {
        /* running_var gets the unbiased variance, as PyTorch */
        double unbias = (double)count / (double)(count - 1);
        dc_tensor *var_unbiased = dc_mul_scalar(dc_detach(var), unbias);
        if (!var_unbiased || update_running(rm, mean, momentum) != DC_OK ||
            update_running(rv, var_unbiased, momentum) != DC_OK)
            return NULL;
    }
    return y;
}

dc_tensor *dc_batch_norm(dc_tensor *x, dc_tensor *running_mean, dc_tensor *running_var,
                         dc_tensor *weight, dc_tensor *bias, int training, double momentum,
                         double eps) {
    DC_CHECK_TENSOR_OR_NULL(x, BN, "x");
    if (!batch_norm_args_ok(x, running_mean, running_var, weight, bias, training, momentum, eps))
        return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *y = dc_retain(batch_norm_scoped(x, running_mean, running_var, weight, bias,
                                               training, momentum, eps));
    dc_scope_end(scope);
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* layer_norm                                                        */
/* ---------------------------------------------------------------- */

#define LN "dc_layer_norm"

/* x: (..., D1..Dk) with k = normalized_ndim; weight, bias: (D1..Dk) or
 * NULL -> x's shape. Biased variance, eps inside the square root. */
dc_tensor *dc_layer_norm(dc_tensor *x, int normalized_ndim, dc_tensor *weight, dc_tensor *bias,
                         double eps) {
    DC_CHECK_TENSOR_OR_NULL(x, LN, "x");
    if (!optional_ok(weight, LN, "weight") || !optional_ok(bias, LN, "bias")) return NULL;
    if (!dc__require_float(x, LN)) return NULL;
    if (normalized_ndim < 1 || normalized_ndim > x->ndim) {
        dc__fail(DC_E_RANGE, LN ": normalized_ndim %d is out of range 1..%d for a %d-D input",
                 normalized_ndim, x->ndim, x->ndim);
        return NULL;
    }
    if (!(eps >= 0.0) || !isfinite(eps)) {
        dc__fail(DC_E_INVALID, LN ": eps (%g) must be finite and >= 0", eps);
        return NULL;
    }
    const int64_t *tail = x->shape + (x->ndim - normalized_ndim);
    if (!param_ok(weight, x, normalized_ndim, tail, LN, "weight") ||
        !param_ok(bias, x, normalized_ndim, tail, LN, "bias"))
        return NULL;
    int axes[DC_MAX_DIMS];
    for (int i = 0; i < normalized_ndim; i++) axes[i] = x->ndim - normalized_ndim + i;

    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *mean = dc_mean(x, axes, normalized_ndim, 1);
    dc_tensor *var = dc_var(x, axes, normalized_ndim, 0, 1);
    dc_tensor *y = dc_mul(dc_sub(x, mean), dc_rsqrt(dc_add_scalar(var, eps)));
    y = dc_retain(affine(y, weight, bias));
    dc_scope_end(scope);
    return dc__publish(y);
}
