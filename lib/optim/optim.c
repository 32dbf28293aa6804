/* Optimizers with PyTorch 1.13 update rules: the _single_tensor_* functions
 * of torch/optim/{sgd,adam,adamw,rmsprop,adagrad}.py, operation for
 * operation (same order of roundings where it is cheap to keep).
 *
 * Layout: an optimizer holds its parameters (a reference each) in group
 * order, the groups' lr / weight decay, the other hyper-parameters (the
 * first group's) and per-parameter state tensors. State has the
 * parameter's dtype and shape and is made at the parameter's first step,
 * except 'step', which is an f32 scalar as PyTorch 1.13 keeps it. */
#include "optim_internal.h"
#include "../core/threads.h"
#include "../ops/fastmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DC_OPTIM_MAGIC 0x44434f50u   /* "DCOP" */

typedef enum optim_kind {
    OPT_SGD,
    OPT_ADAM,
    OPT_ADAMW,
    OPT_RMSPROP,
    OPT_ADAGRAD
} optim_kind;

/* State slots, in the order PyTorch inserts them into a parameter's state,
 * so that enumerating the used ones in this order gives PyTorch's order. */
enum {
    ST_STEP,
    ST_EXP_AVG,
    ST_EXP_AVG_SQ,
    ST_MAX_EXP_AVG_SQ,
    ST_SQUARE_AVG,
    ST_MOMENTUM_BUFFER,
    ST_GRAD_AVG,
    ST_SUM,
    ST_COUNT
};

static const char *const slot_names[ST_COUNT] = {
    "step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
    "square_avg", "momentum_buffer", "grad_avg", "sum",
};

/* Hyper-parameters shared by all groups (the first group's). */
typedef struct hyper {
    double momentum, dampening;
    double beta1, beta2, eps;
    double alpha;
    double lr_decay, initial_accumulator;
    bool nesterov, amsgrad, centered;
} hyper;

typedef struct optim_group {
    double lr, weight_decay;
    double initial_lr;           /* for schedules, see dc__optim_initial_lr */
    bool has_initial_lr;
} optim_group;

typedef struct optim_param {
    dc_tensor *t;                /* retained */
    int group;
    dc_tensor *state[ST_COUNT];  /* retained; NULL until made */
} optim_param;

/* One named state tensor, for enumeration. "state." + 10 digits + "." +
 * the longest slot name fits easily. */
typedef struct state_entry {
    int param, slot;
    char name[48];
} state_entry;

struct dc_optim {
    uint32_t magic;
    atomic_int refcount;
    optim_kind kind;
    hyper h;
    optim_group *groups;
    int ngroups;
    optim_param *params;
    int nparams;
    /* Capacity nparams * ST_COUNT, so rebuilding never allocates. */
    state_entry *entries;
    int64_t nentries;
};

/* ---------------------------------------------------------------- */
/* Handles and validation                                            */
/* ---------------------------------------------------------------- */

bool dc__optim_is_live(const dc_optim *opt) {
    return opt != NULL && opt->magic == DC_OPTIM_MAGIC;
}

static dc_status check_optim(const dc_optim *opt, const char *func) {
    if (opt == NULL) return dc__fail(DC_E_INVALID, "%s: 'opt' is NULL", func);
    if (!dc__optim_is_live(opt))
        return dc__fail(DC_E_INVALID, "%s: 'opt' is not a live optimizer", func);
    return DC_OK;
}

/* value >= 0 and finite */
static dc_status check_nonneg(double value, const char *func, const char *name) {
    if (!(value >= 0.0) || isinf(value))
        return dc__fail(DC_E_INVALID, "%s: %s must be finite and >= 0, not %g", func, name,
                        value);
    return DC_OK;
}

/* value in [0, 1) */
static dc_status check_beta(double value, const char *func, const char *name) {
    if (!(value >= 0.0 && value < 1.0))
        return dc__fail(DC_E_INVALID, "%s: %s must be in [0, 1), not %g", func, name, value);
    return DC_OK;
}

static bool same_param(const dc_tensor *a, const dc_tensor *b) {
    if (a == b) return true;
    /* two handles over the very same elements (e.g. a detached alias) */
    return a->storage == b->storage && a->offset == b->offset && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0 &&
           memcmp(a->strides, b->strides, (size_t)a->ndim * sizeof a->strides[0]) == 0;
}

/* An axis of stride 0 and size > 1 makes several elements share one
 * address: an update could not be written back. */
static bool has_self_overlap(const dc_tensor *t) {
    for (int d = 0; d < t->ndim; d++)
        if (t->strides[d] == 0 && t->shape[d] > 1) return true;
    return false;
}

static dc_status check_new_params(const dc_optim *o, dc_tensor *const *params, int n,
                                  const char *func) {
    if (params == NULL) return dc__fail(DC_E_INVALID, "%s: 'params' is NULL", func);
    if (n < 1) return dc__fail(DC_E_INVALID, "%s: n must be >= 1, not %d", func, n);
    for (int i = 0; i < n; i++) {
        const dc_tensor *t = params[i];
        if (!dc__is_tensor(t))
            return dc__fail(DC_E_INVALID, "%s: params[%d] is %s", func, i,
                            t ? "not a live tensor" : "NULL");
        if (!dc__dtype_is_float(t->dtype))
            return dc__fail(DC_E_DTYPE, "%s: params[%d] is %s; parameters must be f32 or f64",
                            func, i, dc_dtype_name(t->dtype));
        if (t->grad_fn || t->graph_freed)
            return dc__fail(DC_E_INVALID, "%s: params[%d] is not a leaf tensor; "
                                          "an optimizer updates leaves only", func, i);
        if (has_self_overlap(t))
            return dc__fail(DC_E_INVALID, "%s: params[%d] has overlapping elements "
                                          "(a broadcast view)", func, i);
        for (int j = 0; j < i; j++)
            if (same_param(t, params[j]))
                return dc__fail(DC_E_INVALID, "%s: params[%d] and params[%d] are the same "
                                              "tensor", func, j, i);
        for (int j = 0; o && j < o->nparams; j++)
            if (same_param(t, o->params[j].t))
                return dc__fail(DC_E_INVALID, "%s: params[%d] is already in the optimizer "
                                              "(parameter %d)", func, i, j);
    }
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Construction and groups                                           */
/* ---------------------------------------------------------------- */

static dc_status add_group(dc_optim *o, dc_tensor *const *params, int n, double lr,
                           double weight_decay, const char *func) {
    dc_status st = check_new_params(o, params, n, func);
    if (st == DC_OK) st = check_nonneg(lr, func, "lr");
    if (st == DC_OK) st = check_nonneg(weight_decay, func, "weight_decay");
    if (st != DC_OK) return st;
    if (n > INT32_MAX / ST_COUNT - o->nparams || o->ngroups == INT32_MAX)
        return dc__fail(DC_E_OVERFLOW, "%s: too many parameters", func);
    int total = o->nparams + n;
    /* Grow every array first; a failure leaves the optimizer unchanged
     * (arrays merely larger than needed). */
    optim_group *groups = dc__realloc(o->groups, (size_t)(o->ngroups + 1) * sizeof *groups);
    if (!groups) return DC_E_NOMEM;
    o->groups = groups;
    optim_param *ps = dc__realloc(o->params, (size_t)total * sizeof *ps);
    if (!ps) return DC_E_NOMEM;
    o->params = ps;
    state_entry *entries =
        dc__realloc(o->entries, (size_t)total * ST_COUNT * sizeof *entries);
    if (!entries) return DC_E_NOMEM;
    o->entries = entries;

    o->groups[o->ngroups] = (optim_group){.lr = lr, .weight_decay = weight_decay};
    for (int i = 0; i < n; i++) {
        optim_param *p = &o->params[o->nparams + i];
        memset(p, 0, sizeof *p);
        p->t = dc_retain(params[i]);
        p->group = o->ngroups;
    }
    o->ngroups++;
    o->nparams = total;
    return DC_OK;
}

static void optim_free(dc_optim *o) {
    for (int i = 0; i < o->nparams; i++) {
        dc_release(o->params[i].t);
        for (int s = 0; s < ST_COUNT; s++) dc_release(o->params[i].state[s]);
    }
    dc__free(o->params);
    dc__free(o->groups);
    dc__free(o->entries);
    o->magic = 0;
    dc__free(o);
}

static dc_optim *optim_new(optim_kind kind, const hyper *h, dc_tensor *const *params, int n,
                           double lr, double weight_decay, const char *func) {
    dc_optim *o = dc__calloc(1, sizeof *o);
    if (!o) return NULL;
    o->magic = DC_OPTIM_MAGIC;
    atomic_init(&o->refcount, 1);
    o->kind = kind;
    o->h = *h;
    if (add_group(o, params, n, lr, weight_decay, func) != DC_OK) {
        optim_free(o);
        return NULL;
    }
    return o;
}

dc_optim *dc_sgd_new(dc_tensor *const *params, int n, double lr, double momentum,
                     double dampening, double weight_decay, int nesterov) {
    const char *f = "dc_sgd_new";
    if (check_nonneg(momentum, f, "momentum") != DC_OK) return NULL;
    if (!isfinite(dampening)) {
        dc__fail(DC_E_INVALID, "%s: dampening must be finite, not %g", f, dampening);
        return NULL;
    }
    if (nesterov && (momentum <= 0.0 || dampening != 0.0)) {
        dc__fail(DC_E_INVALID, "%s: Nesterov momentum needs momentum > 0 and dampening 0", f);
        return NULL;
    }
    hyper h = {.momentum = momentum, .dampening = dampening, .nesterov = nesterov != 0};
    return optim_new(OPT_SGD, &h, params, n, lr, weight_decay, f);
}

static dc_optim *adam_like_new(optim_kind kind, const char *f, dc_tensor *const *params, int n,
                               double lr, double beta1, double beta2, double eps,
                               double weight_decay, int amsgrad) {
    if (check_beta(beta1, f, "beta1") != DC_OK || check_beta(beta2, f, "beta2") != DC_OK ||
        check_nonneg(eps, f, "eps") != DC_OK)
        return NULL;
    hyper h = {.beta1 = beta1, .beta2 = beta2, .eps = eps, .amsgrad = amsgrad != 0};
    return optim_new(kind, &h, params, n, lr, weight_decay, f);
}

dc_optim *dc_adam_new(dc_tensor *const *params, int n, double lr, double beta1, double beta2,
                      double eps, double weight_decay, int amsgrad) {
    return adam_like_new(OPT_ADAM, "dc_adam_new", params, n, lr, beta1, beta2, eps,
                         weight_decay, amsgrad);
}

dc_optim *dc_adamw_new(dc_tensor *const *params, int n, double lr, double beta1, double beta2,
                       double eps, double weight_decay, int amsgrad) {
    return adam_like_new(OPT_ADAMW, "dc_adamw_new", params, n, lr, beta1, beta2, eps,
                         weight_decay, amsgrad);
}

dc_optim *dc_rmsprop_new(dc_tensor *const *params, int n, double lr, double alpha, double eps,
                         double weight_decay, double momentum, int centered) {
    const char *f = "dc_rmsprop_new";
    /* PyTorch only asks alpha >= 0; above 1 the average of squares could
     * turn negative, so it is refused here. */
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
        dc__fail(DC_E_INVALID, "%s: alpha must be in [0, 1], not %g", f, alpha);
        return NULL;
    }
    if (check_nonneg(eps, f, "eps") != DC_OK || check_nonneg(momentum, f, "momentum") != DC_OK)
        return NULL;
    hyper h = {.alpha = alpha, .eps = eps, .momentum = momentum, .centered = centered != 0};
    return optim_new(OPT_RMSPROP, &h, params, n, lr, weight_decay, f);
}

dc_optim *dc_adagrad_new(dc_tensor *const *params, int n, double lr, double lr_decay,
                         double weight_decay, double initial_accumulator_value, double eps) {
    const char *f = "dc_adagrad_new";
    if (check_nonneg(lr_decay, f, "lr_decay") != DC_OK ||
        check_nonneg(initial_accumulator_value, f, "initial_accumulator_value") != DC_OK ||
        check_nonneg(eps, f, "eps") != DC_OK)
        return NULL;
    hyper h = {.lr_decay = lr_decay, .initial_accumulator = initial_accumulator_value,
               .eps = eps};
    return optim_new(OPT_ADAGRAD, &h, params, n, lr, weight_decay, f);
}

void dc__optim_retain(dc_optim *opt) { atomic_fetch_add(&opt->refcount, 1); }

void dc_optim_release(dc_optim *opt) {
    if (opt == NULL) return;
    if (!dc__optim_is_live(opt)) {
        dc__fail(DC_E_INVALID, "dc_optim_release: 'opt' is not a live optimizer");
        return;
    }
    if (dc__drop_ref(&opt->refcount)) optim_free(opt);
}

dc_status dc_optim_add_group(dc_optim *opt, dc_tensor *const *params, int n, double lr,
                             double weight_decay, int *group) {
    dc_status st = check_optim(opt, "dc_optim_add_group");
    if (st != DC_OK) return st;
    st = add_group(opt, params, n, lr, weight_decay, "dc_optim_add_group");
    if (st == DC_OK && group) *group = opt->ngroups - 1;
    return st;
}

int dc_optim_group_count(const dc_optim *opt) {
    if (check_optim(opt, "dc_optim_group_count") != DC_OK) return -1;
    return opt->ngroups;
}

static dc_status check_group(const dc_optim *opt, int group, const char *func) {
    dc_status st = check_optim(opt, func);
    if (st != DC_OK) return st;
    if (group < 0 || group >= opt->ngroups)
        return dc__fail(DC_E_RANGE, "%s: group %d is out of range (%d groups)", func, group,
                        opt->ngroups);
    return DC_OK;
}

dc_status dc_optim_set_lr(dc_optim *opt, int group, double lr) {
    dc_status st = check_group(opt, group, "dc_optim_set_lr");
    if (st == DC_OK) st = check_nonneg(lr, "dc_optim_set_lr", "lr");
    if (st == DC_OK) opt->groups[group].lr = lr;
    return st;
}

double dc_optim_get_lr(const dc_optim *opt, int group) {
    if (check_group(opt, group, "dc_optim_get_lr") != DC_OK) return NAN;
    return opt->groups[group].lr;
}

double dc__optim_initial_lr(dc_optim *opt, int group) {
    optim_group *g = &opt->groups[group];
    if (!g->has_initial_lr) {
        g->initial_lr = g->lr;
        g->has_initial_lr = true;
    }
    return g->initial_lr;
}

void dc__optim_put_lr(dc_optim *opt, int group, double lr) { opt->groups[group].lr = lr; }

dc_status dc_optim_zero_grad(dc_optim *opt) {
    dc_status st = check_optim(opt, "dc_optim_zero_grad");
    if (st != DC_OK) return st;
    for (int i = 0; i < opt->nparams; i++) dc_zero_grad(opt->params[i].t);
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* State                                                             */
/* ---------------------------------------------------------------- */

/* Whether this optimizer keeps state slot s (as PyTorch would). */
static bool slot_used(const dc_optim *o, int s) {
    const hyper *h = &o->h;
    switch (o->kind) {
    case OPT_SGD:
        return s == ST_MOMENTUM_BUFFER && h->momentum != 0.0;
    case OPT_ADAM:
    case OPT_ADAMW:
        return s == ST_STEP || s == ST_EXP_AVG || s == ST_EXP_AVG_SQ ||
               (s == ST_MAX_EXP_AVG_SQ && h->amsgrad);
    case OPT_RMSPROP:
        return s == ST_STEP || s == ST_SQUARE_AVG ||
               (s == ST_MOMENTUM_BUFFER && h->momentum > 0.0) ||
               (s == ST_GRAD_AVG && h->centered);
    case OPT_ADAGRAD:
        return s == ST_STEP || s == ST_SUM;
    }
    return false;
}

/* A fresh state tensor for slot s of parameter p, with PyTorch's initial
 * value (the SGD momentum buffer is filled by the first update). */
static dc_tensor *new_state(const dc_optim *o, const dc_tensor *p, int s) {
    if (s == ST_STEP) return dc__tensor_new(DC_F32, 0, NULL, true);
    dc_tensor *t = dc__tensor_new(p->dtype, p->ndim, p->shape, true);
    if (t && s == ST_SUM && o->h.initial_accumulator != 0.0 && t->numel > 0) {
        if (t->dtype == DC_F32) {
            float *d = dc__tensor_data(t);
            for (int64_t i = 0; i < t->numel; i++) d[i] = (float)o->h.initial_accumulator;
        } else {
            double *d = dc__tensor_data(t);
            for (int64_t i = 0; i < t->numel; i++) d[i] = o->h.initial_accumulator;
        }
    }
    return t;
}

static void rebuild_entries(dc_optim *o) {
    o->nentries = 0;
    for (int i = 0; i < o->nparams; i++)
        for (int s = 0; s < ST_COUNT; s++) {
            if (!o->params[i].state[s]) continue;
            state_entry *e = &o->entries[o->nentries++];
            e->param = i;
            e->slot = s;
            snprintf(e->name, sizeof e->name, "state.%d.%s", i, slot_names[s]);
        }
}

int64_t dc_optim_state_count(const dc_optim *opt) {
    if (check_optim(opt, "dc_optim_state_count") != DC_OK) return -1;
    return opt->nentries;
}

static dc_status check_entry(const dc_optim *opt, int64_t i, const char *func) {
    dc_status st = check_optim(opt, func);
    if (st != DC_OK) return st;
    if (i < 0 || i >= opt->nentries)
        return dc__fail(DC_E_RANGE, "%s: state entry %lld is out of range (%lld entries)",
                        func, (long long)i, (long long)opt->nentries);
    return DC_OK;
}

const char *dc_optim_state_name(const dc_optim *opt, int64_t i) {
    if (check_entry(opt, i, "dc_optim_state_name") != DC_OK) return NULL;
    return opt->entries[i].name;
}

dc_tensor *dc_optim_state_tensor(dc_optim *opt, int64_t i) {
    if (check_entry(opt, i, "dc_optim_state_tensor") != DC_OK) return NULL;
    const state_entry *e = &opt->entries[i];
    return dc__publish(dc_retain(opt->params[e->param].state[e->slot]));
}

/* Parses "state.<index>.<slot>"; records the error on failure. */
static dc_status parse_state_name(const dc_optim *o, const char *name, int *param, int *slot) {
    const char *f = "dc_optim_state_load";
    const char *prefix = "state.";
    if (strncmp(name, prefix, strlen(prefix)) != 0)
        return dc__fail(DC_E_INVALID, "%s: '%s' is not a state name (state.<index>.<name>)", f,
                        name);
    const char *digits = name + strlen(prefix);
    char *end = NULL;
    long long index = -1;
    if (*digits >= '0' && *digits <= '9') index = strtoll(digits, &end, 10);
    if (index < 0 || end == NULL || *end != '.')
        return dc__fail(DC_E_INVALID, "%s: '%s' is not a state name (state.<index>.<name>)", f,
                        name);
    if (index >= o->nparams)
        return dc__fail(DC_E_RANGE, "%s: '%s': parameter %lld is out of range (%d parameters)",
                        f, name, index, o->nparams);
    for (int s = 0; s < ST_COUNT; s++) {
        if (strcmp(end + 1, slot_names[s]) != 0) continue;
        if (!slot_used(o, s))
            return dc__fail(DC_E_INVALID, "%s: '%s': this optimizer keeps no '%s'", f, name,
                            slot_names[s]);
        *param = (int)index;
        *slot = s;
        return DC_OK;
    }
    return dc__fail(DC_E_INVALID, "%s: '%s': unknown state '%s'", f, name, end + 1);
}

dc_status dc_optim_state_load(dc_optim *opt, const char *name, const dc_tensor *t) {
    const char *f = "dc_optim_state_load";
    dc_status st = check_optim(opt, f);
    if (st != DC_OK) return st;
    if (name == NULL) return dc__fail(DC_E_INVALID, "%s: 'name' is NULL", f);
    DC_CHECK_TENSOR_OR_STATUS(t, f, "t");
    int pi = 0, s = 0;
    st = parse_state_name(opt, name, &pi, &s);
    if (st != DC_OK) return st;
    const dc_tensor *p = opt->params[pi].t;
    if (!dc__dtype_is_float(t->dtype))
        return dc__fail(DC_E_DTYPE, "%s: '%s' must be f32 or f64, not %s", f, name,
                        dc_dtype_name(t->dtype));
    bool fits = s == ST_STEP ? t->numel == 1
                             : t->ndim == p->ndim &&
                                   memcmp(t->shape, p->shape, (size_t)p->ndim * sizeof(int64_t)) == 0;
    if (!fits)
        return dc__fail(DC_E_SHAPE, "%s: '%s' has the wrong shape (%s)", f, name,
                        s == ST_STEP ? "one element wanted" : "the parameter's wanted");
    dc_tensor **slot = &opt->params[pi].state[s];
    bool created = false;
    if (!*slot) {
        *slot = new_state(opt, p, s);
        if (!*slot) return dc_last_status();
        created = true;
    }
    if (s == ST_STEP) {
        double v = dc__load(t->storage->data, t->dtype, t->offset);
        *(float *)dc__tensor_data(*slot) = (float)v;
    } else {
        dc__copy_elements(*slot, t);
    }
    dc__bump_version(*slot);
    if (created) rebuild_entries(opt);
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Update kernels: one parameter, contiguous arrays of its dtype T    */
/* ---------------------------------------------------------------- */

typedef struct update_args {
    int64_t n;
    void *param;
    const void *grad;
    void *s[ST_COUNT];      /* state arrays; NULL for slots not kept */
    double lr, wd;
    double step;            /* the step count after this step's increment */
    bool fresh_buffer;      /* SGD: the momentum buffer is new at this step */
    const hyper *h;
} update_args;

/* sqrtf for float (the same bits as rounding the double sqrt, which is
 * correctly rounded either way; sqrtf vectorises in a float loop). */
#define DC_SQRT_OF(T, x) (sizeof(T) == sizeof(float) ? (T)sqrtf((float)(x)) : (T)sqrt((double)(x)))

/* sgd.py: d = g + wd p; buf = g first, then buf * m + (1 - damp) d;
 * d = nesterov ? d + m buf : buf; p -= lr d */
#define SGD_KERNEL(T)                                                       \
    {                                                                       \
        T *p = a->param;                                                    \
        const T *g = a->grad;                                               \
        T *buf = a->s[ST_MOMENTUM_BUFFER];                                  \
        const T wd = (T)a->wd, mom = (T)a->h->momentum;                     \
        const T keep = (T)(1.0 - a->h->dampening), neg_lr = (T)-a->lr;      \
        for (int64_t i = 0; i < a->n; i++) {                                \
            T d = g[i];                                                     \
            if (a->wd != 0.0) d = d + wd * p[i];                            \
            if (buf) {                                                      \
                buf[i] = a->fresh_buffer ? d : buf[i] * mom + keep * d;     \
                d = a->h->nesterov ? d + mom * buf[i] : buf[i];             \
            }                                                               \
            p[i] = p[i] + neg_lr * d;                                       \
        }                                                                   \
    }

/* adam.py / adamw.py. AdamW first decays p by (1 - lr wd); Adam adds
 * wd p to the gradient. m = b1 m + (1-b1) g; v = b2 v + (1-b2) g g;
 * vmax = max(vmax, v) with amsgrad; p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2)
 * + eps), bc_k = 1 - b_k^step. */
/* Element i's weight decay and moments, inside ADAM_KERNEL. */
#define ADAM_MOMENTS(T, DECOUPLED, i)                                       \
    T gi = g[i];                                                            \
    if (DECOUPLED) p[i] = p[i] * decay;                                     \
    else if (coupled_wd) gi = gi + wd * p[i];                               \
    m[i] = m[i] * b1 + c1 * gi;                                             \
    v[i] = v[i] * b2 + c2 * gi * gi

#define ADAM_KERNEL(T, DECOUPLED)                                           \
    {                                                                       \
        T *restrict p = a->param;                                           \
        const T *restrict g = a->grad;                                      \
        T *restrict m = a->s[ST_EXP_AVG], *restrict v = a->s[ST_EXP_AVG_SQ]; \
        T *restrict vmax = a->s[ST_MAX_EXP_AVG_SQ];                         \
        const hyper *h = a->h;                                              \
        const double bc1 = 1.0 - pow(h->beta1, a->step);                    \
        const double bc2 = 1.0 - pow(h->beta2, a->step);                    \
        const T neg_step = (T)-(a->lr / bc1), bc2_sqrt = (T)sqrt(bc2);      \
        const T b1 = (T)h->beta1, c1 = (T)(1.0 - h->beta1);                 \
        const T b2 = (T)h->beta2, c2 = (T)(1.0 - h->beta2);                 \
        const T wd = (T)a->wd, decay = (T)(1.0 - a->lr * a->wd);            \
        const T eps = (T)h->eps;                                            \
        const bool coupled_wd = !(DECOUPLED) && a->wd != 0.0;               \
        const int64_t n = a->n;                                             \
        /* loop-invariant tests hoisted and amsgrad's max in a loop of its \
         * own, so that the common loop vectorises */                       \
        if (!vmax) {                                                        \
            for (int64_t i = 0; i < n; i++) {                               \
                ADAM_MOMENTS(T, DECOUPLED, i);                              \
                T denom = DC_SQRT_OF(T, v[i]) / bc2_sqrt + eps;             \
                p[i] = p[i] + neg_step * m[i] / denom;                      \
            }                                                               \
        } else {                                                            \
            for (int64_t i = 0; i < n; i++) {                               \
                ADAM_MOMENTS(T, DECOUPLED, i);                              \
                /* torch.maximum: NaN wins */                               \
                if (!(isnan(vmax[i]) || vmax[i] >= v[i])) vmax[i] = v[i];   \
                T denom = DC_SQRT_OF(T, vmax[i]) / bc2_sqrt + eps;          \
                p[i] = p[i] + neg_step * m[i] / denom;                      \
            }                                                               \
        }                                                                   \
    }

/* rmsprop.py: g += wd p; sq = a sq + (1-a) g g; centered: ga = a ga +
 * (1-a) g, avg = sqrt(sq - ga ga), else sqrt(sq); avg += eps; momentum:
 * buf = m buf + g / avg, p -= lr buf; else p -= lr g / avg */
#define RMSPROP_KERNEL(T)                                                   \
    {                                                                       \
        T *p = a->param;                                                    \
        const T *g = a->grad;                                               \
        T *sq = a->s[ST_SQUARE_AVG], *ga = a->s[ST_GRAD_AVG];               \
        T *buf = a->s[ST_MOMENTUM_BUFFER];                                  \
        const hyper *h = a->h;                                              \
        const T alpha = (T)h->alpha, c = (T)(1.0 - h->alpha);               \
        const T wd = (T)a->wd, eps = (T)h->eps, mom = (T)h->momentum;       \
        const T neg_lr = (T)-a->lr;                                         \
        for (int64_t i = 0; i < a->n; i++) {                                \
            T gi = g[i];                                                    \
            if (a->wd != 0.0) gi = gi + wd * p[i];                          \
            sq[i] = sq[i] * alpha + c * gi * gi;                            \
            T avg;                                                          \
            if (ga) {                                                       \
                ga[i] = ga[i] * alpha + c * gi;                             \
                avg = (T)sqrt(sq[i] - ga[i] * ga[i]);                       \
            } else {                                                        \
                avg = (T)sqrt(sq[i]);                                       \
            }                                                               \
            avg = avg + eps;                                                \
            if (buf) {                                                      \
                buf[i] = buf[i] * mom + gi / avg;                           \
                p[i] = p[i] + neg_lr * buf[i];                              \
            } else {                                                        \
                p[i] = p[i] + neg_lr * gi / avg;                            \
            }                                                               \
        }                                                                   \
    }

/* adagrad.py: g += wd p; clr = lr / (1 + (step - 1) lr_decay);
 * sum += g g; p -= clr g / (sqrt(sum) + eps) */
#define ADAGRAD_KERNEL(T)                                                   \
    {                                                                       \
        T *p = a->param;                                                    \
        const T *g = a->grad;                                               \
        T *sum = a->s[ST_SUM];                                              \
        const double clr = a->lr / (1.0 + (a->step - 1.0) * a->h->lr_decay); \
        const T neg_clr = (T)-clr, wd = (T)a->wd, eps = (T)a->h->eps;       \
        for (int64_t i = 0; i < a->n; i++) {                                \
            T gi = g[i];                                                    \
            if (a->wd != 0.0) gi = gi + wd * p[i];                          \
            sum[i] = sum[i] + gi * gi;                                      \
            T std = (T)sqrt(sum[i]) + eps;                                  \
            p[i] = p[i] + neg_clr * gi / std;                               \
        }                                                                   \
    }

/* The f32 kernels compiled for AVX-512 and AVX2 too (picked at load
 * time), with fused multiply-adds there: the baseline build's SSE2 loop
 * was 6% of an LSTM training step's CPU time. */
DC_VEC_CLONES_FMA static void sgd_f32(const update_args *a) SGD_KERNEL(float)
static void sgd_f64(const update_args *a) SGD_KERNEL(double)
DC_VEC_CLONES_FMA static void adam_f32(const update_args *a) ADAM_KERNEL(float, false)
static void adam_f64(const update_args *a) ADAM_KERNEL(double, false)
DC_VEC_CLONES_FMA static void adamw_f32(const update_args *a) ADAM_KERNEL(float, true)
static void adamw_f64(const update_args *a) ADAM_KERNEL(double, true)
static void rmsprop_f32(const update_args *a) RMSPROP_KERNEL(float)
static void rmsprop_f64(const update_args *a) RMSPROP_KERNEL(double)
static void adagrad_f32(const update_args *a) ADAGRAD_KERNEL(float)
static void adagrad_f64(const update_args *a) ADAGRAD_KERNEL(double)

typedef void (*kernel_fn)(const update_args *a);

static kernel_fn pick_kernel(optim_kind kind, dc_dtype dtype) {
    bool f32 = dtype == DC_F32;
    switch (kind) {
    case OPT_SGD: return f32 ? sgd_f32 : sgd_f64;
    case OPT_ADAM: return f32 ? adam_f32 : adam_f64;
    case OPT_ADAMW: return f32 ? adamw_f32 : adamw_f64;
    case OPT_RMSPROP: return f32 ? rmsprop_f32 : rmsprop_f64;
    case OPT_ADAGRAD: return f32 ? adagrad_f32 : adagrad_f64;
    }
    return NULL;
}

/* A large parameter's update is split over the library's threads: every
 * element is updated alone, so any split gives the same bits. */
#define UPDATE_CHUNK ((int64_t)1 << 14)

typedef struct update_job {
    kernel_fn fn;
    const update_args *a;
    size_t esize;
} update_job;

static void *advance(const void *p, int64_t elems, size_t esize) {
    return p ? (char *)(uintptr_t)p + (size_t)elems * esize : NULL;
}

static void update_chunk(void *ctx, int64_t c, int slot) {
    (void)slot;
    const update_job *j = ctx;
    update_args part = *j->a;
    int64_t lo = c * UPDATE_CHUNK;
    part.n = j->a->n - lo < UPDATE_CHUNK ? j->a->n - lo : UPDATE_CHUNK;
    part.param = advance(part.param, lo, j->esize);
    part.grad = advance(part.grad, lo, j->esize);
    for (int s = 0; s < ST_COUNT; s++) part.s[s] = advance(part.s[s], lo, j->esize);
    j->fn(&part);
}

static void run_update(kernel_fn fn, const update_args *a, size_t esize) {
    int64_t chunks = (a->n + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
    update_job j = {fn, a, esize};
    if (chunks > 1) dc__parallel_for(update_chunk, &j, chunks, (int)(chunks < 64 ? chunks : 64));
    else fn(a);
}

/* ---------------------------------------------------------------- */
/* dc_optim_step                                                     */
/* ---------------------------------------------------------------- */

/* What one parameter needs for this step, all allocated before any
 * parameter changes, so that a failed step changes nothing. */
typedef struct param_work {
    bool active;             /* has a gradient */
    dc_tensor *pbuf;         /* contiguous copy of a strided parameter */
    dc_tensor *gbuf;         /* contiguous copy of an odd gradient */
    unsigned created;        /* bit s: state slot s was made by this step */
} param_work;

static dc_status prepare_param(dc_optim *o, int i, param_work *w) {
    optim_param *op = &o->params[i];
    dc_tensor *p = op->t, *g = p->grad;
    if (!g) return DC_OK;                 /* skipped, as in PyTorch */
    if (g->ndim != p->ndim || memcmp(g->shape, p->shape, (size_t)p->ndim * sizeof(int64_t)) != 0)
        return dc__fail(DC_E_SHAPE, "dc_optim_step: the gradient of parameter %d has another "
                                    "shape than the parameter", i);
    w->active = true;
    if (g->dtype != p->dtype || !dc__tensor_is_contiguous(g)) {
        w->gbuf = dc__tensor_new(p->dtype, p->ndim, p->shape, false);
        if (!w->gbuf) return dc_last_status();
        dc__copy_elements(w->gbuf, g);
    }
    if (!dc__tensor_is_contiguous(p)) {
        w->pbuf = dc__copy_contiguous(p);
        if (!w->pbuf) return dc_last_status();
    }
    for (int s = 0; s < ST_COUNT; s++) {
        if (!slot_used(o, s) || op->state[s]) continue;
        op->state[s] = new_state(o, p, s);
        if (!op->state[s]) return dc_last_status();
        w->created |= 1u << s;
    }
    return DC_OK;
}

static void update_param(dc_optim *o, int i, const param_work *w) {
    optim_param *op = &o->params[i];
    dc_tensor *p = op->t;
    const optim_group *grp = &o->groups[op->group];
    update_args a = {
        .n = p->numel,
        .param = dc__tensor_data(w->pbuf ? w->pbuf : p),
        .grad = dc__tensor_data(w->gbuf ? w->gbuf : p->grad),
        .lr = grp->lr,
        .wd = grp->weight_decay,
        .fresh_buffer = (w->created >> ST_MOMENTUM_BUFFER) & 1u,
        .h = &o->h,
    };
    for (int s = 0; s < ST_COUNT; s++)
        a.s[s] = op->state[s] ? dc__tensor_data(op->state[s]) : NULL;
    a.s[ST_STEP] = NULL;
    if (op->state[ST_STEP]) {
        float *step = dc__tensor_data(op->state[ST_STEP]);
        *step = *step + 1.0f;
        a.step = (double)*step;
    }
    run_update(pick_kernel(o->kind, p->dtype), &a, dc_dtype_size(p->dtype));
    if (w->pbuf) dc__copy_elements(p, w->pbuf);
    dc__bump_version(p);
    for (int s = 0; s < ST_COUNT; s++)
        if (op->state[s]) dc__bump_version(op->state[s]);
}

static void drop_work(dc_optim *o, param_work *work, bool undo_state) {
    for (int i = 0; i < o->nparams; i++) {
        dc_release(work[i].pbuf);
        dc_release(work[i].gbuf);
        for (int s = 0; undo_state && s < ST_COUNT; s++) {
            if (!((work[i].created >> s) & 1u)) continue;
            dc_release(o->params[i].state[s]);
            o->params[i].state[s] = NULL;
        }
    }
    dc__free(work);
}

dc_status dc_optim_step(dc_optim *opt) {
    dc_status st = check_optim(opt, "dc_optim_step");
    if (st != DC_OK) return st;
    param_work *work = dc__calloc((size_t)opt->nparams, sizeof *work);
    if (!work) return dc_last_status();
    bool any_created = false;
    for (int i = 0; st == DC_OK && i < opt->nparams; i++) {
        st = prepare_param(opt, i, &work[i]);
        any_created = any_created || work[i].created != 0;
    }
    if (st != DC_OK) {
        drop_work(opt, work, true);
        return st;
    }
    /* The kernels write storage directly, so nothing is recorded; turn
     * recording off anyway in case a future path uses public ops. */
    int prev = dc_set_grad_enabled(0);
    for (int i = 0; i < opt->nparams; i++)
        if (work[i].active) update_param(opt, i, &work[i]);
    dc_set_grad_enabled(prev);
    if (any_created) rebuild_entries(opt);
    drop_work(opt, work, false);
    return DC_OK;
}
