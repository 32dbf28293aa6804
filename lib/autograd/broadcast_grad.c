/* The gradient of a broadcast: summing back over the broadcast axes. */
#include "../core/internal.h"

#include <string.h>

dc_tensor *dc__sum_to_shape(dc_tensor *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    if (g->ndim == ndim && memcmp(g->shape, shape, (size_t)ndim * sizeof *shape) == 0)
        return dc__publish(dc_retain(g));
    int axes[DC_MAX_DIMS], n = 0;
    int lead = g->ndim - ndim;
    for (int i = 0; i < g->ndim; i++) {
        int j = i - lead;
        if (j < 0 || (shape[j] == 1 && g->shape[i] != 1)) axes[n++] = i;
    }
    dc_tensor *s = dc_sum(g, axes, n, 1);
    return dc_reshape(s, ndim, shape);
}
