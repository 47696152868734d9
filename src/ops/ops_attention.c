/* The transformer's ops: GELU, a learned position embedding added to a
 * sequence, and multi-head self-attention as one fused op (llm.c manner:
 * the projections are sgemms over all rows, the per-head scores, softmax and
 * weighted sums run over buffers sized at compile time; nothing allocates).
 *
 * gelu       y = x·Φ(x) = x/2·(1 + erf(x/√2)), torch's default (exact) form.
 * pos_add    x [B,T,D] + pos [1,T,D] (the same positions for every sample).
 * attention  torch.nn.MultiheadAttention(D, H, batch_first=True) as self-
 *            attention (query = key = value = x), its state_dict layout:
 *              in  x [B,T,D], in_proj_weight [3D,D], in_proj_bias [3D],
 *                  out_proj.weight [D,D], out_proj.bias [D]
 *              iarg[0] heads H (D % H == 0), iarg[1] causal (1: step t sees
 *                  steps <= t only, torch's is_causal / a -inf upper triangle)
 *              qkv = x·W_inᵀ + b_in, split into q | k | v along the last axis,
 *              each head h its hd = D/H columns; P = softmax(q_h k_hᵀ / √hd)
 *              row-wise; ctx_h = P v_h; y = ctx·W_outᵀ + b_out.
 *
 * Row r = b*T + t of every [B,T,·] buffer is step t of sample b, so head h
 * of sample b is a strided matrix (first element at b*T*ld + offset,
 * leading dimension ld): every per-head product is an sgemm straight on
 * the projection buffers, without gathering copies. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>

#include "op_util.h"

/* ==== gelu ==== */

static dt_status gelu_infer(dt_node *n)
{
    dt_set_shape(n, n->in[0]->ndim, n->in[0]->shape);
    return DT_OK;
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* erf as the odd rational minimax p(v)/q(v) of Eigen and XLA (degrees
 * 13/8).  glibc's erff and expf are calls the compiler cannot vectorise; at
 * the transformer's size they were half of the whole training step.  This
 * is call-free and branch-free: |v| clamped to 4 (erf(4) rounds to 1 in
 * float32) on the bit pattern with masks (as fast_tanhf in ops_lstm.c, but
 * without a select, which GCC's jump threading turns into branches that
 * then keep the backward loop from vectorising), NaN left alone so
 * anomalies propagate.  Max error 4.2e-7 absolute (near |v| = 3.3; glibc's
 * erff: 1.5e-7), so GELU's is at most 1e-6 absolute (near x = ±4.7), the
 * same class as the LSTM's tanh; tests/test_ops_attention.c checks GELU and
 * its derivative against erf and exp in double. */
static inline float fast_erff(float v)
{
    const uint32_t lim_bits = 0x40800000u, inf_bits = 0x7f800000u; /* 4.0f, inf */
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    uint32_t sign = u & 0x80000000u, mag = u & 0x7fffffffu;
    uint32_t big = 0u - (uint32_t)(mag > lim_bits && mag <= inf_bits);   /* all ones: clamp */
    u = sign | (mag & ~big) | (lim_bits & big);
    memcpy(&v, &u, sizeof v);
    float v2 = v * v;
    float p = -2.72614225801306e-10f;
    p = p * v2 + 2.77068142495902e-08f;
    p = p * v2 - 2.10102402082508e-06f;
    p = p * v2 - 5.69250639462346e-05f;
    p = p * v2 - 7.34990630326855e-04f;
    p = p * v2 - 2.95459980854025e-03f;
    p = p * v2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * v2 - 2.13374055278905e-04f;
    q = q * v2 - 1.68282697438203e-03f;
    q = q * v2 - 7.37332916720468e-03f;
    q = q * v2 - 1.42647390514189e-02f;
    return v * p / q;
}

/* e^v for v <= 0 (Cephes' expf: v = n ln 2 + r, |r| <= ln2/2, a degree-7
 * polynomial in r, times 2^n built in the exponent bits), call-free; max
 * relative error 8e-8.  v is clamped to -87 (e^-87 = 1.6e-38, the smallest
 * normal's order; -inf gives that too); NaN stays NaN. */
static inline float fast_exp_neg(float v)
{
    /* the clamp on the bit pattern (|v| as an integer), which if-converts where a float select may not */
    const uint32_t lim_bits = 0x42ae0000u, inf_bits = 0x7f800000u; /* 87.0f, inf; NaN is left alone */
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    uint32_t mag = u & 0x7fffffffu;
    uint32_t big = 0u - (uint32_t)(mag > lim_bits && mag <= inf_bits);   /* all ones: clamp */
    u = (u & ~big) | ((0x80000000u | lim_bits) & big);
    memcpy(&v, &u, sizeof v);
    /* the exponent from a NaN-free copy (converting NaN to int is undefined); v - v carries NaN */
    uint32_t nan = 0u - (uint32_t)(mag > inf_bits), un = u & ~nan;
    float vn;
    memcpy(&vn, &un, sizeof vn);
    int n = (int)(vn * 1.44269504088896341f - 0.5f);   /* round to nearest for v <= 0 */
    float fn = (float)n;
    float r = vn - fn * 0.693359375f + fn * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale + (v - v);
}

/* The element loops are built for AVX2 and for the baseline (picked at load
 * time): with -std=c11 there is no FMA contraction, so both give the same
 * bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DT_CLONES
#endif

DT_CLONES static void gelu_rows(float *restrict y, const float *restrict x, size_t k)
{
    for (size_t i = 0; i < k; i++) y[i] = 0.5f * x[i] * (1.0f + fast_erff(x[i] * INV_SQRT2));
}

static void gelu_forward(dt_node *n, const dt_exec *ex)
{
    gelu_rows(n->val, n->in[0]->val, dt_numel(n));
}

/* d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density. */
DT_CLONES static void gelu_grad_rows(float *restrict dx, const float *restrict x, const float *restrict dy, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + fast_erff(v * INV_SQRT2)), pdf = INV_SQRT_2PI * fast_exp_neg(-0.5f * v * v);
        dx[i] += dy[i] * (cdf + v * pdf);
    }
}

static void gelu_backward(dt_node *n, const dt_exec *ex)
{
    if (n->in[0]->grad) gelu_grad_rows(n->in[0]->grad, n->in[0]->val, n->grad, dt_numel(n));
}

const dt_op_def dt_def_gelu = {"gelu", gelu_infer, gelu_forward, gelu_backward, 0, 0, 0};

/* ==== pos_add: x [B,T,D] + pos [1,T,D] ==== */

static dt_status pos_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *p = n->in[1];
    if (x->ndim != 3) return dt_shape_error(n, x, NULL, "input must be 3-D [batch, time, features]");
    if (p->ndim != 3 || p->shape[0] != 1 || p->shape[1] != x->shape[1] || p->shape[2] != x->shape[2])
        return dt_shape_error(n, x, p, "position embedding must be [1, time, features] of the input");
    dt_set_shape(n, 3, x->shape);
    return DT_OK;
}

static void pos_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0];
    size_t per = (size_t)x->shape[1] * (size_t)x->shape[2];
    const float *restrict p = n->in[1]->val;
    for (int b = 0; b < x->shape[0]; b++) {
        const float *restrict xv = x->val + b * per;
        float *restrict y = n->val + b * per;
        for (size_t i = 0; i < per; i++) y[i] = xv[i] + p[i];
    }
}

static void pos_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *p = n->in[1];
    size_t per = (size_t)x->shape[1] * (size_t)x->shape[2];
    for (int b = 0; b < x->shape[0]; b++) {
        const float *restrict dy = n->grad + b * per;
        if (x->grad) {
            float *restrict dx = x->grad + b * per;
            for (size_t i = 0; i < per; i++) dx[i] += dy[i];
        }
        if (p->grad) {
            float *restrict dp = p->grad;
            for (size_t i = 0; i < per; i++) dp[i] += dy[i];
        }
    }
}

const dt_op_def dt_def_pos_add = {"pos_add", pos_infer, pos_forward, pos_backward, 0, 0, 0};

/* ==== attention ==== */

typedef struct attn_dims { int B, T, D, H, hd, causal; } attn_dims;

static attn_dims attn_dims_of(const dt_node *n)
{
    const dt_node *x = n->in[0];
    attn_dims d = {x->shape[0], x->shape[1], x->shape[2], n->iarg[0], 0, n->iarg[1] != 0};
    d.hd = d.H > 0 ? d.D / d.H : 0;
    return d;
}

/* aux (floats), kept from forward for backward, sized at the largest batch:
 *   qkv [B,T,3D]   the input projection (q | k | v per row)
 *   P   [B,H,T,T]  attention weights after the softmax (0 above the diagonal when causal)
 *   ctx [B,T,D]    the heads' weighted sums side by side (out_proj's input) */
typedef struct attn_aux { float *qkv, *P, *ctx; } attn_aux;

static attn_aux attn_aux_of(const dt_node *n, attn_dims d)
{
    size_t bt = (size_t)d.B * d.T;
    float *base = n->aux;
    return (attn_aux){base, base + bt * 3 * d.D, base + bt * 3 * d.D + bt * d.H * d.T};
}

static size_t attn_aux_bytes(const dt_node *n)
{
    attn_dims d = attn_dims_of(n);
    size_t bt = (size_t)d.B * d.T;
    return (bt * 4 * d.D + bt * d.H * d.T) * sizeof(float);
}

/* workspace (floats), backward only:
 *   dqkv [B,T,3D]  d loss / d qkv
 *   dctx [B,T,D]   d loss / d ctx
 *   dP   [T,T]     one head's d loss / d P, turned into d loss / d scores in place */
static size_t attn_workspace(const dt_node *n)
{
    attn_dims d = attn_dims_of(n);
    return (size_t)d.B * d.T * 4 * d.D + (size_t)d.T * d.T;
}

static dt_status attn_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *wi = n->in[1], *bi = n->in[2], *wo = n->in[3], *bo = n->in[4];
    if (x->ndim != 3) return dt_shape_error(n, x, NULL, "input must be 3-D [batch, time, features]");
    int D = x->shape[2], H = n->iarg[0];
    if (H < 1 || D % H)
        return dt_fail(DT_ESHAPE, "layer '%s', op attention: %d heads do not divide the %d features of %s", n->layer,
                       H, D, x->name);
    if (wi->ndim != 2 || wi->shape[0] != 3 * D || wi->shape[1] != D)
        return dt_shape_error(n, x, wi, "in_proj_weight must be [3*features, features]");
    if (bi->ndim != 1 || bi->shape[0] != 3 * D) return dt_shape_error(n, wi, bi, "in_proj_bias must be [3*features]");
    if (wo->ndim != 2 || wo->shape[0] != D || wo->shape[1] != D)
        return dt_shape_error(n, x, wo, "out_proj.weight must be [features, features]");
    if (bo->ndim != 1 || bo->shape[0] != D) return dt_shape_error(n, wo, bo, "out_proj.bias must be [features]");
    dt_set_shape(n, 3, x->shape);
    return DT_OK;
}

/* y[M,N] = x[M,K]·wᵀ + b (w [N,K] row-major), overwriting y. */
static void linear_rows(const float *x, const float *w, const float *b, float *y, int M, int N, int K)
{
    for (int r = 0; r < M; r++) memcpy(y + (size_t)r * N, b, (size_t)N * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 1.0f, y, N);
}

/* Softmax of each of the T rows of s [T,T] in place; causal: row i over
 * columns 0..i, the rest set to 0.  A NaN score stays NaN (anomaly mode). */
DT_CLONES static void softmax_rows(float *s, int T, int causal)
{
    for (int i = 0; i < T; i++) {
        float *restrict row = s + (size_t)i * T;
        int n = causal ? i + 1 : T;
        float m = row[0];
        for (int j = 1; j < n; j++) m = row[j] > m ? row[j] : m;
        for (int j = 0; j < n; j++) row[j] = fast_exp_neg(row[j] - m);   /* arguments <= 0 */
        float sum = 0.0f;
        for (int j = 0; j < n; j++) sum += row[j];
        float inv = 1.0f / sum;
        for (int j = 0; j < n; j++) row[j] *= inv;
        for (int j = n; j < T; j++) row[j] = 0.0f;
    }
}

static void attn_forward(dt_node *n, const dt_exec *ex)
{
    attn_dims d = attn_dims_of(n);
    attn_aux a = attn_aux_of(n, d);
    const int D = d.D, D3 = 3 * d.D, T = d.T, hd = d.hd;
    const float scale = 1.0f / sqrtf((float)hd);
    linear_rows(n->in[0]->val, n->in[1]->val, n->in[2]->val, a.qkv, d.B * T, D3, D);
    for (int b = 0; b < d.B; b++) {
        const float *qkv = a.qkv + (size_t)b * T * D3;
        for (int h = 0; h < d.H; h++) {
            float *P = a.P + ((size_t)b * d.H + h) * T * T;
            const float *q = qkv + h * hd, *k = qkv + D + h * hd, *v = qkv + 2 * D + h * hd;
            /* scores = q kᵀ / √hd (the masked half is computed and then discarded) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, q, D3, k, D3, 0.0f, P, T);
            softmax_rows(P, T, d.causal);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, v, D3, 0.0f,
                        a.ctx + (size_t)b * T * D + h * hd, D);
        }
    }
    linear_rows(a.ctx, n->in[3]->val, n->in[4]->val, n->val, d.B * T, D, D);
}

/* db[N] += column sums of dy [M,N]. */
static void add_colsums(float *restrict db, const float *restrict dy, int M, int N)
{
    for (int r = 0; r < M; r++)
        for (int c = 0; c < N; c++) db[c] += dy[(size_t)r * N + c];
}

static void attn_backward(dt_node *n, const dt_exec *ex)
{
    attn_dims d = attn_dims_of(n);
    attn_aux a = attn_aux_of(n, d);
    dt_node *x = n->in[0], *wi = n->in[1], *bi = n->in[2], *wo = n->in[3], *bo = n->in[4];
    const int D = d.D, D3 = 3 * d.D, T = d.T, hd = d.hd, M = d.B * d.T;
    const float scale = 1.0f / sqrtf((float)hd);
    float *dqkv = ex->ws, *dctx = dqkv + (size_t)M * D3, *dP = dctx + (size_t)M * D;
    const float *dy = n->grad;

    /* out_proj */
    if (bo->grad) add_colsums(bo->grad, dy, M, D);
    if (wo->grad) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, D, M, 1.0f, dy, D, a.ctx, D, 1.0f, wo->grad, D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, D, 1.0f, dy, D, wo->val, D, 0.0f, dctx, D);

    /* per sample and head: dv = Pᵀ dctx_h; dP = dctx_h vᵀ; dS = P ⊙ (dP − rowsum(P ⊙ dP));
     * dq = dS k / √hd; dk = dSᵀ q / √hd */
    for (int b = 0; b < d.B; b++) {
        const float *qkv = a.qkv + (size_t)b * T * D3;
        float *g = dqkv + (size_t)b * T * D3;
        for (int h = 0; h < d.H; h++) {
            const float *P = a.P + ((size_t)b * d.H + h) * T * T;
            const float *q = qkv + h * hd, *k = qkv + D + h * hd, *v = qkv + 2 * D + h * hd;
            const float *dc = dctx + (size_t)b * T * D + h * hd;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, dc, D, 0.0f, g + 2 * D + h * hd,
                        D3);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, dc, D, v, D3, 0.0f, dP, T);
            for (int i = 0; i < T; i++) {
                const float *restrict p = P + (size_t)i * T;
                float *restrict r = dP + (size_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j < T; j++) dot += p[j] * r[j];
                for (int j = 0; j < T; j++) r[j] = p[j] * (r[j] - dot);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dP, T, k, D3, 0.0f, g + h * hd, D3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dP, T, q, D3, 0.0f, g + D + h * hd,
                        D3);
        }
    }

    /* in_proj */
    if (bi->grad) add_colsums(bi->grad, dqkv, M, D3);
    if (wi->grad)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D3, D, M, 1.0f, dqkv, D3, x->val, D, 1.0f, wi->grad, D);
    if (x->grad) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, D, D3, 1.0f, dqkv, D3, wi->val, D, 1.0f, x->grad, D);
}

const dt_op_def dt_def_attention = {"attention", attn_infer, attn_forward, attn_backward, attn_aux_bytes,
                                    attn_workspace, 0};
