/* Dense algebra: matmul (x·Wᵀ, PyTorch Linear layout) and bias addition.
 * Every product goes to cblas_sgemm with transpose flags, never a copy. */
#include <cblas.h>

#include "../core/vec.h"
#include "op_util.h"

/* ---- matmul: x[..., K] · w[N, K]ᵀ -> y[..., N] ---- */
static dt_status matmul_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *w = n->in[1];
    if (w->ndim != 2) return dt_shape_error(n, w, NULL, "weight must be 2-D [out, in]");
    if (x->shape[x->ndim - 1] != w->shape[1])
        return dt_shape_error(n, x, w, "last input dimension differs from weight's in-features");
    dt_set_shape(n, x->ndim, x->shape);
    n->shape[n->ndim - 1] = w->shape[0];
    return DT_OK;
}

static void matmul_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0], *w = n->in[1];
    int M = (int)dt_rows(x), K = w->shape[1], N = w->shape[0];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x->val, K, w->val, K,
                0.0f, n->val, N);
}

static void matmul_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *w = n->in[1];
    int M = (int)dt_rows(x), K = w->shape[1], N = w->shape[0];
    if (x->grad) /* dx[M,K] += dy[M,N] · w[N,K]  (= on the pass's first write: beta 0) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, n->grad, N, w->val, K,
                    ex->grad_fresh[0] ? 0.0f : 1.0f, x->grad, K);
    if (w->grad) /* dw[N,K] += dy[M,N]ᵀ · x[M,K] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, n->grad, N, x->val, K,
                    1.0f, w->grad, K);
}

const dt_op_def dt_def_matmul = {"matmul", matmul_infer, matmul_forward, matmul_backward, 0, 0, 0};

/* ---- bias_add: y = x + b along the channel axis (1 for NCHW, else the last) ---- */
static void bias_dims(const dt_node *x, int axis, size_t *outer, size_t *c, size_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= (size_t)x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) *inner *= (size_t)x->shape[i];
    *c = (size_t)x->shape[axis];
}

static dt_status bias_infer(dt_node *n)
{
    const dt_node *x = n->in[0], *b = n->in[1];
    int axis = n->iarg[0];
    if (b->ndim != 1 || axis >= x->ndim || x->shape[axis] != b->shape[0])
        return dt_shape_error(n, x, b, "bias length must equal the channel dimension");
    dt_set_shape(n, x->ndim, x->shape);
    return DT_OK;
}

/* Σ v[0..n) in 8 interleaved partial sums, added pairwise at the end: a
 * fixed order (deterministic) that the compiler can keep in one vector
 * register, where a single running sum is a serial chain it may not
 * reorder without -ffast-math. */
DT_CLONES static float sum_lanes(const float *restrict v, size_t n)
{
    float lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += v[i + k];
    for (; i < n; i++) lane[i & 7] += v[i];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

DT_CLONES static void bias_forward_loop(size_t outer, size_t C, size_t inner, float *restrict y,
                                        const float *restrict x, const float *restrict b)
{
    if (inner == 1) { /* [B, C] (linear layers): add the bias row to each row */
        for (size_t o = 0; o < outer; o++, x += C, y += C)
            for (size_t c = 0; c < C; c++) y[c] = x[c] + b[c];
        return;
    }
    for (size_t o = 0; o < outer; o++)
        for (size_t c = 0; c < C; c++, x += inner, y += inner) {
            const float bc = b[c];
            for (size_t i = 0; i < inner; i++) y[i] = x[i] + bc;
        }
}

static void bias_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0], *b = n->in[1];
    size_t outer, C, inner;
    bias_dims(x, n->iarg[0], &outer, &C, &inner);
    bias_forward_loop(outer, C, inner, n->val, x->val, b->val);
}

DT_CLONES static void bias_grad_x(size_t k, float *restrict dx, const float *restrict dy)
{
    for (size_t i = 0; i < k; i++) dx[i] += dy[i];
}

static void bias_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0], *b = n->in[1];
    size_t outer, C, inner, total = dt_numel(n);
    bias_dims(x, n->iarg[0], &outer, &C, &inner);
    if (x->grad) {
        if (ex->grad_fresh[0]) memcpy(x->grad, n->grad, total * sizeof *x->grad);
        else bias_grad_x(total, x->grad, n->grad);
    }
    if (b->grad) {
        const float *dy = n->grad;
        if (inner == 1) { /* [B, C] (linear layers): rows add straight into db */
            for (size_t o = 0; o < outer; o++, dy += C)
                for (size_t c = 0; c < C; c++) b->grad[c] += dy[c];
            return;
        }
        for (size_t o = 0; o < outer; o++)
            for (size_t c = 0; c < C; c++, dy += inner) b->grad[c] += sum_lanes(dy, inner);
    }
}

const dt_op_def dt_def_bias_add = {"bias_add", bias_infer, bias_forward, bias_backward, 0, 0, 0};
