/* Layers of one input and one output, and Sequential.
 *
 * Each layer is a dc_module whose vtable kind is PyTorch's class name and
 * whose parameters and buffers carry PyTorch's state_dict names, so that
 * weights copy across by name. Parameters are f32 and initialised as
 * PyTorch's layer of that name initialises them. Forward functions check
 * the input against the layer's configuration and name the layer in the
 * error ("Linear(in=4, out=3): input has 5 features"), then call the ops. */
#include "module.h"
#include "../ops/op_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Shared helpers                                                    */
/* ---------------------------------------------------------------- */

#define DESC_LEN 128

/* Every impl struct starts with the layer's description, which error
 * messages quote: "Conv2d(3, 8, kernel=3, stride=1, padding=1, ...)". */
typedef struct layer_head {
    char desc[DESC_LEN];
} layer_head;

static const char *desc_of(const dc_module *m) {
    return ((const layer_head *)m->impl)->desc;
}

static void set_desc(dc_module *m, const char *fmt, ...) DC_PRINTF(2, 3);
static void set_desc(dc_module *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(((layer_head *)m->impl)->desc, DESC_LEN, fmt, ap);
    va_end(ap);
}

/* Records a failure of the layer m's forward; returns NULL. */
static dc_tensor *layer_fail(const dc_module *m, dc_status st, const char *fmt, ...)
    DC_PRINTF(3, 4);
static dc_tensor *layer_fail(const dc_module *m, dc_status st, const char *fmt, ...) {
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    dc__fail(st, "%s: %s", desc_of(m), detail);
    return NULL;
}

/* Parameters are f32: the input of a layer with parameters must be too. */
static bool input_is_f32(const dc_module *m, const dc_tensor *x) {
    if (x->dtype == DC_F32) return true;
    layer_fail(m, DC_E_DTYPE, "input is %s; the layer's parameters are f32 (dc_cast it)",
               dc_dtype_name(x->dtype));
    return false;
}

static bool input_rank_is(const dc_module *m, const dc_tensor *x, int rank,
                          const char *layout) {
    if (x->ndim == rank) return true;
    layer_fail(m, DC_E_SHAPE, "input has %d dims; expects %s", x->ndim, layout);
    return false;
}

static bool input_channels_are(const dc_module *m, const dc_tensor *x, int64_t c) {
    if (x->shape[1] == c) return true;
    layer_fail(m, DC_E_SHAPE, "input has %lld channels on axis 1, expects %lld",
               (long long)x->shape[1], (long long)c);
    return false;
}

/* Runs a function of the module's parameters inside a private scope so
 * that its intermediates die here; returns the result published by the
 * rule of the library. */
typedef dc_tensor *(*compute_fn)(dc_module *m, dc_tensor *x);

static dc_tensor *in_private_scope(compute_fn fn, dc_module *m, dc_tensor *x) {
    dc_scope *s = dc_scope_begin();
    if (!s) return NULL;
    dc_tensor *y = dc_retain(fn(m, x));
    dc_scope_end(s);
    return dc__publish(y);
}

static dc_module *new_layer(const dc_module_vtable *vt, size_t impl_size) {
    return dc__module_new(vt, impl_size < sizeof(layer_head) ? sizeof(layer_head) : impl_size);
}

/* A zeroed f32 tensor owned by the caller (in no scope, whatever the
 * caller's scopes: the module takes it over). A shape too large is
 * reported as func's (the constructor given the sizes). */
static dc_tensor *owned_f32(const char *func, int ndim, const int64_t *shape, double fill) {
    dc_tensor *t = dc__tensor_new_for(func, DC_F32, ndim, shape, true);
    if (t && fill != 0.0 && dc_fill(t, fill) != DC_OK) {
        dc_release(t);
        return NULL;
    }
    return t;
}

/* Linear and convolutions: weight of wshape with kaiming_uniform(a =
 * sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and a bias of
 * out channels drawn from the same bound, in that order (PyTorch's
 * reset_parameters). fan_in = wshape[1] * prod(kernel sizes). */
static dc_status add_weight_and_bias(const char *func, dc_module *m, int ndim,
                                     const int64_t *wshape, int bias, dc_rng *rng) {
    dc_tensor *w = owned_f32(func, ndim, wshape, 0.0);
    if (!w) return dc_last_status();
    dc_status st = dc_init_kaiming_uniform(w, sqrt(5.0), 0, rng);
    if (st != DC_OK) {
        dc_release(w);
        return st;
    }
    if ((st = dc__module_add_param(m, "weight", w)) != DC_OK) return st;
    if (!bias) return DC_OK;
    int64_t fan_in = 1;
    for (int i = 1; i < ndim; i++) fan_in *= wshape[i];
    double bound = 1.0 / sqrt((double)fan_in);
    dc_tensor *b = owned_f32(func, 1, &wshape[0], 0.0);
    if (!b) return dc_last_status();
    if ((st = dc_init_uniform(b, -bound, bound, rng)) != DC_OK) {
        dc_release(b);
        return st;
    }
    return dc__module_add_param(m, "bias", b);
}

/* Releases a half-built module and returns NULL (the error is recorded). */
static dc_module *abandon(dc_module *m) {
    dc_module_release(m);
    return NULL;
}

static dc_module *invalid(const char *func, const char *fmt, ...) DC_PRINTF(2, 3);
static dc_module *invalid(const char *func, const char *fmt, ...) {
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    dc__fail(DC_E_INVALID, "%s: %s", func, detail);
    return NULL;
}

/* ---------------------------------------------------------------- */
/* Linear                                                            */
/* ---------------------------------------------------------------- */

typedef struct linear_impl {
    char desc[DESC_LEN];
    int64_t in, out;
} linear_impl;

/* x: (..., in), weight: (out, in), bias: (out) -> (..., out) */
static dc_tensor *linear_compute(dc_module *m, dc_tensor *x) {
    dc_tensor *w = dc__module_own(m, "weight"), *b = dc__module_own(m, "bias");
    return dc__linear(x, w, b);   /* x @ w^T + b as one op */
}

static dc_tensor *linear_forward(dc_module *m, dc_tensor *x) {
    const linear_impl *L = m->impl;
    if (x->ndim < 1)
        return layer_fail(m, DC_E_SHAPE, "input is a scalar; expects (..., %lld)",
                          (long long)L->in);
    if (x->shape[x->ndim - 1] != L->in)
        return layer_fail(m, DC_E_SHAPE, "input has %lld features",
                          (long long)x->shape[x->ndim - 1]);
    if (!input_is_f32(m, x)) return NULL;
    return in_private_scope(linear_compute, m, x);
}

static const dc_module_vtable linear_vt = {"Linear", linear_forward, NULL};

dc_module *dc_linear_new(int64_t in_features, int64_t out_features, int bias, dc_rng *rng) {
    if (in_features < 1 || out_features < 1)
        return invalid("dc_linear_new", "in_features (%lld) and out_features (%lld) must be >= 1",
                       (long long)in_features, (long long)out_features);
    dc_module *m = new_layer(&linear_vt, sizeof(linear_impl));
    if (!m) return NULL;
    linear_impl *L = m->impl;
    L->in = in_features;
    L->out = out_features;
    set_desc(m, "Linear(in=%lld, out=%lld)", (long long)in_features, (long long)out_features);
    int64_t wshape[2] = {out_features, in_features};
    if (add_weight_and_bias("dc_linear_new", m, 2, wshape, bias, rng) != DC_OK)
        return abandon(m);
    return m;
}

/* ---------------------------------------------------------------- */
/* Convolutions                                                      */
/* ---------------------------------------------------------------- */

typedef struct conv_impl {
    char desc[DESC_LEN];
    int64_t in, out, kernel, stride, padding, dilation, groups;
} conv_impl;

/* The input's spatial size (with padding) must hold one dilated kernel. */
static bool conv_extent_fits(const dc_module *m, const dc_tensor *x, int first_axis) {
    const conv_impl *C = m->impl;
    int64_t span = C->dilation * (C->kernel - 1) + 1;
    for (int a = first_axis; a < x->ndim; a++) {
        if (x->shape[a] + 2 * C->padding < span) {
            layer_fail(m, DC_E_SHAPE, "input size %lld on axis %d is smaller than the "
                       "kernel's extent %lld (padding %lld on each side)",
                       (long long)x->shape[a], a, (long long)span, (long long)C->padding);
            return false;
        }
    }
    return true;
}

/* x: (N, in, L), weight: (out, in / groups, K) -> (N, out, L_out) */
static dc_tensor *conv1d_forward(dc_module *m, dc_tensor *x) {
    const conv_impl *C = m->impl;
    if (!input_rank_is(m, x, 3, "(N, C, L)") || !input_channels_are(m, x, C->in) ||
        !conv_extent_fits(m, x, 2) || !input_is_f32(m, x))
        return NULL;
    return dc_conv1d(x, dc__module_own(m, "weight"), dc__module_own(m, "bias"), C->stride,
                     C->padding, C->dilation, C->groups);
}

/* x: (N, in, H, W), weight: (out, in / groups, K, K) -> (N, out, H_out, W_out) */
static dc_tensor *conv2d_forward(dc_module *m, dc_tensor *x) {
    const conv_impl *C = m->impl;
    if (!input_rank_is(m, x, 4, "(N, C, H, W)") || !input_channels_are(m, x, C->in) ||
        !conv_extent_fits(m, x, 2) || !input_is_f32(m, x))
        return NULL;
    int64_t stride[2] = {C->stride, C->stride}, padding[2] = {C->padding, C->padding};
    int64_t dilation[2] = {C->dilation, C->dilation};
    return dc_conv2d(x, dc__module_own(m, "weight"), dc__module_own(m, "bias"), stride,
                     padding, dilation, C->groups);
}

static const dc_module_vtable conv1d_vt = {"Conv1d", conv1d_forward, NULL};
static const dc_module_vtable conv2d_vt = {"Conv2d", conv2d_forward, NULL};

static dc_module *conv_new(const char *func, const dc_module_vtable *vt, int spatial,
                           int64_t in, int64_t out, int64_t kernel, int64_t stride,
                           int64_t padding, int64_t dilation, int64_t groups, int bias,
                           dc_rng *rng) {
    if (in < 1 || out < 1 || kernel < 1 || stride < 1 || dilation < 1 || groups < 1)
        return invalid(func, "in_channels (%lld), out_channels (%lld), kernel (%lld), stride "
                       "(%lld), dilation (%lld) and groups (%lld) must be >= 1",
                       (long long)in, (long long)out, (long long)kernel, (long long)stride,
                       (long long)dilation, (long long)groups);
    if (padding < 0) return invalid(func, "padding %lld is negative", (long long)padding);
    if (in % groups != 0 || out % groups != 0)
        return invalid(func, "groups (%lld) must divide in_channels (%lld) and out_channels "
                       "(%lld)", (long long)groups, (long long)in, (long long)out);
    dc_module *m = new_layer(vt, sizeof(conv_impl));
    if (!m) return NULL;
    conv_impl *C = m->impl;
    *C = (conv_impl){.in = in, .out = out, .kernel = kernel, .stride = stride,
                     .padding = padding, .dilation = dilation, .groups = groups};
    set_desc(m, "%s(%lld, %lld, kernel=%lld, stride=%lld, padding=%lld, dilation=%lld, "
             "groups=%lld)", vt->kind, (long long)in, (long long)out, (long long)kernel,
             (long long)stride, (long long)padding, (long long)dilation, (long long)groups);
    int64_t wshape[4] = {out, in / groups, kernel, kernel};
    if (add_weight_and_bias(func, m, 2 + spatial, wshape, bias, rng) != DC_OK) return abandon(m);
    return m;
}

dc_module *dc_conv1d_new(int64_t in_channels, int64_t out_channels, int64_t kernel,
                         int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
                         int bias, dc_rng *rng) {
    return conv_new("dc_conv1d_new", &conv1d_vt, 1, in_channels, out_channels, kernel, stride,
                    padding, dilation, groups, bias, rng);
}

dc_module *dc_conv2d_new(int64_t in_channels, int64_t out_channels, int64_t kernel,
                         int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
                         int bias, dc_rng *rng) {
    return conv_new("dc_conv2d_new", &conv2d_vt, 2, in_channels, out_channels, kernel, stride,
                    padding, dilation, groups, bias, rng);
}

/* ---------------------------------------------------------------- */
/* Pooling                                                           */
/* ---------------------------------------------------------------- */

typedef struct pool_impl {
    char desc[DESC_LEN];
    int64_t kernel, stride, padding;
} pool_impl;

static bool pool_input_ok(const dc_module *m, const dc_tensor *x) {
    const pool_impl *P = m->impl;
    if (!input_rank_is(m, x, 4, "(N, C, H, W)")) return false;
    for (int a = 2; a < 4; a++) {
        if (x->shape[a] + 2 * P->padding < P->kernel) {
            layer_fail(m, DC_E_SHAPE, "input size %lld on axis %d is smaller than the kernel",
                       (long long)x->shape[a], a);
            return false;
        }
    }
    return true;
}

/* x: (N, C, H, W) -> (N, C, H_out, W_out) */
static dc_tensor *max_pool2d_forward(dc_module *m, dc_tensor *x) {
    const pool_impl *P = m->impl;
    if (!pool_input_ok(m, x)) return NULL;
    int64_t k[2] = {P->kernel, P->kernel}, s[2] = {P->stride, P->stride};
    int64_t p[2] = {P->padding, P->padding};
    return dc_max_pool2d(x, k, s, p);
}

/* x: (N, C, H, W) -> (N, C, H_out, W_out); padded zeros count (PyTorch's default) */
static dc_tensor *avg_pool2d_forward(dc_module *m, dc_tensor *x) {
    const pool_impl *P = m->impl;
    if (!pool_input_ok(m, x)) return NULL;
    int64_t k[2] = {P->kernel, P->kernel}, s[2] = {P->stride, P->stride};
    int64_t p[2] = {P->padding, P->padding};
    return dc_avg_pool2d(x, k, s, p, 1);
}

static const dc_module_vtable max_pool2d_vt = {"MaxPool2d", max_pool2d_forward, NULL};
static const dc_module_vtable avg_pool2d_vt = {"AvgPool2d", avg_pool2d_forward, NULL};

static dc_module *pool_new(const char *func, const dc_module_vtable *vt, int64_t kernel,
                           int64_t stride, int64_t padding) {
    if (kernel < 1) return invalid(func, "kernel %lld must be >= 1", (long long)kernel);
    if (stride < 0) return invalid(func, "stride %lld is negative", (long long)stride);
    if (padding < 0 || padding > kernel / 2)
        return invalid(func, "padding %lld must lie in 0..kernel/2 (%lld)", (long long)padding,
                       (long long)(kernel / 2));
    dc_module *m = new_layer(vt, sizeof(pool_impl));
    if (!m) return NULL;
    pool_impl *P = m->impl;
    P->kernel = kernel;
    P->stride = stride == 0 ? kernel : stride;
    P->padding = padding;
    set_desc(m, "%s(kernel=%lld, stride=%lld, padding=%lld)", vt->kind, (long long)kernel,
             (long long)P->stride, (long long)padding);
    return m;
}

dc_module *dc_max_pool2d_new(int64_t kernel, int64_t stride, int64_t padding) {
    return pool_new("dc_max_pool2d_new", &max_pool2d_vt, kernel, stride, padding);
}

dc_module *dc_avg_pool2d_new(int64_t kernel, int64_t stride, int64_t padding) {
    return pool_new("dc_avg_pool2d_new", &avg_pool2d_vt, kernel, stride, padding);
}

typedef struct adaptive_impl {
    char desc[DESC_LEN];
    int64_t out_h, out_w;
} adaptive_impl;

/* x: (N, C, H, W) -> (N, C, out_h, out_w) */
static dc_tensor *adaptive_avg_pool2d_forward(dc_module *m, dc_tensor *x) {
    const adaptive_impl *A = m->impl;
    if (!input_rank_is(m, x, 4, "(N, C, H, W)")) return NULL;
    if (x->shape[2] < 1 || x->shape[3] < 1)
        return layer_fail(m, DC_E_SHAPE, "input has an empty %lldx%lld plane",
                          (long long)x->shape[2], (long long)x->shape[3]);
    return dc_adaptive_avg_pool2d(x, A->out_h, A->out_w);
}

static const dc_module_vtable adaptive_avg_pool2d_vt = {"AdaptiveAvgPool2d",
                                                        adaptive_avg_pool2d_forward, NULL};

dc_module *dc_adaptive_avg_pool2d_new(int64_t out_h, int64_t out_w) {
    if (out_h < 1 || out_w < 1)
        return invalid("dc_adaptive_avg_pool2d_new", "output size %lldx%lld must be >= 1x1",
                       (long long)out_h, (long long)out_w);
    dc_module *m = new_layer(&adaptive_avg_pool2d_vt, sizeof(adaptive_impl));
    if (!m) return NULL;
    adaptive_impl *A = m->impl;
    A->out_h = out_h;
    A->out_w = out_w;
    set_desc(m, "AdaptiveAvgPool2d(%lld, %lld)", (long long)out_h, (long long)out_w);
    return m;
}

/* ---------------------------------------------------------------- */
/* Normalisation                                                     */
/* ---------------------------------------------------------------- */

typedef struct norm_impl {
    char desc[DESC_LEN];
    int64_t features;
    double eps, momentum;
    int min_rank, max_rank;   /* accepted input ranks (batch norm) */
} norm_impl;

/* Counts one more batch in the i64 scalar buffer num_batches_tracked. */
static void count_batch(dc_module *m) {
    dc_tensor *n = dc__module_own(m, "num_batches_tracked");
    int64_t *v = dc__tensor_data(n);
    (*v)++;
    dc__bump_version(n);
}

/* x: (N, C) or (N, C, ...) -> same; statistics per channel (axis 1) */
static dc_tensor *batch_norm_forward(dc_module *m, dc_tensor *x) {
    const norm_impl *B = m->impl;
    if (x->ndim < B->min_rank || x->ndim > B->max_rank) {
        const char *layout = B->max_rank == 4 ? "(N, C, H, W)" : "(N, C) or (N, C, L)";
        return layer_fail(m, DC_E_SHAPE, "input has %d dims; expects %s", x->ndim, layout);
    }
    if (!input_channels_are(m, x, B->features) || !input_is_f32(m, x)) return NULL;
    if (m->training && x->numel / B->features < 2)
        return layer_fail(m, DC_E_SHAPE, "training needs more than one value per channel");
    dc_tensor *y = dc_batch_norm(x, dc__module_own(m, "running_mean"),
                                 dc__module_own(m, "running_var"), dc__module_own(m, "weight"),
                                 dc__module_own(m, "bias"), m->training, B->momentum, B->eps);
    if (y && m->training) count_batch(m);
    return y;
}

static const dc_module_vtable batch_norm1d_vt = {"BatchNorm1d", batch_norm_forward, NULL};
static const dc_module_vtable batch_norm2d_vt = {"BatchNorm2d", batch_norm_forward, NULL};

static bool eps_ok(const char *func, double eps) {
    if (eps >= 0.0 && isfinite(eps)) return true;
    invalid(func, "eps %g must be finite and >= 0", eps);
    return false;
}

static dc_module *batch_norm_new(const char *func, const dc_module_vtable *vt, int min_rank,
                                 int max_rank, int64_t features, double eps, double momentum) {
    if (features < 1) return invalid(func, "features %lld must be >= 1", (long long)features);
    if (!eps_ok(func, eps)) return NULL;
    if (!(momentum >= 0.0 && momentum <= 1.0))
        return invalid(func, "momentum %g must lie in [0, 1]", momentum);
    dc_module *m = new_layer(vt, sizeof(norm_impl));
    if (!m) return NULL;
    norm_impl *B = m->impl;
    *B = (norm_impl){.features = features, .eps = eps, .momentum = momentum,
                     .min_rank = min_rank, .max_rank = max_rank};
    set_desc(m, "%s(%lld, eps=%g, momentum=%g)", vt->kind, (long long)features, eps, momentum);
    int64_t c = features;
    if (dc__module_add_param(m, "weight", owned_f32(func, 1, &c, 1.0)) != DC_OK ||
        dc__module_add_param(m, "bias", owned_f32(func, 1, &c, 0.0)) != DC_OK ||
        dc__module_add_buffer(m, "running_mean", owned_f32(func, 1, &c, 0.0)) != DC_OK ||
        dc__module_add_buffer(m, "running_var", owned_f32(func, 1, &c, 1.0)) != DC_OK ||
        dc__module_add_buffer(m, "num_batches_tracked", dc__tensor_new(DC_I64, 0, NULL, true))
            != DC_OK)
        return abandon(m);
    return m;
}

dc_module *dc_batch_norm1d_new(int64_t features, double eps, double momentum) {
    return batch_norm_new("dc_batch_norm1d_new", &batch_norm1d_vt, 2, 3, features, eps,
                          momentum);
}

dc_module *dc_batch_norm2d_new(int64_t features, double eps, double momentum) {
    return batch_norm_new("dc_batch_norm2d_new", &batch_norm2d_vt, 4, 4, features, eps,
                          momentum);
}

/* x: (..., features) -> same; statistics over the last axis */
static dc_tensor *layer_norm_forward(dc_module *m, dc_tensor *x) {
    const norm_impl *N = m->impl;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != N->features)
        return layer_fail(m, DC_E_SHAPE, "input's last axis has %lld features",
                          x->ndim < 1 ? 0LL : (long long)x->shape[x->ndim - 1]);
    if (!input_is_f32(m, x)) return NULL;
    return dc_layer_norm(x, 1, dc__module_own(m, "weight"), dc__module_own(m, "bias"), N->eps);
}

static const dc_module_vtable layer_norm_vt = {"LayerNorm", layer_norm_forward, NULL};

dc_module *dc_layer_norm_new(int64_t features, double eps, int elementwise_affine) {
    if (features < 1)
        return invalid("dc_layer_norm_new", "features %lld must be >= 1", (long long)features);
    if (!eps_ok("dc_layer_norm_new", eps)) return NULL;
    dc_module *m = new_layer(&layer_norm_vt, sizeof(norm_impl));
    if (!m) return NULL;
    norm_impl *N = m->impl;
    N->features = features;
    N->eps = eps;
    set_desc(m, "LayerNorm(%lld, eps=%g, elementwise_affine=%d)", (long long)features, eps,
             elementwise_affine != 0);
    int64_t c = features;
    if (elementwise_affine &&
        (dc__module_add_param(m, "weight", owned_f32("dc_layer_norm_new", 1, &c, 1.0)) != DC_OK ||
         dc__module_add_param(m, "bias", owned_f32("dc_layer_norm_new", 1, &c, 0.0)) != DC_OK))
        return abandon(m);
    return m;
}

/* ---------------------------------------------------------------- */
/* Dropout, Embedding, Flatten                                       */
/* ---------------------------------------------------------------- */

typedef struct dropout_impl {
    char desc[DESC_LEN];
    double p;
} dropout_impl;

/* x: any shape -> same */
static dc_tensor *dropout_forward(dc_module *m, dc_tensor *x) {
    const dropout_impl *D = m->impl;
    return dc_dropout(x, D->p, m->training, NULL);
}

static const dc_module_vtable dropout_vt = {"Dropout", dropout_forward, NULL};

dc_module *dc_dropout_new(double p) {
    if (!(p >= 0.0 && p < 1.0)) return invalid("dc_dropout_new", "p %g must lie in [0, 1)", p);
    dc_module *m = new_layer(&dropout_vt, sizeof(dropout_impl));
    if (!m) return NULL;
    ((dropout_impl *)m->impl)->p = p;
    set_desc(m, "Dropout(p=%g)", p);
    return m;
}

typedef struct embedding_impl {
    char desc[DESC_LEN];
    int64_t num, dim;
} embedding_impl;

/* indices: any shape, i32/i64; weight: (num, dim) -> indices.shape + (dim) */
static dc_tensor *embedding_forward(dc_module *m, dc_tensor *x) {
    if (x->dtype != DC_I32 && x->dtype != DC_I64)
        return layer_fail(m, DC_E_DTYPE, "indices must be i32 or i64, not %s",
                          dc_dtype_name(x->dtype));
    if (x->ndim >= DC_MAX_DIMS)
        return layer_fail(m, DC_E_SHAPE, "indices have %d dims; at most %d fit", x->ndim,
                          DC_MAX_DIMS - 1);
    return dc_embedding(dc__module_own(m, "weight"), x);
}

static const dc_module_vtable embedding_vt = {"Embedding", embedding_forward, NULL};

dc_module *dc_embedding_new(int64_t num_embeddings, int64_t embedding_dim, dc_rng *rng) {
    if (num_embeddings < 1 || embedding_dim < 1)
        return invalid("dc_embedding_new", "num_embeddings (%lld) and embedding_dim (%lld) "
                       "must be >= 1", (long long)num_embeddings, (long long)embedding_dim);
    dc_module *m = new_layer(&embedding_vt, sizeof(embedding_impl));
    if (!m) return NULL;
    embedding_impl *E = m->impl;
    E->num = num_embeddings;
    E->dim = embedding_dim;
    set_desc(m, "Embedding(%lld, %lld)", (long long)num_embeddings, (long long)embedding_dim);
    int64_t shape[2] = {num_embeddings, embedding_dim};
    dc_tensor *w = owned_f32("dc_embedding_new", 2, shape, 0.0);
    if (!w) return abandon(m);
    if (dc_init_normal(w, 0.0, 1.0, rng) != DC_OK) {
        dc_release(w);
        return abandon(m);
    }
    if (dc__module_add_param(m, "weight", w) != DC_OK) return abandon(m);
    return m;
}

typedef struct flatten_impl {
    char desc[DESC_LEN];
    int start, end;
} flatten_impl;

/* Normalises an axis against rank (a scalar counts as rank 1, as torch). */
static bool flatten_axis(int *axis, int rank) {
    int n = rank > 0 ? rank : 1;
    if (*axis < -n || *axis >= n) return false;
    if (*axis < 0) *axis += n;
    return true;
}

/* x: (d0, ..., d_start, ..., d_end, ...) -> (d0, ..., d_start * ... * d_end, ...) */
static dc_tensor *flatten_forward(dc_module *m, dc_tensor *x) {
    const flatten_impl *F = m->impl;
    int start = F->start, end = F->end;
    if (!flatten_axis(&start, x->ndim) || !flatten_axis(&end, x->ndim))
        return layer_fail(m, DC_E_SHAPE, "input has %d dims, too few for these axes", x->ndim);
    if (start > end)
        return layer_fail(m, DC_E_SHAPE, "for an input of %d dims the start axis %d comes "
                          "after the end axis %d", x->ndim, start, end);
    return dc_flatten(x, start, end);
}

static const dc_module_vtable flatten_vt = {"Flatten", flatten_forward, NULL};

dc_module *dc_flatten_new(int start_axis, int end_axis) {
    if (start_axis < -DC_MAX_DIMS || start_axis >= DC_MAX_DIMS || end_axis < -DC_MAX_DIMS ||
        end_axis >= DC_MAX_DIMS)
        return invalid("dc_flatten_new", "axes %d and %d must lie in -%d..%d", start_axis,
                       end_axis, DC_MAX_DIMS, DC_MAX_DIMS - 1);
    /* Axes of one sign compare the same way at every rank. */
    if ((start_axis >= 0) == (end_axis >= 0) && start_axis > end_axis)
        return invalid("dc_flatten_new", "start axis %d comes after end axis %d", start_axis,
                       end_axis);
    dc_module *m = new_layer(&flatten_vt, sizeof(flatten_impl));
    if (!m) return NULL;
    flatten_impl *F = m->impl;
    F->start = start_axis;
    F->end = end_axis;
    set_desc(m, "Flatten(start=%d, end=%d)", start_axis, end_axis);
    return m;
}

/* ---------------------------------------------------------------- */
/* Activations                                                       */
/* ---------------------------------------------------------------- */

typedef struct activation_impl {
    char desc[DESC_LEN];
    dc_activation kind;
    double param;
} activation_impl;

/* x: any shape -> same */
static dc_tensor *activation_forward(dc_module *m, dc_tensor *x) {
    const activation_impl *A = m->impl;
    switch (A->kind) {
    case DC_ACT_RELU: return dc_relu(x);
    case DC_ACT_SIGMOID: return dc_sigmoid(x);
    case DC_ACT_TANH: return dc_tanh(x);
    case DC_ACT_GELU: return dc_gelu(x, DC_GELU_EXACT);
    case DC_ACT_GELU_TANH: return dc_gelu(x, DC_GELU_TANH);
    case DC_ACT_SILU: return dc_silu(x);
    case DC_ACT_LEAKY_RELU: return dc_leaky_relu(x, A->param);
    case DC_ACT_SOFTMAX: {
        int axis = (int)A->param;
        if (!flatten_axis(&axis, x->ndim))
            return layer_fail(m, DC_E_SHAPE, "input has %d dims, no axis %d", x->ndim,
                              (int)A->param);
        return dc_softmax(x, axis);
    }
    case DC_ACT_IDENTITY: return dc__publish(dc_retain(x));
    }
    return layer_fail(m, DC_E_INTERNAL, "unknown activation kind %d", (int)A->kind);
}

static const dc_module_vtable activation_vts[] = {
    [DC_ACT_RELU] = {"ReLU", activation_forward, NULL},
    [DC_ACT_SIGMOID] = {"Sigmoid", activation_forward, NULL},
    [DC_ACT_TANH] = {"Tanh", activation_forward, NULL},
    [DC_ACT_GELU] = {"GELU", activation_forward, NULL},
    [DC_ACT_GELU_TANH] = {"GELU", activation_forward, NULL},
    [DC_ACT_SILU] = {"SiLU", activation_forward, NULL},
    [DC_ACT_LEAKY_RELU] = {"LeakyReLU", activation_forward, NULL},
    [DC_ACT_SOFTMAX] = {"Softmax", activation_forward, NULL},
    [DC_ACT_IDENTITY] = {"Identity", activation_forward, NULL},
};

#define N_ACTIVATIONS ((int)(sizeof activation_vts / sizeof activation_vts[0]))

dc_module *dc_activation_new(dc_activation kind, double param) {
    const char *func = "dc_activation_new";
    if ((int)kind < 0 || (int)kind >= N_ACTIVATIONS)
        return invalid(func, "unknown activation kind %d", (int)kind);
    if (kind == DC_ACT_LEAKY_RELU && !isfinite(param))
        return invalid(func, "the negative slope %g of LeakyReLU is not finite", param);
    if (kind == DC_ACT_SOFTMAX &&
        !(param == floor(param) && param >= -DC_MAX_DIMS && param < DC_MAX_DIMS))
        return invalid(func, "the axis %g of Softmax must be an integer in -%d..%d", param,
                       DC_MAX_DIMS, DC_MAX_DIMS - 1);
    dc_module *m = new_layer(&activation_vts[kind], sizeof(activation_impl));
    if (!m) return NULL;
    activation_impl *A = m->impl;
    A->kind = kind;
    A->param = param;
    if (kind == DC_ACT_LEAKY_RELU) set_desc(m, "LeakyReLU(negative_slope=%g)", param);
    else if (kind == DC_ACT_SOFTMAX) set_desc(m, "Softmax(dim=%d)", (int)param);
    else if (kind == DC_ACT_GELU_TANH) set_desc(m, "GELU(approximate='tanh')");
    else set_desc(m, "%s()", activation_vts[kind].kind);
    return m;
}

/* ---------------------------------------------------------------- */
/* Sequential                                                        */
/* ---------------------------------------------------------------- */

/* Children in order, each on the previous one's output; a failure names
 * the child: "Sequential[2]: Linear(in=4, out=3): input has 5 features". */
static dc_tensor *sequential_compute(dc_module *m, dc_tensor *x) {
    dc_tensor *y = x;
    for (int64_t i = 0; i < m->n_children; i++) {
        y = dc_module_forward(dc__module_child_at(m, i), y);
        if (!y) {
            char inner[512];
            snprintf(inner, sizeof inner, "%s", dc_last_error());
            dc__fail(dc_last_status(), "Sequential[%lld]: %s", (long long)i, inner);
            return NULL;
        }
    }
    return y;
}

static dc_tensor *sequential_forward(dc_module *m, dc_tensor *x) {
    if (m->n_children == 0) return dc__publish(dc_retain(x));  /* torch: the input itself */
    return in_private_scope(sequential_compute, m, x);
}

static const dc_module_vtable sequential_vt = {"Sequential", sequential_forward, NULL};

dc_module *dc_sequential_new(void) {
    dc_module *m = new_layer(&sequential_vt, sizeof(layer_head));
    if (m) set_desc(m, "Sequential");
    return m;
}

dc_status dc_sequential_append(dc_module *seq, dc_module *child) {
    const char *func = "dc_sequential_append";
    if (!dc__is_module(seq))
        return dc__fail(DC_E_INVALID, "%s: 'seq' is %s", func, seq ? "not a live module" : "NULL");
    if (!dc__is_module(child))
        return dc__fail(DC_E_INVALID, "%s: 'child' is %s", func,
                        child ? "not a live module" : "NULL");
    if (seq->vt != &sequential_vt)
        return dc__fail(DC_E_INVALID, "%s: 'seq' is a %s, not a Sequential", func, seq->vt->kind);
    if (child == seq)
        return dc__fail(DC_E_INVALID, "%s: a Sequential cannot contain itself", func);
    char name[24];
    snprintf(name, sizeof name, "%lld", (long long)seq->n_children);
    dc_status st = dc__module_add_child(seq, name, child);
    if (st == DC_E_STATE)
        return dc__fail(st, "%s: this Sequential already sits inside a container; append to "
                        "it before adding it to one", func);
    return st;
}
