/* Optimizers with PyTorch 1.13 update rules. */
#include "../core/internal.h"

dc_optim * dc_sgd_new(dc_tensor *const *params, int n, double lr, double momentum, double dampening, double weight_decay, int nesterov) {
    (void)params;
    (void)n;
    (void)lr;
    (void)momentum;
    (void)dampening;
    (void)weight_decay;
    (void)nesterov;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_optim * dc_adam_new(dc_tensor *const *params, int n, double lr, double beta1, double beta2, double eps, double weight_decay, int amsgrad) {
    (void)params;
    (void)n;
    (void)lr;
    (void)beta1;
    (void)beta2;
    (void)eps;
    (void)weight_decay;
    (void)amsgrad;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_optim * dc_adamw_new(dc_tensor *const *params, int n, double lr, double beta1, double beta2, double eps, double weight_decay, int amsgrad) {
    (void)params;
    (void)n;
    (void)lr;
    (void)beta1;
    (void)beta2;
    (void)eps;
    (void)weight_decay;
    (void)amsgrad;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_optim * dc_rmsprop_new(dc_tensor *const *params, int n, double lr, double alpha, double eps, double weight_decay, double momentum, int centered) {
    (void)params;
    (void)n;
    (void)lr;
    (void)alpha;
    (void)eps;
    (void)weight_decay;
    (void)momentum;
    (void)centered;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_optim * dc_adagrad_new(dc_tensor *const *params, int n, double lr, double lr_decay, double weight_decay, double initial_accumulator_value, double eps) {
    (void)params;
    (void)n;
    (void)lr;
    (void)lr_decay;
    (void)weight_decay;
    (void)initial_accumulator_value;
    (void)eps;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

void dc_optim_release(dc_optim *opt) {
    (void)opt;
}

dc_status dc_optim_add_group(dc_optim *opt, dc_tensor *const *params, int n, double lr, double weight_decay, int *group) {
    (void)opt;
    (void)params;
    (void)n;
    (void)lr;
    (void)weight_decay;
    (void)group;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

int dc_optim_group_count(const dc_optim *opt) {
    (void)opt;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}

dc_status dc_optim_set_lr(dc_optim *opt, int group, double lr) {
    (void)opt;
    (void)group;
    (void)lr;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

double dc_optim_get_lr(const dc_optim *opt, int group) {
    (void)opt;
    (void)group;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return 0.0 / 0.0;
}

dc_status dc_optim_step(dc_optim *opt) {
    (void)opt;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_optim_zero_grad(dc_optim *opt) {
    (void)opt;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

int64_t dc_optim_state_count(const dc_optim *opt) {
    (void)opt;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}

const char * dc_optim_state_name(const dc_optim *opt, int64_t i) {
    (void)opt;
    (void)i;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_optim_state_tensor(dc_optim *opt, int64_t i) {
    (void)opt;
    (void)i;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_optim_state_load(dc_optim *opt, const char *name, const dc_tensor *t) {
    (void)opt;
    (void)name;
    (void)t;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
