/* Our SGEMM (lib/kernels/gemm_*.c) against a naive double-precision
 * product computed here, on every instruction set this CPU runs, on one
 * and two threads; the backend switch through the public API; the thread
 * pool (lib/core/threads.c) on its own. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1   /* sched_getcpu, CPU_*, sched_setaffinity */
#endif
#include "testutil.h"

#include "core/threads.h"
#include "kernels/kernels.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- */
/* Reference and checking                                            */
/* ---------------------------------------------------------------- */

/* Built with ThreadSanitizer (gcc: __SANITIZE_THREAD__, clang:
 * __has_feature): CI runs this suite under it (.ci/run). */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#if UNDER_TSAN
/* pool_survives_fork starts workers in the child of a fork of a process
 * that has threads. TSan refuses that by default (die_after_fork) because
 * its own locks may be held by a thread that does not exist in the child;
 * the pool's threads are idle at the fork, so allow it for this program. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
#endif

/* Deterministic values in [-1, 1): a small LCG, independent of the library.
 * One state per thread: pool_shared_by_user_threads fills matrices on two
 * threads at once. */
static _Thread_local uint32_t g_seed = 12345;
static float next_value(void) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* A stored matrix: rows x cols with row stride ld (>= cols), filled. */
static float *new_matrix(int64_t rows, int64_t cols, int64_t ld) {
    size_t n = (size_t)(rows > 0 ? (rows - 1) * ld + cols : 0);
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) p[i] = next_value();
    return p;
}

typedef struct gemm_case {
    int64_t m, n, k;
    bool ta, tb;
    int64_t pad;          /* extra elements at the end of every stored row */
    float alpha, beta;
} gemm_case;

/* op(X)(i, j) of a stored matrix. */
static double op_at(const float *x, int64_t ld, bool trans, int64_t i, int64_t j) {
    return trans ? x[j * ld + i] : x[i * ld + j];
}

/* Runs one case through dc__sgemm_own (or dc__gemm when via_dispatch)
 * and checks every element of C against the reference, and that the
 * padding of C's rows is untouched. */
static void check_case(const gemm_case *g, bool via_dispatch) {
    int64_t m = g->m, n = g->n, k = g->k;
    int64_t lda = (g->ta ? m : k) + g->pad, ldb = (g->tb ? k : n) + g->pad, ldc = n + g->pad;
    float *a = new_matrix(g->ta ? k : m, g->ta ? m : k, lda);
    float *b = new_matrix(g->tb ? n : k, g->tb ? k : n, ldb);
    float *c = new_matrix(m, ldc, ldc);   /* the padding too */
    float *c0 = malloc((size_t)(m * ldc > 0 ? m * ldc : 1) * sizeof *c0);
    ck_assert_ptr_nonnull(c0);
    if (g->beta == 0.0f)   /* must be ignored, NaN included */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = NAN;
    memcpy(c0, c, (size_t)(m * ldc) * sizeof *c);
    if (via_dispatch)
        TU_OK(dc__gemm(DC_F32, g->ta, g->tb, m, n, k, g->alpha, a, lda, b, ldb, g->beta, c,
                       ldc));
    else
        TU_OK(dc__sgemm_own(g->ta, g->tb, m, n, k, g->alpha, a, lda, b, ldb, g->beta, c, ldc));
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double sum = 0.0, mag = 0.0;
            for (int64_t p = 0; p < k; p++) {
                double t = op_at(a, lda, g->ta, i, p) * op_at(b, ldb, g->tb, p, j);
                sum += t;
                mag += fabs(t);
            }
            double want = g->alpha * sum, scale = fabs(g->alpha) * mag;
            if (g->beta != 0.0f) {
                want += g->beta * (double)c0[i * ldc + j];
                scale += fabs(g->beta * (double)c0[i * ldc + j]);
            }
            double got = c[i * ldc + j];
            /* float rounding grows with sqrt(k) for blocked FMA sums */
            double tol = 1e-6 * sqrt((double)k + 1.0) * scale + 1e-30;
            ck_assert_msg(fabs(got - want) <= tol,
                          "%lldx%lldx%lld ta=%d tb=%d pad=%lld alpha=%g beta=%g isa=%s "
                          "threads=%d: C[%lld][%lld] = %.9g, want %.9g",
                          (long long)m, (long long)n, (long long)k, g->ta, g->tb,
                          (long long)g->pad, g->alpha, g->beta,
                          dc__gemm_isa_name(dc__gemm_isa()), dc_get_num_threads(),
                          (long long)i, (long long)j, got, want);
        }
        for (int64_t j = n; j < ldc && i < m; j++)
            ck_assert_msg(memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof *c) == 0,
                          "padding of C row %lld written", (long long)i);
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

/* (m, n, k) of the products every variant runs. */
static const int64_t shapes[][3] = {
    {1, 1, 1},     {17, 31, 13},  {64, 64, 64},  {257, 129, 65}, {1, 300, 70},
    {300, 1, 70},  {5, 7, 0},     {33, 20, 1000}, {128, 10, 256}, {10, 256, 128},
    {128, 256, 10}, {12, 32, 384}, {13, 33, 385}, {3, 100, 5},    {100, 3, 5},
    {16, 16, 1},   {25, 47, 9},
    /* B read in place off cache lines by at most 128 rows, or packed for
     * more (the plan must agree with every share), both with short k
     * (whole strips of tiles per kernel call); A read in place along k up
     * to a whole block */
    {100, 33, 8},  {130, 17, 20}, {14, 70, 300},
    /* one block read in place in one call (dc__sgemm_block_fn): tiles of
     * 12 and 8 rows inline, others called; C transposed (100 x 6); short
     * k in strips where B's columns are more than a block's */
    {40, 96, 48},  {64, 64, 32},  {20, 64, 24},  {100, 6, 40}, {30, 700, 7},
    /* one block of 6 x 64 tiles (AVX-512): whole 64-column rows, the last
     * rows 4 and 3 (13), 5, 2 or 1; with short k, the last columns by
     * four vectors (700, 100, 120, 110: 36-60 columns, the last rows 6 to
     * 1), two (90: 26; 84: 20) or one (80: 16) */
    {13, 128, 20}, {5, 64, 9},    {2, 192, 33},  {1, 128, 17}, {13, 90, 12},
    {7, 84, 3},    {20, 80, 5},   {13, 100, 8},  {5, 120, 4},  {2, 110, 16},
    {1, 100, 2},
    /* rank-1 updates (k 1) two rows at a time: an odd last row, a masked
     * last vector */
    {37, 300, 1},  {6, 20, 1},
    /* deep (split_deep: k >= 4 max(m, n), 8 MFLOP or more): halves of 1000
     * steps, and of one block each (384 steps) */
    {60, 40, 2000}, {100, 60, 768},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static const float alphas_betas[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.0f}, {2.0f, 0.0f}};

/* Every shape, transpose pair, ld padding and alpha/beta on the current
 * ISA and thread count. Under ThreadSanitizer (about 10x slower, and
 * there for the threads, not the arithmetic) one alpha/beta pair per shape
 * and transpose pair, a different one each time, so every pair still
 * runs on every transpose pair. */
static void check_all_cases(void) {
    for (int s = 0; s < NSHAPES; s++)
        for (int t = 0; t < 4; t++)
            for (int ab = 0; ab < 4; ab++) {
                if (UNDER_TSAN && ab != (s + t) % 4) continue;
                gemm_case g = {shapes[s][0], shapes[s][1], shapes[s][2], t & 1, (t >> 1) & 1,
                               (s + t + ab) % 3 == 0 ? 0 : 3, alphas_betas[ab][0],
                               alphas_betas[ab][1]};
                check_case(&g, false);
            }
}

/* ---------------------------------------------------------------- */
/* Our kernels, per ISA and thread count                             */
/* ---------------------------------------------------------------- */

/* Loop index i: ISA i / 2 (skipped when the CPU lacks it), threads 1 + i % 2. */
START_TEST(own_matches_reference) {
    int isa = _i / 2, threads = 1 + _i % 2;
    if (isa > (int)dc__gemm_cpu_isa()) return;   /* this CPU cannot run it */
    TU_OK(dc__gemm_force_isa(isa));
    TU_OK(dc_set_num_threads(threads));
    ck_assert_int_eq(dc__gemm_isa(), isa);
    check_all_cases();
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* More threads than rows of tiles or columns, odd thread counts, a
 * product big enough for every thread to get a share. */
START_TEST(own_many_threads) {
    static const int counts[] = {3, 4, 7};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        TU_OK(dc_set_num_threads(counts[i]));
        gemm_case big = {200, 150, 120, false, true, 1, 1.0f, 0.5f};
        check_case(&big, false);
        gemm_case wide = {6, 700, 400, true, false, 0, 1.0f, 0.0f};
        check_case(&wide, false);
        gemm_case tall = {700, 6, 400, false, false, 2, 1.0f, 0.0f};
        check_case(&tall, false);
    }
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Two blocks of rows, two of columns and two slices of k, A packed: the
 * packed A blocks of a slice are made at its start and kept for both
 * blocks of columns (keep_a in gemm_own.c). */
START_TEST(own_keeps_packed_a) {
    for (int isa = 0; isa <= (int)dc__gemm_cpu_isa(); isa++) {
        TU_OK(dc__gemm_force_isa(isa));
        /* one thread: both blocks of rows in one share; two: a share each */
        TU_OK(dc_set_num_threads(1));
        gemm_case nn = {130, 1100, 400, false, false, 0, 1.0f, 0.5f};
        check_case(&nn, false);
        TU_OK(dc_set_num_threads(2));
        gemm_case tn = {250, 1100, 400, true, false, 1, 1.0f, 0.0f};
        check_case(&tn, false);
        /* split by rows (AVX-512 and AVX2), each share keeping only its
         * own rows' blocks (A packed: its rows padded to 4 KiB apart) */
        gemm_case rows = {600, 544, 64, false, false, 960, 1.0f, 0.0f};
        check_case(&rows, false);
    }
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Operands over 1 MiB read across their steps of k (COLD_BYTES in
 * gemm_own.c), which the driver packs in groups of steps across all
 * panels instead of reading them in place: op(A) = A^T (1.1 MB) kept
 * for a share's two blocks of rows, and op(B) with rows contiguous (1.3
 * MB), with slices of 384, 384 and 332 steps (not a whole group) and a
 * last, partial panel of columns; split by rows and by columns. */
START_TEST(own_packs_cold_operands) {
    for (int isa = 0; isa <= (int)dc__gemm_cpu_isa(); isa++) {
        TU_OK(dc__gemm_force_isa(isa));
        for (int threads = 1; threads <= 2; threads++) {
            TU_OK(dc_set_num_threads(threads));
            gemm_case tn = {250, 300, 1100, true, false, 3, 1.0f, 0.5f};
            check_case(&tn, false);
            gemm_case nn = {100, 310, 1100, false, false, 0, -0.5f, 0.0f};
            check_case(&nn, false);
            gemm_case wide = {60, 700, 1100, true, false, 0, 1.0f, 1.0f};
            check_case(&wide, false);
        }
    }
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Short k where the product is not one block: A's rows 4 KiB apart
 * (packed), so the driver plans it and runs strips of tiles (k at most
 * STRIP_MAX_KC in gemm_own.c) with B read in place, its 700 columns in
 * two blocks (512 and 188). */
START_TEST(own_short_k_strips) {
    for (int isa = 0; isa <= (int)dc__gemm_cpu_isa(); isa++) {
        TU_OK(dc__gemm_force_isa(isa));
        for (int threads = 1; threads <= 2; threads++) {
            TU_OK(dc_set_num_threads(threads));
            gemm_case plain = {30, 700, 7, false, false, 1024 - 7, 1.0f, 0.0f};
            check_case(&plain, false);
            gemm_case scaled = {30, 700, 7, false, false, 1024 - 7, -0.5f, 2.0f};
            check_case(&scaled, false);
        }
    }
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Products read in place as one block, split over two threads (a fast
 * hand-off assumed, so however fast the pool is here): whole bands of
 * rows through the block function, NN, TN, NT (solved transposed), short
 * and long k, ragged rows and columns, beta 0 and not. */
START_TEST(own_small_products_on_two_threads) {
    static const gemm_case cases[] = {
        {64, 64, 64, false, false, 0, 1.0f, 0.0f},  {64, 64, 32, false, false, 0, 1.0f, 0.0f},
        {32, 64, 64, false, false, 0, 0.5f, -1.0f}, {128, 256, 10, false, false, 0, 1.0f, 0.0f},
        {130, 70, 9, false, false, 3, 1.0f, 0.5f},  {64, 784, 1, false, false, 0, 1.0f, 0.0f},
        {200, 300, 3, false, false, 0, 1.0f, 0.0f}, {60, 96, 48, true, false, 0, 1.0f, 0.0f},
        {128, 10, 256, false, true, 0, 1.0f, 0.0f}, {97, 64, 40, false, false, 1, 2.0f, 1.0f},
    };
    for (int isa = 0; isa <= (int)dc__gemm_cpu_isa(); isa++) {
        TU_OK(dc__gemm_force_isa(isa));
        TU_OK(dc_set_num_threads(2));
        dc__pool_assume_handoff_ns(1);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i], false);
    }
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* The pool's hand-off: none with one thread, a measured time with two,
 * kept until the workers stop. */
START_TEST(pool_measures_its_handoff) {
    TU_OK(dc_set_num_threads(1));
    ck_assert(dc__pool_handoff_ns() == INT64_MAX);
    TU_OK(dc_set_num_threads(2));
    int64_t h = dc__pool_handoff_ns();
    ck_assert_msg(h > 0 && h < 1000000000, "hand-off %lld ns", (long long)h);
    ck_assert(dc__pool_handoff_ns() == h);
    dc__pool_assume_handoff_ns(5);
    ck_assert(dc__pool_handoff_ns() == 5);
    TU_OK(dc_set_num_threads(2));   /* workers stop: measured again */
    ck_assert(dc__pool_handoff_ns() != 5);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* The verdict on whether the pool's two threads share a core: unknown
 * when the workers start, measured by one thread at a time, recorded,
 * forgotten when they stop or DC_POOL_REMEASURE_NS later; a fast
 * hand-off assumed for tests means two cores of their own, and an
 * assumed hand-off does not expire. */
START_TEST(pool_keeps_its_pair_verdict) {
    TU_OK(dc_set_num_threads(2));
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_UNKNOWN);
    dc__pool_note_pair_shares(DC_PAIR_SHARED);
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_SHARED);
    dc__pool_assume_handoff_ns(5);
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_SEPARATE);
    dc__pool_note_pair_shares(DC_PAIR_UNKNOWN);
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_UNKNOWN);
    /* one thread at a time measures it; the others meanwhile have none */
    ck_assert(dc__pool_claim_pair_probe());
    ck_assert(!dc__pool_claim_pair_probe());
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_NO_VERDICT);
    dc__pool_note_pair_shares(DC_PAIR_SHARED);
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_SHARED);
    ck_assert(!dc__pool_claim_pair_probe());   /* up to date */
    dc__pool_note_pair_shares(DC_PAIR_NO_VERDICT);
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_NO_VERDICT);
    struct timespec wait = {DC_POOL_REMEASURE_NS / 1000000000 + 1, 0};
    while (nanosleep(&wait, &wait) != 0) {
    }
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_UNKNOWN);
    ck_assert_int_eq(dc__pool_handoff_ns(), 5);
    ck_assert(dc__pool_claim_pair_probe());   /* out of date: measured again */
    dc__pool_note_pair_shares(DC_PAIR_SHARED);
    TU_OK(dc_set_num_threads(2));   /* workers stop: forgotten */
    ck_assert_int_eq(dc__pool_pair_shares(), DC_PAIR_UNKNOWN);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* A small product that the hand-off would split measures first whether
 * the two threads share a core (gemm_own.c: they then run it as slowly
 * as one). Forced here by pinning the calling thread to one CPU before
 * the workers start (they inherit it): the two threads then take turns
 * on it, and the verdict must be "shared" whenever there is one. The
 * product is right either way. The affinity is restored before any
 * assertion on the verdicts. */
START_TEST(own_probe_sees_threads_sharing_a_cpu) {
#ifdef __linux__
    if (dc__gemm_isa() != DC_ISA_AVX512) return;   /* the only kernel with blocks */
    cpu_set_t all, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    int home = -1;
    for (int c = 0; c < CPU_SETSIZE && home < 0; c++)
        if (CPU_ISSET(c, &all)) home = c;
    CPU_ZERO(&one);
    CPU_SET(home, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    TU_OK(dc_set_num_threads(2));   /* workers start pinned too */
    static const gemm_case square = {64, 64, 64, false, false, 0, 1.0f, 0.0f};
    int counts[2] = {0, 0}, others = 0;   /* [separate, shared] */
    for (int rep = 0; rep < 20 && counts[1] < 3; rep++) {
        dc__pool_assume_handoff_ns(1);
        dc__pool_note_pair_shares(DC_PAIR_UNKNOWN);
        check_case(&square, false);
        int shares = dc__pool_pair_shares();
        if (shares == DC_PAIR_SEPARATE || shares == DC_PAIR_SHARED)
            counts[shares]++;
        else if (shares != DC_PAIR_NO_VERDICT)   /* the worker never came */
            others++;                            /* e.g. not measured at all */
    }
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    TU_OK(dc_set_num_threads(0));
    ck_assert_int_eq(others, 0);
    ck_assert_int_eq(counts[DC_PAIR_SEPARATE], 0);
    ck_assert_int_gt(counts[DC_PAIR_SHARED], 0);
#endif
}
END_TEST

/* The same bits on any number of threads: work is split by rows or
 * columns of C, and along k only in halves that do not depend on the
 * thread count (doc/threads.md relies on it). Small products split too
 * (a fast hand-off assumed). */
START_TEST(own_same_bits_on_any_thread_count) {
    /* the last: deep, in two halves of k (split_deep in gemm_own.c) */
    static const int64_t dims[][3] = {{200, 150, 520}, {37, 300, 90}, {300, 20, 200},
                                      {12, 700, 800}, {64, 64, 64},   {100, 150, 1000}};
    for (int isa = 0; isa <= (int)dc__gemm_cpu_isa(); isa++) {
        TU_OK(dc__gemm_force_isa(isa));
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
            for (int t = 0; t < 4; t++) {
                int64_t m = dims[d][0], n = dims[d][1], k = dims[d][2];
                bool ta = t & 1, tb = t >> 1;
                float *a = new_matrix(ta ? k : m, ta ? m : k, ta ? m : k);
                float *b = new_matrix(tb ? n : k, tb ? k : n, tb ? k : n);
                float *c[3];
                for (int th = 0; th < 3; th++) {
                    TU_OK(dc_set_num_threads(th + 1));
                    dc__pool_assume_handoff_ns(1);
                    c[th] = new_matrix(m, n, n);
                    TU_OK(dc__sgemm_own(ta, tb, m, n, k, 0.75f, a, ta ? m : k, b, tb ? k : n,
                                        0.0f, c[th], n));
                }
                for (int th = 1; th < 3; th++)
                    ck_assert_msg(memcmp(c[0], c[th], (size_t)(m * n) * sizeof(float)) == 0,
                                  "%lldx%lldx%lld ta=%d tb=%d isa=%d: %d threads differ",
                                  (long long)m, (long long)n, (long long)k, ta, tb, isa, th + 1);
                for (int th = 0; th < 3; th++) free(c[th]);
                free(a);
                free(b);
            }
    }
    TU_OK(dc__gemm_force_isa(-1));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* alpha == 0 and k == 0 only scale C by beta (beta 0: zeros, NaN gone). */
START_TEST(own_scales_only) {
    float c[6] = {1, 2, NAN, 4, 5, 6}, a[4] = {NAN, NAN, NAN, NAN}, b[4] = {1, 1, 1, 1};
    TU_OK(dc__sgemm_own(false, false, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3));
    for (int i = 0; i < 6; i++) ck_assert_float_eq(c[i], 0.0f);
    float d[6] = {1, 2, 3, 4, 5, 6};
    TU_OK(dc__sgemm_own(false, false, 2, 3, 2, 0.0f, a, 2, b, 3, 2.0f, d, 3));
    for (int i = 0; i < 6; i++) ck_assert_float_eq(d[i], 2.0f * (float)(i + 1));
}
END_TEST

/* A fixed product written out by hand: [[1 2][3 4]] x [[5 6][7 8]]. */
START_TEST(own_by_hand) {
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {NAN, NAN, NAN, NAN};
    TU_OK(dc__sgemm_own(false, false, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2));
    ck_assert_float_eq(c[0], 19.0f);
    ck_assert_float_eq(c[1], 22.0f);
    ck_assert_float_eq(c[2], 43.0f);
    ck_assert_float_eq(c[3], 50.0f);
    /* a^T b^T = (ba)^T: [[23 31][34 46]] */
    TU_OK(dc__sgemm_own(true, true, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2));
    ck_assert_float_eq(c[0], 23.0f);
    ck_assert_float_eq(c[1], 31.0f);
    ck_assert_float_eq(c[2], 34.0f);
    ck_assert_float_eq(c[3], 46.0f);
}
END_TEST

/* Every allocation failure is reported (the packing buffers). */
static bool own_product_body(void *arg) {
    (void)arg;
    float a[64 * 64], b[64 * 64], c[64 * 64];
    for (int i = 0; i < 64 * 64; i++) a[i] = b[i] = 1.0f;
    return dc__sgemm_own(false, true, 64, 64, 64, 1.0f, a, 64, b, 64, 0.0f, c, 64) == DC_OK &&
           c[0] == 64.0f;
}
START_TEST(own_out_of_memory) {
    long runs = tu_fail_each_allocation(own_product_body, NULL, 10);
    ck_assert_int_ge(runs, 2);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Dispatch and the public settings                                  */
/* ---------------------------------------------------------------- */

static dc_tensor *matmul_with(dc_gemm_backend backend, dc_tensor *a, dc_tensor *b) {
    TU_OK(dc_set_gemm_backend(backend));
    ck_assert_int_eq(dc_get_gemm_backend(), backend);
    dc_tensor *r = dc_matmul(a, b);
    TU_NOTNULL(r);
    return r;
}

/* |got - want| <= 1e-5 |want| + 1e-6 mag elementwise, mag the sum of
 * |a_ik b_kj| (the scale of rounding errors, which cancellation can make
 * much larger than |want|). */
static void assert_close_to_scale(dc_tensor *got, dc_tensor *want, dc_tensor *mag) {
    int64_t n = dc_numel(want);
    ck_assert_int_eq(dc_numel(got), n);
    double *g = malloc((size_t)n * sizeof *g), *w = malloc((size_t)n * sizeof *w),
           *s = malloc((size_t)n * sizeof *s);
    ck_assert(g && w && s);
    TU_OK(dc_copy_to(got, DC_F64, g, (size_t)n * sizeof *g));
    TU_OK(dc_copy_to(want, DC_F64, w, (size_t)n * sizeof *w));
    TU_OK(dc_copy_to(mag, DC_F64, s, (size_t)n * sizeof *s));
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(g[i] - w[i]) <= 1e-5 * fabs(w[i]) + 1e-6 * s[i],
                      "element %lld: %.9g, want %.9g (scale %g)", (long long)i, g[i], w[i], s[i]);
    free(g);
    free(w);
    free(s);
}

/* dc_matmul agrees under DC_GEMM_OWN and DC_GEMM_CBLAS (f32, 1e-5
 * relative), on plain, transposed and batched operands, 1 and 2 threads. */
START_TEST(backends_agree) {
    static const int64_t dims[][3] = {{1, 1, 1},   {7, 5, 3},    {64, 64, 32},
                                      {128, 10, 256}, {130, 70, 90}, {32, 128, 512}};
    dc_gemm_backend saved = dc_get_gemm_backend();
    for (int threads = 1; threads <= 2; threads++) {
        TU_OK(dc_set_num_threads(threads));
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
            dc_scope *s = dc_scope_begin();
            int64_t sa[3] = {2, dims[d][0], dims[d][2]}, sb[2] = {dims[d][2], dims[d][1]};
            dc_tensor *a = dc_rand_uniform(NULL, DC_F32, 3, sa, -1, 1);
            dc_tensor *b = dc_rand_uniform(NULL, DC_F32, 2, sb, -1, 1);
            dc_tensor *bt = dc_transpose(dc_contiguous(dc_transpose(b, 0, 1)), 0, 1);
            dc_tensor *own = matmul_with(DC_GEMM_OWN, a, b);
            dc_tensor *blas = matmul_with(DC_GEMM_CBLAS, a, b);
            dc_tensor *mag = matmul_with(DC_GEMM_CBLAS, dc_abs(a), dc_abs(b));
            assert_close_to_scale(own, blas, mag);
            assert_close_to_scale(matmul_with(DC_GEMM_OWN, a, bt), blas, mag);
            assert_close_to_scale(matmul_with(DC_GEMM_AUTO, a, bt), blas, mag);
            dc_scope_end(s);
        }
    }
    TU_OK(dc_set_gemm_backend(saved));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* dc__gemm on each backend against the reference (f32), and f64, which
 * always runs on cblas, under DC_GEMM_OWN too. */
START_TEST(dispatch_matches_reference) {
    static const dc_gemm_backend backends[] = {DC_GEMM_AUTO, DC_GEMM_OWN, DC_GEMM_CBLAS};
    dc_gemm_backend saved = dc_get_gemm_backend();
    for (size_t i = 0; i < 3; i++) {
        TU_OK(dc_set_gemm_backend(backends[i]));
        for (int threads = 1; threads <= 2; threads++) {
            TU_OK(dc_set_num_threads(threads));
            gemm_case g1 = {150, 140, 130, true, false, 2, 1.0f, 0.0f};
            check_case(&g1, true);
            gemm_case g2 = {20, 10, 30, false, true, 0, 0.5f, 1.0f};
            check_case(&g2, true);
            /* products under dc__gemm's tiny-product bounds (TINY_DOTS,
             * TINY_PRODUCT): loops or our kernels, depending on the
             * backend and the shape, every layout */
            static const int64_t tiny[][3] = {{1, 10, 10}, {10, 10, 1}, {3, 70, 5}, {16, 16, 16}};
            static const float alphas[] = {1.0f, 0.5f}, betas[] = {0.0f, 1.0f, -0.5f};
            for (size_t t = 0; t < sizeof tiny / sizeof *tiny; t++)
                for (int layout = 0; layout < 4; layout++)
                    for (int ab = 0; ab < 6; ab++) {
                        gemm_case g = {tiny[t][0], tiny[t][1], tiny[t][2], layout & 1,
                                       layout >> 1, (int64_t)(t + (size_t)ab) % 2,
                                       alphas[ab % 2], betas[ab / 2]};
                        check_case(&g, true);
                    }
        }
        double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {NAN, NAN, NAN, NAN};
        TU_OK(dc__gemm(DC_F64, false, false, 2, 2, 3, 1.0, a, 3, b, 2, 0.0, c, 2));
        ck_assert(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11);
    }
    TU_OK(dc_set_gemm_backend(saved));
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* dc__gemm on f64 (the tiny loops under DC_GEMM_AUTO, cblas otherwise)
 * against a long double reference, every layout, padded rows; and alpha
 * 0, which reads neither A nor B (NaN there) on f32 and f64 alike. */
START_TEST(dispatch_f64_and_alpha_zero) {
    static const dc_gemm_backend backends[] = {DC_GEMM_AUTO, DC_GEMM_OWN, DC_GEMM_CBLAS};
    static const int64_t dims[][3] = {{1, 10, 10}, {10, 10, 1}, {3, 70, 5}, {7, 9, 11}};
    dc_gemm_backend saved = dc_get_gemm_backend();
    for (size_t bi = 0; bi < 3; bi++) {
        TU_OK(dc_set_gemm_backend(backends[bi]));
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
            for (int layout = 0; layout < 4; layout++) {
                bool ta = layout & 1, tb = layout >> 1;
                int64_t m = dims[d][0], n = dims[d][1], k = dims[d][2];
                int64_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 1, ldc = n + 2;
                double a[1024], b[1024], c[1024], c0[1024];
                for (int i = 0; i < 1024; i++) {
                    a[i] = sin(0.37 * i + (double)d);
                    b[i] = cos(0.23 * i - (double)layout);
                    c[i] = c0[i] = 0.5 - 0.01 * i;
                }
                double alpha = 0.75, beta = layout == 1 ? 0.0 : -1.5;
                TU_OK(dc__gemm(DC_F64, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < ldc; j++) {
                        if (j >= n) {   /* padding untouched */
                            ck_assert(c[i * ldc + j] == c0[i * ldc + j]);
                            continue;
                        }
                        long double sum = 0;
                        for (int64_t p = 0; p < k; p++)
                            sum += (long double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                                   (tb ? b[j * ldb + p] : b[p * ldb + j]);
                        double want = (double)(alpha * sum + beta * c0[i * ldc + j]);
                        ck_assert_msg(fabs(c[i * ldc + j] - want) <= 1e-13 * (double)(k + 1),
                                      "f64 %lldx%lldx%lld layout %d: %.17g, want %.17g",
                                      (long long)m, (long long)n, (long long)k, layout,
                                      c[i * ldc + j], want);
                    }
                /* alpha 0: C = beta * C, NaN in A and B never read */
                float af[256], bf[256], cf[256];
                for (int i = 0; i < 256; i++) {
                    af[i] = bf[i] = NAN;
                    a[i] = b[i] = NAN;
                    cf[i] = 2.0f;
                    c[i] = 2.0;
                }
                TU_OK(dc__gemm(DC_F32, ta, tb, m, n, k, 0.0, af, lda, bf, ldb, 0.5, cf, ldc));
                TU_OK(dc__gemm(DC_F64, ta, tb, m, n, k, 0.0, a, lda, b, ldb, 0.5, c, ldc));
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        ck_assert_msg(cf[i * ldc + j] == 1.0f, "f32 alpha 0 layout %d: %g",
                                      layout, (double)cf[i * ldc + j]);
                        ck_assert_msg(c[i * ldc + j] == 1.0, "f64 alpha 0 layout %d: %g",
                                      layout, c[i * ldc + j]);
                    }
                /* k 0: C = beta * C, alpha (NaN here) never reaching C */
                TU_OK(dc__gemm(DC_F32, ta, tb, m, n, 0, NAN, af, lda, bf, ldb, -2.0, cf, ldc));
                TU_OK(dc__gemm(DC_F64, ta, tb, m, n, 0, NAN, a, lda, b, ldb, -2.0, c, ldc));
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        ck_assert_msg(cf[i * ldc + j] == -2.0f, "f32 k 0 layout %d: %g",
                                      layout, (double)cf[i * ldc + j]);
                        ck_assert_msg(c[i * ldc + j] == -2.0, "f64 k 0 layout %d: %g",
                                      layout, c[i * ldc + j]);
                    }
            }
    }
    TU_OK(dc_set_gemm_backend(saved));
}
END_TEST

START_TEST(settings_round_trip) {
    TU_OK(dc_set_num_threads(3));
    ck_assert_int_eq(dc_get_num_threads(), 3);
    TU_OK(dc_set_num_threads(0));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_int_eq(dc_get_num_threads(), cores < 1 ? 1 : cores);
    dc_gemm_backend saved = dc_get_gemm_backend();
    TU_OK(dc_set_gemm_backend(DC_GEMM_CBLAS));
    ck_assert_int_eq(dc_get_gemm_backend(), DC_GEMM_CBLAS);
    ck_assert_ptr_nonnull(strstr(dc_kernel_info(), "backend cblas"));
    TU_OK(dc_set_gemm_backend(DC_GEMM_OWN));
    ck_assert_ptr_nonnull(strstr(dc_kernel_info(), "backend own"));
    TU_OK(dc_set_gemm_backend(DC_GEMM_AUTO));
    ck_assert_int_eq(dc_get_gemm_backend(), DC_GEMM_AUTO);
    TU_OK(dc_set_gemm_backend(saved));
}
END_TEST

/* The info line names our kernel's ISA and, with OpenBLAS, its core. */
START_TEST(kernel_info_names_kernels) {
    const char *info = dc_kernel_info();
    ck_assert_ptr_nonnull(info);
    ck_assert_msg(strncmp(info, "own: ", 5) == 0, "%s", info);
    ck_assert_msg(strstr(info, dc__gemm_isa_name(dc__gemm_isa())) != NULL, "%s", info);
    ck_assert_msg(strstr(info, dc__gemm_kernel_name()) != NULL, "%s", info);
#if defined(__has_include)
#if __has_include(<openblas_config.h>)   /* built against OpenBLAS */
    ck_assert_msg(strstr(info, "OpenBLAS") != NULL && strstr(info, " core ") != NULL, "%s",
                  info);
#endif
#endif
    if (dc__gemm_cpu_isa() >= DC_ISA_AVX2) {
        TU_OK(dc__gemm_force_isa(DC_ISA_GENERIC));
        ck_assert_msg(strstr(dc_kernel_info(), "own: generic") != NULL, "%s",
                      dc_kernel_info());
        TU_OK(dc__gemm_force_isa(-1));
    }
}
END_TEST

/* Under DC_GEMM_BACKEND=own|cblas (the suite's runs with the variable
 * set), the first use in a fresh process picks it up. Check runs each
 * test in a new child process, so this is the first use there. */
START_TEST(environment_sets_backend) {
    const char *env = getenv("DC_GEMM_BACKEND");
    dc_gemm_backend want = DC_GEMM_AUTO;
    if (env && strcmp(env, "own") == 0) want = DC_GEMM_OWN;
    if (env && strcmp(env, "cblas") == 0) want = DC_GEMM_CBLAS;
    const char *fork_env = getenv("CK_FORK");
    if (fork_env && strcmp(fork_env, "no") == 0) return;   /* not a fresh process */
    ck_assert_int_eq(dc_get_gemm_backend(), want);
}
END_TEST

START_TEST(bad_settings) {
    TU_FAILS(dc_set_gemm_backend((dc_gemm_backend)3), DC_E_INVALID);
    TU_FAILS(dc_set_gemm_backend((dc_gemm_backend)-1), DC_E_INVALID);
    TU_FAILS(dc_set_num_threads(-1), DC_E_INVALID);
    TU_FAILS(dc_set_num_threads(1 << 20), DC_E_INVALID);
    TU_FAILS(dc__gemm_force_isa(7), DC_E_INVALID);
    TU_FAILS(dc__gemm_force_isa(-2), DC_E_INVALID);
    if (dc__gemm_cpu_isa() < DC_ISA_AVX512)
        TU_FAILS(dc__gemm_force_isa(DC_ISA_AVX512), DC_E_UNSUPPORTED);
    TU_FAILS(dc__gemm(DC_I32, false, false, 1, 1, 1, 1.0, NULL, 1, NULL, 1, 0.0, NULL, 1),
             DC_E_DTYPE);
    /* the settings are unchanged */
    ck_assert_int_ge(dc_get_num_threads(), 1);
    ck_assert_int_ge((int)dc_get_gemm_backend(), 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* The thread pool                                                   */
/* ---------------------------------------------------------------- */

#define PROBE_CHUNKS 64

typedef struct pool_probe {
    atomic_int calls[PROBE_CHUNKS];
    atomic_int chunk_slot[PROBE_CHUNKS];
    atomic_int nested_threads;
    pthread_t slot_thread[16];
    atomic_int slot_used[16];
    atomic_int slot_clash;
} pool_probe;

static void nested_chunk(void *ctx, int64_t chunk, int slot) {
    (void)ctx;
    (void)chunk;
    (void)slot;
}

static void probe_chunk(void *ctx, int64_t chunk, int slot) {
    pool_probe *p = ctx;
    atomic_fetch_add(&p->calls[chunk], 1);
    atomic_store(&p->chunk_slot[chunk], slot);
    /* a slot belongs to one thread for the whole run */
    if (atomic_exchange(&p->slot_used[slot], 1) == 0) p->slot_thread[slot] = pthread_self();
    else if (!pthread_equal(p->slot_thread[slot], pthread_self()))
        atomic_fetch_add(&p->slot_clash, 1);
    /* a run inside a run is serial */
    atomic_fetch_add(&p->nested_threads, dc__parallel_for(nested_chunk, NULL, 8, 4));
}

START_TEST(pool_runs_each_chunk_once) {
    TU_OK(dc_set_num_threads(4));
    for (int rep = 0; rep < 300; rep++) {
        static pool_probe zero;
        pool_probe p = zero;
        int want = 1 + rep % 6;
        int64_t nchunks = rep % PROBE_CHUNKS;
        int n = dc__parallel_for(probe_chunk, &p, nchunks, want);
        int most = want < 4 ? want : 4;
        if (nchunks < most) most = (int)nchunks;
        ck_assert_int_eq(n, most < 1 ? 1 : most);
        for (int c = 0; c < PROBE_CHUNKS; c++)
            ck_assert_int_eq(atomic_load(&p.calls[c]), c < nchunks ? 1 : 0);
        for (int t = n; t < 16; t++) ck_assert_int_eq(atomic_load(&p.slot_used[t]), 0);
        ck_assert_int_eq(atomic_load(&p.slot_clash), 0);
        /* chunk t of the first n is thread slot t's, or the caller's when
         * the worker was late: the same split from run to run */
        for (int c = 0; c < n && c < nchunks; c++) {
            int slot = atomic_load(&p.chunk_slot[c]);
            ck_assert_msg(slot == c || slot == 0, "chunk %d ran on slot %d", c, slot);
        }
        if (n > 1) ck_assert_int_eq(atomic_load(&p.nested_threads), nchunks);
    }
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Many runs in a row, between the pool's fast and slow paths: chunks
 * that outlast the caller's spin (it sleeps until the worker is done),
 * pauses that outlast the workers' spin (they sleep until the next
 * offer), more threads than CPUs (workers late, offers withdrawn and
 * declined), and thread counts changing under it. Every chunk runs once. */
typedef struct busy_chunks {
    atomic_int calls[PROBE_CHUNKS];
    int busy_us;   /* each chunk's length */
} busy_chunks;

static void busy_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    busy_chunks *b = ctx;
    atomic_fetch_add(&b->calls[chunk], 1);
    if (b->busy_us == 0) return;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < b->busy_us);
}

START_TEST(pool_runs_each_chunk_once_under_load) {
    unsigned seed = 7;
    int runs = UNDER_TSAN ? 3000 : 30000;
    for (int r = 0; r < runs; r++) {
        if (r % (runs / 6) == 0) TU_OK(dc_set_num_threads(1 + r / (runs / 6)));
        static busy_chunks zero;
        busy_chunks b = zero;
        int x = rand_r(&seed) % 1000;
        b.busy_us = x < 2 ? 300 : x < 30 ? 5 : 0;   /* 300: past the caller's spin */
        int64_t nchunks = rand_r(&seed) % PROBE_CHUNKS;
        dc__parallel_for(busy_chunk, &b, nchunks, 1 + rand_r(&seed) % 6);
        for (int c = 0; c < PROBE_CHUNKS; c++)
            ck_assert_msg(atomic_load(&b.calls[c]) == (c < nchunks),
                          "run %d: chunk %d of %d ran %d times", r, c, (int)nchunks,
                          atomic_load(&b.calls[c]));
        if (x >= 997) usleep(150 + rand_r(&seed) % 200);   /* past the workers' spin */
    }
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Threads of this process (Linux: entries of /proc/self/task), -1 when
 * that cannot be read. */
static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* count_threads() once it equals want, or after about a second: a
 * joined thread may stay listed for a moment after pthread_join returns
 * (the kernel finishes its exit after waking the joiner). */
static int count_threads_settled(int want) {
    int n = count_threads();
    for (int i = 0; i < 1000 && n != want; i++) {
        usleep(1000);
        n = count_threads();
    }
    return n;
}

/* Workers start lazily and dc_set_num_threads(1) stops them. */
START_TEST(pool_starts_lazily_and_stops) {
    int base = count_threads();
    if (base < 0) return;   /* no /proc: nothing to count */
    TU_OK(dc_set_num_threads(3));
    ck_assert_int_eq(count_threads(), base);
    static pool_probe p, q;
    ck_assert_int_eq(dc__parallel_for(probe_chunk, &p, 3, 3), 3);
    ck_assert_int_eq(count_threads(), base + 2);
    TU_OK(dc_set_num_threads(1));
    ck_assert_int_eq(count_threads_settled(base), base);
    ck_assert_int_eq(dc__parallel_for(probe_chunk, &q, 3, 3), 1);
    ck_assert_int_eq(count_threads(), base);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* Two user threads run products at once: one gets the pool, the other
 * runs serially; both are right. */
static void *user_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) {
        gemm_case g = {90, 80, 70, i & 1, false, 1, 1.0f, 0.0f};
        check_case(&g, false);
    }
    return NULL;
}
START_TEST(pool_shared_by_user_threads) {
    TU_OK(dc_set_num_threads(2));
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, user_thread, NULL), 0);
    user_thread(NULL);
    pthread_join(th, NULL);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

/* A child of fork() has no workers: its runs start new ones. */
START_TEST(pool_survives_fork) {
    TU_OK(dc_set_num_threads(2));
    static pool_probe p, q;
    ck_assert_int_eq(dc__parallel_for(probe_chunk, &p, 2, 2), 2);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int n = dc__parallel_for(probe_chunk, &q, 2, 2);
        _exit(n == 2 && atomic_load(&q.calls[1]) == 1 && count_threads() == 2 ? 0 : 1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    TU_OK(dc_set_num_threads(0));
}
END_TEST

#ifdef __linux__
/* Where each slot ran its chunks: the CPU of its last one, and how many. */
typedef struct slot_cpus {
    atomic_int cpu[2], chunks[2];
} slot_cpus;

/* Records the CPU of slot's chunk after 50 us of work: the worker,
 * sharing the caller's CPU, gets a turn before the chunks run out. */
static void cpu_chunk(void *ctx, int64_t chunk, int slot) {
    (void)chunk;
    slot_cpus *sc = ctx;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 50000);
    atomic_store(&sc->cpu[slot], sched_getcpu());
    atomic_fetch_add(&sc->chunks[slot], 1);
}

/* Pins every thread of this process but the caller to cpu. */
static void pin_other_threads(int cpu) {
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    long self = syscall(SYS_gettid);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long tid = atol(e->d_name);
        if (tid > 0 && tid != self) sched_setaffinity((pid_t)tid, sizeof one, &one);
    }
    closedir(d);
}
#endif

/* A worker does not run its chunks on the CPU of the run's caller: the
 * kernel may put both there and keep them together (threads.c). Forced
 * here by pinning the worker onto the caller's CPU before every run. The
 * kernel may finish moving a running thread a little after the pinning
 * call returns, so a worker's first chunk may still run there; its last
 * of several may not. */
START_TEST(pool_workers_leave_the_callers_cpu) {
#ifdef __linux__
    cpu_set_t all;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    if (CPU_COUNT(&all) < 2) return;   /* nowhere else to go */
    int home = -1;
    for (int c = 0; c < CPU_SETSIZE && home < 0; c++)
        if (CPU_ISSET(c, &all)) home = c;
    TU_OK(dc_set_num_threads(2));
    static slot_cpus zero;
    slot_cpus sc = zero;
    ck_assert_int_eq(dc__parallel_for(cpu_chunk, &sc, 2, 2), 2);   /* starts the worker */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(home, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    /* counted while pinned, asserted after the affinity is restored (a
     * failure must not leave later tests pinned when Check does not fork) */
    int worker_ran = 0, caller_moved = 0, worker_stayed = 0;
    for (int rep = 0; rep < 50; rep++) {
        pin_other_threads(home);
        sc = zero;
        dc__parallel_for(cpu_chunk, &sc, 64, 2);
        if (atomic_load(&sc.chunks[0]) > 0 && atomic_load(&sc.cpu[0]) != home) caller_moved++;
        if (atomic_load(&sc.chunks[1]) < 2) continue;   /* the caller took (nearly) all */
        worker_ran++;
        if (atomic_load(&sc.cpu[1]) == home) worker_stayed++;
    }
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    TU_OK(dc_set_num_threads(0));
    ck_assert_int_eq(caller_moved, 0);
    ck_assert_int_eq(worker_stayed, 0);
    ck_assert_int_gt(worker_ran, 0);
#endif
}
END_TEST

/* With the default setting the pool's size is the CPUs the calling
 * thread may run on. A thread reads them at its first parallel run after
 * dc_set_num_threads and keeps the count (reading them costs more than a
 * small op): a later change of affinity shows at the next setting. */
START_TEST(default_threads_follow_affinity_at_each_setting) {
#ifdef __linux__
    cpu_set_t all;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    int count = CPU_COUNT(&all);
    /* one CPU: narrowing it changes nothing; over 256 the pool's cap */
    if (count < 2 || count > 256) return;
    TU_OK(dc_set_num_threads(0));
    ck_assert_int_eq(dc_get_num_threads(), count);
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all)) first = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    int kept = dc_get_num_threads();
    TU_OK(dc_set_num_threads(0));
    int narrowed = dc_get_num_threads();
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    TU_OK(dc_set_num_threads(0));
    ck_assert_int_eq(kept, count);
    ck_assert_int_eq(narrowed, 1);
    ck_assert_int_eq(dc_get_num_threads(), count);
#endif
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *own = tu_tcase("own");
    tcase_add_loop_test(own, own_matches_reference, 0, 2 * (DC_ISA_AVX512 + 1));
    tcase_add_test(own, own_many_threads);
    tcase_add_test(own, own_keeps_packed_a);
    tcase_add_test(own, own_packs_cold_operands);
    tcase_add_test(own, own_short_k_strips);
    tcase_add_test(own, own_small_products_on_two_threads);
    tcase_add_test(own, own_same_bits_on_any_thread_count);
    tcase_add_test(own, own_probe_sees_threads_sharing_a_cpu);
    tcase_add_test(own, own_scales_only);
    tcase_add_test(own, own_by_hand);
    tcase_add_test(own, own_out_of_memory);
    suite_add_tcase(s, own);
    TCase *dispatch = tu_tcase("dispatch");
    tcase_add_test(dispatch, backends_agree);
    tcase_add_test(dispatch, dispatch_matches_reference);
    tcase_add_test(dispatch, dispatch_f64_and_alpha_zero);
    tcase_add_test(dispatch, settings_round_trip);
    tcase_add_test(dispatch, kernel_info_names_kernels);
    tcase_add_test(dispatch, environment_sets_backend);
    tcase_add_test(dispatch, bad_settings);
    suite_add_tcase(s, dispatch);
    TCase *pool = tu_tcase("pool");
    tcase_add_test(pool, pool_runs_each_chunk_once);
    tcase_add_test(pool, pool_runs_each_chunk_once_under_load);
    tcase_add_test(pool, pool_measures_its_handoff);
    tcase_add_test(pool, pool_keeps_its_pair_verdict);
    tcase_add_test(pool, pool_starts_lazily_and_stops);
    tcase_add_test(pool, pool_shared_by_user_threads);
    tcase_add_test(pool, pool_survives_fork);
    tcase_add_test(pool, pool_workers_leave_the_callers_cpu);
    tcase_add_test(pool, default_threads_follow_affinity_at_each_setting);
    suite_add_tcase(s, pool);
    return tu_run(s);
}
