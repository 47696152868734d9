/* What every stage shares: resolving `auto` choices, building the configured
 * model, the optimizer settings, and progress reporting while training. */
#ifndef DT_STAGES_COMMON_H
#define DT_STAGES_COMMON_H

#include "dnntrouble/augment.h"
#include "dnntrouble/data.h"
#include "dnntrouble/model.h"
#include "dnntrouble/stage.h"
#include "dnntrouble/train.h"

typedef struct cJSON cJSON;

/* Loads the data (once per run), resolves data.modality and model.arch in
 * ctx->cfg, and sets the BLAS thread count.  Every stage starts here. */
dt_status dt_stage_prepare(dt_stage_ctx *ctx, dt_data **d);

/* The architecture `auto` picks for a modality (Tobin: images → LeNet,
 * sequences → LSTM, anything else → a one-hidden-layer MLP). */
dt_arch dt_stage_auto_arch(dt_modality m);

/* The preset keys of the config (model.arch, hidden, depth, ...). */
dt_preset_args dt_stage_preset_args(const dt_config *cfg, const dt_data *d);
/* Model specification from the config and the data's fields: the given
 * layers, or the preset expanded for these inputs. */
dt_status dt_stage_model_spec(const dt_config *cfg, const dt_data *d, int max_batch, dt_model_spec *s);
/* Writes the expanded preset into cfg->model.desc (unless the layers were
 * given), so every report's resolved config shows the layers. */
dt_status dt_stage_resolve_model(dt_config *cfg, const dt_data *d);
/* Builds and initialises the configured model (seeded by cfg->seed). */
dt_status dt_stage_build_model(const dt_config *cfg, const dt_data *d, int max_batch, dt_model **m);
/* Optimizer settings from train.*; total_steps feeds the cosine schedule. */
dt_optim_cfg dt_stage_optim_cfg(const dt_config *cfg, long total_steps);

/* Fit options from train.* (epochs, max_steps, patience, the batch-order
 * seed), restoring the best epoch; no hook. */
dt_fit_opts dt_stage_fit_opts_cfg(const dt_config *cfg, dt_split_id train, dt_split_id val);
/* The same with progress going to ctx->progress. */
dt_fit_opts dt_stage_fit_opts(dt_stage_ctx *ctx, dt_split_id train, dt_split_id val);
/* dt_model_fit with an optimizer made from cfg (its schedule spans the fit's steps). */
dt_status dt_stage_fit(const dt_config *cfg, const dt_data *d, dt_model *m, const dt_fit_opts *fo,
                       dt_fit_result *res);
/* Trains m on `train` with early stopping on `val` per the config. */
dt_status dt_stage_train(dt_stage_ctx *ctx, const dt_data *d, dt_model *m, dt_split_id train,
                         dt_split_id val, dt_fit_result *res);

/* The same with explicit fit options (e.g. with a batch transform). */
dt_status dt_stage_train_opts(dt_stage_ctx *ctx, const dt_data *d, dt_model *m, const dt_fit_opts *fo,
                              dt_fit_result *res);

/* A fit's per-epoch history as report JSON: {epoch, train_loss, train_error,
 * val_loss, val_error (with validation), val_split, best_epoch, epochs_run,
 * stride} with one array entry per recorded epoch (NULL when out of memory). */
cJSON *dt_stage_history_json(const dt_fit_result *fr, dt_split_id val);
/* A curve value rounded to 6 significant digits (what a plot needs, and
 * short in JSON: cJSON prints 15-17); NaN/Inf as null. */
cJSON *dt_stage_curve_number(double v);

/* 1 when some input field is an image (augmentation applies). */
int dt_stage_has_images(const dt_data *d);

/* The name of (dense) class cls: data.class_names of its original label;
 * text data: the character; else the original label as a number. */
const char *dt_stage_class_name(const dt_config *cfg, const dt_data *d, int cls, char *buf, size_t size);
/* [K] class names as JSON strings (NULL for regression). */
cJSON *dt_stage_class_names_json(const dt_config *cfg, const dt_data *d);

/* Number of classes, or 0 for regression. */
int dt_stage_classes(const dt_data *d);

#endif
