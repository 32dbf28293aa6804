/*
 * sequence_lstm: an LSTM language model learns to write a string of
 * digits backwards.
 *
 *   ./build/examples/sequence_lstm [--digits N] [--steps N] [--batch N]
 *       [--hidden N] [--lr X] [--kind lstm|gru|rnn] [--seed S]
 *       [--threads N] [--min-accuracy X]
 *
 * Each sequence is N random digits, a separator, then the same digits in
 * reverse order: "3 1 4 1 5 | 5 1 4 1 3". The model (dc_zoo_rnn_lm_new:
 * embedding, one recurrent layer, linear head) reads the sequence left to
 * right and is trained to predict each next token; only the predictions
 * after the separator count (the others are targets of -100, the loss's
 * ignore index), since the first N digits are random. To answer, the
 * network must hold all N digits in its state and give them back last
 * first: there is one right answer, so accuracy says plainly whether it
 * learned.
 *
 * Training is Adam with a cosine decay of the rate and gradient norms
 * clipped to 1. Evaluation is on 1,000 new sequences, decoding greedily: the model sees
 * the digits and the separator, and each answer digit it writes is fed
 * back as the next input (never the true one). Reported: the share of
 * answer digits right, and of sequences entirely right.
 *
 * Exit status: 0 when the share of sequences entirely right reaches
 * --min-accuracy (default 0.9), 2 when not, 1 on an error.
 */
#include <deepcore/deepcore.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEP 10          /* the separator token; digits are 0..9 */
#define VOCAB 11
#define IGNORE (-100)   /* the cross-entropy's default ignore index */
#define N_TEST 1000

typedef struct options {
    int digits;
    long steps;
    int64_t batch, hidden;
    double lr;
    dc_rnn_kind kind;
    unsigned long long seed;
    int threads;
    double min_accuracy;
} options;

static int fail(const char *what) {
    fprintf(stderr, "sequence_lstm: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr,
            "usage: sequence_lstm [options]\n"
            "  --digits N         digits to reverse (default 5)\n"
            "  --steps N          training steps (default 600)\n"
            "  --batch N          sequences per step (default 64)\n"
            "  --hidden N         recurrent state size (default 128)\n"
            "  --lr X             peak Adam learning rate, cosine-decayed (default 0.005)\n"
            "  --kind K           lstm (default), gru or rnn\n"
            "  --seed S           weights and data (default 1)\n"
            "  --threads N        library threads, 0 = one per core (default 0)\n"
            "  --min-accuracy X   exit 2 when fewer sequences are right (default 0.9)\n");
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.digits = 5, .steps = 600, .batch = 64, .hidden = 128, .lr = 5e-3,
                   .kind = DC_RNN_LSTM, .seed = 1, .min_accuracy = 0.9};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        char *end = NULL;
        double num = strtod(v, &end);
        int numeric = end != v && *end == '\0';
        if (!strcmp(a, "--kind")) {
            if (!strcmp(v, "lstm")) o->kind = DC_RNN_LSTM;
            else if (!strcmp(v, "gru")) o->kind = DC_RNN_GRU;
            else if (!strcmp(v, "rnn")) o->kind = DC_RNN_TANH;
            else goto bad;
        } else if (!numeric) goto bad;
        else if (!strcmp(a, "--digits") && num >= 1 && num <= 64) o->digits = (int)num;
        else if (!strcmp(a, "--steps") && num >= 1) o->steps = (long)num;
        else if (!strcmp(a, "--batch") && num >= 1) o->batch = (int64_t)num;
        else if (!strcmp(a, "--hidden") && num >= 1) o->hidden = (int64_t)num;
        else if (!strcmp(a, "--lr") && num > 0) o->lr = num;
        else if (!strcmp(a, "--seed") && num >= 0) o->seed = (unsigned long long)num;
        else if (!strcmp(a, "--threads") && num >= 0) o->threads = (int)num;
        else if (!strcmp(a, "--min-accuracy") && num >= 0 && num <= 1) o->min_accuracy = num;
        else goto bad;
    }
    if (argc % 2 == 0) goto bad;
    return 0;
bad:
    usage();
    return -1;
}

/* splitmix64, for the random digits. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fills seq (batch rows of 2 * digits + 1 tokens) with digits, SEP, and
 * the digits reversed. */
static void make_sequences(uint64_t *state, int64_t batch, int digits, int64_t *seq) {
    int64_t len = 2 * digits + 1;
    for (int64_t b = 0; b < batch; b++) {
        int64_t *s = seq + b * len;
        for (int i = 0; i < digits; i++) s[i] = (int64_t)(next_random(state) % 10);
        s[digits] = SEP;
        for (int i = 0; i < digits; i++) s[digits + 1 + i] = s[digits - 1 - i];
    }
}

/* One training batch: inputs (B, 2N) = seq[0 .. 2N) and targets (B * 2N)
 * = seq[1 .. 2N], ignored before the separator. In the caller's scope. */
static int training_batch(uint64_t *state, const options *o, dc_tensor **x, dc_tensor **y) {
    int64_t len = 2 * o->digits + 1, t_in = len - 1, n = o->batch * t_in;
    int64_t *seq = malloc((size_t)(o->batch * len) * sizeof *seq);
    int64_t *xs = malloc((size_t)n * sizeof *xs), *ys = malloc((size_t)n * sizeof *ys);
    int rc = -1;
    if (seq && xs && ys) {
        make_sequences(state, o->batch, o->digits, seq);
        for (int64_t b = 0; b < o->batch; b++)
            for (int64_t t = 0; t < t_in; t++) {
                xs[b * t_in + t] = seq[b * len + t];
                ys[b * t_in + t] = t >= o->digits ? seq[b * len + t + 1] : IGNORE;
            }
        *x = dc_from_data(DC_I64, 2, (int64_t[]){o->batch, t_in}, xs);
        *y = dc_from_data(DC_I64, 1, &n, ys);
        rc = *x && *y ? 0 : -1;
    }
    free(seq);
    free(xs);
    free(ys);
    return rc;
}

/* Greedy decoding of N_TEST new sequences: after the digits and the
 * separator, the model's own answers are fed back. Stores the share of
 * answer digits right and of sequences entirely right. */
static dc_status evaluate(dc_module *model, const options *o, uint64_t *state, double *digit_acc,
                          double *seq_acc) {
    int n = o->digits;
    int64_t len = 2 * n + 1;
    int64_t *truth = malloc((size_t)(N_TEST * len) * sizeof *truth);
    int64_t *seen = malloc((size_t)(N_TEST * len) * sizeof *seen);
    int64_t *next = malloc((size_t)N_TEST * sizeof *next);
    dc_status st = truth && seen && next ? DC_OK : DC_E_NOMEM;
    if (st == DC_OK) {
        make_sequences(state, N_TEST, n, truth);
        memcpy(seen, truth, (size_t)(N_TEST * len) * sizeof *seen);
    }
    dc_module_set_training(model, 0);
    int prev = dc_set_grad_enabled(0);
    /* Step k writes answer digit k (position n + 1 + k) from the prefix
     * of length n + 1 + k. */
    for (int k = 0; k < n && st == DC_OK; k++) {
        int64_t t = n + 1 + k;
        dc_scope *s = dc_scope_begin();
        dc_tensor *all = dc_from_data(DC_I64, 2, (int64_t[]){N_TEST, len}, seen);
        dc_tensor *logits = dc_module_forward(model, dc_narrow(all, 1, 0, t));
        dc_tensor *last = dc_squeeze(dc_narrow(logits, 1, t - 1, 1), 1);   /* (N_TEST, V) */
        dc_tensor *pred = dc_argmax(last, 1, 0);
        st = pred ? dc_copy_to(pred, DC_I64, next, N_TEST * sizeof *next) : dc_last_status();
        dc_scope_end(s);
        for (int64_t b = 0; b < N_TEST && st == DC_OK; b++) seen[b * len + t] = next[b];
    }
    dc_set_grad_enabled(prev);
    dc_module_set_training(model, 1);
    if (st == DC_OK) {
        int64_t digits_right = 0, sequences_right = 0;
        for (int64_t b = 0; b < N_TEST; b++) {
            int all_right = 1;
            for (int k = 0; k < n; k++) {
                int right = seen[b * len + n + 1 + k] == truth[b * len + n + 1 + k];
                digits_right += right;
                all_right &= right;
            }
            sequences_right += all_right;
        }
        *digit_acc = (double)digits_right / (double)(N_TEST * n);
        *seq_acc = (double)sequences_right / N_TEST;
    }
    free(truth);
    free(seen);
    free(next);
    return st;
}

static const char *kind_name(dc_rnn_kind kind) {
    return kind == DC_RNN_LSTM ? "LSTM" : kind == DC_RNN_GRU ? "GRU" : "tanh RNN";
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dc_set_num_threads(o.threads) != DC_OK) return fail("setting the thread count");
    dc_rng *rng = dc_rng_new(o.seed);
    dc_module *model = dc_zoo_rnn_lm_new(o.kind, VOCAB, 32, o.hidden, 1, rng);
    if (!model) return fail("building the model");
    int64_t n_params = dc_module_param_count(model);
    dc_tensor *params[16];
    if (n_params < 1 || n_params > 16) return 1;
    for (int64_t i = 0; i < n_params; i++)
        if (!(params[i] = dc_module_param(model, i))) return fail("listing the parameters");
    dc_optim *opt = dc_adam_new(params, (int)n_params, o.lr, 0.9, 0.999, 1e-8, 0, 0);
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    /* The rate decays to a twentieth over the run: a constant 0.005 makes
     * the loss jump now and then once the task is learned. */
    dc_sched *sched = opt ? dc_sched_cosine_new(opt, o.steps, o.lr / 20) : NULL;
    if (!opt || !ce || !sched) return fail("setting up");
    printf("sequence_lstm: reverse %d digits with a %s language model (hidden %lld), Adam lr "
           "%g, %ld steps of %lld sequences\n", o.digits, kind_name(o.kind),
           (long long)o.hidden, o.lr, o.steps, (long long)o.batch);

    uint64_t train_state = o.seed, test_state = o.seed ^ (0x5eedull << 32);
    long report_every = o.steps >= 10 ? o.steps / 10 : 1;
    double sum = 0, start = now_seconds(), digit_acc = 0, seq_acc = 0;
    long summed = 0;
    for (long step = 1; step <= o.steps; step++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *x, *y;
        if (training_batch(&train_state, &o, &x, &y) != 0) return fail("making a batch");
        int64_t n = dc_numel(y);
        dc_tensor *logits = dc_reshape(dc_module_forward(model, x), 2, (int64_t[]){n, VOCAB});
        dc_tensor *loss = dc_loss_forward(ce, logits, y);
        double value = 0;
        if (!loss || dc_item(loss, &value) != DC_OK || dc_optim_zero_grad(opt) != DC_OK ||
            dc_backward(loss, NULL, 0) != DC_OK ||
            dc_clip_grad_norm(params, (int)n_params, 1.0, 2.0, NULL) != DC_OK ||
            dc_optim_step(opt) != DC_OK || dc_sched_step(sched) != DC_OK)
            return fail("a training step");
        dc_scope_end(s);
        sum += value;
        summed++;
        if (step % report_every == 0 || step == o.steps) {
            uint64_t probe_state = test_state;   /* the same test sequences each time */
            if (evaluate(model, &o, &probe_state, &digit_acc, &seq_acc) != DC_OK)
                return fail("evaluating");
            printf("step %5ld  loss %.4f  test: digits right %5.1f%%, sequences right %5.1f%%"
                   "  (%.1f s)\n", step, sum / (double)summed, 100 * digit_acc,
                   100 * seq_acc, now_seconds() - start);
            sum = 0;
            summed = 0;
        }
    }
    int ok = seq_acc >= o.min_accuracy;
    printf("reversed %.1f%% of %d new sequences entirely right (%.1f%% of digits; chance: "
           "%.0f%% of digits): %s\n", 100 * seq_acc, N_TEST, 100 * digit_acc, 10.0,
           ok ? "learned" : "did NOT learn");
    for (int64_t i = 0; i < n_params; i++) dc_release(params[i]);
    dc_sched_release(sched);
    dc_optim_release(opt);
    dc_loss_release(ce);
    dc_module_release(model);
    dc_rng_free(rng);
    return ok ? 0 : 2;
}
