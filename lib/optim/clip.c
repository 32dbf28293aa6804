/* Gradient clipping. */
#include "../core/internal.h"

dc_status dc_clip_grad_norm(dc_tensor *const *params, int n, double max_norm, double norm_type, double *total_norm) {
    (void)params;
    (void)n;
    (void)max_norm;
    (void)norm_type;
    (void)total_norm;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_clip_grad_value(dc_tensor *const *params, int n, double clip_value) {
    (void)params;
    (void)n;
    (void)clip_value;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
