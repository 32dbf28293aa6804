#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

dc_tensor *gc_input(uint64_t seed, int ndim, const int64_t *shape, double lo, double hi,
                    int noncontig) {
    dc_rng *rng = dc_rng_new(seed);
    ck_assert_ptr_nonnull(rng);
    dc_scope *s = dc_scope_begin();
    dc_tensor *t = dc_rand_uniform(rng, DC_F64, ndim, shape, lo, hi);
    dc_rng_free(rng);
    TU_NOTNULL(t);
    if (noncontig) t = tu_noncontig(t);
    TU_OK(dc_set_requires_grad(t, 1));
    t = dc_retain(t);
    dc_scope_end(s);
    return dc_autorelease(t);
}

/* L = sum(w * f(x)) as a double, with recording off. */
static double loss_value(gc_fn f, dc_tensor *const *in, int n, void *ctx, dc_tensor *w) {
    dc_scope *s = dc_scope_begin();
    int prev = dc_set_grad_enabled(0);
    dc_tensor *y = f(in, n, ctx);
    ck_assert_msg(y != NULL, "f failed: %s", dc_last_error());
    dc_tensor *yw = dc_mul(dc_cast(y, DC_F64), w);
    dc_tensor *l = dc_sum(yw, NULL, 0, 0);
    double v = NAN;
    TU_OK(dc_item(l, &v));
    dc_set_grad_enabled(prev);
    dc_scope_end(s);
    return v;
}

void gc_check_tol(gc_fn f, dc_tensor *const *in, int n, void *ctx, double eps, double atol,
                  double rtol) {
    dc_scope *s = dc_scope_begin();
    for (int i = 0; i < n; i++) dc_zero_grad(in[i]);
    dc_tensor *y = f(in, n, ctx);
    ck_assert_msg(y != NULL, "f failed: %s", dc_last_error());
    dc_rng *rng = dc_rng_new(1234);
    dc_tensor *w = dc_rand_normal(rng, DC_F64, dc_ndim(y), dc_shape(y), 0.0, 1.0);
    dc_rng_free(rng);
    TU_NOTNULL(w);
    dc_tensor *l = dc_sum(dc_mul(dc_cast(y, DC_F64), w), NULL, 0, 0);
    TU_NOTNULL(l);
    TU_OK(dc_backward(l, NULL, 0));

    for (int i = 0; i < n; i++) {
        if (!dc_requires_grad(in[i])) continue;
        dc_tensor *g = dc_grad(in[i]);
        int64_t numel = dc_numel(in[i]);
        if (numel == 0) continue;
        ck_assert_msg(g != NULL, "input %d got no gradient: %s", i, dc_last_error());
        tu_assert_shape(g, dc_ndim(in[i]), dc_shape(in[i]));
        double *ga = malloc((size_t)numel * sizeof *ga);
        TU_OK(dc_copy_to(g, DC_F64, ga, (size_t)numel * sizeof *ga));
        int nd = dc_ndim(in[i]);
        const int64_t *shape = dc_shape(in[i]);
        int64_t idx[DC_MAX_DIMS] = {0};
        for (int64_t e = 0; e < numel; e++) {
            double x0;
            TU_OK(dc_get(in[i], idx, &x0));
            TU_OK(dc_set(in[i], idx, x0 + eps));
            double lp = loss_value(f, in, n, ctx, w);
            TU_OK(dc_set(in[i], idx, x0 - eps));
            double lm = loss_value(f, in, n, ctx, w);
            TU_OK(dc_set(in[i], idx, x0));
            double num = (lp - lm) / (2 * eps);
            if (!(fabs(ga[e] - num) <= atol + rtol * fabs(num))) {
                double a = ga[e];
                free(ga);
                ck_abort_msg("input %d element %lld: analytic %.10g, numeric %.10g", i,
                             (long long)e, a, num);
            }
            for (int d = nd - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
        free(ga);
    }
    dc_scope_end(s);
}

void gc_check(gc_fn f, dc_tensor *const *in, int n, void *ctx) {
    gc_check_tol(f, in, n, ctx, 1e-6, 1e-6, 1e-5);
}
