/* LeNet-5 and a small ResNet of basic blocks.
 *
 * LeNet-5 is a plain Sequential, numbered as PyTorch's nn.Sequential of
 * the same layers. The ResNet follows torchvision's module tree and names
 * (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc) with a CIFAR
 * style stem: a 3x3 stride-1 convolution and no max pooling, since the
 * images are small. */
#include "../nn/module.h"

#include <stdio.h>

/* Appends child to seq and drops the caller's reference to it (also on
 * failure). A NULL child (its constructor failed) keeps that error. */
static dc_status append_owned(dc_module *seq, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc_sequential_append(seq, child);
    dc_module_release(child);
    return st;
}

/* Adds child to m under name and drops the caller's reference (also on
 * failure). */
static dc_status add_owned_child(dc_module *m, const char *name, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc__module_add_child(m, name, child);
    dc_module_release(child);
    return st;
}

/* Runs fn(m, x) in a private scope and publishes its result. */
static dc_tensor *in_private_scope(dc_tensor *(*fn)(dc_module *, dc_tensor *), dc_module *m,
                                   dc_tensor *x) {
    dc_scope *s = dc_scope_begin();
    if (!s) return NULL;
    dc_tensor *y = dc_retain(fn(m, x));
    dc_scope_end(s);
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* LeNet-5                                                           */
/* ---------------------------------------------------------------- */

dc_module *dc_zoo_lenet5_new(int64_t in_channels, int64_t num_classes, dc_rng *rng) {
    if (in_channels < 1 || num_classes < 1) {
        dc__fail(DC_E_INVALID, "dc_zoo_lenet5_new: in_channels (%lld) and num_classes (%lld) "
                 "must be >= 1", (long long)in_channels, (long long)num_classes);
        return NULL;
    }
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    /* (N, C, 28, 28) -> conv pad 2 -> 6x28x28 -> pool -> 6x14x14 -> conv
     * -> 16x10x10 -> pool -> 16x5x5 -> flatten 400 -> 120 -> 84 -> classes */
    dc_module *layers[] = {
        dc_conv2d_new(in_channels, 6, 5, 1, 2, 1, 1, 1, rng),    /* 0 */
        dc_activation_new(DC_ACT_RELU, 0.0),                     /* 1 */
        dc_max_pool2d_new(2, 2, 0),                              /* 2 */
        dc_conv2d_new(6, 16, 5, 1, 0, 1, 1, 1, rng),             /* 3 */
        dc_activation_new(DC_ACT_RELU, 0.0),                     /* 4 */
        dc_max_pool2d_new(2, 2, 0),                              /* 5 */
        dc_flatten_new(1, -1),                                   /* 6 */
        dc_linear_new(400, 120, 1, rng),                         /* 7 */
        dc_activation_new(DC_ACT_RELU, 0.0),                     /* 8 */
        dc_linear_new(120, 84, 1, rng),                          /* 9 */
        dc_activation_new(DC_ACT_RELU, 0.0),                     /* 10 */
        dc_linear_new(84, num_classes, 1, rng),                  /* 11 */
    };
    int n = (int)(sizeof layers / sizeof layers[0]);
    dc_status st = DC_OK;
    for (int i = 0; i < n; i++) {
        if (st == DC_OK) st = append_owned(seq, layers[i]);
        else dc_module_release(layers[i]);
    }
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

/* ---------------------------------------------------------------- */
/* ResNet                                                            */
/* ---------------------------------------------------------------- */

enum { BLOCK_CONV1, BLOCK_BN1, BLOCK_CONV2, BLOCK_BN2, BLOCK_DOWNSAMPLE };

/* Runs in the caller's scope.
 * x: (N, in, H, W) -> (N, out, H / stride, W / stride):
 * relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) */
static dc_tensor *basic_block_compute(dc_module *m, dc_tensor *x) {
    dc_tensor *y = dc_module_forward(dc__module_child_at(m, BLOCK_CONV1), x);
    y = dc_relu(dc_module_forward(dc__module_child_at(m, BLOCK_BN1), y));
    y = dc_module_forward(dc__module_child_at(m, BLOCK_CONV2), y);
    y = dc_module_forward(dc__module_child_at(m, BLOCK_BN2), y);
    dc_tensor *shortcut = x;
    if (m->n_children > BLOCK_DOWNSAMPLE)
        shortcut = dc_module_forward(dc__module_child_at(m, BLOCK_DOWNSAMPLE), x);
    return dc_relu(dc_add(y, shortcut));
}

static dc_tensor *basic_block_forward(dc_module *m, dc_tensor *x) {
    return in_private_scope(basic_block_compute, m, x);
}

static const dc_module_vtable basic_block_vt = {"BasicBlock", basic_block_forward, NULL};

/* A bias-free square convolution initialised as torchvision does:
 * kaiming_normal_(mode="fan_out", nonlinearity="relu"). */
static dc_module *resnet_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                              dc_rng *rng) {
    dc_module *conv = dc_conv2d_new(in, out, kernel, stride, kernel / 2, 1, 1, 0, rng);
    if (!conv) return NULL;
    if (dc_init_kaiming_normal(dc__module_own(conv, "weight"), 0.0, 1, rng) != DC_OK) {
        dc_module_release(conv);
        return NULL;
    }
    return conv;
}

static dc_module *batch_norm(int64_t c) { return dc_batch_norm2d_new(c, 1e-5, 0.1); }

/* The 1x1 convolution and batch norm of a shortcut that changes shape. */
static dc_module *downsample_new(int64_t in, int64_t out, int64_t stride, dc_rng *rng) {
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    dc_status st = append_owned(seq, resnet_conv(in, out, 1, stride, rng));
    if (st == DC_OK) st = append_owned(seq, batch_norm(out));
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

static dc_module *basic_block_new(int64_t in, int64_t out, int64_t stride, dc_rng *rng) {
    dc_module *m = dc__module_new(&basic_block_vt, 0);
    if (!m) return NULL;
    dc_status st = add_owned_child(m, "conv1", resnet_conv(in, out, 3, stride, rng));
    if (st == DC_OK) st = add_owned_child(m, "bn1", batch_norm(out));
    if (st == DC_OK) st = add_owned_child(m, "conv2", resnet_conv(out, out, 3, 1, rng));
    if (st == DC_OK) st = add_owned_child(m, "bn2", batch_norm(out));
    if (st == DC_OK && (stride != 1 || in != out))
        st = add_owned_child(m, "downsample", downsample_new(in, out, stride, rng));
    if (st != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}

/* One stage: n blocks, the first one taking in channels at the stride. */
static dc_module *stage_new(int64_t in, int64_t out, int64_t stride, int n, dc_rng *rng) {
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    dc_status st = DC_OK;
    for (int b = 0; b < n && st == DC_OK; b++)
        st = append_owned(seq, basic_block_new(b == 0 ? in : out, out, b == 0 ? stride : 1, rng));
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}

/* Children: conv1, bn1, layer1 .. layerN, fc (the last one). */
enum { RESNET_CONV1, RESNET_BN1, RESNET_FIRST_STAGE };

/* Runs in the caller's scope. x: (N, in, H, W) -> (N, classes) */
static dc_tensor *resnet_compute(dc_module *m, dc_tensor *x) {
    dc_tensor *y = dc_module_forward(dc__module_child_at(m, RESNET_CONV1), x);
    y = dc_relu(dc_module_forward(dc__module_child_at(m, RESNET_BN1), y));
    int64_t fc = m->n_children - 1;
    for (int64_t i = RESNET_FIRST_STAGE; i < fc; i++)
        y = dc_module_forward(dc__module_child_at(m, i), y);
    y = dc_flatten(dc_adaptive_avg_pool2d(y, 1, 1), 1, 3);
    return dc_module_forward(dc__module_child_at(m, fc), y);
}

static dc_tensor *resnet_forward(dc_module *m, dc_tensor *x) {
    return in_private_scope(resnet_compute, m, x);
}

static const dc_module_vtable resnet_vt = {"ResNet", resnet_forward, NULL};

static bool resnet_args_ok(int64_t in_channels, int64_t num_classes, int64_t width,
                           const int *blocks_per_stage, int n_stages) {
    const char *f = "dc_zoo_resnet_new";
    if (in_channels < 1 || num_classes < 1 || width < 1) {
        dc__fail(DC_E_INVALID, "%s: in_channels (%lld), num_classes (%lld) and width (%lld) "
                 "must be >= 1", f, (long long)in_channels, (long long)num_classes,
                 (long long)width);
        return false;
    }
    if (!blocks_per_stage) {
        dc__fail(DC_E_INVALID, "%s: 'blocks_per_stage' is NULL", f);
        return false;
    }
    if (n_stages < 1) {
        dc__fail(DC_E_INVALID, "%s: n_stages is %d; at least one stage is needed", f,
                 n_stages);
        return false;
    }
    for (int s = 0; s < n_stages; s++) {
        if (blocks_per_stage[s] < 1) {
            dc__fail(DC_E_INVALID, "%s: stage %d has %d blocks; each needs at least one", f,
                     s + 1, blocks_per_stage[s]);
            return false;
        }
    }
    /* The last stage has width * 2^(n_stages - 1) channels. */
    if (n_stages > 62 || width > INT64_MAX >> (n_stages - 1)) {
        dc__fail(DC_E_OVERFLOW, "%s: width %lld doubled over %d stages is too large", f,
                 (long long)width, n_stages);
        return false;
    }
    return true;
}

dc_module *dc_zoo_resnet_new(int64_t in_channels, int64_t num_classes, int64_t width,
                             const int *blocks_per_stage, int n_stages, dc_rng *rng) {
    if (!resnet_args_ok(in_channels, num_classes, width, blocks_per_stage, n_stages))
        return NULL;
    dc_module *m = dc__module_new(&resnet_vt, 0);
    if (!m) return NULL;
    dc_status st = add_owned_child(m, "conv1", resnet_conv(in_channels, width, 3, 1, rng));
    if (st == DC_OK) st = add_owned_child(m, "bn1", batch_norm(width));
    int64_t channels = width;
    for (int s = 0; s < n_stages && st == DC_OK; s++) {
        int64_t out = s == 0 ? width : channels * 2;
        char name[24];
        snprintf(name, sizeof name, "layer%d", s + 1);
        st = add_owned_child(m, name, stage_new(channels, out, s == 0 ? 1 : 2,
                                                blocks_per_stage[s], rng));
        channels = out;
    }
    if (st == DC_OK) st = add_owned_child(m, "fc", dc_linear_new(channels, num_classes, 1, rng));
    if (st != DC_OK) {
        dc_module_release(m);
        return NULL;
    }
    return m;
}
