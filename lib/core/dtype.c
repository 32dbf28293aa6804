/* Dtype facts and element conversion between dtypes. */
#include "internal.h"

#include <math.h>
#include <string.h>

size_t dc_dtype_size(dc_dtype dtype) {
    switch (dtype) {
    case DC_F32: return 4;
    case DC_F64: return 8;
    case DC_I32: return 4;
    case DC_I64: return 8;
    case DC_U8: return 1;
    case DC_BOOL: return 1;
    }
    return 0;
}

const char *dc_dtype_name(dc_dtype dtype) {
    switch (dtype) {
    case DC_F32: return "f32";
    case DC_F64: return "f64";
    case DC_I32: return "i32";
    case DC_I64: return "i64";
    case DC_U8: return "u8";
    case DC_BOOL: return "bool";
    }
    return "?";
}

bool dc__dtype_valid(dc_dtype dtype) { return dc_dtype_size(dtype) != 0; }

bool dc__dtype_is_float(dc_dtype dtype) {
    return dtype == DC_F32 || dtype == DC_F64;
}

double dc__load(const void *base, dc_dtype dtype, int64_t i) {
    switch (dtype) {
    case DC_F32: return ((const float *)base)[i];
    case DC_F64: return ((const double *)base)[i];
    case DC_I32: return ((const int32_t *)base)[i];
    case DC_I64: return (double)((const int64_t *)base)[i];
    case DC_U8: return ((const uint8_t *)base)[i];
    case DC_BOOL: return ((const uint8_t *)base)[i] != 0;
    }
    return 0.0;
}

/* Float to integer: truncation toward zero; NaN and out-of-range values
 * (undefined behaviour in C) saturate instead, and NaN becomes 0. */
static int64_t to_i64(double v) {
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
static int32_t to_i32(double v) {
    if (isnan(v)) return 0;
    if (v >= 2147483647.0) return INT32_MAX;
    if (v <= -2147483648.0) return INT32_MIN;
    return (int32_t)v;
}
static uint8_t to_u8(double v) {
    if (isnan(v) || v <= 0.0) return 0;
    if (v >= 255.0) return 255;
    return (uint8_t)v;
}

void dc__store(void *base, dc_dtype dtype, int64_t i, double value) {
    switch (dtype) {
    case DC_F32: ((float *)base)[i] = (float)value; return;
    case DC_F64: ((double *)base)[i] = value; return;
    case DC_I32: ((int32_t *)base)[i] = to_i32(value); return;
    case DC_I64: ((int64_t *)base)[i] = to_i64(value); return;
    case DC_U8: ((uint8_t *)base)[i] = to_u8(value); return;
    case DC_BOOL: ((uint8_t *)base)[i] = value != 0.0; return;
    }
}

/* Integer sources read as int64 so that i64 -> i64 and i64 -> i32 stay
 * exact (a double would round values past 2^53). */
static bool is_int(dc_dtype d) { return d == DC_I32 || d == DC_I64 || d == DC_U8 || d == DC_BOOL; }

static int64_t load_int(const void *base, dc_dtype dtype, int64_t i) {
    switch (dtype) {
    case DC_I32: return ((const int32_t *)base)[i];
    case DC_I64: return ((const int64_t *)base)[i];
    case DC_U8: return ((const uint8_t *)base)[i];
    case DC_BOOL: return ((const uint8_t *)base)[i] != 0;
    default: return 0;
    }
}

static void store_int(void *base, dc_dtype dtype, int64_t i, int64_t v) {
    switch (dtype) {
    case DC_I32: ((int32_t *)base)[i] = (int32_t)v; return;   /* wraps, as C casts */
    case DC_I64: ((int64_t *)base)[i] = v; return;
    case DC_U8: ((uint8_t *)base)[i] = (uint8_t)v; return;
    case DC_BOOL: ((uint8_t *)base)[i] = v != 0; return;
    default: return;
    }
}

void dc__convert(void *dst, dc_dtype dt, int64_t ds, const void *src,
                 dc_dtype st, int64_t ss, int64_t n) {
    if (dt == st && ds == 1 && ss == 1) {   /* a plain copy of a row */
        memcpy(dst, src, (size_t)n * dc_dtype_size(dt));
    } else if (dt == DC_F32 && st == DC_F32) {
        float *d = dst; const float *s = src;
        for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
    } else if (dt == DC_F64 && st == DC_F64) {
        double *d = dst; const double *s = src;
        for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
    } else if (dt == DC_F32 && st == DC_F64) {
        float *d = dst; const double *s = src;
        for (int64_t i = 0; i < n; i++) d[i * ds] = (float)s[i * ss];
    } else if (dt == DC_F64 && st == DC_F32) {
        double *d = dst; const float *s = src;
        for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
    } else if (is_int(dt) && is_int(st)) {
        for (int64_t i = 0; i < n; i++)
            store_int(dst, dt, i * ds, load_int(src, st, i * ss));
    } else {
        for (int64_t i = 0; i < n; i++)
            dc__store(dst, dt, i * ds, dc__load(src, st, i * ss));
    }
}
