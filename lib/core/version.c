/* Run-time version of the library that is loaded. */
#include "internal.h"

unsigned dc_version_number(void) { return DC_VERSION_NUMBER; }

const char *dc_version_string(void) { return DC_VERSION_STRING; }
