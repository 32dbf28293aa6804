/* The library's thread pool (lib/core/threads.c), for the units that split
 * large ops across threads (GEMM today).
 *
 * The pool's worker threads start at the first parallel run that needs
 * them, not at load. dc_set_num_threads(1) stops and joins them; a
 * destructor joins them when the library is unloaded or the process
 * exits, so no thread outlives the code it runs. */
#ifndef DEEPCORE_THREADS_H
#define DEEPCORE_THREADS_H

#include "internal.h"

/* One chunk of a parallel loop. slot (0..threads-1) names the thread
 * running it, distinct among the threads of one run: index per-thread
 * scratch space with it. */
typedef void (*dc__chunk_fn)(void *ctx, int64_t chunk, int slot);

/* The threads a parallel run may use now (dc_get_num_threads()). */
int dc__pool_threads(void);

/* The pool's measurements of where its threads run are redone when
 * asked after this long: a VM's host moves its vCPUs (this project's
 * moved between cores close together, far apart and one core's two
 * hardware threads within minutes), and a process lives longer. */
#define DC_POOL_REMEASURE_NS ((int64_t)2000000000)

/* How long (ns) a run takes to reach a worker and come back: the median
 * of a few runs that do nothing, measured when first asked after the
 * workers start (starting them if need be) or DC_POOL_REMEASURE_NS after
 * the last measurement, and forgotten when they stop. INT64_MAX inside a
 * run (which would run serially), and, when never measured, if the pool
 * has fewer than two threads or is busy (the last answer when there is
 * one). For deciding whether a small op is worth splitting. */
int64_t dc__pool_handoff_ns(void);
/* For tests: dc__pool_handoff_ns answers ns, and dc__pool_pair_shares
 * DC_PAIR_SEPARATE, until the workers stop (or a test notes another
 * verdict); never measured again before that. */
void dc__pool_assume_handoff_ns(int64_t ns);

/* Whether the pool's first two threads share one core's arithmetic (two
 * hardware threads of one core, which a VM's guest cannot see), as
 * measured by the unit that cares (the GEMM, with its own kernel) and
 * recorded with dc__pool_note_pair_shares. DC_PAIR_UNKNOWN when never
 * recorded, DC_POOL_REMEASURE_NS after the last record (of any value)
 * and after the workers stop: time to measure it. */
enum {
    DC_PAIR_UNKNOWN = -2,
    DC_PAIR_NO_VERDICT = -1,   /* measured, but the pool was busy or a worker late */
    DC_PAIR_SEPARATE = 0,
    DC_PAIR_SHARED = 1
};
int dc__pool_pair_shares(void);
/* Records a DC_PAIR_* value; DC_PAIR_UNKNOWN forgets the last (tests). */
void dc__pool_note_pair_shares(int verdict);
/* Whether the caller may measure the verdict now (true for one thread
 * at a time, which then notes what it found): there is none, or it is
 * out of date. Meanwhile dc__pool_pair_shares answers DC_PAIR_NO_VERDICT. */
bool dc__pool_claim_pair_probe(void);

/* Whether the calling thread is inside a run of the pool's threads (a
 * worker, or the caller of a run given to workers; not a run made
 * serial). */
bool dc__pool_in_run(void);

/* CLOCK_MONOTONIC in ns. */
int64_t dc__now_ns(void);

/* Runs fn(ctx, c, slot) once for every chunk c in 0..nchunks-1 on up to
 * min(threads, dc__pool_threads()) threads (the caller is one, slot 0)
 * and returns when all are done. Thread slot t runs chunk t first (the
 * same split from one run to the next), then threads take the other
 * chunks as they come free; a worker the OS has not scheduled yet gets
 * none, and the caller runs its chunk instead of waiting for it. Runs everything on the calling thread when only
 * one thread would take part, when called from inside a parallel run (no
 * nesting), when another thread holds the pool, or when the workers
 * cannot be started. Returns the threads that were offered chunks.
 * fn must not record errors: dc__fail records on the thread that calls
 * it. */
int dc__parallel_for(dc__chunk_fn fn, void *ctx, int64_t nchunks, int threads);

/* How many chunks to cut a pass over items (the axis it splits) into,
 * work elements in all: one per min_work elements, at most 8 per pool
 * thread (the threads take them as they come free) and one per item; at
 * least 1, which dc__parallel_for runs on the calling thread. */
static inline int64_t dc__chunk_count(int64_t items, int64_t work, int64_t min_work) {
    int64_t n = work / min_work, most = 8 * (int64_t)dc__pool_threads();
    if (n > most) n = most;
    if (n > items) n = items;
    return n > 1 ? n : 1;
}

/* Items [*lo, *hi) of chunk k when n items are cut into nchunks parts of
 * sizes differing by at most one (nchunks >= 1, n * nchunks must not
 * overflow). */
static inline void dc__chunk_range(int64_t n, int64_t nchunks, int64_t k, int64_t *lo,
                                   int64_t *hi) {
    *lo = n * k / nchunks;
    *hi = n * (k + 1) / nchunks;
}

/* fn(ctx, lo, hi) on parts [lo, hi) of items [0, items), cut as
 * dc__chunk_count(items, work, min_work) says and run by
 * dc__parallel_for: an elementwise pass over the items, or over the
 * first axis of work elements in all. */
typedef void (*dc__range_fn)(void *ctx, int64_t lo, int64_t hi);
void dc__parallel_range(dc__range_fn fn, void *ctx, int64_t items, int64_t work,
                        int64_t min_work);

#endif
