/* Caller-defined differentiable functions (dc_custom_op): the way FFI
 * users extend the library without rebuilding it. */
#include "../core/internal.h"
#include "op_list.h"

#include <stdio.h>
#include <string.h>

/* Runs a callback inside a private scope and returns the tensor it gave
 * with a reference of the library's own (the scope's references die). */
static dc_tensor *keep_from_scope(dc_scope *scope, dc_tensor *t) {
    dc_tensor *kept = dc__is_tensor(t) ? dc_retain(t) : NULL;
    dc_scope_end(scope);
    return kept;
}

dc_tensor *dc_custom_op(const char *name, dc_tensor *const *inputs, int n_inputs,
                        dc_custom_forward_fn forward, dc_custom_backward_fn backward,
                        void *ctx, void (*ctx_free)(void *ctx)) {
    const char *why = NULL;
    if (!forward) why = "'forward' is NULL";
    else if (n_inputs < 0 || n_inputs > 64) why = "n_inputs must be 0..64";
    else if (n_inputs > 0 && !inputs) why = "'inputs' is NULL";
    for (int i = 0; !why && i < n_inputs; i++)
        if (!dc__is_tensor(inputs[i])) {
            if (!inputs[i]) dc__null_input("dc_custom_op", "inputs[i]");
            else dc__fail(DC_E_INVALID, "dc_custom_op: inputs[%d] is not a live tensor", i);
            if (ctx_free) ctx_free(ctx);
            return NULL;
        }
    if (why) {
        dc__fail(DC_E_INVALID, "dc_custom_op: %s", why);
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }

    int prev = dc_set_grad_enabled(0);
    dc_scope *scope = dc_scope_begin();
    dc_tensor *result = NULL;
    if (scope) {
        dc_clear_error();
        result = keep_from_scope(scope, forward(inputs, n_inputs, ctx));
    }
    dc_set_grad_enabled(prev);
    if (!result) {
        if (dc_last_status() == DC_OK)
            dc__fail(DC_E_INVALID, "dc_custom_op: forward of '%s' returned no tensor",
                     name ? name : "custom");
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    /* A fresh header over the result's data, so that the history attaches
     * to a tensor of its own even when forward returned an input. */
    dc_tensor *out = dc__tensor_view(result, result->ndim, result->shape,
                                     result->strides, result->offset);
    dc_release(result);
    if (!out) {
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    dc_node *node = NULL;
    bool want = backward != NULL;
    if (want && dc__record(out, DC_OP_CUSTOM, inputs, n_inputs, &node) != DC_OK) {
        dc_release(out);
        if (ctx_free) ctx_free(ctx);
        return NULL;
    }
    if (node) {
        node->custom_backward = backward;
        node->custom_ctx = ctx;
        node->custom_ctx_free = ctx_free;
        snprintf(node->custom_name, sizeof node->custom_name, "%s", name ? name : "custom");
    } else if (ctx_free) {
        ctx_free(ctx);
    }
    return dc__publish(out);
}

dc_status dc__custom_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    /* The engine opened a scope already; the callback's tensors land in it
     * and whatever it stored in gin is retained here. */
    dc_clear_error();
    dc_status st = node->custom_backward(node->inputs, node->n_inputs, out, gout, gin,
                                         node->custom_ctx);
    for (int i = 0; i < node->n_inputs; i++) {
        if (gin[i] && !dc__is_tensor(gin[i])) {
            gin[i] = NULL;
            if (st == DC_OK)
                st = dc__fail(DC_E_INVALID, "custom op '%s': backward stored a dead tensor",
                              node->custom_name);
        }
        if (gin[i]) dc_retain(gin[i]);
    }
    if (st != DC_OK && dc_last_status() == DC_OK)
        dc__fail(st, "custom op '%s': backward failed", node->custom_name);
    for (int i = 0; st == DC_OK && i < node->n_inputs; i++)
        if (gin[i] && gin[i]->dtype != node->inputs[i]->dtype)
            st = dc__fail(DC_E_DTYPE, "custom op '%s': gradient %d has dtype %s, input has %s",
                          node->custom_name, i, dc_dtype_name(gin[i]->dtype),
                          dc_dtype_name(node->inputs[i]->dtype));
    return st;
}
