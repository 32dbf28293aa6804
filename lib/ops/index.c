/* Indexing: index_select and gather. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_index_select(dc_tensor *t, int axis, const dc_tensor *index) {
    (void)t;
    (void)axis;
    (void)index;
    dc__fail(DC_E_UNSUPPORTED, "dc_index_select: STUB not written yet");
    return NULL;
}

dc_tensor * dc_gather(dc_tensor *t, int axis, const dc_tensor *index) {
    (void)t;
    (void)axis;
    (void)index;
    dc__fail(DC_E_UNSUPPORTED, "dc_gather: STUB not written yet");
    return NULL;
}

dc_status dc__index_select_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__index_select_backward: STUB not written yet");
}

dc_status dc__gather_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__gather_backward: STUB not written yet");
}
