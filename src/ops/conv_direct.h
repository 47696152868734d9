/* Direct convolution kernels for conv2d (private to src/ops).
 *
 * For LeNet-sized layers the im2col + sgemm lowering spends most of its time
 * outside the product: writing and re-reading the columns (25 floats per
 * output pixel for c1, 150 for c2), regrouping the product into NCHW and
 * OpenBLAS packing a matrix with 6 or 16 rows into panels of 16.  These
 * kernels compute straight from a zero-padded copy of each image instead,
 * with AVX2 + FMA register tiles (x86-64 CPUs that have them; the rest use
 * the sgemm path):
 *
 *   rows: stride 1 and output rows of >= 16 pixels (LeNet c1, ResNet's
 *         first block).  A tile is up to 4 vectors along an output row times
 *         up to 12/vectors output channels; each tap loads the input row
 *         segment once and multiplies it by one broadcast weight per channel.
 *   chan: out-channels a multiple of 8, any stride (LeNet c2, ResNet's later
 *         blocks).  A tile is up to 12/vectors output pixels times up to 4
 *         vectors of output channels (weights transposed to [C*KH*KW, O]);
 *         each tap loads the channel vectors once and broadcasts one input
 *         pixel per output pixel.
 *
 * Both also give the weight gradient (rows: per-tap accumulators along the
 * output row; chan: accumulators over the channel vectors, from dy
 * transposed to [pixel, O]) and, at stride 1, the input gradient (a tile of
 * taps times an output row, accumulated over the output channels and added
 * row by row into a padded dx: the GEMM and col2im in one pass).  Larger
 * strides take the sgemm path for the input gradient.  Sums run in a fixed
 * order, so results are deterministic; they differ from the sgemm path in
 * rounding only (FMA). */
#ifndef DT_CONV_DIRECT_H
#define DT_CONV_DIRECT_H

#include <stddef.h>

typedef struct conv_geom {
    int B, C, H, W;   /* input x [B,C,H,W] */
    int O, KH, KW;    /* weight w [O,C,KH,KW] */
    int OH, OW;       /* output y [B,O,OH,OW] */
    int s, p;         /* stride, zero padding */
    size_t CKK;       /* rows of cols: C*KH*KW */
    size_t OHW;       /* output positions per image */
    int chunk;        /* images per im2col/sgemm pass */
} conv_geom;

typedef enum { CONV_DIRECT_NONE, CONV_DIRECT_ROWS, CONV_DIRECT_CHAN } conv_direct_kind;

/* Which direct kernel serves this geometry on this CPU (NONE: the sgemm
 * path).  Depends on the geometry and the CPU only, so compile-time sizing
 * (workspace, kept columns) and every later call agree. */
conv_direct_kind conv_direct_kind_of(const conv_geom *g);
/* Scratch floats the direct kernels need for batch g->B (0 for NONE). */
size_t conv_direct_workspace(const conv_geom *g);
/* 1 while the direct kernels may run (tests switch them off to compare
 * with the sgemm path on the same graph). */
int conv_direct_enabled(void);
void conv_direct_enable(int on);

/* y [B,O,OH,OW] = conv(x, w); overwrites y. */
void conv_direct_forward(const conv_geom *g, const float *x, const float *w, float *y, float *ws);
/* dw [O,C,KH,KW] += d loss / d w, from x and dy [B,O,OH,OW]. */
void conv_direct_dweight(const conv_geom *g, const float *x, const float *dy, float *dw, float *ws);
/* Whether conv_direct_dinput serves this geometry (a direct kind, stride 1). */
int conv_direct_has_dinput(const conv_geom *g);
/* dx [B,C,H,W] += d loss / d x, from w and dy (fresh: dx = instead). */
void conv_direct_dinput(const conv_geom *g, const float *w, const float *dy, float *dx, int fresh, float *ws);

#endif
