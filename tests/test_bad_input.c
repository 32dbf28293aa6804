/* Bad input for every public function.
 *
 * One table entry per function declared DC_API in the public headers
 * (tests/check_bad_input_coverage.sh keeps the table complete). Each case
 * calls its function with bad input and asserts the status it returns (or
 * NULL / -1 and dc_last_status()) and that dc_last_error() says something.
 * Functions that cannot fail on bad input assert that NULL or odd input is
 * harmless. The table runs as a loop test under tu_tcase's leak fixture, so
 * every case is a test of its own and no error path may leak.
 *
 * The NaN/Inf policy of doc/reliability.md is checked here too: ops
 * propagate NaN and Inf as IEEE arithmetic does; hyper-parameters and
 * constructor sizes reject them. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Name of the function under test, for the failure messages. */
static const char *cur_name = "?";

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

/* A tensor of the shape, filled with v; owned by the case's scope. */
static dc_tensor *mk(dc_dtype dtype, int ndim, const int64_t *shape, double v) {
    dc_tensor *t = dc_full(dtype, ndim, shape, v);
    ck_assert_msg(t != NULL, "%s: making a test tensor: %s", cur_name, dc_last_error());
    return t;
}
#define F32(...) mk(DC_F32, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 0.5)
#define F64(...) mk(DC_F64, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 0.5)
#define I32(...) mk(DC_I32, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 0)
#define I64(...) mk(DC_I64, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 0)
#define U8(...) mk(DC_U8, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 1)
#define BOOLT(...) mk(DC_BOOL, NDIM(__VA_ARGS__), SH(__VA_ARGS__), 1)
#define NANT(...) mk(DC_F32, NDIM(__VA_ARGS__), SH(__VA_ARGS__), NAN)
#define INFT(...) mk(DC_F32, NDIM(__VA_ARGS__), SH(__VA_ARGS__), INFINITY)

/* Sizes whose element count overflows int64. */
static const int64_t HUGE_SHAPE[2] = {INT64_MAX / 2, 4};

/* The rule of doc/reliability.md for messages: they start with the name
 * of the public function that failed, "dc_xxx: what is wrong" (or
 * "dc_xxx (Model): ..." for a zoo model's forward). A layer's forward
 * names the layer instead, as doc/reliability.md says:
 * "Linear(in=4, out=3): ...", "Sequential[2]: Linear(...): ...". */
static bool names_function(const char *m) {
    if (strncmp(m, "dc_", 3) != 0) return false;
    size_t n = 3 + strspn(m + 3, "abcdefghijklmnopqrstuvwxyz0123456789_");
    return n > 3 && (strncmp(m + n, ": ", 2) == 0 || strncmp(m + n, " (", 2) == 0);
}
static bool names_layer(const char *m) {
    size_t n = strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    return n > 0 && m[0] >= 'A' && m[0] <= 'Z' && (m[n] == '(' || m[n] == '[') &&
           strstr(m, ": ") != NULL;
}
static void assert_message_named(const char *expr) {
    const char *m = dc_last_error();
    bool forward = strncmp(expr, "dc_module_forward(", 18) == 0;
    ck_assert_msg(names_function(m) || (forward && names_layer(m)),
                  "%s: %s: the message does not start with \"dc_xxx: \": \"%s\"",
                  cur_name, expr, m);
}

/* expr returns a pointer: NULL with status and a message. */
#define NULLW(expr, status)                                                   \
    do {                                                                      \
        dc_clear_error();                                                     \
        const void *p_ = (const void *)(expr);                                \
        ck_assert_msg(p_ == NULL, "%s: %s succeeded, wanted %s", cur_name,    \
                      #expr, dc_status_str(status));                          \
        ck_assert_msg(dc_last_status() == (status), "%s: %s -> %s (%s), wanted %s", \
                      cur_name, #expr, dc_status_str(dc_last_status()),       \
                      dc_last_error(), dc_status_str(status));                \
        ck_assert_msg(dc_last_error()[0] != '\0', "%s: %s set no message",    \
                      cur_name, #expr);                                       \
        assert_message_named(#expr);                                          \
    } while (0)
/* expr returns a status: this failure, with a message. */
#define FAILS(expr, status)                                                   \
    do {                                                                      \
        dc_clear_error();                                                     \
        dc_status st_ = (expr);                                               \
        ck_assert_msg(st_ == (status), "%s: %s -> %s (%s), wanted %s", cur_name, \
                      #expr, dc_status_str(st_), dc_last_error(),             \
                      dc_status_str(status));                                 \
        ck_assert_msg(dc_last_error()[0] != '\0', "%s: %s set no message",    \
                      cur_name, #expr);                                       \
        assert_message_named(#expr);                                          \
        ck_assert_msg(dc_last_status() == (status), "%s: %s recorded %s",     \
                      cur_name, #expr, dc_status_str(dc_last_status()));      \
    } while (0)
/* expr returns an integer: the value bad, with status and a message. */
#define RETW(expr, bad, status)                                               \
    do {                                                                      \
        dc_clear_error();                                                     \
        long long r_ = (long long)(expr);                                     \
        ck_assert_msg(r_ == (long long)(bad), "%s: %s -> %lld, wanted %lld",  \
                      cur_name, #expr, r_, (long long)(bad));                 \
        ck_assert_msg(dc_last_status() == (status), "%s: %s -> %s (%s), wanted %s", \
                      cur_name, #expr, dc_status_str(dc_last_status()),       \
                      dc_last_error(), dc_status_str(status));                \
        ck_assert_msg(dc_last_error()[0] != '\0', "%s: %s set no message",    \
                      cur_name, #expr);                                       \
        assert_message_named(#expr);                                          \
    } while (0)
/* stmt (a release of NULL) is a no-op: no error is recorded. */
#define HARMLESS(stmt)                                                        \
    do {                                                                      \
        dc_clear_error();                                                     \
        stmt;                                                                 \
        ck_assert_msg(dc_last_status() == DC_OK, "%s: %s recorded %s (%s)",   \
                      cur_name, #stmt, dc_status_str(dc_last_status()),       \
                      dc_last_error());                                       \
    } while (0)
/* expr must succeed (non-NULL pointer). */
static dc_tensor *okp_(dc_tensor *t, const char *what) {
    ck_assert_msg(t != NULL, "%s: %s failed: %s", cur_name, what, dc_last_error());
    return t;
}
#define OKP(expr) okp_((expr), #expr)
static dc_module *okm_(dc_module *m, const char *what) {
    ck_assert_msg(m != NULL, "%s: %s failed: %s", cur_name, what, dc_last_error());
    return m;
}
#define OKM(expr) okm_((expr), #expr)
#define OK(expr)                                                              \
    do {                                                                      \
        dc_status st_ = (expr);                                               \
        ck_assert_msg(st_ == DC_OK, "%s: %s -> %s: %s", cur_name, #expr,      \
                      dc_status_str(st_), dc_last_error());                   \
    } while (0)

#define SHAPE_IS(t, ...) tu_assert_shape((t), NDIM(__VA_ARGS__), SH(__VA_ARGS__))

/* Every element of t (converted to double) is NaN / the value v. */
static void all_nan(const dc_tensor *t) {
    ck_assert_msg(t != NULL, "%s: NULL result: %s", cur_name, dc_last_error());
    int64_t n = dc_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    OK(dc_copy_to(t, DC_F64, v, (size_t)n * sizeof *v));
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isnan(x)) {
            free(v);
            ck_abort_msg("%s: element %lld is %g, wanted NaN", cur_name, (long long)i, x);
        }
    }
    free(v);
}

static double first(const dc_tensor *t) {
    ck_assert_msg(t != NULL, "%s: NULL result: %s", cur_name, dc_last_error());
    double v = 0;
    int64_t n = dc_numel(t);
    double *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    ck_assert_ptr_nonnull(all);
    OK(dc_copy_to(t, DC_F64, all, (size_t)n * sizeof *all));
    v = all[0];
    free(all);
    return v;
}

/* Elementwise binary op checks: NULLs, mismatched dtypes, shapes that do
 * not broadcast, integer dtypes where not allowed, empty operands. */
typedef dc_tensor *(*binop_fn)(dc_tensor *, dc_tensor *);

static void check_binary(binop_fn f, bool ints_ok, bool nan_propagates) {
    dc_tensor *a = F32(2, 3);
    NULLW(f(NULL, a), DC_E_INVALID);
    NULLW(f(a, NULL), DC_E_INVALID);
    NULLW(f(a, F64(2, 3)), DC_E_DTYPE);
    NULLW(f(I32(2, 3), I64(2, 3)), DC_E_DTYPE);
    NULLW(f(a, F32(4)), DC_E_SHAPE);
    NULLW(f(F32(2, 3), F32(3, 2)), DC_E_SHAPE);
    if (!ints_ok) NULLW(f(I32(2, 3), I32(2, 3)), DC_E_DTYPE);
    else OKP(f(mk(DC_I32, 2, SH(2, 3), 1), mk(DC_I32, 2, SH(2, 3), 1)));
    /* 0-size axes are valid and give empty results */
    SHAPE_IS(OKP(f(F32(0, 3), F32(1, 3))), 0, 3);
    NULLW(f(F32(0, 3), F32(2, 3)), DC_E_SHAPE);
    if (nan_propagates) all_nan(OKP(f(NANT(3), F32(3))));
}

typedef dc_tensor *(*unop_fn)(dc_tensor *);

/* NULL, integers where not allowed, empty inputs, NaN in -> NaN out. */
static void check_unary(unop_fn f, bool ints_ok) {
    NULLW(f(NULL), DC_E_INVALID);
    if (!ints_ok) {
        NULLW(f(I32(2)), DC_E_DTYPE);
        NULLW(f(BOOLT(2)), DC_E_DTYPE);
    } else {
        OKP(f(I64(2)));
    }
    SHAPE_IS(OKP(f(F32(0, 4))), 0, 4);
    all_nan(OKP(f(NANT(2, 2))));
    all_nan(OKP(f(mk(DC_F64, 1, SH(3), NAN))));
}

typedef dc_tensor *(*reduce_fn)(dc_tensor *, const int *, int, int);

/* Out-of-range and repeated axes, NULL axes with naxes > 0. */
static void check_reduce_axes(reduce_fn f) {
    dc_tensor *t = F32(2, 3);
    NULLW(f(NULL, NULL, 0, 0), DC_E_INVALID);
    NULLW(f(t, (int[]){2}, 1, 0), DC_E_RANGE);
    NULLW(f(t, (int[]){-3}, 1, 0), DC_E_RANGE);
    NULLW(f(t, (int[]){0, 0}, 2, 0), DC_E_INVALID);
    NULLW(f(t, (int[]){0, -2}, 2, 0), DC_E_INVALID);
    NULLW(f(t, NULL, 1, 0), DC_E_INVALID);
    NULLW(f(t, (int[]){0}, -1, 0), DC_E_INVALID);
    NULLW(f(t, (int[]){0}, DC_MAX_DIMS + 1, 0), DC_E_INVALID);
}

/* A temporary file path unique to this process. */
static void tmp_path(char *buf, size_t n, const char *stem) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, n, "%s/dc_bad_%s_%ld.bin", dir && *dir ? dir : "/tmp", stem, (long)getpid());
}

/* A file holding these bytes, for the readers. */
static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A parameter of the shape that requires grad, with a gradient of ones
 * (filled in by a backward of the sum). */
static dc_tensor *param_with_grad(int ndim, const int64_t *shape) {
    dc_tensor *p = mk(DC_F32, ndim, shape, 0.5);
    OK(dc_set_requires_grad(p, 1));
    OK(dc_backward(OKP(dc_sum(p, NULL, 0, 0)), NULL, 0));
    return p;
}

/* ------------------------------------------------------------------ */
/* Version, errors, allocator, settings, dtypes                        */
/* ------------------------------------------------------------------ */

static void bad_version_number(void) {
    /* cannot fail: takes nothing, sets no error */
    dc_clear_error();
    ck_assert_uint_eq(dc_version_number(), DC_VERSION_NUMBER);
    ck_assert_int_eq(dc_last_status(), DC_OK);
}

static void bad_version_string(void) {
    dc_clear_error();
    ck_assert_str_eq(dc_version_string(), DC_VERSION_STRING);
    ck_assert_int_eq(dc_last_status(), DC_OK);
}

static void bad_status_str(void) {
    /* values outside the enum give a string, never NULL */
    ck_assert_str_eq(dc_status_str((dc_status)-1), "unknown status");
    ck_assert_str_eq(dc_status_str((dc_status)12), "unknown status");
    ck_assert_str_eq(dc_status_str((dc_status)0x7fffffff), "unknown status");
}

static void bad_last_error(void) {
    dc_clear_error();
    ck_assert_str_eq(dc_last_error(), "");
    NULLW(dc_zeros(DC_F32, 1, SH(-1)), DC_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "negative"));
    /* a success does not clear it (errno style) */
    OKP(F32(1));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "negative"));
}

static void bad_last_status(void) {
    dc_clear_error();
    ck_assert_int_eq(dc_last_status(), DC_OK);
    NULLW(dc_zeros(DC_F32, 2, HUGE_SHAPE), DC_E_OVERFLOW);
    ck_assert_int_eq(dc_last_status(), DC_E_OVERFLOW);
}

static void bad_clear_error(void) {
    NULLW(dc_scalar((dc_dtype)42, 1.0), DC_E_DTYPE);
    dc_clear_error();
    dc_clear_error();   /* twice is harmless */
    ck_assert_int_eq(dc_last_status(), DC_OK);
    ck_assert_str_eq(dc_last_error(), "");
}

static void *never_malloc(size_t n, void *c) { (void)n; (void)c; return NULL; }
static void *never_realloc(void *p, size_t n, void *c) { (void)p; (void)n; (void)c; return NULL; }
static void never_free(void *p, void *c) { (void)p; (void)c; }

static void bad_set_allocator(void) {
    FAILS(dc_set_allocator(never_malloc, NULL, NULL, NULL), DC_E_INVALID);
    FAILS(dc_set_allocator(NULL, never_realloc, never_free, NULL), DC_E_INVALID);
    /* objects alive (the case's tensor): refused */
    dc_tensor *t = F32(2);
    (void)t;
    FAILS(dc_set_allocator(never_malloc, never_realloc, never_free, NULL), DC_E_STATE);
    /* the refused call changed nothing: allocation still works */
    OKP(F32(3));
}

static void bad_live_allocations(void) {
    int64_t before = dc_live_allocations();
    ck_assert_int_ge(before, 0);
    NULLW(dc_zeros(DC_F32, 2, HUGE_SHAPE), DC_E_OVERFLOW);
    ck_assert_int_eq(dc_live_allocations(), before);
}

static void bad_set_num_threads(void) {
    int before = dc_get_num_threads();
    FAILS(dc_set_num_threads(-1), DC_E_INVALID);
    FAILS(dc_set_num_threads(1 << 30), DC_E_INVALID);
    ck_assert_int_eq(dc_get_num_threads(), before);
}

static void bad_get_num_threads(void) {
    dc_clear_error();
    ck_assert_int_ge(dc_get_num_threads(), 1);
    ck_assert_int_eq(dc_last_status(), DC_OK);
}

static void bad_set_gemm_backend(void) {
    dc_gemm_backend before = dc_get_gemm_backend();
    FAILS(dc_set_gemm_backend((dc_gemm_backend)3), DC_E_INVALID);
    FAILS(dc_set_gemm_backend((dc_gemm_backend)-1), DC_E_INVALID);
    ck_assert_int_eq(dc_get_gemm_backend(), before);
}

static void bad_get_gemm_backend(void) {
    dc_gemm_backend b = dc_get_gemm_backend();
    ck_assert(b == DC_GEMM_AUTO || b == DC_GEMM_OWN || b == DC_GEMM_CBLAS);
}

static void bad_kernel_info(void) {
    const char *s = dc_kernel_info();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(dc_kernel_info());
}

static void bad_dtype_size(void) {
    ck_assert_uint_eq(dc_dtype_size((dc_dtype)-1), 0);
    ck_assert_uint_eq(dc_dtype_size((dc_dtype)6), 0);
    ck_assert_uint_eq(dc_dtype_size((dc_dtype)1000), 0);
}

static void bad_dtype_name(void) {
    ck_assert_str_eq(dc_dtype_name((dc_dtype)-1), "?");
    ck_assert_str_eq(dc_dtype_name((dc_dtype)6), "?");
}

/* ------------------------------------------------------------------ */
/* Random generators                                                   */
/* ------------------------------------------------------------------ */

static void bad_rng_new(void) {
    /* every seed is valid, including 0 and all ones */
    dc_rng *a = dc_rng_new(0), *b = dc_rng_new(UINT64_MAX);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    uint64_t s[4];
    OK(dc_rng_get_state(a, s));
    ck_assert(s[0] | s[1] | s[2] | s[3]);   /* never the all-zero state */
    dc_rng_free(a);
    dc_rng_free(b);
}

static void bad_rng_free(void) { HARMLESS(dc_rng_free(NULL)); }

static void bad_rng_seed(void) {
    /* NULL seeds the thread's generator */
    OK(dc_rng_seed(NULL, 7));
    uint64_t a[4], b[4];
    OK(dc_rng_get_state(NULL, a));
    dc_manual_seed(7);
    OK(dc_rng_get_state(NULL, b));
    ck_assert(memcmp(a, b, sizeof a) == 0);
}

static void bad_manual_seed(void) {
    dc_manual_seed(0);
    dc_manual_seed(UINT64_MAX);
    uint64_t s[4];
    OK(dc_rng_get_state(NULL, s));
    ck_assert(s[0] | s[1] | s[2] | s[3]);
}

static void bad_rng_get_state(void) {
    dc_rng *r = dc_rng_new(1);
    FAILS(dc_rng_get_state(r, NULL), DC_E_INVALID);
    FAILS(dc_rng_get_state(NULL, NULL), DC_E_INVALID);
    dc_rng_free(r);
}

static void bad_rng_set_state(void) {
    dc_rng *r = dc_rng_new(1);
    uint64_t before[4], after[4];
    OK(dc_rng_get_state(r, before));
    FAILS(dc_rng_set_state(r, NULL), DC_E_INVALID);
    FAILS(dc_rng_set_state(r, (const uint64_t[4]){0, 0, 0, 0}), DC_E_INVALID);
    OK(dc_rng_get_state(r, after));
    ck_assert(memcmp(before, after, sizeof before) == 0);
    dc_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* Lifetime and scopes                                                 */
/* ------------------------------------------------------------------ */

static void bad_retain(void) {
    HARMLESS(ck_assert_ptr_null(dc_retain(NULL)));   /* NULL stays NULL */
}

static void bad_release(void) {
    HARMLESS(dc_release(NULL));
    /* a second release is safe while another reference keeps it alive */
    dc_tensor *t = dc_retain(F32(2));
    dc_release(t);
    ck_assert_int_eq(dc_numel(t), 2);
}

static void bad_scope_begin(void) {
    /* deep nesting, ended from the outside, is fine */
    dc_scope *outer = dc_scope_begin();
    ck_assert_ptr_nonnull(outer);
    for (int i = 0; i < 100; i++) {
        ck_assert_ptr_nonnull(dc_scope_begin());
        OKP(F32(1));
    }
    OK(dc_scope_end(outer));
}

static void bad_scope_end(void) {
    FAILS(dc_scope_end(NULL), DC_E_INVALID);
}

static void bad_autorelease(void) {
    /* like an op given NULL: NULL, and DC_E_INVALID unless an error is
     * already recorded (which it keeps) */
    NULLW(dc_autorelease(NULL), DC_E_INVALID);
    NULLW(dc_zeros(DC_F32, 1, SH(-1)), DC_E_SHAPE);
    ck_assert_ptr_null(dc_autorelease(NULL));
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
}

/* ------------------------------------------------------------------ */
/* Making tensors                                                      */
/* ------------------------------------------------------------------ */

typedef dc_tensor *(*make_fn)(dc_dtype, int, const int64_t *);

static void check_make(make_fn f) {
    NULLW(f((dc_dtype)42, 1, SH(2)), DC_E_DTYPE);
    NULLW(f((dc_dtype)-1, 1, SH(2)), DC_E_DTYPE);
    NULLW(f(DC_F32, -1, SH(2)), DC_E_SHAPE);
    NULLW(f(DC_F32, DC_MAX_DIMS + 1, SH(1, 1, 1, 1, 1, 1, 1, 1, 1)), DC_E_SHAPE);
    NULLW(f(DC_F32, 2, NULL), DC_E_INVALID);
    NULLW(f(DC_F32, 2, SH(2, -1)), DC_E_SHAPE);
    NULLW(f(DC_F32, 2, HUGE_SHAPE), DC_E_OVERFLOW);
    NULLW(f(DC_F64, 3, SH(INT64_MAX, 0, 2)), DC_E_OVERFLOW);
    NULLW(f(DC_U8, 1, SH((int64_t)1 << 60)), DC_E_OVERFLOW);   /* over 2^59 elements */
    /* 0-size axes and scalars are valid */
    SHAPE_IS(OKP(f(DC_F32, 2, SH(0, 5))), 0, 5);
    OKP(f(DC_I64, 0, NULL));
}

static void bad_empty(void) { check_make(dc_empty); }
static void bad_zeros(void) { check_make(dc_zeros); }
static void bad_ones(void) { check_make(dc_ones); }

static void bad_full(void) {
    NULLW(dc_full((dc_dtype)9, 1, SH(2), 1.0), DC_E_DTYPE);
    NULLW(dc_full(DC_F32, 2, HUGE_SHAPE, 1.0), DC_E_OVERFLOW);
    NULLW(dc_full(DC_F32, 1, NULL, 1.0), DC_E_INVALID);
    /* a NaN fill of a floating tensor is data, not a parameter */
    all_nan(OKP(dc_full(DC_F64, 1, SH(2), NAN)));
}

static void bad_scalar(void) {
    NULLW(dc_scalar((dc_dtype)9, 1.0), DC_E_DTYPE);
    ck_assert(isinf(first(OKP(dc_scalar(DC_F32, INFINITY)))));
}

static void bad_arange(void) {
    NULLW(dc_arange(DC_F32, 0, 10, 0), DC_E_INVALID);
    NULLW(dc_arange(DC_F32, 0, NAN, 1), DC_E_INVALID);
    NULLW(dc_arange(DC_F32, -INFINITY, 0, 1), DC_E_INVALID);
    NULLW(dc_arange(DC_F32, 0, 1, INFINITY), DC_E_INVALID);
    NULLW(dc_arange(DC_F64, 0, 1e30, 1e-30), DC_E_OVERFLOW);
    NULLW(dc_arange((dc_dtype)9, 0, 3, 1), DC_E_DTYPE);
    /* a range going the other way is empty, not an error */
    SHAPE_IS(OKP(dc_arange(DC_I64, 5, 0, 1)), 0);
}

static void bad_from_data(void) {
    float buf[4] = {0};
    NULLW(dc_from_data(DC_F32, 1, SH(4), NULL), DC_E_INVALID);
    NULLW(dc_from_data((dc_dtype)9, 1, SH(4), buf), DC_E_DTYPE);
    NULLW(dc_from_data(DC_F32, 2, HUGE_SHAPE, buf), DC_E_OVERFLOW);
    NULLW(dc_from_data(DC_F32, 1, SH(-4), buf), DC_E_SHAPE);
    /* no elements: data is not read, NULL is allowed */
    SHAPE_IS(OKP(dc_from_data(DC_F32, 1, SH(0), NULL)), 0);
}

static int wrap_released;
static void count_release(void *data, void *ctx) { (void)data; (void)ctx; wrap_released++; }

static void bad_wrap_data(void) {
    double buf[4] = {0};
    wrap_released = 0;
    NULLW(dc_wrap_data(DC_F64, 1, SH(4), NULL, count_release, NULL), DC_E_INVALID);
    NULLW(dc_wrap_data((dc_dtype)9, 1, SH(4), buf, count_release, NULL), DC_E_DTYPE);
    NULLW(dc_wrap_data(DC_F64, 2, HUGE_SHAPE, buf, count_release, NULL), DC_E_OVERFLOW);
    NULLW(dc_wrap_data(DC_F64, 1, SH(4), (char *)buf + 1, count_release, NULL), DC_E_INVALID);
    /* on failure the buffer stays the caller's: release is not called */
    ck_assert_int_eq(wrap_released, 0);
}

typedef dc_tensor *(*rand_fn)(dc_rng *, dc_dtype, int, const int64_t *, double, double);

static void check_rand(rand_fn f, double a, double b) {
    NULLW(f(NULL, DC_I32, 1, SH(3), a, b), DC_E_DTYPE);
    NULLW(f(NULL, DC_BOOL, 1, SH(3), a, b), DC_E_DTYPE);
    NULLW(f(NULL, DC_F32, 2, HUGE_SHAPE, a, b), DC_E_OVERFLOW);
    NULLW(f(NULL, DC_F32, 1, SH(-3), a, b), DC_E_SHAPE);
    NULLW(f(NULL, DC_F32, 1, SH(3), NAN, b), DC_E_INVALID);
    NULLW(f(NULL, DC_F32, 1, SH(3), a, NAN), DC_E_INVALID);
    NULLW(f(NULL, DC_F32, 1, SH(3), a, INFINITY), DC_E_INVALID);
    SHAPE_IS(OKP(f(NULL, DC_F64, 2, SH(3, 0), a, b)), 3, 0);
}

static void bad_rand_uniform(void) {
    check_rand(dc_rand_uniform, 0.0, 1.0);
    NULLW(dc_rand_uniform(NULL, DC_F32, 1, SH(3), 1.0, 0.0), DC_E_INVALID);
}

static void bad_rand_normal(void) {
    check_rand(dc_rand_normal, 0.0, 1.0);
    NULLW(dc_rand_normal(NULL, DC_F32, 1, SH(3), 0.0, -1.0), DC_E_INVALID);
}

static void bad_zeros_like(void) {
    NULLW(dc_zeros_like(NULL), DC_E_INVALID);
    SHAPE_IS(OKP(dc_zeros_like(I64(0, 2))), 0, 2);
}

static void bad_ones_like(void) {
    NULLW(dc_ones_like(NULL), DC_E_INVALID);
    SHAPE_IS(OKP(dc_ones_like(BOOLT(2, 0))), 2, 0);
}

static void bad_clone(void) {
    NULLW(dc_clone(NULL), DC_E_INVALID);
    SHAPE_IS(OKP(dc_clone(F32(0))), 0);
    all_nan(OKP(dc_clone(NANT(2))));
}

/* ------------------------------------------------------------------ */
/* Inspecting and reading                                              */
/* ------------------------------------------------------------------ */

static void bad_ndim(void) { RETW(dc_ndim(NULL), -1, DC_E_INVALID); }
static void bad_numel(void) { RETW(dc_numel(NULL), -1, DC_E_INVALID); }

static void bad_size(void) {
    dc_tensor *t = F32(2, 3);
    RETW(dc_size(NULL, 0), -1, DC_E_INVALID);
    RETW(dc_size(t, 2), -1, DC_E_RANGE);
    RETW(dc_size(t, -3), -1, DC_E_RANGE);
    RETW(dc_size(OKP(dc_scalar(DC_F32, 1)), 0), -1, DC_E_RANGE);
    ck_assert_int_eq(dc_size(t, -1), 3);
}

static void bad_shape(void) { NULLW(dc_shape(NULL), DC_E_INVALID); }
static void bad_strides(void) { NULLW(dc_strides(NULL), DC_E_INVALID); }
static void bad_tensor_dtype(void) { RETW((int)dc_tensor_dtype(NULL), -1, DC_E_INVALID); }
static void bad_is_contiguous(void) { RETW(dc_is_contiguous(NULL), -1, DC_E_INVALID); }

static void bad_data_ptr(void) {
    NULLW(dc_data_ptr(NULL), DC_E_INVALID);
}

static void bad_copy_to(void) {
    dc_tensor *t = F32(2, 2);
    float buf[4];
    FAILS(dc_copy_to(NULL, DC_F32, buf, sizeof buf), DC_E_INVALID);
    FAILS(dc_copy_to(t, DC_F32, NULL, sizeof buf), DC_E_INVALID);
    FAILS(dc_copy_to(t, (dc_dtype)9, buf, sizeof buf), DC_E_DTYPE);
    FAILS(dc_copy_to(t, DC_F32, buf, sizeof buf - 1), DC_E_RANGE);
    FAILS(dc_copy_to(t, DC_F64, buf, sizeof buf), DC_E_RANGE);
    /* nothing to copy: NULL and 0 bytes are fine */
    OK(dc_copy_to(F32(0, 2), DC_F32, NULL, 0));
}

static void bad_copy_from(void) {
    dc_tensor *t = F32(2, 2);
    float buf[4] = {1, 2, 3, 4};
    FAILS(dc_copy_from(NULL, DC_F32, buf, sizeof buf), DC_E_INVALID);
    FAILS(dc_copy_from(t, DC_F32, NULL, sizeof buf), DC_E_INVALID);
    FAILS(dc_copy_from(t, (dc_dtype)9, buf, sizeof buf), DC_E_DTYPE);
    FAILS(dc_copy_from(t, DC_F32, buf, 3), DC_E_RANGE);
    /* a failed copy leaves the tensor as it was */
    ck_assert_double_eq(first(t), 0.5);
    OK(dc_copy_from(F32(0), DC_F32, NULL, 0));
}

static void bad_item(void) {
    double v = 42;
    FAILS(dc_item(NULL, &v), DC_E_INVALID);
    FAILS(dc_item(OKP(dc_scalar(DC_F32, 1)), NULL), DC_E_INVALID);
    FAILS(dc_item(F32(2), &v), DC_E_SHAPE);
    FAILS(dc_item(F32(0), &v), DC_E_SHAPE);
    ck_assert_double_eq(v, 42);   /* out-parameters untouched on failure */
    OK(dc_item(NANT(1, 1), &v));
    ck_assert(isnan(v));
}

static void bad_get(void) {
    dc_tensor *t = F32(2, 3);
    double v = 42;
    FAILS(dc_get(NULL, SH(0, 0), &v), DC_E_INVALID);
    FAILS(dc_get(t, NULL, &v), DC_E_INVALID);
    FAILS(dc_get(t, SH(0, 0), NULL), DC_E_INVALID);
    FAILS(dc_get(t, SH(2, 0), &v), DC_E_RANGE);
    FAILS(dc_get(t, SH(0, -4), &v), DC_E_RANGE);
    FAILS(dc_get(t, SH(INT64_MIN, 0), &v), DC_E_RANGE);
    FAILS(dc_get(F32(0, 3), SH(0, 0), &v), DC_E_RANGE);
    ck_assert_double_eq(v, 42);
    OK(dc_get(t, SH(-1, -1), &v));
    ck_assert_double_eq(v, 0.5);
}

static void bad_set(void) {
    dc_tensor *t = F32(2, 3);
    FAILS(dc_set(NULL, SH(0, 0), 1), DC_E_INVALID);
    FAILS(dc_set(t, NULL, 1), DC_E_INVALID);
    FAILS(dc_set(t, SH(0, 3), 1), DC_E_RANGE);
    FAILS(dc_set(t, SH(INT64_MAX, 0), 1), DC_E_RANGE);
    OK(dc_set(t, SH(1, 2), NAN));   /* NaN is data */
}

static void bad_fill(void) {
    FAILS(dc_fill(NULL, 1), DC_E_INVALID);
    OK(dc_fill(F32(0, 3), 1));
    dc_tensor *t = F32(2);
    OK(dc_fill(t, INFINITY));
    ck_assert(isinf(first(t)));
}

/* ------------------------------------------------------------------ */
/* Views, joins, indexing, casts                                       */
/* ------------------------------------------------------------------ */

typedef dc_tensor *(*reshape_fn)(dc_tensor *, int, const int64_t *);

static void check_reshape(reshape_fn f) {
    dc_tensor *t = F32(2, 3);
    NULLW(f(NULL, 1, SH(6)), DC_E_INVALID);
    NULLW(f(t, 1, NULL), DC_E_INVALID);
    NULLW(f(t, 1, SH(7)), DC_E_SHAPE);
    NULLW(f(t, 2, SH(-1, -1)), DC_E_SHAPE);
    NULLW(f(t, 2, SH(-1, 4)), DC_E_SHAPE);
    NULLW(f(t, 2, SH(-2, -3)), DC_E_SHAPE);
    NULLW(f(t, 2, HUGE_SHAPE), DC_E_SHAPE);
    NULLW(f(t, -1, SH(6)), DC_E_SHAPE);
    NULLW(f(t, DC_MAX_DIMS + 1, SH(1, 1, 1, 1, 1, 1, 1, 1, 6)), DC_E_SHAPE);
    /* -1 next to a 0 size is ambiguous */
    NULLW(f(F32(0, 3), 2, SH(0, -1)), DC_E_SHAPE);
    SHAPE_IS(OKP(f(F32(0, 3), 3, SH(3, 0, 5))), 3, 0, 5);
}

static void bad_view(void) {
    check_reshape(dc_view);
    /* a transposed tensor cannot be flattened without a copy */
    NULLW(dc_view(OKP(dc_transpose(F32(2, 3), 0, 1)), 1, SH(6)), DC_E_SHAPE);
}

static void bad_reshape(void) { check_reshape(dc_reshape); }

static void bad_flatten(void) {
    dc_tensor *t = F32(2, 3, 4);
    NULLW(dc_flatten(NULL, 0, -1), DC_E_INVALID);
    NULLW(dc_flatten(t, 3, -1), DC_E_RANGE);
    NULLW(dc_flatten(t, 0, -4), DC_E_RANGE);
    NULLW(dc_flatten(t, 2, 1), DC_E_RANGE);
    SHAPE_IS(OKP(dc_flatten(F32(2, 0, 4), 1, 2)), 2, 0);
}

static void bad_squeeze(void) {
    dc_tensor *t = F32(2, 1);
    NULLW(dc_squeeze(NULL, 0), DC_E_INVALID);
    NULLW(dc_squeeze(t, 2), DC_E_RANGE);
    NULLW(dc_squeeze(t, -3), DC_E_RANGE);
    /* a 0-dim tensor takes axis 0 or -1 (as PyTorch), nothing else */
    NULLW(dc_squeeze(OKP(dc_scalar(DC_F32, 1)), 1), DC_E_RANGE);
    NULLW(dc_squeeze(OKP(dc_scalar(DC_F32, 1)), -2), DC_E_RANGE);
}

static void bad_unsqueeze(void) {
    dc_tensor *t = F32(2, 3);
    NULLW(dc_unsqueeze(NULL, 0), DC_E_INVALID);
    NULLW(dc_unsqueeze(t, 3), DC_E_RANGE);    /* ndim + 1 positions */
    NULLW(dc_unsqueeze(t, -4), DC_E_RANGE);
    NULLW(dc_unsqueeze(F32(1, 1, 1, 1, 1, 1, 1, 1), 0), DC_E_SHAPE);
    SHAPE_IS(OKP(dc_unsqueeze(t, -1)), 2, 3, 1);
}

static void bad_transpose(void) {
    dc_tensor *t = F32(2, 3);
    NULLW(dc_transpose(NULL, 0, 1), DC_E_INVALID);
    NULLW(dc_transpose(t, 0, 2), DC_E_RANGE);
    NULLW(dc_transpose(t, -3, 0), DC_E_RANGE);
}

static void bad_permute(void) {
    dc_tensor *t = F32(2, 3, 4);
    NULLW(dc_permute(NULL, (int[]){0, 1, 2}), DC_E_INVALID);
    NULLW(dc_permute(t, NULL), DC_E_INVALID);
    NULLW(dc_permute(t, (int[]){0, 0, 1}), DC_E_INVALID);
    NULLW(dc_permute(t, (int[]){0, 1, 3}), DC_E_RANGE);
    NULLW(dc_permute(t, (int[]){0, 1, -4}), DC_E_RANGE);
}

static void bad_slice(void) {
    dc_tensor *t = F32(5);
    NULLW(dc_slice(NULL, 0, 0, 1, 1), DC_E_INVALID);
    NULLW(dc_slice(t, 1, 0, 1, 1), DC_E_RANGE);
    NULLW(dc_slice(t, 0, 0, 5, 0), DC_E_INVALID);
    NULLW(dc_slice(t, 0, 0, 5, -1), DC_E_INVALID);
    /* out-of-range bounds clamp, as Python's */
    SHAPE_IS(OKP(dc_slice(t, 0, INT64_MIN, INT64_MAX, 2)), 3);
    SHAPE_IS(OKP(dc_slice(t, 0, 4, 1, 1)), 0);
    SHAPE_IS(OKP(dc_slice(t, 0, 0, 5, INT64_MAX)), 1);
}

static void bad_narrow(void) {
    dc_tensor *t = F32(5);
    NULLW(dc_narrow(NULL, 0, 0, 1), DC_E_INVALID);
    NULLW(dc_narrow(t, 1, 0, 1), DC_E_RANGE);
    NULLW(dc_narrow(t, 0, 6, 0), DC_E_RANGE);
    NULLW(dc_narrow(t, 0, 2, 4), DC_E_RANGE);
    NULLW(dc_narrow(t, 0, 0, -1), DC_E_RANGE);
    NULLW(dc_narrow(t, 0, 1, INT64_MAX), DC_E_RANGE);
    NULLW(dc_narrow(t, 0, INT64_MIN, 1), DC_E_RANGE);
    SHAPE_IS(OKP(dc_narrow(t, 0, 5, 0)), 0);
}

static void bad_expand(void) {
    dc_tensor *t = F32(3, 1);
    NULLW(dc_expand(NULL, 2, SH(3, 4)), DC_E_INVALID);
    NULLW(dc_expand(t, 2, NULL), DC_E_INVALID);
    NULLW(dc_expand(t, 2, SH(4, 4)), DC_E_SHAPE);
    NULLW(dc_expand(t, 1, SH(3)), DC_E_SHAPE);
    NULLW(dc_expand(t, 3, SH(-1, 3, 4)), DC_E_SHAPE);
    NULLW(dc_expand(t, 2, SH(3, -2)), DC_E_SHAPE);
    NULLW(dc_expand(t, 3, SH(INT64_MAX, 3, 4)), DC_E_OVERFLOW);
    SHAPE_IS(OKP(dc_expand(t, 2, SH(3, 0))), 3, 0);
}

static void bad_contiguous(void) {
    NULLW(dc_contiguous(NULL), DC_E_INVALID);
    SHAPE_IS(OKP(dc_contiguous(OKP(dc_transpose(F32(0, 2), 0, 1)))), 2, 0);
}

static void bad_concat(void) {
    dc_tensor *a = F32(2, 3), *b = F32(2, 4);
    NULLW(dc_concat(NULL, 2, 0), DC_E_INVALID);
    NULLW(dc_concat((dc_tensor *[]){a, b}, 0, 0), DC_E_INVALID);
    NULLW(dc_concat((dc_tensor *[]){a, b}, -1, 0), DC_E_INVALID);
    NULLW(dc_concat((dc_tensor *[]){a, NULL}, 2, 0), DC_E_INVALID);
    NULLW(dc_concat((dc_tensor *[]){a, b}, 2, 0), DC_E_SHAPE);
    NULLW(dc_concat((dc_tensor *[]){a, b}, 2, 2), DC_E_RANGE);
    NULLW(dc_concat((dc_tensor *[]){a, b}, 2, -3), DC_E_RANGE);
    NULLW(dc_concat((dc_tensor *[]){a, F64(2, 3)}, 2, 0), DC_E_DTYPE);
    NULLW(dc_concat((dc_tensor *[]){a, F32(6)}, 2, 0), DC_E_SHAPE);
    dc_tensor *s = OKP(dc_scalar(DC_F32, 1));
    NULLW(dc_concat((dc_tensor *[]){s, s}, 2, 0), DC_E_RANGE);
    SHAPE_IS(OKP(dc_concat((dc_tensor *[]){F32(0, 3), F32(0, 3)}, 2, 0)), 0, 3);
}

static void bad_stack(void) {
    dc_tensor *a = F32(2, 3);
    NULLW(dc_stack(NULL, 2, 0), DC_E_INVALID);
    NULLW(dc_stack((dc_tensor *[]){a}, 0, 0), DC_E_INVALID);
    NULLW(dc_stack((dc_tensor *[]){a, NULL}, 2, 0), DC_E_INVALID);
    NULLW(dc_stack((dc_tensor *[]){a, F32(3, 2)}, 2, 0), DC_E_SHAPE);
    NULLW(dc_stack((dc_tensor *[]){a, a}, 2, 3), DC_E_RANGE);
    NULLW(dc_stack((dc_tensor *[]){a, a}, 2, -4), DC_E_RANGE);
    NULLW(dc_stack((dc_tensor *[]){a, I32(2, 3)}, 2, 0), DC_E_DTYPE);
    dc_tensor *big = F32(1, 1, 1, 1, 1, 1, 1, 1);
    NULLW(dc_stack((dc_tensor *[]){big, big}, 2, 0), DC_E_SHAPE);
    SHAPE_IS(OKP(dc_stack((dc_tensor *[]){F32(0), F32(0)}, 2, 1)), 0, 2);
}

static void bad_index_select(void) {
    dc_tensor *t = F32(3, 2);
    dc_tensor *idx = OKP(tu_i64(1, SH(2), (int64_t[]){0, 2}));
    NULLW(dc_index_select(NULL, 0, idx), DC_E_INVALID);
    NULLW(dc_index_select(t, 0, NULL), DC_E_INVALID);
    NULLW(dc_index_select(t, 2, idx), DC_E_RANGE);
    NULLW(dc_index_select(t, -3, idx), DC_E_RANGE);
    NULLW(dc_index_select(t, 0, F32(2)), DC_E_DTYPE);
    NULLW(dc_index_select(t, 0, U8(2)), DC_E_DTYPE);
    NULLW(dc_index_select(t, 0, I64(2, 1)), DC_E_SHAPE);
    NULLW(dc_index_select(t, 0, OKP(tu_i64(1, SH(2), (int64_t[]){0, 3}))), DC_E_RANGE);
    NULLW(dc_index_select(t, 0, OKP(tu_i64(1, SH(1), (int64_t[]){-4}))), DC_E_RANGE);
    NULLW(dc_index_select(t, 0, OKP(tu_i64(1, SH(1), (int64_t[]){INT64_MIN}))), DC_E_RANGE);
    SHAPE_IS(OKP(dc_index_select(t, 0, I64(0))), 0, 2);
}

static void bad_gather(void) {
    dc_tensor *t = F32(3, 2);
    NULLW(dc_gather(NULL, 0, I64(3, 2)), DC_E_INVALID);
    NULLW(dc_gather(t, 0, NULL), DC_E_INVALID);
    NULLW(dc_gather(t, 2, I64(3, 2)), DC_E_RANGE);
    NULLW(dc_gather(t, 0, F32(3, 2)), DC_E_DTYPE);
    NULLW(dc_gather(t, 0, I64(3)), DC_E_SHAPE);
    NULLW(dc_gather(t, 0, I64(3, 3)), DC_E_SHAPE);
    NULLW(dc_gather(t, 0, mk(DC_I64, 2, SH(3, 2), 3)), DC_E_RANGE);
    NULLW(dc_gather(t, 1, mk(DC_I32, 2, SH(3, 2), -3)), DC_E_RANGE);
    SHAPE_IS(OKP(dc_gather(t, 0, I64(0, 2))), 0, 2);
}

static void bad_cast(void) {
    NULLW(dc_cast(NULL, DC_F32), DC_E_INVALID);
    NULLW(dc_cast(F32(2), (dc_dtype)9), DC_E_DTYPE);
    NULLW(dc_cast(F32(2), (dc_dtype)-1), DC_E_DTYPE);
    /* NaN to f64 stays NaN; to an integer it is 0 and out-of-range values
     * saturate (not an error) */
    all_nan(OKP(dc_cast(NANT(2), DC_F64)));
    dc_tensor *odd = OKP(tu_f64(1, SH(4), (double[]){NAN, INFINITY, -INFINITY, -2.7}));
    int32_t got[4];
    OK(dc_copy_to(OKP(dc_cast(odd, DC_I32)), DC_I32, got, sizeof got));
    ck_assert_int_eq(got[0], 0);
    ck_assert_int_eq(got[1], INT32_MAX);
    ck_assert_int_eq(got[2], INT32_MIN);
    ck_assert_int_eq(got[3], -2);
    SHAPE_IS(OKP(dc_cast(F32(0), DC_U8)), 0);
}

static void bad_detach(void) {
    NULLW(dc_detach(NULL), DC_E_INVALID);
    SHAPE_IS(OKP(dc_detach(F32(0, 1))), 0, 1);
}

/* ------------------------------------------------------------------ */
/* Elementwise                                                         */
/* ------------------------------------------------------------------ */

static void bad_add(void) {
    check_binary(dc_add, true, true);
    /* inf + -inf is NaN, as IEEE */
    all_nan(OKP(dc_add(INFT(2), mk(DC_F32, 1, SH(2), -INFINITY))));
    /* integer arithmetic wraps (no undefined behaviour, no error) */
    ck_assert_double_eq(first(OKP(dc_add(mk(DC_I32, 1, SH(1), INT32_MAX),
                                         mk(DC_I32, 1, SH(1), 1)))), INT32_MIN);
}
static void bad_sub(void) { check_binary(dc_sub, true, true); }
static void bad_mul(void) {
    check_binary(dc_mul, true, true);
    all_nan(OKP(dc_mul(INFT(2), mk(DC_F32, 1, SH(2), 0))));
}
static void bad_div(void) {
    check_binary(dc_div, true, true);
    /* float division by zero is IEEE (inf); integer division by zero fails */
    ck_assert(isinf(first(OKP(dc_div(F32(1), mk(DC_F32, 1, SH(1), 0))))));
    all_nan(OKP(dc_div(mk(DC_F64, 1, SH(1), 0), mk(DC_F64, 1, SH(1), 0))));
    NULLW(dc_div(I32(2), I32(2)), DC_E_RANGE);
    NULLW(dc_div(mk(DC_I64, 1, SH(2), 3), OKP(tu_i64(1, SH(2), (int64_t[]){1, 0}))), DC_E_RANGE);
    NULLW(dc_div(U8(1), mk(DC_U8, 1, SH(1), 0)), DC_E_RANGE);
}
static void bad_pow(void) {
    check_binary(dc_pow, false, true);
    /* (-1)^0.5 is NaN */
    all_nan(OKP(dc_pow(mk(DC_F32, 1, SH(2), -1), F32(2))));
}
static void bad_maximum(void) { check_binary(dc_maximum, true, true); }
static void bad_minimum(void) { check_binary(dc_minimum, true, true); }

/* Comparisons: DC_BOOL results; a NaN compares unequal to everything. */
static void check_compare(binop_fn f, double nan_result) {
    check_binary(f, true, false);
    ck_assert_int_eq(dc_tensor_dtype(OKP(f(F32(1), F32(1)))), DC_BOOL);
    ck_assert_double_eq(first(OKP(f(NANT(1), NANT(1)))), nan_result);
}
static void bad_eq(void) { check_compare(dc_eq, 0); }
static void bad_ne(void) { check_compare(dc_ne, 1); }
static void bad_lt(void) { check_compare(dc_lt, 0); }
static void bad_le(void) { check_compare(dc_le, 0); }
static void bad_gt(void) { check_compare(dc_gt, 0); }
static void bad_ge(void) { check_compare(dc_ge, 0); }

static void bad_where(void) {
    dc_tensor *c = BOOLT(2, 3), *a = F32(2, 3), *b = F32(2, 3);
    NULLW(dc_where(NULL, a, b), DC_E_INVALID);
    NULLW(dc_where(c, NULL, b), DC_E_INVALID);
    NULLW(dc_where(c, a, NULL), DC_E_INVALID);
    NULLW(dc_where(U8(2, 3), a, b), DC_E_DTYPE);
    NULLW(dc_where(F32(2, 3), a, b), DC_E_DTYPE);
    NULLW(dc_where(c, a, F64(2, 3)), DC_E_DTYPE);
    NULLW(dc_where(c, a, F32(3, 2)), DC_E_SHAPE);
    NULLW(dc_where(BOOLT(4), a, b), DC_E_SHAPE);
    SHAPE_IS(OKP(dc_where(BOOLT(0, 1), F32(1, 3), F32(1))), 0, 3);
    all_nan(OKP(dc_where(c, NANT(2, 3), b)));
}

typedef dc_tensor *(*scalar_fn)(dc_tensor *, double);

static void check_scalar_op(scalar_fn f, bool ints_ok) {
    NULLW(f(NULL, 2.0), DC_E_INVALID);
    if (!ints_ok) NULLW(f(I32(2), 2.0), DC_E_DTYPE);
    else OKP(f(I32(2), 2.0));
    NULLW(f(BOOLT(2), 2.0), DC_E_DTYPE);
    SHAPE_IS(OKP(f(F32(0, 2), 2.0)), 0, 2);
    all_nan(OKP(f(NANT(2), 2.0)));
    /* the scalar is data: a NaN scalar gives NaN */
    all_nan(OKP(f(F32(2), NAN)));
}
static void bad_add_scalar(void) { check_scalar_op(dc_add_scalar, true); }
static void bad_mul_scalar(void) { check_scalar_op(dc_mul_scalar, true); }
static void bad_pow_scalar(void) { check_scalar_op(dc_pow_scalar, false); }

static void bad_neg(void) { check_unary(dc_neg, true); }
static void bad_abs(void) { check_unary(dc_abs, true); }
static void bad_exp(void) {
    check_unary(dc_exp, false);
    ck_assert(isinf(first(OKP(dc_exp(mk(DC_F32, 1, SH(1), 1000))))));
}
static void bad_log(void) {
    check_unary(dc_log, false);
    /* log(-1) is NaN, log(0) is -inf: IEEE, not errors */
    all_nan(OKP(dc_log(mk(DC_F64, 1, SH(1), -1))));
    ck_assert(isinf(first(OKP(dc_log(mk(DC_F64, 1, SH(1), 0))))));
}
static void bad_sqrt(void) {
    check_unary(dc_sqrt, false);
    all_nan(OKP(dc_sqrt(mk(DC_F32, 1, SH(1), -1))));
}
static void bad_rsqrt(void) { check_unary(dc_rsqrt, false); }
static void bad_square(void) { check_unary(dc_square, true); }
static void bad_tanh(void) { check_unary(dc_tanh, false); }
static void bad_sigmoid(void) { check_unary(dc_sigmoid, false); }
static void bad_relu(void) { check_unary(dc_relu, true); }
static void bad_silu(void) { check_unary(dc_silu, false); }

static dc_tensor *leaky_default(dc_tensor *t) { return dc_leaky_relu(t, 0.01); }
static void bad_leaky_relu(void) {
    check_unary(leaky_default, false);
    NULLW(dc_leaky_relu(F32(2), NAN), DC_E_INVALID);
    NULLW(dc_leaky_relu(F32(2), INFINITY), DC_E_INVALID);
}

static dc_tensor *gelu_exact(dc_tensor *t) { return dc_gelu(t, DC_GELU_EXACT); }
static void bad_gelu(void) {
    check_unary(gelu_exact, false);
    NULLW(dc_gelu(F32(2), (dc_gelu_approx)2), DC_E_INVALID);
    NULLW(dc_gelu(F32(2), (dc_gelu_approx)-1), DC_E_INVALID);
}

static dc_tensor *softplus_default(dc_tensor *t) { return dc_softplus(t, 1.0, 20.0); }
static void bad_softplus(void) {
    check_unary(softplus_default, false);
    NULLW(dc_softplus(F32(2), 0.0, 20.0), DC_E_INVALID);
    NULLW(dc_softplus(F32(2), NAN, 20.0), DC_E_INVALID);
    NULLW(dc_softplus(F32(2), 1.0, NAN), DC_E_INVALID);
}

static dc_tensor *clamp_default(dc_tensor *t) { return dc_clamp(t, -1.0, 1.0); }
static void bad_clamp(void) {
    check_unary(clamp_default, true);
    NULLW(dc_clamp(F32(2), 1.0, -1.0), DC_E_INVALID);
    NULLW(dc_clamp(F32(2), NAN, 1.0), DC_E_INVALID);
    NULLW(dc_clamp(F32(2), 0.0, NAN), DC_E_INVALID);
    OKP(dc_clamp(F32(2), -INFINITY, INFINITY));
}

/* ------------------------------------------------------------------ */
/* Reductions                                                          */
/* ------------------------------------------------------------------ */

static void bad_sum(void) {
    check_reduce_axes(dc_sum);
    /* empty sums are 0 */
    dc_tensor *s = OKP(dc_sum(F32(0, 3), (int[]){0}, 1, 0));
    SHAPE_IS(s, 3);
    ck_assert_double_eq(first(s), 0);
    all_nan(OKP(dc_sum(mk(DC_F32, 1, SH(3), NAN), NULL, 0, 0)));
    OKP(dc_sum(BOOLT(3), NULL, 0, 0));
}

static void bad_mean(void) {
    check_reduce_axes(dc_mean);
    NULLW(dc_mean(I32(3), NULL, 0, 0), DC_E_DTYPE);
    /* the mean of nothing is 0/0 = NaN (as NumPy and PyTorch) */
    all_nan(OKP(dc_mean(F32(0, 3), (int[]){0}, 1, 0)));
    all_nan(OKP(dc_mean(NANT(4), NULL, 0, 0)));
}

static void bad_max(void) {
    check_reduce_axes(dc_max);
    NULLW(dc_max(F32(0, 3), NULL, 0, 0), DC_E_SHAPE);
    NULLW(dc_max(F32(0, 3), (int[]){0}, 1, 0), DC_E_SHAPE);
    /* reducing the other axis of an empty tensor is fine */
    SHAPE_IS(OKP(dc_max(F32(0, 3), (int[]){1}, 1, 0)), 0);
    /* a NaN wins (propagates), as in PyTorch */
    all_nan(OKP(dc_max(OKP(tu_f64(1, SH(3), (double[]){1, NAN, 3})), NULL, 0, 0)));
}

static void bad_min(void) {
    check_reduce_axes(dc_min);
    NULLW(dc_min(I32(2, 0), (int[]){1}, 1, 1), DC_E_SHAPE);
    all_nan(OKP(dc_min(OKP(tu_f32(1, SH(3), (double[]){1, NAN, 3})), NULL, 0, 0)));
}

typedef dc_tensor *(*arg_fn)(dc_tensor *, int, int);

static void check_arg(arg_fn f) {
    dc_tensor *t = F32(2, 3);
    NULLW(f(NULL, 0, 0), DC_E_INVALID);
    NULLW(f(t, 2, 0), DC_E_RANGE);
    NULLW(f(t, -3, 0), DC_E_RANGE);
    NULLW(f(F32(2, 0), 1, 0), DC_E_SHAPE);
    SHAPE_IS(OKP(f(F32(0, 3), 1, 0)), 0);
    /* the index of a NaN, which wins as in PyTorch */
    ck_assert_double_eq(first(OKP(f(OKP(tu_f64(1, SH(3), (double[]){1, NAN, 3})), 0, 0))), 1);
}
static void bad_argmax(void) { check_arg(dc_argmax); }
static void bad_argmin(void) { check_arg(dc_argmin); }

static dc_tensor *var1(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return dc_var(t, axes, naxes, 1, keepdim);
}
static dc_tensor *std1(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return dc_std(t, axes, naxes, 1, keepdim);
}
static void bad_var(void) {
    check_reduce_axes(var1);
    NULLW(dc_var(I64(3), NULL, 0, 1, 0), DC_E_DTYPE);
    /* one sample, unbiased: 0/0 = NaN, as PyTorch */
    all_nan(OKP(dc_var(F32(1), NULL, 0, 1, 0)));
}
static void bad_std(void) {
    check_reduce_axes(std1);
    NULLW(dc_std(U8(3), NULL, 0, 1, 0), DC_E_DTYPE);
}

static void bad_logsumexp(void) {
    check_reduce_axes(dc_logsumexp);
    NULLW(dc_logsumexp(I32(3), NULL, 0, 0), DC_E_DTYPE);
    /* large values do not overflow; +inf stays +inf */
    ck_assert(isfinite(first(OKP(dc_logsumexp(mk(DC_F32, 1, SH(2), 1000), NULL, 0, 0)))));
    ck_assert(isinf(first(OKP(dc_logsumexp(INFT(2), NULL, 0, 0)))));
}

typedef dc_tensor *(*softmax_fn)(dc_tensor *, int);
static void check_softmax(softmax_fn f) {
    dc_tensor *t = F32(2, 3);
    NULLW(f(NULL, 0), DC_E_INVALID);
    NULLW(f(t, 2), DC_E_RANGE);
    NULLW(f(t, -3), DC_E_RANGE);
    NULLW(f(I32(2, 3), 1), DC_E_DTYPE);
    SHAPE_IS(OKP(f(F32(0, 3), 1)), 0, 3);
    all_nan(OKP(f(NANT(2, 3), 1)));
}
static void bad_softmax(void) { check_softmax(dc_softmax); }
static void bad_log_softmax(void) { check_softmax(dc_log_softmax); }

/* ------------------------------------------------------------------ */
/* Matrix product                                                      */
/* ------------------------------------------------------------------ */

static void bad_matmul(void) {
    dc_tensor *a = F32(2, 3);
    NULLW(dc_matmul(NULL, a), DC_E_INVALID);
    NULLW(dc_matmul(a, NULL), DC_E_INVALID);
    NULLW(dc_matmul(a, F32(2, 3)), DC_E_SHAPE);
    NULLW(dc_matmul(a, F64(3, 2)), DC_E_DTYPE);
    NULLW(dc_matmul(I32(2, 3), I32(3, 2)), DC_E_DTYPE);
    NULLW(dc_matmul(OKP(dc_scalar(DC_F32, 1)), a), DC_E_SHAPE);
    NULLW(dc_matmul(F32(2, 2, 3), F32(3, 3, 2)), DC_E_SHAPE);
    /* empty inner or outer sizes give empty or zero results */
    SHAPE_IS(OKP(dc_matmul(F32(0, 3), F32(3, 2))), 0, 2);
    dc_tensor *z = OKP(dc_matmul(F32(2, 0), F32(0, 2)));
    SHAPE_IS(z, 2, 2);
    ck_assert_double_eq(first(z), 0);
    all_nan(OKP(dc_matmul(NANT(2, 3), F32(3, 2))));
}

/* ------------------------------------------------------------------ */
/* Autodiff                                                            */
/* ------------------------------------------------------------------ */

static void bad_set_requires_grad(void) {
    FAILS(dc_set_requires_grad(NULL, 1), DC_E_INVALID);
    FAILS(dc_set_requires_grad(I64(2), 1), DC_E_DTYPE);
    dc_tensor *p = F32(2);
    OK(dc_set_requires_grad(p, 1));
    FAILS(dc_set_requires_grad(OKP(dc_mul(p, p)), 1), DC_E_STATE);
    OK(dc_set_requires_grad(I64(2), 0));   /* turning it off is always fine */
}

static void bad_requires_grad(void) { RETW(dc_requires_grad(NULL), -1, DC_E_INVALID); }
static void bad_is_leaf(void) { RETW(dc_is_leaf(NULL), -1, DC_E_INVALID); }

static void bad_grad(void) {
    NULLW(dc_grad(NULL), DC_E_INVALID);
    NULLW(dc_grad(F32(2)), DC_E_STATE);
    dc_tensor *p = F32(2);
    OK(dc_set_requires_grad(p, 1));
    NULLW(dc_grad(p), DC_E_STATE);
}

static void bad_zero_grad(void) {
    FAILS(dc_zero_grad(NULL), DC_E_INVALID);
    OK(dc_zero_grad(F32(2)));   /* no gradient: nothing to drop */
}

static void bad_backward(void) {
    dc_tensor *p = F32(2, 2);
    OK(dc_set_requires_grad(p, 1));
    dc_tensor *y = OKP(dc_mul(p, p));
    FAILS(dc_backward(NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_backward(y, NULL, 0), DC_E_SHAPE);           /* not one element */
    FAILS(dc_backward(y, F32(3), 0), DC_E_SHAPE);
    FAILS(dc_backward(y, F64(2, 2), 0), DC_E_DTYPE);
    FAILS(dc_backward(F32(1), NULL, 0), DC_E_STATE);      /* nothing to do */
    /* the graph survived the failures */
    OK(dc_backward(y, F32(2, 2), 0));
    FAILS(dc_backward(y, F32(2, 2), 0), DC_E_STATE);      /* freed after use */
}

static void bad_set_grad_enabled(void) {
    /* any int is a truth value; the previous setting comes back */
    int prev = dc_set_grad_enabled(42);
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    ck_assert_int_eq(dc_set_grad_enabled(-5), 1);
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    dc_set_grad_enabled(0);
    ck_assert_int_eq(dc_is_grad_enabled(), 0);
    dc_set_grad_enabled(prev);
}

static void bad_is_grad_enabled(void) {
    dc_clear_error();
    int e = dc_is_grad_enabled();
    ck_assert(e == 0 || e == 1);
    ck_assert_int_eq(dc_last_status(), DC_OK);
}

static int ctx_frees;
static void count_ctx_free(void *ctx) { (void)ctx; ctx_frees++; }
static dc_tensor *fwd_identity(dc_tensor *const *in, int n, void *ctx) {
    (void)n; (void)ctx;
    return dc_clone(in[0]);
}
static dc_tensor *fwd_null(dc_tensor *const *in, int n, void *ctx) {
    (void)in; (void)n; (void)ctx;
    return NULL;
}
static dc_status bwd_none(dc_tensor *const *in, int n, dc_tensor *out, dc_tensor *go,
                          dc_tensor **gi, void *ctx) {
    (void)in; (void)n; (void)out; (void)go; (void)gi; (void)ctx;
    return DC_OK;
}

static void bad_custom_op(void) {
    dc_tensor *x = F32(2);
    dc_tensor *in[1] = {x};
    ctx_frees = 0;
    NULLW(dc_custom_op("f", in, 1, NULL, bwd_none, NULL, count_ctx_free), DC_E_INVALID);
    NULLW(dc_custom_op("f", NULL, 1, fwd_identity, bwd_none, NULL, count_ctx_free), DC_E_INVALID);
    NULLW(dc_custom_op("f", in, -1, fwd_identity, bwd_none, NULL, count_ctx_free), DC_E_INVALID);
    NULLW(dc_custom_op("f", (dc_tensor *[]){NULL}, 1, fwd_identity, bwd_none, NULL,
                       count_ctx_free), DC_E_INVALID);
    /* a forward that returns NULL without an error of its own */
    NULLW(dc_custom_op("f", in, 1, fwd_null, bwd_none, NULL, count_ctx_free), DC_E_INVALID);
    /* each failure called ctx_free exactly once */
    ck_assert_int_eq(ctx_frees, 5);
}

/* ------------------------------------------------------------------ */
/* Neural-network ops                                                  */
/* ------------------------------------------------------------------ */

static void bad_conv1d(void) {
    dc_tensor *x = F32(1, 2, 5), *w = F32(4, 2, 3), *b = F32(4);
    NULLW(dc_conv1d(NULL, w, b, 1, 0, 1, 1), DC_E_INVALID);
    NULLW(dc_conv1d(x, NULL, b, 1, 0, 1, 1), DC_E_INVALID);
    NULLW(dc_conv1d(x, w, b, 0, 0, 1, 1), DC_E_INVALID);
    NULLW(dc_conv1d(x, w, b, 1, -1, 1, 1), DC_E_INVALID);
    NULLW(dc_conv1d(x, w, b, 1, 0, 0, 1), DC_E_INVALID);
    NULLW(dc_conv1d(x, w, b, 1, 0, 1, 0), DC_E_INVALID);
    NULLW(dc_conv1d(x, w, b, 1, 0, 1, 3), DC_E_SHAPE);
    NULLW(dc_conv1d(x, w, F32(3), 1, 0, 1, 1), DC_E_SHAPE);
    NULLW(dc_conv1d(F32(2, 5), w, b, 1, 0, 1, 1), DC_E_SHAPE);
    NULLW(dc_conv1d(F32(1, 3, 5), w, b, 1, 0, 1, 1), DC_E_SHAPE);
    NULLW(dc_conv1d(F32(1, 2, 2), w, b, 1, 0, 1, 1), DC_E_SHAPE);   /* kernel > input */
    NULLW(dc_conv1d(F64(1, 2, 5), w, b, 1, 0, 1, 1), DC_E_DTYPE);
    NULLW(dc_conv1d(I32(1, 2, 5), I32(4, 2, 3), NULL, 1, 0, 1, 1), DC_E_DTYPE);
    NULLW(dc_conv1d(x, w, b, 1, INT64_MAX / 2, 1, 1), DC_E_OVERFLOW);
    NULLW(dc_conv1d(x, w, b, 1, 0, INT64_MAX, 1), DC_E_OVERFLOW);
    NULLW(dc_conv1d(x, w, b, 1, 0, INT64_MAX / 2, 1), DC_E_SHAPE);
    SHAPE_IS(OKP(dc_conv1d(F32(0, 2, 5), w, b, 1, 0, 1, 1)), 0, 4, 3);
    all_nan(OKP(dc_conv1d(NANT(1, 2, 5), w, b, 1, 0, 1, 1)));
}

static void bad_conv2d(void) {
    dc_tensor *x = F32(1, 2, 5, 5), *w = F32(4, 2, 3, 3), *b = F32(4);
    const int64_t one[2] = {1, 1}, zero[2] = {0, 0};
    NULLW(dc_conv2d(NULL, w, b, NULL, NULL, NULL, 1), DC_E_INVALID);
    NULLW(dc_conv2d(x, NULL, b, NULL, NULL, NULL, 1), DC_E_INVALID);
    NULLW(dc_conv2d(x, w, b, zero, NULL, NULL, 1), DC_E_INVALID);
    NULLW(dc_conv2d(x, w, b, one, SH(0, -1), NULL, 1), DC_E_INVALID);
    NULLW(dc_conv2d(x, w, b, one, zero, SH(1, 0), 1), DC_E_INVALID);
    NULLW(dc_conv2d(x, w, b, NULL, NULL, NULL, -2), DC_E_INVALID);
    NULLW(dc_conv2d(x, w, b, NULL, NULL, NULL, 4), DC_E_SHAPE);
    NULLW(dc_conv2d(x, F32(4, 3, 3, 3), b, NULL, NULL, NULL, 1), DC_E_SHAPE);
    NULLW(dc_conv2d(x, w, F32(4, 1), NULL, NULL, NULL, 1), DC_E_SHAPE);
    NULLW(dc_conv2d(F32(2, 5, 5), w, b, NULL, NULL, NULL, 1), DC_E_SHAPE);
    NULLW(dc_conv2d(F32(1, 2, 2, 5), w, b, NULL, NULL, NULL, 1), DC_E_SHAPE);
    NULLW(dc_conv2d(x, F32(4, 2, 0, 3), b, NULL, NULL, NULL, 1), DC_E_SHAPE);
    NULLW(dc_conv2d(x, w, F64(4), NULL, NULL, NULL, 1), DC_E_DTYPE);
    NULLW(dc_conv2d(x, w, b, one, SH(INT64_MAX / 2, 0), NULL, 1), DC_E_OVERFLOW);
    SHAPE_IS(OKP(dc_conv2d(F32(0, 2, 5, 5), w, NULL, NULL, NULL, NULL, 1)), 0, 4, 3, 3);
}

typedef dc_tensor *(*pool_fn)(dc_tensor *, const int64_t *, const int64_t *, const int64_t *);

static void check_pool(pool_fn f) {
    dc_tensor *x = F32(1, 2, 4, 4);
    const int64_t k2[2] = {2, 2};
    NULLW(f(NULL, k2, NULL, NULL), DC_E_INVALID);
    NULLW(f(x, NULL, NULL, NULL), DC_E_INVALID);
    NULLW(f(x, SH(0, 2), NULL, NULL), DC_E_INVALID);
    NULLW(f(x, k2, SH(0, 1), NULL), DC_E_INVALID);
    NULLW(f(x, k2, NULL, SH(2, 0)), DC_E_INVALID);    /* more than half the kernel */
    NULLW(f(x, k2, NULL, SH(-1, 0)), DC_E_INVALID);
    NULLW(f(x, SH(5, 5), NULL, NULL), DC_E_SHAPE);
    NULLW(f(F32(2, 4, 4), k2, NULL, NULL), DC_E_SHAPE);
    NULLW(f(I32(1, 2, 4, 4), k2, NULL, NULL), DC_E_DTYPE);
    NULLW(f(x, SH(INT64_MAX, 1), NULL, NULL), DC_E_SHAPE);
    SHAPE_IS(OKP(f(F32(0, 2, 4, 4), k2, NULL, NULL)), 0, 2, 2, 2);
    all_nan(OKP(f(NANT(1, 1, 2, 2), k2, NULL, NULL)));
}

static void bad_max_pool2d(void) { check_pool(dc_max_pool2d); }

static dc_tensor *avg_pool_incl(dc_tensor *x, const int64_t *k, const int64_t *s,
                                const int64_t *p) {
    return dc_avg_pool2d(x, k, s, p, 1);
}
static void bad_avg_pool2d(void) { check_pool(avg_pool_incl); }

static void bad_adaptive_avg_pool2d(void) {
    dc_tensor *x = F32(1, 2, 4, 4);
    NULLW(dc_adaptive_avg_pool2d(NULL, 2, 2), DC_E_INVALID);
    NULLW(dc_adaptive_avg_pool2d(x, 0, 2), DC_E_INVALID);
    NULLW(dc_adaptive_avg_pool2d(x, 2, -1), DC_E_INVALID);
    NULLW(dc_adaptive_avg_pool2d(F32(1, 4, 4), 2, 2), DC_E_SHAPE);
    NULLW(dc_adaptive_avg_pool2d(F32(1, 2, 0, 4), 2, 2), DC_E_SHAPE);
    NULLW(dc_adaptive_avg_pool2d(I64(1, 2, 4, 4), 2, 2), DC_E_DTYPE);
    NULLW(dc_adaptive_avg_pool2d(x, INT64_MAX / 2, 4), DC_E_OVERFLOW);
    SHAPE_IS(OKP(dc_adaptive_avg_pool2d(F32(0, 2, 4, 4), 1, 1)), 0, 2, 1, 1);
}

static void bad_batch_norm(void) {
    dc_tensor *x = F32(4, 3), *rm = F32(3), *rv = F32(3), *w = F32(3), *b = F32(3);
    NULLW(dc_batch_norm(NULL, rm, rv, w, b, 1, 0.1, 1e-5), DC_E_INVALID);
    NULLW(dc_batch_norm(F32(4), rm, rv, w, b, 1, 0.1, 1e-5), DC_E_SHAPE);
    NULLW(dc_batch_norm(x, rm, NULL, w, b, 1, 0.1, 1e-5), DC_E_INVALID);
    NULLW(dc_batch_norm(x, NULL, NULL, w, b, 0, 0.1, 1e-5), DC_E_INVALID);
    NULLW(dc_batch_norm(x, F32(4), rv, w, b, 1, 0.1, 1e-5), DC_E_SHAPE);
    NULLW(dc_batch_norm(x, rm, rv, F64(3), b, 1, 0.1, 1e-5), DC_E_DTYPE);
    NULLW(dc_batch_norm(x, rm, rv, w, F32(2), 1, 0.1, 1e-5), DC_E_SHAPE);
    NULLW(dc_batch_norm(I32(4, 3), NULL, NULL, NULL, NULL, 1, 0.1, 1e-5), DC_E_DTYPE);
    NULLW(dc_batch_norm(x, rm, rv, w, b, 1, 0.1, -1.0), DC_E_INVALID);
    NULLW(dc_batch_norm(x, rm, rv, w, b, 1, 0.1, NAN), DC_E_INVALID);
    NULLW(dc_batch_norm(x, rm, rv, w, b, 1, NAN, 1e-5), DC_E_INVALID);
    NULLW(dc_batch_norm(F32(1, 3), rm, rv, w, b, 1, 0.1, 1e-5), DC_E_INVALID);
    /* the failures left the running statistics alone */
    ck_assert_double_eq(first(rm), 0.5);
    ck_assert_double_eq(first(rv), 0.5);
}

static void bad_layer_norm(void) {
    dc_tensor *x = F32(2, 3);
    NULLW(dc_layer_norm(NULL, 1, NULL, NULL, 1e-5), DC_E_INVALID);
    NULLW(dc_layer_norm(x, 0, NULL, NULL, 1e-5), DC_E_RANGE);
    NULLW(dc_layer_norm(x, 3, NULL, NULL, 1e-5), DC_E_RANGE);
    NULLW(dc_layer_norm(x, 1, F32(2), NULL, 1e-5), DC_E_SHAPE);
    NULLW(dc_layer_norm(x, 1, NULL, F64(3), 1e-5), DC_E_DTYPE);
    NULLW(dc_layer_norm(x, 1, NULL, NULL, -1.0), DC_E_INVALID);
    NULLW(dc_layer_norm(x, 1, NULL, NULL, INFINITY), DC_E_INVALID);
    NULLW(dc_layer_norm(I32(2, 3), 1, NULL, NULL, 1e-5), DC_E_DTYPE);
    SHAPE_IS(OKP(dc_layer_norm(F32(0, 3), 1, NULL, NULL, 1e-5)), 0, 3);
    all_nan(OKP(dc_layer_norm(NANT(2, 3), 1, NULL, NULL, 1e-5)));
}

static void bad_dropout(void) {
    dc_tensor *x = F32(4);
    NULLW(dc_dropout(NULL, 0.5, 1, NULL), DC_E_INVALID);
    NULLW(dc_dropout(x, -0.1, 1, NULL), DC_E_INVALID);
    NULLW(dc_dropout(x, 1.5, 1, NULL), DC_E_INVALID);
    NULLW(dc_dropout(x, NAN, 1, NULL), DC_E_INVALID);
    NULLW(dc_dropout(I32(4), 0.5, 1, NULL), DC_E_DTYPE);
    SHAPE_IS(OKP(dc_dropout(F32(0, 2), 0.5, 1, NULL)), 0, 2);
}

static void bad_embedding(void) {
    dc_tensor *w = F32(5, 3);
    NULLW(dc_embedding(NULL, I64(2)), DC_E_INVALID);
    NULLW(dc_embedding(w, NULL), DC_E_INVALID);
    NULLW(dc_embedding(w, F32(2)), DC_E_DTYPE);
    NULLW(dc_embedding(F32(5), I64(2)), DC_E_SHAPE);
    NULLW(dc_embedding(w, mk(DC_I64, 1, SH(2), 5)), DC_E_RANGE);
    NULLW(dc_embedding(w, mk(DC_I32, 1, SH(2), -1)), DC_E_RANGE);
    NULLW(dc_embedding(w, I64(1, 1, 1, 1, 1, 1, 1, 1)), DC_E_SHAPE);
    SHAPE_IS(OKP(dc_embedding(w, I64(0))), 0, 3);
}

static void bad_scaled_dot_product_attention(void) {
    dc_tensor *q = F32(1, 2, 4), *k = F32(1, 3, 4), *v = F32(1, 3, 5);
    NULLW(dc_scaled_dot_product_attention(NULL, k, v, NULL, 0, 0), DC_E_INVALID);
    NULLW(dc_scaled_dot_product_attention(q, NULL, v, NULL, 0, 0), DC_E_INVALID);
    NULLW(dc_scaled_dot_product_attention(q, k, NULL, NULL, 0, 0), DC_E_INVALID);
    NULLW(dc_scaled_dot_product_attention(F32(4), k, v, NULL, 0, 0), DC_E_SHAPE);
    NULLW(dc_scaled_dot_product_attention(q, F32(1, 3, 3), v, NULL, 0, 0), DC_E_SHAPE);
    NULLW(dc_scaled_dot_product_attention(q, k, F32(1, 2, 5), NULL, 0, 0), DC_E_SHAPE);
    NULLW(dc_scaled_dot_product_attention(q, F64(1, 3, 4), v, NULL, 0, 0), DC_E_DTYPE);
    NULLW(dc_scaled_dot_product_attention(q, k, v, I32(2, 3), 0, 0), DC_E_DTYPE);
    NULLW(dc_scaled_dot_product_attention(q, k, v, BOOLT(4, 3), 0, 0), DC_E_SHAPE);
    NULLW(dc_scaled_dot_product_attention(q, k, v, NULL, 0, NAN), DC_E_INVALID);
    NULLW(dc_scaled_dot_product_attention(I32(1, 2, 4), I32(1, 3, 4), I32(1, 3, 5), NULL, 0, 0),
          DC_E_DTYPE);
    /* a row with every key masked out is NaN, as PyTorch */
    all_nan(OKP(dc_scaled_dot_product_attention(q, k, v, mk(DC_BOOL, 2, SH(2, 3), 0), 0, 0)));
}

static void bad_lstm_cell(void) {
    dc_tensor *x = F32(2, 3), *h = F32(2, 4), *c = F32(2, 4);
    dc_tensor *wi = F32(16, 3), *wh = F32(16, 4), *bi = F32(16), *bh = F32(16);
    dc_tensor *ho = NULL, *co = NULL;
    FAILS(dc_lstm_cell(NULL, h, c, wi, wh, bi, bh, &ho, &co), DC_E_INVALID);
    FAILS(dc_lstm_cell(x, NULL, c, wi, wh, bi, bh, &ho, &co), DC_E_INVALID);
    FAILS(dc_lstm_cell(x, h, c, wi, wh, bi, bh, NULL, &co), DC_E_INVALID);
    FAILS(dc_lstm_cell(x, h, c, wi, wh, bi, bh, &ho, NULL), DC_E_INVALID);
    FAILS(dc_lstm_cell(F32(2, 5), h, c, wi, wh, bi, bh, &ho, &co), DC_E_SHAPE);
    FAILS(dc_lstm_cell(x, h, F32(3, 4), wi, wh, bi, bh, &ho, &co), DC_E_SHAPE);
    FAILS(dc_lstm_cell(x, h, c, F32(12, 3), wh, bi, bh, &ho, &co), DC_E_SHAPE);
    FAILS(dc_lstm_cell(x, h, c, wi, wh, F32(15), bh, &ho, &co), DC_E_SHAPE);
    FAILS(dc_lstm_cell(F32(3), h, c, wi, wh, bi, bh, &ho, &co), DC_E_SHAPE);
    FAILS(dc_lstm_cell(x, h, c, wi, F64(16, 4), bi, bh, &ho, &co), DC_E_DTYPE);
    ck_assert_ptr_null(ho);   /* out-parameters untouched */
    ck_assert_ptr_null(co);
}

static void bad_gru_cell(void) {
    dc_tensor *x = F32(2, 3), *h = F32(2, 4);
    dc_tensor *wi = F32(12, 3), *wh = F32(12, 4), *bi = F32(12), *bh = F32(12);
    NULLW(dc_gru_cell(NULL, h, wi, wh, bi, bh), DC_E_INVALID);
    NULLW(dc_gru_cell(x, NULL, wi, wh, bi, bh), DC_E_INVALID);
    NULLW(dc_gru_cell(x, h, NULL, wh, bi, bh), DC_E_INVALID);
    NULLW(dc_gru_cell(x, h, wi, F32(16, 4), bi, bh), DC_E_SHAPE);
    NULLW(dc_gru_cell(x, F32(2, 3), wi, wh, bi, bh), DC_E_SHAPE);
    NULLW(dc_gru_cell(x, h, wi, wh, bi, F32(12, 1)), DC_E_SHAPE);
    NULLW(dc_gru_cell(F64(2, 3), h, wi, wh, bi, bh), DC_E_DTYPE);
    SHAPE_IS(OKP(dc_gru_cell(F32(0, 3), F32(0, 4), wi, wh, NULL, NULL)), 0, 4);
}

/* ------------------------------------------------------------------ */
/* Initialisers                                                        */
/* ------------------------------------------------------------------ */

/* Common: NULL, integer tensors, and the tensor untouched on failure. */
static void check_init_target(dc_status (*f)(dc_tensor *, dc_rng *)) {
    FAILS(f(NULL, NULL), DC_E_INVALID);
    FAILS(f(I32(3, 3), NULL), DC_E_DTYPE);
    OK(f(F32(0, 3), NULL));   /* nothing to fill */
}
static dc_status init_u(dc_tensor *t, dc_rng *r) { return dc_init_uniform(t, -1, 1, r); }
static dc_status init_n(dc_tensor *t, dc_rng *r) { return dc_init_normal(t, 0, 1, r); }
static dc_status init_xu(dc_tensor *t, dc_rng *r) { return dc_init_xavier_uniform(t, 1, r); }
static dc_status init_xn(dc_tensor *t, dc_rng *r) { return dc_init_xavier_normal(t, 1, r); }
static dc_status init_ku(dc_tensor *t, dc_rng *r) { return dc_init_kaiming_uniform(t, 0, 0, r); }
static dc_status init_kn(dc_tensor *t, dc_rng *r) { return dc_init_kaiming_normal(t, 0, 0, r); }

static void bad_init_uniform(void) {
    check_init_target(init_u);
    dc_tensor *t = F32(3);
    FAILS(dc_init_uniform(t, 1, -1, NULL), DC_E_INVALID);
    FAILS(dc_init_uniform(t, NAN, 1, NULL), DC_E_INVALID);
    FAILS(dc_init_uniform(t, 0, INFINITY, NULL), DC_E_INVALID);
    ck_assert_double_eq(first(t), 0.5);
}

static void bad_init_normal(void) {
    check_init_target(init_n);
    dc_tensor *t = F32(3);
    FAILS(dc_init_normal(t, 0, -1, NULL), DC_E_INVALID);
    FAILS(dc_init_normal(t, NAN, 1, NULL), DC_E_INVALID);
    FAILS(dc_init_normal(t, 0, INFINITY, NULL), DC_E_INVALID);
    ck_assert_double_eq(first(t), 0.5);
}

/* Fan-based initialisers need 2-D or more, and a finite gain. */
static void check_fan_init(dc_status (*f)(dc_tensor *, dc_rng *),
                           dc_status (*with_param)(dc_tensor *, double)) {
    check_init_target(f);
    FAILS(f(F32(4), NULL), DC_E_SHAPE);
    FAILS(f(OKP(dc_scalar(DC_F32, 1)), NULL), DC_E_SHAPE);
    dc_tensor *t = F32(2, 2);
    FAILS(with_param(t, NAN), DC_E_INVALID);
    FAILS(with_param(t, INFINITY), DC_E_INVALID);
    ck_assert_double_eq(first(t), 0.5);
}
static dc_status xu_gain(dc_tensor *t, double g) { return dc_init_xavier_uniform(t, g, NULL); }
static dc_status xn_gain(dc_tensor *t, double g) { return dc_init_xavier_normal(t, g, NULL); }
static dc_status ku_a(dc_tensor *t, double a) { return dc_init_kaiming_uniform(t, a, 0, NULL); }
static dc_status kn_a(dc_tensor *t, double a) { return dc_init_kaiming_normal(t, a, 1, NULL); }

static void bad_init_xavier_uniform(void) { check_fan_init(init_xu, xu_gain); }
static void bad_init_xavier_normal(void) { check_fan_init(init_xn, xn_gain); }
static void bad_init_kaiming_uniform(void) { check_fan_init(init_ku, ku_a); }
static void bad_init_kaiming_normal(void) { check_fan_init(init_kn, kn_a); }

/* ------------------------------------------------------------------ */
/* Modules                                                             */
/* ------------------------------------------------------------------ */

/* A small Linear for the generic module functions; released by the case. */
static dc_module *small_linear(void) { return OKM(dc_linear_new(3, 2, 1, NULL)); }

static void bad_module_retain(void) {
    /* NULL, with DC_E_INVALID unless an earlier error is kept (a chain
     * such as dc_module_retain(dc_linear_new(...)) reports its first) */
    NULLW(dc_module_retain(NULL), DC_E_INVALID);
    NULLW(dc_linear_new(0, 1, 1, NULL), DC_E_INVALID);
    ck_assert_ptr_null(dc_module_retain(NULL));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_linear_new"));
}

static void bad_module_release(void) {
    HARMLESS(dc_module_release(NULL));
    /* a second release is safe while another reference keeps it alive */
    dc_module *m = small_linear();
    dc_module_retain(m);
    dc_module_release(m);
    ck_assert_str_eq(dc_module_kind(m), "Linear");
    dc_module_release(m);
}

static void bad_module_kind(void) { NULLW(dc_module_kind(NULL), DC_E_INVALID); }

static void bad_module_forward(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_forward(NULL, F32(1, 3)), DC_E_INVALID);
    NULLW(dc_module_forward(m, NULL), DC_E_INVALID);
    NULLW(dc_module_forward(m, F32(1, 4)), DC_E_SHAPE);
    NULLW(dc_module_forward(m, OKP(dc_scalar(DC_F32, 1))), DC_E_SHAPE);
    NULLW(dc_module_forward(m, F64(1, 3)), DC_E_DTYPE);
    NULLW(dc_module_forward(m, I32(1, 3)), DC_E_DTYPE);
    SHAPE_IS(OKP(dc_module_forward(m, F32(0, 3))), 0, 2);
    all_nan(OKP(dc_module_forward(m, NANT(2, 3))));
    dc_module_release(m);
    dc_module *rnn = OKM(dc_rnn_new(DC_RNN_LSTM, 3, 4, 1, 1, 1, NULL));
    NULLW(dc_module_forward(rnn, F32(1, 2, 5)), DC_E_SHAPE);
    dc_module_release(rnn);
}

static void bad_module_set_training(void) {
    FAILS(dc_module_set_training(NULL, 1), DC_E_INVALID);
    dc_module *m = small_linear();
    OK(dc_module_set_training(m, 7));   /* any non-zero is training */
    ck_assert_int_eq(dc_module_is_training(m), 1);
    dc_module_release(m);
}

static void bad_module_is_training(void) { RETW(dc_module_is_training(NULL), -1, DC_E_INVALID); }
static void bad_module_state_count(void) { RETW(dc_module_state_count(NULL), -1, DC_E_INVALID); }

static void bad_module_state_name(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_state_name(NULL, 0), DC_E_INVALID);
    NULLW(dc_module_state_name(m, 2), DC_E_RANGE);
    NULLW(dc_module_state_name(m, -1), DC_E_RANGE);
    NULLW(dc_module_state_name(m, INT64_MIN), DC_E_RANGE);
    dc_module_release(m);
}

static void bad_module_state_is_param(void) {
    dc_module *m = small_linear();
    RETW(dc_module_state_is_param(NULL, 0), -1, DC_E_INVALID);
    RETW(dc_module_state_is_param(m, 2), -1, DC_E_RANGE);
    RETW(dc_module_state_is_param(m, -1), -1, DC_E_RANGE);
    dc_module_release(m);
}

static void bad_module_state_tensor(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_state_tensor(NULL, 0), DC_E_INVALID);
    NULLW(dc_module_state_tensor(m, 2), DC_E_RANGE);
    NULLW(dc_module_state_tensor(m, INT64_MAX), DC_E_RANGE);
    dc_module_release(m);
}

static void bad_module_state_find(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_state_find(NULL, "weight"), DC_E_INVALID);
    NULLW(dc_module_state_find(m, NULL), DC_E_INVALID);
    NULLW(dc_module_state_find(m, "weights"), DC_E_RANGE);
    NULLW(dc_module_state_find(m, ""), DC_E_RANGE);
    dc_module_release(m);
}

static void bad_module_param_count(void) { RETW(dc_module_param_count(NULL), -1, DC_E_INVALID); }

static void bad_module_param(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_param(NULL, 0), DC_E_INVALID);
    NULLW(dc_module_param(m, 2), DC_E_RANGE);
    NULLW(dc_module_param(m, -1), DC_E_RANGE);
    dc_module_release(m);
    /* a module without parameters */
    dc_module *r = OKM(dc_activation_new(DC_ACT_RELU, 0));
    NULLW(dc_module_param(r, 0), DC_E_RANGE);
    dc_module_release(r);
}

static void bad_module_child_count(void) { RETW(dc_module_child_count(NULL), -1, DC_E_INVALID); }

static void bad_module_child(void) {
    dc_module *m = small_linear();
    NULLW(dc_module_child(NULL, 0), DC_E_INVALID);
    NULLW(dc_module_child(m, 0), DC_E_RANGE);   /* a Linear has no children */
    dc_module_release(m);
}

static void bad_module_child_name(void) {
    dc_module *s = OKM(dc_sequential_new());
    NULLW(dc_module_child_name(NULL, 0), DC_E_INVALID);
    NULLW(dc_module_child_name(s, 0), DC_E_RANGE);
    NULLW(dc_module_child_name(s, -1), DC_E_RANGE);
    dc_module_release(s);
}

/* ------------------------------------------------------------------ */
/* Layers                                                              */
/* ------------------------------------------------------------------ */

static void bad_linear_new(void) {
    NULLW(dc_linear_new(0, 2, 1, NULL), DC_E_INVALID);
    NULLW(dc_linear_new(3, -1, 1, NULL), DC_E_INVALID);
    NULLW(dc_linear_new(INT64_MAX / 2, 4, 1, NULL), DC_E_OVERFLOW);
    NULLW(dc_linear_new(INT64_MAX, INT64_MAX, 0, NULL), DC_E_OVERFLOW);
}

static void bad_conv1d_new(void) {
    NULLW(dc_conv1d_new(0, 4, 3, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(2, 4, 0, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(2, 4, 3, 0, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(2, 4, 3, 1, -1, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(2, 4, 3, 1, 0, 0, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(2, 4, 3, 1, 0, 1, 3, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv1d_new(INT64_MAX / 2, 4, 3, 1, 0, 1, 1, 1, NULL), DC_E_OVERFLOW);
}

static void bad_conv2d_new(void) {
    NULLW(dc_conv2d_new(2, 0, 3, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv2d_new(2, 4, 3, 1, 0, 1, 0, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv2d_new(2, 3, 3, 1, 0, 1, 2, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv2d_new(2, 4, -3, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_conv2d_new(2, 4, INT64_MAX / 2, 1, 0, 1, 1, 1, NULL), DC_E_OVERFLOW);
    /* the input must be (N, C, H, W) with the module's channels */
    dc_module *c = OKM(dc_conv2d_new(2, 4, 3, 1, 0, 1, 1, 1, NULL));
    NULLW(dc_module_forward(c, F32(1, 3, 5, 5)), DC_E_SHAPE);
    NULLW(dc_module_forward(c, F32(2, 5, 5)), DC_E_SHAPE);
    dc_module_release(c);
}

typedef dc_module *(*pool_new_fn)(int64_t, int64_t, int64_t);
static void check_pool_new(pool_new_fn f) {
    NULLW(f(0, 0, 0), DC_E_INVALID);
    NULLW(f(2, -1, 0), DC_E_INVALID);
    NULLW(f(2, 2, 2), DC_E_INVALID);
    NULLW(f(2, 2, -1), DC_E_INVALID);
    dc_module *p = OKM(f(2, 0, 0));
    NULLW(dc_module_forward(p, F32(1, 1, 1, 1)), DC_E_SHAPE);
    NULLW(dc_module_forward(p, F32(4, 4)), DC_E_SHAPE);
    dc_module_release(p);
}
static void bad_max_pool2d_new(void) { check_pool_new(dc_max_pool2d_new); }
static void bad_avg_pool2d_new(void) { check_pool_new(dc_avg_pool2d_new); }

static void bad_adaptive_avg_pool2d_new(void) {
    NULLW(dc_adaptive_avg_pool2d_new(0, 1), DC_E_INVALID);
    NULLW(dc_adaptive_avg_pool2d_new(1, -1), DC_E_INVALID);
}

typedef dc_module *(*bn_new_fn)(int64_t, double, double);
static void check_bn_new(bn_new_fn f, dc_tensor *wrong_rank) {
    NULLW(f(0, 1e-5, 0.1), DC_E_INVALID);
    NULLW(f(3, -1e-5, 0.1), DC_E_INVALID);
    NULLW(f(3, NAN, 0.1), DC_E_INVALID);
    NULLW(f(3, INFINITY, 0.1), DC_E_INVALID);
    NULLW(f(3, 1e-5, NAN), DC_E_INVALID);
    NULLW(f(3, 1e-5, 1.5), DC_E_INVALID);
    NULLW(f(INT64_MAX, 1e-5, 0.1), DC_E_OVERFLOW);
    dc_module *m = OKM(f(3, 1e-5, 0.1));
    NULLW(dc_module_forward(m, wrong_rank), DC_E_SHAPE);
    dc_module_release(m);
}
static void bad_batch_norm1d_new(void) { check_bn_new(dc_batch_norm1d_new, F32(2, 3, 4, 4)); }
static void bad_batch_norm2d_new(void) { check_bn_new(dc_batch_norm2d_new, F32(2, 3)); }

static void bad_layer_norm_new(void) {
    NULLW(dc_layer_norm_new(0, 1e-5, 1), DC_E_INVALID);
    NULLW(dc_layer_norm_new(3, NAN, 1), DC_E_INVALID);
    NULLW(dc_layer_norm_new(3, -1, 1), DC_E_INVALID);
    NULLW(dc_layer_norm_new(INT64_MAX, 1e-5, 1), DC_E_OVERFLOW);
    dc_module *m = OKM(dc_layer_norm_new(3, 1e-5, 1));
    NULLW(dc_module_forward(m, F32(2, 4)), DC_E_SHAPE);
    dc_module_release(m);
}

static void bad_dropout_new(void) {
    NULLW(dc_dropout_new(-0.5), DC_E_INVALID);
    NULLW(dc_dropout_new(1.0), DC_E_INVALID);
    NULLW(dc_dropout_new(NAN), DC_E_INVALID);
    NULLW(dc_dropout_new(INFINITY), DC_E_INVALID);
}

static void bad_embedding_new(void) {
    NULLW(dc_embedding_new(0, 3, NULL), DC_E_INVALID);
    NULLW(dc_embedding_new(3, 0, NULL), DC_E_INVALID);
    NULLW(dc_embedding_new(INT64_MAX / 2, 4, NULL), DC_E_OVERFLOW);
    dc_module *m = OKM(dc_embedding_new(5, 2, NULL));
    NULLW(dc_module_forward(m, mk(DC_I64, 1, SH(1), 5)), DC_E_RANGE);
    NULLW(dc_module_forward(m, F32(2)), DC_E_DTYPE);
    dc_module_release(m);
}

static void bad_flatten_new(void) {
    NULLW(dc_flatten_new(DC_MAX_DIMS, -1), DC_E_INVALID);
    NULLW(dc_flatten_new(0, -DC_MAX_DIMS - 1), DC_E_INVALID);
    NULLW(dc_flatten_new(3, 1), DC_E_INVALID);
    /* axes the input does not have: the input's shape does not fit */
    dc_module *m = OKM(dc_flatten_new(1, 3));
    NULLW(dc_module_forward(m, F32(2, 3)), DC_E_SHAPE);
    dc_module_release(m);
}

static void bad_activation_new(void) {
    NULLW(dc_activation_new((dc_activation)9, 0), DC_E_INVALID);
    NULLW(dc_activation_new((dc_activation)-1, 0), DC_E_INVALID);
    NULLW(dc_activation_new(DC_ACT_LEAKY_RELU, NAN), DC_E_INVALID);
    NULLW(dc_activation_new(DC_ACT_SOFTMAX, 0.5), DC_E_INVALID);
    NULLW(dc_activation_new(DC_ACT_SOFTMAX, 1e30), DC_E_INVALID);
    NULLW(dc_activation_new(DC_ACT_SOFTMAX, NAN), DC_E_INVALID);
    dc_module *m = OKM(dc_activation_new(DC_ACT_SOFTMAX, 2));
    NULLW(dc_module_forward(m, F32(2, 3)), DC_E_SHAPE);
    dc_module_release(m);
}

static void bad_rnn_new(void) {
    NULLW(dc_rnn_new((dc_rnn_kind)3, 3, 4, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_rnn_new(DC_RNN_GRU, 0, 4, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_rnn_new(DC_RNN_GRU, 3, 0, 1, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_rnn_new(DC_RNN_TANH, 3, 4, 0, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_rnn_new(DC_RNN_LSTM, 3, INT64_MAX / 2, 1, 1, 1, NULL), DC_E_OVERFLOW);
}

static void bad_rnn_forward(void) {
    dc_module *rnn = OKM(dc_rnn_new(DC_RNN_LSTM, 3, 4, 2, 1, 1, NULL));
    dc_module *lin = small_linear();
    dc_tensor *x = F32(2, 5, 3), *out = NULL, *hn = NULL, *cn = NULL;
    FAILS(dc_rnn_forward(NULL, x, NULL, NULL, &out, &hn, &cn), DC_E_INVALID);
    FAILS(dc_rnn_forward(lin, x, NULL, NULL, &out, &hn, &cn), DC_E_INVALID);
    FAILS(dc_rnn_forward(rnn, NULL, NULL, NULL, &out, &hn, &cn), DC_E_INVALID);
    FAILS(dc_rnn_forward(rnn, F32(2, 5, 4), NULL, NULL, &out, &hn, &cn), DC_E_SHAPE);
    FAILS(dc_rnn_forward(rnn, F32(5, 3), NULL, NULL, &out, &hn, &cn), DC_E_SHAPE);
    FAILS(dc_rnn_forward(rnn, F64(2, 5, 3), NULL, NULL, &out, &hn, &cn), DC_E_DTYPE);
    FAILS(dc_rnn_forward(rnn, x, F32(1, 2, 4), NULL, &out, &hn, &cn), DC_E_SHAPE);
    FAILS(dc_rnn_forward(rnn, x, NULL, F32(2, 2, 3), &out, &hn, &cn), DC_E_SHAPE);
    FAILS(dc_rnn_forward(rnn, x, F64(2, 2, 4), NULL, &out, &hn, &cn), DC_E_DTYPE);
    FAILS(dc_rnn_forward(rnn, F32(2, 0, 3), NULL, NULL, &out, &hn, &cn), DC_E_SHAPE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(hn);
    ck_assert_ptr_null(cn);
    dc_module_release(rnn);
    dc_module_release(lin);
}

static void bad_multihead_attention_new(void) {
    NULLW(dc_multihead_attention_new(0, 1, 1, NULL), DC_E_INVALID);
    NULLW(dc_multihead_attention_new(4, 0, 1, NULL), DC_E_INVALID);
    NULLW(dc_multihead_attention_new(6, 4, 1, NULL), DC_E_INVALID);
    NULLW(dc_multihead_attention_new(INT64_MAX / 2, 1, 1, NULL), DC_E_OVERFLOW);
}

static void bad_multihead_attention_forward(void) {
    dc_module *mha = OKM(dc_multihead_attention_new(4, 2, 1, NULL));
    dc_module *lin = small_linear();
    dc_tensor *q = F32(1, 3, 4);
    NULLW(dc_multihead_attention_forward(NULL, q, q, q, NULL, 0), DC_E_INVALID);
    NULLW(dc_multihead_attention_forward(lin, q, q, q, NULL, 0), DC_E_INVALID);
    NULLW(dc_multihead_attention_forward(mha, NULL, q, q, NULL, 0), DC_E_INVALID);
    NULLW(dc_multihead_attention_forward(mha, q, F32(1, 3, 5), q, NULL, 0), DC_E_SHAPE);
    NULLW(dc_multihead_attention_forward(mha, q, q, F32(1, 2, 4), NULL, 0), DC_E_SHAPE);
    NULLW(dc_multihead_attention_forward(mha, F32(3, 4), q, q, NULL, 0), DC_E_SHAPE);
    NULLW(dc_multihead_attention_forward(mha, F64(1, 3, 4), q, q, NULL, 0), DC_E_DTYPE);
    NULLW(dc_multihead_attention_forward(mha, q, q, q, I64(3, 3), 0), DC_E_DTYPE);
    NULLW(dc_multihead_attention_forward(mha, q, q, q, BOOLT(2, 3), 0), DC_E_SHAPE);
    dc_module_release(mha);
    dc_module_release(lin);
}

static void bad_transformer_block_new(void) {
    NULLW(dc_transformer_block_new(4, 3, 8, 0, 1, NULL), DC_E_INVALID);
    NULLW(dc_transformer_block_new(4, 2, 0, 0, 1, NULL), DC_E_INVALID);
    NULLW(dc_transformer_block_new(4, 2, 8, NAN, 1, NULL), DC_E_INVALID);
    NULLW(dc_transformer_block_new(4, 2, 8, -0.1, 1, NULL), DC_E_INVALID);
    NULLW(dc_transformer_block_new(4, 2, 8, 1.5, 1, NULL), DC_E_INVALID);
    dc_module *b = OKM(dc_transformer_block_new(4, 2, 8, 0, 1, NULL));
    NULLW(dc_module_forward(b, F32(1, 3, 5)), DC_E_SHAPE);
    NULLW(dc_module_forward(b, F64(1, 3, 4)), DC_E_DTYPE);
    dc_module_release(b);
}

static void bad_sequential_new(void) {
    /* an empty Sequential is the identity, and has no state */
    dc_module *s = OKM(dc_sequential_new());
    ck_assert_int_eq(dc_module_state_count(s), 0);
    dc_tensor *x = F32(2);
    ck_assert_double_eq(first(OKP(dc_module_forward(s, x))), 0.5);
    dc_module_release(s);
}

static void bad_sequential_append(void) {
    dc_module *s = OKM(dc_sequential_new()), *lin = small_linear();
    FAILS(dc_sequential_append(NULL, lin), DC_E_INVALID);
    FAILS(dc_sequential_append(s, NULL), DC_E_INVALID);
    FAILS(dc_sequential_append(lin, s), DC_E_INVALID);
    FAILS(dc_sequential_append(s, s), DC_E_INVALID);
    ck_assert_int_eq(dc_module_child_count(s), 0);
    /* a chain whose sizes do not fit fails at forward with a shape error */
    OK(dc_sequential_append(s, lin));
    OK(dc_sequential_append(s, lin));   /* Linear(3, 2) after Linear(3, 2) */
    NULLW(dc_module_forward(s, F32(1, 3)), DC_E_SHAPE);
    dc_module_release(s);
    dc_module_release(lin);
}

/* ------------------------------------------------------------------ */
/* Losses                                                              */
/* ------------------------------------------------------------------ */

static void bad_loss_new(void) {
    NULLW(dc_loss_new((dc_loss_kind)8, DC_REDUCTION_MEAN), DC_E_INVALID);
    NULLW(dc_loss_new((dc_loss_kind)-1, DC_REDUCTION_MEAN), DC_E_INVALID);
    NULLW(dc_loss_new(DC_LOSS_MSE, (dc_reduction)3), DC_E_INVALID);
}

static void bad_loss_release(void) { HARMLESS(dc_loss_release(NULL)); }

static void bad_loss_set_beta(void) {
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    dc_loss *hub = dc_loss_new(DC_LOSS_HUBER, DC_REDUCTION_MEAN);
    dc_loss *sl1 = dc_loss_new(DC_LOSS_SMOOTH_L1, DC_REDUCTION_MEAN);
    ck_assert(mse && hub && sl1);
    FAILS(dc_loss_set_beta(NULL, 1), DC_E_INVALID);
    FAILS(dc_loss_set_beta(mse, 1), DC_E_INVALID);
    FAILS(dc_loss_set_beta(hub, 0), DC_E_INVALID);
    FAILS(dc_loss_set_beta(hub, NAN), DC_E_INVALID);
    FAILS(dc_loss_set_beta(sl1, -1), DC_E_INVALID);
    FAILS(dc_loss_set_beta(sl1, INFINITY), DC_E_INVALID);
    OK(dc_loss_set_beta(sl1, 0));
    dc_loss_release(mse);
    dc_loss_release(hub);
    dc_loss_release(sl1);
}

static void bad_loss_set_ignore_index(void) {
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(mse);
    FAILS(dc_loss_set_ignore_index(NULL, 0), DC_E_INVALID);
    FAILS(dc_loss_set_ignore_index(mse, 0), DC_E_INVALID);
    dc_loss_release(mse);
}

static void bad_loss_set_label_smoothing(void) {
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *nll = dc_loss_new(DC_LOSS_NLL, DC_REDUCTION_MEAN);
    ck_assert(ce && nll);
    FAILS(dc_loss_set_label_smoothing(NULL, 0.1), DC_E_INVALID);
    FAILS(dc_loss_set_label_smoothing(nll, 0.1), DC_E_INVALID);
    FAILS(dc_loss_set_label_smoothing(ce, -0.1), DC_E_INVALID);
    FAILS(dc_loss_set_label_smoothing(ce, 1.1), DC_E_INVALID);
    FAILS(dc_loss_set_label_smoothing(ce, NAN), DC_E_INVALID);
    dc_loss_release(ce);
    dc_loss_release(nll);
}

static void bad_loss_set_weight(void) {
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    ck_assert(ce && mse);
    FAILS(dc_loss_set_weight(NULL, F32(3)), DC_E_INVALID);
    FAILS(dc_loss_set_weight(mse, F32(3)), DC_E_INVALID);
    FAILS(dc_loss_set_weight(ce, I64(3)), DC_E_DTYPE);
    FAILS(dc_loss_set_weight(ce, F32(3, 1)), DC_E_SHAPE);
    OK(dc_loss_set_weight(ce, NULL));   /* clearing is always fine */
    /* a weight of the wrong length fails at forward */
    OK(dc_loss_set_weight(ce, F32(4)));
    NULLW(dc_loss_forward(ce, F32(2, 3), I64(2)), DC_E_SHAPE);
    dc_loss_release(ce);
    dc_loss_release(mse);
}

static void bad_loss_set_pos_weight(void) {
    dc_loss *bl = dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN);
    dc_loss *bce = dc_loss_new(DC_LOSS_BCE, DC_REDUCTION_MEAN);
    ck_assert(bl && bce);
    FAILS(dc_loss_set_pos_weight(NULL, F32(3)), DC_E_INVALID);
    FAILS(dc_loss_set_pos_weight(bce, F32(3)), DC_E_INVALID);
    FAILS(dc_loss_set_pos_weight(bl, I32(3)), DC_E_DTYPE);
    OK(dc_loss_set_pos_weight(bl, F32(3)));
    NULLW(dc_loss_forward(bl, F32(2, 4), F32(2, 4)), DC_E_SHAPE);
    dc_loss_release(bl);
    dc_loss_release(bce);
}

static void bad_loss_forward(void) {
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *bce = dc_loss_new(DC_LOSS_BCE, DC_REDUCTION_SUM);
    ck_assert(mse && ce && bce);
    dc_tensor *x = F32(2, 3);
    NULLW(dc_loss_forward(NULL, x, x), DC_E_INVALID);
    NULLW(dc_loss_forward(mse, NULL, x), DC_E_INVALID);
    NULLW(dc_loss_forward(mse, x, NULL), DC_E_INVALID);
    NULLW(dc_loss_forward(mse, x, F32(3, 2)), DC_E_SHAPE);
    NULLW(dc_loss_forward(mse, x, F64(2, 3)), DC_E_DTYPE);
    NULLW(dc_loss_forward(mse, I32(2, 3), I32(2, 3)), DC_E_DTYPE);
    /* class indices: out of range (not the ignore index), wrong dtype/shape */
    NULLW(dc_loss_forward(ce, x, mk(DC_I64, 1, SH(2), 3)), DC_E_RANGE);
    NULLW(dc_loss_forward(ce, x, mk(DC_I64, 1, SH(2), -1)), DC_E_RANGE);
    NULLW(dc_loss_forward(ce, x, mk(DC_U8, 1, SH(2), 0)), DC_E_DTYPE);
    NULLW(dc_loss_forward(ce, x, I64(3)), DC_E_SHAPE);
    NULLW(dc_loss_forward(ce, F32(2, 0), I64(2)), DC_E_SHAPE);
    OKP(dc_loss_forward(ce, x, mk(DC_I64, 1, SH(2), -100)));   /* ignored */
    /* probabilities of BCE must lie in [0, 1] */
    NULLW(dc_loss_forward(bce, mk(DC_F32, 1, SH(2), 1.5), F32(2)), DC_E_RANGE);
    /* NaN in the input is data: the loss is NaN */
    all_nan(OKP(dc_loss_forward(mse, NANT(2, 3), x)));
    all_nan(OKP(dc_loss_forward(ce, NANT(2, 3), I64(2))));
    /* empty batches: the mean is NaN (0/0), the sum 0 — as PyTorch */
    all_nan(OKP(dc_loss_forward(mse, F32(0, 3), F32(0, 3))));
    ck_assert_double_eq(first(OKP(dc_loss_forward(bce, F32(0), F32(0)))), 0);
    dc_loss_release(mse);
    dc_loss_release(ce);
    dc_loss_release(bce);
}

/* ------------------------------------------------------------------ */
/* Optimizers                                                          */
/* ------------------------------------------------------------------ */

/* Shared checks of the parameter list every constructor takes. */
typedef dc_optim *(*optim_ctor)(dc_tensor *const *params, int n, double lr);

static void check_optim_params(optim_ctor f) {
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    NULLW(f(NULL, 1, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p}, 0, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p}, -1, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p, NULL}, 2, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p, p}, 2, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){I64(3)}, 1, 0.1), DC_E_DTYPE);
    NULLW(f((dc_tensor *[]){OKP(dc_mul(p, p))}, 1, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){OKP(dc_expand(F32(1), 1, SH(3)))}, 1, 0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p}, 1, -0.1), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p}, 1, NAN), DC_E_INVALID);
    NULLW(f((dc_tensor *[]){p}, 1, INFINITY), DC_E_INVALID);
}

static dc_optim *sgd_lr(dc_tensor *const *p, int n, double lr) {
    return dc_sgd_new(p, n, lr, 0, 0, 0, 0);
}
static dc_optim *adam_lr(dc_tensor *const *p, int n, double lr) {
    return dc_adam_new(p, n, lr, 0.9, 0.999, 1e-8, 0, 0);
}
static dc_optim *adamw_lr(dc_tensor *const *p, int n, double lr) {
    return dc_adamw_new(p, n, lr, 0.9, 0.999, 1e-8, 0.01, 0);
}
static dc_optim *rmsprop_lr(dc_tensor *const *p, int n, double lr) {
    return dc_rmsprop_new(p, n, lr, 0.99, 1e-8, 0, 0, 0);
}
static dc_optim *adagrad_lr(dc_tensor *const *p, int n, double lr) {
    return dc_adagrad_new(p, n, lr, 0, 0, 0, 1e-10);
}

/* A parameter (with a gradient) and an SGD over it; release with
 * dc_optim_release. */
static dc_optim *small_sgd(dc_tensor **param) {
    dc_tensor *p = param_with_grad(1, SH(3));
    if (param) *param = p;
    dc_optim *o = dc_sgd_new((dc_tensor *[]){p}, 1, 0.1, 0.9, 0, 0, 0);
    ck_assert_msg(o != NULL, "%s: dc_sgd_new: %s", cur_name, dc_last_error());
    return o;
}

static void bad_sgd_new(void) {
    check_optim_params(sgd_lr);
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    dc_tensor *ps[1] = {p};
    NULLW(dc_sgd_new(ps, 1, 0.1, -0.9, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_sgd_new(ps, 1, 0.1, NAN, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_sgd_new(ps, 1, 0.1, 0.9, NAN, 0, 0), DC_E_INVALID);
    NULLW(dc_sgd_new(ps, 1, 0.1, 0.9, 0, -1, 0), DC_E_INVALID);
    NULLW(dc_sgd_new(ps, 1, 0.1, 0, 0, 0, 1), DC_E_INVALID);    /* nesterov, no momentum */
    NULLW(dc_sgd_new(ps, 1, 0.1, 0.9, 0.5, 0, 1), DC_E_INVALID);
}

static void check_adam_family(dc_optim *(*f)(dc_tensor *const *, int, double, double, double,
                                             double, double, int)) {
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    dc_tensor *ps[1] = {p};
    NULLW(f(ps, 1, 1e-3, 1.0, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, -0.1, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, NAN, 1e-8, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, 1.5, 1e-8, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, 0.999, -1e-8, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, 0.999, NAN, 0, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, 0.999, 1e-8, -0.01, 0), DC_E_INVALID);
    NULLW(f(ps, 1, 1e-3, 0.9, 0.999, 1e-8, INFINITY, 0), DC_E_INVALID);
}

static void bad_adam_new(void) {
    check_optim_params(adam_lr);
    check_adam_family(dc_adam_new);
}

static void bad_adamw_new(void) {
    check_optim_params(adamw_lr);
    check_adam_family(dc_adamw_new);
}

static void bad_rmsprop_new(void) {
    check_optim_params(rmsprop_lr);
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    dc_tensor *ps[1] = {p};
    NULLW(dc_rmsprop_new(ps, 1, 0.01, -0.1, 1e-8, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_rmsprop_new(ps, 1, 0.01, 1.1, 1e-8, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_rmsprop_new(ps, 1, 0.01, NAN, 1e-8, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_rmsprop_new(ps, 1, 0.01, 0.99, -1, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_rmsprop_new(ps, 1, 0.01, 0.99, 1e-8, 0, -0.5, 0), DC_E_INVALID);
    NULLW(dc_rmsprop_new(ps, 1, 0.01, 0.99, 1e-8, NAN, 0, 0), DC_E_INVALID);
}

static void bad_adagrad_new(void) {
    check_optim_params(adagrad_lr);
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    dc_tensor *ps[1] = {p};
    NULLW(dc_adagrad_new(ps, 1, 0.01, -1, 0, 0, 1e-10), DC_E_INVALID);
    NULLW(dc_adagrad_new(ps, 1, 0.01, 0, 0, -1, 1e-10), DC_E_INVALID);
    NULLW(dc_adagrad_new(ps, 1, 0.01, 0, 0, 0, NAN), DC_E_INVALID);
    NULLW(dc_adagrad_new(ps, 1, 0.01, NAN, 0, 0, 1e-10), DC_E_INVALID);
}

static void bad_optim_release(void) { HARMLESS(dc_optim_release(NULL)); }

static void bad_optim_add_group(void) {
    dc_tensor *p;
    dc_optim *o = small_sgd(&p);
    dc_tensor *q = F32(2);
    OK(dc_set_requires_grad(q, 1));
    int g = 42;
    FAILS(dc_optim_add_group(NULL, (dc_tensor *[]){q}, 1, 0.1, 0, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, NULL, 1, 0.1, 0, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, (dc_tensor *[]){q}, 0, 0.1, 0, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, (dc_tensor *[]){p}, 1, 0.1, 0, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, (dc_tensor *[]){q}, 1, NAN, 0, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, (dc_tensor *[]){q}, 1, 0.1, -1, &g), DC_E_INVALID);
    FAILS(dc_optim_add_group(o, (dc_tensor *[]){I32(2)}, 1, 0.1, 0, &g), DC_E_DTYPE);
    ck_assert_int_eq(g, 42);
    ck_assert_int_eq(dc_optim_group_count(o), 1);
    dc_optim_release(o);
}

static void bad_optim_group_count(void) { RETW(dc_optim_group_count(NULL), -1, DC_E_INVALID); }

static void bad_optim_set_lr(void) {
    dc_optim *o = small_sgd(NULL);
    FAILS(dc_optim_set_lr(NULL, 0, 0.1), DC_E_INVALID);
    FAILS(dc_optim_set_lr(o, 1, 0.1), DC_E_RANGE);
    FAILS(dc_optim_set_lr(o, -1, 0.1), DC_E_RANGE);
    FAILS(dc_optim_set_lr(o, 0, NAN), DC_E_INVALID);
    FAILS(dc_optim_set_lr(o, 0, -1), DC_E_INVALID);
    ck_assert_double_eq(dc_optim_get_lr(o, 0), 0.1);
    dc_optim_release(o);
}

static void bad_optim_get_lr(void) {
    dc_optim *o = small_sgd(NULL);
    dc_clear_error();
    ck_assert(isnan(dc_optim_get_lr(NULL, 0)));
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    dc_clear_error();
    ck_assert(isnan(dc_optim_get_lr(o, 1)));
    ck_assert_int_eq(dc_last_status(), DC_E_RANGE);
    ck_assert(dc_last_error()[0] != '\0');
    dc_optim_release(o);
}

static void bad_optim_step(void) {
    FAILS(dc_optim_step(NULL), DC_E_INVALID);
    /* no gradients yet: nothing to do, not an error (as PyTorch) */
    dc_tensor *p = F32(3);
    OK(dc_set_requires_grad(p, 1));
    dc_optim *o = dc_adam_new((dc_tensor *[]){p}, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    ck_assert_ptr_nonnull(o);
    OK(dc_optim_step(o));
    ck_assert_double_eq(first(p), 0.5);
    /* NaN gradients are data: the parameters become NaN, as in PyTorch */
    OK(dc_backward(OKP(dc_sum(OKP(dc_mul_scalar(p, NAN)), NULL, 0, 0)), NULL, 0));
    OK(dc_optim_step(o));
    all_nan(p);
    dc_optim_release(o);
}

static void bad_optim_zero_grad(void) {
    FAILS(dc_optim_zero_grad(NULL), DC_E_INVALID);
    dc_optim *o = small_sgd(NULL);
    OK(dc_optim_zero_grad(o));
    OK(dc_optim_zero_grad(o));   /* twice is fine */
    dc_optim_release(o);
}

static void bad_optim_state_count(void) { RETW(dc_optim_state_count(NULL), -1, DC_E_INVALID); }

static void bad_optim_state_name(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_optim_state_name(NULL, 0), DC_E_INVALID);
    NULLW(dc_optim_state_name(o, 0), DC_E_RANGE);   /* nothing stepped yet */
    OK(dc_optim_step(o));
    NULLW(dc_optim_state_name(o, dc_optim_state_count(o)), DC_E_RANGE);
    NULLW(dc_optim_state_name(o, -1), DC_E_RANGE);
    dc_optim_release(o);
}

static void bad_optim_state_tensor(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_optim_state_tensor(NULL, 0), DC_E_INVALID);
    NULLW(dc_optim_state_tensor(o, 0), DC_E_RANGE);
    NULLW(dc_optim_state_tensor(o, INT64_MIN), DC_E_RANGE);
    dc_optim_release(o);
}

static void bad_optim_state_load(void) {
    dc_optim *o = small_sgd(NULL);
    dc_tensor *t = F32(3);
    FAILS(dc_optim_state_load(NULL, "state.0.momentum_buffer", t), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, NULL, t), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, "state.0.momentum_buffer", NULL), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, "momentum_buffer", t), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, "state.x.momentum_buffer", t), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, "state.0.exp_avg", t), DC_E_INVALID);
    FAILS(dc_optim_state_load(o, "state.1.momentum_buffer", t), DC_E_RANGE);
    FAILS(dc_optim_state_load(o, "state.99999999999999999999.momentum_buffer", t),
          DC_E_RANGE);
    FAILS(dc_optim_state_load(o, "state.0.momentum_buffer", F32(4)), DC_E_SHAPE);
    FAILS(dc_optim_state_load(o, "state.0.momentum_buffer", I64(3)), DC_E_DTYPE);
    ck_assert_int_eq(dc_optim_state_count(o), 0);
    dc_optim_release(o);
}

/* ------------------------------------------------------------------ */
/* Schedules                                                           */
/* ------------------------------------------------------------------ */

static void bad_sched_step_lr_new(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_sched_step_lr_new(NULL, 1, 0.5), DC_E_INVALID);
    NULLW(dc_sched_step_lr_new(o, 0, 0.5), DC_E_INVALID);
    NULLW(dc_sched_step_lr_new(o, 1, NAN), DC_E_INVALID);
    NULLW(dc_sched_step_lr_new(o, 1, -0.5), DC_E_INVALID);
    ck_assert_double_eq(dc_optim_get_lr(o, 0), 0.1);
    dc_optim_release(o);
}

static void bad_sched_exponential_new(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_sched_exponential_new(NULL, 0.5), DC_E_INVALID);
    NULLW(dc_sched_exponential_new(o, INFINITY), DC_E_INVALID);
    NULLW(dc_sched_exponential_new(o, -1), DC_E_INVALID);
    dc_optim_release(o);
}

static void bad_sched_cosine_new(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_sched_cosine_new(NULL, 10, 0), DC_E_INVALID);
    NULLW(dc_sched_cosine_new(o, 0, 0), DC_E_INVALID);
    NULLW(dc_sched_cosine_new(o, 10, NAN), DC_E_INVALID);
    NULLW(dc_sched_cosine_new(o, 10, -1), DC_E_INVALID);
    dc_optim_release(o);
}

static void bad_sched_linear_new(void) {
    dc_optim *o = small_sgd(NULL);
    NULLW(dc_sched_linear_new(NULL, 0.5, 1, 10), DC_E_INVALID);
    NULLW(dc_sched_linear_new(o, 0, 1, 10), DC_E_INVALID);
    NULLW(dc_sched_linear_new(o, 1.5, 1, 10), DC_E_INVALID);
    NULLW(dc_sched_linear_new(o, 0.5, NAN, 10), DC_E_INVALID);
    NULLW(dc_sched_linear_new(o, 0.5, 1, 0), DC_E_INVALID);
    dc_optim_release(o);
}

static void bad_sched_sequential_new(void) {
    dc_optim *o = small_sgd(NULL), *o2 = small_sgd(NULL);
    dc_sched *a = dc_sched_step_lr_new(o, 1, 0.5), *b = dc_sched_exponential_new(o, 0.9);
    dc_sched *other = dc_sched_exponential_new(o2, 0.9);
    ck_assert(a && b && other);
    NULLW(dc_sched_sequential_new(NULL, (dc_sched *[]){a, b}, 2, SH(3)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, NULL, 2, SH(3)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 0, SH(3)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 2, NULL), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, NULL}, 2, SH(3)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, b, a}, 3, SH(3, 3)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 2, SH(0)), DC_E_INVALID);
    NULLW(dc_sched_sequential_new(o, (dc_sched *[]){a, other}, 2, SH(3)), DC_E_INVALID);
    dc_sched_release(a);
    dc_sched_release(b);
    dc_sched_release(other);
    dc_optim_release(o);
    dc_optim_release(o2);
}

static void bad_sched_step(void) { FAILS(dc_sched_step(NULL), DC_E_INVALID); }
static void bad_sched_last_epoch(void) { RETW(dc_sched_last_epoch(NULL), -1, DC_E_INVALID); }

static void bad_sched_set_last_epoch(void) {
    dc_optim *o = small_sgd(NULL);
    dc_sched *s = dc_sched_step_lr_new(o, 2, 0.5);
    ck_assert_ptr_nonnull(s);
    FAILS(dc_sched_set_last_epoch(NULL, 1), DC_E_INVALID);
    FAILS(dc_sched_set_last_epoch(s, -1), DC_E_RANGE);
    ck_assert_int_eq(dc_sched_last_epoch(s), 0);
    dc_sched_release(s);
    dc_optim_release(o);
}

static void bad_sched_release(void) { HARMLESS(dc_sched_release(NULL)); }

/* ------------------------------------------------------------------ */
/* Gradient clipping                                                   */
/* ------------------------------------------------------------------ */

static void bad_clip_grad_norm(void) {
    dc_tensor *p = param_with_grad(1, SH(3));
    dc_tensor *ps[1] = {p};
    double norm = 42;
    FAILS(dc_clip_grad_norm(NULL, 1, 1, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm(ps, -1, 1, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm((dc_tensor *[]){p, NULL}, 2, 1, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm((dc_tensor *[]){p, p}, 2, 1, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm(ps, 1, -1, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm(ps, 1, NAN, 2, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm(ps, 1, 1, 0, &norm), DC_E_INVALID);
    FAILS(dc_clip_grad_norm(ps, 1, 1, NAN, &norm), DC_E_INVALID);
    ck_assert_double_eq(norm, 42);
    /* nothing to clip: n 0, or no gradient */
    OK(dc_clip_grad_norm(NULL, 0, 1, 2, NULL));
    OK(dc_clip_grad_norm((dc_tensor *[]){F32(2)}, 1, 1, 2, &norm));
}

static void bad_clip_grad_value(void) {
    dc_tensor *p = param_with_grad(1, SH(3));
    dc_tensor *ps[1] = {p};
    FAILS(dc_clip_grad_value(NULL, 1, 1), DC_E_INVALID);
    FAILS(dc_clip_grad_value(ps, -2, 1), DC_E_INVALID);
    FAILS(dc_clip_grad_value(ps, 1, -1), DC_E_INVALID);
    FAILS(dc_clip_grad_value(ps, 1, NAN), DC_E_INVALID);
    OK(dc_clip_grad_value(ps, 1, INFINITY));
}

/* ------------------------------------------------------------------ */
/* safetensors, module files, checkpoints                              */
/* ------------------------------------------------------------------ */

/* A valid safetensors image of one f32 tensor "a" of shape (2), in buf. */
static size_t tiny_safetensors(unsigned char *buf, size_t cap) {
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(hdr);
    ck_assert_uint_le(8 + hl + 8, cap);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, 0, 8);
    return 8 + hl + 8;
}

static dc_safetensors *tiny_open(void) {
    unsigned char buf[128];
    size_t n = tiny_safetensors(buf, sizeof buf);
    dc_safetensors *st = dc_safetensors_from_buffer(buf, n);
    ck_assert_msg(st != NULL, "%s: from_buffer: %s", cur_name, dc_last_error());
    return st;
}

static void bad_safetensors_open(void) {
    char path[256];
    tmp_path(path, sizeof path, "st_open");
    NULLW(dc_safetensors_open(NULL), DC_E_INVALID);
    NULLW(dc_safetensors_open("/nonexistent-dir/x.safetensors"), DC_E_IO);
    write_file(path, "not a safetensors file", 22);
    NULLW(dc_safetensors_open(path), DC_E_FORMAT);
    write_file(path, "", 0);
    NULLW(dc_safetensors_open(path), DC_E_FORMAT);
    remove(path);
}

static void bad_safetensors_from_buffer(void) {
    unsigned char buf[128];
    size_t n = tiny_safetensors(buf, sizeof buf);
    NULLW(dc_safetensors_from_buffer(NULL, 16), DC_E_INVALID);
    NULLW(dc_safetensors_from_buffer(buf, 0), DC_E_FORMAT);
    NULLW(dc_safetensors_from_buffer(buf, 7), DC_E_FORMAT);
    NULLW(dc_safetensors_from_buffer(buf, n - 1), DC_E_FORMAT);   /* data cut short */
    unsigned char bad[128];
    memcpy(bad, buf, n);
    memset(bad, 0xff, 8);   /* header length 2^64 - 1 */
    NULLW(dc_safetensors_from_buffer(bad, n), DC_E_FORMAT);
    memcpy(bad, buf, n);
    bad[8] = '[';           /* header not a JSON object */
    NULLW(dc_safetensors_from_buffer(bad, n), DC_E_FORMAT);
}

static void bad_safetensors_close(void) { HARMLESS(dc_safetensors_close(NULL)); }

static void bad_safetensors_count(void) { RETW(dc_safetensors_count(NULL), -1, DC_E_INVALID); }

static void bad_safetensors_name(void) {
    dc_safetensors *st = tiny_open();
    NULLW(dc_safetensors_name(NULL, 0), DC_E_INVALID);
    NULLW(dc_safetensors_name(st, 1), DC_E_RANGE);
    NULLW(dc_safetensors_name(st, -1), DC_E_RANGE);
    dc_safetensors_close(st);
}

static void bad_safetensors_get(void) {
    dc_safetensors *st = tiny_open();
    NULLW(dc_safetensors_get(NULL, "a"), DC_E_INVALID);
    NULLW(dc_safetensors_get(st, NULL), DC_E_INVALID);
    NULLW(dc_safetensors_get(st, "b"), DC_E_RANGE);
    NULLW(dc_safetensors_get(st, "__metadata__"), DC_E_RANGE);
    dc_safetensors_close(st);
}

static void bad_safetensors_metadata(void) {
    dc_safetensors *st = tiny_open();
    NULLW(dc_safetensors_metadata(NULL, "k"), DC_E_INVALID);
    NULLW(dc_safetensors_metadata(st, NULL), DC_E_INVALID);
    dc_clear_error();
    ck_assert_ptr_null(dc_safetensors_metadata(st, "missing"));
    dc_safetensors_close(st);
}

/* A file path that is an existing file's sibling in a missing directory. */
#define MISSING_DIR_PATH "/nonexistent-dir/out.safetensors"

static void bad_safetensors_save(void) {
    char path[256];
    tmp_path(path, sizeof path, "st_save");
    dc_tensor *t = F32(2);
    const char *names[2] = {"a", "a"};
    dc_tensor *ts[2] = {t, t};
    const char *k[1] = {"k"}, *v[1] = {"v"};
    FAILS(dc_safetensors_save(NULL, names, ts, 1, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, NULL, ts, 1, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, NULL, 1, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, ts, -1, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, ts, 2, NULL, NULL, 0), DC_E_INVALID); /* dup */
    FAILS(dc_safetensors_save(path, (const char *[]){NULL}, ts, 1, NULL, NULL, 0),
          DC_E_INVALID);
    FAILS(dc_safetensors_save(path, (const char *[]){"a\nb"}, ts, 1, NULL, NULL, 0),
          DC_E_INVALID);
    FAILS(dc_safetensors_save(path, (const char *[]){"\xff\xfe"}, ts, 1, NULL, NULL, 0),
          DC_E_INVALID);
    FAILS(dc_safetensors_save(path, (const char *[]){"__metadata__"}, ts, 1, NULL, NULL, 0),
          DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, (dc_tensor *[]){NULL}, 1, NULL, NULL, 0),
          DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, ts, 1, k, NULL, 1), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, ts, 1, k, (const char *[]){NULL}, 1), DC_E_INVALID);
    FAILS(dc_safetensors_save(path, names, ts, 1, (const char *[]){"k", "k"},
                              (const char *[]){"1", "2"}, 2), DC_E_INVALID);
    FAILS(dc_safetensors_save(MISSING_DIR_PATH, names, ts, 1, k, v, 1), DC_E_IO);
    /* no failure above created the file */
    ck_assert_int_ne(access(path, F_OK), 0);
    /* a failed save leaves an earlier file of that name as it was */
    OK(dc_safetensors_save(path, names, ts, 1, k, v, 1));
    FAILS(dc_safetensors_save(path, names, ts, 2, NULL, NULL, 0), DC_E_INVALID);
    dc_safetensors *st = dc_safetensors_open(path);
    ck_assert_msg(st != NULL, "%s", dc_last_error());
    ck_assert_int_eq(dc_safetensors_count(st), 1);
    dc_safetensors_close(st);
    remove(path);
}

static void bad_module_save(void) {
    char path[256];
    tmp_path(path, sizeof path, "msave");
    dc_module *m = small_linear();
    FAILS(dc_module_save(NULL, path), DC_E_INVALID);
    FAILS(dc_module_save(m, NULL), DC_E_INVALID);
    FAILS(dc_module_save(m, MISSING_DIR_PATH), DC_E_IO);
    dc_module_release(m);
}

static void bad_module_load(void) {
    char path[256];
    tmp_path(path, sizeof path, "mload");
    dc_module *m = small_linear();
    dc_module *other = OKM(dc_linear_new(3, 4, 1, NULL));
    dc_module *nobias = OKM(dc_linear_new(3, 2, 0, NULL));
    FAILS(dc_module_load(NULL, path, 1), DC_E_INVALID);
    FAILS(dc_module_load(m, NULL, 1), DC_E_INVALID);
    FAILS(dc_module_load(m, "/nonexistent-dir/m.safetensors", 1), DC_E_IO);
    OK(dc_module_save(other, path));
    double before = first(OKP(dc_module_state_find(m, "weight")));
    FAILS(dc_module_load(m, path, 1), DC_E_SHAPE);    /* (4, 3) into (2, 3) */
    FAILS(dc_module_load(m, path, 0), DC_E_SHAPE);
    ck_assert_double_eq(first(OKP(dc_module_state_find(m, "weight"))), before);
    OK(dc_module_save(nobias, path));
    FAILS(dc_module_load(m, path, 1), DC_E_FORMAT);   /* "bias" missing */
    ck_assert_double_eq(first(OKP(dc_module_state_find(m, "weight"))), before);
    OK(dc_module_save(m, path));
    FAILS(dc_module_load(nobias, path, 1), DC_E_FORMAT);   /* "bias" unexpected */
    OK(dc_module_load(nobias, path, 0));
    remove(path);
    dc_module_release(m);
    dc_module_release(other);
    dc_module_release(nobias);
}

static void bad_module_load_buffer(void) {
    dc_module *m = small_linear();
    unsigned char buf[128];
    size_t n = tiny_safetensors(buf, sizeof buf);
    FAILS(dc_module_load_buffer(NULL, buf, n, 1), DC_E_INVALID);
    FAILS(dc_module_load_buffer(m, NULL, n, 1), DC_E_INVALID);
    FAILS(dc_module_load_buffer(m, buf, 3, 1), DC_E_FORMAT);
    FAILS(dc_module_load_buffer(m, buf, n, 1), DC_E_FORMAT);   /* "a" is not a Linear's */
    OK(dc_module_load_buffer(m, buf, n, 0));                    /* nothing matches */
    dc_module_release(m);
}

static void bad_checkpoint_save(void) {
    char path[256];
    tmp_path(path, sizeof path, "ckpt_save");
    dc_module *m = small_linear();
    FAILS(dc_checkpoint_save(NULL, m, NULL, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_checkpoint_save(path, NULL, NULL, NULL, NULL, 0), DC_E_INVALID);
    FAILS(dc_checkpoint_save(MISSING_DIR_PATH, m, NULL, NULL, NULL, 0), DC_E_IO);
    ck_assert_int_ne(access(path, F_OK), 0);
    dc_module_release(m);
}

static void bad_checkpoint_load(void) {
    char path[256];
    tmp_path(path, sizeof path, "ckpt_load");
    dc_module *m = small_linear();
    int64_t step = 42;
    FAILS(dc_checkpoint_load(NULL, m, NULL, NULL, NULL, &step), DC_E_INVALID);
    FAILS(dc_checkpoint_load(path, NULL, NULL, NULL, NULL, &step), DC_E_INVALID);
    FAILS(dc_checkpoint_load("/nonexistent-dir/c.safetensors", m, NULL, NULL, NULL, &step),
          DC_E_IO);
    /* a plain module file is not a checkpoint */
    OK(dc_module_save(m, path));
    FAILS(dc_checkpoint_load(path, m, NULL, NULL, NULL, &step), DC_E_FORMAT);
    ck_assert_int_eq(step, 42);
    remove(path);
    dc_module_release(m);
}

/* ------------------------------------------------------------------ */
/* Dataset readers                                                     */
/* ------------------------------------------------------------------ */

static void bad_idx_load(void) {
    char path[256];
    tmp_path(path, sizeof path, "idx");
    NULLW(dc_idx_load(NULL, 0), DC_E_INVALID);
    NULLW(dc_idx_load("/nonexistent-dir/x.idx", 0), DC_E_IO);
    write_file(path, "\0\0", 2);
    NULLW(dc_idx_load(path, 0), DC_E_FORMAT);
    /* u8, 1 dim of 2^31 - 1 elements, but 3 bytes of data */
    write_file(path, "\0\0\x08\x01\x7f\xff\xff\xff\1\2\3", 11);
    NULLW(dc_idx_load(path, 0), DC_E_FORMAT);
    /* a bad element type code */
    write_file(path, "\0\0\x07\x01\0\0\0\1\1", 9);
    NULLW(dc_idx_load(path, 0), DC_E_FORMAT);
    /* 2 dims of 2^31 - 1: more than max_bytes */
    write_file(path, "\0\0\x08\x02\x7f\xff\xff\xff\x7f\xff\xff\xff", 12);
    NULLW(dc_idx_load(path, 1000), DC_E_FORMAT);
    /* a valid file that is larger than max_bytes */
    write_file(path, "\0\0\x08\x01\0\0\0\4\1\2\3\4", 12);
    NULLW(dc_idx_load(path, 2), DC_E_FORMAT);
    remove(path);
}

static void bad_csv_load(void) {
    char path[256];
    tmp_path(path, sizeof path, "csv");
    NULLW(dc_csv_load(NULL, 0, DC_F32), DC_E_INVALID);
    NULLW(dc_csv_load("/nonexistent-dir/x.csv", 0, DC_F32), DC_E_IO);
    write_file(path, "1,2\n3,4\n", 8);
    NULLW(dc_csv_load(path, -1, DC_F32), DC_E_INVALID);
    NULLW(dc_csv_load(path, 0, DC_BOOL), DC_E_DTYPE);
    NULLW(dc_csv_load(path, 0, (dc_dtype)9), DC_E_DTYPE);
    write_file(path, "1,2\n3\n", 6);
    NULLW(dc_csv_load(path, 0, DC_F32), DC_E_FORMAT);
    write_file(path, "1,,2\n", 5);
    NULLW(dc_csv_load(path, 0, DC_F32), DC_E_FORMAT);
    write_file(path, "1,abc\n", 6);
    NULLW(dc_csv_load(path, 0, DC_F64), DC_E_FORMAT);
    write_file(path, "1.5\n", 4);
    NULLW(dc_csv_load(path, 0, DC_I32), DC_E_FORMAT);
    write_file(path, "99999999999\n", 12);
    NULLW(dc_csv_load(path, 0, DC_I32), DC_E_FORMAT);
    remove(path);
}

/* ------------------------------------------------------------------ */
/* Batching, preprocessing                                             */
/* ------------------------------------------------------------------ */

static void bad_loader_new(void) {
    dc_tensor *x = F32(5, 2), *y = I64(5);
    NULLW(dc_loader_new(NULL, y, 2, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_loader_new(x, I64(4), 2, 0, 0, 0), DC_E_SHAPE);
    NULLW(dc_loader_new(x, y, 0, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_loader_new(x, y, -2, 0, 0, 0), DC_E_INVALID);
    NULLW(dc_loader_new(OKP(dc_scalar(DC_F32, 1)), NULL, 1, 0, 0, 0), DC_E_SHAPE);
    NULLW(dc_loader_new(x, OKP(dc_scalar(DC_I64, 1)), 1, 0, 0, 0), DC_E_SHAPE);
    /* no samples: no batches, not an error */
    dc_loader *l = dc_loader_new(F32(0, 2), NULL, 4, 1, 0, 1);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(dc_loader_num_batches(l), 0);
    dc_tensor *xb = NULL;
    ck_assert_int_eq(dc_loader_next(l, &xb, NULL), 0);
    dc_loader_release(l);
}

static void bad_loader_release(void) { HARMLESS(dc_loader_release(NULL)); }
static void bad_loader_num_batches(void) { RETW(dc_loader_num_batches(NULL), -1, DC_E_INVALID); }
static void bad_loader_reset(void) { FAILS(dc_loader_reset(NULL), DC_E_INVALID); }

static void bad_loader_next(void) {
    dc_loader *l = dc_loader_new(F32(3, 2), I64(3), 2, 0, 0, 0);
    ck_assert_ptr_nonnull(l);
    dc_tensor *xb = NULL, *yb = NULL;
    RETW(dc_loader_next(NULL, &xb, &yb), -1, DC_E_INVALID);
    RETW(dc_loader_next(l, NULL, &yb), -1, DC_E_INVALID);
    ck_assert_ptr_null(xb);
    ck_assert_ptr_null(yb);
    /* the failures did not advance the epoch */
    ck_assert_int_eq(dc_loader_next(l, &xb, &yb), 1);
    SHAPE_IS(xb, 2, 2);
    dc_loader_release(l);
}

static void bad_scaler_minmax_new(void) {
    NULLW(dc_scaler_minmax_new(1, 0), DC_E_INVALID);
    NULLW(dc_scaler_minmax_new(1, 1), DC_E_INVALID);
    NULLW(dc_scaler_minmax_new(NAN, 1), DC_E_INVALID);
    NULLW(dc_scaler_minmax_new(0, INFINITY), DC_E_INVALID);
}

static void bad_scaler_standard_new(void) {
    dc_scaler *s = dc_scaler_standard_new();
    ck_assert_ptr_nonnull(s);
    /* a constant feature maps to 0, not NaN */
    OK(dc_scaler_fit(s, F32(4, 2)));
    ck_assert_double_eq(first(OKP(dc_scaler_transform(s, F32(1, 2)))), 0);
    dc_scaler_release(s);
}

static void bad_scaler_release(void) { HARMLESS(dc_scaler_release(NULL)); }

static void bad_scaler_fit(void) {
    dc_scaler *s = dc_scaler_standard_new();
    ck_assert_ptr_nonnull(s);
    FAILS(dc_scaler_fit(NULL, F32(4, 2)), DC_E_INVALID);
    FAILS(dc_scaler_fit(s, NULL), DC_E_INVALID);
    FAILS(dc_scaler_fit(s, I32(4, 2)), DC_E_DTYPE);
    FAILS(dc_scaler_fit(s, F32(0, 2)), DC_E_SHAPE);
    FAILS(dc_scaler_fit(s, OKP(dc_scalar(DC_F32, 1))), DC_E_SHAPE);
    /* the failures left it unfitted */
    NULLW(dc_scaler_transform(s, F32(1, 2)), DC_E_STATE);
    dc_scaler_release(s);
}

static void bad_scaler_transform(void) {
    dc_scaler *s = dc_scaler_minmax_new(0, 1);
    ck_assert_ptr_nonnull(s);
    NULLW(dc_scaler_transform(NULL, F32(1, 2)), DC_E_INVALID);
    NULLW(dc_scaler_transform(s, F32(1, 2)), DC_E_STATE);
    OK(dc_scaler_fit(s, F32(4, 2)));
    NULLW(dc_scaler_transform(s, NULL), DC_E_INVALID);
    NULLW(dc_scaler_transform(s, F32(1, 3)), DC_E_SHAPE);
    NULLW(dc_scaler_transform(s, I64(1, 2)), DC_E_DTYPE);
    all_nan(OKP(dc_scaler_transform(s, NANT(1, 2))));
    dc_scaler_release(s);
}

static void bad_one_hot(void) {
    NULLW(dc_one_hot(NULL, 3, DC_F32), DC_E_INVALID);
    NULLW(dc_one_hot(F32(2), 3, DC_F32), DC_E_DTYPE);
    NULLW(dc_one_hot(I64(2), 0, DC_F32), DC_E_INVALID);
    NULLW(dc_one_hot(I64(2), 3, (dc_dtype)9), DC_E_DTYPE);
    NULLW(dc_one_hot(mk(DC_I64, 1, SH(2), 3), 3, DC_F32), DC_E_RANGE);
    NULLW(dc_one_hot(mk(DC_I32, 1, SH(2), -1), 3, DC_F32), DC_E_RANGE);
    NULLW(dc_one_hot(I64(1, 1, 1, 1, 1, 1, 1, 1), 3, DC_F32), DC_E_SHAPE);
    NULLW(dc_one_hot(I64(4), INT64_MAX, DC_F32), DC_E_OVERFLOW);
    SHAPE_IS(OKP(dc_one_hot(I64(0), 3, DC_I64)), 0, 3);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

/* Class metrics: labels must be integers of one shape, in range. */
static void check_class_pair(dc_status (*f)(const dc_tensor *, const dc_tensor *, double *)) {
    dc_tensor *p = I64(4), *t = I64(4);
    double out = 42;
    FAILS(f(NULL, t, &out), DC_E_INVALID);
    FAILS(f(p, NULL, &out), DC_E_INVALID);
    FAILS(f(p, t, NULL), DC_E_INVALID);
    FAILS(f(F32(4), t, &out), DC_E_DTYPE);
    FAILS(f(p, I64(5), &out), DC_E_SHAPE);
    FAILS(f(I64(0), I64(0), &out), DC_E_SHAPE);
    ck_assert_double_eq(out, 42);
}

static void bad_metric_accuracy(void) { check_class_pair(dc_metric_accuracy); }

static void bad_confusion_matrix(void) {
    dc_tensor *p = I64(4), *t = I64(4);
    NULLW(dc_confusion_matrix(NULL, t, 2), DC_E_INVALID);
    NULLW(dc_confusion_matrix(p, t, 0), DC_E_INVALID);
    NULLW(dc_confusion_matrix(p, F64(4), 2), DC_E_DTYPE);
    NULLW(dc_confusion_matrix(p, I64(3), 2), DC_E_SHAPE);
    NULLW(dc_confusion_matrix(p, mk(DC_I64, 1, SH(4), 2), 2), DC_E_RANGE);
    NULLW(dc_confusion_matrix(mk(DC_I32, 1, SH(4), -1), t, 2), DC_E_RANGE);
    NULLW(dc_confusion_matrix(p, t, INT64_MAX), DC_E_OVERFLOW);
}

static void bad_metric_per_class(void) {
    dc_tensor *p = I64(4), *t = I64(4);
    double pr[2] = {42, 42};
    FAILS(dc_metric_per_class(NULL, t, 2, pr, NULL, NULL), DC_E_INVALID);
    FAILS(dc_metric_per_class(p, t, 0, pr, NULL, NULL), DC_E_INVALID);
    FAILS(dc_metric_per_class(p, t, -1, pr, NULL, NULL), DC_E_INVALID);
    FAILS(dc_metric_per_class(p, I64(3), 2, pr, NULL, NULL), DC_E_SHAPE);
    FAILS(dc_metric_per_class(p, mk(DC_I64, 1, SH(4), 5), 2, pr, NULL, NULL), DC_E_RANGE);
    FAILS(dc_metric_per_class(p, F32(4), 2, pr, NULL, NULL), DC_E_DTYPE);
    ck_assert_double_eq(pr[0], 42);
}

static void bad_metric_prf(void) {
    dc_tensor *p = I64(4), *t = I64(4);
    double pr = 42, rc = 42, f1 = 42;
    FAILS(dc_metric_prf(NULL, t, 2, DC_AVERAGE_MACRO, &pr, &rc, &f1), DC_E_INVALID);
    FAILS(dc_metric_prf(p, t, 2, (dc_average)3, &pr, &rc, &f1), DC_E_INVALID);
    FAILS(dc_metric_prf(p, t, 0, DC_AVERAGE_MICRO, &pr, &rc, &f1), DC_E_INVALID);
    FAILS(dc_metric_prf(p, I64(2, 2), 2, DC_AVERAGE_MICRO, &pr, &rc, &f1), DC_E_SHAPE);
    FAILS(dc_metric_prf(p, mk(DC_I64, 1, SH(4), 2), 2, DC_AVERAGE_WEIGHTED, &pr, &rc, &f1),
          DC_E_RANGE);
    ck_assert_double_eq(pr, 42);
    ck_assert_double_eq(rc, 42);
    ck_assert_double_eq(f1, 42);
}

/* Regression metrics: numbers of one shape; NaN in, NaN out. */
static void check_regression(dc_status (*f)(const dc_tensor *, const dc_tensor *, double *)) {
    dc_tensor *p = F32(4), *t = OKP(dc_arange(DC_F32, 0, 4, 1));
    double out = 42;
    FAILS(f(NULL, t, &out), DC_E_INVALID);
    FAILS(f(p, NULL, &out), DC_E_INVALID);
    FAILS(f(p, t, NULL), DC_E_INVALID);
    FAILS(f(p, F32(5), &out), DC_E_SHAPE);
    FAILS(f(BOOLT(4), BOOLT(4), &out), DC_E_DTYPE);
    FAILS(f(F32(0), F32(0), &out), DC_E_SHAPE);
    ck_assert_double_eq(out, 42);
    OK(f(NANT(4), t, &out));
    ck_assert(isnan(out));
}
static void bad_metric_mse(void) { check_regression(dc_metric_mse); }
static void bad_metric_mae(void) { check_regression(dc_metric_mae); }
static void bad_metric_r2(void) { check_regression(dc_metric_r2); }

/* ------------------------------------------------------------------ */
/* Model zoo                                                           */
/* ------------------------------------------------------------------ */

static void bad_zoo_mlp_new(void) {
    NULLW(dc_zoo_mlp_new(NULL, 2, DC_ACT_RELU, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(4), 1, DC_ACT_RELU, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(4, 0, 2), 3, DC_ACT_RELU, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(4, 2), 2, (dc_activation)99, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(4, 2), 2, DC_ACT_RELU, NAN, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(4, 2), 2, DC_ACT_RELU, 1.0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_mlp_new(SH(INT64_MAX / 2, 4), 2, DC_ACT_RELU, 0, NULL), DC_E_OVERFLOW);
}

static void bad_zoo_lenet5_new(void) {
    NULLW(dc_zoo_lenet5_new(0, 10, NULL), DC_E_INVALID);
    NULLW(dc_zoo_lenet5_new(1, 0, NULL), DC_E_INVALID);
    dc_module *m = OKM(dc_zoo_lenet5_new(1, 10, NULL));
    NULLW(dc_module_forward(m, F32(1, 1, 20, 20)), DC_E_SHAPE);
    NULLW(dc_module_forward(m, F32(1, 2, 28, 28)), DC_E_SHAPE);
    dc_module_release(m);
}

static void bad_zoo_resnet_new(void) {
    const int blocks[2] = {1, 1};
    NULLW(dc_zoo_resnet_new(3, 10, 8, NULL, 2, NULL), DC_E_INVALID);
    NULLW(dc_zoo_resnet_new(3, 10, 8, blocks, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_resnet_new(3, 10, 8, (const int[]){1, 0}, 2, NULL), DC_E_INVALID);
    NULLW(dc_zoo_resnet_new(0, 10, 8, blocks, 2, NULL), DC_E_INVALID);
    NULLW(dc_zoo_resnet_new(3, 10, 0, blocks, 2, NULL), DC_E_INVALID);
    NULLW(dc_zoo_resnet_new(3, 10, INT64_MAX / 2, blocks, 2, NULL), DC_E_OVERFLOW);
}

static void bad_zoo_rnn_lm_new(void) {
    NULLW(dc_zoo_rnn_lm_new((dc_rnn_kind)5, 10, 4, 4, 1, NULL), DC_E_INVALID);
    NULLW(dc_zoo_rnn_lm_new(DC_RNN_GRU, 0, 4, 4, 1, NULL), DC_E_INVALID);
    NULLW(dc_zoo_rnn_lm_new(DC_RNN_GRU, 10, 4, 4, 0, NULL), DC_E_INVALID);
    dc_module *m = OKM(dc_zoo_rnn_lm_new(DC_RNN_LSTM, 10, 4, 4, 1, NULL));
    NULLW(dc_module_forward(m, I64(2)), DC_E_SHAPE);
    NULLW(dc_module_forward(m, mk(DC_I64, 2, SH(1, 2), 10)), DC_E_RANGE);
    dc_module_release(m);
}

static void bad_zoo_gpt_new(void) {
    NULLW(dc_zoo_gpt_new(0, 8, 1, 2, 8, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_new(16, 0, 1, 2, 8, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_new(16, 8, 1, 3, 8, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_new(16, 8, 1, 2, 8, NAN, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_new(16, 8, 1, 2, 8, 1.0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_new(16, 8, 1, 1, INT64_MAX / 2, 0, NULL), DC_E_OVERFLOW);
    dc_module *m = OKM(dc_zoo_gpt_new(16, 4, 1, 2, 8, 0, NULL));
    NULLW(dc_module_forward(m, I64(1, 5)), DC_E_SHAPE);     /* longer than the context */
    NULLW(dc_module_forward(m, I64(4)), DC_E_SHAPE);
    NULLW(dc_module_forward(m, mk(DC_I64, 2, SH(1, 2), 16)), DC_E_RANGE);
    dc_module_release(m);
}

static void bad_zoo_gpt_generate(void) {
    dc_module *m = OKM(dc_zoo_gpt_new(16, 4, 1, 2, 8, 0, NULL));
    dc_module *lin = small_linear();
    dc_tensor *prompt = I64(2);
    NULLW(dc_zoo_gpt_generate(NULL, prompt, 2, 1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(lin, prompt, 2, 1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, NULL, 2, 1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, I32(2), 2, 1, 0, NULL), DC_E_DTYPE);
    NULLW(dc_zoo_gpt_generate(m, I64(1, 2), 2, 1, 0, NULL), DC_E_SHAPE);
    NULLW(dc_zoo_gpt_generate(m, I64(0), 2, 1, 0, NULL), DC_E_SHAPE);
    NULLW(dc_zoo_gpt_generate(m, prompt, -1, 1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, prompt, INT64_MAX, 1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, prompt, 2, NAN, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, prompt, 2, -1, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_gpt_generate(m, mk(DC_I64, 1, SH(2), 16), 2, 1, 0, NULL), DC_E_RANGE);
    dc_module_release(m);
    dc_module_release(lin);
}

static void bad_zoo_bert_classifier_new(void) {
    NULLW(dc_zoo_bert_classifier_new(16, 8, 1, 2, 8, 0, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_bert_classifier_new(16, 8, 1, 3, 8, 2, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_bert_classifier_new(16, 8, 0, 2, 8, 2, 0, NULL), DC_E_INVALID);
    NULLW(dc_zoo_bert_classifier_new(16, 8, 1, 2, 8, 2, INFINITY, NULL), DC_E_INVALID);
    dc_module *m = OKM(dc_zoo_bert_classifier_new(16, 4, 1, 2, 8, 3, 0, NULL));
    NULLW(dc_module_forward(m, I64(1, 5)), DC_E_SHAPE);
    NULLW(dc_module_forward(m, F32(1, 2)), DC_E_DTYPE);
    dc_module_release(m);
}

/* ------------------------------------------------------------------ */
/* The table: one entry per public function, in header order.          */
/* ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *name;
    void (*run)(void);
} bad_case;

static const bad_case bad_cases[] = {
    {"dc_version_number", bad_version_number},
    {"dc_version_string", bad_version_string},
    {"dc_status_str", bad_status_str},
    {"dc_last_error", bad_last_error},
    {"dc_last_status", bad_last_status},
    {"dc_clear_error", bad_clear_error},
    {"dc_set_allocator", bad_set_allocator},
    {"dc_live_allocations", bad_live_allocations},
    {"dc_set_num_threads", bad_set_num_threads},
    {"dc_get_num_threads", bad_get_num_threads},
    {"dc_set_gemm_backend", bad_set_gemm_backend},
    {"dc_get_gemm_backend", bad_get_gemm_backend},
    {"dc_kernel_info", bad_kernel_info},
    {"dc_dtype_size", bad_dtype_size},
    {"dc_dtype_name", bad_dtype_name},
    {"dc_rng_new", bad_rng_new},
    {"dc_rng_free", bad_rng_free},
    {"dc_rng_seed", bad_rng_seed},
    {"dc_manual_seed", bad_manual_seed},
    {"dc_rng_get_state", bad_rng_get_state},
    {"dc_rng_set_state", bad_rng_set_state},
    {"dc_retain", bad_retain},
    {"dc_release", bad_release},
    {"dc_scope_begin", bad_scope_begin},
    {"dc_scope_end", bad_scope_end},
    {"dc_autorelease", bad_autorelease},
    {"dc_empty", bad_empty},
    {"dc_zeros", bad_zeros},
    {"dc_ones", bad_ones},
    {"dc_full", bad_full},
    {"dc_scalar", bad_scalar},
    {"dc_arange", bad_arange},
    {"dc_from_data", bad_from_data},
    {"dc_wrap_data", bad_wrap_data},
    {"dc_rand_uniform", bad_rand_uniform},
    {"dc_rand_normal", bad_rand_normal},
    {"dc_zeros_like", bad_zeros_like},
    {"dc_ones_like", bad_ones_like},
    {"dc_clone", bad_clone},
    {"dc_ndim", bad_ndim},
    {"dc_numel", bad_numel},
    {"dc_size", bad_size},
    {"dc_shape", bad_shape},
    {"dc_strides", bad_strides},
    {"dc_tensor_dtype", bad_tensor_dtype},
    {"dc_is_contiguous", bad_is_contiguous},
    {"dc_data_ptr", bad_data_ptr},
    {"dc_copy_to", bad_copy_to},
    {"dc_copy_from", bad_copy_from},
    {"dc_item", bad_item},
    {"dc_get", bad_get},
    {"dc_set", bad_set},
    {"dc_fill", bad_fill},
    {"dc_view", bad_view},
    {"dc_reshape", bad_reshape},
    {"dc_flatten", bad_flatten},
    {"dc_squeeze", bad_squeeze},
    {"dc_unsqueeze", bad_unsqueeze},
    {"dc_transpose", bad_transpose},
    {"dc_permute", bad_permute},
    {"dc_slice", bad_slice},
    {"dc_narrow", bad_narrow},
    {"dc_expand", bad_expand},
    {"dc_contiguous", bad_contiguous},
    {"dc_concat", bad_concat},
    {"dc_stack", bad_stack},
    {"dc_index_select", bad_index_select},
    {"dc_gather", bad_gather},
    {"dc_cast", bad_cast},
    {"dc_detach", bad_detach},
    {"dc_add", bad_add},
    {"dc_sub", bad_sub},
    {"dc_mul", bad_mul},
    {"dc_div", bad_div},
    {"dc_pow", bad_pow},
    {"dc_maximum", bad_maximum},
    {"dc_minimum", bad_minimum},
    {"dc_eq", bad_eq},
    {"dc_ne", bad_ne},
    {"dc_lt", bad_lt},
    {"dc_le", bad_le},
    {"dc_gt", bad_gt},
    {"dc_ge", bad_ge},
    {"dc_where", bad_where},
    {"dc_add_scalar", bad_add_scalar},
    {"dc_mul_scalar", bad_mul_scalar},
    {"dc_pow_scalar", bad_pow_scalar},
    {"dc_neg", bad_neg},
    {"dc_abs", bad_abs},
    {"dc_exp", bad_exp},
    {"dc_log", bad_log},
    {"dc_sqrt", bad_sqrt},
    {"dc_rsqrt", bad_rsqrt},
    {"dc_square", bad_square},
    {"dc_tanh", bad_tanh},
    {"dc_sigmoid", bad_sigmoid},
    {"dc_relu", bad_relu},
    {"dc_leaky_relu", bad_leaky_relu},
    {"dc_gelu", bad_gelu},
    {"dc_silu", bad_silu},
    {"dc_softplus", bad_softplus},
    {"dc_clamp", bad_clamp},
    {"dc_sum", bad_sum},
    {"dc_mean", bad_mean},
    {"dc_max", bad_max},
    {"dc_min", bad_min},
    {"dc_argmax", bad_argmax},
    {"dc_argmin", bad_argmin},
    {"dc_var", bad_var},
    {"dc_std", bad_std},
    {"dc_logsumexp", bad_logsumexp},
    {"dc_softmax", bad_softmax},
    {"dc_log_softmax", bad_log_softmax},
    {"dc_matmul", bad_matmul},
    {"dc_set_requires_grad", bad_set_requires_grad},
    {"dc_requires_grad", bad_requires_grad},
    {"dc_is_leaf", bad_is_leaf},
    {"dc_grad", bad_grad},
    {"dc_zero_grad", bad_zero_grad},
    {"dc_backward", bad_backward},
    {"dc_set_grad_enabled", bad_set_grad_enabled},
    {"dc_is_grad_enabled", bad_is_grad_enabled},
    {"dc_custom_op", bad_custom_op},
    {"dc_conv1d", bad_conv1d},
    {"dc_conv2d", bad_conv2d},
    {"dc_max_pool2d", bad_max_pool2d},
    {"dc_avg_pool2d", bad_avg_pool2d},
    {"dc_adaptive_avg_pool2d", bad_adaptive_avg_pool2d},
    {"dc_batch_norm", bad_batch_norm},
    {"dc_layer_norm", bad_layer_norm},
    {"dc_dropout", bad_dropout},
    {"dc_embedding", bad_embedding},
    {"dc_scaled_dot_product_attention", bad_scaled_dot_product_attention},
    {"dc_lstm_cell", bad_lstm_cell},
    {"dc_gru_cell", bad_gru_cell},
    {"dc_init_uniform", bad_init_uniform},
    {"dc_init_normal", bad_init_normal},
    {"dc_init_xavier_uniform", bad_init_xavier_uniform},
    {"dc_init_xavier_normal", bad_init_xavier_normal},
    {"dc_init_kaiming_uniform", bad_init_kaiming_uniform},
    {"dc_init_kaiming_normal", bad_init_kaiming_normal},
    {"dc_module_retain", bad_module_retain},
    {"dc_module_release", bad_module_release},
    {"dc_module_kind", bad_module_kind},
    {"dc_module_forward", bad_module_forward},
    {"dc_module_set_training", bad_module_set_training},
    {"dc_module_is_training", bad_module_is_training},
    {"dc_module_state_count", bad_module_state_count},
    {"dc_module_state_name", bad_module_state_name},
    {"dc_module_state_is_param", bad_module_state_is_param},
    {"dc_module_state_tensor", bad_module_state_tensor},
    {"dc_module_state_find", bad_module_state_find},
    {"dc_module_param_count", bad_module_param_count},
    {"dc_module_param", bad_module_param},
    {"dc_module_child_count", bad_module_child_count},
    {"dc_module_child", bad_module_child},
    {"dc_module_child_name", bad_module_child_name},
    {"dc_linear_new", bad_linear_new},
    {"dc_conv1d_new", bad_conv1d_new},
    {"dc_conv2d_new", bad_conv2d_new},
    {"dc_max_pool2d_new", bad_max_pool2d_new},
    {"dc_avg_pool2d_new", bad_avg_pool2d_new},
    {"dc_adaptive_avg_pool2d_new", bad_adaptive_avg_pool2d_new},
    {"dc_batch_norm1d_new", bad_batch_norm1d_new},
    {"dc_batch_norm2d_new", bad_batch_norm2d_new},
    {"dc_layer_norm_new", bad_layer_norm_new},
    {"dc_dropout_new", bad_dropout_new},
    {"dc_embedding_new", bad_embedding_new},
    {"dc_flatten_new", bad_flatten_new},
    {"dc_activation_new", bad_activation_new},
    {"dc_rnn_new", bad_rnn_new},
    {"dc_rnn_forward", bad_rnn_forward},
    {"dc_multihead_attention_new", bad_multihead_attention_new},
    {"dc_multihead_attention_forward", bad_multihead_attention_forward},
    {"dc_transformer_block_new", bad_transformer_block_new},
    {"dc_sequential_new", bad_sequential_new},
    {"dc_sequential_append", bad_sequential_append},
    {"dc_loss_new", bad_loss_new},
    {"dc_loss_release", bad_loss_release},
    {"dc_loss_set_beta", bad_loss_set_beta},
    {"dc_loss_set_ignore_index", bad_loss_set_ignore_index},
    {"dc_loss_set_label_smoothing", bad_loss_set_label_smoothing},
    {"dc_loss_set_weight", bad_loss_set_weight},
    {"dc_loss_set_pos_weight", bad_loss_set_pos_weight},
    {"dc_loss_forward", bad_loss_forward},
    {"dc_sgd_new", bad_sgd_new},
    {"dc_adam_new", bad_adam_new},
    {"dc_adamw_new", bad_adamw_new},
    {"dc_rmsprop_new", bad_rmsprop_new},
    {"dc_adagrad_new", bad_adagrad_new},
    {"dc_optim_release", bad_optim_release},
    {"dc_optim_add_group", bad_optim_add_group},
    {"dc_optim_group_count", bad_optim_group_count},
    {"dc_optim_set_lr", bad_optim_set_lr},
    {"dc_optim_get_lr", bad_optim_get_lr},
    {"dc_optim_step", bad_optim_step},
    {"dc_optim_zero_grad", bad_optim_zero_grad},
    {"dc_optim_state_count", bad_optim_state_count},
    {"dc_optim_state_name", bad_optim_state_name},
    {"dc_optim_state_tensor", bad_optim_state_tensor},
    {"dc_optim_state_load", bad_optim_state_load},
    {"dc_sched_step_lr_new", bad_sched_step_lr_new},
    {"dc_sched_exponential_new", bad_sched_exponential_new},
    {"dc_sched_cosine_new", bad_sched_cosine_new},
    {"dc_sched_linear_new", bad_sched_linear_new},
    {"dc_sched_sequential_new", bad_sched_sequential_new},
    {"dc_sched_step", bad_sched_step},
    {"dc_sched_last_epoch", bad_sched_last_epoch},
    {"dc_sched_set_last_epoch", bad_sched_set_last_epoch},
    {"dc_sched_release", bad_sched_release},
    {"dc_clip_grad_norm", bad_clip_grad_norm},
    {"dc_clip_grad_value", bad_clip_grad_value},
    {"dc_safetensors_open", bad_safetensors_open},
    {"dc_safetensors_from_buffer", bad_safetensors_from_buffer},
    {"dc_safetensors_close", bad_safetensors_close},
    {"dc_safetensors_count", bad_safetensors_count},
    {"dc_safetensors_name", bad_safetensors_name},
    {"dc_safetensors_get", bad_safetensors_get},
    {"dc_safetensors_metadata", bad_safetensors_metadata},
    {"dc_safetensors_save", bad_safetensors_save},
    {"dc_module_save", bad_module_save},
    {"dc_module_load", bad_module_load},
    {"dc_module_load_buffer", bad_module_load_buffer},
    {"dc_checkpoint_save", bad_checkpoint_save},
    {"dc_checkpoint_load", bad_checkpoint_load},
    {"dc_idx_load", bad_idx_load},
    {"dc_csv_load", bad_csv_load},
    {"dc_loader_new", bad_loader_new},
    {"dc_loader_release", bad_loader_release},
    {"dc_loader_num_batches", bad_loader_num_batches},
    {"dc_loader_reset", bad_loader_reset},
    {"dc_loader_next", bad_loader_next},
    {"dc_scaler_minmax_new", bad_scaler_minmax_new},
    {"dc_scaler_standard_new", bad_scaler_standard_new},
    {"dc_scaler_release", bad_scaler_release},
    {"dc_scaler_fit", bad_scaler_fit},
    {"dc_scaler_transform", bad_scaler_transform},
    {"dc_one_hot", bad_one_hot},
    {"dc_metric_accuracy", bad_metric_accuracy},
    {"dc_confusion_matrix", bad_confusion_matrix},
    {"dc_metric_per_class", bad_metric_per_class},
    {"dc_metric_prf", bad_metric_prf},
    {"dc_metric_mse", bad_metric_mse},
    {"dc_metric_mae", bad_metric_mae},
    {"dc_metric_r2", bad_metric_r2},
    {"dc_zoo_mlp_new", bad_zoo_mlp_new},
    {"dc_zoo_lenet5_new", bad_zoo_lenet5_new},
    {"dc_zoo_resnet_new", bad_zoo_resnet_new},
    {"dc_zoo_rnn_lm_new", bad_zoo_rnn_lm_new},
    {"dc_zoo_gpt_new", bad_zoo_gpt_new},
    {"dc_zoo_gpt_generate", bad_zoo_gpt_generate},
    {"dc_zoo_bert_classifier_new", bad_zoo_bert_classifier_new},
};

#define N_CASES ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(bad_input) {
    cur_name = bad_cases[_i].name;
    dc_scope *s = dc_scope_begin();
    ck_assert_ptr_nonnull(s);
    bad_cases[_i].run();
    ck_assert_msg(dc_scope_end(s) == DC_OK, "%s: ending the case's scope: %s", cur_name,
                  dc_last_error());
}
END_TEST

/* The table has no duplicate and every name is a dc_ function. */
START_TEST(table_is_well_formed) {
    for (int i = 0; i < N_CASES; i++) {
        ck_assert_msg(strncmp(bad_cases[i].name, "dc_", 3) == 0, "%s", bad_cases[i].name);
        for (int j = i + 1; j < N_CASES; j++)
            ck_assert_msg(strcmp(bad_cases[i].name, bad_cases[j].name) != 0,
                          "%s is in the table twice", bad_cases[i].name);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("bad_input");
    TCase *tc = tu_tcase("bad_input");
    tcase_add_test(tc, table_is_well_formed);
    tcase_add_loop_test(tc, bad_input, 0, N_CASES);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
