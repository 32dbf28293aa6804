/* Tensor headers, storage, reference counts, and element access. */
#include "internal.h"
#include "threads.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Shapes                                                            */
/* ---------------------------------------------------------------- */

/* "func: " before a message, or nothing when func is NULL. */
#define FUNC_PREFIX(func) (func) ? (func) : "", (func) ? ": " : ""

dc_status dc__check_shape(const char *func, int ndim, const int64_t *shape, int64_t *numel) {
    if (ndim < 0 || ndim > DC_MAX_DIMS)
        return dc__fail(DC_E_SHAPE, "%s%sndim %d is outside 0..%d", FUNC_PREFIX(func), ndim,
                        DC_MAX_DIMS);
    if (ndim > 0 && shape == NULL)
        return dc__fail(DC_E_INVALID, "%s%s'shape' is NULL for ndim %d", FUNC_PREFIX(func),
                        ndim);
    /* The product of the non-zero sizes must fit too: strides are computed
     * from it even when an axis of size 0 makes the tensor empty. */
    int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return dc__fail(DC_E_SHAPE, "%s%ssize %lld of axis %d is negative",
                            FUNC_PREFIX(func), (long long)shape[i], i);
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        if (n > INT64_MAX / 16 / shape[i])
            return dc__fail(DC_E_OVERFLOW, "%s%sthe element count of the shape overflows",
                            FUNC_PREFIX(func));
        n *= shape[i];
    }
    *numel = empty ? 0 : n;
    return DC_OK;
}

void dc__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

bool dc__tensor_is_contiguous(const dc_tensor *t) {
    if (t->numel == 0) return true;   /* as PyTorch: nothing to lay out */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (t->strides[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool dc__norm_axis(int *axis, int ndim, const char *func) {
    int a = *axis;
    int n = ndim > 0 ? ndim : 1;
    if (a < -n || a >= n) {
        dc__fail(DC_E_RANGE, "%s: axis %d is out of range for %d dims", func, a, ndim);
        return false;
    }
    *axis = a < 0 ? a + n : a;
    return true;
}

/* ---------------------------------------------------------------- */
/* Storage                                                           */
/* ---------------------------------------------------------------- */

/* The storage header and its data share one block (one allocation per
 * tensor); the data start 64 bytes in, which keeps the 64-byte alignment
 * the library's allocator gives. */
#define STORAGE_HEAD 64
_Static_assert(sizeof(dc_storage) <= STORAGE_HEAD, "dc_storage must fit its slot");

/* Zero fills of at least PAR_ZERO_BYTES run on the pool, in parts of at
 * least ZERO_PART_LINES cache lines: the GPT's q, k and v gradients go
 * into one zeroed accumulator of the fused projection's output (3 MB a
 * layer, engine.c's slice_backward_into), which the caller zeroed alone
 * (perf: ~0.5 ms of its step). */
#define PAR_ZERO_BYTES ((size_t)1 << 20)
#define ZERO_PART_LINES ((int64_t)4096)

/* Cache lines [lo, hi) of a block of ctx's bytes. */
typedef struct zero_job {
    char *p;
    int64_t bytes;
} zero_job;

static void zero_lines(void *ctx, int64_t lo, int64_t hi) {
    const zero_job *z = ctx;
    lo *= 64;
    hi = hi * 64 < z->bytes ? hi * 64 : z->bytes;
    memset(z->p + lo, 0, (size_t)(hi - lo));
}

static void zero_bytes(char *p, size_t nbytes) {
    if (nbytes < PAR_ZERO_BYTES) {
        memset(p, 0, nbytes);
        return;
    }
    zero_job z = {p, (int64_t)nbytes};
    int64_t lines = ((int64_t)nbytes + 63) / 64;
    dc__parallel_range(zero_lines, &z, lines, lines, ZERO_PART_LINES);
}

static dc_storage *storage_new(size_t nbytes, bool zero) {
    if (nbytes > SIZE_MAX - STORAGE_HEAD) {
        dc__fail(DC_E_OVERFLOW, "a storage of %zu bytes does not fit in memory", nbytes);
        return NULL;
    }
    dc_storage *s = dc__malloc(STORAGE_HEAD + nbytes);
    if (!s) return NULL;
    s->data = (char *)s + STORAGE_HEAD;
    s->data_inline = true;
    if (zero) zero_bytes(s->data, nbytes);
    atomic_init(&s->refcount, 1);
    atomic_init(&s->version, 0);
    s->nbytes = nbytes;
    s->release = NULL;
    s->release_ctx = NULL;
    s->owns_data = true;
    return s;
}

static void storage_release(dc_storage *s) {
    if (!s || !dc__drop_ref(&s->refcount)) return;
    if (!s->owns_data) {
        if (s->release) s->release(s->data, s->release_ctx);
    } else if (!s->data_inline) {
        dc__free(s->data);
    }
    dc__free(s);
}

/* ---------------------------------------------------------------- */
/* Tensor headers                                                    */
/* ---------------------------------------------------------------- */

static dc_tensor *header_new(dc_dtype dtype, int ndim, const int64_t *shape,
                             const int64_t *strides, int64_t offset,
                             int64_t numel, dc_storage *storage) {
    dc_tensor *t = dc__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->magic = DC_TENSOR_MAGIC;
    atomic_init(&t->refcount, 1);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0) {
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
        memcpy(t->strides, strides, (size_t)ndim * sizeof *strides);
    }
    t->offset = offset;
    t->numel = numel;
    t->storage = storage;
    return t;
}

dc_tensor *dc__tensor_new(dc_dtype dtype, int ndim, const int64_t *shape, bool zero) {
    return dc__tensor_new_for(NULL, dtype, ndim, shape, zero);
}

dc_tensor *dc__tensor_new_for(const char *func, dc_dtype dtype, int ndim,
                              const int64_t *shape, bool zero) {
    int64_t numel;
    if (!dc__dtype_valid(dtype)) {
        dc__fail(DC_E_DTYPE, "%s%sunknown dtype %d", FUNC_PREFIX(func), (int)dtype);
        return NULL;
    }
    if (dc__check_shape(func, ndim, shape, &numel) != DC_OK) return NULL;
    int64_t strides[DC_MAX_DIMS];
    dc__contiguous_strides(ndim, shape, strides);
    /* numel is set whenever dc__check_shape returns DC_OK (dc__fail never returns DC_OK)
     * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    dc_storage *s = storage_new((size_t)numel * dc_dtype_size(dtype), zero);
    if (!s) return NULL;
    dc_tensor *t = header_new(dtype, ndim, shape, strides, 0, numel, s);
    if (!t) storage_release(s);
    return t;
}

dc_tensor *dc__tensor_view(dc_tensor *base, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset) {
    int64_t numel;
    if (dc__check_shape(NULL, ndim, shape, &numel) != DC_OK) return NULL;
    dc_tensor *t = header_new(base->dtype, ndim, shape, strides, offset, numel,
                              base->storage);
    if (t) atomic_fetch_add(&base->storage->refcount, 1);
    return t;
}

dc_tensor *dc__publish(dc_tensor *t) {
    if (!t) return NULL;
    if (!dc__scope_adopt(t)) {
        dc_release(t);
        return NULL;
    }
    return t;
}

dc_tensor *dc_retain(dc_tensor *t) {
    if (!dc__is_tensor(t)) {
        if (t) dc__fail(DC_E_INVALID, "dc_retain: not a live tensor");
        return NULL;
    }
    atomic_fetch_add(&t->refcount, 1);
    return t;
}

/* Destruction is iterative: freeing a tensor frees its history node,
 * which releases the node's inputs, and so on down a graph that may be
 * thousands of ops deep. Tensors whose count reaches zero while a
 * destruction is running on this thread wait in a list instead of
 * recursing, so the stack depth stays constant. */
static _Thread_local DC_TLS_FAST dc_tensor *tl_free_list = NULL;
static _Thread_local DC_TLS_FAST bool tl_freeing = false;

static void tensor_destroy(dc_tensor *t) {
    dc_node *node = t->grad_fn;
    dc_tensor *grad = t->grad;
    dc_tensor *bw = t->bw_grad;
    storage_release(t->storage);
    t->magic = DC_TENSOR_DEAD;
    dc__free(t);
    if (node) dc__node_free(node);
    dc_release(grad);
    dc_release(bw);
}

void dc_release(dc_tensor *t) {
    if (!t) return;
    if (t->magic != DC_TENSOR_MAGIC) {
        dc__fail(DC_E_INVALID, "dc_release: not a live tensor (released twice?)");
        return;
    }
    if (!dc__drop_ref(&t->refcount)) return;
    /* dead from now: a wrong second release while it waits in the list
     * (its count still reads 1) is refused above, not queued twice */
    t->magic = DC_TENSOR_DEAD;
    t->next_free = tl_free_list;
    tl_free_list = t;
    if (tl_freeing) return;
    tl_freeing = true;
    while (tl_free_list) {
        dc_tensor *next = tl_free_list;
        tl_free_list = next->next_free;
        tensor_destroy(next);
    }
    tl_freeing = false;
}

/* ---------------------------------------------------------------- */
/* Accessors                                                         */
/* ---------------------------------------------------------------- */

#define CHECK_RET(t, func, ret)                                               \
    do {                                                                      \
        if (!dc__is_tensor(t)) {                                              \
            dc__fail(DC_E_INVALID, "%s: '%s' is %s", func, "t",               \
                     (t) ? "not a live tensor" : "NULL");                     \
            return ret;                                                       \
        }                                                                     \
    } while (0)

int dc_ndim(const dc_tensor *t) { CHECK_RET(t, "dc_ndim", -1); return t->ndim; }

int64_t dc_numel(const dc_tensor *t) { CHECK_RET(t, "dc_numel", -1); return t->numel; }

int64_t dc_size(const dc_tensor *t, int axis) {
    CHECK_RET(t, "dc_size", -1);
    if (axis < -t->ndim || axis >= t->ndim) {
        dc__fail(DC_E_RANGE, "dc_size: axis %d is out of range for %d dims", axis, t->ndim);
        return -1;
    }
    return t->shape[axis < 0 ? axis + t->ndim : axis];
}

const int64_t *dc_shape(const dc_tensor *t) { CHECK_RET(t, "dc_shape", NULL); return t->shape; }

const int64_t *dc_strides(const dc_tensor *t) { CHECK_RET(t, "dc_strides", NULL); return t->strides; }

dc_dtype dc_tensor_dtype(const dc_tensor *t) {
    CHECK_RET(t, "dc_tensor_dtype", (dc_dtype)-1);
    return t->dtype;
}

int dc_is_contiguous(const dc_tensor *t) {
    CHECK_RET(t, "dc_is_contiguous", -1);
    return dc__tensor_is_contiguous(t);
}

void *dc_data_ptr(dc_tensor *t) {
    CHECK_RET(t, "dc_data_ptr", NULL);
    return dc__tensor_data(t);
}

/* ---------------------------------------------------------------- */
/* Copies between tensors and caller buffers                         */
/* ---------------------------------------------------------------- */

/* Walks t's elements in row-major order, one row at a time, converting
 * between t and a contiguous buffer of dtype buf_dtype. */
static void copy_strided(dc_tensor *t, void *buf, dc_dtype buf_dtype, bool to_buf) {
    if (t->numel == 0) return;
    int64_t strides[1][DC_MAX_DIMS];
    memcpy(strides[0], t->strides, sizeof t->strides);
    dc_iter it;
    dc__iter_init(&it, t->ndim, t->shape, 1, strides, &t->offset);
    char *data = t->storage->data;
    size_t esz = dc_dtype_size(t->dtype), bsz = dc_dtype_size(buf_dtype);
    char *b = buf;
    while (dc__iter_next(&it)) {
        char *p = data + it.off[0] * (int64_t)esz;
        if (to_buf)
            dc__convert(b, buf_dtype, 1, p, t->dtype, it.istride[0], it.inner);
        else
            dc__convert(p, t->dtype, it.istride[0], b, buf_dtype, 1, it.inner);
        b += it.inner * (int64_t)bsz;
    }
}

dc_status dc_copy_to(const dc_tensor *t, dc_dtype dtype, void *dst, size_t dst_bytes) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_copy_to", "t");
    if (!dc__dtype_valid(dtype))
        return dc__fail(DC_E_DTYPE, "dc_copy_to: unknown dtype %d", (int)dtype);
    size_t need = (size_t)t->numel * dc_dtype_size(dtype);
    if (need > 0 && dst == NULL) return dc__fail(DC_E_INVALID, "dc_copy_to: 'dst' is NULL");
    if (dst_bytes < need)
        return dc__fail(DC_E_RANGE, "dc_copy_to: %zu bytes given, %zu needed", dst_bytes, need);
    copy_strided((dc_tensor *)t, dst, dtype, true);
    return DC_OK;
}

dc_status dc_copy_from(dc_tensor *t, dc_dtype dtype, const void *src, size_t src_bytes) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_copy_from", "t");
    if (!dc__dtype_valid(dtype))
        return dc__fail(DC_E_DTYPE, "dc_copy_from: unknown dtype %d", (int)dtype);
    size_t need = (size_t)t->numel * dc_dtype_size(dtype);
    if (need > 0 && src == NULL) return dc__fail(DC_E_INVALID, "dc_copy_from: 'src' is NULL");
    if (src_bytes < need)
        return dc__fail(DC_E_RANGE, "dc_copy_from: %zu bytes given, %zu needed", src_bytes, need);
    copy_strided(t, (void *)src, dtype, false);
    dc__bump_version(t);
    return DC_OK;
}

/* dst = src on indices [lo, hi) of the first axis (all of a 0-d). */
static void copy_part(dc_tensor *dst, const dc_tensor *src, int64_t lo, int64_t hi) {
    dc_iter it;
    dc__iter_init_pair_rows(&it, dst, src, lo, hi);
    size_t dsz = dc_dtype_size(dst->dtype), ssz = dc_dtype_size(src->dtype);
    char *d = dst->storage->data;
    const char *s = src->storage->data;
    while (dc__iter_next(&it))
        dc__convert(d + it.off[0] * (int64_t)dsz, dst->dtype, it.istride[0],
                    s + it.off[1] * (int64_t)ssz, src->dtype, it.istride[1], it.inner);
}

typedef struct copy_job {
    dc_tensor *dst;
    const dc_tensor *src;
    int64_t nchunks;
} copy_job;

static void copy_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const copy_job *j = ctx;
    int64_t lo, hi;
    dc__chunk_range(j->dst->shape[0], j->nchunks, chunk, &lo, &hi);
    if (lo < hi) copy_part(j->dst, j->src, lo, hi);
}

/* Copies of at least this many elements into a contiguous tensor (which
 * no two source elements share) run on the pool, split by the first
 * axis into parts of at least COPY_PART elements: a GPT's head merge
 * (262k elements, transposed) ran on one thread while the other waited. */
#define COPY_PAR_MIN ((int64_t)1 << 16)
#define COPY_PART ((int64_t)1 << 14)

void dc__copy_elements(dc_tensor *dst, const dc_tensor *src) {
    if (src->numel == 0) return;
    if (dst->ndim == 0) {
        copy_part(dst, src, 0, 1);
        return;
    }
    copy_job j = {dst, src, 1};
    if (dst->numel >= COPY_PAR_MIN && dc__tensor_is_contiguous(dst))
        j.nchunks = dc__chunk_count(dst->shape[0], dst->numel, COPY_PART);
    dc__parallel_for(copy_chunk, &j, j.nchunks, (int)j.nchunks);
}

dc_tensor *dc__copy_contiguous(const dc_tensor *t) {
    dc_tensor *out = dc__tensor_new(t->dtype, t->ndim, t->shape, false);
    if (out) dc__copy_elements(out, t);
    return out;
}

dc_tensor *dc__contiguous_ref(dc_tensor *t) {
    if (!t) return NULL;
    return dc__tensor_is_contiguous(t) ? dc_retain(t) : dc__copy_contiguous(t);
}

/* Element offset (into storage) of a multi-index; negative entries count
 * from the end. */
static dc_status element_offset(const dc_tensor *t, const int64_t *index,
                                const char *func, int64_t *off) {
    if (t->ndim > 0 && index == NULL)
        return dc__fail(DC_E_INVALID, "%s: 'index' is NULL", func);
    int64_t o = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        int64_t k = index[i];
        if (k < -t->shape[i] || k >= t->shape[i])
            return dc__fail(DC_E_RANGE, "%s: index %lld is out of range for axis %d of size %lld",
                            func, (long long)k, i, (long long)t->shape[i]);
        if (k < 0) k += t->shape[i];
        o += k * t->strides[i];
    }
    *off = o;
    return DC_OK;
}

dc_status dc_item(const dc_tensor *t, double *out) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_item", "t");
    if (!out) return dc__fail(DC_E_INVALID, "dc_item: 'out' is NULL");
    if (t->numel != 1)
        return dc__fail(DC_E_SHAPE, "dc_item: tensor has %lld elements, not one", (long long)t->numel);
    int64_t zero[DC_MAX_DIMS] = {0};
    int64_t off = 0;
    element_offset(t, zero, "dc_item", &off);
    *out = dc__load(t->storage->data, t->dtype, off);
    return DC_OK;
}

dc_status dc_get(const dc_tensor *t, const int64_t *index, double *out) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_get", "t");
    if (!out) return dc__fail(DC_E_INVALID, "dc_get: 'out' is NULL");
    int64_t off;
    dc_status st = element_offset(t, index, "dc_get", &off);
    if (st != DC_OK) return st;
    *out = dc__load(t->storage->data, t->dtype, off);
    return DC_OK;
}

dc_status dc_set(dc_tensor *t, const int64_t *index, double value) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_set", "t");
    int64_t off;
    dc_status st = element_offset(t, index, "dc_set", &off);
    if (st != DC_OK) return st;
    /* off is set whenever element_offset returns DC_OK (dc__fail never returns DC_OK)
     * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
    dc__store(t->storage->data, t->dtype, off, value);
    dc__bump_version(t);
    return DC_OK;
}

dc_status dc_fill(dc_tensor *t, double value) {
    DC_CHECK_TENSOR_OR_STATUS(t, "dc_fill", "t");
    if (t->numel > 0) {
        /* One converted element, then copied over every position. */
        uint64_t one = 0;
        dc__store(&one, t->dtype, 0, value);
        int64_t strides[1][DC_MAX_DIMS];
        memcpy(strides[0], t->strides, sizeof t->strides);
        dc_iter it;
        dc__iter_init(&it, t->ndim, t->shape, 1, strides, &t->offset);
        char *data = t->storage->data;
        size_t esz = dc_dtype_size(t->dtype);
        while (dc__iter_next(&it))
            dc__convert(data + it.off[0] * (int64_t)esz, t->dtype, it.istride[0],
                        &one, t->dtype, 0, it.inner);
    }
    dc__bump_version(t);
    return DC_OK;
}
