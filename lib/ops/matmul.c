/* Matrix products on the GEMM kernels. */
#include "../core/internal.h"
#include "op_util.h"

dc_tensor * dc_matmul(dc_tensor *a, dc_tensor *b) {
    (void)a;
    (void)b;
    dc__fail(DC_E_UNSUPPORTED, "dc_matmul: STUB not written yet");
    return NULL;
}

dc_status dc__matmul_backward(dc_node *node, dc_tensor *out, dc_tensor *gout, dc_tensor **gin) {
    (void)node; (void)out; (void)gout; (void)gin;
    return dc__fail(DC_E_UNSUPPORTED, "dc__matmul_backward: STUB not written yet");
}
