/* Convolutions on im2col + GEMM, as torch.nn.functional.conv2d (a
 * cross-correlation) with stride, padding, dilation and groups.
 *
 * For each image and group, im2col lays the receptive fields out as a
 * (C_in/groups * KH * KW) x (H_out * W_out) column matrix; the group's
 * weights, (C_out/groups) x (C_in/groups * KH * KW), times that matrix is
 * the group's output. The backward reuses the same layout: the weight
 * gradient is gout_g @ col^T, the input gradient is col2im(W_g^T @ gout_g).
 *
 * Stride-1 f32 convolutions with few input channels go to the direct
 * kernels of conv_direct.c instead (conv_direct.h says which).
 *
 * conv1d is a conv2d of height 1 (unsqueezed views in, squeezed view out),
 * so it shares the op id and the backward. */
#include "../core/internal.h"
#include "../kernels/kernels.h"
#include "conv_direct.h"
#include "op_util.h"

#include <string.h>


/* ---------------------------------------------------------------- */
/* Validation                                                        */
/* ---------------------------------------------------------------- */

/* a + b and a * b for non-negative operands; false when they overflow. */
static bool add_nonneg(int64_t a, int64_t b, int64_t *r) {
    if (a > INT64_MAX - b) return false;
    *r = a + b;
    return true;
}

static bool mul_nonneg(int64_t a, int64_t b, int64_t *r) {
    if (a != 0 && b > INT64_MAX / a) return false;
    *r = a * b;
    return true;
}

/* Output length of one spatial axis: (in + 2p - d (k - 1) - 1) / s + 1.
 * Records DC_E_OVERFLOW when the arithmetic does not fit and DC_E_SHAPE
 * when the (dilated) kernel is larger than the padded input. */
static bool conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                          const char *func, const char *axis, int64_t *out) {
    int64_t padded, span;
    if (!mul_nonneg(p, 2, &padded) || !add_nonneg(in, padded, &padded) ||
        !mul_nonneg(d, k - 1, &span)) {
        dc__fail(DC_E_OVERFLOW, "%s: the %s sizes overflow", func, axis);
        return false;
    }
    if (padded - 1 < span) {
        dc__fail(DC_E_SHAPE,
                 "%s: the kernel (%lld with dilation %lld) is larger than the padded %s "
                 "(%lld); the output would be empty",
                 func, (long long)k, (long long)d, axis, (long long)padded);
        return false;
    }
    *out = (padded - 1 - span) / s + 1;
    return true;
}

/* stride, padding and dilation: (h, w) or NULL for the defaults 1, 0, 1. */
static bool read_params(const int64_t *stride, const int64_t *padding,
                        const int64_t *dilation, const char *func, conv_geom *g) {
    g->sh = stride ? stride[0] : 1;
    g->sw = stride ? stride[1] : 1;
    g->ph = padding ? padding[0] : 0;
    g->pw = padding ? padding[1] : 0;
    g->dh = dilation ? dilation[0] : 1;
    g->dw = dilation ? dilation[1] : 1;
    if (g->sh < 1 || g->sw < 1) {
        dc__fail(DC_E_INVALID, "%s: stride (%lld, %lld) must be >= 1", func, (long long)g->sh,
                 (long long)g->sw);
        return false;
    }
    if (g->ph < 0 || g->pw < 0) {
        dc__fail(DC_E_INVALID, "%s: padding (%lld, %lld) must be >= 0", func,
                 (long long)g->ph, (long long)g->pw);
        return false;
    }
    if (g->dh < 1 || g->dw < 1) {
        dc__fail(DC_E_INVALID, "%s: dilation (%lld, %lld) must be >= 1", func,
                 (long long)g->dh, (long long)g->dw);
        return false;
    }
    return true;
}

static bool check_dtypes(const dc_tensor *x, const dc_tensor *w, const dc_tensor *b,
                         const char *func) {
    if (!dc__require_float(x, func) || !dc__require_same_dtype(x, w, func)) return false;
    return b == NULL || dc__require_same_dtype(x, b, func);
}

/* Channel counts, groups and the bias against each other. */
static bool check_channels(const dc_tensor *w, const dc_tensor *b, const char *func,
                           conv_geom *g) {
    if (g->groups < 1) {
        dc__fail(DC_E_INVALID, "%s: groups is %lld, must be >= 1", func, (long long)g->groups);
        return false;
    }
    if (g->c_in % g->groups != 0 || g->c_out % g->groups != 0) {
        dc__fail(DC_E_SHAPE, "%s: groups (%lld) must divide the input channels (%lld) and "
                 "the output channels (%lld)", func, (long long)g->groups,
                 (long long)g->c_in, (long long)g->c_out);
        return false;
    }
    if (w->shape[1] != g->c_in / g->groups) {
        dc__fail(DC_E_SHAPE, "%s: the weight has %lld input channels per group; x has %lld "
                 "channels in %lld groups (%lld per group)", func, (long long)w->shape[1],
                 (long long)g->c_in, (long long)g->groups,
                 (long long)(g->c_in / g->groups));
        return false;
    }
    if (g->kh < 1 || g->kw < 1) {
        dc__fail(DC_E_SHAPE, "%s: the kernel (%lld, %lld) must not be empty", func,
                 (long long)g->kh, (long long)g->kw);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != g->c_out)) {
        dc__fail(DC_E_SHAPE, "%s: the bias must be 1-D with %lld entries (one per output "
                 "channel)", func, (long long)g->c_out);
        return false;
    }
    g->cg_in = g->c_in / g->groups;
    g->cg_out = g->c_out / g->groups;
    return true;
}

/* Checks everything about a conv2d call and fills g. */
static bool conv_setup(const dc_tensor *x, const dc_tensor *w, const dc_tensor *b,
                       const int64_t *stride, const int64_t *padding,
                       const int64_t *dilation, int64_t groups, const char *func,
                       conv_geom *g) {
    if (!check_dtypes(x, w, b, func)) return false;
    if (x->ndim != 4 || w->ndim != 4) {
        dc__fail(DC_E_SHAPE, "%s: x must be (N, C_in, H, W) and the weight (C_out, "
                 "C_in / groups, KH, KW); they have %d and %d dims", func, x->ndim, w->ndim);
        return false;
    }
    memset(g, 0, sizeof *g);
    g->n = x->shape[0];
    g->c_in = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->c_out = w->shape[0];
    g->kh = w->shape[2];
    g->kw = w->shape[3];
    g->groups = groups;
    if (!read_params(stride, padding, dilation, func, g) || !check_channels(w, b, func, g))
        return false;
    if (!conv_out_size(g->h, g->kh, g->sh, g->ph, g->dh, func, "height", &g->oh) ||
        !conv_out_size(g->w, g->kw, g->sw, g->pw, g->dw, func, "width", &g->ow))
        return false;
    int64_t bytes;
    if (!mul_nonneg(g->cg_in * g->kh, g->kw, &g->kcols) ||
        !mul_nonneg(g->oh, g->ow, &g->plane) || !mul_nonneg(g->kcols, g->plane, &bytes) ||
        !mul_nonneg(bytes, (int64_t)dc_dtype_size(x->dtype), &bytes) ||
        (uint64_t)bytes > SIZE_MAX) {
        dc__fail(DC_E_OVERFLOW, "%s: the column buffer would not fit in memory", func);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- */
/* im2col / col2im (typed)                                           */
/* ---------------------------------------------------------------- */

/* Output positions ow whose input column iw = ow sw - pw + j dw lies in
 * 0..w-1: [*lo, *hi) (empty when none). */
static void valid_cols(const conv_geom *g, int64_t j, int64_t *lo, int64_t *hi) {
    int64_t shift = j * g->dw - g->pw;   /* iw = ow sw + shift */
    int64_t a = shift >= 0 ? 0 : (-shift + g->sw - 1) / g->sw;
    int64_t last = g->w - 1 - shift;     /* ow sw <= last */
    int64_t b = last < 0 ? 0 : last / g->sw + 1;
    if (b > g->ow) b = g->ow;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* im2col: x points at channel 0 of one group of one image (strides xs of
 * the C, H, W axes); col gets kcols rows of plane entries, ld apart, row
 * (c, i, j) holding the input the kernel tap (i, j) of channel c sees at
 * each output position (0 in the padding). Several images side by side
 * (ld = images x plane) make one GEMM for a whole batch.
 * col2im_add: the reverse, adding each column entry into gx (contiguous
 * (C, H, W) block of one group of one image). */
#define DEFINE_COL_KERNELS(T, SUF)                                                       \
    static void im2col_##SUF(const T *x, const int64_t *xs, const conv_geom *g, T *col,  \
                             int64_t ld) {                                               \
        for (int64_t c = 0; c < g->cg_in; c++)                                           \
            for (int64_t i = 0; i < g->kh; i++)                                          \
                for (int64_t j = 0; j < g->kw; j++) {                                    \
                    T *row = col + ((c * g->kh + i) * g->kw + j) * ld;                   \
                    int64_t lo, hi, shift = j * g->dw - g->pw;                           \
                    valid_cols(g, j, &lo, &hi);                                          \
                    for (int64_t oh = 0; oh < g->oh; oh++) {                             \
                        T *dst = row + oh * g->ow;                                       \
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;                     \
                        if (ih < 0 || ih >= g->h) {                                      \
                            memset(dst, 0, (size_t)g->ow * sizeof(T));                   \
                            continue;                                                    \
                        }                                                                \
                        const T *src = x + c * xs[0] + ih * xs[1];                       \
                        for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0;                 \
                        if (g->sw == 1 && xs[2] == 1)                                    \
                            memcpy(dst + lo, src + lo + shift, (size_t)(hi - lo) * sizeof(T)); \
                        else                                                             \
                            for (int64_t ow = lo; ow < hi; ow++)                         \
                                dst[ow] = src[(ow * g->sw + shift) * xs[2]];             \
                        for (int64_t ow = hi; ow < g->ow; ow++) dst[ow] = 0;             \
                    }                                                                    \
                }                                                                        \
    }                                                                                    \
    static void col2im_add_##SUF(const T *col, int64_t ld, const conv_geom *g, T *gx) {  \
        for (int64_t c = 0; c < g->cg_in; c++)                                           \
            for (int64_t i = 0; i < g->kh; i++)                                          \
                for (int64_t j = 0; j < g->kw; j++) {                                    \
                    const T *row = col + ((c * g->kh + i) * g->kw + j) * ld;             \
                    int64_t lo, hi, shift = j * g->dw - g->pw;                           \
                    valid_cols(g, j, &lo, &hi);                                          \
                    for (int64_t oh = 0; oh < g->oh; oh++) {                             \
                        int64_t ih = oh * g->sh - g->ph + i * g->dh;                     \
                        if (ih < 0 || ih >= g->h) continue;                              \
                        const T *src = row + oh * g->ow;                                 \
                        T *dst = gx + (c * g->h + ih) * g->w;                            \
                        if (g->sw == 1)                                                  \
                            for (int64_t ow = lo; ow < hi; ow++) dst[ow + shift] += src[ow]; \
                        else                                                             \
                            for (int64_t ow = lo; ow < hi; ow++)                         \
                                dst[ow * g->sw + shift] += src[ow];                      \
                    }                                                                    \
                }                                                                        \
    }                                                                                    \
/* out (N, C_out, plane) += b[c] on every position of channel c */                   \
    static void add_bias_##SUF(const T *b, int64_t bstride, const conv_geom *g, T *out) { \
        for (int64_t n = 0; n < g->n; n++)                                               \
            for (int64_t c = 0; c < g->c_out; c++) {                                     \
                T v = b[c * bstride], *o = out + (n * g->c_out + c) * g->plane;          \
                for (int64_t p = 0; p < g->plane; p++) o[p] += v;                        \
            }                                                                            \
    }                                                                                    \
    /* gb[c] = sum of gout (N, C_out, plane) over n and the plane */                     \
    static void bias_grad_##SUF(const T *gout, const conv_geom *g, T *gb) {              \
        for (int64_t c = 0; c < g->c_out; c++) {                                         \
            double s = 0;                                                                \
            for (int64_t n = 0; n < g->n; n++) {                                         \
                const T *o = gout + (n * g->c_out + c) * g->plane;                       \
                for (int64_t p = 0; p < g->plane; p++) s += o[p];                        \
            }                                                                            \
            gb[c] = (T)s;                                                                \
        }                                                                                \
    }

DEFINE_COL_KERNELS(float, f32)
DEFINE_COL_KERNELS(double, f64)

/* Dispatch on the dtype; x is the element address of (image, first channel
 * of the group), xs the strides of its C, H, W axes. */
static void im2col(dc_dtype dt, const void *x, const int64_t *xs, const conv_geom *g,
                   void *col, int64_t ld) {
    if (dt == DC_F32) im2col_f32(x, xs, g, col, ld);
    else im2col_f64(x, xs, g, col, ld);
}

static void col2im_add(dc_dtype dt, const void *col, int64_t ld, const conv_geom *g, void *gx) {
    if (dt == DC_F32) col2im_add_f32(col, ld, g, gx);
    else col2im_add_f64(col, ld, g, gx);
}

/* Byte address of element i of a typed array. */
static inline void *elem(void *base, dc_dtype dt, int64_t i) {
    return (char *)base + i * (int64_t)dc_dtype_size(dt);
}

/* Address of x[n, group's first channel, 0, 0]. */
static const void *x_block(const dc_tensor *x, int64_t n, int64_t grp, const conv_geom *g) {
    return elem(dc__tensor_data(x), x->dtype,
                n * x->strides[0] + grp * g->cg_in * x->strides[1]);
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

/* Images per GEMM: as many as keep the column matrix within
 * COL_BUDGET bytes (at least one). One GEMM over a batch of images beats
 * one per image: the weights are packed once and the small per-image
 * products (LeNet's are 6 x 784 x 25) stop paying the GEMM set-up. */
#define COL_BUDGET ((int64_t)16 << 20)

static int64_t images_per_gemm(const conv_geom *g, dc_dtype dt) {
    int64_t per_image = g->kcols * g->plane * (int64_t)dc_dtype_size(dt);
    int64_t nb = per_image > 0 ? COL_BUDGET / per_image : g->n;
    return nb < 1 ? 1 : nb > g->n ? g->n : nb;
}

/* Copies nb planes of `rows` rows between the (image, channel, plane)
 * layout (image stride img_stride, row stride plane) and the GEMM layout
 * (row r of length nb plane, image k's part at k plane). to_gemm picks
 * the direction. */
static void regroup(dc_dtype dt, char *nchw, int64_t img_stride, char *gemm, int64_t rows,
                    int64_t nb, int64_t plane, bool to_gemm) {
    size_t es = dc_dtype_size(dt), bytes = (size_t)plane * es;
    for (int64_t k = 0; k < nb; k++)
        for (int64_t r = 0; r < rows; r++) {
            char *a = nchw + (size_t)(k * img_stride + r * plane) * es;
            char *b = gemm + (size_t)(r * nb * plane + k * plane) * es;
            if (to_gemm) memcpy(b, a, bytes);
            else memcpy(a, b, bytes);
        }
}

/* True when the whole batch's column matrix fits one GEMM (one group):
 * the forward can then hand it to the backward, which needs the same
 * matrix for the weight gradient, instead of the backward rebuilding it. */
static bool col_reusable(const conv_geom *g, dc_dtype dt) {
    return g->groups == 1 && g->kcols > 0 && g->plane > 0 && images_per_gemm(g, dt) == g->n;
}

/* out (contiguous, N x C_out x plane) = conv(x, wc) (+ b); wc contiguous.
 * keep_col (may be NULL): when col_reusable, receives the column matrix
 * (kcols, N plane) as a tensor of the caller's. */
static dc_status conv_compute(const dc_tensor *x, const dc_tensor *wc, const dc_tensor *b,
                              const conv_geom *g, dc_tensor *out, dc_tensor **keep_col) {
    dc_dtype dt = x->dtype;
    size_t es = dc_dtype_size(dt);
    if (keep_col) *keep_col = NULL;
    if (dc__conv_direct_applies(g, dt))
        return dc__conv_direct_forward(dc__tensor_data(x), x->strides, dc__tensor_data(wc),
                                       b ? dc__tensor_data(b) : NULL, b ? b->strides[0] : 0, g,
                                       dc__tensor_data(out));
    if (out->numel > 0 && g->kcols > 0) {
        int64_t nb_max = images_per_gemm(g, dt);
        /* col: kcols x nb plane; tmp: cg_out x nb plane (when nb > 1) */
        size_t col_elems = (size_t)(g->kcols * nb_max * g->plane);
        size_t tmp_elems = nb_max > 1 ? (size_t)(g->cg_out * nb_max * g->plane) : 0;
        dc_tensor *col_t = NULL;
        if (keep_col && col_reusable(g, dt)) {
            int64_t shape[2] = {g->kcols, g->n * g->plane};
            col_t = dc__tensor_new(dt, 2, shape, false);
            if (!col_t) return dc_last_status();
        }
        /* scratch: col (unless col_t holds it), then tmp; may be empty */
        size_t scratch_bytes = ((col_t ? 0 : col_elems) + tmp_elems) * es;
        char *scratch = scratch_bytes ? dc__malloc(scratch_bytes) : NULL;
        if (scratch_bytes && !scratch) {
            dc_release(col_t);
            return DC_E_NOMEM;
        }
        char *col = col_t ? (char *)dc__tensor_data(col_t) : scratch;
        char *tmp = scratch ? scratch + (col_t ? 0 : col_elems) * es : NULL;
        const int64_t *xs = x->strides + 1;
        for (int64_t grp = 0; grp < g->groups; grp++) {
            void *wg = elem(dc__tensor_data(wc), dt, grp * g->cg_out * g->kcols);
            for (int64_t n0 = 0; n0 < g->n; n0 += nb_max) {
                int64_t nb = g->n - n0 < nb_max ? g->n - n0 : nb_max, ld = nb * g->plane;
                for (int64_t k = 0; k < nb; k++)
                    im2col(dt, x_block(x, n0 + k, grp, g), xs, g, col + (size_t)(k * g->plane) * es,
                           ld);
                char *og = elem(dc__tensor_data(out), dt,
                                (n0 * g->c_out + grp * g->cg_out) * g->plane);
                dc_status st = dc__gemm(dt, false, false, g->cg_out, ld, g->kcols, 1.0, wg,
                                        g->kcols, col, ld, 0.0, nb > 1 ? (void *)tmp : og, ld);
                if (st != DC_OK) {
                    dc__free(scratch);
                    dc_release(col_t);
                    return st;
                }
                if (nb > 1)
                    regroup(dt, og, g->c_out * g->plane, tmp, g->cg_out, nb, g->plane, false);
            }
        }
        dc__free(scratch);
        if (keep_col) *keep_col = col_t;
    }
    if (b && out->numel > 0) {
        if (dt == DC_F32) add_bias_f32(dc__tensor_data(b), b->strides[0], g, dc__tensor_data(out));
        else add_bias_f64(dc__tensor_data(b), b->strides[0], g, dc__tensor_data(out));
    }
    return DC_OK;
}

/* The convolution behind dc_conv2d and dc_conv1d (func names the caller). */
static dc_tensor *conv2d_impl(dc_tensor *x, dc_tensor *w, dc_tensor *b,
                              const int64_t *stride, const int64_t *padding,
                              const int64_t *dilation, int64_t groups, const char *func) {
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    DC_CHECK_TENSOR_OR_NULL(w, func, "w");
    if (b && !dc__is_tensor(b)) {
        dc__fail(DC_E_INVALID, "%s: 'b' is not a live tensor", func);
        return NULL;
    }
    conv_geom g;
    if (!conv_setup(x, w, b, stride, padding, dilation, groups, func, &g)) return NULL;
    int64_t shape[4] = {g.n, g.c_out, g.oh, g.ow};
    /* zeroed when no GEMM writes it (no input channels) */
    dc_tensor *out = dc__tensor_new(x->dtype, 4, shape, g.kcols == 0);
    if (!out) return NULL;
    dc_tensor *wc = dc__contiguous_ref(w);
    dc_tensor *inputs[3] = {x, w, b};
    /* the weight gradient will need the column matrix: keep it */
    bool keep = w->requires_grad && dc__should_record(inputs, b ? 3 : 2);
    dc_tensor *col = NULL;
    dc_status st = wc ? conv_compute(x, wc, b, &g, out, keep ? &col : NULL) : dc_last_status();
    dc_release(wc);
    if (st != DC_OK) {
        dc_release(out);
        return NULL;
    }
    dc_node *node;
    out = dc__record_or_drop(out, DC_OP_CONV2D, inputs, b ? 3 : 2, &node);
    if (node) {
        int64_t params[7] = {g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups};
        memcpy(node->iparams, params, sizeof params);
        node->saved = col;   /* the node takes this reference (NULL: rebuilt) */
    } else {
        dc_release(col);
    }
    return dc__publish(out);
}

/* x: (N, C_in, H, W), w: (C_out, C_in / groups, KH, KW), b: (C_out) or
 * NULL -> (N, C_out, H_out, W_out) with
 * H_out = (H + 2 ph - dh (KH - 1) - 1) / sh + 1 (W_out alike). */
dc_tensor *dc_conv2d(dc_tensor *x, dc_tensor *w, dc_tensor *b, const int64_t *stride,
                     const int64_t *padding, const int64_t *dilation, int64_t groups) {
    return conv2d_impl(x, w, b, stride, padding, dilation, groups, "dc_conv2d");
}

/* x: (N, C_in, L), w: (C_out, C_in / groups, K), b: (C_out) or NULL
 * -> (N, C_out, L_out): the conv2d of (N, C_in, 1, L) by (C_out, ., 1, K). */
dc_tensor *dc_conv1d(dc_tensor *x, dc_tensor *w, dc_tensor *b, int64_t stride,
                     int64_t padding, int64_t dilation, int64_t groups) {
    static const char *const func = "dc_conv1d";
    DC_CHECK_TENSOR_OR_NULL(x, func, "x");
    DC_CHECK_TENSOR_OR_NULL(w, func, "w");
    if (x->ndim != 3 || w->ndim != 3) {
        dc__fail(DC_E_SHAPE, "%s: x must be (N, C_in, L) and the weight (C_out, "
                 "C_in / groups, K); they have %d and %d dims", func, x->ndim, w->ndim);
        return NULL;
    }
    int64_t st[2] = {1, stride}, pad[2] = {0, padding}, dil[2] = {1, dilation};
    dc_scope *scope = dc_scope_begin();
    if (!scope) return NULL;
    dc_tensor *y = conv2d_impl(dc_unsqueeze(x, 2), dc_unsqueeze(w, 2), b, st, pad, dil,
                               groups, func);
    y = y ? dc_retain(dc_squeeze(y, 2)) : NULL;
    dc_scope_end(scope);
    return dc__publish(y);
}

/* ---------------------------------------------------------------- */
/* Backward                                                          */
/* ---------------------------------------------------------------- */

/* Rebuilds the geometry of a recorded conv from its inputs and iparams. */
static void geom_from_node(const dc_node *node, conv_geom *g) {
    const dc_tensor *x = node->inputs[0], *w = node->inputs[1];
    memset(g, 0, sizeof *g);
    g->n = x->shape[0];
    g->c_in = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->c_out = w->shape[0];
    g->kh = w->shape[2];
    g->kw = w->shape[3];
    g->sh = node->iparams[0];
    g->sw = node->iparams[1];
    g->ph = node->iparams[2];
    g->pw = node->iparams[3];
    g->dh = node->iparams[4];
    g->dw = node->iparams[5];
    g->groups = node->iparams[6];
    g->cg_in = g->c_in / g->groups;
    g->cg_out = g->c_out / g->groups;
    g->oh = (g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
    g->ow = (g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
    g->kcols = g->cg_in * g->kh * g->kw;
    g->plane = g->oh * g->ow;
}

/* Gradients of x (gx, contiguous, zeroed) and/or w (gw, contiguous,
 * zeroed) from gc (contiguous gout); either may be NULL. Batches of
 * images as in the forward: gw_g += gout_g @ col^T and
 * gx_g += col2im(W_g^T @ gout_g), gout_g regrouped to (cg_out, nb plane). */
static dc_status conv_grads(const dc_tensor *x, const dc_tensor *wc, const dc_tensor *gc,
                            const conv_geom *g, const dc_tensor *saved_col, dc_tensor *gx,
                            dc_tensor *gw) {
    dc_dtype dt = gc->dtype;
    size_t es = dc_dtype_size(dt);
    if (g->kcols == 0 || g->cg_out == 0 || g->n == 0) return DC_OK;
    int64_t nb_max = images_per_gemm(g, dt);
    /* a column buffer is needed unless the forward's matrix serves gw and
     * there is no gx to make through it */
    bool need_col = gx || !saved_col;
    size_t col_elems = need_col ? (size_t)(g->kcols * nb_max * g->plane) : 0;
    size_t go_elems = nb_max > 1 ? (size_t)(g->cg_out * nb_max * g->plane) : 0;
    size_t bytes = (col_elems + go_elems) * es;
    char *col = bytes ? dc__malloc(bytes) : NULL;
    if (bytes && !col) return DC_E_NOMEM;
    char *gore = col ? col + col_elems * es : NULL;
    dc_status st = DC_OK;
    const int64_t *xs = x->strides + 1;
    for (int64_t grp = 0; grp < g->groups && st == DC_OK; grp++) {
        int64_t woff = grp * g->cg_out * g->kcols;
        for (int64_t n0 = 0; n0 < g->n && st == DC_OK; n0 += nb_max) {
            int64_t nb = g->n - n0 < nb_max ? g->n - n0 : nb_max, ld = nb * g->plane;
            char *go = elem(dc__tensor_data(gc), dt, (n0 * g->c_out + grp * g->cg_out) * g->plane);
            if (nb > 1) {
                regroup(dt, go, g->c_out * g->plane, gore, g->cg_out, nb, g->plane, true);
                go = gore;
            }
            if (gw) {   /* gw_g += gout_g @ col^T */
                /* the forward's matrix when it kept it (the whole batch, one group) */
                const char *cm = saved_col ? (const char *)dc__tensor_data(saved_col) : col;
                for (int64_t k = 0; !saved_col && k < nb; k++)
                    im2col(dt, x_block(x, n0 + k, grp, g), xs, g,
                           col + (size_t)(k * g->plane) * es, ld);
                st = dc__gemm(dt, false, true, g->cg_out, g->kcols, ld, 1.0, go, ld, cm, ld,
                              1.0, elem(dc__tensor_data(gw), dt, woff), g->kcols);
            }
            if (gx && st == DC_OK) {   /* gx_n,g += col2im(W_g^T @ gout_g) */
                st = dc__gemm(dt, true, false, g->kcols, ld, g->cg_out, 1.0,
                              elem(dc__tensor_data(wc), dt, woff), g->kcols, go, ld, 0.0, col,
                              ld);
                for (int64_t k = 0; st == DC_OK && k < nb; k++)
                    col2im_add(dt, col + (size_t)(k * g->plane) * es, ld, g,
                               elem(dc__tensor_data(gx), dt,
                                    ((n0 + k) * g->c_in + grp * g->cg_in) * g->h * g->w));
            }
        }
    }
    dc__free(col);
    return st;
}

/* gout: (N, C_out, H_out, W_out) -> gx: x's (N, C_in, H, W),
 * gw: (C_out, C_in / groups, KH, KW), gb: (C_out); each only when its
 * input requires grad. */
dc_status dc__conv2d_backward(dc_node *node, dc_tensor *out, dc_tensor *gout,
                              dc_tensor **gin) {
    (void)out;
    dc_tensor *x = node->inputs[0], *w = node->inputs[1];
    dc_tensor *b = node->n_inputs > 2 ? node->inputs[2] : NULL;
    conv_geom g;
    geom_from_node(node, &g);
    dc_tensor *gc = dc__contiguous_ref(gout);
    dc_tensor *wc = dc__contiguous_ref(w);
    /* the direct kernels overwrite the gradients; the GEMM path adds into them */
    bool direct = dc__conv_direct_applies(&g, x->dtype);
    dc_tensor *gx = x->requires_grad ? dc__tensor_new(x->dtype, 4, x->shape, !direct) : NULL;
    dc_tensor *gw = w->requires_grad ? dc__tensor_new(w->dtype, 4, w->shape, !direct) : NULL;
    dc_tensor *gb = b && b->requires_grad ? dc__tensor_new(b->dtype, 1, b->shape, false) : NULL;
    dc_status st = DC_OK;
    if (!gc || !wc || (x->requires_grad && !gx) || (w->requires_grad && !gw) ||
        (b && b->requires_grad && !gb))
        st = dc__failure_status();
    /* a kept column matrix matches this geometry only if nothing differs */
    const dc_tensor *saved = node->saved;
    if (saved && (saved->shape[0] != g.kcols || saved->shape[1] != g.n * g.plane ||
                  !col_reusable(&g, x->dtype)))
        saved = NULL;
    if (st == DC_OK && direct) {
        st = dc__conv_direct_backward(dc__tensor_data(x), x->strides, dc__tensor_data(wc),
                                      dc__tensor_data(gc), &g,
                                      gx ? dc__tensor_data(gx) : NULL,
                                      gw ? dc__tensor_data(gw) : NULL,
                                      gb ? dc__tensor_data(gb) : NULL);
    } else if (st == DC_OK) {
        st = conv_grads(x, wc, gc, &g, saved, gx, gw);
    }
    if (st == DC_OK && gb && !direct) {
        if (gc->dtype == DC_F32) bias_grad_f32(dc__tensor_data(gc), &g, dc__tensor_data(gb));
        else bias_grad_f64(dc__tensor_data(gc), &g, dc__tensor_data(gb));
    }
    dc_release(gc);
    dc_release(wc);
    if (st != DC_OK) {
        dc_release(gx);
        dc_release(gw);
        dc_release(gb);
        return st;
    }
    gin[0] = gx;
    gin[1] = gw;
    if (b) gin[2] = gb;
    return DC_OK;
}
