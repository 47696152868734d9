#include "dnntrouble/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/vec.h"

dt_optim_cfg dt_optim_defaults(dt_opt_kind kind, float lr)
{
    dt_optim_cfg c = {0};
    c.kind = kind;
    c.lr = lr;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.gamma = 0.1f;
    c.schedule = DT_SCHED_CONSTANT;
    return c;
}

dt_status dt_optim_init(dt_optimizer *o, const dt_optim_cfg *cfg, size_t n)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || !o->v) {
        dt_optim_free(o);
        return dt_fail(DT_ENOMEM, "optimizer: cannot allocate state for %zu parameters", n);
    }
    return DT_OK;
}

void dt_optim_free(dt_optimizer *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void dt_optim_reset(dt_optimizer *o)
{
    memset(o->m, 0, o->n * sizeof(float));
    memset(o->v, 0, o->n * sizeof(float));
    o->t = 0;
}

/* Σ g² in double over 8 fixed interleaved lanes, added pairwise at the end:
 * a fixed order (deterministic) that vectorises, where one running sum is a
 * serial chain of dependent adds (0.3 ms per step for the MLP's 200k
 * parameters). */
DT_CLONES float dt_l2_norm(const float *restrict g, size_t n)
{
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) lane[i & 7] += (double)g[i] * g[i];
    double s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    return (float)sqrt(s);
}

float dt_optim_lr_at(const dt_optim_cfg *c, long t)
{
    double lr = c->lr;
    switch (c->schedule) {
    case DT_SCHED_CONSTANT: break;
    case DT_SCHED_STEP:
        if (c->step_size > 0) lr *= pow(c->gamma, (double)(t / c->step_size));
        break;
    case DT_SCHED_COSINE:
        if (c->total_steps > 0) {
            double p = t >= c->total_steps ? 1.0 : (double)t / c->total_steps;
            lr *= 0.5 * (1.0 + cos(3.14159265358979323846 * p));
        }
        break;
    }
    if (c->warmup_steps > 0 && t < c->warmup_steps) lr *= (double)(t + 1) / c->warmup_steps;
    return (float)lr;
}

/* The Adam / AdamW update over the flat blocks, as one vectorisable loop
 * (restrict, no branches; -fno-math-errno): the same expressions as
 * before, i.e. torch.optim.Adam(W) with its eps placement.  AdamW shrinks w
 * first (decoupled decay, shrink = 1 - lr·wd); Adam adds wd·w to the
 * gradient.  One function each, so neither pays for the other. */
#define ADAM_BODY(DECOUPLED)                                                          \
    for (size_t i = 0; i < n; i++) {                                                  \
        float wi = w[i], d = g[i];                                                    \
        if (DECOUPLED) wi *= shrink;                                                  \
        else d += wd * wi;                                                            \
        float mi = b1 * m[i] + (1.0f - b1) * d;                                       \
        float vi = b2 * v[i] + (1.0f - b2) * d * d;                                   \
        m[i] = mi;                                                                    \
        v[i] = vi;                                                                    \
        w[i] = wi - step * mi / (sqrtf(vi) / sqrt_bc2 + eps);                         \
    }

DT_CLONES static void adam_update(size_t n, float *restrict w, const float *restrict g,
                                              float *restrict m, float *restrict v, float b1, float b2,
                                              float step, float sqrt_bc2, float eps, float wd)
{
    const float shrink = 1.0f;
    (void)shrink;
    ADAM_BODY(0)
}

DT_CLONES static void adamw_update(size_t n, float *restrict w, const float *restrict g,
                                               float *restrict m, float *restrict v, float b1, float b2,
                                               float step, float sqrt_bc2, float eps, float shrink)
{
    const float wd = 0.0f;
    (void)wd;
    ADAM_BODY(1)
}

void dt_optim_step(dt_optimizer *o, float *w, float *g)
{
    const dt_optim_cfg *c = &o->cfg;
    size_t n = o->n;
    float lr = dt_optim_lr_at(c, o->t), wd = c->weight_decay;
    o->last_lr = lr;
    o->last_grad_norm = dt_l2_norm(g, n);
    if (c->clip_grad_norm > 0.0f && o->last_grad_norm > c->clip_grad_norm) {
        /* torch.nn.utils.clip_grad_norm_ */
        float s = c->clip_grad_norm / (o->last_grad_norm + 1e-6f);
        for (size_t i = 0; i < n; i++) g[i] *= s;
    }
    o->t++;
    if (c->kind == DT_OPT_SGD) {
        float mu = c->momentum;
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * w[i];
            if (mu != 0.0f) {
                o->m[i] = o->t == 1 ? d : mu * o->m[i] + d;
                d = c->nesterov ? d + mu * o->m[i] : o->m[i];
            }
            w[i] -= lr * d;
        }
        return;
    }
    /* Adam / AdamW, with PyTorch's bias correction and eps placement. */
    float b1 = c->beta1, b2 = c->beta2;
    float bc1 = 1.0f - powf(b1, (float)o->t), bc2 = 1.0f - powf(b2, (float)o->t);
    float step = lr / bc1, sqrt_bc2 = sqrtf(bc2);
    if (c->kind == DT_OPT_ADAMW) adamw_update(n, w, g, o->m, o->v, b1, b2, step, sqrt_bc2, c->eps, 1.0f - lr * wd);
    else adam_update(n, w, g, o->m, o->v, b1, b2, step, sqrt_bc2, c->eps, wd);
}
