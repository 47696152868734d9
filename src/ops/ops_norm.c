/* Normalisation layers and the embedding lookup, with PyTorch's semantics so
 * that checkpoints map onto torch.nn.BatchNorm1d/2d, LayerNorm and Embedding.
 *
 * batchnorm  x [B,C], [B,C,L] or [B,C,H,W]; gamma, beta [C]; farg {momentum, eps}.
 *            Train: batch mean and biased variance over every axis but C;
 *            running = (1 - m) * running + m * batch, the variance unbiased.
 *            Eval: the running statistics.  State layout: see ops_norm.h.
 * layernorm  over the last axis; gamma, beta [D]; farg {eps}; biased variance.
 * embedding  ids [B] or [B,T] (integer ids held in floats) -> [.., E] rows of
 *            table [V,E]; an id outside 0..V-1 gives a NaN row (no wild read),
 *            as cross_entropy does for bad labels; backward scatter-adds.
 *
 * Statistics are accumulated in double: a channel can hold B*H*W values. */
#include <math.h>

#include "dnntrouble/ops_norm.h"
#include "op_util.h"

/* ---- shared by the two normalisations ---- */

/* gamma and beta must both be 1-D of length k. */
static dt_status check_affine(dt_node *n, int k, const char *why)
{
    for (int j = 1; j <= 2; j++) {
        const dt_node *p = n->in[j];
        if (p->ndim != 1 || p->shape[0] != k) return dt_shape_error(n, n->in[0], p, why);
    }
    return DT_OK;
}

static dt_status check_eps(const dt_node *n, float eps)
{
    if (!(eps >= 0.0f) || !isfinite(eps))
        return dt_fail(DT_ECONFIG, "layer '%s', op %s: eps %g must be finite and >= 0", n->layer,
                       dt_op_get(n->op)->name, (double)eps);
    return DT_OK;
}

/* Sums in double over LANES interleaved partial sums, added pairwise at the
 * end: a fixed order (deterministic) that compiles to vector adds, where a
 * single running double sum is a serial chain of dependent adds that the
 * compiler may not reorder (no -ffast-math).  At ResNet's sizes (a channel
 * of 64 x 28 x 28 values) the serial chains were most of batch-norm's time. */
#define LANES 8
static double lanes_total(const double *l)
{
    return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
}

/* l[k] += x[i] for i = k mod LANES over x[0..S). */
static void lanes_add(double *restrict l, const float *restrict x, size_t S)
{
    size_t i = 0;
    for (; i + LANES <= S; i += LANES)
        for (int k = 0; k < LANES; k++) l[k] += x[i + k];
    for (; i < S; i++) l[i % LANES] += x[i];
}

/* l[k] += (x[i] - m)^2 likewise. */
static void lanes_add_sq(double *restrict l, const float *restrict x, size_t S, double m)
{
    size_t i = 0;
    for (; i + LANES <= S; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = x[i + k] - m;
            l[k] += d * d;
        }
    for (; i < S; i++) {
        double d = x[i] - m;
        l[i % LANES] += d * d;
    }
}

/* Mean and biased variance of B blocks of S contiguous values, `step` apart
 * (a batch-norm channel; a layer-norm row is B = 1); two passes, in double. */
static void block_moments(const float *x, int B, size_t step, size_t S, double *mean, double *var)
{
    double s[LANES] = {0}, q[LANES] = {0};
    for (int b = 0; b < B; b++) lanes_add(s, x + b * step, S);
    double m = lanes_total(s) / ((double)B * (double)S);
    for (int b = 0; b < B; b++) lanes_add_sq(q, x + b * step, S, m);
    *mean = m;
    *var = lanes_total(q) / ((double)B * (double)S);
}

/* ==== batchnorm ====
 * Index of element (b, c, s): (b * C + c) * S + s, S = product of the axes
 * after C (1 for [B,C]).
 * aux (floats): mean[C], inv_std[C] as used by the forward, then a flag that
 * is 1 when they were batch statistics (train) and 0 for running ones, so the
 * backward follows the forward's mode even if the graph's mode changed. */

int dt_batchnorm_channels(const dt_node *n) { return n->in[1]->shape[0]; }

void dt_batchnorm_reset_state(dt_node *n)
{
    int c = dt_batchnorm_channels(n);
    for (int j = 0; j < c; j++) {
        n->state[j] = 0.0f;
        n->state[c + j] = 1.0f;
    }
    n->state[2 * c] = 1.0f;
}

static void bn_ensure_state(dt_node *n)
{
    if (n->state[2 * dt_batchnorm_channels(n)] == 0.0f) dt_batchnorm_reset_state(n);
}

float *dt_batchnorm_running_mean(dt_node *n)
{
    bn_ensure_state(n);
    return n->state;
}

float *dt_batchnorm_running_var(dt_node *n)
{
    bn_ensure_state(n);
    return n->state + dt_batchnorm_channels(n);
}

static dt_status bn_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    if (x->ndim < 2) return dt_shape_error(n, x, NULL, "input must be [B,C], [B,C,L] or [B,C,H,W]");
    dt_status st = check_affine(n, x->shape[1], "gamma and beta must be [C], C = input dimension 1");
    if (st) return st;
    float m = n->farg[0];
    if (!(m >= 0.0f && m <= 1.0f))
        return dt_fail(DT_ECONFIG, "layer '%s', op batchnorm: momentum %g outside [0, 1]", n->layer,
                       (double)m);
    if ((st = check_eps(n, n->farg[1]))) return st;
    dt_set_shape(n, x->ndim, x->shape);
    return DT_OK;
}

static size_t bn_aux(const dt_node *n) { return (2 * (size_t)dt_batchnorm_channels(n) + 1) * sizeof(float); }

static size_t bn_state(const dt_node *n) { return 2 * (size_t)dt_batchnorm_channels(n) + 1; }

/* B, C and S of the input's current shape. */
static void bn_dims(const dt_node *n, int *b, int *c, size_t *s)
{
    const dt_node *x = n->in[0];
    *b = x->shape[0];
    *c = x->shape[1];
    *s = 1;
    for (int i = 2; i < x->ndim; i++) *s *= (size_t)x->shape[i];
}

/* Train mode with a single value per channel (torch refuses it): x̂ = 0, so
 * the output is beta, and the running statistics are left as they are since
 * the unbiased variance is undefined. */
static void bn_forward(dt_node *n, const dt_exec *ex)
{
    int B, C;
    size_t S;
    bn_dims(n, &B, &C, &S);
    const float *x = n->in[0]->val, *gamma = n->in[1]->val, *beta = n->in[2]->val;
    float *mean = n->aux, *inv_std = mean + C, momentum = n->farg[0], eps = n->farg[1];
    float *run_mean = dt_batchnorm_running_mean(n), *run_var = run_mean + C;
    size_t count = (size_t)B * S;
    mean[2 * C] = ex->train ? 1.0f : 0.0f;
    for (int c = 0; c < C; c++) {
        if (ex->train) {
            double m, v;
            block_moments(x + (size_t)c * S, B, (size_t)C * S, S, &m, &v);
            mean[c] = (float)m;
            inv_std[c] = (float)(1.0 / sqrt(v + eps));
            if (count > 1) {
                run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * (float)m;
                run_var[c] = (1.0f - momentum) * run_var[c] +
                             momentum * (float)(v * (double)count / (double)(count - 1));
            }
        } else {
            mean[c] = run_mean[c];
            inv_std[c] = (float)(1.0 / sqrt((double)run_var[c] + eps));
        }
    }
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t o = ((size_t)b * C + c) * S;
            const float a = gamma[c] * inv_std[c], mc = mean[c], bc = beta[c];
            const float *restrict xv = x + o;
            float *restrict y = n->val + o;
            for (size_t i = 0; i < S; i++) y[i] = (xv[i] - mc) * a + bc;
        }
}

/* Train: dx = gamma * inv_std / N * (N dy - sum dy - x̂ sum(dy x̂)) per channel;
 * eval: dx = gamma * inv_std * dy.  Both: dgamma = sum dy x̂, dbeta = sum dy. */
static void bn_backward(dt_node *n, const dt_exec *ex)
{
    int B, C;
    size_t S;
    bn_dims(n, &B, &C, &S);
    const float *x = n->in[0]->val, *gamma = n->in[1]->val, *dy = n->grad;
    const float *mean = n->aux, *inv_std = mean + C;
    float *dx = n->in[0]->grad, *dgamma = n->in[1]->grad, *dbeta = n->in[2]->grad;
    int batch_stats = mean[2 * C] != 0.0f;
    double count = (double)B * (double)S;
    for (int c = 0; c < C; c++) {
        const float mc = mean[c], ic = inv_std[c];
        double ldy[LANES] = {0}, ldyx[LANES] = {0};
        for (int b = 0; b < B; b++) {
            const float *restrict g = dy + ((size_t)b * C + c) * S, *restrict xv = x + ((size_t)b * C + c) * S;
            lanes_add(ldy, g, S);
            size_t i = 0;
            for (; i + LANES <= S; i += LANES)
                for (int k = 0; k < LANES; k++) ldyx[k] += g[i + k] * ((xv[i + k] - mc) * ic);
            for (; i < S; i++) ldyx[i % LANES] += g[i] * ((xv[i] - mc) * ic);
        }
        double sdy = lanes_total(ldy), sdyx = lanes_total(ldyx);
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!dx) continue;
        const float a = gamma[c] * ic;
        const float mdy = batch_stats ? (float)(sdy / count) : 0.0f;
        const float mdyx = batch_stats ? (float)(sdyx / count) : 0.0f;
        for (int b = 0; b < B; b++) {
            size_t o = ((size_t)b * C + c) * S;
            const float *restrict g = dy + o, *restrict xv = x + o;
            float *restrict d = dx + o;
            for (size_t i = 0; i < S; i++) {
                float xhat = (xv[i] - mc) * ic;
                d[i] += a * (g[i] - mdy - xhat * mdyx);
            }
        }
    }
}

const dt_op_def dt_def_batchnorm = {"batchnorm", bn_infer, bn_forward, bn_backward, bn_aux, 0, bn_state};

/* ==== layernorm over the last axis ====
 * aux (floats): mean[rows], inv_std[rows]. */

static dt_status ln_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    dt_status st = check_affine(n, x->shape[x->ndim - 1], "gamma and beta must match the last axis");
    if (st || (st = check_eps(n, n->farg[0]))) return st;
    dt_set_shape(n, x->ndim, x->shape);
    return DT_OK;
}

static size_t ln_aux(const dt_node *n) { return 2 * dt_rows(n) * sizeof(float); }

static void ln_forward(dt_node *n, const dt_exec *ex)
{
    int d = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    const float *gamma = n->in[1]->val, *beta = n->in[2]->val;
    float *mean = n->aux, *inv_std = mean + rows, eps = n->farg[0];
    for (size_t r = 0; r < rows; r++) {
        const float *x = n->in[0]->val + r * d;
        float *y = n->val + r * d;
        double m, v;
        block_moments(x, 1, 0, (size_t)d, &m, &v);
        mean[r] = (float)m;
        inv_std[r] = (float)(1.0 / sqrt(v + eps));
        for (int j = 0; j < d; j++) y[j] = (x[j] - mean[r]) * inv_std[r] * gamma[j] + beta[j];
    }
}

/* With g = dy * gamma: dx = inv_std * (g - mean(g) - x̂ mean(g x̂)) per row. */
static void ln_backward(dt_node *n, const dt_exec *ex)
{
    int d = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    const float *gamma = n->in[1]->val, *mean = n->aux, *inv_std = mean + rows;
    float *dgamma = n->in[1]->grad, *dbeta = n->in[2]->grad;
    for (size_t r = 0; r < rows; r++) {
        const float *x = n->in[0]->val + r * d, *dy = n->grad + r * d;
        double sg = 0.0, sgx = 0.0;
        for (int j = 0; j < d; j++) {
            float xhat = (x[j] - mean[r]) * inv_std[r];
            if (dgamma) dgamma[j] += dy[j] * xhat;
            if (dbeta) dbeta[j] += dy[j];
            sg += dy[j] * gamma[j];
            sgx += dy[j] * gamma[j] * xhat;
        }
        float *dx = n->in[0]->grad;
        if (!dx) continue;
        dx += r * d;
        float mg = (float)(sg / d), mgx = (float)(sgx / d);
        for (int j = 0; j < d; j++) {
            float xhat = (x[j] - mean[r]) * inv_std[r];
            dx[j] += inv_std[r] * (dy[j] * gamma[j] - mg - xhat * mgx);
        }
    }
}

const dt_op_def dt_def_layernorm = {"layernorm", ln_infer, ln_forward, ln_backward, ln_aux, 0, 0};

/* ==== embedding ==== */

static dt_status emb_infer(dt_node *n)
{
    const dt_node *ids = n->in[0], *t = n->in[1];
    if (t->ndim != 2) return dt_shape_error(n, t, NULL, "table must be 2-D [vocabulary, dim]");
    if (ids->ndim >= DT_MAX_DIMS)
        return dt_shape_error(n, ids, NULL, "ids have too many dimensions for an output row each");
    dt_set_shape(n, ids->ndim, ids->shape);
    n->ndim = ids->ndim + 1;
    n->shape[ids->ndim] = t->shape[1];
    return DT_OK;
}

/* The row of id v, or -1 for NaN, a fraction or anything outside 0..rows-1. */
static int row_of(float v, int rows)
{
    if (!(v >= 0.0f) || v >= (float)rows || v != floorf(v)) return -1;
    return (int)v;
}

static void emb_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *ids = n->in[0], *t = n->in[1];
    int v = t->shape[0], e = t->shape[1];
    size_t k = dt_numel(ids);
    for (size_t i = 0; i < k; i++) {
        int r = row_of(ids->val[i], v);
        float *y = n->val + i * e;
        if (r < 0) for (int j = 0; j < e; j++) y[j] = NAN;
        else memcpy(y, t->val + (size_t)r * e, (size_t)e * sizeof *y);
    }
}

/* Ids have no gradient; rows of bad ids receive nothing. */
static void emb_backward(dt_node *n, const dt_exec *ex)
{
    const dt_node *ids = n->in[0];
    float *dt = n->in[1]->grad;
    if (!dt) return;
    int v = n->in[1]->shape[0], e = n->in[1]->shape[1];
    size_t k = dt_numel(ids);
    for (size_t i = 0; i < k; i++) {
        int r = row_of(ids->val[i], v);
        if (r < 0) continue;
        const float *dy = n->grad + i * e;
        for (int j = 0; j < e; j++) dt[(size_t)r * e + j] += dy[j];
    }
}

const dt_op_def dt_def_embedding = {"embedding", emb_infer, emb_forward, emb_backward, 0, 0, 0};
