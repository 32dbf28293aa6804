/* Initialisers, as torch.nn.init: fill a floating tensor in place from a
 * generator, without recording history. The values are drawn in row-major
 * order exactly as dc_rand_uniform / dc_rand_normal draw them, so the same
 * seed gives the same numbers either way. */
#include "../core/internal.h"

#include <math.h>

/* Checks t is a live floating tensor. */
static dc_status check_target(const dc_tensor *t, const char *func) {
    DC_CHECK_TENSOR_OR_STATUS(t, func, "t");
    if (!dc__dtype_is_float(t->dtype))
        return dc__fail(DC_E_DTYPE, "%s: needs an f32 or f64 tensor, not %s", func,
                        dc_dtype_name(t->dtype));
    return DC_OK;
}

/* Overwrites t with a + (b - a) U[0, 1) (uniform) or a + b N(0, 1)
 * (normal), element by element in row-major order, and bumps its version
 * (an in-place change, as dc_copy_from). */
static dc_status fill_random(dc_tensor *t, double a, double b, bool normal, dc_rng *rng) {
    if (t->numel == 0) return DC_OK;
    dc_tensor *tmp = dc__tensor_new(t->dtype, t->ndim, t->shape, false);
    if (!tmp) return dc_last_status();
    if (!rng) rng = dc__thread_rng();
    if (t->dtype == DC_F32) {
        float *d = dc__tensor_data(tmp);
        for (int64_t i = 0; i < tmp->numel; i++)
            d[i] = (float)(normal ? a + b * dc__rng_normal(rng)
                                  : a + (b - a) * dc__rng_uniform(rng));
    } else {
        double *d = dc__tensor_data(tmp);
        for (int64_t i = 0; i < tmp->numel; i++)
            d[i] = normal ? a + b * dc__rng_normal(rng) : a + (b - a) * dc__rng_uniform(rng);
    }
    dc__copy_elements(t, tmp);
    dc__bump_version(t);
    dc_release(tmp);
    return DC_OK;
}

dc_status dc_init_uniform(dc_tensor *t, double low, double high, dc_rng *rng) {
    dc_status st = check_target(t, "dc_init_uniform");
    if (st != DC_OK) return st;
    if (!isfinite(low) || !isfinite(high) || !(low <= high))
        return dc__fail(DC_E_INVALID, "dc_init_uniform: need finite low <= high, not [%g, %g)",
                        low, high);
    return fill_random(t, low, high, false, rng);
}

dc_status dc_init_normal(dc_tensor *t, double mean, double std, dc_rng *rng) {
    dc_status st = check_target(t, "dc_init_normal");
    if (st != DC_OK) return st;
    if (!isfinite(mean) || !isfinite(std) || !(std >= 0.0))
        return dc__fail(DC_E_INVALID, "dc_init_normal: need a finite mean and std >= 0, not "
                        "(%g, %g)", mean, std);
    return fill_random(t, mean, std, true, rng);
}

/* ---------------------------------------------------------------- */
/* Fan-based initialisers                                            */
/* ---------------------------------------------------------------- */

/* torch.nn.init._calculate_fan_in_and_fan_out: for a weight (out, in,
 * k...), fan_in = in * prod(k), fan_out = out * prod(k). Fewer than 2 dims
 * is DC_E_SHAPE. */
static dc_status fans(const dc_tensor *t, const char *func, double *fan_in, double *fan_out) {
    if (t->ndim < 2)
        return dc__fail(DC_E_SHAPE, "%s: fan in and fan out need at least 2 dims, not %d",
                        func, t->ndim);
    double receptive = 1.0;
    for (int i = 2; i < t->ndim; i++) receptive *= (double)t->shape[i];
    *fan_in = (double)t->shape[1] * receptive;
    *fan_out = (double)t->shape[0] * receptive;
    return DC_OK;
}

/* Common start of xavier / kaiming: checks t and param, gets the fans. */
static dc_status fan_init_start(const dc_tensor *t, double param, const char *func,
                                double *fan_in, double *fan_out) {
    dc_status st = check_target(t, func);
    if (st != DC_OK) return st;
    if (!isfinite(param)) return dc__fail(DC_E_INVALID, "%s: parameter %g is not finite", func,
                                          param);
    return fans(t, func, fan_in, fan_out);
}

/* std = gain sqrt(2 / (fan_in + fan_out)); uniform bound = sqrt(3) std.
 * A tensor without elements is left as it is. */
static dc_status xavier(dc_tensor *t, double gain, bool normal, dc_rng *rng, const char *func) {
    double fan_in = 0, fan_out = 0;
    dc_status st = fan_init_start(t, gain, func, &fan_in, &fan_out);
    if (st != DC_OK || t->numel == 0) return st;
    double std = gain * sqrt(2.0 / (fan_in + fan_out));
    if (normal) return fill_random(t, 0.0, std, true, rng);
    double bound = sqrt(3.0) * std;
    return fill_random(t, -bound, bound, false, rng);
}

dc_status dc_init_xavier_uniform(dc_tensor *t, double gain, dc_rng *rng) {
    return xavier(t, gain, false, rng, "dc_init_xavier_uniform");
}

dc_status dc_init_xavier_normal(dc_tensor *t, double gain, dc_rng *rng) {
    return xavier(t, gain, true, rng, "dc_init_xavier_normal");
}

/* gain = sqrt(2 / (1 + a^2)) (leaky_relu's), std = gain / sqrt(fan);
 * uniform bound = sqrt(3) std. A tensor without elements is left as it
 * is (PyTorch warns and does nothing). */
static dc_status kaiming(dc_tensor *t, double a, int use_fan_out, bool normal, dc_rng *rng,
                         const char *func) {
    double fan_in = 0, fan_out = 0;
    dc_status st = fan_init_start(t, a, func, &fan_in, &fan_out);
    if (st != DC_OK || t->numel == 0) return st;
    double gain = sqrt(2.0 / (1.0 + a * a));
    double std = gain / sqrt(use_fan_out ? fan_out : fan_in);
    if (normal) return fill_random(t, 0.0, std, true, rng);
    double bound = sqrt(3.0) * std;
    return fill_random(t, -bound, bound, false, rng);
}

dc_status dc_init_kaiming_uniform(dc_tensor *t, double a, int fan_out, dc_rng *rng) {
    return kaiming(t, a, fan_out, false, rng, "dc_init_kaiming_uniform");
}

dc_status dc_init_kaiming_normal(dc_tensor *t, double a, int fan_out, dc_rng *rng) {
    return kaiming(t, a, fan_out, true, rng, "dc_init_kaiming_normal");
}
