/* The autodiff engine: recording history as ops run (an eager tape kept
 * as a graph of nodes hanging off the tensors they made), and dc_backward,
 * which walks it in reverse topological order. See doc/autodiff.md. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "../ops/fastmath.h"

#include <string.h>

static _Thread_local DC_TLS_FAST int tl_grad_disabled = 0;   /* 0: recording on */

int dc_set_grad_enabled(int enabled) {
    int prev = !tl_grad_disabled;
    tl_grad_disabled = !enabled;
    return prev;
}

int dc_is_grad_enabled(void) { return !tl_grad_disabled; }

bool dc__should_record(dc_tensor *const *inputs, int n) {
    if (tl_grad_disabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

void dc__node_free(dc_node *node) {
    if (!node) return;
    for (int i = 0; i < node->n_inputs; i++) dc_release(node->inputs[i]);
    dc_release(node->saved);
    if (node->custom_ctx_free) node->custom_ctx_free(node->custom_ctx);
    if (node->inputs != node->inline_inputs) dc__free(node->inputs);
    if (node->input_versions != node->inline_versions) dc__free(node->input_versions);
    dc__free(node);
}

dc_status dc__record(dc_tensor *out, dc_op_id op, dc_tensor *const *inputs, int n,
                     dc_node **node_out) {
    *node_out = NULL;
    if (!dc__should_record(inputs, n)) return DC_OK;
    dc_node *node = dc__calloc(1, sizeof *node);
    if (!node) return DC_E_NOMEM;
    if (n <= DC_NODE_INLINE_INPUTS) {
        node->inputs = node->inline_inputs;
        node->input_versions = node->inline_versions;
    } else {
        node->inputs = dc__calloc((size_t)n, sizeof *node->inputs);
        node->input_versions = dc__calloc((size_t)n, sizeof *node->input_versions);
        if (!node->inputs || !node->input_versions) {
            dc__node_free(node);
            return DC_E_NOMEM;
        }
    }
    node->op = op;
    node->n_inputs = n;
    for (int i = 0; i < n; i++) {
        node->inputs[i] = dc_retain(inputs[i]);
        node->input_versions[i] = dc__version(inputs[i]);
    }
    node->out_version = dc__version(out);
    out->grad_fn = node;
    out->requires_grad = true;
    *node_out = node;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Leaves and gradients                                              */
/* ---------------------------------------------------------------- */

dc_status dc_set_requires_grad(dc_tensor *t, int requires_grad) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_set_requires_grad", "t");
    if (t->grad_fn || t->graph_freed)
        return dc__fail(DC_E_STATE,
                        "dc_set_requires_grad: only a leaf tensor can be marked; "
                        "use dc_detach to make one from a computed tensor");
    if (requires_grad && !dc__dtype_is_float(t->dtype))
        return dc__fail(DC_E_DTYPE,
                        "dc_set_requires_grad: only f32 and f64 tensors can require grad, not %s",
                        dc_dtype_name(t->dtype));
    t->requires_grad = requires_grad != 0;
    return DC_OK;
}

int dc_requires_grad(const dc_tensor *t) {
    if (!dc__is_tensor(t)) {
        dc__fail(DC_E_INVALID, "dc_requires_grad: 't' is not a live tensor");
        return -1;
    }
    return t->requires_grad;
}

int dc_is_leaf(const dc_tensor *t) {
    if (!dc__is_tensor(t)) {
        dc__fail(DC_E_INVALID, "dc_is_leaf: 't' is not a live tensor");
        return -1;
    }
    return t->grad_fn == NULL && !t->graph_freed;
}

dc_tensor *dc_grad(dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_grad", "t");
    if (!t->requires_grad) {
        dc__fail(DC_E_STATE, "dc_grad: the tensor does not require grad");
        return NULL;
    }
    if (t->grad_fn || t->graph_freed) {
        dc__fail(DC_E_STATE, "dc_grad: gradients are kept for leaf tensors only");
        return NULL;
    }
    if (!t->grad) {
        dc__fail(DC_E_STATE, "dc_grad: no gradient has been computed yet");
        return NULL;
    }
    return dc__publish(dc_retain(t->grad));
}

dc_status dc_zero_grad(dc_tensor *t) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_zero_grad", "t");
    dc_release(t->grad);
    t->grad = NULL;
    return DC_OK;
}

dc_tensor *dc_detach(dc_tensor *t) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_detach", "t");
    return dc__publish(dc__tensor_view(t, t->ndim, t->shape, t->strides, t->offset));
}

/* d[i] += s[i]: the common case of gradient accumulation, compiled for
 * AVX-512 and AVX2 too. */
static DC_VEC_CLONES void add_f32(float *d, const float *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

/* dst += src on a part of them: elements [lo, hi) when both are
 * contiguous f32 (flat), else indices [lo, hi) of the first axis. */
static void add_part(dc_tensor *dst, const dc_tensor *src, bool flat, int64_t lo, int64_t hi) {
    if (flat) {
        add_f32((float *)dc__tensor_data(dst) + lo, (const float *)dc__tensor_data(src) + lo,
                hi - lo);
        return;
    }
    dc_iter it;
    dc__iter_init_pair_rows(&it, dst, src, lo, hi);
    char *d = dst->storage->data;
    const char *s = src->storage->data;
    while (dc__iter_next(&it)) {
        if (dst->dtype == DC_F32 && src->dtype == DC_F32) {
            float *dp = (float *)d + it.off[0];
            const float *sp = (const float *)s + it.off[1];
            if (it.istride[0] == 1 && it.istride[1] == 1)
                for (int64_t i = 0; i < it.inner; i++) dp[i] += sp[i];
            else
                for (int64_t i = 0; i < it.inner; i++)
                    dp[i * it.istride[0]] += sp[i * it.istride[1]];
        } else {
            for (int64_t i = 0; i < it.inner; i++) {
                int64_t di = it.off[0] + i * it.istride[0];
                dc__store(d, dst->dtype, di,
                          dc__load(d, dst->dtype, di) +
                              dc__load(s, src->dtype, it.off[1] + i * it.istride[1]));
            }
        }
    }
}

typedef struct add_job {
    dc_tensor *dst;
    const dc_tensor *src;
    bool flat;
} add_job;

static void add_range(void *ctx, int64_t lo, int64_t hi) {
    const add_job *j = ctx;
    add_part(j->dst, j->src, j->flat, lo, hi);
}

/* Gradients of at least this many elements are added on the pool, in
 * parts of at least ADD_PART: a GPT's residual stream and attention
 * projections (262k elements) were added on one thread while the other
 * waited. Elementwise, so any split gives the same bits. */
#define ADD_PAR_MIN ((int64_t)1 << 16)
#define ADD_PART ((int64_t)1 << 14)

/* dst += src elementwise; same shape, floating dtypes (may differ). */
static void add_into(dc_tensor *dst, const dc_tensor *src) {
    bool flat = dst->dtype == DC_F32 && src->dtype == DC_F32 && dc__tensor_is_contiguous(dst) &&
                dc__tensor_is_contiguous(src);
    add_job j = {dst, src, flat};
    int64_t items = flat ? dst->numel : (dst->ndim > 0 ? dst->shape[0] : 1);
    /* elements or first-axis indices; below ADD_PAR_MIN one part */
    dc__parallel_range(add_range, &j, items, dst->numel >= ADD_PAR_MIN ? dst->numel : 0,
                       ADD_PART);
}

/* True when g is referenced once (by the caller) and alone uses its
 * storage, every element once: nobody else can see a write into it, so
 * it may become an accumulator as it is. */
static bool exclusive(const dc_tensor *g) {
    return atomic_load(&g->refcount) == 1 && atomic_load(&g->storage->refcount) == 1 &&
           g->storage->owns_data && dc__tensor_is_contiguous(g);
}

/* Adds g into *slot; *g_ref is the caller's reference to g, which this
 * takes over when g can serve as the accumulator itself (then *g_ref is
 * set to NULL). The first gradient is kept as given; a second one makes
 * the slot a private contiguous tensor (g itself when exclusive) that
 * further ones add into. */
static dc_status accumulate(dc_tensor **slot, dc_tensor **g_ref, bool *slot_private) {
    dc_tensor *g = *g_ref;
    if (!*slot) {
        *slot = g;
        *g_ref = NULL;
        *slot_private = exclusive(g);
        return DC_OK;
    }
    if (!*slot_private) {
        if (exclusive(g) && g->dtype == (*slot)->dtype) {
            /* add the slot into g instead, and keep g */
            add_into(g, *slot);
            dc_release(*slot);
            *slot = g;
            *g_ref = NULL;
            *slot_private = true;
            return DC_OK;
        }
        dc_tensor *copy = dc__copy_contiguous(*slot);
        if (!copy) return dc_last_status();
        dc_release(*slot);
        *slot = copy;
        *slot_private = true;
    }
    add_into(*slot, g);
    return DC_OK;
}

/* A leaf's .grad is always its own contiguous tensor, so that callers and
 * optimizers may change it in place: an exclusive first gradient becomes
 * it as it is, another one is copied. */
static dc_status accumulate_leaf(dc_tensor *leaf, dc_tensor **g_ref) {
    dc_tensor *g = *g_ref;
    if (!leaf->grad) {
        if (exclusive(g) && g->dtype == leaf->dtype) {
            leaf->grad = g;
            *g_ref = NULL;
            return DC_OK;
        }
        dc_tensor *copy = dc__tensor_new(leaf->dtype, leaf->ndim, leaf->shape, false);
        if (!copy) return dc_last_status();
        dc__copy_elements(copy, g);
        leaf->grad = copy;
        return DC_OK;
    }
    add_into(leaf->grad, g);
    return DC_OK;
}

/* The gradient of a slice goes straight into the window of its input's
 * accumulator (made zero-filled at the input's size the first time),
 * instead of a zero tensor of the input's size per slice: a sequence cut
 * into T steps then costs O(size) rather than O(T size). */
static dc_status slice_backward_into(dc_node *node, dc_tensor *gout) {
    dc_tensor *in = node->inputs[0];
    if (!in->requires_grad) return DC_OK;
    dc_tensor **slot = in->grad_fn ? &in->bw_grad : &in->grad;
    if (!*slot) {
        *slot = dc__tensor_new(in->dtype, in->ndim, in->shape, true);
        if (!*slot) return dc_last_status();
        if (in->grad_fn) in->bw_grad_private = true;
    } else if (in->grad_fn && !in->bw_grad_private) {
        dc_tensor *copy = dc__copy_contiguous(*slot);
        if (!copy) return dc_last_status();
        dc_release(*slot);
        *slot = copy;
        in->bw_grad_private = true;
    }
    dc_tensor *acc = *slot;
    int axis = (int)node->iparams[0];
    int64_t start = node->iparams[1], step = node->iparams[2];
    int64_t st[DC_MAX_DIMS];
    memcpy(st, acc->strides, sizeof st);
    st[axis] *= step;
    dc_tensor *win = dc__tensor_view(acc, gout->ndim, gout->shape, st,
                                     acc->offset + start * acc->strides[axis]);
    if (!win) return dc_last_status();
    add_into(win, gout);
    dc_release(win);
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* dc_backward                                                       */
/* ---------------------------------------------------------------- */

static atomic_uint_fast64_t g_stamp = 1;

typedef struct tensor_list {
    dc_tensor **items;
    size_t count, cap;
} tensor_list;

static bool list_push(tensor_list *l, dc_tensor *t) {
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        dc_tensor **items = dc__realloc(l->items, cap * sizeof *items);
        if (!items) return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = t;
    return true;
}

/* Post-order of the non-leaf tensors reachable from root (iterative DFS;
 * graphs may be very deep). */
static dc_status topo_order(dc_tensor *root, tensor_list *order) {
    uint64_t stamp = atomic_fetch_add(&g_stamp, 1);
    tensor_list stack = {0};
    tensor_list pos = {0};   /* next input index per stack entry, as pointers */
    dc_status st = DC_OK;
    root->bw_stamp = stamp;
    if (!list_push(&stack, root) || !list_push(&pos, NULL)) { st = DC_E_NOMEM; goto done; }
    while (stack.count > 0) {
        dc_tensor *t = stack.items[stack.count - 1];
        uintptr_t i = (uintptr_t)pos.items[pos.count - 1];
        dc_node *node = t->grad_fn;
        if (i < (uintptr_t)node->n_inputs) {
            pos.items[pos.count - 1] = (dc_tensor *)(i + 1);
            dc_tensor *in = node->inputs[i];
            if (!in->requires_grad || in->bw_stamp == stamp) continue;
            in->bw_stamp = stamp;
            if (in->graph_freed) {
                st = dc__fail(DC_E_STATE,
                              "dc_backward: part of the history was freed by an earlier "
                              "backward; pass retain_graph to backward twice");
                goto done;
            }
            if (!in->grad_fn) continue;     /* a leaf */
            if (!list_push(&stack, in) || !list_push(&pos, NULL)) { st = DC_E_NOMEM; goto done; }
        } else {
            if (!list_push(order, t)) { st = DC_E_NOMEM; goto done; }
            stack.count--;
            pos.count--;
        }
    }
done:
    dc__free(stack.items);
    dc__free(pos.items);
    return st;
}

static dc_status check_versions(const dc_node *node, const dc_tensor *out, const char *name) {
    for (int i = 0; i < node->n_inputs; i++)
        if (dc__version(node->inputs[i]) != node->input_versions[i])
            return dc__fail(DC_E_STATE,
                            "dc_backward: input %d of '%s' was modified in place after "
                            "it was used; its gradient would be wrong", i, name);
    if (dc__version(out) != node->out_version)
        return dc__fail(DC_E_STATE,
                        "dc_backward: the output of '%s' was modified in place after "
                        "it was computed; its gradient would be wrong", name);
    return DC_OK;
}

/* Runs one node's backward and hands each input its share. */
static dc_status backward_node(dc_tensor *t) {
    dc_node *node = t->grad_fn;
    const dc_op_def *def = dc__op_def((int)node->op);
    const char *name = node->op == DC_OP_CUSTOM ? node->custom_name
                       : def ? def->name : "?";
    if (!def || !def->backward)
        return dc__fail(DC_E_INTERNAL, "dc_backward: op %d has no backward", (int)node->op);
    dc_status st = check_versions(node, t, name);
    if (st != DC_OK) return st;
    if (node->op == DC_OP_SLICE) return slice_backward_into(node, t->bw_grad);
    dc_tensor *small[4] = {0};
    dc_tensor **gin = node->n_inputs <= 4 ? small
                      : dc__calloc((size_t)node->n_inputs, sizeof *gin);
    if (!gin) return DC_E_NOMEM;
    dc_scope *scope = dc_scope_begin();
    if (!scope) {
        if (gin != small) dc__free(gin);
        return DC_E_NOMEM;
    }
    st = def->backward(node, t, t->bw_grad, gin);
    /* gin holds its own references: ending the scope first leaves a
     * gradient nobody else uses with one reference, so it can become an
     * accumulator without a copy. */
    dc_scope_end(scope);
    for (int i = 0; st == DC_OK && i < node->n_inputs; i++) {
        dc_tensor *in = node->inputs[i];
        dc_tensor *g = gin[i];
        if (!g || !in->requires_grad) continue;
        if (g->ndim != in->ndim || memcmp(g->shape, in->shape, (size_t)in->ndim * sizeof(int64_t)) != 0) {
            st = dc__fail(node->op == DC_OP_CUSTOM ? DC_E_SHAPE : DC_E_INTERNAL,
                          "dc_backward: the gradient '%s' gave input %d has the wrong shape",
                          name, i);
            break;
        }
        if (in->grad_fn) {
            st = accumulate(&in->bw_grad, &gin[i], &in->bw_grad_private);
        } else {
            st = accumulate_leaf(in, &gin[i]);
        }
    }
    for (int i = 0; i < node->n_inputs; i++) dc_release(gin[i]);
    if (gin != small) dc__free(gin);
    return st;
}

dc_status dc_backward(dc_tensor *root, dc_tensor *grad_output, int retain_graph) {
    DC_CHECK_TENSOR_OR_STATUS(root, "dc_backward", "t");
    if (!root->requires_grad)
        return dc__fail(DC_E_STATE, "dc_backward: the tensor does not require grad "
                                    "(no input of it required grad, or recording was off)");
    if (root->graph_freed)
        return dc__fail(DC_E_STATE, "dc_backward: the history of this tensor was freed by an "
                                    "earlier backward; pass retain_graph to backward twice");
    if (grad_output) {
        DC_CHECK_TENSOR_OR_STATUS(grad_output, "dc_backward", "grad_output");
        if (grad_output->dtype != root->dtype)
            return dc__fail(DC_E_DTYPE, "dc_backward: grad_output is %s, the tensor is %s",
                            dc_dtype_name(grad_output->dtype), dc_dtype_name(root->dtype));
        if (grad_output->ndim != root->ndim ||
            memcmp(grad_output->shape, root->shape, (size_t)root->ndim * sizeof(int64_t)) != 0)
            return dc__fail(DC_E_SHAPE, "dc_backward: grad_output's shape differs from the tensor's");
    } else if (root->numel != 1) {
        return dc__fail(DC_E_SHAPE, "dc_backward: the tensor has %lld elements; give grad_output "
                                    "for a tensor that is not a scalar", (long long)root->numel);
    }

    if (!root->grad_fn) {   /* a leaf: its gradient is grad_output itself */
        dc_tensor *one = grad_output ? dc_retain(grad_output)
                                     : dc__tensor_new(root->dtype, root->ndim, root->shape, false);
        if (!one) return dc_last_status();
        if (!grad_output) dc_fill(one, 1.0);
        dc_status st = accumulate_leaf(root, &one);
        dc_release(one);
        return st;
    }

    tensor_list order = {0};
    dc_status st = topo_order(root, &order);
    int prev_mode = dc_set_grad_enabled(0);
    if (st == DC_OK) {
        if (grad_output) {
            root->bw_grad = dc_retain(grad_output);
        } else {
            root->bw_grad = dc__tensor_new(root->dtype, root->ndim, root->shape, false);
            if (!root->bw_grad) st = dc_last_status();
            else dc_fill(root->bw_grad, 1.0);
        }
    }
    for (size_t k = order.count; st == DC_OK && k > 0; k--) {
        dc_tensor *t = order.items[k - 1];
        if (!t->bw_grad) continue;          /* nothing flowed into it */
        st = backward_node(t);
        dc_release(t->bw_grad);
        t->bw_grad = NULL;
    }
    dc_set_grad_enabled(prev_mode);
    /* On failure, drop what is still waiting. */
    for (size_t k = 0; k < order.count; k++) {
        dc_release(order.items[k]->bw_grad);
        order.items[k]->bw_grad = NULL;
    }
    if (st == DC_OK && !retain_graph) {
        /* Keep every tensor of the list alive while their nodes go: a node
         * holds the last reference of some inputs. */
        for (size_t k = 0; k < order.count; k++) dc_retain(order.items[k]);
        for (size_t k = 0; k < order.count; k++) {
            dc_tensor *t = order.items[k];
            dc__node_free(t->grad_fn);
            t->grad_fn = NULL;
            t->graph_freed = true;
        }
        for (size_t k = 0; k < order.count; k++) dc_release(order.items[k]);
    }
    dc__free(order.items);
    return st;
}
