/* Comparisons (results are DC_BOOL; not differentiable). */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_eq(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_eq: STUB not written yet");
    return NULL;
}

dc_tensor * dc_ne(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_ne: STUB not written yet");
    return NULL;
}

dc_tensor * dc_lt(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_lt: STUB not written yet");
    return NULL;
}

dc_tensor * dc_le(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_le: STUB not written yet");
    return NULL;
}

dc_tensor * dc_gt(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_gt: STUB not written yet");
    return NULL;
}

dc_tensor * dc_ge(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_ge: STUB not written yet");
    return NULL;
}
