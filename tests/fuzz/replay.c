/* Runs the fuzz target over every file of a corpus directory, without
 * libFuzzer, so the corpus is exercised in every test run. Fails when the
 * target leaves library allocations alive or the directory is empty. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepcore/deepcore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        unsigned char *p = realloc(buf, cap *= 2);
        if (!p) free(buf);
        buf = p;
    }
    fclose(f);
    *n = len;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    int runs = 0, failures = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        size_t n;
        unsigned char *buf = read_file(path, &n);
        if (!buf) {
            perror(path);
            failures++;
            continue;
        }
        int64_t before = dc_live_allocations();
        LLVMFuzzerTestOneInput(buf, n);
        int64_t after = dc_live_allocations();
        if (after != before) {
            fprintf(stderr, "%s: %lld library allocations leaked\n", path,
                    (long long)(after - before));
            failures++;
        }
        free(buf);
        runs++;
    }
    closedir(d);
    printf("%d corpus files replayed, %d failures\n", runs, failures);
    return failures > 0 || runs == 0;
}
