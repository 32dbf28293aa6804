/* Losses as handles, with PyTorch 1.13's semantics (torch.nn.MSELoss,
 * L1Loss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,
 * BCEWithLogitsLoss).
 *
 * Every loss is a composite of public differentiable ops, computed inside a
 * private scope: autodiff comes for free and no backward is needed here.
 * Only the class-index targets are read directly (they are not
 * differentiable): they are checked, and turned into a safe gather index
 * (ignored entries point at class 0) plus a "kept" mask. */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "../ops/op_util.h"

#define DC_LOSS_MAGIC 0x44434c31u  /* "DCL1" */
#define DC_LOSS_DEAD 0xdeadd055u

struct dc_loss {
    uint32_t magic;
    dc_loss_kind kind;
    dc_reduction reduction;
    double beta;              /* smooth L1 beta / huber delta */
    int64_t ignore_index;
    double label_smoothing;
    dc_tensor *weight;        /* one reference, or NULL */
    dc_tensor *pos_weight;    /* one reference, or NULL */
};

static const char *const kind_names[] = {
    "MSE", "L1", "smooth L1", "Huber", "cross-entropy", "NLL", "BCE", "BCE with logits",
};

/* Records DC_E_INVALID for a NULL or dead handle. */
static dc_status check_loss(const dc_loss *loss, const char *func) {
    if (loss == NULL) return dc__fail(DC_E_INVALID, "%s: 'loss' is NULL", func);
    if (loss->magic != DC_LOSS_MAGIC)
        return dc__fail(DC_E_INVALID, "%s: 'loss' is not a live loss", func);
    return DC_OK;
}

/* Records DC_E_INVALID unless the loss is of one of the n kinds. */
static dc_status require_kind(const dc_loss *loss, const char *func, const char *option,
                              int n, const dc_loss_kind *kinds) {
    for (int i = 0; i < n; i++)
        if (loss->kind == kinds[i]) return DC_OK;
    return dc__fail(DC_E_INVALID, "%s: a %s loss has no %s", func, kind_names[loss->kind],
                    option);
}

static bool is_class_kind(dc_loss_kind kind) {
    return kind == DC_LOSS_CROSS_ENTROPY || kind == DC_LOSS_NLL;
}

/* ---------------------------------------------------------------- */
/* The handle and its options                                        */
/* ---------------------------------------------------------------- */

dc_loss *dc_loss_new(dc_loss_kind kind, dc_reduction reduction) {
    if ((int)kind < DC_LOSS_MSE || (int)kind > DC_LOSS_BCE_WITH_LOGITS) {
        dc__fail(DC_E_INVALID, "dc_loss_new: unknown loss kind %d", (int)kind);
        return NULL;
    }
    if ((int)reduction < DC_REDUCTION_MEAN || (int)reduction > DC_REDUCTION_NONE) {
        dc__fail(DC_E_INVALID, "dc_loss_new: unknown reduction %d", (int)reduction);
        return NULL;
    }
    dc_loss *loss = dc__calloc(1, sizeof *loss);
    if (!loss) return NULL;
    loss->magic = DC_LOSS_MAGIC;
    loss->kind = kind;
    loss->reduction = reduction;
    loss->beta = 1.0;
    loss->ignore_index = -100;
    return loss;
}

void dc_loss_release(dc_loss *loss) {
    if (loss == NULL || loss->magic != DC_LOSS_MAGIC) return;
    dc_release(loss->weight);
    dc_release(loss->pos_weight);
    loss->magic = DC_LOSS_DEAD;
    dc__free(loss);
}

dc_status dc_loss_set_beta(dc_loss *loss, double beta) {
    static const dc_loss_kind kinds[] = {DC_LOSS_SMOOTH_L1, DC_LOSS_HUBER};
    dc_status st = check_loss(loss, "dc_loss_set_beta");
    if (st == DC_OK) st = require_kind(loss, "dc_loss_set_beta", "beta/delta", 2, kinds);
    if (st != DC_OK) return st;
    /* PyTorch: smooth L1 takes beta >= 0 (0 is L1), huber needs delta > 0 */
    bool ok = loss->kind == DC_LOSS_SMOOTH_L1 ? beta >= 0.0 : beta > 0.0;
    if (!ok || !isfinite(beta))
        return dc__fail(DC_E_INVALID, "dc_loss_set_beta: %s %g must be finite and %s 0",
                        loss->kind == DC_LOSS_SMOOTH_L1 ? "beta" : "delta", beta,
                        loss->kind == DC_LOSS_SMOOTH_L1 ? ">=" : ">");
    loss->beta = beta;
    return DC_OK;
}

dc_status dc_loss_set_ignore_index(dc_loss *loss, int64_t index) {
    static const dc_loss_kind kinds[] = {DC_LOSS_CROSS_ENTROPY, DC_LOSS_NLL};
    dc_status st = check_loss(loss, "dc_loss_set_ignore_index");
    if (st == DC_OK) st = require_kind(loss, "dc_loss_set_ignore_index", "ignore_index", 2, kinds);
    if (st != DC_OK) return st;
    loss->ignore_index = index;
    return DC_OK;
}

dc_status dc_loss_set_label_smoothing(dc_loss *loss, double s) {
    static const dc_loss_kind kinds[] = {DC_LOSS_CROSS_ENTROPY};
    dc_status st = check_loss(loss, "dc_loss_set_label_smoothing");
    if (st == DC_OK)
        st = require_kind(loss, "dc_loss_set_label_smoothing", "label smoothing", 1, kinds);
    if (st != DC_OK) return st;
    if (!(s >= 0.0 && s <= 1.0))
        return dc__fail(DC_E_INVALID, "dc_loss_set_label_smoothing: %g is not in [0, 1]", s);
    loss->label_smoothing = s;
    return DC_OK;
}

/* Shared by the two weight setters: checks t (NULL clears) and swaps it
 * into *slot with a reference of the loss's own. */
static dc_status set_tensor_option(dc_tensor **slot, dc_tensor *t, const char *func,
                                   const char *arg, bool one_dim) {
    if (t != NULL) {
        DC_CHECK_TENSOR_OR_STATUS(t, func, arg);
        if (!dc__dtype_is_float(t->dtype))
            return dc__fail(DC_E_DTYPE, "%s: weights must be f32 or f64, not %s", func,
                            dc_dtype_name(t->dtype));
        if (one_dim && t->ndim != 1)
            return dc__fail(DC_E_SHAPE, "%s: class weights must be 1-D (C), not %d-D", func,
                            t->ndim);
    }
    dc_release(*slot);
    *slot = dc_retain(t);
    return DC_OK;
}

dc_status dc_loss_set_weight(dc_loss *loss, dc_tensor *weight) {
    static const dc_loss_kind kinds[] = {DC_LOSS_CROSS_ENTROPY, DC_LOSS_NLL, DC_LOSS_BCE,
                                         DC_LOSS_BCE_WITH_LOGITS};
    dc_status st = check_loss(loss, "dc_loss_set_weight");
    if (st == DC_OK) st = require_kind(loss, "dc_loss_set_weight", "weight", 4, kinds);
    if (st != DC_OK) return st;
    return set_tensor_option(&loss->weight, weight, "dc_loss_set_weight", "weight",
                             is_class_kind(loss->kind));
}

dc_status dc_loss_set_pos_weight(dc_loss *loss, dc_tensor *pos_weight) {
    static const dc_loss_kind kinds[] = {DC_LOSS_BCE_WITH_LOGITS};
    dc_status st = check_loss(loss, "dc_loss_set_pos_weight");
    if (st == DC_OK) st = require_kind(loss, "dc_loss_set_pos_weight", "pos_weight", 1, kinds);
    if (st != DC_OK) return st;
    return set_tensor_option(&loss->pos_weight, pos_weight, "dc_loss_set_pos_weight",
                             "pos_weight", false);
}

/* ---------------------------------------------------------------- */
/* Shared checks and reductions                                      */
/* ---------------------------------------------------------------- */

static bool same_shape(const dc_tensor *a, const dc_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* Records DC_E_SHAPE unless target has input's shape. */
static bool require_same_shape(const dc_tensor *input, const dc_tensor *target,
                               const char *what) {
    if (same_shape(input, target)) return true;
    dc__fail(DC_E_SHAPE, "dc_loss_forward: %s has %d dims (first size %lld), the input %d "
             "(first size %lld); they must have one shape", what, target->ndim,
             (long long)(target->ndim ? target->shape[0] : 1), input->ndim,
             (long long)(input->ndim ? input->shape[0] : 1));
    return false;
}

/* An elementwise weight (BCE weight, pos_weight): input's dtype, and it
 * broadcasts to the input's shape without growing it. */
static bool check_broadcast_weight(const dc_tensor *w, const dc_tensor *input,
                                   const char *what) {
    if (w->dtype != input->dtype) {
        dc__fail(DC_E_DTYPE, "dc_loss_forward: %s is %s, the input %s", what,
                 dc_dtype_name(w->dtype), dc_dtype_name(input->dtype));
        return false;
    }
    int nd;
    int64_t shape[DC_MAX_DIMS];
    if (w->ndim <= input->ndim &&
        dc__broadcast_shapes(w->ndim, w->shape, input->ndim, input->shape, &nd, shape) ==
            DC_OK &&
        nd == input->ndim && memcmp(shape, input->shape, (size_t)nd * sizeof *shape) == 0)
        return true;
    dc__fail(DC_E_SHAPE, "dc_loss_forward: %s (%d dims) does not broadcast to the input's "
             "shape (%d dims)", what, w->ndim, input->ndim);
    return false;
}

/* Mean / sum over every element, or l itself. */
static dc_tensor *reduce_all(dc_tensor *l, dc_reduction reduction) {
    switch (reduction) {
    case DC_REDUCTION_SUM: return dc_sum(l, NULL, 0, 0);
    case DC_REDUCTION_MEAN: return dc_mean(l, NULL, 0, 0);
    default: return l;
    }
}

/* ---------------------------------------------------------------- */
/* Elementwise losses: x, y: (...) -> (...)                          */
/* ---------------------------------------------------------------- */

/* |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta  (beta 0: |d|) */
static dc_tensor *smooth_l1(dc_tensor *d, double beta) {
    dc_tensor *z = dc_abs(d);
    if (beta == 0.0) return z;
    dc_tensor *small = dc_lt(z, dc_scalar(d->dtype, beta));
    return dc_where(small, dc_mul_scalar(dc_square(d), 0.5 / beta),
                    dc_add_scalar(z, -0.5 * beta));
}

/* |d| < delta ? 0.5 d^2 : delta (|d| - 0.5 delta) */
static dc_tensor *huber(dc_tensor *d, double delta) {
    dc_tensor *z = dc_abs(d);
    dc_tensor *small = dc_lt(z, dc_scalar(d->dtype, delta));
    return dc_where(small, dc_mul_scalar(dc_square(d), 0.5),
                    dc_mul_scalar(dc_add_scalar(z, -0.5 * delta), delta));
}

/* max(log t, -100) as PyTorch's BCE. log(0) never enters the graph (it
 * is computed on 1 instead, then replaced by -100), so the gradient there
 * is the clamp's 0 rather than 0 * inf = NaN. */
static dc_tensor *clamped_log(dc_tensor *t) {
    dc_dtype dt = t->dtype;
    dc_tensor *positive = dc_gt(t, dc_scalar(dt, 0.0));
    dc_tensor *safe = dc_where(positive, t, dc_scalar(dt, 1.0));
    dc_tensor *lg = dc_clamp(dc_log(safe), -100.0, INFINITY);
    return dc_where(positive, lg, dc_scalar(dt, -100.0));
}

/* Records DC_E_RANGE for a probability outside [0, 1] (or NaN), naming it,
 * as PyTorch refuses it. */
static bool check_probabilities(const dc_tensor *x) {
    int64_t n = x->numel;
    if (n == 0) return true;
    double *v = dc__malloc((size_t)n * sizeof *v);
    if (!v) return false;
    bool ok = dc_copy_to(x, DC_F64, v, (size_t)n * sizeof *v) == DC_OK;
    for (int64_t i = 0; i < n && ok; i++) {
        if (!(v[i] >= 0.0 && v[i] <= 1.0)) {
            dc__fail(DC_E_RANGE, "dc_loss_forward: BCE input %g (element %lld) is not a "
                     "probability in [0, 1]", v[i], (long long)i);
            ok = false;
        }
    }
    dc__free(v);
    return ok;
}

/* -(y max(log x, -100) + (1 - y) max(log(1 - x), -100)) */
static dc_tensor *bce(dc_tensor *x, dc_tensor *y) {
    dc_tensor *one_minus_y = dc_add_scalar(dc_neg(y), 1.0);
    dc_tensor *one_minus_x = dc_add_scalar(dc_neg(x), 1.0);
    dc_tensor *pos = dc_mul(y, clamped_log(x));
    dc_tensor *neg = dc_mul(one_minus_y, clamped_log(one_minus_x));
    return dc_neg(dc_add(pos, neg));
}

/* p y softplus(-x) + (1 - y) softplus(x), p = pos_weight (or 1).
 * This is the stable max(x, 0) - x y + log(1 + exp(-|x|)) of PyTorch
 * (with pos_weight: (1 - y) x + (1 + (p - 1) y) softplus(-x)), written
 * with softplus, which never overflows (log1p(exp(-|x|)) inside, linear
 * beyond the threshold), so that:
 *  - there is no kink: relu'(0) = abs'(0) = 0 would give the gradient -y
 *    instead of sigmoid(0) - y at a logit of exactly 0 (zero-initialised
 *    layers make those);
 *  - no cancellation for hard labels: y = 0 keeps softplus(x) and y = 1
 *    keeps softplus(-x), each accurate on its own. */
static dc_tensor *bce_with_logits(dc_tensor *x, dc_tensor *y, dc_tensor *pos_weight) {
    dc_tensor *py = pos_weight ? dc_mul(y, pos_weight) : y;
    dc_tensor *pos = dc_mul(py, dc_softplus(dc_neg(x), 1.0, 20.0));
    dc_tensor *neg = dc_mul(dc_add_scalar(dc_neg(y), 1.0), dc_softplus(x, 1.0, 20.0));
    return dc_add(pos, neg);
}

/* Checks and computes a loss whose target has the input's shape. */
static dc_tensor *elementwise_loss(const dc_loss *loss, dc_tensor *x, dc_tensor *y) {
    if (!dc__require_same_dtype(x, y, "dc_loss_forward")) return NULL;
    if (!require_same_shape(x, y, "target")) return NULL;
    bool bce_kind = loss->kind == DC_LOSS_BCE || loss->kind == DC_LOSS_BCE_WITH_LOGITS;
    if (bce_kind && loss->weight && !check_broadcast_weight(loss->weight, x, "weight"))
        return NULL;
    if (loss->pos_weight && !check_broadcast_weight(loss->pos_weight, x, "pos_weight"))
        return NULL;
    dc_tensor *l = NULL;
    switch (loss->kind) {
    case DC_LOSS_MSE: l = dc_square(dc_sub(x, y)); break;
    case DC_LOSS_L1: l = dc_abs(dc_sub(x, y)); break;
    case DC_LOSS_SMOOTH_L1: l = smooth_l1(dc_sub(x, y), loss->beta); break;
    case DC_LOSS_HUBER: l = huber(dc_sub(x, y), loss->beta); break;
    case DC_LOSS_BCE:
        if (!check_probabilities(x)) return NULL;
        l = bce(x, y);
        break;
    case DC_LOSS_BCE_WITH_LOGITS: l = bce_with_logits(x, y, loss->pos_weight); break;
    default: dc__fail(DC_E_INTERNAL, "dc_loss_forward: kind %d", (int)loss->kind); return NULL;
    }
    if (bce_kind && loss->weight) l = dc_mul(l, loss->weight);
    return reduce_all(l, loss->reduction);
}

/* ---------------------------------------------------------------- */
/* Class losses: x (N, C, d...), target (N, d...) indices            */
/*                                  or (N, C, d...) probabilities    */
/* ---------------------------------------------------------------- */

/* The class-index target, checked and made safe to gather with. */
typedef struct class_index {
    dc_tensor *index;     /* i64 (N, 1, d...): the target, ignored -> 0 */
    dc_tensor *flat;      /* i64 (N * prod d): the same, flat */
    dc_tensor *keep;      /* bool (N, d...): target != ignore_index */
    int64_t n_keep;
} class_index;

/* Reads the target (i32/i64, shape (N, d...)); each value must be in
 * 0..C-1 or ignore_index. Tensors made here belong to the open scope. */
static bool read_class_index(const dc_tensor *target, int64_t classes, int64_t ignore,
                             class_index *ci) {
    int64_t n = target->numel;
    size_t cells = (size_t)(n ? n : 1);
    int64_t *v = dc__malloc(cells * sizeof *v);
    uint8_t *keep = dc__malloc(cells);
    bool ok = v && keep && dc_copy_to(target, DC_I64, v, (size_t)n * sizeof *v) == DC_OK;
    ci->n_keep = 0;
    for (int64_t i = 0; ok && i < n; i++) {
        keep[i] = v[i] != ignore;
        if (keep[i] && (v[i] < 0 || v[i] >= classes)) {
            dc__fail(DC_E_RANGE, "dc_loss_forward: target class %lld (element %lld) is "
                     "outside 0..%lld and is not ignore_index %lld", (long long)v[i],
                     (long long)i, (long long)(classes - 1), (long long)ignore);
            ok = false;
        }
        if (!keep[i]) v[i] = 0;
        ci->n_keep += keep[i];
    }
    if (ok) {
        int64_t ishape[DC_MAX_DIMS];
        ishape[0] = target->shape[0];
        ishape[1] = 1;
        memcpy(ishape + 2, target->shape + 1, (size_t)(target->ndim - 1) * sizeof *ishape);
        ci->index = dc_from_data(DC_I64, target->ndim + 1, ishape, v);
        ci->flat = dc_from_data(DC_I64, 1, &n, v);
        ci->keep = dc_from_data(DC_BOOL, target->ndim, target->shape, keep);
        ok = ci->index && ci->flat && ci->keep;
    }
    dc__free(v);
    dc__free(keep);
    return ok;
}

/* Records DC_E_SHAPE unless target is x's shape without axis 1. */
static bool check_index_shape(const dc_tensor *x, const dc_tensor *target) {
    bool ok = target->ndim == x->ndim - 1 && target->shape[0] == x->shape[0];
    for (int d = 1; ok && d < target->ndim; d++) ok = target->shape[d] == x->shape[d + 1];
    if (!ok)
        dc__fail(DC_E_SHAPE, "dc_loss_forward: class-index target must have the input's "
                 "shape without axis 1 (%d dims for a %d-D input), got %d dims",
                 x->ndim - 1, x->ndim, target->ndim);
    return ok;
}

/* Class weights (C) viewed as (1, C, 1, ...) to broadcast over x. */
static dc_tensor *weight_along_classes(dc_tensor *w, int ndim) {
    int64_t shape[DC_MAX_DIMS];
    for (int d = 0; d < ndim; d++) shape[d] = 1;
    shape[1] = w->shape[0];
    return dc_reshape(w, ndim, shape);
}

/* l_n = (1 - s) (-w[y_n] logp[n, y_n]) + (s / C) (-sum_c w_c logp[n, c]),
 * 0 where y_n is ignored; the mean divides by the summed w[y_n] of the kept
 * targets (their count without weights), as PyTorch: 0 / 0 = NaN when all
 * are ignored. */
static dc_tensor *index_target_loss(const dc_loss *loss, dc_tensor *logp,
                                    const dc_tensor *target) {
    int64_t classes = logp->shape[1];
    class_index ci;
    if (!read_class_index(target, classes, loss->ignore_index, &ci)) return NULL;
    dc_tensor *w = loss->weight;
    dc_tensor *wsel = NULL;     /* w[y_n], target's shape */
    if (w) wsel = dc_reshape(dc_index_select(w, 0, ci.flat), target->ndim, target->shape);
    dc_tensor *picked = dc_squeeze(dc_gather(logp, 1, ci.index), 1);
    dc_tensor *l = dc_neg(w ? dc_mul(picked, wsel) : picked);
    double s = loss->label_smoothing;
    if (s > 0.0) {
        int axis = 1;
        dc_tensor *wl = w ? dc_mul(logp, weight_along_classes(w, logp->ndim)) : logp;
        dc_tensor *smooth = dc_neg(dc_sum(wl, &axis, 1, 0));
        l = dc_add(dc_mul_scalar(l, 1.0 - s), dc_mul_scalar(smooth, s / (double)classes));
    }
    dc_tensor *zero = dc_scalar(logp->dtype, 0.0);
    l = dc_where(ci.keep, l, zero);
    if (loss->reduction == DC_REDUCTION_NONE) return l;
    dc_tensor *total = dc_sum(l, NULL, 0, 0);
    if (loss->reduction == DC_REDUCTION_SUM) return total;
    dc_tensor *denom = w ? dc_sum(dc_where(ci.keep, wsel, zero), NULL, 0, 0)
                         : dc_scalar(logp->dtype, (double)ci.n_keep);
    return dc_div(total, denom);
}

/* Cross-entropy of (N, C) logits and class indices without class weights
 * or label smoothing, summed or averaged over the kept targets: the loss
 * of most training loops, as one fused op (the same values as
 * index_target_loss, without its chain of ops). */
static dc_tensor *plain_cross_entropy(const dc_loss *loss, dc_tensor *x, const dc_tensor *target) {
    class_index ci;
    if (!read_class_index(target, x->shape[1], loss->ignore_index, &ci)) return NULL;
    double denom = loss->reduction == DC_REDUCTION_SUM ? 1.0 : (double)ci.n_keep;
    return dc__cross_entropy_rows(x, ci.flat, ci.keep, denom);   /* target (N): keep is (N) */
}

/* Probabilities q (x's shape), smoothed to q (1 - s) + s / C:
 * l_n = -sum_c w_c q[n, c] logp[n, c]; the mean divides by N * prod d
 * (not by the weights), as PyTorch. */
static dc_tensor *prob_target_loss(const dc_loss *loss, dc_tensor *logp, dc_tensor *q) {
    int64_t classes = logp->shape[1];
    double s = loss->label_smoothing;
    if (s > 0.0) q = dc_add_scalar(dc_mul_scalar(q, 1.0 - s), s / (double)classes);
    dc_tensor *prod = dc_mul(logp, q);
    if (loss->weight) prod = dc_mul(prod, weight_along_classes(loss->weight, logp->ndim));
    int axis = 1;
    switch (loss->reduction) {
    case DC_REDUCTION_NONE: return dc_neg(dc_sum(prod, &axis, 1, 0));
    case DC_REDUCTION_SUM: return dc_neg(dc_sum(prod, NULL, 0, 0));
    default: {
        /* NOLINTNEXTLINE(bugprone-integer-division): exact, numel is rows * classes */
        double rows = (double)(logp->numel / classes);
        return dc_mul_scalar(dc_sum(prod, NULL, 0, 0), -1.0 / rows);
    }
    }
}

/* Cross-entropy and NLL. An unbatched input (C) is run as (1, C) with a
 * target () or (C), and 'none' gives a 0-d result. */
static dc_tensor *class_loss(const dc_loss *loss, dc_tensor *x, dc_tensor *target) {
    bool ce = loss->kind == DC_LOSS_CROSS_ENTROPY;
    if (x->ndim < 1) {
        dc__fail(DC_E_SHAPE, "dc_loss_forward: %s input must be (C), (N, C) or (N, C, d...), "
                 "not 0-D", kind_names[loss->kind]);
        return NULL;
    }
    bool probs = dc__dtype_is_float(target->dtype);
    bool indices = target->dtype == DC_I64 || target->dtype == DC_I32;
    if (!(indices || (ce && probs))) {
        dc__fail(DC_E_DTYPE, "dc_loss_forward: %s target must be class indices (i64 or i32)%s, "
                 "not %s", kind_names[loss->kind], ce ? " or probabilities" : "",
                 dc_dtype_name(target->dtype));
        return NULL;
    }
    if (probs && !dc__require_same_dtype(x, target, "dc_loss_forward")) return NULL;
    if (probs && !require_same_shape(x, target, "probability target")) return NULL;
    bool unbatched = x->ndim == 1;
    if (unbatched) {
        if (indices && target->ndim != 0) {
            dc__fail(DC_E_SHAPE, "dc_loss_forward: an unbatched input (C) takes a 0-D "
                     "class-index target, not %d-D", target->ndim);
            return NULL;
        }
        x = dc_unsqueeze(x, 0);
        target = dc_unsqueeze(target, 0);
        if (!x || !target) return NULL;
    }
    if (indices && !check_index_shape(x, target)) return NULL;
    int64_t classes = x->shape[1];
    if (classes < 1) {
        dc__fail(DC_E_SHAPE, "dc_loss_forward: %s needs at least one class (axis 1 is 0)",
                 kind_names[loss->kind]);
        return NULL;
    }
    dc_tensor *w = loss->weight;
    if (w && w->dtype != x->dtype) {
        dc__fail(DC_E_DTYPE, "dc_loss_forward: class weights are %s, the input %s",
                 dc_dtype_name(w->dtype), dc_dtype_name(x->dtype));
        return NULL;
    }
    if (w && w->shape[0] != classes) {
        dc__fail(DC_E_SHAPE, "dc_loss_forward: %lld class weights for %lld classes",
                 (long long)w->shape[0], (long long)classes);
        return NULL;
    }
    if (ce && indices && !w && loss->label_smoothing == 0.0 && x->ndim == 2 &&
        loss->reduction != DC_REDUCTION_NONE)
        return plain_cross_entropy(loss, x, target);
    dc_tensor *logp = ce ? dc_log_softmax(x, 1) : x;
    if (!logp) return NULL;
    dc_tensor *l = probs ? prob_target_loss(loss, logp, target)
                         : index_target_loss(loss, logp, target);
    if (unbatched && l && loss->reduction == DC_REDUCTION_NONE) l = dc_squeeze(l, 0);
    return l;
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

dc_tensor *dc_loss_forward(dc_loss *loss, dc_tensor *input, dc_tensor *target) {
    if (check_loss(loss, "dc_loss_forward") != DC_OK) return NULL;
    DC_CHECK_TENSOR_OR_NULL(input, "dc_loss_forward", "input");
    DC_CHECK_TENSOR_OR_NULL(target, "dc_loss_forward", "target");
    if (!dc__require_float(input, "dc_loss_forward")) return NULL;
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *l = is_class_kind(loss->kind) ? class_loss(loss, input, target)
                                             : elementwise_loss(loss, input, target);
    l = dc_retain(l);
    dc_scope_end(scope);
    return dc__publish(l);
}
