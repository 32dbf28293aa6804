/*
 * training_loop: the canonical libdeepcore training loop, as described in
 * doc/training.md. A small MLP learns a noisy 3-class problem (points
 * around three centres) with AdamW, a warm-up + cosine schedule, gradient
 * clipping, train/eval modes, and a checkpoint at the end.
 *
 *   ./build/examples/training_loop [epochs]
 *
 * Exits 0 when the held-out accuracy passes 90%.
 */
#include <deepcore/deepcore.h>

#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 600
#define N_TEST 300
#define N_CLASSES 3

static int fail(const char *what) {
    fprintf(stderr, "training_loop: %s failed: %s\n", what, dc_last_error());
    return 1;
}

/* Points around three centres with unit noise: (n, 2) f32 and (n) i64. */
static void make_data(dc_rng *rng, int64_t n, dc_tensor **x, dc_tensor **y) {
    static const double centres[N_CLASSES][2] = {{0, 3}, {2.6, -1.5}, {-2.6, -1.5}};
    dc_tensor *noise = dc_rand_normal(rng, DC_F32, 2, (int64_t[]){n, 2}, 0, 1);
    float *xs = malloc((size_t)n * 2 * sizeof *xs);
    int64_t *ys = malloc((size_t)n * sizeof *ys);
    dc_copy_to(noise, DC_F32, xs, (size_t)n * 2 * sizeof *xs);
    for (int64_t i = 0; i < n; i++) {
        ys[i] = i % N_CLASSES;
        xs[2 * i] += (float)centres[ys[i]][0];
        xs[2 * i + 1] += (float)centres[ys[i]][1];
    }
    *x = dc_from_data(DC_F32, 2, (int64_t[]){n, 2}, xs);
    *y = dc_from_data(DC_I64, 1, (int64_t[]){n}, ys);
    dc_release(noise);
    free(xs);
    free(ys);
}

/* Accuracy of the model on (x, y), in eval mode and without recording. */
static double evaluate(dc_module *model, dc_tensor *x, dc_tensor *y) {
    dc_module_set_training(model, 0);
    int prev = dc_set_grad_enabled(0);
    dc_scope *s = dc_scope_begin();
    double acc = -1;
    dc_tensor *pred = dc_argmax(dc_module_forward(model, x), 1, 0);
    if (dc_metric_accuracy(pred, y, &acc) != DC_OK) acc = -1;
    dc_scope_end(s);
    dc_set_grad_enabled(prev);
    dc_module_set_training(model, 1);
    return acc;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 20;
    dc_rng *rng = dc_rng_new(7);
    dc_tensor *x_train, *y_train, *x_test, *y_test;
    make_data(rng, N_TRAIN, &x_train, &y_train);
    make_data(rng, N_TEST, &x_test, &y_test);

    /* The model: Linear(2, 32) - ReLU - Dropout(0.1) - Linear(32, 3). */
    dc_module *model = dc_sequential_new();
    dc_module *layers[4] = {dc_linear_new(2, 32, 1, rng), dc_activation_new(DC_ACT_RELU, 0),
                            dc_dropout_new(0.1), dc_linear_new(32, N_CLASSES, 1, rng)};
    for (int i = 0; i < 4; i++) {
        if (dc_sequential_append(model, layers[i]) != DC_OK) return fail("building the model");
        dc_module_release(layers[i]);   /* the container holds its own reference */
    }

    /* The optimizer takes the trainable parameters. */
    int64_t n_params = dc_module_param_count(model);
    dc_tensor *params[8];
    for (int64_t i = 0; i < n_params; i++) params[i] = dc_module_param(model, i);
    dc_optim *opt = dc_adamw_new(params, (int)n_params, 0.01, 0.9, 0.999, 1e-8, 0.01, 0);
    dc_loss *loss_fn = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loader *loader = dc_loader_new(x_train, y_train, 32, 1, 0, 1234);
    if (!opt || !loss_fn || !loader) return fail("setting up");

    /* Warm up for one epoch, then cosine decay. */
    int64_t per_epoch = dc_loader_num_batches(loader);
    dc_sched *warm = dc_sched_linear_new(opt, 0.1, 1.0, per_epoch);
    dc_sched *cosine = dc_sched_cosine_new(opt, per_epoch * (epochs - 1), 1e-4);
    dc_sched *sched = dc_sched_sequential_new(opt, (dc_sched *[]){warm, cosine}, 2,
                                              (int64_t[]){per_epoch});
    dc_sched_release(warm);
    dc_sched_release(cosine);
    if (!sched) return fail("the schedule");

    for (int epoch = 1; epoch <= epochs; epoch++) {
        dc_loader_reset(loader);
        double total = 0;
        int batches = 0;
        dc_tensor *xb, *yb;
        int more;
        for (;;) {
            dc_scope *step = dc_scope_begin();   /* owns the batch and all the step makes */
            if ((more = dc_loader_next(loader, &xb, &yb)) != 1) {
                dc_scope_end(step);
                break;
            }
            dc_tensor *loss = dc_loss_forward(loss_fn, dc_module_forward(model, xb), yb);
            double value;
            if (!loss || dc_item(loss, &value) != DC_OK) return fail("forward");
            if (dc_optim_zero_grad(opt) != DC_OK || dc_backward(loss, NULL, 0) != DC_OK ||
                dc_clip_grad_norm(params, (int)n_params, 1.0, 2.0, NULL) != DC_OK ||
                dc_optim_step(opt) != DC_OK || dc_sched_step(sched) != DC_OK)
                return fail("training step");
            dc_scope_end(step);
            total += value;
            batches++;
        }
        if (more < 0) return fail("batching");
        if (epoch % 5 == 0 || epoch == 1)
            printf("epoch %2d  loss %.4f  lr %.5f  test accuracy %.1f%%\n", epoch,
                   total / batches, dc_optim_get_lr(opt, 0),
                   100 * evaluate(model, x_test, y_test));
    }
    double acc = evaluate(model, x_test, y_test);
    if (dc_checkpoint_save("training_loop.ckpt", model, opt, sched, rng, epochs) != DC_OK)
        return fail("saving the checkpoint");
    printf("final test accuracy %.1f%%; checkpoint in training_loop.ckpt\n", 100 * acc);

    for (int64_t i = 0; i < n_params; i++) dc_release(params[i]);
    dc_sched_release(sched);
    dc_loader_release(loader);
    dc_loss_release(loss_fn);
    dc_optim_release(opt);
    dc_module_release(model);
    dc_release(x_train);
    dc_release(y_train);
    dc_release(x_test);
    dc_release(y_test);
    dc_rng_free(rng);
    return acc > 0.9 ? 0 : 2;
}
