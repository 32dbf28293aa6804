/* Float math for the f32 loops of the ops: exp, tanh, sigmoid and the
 * normal CDF written with plain arithmetic, so that a loop over them
 * vectorises (glibc's expf, tanhf and erff are calls the compiler cannot
 * vectorise without -ffast-math), and DC_VEC_CLONES, which compiles a
 * loop function for AVX-512, AVX2 + FMA and the baseline and picks one
 * at load time.
 *
 * Accuracy (checked against double precision from -120 to 100): exp,
 * sigmoid and tanh within 2.5e-7 relative (exp flushes results below
 * 2.5e-38 to 0); the normal CDF within 2.5e-6 relative down to x = -5
 * (where it is 3e-7) and 2e-5 beyond, i.e. 1e-12 absolute. NaN stays
 * NaN. */
#ifndef DEEPCORE_FASTMATH_H
#define DEEPCORE_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* Not under ThreadSanitizer: the clones' ifunc resolvers run during
 * relocation, before the TSan runtime is up, and their instrumentation
 * crashes every program at load (GCC 12). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 12 && \
    !defined(DC_NO_CLONES) && !defined(__SANITIZE_THREAD__)
#  define DC_VEC_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
/* The same clones with a * b + c fused into one FMA where the clone's ISA
 * has it (AVX-512 and AVX2 do, the baseline does not): for the loops of
 * exp, tanh, sigmoid and the normal CDF, whose polynomials are chains of
 * multiply-adds. The library is compiled as ISO C, which fuses nothing,
 * and these loops then ran a multiply and an add for every term (the
 * exact GELU over 4M elements, in a loop outside the repository: 1.35-1.6
 * ns an element, fused 1.05-1.15; bench/train's GPT step 3-5% faster). A fused
 * multiply-add rounds once instead of twice, so results agree to the
 * same tolerances; their last bits differ between CPUs with and without
 * FMA, as the GEMM's sums already do. */
#  define DC_VEC_CLONES_FMA \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), \
                   optimize("fp-contract=fast")))
#else
#  define DC_VEC_CLONES
#  define DC_VEC_CLONES_FMA
#endif

static inline float dc__bits_to_float(int32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by Cephes' degree-6
 * polynomial, 2^n made in the exponent bits (as 2 * 2^(n-1), so that n
 * may reach 128). Results below 2.5e-38 flush to 0; above 88.72 it is
 * +inf. */
static inline float dc__expf(float x) {
    /* Written so that NaN clamps to -86.6 (every comparison with NaN is
     * false): the integer conversion below must never see NaN or a value
     * out of range. The NaN itself is passed through at the end. */
    float xc = x > -86.6f ? x : -86.6f;
    xc = xc < 88.7228f ? xc : 88.7228f;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;   /* round */
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    float y = (2.0f * p) * dc__bits_to_float((int32_t)((uint32_t)((int32_t)n + 126) << 23));
    y = x > 88.7228f ? __builtin_inff() : y;
    y = x < -86.6f ? 0.0f : y;
    return x != x ? x : y;
}

static inline float dc__sigmoidf(float x) {
    return 1.0f / (1.0f + dc__expf(-x));
}

/* tanh: an odd Taylor polynomial near 0 (where (e^2a - 1) / (e^2a + 1)
 * would cancel), that quotient elsewhere. */
static inline float dc__tanhf(float x) {
    float a = x < 0.0f ? -x : x;
    /* both branches are computed (so that the loop vectorises): the
     * polynomial gets an argument clamped to its range, or a large x
     * would overflow a^10 and raise FE_OVERFLOW for nothing */
    float as = a < 0.25f ? a : 0.25f;
    float a2 = as * as;
    float small = as * (1.0f + a2 * (-0.333333333f + a2 * (0.133333333f +
                  a2 * (-0.0539682540f + a2 * (0.0218694885f + a2 * -0.00886323552f)))));
    float e = dc__expf(2.0f * (a < 9.0f ? a : 9.0f));
    float big = (e - 1.0f) / (e + 1.0f);
    float t = a < 0.25f ? small : big;
    t = a >= 9.0f ? 1.0f : t;
    t = x < 0.0f ? -t : t;
    return x != x ? x : t;
}

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc: relative error below
 * 1.2e-7 everywhere). */
static inline float dc__erfc_nonneg(float z) {
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * dc__expf(-z * z + p);
}

/* Phi(x) = P(N(0, 1) <= x) = erfc(-x / sqrt 2) / 2. */
static inline float dc__normal_cdf(float x) {
    float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
    float half_tail = 0.5f * dc__erfc_nonneg(z);
    float phi = x < 0.0f ? half_tail : 1.0f - half_tail;
    return x != x ? x : phi;
}

#endif
