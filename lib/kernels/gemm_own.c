/* Our SGEMM driver: chooses the micro-kernel for the CPU, lays the
 * problem out for it, packs panels of A and B blocked for the caches, and
 * splits the work across the library's thread pool.
 *
 * Loop nest (one thread's share of C):
 *   for each NC-wide block of columns        (B block KC x NC: in L2)
 *     for each KC-deep slice of k             (pack the B block)
 *       for each MC-tall block of rows        (pack the A block)
 *         for each MR-row A micro-panel       (MR x KC: stays in L1)
 *           for each NR-column B micro-panel  micro-kernel: MR x NR of C
 *
 * All matrices are read through general strides, so transposed operands
 * cost nothing but their packing; the problem may also be solved
 * transposed (C^T = op(B)^T op(A)^T) when that fits the register tile
 * better, e.g. when N is small and M large. */
#include "gemm_own.h"

#include "../core/threads.h"

#include <sched.h>
#include <string.h>

/* Below this many FLOPs a GEMM stays on the calling thread, and each
 * further thread needs as many again: waking a worker costs a few
 * microseconds. */
#define PAR_FLOPS_PER_THREAD 1.5e6

/* ---------------------------------------------------------------- */
/* Kernel choice                                                     */
/* ---------------------------------------------------------------- */

static atomic_int g_cpu_isa = -1;   /* detected once */
static atomic_int g_forced = -1;    /* dc__gemm_force_isa, -1: none */

static dc_gemm_isa detect_isa(void) {
#if DC_GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return DC_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DC_ISA_AVX2;
#endif
    return DC_ISA_GENERIC;
}

dc_gemm_isa dc__gemm_cpu_isa(void) {
    int isa = atomic_load(&g_cpu_isa);
    if (isa < 0) {
        isa = (int)detect_isa();
        atomic_store(&g_cpu_isa, isa);
    }
    return (dc_gemm_isa)isa;
}

dc_gemm_isa dc__gemm_isa(void) {
    int forced = atomic_load(&g_forced);
    return forced >= 0 ? (dc_gemm_isa)forced : dc__gemm_cpu_isa();
}

dc_status dc__gemm_force_isa(int isa) {
    if (isa < -1 || isa > DC_ISA_AVX512)
        return dc__fail(DC_E_INVALID, "dc__gemm_force_isa: unknown ISA %d", isa);
    if (isa > (int)dc__gemm_cpu_isa())
        return dc__fail(DC_E_UNSUPPORTED, "dc__gemm_force_isa: this CPU cannot run %s",
                        dc__gemm_isa_name((dc_gemm_isa)isa));
    atomic_store(&g_forced, isa);
    return DC_OK;
}

const char *dc__gemm_isa_name(dc_gemm_isa isa) {
    switch (isa) {
    case DC_ISA_GENERIC: return "generic";
    case DC_ISA_AVX2: return "avx2";
    case DC_ISA_AVX512: return "avx512";
    }
    return "?";
}

static const dc__sgemm_kernel *kernel_for(dc_gemm_isa isa) {
#if DC_GEMM_X86
    if (isa == DC_ISA_AVX512) return &dc__sgemm_kernel_avx512;
    if (isa == DC_ISA_AVX2) return &dc__sgemm_kernel_avx2;
#else
    (void)isa;
#endif
    return &dc__sgemm_kernel_generic;
}

const char *dc__gemm_kernel_name(void) { return kernel_for(dc__gemm_isa())->name; }

/* ---------------------------------------------------------------- */
/* Packing                                                           */
/* ---------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* A matrix read through strides: element (i, j) at p[i * rs + j * cs]. */
typedef struct smat {
    const float *p;
    int64_t rs, cs;
} smat;

static const float *smat_at(const smat *x, int64_t i, int64_t j) {
    return x->p + i * x->rs + j * x->cs;
}

/* x^T: the same elements, rows and columns swapped. */
static smat smat_t(const smat *x) { return (smat){x->p, x->cs, x->rs}; }

/* Rows [0, rows) x k-steps [0, kc) of a matrix (row stride rs, k stride
 * cs) into one panel of width w (dst[p * w + r]), zero for rows
 * rows..w-1. The panel of A (rows are rows of op(A)) and of B (rows are
 * columns of op(B), read transposed) are both this. */
static void pack_panel(const dc__sgemm_kernel *kn, const float *src, int64_t rs, int64_t cs,
                       int rows, int64_t kc, int w, float *dst) {
    if (rs == 1 && kn->pack_copy) {   /* the values of one step are adjacent */
        kn->pack_copy(src, cs, rows, kc, w, dst);
        return;
    }
    if (cs == 1 && rs != 1 && kn->pack_kcontig) {   /* rows contiguous along k */
        kn->pack_kcontig(src, rs, rows, kc, w, dst);
        return;
    }
    /* dst is NULL only when the plan (dc__sgemm_own) found every block
     * readable in place, and then nothing is packed: a share's blocks are
     * no larger than the plan's, so they are readable in place too.
     * NOLINTBEGIN(clang-analyzer-core.NullDereference) */
    for (int64_t p = 0; p < kc; p++) {
        for (int r = 0; r < rows; r++) dst[p * w + r] = src[r * rs + p * cs];
        for (int r = rows; r < w; r++) dst[p * w + r] = 0.0f;
    }
    /* NOLINTEND(clang-analyzer-core.NullDereference) */
}

/* Width of a packed panel holding count rows of A (a_side) or columns of
 * B out of a full panel of full: kernels that read in place take a
 * partial A panel at its own width and a partial B panel padded to whole
 * vectors; the portable kernel takes full widths. */
static int panel_width(const dc__sgemm_kernel *kn, int count, int full, bool a_side) {
    if (count == full || !kn->reads_in_place) return full;
    return a_side ? count : (count + kn->vw - 1) / kn->vw * kn->vw;
}

/* Rows of the register tile starting at row ir of an mc-row block
 * (partial A panels, so merged last tiles, where the kernel reads in
 * place). */
static int tile_rows(const dc__sgemm_kernel *kn, int64_t mc, int64_t ir) {
    return dc__sgemm_tile_rows(kn->mr, kn->reads_in_place, mc, ir);
}

/* Steps of k that pack_a_rows and pack_b copy across all their panels
 * before the next steps, when a step's values lie in one run of memory
 * (op(A)'s rows adjacent, op(B)'s columns): each step is then read as one
 * run of the block's width, which the prefetchers follow from L3 or
 * memory. Panel by panel, a step was read as many short runs a panel
 * apart, each a miss: with B evicted from cache, 128 x 512 x 2048 TN
 * took 1.3-1.5 ms on two threads packing B by panels, 1.09-1.12 in groups
 * of 16 steps (1, 4, 32, 64 and all 384: 1.27, 1.13, 1.14, 1.11, 1.27);
 * from cache 0.86-0.89 by panels, 0.82-0.83 in groups. */
#define PACK_GROUP_KC 16

/* rows x kc of op(A) (from a's top-left) as consecutive blocks of up to
 * mc rows, each in panels of tile_rows rows: the panel of rows from i
 * (within the block from ic) starts at dst + (ic + i) * kc. */
static void pack_a_rows(const dc__sgemm_kernel *kn, const smat *a, int64_t rows, int64_t mc,
                        int64_t kc, float *dst) {
    int64_t group = a->rs == 1 ? PACK_GROUP_KC : kc;
    for (int64_t p = 0; p < kc; p += group) {
        int64_t steps = min64(group, kc - p);
        for (int64_t ic = 0; ic < rows; ic += mc) {
            int64_t block = min64(mc, rows - ic);
            for (int64_t i = 0, tile = 0; i < block; i += tile) {
                tile = tile_rows(kn, block, i);
                int w = panel_width(kn, (int)tile, kn->mr, true);
                pack_panel(kn, smat_at(a, ic + i, p), a->rs, a->cs, (int)tile, steps, w,
                           dst + (ic + i) * kc + p * w);
            }
        }
    }
}

/* A kc x nc block of op(B) into NR-column panels (op(B)^T's rows);
 * panel j starts at dst + j * NR * kc. */
static void pack_b(const dc__sgemm_kernel *kn, const smat *b, int64_t kc, int64_t nc,
                   float *dst) {
    int nr = kn->nr;
    int64_t group = b->cs == 1 ? PACK_GROUP_KC : kc;
    for (int64_t p = 0; p < kc; p += group) {
        int64_t steps = min64(group, kc - p);
        float *panel = dst;
        for (int64_t j = 0; j < nc; j += nr, panel += nr * kc) {
            int cols = (int)(nc - j < nr ? nc - j : nr);
            int w = panel_width(kn, cols, nr, false);
            pack_panel(kn, smat_at(b, p, j), b->cs, b->rs, cols, steps, w, panel + p * w);
        }
    }
}

/* ---------------------------------------------------------------- */
/* The blocked product                                               */
/* ---------------------------------------------------------------- */

typedef struct sgemm_job {
    const dc__sgemm_kernel *kern;
    int64_t m, n, k;
    smat a, b;                  /* op(A): m x k, op(B): k x n */
    float *c;
    int64_t rs_c, cs_c;
    float alpha, beta;
    bool split_m;               /* chunks are bands of rows (else columns) */
    int nchunks;
    float *buf;                 /* per thread: A block then B block */
    int64_t buf_a, buf_b;       /* floats of each, multiples of 16 */
    bool keep_a;                /* buf_a holds all of a share's packed rows (keep_a_blocks) */
    bool a_cold, b_cold;        /* op(A), op(B) larger than COLD_BYTES */
} sgemm_job;

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* A panel meeting at most this many panels of the other operand is read
 * in place when the kernel can: packing it would cost about as much as
 * the reads it saves. A shallow panel (at most SHALLOW_KC steps of k) is
 * read in place however often it is met, since it stays in L1 anyway,
 * unless its rows are a multiple of 4 KiB apart (they would then share
 * L1 sets and evict each other). SHALLOW_KC is the AVX-512 kernel's
 * depth of a block: a 12-row A panel of 384 steps is 18 KiB, as much L1
 * as its packed copy, and reading it in place measured as fast or faster
 * (16 x 100 x 150 NN 10% faster, squares 256-1024 unchanged). */
#define IN_PLACE_MAX_USES 2
#define SHALLOW_KC 384

static bool cache_friendly(int64_t stride, int64_t kc) {
    return kc <= SHALLOW_KC && (stride * (int64_t)sizeof(float)) % 4096 != 0;
}

/* Read in place across its steps of k (op(A)'s rows adjacent, op(B)'s
 * columns contiguous), a block is a short run of every step, a whole
 * row of the matrix apart: fine from L1 or L2, but from L3 or memory
 * each run is a miss that the prefetchers do not see coming. An operand
 * larger than COLD_BYTES is unlikely to be in cache when it is read: in
 * a training step a weight gradient dY^T X (k the batch) reads X written
 * in the forward pass, and dY written by both threads. Such an operand
 * is packed, its steps read whole (pack_a_rows, pack_b), unless only a
 * few panels of the other operand meet it. 128 x 512 x 2048 TN with B
 * evicted from cache: 1.48-1.50 ms on two threads in place, 1.10-1.15
 * packed (0.83-0.87 either way from cache), and 1.43-1.53 in place in the
 * GPT's step (bench/train); 512 x 128 x 2048 TN with A evicted: 1.40-1.57
 * in place, 1.08-1.13 packed. */
#define COLD_BYTES ((int64_t)1 << 20)
static bool maybe_cold(int64_t rows, int64_t cols) {
    return rows * cols * (int64_t)sizeof(float) > COLD_BYTES;
}

/* op(A)'s block (mc x kc, used by nc columns; cold: the whole op(A)
 * maybe_cold) can be read in place: rows adjacent or contiguous along k,
 * and packing would not pay. */
static bool a_in_place(const dc__sgemm_kernel *kn, const smat *a, int64_t kc, int64_t nc,
                       bool cold) {
    if (!kn->reads_in_place || (a->rs != 1 && a->cs != 1)) return false;
    if (nc <= IN_PLACE_MAX_USES * kn->nr) return true;
    if (a->rs == 1 && cold && kc > DC_SGEMM_SHORT_KC) return false;
    return cache_friendly(a->rs == 1 ? a->cs : a->rs, kc);
}

/* op(B)'s block (kc x nc, used by rows rows) can be read in place: columns
 * contiguous, and packing would not pay. Read by many rows, its rows must
 * also start on cache lines: the kernel loads them in whole vectors, and
 * a vector split across two lines costs two loads every time. For a few
 * rows the loads have slack under the FMAs, and packing costs more
 * (measured on 64 x 64 products with B off cache lines). With short k
 * the loads have slack however many rows read them: the tiles' stores of
 * C take the time (200 x 300 x 3 NN, B's rows off cache lines: 6.0 us
 * packed, 4.9 in place; AVX2 unchanged on nine short-k shapes). */
#define SPLIT_LOADS_MAX_ROWS 128
static bool b_in_place(const dc__sgemm_kernel *kn, const smat *b, int64_t kc, int64_t rows,
                       bool cold) {
    if (!kn->reads_in_place || b->cs != 1) return false;
    if (rows <= IN_PLACE_MAX_USES * kn->mr || kc <= DC_SGEMM_SHORT_KC) return true;
    if (cold) return false;   /* across its steps of k: see COLD_BYTES */
    bool lines = (uintptr_t)b->p % 64 == 0 && (b->rs * (int64_t)sizeof(float)) % 64 == 0;
    return (lines || rows <= SPLIT_LOADS_MAX_ROWS) && cache_friendly(b->rs, kc);
}

/* Steps of k up to which a row of tiles goes to the kernel's strip in
 * one call: with so few steps a call's setup costs as much as a tile's
 * FMAs (25 x 784 x 6 TN: 15% faster). With more, the tile-by-tile calls
 * measured faster (150 x 100 x 16 TN, 64 x 64 x 32 NN: 5-10%). */
#define STRIP_MAX_KC 12

/* C[m0:m1, n0:n1] of the job, with this thread's buffers. */
static void run_block(const sgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                      float *abuf, float *bbuf) {
    const dc__sgemm_kernel *kn = j->kern;
    int mr = kn->mr, nr = kn->nr;
    dc__sgemm_panels x;
    /* Slices of k outermost: with keep_a, all the A blocks of a slice are
     * packed at its start and kept for its blocks of columns. C's
     * elements get the slices in the same order either way. */
    for (int64_t pc = 0; pc < j->k; pc += kn->kc) {
        int64_t kc = min64(kn->kc, j->k - pc);
        smat ashare = {smat_at(&j->a, m0, pc), j->a.rs, j->a.cs};
        /* as the first block of columns decides below (later ones, if
         * narrower, may read in place what was packed) */
        if (j->keep_a && !a_in_place(kn, &ashare, kc, min64(kn->nc, n1 - n0), j->a_cold))
            pack_a_rows(kn, &ashare, m1 - m0, kn->mc, kc, abuf);
        for (int64_t jc = n0; jc < n1; jc += kn->nc) {
            int64_t nc = min64(kn->nc, n1 - jc);
            int64_t ragged = nc % nr;   /* columns of the last, partial B panel */
            smat bblk = {smat_at(&j->b, pc, jc), j->b.rs, j->b.cs};
            bool b_direct = b_in_place(kn, &bblk, kc, m1 - m0, j->b_cold);
            if (!b_direct)
                pack_b(kn, &bblk, kc, nc, bbuf);
            else if (ragged && !kn->reads_ragged_b)   /* the kernel reads full panels only */
                pack_b(kn, &(smat){smat_at(&bblk, 0, nc - ragged), bblk.rs, bblk.cs}, kc,
                       ragged, bbuf);
            float beta = pc == 0 ? j->beta : 1.0f;   /* later slices accumulate */
            for (int64_t ic = m0; ic < m1; ic += kn->mc) {
                int64_t mc = min64(kn->mc, m1 - ic);
                smat ablk = {smat_at(&j->a, ic, pc), j->a.rs, j->a.cs};
                bool a_direct = a_in_place(kn, &ablk, kc, nc, j->a_cold);
                float *apack = j->keep_a ? abuf + (ic - m0) * kc : abuf;
                if (!a_direct && !j->keep_a) pack_a_rows(kn, &ablk, mc, mc, kc, apack);
                for (int64_t ir = 0, rows = 0; ir < mc; ir += rows) {
                    rows = tile_rows(kn, mc, ir);
                    x.a = a_direct ? smat_at(&ablk, ir, 0) : apack + ir * kc;
                    x.a_rs = a_direct ? ablk.rs : 1;
                    x.a_cs = a_direct ? ablk.cs : panel_width(kn, (int)rows, mr, true);
                    float *crow = j->c + (ic + ir) * j->rs_c;
                    if (kn->strip && kc <= STRIP_MAX_KC && (!b_direct || kn->reads_ragged_b)) {
                        x.b = b_direct ? bblk.p : bbuf;
                        x.b_rs = b_direct ? bblk.rs : nr;
                        x.b_next = b_direct ? nr : nr * kc;
                        x.b_rs_last = b_direct ? bblk.rs
                                               : panel_width(kn, (int)ragged, nr, false);
                        kn->strip(kc, &x, j->alpha, beta, crow + jc * j->cs_c, j->rs_c,
                                  j->cs_c, (int)rows, nc);
                        continue;
                    }
                    for (int64_t jr = 0; jr < nc; jr += nr) {
                        int cols = (int)min64(nr, nc - jr);
                        if (b_direct && (cols == nr || kn->reads_ragged_b)) {
                            x.b = smat_at(&bblk, 0, jr);
                            x.b_rs = bblk.rs;
                        } else {   /* packed; a direct block's ragged panel alone */
                            x.b = b_direct ? bbuf : bbuf + jr * kc;
                            x.b_rs = panel_width(kn, cols, nr, false);
                        }
                        kn->ukernel(kc, &x, j->alpha, beta, crow + (jc + jr) * j->cs_c,
                                    j->rs_c, j->cs_c, (int)rows, cols);
                    }
                }
            }
        }
    }
}

/* Whether the job is one block that the kernel reads in place as it
 * stands, and the kernel has a block function for it: no packing, one
 * slice of k, B's columns within a block's (with short k, B no bigger
 * than a block: k x columns at most KC x NC) and A no bigger than a block
 * (rows x k at most MC x KC: with short k, many more rows than MC).
 * run_in_place then skips the planning and run_block. */
static bool one_block_in_place(const sgemm_job *j) {
    const dc__sgemm_kernel *kn = j->kern;
    bool b_fits =
        j->n <= kn->nc || (j->k <= DC_SGEMM_SHORT_KC && j->k * j->n <= kn->kc * kn->nc);
    return kn->block && j->k <= kn->kc && b_fits && j->m * j->k <= kn->mc * kn->kc &&
           a_in_place(kn, &j->a, j->k, j->n, j->a_cold) &&
           b_in_place(kn, &j->b, j->k, j->m, j->b_cold) &&
           (j->n % kn->nr == 0 || kn->reads_ragged_b);
}

/* Rows [m0, m1) of a one_block_in_place job in one call of the kernel's
 * block function: on 64 x 64 products the driver's share of the time
 * went from ~4% to under 2%. */
static void run_in_place(const sgemm_job *j, int64_t m0, int64_t m1) {
    const dc__sgemm_kernel *kn = j->kern;
    dc__sgemm_panels x = {.a = smat_at(&j->a, m0, 0), .a_rs = j->a.rs, .a_cs = j->a.cs,
                          .b = j->b.p, .b_rs = j->b.rs};
    kn->block(m1 - m0, j->n, j->k, &x, j->alpha, j->beta, j->c + m0 * j->rs_c, j->rs_c,
              j->cs_c);
}

/* [*lo, *hi) of size units of unit, split evenly into n shares: share t. */
static void share_of(int64_t size, int64_t unit, int t, int n, int64_t *lo, int64_t *hi) {
    int64_t units = (size + unit - 1) / unit;
    *lo = min64(size, units * t / n * unit);
    *hi = min64(size, units * (t + 1) / n * unit);
}

/* Chunk c of a one_block_in_place job split by rows: its band of rows
 * in one call of the block function. */
static void run_in_place_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const sgemm_job *j = ctx;
    int64_t lo, hi;
    share_of(j->m, j->kern->mr, (int)chunk, j->nchunks, &lo, &hi);
    if (lo < hi) run_in_place(j, lo, hi);
}

/* Chunk c of nchunks: a band of rows or columns of C, on the buffers of
 * the thread's slot. */
static void run_chunk(void *ctx, int64_t chunk, int slot) {
    const sgemm_job *j = ctx;
    float *abuf = j->buf ? j->buf + (int64_t)slot * (j->buf_a + j->buf_b) : NULL;
    float *bbuf = abuf ? abuf + j->buf_a : NULL;
    int64_t lo, hi;
    if (j->split_m) {
        share_of(j->m, j->kern->mr, (int)chunk, j->nchunks, &lo, &hi);
        if (lo < hi) run_block(j, lo, hi, 0, j->n, abuf, bbuf);
    } else {
        share_of(j->n, j->kern->nr, (int)chunk, j->nchunks, &lo, &hi);
        if (lo < hi) run_block(j, 0, j->m, lo, hi, abuf, bbuf);
    }
}

/* ---------------------------------------------------------------- */
/* Planning                                                          */
/* ---------------------------------------------------------------- */

/* Cycles per step of k of one register tile with rows rows and nv
 * vectors of columns: FMA throughput (2 per cycle), FMA latency (4
 * cycles per chain) or loads and broadcasts (measured: about 1.3 per
 * cycle), whichever binds. */
static double tile_cost(int rows, int nv) {
    double fma = rows * nv / 2.0, loads = (rows + nv) / 1.3, cost = 4.0;
    if (fma > cost) cost = fma;
    if (loads > cost) cost = loads;
    return cost;
}

/* Cycles per element packed: a copy, or a transpose. */
#define PACK_COPY_CYCLES 0.2
#define PACK_TRANSPOSE_CYCLES 0.5

/* Estimated cycles of C = op(A) op(B) (m x n x k) with C's rows
 * contiguous or not (then each tile goes out element by element):
 * register tiles, C traffic, and packing (A is packed once per NC block
 * of columns, B once) unless read in place. */
static double plan_cost(const dc__sgemm_kernel *kn, int64_t m, int64_t n, int64_t k,
                        const smat *a, const smat *b, bool c_rows_contiguous) {
    int vfull = kn->nr / kn->vw;
    int64_t fm = m / kn->mr, fn = n / kn->nr;
    int rm = (int)(m % kn->mr), rn = (int)(n % kn->nr);
    int vrn = (rn + kn->vw - 1) / kn->vw;
    double per_k = (double)fm * (double)fn * tile_cost(kn->mr, vfull);
    if (rn) per_k += (double)fm * tile_cost(kn->mr, vrn);
    if (rm) per_k += (double)fn * tile_cost(rm, vfull) + (rn ? tile_cost(rm, vrn) : 0.0);
    double slices = (double)((k + kn->kc - 1) / kn->kc);
    double cost = per_k * (double)k +
                  (double)m * (double)n * slices * (c_rows_contiguous ? 1.0 / kn->vw : 1.0);
    int64_t nc = min64(n, kn->nc), kc = min64(k, kn->kc);
    if (!a_in_place(kn, a, kc, nc, maybe_cold(m, k)))
        cost += (double)m * (double)k * (double)((n + kn->nc - 1) / kn->nc) *
                (a->rs == 1 ? PACK_COPY_CYCLES : PACK_TRANSPOSE_CYCLES);
    if (!b_in_place(kn, b, kc, m, maybe_cold(k, n)))
        cost += (double)k * (double)n * (b->cs == 1 ? PACK_COPY_CYCLES : PACK_TRANSPOSE_CYCLES);
    return cost;
}

/* Whether a share packs all its A blocks of a slice of k at once and
 * keeps them for all its blocks of columns, up to KEEP_A_BYTES of them (m
 * rows): when it has more than one block of columns (cols > NC; a 2048^3
 * product spent 7.5% of its time packing A, transposed, four times over),
 * or when op(A)'s rows are adjacent (a->rs == 1), so that pack_a_rows
 * reads each step of k across all the share's rows as one run (512 x 128
 * x 2048 TN with A evicted from cache: 1.15 ms block by block, 1.05 at
 * once). */
#define KEEP_A_BYTES ((int64_t)8 << 20)
static bool keep_a_blocks(const dc__sgemm_kernel *kn, const smat *a, int64_t m, int64_t cols,
                          int64_t kc) {
    return (cols > kn->nc || a->rs == 1) &&
           round_up(m, kn->mc) * kc * (int64_t)sizeof(float) <= KEEP_A_BYTES;
}

/* Threads worth using: enough FLOPs per thread, and at least one
 * register tile of the split dimension each. */
static int plan_threads(const sgemm_job *j) {
    double flops = 2.0 * (double)j->m * (double)j->n * (double)j->k;
    if (flops < 2 * PAR_FLOPS_PER_THREAD) return 1;   /* the pool's size does not matter */
    int want = dc__pool_threads();
    if (flops / PAR_FLOPS_PER_THREAD < want) want = (int)(flops / PAR_FLOPS_PER_THREAD);
    int64_t units = j->split_m ? (j->m + j->kern->mr - 1) / j->kern->mr
                               : (j->n + j->kern->nr - 1) / j->kern->nr;
    if (units < want) want = (int)units;
    return want < 1 ? 1 : want;
}

/* A product read in place that plan_threads keeps on one thread goes to
 * two when one thread would take at least HANDOFFS_WORTH times the pool's
 * hand-off h (dc__pool_handoff_ns: a run reaching a worker and coming
 * back), the time t1 estimated from its FMAs at about FLOPS_PER_NS or its
 * stores of C at about C_BYTES_PER_NS, whichever is longer. Split, it
 * takes about t1 / 2 + c * h, which pays while t1 > 2c * h. The hand-off
 * and c depend on where the VM runs its two vCPUs:
 *  - h 0.6-0.7 us (a line ~60 ns between the cores; 2026-11-29): c 0.85
 *    (64^3: 1.9 us against 2.6 on one thread), 0.9 (64 x 64 x 32), 1.1
 *    (48^3, 96 x 96 x 32); short k 0.9 (64 x 784 x 1: 2.6 against 3.9),
 *    1.0 (25 x 784 x 6 TN), 1.15 (200 x 300 x 3), 1.3 (128 x 10 x 256);
 *  - h ~0.3 us: 64^3 1.55 against 2.45, 128 x 10 x 256 3.7 against 6.2;
 *  - h ~1 us (a line ~275 ns): c 0.9 (64^3 2.0-2.2 against 2.45), but
 *    ~3 with short k (128 x 256 x 10: 4.8 against 3.3), the worker's half
 *    of C storing at half the caller's speed.
 * Hence 3 hand-offs' worth (c up to 1.5), and 6 for short k, where
 * storing C takes the time. One thread stores C at 39-51 bytes a ns
 * here (64 x 784 x 1, 25 x 784 x 6, 200 x 300 x 3): at 100 the short-k
 * products looked twice as quick as they are and never split. */
#define HANDOFFS_WORTH 3.0
#define SHORT_K_HANDOFFS_WORTH 6.0
#define FLOPS_PER_NS 200.0
#define C_BYTES_PER_NS 50.0

/* Whether the pool's first two threads share one core's FMA units. The
 * VM can place its two vCPUs on the two hardware threads of one core,
 * and the guest cannot tell (its topology shows two cores): then the
 * FMA peak of two threads is that of one (223 GFLOP/s both, measured),
 * and a small product split between them takes as long as on one plus
 * the hand-off (64^3: 0.92 of OpenBLAS, which keeps it on one; 64 x 64
 * x 32: 0.87). Measured when the pool has no verdict (at the start of
 * its workers, and DC_POOL_REMEASURE_NS after the last), by one thread
 * at a time, with a 64^3 block read in place PAIR_REPS times: on the
 * caller alone, then on both threads at once (each its own C), three
 * rounds after a warm-up. Shared when the pair's median takes at least
 * PAIR_SHARED times as long as the fastest alone (measured here: 1.85
 * sharing a core, about 1.0 on two; the fastest, because a worker
 * spinning after the last pair may share the caller's CPU for a while).
 * No verdict (splitting as before) when the worker did not run its half
 * beside the caller's. 0.35-0.45 ms here (1.2 ms when it starts the worker). */
#define PAIR_DIM 64
#define PAIR_REPS 16
#define PAIR_SHARED 1.4

/* A, B and the two C of the probe: one probe at a time
 * (dc__pool_claim_pair_probe), and no allocation, which could fail and
 * record an error in the middle of a product that succeeds. */
static float g_pair_buf[4 * PAIR_DIM * PAIR_DIM] __attribute__((aligned(64)));

typedef struct pair_probe {
    sgemm_job job;          /* C of chunk c at job.c + c * PAIR_DIM^2 */
    atomic_bool worker_ran; /* a worker took chunk 1 */
    bool side_by_side;      /* ... and had started when the caller began its own */
    int64_t start;          /* when the worker started: the caller has by then,
                             * or shares its CPU (both count) */
} pair_probe;

static void pair_products(const sgemm_job *j, int64_t which) {
    sgemm_job mine = *j;
    mine.c = j->c + which * PAIR_DIM * PAIR_DIM;
    for (int r = 0; r < PAIR_REPS; r++) run_in_place(&mine, 0, PAIR_DIM);
}

/* The caller's chunk waits for the worker's to start (a worker asleep
 * may take tens of microseconds to wake here), so that the two run side
 * by side, timed from the worker's start. It does not wait when the run
 * is serial (the pool busy with another thread's run): no worker will
 * come. */
#define PAIR_WAIT_NS 1000000
static void pair_chunk(void *ctx, int64_t chunk, int slot) {
    pair_probe *p = ctx;
    if (slot != 0) {
        p->start = dc__now_ns();
        atomic_store(&p->worker_ran, true);   /* releases start */
    } else if (chunk == 0 && dc__pool_in_run()) {
        int64_t give_up = dc__now_ns() + PAIR_WAIT_NS;
        while (!atomic_load(&p->worker_ran) && dc__now_ns() < give_up)
            sched_yield();   /* the worker may be waiting for this CPU */
        p->side_by_side = atomic_load(&p->worker_ran);
    }
    pair_products(&p->job, chunk);
}

/* A DC_PAIR_* verdict other than DC_PAIR_UNKNOWN. */
static int measure_pair_shares(const dc__sgemm_kernel *kn) {
    const int64_t sq = PAIR_DIM * PAIR_DIM;
    float *buf = g_pair_buf;
    for (int64_t i = 0; i < 2 * sq; i++) buf[i] = (float)(i % 7) * 0.125f;
    pair_probe p = {.job = {.kern = kn, .m = PAIR_DIM, .n = PAIR_DIM, .k = PAIR_DIM,
                            .a = {buf, PAIR_DIM, 1}, .b = {buf + sq, PAIR_DIM, 1},
                            .c = buf + 2 * sq, .rs_c = PAIR_DIM, .cs_c = 1,
                            .alpha = 1.0f, .beta = 0.0f, .split_m = true}};
    if (!one_block_in_place(&p.job)) return DC_PAIR_NO_VERDICT;
    double pair[3];
    int64_t fastest = INT64_MAX;
    for (int r = -1; r < 3; r++) {   /* round -1 warms up */
        int64_t t0 = dc__now_ns();
        pair_products(&p.job, 0);
        int64_t alone = dc__now_ns() - t0;
        atomic_store(&p.worker_ran, false);
        p.side_by_side = false;
        dc__parallel_for(pair_chunk, &p, 2, 2);
        if (!p.side_by_side) return DC_PAIR_NO_VERDICT;
        if (r < 0) continue;
        pair[r] = (double)(dc__now_ns() - p.start);
        if (alone < fastest) fastest = alone;
    }
    double lo = pair[0] < pair[1] ? pair[0] : pair[1];
    double hi = pair[0] < pair[1] ? pair[1] : pair[0];
    double median = pair[2] < lo ? lo : pair[2] > hi ? hi : pair[2];
    return median >= PAIR_SHARED * (double)(fastest > 0 ? fastest : 1) ? DC_PAIR_SHARED
                                                                       : DC_PAIR_SEPARATE;
}

/* Whether the pool's first two threads share a core: the recorded
 * verdict; else measured now (with kn) and recorded, no verdict included
 * (retried DC_POOL_REMEASURE_NS later, not at every product), unless
 * another thread is measuring it (then: not known, split as before). */
static bool pair_shares_core(const dc__sgemm_kernel *kn) {
    int shares = dc__pool_pair_shares();
    if (shares == DC_PAIR_UNKNOWN && dc__pool_claim_pair_probe()) {
        shares = measure_pair_shares(kn);
        dc__pool_note_pair_shares(shares);
    }
    return shares == DC_PAIR_SHARED;
}

static int small_product_threads(const sgemm_job *j) {
    double ns = 2.0 * (double)j->m * (double)j->n * (double)j->k / FLOPS_PER_NS;
    double store_ns = (double)j->m * (double)j->n * sizeof(float) / C_BYTES_PER_NS;
    if (store_ns > ns) ns = store_ns;
    /* under 0.8 us no hand-off seen here would pay: no need to ask (the
     * pool answers INT64_MAX itself when it has one thread or is in a run) */
    if (ns < 800.0 || j->m < 2 * j->kern->mr) return 1;
    double worth = j->k <= DC_SGEMM_SHORT_KC ? SHORT_K_HANDOFFS_WORTH : HANDOFFS_WORTH;
    if (ns < worth * (double)dc__pool_handoff_ns()) return 1;
    return pair_shares_core(j->kern) ? 1 : 2;
}

/* Runs the job with run_in_place when it is one block read in place: on
 * one thread, or split by rows over threads (plan_threads' answer, or
 * small_product_threads'), each band one call of the block function;
 * false (nothing done) otherwise. Through the planned strips instead,
 * two threads took 23 us for a 512 x 512 x 12 product (19-22 in bands)
 * and 17 for 256 x 512 x 16 (12-15). */
static bool ran_in_place(sgemm_job *j, int threads) {
    if ((threads > 1 && !j->split_m) || !one_block_in_place(j)) return false;
    if (threads == 1) threads = small_product_threads(j);
    if (threads == 1) {
        run_in_place(j, 0, j->m);
        return true;
    }
    j->nchunks = threads;
    dc__parallel_for(run_in_place_chunk, j, threads, threads);
    return true;
}

/* Which dimension threads split: each thread packs the whole of the
 * other operand, and shares are whole register tiles, so compare the
 * busiest thread's multiply-adds plus packing (an element packed costs
 * about PACK_WEIGHT multiply-adds) per step of k. With short k, where
 * storing C takes the time, rows whenever every thread gets some: split
 * by columns, the threads wrote parts of the same rows of C, and on two
 * threads 512 x 512 x 12 took 69 us instead of 19 (256 x 512 x 16: 28.5
 * instead of 13.7), more than on one. */
#define PACK_WEIGHT 16.0
static bool plan_split_m(const dc__sgemm_kernel *kn, int64_t m, int64_t n, int64_t k,
                         int threads) {
    if (threads <= 1) return true;
    int64_t mu = (m + kn->mr - 1) / kn->mr, nu = (n + kn->nr - 1) / kn->nr;
    if (k <= DC_SGEMM_SHORT_KC && mu >= threads) return true;
    double rows = (double)((mu + threads - 1) / threads * kn->mr);
    double cols = (double)((nu + threads - 1) / threads * kn->nr);
    double by_m = rows * (double)n + PACK_WEIGHT * ((double)n + rows);
    double by_n = cols * (double)m + PACK_WEIGHT * ((double)m + cols);
    return by_m <= by_n;
}

/* Sets the job's buffers for threads shares (split as j->split_m says)
 * and returns the floats that each thread needs (multiples of 16): big
 * enough for any share (the whole problem, capped by the cache blocks);
 * none when everything is read in place (a share is smaller, so read in
 * place too). */
static int64_t size_buffers(sgemm_job *j, int threads) {
    const dc__sgemm_kernel *kn = j->kern;
    int64_t kc = min64(kn->kc, j->k), mc = min64(kn->mc, j->m), nc = min64(kn->nc, j->n);
    bool pack_a_blocks = !a_in_place(kn, &j->a, kc, nc, j->a_cold);
    /* B's blocks are read by all the rows of a share: at most j->m */
    bool pack_b_blocks =
        !b_in_place(kn, &j->b, kc, j->m, j->b_cold) || (j->n % kn->nr && !kn->reads_ragged_b);
    /* a share's rows and columns at most (share_of's whole tiles) */
    int64_t row_tiles = (j->m + kn->mr - 1) / kn->mr;
    int64_t share_rows = j->split_m ? (row_tiles + threads - 1) / threads * kn->mr : j->m;
    int64_t share_cols = j->split_m ? j->n : (j->n + threads - 1) / threads;
    j->keep_a = pack_a_blocks && keep_a_blocks(kn, &j->a, share_rows, share_cols, kc);
    j->buf_a = !pack_a_blocks ? 0
               : j->keep_a    ? round_up(round_up(share_rows, kn->mc) * kc, 16)
                              : round_up(round_up(mc, kn->mr) * kc, 16);
    j->buf_b = pack_b_blocks ? round_up(round_up(nc, kn->nr) * kc, 16) : 0;
    return j->buf_a + j->buf_b;
}

/* The first 64-byte boundary in a block allocated 64 bytes larger. */
static float *align64(void *raw) { return (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63); }

/* Runs a laid-out job: its threads and the dimension they split, then in
 * place as one block or planned in blocks with packing buffers. */
static dc_status run_planned(sgemm_job *j, bool one_tile) {
    int threads = 1;
    if (!one_tile) {
        j->split_m = true;
        threads = plan_threads(j);
        j->split_m = plan_split_m(j->kern, j->m, j->n, j->k, threads);
        threads = plan_threads(j);
    }
    if (ran_in_place(j, threads)) return DC_OK;
    int64_t per_thread = size_buffers(j, threads);
    void *raw = NULL;
    if (per_thread > 0) {
        raw = dc__malloc((size_t)threads * (size_t)per_thread * sizeof(float) + 64);
        if (!raw) return DC_E_NOMEM;
        j->buf = align64(raw);
    }
    j->nchunks = threads;   /* one band per thread; a late thread's goes to another */
    if (threads == 1)
        run_chunk(j, 0, 0);   /* small products: the pool's checks cost ~1% of a 64^3 */
    else
        dc__parallel_for(run_chunk, j, j->nchunks, threads);
    dc__free(raw);
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Deep products: two halves of k                                    */
/* ---------------------------------------------------------------- */

/* A product at least DEEP_RATIO times deeper than it is tall or wide
 * (and at least two slices of k; run_deep) is computed as two halves of
 * k, the second into a scratch matrix added to C at the end: a weight gradient
 * dY^T X, whose k is the batch. Split by rows or columns of C instead,
 * both threads read all of one operand, and in a training step neither
 * is in the thread's cache (X written in the forward pass, dY by both
 * threads: half of its rows each). The halves are the same on any number
 * of threads (one thread computes both), so the results are the same
 * bits on any thread count. C is at most DEEP_MAX_C_BYTES: the scratch
 * is as large, and adding it costs m * n. In the GPT's step (bench/train,
 * two threads) the weight gradients went from 380 to 290 us (128 x 128 x
 * 2048 TN), 870 to 780 (384 x 128), 1200 to 1110 (128 x 512) and 260 to
 * 185 (86 x 128); 512 x 128 stayed at 1.07-1.10 ms. */
#define DEEP_RATIO 4
#define DEEP_MAX_C_BYTES ((int64_t)4 << 20)
/* ... and of at least DEEP_MIN_FLOPS, so that each half is worth a thread
 * (PAR_FLOPS_PER_THREAD) and a small one (e.g. attention's per-head
 * products, run on pool workers) needs no scratch. Shape alone decides,
 * so the bits do not depend on the thread count. */
#define DEEP_MIN_FLOPS 8e6

static bool split_deep(const sgemm_job *j) {
    int64_t wide = j->m > j->n ? j->m : j->n;
    return j->k >= 2 * j->kern->kc && j->k >= DEEP_RATIO * wide &&
           j->m * j->n * (int64_t)sizeof(float) <= DEEP_MAX_C_BYTES &&
           2.0 * (double)j->m * (double)j->n * (double)j->k >= DEEP_MIN_FLOPS;
}

typedef struct deep_job {
    sgemm_job half[2];   /* k [0, k/2) into the job's C, the rest into the scratch */
    float *scratch;      /* m x n, row stride n */
} deep_job;

/* Half chunk of a deep job, on one thread. */
static void run_half(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    sgemm_job *h = &((deep_job *)ctx)->half[chunk];
    if (one_block_in_place(h))
        run_in_place(h, 0, h->m);
    else
        run_block(h, 0, h->m, 0, h->n, h->buf, h->buf ? h->buf + h->buf_a : NULL);
}

/* C += scratch on rows [lo, hi) of the job's view (C being half 0's). */
static void add_scratch(void *ctx, int64_t lo, int64_t hi) {
    const deep_job *d = ctx;
    const sgemm_job *h = &d->half[0];
    for (int64_t i = lo; i < hi; i++) {
        const float *s = d->scratch + i * h->n;
        float *c = h->c + i * h->rs_c;
        if (h->cs_c == 1)
            for (int64_t j = 0; j < h->n; j++) c[j] += s[j];
        else
            for (int64_t j = 0; j < h->n; j++) c[j * h->cs_c] += s[j];
    }
}

/* Parts of the scratch's addition: at least this many elements each. */
#define ADD_SCRATCH_PART ((int64_t)1 << 14)

/* On a pool of two threads, one half each, side by side. On one thread,
 * or on more (where each half alone is split by rows or columns over all
 * of them), the halves run one after the other: the second first, into
 * the scratch, so that C is untouched if the first cannot get its
 * buffers. */
static dc_status run_deep(const sgemm_job *j, bool one_tile) {
    deep_job d = {.half = {*j, *j}};
    int64_t k0 = j->k / 2;
    d.half[0].k = k0;
    d.half[1].k = j->k - k0;
    d.half[1].a.p = smat_at(&j->a, 0, k0);
    d.half[1].b.p = smat_at(&j->b, k0, 0);
    d.half[1].beta = 0.0f;
    d.half[1].rs_c = j->n;
    d.half[1].cs_c = 1;
    bool side_by_side = dc__pool_threads() == 2;
    int64_t scratch = round_up(j->m * j->n, 16), floats[2] = {0, 0};
    for (int h = 0; h < 2 && side_by_side; h++) {
        d.half[h].split_m = true;
        d.half[h].nchunks = 1;
        floats[h] = one_block_in_place(&d.half[h]) ? 0 : size_buffers(&d.half[h], 1);
    }
    void *raw = dc__malloc((size_t)(scratch + floats[0] + floats[1]) * sizeof(float) + 64);
    if (!raw) return DC_E_NOMEM;
    d.scratch = align64(raw);
    d.half[1].c = d.scratch;
    dc_status st = DC_OK;
    if (side_by_side) {
        d.half[0].buf = floats[0] ? d.scratch + scratch : NULL;
        d.half[1].buf = floats[1] ? d.scratch + scratch + floats[0] : NULL;
        dc__parallel_for(run_half, &d, 2, 2);
    } else {
        st = run_planned(&d.half[1], one_tile);
        if (st == DC_OK) st = run_planned(&d.half[0], one_tile);
    }
    if (st == DC_OK)
        dc__parallel_range(add_scratch, &d, j->m, j->m * j->n, ADD_SCRATCH_PART);
    dc__free(raw);
    return st;
}

/* ---------------------------------------------------------------- */
/* Dot products                                                      */
/* ---------------------------------------------------------------- */

/* Estimated cycles of C = A B^T by the kernel's dot blocks (dot_rows x 4
 * products, 16 steps of k per FMA, about 40 cycles to reduce and store a
 * block), or a huge value when the dots do not apply: they re-read B for
 * every block of rows, so B must stay in L2. */
static double dots_cost(const dc__sgemm_kernel *kn, int64_t m, int64_t n, int64_t k) {
    if (!kn->dots || (double)n * (double)k * sizeof(float) > 512.0 * 1024) return 1e300;
    double blocks = (double)((m + kn->dot_rows - 1) / kn->dot_rows) * (double)((n + 3) / 4);
    double per_step = kn->dot_rows * 4 / 2.0;
    return blocks * (per_step * (double)((k + 15) / 16) + 40.0);
}

typedef struct dots_job {
    const dc__sgemm_kernel *kern;
    int64_t m, n, k, lda, ldb, ldc;
    const float *a, *b;
    float *c;
    float alpha, beta;
    int nchunks;
} dots_job;

static void run_dots_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const dots_job *d = ctx;
    int64_t lo, hi;
    share_of(d->m, d->kern->dot_rows, (int)chunk, d->nchunks, &lo, &hi);
    if (lo < hi)
        d->kern->dots(lo, hi, d->n, d->k, d->a, d->lda, d->b, d->ldb, d->alpha, d->beta, d->c,
                      d->ldc, 1);
}

/* C = beta * C (K == 0 or alpha == 0: the product adds nothing). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof *row);
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) row[j] *= beta;
    }
}

/* The job's C = op(A) op(B) (m x n, C's row stride ldc) as it stands, or
 * transposed: C^T = op(B)^T op(A)^T, C^T's rows being C's columns. */
static void lay_out(sgemm_job *j, bool transposed, int64_t m, int64_t n, const smat *opa,
                    const smat *opb, int64_t ldc) {
    if (transposed) {
        j->m = n;
        j->n = m;
        j->a = smat_t(opb);
        j->b = smat_t(opa);
        j->rs_c = 1;
        j->cs_c = ldc;
    } else {
        j->m = m;
        j->n = n;
        j->a = *opa;
        j->b = *opb;
        j->rs_c = ldc;
        j->cs_c = 1;
    }
    j->a_cold = maybe_cold(j->m, j->k);
    j->b_cold = maybe_cold(j->k, j->n);
}

dc_status dc__sgemm_own(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return DC_OK;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return DC_OK;
    }
    const dc__sgemm_kernel *kn = kernel_for(dc__gemm_isa());
    smat opa = trans_a ? (smat){a, 1, lda} : (smat){a, lda, 1};
    smat opb = trans_b ? (smat){b, 1, ldb} : (smat){b, ldb, 1};
    sgemm_job j = {.kern = kn, .k = k, .c = c, .alpha = alpha, .beta = beta};
    /* C^T = op(B)^T op(A)^T: C^T's rows are C's columns */
    smat opbt = smat_t(&opb), opat = smat_t(&opa);
    bool one_tile = m <= kn->mr && n <= kn->nr;   /* no choice to make but the dots */
    bool dots_fit = kn->dots && opa.cs == 1 && opb.rs == 1;
    if (!dots_fit && n % kn->nr == 0) {
        /* Whole B panels: as it stands, the product wastes no columns and
         * writes C's rows whole, so solving it transposed is not weighed
         * (plan_cost would favour this too, C's rows being contiguous). A
         * small such product read in place skips the planning: on a 64^3,
         * plan_cost alone was 1% of the time. */
        lay_out(&j, false, m, n, &opa, &opb, ldc);
        j.split_m = true;
        if (ran_in_place(&j, plan_threads(&j))) return DC_OK;
    }
    double normal = one_tile && !dots_fit ? 0.0 : plan_cost(kn, m, n, k, &opa, &opb, true);
    /* Solved transposed, C's elements go out one at a time (plan_cost: a
     * cycle each) and the FMAs are no fewer (half a cycle per vector of
     * C per step of k): when the product as it stands costs no more than
     * that, the transposed plan is not weighed (perf: plan_cost went
     * from 2.7% of a 25 x 784 x 6 TN's samples to 1.6%; its time moved
     * less than this machine's noise). */
    double swapped_floor = (double)m * (double)n * (1.0 + (double)k / (2.0 * kn->vw));
    double swapped = one_tile || (!dots_fit && normal <= swapped_floor)
                         ? 1e300
                         : plan_cost(kn, n, m, k, &opbt, &opat, false);
    if (dots_fit && dots_cost(kn, m, n, k) < (swapped < normal ? swapped : normal)) {
        /* A B^T with both along k, small C: dot products, no packing */
        dots_job d = {kn, m, n, k, opa.rs, opb.cs, ldc, a, b, c, alpha, beta, 1};
        double flops = 2.0 * (double)m * (double)n * (double)k;
        int threads = dc__pool_threads();
        if (flops / PAR_FLOPS_PER_THREAD < threads) threads = (int)(flops / PAR_FLOPS_PER_THREAD);
        int64_t bands = (m + kn->dot_rows - 1) / kn->dot_rows;
        if (bands < threads) threads = (int)bands;
        d.nchunks = threads < 1 ? 1 : threads;
        dc__parallel_for(run_dots_chunk, &d, d.nchunks, d.nchunks);
        return DC_OK;
    }
    lay_out(&j, swapped < normal, m, n, &opa, &opb, ldc);
    if (split_deep(&j)) return run_deep(&j, one_tile);
    return run_planned(&j, one_tile);
}
