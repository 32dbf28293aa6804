/* Small checks shared by the op units. */
#ifndef DEEPCORE_OP_UTIL_H
#define DEEPCORE_OP_UTIL_H

#include "../core/internal.h"
#include "../autograd/op_list.h"

/* Prototypes of every backward function (checked against their definitions). */
DC_OP_LIST(DC_DECLARE_BACKWARD)

/* Records DC_E_DTYPE unless t is f32 or f64. */
static inline bool dc__require_float(const dc_tensor *t, const char *func) {
    if (dc__dtype_is_float(t->dtype)) return true;
    dc__fail(DC_E_DTYPE, "%s: needs an f32 or f64 tensor, not %s", func,
             dc_dtype_name(t->dtype));
    return false;
}

/* Records DC_E_DTYPE unless a and b have one dtype. */
static inline bool dc__require_same_dtype(const dc_tensor *a, const dc_tensor *b,
                                          const char *func) {
    if (a->dtype == b->dtype) return true;
    dc__fail(DC_E_DTYPE, "%s: dtypes differ (%s and %s); cast one with dc_cast", func,
             dc_dtype_name(a->dtype), dc_dtype_name(b->dtype));
    return false;
}

/* Records the op's history on out (*node gets the new node, or NULL when
 * nothing is recorded). When recording fails (out of memory) releases out
 * and returns NULL. Typical tail of an op:
 *     dc_node *node;
 *     out = dc__record_or_drop(out, DC_OP_X, inputs, n, &node);
 *     if (node) node->fparams[0] = ...;
 *     return dc__publish(out); */
static inline dc_tensor *dc__record_or_drop(dc_tensor *out, dc_op_id op,
                                            dc_tensor *const *inputs, int n,
                                            dc_node **node) {
    if (dc__record(out, op, inputs, n, node) != DC_OK) {
        dc_release(out);
        return NULL;
    }
    return out;
}

/* softmax(scale scores) along the last axis of (..., L, S) f32 scores,
 * causal: query i sees keys j <= i; one op for attention
 * (lib/ops/softmax.c). NULL without an error when scores are not
 * contiguous f32 (the caller then composes the ops). */
dc_tensor *dc__softmax_attention(dc_tensor *scores, double scale, bool causal);

/* x (..., K) @ w^T + b with w (N, K) and b (N) or NULL -> (..., N): the
 * product of a Linear layer as one op (lib/ops/matmul.c), the bias
 * written before the GEMM accumulates onto it and its gradient a column
 * sum. Inputs must be checked by the caller: same floating dtype, w 2-D,
 * K matching, b of size N. */
dc_tensor *dc__linear(dc_tensor *x, dc_tensor *w, dc_tensor *b);
/* x + a for a residual connection (lib/nn/attention.c; in binary.c), a
 * the output of a Linear that the caller made and hands over: when
 * nothing else sees a (its one reference is the caller's, or its
 * scope's), the sum is written over it and shares its storage, instead
 * of a new tensor while the add's node keeps a alive until backward (a
 * transformer block's two residual branches, 2 MiB a layer of a small
 * GPT). Recorded as an add; otherwise exactly dc_add. Only for tensors
 * never shown to anyone else: the caller must not read a afterwards, and
 * a plain pointer to a that someone kept would see the sum. a's storage
 * version is left as it is on purpose: no backward reads a. */
dc_tensor *dc__add_over(dc_tensor *x, dc_tensor *a);
/* x: (N, C) float, labels: i64 (N), keep: bool (N) -> 0-d: the summed
 * cross-entropy of the kept rows over denom (lib/ops/softmax.c). */
dc_tensor *dc__cross_entropy_rows(dc_tensor *x, dc_tensor *labels, dc_tensor *keep, double denom);

#endif
