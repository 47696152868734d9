/* Hot element-wise loops compiled twice, for AVX2 and for the baseline
 * x86-64 (SSE2), with the variant picked once when the program loads (GNU
 * ifunc, through GCC's target_clones).  Private to the library.
 *
 * The loops use plain IEEE operations only, and -std=c11 leaves
 * floating-point contraction off (no FMA is formed), so every element
 * rounds the same way in both variants: results are bit-identical whichever
 * runs.  Reductions that must be vectorised use explicit fixed lanes (see
 * sum_lanes in ops_linear.c) for the same reason. */
#ifndef DT_VEC_H
#define DT_VEC_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(DT_NO_CLONES)
#define DT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DT_CLONES
#endif

/* sqrtf in a loop vectorises only without errno: the Makefile builds
 * src/ops and src/optim with -fno-math-errno (values are unchanged). */

#endif
