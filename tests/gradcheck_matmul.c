/* Gradient checks of dc_matmul: plain, 1-D promotion on either side,
 * broadcast batch axes (whose gradients are summed), and non-contiguous
 * or transposed operands. */
#include "gradcheck.h"

#include "core/internal.h"

static dc_tensor *product(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_matmul(in[0], in[1]);
}

/* a^T @ b, the transpose taken inside the graph. */
static dc_tensor *product_at(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_matmul(dc_transpose(in[0], -1, -2), in[1]);
}

/* a @ b^T. */
static dc_tensor *product_bt(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_matmul(in[0], dc_transpose(in[1], -1, -2));
}

/* Checks f on random inputs of shapes sa and sb. */
static void check(gc_fn f, int na, const int64_t *sa, int nb, const int64_t *sb,
                  int noncontig_a, int noncontig_b) {
    dc_tensor *in[2] = {
        gc_input(101, na, sa, -1.0, 1.0, noncontig_a),
        gc_input(202, nb, sb, -1.0, 1.0, noncontig_b),
    };
    gc_check(f, in, 2, NULL);
    dc_release(in[0]);
    dc_release(in[1]);
}

#define SH(...) ((const int64_t[]){__VA_ARGS__})

static void mm_2d(void) { check(product, 2, SH(3, 4), 2, SH(4, 2), 0, 0); }
static void mm_vec_mat(void) { check(product, 1, SH(4), 2, SH(4, 3), 0, 0); }
static void mm_mat_vec(void) { check(product, 2, SH(3, 4), 1, SH(4), 0, 0); }
static void mm_dot(void) { check(product, 1, SH(5), 1, SH(5), 0, 0); }
static void mm_batch_same(void) { check(product, 3, SH(2, 2, 3), 3, SH(2, 3, 2), 0, 0); }
static void mm_batch_broadcast(void) {
    check(product, 4, SH(2, 1, 2, 3), 3, SH(3, 3, 2), 0, 0);
}
static void mm_batch_mat(void) { check(product, 3, SH(3, 2, 4), 2, SH(4, 2), 0, 0); }
static void mm_mat_batch(void) { check(product, 2, SH(2, 4), 3, SH(3, 4, 2), 0, 0); }
static void mm_vec_batch(void) { check(product, 1, SH(3), 3, SH(2, 3, 2), 0, 0); }
static void mm_batch_vec(void) { check(product, 3, SH(2, 2, 3), 1, SH(3), 0, 0); }
static void mm_noncontig(void) { check(product, 2, SH(3, 4), 2, SH(4, 3), 1, 1); }
static void mm_noncontig_vec(void) { check(product, 1, SH(4), 2, SH(4, 3), 1, 1); }
static void mm_noncontig_batch(void) {
    check(product, 3, SH(2, 3, 4), 2, SH(4, 2), 1, 0);
}
static void mm_transposed_a(void) { check(product_at, 2, SH(4, 3), 2, SH(4, 2), 0, 0); }
static void mm_transposed_b(void) {
    check(product_bt, 3, SH(2, 3, 4), 3, SH(1, 2, 4), 0, 0);
}

/* Only one input requires grad: the other gets none, this one is right. */
static void mm_one_side(void) {
    dc_tensor *in[2] = {
        gc_input(303, 2, SH(3, 4), -1.0, 1.0, 0),
        gc_input(404, 3, SH(2, 4, 2), -1.0, 1.0, 0),
    };
    TU_OK(dc_set_requires_grad(in[1], 0));
    gc_check(product, in, 2, NULL);
    ck_assert_ptr_null(dc_grad(in[1]));
    TU_OK(dc_set_requires_grad(in[1], 1));
    TU_OK(dc_set_requires_grad(in[0], 0));
    gc_check(product, in, 2, NULL);
    ck_assert_ptr_null(dc_grad(in[0]));
    dc_release(in[0]);
    dc_release(in[1]);
}

const gc_case gc_cases_matmul[] = {
    {DC_OP_MATMUL, "matmul 2-D", mm_2d},
    {DC_OP_MATMUL, "matmul 1-D x 2-D", mm_vec_mat},
    {DC_OP_MATMUL, "matmul 2-D x 1-D", mm_mat_vec},
    {DC_OP_MATMUL, "matmul 1-D x 1-D", mm_dot},
    {DC_OP_MATMUL, "matmul batched", mm_batch_same},
    {DC_OP_MATMUL, "matmul batch broadcast", mm_batch_broadcast},
    {DC_OP_MATMUL, "matmul batched x 2-D", mm_batch_mat},
    {DC_OP_MATMUL, "matmul 2-D x batched", mm_mat_batch},
    {DC_OP_MATMUL, "matmul 1-D x batched", mm_vec_batch},
    {DC_OP_MATMUL, "matmul batched x 1-D", mm_batch_vec},
    {DC_OP_MATMUL, "matmul non-contiguous", mm_noncontig},
    {DC_OP_MATMUL, "matmul non-contiguous 1-D", mm_noncontig_vec},
    {DC_OP_MATMUL, "matmul non-contiguous batched", mm_noncontig_batch},
    {DC_OP_MATMUL, "matmul a transposed", mm_transposed_a},
    {DC_OP_MATMUL, "matmul b transposed", mm_transposed_b},
    {DC_OP_MATMUL, "matmul one side", mm_one_side},
    {0, NULL, NULL},
};
