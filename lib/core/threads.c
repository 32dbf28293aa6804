/* The library's thread pool and the threads setting. */
#include "internal.h"

dc_status dc_set_num_threads(int n) {
    (void)n;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

int dc_get_num_threads(void) { return 1; }
