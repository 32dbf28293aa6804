/* Hot loops behind the ops. The GEMM entry point is the one place that
 * chooses a backend (cblas today; our own kernels may join it). */
#ifndef DEEPCORE_KERNELS_H
#define DEEPCORE_KERNELS_H

#include "../core/internal.h"

/* C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row
 * strides (in elements) of A, B and C as stored. dtype is DC_F32 or
 * DC_F64. Records DC_E_OVERFLOW when a size does not fit the BLAS int. */
dc_status dc__gemm(dc_dtype dtype, bool trans_a, bool trans_b, int64_t m,
                   int64_t n, int64_t k, double alpha, const void *a,
                   int64_t lda, const void *b, int64_t ldb, double beta,
                   void *c, int64_t ldc);

#endif
