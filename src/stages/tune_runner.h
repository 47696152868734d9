/* The tune stage's internals: trials, the search space (sampling and
 * coarse-to-fine narrowing, tune_space.c), the trial journal (trials.jsonl,
 * tune_journal.c), one trial's training with the sick-trial detectors
 * (tune.c) and the trial runner interface with its local process-pool
 * implementation (tune_runner.c).  See docs/tune.md.
 *
 * The runner is the seam for other ways of running trials (e.g. MPI): the
 * stage only submits trials and waits for results; a runner never touches
 * the journal or the report. */
#ifndef DT_TUNE_RUNNER_H
#define DT_TUNE_RUNNER_H

#include <stdint.h>

#include "dnntrouble/config.h"
#include "dnntrouble/data.h"
#include "dnntrouble/rng.h"
#include "dnntrouble/status.h"

/* ------------------------------------------------------------- trials */

/* One point of the space: the value of every searched key. */
typedef struct dt_trial {
    int id;                          /* 0-based over the whole search */
    int round;                       /* 0-based */
    int n;                           /* == cfg->stages.tune.n_space */
    double num[DT_MAX_SPACE];        /* numeric kinds: the value */
    int choice[DT_MAX_SPACE];        /* choice kind: index into the space's choices */
} dt_trial;

typedef enum { DT_TRIAL_OK, DT_TRIAL_SICK, DT_TRIAL_FAILED } dt_trial_status;

/* What a trial produced.  Plain bytes (no pointers): a forked worker sends
 * it through a pipe in one write. */
typedef struct dt_trial_result {
    int id;
    dt_trial_status status;
    char reason[256];                /* sick / failed: why (e.g. "loss exploded: ...") */
    double score;                    /* train_val error (classification error or MSE); NAN unless OK */
    double val_loss;                 /* train_val mean loss (tie-break) */
    double first_loss, last_loss;    /* training loss: first step, mean of the last steps */
    long steps, budget;              /* steps run / planned */
    double seconds;
} dt_trial_result;

const char *dt_trial_status_name(dt_trial_status s);
/* Ranking: OK before anything else, then lower score, then lower val_loss,
 * then lower id.  Negative when a ranks before b. */
int dt_trial_result_cmp(const dt_trial_result *a, const dt_trial_result *b);

/* ---------------------------------------------------------- the space */

/* The searched range of one key in one round: [lo, hi] (numeric kinds, in
 * value units) or the allowed choices. */
typedef struct dt_tune_range {
    double lo, hi;
    int allowed[DT_MAX_CHOICES];     /* choice kind: 1 when the choice may be drawn */
} dt_tune_range;

typedef struct dt_tune_ranges {
    int n;
    dt_tune_range r[DT_MAX_SPACE];
} dt_tune_ranges;

/* Round 0: the whole space. */
void dt_tune_ranges_init(const dt_config *cfg, dt_tune_ranges *out);
/* The next round's ranges from `prev` and the finished trials (any order):
 * around the top_k OK trials, in log units for log_uniform, widened by a
 * margin and clipped to `prev`; choices narrow to those seen in the top_k.
 * With no OK trial the ranges stay as they are. */
void dt_tune_ranges_narrow(const dt_config *cfg, const dt_tune_ranges *prev, const dt_trial *trials,
                           const dt_trial_result *results, int n, int top_k, dt_tune_ranges *out);
/* Draws trial `id` of round `round` (deterministic in seed, round, id and ranges). */
void dt_tune_sample(const dt_config *cfg, const dt_tune_ranges *ranges, uint64_t seed, int round, int id,
                    dt_trial *out);
/* Trials in round r when `trials` are spread over `rounds` (the first
 * trials % rounds rounds take one more), and the first id of round r. */
int dt_tune_round_size(int trials, int rounds, int r);
int dt_tune_round_start(int trials, int rounds, int r);
/* Writes the trial's values into cfg (dt_config_set_number / dt_config_set). */
dt_status dt_tune_apply(dt_config *cfg, const dt_config *base, const dt_trial *t);
/* Value of searched key i as text ("0.0031", "adam"). */
void dt_tune_value_text(const dt_config *cfg, const dt_trial *t, int i, char *buf, size_t size);
/* 1 when a and b have the same values for every key. */
int dt_trial_same_params(const dt_config *cfg, const dt_trial *a, const dt_trial *b);

/* Importance of each searched key: the one-way R² (eta squared) of the
 * score on the key over the OK trials — numeric keys binned into up to 4
 * quantile bins of their (log) value, choices grouped by value — and the
 * R²s normalised to shares summing to 1.  r2/share 0 when undefined. */
void dt_tune_importance(const dt_config *cfg, const dt_trial *trials, const dt_trial_result *results, int n,
                        double *r2, double *share);

/* ------------------------------------------------------------ journal */

/* out_dir/trials.jsonl: one JSON object per finished trial, appended,
 * flushed and fsync'd before the next trial is handed out. */
typedef struct dt_tune_journal {
    int fd;
    char path[1100];
} dt_tune_journal;

/* Reads the journal (if any), keeps entries whose config hash matches and
 * whose trial id + params match the regenerated trial (params via the
 * caller's check later; here only the hash and parse), ignoring a torn last
 * line.  results/trials (cap entries) receive what was read; *n the count. */
dt_status dt_tune_journal_read(const char *path, const dt_config *cfg, uint64_t config_hash, dt_trial *trials,
                               dt_trial_result *results, int cap, int *n);
/* Rewrites the journal atomically with exactly these entries, then opens it
 * for appending. */
dt_status dt_tune_journal_open(dt_tune_journal *j, const char *path, const dt_config *cfg, uint64_t config_hash,
                               const dt_trial *trials, const dt_trial_result *results, int n);
dt_status dt_tune_journal_append(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                 const dt_trial *t, const dt_trial_result *r);
void dt_tune_journal_close(dt_tune_journal *j);
/* FNV-1a 64 of the config's YAML with jobs and threads normalised: results
 * in a journal are reused only under the same hash. */
uint64_t dt_tune_config_hash(const dt_config *cfg);

/* ---------------------------------------------------------- one trial */

/* Everything a trial needs; shared read-only by every trial (a forked
 * worker gets its own copy-on-write view). */
typedef struct dt_tune_job {
    const dt_config *base;           /* resolved config (autos replaced) */
    const dt_data *data;
} dt_tune_job;

/* Trains the trial's config with the tune budget and the sick detectors,
 * scores it on train_val.  An error status only for errors (out of memory,
 * a config the trial cannot apply is a FAILED result instead). */
dt_status dt_tune_run_trial(const dt_tune_job *job, const dt_trial *t, dt_trial_result *r);

/* --------------------------------------------------------- the runner */

typedef dt_status (*dt_trial_fn)(void *ctx, const dt_trial *t, dt_trial_result *r);

/* Hands out trials and returns their results in completion order. */
typedef struct dt_trial_runner {
    void *impl;
    int slots;                       /* trials that may run at once */
    /* Starts t (the caller submits at most `slots` trials before a wait_any). */
    dt_status (*submit)(struct dt_trial_runner *self, const dt_trial *t);
    /* Blocks until a submitted trial finishes; DT_EINTERNAL when none is running. */
    dt_status (*wait_any)(struct dt_trial_runner *self, dt_trial_result *out);
    int (*running)(struct dt_trial_runner *self);
    /* Stops (kills) anything still running and frees the runner. */
    void (*close)(struct dt_trial_runner *self);
} dt_trial_runner;

/* The local runner.  jobs == 1: trials run in this process, one at a time,
 * when wait_any is called.  jobs > 1: a process pool — each trial runs in a
 * forked child that sets one BLAS thread, calls fn, writes the result to a
 * pipe and leaves with _exit (the one place the library ends a process: it
 * is the child's own, and _exit skips the parent's atexit handlers and
 * stdio buffers).  A child that dies gives a FAILED result. */
dt_status dt_trial_runner_local(dt_trial_runner *r, int jobs, dt_trial_fn fn, void *ctx);

#endif
