/* 2-D convolution, NCHW, PyTorch Conv2d weight layout, zero padding, no bias
 * (bias is a separate bias_add over axis 1).
 *
 * Lowered to one big matrix product (darknet/Caffe im2col, but over the whole
 * batch at once): the batch is unrolled into
 *     cols [C*KH*KW, B*OH*OW]
 * so a single cblas_sgemm W[O, CKK] · cols gives every output of every image
 * in channel-major order [O, B*OH*OW], which is then regrouped into NCHW.
 * One large sgemm is much faster than B small ones for LeNet-sized layers
 * (c2 per image is only 16x150x100).
 *
 * Scratch lives in the graph's one shared workspace (ex->ws), sized by
 * conv_workspace at compile time; forward and backward never allocate.  The
 * columns the weight gradient needs are kept from forward in the node's aux
 * buffer when they fit (kept_cols_batch).
 * Very large layers (batch x columns beyond CHUNK_FLOATS) are processed a
 * few images at a time so the workspace stays bounded.
 *
 * On CPUs with AVX2+FMA, geometries that conv_direct.c serves (LeNet's c1
 * and c2 among them) skip all of the above and run direct kernels for the
 * output, the weight gradient and (stride 1) the input gradient: at LeNet
 * sizes the lowering cost more than the products (im2col and col2im alone
 * were ~20% of a step). */
#include <cblas.h>
#include <stdint.h>

#include "conv_direct.h"
#include "op_util.h"

/* Upper bound on the workspace per conv node, in floats (64 MiB): above this
 * the batch is split into chunks of images.  LeNet at batch 64 needs ~1.6M. */
#define CHUNK_FLOATS ((size_t)1 << 24)

/* Images per pass: the whole batch unless the columns would pass CHUNK_FLOATS. */
static int conv_chunk(size_t per_image, int B)
{
    size_t fit = CHUNK_FLOATS / per_image;
    if (fit < 1) fit = 1;
    return fit < (size_t)B ? (int)fit : B;
}

static void conv_geom_of(const dt_node *n, conv_geom *g)
{
    const dt_node *x = n->in[0], *w = n->in[1];
    g->B = x->shape[0]; g->C = x->shape[1]; g->H = x->shape[2]; g->W = x->shape[3];
    g->O = w->shape[0]; g->KH = w->shape[2]; g->KW = w->shape[3];
    g->s = n->iarg[0]; g->p = n->iarg[1];
    g->OH = (g->H + 2 * g->p - g->KH) / g->s + 1;
    g->OW = (g->W + 2 * g->p - g->KW) / g->s + 1;
    g->CKK = (size_t)g->C * g->KH * g->KW;
    g->OHW = (size_t)g->OH * g->OW;
    /* cols [CKK, n*OHW] plus the product [O, n*OHW] per pass */
    g->chunk = conv_chunk((g->CKK + (size_t)g->O) * g->OHW, g->B);
}

static dt_status conv_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *w = n->in[1];
    int s = n->iarg[0], p = n->iarg[1];
    char why[128];
    if (x->ndim != 4) return dt_shape_error(n, x, w, "input must be 4-D [B,C,H,W]");
    if (w->ndim != 4) return dt_shape_error(n, x, w, "weight must be 4-D [out,in,KH,KW]");
    if (x->shape[1] != w->shape[1])
        return dt_shape_error(n, x, w, "input channels differ from the weight's in-channels");
    if (s < 1 || p < 0) {
        snprintf(why, sizeof why, "stride %d must be >= 1 and padding %d >= 0", s, p);
        return dt_shape_error(n, x, w, why);
    }
    if (w->shape[2] > x->shape[2] + 2 * p || w->shape[3] > x->shape[3] + 2 * p) {
        snprintf(why, sizeof why, "kernel %dx%d larger than the padded input %dx%d (padding %d)",
                 w->shape[2], w->shape[3], x->shape[2] + 2 * p, x->shape[3] + 2 * p, p);
        return dt_shape_error(n, x, w, why);
    }
    conv_geom g;
    conv_geom_of(n, &g);
    dt_set_shape(n, 4, (int[]){g.B, g.O, g.OH, g.OW});
    return DT_OK;
}

/* The sgemm path's passes (also the input gradient of the direct path),
 * or the direct kernels' scratch, whichever is larger. */
static size_t conv_workspace(const dt_node *n)
{
    conv_geom g;
    conv_geom_of(n, &g);
    size_t gemm = (g.CKK + (size_t)g.O) * g.OHW * (size_t)g.chunk, direct = conv_direct_workspace(&g);
    return gemm > direct ? gemm : direct;
}

/* The forward's columns are kept in aux for the weight gradient when the
 * largest batch runs in one pass and they take at most CHUNK_FLOATS (LeNet
 * at batch 64: 5 MB for c1, 3.8 MB for c2); otherwise backward recomputes
 * them.  Returns that largest batch (the node's capacity) when they are
 * kept, else 0, so every batch the graph runs agrees with what compile
 * allocated.  Geometries the direct kernels serve keep nothing (with the
 * kernels switched off, as tests do, backward recomputes). */
static size_t kept_cols_batch(const dt_node *n, const conv_geom *g)
{
    if (conv_direct_kind_of(g) != CONV_DIRECT_NONE) return 0; /* no columns: direct kernels */
    size_t per_image = (size_t)g->O * g->OHW;
    size_t max_b = per_image ? n->cap / per_image : 0;
    if (max_b == 0 || max_b > (size_t)INT32_MAX) return 0;
    int one_pass = conv_chunk((g->CKK + (size_t)g->O) * g->OHW, (int)max_b) == (int)max_b;
    return one_pass && g->CKK * g->OHW * max_b <= CHUNK_FLOATS ? max_b : 0;
}

static size_t conv_aux_bytes(const dt_node *n)
{
    conv_geom g;
    conv_geom_of(n, &g);
    return g.CKK * g.OHW * kept_cols_batch(n, &g) * sizeof(float);
}

/* Output positions o in [*lo, *hi) whose input index o*s + off lies in
 * [0, n_in); the rest read zero padding.  Computing this once per kernel row
 * and column keeps the copy loops below free of per-element bounds tests. */
static void valid_range(int n_out, int n_in, int s, int off, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = off >= n_in ? 0 : (n_in - 1 - off) / s + 1;
    if (a > n_out) a = n_out;
    if (b > n_out) b = n_out;
    *lo = a;
    *hi = b > a ? b : a;
}

/* For kernel tap (ki, kj): output rows [*h0, *h1) and columns [*w0, *w1)
 * that read real input; *iw0 is the input column of output column *w0.  An
 * empty column range empties the row range, so callers never form a pointer
 * outside the image. */
static void tap_range(const conv_geom *g, int ki, int kj, int *h0, int *h1, int *w0, int *w1, int *iw0)
{
    valid_range(g->OH, g->H, g->s, ki - g->p, h0, h1);
    valid_range(g->OW, g->W, g->s, kj - g->p, w0, w1);
    if (*w0 == *w1) *h1 = *h0;
    *iw0 = *w0 * g->s + kj - g->p;
}

/* dst[0..n) = src[0..n) and dst[0..n) += src[0..n).  Image rows are short
 * (10 floats in LeNet's c2), where a memcpy call costs as much as the copy
 * and -O2 does not vectorise loops of unknown length; fixed 8-float blocks
 * compile to plain vector moves. */
static inline void copy_row(float *restrict dst, const float *restrict src, size_t n)
{
    size_t t = 0;
    for (; t + 8 <= n; t += 8) memcpy(dst + t, src + t, 8 * sizeof *dst);
    for (; t < n; t++) dst[t] = src[t];
}

static inline void add_row(float *restrict dst, const float *restrict src, size_t n)
{
    size_t t = 0;
    for (; t + 4 <= n; t += 4) {
        dst[t] += src[t];
        dst[t + 1] += src[t + 1];
        dst[t + 2] += src[t + 2];
        dst[t + 3] += src[t + 3];
    }
    for (; t < n; t++) dst[t] += src[t];
}

/* cols [CKK, nb*OHW] <- x [nb,C,H,W], zeros where the window covers padding.
 * Row r = (c, ki, kj) holds, for every image and output position, the input
 * pixel that tap multiplies: writes are contiguous, reads stride by s. */
static void im2col(const conv_geom *g, const float *x, int nb, float *cols)
{
    const size_t HW = (size_t)g->H * g->W, N = (size_t)nb * g->OHW;
    const int OW = g->OW, s = g->s;
    size_t r = 0;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < g->KH; ki++)
            for (int kj = 0; kj < g->KW; kj++, r++) {
                int h0, h1, w0, w1, iw0;
                tap_range(g, ki, kj, &h0, &h1, &w0, &w1, &iw0);
                const size_t nw = (size_t)(w1 - w0);
                for (int b = 0; b < nb; b++) {
                    const float *xp = x + ((size_t)b * g->C + c) * HW;  /* [H,W] */
                    float *out = cols + r * N + (size_t)b * g->OHW;      /* [OH,OW] */
                    if (h0) memset(out, 0, (size_t)h0 * OW * sizeof *out);
                    for (int oh = h0; oh < h1; oh++) {
                        const float *restrict xr = xp + (size_t)(oh * s + ki - g->p) * g->W + iw0;
                        float *restrict o = out + (size_t)oh * OW;
                        for (int t = 0; t < w0; t++) o[t] = 0.0f;
                        if (s == 1) copy_row(o + w0, xr, nw);
                        else
                            for (size_t t = 0; t < nw; t++) o[w0 + t] = xr[t * s];
                        for (int t = w1; t < OW; t++) o[t] = 0.0f;
                    }
                    if (h1 < g->OH) memset(out + (size_t)h1 * OW, 0, (size_t)(g->OH - h1) * OW * sizeof *out);
                }
            }
}

/* dx [nb,C,H,W] += col2im(dcols [CKK, nb*OHW]): the transpose of im2col.
 * Padding taps are simply not visited; overlapping windows accumulate. */
static void col2im_add(const conv_geom *g, const float *dcols, int nb, float *dx)
{
    const size_t HW = (size_t)g->H * g->W, N = (size_t)nb * g->OHW;
    const int OW = g->OW, s = g->s;
    size_t r = 0;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < g->KH; ki++)
            for (int kj = 0; kj < g->KW; kj++, r++) {
                int h0, h1, w0, w1, iw0;
                tap_range(g, ki, kj, &h0, &h1, &w0, &w1, &iw0);
                const size_t nw = (size_t)(w1 - w0);
                for (int b = 0; b < nb; b++) {
                    float *dxp = dx + ((size_t)b * g->C + c) * HW;             /* [H,W] */
                    const float *in = dcols + r * N + (size_t)b * g->OHW;     /* [OH,OW] */
                    for (int oh = h0; oh < h1; oh++) {
                        float *restrict xr = dxp + (size_t)(oh * s + ki - g->p) * g->W + iw0;
                        const float *restrict d = in + (size_t)oh * OW + w0;
                        if (s == 1) add_row(xr, d, nw);
                        else
                            for (size_t t = 0; t < nw; t++) xr[t * s] += d[t];
                    }
                }
            }
}

/* Per pass over nb images starting at image b0:
 *   cols = ws (or aux)    [CKK, nb*OHW]
 *   prod = ws + CKK*cols  [O,   nb*OHW]   (channel-major product / gradient) */
static void conv_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0], *w = n->in[1];
    conv_geom g;
    conv_geom_of(n, &g);
    if (conv_direct_enabled() && conv_direct_kind_of(&g) != CONV_DIRECT_NONE) {
        conv_direct_forward(&g, x->val, w->val, n->val, ex->ws);
        return;
    }
    const size_t in_img = (size_t)g.C * g.H * g.W, out_img = (size_t)g.O * g.OHW;
    const int keep = kept_cols_batch(n, &g) > 0;
    for (int b0 = 0; b0 < g.B; b0 += g.chunk) {
        int nb = g.B - b0 < g.chunk ? g.B - b0 : g.chunk;
        size_t N = (size_t)nb * g.OHW;
        float *cols = keep ? (float *)n->aux : ex->ws, *prod = ex->ws + g.CKK * N;
        im2col(&g, x->val + (size_t)b0 * in_img, nb, cols);
        /* prod[O,N] = w[O,CKK] · cols[CKK,N] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.O, (int)N, (int)g.CKK, 1.0f, w->val,
                    (int)g.CKK, cols, (int)N, 0.0f, prod, (int)N);
        /* y[b,o,:] <- prod[o, b*OHW : (b+1)*OHW]: contiguous runs of OHW */
        float *y = n->val + (size_t)b0 * out_img;
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < g.O; o++)
                memcpy(y + ((size_t)b * g.O + o) * g.OHW, prod + (size_t)o * N + (size_t)b * g.OHW,
                       g.OHW * sizeof *y);
    }
}

/* The weight gradient needs the forward's columns: kept in aux when they fit
 * (kept_cols_batch), else recomputed from x (the shared workspace cannot hold them
 * across the step, as later ops overwrite it).  im2col was 17% of a LeNet
 * step when every backward recomputed them. */
static void conv_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *w = n->in[1];
    conv_geom g;
    conv_geom_of(n, &g);
    const size_t in_img = (size_t)g.C * g.H * g.W, out_img = (size_t)g.O * g.OHW;
    const int keep = kept_cols_batch(n, &g) > 0;
    const int direct = conv_direct_enabled() && conv_direct_kind_of(&g) != CONV_DIRECT_NONE;
    if (direct && w->grad) conv_direct_dweight(&g, x->val, n->grad, w->grad, ex->ws);
    if (direct && x->grad && conv_direct_has_dinput(&g)) {
        conv_direct_dinput(&g, w->val, n->grad, x->grad, ex->grad_fresh[0], ex->ws);
        return;
    }
    if (direct && !x->grad) return;
    if (x->grad && ex->grad_fresh[0]) memset(x->grad, 0, dt_numel(x) * sizeof *x->grad); /* col2im adds */
    for (int b0 = 0; b0 < g.B; b0 += g.chunk) {
        int nb = g.B - b0 < g.chunk ? g.B - b0 : g.chunk;
        size_t N = (size_t)nb * g.OHW;
        float *cols = ex->ws, *dprod = ex->ws + g.CKK * N;
        /* dprod[o, b*OHW + j] <- dy[b,o,j]: the inverse of the forward regrouping */
        const float *dy = n->grad + (size_t)b0 * out_img;
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < g.O; o++)
                memcpy(dprod + (size_t)o * N + (size_t)b * g.OHW, dy + ((size_t)b * g.O + o) * g.OHW,
                       g.OHW * sizeof *dprod);
        if (w->grad && !direct) {
            const float *fcols = keep ? (const float *)n->aux : cols;
            if (!keep) im2col(&g, x->val + (size_t)b0 * in_img, nb, cols);
            /* dw[O,CKK] += dprod[O,N] · cols[CKK,N]ᵀ */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.O, (int)g.CKK, (int)N, 1.0f, dprod,
                        (int)N, fcols, (int)N, 1.0f, w->grad, (int)g.CKK);
        }
        if (x->grad) { /* NULL for a first layer: the largest gemm and col2im are skipped */
            /* dcols[CKK,N] = w[O,CKK]ᵀ · dprod[O,N], overwriting cols (no longer needed) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.CKK, (int)N, g.O, 1.0f, w->val,
                        (int)g.CKK, dprod, (int)N, 0.0f, cols, (int)N);
            col2im_add(&g, cols, nb, x->grad + (size_t)b0 * in_img);
        }
    }
}

const dt_op_def dt_def_conv2d = {"conv2d", conv_infer, conv_forward, conv_backward, conv_aux_bytes, conv_workspace, 0};
