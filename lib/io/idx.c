/* IDX reader (gzip or plain). */
#include "../core/internal.h"

dc_tensor * dc_idx_load(const char *path, size_t max_bytes) {
    (void)path;
    (void)max_bytes;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
