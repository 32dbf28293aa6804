/* Training and evaluating one job: a zoo GPT of the job's size trained
 * with the recipe, a row of metrics at every evaluation step. */
#ifndef SCALING_TRAIN_H
#define SCALING_TRAIN_H

#include "corpus.h"
#include "study.h"

/* Called after every step (for the progress display). */
typedef void (*sc_progress_fn)(void *ctx, long step, double loss);

/* Trains the job (LM on the corpus, addition on generated problems) and
 * fills rows (steps / eval_every of them, at most max_rows). The library
 * must be set up (threads) by the caller. Returns the number of rows, or
 * -1 with a message on stderr. */
int sc_train_job(const sc_job *job, const sc_recipe *r, const sc_corpus *c, sc_row *rows,
                 int max_rows, sc_progress_fn progress, void *ctx);

/* The non-embedding parameter count of a size (builds the model once). */
int64_t sc_count_params(int layers, int width, int64_t vocab, int64_t context);

#endif
