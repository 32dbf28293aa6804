/*
 * char_gpt: a small GPT learns to write text one character at a time.
 *
 *   ./build/examples/char_gpt [--text PATH] [--steps N] [--layers N]
 *       [--d-model N] [--heads N] [--context N] [--batch N] [--lr X]
 *       [--temperature X] [--top-k N] [--sample N] [--prompt TEXT]
 *       [--seed S] [--threads N] [--save PATH]
 *
 * The text is by default the regular files of /usr/share/common-licenses
 * (the licence texts every Debian system has; symbolic links skipped so no
 * text counts twice), concatenated in name order; --text PATH uses one
 * file instead. The vocabulary is the set of bytes that occur (the
 * licences are ASCII, so bytes are characters). The first 90% trains, the
 * last 10% is held out.
 *
 * The model: dc_zoo_gpt_new with context 64, 4 layers, d_model 128, 4
 * heads, trained on batches of 32 random windows with AdamW (weight decay
 * 0.01, gradient norm clipped to 1), a linear warm-up over the first 10%
 * of the steps and a cosine decay to a tenth of the rate after. The train
 * and held-out losses are printed as they fall; then the model writes a
 * sample (dc_zoo_gpt_generate), is saved with dc_module_save, loaded into
 * a freshly built model with dc_module_load, and the two must give the
 * same logits bit for bit.
 *
 * Exit status: 0 when the held-out loss fell below 80% of where it
 * started and the reloaded model matches, 2 when not, 1 on an error.
 */
#include <deepcore/deepcore.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LICENSE_DIR "/usr/share/common-licenses"
#define EVAL_BATCHES 2

typedef struct options {
    const char *text;       /* NULL: the licences */
    long steps;
    int64_t layers, d_model, heads, context, batch;
    double lr, temperature;
    int64_t top_k, sample;
    const char *prompt;
    unsigned long long seed;
    int threads;
    const char *save;
} options;

typedef struct corpus {
    int64_t *tokens;        /* the text as vocabulary indices */
    int64_t n, n_train;     /* tokens [0, n_train) train, the rest is held out */
    unsigned char chars[256];   /* vocabulary index -> byte */
    int index_of[256];          /* byte -> vocabulary index, or -1 */
    int64_t vocab;
} corpus;

static int fail(const char *what) {
    fprintf(stderr, "char_gpt: %s failed: %s (%s)\n", what, dc_last_error(),
            dc_status_str(dc_last_status()));
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: char_gpt [options]\n"
            "  --text PATH        train on this file (default: the files of " LICENSE_DIR ")\n"
            "  --steps N          training steps (default 150)\n"
            "  --layers N         transformer blocks (default 4)\n"
            "  --d-model N        width (default 128)\n"
            "  --heads N          attention heads (default 4)\n"
            "  --context N        characters per window (default 64)\n"
            "  --batch N          windows per step (default 32)\n"
            "  --lr X             peak AdamW learning rate (default 0.002)\n"
            "  --temperature X    sampling temperature, 0 = greedy (default 0.8)\n"
            "  --top-k N          sample among the N likeliest characters, 0 = all (default 10)\n"
            "  --sample N         characters to generate (default 300)\n"
            "  --prompt TEXT      the start of the sample (default \"The \")\n"
            "  --seed S           weights, batches and sampling (default 1)\n"
            "  --threads N        library threads, 0 = one per core (default 0)\n"
            "  --save PATH        where the weights go (default char_gpt.safetensors)\n");
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.steps = 150, .layers = 4, .d_model = 128, .heads = 4, .context = 64,
                   .batch = 32, .lr = 2e-3, .temperature = 0.8, .top_k = 10, .sample = 300,
                   .prompt = "The ", .seed = 1, .save = "char_gpt.safetensors"};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        char *end = NULL;
        double num = strtod(v, &end);
        int numeric = end != v && *end == '\0';
        if (!strcmp(a, "--text")) o->text = v;
        else if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--save")) o->save = v;
        else if (!numeric) goto bad;
        else if (!strcmp(a, "--steps") && num >= 1) o->steps = (long)num;
        else if (!strcmp(a, "--layers") && num >= 1) o->layers = (int64_t)num;
        else if (!strcmp(a, "--d-model") && num >= 1) o->d_model = (int64_t)num;
        else if (!strcmp(a, "--heads") && num >= 1) o->heads = (int64_t)num;
        else if (!strcmp(a, "--context") && num >= 2) o->context = (int64_t)num;
        else if (!strcmp(a, "--batch") && num >= 1) o->batch = (int64_t)num;
        else if (!strcmp(a, "--lr") && num > 0) o->lr = num;
        else if (!strcmp(a, "--temperature") && num >= 0) o->temperature = num;
        else if (!strcmp(a, "--top-k") && num >= 0) o->top_k = (int64_t)num;
        else if (!strcmp(a, "--sample") && num >= 0) o->sample = (int64_t)num;
        else if (!strcmp(a, "--seed") && num >= 0) o->seed = (unsigned long long)num;
        else if (!strcmp(a, "--threads") && num >= 0) o->threads = (int)num;
        else goto bad;
    }
    if (argc % 2 == 0 || o->d_model % o->heads != 0 || !o->prompt[0]) goto bad;
    return 0;
bad:
    usage();
    return -1;
}

/* ------------------------------------------------------------------ */
/* The text                                                            */
/* ------------------------------------------------------------------ */

/* Appends the file at path to *buf (of *len bytes). */
static int append_file(const char *path, unsigned char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        unsigned char *grown = realloc(*buf, *len + got);
        if (!grown) {
            rc = -1;
            break;
        }
        memcpy(grown + *len, chunk, got);
        *buf = grown;
        *len += got;
    }
    if (ferror(f)) rc = -1;
    fclose(f);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir (not symbolic links), sorted by name. */
static int append_directory(const char *dir, unsigned char **buf, size_t *len, int *n_files) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && append_file(path, buf, len) != 0) rc = -1;
        free(names[i]);
    }
    *n_files = n;
    return rc;
}

static int load_corpus(const options *o, corpus *c) {
    unsigned char *text = NULL;
    size_t len = 0;
    int n_files = 1;
    int rc = o->text ? append_file(o->text, &text, &len)
                     : append_directory(LICENSE_DIR, &text, &len, &n_files);
    if (rc != 0 || len < (size_t)(2 * o->context + 2) * 10) {
        fprintf(stderr, "char_gpt: cannot read enough text from %s (%zu bytes)\n",
                o->text ? o->text : LICENSE_DIR, len);
        free(text);
        return -1;
    }
    memset(c, 0, sizeof *c);
    int seen[256] = {0};
    for (size_t i = 0; i < len; i++) seen[text[i]] = 1;
    for (int b = 0; b < 256; b++) {
        c->index_of[b] = seen[b] ? (int)c->vocab : -1;
        if (seen[b]) c->chars[c->vocab++] = (unsigned char)b;
    }
    c->tokens = malloc(len * sizeof *c->tokens);
    if (!c->tokens) {
        free(text);
        return -1;
    }
    for (size_t i = 0; i < len; i++) c->tokens[i] = c->index_of[text[i]];
    c->n = (int64_t)len;
    c->n_train = c->n * 9 / 10;
    free(text);
    printf("char_gpt: %lld characters from %s (%d file%s), vocabulary of %lld; %lld train, %lld "
           "held out\n", (long long)c->n, o->text ? o->text : LICENSE_DIR, n_files,
           n_files == 1 ? "" : "s", (long long)c->vocab, (long long)c->n_train,
           (long long)(c->n - c->n_train));
    return 0;
}

/* ------------------------------------------------------------------ */
/* Batches                                                             */
/* ------------------------------------------------------------------ */

/* splitmix64: the window offsets (the library's generators are for
 * tensors; a plain integer stream is all this needs). */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Inputs (B, T) and next-character targets (B * T) for windows starting
 * at offsets[b]; both are in the caller's scope. */
static int make_batch(const corpus *c, const int64_t *offsets, int64_t batch, int64_t context,
                      dc_tensor **x, dc_tensor **y) {
    int64_t *xs = malloc((size_t)(batch * context) * sizeof *xs);
    int64_t *ys = malloc((size_t)(batch * context) * sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return -1;
    }
    for (int64_t b = 0; b < batch; b++) {
        memcpy(xs + b * context, c->tokens + offsets[b], (size_t)context * sizeof *xs);
        memcpy(ys + b * context, c->tokens + offsets[b] + 1, (size_t)context * sizeof *ys);
    }
    int64_t n = batch * context;
    *x = dc_from_data(DC_I64, 2, (int64_t[]){batch, context}, xs);
    *y = dc_from_data(DC_I64, 1, &n, ys);
    free(xs);
    free(ys);
    return *x && *y ? 0 : -1;
}

static int random_batch(const corpus *c, const options *o, uint64_t *state, dc_tensor **x,
                        dc_tensor **y) {
    int64_t offsets[1024];
    int64_t batch = o->batch < 1024 ? o->batch : 1024;
    for (int64_t b = 0; b < batch; b++)
        offsets[b] = (int64_t)(next_random(state) % (uint64_t)(c->n_train - o->context - 1));
    return make_batch(c, offsets, batch, o->context, x, y);
}

/* Cross-entropy of the model's predictions on windows (B, T) -> targets. */
static dc_tensor *lm_loss(dc_module *model, dc_loss *ce, dc_tensor *x, dc_tensor *y,
                          int64_t vocab) {
    int64_t n = dc_numel(y);
    return dc_loss_forward(ce, dc_reshape(dc_module_forward(model, x), 2, (int64_t[]){n, vocab}),
                           y);
}

/* Mean loss over EVAL_BATCHES fixed batches of evenly spaced held-out
 * windows, in eval mode without recording. */
static double held_out_loss(dc_module *model, dc_loss *ce, const corpus *c, const options *o) {
    int64_t span = c->n - c->n_train - o->context - 1, offsets[1024];
    int64_t batch = o->batch < 1024 ? o->batch : 1024;
    double total = 0;
    dc_module_set_training(model, 0);
    int prev = dc_set_grad_enabled(0);
    for (int k = 0; k < EVAL_BATCHES; k++) {
        for (int64_t b = 0; b < batch; b++)
            offsets[b] = c->n_train + (span * (k * batch + b)) / (EVAL_BATCHES * batch);
        dc_scope *s = dc_scope_begin();
        dc_tensor *x, *y;
        double v = NAN;
        if (make_batch(c, offsets, batch, o->context, &x, &y) != 0 ||
            dc_item(lm_loss(model, ce, x, y, c->vocab), &v) != DC_OK)
            total = NAN;
        dc_scope_end(s);
        total += v;
    }
    dc_set_grad_enabled(prev);
    dc_module_set_training(model, 1);
    return total / EVAL_BATCHES;
}

/* ------------------------------------------------------------------ */
/* Sampling and reloading                                              */
/* ------------------------------------------------------------------ */

static int print_sample(dc_module *model, const corpus *c, const options *o, dc_rng *rng) {
    int64_t n_prompt = (int64_t)strlen(o->prompt);
    int64_t *ids = malloc((size_t)(n_prompt + o->sample) * sizeof *ids);
    if (!ids) return -1;
    for (int64_t i = 0; i < n_prompt; i++) {
        ids[i] = c->index_of[(unsigned char)o->prompt[i]];
        if (ids[i] < 0) {
            fprintf(stderr, "char_gpt: the prompt's character '%c' is not in the text\n",
                    o->prompt[i]);
            free(ids);
            return -1;
        }
    }
    dc_scope *s = dc_scope_begin();
    dc_tensor *prompt = dc_from_data(DC_I64, 1, &n_prompt, ids);
    dc_tensor *out = dc_zoo_gpt_generate(model, prompt, o->sample, o->temperature, o->top_k, rng);
    int rc = out && dc_copy_to(out, DC_I64, ids, (size_t)(n_prompt + o->sample) * sizeof *ids) ==
                 DC_OK ? 0 : -1;
    dc_scope_end(s);
    if (rc == 0) {
        printf("--- sample (temperature %g, top-k %lld) ---\n", o->temperature,
               (long long)o->top_k);
        for (int64_t i = 0; i < n_prompt + o->sample; i++) putchar(c->chars[ids[i]]);
        printf("\n--- end of sample ---\n");
    }
    free(ids);
    return rc;
}

/* Saves the model, loads the file into a freshly built one (other initial
 * weights), and returns the largest logit difference between the two on
 * a held-out batch (0 when the round trip is exact), or -1 on error. */
static double reload_difference(dc_module *model, const corpus *c, const options *o) {
    if (dc_module_save(model, o->save) != DC_OK) return -1;
    dc_rng *other = dc_rng_new(o->seed + 1000);
    dc_module *fresh = dc_zoo_gpt_new(c->vocab, o->context, o->layers, o->heads, o->d_model, 0.0,
                                      other);
    double diff = -1;
    if (fresh && dc_module_load(fresh, o->save, 1) == DC_OK) {
        int64_t offsets[4];
        for (int b = 0; b < 4; b++) offsets[b] = c->n_train + b * o->context;
        dc_module_set_training(model, 0);
        dc_module_set_training(fresh, 0);
        int prev = dc_set_grad_enabled(0);
        dc_scope *s = dc_scope_begin();
        dc_tensor *x, *y;
        if (make_batch(c, offsets, 4, o->context, &x, &y) == 0) {
            dc_tensor *gap = dc_max(dc_abs(dc_sub(dc_module_forward(model, x),
                                                  dc_module_forward(fresh, x))), NULL, 0, 0);
            if (dc_item(gap, &diff) != DC_OK) diff = -1;
        }
        dc_scope_end(s);
        dc_set_grad_enabled(prev);
        dc_module_set_training(model, 1);
    }
    dc_module_release(fresh);
    dc_rng_free(other);
    return diff;
}

/* ------------------------------------------------------------------ */
/* Training                                                            */
/* ------------------------------------------------------------------ */

/* AdamW with warm-up over the first tenth of the steps, then a cosine to
 * a tenth of the peak rate. */
static dc_sched *make_schedule(dc_optim *opt, const options *o) {
    int64_t warmup = o->steps / 10 > 0 ? o->steps / 10 : 1;
    int64_t rest = o->steps - warmup > 0 ? o->steps - warmup : 1;
    dc_sched *warm = dc_sched_linear_new(opt, 1.0 / (double)warmup, 1.0, warmup);
    dc_sched *cosine = dc_sched_cosine_new(opt, rest, o->lr / 10);
    dc_sched *both = warm && cosine
        ? dc_sched_sequential_new(opt, (dc_sched *[]){warm, cosine}, 2, (int64_t[]){warmup})
        : NULL;
    dc_sched_release(warm);
    dc_sched_release(cosine);
    return both;
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    corpus c;
    if (load_corpus(&o, &c) != 0) return 1;
    if (dc_set_num_threads(o.threads) != DC_OK) return fail("setting the thread count");

    dc_rng *rng = dc_rng_new(o.seed);
    dc_module *model = dc_zoo_gpt_new(c.vocab, o.context, o.layers, o.heads, o.d_model, 0.0, rng);
    if (!model) return fail("building the model");
    int64_t n_params = dc_module_param_count(model), n_weights = 0;
    dc_tensor **params = calloc((size_t)n_params, sizeof *params);
    if (!params) return 1;
    for (int64_t i = 0; i < n_params; i++) {
        if (!(params[i] = dc_module_param(model, i))) return fail("listing the parameters");
        n_weights += dc_numel(params[i]);
    }
    dc_optim *opt = dc_adamw_new(params, (int)n_params, o.lr, 0.9, 0.95, 1e-8, 0.01, 0);
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_sched *sched = opt ? make_schedule(opt, &o) : NULL;
    if (!opt || !ce || !sched) return fail("setting up training");
    printf("GPT: %lld layers, d_model %lld, %lld heads, context %lld, %lld parameters; batch "
           "%lld, AdamW peak lr %g, %ld steps, %d threads\n", (long long)o.layers,
           (long long)o.d_model, (long long)o.heads, (long long)o.context, (long long)n_weights,
           (long long)o.batch, o.lr, o.steps, dc_get_num_threads());

    double first_val = held_out_loss(model, ce, &c, &o), val = first_val;
    printf("before training: held-out loss %.4f (a uniform guess: %.4f)\n", first_val,
           log((double)c.vocab));
    uint64_t batch_state = o.seed;
    long report_every = o.steps >= 10 ? o.steps / 10 : 1;
    double train_sum = 0, start = now_seconds();
    int since_report = 0;
    for (long step = 1; step <= o.steps; step++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *x, *y;
        double value = NAN;
        if (random_batch(&c, &o, &batch_state, &x, &y) != 0) return fail("making a batch");
        dc_tensor *loss = lm_loss(model, ce, x, y, c.vocab);
        if (!loss || dc_item(loss, &value) != DC_OK || dc_optim_zero_grad(opt) != DC_OK ||
            dc_backward(loss, NULL, 0) != DC_OK ||
            dc_clip_grad_norm(params, (int)n_params, 1.0, 2.0, NULL) != DC_OK ||
            dc_optim_step(opt) != DC_OK || dc_sched_step(sched) != DC_OK)
            return fail("a training step");
        dc_scope_end(s);
        train_sum += value;
        since_report++;
        if (step % report_every == 0 || step == o.steps) {
            val = held_out_loss(model, ce, &c, &o);
            double elapsed = now_seconds() - start;
            printf("step %5ld  train loss %.4f  held-out loss %.4f  lr %.2e  %.2f s/step\n", step,
                   train_sum / since_report, val, dc_optim_get_lr(opt, 0), elapsed / (double)step);
            train_sum = 0;
            since_report = 0;
        }
    }
    double train_seconds = now_seconds() - start;
    printf("trained in %.1f s (%.1f s of CPU time in all)\n", train_seconds,
           (double)clock() / CLOCKS_PER_SEC);

    if (print_sample(model, &c, &o, rng) != 0) return fail("sampling");
    double diff = reload_difference(model, &c, &o);
    if (diff < 0) return fail("saving and reloading");
    printf("saved to %s and reloaded into a fresh model: largest logit difference %g (%s)\n",
           o.save, diff, diff == 0 ? "identical" : "MISMATCH");

    int learned = val < 0.8 * first_val;
    printf("held-out loss %.4f -> %.4f: %s\n", first_val, val,
           learned ? "learned" : "did NOT fall enough (below 80% of the start)");
    for (int64_t i = 0; i < n_params; i++) dc_release(params[i]);
    free(params);
    dc_sched_release(sched);
    dc_optim_release(opt);
    dc_loss_release(ce);
    dc_module_release(model);
    dc_rng_free(rng);
    free(c.tokens);
    return learned && diff == 0 ? 0 : 2;
}
