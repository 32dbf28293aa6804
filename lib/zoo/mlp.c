/* The MLP of the zoo: a plain Sequential of Linear, activation and
 * (optional) Dropout layers, numbered as PyTorch's nn.Sequential numbers
 * the same list ("0.weight", "0.bias", "2.weight" or, with dropout,
 * "3.weight", ...). */
#include "../nn/module.h"

/* Appends child to seq and drops the caller's reference to it (also on
 * failure). A NULL child (its constructor failed) keeps that error. */
static dc_status append_owned(dc_module *seq, dc_module *child) {
    if (!child) return dc_last_status() != DC_OK ? dc_last_status() : DC_E_INTERNAL;
    dc_status st = dc_sequential_append(seq, child);
    dc_module_release(child);
    return st;
}

/* The parameter dc_activation_new expects: PyTorch's defaults. */
static double activation_param(dc_activation kind) {
    if (kind == DC_ACT_LEAKY_RELU) return 0.01;
    if (kind == DC_ACT_SOFTMAX) return -1.0;
    return 0.0;
}

static bool mlp_args_ok(const int64_t *sizes, int n_sizes, dc_activation activation,
                        double dropout) {
    const char *f = "dc_zoo_mlp_new";
    if (!sizes) {
        dc__fail(DC_E_INVALID, "%s: 'sizes' is NULL", f);
        return false;
    }
    if (n_sizes < 2) {
        dc__fail(DC_E_INVALID, "%s: n_sizes is %d; an MLP needs at least an input and an "
                 "output size", f, n_sizes);
        return false;
    }
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] < 1) {
            dc__fail(DC_E_INVALID, "%s: sizes[%d] is %lld; every size must be >= 1", f, i,
                     (long long)sizes[i]);
            return false;
        }
    }
    if ((int)activation < DC_ACT_RELU || (int)activation > DC_ACT_IDENTITY) {
        dc__fail(DC_E_INVALID, "%s: unknown activation kind %d", f, (int)activation);
        return false;
    }
    if (!(dropout >= 0.0 && dropout < 1.0)) {
        dc__fail(DC_E_INVALID, "%s: dropout %g must lie in [0, 1)", f, dropout);
        return false;
    }
    return true;
}

dc_module *dc_zoo_mlp_new(const int64_t *sizes, int n_sizes, dc_activation activation,
                          double dropout, dc_rng *rng) {
    if (!mlp_args_ok(sizes, n_sizes, activation, dropout)) return NULL;
    dc_module *seq = dc_sequential_new();
    if (!seq) return NULL;
    dc_status st = DC_OK;
    for (int i = 0; i + 1 < n_sizes && st == DC_OK; i++) {
        st = append_owned(seq, dc_linear_new(sizes[i], sizes[i + 1], 1, rng));
        if (i + 2 == n_sizes) break;   /* nothing after the last Linear */
        if (st == DC_OK)
            st = append_owned(seq, dc_activation_new(activation, activation_param(activation)));
        if (st == DC_OK && dropout > 0.0) st = append_owned(seq, dc_dropout_new(dropout));
    }
    if (st != DC_OK) {
        dc_module_release(seq);
        return NULL;
    }
    return seq;
}
