/* Scopes: per-thread autorelease pools for the tensors of a step. */
#include "internal.h"

#include <string.h>

#define DC_SCOPE_MAGIC 0x44435331u  /* "DCS1" */

/* A scope holds its first SCOPE_INLINE tensors in itself: most scopes
 * (one per backward function, one per op made of other ops) hold a few,
 * and then opening one is a single allocation from the block cache. */
#define SCOPE_INLINE 16

struct dc_scope {
    uint32_t magic;
    dc_scope *parent;
    dc_tensor **items;                 /* inline_items, or a heap array */
    size_t count, cap;
    dc_tensor *inline_items[SCOPE_INLINE];
};

static _Thread_local DC_TLS_FAST dc_scope *tl_top = NULL;

dc_scope *dc_scope_begin(void) {
    dc_scope *s = dc__malloc(sizeof *s);
    if (!s) return NULL;
    s->magic = DC_SCOPE_MAGIC;
    s->items = s->inline_items;
    s->count = 0;
    s->cap = SCOPE_INLINE;
    s->parent = tl_top;
    tl_top = s;
    return s;
}

bool dc__scope_is_open(void) { return tl_top != NULL; }

bool dc__scope_adopt(dc_tensor *t) {
    dc_scope *s = tl_top;
    if (!s) return true;
    if (s->count == s->cap) {
        size_t cap = s->cap * 4;
        bool was_inline = s->items == s->inline_items;
        dc_tensor **items = dc__realloc(was_inline ? NULL : s->items, cap * sizeof *items);
        if (!items) return false;
        if (was_inline) memcpy(items, s->inline_items, sizeof s->inline_items);
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = t;
    return true;
}

static void scope_destroy(dc_scope *s) {
    for (size_t i = s->count; i > 0; i--) dc_release(s->items[i - 1]);
    if (s->items != s->inline_items) dc__free(s->items);
    s->magic = 0;
    dc__free(s);
}

dc_status dc_scope_end(dc_scope *scope) {
    if (!scope) return dc__fail(DC_E_INVALID, "dc_scope_end: 'scope' is NULL");
    dc_scope *s = tl_top;
    while (s && s != scope) s = s->parent;
    if (!s)
        return dc__fail(DC_E_STATE,
                        "dc_scope_end: the scope is not open on this thread");
    /* Ends the scopes opened inside it too, innermost first. */
    for (;;) {
        dc_scope *top = tl_top;
        tl_top = top->parent;
        scope_destroy(top);
        if (top == scope) break;
    }
    return DC_OK;
}

dc_tensor *dc_autorelease(dc_tensor *t) {
    if (!dc__is_tensor(t)) {
        if (t) dc__fail(DC_E_INVALID, "dc_autorelease: not a live tensor");
        else dc__null_input("dc_autorelease", "t");
        return NULL;
    }
    return dc__publish(t);
}
