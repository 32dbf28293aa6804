/* What the schedules (sched.c) need from the optimizer (optim.c). */
#ifndef DEEPCORE_OPTIM_INTERNAL_H
#define DEEPCORE_OPTIM_INTERNAL_H

#include "../core/internal.h"

/* True for a live optimizer handle. */
bool dc__optim_is_live(const dc_optim *opt);
/* Schedules keep their optimizer alive: a reference each, dropped with
 * dc_optim_release. */
void dc__optim_retain(dc_optim *opt);
/* The rate the group had when the first schedule of the optimizer saw it
 * (PyTorch's 'initial_lr', set once with setdefault). */
double dc__optim_initial_lr(dc_optim *opt, int group);
/* Sets a group's rate without validation (schedules compute valid ones). */
void dc__optim_put_lr(dc_optim *opt, int group, double lr);

#endif /* DEEPCORE_OPTIM_INTERNAL_H */
