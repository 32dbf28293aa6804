/* The time loop of one LSTM layer as one differentiable op
 * (lib/ops/lstm_fused.c), used by the LSTM module (lib/nn/rnn.c) and by
 * dc_lstm_cell (a sequence of one step). */
#ifndef DEEPCORE_LSTM_FUSED_H
#define DEEPCORE_LSTM_FUSED_H

#include "../core/internal.h"

/* xp: (B, T, 4H) when batch_first, else (T, B, 4H): the input projection
 * x W_ih^T + b_ih + b_hh of every step; w_hh: (4H, H); h0, c0: (B, H).
 * Runs, for t = 0 .. T-1 (gates i, f, g, o in that order, as PyTorch):
 *     i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of xp_t + h_{t-1} W_hh^T
 *     c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
 * and returns the hidden states h_0 .. h_{T-1} in xp's layout, (B, T, H)
 * or (T, B, H); with_c: instead a 1-D tensor of B T H + B H elements,
 * those states followed by the last cell state c_{T-1} (B, H), for the
 * caller to take views of (one op has one output).
 *
 * The caller checks the arguments: one floating dtype, the shapes above,
 * T >= 1. Any strides work (non-contiguous inputs are copied). The new
 * reference belongs to the innermost open scope; NULL on failure. */
dc_tensor *dc__lstm_layer(dc_tensor *xp, dc_tensor *w_hh, dc_tensor *h0, dc_tensor *c0,
                          bool batch_first, bool with_c);

#endif
