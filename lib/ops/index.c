/* Indexing: index_select and gather.
 *
 * Both are one walk over the output: every output element reads the input
 * at its own position, except along axis, where the position comes from
 * the index values. Their backwards are the same walk in reverse,
 * adding the output gradient into zeros of the input's shape (repeated
 * indices accumulate). */
#include "../core/internal.h"
#include "op_util.h"

#include <string.h>

/* ---------------------------------------------------------------- */
/* Shared walks                                                      */
/* ---------------------------------------------------------------- */

/* The index values as a contiguous i64 tensor of index's shape (owned),
 * after checking dtype and that each lies in 0..limit-1. */
static dc_tensor *load_index(const dc_tensor *index, int64_t limit, int axis,
                             const char *func) {
    if (index->dtype != DC_I32 && index->dtype != DC_I64) {
        dc__fail(DC_E_DTYPE, "%s: index must be i32 or i64, not %s", func,
                 dc_dtype_name(index->dtype));
        return NULL;
    }
    dc_tensor *vals = dc__tensor_new(DC_I64, index->ndim, index->shape, false);
    if (!vals) return NULL;
    dc__copy_elements(vals, index);
    const int64_t *v = dc__tensor_data(vals);
    for (int64_t k = 0; k < vals->numel; k++) {
        if (v[k] < 0 || v[k] >= limit) {
            dc__fail(DC_E_RANGE, "%s: index value %lld is out of range for axis %d of size %lld",
                     func, (long long)v[k], axis, (long long)limit);
            dc_release(vals);
            return NULL;
        }
    }
    return vals;
}

static inline void copy_element(char *dst, const char *src, size_t esz) {
    switch (esz) {
    case 1: memcpy(dst, src, 1); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, esz); break;
    }
}

/* For every element e of out: out[e] = t[e with axis replaced by
 * vals[pos(e)]], pos(e) = sum e_d * pos_strides[d]. */
static void pick_walk(dc_tensor *out, const dc_tensor *t, int axis, const int64_t *vals,
                      const int64_t *pos_strides) {
    if (out->numel == 0) return;
    int64_t strides[3][DC_MAX_DIMS];
    memcpy(strides[0], out->strides, sizeof out->strides);
    memcpy(strides[1], t->strides, sizeof t->strides);
    strides[1][axis] = 0;
    memcpy(strides[2], pos_strides, (size_t)out->ndim * sizeof *pos_strides);
    int64_t offs[3] = {out->offset, t->offset, 0};
    dc_iter it;
    dc__iter_init(&it, out->ndim, out->shape, 3, strides, offs);
    size_t esz = dc_dtype_size(t->dtype);
    char *d = out->storage->data;
    const char *s = t->storage->data;
    int64_t astride = t->strides[axis];
    while (dc__iter_next(&it)) {
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t so = it.off[1] + i * it.istride[1] + vals[it.off[2] + i * it.istride[2]] * astride;
            copy_element(d + (it.off[0] + i * it.istride[0]) * (int64_t)esz,
                         s + so * (int64_t)esz, esz);
        }
    }
}

/* The reverse of pick_walk: g[e with axis replaced by vals[pos(e)]] +=
 * gout[e] for every element e of gout. g is f32 or f64, gout the same. */
static void scatter_add_walk(dc_tensor *g, const dc_tensor *gout, int axis,
                             const int64_t *vals, const int64_t *pos_strides) {
    if (gout->numel == 0) return;
    int64_t strides[3][DC_MAX_DIMS];
    memcpy(strides[0], gout->strides, sizeof gout->strides);
    memcpy(strides[1], g->strides, sizeof g->strides);
    strides[1][axis] = 0;
    memcpy(strides[2], pos_strides, (size_t)gout->ndim * sizeof *pos_strides);
    int64_t offs[3] = {gout->offset, g->offset, 0};
    dc_iter it;
    dc__iter_init(&it, gout->ndim, gout->shape, 3, strides, offs);
    int64_t astride = g->strides[axis];
    while (dc__iter_next(&it)) {
        for (int64_t i = 0; i < it.inner; i++) {
            int64_t src = it.off[0] + i * it.istride[0];
            int64_t dst = it.off[1] + i * it.istride[1] + vals[it.off[2] + i * it.istride[2]] * astride;
            if (g->dtype == DC_F32)
                ((float *)g->storage->data)[dst] += ((const float *)gout->storage->data)[src];
            else
                ((double *)g->storage->data)[dst] += ((const double *)gout->storage->data)[src];
        }
    }
}

/* index_select of a contiguous tensor (t: outer x n x inner along axis,
 * out: outer x m x inner, both contiguous): whole runs of inner elements
 * copied, and added back in the backward (the same order as the walks,
 * so the same bits with repeated indices). A GPT's embedding lookup, 2048
 * rows of 128 floats, took ~0.5 ms of its step element by element. */
typedef struct row_shape {
    int64_t outer, n, m, inner;
} row_shape;

static row_shape rows_of(const dc_tensor *t, int axis, int64_t m) {
    row_shape r = {1, t->shape[axis], m, 1};
    for (int d = 0; d < axis; d++) r.outer *= t->shape[d];
    for (int d = axis + 1; d < t->ndim; d++) r.inner *= t->shape[d];
    return r;
}

static void select_rows(dc_tensor *out, const dc_tensor *t, row_shape r, const int64_t *vals) {
    if (out->numel == 0) return;   /* outer may be huge with nothing to copy */
    size_t esz = dc_dtype_size(t->dtype), run = (size_t)r.inner * esz;
    char *d = dc__tensor_data(out);
    const char *s = dc__tensor_data(t);
    for (int64_t o = 0; o < r.outer; o++)
        for (int64_t k = 0; k < r.m; k++, d += run)
            memcpy(d, s + (size_t)(o * r.n + vals[k]) * run, run);
}

static void add_selected_rows(dc_tensor *g, const dc_tensor *gout, row_shape r,
                              const int64_t *vals) {
    if (gout->numel == 0) return;
    for (int64_t o = 0; o < r.outer; o++)
        for (int64_t k = 0; k < r.m; k++) {
            int64_t src = (o * r.m + k) * r.inner, dst = (o * r.n + vals[k]) * r.inner;
            if (g->dtype == DC_F32) {
                float *gd = (float *)dc__tensor_data(g) + dst;
                const float *gs = (const float *)dc__tensor_data(gout) + src;
                for (int64_t i = 0; i < r.inner; i++) gd[i] += gs[i];
            } else {
                double *gd = (double *)dc__tensor_data(g) + dst;
                const double *gs = (const double *)dc__tensor_data(gout) + src;
                for (int64_t i = 0; i < r.inner; i++) gd[i] += gs[i];
            }
        }
}

/* Normalises the axis of an indexing op (the tensor needs >= 1 dim). */
static bool index_axis(int *axis, const dc_tensor *t, const char *func) {
    if (t->ndim == 0) {
        dc__fail(DC_E_RANGE, "%s: a 0-dim tensor has no axis %d", func, *axis);
        return false;
    }
    return dc__norm_axis(axis, t->ndim, func);
}

/* Records op with the loaded index values saved; releases vals unless
 * the node keeps them. Returns out (published) or NULL. */
static dc_tensor *finish(dc_tensor *out, dc_op_id op, dc_tensor *t, int axis,
                         dc_tensor *vals) {
    dc_node *node;
    out = dc__record_or_drop(out, op, &t, 1, &node);
    if (node) {
        node->iparams[0] = axis;
        node->saved = vals;   /* a private copy: later writes to index cannot change it */
    } else {
        dc_release(vals);
    }
    return dc__publish(out);
}

/* ---------------------------------------------------------------- */
/* index_select                                                      */
/* ---------------------------------------------------------------- */

/* t: (..., n, ...), index: (m) -> (..., m, ...); out[.., k, ..] = t[.., index[k], ..] */
dc_tensor *dc_index_select(dc_tensor *t, int axis, const dc_tensor *index) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_index_select", "t");
    DC_CHECK_TENSOR_OR_NULL(index, "dc_index_select", "index");
    if (!index_axis(&axis, t, "dc_index_select")) return NULL;
    if (index->ndim != 1) {
        dc__fail(DC_E_SHAPE, "dc_index_select: index must be 1-D, not %d-D", index->ndim);
        return NULL;
    }
    dc_tensor *vals = load_index(index, t->shape[axis], axis, "dc_index_select");
    if (!vals) return NULL;
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[axis] = index->shape[0];
    dc_tensor *out = dc__tensor_new(t->dtype, t->ndim, shape, false);
    if (!out) {
        dc_release(vals);
        return NULL;
    }
    if (dc__tensor_is_contiguous(t)) {
        select_rows(out, t, rows_of(t, axis, index->shape[0]), dc__tensor_data(vals));
    } else {
        int64_t pos[DC_MAX_DIMS] = {0};
        pos[axis] = 1;
        pick_walk(out, t, axis, dc__tensor_data(vals), pos);
    }
    return finish(out, DC_OP_INDEX_SELECT, t, axis, vals);
}

/* gout: (..., m, ...) -> zeros (..., n, ...) with row k added into row index[k]. */
dc_status dc__index_select_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                    dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    int axis = (int)node->iparams[0];
    dc_tensor *g = dc__tensor_new(gout->dtype, in->ndim, in->shape, true);
    if (!g) return dc_last_status();
    if (dc__tensor_is_contiguous(gout)) {
        add_selected_rows(g, gout, rows_of(in, axis, gout->shape[axis]),
                          dc__tensor_data(node->saved));
    } else {
        int64_t pos[DC_MAX_DIMS] = {0};
        pos[axis] = 1;
        scatter_add_walk(g, gout, axis, dc__tensor_data(node->saved), pos);
    }
    gin[0] = g;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* gather                                                            */
/* ---------------------------------------------------------------- */

/* t: (n0, n1), index: (m0, m1), m_d <= n_d off axis -> (m0, m1);
 * for axis 0: out[i][j] = t[index[i][j]][j]. */
dc_tensor *dc_gather(dc_tensor *t, int axis, const dc_tensor *index) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_gather", "t");
    DC_CHECK_TENSOR_OR_NULL(index, "dc_gather", "index");
    if (!index_axis(&axis, t, "dc_gather")) return NULL;
    if (index->ndim != t->ndim) {
        dc__fail(DC_E_SHAPE, "dc_gather: index has %d dims, the tensor %d", index->ndim,
                 t->ndim);
        return NULL;
    }
    for (int d = 0; d < t->ndim; d++) {
        if (d != axis && index->shape[d] > t->shape[d]) {
            dc__fail(DC_E_SHAPE, "dc_gather: index size %lld exceeds the tensor's %lld on "
                     "axis %d", (long long)index->shape[d], (long long)t->shape[d], d);
            return NULL;
        }
    }
    dc_tensor *vals = load_index(index, t->shape[axis], axis, "dc_gather");
    if (!vals) return NULL;
    dc_tensor *out = dc__tensor_new(t->dtype, index->ndim, index->shape, false);
    if (!out) {
        dc_release(vals);
        return NULL;
    }
    /* vals and out are both contiguous with one shape: same positions */
    pick_walk(out, t, axis, dc__tensor_data(vals), vals->strides);
    return finish(out, DC_OP_GATHER, t, axis, vals);
}

/* gout: index's shape -> zeros of t's shape, each element added at the
 * position it was gathered from. */
dc_status dc__gather_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                              dc_tensor **gin) {
    (void)out;
    dc_tensor *in = node->inputs[0];
    int axis = (int)node->iparams[0];
    dc_tensor *g = dc__tensor_new(gout->dtype, in->ndim, in->shape, true);
    if (!g) return dc_last_status();
    scatter_add_walk(g, gout, axis, dc__tensor_data(node->saved), node->saved->strides);
    gin[0] = g;
    return DC_OK;
}
