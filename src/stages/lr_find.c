/* lr-find (SPEC "Command line"): the learning-rate range test.  The lr
 * grows exponentially, one step per train batch, from a tiny value until
 * the loss diverges; a suggestion is read off the smoothed curve by the
 * rule that measured most stable against the best lr of a dense grid
 * (docs/tune.md "lr-find").  `run` passes the suggestion to tune, whose
 * default lr range centres on it.  The rules: lr_rules.c. */
#include "lr_find.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the sweep */

typedef struct sweep_watch {
    const double *lr;          /* [steps] the schedule */
    double *loss;              /* [steps] this sweep's losses */
    int steps, n;              /* points recorded (finite losses) */
    double beta, diverge, avg, corr, best;
    int diverged;
    dt_progress *progress;
    int sweep, sweeps;
} sweep_watch;

/* After each step: record the loss, stop at divergence, else set the next lr. */
static int sweep_step(void *ctx, const dt_fit_step *fs)
{
    sweep_watch *w = ctx;
    dt_progress_update(w->progress, w->sweep, w->sweeps, fs->step, fs->steps, fs->loss);
    if (!isfinite(fs->loss)) {
        w->diverged = 1;
        return 1;
    }
    w->loss[w->n++] = fs->loss;
    w->avg = w->beta * w->avg + (1.0 - w->beta) * fs->loss;
    w->corr *= w->beta;
    double s = w->avg / (1.0 - w->corr);
    if (s < w->best) w->best = s;
    if (s > w->diverge * w->best) {
        w->diverged = 1;
        return 1;
    }
    if (w->n < w->steps) fs->o->cfg.lr = (float)w->lr[w->n];
    return 0;
}

void dt_lr_curve_free(dt_lr_curve *c)
{
    free(c->lr);
    free(c->loss);
    free(c->smoothed);
    memset(c, 0, sizeof *c);
}

dt_status dt_lr_find_sweep(const dt_config *cfg, const dt_data *d, dt_model *m, dt_progress *progress,
                           dt_lr_curve *c)
{
    memset(c, 0, sizeof *c);
    int steps = cfg->stages.lr_find.steps, sweeps = cfg->stages.lr_find.restarts;
    double lo = cfg->stages.lr_find.min_lr, hi = cfg->stages.lr_find.max_lr;
    size_t state_n = dt_model_state_size(m);
    float *saved = malloc(state_n * sizeof *saved + 1);
    dt_config *tc = malloc(sizeof *tc);
    double *sum = calloc((size_t)steps, sizeof *sum);
    c->lr = malloc((size_t)steps * sizeof *c->lr);
    c->loss = malloc((size_t)steps * sizeof *c->loss);
    c->smoothed = malloc((size_t)steps * sizeof *c->smoothed);
    if (!saved || !tc || !sum || !c->lr || !c->loss || !c->smoothed) {
        free(saved);
        free(tc);
        free(sum);
        dt_lr_curve_free(c);
        return dt_fail(DT_ENOMEM, "lr-find: out of memory");
    }
    for (int i = 0; i < steps; i++) c->lr[i] = lo * exp(log(hi / lo) * i / (steps - 1));
    dt_model_state_save(m, saved);
    dt_rng rng = m->g->rng;
    /* The configured training (optimizer, momentum, weight decay, clipping,
     * augmentation) with the lr under the hook's control: no schedule, no warm-up. */
    *tc = *cfg;
    tc->train.lr = lo;
    tc->train.schedule = DT_SCHED_CONSTANT;
    tc->train.warmup_steps = 0;
    tc->train.max_steps = steps;
    int n = steps;
    dt_status st = DT_OK;
    for (int r = 0; r < sweeps && !st; r++) {
        sweep_watch w = {.lr = c->lr, .loss = c->loss, .steps = steps, .beta = cfg->stages.lr_find.smoothing,
                         .diverge = cfg->stages.lr_find.diverge, .corr = 1.0, .best = INFINITY,
                         .progress = progress, .sweep = r + 1, .sweeps = sweeps};
        dt_model_state_load(m, saved);
        m->g->rng = rng;
        dt_fit_opts fo = dt_stage_fit_opts_cfg(tc, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN);
        fo.max_steps = steps;
        fo.patience = 0;
        fo.restore_best = 0;
        /* Sweep 1 sees the batches the stages' own training sees first; each
         * further sweep another order. */
        fo.seed ^= (uint64_t)r * 0x9E3779B97F4A7C15ull;
        fo.on_step = sweep_step;
        fo.ctx = &w;
        dt_fit_result fr;
        st = dt_stage_fit(tc, d, m, &fo, &fr);
        c->steps += fr.steps;
        c->diverged |= w.diverged;
        if (w.n < n) n = w.n;
        for (int i = 0; i < w.n; i++) sum[i] += w.loss[i];
    }
    dt_model_state_load(m, saved);
    m->g->rng = rng;
    free(saved);
    free(tc);
    if (st) {
        free(sum);
        dt_lr_curve_free(c);
        return dt_fail_context(st, "lr-find");
    }
    /* The point where divergence was called stays on the curve: it shows the rise. */
    for (int i = 0; i < n; i++) c->loss[i] = sum[i] / sweeps;
    free(sum);
    c->n = n;
    c->sweeps = sweeps;
    c->diverged = c->diverged && n < steps;
    dt_lr_smooth(c->loss, n, cfg->stages.lr_find.smoothing, c->smoothed);
    return DT_OK;
}

/* ------------------------------------------------------------ the stage */

static cJSON *curve_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, dt_stage_curve_number(v[i]));
    return a;
}

static void report_curve(dt_report *rep, const dt_lr_curve *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddItemToObject(o, "lr", curve_array(c->lr, c->n));
    cJSON_AddItemToObject(o, "loss", curve_array(c->loss, c->n));
    cJSON_AddItemToObject(o, "smoothed", curve_array(c->smoothed, c->n));
    dt_report_metric_json(rep, "curve", o);
}

dt_status dt_stage_lr_find(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    const dt_config *cfg = ctx->cfg;
    ctx->lr_suggested = 0;
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    int B = cfg->train.batch_size;
    if ((size_t)B > n) B = (int)n;
    if (B < 1) return dt_fail(DT_EDATA, "lr-find: the train split is empty");
    /* A model of its own, from the init every stage starts from. */
    dt_model *m = NULL;
    if ((st = dt_stage_build_model(cfg, d, B, &m))) return st;
    dt_progress_begin(ctx->progress, "lr-find");
    dt_lr_curve c;
    st = dt_lr_find_sweep(cfg, d, m, ctx->progress, &c);
    dt_model_free(m);
    if (st) {
        dt_progress_end(ctx->progress, "error");
        return st;
    }
    double lr;
    int k = dt_lr_suggest(&c, dt_lr_find_rule, &lr);
    dt_progress_end(ctx->progress, k >= 0 ? "suggested" : "no suggestion");
    const struct dt_lr_find_cfg *lf = &cfg->stages.lr_find;
    int at_min = c.n > 0 ? dt_lr_curve_min(&c) : 0;
    if (k >= 0) dt_report_metric(rep, "suggested_lr", lr);
    else dt_report_metric_json(rep, "suggested_lr", cJSON_CreateNull());
    dt_report_metric_str(rep, "rule", dt_lr_rule_name(dt_lr_find_rule));
    cJSON *rules = cJSON_CreateObject();
    for (int r = 0; rules && r < DT_LR_RULE_COUNT; r++) {
        double v;
        if (dt_lr_suggest(&c, (dt_lr_rule)r, &v) >= 0) cJSON_AddNumberToObject(rules, dt_lr_rule_name((dt_lr_rule)r), v);
        else cJSON_AddNullToObject(rules, dt_lr_rule_name((dt_lr_rule)r));
    }
    dt_report_metric_json(rep, "rules", rules);
    /* In an object, not headline metrics: summary.json, gates and diff
     * would otherwise mix them with other stages' batch_size or losses. */
    cJSON *sw = cJSON_CreateObject();
    if (sw) {
        cJSON_AddNumberToObject(sw, "train_lr", cfg->train.lr);
        cJSON_AddNumberToObject(sw, "batch_size", B);
        cJSON_AddNumberToObject(sw, "points", c.n);
        cJSON_AddNumberToObject(sw, "sweeps", c.sweeps);
        cJSON_AddNumberToObject(sw, "steps", (double)c.steps);
        cJSON_AddBoolToObject(sw, "diverged", c.diverged);
        if (c.n > 0) {
            cJSON_AddNumberToObject(sw, "min_smoothed_loss", c.smoothed[at_min]);
            cJSON_AddNumberToObject(sw, "min_smoothed_loss_lr", c.lr[at_min]);
        }
    }
    dt_report_metric_json(rep, "sweep", sw);
    report_curve(rep, &c);
    if (k >= 0) {
        char tail[160] = "";
        if (!c.diverged)
            snprintf(tail, sizeof tail, "; the loss did not diverge up to %g, so the curve may end before its "
                                        "minimum", lf->max_lr);
        dt_finding *f = dt_report_finding(rep, "lr-find-suggestion", DT_SEV_INFO,
                                          "suggested lr %.3g (%s rule; smoothed loss lowest at lr %.3g); train.lr "
                                          "%g is %.2gx of it%s",
                                          lr, dt_lr_rule_name(dt_lr_find_rule), c.lr[at_min], cfg->train.lr,
                                          cfg->train.lr / lr, tail);
        dt_finding_evidence(f, "suggested_lr", lr);
        dt_finding_evidence(f, "train_lr", cfg->train.lr);
        dt_finding_evidence(f, "min_smoothed_loss_lr", c.lr[at_min]);
        dt_finding_evidence(f, "diverged", c.diverged);
        if (fabs(log10(cfg->train.lr / lr)) > 1.0)
            dt_finding_suggest(f, "train.lr is more than 10x away from the suggestion: try train.lr %.3g", lr);
        if (!c.diverged) dt_finding_suggest(f, "raise stages.lr-find.max_lr (%g) to see the divergence", lf->max_lr);
        ctx->lr_suggested = lr;
    } else {
        const char *why = dt_lr_curve_unusable(&c);
        if (!why) why = "no stretch of the smoothed curve falls";
        dt_finding *f = dt_report_finding(rep, "lr-find-no-suggestion", DT_SEV_WARNING,
                                          "no lr suggestion: %s (sweep from %g to %g over %d steps, %d points kept)",
                                          why, lf->min_lr, lf->max_lr, lf->steps, c.n);
        dt_finding_evidence(f, "points", c.n);
        dt_finding_evidence(f, "diverged", c.diverged);
        if (c.n > 0) {
            dt_finding_evidence(f, "first_smoothed_loss", c.smoothed[0]);
            dt_finding_evidence(f, "min_smoothed_loss", c.smoothed[at_min]);
        }
        if (c.n < DT_LR_FIND_MIN_POINTS)
            dt_finding_suggest(f, "lower stages.lr-find.min_lr (%g): the loss diverges already there", lf->min_lr);
        else
            dt_finding_suggest(f, "run overfit-batch and debug: a model whose loss does not fall at any lr is "
                                  "broken, not mis-tuned");
        dt_finding_suggest(f, "give the sweep more steps (stages.lr-find.steps %d) or raise stages.lr-find.max_lr "
                              "(%g)", lf->steps, lf->max_lr);
    }
    dt_lr_curve_free(&c);
    return DT_OK;
}
