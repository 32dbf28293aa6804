/* Learning-rate schedules: PyTorch 1.13's StepLR, ExponentialLR,
 * CosineAnnealingLR, LinearLR and SequentialLR (torch/optim/lr_scheduler.py).
 *
 * Every rate is computed from the schedule's closed form
 * (_get_closed_form_lr) at its epoch, so set_last_epoch can jump anywhere;
 * PyTorch's step() uses recursive forms that agree with the closed forms
 * up to rounding. Two schedules stepping the same optimizer at once do not
 * chain (each sets the rate from the base rates), unlike PyTorch's
 * recursive forms; SequentialLR is the way to combine them. */
#include "optim_internal.h"

#include <math.h>

#define DC_SCHED_MAGIC 0x44435343u   /* "DCSC" */

/* math.pi; M_PI is not ISO C */
static const double pi = 3.14159265358979323846;

typedef enum sched_kind {
    SCHED_STEP,
    SCHED_EXPONENTIAL,
    SCHED_COSINE,
    SCHED_LINEAR,
    SCHED_SEQUENTIAL
} sched_kind;

struct dc_sched {
    uint32_t magic;
    atomic_int refcount;
    sched_kind kind;
    dc_optim *opt;            /* retained */
    int nbase;                /* groups known when made; later ones are left alone */
    double *base_lrs;         /* PyTorch's base_lrs: the groups' initial_lr */
    int64_t last_epoch;
    /* StepLR, ExponentialLR */
    int64_t step_size;
    double gamma;
    /* CosineAnnealingLR */
    int64_t t_max;
    double eta_min;
    /* LinearLR */
    double start_factor, end_factor;
    int64_t total_iters;
    /* SequentialLR */
    int nsub;
    dc_sched **subs;          /* retained */
    int64_t *milestones;      /* nsub - 1, increasing */
};

static bool sched_is_live(const dc_sched *s) {
    return s != NULL && s->magic == DC_SCHED_MAGIC;
}

static dc_status check_sched(const dc_sched *s, const char *func) {
    if (s == NULL) return dc__fail(DC_E_INVALID, "%s: 's' is NULL", func);
    if (!sched_is_live(s)) return dc__fail(DC_E_INVALID, "%s: 's' is not a live schedule", func);
    return DC_OK;
}

static dc_status check_opt(const dc_optim *opt, const char *func) {
    if (opt == NULL) return dc__fail(DC_E_INVALID, "%s: 'opt' is NULL", func);
    if (!dc__optim_is_live(opt))
        return dc__fail(DC_E_INVALID, "%s: 'opt' is not a live optimizer", func);
    return DC_OK;
}

/* The rate of a group of base rate base at epoch (not for SequentialLR). */
static double closed_form(const dc_sched *s, double base, int64_t epoch) {
    switch (s->kind) {
    case SCHED_STEP:
        /* NOLINTNEXTLINE(bugprone-integer-division): StepLR's floor(epoch / step_size) */
        return base * pow(s->gamma, (double)(epoch / s->step_size));
    case SCHED_EXPONENTIAL:
        return base * pow(s->gamma, (double)epoch);
    case SCHED_COSINE:
        return s->eta_min + (base - s->eta_min) *
                                (1.0 + cos(pi * (double)epoch / (double)s->t_max)) / 2.0;
    case SCHED_LINEAR: {
        int64_t e = epoch < s->total_iters ? epoch : s->total_iters;
        return base * (s->start_factor + (s->end_factor - s->start_factor) * (double)e /
                                             (double)s->total_iters);
    }
    case SCHED_SEQUENTIAL:
        break;
    }
    return base;
}

/* Sets the rates for epoch and makes it the schedule's last epoch. A
 * sequential schedule hands the epoch, counted from the start of the
 * running schedule's stretch, to that schedule (PyTorch steps it with
 * step(0) at its milestone, restarting it). */
static void apply_epoch(dc_sched *s, int64_t epoch) {
    s->last_epoch = epoch;
    if (s->kind == SCHED_SEQUENTIAL) {
        int idx = 0;
        while (idx < s->nsub - 1 && s->milestones[idx] <= epoch) idx++;
        int64_t start = idx > 0 ? s->milestones[idx - 1] : 0;
        apply_epoch(s->subs[idx], epoch - start);
        return;
    }
    int ngroups = dc_optim_group_count(s->opt);
    for (int g = 0; g < s->nbase && g < ngroups; g++)
        dc__optim_put_lr(s->opt, g, closed_form(s, s->base_lrs[g], epoch));
}

/* A schedule with the optimizer's base rates, not yet applied. */
static dc_sched *sched_alloc(dc_optim *opt, sched_kind kind) {
    dc_sched *s = dc__calloc(1, sizeof *s);
    if (!s) return NULL;
    int n = dc_optim_group_count(opt);
    s->base_lrs = dc__calloc((size_t)n, sizeof *s->base_lrs);
    if (!s->base_lrs) {
        dc__free(s);
        return NULL;
    }
    for (int g = 0; g < n; g++) s->base_lrs[g] = dc__optim_initial_lr(opt, g);
    s->nbase = n;
    s->magic = DC_SCHED_MAGIC;
    atomic_init(&s->refcount, 1);
    s->kind = kind;
    dc__optim_retain(opt);
    s->opt = opt;
    return s;
}

/* PyTorch's constructors end with a first step to epoch 0. */
static dc_sched *sched_start(dc_sched *s) {
    if (s) apply_epoch(s, 0);
    return s;
}

static bool finite_nonneg(double v) { return v >= 0.0 && !isinf(v); }

dc_sched *dc_sched_step_lr_new(dc_optim *opt, int64_t step_size, double gamma) {
    const char *f = "dc_sched_step_lr_new";
    if (check_opt(opt, f) != DC_OK) return NULL;
    if (step_size < 1) {
        dc__fail(DC_E_INVALID, "%s: step_size must be >= 1, not %lld", f, (long long)step_size);
        return NULL;
    }
    if (!finite_nonneg(gamma)) {
        dc__fail(DC_E_INVALID, "%s: gamma must be finite and >= 0, not %g", f, gamma);
        return NULL;
    }
    dc_sched *s = sched_alloc(opt, SCHED_STEP);
    if (s) {
        s->step_size = step_size;
        s->gamma = gamma;
    }
    return sched_start(s);
}

dc_sched *dc_sched_exponential_new(dc_optim *opt, double gamma) {
    const char *f = "dc_sched_exponential_new";
    if (check_opt(opt, f) != DC_OK) return NULL;
    if (!finite_nonneg(gamma)) {
        dc__fail(DC_E_INVALID, "%s: gamma must be finite and >= 0, not %g", f, gamma);
        return NULL;
    }
    dc_sched *s = sched_alloc(opt, SCHED_EXPONENTIAL);
    if (s) s->gamma = gamma;
    return sched_start(s);
}

dc_sched *dc_sched_cosine_new(dc_optim *opt, int64_t t_max, double eta_min) {
    const char *f = "dc_sched_cosine_new";
    if (check_opt(opt, f) != DC_OK) return NULL;
    if (t_max < 1) {
        dc__fail(DC_E_INVALID, "%s: t_max must be >= 1, not %lld", f, (long long)t_max);
        return NULL;
    }
    if (!finite_nonneg(eta_min)) {
        dc__fail(DC_E_INVALID, "%s: eta_min must be finite and >= 0, not %g", f, eta_min);
        return NULL;
    }
    dc_sched *s = sched_alloc(opt, SCHED_COSINE);
    if (s) {
        s->t_max = t_max;
        s->eta_min = eta_min;
    }
    return sched_start(s);
}

dc_sched *dc_sched_linear_new(dc_optim *opt, double start_factor, double end_factor,
                              int64_t total_iters) {
    const char *f = "dc_sched_linear_new";
    if (check_opt(opt, f) != DC_OK) return NULL;
    /* PyTorch allows a start factor of 0 but then divides by it. */
    if (!(start_factor > 0.0 && start_factor <= 1.0)) {
        dc__fail(DC_E_INVALID, "%s: start_factor must be in (0, 1], not %g", f, start_factor);
        return NULL;
    }
    if (!(end_factor >= 0.0 && end_factor <= 1.0)) {
        dc__fail(DC_E_INVALID, "%s: end_factor must be in [0, 1], not %g", f, end_factor);
        return NULL;
    }
    if (total_iters < 1) {
        dc__fail(DC_E_INVALID, "%s: total_iters must be >= 1, not %lld", f,
                 (long long)total_iters);
        return NULL;
    }
    dc_sched *s = sched_alloc(opt, SCHED_LINEAR);
    if (s) {
        s->start_factor = start_factor;
        s->end_factor = end_factor;
        s->total_iters = total_iters;
    }
    return sched_start(s);
}

static dc_status check_sequence(dc_optim *opt, dc_sched *const *scheds, int n,
                                const int64_t *milestones, const char *f) {
    if (scheds == NULL) return dc__fail(DC_E_INVALID, "%s: 'scheds' is NULL", f);
    if (n < 1) return dc__fail(DC_E_INVALID, "%s: n must be >= 1, not %d", f, n);
    if (n > 1 && milestones == NULL) return dc__fail(DC_E_INVALID, "%s: 'milestones' is NULL", f);
    for (int i = 0; i < n; i++) {
        if (!sched_is_live(scheds[i]))
            return dc__fail(DC_E_INVALID, "%s: scheds[%d] is %s", f, i,
                            scheds[i] ? "not a live schedule" : "NULL");
        if (scheds[i]->opt != opt)
            return dc__fail(DC_E_INVALID, "%s: scheds[%d] belongs to another optimizer", f, i);
    }
    for (int i = 0; i + 1 < n; i++) {
        /* milestone 0 would make PyTorch skip the first schedule's restart */
        if (milestones[i] < 1 || (i > 0 && milestones[i] <= milestones[i - 1]))
            return dc__fail(DC_E_INVALID, "%s: milestones must be increasing and >= 1 "
                                          "(milestones[%d] = %lld)", f, i,
                            (long long)milestones[i]);
    }
    return DC_OK;
}

dc_sched *dc_sched_sequential_new(dc_optim *opt, dc_sched *const *scheds, int n,
                                  const int64_t *milestones) {
    const char *f = "dc_sched_sequential_new";
    if (check_opt(opt, f) != DC_OK) return NULL;
    if (check_sequence(opt, scheds, n, milestones, f) != DC_OK) return NULL;
    dc_sched *s = sched_alloc(opt, SCHED_SEQUENTIAL);
    if (!s) return NULL;
    s->subs = dc__calloc((size_t)n, sizeof *s->subs);
    s->milestones = dc__calloc((size_t)n, sizeof *s->milestones);
    if (!s->subs || !s->milestones) {
        dc_sched_release(s);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        s->subs[i] = scheds[i];
        atomic_fetch_add(&scheds[i]->refcount, 1);
        s->subs[i]->last_epoch = -1;     /* PyTorch: each sub's last_epoch -= 1 */
        if (i + 1 < n) s->milestones[i] = milestones[i];
    }
    s->nsub = n;
    return sched_start(s);
}

dc_status dc_sched_step(dc_sched *s) {
    dc_status st = check_sched(s, "dc_sched_step");
    if (st != DC_OK) return st;
    if (s->last_epoch == INT64_MAX)
        return dc__fail(DC_E_OVERFLOW, "dc_sched_step: the step count overflows");
    apply_epoch(s, s->last_epoch + 1);
    return DC_OK;
}

int64_t dc_sched_last_epoch(const dc_sched *s) {
    if (check_sched(s, "dc_sched_last_epoch") != DC_OK) return -1;
    return s->last_epoch;
}

dc_status dc_sched_set_last_epoch(dc_sched *s, int64_t epoch) {
    dc_status st = check_sched(s, "dc_sched_set_last_epoch");
    if (st != DC_OK) return st;
    if (epoch < 0)
        return dc__fail(DC_E_RANGE, "dc_sched_set_last_epoch: epoch must be >= 0, not %lld",
                        (long long)epoch);
    apply_epoch(s, epoch);
    return DC_OK;
}

void dc_sched_release(dc_sched *s) {
    if (s == NULL) return;
    if (!sched_is_live(s)) {
        dc__fail(DC_E_INVALID, "dc_sched_release: 's' is not a live schedule");
        return;
    }
    if (!dc__drop_ref(&s->refcount)) return;
    for (int i = 0; i < s->nsub; i++) dc_sched_release(s->subs[i]);
    dc__free(s->subs);
    dc__free(s->milestones);
    dc__free(s->base_lrs);
    dc_optim_release(s->opt);
    s->magic = 0;
    dc__free(s);
}
