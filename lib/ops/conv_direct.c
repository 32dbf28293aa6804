/* Direct f32 convolution (see conv_direct.h for when it is used).
 *
 * The trick that keeps the inner loops plain: each image is copied, zero
 * padded, into planes of width wp = W + 2 pw, and the output is computed
 * at every position p = oy wp + ox of a plane of that same width,
 * including the kw - 1 columns past OW that no output needs. Then the
 * input that kernel tap (c, i, j) multiplies at position p sits at
 * xp[c][p + i wp + j]: one contiguous run for every tap, read as vectors
 * of VW positions. The wasted columns cost (wp - OW) / wp of the work;
 * the payoff is no column matrix and no scatter of partial sums.
 *
 *   forward:  y[o][p]  = sum over (c, i, j) of w[o][c][i][j] xp[c][p + i wp + j]
 *   input gradient: the same correlation of gout, padded by (KH-1-ph,
 *             KW-1-pw), with the weights flipped and transposed,
 *             wf[c][o][i][j] = w[o][c][KH-1-i][KW-1-j]
 *   weight gradient: gw[o][c][i][j] = sum over p of G[o][p] xp[c][p + i wp + j],
 *             G being gout laid out at width wp with zeros past OW
 *
 * The sums of a tile of VW positions for up to OC_MAX output channels
 * stay in registers (fixed-size arrays the compiler keeps there); the
 * loops compile for AVX-512, AVX2 and the baseline (DC_VEC_CLONES). Images
 * are split into a fixed number of chunks run on the thread pool; the
 * weight and bias gradients of each chunk are added up in chunk order, so
 * the result does not depend on the number of threads. */
#include "conv_direct.h"

#include "../core/threads.h"
#include "fastmath.h"

#include <string.h>

#define VW 16          /* positions per tile: one AVX-512 vector */
#define OC_MAX 8       /* output channels per register block */
#define MAX_CHUNKS 16  /* image chunks; fixed, for thread-count-free sums */
#define MAX_C_IN 16    /* beyond, im2col + GEMM's long k wins */

bool dc__conv_direct_applies(const conv_geom *g, dc_dtype dt) {
    return dt == DC_F32 && g->groups == 1 && g->sh == 1 && g->sw == 1 && g->dh == 1 &&
           g->dw == 1 && g->kh * g->kw > 1 && g->ph < g->kh && g->pw < g->kw &&
           g->c_in >= 1 && g->c_in <= MAX_C_IN && g->c_out >= 1 && g->n >= 1 &&
           g->plane >= 1;
}

/* ---------------------------------------------------------------- */
/* Padded planes                                                     */
/* ---------------------------------------------------------------- */

/* A (C, H, W) input copied with zero borders ph, pw: plane c at
 * dst + c * cs, row y at + y * wp. The slack past each plane covers the
 * reads of the last tile. A correlation with a KH x KW kernel over it
 * has out_h x out_w outputs, computed in one of two ways:
 *  - flat: tiles over the out_h wp positions of the plane at width wp,
 *    every tap for every tile;
 *  - by rows: ceil(out_w / VW) tiles per output row, each only with the
 *    kernel rows that fall on input rows (not on the zero borders). Wins
 *    where the borders are wide, as in the input gradient, whose padded
 *    gout has KH - 1 zero rows on each side.
 * The layout records the cheaper, and where the outputs land in the
 * result planes (row stride yrs, plane size yplane). */
typedef struct padded {
    int64_t wp, hp, cs;
    int64_t top, rows;      /* the input rows: top .. top + rows - 1 */
    int64_t out_h, out_w;
    int64_t flat_tiles;     /* tiles of VW covering out_h wp positions */
    bool flat;
    int64_t ntx;            /* tiles per pass: flat_tiles, or per output row */
    int64_t yrs, yplane;
} padded;

/* The kernel rows [*lo, *hi) that output row r of L reads from input rows. */
static void kernel_rows(const padded *L, int64_t kh, int64_t r, int64_t *lo, int64_t *hi) {
    *lo = L->top - r > 0 ? L->top - r : 0;
    *hi = L->top + L->rows - r < kh ? L->top + L->rows - r : kh;
    if (*hi < *lo) *hi = *lo;
}

static padded padded_layout(int64_t h, int64_t w, int64_t ph, int64_t pw, int64_t kh,
                            int64_t kw) {
    padded L;
    L.wp = w + 2 * pw;
    L.hp = h + 2 * ph;
    L.cs = L.hp * L.wp + VW + kw;
    L.top = ph;
    L.rows = h;
    L.out_h = L.hp - kh + 1;
    L.out_w = L.wp - kw + 1;
    L.flat_tiles = (L.out_h * L.wp + VW - 1) / VW;
    int64_t row_tiles = (L.out_w + VW - 1) / VW, row_taps = 0;
    for (int64_t r = 0; r < L.out_h; r++) {
        int64_t lo, hi;
        kernel_rows(&L, kh, r, &lo, &hi);
        row_taps += hi - lo;
    }
    L.flat = L.flat_tiles * kh <= row_tiles * row_taps;
    L.ntx = L.flat ? L.flat_tiles : row_tiles;
    L.yrs = L.flat ? L.wp : row_tiles * VW;
    L.yplane = L.flat ? L.flat_tiles * VW : L.out_h * row_tiles * VW;
    return L;
}

/* src element (c, y, x) at src[c * s[0] + y * s[1] + x * s[2]]. */
static void pad_planes(const float *src, const int64_t *s, int64_t c, int64_t h, int64_t w,
                       int64_t ph, int64_t pw, const padded *L, float *dst) {
    memset(dst, 0, (size_t)(c * L->cs) * sizeof(float));
    for (int64_t k = 0; k < c; k++)
        for (int64_t y = 0; y < h; y++) {
            const float *row = src + k * s[0] + y * s[1];
            float *d = dst + k * L->cs + (y + ph) * L->wp + pw;
            if (s[2] == 1) memcpy(d, row, (size_t)w * sizeof(float));
            else
                for (int64_t x = 0; x < w; x++) d[x] = row[x * s[2]];
        }
}

/* dst (C, out_h, out_w) contiguous = the first out_w columns of each row
 * of y (rows yrs apart, planes ys apart), plus bias[c * bs] when given. */
static void unpad_planes(const float *y, int64_t ys, int64_t yrs, int64_t c, int64_t out_h,
                         int64_t out_w, const float *bias, int64_t bs, float *dst) {
    for (int64_t k = 0; k < c; k++) {
        float add = bias ? bias[k * bs] : 0.0f;
        for (int64_t r = 0; r < out_h; r++) {
            const float *s = y + k * ys + r * yrs;
            float *d = dst + (k * out_h + r) * out_w;
            for (int64_t x = 0; x < out_w; x++) d[x] = s[x] + add;
        }
    }
}

/* ---------------------------------------------------------------- */
/* Kernels                                                           */
/* ---------------------------------------------------------------- */

/* A tile of VW floats as one value: GCC and clang compile its arithmetic
 * to one AVX-512 register, two AVX2 ones or four SSE ones, whichever the
 * clone targets. The loops below written on plain arrays were vectorised
 * along the wrong axis; this says which axis is the vector. */
typedef float tile __attribute__((vector_size(VW * sizeof(float))));

/* Unaligned loads and stores of a tile (macros: a function returning a
 * vector type would change the ABI of the baseline clone). */
#define LOAD_TILE(t, p) memcpy(&(t), (p), sizeof(tile))
#define STORE_TILE(p, t) memcpy((p), &(t), sizeof(tile))

/* The correlation of xp (cin planes of layout L) with w (OC output
 * channels wo apart, each (cin, kh, kw)) into y (OC planes ys apart, laid
 * out as L says): for each output tile, the sum over c, i, j of
 * w[o][c][i][j] times the VW inputs starting at xp[c][i wp + j + the
 * tile's position]. */
#define DEFINE_CORRELATE(OC)                                                               \
    static DC_VEC_CLONES void correlate_##OC(const float *xp, const padded *L, int64_t cin, \
                                             int64_t kh, int64_t kw, const float *w,       \
                                             int64_t wo, float *y, int64_t ys) {           \
        int64_t nrows = L->flat ? 1 : L->out_h;                                            \
        for (int64_t r = 0; r < nrows; r++) {                                              \
            int64_t ilo = 0, ihi = kh;                                                     \
            if (!L->flat) kernel_rows(L, kh, r, &ilo, &ihi);                               \
            for (int64_t t = 0; t < L->ntx; t++) {                                         \
                const float *xt = xp + r * L->wp + t * VW;                                 \
                tile acc[OC];                                                              \
                for (int o = 0; o < OC; o++) acc[o] = (tile){0};                           \
                for (int64_t c = 0; c < cin; c++)                                          \
                    for (int64_t i = ilo; i < ihi; i++) {                                  \
                        const float *row = xt + c * L->cs + i * L->wp;                     \
                        const float *wr = w + (c * kh + i) * kw;                           \
                        for (int64_t j = 0; j < kw; j++) {                                 \
                            tile in;                                                       \
                            LOAD_TILE(in, row + j);                                        \
                            for (int o = 0; o < OC; o++) acc[o] += wr[o * wo + j] * in;    \
                        }                                                                  \
                    }                                                                      \
                float *yt = y + r * L->yrs + t * VW;                                       \
                for (int o = 0; o < OC; o++) STORE_TILE(yt + o * ys, acc[o]);              \
            }                                                                              \
        }                                                                                  \
    }

/* acc_out[o as + j VW + v] += sum over tiles t of G[o gs + t VW + v]
 * src[j + t VW + v], for o < OC and j < JB: the weight gradient of JB
 * neighbouring kernel taps, still spread over VW lanes. Each tile of G is
 * loaded once for the JB taps, so the loop does OC JB multiply-adds per
 * OC + JB loads. */
#define DEFINE_WGRAD(OC, JB)                                                               \
    static DC_VEC_CLONES void wgrad_##OC##_##JB(const float *G, int64_t gs,                \
                                                const float *src, int64_t ntiles,          \
                                                float *acc_out, int64_t as) {              \
        tile acc[OC][JB];                                                                  \
        for (int o = 0; o < OC; o++)                                                       \
            for (int64_t j = 0; j < JB; j++) acc[o][j] = (tile){0};                        \
        for (int64_t t = 0; t < ntiles; t++) {                                             \
            tile gv[OC];                                                                   \
            for (int o = 0; o < OC; o++) LOAD_TILE(gv[o], G + o * gs + t * VW);            \
            for (int64_t j = 0; j < JB; j++) {                                             \
                tile in;                                                                   \
                LOAD_TILE(in, src + t * VW + j);                                           \
                for (int o = 0; o < OC; o++) acc[o][j] += gv[o] * in;                      \
            }                                                                              \
        }                                                                                  \
        for (int o = 0; o < OC; o++)                                                       \
            for (int64_t j = 0; j < JB; j++) {                                             \
                tile sum;                                                                  \
                LOAD_TILE(sum, acc_out + o * as + j * VW);                                 \
                sum += acc[o][j];                                                          \
                STORE_TILE(acc_out + o * as + j * VW, sum);                                \
            }                                                                              \
    }

/* acc[v] += sum over tiles t of src[t VW + v]: a bias gradient's lane sums. */
static DC_VEC_CLONES void add_tiles(const float *src, int64_t ntiles, float *acc) {
    tile sum, v;
    LOAD_TILE(sum, acc);
    for (int64_t t = 0; t < ntiles; t++) {
        LOAD_TILE(v, src + t * VW);
        sum += v;
    }
    STORE_TILE(acc, sum);
}

#define FOR_EACH_OC(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8)
FOR_EACH_OC(DEFINE_CORRELATE)

/* Weight-gradient blocks: up to WG_OC output channels by WG_JB taps (at
 * most 24 accumulators, 4 + 1 more registers for the loads). */
#define WG_OC 4
#define WG_JB 6
#define FOR_EACH_JB(X, OC) X(OC, 1) X(OC, 2) X(OC, 3) X(OC, 4) X(OC, 5) X(OC, 6)
#define DEFINE_WGRAD_ROW(OC) FOR_EACH_JB(DEFINE_WGRAD, OC)
DEFINE_WGRAD_ROW(1)
DEFINE_WGRAD_ROW(2)
DEFINE_WGRAD_ROW(3)
DEFINE_WGRAD_ROW(4)

typedef void (*correlate_fn)(const float *, const padded *, int64_t, int64_t, int64_t,
                             const float *, int64_t, float *, int64_t);
typedef void (*wgrad_fn)(const float *, int64_t, const float *, int64_t, float *, int64_t);

#define CORRELATE_ENTRY(OC) correlate_##OC,
static const correlate_fn correlate_block[OC_MAX] = {FOR_EACH_OC(CORRELATE_ENTRY)};
#define WGRAD_ENTRY(OC, JB) wgrad_##OC##_##JB,
#define WGRAD_ROW(OC) {FOR_EACH_JB(WGRAD_ENTRY, OC)},
static const wgrad_fn wgrad_block[WG_OC][WG_JB] = {
    WGRAD_ROW(1) WGRAD_ROW(2) WGRAD_ROW(3) WGRAD_ROW(4)
};

/* y (cout planes, ys apart) = the correlation of xp (cin planes of layout
 * L) with w (cout, cin, kh, kw), in blocks of OC_MAX output channels. */
static void correlate(const float *xp, const padded *L, int64_t cin, int64_t kh, int64_t kw,
                      const float *w, int64_t cout, float *y, int64_t ys) {
    int64_t wo = cin * kh * kw;
    for (int64_t o0 = 0; o0 < cout; o0 += OC_MAX) {
        int64_t oc = cout - o0 < OC_MAX ? cout - o0 : OC_MAX;
        correlate_block[oc - 1](xp, L, cin, kh, kw, w + o0 * wo, wo, y + o0 * ys, ys);
    }
}

/* ---------------------------------------------------------------- */
/* Chunks of images                                                  */
/* ---------------------------------------------------------------- */

static int64_t chunk_count(int64_t n) { return n < MAX_CHUNKS ? n : MAX_CHUNKS; }

/* Threads that may take part, and so the scratch slots to allocate. */
static int slot_count(int64_t nchunks) {
    int t = dc__pool_threads();
    return nchunks < t ? (int)nchunks : t;
}

/* ---------------------------------------------------------------- */
/* Forward                                                           */
/* ---------------------------------------------------------------- */

typedef struct fwd_job {
    const conv_geom *g;
    const float *x, *w, *b;
    const int64_t *xs;
    int64_t bs, nchunks;
    padded L;
    float *out, *scratch;
    int64_t slot_floats;
} fwd_job;

static void fwd_chunk(void *ctx, int64_t k, int slot) {
    const fwd_job *j = ctx;
    const conv_geom *g = j->g;
    float *xp = j->scratch + slot * j->slot_floats;
    float *y = xp + g->c_in * j->L.cs;
    int64_t ys = j->L.yplane, lo, hi;
    dc__chunk_range(g->n, j->nchunks, k, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        pad_planes(j->x + n * j->xs[0], j->xs + 1, g->c_in, g->h, g->w, g->ph, g->pw, &j->L,
                   xp);
        correlate(xp, &j->L, g->c_in, g->kh, g->kw, j->w, g->c_out, y, ys);
        unpad_planes(y, ys, j->L.yrs, g->c_out, g->oh, g->ow, j->b, j->bs,
                     j->out + n * g->c_out * g->plane);
    }
}

dc_status dc__conv_direct_forward(const float *x, const int64_t *xs, const float *w,
                                  const float *b, int64_t bs, const conv_geom *g, float *out) {
    fwd_job j = {.g = g, .x = x, .w = w, .b = b, .xs = xs, .bs = bs, .out = out};
    j.L = padded_layout(g->h, g->w, g->ph, g->pw, g->kh, g->kw);
    j.nchunks = chunk_count(g->n);
    j.slot_floats = g->c_in * j.L.cs + g->c_out * j.L.yplane;
    int slots = slot_count(j.nchunks);
    j.scratch = dc__malloc((size_t)(slots * j.slot_floats) * sizeof(float));
    if (!j.scratch) return DC_E_NOMEM;
    dc__parallel_for(fwd_chunk, &j, j.nchunks, slots);
    dc__free(j.scratch);
    return DC_OK;
}

/* ---------------------------------------------------------------- */
/* Backward                                                          */
/* ---------------------------------------------------------------- */

typedef struct bwd_job {
    const conv_geom *g;
    const float *x, *gout, *wf;
    const int64_t *xs;
    int64_t nchunks;
    padded Lx;         /* x padded as in the forward */
    padded Lg;         /* gout padded for the input gradient */
    float *gx;
    float *parts;      /* per chunk: gw (c_out kcols) then gb (c_out); NULL: no gw */
    float *scratch;
    int64_t slot_floats;
} bwd_job;

/* Per slot: xp | G | lane sums of gw and gb (the weight pass) and padded
 * gout | gx planes (the input pass). */
static int64_t bwd_slot_floats(const conv_geom *g, const padded *Lx, const padded *Lg,
                               bool weights, bool inputs) {
    int64_t s = 0;
    if (weights)
        s += g->c_in * Lx->cs + g->c_out * Lx->flat_tiles * VW +
             (g->c_out * g->kcols + g->c_out) * VW;
    if (inputs) s += g->c_out * Lg->cs + g->c_in * Lg->yplane;
    return s;
}

/* G (c_out planes of flat_tiles VW) = gout of one image at width wp, zeros
 * past OW and past the last row. */
static void widen_gout(const float *go, const conv_geom *g, const padded *L, float *G) {
    int64_t gs = L->flat_tiles * VW;
    memset(G, 0, (size_t)(g->c_out * gs) * sizeof(float));
    for (int64_t o = 0; o < g->c_out; o++)
        for (int64_t r = 0; r < g->oh; r++)
            memcpy(G + o * gs + r * L->wp, go + (o * g->oh + r) * g->ow,
                   (size_t)g->ow * sizeof(float));
}

/* Lane sums of one image's weight and bias gradients into accw
 * ((c_out kcols) rows of VW) and accb (c_out rows of VW). */
static void wgrad_image(const float *xp, const float *G, const conv_geom *g, const padded *L,
                        float *accw, float *accb) {
    int64_t gs = L->flat_tiles * VW, taps = g->kh * g->kw;
    for (int64_t o0 = 0; o0 < g->c_out; o0 += WG_OC) {
        int64_t oc = g->c_out - o0 < WG_OC ? g->c_out - o0 : WG_OC;
        for (int64_t c = 0; c < g->c_in; c++)
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t j0 = 0; j0 < g->kw; j0 += WG_JB) {
                    int64_t jb = g->kw - j0 < WG_JB ? g->kw - j0 : WG_JB;
                    int64_t tap = c * taps + i * g->kw + j0;
                    wgrad_block[oc - 1][jb - 1](G + o0 * gs, gs, xp + c * L->cs + i * L->wp + j0,
                                                L->flat_tiles, accw + (o0 * g->kcols + tap) * VW,
                                                g->kcols * VW);
                }
    }
    for (int64_t o = 0; o < g->c_out; o++) add_tiles(G + o * gs, L->flat_tiles, accb + o * VW);
}

/* Images [lo, hi), chunk k: the weight and bias gradients' partial sums
 * into j->parts (k's row); s: the slot's xp | G | lane sums. */
static void weight_pass(const bwd_job *j, int64_t k, int64_t lo, int64_t hi, float *s) {
    const conv_geom *g = j->g;
    int64_t rows = g->c_out * g->kcols + g->c_out;   /* gw's entries, then gb's */
    float *xp = s;
    float *G = xp + g->c_in * j->Lx.cs;
    float *accw = G + g->c_out * j->Lx.flat_tiles * VW;
    float *accb = accw + g->c_out * g->kcols * VW;
    memset(accw, 0, (size_t)(rows * VW) * sizeof(float));
    for (int64_t n = lo; n < hi; n++) {
        pad_planes(j->x + n * j->xs[0], j->xs + 1, g->c_in, g->h, g->w, g->ph, g->pw, &j->Lx,
                   xp);
        widen_gout(j->gout + n * g->c_out * g->plane, g, &j->Lx, G);
        wgrad_image(xp, G, g, &j->Lx, accw, accb);
    }
    float *part = j->parts + k * rows;   /* across the lanes */
    for (int64_t r = 0; r < rows; r++) {
        float sum = 0.0f;
        for (int64_t v = 0; v < VW; v++) sum += accw[r * VW + v];
        part[r] = sum;
    }
}

/* Images [lo, hi): their input gradients; s: the slot's padded gout |
 * gx planes. */
static void input_pass(const bwd_job *j, int64_t lo, int64_t hi, float *s) {
    const conv_geom *g = j->g;
    float *gp = s;
    float *y = gp + g->c_out * j->Lg.cs;
    const int64_t gstr[3] = {g->plane, g->ow, 1};   /* gout's strides in an image */
    for (int64_t n = lo; n < hi; n++) {
        pad_planes(j->gout + n * g->c_out * g->plane, gstr, g->c_out, g->oh, g->ow,
                   g->kh - 1 - g->ph, g->kw - 1 - g->pw, &j->Lg, gp);
        correlate(gp, &j->Lg, g->c_out, g->kh, g->kw, j->wf, g->c_in, y, j->Lg.yplane);
        unpad_planes(y, j->Lg.yplane, j->Lg.yrs, g->c_in, g->h, g->w, NULL, 0,
                     j->gx + n * g->c_in * g->h * g->w);
    }
}

static void bwd_chunk(void *ctx, int64_t k, int slot) {
    const bwd_job *j = ctx;
    const conv_geom *g = j->g;
    float *s = j->scratch + slot * j->slot_floats;
    int64_t lo, hi;
    dc__chunk_range(g->n, j->nchunks, k, &lo, &hi);
    if (j->parts) weight_pass(j, k, lo, hi, s);
    /* the input pass's scratch follows the weight pass's */
    if (j->gx)
        input_pass(j, lo, hi, s + bwd_slot_floats(g, &j->Lx, &j->Lg, j->parts != NULL, false));
}

/* wf (c_in, c_out, kh, kw) = w (c_out, c_in, kh, kw) transposed on its
 * channel axes and flipped in both kernel axes. */
static void flip_weights(const float *w, const conv_geom *g, float *wf) {
    for (int64_t o = 0; o < g->c_out; o++)
        for (int64_t c = 0; c < g->c_in; c++)
            for (int64_t i = 0; i < g->kh; i++)
                for (int64_t jj = 0; jj < g->kw; jj++)
                    wf[((c * g->c_out + o) * g->kh + g->kh - 1 - i) * g->kw + g->kw - 1 - jj] =
                        w[((o * g->c_in + c) * g->kh + i) * g->kw + jj];
}

dc_status dc__conv_direct_backward(const float *x, const int64_t *xs, const float *w,
                                   const float *gout, const conv_geom *g, float *gx,
                                   float *gw, float *gb) {
    if (!gx && !gw && !gb) return DC_OK;
    bwd_job j = {.g = g, .x = x, .gout = gout, .xs = xs, .gx = gx};
    j.nchunks = chunk_count(g->n);
    j.Lx = padded_layout(g->h, g->w, g->ph, g->pw, g->kh, g->kw);
    j.Lg = padded_layout(g->oh, g->ow, g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->kh, g->kw);
    int64_t part_floats = g->c_out * g->kcols + g->c_out;
    int64_t wf_floats = gx ? g->c_out * g->kcols : 0;
    int64_t parts_floats = gw || gb ? j.nchunks * part_floats : 0;
    j.slot_floats = bwd_slot_floats(g, &j.Lx, &j.Lg, parts_floats > 0, gx != NULL);
    int slots = slot_count(j.nchunks);
    float *buf = dc__malloc((size_t)(wf_floats + parts_floats + slots * j.slot_floats) *
                            sizeof(float));
    if (!buf) return DC_E_NOMEM;
    float *wf = buf;
    j.parts = parts_floats ? buf + wf_floats : NULL;
    j.scratch = buf + wf_floats + parts_floats;
    if (gx) flip_weights(w, g, wf);
    j.wf = wf;
    dc__parallel_for(bwd_chunk, &j, j.nchunks, slots);
    if (j.parts) {   /* the chunks' sums, in chunk order */
        for (int64_t r = 0; r < part_floats; r++) {
            float sum = 0.0f;
            for (int64_t k = 0; k < j.nchunks; k++) sum += j.parts[k * part_floats + r];
            if (r < g->c_out * g->kcols) {
                if (gw) gw[r] = sum;
            } else if (gb) {
                gb[r - g->c_out * g->kcols] = sum;
            }
        }
    }
    dc__free(buf);
    return DC_OK;
}
