/* The emergence task: 5-digit addition written as text,
 * "01234+56789=058023" (zero-padded, most significant digit first). The
 * model reads the 17 characters before the last one and is scored on the
 * six answer characters only. A fixed hash bucket of the pairs (a, b) is
 * held out: training never draws it, the test set comes only from it. */
#ifndef SCALING_ADDITION_H
#define SCALING_ADDITION_H

#include <stdint.h>

#define SC_ADD_DIGITS 5
#define SC_ADD_ANSWER 6                 /* digits of the sum */
#define SC_ADD_LEN 18                   /* "aaaaa+bbbbb=ssssss" */
#define SC_ADD_INPUT (SC_ADD_LEN - 1)   /* tokens the model reads */
#define SC_ADD_VOCAB 12                 /* 0-9, '+', '=' */
#define SC_ADD_PLUS 10
#define SC_ADD_EQUALS 11
#define SC_ADD_IGNORE (-1)              /* target of a non-answer position */
/* The answer's first digit is predicted at input position 11 (the '='). */
#define SC_ADD_FIRST_ANSWER_POS (2 * SC_ADD_DIGITS + 1)
/* One pair in SC_ADD_HELD_OUT_OF is held out (2%). */
#define SC_ADD_HELD_OUT_OF 50

/* The problem as text (out: SC_ADD_LEN characters and a NUL). */
void sc_add_format(int64_t a, int64_t b, char out[SC_ADD_LEN + 1]);
/* 1 when (a, b) is in the held-out bucket. */
int sc_add_is_held_out(int64_t a, int64_t b);
/* A training problem: uniform over the pairs outside the bucket. */
void sc_add_draw_train(uint64_t *state, int64_t *a, int64_t *b);
/* n distinct held-out problems, the same for every size and seed. */
void sc_add_test_set(int64_t n, int64_t *a, int64_t *b);
/* Model inputs (SC_ADD_INPUT token ids) and targets (SC_ADD_INPUT: the
 * next character on answer positions, SC_ADD_IGNORE elsewhere). */
void sc_add_tokens(int64_t a, int64_t b, int64_t *x, int64_t *y);

typedef struct sc_add_metrics {
    double exact;                       /* all six answer digits right */
    double digit;                       /* answer digits right, all positions */
    double position[SC_ADD_ANSWER];     /* per answer position, first = most significant */
    double loss;                        /* mean cross-entropy of the answer tokens */
} sc_add_metrics;

/* Scores n problems from the model's answer-position logits (n x 6 x
 * SC_ADD_VOCAB, read with the true answer before each position: teacher
 * forcing) against the true answers (n x 6 digits). With teacher forcing
 * a problem is exactly right iff every position's argmax is right, which
 * is also when greedy decoding writes the whole answer right, so exact
 * match is the same as generation's. */
void sc_add_score(const float *logits, const int64_t *answers, int64_t n,
                  sc_add_metrics *m);
/* The product of the six per-position accuracies: what exact match would
 * be if the positions failed independently. */
double sc_add_position_product(const sc_add_metrics *m);

#endif
