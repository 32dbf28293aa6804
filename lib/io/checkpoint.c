/* Training checkpoints. */
#include "../core/internal.h"

dc_status dc_checkpoint_save(const char *path, dc_module *m, dc_optim *opt, dc_sched *sched, dc_rng *rng, int64_t step) {
    (void)path;
    (void)m;
    (void)opt;
    (void)sched;
    (void)rng;
    (void)step;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_checkpoint_load(const char *path, dc_module *m, dc_optim *opt, dc_sched *sched, dc_rng *rng, int64_t *step) {
    (void)path;
    (void)m;
    (void)opt;
    (void)sched;
    (void)rng;
    (void)step;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
