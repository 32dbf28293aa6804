/* Threads: what is per thread, what may be shared, and that the library
 * gives the same bits whether work runs on one thread or on several
 * (doc/threads.md states the rules; each rule names its test here).
 *
 * Worker threads never call ck_assert (a failure there would exit a
 * thread, not fail the test cleanly): they write the first problem into
 * their job's err and the test thread asserts on it after the join.
 *
 * Some of the per-thread rules are already covered where they live:
 * errors_are_per_thread (test_core: a fresh thread has no error),
 * thread_generators_are_independent (test_core: a fresh thread starts
 * from seed 0), scope_of_other_thread_is_refused (test_core) and
 * no_grad_mode_is_per_thread (test_autograd: a fresh thread records).
 * The tests here run the threads at the same time, in lockstep. */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 8
#define ERR_LEN 320

/* ------------------------------------------------------------------ */
/* Running jobs on threads                                             */
/* ------------------------------------------------------------------ */

/* Every job struct starts with this header. */
typedef struct job_head {
    int tid;
    char err[ERR_LEN];      /* "" while all is well */
} job_head;

/* Lets the threads of a test start together and move in lockstep. */
static pthread_barrier_t g_barrier;

static void sync_threads(void) { pthread_barrier_wait(&g_barrier); }

/* Records the first problem of a job (with the library's last error) and
 * returns false, so a worker can `return job_fail(...)`. */
static bool job_fail(job_head *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool job_fail(job_head *h, const char *fmt, ...) {
    if (h->err[0]) return false;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(h->err, sizeof h->err, "thread %d: %s (last error: %s)", h->tid, what,
             dc_last_error());
    return false;
}

/* Starts n threads, fn(jobs + i * size) each, all released together by
 * the barrier they wait on, and joins them. */
static void run_threads(int n, void *(*fn)(void *), void *jobs, size_t size) {
    pthread_t th[MAX_THREADS];
    ck_assert_int_le(n, MAX_THREADS);
    ck_assert_int_eq(pthread_barrier_init(&g_barrier, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        job_head *h = (job_head *)((char *)jobs + (size_t)i * size);
        h->tid = i;
        h->err[0] = '\0';
        ck_assert_int_eq(pthread_create(&th[i], NULL, fn, h), 0);
    }
    for (int i = 0; i < n; i++) ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < n; i++) {
        const job_head *h = (const job_head *)((const char *)jobs + (size_t)i * size);
        ck_assert_msg(h->err[0] == '\0', "%s", h->err);
    }
}

/* One job at a time on a fresh thread (for hand-offs between threads). */
static void run_on_new_thread(void *(*fn)(void *), job_head *h, int tid) {
    pthread_t th;
    h->tid = tid;
    h->err[0] = '\0';
    ck_assert_int_eq(pthread_barrier_init(&g_barrier, NULL, 1), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, fn, h), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&g_barrier);
    ck_assert_msg(h->err[0] == '\0', "%s", h->err);
}

/* ------------------------------------------------------------------ */
/* Comparing bits                                                      */
/* ------------------------------------------------------------------ */

/* The elements of t in row-major order, in its own dtype, malloc'd. */
static void *raw_copy(const dc_tensor *t, size_t *bytes) {
    dc_dtype dt = dc_tensor_dtype(t);
    *bytes = (size_t)dc_numel(t) * dc_dtype_size(dt);
    void *buf = malloc(*bytes ? *bytes : 1);
    if (buf && dc_copy_to(t, dt, buf, *bytes) != DC_OK) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Same dtype, shape and bits (not merely close values). */
static bool same_bits(const dc_tensor *got, const dc_tensor *want) {
    if (!got || !want || dc_tensor_dtype(got) != dc_tensor_dtype(want) ||
        dc_ndim(got) != dc_ndim(want))
        return false;
    for (int i = 0; i < dc_ndim(got); i++)
        if (dc_shape(got)[i] != dc_shape(want)[i]) return false;
    size_t ng, nw;
    void *g = raw_copy(got, &ng), *w = raw_copy(want, &nw);
    bool same = g && w && ng == nw && memcmp(g, w, ng) == 0;
    free(g);
    free(w);
    return same;
}

/* The whole state dict of m (parameters and buffers), raw, in state
 * order, into buf. Returns the bytes written, or 0 on failure. */
static size_t module_snapshot(dc_module *m, unsigned char *buf, size_t cap) {
    size_t used = 0;
    dc_scope *s = dc_scope_begin();
    for (int64_t i = 0; s && i < dc_module_state_count(m); i++) {
        dc_tensor *t = dc_module_state_tensor(m, i);
        dc_dtype dt = dc_tensor_dtype(t);
        size_t n = t ? (size_t)dc_numel(t) * dc_dtype_size(dt) : 0;
        if (!t || used + n > cap || dc_copy_to(t, dt, buf + used, n) != DC_OK) {
            used = 0;
            break;
        }
        used += n;
    }
    dc_scope_end(s);
    return used;
}

/* ------------------------------------------------------------------ */
/* Models                                                              */
/* ------------------------------------------------------------------ */

/* Appends the modules (dropping the caller's references); NULL and the
 * error of the first failure when one is NULL or an append fails. */
static dc_module *sequential_of(dc_module **parts, int n) {
    dc_module *seq = dc_sequential_new();
    bool ok = seq != NULL;
    for (int i = 0; i < n; i++) {
        if (ok) ok = parts[i] && dc_sequential_append(seq, parts[i]) == DC_OK;
        dc_module_release(parts[i]);
    }
    if (!ok) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

/* Linear(in, hid) - ReLU - Linear(hid, out); rng NULL: this thread's. */
static dc_module *mlp_new(int64_t in, int64_t hid, int64_t out, dc_rng *rng) {
    dc_module *parts[3] = {dc_linear_new(in, hid, 1, rng), dc_activation_new(DC_ACT_RELU, 0),
                           dc_linear_new(hid, out, 1, rng)};
    return sequential_of(parts, 3);
}

/* Parameters off requires-grad and evaluation mode: the state in which a
 * model may be shared by threads running inference. */
static dc_status freeze(dc_module *m) {
    dc_scope *s = dc_scope_begin();
    dc_status st = s ? DC_OK : dc_last_status();
    for (int64_t i = 0; st == DC_OK && i < dc_module_state_count(m); i++) {
        if (!dc_module_state_is_param(m, i)) continue;
        dc_tensor *t = dc_module_state_tensor(m, i);
        st = t ? dc_set_requires_grad(t, 0) : dc_last_status();
    }
    dc_scope_end(s);
    return st == DC_OK ? dc_module_set_training(m, 0) : st;
}

/* ------------------------------------------------------------------ */
/* (a) Training: one model per thread, same bits as one thread         */
/* ------------------------------------------------------------------ */

#define TR_IN 8
#define TR_HID 16
#define TR_OUT 4
#define TR_ROWS 64
#define TR_BATCH 16
#define TR_STEPS 50
#define TR_THREADS 4
#define TR_DATA_SEED 2024u
#define TR_MODEL_SEED 700u
#define TR_STATE_BYTES ((TR_IN * TR_HID + TR_HID + TR_HID * TR_OUT + TR_OUT) * sizeof(float))

typedef struct train_job {
    job_head h;
    uint64_t seed;
    double losses[TR_STEPS];
    unsigned char state[TR_STATE_BYTES];
    size_t state_bytes;
} train_job;

/* The data every training run uses: x (ROWS, IN) normal from a generator
 * of its own, labels (ROWS) i64 in 0..OUT-1. In the caller's scope. */
static bool training_data(dc_tensor **x, dc_tensor **y) {
    dc_rng *rng = dc_rng_new(TR_DATA_SEED);
    int64_t xs[2] = {TR_ROWS, TR_IN}, ys[1] = {TR_ROWS};
    *x = rng ? dc_rand_normal(rng, DC_F32, 2, xs, 0.0, 1.0) : NULL;
    dc_rng_free(rng);
    int64_t labels[TR_ROWS];
    for (int i = 0; i < TR_ROWS; i++) labels[i] = (i * 7 + i / 5) % TR_OUT;
    *y = dc_from_data(DC_I64, 1, ys, labels);
    return *x && *y;
}

/* One step on rows [start, start + BATCH); its loss into *loss_value. */
static bool train_step(train_job *j, dc_module *m, dc_optim *opt, dc_loss *ce, dc_tensor *x,
                       dc_tensor *y, int64_t start, double *loss_value) {
    dc_scope *s = dc_scope_begin();
    if (!s) return job_fail(&j->h, "dc_scope_begin");
    dc_tensor *logits = dc_module_forward(m, dc_narrow(x, 0, start, TR_BATCH));
    dc_tensor *loss = dc_loss_forward(ce, logits, dc_narrow(y, 0, start, TR_BATCH));
    bool ok = loss && dc_optim_zero_grad(opt) == DC_OK && dc_backward(loss, NULL, 0) == DC_OK &&
              dc_optim_step(opt) == DC_OK && dc_item(loss, loss_value) == DC_OK;
    dc_scope_end(s);
    return ok || job_fail(&j->h, "training step at row %lld", (long long)start);
}

/* A fresh model whose weights come from this thread's generator seeded
 * with j->seed, TR_STEPS Adam steps; the losses and final state into j. */
static bool train_model(train_job *j) {
    dc_manual_seed(j->seed);
    dc_module *m = mlp_new(TR_IN, TR_HID, TR_OUT, NULL);
    dc_tensor *params[4] = {0};
    int64_t np = m ? dc_module_param_count(m) : 0;
    for (int64_t i = 0; i < np && i < 4; i++) params[i] = dc_module_param(m, i);
    dc_optim *opt = np == 4 ? dc_adam_new(params, 4, 1e-2, 0.9, 0.999, 1e-8, 0.0, 0) : NULL;
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_scope *data = dc_scope_begin();
    dc_tensor *x = NULL, *y = NULL;
    bool ok = opt && ce && data && training_data(&x, &y);
    if (!ok) job_fail(&j->h, "setting up the model (%lld params)", (long long)np);
    sync_threads();   /* every thread trains at the same time */
    for (int step = 0; ok && step < TR_STEPS; step++)
        ok = train_step(j, m, opt, ce, x, y, (step * TR_BATCH) % TR_ROWS, &j->losses[step]);
    if (ok) {
        j->state_bytes = module_snapshot(m, j->state, sizeof j->state);
        if (j->state_bytes != sizeof j->state) ok = job_fail(&j->h, "state snapshot");
    }
    dc_scope_end(data);
    dc_loss_release(ce);
    dc_optim_release(opt);
    for (int i = 0; i < 4; i++) dc_release(params[i]);
    dc_module_release(m);
    return ok;
}

static void *train_thread(void *arg) {
    train_model(arg);
    return NULL;
}

/* Rule: models trained on separate threads, one model per thread, give
 * the bits one thread gives doing the same work in turn. */
START_TEST(training_on_threads_matches_one_thread) {
    static train_job serial[TR_THREADS], parallel[TR_THREADS];
    ck_assert_int_eq(pthread_barrier_init(&g_barrier, NULL, 1), 0);
    for (int i = 0; i < TR_THREADS; i++) {
        serial[i] = (train_job){.h = {.tid = i}, .seed = TR_MODEL_SEED + (uint64_t)i};
        train_model(&serial[i]);
        ck_assert_msg(serial[i].h.err[0] == '\0', "%s", serial[i].h.err);
        /* the training does train: otherwise equal bits would prove little */
        ck_assert_double_lt(serial[i].losses[TR_STEPS - 1], 0.8 * serial[i].losses[0]);
    }
    pthread_barrier_destroy(&g_barrier);
    /* different seeds give different models, so a thread that used
     * another's generator or data would show */
    ck_assert(memcmp(serial[0].state, serial[1].state, TR_STATE_BYTES) != 0);

    for (int i = 0; i < TR_THREADS; i++) parallel[i].seed = TR_MODEL_SEED + (uint64_t)i;
    run_threads(TR_THREADS, train_thread, parallel, sizeof *parallel);
    for (int i = 0; i < TR_THREADS; i++) {
        ck_assert_msg(memcmp(serial[i].losses, parallel[i].losses, sizeof serial[i].losses) == 0,
                      "model %d: the losses differ from the one-thread run", i);
        ck_assert_msg(memcmp(serial[i].state, parallel[i].state, TR_STATE_BYTES) == 0,
                      "model %d: the parameters differ from the one-thread run", i);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* (b) Inference: threads share one frozen model                       */
/* ------------------------------------------------------------------ */

#define INF_THREADS 8
#define INF_INPUTS 4
#define INF_REPS 6

typedef struct shared_models {
    dc_loss *ce;        /* one loss object, shared too */
    dc_tensor *labels;  /* (7) i64 */
    dc_module *mlp;     /* Linear-BatchNorm1d-ReLU-Dropout-Linear */
    dc_module *lstm;    /* 2-layer LSTM, batch first */
    dc_module *block;   /* causal pre-norm transformer block with dropout */
    dc_tensor *mlp_x[INF_INPUTS], *seq_x[INF_INPUTS], *block_x[INF_INPUTS];
    /* single-threaded results for each input */
    dc_tensor *mlp_y[INF_INPUTS], *mlp_loss[INF_INPUTS], *lstm_out[INF_INPUTS], *lstm_h[INF_INPUTS],
        *lstm_c[INF_INPUTS], *block_y[INF_INPUTS];
} shared_models;

typedef struct infer_job {
    job_head h;
    shared_models *sh;
} infer_job;

/* Batch norm's running statistics set to something other than 0 and 1,
 * so evaluation mode visibly uses them. */
static dc_status set_running_stats(dc_module *m, dc_rng *rng) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *mean = dc_module_state_find(m, "1.running_mean");
    dc_tensor *var = dc_module_state_find(m, "1.running_var");
    dc_status st = mean && var ? dc_init_uniform(mean, -0.5, 0.5, rng) : dc_last_status();
    if (st == DC_OK) st = dc_init_uniform(var, 0.5, 2.0, rng);
    dc_scope_end(s);
    return st;
}

static dc_module *inference_mlp(dc_rng *rng) {
    dc_module *parts[5] = {dc_linear_new(12, 32, 1, rng), dc_batch_norm1d_new(32, 1e-5, 0.1),
                           dc_activation_new(DC_ACT_RELU, 0), dc_dropout_new(0.5),
                           dc_linear_new(32, 5, 1, rng)};
    dc_module *m = sequential_of(parts, 5);
    if (m && set_running_stats(m, rng) != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

/* The three models, in evaluation mode and frozen (parameters without
 * requires-grad) when frozen is set; their inputs; and the outputs one
 * thread gets. Everything is owned by sh (no scope). */
static void shared_models_make(shared_models *sh, bool frozen) {
    dc_rng *rng = dc_rng_new(31);
    TU_NOTNULL(rng);
    sh->mlp = inference_mlp(rng);
    sh->lstm = dc_rnn_new(DC_RNN_LSTM, 6, 10, 2, 1, 1, rng);
    sh->block = dc_transformer_block_new(16, 4, 32, 0.1, 1, rng);
    TU_NOTNULL(sh->mlp);
    TU_NOTNULL(sh->lstm);
    TU_NOTNULL(sh->block);
    dc_module *models[3] = {sh->mlp, sh->lstm, sh->block};
    for (int k = 0; k < 3; k++) {
        if (frozen) TU_OK(freeze(models[k]));
        else TU_OK(dc_module_set_training(models[k], 0));
    }
    ck_assert_int_eq(dc_module_param_count(sh->block) == 0, frozen);
    sh->ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    TU_NOTNULL(sh->ce);
    TU_OK(dc_loss_set_label_smoothing(sh->ce, 0.1));
    int64_t xs[2] = {7, 12}, ss[3] = {3, 5, 6}, bs[3] = {2, 5, 16};
    sh->labels = dc_from_data(DC_I64, 1, xs, (const int64_t[]){0, 4, 1, 3, 2, 2, 0});
    int prev = dc_set_grad_enabled(0);
    for (int i = 0; i < INF_INPUTS; i++) {
        sh->mlp_x[i] = dc_rand_normal(rng, DC_F32, 2, xs, 0, 1);
        sh->seq_x[i] = dc_rand_normal(rng, DC_F32, 3, ss, 0, 1);
        sh->block_x[i] = dc_rand_normal(rng, DC_F32, 3, bs, 0, 1);
        sh->mlp_y[i] = dc_module_forward(sh->mlp, sh->mlp_x[i]);
        sh->mlp_loss[i] = dc_loss_forward(sh->ce, sh->mlp_y[i], sh->labels);
        TU_NOTNULL(sh->mlp_loss[i]);
        TU_OK(dc_rnn_forward(sh->lstm, sh->seq_x[i], NULL, NULL, &sh->lstm_out[i],
                             &sh->lstm_h[i], &sh->lstm_c[i]));
        sh->block_y[i] = dc_module_forward(sh->block, sh->block_x[i]);
        TU_NOTNULL(sh->mlp_y[i]);
        TU_NOTNULL(sh->block_y[i]);
    }
    dc_set_grad_enabled(prev);
    dc_rng_free(rng);
}

static void shared_models_free(shared_models *sh) {
    dc_tensor **all[] = {sh->mlp_x, sh->seq_x, sh->block_x, sh->mlp_y, sh->mlp_loss,
                         sh->lstm_out, sh->lstm_h, sh->lstm_c, sh->block_y};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        for (int i = 0; i < INF_INPUTS; i++) dc_release(all[k][i]);
    dc_release(sh->labels);
    dc_loss_release(sh->ce);
    dc_module_release(sh->mlp);
    dc_module_release(sh->lstm);
    dc_module_release(sh->block);
}

/* Each shared model on input i, compared bit for bit with the one-thread
 * results. Also takes and drops references to the shared models and to
 * their state tensors, which other threads do at the same time. */
static bool infer_once(infer_job *j, int i, int rep) {
    shared_models *sh = j->sh;
    dc_module *mlp = dc_module_retain(sh->mlp);
    dc_tensor *y = dc_module_forward(mlp, sh->mlp_x[i]);
    dc_module_release(mlp);
    if (!same_bits(y, sh->mlp_y[i])) return job_fail(&j->h, "MLP output %d differs", i);
    if (dc_requires_grad(y) != 0 || dc_is_leaf(y) != 1)
        return job_fail(&j->h, "inference recorded history");
    if (!same_bits(dc_loss_forward(sh->ce, y, sh->labels), sh->mlp_loss[i]))
        return job_fail(&j->h, "loss %d differs", i);

    dc_tensor *out = NULL, *h = NULL, *c = NULL;
    if (dc_rnn_forward(sh->lstm, sh->seq_x[i], NULL, NULL, &out, &h, &c) != DC_OK)
        return job_fail(&j->h, "dc_rnn_forward");
    if (!same_bits(out, sh->lstm_out[i]) || !same_bits(h, sh->lstm_h[i]) ||
        !same_bits(c, sh->lstm_c[i]))
        return job_fail(&j->h, "LSTM results for input %d differ", i);

    if (!same_bits(dc_module_forward(sh->block, sh->block_x[i]), sh->block_y[i]))
        return job_fail(&j->h, "transformer block output %d differs", i);

    int64_t n = dc_module_state_count(sh->block);
    dc_tensor *t = dc_module_state_tensor(sh->block, (j->h.tid + rep) % n);
    if (!t) return job_fail(&j->h, "dc_module_state_tensor");
    dc_release(dc_retain(t));
    return true;
}

static void *infer_thread(void *arg) {
    infer_job *j = arg;
    dc_set_grad_enabled(0);
    sync_threads();
    for (int rep = 0; rep < INF_REPS; rep++) {
        dc_scope *s = dc_scope_begin();
        bool ok = s && infer_once(j, (j->h.tid + rep) % INF_INPUTS, rep);
        dc_scope_end(s);
        if (!ok) {
            job_fail(&j->h, "repetition %d", rep);
            break;
        }
    }
    return NULL;
}

#define INF_STATE_CAP (64 * 1024)

/* Rule: a model in evaluation mode may run inference on many threads at
 * once, each with grad mode off; the results are those of one thread, and
 * the model is unchanged. Loop index 0: the model is frozen (parameters
 * without requires-grad); 1: its parameters still require grad (grad mode
 * off is what keeps the threads from recording). A loss object is shared
 * the same way. */
START_TEST(shared_eval_models_give_one_thread_results) {
    static shared_models sh;
    memset(&sh, 0, sizeof sh);
    shared_models_make(&sh, _i == 0);
    static unsigned char before[3][INF_STATE_CAP], after[3][INF_STATE_CAP];
    dc_module *models[3] = {sh.mlp, sh.lstm, sh.block};
    size_t bytes[3];
    for (int k = 0; k < 3; k++) {
        bytes[k] = module_snapshot(models[k], before[k], INF_STATE_CAP);
        ck_assert_uint_gt(bytes[k], 0);
    }

    static infer_job jobs[INF_THREADS];
    for (int i = 0; i < INF_THREADS; i++) jobs[i].sh = &sh;
    run_threads(INF_THREADS, infer_thread, jobs, sizeof *jobs);

    /* nothing was written: not the weights, not batch norm's statistics */
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(module_snapshot(models[k], after[k], INF_STATE_CAP), bytes[k]);
        ck_assert_msg(memcmp(before[k], after[k], bytes[k]) == 0, "model %d changed", k);
    }
    /* the workers' grad mode was theirs alone */
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    shared_models_free(&sh);
}
END_TEST

/* Rule: reference counts are atomic. Threads take and drop references to
 * one tensor and one module at the same time; the counts end where they
 * started (the leak fixture sees it when the last reference goes). */
#define REFCOUNT_ROUNDS 200000

typedef struct refcount_job {
    job_head h;
    dc_tensor *t;
    dc_module *m;
} refcount_job;

static void *refcount_thread(void *arg) {
    refcount_job *j = arg;
    sync_threads();
    /* long enough that the threads overlap even on two cores */
    for (int i = 0; i < REFCOUNT_ROUNDS; i++) {
        dc_tensor *r = dc_retain(j->t);
        dc_module *mr = dc_module_retain(j->m);
        if (r != j->t || mr != j->m) {
            job_fail(&j->h, "retain returned another pointer");
            break;
        }
        dc_module_release(mr);
        dc_release(r);
    }
    return NULL;
}

START_TEST(reference_counts_are_atomic) {
    int64_t shape[1] = {4};
    static refcount_job jobs[INF_THREADS];
    dc_tensor *t = dc_ones(DC_F32, 1, shape);
    dc_module *m = dc_linear_new(3, 2, 1, NULL);
    TU_NOTNULL(t);
    TU_NOTNULL(m);
    int64_t live = dc_live_allocations();
    for (int i = 0; i < INF_THREADS; i++) jobs[i] = (refcount_job){.t = t, .m = m};
    run_threads(INF_THREADS, refcount_thread, jobs, sizeof *jobs);
    ck_assert_int_eq(dc_live_allocations(), live);
    /* one reference each is left: the first release frees them */
    int64_t before_release = dc_live_allocations();
    dc_release(t);
    ck_assert_int_lt(dc_live_allocations(), before_release);
    before_release = dc_live_allocations();
    dc_module_release(m);
    ck_assert_int_lt(dc_live_allocations(), before_release);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (c) Per-thread state, with the threads running at the same time     */
/* ------------------------------------------------------------------ */

typedef struct pair_job {
    job_head h;
    void *shared;
} pair_job;

/* y = x * x on a leaf that requires grad: recorded (a non-leaf) or not. */
static bool mul_is_recorded(pair_job *j, bool want_recorded) {
    dc_scope *s = dc_scope_begin();
    const double v[3] = {1, 2, 3};
    int64_t n = 3;
    dc_tensor *x = tu_f64(1, &n, v);
    bool ok = x && dc_set_requires_grad(x, 1) == DC_OK;
    dc_tensor *y = ok ? dc_mul(x, x) : NULL;
    ok = y && dc_is_leaf(y) == !want_recorded;
    if (ok && want_recorded) {
        /* the history this thread recorded is whole: d(sum x^2)/dx = 2x */
        dc_tensor *g = dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0) == DC_OK ? dc_grad(x) : NULL;
        double g2 = 0;
        int64_t idx = 2;
        ok = g && dc_get(g, &idx, &g2) == DC_OK && g2 == 6.0;
    }
    dc_scope_end(s);
    return ok || job_fail(&j->h, "recording should be %s", want_recorded ? "on" : "off");
}

/* Thread 0 turns grad mode off, then on again while thread 1 turns it
 * off; each checks what its own ops record at every stage. */
static void *grad_mode_thread(void *arg) {
    pair_job *j = arg;
    bool first = j->h.tid == 0;
    for (int round = 0; round < 2; round++) {
        bool off = first == (round == 0);
        int prev = dc_set_grad_enabled(!off);
        sync_threads();   /* both threads have set their mode */
        if (dc_is_grad_enabled() != !off) job_fail(&j->h, "grad mode changed under the thread");
        mul_is_recorded(j, !off);
        sync_threads();   /* both checked before the next round */
        dc_set_grad_enabled(prev);
    }
    return NULL;
}

START_TEST(grad_mode_is_per_thread_concurrently) {
    static pair_job jobs[2];
    run_threads(2, grad_mode_thread, jobs, sizeof *jobs);
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
}
END_TEST

/* What thread 0 and thread 1 share in the scope test. */
typedef struct scope_share {
    dc_scope *scope_of_1;
    dc_tensor *made_by_1;       /* thread 1's own reference */
    int64_t live_after_1_made;
} scope_share;

/* Thread 0 opens a scope; thread 1, which has none open, makes a tensor:
 * it is thread 1's, not in thread 0's scope, and outlives that scope's
 * end. Thread 1 opens a scope of its own: thread 0 cannot end it. */
static void *scope_thread(void *arg) {
    pair_job *j = arg;
    scope_share *sh = j->shared;
    int64_t n = 16;
    if (j->h.tid == 0) {
        dc_scope *mine = dc_scope_begin();
        dc_tensor *in_mine = dc_ones(DC_F32, 1, &n);
        sync_threads();   /* 1: my scope is open */
        sync_threads();   /* 2: thread 1 made its tensor and opened its scope */
        if (!mine || !in_mine || dc_scope_end(mine) != DC_OK) job_fail(&j->h, "own scope");
        if (dc_numel(sh->made_by_1) != n) job_fail(&j->h, "thread 1's tensor went with my scope");
        dc_clear_error();
        if (dc_scope_end(sh->scope_of_1) != DC_E_STATE)
            job_fail(&j->h, "ended a scope open on another thread");
        sync_threads();   /* 3 */
    } else {
        sync_threads();   /* 1 */
        sh->made_by_1 = dc_zeros(DC_F32, 1, &n);
        sh->scope_of_1 = dc_scope_begin();
        dc_tensor *in_scope = dc_full(DC_F32, 1, &n, 2.0);
        if (!sh->made_by_1 || !sh->scope_of_1 || !in_scope) job_fail(&j->h, "making tensors");
        sync_threads();   /* 2 */
        sync_threads();   /* 3: thread 0 has ended its scope and tried mine */
        double v = 0;
        int64_t idx = 3;
        if (dc_get(in_scope, &idx, &v) != DC_OK || v != 2.0)
            job_fail(&j->h, "my scope's tensor was touched by another thread");
        if (dc_scope_end(sh->scope_of_1) != DC_OK) job_fail(&j->h, "ending my scope");
        dc_release(sh->made_by_1);
    }
    return NULL;
}

START_TEST(scopes_are_per_thread_concurrently) {
    static scope_share share;
    static pair_job jobs[2];
    memset(&share, 0, sizeof share);
    jobs[0].shared = jobs[1].shared = &share;
    run_threads(2, scope_thread, jobs, sizeof *jobs);
}
END_TEST

/* Both threads fail at the same time with different errors; each sees
 * its own, and clearing one thread's error leaves the other's. */
static void *error_thread(void *arg) {
    pair_job *j = arg;
    int64_t bad = -1, n = 2;
    sync_threads();
    if (j->h.tid == 0) {
        dc_zeros(DC_F32, 1, &bad);
    } else {
        dc_scope *s = dc_scope_begin();
        dc_add(dc_zeros(DC_F32, 1, &n), dc_zeros(DC_F64, 1, &n));
        dc_scope_end(s);
    }
    sync_threads();   /* both have failed */
    dc_status want = j->h.tid == 0 ? DC_E_SHAPE : DC_E_DTYPE;
    /* (dc_zeros' message does not name the function; it names the size) */
    const char *mark = j->h.tid == 0 ? "negative" : "dc_add";
    if (dc_last_status() != want || !strstr(dc_last_error(), mark))
        job_fail(&j->h, "saw status %d '%s', not its own failure", (int)dc_last_status(),
             dc_last_error());
    if (j->h.tid == 0) dc_clear_error();
    sync_threads();   /* thread 0 has cleared its error */
    if (j->h.tid == 1 && dc_last_status() != DC_E_DTYPE)
        job_fail(&j->h, "another thread's dc_clear_error cleared mine");
    if (j->h.tid == 0 && (dc_last_status() != DC_OK || dc_last_error()[0] != '\0'))
        job_fail(&j->h, "dc_clear_error did not clear");
    return NULL;
}

START_TEST(errors_are_per_thread_concurrently) {
    static pair_job jobs[2];
    run_threads(2, error_thread, jobs, sizeof *jobs);
    ck_assert_int_eq(dc_last_status(), DC_OK);
    ck_assert_str_eq(dc_last_error(), "");
}
END_TEST

#define RNG_DRAWS 48

typedef struct rng_job {
    job_head h;
    uint64_t seed;
    double got[RNG_DRAWS];
} rng_job;

/* One uniform from this thread's default generator. */
static double draw_default(void) {
    int64_t one = 1;
    dc_tensor *u = dc_rand_uniform(NULL, DC_F64, 1, &one, 0, 1);
    double v = -1;
    dc_item(u, &v);
    dc_release(u);
    return v;
}

/* Seeds this thread's generator, then draws in lockstep with the other
 * thread, so that a shared generator would interleave the sequences. */
static void *rng_thread(void *arg) {
    rng_job *j = arg;
    dc_manual_seed(j->seed);
    for (int k = 0; k < RNG_DRAWS; k++) {
        sync_threads();
        j->got[k] = draw_default();
    }
    return NULL;
}

START_TEST(default_generators_are_per_thread_concurrently) {
    uint64_t mine[4], mine_after[4];
    dc_manual_seed(5);
    TU_OK(dc_rng_get_state(NULL, mine));
    static rng_job jobs[2];
    double want[2][RNG_DRAWS];
    for (int i = 0; i < 2; i++) {
        jobs[i].seed = 11 + 11 * (uint64_t)i;
        dc_manual_seed(jobs[i].seed);
        for (int k = 0; k < RNG_DRAWS; k++) want[i][k] = draw_default();
    }
    TU_OK(dc_rng_set_state(NULL, mine));
    run_threads(2, rng_thread, jobs, sizeof *jobs);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(memcmp(want[i], jobs[i].got, sizeof want[i]) == 0,
                      "thread %d did not get its seed's sequence", i);
    /* the workers' seeding and drawing left this thread's generator alone */
    TU_OK(dc_rng_get_state(NULL, mine_after));
    ck_assert(memcmp(mine, mine_after, sizeof mine) == 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* (d) A model made on one thread, used on another, freed on a third   */
/* ------------------------------------------------------------------ */

typedef struct handoff_job {
    job_head h;
    dc_module *model;
    dc_tensor *x, *y_first, *loss;
    double w_before;
} handoff_job;

/* First element of the first parameter. */
static double first_weight(dc_module *m) {
    dc_scope *s = dc_scope_begin();
    int64_t idx[2] = {0, 0};
    double v = NAN;
    dc_get(dc_module_param(m, 0), idx, &v);
    dc_scope_end(s);
    return v;
}

/* Thread 1: makes the model from its own generator, an input and the
 * model's output, all owned by the job (no scope). */
static void *handoff_make(void *arg) {
    handoff_job *j = arg;
    int64_t xs[2] = {5, 6};
    dc_manual_seed(77);
    j->model = mlp_new(6, 9, 3, NULL);
    j->x = dc_rand_normal(NULL, DC_F32, 2, xs, 0, 1);
    int prev = dc_set_grad_enabled(0);
    j->y_first = dc_module_forward(j->model, j->x);
    dc_set_grad_enabled(prev);
    if (!j->y_first) job_fail(&j->h, "making the model");
    else j->w_before = first_weight(j->model);
    return NULL;
}

/* Thread 2: runs the model (same bits as on thread 1) and records a loss
 * whose history reaches the model's parameters; the loss is the job's. */
static void *handoff_use(void *arg) {
    handoff_job *j = arg;
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_module_forward(j->model, j->x);
    if (!same_bits(y, j->y_first)) job_fail(&j->h, "output differs from the making thread's");
    j->loss = dc_retain(dc_sum(dc_square(y), NULL, 0, 0));
    if (!j->loss || dc_is_leaf(j->loss)) job_fail(&j->h, "no history recorded");
    dc_scope_end(s);
    return NULL;
}

/* Thread 3: back-propagates the loss recorded on thread 2, steps, and
 * releases everything, the model last but one (the recorded history
 * still holds the parameters when the model goes). */
static void *handoff_finish(void *arg) {
    handoff_job *j = arg;
    dc_tensor *params[4] = {0};
    for (int i = 0; i < 4; i++) params[i] = dc_module_param(j->model, i);
    dc_optim *sgd = dc_sgd_new(params, 4, 0.1, 0, 0, 0, 0);
    if (!sgd || dc_backward(j->loss, NULL, 0) != DC_OK || dc_optim_step(sgd) != DC_OK)
        job_fail(&j->h, "backward and step");
    else if (first_weight(j->model) == j->w_before)
        job_fail(&j->h, "the step did not change the model");
    dc_optim_release(sgd);
    for (int i = 0; i < 4; i++) dc_release(params[i]);
    dc_module_release(j->model);
    dc_release(j->x);
    dc_release(j->y_first);
    dc_release(j->loss);
    return NULL;
}

/* Rule: objects are not tied to the thread that made them; a model and
 * tensors (with recorded history) may move between threads, used by one
 * thread at a time, and be freed by any. */
START_TEST(model_moves_between_threads) {
    static handoff_job job;
    memset(&job, 0, sizeof job);
    int64_t live = dc_live_allocations();
    run_on_new_thread(handoff_make, &job.h, 1);
    ck_assert_int_gt(dc_live_allocations(), live);
    run_on_new_thread(handoff_use, &job.h, 2);
    run_on_new_thread(handoff_finish, &job.h, 3);
    ck_assert_int_eq(dc_live_allocations(), live);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The pool: concurrent large products                                 */
/* ------------------------------------------------------------------ */

#define POOL_THREADS 4
#define POOL_REPS 3

typedef struct product_job {
    job_head h;
    dc_tensor *a[2], *b[2], *want[2];   /* f32, f64 */
} product_job;

/* Products big enough for the library's pool, from several threads at
 * once: one of them gets the pool, the others run alone; every result
 * has the bits of the product computed with the pool idle. */
static void *product_thread(void *arg) {
    product_job *j = arg;
    sync_threads();
    for (int rep = 0; rep < POOL_REPS; rep++)
        for (int d = 0; d < 2; d++) {
            dc_scope *s = dc_scope_begin();
            if (!same_bits(dc_matmul(j->a[d], j->b[d]), j->want[d]))
                job_fail(&j->h, "%s product differs (repetition %d)", d ? "f64" : "f32", rep);
            dc_scope_end(s);
        }
    return NULL;
}

static const dc_gemm_backend pool_backends[3] = {DC_GEMM_OWN, DC_GEMM_CBLAS, DC_GEMM_AUTO};

/* Rule: the pool and the backend are process-wide settings, set while no
 * op runs; ops may then run on any number of threads at once, with the
 * results of a lone run. Loop index: the backend. */
START_TEST(concurrent_products_match_a_lone_run) {
    dc_gemm_backend old_backend = dc_get_gemm_backend();
    TU_OK(dc_set_gemm_backend(pool_backends[_i]));
    TU_OK(dc_set_num_threads(POOL_THREADS));
    dc_rng *rng = dc_rng_new(91);
    static product_job jobs[POOL_THREADS];
    int64_t as[2] = {160, 256}, bs[2] = {256, 192};
    for (int t = 0; t < POOL_THREADS; t++)
        for (int d = 0; d < 2; d++) {
            dc_dtype dt = d ? DC_F64 : DC_F32;
            jobs[t].a[d] = dc_rand_normal(rng, dt, 2, as, 0, 1);
            /* a transposed view takes the strided path */
            dc_tensor *bt = dc_rand_normal(rng, dt, 2, (int64_t[]){bs[1], bs[0]}, 0, 1);
            jobs[t].b[d] = dc_transpose(bt, 0, 1);
            dc_release(bt);
            jobs[t].want[d] = dc_matmul(jobs[t].a[d], jobs[t].b[d]);
            TU_NOTNULL(jobs[t].want[d]);
        }
    dc_rng_free(rng);
    run_threads(POOL_THREADS, product_thread, jobs, sizeof *jobs);
    for (int t = 0; t < POOL_THREADS; t++)
        for (int d = 0; d < 2; d++) {
            dc_release(jobs[t].a[d]);
            dc_release(jobs[t].b[d]);
            dc_release(jobs[t].want[d]);
        }
    TU_OK(dc_set_num_threads(0));
    TU_OK(dc_set_gemm_backend(old_backend));
}
END_TEST

int main(void) {
    Suite *s = suite_create("threads");
    TCase *tc = tu_tcase("training");
    tcase_add_test(tc, training_on_threads_matches_one_thread);
    suite_add_tcase(s, tc);

    tc = tu_tcase("shared_inference");
    tcase_add_loop_test(tc, shared_eval_models_give_one_thread_results, 0, 2);
    tcase_add_test(tc, reference_counts_are_atomic);
    suite_add_tcase(s, tc);

    tc = tu_tcase("per_thread_state");
    tcase_add_test(tc, grad_mode_is_per_thread_concurrently);
    tcase_add_test(tc, scopes_are_per_thread_concurrently);
    tcase_add_test(tc, errors_are_per_thread_concurrently);
    tcase_add_test(tc, default_generators_are_per_thread_concurrently);
    suite_add_tcase(s, tc);

    tc = tu_tcase("handoff");
    tcase_add_test(tc, model_moves_between_threads);
    suite_add_tcase(s, tc);

    tc = tu_tcase("pool");
    tcase_add_loop_test(tc, concurrent_products_match_a_lone_run, 0, 3);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
