/* GPT (a decoder-only transformer), sampling from it, and a BERT-style
 * classifier.
 *
 * Both models share one trunk: token and position embeddings added,
 * dropout, a Sequential of pre-norm transformer blocks and a final
 * LayerNorm. GPT ties its output layer to the token embedding (logits =
 * x wte.weight^T, as GPT-2), so there is no separate head parameter; the
 * classifier puts a Linear on position 0.
 *
 * Children, in state-dict order:
 *   GPT:  wte, wpe, drop, h (h.0, h.1, ...), ln_f
 *   BERT: tok_emb, pos_emb, drop, blocks (blocks.0, ...), ln_f, head */
#include "../nn/module.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TR_TOK, TR_POS, TR_DROP, TR_BLOCKS, TR_LN_F, TR_HEAD };

typedef struct trunk_impl {
    int64_t vocab, context, d_model;
} trunk_impl;

static dc_tensor *gpt_forward(dc_module *m, dc_tensor *tokens);
static dc_tensor *bert_forward(dc_module *m, dc_tensor *tokens);

static const dc_module_vtable gpt_vt = {"GPT", gpt_forward, NULL};
static const dc_module_vtable bert_vt = {"BertClassifier", bert_forward, NULL};

/* ---------------------------------------------------------------- */
/* Construction                                                      */
/* ---------------------------------------------------------------- */

/* Adds child to m under name and drops the caller's reference (also on
 * failure). */
static dc_status add_owned_child(dc_module *m, const char *name, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc__module_add_child(m, name, child);
    dc_module_release(child);
    return st;
}

static dc_module *blocks_new(int64_t n_layer, int64_t n_head, int64_t d, double dropout,
                             int causal, dc_rng *rng) {
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    dc_status st = DC_OK;
    for (int64_t i = 0; i < n_layer && st == DC_OK; i++) {
        dc_module *block = dc_transformer_block_new(d, n_head, 4 * d, dropout, causal, rng);
        st = block ? dc_sequential_append(seq, block) : dc_last_status();
        dc_module_release(block);
    }
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* GPT-2's initialisation: every Linear and Embedding weight (and the
 * fused attention in-projection, GPT-2's c_attn) normal(0, 0.02), every
 * bias zero, LayerNorms left at 1 and 0. The projections that write into
 * the residual stream (attn.out_proj.weight, mlp.2.weight; GPT-2's c_proj)
 * get std 0.02 / sqrt(2 n_layer), so that the sum of 2 n_layer residual
 * contributions keeps the scale of the stream. residual_scaling 0 leaves
 * them at 0.02 (the classifier, as BERT). */
static dc_status init_weights(dc_module *m, int64_t n_layer, bool residual_scaling,
                              dc_rng *rng) {
    double residual_std = 0.02 / sqrt(2.0 * (double)n_layer);
    for (int64_t i = 0; i < m->n_flat; i++) {
        const char *name = m->flat[i].name;
        dc_tensor *t = m->flat[i].tensor;
        dc_status st = DC_OK;
        if (!m->flat[i].is_param) continue;
        if (ends_with(name, "bias") && t->ndim == 1) {
            st = dc_fill(t, 0.0);
        } else if (ends_with(name, "weight") && t->ndim >= 2) {
            bool residual = ends_with(name, "attn.out_proj.weight") || ends_with(name, "mlp.2.weight");
            st = dc_init_normal(t, 0.0, residual && residual_scaling ? residual_std : 0.02, rng);
        }
        if (st != DC_OK) return st;
    }
    return DC_OK;
}

static bool trunk_args_ok(const char *f, int64_t vocab, int64_t context, int64_t n_layer,
                          int64_t n_head, int64_t d_model, double dropout) {
    if (vocab < 1 || context < 1 || n_layer < 1 || n_head < 1 || d_model < 1) {
        dc__fail(DC_E_INVALID, "%s: vocab (%lld), context (%lld), n_layer (%lld), n_head "
                 "(%lld) and d_model (%lld) must be >= 1", f, (long long)vocab,
                 (long long)context, (long long)n_layer, (long long)n_head, (long long)d_model);
        return false;
    }
    if (d_model % n_head != 0) {
        dc__fail(DC_E_INVALID, "%s: n_head (%lld) does not divide d_model (%lld)", f,
                 (long long)n_head, (long long)d_model);
        return false;
    }
    if (d_model > INT64_MAX / 4) {
        dc__fail(DC_E_OVERFLOW, "%s: d_model %lld is too large (the MLP is 4 d_model wide)", f,
                 (long long)d_model);
        return false;
    }
    if (!(dropout >= 0.0 && dropout < 1.0)) {
        dc__fail(DC_E_INVALID, "%s: dropout %g must lie in [0, 1)", f, dropout);
        return false;
    }
    return true;
}

/* The shared trunk under the given child names (tok, pos, blocks). */
static dc_module *trunk_new(const dc_module_vtable *vt, const char *const names[3],
                            int64_t vocab, int64_t context, int64_t n_layer, int64_t n_head,
                            int64_t d_model, double dropout, int causal, dc_rng *rng) {
    dc_module *m = dc__module_new(vt, sizeof(trunk_impl));
    if (!m) return NULL;
    *(trunk_impl *)m->impl = (trunk_impl){vocab, context, d_model};
    dc_status st = add_owned_child(m, names[0], dc_embedding_new(vocab, d_model, rng));
    if (st == DC_OK) st = add_owned_child(m, names[1], dc_embedding_new(context, d_model, rng));
    if (st == DC_OK) st = add_owned_child(m, "drop", dc_dropout_new(dropout));
    if (st == DC_OK)
        st = add_owned_child(m, names[2], blocks_new(n_layer, n_head, d_model, dropout, causal,
                                                     rng));
    if (st == DC_OK) st = add_owned_child(m, "ln_f", dc_layer_norm_new(d_model, 1e-5, 1));
    if (st != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

dc_module *dc_zoo_gpt_new(int64_t vocab, int64_t context, int64_t n_layer, int64_t n_head,
                          int64_t d_model, double dropout, dc_rng *rng) {
    if (!trunk_args_ok("dc_zoo_gpt_new", vocab, context, n_layer, n_head, d_model, dropout))
        return NULL;
    static const char *const names[3] = {"wte", "wpe", "h"};
    dc_module *m = trunk_new(&gpt_vt, names, vocab, context, n_layer, n_head, d_model, dropout,
                             1, rng);
    if (m && init_weights(m, n_layer, true, rng) != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

dc_module *dc_zoo_bert_classifier_new(int64_t vocab, int64_t context, int64_t n_layer,
                                      int64_t n_head, int64_t d_model, int64_t num_classes,
                                      double dropout, dc_rng *rng) {
    const char *f = "dc_zoo_bert_classifier_new";
    if (!trunk_args_ok(f, vocab, context, n_layer, n_head, d_model, dropout)) return NULL;
    if (num_classes < 1) {
        dc__fail(DC_E_INVALID, "%s: num_classes (%lld) must be >= 1", f, (long long)num_classes);
        return NULL;
    }
    static const char *const names[3] = {"tok_emb", "pos_emb", "blocks"};
    dc_module *m = trunk_new(&bert_vt, names, vocab, context, n_layer, n_head, d_model, dropout,
                             0, rng);
    if (!m) return NULL;
    dc_status st = add_owned_child(m, "head", dc_linear_new(d_model, num_classes, 1, rng));
    if (st == DC_OK) st = init_weights(m, n_layer, false, rng);
    if (st != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

static bool tokens_ok(const dc_module *m, const dc_tensor *tokens) {
    const trunk_impl *cfg = m->impl;
    if (tokens->ndim != 2) {
        dc__fail(DC_E_SHAPE, "dc_module_forward (%s): the tokens have %d dims; expects "
                 "(batch, time)", m->vt->kind, tokens->ndim);
        return false;
    }
    int64_t t = tokens->shape[1];
    if (t < 1 || t > cfg->context) {
        dc__fail(DC_E_SHAPE, "dc_module_forward (%s): %lld time steps; the model takes 1 to "
                 "%lld (its context)", m->vt->kind, (long long)t, (long long)cfg->context);
        return false;
    }
    return true;
}

/* Runs in the caller's scope. tokens: (B, T) -> (B, T, d_model), after
 * the final LayerNorm. */
static dc_tensor *trunk_compute(dc_module *m, dc_tensor *tokens) {
    int64_t t = tokens->shape[1];
    dc_tensor *pos = dc_arange(DC_I64, 0.0, (double)t, 1.0);
    dc_tensor *x = dc_add(dc_module_forward(dc__module_child_at(m, TR_TOK), tokens),
                          dc_module_forward(dc__module_child_at(m, TR_POS), pos));
    x = dc_module_forward(dc__module_child_at(m, TR_DROP), x);
    x = dc_module_forward(dc__module_child_at(m, TR_BLOCKS), x);
    return dc_module_forward(dc__module_child_at(m, TR_LN_F), x);
}

/* (B, T, d) -> (B, T, vocab): x wte.weight^T, the tied output layer */
static dc_tensor *gpt_compute(dc_module *m, dc_tensor *tokens) {
    dc_tensor *wte = dc__module_own(dc__module_child_at(m, TR_TOK), "weight");
    return dc_matmul(trunk_compute(m, tokens), dc_transpose(wte, 0, 1));
}

/* (B, T, d) -> position 0: (B, d) -> (B, classes) */
static dc_tensor *bert_compute(dc_module *m, dc_tensor *tokens) {
    dc_tensor *first = dc_squeeze(dc_narrow(trunk_compute(m, tokens), 1, 0, 1), 1);
    if (!first) return NULL;
    return dc_module_forward(dc__module_child_at(m, TR_HEAD), first);
}

static dc_tensor *run_in_scope(dc_tensor *(*fn)(dc_module *, dc_tensor *), dc_module *m,
                               dc_tensor *tokens) {
    if (!tokens_ok(m, tokens)) return NULL;
    dc_scope *s = dc_scope_begin();
    if (!s) return NULL;
    dc_tensor *y = dc_retain(fn(m, tokens));
    dc_scope_end(s);
    return dc__publish(y);
}

static dc_tensor *gpt_forward(dc_module *m, dc_tensor *tokens) {
    return run_in_scope(gpt_compute, m, tokens);
}

static dc_tensor *bert_forward(dc_module *m, dc_tensor *tokens) {
    return run_in_scope(bert_compute, m, tokens);
}

/* ---------------------------------------------------------------- */
/* Generation                                                        */
/* ---------------------------------------------------------------- */

/* The training flags of a module tree, saved depth first so that
 * generation can put back exactly what it found. */
static int64_t count_modules(const dc_module *m) {
    int64_t n = 1;
    for (int64_t i = 0; i < m->n_children; i++) n += count_modules(m->children[i].module);
    return n;
}

static void save_modes(const dc_module *m, bool *modes, int64_t *at) {
    modes[(*at)++] = m->training;
    for (int64_t i = 0; i < m->n_children; i++) save_modes(m->children[i].module, modes, at);
}

static void restore_modes(dc_module *m, const bool *modes, int64_t *at) {
    m->training = modes[(*at)++];
    for (int64_t i = 0; i < m->n_children; i++) restore_modes(m->children[i].module, modes, at);
}

/* Index of the largest allowed logit (the first one on ties). */
static int64_t argmax_of(const double *logits, const bool *allowed, int64_t v) {
    int64_t best = -1;
    for (int64_t i = 0; i < v; i++)
        if (allowed[i] && (best < 0 || logits[i] > logits[best])) best = i;
    return best;
}

/* Descending order, NaN last. */
static int descending(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    if (isnan(a) || isnan(b)) return (isnan(a) != 0) - (isnan(b) != 0);
    return (a < b) - (a > b);
}

/* Keeps exactly the k largest logits (ties at the k-th value: the lower
 * indices first), so that k = 1 is the greedy choice. k <= 0 or >= v
 * keeps all. scratch holds v doubles. */
static void keep_top_k(const double *logits, bool *allowed, int64_t v, int64_t k,
                       double *scratch) {
    for (int64_t i = 0; i < v; i++) allowed[i] = true;
    if (k <= 0 || k >= v) return;
    memcpy(scratch, logits, (size_t)v * sizeof(double));
    qsort(scratch, (size_t)v, sizeof(double), descending);
    double kth = scratch[k - 1];
    if (isnan(kth)) return;   /* fewer than k numbers: keep them all */
    int64_t above = 0;
    for (int64_t i = 0; i < v; i++) above += logits[i] > kth;
    int64_t ties_left = k - above;
    for (int64_t i = 0; i < v; i++) {
        bool tie = logits[i] == kth && ties_left > 0;
        ties_left -= tie;
        allowed[i] = logits[i] > kth || tie;
    }
}

/* Samples from softmax(logits / temperature) over the allowed tokens by
 * inverting the cumulative distribution at one uniform draw. */
static int64_t sample_from(const double *logits, const bool *allowed, int64_t v,
                           double temperature, dc_rng *rng, double *weights) {
    int64_t best = argmax_of(logits, allowed, v);
    double total = 0.0;
    for (int64_t i = 0; i < v; i++) {
        weights[i] = allowed[i] ? exp((logits[i] - logits[best]) / temperature) : 0.0;
        total += weights[i];
    }
    double target = dc__rng_uniform(rng) * total, cumulative = 0.0;
    for (int64_t i = 0; i < v; i++) {
        cumulative += weights[i];
        if (allowed[i] && cumulative > target) return i;
    }
    return best;   /* rounding (or NaN logits) left the target unreached */
}

typedef struct gen_buffers {
    int64_t *seq;      /* prompt then new tokens */
    double *logits;    /* vocab entries, the last position's */
    double *weights;
    bool *allowed;
} gen_buffers;

/* The logits of the token after seq[0 .. n), from the last `context`
 * tokens. */
static dc_status next_logits(dc_module *gpt, const int64_t *seq, int64_t n, double *logits) {
    const trunk_impl *cfg = gpt->impl;
    int64_t t = n < cfg->context ? n : cfg->context;
    dc_scope *s = dc_scope_begin();
    if (!s) return dc_last_status();
    int64_t shape[2] = {1, t};
    dc_tensor *y = dc_module_forward(gpt, dc_from_data(DC_I64, 2, shape, seq + (n - t)));
    dc_tensor *last = dc_narrow(y, 1, t - 1, 1);
    dc_status st = last ? dc_copy_to(last, DC_F64, logits, (size_t)cfg->vocab * sizeof(double))
                        : dc_last_status();
    dc_scope_end(s);
    return st;
}

static dc_status generate_into(dc_module *gpt, gen_buffers *b, int64_t n_prompt, int64_t n_new,
                               double temperature, int64_t top_k, dc_rng *rng) {
    const trunk_impl *cfg = gpt->impl;
    for (int64_t n = n_prompt; n < n_prompt + n_new; n++) {
        dc_status st = next_logits(gpt, b->seq, n, b->logits);
        if (st != DC_OK) return st;
        keep_top_k(b->logits, b->allowed, cfg->vocab, top_k, b->weights);
        b->seq[n] = temperature == 0.0
                        ? argmax_of(b->logits, b->allowed, cfg->vocab)
                        : sample_from(b->logits, b->allowed, cfg->vocab, temperature, rng,
                                      b->weights);
    }
    return DC_OK;
}

static bool generate_args_ok(const dc_module *gpt, const dc_tensor *prompt, int64_t n_new,
                             double temperature) {
    const char *f = "dc_zoo_gpt_generate";
    if (gpt->vt != &gpt_vt) {
        dc__fail(DC_E_INVALID, "%s: the module is a %s, not a GPT of dc_zoo_gpt_new", f,
                 gpt->vt->kind);
        return false;
    }
    if (prompt->dtype != DC_I64) {
        dc__fail(DC_E_DTYPE, "%s: the prompt is %s; token ids are i64", f,
                 dc_dtype_name(prompt->dtype));
        return false;
    }
    if (prompt->ndim != 1 || prompt->numel < 1) {
        dc__fail(DC_E_SHAPE, "%s: the prompt must be 1-D with at least one token (it has %d "
                 "dims, %lld elements)", f, prompt->ndim, (long long)prompt->numel);
        return false;
    }
    if (n_new < 0 || n_new > INT64_MAX / 16 - prompt->numel) {
        dc__fail(DC_E_INVALID, "%s: n_new %lld must be >= 0 (and not absurdly large)", f,
                 (long long)n_new);
        return false;
    }
    if (!(temperature >= 0.0 && isfinite(temperature))) {
        dc__fail(DC_E_INVALID, "%s: temperature %g must be finite and >= 0", f, temperature);
        return false;
    }
    return true;
}

/* Every prompt token is a row of wte. */
static bool prompt_tokens_ok(const dc_module *gpt, const int64_t *seq, int64_t n) {
    const trunk_impl *cfg = gpt->impl;
    for (int64_t i = 0; i < n; i++) {
        if (seq[i] < 0 || seq[i] >= cfg->vocab) {
            dc__fail(DC_E_RANGE, "dc_zoo_gpt_generate: prompt token %lld is %lld, outside "
                     "0..%lld", (long long)i, (long long)seq[i], (long long)cfg->vocab - 1);
            return false;
        }
    }
    return true;
}

static void free_buffers(gen_buffers *b) {
    dc__free(b->seq);
    dc__free(b->logits);
    dc__free(b->weights);
    dc__free(b->allowed);
}

dc_tensor *dc_zoo_gpt_generate(dc_module *gpt, const dc_tensor *prompt, int64_t n_new,
                               double temperature, int64_t top_k, dc_rng *rng) {
    const char *f = "dc_zoo_gpt_generate";
    DC_CHECK_MODULE(gpt, f, NULL);
    DC_CHECK_TENSOR_OR_NULL(prompt, f, "prompt");
    if (!generate_args_ok(gpt, prompt, n_new, temperature)) return NULL;
    const trunk_impl *cfg = gpt->impl;
    int64_t n_prompt = prompt->numel, total = n_prompt + n_new;
    gen_buffers b = {dc__calloc((size_t)total, sizeof(int64_t)),
                     dc__calloc((size_t)cfg->vocab, sizeof(double)),
                     dc__calloc((size_t)cfg->vocab, sizeof(double)),
                     dc__calloc((size_t)cfg->vocab, sizeof(bool))};
    int64_t n_modules = count_modules(gpt), at = 0;
    bool *modes = dc__calloc((size_t)n_modules, sizeof(bool));
    dc_tensor *out = NULL;
    if (b.seq && b.logits && b.weights && b.allowed && modes &&
        dc_copy_to(prompt, DC_I64, b.seq, (size_t)n_prompt * sizeof(int64_t)) == DC_OK &&
        prompt_tokens_ok(gpt, b.seq, n_prompt)) {
        save_modes(gpt, modes, &at);
        dc_module_set_training(gpt, 0);
        int grad_was = dc_set_grad_enabled(0);
        dc_status st = generate_into(gpt, &b, n_prompt, n_new, temperature, top_k,
                                     rng ? rng : dc__thread_rng());
        dc_set_grad_enabled(grad_was);
        at = 0;
        restore_modes(gpt, modes, &at);
        if (st == DC_OK) out = dc_from_data(DC_I64, 1, &total, b.seq);
    }
    dc__free(modes);
    free_buffers(&b);
    return out;
}
