/* Batching with seeded shuffling.
 *
 * The loader holds references to x and y and an order of the N samples
 * (identity, or a Fisher-Yates permutation drawn from the loader's own
 * generator, seeded once at creation). The first epoch's order is drawn
 * at creation; each dc_loader_reset starts a new epoch with a new order,
 * so a given seed always gives the same sequence of epochs. Batches are
 * contiguous copies, made with recording off: they are leaves. */
#include "io_internal.h"

#include <string.h>

struct dc_loader {
    dc_tensor *x;
    dc_tensor *y;            /* or NULL */
    int64_t n;               /* samples: x's size along axis 0 */
    int64_t batch_size;
    bool shuffle;
    bool drop_last;
    dc_rng rng;
    dc_tensor *order;        /* (n) i64: the epoch's sample order */
    int64_t next_batch;      /* index of the next batch in this epoch */
};

static int64_t batch_count(const dc_loader *l) {
    if (l->drop_last) return l->n / l->batch_size;
    return l->n / l->batch_size + (l->n % l->batch_size != 0);
}

/* An unbiased index in [0, bound) (rejection of the biased top range). */
static uint64_t rng_below(dc_rng *rng, uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = dc__rng_next(rng); while (r >= limit);
    return r % bound;
}

static void draw_order(dc_loader *l) {
    int64_t *o = dc__tensor_data(l->order);
    for (int64_t i = 0; i < l->n; i++) o[i] = i;
    if (!l->shuffle) return;
    for (int64_t i = l->n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&l->rng, (uint64_t)i + 1);
        int64_t tmp = o[i];
        o[i] = o[j];
        o[j] = tmp;
    }
}

static dc_status check_inputs(const dc_tensor *x, const dc_tensor *y, int64_t batch_size) {
    const char *f = "dc_loader_new";
    DC_CHECK_TENSOR_OR_STATUS(x, f, "x");
    if (y && !dc__is_tensor(y)) return dc__fail(DC_E_INVALID, "%s: 'y' is not a live tensor", f);
    if (x->ndim < 1) return dc__fail(DC_E_SHAPE, "%s: x must have at least one axis", f);
    if (y && y->ndim < 1) return dc__fail(DC_E_SHAPE, "%s: y must have at least one axis", f);
    if (y && y->shape[0] != x->shape[0])
        return dc__fail(DC_E_SHAPE, "%s: x has %lld samples but y has %lld", f,
                        (long long)x->shape[0], (long long)y->shape[0]);
    if (batch_size < 1)
        return dc__fail(DC_E_INVALID, "%s: batch_size %lld is not positive", f,
                        (long long)batch_size);
    return DC_OK;
}

dc_loader *dc_loader_new(dc_tensor *x, dc_tensor *y, int64_t batch_size, int shuffle,
                         int drop_last, uint64_t seed) {
    if (check_inputs(x, y, batch_size) != DC_OK) return NULL;
    dc_loader *l = dc__calloc(1, sizeof *l);
    if (!l) return NULL;
    l->n = x->shape[0];
    l->order = dc__tensor_new(DC_I64, 1, &l->n, false);
    if (!l->order) {
        dc__free(l);
        return NULL;
    }
    l->x = dc_retain(x);
    l->y = y ? dc_retain(y) : NULL;
    l->batch_size = batch_size;
    l->shuffle = shuffle != 0;
    l->drop_last = drop_last != 0;
    dc_rng_seed(&l->rng, seed);
    draw_order(l);
    return l;
}

void dc_loader_release(dc_loader *l) {
    if (!l) return;
    dc_release(l->x);
    dc_release(l->y);
    dc_release(l->order);
    dc__free(l);
}

int64_t dc_loader_num_batches(const dc_loader *l) {
    if (!l) {
        dc__fail(DC_E_INVALID, "dc_loader_num_batches: 'l' is NULL");
        return -1;
    }
    return batch_count(l);
}

dc_status dc_loader_reset(dc_loader *l) {
    if (!l) return dc__fail(DC_E_INVALID, "dc_loader_reset: 'l' is NULL");
    l->next_batch = 0;
    draw_order(l);
    return DC_OK;
}

/* Rows [start, start + len) of the epoch's order, taken from t. */
static dc_tensor *take(const dc_loader *l, dc_tensor *t, int64_t start, int64_t len) {
    if (!l->shuffle) return dc_clone(dc_narrow(t, 0, start, len));
    return dc_index_select(t, 0, dc_narrow(l->order, 0, start, len));
}

int dc_loader_next(dc_loader *l, dc_tensor **xb, dc_tensor **yb) {
    if (!l) {
        dc__fail(DC_E_INVALID, "dc_loader_next: 'l' is NULL");
        return -1;
    }
    if (!xb) {
        dc__fail(DC_E_INVALID, "dc_loader_next: 'xb' is NULL");
        return -1;
    }
    if (l->next_batch >= batch_count(l)) return 0;
    int64_t start = l->next_batch * l->batch_size;
    int64_t len = l->n - start < l->batch_size ? l->n - start : l->batch_size;

    dc_scope *scope = dc_scope_begin();
    if (!scope) return -1;
    int prev = dc_set_grad_enabled(0);
    dc_tensor *bx = dc_retain(take(l, l->x, start, len));
    dc_tensor *by = l->y && yb ? dc_retain(take(l, l->y, start, len)) : NULL;
    dc_set_grad_enabled(prev);
    dc_scope_end(scope);
    if (!bx || (l->y && yb && !by)) {
        dc_release(bx);
        dc_release(by);
        return -1;
    }
    /* Publish both before storing either: out-parameters stay untouched on failure. */
    if (by && !dc__scope_adopt(by)) {
        dc_release(bx);
        dc_release(by);
        return -1;
    }
    if (!dc__scope_adopt(bx)) {
        dc_release(bx);   /* by belongs to the scope now */
        return -1;
    }
    *xb = bx;
    if (yb) *yb = by;
    l->next_batch++;
    return 1;
}
