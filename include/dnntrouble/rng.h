/* Seeded random numbers with explicit state (xoroshiro128+ seeded by
 * splitmix64): every consumer owns its generator, so results depend only on
 * the seed and the order of draws, never on global state. */
#ifndef DT_RNG_H
#define DT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct dt_rng { uint64_t s[2]; } dt_rng;

void dt_rng_seed(dt_rng *r, uint64_t seed);
uint64_t dt_rng_u64(dt_rng *r);
/* Uniform in [0, 1). */
double dt_rng_uniform(dt_rng *r);
/* Uniform integer in [0, n). n > 0. */
uint64_t dt_rng_below(dt_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call). */
double dt_rng_normal(dt_rng *r);
/* In-place Fisher-Yates shuffle of n indices. */
void dt_rng_shuffle(dt_rng *r, size_t *idx, size_t n);
/* Derives an independent stream, e.g. one per trial or per stage. */
dt_rng dt_rng_split(dt_rng *r);

#endif
