/* Making tensors: constants, ranges, caller data, random numbers. */
#include "internal.h"

#include <math.h>
#include <string.h>

dc_tensor *dc_empty(dc_dtype dtype, int ndim, const int64_t *shape) {
    return dc__publish(dc__tensor_new_for("dc_empty", dtype, ndim, shape, false));
}

dc_tensor *dc_zeros(dc_dtype dtype, int ndim, const int64_t *shape) {
    return dc__publish(dc__tensor_new_for("dc_zeros", dtype, ndim, shape, true));
}

/* A new tensor filled with value; a bad dtype or shape names func. */
static dc_tensor *filled(const char *func, dc_dtype dtype, int ndim, const int64_t *shape,
                         double value) {
    dc_tensor *t = dc__tensor_new_for(func, dtype, ndim, shape, false);
    if (!t) return NULL;
    dc_fill(t, value);
    return dc__publish(t);
}

dc_tensor *dc_full(dc_dtype dtype, int ndim, const int64_t *shape, double value) {
    return filled("dc_full", dtype, ndim, shape, value);
}

dc_tensor *dc_ones(dc_dtype dtype, int ndim, const int64_t *shape) {
    return filled("dc_ones", dtype, ndim, shape, 1.0);
}

dc_tensor *dc_scalar(dc_dtype dtype, double value) {
    return filled("dc_scalar", dtype, 0, NULL, value);
}

dc_tensor *dc_arange(dc_dtype dtype, double start, double stop, double step) {
    if (!(step != 0.0) || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        dc__fail(DC_E_INVALID, "dc_arange: start, stop and step must be finite and step != 0");
        return NULL;
    }
    double count = ceil((stop - start) / step);
    if (count < 0) count = 0;
    if (count > (double)(INT64_MAX / 16)) {
        dc__fail(DC_E_OVERFLOW, "dc_arange: %g elements are too many", count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    dc_tensor *t = dc__tensor_new_for("dc_arange", dtype, 1, &n, false);
    if (!t) return NULL;
    void *d = dc__tensor_data(t);
    for (int64_t i = 0; i < n; i++) dc__store(d, dtype, i, start + (double)i * step);
    return dc__publish(t);
}

dc_tensor *dc_from_data(dc_dtype dtype, int ndim, const int64_t *shape, const void *data) {
    dc_tensor *t = dc__tensor_new_for("dc_from_data", dtype, ndim, shape, false);
    if (!t) return NULL;
    size_t bytes = (size_t)t->numel * dc_dtype_size(dtype);
    if (bytes > 0 && !data) {
        dc_release(t);
        dc__fail(DC_E_INVALID, "dc_from_data: 'data' is NULL");
        return NULL;
    }
    if (bytes > 0) memcpy(dc__tensor_data(t), data, bytes);
    return dc__publish(t);
}

dc_tensor *dc_wrap_data(dc_dtype dtype, int ndim, const int64_t *shape, void *data,
                        void (*release)(void *data, void *ctx), void *ctx) {
    int64_t numel;
    if (!dc__dtype_valid(dtype)) {
        dc__fail(DC_E_DTYPE, "dc_wrap_data: unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (dc__check_shape("dc_wrap_data", ndim, shape, &numel) != DC_OK) return NULL;
    if (!data) {
        dc__fail(DC_E_INVALID, "dc_wrap_data: 'data' is NULL");
        return NULL;
    }
    if (((uintptr_t)data) % dc_dtype_size(dtype) != 0) {
        dc__fail(DC_E_INVALID, "dc_wrap_data: 'data' is not aligned for %s",
                 dc_dtype_name(dtype));
        return NULL;
    }
    /* A one-element placeholder gives the header and storage; then the
     * storage is pointed at the caller's buffer. */
    int64_t one = 1;
    dc_tensor *t = dc__tensor_new(dtype, 1, &one, false);
    if (!t) return NULL;
    dc_storage *s = t->storage;
    if (!s->data_inline) dc__free(s->data);
    s->data_inline = false;
    s->data = data;
    s->nbytes = (size_t)numel * dc_dtype_size(dtype);
    s->owns_data = false;
    s->release = release;
    s->release_ctx = ctx;
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    dc__contiguous_strides(ndim, shape, t->strides);
    t->numel = numel;
    t->offset = 0;
    /* From here the buffer is the tensor's: a failed publish releases it
     * through the callback. */
    return dc__publish(t);
}

static dc_tensor *random_tensor(const char *func, dc_rng *rng, dc_dtype dtype,
                                int ndim, const int64_t *shape, double a,
                                double b, bool normal) {
    if (!dc__dtype_is_float(dtype)) {
        dc__fail(DC_E_DTYPE, "%s: dtype must be f32 or f64, not %s", func,
                 dc_dtype_name(dtype));
        return NULL;
    }
    if (!isfinite(a) || !isfinite(b) || (normal ? b < 0 : b < a)) {
        dc__fail(DC_E_INVALID, "%s: invalid parameters (%g, %g)", func, a, b);
        return NULL;
    }
    dc_tensor *t = dc__tensor_new_for(func, dtype, ndim, shape, false);
    if (!t) return NULL;
    if (!rng) rng = dc__thread_rng();
    void *d = dc__tensor_data(t);
    for (int64_t i = 0; i < t->numel; i++) {
        double v = normal ? a + b * dc__rng_normal(rng)
                          : a + (b - a) * dc__rng_uniform(rng);
        dc__store(d, dtype, i, v);
    }
    return dc__publish(t);
}

dc_tensor *dc_rand_uniform(dc_rng *rng, dc_dtype dtype, int ndim, const int64_t *shape,
                           double low, double high) {
    return random_tensor("dc_rand_uniform", rng, dtype, ndim, shape, low, high, false);
}

dc_tensor *dc_rand_normal(dc_rng *rng, dc_dtype dtype, int ndim, const int64_t *shape,
                          double mean, double std) {
    return random_tensor("dc_rand_normal", rng, dtype, ndim, shape, mean, std, true);
}

dc_tensor *dc_zeros_like(const dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_zeros_like", "t");
    return dc_zeros(t->dtype, t->ndim, t->shape);
}

dc_tensor *dc_ones_like(const dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_ones_like", "t");
    return dc_ones(t->dtype, t->ndim, t->shape);
}
