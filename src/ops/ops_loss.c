/* Softmax, log-softmax and the two losses.  Cross-entropy takes logits and
 * fuses log-softmax with the negative log-likelihood (stable: max
 * subtracted; backward is (p - onehot) / rows, as in llm.c). */
#include <math.h>
#include <string.h>

#include "op_util.h"

static dt_status lastaxis_infer(dt_node *n)
{
    dt_set_shape(n, n->in[0]->ndim, n->in[0]->shape);
    return DT_OK;
}

/* Writes log-softmax of x[0..k) into y, returns nothing; stable. */
static void log_softmax_row(const float *x, float *y, int k)
{
    float m = x[0];
    for (int j = 1; j < k; j++) if (x[j] > m) m = x[j];
    double s = 0.0;
    for (int j = 0; j < k; j++) s += exp((double)(x[j] - m));
    float lse = m + (float)log(s);
    for (int j = 0; j < k; j++) y[j] = x[j] - lse;
}

/* ---- softmax over the last axis ---- */
static void softmax_forward(dt_node *n, const dt_exec *ex)
{
    int k = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    for (size_t r = 0; r < rows; r++) {
        float *y = n->val + r * k;
        log_softmax_row(n->in[0]->val + r * k, y, k);
        for (int j = 0; j < k; j++) y[j] = expf(y[j]);
    }
}

static void softmax_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    if (!dx) return;
    int k = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    for (size_t r = 0; r < rows; r++) {
        const float *y = n->val + r * k, *dy = n->grad + r * k;
        float dot = 0.0f;
        for (int j = 0; j < k; j++) dot += dy[j] * y[j];
        for (int j = 0; j < k; j++) dx[r * k + j] += y[j] * (dy[j] - dot);
    }
}

const dt_op_def dt_def_softmax = {"softmax", lastaxis_infer, softmax_forward, softmax_backward, 0, 0, 0};

/* ---- log-softmax over the last axis ---- */
static void log_softmax_forward(dt_node *n, const dt_exec *ex)
{
    int k = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    for (size_t r = 0; r < rows; r++) log_softmax_row(n->in[0]->val + r * k, n->val + r * k, k);
}

static void log_softmax_backward(dt_node *n, const dt_exec *ex)
{
    float *dx = n->in[0]->grad;
    if (!dx) return;
    int k = n->shape[n->ndim - 1];
    size_t rows = dt_rows(n);
    for (size_t r = 0; r < rows; r++) {
        const float *y = n->val + r * k, *dy = n->grad + r * k;
        float s = 0.0f;
        for (int j = 0; j < k; j++) s += dy[j];
        for (int j = 0; j < k; j++) dx[r * k + j] += dy[j] - expf(y[j]) * s;
    }
}

const dt_op_def dt_def_log_softmax = {"log_softmax", lastaxis_infer, log_softmax_forward,
                                      log_softmax_backward, 0, 0, 0};

/* ---- cross-entropy: logits[R, K], labels[R] (class ids as floats) -> [1] ----
 * A label outside 0..K-1 makes the loss NaN, so anomaly mode and the debug
 * stage see it instead of reading out of bounds. */
static dt_status ce_infer(dt_node *n)
{
    const dt_node *z = n->in[0], *y = n->in[1];
    if (z->ndim != 2) return dt_shape_error(n, z, NULL, "logits must be 2-D [rows, classes]");
    if (y->ndim != 1 || y->shape[0] != z->shape[0])
        return dt_shape_error(n, z, y, "labels must be 1-D with one label per row");
    n->ndim = 1;
    n->shape[0] = 1;
    return DT_OK;
}

static size_t ce_aux(const dt_node *n) { return n->in[0]->cap * sizeof(float); }

static int label_of(float v, int k)
{
    if (!(v >= 0.0f) || v >= (float)k || v != floorf(v)) return -1;
    return (int)v;
}

static void ce_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *z = n->in[0], *y = n->in[1];
    int rows = z->shape[0], k = z->shape[1];
    float *p = n->aux; /* [rows, k] probabilities for backward */
    double loss = 0.0;
    for (int r = 0; r < rows; r++) {
        log_softmax_row(z->val + (size_t)r * k, p + (size_t)r * k, k);
        int c = label_of(y->val[r], k);
        loss += c < 0 ? NAN : -(double)p[(size_t)r * k + c];
        for (int j = 0; j < k; j++) p[(size_t)r * k + j] = expf(p[(size_t)r * k + j]);
    }
    n->val[0] = (float)(loss / rows);
}

static void ce_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *z = n->in[0];
    if (!z->grad) return;
    int rows = z->shape[0], k = z->shape[1];
    const float *p = n->aux, *y = n->in[1]->val;
    float scale = n->grad[0] / rows;
    if (ex->grad_fresh[0]) memset(z->grad, 0, (size_t)rows * k * sizeof *z->grad);
    for (int r = 0; r < rows; r++) {
        int c = label_of(y[r], k);
        for (int j = 0; j < k; j++)
            z->grad[(size_t)r * k + j] += scale * (p[(size_t)r * k + j] - (j == c ? 1.0f : 0.0f));
    }
}

const dt_op_def dt_def_cross_entropy = {"cross_entropy", ce_infer, ce_forward, ce_backward,
                                        ce_aux, 0, 0};

/* ---- mean squared error over all elements -> [1] ---- */
static dt_status mse_infer(dt_node *n)
{
    if (!dt_same_shape(n->in[0], n->in[1]))
        return dt_shape_error(n, n->in[0], n->in[1], "prediction and target differ in shape");
    n->ndim = 1;
    n->shape[0] = 1;
    return DT_OK;
}

static void mse_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n->in[0]);
    const float *p = n->in[0]->val, *t = n->in[1]->val;
    double s = 0.0;
    for (size_t i = 0; i < k; i++) s += (double)(p[i] - t[i]) * (p[i] - t[i]);
    n->val[0] = (float)(s / k);
}

static void mse_backward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n->in[0]);
    dt_node *p = n->in[0], *t = n->in[1];
    float scale = 2.0f * n->grad[0] / (float)k;
    for (size_t i = 0; i < k; i++) {
        float d = scale * (p->val[i] - t->val[i]);
        if (p->grad) p->grad[i] += d;
        if (t->grad) t->grad[i] -= d;
    }
}

const dt_op_def dt_def_mse = {"mse", mse_infer, mse_forward, mse_backward, 0, 0, 0};
