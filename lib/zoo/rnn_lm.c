/* A recurrent language model: Embedding - RNN/LSTM/GRU (batch first) -
 * Linear back to the vocabulary. Children embed, rnn, head. */
#include "../nn/module.h"

enum { LM_EMBED, LM_RNN, LM_HEAD };

/* Runs in the caller's scope. tokens: (B, T) -> (B, T, embed) -> (B, T,
 * hidden) -> (B, T, vocab) */
static dc_tensor *rnn_lm_compute(dc_module *m, dc_tensor *tokens) {
    dc_tensor *x = dc_module_forward(dc__module_child_at(m, LM_EMBED), tokens);
    x = dc_module_forward(dc__module_child_at(m, LM_RNN), x);
    return dc_module_forward(dc__module_child_at(m, LM_HEAD), x);
}

static dc_tensor *rnn_lm_forward(dc_module *m, dc_tensor *tokens) {
    if (tokens->ndim != 2) {
        dc__fail(DC_E_SHAPE, "dc_module_forward (RNNLanguageModel): the tokens have %d dims; "
                 "expects (batch, time)", tokens->ndim);
        return NULL;
    }
    dc_scope *s = dc_scope_begin();
    if (!s) return NULL;
    dc_tensor *y = dc_retain(rnn_lm_compute(m, tokens));
    dc_scope_end(s);
    return dc__publish(y);
}

static const dc_module_vtable rnn_lm_vt = {"RNNLanguageModel", rnn_lm_forward, NULL};

/* Adds child to m under name and drops the caller's reference (also on
 * failure). */
static dc_status add_owned_child(dc_module *m, const char *name, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc__module_add_child(m, name, child);
    dc_module_release(child);
    return st;
}

dc_module *dc_zoo_rnn_lm_new(dc_rnn_kind kind, int64_t vocab, int64_t embed_dim,
                             int64_t hidden, int64_t num_layers, dc_rng *rng) {
    const char *f = "dc_zoo_rnn_lm_new";
    if (kind != DC_RNN_TANH && kind != DC_RNN_LSTM && kind != DC_RNN_GRU) {
        dc__fail(DC_E_INVALID, "%s: unknown recurrent kind %d", f, (int)kind);
        return NULL;
    }
    if (vocab < 1 || embed_dim < 1 || hidden < 1 || num_layers < 1) {
        dc__fail(DC_E_INVALID, "%s: vocab (%lld), embed_dim (%lld), hidden (%lld) and "
                 "num_layers (%lld) must be >= 1", f, (long long)vocab, (long long)embed_dim,
                 (long long)hidden, (long long)num_layers);
        return NULL;
    }
    dc_module *m = dc__module_new(&rnn_lm_vt, 0);
    if (!m) return NULL;
    dc_status st = add_owned_child(m, "embed", dc_embedding_new(vocab, embed_dim, rng));
    if (st == DC_OK)
        st = add_owned_child(m, "rnn", dc_rnn_new(kind, embed_dim, hidden, num_layers, 1, 1, rng));
    if (st == DC_OK) st = add_owned_child(m, "head", dc_linear_new(hidden, vocab, 1, rng));
    if (st != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}
