#include "corpus.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 1024

typedef struct text {
    unsigned char *bytes;
    size_t len, cap;
} text;

static int grow(text *t, size_t need) {
    if (t->len + need <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 65536;
    while (cap < t->len + need) cap *= 2;
    unsigned char *p = realloc(t->bytes, cap);
    if (!p) return -1;
    t->bytes = p;
    t->cap = cap;
    return 0;
}

/* Appends the file's first 90% to train and the rest to val. */
static int split_file(const char *path, text *train, text *val) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "scaling: cannot open %s\n", path);
        return -1;
    }
    text all = {0};
    unsigned char chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (grow(&all, got) != 0) rc = -1;
        else {
            memcpy(all.bytes + all.len, chunk, got);
            all.len += got;
        }
    }
    if (ferror(f)) rc = -1;
    fclose(f);
    size_t n_train = all.len - all.len / 10;
    if (rc == 0 && (grow(train, n_train) != 0 || grow(val, all.len - n_train) != 0)) rc = -1;
    if (rc == 0) {
        /* an empty file (or one under 10 bytes) adds nothing to one side:
         * no memcpy with a NULL buffer then, even of 0 bytes */
        if (n_train > 0) memcpy(train->bytes + train->len, all.bytes, n_train);
        train->len += n_train;
        if (all.len > n_train) memcpy(val->bytes + val->len, all.bytes + n_train, all.len - n_train);
        val->len += all.len - n_train;
    } else {
        fprintf(stderr, "scaling: cannot read %s\n", path);
    }
    free(all.bytes);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int split_directory(const char *dir, text *train, text *val, int *n_files) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = calloc(MAX_FILES, sizeof *names);
    int n = 0, rc = names ? 0 : -1;
    struct dirent *e;
    while (rc == 0 && n < MAX_FILES && (e = readdir(d))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (!(names[n] = strdup(e->d_name))) rc = -1;
        else n++;
    }
    closedir(d);
    if (rc == 0) qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0) rc = split_file(path, train, val);
        free(names[i]);
    }
    free(names);
    *n_files += n;
    return rc;
}

static int64_t *to_indices(const sc_corpus *c, const text *t) {
    int64_t *ids = malloc((t->len ? t->len : 1) * sizeof *ids);
    if (ids)
        for (size_t i = 0; i < t->len; i++) ids[i] = c->index_of[t->bytes[i]];
    return ids;
}

int sc_corpus_load(sc_corpus *c, const char *const *paths, int n_paths) {
    memset(c, 0, sizeof *c);
    text train = {0}, val = {0};
    int rc = 0;
    for (int i = 0; i < n_paths && rc == 0; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            fprintf(stderr, "scaling: no such file or directory: %s\n", paths[i]);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = split_directory(paths[i], &train, &val, &c->n_files);
        } else {
            rc = split_file(paths[i], &train, &val);
            c->n_files++;
        }
    }
    if (rc == 0 && (train.len < 1000 || val.len < 200)) {
        fprintf(stderr, "scaling: the corpus is too small (%zu + %zu bytes)\n", train.len,
                val.len);
        rc = -1;
    }
    if (rc == 0) {
        int seen[256] = {0};
        for (size_t i = 0; i < train.len; i++) seen[train.bytes[i]] = 1;
        for (size_t i = 0; i < val.len; i++) seen[val.bytes[i]] = 1;
        for (int b = 0; b < 256; b++) {
            c->index_of[b] = seen[b] ? (int)c->vocab : -1;
            if (seen[b]) c->chars[c->vocab++] = (unsigned char)b;
        }
        c->train = to_indices(c, &train);
        c->val = to_indices(c, &val);
        c->n_train = (int64_t)train.len;
        c->n_val = (int64_t)val.len;
        c->n_bytes = c->n_train + c->n_val;
        if (!c->train || !c->val) rc = -1;
    }
    free(train.bytes);
    free(val.bytes);
    if (rc != 0) sc_corpus_free(c);
    return rc;
}

void sc_corpus_free(sc_corpus *c) {
    free(c->train);
    free(c->val);
    c->train = c->val = NULL;
}

uint64_t sc_random_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void window(const int64_t *tokens, int64_t start, int64_t context, int64_t *x,
                   int64_t *y) {
    memcpy(x, tokens + start, (size_t)context * sizeof *x);
    memcpy(y, tokens + start + 1, (size_t)context * sizeof *y);
}

void sc_corpus_train_batch(const sc_corpus *c, uint64_t *state, int64_t batch,
                           int64_t context, int64_t *x, int64_t *y) {
    uint64_t span = (uint64_t)(c->n_train - context - 1);
    for (int64_t b = 0; b < batch; b++)
        window(c->train, (int64_t)(sc_random_next(state) % span), context, x + b * context,
               y + b * context);
}

void sc_corpus_val_window(const sc_corpus *c, int64_t i, int64_t n, int64_t context,
                          int64_t *x, int64_t *y) {
    int64_t span = c->n_val - context - 1;
    window(c->val, span * i / n, context, x, y);
}
