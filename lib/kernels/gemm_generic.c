/* Portable C micro-kernel of our SGEMM (any CPU), and the general-stride
 * tile store that every micro-kernel uses on its edge path. */
#include "gemm_own.h"

#define GEN_MR 4
#define GEN_NR 8

void dc__sgemm_store_tile(const float *t, int ldt, int mr, int nr, float alpha, float beta,
                          float *c, int64_t rs_c, int64_t cs_c) {
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * rs_c;
        const float *ti = t + i * ldt;
        if (beta == 0.0f)   /* overwrite: NaN or garbage in C must not leak in */
            for (int j = 0; j < nr; j++) ci[j * cs_c] = alpha * ti[j];
        else
            for (int j = 0; j < nr; j++) ci[j * cs_c] = alpha * ti[j] + beta * ci[j * cs_c];
    }
}

/* The whole MR x NR tile in a local array the compiler keeps in vector
 * registers (SSE2 at least on x86-64). */
static void generic_ukernel(int64_t kc, const dc__sgemm_panels *x, float alpha, float beta,
                            float *c, int64_t rs_c, int64_t cs_c, int mr, int nr) {
    const float *ap = x->a, *bp = x->b;   /* packed panels only */
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += ap[i] * bp[j];
        ap += GEN_MR;
        bp += GEN_NR;
    }
    dc__sgemm_store_tile(&acc[0][0], GEN_NR, mr, nr, alpha, beta, c, rs_c, cs_c);
}

const dc__sgemm_kernel dc__sgemm_kernel_generic = {
    .name = "generic 4x8",
    .isa = DC_ISA_GENERIC,
    .mr = GEN_MR,
    .nr = GEN_NR,
    .vw = GEN_NR,
    .mc = 128,
    .kc = 256,
    .nc = 1024,
    .ukernel = generic_ukernel,
    .reads_in_place = false,
    .pack_kcontig = NULL,
    .pack_copy = NULL,
};
