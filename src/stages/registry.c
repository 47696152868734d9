/* The stage table (run order) and the shared stage context. */
#include <string.h>

#include "dnntrouble/data.h"
#include "dnntrouble/stage.h"
#include "error_analysis.h"

const dt_stage_def dt_stages[] = {
    {"start-simple", dt_stage_start_simple, "profile data, simplify, choose architecture and defaults"},
    {"debug", dt_stage_debug, "\"get the model to run\": checks for the common silent bugs"},
    {"overfit-batch", dt_stage_overfit_batch, "drive the loss on one batch to ~0; classify the curve if it fails"},
    {"compare", dt_stage_compare, "simple baselines and the known result (target)"},
    {"decompose", dt_stage_decompose,
     "train, then irreducible/bias/variance/shift/val-overfit + error analysis"},
    {"improve", dt_stage_improve, "try the ranked remedies for the dominant term; keep what helps"},
    {"lr-find", dt_stage_lr_find, "learning-rate range test: loss against lr, with a suggested lr"},
    {"tune", dt_stage_tune, "coarse-to-fine random search"},
};
const int dt_n_stages = (int)(sizeof dt_stages / sizeof dt_stages[0]);

const dt_stage_def *dt_stage_find(const char *name)
{
    for (int i = 0; i < dt_n_stages; i++)
        if (strcmp(dt_stages[i].name, name) == 0) return &dt_stages[i];
    return NULL;
}

dt_status dt_stage_ctx_data(dt_stage_ctx *ctx, struct dt_data **out)
{
    if (!ctx->data) {
        dt_status st = dt_data_load(&ctx->cfg->data, ctx->cfg->base_dir, &ctx->data);
        if (st != DT_OK) return st;
    }
    *out = ctx->data;
    return DT_OK;
}

void dt_stage_ctx_release(dt_stage_ctx *ctx)
{
    dt_ea_trained_free(ctx->trained);
    ctx->trained = NULL;
    if (ctx->data) dt_data_free(ctx->data);
    ctx->data = NULL;
}

/* Fallbacks for stages missing from a build: src/stages/zz_fallbacks.c. */
