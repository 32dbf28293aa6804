/* LSTM and GRU cells. */
#include "../core/internal.h"
#include "op_util.h"

dc_status dc_lstm_cell(dc_tensor *x, dc_tensor *h, dc_tensor *c, dc_tensor *w_ih, dc_tensor *w_hh, dc_tensor *b_ih, dc_tensor *b_hh, dc_tensor **h_out, dc_tensor **c_out) {
    (void)x;
    (void)h;
    (void)c;
    (void)w_ih;
    (void)w_hh;
    (void)b_ih;
    (void)b_hh;
    (void)h_out;
    (void)c_out;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_tensor * dc_gru_cell(dc_tensor *x, dc_tensor *h, dc_tensor *w_ih, dc_tensor *w_hh, dc_tensor *b_ih, dc_tensor *b_hh) {
    (void)x;
    (void)h;
    (void)w_ih;
    (void)w_hh;
    (void)b_ih;
    (void)b_hh;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}
