/* Helpers shared by the Check suites. */
#ifndef DEEPCORE_TESTUTIL_H
#define DEEPCORE_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "deepcore/deepcore.h"

/* Checked fixture: every test starts and must end with the same number of
 * live library allocations (a leak check that also runs without ASan). */
void tu_leak_setup(void);
void tu_leak_teardown(void);
/* A TCase with the leak fixture and a generous timeout. */
TCase *tu_tcase(const char *name);

#define TU_OK(expr)                                                          \
    do {                                                                     \
        dc_status tu_st_ = (expr);                                           \
        ck_assert_msg(tu_st_ == DC_OK, "%s -> %s: %s", #expr,                \
                      dc_status_str(tu_st_), dc_last_error());               \
    } while (0)
#define TU_NOTNULL(t) ck_assert_msg((t) != NULL, "%s is NULL: %s", #t, dc_last_error())
/* expr returns a status; it must be the given failure and set a message. */
#define TU_FAILS(expr, status)                                               \
    do {                                                                     \
        dc_clear_error();                                                    \
        dc_status tu_st_ = (expr);                                           \
        ck_assert_msg(tu_st_ == (status), "%s -> %s, wanted %s", #expr,      \
                      dc_status_str(tu_st_), dc_status_str(status));         \
        ck_assert_msg(dc_last_error()[0] != '\0', "%s set no message", #expr); \
    } while (0)
/* expr returns a pointer; it must be NULL with the given status. */
#define TU_NULL_WITH(expr, status)                                           \
    do {                                                                     \
        dc_clear_error();                                                    \
        const void *tu_p_ = (expr);                                          \
        ck_assert_msg(tu_p_ == NULL, "%s succeeded, wanted %s", #expr,       \
                      dc_status_str(status));                                \
        ck_assert_msg(dc_last_status() == (status), "%s -> %s, wanted %s",   \
                      #expr, dc_status_str(dc_last_status()),                \
                      dc_status_str(status));                                \
        ck_assert_msg(dc_last_error()[0] != '\0', "%s set no message", #expr); \
    } while (0)

/* Tensors from literal values (row-major). Like the library's own
 * functions, these helpers return a reference owned by the innermost open
 * scope, or by the caller when no scope is open. */
dc_tensor *tu_f64(int ndim, const int64_t *shape, const double *values);
dc_tensor *tu_f32(int ndim, const int64_t *shape, const double *values);
dc_tensor *tu_i64(int ndim, const int64_t *shape, const int64_t *values);
/* A tensor with t's shape, dtype and values whose strides are not
 * contiguous (a transposed or strided view of a private buffer). */
dc_tensor *tu_noncontig(dc_tensor *t);

/* Shape and values, with |got - want| <= atol + rtol * |want| (NaN equals
 * NaN, infinities must match). */
void tu_assert_shape(const dc_tensor *t, int ndim, const int64_t *shape);
void tu_assert_values(const dc_tensor *t, const double *want, int64_t n,
                      double atol, double rtol);
/* Both tensors have one shape and close values. */
void tu_assert_close(const dc_tensor *got, const dc_tensor *want, double atol,
                     double rtol);

/* Reads a little-endian raw fixture (path under tests/fixtures) into a
 * malloc'd buffer; ck_asserts it exists and has the expected size. */
void *tu_read_fixture(const char *name, size_t expect_bytes);

/* Allocation-failure injection: runs body(arg) inside a scope with the
 * library's N-th allocation failing, for N = 1, 2, ... until body
 * succeeds (returns true). Asserts that every failing run reports
 * DC_E_NOMEM and leaves no library allocation alive. Returns the number of
 * runs (the allocations a successful run makes, plus one). */
long tu_fail_each_allocation(bool (*body)(void *arg), void *arg, long max_runs);

/* Runs the suite and returns the number of failures (for main). */
int tu_run(Suite *s);

#endif
