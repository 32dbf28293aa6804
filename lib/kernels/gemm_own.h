/* Our SGEMM's parts: the micro-kernels of each instruction set
 * (gemm_generic.c, gemm_avx2.c, gemm_avx512.c) and what they share with
 * the driver (gemm_own.c), which packs panels, blocks for the caches and
 * splits the work across threads.
 *
 * Packed panels: an A micro-panel holds MR rows of op(A) for kc steps of
 * k, stored k-major (MR values per step, rows past the matrix's end are
 * zero); a B micro-panel holds NR columns of op(B) likewise (NR values per
 * step, zero past the end). */
#ifndef DEEPCORE_GEMM_OWN_H
#define DEEPCORE_GEMM_OWN_H

#include "kernels.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#  define DC_GEMM_X86 1
#else
#  define DC_GEMM_X86 0
#endif

/* The operands of one micro-kernel call. Element (i, p) of the A panel
 * is at a[i * a_rs + p * a_cs], with a_rs == 1 (a packed panel: a_cs is
 * its width; or op(A) read in place with its rows adjacent) or a_cs == 1
 * (op(A) read in place along its rows); element (p, j) of the B panel at
 * b[p * b_rs + j] for j < the vectors the kernel loads (a packed panel,
 * zero past nr: b_rs is its width; or full columns of op(B) read in
 * place). Kernels that do not read in place take packed panels of width
 * MR and NR. */
typedef struct dc__sgemm_panels {
    const float *a;
    int64_t a_rs, a_cs;
    const float *b;
    int64_t b_rs;
    /* for a strip (dc__sgemm_strip_fn) only: B panel j + 1 starts b_next
     * floats after panel j; the last panel, when partial, has row stride
     * b_rs_last */
    int64_t b_next, b_rs_last;
} dc__sgemm_panels;

/* C = alpha * (A panel x B panel) + beta * C on the top-left mr x nr part
 * of the MR x NR product (mr >= 1, nr >= 1; the A panel has mr rows,
 * the B panel NR columns, zero past nr when packed); C element (i, j) is
 * at c[i * rs_c + j * cs_c]. beta == 0 overwrites C. */
typedef void (*dc__sgemm_ukernel_fn)(int64_t kc, const dc__sgemm_panels *x, float alpha,
                                     float beta, float *c, int64_t rs_c, int64_t cs_c, int mr,
                                     int nr);

/* The micro-kernel along a strip: C = alpha * (A panel x B) + beta * C
 * on mr rows and n columns, NR columns (one B panel) at a time and a
 * partial panel last; C column j at c + j * cs_c. One call per strip
 * instead of one per tile: the setup of a call costs about as much as a
 * tile's arithmetic when k is short. */
typedef void (*dc__sgemm_strip_fn)(int64_t kc, const dc__sgemm_panels *x, float alpha,
                                   float beta, float *c, int64_t rs_c, int64_t cs_c, int mr,
                                   int64_t n);

/* Packs a panel of width w (rows <= w): dst[p * w + r] = element (r, p)
 * for r < rows, p < kc, and zero for r in rows..w-1. The element is at
 * src[r * stride + p] for a panel whose rows are contiguous along k (a
 * transpose: pack_kcontig), at src[p * stride + r] for one whose rows
 * are adjacent (copies: pack_copy). */
typedef void (*dc__sgemm_pack_fn)(const float *src, int64_t stride, int rows, int64_t kc,
                                  int w, float *dst);

/* Rows [i0, i1) of C = alpha * A B^T + beta * C by dot products, A (m x
 * k, row stride lda) and B (n x k, row stride ldb) both contiguous along
 * k; C element (i, j) at c[i * rs_c + j * cs_c]. For products whose
 * operands are both contiguous along a long k and whose C is small,
 * where packing would cost more than the product. */
typedef void (*dc__sgemm_dots_fn)(int64_t i0, int64_t i1, int64_t n, int64_t k,
                                  const float *a, int64_t lda, const float *b, int64_t ldb,
                                  float alpha, float beta, float *c, int64_t rs_c,
                                  int64_t cs_c);

/* Steps of k up to which a product is "short": storing C takes the time,
 * not the loads (B read in place whatever its alignment, blocks as wide
 * as B's k x n allows, the AVX-512 block's 6 x 64 tiles on any width). */
#define DC_SGEMM_SHORT_KC 16

/* The whole of C = alpha * op(A) op(B) + beta * C (m x n x k) in one
 * call, for a product the kernel reads in place as it stands: k at most
 * the kernel's KC, n at most its NC (or k x n at most KC x NC when k is
 * at most DC_SGEMM_SHORT_KC), A and B as for the micro-kernel (x->b is
 * op(B)'s first column, its columns adjacent) and tiles of
 * dc__sgemm_tile_rows rows. */
typedef void (*dc__sgemm_block_fn)(int64_t m, int64_t n, int64_t k, const dc__sgemm_panels *x,
                                   float alpha, float beta, float *c, int64_t rs_c,
                                   int64_t cs_c);

typedef struct dc__sgemm_kernel {
    const char *name;          /* e.g. "avx512 12x32" */
    dc_gemm_isa isa;
    int mr, nr;                /* register tile */
    int vw;                    /* floats per vector register */
    int64_t mc, kc, nc;        /* cache blocks: MC x KC of A, KC x NC of B */
    dc__sgemm_ukernel_fn ukernel;
    dc__sgemm_strip_fn strip;         /* NULL: the driver calls ukernel per tile */
    dc__sgemm_block_fn block;         /* NULL: the driver calls ukernel per tile */
    bool reads_in_place;              /* takes unpacked operands (dc__sgemm_panels) */
    bool reads_ragged_b;              /* masks B loads: a partial B panel in place too */
    dc__sgemm_pack_fn pack_kcontig;   /* NULL: the portable loops */
    dc__sgemm_pack_fn pack_copy;
    dc__sgemm_dots_fn dots;           /* NULL: none */
    int dot_rows;                     /* rows of C per dot block */
} dc__sgemm_kernel;

extern const dc__sgemm_kernel dc__sgemm_kernel_generic;
#if DC_GEMM_X86
extern const dc__sgemm_kernel dc__sgemm_kernel_avx2;
extern const dc__sgemm_kernel dc__sgemm_kernel_avx512;
#endif

#if DC_GEMM_X86
/* The AVX2 packs (8 x 8 transposes, masked copies), for the AVX2 and
 * AVX-512 kernels. */
void dc__sgemm_pack_kcontig_avx2(const float *src, int64_t rs, int rows, int64_t kc, int w,
                                 float *dst);
void dc__sgemm_pack_copy_avx2(const float *src, int64_t cs, int rows, int64_t kc, int w,
                              float *dst);
#endif

/* Rows of the register tile starting at row ir of an mc-row block: mr,
 * except that a last tile of fewer than mr / 2 rows is merged with the
 * one before into two tiles of about equal height (25 rows: 12, 7, 6,
 * not 12, 12, 1) when the kernel takes partial A panels (merge): a tile
 * of very few rows waits on the FMA latency and costs nearly as much as
 * a full one. */
static inline int dc__sgemm_tile_rows(int mr, bool merge, int64_t mc, int64_t ir) {
    int64_t left = mc - ir;
    if (left <= mr) return (int)left;
    if (left >= 2 * mr || !merge || 2 * (left - mr) >= mr) return mr;
    return (int)((left + 1) / 2);
}

/* C = alpha * T + beta * C for an mr x nr tile T (row stride ldt), any
 * strides of C: the edge path of the micro-kernels. */
void dc__sgemm_store_tile(const float *t, int ldt, int mr, int nr, float alpha, float beta,
                          float *c, int64_t rs_c, int64_t cs_c);

#endif
