/* Core: version, status and error reporting, the allocator hooks, dtypes,
 * random numbers and scopes. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- version ---- */

START_TEST(version_matches_header) {
    ck_assert_uint_eq(dc_version_number(), DC_VERSION_NUMBER);
    ck_assert_str_eq(dc_version_string(), DC_VERSION_STRING);
    ck_assert_int_eq(DC_VERSION_NUMBER,
                     DC_VERSION_MAJOR * 10000 + DC_VERSION_MINOR * 100 + DC_VERSION_PATCH);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", DC_VERSION_MAJOR, DC_VERSION_MINOR, DC_VERSION_PATCH);
    ck_assert_str_eq(buf, DC_VERSION_STRING);
}
END_TEST

/* ---- status and errors ---- */

START_TEST(status_strings_are_distinct) {
    for (int a = DC_OK; a <= DC_E_INTERNAL; a++) {
        ck_assert_ptr_nonnull(dc_status_str((dc_status)a));
        for (int b = a + 1; b <= DC_E_INTERNAL; b++)
            ck_assert_str_ne(dc_status_str((dc_status)a), dc_status_str((dc_status)b));
    }
    ck_assert_str_eq(dc_status_str((dc_status)999), "unknown status");
    /* the values are part of the ABI */
    ck_assert_int_eq(DC_OK, 0);
    ck_assert_int_eq(DC_E_NOMEM, 2);
    ck_assert_int_eq(DC_E_INTERNAL, 11);
}
END_TEST

START_TEST(last_error_records_and_clears) {
    dc_clear_error();
    ck_assert_int_eq(dc_last_status(), DC_OK);
    ck_assert_str_eq(dc_last_error(), "");
    int64_t bad = -3;
    TU_NULL_WITH(dc_zeros(DC_F32, 1, &bad), DC_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "negative"));
    dc_clear_error();
    ck_assert_int_eq(dc_last_status(), DC_OK);
}
END_TEST

/* A NULL input keeps the first error of a chain. */
START_TEST(null_input_keeps_first_error) {
    dc_clear_error();
    int64_t bad = -1;
    dc_tensor *a = dc_zeros(DC_F32, 1, &bad);
    ck_assert_ptr_null(a);
    dc_tensor *b = dc_zeros_like(a);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
    dc_clear_error();
    ck_assert_ptr_null(dc_zeros_like(NULL));
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
}
END_TEST

static void *thread_error(void *arg) {
    (void)arg;
    /* a fresh thread starts with no error, whatever the main thread has */
    int clean = dc_last_status() == DC_OK && dc_last_error()[0] == '\0';
    return (void *)(intptr_t)clean;
}

START_TEST(errors_are_per_thread) {
    int64_t bad = -1;
    ck_assert_ptr_null(dc_zeros(DC_F32, 1, &bad));
    pthread_t th;
    void *ret;
    ck_assert_int_eq(pthread_create(&th, NULL, thread_error, NULL), 0);
    pthread_join(th, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, 1);
    ck_assert_int_eq(dc_last_status(), DC_E_SHAPE);
}
END_TEST

/* ---- allocator ---- */

typedef struct {
    long calls;
    long fail_at;   /* fail the call with this number (1-based); 0: never */
    long live;
} alloc_ctx;

static void *t_malloc(size_t n, void *c) {
    alloc_ctx *a = c;
    if (++a->calls == a->fail_at) return NULL;
    a->live++;
    return malloc(n);
}
static void *t_realloc(void *p, size_t n, void *c) {
    alloc_ctx *a = c;
    if (++a->calls == a->fail_at) return NULL;
    return realloc(p, n);
}
static void t_free(void *p, void *c) {
    ((alloc_ctx *)c)->live--;
    free(p);
}

START_TEST(allocator_hooks_route_everything) {
    alloc_ctx ctx = {0, 0, 0};
    TU_OK(dc_set_allocator(t_malloc, t_realloc, t_free, &ctx));
    int64_t shape[2] = {3, 4};
    dc_tensor *t = dc_ones(DC_F32, 2, shape);
    TU_NOTNULL(t);
    ck_assert_int_gt(ctx.calls, 0);
    ck_assert_int_gt(ctx.live, 0);
    /* cannot switch allocators while objects are alive */
    TU_FAILS(dc_set_allocator(NULL, NULL, NULL, NULL), DC_E_STATE);
    dc_release(t);
    ck_assert_int_eq(ctx.live, 0);
    TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
}
END_TEST

START_TEST(allocator_needs_all_three) {
    alloc_ctx ctx = {0, 0, 0};
    TU_FAILS(dc_set_allocator(t_malloc, NULL, t_free, &ctx), DC_E_INVALID);
    TU_FAILS(dc_set_allocator(NULL, NULL, t_free, &ctx), DC_E_INVALID);
}
END_TEST

/* Failing each allocation in turn: every failure is DC_E_NOMEM and leaves
 * nothing behind; past the last allocation the calls succeed. */
static bool make_two(void *arg) {
    (void)arg;
    int64_t shape[2] = {5, 7};
    dc_tensor *t = dc_rand_normal(NULL, DC_F64, 2, shape, 0, 1);
    return t && dc_full(DC_F64, 2, shape, 2.0);
}

START_TEST(every_allocation_failure_is_clean) {
    ck_assert_int_gt(tu_fail_each_allocation(make_two, NULL, 100), 3);
}
END_TEST

START_TEST(huge_allocations_fail_cleanly) {
    int64_t shape[3] = {1 << 20, 1 << 20, 1 << 20};
    TU_NULL_WITH(dc_zeros(DC_F64, 3, shape), DC_E_OVERFLOW);
    int64_t big[2] = {INT64_MAX, 2};
    TU_NULL_WITH(dc_empty(DC_U8, 2, big), DC_E_OVERFLOW);
}
END_TEST

/* ---- dtypes ---- */

START_TEST(dtype_facts) {
    ck_assert_uint_eq(dc_dtype_size(DC_F32), 4);
    ck_assert_uint_eq(dc_dtype_size(DC_F64), 8);
    ck_assert_uint_eq(dc_dtype_size(DC_I32), 4);
    ck_assert_uint_eq(dc_dtype_size(DC_I64), 8);
    ck_assert_uint_eq(dc_dtype_size(DC_U8), 1);
    ck_assert_uint_eq(dc_dtype_size(DC_BOOL), 1);
    ck_assert_uint_eq(dc_dtype_size((dc_dtype)42), 0);
    ck_assert_str_eq(dc_dtype_name(DC_F32), "f32");
    ck_assert_str_eq(dc_dtype_name(DC_BOOL), "bool");
    ck_assert_str_eq(dc_dtype_name((dc_dtype)-1), "?");
    TU_NULL_WITH(dc_zeros((dc_dtype)42, 0, NULL), DC_E_DTYPE);
}
END_TEST

/* ---- random numbers ---- */

static void assert_uniforms(dc_rng *rng, const double *want) {
    int64_t n = 4;
    dc_tensor *u = dc_rand_uniform(rng, DC_F64, 1, &n, 0.0, 1.0);
    tu_assert_values(u, want, 4, 0, 0);
    dc_release(u);
}

START_TEST(rng_matches_reference_sequence) {
    /* tests/fixtures/gen_rng.py */
    const double seed0[4] = {0.6012629994179048, 0.7477740925472398, 0.10301998939503632,
                             0.4165890778296456};
    const double seed42[4] = {0.08386297105988216, 0.3789802506626686, 0.6800434110281394,
                              0.9246929453253876};
    dc_rng *rng = dc_rng_new(42);
    assert_uniforms(rng, seed42);
    TU_OK(dc_rng_seed(rng, 0));
    assert_uniforms(rng, seed0);
    dc_rng_free(rng);
    dc_manual_seed(42);
    assert_uniforms(NULL, seed42);
}
END_TEST

START_TEST(rng_state_round_trip) {
    dc_rng *rng = dc_rng_new(7);
    uint64_t state[4];
    TU_OK(dc_rng_get_state(rng, state));
    int64_t n = 16;
    dc_tensor *a = dc_rand_normal(rng, DC_F32, 1, &n, 1.0, 2.0);
    TU_OK(dc_rng_set_state(rng, state));
    dc_tensor *b = dc_rand_normal(rng, DC_F32, 1, &n, 1.0, 2.0);
    tu_assert_close(a, b, 0, 0);
    uint64_t zero[4] = {0, 0, 0, 0};
    TU_FAILS(dc_rng_set_state(rng, zero), DC_E_INVALID);
    TU_FAILS(dc_rng_get_state(rng, NULL), DC_E_INVALID);
    dc_release(a);
    dc_release(b);
    dc_rng_free(rng);
    dc_rng_free(NULL);
}
END_TEST

START_TEST(rng_distributions) {
    dc_rng *rng = dc_rng_new(3);
    int64_t n = 20000;
    dc_tensor *u = dc_rand_uniform(rng, DC_F64, 1, &n, -2.0, 3.0);
    dc_tensor *z = dc_rand_normal(rng, DC_F64, 1, &n, 5.0, 0.5);
    double *uv = malloc((size_t)n * sizeof *uv), *zv = malloc((size_t)n * sizeof *zv);
    TU_OK(dc_copy_to(u, DC_F64, uv, (size_t)n * sizeof *uv));
    TU_OK(dc_copy_to(z, DC_F64, zv, (size_t)n * sizeof *zv));
    double um = 0, zm = 0, zv2 = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert(uv[i] >= -2.0 && uv[i] < 3.0);
        um += uv[i];
        zm += zv[i];
    }
    um /= n;
    zm /= n;
    for (int64_t i = 0; i < n; i++) zv2 += (zv[i] - zm) * (zv[i] - zm);
    zv2 /= n - 1;
    /* 5-sigma bounds of the sample statistics */
    ck_assert_double_eq_tol(um, 0.5, 5 * 5.0 / sqrt(12.0 * n));
    ck_assert_double_eq_tol(zm, 5.0, 5 * 0.5 / sqrt((double)n));
    ck_assert_double_eq_tol(sqrt(zv2), 0.5, 0.02);
    free(uv);
    free(zv);
    dc_release(u);
    dc_release(z);
    TU_NULL_WITH(dc_rand_uniform(rng, DC_I32, 1, &n, 0, 1), DC_E_DTYPE);
    TU_NULL_WITH(dc_rand_uniform(rng, DC_F32, 1, &n, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_rand_normal(rng, DC_F32, 1, &n, 0, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_rand_normal(rng, DC_F32, 1, &n, NAN, 1), DC_E_INVALID);
    dc_rng_free(rng);
}
END_TEST

static void *thread_first_uniform(void *arg) {
    int64_t n = 1;
    dc_tensor *u = dc_rand_uniform(NULL, DC_F64, 1, &n, 0, 1);
    double v = -1;
    dc_item(u, &v);
    dc_release(u);
    *(double *)arg = v;
    return NULL;
}

START_TEST(thread_generators_are_independent) {
    dc_manual_seed(99);   /* this thread only */
    double a = -1, b = -1;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread_first_uniform, &a);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, thread_first_uniform, &b);
    pthread_join(t2, NULL);
    /* each new thread starts from seed 0 */
    ck_assert_double_eq(a, 0.6012629994179048);
    ck_assert_double_eq(b, 0.6012629994179048);
}
END_TEST

/* ---- scopes ---- */

START_TEST(scope_releases_what_it_collected) {
    int64_t before = dc_live_allocations();
    int64_t shape[1] = {10};
    dc_scope *s = dc_scope_begin();
    TU_NOTNULL(s);
    for (int i = 0; i < 100; i++) TU_NOTNULL(dc_ones(DC_F32, 1, shape));
    TU_OK(dc_scope_end(s));
    ck_assert_int_eq(dc_live_allocations(), before);
}
END_TEST

START_TEST(scope_retain_keeps_a_tensor) {
    int64_t shape[1] = {3};
    dc_scope *s = dc_scope_begin();
    dc_tensor *kept = dc_retain(dc_full(DC_F64, 1, shape, 4.0));
    TU_OK(dc_scope_end(s));
    const double want[3] = {4, 4, 4};
    tu_assert_values(kept, want, 3, 0, 0);
    dc_release(kept);
}
END_TEST

START_TEST(scope_end_closes_inner_scopes) {
    int64_t before = dc_live_allocations();
    dc_scope *outer = dc_scope_begin();
    TU_NOTNULL(dc_scalar(DC_F32, 1));
    dc_scope *inner = dc_scope_begin();
    TU_NOTNULL(dc_scalar(DC_F32, 2));
    (void)inner;
    TU_OK(dc_scope_end(outer));
    ck_assert_int_eq(dc_live_allocations(), before);
    /* outer is gone now: ending it again is a state error, not a crash */
    TU_FAILS(dc_scope_end(outer), DC_E_STATE);
    TU_FAILS(dc_scope_end(NULL), DC_E_INVALID);
}
END_TEST

static void *end_foreign_scope(void *arg) {
    dc_status st = dc_scope_end(arg);
    return (void *)(intptr_t)st;
}

START_TEST(scope_of_other_thread_is_refused) {
    dc_scope *a = dc_scope_begin();
    TU_NOTNULL(dc_scalar(DC_F32, 1));
    pthread_t th;
    void *ret;
    pthread_create(&th, NULL, end_foreign_scope, a);
    pthread_join(th, &ret);
    ck_assert_int_eq((int)(intptr_t)ret, DC_E_STATE);
    TU_OK(dc_scope_end(a));
}
END_TEST

START_TEST(release_null_and_retain_null) {
    dc_release(NULL);
    ck_assert_ptr_null(dc_retain(NULL));
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tu_tcase("version_errors");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, last_error_records_and_clears);
    tcase_add_test(tc, null_input_keeps_first_error);
    tcase_add_test(tc, errors_are_per_thread);
    suite_add_tcase(s, tc);

    tc = tu_tcase("allocator");
    tcase_add_test(tc, allocator_hooks_route_everything);
    tcase_add_test(tc, allocator_needs_all_three);
    tcase_add_test(tc, every_allocation_failure_is_clean);
    tcase_add_test(tc, huge_allocations_fail_cleanly);
    suite_add_tcase(s, tc);

    tc = tu_tcase("dtype_rng");
    tcase_add_test(tc, dtype_facts);
    tcase_add_test(tc, rng_matches_reference_sequence);
    tcase_add_test(tc, rng_state_round_trip);
    tcase_add_test(tc, rng_distributions);
    tcase_add_test(tc, thread_generators_are_independent);
    suite_add_tcase(s, tc);

    tc = tu_tcase("scope");
    tcase_add_test(tc, scope_releases_what_it_collected);
    tcase_add_test(tc, scope_retain_keeps_a_tensor);
    tcase_add_test(tc, scope_end_closes_inner_scopes);
    tcase_add_test(tc, scope_of_other_thread_is_refused);
    tcase_add_test(tc, release_null_and_retain_null);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
