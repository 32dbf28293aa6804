/* Gradient checks of convolutions (conv2d with stride, padding, dilation,
 * groups, with and without bias; conv1d, which runs as a conv2d) and of
 * the pools. Max pooling gets inputs with well-separated distinct values,
 * so no finite difference crosses a change of argmax. */
#include "gradcheck.h"

#include "core/internal.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

/* ---------------------------------------------------------------- */
/* Convolutions                                                      */
/* ---------------------------------------------------------------- */

typedef struct conv_cfg {
    int conv1d;                     /* use entry 0 of the pairs */
    int64_t stride[2], pad[2], dil[2], groups;
} conv_cfg;

/* in: x, w and optionally b. */
static dc_tensor *conv_f(dc_tensor *const *in, int n, void *ctx) {
    const conv_cfg *c = ctx;
    dc_tensor *b = n > 2 ? in[2] : NULL;
    if (c->conv1d)
        return dc_conv1d(in[0], in[1], b, c->stride[0], c->pad[0], c->dil[0], c->groups);
    return dc_conv2d(in[0], in[1], b, c->stride, c->pad, c->dil, c->groups);
}

/* Random x (nd dims) and w, and a bias when bias is set; noncontig makes
 * every input strided. */
static void check_conv(const conv_cfg *c, int nd, const int64_t *xs, const int64_t *ws,
                       int bias, int noncontig) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[3] = {
        gc_input(11, nd, xs, -1.0, 1.0, noncontig),
        gc_input(22, nd, ws, -1.0, 1.0, noncontig),
        bias ? gc_input(33, 1, SH(ws[0]), -1.0, 1.0, noncontig) : NULL,
    };
    gc_check(conv_f, in, bias ? 3 : 2, (void *)c);
    dc_scope_end(s);
}

static void conv_basic(void) {
    static const conv_cfg c = {0, {1, 1}, {0, 0}, {1, 1}, 1};
    check_conv(&c, 4, SH(1, 2, 4, 4), SH(2, 2, 3, 3), 1, 0);
}

static void conv_stride_pad_noncontig(void) {
    static const conv_cfg c = {0, {2, 1}, {1, 1}, {1, 1}, 1};
    check_conv(&c, 4, SH(2, 1, 5, 4), SH(2, 1, 3, 2), 1, 1);
}

static void conv_dilation_groups(void) {
    static const conv_cfg c = {0, {1, 1}, {1, 0}, {2, 2}, 2};
    check_conv(&c, 4, SH(1, 4, 5, 5), SH(4, 2, 2, 2), 0, 0);
}

static void conv_depthwise(void) {
    static const conv_cfg c = {0, {1, 2}, {1, 1}, {1, 1}, 3};
    check_conv(&c, 4, SH(1, 3, 4, 4), SH(3, 1, 3, 3), 1, 1);
}

static void conv_1x1(void) {
    static const conv_cfg c = {0, {1, 1}, {0, 0}, {1, 1}, 1};
    check_conv(&c, 4, SH(2, 3, 2, 3), SH(2, 3, 1, 1), 1, 0);
}

static void conv1d_basic(void) {
    static const conv_cfg c = {1, {2}, {1}, {2}, 1};
    check_conv(&c, 3, SH(2, 2, 7), SH(3, 2, 3), 1, 0);
}

static void conv1d_groups_noncontig(void) {
    static const conv_cfg c = {1, {1}, {2}, {1}, 2};
    check_conv(&c, 3, SH(1, 4, 6), SH(2, 2, 2), 0, 1);
}

/* Only w requires grad (x gets none), then only x. */
static void conv_one_side(void) {
    static const conv_cfg c = {0, {1, 1}, {1, 1}, {1, 1}, 1};
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[3] = {
        gc_input(44, 4, SH(1, 2, 3, 3), -1.0, 1.0, 0),
        gc_input(55, 4, SH(2, 2, 2, 2), -1.0, 1.0, 0),
        gc_input(66, 1, SH(2), -1.0, 1.0, 0),
    };
    TU_OK(dc_set_requires_grad(in[0], 0));
    gc_check(conv_f, in, 3, (void *)&c);
    TU_OK(dc_set_requires_grad(in[0], 1));
    TU_OK(dc_set_requires_grad(in[1], 0));
    TU_OK(dc_set_requires_grad(in[2], 0));
    gc_check(conv_f, in, 3, (void *)&c);
    dc_scope_end(s);
}

/* ---------------------------------------------------------------- */
/* Pools                                                             */
/* ---------------------------------------------------------------- */

enum { MAXP, AVGP, ADAP };

typedef struct pool_cfg {
    int kind;
    int64_t k[2];                   /* adaptive: the output size */
    const int64_t *stride, *pad;    /* NULL: the defaults */
    int count_include_pad;
} pool_cfg;

static dc_tensor *pool_f(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    const pool_cfg *c = ctx;
    switch (c->kind) {
    case MAXP: return dc_max_pool2d(in[0], c->k, c->stride, c->pad);
    case AVGP: return dc_avg_pool2d(in[0], c->k, c->stride, c->pad, c->count_include_pad);
    default: return dc_adaptive_avg_pool2d(in[0], c->k[0], c->k[1]);
    }
}

/* An f64 leaf requiring grad whose values are distinct and at least 0.05
 * apart (a scrambled ramp), so max pooling has no ties near it. */
static dc_tensor *distinct_input(const int64_t *shape, int noncontig) {
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    double v[256];
    ck_assert_int_le(n, 256);
    ck_assert(n % 37 != 0);   /* 37 is prime: coprime to n, so i -> 37 i + 11 permutes */
    for (int64_t i = 0; i < n; i++) v[i] = (double)((i * 37 + 11) % n) * 0.05 - 1.0;
    dc_tensor *t = tu_f64(4, shape, v);
    if (noncontig) t = tu_noncontig(t);
    TU_OK(dc_set_requires_grad(t, 1));
    return t;
}

static void check_pool(const pool_cfg *c, const int64_t *xs, int noncontig) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = c->kind == MAXP ? distinct_input(xs, noncontig)
                                   : gc_input(77, 4, xs, -1.0, 1.0, noncontig);
    gc_check(pool_f, &x, 1, (void *)c);
    dc_scope_end(s);
}

static void max_k2(void) {
    const pool_cfg c = {MAXP, {2, 2}, NULL, NULL, 0};
    check_pool(&c, SH(1, 2, 4, 4), 0);
}

static void max_k3_s2_p1_noncontig(void) {
    const pool_cfg c = {MAXP, {3, 3}, SH(2, 2), SH(1, 1), 0};
    check_pool(&c, SH(1, 1, 5, 5), 1);
}

static void max_overlapping_rect(void) {
    const pool_cfg c = {MAXP, {2, 3}, SH(1, 2), SH(1, 1), 0};
    check_pool(&c, SH(2, 1, 3, 5), 0);
}

static void avg_k2(void) {
    const pool_cfg c = {AVGP, {2, 2}, NULL, NULL, 1};
    check_pool(&c, SH(1, 2, 4, 4), 0);
}

static void avg_pad_include(void) {
    const pool_cfg c = {AVGP, {3, 3}, SH(2, 2), SH(1, 1), 1};
    check_pool(&c, SH(1, 1, 5, 4), 0);
}

static void avg_pad_exclude_noncontig(void) {
    const pool_cfg c = {AVGP, {3, 2}, SH(1, 2), SH(1, 1), 0};
    check_pool(&c, SH(1, 2, 4, 5), 1);
}

static void adaptive_5x7_3x2(void) {
    const pool_cfg c = {ADAP, {3, 2}, NULL, NULL, 0};
    check_pool(&c, SH(1, 2, 5, 7), 0);
}

static void adaptive_upsample_noncontig(void) {
    const pool_cfg c = {ADAP, {4, 5}, NULL, NULL, 0};
    check_pool(&c, SH(2, 1, 3, 4), 1);
}

const gc_case gc_cases_conv[] = {
    {DC_OP_CONV2D, "conv2d basic", conv_basic},
    {DC_OP_CONV2D, "conv2d stride, padding, non-contiguous", conv_stride_pad_noncontig},
    {DC_OP_CONV2D, "conv2d dilation and groups", conv_dilation_groups},
    {DC_OP_CONV2D, "conv2d depthwise", conv_depthwise},
    {DC_OP_CONV2D, "conv2d 1x1", conv_1x1},
    {DC_OP_CONV2D, "conv2d one side", conv_one_side},
    {DC_OP_CONV2D, "conv1d", conv1d_basic},
    {DC_OP_CONV2D, "conv1d groups, non-contiguous", conv1d_groups_noncontig},
    {DC_OP_MAX_POOL2D, "max_pool2d 2x2", max_k2},
    {DC_OP_MAX_POOL2D, "max_pool2d 3x3 s2 p1 non-contiguous", max_k3_s2_p1_noncontig},
    {DC_OP_MAX_POOL2D, "max_pool2d overlapping rectangular", max_overlapping_rect},
    {DC_OP_AVG_POOL2D, "avg_pool2d 2x2", avg_k2},
    {DC_OP_AVG_POOL2D, "avg_pool2d padding counted", avg_pad_include},
    {DC_OP_AVG_POOL2D, "avg_pool2d padding not counted, non-contiguous",
     avg_pad_exclude_noncontig},
    {DC_OP_ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d 5x7 -> 3x2", adaptive_5x7_3x2},
    {DC_OP_ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d 3x4 -> 4x5 non-contiguous",
     adaptive_upsample_noncontig},
    {0, NULL, NULL},
};
