/* tune: coarse-to-fine random search over stages.tune.space (Tobin: "random
 * search, coarse to fine"), with sick trials stopped early, trials run in
 * parallel processes, a crash-safe journal and resume.  See docs/tune.md.
 *
 * Sick-trial detectors are implemented here (include/dnntrouble/diag.h did
 * not exist when this was written): NaN/Inf loss, exploding loss (> 10x the
 * first step's), loss not decreasing after 30% of the budget (running loss
 * >= 0.99x the first), vanishing gradients (AUTOTRAINER: first/last layer
 * gradient-norm ratio < 1e-3 and first-layer norm < 1e-4). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "common.h"
#include "tune_runner.h"
#include "tune_sampler.h"

#define SICK_EXPLODE_FACTOR 10.0
#define SICK_WARMUP_FRACTION 0.3
#define SICK_PLATEAU_FACTOR 0.99
#define SICK_VANISH_RATIO 1e-3
#define SICK_VANISH_FIRST 1e-4
#define LOSS_RING 64
#define EDGE_FRACTION 0.05

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ one trial */

/* First and last weight matrices (ndim >= 2), whose gradient norms the
 * vanishing-gradient detector compares. */
static void edge_weights(const dt_graph *g, const dt_node **first, const dt_node **last)
{
    *first = *last = NULL;
    for (int i = 0; i < g->n_params; i++) {
        if (g->params[i]->ndim < 2) continue;
        if (!*first) *first = g->params[i];
        *last = g->params[i];
    }
}

static double grad_norm(const dt_graph *g, const dt_node *p)
{
    size_t n = 1;
    for (int i = 0; i < p->ndim; i++) n *= (size_t)p->shape[i];
    return dt_l2_norm(g->param_grad + p->param_offset, n);
}

#define SET_SICK(r, ...)                                          \
    do {                                                          \
        (r)->status = DT_TRIAL_SICK;                              \
        snprintf((r)->reason, sizeof (r)->reason, __VA_ARGS__);   \
    } while (0)

/* The sick-trial detectors, run after every training step of a trial. */
typedef struct sick_watch {
    dt_trial_result *r;
    const dt_node *gf, *gl;    /* first and last weight matrices */
    long check_at;             /* the plateau check's step */
    double ring[LOSS_RING];    /* the last losses */
} sick_watch;

/* Step hook: records the loss and stops the fit at the first sick sign. */
static int sick_step(void *ctx, const dt_fit_step *fs)
{
    sick_watch *w = ctx;
    dt_trial_result *r = w->r;
    long s = fs->step, total = fs->steps;
    float loss = fs->loss;
    r->steps = s;
    w->ring[(s - 1) % LOSS_RING] = loss;
    if (s == 1) r->first_loss = loss;
    if (!isfinite(loss)) {
        SET_SICK(r, "loss became %g at step %ld of %ld", (double)loss, s, total);
        return 1;
    }
    if (r->first_loss > 0 && loss > SICK_EXPLODE_FACTOR * r->first_loss) {
        SET_SICK(r, "loss exploded: %.4g > 10x the first step's %.4g at step %ld of %ld", (double)loss,
                 r->first_loss, s, total);
        return 1;
    }
    if (s == w->check_at && w->check_at >= 3) {
        long n = w->check_at / 3 < LOSS_RING ? w->check_at / 3 : LOSS_RING;
        double run = 0.0;
        for (long i = 0; i < n; i++) run += w->ring[(s - 1 - i) % LOSS_RING];
        run /= (double)n;
        if (run >= SICK_PLATEAU_FACTOR * r->first_loss) {
            SET_SICK(r, "loss not decreasing: running loss %.4g >= 0.99x the first step's %.4g after step %ld of %ld",
                     run, r->first_loss, s, total);
            return 1;
        }
    }
    const dt_graph *g = fs->m->g;
    if (s >= w->check_at && w->gf && w->gl && w->gf != w->gl) {
        double nf = grad_norm(g, w->gf), nl = grad_norm(g, w->gl);
        if (nl > 0 && nf / nl < SICK_VANISH_RATIO && nf < SICK_VANISH_FIRST) {
            SET_SICK(r, "vanishing gradients: |g %.32s|/|g %.32s| = %.3g < 1e-3, |g %.32s| = %.3g < 1e-4 at step %ld of %ld",
                     w->gf->name, w->gl->name, nf / nl, w->gf->name, nf, s, total);
            return 1;
        }
    }
    return 0;
}

/* ASHA's side of a trial: at each rung epoch, the train_val score goes to
 * the rung state's holder and the fit stops when the verdict is PRUNE. */
typedef struct rung_watch {
    const dt_config *c;
    const dt_data *d;
    dt_model *m;
    const dt_rung_asker *ask;
    dt_trial_result *r;
    int epochs;                /* planned */
    dt_status err;
} rung_watch;

static int rung_epoch(void *ctx, const dt_fit_epoch_info *e)
{
    rung_watch *w = ctx;
    int k = dt_asha_rung_at(w->c, e->epoch, w->epochs);
    if (k < 0) return 0;
    dt_eval ev = {0};
    if ((w->err = dt_model_evaluate(w->m, w->d, DT_SPLIT_TRAIN_VAL, &ev, NULL, NULL)) != DT_OK) return 1;
    dt_trial_result *r = w->r;
    if (!isfinite(ev.error) || !isfinite(ev.loss)) {
        SET_SICK(r, "train_val error is %g at epoch %d", ev.error, e->epoch);
        return 1;
    }
    /* Zeroed whole: the report travels as raw bytes (a pipe or MPI), and
     * an initialiser leaves the padding after `epoch` undefined. */
    dt_rung_report rep;
    memset(&rep, 0, sizeof rep);
    rep.id = r->id;
    rep.rung = k;
    rep.epoch = e->epoch;
    rep.score = ev.error;
    rep.val_loss = ev.loss;
    dt_rung_verdict v;
    if ((w->err = w->ask->ask(w->ask->ctx, &rep, &v)) != DT_OK) return 1;
    if (v != DT_RUNG_PRUNE) return 0;
    r->status = DT_TRIAL_PRUNED;
    r->rung = k;
    r->epoch = e->epoch;
    r->score = ev.error;
    r->val_loss = ev.loss;
    snprintf(r->reason, sizeof r->reason, "pruned at rung %d (epoch %d of %d): train_val error %.4g not in the top 1/%d",
             k, e->epoch, w->epochs, ev.error, w->c->stages.tune.reduction_factor);
    return 1;
}

/* Trains the trial's model for its budget (dt_model_fit), stopping at the
 * first sick sign (and, with an asker, when pruned at a rung).  Without `hist` no validation runs; with it (the best
 * trial's retrain) train_val is evaluated after every epoch for the curves
 * only: no early stopping and no restore, and evaluation draws no random
 * numbers, so the weights are the same as without. */
static dt_status train_trial(dt_model *m, const dt_data *d, const dt_config *c, long total, dt_trial_result *r,
                             const dt_rung_asker *ask, dt_fit_result *hist)
{
    sick_watch w = {.r = r, .check_at = (long)ceil(SICK_WARMUP_FRACTION * (double)total)};
    edge_weights(m->g, &w.gf, &w.gl);
    r->first_loss = NAN;
    dt_fit_opts fo = dt_stage_fit_opts_cfg(c, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN);
    fo.max_steps = total;
    fo.restore_best = 0;
    fo.on_step = sick_step;
    fo.ctx = &w;
    if (hist) {
        fo.val_split = DT_SPLIT_TRAIN_VAL;
        fo.patience = 0;
    }
    long per_epoch = dt_steps_per_epoch(dt_data_split_size(d, DT_SPLIT_TRAIN), (size_t)c->train.batch_size);
    rung_watch rw = {c, d, m, ask, r, (int)((total + per_epoch - 1) / per_epoch), DT_OK};
    if (ask && c->stages.tune.pruner == DT_PRUNER_ASHA) {
        fo.on_epoch = rung_epoch;
        fo.epoch_ctx = &rw;
    }
    dt_fit_result fr;
    dt_status st = dt_stage_fit(c, d, m, &fo, &fr);
    if (!st) st = rw.err;
    if (hist) *hist = fr;
    r->steps = fr.steps;
    long tail = r->steps < 20 ? r->steps : 20;
    double sum = 0.0;
    for (long i = 0; i < tail; i++) sum += w.ring[(r->steps - 1 - i) % LOSS_RING];
    r->last_loss = tail > 0 ? sum / (double)tail : NAN;
    return st;
}

/* The trial's config: the base with the trial's values and the tune budget. */
static dt_status trial_config(const dt_config *base, const dt_trial *t, dt_config *c)
{
    dt_status st = dt_tune_apply(c, base, t);
    if (st) return st;
    if (base->stages.tune.epochs > 0) c->train.epochs = base->stages.tune.epochs;
    return DT_OK;
}

/* Runs one trial; keeps the trained model in *keep and its fit (with the
 * train_val curve) in *hist when asked (the final retrain). */
static dt_status run_trial(const dt_tune_job *job, const dt_trial *t, const dt_rung_asker *ask, dt_trial_result *r,
                           dt_model **keep, dt_fit_result *hist)
{
    double t0 = now_s();
    memset(r, 0, sizeof *r);
    r->id = t->id;
    r->status = DT_TRIAL_OK;
    r->score = r->val_loss = r->first_loss = r->last_loss = NAN;
    r->rung = r->epoch = -1;
    dt_config *c = malloc(sizeof *c);
    if (!c) return dt_fail(DT_ENOMEM, "tune: out of memory");
    dt_model *m = NULL;
    dt_status st = trial_config(job->base, t, c);
    if (!st) st = dt_stage_build_model(c, job->data, c->train.batch_size, &m);
    if (st) {
        /* A value the model cannot take (e.g. a shape that does not fit) fails the trial, not the search. */
        r->status = DT_TRIAL_FAILED;
        snprintf(r->reason, sizeof r->reason, "%s", dt_last_error());
        free(c);
        r->seconds = now_s() - t0;
        return st == DT_ENOMEM ? st : DT_OK;
    }
    r->budget = dt_fit_steps(dt_data_split_size(job->data, DT_SPLIT_TRAIN), (size_t)c->train.batch_size,
                             c->train.epochs, c->train.max_steps);
    st = train_trial(m, job->data, c, r->budget, r, ask, hist);
    if (!st && r->status == DT_TRIAL_OK) {
        dt_eval ev = {0};
        st = dt_model_evaluate(m, job->data, DT_SPLIT_TRAIN_VAL, &ev, NULL, NULL);
        if (!st) {
            r->score = ev.error;
            r->val_loss = ev.loss;
            if (!isfinite(ev.error)) {
                r->status = DT_TRIAL_SICK;
                snprintf(r->reason, sizeof r->reason, "train_val error is %g after training", ev.error);
            }
        }
    }
    if (keep && !st) *keep = m;
    else dt_model_free(m);
    free(c);
    r->seconds = now_s() - t0;
    return st;
}

dt_status dt_tune_run_trial(const dt_tune_job *job, const dt_trial *t, const dt_rung_asker *ask,
                            dt_trial_result *r)
{
    return run_trial(job, t, ask, r, NULL, NULL);
}

static dt_status trial_fn(void *ctx, const dt_trial *t, const dt_rung_asker *ask, dt_trial_result *r)
{
    return dt_tune_run_trial(ctx, t, ask, r);
}

/* ------------------------------------------------------------ the search */

typedef struct search {
    dt_config *cfg;
    int trials, rounds;
    dt_trial *t;               /* [trials] by id */
    dt_trial_result *r;        /* [trials] by id */
    int *done;                 /* [trials] 1: finished (this run or the journal) */
    int *resumed;              /* [trials] 1: taken from the journal */
    dt_tune_ranges *ranges;    /* [rounds] */
    dt_tune_sampler sampler;   /* what the next trial's values are (tune_sampler.h) */
    int slots;                 /* trials trained at once (the runner's) */
    int pruning;               /* stages.tune.pruner asha: asha holds the rung state */
    dt_asha asha;
} search;

/* Trial id's values from the sampler, seeing trials 0..id-1; 0 while it
 * must wait for one of them. */
static int propose(search *s, int id)
{
    dt_tune_history h = {.n = id, .t = s->t, .r = s->r, .done = s->done};
    return dt_tune_propose(&s->sampler, &h, &s->t[id]);
}

/* The journal's rung reports of the trials taken from it (the same params)
 * become the rung state; they are kept in *n entries of e (compacted).  A
 * trial that was still running is re-run and reports again (the verdicts
 * are a function of the scores, so they come out the same). */
static void match_rungs(search *s, dt_rung_entry *e, int *n)
{
    int kept = 0;
    for (int i = 0; i < *n; i++) {
        int id = e[i].rep.id;
        if (id < 0 || id >= s->trials || !s->resumed[id] || !dt_trial_same_params(s->cfg, &e[i].t, &s->t[id])) continue;
        dt_asha_record(&s->asha, &e[i].rep, e[i].verdict);
        e[kept++] = e[i];
    }
    *n = kept;
}

/* The stage's answer to a rung report (any runner): the verdict from the
 * rung state, journalled before it is sent. */
typedef struct rung_io {
    search *s;
    dt_tune_journal *j;
    uint64_t hash;
} rung_io;

static dt_status rung_decide(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v)
{
    rung_io *io = ctx;
    search *s = io->s;
    if (rep->id < 0 || rep->id >= s->trials || s->done[rep->id] || rep->rung < 0 || rep->rung >= DT_ASHA_MAX_RUNGS)
        return dt_fail(DT_EINTERNAL, "tune: a rung report for trial %d at rung %d", rep->id, rep->rung);
    int recorded;
    *v = dt_asha_decide(&s->asha, rep, s->done, &recorded);
    if (recorded || *v == DT_RUNG_WAIT) return DT_OK;
    dt_rung_entry e = {s->t[rep->id], *rep, *v};
    dt_status st = dt_tune_journal_append_rung(io->j, s->cfg, io->hash, &e);
    if (!st) dt_asha_record(&s->asha, rep, *v);
    return st;
}

/* Matches journal entries to the trials of this config.  Random: an entry
 * counts when its id and params are what this config draws, and a later
 * round is only drawn when every trial of the earlier ones is known.  TPE:
 * a trial's values depend on the results before it (and on the number of
 * workers), so an entry of this config (same hash) counts as it is. */
static int match_journal(search *s, const dt_trial *jt, const dt_trial_result *jr, int jn)
{
    int matched = 0;
    if (s->cfg->stages.tune.sampler == DT_SAMPLER_TPE) {
        for (int j = 0; j < jn; j++) {
            int id = jt[j].id;
            if (id < 0 || id >= s->trials || s->done[id] || !dt_tune_in_space(s->cfg, &jt[j])) continue;
            s->t[id] = jt[j];
            s->r[id] = jr[j];
            s->done[id] = s->resumed[id] = 1;
            matched++;
        }
        return matched;
    }
    for (int id = 0; id < s->trials && propose(s, id); id++)
        for (int j = 0; j < jn && !s->done[id]; j++) {
            if (jt[j].id != id || !dt_trial_same_params(s->cfg, &jt[j], &s->t[id])) continue;
            s->r[id] = jr[j];
            s->done[id] = s->resumed[id] = 1;
            matched++;
        }
    return matched;
}

static void progress_trial(dt_stage_ctx *ctx, const search *s, const dt_trial_result *r)
{
    if (!ctx->progress) return;
    char label[64], note[256];
    snprintf(label, sizeof label, "tune trial %d/%d", r->id + 1, s->trials);
    if (r->status == DT_TRIAL_OK) snprintf(note, sizeof note, "train_val error %.4f", r->score);
    else snprintf(note, sizeof note, "%s: %.200s", dt_trial_status_name(r->status), r->reason);
    dt_progress_done(ctx->progress, label, note, r->seconds);
}

static dt_status run_search(dt_stage_ctx *ctx, search *s, dt_tune_journal *j, uint64_t hash, const dt_tune_job *job,
                            int *ran)
{
    dt_trial_runner runner;
    rung_io io = {s, j, hash};
    dt_trial_work w = {trial_fn, (void *)job, s->pruning ? rung_decide : NULL, &io};
    dt_status st = ctx->mpi ? dt_trial_runner_mpi(&runner, &w, hash)
                            : dt_trial_runner_local(&runner, s->cfg->stages.tune.jobs, &w);
    if (st) return st;
    s->slots = runner.slots;
    *ran = 0;
    s->sampler.lag = runner.slots;
    /* Trials are handed out in id order (skipping those from the journal),
     * each as soon as a slot is free and the sampler can propose it. */
    int next = 0;
    for (;;) {
        while (next < s->trials && s->done[next]) next++;
        if (next < s->trials && runner.running(&runner) < runner.slots && propose(s, next)) {
            st = runner.submit(&runner, &s->t[next]);
            if (st) break;
            next++;
            continue;
        }
        if (runner.running(&runner) == 0) {
            if (next < s->trials) st = dt_fail(DT_EINTERNAL, "tune: the sampler cannot propose trial %d", next);
            break;
        }
        dt_trial_result res;
        st = runner.wait_any(&runner, &res);
        if (st) break;
        if (res.id < 0 || res.id >= next || s->done[res.id]) {
            st = dt_fail(DT_EINTERNAL, "tune: result for unexpected trial %d", res.id);
            break;
        }
        /* Journal first: a trial counts as finished only once it is on disk. */
        st = dt_tune_journal_append(j, s->cfg, hash, &s->t[res.id], &res);
        if (st) break;
        s->r[res.id] = res;
        s->done[res.id] = 1;
        (*ran)++;
        progress_trial(ctx, s, &res);
    }
    runner.close(&runner);
    openblas_set_num_threads(s->cfg->threads > 0 ? s->cfg->threads : 1);
    return st;
}

/* ------------------------------------------------------------- reporting */

static cJSON *params_json(const dt_config *cfg, const dt_trial *t)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        if (p->kind == DT_SPACE_CHOICE) cJSON_AddStringToObject(o, p->key, p->choices[t->choice[i]]);
        else cJSON_AddNumberToObject(o, p->key, t->num[i]);
    }
    return o;
}

static cJSON *ranges_json(const dt_config *cfg, const dt_tune_ranges *rg)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < rg->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        cJSON *a = cJSON_CreateArray();
        if (p->kind == DT_SPACE_CHOICE) {
            for (int c = 0; c < p->n_choices; c++)
                if (rg->r[i].allowed[c]) cJSON_AddItemToArray(a, cJSON_CreateString(p->choices[c]));
        } else {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(rg->r[i].lo));
            cJSON_AddItemToArray(a, cJSON_CreateNumber(rg->r[i].hi));
        }
        cJSON_AddItemToObject(o, p->key, a);
    }
    return o;
}

/* Score in the units of target.metric (error, or accuracy = 1 - error). */
static double score_of(const dt_config *cfg, const dt_data *d, double error)
{
    return cfg->target.metric == DT_TARGET_ACCURACY && d->task == DT_TASK_CLASSIFICATION ? 1.0 - error : error;
}

static void report_rounds(dt_report *rep, const search *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (int round = 0; round < s->rounds; round++) {
        int a = dt_tune_round_start(s->trials, s->rounds, round), n = dt_tune_round_size(s->trials, s->rounds, round);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "round", round + 1);
        cJSON_AddNumberToObject(o, "trials", n);
        cJSON_AddNumberToObject(o, "first_trial", a);
        cJSON_AddItemToObject(o, "ranges", ranges_json(s->cfg, &s->ranges[round]));
        int best = -1;
        for (int id = a; id < a + n; id++)
            if (s->done[id] && s->r[id].status == DT_TRIAL_OK && (best < 0 || dt_trial_result_cmp(&s->r[id], &s->r[best]) < 0))
                best = id;
        if (best >= 0) cJSON_AddNumberToObject(o, "best_train_val_error", s->r[best].score);
        else cJSON_AddNullToObject(o, "best_train_val_error");
        cJSON_AddItemToArray(arr, o);
    }
    dt_report_metric_json(rep, "rounds", arr);
}

static void report_importance(dt_report *rep, const search *s)
{
    int ns = s->cfg->stages.tune.n_space;
    double r2[DT_MAX_SPACE], share[DT_MAX_SPACE];
    dt_tune_importance(s->cfg, s->t, s->r, s->trials, r2, share);
    int order[DT_MAX_SPACE];
    for (int i = 0; i < ns; i++) order[i] = i;
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && share[order[j]] > share[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < ns; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", s->cfg->stages.tune.space[order[i]].key);
        cJSON_AddNumberToObject(o, "r2", r2[order[i]]);
        cJSON_AddNumberToObject(o, "share", share[order[i]]);
        cJSON_AddItemToArray(arr, o);
    }
    dt_report_metric_json(rep, "importance", arr);
}

static void report_sick(dt_report *rep, const search *s)
{
    int counts[4] = {0}, sick = 0, failed = 0;
    cJSON *arr = cJSON_CreateArray();
    for (int id = 0; id < s->trials; id++) {
        const dt_trial_result *r = &s->r[id];
        if (!s->done[id] || r->status == DT_TRIAL_OK) continue;
        if (r->status == DT_TRIAL_SICK) {
            sick++;
            counts[strstr(r->reason, "exploded") ? 1 : strstr(r->reason, "not decreasing") ? 2
                   : strstr(r->reason, "vanishing") ? 3 : 0]++;
        } else if (r->status == DT_TRIAL_FAILED) {
            failed++;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "trial", id);
        cJSON_AddStringToObject(o, "status", dt_trial_status_name(r->status));
        cJSON_AddStringToObject(o, "reason", r->reason);
        cJSON_AddNumberToObject(o, "steps", (double)r->steps);
        cJSON_AddNumberToObject(o, "budget", (double)r->budget);
        if (r->status == DT_TRIAL_PRUNED) {
            /* Stopped by the pruner, not for a fault: its rung and the score there. */
            cJSON_AddNumberToObject(o, "rung", r->rung);
            cJSON_AddNumberToObject(o, "epoch", r->epoch);
            cJSON_AddNumberToObject(o, "score", r->score);
        }
        cJSON_AddItemToArray(arr, o);
    }
    dt_report_metric_json(rep, "stopped_trials", arr);
    if (sick > 0) {
        dt_finding *f = dt_report_finding(rep, "tune-sick-trials", DT_SEV_INFO,
                                          "%d of %d trials were stopped early as sick (see stopped_trials)", sick,
                                          s->trials);
        dt_finding_evidence(f, "sick", sick);
        dt_finding_evidence(f, "nan_or_inf", counts[0]);
        dt_finding_evidence(f, "exploding", counts[1]);
        dt_finding_evidence(f, "not_decreasing", counts[2]);
        dt_finding_evidence(f, "vanishing_gradients", counts[3]);
        if (counts[0] + counts[1] > 0)
            dt_finding_suggest(f, "lower the upper bound of the learning rate range (or add train.clip_grad_norm)");
        if (counts[2] > 0) dt_finding_suggest(f, "raise the lower bound of the learning rate range or the budget");
        if (counts[3] > 0) dt_finding_suggest(f, "use ReLU, batch norm or a smaller depth to keep gradients flowing");
    }
    if (failed > 0) {
        dt_finding *f = dt_report_finding(rep, "tune-failed-trials", DT_SEV_WARNING,
                                          "%d of %d trials failed (see stopped_trials)", failed, s->trials);
        dt_finding_evidence(f, "failed", failed);
        dt_finding_suggest(f, "check the space: some values cannot be applied or crash training");
    }
}

/* Tobin: when the best value sits at the edge of the range, widen the range. */
static void report_edges(dt_report *rep, const dt_config *cfg, const dt_trial *best)
{
    for (int i = 0; i < best->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        if (p->kind == DT_SPACE_CHOICE || p->kind == DT_SPACE_INT) continue;
        double lo = p->kind == DT_SPACE_LOG_UNIFORM ? log(p->lo) : p->lo;
        double hi = p->kind == DT_SPACE_LOG_UNIFORM ? log(p->hi) : p->hi;
        double v = p->kind == DT_SPACE_LOG_UNIFORM ? log(best->num[i]) : best->num[i];
        if (hi <= lo) continue;
        double pos = (v - lo) / (hi - lo);
        if (pos > EDGE_FRACTION && pos < 1.0 - EDGE_FRACTION) continue;
        dt_finding *f = dt_report_finding(rep, "tune-best-at-edge", DT_SEV_WARNING,
                                          "best %s = %g lies at the %s edge of the searched range [%g, %g]", p->key,
                                          best->num[i], pos <= EDGE_FRACTION ? "lower" : "upper", p->lo, p->hi);
        dt_finding_evidence(f, "value", best->num[i]);
        dt_finding_evidence(f, "lo", p->lo);
        dt_finding_evidence(f, "hi", p->hi);
        dt_finding_evidence(f, "position", pos);
        dt_finding_suggest(f, "extend the range of %s past this edge and tune again", p->key);
    }
}

/* Tobin: "start with the ones you know matter, batch size and learning
 * rate": with no space given, the learning rate over a decade each side of
 * lr-find's suggestion in this run (else of the configured lr) and half /
 * the same / double the batch size.  Written into the config, so the
 * resolved config in the report shows it. */
static dt_status default_search_space(dt_config *cfg, double lr_suggested)
{
    char v[160];
    double lr = lr_suggested > 0 ? lr_suggested : cfg->train.lr;
    int b = cfg->train.batch_size;
    snprintf(v, sizeof v, "{log_uniform: [%.17g, %.17g]}", lr / 10, lr * 10);
    dt_status st = dt_config_set(cfg, "stages.tune.space.train.lr", v);
    if (st) return st;
    if (b >= 2) snprintf(v, sizeof v, "{choice: [%d, %d, %d]}", b / 2, b, 2 * b);
    else snprintf(v, sizeof v, "{choice: [1, 2]}");
    return dt_config_set(cfg, "stages.tune.space.train.batch_size", v);
}

/* Re-trains the best trial, scores it on train_val, test_val and test, and
 * writes best.yaml. */
static dt_status finish_best(dt_stage_ctx *ctx, dt_report *rep, const search *s, const dt_tune_job *job, int best)
{
    dt_model *m = NULL;
    dt_trial_result rr;
    dt_fit_result *fr = calloc(1, sizeof *fr);
    if (!fr) return dt_fail(DT_ENOMEM, "tune: out of memory");
    dt_status st = run_trial(job, &s->t[best], NULL, &rr, &m, fr);
    if (st) {
        free(fr);
        return st;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trial", best);
    cJSON_AddNumberToObject(o, "round", s->t[best].round + 1);
    cJSON_AddItemToObject(o, "params", params_json(s->cfg, &s->t[best]));
    cJSON_AddNumberToObject(o, "score", score_of(s->cfg, job->data, s->r[best].score));
    cJSON_AddStringToObject(o, "score_metric",
                            s->cfg->target.metric == DT_TARGET_ACCURACY && job->data->task == DT_TASK_CLASSIFICATION
                                ? "train_val_accuracy"
                                : "train_val_error");
    cJSON_AddNumberToObject(o, "train_val_error", s->r[best].score);
    if (m) {
        static const dt_split_id splits[2] = {DT_SPLIT_TEST_VAL, DT_SPLIT_TEST};
        static const char *names[2] = {"test_val_error", "test_error"};
        for (int i = 0; i < 2 && !st; i++) {
            dt_eval ev = {0};
            if (dt_data_split_size(job->data, splits[i]) == 0) continue;
            st = dt_model_evaluate(m, job->data, splits[i], &ev, NULL, NULL);
            if (!st) cJSON_AddNumberToObject(o, names[i], ev.error);
        }
        dt_model_free(m);
    }
    cJSON_AddNumberToObject(o, "retrain_train_val_error", rr.score);
    if (fr->n_history) cJSON_AddItemToObject(o, "history", dt_stage_history_json(fr, DT_SPLIT_TRAIN_VAL));
    free(fr);
    dt_report_metric_json(rep, "best", o);
    if (st) return st;
    /* best.yaml: the full config with the best values (the user's train budget, not the tune budget). */
    dt_config *bc = malloc(sizeof *bc);
    if (!bc) return dt_fail(DT_ENOMEM, "tune: out of memory");
    st = dt_tune_apply(bc, s->cfg, &s->t[best]);
    /* best.yaml holds the expanded layers; a searched preset key (model.hidden)
     * is fixed in them now, so it leaves the space (a file may not give both). */
    if (!st) st = dt_stage_resolve_model(bc, job->data);
    if (!st && bc->model.desc.n_layers) {
        int k = 0;
        for (int i = 0; i < bc->stages.tune.n_space; i++)
            if (!dt_config_is_preset_key(bc->stages.tune.space[i].key)) bc->stages.tune.space[k++] = bc->stages.tune.space[i];
        bc->stages.tune.n_space = k;
    }
    char path[1300];
    snprintf(path, sizeof path, "%s/best.yaml", ctx->out_dir);
    if (!st) st = dt_config_write_yaml(bc, path);
    free(bc);
    if (!st) dt_report_artifact(rep, "best", "best.yaml");
    report_edges(rep, s->cfg, &s->t[best]);
    return st;
}

dt_status dt_stage_tune(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    dt_config *cfg = ctx->cfg;
    int default_space = cfg->stages.tune.n_space == 0;
    if (default_space && (st = default_search_space(cfg, ctx->lr_suggested))) return st;
    if (dt_data_split_size(d, DT_SPLIT_TRAIN_VAL) == 0)
        return dt_fail(DT_ECONFIG, "tune scores trials on the train_val split, which is empty: set "
                                   "data.splits.train_val > 0");
    if (ctx->mpi && ctx->mpi_rank > 0) {
        /* A worker rank: rank 0 runs the study and writes everything. */
        dt_tune_job wj = {.base = cfg, .data = d};
        dt_trial_work w = {trial_fn, &wj, NULL, NULL};
        return dt_tune_mpi_serve(&w, dt_tune_config_hash(cfg));
    }
    search s = {0};
    s.cfg = cfg;
    s.trials = cfg->stages.tune.trials;
    s.rounds = dt_tune_sampler_rounds(cfg, s.trials);
    s.t = calloc((size_t)s.trials, sizeof *s.t);
    s.r = calloc((size_t)s.trials, sizeof *s.r);
    s.done = calloc((size_t)s.trials, sizeof *s.done);
    s.resumed = calloc((size_t)s.trials, sizeof *s.resumed);
    s.ranges = calloc((size_t)s.rounds, sizeof *s.ranges);
    dt_trial *jt = calloc((size_t)s.trials, sizeof *jt);
    dt_trial_result *jr = calloc((size_t)s.trials, sizeof *jr);
    int rung_cap = s.trials * DT_ASHA_MAX_RUNGS, n_rungs = 0;
    dt_rung_entry *rungs = malloc((size_t)rung_cap * sizeof *rungs);
    dt_tune_journal j = {.fd = -1};
    if (!s.t || !s.r || !s.done || !s.resumed || !s.ranges || !jt || !jr || !rungs) {
        st = dt_fail(DT_ENOMEM, "tune: out of memory");
        goto out;
    }
    s.pruning = cfg->stages.tune.pruner == DT_PRUNER_ASHA;
    if (s.pruning && (st = dt_asha_init(&s.asha, cfg, s.trials))) goto out;
    uint64_t hash = dt_tune_config_hash(cfg);
    char path[1300];
    snprintf(path, sizeof path, "%s/trials.jsonl", ctx->out_dir);
    int jn = 0;
    st = dt_tune_journal_read(path, cfg, hash, jt, jr, s.trials, &jn);
    if (st) goto out;
    dt_tune_sampler_init(&s.sampler, cfg, s.trials, s.rounds, s.ranges);
    int resumed = match_journal(&s, jt, jr, jn);
    if (s.pruning) {
        if ((st = dt_tune_journal_read_rungs(path, cfg, hash, rungs, rung_cap, &n_rungs))) goto out;
        match_rungs(&s, rungs, &n_rungs);
    }
    /* Keep exactly the matched entries (drops a torn tail and stale lines). */
    int kn = 0;
    for (int id = 0; id < s.trials; id++)
        if (s.resumed[id]) {
            jt[kn] = s.t[id];
            jr[kn++] = s.r[id];
        }
    st = dt_tune_journal_open(&j, path, cfg, hash, jt, jr, kn, rungs, n_rungs);
    if (st) goto out;
    dt_report_artifact(rep, "trials", "trials.jsonl");
    dt_tune_job job = {.base = cfg, .data = d};
    int ran = 0;
    double t_search = now_s();
    st = run_search(ctx, &s, &j, hash, &job, &ran);
    t_search = now_s() - t_search;
    dt_tune_journal_close(&j);
    if (st) goto out;
    /* The search alone (no data loading, no final retrain): what more workers speed up. */
    dt_report_metric(rep, "search_seconds", t_search);
    dt_report_metric(rep, "trials_per_minute", t_search > 0 ? 60.0 * ran / t_search : 0.0);

    int finished = 0, ok = 0, sick = 0, pruned = 0, best = -1;
    double steps = 0, budget = 0;
    for (int id = 0; id < s.trials; id++) {
        if (!s.done[id]) continue;
        finished++;
        ok += s.r[id].status == DT_TRIAL_OK;
        sick += s.r[id].status == DT_TRIAL_SICK;
        pruned += s.r[id].status == DT_TRIAL_PRUNED;
        steps += (double)s.r[id].steps;
        budget += (double)s.r[id].budget;
        if (s.r[id].status == DT_TRIAL_OK && (best < 0 || dt_trial_result_cmp(&s.r[id], &s.r[best]) < 0)) best = id;
    }
    dt_report_metric(rep, "trials", finished);
    dt_report_metric_str(rep, "space", !default_space ? "stages.tune.space"
                                       : ctx->lr_suggested > 0 ? "default (train.lr around lr-find's suggestion, "
                                                                 "train.batch_size around the configured value)"
                                       : "default (train.lr and train.batch_size around the configured values)");
    dt_report_metric(rep, "trials_ok", ok);
    dt_report_metric(rep, "trials_sick", sick);
    dt_report_metric(rep, "trials_failed", finished - ok - sick - pruned);
    dt_report_metric(rep, "trials_pruned", pruned);
    dt_report_metric(rep, "trials_resumed", resumed);
    dt_report_metric(rep, "trials_run", ran);
    dt_report_metric(rep, "jobs", s.slots);
    dt_report_metric_str(rep, "pruner", s.pruning ? "asha" : "none");
    /* The training the search cost, in steps: with ASHA, the share of the budget it used. */
    dt_report_metric(rep, "steps_trained", steps);
    dt_report_metric(rep, "steps_budget", budget);
    report_rounds(rep, &s);
    report_importance(rep, &s);
    report_sick(rep, &s);
    if (best < 0) {
        dt_finding *f = dt_report_finding(rep, "tune-no-healthy-trial", DT_SEV_ERROR,
                                          "none of the %d trials trained without a sick sign or failure", finished);
        dt_finding_evidence(f, "trials", finished);
        dt_finding_evidence(f, "sick", sick);
        dt_finding_suggest(f, "run debug and overfit-batch first: the setup may be broken for every value");
        dt_finding_suggest(f, "narrow the space to values that are known to train (e.g. lr around 3e-4 for Adam)");
        goto out;
    }
    st = finish_best(ctx, rep, &s, &job, best);
out:
    dt_tune_journal_close(&j);
    if (s.pruning) dt_asha_free(&s.asha);
    free(rungs);
    free(jt);
    free(jr);
    free(s.t);
    free(s.r);
    free(s.done);
    free(s.resumed);
    free(s.ranges);
    return st;
}
