/* A two-layer network built from public ops, forward and backward, against
 * PyTorch (tests/fixtures/gen_torch_composite.py writes the fixtures):
 *     h      = tanh(x @ W1 + b1)            x (8, 5), W1 (5, 16), b1 (16,)
 *     logits = h @ W2 + b2                  W2 (16, 4), b2 (4,)
 *     loss   = mean over rows of -log_softmax(logits)[row, label[row]]
 * The loss and the gradients of every input must match, in f32 and f64. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

enum { N_PARAMS = 5, N_VALUES = 204, N_ROWS = 8 };

static const struct {
    const char *name;
    int ndim;
    int64_t shape[2];
} params[N_PARAMS] = {
    {"x", 2, {8, 5}}, {"W1", 2, {5, 16}}, {"b1", 1, {16}}, {"W2", 2, {16, 4}}, {"b2", 1, {4}},
};

/* The expected loss and gradients as doubles: 1 + N_VALUES entries. */
static double *read_expected(dc_dtype dt) {
    const char *file = dt == DC_F32 ? "torch_composite_expect_f32.bin"
                                    : "torch_composite_expect_f64.bin";
    size_t n = 1 + N_VALUES;
    void *raw = tu_read_fixture(file, n * dc_dtype_size(dt));
    double *want = malloc(n * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (size_t i = 0; i < n; i++)
        want[i] = dt == DC_F32 ? (double)((const float *)raw)[i] : ((const double *)raw)[i];
    free(raw);
    return want;
}

/* The five inputs as leaves of dtype dt requiring grad (same values in
 * both dtypes: the f32 fixture converted exactly). */
static void make_params(const float *values, dc_dtype dt, dc_tensor **p) {
    const float *v = values;
    for (int i = 0; i < N_PARAMS; i++) {
        dc_tensor *t = dc_from_data(DC_F32, params[i].ndim, params[i].shape, v);
        p[i] = dc_cast(t, dt);
        TU_NOTNULL(p[i]);
        TU_OK(dc_set_requires_grad(p[i], 1));
        v += dc_numel(p[i]);
    }
}

/* The network's loss, a 0-d tensor. */
static dc_tensor *network_loss(dc_tensor *const *p, dc_tensor *labels) {
    dc_tensor *x = p[0], *w1 = p[1], *b1 = p[2], *w2 = p[3], *b2 = p[4];
    dc_tensor *h = dc_tanh(dc_add(dc_matmul(x, w1), b1));
    dc_tensor *logits = dc_add(dc_matmul(h, w2), b2);
    dc_tensor *picked = dc_gather(dc_log_softmax(logits, 1), 1, labels);
    return dc_neg(dc_mean(picked, NULL, 0, 0));
}

static void check_network(dc_dtype dt, double atol, double rtol) {
    float *values = tu_read_fixture("torch_composite_inputs_f32.bin", N_VALUES * sizeof(float));
    int64_t *labels = tu_read_fixture("torch_composite_labels_i64.bin", N_ROWS * sizeof(int64_t));
    double *want = read_expected(dt);

    dc_scope *s = dc_scope_begin();
    dc_tensor *p[N_PARAMS];
    make_params(values, dt, p);
    dc_tensor *idx = dc_from_data(DC_I64, 2, (const int64_t[]){N_ROWS, 1}, labels);
    dc_tensor *loss = network_loss(p, idx);
    TU_NOTNULL(loss);
    tu_assert_shape(loss, 0, NULL);
    ck_assert_int_eq(dc_tensor_dtype(loss), dt);
    tu_assert_values(loss, want, 1, atol, rtol);

    TU_OK(dc_backward(loss, NULL, 0));
    const double *w = want + 1;
    for (int i = 0; i < N_PARAMS; i++) {
        dc_tensor *g = dc_grad(p[i]);
        ck_assert_msg(g != NULL, "no gradient for %s: %s", params[i].name, dc_last_error());
        ck_assert_int_eq(dc_tensor_dtype(g), dt);
        tu_assert_shape(g, params[i].ndim, params[i].shape);
        tu_assert_values(g, w, dc_numel(g), atol, rtol);
        w += dc_numel(g);
    }
    dc_scope_end(s);
    free(values);
    free(labels);
    free(want);
}

START_TEST(network_f32) { check_network(DC_F32, 1e-7, 1e-5); }
END_TEST

START_TEST(network_f64) { check_network(DC_F64, 1e-13, 1e-10); }
END_TEST

int main(void) {
    Suite *s = suite_create("torch_composite");
    TCase *tc = tu_tcase("two_layer_network");
    tcase_add_test(tc, network_f32);
    tcase_add_test(tc, network_f64);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
