/* The character-level corpus of the scaling law task: text files read as
 * bytes, a vocabulary of the bytes that occur, the last tenth of every
 * file held out, and random training windows. */
#ifndef SCALING_CORPUS_H
#define SCALING_CORPUS_H

#include <stdint.h>

/* The licence texts every Debian system has (its regular files). */
#define SC_DEFAULT_CORPUS "/usr/share/common-licenses"

typedef struct sc_corpus {
    int64_t *train, *val;       /* vocabulary indices */
    int64_t n_train, n_val;
    int64_t n_bytes;            /* all the text read */
    int n_files;
    int64_t vocab;
    int index_of[256];          /* byte -> vocabulary index, or -1 */
    unsigned char chars[256];   /* vocabulary index -> byte */
} sc_corpus;

/* Reads each path in turn: a directory contributes its regular files
 * (symbolic links skipped, so no text counts twice) sorted by name, a
 * file itself. Of every file, the first 90% (by bytes) goes to train, the
 * rest to val. Returns 0, or -1 with a message on stderr. */
int sc_corpus_load(sc_corpus *c, const char *const *paths, int n_paths);
void sc_corpus_free(sc_corpus *c);

/* splitmix64: the integer streams of batches and problems (one state
 * word, so a job's stream depends on its seed only). */
uint64_t sc_random_next(uint64_t *state);

/* Writes batch windows of context inputs and next-character targets
 * (x, y: batch * context each) starting at random training offsets. */
void sc_corpus_train_batch(const sc_corpus *c, uint64_t *state, int64_t batch,
                           int64_t context, int64_t *x, int64_t *y);
/* Window i of n evenly spaced held-out windows (for a fixed val loss). */
void sc_corpus_val_window(const sc_corpus *c, int64_t i, int64_t n, int64_t context,
                          int64_t *x, int64_t *y);

#endif
