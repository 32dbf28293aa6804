/* Modules: refcounts, named parameters and buffers, children, the
 * flattened state dict, training mode. Layers live in their own units. */
#include "module.h"

#include <stdio.h>
#include <string.h>

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

dc_module *dc__module_new(const dc_module_vtable *vt, size_t impl_size) {
    dc_module *m = dc__calloc(1, sizeof *m);
    if (!m) return NULL;
    if (impl_size > 0 && !(m->impl = dc__calloc(1, impl_size))) {
        dc__free(m);
        return NULL;
    }
    m->magic = DC_MODULE_MAGIC;
    atomic_init(&m->refcount, 1);
    m->vt = vt;
    m->training = true;
    return m;
}

static void free_flat(dc_module *m) {
    for (int64_t i = 0; i < m->n_flat; i++) dc__free(m->flat[i].name);
    dc__free(m->flat);
    m->flat = NULL;
    m->n_flat = 0;
}

static dc_status flat_push(dc_state_entry **list, int64_t *n, const char *prefix,
                           const dc_state_entry *e) {
    dc_state_entry *grown = dc__realloc(*list, (size_t)(*n + 1) * sizeof **list);
    if (!grown) return DC_E_NOMEM;
    *list = grown;
    size_t len = strlen(prefix) + strlen(e->name) + 1;
    char *name = dc__malloc(len);
    if (!name) return DC_E_NOMEM;
    snprintf(name, len, "%s%s", prefix, e->name);
    (*list)[*n] = (dc_state_entry){name, e->tensor, e->is_param};
    (*n)++;
    return DC_OK;
}

/* PyTorch's state_dict order: own parameters, own buffers, then each child
 * in order with "name." in front of its (already flattened) entries. */
static dc_status rebuild_flat(dc_module *m) {
    dc_state_entry *list = NULL;
    int64_t n = 0;
    dc_status st = DC_OK;
    for (int pass = 0; pass < 2 && st == DC_OK; pass++)
        for (int64_t i = 0; i < m->n_own && st == DC_OK; i++)
            if (m->own[i].is_param == (pass == 0)) st = flat_push(&list, &n, "", &m->own[i]);
    for (int64_t c = 0; c < m->n_children && st == DC_OK; c++) {
        const dc_module *ch = m->children[c].module;
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s.", m->children[c].name);
        for (int64_t i = 0; i < ch->n_flat && st == DC_OK; i++)
            st = flat_push(&list, &n, prefix, &ch->flat[i]);
    }
    if (st != DC_OK) {
        for (int64_t i = 0; i < n; i++) dc__free(list[i].name);
        dc__free(list);
        return st;
    }
    free_flat(m);
    m->flat = list;
    m->n_flat = n;
    return DC_OK;
}

static dc_status add_state(dc_module *m, const char *name, dc_tensor *t, bool is_param) {
    if (!t) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_state_entry *grown = dc__realloc(m->own, (size_t)(m->n_own + 1) * sizeof *grown);
    char *copy = grown ? dup_string(name) : NULL;
    if (grown) m->own = grown;
    if (!copy) {
        dc_release(t);
        return DC_E_NOMEM;
    }
    if (is_param) t->requires_grad = true;
    m->own[m->n_own++] = (dc_state_entry){copy, t, is_param};
    return rebuild_flat(m);
}

dc_status dc__module_add_param(dc_module *m, const char *name, dc_tensor *t) {
    return add_state(m, name, t, true);
}

dc_status dc__module_add_buffer(dc_module *m, const char *name, dc_tensor *t) {
    return add_state(m, name, t, false);
}

dc_status dc__module_add_child(dc_module *m, const char *name, dc_module *child) {
    if (m->n_parents > 0)
        return dc__fail(DC_E_STATE, "a module inside a container cannot gain children");
    if (child == m) return dc__fail(DC_E_INVALID, "a module cannot contain itself");
    dc_child_entry *grown = dc__realloc(m->children,
                                        (size_t)(m->n_children + 1) * sizeof *grown);
    if (!grown) return DC_E_NOMEM;
    m->children = grown;
    char *copy = dup_string(name);
    if (!copy) return DC_E_NOMEM;
    m->children[m->n_children++] = (dc_child_entry){copy, dc_module_retain(child)};
    child->n_parents++;
    dc_status st = rebuild_flat(m);
    if (st != DC_OK) {
        m->n_children--;
        child->n_parents--;
        dc_module_release(child);
        dc__free(copy);
    }
    return st;
}

dc_tensor *dc__module_own(const dc_module *m, const char *name) {
    for (int64_t i = 0; i < m->n_own; i++)
        if (strcmp(m->own[i].name, name) == 0) return m->own[i].tensor;
    return NULL;
}

/* ---------------------------------------------------------------- */
/* Public API                                                        */
/* ---------------------------------------------------------------- */

dc_module *dc_module_retain(dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_retain", NULL);
    atomic_fetch_add(&m->refcount, 1);
    return m;
}

void dc_module_release(dc_module *m) {
    if (!m) return;
    if (!dc__is_module(m)) {
        dc__fail(DC_E_INVALID, "dc_module_release: not a live module (released twice?)");
        return;
    }
    if (!dc__drop_ref(&m->refcount)) return;
    free_flat(m);
    for (int64_t i = 0; i < m->n_own; i++) {
        dc__free(m->own[i].name);
        dc_release(m->own[i].tensor);
    }
    dc__free(m->own);
    for (int64_t i = 0; i < m->n_children; i++) {
        dc__free(m->children[i].name);
        m->children[i].module->n_parents--;
        dc_module_release(m->children[i].module);
    }
    dc__free(m->children);
    if (m->vt && m->vt->destroy_impl && m->impl) m->vt->destroy_impl(m->impl);
    dc__free(m->impl);
    m->magic = 0;
    dc__free(m);
}

const char *dc_module_kind(const dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_kind", NULL);
    return m->vt->kind;
}

dc_tensor *dc_module_forward(dc_module *m, dc_tensor *x) {
    DC_CHECK_MODULE(m, "dc_module_forward", NULL);
    DC_CHECK_TENSOR_OR_NULL(x, "dc_module_forward", "x");
    if (!m->vt->forward) {
        dc__fail(DC_E_UNSUPPORTED, "dc_module_forward: a %s has a forward function of its own",
                 m->vt->kind);
        return NULL;
    }
    return m->vt->forward(m, x);
}

dc_status dc_module_set_training(dc_module *m, int training) {
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "dc_module_set_training: not a live module");
    m->training = training != 0;
    for (int64_t i = 0; i < m->n_children; i++)
        dc_module_set_training(m->children[i].module, training);
    return DC_OK;
}

int dc_module_is_training(const dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_is_training", -1);
    return m->training;
}

int64_t dc_module_state_count(const dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_state_count", -1);
    return m->n_flat;
}

static bool state_index_ok(const dc_module *m, int64_t i, const char *func) {
    if (!dc__is_module(m)) {
        if (!m) dc__null_input(func, "module");
        else dc__fail(DC_E_INVALID, "%s: not a live module", func);
        return false;
    }
    if (i < 0 || i >= m->n_flat) {
        dc__fail(DC_E_RANGE, "%s: index %lld is outside 0..%lld", func, (long long)i,
                 (long long)m->n_flat - 1);
        return false;
    }
    return true;
}

const char *dc_module_state_name(const dc_module *m, int64_t i) {
    return state_index_ok(m, i, "dc_module_state_name") ? m->flat[i].name : NULL;
}

int dc_module_state_is_param(const dc_module *m, int64_t i) {
    return state_index_ok(m, i, "dc_module_state_is_param") ? m->flat[i].is_param : -1;
}

dc_tensor *dc_module_state_tensor(dc_module *m, int64_t i) {
    if (!state_index_ok(m, i, "dc_module_state_tensor")) return NULL;
    return dc__publish(dc_retain(m->flat[i].tensor));
}

dc_tensor *dc_module_state_find(dc_module *m, const char *name) {
    DC_CHECK_MODULE(m, "dc_module_state_find", NULL);
    if (!name) {
        dc__fail(DC_E_INVALID, "dc_module_state_find: 'name' is NULL");
        return NULL;
    }
    for (int64_t i = 0; i < m->n_flat; i++)
        if (strcmp(m->flat[i].name, name) == 0) return dc__publish(dc_retain(m->flat[i].tensor));
    dc__fail(DC_E_RANGE, "dc_module_state_find: a %s has no entry '%s'", m->vt->kind, name);
    return NULL;
}

static bool trainable(const dc_state_entry *e) { return e->is_param && e->tensor->requires_grad; }

int64_t dc_module_param_count(const dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_param_count", -1);
    int64_t n = 0;
    for (int64_t i = 0; i < m->n_flat; i++) n += trainable(&m->flat[i]);
    return n;
}

dc_tensor *dc_module_param(dc_module *m, int64_t i) {
    DC_CHECK_MODULE(m, "dc_module_param", NULL);
    for (int64_t k = 0, seen = 0; k < m->n_flat; k++)
        if (trainable(&m->flat[k]) && seen++ == i)
            return dc__publish(dc_retain(m->flat[k].tensor));
    dc__fail(DC_E_RANGE, "dc_module_param: index %lld is outside the %lld trainable parameters",
             (long long)i, (long long)dc_module_param_count(m));
    return NULL;
}

int64_t dc_module_child_count(const dc_module *m) {
    DC_CHECK_MODULE(m, "dc_module_child_count", -1);
    return m->n_children;
}

static bool child_index_ok(const dc_module *m, int64_t i, const char *func) {
    if (!dc__is_module(m)) {
        if (!m) dc__null_input(func, "module");
        else dc__fail(DC_E_INVALID, "%s: not a live module", func);
        return false;
    }
    if (i < 0 || i >= m->n_children) {
        dc__fail(DC_E_RANGE, "%s: child %lld is outside 0..%lld", func, (long long)i,
                 (long long)m->n_children - 1);
        return false;
    }
    return true;
}

dc_module *dc_module_child(dc_module *m, int64_t i) {
    return child_index_ok(m, i, "dc_module_child") ? dc_module_retain(m->children[i].module)
                                                   : NULL;
}

const char *dc_module_child_name(const dc_module *m, int64_t i) {
    return child_index_ok(m, i, "dc_module_child_name") ? m->children[i].name : NULL;
}
