/* ASHA's rung state and its promotion rule (see tune_runner.h and
 * docs/tune.md "ASHA pruning").
 *
 * The rule is Optuna's SuccessiveHalvingPruner's (itself ASHA, Li et al.
 * 2020): with the n scores at a rung, the trial's own included, it continues
 * when it ranks within the top max(1, floor(n / eta)).  What differs is
 * which scores count: those of the trials with a lower id, once all of them
 * have reported at the rung or ended.  In a sequential run that is exactly
 * "the scores recorded at that rung so far"; in a parallel one a trial may
 * wait at a rung for an earlier trial still on its way there (at most the
 * trials running at the same time), and in exchange every verdict is a
 * function of the scores alone — the same for any runner, worker count or
 * timing, and the same after a resume. */
#include <stdlib.h>
#include <string.h>

#include "tune_runner.h"

dt_status dt_asha_init(dt_asha *a, const dt_config *cfg, int trials)
{
    memset(a, 0, sizeof *a);
    a->eta = cfg->stages.tune.reduction_factor;
    a->min_r = cfg->stages.tune.min_resource;
    a->trials = trials;
    size_t n = (size_t)(trials > 0 ? trials : 1) * DT_ASHA_MAX_RUNGS;
    a->score = malloc(n * sizeof *a->score);
    a->loss = malloc(n * sizeof *a->loss);
    a->epoch = malloc(n * sizeof *a->epoch);
    a->verdict = malloc(n);
    if (!a->score || !a->loss || !a->epoch || !a->verdict) {
        dt_asha_free(a);
        return dt_fail(DT_ENOMEM, "tune: out of memory for the ASHA rungs");
    }
    memset(a->verdict, -1, n);
    return DT_OK;
}

void dt_asha_free(dt_asha *a)
{
    free(a->score);
    free(a->loss);
    free(a->epoch);
    free(a->verdict);
    memset(a, 0, sizeof *a);
}

int dt_asha_rung_at(const dt_config *cfg, int epoch, int epochs)
{
    long r = cfg->stages.tune.min_resource, eta = cfg->stages.tune.reduction_factor;
    if (eta < 2) return -1;
    /* The last epoch is no rung: the trial has finished there. */
    for (int k = 0; k < DT_ASHA_MAX_RUNGS && r < epochs; k++, r *= eta)
        if (r == epoch) return k;
    return -1;
}

/* (score, val_loss): the train_val error, its loss breaking ties (errors
 * move in steps on small splits). */
static int worse(double s, double l, double s2, double l2) { return s > s2 || (s == s2 && l > l2); }

dt_rung_verdict dt_asha_decide(const dt_asha *a, const dt_rung_report *rep, const int *done, int *recorded)
{
    size_t at = (size_t)rep->id * DT_ASHA_MAX_RUNGS + (size_t)rep->rung;
    *recorded = a->verdict[at] >= 0;
    if (*recorded) return (dt_rung_verdict)a->verdict[at];
    int n = 1, better = 0;
    for (int j = 0; j < rep->id; j++) {
        size_t q = (size_t)j * DT_ASHA_MAX_RUNGS + (size_t)rep->rung;
        if (a->verdict[q] < 0) {
            if (!done[j]) return DT_RUNG_WAIT;
            continue;   /* ended before this rung */
        }
        n++;
        better += worse(rep->score, rep->val_loss, a->score[q], a->loss[q]);
    }
    int keep = n / a->eta;
    if (keep < 1) keep = 1;
    return better < keep ? DT_RUNG_CONTINUE : DT_RUNG_PRUNE;
}

void dt_asha_record(dt_asha *a, const dt_rung_report *rep, dt_rung_verdict v)
{
    if (rep->id < 0 || rep->id >= a->trials || rep->rung < 0 || rep->rung >= DT_ASHA_MAX_RUNGS) return;
    size_t at = (size_t)rep->id * DT_ASHA_MAX_RUNGS + (size_t)rep->rung;
    a->score[at] = rep->score;
    a->loss[at] = rep->val_loss;
    a->epoch[at] = rep->epoch;
    a->verdict[at] = (signed char)v;
}
