/* GEMM dispatch: cblas (OpenBLAS or another provider chosen at build time). */
#include "kernels.h"

#include <cblas.h>
#include <limits.h>

dc_status dc__gemm(dc_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, double alpha, const void *a, int64_t lda, const void *b,
                   int64_t ldb, double beta, void *c, int64_t ldc) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return dc__fail(DC_E_OVERFLOW, "matmul: a size exceeds what BLAS can index");
    if (m == 0 || n == 0) return DC_OK;
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    /* BLAS requires ld >= max(1, columns as stored) even when unused. */
    int64_t min_lda = trans_a ? m : k, min_ldb = trans_b ? k : n;
    if (lda < min_lda || lda < 1) lda = min_lda > 0 ? min_lda : 1;
    if (ldb < min_ldb || ldb < 1) ldb = min_ldb > 0 ? min_ldb : 1;
    if (ldc < n) ldc = n;
    if (dtype == DC_F32)
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, (float)alpha, a, (int)lda,
                    b, (int)ldb, (float)beta, c, (int)ldc);
    else if (dtype == DC_F64)
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                    (int)ldb, beta, c, (int)ldc);
    else
        return dc__fail(DC_E_DTYPE, "matmul: dtype %s is not supported", dc_dtype_name(dtype));
    return DC_OK;
}

dc_status dc_set_gemm_backend(dc_gemm_backend backend) {
    (void)backend;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_gemm_backend dc_get_gemm_backend(void) { return DC_GEMM_CBLAS; }

const char *dc_kernel_info(void) { return "cblas (STUB)"; }
