/* libFuzzer target: IDX parsing (plain and gzip) from a buffer. Any outcome
 * other than a tensor or DC_E_FORMAT / DC_E_NOMEM is a bug and aborts; so
 * do crashes, leaks and UB under the sanitizers. A returned tensor must
 * agree with the header it came from and stay within the limit.
 *
 * Random bytes almost never form a valid gzip stream, so the input is also
 * gzip-compressed here and parsed again: the plain and the gzip paths must
 * agree (both fail, or both give the same tensor). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/io_internal.h"

/* Small enough that the fuzzer cannot make the target allocate gigabytes. */
#define FUZZ_MAX_BYTES ((size_t)1 << 24)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The elements as doubles (malloc'd), after checking the tensor. */
static double *check_tensor(dc_tensor *t, const uint8_t *data, size_t size) {
    dc_dtype dt = dc_tensor_dtype(t);
    if (dt != DC_U8 && dt != DC_I32 && dt != DC_F32 && dt != DC_F64) abort();
    int nd = dc_ndim(t);
    if (nd < 1 || nd > DC_MAX_DIMS) abort();
    size_t bytes = (size_t)dc_numel(t) * dc_dtype_size(dt);
    if (bytes > FUZZ_MAX_BYTES) abort();
    /* (dc_is_contiguous says 0 for some empty shapes such as (0, 0)) */
    if (dc_numel(t) > 0 && !dc_is_contiguous(t)) abort();
    int gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzip && (size < 4 || data[3] != nd)) abort();
    size_t n = (size_t)dc_numel(t) * sizeof(double);
    double *v = malloc(n ? n : 1);
    if (!v) abort();
    if (dc_copy_to(t, DC_F64, v, n) != DC_OK) abort();
    return v;
}

/* data as one gzip member (malloc'd), or NULL. */
static unsigned char *gzip_of(const uint8_t *data, size_t size, size_t *out_size) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, (uLong)size);
    unsigned char *out = malloc(cap);
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int rc = out ? deflate(&zs, Z_FINISH) : Z_MEM_ERROR;
    *out_size = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void same_result(dc_tensor *a, const double *av, dc_tensor *b, const double *bv) {
    if ((a == NULL) != (b == NULL)) abort();
    if (!a) return;
    if (dc_tensor_dtype(a) != dc_tensor_dtype(b) || dc_ndim(a) != dc_ndim(b)) abort();
    if (memcmp(dc_shape(a), dc_shape(b), (size_t)dc_ndim(a) * sizeof(int64_t)) != 0) abort();
    if (memcmp(av, bv, (size_t)dc_numel(a) * sizeof(double)) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc_clear_error();
    dc_tensor *t = dc__idx_parse(data, size, FUZZ_MAX_BYTES);
    if (!t && dc_last_status() != DC_E_FORMAT && dc_last_status() != DC_E_NOMEM) abort();
    double *tv = t ? check_tensor(t, data, size) : NULL;

    int is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    size_t gz_size;
    unsigned char *gz = is_gzip ? NULL : gzip_of(data, size, &gz_size);
    if (gz) {
        dc_clear_error();
        dc_tensor *g = dc__idx_parse(gz, gz_size, FUZZ_MAX_BYTES);
        if (!g && dc_last_status() != DC_E_FORMAT && dc_last_status() != DC_E_NOMEM) abort();
        double *gv = g ? check_tensor(g, gz, gz_size) : NULL;
        same_result(t, tv, g, gv);
        free(gv);
        dc_release(g);
        free(gz);
    }
    free(tv);
    dc_release(t);
    return 0;
}
