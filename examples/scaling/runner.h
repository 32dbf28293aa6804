/* Runs the study's jobs in worker processes: each worker (a fork of the
 * caller, the corpus shared copy-on-write) takes the next job from a
 * shared list, trains it with its own library threads, and writes the
 * job's result file. The caller shows one progress line for the whole
 * run (jobs done, each worker's job, step and loss, elapsed, ETA). */
#ifndef SCALING_RUNNER_H
#define SCALING_RUNNER_H

#include "corpus.h"
#include "study.h"

typedef struct sc_run_plan {
    const sc_job *jobs;     /* in the order to take them (largest first) */
    const double *cost;     /* relative cost of each job, for the ETA */
    int n_jobs;
    int workers, threads;   /* processes, and library threads in each */
    const char *out_dir;
} sc_run_plan;

/* The work of a job in relative units: steps x tokens per step x
 * (parameters + a per-step overhead in parameter units). */
double sc_job_cost(const sc_job *job, const sc_recipe *r, int64_t n_params);

/* Runs every job of the plan; returns the number that failed (0: all
 * wrote their result), or -1 when the workers could not be started. */
int sc_run_jobs(const sc_run_plan *plan, const sc_recipe *r, const sc_corpus *c);

#endif
