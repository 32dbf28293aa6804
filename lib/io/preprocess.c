/* Scalers and one-hot encoding. */
#include "../core/internal.h"

dc_scaler * dc_scaler_minmax_new(double lo, double hi) {
    (void)lo;
    (void)hi;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_scaler * dc_scaler_standard_new(void) {
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

void dc_scaler_release(dc_scaler *s) {
    (void)s;
}

dc_status dc_scaler_fit(dc_scaler *s, const dc_tensor *x) {
    (void)s;
    (void)x;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_tensor * dc_scaler_transform(const dc_scaler *s, dc_tensor *x) {
    (void)s;
    (void)x;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_one_hot(const dc_tensor *labels, int64_t num_classes, dc_dtype dtype) {
    (void)labels;
    (void)num_classes;
    (void)dtype;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
