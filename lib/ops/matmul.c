/* Matrix products on the GEMM kernels.
 *
 * dc_matmul follows numpy.matmul: the last two axes of each operand are
 * the matrices, the axes before them are batch axes that broadcast, and a
 * 1-D operand is promoted to a matrix (a row on the left, a column on the
 * right) whose added axis is dropped from the result.
 *
 * Operands go to GEMM in place whenever their matrices are row-major
 * (unit column stride) or column-major (unit row stride, read as the
 * transpose of a row-major matrix), so transposed views cost nothing. Any
 * other layout is copied to a contiguous tensor first. */
#include "../core/internal.h"
#include "../core/threads.h"
#include "../kernels/kernels.h"
#include "fastmath.h"
#include "op_util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const FNAME = "dc_matmul";

/* One operand as GEMM reads it: a stack of rows x cols matrices. */
typedef struct mm_side {
    const dc_tensor *t;                 /* the operand, or its contiguous copy */
    int64_t rows, cols;                 /* after promoting a 1-D operand */
    int64_t srow, scol;                 /* element strides of the matrix axes */
    int64_t bstrides[DC_MAX_DIMS];      /* per output batch axis; 0 when broadcast */
    bool trans;                         /* stored column-major: GEMM transposes */
    int64_t ld;                         /* GEMM's leading dimension */
} mm_side;

typedef struct mm_plan {
    int nbatch;                         /* output batch axes */
    int64_t bshape[DC_MAX_DIMS];
    int64_t m, n, k;
    int out_ndim;
    int64_t out_shape[DC_MAX_DIMS];
    mm_side a, b;
} mm_plan;

/* "(2, 3, 4)" into buf. */
static const char *shape_str(const dc_tensor *t, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < t->ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld",
                                (long long)t->shape[i]);
    if (len < size) snprintf(buf + len, size - len, t->ndim == 1 ? ",)" : ")");
    return buf;
}

static void fail_shapes(const dc_tensor *a, const dc_tensor *b, const char *what) {
    char sa[160], sb[160];
    dc__fail(DC_E_SHAPE, "%s: %s: a is %s, b is %s", FNAME, what, shape_str(a, sa, sizeof sa),
             shape_str(b, sb, sizeof sb));
}

/* The matrix view of side->t: a 1-D left operand is one row, a 1-D right
 * operand one column (the unused stride of the size-1 axis is arbitrary). */
static void read_matrix(mm_side *s, bool left) {
    const dc_tensor *t = s->t;
    if (t->ndim == 1) {
        int64_t len = t->shape[0], stride = t->strides[0];
        s->rows = left ? 1 : len;
        s->cols = left ? len : 1;
        s->srow = left ? 0 : stride;
        s->scol = left ? stride : 0;
        return;
    }
    s->rows = t->shape[t->ndim - 2];
    s->cols = t->shape[t->ndim - 1];
    s->srow = t->strides[t->ndim - 2];
    s->scol = t->strides[t->ndim - 1];
}

/* Chooses how GEMM reads a non-empty matrix in place: row-major with
 * ld = row stride, or column-major (the transpose of a row-major matrix)
 * with ld = column stride. BLAS wants ld >= the stored row length, so
 * overlapping rows (stride 0 from a broadcast) need a copy; strides of
 * size-1 axes never matter. False when no in-place layout fits. */
static bool choose_layout(mm_side *s) {
    int64_t r = s->rows, c = s->cols;
    if ((c == 1 || s->scol == 1) && (r == 1 || (s->srow >= c && s->srow <= INT_MAX))) {
        s->trans = false;
        s->ld = r == 1 ? c : s->srow;
        return true;
    }
    if ((r == 1 || s->srow == 1) && (c == 1 || (s->scol >= r && s->scol <= INT_MAX))) {
        s->trans = true;
        s->ld = c == 1 ? r : s->scol;
        return true;
    }
    return false;
}

/* Broadcasts the batch axes of a and b into p (NumPy rules, aligned from
 * the right). False (DC_E_SHAPE) when they do not broadcast. */
static bool broadcast_batch(const dc_tensor *a, const dc_tensor *b, mm_plan *p) {
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    p->nbatch = na > nb ? na : nb;
    for (int i = 0; i < p->nbatch; i++) {
        int ia = i - (p->nbatch - na), ib = i - (p->nbatch - nb);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            fail_shapes(a, b, "the batch axes do not broadcast");
            return false;
        }
        p->bshape[i] = sa == 1 ? sb : sa;
    }
    return true;
}

/* Batch strides of side s along the output batch axes (0 where s lacks
 * the axis or broadcasts a size-1 axis). */
static void batch_strides(mm_side *s, const mm_plan *p) {
    const dc_tensor *t = s->t;
    int nt = t->ndim > 2 ? t->ndim - 2 : 0;
    for (int i = 0; i < p->nbatch; i++) {
        int j = i - (p->nbatch - nt);
        s->bstrides[i] = (j < 0 || t->shape[j] == 1) ? 0 : t->strides[j];
    }
}

/* Validates shapes and fills the output shape and the sizes of p. */
static bool plan_shapes(const dc_tensor *a, const dc_tensor *b, mm_plan *p) {
    if (a->ndim < 1 || b->ndim < 1) {
        fail_shapes(a, b, "both operands need at least one axis");
        return false;
    }
    p->a.t = a;
    p->b.t = b;
    read_matrix(&p->a, true);
    read_matrix(&p->b, false);
    if (p->a.cols != p->b.rows) {
        fail_shapes(a, b, "the inner sizes differ");
        return false;
    }
    if (!broadcast_batch(a, b, p)) return false;
    p->m = p->a.rows;
    p->k = p->a.cols;
    p->n = p->b.cols;
    p->out_ndim = p->nbatch;
    memcpy(p->out_shape, p->bshape, (size_t)p->nbatch * sizeof *p->bshape);
    if (a->ndim > 1) p->out_shape[p->out_ndim++] = p->m;
    if (b->ndim > 1) p->out_shape[p->out_ndim++] = p->n;
    return true;
}

/* Makes side s readable by GEMM in place, copying its tensor when its
 * layout does not allow that. *copy gets the copy (or stays NULL). */
static bool prepare_side(mm_side *s, bool left, const mm_plan *p, dc_tensor **copy) {
    if (!choose_layout(s)) {
        *copy = dc__copy_contiguous(s->t);
        if (!*copy) return false;
        s->t = *copy;
        read_matrix(s, left);
        if (!choose_layout(s)) {   /* cannot happen for contiguous data */
            dc__fail(DC_E_INTERNAL, "%s: no GEMM layout for a contiguous operand", FNAME);
            return false;
        }
    }
    batch_strides(s, p);
    return true;
}

/* How many trailing batch axes fold into the rows of one GEMM: those
 * along which b does not move and a's matrices follow one another
 * (a (B, M, K) row-major a times a 2-D b is one (B*M, K) GEMM). Sets
 * *rows to the folded row count; may widen a's ld when a is one row. */
static int fold_batch(mm_plan *p, int64_t *rows) {
    int keep = p->nbatch;
    int64_t r = p->m;
    while (keep > 0 && !p->a.trans) {
        int i = keep - 1;
        int64_t size = p->bshape[i], sa = p->a.bstrides[i];
        if (size != 1) {
            if (p->b.bstrides[i] != 0) break;
            /* a single row may be read with any ld >= K: take the stride */
            if (r == 1 && sa >= p->k && sa <= INT_MAX) p->a.ld = sa;
            if (sa != r * p->a.ld) break;
        }
        r *= size;
        keep--;
    }
    *rows = r;
    return keep;
}

/* The GEMMs of one product: one per index of its first `outer` batch
 * axes (the rest fold into the rows). */
typedef struct mm_batch {
    const mm_plan *p;
    int outer;
    int64_t rows, count;                /* rows of each GEMM; GEMMs */
    int64_t out_bstrides[DC_MAX_DIMS];
    const char *ad, *bd;
    char *cd;
    size_t es;
    dc_dtype dtype;
    int64_t nchunks;
    atomic_int status;                  /* the first failure of a parallel run */
} mm_batch;

/* GEMMs [lo, hi) of the batch (flat indices over the outer axes, the last
 * fastest). */
static dc_status batch_range(const mm_batch *j, int64_t lo, int64_t hi) {
    const mm_plan *p = j->p;
    for (int64_t flat = lo; flat < hi; flat++) {
        int64_t oa = 0, ob = 0, oc = 0, rest = flat;
        for (int i = j->outer - 1; i >= 0; i--) {
            int64_t idx = rest % p->bshape[i];
            rest /= p->bshape[i];
            oa += idx * p->a.bstrides[i];
            ob += idx * p->b.bstrides[i];
            oc += idx * j->out_bstrides[i];
        }
        int64_t es = (int64_t)j->es;
        dc_status st = dc__gemm(j->dtype, p->a.trans, p->b.trans, j->rows, p->n, p->k, 1.0,
                                j->ad + oa * es, p->a.ld, j->bd + ob * es, p->b.ld, 0.0,
                                j->cd + oc * es, p->n);
        if (st != DC_OK) return st;
    }
    return DC_OK;
}

static void batch_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    mm_batch *j = ctx;
    int64_t lo, hi;
    dc__chunk_range(j->count, j->nchunks, chunk, &lo, &hi);
    dc_status st = batch_range(j, lo, hi);
    int ok = DC_OK;
    if (st != DC_OK) atomic_compare_exchange_strong(&j->status, &ok, (int)st);
}

/* A batch of GEMMs each below this many FLOPs (too small for GEMM to
 * split it over threads) is split over the pool by GEMMs instead, once
 * the batch as a whole has PAR_BATCH_FLOPS: attention's per-head
 * products (a GPT's 64 x 64 x 32, 128 of them) otherwise ran on one
 * thread while the other waited. */
#define SMALL_GEMM_FLOPS 3e6
#define PAR_BATCH_FLOPS 1e6

/* out (contiguous) = a @ b for every batch index, per the plan. The
 * GEMMs write separate matrices, so any split gives the same bits. */
static dc_status run_gemms(mm_plan *p, dc_tensor *out) {
    mm_batch j = {.p = p, .es = dc_dtype_size(out->dtype), .dtype = out->dtype,
                  .ad = dc__tensor_data(p->a.t), .bd = dc__tensor_data(p->b.t),
                  .cd = dc__tensor_data(out), .nchunks = 1};
    j.outer = fold_batch(p, &j.rows);
    int64_t step = p->m * p->n;
    for (int i = p->nbatch - 1; i >= 0; i--) {
        j.out_bstrides[i] = step;
        step *= p->bshape[i];
    }
    j.count = 1;
    for (int i = 0; i < j.outer; i++) j.count *= p->bshape[i];
    double flops = 2.0 * (double)j.rows * (double)p->n * (double)p->k;
    int threads = dc__pool_threads();
    if (threads > 1 && j.count > 1 && flops < SMALL_GEMM_FLOPS &&
        flops * (double)j.count >= PAR_BATCH_FLOPS) {
        j.nchunks = dc__chunk_count(j.count, j.count, 1);
        atomic_init(&j.status, DC_OK);
        dc__parallel_for(batch_chunk, &j, j.nchunks, threads);
        if (atomic_load(&j.status) == DC_OK) return DC_OK;
        /* a worker's error is recorded on its own thread: run again here,
         * where the failure (if it recurs) is recorded for the caller */
    }
    return batch_range(&j, 0, j.count);
}

/* Fills out; nothing to do when it is empty or K is 0 (out is zeroed). */
static dc_status compute(mm_plan *p, dc_tensor *out) {
    if (out->numel == 0 || p->k == 0) return DC_OK;
    dc_tensor *copy_a = NULL, *copy_b = NULL;
    dc_status st = DC_OK;
    if (!prepare_side(&p->a, true, p, &copy_a) || !prepare_side(&p->b, false, p, &copy_b))
        st = dc_last_status();
    else
        st = run_gemms(p, out);
    dc_release(copy_a);
    dc_release(copy_b);
    return st;
}

/* a: (..., M, K), b: (..., K, N) -> (..., M, N), batch axes broadcast;
 * a 1-D a is (1, K), a 1-D b is (K, 1), the added axis removed. */
dc_tensor *dc_matmul(dc_tensor *a, dc_tensor *b) {
    DC_CHECK_TENSOR_OR_NULL(a, FNAME, "a");
    DC_CHECK_TENSOR_OR_NULL(b, FNAME, "b");
    if (!dc__require_float(a, FNAME) || !dc__require_float(b, FNAME) ||
        !dc__require_same_dtype(a, b, FNAME))
        return NULL;
    mm_plan p;
    if (!plan_shapes(a, b, &p)) return NULL;
    dc_tensor *out = dc__tensor_new(a->dtype, p.out_ndim, p.out_shape, p.k == 0);
    if (!out) return NULL;
    if (compute(&p, out) != DC_OK) {
        dc_release(out);
        return NULL;
    }
    dc_tensor *inputs[2] = {a, b};
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_MATMUL, inputs, 2, &node);
    return dc__publish(out);
}

/* True when t's matrices are stored column-major (a transposed view,
 * like the weight of a Linear as x @ w^T uses it). Its gradient is then
 * made in the same layout, (g^T a)^T rather than a^T g, so that the
 * permute backward hands the weight a contiguous gradient to keep or add
 * in order, not a transposed one to add with a stride. */
static bool transposed(const dc_tensor *t) {
    if (t->ndim < 2) return false;
    int64_t r = t->shape[t->ndim - 2], c = t->shape[t->ndim - 1];
    return r > 1 && c > 1 && t->strides[t->ndim - 2] == 1 && t->strides[t->ndim - 1] == r;
}

/* gout: (..., M, N) -> ga = gout @ b^T summed to a's (..., M, K),
 * gb = a^T @ gout summed to b's (..., K, N). 1-D operands get their
 * promoted axis back (and gout the matching one) for the products, and
 * lose it again after. The transposes are views: GEMM reads them with
 * its transpose flag. */
dc_status dc__matmul_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *a = node->inputs[0], *b = node->inputs[1];
    bool a_vec = a->ndim == 1, b_vec = b->ndim == 1;
    dc_tensor *a2 = a_vec ? dc_unsqueeze(a, 0) : a;
    dc_tensor *b2 = b_vec ? dc_unsqueeze(b, 1) : b;
    dc_tensor *g = gout;
    if (a_vec && g) g = dc_unsqueeze(g, g->ndim - (b_vec ? 0 : 1));
    if (b_vec && g) g = dc_unsqueeze(g, g->ndim);
    if (!a2 || !b2 || !g) return dc_last_status();
    dc_status st = DC_OK;
    if (a->requires_grad) {
        dc_tensor *ga = transposed(a2) ? dc_transpose(dc_matmul(b2, dc_transpose(g, -1, -2)), -1, -2)
                                       : dc_matmul(g, dc_transpose(b2, -1, -2));
        ga = dc__sum_to_shape(ga, a2->ndim, a2->shape);
        if (a_vec) ga = dc_squeeze(ga, 0);
        st = dc__set_grad(gin, 0, ga);
    }
    if (st == DC_OK && b->requires_grad) {
        dc_tensor *gb;
        if (b2->ndim == 2 && a2->ndim > 2 && g->ndim == a2->ndim) {
            /* a 2-D b (a weight) shared by every batch index: the sum over
             * the batch of a_i^T g_i is one product of the stacked rows,
             * (K, B M) @ (B M, N), instead of B products and a reduction */
            int64_t k = a2->shape[a2->ndim - 1], n = g->shape[g->ndim - 1];
            dc_tensor *af = dc_reshape(a2, 2, (const int64_t[]){-1, k});
            dc_tensor *gf = dc_reshape(g, 2, (const int64_t[]){-1, n});
            gb = transposed(b2) ? dc_transpose(dc_matmul(dc_transpose(gf, 0, 1), af), 0, 1)
                                : dc_matmul(dc_transpose(af, 0, 1), gf);
        } else {
            gb = transposed(b2) ? dc_transpose(dc_matmul(dc_transpose(g, -1, -2), a2), -1, -2)
                                : dc_matmul(dc_transpose(a2, -1, -2), g);
        }
        gb = dc__sum_to_shape(gb, b2->ndim, b2->shape);
        if (b_vec) gb = dc_squeeze(gb, 1);
        st = dc__set_grad(gin, 1, gb);
    }
    return st;
}

/* ---------------------------------------------------------------- */
/* linear: x @ w^T + b in one op                                     */
/* ---------------------------------------------------------------- */

/* acc[j] += row[j] for j < n: one row of a bias gradient's column sums
 * (compiled for AVX-512 and AVX2 too: a GPT's rows are long). */
static DC_VEC_CLONES void add_row_f32(double *acc, const float *row, int64_t n) {
    for (int64_t j = 0; j < n; j++) acc[j] += row[j];
}

/* Column sums of a bias gradient in double, by blocks of at least
 * COLSUM_ROWS rows (memory in order within each; at most COLSUM_BLOCKS
 * blocks, so that their partial sums stay small), the blocks on the
 * library's threads and their sums added in block order: the blocks
 * depend on the rows alone, so the bits are the same on any number of
 * threads. On the caller alone they took ~2 ms of the GPT's step (perf:
 * 2048 rows of 128 to 512 columns, five linears a layer). */
#define COLSUM_ROWS 256
#define COLSUM_BLOCKS 64
#define PAR_COLSUM_ELEMS ((int64_t)1 << 16)   /* fewer: on the caller (~10 us) */

typedef struct colsum_job {
    const void *g;     /* rows x n, f32 or f64 */
    dc_dtype dt;
    int64_t rows, n, block_rows;
    double *part;      /* blocks x n */
} colsum_job;

static void colsum_block(void *ctx, int64_t block, int slot) {
    (void)slot;
    const colsum_job *c = ctx;
    double *acc = c->part + block * c->n;
    int64_t lo = block * c->block_rows;
    int64_t hi = lo + c->block_rows < c->rows ? lo + c->block_rows : c->rows;
    for (int64_t r = lo; r < hi; r++) {
        if (c->dt == DC_F32) {
            add_row_f32(acc, (const float *)c->g + r * c->n, c->n);
        } else {
            const double *gr = (const double *)c->g + r * c->n;
            for (int64_t j = 0; j < c->n; j++) acc[j] += gr[j];
        }
    }
}

static dc_status column_sums(dc_tensor *gb, const dc_tensor *g, int64_t rows, int64_t n) {
    if (n == 0) return DC_OK;
    int64_t block_rows = (rows + COLSUM_BLOCKS - 1) / COLSUM_BLOCKS;
    if (block_rows < COLSUM_ROWS) block_rows = COLSUM_ROWS;
    int64_t blocks = rows > 0 ? (rows + block_rows - 1) / block_rows : 1;
    colsum_job c = {dc__tensor_data(g), g->dtype, rows, n, block_rows, NULL};
    c.part = dc__calloc((size_t)(blocks * n), sizeof *c.part);
    if (!c.part) return dc_last_status();
    if (blocks > 1 && rows * n >= PAR_COLSUM_ELEMS)
        dc__parallel_for(colsum_block, &c, blocks, (int)blocks);
    else
        for (int64_t b = 0; b < blocks; b++) colsum_block(&c, b, 0);
    for (int64_t b = 1; b < blocks; b++)
        for (int64_t j = 0; j < n; j++) c.part[j] += c.part[b * n + j];
    for (int64_t j = 0; j < n; j++) dc__store(dc__tensor_data(gb), g->dtype, j, c.part[j]);
    dc__free(c.part);
    return DC_OK;
}

/* Outputs of at least PAR_FILL_BYTES are filled with the bias on the
 * library's threads, in one band of rows per thread: the GEMM that adds
 * x w^T to them splits their rows in the same bands (two threads: the
 * first half to the caller), so each thread's rows are still in its
 * cache. On one thread the fill was the GPT's largest serial part in
 * bench/train: 36 MB a step, ~6 ms of the caller alone (perf). */
#define PAR_FILL_BYTES ((size_t)256 << 10)

typedef struct fill_job {
    char *o;
    const char *b;
    size_t bytes;      /* of a row */
} fill_job;

static void fill_rows(void *ctx, int64_t lo, int64_t hi) {
    const fill_job *f = ctx;
    char *o = f->o + (size_t)lo * f->bytes;
    for (int64_t r = lo; r < hi; r++, o += f->bytes) memcpy(o, f->b, f->bytes);
}

/* out (rows, n) = b broadcast over the rows. */
static void fill_bias(dc_tensor *out, const dc_tensor *b, int64_t rows, int64_t n) {
    size_t bytes = (size_t)n * dc_dtype_size(out->dtype);
    fill_job f = {dc__tensor_data(out), dc__tensor_data(b), bytes};
    /* one part per thread (work = parts, a part each), or one */
    int64_t parts = (size_t)rows * bytes >= PAR_FILL_BYTES ? dc__pool_threads() : 1;
    dc__parallel_range(fill_rows, &f, rows, parts, 1);
}

/* x: (..., K), w: (N, K), b: (N) or NULL -> (..., N). */
dc_tensor *dc__linear(dc_tensor *x, dc_tensor *w, dc_tensor *b) {
    /* in op chains a failed op upstream hands NULL on: keep its error */
    DC_CHECK_TENSOR_OR_NULL(x, "linear", "x");
    DC_CHECK_TENSOR_OR_NULL(w, "linear", "w");
    if (b && !dc__is_tensor(b)) {
        dc__fail(DC_E_INVALID, "linear: 'b' is not a live tensor");
        return NULL;
    }
    /* callers (Linear, the RNN cells, attention) check shapes with their
     * own messages first; these guard the GEMM below all the same */
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))) {
        dc__fail(DC_E_SHAPE, "linear: x (..., K), w (N, K) and b (N) do not match");
        return NULL;
    }
    if (!dc__dtype_is_float(x->dtype) || w->dtype != x->dtype || (b && b->dtype != x->dtype)) {
        dc__fail(DC_E_DTYPE, "linear: x, w and b must share one floating dtype");
        return NULL;
    }
    int64_t k = w->shape[1], n = w->shape[0];
    int64_t rows = 1;   /* the product of x's leading axes (K may be 0) */
    for (int d = 0; d + 1 < x->ndim; d++) rows *= x->shape[d];
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = n;
    dc_tensor *out = dc__tensor_new(x->dtype, x->ndim, shape, false);
    dc_tensor *xc = out ? dc__contiguous_ref(x) : NULL;
    dc_tensor *wc = xc ? dc__contiguous_ref(w) : NULL;
    dc_tensor *bc = wc ? dc__contiguous_ref(b) : NULL;
    dc_status st = !out || !xc || !wc || (b && !bc) ? dc__failure_status() : DC_OK;
    if (st == DC_OK && out->numel > 0) {
        /* with a bias the GEMM adds x w^T to it; without, it writes out
         * (k 0 included: C = 0 C) */
        if (bc) fill_bias(out, bc, rows, n);
        if (k > 0 || !bc)
            st = dc__gemm(x->dtype, false, true, rows, n, k, 1.0, dc__tensor_data(xc), k,
                          dc__tensor_data(wc), k, bc ? 1.0 : 0.0, dc__tensor_data(out), n);
    }
    dc_release(xc);
    dc_release(wc);
    dc_release(bc);
    if (st != DC_OK) {
        dc_release(out);
        return NULL;
    }
    dc_tensor *inputs[3] = {x, w, b};
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_LINEAR, inputs, b ? 3 : 2, &node);
    return dc__publish(out);
}

/* gout: (..., N) -> gx = gout @ w: x's (..., K); gw = gout^T @ x: (N, K)
 * (w's own layout, so a contiguous weight gets a contiguous gradient);
 * gb: the column sums of gout, (N). Each only when its input needs it. */
dc_status dc__linear_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0], *w = node->inputs[1];
    dc_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
    dc_dtype dt = gout->dtype;
    int64_t k = w->shape[1], n = w->shape[0];
    int64_t rows = 1;
    for (int d = 0; d + 1 < x->ndim; d++) rows *= x->shape[d];
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *gx = x->requires_grad ? dc__tensor_new(dt, x->ndim, x->shape, k == 0 || n == 0)
                                     : NULL;
    dc_tensor *gw = w->requires_grad ? dc__tensor_new(dt, 2, w->shape, rows == 0) : NULL;
    dc_tensor *gb = b && b->requires_grad ? dc__tensor_new(dt, 1, b->shape, false) : NULL;
    dc_tensor *wc = gx ? dc__contiguous_ref(w) : NULL;
    dc_tensor *xc = gw ? dc__contiguous_ref(x) : NULL;
    dc_status st = DC_OK;
    if (!gc || (x->requires_grad && (!gx || !wc)) || (w->requires_grad && (!gw || !xc)) ||
        (b && b->requires_grad && !gb))
        st = dc__failure_status();
    if (st == DC_OK && gx && rows > 0 && k > 0 && n > 0)
        st = dc__gemm(dt, false, false, rows, k, n, 1.0, dc__tensor_data(gc), n,
                      dc__tensor_data(wc), k, 0.0, dc__tensor_data(gx), k);
    if (st == DC_OK && gw && rows > 0 && k > 0)
        st = dc__gemm(dt, true, false, n, k, rows, 1.0, dc__tensor_data(gc), n,
                      dc__tensor_data(xc), k, 0.0, dc__tensor_data(gw), k);
    if (st == DC_OK && gb) st = column_sums(gb, gc, rows, n);
    dc_release(gc);
    dc_release(wc);
    dc_release(xc);
    if (st != DC_OK) {
        dc_release(gx);
        dc_release(gw);
        dc_release(gb);
        return st;
    }
    gin[0] = gx;
    gin[1] = gw;
    if (b) gin[2] = gb;
    else dc_release(gb);
    return DC_OK;
}
