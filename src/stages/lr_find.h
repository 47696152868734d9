/* lr-find: the learning-rate range test (Smith 2017, "Cyclical learning
 * rates"; fastai's lr_find, Lightning's Tuner.lr_find) and the rules that
 * read a suggestion off its curve.  See docs/tune.md "lr-find". */
#ifndef DT_STAGES_LR_FIND_H
#define DT_STAGES_LR_FIND_H

#include "common.h"

/* The rules compared in docs/tune.md; dt_lr_find_rule (min/10) is the one the stage uses. */
typedef enum {
    DT_LR_RULE_STEEPEST,   /* steepest descent of the smoothed loss against log lr */
    DT_LR_RULE_MIN10,      /* the lr of the smoothed minimum, divided by 10 */
    DT_LR_RULE_VALLEY,     /* the middle of the longest decreasing run (fastai's "valley") */
    DT_LR_RULE_WINDOW,     /* the centre of the one-decade window over which the smoothed loss falls most */
    DT_LR_RULE_COUNT
} dt_lr_rule;

extern const dt_lr_rule dt_lr_find_rule;

typedef struct dt_lr_curve {
    int n;                     /* points: steps every sweep took with a finite loss */
    double *lr;                /* [n] the lr of each step */
    double *loss;              /* [n] its training loss (the mean over the sweeps) */
    double *smoothed;          /* [n] the bias-corrected exponential average of loss */
    int diverged;              /* stopped by the divergence rule (or a non-finite loss) before max_lr */
    int sweeps;
    long steps;                /* training steps taken, all sweeps */
} dt_lr_curve;

/* Sweeps the lr exponentially from stages.lr-find.min_lr to max_lr over
 * `steps` train batches (dt_model_fit with a step hook that sets each next
 * lr and stops at divergence), `restarts` times from m's current state with
 * different batch orders, and averages the losses step by step.  m's state
 * (parameters, batch-norm statistics, dropout generator) is restored
 * afterwards: the sweep leaves no trace in the model.  progress may be NULL. */
dt_status dt_lr_find_sweep(const dt_config *cfg, const dt_data *d, dt_model *m, dt_progress *progress,
                           dt_lr_curve *c);
void dt_lr_curve_free(dt_lr_curve *c);

/* In src/stages/lr_rules.c: */
/* out[i] = the exponential average of loss[0..i] with factor beta, divided
 * by 1 - beta^(i+1) (bias correction, as Adam's moments). */
void dt_lr_smooth(const double *loss, int n, double beta, double *out);

/* Fewest points a curve needs for a suggestion. */
#define DT_LR_FIND_MIN_POINTS 5

/* Index of the smoothed minimum (c->n > 0). */
int dt_lr_curve_min(const dt_lr_curve *c);
/* Why a curve gives no suggestion: NULL when it gives one. */
const char *dt_lr_curve_unusable(const dt_lr_curve *c);
/* The rule's suggestion in *lr and the index of the nearest curve point;
 * -1 when the curve gives none (dt_lr_curve_unusable, or the rule finds no
 * falling stretch). */
int dt_lr_suggest(const dt_lr_curve *c, dt_lr_rule rule, double *lr);
const char *dt_lr_rule_name(dt_lr_rule r);

#endif
