/* Internal shape of modules: what a layer implementation registers. */
#ifndef DEEPCORE_MODULE_H
#define DEEPCORE_MODULE_H

#include "../core/internal.h"

#include <pthread.h>

#define DC_MODULE_MAGIC 0x44434d31u  /* "DCM1" */

typedef struct dc_module_vtable {
    const char *kind;     /* PyTorch's class name: "Linear" */
    /* One input, one output. NULL: dc_module_forward is DC_E_UNSUPPORTED
     * (the module has a forward function of its own, e.g. dc_rnn_forward). */
    dc_tensor *(*forward)(dc_module *m, dc_tensor *x);
    /* Frees what impl points to (not impl itself). May be NULL. */
    void (*destroy_impl)(void *impl);
} dc_module_vtable;

typedef struct dc_state_entry {
    char *name;           /* full dotted name in flat lists, local in own */
    dc_tensor *tensor;    /* own: one reference; flat: borrowed */
    bool is_param;
} dc_state_entry;

typedef struct dc_child_entry {
    char *name;
    dc_module *module;    /* one reference */
} dc_child_entry;

struct dc_module {
    uint32_t magic;
    atomic_int refcount;
    const dc_module_vtable *vt;
    bool training;
    int n_parents;        /* containers holding it: its structure is frozen */
    dc_state_entry *own;  /* parameters first, then buffers */
    int64_t n_own;
    dc_child_entry *children;
    int64_t n_children;
    dc_state_entry *flat; /* the whole state dict, PyTorch order */
    int64_t n_flat;
    void *impl;           /* layer configuration, zeroed, impl_size bytes */
};

static inline bool dc__is_module(const dc_module *m) {
    return m != NULL && m->magic == DC_MODULE_MAGIC;
}

/* A module of that kind in training mode, with impl_size zeroed bytes of
 * configuration. Owned by the caller. */
dc_module *dc__module_new(const dc_module_vtable *vt, size_t impl_size);
/* Registers a parameter (requires grad is set) or buffer under a local
 * name; takes over the caller's reference to t, also on failure. */
dc_status dc__module_add_param(dc_module *m, const char *name, dc_tensor *t);
dc_status dc__module_add_buffer(dc_module *m, const char *name, dc_tensor *t);
/* Adds a child under a name; the module takes its own reference. Fails
 * (DC_E_STATE) when m already sits inside a container. */
dc_status dc__module_add_child(dc_module *m, const char *name, dc_module *child);
/* The own entry of that local name (borrowed), or NULL. */
dc_tensor *dc__module_own(const dc_module *m, const char *name);
/* Child by index (borrowed). */
static inline dc_module *dc__module_child_at(const dc_module *m, int64_t i) {
    return m->children[i].module;
}

/* Guard for the top of public module functions. */
#define DC_CHECK_MODULE(m, func, ret)                                        \
    do {                                                                     \
        if (!dc__is_module(m)) {                                             \
            if (!(m)) dc__null_input(func, "module");                        \
            else dc__fail(DC_E_INVALID, "%s: not a live module", func);      \
            return ret;                                                      \
        }                                                                    \
    } while (0)

#endif
