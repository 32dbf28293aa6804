/*
 * scaling: how does a model's quality change as it grows, and do
 * abilities appear suddenly past some size? One command trains a ladder
 * of zoo GPTs (about 3k to 800k non-embedding parameters) with one
 * recipe on two tasks, writes CSVs, fits a power law, and draws plots.
 *
 *   ./build/examples/scaling/scaling [--quick] [--out DIR] [--seeds N]
 *       [--jobs N] [--threads N] [--corpus PATH...] [--no-plot] [--tiny]
 *
 * Task 1 (scaling law): next-character loss on held-out text (by default
 * the licences of /usr/share/common-licenses). Task 2 (emergence): 5-digit
 * addition, exact match and the continuous metrics beside it. See
 * doc/scaling.md for what is measured and how to read it.
 *
 * Every job (one size, one seed, one task) writes OUT/runs/<job>.csv when
 * it finishes; running the same command again skips those, so a stopped
 * study resumes. The settings are kept in OUT/config.txt and a run with
 * other settings is refused (use another --out).
 */
#include "corpus.h"
#include "report.h"
#include "results.h"
#include "runner.h"
#include "study.h"
#include "train.h"

#include <deepcore/deepcore.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SC_PLOT_SCRIPT
#define SC_PLOT_SCRIPT "examples/scaling/plot.gp"
#endif
#define MAX_CORPUS 64
#define MAX_SIZES 8
#define MAX_SEEDS 63

/* The ladder: (layers, width). */
static const int full_ladder[][2] = {{1, 16}, {1, 32}, {2, 32}, {2, 48},
                                     {2, 64}, {2, 96}, {3, 96}, {4, 128}};
static const int tiny_ladder[][2] = {{1, 16}, {1, 32}};

typedef struct options {
    int quick, tiny, plot, seeds, jobs, threads;
    long lm_steps, add_steps;   /* 0: the recipe's */
    int sizes[MAX_SIZES][2], n_sizes;   /* --sizes; 0: the ladder */
    const char *out;
    const char *corpus[MAX_CORPUS];
    int n_corpus;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: scaling [options]\n"
            "  --quick          one seed, 500 LM steps (a few minutes)\n"
            "  --out DIR        output directory (default scaling-out)\n"
            "  --corpus PATH... text files or directories for the LM task\n"
            "                   (default " SC_DEFAULT_CORPUS ")\n"
            "  --seeds N        addition seeds per size, up to 63 (default 3; --quick 1)\n"
            "  --jobs N         worker processes (default: one per core)\n"
            "  --threads N      library threads in each worker (default 1)\n"
            "  --sizes LxW,...  other sizes than the ladder (e.g. 1x16,2x64)\n"
            "  --lm-steps N     LM training steps (default 1000; --quick 500)\n"
            "  --add-steps N    addition training steps (default 2000)\n"
            "  --no-plot        do not call gnuplot\n"
            "  --tiny           two small sizes, a few steps (for the test suite)\n"
            "  --help           this text\n");
}

static int parse_int(const char *s, int lo, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < lo || v > 1000) return -1;
    *out = (int)v;
    return 0;
}

/* "1x16,2x64": layers x width, width a multiple of 16. */
static int parse_sizes(const char *s, options *o) {
    o->n_sizes = 0;
    while (*s && o->n_sizes < MAX_SIZES) {
        int layers, width, used = 0;
        if (sscanf(s, "%dx%d%n", &layers, &width, &used) != 2 || layers < 1 || layers > 64 ||
            width < 16 || width > 4096 || width % 16 != 0)
            return -1;
        o->sizes[o->n_sizes][0] = layers;
        o->sizes[o->n_sizes++][1] = width;
        s += used;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return o->n_sizes > 0 && !*s ? 0 : -1;
}

static int parse_options(int argc, char **argv, options *o) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){.plot = 1, .seeds = -1, .jobs = cores > 0 ? (int)cores : 1, .threads = 1,
                   .out = "scaling-out"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--tiny")) {
            o->tiny = 1;
        } else if (!strcmp(a, "--no-plot")) {
            o->plot = 0;
        } else if (!strcmp(a, "--out") && has_value) {
            o->out = argv[++i];
        } else if (!strcmp(a, "--seeds") && has_value) {
            if (parse_int(argv[++i], 1, &o->seeds) != 0 || o->seeds > MAX_SEEDS) goto bad;
        } else if (!strcmp(a, "--jobs") && has_value) {
            if (parse_int(argv[++i], 1, &o->jobs) != 0) goto bad;
        } else if (!strcmp(a, "--threads") && has_value) {
            if (parse_int(argv[++i], 0, &o->threads) != 0) goto bad;
        } else if (!strcmp(a, "--lm-steps") && has_value) {
            int v;
            if (parse_int(argv[++i], 1, &v) != 0) goto bad;
            o->lm_steps = v;
        } else if (!strcmp(a, "--add-steps") && has_value) {
            int v;
            if (parse_int(argv[++i], 1, &v) != 0) goto bad;
            o->add_steps = v;
        } else if (!strcmp(a, "--sizes") && has_value) {
            if (parse_sizes(argv[++i], o) != 0) goto bad;
        } else if (!strcmp(a, "--corpus") && has_value) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && o->n_corpus < MAX_CORPUS)
                o->corpus[o->n_corpus++] = argv[++i];
            if (o->n_corpus == 0) goto bad;
        } else {
            goto bad;
        }
    }
    if (o->seeds < 0) o->seeds = o->tiny ? 2 : o->quick ? 1 : 3;
    if (o->n_corpus == 0) o->corpus[o->n_corpus++] = SC_DEFAULT_CORPUS;
    return 0;
bad:
    usage(stderr);
    return -1;
}

/* The recipe: one for every size (see doc/scaling.md). */
static sc_recipe make_recipe(const options *o) {
    sc_recipe r = {.lm_steps = 1000, .lm_eval_every = 100, .lm_batch = 32, .lm_context = 64,
                   .lm_eval_windows = 256, .add_steps = 2000, .add_eval_every = 200,
                   .add_batch = 64, .add_test = 1000, .lr = 3e-3, .weight_decay = 0.1};
    if (o->quick) r.lm_steps = 500, r.lm_eval_every = 50;
    if (o->tiny) {
        r.lm_steps = r.add_steps = 20;
        r.lm_eval_every = r.add_eval_every = 10;
        r.lm_eval_windows = 32;
        r.add_test = 100;
    }
    /* Other step counts keep ten evaluations per run. */
    if (o->lm_steps) {
        r.lm_steps = o->lm_steps;
        r.lm_eval_every = o->lm_steps >= 10 ? o->lm_steps / 10 : 1;
    }
    if (o->add_steps) {
        r.add_steps = o->add_steps;
        r.add_eval_every = o->add_steps >= 10 ? o->add_steps / 10 : 1;
    }
    return r;
}

/* The settings as text: a resumed run must have the same. */
static void describe(FILE *f, const options *o, const sc_recipe *r, const sc_corpus *c,
                     const int (*ladder)[2], int n_sizes) {
    fprintf(f, "ladder");
    for (int s = 0; s < n_sizes; s++) fprintf(f, " %dx%d", ladder[s][0], ladder[s][1]);
    fprintf(f, "\nseeds %d\nlm %ld steps, eval every %ld, batch %lld, context %lld, %lld "
               "eval windows\naddition %ld steps, eval every %ld, batch %lld, %lld test "
               "problems\nlr %g, weight decay %g\ncorpus",
            o->seeds, r->lm_steps, r->lm_eval_every, (long long)r->lm_batch,
            (long long)r->lm_context, (long long)r->lm_eval_windows, r->add_steps,
            r->add_eval_every, (long long)r->add_batch, (long long)r->add_test, r->lr,
            r->weight_decay);
    for (int i = 0; i < o->n_corpus; i++) fprintf(f, " %s", o->corpus[i]);
    fprintf(f, " (%lld bytes, vocabulary %lld)\n", (long long)c->n_bytes, (long long)c->vocab);
}

/* Creates OUT and OUT/runs, writes or checks OUT/config.txt. */
static int prepare_out(const char *out, const char *config) {
    char path[4096];
    snprintf(path, sizeof path, "%s/runs", out);
    if ((mkdir(out, 0777) != 0 && errno != EEXIST) || (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "scaling: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/config.txt", out);
    FILE *f = fopen(path, "r");
    if (f) {
        char old[8192];
        size_t n = fread(old, 1, sizeof old - 1, f);
        old[n] = '\0';
        fclose(f);
        if (strcmp(old, config) != 0) {
            fprintf(stderr, "scaling: %s holds a study with other settings:\n%s"
                            "give another --out, or remove it to start afresh\n", out, old);
            return -1;
        }
        return 0;
    }
    if (!(f = fopen(path, "w"))) return -1;
    fputs(config, f);
    return fclose(f);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct job_order {
    sc_job job;
    double cost;
} job_order;

static int by_cost_descending(const void *a, const void *b) {
    double x = ((const job_order *)a)->cost, y = ((const job_order *)b)->cost;
    return (x < y) - (x > y);
}

/* Gathers the result files of one task in ladder, seed order into
 * OUT/lm.csv or OUT/addition.csv; the rows through *rows. */
static int gather(const char *out, sc_task task, const int (*ladder)[2], int n_sizes,
                  int seeds, sc_row **rows, int *n) {
    *rows = NULL;
    *n = 0;
    for (int s = 0; s < n_sizes; s++)
        for (int seed = 1; seed <= seeds; seed++) {
            sc_job job = {task, ladder[s][0], ladder[s][1], sc_heads_for(ladder[s][1]), seed};
            if (sc_result_read(out, &job, rows, n) != 0) {
                fprintf(stderr, "scaling: the result of %s %dx%d seed %d is missing\n",
                        task == SC_TASK_LM ? "lm" : "addition", job.layers, job.width, seed);
                return -1;
            }
        }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, task == SC_TASK_LM ? "lm.csv" : "addition.csv");
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    sc_csv_header(f, task);
    for (int i = 0; i < *n; i++) sc_csv_row(f, task, &(*rows)[i]);
    return fclose(f);
}

static void plot(const options *o) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gnuplot -e \"dir='%s'\" '%s'", o->out, SC_PLOT_SCRIPT);
    if (!o->plot || system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("plots: run  %s  (gnuplot: Debian package gnuplot-nox)\n", cmd);
        return;
    }
    int rc = system(cmd);
    if (rc == 0)
        printf("plots: %s/{loss_vs_n,emergence,learning_curves}.{png,svg}\n", o->out);
    else
        fprintf(stderr, "scaling: gnuplot failed (%d): %s\n", rc, cmd);
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const int(*ladder)[2] = o.n_sizes ? (const int(*)[2])o.sizes : o.tiny ? tiny_ladder : full_ladder;
    int n_sizes = o.n_sizes ? o.n_sizes : o.tiny ? 2 : MAX_SIZES;
    sc_recipe r = make_recipe(&o);
    sc_corpus c;
    if (sc_corpus_load(&c, o.corpus, o.n_corpus) != 0) return 1;
    printf("corpus: %lld characters from %d file%s, vocabulary %lld; %lld train, %lld held out "
           "(the last 10%% of each file)\n", (long long)c.n_bytes, c.n_files,
           c.n_files == 1 ? "" : "s", (long long)c.vocab, (long long)c.n_train,
           (long long)c.n_val);

    char config[8192];
    FILE *cf = fmemopen(config, sizeof config, "w");
    if (!cf) return 1;
    describe(cf, &o, &r, &c, ladder, n_sizes);
    fclose(cf);
    if (prepare_out(o.out, config) != 0) return 1;

    /* The parent builds each size once for its parameter count, on one
       thread, before any worker is forked. */
    if (dc_set_num_threads(1) != DC_OK) return 1;
    job_order order[MAX_SIZES * (1 + MAX_SEEDS)];
    int n_jobs = 0, skipped = 0;
    for (int s = 0; s < n_sizes; s++) {
        int64_t n_params = sc_count_params(ladder[s][0], ladder[s][1], c.vocab, r.lm_context);
        if (n_params < 0) {
            fprintf(stderr, "scaling: building %dx%d failed: %s\n", ladder[s][0], ladder[s][1],
                    dc_last_error());
            return 1;
        }
        for (int t = 0; t < 2; t++)
            for (int seed = 1; seed <= (t == SC_TASK_LM ? 1 : o.seeds); seed++) {
                sc_job job = {(sc_task)t, ladder[s][0], ladder[s][1], sc_heads_for(ladder[s][1]),
                              seed};
                if (sc_result_exists(o.out, &job)) {
                    skipped++;
                    continue;
                }
                order[n_jobs++] = (job_order){job, sc_job_cost(&job, &r, n_params)};
            }
    }
    /* Largest first: the long jobs start at once and the short ones fill
       the gaps at the end, so the workers finish together. */
    qsort(order, (size_t)n_jobs, sizeof *order, by_cost_descending);
    sc_job jobs[MAX_SIZES * (1 + MAX_SEEDS)];
    double cost[MAX_SIZES * (1 + MAX_SEEDS)];
    for (int i = 0; i < n_jobs; i++) {
        jobs[i] = order[i].job;
        cost[i] = order[i].cost;
    }
    printf("%d jobs to run, %d already done (in %s/runs); %d worker%s x %d thread%s\n", n_jobs,
           skipped, o.out, o.jobs, o.jobs == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");
    double start = now_seconds();
    sc_run_plan plan = {jobs, cost, n_jobs, o.jobs, o.threads, o.out};
    int failed = sc_run_jobs(&plan, &r, &c);
    if (failed != 0) {
        fprintf(stderr, "scaling: %d job%s did not finish; run the same command again to "
                        "resume\n", failed < 0 ? n_jobs : failed, failed == 1 ? "" : "s");
        sc_corpus_free(&c);
        return 1;
    }
    if (n_jobs) printf("trained in %.1f s\n", now_seconds() - start);

    sc_row *lm = NULL, *add = NULL;
    int n_lm = 0, n_add = 0, rc = 0;
    if (gather(o.out, SC_TASK_LM, ladder, n_sizes, 1, &lm, &n_lm) != 0 ||
        gather(o.out, SC_TASK_ADD, ladder, n_sizes, o.seeds, &add, &n_add) != 0) {
        rc = 1;
    } else {
        sc_size_summary per_size[MAX_SIZES];
        sc_study_summary study;
        sc_summarise(ladder, n_sizes, lm, n_lm, add, n_add, per_size, &study);
        if (sc_write_plot_data(o.out, per_size, n_sizes, &study, lm, n_lm, add, n_add) != 0)
            rc = 1;
        sc_print_summary(stdout, per_size, n_sizes, &study);
        char path[4096];
        snprintf(path, sizeof path, "%s/summary.txt", o.out);
        FILE *f = fopen(path, "w");
        if (f) {
            sc_print_summary(f, per_size, n_sizes, &study);
            fclose(f);
        }
        printf("CSV: %s/lm.csv, %s/addition.csv, %s/summary.csv\n", o.out, o.out, o.out);
        plot(&o);
    }
    free(lm);
    free(add);
    sc_corpus_free(&c);
    return rc;
}
