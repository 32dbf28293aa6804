/* Comparisons (results are DC_BOOL; not differentiable, never recorded).
 * Both sides have one dtype (any); comparisons are made in that dtype, so
 * large i64 values compare exactly. NaN is unequal to everything. */
#include "../core/internal.h"
#include "op_util.h"

#include <stdio.h>
#include <string.h>

typedef enum cmp_kind { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_kind;

/* One row: o[i] = x[i] OP y[i], strides in elements. */
typedef void (*cmp_row_fn)(cmp_kind kind, uint8_t *o, int64_t so, const void *x, int64_t sx,
                           const void *y, int64_t sy, int64_t n);

#define CMP_LOOP(OP)                                                  \
    for (int64_t i = 0; i < n; i++) o[i * so] = x[i * sx] OP y[i * sy]; \
    break;

#define CMP_ROW(NAME, T)                                                           \
    static void NAME(cmp_kind kind, uint8_t *o, int64_t so, const void *x_,        \
                     int64_t sx, const void *y_, int64_t sy, int64_t n) {          \
        const T *x = x_, *y = y_;                                                  \
        switch (kind) {                                                            \
        case CMP_EQ: CMP_LOOP(==)                                                  \
        case CMP_NE: CMP_LOOP(!=)                                                  \
        case CMP_LT: CMP_LOOP(<)                                                   \
        case CMP_LE: CMP_LOOP(<=)                                                  \
        case CMP_GT: CMP_LOOP(>)                                                   \
        case CMP_GE: CMP_LOOP(>=)                                                  \
        }                                                                          \
    }

CMP_ROW(cmp_f32, float)
CMP_ROW(cmp_f64, double)
CMP_ROW(cmp_i32, int32_t)
CMP_ROW(cmp_i64, int64_t)
CMP_ROW(cmp_u8, uint8_t)   /* also bool: bytes that are 0 or 1 */

static cmp_row_fn cmp_row_for(dc_dtype dtype) {
    switch (dtype) {
    case DC_F32: return cmp_f32;
    case DC_F64: return cmp_f64;
    case DC_I32: return cmp_i32;
    case DC_I64: return cmp_i64;
    case DC_U8:
    case DC_BOOL: return cmp_u8;
    }
    return NULL;
}

/* a: A, b: B (one dtype) -> broadcast(A, B), bool */
static dc_tensor *compare(const char *func, cmp_kind kind, dc_tensor *a, dc_tensor *b) {
    DC_CHECK_TENSOR_OR_NULL(a, func, "a");
    DC_CHECK_TENSOR_OR_NULL(b, func, "b");
    if (!dc__require_same_dtype(a, b, func)) return NULL;
    cmp_row_fn fn = cmp_row_for(a->dtype);
    if (!fn) {
        dc__fail(DC_E_DTYPE, "%s: unknown dtype %d", func, (int)a->dtype);
        return NULL;
    }
    int nd;
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    if (dc__broadcast_shapes(a->ndim, a->shape, b->ndim, b->shape, &nd, shape) != DC_OK ||
        dc__check_shape(NULL, nd, shape, &numel) != DC_OK) {
        char why[256];   /* dc__fail must not read the buffer it writes */
        snprintf(why, sizeof why, "%s", dc_last_error());
        dc__fail(dc_last_status(), "%s: %s", func, why);
        return NULL;
    }
    dc_tensor *out = dc__tensor_new(DC_BOOL, nd, shape, false);
    if (!out) return NULL;
    if (out->numel > 0) {
        int64_t strides[3][DC_MAX_DIMS];
        memcpy(strides[0], out->strides, sizeof out->strides);
        dc__broadcast_strides(a, nd, shape, strides[1]);
        dc__broadcast_strides(b, nd, shape, strides[2]);
        int64_t offs[3] = {out->offset, a->offset, b->offset};
        dc_iter it;
        dc__iter_init(&it, nd, shape, 3, strides, offs);
        int64_t esz = (int64_t)dc_dtype_size(a->dtype);
        uint8_t *o = out->storage->data;
        const char *x = a->storage->data, *y = b->storage->data;
        while (dc__iter_next(&it))
            fn(kind, o + it.off[0], it.istride[0], x + it.off[1] * esz, it.istride[1],
               y + it.off[2] * esz, it.istride[2], it.inner);
    }
    return dc__publish(out);
}

dc_tensor *dc_eq(dc_tensor *a, dc_tensor *b) { return compare("dc_eq", CMP_EQ, a, b); }
dc_tensor *dc_ne(dc_tensor *a, dc_tensor *b) { return compare("dc_ne", CMP_NE, a, b); }
dc_tensor *dc_lt(dc_tensor *a, dc_tensor *b) { return compare("dc_lt", CMP_LT, a, b); }
dc_tensor *dc_le(dc_tensor *a, dc_tensor *b) { return compare("dc_le", CMP_LE, a, b); }
dc_tensor *dc_gt(dc_tensor *a, dc_tensor *b) { return compare("dc_gt", CMP_GT, a, b); }
dc_tensor *dc_ge(dc_tensor *a, dc_tensor *b) { return compare("dc_ge", CMP_GE, a, b); }
