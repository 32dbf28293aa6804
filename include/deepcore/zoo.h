/*
 * libdeepcore — the model zoo: ready-made modules with PyTorch-compatible
 * parameter names. Included by deepcore/deepcore.h; do not include it on
 * its own.
 */
#ifndef DEEPCORE_ZOO_H
#define DEEPCORE_ZOO_H

#ifndef DEEPCORE_DEEPCORE_H
#error "include <deepcore/deepcore.h>, not <deepcore/zoo.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A multi-layer perceptron: Linear(sizes[0], sizes[1]), activation,
 * dropout (when > 0), ..., Linear(sizes[n-2], sizes[n-1]) with no
 * activation after the last layer. A Sequential: names "0.weight", ...
 * n_sizes >= 2. Input (..., sizes[0]). */
DC_API dc_module *dc_zoo_mlp_new(const int64_t *sizes, int n_sizes,
                                 dc_activation activation, double dropout,
                                 dc_rng *rng);

/* LeNet-5 style CNN for (N, in_channels, 28, 28) images: conv(5x5, pad 2)
 * 6 - ReLU - maxpool 2 - conv(5x5) 16 - ReLU - maxpool 2 - flatten -
 * Linear(400, 120) - ReLU - Linear(120, 84) - ReLU - Linear(84, classes). */
DC_API dc_module *dc_zoo_lenet5_new(int64_t in_channels, int64_t num_classes,
                                    dc_rng *rng);

/* A small ResNet of basic blocks (two 3x3 convs with batch norm, identity
 * or 1x1-conv shortcut): a 3x3 stem of width channels, then n_stages
 * stages of blocks_per_stage[s] blocks, widths doubling and spatial size
 * halving from stage 2 on, global average pooling and a Linear head.
 * Names follow torchvision (conv1, bn1, layer1.0.conv1, ..., fc). */
DC_API dc_module *dc_zoo_resnet_new(int64_t in_channels, int64_t num_classes,
                                    int64_t width, const int *blocks_per_stage,
                                    int n_stages, dc_rng *rng);

/* A recurrent language model: Embedding(vocab, embed) - RNN/LSTM/GRU
 * (layers, batch-first) - Linear(hidden, vocab). Input (B, T) token ids
 * (i64), output (B, T, vocab) logits. Children: embed, rnn, head. */
DC_API dc_module *dc_zoo_rnn_lm_new(dc_rnn_kind kind, int64_t vocab,
                                    int64_t embed_dim, int64_t hidden,
                                    int64_t num_layers, dc_rng *rng);

/* A decoder-only transformer (GPT): token and position embeddings (wte,
 * wpe), n_layer pre-norm causal blocks (h.0 ...; see
 * dc_transformer_block_new, d_ff = 4 d_model), a final LayerNorm (ln_f)
 * and an output layer tied to wte. Input (B, T <= context) token ids,
 * output (B, T, vocab) logits. Initialised as GPT-2 (normal 0.02). */
DC_API dc_module *dc_zoo_gpt_new(int64_t vocab, int64_t context,
                                 int64_t n_layer, int64_t n_head,
                                 int64_t d_model, double dropout,
                                 dc_rng *rng);
/* Continues prompt (1-D i64 token ids, at least one) by n_new tokens,
 * sampling from softmax(logits / temperature) restricted to the top_k
 * most likely tokens (top_k <= 0: all; temperature 0: greedy). Uses the
 * last `context` tokens as the window. Returns the prompt followed by the
 * new tokens (1-D i64). Runs in eval mode without recording. */
DC_API dc_tensor *dc_zoo_gpt_generate(dc_module *gpt, const dc_tensor *prompt,
                                      int64_t n_new, double temperature,
                                      int64_t top_k, dc_rng *rng);

/* A BERT-style bidirectional encoder with a classification head: token and
 * position embeddings, n_layer pre-norm blocks without a causal mask, a
 * final LayerNorm, and Linear(d_model, num_classes) on position 0 (the
 * [CLS] token). Input (B, T) token ids; output (B, num_classes). */
DC_API dc_module *dc_zoo_bert_classifier_new(int64_t vocab, int64_t context,
                                             int64_t n_layer, int64_t n_head,
                                             int64_t d_model,
                                             int64_t num_classes,
                                             double dropout, dc_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* DEEPCORE_ZOO_H */
