/* The library's thread pool and the threads setting.
 *
 * A small persistent pool. Worker threads start at the first parallel run
 * that needs them and then wait for work, spinning briefly (back-to-back
 * ops of a training step then skip a sleep and wake-up) and sleeping on a
 * condition variable after that.
 *
 * A run hands each worker an offer (a copy of the run, under the next
 * number of that worker's runs); a worker that sees it takes it, runs the
 * chunk of its own slot's number, then takes chunks from a shared counter
 * until none are left (a run of one chunk per thread has no counter), and
 * reports it finished. When the caller has run out of chunks itself, it
 * withdraws the offers: those not taken yet it runs itself (their
 * workers decline them when they come to them), and it waits only for
 * the workers that took theirs. On a machine with more runnable threads
 * than cores, a worker that is not scheduled in time therefore costs
 * nothing. Chunk t going to slot t
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
#include <stdlib.h>
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

/* A run: what every thread taking part needs. The caller keeps it on its
 * stack and copies it into each offer. */
typedef struct run {
    dc__chunk_fn fn;
    void *ctx;
    int64_t nchunks;
    atomic_llong *next;        /* the next chunk to take beyond the threads' own */
    int threads;               /* the threads taking part (chunks 0..threads-1 are theirs) */
    int caller_cpu;            /* where the caller was when it posted; -1: unknown */
} run;

/* Runs are numbered per worker. What the caller writes and what the
 * worker writes are on separate cache lines, and each side's fast path
 * touches the other's line once: a line takes ~75 or ~275 ns to move
 * between this machine's two vCPUs, depending on where the VM runs them
 * (two threads passing a value back and forth: 135-230 or 480-620 ns a
 * round trip), up to a quarter of a 64^3 product's half. The offer line
 * holds the run itself, so the worker reads everything it needs in the
 * one line it spins on, and taking the run writes only the worker's own
 * line (a compare-and-swap on the offer line cost a second transfer). */
typedef struct worker {
    /* written by the caller */
    _Alignas(64) atomic_uint posted;   /* the number of the last run offered */
    atomic_uint withdrawn;             /* the number of the last run withdrawn */
    run job;                           /* the run numbered posted */
    /* written by the worker */
    _Alignas(64) atomic_uint taken;    /* the number of the last run it took */
    atomic_uint finished;              /* ... and then finished or declined */
    atomic_bool ran;                   /* false: it declined run finished (withdrawn) */
    /* the worker's own */
    _Alignas(64) unsigned seen;        /* the last run it looked at */
    pthread_t thread;
    int slot;
#ifdef __linux__
    cpu_set_t home;            /* the CPUs of the thread that started it */
    bool has_home;
#endif
} worker;

/* Held for the whole of a run, and while the workers start or stop. Runs
 * take it with trylock: a busy pool means a serial run. */
static pthread_mutex_t g_run_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guards the sleeping protocol (the condition variables' predicates are
 * atomics; the lock orders sleeping against waking). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;
/* Written under g_lock but read without it on the fast paths: a caller
 * posting offers and a worker finishing a run lock g_lock only when
 * somebody sleeps. See post_offers and worker_main for why no wake-up is
 * lost for good. */
static atomic_int g_sleepers;
static atomic_bool g_caller_sleeping;
static atomic_bool g_stop;

static atomic_int g_setting;   /* dc_set_num_threads' argument; 0: cores */
/* measure_handoff's answer for the running workers (-1: not measured)
 * and the verdict noted by dc__pool_note_pair_shares, each
 * good until the coarse_now_ns() after it (INT64_MAX: assumed by a test) */
static atomic_llong g_handoff_ns = -1, g_handoff_until;
static atomic_int g_pair_shares = DC_PAIR_UNKNOWN;
static atomic_llong g_pair_until;
static worker g_workers[POOL_MAX];
static int g_started;          /* workers running, slots 1..g_started */
static _Thread_local bool tl_in_run;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* Clock id in ns; -1 when the clock cannot be read. */
static int64_t clock_ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t dc__now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* The clock of the measurements' expiry: a coarse one (a few ms) is
 * plenty for DC_POOL_REMEASURE_NS and costs 6 ns here, not 30, on the
 * path of every small product on two threads. */
static int64_t coarse_now_ns(void) {
#ifdef CLOCK_MONOTONIC_COARSE
    int64_t t = clock_ns(CLOCK_MONOTONIC_COARSE);
    if (t >= 0) return t;
#endif
    return dc__now_ns();
}

/* Whether a measurement good until *until (g_handoff_until,
 * g_pair_until) still is. */
static bool still_good(const atomic_llong *until) {
    return coarse_now_ns() < atomic_load(until);
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
static void take_chunks(const run *r, int slot, worker *w) {
    for (int64_t c = slot; c < r->nchunks;) {
        if (w) move_off_cpu(w, r->caller_cpu);
        r->fn(r->ctx, c, slot);
        /* a chunk for each thread: no counter to share (the line would
         * move between the cores twice a run) */
        if (r->nchunks <= r->threads) return;
        c = atomic_fetch_add(r->next, 1);
    }
}

/* ---------------------------------------------------------------- */
/* Workers                                                           */
/* ---------------------------------------------------------------- */

static bool has_offer(worker *w) {
    return atomic_load_explicit(&w->posted, memory_order_acquire) != w->seen;
}

/* Waits until w has an offer (true) or the pool stops (false). */
static bool wait_for_offer(worker *w) {
    int64_t until = dc__now_ns() + WORKER_SPIN_NS;
    for (unsigned i = 1;; i++) {
        if (has_offer(w)) return true;
        if (atomic_load(&g_stop)) return false;
        if (i % 64 == 0) {
            /* Writing our line (the same value) takes it back from the
             * caller, who read it to see the last run finished: taking
             * the next run then writes to a line this core owns. */
            if (i == 64) atomic_store_explicit(&w->taken, w->seen, memory_order_relaxed);
            if (dc__now_ns() > until) break;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&g_lock);
    atomic_fetch_add(&g_sleepers, 1);   /* before has_offer() looks again */
    while (!has_offer(w) && !atomic_load(&g_stop)) pthread_cond_wait(&g_wake_cv, &g_lock);
    atomic_fetch_sub(&g_sleepers, 1);
    pthread_mutex_unlock(&g_lock);
    return !atomic_load(&g_stop);
}

/* Taking run s and withdrawing it race: the worker stores taken = s and
 * then loads withdrawn, the caller stores withdrawn = s and then loads
 * taken (all sequentially consistent), so at least one of them sees the
 * other's store. A worker that sees the run withdrawn declines it; a
 * caller that sees it not taken runs its chunk itself (the worker will
 * decline); a caller that sees it taken waits for finished = s and runs
 * the chunk itself if ran says the worker declined. */
static void *worker_main(void *arg) {
    worker *w = arg;
    tl_in_run = true;   /* anything this thread runs is inside a run */
    while (wait_for_offer(w)) {
        unsigned s = atomic_load_explicit(&w->posted, memory_order_acquire);
        w->seen = s;
        atomic_store(&w->taken, s);
        /* withdrawn may already be past s: the caller has then settled s
         * and posted a later run, whose job is not s's */
        bool run_it = (int)(atomic_load(&w->withdrawn) - s) < 0;
        if (run_it) take_chunks(&w->job, w->slot, w);
        atomic_store_explicit(&w->ran, run_it, memory_order_relaxed);
        /* released to the caller; sequentially consistent with the load
         * of g_caller_sleeping below, which settle_offer stores before
         * it looks at finished again */
        atomic_store(&w->finished, s);
        if (atomic_load(&g_caller_sleeping)) {
            pthread_mutex_lock(&g_lock);
            pthread_cond_broadcast(&g_done_cv);
            pthread_mutex_unlock(&g_lock);
        }
    }
    return NULL;
}

/* Stops and joins every worker. Caller holds g_run_lock. */
static void stop_workers(void) {
    atomic_store(&g_handoff_ns, -1);   /* new workers may run elsewhere */
    atomic_store(&g_pair_shares, DC_PAIR_UNKNOWN);
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
    atomic_store(&g_handoff_ns, -1);
    atomic_store(&g_pair_shares, DC_PAIR_UNKNOWN);
    atomic_store(&g_sleepers, 0);
    atomic_store(&g_caller_sleeping, false);
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
        atomic_store(&w->posted, 0);
        atomic_store(&w->withdrawn, 0);
        atomic_store(&w->taken, 0);
        atomic_store(&w->finished, 0);
        w->seen = 0;
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

/* Offers run r to workers 1..threads-1. The stores are releases, not
 * sequentially consistent (that would wait for the offer line to come
 * back from the spinning worker, ~275 ns): g_sleepers may then be read
 * as 0 just as a worker goes to sleep, without seeing the offer. That
 * costs one run, not a hang: settle_offer finds the run not taken and
 * runs its chunk, and the next run sees the sleeper and wakes it. */
static void post_offers(const run *r) {
    for (int t = 1; t < r->threads; t++) {
        worker *w = &g_workers[t];
        w->job = *r;
        unsigned s = atomic_load_explicit(&w->posted, memory_order_relaxed) + 1;
        atomic_store_explicit(&w->posted, s, memory_order_release);
    }
    if (atomic_load_explicit(&g_sleepers, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&g_lock);
        pthread_cond_broadcast(&g_wake_cv);
        pthread_mutex_unlock(&g_lock);
    }
}

/* Withdraws w's offer: if w had not taken it, or declined it, runs its
 * chunk on the caller (slot 0); else waits until w has finished it. */
static void settle_offer(worker *w, const run *r) {
    unsigned s = atomic_load_explicit(&w->posted, memory_order_relaxed);
    atomic_store(&w->withdrawn, s);
    if (atomic_load(&w->taken) != s) {
        r->fn(r->ctx, w->slot, 0);
        return;
    }
    int64_t until = dc__now_ns() + CALLER_SPIN_NS;
    for (unsigned i = 1; atomic_load_explicit(&w->finished, memory_order_acquire) != s; i++) {
        if (i % 64 == 0 && dc__now_ns() > until) {
            pthread_mutex_lock(&g_lock);
            atomic_store(&g_caller_sleeping, true);   /* before finished is looked at again */
            while (atomic_load(&w->finished) != s) pthread_cond_wait(&g_done_cv, &g_lock);
            atomic_store(&g_caller_sleeping, false);
            pthread_mutex_unlock(&g_lock);
            break;
        }
        cpu_relax();
    }
    if (!atomic_load_explicit(&w->ran, memory_order_relaxed)) r->fn(r->ctx, w->slot, 0);
}

/* Runs r on the pool's threads 0..r->threads-1 (the caller holds
 * g_run_lock and the workers have started). */
static void run_on_pool(run *r) {
    r->caller_cpu = current_cpu();
    post_offers(r);
    tl_in_run = true;   /* the chunks the caller runs for withdrawn offers too */
    take_chunks(r, 0, NULL);
    for (int t = 1; t < r->threads; t++) settle_offer(&g_workers[t], r);
    tl_in_run = false;
}

/* A run of two chunks in which the caller's chunk waits (up to a
 * millisecond) for the worker to start its own. */
typedef struct handoff_probe {
    int64_t posted;
    atomic_llong started;   /* 0: not yet */
} handoff_probe;

static void handoff_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    handoff_probe *p = ctx;
    if (chunk == 1) {
        atomic_store(&p->started, dc__now_ns());
        return;
    }
    while (atomic_load(&p->started) == 0 && dc__now_ns() < p->posted + 1000000) cpu_relax();
}

/* The median time from posting a run to seeing worker 1 finish it, of
 * runs that do nothing (the caller holds g_run_lock, the workers have
 * started). The first runs, which may wait for a new worker to be
 * scheduled at all and moved off the caller's CPU, are not counted.
 * Measured here: 0.28-0.35 us, or 1.0-1.3 us when the VM's two vCPUs
 * were placed so that a cache line took ~275 ns between them. */
static int cmp_ns(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

#define HANDOFF_WARMUP 8
#define HANDOFF_RUNS 15
static int64_t measure_handoff(int64_t give_up) {
    int64_t t[HANDOFF_RUNS] = {0};
    atomic_llong next = 2;
    for (int i = -HANDOFF_WARMUP; i < HANDOFF_RUNS; i++) {
        handoff_probe p = {.posted = dc__now_ns()};
        if (p.posted > give_up) return -1;
        run r = {.fn = handoff_chunk, .ctx = &p, .nchunks = 2, .next = &next, .threads = 2};
        run_on_pool(&r);
        if (i >= 0) t[i] = dc__now_ns() - p.posted;
    }
    qsort(t, HANDOFF_RUNS, sizeof *t, cmp_ns);
    return t[HANDOFF_RUNS / 2];
}

void dc__pool_assume_handoff_ns(int64_t ns) {
    atomic_store(&g_handoff_ns, ns);
    atomic_store(&g_handoff_until, INT64_MAX);
    atomic_store(&g_pair_shares, DC_PAIR_SEPARATE);
    atomic_store(&g_pair_until, INT64_MAX);
}

bool dc__pool_in_run(void) { return tl_in_run; }

/* A probe under way (dc__pool_claim_pair_probe) */
#define PAIR_PROBING (-3)

int dc__pool_pair_shares(void) {
    int v = atomic_load(&g_pair_shares);
    if (v == PAIR_PROBING) return DC_PAIR_NO_VERDICT;
    return still_good(&g_pair_until) ? v : DC_PAIR_UNKNOWN;
}

bool dc__pool_claim_pair_probe(void) {
    int v = atomic_load(&g_pair_shares);
    if (v == PAIR_PROBING) return false;
    if (v != DC_PAIR_UNKNOWN && still_good(&g_pair_until)) return false;
    return atomic_compare_exchange_strong(&g_pair_shares, &v, PAIR_PROBING);
}

/* A verdict measured while dc_set_num_threads restarted the workers may
 * be kept for the new ones: a slower or faster small product, never a
 * wrong result (and dc_set_num_threads is for when no op runs). */
void dc__pool_note_pair_shares(int verdict) {
    atomic_store(&g_pair_until, coarse_now_ns() + DC_POOL_REMEASURE_NS);
    atomic_store(&g_pair_shares, verdict);
}

/* A measurement redone (there is a last answer) gives up after this
 * long: each of its runs may wait up to 1 ms for a worker whose CPU is
 * busy elsewhere, and a small product should not stall ~20 ms for it. */
#define HANDOFF_REMEASURE_MAX_NS 2000000

int64_t dc__pool_handoff_ns(void) {
    if (tl_in_run || dc__pool_threads() < 2) return INT64_MAX;   /* a run would be serial */
    int64_t h = atomic_load(&g_handoff_ns);
    if (h >= 0 && still_good(&g_handoff_until)) return h;
    /* busy: the last answer, however old, if there is one */
    if (pthread_mutex_trylock(&g_run_lock) != 0) return h >= 0 ? h : INT64_MAX;
    if (dc__pool_threads() < 2) {   /* set to 1 since: start no worker */
        pthread_mutex_unlock(&g_run_lock);
        return INT64_MAX;
    }
    int64_t was = atomic_load(&g_handoff_ns);   /* -1 if the workers stopped meanwhile */
    int64_t give_up = was >= 0 ? dc__now_ns() + HANDOFF_REMEASURE_MAX_NS : INT64_MAX;
    h = start_workers(2) < 2 ? INT64_MAX : measure_handoff(give_up);
    if (h < 0) h = was;   /* gave up: keep the last, try again later */
    atomic_store(&g_handoff_until, coarse_now_ns() + DC_POOL_REMEASURE_NS);
    atomic_store(&g_handoff_ns, h);
    pthread_mutex_unlock(&g_run_lock);
    return h;
}

int dc__parallel_for(dc__chunk_fn fn, void *ctx, int64_t nchunks, int threads) {
    /* run serially, the caller takes chunk 0 as its own and the rest from 1 */
    atomic_llong next = 1;
    run r = {.fn = fn, .ctx = ctx, .nchunks = nchunks, .next = &next, .threads = 1,
             .caller_cpu = -1};
    int n = dc__pool_threads();
    if (threads < n) n = threads;
    if (nchunks < n) n = (int)nchunks;
    if (n <= 1 || tl_in_run || pthread_mutex_trylock(&g_run_lock) != 0) {
        take_chunks(&r, 0, NULL);
        return 1;
    }
    int avail = start_workers(n);
    if (avail < n) n = avail;
    r.threads = n;
    atomic_store(&next, n);   /* chunks 0..n-1: one for each thread taking part */
    run_on_pool(&r);
    pthread_mutex_unlock(&g_run_lock);
    return n;
}

typedef struct range_job {
    dc__range_fn fn;
    void *ctx;
    int64_t items, nchunks;
} range_job;

static void range_chunk(void *ctx, int64_t chunk, int slot) {
    (void)slot;
    const range_job *r = ctx;
    int64_t lo, hi;
    dc__chunk_range(r->items, r->nchunks, chunk, &lo, &hi);
    if (lo < hi) r->fn(r->ctx, lo, hi);
}

void dc__parallel_range(dc__range_fn fn, void *ctx, int64_t items, int64_t work,
                        int64_t min_work) {
    range_job r = {fn, ctx, items, dc__chunk_count(items, work, min_work)};
    dc__parallel_for(range_chunk, &r, r.nchunks, (int)r.nchunks);
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
