/* The tune stage's internals: trials, the search space (sampling and
 * coarse-to-fine narrowing, tune_space.c), ASHA's rung state (tune_asha.c),
 * the trial journal (trials.jsonl, tune_journal.c), one trial's training with
 * the sick-trial detectors and the rung reports (tune.c) and the trial runner
 * interface with its local process pool (tune_runner.c) and Open MPI
 * (tune_mpi.c) implementations.  See docs/tune.md.
 *
 * The runner is the seam for ways of running trials: the stage only submits
 * trials, answers rung reports (w->decide) and waits for results; a runner
 * never touches the journal, the rung state or the report. */
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

typedef enum { DT_TRIAL_OK, DT_TRIAL_SICK, DT_TRIAL_FAILED, DT_TRIAL_PRUNED } dt_trial_status;

/* What a trial produced.  Plain bytes (no pointers): a forked worker sends
 * it through a pipe in one write. */
typedef struct dt_trial_result {
    int id;
    dt_trial_status status;
    char reason[256];                /* sick / failed: why (e.g. "loss exploded: ...") */
    double score;                    /* train_val error (classification error or MSE); NAN unless OK,
                                      * or PRUNED: the score at the rung it was stopped at */
    double val_loss;                 /* train_val mean loss (tie-break) */
    double first_loss, last_loss;    /* training loss: first step, mean of the last steps */
    long steps, budget;              /* steps run / planned */
    double seconds;
    int rung, epoch;                 /* PRUNED: the rung (0-based) and epoch it was stopped at */
} dt_trial_result;

const char *dt_trial_status_name(dt_trial_status s);
/* Ranking: OK before anything else, then lower score, then lower val_loss,
 * then lower id.  Negative when a ranks before b. */
int dt_trial_result_cmp(const dt_trial_result *a, const dt_trial_result *b);
/* Pruned trials among themselves: the furthest rung first, then the lower
 * score there (unscored last), then lower id (Optuna ranks pruned trials by
 * their last step, then the value there).  Negative when a ranks before b. */
int dt_trial_pruned_cmp(const dt_trial_result *a, const dt_trial_result *b);

/* ------------------------------------------------------ ASHA (pruning) */

/* A trial's train_val score at a rung epoch, sent to whoever holds the rung
 * state (the stage; a forked worker asks through its pipe, an MPI rank asks
 * rank 0).  Plain bytes. */
typedef struct dt_rung_report {
    int id, rung, epoch;
    double score, val_loss;
} dt_rung_report;

typedef enum { DT_RUNG_CONTINUE, DT_RUNG_PRUNE, DT_RUNG_WAIT } dt_rung_verdict;

/* The trial's side: blocks until the verdict (CONTINUE or PRUNE). */
typedef struct dt_rung_asker {
    dt_status (*ask)(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v);
    void *ctx;
} dt_rung_asker;

/* The stage's side, called by a runner with each report: CONTINUE, PRUNE or
 * WAIT (not decidable yet: the runner asks again after the next event). */
typedef dt_status (*dt_rung_decide_fn)(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v);

/* A decided rung report with its trial (a journal line). */
typedef struct dt_rung_entry {
    dt_trial t;
    dt_rung_report rep;
    dt_rung_verdict verdict;
} dt_rung_entry;

/* The rung state, held by the stage.  Rungs are at epochs min_r * eta^k
 * below the trial's epochs.  The verdict for trial i at rung k compares its
 * (score, val_loss) with those of the trials j < i at rung k (Optuna's
 * successive-halving rule: it continues when it ranks within the top
 * max(1, floor(n / eta)) of the n scores, its own included), and waits until
 * every j < i has reported at k or ended: so the verdicts are those of a
 * sequential run, whatever runner, number of workers or timing — and the
 * same again after a resume. */
#define DT_ASHA_MAX_RUNGS 24
typedef struct dt_asha {
    int eta, min_r, trials;
    double *score, *loss;            /* [trials * DT_ASHA_MAX_RUNGS] */
    signed char *verdict;            /* -1: no report; else a dt_rung_verdict */
    int *epoch;
} dt_asha;

dt_status dt_asha_init(dt_asha *a, const dt_config *cfg, int trials);
void dt_asha_free(dt_asha *a);
/* The rung (0-based) at `epoch` of a trial planned for `epochs`, or -1. */
int dt_asha_rung_at(const dt_config *cfg, int epoch, int epochs);
/* The verdict for rep from the state; *recorded 1 when rep's (id, rung) was
 * already decided (then *v is that verdict).  done[j]: trial j has ended. */
dt_rung_verdict dt_asha_decide(const dt_asha *a, const dt_rung_report *rep, const int *done, int *recorded);
void dt_asha_record(dt_asha *a, const dt_rung_report *rep, dt_rung_verdict v);

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
 * around the top_k OK trials (fewer than top_k: pruned ones fill up, by
 * dt_trial_pruned_cmp), in log units for log_uniform, widened by a margin
 * and clipped to `prev`; choices narrow to those seen in the top_k.  With
 * no OK or pruned trial the ranges stay as they are. */
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
                               const dt_trial *trials, const dt_trial_result *results, int n,
                               const dt_rung_entry *rungs, int n_rungs);
dt_status dt_tune_journal_append(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                 const dt_trial *t, const dt_trial_result *r);
/* ASHA's rung reports, one line each ({"rung": k, "epoch": e, "score": ...,
 * "verdict": "continue" | "prune"} with the trial's id, round and params),
 * appended and fsync'd before the verdict is sent: the journal holds the
 * rung state. */
dt_status dt_tune_journal_read_rungs(const char *path, const dt_config *cfg, uint64_t config_hash, dt_rung_entry *out,
                                     int cap, int *n);
dt_status dt_tune_journal_append_rung(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                      const dt_rung_entry *e);
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
 * a config the trial cannot apply is a FAILED result instead).  With an
 * asker and stages.tune.pruner asha, the trial reports its train_val score
 * at each rung epoch (from dt_model_fit's epoch hook) and stops as PRUNED
 * when told to. */
dt_status dt_tune_run_trial(const dt_tune_job *job, const dt_trial *t, const dt_rung_asker *ask,
                            dt_trial_result *r);

/* --------------------------------------------------------- the runner */

typedef dt_status (*dt_trial_fn)(void *ctx, const dt_trial *t, const dt_rung_asker *ask, dt_trial_result *r);

/* What a runner runs: fn trains a trial (in a worker); decide answers its
 * rung reports (in the parent, with the stage's rung state; NULL: no
 * pruning). */
typedef struct dt_trial_work {
    dt_trial_fn fn;
    void *ctx;
    dt_rung_decide_fn decide;
    void *decide_ctx;
} dt_trial_work;

/* Hands out trials and returns their results in completion order. */
typedef struct dt_trial_runner {
    void *impl;
    int slots;                       /* trials that may run at once */
    /* Starts t (the caller submits at most `slots` trials before a wait_any). */
    dt_status (*submit)(struct dt_trial_runner *self, const dt_trial *t);
    /* Blocks until a submitted trial finishes (answering rung reports on the
     * way); DT_EINTERNAL when none is running. */
    dt_status (*wait_any)(struct dt_trial_runner *self, dt_trial_result *out);
    int (*running)(struct dt_trial_runner *self);
    /* Stops (kills) anything still running and frees the runner. */
    void (*close)(struct dt_trial_runner *self);
} dt_trial_runner;

/* A runner's side of one rung report: asks w->decide; a WAIT verdict keeps
 * the report held in h (the runner asks again after its next event).  *v is
 * the verdict to send the trial unless it is WAIT. */
typedef struct dt_rung_hold {
    int waiting;
    dt_rung_report rep;
} dt_rung_hold;
dt_status dt_rung_hold_ask(const dt_trial_work *w, dt_rung_hold *h, const dt_rung_report *rep, dt_rung_verdict *v);

/* The local runner.  jobs == 1: trials run in this process, one at a time,
 * when wait_any is called.  jobs > 1: a process pool — each trial runs in a
 * forked child that sets one BLAS thread, calls fn, writes the result to a
 * pipe and leaves with _exit (the one place the library ends a process: it
 * is the child's own, and _exit skips the parent's atexit handlers and
 * stdio buffers).  A child that dies gives a FAILED result.  A child's rung
 * report goes up its result pipe and the verdict comes back down a second
 * pipe; a WAIT verdict is held and asked again after every later event. */
dt_status dt_trial_runner_local(dt_trial_runner *r, int jobs, const dt_trial_work *w);

/* The MPI runner (tune_mpi.c, built when Open MPI is installed), on rank 0:
 * one slot per other rank; trials, rung reports, verdicts and results travel
 * as plain bytes.  dt_tune_mpi_serve runs on the other ranks: it trains
 * what rank 0 sends until told to stop.  config_hash: every rank must have
 * read the same config (a rank with another fails the job). */
dt_status dt_trial_runner_mpi(dt_trial_runner *r, const dt_trial_work *w, uint64_t config_hash);
dt_status dt_tune_mpi_serve(const dt_trial_work *w, uint64_t config_hash);

#endif
