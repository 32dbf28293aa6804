/* The sizes and parameters of one convolution, shared by the im2col +
 * GEMM path (conv.c) and the direct kernels (conv_direct.c). */
#ifndef DEEPCORE_CONV_GEOM_H
#define DEEPCORE_CONV_GEOM_H

#include <stdint.h>

typedef struct conv_geom {
    int64_t n, c_in, h, w;          /* x */
    int64_t c_out, kh, kw;          /* weight */
    int64_t oh, ow;                 /* output plane */
    int64_t sh, sw, ph, pw, dh, dw; /* stride, padding, dilation */
    int64_t groups;
    int64_t cg_in, cg_out;          /* channels per group */
    int64_t kcols;                  /* cg_in * kh * kw: rows of the column matrix */
    int64_t plane;                  /* oh * ow: columns of the column matrix */
} conv_geom;

#endif
