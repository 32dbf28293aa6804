/* SGEMM benchmark: this machine's FMA peak, then GFLOP/s of our kernels
 * and of cblas on square and training shapes, on 1 and 2 threads.
 *
 *   ./build/bench/gemm [--quick] [--reps N] [--rounds N] [--filter TEXT] [--best]
 *                      [--cpu-time] [--fresh]
 *
 * Each figure is the median (--best: the best) of several timed calls
 * after a warm-up, also
 * shown as % of the peak measured at the same thread count. Ours runs
 * through dc__sgemm_own with the library's pool (dc_set_num_threads);
 * cblas is called directly, with OpenBLAS's own threads when built
 * against it (openblas_set_num_threads). The shapes are measured one at a
 * time, ours and cblas in turn at each thread count (who goes first
 * alternates by round), each side's threads stopped or idle while the
 * other runs, so the two pools never fight; --rounds repeats that pair
 * (default 3) and reports the median of each side and the median of the
 * rounds' ratios, each ratio from two measurements taken back to back
 * (this machine's speed drifts within seconds).
 * OpenBLAS picks its kernels when it loads: set OPENBLAS_CORETYPE before
 * starting the program to try another core (e.g. SkylakeX). The peak is
 * the best of three runs of an FMA loop (AVX-512 when the CPU has it, else
 * AVX2) of about 0.2 s on each thread. */
#include "core/threads.h"
#include "kernels/kernels.h"
#include "stats.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#  if __has_include(<openblas_config.h>)
#    define HAVE_OPENBLAS 1
#  endif
#endif
#ifndef HAVE_OPENBLAS
#  define HAVE_OPENBLAS 0
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#  include <immintrin.h>
#  define X86 1
#else
#  define X86 0
#endif

/* --cpu-time: one-thread figures (and the peak) from the calling thread's
 * CPU time, which time slices given to other processes do not inflate;
 * two-thread figures stay wall-clock. */
static bool g_cpu_time;
static _Thread_local bool g_thread_clock;   /* while a one-thread figure is measured */

/* --fresh: before each timed call the calling thread writes A and B
 * again (from copies, untimed), as in a training step, where an op reads
 * what the op before it has just written: a worker thread then reads
 * them from the caller's core. In the GPT's step the weight gradients'
 * operands were further still, out of cache altogether (bench/README.md,
 * "Operands that are not in cache"); this measures the nearer case. */
static bool g_fresh;

static double now(void) {
    struct timespec ts;
    clock_gettime(g_thread_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- */
/* Peak: FMAs on registers only                                      */
/* ---------------------------------------------------------------- */

#define PEAK_SECONDS 0.2
/* Rounds of FMAs between two reads of the clock. The thread CPU clock
 * (--cpu-time) is a system call of ~1.3 us on this VM: read every 1000
 * rounds (~3.5 us of FMAs) it cut the measured peak by a quarter, and the
 * GEMMs read 125-139% of it. At 100000 rounds a read costs < 0.5%. */
#define PEAK_ROUNDS 100000

#if X86
/* Independent accumulators in named registers (an array would be stored
 * back to memory every round): 16 for the 16 AVX2 registers, 24 of the
 * 32 AVX-512 ones. Two FMA pipes of 4 cycles' latency need 8 chains in
 * flight; on this machine's AMD EPYC (Zen 5) 16 and 24 both reach
 * ~220 GFLOP/s once the clock is read rarely enough (PEAK_ROUNDS). 24
 * are kept: as many as the GEMM's AVX-512 tiles hold. */
#define PEAK_REGS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
    X(12) X(13) X(14) X(15)
#define PEAK_REGS_512(X) PEAK_REGS(X) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#define PEAK_CHAINS_512 24

/* FLOPs done in about PEAK_SECONDS of 512-bit FMAs. */
__attribute__((target("avx512f"))) static double fma_loop_512(double *seconds) {
#define DECL512(i) __m512 r##i = _mm512_set1_ps((float)i);
#define FMA512(i) r##i = _mm512_fmadd_ps(r##i, x, y);
#define SUM512(i) sum = _mm512_add_ps(sum, r##i);
    PEAK_REGS_512(DECL512)
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    double t0 = now();
    long iters = 0;
    do {
        for (int r = 0; r < PEAK_ROUNDS; r++) {
            PEAK_REGS_512(FMA512)
        }
        iters += PEAK_ROUNDS;
    } while (now() - t0 < PEAK_SECONDS);
    *seconds = now() - t0;
    __m512 sum = _mm512_setzero_ps();
    PEAK_REGS_512(SUM512)
    double flops = (double)iters * PEAK_CHAINS_512 * 16 * 2;
    return _mm512_reduce_add_ps(sum) == 12345.0f ? flops + 1 : flops;   /* keeps them live */
}

__attribute__((target("avx2,fma"))) static double fma_loop_256(double *seconds) {
#define DECL256(i) __m256 r##i = _mm256_set1_ps((float)i);
#define FMA256(i) r##i = _mm256_fmadd_ps(r##i, x, y);
#define SUM256(i) sum = _mm256_add_ps(sum, r##i);
    PEAK_REGS(DECL256)
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    double t0 = now();
    long iters = 0;
    do {
        for (int r = 0; r < PEAK_ROUNDS; r++) {
            PEAK_REGS(FMA256)
        }
        iters += PEAK_ROUNDS;
    } while (now() - t0 < PEAK_SECONDS);
    *seconds = now() - t0;
    __m256 sum = _mm256_setzero_ps();
    PEAK_REGS(SUM256)
    float buf[8];
    _mm256_storeu_ps(buf, sum);
    double flops = (double)iters * 16 * 8 * 2;
    return buf[0] == 12345.0f ? flops + 1 : flops;
}
#endif

typedef struct peak_arg {
    double flops, seconds;
} peak_arg;

static void *peak_thread(void *p) {
    peak_arg *a = p;
    g_thread_clock = g_cpu_time;   /* each thread's own CPU time */
#if X86
    if (__builtin_cpu_supports("avx512f")) a->flops = fma_loop_512(&a->seconds);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        a->flops = fma_loop_256(&a->seconds);
    else
#endif
    {
        a->flops = 0;
        a->seconds = 1;
    }
    return NULL;
}

/* GFLOP/s of threads threads running the FMA loop at once. */
static double measure_peak(int threads) {
    pthread_t th[64];
    peak_arg args[64];
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, peak_thread, &args[i]);
    double total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += args[i].flops / args[i].seconds;
    }
    return total / 1e9;
}

/* ---------------------------------------------------------------- */
/* Shapes                                                            */
/* ---------------------------------------------------------------- */

typedef struct shape {
    const char *name;
    int m, n, k;
    bool ta, tb;
    bool big;            /* skipped by --quick */
} shape;

/* op(A) m x k, op(B) k x n. For a layer x (B x in) -> y (B x out) with
 * W (out x in): forward y = x W^T (NT: m=B, n=out, k=in), gradient of x
 * = gy W (NN: m=B, n=in, k=out), gradient of W = gy^T x (TN: m=out,
 * n=in, k=B). */
static const shape shapes[] = {
    {"square 64", 64, 64, 64, false, false, false},
    {"square 128", 128, 128, 128, false, false, false},
    {"square 256", 256, 256, 256, false, false, false},
    {"square 512", 512, 512, 512, false, false, false},
    {"square 1024", 1024, 1024, 1024, false, false, false},
    {"square 2048", 2048, 2048, 2048, false, false, true},
    {"mlp fc1 fwd 128x784x256 NT", 128, 256, 784, false, true, false},
    {"mlp fc1 dW  256x128x784 TN", 256, 784, 128, true, false, false},
    {"mlp fc2 fwd 128x256x256 NT", 128, 256, 256, false, true, false},
    {"mlp fc2 dX  128x256x256 NN", 128, 256, 256, false, false, false},
    {"mlp fc2 dW  256x128x256 TN", 256, 256, 128, true, false, false},
    {"mlp fc3 fwd 128x256x10 NT", 128, 10, 256, false, true, false},
    {"mlp fc3 dX  128x10x256 NN", 128, 256, 10, false, false, false},
    {"mlp fc3 dW  10x128x256 TN", 10, 256, 128, true, false, false},
    /* LeNet-5's convolutions run on the direct kernels (no GEMM) */
    {"lenet fc1 64x400x120 NT", 64, 120, 400, false, true, false},
    {"lenet fc1 dX 64x120x400 NN", 64, 400, 120, false, false, false},
    {"lenet fc1 dW 120x64x400 TN", 120, 400, 64, true, false, false},
    {"gpt qkv 2048x128x384 NT", 2048, 384, 128, false, true, false},
    {"gpt mlp up 2048x128x512 NT", 2048, 512, 128, false, true, false},
    {"gpt mlp down 2048x512x128 NT", 2048, 128, 512, false, true, false},
    {"gpt down dW 128x2048x512 TN", 128, 512, 2048, true, false, false},
    {"gpt up dW 512x2048x128 TN", 512, 128, 2048, true, false, false},
    {"gpt attn 64x32x64 NT", 64, 64, 32, false, true, false},
    {"skinny 64x32x64 NN", 64, 64, 32, false, false, false},
    {"skinny 32x128x512 NN", 32, 512, 128, false, false, false},
    /* short k, where storing C takes the time (a rank-1 update, a 3-wide
     * input layer, a convolution's 6 filters, a 12-deep product) */
    {"short k 64x1x784 NN", 64, 784, 1, false, false, false},
    {"short k 200x3x300 NN", 200, 300, 3, false, false, false},
    {"short k 25x6x784 TN", 25, 784, 6, true, false, false},
    {"short k 512x12x512 NN", 512, 512, 12, false, false, false},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

typedef struct operands {
    float *a, *b, *c;
    float *a0, *b0;   /* --fresh: what A and B are written again from */
    size_t na, nb;    /* floats of A and of B */
    int lda, ldb, ldc;
} operands;

static float *random_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    return p;
}

static operands make_operands(const shape *s) {
    operands o;
    o.lda = s->ta ? s->m : s->k;
    o.ldb = s->tb ? s->k : s->n;
    o.ldc = s->n;
    o.na = (size_t)s->m * (size_t)s->k;
    o.nb = (size_t)s->k * (size_t)s->n;
    o.a = random_floats(o.na);
    o.b = random_floats(o.nb);
    o.c = random_floats((size_t)s->m * (size_t)s->n);
    o.a0 = g_fresh ? random_floats(o.na) : NULL;
    o.b0 = g_fresh ? random_floats(o.nb) : NULL;
    return o;
}

static void free_operands(operands *o) {
    free(o->a);
    free(o->b);
    free(o->c);
    free(o->a0);
    free(o->b0);
}

static void run_own(const shape *s, operands *o) {
    if (dc__sgemm_own(s->ta, s->tb, s->m, s->n, s->k, 1.0f, o->a, o->lda, o->b, o->ldb, 0.0f,
                      o->c, o->ldc) != DC_OK) {
        fprintf(stderr, "dc__sgemm_own failed: %s\n", dc_last_error());
        exit(1);
    }
}

static void run_blas(const shape *s, operands *o) {
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, o->a, o->lda, o->b,
                o->ldb, 0.0f, o->c, o->ldc);
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Median GFLOP/s of run over reps calls (each call repeated enough
 * times to last >= 1 ms), after a warm-up of at least 20 ms: a CPU that
 * was idle (the pauses between sides) takes a while to reach its clock. */
static bool g_best;   /* --best: the fastest repetition, not the median */

static double measure(void (*run)(const shape *, operands *), const shape *s, operands *o,
                      int reps) {
    double flops = 2.0 * s->m * s->n * s->k;
    int inner = (int)ceil(2e-3 * 50e9 / flops);   /* ~1 ms at 50 GFLOP/s */
    if (inner < 1) inner = 1;
    double warm_until = now() + 0.02;
    for (int w = 0; w < 3 || now() < warm_until; w++) run(s, o);
    double rates[64];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++) {
        double t = 0;
        if (g_fresh) {
            for (int i = 0; i < inner; i++) {
                memcpy(o->a, o->a0, o->na * sizeof *o->a);
                memcpy(o->b, o->b0, o->nb * sizeof *o->b);
                double t0 = now();
                run(s, o);
                t += now() - t0;
            }
        } else {
            double t0 = now();
            for (int i = 0; i < inner; i++) run(s, o);
            t = now() - t0;
        }
        rates[r] = flops * inner / t / 1e9;
    }
    qsort(rates, (size_t)reps, sizeof *rates, bench_cmp_double);
    return g_best ? rates[reps - 1] : rates[reps / 2];
}

#define MAX_ROUNDS 15

static void set_blas_threads(int n) {
#if HAVE_OPENBLAS
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

int main(int argc, char **argv) {
    bool quick = false;
    int reps = 11, rounds = 3;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else if (strcmp(argv[i], "--best") == 0) g_best = true;
        else if (strcmp(argv[i], "--cpu-time") == 0) g_cpu_time = true;
        else if (strcmp(argv[i], "--fresh") == 0) g_fresh = true;
        else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--rounds N] [--filter TEXT] "
                    "[--best] [--cpu-time] [--fresh]\n", argv[0]);
            return 2;
        }
    }
    if (quick && reps > 5) reps = 5;
    if (reps < 1) reps = 1;
    if (rounds < 1) rounds = 1;
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    const int nthreads[2] = {1, 2};

    printf("%s\n", dc_kernel_info());
#if HAVE_OPENBLAS
    printf("OpenBLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
#endif
    double peak[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        for (int r = 0; r < 3; r++) {   /* the best of three: the machine is shared */
            double p = measure_peak(nthreads[t]);
            if (p > peak[t]) peak[t] = p;
        }
        printf("FMA peak, %d thread%s: %.1f GFLOP/s\n", nthreads[t], t ? "s" : "", peak[t]);
    }
    /* Where the VM runs the two threads, which decides the two-thread
     * column of small products (doc/design.md): a peak not doubled means
     * one core's two hardware threads. */
    dc_set_num_threads(2);
    int64_t handoff = dc__pool_handoff_ns();
    dc_set_num_threads(1);
    printf("two threads: %s (FMA peak %.2fx one's); ",
           peak[1] < 1.3 * peak[0] ? "one core's two hardware threads" : "separate cores",
           peak[1] / peak[0]);
    if (handoff == INT64_MAX)
        printf("the pool has no second thread\n");
    else
        printf("the pool's hand-off %.2f us\n", (double)handoff / 1000.0);

    /* res[shape][thread count][0 ours, 1 cblas]: medians over the rounds;
     * ratio[shape][thread count]: the median of the rounds' ratios. Shape
     * by shape and round by round, so both sides see about the same load
     * from the rest of the machine; while one side runs, the other's
     * threads are stopped or idle. */
    static double res[NSHAPES][2][2], ratio[NSHAPES][2];
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        if ((quick && s->big) || (filter && !strstr(s->name, filter))) continue;
        operands o = make_operands(s);
        int r = s->big ? (reps + 1) / 2 : reps;
        for (int t = 0; t < 2; t++) {
            double own[MAX_ROUNDS], blas[MAX_ROUNDS], ratios[MAX_ROUNDS];
            for (int round = 0; round < rounds; round++) {
                g_thread_clock = g_cpu_time && nthreads[t] == 1;
                /* who goes first alternates: the first of a pair may meet a
                 * CPU still slowed by the pause before it */
                for (int side = 0; side < 2; side++) {
                    if ((side == 0) == (round % 2 == 0)) {
                        dc_set_num_threads(nthreads[t]);
                        set_blas_threads(1);
                        own[round] = measure(run_own, s, &o, r);
                        dc_set_num_threads(1);   /* joins our workers */
                    } else {
                        set_blas_threads(nthreads[t]);
                        blas[round] = measure(run_blas, s, &o, r);
                        set_blas_threads(1);
                        /* OpenBLAS's idle threads spin for about 2^28 TSC
                         * cycles (0.13 s here; measured: ours ran at half
                         * speed for 10-20 ms after a 0.15 s pause) before
                         * they sleep */
                        if (nthreads[t] > 1) sleep_seconds(0.4);
                    }
                }
                g_thread_clock = false;
                ratios[round] = own[round] / blas[round];
            }
            res[i][t][0] = bench_median(own, rounds);
            res[i][t][1] = bench_median(blas, rounds);
            ratio[i][t] = bench_median(ratios, rounds);
        }
        free_operands(&o);
    }
    set_blas_threads(1);
    dc_set_num_threads(0);
    /* the machine's speed drifts: the peak is the best of before and after */
    for (int t = 0; t < 2; t++) {
        double p = measure_peak(nthreads[t]);
        if (p > peak[t]) peak[t] = p;
    }
    printf("FMA peak after the shapes, best of before and after: %.1f and %.1f GFLOP/s\n",
           peak[0], peak[1]);

    printf("\nGFLOP/s (median over %d round%s of the %s of %d%s), %% of the measured peak "
           "in (), ratio ours/cblas: median of the rounds' ratios\n",
           rounds, rounds > 1 ? "s" : "", g_best ? "best" : "median", reps,
           g_cpu_time ? "; 1 thread: per CPU second of the thread, 2 threads: wall clock" : "");
    printf("%-30s %5s %5s %5s | %14s %14s %6s | %14s %14s %6s\n", "shape", "M", "N", "K",
           "ours 1T", "cblas 1T", "ratio", "ours 2T", "cblas 2T", "ratio");
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        if ((quick && s->big) || (filter && !strstr(s->name, filter))) continue;
        printf("%-30s %5d %5d %5d", s->name, s->m, s->n, s->k);
        for (int t = 0; t < 2; t++) {
            double own = res[i][t][0], blas = res[i][t][1];
            printf(" | %7.1f (%3.0f%%) %7.1f (%3.0f%%) %6.2f", own, 100 * own / peak[t], blas,
                   100 * blas / peak[t], ratio[i][t]);
        }
        printf("\n");
    }
    return 0;
}
