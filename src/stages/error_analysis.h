/* Shared by compare, decompose and improve: the target error, the error of
 * the configured model on the four splits, Tobin's bias/variance/shift/
 * val-overfit decomposition with its noise margins, per-class / per-slice
 * error analysis, and training with each batch transformed (zeroed inputs,
 * augmentation) through dt_model_fit's transform.
 * The thresholds are documented in docs/findings.md. */
#ifndef DT_STAGES_ERROR_ANALYSIS_H
#define DT_STAGES_ERROR_ANALYSIS_H

#include "common.h"

typedef struct cJSON cJSON;

/* Absolute part of every margin, in error units (classification: fraction
 * misclassified; regression: MSE divided by the variance of the train
 * targets, so 0.02 means "2% of the mean predictor's MSE"). */
#define DT_EA_ABS_MARGIN 0.02
/* Relative part of the decomposition thresholds: a term is "high" only if it
 * is also larger than this share of the irreducible error. */
#define DT_EA_REL_IRREDUCIBLE 0.5
/* Noise margins are this many standard errors. */
#define DT_EA_NOISE_Z 2.0

/* Target (known result) as an error: target.value when given (accuracy
 * converted to 1 - accuracy); returns 0 when not given. */
int dt_ea_target_error(const dt_config *cfg, double *err);
/* Human-level error from target.human_level (same metric as target.metric). */
int dt_ea_human_error(const dt_config *cfg, double *err);

/* Scale of errors: 1 for classification, the variance of the train labels
 * (the MSE of predicting their mean) for regression (at least 1e-12). */
double dt_ea_error_scale(const dt_data *d);

/* Standard error of an error estimate over n rows: binomial for
 * classification, sample std / sqrt(n) of the row losses otherwise. */
double dt_ea_se(const dt_data *d, double err, size_t n, const float *row_loss);

/* Called after each batch is loaded (train: 1 for a training step, 0 for evaluation). */
typedef dt_batch_fn dt_ea_transform;
/* Zeroes every model input of each batch (the input-independent baseline),
 * or only input *(const int *)tctx when tctx is not NULL. */
void dt_ea_zero_inputs(void *tctx, dt_model *m, size_t n, int train);

/* dt_stage_train with cfg in place of ctx->cfg and tf (may be NULL) applied
 * to every batch. */
dt_status dt_ea_fit(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_model *m, dt_split_id train,
                    dt_split_id val, dt_ea_transform tf, void *tctx, dt_fit_result *res);
/* Evaluation with tf applied to each batch (tf NULL: dt_model_evaluate). */
dt_status dt_ea_evaluate(dt_model *m, const dt_data *d, dt_split_id s, dt_ea_transform tf, void *tctx,
                         dt_eval *res, int *pred, float *row_loss);

/* Softmax regression (cross-entropy) or least squares (mse) as a dt_model:
 * flatten → f1 Linear(D, K).  Works with dt_model_fit / dt_model_evaluate. */
dt_status dt_ea_linear_model(const dt_data *d, dt_loss loss, int max_batch, uint64_t seed, dt_model **out);

/* Error of a trained model on all four splits, with standard errors. */
typedef struct dt_ea_errors {
    double err[DT_SPLIT_COUNT];
    double se[DT_SPLIT_COUNT];
    size_t n[DT_SPLIT_COUNT];
} dt_ea_errors;
dt_status dt_ea_measure(dt_model *m, const dt_data *d, dt_ea_errors *e);

enum { DT_TERM_BIAS, DT_TERM_VARIANCE, DT_TERM_SHIFT, DT_TERM_VAL_OVERFIT, DT_TERM_COUNT };
extern const char *const dt_ea_term_names[DT_TERM_COUNT];   /* "bias", "variance", "shift", "val_overfit" */
struct dt_ea_decomp;
/* The dominant term's name, or "none" when every term is <= 0. */
const char *dt_ea_dominant_name(const struct dt_ea_decomp *dc);

typedef struct dt_ea_decomp {
    double irreducible;
    int irreducible_known;
    double term[DT_TERM_COUNT];
    double threshold[DT_TERM_COUNT];   /* a term above its threshold is "high" */
    int measurable[DT_TERM_COUNT];     /* shift: 0 when test data is carved from train */
    int dominant;                      /* DT_TERM_* with the largest value */
    int none_dominant;                 /* every measurable term <= 0: nothing dominates */
    double term_se[DT_TERM_COUNT];     /* standard error of each term (its splits' SEs combined) */
    double scale;
} dt_ea_decomp;

/* Tobin's decomposition: bias = train - irreducible; variance = train_val -
 * train; shift = test_val - train_val; val_overfit = test - test_val.
 * threshold = max(ABS_MARGIN*scale, REL_IRREDUCIBLE*irreducible, Z*SE of the difference). */
void dt_ea_decompose(const dt_config *cfg, const dt_data *d, const dt_ea_errors *e, dt_ea_decomp *out);

/* Per-epoch training curve of a fit (train loss, train_val loss and error),
 * the first DT_EA_CURVE_MAX epochs. */
#define DT_EA_CURVE_MAX 256
typedef struct dt_ea_curve {
    int n;
    int truncated;                     /* the fit ran more epochs than are kept */
    double train_loss[DT_EA_CURVE_MAX], val_loss[DT_EA_CURVE_MAX], val_error[DT_EA_CURVE_MAX];
} dt_ea_curve;
/* {"epoch": [...], "train_loss": [...], "val_loss": [...], "val_error": [...]} (NULL on OOM). */
cJSON *dt_ea_curve_json(const dt_ea_curve *c);

/* Trains the configured model (cfg; dt_ea_fit with tf) on train with early
 * stopping on train_val and measures it.  *m_out (optional) keeps the model;
 * fit_out (optional) gets the fit result (epochs run, best epoch). */
dt_status dt_ea_train_measure(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_ea_transform tf,
                              void *tctx, dt_ea_errors *e, dt_model **m_out, dt_fit_result *fit_out);
/* The same recording the per-epoch curve (curve may be NULL). */
dt_status dt_ea_train_measure_curve(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_ea_transform tf,
                                    void *tctx, dt_ea_errors *e, dt_model **m_out, dt_fit_result *fit_out,
                                    dt_ea_curve *curve);

/* The configured model (ctx->cfg as it is now, no transform) trained on
 * train with early stopping on train_val, and its errors on the four splits.
 * It is trained once per run and kept in ctx: compare, decompose and improve
 * all start from this same model (same config and seed give the same
 * weights), so `run` pays for it once.  *m stays owned by ctx; *by names the
 * stage that trained it.  A changed ctx->cfg retrains. */
dt_status dt_ea_trained(dt_stage_ctx *ctx, const char *stage, const dt_data *d, dt_model **m, dt_ea_errors *e,
                        dt_fit_result *fr, const char **by);
void dt_ea_trained_free(struct dt_trained *t);
/* The per-epoch curve of that training (NULL before dt_ea_trained has run). */
const dt_ea_curve *dt_ea_trained_curve(const dt_stage_ctx *ctx);

/* Error analysis of a split: per-class error (classification, with class
 * names), confusion matrix, per-slice error with each slice's share of the
 * total error (ranked), and the top-loss rows (the first DT_EA_TOP_INPUTS
 * with their raw inputs, for pictures).  Returns a cJSON object (NULL on
 * OOM); confusion (optional) gets the matrix as a cJSON array of arrays. */
#define DT_EA_TOP_INPUTS 8
dt_status dt_ea_analyze_split(const dt_config *cfg, dt_model *m, const dt_data *d, dt_split_id s, cJSON **analysis,
                              cJSON **confusion);

/* The scores people expect beside the error, on one split: regression
 * {mse, rmse, mae, r2}; binary classification {error, accuracy, precision,
 * recall, f1, roc_auc, positive_class} (positive = class 1, by name); NULL
 * (no error) for multi-class, which per_class covers. */
dt_status dt_ea_scores(const dt_config *cfg, dt_model *m, const dt_data *d, dt_split_id s, cJSON **scores);

/* decompose's checks of the trained model (src/stages/fit_checks.c):
 * label-noise (confident learning on the out-of-sample rows: train_val, and
 * test_val + test when test_from_train; not judged when `unfinished`) and
 * loss-task-mismatch (class ids whose errors land next to the truth);
 * metrics label_noise and error_label_distance_ratio.  Classification with
 * cross_entropy only. */
dt_status dt_ea_check_labels(const dt_config *cfg, dt_model *m, const dt_data *d, int test_from_train, int unfinished,
                             dt_report *rep);
/* not-converged: the validation error of the curve still falling when the
 * fit ended (not by early stopping); metric convergence.  Returns 1 when it
 * fired. */
int dt_ea_check_convergence(const dt_fit_result *fr, const dt_ea_curve *c, const dt_data *d, dt_report *rep);
/* training-oscillates: AUTOTRAINER's unstable-training rule on the
 * validation error of the curve; metric oscillation. */
void dt_ea_check_oscillation(const dt_ea_curve *c, const dt_data *d, dt_report *rep);

#endif
