/* A recurrent language model. */
#include "../core/internal.h"

dc_module * dc_zoo_rnn_lm_new(dc_rnn_kind kind, int64_t vocab, int64_t embed_dim, int64_t hidden, int64_t num_layers, dc_rng *rng) {
    (void)kind;
    (void)vocab;
    (void)embed_dim;
    (void)hidden;
    (void)num_layers;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
