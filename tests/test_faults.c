/* Out-of-memory injection over whole training operations.
 *
 * Each scenario runs one operation (a forward pass, a backward, an
 * optimizer step, a convolution, an LSTM, saving and loading a module or a
 * checkpoint, the forward and backward of every kind of layer) with the
 * 1st, 2nd, ... allocation of the library failing, and checks
 * after every failure that
 *   - the operation reported DC_E_NOMEM and freed what it had made;
 *   - the long-lived objects (model, optimizer, files) are as they were:
 *     no half-applied optimizer step, no half-loaded module, no broken file;
 *   - the same operation, run again with a working allocator, succeeds and
 *     gives the same numbers as a run that never failed.
 *
 * The model and optimizer must exist before the failing region, while
 * dc_set_allocator refuses to change the allocator when library objects
 * are alive (tu_fail_each_allocation swaps it around each run). So these
 * scenarios install one counting allocator for the whole test and arm it
 * for the operation only. tu_fail_each_allocation covers the complementary
 * case: a whole training step built from nothing inside the failing region
 * (constructors included). */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SH(...) ((const int64_t[]){__VA_ARGS__})

/* ------------------------------------------------------------------ */
/* An allocator that fails its N-th allocation once armed              */
/* ------------------------------------------------------------------ */

typedef struct armed_alloc {
    long fail_at;   /* 0: never fail */
    long calls;     /* allocations since armed */
    long live;      /* blocks made through it and not yet freed */
    bool failed;    /* the armed failure happened */
} armed_alloc;

static armed_alloc g_alloc;

static bool should_fail(void) {
    if (g_alloc.fail_at == 0) return false;
    if (++g_alloc.calls != g_alloc.fail_at) return false;
    g_alloc.failed = true;
    return true;
}

static void *armed_malloc(size_t n, void *ctx) {
    (void)ctx;
    if (should_fail()) return NULL;
    void *p = malloc(n);
    if (p) g_alloc.live++;
    return p;
}

static void *armed_realloc(void *p, size_t n, void *ctx) {
    (void)ctx;
    if (should_fail()) return NULL;
    return realloc(p, n);
}

static void armed_free(void *p, void *ctx) {
    (void)ctx;
    g_alloc.live--;
    free(p);
}

static void install_allocator(void) {
    memset(&g_alloc, 0, sizeof g_alloc);
    TU_OK(dc_set_allocator(armed_malloc, armed_realloc, armed_free, NULL));
    /* one thread: the order of allocations is the same on every run */
    TU_OK(dc_set_num_threads(1));
}

static void remove_allocator(void) {
    ck_assert_int_eq(g_alloc.live, 0);
    TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
}

static void arm(long n) {
    g_alloc.fail_at = n;
    g_alloc.calls = 0;
    g_alloc.failed = false;
}

static void disarm(void) { g_alloc.fail_at = 0; }

/* ------------------------------------------------------------------ */
/* The driver                                                          */
/* ------------------------------------------------------------------ */

/* Numbers an operation produced or a state holds, compared exactly: the
 * same code on the same data must give the same bits. */
typedef struct numbers {
    double *v;
    size_t n, cap;
} numbers;

static void nums_clear(numbers *x) { x->n = 0; }

static void nums_free(numbers *x) {
    free(x->v);
    memset(x, 0, sizeof *x);
}

static void nums_add_tensor(numbers *x, const dc_tensor *t) {
    ck_assert_msg(t != NULL, "NULL tensor: %s", dc_last_error());
    size_t n = (size_t)dc_numel(t);
    if (x->n + n > x->cap) {
        x->cap = 2 * (x->n + n) + 16;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
        ck_assert_ptr_nonnull(x->v);
    }
    TU_OK(dc_copy_to(t, DC_F64, x->v + x->n, n * sizeof *x->v));
    x->n += n;
}

static void nums_add(numbers *x, double v) {
    if (x->n + 1 > x->cap) {
        x->cap = 2 * x->n + 16;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
        ck_assert_ptr_nonnull(x->v);
    }
    x->v[x->n++] = v;
}

static void nums_assert_equal(const numbers *got, const numbers *want, const char *what,
                              long run) {
    ck_assert_msg(got->n == want->n, "%s after failing allocation %ld: %zu numbers, wanted %zu",
                  what, run, got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        bool same = got->v[i] == want->v[i] || (isnan(got->v[i]) && isnan(want->v[i]));
        ck_assert_msg(same, "%s after failing allocation %ld: number %zu is %.17g, wanted %.17g",
                      what, run, i, got->v[i], want->v[i]);
    }
}

/* One scenario: long-lived state and an operation on it. */
typedef struct scenario {
    void *state;
    /* Before each run, with a working allocator (may be NULL). */
    void (*prepare)(void *state);
    /* The operation, run inside a scope of the driver; returns success.
     * Keeps what it produced in the state (the scope owns the tensors). */
    bool (*op)(void *state);
    /* After a successful run, with a working allocator: appends the
     * numbers the run produced. */
    void (*results)(void *state, numbers *out);
    /* Appends what the long-lived state holds (parameters, optimizer
     * state, file contents): a failed run must leave it unchanged. */
    void (*snapshot)(void *state, numbers *out);
    /* After a failed run, before any check (may be NULL): clears what a
     * failure may legitimately leave behind (see backward). */
    void (*after_failure)(void *state);
    /* After a successful run: puts the state back as it was (may be NULL
     * when the operation changes no state). */
    void (*reset)(void *state);
} scenario;

/* Runs the operation once; with the allocator armed to fail at
 * allocation n when n > 0. Appends the results of a successful run. */
static bool run_once(const scenario *sc, long n, numbers *out) {
    nums_clear(out);
    if (sc->prepare) sc->prepare(sc->state);
    dc_clear_error();
    dc_scope *s = dc_scope_begin();
    ck_assert_ptr_nonnull(s);
    if (n > 0) arm(n);
    bool ok = sc->op(sc->state);
    disarm();
    dc_status st = dc_last_status();
    if (ok) sc->results(sc->state, out);
    TU_OK(dc_scope_end(s));
    if (!ok)
        ck_assert_msg(n > 0 && st == DC_E_NOMEM,
                      "failing allocation %ld gave %s (%s), not out of memory", n,
                      dc_status_str(st), dc_last_error());
    return ok;
}

static void take_snapshot(const scenario *sc, numbers *out) {
    nums_clear(out);
    dc_scope *s = dc_scope_begin();
    sc->snapshot(sc->state, out);
    TU_OK(dc_scope_end(s));
}

static void check_live(int64_t want, long n, const char *when) {
    ck_assert_msg(dc_live_allocations() == want,
                  "failing allocation %ld, %s: %lld library blocks alive, %lld before", n, when,
                  (long long)dc_live_allocations(), (long long)want);
}

/* Fails each allocation of the operation in turn (n = 1, 2, ... until a
 * run makes fewer than n allocations). Returns the number of runs. */
static long fail_each(const scenario *sc, long max_runs) {
    numbers want = {0}, before = {0}, got = {0}, after = {0};
    /* the reference: a run that never failed */
    take_snapshot(sc, &before);
    int64_t live0 = dc_live_allocations();
    ck_assert_msg(run_once(sc, 0, &want), "the operation failed without injected failures: %s",
                  dc_last_error());
    if (sc->reset) sc->reset(sc->state);
    check_live(live0, 0, "after the reference run");
    long n = 1;
    for (;; n++) {
        ck_assert_msg(n <= max_runs, "still failing after %ld allocations", max_runs);
        bool ok = run_once(sc, n, &got);
        bool injected = g_alloc.failed;
        if (ok) {
            /* the run survived (or never reached) the failure: its numbers
             * must still be right */
            nums_assert_equal(&got, &want, "a run that succeeded", n);
            if (sc->reset) sc->reset(sc->state);
            check_live(live0, n, "after a successful run");
            if (!injected) break;
            continue;
        }
        if (sc->after_failure) sc->after_failure(sc->state);
        /* nothing leaked, the state is as it was before the failed run ... */
        check_live(live0, n, "after the failure");
        take_snapshot(sc, &after);
        nums_assert_equal(&after, &before, "the state", n);
        /* ... and the operation works again, giving the same numbers */
        ck_assert_msg(run_once(sc, 0, &got), "failing allocation %ld: the rerun failed: %s", n,
                      dc_last_error());
        nums_assert_equal(&got, &want, "a clean rerun", n);
        if (sc->reset) sc->reset(sc->state);
        check_live(live0, n, "after the rerun");
    }
    nums_free(&want);
    nums_free(&before);
    nums_free(&got);
    nums_free(&after);
    return n;
}

/* ------------------------------------------------------------------ */
/* Helpers for models                                                  */
/* ------------------------------------------------------------------ */

static dc_tensor *seeded(dc_rng *rng, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_rand_normal(rng, DC_F32, ndim, shape, 0.0, 1.0);
    TU_NOTNULL(t);
    return t;
}

/* Appends every parameter (and buffer) of m. */
static void add_module_state(numbers *out, dc_module *m) {
    int64_t n = dc_module_state_count(m);
    ck_assert_int_ge(n, 1);
    for (int64_t i = 0; i < n; i++) nums_add_tensor(out, dc_module_state_tensor(m, i));
}

/* Appends the gradient of every parameter of m (NaN marks a missing one). */
static void add_module_grads(numbers *out, dc_module *m) {
    int64_t n = dc_module_param_count(m);
    for (int64_t i = 0; i < n; i++) {
        dc_tensor *p = dc_module_param(m, i);
        TU_NOTNULL(p);
        if (dc_requires_grad(p) == 1 && dc_grad(p) == NULL) {
            dc_clear_error();
            nums_add(out, NAN);
            continue;
        }
        nums_add_tensor(out, dc_grad(p));
    }
}

static void zero_module_grads(dc_module *m) {
    int64_t n = dc_module_param_count(m);
    dc_scope *s = dc_scope_begin();
    for (int64_t i = 0; i < n; i++) TU_OK(dc_zero_grad(dc_module_param(m, i)));
    TU_OK(dc_scope_end(s));
}

/* A small MLP: Linear(4, 8) - tanh - Linear(8, 3), with an MSE loss and
 * a fixed batch. */
typedef struct mlp_state {
    dc_module *model;
    dc_loss *loss;
    dc_tensor *x, *y;
    dc_optim *opt;
    dc_tensor **params;
    int n_params;
    dc_tensor *out, *l;   /* the last forward's (its scope's) */
} mlp_state;

static void mlp_init(mlp_state *st) {
    memset(st, 0, sizeof *st);
    dc_rng *rng = dc_rng_new(11);
    ck_assert_ptr_nonnull(rng);
    st->model = dc_sequential_new();
    ck_assert_ptr_nonnull(st->model);
    dc_module *l1 = dc_linear_new(4, 8, 1, rng), *act = dc_activation_new(DC_ACT_TANH, 0);
    dc_module *l2 = dc_linear_new(8, 3, 1, rng);
    ck_assert(l1 && act && l2);
    TU_OK(dc_sequential_append(st->model, l1));
    TU_OK(dc_sequential_append(st->model, act));
    TU_OK(dc_sequential_append(st->model, l2));
    dc_module_release(l1);
    dc_module_release(act);
    dc_module_release(l2);
    st->loss = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(st->loss);
    st->x = seeded(rng, 2, SH(5, 4));
    st->y = seeded(rng, 2, SH(5, 3));
    dc_rng_free(rng);
    st->n_params = (int)dc_module_param_count(st->model);
    st->params = calloc((size_t)st->n_params, sizeof *st->params);
    ck_assert_ptr_nonnull(st->params);
    for (int i = 0; i < st->n_params; i++) {
        st->params[i] = dc_module_param(st->model, i);
        TU_NOTNULL(st->params[i]);
    }
}

static void mlp_free(mlp_state *st) {
    dc_optim_release(st->opt);
    for (int i = 0; i < st->n_params; i++) dc_release(st->params[i]);
    free(st->params);
    dc_release(st->x);
    dc_release(st->y);
    dc_loss_release(st->loss);
    dc_module_release(st->model);
}

/* The loss of the batch (recorded when a parameter requires grad). */
static dc_tensor *mlp_loss(mlp_state *st) {
    return dc_loss_forward(st->loss, dc_module_forward(st->model, st->x), st->y);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */
/* ------------------------------------------------------------------ */

/* Forward: the model's output and loss, with recording on. */
static bool mlp_forward_op(void *arg) {
    mlp_state *st = arg;
    st->out = dc_module_forward(st->model, st->x);
    st->l = dc_loss_forward(st->loss, st->out, st->y);
    return st->l != NULL;
}

static void mlp_forward_results(void *arg, numbers *out) {
    mlp_state *st = arg;
    nums_add_tensor(out, st->out);
    nums_add_tensor(out, st->l);
}

static void mlp_snapshot(void *arg, numbers *out) {
    mlp_state *st = arg;
    add_module_state(out, st->model);
    add_module_grads(out, st->model);
}

START_TEST(forward_pass_survives_each_failure) {
    install_allocator();
    mlp_state st;
    mlp_init(&st);
    scenario sc = {&st, NULL, mlp_forward_op, mlp_forward_results, mlp_snapshot, NULL, NULL};
    ck_assert_int_gt(fail_each(&sc, 500), 5);
    mlp_free(&st);
    remove_allocator();
}
END_TEST

/* Backward: the gradients of every parameter, from none. A backward that
 * fails part-way may already have added into some leaves' gradients (they
 * are accumulated node by node), so after a failure the gradients are
 * dropped, as a caller retrying the step does (doc/reliability.md). The
 * parameters themselves must not change. */
static bool mlp_backward_op(void *arg) {
    mlp_state *st = arg;
    dc_tensor *l = mlp_loss(st);
    return l && dc_backward(l, NULL, 0) == DC_OK;
}

static void mlp_grads_results(void *arg, numbers *out) {
    add_module_grads(out, ((mlp_state *)arg)->model);
}

static void mlp_drop_grads(void *arg) { zero_module_grads(((mlp_state *)arg)->model); }

static void mlp_params_snapshot(void *arg, numbers *out) {
    add_module_state(out, ((mlp_state *)arg)->model);
}

START_TEST(backward_survives_each_failure) {
    install_allocator();
    mlp_state st;
    mlp_init(&st);
    scenario sc = {&st,           mlp_drop_grads,      mlp_backward_op, mlp_grads_results,
                   mlp_params_snapshot, mlp_drop_grads, mlp_drop_grads};
    ck_assert_int_gt(fail_each(&sc, 1000), 10);
    mlp_free(&st);
    remove_allocator();
}
END_TEST

/* Optimizer step: AdamW with amsgrad over the MLP, gradients computed once
 * outside the failing region. A failed step must change no parameter and
 * no optimizer state (exp_avg, exp_avg_sq, max_exp_avg_sq, step). */
typedef struct step_state {
    mlp_state m;
    numbers params0, optim0;   /* what reset restores */
    int64_t optim_entries0;
} step_state;

static void add_optim_state(numbers *out, dc_optim *opt) {
    int64_t n = dc_optim_state_count(opt);
    nums_add(out, (double)n);
    for (int64_t i = 0; i < n; i++) nums_add_tensor(out, dc_optim_state_tensor(opt, i));
}

static void step_snapshot(void *arg, numbers *out) {
    step_state *s = arg;
    add_module_state(out, s->m.model);
    add_optim_state(out, s->m.opt);
}

static bool step_op(void *arg) {
    step_state *s = arg;
    return dc_optim_step(s->m.opt) == DC_OK;
}

static dc_optim *mlp_optimizer(mlp_state *m) {
    dc_optim *o = dc_adamw_new(m->params, m->n_params, 0.01, 0.9, 0.999, 1e-8, 0.01, 1);
    ck_assert_msg(o != NULL, "%s", dc_last_error());
    return o;
}

/* Writes numbers back into a tensor list (live references). */
static size_t restore(dc_tensor *t, const numbers *from, size_t off) {
    size_t n = (size_t)dc_numel(t);
    ck_assert_uint_le(off + n, from->n);
    TU_OK(dc_copy_from(t, DC_F64, from->v + off, n * sizeof(double)));
    return off + n;
}

/* Puts parameters and optimizer state back as they were; state entries
 * made by a first step go by rebuilding the optimizer. */
static void step_reset(void *arg) {
    step_state *s = arg;
    dc_scope *sc = dc_scope_begin();
    size_t off = 0;
    for (int64_t i = 0; i < dc_module_state_count(s->m.model); i++)
        off = restore(dc_module_state_tensor(s->m.model, i), &s->params0, off);
    if (s->optim_entries0 == 0) {
        dc_optim_release(s->m.opt);
        s->m.opt = mlp_optimizer(&s->m);
    } else {
        off = 1;   /* after the entry count */
        for (int64_t i = 0; i < dc_optim_state_count(s->m.opt); i++)
            off = restore(dc_optim_state_tensor(s->m.opt, i), &s->optim0, off);
    }
    TU_OK(dc_scope_end(sc));
}

static void step_setup(step_state *s, int steps_before) {
    memset(s, 0, sizeof *s);
    mlp_init(&s->m);
    s->m.opt = mlp_optimizer(&s->m);
    dc_scope *sc = dc_scope_begin();
    TU_OK(dc_backward(mlp_loss(&s->m), NULL, 0));
    for (int i = 0; i < steps_before; i++) TU_OK(dc_optim_step(s->m.opt));
    TU_OK(dc_scope_end(sc));
    s->optim_entries0 = dc_optim_state_count(s->m.opt);
    sc = dc_scope_begin();
    add_module_state(&s->params0, s->m.model);
    add_optim_state(&s->optim0, s->m.opt);
    TU_OK(dc_scope_end(sc));
}

static void step_free(step_state *s) {
    nums_free(&s->params0);
    nums_free(&s->optim0);
    mlp_free(&s->m);
}

START_TEST(first_optimizer_step_is_all_or_nothing) {
    install_allocator();
    step_state s;
    step_setup(&s, 0);
    ck_assert_int_eq(s.optim_entries0, 0);
    scenario sc = {&s, NULL, step_op, step_snapshot, step_snapshot, NULL, step_reset};
    ck_assert_int_gt(fail_each(&sc, 500), 2);
    step_free(&s);
    remove_allocator();
}
END_TEST

START_TEST(later_optimizer_step_is_all_or_nothing) {
    install_allocator();
    step_state s;
    step_setup(&s, 2);
    ck_assert_int_gt(s.optim_entries0, 0);
    scenario sc = {&s, NULL, step_op, step_snapshot, step_snapshot, NULL, step_reset};
    ck_assert_int_gt(fail_each(&sc, 500), 1);
    step_free(&s);
    remove_allocator();
}
END_TEST

/* conv2d, ReLU, max and average pooling, forward and backward, through
 * the ops (the weights are plain leaf tensors). */
typedef struct conv_state {
    dc_tensor *x, *w, *b;
    dc_tensor *p;   /* the pooled output of the last run (its scope's) */
} conv_state;

static void conv_drop_grads(void *arg) {
    conv_state *s = arg;
    TU_OK(dc_zero_grad(s->x));
    TU_OK(dc_zero_grad(s->w));
    TU_OK(dc_zero_grad(s->b));
}

static bool conv_op(void *arg) {
    conv_state *s = arg;
    const int64_t k[2] = {2, 2}, pad[2] = {1, 1};
    dc_tensor *y = dc_conv2d(s->x, s->w, s->b, NULL, pad, NULL, 1);
    s->p = dc_max_pool2d(dc_relu(y), k, NULL, NULL);
    dc_tensor *a = dc_avg_pool2d(y, k, NULL, NULL, 1);
    dc_tensor *l = dc_add(dc_sum(dc_square(s->p), NULL, 0, 0), dc_mean(a, NULL, 0, 0));
    return l && dc_backward(l, NULL, 0) == DC_OK;
}

static void conv_results(void *arg, numbers *out) {
    conv_state *s = arg;
    nums_add_tensor(out, s->p);
    nums_add_tensor(out, dc_grad(s->x));
    nums_add_tensor(out, dc_grad(s->w));
    nums_add_tensor(out, dc_grad(s->b));
}

static void conv_snapshot(void *arg, numbers *out) {
    conv_state *s = arg;
    nums_add_tensor(out, s->x);
    nums_add_tensor(out, s->w);
    nums_add_tensor(out, s->b);
}

START_TEST(conv_pool_forward_backward_survive_each_failure) {
    install_allocator();
    dc_rng *rng = dc_rng_new(5);
    conv_state s = {seeded(rng, 4, SH(2, 3, 6, 6)), seeded(rng, 4, SH(4, 3, 3, 3)),
                    seeded(rng, 1, SH(4)), NULL};
    dc_rng_free(rng);
    TU_OK(dc_set_requires_grad(s.x, 1));
    TU_OK(dc_set_requires_grad(s.w, 1));
    TU_OK(dc_set_requires_grad(s.b, 1));
    scenario sc = {&s,           conv_drop_grads, conv_op,        conv_results,
                   conv_snapshot, conv_drop_grads, conv_drop_grads};
    ck_assert_int_gt(fail_each(&sc, 2000), 10);
    dc_release(s.x);
    dc_release(s.w);
    dc_release(s.b);
    remove_allocator();
}
END_TEST

/* A two-layer LSTM over a short sequence, with initial states. */
typedef struct lstm_state {
    dc_module *rnn;
    dc_tensor *x, *h0, *c0;
    dc_tensor *y, *hn, *cn;   /* the last run's (its scope's) */
} lstm_state;

static bool lstm_op(void *arg) {
    lstm_state *s = arg;
    s->y = s->hn = s->cn = NULL;
    if (dc_rnn_forward(s->rnn, s->x, s->h0, s->c0, &s->y, &s->hn, &s->cn) == DC_OK) return true;
    ck_assert_msg(s->y == NULL && s->hn == NULL && s->cn == NULL,
                  "a failed dc_rnn_forward set its out-parameters");
    return false;
}

static void lstm_results(void *arg, numbers *out) {
    lstm_state *s = arg;
    nums_add_tensor(out, s->y);
    nums_add_tensor(out, s->hn);
    nums_add_tensor(out, s->cn);
}

static void lstm_snapshot(void *arg, numbers *out) {
    add_module_state(out, ((lstm_state *)arg)->rnn);
}

START_TEST(lstm_forward_survives_each_failure) {
    install_allocator();
    dc_rng *rng = dc_rng_new(3);
    lstm_state s = {0};
    s.rnn = dc_rnn_new(DC_RNN_LSTM, 3, 4, 2, 1, 1, rng);
    ck_assert_ptr_nonnull(s.rnn);
    s.x = seeded(rng, 3, SH(2, 5, 3));
    s.h0 = seeded(rng, 3, SH(2, 2, 4));
    s.c0 = seeded(rng, 3, SH(2, 2, 4));
    dc_rng_free(rng);
    scenario sc = {&s, NULL, lstm_op, lstm_results, lstm_snapshot, NULL, NULL};
    ck_assert_int_gt(fail_each(&sc, 3000), 10);
    dc_release(s.x);
    dc_release(s.h0);
    dc_release(s.c0);
    dc_module_release(s.rnn);
    remove_allocator();
}
END_TEST

/* Saving and loading a module, in a private directory. */
typedef struct file_state {
    dc_module *src, *dst;
    char dir[200], path[256], backup[256];
} file_state;

/* The file's contents, as the tensors a fresh reader finds in it. */
static void add_file(numbers *out, const char *path) {
    dc_safetensors *st = dc_safetensors_open(path);
    ck_assert_msg(st != NULL, "%s is not readable: %s", path, dc_last_error());
    int64_t n = dc_safetensors_count(st);
    nums_add(out, (double)n);
    for (int64_t i = 0; i < n; i++)
        nums_add_tensor(out, dc_safetensors_get(st, dc_safetensors_name(st, i)));
    dc_safetensors_close(st);
}

static int files_in(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static bool save_op(void *arg) {
    file_state *s = arg;
    return dc_module_save(s->src, s->path) == DC_OK;
}

static void save_results(void *arg, numbers *out) { add_file(out, ((file_state *)arg)->path); }

/* A failed save leaves the earlier file whole (the new one is written
 * beside it and renamed) and no temporary file behind. */
static void save_snapshot(void *arg, numbers *out) {
    file_state *s = arg;
    add_file(out, s->path);
    nums_add(out, files_in(s->dir));
}

/* The earlier file: dst's weights, which differ from src's. */
static void save_reset(void *arg) {
    file_state *s = arg;
    TU_OK(dc_module_save(s->dst, s->path));
}

static bool load_op(void *arg) {
    file_state *s = arg;
    return dc_module_load(s->dst, s->path, 1) == DC_OK;
}

static void load_results(void *arg, numbers *out) {
    add_module_state(out, ((file_state *)arg)->dst);
}

/* dst's own weights back, from a file of their own. */
static void load_reset(void *arg) {
    file_state *s = arg;
    TU_OK(dc_module_load(s->dst, s->backup, 1));
}

static void file_setup(file_state *s) {
    s->src = dc_zoo_mlp_new(SH(4, 6, 2), 3, DC_ACT_RELU, 0.0, NULL);
    dc_rng *rng = dc_rng_new(99);
    s->dst = dc_zoo_mlp_new(SH(4, 6, 2), 3, DC_ACT_RELU, 0.0, rng);
    dc_rng_free(rng);
    ck_assert(s->src && s->dst);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/dc_faults_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(s->dir));
    snprintf(s->path, sizeof s->path, "%s/model.safetensors", s->dir);
    snprintf(s->backup, sizeof s->backup, "%s/backup.safetensors", s->dir);
}

static void file_free(file_state *s) {
    remove(s->path);
    remove(s->backup);
    ck_assert_int_eq(rmdir(s->dir), 0);   /* nothing else was left in it */
    dc_module_release(s->src);
    dc_module_release(s->dst);
}

START_TEST(module_save_is_atomic_under_each_failure) {
    install_allocator();
    file_state s;
    file_setup(&s);
    save_reset(&s);
    scenario sc = {&s, NULL, save_op, save_results, save_snapshot, NULL, save_reset};
    ck_assert_int_gt(fail_each(&sc, 1000), 5);
    file_free(&s);
    remove_allocator();
}
END_TEST

START_TEST(module_load_is_all_or_nothing_under_each_failure) {
    install_allocator();
    file_state s;
    file_setup(&s);
    TU_OK(dc_module_save(s.src, s.path));
    TU_OK(dc_module_save(s.dst, s.backup));
    scenario sc = {&s, NULL, load_op, load_results, load_results, NULL, load_reset};
    ck_assert_int_gt(fail_each(&sc, 1000), 5);
    file_free(&s);
    remove_allocator();
}
END_TEST

/* Checkpoints: saving replaces the earlier file atomically; loading puts
 * module, optimizer, schedule and generator back all together or not at
 * all. */
typedef struct ckpt_state {
    step_state s;          /* model + optimizer (stepped twice) */
    dc_sched *sched;
    dc_rng *rng;
    file_state f;          /* the directory and the module files */
    int64_t step;
    numbers sched_rng0;    /* schedule position, rates and generator state */
} ckpt_state;

static void add_sched_rng(numbers *out, ckpt_state *c) {
    nums_add(out, (double)dc_sched_last_epoch(c->sched));
    nums_add(out, dc_optim_get_lr(c->s.m.opt, 0));
    uint64_t st[4];
    TU_OK(dc_rng_get_state(c->rng, st));
    for (int i = 0; i < 4; i++) nums_add(out, (double)(st[i] >> 11));
}

static void ckpt_snapshot(void *arg, numbers *out) {
    ckpt_state *c = arg;
    step_snapshot(&c->s, out);
    add_sched_rng(out, c);
}

static bool ckpt_load_op(void *arg) {
    ckpt_state *c = arg;
    return dc_checkpoint_load(c->f.path, c->s.m.model, c->s.m.opt, c->sched, c->rng,
                              &c->step) == DC_OK;
}

static void ckpt_load_results(void *arg, numbers *out) {
    ckpt_state *c = arg;
    ckpt_snapshot(c, out);
    nums_add(out, (double)c->step);
}

static void ckpt_reset(void *arg) {
    ckpt_state *c = arg;
    step_reset(&c->s);
    TU_OK(dc_sched_set_last_epoch(c->sched, (int64_t)c->sched_rng0.v[0]));
    TU_OK(dc_rng_seed(c->rng, 77));
    c->step = -1;
}

static void ckpt_setup(ckpt_state *c) {
    memset(c, 0, sizeof *c);
    step_setup(&c->s, 2);
    c->sched = dc_sched_step_lr_new(c->s.m.opt, 2, 0.5);
    c->rng = dc_rng_new(77);
    ck_assert(c->sched && c->rng);
    file_setup(&c->f);
    c->step = -1;
    add_sched_rng(&c->sched_rng0, c);
}

static void ckpt_free(ckpt_state *c) {
    nums_free(&c->sched_rng0);
    dc_sched_release(c->sched);
    dc_rng_free(c->rng);
    file_free(&c->f);
    step_free(&c->s);
}

START_TEST(checkpoint_load_is_all_or_nothing_under_each_failure) {
    install_allocator();
    ckpt_state c;
    ckpt_setup(&c);
    /* the checkpoint holds a later state: three more steps, the schedule
     * and the generator moved on */
    dc_scope *sc = dc_scope_begin();
    for (int i = 0; i < 3; i++) {
        TU_OK(dc_optim_step(c.s.m.opt));
        TU_OK(dc_sched_step(c.sched));
    }
    TU_NOTNULL(dc_rand_uniform(c.rng, DC_F32, 1, SH(5), 0, 1));
    TU_OK(dc_checkpoint_save(c.f.path, c.s.m.model, c.s.m.opt, c.sched, c.rng, 5));
    TU_OK(dc_scope_end(sc));
    ckpt_reset(&c);
    scenario s = {&c, NULL, ckpt_load_op, ckpt_load_results, ckpt_snapshot, NULL, ckpt_reset};
    ck_assert_int_gt(fail_each(&s, 2000), 5);
    ckpt_free(&c);
    remove_allocator();
}
END_TEST

static bool ckpt_save_op(void *arg) {
    ckpt_state *c = arg;
    return dc_checkpoint_save(c->f.path, c->s.m.model, c->s.m.opt, c->sched, c->rng, 3) ==
           DC_OK;
}

static void ckpt_save_results(void *arg, numbers *out) {
    add_file(out, ((ckpt_state *)arg)->f.path);
}

static void ckpt_file_snapshot(void *arg, numbers *out) { save_snapshot(&((ckpt_state *)arg)->f, out); }

/* The earlier file: a plain module file of other weights. */
static void ckpt_save_reset(void *arg) { save_reset(&((ckpt_state *)arg)->f); }

START_TEST(checkpoint_save_is_atomic_under_each_failure) {
    install_allocator();
    ckpt_state c;
    ckpt_setup(&c);
    ckpt_save_reset(&c);
    scenario s = {&c, NULL, ckpt_save_op, ckpt_save_results, ckpt_file_snapshot, NULL,
                  ckpt_save_reset};
    ck_assert_int_gt(fail_each(&s, 2000), 5);
    ckpt_free(&c);
    remove_allocator();
}
END_TEST

/* Every kind of layer: a forward pass in training mode (batch norm
 * updates its running statistics then, dropout draws from the thread's
 * generator, reseeded before each run) followed by a backward. A failed
 * run must leave parameters and buffers as they were: no half-updated
 * running statistics. */
typedef struct layer_case {
    const char *name;
    dc_module *(*make)(dc_rng *rng);
    int ndim;
    int64_t shape[4];
    bool tokens;         /* the input is i64 token ids below 10 */
    bool forward_only;   /* zoo models: their parts' backward is covered above */
} layer_case;

static dc_module *mk_linear(dc_rng *r) { return dc_linear_new(4, 3, 1, r); }
static dc_module *mk_conv1d(dc_rng *r) { return dc_conv1d_new(2, 3, 3, 1, 1, 1, 1, 1, r); }
static dc_module *mk_conv2d(dc_rng *r) { return dc_conv2d_new(2, 4, 3, 2, 1, 1, 2, 1, r); }
static dc_module *mk_maxpool(dc_rng *r) { (void)r; return dc_max_pool2d_new(2, 0, 1); }
static dc_module *mk_avgpool(dc_rng *r) { (void)r; return dc_avg_pool2d_new(3, 2, 1); }
static dc_module *mk_adaptive(dc_rng *r) { (void)r; return dc_adaptive_avg_pool2d_new(3, 2); }
static dc_module *mk_bn1d(dc_rng *r) { (void)r; return dc_batch_norm1d_new(4, 1e-5, 0.1); }
static dc_module *mk_bn2d(dc_rng *r) { (void)r; return dc_batch_norm2d_new(2, 1e-5, 0.1); }
static dc_module *mk_ln(dc_rng *r) { (void)r; return dc_layer_norm_new(4, 1e-5, 1); }
static dc_module *mk_dropout(dc_rng *r) { (void)r; return dc_dropout_new(0.3); }
static dc_module *mk_embedding(dc_rng *r) { return dc_embedding_new(10, 3, r); }
static dc_module *mk_flatten(dc_rng *r) { (void)r; return dc_flatten_new(1, -1); }
static dc_module *mk_softmax(dc_rng *r) { (void)r; return dc_activation_new(DC_ACT_SOFTMAX, -1); }
static dc_module *mk_gru(dc_rng *r) { return dc_rnn_new(DC_RNN_GRU, 4, 3, 1, 1, 1, r); }
static dc_module *mk_rnn(dc_rng *r) { return dc_rnn_new(DC_RNN_TANH, 4, 3, 1, 1, 0, r); }
static dc_module *mk_mha(dc_rng *r) { return dc_multihead_attention_new(4, 2, 1, r); }
static dc_module *mk_block(dc_rng *r) { return dc_transformer_block_new(4, 2, 8, 0.1, 1, r); }
static dc_module *mk_resnet(dc_rng *r) {
    return dc_zoo_resnet_new(1, 3, 2, (const int[]){1}, 1, r);
}
static dc_module *mk_rnn_lm(dc_rng *r) { return dc_zoo_rnn_lm_new(DC_RNN_LSTM, 10, 3, 4, 1, r); }
static dc_module *mk_gpt(dc_rng *r) { return dc_zoo_gpt_new(10, 4, 1, 2, 4, 0.1, r); }
static dc_module *mk_bert(dc_rng *r) { return dc_zoo_bert_classifier_new(10, 4, 1, 2, 4, 2, 0.1, r); }

static const layer_case layer_cases[] = {
    {"Linear", mk_linear, 2, {3, 4}, false, false},
    {"Conv1d", mk_conv1d, 3, {2, 2, 5}, false, false},
    {"Conv2d", mk_conv2d, 4, {1, 2, 5, 5}, false, false},
    {"MaxPool2d", mk_maxpool, 4, {1, 2, 4, 4}, false, false},
    {"AvgPool2d", mk_avgpool, 4, {1, 2, 5, 5}, false, false},
    {"AdaptiveAvgPool2d", mk_adaptive, 4, {1, 2, 5, 4}, false, false},
    {"BatchNorm1d", mk_bn1d, 2, {3, 4}, false, false},
    {"BatchNorm2d", mk_bn2d, 4, {2, 2, 3, 3}, false, false},
    {"LayerNorm", mk_ln, 3, {2, 3, 4}, false, false},
    {"Dropout", mk_dropout, 2, {3, 4}, false, false},
    {"Embedding", mk_embedding, 2, {2, 3}, true, false},
    {"Flatten", mk_flatten, 3, {2, 3, 2}, false, false},
    {"Softmax", mk_softmax, 2, {3, 4}, false, false},
    {"GRU", mk_gru, 3, {2, 2, 4}, false, false},
    {"RNN", mk_rnn, 3, {3, 2, 4}, false, false},
    {"MultiheadAttention", mk_mha, 3, {2, 3, 4}, false, false},
    {"TransformerBlock", mk_block, 3, {2, 3, 4}, false, false},
    {"ResNet", mk_resnet, 4, {1, 1, 4, 4}, false, true},
    {"RNNLanguageModel", mk_rnn_lm, 2, {2, 3}, true, true},
    {"GPT", mk_gpt, 2, {2, 4}, true, true},
    {"BERTClassifier", mk_bert, 2, {2, 4}, true, true},
};

typedef struct layer_state {
    dc_module *m;
    dc_tensor *x;
    numbers state0;
    dc_tensor *y;   /* the last run's (its scope's) */
    bool forward_only;
} layer_state;

static void layer_prepare(void *arg) {
    zero_module_grads(((layer_state *)arg)->m);
    dc_manual_seed(1234);
}

static bool layer_op(void *arg) {
    layer_state *s = arg;
    s->y = dc_module_forward(s->m, s->x);
    /* a scalar of every output element, so that every path has a gradient */
    dc_tensor *l = dc_sum(dc_square(s->y), NULL, 0, 0);
    if (!l) return false;
    return s->forward_only || dc_module_param_count(s->m) == 0 ||
           dc_backward(l, NULL, 0) == DC_OK;
}

static void layer_results(void *arg, numbers *out) {
    layer_state *s = arg;
    nums_add_tensor(out, s->y);
    add_module_grads(out, s->m);
    int64_t n = dc_module_state_count(s->m);
    for (int64_t i = 0; i < n; i++) nums_add_tensor(out, dc_module_state_tensor(s->m, i));
}

static void layer_snapshot(void *arg, numbers *out) {
    layer_state *s = arg;
    int64_t n = dc_module_state_count(s->m);
    nums_add(out, (double)n);
    for (int64_t i = 0; i < n; i++) nums_add_tensor(out, dc_module_state_tensor(s->m, i));
}

/* Puts the buffers (batch norm's running statistics) back and drops the
 * gradients. */
static void layer_reset(void *arg) {
    layer_state *s = arg;
    dc_scope *sc = dc_scope_begin();
    size_t off = 1;
    for (int64_t i = 0; i < dc_module_state_count(s->m); i++)
        off = restore(dc_module_state_tensor(s->m, i), &s->state0, off);
    TU_OK(dc_scope_end(sc));
    zero_module_grads(s->m);
}

START_TEST(every_layer_survives_each_failure) {
    const layer_case *lc = &layer_cases[_i];
    install_allocator();
    dc_rng *rng = dc_rng_new(21);
    layer_state s = {0};
    s.m = lc->make(rng);
    s.forward_only = lc->forward_only;
    ck_assert_msg(s.m != NULL, "%s: %s", lc->name, dc_last_error());
    TU_OK(dc_module_set_training(s.m, 1));
    if (lc->tokens) {
        dc_tensor *u = dc_rand_uniform(rng, DC_F64, lc->ndim, lc->shape, 0.0, 9.99);
        s.x = dc_cast(u, DC_I64);
        dc_release(u);
    } else {
        s.x = dc_rand_normal(rng, DC_F32, lc->ndim, lc->shape, 0.0, 1.0);
    }
    TU_NOTNULL(s.x);
    dc_rng_free(rng);
    dc_scope *sc0 = dc_scope_begin();
    layer_snapshot(&s, &s.state0);
    TU_OK(dc_scope_end(sc0));
    scenario sc = {&s, layer_prepare, layer_op, layer_results, layer_snapshot, layer_reset,
                   layer_reset};
    long runs = fail_each(&sc, 20000);
    ck_assert_msg(runs > 1, "%s: %ld runs", lc->name, runs);
    nums_free(&s.state0);
    dc_release(s.x);
    dc_module_release(s.m);
    remove_allocator();
}
END_TEST

/* A whole training step built from nothing inside the failing region
 * (tu_fail_each_allocation): constructors, forward, backward, clipping,
 * an optimizer step and a schedule step. Every failure is DC_E_NOMEM and
 * frees everything. */
static bool whole_step_body(void *arg) {
    (void)arg;
    bool ok = false;
    dc_rng *rng = dc_rng_new(1);
    dc_module *m = rng ? dc_zoo_mlp_new(SH(3, 5, 2), 3, DC_ACT_GELU, 0.0, rng) : NULL;
    dc_loss *loss = m ? dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN) : NULL;
    dc_tensor *params[8] = {0};
    int np = m ? (int)dc_module_param_count(m) : 0;
    bool have_params = loss != NULL && np >= 1 && np <= 8;
    for (int i = 0; have_params && i < np; i++) have_params = (params[i] = dc_module_param(m, i)) != NULL;
    dc_optim *opt = have_params ? dc_adamw_new(params, np, 0.01, 0.9, 0.999, 1e-8, 0.01, 0) : NULL;
    dc_sched *sched = opt ? dc_sched_cosine_new(opt, 10, 0.0) : NULL;
    if (sched) {
        dc_tensor *x = dc_rand_normal(rng, DC_F32, 2, SH(4, 3), 0, 1);
        dc_tensor *y = dc_from_data(DC_I64, 1, SH(4), (const int64_t[]){0, 1, 1, 0});
        dc_tensor *l = dc_loss_forward(loss, dc_module_forward(m, x), y);
        ok = l && dc_backward(l, NULL, 0) == DC_OK &&
             dc_clip_grad_norm(params, np, 1.0, 2.0, NULL) == DC_OK &&
             dc_optim_step(opt) == DC_OK && dc_sched_step(sched) == DC_OK;
    }
    dc_sched_release(sched);
    dc_optim_release(opt);
    dc_loss_release(loss);
    dc_module_release(m);
    dc_rng_free(rng);
    return ok;
}

START_TEST(whole_training_step_from_scratch) {
    TU_OK(dc_set_num_threads(1));
    ck_assert_int_gt(tu_fail_each_allocation(whole_step_body, NULL, 3000), 20);
}
END_TEST

int main(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tu_tcase("faults");
    tcase_add_test(tc, forward_pass_survives_each_failure);
    tcase_add_test(tc, backward_survives_each_failure);
    tcase_add_test(tc, first_optimizer_step_is_all_or_nothing);
    tcase_add_test(tc, later_optimizer_step_is_all_or_nothing);
    tcase_add_test(tc, conv_pool_forward_backward_survive_each_failure);
    tcase_add_test(tc, lstm_forward_survives_each_failure);
    tcase_add_test(tc, module_save_is_atomic_under_each_failure);
    tcase_add_test(tc, module_load_is_all_or_nothing_under_each_failure);
    tcase_add_test(tc, checkpoint_save_is_atomic_under_each_failure);
    tcase_add_test(tc, checkpoint_load_is_all_or_nothing_under_each_failure);
    tcase_add_test(tc, whole_training_step_from_scratch);
    tcase_add_loop_test(tc, every_layer_survives_each_failure, 0,
                        (int)(sizeof layer_cases / sizeof layer_cases[0]));
    suite_add_tcase(s, tc);
    return tu_run(s);
}
