/*
 * libdeepcore — a deep-learning library with a stable C ABI.
 *
 * The one public header. Everything a host program may call is declared
 * here; nothing else is exported from the shared library.
 *
 * Conventions (see doc/design.md for the reasons):
 *  - A function that makes an object returns it, or NULL on failure.
 *    A function that acts returns dc_status (DC_OK == 0).
 *  - The detail of the last failure on the calling thread is in
 *    dc_last_error() / dc_last_status(). A successful call does not clear
 *    it (errno-style); call dc_clear_error() to start afresh.
 *  - Every function that returns a dc_tensor* returns a NEW reference.
 *    If a scope is open on the calling thread (dc_scope_begin), that
 *    reference belongs to the scope and is dropped when the scope ends;
 *    otherwise it belongs to the caller, who drops it with dc_release().
 *    dc_retain() takes an extra reference (to keep a tensor past its scope).
 *  - Ops accept NULL inputs and then return NULL without overwriting the
 *    error already recorded, so a chain of ops needs one check at its end.
 *  - Out-parameters are left untouched on failure.
 *  - Enum values are explicit and only ever grow.
 */
#ifndef DEEPCORE_DEEPCORE_H
#define DEEPCORE_DEEPCORE_H

#include <stddef.h>
#include <stdint.h>

#include "deepcore/version.h"

#if defined(_WIN32) && !defined(DC_STATIC)
#  ifdef DC_BUILDING_LIBRARY
#    define DC_API __declspec(dllexport)
#  else
#    define DC_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define DC_API __attribute__((visibility("default")))
#else
#  define DC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/* DC_VERSION_NUMBER of the library actually loaded (may differ from the
 * header the program was compiled against). */
DC_API unsigned dc_version_number(void);
DC_API const char *dc_version_string(void);

/* ------------------------------------------------------------------ */
/* Status and errors                                                   */
/* ------------------------------------------------------------------ */

typedef enum dc_status {
    DC_OK = 0,
    DC_E_INVALID = 1,     /* bad argument: NULL handle, bad value, bad flag */
    DC_E_NOMEM = 2,       /* an allocation failed */
    DC_E_SHAPE = 3,       /* shapes do not fit together */
    DC_E_DTYPE = 4,       /* dtype not supported by the call, or mismatched */
    DC_E_RANGE = 5,       /* axis, index or label out of range */
    DC_E_OVERFLOW = 6,    /* a size or element count does not fit */
    DC_E_STATE = 7,       /* object in the wrong state for the call */
    DC_E_FORMAT = 8,      /* malformed file or buffer */
    DC_E_IO = 9,          /* the operating system refused a read or write */
    DC_E_UNSUPPORTED = 10,/* valid request this build cannot serve */
    DC_E_INTERNAL = 11    /* a bug in libdeepcore; please report it */
} dc_status;

DC_API const char *dc_status_str(dc_status status);
/* Message of the last failure on this thread ("" when none). The pointer
 * stays valid until the next libdeepcore call on this thread. */
DC_API const char *dc_last_error(void);
DC_API dc_status dc_last_status(void);
DC_API void dc_clear_error(void);

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

typedef void *(*dc_malloc_fn)(size_t size, void *ctx);
typedef void *(*dc_realloc_fn)(void *ptr, size_t size, void *ctx);
typedef void (*dc_free_fn)(void *ptr, void *ctx);

/* Routes every allocation of the library through the given functions.
 * Call it before any object exists (or when none is alive); all three NULL
 * restores malloc/realloc/free. Returns DC_E_STATE while objects are alive. */
DC_API dc_status dc_set_allocator(dc_malloc_fn malloc_fn,
                                  dc_realloc_fn realloc_fn,
                                  dc_free_fn free_fn, void *ctx);
/* Number of live library allocations (for leak checks in tests). Each
 * thread counts its own and this sums them: exact when no other thread
 * is making or freeing library objects meanwhile (after joining them, or
 * at a barrier). */
DC_API int64_t dc_live_allocations(void);

/* ------------------------------------------------------------------ */
/* Threads and kernels (process-wide settings)                         */
/* ------------------------------------------------------------------ */

/* Threads the library's own pool uses for large ops (GEMM, convolution,
 * big elementwise ops); 0 means one per CPU the calling thread may run on
 * (its affinity: taskset, cpusets), read by each thread at its first op
 * after this call (a later change of affinity shows at the next call).
 * The BLAS library is kept to one thread so the two never oversubscribe
 * the cores. Set it while no op is running. */
DC_API dc_status dc_set_num_threads(int n);
DC_API int dc_get_num_threads(void);

typedef enum dc_gemm_backend {
    DC_GEMM_AUTO = 0,     /* per call: the faster of ours and cblas */
    DC_GEMM_OWN = 1,      /* libdeepcore's packed SIMD kernels */
    DC_GEMM_CBLAS = 2     /* the cblas the library was built with */
} dc_gemm_backend;
/* Chooses the matrix-product backend (the environment variable
 * DC_GEMM_BACKEND=auto|own|cblas sets the initial choice). */
DC_API dc_status dc_set_gemm_backend(dc_gemm_backend backend);
DC_API dc_gemm_backend dc_get_gemm_backend(void);
/* One line on the kernels in use, e.g. "own: avx512 (16x...); cblas:
 * OpenBLAS 0.3.21 core Prescott". Valid until the next call. */
DC_API const char *dc_kernel_info(void);

/* ------------------------------------------------------------------ */
/* Data types                                                          */
/* ------------------------------------------------------------------ */

typedef enum dc_dtype {
    DC_F32 = 0,
    DC_F64 = 1,
    DC_I32 = 2,
    DC_I64 = 3,
    DC_U8 = 4,
    DC_BOOL = 5           /* one byte, 0 or 1: results of comparisons */
} dc_dtype;

/* Size in bytes of one element, 0 for an unknown dtype. */
DC_API size_t dc_dtype_size(dc_dtype dtype);
/* "f32", "f64", ...; "?" for an unknown dtype. */
DC_API const char *dc_dtype_name(dc_dtype dtype);

/* Tensors have at most DC_MAX_DIMS dimensions. */
#define DC_MAX_DIMS 8

/* ------------------------------------------------------------------ */
/* Random number generators                                            */
/* ------------------------------------------------------------------ */

/* A seeded generator (xoshiro256**). Functions that take a dc_rng* use the
 * calling thread's own generator when it is NULL. The same seed gives the
 * same numbers on every run and machine. A dc_rng must not be used by two
 * threads at once. */
typedef struct dc_rng dc_rng;

DC_API dc_rng *dc_rng_new(uint64_t seed);
DC_API void dc_rng_free(dc_rng *rng);                   /* NULL: no-op */
DC_API dc_status dc_rng_seed(dc_rng *rng, uint64_t seed);
/* Seeds the calling thread's default generator. */
DC_API void dc_manual_seed(uint64_t seed);
/* Saves / restores the generator state (4 words). NULL rng: this thread's. */
DC_API dc_status dc_rng_get_state(const dc_rng *rng, uint64_t state[4]);
DC_API dc_status dc_rng_set_state(dc_rng *rng, const uint64_t state[4]);

/* ------------------------------------------------------------------ */
/* Tensors: lifetime and scopes                                        */
/* ------------------------------------------------------------------ */

typedef struct dc_tensor dc_tensor;
typedef struct dc_scope dc_scope;

/* Adds a reference and returns t (NULL stays NULL). The new reference is
 * the caller's, never a scope's. */
DC_API dc_tensor *dc_retain(dc_tensor *t);
/* Drops a reference; the tensor is freed with its last one. NULL: no-op. */
DC_API void dc_release(dc_tensor *t);

/* Opens a scope on the calling thread: every tensor made on this thread
 * until the matching dc_scope_end is owned by it. Scopes nest (LIFO). */
DC_API dc_scope *dc_scope_begin(void);
/* Drops the references the scope owns. Ending a scope that is not the
 * innermost one also ends the scopes opened inside it. NULL: DC_E_INVALID. */
DC_API dc_status dc_scope_end(dc_scope *scope);
/* Hands one of the caller's references to t to the innermost open scope
 * of this thread (without an open scope the caller keeps it), so that a
 * caller's own function can return tensors by the library's rule. Returns
 * t, or NULL (DC_E_NOMEM) after releasing that reference. */
DC_API dc_tensor *dc_autorelease(dc_tensor *t);

/* ------------------------------------------------------------------ */
/* Tensors: making                                                     */
/* ------------------------------------------------------------------ */

/* shape has ndim entries (ndim 0..DC_MAX_DIMS; ndim 0 is a scalar).
 * Sizes may be 0 (an empty tensor), never negative. */
DC_API dc_tensor *dc_empty(dc_dtype dtype, int ndim, const int64_t *shape);
DC_API dc_tensor *dc_zeros(dc_dtype dtype, int ndim, const int64_t *shape);
DC_API dc_tensor *dc_ones(dc_dtype dtype, int ndim, const int64_t *shape);
DC_API dc_tensor *dc_full(dc_dtype dtype, int ndim, const int64_t *shape,
                          double value);
DC_API dc_tensor *dc_scalar(dc_dtype dtype, double value);
/* [start, stop) in steps of step (step != 0), as numpy.arange. */
DC_API dc_tensor *dc_arange(dc_dtype dtype, double start, double stop,
                            double step);
/* Copies numel(shape) elements of dtype from data (row-major). */
DC_API dc_tensor *dc_from_data(dc_dtype dtype, int ndim, const int64_t *shape,
                               const void *data);
/* Uses the caller's row-major buffer without copying. When the last tensor
 * using it is freed, release(data, ctx) is called (release may be NULL).
 * On failure release is NOT called: the buffer stays the caller's. */
DC_API dc_tensor *dc_wrap_data(dc_dtype dtype, int ndim, const int64_t *shape,
                               void *data,
                               void (*release)(void *data, void *ctx),
                               void *ctx);
/* Floating dtypes only. rng NULL: the thread's default generator. */
DC_API dc_tensor *dc_rand_uniform(dc_rng *rng, dc_dtype dtype, int ndim,
                                  const int64_t *shape, double low,
                                  double high);
DC_API dc_tensor *dc_rand_normal(dc_rng *rng, dc_dtype dtype, int ndim,
                                 const int64_t *shape, double mean,
                                 double std);
DC_API dc_tensor *dc_zeros_like(const dc_tensor *t);
DC_API dc_tensor *dc_ones_like(const dc_tensor *t);
/* A contiguous copy with its own storage (recorded for autodiff). */
DC_API dc_tensor *dc_clone(dc_tensor *t);

/* ------------------------------------------------------------------ */
/* Tensors: inspecting and reading                                     */
/* ------------------------------------------------------------------ */

/* These return -1 (or NULL) and set the error for a NULL tensor. */
DC_API int dc_ndim(const dc_tensor *t);
DC_API int64_t dc_numel(const dc_tensor *t);
/* Size of one axis; negative axes count from the end. */
DC_API int64_t dc_size(const dc_tensor *t, int axis);
/* Pointers to ndim entries owned by the tensor, valid while it lives.
 * Strides are in elements, not bytes. */
DC_API const int64_t *dc_shape(const dc_tensor *t);
DC_API const int64_t *dc_strides(const dc_tensor *t);
/* Returns -1 cast to dc_dtype for a NULL tensor. */
DC_API dc_dtype dc_tensor_dtype(const dc_tensor *t);
DC_API int dc_is_contiguous(const dc_tensor *t);
/* Address of element [0,...,0] (strided by dc_strides). Writing through it
 * bypasses the in-place checks of autodiff; prefer dc_copy_from. */
DC_API void *dc_data_ptr(dc_tensor *t);
/* Copies the elements in row-major order into dst, converted to dtype
 * (any dtype to any dtype). dst_bytes must be at least numel * size. */
DC_API dc_status dc_copy_to(const dc_tensor *t, dc_dtype dtype, void *dst,
                            size_t dst_bytes);
/* Overwrites the elements of t (which may be a view) from src in row-major
 * order, converted from dtype. Counts as an in-place change. */
DC_API dc_status dc_copy_from(dc_tensor *t, dc_dtype dtype, const void *src,
                              size_t src_bytes);
/* The value of a one-element tensor, as a double. */
DC_API dc_status dc_item(const dc_tensor *t, double *out);
/* The element at index (ndim entries, negative allowed), as a double. */
DC_API dc_status dc_get(const dc_tensor *t, const int64_t *index,
                        double *out);
DC_API dc_status dc_set(dc_tensor *t, const int64_t *index, double value);
/* Sets every element to value (in place). */
DC_API dc_status dc_fill(dc_tensor *t, double value);

/* ------------------------------------------------------------------ */
/* Views, joins, indexing, casts                                       */
/* ------------------------------------------------------------------ */

/* Views share storage with their base; they are made without copying.
 * One entry of shape may be -1 (inferred). dc_view fails (DC_E_SHAPE)
 * when the strides do not allow a view; dc_reshape copies then. */
DC_API dc_tensor *dc_view(dc_tensor *t, int ndim, const int64_t *shape);
DC_API dc_tensor *dc_reshape(dc_tensor *t, int ndim, const int64_t *shape);
DC_API dc_tensor *dc_flatten(dc_tensor *t, int start_axis, int end_axis);
DC_API dc_tensor *dc_squeeze(dc_tensor *t, int axis);
DC_API dc_tensor *dc_unsqueeze(dc_tensor *t, int axis);
DC_API dc_tensor *dc_transpose(dc_tensor *t, int axis0, int axis1);
/* perm has ndim entries, a permutation of 0..ndim-1. */
DC_API dc_tensor *dc_permute(dc_tensor *t, const int *perm);
/* Elements start, start+step, ... < stop along axis (step >= 1). start and
 * stop may be negative (from the end) and are clamped, as in Python. */
DC_API dc_tensor *dc_slice(dc_tensor *t, int axis, int64_t start,
                           int64_t stop, int64_t step);
DC_API dc_tensor *dc_narrow(dc_tensor *t, int axis, int64_t start,
                            int64_t length);
/* Broadcasts to shape (NumPy rules; -1 keeps a size). Stride-0 view. */
DC_API dc_tensor *dc_expand(dc_tensor *t, int ndim, const int64_t *shape);
/* t itself (a new reference) when contiguous, else a contiguous copy. */
DC_API dc_tensor *dc_contiguous(dc_tensor *t);
DC_API dc_tensor *dc_concat(dc_tensor *const *ts, int n, int axis);
DC_API dc_tensor *dc_stack(dc_tensor *const *ts, int n, int axis);
/* index: 1-D i32 or i64. Picks whole slices of t along axis. */
DC_API dc_tensor *dc_index_select(dc_tensor *t, int axis,
                                  const dc_tensor *index);
/* torch.gather: out[i][j] = t[index[i][j]][j] for axis 0, etc. index has
 * t's ndim, i32 or i64; out has index's shape. */
DC_API dc_tensor *dc_gather(dc_tensor *t, int axis, const dc_tensor *index);
/* A copy converted to dtype (a new reference to t when dtype is t's). */
DC_API dc_tensor *dc_cast(dc_tensor *t, dc_dtype dtype);
/* A view of t that shares its data and never records gradients. */
DC_API dc_tensor *dc_detach(dc_tensor *t);

/* ------------------------------------------------------------------ */
/* Elementwise ops (NumPy broadcasting)                                */
/* ------------------------------------------------------------------ */

/* Binary ops need the same dtype on both sides; the result has it.
 * Comparisons return DC_BOOL. Integer division truncates toward zero and
 * fails with DC_E_RANGE on a zero divisor. */
DC_API dc_tensor *dc_add(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_sub(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_mul(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_div(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_pow(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_maximum(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_minimum(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_eq(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_ne(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_lt(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_le(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_gt(dc_tensor *a, dc_tensor *b);
DC_API dc_tensor *dc_ge(dc_tensor *a, dc_tensor *b);
/* cond ? a : b, cond of dtype DC_BOOL; all three broadcast together. */
DC_API dc_tensor *dc_where(dc_tensor *cond, dc_tensor *a, dc_tensor *b);
/* With a scalar on the right (converted to t's dtype). */
DC_API dc_tensor *dc_add_scalar(dc_tensor *t, double value);
DC_API dc_tensor *dc_mul_scalar(dc_tensor *t, double value);
DC_API dc_tensor *dc_pow_scalar(dc_tensor *t, double exponent);

/* Unary ops. neg, abs, square, relu, clamp, maximum etc. also take integer
 * dtypes; the transcendental ones need f32 or f64. */
DC_API dc_tensor *dc_neg(dc_tensor *t);
DC_API dc_tensor *dc_abs(dc_tensor *t);
DC_API dc_tensor *dc_exp(dc_tensor *t);
DC_API dc_tensor *dc_log(dc_tensor *t);
DC_API dc_tensor *dc_sqrt(dc_tensor *t);
DC_API dc_tensor *dc_rsqrt(dc_tensor *t);
DC_API dc_tensor *dc_square(dc_tensor *t);
DC_API dc_tensor *dc_tanh(dc_tensor *t);
DC_API dc_tensor *dc_sigmoid(dc_tensor *t);
DC_API dc_tensor *dc_relu(dc_tensor *t);
DC_API dc_tensor *dc_leaky_relu(dc_tensor *t, double negative_slope);
typedef enum dc_gelu_approx {
    DC_GELU_EXACT = 0,    /* x * Phi(x), with erf */
    DC_GELU_TANH = 1      /* the tanh approximation */
} dc_gelu_approx;
DC_API dc_tensor *dc_gelu(dc_tensor *t, dc_gelu_approx approx);
DC_API dc_tensor *dc_silu(dc_tensor *t);
/* log(1 + exp(beta x)) / beta; linear where beta x > threshold (PyTorch). */
DC_API dc_tensor *dc_softplus(dc_tensor *t, double beta, double threshold);
/* min(max(t, lo), hi); lo <= hi. Use -INFINITY / INFINITY for one side. */
DC_API dc_tensor *dc_clamp(dc_tensor *t, double lo, double hi);

/* ------------------------------------------------------------------ */
/* Reductions                                                          */
/* ------------------------------------------------------------------ */

/* axes: naxes distinct axes (negative allowed); naxes 0 (axes may be NULL)
 * reduces over all axes. keepdim keeps reduced axes with size 1.
 * sum of an integer tensor is i64; mean/var/std need a floating dtype. */
DC_API dc_tensor *dc_sum(dc_tensor *t, const int *axes, int naxes,
                         int keepdim);
DC_API dc_tensor *dc_mean(dc_tensor *t, const int *axes, int naxes,
                          int keepdim);
/* max/min of an empty reduction is DC_E_SHAPE. */
DC_API dc_tensor *dc_max(dc_tensor *t, const int *axes, int naxes,
                         int keepdim);
DC_API dc_tensor *dc_min(dc_tensor *t, const int *axes, int naxes,
                         int keepdim);
/* Index (i64) of the first largest / smallest element along one axis. */
DC_API dc_tensor *dc_argmax(dc_tensor *t, int axis, int keepdim);
DC_API dc_tensor *dc_argmin(dc_tensor *t, int axis, int keepdim);
/* Divides by N - correction (1: unbiased, as torch.var's default). */
DC_API dc_tensor *dc_var(dc_tensor *t, const int *axes, int naxes,
                         int correction, int keepdim);
DC_API dc_tensor *dc_std(dc_tensor *t, const int *axes, int naxes,
                         int correction, int keepdim);
DC_API dc_tensor *dc_logsumexp(dc_tensor *t, const int *axes, int naxes,
                               int keepdim);
DC_API dc_tensor *dc_softmax(dc_tensor *t, int axis);
DC_API dc_tensor *dc_log_softmax(dc_tensor *t, int axis);

/* ------------------------------------------------------------------ */
/* Linear algebra                                                      */
/* ------------------------------------------------------------------ */

/* numpy.matmul / torch.matmul semantics: 1-D operands are promoted and
 * the added axis removed; batch axes broadcast. f32 or f64, same dtype. */
DC_API dc_tensor *dc_matmul(dc_tensor *a, dc_tensor *b);

/* ------------------------------------------------------------------ */
/* Autodiff                                                            */
/* ------------------------------------------------------------------ */

/* Marks a floating leaf tensor as needing gradients (or not). Fails with
 * DC_E_STATE on a non-leaf (a tensor computed from others). */
DC_API dc_status dc_set_requires_grad(dc_tensor *t, int requires_grad);
DC_API int dc_requires_grad(const dc_tensor *t);   /* -1 for NULL */
/* 1 when t was made by the caller (or detached), 0 when computed by an op
 * that recorded its history. -1 for NULL. */
DC_API int dc_is_leaf(const dc_tensor *t);
/* The accumulated gradient of a leaf (a new reference), or NULL with
 * DC_E_STATE when there is none yet or t does not require grad. */
DC_API dc_tensor *dc_grad(dc_tensor *t);
/* Drops the accumulated gradient of t (it will start from zero). */
DC_API dc_status dc_zero_grad(dc_tensor *t);
/* Back-propagates from t. grad_output has t's shape, or is NULL when t has
 * one element (the gradient 1). Gradients add into the leaves' grads. The
 * recorded history is freed afterwards unless retain_graph is set. */
DC_API dc_status dc_backward(dc_tensor *t, dc_tensor *grad_output,
                             int retain_graph);
/* Turns recording on or off for the calling thread and returns the
 * previous setting, so that no-grad regions nest:
 *     int prev = dc_set_grad_enabled(0); ... dc_set_grad_enabled(prev); */
DC_API int dc_set_grad_enabled(int enabled);
DC_API int dc_is_grad_enabled(void);

/* A caller-defined differentiable function (for FFI extensions).
 * forward gets the inputs and returns the output tensor (NULL: the call
 * fails with DC_E_INVALID unless an error is already set). It runs with
 * recording off. backward gets the output gradient and stores, for each
 * input i, a tensor of input i's shape and dtype in grad_inputs[i] (or
 * leaves NULL: no gradient for that input). The library opens a scope
 * around each callback and keeps what the callback returned or stored, so
 * a callback never releases anything itself. ctx is passed through;
 * ctx_free(ctx), when not NULL, is called once when the recorded node
 * dies, or before dc_custom_op returns if nothing was recorded or it
 * failed. */
typedef dc_tensor *(*dc_custom_forward_fn)(dc_tensor *const *inputs,
                                           int n_inputs, void *ctx);
typedef dc_status (*dc_custom_backward_fn)(dc_tensor *const *inputs,
                                           int n_inputs,
                                           dc_tensor *output,
                                           dc_tensor *grad_output,
                                           dc_tensor **grad_inputs,
                                           void *ctx);
DC_API dc_tensor *dc_custom_op(const char *name, dc_tensor *const *inputs,
                               int n_inputs, dc_custom_forward_fn forward,
                               dc_custom_backward_fn backward, void *ctx,
                               void (*ctx_free)(void *ctx));

#ifdef __cplusplus
}
#endif

/* Layers, losses and optimizers; files, data and metrics. */
#include "deepcore/nn.h"
#include "deepcore/optim.h"
#include "deepcore/data.h"
#include "deepcore/zoo.h"

#endif /* DEEPCORE_DEEPCORE_H */
