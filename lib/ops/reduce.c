/* Reductions over sets of axes: sum, mean, max, min, argmax, argmin, var,
 * std and logsumexp, with their backward functions.
 *
 * How a reduction runs: the axes of the input are split into kept axes
 * (the output's) and reduced axes. The output is walked in row-major order
 * with an odometer over the kept axes; for each output element the reduced
 * elements are visited as strided segments along the last reduced axis
 * (adjacent reduced axes that are contiguous with each other are merged
 * first). Segments reach the kernels as chunks of doubles (or of int64 for
 * integer dtypes, which keeps i64 exact). A contiguous input reduced over
 * its trailing axes is the fast path: one stride-1 segment per output
 * element, passed without a copy for f64 and converted in cache-sized
 * chunks for f32. Sums and means whose kept elements are contiguous (a
 * reduction over leading axes) take a second fast path that adds whole
 * input rows into a row of accumulators (run_columns). */
#include "../core/internal.h"
#include "op_util.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Axes and geometry                                                 */
/* ---------------------------------------------------------------- */

/* Turns (axes, naxes) into a bit mask of reduced axes (bit i: axis i).
 * naxes 0 reduces every axis. A 0-d tensor accepts axis 0 / -1, which
 * reduces nothing (as torch). */
static bool parse_axes(const dc_tensor *t, const int *axes, int naxes,
                       const char *func, unsigned *mask) {
    if (naxes < 0 || naxes > DC_MAX_DIMS) {
        dc__fail(DC_E_INVALID, "%s: naxes %d is outside 0..%d", func, naxes, DC_MAX_DIMS);
        return false;
    }
    if (naxes > 0 && axes == NULL) {
        dc__fail(DC_E_INVALID, "%s: 'axes' is NULL but naxes is %d", func, naxes);
        return false;
    }
    if (naxes == 0) {
        *mask = (1u << t->ndim) - 1u;
        return true;
    }
    unsigned seen = 0;
    for (int i = 0; i < naxes; i++) {
        int a = axes[i];
        if (!dc__norm_axis(&a, t->ndim, func)) return false;
        if (seen & (1u << a)) {
            dc__fail(DC_E_INVALID, "%s: axis %d is given twice", func, axes[i]);
            return false;
        }
        seen |= 1u << a;
    }
    *mask = t->ndim == 0 ? 0u : seen;
    return true;
}

/* The output shape: reduced axes become 1 (keepdim) or go. Returns ndim. */
static int reduced_shape(const dc_tensor *t, unsigned mask, bool keepdim, int64_t *shape) {
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (mask & (1u << i)) {
            if (keepdim) shape[n++] = 1;
        } else {
            shape[n++] = t->shape[i];
        }
    }
    return n;
}

/* Kept axes as an odometer for the output walk, reduced axes for the
 * inner walk. Size-1 axes are dropped (they change no offset) and each
 * group merges an axis into the previous one of the group when the two
 * are contiguous with each other, which keeps the row-major order. */
typedef struct red_geom {
    int nkeep, nred;                /* nred >= 1 */
    int64_t keep_shape[DC_MAX_DIMS], keep_stride[DC_MAX_DIMS];
    int64_t red_shape[DC_MAX_DIMS], red_stride[DC_MAX_DIMS];
    int64_t n;                      /* elements per output element */
    int64_t nout;                   /* output elements */
    int64_t offset;
} red_geom;

static void geom_init(red_geom *g, const dc_tensor *t, unsigned mask) {
    g->nkeep = g->nred = 0;
    g->n = g->nout = 1;
    g->offset = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        int64_t size = t->shape[i], stride = t->strides[i];
        if (!(mask & (1u << i))) {
            g->nout *= size;
            if (size == 1) continue;
            int lastk = g->nkeep - 1;
            if (lastk >= 0 && g->keep_stride[lastk] == stride * size) {
                g->keep_shape[lastk] *= size;
                g->keep_stride[lastk] = stride;
            } else {
                g->keep_shape[g->nkeep] = size;
                g->keep_stride[g->nkeep++] = stride;
            }
            continue;
        }
        g->n *= size;
        if (size == 1) continue;
        int last = g->nred - 1;
        if (last >= 0 && g->red_stride[last] == stride * size) {
            g->red_shape[last] *= size;
            g->red_stride[last] = stride;
        } else {
            g->red_shape[g->nred] = size;
            g->red_stride[g->nred++] = stride;
        }
    }
    if (g->nred == 0) {
        g->red_shape[0] = 1;
        g->red_stride[0] = 0;
        g->nred = 1;
    }
}

/* Advances a row-major odometer over n axes and returns the new offset. */
static int64_t odometer_step(int n, const int64_t *shape, const int64_t *stride,
                             int64_t *idx, int64_t off) {
    for (int i = n - 1; i >= 0; i--) {
        off += stride[i];
        if (++idx[i] < shape[i]) return off;
        off -= stride[i] * shape[i];
        idx[i] = 0;
    }
    return off;
}

/* Kernels see the reduced elements of one output element as chunks: x
 * holds n values (double or int64_t) whose positions in the reduction
 * start at first. */
typedef void (*chunk_fn)(const void *x, int64_t n, int64_t first, void *ctx);

#define CHUNK 512

/* Visits the reduced elements of the output element whose first input
 * element is at offset base, converted to dtype as (DC_F64 or DC_I64). */
static void walk_chunks(const red_geom *g, const dc_tensor *t, int64_t base, dc_dtype as,
                        chunk_fn fn, void *ctx) {
    if (g->n == 0) return;
    int last = g->nred - 1;
    int64_t len = g->red_shape[last], stride = g->red_stride[last];
    int64_t esz = (int64_t)dc_dtype_size(t->dtype);
    const char *data = t->storage->data;
    union {
        double d[CHUNK];
        int64_t i[CHUNK];
    } buf;
    int64_t idx[DC_MAX_DIMS] = {0};
    int64_t off = base;
    for (int64_t first = 0; first < g->n; first += len) {
        const char *seg = data + off * esz;
        if (t->dtype == as && stride == 1) {
            fn(seg, len, first, ctx);
        } else {
            for (int64_t c = 0; c < len; c += CHUNK) {
                int64_t m = len - c < CHUNK ? len - c : CHUNK;
                dc__convert(&buf, as, 1, seg + c * stride * esz, t->dtype, stride, m);
                fn(&buf, m, first + c, ctx);
            }
        }
        off = odometer_step(last, g->red_shape, g->red_stride, idx, off);
    }
}

/* ---------------------------------------------------------------- */
/* Kernels                                                           */
/* ---------------------------------------------------------------- */

/* Neumaier compensated sum of chunk sums; chunks are summed pairwise. */
typedef struct fsum {
    double s, c;
} fsum;

static void fsum_add(fsum *a, double v) {
    double t = a->s + v;
    if (fabs(a->s) >= fabs(v)) a->c += (a->s - t) + v;
    else a->c += (v - t) + a->s;
    a->s = t;
}

/* Once the sum is infinite or NaN the compensation means nothing. */
static double fsum_value(const fsum *a) { return isfinite(a->s) ? a->s + a->c : a->s; }

static double pairwise_sum(const double *x, int64_t n) {
    if (n <= 16) {
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += x[i];
        return s;
    }
    int64_t h = n / 2;
    return pairwise_sum(x, h) + pairwise_sum(x + h, n - h);
}

static void sum_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    fsum_add(ctx, pairwise_sum(x, n));
}

/* Integer sums wrap around in two's complement (as torch). */
static void isum_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    const int64_t *v = x;
    uint64_t s = *(uint64_t *)ctx;
    for (int64_t i = 0; i < n; i++) s += (uint64_t)v[i];
    *(uint64_t *)ctx = s;
}

/* Running extreme; NaN wins and stays. */
typedef struct fext {
    double v;
    bool min;
} fext;

static void fext_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    const double *v = x;
    fext *e = ctx;
    double m = e->v;
    if (e->min) {
        for (int64_t i = 0; i < n; i++)
            if (v[i] < m || isnan(v[i])) m = v[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            if (v[i] > m || isnan(v[i])) m = v[i];
    }
    e->v = m;
}

typedef struct iext {
    int64_t v;
    bool min;
} iext;

static void iext_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    const int64_t *v = x;
    iext *e = ctx;
    for (int64_t i = 0; i < n; i++)
        if (e->min ? v[i] < e->v : v[i] > e->v) e->v = v[i];
}

/* Position of the first extreme; a NaN counts as the extreme (torch). */
typedef struct arg_state {
    double fv;
    int64_t iv;
    int64_t idx;                    /* -1 until the first element */
    bool min;
} arg_state;

static void farg_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    const double *v = x;
    arg_state *a = ctx;
    for (int64_t i = 0; i < n; i++) {
        if (a->idx >= 0 && isnan(a->fv)) return;
        bool better = a->idx < 0 || isnan(v[i]) || (a->min ? v[i] < a->fv : v[i] > a->fv);
        if (better) {
            a->fv = v[i];
            a->idx = first + i;
        }
    }
}

static void iarg_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    const int64_t *v = x;
    arg_state *a = ctx;
    for (int64_t i = 0; i < n; i++) {
        bool better = a->idx < 0 || (a->min ? v[i] < a->iv : v[i] > a->iv);
        if (better) {
            a->iv = v[i];
            a->idx = first + i;
        }
    }
}

/* Second pass of the variance: sums of d = x - mean and of d^2. */
typedef struct dev_state {
    double mean;
    fsum d, d2;
} dev_state;

static void dev_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    const double *v = x;
    dev_state *s = ctx;
    double sd = 0.0, sd2 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = v[i] - s->mean;
        sd += d;
        sd2 += d * d;
    }
    fsum_add(&s->d, sd);
    fsum_add(&s->d2, sd2);
}

/* Second pass of logsumexp: sum of exp(x - max). */
typedef struct exp_state {
    double max;
    fsum s;
} exp_state;

static void exp_chunk(const void *x, int64_t n, int64_t first, void *ctx) {
    (void)first;
    const double *v = x;
    exp_state *e = ctx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += exp(v[i] - e->max);
    fsum_add(&e->s, s);
}

/* ---------------------------------------------------------------- */
/* The driver                                                        */
/* ---------------------------------------------------------------- */

typedef enum red_kind {
    RK_SUM, RK_MEAN, RK_MAX, RK_MIN, RK_VAR, RK_LSE, RK_ARGMAX, RK_ARGMIN
} red_kind;

typedef struct red_job {
    red_kind kind;
    red_geom g;
    const dc_tensor *t;
    dc_tensor *out;
    int correction;                 /* RK_VAR */
} red_job;

static bool dtype_is_int(dc_dtype d) { return !dc__dtype_is_float(d); }

static double float_sum(const red_job *job, int64_t base) {
    fsum s = {0.0, 0.0};
    walk_chunks(&job->g, job->t, base, DC_F64, sum_chunk, &s);
    return fsum_value(&s);
}

static double float_extreme(const red_job *job, int64_t base, bool min) {
    fext e = {min ? INFINITY : -INFINITY, min};
    walk_chunks(&job->g, job->t, base, DC_F64, fext_chunk, &e);
    return e.v;
}

/* Two-pass variance with the compensation term of the corrected two-pass
 * algorithm: M2 = sum d^2 - (sum d)^2 / n. It is divided by N - correction;
 * when that is <= 0 the result is inf (M2 > 0) or nan (M2 == 0), as torch,
 * which divides by max(0, N - correction). */
static double float_var(const red_job *job, int64_t base) {
    int64_t n = job->g.n;
    if (n == 0) return NAN;
    dev_state s = {float_sum(job, base) / (double)n, {0, 0}, {0, 0}};
    walk_chunks(&job->g, job->t, base, DC_F64, dev_chunk, &s);
    double sd = fsum_value(&s.d);
    double m2 = fsum_value(&s.d2) - sd * sd / (double)n;
    if (m2 < 0.0) m2 = 0.0;
    double denom = (double)n - (double)job->correction;
    if (isnan(m2)) return NAN;
    if (denom <= 0.0) return m2 > 0.0 ? INFINITY : NAN;
    return m2 / denom;
}

/* max + log(sum exp(x - max)); a reduction of only -inf gives -inf, an
 * empty one -inf (log 0), and a +inf element +inf. */
static double float_lse(const red_job *job, int64_t base) {
    double m = float_extreme(job, base, false);
    if (isnan(m) || isinf(m)) return m;
    exp_state e = {m, {0, 0}};
    walk_chunks(&job->g, job->t, base, DC_F64, exp_chunk, &e);
    return m + log(fsum_value(&e.s));
}

static double float_result(const red_job *job, int64_t base) {
    switch (job->kind) {
    case RK_SUM: return float_sum(job, base);
    case RK_MEAN: return job->g.n == 0 ? NAN : float_sum(job, base) / (double)job->g.n;
    case RK_MAX: return float_extreme(job, base, false);
    case RK_MIN: return float_extreme(job, base, true);
    case RK_VAR: return float_var(job, base);
    case RK_LSE: return float_lse(job, base);
    default: return NAN;
    }
}

static int64_t int_result(const red_job *job, int64_t base) {
    switch (job->kind) {
    case RK_SUM: {
        uint64_t s = 0;
        walk_chunks(&job->g, job->t, base, DC_I64, isum_chunk, &s);
        return (int64_t)s;
    }
    case RK_MAX:
    case RK_MIN: {
        iext e = {job->kind == RK_MIN ? INT64_MAX : INT64_MIN, job->kind == RK_MIN};
        walk_chunks(&job->g, job->t, base, DC_I64, iext_chunk, &e);
        return e.v;
    }
    default: return 0;
    }
}

static int64_t arg_result(const red_job *job, int64_t base) {
    arg_state a = {0.0, 0, -1, job->kind == RK_ARGMIN};
    if (dtype_is_int(job->t->dtype))
        walk_chunks(&job->g, job->t, base, DC_I64, iarg_chunk, &a);
    else
        walk_chunks(&job->g, job->t, base, DC_F64, farg_chunk, &a);
    return a.idx;
}

/* Stores an int64 exactly (dc__store goes through a double). */
static void store_int(dc_tensor *out, int64_t k, int64_t v) {
    void *d = out->storage->data;
    if (out->dtype == DC_I64) ((int64_t *)d)[k] = v;
    else dc__store(d, out->dtype, k, (double)v);
}

/* Adds n elements of a contiguous f32 or f64 row into acc. */
static void add_row(double *acc, const char *row, dc_dtype dt, int64_t n) {
    if (dt == DC_F32) {
        const float *x = (const float *)row;
        for (int64_t j = 0; j < n; j++) acc[j] += x[j];
    } else {
        const double *x = (const double *)row;
        for (int64_t j = 0; j < n; j++) acc[j] += x[j];
    }
}

/* Sum or mean over leading axes of rows whose kept elements are
 * contiguous (a bias gradient, a batch mean): whole input rows are added
 * into a row of accumulators, which walks memory in order. Blocks of
 * COLUMN_BLOCK rows are summed apart and then added, so rounding errors
 * grow with the block count, not the row count. */
#define COLUMN_BLOCK 64

static bool column_path_fits(const red_job *job) {
    const red_geom *g = &job->g;
    return (job->kind == RK_SUM || job->kind == RK_MEAN) && dc__dtype_is_float(job->t->dtype) &&
           g->nkeep == 1 && g->keep_stride[0] == 1 && g->n > 1;
}

static bool run_columns(red_job *job) {
    const red_geom *g = &job->g;
    int64_t k = g->keep_shape[0];
    double *acc = dc__calloc(2 * (size_t)k, sizeof *acc);
    if (!acc) return false;
    double *block = acc + k;
    int64_t esz = (int64_t)dc_dtype_size(job->t->dtype);
    const char *data = job->t->storage->data;
    int64_t idx[DC_MAX_DIMS] = {0};
    int64_t off = g->offset;
    for (int64_t r = 0; r < g->n; r++) {
        add_row(block, data + off * esz, job->t->dtype, k);
        if ((r + 1) % COLUMN_BLOCK == 0 || r + 1 == g->n) {
            for (int64_t j = 0; j < k; j++) {
                acc[j] += block[j];
                block[j] = 0.0;
            }
        }
        off = odometer_step(g->nred, g->red_shape, g->red_stride, idx, off);
    }
    double scale = job->kind == RK_MEAN ? 1.0 / (double)g->n : 1.0;
    for (int64_t j = 0; j < k; j++)
        dc__store(job->out->storage->data, job->out->dtype, j, acc[j] * scale);
    dc__free(acc);
    return true;
}

static bool run_job(red_job *job) {
    if (column_path_fits(job)) return run_columns(job);
    const red_geom *g = &job->g;
    bool is_arg = job->kind == RK_ARGMAX || job->kind == RK_ARGMIN;
    bool is_int = dtype_is_int(job->t->dtype);
    int64_t idx[DC_MAX_DIMS] = {0};
    int64_t base = g->offset;
    for (int64_t k = 0; k < g->nout; k++) {
        if (is_arg) store_int(job->out, k, arg_result(job, base));
        else if (is_int) store_int(job->out, k, int_result(job, base));
        else dc__store(job->out->storage->data, job->out->dtype, k, float_result(job, base));
        base = odometer_step(g->nkeep, g->keep_shape, g->keep_stride, idx, base);
    }
    return true;
}

static const char *const kind_names[] = {
    "dc_sum", "dc_mean", "dc_max", "dc_min", "dc_var", "dc_logsumexp", "dc_argmax", "dc_argmin",
};

static const dc_op_id kind_ops[] = {
    DC_OP_SUM, DC_OP_MEAN, DC_OP_MAX, DC_OP_MIN, DC_OP_VAR, DC_OP_LOGSUMEXP, DC_OP_NONE, DC_OP_NONE,
};

/* Checks what every reduction needs; fills mask. */
static bool check_reduction(dc_tensor *t, const int *axes, int naxes, red_kind kind,
                            unsigned *mask) {
    const char *func = kind_names[kind];
    bool need_float = kind == RK_MEAN || kind == RK_VAR || kind == RK_LSE;
    if (need_float && !dc__require_float(t, func)) return false;
    if (!parse_axes(t, axes, naxes, func, mask)) return false;
    return true;
}

/* The forward of every reduction: validates, computes, records. */
static dc_tensor *reduce(dc_tensor *t, const int *axes, int naxes, int keepdim,
                         red_kind kind, int correction) {
    const char *func = kind_names[kind];
    DC_CHECK_TENSOR_OR_NULL(t, func, "t");
    unsigned mask;
    if (!check_reduction(t, axes, naxes, kind, &mask)) return NULL;
    red_job job = {.kind = kind, .t = t, .correction = correction};
    geom_init(&job.g, t, mask);
    bool needs_elements = kind == RK_MAX || kind == RK_MIN || kind == RK_ARGMAX ||
                          kind == RK_ARGMIN;
    if (needs_elements && job.g.n == 0) {
        dc__fail(DC_E_SHAPE, "%s: the reduction is over no elements (an axis of size 0)",
                 func);
        return NULL;
    }
    dc_dtype odt = t->dtype;
    if (kind == RK_ARGMAX || kind == RK_ARGMIN || (kind == RK_SUM && dtype_is_int(t->dtype)))
        odt = DC_I64;
    int64_t shape[DC_MAX_DIMS];
    int nd = reduced_shape(t, mask, keepdim != 0, shape);
    job.out = dc__tensor_new(odt, nd, shape, false);
    if (!job.out) return NULL;
    if (!run_job(&job)) {
        dc_release(job.out);
        return NULL;
    }
    if (kind_ops[kind] == DC_OP_NONE || !dc__dtype_is_float(odt)) return dc__publish(job.out);
    dc_node *node;
    dc_tensor *out = dc__record_or_drop(job.out, kind_ops[kind], &t, 1, &node);
    if (node) {
        node->iparams[0] = (int64_t)mask;
        node->iparams[1] = keepdim != 0;
        node->iparams[2] = correction;
        node->iparams[3] = job.g.n;
    }
    return dc__publish(out);
}

/* ---------------------------------------------------------------- */
/* Backward helpers                                                  */
/* ---------------------------------------------------------------- */

/* A new contiguous tensor of in's shape (published) holding src, which
 * has the reduction's output shape (with size-1 reduced axes when
 * keepdim), repeated along the reduced axes and multiplied by scale. */
static dc_tensor *broadcast_back(const dc_tensor *src, const dc_tensor *in, unsigned mask,
                                 bool keepdim, double scale) {
    if (!src) return NULL;
    int64_t strides[2][DC_MAX_DIMS];
    int j = 0;
    for (int i = 0; i < in->ndim; i++) {
        if (mask & (1u << i)) {
            strides[1][i] = 0;
            if (keepdim) j++;
        } else {
            strides[1][i] = src->strides[j++];
        }
    }
    dc_tensor *dst = dc__tensor_new(src->dtype, in->ndim, in->shape, false);
    if (!dst) return NULL;
    memcpy(strides[0], dst->strides, sizeof dst->strides);
    int64_t offs[2] = {0, src->offset};
    dc_iter it;
    dc__iter_init(&it, in->ndim, in->shape, 2, strides, offs);
    char *d = dst->storage->data;
    const char *s = src->storage->data;
    while (dc__iter_next(&it)) {
        if (dst->dtype == DC_F32) {
            float *dp = (float *)d + it.off[0];
            const float *sp = (const float *)s + it.off[1];
            for (int64_t i = 0; i < it.inner; i++)
                dp[i * it.istride[0]] = (float)(scale * sp[i * it.istride[1]]);
        } else {
            double *dp = (double *)d + it.off[0];
            const double *sp = (const double *)s + it.off[1];
            for (int64_t i = 0; i < it.inner; i++)
                dp[i * it.istride[0]] = scale * sp[i * it.istride[1]];
        }
    }
    return dc__publish(dst);
}

/* dst[e] = fn(src0[e], src1[e], ...) for every element; all have dst's
 * shape and a floating dtype. */
typedef double (*map_fn)(const double *v, void *ctx);

static void map_elements(dc_tensor *dst, dc_tensor *const *src, int nsrc, map_fn fn,
                         void *ctx) {
    int64_t strides[DC_ITER_MAX_OPS][DC_MAX_DIMS];
    int64_t offs[DC_ITER_MAX_OPS];
    memcpy(strides[0], dst->strides, sizeof dst->strides);
    offs[0] = dst->offset;
    for (int k = 0; k < nsrc; k++) {
        memcpy(strides[k + 1], src[k]->strides, sizeof src[k]->strides);
        offs[k + 1] = src[k]->offset;
    }
    dc_iter it;
    dc__iter_init(&it, dst->ndim, dst->shape, nsrc + 1, strides, offs);
    double v[DC_ITER_MAX_OPS];
    while (dc__iter_next(&it)) {
        for (int64_t i = 0; i < it.inner; i++) {
            for (int k = 0; k < nsrc; k++)
                v[k] = dc__load(src[k]->storage->data, src[k]->dtype,
                                it.off[k + 1] + i * it.istride[k + 1]);
            dc__store(dst->storage->data, dst->dtype, it.off[0] + i * it.istride[0],
                      fn(v, ctx));
        }
    }
}

/* A new published tensor of like's shape and dtype computed by map_elements. */
static dc_tensor *map_new(const dc_tensor *like, dc_tensor *const *src, int nsrc, map_fn fn,
                          void *ctx) {
    for (int k = 0; k < nsrc; k++)
        if (!src[k]) return NULL;
    dc_tensor *dst = dc__tensor_new(like->dtype, like->ndim, like->shape, false);
    if (!dst) return NULL;
    map_elements(dst, src, nsrc, fn, ctx);
    return dc__publish(dst);
}

static int mask_to_axes(unsigned mask, int ndim, int *axes) {
    int n = 0;
    for (int i = 0; i < ndim; i++)
        if (mask & (1u << i)) axes[n++] = i;
    return n;
}

/* ---------------------------------------------------------------- */
/* sum                                                               */
/* ---------------------------------------------------------------- */

/* t: (..., R..., ...) -> reduced axes removed (or 1 with keepdim) */
dc_tensor *dc_sum(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_SUM, 0);
}

/* gout: output shape -> gin: gout repeated along the reduced axes */
dc_status dc__sum_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    return dc__set_grad(gin, 0, broadcast_back(gout, x, (unsigned)node->iparams[0],
                                               node->iparams[1] != 0, 1.0));
}

/* ---------------------------------------------------------------- */
/* mean                                                              */
/* ---------------------------------------------------------------- */

/* t: (..., R..., ...) -> reduced axes removed (or 1 with keepdim) */
dc_tensor *dc_mean(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_MEAN, 0);
}

/* gout: output shape -> gin = gout / N repeated along the reduced axes */
dc_status dc__mean_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    int64_t n = node->iparams[3];
    double scale = n > 0 ? 1.0 / (double)n : 0.0;
    return dc__set_grad(gin, 0, broadcast_back(gout, x, (unsigned)node->iparams[0],
                                               node->iparams[1] != 0, scale));
}

/* ---------------------------------------------------------------- */
/* max, min                                                          */
/* ---------------------------------------------------------------- */

/* t: (..., R..., ...) -> reduced axes removed (or 1 with keepdim) */
dc_tensor *dc_max(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_MAX, 0);
}

dc_tensor *dc_min(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_MIN, 0);
}

/* 1 where x is the extreme of its reduction (a NaN matches a NaN result). */
static double tie_mask(const double *v, void *ctx) {
    (void)ctx;
    return (v[0] == v[1] || (isnan(v[0]) && isnan(v[1]))) ? 1.0 : 0.0;
}

static double share_of_grad(const double *v, void *ctx) {
    (void)ctx;
    return v[0] != 0.0 ? v[1] / v[2] : 0.0;   /* mask, gout, tie count */
}

/* gout: output shape -> gin: gout split evenly among the elements equal
 * to the extreme (torch.amax / amin). Serves DC_OP_MAX and DC_OP_MIN. */
dc_status dc__max_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    dc_tensor *x = node->inputs[0];
    unsigned mask = (unsigned)node->iparams[0];
    bool keepdim = node->iparams[1] != 0;
    dc_tensor *out_b = broadcast_back(out, x, mask, keepdim, 1.0);
    dc_tensor *ties_in[2] = {x, out_b};
    dc_tensor *ties = map_new(x, ties_in, 2, tie_mask, NULL);
    int axes[DC_MAX_DIMS];
    int naxes = mask_to_axes(mask, x->ndim, axes);
    dc_tensor *count = naxes > 0 ? dc_sum(ties, axes, naxes, 1) : dc_retain(ties);
    if (naxes == 0 && count) count = dc__publish(count);
    dc_tensor *count_b = count ? broadcast_back(count, x, mask, true, 1.0) : NULL;
    dc_tensor *gout_b = broadcast_back(gout, x, mask, keepdim, 1.0);
    dc_tensor *share_in[3] = {ties, gout_b, count_b};
    return dc__set_grad(gin, 0, map_new(x, share_in, 3, share_of_grad, NULL));
}

/* ---------------------------------------------------------------- */
/* argmax, argmin                                                    */
/* ---------------------------------------------------------------- */

/* t: (..., N, ...) -> i64 (..., ...) or (..., 1, ...) with keepdim.
 * Never recorded: an index has no gradient. */
dc_tensor *dc_argmax(dc_tensor *t, int axis, int keepdim) {
    return reduce(t, &axis, 1, keepdim, RK_ARGMAX, 0);
}

dc_tensor *dc_argmin(dc_tensor *t, int axis, int keepdim) {
    return reduce(t, &axis, 1, keepdim, RK_ARGMIN, 0);
}

/* ---------------------------------------------------------------- */
/* var, std                                                          */
/* ---------------------------------------------------------------- */

/* t: (..., R..., ...) -> reduced axes removed (or 1 with keepdim) */
dc_tensor *dc_var(dc_tensor *t, const int *axes, int naxes, int correction, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_VAR, correction);
}

static double var_grad(const double *v, void *ctx) {
    double denom = *(const double *)ctx;     /* x, mean, gout */
    return v[2] * 2.0 * (v[0] - v[1]) / denom;
}

/* gout: output shape -> gin = gout * 2 (x - mean) / (N - correction).
 * With N - correction <= 0 this is inf or nan, like the forward. */
dc_status dc__var_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0];
    unsigned mask = (unsigned)node->iparams[0];
    bool keepdim = node->iparams[1] != 0;
    double denom = (double)node->iparams[3] - (double)node->iparams[2];
    if (denom < 0.0) denom = 0.0;
    int axes[DC_MAX_DIMS];
    int naxes = mask_to_axes(mask, x->ndim, axes);
    dc_tensor *mean_b;
    if (naxes > 0) {
        mean_b = broadcast_back(dc_mean(x, axes, naxes, 1), x, mask, true, 1.0);
    } else {
        mean_b = dc__publish(dc__copy_contiguous(x));  /* a mean over nothing is x */
    }
    dc_tensor *gout_b = broadcast_back(gout, x, mask, keepdim, 1.0);
    dc_tensor *in[3] = {x, mean_b, gout_b};
    return dc__set_grad(gin, 0, map_new(x, in, 3, var_grad, &denom));
}

/* std = sqrt(var), composed so that autodiff chains DC_OP_SQRT and
 * DC_OP_VAR. The intermediate lives in a private scope. */
dc_tensor *dc_std(dc_tensor *t, const int *axes, int naxes, int correction, int keepdim) {
    DC_CHECK_TENSOR_OR_NULL(t, "dc_std", "t");
    unsigned mask;
    if (!dc__require_float(t, "dc_std") || !parse_axes(t, axes, naxes, "dc_std", &mask))
        return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *r = dc_retain(dc_sqrt(dc_var(t, axes, naxes, correction, keepdim)));
    dc_scope_end(scope);
    return dc__publish(r);
}

/* ---------------------------------------------------------------- */
/* logsumexp                                                         */
/* ---------------------------------------------------------------- */

/* t: (..., R..., ...) -> reduced axes removed (or 1 with keepdim) */
dc_tensor *dc_logsumexp(dc_tensor *t, const int *axes, int naxes, int keepdim) {
    return reduce(t, axes, naxes, keepdim, RK_LSE, 0);
}

static double lse_grad(const double *v, void *ctx) {
    (void)ctx;                                  /* x, out, gout */
    if (isinf(v[1]) && v[1] < 0.0) return 0.0;  /* all -inf: no element moves it */
    return v[2] * exp(v[0] - v[1]);
}

/* gout: output shape -> gin = gout * exp(x - out) (the softmax of x) */
dc_status dc__logsumexp_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                                 dc_tensor **gin) {
    dc_tensor *x = node->inputs[0];
    unsigned mask = (unsigned)node->iparams[0];
    bool keepdim = node->iparams[1] != 0;
    dc_tensor *out_b = broadcast_back(out, x, mask, keepdim, 1.0);
    dc_tensor *gout_b = broadcast_back(gout, x, mask, keepdim, 1.0);
    dc_tensor *in[3] = {x, out_b, gout_b};
    return dc__set_grad(gin, 0, map_new(x, in, 3, lse_grad, NULL));
}
