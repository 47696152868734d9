/* Ops the layer table needed beyond the starter models: leaky ReLU, global
 * average pooling over an image's positions and the mean over a sequence's
 * steps.  Each is infer / forward / backward side by side, as everywhere. */
#include "op_util.h"

/* ---- leaky_relu: x > 0 ? x : slope * x (farg[0] = slope, as torch) ---- */
static dt_status leaky_infer(dt_node *n)
{
    dt_set_shape(n, n->in[0]->ndim, n->in[0]->shape);
    return DT_OK;
}

static void leaky_forward(dt_node *n, const dt_exec *ex)
{
    size_t k = dt_numel(n);
    const float s = n->farg[0];
    const float *restrict x = n->in[0]->val;
    float *restrict y = n->val;
    for (size_t i = 0; i < k; i++) y[i] = x[i] > 0.0f ? x[i] : s * x[i];
}

/* The input decides the branch (torch's rule; y's sign would do the same
 * for slope > 0 but not for slope 0 or < 0). */
static void leaky_backward(dt_node *n, const dt_exec *ex)
{
    float *restrict dx = n->in[0]->grad;
    if (!dx) return;
    const float s = n->farg[0];
    const float *restrict x = n->in[0]->val, *restrict dy = n->grad;
    size_t k = dt_numel(n);
    for (size_t i = 0; i < k; i++) {
        float g = dy[i];
        dx[i] += x[i] > 0.0f ? g : s * g;
    }
}

const dt_op_def dt_def_leaky_relu = {"leaky_relu", leaky_infer, leaky_forward, leaky_backward, 0, 0, 0};

/* ---- global_avgpool: [B, C, H, W] -> [B, C] ---- */
static dt_status gap_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    if (x->ndim != 4) return dt_shape_error(n, x, NULL, "input must be 4-D [batch, channels, height, width]");
    dt_set_shape(n, 2, (int[]){x->shape[0], x->shape[1]});
    return DT_OK;
}

static void gap_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0];
    size_t rows = (size_t)x->shape[0] * (size_t)x->shape[1], hw = (size_t)x->shape[2] * (size_t)x->shape[3];
    for (size_t r = 0; r < rows; r++) {
        const float *p = x->val + r * hw;
        float s = 0.0f;
        for (size_t i = 0; i < hw; i++) s += p[i];
        n->val[r] = s / (float)hw;
    }
}

static void gap_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0];
    if (!x->grad) return;
    size_t rows = (size_t)x->shape[0] * (size_t)x->shape[1], hw = (size_t)x->shape[2] * (size_t)x->shape[3];
    for (size_t r = 0; r < rows; r++) {
        float g = n->grad[r] / (float)hw, *d = x->grad + r * hw;
        for (size_t i = 0; i < hw; i++) d[i] += g;
    }
}

const dt_op_def dt_def_global_avgpool = {"global_avgpool", gap_infer, gap_forward, gap_backward, 0, 0, 0};

/* ---- seq_mean: [B, T, H] -> [B, H], the mean over steps ---- */
static dt_status seq_mean_infer(dt_node *n)
{
    const dt_node *x = n->in[0];
    if (x->ndim != 3) return dt_shape_error(n, x, NULL, "input must be 3-D [batch, time, features]");
    dt_set_shape(n, 2, (int[]){x->shape[0], x->shape[2]});
    return DT_OK;
}

static void seq_mean_forward(dt_node *n, const dt_exec *ex)
{
    const dt_node *x = n->in[0];
    int B = x->shape[0], T = x->shape[1], H = x->shape[2];
    for (int b = 0; b < B; b++) {
        float *y = n->val + (size_t)b * H;
        memset(y, 0, (size_t)H * sizeof *y);
        for (int t = 0; t < T; t++) {
            const float *p = x->val + ((size_t)b * T + t) * H;
            for (int h = 0; h < H; h++) y[h] += p[h];
        }
        for (int h = 0; h < H; h++) y[h] /= (float)T;
    }
}

static void seq_mean_backward(dt_node *n, const dt_exec *ex)
{
    dt_node *x = n->in[0];
    if (!x->grad) return;
    int B = x->shape[0], T = x->shape[1], H = x->shape[2];
    for (int b = 0; b < B; b++) {
        const float *g = n->grad + (size_t)b * H;
        for (int t = 0; t < T; t++) {
            float *d = x->grad + ((size_t)b * T + t) * H;
            for (int h = 0; h < H; h++) d[h] += g[h] / (float)T;
        }
    }
}

const dt_op_def dt_def_seq_mean = {"seq_mean", seq_mean_infer, seq_mean_forward, seq_mean_backward, 0, 0, 0};
