/* MAP_ANONYMOUS is not POSIX (but Linux and the BSDs have it). */
#define _DEFAULT_SOURCE

#include "runner.h"

#include "results.h"
#include "train.h"

#include <deepcore/deepcore.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

/* What the workers and the display share (an anonymous shared mapping).
 * Lock-free atomics of this size work across processes. */
typedef struct worker_slot {
    atomic_int job;             /* -1: idle */
    atomic_long step;
    atomic_llong loss_micro;    /* the last loss x 1e6 */
} worker_slot;

typedef struct shared_state {
    atomic_int next;            /* the next job to take */
    worker_slot slot[MAX_WORKERS];
    atomic_int state[];         /* per job: 0 waiting/running, 1 done, 2 failed */
} shared_state;

double sc_job_cost(const sc_job *job, const sc_recipe *r, int64_t n_params) {
    /* About 60k parameters' worth of work per token goes to the
       embeddings, attention scores and the per-op overhead (measured on
       one thread: a 2x64 step (100k) costs 0.19 of a 4x128 step (793k),
       not 0.13). */
    double per_token = (double)n_params + 60000.0;
    if (job->task == SC_TASK_LM)
        return (double)r->lm_steps * (double)(r->lm_batch * r->lm_context) * per_token;
    return (double)r->add_steps * (double)(r->add_batch * SC_ADD_INPUT) * per_token;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_step(void *ctx, long step, double loss) {
    worker_slot *s = ctx;
    atomic_store(&s->step, step);
    atomic_store(&s->loss_micro, (long long)(isfinite(loss) ? loss * 1e6 : -1));
}

/* A worker: takes jobs until none is left. Never returns. */
static void worker_main(const sc_run_plan *plan, const sc_recipe *r, const sc_corpus *c,
                        shared_state *sh, int w) {
    int failed = 0;
    if (dc_set_num_threads(plan->threads) != DC_OK) _exit(3);
    int max_rows = (int)((r->lm_steps > r->add_steps ? r->lm_steps : r->add_steps) + 1);
    sc_row *rows = malloc((size_t)max_rows * sizeof *rows);
    if (!rows) _exit(3);
    for (;;) {
        int i = atomic_fetch_add(&sh->next, 1);
        if (i >= plan->n_jobs) break;
        atomic_store(&sh->slot[w].step, 0);
        atomic_store(&sh->slot[w].job, i);
        int n = sc_train_job(&plan->jobs[i], r, c, rows, max_rows, on_step, &sh->slot[w]);
        int ok = n > 0 && sc_result_write(plan->out_dir, &plan->jobs[i], rows, n) == 0;
        if (!ok) {
            fprintf(stderr, "\nscaling: job %d failed\n", i);
            failed = 1;
        }
        atomic_store(&sh->state[i], ok ? 1 : 2);
        atomic_store(&sh->slot[w].job, -1);
    }
    free(rows);
    fflush(NULL);
    _exit(failed);
}

static void format_time(double s, char *buf, size_t size) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void show_progress(const sc_run_plan *plan, const sc_recipe *r, shared_state *sh,
                          double start, int tty) {
    double total = 0, done_cost = 0;
    int done = 0;
    for (int i = 0; i < plan->n_jobs; i++) {
        total += plan->cost[i];
        if (atomic_load(&sh->state[i]) != 0) {
            done_cost += plan->cost[i];
            done++;
        }
    }
    char line[1024] = "", t1[32], t2[32];
    int len = 0;
    for (int w = 0; w < plan->workers; w++) {
        int i = atomic_load(&sh->slot[w].job);
        if (i < 0 || i >= plan->n_jobs) continue;
        const sc_job *j = &plan->jobs[i];
        long step = atomic_load(&sh->slot[w].step);
        long steps = j->task == SC_TASK_LM ? r->lm_steps : r->add_steps;
        done_cost += plan->cost[i] * (double)step / (double)steps;
        len += snprintf(line + len, sizeof line - (size_t)len,
                        " | %s %dx%d s%d %ld/%ld loss %.3f", j->task == SC_TASK_LM ? "lm" : "add",
                        j->layers, j->width, j->seed, step, steps,
                        (double)atomic_load(&sh->slot[w].loss_micro) * 1e-6);
        if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    }
    double elapsed = now_seconds() - start;
    format_time(elapsed, t1, sizeof t1);
    if (done_cost > 0 && elapsed > 5) format_time(elapsed * (total - done_cost) / done_cost, t2, sizeof t2);
    else snprintf(t2, sizeof t2, "?");
    fprintf(stderr, "%s[%d/%d jobs, %s, ETA %s]%s%s", tty ? "\r\033[K" : "", done, plan->n_jobs,
            t1, t2, line, tty ? "" : "\n");
}

int sc_run_jobs(const sc_run_plan *plan, const sc_recipe *r, const sc_corpus *c) {
    if (plan->n_jobs == 0) return 0;
    int workers = plan->workers < plan->n_jobs ? plan->workers : plan->n_jobs;
    if (workers > MAX_WORKERS) workers = MAX_WORKERS;
    sc_run_plan p = *plan;
    p.workers = workers;
    size_t bytes = sizeof(shared_state) + (size_t)plan->n_jobs * sizeof(atomic_int);
    shared_state *sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) return -1;
    atomic_init(&sh->next, 0);
    for (int w = 0; w < MAX_WORKERS; w++) {
        atomic_init(&sh->slot[w].job, -1);
        atomic_init(&sh->slot[w].step, 0);
        atomic_init(&sh->slot[w].loss_micro, 0);
    }
    for (int i = 0; i < plan->n_jobs; i++) atomic_init(&sh->state[i], 0);
    fflush(NULL);
    pid_t pids[MAX_WORKERS];
    int started = 0;
    for (; started < workers; started++) {
        pid_t pid = fork();
        if (pid == 0) worker_main(&p, r, c, sh, started);
        if (pid < 0) break;
        pids[started] = pid;
    }
    if (started == 0) {
        munmap(sh, bytes);
        return -1;
    }
    int tty = isatty(STDERR_FILENO), running = started;
    double start = now_seconds(), last_line = 0;
    while (running > 0) {
        nanosleep(&(struct timespec){0, 250000000}, NULL);
        for (int w = 0; w < started; w++) {
            int status;
            if (pids[w] > 0 && waitpid(pids[w], &status, WNOHANG) == pids[w]) {
                pids[w] = 0;
                running--;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    fprintf(stderr, "\nscaling: worker %d ended abnormally (status %d)\n", w,
                            status);
            }
        }
        double t = now_seconds();
        if (tty ? t - last_line >= 0.5 : t - last_line >= 15 || running == 0) {
            show_progress(&p, r, sh, start, tty);
            last_line = t;
        }
    }
    if (tty) fputc('\n', stderr);
    int failed = 0;
    for (int i = 0; i < plan->n_jobs; i++) failed += atomic_load(&sh->state[i]) != 1;
    munmap(sh, bytes);
    return failed;
}
