/* Dropout, embedding lookup, scaled dot-product attention. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_dropout(dc_tensor *x, double p, int training, dc_rng *rng) {
    (void)x;
    (void)p;
    (void)training;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_embedding(dc_tensor *weight, const dc_tensor *indices) {
    (void)weight;
    (void)indices;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_scaled_dot_product_attention(dc_tensor *q, dc_tensor *k, dc_tensor *v, dc_tensor *mask, int causal, double scale) {
    (void)q;
    (void)k;
    (void)v;
    (void)mask;
    (void)causal;
    (void)scale;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
