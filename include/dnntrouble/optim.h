/* Optimizers over the flat parameter/gradient blocks (llm.c style: one loop
 * over contiguous memory per step).  Semantics follow PyTorch's SGD, Adam and
 * AdamW so that results can be compared side by side. */
#ifndef DT_OPTIM_H
#define DT_OPTIM_H

#include <stddef.h>

#include "dnntrouble/status.h"

typedef enum { DT_OPT_SGD, DT_OPT_ADAM, DT_OPT_ADAMW } dt_opt_kind;
typedef enum { DT_SCHED_CONSTANT, DT_SCHED_STEP, DT_SCHED_COSINE } dt_sched_kind;

typedef struct dt_optim_cfg {
    dt_opt_kind kind;
    float lr;
    float momentum;          /* SGD */
    int nesterov;            /* SGD */
    float beta1, beta2, eps; /* Adam/AdamW: 0.9, 0.999, 1e-8 */
    float weight_decay;      /* SGD/Adam: L2 added to the gradient; AdamW: decoupled */
    float clip_grad_norm;    /* 0 = off; otherwise global L2 norm limit */
    dt_sched_kind schedule;
    long step_size;          /* step schedule: multiply lr by gamma every step_size steps */
    float gamma;
    long total_steps;        /* cosine: lr decays to 0 at total_steps */
    long warmup_steps;       /* linear warm-up from lr/warmup to lr (any schedule) */
} dt_optim_cfg;

/* Adam with PyTorch's defaults at the given learning rate. */
dt_optim_cfg dt_optim_defaults(dt_opt_kind kind, float lr);

typedef struct dt_optimizer {
    dt_optim_cfg cfg;
    size_t n;                /* parameters */
    float *m;                /* [n] first moment (Adam) or momentum buffer (SGD) */
    float *v;                /* [n] second moment (Adam) */
    long t;                  /* steps taken */
    float last_grad_norm;    /* global gradient norm before clipping, last step */
    float last_lr;
} dt_optimizer;

dt_status dt_optim_init(dt_optimizer *o, const dt_optim_cfg *cfg, size_t n);
void dt_optim_free(dt_optimizer *o);
/* Clears the state (moments, step count), keeps the configuration. */
void dt_optim_reset(dt_optimizer *o);
/* Learning rate for step t (0-based) under the schedule. */
float dt_optim_lr_at(const dt_optim_cfg *cfg, long t);
/* Clips g in place (when configured) and updates w.  Never allocates. */
void dt_optim_step(dt_optimizer *o, float *w, float *g);
/* Global L2 norm of g[0..n). */
float dt_l2_norm(const float *g, size_t n);

#endif
