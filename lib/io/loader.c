/* Batching with seeded shuffling. */
#include "../core/internal.h"

dc_loader * dc_loader_new(dc_tensor *x, dc_tensor *y, int64_t batch_size, int shuffle, int drop_last, uint64_t seed) {
    (void)x;
    (void)y;
    (void)batch_size;
    (void)shuffle;
    (void)drop_last;
    (void)seed;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

void dc_loader_release(dc_loader *l) {
    (void)l;
}

int64_t dc_loader_num_batches(const dc_loader *l) {
    (void)l;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}

dc_status dc_loader_reset(dc_loader *l) {
    (void)l;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

int dc_loader_next(dc_loader *l, dc_tensor **xb, dc_tensor **yb) {
    (void)l;
    (void)xb;
    (void)yb;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}
