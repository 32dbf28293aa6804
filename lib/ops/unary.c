/* Unary elementwise ops and activations. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_neg(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_neg: STUB not written yet");
    return NULL;
}

dc_tensor * dc_abs(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_abs: STUB not written yet");
    return NULL;
}

dc_tensor * dc_exp(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_exp: STUB not written yet");
    return NULL;
}

dc_tensor * dc_log(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_log: STUB not written yet");
    return NULL;
}

dc_tensor * dc_sqrt(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_sqrt: STUB not written yet");
    return NULL;
}

dc_tensor * dc_rsqrt(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_rsqrt: STUB not written yet");
    return NULL;
}

dc_tensor * dc_square(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_square: STUB not written yet");
    return NULL;
}

dc_tensor * dc_tanh(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_tanh: STUB not written yet");
    return NULL;
}

dc_tensor * dc_sigmoid(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_sigmoid: STUB not written yet");
    return NULL;
}

dc_tensor * dc_relu(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_relu: STUB not written yet");
    return NULL;
}

dc_tensor * dc_leaky_relu(dc_tensor *t, double negative_slope) {
    (void)t;
    (void)negative_slope;
    dc__fail(DC_E_UNSUPPORTED, "dc_leaky_relu: STUB not written yet");
    return NULL;
}

dc_tensor * dc_gelu(dc_tensor *t, dc_gelu_approx approx) {
    (void)t;
    (void)approx;
    dc__fail(DC_E_UNSUPPORTED, "dc_gelu: STUB not written yet");
    return NULL;
}

dc_tensor * dc_silu(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_silu: STUB not written yet");
    return NULL;
}

dc_tensor * dc_softplus(dc_tensor *t, double beta, double threshold) {
    (void)t;
    (void)beta;
    (void)threshold;
    dc__fail(DC_E_UNSUPPORTED, "dc_softplus: STUB not written yet");
    return NULL;
}

dc_tensor * dc_clamp(dc_tensor *t, double lo, double hi) {
    (void)t;
    (void)lo;
    (void)hi;
    dc__fail(DC_E_UNSUPPORTED, "dc_clamp: STUB not written yet");
    return NULL;
}

dc_status dc__unary_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__unary_backward: STUB not written yet");
}
