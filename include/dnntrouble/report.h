/* Stage reports (STAGE.json), the run summary (summary.json) and atomic
 * file writing.  See docs/reports.md for every field and
 * schemas/report.schema.json for the machine-checkable shape.
 *
 * Building a report never fails loudly: setters take NULL handles and
 * record allocation failures, and dt_report_write then returns DT_ENOMEM.
 * So stage code can read straight through:
 *
 *   dt_finding *f = dt_report_finding(rep, "dead-relu", DT_SEV_WARNING,
 *                                     "%.0f%% of layer %s never activates", 93.0, "f1");
 *   dt_finding_evidence(f, "fraction", 0.93);
 *   dt_finding_suggest(f, "lower the learning rate");
 */
#ifndef DT_REPORT_H
#define DT_REPORT_H

#include <stddef.h>

#include "dnntrouble/config.h"
#include "dnntrouble/status.h"

#define DT_REPORT_SCHEMA_VERSION 1
#define DT_TOOL_NAME "dnntrouble"
#define DT_TOOL_VERSION "0.1.0"

typedef enum { DT_SEV_INFO, DT_SEV_WARNING, DT_SEV_ERROR } dt_severity;

typedef struct dt_report dt_report;
typedef struct dt_finding dt_finding;

/* A report for one stage.  The config is read when the report is written
 * (so autos resolved during the stage show); it must outlive the report.
 * started_at is now.  NULL only when out of memory. */
dt_report *dt_report_new(const char *stage, const dt_config *cfg);
void dt_report_free(dt_report *rep);
const char *dt_report_stage(const dt_report *rep);

/* Adds a finding (printf-style message) and returns its handle, valid until
 * the report is freed.  Finding ids are stable API (docs/findings.md). */
dt_finding *dt_report_finding(dt_report *rep, const char *id, dt_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dt_finding_evidence(dt_finding *f, const char *key, double value);
void dt_finding_evidence_str(dt_finding *f, const char *key, const char *value);
/* Suggestions in rank order: call most promising first. */
void dt_finding_suggest(dt_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Findings added so far with this id (0 if none), e.g. for tests. */
int dt_report_has_finding(const dt_report *rep, const char *id);

/* Metrics (replacing an existing key). */
void dt_report_metric(dt_report *rep, const char *key, double value);
void dt_report_metric_str(dt_report *rep, const char *key, const char *value);
void dt_report_metric_array(dt_report *rep, const char *key, const double *values, size_t n);
void dt_report_metric_farray(dt_report *rep, const char *key, const float *values, size_t n);
/* rows x cols, row-major (e.g. a confusion matrix: rows true, cols predicted). */
void dt_report_metric_matrix(dt_report *rep, const char *key, const long *m, size_t rows, size_t cols);
/* Takes ownership of any cJSON value (nested metrics such as per_class, best). */
void dt_report_metric_json(dt_report *rep, const char *key, cJSON *value);
/* The metrics object itself, for anything the setters do not cover. */
cJSON *dt_report_metrics(dt_report *rep);
/* A numeric metric, or 0 when missing / not a number. */
int dt_report_get_metric(const dt_report *rep, const char *key, double *out);

/* An output file, by a short name, as a path relative to the report's folder. */
void dt_report_artifact(dt_report *rep, const char *name, const char *relpath);

/* Status: unless set explicitly, fail when any error finding, warn when any
 * warning, else pass. */
void dt_report_set_status(dt_report *rep, dt_verdict v);
dt_verdict dt_report_status(const dt_report *rep);

/* The report as JSON (caller deletes); duration is measured up to now. */
cJSON *dt_report_to_json(const dt_report *rep);
/* Writes DIR/STAGE.json atomically, creating DIR if needed. */
dt_status dt_report_write(const dt_report *rep, const char *dir);

/* ------------------------------------------------------------ summary.json */

typedef struct dt_summary dt_summary;

dt_summary *dt_summary_new(const dt_config *cfg);
void dt_summary_free(dt_summary *s);
/* Records a finished stage: status, finding ids and its numeric metrics
 * (which also become the run's headline metrics; later stages win). */
void dt_summary_add(dt_summary *s, const dt_report *rep);
/* A stage that did not run, with the reason. */
void dt_summary_skip(dt_summary *s, const char *stage, const char *reason);
/* A stage that stopped with an error status (no STAGE.json was written). */
void dt_summary_error(dt_summary *s, const char *stage, dt_status st, const char *message);
/* Checks cfg->gates against what was recorded; returns how many tripped.
 * A gate on a metric that no stage produced trips (it cannot be shown to hold). */
int dt_summary_apply_gates(dt_summary *s, const dt_config *cfg);
/* fail when a stage failed, errored or a gate tripped; warn; else pass. */
dt_verdict dt_summary_status(const dt_summary *s);
cJSON *dt_summary_to_json(const dt_summary *s);
dt_status dt_summary_write(const dt_summary *s, const char *dir);

/* ------------------------------------------------------------------ diff */

/* Direction of a metric, from its name: error/loss/bias/variance/shift/
 * val_overfit/rmse/mae: lower is better; accuracy, _r2, roc_auc, _f1,
 * precision, recall: higher is better
 * (best.score follows target.metric in the summary config); others: no direction. */
typedef enum { DT_DIR_NONE, DT_DIR_LOWER, DT_DIR_HIGHER } dt_metric_dir;
dt_metric_dir dt_metric_direction(const char *name);

typedef struct dt_diff_row {
    char name[160];         /* metric name, or "status.STAGE" for stage statuses */
    int has_old, has_new;
    double old_value, new_value;
    char old_text[16], new_text[16];   /* status rows: verdict names */
    dt_metric_dir dir;
    double tolerance;       /* the change allowed before it counts */
    int noise_based;        /* tolerance from both runs' standard errors (METRIC_se) */
    int regressed;
} dt_diff_row;

typedef struct dt_diff {
    dt_diff_row *rows;
    int n;
    int regressions;
    char data_differs[160];   /* "" or the first data setting that differs (e.g. "data.train.images") */
    char model_differs[160];  /* "" or what differs in the network (e.g. "model.layers") */
} dt_diff;

/* Compared: outcomes (names with error, bias, variance, shift, val_overfit:
 * lower is better; accuracy: higher), not losses, baselines, targets or
 * one-batch diagnostics.  A lower-is-better metric regresses when new > old + tolerance (mirrored
 * for higher-is-better), tolerance = max(abs_tol, rel_tol * |old|,
 * DT_DIFF_NOISE_Z * sqrt(se_old^2 + se_new^2)) where a run reports the
 * metric's standard error as METRIC_se (decompose does for every error and
 * term): a reshuffle of the same data must not fail CI.  Bookkeeping
 * (counts, standard errors, gradient-check tallies) is not compared.  A stage
 * status regresses when it fails or is skipped where it did not before
 * (warnings are allowed, as in the exit code). */
#define DT_DIFF_NOISE_Z 2.0
#define DT_DIFF_ABS_TOL 0.002
#define DT_DIFF_REL_TOL 0.02
/* old/new: a run directory or a summary.json file. */
dt_status dt_diff_runs(const char *old_path, const char *new_path, double abs_tol, double rel_tol, dt_diff *out);
void dt_diff_free(dt_diff *d);

/* --------------------------------------------------------------- verdict */

/* The plain-words verdict people read after a run or a stage: the
 * diagnosis (the failing or dominant finding, with its numbers), the ranked
 * next steps (that finding's suggestions), what improve kept and the file
 * to run next, the tuned best, tripped gates, and where report.html is.
 * Built from the reports' JSON (what STAGE.json holds), so `run` and
 * `dnntrouble report RUN` say the same.  Every sentence comes from one
 * table, src/report/verdict.c, keyed by finding id or situation. */
#define DT_VERDICT_STEPS 5
#define DT_VERDICT_NOTES 12
typedef struct dt_verdict_note {
    char label[32];          /* "Also found", "Improve kept", "Run next", "Tuned best", "Gate", "Report", ... */
    char text[1200];
} dt_verdict_note;

typedef struct dt_run_verdict {
    dt_verdict status;                /* the run's (summary) or the stage's */
    char diagnosis_id[64];            /* a finding id, or "" when nothing was found / a stage errored */
    char diagnosis_stage[32];
    char diagnosis[800];              /* "high variance (overfitting): train 0.4%, train-val 6.7%" */
    int n_steps;
    char steps[DT_VERDICT_STEPS][600];
    int n_notes;
    dt_verdict_note notes[DT_VERDICT_NOTES];
} dt_run_verdict;

/* reports: the stage reports in run order (NULL entries are skipped);
 * summary: summary.json of `run` (may be NULL); out_dir: the run folder
 * named in "run next" and "report" lines (may be NULL: then none). */
void dt_verdict_build(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir,
                      dt_run_verdict *v);
/* The verdict as terminal lines (malloc'd, caller frees; NULL when out of memory). */
char *dt_verdict_format(const dt_run_verdict *v);

/* ------------------------------------------------------------ html, junit */

/* OUT/report.html from the reports (the verdict on top, then per stage its
 * findings and plots), one self-contained page: inline SVG and CSS, images
 * as data: PNGs, no scripts, nothing fetched.  Written atomically. */
dt_status dt_html_write(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir);
/* The page as text (malloc'd), for tests. */
char *dt_html_render(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir);
/* Reads OUT/STAGE.json for every stage that has one (in run order) and
 * OUT/summary.json when it belongs to them (it is not older than any stage
 * report); n_out reports in reports[] (caller deletes each), summary may be
 * NULL.  DT_EIO when OUT holds no report. */
dt_status dt_run_load(const char *out_dir, cJSON **reports, int cap, int *n_out, cJSON **summary);

/* JUnit XML that CI systems read: one testsuite for the run, a testcase per
 * stage (failure when it fails, its findings in the message; error when it
 * stopped with an error; skipped when the run did not reach it) and one per
 * gate (failure when it tripped).  Written atomically to path. */
dt_status dt_junit_write(const cJSON *const *reports, int n, const cJSON *summary, const char *path);
char *dt_junit_render(const cJSON *const *reports, int n, const cJSON *summary);

/* ---------------------------------------------------------------- files */

/* Writes data to path atomically: a temp file in the same folder, fsync,
 * rename.  Readers see the old file or the new one, never a part. */
dt_status dt_write_file_atomic(const char *path, const void *data, size_t len);
/* mkdir -p. */
dt_status dt_mkdir_p(const char *dir);
/* Current UTC time as ISO 8601 ("2024-05-01T12:00:00Z"). */
void dt_iso8601_now(char *buf, size_t size);

#endif
