/* The MLP of the zoo. */
#include "../core/internal.h"

dc_module * dc_zoo_mlp_new(const int64_t *sizes, int n_sizes, dc_activation activation, double dropout, dc_rng *rng) {
    (void)sizes;
    (void)n_sizes;
    (void)activation;
    (void)dropout;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
