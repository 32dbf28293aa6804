/* Initialisers, as torch.nn.init. */
#include "../core/internal.h"

dc_status dc_init_uniform(dc_tensor *t, double low, double high, dc_rng *rng) {
    (void)t;
    (void)low;
    (void)high;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_init_normal(dc_tensor *t, double mean, double std, dc_rng *rng) {
    (void)t;
    (void)mean;
    (void)std;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_init_xavier_uniform(dc_tensor *t, double gain, dc_rng *rng) {
    (void)t;
    (void)gain;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_init_xavier_normal(dc_tensor *t, double gain, dc_rng *rng) {
    (void)t;
    (void)gain;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_init_kaiming_uniform(dc_tensor *t, double a, int fan_out, dc_rng *rng) {
    (void)t;
    (void)a;
    (void)fan_out;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_init_kaiming_normal(dc_tensor *t, double a, int fan_out, dc_rng *rng) {
    (void)t;
    (void)a;
    (void)fan_out;
    (void)rng;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
