/* softmax and log_softmax along one axis. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_softmax(dc_tensor *t, int axis) {
    (void)t;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_softmax: STUB not written yet");
    return NULL;
}

dc_tensor * dc_log_softmax(dc_tensor *t, int axis) {
    (void)t;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_log_softmax: STUB not written yet");
    return NULL;
}

dc_status dc__softmax_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__softmax_backward: STUB not written yet");
}

dc_status dc__log_softmax_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__log_softmax_backward: STUB not written yet");
}
