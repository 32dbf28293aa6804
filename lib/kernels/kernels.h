/* Hot loops behind the ops. The GEMM entry point is the one place that
 * chooses a backend: libdeepcore's own SGEMM (lib/kernels/gemm_*.c) or
 * the cblas the library was built with. */
#ifndef DEEPCORE_KERNELS_H
#define DEEPCORE_KERNELS_H

#include "../core/internal.h"

/* C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row
 * strides (in elements) of A, B and C as stored. dtype is DC_F32 or
 * DC_F64. beta == 0 overwrites C (NaN there is ignored). Records
 * DC_E_OVERFLOW when a size does not fit the BLAS int and cblas runs it,
 * DC_E_NOMEM when our kernels cannot get their packing buffers. */
dc_status dc__gemm(dc_dtype dtype, bool trans_a, bool trans_b, int64_t m,
                   int64_t n, int64_t k, double alpha, const void *a,
                   int64_t lda, const void *b, int64_t ldb, double beta,
                   void *c, int64_t ldc);

/* ---- internals of our SGEMM, for its tests and benchmark ---- */

/* Instruction sets our micro-kernels exist for, weakest first. */
typedef enum dc_gemm_isa {
    DC_ISA_GENERIC = 0,   /* portable C */
    DC_ISA_AVX2 = 1,      /* AVX2 + FMA */
    DC_ISA_AVX512 = 2     /* AVX-512F/VL/DQ */
} dc_gemm_isa;

/* The best ISA this CPU runs (detected once). */
dc_gemm_isa dc__gemm_cpu_isa(void);
/* The ISA our SGEMM uses now. */
dc_gemm_isa dc__gemm_isa(void);
/* Forces our SGEMM onto isa (tests, benchmarks); -1 returns to the best
 * one. DC_E_UNSUPPORTED when the CPU cannot run isa, DC_E_INVALID for an
 * unknown value. Not for use while another thread runs a GEMM. */
dc_status dc__gemm_force_isa(int isa);
const char *dc__gemm_isa_name(dc_gemm_isa isa);
/* The micro-kernel in use, e.g. "avx512 12x32". */
const char *dc__gemm_kernel_name(void);

/* Our SGEMM itself (whatever the backend setting), with dc__gemm's
 * arguments; any strides >= 0 work, sizes are not limited to int. */
dc_status dc__sgemm_own(bool trans_a, bool trans_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc);

#endif
