/* Gradient checks of the elementwise ops (lib/ops/binary.c, unary.c):
 * same shapes, broadcasting both ways, strided inputs and 0-d tensors.
 * Input ranges keep points away from kinks (abs/relu at 0, clamp bounds,
 * softplus's switch) and poles (div, log, rsqrt); random doubles make
 * maximum/minimum ties practically impossible. */
#include "gradcheck.h"

#include <math.h>

#include "core/internal.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

typedef dc_tensor *(*binary_fn)(dc_tensor *, dc_tensor *);
typedef dc_tensor *(*unary_fn)(dc_tensor *);

/* ---------------------------------------------------------------- */
/* Binary ops                                                        */
/* ---------------------------------------------------------------- */

typedef struct bin_ctx { binary_fn f; } bin_ctx;

static dc_tensor *apply_binary(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    return ((const bin_ctx *)ctx)->f(in[0], in[1]);
}

/* An operand: shape, range [lo, hi), strided or not. */
typedef struct operand {
    int ndim;
    const int64_t *shape;
    double lo, hi;
    int noncontig;
} operand;

static void check_binary(binary_fn f, uint64_t seed, operand a, operand b) {
    dc_tensor *in[2] = {gc_input(seed, a.ndim, a.shape, a.lo, a.hi, a.noncontig),
                        gc_input(seed + 1, b.ndim, b.shape, b.lo, b.hi, b.noncontig)};
    bin_ctx c = {f};
    gc_check(apply_binary, in, 2, &c);
    dc_release(in[0]);
    dc_release(in[1]);
}

/* Five cases per op: same shape; (2,1,3) with (4,1); strided (3,4) with
 * (4,); (4,) with strided (3,4); 0-d with (2,3). LO..HI is a's range,
 * BLO..BHI b's. */
#define BINARY_CASES(NAME, FN, LO, HI, BLO, BHI)                                    \
    static void NAME##_same(void) {                                                 \
        check_binary(FN, 11, (operand){2, SH(2, 3), LO, HI, 0},                     \
                     (operand){2, SH(2, 3), BLO, BHI, 0});                          \
    }                                                                               \
    static void NAME##_broadcast(void) {                                            \
        check_binary(FN, 21, (operand){3, SH(2, 1, 3), LO, HI, 0},                  \
                     (operand){2, SH(4, 1), BLO, BHI, 0});                          \
    }                                                                               \
    static void NAME##_strided_left(void) {                                         \
        check_binary(FN, 31, (operand){2, SH(3, 4), LO, HI, 1},                     \
                     (operand){1, SH(4), BLO, BHI, 0});                             \
    }                                                                               \
    static void NAME##_strided_right(void) {                                        \
        check_binary(FN, 41, (operand){1, SH(4), LO, HI, 0},                        \
                     (operand){2, SH(3, 4), BLO, BHI, 1});                          \
    }                                                                               \
    static void NAME##_scalar(void) {                                               \
        check_binary(FN, 51, (operand){0, NULL, LO, HI, 0},                         \
                     (operand){2, SH(2, 3), BLO, BHI, 1});                          \
    }

#define BINARY_ENTRIES(ID, NAME)                                  \
    {ID, #NAME " same shape", NAME##_same},                       \
    {ID, #NAME " (2,1,3) with (4,1)", NAME##_broadcast},          \
    {ID, #NAME " strided (3,4) with (4,)", NAME##_strided_left},  \
    {ID, #NAME " (4,) with strided (3,4)", NAME##_strided_right}, \
    {ID, #NAME " 0-d with (2,3)", NAME##_scalar}

BINARY_CASES(add, dc_add, -2.0, 2.0, -2.0, 2.0)
BINARY_CASES(sub, dc_sub, -2.0, 2.0, -2.0, 2.0)
BINARY_CASES(mul, dc_mul, -2.0, 2.0, -2.0, 2.0)
BINARY_CASES(div, dc_div, -2.0, 2.0, 0.5, 2.0)
BINARY_CASES(pow, dc_pow, 0.5, 2.0, -1.5, 1.5)
BINARY_CASES(maximum, dc_maximum, -2.0, 2.0, -2.0, 2.0)
BINARY_CASES(minimum, dc_minimum, -2.0, 2.0, -2.0, 2.0)

/* div with a negative divisor range too */
static void div_negative_divisor(void) {
    check_binary(dc_div, 61, (operand){2, SH(2, 3), -2.0, 2.0, 0},
                 (operand){2, SH(2, 3), -2.0, -0.5, 1});
}

/* ---- where: cond never gets a gradient ---- */

static dc_tensor *apply_where(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_where(in[0], in[1], in[2]);
}

static void check_where(int cnd, const int64_t *cshape, const uint8_t *cvals, operand a,
                        operand b) {
    dc_tensor *in[3] = {dc_from_data(DC_BOOL, cnd, cshape, cvals),
                        gc_input(71, a.ndim, a.shape, a.lo, a.hi, a.noncontig),
                        gc_input(72, b.ndim, b.shape, b.lo, b.hi, b.noncontig)};
    TU_NOTNULL(in[0]);
    gc_check(apply_where, in, 3, NULL);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
}

static void where_same(void) {
    check_where(2, SH(2, 3), (const uint8_t[]){1, 0, 0, 1, 1, 0},
                (operand){2, SH(2, 3), -1, 1, 0}, (operand){2, SH(2, 3), -1, 1, 0});
}
static void where_broadcast(void) {
    /* cond (2,1), a (3,), b strided (2,3) -> (2,3): a's gradient is summed */
    check_where(2, SH(2, 1), (const uint8_t[]){1, 0}, (operand){1, SH(3), -1, 1, 0},
                (operand){2, SH(2, 3), -1, 1, 1});
}
static void where_cond_broadcast(void) {
    /* cond (4,) over a strided (3,4) and a 0-d b */
    check_where(1, SH(4), (const uint8_t[]){0, 1, 1, 0}, (operand){2, SH(3, 4), -1, 1, 1},
                (operand){0, NULL, -1, 1, 0});
}

/* ---- scalar on the right ---- */

typedef struct scalar_ctx {
    dc_tensor *(*f)(dc_tensor *, double);
    double value;
} scalar_ctx;

static dc_tensor *apply_scalar(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    const scalar_ctx *c = ctx;
    return c->f(in[0], c->value);
}

static void check_scalar(dc_tensor *(*f)(dc_tensor *, double), double value, operand x) {
    dc_tensor *in = gc_input(81, x.ndim, x.shape, x.lo, x.hi, x.noncontig);
    scalar_ctx c = {f, value};
    gc_check(apply_scalar, &in, 1, &c);
    dc_release(in);
}

static void add_scalar_plain(void) {
    check_scalar(dc_add_scalar, 2.5, (operand){2, SH(2, 3), -1, 1, 0});
}
static void add_scalar_strided(void) {
    check_scalar(dc_add_scalar, -7, (operand){2, SH(3, 4), -1, 1, 1});
}
static void mul_scalar_plain(void) {
    check_scalar(dc_mul_scalar, -1.5, (operand){3, SH(2, 1, 3), -1, 1, 0});
}
static void mul_scalar_strided(void) {
    check_scalar(dc_mul_scalar, 0.25, (operand){2, SH(3, 4), -1, 1, 1});
}
static void mul_scalar_0d(void) { check_scalar(dc_mul_scalar, 3, (operand){0, NULL, -1, 1, 0}); }
static void pow_scalar_cube(void) {
    check_scalar(dc_pow_scalar, 3, (operand){2, SH(2, 3), -2, 2, 0});
}
static void pow_scalar_sqrt(void) {
    check_scalar(dc_pow_scalar, 0.5, (operand){2, SH(3, 4), 0.5, 2, 1});
}
static void pow_scalar_negative(void) {
    check_scalar(dc_pow_scalar, -1.5, (operand){1, SH(5), 0.5, 2, 1});
}
static void pow_scalar_zero(void) {
    check_scalar(dc_pow_scalar, 0, (operand){2, SH(2, 3), -1, 1, 0});
}

/* ---------------------------------------------------------------- */
/* Unary ops                                                         */
/* ---------------------------------------------------------------- */

typedef struct un_ctx { unary_fn f; } un_ctx;

static dc_tensor *apply_unary(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    return ((const un_ctx *)ctx)->f(in[0]);
}

static void check_unary(unary_fn f, uint64_t seed, operand x) {
    dc_tensor *in = gc_input(seed, x.ndim, x.shape, x.lo, x.hi, x.noncontig);
    un_ctx c = {f};
    gc_check(apply_unary, &in, 1, &c);
    dc_release(in);
}

static dc_tensor *leaky_01(dc_tensor *t) { return dc_leaky_relu(t, 0.1); }
static dc_tensor *leaky_neg(dc_tensor *t) { return dc_leaky_relu(t, -0.3); }
static dc_tensor *gelu_exact(dc_tensor *t) { return dc_gelu(t, DC_GELU_EXACT); }
static dc_tensor *gelu_tanh(dc_tensor *t) { return dc_gelu(t, DC_GELU_TANH); }
static dc_tensor *softplus_1_20(dc_tensor *t) { return dc_softplus(t, 1, 20); }
/* beta 2, threshold 1: linear above x = 0.5 (the inputs stay off it) */
static dc_tensor *softplus_2_1(dc_tensor *t) { return dc_softplus(t, 2, 1); }
static dc_tensor *clamp_m05_1(dc_tensor *t) { return dc_clamp(t, -0.5, 1); }
static dc_tensor *clamp_low_only(dc_tensor *t) { return dc_clamp(t, -0.5, INFINITY); }

/* Three cases per op: (2,3,2), strided (3,4), 0-d. */
#define UNARY_CASES(NAME, FN, LO, HI)                                                \
    static void NAME##_plain(void) { check_unary(FN, 91, (operand){3, SH(2, 3, 2), LO, HI, 0}); } \
    static void NAME##_strided(void) { check_unary(FN, 92, (operand){2, SH(3, 4), LO, HI, 1}); } \
    static void NAME##_scalar(void) { check_unary(FN, 93, (operand){0, NULL, LO, HI, 0}); }

#define UNARY_ENTRIES(ID, NAME)                   \
    {ID, #NAME " (2,3,2)", NAME##_plain},         \
    {ID, #NAME " strided (3,4)", NAME##_strided}, \
    {ID, #NAME " 0-d", NAME##_scalar}

UNARY_CASES(neg, dc_neg, -2.0, 2.0)
UNARY_CASES(abs, dc_abs, -2.0, 2.0)
UNARY_CASES(exp, dc_exp, -2.0, 2.0)
UNARY_CASES(log, dc_log, 0.3, 3.0)
UNARY_CASES(sqrt, dc_sqrt, 0.3, 3.0)
UNARY_CASES(rsqrt, dc_rsqrt, 0.3, 3.0)
UNARY_CASES(square, dc_square, -2.0, 2.0)
UNARY_CASES(tanh, dc_tanh, -2.0, 2.0)
UNARY_CASES(sigmoid, dc_sigmoid, -4.0, 4.0)
UNARY_CASES(relu, dc_relu, -2.0, 2.0)
UNARY_CASES(leaky_relu, leaky_01, -2.0, 2.0)
UNARY_CASES(gelu_exact, gelu_exact, -3.0, 3.0)
UNARY_CASES(gelu_tanh, gelu_tanh, -3.0, 3.0)
UNARY_CASES(silu, dc_silu, -4.0, 4.0)
UNARY_CASES(softplus, softplus_1_20, -4.0, 4.0)
UNARY_CASES(clamp, clamp_m05_1, -2.0, 2.0)

static void leaky_relu_negative_slope(void) {
    check_unary(leaky_neg, 94, (operand){2, SH(2, 3), -2.0, 2.0, 1});
}
static void softplus_threshold(void) {
    check_unary(softplus_2_1, 95, (operand){2, SH(3, 4), -2.0, 2.0, 1});
}
static void clamp_one_side(void) {
    check_unary(clamp_low_only, 96, (operand){2, SH(3, 4), -2.0, 2.0, 1});
}

const gc_case gc_cases_elementwise[] = {
    BINARY_ENTRIES(DC_OP_ADD, add),
    BINARY_ENTRIES(DC_OP_SUB, sub),
    BINARY_ENTRIES(DC_OP_MUL, mul),
    BINARY_ENTRIES(DC_OP_DIV, div),
    {DC_OP_DIV, "div by negatives", div_negative_divisor},
    BINARY_ENTRIES(DC_OP_POW, pow),
    BINARY_ENTRIES(DC_OP_MAXIMUM, maximum),
    BINARY_ENTRIES(DC_OP_MINIMUM, minimum),
    {DC_OP_WHERE, "where same shape", where_same},
    {DC_OP_WHERE, "where (2,1) (3,) strided (2,3)", where_broadcast},
    {DC_OP_WHERE, "where (4,) strided (3,4) 0-d", where_cond_broadcast},
    {DC_OP_ADD_SCALAR, "add_scalar", add_scalar_plain},
    {DC_OP_ADD_SCALAR, "add_scalar strided", add_scalar_strided},
    {DC_OP_MUL_SCALAR, "mul_scalar", mul_scalar_plain},
    {DC_OP_MUL_SCALAR, "mul_scalar strided", mul_scalar_strided},
    {DC_OP_MUL_SCALAR, "mul_scalar 0-d", mul_scalar_0d},
    {DC_OP_POW_SCALAR, "pow_scalar 3", pow_scalar_cube},
    {DC_OP_POW_SCALAR, "pow_scalar 0.5 strided", pow_scalar_sqrt},
    {DC_OP_POW_SCALAR, "pow_scalar -1.5 strided", pow_scalar_negative},
    {DC_OP_POW_SCALAR, "pow_scalar 0", pow_scalar_zero},
    UNARY_ENTRIES(DC_OP_NEG, neg),
    UNARY_ENTRIES(DC_OP_ABS, abs),
    UNARY_ENTRIES(DC_OP_EXP, exp),
    UNARY_ENTRIES(DC_OP_LOG, log),
    UNARY_ENTRIES(DC_OP_SQRT, sqrt),
    UNARY_ENTRIES(DC_OP_RSQRT, rsqrt),
    UNARY_ENTRIES(DC_OP_SQUARE, square),
    UNARY_ENTRIES(DC_OP_TANH, tanh),
    UNARY_ENTRIES(DC_OP_SIGMOID, sigmoid),
    UNARY_ENTRIES(DC_OP_RELU, relu),
    UNARY_ENTRIES(DC_OP_LEAKY_RELU, leaky_relu),
    {DC_OP_LEAKY_RELU, "leaky_relu slope -0.3 strided", leaky_relu_negative_slope},
    UNARY_ENTRIES(DC_OP_GELU, gelu_exact),
    UNARY_ENTRIES(DC_OP_GELU, gelu_tanh),
    UNARY_ENTRIES(DC_OP_SILU, silu),
    UNARY_ENTRIES(DC_OP_SOFTPLUS, softplus),
    {DC_OP_SOFTPLUS, "softplus beta 2 threshold 1 strided", softplus_threshold},
    UNARY_ENTRIES(DC_OP_CLAMP, clamp),
    {DC_OP_CLAMP, "clamp lower bound only strided", clamp_one_side},
    {0, NULL, NULL},
};
