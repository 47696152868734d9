/* Feeding data to a model, evaluating it, and the epoch loop with early
 * stopping.  Shared by every stage that trains. */
#ifndef DT_TRAIN_H
#define DT_TRAIN_H

#include "dnntrouble/data.h"
#include "dnntrouble/model.h"

/* Copies rows[0..n) of split s into m->x and m->y (normalized) and sets the batch size. */
dt_status dt_model_load_batch(dt_model *m, const dt_data *d, dt_split_id s, const size_t *rows, size_t n);

/* Changes a loaded batch in place before the model sees it (n rows; train
 * is 1 during training): zeroed inputs for a baseline, augmentation. */
typedef void (*dt_batch_fn)(void *ctx, dt_model *m, size_t n, int train);

typedef struct dt_eval {
    double loss;       /* mean loss */
    double error;      /* classification: misclassified fraction; regression: mean squared error */
    size_t n;
} dt_eval;

/* Evaluation mode over a whole split.  pred (optional, split size) receives
 * the predicted class (classification) and row_loss (optional) each row's loss. */
dt_status dt_model_evaluate(dt_model *m, const dt_data *d, dt_split_id s, dt_eval *res, int *pred,
                            float *row_loss);
/* The same with each batch passed through tf (may be NULL) first. */
dt_status dt_model_evaluate_with(dt_model *m, const dt_data *d, dt_split_id s, dt_batch_fn tf, void *tctx,
                                 dt_eval *res, int *pred, float *row_loss);

typedef void (*dt_step_fn)(void *ctx, int epoch, int epochs, long step, long steps, float loss);

typedef struct dt_fit_opts {
    int epochs;
    long max_steps;             /* 0: epochs decide */
    int patience;               /* early stopping on val error; 0 = off */
    int restore_best;           /* keep the weights (and batch-norm statistics) of the best validation epoch */
    dt_split_id train_split, val_split;
    uint64_t seed;              /* batch order */
    dt_step_fn on_step;         /* progress (may be NULL) */
    void *ctx;
    dt_batch_fn transform;      /* applied to every training and validation batch (may be NULL) */
    void *transform_ctx;
} dt_fit_opts;

typedef struct dt_fit_result {
    int epochs_run;
    long steps;
    int best_epoch;             /* 1-based; 0 when no validation ran */
    double best_val_error, best_val_loss;
    double last_train_loss;     /* mean over the last epoch */
    int stopped_early;
    int diverged;               /* the loss became NaN/Inf */
} dt_fit_result;

dt_status dt_model_fit(dt_model *m, dt_optimizer *o, const dt_data *d, const dt_fit_opts *opts,
                       dt_fit_result *res);

/* The model's persistent state: every parameter value and every op's
 * persistent state (batch-norm running statistics), as one flat block of
 * dt_model_state_size floats.  What restoring the best epoch saves. */
size_t dt_model_state_size(const dt_model *m);
void dt_model_state_save(const dt_model *m, float *buf);
void dt_model_state_load(dt_model *m, const float *buf);

#endif
