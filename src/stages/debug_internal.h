/* The debug stage ("get your model to run"), split in three files:
 * debug.c runs the stage and the data checks, debug_desc.c the checks of
 * the description and loss, debug_model.c the checks on the built model.  See docs/findings.md "## debug" for every rule. */
#ifndef DT_STAGES_DEBUG_INTERNAL_H
#define DT_STAGES_DEBUG_INTERNAL_H

#include <cJSON.h>

#include "common.h"

#define DBG_TRAIN_STEPS 20        /* steps before the dead-ReLU and trained-gradient checks */
#define DBG_GRADCHECK_BATCH 16    /* samples in the gradient-check batch */

typedef struct dbg_state {
    dt_stage_ctx *ctx;
    const dt_config *cfg;
    dt_data *d;
    dt_report *rep;
    cJSON *checks;                /* metrics.checks: {name: {value, threshold, passed}} */
    dt_model *m;
    size_t *rows;                 /* the fixed debug batch: rows 0..B of the train split */
    size_t B;
    int classes;                  /* 0 for regression */
    int nan_found;                /* a non-finite value stopped the model checks */
} dbg_state;

/* Records one measured check in metrics.checks. */
void dbg_check(dbg_state *s, const char *name, double value, double threshold, int passed);

/* Data checks (debug.c). */
void dbg_check_labels(dbg_state *s);
void dbg_check_imbalance(dbg_state *s);
void dbg_check_overlap(dbg_state *s);
void dbg_check_inputs(dbg_state *s, int input, const float *x, size_t n);

/* Checks of the model description and the loss against the task
 * (debug_desc.c), with the debug batch loaded. */
void dbg_desc_checks(dbg_state *s);

/* Model checks (debug_model.c), on s->m with the debug batch loaded. */
dt_status dbg_model_checks(dbg_state *s);

#endif
