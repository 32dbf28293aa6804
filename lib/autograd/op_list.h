/* The registry of differentiable ops: X(id, name, backward function).
 * One line per op; the id is the stable key (see dc_op_id), never the
 * position. Each backward sits next to its forward in lib/ops/. Tests walk
 * this list to make sure every op has a gradient check. */
#ifndef DEEPCORE_OP_LIST_H
#define DEEPCORE_OP_LIST_H

#define DC_OP_LIST(X)                                           \
    X(DC_OP_ADD, "add", dc__add_backward)                       \
    X(DC_OP_SUB, "sub", dc__sub_backward)                       \
    X(DC_OP_MUL, "mul", dc__mul_backward)                       \
    X(DC_OP_DIV, "div", dc__div_backward)                       \
    X(DC_OP_POW, "pow", dc__pow_backward)                       \
    X(DC_OP_MAXIMUM, "maximum", dc__maximum_backward)           \
    X(DC_OP_MINIMUM, "minimum", dc__minimum_backward)           \
    X(DC_OP_WHERE, "where", dc__where_backward)                 \
    X(DC_OP_ADD_SCALAR, "add_scalar", dc__add_scalar_backward)  \
    X(DC_OP_MUL_SCALAR, "mul_scalar", dc__mul_scalar_backward)  \
    X(DC_OP_POW_SCALAR, "pow_scalar", dc__pow_scalar_backward)  \
    X(DC_OP_NEG, "neg", dc__unary_backward)                     \
    X(DC_OP_ABS, "abs", dc__unary_backward)                     \
    X(DC_OP_EXP, "exp", dc__unary_backward)                     \
    X(DC_OP_LOG, "log", dc__unary_backward)                     \
    X(DC_OP_SQRT, "sqrt", dc__unary_backward)                   \
    X(DC_OP_RSQRT, "rsqrt", dc__unary_backward)                 \
    X(DC_OP_SQUARE, "square", dc__unary_backward)               \
    X(DC_OP_TANH, "tanh", dc__unary_backward)                   \
    X(DC_OP_SIGMOID, "sigmoid", dc__unary_backward)             \
    X(DC_OP_RELU, "relu", dc__unary_backward)                   \
    X(DC_OP_LEAKY_RELU, "leaky_relu", dc__unary_backward)       \
    X(DC_OP_GELU, "gelu", dc__unary_backward)                   \
    X(DC_OP_SILU, "silu", dc__unary_backward)                   \
    X(DC_OP_SOFTPLUS, "softplus", dc__unary_backward)           \
    X(DC_OP_CLAMP, "clamp", dc__unary_backward)                 \
    X(DC_OP_SUM, "sum", dc__sum_backward)                       \
    X(DC_OP_MEAN, "mean", dc__mean_backward)                    \
    X(DC_OP_MAX, "max", dc__max_backward)                       \
    X(DC_OP_MIN, "min", dc__max_backward)                       \
    X(DC_OP_VAR, "var", dc__var_backward)                       \
    X(DC_OP_LOGSUMEXP, "logsumexp", dc__logsumexp_backward)     \
    X(DC_OP_SOFTMAX, "softmax", dc__softmax_backward)           \
    X(DC_OP_LOG_SOFTMAX, "log_softmax", dc__log_softmax_backward) \
    X(DC_OP_MATMUL, "matmul", dc__matmul_backward)              \
    X(DC_OP_VIEW, "view", dc__view_backward)                    \
    X(DC_OP_PERMUTE, "permute", dc__permute_backward)           \
    X(DC_OP_SLICE, "slice", dc__slice_backward)                 \
    X(DC_OP_EXPAND, "expand", dc__expand_backward)              \
    X(DC_OP_COPY, "copy", dc__copy_backward)                    \
    X(DC_OP_CONCAT, "concat", dc__concat_backward)              \
    X(DC_OP_INDEX_SELECT, "index_select", dc__index_select_backward) \
    X(DC_OP_GATHER, "gather", dc__gather_backward)              \
    X(DC_OP_CAST, "cast", dc__cast_backward)                    \
    X(DC_OP_CUSTOM, "custom", dc__custom_backward)              \
    X(DC_OP_CONV2D, "conv2d", dc__conv2d_backward)              \
    X(DC_OP_MAX_POOL2D, "max_pool2d", dc__max_pool2d_backward)  \
    X(DC_OP_AVG_POOL2D, "avg_pool2d", dc__avg_pool2d_backward)  \
    X(DC_OP_ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d", dc__adaptive_avg_pool2d_backward) \
    X(DC_OP_LAYER_NORM, "layer_norm", dc__layer_norm_backward)  \
    X(DC_OP_LINEAR, "linear", dc__linear_backward)              \
    X(DC_OP_CROSS_ENTROPY, "cross_entropy", dc__cross_entropy_backward) \
    X(DC_OP_LSTM, "lstm", dc__lstm_backward)

#define DC_DECLARE_BACKWARD(id, name, fn)                                  \
    dc_status fn(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin);

#endif
