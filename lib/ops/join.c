/* Joining tensors: concat and stack. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_concat(dc_tensor *const *ts, int n, int axis) {
    (void)ts;
    (void)n;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_concat: STUB not written yet");
    return NULL;
}

dc_tensor * dc_stack(dc_tensor *const *ts, int n, int axis) {
    (void)ts;
    (void)n;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_stack: STUB not written yet");
    return NULL;
}

dc_status dc__concat_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__concat_backward: STUB not written yet");
}
