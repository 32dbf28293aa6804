/* Stacked RNN, LSTM and GRU layers. */
#include "../core/internal.h"

dc_module * dc_rnn_new(dc_rnn_kind kind, int64_t input_size, int64_t hidden_size, int64_t num_layers, int bias, int batch_first, dc_rng *rng) {
    (void)kind;
    (void)input_size;
    (void)hidden_size;
    (void)num_layers;
    (void)bias;
    (void)batch_first;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_rnn_forward(dc_module *rnn, dc_tensor *x, dc_tensor *h0, dc_tensor *c0, dc_tensor **out, dc_tensor **h_n, dc_tensor **c_n) {
    (void)rnn;
    (void)x;
    (void)h0;
    (void)c0;
    (void)out;
    (void)h_n;
    (void)c_n;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
