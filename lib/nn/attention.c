/* Multi-head attention and the pre-norm transformer block.
 *
 * MultiheadAttention follows torch.nn.MultiheadAttention(batch_first=True):
 * a fused in-projection in_proj_weight (3E, E) / in_proj_bias (3E) whose
 * rows are the q, k and v projections in that order, heads split as
 * (B, L, E) -> (B, L, heads, E / heads) -> (B, heads, L, E / heads), scaled
 * dot-product attention per head, heads merged back and out_proj (a
 * Linear). Masks follow dc_scaled_dot_product_attention: a DC_BOOL entry
 * that is 1 (true) lets the query attend to that key, 0 masks it out (the
 * opposite of the bool attn_mask of nn.MultiheadAttention, where True
 * masks); a floating mask is added to the scores. Everything is composed
 * of differentiable public ops, so autodiff needs nothing of its own. */
#include "module.h"
#include "../ops/op_util.h"

#include <math.h>

/* ---------------------------------------------------------------- */
/* Multi-head attention                                              */
/* ---------------------------------------------------------------- */

typedef struct mha_impl {
    int64_t embed_dim;
    int64_t num_heads;
} mha_impl;

static dc_tensor *mha_module_forward(dc_module *m, dc_tensor *x);

static const dc_module_vtable mha_vtable = {"MultiheadAttention", mha_module_forward, NULL};

/* Takes over the caller's reference to child (also on failure). */
static dc_status add_owned_child(dc_module *m, const char *name, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc__module_add_child(m, name, child);
    dc_module_release(child);
    return st;
}

static bool mha_config_ok(int64_t embed_dim, int64_t num_heads, const char *f) {
    if (embed_dim < 1 || num_heads < 1) {
        dc__fail(DC_E_INVALID, "%s: embed_dim (%lld) and num_heads (%lld) must be >= 1", f,
                 (long long)embed_dim, (long long)num_heads);
        return false;
    }
    if (embed_dim % num_heads != 0) {
        dc__fail(DC_E_INVALID, "%s: num_heads (%lld) does not divide embed_dim (%lld)", f,
                 (long long)num_heads, (long long)embed_dim);
        return false;
    }
    if (embed_dim > INT64_MAX / 3) {
        dc__fail(DC_E_OVERFLOW, "%s: embed_dim %lld is too large", f, (long long)embed_dim);
        return false;
    }
    return true;
}

/* in_proj_weight xavier-uniform, in_proj_bias and out_proj.bias zero:
 * PyTorch's _reset_parameters (out_proj.weight keeps Linear's init). */
static dc_status mha_add_params(dc_module *m, int64_t e, int bias, dc_rng *rng) {
    dc_tensor *w = dc__tensor_new(DC_F32, 2, (const int64_t[]){3 * e, e}, false);
    if (!w) return dc_last_status();
    dc_status st = dc_init_xavier_uniform(w, 1.0, rng);
    if (st != DC_OK) {
        dc_release(w);
        return st;
    }
    if ((st = dc__module_add_param(m, "in_proj_weight", w)) != DC_OK) return st;
    if (bias) {
        dc_tensor *b = dc__tensor_new(DC_F32, 1, (const int64_t[]){3 * e}, true);
        if ((st = dc__module_add_param(m, "in_proj_bias", b)) != DC_OK) return st;
    }
    dc_module *out_proj = dc_linear_new(e, e, bias, rng);
    if (out_proj && bias) {
        dc_tensor *ob = dc__module_own(out_proj, "bias");
        st = ob ? dc_fill(ob, 0.0) : dc__fail(DC_E_INTERNAL, "out_proj has no bias");
        if (st != DC_OK) {
            dc_module_release(out_proj);
            return st;
        }
    }
    return add_owned_child(m, "out_proj", out_proj);
}

dc_module *dc_multihead_attention_new(int64_t embed_dim, int64_t num_heads, int bias,
                                      dc_rng *rng) {
    if (!mha_config_ok(embed_dim, num_heads, "dc_multihead_attention_new")) return NULL;
    dc_module *m = dc__module_new(&mha_vtable, sizeof(mha_impl));
    if (!m) return NULL;
    *(mha_impl *)m->impl = (mha_impl){embed_dim, num_heads};
    if (mha_add_params(m, embed_dim, bias, rng) != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

/* x (B, L, E) -> (B, heads, L, E / heads) */
static dc_tensor *split_heads(dc_tensor *x, int64_t heads) {
    const int64_t *s = x ? dc_shape(x) : NULL;   /* NULL keeps the error of a chain */
    if (!s) return NULL;
    int64_t shape[4] = {s[0], s[1], heads, s[2] / heads};
    return dc_transpose(dc_reshape(x, 4, shape), 1, 2);
}

/* (B, heads, L, D) -> (B, L, heads * D) */
static dc_tensor *merge_heads(dc_tensor *x) {
    const int64_t *s = x ? dc_shape(x) : NULL;   /* NULL keeps the error of a chain */
    if (!s) return NULL;
    int64_t shape[3] = {s[0], s[2], s[1] * s[3]};
    return dc_reshape(dc_transpose(x, 1, 2), 3, shape);
}

/* x (B, L, E) -> x W[rows]^T + b[rows], rows = part * E .. (part+1) * E - 1
 * of the fused projection (part 0: q, 1: k, 2: v). */
static dc_tensor *in_project(dc_tensor *x, dc_tensor *w, dc_tensor *b, int64_t part,
                             int64_t e) {
    dc_tensor *y = dc_matmul(x, dc_transpose(dc_narrow(w, 0, part * e, e), 0, 1));
    return b ? dc_add(y, dc_narrow(b, 0, part * e, e)) : y;
}

/* Runs in the caller's scope (every intermediate belongs to it). */
static dc_tensor *mha_compute(dc_module *m, dc_tensor *q, dc_tensor *k, dc_tensor *v,
                              dc_tensor *mask, int causal) {
    const mha_impl *cfg = m->impl;
    int64_t e = cfg->embed_dim, heads = cfg->num_heads;
    dc_tensor *w = dc__module_own(m, "in_proj_weight");
    dc_tensor *b = dc__module_own(m, "in_proj_bias");
    dc_tensor *qp, *kp, *vp;
    if (q == k && k == v) {
        /* Self-attention: one matmul for the three projections, seen as
         * (B, L, 3, heads, E / heads) so that each head of q, k and v is a
         * strided view (reshaping a narrowed q would copy it). */
        dc_tensor *qkv = dc__linear(q, w, b);
        const int64_t *qs = dc_shape(q);
        if (!qkv || !qs) return NULL;
        int64_t shape5[5] = {qs[0], qs[1], 3, heads, e / heads};
        dc_tensor *qkv5 = dc_view(qkv, 5, shape5);
        dc_tensor *part[3];
        for (int i = 0; i < 3; i++)
            part[i] = dc_transpose(dc_squeeze(dc_narrow(qkv5, 2, i, 1), 2), 1, 2);
        dc_tensor *att = dc_scaled_dot_product_attention(part[0], part[1], part[2], mask, causal,
                                                         0.0);
        dc_tensor *merged = merge_heads(att);
        if (!merged) return NULL;
        return dc_module_forward(dc__module_child_at(m, 0), merged);
    } else {
        qp = in_project(q, w, b, 0, e);
        kp = in_project(k, w, b, 1, e);
        vp = in_project(v, w, b, 2, e);
    }
    dc_tensor *att = dc_scaled_dot_product_attention(split_heads(qp, heads),
                                                     split_heads(kp, heads),
                                                     split_heads(vp, heads), mask, causal, 0.0);
    dc_tensor *merged = merge_heads(att);
    if (!merged) return NULL;
    return dc_module_forward(dc__module_child_at(m, 0), merged);
}

/* One of q, k, v: (B, *, E) of the weights' dtype. */
static bool check_seq(const dc_tensor *t, const char *arg, int64_t e, dc_dtype dt,
                      const char *f) {
    if (t->dtype != dt) {
        dc__fail(DC_E_DTYPE, "%s: %s is %s, the weights are %s", f, arg, dc_dtype_name(t->dtype),
                 dc_dtype_name(dt));
        return false;
    }
    if (t->ndim != 3 || t->shape[2] != e) {
        dc__fail(DC_E_SHAPE, "%s: %s must be (batch, length, %lld)", f, arg, (long long)e);
        return false;
    }
    return true;
}

/* mask: DC_BOOL or q's dtype, broadcastable to (B, heads, L, S). */
static bool check_mask(const dc_tensor *mask, const int64_t *want, dc_dtype dt, const char *f) {
    if (!dc__is_tensor(mask)) {
        dc__fail(DC_E_INVALID, "%s: 'mask' is not a live tensor", f);
        return false;
    }
    if (mask->dtype != DC_BOOL && mask->dtype != dt) {
        dc__fail(DC_E_DTYPE, "%s: the mask must be bool or %s, not %s", f, dc_dtype_name(dt),
                 dc_dtype_name(mask->dtype));
        return false;
    }
    int nb;
    int64_t got[DC_MAX_DIMS];
    bool fits = mask->ndim <= 4 &&
                dc__broadcast_shapes(mask->ndim, mask->shape, 4, want, &nb, got) == DC_OK;
    for (int i = 0; fits && i < 4; i++) fits = got[i] == want[i];
    if (!fits) {
        dc__fail(DC_E_SHAPE, "%s: the mask does not broadcast to (%lld, %lld, %lld, %lld) "
                 "(batch, heads, L, S)", f, (long long)want[0], (long long)want[1],
                 (long long)want[2], (long long)want[3]);
        return false;
    }
    return true;
}

static bool mha_inputs_ok(const dc_module *m, const dc_tensor *q, const dc_tensor *k,
                          const dc_tensor *v, const dc_tensor *mask, const char *f) {
    const mha_impl *cfg = m->impl;
    dc_dtype dt = dc__module_own(m, "in_proj_weight")->dtype;
    if (!check_seq(q, "q", cfg->embed_dim, dt, f) || !check_seq(k, "k", cfg->embed_dim, dt, f) ||
        !check_seq(v, "v", cfg->embed_dim, dt, f))
        return false;
    if (k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0] || k->shape[1] != v->shape[1]) {
        dc__fail(DC_E_SHAPE, "%s: q (%lld, %lld), k (%lld, %lld) and v (%lld, %lld) need one "
                 "batch size and k, v one length", f, (long long)q->shape[0],
                 (long long)q->shape[1], (long long)k->shape[0], (long long)k->shape[1],
                 (long long)v->shape[0], (long long)v->shape[1]);
        return false;
    }
    int64_t want[4] = {q->shape[0], cfg->num_heads, q->shape[1], k->shape[1]};
    return !mask || check_mask(mask, want, dt, f);
}

/* q: (B, L, E), k, v: (B, S, E), mask broadcastable to (B, heads, L, S)
 * -> (B, L, E) */
dc_tensor *dc_multihead_attention_forward(dc_module *mha, dc_tensor *q, dc_tensor *k,
                                          dc_tensor *v, dc_tensor *mask, int causal) {
    const char *f = "dc_multihead_attention_forward";
    DC_CHECK_MODULE(mha, f, NULL);
    if (mha->vt != &mha_vtable) {
        dc__fail(DC_E_INVALID, "%s: a %s is not a MultiheadAttention", f, mha->vt->kind);
        return NULL;
    }
    DC_CHECK_TENSOR_OR_NULL(q, f, "q");
    DC_CHECK_TENSOR_OR_NULL(k, f, "k");
    DC_CHECK_TENSOR_OR_NULL(v, f, "v");
    if (!mha_inputs_ok(mha, q, k, v, mask, f)) return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *out = dc_retain(mha_compute(mha, q, k, v, mask, causal));
    dc_scope_end(scope);
    return dc__publish(out);
}

static dc_tensor *mha_module_forward(dc_module *m, dc_tensor *x) {
    return dc_multihead_attention_forward(m, x, x, x, NULL, 0);
}

/* ---------------------------------------------------------------- */
/* Transformer block                                                 */
/* ---------------------------------------------------------------- */

typedef struct block_impl {
    int64_t d_model;
    double dropout;
    bool causal;
} block_impl;

enum { BLOCK_LN_1, BLOCK_ATTN, BLOCK_LN_2, BLOCK_MLP };

static dc_tensor *block_forward(dc_module *m, dc_tensor *x);

static const dc_module_vtable block_vtable = {"TransformerBlock", block_forward, NULL};

/* Linear(d, d_ff), GELU (exact), Linear(d_ff, d): children 0, 1, 2. */
static dc_module *make_mlp(int64_t d, int64_t d_ff, dc_rng *rng) {
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    dc_module *parts[3] = {dc_linear_new(d, d_ff, 1, rng), dc_activation_new(DC_ACT_GELU, 0.0),
                           dc_linear_new(d_ff, d, 1, rng)};
    dc_status st = DC_OK;
    for (int i = 0; i < 3; i++) {
        if (st == DC_OK)
            st = parts[i] ? dc_sequential_append(seq, parts[i]) : dc_last_status();
        dc_module_release(parts[i]);
    }
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

static dc_status block_add_children(dc_module *m, int64_t d, int64_t heads, int64_t d_ff,
                                    dc_rng *rng) {
    /* In this order: the state dict follows it (ln_1, attn, ln_2, mlp). */
    dc_status st = add_owned_child(m, "ln_1", dc_layer_norm_new(d, 1e-5, 1));
    if (st == DC_OK) st = add_owned_child(m, "attn", dc_multihead_attention_new(d, heads, 1, rng));
    if (st == DC_OK) st = add_owned_child(m, "ln_2", dc_layer_norm_new(d, 1e-5, 1));
    if (st == DC_OK) st = add_owned_child(m, "mlp", make_mlp(d, d_ff, rng));
    return st;
}

dc_module *dc_transformer_block_new(int64_t d_model, int64_t num_heads, int64_t d_ff,
                                    double dropout, int causal, dc_rng *rng) {
    const char *f = "dc_transformer_block_new";
    if (!mha_config_ok(d_model, num_heads, f)) return NULL;
    if (d_ff < 1) {
        dc__fail(DC_E_INVALID, "%s: d_ff (%lld) must be >= 1", f, (long long)d_ff);
        return NULL;
    }
    if (!(dropout >= 0.0 && dropout <= 1.0)) {
        dc__fail(DC_E_INVALID, "%s: dropout must be in [0, 1], not %g", f, dropout);
        return NULL;
    }
    dc_module *m = dc__module_new(&block_vtable, sizeof(block_impl));
    if (!m) return NULL;
    *(block_impl *)m->impl = (block_impl){d_model, dropout, causal != 0};
    if (block_add_children(m, d_model, num_heads, d_ff, rng) != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

/* Dropout after a sub-layer, only while training. */
static dc_tensor *block_dropout(const dc_module *m, dc_tensor *t) {
    const block_impl *cfg = m->impl;
    if (!m->training || cfg->dropout == 0.0) return t;
    return dc_dropout(t, cfg->dropout, 1, NULL);
}

/* Runs in the caller's scope. Each branch's output is read only by its
 * residual add, so the add may reuse its storage. */
static dc_tensor *block_compute(dc_module *m, dc_tensor *x) {
    const block_impl *cfg = m->impl;
    dc_tensor *a = dc_module_forward(dc__module_child_at(m, BLOCK_LN_1), x);
    a = dc_multihead_attention_forward(dc__module_child_at(m, BLOCK_ATTN), a, a, a, NULL,
                                       cfg->causal);
    x = dc__add_over(x, block_dropout(m, a));
    dc_tensor *h = dc_module_forward(dc__module_child_at(m, BLOCK_LN_2), x);
    h = dc_module_forward(dc__module_child_at(m, BLOCK_MLP), h);
    return dc__add_over(x, block_dropout(m, h));
}

/* x: (B, T, d_model) -> (B, T, d_model) */
static dc_tensor *block_forward(dc_module *m, dc_tensor *x) {
    const char *f = "dc_module_forward (TransformerBlock)";
    const block_impl *cfg = m->impl;
    dc_dtype dt = dc__module_own(dc__module_child_at(m, BLOCK_ATTN), "in_proj_weight")->dtype;
    if (x->dtype != dt) {
        dc__fail(DC_E_DTYPE, "%s: x is %s, the weights are %s", f, dc_dtype_name(x->dtype),
                 dc_dtype_name(dt));
        return NULL;
    }
    if (x->ndim != 3 || x->shape[2] != cfg->d_model) {
        dc__fail(DC_E_SHAPE, "%s: x must be (batch, time, %lld)", f, (long long)cfg->d_model);
        return NULL;
    }
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *out = dc_retain(block_compute(m, x));
    dc_scope_end(scope);
    return dc__publish(out);
}
