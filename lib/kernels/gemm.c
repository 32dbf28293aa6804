/* GEMM dispatch: libdeepcore's own SGEMM (gemm_own.c and the micro-kernels)
 * or the cblas the library was built with (OpenBLAS by default).
 *
 * DC_GEMM_AUTO picks per call. OpenBLAS chooses its kernels by CPU model
 * and falls back to old SSE3 ("Prescott") kernels on models it does not
 * know, so the rule compares instruction sets: when our kernels use a
 * wider one than OpenBLAS's core, ours run every f32 product; when they
 * are on par, ours run all but the very large ones (see auto_picks_own).
 * f64 always goes to cblas.
 *
 * OpenBLAS is kept to one thread (its own pool would fight ours); large
 * products are split across the library's pool on either backend. */
#include "kernels.h"

#include "../core/threads.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Products at least this big (FLOPs) are split across threads on cblas. */
#define CBLAS_PAR_FLOPS 4e6

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static atomic_int g_backend;        /* dc_gemm_backend */
static dc_gemm_isa g_blas_isa;      /* what OpenBLAS's core is on par with */

/* The instruction set of an OpenBLAS core (by name): AVX-512 cores,
 * AVX2 cores, and the rest (SSE-era kernels). */
static dc_gemm_isa isa_of_core(const char *core) {
    static const char *const avx512[] = {"SkylakeX", "CooperLake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (strcmp(core, avx512[i]) == 0) return DC_ISA_AVX512;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (strcmp(core, avx2[i]) == 0) return DC_ISA_AVX2;
    return DC_ISA_GENERIC;
}

/* Once, at the first use of any GEMM function: the environment's
 * backend, OpenBLAS's core, OpenBLAS on one thread. */
static void gemm_init(void) {
    /* read once (pthread_once); only a host calling setenv meanwhile races
     * NOLINTNEXTLINE(concurrency-mt-unsafe) */
    const char *env = getenv("DC_GEMM_BACKEND");
    int backend = DC_GEMM_AUTO;
    if (env && strcmp(env, "own") == 0) backend = DC_GEMM_OWN;
    else if (env && strcmp(env, "cblas") == 0) backend = DC_GEMM_CBLAS;
    atomic_store(&g_backend, backend);
#ifdef DC_HAVE_OPENBLAS
    openblas_set_num_threads(1);
    const char *core = openblas_get_corename();
    g_blas_isa = isa_of_core(core ? core : "");
#else
    /* an unknown cblas: assume it is as good as our kernels on big products */
    g_blas_isa = dc__gemm_cpu_isa();
#endif
}

static void ensure_init(void) { pthread_once(&g_init_once, gemm_init); }

dc_status dc_set_gemm_backend(dc_gemm_backend backend) {
    if (backend != DC_GEMM_AUTO && backend != DC_GEMM_OWN && backend != DC_GEMM_CBLAS)
        return dc__fail(DC_E_INVALID, "dc_set_gemm_backend: unknown backend %d", (int)backend);
    ensure_init();
    atomic_store(&g_backend, (int)backend);
    return DC_OK;
}

dc_gemm_backend dc_get_gemm_backend(void) {
    ensure_init();
    return (dc_gemm_backend)atomic_load(&g_backend);
}

/* Products this small (a batch-1 layer of a small MLP) cost more in
 * cblas's setup than in arithmetic: under DC_GEMM_AUTO, when cblas would
 * run them, they run as plain loops. Our kernels take ~40 ns to set up;
 * measured on one thread (ours, then the loops): dot products (B
 * transposed) 1 x 10 x 10 90 ns against 40, 1 x 16 x 16 60 against 80,
 * 8 x 8 x 8 100 against 210, 16 x 16 x 16 150 against 1270; B not
 * transposed 1 x 10 x 10 NN 40 against 30, 10 x 10 x 1 TN 40 against
 * 100, 64 x 64 x 1 TN 150 against 2100. So when the product is ours,
 * only dot products under TINY_DOTS multiply-adds run as loops. A small
 * product on our kernels may allocate a packing buffer (16 x 16 x 16
 * NT), as any larger one may. */
#define TINY_PRODUCT 4096.0
#define TINY_DOTS 250.0

/* With B's rows contiguous (not transposed), row i of C is built TINY_COLS
 * columns at a time as acc[j] += A(i, p) * B(p, j) for p in order: each
 * element sums its products in the same order as the dot product, and
 * the loop over the columns vectorises (1 x 64 x 64 NN 320 ns; 10 x 10 x
 * 1 TN went from 150 to 100 ns, its elements no longer reading op(A) and
 * op(B) through per-element transposition tests). With B transposed, its
 * rows run along k: dot products. alpha 0 reads neither A nor B (NaN or
 * Inf there does not reach C), and k 0 leaves alpha out, as BLAS. */
#define TINY_COLS 64
#define TINY_GEMM(NAME, T)                                                           \
    static void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,      \
                     const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,   \
                     int64_t ldc) {                                                  \
        int64_t ars = ta ? 1 : lda, acs = ta ? lda : 1;                              \
        if (alpha == 0 || k <= 0) { /* C = beta * C: alpha never reaches C */       \
            for (int64_t i = 0; i < m; i++)                                          \
                for (int64_t j = 0; j < n; j++)                                      \
                    c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];          \
            return;                                                                  \
        }                                                                            \
        for (int64_t i = 0; i < m; i++) {                                            \
            T *ci = c + i * ldc;                                                     \
            for (int64_t j0 = 0; j0 < n; j0 += TINY_COLS) {                          \
                int64_t cols = n - j0 < TINY_COLS ? n - j0 : TINY_COLS;              \
                T acc[TINY_COLS];                                                    \
                if (tb) {                                                            \
                    for (int64_t j = 0; j < cols; j++) {                             \
                        const T *bj = b + (j0 + j) * ldb;                            \
                        T s = 0;                                                     \
                        for (int64_t p = 0; p < k; p++) s += a[i * ars + p * acs] * bj[p]; \
                        acc[j] = s;                                                  \
                    }                                                                \
                } else {                                                             \
                    for (int64_t j = 0; j < cols; j++) acc[j] = 0;                   \
                    for (int64_t p = 0; p < k; p++) {                                \
                        T aip = a[i * ars + p * acs];                                \
                        const T *bp = b + p * ldb + j0;                              \
                        for (int64_t j = 0; j < cols; j++) acc[j] += aip * bp[j];    \
                    }                                                                \
                }                                                                    \
                /* beta 0 overwrites (NaN in C does not survive), as BLAS */         \
                if (beta == 0)                                                       \
                    for (int64_t j = 0; j < cols; j++) ci[j0 + j] = alpha * acc[j];  \
                else                                                                 \
                    for (int64_t j = 0; j < cols; j++)                               \
                        ci[j0 + j] = alpha * acc[j] + beta * ci[j0 + j];             \
            }                                                                        \
        }                                                                            \
    }
TINY_GEMM(tiny_sgemm, float)
TINY_GEMM(tiny_dgemm, double)

/* DC_GEMM_AUTO for an f32 product: ours, or cblas? */
static bool auto_picks_own(int64_t m, int64_t n, int64_t k) {
    dc_gemm_isa own = dc__gemm_isa();
    if (own > g_blas_isa) return true;
    if (own < g_blas_isa) return false;
    /* On par (measured against OpenBLAS's SkylakeX kernels): ours from
     * square 64 to 512, on the training shapes and on short k (k <= 16:
     * 0.90-1.95 of OpenBLAS over nine shapes on one thread since the 6 x
     * 64 blocks), OpenBLAS on the largest products (its larger cache
     * blocks). */
    return (double)m * (double)n * (double)k < 1024.0 * 1024 * 1024;
}

/* "OpenBLAS 0.3.21 core Haswell" (or what is known of the cblas) into buf. */
static void describe_cblas(char *buf, size_t size) {
#ifdef DC_HAVE_OPENBLAS
    /* the config reads "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ...": keep two words */
    const char *config = openblas_get_config(), *core = openblas_get_corename();
    if (!config) config = "OpenBLAS";
    int len = 0;
    for (int words = 0; config[len] && words < 2; len++)
        if (config[len + 1] == ' ' || config[len + 1] == '\0') words++;
    snprintf(buf, size, "%.*s core %s, 1 thread", len, config, core ? core : "?");
#else
    snprintf(buf, size, "generic provider");
#endif
}

const char *dc_kernel_info(void) {
    static _Thread_local char info[384];
    ensure_init();
    char blas[160];
    describe_cblas(blas, sizeof blas);
    dc_gemm_isa isa = dc__gemm_isa();
    int backend = atomic_load(&g_backend);
    const char *choice = backend == DC_GEMM_OWN     ? "own"
                         : backend == DC_GEMM_CBLAS ? "cblas"
                         : isa > g_blas_isa         ? "auto: f32 on own"
                         : isa < g_blas_isa         ? "auto: f32 on cblas"
                                                    : "auto: f32 on own unless MNK >= 2^30";
    snprintf(info, sizeof info, "own: %s; cblas: %s; backend %s, f64 on cblas; %d threads",
             dc__gemm_kernel_name(), blas, choice, dc_get_num_threads());
    return info;
}

/* ---------------------------------------------------------------- */
/* cblas, split across the library's threads                         */
/* ---------------------------------------------------------------- */

typedef struct blas_job {
    dc_dtype dtype;
    bool trans_a, trans_b, split_m;
    int nchunks;
    int64_t m, n, k, lda, ldb, ldc;
    double alpha, beta;
    const char *a, *b;
    char *c;
} blas_job;

static void blas_call(const blas_job *j, int64_t m, int64_t n, const char *a, const char *b,
                      char *c) {
    enum CBLAS_TRANSPOSE ta = j->trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = j->trans_b ? CblasTrans : CblasNoTrans;
    if (j->dtype == DC_F32)
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, (float)j->alpha,
                    (const float *)a, (int)j->lda, (const float *)b, (int)j->ldb,
                    (float)j->beta, (float *)c, (int)j->ldc);
    else
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, j->alpha,
                    (const double *)a, (int)j->lda, (const double *)b, (int)j->ldb, j->beta,
                    (double *)c, (int)j->ldc);
}

/* Chunk c of nchunks: a band of rows (or columns) of C, a smaller GEMM
 * on offset operands. */
static void blas_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const blas_job *j = ctx;
    int64_t es = (int64_t)dc_dtype_size(j->dtype);
    int64_t size = j->split_m ? j->m : j->n;
    int64_t lo = size * chunk / j->nchunks, hi = size * (chunk + 1) / j->nchunks;
    if (lo == hi) return;
    if (j->split_m)   /* rows lo..hi of op(A) and of C */
        blas_call(j, hi - lo, j->n, j->a + lo * (j->trans_a ? 1 : j->lda) * es, j->b,
                  j->c + lo * j->ldc * es);
    else              /* columns lo..hi of op(B) and of C */
        blas_call(j, j->m, hi - lo, j->a, j->b + lo * (j->trans_b ? j->ldb : 1) * es,
                  j->c + lo * es);
}

static dc_status gemm_cblas(blas_job *j) {
    if (j->m > INT_MAX || j->n > INT_MAX || j->k > INT_MAX || j->lda > INT_MAX ||
        j->ldb > INT_MAX || j->ldc > INT_MAX)
        return dc__fail(DC_E_OVERFLOW, "matmul: a size exceeds what BLAS can index");
    /* BLAS requires ld >= max(1, columns as stored) even when unused. */
    int64_t min_lda = j->trans_a ? j->m : j->k, min_ldb = j->trans_b ? j->k : j->n;
    if (j->lda < min_lda || j->lda < 1) j->lda = min_lda > 0 ? min_lda : 1;
    if (j->ldb < min_ldb || j->ldb < 1) j->ldb = min_ldb > 0 ? min_ldb : 1;
    if (j->ldc < j->n) j->ldc = j->n;
    double flops = 2.0 * (double)j->m * (double)j->n * (double)j->k;
    int threads = flops >= CBLAS_PAR_FLOPS ? dc__pool_threads() : 1;
    j->split_m = j->m >= j->n;
    int64_t size = j->split_m ? j->m : j->n;
    if (size < threads) threads = (int)size;
    j->nchunks = threads;
    dc__parallel_for(blas_chunk, j, j->nchunks, threads);
    return DC_OK;
}

dc_status dc__gemm(dc_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                   int64_t ldb, double beta, void *c, int64_t ldc) {
    if (dtype != DC_F32 && dtype != DC_F64)
        return dc__fail(DC_E_DTYPE, "matmul: dtype %s is not supported", dc_dtype_name(dtype));
    if (m <= 0 || n <= 0) return DC_OK;
    ensure_init();
    int backend = atomic_load(&g_backend);
    double mnk = (double)m * (double)n * (double)k;
    bool own_f32 = dtype == DC_F32 && (backend == DC_GEMM_OWN ||
                                        (backend == DC_GEMM_AUTO && auto_picks_own(m, n, k)));
    /* C = beta * C, A and B never read, as BLAS specifies: cblas is not
     * asked, since OpenBLAS 0.3.21's small-matrix DGEMM kernels for
     * SkylakeX multiply A by B even with alpha 0 (NaN there reached C on
     * an Intel host with AVX-512, 2026-11-29), and its SGEMM ones
     * mishandled k 0 before (OpenBLAS issue 2914). Ours handles both. */
    bool scale_only = alpha == 0 || k <= 0;
    if ((scale_only && !own_f32) ||
        (backend == DC_GEMM_AUTO && mnk <= TINY_PRODUCT &&
         (!own_f32 || (trans_b && mnk < TINY_DOTS)))) {
        if (dtype == DC_F32)
            tiny_sgemm(trans_a, trans_b, m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c,
                       ldc);
        else
            tiny_dgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return DC_OK;
    }
    if (own_f32)
        return dc__sgemm_own(trans_a, trans_b, m, n, k, (float)alpha, a, lda, b, ldb,
                             (float)beta, c, ldc);
    blas_job j = {.dtype = dtype, .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n,
                  .k = k, .lda = lda, .ldb = ldb, .ldc = ldc, .alpha = alpha, .beta = beta,
                  .a = a, .b = b, .c = c};
    return gemm_cblas(&j);
}
