/* LeNet-5 and a small ResNet. */
#include "../core/internal.h"

dc_module * dc_zoo_lenet5_new(int64_t in_channels, int64_t num_classes, dc_rng *rng) {
    (void)in_channels;
    (void)num_classes;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_zoo_resnet_new(int64_t in_channels, int64_t num_classes, int64_t width, const int *blocks_per_stage, int n_stages, dc_rng *rng) {
    (void)in_channels;
    (void)num_classes;
    (void)width;
    (void)blocks_per_stage;
    (void)n_stages;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
