/* Layers (lib/nn/layers.c) against PyTorch 1.13: for each case of
 * tests/fixtures/gen_layers.py the module gets PyTorch's weights by
 * state_dict name, runs the same steps, and its output, the gradients of
 * the input and of every parameter (of sum(w * out)) and its state after
 * the steps must match PyTorch's in f32. Then initialisation, train/eval
 * switching, freezing, containers and refcounts, and bad input for every
 * constructor and forward. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* f32 comparisons (round 2 notes): 1e-5 relative, 1e-6 absolute. */
#define RTOL 1e-5
#define ATOL 1e-6

static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static double *values_of(dc_tensor *t) {
    int64_t n = dc_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    TU_OK(dc_copy_to(t, DC_F64, v, (size_t)n * sizeof *v));
    return v;
}

/* got equals n floats of the fixture, within the f32 tolerance. */
static void assert_matches(dc_tensor *got, const float *want, int64_t n, const char *what) {
    ck_assert_msg(got != NULL, "%s is NULL: %s", what, dc_last_error());
    ck_assert_msg(dc_numel(got) == n, "%s: %lld elements, wanted %lld", what,
                  (long long)dc_numel(got), (long long)n);
    double *g = values_of(got);
    for (int64_t i = 0; i < n; i++) {
        double w = want[i];
        if (fabs(g[i] - w) > ATOL + RTOL * fabs(w)) {
            double gi = g[i];
            free(g);
            ck_abort_msg("%s, element %lld: got %.9g, PyTorch %.9g", what, (long long)i, gi, w);
        }
    }
    free(g);
}

/* ---------------------------------------------------------------- */
/* Cases compared with PyTorch                                       */
/* ---------------------------------------------------------------- */

typedef struct torch_case {
    const char *name;             /* fixtures layers_<name>.f32 / .names */
    dc_module *(*make)(void);
    int training;
    int steps;
    dc_dtype xdtype;
    int xnd;
    int64_t xshape[4];
    int ond;
    int64_t oshape[4];
    const char *names[6];         /* state_dict keys, NULL-terminated */
} torch_case;

static dc_module *mk_linear(void) { return dc_linear_new(4, 3, 1, NULL); }
static dc_module *mk_linear_nobias(void) { return dc_linear_new(4, 3, 0, NULL); }
static dc_module *mk_conv1d(void) { return dc_conv1d_new(4, 6, 3, 2, 1, 1, 2, 1, NULL); }
static dc_module *mk_conv2d(void) { return dc_conv2d_new(4, 6, 3, 2, 1, 1, 2, 1, NULL); }
static dc_module *mk_conv2d_dilated(void) { return dc_conv2d_new(3, 4, 2, 1, 0, 2, 1, 0, NULL); }
static dc_module *mk_max_pool(void) { return dc_max_pool2d_new(3, 2, 1); }
static dc_module *mk_avg_pool(void) { return dc_avg_pool2d_new(3, 2, 1); }
static dc_module *mk_avg_pool_k2(void) { return dc_avg_pool2d_new(2, 0, 0); }
static dc_module *mk_adaptive(void) { return dc_adaptive_avg_pool2d_new(3, 2); }
static dc_module *mk_bn1d(void) { return dc_batch_norm1d_new(4, 1e-5, 0.1); }
static dc_module *mk_bn1d_m3(void) { return dc_batch_norm1d_new(4, 1e-5, 0.3); }
static dc_module *mk_bn2d_train(void) { return dc_batch_norm2d_new(3, 1e-3, 0.2); }
static dc_module *mk_bn2d(void) { return dc_batch_norm2d_new(3, 1e-5, 0.1); }
static dc_module *mk_layer_norm(void) { return dc_layer_norm_new(5, 1e-5, 1); }
static dc_module *mk_layer_norm_plain(void) { return dc_layer_norm_new(5, 1e-5, 0); }
static dc_module *mk_embedding(void) { return dc_embedding_new(10, 4, NULL); }
static dc_module *mk_flatten(void) { return dc_flatten_new(1, -1); }
static dc_module *mk_flatten01(void) { return dc_flatten_new(0, 1); }
static dc_module *mk_relu(void) { return dc_activation_new(DC_ACT_RELU, 0); }
static dc_module *mk_sigmoid(void) { return dc_activation_new(DC_ACT_SIGMOID, 0); }
static dc_module *mk_tanh(void) { return dc_activation_new(DC_ACT_TANH, 0); }
static dc_module *mk_gelu(void) { return dc_activation_new(DC_ACT_GELU, 0); }
static dc_module *mk_gelu_tanh(void) { return dc_activation_new(DC_ACT_GELU_TANH, 0); }
static dc_module *mk_silu(void) { return dc_activation_new(DC_ACT_SILU, 0); }
static dc_module *mk_leaky(void) { return dc_activation_new(DC_ACT_LEAKY_RELU, 0.2); }
static dc_module *mk_softmax1(void) { return dc_activation_new(DC_ACT_SOFTMAX, 1); }
static dc_module *mk_softmax_m1(void) { return dc_activation_new(DC_ACT_SOFTMAX, -1); }
static dc_module *mk_identity(void) { return dc_activation_new(DC_ACT_IDENTITY, 0); }

/* Linear(4, 8), ReLU, Dropout(0.5), Linear(8, 3), as gen_layers.py. */
static dc_module *mk_sequential(void) {
    dc_module *seq = dc_sequential_new();
    dc_module *parts[4] = {dc_linear_new(4, 8, 1, NULL), dc_activation_new(DC_ACT_RELU, 0),
                           dc_dropout_new(0.5), dc_linear_new(8, 3, 1, NULL)};
    for (int i = 0; i < 4; i++) {
        TU_NOTNULL(parts[i]);
        TU_OK(dc_sequential_append(seq, parts[i]));
        dc_module_release(parts[i]);
    }
    return seq;
}

#define WB {"weight", "bias", NULL}
#define BN {"weight", "bias", "running_mean", "running_var", "num_batches_tracked", NULL}
#define ACT(n, f) {n, f, 1, 1, DC_F32, 2, {3, 4}, 2, {3, 4}, {NULL}}

static const torch_case torch_cases[] = {
    {"linear2d", mk_linear, 1, 1, DC_F32, 2, {5, 4}, 2, {5, 3}, WB},
    {"linear3d", mk_linear, 1, 1, DC_F32, 3, {2, 3, 4}, 3, {2, 3, 3}, WB},
    {"linear_nobias", mk_linear_nobias, 1, 1, DC_F32, 2, {3, 4}, 2, {3, 3}, {"weight", NULL}},
    {"conv1d", mk_conv1d, 1, 1, DC_F32, 3, {2, 4, 9}, 3, {2, 6, 5}, WB},
    {"conv2d", mk_conv2d, 1, 1, DC_F32, 4, {2, 4, 7, 6}, 4, {2, 6, 4, 3}, WB},
    {"conv2d_dilated", mk_conv2d_dilated, 1, 1, DC_F32, 4, {1, 3, 6, 5}, 4, {1, 4, 4, 3},
     {"weight", NULL}},
    {"max_pool2d", mk_max_pool, 1, 1, DC_F32, 4, {2, 3, 7, 6}, 4, {2, 3, 4, 3}, {NULL}},
    {"avg_pool2d", mk_avg_pool, 1, 1, DC_F32, 4, {2, 3, 7, 6}, 4, {2, 3, 4, 3}, {NULL}},
    {"avg_pool2d_k2", mk_avg_pool_k2, 1, 1, DC_F32, 4, {1, 2, 5, 4}, 4, {1, 2, 2, 2}, {NULL}},
    {"adaptive_avg_pool2d", mk_adaptive, 1, 1, DC_F32, 4, {2, 3, 7, 5}, 4, {2, 3, 3, 2},
     {NULL}},
    {"batch_norm1d_train", mk_bn1d, 1, 2, DC_F32, 2, {6, 4}, 2, {6, 4}, BN},
    {"batch_norm1d_train3d", mk_bn1d_m3, 1, 2, DC_F32, 3, {3, 4, 5}, 3, {3, 4, 5}, BN},
    {"batch_norm1d_eval", mk_bn1d, 0, 1, DC_F32, 2, {6, 4}, 2, {6, 4}, BN},
    {"batch_norm2d_train", mk_bn2d_train, 1, 2, DC_F32, 4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}, BN},
    {"batch_norm2d_eval", mk_bn2d, 0, 1, DC_F32, 4, {2, 3, 4, 5}, 4, {2, 3, 4, 5}, BN},
    {"layer_norm", mk_layer_norm, 1, 1, DC_F32, 3, {2, 3, 5}, 3, {2, 3, 5}, WB},
    {"layer_norm_plain", mk_layer_norm_plain, 1, 1, DC_F32, 2, {4, 5}, 2, {4, 5}, {NULL}},
    {"embedding", mk_embedding, 1, 1, DC_I64, 2, {2, 3}, 3, {2, 3, 4}, {"weight", NULL}},
    {"flatten", mk_flatten, 1, 1, DC_F32, 3, {2, 3, 4}, 2, {2, 12}, {NULL}},
    {"flatten01", mk_flatten01, 1, 1, DC_F32, 3, {2, 3, 4}, 2, {6, 4}, {NULL}},
    {"sequential", mk_sequential, 0, 1, DC_F32, 2, {5, 4}, 2, {5, 3},
     {"0.weight", "0.bias", "3.weight", "3.bias", NULL}},
    ACT("act_relu", mk_relu),
    ACT("act_sigmoid", mk_sigmoid),
    ACT("act_tanh", mk_tanh),
    ACT("act_gelu", mk_gelu),
    ACT("act_gelu_tanh", mk_gelu_tanh),
    ACT("act_silu", mk_silu),
    ACT("act_leaky_relu", mk_leaky),
    ACT("act_softmax1", mk_softmax1),
    ACT("act_softmax_m1", mk_softmax_m1),
    ACT("act_identity", mk_identity),
};
#define N_TORCH_CASES ((int)(sizeof torch_cases / sizeof torch_cases[0]))

/* The keys in our state dict are the case's list, and the same as
 * PyTorch's (the .names fixture). */
static int check_names(dc_module *m, const torch_case *c) {
    int n = 0;
    size_t bytes = 0;
    while (c->names[n]) bytes += strlen(c->names[n++]) + 1;
    ck_assert_int_eq(dc_module_state_count(m), n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(dc_module_state_name(m, i), c->names[i]);
    if (n > 0) {
        char file[96];
        snprintf(file, sizeof file, "layers_%s.names", c->name);
        char *text = tu_read_fixture(file, bytes);
        for (int i = 0, at = 0; i < n; i++) {
            size_t len = strlen(c->names[i]);
            ck_assert_msg(memcmp(text + at, c->names[i], len) == 0 && text[at + len] == '\n',
                          "PyTorch's key %d differs from '%s'", i, c->names[i]);
            at += (int)len + 1;
        }
        free(text);
    }
    return n;
}

static dc_tensor *input_from(const torch_case *c, const float *data) {
    dc_tensor *x = dc_empty(c->xdtype, c->xnd, c->xshape);
    TU_NOTNULL(x);
    int64_t n = numel_of(c->xnd, c->xshape);
    TU_OK(dc_copy_from(x, DC_F32, data, (size_t)n * sizeof(float)));
    if (c->xdtype == DC_F32) TU_OK(dc_set_requires_grad(x, 1));
    return x;
}

START_TEST(matches_torch) {
    const torch_case *c = &torch_cases[_i];
    dc_module *m = c->make();
    TU_NOTNULL(m);
    TU_OK(dc_module_set_training(m, c->training));
    int nstate = check_names(m, c);

    /* Sizes of the blob's parts, from the case and from our module. */
    dc_scope *s = dc_scope_begin();
    int64_t xn = numel_of(c->xnd, c->xshape), on = numel_of(c->ond, c->oshape);
    int64_t state_n = 0, param_n = 0;
    for (int i = 0; i < nstate; i++) {
        int64_t k = dc_numel(dc_module_state_tensor(m, i));
        state_n += k;
        if (dc_module_state_is_param(m, i)) param_n += k;
    }
    int has_xgrad = c->xdtype == DC_F32;
    int64_t total = c->steps * xn + 2 * state_n + 2 * on + (has_xgrad ? xn : 0) + param_n;
    char file[96];
    snprintf(file, sizeof file, "layers_%s.f32", c->name);
    float *blob = tu_read_fixture(file, (size_t)total * sizeof(float));
    const float *p = blob + c->steps * xn;

    /* PyTorch's weights into ours, by name. */
    for (int i = 0; i < nstate; i++) {
        dc_tensor *t = dc_module_state_find(m, c->names[i]);
        TU_NOTNULL(t);
        int64_t k = dc_numel(t);
        TU_OK(dc_copy_from(t, DC_F32, p, (size_t)k * sizeof(float)));
        p += k;
    }
    dc_tensor *w = dc_from_data(DC_F32, c->ond, c->oshape, p);
    p += on;

    dc_tensor *x = NULL, *y = NULL;
    for (int step = 0; step < c->steps; step++) {
        x = input_from(c, blob + step * xn);
        y = dc_module_forward(m, x);
        tu_assert_shape(y, c->ond, c->oshape);
        TU_OK(dc_backward(dc_sum(dc_mul(y, w), NULL, 0, 0), NULL, 0));
    }
    char what[128];
    snprintf(what, sizeof what, "%s: output", c->name);
    assert_matches(y, p, on, what);
    if (c->steps == 1 && c->xdtype == DC_F32) {
        /* the same input with transposed strides gives the same output */
        snprintf(what, sizeof what, "%s: output of a non-contiguous input", c->name);
        dc_tensor *xs = tu_noncontig(x);
        ck_assert(!dc_is_contiguous(xs));
        assert_matches(dc_module_forward(m, xs), p, on, what);
    }
    p += on;
    if (has_xgrad) {
        snprintf(what, sizeof what, "%s: input gradient", c->name);
        assert_matches(dc_grad(x), p, xn, what);
        p += xn;
    }
    for (int i = 0; i < nstate; i++) {
        if (!dc_module_state_is_param(m, i)) continue;
        dc_tensor *t = dc_module_state_tensor(m, i);
        snprintf(what, sizeof what, "%s: gradient of %s", c->name, c->names[i]);
        assert_matches(dc_grad(t), p, dc_numel(t), what);
        p += dc_numel(t);
    }
    for (int i = 0; i < nstate; i++) {
        dc_tensor *t = dc_module_state_tensor(m, i);
        snprintf(what, sizeof what, "%s: %s after the steps", c->name, c->names[i]);
        assert_matches(t, p, dc_numel(t), what);
        p += dc_numel(t);
    }
    ck_assert_ptr_eq(p, blob + total);
    free(blob);
    dc_scope_end(s);
    dc_module_release(m);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Kinds, names, initialisation                                      */
/* ---------------------------------------------------------------- */

START_TEST(kinds) {
    struct { dc_module *m; const char *kind; } k[] = {
        {dc_linear_new(2, 3, 1, NULL), "Linear"},
        {dc_conv1d_new(2, 4, 3, 1, 0, 1, 2, 1, NULL), "Conv1d"},
        {dc_conv2d_new(2, 4, 3, 1, 1, 1, 1, 0, NULL), "Conv2d"},
        {dc_max_pool2d_new(2, 0, 0), "MaxPool2d"},
        {dc_avg_pool2d_new(2, 0, 1), "AvgPool2d"},
        {dc_adaptive_avg_pool2d_new(1, 1), "AdaptiveAvgPool2d"},
        {dc_batch_norm1d_new(3, 1e-5, 0.1), "BatchNorm1d"},
        {dc_batch_norm2d_new(3, 1e-5, 0.1), "BatchNorm2d"},
        {dc_layer_norm_new(3, 1e-5, 1), "LayerNorm"},
        {dc_dropout_new(0.0), "Dropout"},
        {dc_embedding_new(5, 2, NULL), "Embedding"},
        {dc_flatten_new(1, -1), "Flatten"},
        {dc_activation_new(DC_ACT_RELU, 0), "ReLU"},
        {dc_activation_new(DC_ACT_SIGMOID, 0), "Sigmoid"},
        {dc_activation_new(DC_ACT_TANH, 0), "Tanh"},
        {dc_activation_new(DC_ACT_GELU, 0), "GELU"},
        {dc_activation_new(DC_ACT_GELU_TANH, 0), "GELU"},
        {dc_activation_new(DC_ACT_SILU, 0), "SiLU"},
        {dc_activation_new(DC_ACT_LEAKY_RELU, 0.01), "LeakyReLU"},
        {dc_activation_new(DC_ACT_SOFTMAX, -1), "Softmax"},
        {dc_activation_new(DC_ACT_IDENTITY, 0), "Identity"},
        {dc_sequential_new(), "Sequential"},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        TU_NOTNULL(k[i].m);
        ck_assert_str_eq(dc_module_kind(k[i].m), k[i].kind);
        ck_assert_int_eq(dc_module_is_training(k[i].m), 1);
        ck_assert_int_eq(dc_module_child_count(k[i].m), 0);
        dc_module_release(k[i].m);
    }
}
END_TEST

/* Shape, dtype and requires-grad of state entry i. */
static void assert_entry(dc_module *m, int64_t i, const char *name, int is_param, dc_dtype dt,
                         int ndim, const int64_t *shape) {
    ck_assert_str_eq(dc_module_state_name(m, i), name);
    ck_assert_int_eq(dc_module_state_is_param(m, i), is_param);
    dc_tensor *t = dc_module_state_tensor(m, i);
    tu_assert_shape(t, ndim, shape);
    ck_assert_int_eq(dc_tensor_dtype(t), dt);
    ck_assert_int_eq(dc_requires_grad(t), is_param);
    dc_release(t);
}

START_TEST(state_shapes) {
    dc_module *m = dc_conv2d_new(6, 9, 3, 1, 0, 1, 3, 1, NULL);
    TU_NOTNULL(m);
    assert_entry(m, 0, "weight", 1, DC_F32, 4, (int64_t[]){9, 2, 3, 3});
    assert_entry(m, 1, "bias", 1, DC_F32, 1, (int64_t[]){9});
    ck_assert_int_eq(dc_module_param_count(m), 2);
    dc_module_release(m);

    m = dc_conv1d_new(3, 6, 5, 1, 0, 1, 3, 0, NULL);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_state_count(m), 1);
    assert_entry(m, 0, "weight", 1, DC_F32, 3, (int64_t[]){6, 1, 5});
    dc_module_release(m);

    m = dc_batch_norm2d_new(3, 1e-5, 0.1);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_state_count(m), 5);
    ck_assert_int_eq(dc_module_param_count(m), 2);
    int64_t c = 3;
    assert_entry(m, 0, "weight", 1, DC_F32, 1, &c);
    assert_entry(m, 1, "bias", 1, DC_F32, 1, &c);
    assert_entry(m, 2, "running_mean", 0, DC_F32, 1, &c);
    assert_entry(m, 3, "running_var", 0, DC_F32, 1, &c);
    assert_entry(m, 4, "num_batches_tracked", 0, DC_I64, 0, NULL);
    const char *names[] = {"weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"};
    const double want[] = {1, 0, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        dc_tensor *t = dc_module_state_find(m, names[i]);
        double v[3] = {want[i], want[i], want[i]};
        tu_assert_values(t, v, i == 4 ? 1 : 3, 0, 0);
        dc_release(t);
    }
    dc_module_release(m);

    m = dc_layer_norm_new(4, 1e-5, 1);
    TU_NOTNULL(m);
    int64_t f = 4;
    assert_entry(m, 0, "weight", 1, DC_F32, 1, &f);
    assert_entry(m, 1, "bias", 1, DC_F32, 1, &f);
    dc_tensor *lw = dc_module_state_find(m, "weight"), *lb = dc_module_state_find(m, "bias");
    tu_assert_values(lw, (double[]){1, 1, 1, 1}, 4, 0, 0);
    tu_assert_values(lb, (double[]){0, 0, 0, 0}, 4, 0, 0);
    dc_release(lw);
    dc_release(lb);
    dc_module_release(m);

    m = dc_layer_norm_new(4, 1e-5, 0);
    TU_NOTNULL(m);
    ck_assert_int_eq(dc_module_state_count(m), 0);
    dc_module_release(m);

    m = dc_embedding_new(7, 3, NULL);
    TU_NOTNULL(m);
    assert_entry(m, 0, "weight", 1, DC_F32, 2, (int64_t[]){7, 3});
    dc_module_release(m);
}
END_TEST

/* min, max, mean and (population) variance of a tensor's values. */
typedef struct stats { double min, max, mean, var; } stats;
static stats stats_of(dc_tensor *t) {
    int64_t n = dc_numel(t);
    double *v = values_of(t);
    stats s = {INFINITY, -INFINITY, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
        s.mean += v[i] / (double)n;
    }
    for (int64_t i = 0; i < n; i++) s.var += (v[i] - s.mean) * (v[i] - s.mean) / (double)n;
    free(v);
    return s;
}

/* U(-b, b): inside the bound, reaching close to it, mean ~0 and variance
 * ~b^2/3 (n values: the standard error of the mean is b/sqrt(3n)). */
static void assert_uniform(dc_tensor *t, double b) {
    stats s = stats_of(t);
    double n = (double)dc_numel(t);
    ck_assert_msg(s.min >= -b && s.max <= b, "[%g, %g] leaves +-%g", s.min, s.max, b);
    ck_assert_msg(s.min < -0.9 * b && s.max > 0.9 * b, "[%g, %g] does not fill +-%g", s.min,
                  s.max, b);
    ck_assert_msg(fabs(s.mean) < 5 * b / sqrt(3 * n), "mean %g for bound %g", s.mean, b);
    ck_assert_msg(fabs(s.var / (b * b / 3) - 1) < 0.1, "variance %g, wanted %g", s.var,
                  b * b / 3);
}

START_TEST(init_linear_conv) {
    dc_rng *rng = dc_rng_new(11);
    dc_module *m = dc_linear_new(64, 48, 1, rng);
    TU_NOTNULL(m);
    dc_tensor *w = dc_module_state_find(m, "weight"), *b = dc_module_state_find(m, "bias");
    assert_uniform(w, 1.0 / 8);   /* kaiming_uniform(a=sqrt 5): 1/sqrt(fan_in) */
    stats sb = stats_of(b);
    ck_assert(sb.min >= -1.0 / 8 && sb.max <= 1.0 / 8 && sb.max - sb.min > 0.1);
    dc_release(w);
    dc_release(b);
    dc_module_release(m);

    /* fan_in = in / groups * k * k = 4 * 9 */
    m = dc_conv2d_new(8, 64, 3, 1, 0, 1, 2, 1, rng);
    TU_NOTNULL(m);
    w = dc_module_state_find(m, "weight");
    b = dc_module_state_find(m, "bias");
    assert_uniform(w, 1.0 / 6);
    sb = stats_of(b);
    ck_assert(sb.min >= -1.0 / 6 && sb.max <= 1.0 / 6 && sb.max - sb.min > 0.15);
    dc_release(w);
    dc_release(b);
    dc_module_release(m);

    /* fan_in = 2 * 25 */
    m = dc_conv1d_new(2, 80, 25, 1, 0, 1, 1, 0, rng);
    TU_NOTNULL(m);
    w = dc_module_state_find(m, "weight");
    assert_uniform(w, 1.0 / sqrt(50.0));
    dc_release(w);
    dc_module_release(m);
    dc_rng_free(rng);
}
END_TEST

/* A Linear (in -> out, with bias) run forward and backward on rows
 * random rows with a random output gradient. */
typedef struct lin_case {
    dc_rng *rng;
    dc_module *m;
    dc_tensor *x, *gy, *y, *w, *b;
    int64_t rows, in, out;
} lin_case;

static void lin_case_run(lin_case *c, uint64_t seed, int64_t rows, int64_t in, int64_t out) {
    *c = (lin_case){.rows = rows, .in = in, .out = out};
    c->rng = dc_rng_new(seed);
    c->m = dc_linear_new(in, out, 1, c->rng);
    TU_NOTNULL(c->m);
    c->x = dc_rand_normal(c->rng, DC_F32, 2, (const int64_t[]){rows, in}, 0.0, 1.0);
    c->gy = dc_rand_normal(c->rng, DC_F32, 2, (const int64_t[]){rows, out}, 0.0, 1.0);
    TU_OK(dc_set_requires_grad(c->x, 1));
    c->y = dc_module_forward(c->m, c->x);
    TU_NOTNULL(c->y);
    TU_OK(dc_backward(c->y, c->gy, 0));
    c->w = dc_module_state_find(c->m, "weight");
    c->b = dc_module_state_find(c->m, "bias");
}

static void lin_case_free(lin_case *c) {
    dc_tensor *t[6] = {c->w, c->b, c->y, c->x, c->gy, NULL};
    for (int i = 0; t[i]; i++) dc_release(t[i]);
    dc_module_release(c->m);
    dc_rng_free(c->rng);
}

/* The bias gradient against double sums of the output gradient's rows. */
static void assert_bias_grad(lin_case *c) {
    dc_tensor *gb = dc_grad(c->b);
    TU_NOTNULL(gb);
    const float *gyv = dc_data_ptr(c->gy), *gbv = dc_data_ptr(gb);
    for (int64_t j = 0; j < c->out; j++) {
        double sum = 0.0, mag = 0.0;
        for (int64_t r = 0; r < c->rows; r++) {
            sum += gyv[r * c->out + j];
            mag += fabs(gyv[r * c->out + j]);
        }
        ck_assert_msg(fabs(gbv[j] - sum) <= 1e-6 * mag, "bias grad %lld: %.9g, want %.9g",
                      (long long)j, gbv[j], sum);
    }
    dc_release(gb);
}

/* y = x w^T + b and its gradients for 600 rows, 130 outputs, on one
 * thread and two: the bias fills the output on the library's threads and
 * its gradient sums the rows by blocks of 256 on them (matmul.c), both
 * checked against double sums, and both thread counts give the same bits. */
static void linear_many_rows(int threads, float *out[4]) {
    TU_OK(dc_set_num_threads(threads));
    lin_case c;
    lin_case_run(&c, 21, 600, 40, 130);
    assert_bias_grad(&c);
    const float *xv = dc_data_ptr(c.x), *wv = dc_data_ptr(c.w), *bv = dc_data_ptr(c.b),
                *yv = dc_data_ptr(c.y);
    for (int64_t r = 0; r < 600; r += 7)
        for (int64_t j = 0; j < 130; j++) {
            double want = bv[j], mag = fabs(bv[j]);
            for (int64_t p = 0; p < 40; p++) {
                want += (double)xv[r * 40 + p] * wv[j * 40 + p];
                mag += fabs((double)xv[r * 40 + p] * wv[j * 40 + p]);
            }
            ck_assert_msg(fabs(yv[r * 130 + j] - want) <= 1e-5 * mag,
                          "y[%lld][%lld] = %.9g, want %.9g", (long long)r, (long long)j,
                          yv[r * 130 + j], want);
        }
    dc_tensor *keep[4] = {c.y, dc_grad(c.x), dc_grad(c.w), dc_grad(c.b)};
    size_t counts[4] = {600 * 130, 600 * 40, 130 * 40, 130};
    for (int i = 0; i < 4; i++) {
        out[i] = malloc(counts[i] * sizeof(float));
        memcpy(out[i], dc_data_ptr(keep[i]), counts[i] * sizeof(float));
        if (i > 0) dc_release(keep[i]);
    }
    lin_case_free(&c);
    TU_OK(dc_set_num_threads(0));
}

START_TEST(linear_many_rows_on_threads) {
    float *one[4], *two[4];
    linear_many_rows(1, one);
    linear_many_rows(2, two);
    size_t counts[4] = {600 * 130, 600 * 40, 130 * 40, 130};
    const char *names[4] = {"y", "grad x", "grad w", "grad b"};
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(memcmp(one[i], two[i], counts[i] * sizeof(float)) == 0,
                      "%s differs between one thread and two", names[i]);
        free(one[i]);
        free(two[i]);
    }
}
END_TEST

/* A bias gradient over 20001 rows: more than 64 blocks of 256, so the
 * blocks grow (313 rows, the last shorter); against double sums. */
START_TEST(linear_bias_grad_many_blocks) {
    lin_case c;
    lin_case_run(&c, 22, 20001, 3, 5);
    assert_bias_grad(&c);
    lin_case_free(&c);
}
END_TEST

START_TEST(init_embedding_normal) {
    dc_rng *rng = dc_rng_new(5);
    dc_module *m = dc_embedding_new(100, 40, rng);
    TU_NOTNULL(m);
    dc_tensor *w = dc_module_state_find(m, "weight");
    stats s = stats_of(w);   /* 4000 draws of N(0, 1) */
    ck_assert_msg(fabs(s.mean) < 0.08, "mean %g", s.mean);
    ck_assert_msg(fabs(sqrt(s.var) - 1) < 0.05, "std %g", sqrt(s.var));
    ck_assert(s.min < -2.5 && s.max > 2.5);
    dc_release(w);
    dc_module_release(m);
    dc_rng_free(rng);
}
END_TEST

/* Same seed, same weights; rng NULL draws from the thread's generator. */
START_TEST(init_reproducible) {
    dc_rng *rng = dc_rng_new(99);
    dc_module *a = dc_linear_new(5, 4, 1, rng);
    TU_OK(dc_rng_seed(rng, 99));
    dc_module *b = dc_linear_new(5, 4, 1, rng);
    dc_manual_seed(99);
    dc_module *c = dc_linear_new(5, 4, 1, NULL);
    dc_module *d = dc_linear_new(5, 4, 1, NULL);   /* later draws: different */
    TU_NOTNULL(a);
    TU_NOTNULL(b);
    TU_NOTNULL(c);
    TU_NOTNULL(d);
    dc_scope *s = dc_scope_begin();
    for (int i = 0; i < 2; i++) {
        tu_assert_close(dc_module_state_tensor(b, i), dc_module_state_tensor(a, i), 0, 0);
        tu_assert_close(dc_module_state_tensor(c, i), dc_module_state_tensor(a, i), 0, 0);
    }
    double *va = values_of(dc_module_state_tensor(a, 0));
    double *vd = values_of(dc_module_state_tensor(d, 0));
    ck_assert(memcmp(va, vd, 20 * sizeof *va) != 0);
    free(va);
    free(vd);
    dc_scope_end(s);
    dc_module_release(a);
    dc_module_release(b);
    dc_module_release(c);
    dc_module_release(d);
    dc_rng_free(rng);
}
END_TEST

/* Modules never live in scopes: one made inside a scope outlives it. */
START_TEST(made_inside_scope) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_linear_new(3, 2, 1, NULL);
    dc_module *bn = dc_batch_norm1d_new(2, 1e-5, 0.1);
    TU_NOTNULL(m);
    TU_NOTNULL(bn);
    TU_OK(dc_scope_end(s));
    s = dc_scope_begin();
    dc_tensor *x = tu_f32(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    dc_tensor *y = dc_module_forward(bn, dc_module_forward(m, x));
    tu_assert_shape(y, 2, (int64_t[]){2, 2});
    TU_OK(dc_scope_end(s));
    dc_module_release(m);
    dc_module_release(bn);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Train / eval, freezing                                            */
/* ---------------------------------------------------------------- */

START_TEST(dropout_train_eval) {
    dc_module *d = dc_dropout_new(0.25);
    TU_NOTNULL(d);
    dc_scope *s = dc_scope_begin();
    int64_t n = 4000;
    dc_tensor *x = dc_add_scalar(dc_rand_uniform(NULL, DC_F32, 1, &n, 0, 1), 0.5);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = dc_module_forward(d, x);
    TU_OK(dc_backward(dc_sum(y, NULL, 0, 0), NULL, 0));
    double *xv = values_of(x), *yv = values_of(y), *gv = values_of(dc_grad(x));
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) {
        if (yv[i] == 0) {
            zeros++;
            ck_assert(gv[i] == 0);
        } else {
            ck_assert(fabs(yv[i] - xv[i] / 0.75) <= 1e-6 * yv[i]);
            ck_assert(fabs(gv[i] - 1 / 0.75) <= 1e-6);
        }
    }
    /* 1000 expected, binomial std ~27 */
    ck_assert_msg(zeros > 850 && zeros < 1150, "%lld zeros of 4000", (long long)zeros);
    free(yv);
    free(gv);

    TU_OK(dc_module_set_training(d, 0));
    ck_assert_int_eq(dc_module_is_training(d), 0);
    tu_assert_values(dc_module_forward(d, x), xv, n, 0, 0);
    free(xv);
    dc_scope_end(s);
    dc_module_release(d);
}
END_TEST

/* Eval-mode batch norm normalises with the running statistics, which the
 * training steps left behind; it does not count batches. */
START_TEST(batch_norm_train_eval) {
    dc_module *bn = dc_batch_norm1d_new(2, 0.0, 1.0);   /* momentum 1: keep the last batch */
    TU_NOTNULL(bn);
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f32(2, (int64_t[]){4, 2}, (double[]){1, 10, 2, 20, 3, 30, 6, 60});
    dc_tensor *y = dc_module_forward(bn, x);
    /* channel 0: mean 3, biased var 3.5 -> (x - 3) / sqrt(3.5) */
    double r = 1 / sqrt(3.5);
    tu_assert_values(y, (double[]){-2 * r, -2 * r, -r, -r, 0, 0, 3 * r, 3 * r}, 8, 1e-6, 1e-5);
    dc_tensor *rm = dc_module_state_find(bn, "running_mean");
    dc_tensor *rv = dc_module_state_find(bn, "running_var");
    dc_tensor *nb = dc_module_state_find(bn, "num_batches_tracked");
    tu_assert_values(rm, (double[]){3, 30}, 2, 1e-6, 1e-6);
    tu_assert_values(rv, (double[]){14.0 / 3, 1400.0 / 3}, 2, 1e-6, 1e-5);   /* unbiased */
    tu_assert_values(nb, (double[]){1}, 1, 0, 0);

    TU_OK(dc_module_set_training(bn, 0));
    dc_tensor *z = dc_module_forward(bn, tu_f32(2, (int64_t[]){1, 2}, (double[]){5, 50}));
    double q = 2 / sqrt(14.0 / 3);
    tu_assert_values(z, (double[]){q, q}, 2, 1e-6, 1e-5);
    tu_assert_values(nb, (double[]){1}, 1, 0, 0);
    tu_assert_values(rm, (double[]){3, 30}, 2, 1e-6, 1e-6);

    TU_OK(dc_module_set_training(bn, 1));
    TU_NOTNULL(dc_module_forward(bn, x));
    tu_assert_values(nb, (double[]){2}, 1, 0, 0);
    dc_scope_end(s);
    dc_module_release(bn);
}
END_TEST

START_TEST(training_mode_reaches_children) {
    dc_module *seq = mk_sequential();
    dc_module *inner = dc_sequential_new();
    dc_module *bn = dc_batch_norm1d_new(3, 1e-5, 0.1);
    TU_OK(dc_sequential_append(inner, bn));
    TU_OK(dc_sequential_append(seq, inner));
    TU_OK(dc_module_set_training(seq, 0));
    ck_assert_int_eq(dc_module_is_training(bn), 0);
    for (int64_t i = 0; i < dc_module_child_count(seq); i++) {
        dc_module *ch = dc_module_child(seq, i);
        ck_assert_int_eq(dc_module_is_training(ch), 0);
        dc_module_release(ch);
    }
    TU_OK(dc_module_set_training(seq, 1));
    ck_assert_int_eq(dc_module_is_training(bn), 1);
    ck_assert_str_eq(dc_module_state_name(seq, 4), "4.0.weight");
    ck_assert_str_eq(dc_module_state_name(seq, 8), "4.0.num_batches_tracked");
    dc_module_release(bn);
    dc_module_release(inner);
    dc_module_release(seq);
}
END_TEST

START_TEST(freezing) {
    dc_module *seq = mk_sequential();
    ck_assert_int_eq(dc_module_param_count(seq), 4);
    dc_scope *s = dc_scope_begin();
    dc_tensor *w0 = dc_module_state_find(seq, "0.weight");
    TU_OK(dc_set_requires_grad(w0, 0));
    ck_assert_int_eq(dc_module_param_count(seq), 3);
    ck_assert_int_eq(dc_module_state_count(seq), 4);
    /* the first trainable parameter is now 0.bias */
    dc_tensor *p0 = dc_module_param(seq, 0);
    dc_tensor *b0 = dc_module_state_find(seq, "0.bias");
    ck_assert_ptr_eq(p0, b0);
    dc_tensor *x = tu_f32(2, (int64_t[]){2, 4}, (double[]){1, -2, 3, 0.5, -1, 2, 0.25, 1});
    TU_OK(dc_backward(dc_sum(dc_module_forward(seq, x), NULL, 0, 0), NULL, 0));
    TU_NULL_WITH(dc_grad(w0), DC_E_STATE);
    TU_NOTNULL(dc_grad(b0));
    TU_OK(dc_set_requires_grad(w0, 1));
    ck_assert_int_eq(dc_module_param_count(seq), 4);
    dc_scope_end(s);
    dc_module_release(seq);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Sequential and refcounts                                          */
/* ---------------------------------------------------------------- */

START_TEST(sequential_empty_and_nested) {
    dc_module *seq = dc_sequential_new();
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f32(1, (int64_t[]){3}, (double[]){1, 2, 3});
    dc_tensor *y = dc_module_forward(seq, x);   /* no children: the input */
    tu_assert_close(y, x, 0, 0);

    dc_module *inner = dc_sequential_new();
    dc_module *relu = dc_activation_new(DC_ACT_RELU, 0);
    dc_module *neg = dc_linear_new(3, 3, 0, NULL);
    dc_tensor *w = dc_module_state_find(neg, "weight");
    const float eye_neg[9] = {-1, 0, 0, 0, -1, 0, 0, 0, -1};
    TU_OK(dc_copy_from(w, DC_F32, eye_neg, sizeof eye_neg));
    TU_OK(dc_sequential_append(inner, neg));
    TU_OK(dc_sequential_append(inner, relu));
    TU_OK(dc_sequential_append(seq, inner));
    TU_OK(dc_sequential_append(seq, neg));   /* the same module twice */
    ck_assert_int_eq(dc_module_child_count(seq), 2);
    ck_assert_str_eq(dc_module_child_name(seq, 1), "1");
    ck_assert_int_eq(dc_module_state_count(seq), 2);
    ck_assert_str_eq(dc_module_state_name(seq, 0), "0.0.weight");
    ck_assert_str_eq(dc_module_state_name(seq, 1), "1.weight");
    /* -x, relu, -x of (1, -2, 3) */
    dc_tensor *z = dc_module_forward(seq, tu_f32(1, (int64_t[]){3}, (double[]){1, -2, 3}));
    tu_assert_values(z, (double[]){0, -2, 0}, 3, 0, 0);
    dc_scope_end(s);
    dc_module_release(relu);
    dc_module_release(neg);
    dc_module_release(inner);
    dc_module_release(seq);
}
END_TEST

/* A module in two containers lives until the last holder lets go, in
 * whatever order they are released. */
static void shared_module(int order) {
    dc_module *lin = dc_linear_new(2, 2, 1, NULL);
    dc_module *a = dc_sequential_new(), *b = dc_sequential_new();
    TU_OK(dc_sequential_append(a, lin));
    TU_OK(dc_sequential_append(b, lin));
    dc_module *held[3] = {lin, a, b};
    int perm[3][3] = {{0, 1, 2}, {1, 0, 2}, {2, 1, 0}};
    dc_module *last = NULL;
    for (int k = 0; k < 2; k++) dc_module_release(held[perm[order][k]]);
    last = held[perm[order][2]];
    /* what is left still works */
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_module_forward(last, tu_f32(1, (int64_t[]){2}, (double[]){1, 2}));
    tu_assert_shape(y, 1, (int64_t[]){2});
    ck_assert_int_eq(dc_module_state_count(last), 2);
    dc_scope_end(s);
    dc_module_release(last);
}

START_TEST(shared_in_two_sequentials) { shared_module(_i); }
END_TEST

START_TEST(child_reference) {
    dc_module *seq = mk_sequential();
    dc_module *c0 = dc_module_child(seq, 0);
    dc_module_release(seq);
    /* our reference keeps the child alive */
    ck_assert_str_eq(dc_module_kind(c0), "Linear");
    ck_assert_int_eq(dc_module_state_count(c0), 2);
    dc_module_release(c0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad input                                                         */
/* ---------------------------------------------------------------- */

static void message_has(const char *part) {
    ck_assert_msg(strstr(dc_last_error(), part) != NULL, "message '%s' lacks '%s'",
                  dc_last_error(), part);
}

START_TEST(bad_constructors) {
    TU_NULL_WITH(dc_linear_new(0, 3, 1, NULL), DC_E_INVALID);
    message_has("dc_linear_new");
    TU_NULL_WITH(dc_linear_new(3, -1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_linear_new(INT64_MAX, INT64_MAX, 1, NULL), DC_E_OVERFLOW);

    TU_NULL_WITH(dc_conv1d_new(0, 2, 3, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d_new(2, 2, 0, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d_new(2, 2, 3, 0, 0, 1, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d_new(2, 2, 3, 1, -1, 1, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d_new(2, 2, 3, 1, 0, 0, 1, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv1d_new(4, 6, 3, 1, 0, 1, 4, 1, NULL), DC_E_INVALID);
    message_has("groups");
    TU_NULL_WITH(dc_conv2d_new(3, 6, 3, 1, 0, 1, 2, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d_new(4, 6, 3, 1, 0, 1, 0, 1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_conv2d_new(4, 6, -3, 1, 0, 1, 1, 1, NULL), DC_E_INVALID);
    message_has("dc_conv2d_new");
    TU_NULL_WITH(dc_conv2d_new(INT64_MAX / 2, INT64_MAX / 2, 3, 1, 0, 1, 1, 1, NULL),
                 DC_E_OVERFLOW);

    TU_NULL_WITH(dc_max_pool2d_new(0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_max_pool2d_new(2, -1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_max_pool2d_new(3, 1, 2), DC_E_INVALID);   /* more than half the kernel */
    TU_NULL_WITH(dc_avg_pool2d_new(2, 1, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_avg_pool2d_new(-2, 1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adaptive_avg_pool2d_new(0, 2), DC_E_INVALID);
    TU_NULL_WITH(dc_adaptive_avg_pool2d_new(2, -1), DC_E_INVALID);

    TU_NULL_WITH(dc_batch_norm1d_new(0, 1e-5, 0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm1d_new(3, -1e-5, 0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm1d_new(3, NAN, 0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm2d_new(3, 1e-5, 1.5), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm2d_new(3, 1e-5, -0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm2d_new(3, 1e-5, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_batch_norm2d_new(INT64_MAX, 1e-5, 0.1), DC_E_OVERFLOW);
    TU_NULL_WITH(dc_layer_norm_new(0, 1e-5, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_layer_norm_new(4, -1, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_layer_norm_new(4, INFINITY, 0), DC_E_INVALID);

    TU_NULL_WITH(dc_dropout_new(1.0), DC_E_INVALID);
    TU_NULL_WITH(dc_dropout_new(-0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_dropout_new(NAN), DC_E_INVALID);
    message_has("dc_dropout_new");

    TU_NULL_WITH(dc_embedding_new(0, 3, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_embedding_new(3, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_embedding_new(INT64_MAX, 4, NULL), DC_E_OVERFLOW);

    TU_NULL_WITH(dc_flatten_new(2, 1), DC_E_INVALID);
    TU_NULL_WITH(dc_flatten_new(-1, -2), DC_E_INVALID);
    TU_NULL_WITH(dc_flatten_new(8, 9), DC_E_INVALID);
    TU_NULL_WITH(dc_flatten_new(0, -9), DC_E_INVALID);

    TU_NULL_WITH(dc_activation_new((dc_activation)9, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_activation_new((dc_activation)-1, 0), DC_E_INVALID);
    message_has("unknown activation");
    TU_NULL_WITH(dc_activation_new(DC_ACT_SOFTMAX, 0.5), DC_E_INVALID);
    TU_NULL_WITH(dc_activation_new(DC_ACT_SOFTMAX, 8), DC_E_INVALID);
    TU_NULL_WITH(dc_activation_new(DC_ACT_SOFTMAX, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_activation_new(DC_ACT_LEAKY_RELU, INFINITY), DC_E_INVALID);
}
END_TEST

/* The forward of m on x fails with status, naming the layer. */
static void forward_fails(dc_module *m, dc_tensor *x, dc_status status, const char *part) {
    TU_NULL_WITH(dc_module_forward(m, x), status);
    message_has(part);
}

START_TEST(bad_forward_linear) {
    dc_module *m = dc_linear_new(4, 3, 1, NULL);
    dc_scope *s = dc_scope_begin();
    forward_fails(m, dc_zeros(DC_F32, 2, (int64_t[]){2, 5}), DC_E_SHAPE,
                  "Linear(in=4, out=3): input has 5 features");
    forward_fails(m, dc_scalar(DC_F32, 1), DC_E_SHAPE, "Linear(in=4, out=3)");
    forward_fails(m, dc_zeros(DC_F64, 2, (int64_t[]){2, 4}), DC_E_DTYPE, "Linear(in=4, out=3)");
    forward_fails(m, dc_zeros(DC_I64, 1, (int64_t[]){4}), DC_E_DTYPE, "Linear");
    TU_NULL_WITH(dc_module_forward(m, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_module_forward(NULL, dc_zeros(DC_F32, 1, (int64_t[]){4})), DC_E_INVALID);
    /* a 1-D input is one row */
    tu_assert_shape(dc_module_forward(m, dc_zeros(DC_F32, 1, (int64_t[]){4})), 1,
                    (int64_t[]){3});
    dc_scope_end(s);
    dc_module_release(m);
}
END_TEST

START_TEST(bad_forward_conv_pool) {
    dc_module *c1 = dc_conv1d_new(4, 6, 3, 1, 0, 2, 2, 1, NULL);
    dc_module *c2 = dc_conv2d_new(4, 6, 3, 1, 1, 1, 1, 1, NULL);
    dc_module *mp = dc_max_pool2d_new(3, 0, 0);
    dc_module *ap = dc_avg_pool2d_new(2, 0, 1);
    dc_module *ad = dc_adaptive_avg_pool2d_new(2, 2);
    dc_scope *s = dc_scope_begin();
    forward_fails(c1, dc_zeros(DC_F32, 2, (int64_t[]){4, 9}), DC_E_SHAPE, "Conv1d(4, 6");
    forward_fails(c1, dc_zeros(DC_F32, 3, (int64_t[]){1, 3, 9}), DC_E_SHAPE, "3 channels");
    forward_fails(c1, dc_zeros(DC_F32, 3, (int64_t[]){1, 4, 4}), DC_E_SHAPE, "smaller");
    forward_fails(c1, dc_zeros(DC_F64, 3, (int64_t[]){1, 4, 9}), DC_E_DTYPE, "Conv1d");
    forward_fails(c2, dc_zeros(DC_F32, 3, (int64_t[]){4, 5, 5}), DC_E_SHAPE, "Conv2d(4, 6");
    forward_fails(c2, dc_zeros(DC_F32, 4, (int64_t[]){1, 5, 5, 5}), DC_E_SHAPE, "channels");
    forward_fails(c2, dc_zeros(DC_F32, 4, (int64_t[]){1, 4, 5, 0}), DC_E_SHAPE, "smaller");
    forward_fails(mp, dc_zeros(DC_F32, 3, (int64_t[]){1, 5, 5}), DC_E_SHAPE, "MaxPool2d");
    forward_fails(mp, dc_zeros(DC_F32, 4, (int64_t[]){1, 1, 2, 5}), DC_E_SHAPE, "MaxPool2d");
    forward_fails(ap, dc_zeros(DC_F32, 5, (int64_t[]){1, 1, 1, 5, 5}), DC_E_SHAPE, "AvgPool2d");
    forward_fails(ad, dc_zeros(DC_F32, 2, (int64_t[]){5, 5}), DC_E_SHAPE, "AdaptiveAvgPool2d");
    forward_fails(ad, dc_zeros(DC_F32, 4, (int64_t[]){1, 1, 0, 5}), DC_E_SHAPE,
                  "AdaptiveAvgPool2d");
    dc_scope_end(s);
    dc_module_release(c1);
    dc_module_release(c2);
    dc_module_release(mp);
    dc_module_release(ap);
    dc_module_release(ad);
}
END_TEST

START_TEST(bad_forward_norm_embedding) {
    dc_module *b1 = dc_batch_norm1d_new(3, 1e-5, 0.1);
    dc_module *b2 = dc_batch_norm2d_new(3, 1e-5, 0.1);
    dc_module *ln = dc_layer_norm_new(4, 1e-5, 1);
    dc_module *em = dc_embedding_new(5, 2, NULL);
    dc_scope *s = dc_scope_begin();
    forward_fails(b1, dc_zeros(DC_F32, 1, (int64_t[]){3}), DC_E_SHAPE, "BatchNorm1d(3");
    forward_fails(b1, dc_zeros(DC_F32, 4, (int64_t[]){2, 3, 2, 2}), DC_E_SHAPE, "BatchNorm1d");
    forward_fails(b1, dc_zeros(DC_F32, 2, (int64_t[]){2, 4}), DC_E_SHAPE, "4 channels");
    forward_fails(b1, dc_zeros(DC_F32, 2, (int64_t[]){1, 3}), DC_E_SHAPE, "more than one");
    forward_fails(b1, dc_zeros(DC_F64, 2, (int64_t[]){2, 3}), DC_E_DTYPE, "BatchNorm1d");
    forward_fails(b2, dc_zeros(DC_F32, 3, (int64_t[]){2, 3, 4}), DC_E_SHAPE, "BatchNorm2d(3");
    forward_fails(b2, dc_zeros(DC_F32, 4, (int64_t[]){2, 2, 4, 4}), DC_E_SHAPE, "BatchNorm2d");
    /* nothing was counted by the failed calls */
    tu_assert_values(dc_module_state_find(b1, "num_batches_tracked"), (double[]){0}, 1, 0, 0);
    forward_fails(ln, dc_zeros(DC_F32, 2, (int64_t[]){2, 5}), DC_E_SHAPE, "LayerNorm(4");
    forward_fails(ln, dc_scalar(DC_F32, 1), DC_E_SHAPE, "LayerNorm");
    forward_fails(ln, dc_zeros(DC_F64, 1, (int64_t[]){4}), DC_E_DTYPE, "LayerNorm");
    forward_fails(em, dc_zeros(DC_F32, 1, (int64_t[]){2}), DC_E_DTYPE, "Embedding(5, 2)");
    int64_t bad[2] = {1, 5};
    forward_fails(em, dc_from_data(DC_I64, 1, (int64_t[]){2}, bad), DC_E_RANGE, "");
    bad[1] = -1;
    forward_fails(em, dc_from_data(DC_I64, 1, (int64_t[]){2}, bad), DC_E_RANGE, "");
    dc_scope_end(s);
    dc_module_release(b1);
    dc_module_release(b2);
    dc_module_release(ln);
    dc_module_release(em);
}
END_TEST

START_TEST(bad_forward_flatten_activation) {
    dc_module *fl = dc_flatten_new(1, -1), *fl2 = dc_flatten_new(2, -2);
    dc_module *sm = dc_activation_new(DC_ACT_SOFTMAX, 2);
    dc_module *th = dc_activation_new(DC_ACT_TANH, 0), *dr = dc_dropout_new(0.5);
    dc_scope *s = dc_scope_begin();
    forward_fails(fl, dc_zeros(DC_F32, 1, (int64_t[]){4}), DC_E_SHAPE, "Flatten(start=1");
    forward_fails(fl2, dc_zeros(DC_F32, 3, (int64_t[]){2, 3, 4}), DC_E_SHAPE, "Flatten");
    forward_fails(sm, dc_zeros(DC_F32, 2, (int64_t[]){2, 3}), DC_E_SHAPE, "Softmax(dim=2)");
    forward_fails(th, dc_zeros(DC_I64, 1, (int64_t[]){2}), DC_E_DTYPE, "");
    forward_fails(dr, dc_zeros(DC_I64, 1, (int64_t[]){2}), DC_E_DTYPE, "");
    dc_scope_end(s);
    dc_module_release(fl);
    dc_module_release(fl2);
    dc_module_release(sm);
    dc_module_release(th);
    dc_module_release(dr);
}
END_TEST

START_TEST(bad_forward_in_sequential) {
    dc_module *seq = mk_sequential();
    dc_scope *s = dc_scope_begin();
    forward_fails(seq, dc_zeros(DC_F32, 2, (int64_t[]){2, 5}), DC_E_SHAPE,
                  "Sequential[0]: Linear(in=4, out=8): input has 5 features");
    dc_scope_end(s);
    dc_module_release(seq);
}
END_TEST

START_TEST(bad_append) {
    dc_module *seq = dc_sequential_new(), *lin = dc_linear_new(2, 2, 1, NULL);
    dc_module *outer = dc_sequential_new();
    TU_FAILS(dc_sequential_append(NULL, lin), DC_E_INVALID);
    TU_FAILS(dc_sequential_append(seq, NULL), DC_E_INVALID);
    TU_FAILS(dc_sequential_append(lin, seq), DC_E_INVALID);   /* not a Sequential */
    message_has("Linear");
    TU_FAILS(dc_sequential_append(seq, seq), DC_E_INVALID);
    TU_OK(dc_sequential_append(outer, seq));
    /* its parent's state dict would go stale, and cycles would follow */
    TU_FAILS(dc_sequential_append(seq, lin), DC_E_STATE);
    TU_FAILS(dc_sequential_append(seq, outer), DC_E_STATE);
    ck_assert_int_eq(dc_module_child_count(seq), 0);
    ck_assert_int_eq(dc_module_child_count(outer), 1);
    dc_module_release(seq);
    dc_module_release(lin);
    dc_module_release(outer);
}
END_TEST

int main(void) {
    Suite *s = suite_create("layers");
    TCase *tc = tu_tcase("torch");
    tcase_add_loop_test(tc, matches_torch, 0, N_TORCH_CASES);
    suite_add_tcase(s, tc);

    tc = tu_tcase("state");
    tcase_add_test(tc, kinds);
    tcase_add_test(tc, state_shapes);
    tcase_add_test(tc, init_linear_conv);
    tcase_add_test(tc, linear_many_rows_on_threads);
    tcase_add_test(tc, linear_bias_grad_many_blocks);
    tcase_add_test(tc, init_embedding_normal);
    tcase_add_test(tc, init_reproducible);
    tcase_add_test(tc, made_inside_scope);
    suite_add_tcase(s, tc);

    tc = tu_tcase("modes");
    tcase_add_test(tc, dropout_train_eval);
    tcase_add_test(tc, batch_norm_train_eval);
    tcase_add_test(tc, training_mode_reaches_children);
    tcase_add_test(tc, freezing);
    suite_add_tcase(s, tc);

    tc = tu_tcase("containers");
    tcase_add_test(tc, sequential_empty_and_nested);
    tcase_add_loop_test(tc, shared_in_two_sequentials, 0, 3);
    tcase_add_test(tc, child_reference);
    suite_add_tcase(s, tc);

    tc = tu_tcase("bad_input");
    tcase_add_test(tc, bad_constructors);
    tcase_add_test(tc, bad_forward_linear);
    tcase_add_test(tc, bad_forward_conv_pool);
    tcase_add_test(tc, bad_forward_norm_embedding);
    tcase_add_test(tc, bad_forward_flatten_activation);
    tcase_add_test(tc, bad_forward_in_sequential);
    tcase_add_test(tc, bad_append);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
