/* Pooling over (N, C, H, W). */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_max_pool2d(dc_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding) {
    (void)x;
    (void)kernel;
    (void)stride;
    (void)padding;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_avg_pool2d(dc_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding, int count_include_pad) {
    (void)x;
    (void)kernel;
    (void)stride;
    (void)padding;
    (void)count_include_pad;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_adaptive_avg_pool2d(dc_tensor *x, int64_t out_h, int64_t out_w) {
    (void)x;
    (void)out_h;
    (void)out_w;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc__max_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc__avg_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc__adaptive_avg_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
