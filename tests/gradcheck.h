/* Gradient checking against central finite differences, in f64.
 *
 * A case builds f64 leaf inputs (some requiring grad), then calls
 * gc_check(f, inputs, n, ctx). gc_check computes L = sum(w * f(inputs))
 * with fixed random weights w (so every output element counts), runs
 * dc_backward, and compares each input's gradient, element by element,
 * with (L(x + eps) - L(x - eps)) / (2 eps). It ck_asserts on mismatch.
 *
 * Cases are listed in tables (one per op family) so that test_gradcheck
 * can prove every op of lib/autograd/op_list.h has at least one. */
#ifndef DEEPCORE_GRADCHECK_H
#define DEEPCORE_GRADCHECK_H

#include "testutil.h"

typedef dc_tensor *(*gc_fn)(dc_tensor *const *inputs, int n, void *ctx);

/* eps 1e-6; passes when |analytic - numeric| <= 1e-6 + 1e-5 * |numeric|. */
void gc_check(gc_fn f, dc_tensor *const *inputs, int n, void *ctx);
void gc_check_tol(gc_fn f, dc_tensor *const *inputs, int n, void *ctx,
                  double eps, double atol, double rtol);

/* A random f64 leaf, uniform in [lo, hi), requiring grad; made from a
 * fixed seed so failures reproduce. noncontig: strided storage. Owned by
 * the innermost open scope, or by the caller when none is open. */
dc_tensor *gc_input(uint64_t seed, int ndim, const int64_t *shape, double lo,
                    double hi, int noncontig);

typedef struct gc_case {
    int op_id;              /* the dc_op_id the case covers */
    const char *name;
    void (*run)(void);      /* builds inputs, calls gc_check, releases */
} gc_case;

/* Tables of cases, each ended by an entry with run == NULL. */
extern const gc_case gc_cases_elementwise[];
extern const gc_case gc_cases_reduce[];
extern const gc_case gc_cases_views[];
extern const gc_case gc_cases_matmul[];
extern const gc_case gc_cases_custom[];
extern const gc_case gc_cases_conv[];
extern const gc_case gc_cases_nn[];

#endif
