/* The study's shared vocabulary: the two tasks, a job (one size, one
 * seed, one task), the recipe every job follows, and a result row. */
#ifndef SCALING_STUDY_H
#define SCALING_STUDY_H

#include "addition.h"

#include <stdint.h>

typedef enum sc_task { SC_TASK_LM = 0, SC_TASK_ADD = 1 } sc_task;

typedef struct sc_job {
    sc_task task;
    int layers, width, heads;
    int seed;
} sc_job;

typedef struct sc_recipe {
    long lm_steps, lm_eval_every;
    int64_t lm_batch, lm_context, lm_eval_windows;
    long add_steps, add_eval_every;
    int64_t add_batch, add_test;
    double lr;              /* peak; warm-up over a tenth, cosine to lr/10 */
    double weight_decay;    /* on the 2-D weights of the blocks only */
} sc_recipe;

/* One evaluation of one job. */
typedef struct sc_row {
    int layers, width, heads, seed;
    int64_t n_params;       /* non-embedding parameters */
    long step;
    double train_loss;      /* mean training loss since the last row */
    double val_loss;        /* LM: held-out loss; addition: test answer-token loss */
    sc_add_metrics add;     /* addition only */
    double lr, seconds;
} sc_row;

/* Attention heads of 32 dimensions, at least one (width 16 and 48: one
 * head of 16 and 48). */
int sc_heads_for(int width);

#endif
