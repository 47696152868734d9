/* 2-D max and average pooling over NCHW: square kernel k, stride s, no
 * padding, floor mode (PyTorch's defaults for MaxPool2d/AvgPool2d with
 * padding 0), so trailing rows/columns that do not fill a window are dropped
 * and receive no gradient.
 *
 * Every (image, channel) plane is pooled independently, so the loops run over
 * B*C planes of [H,W] -> [OH,OW]. */
#include <math.h>
#include <stdint.h>

#include "op_util.h"

typedef struct pool_geom {
    size_t planes;    /* B*C */
    int H, W;         /* input plane [H,W] */
    int OH, OW;       /* output plane [OH,OW] */
    int k, s;         /* kernel side, stride */
} pool_geom;

static void pool_geom_of(const dt_node *n, pool_geom *g)
{
    const dt_node *x = n->in[0];
    g->planes = (size_t)x->shape[0] * (size_t)x->shape[1];
    g->H = x->shape[2];
    g->W = x->shape[3];
    g->k = n->iarg[0];
    g->s = n->iarg[1];
    g->OH = (g->H - g->k) / g->s + 1;
    g->OW = (g->W - g->k) / g->s + 1;
}

static dt_status pool_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    int k = n->iarg[0], s = n->iarg[1];
    char why[128];
    if (x->ndim != 4) return dt_shape_error(n, x, NULL, "input must be 4-D [B,C,H,W]");
    if (k < 1 || s < 1) {
        snprintf(why, sizeof why, "kernel %d and stride %d must be >= 1", k, s);
        return dt_shape_error(n, x, NULL, why);
    }
    if (k > x->shape[2] || k > x->shape[3]) {
        snprintf(why, sizeof why, "kernel %dx%d larger than the %dx%d input", k, k, x->shape[2],
                 x->shape[3]);
        return dt_shape_error(n, x, NULL, why);
    }
    pool_geom g;
    pool_geom_of(n, &g);
    dt_set_shape(n, 4, (int[]){x->shape[0], x->shape[1], g.OH, g.OW});
    return DT_OK;
}

/* ---- maxpool ----
 * aux: int32 [B,C,OH,OW], the argmax of each window as an offset ih*W+iw
 * within its plane (plane-relative, so it fits in 32 bits for any tensor the
 * graph can hold). */
static size_t maxpool_aux_bytes(const dt_node *n) { return dt_numel(n) * sizeof(int32_t); }

/* The argmax of the k*k window at win (row stride W), as an offset from win;
 * its value goes to *out.  PyTorch's rule is a strict '>' scan (the first of
 * tied maxima wins) where a NaN also wins, so it reaches the loss.  That scan
 * mispredicts a branch on most elements, so finite windows take two
 * branch-free passes instead (max, then the first position holding it) and
 * only a window with a NaN runs the literal rule. */
static int32_t window_argmax(const float *win, int k, int W, float *out)
{
    float best = win[0];
    int nan = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            const float v = win[(size_t)i * W + j];
            best = v > best ? v : best;
            nan |= v != v;
        }
    int32_t at = 0;
    if (nan) {
        best = win[0];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                const float v = win[(size_t)i * W + j];
                if (v > best || isnan(v)) {
                    best = v;
                    at = i * W + j;
                }
            }
    } else {
        /* Backwards, so the first match is kept.  With no NaN, v >= best
         * means v == best; the mask keeps the compiler from branching. */
        for (int i = k - 1; i >= 0; i--)
            for (int j = k - 1; j >= 0; j--) {
                const int32_t hit = -(int32_t)(win[(size_t)i * W + j] >= best);
                at = (at & ~hit) | ((i * W + j) & hit);
            }
    }
    *out = best;
    return at;
}

/* One output row of the general window scan. */
static void maxpool_row(const pool_geom *g, const float *xp, int oh, float *y, int32_t *a)
{
    for (int ow = 0; ow < g->OW; ow++) {
        const size_t off = (size_t)oh * g->s * g->W + (size_t)ow * g->s;
        a[ow] = (int32_t)off + window_argmax(xp + off, g->k, g->W, &y[ow]);
    }
}

/* One output row for k = s = 2 (LeNet's pools).  The first maximum in
 * row-major order is the first of the top pair unless the bottom pair's
 * maximum is strictly larger, so the two pairs are reduced independently and
 * then compared: short dependency chains, no branches.  Selects drop NaNs,
 * so a row that holds one is redone by the general scan (torch's rule). */
static void maxpool2_row(const pool_geom *g, const float *xp, int oh, float *restrict y, int32_t *restrict a)
{
    const int W = g->W, OW = g->OW;
    const float *restrict r0 = xp + (size_t)(2 * oh) * W, *restrict r1 = r0 + W;
    const int32_t base = (int32_t)(2 * oh) * W;
    int nan = 0;
    for (int ow = 0; ow < OW; ow++) {
        const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
        const int t = v1 > v0, b = v3 > v2;
        const float top = t ? v1 : v0, bottom = b ? v3 : v2;
        const int down = bottom > top;
        y[ow] = down ? bottom : top;
        a[ow] = base + 2 * ow + (down ? W + b : t);
        nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
    }
    if (nan) maxpool_row(g, xp, oh, y, a);
}

static void maxpool_forward(dt_node *n, const dt_exec *ex)
{
    pool_geom g;
    pool_geom_of(n, &g);
    const size_t HW = (size_t)g.H * g.W, OHW = (size_t)g.OH * g.OW;
    void (*row)(const pool_geom *, const float *, int, float *, int32_t *) =
        g.k == 2 && g.s == 2 ? maxpool2_row : maxpool_row;
    for (size_t p = 0; p < g.planes; p++) {
        const float *xp = n->in[0]->val + p * HW;   /* [H,W] */
        float *yp = n->val + p * OHW;               /* [OH,OW] */
        int32_t *ap = (int32_t *)n->aux + p * OHW;  /* [OH,OW] */
        for (int oh = 0; oh < g.OH; oh++) row(&g, xp, oh, yp + (size_t)oh * g.OW, ap + (size_t)oh * g.OW);
    }
}

/* The whole gradient of each window goes to its argmax; overlapping windows
 * (s < k) that share a maximum add up there. */
static void maxpool_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    if (!dx) return;
    if (ex->grad_fresh[0]) memset(dx, 0, dt_numel(n->in[0]) * sizeof *dx);
    pool_geom g;
    pool_geom_of(n, &g);
    const size_t HW = (size_t)g.H * g.W, OHW = (size_t)g.OH * g.OW;
    for (size_t p = 0; p < g.planes; p++) {
        float *dxp = dx + p * HW;                         /* [H,W] */
        const float *dyp = n->grad + p * OHW;             /* [OH,OW] */
        const int32_t *ap = (const int32_t *)n->aux + p * OHW;
        for (size_t j = 0; j < OHW; j++) dxp[ap[j]] += dyp[j];
    }
}

const dt_op_def dt_def_maxpool = {"maxpool", pool_infer, maxpool_forward, maxpool_backward,
                                  maxpool_aux_bytes, 0, 0};

/* ---- avgpool: y = mean of the k*k window; dx += dy / k² over the window ---- */
static void avgpool_forward(dt_node *n, const dt_exec *ex)
{
    pool_geom g;
    pool_geom_of(n, &g);
    const size_t HW = (size_t)g.H * g.W, OHW = (size_t)g.OH * g.OW;
    const float inv = 1.0f / (float)(g.k * g.k);
    for (size_t p = 0; p < g.planes; p++) {
        const float *xp = n->in[0]->val + p * HW;  /* [H,W] */
        float *yp = n->val + p * OHW;              /* [OH,OW] */
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++) {
                float sum = 0.0f;
                for (int i = 0; i < g.k; i++) {
                    const float *row = xp + (size_t)(oh * g.s + i) * g.W + (size_t)ow * g.s;
                    for (int j = 0; j < g.k; j++) sum += row[j];
                }
                yp[(size_t)oh * g.OW + ow] = sum * inv;
            }
    }
}

static void avgpool_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    if (!dx) return;
    pool_geom g;
    pool_geom_of(n, &g);
    const size_t HW = (size_t)g.H * g.W, OHW = (size_t)g.OH * g.OW;
    const float inv = 1.0f / (float)(g.k * g.k);
    for (size_t p = 0; p < g.planes; p++) {
        float *dxp = dx + p * HW;              /* [H,W] */
        const float *dyp = n->grad + p * OHW;  /* [OH,OW] */
        for (int oh = 0; oh < g.OH; oh++)
            for (int ow = 0; ow < g.OW; ow++) {
                const float d = dyp[(size_t)oh * g.OW + ow] * inv;
                for (int i = 0; i < g.k; i++) {
                    float *row = dxp + (size_t)(oh * g.s + i) * g.W + (size_t)ow * g.s;
                    for (int j = 0; j < g.k; j++) row[j] += d;
                }
            }
    }
}

const dt_op_def dt_def_avgpool = {"avgpool", pool_infer, avgpool_forward, avgpool_backward, 0, 0, 0};
