#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t baseline;

void tu_leak_setup(void) {
    dc_clear_error();
    baseline = dc_live_allocations();
}

void tu_leak_teardown(void) {
    int64_t live = dc_live_allocations();
    ck_assert_msg(live == baseline, "leak: %lld library allocations alive, %lld before",
                  (long long)live, (long long)baseline);
}

TCase *tu_tcase(const char *name) {
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    return tc;
}

/* Helpers return tensors by the library's rule: owned by the innermost
 * scope when one is open, else by the caller. Temporaries live in a scope
 * of the helper's own. */
static dc_tensor *from_doubles(dc_dtype dtype, int ndim, const int64_t *shape,
                               const double *values) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = dc_empty(dtype, ndim, shape);
    int64_t n = t ? dc_numel(t) : 0;
    if (t && dc_copy_from(t, DC_F64, values, (size_t)n * sizeof(double)) != DC_OK) t = NULL;
    t = dc_retain(t);
    dc_scope_end(s);
    return dc_autorelease(t);
}

dc_tensor *tu_f64(int ndim, const int64_t *shape, const double *values) {
    return from_doubles(DC_F64, ndim, shape, values);
}

dc_tensor *tu_f32(int ndim, const int64_t *shape, const double *values) {
    return from_doubles(DC_F32, ndim, shape, values);
}

dc_tensor *tu_i64(int ndim, const int64_t *shape, const int64_t *values) {
    return dc_from_data(DC_I64, ndim, shape, values);
}

dc_tensor *tu_noncontig(dc_tensor *t) {
    int nd = dc_ndim(t);
    const int64_t *sh = dc_shape(t);
    int64_t n = dc_numel(t);
    double *vals = malloc((size_t)(n ? n : 1) * sizeof *vals);
    ck_assert_ptr_nonnull(vals);
    TU_OK(dc_copy_to(t, DC_F64, vals, (size_t)n * sizeof *vals));
    dc_scope *s = dc_scope_begin();
    dc_tensor *view;
    if (nd >= 2) {
        /* storage holds t with the last two axes swapped; transpose back */
        int64_t bshape[DC_MAX_DIMS];
        memcpy(bshape, sh, (size_t)nd * sizeof *sh);
        bshape[nd - 1] = sh[nd - 2];
        bshape[nd - 2] = sh[nd - 1];
        dc_tensor *base = dc_empty(dc_tensor_dtype(t), nd, bshape);
        TU_NOTNULL(base);
        view = dc_transpose(base, nd - 2, nd - 1);
    } else {
        /* every other element of a buffer twice as long */
        int64_t len = nd == 1 ? 2 * sh[0] : 2;
        dc_tensor *base = dc_zeros(dc_tensor_dtype(t), 1, &len);
        TU_NOTNULL(base);
        view = dc_slice(base, 0, 0, len, 2);
        if (nd == 0) view = dc_reshape(view, 0, NULL);
    }
    TU_NOTNULL(view);
    TU_OK(dc_copy_from(view, DC_F64, vals, (size_t)n * sizeof *vals));
    free(vals);
    view = dc_retain(view);
    dc_scope_end(s);
    return dc_autorelease(view);
}

void tu_assert_shape(const dc_tensor *t, int ndim, const int64_t *shape) {
    ck_assert_msg(t != NULL, "tensor is NULL: %s", dc_last_error());
    ck_assert_int_eq(dc_ndim(t), ndim);
    const int64_t *s = dc_shape(t);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(s[i] == shape[i], "axis %d: size %lld, wanted %lld", i,
                      (long long)s[i], (long long)shape[i]);
}

static bool close_enough(double got, double want, double atol, double rtol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

void tu_assert_values(const dc_tensor *t, const double *want, int64_t n, double atol,
                      double rtol) {
    ck_assert_msg(t != NULL, "tensor is NULL: %s", dc_last_error());
    ck_assert_msg(dc_numel(t) == n, "%lld elements, wanted %lld", (long long)dc_numel(t),
                  (long long)n);
    double *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    ck_assert_ptr_nonnull(got);
    TU_OK(dc_copy_to(t, DC_F64, got, (size_t)n * sizeof *got));
    for (int64_t i = 0; i < n; i++) {
        if (!close_enough(got[i], want[i], atol, rtol)) {
            double g = got[i], w = want[i];
            free(got);
            ck_abort_msg("element %lld: got %.17g, wanted %.17g", (long long)i, g, w);
        }
    }
    free(got);
}

void tu_assert_close(const dc_tensor *got, const dc_tensor *want, double atol, double rtol) {
    ck_assert_msg(got != NULL && want != NULL, "NULL tensor: %s", dc_last_error());
    tu_assert_shape(got, dc_ndim(want), dc_shape(want));
    int64_t n = dc_numel(want);
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    ck_assert_ptr_nonnull(w);
    TU_OK(dc_copy_to(want, DC_F64, w, (size_t)n * sizeof *w));
    tu_assert_values(got, w, n, atol, rtol);
    free(w);
}

void *tu_read_fixture(const char *name, size_t expect_bytes) {
    const char *dir = getenv("DC_FIXTURE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    void *buf = malloc(expect_bytes ? expect_bytes : 1);
    ck_assert_ptr_nonnull(buf);
    size_t got = fread(buf, 1, expect_bytes, f);
    int extra = fgetc(f);
    fclose(f);
    ck_assert_msg(got == expect_bytes && extra == EOF, "fixture %s: size differs from %zu bytes",
                  path, expect_bytes);
    return buf;
}

typedef struct {
    long calls, fail_at, live;
} fail_ctx;

static void *fail_malloc(size_t n, void *c) {
    fail_ctx *a = c;
    if (++a->calls == a->fail_at) return NULL;
    a->live++;
    return malloc(n);
}

static void *fail_realloc(void *p, size_t n, void *c) {
    fail_ctx *a = c;
    if (++a->calls == a->fail_at) return NULL;
    return realloc(p, n);
}

static void fail_free(void *p, void *c) {
    ((fail_ctx *)c)->live--;
    free(p);
}

long tu_fail_each_allocation(bool (*body)(void *arg), void *arg, long max_runs) {
    for (long n = 1;; n++) {
        fail_ctx ctx = {0, n, 0};
        TU_OK(dc_set_allocator(fail_malloc, fail_realloc, fail_free, &ctx));
        dc_scope *s = dc_scope_begin();
        bool ok = s && body(arg);
        if (s) dc_scope_end(s);
        dc_status st = dc_last_status();
        long live = ctx.live;
        TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
        if (!ok)
            ck_assert_msg(st == DC_E_NOMEM, "failing allocation %ld gave %s, not out of memory",
                          n, dc_status_str(st));
        ck_assert_msg(live == 0, "failing allocation %ld leaked %ld blocks", n, live);
        if (ok) return n;
        ck_assert_msg(n < max_runs, "still failing after %ld allocations", n);
        dc_clear_error();
    }
}

int tu_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
