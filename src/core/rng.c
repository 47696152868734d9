#include "dnntrouble/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void dt_rng_seed(dt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    r->s[0] = splitmix64(&x);
    r->s[1] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoroshiro128+ (Blackman & Vigna), as in kann's kad_rng. */
uint64_t dt_rng_u64(dt_rng *r)
{
    uint64_t s0 = r->s[0], s1 = r->s[1], result = s0 + s1;
    s1 ^= s0;
    r->s[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    r->s[1] = rotl(s1, 37);
    return result;
}

double dt_rng_uniform(dt_rng *r) { return (double)(dt_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t dt_rng_below(dt_rng *r, uint64_t n)
{
    /* Rejection sampling avoids modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, v;
    do v = dt_rng_u64(r); while (v >= limit);
    return v % n;
}

double dt_rng_normal(dt_rng *r)
{
    double u1 = dt_rng_uniform(r), u2 = dt_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dt_rng_shuffle(dt_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dt_rng_below(r, i);
        size_t t = idx[i - 1]; idx[i - 1] = idx[j]; idx[j] = t;
    }
}

dt_rng dt_rng_split(dt_rng *r)
{
    dt_rng child;
    dt_rng_seed(&child, dt_rng_u64(r) ^ 0x5DEECE66Dull);
    return child;
}
