/* rng.c — xoshiro256** random numbers with explicit state, seeded by splitmix64.
 * Normal deviates by the Box-Muller transform (one of each pair is used, so the stream position
 * depends only on how many numbers were drawn); bulk fills by Marsaglia's polar method, which needs
 * no trigonometry and uses both deviates of each accepted pair (in float, from 24-bit uniforms). */
#include <math.h>

#include "curvo.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void curvo_rng_seed(curvo_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t curvo_rng_next(curvo_rng *rng) {
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

double curvo_rng_uniform(curvo_rng *rng) { return (double)(curvo_rng_next(rng) >> 11) * 0x1.0p-53; }

double curvo_rng_normal(curvo_rng *rng) {
    double u1 = 1.0 - curvo_rng_uniform(rng); /* in (0, 1] */
    double u2 = curvo_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t curvo_rng_below(curvo_rng *rng, uint64_t n) {
    /* rejection sampling removes the modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = curvo_rng_next(rng);
    while (r >= limit);
    return r % n;
}

void curvo_rng_fill_normal(curvo_rng *rng, float *x, size_t n) {
    const float scale = 0x1.0p-23f; /* 24-bit uniforms in [-1, 1), two from each 64-bit draw */
    size_t i = 0;
    while (i < n) {
        float u, v, s;
        do {
            uint64_t r = curvo_rng_next(rng);
            u = (float)(int32_t)((uint32_t)(r >> 40) - (1u << 23)) * scale;
            v = (float)(int32_t)((uint32_t)((r >> 8) & 0xffffffu) - (1u << 23)) * scale;
            s = u * u + v * v;
        } while (s >= 1.0f || s == 0.0f);
        float f = sqrtf(-2.0f * logf(s) / s);
        x[i++] = u * f;
        if (i < n) x[i++] = v * f;
    }
}
