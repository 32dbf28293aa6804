/* Views: new shapes and strides over the same storage. No view copies
 * data (except dc_reshape / dc_flatten when the strides leave no choice). */
#include "../core/internal.h"
#include "op_util.h"

#include <string.h>

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* A view of t with the given geometry, recorded as op (node params are
 * left to the caller through *node). Owned by the caller, unpublished. */
static dc_tensor *make_view(dc_tensor *t, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset,
                            dc_op_id op, dc_node **node) {
    *node = NULL;
    dc_tensor *out = dc__tensor_view(t, ndim, shape, strides, offset);
    if (!out) return NULL;
    return dc__record_or_drop(out, op, &t, 1, node);
}

/* Normalises an axis of a tensor that must have at least one dim. */
static bool norm_axis_nd(int *axis, int ndim, const char *func) {
    if (ndim == 0) {
        dc__fail(DC_E_RANGE, "%s: a 0-dim tensor has no axis %d", func, *axis);
        return false;
    }
    return dc__norm_axis(axis, ndim, func);
}

/* Resolves a requested shape for numel elements: checks ndim and sizes
 * and infers one -1 entry. */
static bool resolve_shape(int64_t numel, int ndim, const int64_t *shape,
                          int64_t *out, const char *func) {
    if (ndim < 0 || ndim > DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "%s: ndim %d is outside 0..%d", func, ndim, DC_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && shape == NULL) {
        dc__fail(DC_E_INVALID, "%s: 'shape' is NULL for ndim %d", func, ndim);
        return false;
    }
    int infer = -1;
    int64_t known = 1;
    bool overflow = false, has_zero = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) {
                dc__fail(DC_E_SHAPE, "%s: only one size may be -1 (axes %d and %d are)",
                         func, infer, i);
                return false;
            }
            infer = i;
        } else if (shape[i] < 0) {
            dc__fail(DC_E_SHAPE, "%s: size %lld of axis %d is negative", func,
                     (long long)shape[i], i);
            return false;
        } else if (shape[i] == 0) {
            has_zero = true;
        } else if (known > INT64_MAX / shape[i]) {
            overflow = true;
        } else {
            known *= shape[i];
        }
        out[i] = shape[i];
    }
    if (has_zero) {
        known = 0;
    } else if (overflow) {
        dc__fail(DC_E_SHAPE, "%s: the requested shape holds more than the %lld elements "
                 "of the tensor", func, (long long)numel);
        return false;
    }
    if (infer >= 0) {
        if (known == 0) {
            dc__fail(DC_E_SHAPE, "%s: the -1 of axis %d is ambiguous: the other sizes "
                     "hold zero elements", func, infer);
            return false;
        }
        if (numel % known != 0) {
            dc__fail(DC_E_SHAPE, "%s: %lld elements cannot be split into blocks of %lld "
                     "to infer the -1 of axis %d", func, (long long)numel,
                     (long long)known, infer);
            return false;
        }
        out[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        dc__fail(DC_E_SHAPE, "%s: the requested shape has %lld elements, the tensor %lld",
                 func, (long long)known, (long long)numel);
        return false;
    }
    return true;
}

/* Strides that let t's elements be seen with shape (same numel), as
 * PyTorch's view computes them: t's axes are cut into chunks that are
 * contiguous among themselves, and each chunk must be covered by a run of
 * new axes with the same element count. False when no such strides exist. */
static bool view_strides(const dc_tensor *t, int ndim, const int64_t *shape,
                         int64_t *strides) {
    if (t->numel == 0 || t->ndim == 0) {
        /* any layout will do: nothing to address, or one element */
        dc__contiguous_strides(ndim, shape, strides);
        return true;
    }
    int vd = ndim - 1;
    int64_t base = t->strides[t->ndim - 1];
    int64_t tn = 1, vn = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tn *= t->shape[d];
        bool chunk_ends = d == 0 || (t->shape[d - 1] != 1 &&
                                     t->strides[d - 1] != tn * base);
        if (!chunk_ends) continue;
        while (vd >= 0 && (vn < tn || shape[vd] == 1)) {
            strides[vd] = vn * base;
            vn *= shape[vd];
            vd--;
        }
        if (vn != tn) return false;
        if (d > 0) {
            base = t->strides[d - 1];
            tn = 1;
            vn = 1;
        }
    }
    return vd == -1;
}

/* ---------------------------------------------------------------- */
/* view, reshape, flatten, squeeze, unsqueeze                        */
/* ---------------------------------------------------------------- */

/* t: any shape -> shape (same numel); gradient reshaped back. */
static dc_tensor *view_owned(dc_tensor *t, int ndim, const int64_t *shape,
                             const int64_t *strides) {
    dc_node *node;
    return make_view(t, ndim, shape, strides, t->offset, DC_OP_VIEW, &node);
}

dc_tensor *dc_view(dc_tensor *t, int ndim, const int64_t *shape) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_view", "t");
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    if (!resolve_shape(t->numel, ndim, shape, sh, "dc_view")) return NULL;
    if (!view_strides(t, ndim, sh, st)) {
        dc__fail(DC_E_SHAPE, "dc_view: the strides of the tensor do not allow this view; "
                 "use dc_reshape (which copies) or dc_contiguous first");
        return NULL;
    }
    return dc__publish(view_owned(t, ndim, sh, st));
}

/* A contiguous copy of t recorded as DC_OP_COPY (owned, unpublished). */
static dc_tensor *copy_recorded(dc_tensor *t) {
    dc_tensor *c = dc__copy_contiguous(t);
    if (!c) return NULL;
    dc_node *node;
    return dc__record_or_drop(c, DC_OP_COPY, &t, 1, &node);
}

/* A view with the resolved shape sh, or a view of a contiguous copy. */
static dc_tensor *reshape_owned(dc_tensor *t, int ndim, const int64_t *sh) {
    int64_t st[DC_MAX_DIMS];
    if (view_strides(t, ndim, sh, st)) return view_owned(t, ndim, sh, st);
    dc_tensor *c = copy_recorded(t);
    if (!c) return NULL;
    dc__contiguous_strides(ndim, sh, st);
    dc_tensor *out = view_owned(c, ndim, sh, st);
    dc_release(c);   /* out's storage (and node, if any) keep it */
    return out;
}

dc_tensor *dc_reshape(dc_tensor *t, int ndim, const int64_t *shape) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_reshape", "t");
    int64_t sh[DC_MAX_DIMS];
    if (!resolve_shape(t->numel, ndim, shape, sh, "dc_reshape")) return NULL;
    return dc__publish(reshape_owned(t, ndim, sh));
}

dc_tensor *dc_flatten(dc_tensor *t, int start_axis, int end_axis) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_flatten", "t");
    if (!dc__norm_axis(&start_axis, t->ndim, "dc_flatten") ||
        !dc__norm_axis(&end_axis, t->ndim, "dc_flatten"))
        return NULL;
    if (start_axis > end_axis) {
        dc__fail(DC_E_RANGE, "dc_flatten: start axis %d comes after end axis %d",
                 start_axis, end_axis);
        return NULL;
    }
    if (t->ndim == 0) {
        int64_t one = 1;
        return dc__publish(reshape_owned(t, 1, &one));
    }
    int64_t sh[DC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < start_axis; i++) sh[n++] = t->shape[i];
    int64_t merged = 1;
    for (int i = start_axis; i <= end_axis; i++) merged *= t->shape[i];
    sh[n++] = merged;
    for (int i = end_axis + 1; i < t->ndim; i++) sh[n++] = t->shape[i];
    return dc__publish(reshape_owned(t, n, sh));
}

dc_tensor *dc_squeeze(dc_tensor *t, int axis) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_squeeze", "t");
    if (!dc__norm_axis(&axis, t->ndim, "dc_squeeze")) return NULL;
    if (t->ndim == 0 || t->shape[axis] != 1)   /* unchanged, as torch */
        return dc__publish(view_owned(t, t->ndim, t->shape, t->strides));
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == axis) continue;
        sh[n] = t->shape[i];
        st[n++] = t->strides[i];
    }
    return dc__publish(view_owned(t, n, sh, st));
}

dc_tensor *dc_unsqueeze(dc_tensor *t, int axis) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_unsqueeze", "t");
    if (t->ndim >= DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "dc_unsqueeze: the tensor already has %d dims", DC_MAX_DIMS);
        return NULL;
    }
    if (!dc__norm_axis(&axis, t->ndim + 1, "dc_unsqueeze")) return NULL;
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i <= t->ndim; i++) {
        if (i == axis) {
            sh[n] = 1;
            /* any stride works for a size-1 axis; torch's choice */
            st[n++] = axis < t->ndim ? t->shape[axis] * t->strides[axis] : 1;
        }
        if (i < t->ndim) {
            sh[n] = t->shape[i];
            st[n++] = t->strides[i];
        }
    }
    return dc__publish(view_owned(t, n, sh, st));
}

/* gout: the view's shape -> the input's shape (a reshape back). */
dc_status dc__view_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                            dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    return dc__set_grad(gin, 0, dc_reshape(gout, in->ndim, in->shape));
}

/* ---------------------------------------------------------------- */
/* permute, transpose                                                */
/* ---------------------------------------------------------------- */

/* t: (d0, ..., dn-1) -> (d[perm[0]], ..., d[perm[n-1]]). perm is normalised. */
static dc_tensor *permute_owned(dc_tensor *t, const int *perm) {
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
        sh[i] = t->shape[perm[i]];
        st[i] = t->strides[perm[i]];
    }
    dc_node *node;
    dc_tensor *out = make_view(t, t->ndim, sh, st, t->offset, DC_OP_PERMUTE, &node);
    if (node)
        /* perm has t->ndim entries, filled by dc_permute; t is not changed in between
         * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
        for (int i = 0; i < t->ndim; i++) node->iparams[i] = perm[i];
    return out;
}

dc_tensor *dc_permute(dc_tensor *t, const int *perm) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_permute", "t");
    if (t->ndim > 0 && perm == NULL) {
        dc__fail(DC_E_INVALID, "dc_permute: 'perm' is NULL");
        return NULL;
    }
    int p[DC_MAX_DIMS];
    bool seen[DC_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        /* perm has ndim entries by contract; dc__permute_backward passes a full inverse
         * permutation
         * NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
        p[i] = perm[i];
        if (!dc__norm_axis(&p[i], t->ndim, "dc_permute")) return NULL;
        if (seen[p[i]]) {
            dc__fail(DC_E_INVALID, "dc_permute: axis %d appears twice; perm must be a "
                     "permutation of 0..%d", p[i], t->ndim - 1);
            return NULL;
        }
        seen[p[i]] = true;
    }
    return dc__publish(permute_owned(t, p));
}

dc_tensor *dc_transpose(dc_tensor *t, int axis0, int axis1) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_transpose", "t");
    if (!dc__norm_axis(&axis0, t->ndim, "dc_transpose") ||
        !dc__norm_axis(&axis1, t->ndim, "dc_transpose"))
        return NULL;
    int p[DC_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) p[i] = i;
    if (t->ndim > 0) {
        p[axis0] = axis1;
        p[axis1] = axis0;
    }
    return dc__publish(permute_owned(t, p));
}

/* gout: permuted shape -> input shape, by the inverse permutation. */
dc_status dc__permute_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                               dc_tensor **gin) {
    int inv[DC_MAX_DIMS];
    for (int i = 0; i < out->ndim; i++) inv[node->iparams[i]] = i;
    return dc__set_grad(gin, 0, dc_permute(gout, inv));
}

/* ---------------------------------------------------------------- */
/* slice, narrow                                                     */
/* ---------------------------------------------------------------- */

/* Python's clamping of a slice bound into 0..size. */
static int64_t clamp_bound(int64_t b, int64_t size) {
    if (b < 0) {
        b += size;
        return b < 0 ? 0 : b;
    }
    return b > size ? size : b;
}

/* t: (..., n, ...) -> (..., len, ...) with elements start, start+step, ...
 * along axis. Bounds already checked. Records DC_OP_SLICE. */
static dc_tensor *slice_owned(dc_tensor *t, int axis, int64_t start, int64_t len,
                              int64_t step) {
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    memcpy(sh, t->shape, sizeof sh);
    memcpy(st, t->strides, sizeof st);
    sh[axis] = len;
    st[axis] = t->strides[axis] * step;
    int64_t offset = t->offset + start * t->strides[axis];
    dc_node *node;
    dc_tensor *out = make_view(t, t->ndim, sh, st, offset, DC_OP_SLICE, &node);
    if (node) {
        node->iparams[0] = axis;
        node->iparams[1] = start;
        node->iparams[2] = step;
    }
    return out;
}

dc_tensor *dc_slice(dc_tensor *t, int axis, int64_t start, int64_t stop, int64_t step) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_slice", "t");
    if (!norm_axis_nd(&axis, t->ndim, "dc_slice")) return NULL;
    if (step < 1) {
        dc__fail(DC_E_INVALID, "dc_slice: step %lld must be >= 1", (long long)step);
        return NULL;
    }
    int64_t size = t->shape[axis];
    start = clamp_bound(start, size);
    stop = clamp_bound(stop, size);
    int64_t len = stop > start ? (stop - start - 1) / step + 1 : 0;
    return dc__publish(slice_owned(t, axis, start, len, step));
}

dc_tensor *dc_narrow(dc_tensor *t, int axis, int64_t start, int64_t length) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_narrow", "t");
    if (!norm_axis_nd(&axis, t->ndim, "dc_narrow")) return NULL;
    int64_t size = t->shape[axis];
    if (start < -size || start > size) {
        dc__fail(DC_E_RANGE, "dc_narrow: start %lld is out of range for axis %d of size %lld",
                 (long long)start, axis, (long long)size);
        return NULL;
    }
    if (start < 0) start += size;
    if (length < 0 || length > size - start) {
        dc__fail(DC_E_RANGE, "dc_narrow: length %lld from %lld does not fit in axis %d of "
                 "size %lld", (long long)length, (long long)start, axis, (long long)size);
        return NULL;
    }
    return dc__publish(slice_owned(t, axis, start, length, 1));
}

/* gout: the slice's shape -> zeros of the input's shape with gout written
 * where the slice came from. */
dc_status dc__slice_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                             dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    int axis = (int)node->iparams[0];
    int64_t start = node->iparams[1], step = node->iparams[2];
    dc_tensor *g = dc__tensor_new(gout->dtype, in->ndim, in->shape, true);
    if (!g) return dc_last_status();
    int64_t st[DC_MAX_DIMS];
    memcpy(st, g->strides, sizeof st);
    st[axis] *= step;
    dc_tensor *win = dc__tensor_view(g, gout->ndim, gout->shape, st, start * g->strides[axis]);
    if (!win) {
        dc_release(g);
        return dc_last_status();
    }
    dc__copy_elements(win, gout);
    dc_release(win);
    gin[0] = g;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* expand                                                            */
/* ---------------------------------------------------------------- */

/* t: (a, 1, c) -> shape (..., a, n, c): stride 0 on new and size-1 axes. */
dc_tensor *dc_expand(dc_tensor *t, int ndim, const int64_t *shape) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_expand", "t");
    if (ndim < t->ndim || ndim > DC_MAX_DIMS) {
        dc__fail(DC_E_SHAPE, "dc_expand: cannot expand %d dims to %d", t->ndim, ndim);
        return NULL;
    }
    if (ndim > 0 && shape == NULL) {
        dc__fail(DC_E_INVALID, "dc_expand: 'shape' is NULL");
        return NULL;
    }
    int lead = ndim - t->ndim;
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        int64_t want = shape[i];
        if (j < 0) {
            if (want < 0) {
                dc__fail(DC_E_SHAPE, "dc_expand: size %lld of new leading axis %d must be "
                         ">= 0", (long long)want, i);
                return NULL;
            }
            sh[i] = want;
            st[i] = 0;
            continue;
        }
        int64_t have = t->shape[j];
        if (want == -1 || want == have) {
            sh[i] = have;
            st[i] = t->strides[j];
        } else if (have == 1 && want >= 0) {
            sh[i] = want;
            st[i] = 0;
        } else {
            dc__fail(DC_E_SHAPE, "dc_expand: size %lld of axis %d cannot be expanded to %lld",
                     (long long)have, j, (long long)want);
            return NULL;
        }
    }
    int64_t numel;   /* new axes can make the element count overflow */
    if (dc__check_shape("dc_expand", ndim, sh, &numel) != DC_OK) return NULL;
    dc_node *node;
    return dc__publish(make_view(t, ndim, sh, st, t->offset, DC_OP_EXPAND, &node));
}

/* gout: the expanded shape -> the input's, summed over broadcast axes. */
dc_status dc__expand_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                              dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    return dc__set_grad(gin, 0, dc__sum_to_shape(gout, in->ndim, in->shape));
}
