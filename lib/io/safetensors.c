/* safetensors reading and writing. */
#include "../core/internal.h"

dc_safetensors * dc_safetensors_open(const char *path) {
    (void)path;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_safetensors * dc_safetensors_from_buffer(const void *data, size_t size) {
    (void)data;
    (void)size;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

void dc_safetensors_close(dc_safetensors *st) {
    (void)st;
}

int64_t dc_safetensors_count(const dc_safetensors *st) {
    (void)st;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return -1;
}

const char * dc_safetensors_name(const dc_safetensors *st, int64_t i) {
    (void)st;
    (void)i;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_tensor * dc_safetensors_get(const dc_safetensors *st, const char *name) {
    (void)st;
    (void)name;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

const char * dc_safetensors_metadata(const dc_safetensors *st, const char *key) {
    (void)st;
    (void)key;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_safetensors_save(const char *path, const char *const *names, dc_tensor *const *tensors, int64_t n, const char *const *meta_keys, const char *const *meta_values, int64_t n_meta) {
    (void)path;
    (void)names;
    (void)tensors;
    (void)n;
    (void)meta_keys;
    (void)meta_values;
    (void)n_meta;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_module_save(dc_module *m, const char *path) {
    (void)m;
    (void)path;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_module_load(dc_module *m, const char *path, int strict) {
    (void)m;
    (void)path;
    (void)strict;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}

dc_status dc_module_load_buffer(dc_module *m, const void *data, size_t size, int strict) {
    (void)m;
    (void)data;
    (void)size;
    (void)strict;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
