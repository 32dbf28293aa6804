/* What it costs to hand work from one thread to another on this machine:
 * the figures behind doc/threads.md and the choice, in gemm_own.c, of one
 * thread or two for a small product.
 *
 *   ./build/bench/handoff [--rounds N] [--pause SECONDS]
 *
 * Each round prints:
 *  - ping-pong: a round trip of a value between two threads spinning on
 *    it (plain pthreads, no library code), the median of 200 batches of
 *    100: twice
 *    the time a cache line takes to move between the two cores;
 *  - hand-off: what the library's pool measured after a restart
 *    (dc__pool_handoff_ns: a run reaching a worker and coming back);
 *  - paired run: the median of 2001 runs of dc__parallel_for whose two
 *    chunks each wait for the other to start, so that a worker must take
 *    one (a run with nothing to do ends sooner: the caller takes the
 *    worker's chunk back when it comes first);
 *  - 64^3: the median of one 64 x 64 x 64 SGEMM on one thread, and of its
 *    two halves of rows run at once on two (each half through
 *    dc__sgemm_own on its own thread): what the second thread gains
 *    once the hand-off is paid.
 * A virtual machine may move its vCPUs between cores that share a cache
 * and cores that do not, which changes all four: --pause spaces the
 * rounds out to watch it. */
#include "core/threads.h"
#include "kernels/gemm_own.h"
#include "stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRIPS 20000
#define BATCH 100   /* trips timed together: the clock costs ~20 ns a read */
#define RUNS 2001

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- ping-pong: the caller writes odd values, the partner even ---- */

static _Alignas(64) atomic_long g_ball;

static void *partner(void *arg) {
    (void)arg;
    for (long v = 1; v < 2L * TRIPS; v += 2) {
        while (atomic_load_explicit(&g_ball, memory_order_acquire) != v) {
        }
        atomic_store_explicit(&g_ball, v + 1, memory_order_release);
    }
    return NULL;
}

static double ping_pong_ns(void) {
    static double batches[TRIPS / BATCH];
    atomic_store(&g_ball, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, partner, NULL) != 0) return -1;
    for (long b = 0, v = 1; b < TRIPS / BATCH; b++) {
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++, v += 2) {
            atomic_store_explicit(&g_ball, v, memory_order_release);
            while (atomic_load_explicit(&g_ball, memory_order_acquire) != v + 1) {
            }
        }
        batches[b] = (now_ns() - t0) / BATCH;
    }
    pthread_join(th, NULL);
    return bench_median(batches, TRIPS / BATCH);
}

/* ---- the pool ---- */

/* Two chunks that each wait (up to a millisecond) until the other has
 * started: the run cannot end before a worker has taken one. */
typedef struct pair {
    atomic_int started;
} pair;

static void paired_chunk(void *ctx, int64_t chunk, int slot) {
    (void)chunk;
    (void)slot;
    pair *p = ctx;
    atomic_fetch_add(&p->started, 1);
    double give_up = now_ns() + 1e6;
    while (atomic_load(&p->started) < 2 && now_ns() < give_up) {
    }
}

static double paired_run_ns(void) {
    static double runs[RUNS];
    for (int i = 0; i < RUNS; i++) {
        pair p = {0};
        double t0 = now_ns();
        dc__parallel_for(paired_chunk, &p, 2, 2);
        runs[i] = now_ns() - t0;
    }
    return bench_median(runs, RUNS);
}

#define N 64
static float g_a[N * N], g_b[N * N], g_c[N * N];

static void half_chunk(void *ctx, int64_t chunk, int slot) {
    (void)ctx;
    (void)slot;
    int64_t m0 = N * chunk / 2, m1 = N * (chunk + 1) / 2;
    dc__sgemm_own(false, false, m1 - m0, N, N, 1.0f, g_a + m0 * N, N, g_b, N, 0.0f,
                  g_c + m0 * N, N);
}

static double product_ns(bool halves) {
    static double runs[RUNS];
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_ns();
        if (halves)
            dc__parallel_for(half_chunk, NULL, 2, 2);
        else
            dc__sgemm_own(false, false, N, N, N, 1.0f, g_a, N, g_b, N, 0.0f, g_c, N);
        runs[i] = now_ns() - t0;
    }
    return bench_median(runs, RUNS);
}

int main(int argc, char **argv) {
    int rounds = 5;
    double pause_s = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pause") == 0 && i + 1 < argc) {
            pause_s = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--rounds N] [--pause SECONDS]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    for (int i = 0; i < N * N; i++) {
        g_a[i] = (float)(i % 7) * 0.25f;
        g_b[i] = (float)(i % 5) * 0.5f;
    }
    printf("median ns: ping-pong round trip | pool hand-off | paired run | "
           "64^3 on 1 thread, as 2 halves on 2\n");
    for (int r = 0; r < rounds; r++) {
        double pp = ping_pong_ns();
        /* a restart of the workers measures the hand-off afresh */
        if (dc_set_num_threads(1) != DC_OK || dc_set_num_threads(2) != DC_OK) {
            fprintf(stderr, "dc_set_num_threads: %s\n", dc_last_error());
            return 1;
        }
        int64_t handoff = dc__pool_handoff_ns();
        double paired = paired_run_ns();
        double one = 0, two = 0;
        /* the pool on two threads runs the halves; the whole product on one */
        two = product_ns(true);
        if (dc_set_num_threads(1) != DC_OK) return 1;
        one = product_ns(false);
        if (handoff == INT64_MAX)
            printf("round %d: %8.0f | (not measured) | %8.0f | %8.0f %8.0f\n", r + 1, pp,
                   paired, one, two);
        else
            printf("round %d: %8.0f | %8lld | %8.0f | %8.0f %8.0f\n", r + 1, pp,
                   (long long)handoff, paired, one, two);
        fflush(stdout);
        if (pause_s > 0 && r + 1 < rounds) {
            struct timespec ts = {(time_t)pause_s,
                                  (long)((pause_s - (double)(time_t)pause_s) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
