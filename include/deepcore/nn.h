/*
 * libdeepcore — neural-network ops, layers (modules) and losses.
 * Included by deepcore/deepcore.h; do not include it on its own.
 *
 * Names, defaults and numbers follow PyTorch 1.13 (torch.nn and
 * torch.nn.functional), so code ports line by line.
 */
#ifndef DEEPCORE_NN_H
#define DEEPCORE_NN_H

#ifndef DEEPCORE_DEEPCORE_H
#error "include <deepcore/deepcore.h>, not <deepcore/nn.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Neural-network ops (all differentiable)                             */
/* ------------------------------------------------------------------ */

/* Convolutions, as torch.nn.functional.conv1d / conv2d (cross-correlation).
 * x: (N, C_in, L) or (N, C_in, H, W); w: (C_out, C_in / groups, K) or
 * (C_out, C_in / groups, KH, KW); b: (C_out) or NULL. For conv2d the
 * stride, padding and dilation arrays hold (h, w); NULL means the default
 * (stride 1, padding 0, dilation 1). groups >= 1 divides C_in and C_out. */
DC_API dc_tensor *dc_conv1d(dc_tensor *x, dc_tensor *w, dc_tensor *b,
                            int64_t stride, int64_t padding,
                            int64_t dilation, int64_t groups);
DC_API dc_tensor *dc_conv2d(dc_tensor *x, dc_tensor *w, dc_tensor *b,
                            const int64_t *stride, const int64_t *padding,
                            const int64_t *dilation, int64_t groups);
/* Pooling over (N, C, H, W). kernel (h, w) is required; stride NULL means
 * the kernel size; padding NULL means 0 (at most half the kernel). Padding
 * of max pooling never wins; avg pooling counts padded zeros when
 * count_include_pad is set (PyTorch's default is 1). */
DC_API dc_tensor *dc_max_pool2d(dc_tensor *x, const int64_t *kernel,
                                const int64_t *stride,
                                const int64_t *padding);
DC_API dc_tensor *dc_avg_pool2d(dc_tensor *x, const int64_t *kernel,
                                const int64_t *stride,
                                const int64_t *padding,
                                int count_include_pad);
/* (N, C, H, W) -> (N, C, out_h, out_w), PyTorch's bin boundaries. */
DC_API dc_tensor *dc_adaptive_avg_pool2d(dc_tensor *x, int64_t out_h,
                                         int64_t out_w);

/* Batch normalisation over axis 1 of (N, C) or (N, C, ...). training:
 * normalise with the batch statistics (biased variance) and, when the
 * running tensors are given, update them in place with momentum (running
 * variance gets the unbiased batch variance, as PyTorch). Not training:
 * normalise with running_mean / running_var (required then). weight and
 * bias (C) may be NULL. */
DC_API dc_tensor *dc_batch_norm(dc_tensor *x, dc_tensor *running_mean,
                                dc_tensor *running_var, dc_tensor *weight,
                                dc_tensor *bias, int training,
                                double momentum, double eps);
/* Normalises over the last normalized_ndim axes; weight/bias (those axes'
 * shape) may be NULL. */
DC_API dc_tensor *dc_layer_norm(dc_tensor *x, int normalized_ndim,
                                dc_tensor *weight, dc_tensor *bias,
                                double eps);
/* Zeroes each element with probability p and scales the rest by 1/(1-p)
 * when training; identity otherwise (a new reference to x). p == 1 gives
 * x * 0. rng NULL: the thread's generator. */
DC_API dc_tensor *dc_dropout(dc_tensor *x, double p, int training,
                             dc_rng *rng);
/* Rows of weight (num, dim) picked by indices (any shape, i32/i64):
 * result shape indices.shape + (dim). An index outside 0..num-1 is
 * DC_E_RANGE. */
DC_API dc_tensor *dc_embedding(dc_tensor *weight, const dc_tensor *indices);
/* softmax(q k^T * scale + mask) v over (..., L, E) and (..., S, E) inputs.
 * mask: NULL, or a DC_BOOL tensor broadcastable to (..., L, S) where 0
 * masks a position out, or a floating tensor added to the scores. causal:
 * position i sees only j <= i (top-left aligned when L != S). scale <= 0
 * means 1/sqrt(E). A row with every position masked gives NaN, as in
 * PyTorch. */
DC_API dc_tensor *dc_scaled_dot_product_attention(dc_tensor *q, dc_tensor *k,
                                                  dc_tensor *v,
                                                  dc_tensor *mask,
                                                  int causal, double scale);
/* One LSTM step (gate order i, f, g, o as PyTorch). x: (B, I); h, c:
 * (B, H); w_ih: (4H, I); w_hh: (4H, H); biases (4H) or NULL. Stores new
 * references in *h_out and *c_out (two views of one storage; writing into
 * one in place counts as a change of both for autodiff). */
DC_API dc_status dc_lstm_cell(dc_tensor *x, dc_tensor *h, dc_tensor *c,
                              dc_tensor *w_ih, dc_tensor *w_hh,
                              dc_tensor *b_ih, dc_tensor *b_hh,
                              dc_tensor **h_out, dc_tensor **c_out);
/* One GRU step (gates r, z, n as PyTorch). w_ih: (3H, I); w_hh: (3H, H). */
DC_API dc_tensor *dc_gru_cell(dc_tensor *x, dc_tensor *h, dc_tensor *w_ih,
                              dc_tensor *w_hh, dc_tensor *b_ih,
                              dc_tensor *b_hh);

/* ------------------------------------------------------------------ */
/* Initialisers (in place, no recording), as torch.nn.init             */
/* ------------------------------------------------------------------ */

/* fan_in / fan_out as PyTorch computes them for a weight of that shape. */
DC_API dc_status dc_init_uniform(dc_tensor *t, double low, double high,
                                 dc_rng *rng);
DC_API dc_status dc_init_normal(dc_tensor *t, double mean, double std,
                                dc_rng *rng);
DC_API dc_status dc_init_xavier_uniform(dc_tensor *t, double gain,
                                        dc_rng *rng);
DC_API dc_status dc_init_xavier_normal(dc_tensor *t, double gain,
                                       dc_rng *rng);
/* a: the negative slope of the rectifier after the layer (0 for ReLU);
 * fan_out: use fan_out instead of fan_in. Gain sqrt(2 / (1 + a^2)). */
DC_API dc_status dc_init_kaiming_uniform(dc_tensor *t, double a, int fan_out,
                                         dc_rng *rng);
DC_API dc_status dc_init_kaiming_normal(dc_tensor *t, double a, int fan_out,
                                        dc_rng *rng);

/* ------------------------------------------------------------------ */
/* Modules                                                             */
/* ------------------------------------------------------------------ */

/* A layer or a container of layers. Parameters and buffers are named as in
 * PyTorch's state_dict ("weight", "0.bias", "blocks.1.attn.qkv.weight").
 * Modules are refcounted; a container holds a reference to each child.
 * Constructors take a generator for the initial weights (NULL: the
 * thread's) and initialise as PyTorch's layer of that name does. */
typedef struct dc_module dc_module;

DC_API dc_module *dc_module_retain(dc_module *m);
DC_API void dc_module_release(dc_module *m);             /* NULL: no-op */
/* "Linear", "Conv2d", "Sequential", ... */
DC_API const char *dc_module_kind(const dc_module *m);
/* Applies the module to x (modules of one input and one output). */
DC_API dc_tensor *dc_module_forward(dc_module *m, dc_tensor *x);
/* Training (1) or evaluation (0) mode, set on m and all its children. */
DC_API dc_status dc_module_set_training(dc_module *m, int training);
DC_API int dc_module_is_training(const dc_module *m);   /* -1 for NULL */

/* The state dict: parameters then buffers, depth first, in PyTorch order.
 * dc_module_state_tensor returns a new reference to the live tensor:
 * writing it (dc_copy_from) changes the module. */
DC_API int64_t dc_module_state_count(const dc_module *m);
DC_API const char *dc_module_state_name(const dc_module *m, int64_t i);
DC_API int dc_module_state_is_param(const dc_module *m, int64_t i);
DC_API dc_tensor *dc_module_state_tensor(dc_module *m, int64_t i);
/* By name; NULL with DC_E_RANGE when there is no such entry. */
DC_API dc_tensor *dc_module_state_find(dc_module *m, const char *name);
/* The trainable parameters only (those requiring grad), in state order:
 * what an optimizer takes. */
DC_API int64_t dc_module_param_count(const dc_module *m);
DC_API dc_tensor *dc_module_param(dc_module *m, int64_t i);
/* Child modules by name ("0", "attn"), for containers and composites. */
DC_API int64_t dc_module_child_count(const dc_module *m);
DC_API dc_module *dc_module_child(dc_module *m, int64_t i);  /* new ref */
DC_API const char *dc_module_child_name(const dc_module *m, int64_t i);

/* Layers */
DC_API dc_module *dc_linear_new(int64_t in_features, int64_t out_features,
                                int bias, dc_rng *rng);
DC_API dc_module *dc_conv1d_new(int64_t in_channels, int64_t out_channels,
                                int64_t kernel, int64_t stride,
                                int64_t padding, int64_t dilation,
                                int64_t groups, int bias, dc_rng *rng);
/* Square kernels, strides, padding and dilation. */
DC_API dc_module *dc_conv2d_new(int64_t in_channels, int64_t out_channels,
                                int64_t kernel, int64_t stride,
                                int64_t padding, int64_t dilation,
                                int64_t groups, int bias, dc_rng *rng);
/* stride 0: the kernel size (PyTorch's default). */
DC_API dc_module *dc_max_pool2d_new(int64_t kernel, int64_t stride,
                                    int64_t padding);
DC_API dc_module *dc_avg_pool2d_new(int64_t kernel, int64_t stride,
                                    int64_t padding);
DC_API dc_module *dc_adaptive_avg_pool2d_new(int64_t out_h, int64_t out_w);
/* eps 1e-5 and momentum 0.1 are PyTorch's defaults. Buffers:
 * running_mean, running_var, num_batches_tracked (i64). */
DC_API dc_module *dc_batch_norm1d_new(int64_t features, double eps,
                                      double momentum);
DC_API dc_module *dc_batch_norm2d_new(int64_t features, double eps,
                                      double momentum);
/* Normalises over the last axis of size features. */
DC_API dc_module *dc_layer_norm_new(int64_t features, double eps,
                                    int elementwise_affine);
DC_API dc_module *dc_dropout_new(double p);
DC_API dc_module *dc_embedding_new(int64_t num_embeddings,
                                   int64_t embedding_dim, dc_rng *rng);
DC_API dc_module *dc_flatten_new(int start_axis, int end_axis);

typedef enum dc_activation {
    DC_ACT_RELU = 0,
    DC_ACT_SIGMOID = 1,
    DC_ACT_TANH = 2,
    DC_ACT_GELU = 3,          /* exact */
    DC_ACT_GELU_TANH = 4,
    DC_ACT_SILU = 5,
    DC_ACT_LEAKY_RELU = 6,    /* param: negative slope (PyTorch 0.01) */
    DC_ACT_SOFTMAX = 7,       /* param: the axis */
    DC_ACT_IDENTITY = 8
} dc_activation;
DC_API dc_module *dc_activation_new(dc_activation kind, double param);

typedef enum dc_rnn_kind {
    DC_RNN_TANH = 0,
    DC_RNN_LSTM = 1,
    DC_RNN_GRU = 2
} dc_rnn_kind;
/* Stacked RNN/LSTM/GRU, parameters weight_ih_l0, weight_hh_l0, bias_ih_l0,
 * bias_hh_l0, ... as PyTorch. Input (B, T, I) when batch_first, else
 * (T, B, I). dc_module_forward returns the output sequence with zero
 * initial states; dc_rnn_forward also takes and returns the states (h:
 * (layers, B, H); c only for LSTM; NULL initial states mean zeros). c0
 * is ignored for RNN/GRU and *c_n is set to NULL; out, h_n and c_n may be
 * NULL for results not wanted; h0 and c0 may be given independently (a
 * missing one is zeros). */
DC_API dc_module *dc_rnn_new(dc_rnn_kind kind, int64_t input_size,
                             int64_t hidden_size, int64_t num_layers,
                             int bias, int batch_first, dc_rng *rng);
DC_API dc_status dc_rnn_forward(dc_module *rnn, dc_tensor *x, dc_tensor *h0,
                                dc_tensor *c0, dc_tensor **out,
                                dc_tensor **h_n, dc_tensor **c_n);

/* Multi-head self/cross attention with a fused in-projection (in_proj_weight
 * (3E, E), in_proj_bias, out_proj.weight, out_proj.bias as PyTorch's
 * nn.MultiheadAttention), batch-first (B, L, E). dc_module_forward is self
 * attention without a mask. mask: NULL, or broadcastable to (B, heads, L,
 * S): DC_BOOL where true (1) = attend and false masks out — the opposite
 * of nn.MultiheadAttention's bool attn_mask, where True masks — or a
 * tensor of q's dtype added to the scores. causal: query i attends to keys
 * j <= i (top-left aligned when L != S). Returns only the output
 * (B, L, E), no attention weights. */
DC_API dc_module *dc_multihead_attention_new(int64_t embed_dim,
                                             int64_t num_heads, int bias,
                                             dc_rng *rng);
DC_API dc_tensor *dc_multihead_attention_forward(dc_module *mha,
                                                 dc_tensor *q, dc_tensor *k,
                                                 dc_tensor *v,
                                                 dc_tensor *mask,
                                                 int causal);
/* Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)) with
 * a GELU MLP of width d_ff. Children: ln_1, attn, ln_2, mlp (mlp.0 Linear,
 * mlp.2 Linear), dropout p after attention and MLP. Input (B, T, E). */
DC_API dc_module *dc_transformer_block_new(int64_t d_model, int64_t num_heads,
                                           int64_t d_ff, double dropout,
                                           int causal, dc_rng *rng);

/* Containers: children named "0", "1", ... in order. */
DC_API dc_module *dc_sequential_new(void);
/* Appends child (the container takes its own reference). */
DC_API dc_status dc_sequential_append(dc_module *seq, dc_module *child);

/* ------------------------------------------------------------------ */
/* Losses                                                              */
/* ------------------------------------------------------------------ */

typedef enum dc_reduction {
    DC_REDUCTION_MEAN = 0,
    DC_REDUCTION_SUM = 1,
    DC_REDUCTION_NONE = 2
} dc_reduction;

typedef enum dc_loss_kind {
    DC_LOSS_MSE = 0,
    DC_LOSS_L1 = 1,
    DC_LOSS_SMOOTH_L1 = 2,    /* option beta (1.0) */
    DC_LOSS_HUBER = 3,        /* option delta (1.0) */
    DC_LOSS_CROSS_ENTROPY = 4,/* logits (N, C) or (N, C, d...) */
    DC_LOSS_NLL = 5,          /* log-probabilities */
    DC_LOSS_BCE = 6,          /* probabilities */
    DC_LOSS_BCE_WITH_LOGITS = 7
} dc_loss_kind;

typedef struct dc_loss dc_loss;

DC_API dc_loss *dc_loss_new(dc_loss_kind kind, dc_reduction reduction);
DC_API void dc_loss_release(dc_loss *loss);               /* NULL: no-op */
/* Options; each applies to the kinds named. */
/* smooth L1 beta / huber delta (> 0; smooth L1 also takes 0) */
DC_API dc_status dc_loss_set_beta(dc_loss *loss, double beta);
/* cross-entropy, NLL: a target equal to it adds nothing (-100 default) */
DC_API dc_status dc_loss_set_ignore_index(dc_loss *loss, int64_t index);
/* cross-entropy: 0 <= s <= 1 */
DC_API dc_status dc_loss_set_label_smoothing(dc_loss *loss, double s);
/* cross-entropy, NLL: per-class weights (C); BCE: per-element weights
 * broadcast to the input; the loss keeps a reference. NULL clears it. */
DC_API dc_status dc_loss_set_weight(dc_loss *loss, dc_tensor *weight);
/* BCE with logits: pos_weight broadcast over the classes. */
DC_API dc_status dc_loss_set_pos_weight(dc_loss *loss, dc_tensor *pos_weight);
/* Target: same shape and dtype as input, except cross-entropy and NLL
 * with class indices (i64/i32, input's shape without axis 1) or, for
 * cross-entropy, class probabilities of the input's shape. A class index
 * outside 0..C-1 (other than ignore_index) is DC_E_RANGE. */
DC_API dc_tensor *dc_loss_forward(dc_loss *loss, dc_tensor *input,
                                  dc_tensor *target);

#ifdef __cplusplus
}
#endif

#endif /* DEEPCORE_NN_H */
