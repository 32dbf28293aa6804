/*
 * Internal declarations shared by the units of libdeepcore. Nothing here is
 * exported: the library is built with -fvisibility=hidden and only DC_API
 * functions of the public header are visible.
 *
 * Naming: internal functions use the dc__ prefix (two underscores).
 */
#ifndef DEEPCORE_INTERNAL_H
#define DEEPCORE_INTERNAL_H

#include "deepcore/deepcore.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#  define DC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#  define DC_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For small per-thread state read on every op (grad mode, the scope
 * stack): the initial-exec model reads it at a fixed offset instead of
 * calling __tls_get_addr, which the default model of a shared library
 * does on each access. It takes a few bytes of the static TLS block that
 * glibc keeps for libraries loaded later (dlopen), so keep it to scalars
 * and pointers. */
#  define DC_TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#  define DC_PRINTF(f, a)
#  define DC_UNLIKELY(x) (x)
#  define DC_TLS_FAST
#endif

/* Drops one reference of a count that the caller holds; true when it was
 * the last (the object is the caller's to destroy). A count of 1 is the
 * caller's own reference: no other thread holds one to add or drop, so
 * the object is released without an atomic read-modify-write. The locked
 * subtraction drains the store buffer, and a small training step frees
 * dozens of temporaries: on the tiny MLP's step (batch 1), the two
 * subtractions of each tensor's release (its count and its storage's)
 * took about 11% of the time (perf). The acquire load pairs with the release
 * half of the other threads' earlier drops, as the subtraction would.
 * This holds because nothing in the library takes a reference without
 * holding one (no weak references, no "retain if still alive"): revisit
 * it if anything ever does. */
static inline bool dc__drop_ref(atomic_int *count) {
    if (atomic_load_explicit(count, memory_order_acquire) == 1) return true;
    return atomic_fetch_sub_explicit(count, 1, memory_order_acq_rel) == 1;
}

/* ---------------------------------------------------------------- */
/* Errors (lib/core/error.c)                                         */
/* ---------------------------------------------------------------- */

/* Records status and a formatted message for this thread; returns status. */
dc_status dc__fail(dc_status status, const char *fmt, ...) DC_PRINTF(2, 3);
/* For a NULL input of an op: keeps an error already recorded (the first
 * failure of a chain), records DC_E_INVALID otherwise. Returns the status
 * in force. */
dc_status dc__null_input(const char *func, const char *arg);

/* ---------------------------------------------------------------- */
/* Memory (lib/core/alloc.c). Failures record DC_E_NOMEM.             */
/* ---------------------------------------------------------------- */

void *dc__malloc(size_t size);
void *dc__calloc(size_t count, size_t size);   /* zeroed; checks overflow */
void *dc__realloc(void *ptr, size_t size);
void dc__free(void *ptr);
/* The block cache in front of malloc (see alloc.c): gives every waiting
 * block back to free(); blocks taken from malloc since the start (cache
 * misses; a steady training loop adds none); bytes waiting now. */
void dc__alloc_cache_flush(void);
int64_t dc__alloc_system_count(void);
size_t dc__alloc_cached_bytes(void);

/* ---------------------------------------------------------------- */
/* Dtypes and element conversion (lib/core/dtype.c)                  */
/* ---------------------------------------------------------------- */

bool dc__dtype_valid(dc_dtype dtype);
bool dc__dtype_is_float(dc_dtype dtype);
/* Element i (in elements) of an array of dtype, as a double. */
double dc__load(const void *base, dc_dtype dtype, int64_t i);
void dc__store(void *base, dc_dtype dtype, int64_t i, double value);
/* n elements from src (stride ss, elements) to dst (stride ds), converting
 * dtypes. Integers are copied exactly between integer dtypes; floating to
 * integer truncates toward zero, bool is value != 0. */
void dc__convert(void *dst, dc_dtype dt, int64_t ds, const void *src,
                 dc_dtype st, int64_t ss, int64_t n);

/* ---------------------------------------------------------------- */
/* Tensors (lib/core/tensor.c)                                       */
/* ---------------------------------------------------------------- */

#define DC_TENSOR_MAGIC 0x44435431u  /* "DCT1" */
#define DC_TENSOR_DEAD 0xdeadd00du

typedef struct dc_storage {
    atomic_int refcount;
    void *data;
    size_t nbytes;
    /* Caller-owned buffer (dc_wrap_data): release(data, ctx) when done. */
    void (*release)(void *data, void *ctx);
    void *release_ctx;
    bool owns_data;
    bool data_inline;   /* data sits in the storage's own block */
    /* Bumped by every in-place write; autodiff compares it at backward. */
    atomic_uint_fast64_t version;
} dc_storage;

typedef struct dc_node dc_node;

struct dc_tensor {
    uint32_t magic;
    atomic_int refcount;
    dc_dtype dtype;
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t strides[DC_MAX_DIMS];   /* in elements */
    int64_t offset;                 /* in elements, into storage */
    int64_t numel;
    dc_storage *storage;
    /* autodiff */
    bool requires_grad;
    bool graph_freed;               /* history released by dc_backward */
    dc_tensor *grad;                /* leaves: accumulated gradient */
    dc_node *grad_fn;               /* non-leaves: how it was computed */
    /* scratch of dc_backward (one backward at a time per graph) */
    dc_tensor *bw_grad;
    bool bw_grad_private;           /* bw_grad is a copy owned here */
    uint64_t bw_stamp;
    /* intrusive list for iterative (non-recursive) destruction */
    dc_tensor *next_free;
};

/* Validates a handle given by a caller. */
static inline bool dc__is_tensor(const dc_tensor *t) {
    return t != NULL && t->magic == DC_TENSOR_MAGIC;
}

/* Checks the shape (ndim 0..DC_MAX_DIMS, sizes >= 0, numel fits) and
 * writes numel. Records the error, "func: what is wrong", and returns its
 * status on failure. func is the public function the shape was given to
 * (NULL only for shapes that cannot be wrong: the message then names
 * none). */
dc_status dc__check_shape(const char *func, int ndim, const int64_t *shape, int64_t *numel);
/* Fills row-major contiguous strides. */
void dc__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

/* A new contiguous tensor with its own storage, uninitialised (zeroed when
 * zero is set). The caller owns the one reference; it is in no scope. */
dc_tensor *dc__tensor_new(dc_dtype dtype, int ndim, const int64_t *shape,
                          bool zero);
/* The same for a dtype and shape a caller of the public function func
 * gave: a bad one is reported as "func: ...". */
dc_tensor *dc__tensor_new_for(const char *func, dc_dtype dtype, int ndim,
                              const int64_t *shape, bool zero);
/* A new tensor header over base's storage (a view). Owned by the caller. */
dc_tensor *dc__tensor_view(dc_tensor *base, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset);
/* Hands a new reference to the caller of a public function: puts it in
 * the innermost scope of this thread, if any. On failure releases t and
 * returns NULL. NULL stays NULL. */
dc_tensor *dc__publish(dc_tensor *t);

static inline void *dc__tensor_data(const dc_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)dc_dtype_size(t->dtype);
}
bool dc__tensor_is_contiguous(const dc_tensor *t);
static inline void dc__bump_version(dc_tensor *t) {
    atomic_fetch_add(&t->storage->version, 1);
}
static inline uint64_t dc__version(const dc_tensor *t) {
    return atomic_load(&t->storage->version);
}
/* A contiguous copy of t (same dtype), owned by the caller, no autodiff. */
dc_tensor *dc__copy_contiguous(const dc_tensor *t);
/* t itself (a new reference) when contiguous, else dc__copy_contiguous(t);
 * NULL stays NULL, and a failed copy is NULL with the error recorded. */
dc_tensor *dc__contiguous_ref(dc_tensor *t);
/* Copies src's elements into dst (same shape; dtypes may differ). */
void dc__copy_elements(dc_tensor *dst, const dc_tensor *src);

/* Normalises a possibly negative axis for a tensor of ndim dims. Records
 * DC_E_RANGE and returns false when out of range. */
bool dc__norm_axis(int *axis, int ndim, const char *func);

/* ---------------------------------------------------------------- */
/* Scopes (lib/core/scope.c)                                         */
/* ---------------------------------------------------------------- */

/* Puts t (one reference) into the innermost open scope. Returns false
 * (DC_E_NOMEM recorded) when that failed; true when done or when no scope
 * is open. */
bool dc__scope_adopt(dc_tensor *t);
bool dc__scope_is_open(void);

/* ---------------------------------------------------------------- */
/* Shapes, broadcasting and strided iteration (lib/core/iter.c)     */
/* ---------------------------------------------------------------- */

/* NumPy broadcast of two shapes. Records DC_E_SHAPE on mismatch. */
dc_status dc__broadcast_shapes(int na, const int64_t *sa, int nb,
                               const int64_t *sb, int *nout,
                               int64_t *out);
/* Strides of t viewed with the broadcast shape (ndim >= t->ndim): 0 on
 * broadcast axes. */
void dc__broadcast_strides(const dc_tensor *t, int ndim, const int64_t *shape,
                           int64_t *strides);

#define DC_ITER_MAX_OPS 4

/* Walks an N-d index space for up to DC_ITER_MAX_OPS strided operands,
 * one contiguous-in-the-index row at a time:
 *
 *     dc_iter it;
 *     dc__iter_init(&it, ndim, shape, nops, strides, offsets);
 *     while (dc__iter_next(&it))
 *         for (int64_t i = 0; i < it.inner; i++)
 *             x[it.off[0] + i * it.istride[0]] ...
 *
 * Adjacent axes that are contiguous for every operand are merged first so
 * rows are as long as they can be. */
typedef struct dc_iter {
    int ndim;                               /* after merging, >= 1 */
    int nops;
    int64_t shape[DC_MAX_DIMS];
    int64_t strides[DC_ITER_MAX_OPS][DC_MAX_DIMS];
    int64_t base[DC_ITER_MAX_OPS];
    int64_t idx[DC_MAX_DIMS];
    int64_t rows_left;
    bool started;
    /* current row */
    int64_t inner;
    int64_t istride[DC_ITER_MAX_OPS];
    int64_t off[DC_ITER_MAX_OPS];
} dc_iter;

void dc__iter_init(dc_iter *it, int ndim, const int64_t *shape, int nops,
                   int64_t strides[][DC_MAX_DIMS], const int64_t *offsets);
/* An iterator over (dst, src) of one shape, restricted to indices
 * [lo, hi) of their first axis (all of a 0-d pair): the part one thread
 * takes of an elementwise pass split by the first axis. */
void dc__iter_init_pair_rows(dc_iter *it, const dc_tensor *dst, const dc_tensor *src,
                             int64_t lo, int64_t hi);
bool dc__iter_next(dc_iter *it);

/* ---------------------------------------------------------------- */
/* Random numbers (lib/core/rng.c)                                   */
/* ---------------------------------------------------------------- */

struct dc_rng {
    uint64_t s[4];
};

dc_rng *dc__thread_rng(void);
uint64_t dc__rng_next(dc_rng *rng);
double dc__rng_uniform(dc_rng *rng);          /* [0, 1) */
double dc__rng_normal(dc_rng *rng);           /* N(0, 1) */

/* ---------------------------------------------------------------- */
/* Autodiff (lib/autograd/)                                          */
/* ---------------------------------------------------------------- */

/* Stable op ids: never renumber, only append. Tests look them up by id. */
typedef enum dc_op_id {
    DC_OP_NONE = 0,
    /* binary elementwise (lib/ops/binary.c) */
    DC_OP_ADD = 1,
    DC_OP_SUB = 2,
    DC_OP_MUL = 3,
    DC_OP_DIV = 4,
    DC_OP_POW = 5,
    DC_OP_MAXIMUM = 6,
    DC_OP_MINIMUM = 7,
    DC_OP_WHERE = 8,
    DC_OP_ADD_SCALAR = 9,
    DC_OP_MUL_SCALAR = 10,
    DC_OP_POW_SCALAR = 11,
    /* unary elementwise (lib/ops/unary.c) */
    DC_OP_NEG = 20,
    DC_OP_ABS = 21,
    DC_OP_EXP = 22,
    DC_OP_LOG = 23,
    DC_OP_SQRT = 24,
    DC_OP_RSQRT = 25,
    DC_OP_SQUARE = 26,
    DC_OP_TANH = 27,
    DC_OP_SIGMOID = 28,
    DC_OP_RELU = 29,
    DC_OP_LEAKY_RELU = 30,
    DC_OP_GELU = 31,
    DC_OP_SILU = 32,
    DC_OP_SOFTPLUS = 33,
    DC_OP_CLAMP = 34,
    /* reductions (lib/ops/reduce.c, lib/ops/softmax.c) */
    DC_OP_SUM = 50,
    DC_OP_MEAN = 51,
    DC_OP_MAX = 52,
    DC_OP_MIN = 53,
    DC_OP_VAR = 54,
    DC_OP_LOGSUMEXP = 55,
    DC_OP_SOFTMAX = 56,
    DC_OP_LOG_SOFTMAX = 57,
    /* linear algebra (lib/ops/matmul.c) */
    DC_OP_MATMUL = 70,
    /* shape and data movement (lib/ops/views.c, join.c, index.c, copy.c) */
    DC_OP_VIEW = 90,          /* view/reshape/flatten/squeeze/unsqueeze */
    DC_OP_PERMUTE = 91,       /* permute/transpose */
    DC_OP_SLICE = 92,         /* slice/narrow */
    DC_OP_EXPAND = 93,
    DC_OP_COPY = 94,          /* clone/contiguous/reshape-with-copy */
    DC_OP_CONCAT = 95,
    DC_OP_INDEX_SELECT = 96,
    DC_OP_GATHER = 97,
    DC_OP_CAST = 98,
    /* caller-defined (lib/autograd/custom.c) */
    DC_OP_CUSTOM = 120,
    /* neural-network ops (lib/ops/conv.c, pool.c) */
    DC_OP_CONV2D = 130,       /* conv1d runs as a conv2d of height 1 */
    DC_OP_MAX_POOL2D = 131,
    DC_OP_AVG_POOL2D = 132,
    DC_OP_ADAPTIVE_AVG_POOL2D = 133,
    /* fused ops of training steps (lib/ops/norm.c, softmax.c, recurrent.c) */
    DC_OP_LAYER_NORM = 134,
    DC_OP_LINEAR = 135,       /* x @ w^T + b, the product of nn.Linear */
    DC_OP_CROSS_ENTROPY = 136, /* class-index cross-entropy of (N, C) rows */
    DC_OP_LSTM = 137,         /* an LSTM layer's time loop (lib/ops/lstm_fused.c) */
    DC_OP_ID_LIMIT = 256      /* table size; not an op */
} dc_op_id;

/* How an op's backward is called: out is the tensor the node belongs to,
 * gout its gradient (out's shape and dtype). For each input i that
 * requires grad, store a new reference of input i's shape in gin[i] (or
 * leave NULL: no contribution). Runs with recording off inside a scope
 * that dc_backward opens, so public ops may be used freely; what is
 * stored in gin must be owned by the backward (dc_retain what came from
 * a public op). */
typedef dc_status (*dc__backward_fn)(dc_node *node, dc_tensor *out,
                                     dc_tensor *gout, dc_tensor **gin);

typedef struct dc_op_def {
    const char *name;
    dc__backward_fn backward;
} dc_op_def;

/* The definition of op id, or NULL when id names no op. */
const dc_op_def *dc__op_def(int id);

#define DC_NODE_IPARAMS (2 * DC_MAX_DIMS + 2)
#define DC_NODE_FPARAMS 4

#define DC_NODE_INLINE_INPUTS 4

struct dc_node {
    dc_op_id op;
    int n_inputs;
    dc_tensor **inputs;           /* retained */
    uint64_t *input_versions;     /* storage versions when recorded */
    /* inputs and input_versions point here for up to 4 inputs */
    dc_tensor *inline_inputs[DC_NODE_INLINE_INPUTS];
    uint64_t inline_versions[DC_NODE_INLINE_INPUTS];
    uint64_t out_version;         /* of the output's storage */
    int64_t iparams[DC_NODE_IPARAMS];
    double fparams[DC_NODE_FPARAMS];
    dc_tensor *saved;             /* one extra retained tensor, or NULL */
    /* DC_OP_CUSTOM only */
    dc_custom_backward_fn custom_backward;
    void *custom_ctx;
    void (*custom_ctx_free)(void *ctx);
    char custom_name[32];
};

/* True when grad mode is on and one of the inputs requires grad. */
bool dc__should_record(dc_tensor *const *inputs, int n);
/* Records how out was computed, when dc__should_record says so: sets
 * *node_out to the new node (for the op to store its parameters) or to
 * NULL when nothing is recorded. On failure (DC_E_NOMEM) returns the
 * status; the caller then releases out. */
dc_status dc__record(dc_tensor *out, dc_op_id op, dc_tensor *const *inputs,
                     int n, dc_node **node_out);
void dc__node_free(dc_node *node);

/* Sums g over broadcast axes so it gets shape (ndim, shape): the
 * gradient of a broadcast. Returns a new reference via the public ops
 * (so it is in the current scope, if any). */
dc_tensor *dc__sum_to_shape(dc_tensor *g, int ndim, const int64_t *shape);

/* The status to return after a function returned NULL: the failure it
 * recorded, and never DC_OK (DC_E_INTERNAL if it recorded none), so the
 * caller's error path is taken for certain. */
static inline dc_status dc__failure_status(void) {
    dc_status st = dc_last_status();
    return st != DC_OK ? st : DC_E_INTERNAL;
}

/* Convenience for backward functions: stores g in gin[i] with a reference
 * of its own (g comes from a public op and belongs to a scope). */
static inline dc_status dc__set_grad(dc_tensor **gin, int i, dc_tensor *g) {
    if (g == NULL)
        return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    gin[i] = dc_retain(g);
    return DC_OK;
}

/* Guards for the top of public functions. */
#define DC_CHECK_TENSOR_OR_NULL(t, func, arg)                              \
    do {                                                                   \
        if (!dc__is_tensor(t)) {                                           \
            if ((t) == NULL) dc__null_input(func, arg);                    \
            else dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor",   \
                          func, arg);                                      \
            return NULL;                                                   \
        }                                                                  \
    } while (0)

#define DC_CHECK_TENSOR_OR_STATUS(t, func, arg)                            \
    do {                                                                   \
        if (!dc__is_tensor(t)) {                                           \
            if ((t) == NULL)                                               \
                return dc__fail(DC_E_INVALID, "%s: '%s' is NULL", func, arg); \
            return dc__fail(DC_E_INVALID, "%s: '%s' is not a live tensor", \
                            func, arg);                                    \
        }                                                                  \
    } while (0)

#endif /* DEEPCORE_INTERNAL_H */
