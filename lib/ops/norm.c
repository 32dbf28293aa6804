/* Batch and layer normalisation. Batch norm is composed of differentiable
 * public ops (mean, var, rsqrt, mul, add), so autodiff needs no backward
 * of its own; intermediates live in a private scope, the result is
 * retained past it and published to the caller's. Layer norm, on every
 * token of a transformer, is one fused op (DC_OP_LAYER_NORM): one pass
 * for the statistics and the output, one for the gradients, and only the
 * per-row mean and 1/std kept for the backward. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "fastmath.h"
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

/* x: rows x d (contiguous); w, b: d or NULL. Writes y and, per row, the
 * mean and 1/sqrt(var + eps) into stats (2 doubles a row). Sums run in
 * double. */
#define DEFINE_LN_KERNELS(T, SUF)                                                    \
    static void ln_forward_##SUF(const T *x, const T *w, const T *b, int64_t rows,   \
                                 int64_t d, double eps, T *y, double *stats) {       \
        for (int64_t r = 0; r < rows; r++) {                                         \
            const T *xr = x + r * d;                                                 \
            T *yr = y + r * d;                                                       \
            double sum = 0.0, sq = 0.0;                                              \
            for (int64_t j = 0; j < d; j++) sum += xr[j];                            \
            double mean = sum / (double)d;                                           \
            for (int64_t j = 0; j < d; j++) {                                        \
                double c = (double)xr[j] - mean;                                     \
                sq += c * c;                                                         \
            }                                                                        \
            double rstd = 1.0 / sqrt(sq / (double)d + eps);                          \
            stats[2 * r] = mean;                                                     \
            stats[2 * r + 1] = rstd;                                                 \
            T m = (T)mean, s = (T)rstd;                                              \
            if (w && b)                                                              \
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * s * w[j] + b[j];  \
            else if (w)                                                              \
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * s * w[j];      \
            else if (b)                                                              \
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * s + b[j];      \
            else                                                                     \
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * s;             \
        }                                                                            \
    }                                                                                \
    /* xhat = (x - mean) rstd, gxhat = g w:                                         \
     * gx = rstd (gxhat - mean(gxhat) - xhat mean(gxhat xhat)),                     \
     * gw += g xhat and gb += g summed over rows (gw, gb zeroed, may be NULL) */    \
    static void ln_backward_##SUF(const T *x, const T *w, const T *g,                \
                                  const double *stats, int64_t rows, int64_t d,      \
                                  T *gx, T *gw, T *gb) {                             \
        for (int64_t r = 0; r < rows; r++) {                                         \
            const T *xr = x + r * d, *gr = g + r * d;                                \
            T m = (T)stats[2 * r], s = (T)stats[2 * r + 1];                          \
            double sum_g = 0.0, sum_gx = 0.0;                                        \
            for (int64_t j = 0; j < d; j++) {                                        \
                T xhat = (xr[j] - m) * s, gh = w ? gr[j] * w[j] : gr[j];             \
                sum_g += gh;                                                         \
                sum_gx += gh * xhat;                                                 \
                if (gw) gw[j] += gr[j] * xhat;                                       \
                if (gb) gb[j] += gr[j];                                              \
            }                                                                        \
            if (!gx) continue;                                                       \
            T mg = (T)(sum_g / (double)d), mgx = (T)(sum_gx / (double)d);            \
            T *gxr = gx + r * d;                                                     \
            for (int64_t j = 0; j < d; j++) {                                        \
                T xhat = (xr[j] - m) * s, gh = w ? gr[j] * w[j] : gr[j];             \
                gxr[j] = s * (gh - mg - xhat * mgx);                                 \
            }                                                                        \
        }                                                                            \
    }
DEFINE_LN_KERNELS(double, f64)   /* f32 has its own loops below */

/* f32 layer norm, the hot path of transformers: the same math as the
 * kernels above, with each row's sums in 8 partial double sums (a loop
 * that vectorises; a single running sum cannot be reordered), and the
 * rows cut into blocks that run on the library's threads. The blocks
 * depend on the shape only, never on the thread count, so the results
 * are the same bits with any number of threads. */
#define LN_BLOCK_ELEMS ((int64_t)1 << 15)
#define LN_MAX_BLOCKS 64

static int64_t ln_block_rows(int64_t rows, int64_t d) {
    int64_t per = LN_BLOCK_ELEMS / (d > 0 ? d : 1);
    int64_t spread = (rows + LN_MAX_BLOCKS - 1) / LN_MAX_BLOCKS;
    if (per < spread) per = spread;
    return per > 0 ? per : 1;
}

static inline double sum8_f32(const float *v, int64_t n) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)v[i + k];
    double s = 0.0;
    for (; i < n; i++) s += (double)v[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

static inline double sqdev8_f32(const float *v, int64_t n, double mean) {
    double acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double c = (double)v[i + k] - mean;
            acc[k] += c * c;
        }
    double s = 0.0;
    for (; i < n; i++) {
        double c = (double)v[i] - mean;
        s += c * c;
    }
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

DC_VEC_CLONES_FMA static void ln_rows_f32(const float *x, const float *w, const float *b,
                                      int64_t lo, int64_t hi, int64_t d, double eps, float *y,
                                      double *stats) {
    for (int64_t r = lo; r < hi; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double mean = sum8_f32(xr, d) / (double)d;
        double rstd = 1.0 / sqrt(sqdev8_f32(xr, d, mean) / (double)d + eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
        float m = (float)mean, s = (float)rstd;
        for (int64_t j = 0; j < d; j++) {
            float v = (xr[j] - m) * s;
            if (w) v *= w[j];
            yr[j] = b ? v + b[j] : v;
        }
    }
}

/* Rows lo..hi-1 of the backward; gw, gb: this block's own sums (zeroed)
 * or NULL. */
DC_VEC_CLONES_FMA static void ln_back_rows_f32(const float *x, const float *w, const float *g,
                                           const double *stats, int64_t lo, int64_t hi,
                                           int64_t d, float *gx, float *gw, float *gb) {
    for (int64_t r = lo; r < hi; r++) {
        const float *xr = x + r * d, *gr = g + r * d;
        float m = (float)stats[2 * r], s = (float)stats[2 * r + 1];
        double acc_g[8] = {0}, acc_gx[8] = {0};
        double sum_g = 0.0, sum_gx = 0.0;
        int64_t j = 0;
        for (; j + 8 <= d; j += 8)
            for (int k = 0; k < 8; k++) {
                float xhat = (xr[j + k] - m) * s, gh = w ? gr[j + k] * w[j + k] : gr[j + k];
                acc_g[k] += (double)gh;
                acc_gx[k] += (double)(gh * xhat);
            }
        for (; j < d; j++) {
            float xhat = (xr[j] - m) * s, gh = w ? gr[j] * w[j] : gr[j];
            sum_g += (double)gh;
            sum_gx += (double)(gh * xhat);
        }
        for (int k = 0; k < 8; k++) {
            sum_g += acc_g[k];
            sum_gx += acc_gx[k];
        }
        if (gw)
            for (j = 0; j < d; j++) gw[j] += gr[j] * ((xr[j] - m) * s);
        if (gb)
            for (j = 0; j < d; j++) gb[j] += gr[j];
        if (!gx) continue;
        float mg = (float)(sum_g / (double)d), mgx = (float)(sum_gx / (double)d);
        float *gxr = gx + r * d;
        for (j = 0; j < d; j++) {
            float xhat = (xr[j] - m) * s, gh = w ? gr[j] * w[j] : gr[j];
            gxr[j] = s * (gh - mg - xhat * mgx);
        }
    }
}

typedef struct ln_job {
    const float *x, *w, *b, *g;
    float *y, *gx, *gw_parts, *gb_parts;   /* parts: one row of d per block */
    double *stats;
    double eps;
    int64_t rows, d, block_rows;
} ln_job;

static void ln_forward_block(void *ctx, int64_t blk, int slot) {
    (void)slot;
    const ln_job *j = ctx;
    int64_t lo = blk * j->block_rows, hi = lo + j->block_rows < j->rows ? lo + j->block_rows
                                                                       : j->rows;
    ln_rows_f32(j->x, j->w, j->b, lo, hi, j->d, j->eps, j->y, j->stats);
}

static void ln_backward_block(void *ctx, int64_t blk, int slot) {
    (void)slot;
    const ln_job *j = ctx;
    int64_t lo = blk * j->block_rows, hi = lo + j->block_rows < j->rows ? lo + j->block_rows
                                                                       : j->rows;
    ln_back_rows_f32(j->x, j->w, j->g, j->stats, lo, hi, j->d, j->gx,
                     j->gw_parts ? j->gw_parts + blk * j->d : NULL,
                     j->gb_parts ? j->gb_parts + blk * j->d : NULL);
}

static void ln_run_blocks(dc__chunk_fn fn, ln_job *j) {
    int64_t blocks = (j->rows + j->block_rows - 1) / j->block_rows;
    if (blocks > 1) dc__parallel_for(fn, j, blocks, (int)blocks);
    else if (blocks == 1) fn(j, 0, 0);
}

static void ln_forward_f32_par(const float *x, const float *w, const float *b, int64_t rows,
                               int64_t d, double eps, float *y, double *stats) {
    ln_job j = {.x = x, .w = w, .b = b, .y = y, .stats = stats, .eps = eps, .rows = rows,
                .d = d, .block_rows = ln_block_rows(rows, d)};
    ln_run_blocks(ln_forward_block, &j);
}

/* gw, gb (zeroed, or NULL) get the sums of the blocks' parts, in block
 * order. */
static dc_status ln_backward_f32_par(const float *x, const float *w, const float *g,
                                     const double *stats, int64_t rows, int64_t d, float *gx,
                                     float *gw, float *gb) {
    int64_t block_rows = ln_block_rows(rows, d);
    int64_t blocks = (rows + block_rows - 1) / block_rows;
    int64_t nparts = (gw ? 1 : 0) + (gb ? 1 : 0);
    float *parts = nparts ? dc__calloc((size_t)(nparts * blocks * d), sizeof(float)) : NULL;
    if (nparts && !parts) return dc_last_status();
    ln_job j = {.x = x, .w = w, .g = g, .gx = gx, .stats = (double *)stats, .rows = rows,
                .d = d, .block_rows = block_rows};
    j.gw_parts = gw ? parts : NULL;
    j.gb_parts = gb ? parts + (gw ? blocks * d : 0) : NULL;
    ln_run_blocks(ln_backward_block, &j);
    for (int64_t blk = 0; blk < blocks; blk++)
        for (int64_t c = 0; c < d; c++) {
            if (gw) gw[c] += j.gw_parts[blk * d + c];
            if (gb) gb[c] += j.gb_parts[blk * d + c];
        }
    dc__free(parts);
    return DC_OK;
}

/* x: (..., D1..Dk), k = normalized_ndim; weight, bias: (D1..Dk) or NULL
 * -> x's shape. Records DC_OP_LAYER_NORM with inputs x, [weight], [bias]
 * (iparams: k, has weight, has bias) and the row statistics (f64,
 * (rows, 2)) in node->saved. */
static dc_tensor *layer_norm_fused(dc_tensor *x, int normalized_ndim, dc_tensor *weight,
                                   dc_tensor *bias, double eps) {
    int64_t d = 1;
    for (int i = x->ndim - normalized_ndim; i < x->ndim; i++) d *= x->shape[i];
    int64_t rows = d > 0 ? x->numel / d : 0;
    dc_tensor *xc = dc__contiguous_ref(x), *wc = dc__contiguous_ref(weight);
    dc_tensor *bc = dc__contiguous_ref(bias);
    dc_tensor *out = dc__tensor_new(x->dtype, x->ndim, x->shape, false);
    dc_tensor *stats = dc__tensor_new(DC_F64, 2, (const int64_t[]){rows, 2}, false);
    bool ok = xc && out && stats && (!weight || wc) && (!bias || bc);
    if (ok && x->numel > 0) {
        if (x->dtype == DC_F32)
            ln_forward_f32_par(dc__tensor_data(xc), wc ? dc__tensor_data(wc) : NULL,
                               bc ? dc__tensor_data(bc) : NULL, rows, d, eps,
                               dc__tensor_data(out), dc__tensor_data(stats));
        else
            ln_forward_f64(dc__tensor_data(xc), wc ? dc__tensor_data(wc) : NULL,
                           bc ? dc__tensor_data(bc) : NULL, rows, d, eps, dc__tensor_data(out),
                           dc__tensor_data(stats));
    }
    dc_release(xc);
    dc_release(wc);
    dc_release(bc);
    if (!ok) {
        dc_release(out);
        dc_release(stats);
        return NULL;
    }
    dc_tensor *inputs[3] = {x};
    int n = 1;
    if (weight) inputs[n++] = weight;
    if (bias) inputs[n++] = bias;
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_LAYER_NORM, inputs, n, &node);
    if (node) {
        node->iparams[0] = normalized_ndim;
        node->iparams[1] = weight != NULL;
        node->iparams[2] = bias != NULL;
        node->saved = stats;   /* the node takes this reference */
    } else {
        dc_release(stats);
    }
    return dc__publish(out);
}

/* gout: x's shape -> gx: x's shape, gw, gb: (D1..Dk), each when needed. */
dc_status dc__layer_norm_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    int k = (int)node->iparams[0];
    int wi = node->iparams[1] ? 1 : -1;
    int bi = node->iparams[2] ? (wi > 0 ? 2 : 1) : -1;
    dc_tensor *w = wi > 0 ? node->inputs[wi] : NULL, *b = bi > 0 ? node->inputs[bi] : NULL;
    int64_t d = 1;
    for (int i = x->ndim - k; i < x->ndim; i++) d *= x->shape[i];
    int64_t rows = d > 0 ? x->numel / d : 0;
    dc_tensor *xc = dc__contiguous_ref(x), *wc = dc__contiguous_ref(w);
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *gx = x->requires_grad ? dc__tensor_new(x->dtype, x->ndim, x->shape, false) : NULL;
    dc_tensor *gw = w && w->requires_grad ? dc__tensor_new(w->dtype, w->ndim, w->shape, true)
                                          : NULL;
    dc_tensor *gb = b && b->requires_grad ? dc__tensor_new(b->dtype, b->ndim, b->shape, true)
                                          : NULL;
    bool ok = xc && gc && (!w || wc) && (!x->requires_grad || gx) &&
              (!(w && w->requires_grad) || gw) && (!(b && b->requires_grad) || gb);
    if (ok && x->numel > 0) {
        if (x->dtype == DC_F32)
            ok = ln_backward_f32_par(dc__tensor_data(xc), wc ? dc__tensor_data(wc) : NULL,
                                     dc__tensor_data(gc), dc__tensor_data(node->saved), rows,
                                     d, gx ? dc__tensor_data(gx) : NULL,
                                     gw ? dc__tensor_data(gw) : NULL,
                                     gb ? dc__tensor_data(gb) : NULL) == DC_OK;
        else
            ln_backward_f64(dc__tensor_data(xc), wc ? dc__tensor_data(wc) : NULL,
                            dc__tensor_data(gc), dc__tensor_data(node->saved), rows, d,
                            gx ? dc__tensor_data(gx) : NULL, gw ? dc__tensor_data(gw) : NULL,
                            gb ? dc__tensor_data(gb) : NULL);
    }
    dc_release(xc);
    dc_release(wc);
    dc_release(gc);
    if (!ok) {
        dc_release(gx);
        dc_release(gw);
        dc_release(gb);
        return dc_last_status();
    }
    gin[0] = gx;
    if (wi > 0) gin[wi] = gw;
    else dc_release(gw);
    if (bi > 0) gin[bi] = gb;
    else dc_release(gb);
    return DC_OK;
}


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
    return layer_norm_fused(x, normalized_ndim, weight, bias, eps);
}

