/* Optimizers, learning-rate schedules and gradient clipping, against
 * PyTorch 1.13 (fixtures written by tests/fixtures/gen_optim.py; the
 * configurations below must match that script's). */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The model: loss = mean((x @ W.T + b - y)^2), params [W, b, u]       */
/* ------------------------------------------------------------------ */

#define NW 12
#define NB 3
#define NP (NW + NB)
#define STEPS 10

typedef struct model {
    dc_tensor *W, *b, *u, *x, *y;
} model;

/* Tensors belong to the caller's open scope. */
static void model_init(model *m, dc_dtype dt, bool noncontig_w) {
    double *init = tu_read_fixture("optim_init.f64", 52 * sizeof(double));
    int64_t sw[2] = {3, 4}, sb[1] = {3}, sx[2] = {5, 4}, sy[2] = {5, 3}, su[1] = {2};
    dc_tensor *(*mk)(int, const int64_t *, const double *) = dt == DC_F32 ? tu_f32 : tu_f64;
    m->W = mk(2, sw, init);
    if (noncontig_w) {
        m->W = tu_noncontig(m->W);
        ck_assert(!dc_is_contiguous(m->W));
    }
    m->b = mk(1, sb, init + 12);
    m->x = mk(2, sx, init + 15);
    m->y = mk(2, sy, init + 35);
    m->u = mk(1, su, init + 50);
    free(init);
    TU_NOTNULL(m->u);
    TU_OK(dc_set_requires_grad(m->W, 1));
    TU_OK(dc_set_requires_grad(m->b, 1));
    TU_OK(dc_set_requires_grad(m->u, 1));
}

/* Gradients from our own autodiff. */
static void model_backward(model *m) {
    dc_scope *s = dc_scope_begin();
    dc_tensor *pred = dc_add(dc_matmul(m->x, dc_transpose(m->W, 0, 1)), m->b);
    dc_tensor *loss = dc_mean(dc_square(dc_sub(pred, m->y)), NULL, 0, 0);
    TU_NOTNULL(loss);
    TU_OK(dc_backward(loss, NULL, 0));
    dc_scope_end(s);
}

static void train(dc_optim *o, model *m, int steps) {
    for (int k = 0; k < steps; k++) {
        TU_OK(dc_optim_zero_grad(o));
        model_backward(m);
        TU_OK(dc_optim_step(o));
    }
}

static void model_params(model *m, double out[NP]) {
    TU_OK(dc_copy_to(m->W, DC_F64, out, NW * sizeof(double)));
    TU_OK(dc_copy_to(m->b, DC_F64, out + NW, NB * sizeof(double)));
}

static void read_expected(const char *name, dc_dtype dt, double out[NP]) {
    if (dt == DC_F64) {
        double *v = tu_read_fixture(name, NP * sizeof(double));
        memcpy(out, v, NP * sizeof(double));
        free(v);
    } else {
        float *v = tu_read_fixture(name, NP * sizeof(float));
        for (int i = 0; i < NP; i++) out[i] = v[i];
        free(v);
    }
}

static void assert_near(const double *got, const double *want, int n, double atol, double rtol,
                        const char *what) {
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i]),
                      "%s: element %d: got %.17g, wanted %.17g", what, i, got[i], want[i]);
}

/* u never gets a gradient: it must be untouched and have no state. */
static void assert_u_skipped(dc_optim *o, model *m) {
    double *init = tu_read_fixture("optim_init.f64", 52 * sizeof(double));
    double u[2];
    TU_OK(dc_copy_to(m->u, DC_F64, u, sizeof u));
    ck_assert(u[0] == (double)(dc_tensor_dtype(m->u) == DC_F32 ? (float)init[50] : init[50]));
    ck_assert(u[1] == (double)(dc_tensor_dtype(m->u) == DC_F32 ? (float)init[51] : init[51]));
    free(init);
    int64_t n = dc_optim_state_count(o);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(strncmp(dc_optim_state_name(o, i), "state.2.", 8) != 0,
                      "u got state %s", dc_optim_state_name(o, i));
}

/* ------------------------------------------------------------------ */
/* Configurations (gen_optim.py's CONFIGS)                              */
/* ------------------------------------------------------------------ */

typedef dc_optim *(*make_fn)(dc_tensor *const *p, int n);

static dc_optim *mk_sgd(dc_tensor *const *p, int n) { return dc_sgd_new(p, n, 0.1, 0, 0, 0, 0); }
static dc_optim *mk_sgd_mom(dc_tensor *const *p, int n) {
    return dc_sgd_new(p, n, 0.05, 0.9, 0.3, 0, 0);
}
static dc_optim *mk_sgd_nesterov(dc_tensor *const *p, int n) {
    return dc_sgd_new(p, n, 0.05, 0.8, 0, 0.01, 1);
}
static dc_optim *mk_sgd_wd(dc_tensor *const *p, int n) {
    return dc_sgd_new(p, n, 0.1, 0, 0, 0.05, 0);
}
static dc_optim *mk_adam(dc_tensor *const *p, int n) {
    return dc_adam_new(p, n, 0.01, 0.9, 0.999, 1e-8, 0, 0);
}
static dc_optim *mk_adam_ams(dc_tensor *const *p, int n) {
    return dc_adam_new(p, n, 0.02, 0.8, 0.5, 1e-6, 0, 1);
}
static dc_optim *mk_adam_wd(dc_tensor *const *p, int n) {
    return dc_adam_new(p, n, 0.01, 0.85, 0.99, 1e-8, 0.1, 0);
}
static dc_optim *mk_adamw(dc_tensor *const *p, int n) {
    return dc_adamw_new(p, n, 0.01, 0.9, 0.999, 1e-8, 0.1, 0);
}
static dc_optim *mk_adamw_ams(dc_tensor *const *p, int n) {
    return dc_adamw_new(p, n, 0.02, 0.9, 0.6, 1e-7, 0.05, 1);
}
static dc_optim *mk_rmsprop(dc_tensor *const *p, int n) {
    return dc_rmsprop_new(p, n, 0.01, 0.99, 1e-8, 0, 0, 0);
}
static dc_optim *mk_rmsprop_cm(dc_tensor *const *p, int n) {
    return dc_rmsprop_new(p, n, 0.005, 0.9, 1e-6, 0.05, 0.7, 1);
}
static dc_optim *mk_adagrad(dc_tensor *const *p, int n) {
    return dc_adagrad_new(p, n, 0.1, 0.01, 0.02, 0.1, 1e-10);
}

static const struct {
    const char *name;
    make_fn make;
    const char *state[5];    /* state names of W (parameter 0), PyTorch's order */
} configs[] = {
    {"sgd", mk_sgd, {NULL}},
    {"sgd_mom", mk_sgd_mom, {"momentum_buffer"}},
    {"sgd_nesterov", mk_sgd_nesterov, {"momentum_buffer"}},
    {"sgd_wd", mk_sgd_wd, {NULL}},
    {"adam", mk_adam, {"step", "exp_avg", "exp_avg_sq"}},
    {"adam_ams", mk_adam_ams, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}},
    {"adam_wd", mk_adam_wd, {"step", "exp_avg", "exp_avg_sq"}},
    {"adamw", mk_adamw, {"step", "exp_avg", "exp_avg_sq"}},
    {"adamw_ams", mk_adamw_ams, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}},
    {"rmsprop", mk_rmsprop, {"step", "square_avg"}},
    {"rmsprop_cm", mk_rmsprop_cm, {"step", "square_avg", "momentum_buffer", "grad_avg"}},
    {"adagrad", mk_adagrad, {"step", "sum"}},
};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

static dc_optim *make_for(int ci, model *m) {
    dc_tensor *ps[3] = {m->W, m->b, m->u};
    dc_optim *o = configs[ci].make(ps, 3);
    TU_NOTNULL(o);
    return o;
}

static void run_config(int ci, dc_dtype dt, bool noncontig, double atol, double rtol) {
    dc_scope *s = dc_scope_begin();
    model m;
    model_init(&m, dt, noncontig);
    dc_optim *o = make_for(ci, &m);
    train(o, &m, STEPS);
    double got[NP], want[NP];
    model_params(&m, got);
    char fname[64];
    snprintf(fname, sizeof fname, "optim_%s.%s", configs[ci].name, dt == DC_F64 ? "f64" : "f32");
    read_expected(fname, dt, want);
    assert_near(got, want, NP, atol, rtol, configs[ci].name);
    assert_u_skipped(o, &m);
    dc_optim_release(o);
    dc_scope_end(s);
}

START_TEST(optimizer_matches_torch_f64) { run_config(_i, DC_F64, false, 1e-13, 1e-10); }
END_TEST

START_TEST(optimizer_matches_torch_f32) { run_config(_i, DC_F32, false, 1e-6, 1e-5); }
END_TEST

/* A strided (transposed) parameter is updated through its view. */
START_TEST(optimizer_noncontiguous_param) { run_config(_i, DC_F64, true, 1e-13, 1e-10); }
END_TEST

START_TEST(state_names_in_torch_order) {
    dc_scope *s = dc_scope_begin();
    model m;
    model_init(&m, DC_F64, false);
    dc_optim *o = make_for(_i, &m);
    ck_assert_int_eq(dc_optim_state_count(o), 0);    /* nothing before the first step */
    train(o, &m, 2);
    int per = 0;
    while (per < 5 && configs[_i].state[per]) per++;
    ck_assert_int_eq(dc_optim_state_count(o), 2 * per);   /* W and b; u has no grad */
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < per; k++) {
            char want[64];
            snprintf(want, sizeof want, "state.%d.%s", p, configs[_i].state[k]);
            ck_assert_str_eq(dc_optim_state_name(o, p * per + k), want);
            dc_tensor *t = dc_optim_state_tensor(o, p * per + k);
            TU_NOTNULL(t);
            if (strcmp(configs[_i].state[k], "step") == 0) {
                /* an f32 scalar, as PyTorch 1.13 keeps it */
                ck_assert_int_eq(dc_tensor_dtype(t), DC_F32);
                ck_assert_int_eq(dc_ndim(t), 0);
                double v;
                TU_OK(dc_item(t, &v));
                ck_assert(v == 2.0);
            } else {
                ck_assert_int_eq(dc_tensor_dtype(t), DC_F64);
                tu_assert_shape(t, dc_ndim(p == 0 ? m.W : m.b), dc_shape(p == 0 ? m.W : m.b));
            }
        }
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

/* Saving the state after 5 steps and loading it into a fresh optimizer
 * over copies of the parameters continues bit for bit. */
static void checkpoint_case(int ci, dc_dtype dt) {
    dc_scope *s = dc_scope_begin();
    model a, b;
    model_init(&a, dt, false);
    model_init(&b, dt, false);
    dc_optim *oa = make_for(ci, &a);
    train(oa, &a, 5);

    int64_t n = dc_optim_state_count(oa);
    ck_assert_int_ge(n, 0);
    ck_assert_int_le(n, 16);
    char names[16][48];
    dc_tensor *saved[16];
    for (int64_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s", dc_optim_state_name(oa, i));
        saved[i] = dc_clone(dc_optim_state_tensor(oa, i));   /* its own storage */
        TU_NOTNULL(saved[i]);
    }
    double pa[NP];
    model_params(&a, pa);
    TU_OK(dc_copy_from(b.W, DC_F64, pa, NW * sizeof(double)));
    TU_OK(dc_copy_from(b.b, DC_F64, pa + NW, NB * sizeof(double)));

    dc_optim *ob = make_for(ci, &b);
    for (int64_t i = 0; i < n; i++) TU_OK(dc_optim_state_load(ob, names[i], saved[i]));
    ck_assert_int_eq(dc_optim_state_count(ob), n);
    for (int64_t i = 0; i < n; i++) ck_assert_str_eq(dc_optim_state_name(ob, i), names[i]);

    train(oa, &a, STEPS - 5);
    train(ob, &b, STEPS - 5);
    double ga[NP], gb[NP];
    model_params(&a, ga);
    model_params(&b, gb);
    ck_assert_msg(memcmp(ga, gb, sizeof ga) == 0, "%s: resumed run differs", configs[ci].name);
    for (int64_t i = 0; i < n; i++) {
        double va[32], vb[32];
        dc_tensor *ta = dc_optim_state_tensor(oa, i), *tb = dc_optim_state_tensor(ob, i);
        int64_t k = dc_numel(ta);
        TU_OK(dc_copy_to(ta, DC_F64, va, (size_t)k * sizeof(double)));
        TU_OK(dc_copy_to(tb, DC_F64, vb, (size_t)k * sizeof(double)));
        ck_assert_msg(memcmp(va, vb, (size_t)k * sizeof(double)) == 0, "state %s differs",
                      names[i]);
    }
    /* and both still agree with PyTorch's ten steps */
    double want[NP];
    char fname[64];
    snprintf(fname, sizeof fname, "optim_%s.%s", configs[ci].name, dt == DC_F64 ? "f64" : "f32");
    read_expected(fname, dt, want);
    assert_near(gb, want, NP, dt == DC_F64 ? 1e-13 : 1e-6, dt == DC_F64 ? 1e-10 : 1e-5,
                configs[ci].name);
    dc_optim_release(oa);
    dc_optim_release(ob);
    dc_scope_end(s);
}

START_TEST(checkpoint_resumes_bit_for_bit) {
    checkpoint_case(_i % NCONFIGS, _i < NCONFIGS ? DC_F64 : DC_F32);
}
END_TEST

/* The tensors of dc_optim_state_tensor are the live state. */
START_TEST(state_tensor_is_live) {
    dc_scope *s = dc_scope_begin();
    model m;
    model_init(&m, DC_F64, false);
    dc_optim *o = mk_adam((dc_tensor *[]){m.W, m.b, m.u}, 3);
    TU_NOTNULL(o);
    train(o, &m, 1);
    ck_assert_str_eq(dc_optim_state_name(o, 1), "state.0.exp_avg");
    TU_OK(dc_fill(dc_optim_state_tensor(o, 1), 0.25));
    double v[NW];
    TU_OK(dc_copy_to(dc_optim_state_tensor(o, 1), DC_F64, v, sizeof v));
    for (int i = 0; i < NW; i++) ck_assert(v[i] == 0.25);
    /* a state load before the first step creates the entry */
    dc_optim *o2 = mk_adam((dc_tensor *[]){m.W, m.b, m.u}, 3);
    TU_OK(dc_optim_state_load(o2, "state.2.step", dc_scalar(DC_F64, 7)));
    ck_assert_int_eq(dc_optim_state_count(o2), 1);
    ck_assert_str_eq(dc_optim_state_name(o2, 0), "state.2.step");
    double step;
    TU_OK(dc_item(dc_optim_state_tensor(o2, 0), &step));
    ck_assert(step == 7.0);
    dc_optim_release(o);
    dc_optim_release(o2);
    dc_scope_end(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Two parameter groups (gen_optim.py's GROUP_CONFIGS)                 */
/* ------------------------------------------------------------------ */

START_TEST(two_groups_match_torch) {
    static const char *names[] = {"sgd_mom", "adam", "adamw"};
    dc_scope *s = dc_scope_begin();
    model m;
    model_init(&m, DC_F64, false);
    dc_tensor *first[2] = {m.W, m.u};
    dc_optim *o = NULL;
    double lr = 0, wd = 0;
    switch (_i) {
    case 0: o = dc_sgd_new(first, 2, 0.05, 0.9, 0, 0.01, 0); lr = 0.2; wd = 0; break;
    case 1: o = dc_adam_new(first, 2, 0.01, 0.9, 0.999, 1e-8, 0, 0); lr = 0.05; wd = 0.1; break;
    default: o = dc_adamw_new(first, 2, 0.01, 0.9, 0.999, 1e-8, 0.1, 0); lr = 0.03; wd = 0; break;
    }
    TU_NOTNULL(o);
    int g = -1;
    TU_OK(dc_optim_add_group(o, &m.b, 1, lr, wd, &g));
    ck_assert_int_eq(g, 1);
    ck_assert_int_eq(dc_optim_group_count(o), 2);
    ck_assert(dc_optim_get_lr(o, 1) == lr);
    train(o, &m, STEPS);
    double got[NP], want[NP];
    model_params(&m, got);
    char fname[64];
    snprintf(fname, sizeof fname, "optim_grp_%s.f64", names[_i]);
    read_expected(fname, DC_F64, want);
    assert_near(got, want, NP, 1e-13, 1e-10, names[_i]);
    /* b is parameter 2 (after the first group's W and u) */
    ck_assert_str_eq(dc_optim_state_name(o, dc_optim_state_count(o) - 1),
                     _i == 0 ? "state.2.momentum_buffer" : "state.2.exp_avg_sq");
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Behaviour                                                           */
/* ------------------------------------------------------------------ */

START_TEST(step_makes_stale_graph_detectable) {
    dc_scope *s = dc_scope_begin();
    int64_t shape[1] = {3};
    dc_tensor *w = tu_f64(1, shape, (double[]){1, -2, 3});
    TU_OK(dc_set_requires_grad(w, 1));
    TU_OK(dc_backward(dc_sum(dc_square(w), NULL, 0, 0), NULL, 0));
    dc_tensor *later = dc_sum(dc_mul(w, w), NULL, 0, 0);   /* records w's version */
    TU_NOTNULL(later);
    dc_optim *o = dc_sgd_new(&w, 1, 0.1, 0, 0, 0, 0);
    TU_NOTNULL(o);
    TU_OK(dc_optim_step(o));
    /* w = w - 0.1 * 2w */
    tu_assert_values(w, (double[]){0.8, -1.6, 2.4}, 3, 1e-15, 1e-15);
    TU_FAILS(dc_backward(later, NULL, 0), DC_E_STATE);
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

START_TEST(zero_grad_drops_gradients) {
    dc_scope *s = dc_scope_begin();
    model m;
    model_init(&m, DC_F64, false);
    dc_optim *o = mk_sgd((dc_tensor *[]){m.W, m.b, m.u}, 3);
    TU_NOTNULL(o);
    model_backward(&m);
    TU_NOTNULL(dc_grad(m.W));
    TU_OK(dc_optim_zero_grad(o));
    TU_NULL_WITH(dc_grad(m.W), DC_E_STATE);
    TU_NULL_WITH(dc_grad(m.b), DC_E_STATE);
    /* a step without gradients changes nothing */
    double before[NP], after[NP];
    model_params(&m, before);
    TU_OK(dc_optim_step(o));
    model_params(&m, after);
    ck_assert(memcmp(before, after, sizeof before) == 0);
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

/* A parameter that does not require grad is accepted (as PyTorch does)
 * and never moves. */
START_TEST(param_without_requires_grad_is_accepted) {
    dc_scope *s = dc_scope_begin();
    int64_t shape[1] = {2};
    dc_tensor *a = tu_f32(1, shape, (double[]){1, 2});
    dc_optim *o = dc_adam_new(&a, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    TU_NOTNULL(o);
    TU_OK(dc_optim_step(o));
    tu_assert_values(a, (double[]){1, 2}, 2, 0, 0);
    ck_assert_int_eq(dc_optim_state_count(o), 0);
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

START_TEST(set_and_get_lr) {
    dc_scope *s = dc_scope_begin();
    int64_t shape[1] = {2};
    dc_tensor *a = tu_f64(1, shape, (double[]){1, 2});
    TU_OK(dc_set_requires_grad(a, 1));
    dc_optim *o = dc_sgd_new(&a, 1, 0.5, 0, 0, 0, 0);
    TU_NOTNULL(o);
    ck_assert(dc_optim_get_lr(o, 0) == 0.5);
    TU_OK(dc_optim_set_lr(o, 0, 0.25));
    ck_assert(dc_optim_get_lr(o, 0) == 0.25);
    TU_OK(dc_backward(a, tu_f64(1, shape, (double[]){4, -8}), 0));
    TU_OK(dc_optim_step(o));
    tu_assert_values(a, (double[]){0, 4}, 2, 0, 0);
    dc_optim_release(o);
    dc_scope_end(s);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Schedules (gen_optim.py's SCHEDS)                                    */
/* ------------------------------------------------------------------ */

static const char *sched_names[] = {"step", "exp", "cosine", "linear", "linear_down", "seq",
                                    "seq3"};
#define NSCHEDS ((int)(sizeof sched_names / sizeof sched_names[0]))
#define SCHED_LEN 31

static dc_sched *make_sched(int k, dc_optim *o) {
    dc_sched *s = NULL;
    switch (k) {
    case 0: s = dc_sched_step_lr_new(o, 7, 0.5); break;
    case 1: s = dc_sched_exponential_new(o, 0.9); break;
    case 2: s = dc_sched_cosine_new(o, 10, 0.001); break;
    case 3: s = dc_sched_linear_new(o, 0.25, 1.0, 8); break;
    case 4: s = dc_sched_linear_new(o, 1.0, 0.1, 12); break;
    case 5: {
        dc_sched *sub[2] = {dc_sched_linear_new(o, 0.1, 1.0, 5), dc_sched_cosine_new(o, 15, 0.0005)};
        TU_NOTNULL(sub[0]);
        TU_NOTNULL(sub[1]);
        s = dc_sched_sequential_new(o, sub, 2, (int64_t[]){5});
        dc_sched_release(sub[0]);     /* the sequential schedule keeps its own */
        dc_sched_release(sub[1]);
        break;
    }
    default: {
        dc_sched *sub[3] = {dc_sched_exponential_new(o, 0.8), dc_sched_step_lr_new(o, 4, 0.5),
                            dc_sched_linear_new(o, 0.5, 1.0, 4)};
        s = dc_sched_sequential_new(o, sub, 3, (int64_t[]){6, 15});
        for (int i = 0; i < 3; i++) dc_sched_release(sub[i]);
        break;
    }
    }
    TU_NOTNULL(s);
    return s;
}

/* An SGD with groups of lr 0.1 and 0.02 over tensors of the open scope. */
static dc_optim *sched_optim(void) {
    int64_t shape[1] = {2};
    dc_tensor *p = dc_zeros(DC_F64, 1, shape), *q = dc_zeros(DC_F64, 1, shape);
    TU_NOTNULL(q);
    dc_optim *o = dc_sgd_new(&p, 1, 0.1, 0, 0, 0, 0);
    TU_NOTNULL(o);
    TU_OK(dc_optim_add_group(o, &q, 1, 0.02, 0, NULL));
    return o;
}

static double *sched_expected(int k) {
    char fname[64];
    snprintf(fname, sizeof fname, "optim_sched_%s.f64", sched_names[k]);
    return tu_read_fixture(fname, SCHED_LEN * 2 * sizeof(double));
}

static void assert_lrs(dc_optim *o, const double *want, int epoch, const char *name) {
    for (int g = 0; g < 2; g++) {
        double got = dc_optim_get_lr(o, g), w = want[2 * epoch + g];
        ck_assert_msg(fabs(got - w) <= 1e-12 * fabs(w) + 1e-300,
                      "%s epoch %d group %d: lr %.17g, wanted %.17g", name, epoch, g, got, w);
    }
}

START_TEST(schedule_matches_torch) {
    dc_scope *scope = dc_scope_begin();
    double *want = sched_expected(_i);
    dc_optim *o = sched_optim();
    dc_sched *s = make_sched(_i, o);
    ck_assert_int_eq(dc_sched_last_epoch(s), 0);
    assert_lrs(o, want, 0, sched_names[_i]);
    for (int e = 1; e < SCHED_LEN; e++) {
        TU_OK(dc_optim_step(o));
        TU_OK(dc_sched_step(s));
        ck_assert_int_eq(dc_sched_last_epoch(s), e);
        assert_lrs(o, want, e, sched_names[_i]);
    }
    free(want);
    dc_sched_release(s);
    dc_optim_release(o);
    dc_scope_end(scope);
}
END_TEST

START_TEST(schedule_jumps_with_set_last_epoch) {
    static const int epochs[] = {0, 3, 5, 7, 12, 14, 15, 29, 6};
    dc_scope *scope = dc_scope_begin();
    double *want = sched_expected(_i);
    for (size_t j = 0; j < sizeof epochs / sizeof epochs[0]; j++) {
        dc_optim *o = sched_optim();
        dc_sched *s = make_sched(_i, o);
        TU_OK(dc_sched_set_last_epoch(s, epochs[j]));
        ck_assert_int_eq(dc_sched_last_epoch(s), epochs[j]);
        assert_lrs(o, want, epochs[j], sched_names[_i]);
        TU_OK(dc_sched_step(s));
        assert_lrs(o, want, epochs[j] + 1, sched_names[_i]);
        dc_sched_release(s);
        dc_optim_release(o);
    }
    free(want);
    dc_scope_end(scope);
}
END_TEST

/* A schedule keeps its optimizer alive; groups added later keep their lr. */
START_TEST(schedule_owns_its_optimizer) {
    dc_scope *scope = dc_scope_begin();
    dc_optim *o = sched_optim();
    dc_sched *s = dc_sched_exponential_new(o, 0.5);
    TU_NOTNULL(s);
    int64_t shape[1] = {1};
    dc_tensor *r = dc_zeros(DC_F32, 1, shape);
    TU_OK(dc_optim_add_group(o, &r, 1, 0.3, 0, NULL));
    dc_optim_release(o);                /* the schedule still holds it */
    TU_OK(dc_sched_step(s));
    TU_OK(dc_sched_step(s));
    dc_sched_release(s);
    dc_scope_end(scope);
}
END_TEST

START_TEST(schedule_groups_added_later_are_left_alone) {
    dc_scope *scope = dc_scope_begin();
    dc_optim *o = sched_optim();
    dc_sched *s = dc_sched_exponential_new(o, 0.5);
    TU_NOTNULL(s);
    int64_t shape[1] = {1};
    dc_tensor *r = dc_zeros(DC_F32, 1, shape);
    TU_OK(dc_optim_add_group(o, &r, 1, 0.3, 0, NULL));
    TU_OK(dc_sched_step(s));
    ck_assert(dc_optim_get_lr(o, 0) == 0.05);
    ck_assert(dc_optim_get_lr(o, 2) == 0.3);
    dc_sched_release(s);
    dc_optim_release(o);
    dc_scope_end(scope);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Clipping (gen_optim.py's clipping())                                */
/* ------------------------------------------------------------------ */

#define NCLIP 23

/* ps[0..2] get the fixture's gradients, ps[3] none. */
static void clip_setup(dc_tensor *ps[4], dc_dtype dt) {
    double *g = tu_read_fixture("optim_clip_in.f64", NCLIP * sizeof(double));
    int64_t s1[2] = {3, 4}, s2[1] = {5}, s3[2] = {2, 3}, s4[1] = {2};
    const int64_t *shapes[4] = {s1, s2, s3, s4};
    int nd[4] = {2, 1, 2, 1};
    int off = 0;
    for (int i = 0; i < 4; i++) {
        ps[i] = dc_zeros(dt, nd[i], shapes[i]);
        TU_NOTNULL(ps[i]);
        TU_OK(dc_set_requires_grad(ps[i], 1));
        if (i == 3) break;
        dc_tensor *gt = dt == DC_F32 ? tu_f32(nd[i], shapes[i], g + off)
                                     : tu_f64(nd[i], shapes[i], g + off);
        TU_OK(dc_backward(ps[i], gt, 0));
        off += (int)dc_numel(gt);
    }
    free(g);
}

static void clip_grads(dc_tensor *ps[4], double out[NCLIP]) {
    int off = 0;
    for (int i = 0; i < 3; i++) {
        dc_tensor *g = dc_grad(ps[i]);
        TU_NOTNULL(g);
        TU_OK(dc_copy_to(g, DC_F64, out + off, (size_t)dc_numel(g) * sizeof(double)));
        off += (int)dc_numel(g);
    }
}

START_TEST(clip_grad_norm_matches_torch) {
    static const struct {
        const char *name;
        double max_norm, norm_type;
    } cases[] = {{"l2", 1.0, 2.0},
                 {"l1", 2.0, 1.0},
                 {"linf", 0.5, INFINITY},
                 {"l2_noclip", 1e3, 2.0},
                 {"l3", 1.5, 3.0}};
    dc_scope *scope = dc_scope_begin();
    dc_tensor *ps[4];
    clip_setup(ps, DC_F64);
    char fname[64];
    snprintf(fname, sizeof fname, "optim_clip_%s.f64", cases[_i].name);
    double *want = tu_read_fixture(fname, (NCLIP + 1) * sizeof(double));
    double total = -1, got[NCLIP];
    TU_OK(dc_clip_grad_norm(ps, 4, cases[_i].max_norm, cases[_i].norm_type, &total));
    assert_near(&total, want, 1, 0, 1e-13, "total norm");
    clip_grads(ps, got);
    assert_near(got, want + 1, NCLIP, 1e-15, 1e-12, cases[_i].name);
    TU_NULL_WITH(dc_grad(ps[3]), DC_E_STATE);     /* skipped, no gradient made */
    free(want);
    dc_scope_end(scope);
}
END_TEST

START_TEST(clip_grad_norm_f32) {
    dc_scope *scope = dc_scope_begin();
    dc_tensor *ps[4];
    clip_setup(ps, DC_F32);
    float *w32 = tu_read_fixture("optim_clip_l2.f32", (NCLIP + 1) * sizeof(float));
    double want[NCLIP + 1], total = -1, got[NCLIP];
    for (int i = 0; i <= NCLIP; i++) want[i] = w32[i];
    free(w32);
    TU_OK(dc_clip_grad_norm(ps, 4, 1.0, 2.0, &total));
    assert_near(&total, want, 1, 0, 1e-6, "total norm");
    clip_grads(ps, got);
    assert_near(got, want + 1, NCLIP, 1e-7, 1e-5, "l2 f32");
    dc_scope_end(scope);
}
END_TEST

START_TEST(clip_grad_value_matches_torch) {
    dc_scope *scope = dc_scope_begin();
    dc_tensor *ps[4];
    clip_setup(ps, DC_F64);
    double *want = tu_read_fixture("optim_clipval.f64", NCLIP * sizeof(double));
    double got[NCLIP];
    TU_OK(dc_clip_grad_value(ps, 4, 0.7));
    clip_grads(ps, got);
    assert_near(got, want, NCLIP, 0, 0, "clip value");
    free(want);
    dc_scope_end(scope);
}
END_TEST

START_TEST(clip_without_gradients) {
    dc_scope *scope = dc_scope_begin();
    int64_t shape[1] = {2};
    dc_tensor *p = dc_zeros(DC_F64, 1, shape);
    double total = -1;
    TU_OK(dc_clip_grad_norm(&p, 1, 1.0, 2.0, &total));
    ck_assert(total == 0.0);
    TU_OK(dc_clip_grad_norm(NULL, 0, 1.0, 2.0, NULL));
    TU_OK(dc_clip_grad_value(&p, 1, 0.5));
    dc_scope_end(scope);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Bad input                                                           */
/* ------------------------------------------------------------------ */

START_TEST(bad_constructor_input) {
    dc_scope *scope = dc_scope_begin();
    int64_t shape[1] = {2};
    dc_tensor *a = dc_zeros(DC_F64, 1, shape), *b = dc_zeros(DC_F32, 1, shape);
    TU_OK(dc_set_requires_grad(a, 1));
    dc_tensor *ints = dc_zeros(DC_I64, 1, shape);
    dc_tensor *computed = dc_mul_scalar(a, 2.0);
    dc_tensor *alias = dc_detach(a);
    int64_t one = 1;
    dc_tensor *expanded = dc_expand(dc_zeros(DC_F64, 1, &one), 1, shape);
    TU_NOTNULL(expanded);
    dc_tensor *ok[2] = {a, b};

    TU_NULL_WITH(dc_sgd_new(NULL, 1, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 0, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new((dc_tensor *[]){a, NULL}, 2, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(&ints, 1, 0.1, 0, 0, 0, 0), DC_E_DTYPE);
    TU_NULL_WITH(dc_sgd_new(&computed, 1, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new((dc_tensor *[]){a, b, a}, 3, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new((dc_tensor *[]){a, alias}, 2, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(&expanded, 1, 0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, -0.1, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, NAN, 0, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, 0.1, -0.5, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, 0.1, 0, 0, -1e-3, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, 0.1, 0, INFINITY, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sgd_new(ok, 2, 0.1, 0, 0, 0, 1), DC_E_INVALID);     /* nesterov, no momentum */
    TU_NULL_WITH(dc_sgd_new(ok, 2, 0.1, 0.9, 0.1, 0, 1), DC_E_INVALID); /* nesterov, dampening */

    TU_NULL_WITH(dc_adam_new(ok, 2, -1, 0.9, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(ok, 2, 0.1, 1.0, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(ok, 2, 0.1, -0.1, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(ok, 2, 0.1, 0.9, 1.5, 1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(ok, 2, 0.1, 0.9, 0.999, -1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(ok, 2, 0.1, 0.9, 0.999, 1e-8, -0.1, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adam_new(NULL, 2, 0.1, 0.9, 0.999, 1e-8, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adamw_new(ok, 2, 0.1, 0.9, NAN, 1e-8, 0.01, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adamw_new(ok, 2, 0.1, 0.9, 0.999, 1e-8, -0.01, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_adamw_new(&ints, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, 0), DC_E_DTYPE);

    TU_NULL_WITH(dc_rmsprop_new(ok, 2, 0.01, 1.5, 1e-8, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_rmsprop_new(ok, 2, 0.01, -0.1, 1e-8, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_rmsprop_new(ok, 2, 0.01, 0.99, -1, 0, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_rmsprop_new(ok, 2, 0.01, 0.99, 1e-8, 0, -0.9, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_rmsprop_new(ok, 0, 0.01, 0.99, 1e-8, 0, 0, 0), DC_E_INVALID);

    TU_NULL_WITH(dc_adagrad_new(ok, 2, 0.1, -0.01, 0, 0, 1e-10), DC_E_INVALID);
    TU_NULL_WITH(dc_adagrad_new(ok, 2, 0.1, 0, 0, -0.1, 1e-10), DC_E_INVALID);
    TU_NULL_WITH(dc_adagrad_new(ok, 2, 0.1, 0, 0, 0, -1), DC_E_INVALID);
    TU_NULL_WITH(dc_adagrad_new(ok, 2, -0.1, 0, 0, 0, 1e-10), DC_E_INVALID);
    TU_NULL_WITH(dc_adagrad_new((dc_tensor *[]){a, a}, 2, 0.1, 0, 0, 0, 1e-10), DC_E_INVALID);

    dc_optim_release(NULL);          /* no-op */
    dc_scope_end(scope);
}
END_TEST

START_TEST(bad_optimizer_calls) {
    dc_scope *scope = dc_scope_begin();
    int64_t shape[1] = {2};
    dc_tensor *a = dc_zeros(DC_F64, 1, shape), *b = dc_zeros(DC_F64, 1, shape);
    dc_tensor *c = dc_zeros(DC_F64, 1, shape);
    dc_tensor *ints = dc_zeros(DC_I32, 1, shape);
    TU_OK(dc_set_requires_grad(a, 1));
    dc_optim *o = dc_adam_new(&a, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0);
    TU_NOTNULL(o);

    TU_FAILS(dc_optim_add_group(NULL, &b, 1, 0.1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, NULL, 1, 0.1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, &b, 0, 0.1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, &a, 1, 0.1, 0, NULL), DC_E_INVALID);   /* already in */
    TU_FAILS(dc_optim_add_group(o, (dc_tensor *[]){b, b}, 2, 0.1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, &b, 1, -0.1, 0, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, &b, 1, 0.1, -1, NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_add_group(o, &ints, 1, 0.1, 0, NULL), DC_E_DTYPE);
    ck_assert_int_eq(dc_optim_group_count(o), 1);        /* nothing was added */
    int g = -1;
    TU_OK(dc_optim_add_group(o, (dc_tensor *[]){b, c}, 2, 0.1, 0, &g));
    ck_assert_int_eq(g, 1);

    dc_clear_error();
    ck_assert_int_eq(dc_optim_group_count(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_FAILS(dc_optim_set_lr(NULL, 0, 0.1), DC_E_INVALID);
    TU_FAILS(dc_optim_set_lr(o, 2, 0.1), DC_E_RANGE);
    TU_FAILS(dc_optim_set_lr(o, -1, 0.1), DC_E_RANGE);
    TU_FAILS(dc_optim_set_lr(o, 0, -0.1), DC_E_INVALID);
    TU_FAILS(dc_optim_set_lr(o, 0, NAN), DC_E_INVALID);
    dc_clear_error();
    ck_assert(isnan(dc_optim_get_lr(o, 5)));
    ck_assert_int_eq(dc_last_status(), DC_E_RANGE);
    dc_clear_error();
    ck_assert(isnan(dc_optim_get_lr(NULL, 0)));
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_FAILS(dc_optim_step(NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_zero_grad(NULL), DC_E_INVALID);

    dc_clear_error();
    ck_assert_int_eq(dc_optim_state_count(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_NULL_WITH(dc_optim_state_name(NULL, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_optim_state_name(o, 0), DC_E_RANGE);       /* no state yet */
    TU_NULL_WITH(dc_optim_state_tensor(o, 0), DC_E_RANGE);
    TU_NULL_WITH(dc_optim_state_tensor(NULL, 0), DC_E_INVALID);
    TU_OK(dc_backward(a, dc_ones(DC_F64, 1, shape), 0));
    TU_OK(dc_optim_step(o));
    ck_assert_int_eq(dc_optim_state_count(o), 3);
    TU_NULL_WITH(dc_optim_state_name(o, 3), DC_E_RANGE);
    TU_NULL_WITH(dc_optim_state_name(o, -1), DC_E_RANGE);
    TU_NULL_WITH(dc_optim_state_tensor(o, 3), DC_E_RANGE);

    dc_tensor *v = dc_zeros(DC_F64, 1, shape);
    dc_tensor *scalar = dc_scalar(DC_F32, 3);
    int64_t three = 3;
    dc_tensor *wrong = dc_zeros(DC_F64, 1, &three);
    dc_tensor *ivals = dc_zeros(DC_I64, 1, shape);
    TU_FAILS(dc_optim_state_load(NULL, "state.0.exp_avg", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, NULL, v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.0.exp_avg", NULL), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "exp_avg", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.x.exp_avg", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.-1.exp_avg", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.0", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.0.bogus", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.0.max_exp_avg_sq", v), DC_E_INVALID); /* no amsgrad */
    TU_FAILS(dc_optim_state_load(o, "state.0.sum", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(o, "state.3.exp_avg", v), DC_E_RANGE);
    TU_FAILS(dc_optim_state_load(o, "state.99999999999999999999.exp_avg", v), DC_E_RANGE);
    TU_FAILS(dc_optim_state_load(o, "state.0.exp_avg", wrong), DC_E_SHAPE);
    TU_FAILS(dc_optim_state_load(o, "state.0.exp_avg", scalar), DC_E_SHAPE);
    TU_FAILS(dc_optim_state_load(o, "state.0.step", v), DC_E_SHAPE);
    TU_FAILS(dc_optim_state_load(o, "state.0.exp_avg", ivals), DC_E_DTYPE);
    TU_OK(dc_optim_state_load(o, "state.0.step", scalar));
    ck_assert_int_eq(dc_optim_state_count(o), 3);

    dc_optim *s = dc_sgd_new(&a, 1, 0.1, 0, 0, 0, 0);      /* no momentum: no state */
    TU_FAILS(dc_optim_state_load(s, "state.0.momentum_buffer", v), DC_E_INVALID);
    TU_FAILS(dc_optim_state_load(s, "state.0.step", scalar), DC_E_INVALID);
    dc_optim_release(s);
    dc_optim_release(o);
    dc_scope_end(scope);
}
END_TEST

START_TEST(bad_schedule_input) {
    dc_scope *scope = dc_scope_begin();
    dc_optim *o = sched_optim(), *other = sched_optim();
    TU_NULL_WITH(dc_sched_step_lr_new(NULL, 3, 0.5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_step_lr_new(o, 0, 0.5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_step_lr_new(o, 3, -0.5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_step_lr_new(o, 3, NAN), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_exponential_new(NULL, 0.5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_exponential_new(o, INFINITY), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_cosine_new(NULL, 10, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_cosine_new(o, 0, 0), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_cosine_new(o, 10, -0.1), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(NULL, 0.5, 1, 5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(o, 0, 1, 5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(o, 1.5, 1, 5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(o, 0.5, 1.5, 5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(o, 0.5, -0.1, 5), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_linear_new(o, 0.5, 1, 0), DC_E_INVALID);

    dc_sched *a = dc_sched_exponential_new(o, 0.9), *b = dc_sched_cosine_new(o, 5, 0);
    dc_sched *foreign = dc_sched_exponential_new(other, 0.9);
    TU_NOTNULL(a);
    TU_NOTNULL(b);
    TU_NOTNULL(foreign);
    int64_t ms[2] = {4, 8};
    TU_NULL_WITH(dc_sched_sequential_new(NULL, (dc_sched *[]){a, b}, 2, ms), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, NULL, 2, ms), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 0, ms), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 2, NULL), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, NULL}, 2, ms), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, foreign}, 2, ms), DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, b, a}, 3, (int64_t[]){4, 4}),
                 DC_E_INVALID);
    TU_NULL_WITH(dc_sched_sequential_new(o, (dc_sched *[]){a, b}, 2, (int64_t[]){0}),
                 DC_E_INVALID);
    dc_sched *one = dc_sched_sequential_new(o, &a, 1, NULL);   /* one schedule, no milestone */
    TU_NOTNULL(one);
    TU_OK(dc_sched_step(one));
    ck_assert(fabs(dc_optim_get_lr(o, 0) - 0.09) < 1e-15);

    TU_FAILS(dc_sched_step(NULL), DC_E_INVALID);
    dc_clear_error();
    ck_assert_int_eq(dc_sched_last_epoch(NULL), -1);
    ck_assert_int_eq(dc_last_status(), DC_E_INVALID);
    TU_FAILS(dc_sched_set_last_epoch(NULL, 3), DC_E_INVALID);
    TU_FAILS(dc_sched_set_last_epoch(a, -1), DC_E_RANGE);
    dc_sched_release(NULL);          /* no-op */

    dc_sched_release(one);
    dc_sched_release(a);
    dc_sched_release(b);
    dc_sched_release(foreign);
    dc_optim_release(o);
    dc_optim_release(other);
    dc_scope_end(scope);
}
END_TEST

START_TEST(bad_clip_input) {
    dc_scope *scope = dc_scope_begin();
    dc_tensor *ps[4];
    clip_setup(ps, DC_F64);
    TU_FAILS(dc_clip_grad_norm(ps, -1, 1.0, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(NULL, 2, 1.0, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm((dc_tensor *[]){ps[0], NULL}, 2, 1.0, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm((dc_tensor *[]){ps[0], ps[0]}, 2, 1.0, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(ps, 4, -1.0, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(ps, 4, NAN, 2.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(ps, 4, 1.0, 0.0, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(ps, 4, 1.0, -INFINITY, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_norm(ps, 4, 1.0, NAN, NULL), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_value(ps, -1, 1.0), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_value(NULL, 1, 1.0), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_value((dc_tensor *[]){NULL}, 1, 1.0), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_value(ps, 4, -0.5), DC_E_INVALID);
    TU_FAILS(dc_clip_grad_value(ps, 4, NAN), DC_E_INVALID);
    /* the failed calls left the gradients alone */
    double *in = tu_read_fixture("optim_clip_in.f64", NCLIP * sizeof(double));
    double got[NCLIP];
    clip_grads(ps, got);
    ck_assert(memcmp(in, got, sizeof got) == 0);
    free(in);
    dc_scope_end(scope);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Every allocation failing in turn: NOMEM, no leak, no partial step    */
/* ------------------------------------------------------------------ */

static bool optim_sweep_body(void *arg) {
    (void)arg;
    const double w0[4] = {1, -2, 3, 0.5};
    int64_t shape[1] = {4};
    dc_tensor *w = dc_from_data(DC_F64, 1, shape, w0);
    if (!w || dc_set_requires_grad(w, 1) != DC_OK) return false;
    dc_tensor *loss = dc_sum(dc_square(w), NULL, 0, 0);
    if (!loss || dc_backward(loss, NULL, 0) != DC_OK) return false;
    dc_optim *o = dc_adam_new(&w, 1, 0.1, 0.9, 0.99, 1e-8, 0, 1);
    if (!o) return false;
    bool ok = false;
    dc_optim *o2 = NULL;
    dc_sched *s = NULL;
    if (dc_optim_step(o) != DC_OK) {
        double now[4];
        ck_assert(dc_copy_to(w, DC_F64, now, sizeof now) == DC_OK);
        ck_assert_msg(memcmp(now, w0, sizeof now) == 0, "a failed step changed the parameter");
        ck_assert_int_eq(dc_optim_state_count(o), 0);
        goto done;
    }
    s = dc_sched_cosine_new(o, 5, 0.0);
    if (!s || dc_sched_step(s) != DC_OK) goto done;
    if (dc_clip_grad_norm(&w, 1, 1.0, 2.0, NULL) != DC_OK) goto done;
    o2 = dc_adam_new(&w, 1, 0.1, 0.9, 0.99, 1e-8, 0, 1);
    if (!o2) goto done;
    for (int64_t i = 0; i < dc_optim_state_count(o); i++) {
        dc_tensor *t = dc_optim_state_tensor(o, i);
        if (!t || dc_optim_state_load(o2, dc_optim_state_name(o, i), t) != DC_OK) goto done;
    }
    dc_tensor *x = dc_zeros(DC_F64, 1, shape);
    if (!x || dc_optim_add_group(o2, &x, 1, 0.1, 0, NULL) != DC_OK) goto done;
    ok = dc_optim_step(o2) == DC_OK;
done:
    dc_sched_release(s);
    dc_optim_release(o2);
    dc_optim_release(o);
    return ok;
}

START_TEST(allocation_failures_are_clean) {
    ck_assert_int_gt(tu_fail_each_allocation(optim_sweep_body, NULL, 2000), 10);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tu_tcase("optimizers");
    tcase_add_loop_test(tc, optimizer_matches_torch_f64, 0, NCONFIGS);
    tcase_add_loop_test(tc, optimizer_matches_torch_f32, 0, NCONFIGS);
    tcase_add_loop_test(tc, optimizer_noncontiguous_param, 0, NCONFIGS);
    tcase_add_loop_test(tc, state_names_in_torch_order, 0, NCONFIGS);
    tcase_add_loop_test(tc, checkpoint_resumes_bit_for_bit, 0, 2 * NCONFIGS);
    tcase_add_test(tc, state_tensor_is_live);
    tcase_add_loop_test(tc, two_groups_match_torch, 0, 3);
    tcase_add_test(tc, step_makes_stale_graph_detectable);
    tcase_add_test(tc, zero_grad_drops_gradients);
    tcase_add_test(tc, param_without_requires_grad_is_accepted);
    tcase_add_test(tc, set_and_get_lr);
    suite_add_tcase(s, tc);

    tc = tu_tcase("schedules");
    tcase_add_loop_test(tc, schedule_matches_torch, 0, NSCHEDS);
    tcase_add_loop_test(tc, schedule_jumps_with_set_last_epoch, 0, NSCHEDS);
    tcase_add_test(tc, schedule_owns_its_optimizer);
    tcase_add_test(tc, schedule_groups_added_later_are_left_alone);
    suite_add_tcase(s, tc);

    tc = tu_tcase("clipping");
    tcase_add_loop_test(tc, clip_grad_norm_matches_torch, 0, 5);
    tcase_add_test(tc, clip_grad_norm_f32);
    tcase_add_test(tc, clip_grad_value_matches_torch);
    tcase_add_test(tc, clip_without_gradients);
    suite_add_tcase(s, tc);

    tc = tu_tcase("bad_input");
    tcase_add_test(tc, bad_constructor_input);
    tcase_add_test(tc, bad_optimizer_calls);
    tcase_add_test(tc, bad_schedule_input);
    tcase_add_test(tc, bad_clip_input);
    tcase_add_test(tc, allocation_failures_are_clean);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
