/* Gradient check of a caller-defined op (dc_custom_op): softsign
 * x / (1 + |x|) with a hand-written backward 1 / (1 + |x|)^2, and a
 * two-input op a * exp(b) whose backward covers both inputs. */
#include "gradcheck.h"

#include "core/internal.h"

static dc_tensor *softsign_fwd(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_div(in[0], dc_add_scalar(dc_abs(in[0]), 1.0));
}

static dc_status softsign_bwd(dc_tensor *const *in, int n, dc_tensor *out, dc_tensor *gout,
                              dc_tensor **gin, void *ctx) {
    (void)n;
    (void)out;
    (void)ctx;
    dc_tensor *d = dc_add_scalar(dc_abs(in[0]), 1.0);
    gin[0] = dc_div(gout, dc_square(d));
    return gin[0] ? DC_OK : dc_last_status();
}

static dc_tensor *softsign(dc_tensor *const *in, int n, void *ctx) {
    return dc_custom_op("softsign", in, n, softsign_fwd, softsign_bwd, ctx, NULL);
}

static dc_tensor *mulexp_fwd(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_mul(in[0], dc_exp(in[1]));
}

static dc_status mulexp_bwd(dc_tensor *const *in, int n, dc_tensor *out, dc_tensor *gout,
                            dc_tensor **gin, void *ctx) {
    (void)n;
    (void)ctx;
    gin[0] = dc_mul(gout, dc_exp(in[1]));
    gin[1] = dc_mul(gout, out);
    return gin[0] && gin[1] ? DC_OK : dc_last_status();
}

static dc_tensor *mulexp(dc_tensor *const *in, int n, void *ctx) {
    return dc_custom_op("mulexp", in, n, mulexp_fwd, mulexp_bwd, ctx, NULL);
}

static void case_softsign(void) {
    dc_tensor *x = gc_input(11, 2, (int64_t[]){3, 4}, 0.2, 2.0, 0);
    dc_scope *s = dc_scope_begin();
    TU_OK(dc_fill(dc_narrow(x, 0, 0, 1), -0.7));   /* some negatives, away from 0 */
    dc_scope_end(s);
    gc_check(softsign, &x, 1, NULL);
    dc_release(x);
}

static void case_mulexp_noncontig(void) {
    dc_tensor *in[2] = {gc_input(12, 2, (int64_t[]){3, 2}, -1, 1, 1),
                        gc_input(13, 2, (int64_t[]){3, 2}, -1, 1, 0)};
    gc_check(mulexp, in, 2, NULL);
    dc_release(in[0]);
    dc_release(in[1]);
}

const gc_case gc_cases_custom[] = {
    {DC_OP_CUSTOM, "custom softsign", case_softsign},
    {DC_OP_CUSTOM, "custom a*exp(b), non-contiguous", case_mulexp_noncontig},
    {0, NULL, NULL},
};
