/*
 * quickstart: a two-layer network learns to tell two interleaved spirals
 * apart, trained by plain gradient descent on libdeepcore's autodiff.
 *
 *   ./build/examples/quickstart [steps]
 *
 * Shows the whole API in one page: tensors, ops that read like the math,
 * a scope per step so intermediates need no release calls, dc_backward,
 * and reading results back out.
 */
#include <deepcore/deepcore.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_POINTS 400
#define HIDDEN 32

static int fail(const char *what) {
    fprintf(stderr, "quickstart: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

/* Two spirals, 200 points each, with a little noise. */
static void make_spirals(dc_rng *rng, float *x, int64_t *y) {
    dc_tensor *noise = dc_rand_normal(rng, DC_F32, 1, (int64_t[]){2 * N_POINTS}, 0, 0.05);
    float nz[2 * N_POINTS];
    dc_copy_to(noise, DC_F32, nz, sizeof nz);
    dc_release(noise);
    for (int i = 0; i < N_POINTS; i++) {
        int cls = i % 2;
        double r = (double)(i / 2) / (N_POINTS / 2) * 1.0 + 0.1;
        double a = 3.0 * r * 3.14159265 + cls * 3.14159265;
        x[2 * i] = (float)(r * cos(a)) + nz[2 * i];
        x[2 * i + 1] = (float)(r * sin(a)) + nz[2 * i + 1];
        y[i] = cls;
    }
}

static dc_tensor *param(dc_rng *rng, int64_t rows, int64_t cols, double scale) {
    int64_t shape[2] = {rows, cols};
    dc_tensor *p = cols > 0 ? dc_rand_normal(rng, DC_F32, 2, shape, 0, scale)
                            : dc_zeros(DC_F32, 1, shape);
    if (p) dc_set_requires_grad(p, 1);
    return p;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 2000;
    printf("libdeepcore %s: two-spirals classifier, 2-%d-%d-2 MLP, %d steps of gradient descent\n",
           dc_version_string(), HIDDEN, HIDDEN, steps);

    dc_rng *rng = dc_rng_new(42);
    float xs[2 * N_POINTS];
    int64_t ys[N_POINTS];
    make_spirals(rng, xs, ys);
    dc_tensor *x = dc_from_data(DC_F32, 2, (int64_t[]){N_POINTS, 2}, xs);
    dc_tensor *y = dc_from_data(DC_I64, 2, (int64_t[]){N_POINTS, 1}, ys);

    dc_tensor *params[6] = {
        param(rng, 2, HIDDEN, 1.0),      param(rng, HIDDEN, 0, 0),
        param(rng, HIDDEN, HIDDEN, 0.25), param(rng, HIDDEN, 0, 0),
        param(rng, HIDDEN, 2, 0.25),      param(rng, 2, 0, 0),
    };
    for (int i = 0; i < 6; i++)
        if (!params[i] || !x || !y) return fail("making tensors");

    const double lr = 0.5;
    double loss_value = 0, accuracy = 0;
    for (int step = 0; step <= steps; step++) {
        dc_scope *scope = dc_scope_begin();
        /* forward: logits = tanh(tanh(x W1 + b1) W2 + b2) W3 + b3 */
        dc_tensor *h1 = dc_tanh(dc_add(dc_matmul(x, params[0]), params[1]));
        dc_tensor *h2 = dc_tanh(dc_add(dc_matmul(h1, params[2]), params[3]));
        dc_tensor *logits = dc_add(dc_matmul(h2, params[4]), params[5]);
        /* cross-entropy: mean of -log_softmax(logits)[label] */
        dc_tensor *loss = dc_neg(dc_mean(dc_gather(dc_log_softmax(logits, 1), 1, y), NULL, 0, 0));
        if (!loss) return fail("forward pass");
        if (dc_backward(loss, NULL, 0) != DC_OK) return fail("backward pass");

        /* gradient descent, outside the tape */
        int prev = dc_set_grad_enabled(0);
        for (int i = 0; i < 6; i++) {
            dc_tensor *g = dc_grad(params[i]);
            dc_tensor *updated = dc_sub(params[i], dc_mul_scalar(g, lr));
            int64_t n = dc_numel(updated);
            float buf[HIDDEN * HIDDEN];
            if (!updated || dc_copy_to(updated, DC_F32, buf, sizeof buf) != DC_OK ||
                dc_copy_from(params[i], DC_F32, buf, (size_t)n * sizeof(float)) != DC_OK)
                return fail("update");
            dc_zero_grad(params[i]);
        }
        dc_set_grad_enabled(prev);

        if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0 || step == steps) {
            dc_tensor *pred = dc_argmax(logits, 1, 1);
            dc_tensor *hits = dc_mean(dc_cast(dc_eq(pred, y), DC_F64), NULL, 0, 0);
            if (dc_item(loss, &loss_value) != DC_OK || dc_item(hits, &accuracy) != DC_OK)
                return fail("reading the loss");
            printf("step %5d  loss %.4f  train accuracy %5.1f%%\n", step, loss_value,
                   100 * accuracy);
        }
        dc_scope_end(scope);
    }

    for (int i = 0; i < 6; i++) dc_release(params[i]);
    dc_release(x);
    dc_release(y);
    dc_rng_free(rng);
    printf("%s\n", accuracy > 0.95 ? "learned the spirals" : "did not converge");
    return accuracy > 0.95 ? 0 : 2;
}
