/*
 * linear_regression: fit y = w x + b to noisy points of y = 2x + 1 with
 * Adam, the worked example of the article that introduced libdeepcore,
 * done honestly.
 *
 *   ./build/examples/linear_regression [--steps N] [--lr X] [--seed S]
 *                                      [--expect-fit]
 *
 * The defaults are the article's settings: 100 points x ~ U(0, 1),
 * y = 2x + 1 + 0.1 * noise, weight and bias starting at 0, Adam with
 * learning rate 0.001, 100 full-batch steps. Adam moves each parameter by
 * at most about lr per step, so 100 steps of 0.001 take w and b from 0 to
 * roughly 0.1: the fit is nowhere near w = 2, b = 1, and this program
 * says so instead of pretending. `--lr 0.1 --steps 1000` gets there (in
 * about 200 steps), and so does the default rate given about 8,000 steps
 * (`--steps 10000`); the program reports the first step at which w and b
 * are within 0.01 of the least-squares optimum of the sample.
 *
 * Note on the article's NumPy code: it draws the noise as
 * np.random.randn(100) and adds it to 2 * X + 1 with X of shape (100, 1),
 * which broadcasts the target to a (100, 100) matrix: every point gets all
 * 100 noise values. Here each point has one target, y of shape (100, 1).
 *
 * Exit status: 0 when training lowered the loss (and, with --expect-fit,
 * when w and b ended within 0.05 of 2 and 1); 1 on a library error; 2
 * when the job was not done.
 */
#include <deepcore/deepcore.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TRAIN 100
#define N_TEST 10
#define NEAR_OPTIMUM 0.01   /* "recovered": within this of the least-squares fit */

typedef struct options {
    long steps;
    double lr;
    unsigned long long seed;
    int expect_fit;
} options;

static int fail(const char *what) {
    fprintf(stderr, "linear_regression: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: linear_regression [--steps N] [--lr X] [--seed S] [--expect-fit]\n"
            "  --steps N      full-batch Adam steps (default 100)\n"
            "  --lr X         Adam learning rate (default 0.001)\n"
            "  --seed S       seed of the data generator (default 0)\n"
            "  --expect-fit   exit 2 unless w and b end within 0.05 of 2 and 1\n");
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.steps = 100, .lr = 0.001, .seed = 0, .expect_fit = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--expect-fit")) {
            o->expect_fit = 1;
            continue;
        }
        if (!v) goto bad;
        if (!strcmp(a, "--steps")) o->steps = strtol(v, &end, 10);
        else if (!strcmp(a, "--lr")) o->lr = strtod(v, &end);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, &end, 10);
        else goto bad;
        if (!end || *end || end == v) goto bad;
        i++;
    }
    if (o->steps < 1 || !(o->lr > 0)) goto bad;
    return 0;
bad:
    usage();
    return -1;
}

/* n points: x ~ U(0, 1), y = 2x + 1 + 0.1 * N(0, 1), each (n, 1) f32. */
static dc_status make_points(dc_rng *rng, int64_t n, dc_tensor **x, dc_tensor **y) {
    int64_t shape[2] = {n, 1};
    *x = dc_rand_uniform(rng, DC_F32, 2, shape, 0, 1);
    dc_tensor *noise = dc_rand_normal(rng, DC_F32, 2, shape, 0, 1);
    dc_tensor *clean = dc_add_scalar(dc_mul_scalar(*x, 2.0), 1.0);
    dc_tensor *noisy = dc_add(clean, dc_mul_scalar(noise, 0.1));
    *y = noisy ? dc_retain(noisy) : NULL;   /* keep it past the caller's scope */
    if (*x) dc_retain(*x);
    return *x && *y ? DC_OK : dc_last_status();
}

/* The exact least-squares line through the sample: what any optimizer of
 * the MSE can at best reach (the noise moves it a little off 2 and 1). */
static void least_squares(const float *x, const float *y, int n, double *w, double *b) {
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    *w = sxy / sxx;
    *b = my - *w * mx;
}

static double value_of(dc_tensor *t) {
    double v = NAN;
    dc_item(t, &v);
    return v;
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 1;
    printf("linear_regression: y = 2x + 1 + 0.1 noise, %d points, Adam lr %g, %ld full-batch "
           "steps, seed %llu\n", N_TRAIN, o.lr, o.steps, o.seed);

    dc_rng *rng = dc_rng_new(o.seed);
    dc_scope *data_scope = dc_scope_begin();
    dc_tensor *x, *y, *x_test, *y_test;
    if (make_points(rng, N_TRAIN, &x, &y) != DC_OK ||
        make_points(rng, N_TEST, &x_test, &y_test) != DC_OK)
        return fail("making the data");
    dc_scope_end(data_scope);

    float xs[N_TRAIN], ys[N_TRAIN];
    double w_opt, b_opt;
    if (dc_copy_to(x, DC_F32, xs, sizeof xs) != DC_OK ||
        dc_copy_to(y, DC_F32, ys, sizeof ys) != DC_OK)
        return fail("reading the data");
    least_squares(xs, ys, N_TRAIN, &w_opt, &b_opt);

    /* The model: prediction = x w + b, w (1, 1) and b (1), both 0. */
    dc_tensor *w = dc_zeros(DC_F32, 2, (int64_t[]){1, 1});
    dc_tensor *b = dc_zeros(DC_F32, 1, (int64_t[]){1});
    if (!w || !b || dc_set_requires_grad(w, 1) != DC_OK || dc_set_requires_grad(b, 1) != DC_OK)
        return fail("making the parameters");
    dc_optim *opt = dc_adam_new((dc_tensor *[]){w, b}, 2, o.lr, 0.9, 0.999, 1e-8, 0, 0);
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    if (!opt || !mse) return fail("setting up");

    long report_every = o.steps >= 10 ? o.steps / 10 : 1;
    long recovered_at = -1;
    double first_loss = NAN, loss_value = NAN, w_now = 0, b_now = 0;
    for (long step = 1; step <= o.steps; step++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *loss = dc_loss_forward(mse, dc_add(dc_matmul(x, w), b), y);
        if (!loss) return fail("the forward pass");
        loss_value = value_of(loss);   /* the loss before this step's update */
        if (step == 1) first_loss = loss_value;
        if (dc_optim_zero_grad(opt) != DC_OK || dc_backward(loss, NULL, 0) != DC_OK ||
            dc_optim_step(opt) != DC_OK)
            return fail("the training step");
        dc_scope_end(s);
        w_now = value_of(w);
        b_now = value_of(b);
        if (recovered_at < 0 && fabs(w_now - w_opt) < NEAR_OPTIMUM &&
            fabs(b_now - b_opt) < NEAR_OPTIMUM)
            recovered_at = step;
        if (step % report_every == 0 || step == o.steps)
            printf("step %6ld  train MSE %.6f (before the step)  w %.4f  b %.4f (after it)\n", step,
                   loss_value, w_now, b_now);
    }

    dc_scope *s = dc_scope_begin();
    int prev = dc_set_grad_enabled(0);
    double test_mse = NAN, final_mse = NAN;
    if (dc_metric_mse(dc_add(dc_matmul(x, w), b), y, &final_mse) != DC_OK ||
        dc_metric_mse(dc_add(dc_matmul(x_test, w), b), y_test, &test_mse) != DC_OK)
        return fail("the final MSEs");
    dc_set_grad_enabled(prev);
    dc_scope_end(s);

    printf("train MSE %.6f at the start, %.6f after training; test MSE on %d new points: %.6f "
           "(the noise alone gives about 0.01)\n", first_loss, final_mse, N_TEST, test_mse);
    printf("learned w = %.4f, b = %.4f; true line w = 2, b = 1; least-squares fit of this "
           "sample w = %.4f, b = %.4f\n", w_now, b_now, w_opt, b_opt);
    if (recovered_at > 0)
        printf("w and b came within %.2f of the least-squares fit at step %ld (lr %g)\n",
               NEAR_OPTIMUM, recovered_at, o.lr);
    else
        printf("NOT converged: after %ld steps at lr %g, w and b are still %.2f and %.2f away "
               "from the least-squares fit. Try --lr 0.1 --steps 1000, or --steps 10000 at "
               "lr 0.001.\n", o.steps, o.lr, fabs(w_now - w_opt), fabs(b_now - b_opt));

    int lowered = final_mse < first_loss;
    int fits = fabs(w_now - 2) < 0.05 && fabs(b_now - 1) < 0.05;
    dc_loss_release(mse);
    dc_optim_release(opt);
    dc_release(w);
    dc_release(b);
    dc_release(x);
    dc_release(y);
    dc_release(x_test);
    dc_release(y_test);
    dc_rng_free(rng);
    if (!lowered) {
        fprintf(stderr, "linear_regression: the training loss did not fall\n");
        return 2;
    }
    if (o.expect_fit && !fits) {
        fprintf(stderr, "linear_regression: --expect-fit: w, b not within 0.05 of 2, 1\n");
        return 2;
    }
    return 0;
}
