/* The sampler seam of the tune stage: what the next trial's values are.
 *
 * A sampler sees the space (cfg), the trials before the one it proposes,
 * in id order — each finished (with its result) or still running (params
 * only) — and returns the trial's values, or "not yet" when the trial
 * depends on results that are still out.  It never runs or journals
 * anything.  Two samplers (stages.tune.sampler, docs/tune.md):
 *   random  coarse-to-fine random rounds (tune_space.c): trial `id` of
 *           round r is ready once every earlier round has finished;
 *   tpe     Tree-structured Parzen Estimator in the manner of Optuna's
 *           (tune_tpe.c), with a constant liar for running trials. */
#ifndef DT_TUNE_SAMPLER_H
#define DT_TUNE_SAMPLER_H

#include "tune_runner.h"

/* The trials a proposal for trial `n` may look at: ids 0..n-1. */
typedef struct dt_tune_history {
    int n;
    const dt_trial *t;               /* [n] params (finished or running) */
    const dt_trial_result *r;        /* [n] results; read where done[i] */
    const int *done;                 /* [n] 1: finished */
} dt_tune_history;

typedef struct dt_tune_sampler {
    const dt_config *cfg;
    int trials, rounds;              /* random: trials spread over rounds (tpe: rounds 1) */
    /* tpe: trial k sees the results of trials 0..k-lag only; k-lag+1..k-1
     * count as running even when they have finished, so the proposal does
     * not depend on which of the last `lag` trials came back first.  The
     * stage sets lag to the runner's slots: reproducible for a given number
     * of workers (and lag 1 is plain sequential TPE). */
    int lag;
    dt_tune_ranges *ranges;          /* [rounds], owned by the caller: each round's ranges */
    int ranges_set;                  /* rounds whose ranges are known */
} dt_tune_sampler;

/* ranges: the caller's [rounds] array (the report lists it). */
void dt_tune_sampler_init(dt_tune_sampler *s, const dt_config *cfg, int trials, int rounds, dt_tune_ranges *ranges);
/* Rounds of the sampler's study: stages.tune.rounds (at most trials) for
 * random, 1 for tpe. */
int dt_tune_sampler_rounds(const dt_config *cfg, int trials);
/* Proposes trial h->n into *out: 1 when proposed, 0 when it must wait for
 * a running trial (random: an earlier round; tpe: trial n - lag).  A
 * proposal depends only on the seed, the id and h (ids < n): so the same
 * history gives the same values. */
int dt_tune_propose(dt_tune_sampler *s, const dt_tune_history *h, dt_trial *out);

/* 1 when every value of t lies in the space (a journal entry that can be
 * reused as it is). */
int dt_tune_in_space(const dt_config *cfg, const dt_trial *t);

/* TPE's proposal for trial h->n given the finished trials 0..h->n - lag and
 * the running rest (tune_tpe.c; dt_tune_propose calls it once trial
 * n - lag has finished and n >= stages.tune.startup_trials). */
void dt_tune_tpe_propose(const dt_config *cfg, const dt_tune_history *h, int lag, dt_trial *out);

/* The kernel widths of one numeric key's Parzen estimator: sigma[j] for the
 * trial values mu[0..m) on the sampled axis within [lo, hi], and sigma[m]
 * for the prior (Optuna's univariate rule; tune_tpe.c).  -1 when out of
 * memory. */
int dt_tpe_sigmas(const double *mu, int m, double lo, double hi, double *sigma);

#endif
