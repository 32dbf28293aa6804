/* Training checkpoints: one safetensors file holding
 *   "model.<state name>"   the module's state dict,
 *   "optim.<state name>"   the optimizer's state tensors,
 * and metadata
 *   "format"               "libdeepcore-checkpoint-1",
 *   "step"                 the caller's step number (decimal),
 *   "sched_last_epoch"     the schedule position (decimal),
 *   "rng_state"            4 generator words, 16 hex digits each, joined by ',',
 *   "optim_groups"         the number of parameter groups,
 *   "optim_lr_<g>"         each group's learning rate (%.17g: exact).
 * Only the parts whose object is given are saved; loading requires the
 * parts whose object is given. */
#include "st_internal.h"
#include "../nn/module.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_FORMAT "libdeepcore-checkpoint-1"
#define CKPT_MAX_META 8     /* format, step, sched, rng, groups + lrs */

/* Names, tensors and metadata gathered for dc_safetensors_save; strings
 * and tensor references are owned here. */
typedef struct ckpt_items {
    int64_t n, cap;
    char **names;
    dc_tensor **tensors;
    int64_t n_meta, cap_meta;
    char **keys, **values;
} ckpt_items;

static void items_free(ckpt_items *it) {
    for (int64_t i = 0; i < it->n; i++) {
        dc__free(it->names[i]);
        dc_release(it->tensors[i]);
    }
    for (int64_t i = 0; i < it->n_meta; i++) {
        dc__free(it->keys[i]);
        dc__free(it->values[i]);
    }
    dc__free(it->names);
    dc__free(it->tensors);
    dc__free(it->keys);
    dc__free(it->values);
}

static char *dup_printf(const char *fmt, ...) DC_PRINTF(1, 2);
static char *dup_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        dc__fail(DC_E_INTERNAL, "formatting failed");
        return NULL;
    }
    char *s = dc__malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Adds prefix + name with a reference to t (taken over, also on failure). */
static dc_status add_tensor(ckpt_items *it, const char *prefix, const char *name, dc_tensor *t) {
    if (!t) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    if (it->n == it->cap) {
        int64_t cap = it->cap ? 2 * it->cap : 16;
        char **nn = dc__realloc(it->names, (size_t)cap * sizeof *nn);
        if (nn) it->names = nn;
        dc_tensor **nt = nn ? dc__realloc(it->tensors, (size_t)cap * sizeof *nt) : NULL;
        if (nt) it->tensors = nt;
        if (!nn || !nt) {
            dc_release(t);
            return DC_E_NOMEM;
        }
        it->cap = cap;
    }
    char *full = dup_printf("%s%s", prefix, name);
    if (!full) {
        dc_release(t);
        return dc_last_status();
    }
    it->names[it->n] = full;
    it->tensors[it->n++] = t;
    return DC_OK;
}

/* Adds a metadata pair; value is taken over (NULL: a failed format). */
static dc_status add_meta(ckpt_items *it, char *key, char *value) {
    if (!key || !value || it->n_meta == it->cap_meta) {
        dc__free(key);
        dc__free(value);
        return key && value ? dc__fail(DC_E_INTERNAL, "checkpoint: too many metadata entries")
                            : dc_last_status();
    }
    it->keys[it->n_meta] = key;
    it->values[it->n_meta++] = value;
    return DC_OK;
}

static dc_status gather_optim(ckpt_items *it, dc_optim *opt) {
    int64_t n = dc_optim_state_count(opt);
    int groups = dc_optim_group_count(opt);
    if (n < 0 || groups < 0) return dc_last_status();
    dc_status s = DC_OK;
    for (int64_t i = 0; i < n && s == DC_OK; i++) {
        const char *name = dc_optim_state_name(opt, i);
        if (!name) return dc_last_status();
        /* the state tensor comes published: take it out of any scope */
        dc_scope *scope = dc_scope_begin();
        dc_tensor *t = dc_retain(dc_optim_state_tensor(opt, i));
        dc_scope_end(scope);
        s = add_tensor(it, "optim.", name, t);
    }
    if (s != DC_OK) return s;
    /* The lrs go last: the metadata array was sized for them. */
    char **keys = dc__realloc(it->keys, (size_t)(CKPT_MAX_META + groups) * sizeof *keys);
    if (keys) it->keys = keys;
    char **values = keys ? dc__realloc(it->values, (size_t)(CKPT_MAX_META + groups) * sizeof *values)
                         : NULL;
    if (values) it->values = values;
    if (!keys || !values) return DC_E_NOMEM;
    it->cap_meta = CKPT_MAX_META + groups;
    s = add_meta(it, dup_printf("optim_groups"), dup_printf("%d", groups));
    for (int g = 0; g < groups && s == DC_OK; g++) {
        double lr = dc_optim_get_lr(opt, g);
        if (isnan(lr)) return dc_last_status();
        s = add_meta(it, dup_printf("optim_lr_%d", g), dup_printf("%.17g", lr));
    }
    return s;
}

static dc_status gather(ckpt_items *it, dc_module *m, dc_optim *opt, dc_sched *sched,
                        dc_rng *rng, int64_t step) {
    it->keys = dc__malloc(CKPT_MAX_META * sizeof *it->keys);
    it->values = dc__malloc(CKPT_MAX_META * sizeof *it->values);
    if (!it->keys || !it->values) return DC_E_NOMEM;
    it->cap_meta = CKPT_MAX_META;
    dc_status s = add_meta(it, dup_printf("format"), dup_printf(CKPT_FORMAT));
    if (s == DC_OK) s = add_meta(it, dup_printf("step"), dup_printf("%lld", (long long)step));
    if (s == DC_OK && sched) {
        int64_t epoch = dc_sched_last_epoch(sched);
        if (epoch < 0) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
        s = add_meta(it, dup_printf("sched_last_epoch"), dup_printf("%lld", (long long)epoch));
    }
    if (s == DC_OK && rng) {
        uint64_t w[4];
        s = dc_rng_get_state(rng, w);
        if (s == DC_OK)
            s = add_meta(it, dup_printf("rng_state"),
                         dup_printf("%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64,
                                    w[0], w[1], w[2], w[3]));
    }
    for (int64_t i = 0; i < m->n_flat && s == DC_OK; i++)
        s = add_tensor(it, "model.", m->flat[i].name, dc_retain(m->flat[i].tensor));
    if (s == DC_OK && opt) s = gather_optim(it, opt);
    return s;
}

dc_status dc_checkpoint_save(const char *path, dc_module *m, dc_optim *opt, dc_sched *sched,
                             dc_rng *rng, int64_t step) {
    const char *F = "dc_checkpoint_save";
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "%s: 'module' is %s", F, m ? "not a live module" : "NULL");
    if (!path) return dc__fail(DC_E_INVALID, "%s: 'path' is NULL", F);
    ckpt_items it = {0};
    dc_status s = gather(&it, m, opt, sched, rng, step);
    if (s == DC_OK)
        s = dc_safetensors_save(path, (const char *const *)it.names, it.tensors, it.n,
                                (const char *const *)it.keys, (const char *const *)it.values,
                                it.n_meta);
    items_free(&it);
    return s;
}

/* ---------------------------------------------------------------- */
/* Loading                                                           */
/* ---------------------------------------------------------------- */

/* A metadata value that must be present. */
static const char *need_meta(const dc_safetensors *st, const char *key, const char *func) {
    const char *v = dc_safetensors_metadata(st, key);
    if (!v) dc__fail(DC_E_FORMAT, "%s: the checkpoint has no '%s' metadata", func, key);
    return v;
}

static dc_status parse_i64(const char *v, const char *key, int64_t lo, int64_t *out,
                           const char *func) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo)
        return dc__fail(DC_E_FORMAT, "%s: metadata '%s' is '%.40s', not an integer >= %lld", func,
                        key, v, (long long)lo);
    *out = x;
    return DC_OK;
}

/* 4 words of 16 hex digits joined by ','. */
static dc_status parse_rng(const char *v, uint64_t w[4], const char *func) {
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int k = 0; k < 16; k++, v++) {
            int d = *v >= '0' && *v <= '9'   ? *v - '0'
                    : *v >= 'a' && *v <= 'f' ? *v - 'a' + 10
                    : *v >= 'A' && *v <= 'F' ? *v - 'A' + 10
                                             : -1;
            if (d < 0) goto bad;
            x = x << 4 | (uint64_t)d;
        }
        if (*v != (i < 3 ? ',' : '\0')) goto bad;
        v++;
        w[i] = x;
    }
    if (!(w[0] | w[1] | w[2] | w[3])) goto bad;   /* xoshiro's one bad state */
    return DC_OK;
bad:
    return dc__fail(DC_E_FORMAT, "%s: metadata 'rng_state' is not 4 words of 16 hex digits",
                    func);
}

/* Everything read and checked before anything changes. */
typedef struct ckpt_load {
    int64_t step, epoch;
    uint64_t rng[4];
    int groups;
    double *lrs;
    int64_t n_optim;
    const char **optim_names;   /* borrowed from the file, without "optim." */
    dc_tensor **optim_tensors;  /* owned */
    dc__st_plan plan;
} ckpt_load;

static void load_free(ckpt_load *l) {
    dc__free(l->lrs);
    for (int64_t i = 0; i < l->n_optim; i++) dc_release(l->optim_tensors[i]);
    dc__free(l->optim_names);
    dc__free(l->optim_tensors);
    dc__st_plan_free(&l->plan);
}

static dc_status read_lrs(ckpt_load *l, const dc_safetensors *st, dc_optim *opt,
                          const char *func) {
    const char *v = need_meta(st, "optim_groups", func);
    int64_t groups = 0;
    if (!v || parse_i64(v, "optim_groups", 0, &groups, func) != DC_OK) return dc_last_status();
    int have = dc_optim_group_count(opt);
    if (have < 0) return dc_last_status();
    if (groups != have)
        return dc__fail(DC_E_FORMAT, "%s: the checkpoint has %lld parameter groups, the optimizer %d",
                        func, (long long)groups, have);
    l->groups = have;
    l->lrs = dc__malloc((size_t)(have ? have : 1) * sizeof *l->lrs);
    if (!l->lrs) return DC_E_NOMEM;
    for (int g = 0; g < have; g++) {
        char key[32];
        snprintf(key, sizeof key, "optim_lr_%d", g);
        if (!(v = need_meta(st, key, func))) return dc_last_status();
        char *end;
        double lr = strtod(v, &end);
        if (end == v || *end != '\0' || !(lr >= 0) || isinf(lr))
            return dc__fail(DC_E_FORMAT, "%s: metadata '%s' is '%.40s', not a learning rate", func,
                            key, v);
        l->lrs[g] = lr;
    }
    return DC_OK;
}

/* The "optim." tensors of the file; every state entry the optimizer
 * already has must be among them (else resuming would mix states). */
static dc_status read_optim_state(ckpt_load *l, const dc_safetensors *st, dc_optim *opt,
                                  const char *func) {
    int64_t n = dc_safetensors_count(st);
    l->optim_names = dc__malloc((size_t)(n ? n : 1) * sizeof *l->optim_names);
    l->optim_tensors = dc__malloc((size_t)(n ? n : 1) * sizeof *l->optim_tensors);
    if (!l->optim_names || !l->optim_tensors) return DC_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        const char *name = dc_safetensors_name(st, i);
        if (strncmp(name, "optim.", 6) != 0) continue;
        dc_scope *scope = dc_scope_begin();
        dc_tensor *t = dc_retain(dc_safetensors_get(st, name));
        dc_scope_end(scope);
        if (!t) return dc_last_status();
        l->optim_names[l->n_optim] = name + 6;
        l->optim_tensors[l->n_optim++] = t;
    }
    int64_t have = dc_optim_state_count(opt);
    if (have < 0) return dc_last_status();
    for (int64_t i = 0; i < have; i++) {
        const char *name = dc_optim_state_name(opt, i);
        if (!name) return dc_last_status();
        bool found = false;
        for (int64_t k = 0; k < l->n_optim && !found; k++)
            found = strcmp(l->optim_names[k], name) == 0;
        if (!found)
            return dc__fail(DC_E_FORMAT, "%s: the checkpoint has no optimizer state 'optim.%.80s'",
                            func, name);
    }
    return DC_OK;
}

static dc_status read_all(ckpt_load *l, const dc_safetensors *st, dc_module *m, dc_optim *opt,
                          dc_sched *sched, dc_rng *rng, bool want_step, const char *func) {
    const char *v = need_meta(st, "format", func);
    if (!v) return dc_last_status();
    if (strcmp(v, CKPT_FORMAT) != 0)
        return dc__fail(DC_E_FORMAT, "%s: format '%.40s' is not '%s'", func, v, CKPT_FORMAT);
    if (want_step) {
        if (!(v = need_meta(st, "step", func))) return dc_last_status();
        if (parse_i64(v, "step", INT64_MIN, &l->step, func) != DC_OK) return dc_last_status();
    }
    if (sched) {
        if (!(v = need_meta(st, "sched_last_epoch", func))) return dc_last_status();
        if (parse_i64(v, "sched_last_epoch", 0, &l->epoch, func) != DC_OK) return dc_last_status();
    }
    if (rng) {
        if (!(v = need_meta(st, "rng_state", func))) return dc_last_status();
        if (parse_rng(v, l->rng, func) != DC_OK) return dc_last_status();
    }
    dc_status s = DC_OK;
    if (opt) {
        s = read_lrs(l, st, opt, func);
        if (s == DC_OK) s = read_optim_state(l, st, opt, func);
        if (s != DC_OK) return s;
    }
    return dc__st_plan_module(&l->plan, m, st, "model.", 1, func);
}

/* The optimizer state is the one part that can fail while being applied
 * (dc_optim_state_load checks names and shapes), so it goes first and the
 * module is only changed after it succeeded. */
static dc_status apply(const ckpt_load *l, dc_optim *opt, dc_sched *sched, dc_rng *rng,
                       int64_t *step) {
    dc_status s = DC_OK;
    for (int64_t i = 0; opt && i < l->n_optim && s == DC_OK; i++)
        s = dc_optim_state_load(opt, l->optim_names[i], l->optim_tensors[i]);
    if (s == DC_OK && sched) s = dc_sched_set_last_epoch(sched, l->epoch);
    /* After the schedule: the saved rates are the exact ones. */
    for (int g = 0; opt && g < l->groups && s == DC_OK; g++) s = dc_optim_set_lr(opt, g, l->lrs[g]);
    if (s == DC_OK && rng) s = dc_rng_set_state(rng, l->rng);
    if (s != DC_OK) return s;
    dc__st_plan_apply(&l->plan);
    if (step) *step = l->step;
    return DC_OK;
}

dc_status dc_checkpoint_load(const char *path, dc_module *m, dc_optim *opt, dc_sched *sched,
                             dc_rng *rng, int64_t *step) {
    const char *F = "dc_checkpoint_load";
    if (!dc__is_module(m))
        return dc__fail(DC_E_INVALID, "%s: 'module' is %s", F, m ? "not a live module" : "NULL");
    dc_safetensors *st = dc__st_open(path, F);
    if (!st) return dc_last_status();
    ckpt_load l;
    memset(&l, 0, sizeof l);
    dc_status s = read_all(&l, st, m, opt, sched, rng, step != NULL, F);
    if (s == DC_OK) s = apply(&l, opt, sched, rng, step);
    load_free(&l);
    dc_safetensors_close(st);
    return s;
}
