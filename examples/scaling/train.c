#include "train.h"

#include <deepcore/deepcore.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sc_heads_for(int width) {
    return width >= 64 ? width / 32 : 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int report(const char *what) {
    fprintf(stderr, "scaling: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return -1;
}

static int is_embedding(const char *name) {
    return !strncmp(name, "wte.", 4) || !strncmp(name, "wpe.", 4);
}

/* The parameters split for AdamW: the 2-D weights of the blocks (attention
 * and MLP matrices) decay; biases, LayerNorms and the embeddings (wte,
 * which is also the tied output layer, and wpe) do not, as in minGPT. */
typedef struct param_groups {
    dc_tensor **all, **decay, **plain;
    int n_all, n_decay, n_plain;
    int64_t non_embedding;
} param_groups;

static void groups_free(param_groups *g) {
    for (int i = 0; i < g->n_all; i++) dc_release(g->all[i]);
    free(g->all);
    free(g->decay);
    free(g->plain);
}

static int groups_make(dc_module *m, param_groups *g) {
    memset(g, 0, sizeof *g);
    int64_t n = dc_module_state_count(m);
    g->all = calloc((size_t)n, sizeof *g->all);
    g->decay = calloc((size_t)n, sizeof *g->decay);
    g->plain = calloc((size_t)n, sizeof *g->plain);
    if (!g->all || !g->decay || !g->plain) return -1;
    for (int64_t i = 0; i < n; i++) {
        if (dc_module_state_is_param(m, i) != 1) continue;
        const char *name = dc_module_state_name(m, i);
        dc_tensor *t = dc_module_state_tensor(m, i);
        if (!name || !t) return report("listing the parameters");
        g->all[g->n_all++] = t;
        int embedding = is_embedding(name);
        if (!embedding) g->non_embedding += dc_numel(t);
        if (dc_ndim(t) == 2 && !embedding) g->decay[g->n_decay++] = t;
        else g->plain[g->n_plain++] = t;
    }
    return g->n_decay > 0 && g->n_plain > 0 ? 0 : -1;
}

static dc_module *build_model(const sc_job *job, int64_t vocab, int64_t context) {
    dc_rng *rng = dc_rng_new(0x5eed0000ull + (uint64_t)job->seed * 7919u +
                             (uint64_t)job->layers * 131u + (uint64_t)job->width);
    dc_module *m = rng ? dc_zoo_gpt_new(vocab, context, job->layers, job->heads, job->width,
                                        0.0, rng)
                       : NULL;
    dc_rng_free(rng);
    return m;
}

int64_t sc_count_params(int layers, int width, int64_t vocab, int64_t context) {
    sc_job job = {SC_TASK_LM, layers, width, sc_heads_for(width), 1};
    dc_module *m = build_model(&job, vocab, context);
    param_groups g;
    int64_t n = m && groups_make(m, &g) == 0 ? g.non_embedding : -1;
    if (m) groups_free(&g);
    dc_module_release(m);
    return n;
}

/* AdamW, linear warm-up over the first tenth of the steps, cosine decay
 * to a tenth of the peak over the rest. */
typedef struct trainer {
    dc_module *model;
    param_groups g;
    dc_optim *opt;
    dc_sched *sched;
    dc_loss *ce;
} trainer;

static void trainer_free(trainer *t) {
    dc_sched_release(t->sched);
    dc_optim_release(t->opt);
    dc_loss_release(t->ce);
    groups_free(&t->g);
    dc_module_release(t->model);
}

static int trainer_make(trainer *t, const sc_job *job, const sc_recipe *r, int64_t vocab,
                        int64_t context, long steps) {
    memset(t, 0, sizeof *t);
    if (!(t->model = build_model(job, vocab, context))) return report("building the model");
    if (groups_make(t->model, &t->g) != 0) return report("grouping the parameters");
    t->opt = dc_adamw_new(t->g.decay, t->g.n_decay, r->lr, 0.9, 0.95, 1e-8, r->weight_decay, 0);
    if (!t->opt || dc_optim_add_group(t->opt, t->g.plain, t->g.n_plain, r->lr, 0.0, NULL) != DC_OK)
        return report("making the optimizer");
    int64_t warmup = steps / 10 > 0 ? steps / 10 : 1;
    int64_t rest = steps - warmup > 0 ? steps - warmup : 1;
    dc_sched *warm = dc_sched_linear_new(t->opt, 1.0 / (double)warmup, 1.0, warmup);
    dc_sched *cosine = dc_sched_cosine_new(t->opt, rest, r->lr / 10);
    if (warm && cosine)
        t->sched = dc_sched_sequential_new(t->opt, (dc_sched *[]){warm, cosine}, 2,
                                           (int64_t[]){warmup});
    dc_sched_release(warm);
    dc_sched_release(cosine);
    t->ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    if (!t->sched || !t->ce || dc_loss_set_ignore_index(t->ce, SC_ADD_IGNORE) != DC_OK)
        return report("making the schedule and loss");
    return 0;
}

/* Logits (B, T, V) of x (B, T), in the open scope. */
static dc_tensor *forward(trainer *t, const int64_t *x, int64_t batch, int64_t len) {
    return dc_module_forward(t->model, dc_from_data(DC_I64, 2, (int64_t[]){batch, len}, x));
}

/* One optimisation step on (x, y); the loss through *value. */
static int train_step(trainer *t, const int64_t *x, const int64_t *y, int64_t batch,
                      int64_t len, int64_t vocab, double *value) {
    dc_scope *s = dc_scope_begin();
    int64_t n = batch * len;
    dc_tensor *logits = dc_reshape(forward(t, x, batch, len), 2, (int64_t[]){n, vocab});
    dc_tensor *loss = dc_loss_forward(t->ce, logits, dc_from_data(DC_I64, 1, &n, y));
    int rc = loss && dc_item(loss, value) == DC_OK && dc_optim_zero_grad(t->opt) == DC_OK &&
                     dc_backward(loss, NULL, 0) == DC_OK &&
                     dc_clip_grad_norm(t->g.all, t->g.n_all, 1.0, 2.0, NULL) == DC_OK &&
                     dc_optim_step(t->opt) == DC_OK && dc_sched_step(t->sched) == DC_OK
                 ? 0
                 : report("a training step");
    dc_scope_end(s);
    return rc;
}

/* Evaluation runs in eval mode without recording. */
static int eval_begin(trainer *t) {
    dc_module_set_training(t->model, 0);
    return dc_set_grad_enabled(0);
}

static void eval_end(trainer *t, int prev) {
    dc_set_grad_enabled(prev);
    dc_module_set_training(t->model, 1);
}

/* Mean next-character loss over the recipe's evenly spaced held-out
 * windows (the same for every job). */
static double lm_val_loss(trainer *t, const sc_recipe *r, const sc_corpus *c, int64_t *x,
                          int64_t *y) {
    int64_t ctx = r->lm_context, chunk = r->lm_batch, n = r->lm_eval_windows, done = 0;
    double total = 0;
    int prev = eval_begin(t);
    while (done < n && isfinite(total)) {
        int64_t b = n - done < chunk ? n - done : chunk;
        for (int64_t i = 0; i < b; i++)
            sc_corpus_val_window(c, done + i, n, ctx, x + i * ctx, y + i * ctx);
        dc_scope *s = dc_scope_begin();
        int64_t m = b * ctx;
        dc_tensor *logits = dc_reshape(forward(t, x, b, ctx), 2, (int64_t[]){m, c->vocab});
        double v = NAN;
        if (dc_item(dc_loss_forward(t->ce, logits, dc_from_data(DC_I64, 1, &m, y)), &v) != DC_OK)
            report("the held-out loss");
        dc_scope_end(s);
        total += v * (double)b;
        done += b;
    }
    eval_end(t, prev);
    return total / (double)n;
}

/* The addition metrics on the held-out test problems. */
static int add_evaluate(trainer *t, const sc_recipe *r, const int64_t *test_x,
                        const int64_t *answers, sc_add_metrics *m) {
    int64_t n = r->add_test, len = SC_ADD_INPUT;
    float *logits = malloc((size_t)(n * len * SC_ADD_VOCAB) * sizeof *logits);
    float *answer_logits = malloc((size_t)(n * SC_ADD_ANSWER * SC_ADD_VOCAB) * sizeof *logits);
    int rc = logits && answer_logits ? 0 : -1, prev = eval_begin(t);
    for (int64_t done = 0; rc == 0 && done < n;) {
        int64_t b = n - done < 250 ? n - done : 250;
        dc_scope *s = dc_scope_begin();
        dc_tensor *out = forward(t, test_x + done * len, b, len);
        if (!out || dc_copy_to(out, DC_F32, logits + done * len * SC_ADD_VOCAB,
                               (size_t)(b * len * SC_ADD_VOCAB) * sizeof *logits) != DC_OK)
            rc = report("evaluating the test problems");
        dc_scope_end(s);
        done += b;
    }
    eval_end(t, prev);
    if (rc == 0) {
        for (int64_t i = 0; i < n; i++)
            memcpy(answer_logits + i * SC_ADD_ANSWER * SC_ADD_VOCAB,
                   logits + (i * len + SC_ADD_FIRST_ANSWER_POS) * SC_ADD_VOCAB,
                   SC_ADD_ANSWER * SC_ADD_VOCAB * sizeof *logits);
        sc_add_score(answer_logits, answers, n, m);
    }
    free(logits);
    free(answer_logits);
    return rc;
}

typedef struct buffers {
    int64_t *x, *y, *test_x, *answers;
} buffers;

static void buffers_free(buffers *b) {
    free(b->x);
    free(b->y);
    free(b->test_x);
    free(b->answers);
}

static int buffers_make(buffers *b, const sc_job *job, const sc_recipe *r) {
    memset(b, 0, sizeof *b);
    int64_t per = job->task == SC_TASK_LM ? r->lm_context * (r->lm_batch > r->lm_eval_windows
                                                                 ? r->lm_batch
                                                                 : r->lm_eval_windows)
                                          : SC_ADD_INPUT * r->add_batch;
    b->x = malloc((size_t)per * sizeof *b->x);
    b->y = malloc((size_t)per * sizeof *b->y);
    if (!b->x || !b->y) return -1;
    if (job->task != SC_TASK_ADD) return 0;
    int64_t n = r->add_test, *ta = malloc((size_t)n * 2 * sizeof *ta), y[SC_ADD_INPUT];
    b->test_x = malloc((size_t)(n * SC_ADD_INPUT) * sizeof *b->test_x);
    b->answers = malloc((size_t)(n * SC_ADD_ANSWER) * sizeof *b->answers);
    int rc = ta && b->test_x && b->answers ? 0 : -1;
    if (rc == 0) {
        sc_add_test_set(n, ta, ta + n);
        for (int64_t i = 0; i < n; i++) {
            sc_add_tokens(ta[i], ta[n + i], b->test_x + i * SC_ADD_INPUT, y);
            memcpy(b->answers + i * SC_ADD_ANSWER, y + SC_ADD_FIRST_ANSWER_POS,
                   SC_ADD_ANSWER * sizeof *y);
        }
    }
    free(ta);
    return rc;
}

int sc_train_job(const sc_job *job, const sc_recipe *r, const sc_corpus *c, sc_row *rows,
                 int max_rows, sc_progress_fn progress, void *ctx) {
    int lm = job->task == SC_TASK_LM;
    long steps = lm ? r->lm_steps : r->add_steps, every = lm ? r->lm_eval_every : r->add_eval_every;
    int64_t vocab = lm ? c->vocab : SC_ADD_VOCAB, len = lm ? r->lm_context : SC_ADD_INPUT;
    int64_t batch = lm ? r->lm_batch : r->add_batch;
    trainer t;
    buffers b = {0};
    int n_rows = 0, rc = trainer_make(&t, job, r, vocab, len, steps);
    if (rc == 0 && buffers_make(&b, job, r) != 0) rc = report("allocating the batches");
    /* The batch stream depends on the seed only: every size sees the same
       windows and problems. */
    uint64_t stream = 0xba7c4000ull + (uint64_t)job->seed;
    double sum = 0, start = now_seconds();
    long since = 0;
    for (long step = 1; rc == 0 && step <= steps; step++) {
        if (lm) {
            sc_corpus_train_batch(c, &stream, batch, len, b.x, b.y);
        } else {
            for (int64_t i = 0; i < batch; i++) {
                int64_t a, bb;
                sc_add_draw_train(&stream, &a, &bb);
                sc_add_tokens(a, bb, b.x + i * len, b.y + i * len);
            }
        }
        double value = NAN;
        double lr = dc_optim_get_lr(t.opt, 0);
        rc = train_step(&t, b.x, b.y, batch, len, vocab, &value);
        sum += value;
        since++;
        if (progress) progress(ctx, step, value);
        if (rc != 0 || (step % every != 0 && step != steps) || n_rows >= max_rows) continue;
        sc_row *row = &rows[n_rows++];
        memset(row, 0, sizeof *row);
        *row = (sc_row){.layers = job->layers, .width = job->width, .heads = job->heads,
                        .seed = job->seed, .n_params = t.g.non_embedding, .step = step,
                        .train_loss = sum / (double)since, .val_loss = NAN, .lr = lr};
        if (lm) row->val_loss = lm_val_loss(&t, r, c, b.x, b.y);
        else if ((rc = add_evaluate(&t, r, b.test_x, b.answers, &row->add)) == 0)
            row->val_loss = row->add.loss;
        if (!isfinite(row->val_loss)) rc = -1;
        row->seconds = now_seconds() - start;
        sum = 0;
        since = 0;
    }
    buffers_free(&b);
    trainer_free(&t);
    return rc == 0 ? n_rows : -1;
}
