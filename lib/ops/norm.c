/* Batch and layer normalisation. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_batch_norm(dc_tensor *x, dc_tensor *running_mean, dc_tensor *running_var, dc_tensor *weight, dc_tensor *bias, int training, double momentum, double eps) {
    (void)x;
    (void)running_mean;
    (void)running_var;
    (void)weight;
    (void)bias;
    (void)training;
    (void)momentum;
    (void)eps;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_layer_norm(dc_tensor *x, int normalized_ndim, dc_tensor *weight, dc_tensor *bias, double eps) {
    (void)x;
    (void)normalized_ndim;
    (void)weight;
    (void)bias;
    (void)eps;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
