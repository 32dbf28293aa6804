/* Copies: clone, contiguous, dtype casts. */
#include "../core/internal.h"
#include "op_util.h"

#include <string.h>

/* ---------------------------------------------------------------- */
/* clone, contiguous                                                 */
/* ---------------------------------------------------------------- */

/* t: any shape -> a contiguous copy of the same shape; gradient passes. */
dc_tensor *dc_clone(dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_clone", "t");
    dc_tensor *out = dc__copy_contiguous(t);
    if (!out) return NULL;
    dc_node *node;
    return dc__publish(dc__record_or_drop(out, DC_OP_COPY, &t, 1, &node));
}

dc_tensor *dc_contiguous(dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_contiguous", "t");
    if (dc__tensor_is_contiguous(t)) return dc__publish(dc_retain(t));
    return dc_clone(t);
}

/* gout: the copy's shape -> the input's (the same shape). */
dc_status dc__copy_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                            dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    if (gout->ndim == in->ndim &&
        memcmp(gout->shape, in->shape, (size_t)in->ndim * sizeof *in->shape) == 0) {
        gin[0] = dc_retain(gout);
        return DC_OK;
    }
    return dc__set_grad(gin, 0, dc_reshape(gout, in->ndim, in->shape));
}

/* ---------------------------------------------------------------- */
/* cast                                                              */
/* ---------------------------------------------------------------- */

/* t: any shape, dtype a -> same shape, dtype b. Only float -> float casts
 * are recorded (integer tensors never require grad). */
dc_tensor *dc_cast(dc_tensor *t, dc_dtype dtype) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_cast", "t");
    if (!dc__dtype_valid(dtype)) {
        dc__fail(DC_E_DTYPE, "dc_cast: unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (dtype == t->dtype) return dc__publish(dc_retain(t));
    dc_tensor *out = dc__tensor_new(dtype, t->ndim, t->shape, false);
    if (!out) return NULL;
    dc__copy_elements(out, t);
    if (dc__dtype_is_float(dtype) && dc__dtype_is_float(t->dtype)) {
        dc_node *node;
        out = dc__record_or_drop(out, DC_OP_CAST, &t, 1, &node);
    }
    return dc__publish(out);
}

/* gout: dtype b -> the input's dtype a. */
dc_status dc__cast_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                            dc_tensor **gin) {
    (void)out;
    return dc__set_grad(gin, 0, dc_cast(gout, node->inputs[0]->dtype));
}
