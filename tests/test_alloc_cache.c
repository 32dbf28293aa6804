/* The block cache in front of malloc (lib/core/alloc.c): a steady
 * training loop asks malloc for nothing, leaks still show in
 * dc_live_allocations, a caller's allocator sees every request, and
 * blocks move safely between threads. */
#include "testutil.h"

#include "core/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* One step of a small MLP (Linear, ReLU, Linear, cross-entropy, Adam). */
typedef struct loop {
    dc_module *mlp;
    dc_loss *loss;
    dc_optim *opt;
    dc_tensor *x, *y;
} loop;

static void loop_init(loop *l) {
    const int64_t sizes[3] = {16, 32, 4};
    dc_rng *rng = dc_rng_new(7);
    l->mlp = dc_zoo_mlp_new(sizes, 3, DC_ACT_RELU, 0.0, rng);
    TU_NOTNULL(l->mlp);
    l->loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_tensor *params[4];
    for (int i = 0; i < 4; i++) params[i] = dc_module_param(l->mlp, i);
    l->opt = dc_adam_new(params, 4, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0);
    for (int i = 0; i < 4; i++) dc_release(params[i]);
    l->x = dc_rand_normal(rng, DC_F32, 2, (const int64_t[]){8, 16}, 0.0, 1.0);
    l->y = dc_from_data(DC_I64, 1, (const int64_t[]){8},
                        (const int64_t[]){0, 1, 2, 3, 3, 2, 1, 0});
    TU_NOTNULL(l->opt);
    TU_NOTNULL(l->x);
    TU_NOTNULL(l->y);
    dc_rng_free(rng);
}

static void loop_step(loop *l) {
    dc_scope *s = dc_scope_begin();
    TU_OK(dc_optim_zero_grad(l->opt));
    dc_tensor *loss = dc_loss_forward(l->loss, dc_module_forward(l->mlp, l->x), l->y);
    TU_NOTNULL(loss);
    TU_OK(dc_backward(loss, NULL, 0));
    TU_OK(dc_optim_step(l->opt));
    TU_OK(dc_scope_end(s));
}

static void loop_free(loop *l) {
    dc_optim_release(l->opt);
    dc_loss_release(l->loss);
    dc_module_release(l->mlp);
    dc_release(l->x);
    dc_release(l->y);
}

START_TEST(steady_loop_takes_nothing_from_malloc) {
    loop l;
    loop_init(&l);
    for (int i = 0; i < 3; i++) loop_step(&l);
    int64_t before = dc__alloc_system_count();
    for (int i = 0; i < 20; i++) loop_step(&l);
    ck_assert_int_eq(dc__alloc_system_count(), before);
    loop_free(&l);
}
END_TEST

START_TEST(cached_blocks_are_not_live_but_leaks_are) {
    int64_t live = dc_live_allocations();
    dc_tensor *t = dc_zeros(DC_F32, 1, (const int64_t[]){1000});
    TU_NOTNULL(t);
    ck_assert_int_gt(dc_live_allocations(), live);
    dc_release(t);
    /* its block waits in the cache, yet counts as freed */
    ck_assert_int_eq(dc_live_allocations(), live);
    ck_assert_uint_gt(dc__alloc_cached_bytes(), 0);
    /* the same size comes back from the cache, zeroed when asked */
    int64_t sys = dc__alloc_system_count();
    dc_tensor *u = dc_zeros(DC_F32, 1, (const int64_t[]){1000});
    TU_NOTNULL(u);
    ck_assert_int_eq(dc__alloc_system_count(), sys);
    float v[1000];
    TU_OK(dc_copy_to(u, DC_F32, v, sizeof v));
    for (int i = 0; i < 1000; i++) ck_assert(v[i] == 0.0f);
    dc_release(u);
    ck_assert_int_eq(dc_live_allocations(), live);
}
END_TEST

/* A large block waiting in the cache serves a request down to about half
 * its size (so that the activations a backward frees can carry its
 * gradients); a far smaller request still goes to malloc. */
START_TEST(a_waiting_large_block_serves_a_nearby_size) {
    dc__alloc_cache_flush();
    size_t big = (size_t)3 << 20, near = (size_t)5 << 19, far = (size_t)1 << 20;
    char *p = dc__malloc(big);
    TU_NOTNULL(p);
    dc__free(p);
    int64_t sys = dc__alloc_system_count();
    char *q = dc__malloc(near);   /* 2.5 MiB: the 3 MiB block, every byte usable */
    TU_NOTNULL(q);
    ck_assert_int_eq(dc__alloc_system_count(), sys);
    memset(q, 1, near);
    char *r = dc__malloc(far);    /* 1 MiB: not the waiting block's size range */
    TU_NOTNULL(r);
    ck_assert_int_eq(dc__alloc_system_count(), sys + 1);
    memset(r, 2, far);
    dc__free(q);
    dc__free(r);
    dc__alloc_cache_flush();
}
END_TEST

static long g_calls;
static void *count_malloc(size_t n, void *ctx) { (void)ctx; g_calls++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *ctx) { (void)ctx; g_calls++; return realloc(p, n); }
static void count_free(void *p, void *ctx) { (void)ctx; free(p); }

START_TEST(a_callers_allocator_sees_every_request) {
    dc_tensor *t = dc_ones(DC_F32, 1, (const int64_t[]){256});
    dc_release(t);
    ck_assert_uint_gt(dc__alloc_cached_bytes(), 0);
    TU_OK(dc_set_allocator(count_malloc, count_realloc, count_free, NULL));
    ck_assert_uint_eq(dc__alloc_cached_bytes(), 0);   /* flushed */
    for (int i = 0; i < 10; i++) {
        long before = g_calls;
        t = dc_ones(DC_F32, 1, (const int64_t[]){256});
        TU_NOTNULL(t);
        ck_assert_int_gt(g_calls, before);   /* no block came from a cache */
        dc_release(t);
    }
    TU_OK(dc_set_allocator(NULL, NULL, NULL, NULL));
}
END_TEST

/* Tensors made on one thread and released on another, while both also
 * make and drop their own. */
#define N_HANDOFF 2000
static dc_tensor *g_handoff[N_HANDOFF];

static void *maker(void *arg) {
    (void)arg;
    for (int i = 0; i < N_HANDOFF; i++) {
        g_handoff[i] = dc_full(DC_F32, 1, (const int64_t[]){1 + i % 300}, (double)i);
        dc_release(dc_zeros(DC_F64, 1, (const int64_t[]){1 + i % 50}));
    }
    return NULL;
}

START_TEST(blocks_move_between_threads) {
    int64_t live = dc_live_allocations();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, maker, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    dc_scope *s = dc_scope_begin();
    for (int i = 0; i < N_HANDOFF; i++) {
        TU_NOTNULL(g_handoff[i]);
        double v;
        TU_OK(dc_item(dc_narrow(g_handoff[i], 0, 0, 1), &v));
        ck_assert(v == (double)i);
    }
    TU_OK(dc_scope_end(s));
    for (int i = 0; i < N_HANDOFF; i++) dc_release(g_handoff[i]);
    ck_assert_int_eq(dc_live_allocations(), live);
}
END_TEST

/* The live count while the thread that made the blocks still runs: each
 * thread counts its own, and the sum is what dc_live_allocations says. */
#define N_HELD 100
static dc_tensor *g_held[N_HELD];
static pthread_barrier_t g_barrier;

static void *holder(void *arg) {
    (void)arg;
    for (int i = 0; i < N_HELD; i++) g_held[i] = dc_zeros(DC_F32, 1, (const int64_t[]){16});
    pthread_barrier_wait(&g_barrier);   /* made: the main thread counts them */
    pthread_barrier_wait(&g_barrier);   /* released there: this thread ends */
    return NULL;
}

START_TEST(live_count_sums_running_threads) {
    int64_t live = dc_live_allocations();
    dc_tensor *one = dc_zeros(DC_F32, 1, (const int64_t[]){16});
    TU_NOTNULL(one);
    int64_t per_tensor = dc_live_allocations() - live;
    ck_assert_int_gt(per_tensor, 0);
    dc_release(one);
    ck_assert_int_eq(dc_live_allocations(), live);
    ck_assert_int_eq(pthread_barrier_init(&g_barrier, NULL, 2), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, holder, NULL), 0);
    pthread_barrier_wait(&g_barrier);
    for (int i = 0; i < N_HELD; i++) TU_NOTNULL(g_held[i]);
    ck_assert_int_eq(dc_live_allocations(), live + N_HELD * per_tensor);
    /* released here: this thread's count goes below its own blocks' */
    for (int i = 0; i < N_HELD; i++) dc_release(g_held[i]);
    ck_assert_int_eq(dc_live_allocations(), live);
    pthread_barrier_wait(&g_barrier);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(dc_live_allocations(), live);
    pthread_barrier_destroy(&g_barrier);
}
END_TEST

/* Forks while another thread makes and drops large blocks (the shared
 * cache's lock at each, held ~8% of the time): each child must be able
 * to allocate and count at once, not wait for a lock whose holder it
 * does not have (SIGALRM after 2 s fails it). Without the fork handlers,
 * 17 of 200 children hung. The live counters' lock is held far more
 * rarely (a thread's start and exit) and is taken in the same handlers. */
static atomic_bool g_churn_stop;

static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&g_churn_stop)) dc_release(dc_zeros(DC_F32, 1, (const int64_t[]){4096}));
    return NULL;
}

START_TEST(fork_never_inherits_a_held_lock) {
    atomic_store(&g_churn_stop, false);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, churn, NULL), 0);
    int hung = 0, failed = 0;
    for (int f = 0; f < 200; f++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            alarm(2);
            dc_tensor *t = dc_zeros(DC_F32, 1, (const int64_t[]){5000});
            int ok = t != NULL && dc_live_allocations() > 0;
            dc_release(t);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) hung++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    }
    atomic_store(&g_churn_stop, true);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_msg(hung == 0 && failed == 0, "of 200 children, %d hung, %d failed", hung, failed);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("alloc_cache");
    TCase *tc = tu_tcase("cache");
    tcase_add_test(tc, steady_loop_takes_nothing_from_malloc);
    tcase_add_test(tc, cached_blocks_are_not_live_but_leaks_are);
    tcase_add_test(tc, a_waiting_large_block_serves_a_nearby_size);
    tcase_add_test(tc, a_callers_allocator_sees_every_request);
    suite_add_tcase(s, tc);
    TCase *th = tu_tcase("threads");
    tcase_add_test(th, blocks_move_between_threads);
    tcase_add_test(th, live_count_sums_running_threads);
    tcase_add_test(th, fork_never_inherits_a_held_lock);
    suite_add_tcase(s, th);
    return s;
}

int main(void) { return tu_run(suite()); }
