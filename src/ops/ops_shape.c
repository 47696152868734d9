/* Shape ops and reductions: reshape/flatten, concat, last time step, mean, sum. */
#include "../core/vec.h"
#include "op_util.h"

/* ---- reshape: iarg[0] = ndim, iarg[1..] = shape, -1 in dim 0 = the batch ---- */
static dt_status reshape_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    int ndim = n->iarg[0];
    n->ndim = ndim;
    for (int i = 0; i < ndim; i++) n->shape[i] = n->iarg[1 + i] < 0 ? x->shape[0] : n->iarg[1 + i];
    if (dt_numel(n) != dt_numel(x)) {
        char s[64];
        dt_shape_str(n, s, sizeof s);
        return dt_fail(DT_ESHAPE, "layer '%s', op reshape: cannot reshape %s %s to %s", n->layer,
                       x->name, dt_shape_str(x, (char[64]){0}, 64), s);
    }
    return DT_OK;
}

/* The graph makes a reshape a view of its input (same values buffer), so
 * there is nothing to copy; a reshape built outside a graph's compile
 * still copies. */
static void copy_forward(dt_node *n, const dt_exec *ex)
{
    if (n->val != n->in[0]->val) memcpy(n->val, n->in[0]->val, dt_numel(n) * sizeof(float));
}

DT_CLONES static void add_into(size_t k, float *restrict dx, const float *restrict dy)
{
    for (size_t i = 0; i < k; i++) dx[i] += dy[i];
}

static void copy_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    size_t k = dt_numel(n);
    if (!dx) return;
    if (ex->grad_fresh[0]) memcpy(dx, n->grad, k * sizeof *dx);
    else add_into(k, dx, n->grad);
}

const dt_op_def dt_def_reshape = {"reshape", reshape_infer, copy_forward, copy_backward, 0, 0, 0};

/* ---- concat along iarg[0]: other dims must match ---- */
static void concat_dims(const dt_node *x, int axis, size_t *outer, size_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= (size_t)x->shape[i];
    for (int i = axis; i < x->ndim; i++) *inner *= (size_t)x->shape[i];
}

static dt_status concat_infer(dt_node *n)
{
    const dt_node *a = n->in[0], *b = n->in[1];
    int axis = n->iarg[0];
    int ok = a->ndim == b->ndim && axis >= 0 && axis < a->ndim;
    for (int i = 0; ok && i < a->ndim; i++)
        if (i != axis && a->shape[i] != b->shape[i]) ok = 0;
    if (!ok) return dt_shape_error(n, a, b, "shapes differ outside the concatenation axis");
    dt_set_shape(n, a->ndim, a->shape);
    n->shape[axis] = a->shape[axis] + b->shape[axis];
    return DT_OK;
}

static void concat_forward(dt_node *n, const dt_exec *ex)
{
    size_t outer, ia, ib;
    concat_dims(n->in[0], n->iarg[0], &outer, &ia);
    concat_dims(n->in[1], n->iarg[0], &outer, &ib);
    for (size_t o = 0; o < outer; o++) {
        memcpy(n->val + o * (ia + ib), n->in[0]->val + o * ia, ia * sizeof(float));
        memcpy(n->val + o * (ia + ib) + ia, n->in[1]->val + o * ib, ib * sizeof(float));
    }
}

static void concat_backward(dt_node *n, const dt_exec *ex)
{
    size_t outer, ia, ib;
    concat_dims(n->in[0], n->iarg[0], &outer, &ia);
    concat_dims(n->in[1], n->iarg[0], &outer, &ib);
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    for (size_t o = 0; o < outer; o++) {
        const float *dy = n->grad + o * (ia + ib);
        if (da) for (size_t i = 0; i < ia; i++) da[o * ia + i] += dy[i];
        if (db) for (size_t i = 0; i < ib; i++) db[o * ib + i] += dy[ia + i];
    }
}

const dt_op_def dt_def_concat = {"concat", concat_infer, concat_forward, concat_backward, 0, 0, 0};

/* ---- seq_last: [B, T, H] -> [B, H], the last time step ---- */
static dt_status seq_last_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    if (x->ndim != 3) return dt_shape_error(n, x, NULL, "input must be 3-D [batch, time, features]");
    n->ndim = 2;
    n->shape[0] = x->shape[0];
    n->shape[1] = x->shape[2];
    return DT_OK;
}

static void seq_last_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0];
    int B = x->shape[0], T = x->shape[1], H = x->shape[2];
    for (int b = 0; b < B; b++)
        memcpy(n->val + (size_t)b * H, x->val + ((size_t)b * T + T - 1) * H, (size_t)H * sizeof(float));
}

static void seq_last_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0];
    if (!x->grad) return;
    int B = x->shape[0], T = x->shape[1], H = x->shape[2];
    if (ex->grad_fresh[0]) memset(x->grad, 0, dt_numel(x) * sizeof *x->grad);
    for (int b = 0; b < B; b++) {
        float *dx = x->grad + ((size_t)b * T + T - 1) * H;
        for (int h = 0; h < H; h++) dx[h] += n->grad[(size_t)b * H + h];
    }
}

const dt_op_def dt_def_seq_last = {"seq_last", seq_last_infer, seq_last_forward, seq_last_backward,
                                   0, 0, 0};

/* ---- mean and sum of all elements -> [1] ---- */
static dt_status scalar_infer(dt_node *n)
{
    n->ndim = 1;
    n->shape[0] = 1;
    return DT_OK;
}

static void sum_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n->in[0]);
    double s = 0.0;
    for (size_t i = 0; i < k; i++) s += n->in[0]->val[i];
    n->val[0] = (float)(n->op == DT_OP_MEAN ? s / k : s);
}

static void sum_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    size_t k = dt_numel(n->in[0]);
    float d = n->op == DT_OP_MEAN ? n->grad[0] / (float)k : n->grad[0];
    if (dx) for (size_t i = 0; i < k; i++) dx[i] += d;
}

const dt_op_def dt_def_mean = {"mean", scalar_infer, sum_forward, sum_backward, 0, 0, 0};
const dt_op_def dt_def_sum = {"sum", scalar_infer, sum_forward, sum_backward, 0, 0, 0};
