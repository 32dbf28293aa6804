/* Multi-head attention and the pre-norm transformer block. */
#include "../core/internal.h"

dc_module * dc_multihead_attention_new(int64_t embed_dim, int64_t num_heads, int bias, dc_rng *rng) {
    (void)embed_dim;
    (void)num_heads;
    (void)bias;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_multihead_attention_forward(dc_module *mha, dc_tensor *q, dc_tensor *k, dc_tensor *v, dc_tensor *mask, int causal) {
    (void)mha;
    (void)q;
    (void)k;
    (void)v;
    (void)mask;
    (void)causal;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_transformer_block_new(int64_t d_model, int64_t num_heads, int64_t d_ff, double dropout, int causal, dc_rng *rng) {
    (void)d_model;
    (void)num_heads;
    (void)d_ff;
    (void)dropout;
    (void)causal;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
