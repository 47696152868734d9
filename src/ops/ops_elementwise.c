/* Element-wise ops: add, mul, relu, tanh, sigmoid, dropout.  No implicit
 * broadcasting anywhere: both operands of add/mul must have equal shapes. */
#include <math.h>

#include "../core/vec.h"
#include "op_util.h"

/* Backward loops come in pairs: dx = g (the first write of this pass,
 * ex->grad_fresh) or dx += g.  Built for AVX2 and the baseline (DT_CLONES,
 * bit-identical). */
DT_CLONES static void grad_copy(size_t k, float *restrict dx, const float *restrict dy, int fresh)
{
    if (fresh) for (size_t i = 0; i < k; i++) dx[i] = dy[i];
    else for (size_t i = 0; i < k; i++) dx[i] += dy[i];
}

DT_CLONES static void grad_mul(size_t k, float *restrict dx, const float *restrict dy, const float *restrict f,
                               int fresh)
{
    if (fresh) for (size_t i = 0; i < k; i++) dx[i] = dy[i] * f[i];
    else for (size_t i = 0; i < k; i++) dx[i] += dy[i] * f[i];
}

static dt_status same_infer(dt_node *n)
{
    const dt_node *a = n->in[0], *b = n->in[1];
    if (!dt_same_shape(a, b)) return dt_shape_error(n, a, b, "operands differ in shape");
    dt_set_shape(n, a->ndim, a->shape);
    return DT_OK;
}

static dt_status unary_infer(dt_node *n)
{
    dt_set_shape(n, n->in[0]->ndim, n->in[0]->shape);
    return DT_OK;
}

/* ---- add ---- */
DT_CLONES static void add_forward_loop(size_t k, float *restrict y, const float *restrict a, const float *restrict b)
{
    for (size_t i = 0; i < k; i++) y[i] = a[i] + b[i];
}

static void add_forward(dt_node *n, const dt_exec *ex)
{
    add_forward_loop(dt_numel(n), n->val, n->in[0]->val, n->in[1]->val);
}

static void add_backward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    for (int j = 0; j < 2; j++)
        if (n->in[j]->grad) grad_copy(k, n->in[j]->grad, n->grad, ex->grad_fresh[j]);
}

const dt_op_def dt_def_add = {"add", same_infer, add_forward, add_backward, 0, 0, 0};

/* ---- mul ---- */
static void mul_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    const float *a = n->in[0]->val, *b = n->in[1]->val;
    for (size_t i = 0; i < k; i++) n->val[i] = a[i] * b[i];
}

static void mul_backward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    dt_node *a = n->in[0], *b = n->in[1];
    if (a->grad) grad_mul(k, a->grad, n->grad, b->val, ex->grad_fresh[0]);
    if (b->grad) grad_mul(k, b->grad, n->grad, a->val, ex->grad_fresh[1]);
}

const dt_op_def dt_def_mul = {"mul", same_infer, mul_forward, mul_backward, 0, 0, 0};

/* ---- activations: the backward uses the output y, which is all three need ---- */
/* Written as selects over restrict pointers so the compiler vectorises them
 * (a branch per element mispredicts on random signs).  x < 0 ? 0 : x keeps
 * NaN as NaN, as torch.relu does, so anomaly mode still sees it. */
DT_CLONES static void relu_forward_loop(size_t k, float *restrict y, const float *restrict x)
{
    for (size_t i = 0; i < k; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static void relu_forward(dt_node *n, const dt_exec *ex) { relu_forward_loop(dt_numel(n), n->val, n->in[0]->val); }

DT_CLONES static void relu_backward_loop(size_t k, float *restrict dx, const float *restrict y,
                                         const float *restrict dy, int fresh)
{
    /* dy loaded unconditionally: the select then vectorises */
    if (fresh) for (size_t i = 0; i < k; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    else for (size_t i = 0; i < k; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

static void relu_backward(dt_node *n, const dt_exec *ex)
{
    if (n->in[0]->grad) relu_backward_loop(dt_numel(n), n->in[0]->grad, n->val, n->grad, ex->grad_fresh[0]);
}

const dt_op_def dt_def_relu = {"relu", unary_infer, relu_forward, relu_backward, 0, 0, 0};

static void tanh_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    const float *x = n->in[0]->val;
    for (size_t i = 0; i < k; i++) n->val[i] = tanhf(x[i]);
}

DT_CLONES static void tanh_backward_loop(size_t k, float *restrict dx, const float *restrict y,
                                         const float *restrict dy, int fresh)
{
    if (fresh) for (size_t i = 0; i < k; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    else for (size_t i = 0; i < k; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

static void tanh_backward(dt_node *n, const dt_exec *ex)
{
    if (n->in[0]->grad) tanh_backward_loop(dt_numel(n), n->in[0]->grad, n->val, n->grad, ex->grad_fresh[0]);
}

const dt_op_def dt_def_tanh = {"tanh", unary_infer, tanh_forward, tanh_backward, 0, 0, 0};

static void sigmoid_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    const float *x = n->in[0]->val;
    for (size_t i = 0; i < k; i++) n->val[i] = 1.0f / (1.0f + expf(-x[i]));
}

DT_CLONES static void sigmoid_backward_loop(size_t k, float *restrict dx, const float *restrict y,
                                            const float *restrict dy, int fresh)
{
    if (fresh) for (size_t i = 0; i < k; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
    else for (size_t i = 0; i < k; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

static void sigmoid_backward(dt_node *n, const dt_exec *ex)
{
    if (n->in[0]->grad) sigmoid_backward_loop(dt_numel(n), n->in[0]->grad, n->val, n->grad, ex->grad_fresh[0]);
}

const dt_op_def dt_def_sigmoid = {"sigmoid", unary_infer, sigmoid_forward, sigmoid_backward, 0, 0, 0};

/* ---- dropout (inverted): train keeps each value with p = 1 - rate and scales
 * it by 1/p; eval is the identity.  aux holds the mask (0 or 1/p). ---- */
static size_t dropout_aux(const dt_node *n) { return n->cap * sizeof(float); }

static void dropout_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    const float *x = n->in[0]->val;
    float *mask = n->aux, rate = n->farg[0];
    if (!ex->train || rate <= 0.0f) {
        for (size_t i = 0; i < k; i++) { n->val[i] = x[i]; mask[i] = 1.0f; }
        return;
    }
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < k; i++) {
        mask[i] = dt_rng_uniform(ex->rng) < rate ? 0.0f : scale;
        n->val[i] = x[i] * mask[i];
    }
}

static void dropout_backward(dt_node *n, const dt_exec *ex)
{
    if (n->in[0]->grad) grad_mul(dt_numel(n), n->in[0]->grad, n->grad, n->aux, ex->grad_fresh[0]);
}

const dt_op_def dt_def_dropout = {"dropout", unary_infer, dropout_forward, dropout_backward,
                                  dropout_aux, 0, 0};
