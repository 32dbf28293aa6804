/* Status strings and the thread-local record of the last failure. */
#include "internal.h"

#include <stdio.h>

static _Thread_local dc_status tl_status = DC_OK;
static _Thread_local char tl_message[512];

const char *dc_status_str(dc_status status) {
    switch (status) {
    case DC_OK: return "ok";
    case DC_E_INVALID: return "invalid argument";
    case DC_E_NOMEM: return "out of memory";
    case DC_E_SHAPE: return "shape mismatch";
    case DC_E_DTYPE: return "unsupported or mismatched dtype";
    case DC_E_RANGE: return "out of range";
    case DC_E_OVERFLOW: return "size overflow";
    case DC_E_STATE: return "invalid state";
    case DC_E_FORMAT: return "malformed data";
    case DC_E_IO: return "i/o error";
    case DC_E_UNSUPPORTED: return "unsupported";
    case DC_E_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *dc_last_error(void) { return tl_message; }

dc_status dc_last_status(void) { return tl_status; }

void dc_clear_error(void) {
    tl_status = DC_OK;
    tl_message[0] = '\0';
}

dc_status dc__fail(dc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_message, sizeof tl_message, fmt, ap);
    va_end(ap);
    tl_status = status;
    return status;
}

dc_status dc__null_input(const char *func, const char *arg) {
    if (tl_status != DC_OK)
        return tl_status;
    return dc__fail(DC_E_INVALID, "%s: '%s' is NULL", func, arg);
}
