/* The one allocator of the library. A caller may replace it
 * (dc_set_allocator), which embedders want and which makes out-of-memory
 * paths testable. A live-allocation counter backs leak checks. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *ctx) { (void)ctx; return malloc(size); }
static void *default_realloc(void *p, size_t size, void *ctx) { (void)ctx; return realloc(p, size); }
static void default_free(void *p, void *ctx) { (void)ctx; free(p); }

/* Set once by the embedder before objects exist; read by every thread. */
static dc_malloc_fn g_malloc = default_malloc;
static dc_realloc_fn g_realloc = default_realloc;
static dc_free_fn g_free = default_free;
static void *g_ctx = NULL;
static atomic_llong g_live = 0;

dc_status dc_set_allocator(dc_malloc_fn malloc_fn, dc_realloc_fn realloc_fn,
                           dc_free_fn free_fn, void *ctx) {
    bool all_null = !malloc_fn && !realloc_fn && !free_fn;
    if (!all_null && (!malloc_fn || !realloc_fn || !free_fn))
        return dc__fail(DC_E_INVALID,
                        "dc_set_allocator: give all three functions or none");
    if (atomic_load(&g_live) != 0)
        return dc__fail(DC_E_STATE,
                        "dc_set_allocator: %lld library allocations are alive",
                        (long long)atomic_load(&g_live));
    g_malloc = all_null ? default_malloc : malloc_fn;
    g_realloc = all_null ? default_realloc : realloc_fn;
    g_free = all_null ? default_free : free_fn;
    g_ctx = all_null ? NULL : ctx;
    return DC_OK;
}

int64_t dc_live_allocations(void) { return (int64_t)atomic_load(&g_live); }

void *dc__malloc(size_t size) {
    void *p = g_malloc(size ? size : 1, g_ctx);
    if (!p) {
        dc__fail(DC_E_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
    atomic_fetch_add(&g_live, 1);
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
    void *p = g_realloc(ptr, size ? size : 1, g_ctx);
    if (!p) {
        dc__fail(DC_E_NOMEM, "out of memory reallocating to %zu bytes", size);
        return NULL;
    }
    return p;
}

void dc__free(void *ptr) {
    if (!ptr) return;
    atomic_fetch_sub(&g_live, 1);
    g_free(ptr, g_ctx);
}
