/* AVX-512 micro-kernel of our SGEMM: a 12 x 32 tile of C in 24 zmm
 * accumulators; per step of k, two vector loads of the B panel, twelve
 * broadcasts of the A panel and 24 FMAs. A whole block read in place may
 * take 6 x 64 tiles instead (four loads, six broadcasts, 24 FMAs). The A
 * panel is read packed (or in place with its rows adjacent: "row
 * offsets") or in place along its rows ("row pointers"); the B panel
 * packed or in place. Compiled for AVX-512 through function attributes
 * only, so the library still runs on any x86-64: the driver calls it
 * after checking the CPU. */
#include "gemm_own.h"

#if DC_GEMM_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
#define INLINE512 static inline __attribute__((always_inline)) T512
#define MR 12
#define NR 32
#define WIDE_MR 6   /* the 6 x 64 tile of blocks (wide_block_body) */
#define WIDE_NR 64
/* Floats of B (64 KiB) up to which a block takes 6 x 64 tiles: each row
 * of tiles reads all of B, and with B at 256 KiB, twice the rows of
 * tiles reading it cost more than the wider tile saves (32 x 512 x 128:
 * -2.5%). */
#define WIDE_MAX_B (16 * 1024)

#define KARGS                                                                              \
    int64_t kc, const dc__sgemm_panels *x, float alpha, float beta, float *c, int64_t rs_c, \
        int64_t cs_c, int mr, int nr
#define KPASS kc, x, alpha, beta, c, rs_c, cs_c, mr, nr

/* One row of C from its accumulators, on columns the masks select. */
INLINE512 void store_row(float *c, __m512 v0, __m512 v1, int nv, __mmask16 m0,
                         __mmask16 m1, __m512 valpha, float alpha, float beta) {
    if (alpha != 1.0f) {   /* the usual alpha 1 saves a multiply per vector */
        v0 = _mm512_mul_ps(v0, valpha);
        if (nv > 1) v1 = _mm512_mul_ps(v1, valpha);
    }
    if (beta != 0.0f) {   /* beta == 0 never reads C: NaN there is dropped */
        __m512 vbeta = _mm512_set1_ps(beta);
        v0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, c), vbeta, v0);
        if (nv > 1) v1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, c + 16), vbeta, v1);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    if (nv > 1) _mm512_mask_storeu_ps(c + 16, m1, v1);
}

static __mmask16 lane_mask(int count) {
    return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (count > 0 ? count : 0)) - 1);
}

/* Row i's accumulators: V (1, 2 or 4) vectors of 16 columns. */
#define DECL(i)                                                                            \
    __m512 r##i##_0 = _mm512_setzero_ps(), r##i##_1 = _mm512_setzero_ps(),                 \
           r##i##_2 = _mm512_setzero_ps(), r##i##_3 = _mm512_setzero_ps()
#define STEP(i)                                                                            \
    if (M > i) {                                                                           \
        __m512 a_ = _mm512_set1_ps(A_AT(i));                                               \
        r##i##_0 = _mm512_fmadd_ps(a_, b0, r##i##_0);                                      \
        if (V > 1) r##i##_1 = _mm512_fmadd_ps(a_, b1, r##i##_1);                           \
        if (V > 2) {                                                                       \
            r##i##_2 = _mm512_fmadd_ps(a_, b2, r##i##_2);                                  \
            r##i##_3 = _mm512_fmadd_ps(a_, b3, r##i##_3);                                  \
        }                                                                                  \
    }
#define STORE(i)                                                                           \
    if (M > i) {                                                                           \
        store_row(c + i * rs_c, r##i##_0, r##i##_1, V, m0, m1, valpha, alpha, beta);       \
        if (V > 2)                                                                         \
            store_row(c + i * rs_c + 32, r##i##_2, r##i##_3, 2, m2, m3, valpha, alpha,     \
                      beta);                                                               \
    }
/* the common case of a full tile, alpha 1, beta 0: plain stores */
#define STORE_PLAIN(i)                                                                     \
    if (M > i) {                                                                           \
        _mm512_storeu_ps(c + i * rs_c, r##i##_0);                                          \
        if (V > 1) _mm512_storeu_ps(c + i * rs_c + 16, r##i##_1);                          \
        if (V > 2) {                                                                       \
            _mm512_storeu_ps(c + i * rs_c + 32, r##i##_2);                                 \
            _mm512_storeu_ps(c + i * rs_c + 48, r##i##_3);                                 \
        }                                                                                  \
    }
/* unaligned stores: an aligned tile would make every kernel realign its
 * stack. Rows of 16 * V floats: 12 x 32 and 6 x 64 both fill MR * NR. */
#define SPILL(i)                                                                           \
    if (M > i) {                                                                           \
        _mm512_storeu_ps(tile + i * 16 * V, r##i##_0);                                     \
        if (V > 1) _mm512_storeu_ps(tile + i * 16 * V + 16, r##i##_1);                     \
        if (V > 2) {                                                                       \
            _mm512_storeu_ps(tile + i * 16 * V + 32, r##i##_2);                            \
            _mm512_storeu_ps(tile + i * 16 * V + 48, r##i##_3);                            \
        }                                                                                  \
    }
#define ALL_ROWS(X) X(0); X(1); X(2); X(3); X(4); X(5); X(6); X(7); X(8); X(9); X(10); X(11)

/* Element i of the A panel at the current step: by row offset from ap,
 * or through four row pointers (three rows each, ars apart). */
#define A_AT(i) (ROWPTR ? A_BY_POINTER(i) : ap[i])
#define A_BY_POINTER(i)                                                                    \
    ((i) < 3   ? a0[((i) % 3) * ars]                                                       \
     : (i) < 6 ? a3[((i) % 3) * ars]                                                       \
     : (i) < 9 ? a6[((i) % 3) * ars]                                                       \
               : a9[((i) % 3) * ars])

/* One step of k once b0..b3 hold the B panel's row (V of them used): the
 * FMAs, then the panels' pointers move on. */
#define K_STEP                                                                             \
    do {                                                                                   \
        ALL_ROWS(STEP);                                                                    \
        if (ROWPTR) {                                                                      \
            a0++;                                                                          \
            a3++;                                                                          \
            a6++;                                                                          \
            a9++;                                                                          \
        } else {                                                                           \
            ap += astep;                                                                   \
        }                                                                                  \
        bp += bstep;                                                                       \
    } while (0)

/* The kernel for exactly M rows (M == mr), V vectors of columns (nr <=
 * 16 * V) and one way of reading A; M, V and ROWPTR are constants in each
 * instance below, so the unused accumulators and steps vanish. V is 1 or
 * 2 with M <= 12, or 4 with M <= 6: at most 24 accumulators, and at most
 * MR x NR floats in the tile of the transposed-C path. */
INLINE512 void kernel_body(const int M, const int V, const bool ROWPTR, KARGS) {
    ALL_ROWS(DECL);
    const float *ap = x->a, *bp = x->b;
    int64_t ars = x->a_rs, astep = x->a_cs, bstep = x->b_rs;
    const float *a0 = ap, *a3 = M > 3 ? ap + 3 * ars : ap, *a6 = M > 6 ? ap + 6 * ars : ap,
                *a9 = M > 9 ? ap + 9 * ars : ap;
    __mmask16 bm0 = lane_mask(nr), bm1 = lane_mask(nr - 16), bm2 = lane_mask(nr - 32),
              bm3 = lane_mask(nr - 48);
    if (cs_c == 1 && kc >= 32 && beta != 0.0f)   /* C is read after the loop: fetch it meanwhile */
        for (int i = 0; i < M; i++)
            for (int v = 0; v < V; v++)
                _mm_prefetch((const char *)(c + i * rs_c + 16 * v), _MM_HINT_T0);
    if (nr == 16 * V) {   /* whole vectors: plain loads */
#pragma GCC unroll 4
        for (int64_t p = 0; p < kc; p++) {
            __m512 b0 = _mm512_loadu_ps(bp);
            __m512 b1 = V > 1 ? _mm512_loadu_ps(bp + 16) : b0;
            __m512 b2 = V > 2 ? _mm512_loadu_ps(bp + 32) : b0;
            __m512 b3 = V > 2 ? _mm512_loadu_ps(bp + 48) : b0;
            K_STEP;
        }
    } else {
#pragma GCC unroll 4
        for (int64_t p = 0; p < kc; p++) {
            /* masked: a B panel read in place may end in the middle of a vector */
            __m512 b0 = _mm512_maskz_loadu_ps(bm0, bp);
            __m512 b1 = V > 1 ? _mm512_maskz_loadu_ps(bm1, bp + 16) : b0;
            __m512 b2 = V > 2 ? _mm512_maskz_loadu_ps(bm2, bp + 32) : b0;
            __m512 b3 = V > 2 ? _mm512_maskz_loadu_ps(bm3, bp + 48) : b0;
            K_STEP;
        }
    }
    __m512 valpha = _mm512_set1_ps(alpha);
    if (cs_c == 1 && alpha == 1.0f && beta == 0.0f && nr == 16 * V) {
        ALL_ROWS(STORE_PLAIN);
    } else if (cs_c == 1) {   /* rows of C are contiguous: vector stores, masked at the edge */
        __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16), m2 = lane_mask(nr - 32),
                  m3 = lane_mask(nr - 48);
        ALL_ROWS(STORE);
    } else {           /* C read transposed: through a tile in memory */
        float tile[MR * NR];
        /* cppcheck-suppress pointerOutOfBoundsCond ; rows past 6 exist only when V <= 2 */
        ALL_ROWS(SPILL);
        dc__sgemm_store_tile(tile, 16 * V, mr, nr, alpha, beta, c, rs_c, cs_c);
    }
}

#define INSTANCES(M)                                                                       \
    static T512 void kernel_##M##_1(KARGS) { kernel_body(M, 1, false, KPASS); }            \
    static T512 void kernel_##M##_2(KARGS) { kernel_body(M, 2, false, KPASS); }            \
    static T512 void kernel_##M##_1p(KARGS) { kernel_body(M, 1, true, KPASS); }            \
    static T512 void kernel_##M##_2p(KARGS) { kernel_body(M, 2, true, KPASS); }
INSTANCES(1)
INSTANCES(2)
INSTANCES(3)
INSTANCES(4)
INSTANCES(5)
INSTANCES(6)
INSTANCES(7)
INSTANCES(8)
INSTANCES(9)
INSTANCES(10)
INSTANCES(11)
INSTANCES(12)

typedef void (*kernel_fn)(KARGS);
#define ROW_OF(M) {{kernel_##M##_1, kernel_##M##_2}, {kernel_##M##_1p, kernel_##M##_2p}}
static const kernel_fn kernels[MR][2][2] = {
    ROW_OF(1), ROW_OF(2), ROW_OF(3), ROW_OF(4),  ROW_OF(5),  ROW_OF(6),
    ROW_OF(7), ROW_OF(8), ROW_OF(9), ROW_OF(10), ROW_OF(11), ROW_OF(12),
};

/* [rows][A by row pointers][two vectors] */
static void avx512_ukernel(KARGS) { kernels[mr - 1][x->a_rs != 1][nr > 16](KPASS); }

/* The 6 x 64 tiles' kernels, for the blocks' last rows and masked last
 * columns. */
#define WIDE_INSTANCES(M)                                                                  \
    static T512 void wide_##M(KARGS) { kernel_body(M, 4, false, KPASS); }                  \
    static T512 void wide_##M##p(KARGS) { kernel_body(M, 4, true, KPASS); }
WIDE_INSTANCES(1)
WIDE_INSTANCES(2)
WIDE_INSTANCES(3)
WIDE_INSTANCES(4)
WIDE_INSTANCES(5)
WIDE_INSTANCES(6)
#define WIDE_ROW_OF(M) {wide_##M, wide_##M##p}
/* [rows][A by row pointers] */
static const kernel_fn wide_kernels[WIDE_MR][2] = {
    WIDE_ROW_OF(1), WIDE_ROW_OF(2), WIDE_ROW_OF(3),
    WIDE_ROW_OF(4), WIDE_ROW_OF(5), WIDE_ROW_OF(6),
};

/* Strips: the full tiles inline, the partial one last through its
 * kernel. */
#define SARGS                                                                              \
    int64_t kc, const dc__sgemm_panels *x, float alpha, float beta, float *c, int64_t rs_c, \
        int64_t cs_c, int mr, int64_t n
INLINE512 void strip_body(const int M, const bool ROWPTR, SARGS) {
    dc__sgemm_panels t = *x;
    int64_t jr = 0;
    for (; jr + NR <= n; jr += NR, t.b += x->b_next)
        kernel_body(M, 2, ROWPTR, kc, &t, alpha, beta, c + jr * cs_c, rs_c, cs_c, mr, NR);
    if (jr < n) {
        int cols = (int)(n - jr);
        t.b_rs = x->b_rs_last;
        kernels[M - 1][ROWPTR][cols > 16](kc, &t, alpha, beta, c + jr * cs_c, rs_c, cs_c, mr,
                                          cols);
    }
}

#define STRIPS(M)                                                                          \
    static T512 void strip_##M(SARGS) { strip_body(M, false, kc, x, alpha, beta, c, rs_c,  \
                                                   cs_c, mr, n); }                         \
    static T512 void strip_##M##p(SARGS) { strip_body(M, true, kc, x, alpha, beta, c,      \
                                                      rs_c, cs_c, mr, n); }
STRIPS(1)
STRIPS(2)
STRIPS(3)
STRIPS(4)
STRIPS(5)
STRIPS(6)
STRIPS(7)
STRIPS(8)
STRIPS(9)
STRIPS(10)
STRIPS(11)
STRIPS(12)

typedef void (*strip_fn)(SARGS);
#define STRIP_ROW(M) {strip_##M, strip_##M##p}
static const strip_fn strips[MR][2] = {
    STRIP_ROW(1), STRIP_ROW(2), STRIP_ROW(3), STRIP_ROW(4),  STRIP_ROW(5),  STRIP_ROW(6),
    STRIP_ROW(7), STRIP_ROW(8), STRIP_ROW(9), STRIP_ROW(10), STRIP_ROW(11), STRIP_ROW(12),
};

/* [rows][A by row pointers] */
static void avx512_strip(SARGS) {
    strips[mr - 1][x->a_rs != 1](kc, x, alpha, beta, c, rs_c, cs_c, mr, n);
}

/* A whole block read in place (dc__sgemm_block_fn), a row of tiles at a
 * time (a column at a time measured the same on 64 x 64 x 64 and 5-10%
 * slower on 128 x 256 x 10, whose C does not fit L1). Tiles of 12 and of
 * 8 rows run inline, the others through their kernels: a call
 * costs ~3% of a 12 x 32 x 64 tile, and m a power of two >= 32 leaves
 * 8-row tiles (64 rows: 12, 12, 12, 12, 8, 8). Inlining the 8-row
 * tiles too made 64 x 64 x 64 and 64 x 64 x 32 NN 2-4% faster; inlining
 * only the 12-row ones changed nothing measurable.
 *
 * When C's rows are whole multiples of 64 columns (or k is short,
 * DC_SGEMM_SHORT_KC) and B is small (WIDE_MAX_B), 6 x 64 tiles
 * (wide_block_body) cover the block instead: the same 24 accumulators,
 * four B loads and six broadcasts a step instead of two and twelve, 11
 * tiles on 64 rows instead of 12, and each tile's stores 4 whole lines
 * of 6 rows of C instead of 2 of 12. Against OpenBLAS-SkylakeX in one
 * process (one thread): 128 x 256 x 10 NN 1.00-1.01 -> 1.05; 64^3, 64 x
 * 64 x 32, 32 x 64 x 64 and 16 x 128 x 64 NN stayed within 1% of parity
 * either way. With the driver's block bounds on B widened for short k
 * (gemm_own.c): 64 x 784 x 1 NN 0.81 -> 1.06, 200 x 300 x 3 NN 0.71 ->
 * 0.95, 25 x 784 x 6 TN 0.73 -> 0.94, 32 x 1024 x 4 TN 1.00 -> 1.95. */
#define BARGS                                                                              \
    int64_t m, int64_t n, int64_t k, const dc__sgemm_panels *x, float alpha, float beta,    \
        float *c, int64_t rs_c, int64_t cs_c
#define BPASS m, n, k, x, alpha, beta, c, rs_c, cs_c
/* The block as rows of TM x 16 * TV tiles: full tiles of TM and of TM2
 * rows run inline, the others (last rows, masked last columns) through
 * their kernels: the 4-vector ones above 32 columns, else the 1- or
 * 2-vector ones. 12 x 32 tiles leave 8 rows when m is a power of two >=
 * 32 (64: 12, 12, 12, 12, 8, 8), 6 x 64 tiles leave 4 (64: ten of 6, one
 * of 4). */
INLINE512 void tiles_body(const int TM, const int TV, const int TM2, const bool ROWPTR,
                          BARGS) {
    const int TN = 16 * TV;
    dc__sgemm_panels t = *x;
    for (int64_t ir = 0, rows = 0; ir < m; ir += rows) {
        rows = dc__sgemm_tile_rows(TM, true, m, ir);
        t.a = x->a + ir * x->a_rs;
        for (int64_t jr = 0; jr < n; jr += TN) {
            int cols = (int)(n - jr < TN ? n - jr : TN);
            t.b = x->b + jr;
            float *ct = c + ir * rs_c + jr * cs_c;
            if (rows == TM && cols == TN)
                kernel_body(TM, TV, ROWPTR, k, &t, alpha, beta, ct, rs_c, cs_c, TM, TN);
            else if (rows == TM2 && cols == TN)
                kernel_body(TM2, TV, ROWPTR, k, &t, alpha, beta, ct, rs_c, cs_c, TM2, TN);
            else if (cols > 32)
                wide_kernels[rows - 1][ROWPTR](k, &t, alpha, beta, ct, rs_c, cs_c, (int)rows,
                                               cols);
            else
                kernels[rows - 1][ROWPTR][cols > 16](k, &t, alpha, beta, ct, rs_c, cs_c,
                                                     (int)rows, cols);
        }
    }
}

/* 6 x 64 tiles. C's rows are contiguous (cs_c == 1, a constant here: no
 * tile goes through memory); PLAIN: alpha 1 and beta 0, also as
 * constants, which leaves each tile its plain stores only (128 x 256 x
 * 10: +2% without, +4.5% with). Functions of their own: inlined into the
 * 12 x 32 blocks' functions, the tiles' loops ran short of registers and
 * reloaded pointers from the stack. */
INLINE512 void wide_block_body(const bool ROWPTR, const bool PLAIN, BARGS) {
    (void)cs_c;
    if (PLAIN) {
        alpha = 1.0f;
        beta = 0.0f;
    }
    tiles_body(WIDE_MR, 4, 4, ROWPTR, m, n, k, x, alpha, beta, c, rs_c, 1);
}
static T512 void wide_block_rows(BARGS) { wide_block_body(false, false, BPASS); }
static T512 void wide_block_rowptr(BARGS) { wide_block_body(true, false, BPASS); }
static T512 void wide_block_rows_plain(BARGS) { wide_block_body(false, true, BPASS); }
static T512 void wide_block_rowptr_plain(BARGS) { wide_block_body(true, true, BPASS); }
/* [A by row pointers][alpha 1 and beta 0] */
static const dc__sgemm_block_fn wide_blocks[2][2] = {
    {wide_block_rows, wide_block_rows_plain}, {wide_block_rowptr, wide_block_rowptr_plain}};

INLINE512 void block_body(const bool ROWPTR, BARGS) { tiles_body(MR, 2, 8, ROWPTR, BPASS); }
static T512 void block_rows(BARGS) { block_body(false, BPASS); }
static T512 void block_rowptr(BARGS) { block_body(true, BPASS); }

/* C = alpha * a b^T + beta * C for one step of k (a rank-1 update), two
 * rows of C at a time along their whole length, each vector of B loaded
 * once for both: the stores of C take the time, and written row after row
 * they went out faster than tile by tile (64 x 784 x 1 with C's rows on
 * cache lines: 3.3 us, 6 x 64 tiles 3.5 and OpenBLAS 3.5; off them 3.9,
 * 5.3 and 4.9). Each product is the tiles' first FMA (a b + 0, so that
 * a product of -0 comes out +0 as there) and is scaled as store_row does,
 * so the bits are the tiles'. */
/* One vector of a rank-1 row: a * b (times alpha, plus beta * C) into c,
 * as store_row scales a tile's accumulators; plain stores when whole. */
INLINE512 void rank1_vec(float *c, __m512 prod, __mmask16 m, bool whole, __m512 valpha,
                         float alpha, float beta) {
    if (alpha != 1.0f) prod = _mm512_mul_ps(prod, valpha);
    if (beta != 0.0f)
        prod = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, c), _mm512_set1_ps(beta), prod);
    if (whole)
        _mm512_storeu_ps(c, prod);
    else
        _mm512_mask_storeu_ps(c, m, prod);
}

/* Row c0 (and c1 when TWO) of a rank-1 update: a0 (a1) times B's row. */
INLINE512 void rank1_rows(const bool TWO, const float *b, int64_t n, __m512 a0, __m512 a1,
                          float *c0, float *c1, __m512 valpha, float alpha, float beta) {
    __m512 zero = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 vb = _mm512_loadu_ps(b + j);
        rank1_vec(c0 + j, _mm512_fmadd_ps(a0, vb, zero), 0xffff, true, valpha, alpha, beta);
        if (TWO)
            rank1_vec(c1 + j, _mm512_fmadd_ps(a1, vb, zero), 0xffff, true, valpha, alpha, beta);
    }
    if (j < n) {
        __mmask16 mk = lane_mask((int)(n - j));
        __m512 vb = _mm512_maskz_loadu_ps(mk, b + j);
        rank1_vec(c0 + j, _mm512_fmadd_ps(a0, vb, zero), mk, false, valpha, alpha, beta);
        if (TWO) rank1_vec(c1 + j, _mm512_fmadd_ps(a1, vb, zero), mk, false, valpha, alpha, beta);
    }
}

static T512 void rank1_block(BARGS) {
    (void)k;
    (void)cs_c;
    __m512 valpha = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 2 <= m; i += 2)
        rank1_rows(true, x->b, n, _mm512_set1_ps(x->a[i * x->a_rs]),
                   _mm512_set1_ps(x->a[(i + 1) * x->a_rs]), c + i * rs_c, c + (i + 1) * rs_c,
                   valpha, alpha, beta);
    if (i < m) {
        __m512 a0 = _mm512_set1_ps(x->a[i * x->a_rs]);
        rank1_rows(false, x->b, n, a0, a0, c + i * rs_c, c + i * rs_c, valpha, alpha, beta);
    }
}

/* [A by row pointers]. A block whose rows are not whole multiples of 64
 * columns takes 6 x 64 tiles too, the last columns masked, only with
 * short k, where the stores of C take the time; with more steps the
 * narrower last tiles cost more than the wide ones save (40 x 100 x 48:
 * 7-13% slower). */
static void avx512_block(BARGS) {
    if (k == 1 && cs_c == 1)
        rank1_block(BPASS);
    else if (cs_c == 1 && k * n <= WIDE_MAX_B &&
        (n % WIDE_NR == 0 || (n > WIDE_NR && k <= DC_SGEMM_SHORT_KC)))
        wide_blocks[x->a_rs != 1][alpha == 1.0f && beta == 0.0f](BPASS);
    else if (x->a_rs != 1)
        block_rowptr(BPASS);
    else
        block_rows(BPASS);
}

/* ---- dot products: both operands contiguous along k ---- */

#define DOT_RI 3
#define DOT_RJ 4
#define DOT_REGS(X) X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) \
    X(2, 0) X(2, 1) X(2, 2) X(2, 3)
#define DOT_DECL(i, j) __m512 s##i##j = _mm512_setzero_ps();
#define DOT_FMA(i, j) if (RI > i && RJ > j) s##i##j = _mm512_fmadd_ps(va##i, vb##j, s##i##j);
#define DOT_OUT(i, j)                                                                       \
    if (RI > i && RJ > j) {                                                                \
        float *cij = c + i * rs_c + j * cs_c;                                              \
        float v = alpha * _mm512_reduce_add_ps(s##i##j);                                   \
        *cij = beta == 0.0f ? v : v + beta * *cij;                                         \
    }

/* An RI x RJ block of C[i][j] = alpha * sum_p a[i * lda + p] * b[j * ldb + p]
 * + beta * C[i][j]: one accumulator per dot product, 16 steps of k per
 * FMA, a masked tail. */
INLINE512 void dot_body(const int RI, const int RJ, int64_t k, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float alpha, float beta, float *c,
                        int64_t rs_c, int64_t cs_c) {
    DOT_REGS(DOT_DECL)
    const float *a0 = a, *a1 = RI > 1 ? a + lda : a, *a2 = RI > 2 ? a + 2 * lda : a;
    const float *b0 = b, *b1 = RJ > 1 ? b + ldb : b, *b2 = RJ > 2 ? b + 2 * ldb : b,
                *b3 = RJ > 3 ? b + 3 * ldb : b;
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 va0 = _mm512_loadu_ps(a0 + p), va1 = _mm512_loadu_ps(a1 + p),
               va2 = _mm512_loadu_ps(a2 + p);
        __m512 vb0 = _mm512_loadu_ps(b0 + p), vb1 = _mm512_loadu_ps(b1 + p),
               vb2 = _mm512_loadu_ps(b2 + p), vb3 = _mm512_loadu_ps(b3 + p);
        /* keep each vector in a register: folded into the FMAs, every B
         * vector would be loaded three times */
        __asm__("" : "+v"(vb0), "+v"(vb1), "+v"(vb2), "+v"(vb3));
        DOT_REGS(DOT_FMA)
    }
    if (p < k) {
        __mmask16 m = lane_mask((int)(k - p));
        __m512 va0 = _mm512_maskz_loadu_ps(m, a0 + p), va1 = _mm512_maskz_loadu_ps(m, a1 + p),
               va2 = _mm512_maskz_loadu_ps(m, a2 + p);
        __m512 vb0 = _mm512_maskz_loadu_ps(m, b0 + p), vb1 = _mm512_maskz_loadu_ps(m, b1 + p),
               vb2 = _mm512_maskz_loadu_ps(m, b2 + p), vb3 = _mm512_maskz_loadu_ps(m, b3 + p);
        DOT_REGS(DOT_FMA)
    }
    DOT_REGS(DOT_OUT)
}

#define DOT_ARGS                                                                           \
    int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float alpha,      \
        float beta, float *c, int64_t rs_c, int64_t cs_c
#define DOT_PASS k, a, lda, b, ldb, alpha, beta, c, rs_c, cs_c
#define DOT_INSTANCES(RI)                                                                  \
    static T512 void dot_##RI##_1(DOT_ARGS) { dot_body(RI, 1, DOT_PASS); }                 \
    static T512 void dot_##RI##_2(DOT_ARGS) { dot_body(RI, 2, DOT_PASS); }                 \
    static T512 void dot_##RI##_3(DOT_ARGS) { dot_body(RI, 3, DOT_PASS); }                 \
    static T512 void dot_##RI##_4(DOT_ARGS) { dot_body(RI, 4, DOT_PASS); }
DOT_INSTANCES(1)
DOT_INSTANCES(2)
DOT_INSTANCES(3)

typedef void (*dot_fn)(DOT_ARGS);
static const dot_fn dots[DOT_RI][DOT_RJ] = {
    {dot_1_1, dot_1_2, dot_1_3, dot_1_4},
    {dot_2_1, dot_2_2, dot_2_3, dot_2_4},
    {dot_3_1, dot_3_2, dot_3_3, dot_3_4},
};

/* Rows [i0, i1) of C = alpha * A B^T + beta * C, A (m x k) and B (n x k)
 * both row-major along k. */
static void avx512_dots(int64_t i0, int64_t i1, int64_t n, int64_t k, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float alpha, float beta,
                        float *c, int64_t rs_c, int64_t cs_c) {
    for (int64_t i = i0; i < i1; i += DOT_RI) {
        int ri = (int)(i1 - i < DOT_RI ? i1 - i : DOT_RI);
        for (int64_t j = 0; j < n; j += DOT_RJ) {
            int rj = (int)(n - j < DOT_RJ ? n - j : DOT_RJ);
            dots[ri - 1][rj - 1](k, a + i * lda, lda, b + j * ldb, ldb, alpha, beta,
                                 c + i * rs_c + j * cs_c, rs_c, cs_c);
        }
    }
}

const dc__sgemm_kernel dc__sgemm_kernel_avx512 = {
    .name = "avx512 12x32",
    .isa = DC_ISA_AVX512,
    .mr = MR,
    .nr = NR,
    .vw = 16,
    .mc = 120,
    .kc = 384,
    .nc = 512,
    .ukernel = avx512_ukernel,
    .strip = avx512_strip,
    .block = avx512_block,
    .reads_in_place = true,
    .reads_ragged_b = true,
    .pack_kcontig = dc__sgemm_pack_kcontig_avx2,
    .pack_copy = dc__sgemm_pack_copy_avx2,
    .dots = avx512_dots,
    .dot_rows = DOT_RI,
};

#endif /* DC_GEMM_X86 */
