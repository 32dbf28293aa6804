/* GPT, sampling, and a BERT-style classifier. */
#include "../core/internal.h"

dc_module * dc_zoo_gpt_new(int64_t vocab, int64_t context, int64_t n_layer, int64_t n_head, int64_t d_model, double dropout, dc_rng *rng) {
    (void)vocab;
    (void)context;
    (void)n_layer;
    (void)n_head;
    (void)d_model;
    (void)dropout;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_zoo_gpt_generate(dc_module *gpt, const dc_tensor *prompt, int64_t n_new, double temperature, int64_t top_k, dc_rng *rng) {
    (void)gpt;
    (void)prompt;
    (void)n_new;
    (void)temperature;
    (void)top_k;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_zoo_bert_classifier_new(int64_t vocab, int64_t context, int64_t n_layer, int64_t n_head, int64_t d_model, int64_t num_classes, double dropout, dc_rng *rng) {
    (void)vocab;
    (void)context;
    (void)n_layer;
    (void)n_head;
    (void)d_model;
    (void)num_classes;
    (void)dropout;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
