/* Training-step benchmark: the time of whole training steps (zero_grad,
 * forward, loss, backward, optimizer step) of five small workloads, for
 * comparison with the PyTorch twin bench/torch/train_twin.py, which builds
 * the same models with the same shapes, batch, optimizer and data shape.
 *
 *   ./build/bench/train [--workload mlp|lenet|gpt|lstm|tiny|all]
 *                       [--steps N] [--warmup N] [--threads N] [--quick]
 *                       [--seed S]
 *
 * Workloads:
 *   mlp    MLP 784-256-256-10 (ReLU), batch 128, cross-entropy, Adam
 *   lenet  LeNet-5 on 1x28x28, batch 64, cross-entropy, Adam
 *   gpt    char GPT: 4 layers, d_model 128, 4 heads, context 64, vocab 86,
 *          batch 32, next-token cross-entropy, AdamW (no dropout)
 *   lstm   LSTM 64 -> 128 (batch first), seq 32, batch 32, a Linear head
 *          128 -> 64 on every step, MSE, Adam
 *   tiny   MLP 10-10-10 (ReLU), batch 1, cross-entropy, SGD
 *
 * The data are random, made once before timing. Each workload prints one
 * line (the twin prints the same format):
 *
 *   workload=mlp impl=deepcore threads=2 steps=200 mean_ms=... median_ms=...
 *       min_ms=... loss0=... loss=...
 *
 * bench/run_train.sh runs each workload in its own process under
 * /usr/bin/time -v, which adds the peak RSS. --threads sets the library's
 * pool (dc_set_num_threads); without it the library default is used. */
#include <deepcore/deepcore.h>
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    const char *workload;
    long steps;        /* 0: the workload's default */
    long warmup;       /* -1: the workload's default */
    int threads;       /* -1: the library default */
    int quick;
    unsigned long long seed;
} options;

/* One workload, ready to step. */
typedef struct bench {
    dc_module *model;      /* the whole model (or the trunk, for lstm) */
    dc_module *head;       /* lstm: the Linear head; else NULL */
    dc_loss *loss;
    dc_optim *opt;
    dc_tensor *x, *y;      /* one batch, reused every step */
    int flatten_logits;    /* gpt: (B, T, V) -> (B * T, V) before the loss */
} bench;

typedef struct workload {
    const char *name;
    long steps, warmup;
    dc_status (*make)(bench *b, dc_rng *rng);
} workload;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "train: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

/* ---------------------------------------------------------------- */
/* Data and optimizers                                               */
/* ---------------------------------------------------------------- */

/* Random class indices 0..classes-1 (i64) of the given shape. */
static dc_tensor *random_labels(dc_rng *rng, int ndim, const int64_t *shape, int64_t classes) {
    dc_tensor *u = dc_rand_uniform(rng, DC_F64, ndim, shape, 0.0, (double)classes);
    if (!u) return NULL;
    dc_tensor *labels = dc_cast(u, DC_I64);   /* truncation: 0..classes-1 */
    dc_release(u);
    return labels;
}

/* The model's trainable parameters, for an optimizer. Returns a malloc'd
 * array of n new references (the caller releases them and frees it). */
static dc_tensor **collect_params(dc_module *const *mods, int n_mods, int *n_out) {
    int64_t n = 0;
    for (int i = 0; i < n_mods; i++) n += dc_module_param_count(mods[i]);
    dc_tensor **p = calloc((size_t)n, sizeof *p);
    if (!p) return NULL;
    int64_t k = 0;
    for (int i = 0; i < n_mods; i++)
        for (int64_t j = 0; j < dc_module_param_count(mods[i]); j++)
            p[k++] = dc_module_param(mods[i], j);
    *n_out = (int)n;
    return p;
}

enum opt_kind { OPT_ADAM, OPT_ADAMW, OPT_SGD };

static dc_status make_optimizer(bench *b, enum opt_kind kind) {
    dc_module *mods[2] = {b->model, b->head};
    int n = 0;
    dc_tensor **p = collect_params(mods, b->head ? 2 : 1, &n);
    if (!p) return DC_E_NOMEM;
    /* PyTorch's defaults: Adam(lr 1e-3), AdamW(lr 1e-3, wd 0.01), SGD 0.01. */
    if (kind == OPT_ADAM) b->opt = dc_adam_new(p, n, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0);
    else if (kind == OPT_ADAMW) b->opt = dc_adamw_new(p, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0);
    else b->opt = dc_sgd_new(p, n, 0.01, 0.0, 0.0, 0.0, 0);
    for (int i = 0; i < n; i++) dc_release(p[i]);
    free(p);
    return b->opt ? DC_OK : dc_last_status();
}

/* ---------------------------------------------------------------- */
/* Workloads                                                         */
/* ---------------------------------------------------------------- */

static dc_status make_mlp(bench *b, dc_rng *rng) {
    const int64_t sizes[4] = {784, 256, 256, 10};
    b->model = dc_zoo_mlp_new(sizes, 4, DC_ACT_RELU, 0.0, rng);
    b->loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    b->x = dc_rand_normal(rng, DC_F32, 2, (const int64_t[]){128, 784}, 0.0, 1.0);
    b->y = random_labels(rng, 1, (const int64_t[]){128}, 10);
    if (!b->model || !b->loss || !b->x || !b->y) return dc_last_status();
    return make_optimizer(b, OPT_ADAM);
}

static dc_status make_lenet(bench *b, dc_rng *rng) {
    b->model = dc_zoo_lenet5_new(1, 10, rng);
    b->loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    b->x = dc_rand_normal(rng, DC_F32, 4, (const int64_t[]){64, 1, 28, 28}, 0.0, 1.0);
    b->y = random_labels(rng, 1, (const int64_t[]){64}, 10);
    if (!b->model || !b->loss || !b->x || !b->y) return dc_last_status();
    return make_optimizer(b, OPT_ADAM);
}

static dc_status make_gpt(bench *b, dc_rng *rng) {
    enum { VOCAB = 86, CONTEXT = 64, LAYERS = 4, HEADS = 4, D = 128, BATCH = 32 };
    b->model = dc_zoo_gpt_new(VOCAB, CONTEXT, LAYERS, HEADS, D, 0.0, rng);
    b->loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    const int64_t tok_shape[2] = {BATCH, CONTEXT};
    const int64_t flat_shape[1] = {BATCH * CONTEXT};
    b->x = random_labels(rng, 2, tok_shape, VOCAB);
    b->y = random_labels(rng, 1, flat_shape, VOCAB);
    b->flatten_logits = 1;
    if (!b->model || !b->loss || !b->x || !b->y) return dc_last_status();
    return make_optimizer(b, OPT_ADAMW);
}

static dc_status make_lstm(bench *b, dc_rng *rng) {
    enum { IN = 64, HIDDEN = 128, SEQ = 32, BATCH = 32 };
    b->model = dc_rnn_new(DC_RNN_LSTM, IN, HIDDEN, 1, 1, 1, rng);
    b->head = dc_linear_new(HIDDEN, IN, 1, rng);
    b->loss = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    b->x = dc_rand_normal(rng, DC_F32, 3, (const int64_t[]){BATCH, SEQ, IN}, 0.0, 1.0);
    b->y = dc_rand_normal(rng, DC_F32, 3, (const int64_t[]){BATCH, SEQ, IN}, 0.0, 1.0);
    if (!b->model || !b->head || !b->loss || !b->x || !b->y) return dc_last_status();
    return make_optimizer(b, OPT_ADAM);
}

static dc_status make_tiny(bench *b, dc_rng *rng) {
    const int64_t sizes[3] = {10, 10, 10};
    b->model = dc_zoo_mlp_new(sizes, 3, DC_ACT_RELU, 0.0, rng);
    b->loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    b->x = dc_rand_normal(rng, DC_F32, 2, (const int64_t[]){1, 10}, 0.0, 1.0);
    b->y = random_labels(rng, 1, (const int64_t[]){1}, 10);
    if (!b->model || !b->loss || !b->x || !b->y) return dc_last_status();
    return make_optimizer(b, OPT_SGD);
}

static const workload WORKLOADS[] = {
    {"mlp", 300, 20, make_mlp},
    {"lenet", 200, 10, make_lenet},
    {"gpt", 20, 3, make_gpt},
    {"lstm", 60, 5, make_lstm},
    {"tiny", 5000, 200, make_tiny},
};
#define N_WORKLOADS (int)(sizeof WORKLOADS / sizeof WORKLOADS[0])

static void bench_free(bench *b) {
    dc_optim_release(b->opt);
    dc_loss_release(b->loss);
    dc_module_release(b->head);
    dc_module_release(b->model);
    dc_release(b->x);
    dc_release(b->y);
}

/* ---------------------------------------------------------------- */
/* One step and the timing loop                                      */
/* ---------------------------------------------------------------- */

/* zero_grad, forward, loss, backward, step; the loss value to *loss. All
 * intermediates belong to one scope, dropped at the end of the step. */
static dc_status train_step(bench *b, double *loss_value) {
    dc_scope *scope = dc_scope_begin();
    if (!scope) return dc_last_status();
    dc_status st = dc_optim_zero_grad(b->opt);
    dc_tensor *out = dc_module_forward(b->model, b->x);
    if (b->head) out = dc_module_forward(b->head, out);
    if (b->flatten_logits && out) out = dc_reshape(out, 2, (const int64_t[]){-1, dc_size(out, -1)});
    dc_tensor *loss = dc_loss_forward(b->loss, out, b->y);
    if (st == DC_OK) st = loss ? dc_backward(loss, NULL, 0) : dc_last_status();
    if (st == DC_OK) st = dc_optim_step(b->opt);
    if (st == DC_OK) st = dc_item(loss, loss_value);
    dc_scope_end(scope);
    return st;
}

static int run_workload(const workload *w, const options *o) {
    long steps = o->steps > 0 ? o->steps : w->steps;
    long warmup = o->warmup >= 0 ? o->warmup : w->warmup;
    if (o->quick && o->steps <= 0) steps = steps / 5 > 3 ? steps / 5 : 3;
    if (o->quick && o->warmup < 0) warmup = warmup / 2 > 1 ? warmup / 2 : 1;
    dc_rng *rng = dc_rng_new(o->seed);
    if (!rng) return fail("dc_rng_new");
    bench b = {0};
    dc_status st = w->make(&b, rng);
    double *ms = calloc((size_t)steps, sizeof *ms);
    double loss0 = 0.0, loss = 0.0;
    if (st == DC_OK && !ms) st = DC_E_NOMEM;
    for (long i = 0; st == DC_OK && i < warmup; i++)
        st = train_step(&b, i == 0 ? &loss0 : &loss);
    for (long i = 0; st == DC_OK && i < steps; i++) {
        double t0 = now_ms();
        st = train_step(&b, &loss);
        ms[i] = now_ms() - t0;
    }
    int rc = 0;
    if (st != DC_OK) {
        rc = fail(w->name);
    } else {
        double sum = 0.0;
        for (long i = 0; i < steps; i++) sum += ms[i];
        double median = bench_median(ms, (size_t)steps);   /* sorts: ms[0] is the least */
        printf("workload=%s impl=deepcore threads=%d steps=%ld mean_ms=%.4f median_ms=%.4f "
               "min_ms=%.4f loss0=%.5f loss=%.5f\n",
               w->name, dc_get_num_threads(), steps, sum / (double)steps, median, ms[0], loss0,
               loss);
        fflush(stdout);
    }
    free(ms);
    bench_free(&b);
    dc_rng_free(rng);
    return rc;
}

/* ---------------------------------------------------------------- */
/* Command line                                                      */
/* ---------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: train [--workload mlp|lenet|gpt|lstm|tiny|all] [--steps N] "
                    "[--warmup N] [--threads N] [--quick] [--seed S]\n");
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){"all", 0, -1, -1, 0, 1234};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) { o->quick = 1; continue; }
        if (!v) { usage(); return 1; }
        if (strcmp(a, "--workload") == 0) o->workload = v;
        else if (strcmp(a, "--steps") == 0) o->steps = atol(v);
        else if (strcmp(a, "--warmup") == 0) o->warmup = atol(v);
        else if (strcmp(a, "--threads") == 0) o->threads = atoi(v);
        else if (strcmp(a, "--seed") == 0) o->seed = strtoull(v, NULL, 10);
        else { usage(); return 1; }
        i++;
    }
    return 0;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) return 2;
    if (o.threads >= 0 && dc_set_num_threads(o.threads) != DC_OK)
        return fail("dc_set_num_threads");
    int found = 0, rc = 0;
    for (int i = 0; i < N_WORKLOADS; i++) {
        if (strcmp(o.workload, "all") != 0 && strcmp(o.workload, WORKLOADS[i].name) != 0)
            continue;
        found = 1;
        rc |= run_workload(&WORKLOADS[i], &o);
    }
    if (!found) {
        fprintf(stderr, "train: no workload named '%s'\n", o.workload);
        usage();
        return 2;
    }
    return rc;
}
