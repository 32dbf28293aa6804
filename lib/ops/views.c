/* Views: new shapes and strides over the same storage. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_view(dc_tensor *t, int ndim, const int64_t *shape) {
    (void)t;
    (void)ndim;
    (void)shape;
    dc__fail(DC_E_UNSUPPORTED, "dc_view: STUB not written yet");
    return NULL;
}

dc_tensor * dc_reshape(dc_tensor *t, int ndim, const int64_t *shape) {
    (void)t;
    (void)ndim;
    (void)shape;
    dc__fail(DC_E_UNSUPPORTED, "dc_reshape: STUB not written yet");
    return NULL;
}

dc_tensor * dc_flatten(dc_tensor *t, int start_axis, int end_axis) {
    (void)t;
    (void)start_axis;
    (void)end_axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_flatten: STUB not written yet");
    return NULL;
}

dc_tensor * dc_squeeze(dc_tensor *t, int axis) {
    (void)t;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_squeeze: STUB not written yet");
    return NULL;
}

dc_tensor * dc_unsqueeze(dc_tensor *t, int axis) {
    (void)t;
    (void)axis;
    dc__fail(DC_E_UNSUPPORTED, "dc_unsqueeze: STUB not written yet");
    return NULL;
}

dc_tensor * dc_transpose(dc_tensor *t, int axis0, int axis1) {
    (void)t;
    (void)axis0;
    (void)axis1;
    dc__fail(DC_E_UNSUPPORTED, "dc_transpose: STUB not written yet");
    return NULL;
}

dc_tensor * dc_permute(dc_tensor *t, const int *perm) {
    (void)t;
    (void)perm;
    dc__fail(DC_E_UNSUPPORTED, "dc_permute: STUB not written yet");
    return NULL;
}

dc_tensor * dc_slice(dc_tensor *t, int axis, int64_t start, int64_t stop, int64_t step) {
    (void)t;
    (void)axis;
    (void)start;
    (void)stop;
    (void)step;
    dc__fail(DC_E_UNSUPPORTED, "dc_slice: STUB not written yet");
    return NULL;
}

dc_tensor * dc_narrow(dc_tensor *t, int axis, int64_t start, int64_t length) {
    (void)t;
    (void)axis;
    (void)start;
    (void)length;
    dc__fail(DC_E_UNSUPPORTED, "dc_narrow: STUB not written yet");
    return NULL;
}

dc_tensor * dc_expand(dc_tensor *t, int ndim, const int64_t *shape) {
    (void)t;
    (void)ndim;
    (void)shape;
    dc__fail(DC_E_UNSUPPORTED, "dc_expand: STUB not written yet");
    return NULL;
}

dc_status dc__view_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__view_backward: STUB not written yet");
}

dc_status dc__permute_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__permute_backward: STUB not written yet");
}

dc_status dc__slice_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__slice_backward: STUB not written yet");
}

dc_status dc__expand_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__expand_backward: STUB not written yet");
}
