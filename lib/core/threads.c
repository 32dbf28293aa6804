/* The library's thread pool and the threads setting.
 *
 * A small persistent pool. Worker threads start at the first parallel run
 * that needs them and then wait for work, spinning briefly (back-to-back
 * ops of a training step then skip a sleep and wake-up) and sleeping on a
 * condition variable after that.
 *
 * A run hands each worker an offer (its slot state goes POSTED); a worker
 * that wakes up accepts it (POSTED -> RUNNING), runs the chunk of its own
 * slot's number, then takes chunks from a shared counter until none are
 * left, and reports DONE. When the caller has run out of chunks itself, it
 * withdraws the offers not yet accepted (POSTED -> CANCELLED), runs their
 * own chunks, and waits only for the workers that are RUNNING. On a
 * machine with more runnable threads than cores, a worker that is not
 * scheduled in time therefore costs nothing. Chunk t going to slot t
 * keeps a run's split the same from one run to the next: taken from the
 * counter, a spinning worker often beat the caller to chunk 0, and a
 * 512 x 512 x 12 product cut in two halves of C took 28-30 us instead of
 * 19, each half's lines moving to the other core's cache. One run uses
 * the pool at a time; a run that finds it busy (another thread's, or a
 * nested one) runs serially.
 *
 * Placement: a worker that finds itself on the CPU of the run's caller
 * moves itself off it (its affinity becomes the CPUs it started with but
 * the caller's). The kernel tends to wake a worker on the waker's CPU, and
 * two busy threads on one CPU then stay together for tens of milliseconds
 * while the other CPU idles: measured on 2 vCPUs, a 256^3 product ran at
 * 115-165 GFLOP/s on "2 threads" so placed and at 300-390 apart, and
 * about one process in three got stuck that way. Only workers move (the
 * caller's thread belongs to the host program), checked before each
 * chunk they take.
 *
 * Lifetime: dc_set_num_threads() stops and joins the workers (they restart
 * lazily with the new count, so dc_set_num_threads(1) leaves no thread
 * running); a destructor joins them when the library is unloaded or the
 * process exits; a child of fork() starts without workers. */
/* glibc's feature macro, for sched_getcpu, CPU_* and pthread_setaffinity_np */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1   // NOLINT(bugprone-reserved-identifier): the name glibc reads
#endif
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <immintrin.h>
#  define cpu_relax() _mm_pause()
#else
#  define cpu_relax() ((void)0)
#endif

/* More threads than this is a mistake, not a machine. */
#define POOL_MAX 256
/* How long a worker spins for its next offer, and a caller for running
 * workers to finish, before sleeping. */
#define WORKER_SPIN_NS 100000
#define CALLER_SPIN_NS 200000

enum { OFFER_NONE, OFFER_POSTED, OFFER_RUNNING, OFFER_DONE, OFFER_CANCELLED };

/* What the threads of one run share (on the caller's stack). */
typedef struct run {
    dc__chunk_fn fn;
    void *ctx;
    int64_t nchunks;
    atomic_llong next;         /* the next chunk to take (below: the threads' own) */
    int caller_cpu;            /* where the caller was when it posted; -1: unknown */
} run;

typedef struct worker {
    pthread_t thread;
    int slot;
#ifdef __linux__
    cpu_set_t home;            /* the CPUs of the thread that started it */
    bool has_home;
#endif
    atomic_int offer;          /* OFFER_*: written by the caller and this worker */
    run *job;                  /* valid while offer is POSTED or RUNNING */
} worker;

/* Held for the whole of a run, and while the workers start or stop. Runs
 * take it with trylock: a busy pool means a serial run. */
static pthread_mutex_t g_run_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guards the sleeping protocol (the condition variables' predicates are
 * atomics; the lock orders sleeping against waking). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;
static int g_sleepers;
static bool g_caller_sleeping;
static atomic_bool g_stop;

static atomic_int g_setting;   /* dc_set_num_threads' argument; 0: cores */
static worker g_workers[POOL_MAX];
static int g_started;          /* workers running, slots 1..g_started */
static _Thread_local bool tl_in_run;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPUs the calling thread may run on (taskset, cgroups' cpusets;
 * workers inherit them from the thread that starts them), else the CPUs
 * online: threads beyond them would only take turns. */
static int read_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = CPU_COUNT(&set);
#endif
    return n < 1 ? 1 : n > POOL_MAX ? POOL_MAX : (int)n;
}

/* read_cores() costs a file read and a system call (glibc's sysconf
 * opens /sys/devices/system/cpu/online): ~8 us, more than a small op.
 * Every parallel run asks, so each thread keeps its count until the
 * next dc_set_num_threads (which bumps g_cores_epoch). Measured with
 * the default setting: a 64^3 product took 19 us instead of 2.5, a
 * batch-1 step of a 10-10-10 MLP 25 us instead of 2.8. */
static atomic_uint g_cores_epoch;
static _Thread_local unsigned tl_cores_epoch;
static _Thread_local int tl_cores;   /* 0: not read yet on this thread */

static int cores(void) {
    unsigned epoch = atomic_load_explicit(&g_cores_epoch, memory_order_relaxed);
    if (tl_cores == 0 || tl_cores_epoch != epoch) {
        tl_cores = read_cores();
        tl_cores_epoch = epoch;
    }
    return tl_cores;
}

static int current_cpu(void) {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

int dc__pool_threads(void) {
    int n = atomic_load(&g_setting);
    return n == 0 ? cores() : n;
}

/* Moves worker w (the calling thread) off cpu when it is running there:
 * its affinity becomes the CPUs it started with minus that one (nothing
 * happens when that one is all it has). The kernel migrates the thread
 * before the call returns. */
static void move_off_cpu(worker *w, int cpu) {
#ifdef __linux__
    if (!w->has_home || cpu < 0 || cpu >= CPU_SETSIZE || sched_getcpu() != cpu) return;
    cpu_set_t set = w->home;
    CPU_CLR(cpu, &set);
    if (CPU_COUNT(&set) > 0) pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)w;
    (void)cpu;
#endif
}

/* Runs chunk slot of r (its own), then takes chunks from the counter
 * until there are none left; w: the worker taking them (NULL: the
 * caller), which first moves off the caller's CPU (the scheduler may also
 * put it back there during the run). */
static void take_chunks(run *r, int slot, worker *w) {
    for (int64_t c = slot;; c = atomic_fetch_add(&r->next, 1)) {
        if (c >= r->nchunks) return;
        if (w) move_off_cpu(w, r->caller_cpu);
        r->fn(r->ctx, c, slot);
    }
}

/* ---------------------------------------------------------------- */
/* Workers                                                           */
/* ---------------------------------------------------------------- */

static bool has_offer(worker *w) { return atomic_load(&w->offer) == OFFER_POSTED; }

/* Waits until w has an offer (true) or the pool stops (false). */
static bool wait_for_offer(worker *w) {
    int64_t until = now_ns() + WORKER_SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (has_offer(w)) return true;
        if (atomic_load(&g_stop)) return false;
        if (i % 64 == 0 && now_ns() > until) break;
        cpu_relax();
    }
    pthread_mutex_lock(&g_lock);
    g_sleepers++;
    while (!has_offer(w) && !atomic_load(&g_stop)) pthread_cond_wait(&g_wake_cv, &g_lock);
    g_sleepers--;
    pthread_mutex_unlock(&g_lock);
    return !atomic_load(&g_stop);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    tl_in_run = true;   /* anything this thread runs is inside a run */
    while (wait_for_offer(w)) {
        int expect = OFFER_POSTED;
        if (!atomic_compare_exchange_strong(&w->offer, &expect, OFFER_RUNNING))
            continue;   /* withdrawn before we got to it */
        take_chunks(w->job, w->slot, w);
        atomic_store(&w->offer, OFFER_DONE);
        pthread_mutex_lock(&g_lock);
        if (g_caller_sleeping) pthread_cond_broadcast(&g_done_cv);
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

/* Stops and joins every worker. Caller holds g_run_lock. */
static void stop_workers(void) {
    if (g_started == 0) return;
    pthread_mutex_lock(&g_lock);
    atomic_store(&g_stop, true);
    pthread_cond_broadcast(&g_wake_cv);
    pthread_mutex_unlock(&g_lock);
    for (int i = 1; i <= g_started; i++) pthread_join(g_workers[i].thread, NULL);
    atomic_store(&g_stop, false);
    g_started = 0;
}

/* fork(): the child has only the forking thread, so it starts with no
 * workers and fresh locks. The run lock is held across the fork so no
 * run is half-done in the child. */
static void atfork_prepare(void) { pthread_mutex_lock(&g_run_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_run_lock); }
static void atfork_child(void) {
    g_started = 0;
    g_sleepers = 0;
    g_caller_sleeping = false;
    atomic_store(&g_stop, false);
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_wake_cv, NULL);
    pthread_cond_init(&g_done_cv, NULL);
    pthread_mutex_unlock(&g_run_lock);
}
static void register_atfork(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Starts workers up to slot want-1 (caller holds g_run_lock). Returns
 * the threads available, the caller included: fewer when a start failed. */
static int start_workers(int want) {
    pthread_once(&g_atfork_once, register_atfork);
    while (g_started < want - 1) {
        worker *w = &g_workers[g_started + 1];
        w->slot = g_started + 1;
        atomic_store(&w->offer, OFFER_NONE);
#ifdef __linux__
        /* taken here, not by the new thread: by the time it runs, its
         * affinity may have been changed from outside */
        w->has_home = pthread_getaffinity_np(pthread_self(), sizeof w->home, &w->home) == 0;
#endif
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) break;
        g_started++;
    }
    return g_started + 1;
}

/* Unloading or exiting: no worker may outlive the library's code. */
__attribute__((destructor)) static void pool_shutdown(void) {
    pthread_mutex_lock(&g_run_lock);
    stop_workers();
    pthread_mutex_unlock(&g_run_lock);
}

/* ---------------------------------------------------------------- */
/* Runs                                                              */
/* ---------------------------------------------------------------- */

static void post_offers(run *r, int n) {
    for (int t = 1; t < n; t++) {
        g_workers[t].job = r;
        atomic_store(&g_workers[t].offer, OFFER_POSTED);
    }
    pthread_mutex_lock(&g_lock);
    if (g_sleepers > 0) pthread_cond_broadcast(&g_wake_cv);
    pthread_mutex_unlock(&g_lock);
}

/* Withdraws w's offer if it is still open and runs its own chunk on the
 * caller (slot 0), else waits until w is done. */
static void settle_offer(worker *w, run *r) {
    int expect = OFFER_POSTED;
    if (atomic_compare_exchange_strong(&w->offer, &expect, OFFER_CANCELLED)) {
        r->fn(r->ctx, w->slot, 0);
        return;
    }
    int64_t until = now_ns() + CALLER_SPIN_NS;
    for (unsigned i = 1; atomic_load(&w->offer) != OFFER_DONE; i++) {
        if (i % 64 == 0 && now_ns() > until) break;
        cpu_relax();
    }
    pthread_mutex_lock(&g_lock);
    while (atomic_load(&w->offer) != OFFER_DONE) {
        g_caller_sleeping = true;
        pthread_cond_wait(&g_done_cv, &g_lock);
    }
    g_caller_sleeping = false;
    pthread_mutex_unlock(&g_lock);
}

int dc__parallel_for(dc__chunk_fn fn, void *ctx, int64_t nchunks, int threads) {
    /* run serially, the caller takes chunk 0 as its own and the rest from 1 */
    run r = {.fn = fn, .ctx = ctx, .nchunks = nchunks, .next = 1, .caller_cpu = -1};
    int n = dc__pool_threads();
    if (threads < n) n = threads;
    if (nchunks < n) n = (int)nchunks;
    if (n <= 1 || tl_in_run || pthread_mutex_trylock(&g_run_lock) != 0) {
        take_chunks(&r, 0, NULL);
        return 1;
    }
    int avail = start_workers(n);
    if (avail < n) n = avail;
    atomic_store(&r.next, n);   /* chunks 0..n-1: one for each thread taking part */
    r.caller_cpu = current_cpu();
    post_offers(&r, n);
    tl_in_run = true;
    take_chunks(&r, 0, NULL);
    tl_in_run = false;
    for (int t = 1; t < n; t++) settle_offer(&g_workers[t], &r);
    pthread_mutex_unlock(&g_run_lock);
    return n;
}

/* ---------------------------------------------------------------- */
/* Public setting                                                    */
/* ---------------------------------------------------------------- */

dc_status dc_set_num_threads(int n) {
    if (n < 0 || n > POOL_MAX)
        return dc__fail(DC_E_INVALID, "dc_set_num_threads: %d threads; give 0 (one per core) "
                        "to %d", n, POOL_MAX);
    if (tl_in_run)
        return dc__fail(DC_E_STATE, "dc_set_num_threads: called from inside a parallel run");
    pthread_mutex_lock(&g_run_lock);
    atomic_store(&g_setting, n);
    atomic_fetch_add(&g_cores_epoch, 1);   /* every thread reads its CPUs again */
    stop_workers();   /* they restart lazily, as many as the new count needs */
    pthread_mutex_unlock(&g_run_lock);
    return DC_OK;
}

int dc_get_num_threads(void) { return dc__pool_threads(); }
