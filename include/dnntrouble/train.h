/* Feeding data to a model, evaluating it, and the epoch loop with early
 * stopping.  Shared by every stage that trains. */
#ifndef DT_TRAIN_H
#define DT_TRAIN_H

#include "dnntrouble/data.h"
#include "dnntrouble/model.h"

/* Copies rows[0..n) of split s into the model inputs (each from its field,
 * normalized) and m->y, and sets the batch size. */
dt_status dt_model_load_batch(dt_model *m, const dt_data *d, dt_split_id s, const size_t *rows, size_t n);
/* The class id of batch row r (classification data; with mse on class
 * labels y holds one-hot rows and this reads them back). */
int dt_model_class_of(const dt_model *m, size_t r);

/* Changes a loaded batch in place before the model sees it (n rows; train
 * is 1 during training): zeroed inputs for a baseline, augmentation. */
typedef void (*dt_batch_fn)(void *ctx, dt_model *m, size_t n, int train);

typedef struct dt_eval {
    double loss;       /* mean loss */
    double error;      /* classification: misclassified fraction; regression: mean squared error in the
                          targets' raw units (undone when data.standardize_targets) */
    size_t n;
} dt_eval;

/* The binomial standard error of an error rate measured on n rows, with a
 * floor of about one row's worth of doubt when no row is wrong. */
double dt_error_se(double err, size_t n);

/* Called by dt_model_forward_split after each batch's forward pass: rows
 * start..start+k of the split are batch rows 0..k-1. */
typedef void (*dt_rows_fn)(void *ctx, const dt_model *m, size_t start, size_t k);

/* Evaluation mode over a whole split, in batches of the model's size and in
 * row order: loads each batch, passes it through tf (may be NULL), runs the
 * forward pass up to `upto` (m->out, or m->loss to have m->y and the loss
 * too) and calls visit.  Training mode is back on when it returns. */
dt_status dt_model_forward_split(dt_model *m, const dt_data *d, dt_split_id s, dt_node *upto, dt_batch_fn tf,
                                 void *tctx, dt_rows_fn visit, void *ctx);

/* Evaluation mode over a whole split.  pred (optional, split size) receives
 * the predicted class (classification) and row_loss (optional) each row's loss. */
dt_status dt_model_evaluate(dt_model *m, const dt_data *d, dt_split_id s, dt_eval *res, int *pred,
                            float *row_loss);
/* The same with each batch passed through tf (may be NULL) first. */
dt_status dt_model_evaluate_with(dt_model *m, const dt_data *d, dt_split_id s, dt_batch_fn tf, void *tctx,
                                 dt_eval *res, int *pred, float *row_loss);

/* Steps in one epoch over n rows at batch size `batch`: ceil(n / batch), at
 * least 1.  Every place that plans training uses this (and dt_fit_steps). */
long dt_steps_per_epoch(size_t n, size_t batch);
/* Steps a fit takes: max_steps when > 0, else epochs x dt_steps_per_epoch. */
long dt_fit_steps(size_t n, size_t batch, int epochs, long max_steps);

/* What the step hook sees, right after each optimisation step. */
typedef struct dt_fit_step {
    dt_model *m;                /* after the update; m->out and m->loss still hold this step's forward
                                 * pass and g->param_grad its (clipped) gradient */
    dt_optimizer *o;            /* the hook may set o->cfg.lr: the lr of the next step (lr-find's sweep) */
    int epoch, epochs;          /* 1-based epoch; epochs planned */
    long step, steps;           /* 1-based step; steps planned */
    float loss;                 /* this step's training loss (may be NaN/Inf: the fit stops after the hook) */
    size_t batch;               /* rows in this step's batch */
} dt_fit_step;

/* Called after every training step (progress, curves, detectors).  Returns
 * nonzero to stop training after this step (res->stopped_by_hook). */
typedef int (*dt_step_fn)(void *ctx, const dt_fit_step *s);

/* What the epoch hook sees at the end of each epoch that completed (the
 * curve a report draws): validation's numbers when a validation split ran. */
typedef struct dt_fit_epoch_info {
    int epoch;                  /* 1-based */
    double train_loss;          /* mean training loss over the epoch's steps */
    int validated;              /* 0: no validation split */
    double val_loss, val_error;
} dt_fit_epoch_info;

/* Returns nonzero to stop training after this epoch (res->stopped_by_hook),
 * e.g. a pruner that drops a trial at a rung. */
typedef int (*dt_epoch_fn)(void *ctx, const dt_fit_epoch_info *e);

typedef struct dt_fit_opts {
    int epochs;
    long max_steps;             /* 0: epochs decide */
    int patience;               /* early stopping on val error; 0 = off */
    int restore_best;           /* keep the weights (and batch-norm statistics) of the best validation epoch */
    dt_split_id train_split, val_split;   /* val_split == train_split: no validation */
    uint64_t seed;              /* batch order */
    dt_step_fn on_step;         /* after every step (may be NULL) */
    void *ctx;
    dt_batch_fn transform;      /* applied to every training and validation batch (may be NULL) */
    void *transform_ctx;
    const size_t *fixed_rows;   /* when set: every step trains on these rows of train_split, in this
                                 * order (overfit-batch's one fixed batch); an epoch is one step */
    size_t n_fixed;
    dt_epoch_fn on_epoch;       /* after every completed epoch, its validation included (may be NULL) */
    void *epoch_ctx;
} dt_fit_opts;

/* One epoch of a fit, for curves (reports' `history`). */
typedef struct dt_fit_epoch {
    int epoch;                  /* 1-based */
    float train_loss;           /* mean training loss of the epoch's steps */
    float train_error;          /* error on the epoch's training batches as they were trained (train mode,
                                 * weights moving, as Keras reports it): misclassified fraction, or MSE */
    float val_loss, val_error;  /* on val_split after the epoch; NAN without validation */
} dt_fit_epoch;

/* Entries of dt_fit_result.history: a fixed array, so results copy by value. */
#define DT_FIT_HISTORY 128

/* Early stopping's patience: is an epoch that is not the best (ev) still
 * learning?  Classification: its error is within two standard errors of the
 * lowest so far (min_error) and its loss is the lowest so far (below
 * min_loss).  Regression: never (a lower error is a new best). */
int dt_fit_still_learning(int regression, const dt_eval *ev, double min_error, double min_loss);

typedef struct dt_fit_result {
    int epochs_run;
    long steps;                 /* steps completed (also when the fit returns an error) */
    int best_epoch;             /* 1-based; 0 when no validation ran */
    double best_val_error, best_val_loss;
    double last_train_loss;     /* mean over the last epoch */
    int stopped_early;          /* patience ran out */
    int stopped_by_hook;        /* on_step or on_epoch asked to stop */
    int diverged;               /* the loss became NaN/Inf */
    /* Per-epoch history: every epoch while they fit; a longer fit keeps
     * epochs 1, 1+s, 1+2s, ... (s = history_stride, doubled each time the
     * array fills) and always the last epoch run. */
    int n_history, history_stride;
    dt_fit_epoch history[DT_FIT_HISTORY];
} dt_fit_result;

/* The training loop: epochs of seeded mini-batches (or the fixed batch),
 * one dt_model_train_step each, the hook after every step, validation and
 * early stopping after every epoch, and the best epoch's state restored. */
dt_status dt_model_fit(dt_model *m, dt_optimizer *o, const dt_data *d, const dt_fit_opts *opts,
                       dt_fit_result *res);
/* The steps dt_model_fit plans for these options at this batch size (the
 * optimizer's schedule length). */
long dt_fit_planned_steps(const dt_data *d, const dt_fit_opts *opts, size_t batch);

/* The model's persistent state: every parameter value and every op's
 * persistent state (batch-norm running statistics), as one flat block of
 * dt_model_state_size floats.  What restoring the best epoch saves. */
size_t dt_model_state_size(const dt_model *m);
void dt_model_state_save(const dt_model *m, float *buf);
void dt_model_state_load(dt_model *m, const float *buf);

#endif
