/* The interface between the CLI and the troubleshooting stages.
 *
 * A stage fills a report; its verdict (pass/warn/fail) is the report's
 * status.  The returned dt_status is for errors only (bad data, out of
 * memory, a bug): then the CLI writes no report for the stage and exits
 * with the status's exit code. */
#ifndef DT_STAGE_H
#define DT_STAGE_H

#include "dnntrouble/config.h"
#include "dnntrouble/progress.h"
#include "dnntrouble/report.h"
#include "dnntrouble/status.h"

struct dt_data;

typedef struct dt_stage_ctx {
    dt_config *cfg;          /* resolved as stages go: stages may overwrite auto values */
    const char *out_dir;     /* exists when a stage runs */
    dt_progress *progress;   /* may be NULL */
    struct dt_data *data;    /* loaded lazily and shared across stages of one run */
    struct dt_trained *trained; /* the configured model trained once per run (compare,
                                   decompose and improve share it): stages/error_analysis.h */
    int quiet;
    int resume;              /* tune --resume: continue from out_dir/trials.jsonl */
    double lr_suggested;     /* lr-find's suggestion in this run (0: none); tune's default lr
                                range centres on it */
    int mpi;                 /* tune --mpi (MPI initialised, dnntrouble/mpi.h): rank 0 runs the study,
                                the other ranks only train what it sends them */
    int mpi_rank;
} dt_stage_ctx;

/* Loads cfg->data on first call (dt_data_load(&cfg->data, cfg->base_dir, ...))
 * and returns the shared dataset afterwards. */
dt_status dt_stage_ctx_data(dt_stage_ctx *ctx, struct dt_data **out);
/* Frees what the context loaded (the dataset, the trained model); not cfg, out_dir or progress. */
void dt_stage_ctx_release(dt_stage_ctx *ctx);

/* What a run needs, checked before the first stage: the data files (exit 3
 * naming the config key), the data itself (headers, shapes, labels), the
 * model built on the data's shapes (exit 2 naming the layer). */
typedef struct dt_preflight {
    int n_fields, classes, layers;
    size_t split[4];         /* train, train_val, test_val, test rows */
    size_t params;
} dt_preflight;
dt_status dt_stage_preflight(dt_stage_ctx *ctx, dt_preflight *pf);

/* Fills rep; a failed verdict is a report status, not an error status. */
typedef dt_status (*dt_stage_fn)(dt_stage_ctx *ctx, dt_report *rep);

typedef struct dt_stage_def {
    const char *name;
    dt_stage_fn run;
    const char *help;        /* one line for --help */
} dt_stage_def;

/* The stages in run order: start-simple, debug, overfit-batch, compare,
 * decompose, improve, lr-find, tune. */
extern const dt_stage_def dt_stages[];
extern const int dt_n_stages;
/* NULL when there is no stage of that name. */
const dt_stage_def *dt_stage_find(const char *name);

/* Implemented in src/stages/<stage>.c. */
dt_status dt_stage_start_simple(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_debug(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_overfit_batch(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_compare(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_decompose(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_improve(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_lr_find(dt_stage_ctx *ctx, dt_report *rep);
dt_status dt_stage_tune(dt_stage_ctx *ctx, dt_report *rep);

#endif
