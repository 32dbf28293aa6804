/* Classification and regression metrics. */
#include "../core/internal.h"

dc_status dc_metric_accuracy(const dc_tensor *pred, const dc_tensor *target, double *out) {
    (void)pred;
    (void)target;
    (void)out;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_tensor * dc_confusion_matrix(const dc_tensor *pred, const dc_tensor *target, int64_t num_classes) {
    (void)pred;
    (void)target;
    (void)num_classes;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_metric_per_class(const dc_tensor *pred, const dc_tensor *target, int64_t num_classes, double *precision, double *recall, double *f1) {
    (void)pred;
    (void)target;
    (void)num_classes;
    (void)precision;
    (void)recall;
    (void)f1;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_metric_prf(const dc_tensor *pred, const dc_tensor *target, int64_t num_classes, dc_average average, double *precision, double *recall, double *f1) {
    (void)pred;
    (void)target;
    (void)num_classes;
    (void)average;
    (void)precision;
    (void)recall;
    (void)f1;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_metric_mse(const dc_tensor *pred, const dc_tensor *target, double *out) {
    (void)pred;
    (void)target;
    (void)out;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_metric_mae(const dc_tensor *pred, const dc_tensor *target, double *out) {
    (void)pred;
    (void)target;
    (void)out;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_metric_r2(const dc_tensor *pred, const dc_tensor *target, double *out) {
    (void)pred;
    (void)target;
    (void)out;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
