/* Learning-rate schedules. */
#include "../core/internal.h"

dc_sched * dc_sched_step_lr_new(dc_optim *opt, int64_t step_size, double gamma) {
    (void)opt;
    (void)step_size;
    (void)gamma;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_sched * dc_sched_exponential_new(dc_optim *opt, double gamma) {
    (void)opt;
    (void)gamma;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_sched * dc_sched_cosine_new(dc_optim *opt, int64_t t_max, double eta_min) {
    (void)opt;
    (void)t_max;
    (void)eta_min;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_sched * dc_sched_linear_new(dc_optim *opt, double start_factor, double end_factor, int64_t total_iters) {
    (void)opt;
    (void)start_factor;
    (void)end_factor;
    (void)total_iters;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_sched * dc_sched_sequential_new(dc_optim *opt, dc_sched *const *scheds, int n, const int64_t *milestones) {
    (void)opt;
    (void)scheds;
    (void)n;
    (void)milestones;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_sched_step(dc_sched *s) {
    (void)s;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

int64_t dc_sched_last_epoch(const dc_sched *s) {
    (void)s;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}

dc_status dc_sched_set_last_epoch(dc_sched *s, int64_t epoch) {
    (void)s;
    (void)epoch;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

void dc_sched_release(dc_sched *s) {
    (void)s;
}
