/* Binary elementwise ops with NumPy broadcasting. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_add(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_add: STUB not written yet");
    return NULL;
}

dc_tensor * dc_sub(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_sub: STUB not written yet");
    return NULL;
}

dc_tensor * dc_mul(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_mul: STUB not written yet");
    return NULL;
}

dc_tensor * dc_div(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_div: STUB not written yet");
    return NULL;
}

dc_tensor * dc_pow(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_pow: STUB not written yet");
    return NULL;
}

dc_tensor * dc_maximum(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_maximum: STUB not written yet");
    return NULL;
}

dc_tensor * dc_minimum(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_minimum: STUB not written yet");
    return NULL;
}

dc_tensor * dc_where(dc_tensor *cond, dc_tensor *a, dc_tensor *b) {
    (void)cond;
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_where: STUB not written yet");
    return NULL;
}

dc_tensor * dc_add_scalar(dc_tensor *t, double value) {
    (void)t;
    (void)value;
    dc__fail(DC_E_UNSUPPORTED, "dc_add_scalar: STUB not written yet");
    return NULL;
}

dc_tensor * dc_mul_scalar(dc_tensor *t, double value) {
    (void)t;
    (void)value;
    dc__fail(DC_E_UNSUPPORTED, "dc_mul_scalar: STUB not written yet");
    return NULL;
}

dc_tensor * dc_pow_scalar(dc_tensor *t, double exponent) {
    (void)t;
    (void)exponent;
    dc__fail(DC_E_UNSUPPORTED, "dc_pow_scalar: STUB not written yet");
    return NULL;
}

dc_status dc__add_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__add_backward: STUB not written yet");
}

dc_status dc__sub_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__sub_backward: STUB not written yet");
}

dc_status dc__mul_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__mul_backward: STUB not written yet");
}

dc_status dc__div_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__div_backward: STUB not written yet");
}

dc_status dc__pow_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__pow_backward: STUB not written yet");
}

dc_status dc__maximum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__maximum_backward: STUB not written yet");
}

dc_status dc__minimum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__minimum_backward: STUB not written yet");
}

dc_status dc__where_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__where_backward: STUB not written yet");
}

dc_status dc__add_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__add_scalar_backward: STUB not written yet");
}

dc_status dc__mul_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__mul_scalar_backward: STUB not written yet");
}

dc_status dc__pow_scalar_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__pow_scalar_backward: STUB not written yet");
}
