/* Pooling over (N, C, H, W), as torch.nn.functional.max_pool2d,
 * avg_pool2d and adaptive_avg_pool2d (ceil_mode off, no dilation).
 *
 * The input is read through its strides (no copy); outputs and input
 * gradients are contiguous. Max pooling keeps, per output element, the
 * flat index h * W + w of the winner within its (H, W) plane (PyTorch's
 * convention) as an i64 tensor in node->saved; the backward routes each
 * gradient there. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "fastmath.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

typedef struct pool_geom {
    int64_t n, c, h, w;         /* input */
    int64_t oh, ow;             /* output plane */
    int64_t kh, kw, sh, sw, ph, pw;
    int64_t xs[4];              /* input strides (elements) */
} pool_geom;

/* ---------------------------------------------------------------- */
/* Validation                                                        */
/* ---------------------------------------------------------------- */

/* x must be an f32/f64 (N, C, H, W) tensor. */
static bool check_input(const dc_tensor *x, const char *func) {
    if (!dc__require_float(x, func)) return false;
    if (x->ndim != 4) {
        dc__fail(DC_E_SHAPE, "%s: x must be (N, C, H, W), it has %d dims", func, x->ndim);
        return false;
    }
    return true;
}

static void read_input(const dc_tensor *x, pool_geom *g) {
    g->n = x->shape[0];
    g->c = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    memcpy(g->xs, x->strides, sizeof g->xs);
}

/* Output length (in + 2p - k) / s + 1 of one axis, or DC_E_SHAPE when the
 * kernel does not fit the padded input. p <= k / 2 has been checked. */
static bool pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, const char *func,
                          const char *axis, int64_t *out) {
    /* p <= k / 2 keeps in + 2p - k <= in: no overflow */
    int64_t span = in - k + 2 * p;
    if (span < 0) {
        dc__fail(DC_E_SHAPE, "%s: the kernel (%lld) is larger than the %s (%lld) with "
                 "padding %lld on both sides", func, (long long)k, axis, (long long)in,
                 (long long)p);
        return false;
    }
    *out = span / s + 1;
    return true;
}

/* Kernel (required), stride (NULL: the kernel) and padding (NULL: 0, at
 * most half the kernel) of max and average pooling. */
static bool pool_setup(const dc_tensor *x, const int64_t *kernel, const int64_t *stride,
                       const int64_t *padding, const char *func, pool_geom *g) {
    if (!check_input(x, func)) return false;
    if (!kernel) {
        dc__fail(DC_E_INVALID, "%s: 'kernel' is NULL; give its (h, w)", func);
        return false;
    }
    memset(g, 0, sizeof *g);
    read_input(x, g);
    g->kh = kernel[0];
    g->kw = kernel[1];
    g->sh = stride ? stride[0] : g->kh;
    g->sw = stride ? stride[1] : g->kw;
    g->ph = padding ? padding[0] : 0;
    g->pw = padding ? padding[1] : 0;
    if (g->kh < 1 || g->kw < 1) {
        dc__fail(DC_E_INVALID, "%s: kernel (%lld, %lld) must be >= 1", func,
                 (long long)g->kh, (long long)g->kw);
        return false;
    }
    if (g->sh < 1 || g->sw < 1) {
        dc__fail(DC_E_INVALID, "%s: stride (%lld, %lld) must be >= 1", func,
                 (long long)g->sh, (long long)g->sw);
        return false;
    }
    if (g->ph < 0 || g->pw < 0 || g->ph > g->kh / 2 || g->pw > g->kw / 2) {
        dc__fail(DC_E_INVALID, "%s: padding (%lld, %lld) must be between 0 and half the "
                 "kernel (%lld, %lld)", func, (long long)g->ph, (long long)g->pw,
                 (long long)g->kh, (long long)g->kw);
        return false;
    }
    return pool_out_size(g->h, g->kh, g->sh, g->ph, func, "height", &g->oh) &&
           pool_out_size(g->w, g->kw, g->sw, g->pw, func, "width", &g->ow);
}

/* Clips the window [start, start + k) of a padded axis to the input:
 * *lo..*hi (exclusive). */
static inline void clip_window(int64_t start, int64_t k, int64_t in, int64_t *lo,
                               int64_t *hi) {
    *hi = start + k < in ? start + k : in;
    *lo = start > 0 ? start : 0;
}

/* Number of positions avg pooling divides by along one axis: the whole
 * kernel when padding counts (without ceil_mode no window reaches past
 * the padding), else the window clipped to the input. */
static inline int64_t avg_count(int64_t start, int64_t k, int64_t in, bool include_pad) {
    if (include_pad) return k;
    int64_t lo, hi;
    clip_window(start, k, in, &lo, &hi);
    return hi - lo;
}

/* ---------------------------------------------------------------- */
/* Typed kernels                                                     */
/* ---------------------------------------------------------------- */

/* Max pooling's step "v at position p replaces (best, at) when it is
 * larger or NaN", as bit masks: compilers turn a ?: on floats into a
 * branch, which random data mispredicts half of the time. */
#define DEFINE_PICK(T, U, SUF)                                                   \
    static inline void pick_##SUF(T v, int64_t p, T *best, int64_t *at) {        \
        U take = (U)0 - (U)((v > *best) | (v != v));                             \
        U vb, bb;                                                                \
        memcpy(&vb, &v, sizeof vb);                                              \
        memcpy(&bb, best, sizeof bb);                                            \
        bb = (vb & take) | (bb & ~take);                                         \
        memcpy(best, &bb, sizeof bb);                                            \
        uint64_t t64 = (uint64_t)0 - (uint64_t)(take & 1);                       \
        *at = (int64_t)(((uint64_t)p & t64) | ((uint64_t)*at & ~t64));           \
    }
DEFINE_PICK(float, uint32_t, f32)
DEFINE_PICK(double, uint64_t, f64)

/* 2x2 windows of rows r0 (top) and r1 (bottom) one at a time with pick's
 * branch-free selects (on random data a branch per compare mispredicts
 * about half the time and costs more than the rest); out and arg as in
 * max_pool_2x2, base the flat index of r0[0] in its plane of width w. */
#define DEFINE_2X2_WINDOWS(T, SUF)                                                       \
    static void max_2x2_windows_##SUF(const T *r0, const T *r1, int64_t base, int64_t w, \
                                      int64_t ow, T *out, int64_t *arg) {                \
        for (int64_t o = 0; o < ow; o++) {                                               \
            T best = r0[2 * o];                                                          \
            int64_t at = base + 2 * o;                                                   \
            pick_##SUF(r0[2 * o + 1], base + 2 * o + 1, &best, &at);                     \
            pick_##SUF(r1[2 * o], base + w + 2 * o, &best, &at);                         \
            pick_##SUF(r1[2 * o + 1], base + w + 2 * o + 1, &best, &at);                 \
            out[o] = best;                                                               \
            arg[o] = at;                                                                 \
        }                                                                                \
    }
DEFINE_2X2_WINDOWS(float, f32)
DEFINE_2X2_WINDOWS(double, f64)

/* f32 2x2 windows, 8 outputs at a time: pick's steps on vectors of 8
 * (GCC vector types; clones for AVX-512, AVX2 and the baseline). Rows r0
 * and r1 hold the windows' top and bottom rows, ow outputs; out and arg
 * as in max_pool_2x2; base is the flat index of r0[0] in its plane of
 * width w. A row of at least 8 outputs ends with the group of its last 8,
 * which may overlap the one before (its outputs are written twice, the
 * same both times); a row of fewer goes window by window with pick's
 * selects, as the f64 rows do (a padded copy of so short a row cost more
 * than the windows: LeNet-5's 12- and 4-wide rows). */
typedef float pool_f8 __attribute__((vector_size(32)));
typedef float pool_f16 __attribute__((vector_size(64)));
typedef int32_t pool_i8 __attribute__((vector_size(32)));
typedef int64_t pool_l8 __attribute__((vector_size(64)));

/* where take (all ones or zero per lane): v, else best; at likewise */
#define POOL_TAKE(take, v, vat)                                                       \
    do {                                                                              \
        best = (pool_f8)(((pool_i8)(v) & (take)) | ((pool_i8)best & ~(take)));        \
        pool_l8 take64 = __builtin_convertvector((take), pool_l8);                     \
        at = ((vat) & take64) | (at & ~take64);                                       \
    } while (0)

static DC_VEC_CLONES void max_2x2_rows_f32(const float *r0, const float *r1, int64_t base,
                                           int64_t w, int64_t ow, float *out, int64_t *arg) {
    const pool_l8 lane2 = {0, 2, 4, 6, 8, 10, 12, 14};
    if (ow < 8) {
        max_2x2_windows_f32(r0, r1, base, w, ow, out, arg);
        return;
    }
    for (int64_t next = 0; next < ow; next += 8) {
        int64_t o = next + 8 <= ow ? next : ow - 8;   /* the last group: the last 8 */
        pool_f16 top, bot;
        memcpy(&top, r0 + 2 * o, sizeof top);
        memcpy(&bot, r1 + 2 * o, sizeof bot);
        pool_f8 a = __builtin_shufflevector(top, top, 0, 2, 4, 6, 8, 10, 12, 14);
        pool_f8 b = __builtin_shufflevector(top, top, 1, 3, 5, 7, 9, 11, 13, 15);
        pool_f8 c = __builtin_shufflevector(bot, bot, 0, 2, 4, 6, 8, 10, 12, 14);
        pool_f8 d = __builtin_shufflevector(bot, bot, 1, 3, 5, 7, 9, 11, 13, 15);
        pool_l8 ia = lane2 + (base + 2 * o);
        pool_f8 best = a;
        pool_l8 at = ia;
        /* the order of pick: a, then b, c, d; larger or NaN replaces */
        /* NOLINTNEXTLINE(misc-redundant-expression): v != v is the NaN test */
        pool_i8 take = (b > best) | (b != b);
        POOL_TAKE(take, b, ia + 1);
        /* NOLINTNEXTLINE(misc-redundant-expression): v != v is the NaN test */
        take = (c > best) | (c != c);
        POOL_TAKE(take, c, ia + w);
        /* NOLINTNEXTLINE(misc-redundant-expression): v != v is the NaN test */
        take = (d > best) | (d != d);
        POOL_TAKE(take, d, ia + w + 1);
        memcpy(out + o, &best, sizeof best);
        memcpy(arg + o, &at, sizeof at);
    }
}

/* The same for f64: one window at a time. */
static void max_2x2_rows_f64(const double *r0, const double *r1, int64_t base, int64_t w,
                             int64_t ow, double *out, int64_t *arg) {
    max_2x2_windows_f64(r0, r1, base, w, ow, out, arg);
}

/* For every (n, c) plane: x points at x[n, c] (strides xs[2], xs[3]),
 * out / arg / gout / gx at the contiguous planes of the output or input.
 * The max-pool kernels take the planes [p0, p1) (flat n c index), out and
 * arg pointing at plane p0's, so that threads can share the planes. */
#define DEFINE_POOL_KERNELS(T, SUF)                                                         \
    /* the common 2x2 window, stride 2, no padding, rows contiguous: the                  \
     * same comparisons in the same order, a row at a time (max_2x2_rows) */              \
    static void max_pool_2x2_##SUF(const T *x, const pool_geom *g, int64_t p0, int64_t p1,  \
                                   T *out, int64_t *arg) {                                  \
        for (int64_t nc = p0; nc < p1; nc++) {                                              \
            const T *xp = x + (nc / g->c) * g->xs[0] + (nc % g->c) * g->xs[1];              \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                const T *r0 = xp + 2 * oh * g->xs[2], *r1 = r0 + g->xs[2];                  \
                int64_t base = 2 * oh * g->w;                                               \
                max_2x2_rows_##SUF(r0, r1, base, g->w, g->ow, out, arg);                    \
                out += g->ow;                                                               \
                arg += g->ow;                                                               \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void max_pool_##SUF(const T *x, const pool_geom *g, int64_t p0, int64_t p1,      \
                               T *out, int64_t *arg) {                                      \
        if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 &&            \
            g->pw == 0 && g->xs[3] == 1) {                                                  \
            max_pool_2x2_##SUF(x, g, p0, p1, out, arg);                                     \
            return;                                                                         \
        }                                                                                   \
        for (int64_t nc = p0; nc < p1; nc++) {                                              \
            const T *xp = x + (nc / g->c) * g->xs[0] + (nc % g->c) * g->xs[1];              \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                int64_t h0, h1;                                                             \
                clip_window(oh * g->sh - g->ph, g->kh, g->h, &h0, &h1);                     \
                for (int64_t ow = 0; ow < g->ow; ow++) {                                    \
                    int64_t w0, w1;                                                         \
                    clip_window(ow * g->sw - g->pw, g->kw, g->w, &w0, &w1);                 \
                    /* first max wins ties; a NaN wins (PyTorch) */                         \
                    T best = (T)-INFINITY;                                                  \
                    int64_t at = h0 * g->w + w0;                                            \
                    for (int64_t i = h0; i < h1; i++)                                       \
                        for (int64_t j = w0; j < w1; j++)                                   \
                            pick_##SUF(xp[i * g->xs[2] + j * g->xs[3]], i * g->w + j, &best,  \
                                       &at);                                                \
                    *out++ = best;                                                          \
                    *arg++ = at;                                                            \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    /* gx's planes [p0, p1) (pointers at plane 0), zeroed here first */                   \
    static void max_pool_back_##SUF(const T *gout, const int64_t *arg, int64_t p0,          \
                                    int64_t p1, int64_t plane_out, int64_t plane_in, T *gx) { \
        memset(gx + p0 * plane_in, 0, (size_t)((p1 - p0) * plane_in) * sizeof(T));          \
        for (int64_t p = p0; p < p1; p++)                                                   \
            for (int64_t o = 0; o < plane_out; o++)                                         \
                gx[p * plane_in + arg[p * plane_out + o]] += gout[p * plane_out + o];       \
    }                                                                                       \
    static void avg_pool_##SUF(const T *x, const pool_geom *g, bool include_pad,            \
                               T *out) {                                                    \
        for (int64_t nc = 0; nc < g->n * g->c; nc++) {                                      \
            const T *xp = x + (nc / g->c) * g->xs[0] + (nc % g->c) * g->xs[1];              \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                int64_t hs = oh * g->sh - g->ph, h0, h1;                                    \
                clip_window(hs, g->kh, g->h, &h0, &h1);                                     \
                int64_t ch = avg_count(hs, g->kh, g->h, include_pad);                       \
                for (int64_t ow = 0; ow < g->ow; ow++) {                                    \
                    int64_t ws = ow * g->sw - g->pw, w0, w1;                                \
                    clip_window(ws, g->kw, g->w, &w0, &w1);                                 \
                    int64_t cw = avg_count(ws, g->kw, g->w, include_pad);                   \
                    double s = 0;                                                           \
                    for (int64_t i = h0; i < h1; i++)                                       \
                        for (int64_t j = w0; j < w1; j++)                                   \
                            s += xp[i * g->xs[2] + j * g->xs[3]];                           \
                    *out++ = (T)(s / ((double)ch * (double)cw));                            \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void avg_pool_back_##SUF(const T *gout, const pool_geom *g, bool include_pad,    \
                                    T *gx) {                                                \
        for (int64_t nc = 0; nc < g->n * g->c; nc++) {                                      \
            T *gp = gx + nc * g->h * g->w;                                                  \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                int64_t hs = oh * g->sh - g->ph, h0, h1;                                    \
                clip_window(hs, g->kh, g->h, &h0, &h1);                                     \
                int64_t ch = avg_count(hs, g->kh, g->h, include_pad);                       \
                for (int64_t ow = 0; ow < g->ow; ow++) {                                    \
                    int64_t ws = ow * g->sw - g->pw, w0, w1;                                \
                    clip_window(ws, g->kw, g->w, &w0, &w1);                                 \
                    int64_t cw = avg_count(ws, g->kw, g->w, include_pad);                   \
                    T share = (T)((double)*gout++ / ((double)ch * (double)cw));             \
                    for (int64_t i = h0; i < h1; i++)                                       \
                        for (int64_t j = w0; j < w1; j++) gp[i * g->w + j] += share;        \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void adaptive_pool_##SUF(const T *x, const pool_geom *g, T *out) {               \
        for (int64_t nc = 0; nc < g->n * g->c; nc++) {                                      \
            const T *xp = x + (nc / g->c) * g->xs[0] + (nc % g->c) * g->xs[1];              \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                int64_t h0 = bin_start(oh, g->h, g->oh), h1 = bin_end(oh, g->h, g->oh);     \
                for (int64_t ow = 0; ow < g->ow; ow++) {                                    \
                    int64_t w0 = bin_start(ow, g->w, g->ow);                                \
                    int64_t w1 = bin_end(ow, g->w, g->ow);                                  \
                    double s = 0;                                                           \
                    for (int64_t i = h0; i < h1; i++)                                       \
                        for (int64_t j = w0; j < w1; j++)                                   \
                            s += xp[i * g->xs[2] + j * g->xs[3]];                           \
                    *out++ = (T)(s / (double)((h1 - h0) * (w1 - w0)));                      \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
    static void adaptive_pool_back_##SUF(const T *gout, const pool_geom *g, T *gx) {        \
        for (int64_t nc = 0; nc < g->n * g->c; nc++) {                                      \
            T *gp = gx + nc * g->h * g->w;                                                  \
            for (int64_t oh = 0; oh < g->oh; oh++) {                                        \
                int64_t h0 = bin_start(oh, g->h, g->oh), h1 = bin_end(oh, g->h, g->oh);     \
                for (int64_t ow = 0; ow < g->ow; ow++) {                                    \
                    int64_t w0 = bin_start(ow, g->w, g->ow);                                \
                    int64_t w1 = bin_end(ow, g->w, g->ow);                                  \
                    T share = (T)((double)*gout++ / (double)((h1 - h0) * (w1 - w0)));       \
                    for (int64_t i = h0; i < h1; i++)                                       \
                        for (int64_t j = w0; j < w1; j++) gp[i * g->w + j] += share;        \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

/* Adaptive bins of PyTorch: bin i of `out` over `in` covers
 * [floor(i * in / out), ceil((i + 1) * in / out)). in * (out + 1) fits
 * (checked by the caller). */
static inline int64_t bin_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static inline int64_t bin_end(int64_t i, int64_t in, int64_t out) {
    return ((i + 1) * in + out - 1) / out;
}

DEFINE_POOL_KERNELS(float, f32)
DEFINE_POOL_KERNELS(double, f64)

/* ---------------------------------------------------------------- */
/* Max pooling                                                       */
/* ---------------------------------------------------------------- */

/* x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H + 2 ph - kh) / sh + 1;
 * the argmax indices (i64, output's shape) go to node->saved. */
/* ---------------------------------------------------------------- */
/* Max pooling, split over planes                                    */
/* ---------------------------------------------------------------- */

/* Planes per chunk: about PLANE_CHUNK input elements (LeNet's first
 * pooling, 64 x 6 planes of 28 x 28, makes 10 chunks); below that one
 * thread does it all. Each plane is computed the same way whichever
 * thread takes it. */
#define PLANE_CHUNK ((int64_t)1 << 15)

/* How the planes are split; the first member of each job. */
typedef struct plane_split {
    int64_t planes, per_chunk;
} plane_split;

typedef struct max_pool_job {
    plane_split split;
    const pool_geom *g;
    dc_dtype dt;
    const void *x;
    void *out;
    int64_t *arg;
} max_pool_job;

typedef struct max_pool_back_job {
    plane_split split;
    dc_dtype dt;
    const void *gout;
    const int64_t *arg;
    int64_t plane_out, plane_in;
    void *gx;
} max_pool_back_job;

/* Planes [*p0, *p1) of chunk k. */
static void chunk_planes(const plane_split *sp, int64_t k, int64_t *p0, int64_t *p1) {
    *p0 = k * sp->per_chunk;
    *p1 = *p0 + sp->per_chunk < sp->planes ? *p0 + sp->per_chunk : sp->planes;
}

static void max_pool_chunk(void *ctx, int64_t k, int slot) {
    (void)slot;
    const max_pool_job *j = ctx;
    const pool_geom *g = j->g;
    int64_t p0, p1, plane_out = g->oh * g->ow;
    chunk_planes(&j->split, k, &p0, &p1);
    if (j->dt == DC_F32)
        max_pool_f32(j->x, g, p0, p1, (float *)j->out + p0 * plane_out, j->arg + p0 * plane_out);
    else
        max_pool_f64(j->x, g, p0, p1, (double *)j->out + p0 * plane_out,
                     j->arg + p0 * plane_out);
}

static void max_pool_back_chunk(void *ctx, int64_t k, int slot) {
    (void)slot;
    const max_pool_back_job *j = ctx;
    int64_t p0, p1;
    chunk_planes(&j->split, k, &p0, &p1);
    if (j->dt == DC_F32)
        max_pool_back_f32(j->gout, j->arg, p0, p1, j->plane_out, j->plane_in, j->gx);
    else
        max_pool_back_f64(j->gout, j->arg, p0, p1, j->plane_out, j->plane_in, j->gx);
}

/* Runs fn over `planes` planes of plane_elems input elements each, split
 * as described at PLANE_CHUNK; sp is the job's split, filled in here. */
static void run_planes(dc__chunk_fn fn, void *job, plane_split *sp, int64_t planes,
                       int64_t plane_elems) {
    int64_t per = plane_elems > 0 ? PLANE_CHUNK / plane_elems : planes;
    sp->planes = planes;
    sp->per_chunk = per < 1 ? 1 : per;
    int64_t chunks = planes > 0 ? (planes + sp->per_chunk - 1) / sp->per_chunk : 0;
    if (chunks == 1) fn(job, 0, 0);
    else if (chunks > 1) dc__parallel_for(fn, job, chunks, (int)(chunks < 64 ? chunks : 64));
}

dc_tensor *dc_max_pool2d(dc_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding) {
    static const char *const func = "dc_max_pool2d";
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    pool_geom g;
    if (!pool_setup(x, kernel, stride, padding, func, &g)) return NULL;
    int64_t shape[4] = {g.n, g.c, g.oh, g.ow};
    dc_tensor *out = dc__tensor_new(x->dtype, 4, shape, false);
    dc_tensor *arg = out ? dc__tensor_new(DC_I64, 4, shape, false) : NULL;
    if (!arg) {
        dc_release(out);
        return NULL;
    }
    max_pool_job job = {.g = &g, .dt = x->dtype, .x = dc__tensor_data(x),
                        .out = dc__tensor_data(out), .arg = dc__tensor_data(arg)};
    run_planes(max_pool_chunk, &job, &job.split, g.n * g.c, g.h * g.w);
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_MAX_POOL2D, &x, 1, &node);
    if (node) {
        int64_t params[6] = {g.kh, g.kw, g.sh, g.sw, g.ph, g.pw};
        memcpy(node->iparams, params, sizeof params);
        node->saved = arg;      /* the node takes this reference */
    } else {
        dc_release(arg);
    }
    return dc__publish(out);
}

/* gout: (N, C, H_out, W_out) -> gx: (N, C, H, W), each gradient added at
 * its window's argmax. */
dc_status dc__max_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0], *arg = node->saved;
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *gx = gc ? dc__tensor_new(x->dtype, 4, x->shape, false) : NULL;
    if (!gx) {
        dc_release(gc);
        return dc_last_status();
    }
    int64_t nc = x->shape[0] * x->shape[1];
    int64_t plane_out = arg->shape[2] * arg->shape[3], plane_in = x->shape[2] * x->shape[3];
    max_pool_back_job job = {.dt = x->dtype, .gout = dc__tensor_data(gc),
                             .arg = dc__tensor_data(arg), .plane_out = plane_out,
                             .plane_in = plane_in, .gx = dc__tensor_data(gx)};
    run_planes(max_pool_back_chunk, &job, &job.split, nc, plane_in);
    dc_release(gc);
    gin[0] = gx;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Average pooling                                                   */
/* ---------------------------------------------------------------- */

/* x: (N, C, H, W) -> (N, C, H_out, W_out) as max pooling; each output is
 * the window's sum over kh * kw (count_include_pad) or over its positions
 * inside the input. */
dc_tensor *dc_avg_pool2d(dc_tensor *x, const int64_t *kernel, const int64_t *stride,
                         const int64_t *padding, int count_include_pad) {
    static const char *const func = "dc_avg_pool2d";
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    pool_geom g;
    if (!pool_setup(x, kernel, stride, padding, func, &g)) return NULL;
    int64_t shape[4] = {g.n, g.c, g.oh, g.ow};
    dc_tensor *out = dc__tensor_new(x->dtype, 4, shape, false);
    if (!out) return NULL;
    bool include_pad = count_include_pad != 0;
    if (x->dtype == DC_F32)
        avg_pool_f32(dc__tensor_data(x), &g, include_pad, dc__tensor_data(out));
    else
        avg_pool_f64(dc__tensor_data(x), &g, include_pad, dc__tensor_data(out));
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_AVG_POOL2D, &x, 1, &node);
    if (node) {
        int64_t params[7] = {g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, include_pad};
        memcpy(node->iparams, params, sizeof params);
    }
    return dc__publish(out);
}

/* gout: (N, C, H_out, W_out) -> gx: (N, C, H, W), each gradient spread
 * evenly (divided by the forward's divisor) over its window. */
dc_status dc__avg_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                  dc_tensor **gin) {
    dc_tensor *x = node->inputs[0];
    pool_geom g;
    memset(&g, 0, sizeof g);
    read_input(x, &g);
    g.oh = out->shape[2];
    g.ow = out->shape[3];
    g.kh = node->iparams[0];
    g.kw = node->iparams[1];
    g.sh = node->iparams[2];
    g.sw = node->iparams[3];
    g.ph = node->iparams[4];
    g.pw = node->iparams[5];
    bool include_pad = node->iparams[6] != 0;
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *gx = gc ? dc__tensor_new(x->dtype, 4, x->shape, true) : NULL;
    if (!gx) {
        dc_release(gc);
        return dc_last_status();
    }
    if (x->dtype == DC_F32)
        avg_pool_back_f32(dc__tensor_data(gc), &g, include_pad, dc__tensor_data(gx));
    else
        avg_pool_back_f64(dc__tensor_data(gc), &g, include_pad, dc__tensor_data(gx));
    dc_release(gc);
    gin[0] = gx;
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Adaptive average pooling                                          */
/* ---------------------------------------------------------------- */

/* x: (N, C, H, W) -> (N, C, out_h, out_w); output (i, j) averages the
 * bin rows [floor(i H / out_h), ceil((i + 1) H / out_h)) x columns alike. */
dc_tensor *dc_adaptive_avg_pool2d(dc_tensor *x, int64_t out_h, int64_t out_w) {
    static const char *const func = "dc_adaptive_avg_pool2d";
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    if (!check_input(x, func)) return NULL;
    if (out_h < 1 || out_w < 1) {
        dc__fail(DC_E_INVALID, "%s: the output size (%lld, %lld) must be >= 1", func,
                 (long long)out_h, (long long)out_w);
        return NULL;
    }
    pool_geom g;
    memset(&g, 0, sizeof g);
    read_input(x, &g);
    g.oh = out_h;
    g.ow = out_w;
    if (g.h < 1 || g.w < 1) {
        dc__fail(DC_E_SHAPE, "%s: the input plane (%lld, %lld) is empty", func,
                 (long long)g.h, (long long)g.w);
        return NULL;
    }
    /* the bin arithmetic computes up to (out + 1) * in */
    if (out_h >= INT64_MAX / g.h - 1 || out_w >= INT64_MAX / g.w - 1) {
        dc__fail(DC_E_OVERFLOW, "%s: the output size (%lld, %lld) is too large", func,
                 (long long)out_h, (long long)out_w);
        return NULL;
    }
    int64_t shape[4] = {g.n, g.c, g.oh, g.ow};
    dc_tensor *out = dc__tensor_new(x->dtype, 4, shape, false);
    if (!out) return NULL;
    if (x->dtype == DC_F32)
        adaptive_pool_f32(dc__tensor_data(x), &g, dc__tensor_data(out));
    else
        adaptive_pool_f64(dc__tensor_data(x), &g, dc__tensor_data(out));
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_ADAPTIVE_AVG_POOL2D, &x, 1, &node);
    if (node) {
        node->iparams[0] = out_h;
        node->iparams[1] = out_w;
    }
    return dc__publish(out);
}

/* gout: (N, C, out_h, out_w) -> gx: (N, C, H, W), each gradient spread
 * evenly over its bin. */
dc_status dc__adaptive_avg_pool2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                           dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    pool_geom g;
    memset(&g, 0, sizeof g);
    read_input(x, &g);
    g.oh = node->iparams[0];
    g.ow = node->iparams[1];
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *gx = gc ? dc__tensor_new(x->dtype, 4, x->shape, true) : NULL;
    if (!gx) {
        dc_release(gc);
        return dc_last_status();
    }
    if (x->dtype == DC_F32)
        adaptive_pool_back_f32(dc__tensor_data(gc), &g, dc__tensor_data(gx));
    else
        adaptive_pool_back_f64(dc__tensor_data(gc), &g, dc__tensor_data(gx));
    dc_release(gc);
    gin[0] = gx;
    return DC_OK;
}
