/* Gradient checks of the shape and data-movement ops: views (view,
 * reshape, flatten, squeeze, unsqueeze, permute, transpose, slice,
 * narrow, expand), copies and casts, concat / stack, index_select and
 * gather (with repeated indices), on contiguous and strided inputs. */
#include "gradcheck.h"

#include "core/internal.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

/* Checks f on one random input of the given shape; ctx goes to f. */
static void check1(gc_fn f, int ndim, const int64_t *shape, int noncontig, void *ctx) {
    dc_tensor *x = gc_input(31, ndim, shape, -1.0, 1.0, noncontig);
    gc_check(f, &x, 1, ctx);
    dc_release(x);
}

/* ---- DC_OP_VIEW ---- */

static dc_tensor *f_reshape(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_reshape(in[0], 3, SH(2, -1, 3));
}
static dc_tensor *f_flatten(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_flatten(in[0], 0, -1);
}
static dc_tensor *f_squeeze_unsqueeze(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_unsqueeze(dc_squeeze(in[0], 1), -1);
}
static dc_tensor *f_view_of_slice(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_view(dc_slice(in[0], 1, 0, 4, 2), 1, SH(-1));
}

static void view_reshape(void) { check1(f_reshape, 2, SH(3, 4), 0, NULL); }
static void view_flatten_noncontig(void) { check1(f_flatten, 2, SH(3, 4), 1, NULL); }
static void view_squeeze_unsqueeze(void) { check1(f_squeeze_unsqueeze, 3, SH(2, 1, 3), 0, NULL); }
static void view_of_strided(void) { check1(f_view_of_slice, 2, SH(3, 4), 0, NULL); }

/* ---- DC_OP_PERMUTE ---- */

static dc_tensor *f_permute(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_permute(in[0], (const int[]){2, 0, 1});
}
static dc_tensor *f_transpose(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_transpose(in[0], 0, -1);
}

static void permute_3d(void) { check1(f_permute, 3, SH(2, 3, 2), 0, NULL); }
static void transpose_noncontig(void) { check1(f_transpose, 2, SH(3, 4), 1, NULL); }

/* ---- DC_OP_SLICE ---- */

static dc_tensor *f_slice_step(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_slice(in[0], 0, -4, 100, 2);
}
static dc_tensor *f_narrow(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_narrow(in[0], 1, 1, 2);
}
static dc_tensor *f_slice_twice(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_slice(dc_slice(in[0], -1, 1, 4, 1), 0, 0, 3, 2);
}

static void slice_step(void) { check1(f_slice_step, 2, SH(5, 3), 0, NULL); }
static void narrow_noncontig(void) { check1(f_narrow, 2, SH(3, 4), 1, NULL); }
static void slice_twice(void) { check1(f_slice_twice, 2, SH(4, 5), 0, NULL); }

/* ---- DC_OP_EXPAND ---- */

static dc_tensor *f_expand(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    return dc_expand(in[0], 3, ctx);
}

static void expand_inner(void) { check1(f_expand, 2, SH(3, 1), 0, (void *)SH(2, 3, 4)); }
static void expand_noncontig(void) { check1(f_expand, 1, SH(3), 1, (void *)SH(2, 4, -1)); }

/* ---- DC_OP_COPY ---- */

static dc_tensor *f_clone(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_clone(in[0]);
}
static dc_tensor *f_contiguous(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_contiguous(in[0]);
}
/* a reshape that must copy: COPY then VIEW */
static dc_tensor *f_reshape_copy(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_reshape(dc_transpose(in[0], 0, 1), 1, SH(-1));
}

static void clone_plain(void) { check1(f_clone, 2, SH(2, 3), 0, NULL); }
static void contiguous_noncontig(void) { check1(f_contiguous, 2, SH(3, 2), 1, NULL); }
static void reshape_copies(void) { check1(f_reshape_copy, 2, SH(3, 4), 0, NULL); }

/* ---- DC_OP_CONCAT ---- */

static dc_tensor *f_concat(dc_tensor *const *in, int n, void *ctx) {
    return dc_concat(in, n, *(const int *)ctx);
}
static dc_tensor *f_concat_self(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_concat((dc_tensor *[]){in[0], in[0], in[0]}, 3, 0);
}
static dc_tensor *f_stack(dc_tensor *const *in, int n, void *ctx) {
    (void)ctx;
    return dc_stack(in, n, 1);
}

static void concat_three(void) {
    dc_tensor *in[3] = {
        gc_input(1, 2, SH(2, 1), -1, 1, 0),
        gc_input(2, 2, SH(2, 3), -1, 1, 1),
        gc_input(3, 2, SH(2, 2), -1, 1, 0),
    };
    int axis = 1;
    gc_check(f_concat, in, 3, &axis);
    for (int i = 0; i < 3; i++) dc_release(in[i]);
}
static void concat_partial_grad(void) {
    dc_tensor *in[2] = {
        gc_input(4, 3, SH(1, 2, 2), -1, 1, 0),
        gc_input(5, 3, SH(2, 2, 2), -1, 1, 1),
    };
    TU_OK(dc_set_requires_grad(in[0], 0));
    int axis = -3;
    gc_check(f_concat, in, 2, &axis);
    for (int i = 0; i < 2; i++) dc_release(in[i]);
}
static void concat_same_input(void) { check1(f_concat_self, 2, SH(2, 2), 0, NULL); }
static void stack_two(void) {
    dc_tensor *in[2] = {
        gc_input(6, 2, SH(2, 3), -1, 1, 0),
        gc_input(7, 2, SH(2, 3), -1, 1, 1),
    };
    gc_check(f_stack, in, 2, NULL);
    for (int i = 0; i < 2; i++) dc_release(in[i]);
}

/* ---- DC_OP_INDEX_SELECT, DC_OP_GATHER (ctx: axis and index) ---- */

typedef struct {
    int axis;
    dc_tensor *index;
} pick_ctx;

static dc_tensor *f_index_select(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    pick_ctx *p = ctx;
    return dc_index_select(in[0], p->axis, p->index);
}
static dc_tensor *f_gather(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    pick_ctx *p = ctx;
    return dc_gather(in[0], p->axis, p->index);
}

static void check_pick(gc_fn f, int ndim, const int64_t *shape, int noncontig, int axis,
                       dc_tensor *index) {
    TU_NOTNULL(index);
    pick_ctx p = {axis, index};
    check1(f, ndim, shape, noncontig, &p);
    dc_release(index);
}

static void index_select_repeats(void) {
    check_pick(f_index_select, 2, SH(3, 4), 0, 0,
               tu_i64(1, SH(4), (const int64_t[]){2, 0, 2, 2}));
}
static void index_select_noncontig_i32(void) {
    dc_tensor *i64 = tu_i64(1, SH(3), (const int64_t[]){1, 1, 0});
    dc_tensor *i32 = dc_cast(i64, DC_I32);
    dc_release(i64);
    check_pick(f_index_select, 3, SH(2, 2, 3), 1, -1, i32);
}
static void gather_repeats(void) {
    check_pick(f_gather, 2, SH(3, 4), 0, 1,
               tu_i64(2, SH(3, 3), (const int64_t[]){0, 0, 3, 1, 1, 1, 2, 3, 2}));
}
static void gather_noncontig(void) {
    dc_tensor *idx = tu_i64(2, SH(3, 2), (const int64_t[]){0, 1, 1, 1, 0, 0});
    dc_tensor *idx_t = dc_transpose(idx, 0, 1);   /* (2, 3), strided */
    dc_release(idx);
    check_pick(f_gather, 2, SH(2, 4), 1, 0, idx_t);
}

/* ---- DC_OP_CAST: f64 -> f32 -> f64 (f32 rounding: looser tolerance) ---- */

static dc_tensor *f_cast_round_trip(dc_tensor *const *in, int n, void *ctx) {
    (void)n;
    (void)ctx;
    return dc_cast(dc_mul(dc_cast(in[0], DC_F32), dc_cast(in[0], DC_F32)), DC_F64);
}

static void cast_round_trip(void) {
    dc_tensor *x = gc_input(41, 2, SH(2, 3), -1.0, 1.0, 0);
    gc_check_tol(f_cast_round_trip, &x, 1, NULL, 1e-2, 1e-4, 1e-3);
    dc_release(x);
}
static void cast_noncontig(void) {
    dc_tensor *x = gc_input(42, 2, SH(3, 2), -1.0, 1.0, 1);
    gc_check_tol(f_cast_round_trip, &x, 1, NULL, 1e-2, 1e-4, 1e-3);
    dc_release(x);
}

const gc_case gc_cases_views[] = {
    {DC_OP_VIEW, "view_reshape", view_reshape},
    {DC_OP_VIEW, "view_flatten_noncontig", view_flatten_noncontig},
    {DC_OP_VIEW, "view_squeeze_unsqueeze", view_squeeze_unsqueeze},
    {DC_OP_VIEW, "view_of_strided", view_of_strided},
    {DC_OP_PERMUTE, "permute_3d", permute_3d},
    {DC_OP_PERMUTE, "transpose_noncontig", transpose_noncontig},
    {DC_OP_SLICE, "slice_step", slice_step},
    {DC_OP_SLICE, "narrow_noncontig", narrow_noncontig},
    {DC_OP_SLICE, "slice_twice", slice_twice},
    {DC_OP_EXPAND, "expand_inner", expand_inner},
    {DC_OP_EXPAND, "expand_noncontig", expand_noncontig},
    {DC_OP_COPY, "clone_plain", clone_plain},
    {DC_OP_COPY, "contiguous_noncontig", contiguous_noncontig},
    {DC_OP_COPY, "reshape_copies", reshape_copies},
    {DC_OP_CONCAT, "concat_three", concat_three},
    {DC_OP_CONCAT, "concat_partial_grad", concat_partial_grad},
    {DC_OP_CONCAT, "concat_same_input", concat_same_input},
    {DC_OP_CONCAT, "stack_two", stack_two},
    {DC_OP_INDEX_SELECT, "index_select_repeats", index_select_repeats},
    {DC_OP_INDEX_SELECT, "index_select_noncontig_i32", index_select_noncontig_i32},
    {DC_OP_GATHER, "gather_repeats", gather_repeats},
    {DC_OP_GATHER, "gather_noncontig", gather_noncontig},
    {DC_OP_CAST, "cast_round_trip", cast_round_trip},
    {DC_OP_CAST, "cast_noncontig", cast_noncontig},
    {0, NULL, NULL},
};
