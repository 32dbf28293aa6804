/* Layers of one input and one output, and Sequential. */
#include "../core/internal.h"

dc_module * dc_linear_new(int64_t in_features, int64_t out_features, int bias, dc_rng *rng) {
    (void)in_features;
    (void)out_features;
    (void)bias;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_conv1d_new(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation, int64_t groups, int bias, dc_rng *rng) {
    (void)in_channels;
    (void)out_channels;
    (void)kernel;
    (void)stride;
    (void)padding;
    (void)dilation;
    (void)groups;
    (void)bias;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_conv2d_new(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation, int64_t groups, int bias, dc_rng *rng) {
    (void)in_channels;
    (void)out_channels;
    (void)kernel;
    (void)stride;
    (void)padding;
    (void)dilation;
    (void)groups;
    (void)bias;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_max_pool2d_new(int64_t kernel, int64_t stride, int64_t padding) {
    (void)kernel;
    (void)stride;
    (void)padding;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_avg_pool2d_new(int64_t kernel, int64_t stride, int64_t padding) {
    (void)kernel;
    (void)stride;
    (void)padding;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_adaptive_avg_pool2d_new(int64_t out_h, int64_t out_w) {
    (void)out_h;
    (void)out_w;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_batch_norm1d_new(int64_t features, double eps, double momentum) {
    (void)features;
    (void)eps;
    (void)momentum;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_batch_norm2d_new(int64_t features, double eps, double momentum) {
    (void)features;
    (void)eps;
    (void)momentum;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_layer_norm_new(int64_t features, double eps, int elementwise_affine) {
    (void)features;
    (void)eps;
    (void)elementwise_affine;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_dropout_new(double p) {
    (void)p;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_embedding_new(int64_t num_embeddings, int64_t embedding_dim, dc_rng *rng) {
    (void)num_embeddings;
    (void)embedding_dim;
    (void)rng;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_flatten_new(int start_axis, int end_axis) {
    (void)start_axis;
    (void)end_axis;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_activation_new(dc_activation kind, double param) {
    (void)kind;
    (void)param;
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_module * dc_sequential_new(void) {
    dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
    return NULL;
}

dc_status dc_sequential_append(dc_module *seq, dc_module *child) {
    (void)seq;
    (void)child;
    return dc__fail(DC_E_UNSUPPORTED, "%s: STUB not written yet", __func__);
}
