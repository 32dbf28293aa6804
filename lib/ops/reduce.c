/* Reductions over sets of axes. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_sum(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_sum: STUB not written yet");
    return NULL;
}

dc_tensor * dc_mean(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_mean: STUB not written yet");
    return NULL;
}

dc_tensor * dc_max(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_max: STUB not written yet");
    return NULL;
}

dc_tensor * dc_min(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_min: STUB not written yet");
    return NULL;
}

dc_tensor * dc_argmax(dc_tensor *t, int axis, int keepdim) {
    (void)t;
    (void)axis;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_argmax: STUB not written yet");
    return NULL;
}

dc_tensor * dc_argmin(dc_tensor *t, int axis, int keepdim) {
    (void)t;
    (void)axis;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_argmin: STUB not written yet");
    return NULL;
}

dc_tensor * dc_var(dc_tensor *t, const int *axes, int naxes, int correction, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)correction;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_var: STUB not written yet");
    return NULL;
}

dc_tensor * dc_std(dc_tensor *t, const int *axes, int naxes, int correction, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)correction;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_std: STUB not written yet");
    return NULL;
}

dc_tensor * dc_logsumexp(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    (void)t;
    (void)axes;
    (void)naxes;
    (void)keepdim;
    dc__fail(DC_E_UNSUPPORTED, "dc_logsumexp: STUB not written yet");
    return NULL;
}

dc_status dc__sum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__sum_backward: STUB not written yet");
}

dc_status dc__mean_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__mean_backward: STUB not written yet");
}

dc_status dc__max_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__max_backward: STUB not written yet");
}

dc_status dc__var_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__var_backward: STUB not written yet");
}

dc_status dc__logsumexp_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__logsumexp_backward: STUB not written yet");
}
