/* Broadcasting and strided N-d iteration shared by all ops. */
#include "internal.h"

#include <string.h>

dc_status dc__broadcast_shapes(int na, const int64_t *sa, int nb, const int64_t *sb,
                               int *nout, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - na), ib = i - (n - nb);
        int64_t a = ia >= 0 ? sa[ia] : 1, b = ib >= 0 ? sb[ib] : 1;
        if (a != b && a != 1 && b != 1)
            return dc__fail(DC_E_SHAPE,
                            "shapes do not broadcast: size %lld against %lld at axis %d",
                            (long long)a, (long long)b, i);
        out[i] = a == 1 ? b : a;
    }
    *nout = n;
    return DC_OK;
}

void dc__broadcast_strides(const dc_tensor *t, int ndim, const int64_t *shape,
                           int64_t *strides) {
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        strides[i] = (j < 0 || (t->shape[j] == 1 && shape[i] != 1)) ? 0
                     : t->strides[j];
    }
}

void dc__iter_init(dc_iter *it, int ndim, const int64_t *shape, int nops,
                   int64_t strides[][DC_MAX_DIMS], const int64_t *offsets) {
    it->nops = nops;
    it->started = false;
    for (int k = 0; k < nops; k++) it->base[k] = offsets ? offsets[k] : 0;
    /* Drop size-1 axes, then merge an axis into the next when that is
     * contiguous for every operand (stride[i] == stride[i+1] * size[i+1]). */
    int n = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        if (n > 0) {
            bool merge = true;
            for (int k = 0; k < nops; k++)
                if (it->strides[k][n - 1] != strides[k][i] * shape[i]) merge = false;
            if (merge) {
                it->shape[n - 1] *= shape[i];
                for (int k = 0; k < nops; k++) it->strides[k][n - 1] = strides[k][i];
                continue;
            }
        }
        it->shape[n] = shape[i];
        for (int k = 0; k < nops; k++) it->strides[k][n] = strides[k][i];
        n++;
    }
    if (n == 0) {
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
        n = 1;
    }
    it->ndim = n;
    int64_t rows = 1;
    for (int i = 0; i < n - 1; i++) rows *= it->shape[i];
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) rows = 0;
    it->rows_left = rows;
    it->inner = it->shape[n - 1];
    for (int k = 0; k < nops; k++) it->istride[k] = it->strides[k][n - 1];
    memset(it->idx, 0, sizeof it->idx);
}

bool dc__iter_next(dc_iter *it) {
    if (it->rows_left <= 0) return false;
    it->rows_left--;
    int n = it->ndim;
    if (!it->started) {
        it->started = true;
    } else {
        /* odometer increment over the outer axes */
        for (int i = n - 2; i >= 0; i--) {
            if (++it->idx[i] < it->shape[i]) break;
            it->idx[i] = 0;
        }
    }
    for (int k = 0; k < it->nops; k++) {
        int64_t o = it->base[k];
        for (int i = 0; i < n - 1; i++) o += it->idx[i] * it->strides[k][i];
        it->off[k] = o;
    }
    return true;
}

void dc__iter_init_pair_rows(dc_iter *it, const dc_tensor *dst, const dc_tensor *src,
                             int64_t lo, int64_t hi) {
    int64_t strides[2][DC_MAX_DIMS];
    memcpy(strides[0], dst->strides, sizeof dst->strides);
    memcpy(strides[1], src->strides, sizeof src->strides);
    int64_t offs[2] = {dst->offset, src->offset};
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, dst->shape, sizeof shape);
    if (dst->ndim > 0) {
        shape[0] = hi - lo;
        offs[0] += lo * dst->strides[0];
        offs[1] += lo * src->strides[0];
    }
    dc__iter_init(it, dst->ndim, shape, 2, strides, offs);
}
