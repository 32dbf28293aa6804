/* Convolutions on im2col + GEMM. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_conv1d(dc_tensor *x, dc_tensor *w, dc_tensor *b, int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
    (void)x;
    (void)w;
    (void)b;
    (void)stride;
    (void)padding;
    (void)dilation;
    (void)groups;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_conv2d(dc_tensor *x, dc_tensor *w, dc_tensor *b, const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups) {
    (void)x;
    (void)w;
    (void)b;
    (void)stride;
    (void)padding;
    (void)dilation;
    (void)groups;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc__conv2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
