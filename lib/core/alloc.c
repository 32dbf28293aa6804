/* The one allocator of the library. A caller may replace it
 * (dc_set_allocator), which embedders want and which makes out-of-memory
 * paths testable. A live-allocation counter backs leak checks.
 *
 * Block cache. A training loop makes and drops the same tensors, nodes and
 * scopes step after step; handing each back to malloc and asking again
 * costs more than many of the ops themselves (glibc's per-thread cache
 * keeps only 7 blocks of a size, and large blocks are mmap'd and
 * page-faulted afresh every time). So, with the default allocator only,
 * freed blocks wait in a cache of size classes (four per power of two,
 * so at most a quarter is wasted) and the next request of their class
 * takes one back: in the steady state of a loop nothing reaches malloc.
 *
 *  - Bounded: at most g_cache_cap bytes wait in the shared cache (256 MiB;
 *    the environment variable DC_ALLOC_CACHE_MB, read once, changes it, 0
 *    turns the cache off) and at most 128 blocks of each small class in a
 *    thread's own (3.3 MiB at most). Blocks beyond go back to free().
 *  - Near fits: a request for a large block whose class has none waiting
 *    takes one of up to four classes above (at most twice its size)
 *    before it asks malloc. A step frees activations of some sizes while
 *    its backward asks for gradients of others; exact classes only would
 *    keep both sets resident (a small GPT's peak RSS: 12 MB more).
 *  - Thread-safe: each thread keeps up to 128 small blocks (<= 4 KiB) of
 *    each class for itself, without a lock (tensor headers, nodes and
 *    small tensors, made and dropped by every op); everything else, and
 *    what a thread has too much of, goes through one shared cache under
 *    a mutex. A thread's blocks join the shared cache when it exits.
 *  - Not counted: dc_live_allocations counts blocks the library holds,
 *    not the ones waiting, so leak tests still see every leak.
 *  - A caller's allocator (dc_set_allocator) sees every request: the
 *    cache sits in front of malloc only, and is flushed when the allocator
 *    changes. Fault-injection tests thus fail exactly the calls they count.
 *  - Under AddressSanitizer a waiting block is poisoned, so a use after
 *    free still reports.
 *
 * With the default allocator each block starts with a 64-byte header (its
 * class and the free-list link) and is 64-byte aligned, which also suits
 * the SIMD loops of the ops. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#  define DC_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define DC_ASAN 1
#  endif
#endif
#ifdef DC_ASAN
#  include <sanitizer/asan_interface.h>
#  define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#  define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#  define POISON(p, n) ((void)(p), (void)(n))
#  define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static void *default_malloc(size_t size, void *ctx) { (void)ctx; return malloc(size); }
static void *default_realloc(void *p, size_t size, void *ctx) { (void)ctx; return realloc(p, size); }
static void default_free(void *p, void *ctx) { (void)ctx; free(p); }

/* Set once by the embedder before objects exist; read by every thread. */
static dc_malloc_fn g_malloc = default_malloc;
static dc_realloc_fn g_realloc = default_realloc;
static dc_free_fn g_free = default_free;
static void *g_ctx = NULL;

/* ---------------------------------------------------------------- */
/* The live-allocation count                                         */
/* ---------------------------------------------------------------- */

/* Kept per thread: one shared counter took a locked add for every block
 * made and a locked subtraction for every block freed, which drain the
 * store buffer: about 13% of the tiny MLP's step (batch 1; perf). Each
 * thread's counter is written by that thread alone (a plain load and
 * store, no lock) and read by
 * dc_live_allocations under g_live_lock; a block freed by another thread
 * than the one that made it leaves one counter high and the other low,
 * and the sum right. A thread's count joins g_live_shared when it exits;
 * a thread without a counter of its own (at exit, or when calloc failed)
 * adds to g_live_shared atomically. */
typedef struct live_counter {
    atomic_llong n;
    struct live_counter *prev, *next;
} live_counter;

static pthread_mutex_t g_live_lock = PTHREAD_MUTEX_INITIALIZER;
static live_counter *g_live_threads = NULL;   /* the threads' counters */
static atomic_llong g_live_shared = 0;
static pthread_once_t g_live_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_live_key;
static bool g_live_key_ok = false;
/* NULL: not made yet; LIVE_SHARED: none for this thread (g_live_shared) */
static _Thread_local DC_TLS_FAST live_counter *tl_live = NULL;
static live_counter g_live_none;
#define LIVE_SHARED (&g_live_none)

static void live_counter_exit(void *p) {
    live_counter *lc = p;
    pthread_mutex_lock(&g_live_lock);
    atomic_fetch_add(&g_live_shared, atomic_load_explicit(&lc->n, memory_order_relaxed));
    if (lc->prev) lc->prev->next = lc->next;
    else g_live_threads = lc->next;
    if (lc->next) lc->next->prev = lc->prev;
    pthread_mutex_unlock(&g_live_lock);
    free(lc);
    tl_live = LIVE_SHARED;   /* a later destructor's blocks count in g_live_shared */
}

static void watch_forks(void);

static void live_init(void) {
    watch_forks();
    g_live_key_ok = pthread_key_create(&g_live_key, live_counter_exit) == 0;
}

/* This thread's counter, made on its first allocation. */
static live_counter *live_counter_of_thread(void) {
    live_counter *lc = tl_live;
    if (DC_UNLIKELY(!lc)) {
        pthread_once(&g_live_once, live_init);
        lc = g_live_key_ok ? calloc(1, sizeof *lc) : NULL;
        if (lc && pthread_setspecific(g_live_key, lc) != 0) {
            free(lc);
            lc = NULL;
        }
        if (lc) {
            pthread_mutex_lock(&g_live_lock);
            lc->next = g_live_threads;
            if (g_live_threads) g_live_threads->prev = lc;
            g_live_threads = lc;
            pthread_mutex_unlock(&g_live_lock);
        }
        tl_live = lc ? lc : LIVE_SHARED;
        lc = tl_live;
    }
    return lc;
}

static void live_add(long long delta) {
    live_counter *lc = live_counter_of_thread();
    if (lc == LIVE_SHARED) {
        atomic_fetch_add(&g_live_shared, delta);
        return;
    }
    /* this thread alone writes n: no read-modify-write needed */
    long long n = atomic_load_explicit(&lc->n, memory_order_relaxed);
    atomic_store_explicit(&lc->n, n + delta, memory_order_relaxed);
}

static long long live_count(void) {
    pthread_mutex_lock(&g_live_lock);
    long long n = atomic_load(&g_live_shared);
    for (const live_counter *lc = g_live_threads; lc; lc = lc->next)
        n += atomic_load_explicit(&lc->n, memory_order_relaxed);
    pthread_mutex_unlock(&g_live_lock);
    return n;
}

/* ---------------------------------------------------------------- */
/* Size classes and the cache                                        */
/* ---------------------------------------------------------------- */

#define HEAD 64                       /* header bytes before the block */
#define MIN_CLASS_BYTES 128           /* class 0: total size <= 128 */
#define N_CLASSES 160                 /* up to 2^46 bytes */
#define UNCACHED 0xffffffffu          /* class of a block too big to cache */
#define HEAD_MAGIC 0x44434231u        /* "DCB1" */
/* Each thread keeps up to LOCAL_MAX blocks of each class up to
 * LOCAL_CLASSES (4 KiB) without any lock: the headers, nodes and small
 * tensors that every op makes. */
#define LOCAL_CLASSES 21
#define LOCAL_MAX 128

typedef struct block_head {
    uint32_t cls;
    uint32_t magic;
    size_t bytes;                     /* the whole block, header included */
    struct block_head *next;          /* while waiting in a cache */
} block_head;
_Static_assert(sizeof(block_head) <= HEAD, "the block header must fit HEAD");

/* The shared cache, for every class. */
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static block_head *g_cache[N_CLASSES];
static size_t g_cached_bytes = 0;
static size_t g_cache_cap = 256u << 20;
static pthread_once_t g_cache_once = PTHREAD_ONCE_INIT;
static atomic_llong g_system_allocs = 0;   /* blocks that came from malloc */
/* Bumped by every flush: a thread's cache of an older generation is
 * emptied before it is used again. */
static atomic_uint g_generation = 0;

/* A thread's own cache of small blocks; made on the thread's first
 * allocation, emptied into the shared cache when the thread exits. */
typedef struct local_cache {
    block_head *head[LOCAL_CLASSES];
    uint32_t count[LOCAL_CLASSES];
    size_t bytes;                     /* waiting here */
    unsigned generation;
} local_cache;

static _Thread_local DC_TLS_FAST local_cache *tl_cache = NULL;
static pthread_key_t g_local_key;
static bool g_local_key_ok = false;

static void local_cache_drop(local_cache *lc, bool to_shared);
static bool cache_on(void);

static void local_cache_exit(void *p) {
    local_cache *lc = p;
    /* blocks of an older generation predate a flush: back to free() */
    local_cache_drop(lc, lc->generation == atomic_load(&g_generation) && cache_on());
    free(p);
    tl_cache = NULL;
}

/* A fork while another thread holds one of the allocator's locks (a
 * thread's first allocation or its exit, dc_live_allocations, a block
 * going to or from the shared cache) would leave it locked for good in
 * the child: both are taken around the fork. Neither is ever held while
 * taking the other. */
static void fork_prepare(void) {
    pthread_mutex_lock(&g_cache_lock);
    pthread_mutex_lock(&g_live_lock);
}
static void fork_done(void) {
    pthread_mutex_unlock(&g_live_lock);
    pthread_mutex_unlock(&g_cache_lock);
}
static void register_fork_handlers(void) { pthread_atfork(fork_prepare, fork_done, fork_done); }
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;
static void watch_forks(void) { pthread_once(&g_fork_once, register_fork_handlers); }

static void cache_init(void) {
    watch_forks();
    /* read once (pthread_once); only a host calling setenv meanwhile races
     * NOLINTNEXTLINE(concurrency-mt-unsafe) */
    const char *env = getenv("DC_ALLOC_CACHE_MB");
    if (env && *env) {
        char *end;
        unsigned long long mb = strtoull(env, &end, 10);
        if (*end == '\0' && mb < (SIZE_MAX >> 20)) g_cache_cap = (size_t)mb << 20;
    }
    if (pthread_key_create(&g_local_key, local_cache_exit) != 0) g_cache_cap = 0;
    else g_local_key_ok = true;
}

/* Unloading (dlclose): a host thread that ever allocated through the
 * library would otherwise run these keys' destructors when it exits, in
 * code no longer mapped (a crash in the host: tests/dlclose_host.c).
 * The keys go with the library; such threads' cached blocks and counters
 * are then never handed back, which leaks them at unload. */
__attribute__((destructor)) static void alloc_unload(void) {
    if (g_local_key_ok) pthread_key_delete(g_local_key);
    if (g_live_key_ok) pthread_key_delete(g_live_key);
}

/* The class of a block of total bytes (header included) and its size. */
static uint32_t size_class(size_t total, size_t *class_bytes) {
    if (total <= MIN_CLASS_BYTES) {
        *class_bytes = MIN_CLASS_BYTES;
        return 0;
    }
    int k = 63 - __builtin_clzll((unsigned long long)(total - 1));   /* 2^k < total */
    size_t base = (size_t)1 << k, step = base / 4;
    size_t q = (total - base + step - 1) / step;                     /* 1..4 */
    uint32_t cls = 1 + (uint32_t)(k - 7) * 4 + (uint32_t)(q - 1);
    if (cls >= N_CLASSES) {
        *class_bytes = total;
        return UNCACHED;
    }
    *class_bytes = base + q * step;
    return cls;
}

static bool cache_on(void) {
    return g_malloc == default_malloc;
}

static inline block_head *head_of(void *p) { return (block_head *)((char *)p - HEAD); }
static inline void *user_of(block_head *h) { return (char *)h + HEAD; }

/* Puts h into the shared cache, or frees it when the cache is full. */
static void shared_put(block_head *h) {
    pthread_mutex_lock(&g_cache_lock);
    bool keep = g_cache_cap > 0 && g_cached_bytes + h->bytes <= g_cache_cap;
    if (keep) {
        h->next = g_cache[h->cls];
        g_cache[h->cls] = h;
        g_cached_bytes += h->bytes;
    }
    pthread_mutex_unlock(&g_cache_lock);
    if (!keep) {
        UNPOISON(user_of(h), h->bytes - HEAD);
        free(h);
    }
}

/* A block of class cls from the shared cache, or NULL; a large block
 * may be a near fit of up to FIT_CLASSES classes above (see "Near fits"
 * at the top). Small blocks keep their exact class (the per-thread
 * caches serve them). */
#define FIT_CLASSES 4

static block_head *shared_take(uint32_t cls) {
    uint32_t last = cls;
    if (cls >= LOCAL_CLASSES) {
        last = cls + FIT_CLASSES;
        if (last >= N_CLASSES) last = N_CLASSES - 1;
    }
    pthread_mutex_lock(&g_cache_lock);
    block_head *h = NULL;
    for (uint32_t c = cls; !h && c <= last; c++) {
        h = g_cache[c];
        if (h) {
            g_cache[c] = h->next;
            g_cached_bytes -= h->bytes;
        }
    }
    pthread_mutex_unlock(&g_cache_lock);
    return h;
}

/* Empties a thread's cache into the shared one (to_shared) or to free(). */
static void local_cache_drop(local_cache *lc, bool to_shared) {
    for (int c = 0; c < LOCAL_CLASSES; c++) {
        block_head *h = lc->head[c];
        while (h) {
            block_head *next = h->next;
            if (to_shared) {
                shared_put(h);
            } else {
                UNPOISON(user_of(h), h->bytes - HEAD);
                free(h);
            }
            h = next;
        }
        lc->head[c] = NULL;
        lc->count[c] = 0;
    }
    lc->bytes = 0;
}

/* This thread's cache, current with the last flush; NULL when it cannot
 * be made (then only the shared cache is used). */
static local_cache *local(void) {
    local_cache *lc = tl_cache;
    if (DC_UNLIKELY(!lc)) {
        if (g_cache_cap == 0) return NULL;
        lc = calloc(1, sizeof *lc);
        if (!lc) return NULL;
        if (pthread_setspecific(g_local_key, lc) != 0) {
            free(lc);
            return NULL;
        }
        lc->generation = atomic_load_explicit(&g_generation, memory_order_acquire);
        tl_cache = lc;
    }
    unsigned gen = atomic_load_explicit(&g_generation, memory_order_acquire);
    if (DC_UNLIKELY(lc->generation != gen)) {
        /* flushed meanwhile (dc_set_allocator): these blocks go to free() */
        local_cache_drop(lc, false);
        lc->generation = gen;
    }
    return lc;
}

static void *cached_malloc(size_t size) {
    /* NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result): 2 * 64 */
    if (size > SIZE_MAX - 2 * HEAD) return NULL;
    pthread_once(&g_cache_once, cache_init);
    size_t bytes;
    uint32_t cls = size_class(size + HEAD, &bytes);
    block_head *h = NULL;
    if (cls < LOCAL_CLASSES) {
        local_cache *lc = local();
        if (lc && lc->head[cls]) {
            h = lc->head[cls];
            lc->head[cls] = h->next;
            lc->count[cls]--;
            lc->bytes -= h->bytes;
        }
    }
    if (!h && cls != UNCACHED) h = shared_take(cls);
    if (h) {
        UNPOISON(user_of(h), h->bytes - HEAD);   /* may be a larger class */
        h->next = NULL;
        return user_of(h);
    }
    void *raw = NULL;
    if (posix_memalign(&raw, HEAD, bytes) != 0) return NULL;
    atomic_fetch_add(&g_system_allocs, 1);
    h = raw;
    h->cls = cls;
    h->magic = HEAD_MAGIC;
    h->bytes = bytes;
    h->next = NULL;
    return user_of(h);
}

static void cached_free(void *p) {
    block_head *h = head_of(p);
    if (h->cls == UNCACHED) {
        free(h);
        return;
    }
    POISON(p, h->bytes - HEAD);
    if (h->cls < LOCAL_CLASSES) {
        local_cache *lc = local();
        if (lc && lc->count[h->cls] < LOCAL_MAX) {
            h->next = lc->head[h->cls];
            lc->head[h->cls] = h;
            lc->count[h->cls]++;
            lc->bytes += h->bytes;
            return;
        }
    }
    shared_put(h);
}

/* Bytes a block can hold (its size less the header). */
static size_t cached_usable(void *p) {
    return head_of(p)->bytes - HEAD;
}

void dc__alloc_cache_flush(void) {
    /* Other threads drop their own caches when they next allocate. */
    atomic_fetch_add_explicit(&g_generation, 1, memory_order_acq_rel);
    if (tl_cache) local_cache_drop(tl_cache, false);
    pthread_mutex_lock(&g_cache_lock);
    for (int c = 0; c < N_CLASSES; c++) {
        block_head *h = g_cache[c];
        while (h) {
            block_head *next = h->next;
            UNPOISON(user_of(h), h->bytes - HEAD);
            free(h);
            h = next;
        }
        g_cache[c] = NULL;
    }
    g_cached_bytes = 0;
    pthread_mutex_unlock(&g_cache_lock);
}

int64_t dc__alloc_system_count(void) { return (int64_t)atomic_load(&g_system_allocs); }

size_t dc__alloc_cached_bytes(void) {
    pthread_mutex_lock(&g_cache_lock);
    size_t n = g_cached_bytes;
    pthread_mutex_unlock(&g_cache_lock);
    local_cache *lc = tl_cache;
    bool current = lc && lc->generation == atomic_load(&g_generation);
    return n + (current ? lc->bytes : 0);
}

/* ---------------------------------------------------------------- */
/* The library's allocator                                           */
/* ---------------------------------------------------------------- */

dc_status dc_set_allocator(dc_malloc_fn malloc_fn, dc_realloc_fn realloc_fn,
                           dc_free_fn free_fn, void *ctx) {
    bool all_null = !malloc_fn && !realloc_fn && !free_fn;
    if (!all_null && (!malloc_fn || !realloc_fn || !free_fn))
        return dc__fail(DC_E_INVALID,
                        "dc_set_allocator: give all three functions or none");
    long long live = live_count();
    if (live != 0)
        return dc__fail(DC_E_STATE, "dc_set_allocator: %lld library allocations are alive",
                        live);
    /* Blocks waiting in the cache came from malloc: give them back before
     * another allocator takes over (and on every call, so that setting the
     * default again also returns the memory). */
    dc__alloc_cache_flush();
    g_malloc = all_null ? default_malloc : malloc_fn;
    g_realloc = all_null ? default_realloc : realloc_fn;
    g_free = all_null ? default_free : free_fn;
    g_ctx = all_null ? NULL : ctx;
    return DC_OK;
}

int64_t dc_live_allocations(void) { return (int64_t)live_count(); }

void *dc__malloc(size_t size) {
    void *p = cache_on() ? cached_malloc(size ? size : 1) : g_malloc(size ? size : 1, g_ctx);
    if (!p) {
        dc__fail(DC_E_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
    live_add(1);
    return p;
}

void *dc__calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) {
        dc__fail(DC_E_OVERFLOW, "allocation of %zu x %zu bytes overflows",
                 count, size);
        return NULL;
    }
    void *p = dc__malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *dc__realloc(void *ptr, size_t size) {
    if (!ptr) return dc__malloc(size);
    if (cache_on()) {
        size_t have = cached_usable(ptr);
        if (size > 0 && size <= have) return ptr;
        void *p = cached_malloc(size ? size : 1);
        if (!p) {
            dc__fail(DC_E_NOMEM, "out of memory reallocating to %zu bytes", size);
            return NULL;
        }
        memcpy(p, ptr, have < size ? have : size);
        cached_free(ptr);
        return p;
    }
    void *p = g_realloc(ptr, size ? size : 1, g_ctx);
    if (!p) {
        dc__fail(DC_E_NOMEM, "out of memory reallocating to %zu bytes", size);
        return NULL;
    }
    return p;
}

void dc__free(void *ptr) {
    if (!ptr) return;
    live_add(-1);
    if (cache_on()) cached_free(ptr);
    else g_free(ptr, g_ctx);
}
