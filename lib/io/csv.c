/* Numeric CSV reader. */
#include "../core/internal.h"

dc_tensor * dc_csv_load(const char *path, int header_rows, dc_dtype dtype) {
    (void)path;
    (void)header_rows;
    (void)dtype;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
