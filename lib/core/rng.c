/* Seeded random numbers: xoshiro256** seeded through splitmix64. Each
 * thread has a default generator (seed 0 until dc_manual_seed); callers
 * may own generators of their own (dc_rng_new). No global state. */
#include "internal.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(dc_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dc__rng_next(dc_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dc__rng_uniform(dc_rng *rng) {
    return (double)(dc__rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Box-Muller, one normal per pair of uniforms: the generator state is
 * then only s[4], which makes saving and restoring it exact. */
double dc__rng_normal(dc_rng *rng) {
    double u1;
    do u1 = dc__rng_uniform(rng); while (u1 <= 0.0);
    double u2 = dc__rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double a = 6.283185307179586476925 * u2;
    return r * cos(a);
}

static _Thread_local dc_rng tl_rng;
static _Thread_local bool tl_rng_ready = false;

dc_rng *dc__thread_rng(void) {
    if (!tl_rng_ready) {
        rng_seed(&tl_rng, 0);
        tl_rng_ready = true;
    }
    return &tl_rng;
}

dc_rng *dc_rng_new(uint64_t seed) {
    dc_rng *rng = dc__malloc(sizeof *rng);
    if (rng) rng_seed(rng, seed);
    return rng;
}

void dc_rng_free(dc_rng *rng) { dc__free(rng); }

dc_status dc_rng_seed(dc_rng *rng, uint64_t seed) {
    rng_seed(rng ? rng : dc__thread_rng(), seed);
    return DC_OK;
}

void dc_manual_seed(uint64_t seed) { rng_seed(dc__thread_rng(), seed); }

dc_status dc_rng_get_state(const dc_rng *rng, uint64_t state[4]) {
    if (!state) return dc__fail(DC_E_INVALID, "dc_rng_get_state: 'state' is NULL");
    if (!rng) rng = dc__thread_rng();
    memcpy(state, rng->s, sizeof rng->s);
    return DC_OK;
}

dc_status dc_rng_set_state(dc_rng *rng, const uint64_t state[4]) {
    if (!state) return dc__fail(DC_E_INVALID, "dc_rng_set_state: 'state' is NULL");
    if (!state[0] && !state[1] && !state[2] && !state[3])
        return dc__fail(DC_E_INVALID, "dc_rng_set_state: an all-zero state is invalid");
    if (!rng) rng = dc__thread_rng();
    memcpy(rng->s, state, sizeof rng->s);
    return DC_OK;
}
