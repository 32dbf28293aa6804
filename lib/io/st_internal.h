/* Shared by safetensors.c and checkpoint.c: reading a module's state from
 * a parsed file in two phases, so that nothing changes when it fails. */
#ifndef DEEPCORE_IO_ST_INTERNAL_H
#define DEEPCORE_IO_ST_INTERNAL_H

#include "../core/internal.h"

/* The copies a load will make: dst[i] (live module tensors) from src[i]
 * (tensors read from the file, same shape, any dtype). The tensors are
 * owned by the scope open while the plan is made. */
typedef struct dc__st_plan {
    int64_t n;
    dc_tensor **dst;
    dc_tensor **src;
} dc__st_plan;

/* Phase 1, inside a scope of the caller: matches the module's state
 * entries with the file's entries named prefix + state name. strict:
 * every state entry must be in the file and every file entry under prefix
 * in the module (DC_E_FORMAT naming the first that is not); shapes must
 * match (DC_E_SHAPE). Nothing is modified. */
dc_status dc__st_plan_module(dc__st_plan *plan, dc_module *m, const dc_safetensors *st,
                             const char *prefix, int strict, const char *func);
/* Phase 2: makes the copies; cannot fail. */
void dc__st_plan_apply(const dc__st_plan *plan);
void dc__st_plan_free(dc__st_plan *plan);

/* Opens path, with errors prefixed by func. */
dc_safetensors *dc__st_open(const char *path, const char *func);

#endif
