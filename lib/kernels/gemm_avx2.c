/* AVX2 + FMA micro-kernel of our SGEMM: a 6 x 16 tile of C in 12 ymm
 * accumulators; per step of k, two vector loads of the B panel, six
 * broadcasts of the A panel and 12 FMAs. The A panel is read packed (or
 * in place with its rows adjacent) or in place along its rows (two row
 * pointers, three rows each); the B panel packed or in place. Compiled for AVX2 through
 * function attributes only; the driver calls it after checking the CPU. */
#include "gemm_own.h"

#if DC_GEMM_X86
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))
#define INLINE256 static inline __attribute__((always_inline)) T256
#define MR 6
#define NR 16

#define KARGS                                                                              \
    int64_t kc, const dc__sgemm_panels *x, float alpha, float beta, float *c, int64_t rs_c, \
        int64_t cs_c, int mr, int nr
#define KPASS kc, x, alpha, beta, c, rs_c, cs_c, mr, nr

/* Lane masks for the first count lanes of a ymm (maskload/maskstore). */
INLINE256 __m256i lane_mask(int count) {
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
}

/* One row of C from its accumulators: plain vector stores on full rows,
 * masked ones (slow on some CPUs) only at the right edge. */
INLINE256 void store_row(float *c, __m256 v0, __m256 v1, int nv, int nr, __m256i m0,
                         __m256i m1, __m256 valpha, float beta) {
    v0 = _mm256_mul_ps(v0, valpha);
    if (nv > 1) v1 = _mm256_mul_ps(v1, valpha);
    if (nr == NR) {
        if (beta != 0.0f) {
            __m256 vbeta = _mm256_set1_ps(beta);
            v0 = _mm256_fmadd_ps(_mm256_loadu_ps(c), vbeta, v0);
            v1 = _mm256_fmadd_ps(_mm256_loadu_ps(c + 8), vbeta, v1);
        }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
        return;
    }
    if (beta != 0.0f) {   /* beta == 0 never reads C: NaN there is dropped */
        __m256 vbeta = _mm256_set1_ps(beta);
        v0 = _mm256_fmadd_ps(_mm256_maskload_ps(c, m0), vbeta, v0);
        if (nv > 1) v1 = _mm256_fmadd_ps(_mm256_maskload_ps(c + 8, m1), vbeta, v1);
    }
    _mm256_maskstore_ps(c, m0, v0);
    if (nv > 1) _mm256_maskstore_ps(c + 8, m1, v1);
}

#define DECL(i) __m256 r##i##_0 = _mm256_setzero_ps(), r##i##_1 = _mm256_setzero_ps()
#define STEP(i)                                                                            \
    if (M > i) {                                                                           \
        __m256 a_ = _mm256_broadcast_ss(A_PTR(i));                                         \
        r##i##_0 = _mm256_fmadd_ps(a_, b0, r##i##_0);                                      \
        if (V > 1) r##i##_1 = _mm256_fmadd_ps(a_, b1, r##i##_1);                           \
    }
#define STORE(i)                                                                           \
    if (M > i) store_row(c + i * rs_c, r##i##_0, r##i##_1, V, nr, m0, m1, valpha, beta)
#define SPILL(i)                                                                           \
    if (M > i) {                                                                           \
        _mm256_store_ps(tile + i * NR, r##i##_0);                                          \
        if (V > 1) _mm256_store_ps(tile + i * NR + 8, r##i##_1);                           \
    }
#define ALL_ROWS(X) X(0); X(1); X(2); X(3); X(4); X(5)

/* Address of element i of the A panel at the current step. */
#define A_PTR(i) (ROWPTR ? ((i) < 3 ? a0 : a3) + ((i) % 3) * ars : ap + (i))

/* The kernel for exactly M rows (M == mr), V vectors of columns (nr <=
 * 8 * V) and one way of reading A; constants in each instance below. */
INLINE256 void kernel_body(const int M, const int V, const bool ROWPTR, KARGS) {
    ALL_ROWS(DECL);
    const float *ap = x->a, *bp = x->b;
    int64_t ars = x->a_rs, astep = x->a_cs, bstep = x->b_rs;
    const float *a0 = ap, *a3 = M > 3 ? ap + 3 * ars : ap;
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(bp);
        __m256 b1 = V > 1 ? _mm256_loadu_ps(bp + 8) : b0;
        ALL_ROWS(STEP);
        if (ROWPTR) {
            a0++;
            a3++;
        } else {
            ap += astep;
        }
        bp += bstep;
    }
    __m256 valpha = _mm256_set1_ps(alpha);
    if (cs_c == 1) {
        __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
        ALL_ROWS(STORE);
    } else {
        __attribute__((aligned(32))) float tile[MR * NR];
        ALL_ROWS(SPILL);
        dc__sgemm_store_tile(tile, NR, mr, nr, alpha, beta, c, rs_c, cs_c);
    }
}

/* ---- packing: 8 x 8 (and 4 x 8) transposes, masked copies ----
 * Zero padding is written by the same vector stores as the data (rows past
 * the end load as zero): a separate zeroing loop would be turned into a
 * memset call per step. */

/* Row r of the source at step p, or zeros past the last row. */
INLINE256 __m256 row8(const float *src, int64_t rs, int r, int rows) {
    return r < rows ? _mm256_loadu_ps(src + r * rs) : _mm256_setzero_ps();
}

/* Rows r..r+7 (zero from rows on), steps p..p+7 of src into dst (panel
 * width w); src points at row r, step p. */
INLINE256 void transpose_8x8(const float *src, int64_t rs, int rows, float *dst, int w) {
    __m256 r0 = row8(src, rs, 0, rows), r1 = row8(src, rs, 1, rows),
           r2 = row8(src, rs, 2, rows), r3 = row8(src, rs, 3, rows),
           r4 = row8(src, rs, 4, rows), r5 = row8(src, rs, 5, rows),
           r6 = row8(src, rs, 6, rows), r7 = row8(src, rs, 7, rows);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + w, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * w, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * w, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * w, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * w, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * w, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * w, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* Rows r..r+3 (zero from rows on), steps p..p+7. */
INLINE256 void transpose_4x8(const float *src, int64_t rs, int rows, float *dst, int w) {
    __m256 r0 = row8(src, rs, 0, rows), r1 = row8(src, rs, 1, rows),
           r2 = row8(src, rs, 2, rows), r3 = row8(src, rs, 3, rows);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    _mm_storeu_ps(dst, _mm256_castps256_ps128(u0));
    _mm_storeu_ps(dst + w, _mm256_castps256_ps128(u1));
    _mm_storeu_ps(dst + 2 * w, _mm256_castps256_ps128(u2));
    _mm_storeu_ps(dst + 3 * w, _mm256_castps256_ps128(u3));
    _mm_storeu_ps(dst + 4 * w, _mm256_extractf128_ps(u0, 1));
    _mm_storeu_ps(dst + 5 * w, _mm256_extractf128_ps(u1, 1));
    _mm_storeu_ps(dst + 6 * w, _mm256_extractf128_ps(u2, 1));
    _mm_storeu_ps(dst + 7 * w, _mm256_extractf128_ps(u3, 1));
}

T256 void dc__sgemm_pack_kcontig_avx2(const float *src, int64_t rs, int rows, int64_t kc, int w,
                                      float *dst) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        float *d = dst + p * w;
        int r = 0;
        for (; r + 8 <= w; r += 8) transpose_8x8(src + r * rs + p, rs, rows - r, d + r, w);
        for (; r + 4 <= w; r += 4) transpose_4x8(src + r * rs + p, rs, rows - r, d + r, w);
        for (; r < w; r++)
            for (int i = 0; i < 8; i++) d[i * w + r] = r < rows ? src[r * rs + p + i] : 0.0f;
    }
    for (; p < kc; p++)
        for (int r = 0; r < w; r++) dst[p * w + r] = r < rows ? src[r * rs + p] : 0.0f;
}

/* Copies of rows floats per step, zeros up to w, in whole vectors where
 * they fit the panel. */
T256 void dc__sgemm_pack_copy_avx2(const float *src, int64_t cs, int rows, int64_t kc, int w,
                                   float *dst) {
    int whole = w / 8 * 8;
    for (int64_t p = 0; p < kc; p++, src += cs, dst += w) {
        int r = 0;
        for (; r < whole; r += 8) {
            __m256 v = r + 8 <= rows ? _mm256_loadu_ps(src + r)
                       : r < rows    ? _mm256_maskload_ps(src + r, lane_mask(rows - r))
                                     : _mm256_setzero_ps();
            _mm256_storeu_ps(dst + r, v);
        }
        if (r < w) {   /* a panel width that is not whole vectors: rows == w */
            __m256i m = lane_mask(w - r);
            _mm256_maskstore_ps(dst + r, m, _mm256_maskload_ps(src + r, m));
        }
    }
}

/* ---- the kernel instances ---- */

#define INSTANCES(M)                                                                       \
    static T256 void kernel_##M##_1(KARGS) { kernel_body(M, 1, false, KPASS); }            \
    static T256 void kernel_##M##_2(KARGS) { kernel_body(M, 2, false, KPASS); }            \
    static T256 void kernel_##M##_1p(KARGS) { kernel_body(M, 1, true, KPASS); }            \
    static T256 void kernel_##M##_2p(KARGS) { kernel_body(M, 2, true, KPASS); }
INSTANCES(1)
INSTANCES(2)
INSTANCES(3)
INSTANCES(4)
INSTANCES(5)
INSTANCES(6)

typedef void (*kernel_fn)(KARGS);
#define ROW_OF(M) {{kernel_##M##_1, kernel_##M##_2}, {kernel_##M##_1p, kernel_##M##_2p}}
static const kernel_fn kernels[MR][2][2] = {
    ROW_OF(1), ROW_OF(2), ROW_OF(3), ROW_OF(4), ROW_OF(5), ROW_OF(6),
};

/* [rows][A by row pointers][two vectors] */
static void avx2_ukernel(KARGS) { kernels[mr - 1][x->a_rs != 1][nr > 8](KPASS); }

const dc__sgemm_kernel dc__sgemm_kernel_avx2 = {
    .name = "avx2 6x16",
    .isa = DC_ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .vw = 8,
    .mc = 120,
    .kc = 256,
    .nc = 512,
    .ukernel = avx2_ukernel,
    .reads_in_place = true,
    .pack_kcontig = dc__sgemm_pack_kcontig_avx2,
    .pack_copy = dc__sgemm_pack_copy_avx2,
};

#endif /* DC_GEMM_X86 */
