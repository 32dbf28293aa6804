/* Joining tensors: concat and stack. */
#include "../core/internal.h"
#include "op_util.h"

/* Checks the inputs of a join: n >= 1 live tensors of one dtype and ndim. */
static bool check_join(dc_tensor *const *ts, int n, const char *func) {
    if (ts == NULL) {
        dc__fail(DC_E_INVALID, "%s: 'ts' is NULL", func);
        return false;
    }
    if (n < 1) {
        dc__fail(DC_E_INVALID, "%s: needs at least one tensor, got %d", func, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!dc__is_tensor(ts[i])) {
            if (ts[i] == NULL) dc__null_input(func, "ts[i]");
            else dc__fail(DC_E_INVALID, "%s: ts[%d] is not a live tensor", func, i);
            return false;
        }
        if (!dc__require_same_dtype(ts[0], ts[i], func)) return false;
        if (ts[i]->ndim != ts[0]->ndim) {
            dc__fail(DC_E_SHAPE, "%s: ts[%d] has %d dims, ts[0] has %d", func, i,
                     ts[i]->ndim, ts[0]->ndim);
            return false;
        }
    }
    return true;
}

/* ts[i]: (..., n_i, ...) -> (..., sum n_i, ...) along axis. */
dc_tensor *dc_concat(dc_tensor *const *ts, int n, int axis) {
    if (!check_join(ts, n, "dc_concat")) return NULL;
    const dc_tensor *t0 = ts[0];
    if (t0->ndim == 0) {
        dc__fail(DC_E_RANGE, "dc_concat: 0-dim tensors have no axis to join along");
        return NULL;
    }
    if (!dc__norm_axis(&axis, t0->ndim, "dc_concat")) return NULL;
    int64_t shape[DC_MAX_DIMS];
    for (int d = 0; d < t0->ndim; d++) shape[d] = t0->shape[d];
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < t0->ndim; d++) {
            if (d != axis && ts[i]->shape[d] != t0->shape[d]) {
                dc__fail(DC_E_SHAPE, "dc_concat: ts[%d] has size %lld on axis %d, ts[0] %lld",
                         i, (long long)ts[i]->shape[d], d, (long long)t0->shape[d]);
                return NULL;
            }
        }
        if (ts[i]->shape[axis] > INT64_MAX - shape[axis]) {
            dc__fail(DC_E_OVERFLOW, "dc_concat: the joined size of axis %d overflows", axis);
            return NULL;
        }
        shape[axis] += ts[i]->shape[axis];
    }
    dc_tensor *out = dc__tensor_new(t0->dtype, t0->ndim, shape, false);
    if (!out) return NULL;
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        /* the window of out that ts[i] fills */
        dc_tensor *win = dc__tensor_view(out, ts[i]->ndim, ts[i]->shape, out->strides,
                                         at * out->strides[axis]);
        if (!win) {
            dc_release(out);
            return NULL;
        }
        dc__copy_elements(win, ts[i]);
        dc_release(win);
        at += ts[i]->shape[axis];
    }
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_CONCAT, ts, n, &node);
    if (node) node->iparams[0] = axis;
    return dc__publish(out);
}

/* gout: (..., sum n_i, ...) -> each input its narrow (..., n_i, ...). The
 * sizes come from the inputs themselves (there may be many). */
dc_status dc__concat_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                              dc_tensor **gin) {
    (void)out;
    int axis = (int)node->iparams[0];
    int64_t at = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        int64_t len = node->inputs[i]->shape[axis];
        if (node->inputs[i]->requires_grad) {
            dc_status st = dc__set_grad(gin, i, dc_narrow(gout, axis, at, len));
            if (st != DC_OK) return st;
        }
        at += len;
    }
    return DC_OK;
}

/* ts[i]: (a, b) each -> (a, n, b) for axis 1: unsqueeze each, then concat. */
dc_tensor *dc_stack(dc_tensor *const *ts, int n, int axis) {
    if (!check_join(ts, n, "dc_stack")) return NULL;
    if (!dc__norm_axis(&axis, ts[0]->ndim + 1, "dc_stack")) return NULL;
    if (ts[0]->ndim >= DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "dc_stack: the tensors already have %d dims", DC_MAX_DIMS);
        return NULL;
    }
    for (int i = 1; i < n; i++) {
        for (int d = 0; d < ts[0]->ndim; d++) {
            if (ts[i]->shape[d] != ts[0]->shape[d]) {
                dc__fail(DC_E_SHAPE, "dc_stack: ts[%d] has size %lld on axis %d, ts[0] %lld",
                         i, (long long)ts[i]->shape[d], d, (long long)ts[0]->shape[d]);
                return NULL;
            }
        }
    }
    dc_tensor *small[8];
    dc_tensor **parts = n <= 8 ? small : dc__calloc((size_t)n, sizeof *parts);
    if (!parts) return NULL;
    /* The unsqueezed parts live in a scope of their own; the result is
     * taken out of it before it ends. */
    dc_scope *scope = dc_scope_begin();
    dc_tensor *out = NULL;
    if (scope) {
        int made = 0;
        while (made < n && (parts[made] = dc_unsqueeze(ts[made], axis)) != NULL) made++;
        if (made == n) out = dc_retain(dc_concat(parts, n, axis));
        dc_scope_end(scope);
    }
    if (parts != small) dc__free(parts);
    return dc__publish(out);
}
