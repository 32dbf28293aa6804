/* Built with -std=c99 / -std=c11 -pedantic -Werror: the public header must
 * compile cleanly under both, and the versions must agree at run time. */
#include <deepcore/deepcore.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    if (dc_version_number() != DC_VERSION_NUMBER) {
        printf("1 passed, 1 failed: version number %u, header %d\n", dc_version_number(),
               DC_VERSION_NUMBER);
        return 1;
    }
    if (strcmp(dc_version_string(), DC_VERSION_STRING) != 0) {
        printf("version string %s, header %s\n", dc_version_string(), DC_VERSION_STRING);
        return 1;
    }
    dc_tensor *t = dc_zeros(DC_F32, 0, NULL);
    double v = -1;
    int ok = t && dc_item(t, &v) == DC_OK && v == 0.0;
    dc_release(t);
    return ok ? 0 : 1;
}
