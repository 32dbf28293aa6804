/*
 * libdeepcore — optimizers, learning-rate schedules, gradient clipping.
 * Included by deepcore/deepcore.h; do not include it on its own.
 *
 * Update rules are PyTorch 1.13's (torch.optim), step for step.
 */
#ifndef DEEPCORE_OPTIM_H
#define DEEPCORE_OPTIM_H

#ifndef DEEPCORE_DEEPCORE_H
#error "include <deepcore/deepcore.h>, not <deepcore/optim.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_optim dc_optim;

/* Each constructor takes the first parameter group: n >= 1 floating leaf
 * tensors (the optimizer keeps a reference to each) with the given
 * hyper-parameters. A parameter whose gradient is missing at a step is
 * skipped, as in PyTorch. lr >= 0, weight_decay >= 0, betas in [0, 1),
 * eps >= 0, else DC_E_INVALID. */
DC_API dc_optim *dc_sgd_new(dc_tensor *const *params, int n, double lr,
                            double momentum, double dampening,
                            double weight_decay, int nesterov);
/* Adam; weight_decay is L2 added to the gradient (torch.optim.Adam). */
DC_API dc_optim *dc_adam_new(dc_tensor *const *params, int n, double lr,
                             double beta1, double beta2, double eps,
                             double weight_decay, int amsgrad);
/* AdamW: decoupled weight decay (PyTorch's default 0.01). */
DC_API dc_optim *dc_adamw_new(dc_tensor *const *params, int n, double lr,
                              double beta1, double beta2, double eps,
                              double weight_decay, int amsgrad);
DC_API dc_optim *dc_rmsprop_new(dc_tensor *const *params, int n, double lr,
                                double alpha, double eps,
                                double weight_decay, double momentum,
                                int centered);
DC_API dc_optim *dc_adagrad_new(dc_tensor *const *params, int n, double lr,
                                double lr_decay, double weight_decay,
                                double initial_accumulator_value,
                                double eps);
DC_API void dc_optim_release(dc_optim *opt);              /* NULL: no-op */

/* Adds a parameter group with its own learning rate and weight decay (the
 * other hyper-parameters are the first group's). Returns the group index
 * through *group (may be NULL). A tensor may belong to one group only. */
DC_API dc_status dc_optim_add_group(dc_optim *opt, dc_tensor *const *params,
                                    int n, double lr, double weight_decay,
                                    int *group);
DC_API int dc_optim_group_count(const dc_optim *opt);
DC_API dc_status dc_optim_set_lr(dc_optim *opt, int group, double lr);
DC_API double dc_optim_get_lr(const dc_optim *opt, int group); /* NaN: err */

/* One update of every parameter from its .grad, with recording off. */
DC_API dc_status dc_optim_step(dc_optim *opt);
/* Drops the gradients of every parameter (set to none, as PyTorch 2). */
DC_API dc_status dc_optim_zero_grad(dc_optim *opt);

/* The optimizer state as named tensors, PyTorch-style names
 * ("state.3.exp_avg", "state.3.step"; 3 is the parameter's index over all
 * groups). Tensors exist for parameters that have been stepped at least
 * once. Returns new references to the live state: writing one (or calling
 * dc_optim_state_load) restores it. */
DC_API int64_t dc_optim_state_count(const dc_optim *opt);
/* The name stays valid until the next dc_optim_step, dc_optim_state_load
 * or dc_optim_add_group (copy it to keep it). */
DC_API const char *dc_optim_state_name(const dc_optim *opt, int64_t i);
DC_API dc_tensor *dc_optim_state_tensor(dc_optim *opt, int64_t i);
/* Sets the state entry of that name from t (same shape), creating it when
 * the parameter has not been stepped yet. */
DC_API dc_status dc_optim_state_load(dc_optim *opt, const char *name,
                                     const dc_tensor *t);

/* ------------------------------------------------------------------ */
/* Learning-rate schedules                                             */
/* ------------------------------------------------------------------ */

/* A schedule sets the learning rate of every group of its optimizer from
 * the group's base rate (the rate when the schedule was made) and the
 * number of dc_sched_step calls, as the PyTorch scheduler of that name. */
typedef struct dc_sched dc_sched;

DC_API dc_sched *dc_sched_step_lr_new(dc_optim *opt, int64_t step_size,
                                      double gamma);
DC_API dc_sched *dc_sched_exponential_new(dc_optim *opt, double gamma);
DC_API dc_sched *dc_sched_cosine_new(dc_optim *opt, int64_t t_max,
                                     double eta_min);
/* LinearLR: the factor goes from start_factor to end_factor over
 * total_iters steps (warm-up: start 1/total_iters, end 1). */
DC_API dc_sched *dc_sched_linear_new(dc_optim *opt, double start_factor,
                                     double end_factor, int64_t total_iters);
/* SequentialLR: schedule i runs until milestone i (n schedules, n - 1
 * increasing milestones). Takes a reference to each schedule. */
DC_API dc_sched *dc_sched_sequential_new(dc_optim *opt,
                                         dc_sched *const *scheds, int n,
                                         const int64_t *milestones);
DC_API dc_status dc_sched_step(dc_sched *s);
DC_API int64_t dc_sched_last_epoch(const dc_sched *s);
/* Restores the step count (and the rates it implies), for checkpoints. */
DC_API dc_status dc_sched_set_last_epoch(dc_sched *s, int64_t epoch);
DC_API void dc_sched_release(dc_sched *s);                /* NULL: no-op */

/* ------------------------------------------------------------------ */
/* Gradient clipping (in place on .grad)                               */
/* ------------------------------------------------------------------ */

/* Scales all gradients together so their total norm (norm_type 2, 1, or
 * INFINITY) is at most max_norm; the norm before clipping goes to
 * *total_norm (may be NULL). Parameters without a gradient are skipped. */
DC_API dc_status dc_clip_grad_norm(dc_tensor *const *params, int n,
                                   double max_norm, double norm_type,
                                   double *total_norm);
DC_API dc_status dc_clip_grad_value(dc_tensor *const *params, int n,
                                    double clip_value);

#ifdef __cplusplus
}
#endif

#endif /* DEEPCORE_OPTIM_H */
