/* libFuzzer target: numeric CSV parsing from a buffer, for every dtype and
 * with 0 or 1 header lines. Any outcome other than a tensor or
 * DC_E_FORMAT / DC_E_NOMEM is a bug and aborts; so do crashes, leaks and
 * UB under the sanitizers. Cross-check: text that parses as integers also
 * parses as f64, to the same shape and values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc_tensor *parse(const uint8_t *data, size_t size, int header, dc_dtype dtype) {
    dc_clear_error();
    dc_tensor *t = dc__csv_parse((const char *)data, size, header, dtype);
    if (!t) {
        dc_status s = dc_last_status();
        if (s != DC_E_FORMAT && s != DC_E_NOMEM) abort();
        return NULL;
    }
    if (dc_tensor_dtype(t) != dtype || dc_ndim(t) != 2 || dc_size(t, 0) < 1 ||
        dc_size(t, 1) < 1 || !dc_is_contiguous(t))
        abort();
    /* at least one character and a line end or comma per field, roughly */
    if ((size_t)dc_numel(t) > size) abort();
    return t;
}

/* i (an integer parse) and f (the f64 parse of the same text) agree. */
static void compare(dc_tensor *i, dc_tensor *f) {
    if (!f) {
        if (dc_last_status() == DC_E_NOMEM) return;
        abort();
    }
    if (dc_size(i, 0) != dc_size(f, 0) || dc_size(i, 1) != dc_size(f, 1)) abort();
    size_t n = (size_t)dc_numel(i);
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (a && b && dc_copy_to(i, DC_F64, a, n * sizeof *a) == DC_OK &&
        dc_copy_to(f, DC_F64, b, n * sizeof *b) == DC_OK) {
        for (size_t k = 0; k < n; k++)
            if (a[k] != b[k]) abort();   /* both the nearest double to one integer */
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int header = 0; header < 2; header++) {
        dc_tensor *f64 = parse(data, size, header, DC_F64);
        dc_tensor *f32 = parse(data, size, header, DC_F32);
        dc_tensor *i32 = parse(data, size, header, DC_I32);
        dc_tensor *i64 = parse(data, size, header, DC_I64);
        if (i32) compare(i32, f64);
        if (i64) compare(i64, f64);
        dc_release(f64);
        dc_release(f32);
        dc_release(i32);
        dc_release(i64);
    }
    return 0;
}
