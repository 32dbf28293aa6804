/* libFuzzer target: safetensors parsing, reading every tensor, and loading
 * the input into a small module (strict and not). Any outcome other than
 * success, DC_E_FORMAT, DC_E_UNSUPPORTED (a dtype or rank we do not read),
 * DC_E_SHAPE (a module load that does not fit) or DC_E_NOMEM is a bug and
 * aborts; so do crashes, leaks and UB under the sanitizers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "deepcore/deepcore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect_status(int ok, dc_status allowed_a, dc_status allowed_b) {
    dc_status s = dc_last_status();
    if (!ok && s != allowed_a && s != allowed_b && s != DC_E_NOMEM) abort();
}

static void read_everything(const dc_safetensors *st) {
    int64_t n = dc_safetensors_count(st);
    if (n < 0) abort();
    for (int64_t i = 0; i < n; i++) {
        const char *name = dc_safetensors_name(st, i);
        if (!name) abort();
        dc_tensor *t = dc_safetensors_get(st, name);
        expect_status(t != NULL, DC_E_UNSUPPORTED, DC_E_UNSUPPORTED);
        if (!t) continue;
        /* touch every element */
        size_t bytes = (size_t)dc_numel(t) * sizeof(double);
        double *v = malloc(bytes ? bytes : 1);
        if (v && dc_copy_to(t, DC_F64, v, bytes) != DC_OK) abort();
        free(v);
        dc_release(t);
    }
    (void)dc_safetensors_metadata(st, "format");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc_clear_error();
    dc_safetensors *st = dc_safetensors_from_buffer(data, size);
    expect_status(st != NULL, DC_E_FORMAT, DC_E_FORMAT);
    if (st) {
        read_everything(st);
        dc_safetensors_close(st);
    }
    /* the module loader: names "weight" and "bias" of a Linear(2, 2) */
    dc_module *m = dc_linear_new(2, 2, 1, NULL);
    if (!m) abort();
    for (int strict = 0; strict < 2; strict++) {
        dc_clear_error();
        dc_status s = dc_module_load_buffer(m, data, size, strict);
        if (s != DC_OK && s != DC_E_FORMAT && s != DC_E_SHAPE && s != DC_E_UNSUPPORTED &&
            s != DC_E_NOMEM)
            abort();
    }
    dc_module_release(m);
    return 0;
}
