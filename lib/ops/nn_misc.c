/* Dropout, embedding lookup, scaled dot-product attention. All three are
 * composed of differentiable public ops (mul, index_select, matmul,
 * softmax, where), so autodiff needs no backward of their own. */
#include "../core/internal.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* dropout                                                           */
/* ---------------------------------------------------------------- */

/* A tensor of x's shape and dtype holding 0 (probability p) or scale,
 * drawn in row-major order from rng. Owned by the caller. */
static dc_tensor *dropout_mask(const dc_tensor *x, double p, double scale, dc_rng *rng) {
    dc_tensor *mask = dc__tensor_new(x->dtype, x->ndim, x->shape, false);
    if (!mask) return NULL;
    if (x->dtype == DC_F32) {
        float *m = dc__tensor_data(mask);
        float keep = (float)scale;
        for (int64_t i = 0; i < mask->numel; i++) m[i] = dc__rng_uniform(rng) < p ? 0.0f : keep;
    } else {
        double *m = dc__tensor_data(mask);
        for (int64_t i = 0; i < mask->numel; i++) m[i] = dc__rng_uniform(rng) < p ? 0.0 : scale;
    }
    return mask;
}

/* x: (...) -> (...); y = x * mask, mask in {0, 1/(1-p)} (all 0 when p = 1,
 * so an infinite input gives NaN there, as x * 0 does). */
dc_tensor *dc_dropout(dc_tensor *x, double p, int training, dc_rng *rng) {
    DC_CHECK_TENSOR_OR_NULL(x, "dc_dropout", "x");
    if (!dc__require_float(x, "dc_dropout")) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        dc__fail(DC_E_INVALID, "dc_dropout: p must be in [0, 1], not %g", p);
        return NULL;
    }
    if (!training || p == 0.0) return dc__publish(dc_retain(x));
    dc_tensor *mask = dropout_mask(x, p, p < 1.0 ? 1.0 / (1.0 - p) : 0.0,
                                   rng ? rng : dc__thread_rng());
    if (!mask) return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) {
        dc_release(mask);
        return NULL;
    }
    dc_tensor *y = dc_retain(dc_mul(x, mask));
    dc_scope_end(scope);
    dc_release(mask);
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* embedding                                                         */
/* ---------------------------------------------------------------- */

/* The indices as a contiguous 1-D i64 tensor (owned), each checked to lie
 * in 0..num-1. */
static dc_tensor *flat_indices(const dc_tensor *indices, int64_t num) {
    dc_tensor *idx = dc__tensor_new(DC_I64, indices->ndim, indices->shape, false);
    if (!idx) return NULL;
    dc__copy_elements(idx, indices);
    const int64_t *v = dc__tensor_data(idx);
    for (int64_t k = 0; k < idx->numel; k++) {
        if (v[k] < 0 || v[k] >= num) {
            dc__fail(DC_E_RANGE, "dc_embedding: index %lld is out of range for %lld embeddings",
                     (long long)v[k], (long long)num);
            dc_release(idx);
            return NULL;
        }
    }
    int64_t n = idx->numel;
    dc_tensor *flat = dc__tensor_view(idx, 1, &n, (const int64_t[]){1}, 0);
    dc_release(idx);
    return flat;
}

/* weight: (num, dim), indices: (...) -> (..., dim). The gradient reaches
 * weight through index_select, which adds up repeated rows. */
dc_tensor *dc_embedding(dc_tensor *weight, const dc_tensor *indices) {
    DC_CHECK_TENSOR_OR_NULL(weight, "dc_embedding", "weight");
    DC_CHECK_TENSOR_OR_NULL(indices, "dc_embedding", "indices");
    if (indices->dtype != DC_I32 && indices->dtype != DC_I64) {
        dc__fail(DC_E_DTYPE, "dc_embedding: indices must be i32 or i64, not %s",
                 dc_dtype_name(indices->dtype));
        return NULL;
    }
    if (weight->ndim != 2) {
        dc__fail(DC_E_SHAPE, "dc_embedding: weight must be 2-D (num, dim), not %d-D",
                 weight->ndim);
        return NULL;
    }
    if (indices->ndim + 1 > DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "dc_embedding: %d-D indices give more than %d dims",
                 indices->ndim, DC_MAX_DIMS);
        return NULL;
    }
    dc_tensor *flat = flat_indices(indices, weight->shape[0]);
    if (!flat) return NULL;
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, indices->shape, (size_t)indices->ndim * sizeof *shape);
    shape[indices->ndim] = weight->shape[1];
    dc_scope *scope = dc_scope_begin();
    dc_tensor *y = NULL;
    if (scope) {
        y = dc_retain(dc_reshape(dc_index_select(weight, 0, flat), indices->ndim + 1, shape));
        dc_scope_end(scope);
    }
    dc_release(flat);
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* scaled dot-product attention                                      */
/* ---------------------------------------------------------------- */

#define SDPA "dc_scaled_dot_product_attention"

static bool attention_args_ok(const dc_tensor *q, const dc_tensor *k, const dc_tensor *v,
                              const dc_tensor *mask, double scale) {
    if (mask && !dc__is_tensor(mask)) {
        dc__fail(DC_E_INVALID, SDPA ": 'mask' is not a live tensor");
        return false;
    }
    if (!dc__require_float(q, SDPA) || !dc__require_same_dtype(q, k, SDPA) ||
        !dc__require_same_dtype(q, v, SDPA))
        return false;
    if (q->ndim < 2 || k->ndim < 2 || v->ndim < 2) {
        dc__fail(DC_E_SHAPE, SDPA ": q, k and v need at least 2 dims (..., L, E), got %d, %d "
                 "and %d", q->ndim, k->ndim, v->ndim);
        return false;
    }
    int64_t e = q->shape[q->ndim - 1];
    if (k->shape[k->ndim - 1] != e) {
        dc__fail(DC_E_SHAPE, SDPA ": q has %lld features, k %lld", (long long)e,
                 (long long)k->shape[k->ndim - 1]);
        return false;
    }
    if (v->shape[v->ndim - 2] != k->shape[k->ndim - 2]) {
        dc__fail(DC_E_SHAPE, SDPA ": k has %lld positions, v %lld",
                 (long long)k->shape[k->ndim - 2], (long long)v->shape[v->ndim - 2]);
        return false;
    }
    if (mask && mask->dtype != DC_BOOL && mask->dtype != q->dtype) {
        dc__fail(DC_E_DTYPE, SDPA ": mask must be bool or %s like q, not %s",
                 dc_dtype_name(q->dtype), dc_dtype_name(mask->dtype));
        return false;
    }
    if (isnan(scale) || isinf(scale)) {
        dc__fail(DC_E_INVALID, SDPA ": scale must be finite, not %g", scale);
        return false;
    }
    return true;
}

/* True when mask broadcasts to scores' shape without growing it. */
static bool mask_fits(const dc_tensor *mask, const dc_tensor *scores) {
    int nd;
    int64_t shape[DC_MAX_DIMS];
    if (dc__broadcast_shapes(mask->ndim, mask->shape, scores->ndim, scores->shape, &nd, shape) ==
            DC_OK &&
        nd == scores->ndim && memcmp(shape, scores->shape, (size_t)nd * sizeof *shape) == 0)
        return true;
    dc__fail(DC_E_SHAPE, SDPA ": the mask (%d-D) does not broadcast to the scores (..., %lld, "
             "%lld)", mask->ndim, (long long)scores->shape[scores->ndim - 2],
             (long long)scores->shape[scores->ndim - 1]);
    return false;
}

/* (L, S) bool, true where j <= i. */
static dc_tensor *causal_mask(int64_t l, int64_t s) {
    dc_tensor *m = dc__tensor_new(DC_BOOL, 2, (const int64_t[]){l, s}, false);
    if (!m) return NULL;
    uint8_t *d = dc__tensor_data(m);
    for (int64_t i = 0; i < l; i++)
        for (int64_t j = 0; j < s; j++) d[i * s + j] = j <= i;
    return dc__publish(m);
}

/* scores with the positions where keep is false set to -inf. */
static dc_tensor *mask_out(dc_tensor *scores, dc_tensor *keep) {
    return dc_where(keep, scores, dc_scalar(scores->dtype, -INFINITY));
}

/* q: (..., L, E), k: (..., S, E), v: (..., S, Ev), mask broadcastable to
 * (..., L, S) -> (..., L, Ev); batch axes broadcast as in matmul. A row
 * whose every position is masked out gives NaN (softmax of only -inf), as
 * PyTorch does. Runs inside dc_scaled_dot_product_attention's scope. */
static dc_tensor *attention_scoped(dc_tensor *q, dc_tensor *k, dc_tensor *v, dc_tensor *mask,
                                   int causal, double scale) {
    dc_tensor *raw = dc_matmul(q, dc_transpose(k, -2, -1));
    if (!mask && raw && raw->dtype == DC_F32 && raw->ndim >= 2 && dc__tensor_is_contiguous(raw))
        /* scale, causal mask and softmax in one op */
        return dc_matmul(dc__softmax_attention(raw, scale, causal != 0), v);
    dc_tensor *scores = dc_mul_scalar(raw, scale);
    if (!scores) return NULL;
    if (mask) {
        if (!mask_fits(mask, scores)) return NULL;
        scores = mask->dtype == DC_BOOL ? mask_out(scores, mask) : dc_add(scores, mask);
        if (!scores) return NULL;
    }
    if (causal)
        scores = mask_out(scores, causal_mask(q->shape[q->ndim - 2], k->shape[k->ndim - 2]));
    return dc_matmul(dc_softmax(scores, -1), v);
}

dc_tensor *dc_scaled_dot_product_attention(dc_tensor *q, dc_tensor *k, dc_tensor *v,
                                           dc_tensor *mask, int causal, double scale) {
    DC_CHECK_TENSOR_OR_NULL(q, SDPA, "q");
    DC_CHECK_TENSOR_OR_NULL(k, SDPA, "k");
    DC_CHECK_TENSOR_OR_NULL(v, SDPA, "v");
    if (!attention_args_ok(q, k, v, mask, scale)) return NULL;
    int64_t e = q->shape[q->ndim - 1];
    if (scale <= 0.0) scale = e > 0 ? 1.0 / sqrt((double)e) : 1.0;   /* E = 0: scores are 0 */
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *y = dc_retain(attention_scoped(q, k, v, mask, causal, scale));
    dc_scope_end(scope);
    return dc__publish(y);
}
