/* Losses as handles. */
#include "../core/internal.h"

dc_loss * dc_loss_new(dc_loss_kind kind, dc_reduction reduction) {
    (void)kind;
    (void)reduction;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

void dc_loss_release(dc_loss *loss) {
    (void)loss;
}

dc_status dc_loss_set_beta(dc_loss *loss, double beta) {
    (void)loss;
    (void)beta;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_loss_set_ignore_index(dc_loss *loss, int64_t index) {
    (void)loss;
    (void)index;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_loss_set_label_smoothing(dc_loss *loss, double s) {
    (void)loss;
    (void)s;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_loss_set_weight(dc_loss *loss, dc_tensor *weight) {
    (void)loss;
    (void)weight;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_loss_set_pos_weight(dc_loss *loss, dc_tensor *pos_weight) {
    (void)loss;
    (void)pos_weight;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_tensor * dc_loss_forward(dc_loss *loss, dc_tensor *input, dc_tensor *target) {
    (void)loss;
    (void)input;
    (void)target;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
