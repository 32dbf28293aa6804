/* Losses (dc_loss) against PyTorch 1.13 and numerical gradients.
 *
 * The fixture cases (tests/fixtures/gen_loss.py writes loss_<case>.f64;
 * the table below is what `gen_loss.py --c-table` prints) compare, for
 * every loss kind and reduction, the forward value and the gradient of the
 * input for a random output gradient G. Then: edge values, the life of
 * the weight tensors, gradient checks (gc_check), and bad input. */
#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- */
/* Fixture cases                                                     */
/* ---------------------------------------------------------------- */

enum { T_SAME, T_I64, T_I32 };   /* the target: input-shaped floats, or indices */

typedef struct dims {
    int ndim;                     /* 0 in weight / pos_weight: none */
    int64_t shape[4];
} dims;

typedef struct loss_case {
    const char *name;
    dc_loss_kind kind;
    dc_reduction red;
    dc_dtype dtype;
    dims in;
    int target;
    double beta;
    int64_t ignore;
    double smoothing;
    dims weight, pos_weight;
    int noncontig;
} loss_case;

static const loss_case cases[] = {
    {"mse_mean", DC_LOSS_MSE, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"l1_mean", DC_LOSS_L1, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_mean", DC_LOSS_SMOOTH_L1, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"huber_mean", DC_LOSS_HUBER, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_weight_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"ce_ignore_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_weight_ignore_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, 2, 0.2, {1, {4}}, {0, {0}}, 0},
    {"ce_prob_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_prob_smooth_weight_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.15, {1, {3}}, {0, {0}}, 0},
    {"nll_mean", DC_LOSS_NLL, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"nll_weight_ignore_mean", DC_LOSS_NLL, DC_REDUCTION_MEAN,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bce_mean", DC_LOSS_BCE, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bce_weight_mean", DC_LOSS_BCE, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bcewl_mean", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bcewl_pos_weight_mean", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {2, {3, 1}}, {1, {4}}, 0},
    {"mse_sum", DC_LOSS_MSE, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"l1_sum", DC_LOSS_L1, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_sum", DC_LOSS_SMOOTH_L1, DC_REDUCTION_SUM,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"huber_sum", DC_LOSS_HUBER, DC_REDUCTION_SUM,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_weight_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"ce_ignore_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_weight_ignore_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, 2, 0.2, {1, {4}}, {0, {0}}, 0},
    {"ce_prob_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_prob_smooth_weight_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.15, {1, {3}}, {0, {0}}, 0},
    {"nll_sum", DC_LOSS_NLL, DC_REDUCTION_SUM,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"nll_weight_ignore_sum", DC_LOSS_NLL, DC_REDUCTION_SUM,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bce_sum", DC_LOSS_BCE, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bce_weight_sum", DC_LOSS_BCE, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bcewl_sum", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bcewl_pos_weight_sum", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_SUM,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {2, {3, 1}}, {1, {4}}, 0},
    {"mse_none", DC_LOSS_MSE, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"l1_none", DC_LOSS_L1, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_none", DC_LOSS_SMOOTH_L1, DC_REDUCTION_NONE,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"huber_none", DC_LOSS_HUBER, DC_REDUCTION_NONE,
     DC_F32, {2, {4, 5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_weight_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"ce_ignore_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_smooth_weight_ignore_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, 2, 0.2, {1, {4}}, {0, {0}}, 0},
    {"ce_prob_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_prob_smooth_weight_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {4, 3}}, T_SAME, 1.0, -100, 0.15, {1, {3}}, {0, {0}}, 0},
    {"nll_none", DC_LOSS_NLL, DC_REDUCTION_NONE,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"nll_weight_ignore_none", DC_LOSS_NLL, DC_REDUCTION_NONE,
     DC_F32, {2, {6, 4}}, T_I64, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bce_none", DC_LOSS_BCE, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bce_weight_none", DC_LOSS_BCE, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bcewl_none", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bcewl_pos_weight_none", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {2, {3, 1}}, {1, {4}}, 0},
    {"mse_noncontig", DC_LOSS_MSE, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 1},
    {"mse_f64", DC_LOSS_MSE, DC_REDUCTION_NONE,
     DC_F64, {1, {5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"l1_f64", DC_LOSS_L1, DC_REDUCTION_MEAN,
     DC_F64, {2, {2, 3}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_beta05", DC_LOSS_SMOOTH_L1, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 5}}, T_SAME, 0.5, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_beta0", DC_LOSS_SMOOTH_L1, DC_REDUCTION_SUM,
     DC_F32, {2, {4, 5}}, T_SAME, 0.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"smooth_l1_f64", DC_LOSS_SMOOTH_L1, DC_REDUCTION_NONE,
     DC_F64, {2, {3, 4}}, T_SAME, 0.7, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"huber_delta15", DC_LOSS_HUBER, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 5}}, T_SAME, 1.5, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"huber_f64", DC_LOSS_HUBER, DC_REDUCTION_SUM,
     DC_F64, {2, {3, 4}}, T_SAME, 0.6, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_ignore_custom", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, 2, 0.0, {1, {4}}, {0, {0}}, 0},
    {"ce_ncd_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {3, {2, 3, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_ncd_weight_smooth_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {3, {2, 3, 4}}, T_I64, 1.0, -100, 0.1, {1, {3}}, {0, {0}}, 0},
    {"ce_ncdd_sum", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {4, {2, 3, 2, 2}}, T_I64, 1.0, 1, 0.0, {1, {3}}, {0, {0}}, 0},
    {"ce_i32_target", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I32, 1.0, -100, 0.0, {1, {4}}, {0, {0}}, 0},
    {"ce_noncontig", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {5, 4}}, T_I64, 1.0, -100, 0.05, {0, {0}}, {0, {0}}, 1},
    {"ce_extreme", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {2, {4, 4}}, T_I64, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_extreme_smooth_mean", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F32, {2, {4, 4}}, T_I64, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_f64", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F64, {2, {5, 4}}, T_I64, 1.0, -100, 0.3, {1, {4}}, {0, {0}}, 0},
    {"ce_unbatched", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {1, {5}}, T_I64, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_unbatched_prob", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM,
     DC_F32, {1, {5}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"ce_prob_ncd_none", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE,
     DC_F32, {3, {2, 3, 4}}, T_SAME, 1.0, -100, 0.1, {0, {0}}, {0, {0}}, 0},
    {"ce_prob_f64", DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN,
     DC_F64, {2, {4, 3}}, T_SAME, 1.0, -100, 0.0, {1, {3}}, {0, {0}}, 0},
    {"nll_ncd_sum", DC_LOSS_NLL, DC_REDUCTION_SUM,
     DC_F32, {3, {2, 3, 4}}, T_I64, 1.0, -100, 0.0, {1, {3}}, {0, {0}}, 0},
    {"nll_f64", DC_LOSS_NLL, DC_REDUCTION_MEAN,
     DC_F64, {2, {5, 4}}, T_I64, 1.0, 0, 0.0, {1, {4}}, {0, {0}}, 0},
    {"bce_weight_full", DC_LOSS_BCE, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {2, {3, 4}}, {0, {0}}, 0},
    {"bce_f64", DC_LOSS_BCE, DC_REDUCTION_SUM,
     DC_F64, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {2, {1, 4}}, {0, {0}}, 0},
    {"bcewl_noncontig", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {1, {4}}, 1},
    {"bcewl_extreme", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_NONE,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {0, {0}}, 0},
    {"bcewl_extreme_pos_mean", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN,
     DC_F32, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {0, {0}}, {1, {4}}, 0},
    {"bcewl_f64", DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_SUM,
     DC_F64, {2, {3, 4}}, T_SAME, 1.0, -100, 0.0, {1, {4}}, {1, {4}}, 0},
};
enum { N_CASES = (int)(sizeof cases / sizeof cases[0]) };

static int64_t numel_of(dims d) {
    int64_t n = 1;
    for (int i = 0; i < d.ndim; i++) n *= d.shape[i];
    return n;
}

static bool is_class_kind(dc_loss_kind k) {
    return k == DC_LOSS_CROSS_ENTROPY || k == DC_LOSS_NLL;
}

/* The input's shape without the class axis (1, or 0 when unbatched). */
static dims without_class_axis(dims in) {
    dims d = {0, {0}};
    int skip = in.ndim == 1 ? 0 : 1;
    for (int i = 0; i < in.ndim; i++)
        if (i != skip) d.shape[d.ndim++] = in.shape[i];
    return d;
}

/* Shape of the loss: () when reduced, else the target's (class losses) or
 * the input's. */
static dims output_dims(const loss_case *c) {
    dims none = {0, {0}};
    if (c->red != DC_REDUCTION_NONE) return none;
    return is_class_kind(c->kind) ? without_class_axis(c->in) : c->in;
}

static dims target_dims(const loss_case *c) {
    return c->target == T_SAME ? c->in : without_class_axis(c->in);
}

static dc_tensor *from_f64(dc_dtype dt, dims d, const double *v) {
    return dt == DC_F64 ? tu_f64(d.ndim, d.shape, v) : tu_f32(d.ndim, d.shape, v);
}

static dc_tensor *index_target(int dtype, dims d, const double *v) {
    int64_t n = numel_of(d);
    int64_t *iv = malloc((size_t)n * sizeof *iv);
    int32_t *i32 = malloc((size_t)n * sizeof *i32);
    for (int64_t i = 0; i < n; i++) {
        iv[i] = (int64_t)v[i];
        i32[i] = (int32_t)v[i];
    }
    dc_tensor *t = dtype == T_I32 ? dc_from_data(DC_I32, d.ndim, d.shape, i32)
                                  : dc_from_data(DC_I64, d.ndim, d.shape, iv);
    free(iv);
    free(i32);
    TU_NOTNULL(t);
    return t;
}

/* A loss of the case's kind with its options; weight tensors as given.
 * Options equal to PyTorch's defaults are left unset, so that the cases
 * also check our defaults (beta 1, ignore_index -100, no smoothing). */
static dc_loss *case_loss(const loss_case *c, dc_tensor *weight, dc_tensor *pos_weight) {
    dc_loss *loss = dc_loss_new(c->kind, c->red);
    TU_NOTNULL(loss);
    if (c->beta != 1.0) TU_OK(dc_loss_set_beta(loss, c->beta));
    if (c->ignore != -100) TU_OK(dc_loss_set_ignore_index(loss, c->ignore));
    if (c->smoothing != 0.0) TU_OK(dc_loss_set_label_smoothing(loss, c->smoothing));
    if (weight) TU_OK(dc_loss_set_weight(loss, weight));
    if (pos_weight) TU_OK(dc_loss_set_pos_weight(loss, pos_weight));
    return loss;
}

START_TEST(matches_torch) {
    const loss_case *c = &cases[_i];
    dims out_d = output_dims(c), t_d = target_dims(c);
    int64_t n_in = numel_of(c->in), n_out = numel_of(out_d), n_t = numel_of(t_d);
    int64_t n_w = c->weight.ndim ? numel_of(c->weight) : 0;
    int64_t n_p = c->pos_weight.ndim ? numel_of(c->pos_weight) : 0;
    size_t total = (size_t)(4 + 2 * n_in + n_t + n_w + n_p + 2 * n_out);
    char file[96];
    snprintf(file, sizeof file, "loss_%s.f64", c->name);
    double *v = tu_read_fixture(file, total * sizeof(double));
    ck_assert_msg(v[0] == c->kind && v[1] == c->red && v[2] == n_in && v[3] == n_out,
                  "%s: the fixture does not match the table; rerun gen_loss.py", c->name);
    const double *px = v + 4, *pt = px + n_in, *pw = pt + n_t, *pp = pw + n_w;
    const double *want = pp + n_p, *g = want + n_out, *want_grad = g + n_out;

    dc_scope *s = dc_scope_begin();
    dc_tensor *x = from_f64(c->dtype, c->in, px);
    if (c->noncontig) x = tu_noncontig(x);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = c->target == T_SAME ? from_f64(c->dtype, t_d, pt)
                                       : index_target(c->target, t_d, pt);
    dc_tensor *w = n_w ? from_f64(c->dtype, c->weight, pw) : NULL;
    dc_tensor *p = n_p ? from_f64(c->dtype, c->pos_weight, pp) : NULL;
    dc_loss *loss = case_loss(c, w, p);
    dc_tensor *l = dc_loss_forward(loss, x, y);
    ck_assert_msg(l != NULL, "%s: %s", c->name, dc_last_error());
    tu_assert_shape(l, out_d.ndim, out_d.shape);
    ck_assert_int_eq(dc_tensor_dtype(l), c->dtype);
    double atol = c->dtype == DC_F32 ? 1e-6 : 1e-10, rtol = c->dtype == DC_F32 ? 1e-5 : 1e-10;
    tu_assert_values(l, want, n_out, atol, rtol);
    TU_OK(dc_backward(l, from_f64(c->dtype, out_d, g), 0));
    dc_tensor *gx = dc_grad(x);
    TU_NOTNULL(gx);
    tu_assert_shape(gx, c->in.ndim, c->in.shape);
    tu_assert_values(gx, want_grad, n_in, atol, rtol);
    dc_loss_release(loss);
    dc_scope_end(s);
    free(v);
}
END_TEST

/* The fixtures cover every kind with every reduction. */
START_TEST(table_covers_kinds) {
    bool seen[8][3] = {{false}};
    bool f64[8] = {false};
    for (int i = 0; i < N_CASES; i++) {
        seen[cases[i].kind][cases[i].red] = true;
        f64[cases[i].kind] |= cases[i].dtype == DC_F64;
    }
    for (int k = 0; k < 8; k++) {
        ck_assert_msg(f64[k], "no f64 case for kind %d", k);
        for (int r = 0; r < 3; r++) ck_assert_msg(seen[k][r], "kind %d reduction %d", k, r);
    }
}
END_TEST

/* ---------------------------------------------------------------- */
/* Edge values and the life of the handle                            */
/* ---------------------------------------------------------------- */

static void assert_all_finite(dc_tensor *t) {
    int64_t n = dc_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    TU_OK(dc_copy_to(t, DC_F64, v, (size_t)n * sizeof *v));
    for (int64_t i = 0; i < n; i++) {
        double e = v[i];
        if (!isfinite(e)) {
            free(v);
            ck_abort_msg("element %lld is %g", (long long)i, e);
        }
    }
    free(v);
}

static double item(dc_tensor *t) {
    double v = -1.0;
    TU_NOTNULL(t);
    TU_OK(dc_item(t, &v));
    return v;
}

/* Cross-entropy of class indices over many rows runs its rows on the
 * pool: the same bits on 1 and 2 threads (loss and gradient), and the
 * values of a double-precision reference. */
static double ce_on_threads(int threads, const float *xv, const int64_t *yv, int64_t n,
                            int64_t c, float *grad) {
    TU_OK(dc_set_num_threads(threads));
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_from_data(DC_F32, 2, (int64_t[]){n, c}, xv);
    dc_tensor *y = dc_from_data(DC_I64, 1, &n, yv);
    TU_OK(dc_set_requires_grad(x, 1));
    dc_loss *loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(loss);
    TU_OK(dc_loss_set_ignore_index(loss, 3));   /* some rows ignored */
    dc_tensor *l = dc_loss_forward(loss, x, y);
    double v = item(l);
    TU_OK(dc_backward(l, NULL, 0));
    TU_OK(dc_copy_to(dc_grad(x), DC_F32, grad, (size_t)(n * c) * sizeof *grad));
    dc_loss_release(loss);
    dc_scope_end(s);
    TU_OK(dc_set_num_threads(0));
    return v;
}

START_TEST(cross_entropy_rows_split_over_threads) {
    enum { N = 1000, C = 86 };
    float *xv = malloc(N * C * sizeof *xv), *g1 = malloc(N * C * sizeof *g1),
          *g2 = malloc(N * C * sizeof *g2);
    int64_t yv[N];
    ck_assert(xv && g1 && g2);
    for (int i = 0; i < N * C; i++) xv[i] = (float)((i * 7919) % 1000) / 100.0f - 5.0f;
    for (int r = 0; r < N; r++) yv[r] = (r * 31) % C;
    double l1 = ce_on_threads(1, xv, yv, N, C, g1), l2 = ce_on_threads(2, xv, yv, N, C, g2);
    ck_assert(memcmp(&l1, &l2, sizeof l1) == 0);
    ck_assert(memcmp(g1, g2, N * C * sizeof *g1) == 0);
    int kept = 0;
    for (int r = 0; r < N; r++) kept += yv[r] != 3;
    double total = 0.0;
    for (int r = 0; r < N; r++) {
        double mx = -INFINITY, sum = 0.0;
        for (int q = 0; q < C; q++) mx = fmax(mx, xv[r * C + q]);
        for (int q = 0; q < C; q++) sum += exp(xv[r * C + q] - mx);
        double lse = mx + log(sum);
        bool keep = yv[r] != 3;
        if (keep) total += lse - xv[r * C + yv[r]];
        for (int q = 0; q < C; q++) {
            double want =
                keep ? (exp(xv[r * C + q] - lse) - (q == yv[r] ? 1.0 : 0.0)) / kept : 0.0;
            ck_assert_msg(fabs(g1[r * C + q] - want) <= 1e-6 * fabs(want) + 1e-9,
                          "grad[%d][%d] = %.9g, want %.9g", r, q, g1[r * C + q], want);
        }
    }
    ck_assert_msg(fabs(l1 - total / kept) <= 1e-5 * fabs(total / kept), "loss %.9g, want %.9g",
                  l1, total / kept);
    free(xv);
    free(g1);
    free(g2);
}
END_TEST

/* Every target ignored: mean is 0 / 0 = NaN as PyTorch, sum is 0, none is
 * zeros; gradients stay finite (zero). */
START_TEST(all_ignored) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f32(2, (const int64_t[]){3, 4}, (const double[]){
        0.1, 0.2, 0.3, 0.4, -1, 2, 0.5, 0, 3, 1, -2, 0.25});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = tu_i64(1, (const int64_t[]){3}, (const int64_t[]){-100, -100, -100});
    dc_tensor *w = tu_f32(1, (const int64_t[]){4}, (const double[]){1, 2, 3, 4});
    dc_loss_kind kinds[2] = {DC_LOSS_CROSS_ENTROPY, DC_LOSS_NLL};
    for (int k = 0; k < 2; k++) {
        for (int weighted = 0; weighted < 2; weighted++) {
            dc_loss *mean = dc_loss_new(kinds[k], DC_REDUCTION_MEAN);
            dc_loss *sum = dc_loss_new(kinds[k], DC_REDUCTION_SUM);
            dc_loss *none = dc_loss_new(kinds[k], DC_REDUCTION_NONE);
            if (weighted) {
                TU_OK(dc_loss_set_weight(mean, w));
                TU_OK(dc_loss_set_weight(sum, w));
            }
            if (kinds[k] == DC_LOSS_CROSS_ENTROPY) TU_OK(dc_loss_set_label_smoothing(mean, 0.1));
            ck_assert(isnan(item(dc_loss_forward(mean, x, y))));
            dc_tensor *ls = dc_loss_forward(sum, x, y);
            ck_assert(item(ls) == 0.0);
            tu_assert_values(dc_loss_forward(none, x, y), (const double[]){0, 0, 0}, 3, 0, 0);
            TU_OK(dc_backward(ls, NULL, 0));
            dc_tensor *g = dc_grad(x);
            tu_assert_values(g, (const double[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, 0, 0);
            TU_OK(dc_zero_grad(x));
            dc_loss_release(mean);
            dc_loss_release(sum);
            dc_loss_release(none);
        }
    }
    dc_scope_end(s);
}
END_TEST

/* An empty batch: mean is NaN (PyTorch), sum 0. */
START_TEST(empty_batch) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = dc_zeros(DC_F32, 2, (const int64_t[]){0, 4});
    dc_tensor *idx = dc_zeros(DC_I64, 1, (const int64_t[]){0});
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *ce_sum = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM);
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    ck_assert(isnan(item(dc_loss_forward(ce, x, idx))));
    ck_assert(isnan(item(dc_loss_forward(ce, x, dc_zeros_like(x)))));   /* probabilities */
    ck_assert(item(dc_loss_forward(ce_sum, x, idx)) == 0.0);
    ck_assert(isnan(item(dc_loss_forward(mse, x, dc_zeros_like(x)))));
    dc_loss_release(ce);
    dc_loss_release(ce_sum);
    dc_loss_release(mse);
    dc_scope_end(s);
}
END_TEST

/* BCE at probabilities 0 and 1: each log is clamped at -100, as PyTorch
 * (values by hand: -(y max(log x, -100) + (1 - y) max(log(1 - x), -100))).
 * The gradients are finite (the clamped log is flat there). */
START_TEST(bce_clamps_log) {
    dc_scope *s = dc_scope_begin();
    for (int d = 0; d < 2; d++) {
        dc_tensor *(*make)(int, const int64_t *, const double *) = d ? tu_f64 : tu_f32;
        const int64_t shape[1] = {6};
        dc_tensor *x = make(1, shape, (const double[]){0, 1, 0, 1, 0, 0.5});
        dc_tensor *y = make(1, shape, (const double[]){1, 0, 0, 1, 0.5, 0.5});
        TU_OK(dc_set_requires_grad(x, 1));
        dc_loss *loss = dc_loss_new(DC_LOSS_BCE, DC_REDUCTION_NONE);
        dc_tensor *l = dc_loss_forward(loss, x, y);
        tu_assert_values(l, (const double[]){100, 100, 0, 0, 50, log(2.0)}, 6, 1e-6, 1e-6);
        TU_OK(dc_backward(dc_sum(l, NULL, 0, 0), NULL, 0));
        assert_all_finite(dc_grad(x));
        dc_loss_release(loss);
    }
    dc_scope_end(s);
}
END_TEST

/* Logits of exactly 0 (zero-initialised layers): the gradient of BCE with
 * logits is sigmoid(0) - y = 0.5 - y, by hand. */
START_TEST(bce_with_logits_at_zero) {
    dc_scope *s = dc_scope_begin();
    const int64_t shape[1] = {3};
    dc_tensor *x = tu_f64(1, shape, (const double[]){0, 0, 0});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *y = tu_f64(1, shape, (const double[]){1, 0, 0.25});
    dc_loss *loss = dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_SUM);
    dc_tensor *l = dc_loss_forward(loss, x, y);
    tu_assert_values(l, (const double[]){3 * log(2.0)}, 1, 0, 1e-12);
    TU_OK(dc_backward(l, NULL, 0));
    tu_assert_values(dc_grad(x), (const double[]){-0.5, 0.5, 0.25}, 3, 0, 1e-12);
    dc_loss_release(loss);
    dc_scope_end(s);
}
END_TEST

/* The loss keeps a reference to its weights: it sees later writes, it
 * outlives the caller's reference, NULL clears it, and releasing the loss
 * frees it (the leak fixture checks). */
START_TEST(weight_is_a_reference) {
    const int64_t xs[2] = {2, 3}, ws[1] = {3};
    dc_tensor *w = tu_f64(1, ws, (const double[]){1, 1, 1});   /* no scope: ours */
    dc_loss *loss = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_SUM);
    dc_loss *rows = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_NONE);
    TU_OK(dc_loss_set_weight(loss, w));
    dc_scope *s = dc_scope_begin();
    dc_tensor *x = tu_f64(2, xs, (const double[]){1, 2, 3, 0.5, -1, 2});
    dc_tensor *y = tu_i64(1, (const int64_t[]){2}, (const int64_t[]){2, 0});
    dc_tensor *r = dc_loss_forward(rows, x, y);
    double r0, r1;
    TU_OK(dc_get(r, (const int64_t[]){0}, &r0));
    TU_OK(dc_get(r, (const int64_t[]){1}, &r1));
    ck_assert(fabs(item(dc_loss_forward(loss, x, y)) - (r0 + r1)) < 1e-12);
    /* y = (2, 0): the weights of classes 2 and 0 scale the two rows */
    TU_OK(dc_copy_from(w, DC_F64, (const double[]){2, 1, 3}, 3 * sizeof(double)));
    dc_release(w);                                  /* the loss still holds it */
    ck_assert(fabs(item(dc_loss_forward(loss, x, y)) - (3 * r0 + 2 * r1)) < 1e-12);
    TU_OK(dc_loss_set_weight(loss, NULL));
    ck_assert(fabs(item(dc_loss_forward(loss, x, y)) - (r0 + r1)) < 1e-12);
    dc_scope_end(s);
    dc_loss_release(rows);
    dc_loss_release(loss);
}
END_TEST

/* Without a scope the result is the caller's reference; the graph it
 * records keeps what it needs after the private scope of the loss. */
START_TEST(result_outlives_private_scope) {
    const int64_t shape[2] = {2, 2};
    dc_tensor *x = tu_f32(2, shape, (const double[]){0.5, -0.5, 2, 1});
    dc_tensor *y = tu_f32(2, shape, (const double[]){0, 1, 1, 0});
    TU_OK(dc_set_requires_grad(x, 1));
    dc_tensor *w = tu_f32(1, (const int64_t[]){2}, (const double[]){1, 3});
    dc_loss *loss = dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN);
    TU_OK(dc_loss_set_pos_weight(loss, w));
    dc_release(w);
    dc_tensor *l = dc_loss_forward(loss, x, y);
    TU_NOTNULL(l);
    dc_loss_release(loss);                          /* the graph holds pos_weight */
    TU_OK(dc_backward(l, NULL, 0));
    dc_tensor *g = dc_grad(x);
    TU_NOTNULL(g);
    /* (sigmoid(x) (p y + 1 - y) - p y) / 4, p = (1, 3), by hand */
    double want[4];
    const double xv[4] = {0.5, -0.5, 2, 1}, yv[4] = {0, 1, 1, 0}, pv[4] = {1, 3, 1, 3};
    for (int i = 0; i < 4; i++) {
        double sg = 1 / (1 + exp(-xv[i]));
        want[i] = (sg * (pv[i] * yv[i] + 1 - yv[i]) - pv[i] * yv[i]) / 4;
    }
    tu_assert_values(g, want, 4, 1e-7, 1e-6);
    dc_release(g);
    dc_release(l);
    dc_release(x);
    dc_release(y);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Numerical gradients (f64): of the input, the target, the weights  */
/* ---------------------------------------------------------------- */

typedef struct gc_loss_ctx {
    dc_loss *loss;
    dc_tensor *index;     /* a class-index target, or NULL: in[1] is the target */
} gc_loss_ctx;

static dc_tensor *loss_fn(dc_tensor *const *in, int n, void *vctx) {
    const gc_loss_ctx *c = vctx;
    (void)n;
    return dc_loss_forward(c->loss, in[0], c->index ? c->index : in[1]);
}

/* Cross-entropy with label smoothing, class weights and an ignored target;
 * the weights get gradients too. */
START_TEST(gradcheck_cross_entropy) {
    dc_reduction reds[3] = {DC_REDUCTION_MEAN, DC_REDUCTION_SUM, DC_REDUCTION_NONE};
    for (int r = 0; r < 3; r++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *in[2] = {gc_input(11, 2, (const int64_t[]){5, 4}, -3, 3, r == 1),
                            gc_input(12, 1, (const int64_t[]){4}, 0.2, 2, 0)};
        gc_loss_ctx c = {dc_loss_new(DC_LOSS_CROSS_ENTROPY, reds[r]),
                         tu_i64(1, (const int64_t[]){5}, (const int64_t[]){3, 1, 0, 1, 2})};
        TU_OK(dc_loss_set_label_smoothing(c.loss, 0.2));
        TU_OK(dc_loss_set_ignore_index(c.loss, 1));
        TU_OK(dc_loss_set_weight(c.loss, in[1]));
        gc_check(loss_fn, in, 2, &c);
        dc_loss_release(c.loss);
        dc_scope_end(s);
    }
}
END_TEST

/* The (N, C, d1, d2) layout with weights and smoothing. */
START_TEST(gradcheck_cross_entropy_spatial) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[2] = {gc_input(21, 4, (const int64_t[]){2, 3, 2, 2}, -2, 2, 1),
                        gc_input(22, 1, (const int64_t[]){3}, 0.5, 1.5, 0)};
    gc_loss_ctx c = {dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN),
                     tu_i64(3, (const int64_t[]){2, 2, 2},
                            (const int64_t[]){0, 2, 1, 1, 2, -100, 0, 2})};
    TU_OK(dc_loss_set_label_smoothing(c.loss, 0.1));
    TU_OK(dc_loss_set_weight(c.loss, in[1]));
    gc_check(loss_fn, in, 2, &c);
    dc_loss_release(c.loss);
    dc_scope_end(s);
}
END_TEST

/* Probability targets (they get gradients too), smoothing and weights. */
START_TEST(gradcheck_cross_entropy_probs) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[3] = {gc_input(31, 2, (const int64_t[]){4, 3}, -2, 2, 0),
                        gc_input(32, 2, (const int64_t[]){4, 3}, 0, 1, 1),
                        gc_input(33, 1, (const int64_t[]){3}, 0.5, 1.5, 0)};
    gc_loss_ctx c = {dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN), NULL};
    TU_OK(dc_loss_set_label_smoothing(c.loss, 0.3));
    TU_OK(dc_loss_set_weight(c.loss, in[2]));
    gc_check(loss_fn, in, 3, &c);
    dc_loss_release(c.loss);
    dc_scope_end(s);
}
END_TEST

START_TEST(gradcheck_nll) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *in[2] = {gc_input(41, 3, (const int64_t[]){3, 4, 2}, -3, 0, 0),
                        gc_input(42, 1, (const int64_t[]){4}, 0.2, 2, 0)};
    gc_loss_ctx c = {dc_loss_new(DC_LOSS_NLL, DC_REDUCTION_MEAN),
                     tu_i64(2, (const int64_t[]){3, 2}, (const int64_t[]){3, 0, 7, 1, 2, 3})};
    TU_OK(dc_loss_set_ignore_index(c.loss, 7));
    TU_OK(dc_loss_set_weight(c.loss, in[1]));
    gc_check(loss_fn, in, 2, &c);
    dc_loss_release(c.loss);
    dc_scope_end(s);
}
END_TEST

/* BCE with logits: logits, soft targets, pos_weight and weight all get
 * gradients; every reduction. */
START_TEST(gradcheck_bce_with_logits) {
    dc_reduction reds[3] = {DC_REDUCTION_MEAN, DC_REDUCTION_SUM, DC_REDUCTION_NONE};
    for (int r = 0; r < 3; r++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *in[4] = {gc_input(51, 2, (const int64_t[]){3, 4}, -4, 4, r == 0),
                            gc_input(52, 2, (const int64_t[]){3, 4}, 0, 1, 0),
                            gc_input(53, 1, (const int64_t[]){4}, 0.5, 3, 0),
                            gc_input(54, 2, (const int64_t[]){3, 1}, 0.2, 2, 0)};
        gc_loss_ctx c = {dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, reds[r]), NULL};
        TU_OK(dc_loss_set_pos_weight(c.loss, in[2]));
        TU_OK(dc_loss_set_weight(c.loss, in[3]));
        gc_check(loss_fn, in, 4, &c);
        dc_loss_release(c.loss);
        dc_scope_end(s);
    }
}
END_TEST

/* The elementwise kinds, each with a target that gets a gradient; the
 * points stay off the kinks (L1: x - y < 0 everywhere). */
START_TEST(gradcheck_elementwise) {
    const struct {
        dc_loss_kind kind;
        double beta, xlo, xhi, ylo, yhi;
    } ks[] = {
        {DC_LOSS_MSE, 1, -2, 2, -2, 2},
        {DC_LOSS_L1, 1, -1, 1, 2, 3},
        {DC_LOSS_SMOOTH_L1, 0.5, -2, 2, -1, 1},
        {DC_LOSS_HUBER, 0.8, -2, 2, -1, 1},
        {DC_LOSS_BCE, 1, 0.1, 0.9, 0, 1},
    };
    for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
        dc_scope *s = dc_scope_begin();
        dc_tensor *in[3] = {gc_input(61 + k, 2, (const int64_t[]){3, 4}, ks[k].xlo, ks[k].xhi,
                                     (int)(k % 2)),
                            gc_input(71 + k, 2, (const int64_t[]){3, 4}, ks[k].ylo, ks[k].yhi, 0),
                            gc_input(81 + k, 1, (const int64_t[]){4}, 0.5, 2, 0)};
        gc_loss_ctx c = {dc_loss_new(ks[k].kind, DC_REDUCTION_MEAN), NULL};
        int n = 2;
        if (ks[k].kind == DC_LOSS_SMOOTH_L1 || ks[k].kind == DC_LOSS_HUBER)
            TU_OK(dc_loss_set_beta(c.loss, ks[k].beta));
        if (ks[k].kind == DC_LOSS_BCE) {
            TU_OK(dc_loss_set_weight(c.loss, in[2]));
            n = 3;
        }
        gc_check(loss_fn, in, n, &c);
        dc_loss_release(c.loss);
        dc_scope_end(s);
    }
}
END_TEST

/* ---------------------------------------------------------------- */
/* Bad input                                                         */
/* ---------------------------------------------------------------- */

START_TEST(bad_new_and_release) {
    TU_NULL_WITH(dc_loss_new((dc_loss_kind)-1, DC_REDUCTION_MEAN), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_new((dc_loss_kind)8, DC_REDUCTION_MEAN), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_new(DC_LOSS_MSE, (dc_reduction)3), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_new(DC_LOSS_MSE, (dc_reduction)-1), DC_E_INVALID);
    dc_loss_release(NULL);
}
END_TEST

START_TEST(bad_options) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *w = tu_f32(1, (const int64_t[]){3}, (const double[]){1, 2, 3});
    dc_tensor *w2 = tu_f32(2, (const int64_t[]){1, 3}, (const double[]){1, 2, 3});
    dc_tensor *wi = tu_i64(1, (const int64_t[]){3}, (const int64_t[]){1, 2, 3});
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    dc_loss *sl1 = dc_loss_new(DC_LOSS_SMOOTH_L1, DC_REDUCTION_MEAN);
    dc_loss *hub = dc_loss_new(DC_LOSS_HUBER, DC_REDUCTION_MEAN);
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *nll = dc_loss_new(DC_LOSS_NLL, DC_REDUCTION_MEAN);
    dc_loss *bce = dc_loss_new(DC_LOSS_BCE, DC_REDUCTION_MEAN);
    dc_loss *bcel = dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN);

    /* NULL handles */
    TU_FAILS(dc_loss_set_beta(NULL, 1.0), DC_E_INVALID);
    TU_FAILS(dc_loss_set_ignore_index(NULL, 1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_label_smoothing(NULL, 0.1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_weight(NULL, w), DC_E_INVALID);
    TU_FAILS(dc_loss_set_pos_weight(NULL, w), DC_E_INVALID);
    /* options on the wrong kind of loss */
    TU_FAILS(dc_loss_set_beta(mse, 1.0), DC_E_INVALID);
    TU_FAILS(dc_loss_set_beta(ce, 1.0), DC_E_INVALID);
    TU_FAILS(dc_loss_set_ignore_index(mse, 1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_ignore_index(bce, 1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_label_smoothing(mse, 0.1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_label_smoothing(nll, 0.1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_weight(mse, w), DC_E_INVALID);
    TU_FAILS(dc_loss_set_weight(hub, w), DC_E_INVALID);
    TU_FAILS(dc_loss_set_pos_weight(bce, w), DC_E_INVALID);
    TU_FAILS(dc_loss_set_pos_weight(ce, w), DC_E_INVALID);
    /* bad values */
    TU_FAILS(dc_loss_set_beta(sl1, -0.5), DC_E_INVALID);
    TU_FAILS(dc_loss_set_beta(sl1, NAN), DC_E_INVALID);
    TU_FAILS(dc_loss_set_beta(sl1, INFINITY), DC_E_INVALID);
    TU_FAILS(dc_loss_set_beta(hub, 0.0), DC_E_INVALID);
    TU_OK(dc_loss_set_beta(sl1, 0.0));              /* smooth L1 takes 0: L1 */
    TU_FAILS(dc_loss_set_label_smoothing(ce, -0.1), DC_E_INVALID);
    TU_FAILS(dc_loss_set_label_smoothing(ce, 1.5), DC_E_INVALID);
    TU_FAILS(dc_loss_set_label_smoothing(ce, NAN), DC_E_INVALID);
    TU_OK(dc_loss_set_label_smoothing(ce, 1.0));
    TU_FAILS(dc_loss_set_weight(ce, wi), DC_E_DTYPE);
    TU_FAILS(dc_loss_set_weight(ce, w2), DC_E_SHAPE);
    TU_OK(dc_loss_set_weight(bce, w2));             /* elementwise weights: any shape */
    TU_FAILS(dc_loss_set_pos_weight(bcel, wi), DC_E_DTYPE);

    dc_loss_release(mse);
    dc_loss_release(sl1);
    dc_loss_release(hub);
    dc_loss_release(ce);
    dc_loss_release(nll);
    dc_loss_release(bce);
    dc_loss_release(bcel);
    dc_scope_end(s);
}
END_TEST

/* Forward on loss-independent bad input: handles, dtypes, shapes. */
START_TEST(bad_forward_elementwise) {
    dc_scope *s = dc_scope_begin();
    const int64_t shape[2] = {2, 3};
    dc_tensor *x = tu_f32(2, shape, (const double[]){0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
    dc_tensor *x64 = dc_cast(x, DC_F64);
    dc_tensor *xi = tu_i64(2, shape, (const int64_t[]){0, 1, 0, 1, 0, 1});
    dc_tensor *y_short = tu_f32(1, (const int64_t[]){3}, (const double[]){0, 1, 0});
    dc_tensor *y_t = dc_transpose(x, 0, 1);
    dc_loss *mse = dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN);
    TU_NULL_WITH(dc_loss_forward(NULL, x, x), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_forward(mse, NULL, x), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_forward(mse, x, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_loss_forward(mse, xi, xi), DC_E_DTYPE);
    TU_NULL_WITH(dc_loss_forward(mse, x, x64), DC_E_DTYPE);
    TU_NULL_WITH(dc_loss_forward(mse, x, y_short), DC_E_SHAPE);   /* no broadcasting */
    TU_NULL_WITH(dc_loss_forward(mse, x, y_t), DC_E_SHAPE);
    /* a NULL from a failed op keeps that op's error */
    dc_clear_error();
    ck_assert_ptr_null(dc_loss_forward(mse, dc_log(xi), x));
    ck_assert_int_eq(dc_last_status(), DC_E_DTYPE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_log"));

    /* BCE: probabilities only, weights that broadcast to the input */
    dc_loss *bce = dc_loss_new(DC_LOSS_BCE, DC_REDUCTION_SUM);
    dc_tensor *bad_p = tu_f32(2, shape, (const double[]){0.1, 1.5, 0.3, 0.4, 0.5, 0.6});
    TU_NULL_WITH(dc_loss_forward(bce, bad_p, x), DC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "1.5"));
    dc_tensor *nan_p = tu_f32(2, shape, (const double[]){0.1, 0.2, NAN, 0.4, 0.5, 0.6});
    TU_NULL_WITH(dc_loss_forward(bce, nan_p, x), DC_E_RANGE);
    TU_OK(dc_loss_set_weight(bce, tu_f32(1, (const int64_t[]){2}, (const double[]){1, 2})));
    TU_NULL_WITH(dc_loss_forward(bce, x, x), DC_E_SHAPE);
    TU_OK(dc_loss_set_weight(bce, dc_ones(DC_F32, 3, (const int64_t[]){2, 2, 3})));
    TU_NULL_WITH(dc_loss_forward(bce, x, x), DC_E_SHAPE);        /* would grow the input */
    TU_OK(dc_loss_set_weight(bce, dc_ones(DC_F64, 1, (const int64_t[]){3})));
    TU_NULL_WITH(dc_loss_forward(bce, x, x), DC_E_DTYPE);

    dc_loss *bcel = dc_loss_new(DC_LOSS_BCE_WITH_LOGITS, DC_REDUCTION_MEAN);
    TU_OK(dc_loss_set_pos_weight(bcel, dc_ones(DC_F32, 1, (const int64_t[]){2})));
    TU_NULL_WITH(dc_loss_forward(bcel, x, x), DC_E_SHAPE);
    TU_OK(dc_loss_set_pos_weight(bcel, dc_ones(DC_F64, 1, (const int64_t[]){3})));
    TU_NULL_WITH(dc_loss_forward(bcel, x, x), DC_E_DTYPE);
    TU_OK(dc_loss_set_pos_weight(bcel, NULL));
    TU_OK(dc_loss_set_weight(bcel, dc_ones(DC_F32, 1, (const int64_t[]){4})));
    TU_NULL_WITH(dc_loss_forward(bcel, x, x), DC_E_SHAPE);
    dc_loss_release(mse);
    dc_loss_release(bce);
    dc_loss_release(bcel);
    dc_scope_end(s);
}
END_TEST

START_TEST(bad_forward_classes) {
    dc_scope *s = dc_scope_begin();
    const int64_t xs[2] = {2, 3};
    dc_tensor *x = tu_f32(2, xs, (const double[]){0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
    dc_tensor *y = tu_i64(1, (const int64_t[]){2}, (const int64_t[]){0, 2});
    dc_loss *ce = dc_loss_new(DC_LOSS_CROSS_ENTROPY, DC_REDUCTION_MEAN);
    dc_loss *nll = dc_loss_new(DC_LOSS_NLL, DC_REDUCTION_MEAN);
    ck_assert_ptr_nonnull(dc_loss_forward(ce, x, y));
    /* target dtypes */
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_cast(y, DC_U8)), DC_E_DTYPE);
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_gt(x, x)), DC_E_DTYPE);
    TU_NULL_WITH(dc_loss_forward(nll, x, dc_softmax(x, 1)), DC_E_DTYPE);   /* NLL: indices only */
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_cast(x, DC_F64)), DC_E_DTYPE);
    TU_NULL_WITH(dc_loss_forward(ce, dc_cast(x, DC_I64), y), DC_E_DTYPE);
    /* target shapes */
    TU_NULL_WITH(dc_loss_forward(ce, x, tu_i64(1, (const int64_t[]){3},
                                               (const int64_t[]){0, 1, 2})), DC_E_SHAPE);
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_reshape(y, 2, (const int64_t[]){2, 1})), DC_E_SHAPE);
    TU_NULL_WITH(dc_loss_forward(nll, x, dc_scalar(DC_I64, 0)), DC_E_SHAPE);
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_transpose(x, 0, 1)), DC_E_SHAPE);   /* probs */
    TU_NULL_WITH(dc_loss_forward(ce, dc_scalar(DC_F32, 1), dc_scalar(DC_I64, 0)), DC_E_SHAPE);
    TU_NULL_WITH(dc_loss_forward(ce, dc_ones(DC_F32, 1, (const int64_t[]){3}), y), DC_E_SHAPE);
    TU_NULL_WITH(dc_loss_forward(ce, dc_ones(DC_F32, 2, (const int64_t[]){2, 0}),
                                 dc_zeros(DC_I64, 1, (const int64_t[]){2})), DC_E_SHAPE);
    /* class indices out of range name the value; ignore_index is allowed */
    TU_NULL_WITH(dc_loss_forward(ce, x, tu_i64(1, (const int64_t[]){2},
                                               (const int64_t[]){0, 3})), DC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), " 3 "));
    TU_NULL_WITH(dc_loss_forward(nll, x, tu_i64(1, (const int64_t[]){2},
                                                (const int64_t[]){-1, 0})), DC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "-1"));
    dc_tensor *y32 = dc_cast(tu_i64(1, (const int64_t[]){2}, (const int64_t[]){7, 0}), DC_I32);
    TU_NULL_WITH(dc_loss_forward(ce, x, y32), DC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "7"));
    TU_OK(dc_loss_set_ignore_index(ce, 7));
    ck_assert_ptr_nonnull(dc_loss_forward(ce, x, y32));
    TU_NULL_WITH(dc_loss_forward(ce, x, tu_i64(1, (const int64_t[]){2},
                                               (const int64_t[]){-100, 0})), DC_E_RANGE);
    /* class weights: length C and the input's dtype */
    TU_OK(dc_loss_set_weight(nll, tu_f32(1, (const int64_t[]){2}, (const double[]){1, 2})));
    TU_NULL_WITH(dc_loss_forward(nll, x, y), DC_E_SHAPE);
    TU_OK(dc_loss_set_weight(nll, dc_ones(DC_F64, 1, (const int64_t[]){3})));
    TU_NULL_WITH(dc_loss_forward(nll, x, y), DC_E_DTYPE);
    TU_OK(dc_loss_set_weight(ce, dc_ones(DC_F64, 1, (const int64_t[]){3})));
    TU_NULL_WITH(dc_loss_forward(ce, x, dc_softmax(x, 1)), DC_E_DTYPE);   /* probs too */
    dc_loss_release(ce);
    dc_loss_release(nll);
    dc_scope_end(s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tu_tcase("torch");
    tcase_add_loop_test(tc, matches_torch, 0, N_CASES);
    tcase_add_test(tc, table_covers_kinds);
    suite_add_tcase(s, tc);
    tc = tu_tcase("edges");
    tcase_add_test(tc, all_ignored);
    tcase_add_test(tc, cross_entropy_rows_split_over_threads);
    tcase_add_test(tc, empty_batch);
    tcase_add_test(tc, bce_clamps_log);
    tcase_add_test(tc, bce_with_logits_at_zero);
    tcase_add_test(tc, weight_is_a_reference);
    tcase_add_test(tc, result_outlives_private_scope);
    suite_add_tcase(s, tc);
    tc = tu_tcase("gradcheck");
    tcase_add_test(tc, gradcheck_cross_entropy);
    tcase_add_test(tc, gradcheck_cross_entropy_spatial);
    tcase_add_test(tc, gradcheck_cross_entropy_probs);
    tcase_add_test(tc, gradcheck_nll);
    tcase_add_test(tc, gradcheck_bce_with_logits);
    tcase_add_test(tc, gradcheck_elementwise);
    suite_add_tcase(s, tc);
    tc = tu_tcase("bad_input");
    tcase_add_test(tc, bad_new_and_release);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, bad_forward_elementwise);
    tcase_add_test(tc, bad_forward_classes);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
