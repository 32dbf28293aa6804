/* Direct f32 convolution kernels for the convolutions that im2col + GEMM
 * serves badly: stride 1, no dilation, one group and few input channels
 * (LeNet's 1 -> 6 and 6 -> 16 5x5 layers, a network's RGB stem). There
 * the column matrix is many times the size of the input, and building it,
 * multiplying it and scattering the result back cost more than the
 * arithmetic; the direct kernels read a zero-padded copy of each image
 * and keep the sums in registers. See conv_direct.c. */
#ifndef DEEPCORE_CONV_DIRECT_H
#define DEEPCORE_CONV_DIRECT_H

#include "../core/internal.h"
#include "conv_geom.h"

/* True when the direct kernels compute this convolution of dtype dt. */
bool dc__conv_direct_applies(const conv_geom *g, dc_dtype dt);

/* out (N, C_out, OH, OW), contiguous, overwritten = conv(x, w) (+ b):
 * x with element strides xs (of its N, C, H, W axes), w contiguous,
 * b (element stride bs) or NULL. */
dc_status dc__conv_direct_forward(const float *x, const int64_t *xs, const float *w,
                                  const float *b, int64_t bs, const conv_geom *g, float *out);

/* From gout (N, C_out, OH, OW, contiguous): gx (x's shape, contiguous),
 * gw (w's shape) and gb (C_out), each overwritten, each may be NULL.
 * The sums over the batch are added up in a fixed order, whatever the
 * number of threads, so the result does not depend on it. */
dc_status dc__conv_direct_backward(const float *x, const int64_t *xs, const float *w,
                                   const float *gout, const conv_geom *g, float *gx,
                                   float *gw, float *gb);

#endif
