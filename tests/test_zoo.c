/* The model zoo: every model against the same model written in PyTorch
 * (tests/fixtures/gen_zoo.py), its structure and names, GPT sampling, and
 * bad input to every function.
 *
 * The PyTorch comparison works as llm.c's test does: the weights are
 * copied into our model by state_dict name (every name must exist with
 * PyTorch's shape, and the counts must match), one forward and backward
 * pass runs, and the output and every parameter's gradient must agree.
 * Weights, inputs and the loss weights come from the generator described
 * in gen_zoo.py, which this file reimplements bit for bit. */
#include "testutil.h"

#include "core/internal.h"   /* dc__rng_uniform, to predict samples */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-5

/* ---------------------------------------------------------------- */
/* The generator shared with gen_zoo.py                              */
/* ---------------------------------------------------------------- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

static uint64_t splitmix(uint64_t seed, int64_t i) {
    uint64_t z = seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t seed_of(const char *cas, const char *name) {
    char text[512];
    if (snprintf(text, sizeof text, "zoo:%s:%s", cas, name) >= (int)sizeof text)
        ck_abort_msg("seed text too long for %s", name);
    return fnv1a(text);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The values of a float tensor called name (malloc'd, numel floats). */
static float *gen_values(const char *cas, const char *name, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(v);
    uint64_t seed = seed_of(cas, name);
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(splitmix(seed, i) >> 40) * 0x1p-24, x;
        if (ndim >= 2) x = (2.0 * u - 1.0) * (1.0 / sqrt((double)(n / shape[0])));
        else if (ends_with(name, "running_var")) x = 0.5 + u;
        else if (ends_with(name, "running_mean")) x = (2.0 * u - 1.0) * 0.5;
        else if (!strcmp(name, "input") || !strcmp(name, "w")) x = 2.0 * u - 1.0;
        else if (ends_with(name, "weight")) x = 1.0 + (2.0 * u - 1.0) * 0.3;
        else x = (2.0 * u - 1.0) * 0.3;
        v[i] = (float)x;
    }
    return v;
}

/* "input" and "w" are uniform in (-1, 1) whatever their rank. */
static float *gen_uniform(const char *cas, const char *name, int64_t n) {
    return gen_values(cas, name, 1, &n);
}

static dc_tensor *gen_tokens(const char *cas, int ndim, const int64_t *shape, int64_t vocab) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    int64_t *ids = malloc((size_t)n * sizeof(int64_t));
    ck_assert_ptr_nonnull(ids);
    uint64_t seed = seed_of(cas, "tokens");
    for (int64_t i = 0; i < n; i++) ids[i] = (int64_t)((splitmix(seed, i) >> 33) % (uint64_t)vocab);
    dc_tensor *t = dc_from_data(DC_I64, ndim, shape, ids);
    free(ids);
    TU_NOTNULL(t);
    return t;
}

/* ---------------------------------------------------------------- */
/* Fixtures                                                          */
/* ---------------------------------------------------------------- */

typedef struct state_line {
    char name[128];
    int is_param;
    int64_t stride;        /* sampling of the stored gradient */
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
} state_line;

#define MAX_LINES 64

/* Parses zoo_<case>.names; returns the number of lines. */
static int read_names(const char *cas, state_line *lines) {
    const char *dir = getenv("DC_FIXTURE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/zoo_%s.names", dir ? dir : "tests/fixtures", cas);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    int n = 0;
    char kind[4];
    state_line *e = &lines[0];
    while (fscanf(f, "%127s %3s %lld %d", e->name, kind, (long long *)&e->stride, &e->ndim) == 4) {
        ck_assert(e->ndim >= 0 && e->ndim <= DC_MAX_DIMS && e->stride >= 1);
        e->is_param = kind[0] == 'P';
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            long long s;
            ck_assert(fscanf(f, "%lld", &s) == 1);
            e->shape[d] = s;
            e->numel *= s;
        }
        ck_assert_int_lt(++n, MAX_LINES);
        e = &lines[n];
    }
    ck_assert(feof(f));
    fclose(f);
    return n;
}

static int64_t sampled_count(const state_line *e) { return (e->numel + e->stride - 1) / e->stride; }

/* got (read as f32) at elements 0, stride, 2 stride, ... against want. */
static void assert_sampled(const dc_tensor *got, const float *want, int64_t stride,
                           const char *what) {
    TU_NOTNULL(got);
    int64_t n = dc_numel(got);
    float *g = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(g);
    TU_OK(dc_copy_to(got, DC_F32, g, (size_t)n * sizeof(float)));
    for (int64_t i = 0, k = 0; i < n; i += stride, k++) {
        double d = fabs((double)g[i] - want[k]);
        ck_assert_msg(d <= ATOL + RTOL * fabs(want[k]), "%s: element %lld is %.8g, PyTorch %.8g",
                      what, (long long)i, g[i], want[k]);
    }
    free(g);
}

typedef struct zoo_case {
    const char *name;
    dc_module *(*make)(void);
    int training;
    int xnd;
    int64_t xshape[4];
    int64_t vocab;           /* > 0: the input is token ids below it */
    int ond;
    int64_t oshape[3];
} zoo_case;

static dc_module *make_mlp(void) {
    dc_rng *rng = dc_rng_new(1);
    dc_module *m = dc_zoo_mlp_new((const int64_t[]){20, 16, 16, 5}, 4, DC_ACT_RELU, 0.1, rng);
    dc_rng_free(rng);
    return m;
}
static dc_module *make_lenet(void) { return dc_zoo_lenet5_new(1, 10, NULL); }
static dc_module *make_resnet(void) {
    return dc_zoo_resnet_new(3, 4, 8, (const int[]){1, 1}, 2, NULL);
}
static dc_module *make_lstm_lm(void) { return dc_zoo_rnn_lm_new(DC_RNN_LSTM, 11, 8, 12, 2, NULL); }
static dc_module *make_gru_lm(void) { return dc_zoo_rnn_lm_new(DC_RNN_GRU, 11, 8, 12, 2, NULL); }
static dc_module *make_gpt(void) { return dc_zoo_gpt_new(13, 8, 2, 2, 16, 0.1, NULL); }
static dc_module *make_bert(void) {
    return dc_zoo_bert_classifier_new(13, 8, 2, 2, 16, 3, 0.1, NULL);
}

static const zoo_case cases[] = {
    {"mlp", make_mlp, 0, 3, {2, 3, 20}, 0, 3, {2, 3, 5}},
    {"lenet", make_lenet, 1, 4, {2, 1, 28, 28}, 0, 2, {2, 10}},
    {"resnet_train", make_resnet, 1, 4, {2, 3, 16, 16}, 0, 2, {2, 4}},
    {"resnet_eval", make_resnet, 0, 4, {2, 3, 16, 16}, 0, 2, {2, 4}},
    {"lstm_lm", make_lstm_lm, 1, 2, {2, 7}, 11, 3, {2, 7, 11}},
    {"gru_lm", make_gru_lm, 1, 2, {2, 7}, 11, 3, {2, 7, 11}},
    {"gpt", make_gpt, 0, 2, {2, 8}, 13, 3, {2, 8, 13}},
    {"bert", make_bert, 0, 2, {2, 8}, 13, 2, {2, 3}},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* Our state dict has PyTorch's keys in PyTorch's order, with its shapes
 * and kinds; the generator's values go in by name. */
static void load_state(dc_module *m, const char *cas, const state_line *lines, int n) {
    ck_assert_int_eq(dc_module_state_count(m), n);
    for (int i = 0; i < n; i++) {
        const state_line *e = &lines[i];
        ck_assert_str_eq(dc_module_state_name(m, i), e->name);
        ck_assert_int_eq(dc_module_state_is_param(m, i), e->is_param);
        dc_tensor *t = dc_module_state_find(m, e->name);
        TU_NOTNULL(t);
        ck_assert_int_eq(dc_ndim(t), e->ndim);
        for (int d = 0; d < e->ndim; d++) ck_assert_int_eq(dc_shape(t)[d], e->shape[d]);
        if (dc_tensor_dtype(t) != DC_F32) {
            TU_OK(dc_fill(t, 0.0));   /* num_batches_tracked */
            continue;
        }
        float *v = gen_values(cas, e->name, e->ndim, e->shape);
        TU_OK(dc_copy_from(t, DC_F32, v, (size_t)e->numel * sizeof(float)));
        free(v);
    }
}

static dc_tensor *case_input(const zoo_case *c) {
    if (c->vocab > 0) return gen_tokens(c->name, c->xnd, c->xshape, c->vocab);
    int64_t n = 1;
    for (int i = 0; i < c->xnd; i++) n *= c->xshape[i];
    float *v = gen_uniform(c->name, "input", n);
    dc_tensor *x = dc_from_data(DC_F32, c->xnd, c->xshape, v);
    free(v);
    TU_NOTNULL(x);
    TU_OK(dc_set_requires_grad(x, 1));
    return x;
}

static bool has_batch_norm(const state_line *lines, int n) {
    for (int i = 0; i < n; i++)
        if (ends_with(lines[i].name, "running_mean")) return true;
    return false;
}

START_TEST(matches_torch) {
    const zoo_case *c = &cases[_i];
    state_line lines[MAX_LINES];
    int n = read_names(c->name, lines);
    dc_module *m = c->make();
    TU_NOTNULL(m);
    TU_OK(dc_module_set_training(m, c->training));
    dc_scope *s = dc_scope_begin();
    load_state(m, c->name, lines, n);

    dc_tensor *x = case_input(c);
    dc_tensor *y = dc_module_forward(m, x);
    TU_NOTNULL(y);
    tu_assert_shape(y, c->ond, c->oshape);
    int64_t on = dc_numel(y);
    float *wv = gen_uniform(c->name, "w", on);
    dc_tensor *w = dc_from_data(DC_F32, c->ond, c->oshape, wv);
    free(wv);
    TU_OK(dc_backward(dc_sum(dc_mul(y, w), NULL, 0, 0), NULL, 0));

    /* The blob: out, [grad x], parameter gradients, [buffers after]. */
    bool float_input = c->vocab == 0, buffers_after = c->training && has_batch_norm(lines, n);
    int64_t total = on + (float_input ? dc_numel(x) : 0);
    for (int i = 0; i < n; i++) {
        if (lines[i].is_param) total += sampled_count(&lines[i]);
        else if (buffers_after) total += lines[i].numel;
    }
    char file[96];
    snprintf(file, sizeof file, "zoo_%s.f32", c->name);
    float *blob = tu_read_fixture(file, (size_t)total * sizeof(float));
    const float *p = blob;
    char what[320];
    snprintf(what, sizeof what, "%s: output", c->name);
    assert_sampled(y, p, 1, what);
    p += on;
    if (float_input) {
        snprintf(what, sizeof what, "%s: gradient of the input", c->name);
        assert_sampled(dc_grad(x), p, 1, what);
        p += dc_numel(x);
    }
    for (int i = 0; i < n; i++) {
        if (!lines[i].is_param) continue;
        snprintf(what, sizeof what, "%s: gradient of %.127s", c->name, lines[i].name);
        assert_sampled(dc_grad(dc_module_state_find(m, lines[i].name)), p, lines[i].stride,
                       what);
        p += sampled_count(&lines[i]);
    }
    for (int i = 0; buffers_after && i < n; i++) {
        if (lines[i].is_param) continue;
        snprintf(what, sizeof what, "%s: %.127s after the step", c->name, lines[i].name);
        assert_sampled(dc_module_state_find(m, lines[i].name), p, 1, what);
        p += lines[i].numel;
    }
    ck_assert_ptr_eq(p, blob + total);
    free(blob);
    dc_scope_end(s);
    dc_module_release(m);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Structure, names and initialisation                               */
/* ---------------------------------------------------------------- */

static void assert_child_kinds(dc_module *m, const char *const *kinds, int n) {
    ck_assert_int_eq(dc_module_child_count(m), n);
    for (int i = 0; i < n; i++) {
        dc_module *c = dc_module_child(m, i);
        TU_NOTNULL(c);
        ck_assert_msg(strcmp(dc_module_kind(c), kinds[i]) == 0, "child %d is a %s, not a %s", i,
                      dc_module_kind(c), kinds[i]);
        dc_module_release(c);
    }
}

static void assert_state_shape(dc_module *m, const char *name, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_module_state_find(m, name);
    ck_assert_msg(t != NULL, "no state entry %s: %s", name, dc_last_error());
    tu_assert_shape(t, ndim, shape);
}

static void assert_no_state(dc_module *m, const char *name) {
    TU_NULL_WITH(dc_module_state_find(m, name), DC_E_RANGE);
}

static int64_t param_numel(dc_module *m) {
    int64_t total = 0;
    for (int64_t i = 0; i < dc_module_param_count(m); i++)
        total += dc_numel(dc_module_param(m, i));
    return total;
}

START_TEST(mlp_structure) {
    dc_scope *s = dc_scope_begin();
    /* no dropout: Linear, GELU, Linear, GELU, Linear */
    dc_module *m = dc_zoo_mlp_new((const int64_t[]){6, 5, 4, 3}, 4, DC_ACT_GELU, 0.0, NULL);
    TU_NOTNULL(m);
    assert_child_kinds(m, (const char *[]){"Linear", "GELU", "Linear", "GELU", "Linear"}, 5);
    ck_assert_str_eq(dc_module_kind(m), "Sequential");
    assert_state_shape(m, "0.weight", 2, (const int64_t[]){5, 6});
    assert_state_shape(m, "2.weight", 2, (const int64_t[]){4, 5});
    assert_state_shape(m, "4.bias", 1, (const int64_t[]){3});
    ck_assert_int_eq(dc_module_param_count(m), 6);
    /* any leading axes; the output has the last size */
    dc_tensor *y = dc_module_forward(m, dc_rand_normal(NULL, DC_F32, 2, (const int64_t[]){7, 6},
                                                       0.0, 1.0));
    tu_assert_shape(y, 2, (const int64_t[]){7, 3});
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 2, (const int64_t[]){7, 5})), DC_E_SHAPE);
    dc_module_release(m);

    /* with dropout: Linear, LeakyReLU, Dropout, Linear */
    m = dc_zoo_mlp_new((const int64_t[]){6, 5, 3}, 3, DC_ACT_LEAKY_RELU, 0.5, NULL);
    TU_NOTNULL(m);
    assert_child_kinds(m, (const char *[]){"Linear", "LeakyReLU", "Dropout", "Linear"}, 4);
    assert_state_shape(m, "3.weight", 2, (const int64_t[]){3, 5});
    dc_module_release(m);

    /* two sizes: one Linear and nothing after it */
    m = dc_zoo_mlp_new((const int64_t[]){6, 2}, 2, DC_ACT_RELU, 0.3, NULL);
    TU_NOTNULL(m);
    assert_child_kinds(m, (const char *[]){"Linear"}, 1);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

START_TEST(lenet_structure) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_lenet5_new(3, 7, NULL);
    TU_NOTNULL(m);
    assert_child_kinds(m, (const char *[]){"Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU",
                                           "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear",
                                           "ReLU", "Linear"}, 12);
    assert_state_shape(m, "0.weight", 4, (const int64_t[]){6, 3, 5, 5});
    assert_state_shape(m, "3.weight", 4, (const int64_t[]){16, 6, 5, 5});
    assert_state_shape(m, "7.weight", 2, (const int64_t[]){120, 400});
    assert_state_shape(m, "11.bias", 1, (const int64_t[]){7});
    ck_assert_int_eq(param_numel(m), 6 * 3 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 +
                                         120 * 84 + 84 + 84 * 7 + 7);
    dc_tensor *x = dc_rand_normal(NULL, DC_F32, 4, (const int64_t[]){2, 3, 28, 28}, 0.0, 1.0);
    tu_assert_shape(dc_module_forward(m, x), 2, (const int64_t[]){2, 7});
    /* 32x32 images do not flatten to 400 features */
    x = dc_zeros(DC_F32, 4, (const int64_t[]){1, 3, 32, 32});
    TU_NULL_WITH(dc_module_forward(m, x), DC_E_SHAPE);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* Sample standard deviation of the entries of t. */
static double std_of(dc_tensor *t) {
    double v;
    TU_OK(dc_item(dc_std(t, NULL, 0, 1, 0), &v));
    return v;
}

static double max_abs(dc_tensor *t) {
    double v;
    TU_OK(dc_item(dc_max(dc_abs(t), NULL, 0, 0), &v));
    return v;
}

START_TEST(resnet_structure) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(11);
    dc_module *m = dc_zoo_resnet_new(3, 5, 8, (const int[]){2, 1, 1}, 3, rng);
    TU_NOTNULL(m);
    ck_assert_str_eq(dc_module_kind(m), "ResNet");
    assert_child_kinds(m, (const char *[]){"Conv2d", "BatchNorm2d", "Sequential", "Sequential",
                                           "Sequential", "Linear"}, 6);
    ck_assert_str_eq(dc_module_child_name(m, 2), "layer1");
    ck_assert_str_eq(dc_module_child_name(m, 4), "layer3");
    assert_state_shape(m, "conv1.weight", 4, (const int64_t[]){8, 3, 3, 3});
    assert_no_state(m, "conv1.bias");
    assert_state_shape(m, "layer1.1.conv2.weight", 4, (const int64_t[]){8, 8, 3, 3});
    assert_no_state(m, "layer1.0.downsample.0.weight");   /* same shape: identity */
    assert_state_shape(m, "layer2.0.conv1.weight", 4, (const int64_t[]){16, 8, 3, 3});
    assert_state_shape(m, "layer3.0.downsample.0.weight", 4, (const int64_t[]){32, 16, 1, 1});
    assert_state_shape(m, "layer3.0.downsample.1.running_var", 1, (const int64_t[]){32});
    assert_state_shape(m, "fc.weight", 2, (const int64_t[]){5, 32});
    dc_module *block = dc_module_child(m, 3);
    dc_module *first = dc_module_child(block, 0);
    ck_assert_str_eq(dc_module_kind(first), "BasicBlock");
    ck_assert_int_eq(dc_module_child_count(first), 5);
    ck_assert_str_eq(dc_module_child_name(first, 4), "downsample");
    dc_module_release(first);
    dc_module_release(block);

    /* torchvision's kaiming_normal_(fan_out, relu): std sqrt(2 / (32 * 9)) */
    double sd = std_of(dc_module_state_find(m, "layer3.0.conv2.weight"));
    ck_assert_msg(fabs(sd - sqrt(2.0 / 288.0)) < 0.05 * sqrt(2.0 / 288.0), "std %g", sd);
    sd = std_of(dc_module_state_find(m, "layer3.0.downsample.0.weight"));
    ck_assert_msg(fabs(sd - sqrt(2.0 / 32.0)) < 0.15 * sqrt(2.0 / 32.0), "std %g", sd);

    /* 16x16 -> 16 -> 8 -> 4 spatially, then pooled */
    dc_tensor *x = dc_rand_normal(rng, DC_F32, 4, (const int64_t[]){2, 3, 16, 16}, 0.0, 1.0);
    tu_assert_shape(dc_module_forward(m, x), 2, (const int64_t[]){2, 5});
    TU_OK(dc_module_set_training(m, 0));
    tu_assert_shape(dc_module_forward(m, x), 2, (const int64_t[]){2, 5});
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 4, (const int64_t[]){2, 4, 16, 16})),
                 DC_E_SHAPE);
    dc_module_release(m);
    dc_rng_free(rng);
    dc_scope_end(s);
}
END_TEST

START_TEST(rnn_lm_structure) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_rnn_lm_new(DC_RNN_GRU, 9, 4, 6, 3, NULL);
    TU_NOTNULL(m);
    assert_child_kinds(m, (const char *[]){"Embedding", "GRU", "Linear"}, 3);
    ck_assert_str_eq(dc_module_child_name(m, 0), "embed");
    ck_assert_str_eq(dc_module_child_name(m, 1), "rnn");
    ck_assert_str_eq(dc_module_child_name(m, 2), "head");
    assert_state_shape(m, "rnn.weight_ih_l2", 2, (const int64_t[]){18, 6});
    assert_state_shape(m, "head.weight", 2, (const int64_t[]){9, 6});
    dc_tensor *tok = tu_i64(2, (const int64_t[]){2, 3}, (const int64_t[]){0, 8, 3, 1, 2, 4});
    tu_assert_shape(dc_module_forward(m, tok), 3, (const int64_t[]){2, 3, 9});
    dc_module_release(m);

    m = dc_zoo_rnn_lm_new(DC_RNN_TANH, 9, 4, 6, 1, NULL);
    assert_child_kinds(m, (const char *[]){"Embedding", "RNN", "Linear"}, 3);
    /* tokens must be (B, T) ids inside the vocabulary */
    TU_NULL_WITH(dc_module_forward(m, tu_i64(1, (const int64_t[]){3}, (const int64_t[]){1, 2, 3})),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, tu_i64(2, (const int64_t[]){1, 2}, (const int64_t[]){1, 9})),
                 DC_E_RANGE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 2, (const int64_t[]){1, 2})), DC_E_DTYPE);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* Parameters of a GPT's trunk: wte, wpe, n_layer blocks, ln_f. */
static int64_t gpt_numel(int64_t v, int64_t ctx, int64_t layers, int64_t d) {
    int64_t block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) +
                    (4 * d * d + d);
    return v * d + ctx * d + layers * block + 2 * d;
}

START_TEST(gpt_structure) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 3, 2, 16, 0.1, NULL);
    TU_NOTNULL(m);
    ck_assert_str_eq(dc_module_kind(m), "GPT");
    assert_child_kinds(m, (const char *[]){"Embedding", "Embedding", "Dropout", "Sequential",
                                           "LayerNorm"}, 5);
    const char *names[] = {"wte", "wpe", "drop", "h", "ln_f"};
    for (int i = 0; i < 5; i++) ck_assert_str_eq(dc_module_child_name(m, i), names[i]);
    assert_state_shape(m, "h.2.mlp.0.weight", 2, (const int64_t[]){64, 16});
    /* the output layer is wte itself: no head parameter */
    ck_assert_int_eq(dc_module_param_count(m), 2 + 12 * 3 + 2);
    ck_assert_int_eq(dc_module_state_count(m), 2 + 12 * 3 + 2);
    ck_assert_int_eq(param_numel(m), gpt_numel(13, 8, 3, 16));
    for (int64_t i = 0; i < dc_module_state_count(m); i++)
        ck_assert_msg(strstr(dc_module_state_name(m, i), "head") == NULL, "%s",
                      dc_module_state_name(m, i));
    dc_module_release(m);

    m = dc_zoo_bert_classifier_new(13, 8, 2, 4, 16, 3, 0.0, NULL);
    TU_NOTNULL(m);
    ck_assert_str_eq(dc_module_kind(m), "BertClassifier");
    const char *bnames[] = {"tok_emb", "pos_emb", "drop", "blocks", "ln_f", "head"};
    for (int i = 0; i < 6; i++) ck_assert_str_eq(dc_module_child_name(m, i), bnames[i]);
    ck_assert_int_eq(param_numel(m), gpt_numel(13, 8, 2, 16) + 16 * 3 + 3);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* GPT-2's initialisation: normal(0, 0.02), zero biases, residual
 * projections at 0.02 / sqrt(2 n_layer), LayerNorms at 1 and 0. */
START_TEST(gpt_init) {
    dc_scope *s = dc_scope_begin();
    dc_rng *rng = dc_rng_new(5);
    dc_module *m = dc_zoo_gpt_new(300, 64, 2, 4, 64, 0.0, rng);
    TU_NOTNULL(m);
    struct { const char *name; double std, tol; } want[] = {
        {"wte.weight", 0.02, 0.05},
        {"wpe.weight", 0.02, 0.1},
        {"h.0.attn.in_proj_weight", 0.02, 0.05},
        {"h.1.mlp.0.weight", 0.02, 0.05},
        {"h.0.attn.out_proj.weight", 0.01, 0.05},   /* 0.02 / sqrt(2 * 2) */
        {"h.1.mlp.2.weight", 0.01, 0.05},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double sd = std_of(dc_module_state_find(m, want[i].name));
        ck_assert_msg(fabs(sd - want[i].std) < want[i].tol * want[i].std, "%s: std %g, not %g",
                      want[i].name, sd, want[i].std);
    }
    const char *zero[] = {"h.0.attn.in_proj_bias", "h.0.attn.out_proj.bias", "h.1.mlp.0.bias",
                          "h.1.mlp.2.bias", "ln_f.bias", "h.0.ln_1.bias"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        ck_assert_double_eq(max_abs(dc_module_state_find(m, zero[i])), 0.0);
    ck_assert_double_eq(max_abs(dc_add_scalar(dc_module_state_find(m, "h.1.ln_2.weight"), -1.0)),
                        0.0);

    /* the same seed builds the same model */
    dc_rng *again = dc_rng_new(5);
    dc_module *m2 = dc_zoo_gpt_new(300, 64, 2, 4, 64, 0.0, again);
    for (int64_t i = 0; i < dc_module_state_count(m); i++)
        tu_assert_close(dc_module_state_tensor(m2, i), dc_module_state_tensor(m, i), 0, 0);
    dc_module_release(m2);
    dc_rng_free(again);
    dc_module_release(m);

    /* the classifier: 0.02 everywhere, no residual scaling */
    m = dc_zoo_bert_classifier_new(300, 64, 2, 4, 64, 3, 0.0, rng);
    double sd = std_of(dc_module_state_find(m, "blocks.1.mlp.2.weight"));
    ck_assert_msg(fabs(sd - 0.02) < 0.001, "std %g", sd);
    ck_assert_double_eq(max_abs(dc_module_state_find(m, "head.bias")), 0.0);
    dc_module_release(m);
    dc_rng_free(rng);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* GPT and BERT forward                                              */
/* ---------------------------------------------------------------- */

static dc_tensor *tokens_2d(int64_t b, int64_t t, int64_t vocab) {
    int64_t ids[64];
    ck_assert_int_le(b * t, 64);
    for (int64_t i = 0; i < b * t; i++) ids[i] = (i * 7 + 3) % vocab;
    return tu_i64(2, (const int64_t[]){b, t}, ids);
}

START_TEST(gpt_forward_checks) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 1, 2, 16, 0.0, NULL);
    TU_NOTNULL(m);
    tu_assert_shape(dc_module_forward(m, tokens_2d(3, 5, 13)), 3, (const int64_t[]){3, 5, 13});
    TU_NULL_WITH(dc_module_forward(m, tokens_2d(1, 9, 13)), DC_E_SHAPE);   /* T > context */
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_I64, 2, (const int64_t[]){2, 0})), DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_I64, 1, (const int64_t[]){4})), DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_I64, 3, (const int64_t[]){1, 2, 2})),
                 DC_E_SHAPE);
    TU_NULL_WITH(dc_module_forward(m, tu_i64(2, (const int64_t[]){1, 2}, (const int64_t[]){1, 13})),
                 DC_E_RANGE);
    TU_NULL_WITH(dc_module_forward(m, dc_zeros(DC_F32, 2, (const int64_t[]){1, 3})), DC_E_DTYPE);
    TU_NULL_WITH(dc_module_forward(m, NULL), DC_E_INVALID);
    dc_module_release(m);

    m = dc_zoo_bert_classifier_new(13, 8, 1, 2, 16, 4, 0.0, NULL);
    tu_assert_shape(dc_module_forward(m, tokens_2d(3, 5, 13)), 2, (const int64_t[]){3, 4});
    TU_NULL_WITH(dc_module_forward(m, tokens_2d(1, 9, 13)), DC_E_SHAPE);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* Causality: changing a later token leaves the earlier logits alone. */
START_TEST(gpt_is_causal) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 2, 2, 16, 0.0, NULL);
    dc_tensor *a = tu_i64(2, (const int64_t[]){1, 6}, (const int64_t[]){1, 2, 3, 4, 5, 6});
    dc_tensor *b = tu_i64(2, (const int64_t[]){1, 6}, (const int64_t[]){1, 2, 3, 4, 5, 0});
    dc_tensor *ya = dc_module_forward(m, a), *yb = dc_module_forward(m, b);
    tu_assert_close(dc_narrow(yb, 1, 0, 5), dc_narrow(ya, 1, 0, 5), 1e-6, 1e-5);
    double last_a, last_b;
    TU_OK(dc_get(ya, (const int64_t[]){0, 5, 0}, &last_a));
    TU_OK(dc_get(yb, (const int64_t[]){0, 5, 0}, &last_b));
    ck_assert_double_ne(last_a, last_b);
    dc_module_release(m);

    /* the classifier sees every position from position 0 */
    m = dc_zoo_bert_classifier_new(13, 8, 1, 2, 16, 3, 0.0, NULL);
    double ca, cb;
    TU_OK(dc_get(dc_module_forward(m, a), (const int64_t[]){0, 0}, &ca));
    TU_OK(dc_get(dc_module_forward(m, b), (const int64_t[]){0, 0}, &cb));
    ck_assert_double_ne(ca, cb);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* Dropout acts in training mode only. */
START_TEST(gpt_dropout_modes) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 1, 2, 16, 0.5, NULL);
    dc_tensor *tok = tokens_2d(2, 6, 13);
    TU_OK(dc_module_set_training(m, 0));
    dc_tensor *e1 = dc_module_forward(m, tok), *e2 = dc_module_forward(m, tok);
    tu_assert_close(e2, e1, 0, 0);
    TU_OK(dc_module_set_training(m, 1));
    dc_tensor *t1 = dc_module_forward(m, tok);
    double diff;
    TU_OK(dc_item(dc_max(dc_abs(dc_sub(t1, e1)), NULL, 0, 0), &diff));
    ck_assert_double_gt(diff, 1e-3);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Generation                                                        */
/* ---------------------------------------------------------------- */

#define GEN_MAX 64

/* The logits (vocab of them) after the last `context` tokens of seq. */
static void last_logits(dc_module *m, const int64_t *seq, int64_t n, int64_t context,
                        int64_t vocab, double *logits) {
    int64_t t = n < context ? n : context;
    dc_scope *s = dc_scope_begin();
    dc_tensor *y = dc_module_forward(m, tu_i64(2, (const int64_t[]){1, t}, seq + n - t));
    TU_NOTNULL(y);
    TU_OK(dc_copy_to(dc_narrow(y, 1, t - 1, 1), DC_F64, logits, (size_t)vocab * sizeof(double)));
    dc_scope_end(s);
}

/* Greedy decoding written out with dc_argmax, in eval mode. */
static void manual_greedy(dc_module *m, int64_t *seq, int64_t n_prompt, int64_t n_new,
                          int64_t context) {
    TU_OK(dc_module_set_training(m, 0));
    for (int64_t n = n_prompt; n < n_prompt + n_new; n++) {
        int64_t t = n < context ? n : context;
        dc_scope *s = dc_scope_begin();
        dc_tensor *y = dc_module_forward(m, tu_i64(2, (const int64_t[]){1, t}, seq + n - t));
        double id;
        TU_OK(dc_item(dc_argmax(dc_narrow(y, 1, t - 1, 1), 2, 0), &id));
        seq[n] = (int64_t)id;
        dc_scope_end(s);
    }
}

static void assert_tokens(const dc_tensor *got, const int64_t *want, int64_t n) {
    TU_NOTNULL(got);
    ck_assert_int_eq(dc_tensor_dtype(got), DC_I64);
    tu_assert_shape(got, 1, &n);
    int64_t buf[GEN_MAX];
    TU_OK(dc_copy_to(got, DC_I64, buf, (size_t)n * sizeof(int64_t)));
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(buf[i] == want[i], "token %lld is %lld, expected %lld", (long long)i,
                      (long long)buf[i], (long long)want[i]);
}

static void tensor_tokens(const dc_tensor *t, int64_t *out, int64_t n) {
    TU_NOTNULL(t);
    ck_assert_int_eq(dc_numel(t), n);
    TU_OK(dc_copy_to(t, DC_I64, out, (size_t)n * sizeof(int64_t)));
}

START_TEST(generate_greedy) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 2, 2, 16, 0.1, NULL);
    TU_NOTNULL(m);
    int64_t prompt[] = {3, 1, 4, 1, 5};
    dc_tensor *p = tu_i64(1, (const int64_t[]){5}, prompt);
    /* training on the root, eval on h: both are put back afterwards */
    dc_module *h = dc_module_child(m, 3);
    TU_OK(dc_module_set_training(h, 0));
    int grad_was = dc_set_grad_enabled(1);

    /* 9 new tokens: the window slides past the context of 8 */
    dc_tensor *g1 = dc_zoo_gpt_generate(m, p, 9, 0.0, 0, NULL);
    dc_tensor *g2 = dc_zoo_gpt_generate(m, p, 9, 0.0, 0, NULL);
    ck_assert_int_eq(dc_module_is_training(m), 1);
    ck_assert_int_eq(dc_module_is_training(h), 0);
    dc_module *wte = dc_module_child(m, 0);
    ck_assert_int_eq(dc_module_is_training(wte), 1);
    ck_assert_int_eq(dc_is_grad_enabled(), 1);
    ck_assert_int_eq(dc_requires_grad(g1), 0);
    int64_t got[GEN_MAX];
    tensor_tokens(g1, got, 14);
    assert_tokens(g2, got, 14);

    int64_t want[GEN_MAX];
    memcpy(want, prompt, sizeof prompt);
    manual_greedy(m, want, 5, 9, 8);
    assert_tokens(g1, want, 14);
    /* top_k = 1 is greedy whatever the temperature; so is any top_k at 0 */
    dc_rng *rng = dc_rng_new(3);
    assert_tokens(dc_zoo_gpt_generate(m, p, 9, 1.3, 1, rng), want, 14);
    assert_tokens(dc_zoo_gpt_generate(m, p, 9, 0.0, 4, rng), want, 14);
    assert_tokens(dc_zoo_gpt_generate(m, p, 9, 0.0, 100, rng), want, 14);
    /* n_new = 0: the prompt itself; a prompt longer than the context */
    assert_tokens(dc_zoo_gpt_generate(m, p, 0, 0.7, 0, rng), prompt, 5);
    int64_t long_prompt[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    memcpy(want, long_prompt, sizeof long_prompt);
    manual_greedy(m, want, 12, 3, 8);
    assert_tokens(dc_zoo_gpt_generate(m, tu_i64(1, (const int64_t[]){12}, long_prompt), 3, 0.0,
                                      0, NULL), want, 15);
    /* without recording: a disabled grad mode stays disabled */
    dc_set_grad_enabled(0);
    TU_NOTNULL(dc_zoo_gpt_generate(m, p, 2, 0.0, 0, NULL));
    ck_assert_int_eq(dc_is_grad_enabled(), 0);
    dc_set_grad_enabled(grad_was);
    dc_rng_free(rng);
    dc_module_release(wte);
    dc_module_release(h);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* A GPT whose logits are far from uniform: wte drawn with std 1. */
static dc_module *peaked_gpt(int64_t vocab) {
    dc_rng *rng = dc_rng_new(21);
    dc_module *m = dc_zoo_gpt_new(vocab, 4, 1, 1, 8, 0.0, rng);
    TU_NOTNULL(m);
    dc_scope *s = dc_scope_begin();
    TU_OK(dc_init_normal(dc_module_state_find(m, "wte.weight"), 0.0, 1.0, rng));
    dc_scope_end(s);
    dc_rng_free(rng);
    return m;
}

/* The token that inverts the CDF of softmax(logits / temp) over the top_k
 * tokens at the uniform u. */
static int64_t invert_cdf(const double *logits, int64_t v, double temp, int64_t top_k, double u) {
    bool keep[64];
    for (int64_t i = 0; i < v; i++) {
        int64_t better = 0;
        for (int64_t j = 0; j < v; j++)
            better += logits[j] > logits[i] || (logits[j] == logits[i] && j < i);
        keep[i] = top_k <= 0 || better < top_k;
    }
    double mx = -INFINITY, w[64], total = 0.0;
    for (int64_t i = 0; i < v; i++)
        if (keep[i] && logits[i] > mx) mx = logits[i];
    for (int64_t i = 0; i < v; i++) total += w[i] = keep[i] ? exp((logits[i] - mx) / temp) : 0.0;
    double c = 0.0;
    for (int64_t i = 0; i < v; i++)
        if (keep[i] && (c += w[i]) > u * total) return i;
    ck_abort_msg("the CDF never reached u");
    return -1;
}

/* Each new token inverts the CDF at one uniform draw of the given rng. */
START_TEST(generate_inverse_cdf) {
    dc_scope *s = dc_scope_begin();
    const int64_t vocab = 7;
    dc_module *m = peaked_gpt(vocab);
    TU_OK(dc_module_set_training(m, 0));
    int64_t prompt[] = {2, 5};
    dc_tensor *p = tu_i64(1, (const int64_t[]){2}, prompt);
    struct { double temp; int64_t top_k; } settings[] = {{1.0, 0}, {0.6, 0}, {2.0, 3}, {1.0, 2}};
    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        dc_rng *rng = dc_rng_new(77 + k), *twin = dc_rng_new(77 + k);
        dc_tensor *g = dc_zoo_gpt_generate(m, p, 6, settings[k].temp, settings[k].top_k, rng);
        int64_t want[GEN_MAX] = {2, 5};
        double logits[64];
        for (int64_t n = 2; n < 8; n++) {
            last_logits(m, want, n, 4, vocab, logits);
            want[n] = invert_cdf(logits, vocab, settings[k].temp, settings[k].top_k,
                                 dc__rng_uniform(twin));
        }
        assert_tokens(g, want, 8);
        uint64_t a[4], b[4];
        TU_OK(dc_rng_get_state(rng, a));
        TU_OK(dc_rng_get_state(twin, b));
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "setting %zu: not one draw per token", k);
        dc_rng_free(rng);
        dc_rng_free(twin);
    }
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* The same seed gives the same sample, the thread's generator included;
 * sampling leaves the greedy path. */
START_TEST(generate_seeded) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 2, 2, 16, 0.0, NULL);
    dc_tensor *p = tu_i64(1, (const int64_t[]){1}, (const int64_t[]){4});
    dc_rng *r1 = dc_rng_new(42), *r2 = dc_rng_new(42);
    int64_t a[GEN_MAX], greedy[GEN_MAX];
    tensor_tokens(dc_zoo_gpt_generate(m, p, 20, 1.0, 0, r1), a, 21);
    assert_tokens(dc_zoo_gpt_generate(m, p, 20, 1.0, 0, r2), a, 21);
    dc_manual_seed(9);
    tensor_tokens(dc_zoo_gpt_generate(m, p, 20, 1.0, 0, NULL), a, 21);
    dc_manual_seed(9);
    assert_tokens(dc_zoo_gpt_generate(m, p, 20, 1.0, 0, NULL), a, 21);
    /* GPT-2's init gives nearly uniform logits: 20 samples from 13 tokens
     * do not all coincide with the greedy choice */
    tensor_tokens(dc_zoo_gpt_generate(m, p, 20, 0.0, 0, NULL), greedy, 21);
    int same = 0;
    for (int i = 1; i < 21; i++) same += a[i] == greedy[i];
    ck_assert_int_lt(same, 20);
    dc_rng_free(r1);
    dc_rng_free(r2);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* Frequencies of many one-token samples follow softmax(logits / T), and
 * top_k keeps the k most likely tokens only. */
START_TEST(generate_distribution) {
    dc_scope *s = dc_scope_begin();
    const int64_t vocab = 5;
    const int draws = 2000;
    dc_module *m = peaked_gpt(vocab);
    TU_OK(dc_module_set_training(m, 0));
    int64_t prompt[] = {3};
    dc_tensor *p = tu_i64(1, (const int64_t[]){1}, prompt);
    double logits[8], prob[8], total = 0.0;
    last_logits(m, prompt, 1, 4, vocab, logits);
    const double temp = 0.8;
    for (int64_t i = 0; i < vocab; i++) total += prob[i] = exp(logits[i] / temp);
    int64_t best = 0, second = -1;
    for (int64_t i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    for (int64_t i = 0; i < vocab; i++)
        if (i != best && (second < 0 || logits[i] > logits[second])) second = i;

    dc_rng *rng = dc_rng_new(1234);
    int count[8] = {0}, count_k2[8] = {0};
    for (int d = 0; d < draws; d++) {
        dc_scope *inner = dc_scope_begin();
        int64_t out[2];
        tensor_tokens(dc_zoo_gpt_generate(m, p, 1, temp, 0, rng), out, 2);
        count[out[1]]++;
        tensor_tokens(dc_zoo_gpt_generate(m, p, 1, temp, 2, rng), out, 2);
        count_k2[out[1]]++;
        dc_scope_end(inner);
    }
    double two = prob[best] + prob[second];
    for (int64_t i = 0; i < vocab; i++) {
        double f = (double)count[i] / draws, want = prob[i] / total;
        ck_assert_msg(fabs(f - want) < 4.0 * sqrt(want * (1 - want) / draws) + 1e-3,
                      "token %lld: frequency %g, probability %g", (long long)i, f, want);
        double want_k2 = (i == best || i == second) ? prob[i] / two : 0.0;
        double f2 = (double)count_k2[i] / draws;
        ck_assert_msg(fabs(f2 - want_k2) < 4.0 * sqrt(want_k2 * (1 - want_k2) / draws) + 1e-3,
                      "top 2, token %lld: frequency %g, probability %g", (long long)i, f2,
                      want_k2);
    }
    dc_rng_free(rng);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

START_TEST(generate_bad_input) {
    dc_scope *s = dc_scope_begin();
    dc_module *m = dc_zoo_gpt_new(13, 8, 1, 2, 16, 0.0, NULL);
    dc_module *mlp = dc_zoo_mlp_new((const int64_t[]){4, 2}, 2, DC_ACT_RELU, 0.0, NULL);
    dc_tensor *p = tu_i64(1, (const int64_t[]){2}, (const int64_t[]){1, 2});
    TU_NULL_WITH(dc_zoo_gpt_generate(NULL, p, 3, 0.0, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(mlp, p, 3, 0.0, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, NULL, 3, 0.0, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, dc_zeros(DC_I64, 1, (const int64_t[]){0}), 3, 0.0, 0,
                                     NULL), DC_E_SHAPE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, dc_zeros(DC_I64, 2, (const int64_t[]){1, 2}), 3, 0.0, 0,
                                     NULL), DC_E_SHAPE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, dc_zeros(DC_I64, 0, NULL), 3, 0.0, 0, NULL), DC_E_SHAPE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, dc_zeros(DC_I32, 1, (const int64_t[]){2}), 3, 0.0, 0,
                                     NULL), DC_E_DTYPE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, dc_zeros(DC_F32, 1, (const int64_t[]){2}), 3, 0.0, 0,
                                     NULL), DC_E_DTYPE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, p, -1, 0.0, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, p, INT64_MAX, 1.0, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, p, 3, -0.5, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, p, 3, NAN, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, p, 3, INFINITY, 0, NULL), DC_E_INVALID);
    /* token ids outside the vocabulary, even with nothing to generate */
    TU_NULL_WITH(dc_zoo_gpt_generate(m, tu_i64(1, (const int64_t[]){2}, (const int64_t[]){1, 13}),
                                     0, 0.0, 0, NULL), DC_E_RANGE);
    TU_NULL_WITH(dc_zoo_gpt_generate(m, tu_i64(1, (const int64_t[]){1}, (const int64_t[]){-1}),
                                     2, 0.0, 0, NULL), DC_E_RANGE);
    /* a failure leaves the modes as they were */
    ck_assert_int_eq(dc_module_is_training(m), 1);
    dc_module_release(mlp);
    dc_module_release(m);
    dc_scope_end(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad constructor input                                             */
/* ---------------------------------------------------------------- */

START_TEST(constructors_bad_input) {
    const int64_t sizes[] = {4, 3, 2}, zero_mid[] = {4, 0, 2}, neg[] = {4, -3};
    TU_NULL_WITH(dc_zoo_mlp_new(NULL, 3, DC_ACT_RELU, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 1, DC_ACT_RELU, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 0, DC_ACT_RELU, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(zero_mid, 3, DC_ACT_RELU, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(neg, 2, DC_ACT_RELU, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 3, (dc_activation)99, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 3, (dc_activation)-1, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 3, DC_ACT_RELU, -0.1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 3, DC_ACT_RELU, 1.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_mlp_new(sizes, 3, DC_ACT_RELU, NAN, NULL), DC_E_INVALID);

    TU_NULL_WITH(dc_zoo_lenet5_new(0, 10, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_lenet5_new(1, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_lenet5_new(-1, 10, NULL), DC_E_INVALID);

    const int blocks[] = {1, 1}, zero_block[] = {1, 0};
    TU_NULL_WITH(dc_zoo_resnet_new(0, 4, 8, blocks, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 0, 8, blocks, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, 0, blocks, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, 8, NULL, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, 8, blocks, 0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, 8, blocks, -1, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, 8, zero_block, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, INT64_MAX / 2, blocks, 2, NULL), DC_E_OVERFLOW);
    /* widths that fit but whose weights do not */
    TU_NULL_WITH(dc_zoo_resnet_new(3, 4, INT64_MAX / 4, blocks, 2, NULL), DC_E_OVERFLOW);

    TU_NULL_WITH(dc_zoo_rnn_lm_new((dc_rnn_kind)7, 11, 8, 12, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_rnn_lm_new(DC_RNN_LSTM, 0, 8, 12, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_rnn_lm_new(DC_RNN_LSTM, 11, 0, 12, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_rnn_lm_new(DC_RNN_LSTM, 11, 8, 0, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_rnn_lm_new(DC_RNN_LSTM, 11, 8, 12, 0, NULL), DC_E_INVALID);

    TU_NULL_WITH(dc_zoo_gpt_new(0, 8, 2, 2, 16, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 0, 2, 2, 16, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 0, 2, 16, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 0, 16, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 2, 0, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 3, 16, 0.0, NULL), DC_E_INVALID);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "divide"));
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 2, 16, 1.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 2, 16, -0.5, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_gpt_new(13, 8, 2, 1, INT64_MAX / 2, 0.0, NULL), DC_E_OVERFLOW);

    TU_NULL_WITH(dc_zoo_bert_classifier_new(0, 8, 2, 2, 16, 3, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_bert_classifier_new(13, 8, 2, 5, 16, 3, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_bert_classifier_new(13, 8, 2, 2, 16, 0, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_bert_classifier_new(13, 8, -1, 2, 16, 3, 0.0, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_zoo_bert_classifier_new(13, 8, 2, 2, 16, 3, 2.0, NULL), DC_E_INVALID);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Out of memory anywhere: NOMEM and nothing leaked                   */
/* ---------------------------------------------------------------- */

/* Runs m on x (both may be NULL after a failure) and releases m. */
static bool forward_ok(dc_module *m, dc_tensor *x) {
    bool ok = m && x && dc_module_forward(m, x) != NULL;
    dc_module_release(m);
    return ok;
}

static bool body_mlp(void *arg) {
    (void)arg;
    dc_module *m = dc_zoo_mlp_new((const int64_t[]){5, 4, 3}, 3, DC_ACT_TANH, 0.2, NULL);
    return forward_ok(m, dc_ones(DC_F32, 2, (const int64_t[]){2, 5}));
}

static bool body_lenet(void *arg) {
    (void)arg;
    return forward_ok(dc_zoo_lenet5_new(1, 3, NULL),
                      dc_ones(DC_F32, 4, (const int64_t[]){1, 1, 28, 28}));
}

static bool body_resnet(void *arg) {
    (void)arg;
    dc_module *m = dc_zoo_resnet_new(2, 3, 2, (const int[]){1, 1}, 2, NULL);
    return forward_ok(m, dc_ones(DC_F32, 4, (const int64_t[]){2, 2, 4, 4}));
}

static bool body_rnn_lm(void *arg) {
    (void)arg;
    dc_module *m = dc_zoo_rnn_lm_new(DC_RNN_LSTM, 5, 3, 4, 2, NULL);
    return forward_ok(m, dc_zeros(DC_I64, 2, (const int64_t[]){2, 3}));
}

static bool body_bert(void *arg) {
    (void)arg;
    dc_module *m = dc_zoo_bert_classifier_new(5, 4, 1, 2, 4, 2, 0.0, NULL);
    return forward_ok(m, dc_zeros(DC_I64, 2, (const int64_t[]){2, 3}));
}

static bool body_gpt_generate(void *arg) {
    (void)arg;
    dc_module *m = dc_zoo_gpt_new(5, 3, 1, 2, 4, 0.1, NULL);
    dc_rng *rng = dc_rng_new(1);
    dc_tensor *p = dc_zeros(DC_I64, 1, (const int64_t[]){2});
    bool ok = m && rng && p && dc_zoo_gpt_generate(m, p, 2, 0.9, 3, rng) != NULL;
    if (m) ck_assert_int_eq(dc_module_is_training(m), 1);
    dc_rng_free(rng);
    dc_module_release(m);
    return ok;
}

START_TEST(out_of_memory) {
    bool (*bodies[])(void *) = {body_mlp, body_lenet, body_resnet, body_rnn_lm};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        ck_assert_int_gt(tu_fail_each_allocation(bodies[i], NULL, 20000), 1);
}
END_TEST

START_TEST(out_of_memory_transformers) {
    ck_assert_int_gt(tu_fail_each_allocation(body_bert, NULL, 20000), 1);
    ck_assert_int_gt(tu_fail_each_allocation(body_gpt_generate, NULL, 20000), 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("zoo");
    TCase *tc = tu_tcase("torch");
    tcase_add_loop_test(tc, matches_torch, 0, N_CASES);
    suite_add_tcase(s, tc);
    tc = tu_tcase("structure");
    tcase_add_test(tc, mlp_structure);
    tcase_add_test(tc, lenet_structure);
    tcase_add_test(tc, resnet_structure);
    tcase_add_test(tc, rnn_lm_structure);
    tcase_add_test(tc, gpt_structure);
    tcase_add_test(tc, gpt_init);
    tcase_add_test(tc, gpt_forward_checks);
    tcase_add_test(tc, gpt_is_causal);
    tcase_add_test(tc, gpt_dropout_modes);
    suite_add_tcase(s, tc);
    tc = tu_tcase("generate");
    tcase_add_test(tc, generate_greedy);
    tcase_add_test(tc, generate_inverse_cdf);
    tcase_add_test(tc, generate_seeded);
    tcase_add_test(tc, generate_distribution);
    tcase_add_test(tc, generate_bad_input);
    suite_add_tcase(s, tc);
    tc = tu_tcase("errors");
    tcase_add_test(tc, constructors_bad_input);
    tcase_add_test(tc, out_of_memory);
    tcase_add_test(tc, out_of_memory_transformers);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
