/* Copies: clone, contiguous, dtype casts. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_clone(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_clone: STUB not written yet");
    return NULL;
}

dc_tensor * dc_contiguous(dc_tensor *t) {
    (void)t;
    dc__fail(DC_E_UNSUPPORTED, "dc_contiguous: STUB not written yet");
    return NULL;
}

dc_tensor * dc_cast(dc_tensor *t, dc_dtype dtype) {
    (void)t;
    (void)dtype;
    dc__fail(DC_E_UNSUPPORTED, "dc_cast: STUB not written yet");
    return NULL;
}

dc_status dc__copy_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__copy_backward: STUB not written yet");
}

dc_status dc__cast_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__cast_backward: STUB not written yet");
}
