/* overfit-batch (Tobin: "overfit a single batch"): train on one fixed batch
 * until the loss is close to zero (and, for classification, every sample is
 * right) or max_steps; when it fails, read the curve and rank the causes. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "common.h"
#include "dnntrouble/curve.h"

#define OVERFIT_CE_LOSS 0.05          /* cross-entropy: "close to zero" */
#define OVERFIT_MSE_RELATIVE 0.01     /* mse: 1% of the initial loss */

/* Share of rows of the batch whose argmax equals the label. */
static double batch_accuracy(const dt_model *m)
{
    int B = m->out->shape[0], K = m->out->shape[1], right = 0;
    for (int r = 0; r < B; r++) {
        const float *z = m->out->val + (size_t)r * K;
        int best = 0;
        for (int j = 1; j < K; j++) if (z[j] > z[best]) best = j;
        right += best == dt_model_class_of(m, (size_t)r);
    }
    return (double)right / B;
}

/* The curve, and the stop once the batch is fitted. */
typedef struct overfit_watch {
    dt_progress *progress;
    float *curve;
    int classification;
    int done, reached;
    double acc, target;
} overfit_watch;

static int overfit_step(void *ctx, const dt_fit_step *fs)
{
    overfit_watch *w = ctx;
    float loss = fs->loss;
    w->curve[w->done++] = loss;
    dt_progress_update(w->progress, 1, 1, w->done, fs->steps, loss);
    if (!isfinite(loss)) return 1;
    w->acc = w->classification ? batch_accuracy(fs->m) : 1.0;
    w->target = w->classification ? OVERFIT_CE_LOSS : OVERFIT_MSE_RELATIVE * w->curve[0];
    w->reached = loss <= w->target && w->acc >= 1.0;
    return w->reached;
}

static void suggest_for(dt_finding *f, dt_curve_mode mode, const dt_config *cfg)
{
    int high_lr = cfg->train.lr >= (cfg->train.optimizer == DT_OPT_SGD ? 0.5 : 1e-2);
    int heavy_reg = cfg->train.weight_decay >= 1e-2 || cfg->train.dropout >= 0.5;
    int softmax = cfg->model.output_activation == DT_OUT_SOFTMAX && cfg->loss == DT_LOSS_CROSS_ENTROPY;
    switch (mode) {
    case DT_CURVE_INCREASES:
        if (high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g) by 10x", cfg->train.lr);
        dt_finding_suggest(f, "a flipped sign in the loss or the gradient");
        if (!high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g) by 10x", cfg->train.lr);
        dt_finding_suggest(f, "softmax taken over the wrong dimension");
        break;
    case DT_CURVE_EXPLODES:
        if (high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g) by 10x or more", cfg->train.lr);
        dt_finding_suggest(f, "a numerical problem: check every exp, log and division (run debug for the first NaN)");
        if (!high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g) by 10x", cfg->train.lr);
        dt_finding_suggest(f, "clip gradients (train.clip_grad_norm: 1.0)");
        break;
    case DT_CURVE_OSCILLATES:
        if (high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g) by 10x", cfg->train.lr);
        dt_finding_suggest(f, "data or labels corrupted (zeroed, shuffled wrongly, preprocessed wrongly)");
        if (!high_lr) dt_finding_suggest(f, "learning rate too high: lower train.lr (%g)", cfg->train.lr);
        break;
    case DT_CURVE_PLATEAUS:
    case DT_CURVE_DECREASING:
        if (softmax) dt_finding_suggest(f, "wrong input to the loss: softmax output fed to cross_entropy, which takes logits");
        if (heavy_reg) dt_finding_suggest(f, "too much regularization: weight_decay %g, dropout %g", cfg->train.weight_decay, cfg->train.dropout);
        dt_finding_suggest(f, "learning rate too low: raise train.lr (%g) by 10x", cfg->train.lr);
        dt_finding_suggest(f, "gradients not flowing through the whole model (see debug: vanishing-gradients, dead-relu)");
        if (!heavy_reg) dt_finding_suggest(f, "too much regularization (weight decay, dropout)");
        if (!softmax) dt_finding_suggest(f, "wrong input to the loss (softmax instead of logits)");
        dt_finding_suggest(f, "data or labels corrupted");
        break;
    }
}

static const char *finding_id(dt_curve_mode mode)
{
    switch (mode) {
    case DT_CURVE_INCREASES: return "overfit-loss-increases";
    case DT_CURVE_EXPLODES: return "overfit-loss-explodes";
    case DT_CURVE_OSCILLATES: return "overfit-loss-oscillates";
    case DT_CURVE_PLATEAUS: return "overfit-loss-plateaus";
    default: return "overfit-not-converged";
    }
}

dt_status dt_stage_overfit_batch(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    const dt_config *cfg = ctx->cfg;
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    int B = cfg->stages.overfit_batch.batch_size, steps = cfg->stages.overfit_batch.max_steps;
    if ((size_t)B > n) B = (int)n;
    if (B < 1) return dt_fail(DT_EDATA, "overfit-batch: the train split is empty");
    int classification = cfg->loss == DT_LOSS_CROSS_ENTROPY;

    dt_model *m = NULL;
    st = dt_stage_build_model(cfg, d, B, &m);
    if (st) return st;
    size_t *rows = malloc((size_t)B * sizeof *rows);
    float *curve = malloc((size_t)steps * sizeof *curve);
    if (!rows || !curve) {
        free(rows);
        free(curve);
        dt_model_free(m);
        return dt_fail(DT_ENOMEM, "overfit-batch: out of memory");
    }
    /* The fixed batch: the first B rows of the (already shuffled) train split. */
    for (int i = 0; i < B; i++) rows[i] = (size_t)i;

    dt_progress_begin(ctx->progress, "overfit-batch");
    overfit_watch w = {.progress = ctx->progress, .curve = curve, .classification = classification};
    dt_fit_opts fo = dt_stage_fit_opts_cfg(cfg, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN);
    fo.epochs = steps;
    fo.max_steps = 0;
    fo.restore_best = 0;
    fo.fixed_rows = rows;
    fo.n_fixed = (size_t)B;
    fo.on_step = overfit_step;
    fo.ctx = &w;
    dt_fit_result fr;
    st = dt_stage_fit(cfg, d, m, &fo, &fr);
    int done = w.done, reached = w.reached;
    double acc = w.acc, target = w.target;
    dt_progress_end(ctx->progress, reached ? "fitted" : "not fitted");
    if (!st) {
        dt_report_metric(rep, "batch_size", B);
        dt_report_metric(rep, "steps", done);
        dt_report_metric(rep, "max_steps", steps);
        dt_report_metric(rep, "initial_loss", curve[0]);
        dt_report_metric(rep, "final_loss", curve[done - 1]);
        dt_report_metric(rep, "target_loss", target);
        if (classification) dt_report_metric(rep, "batch_accuracy", acc);
        dt_report_metric_farray(rep, "loss_curve", curve, (size_t)done);
        dt_curve_stats cs;
        dt_curve_mode mode = done >= 2 ? dt_curve_classify(curve, done, &cs) : DT_CURVE_EXPLODES;
        if (done < 2) cs = (dt_curve_stats){.initial = curve[0], .final = curve[0], .nonfinite_step = 0};
        dt_report_metric_str(rep, "verdict", reached ? "fitted" : dt_curve_mode_name(mode));
        if (reached && cs.max > DT_CURVE_EXPLODE_FACTOR * cs.initial) {
            /* Fitted in the end, but only after the loss blew up: lr too high. */
            dt_finding *f = dt_report_finding(rep, "overfit-loss-explodes", DT_SEV_WARNING,
                                              "the batch was fitted, but on the way the loss rose to %.4g "
                                              "(%.0fx its initial %.4g)", cs.max, cs.max / cs.initial, cs.initial);
            dt_finding_evidence(f, "initial_loss", cs.initial);
            dt_finding_evidence(f, "max_loss", cs.max);
            suggest_for(f, DT_CURVE_EXPLODES, cfg);
        }
        if (!reached) {
            dt_finding *f;
            /* The message quotes what the evidence holds: first step, the
             * level of the last 10% of steps, and the peak when it matters. */
            char peak[64] = "";
            if (cs.max > 2 * cs.initial) snprintf(peak, sizeof peak, ", peak %.4g", cs.max);
            if (mode == DT_CURVE_DECREASING)
                f = dt_report_finding(rep, finding_id(mode), DT_SEV_ERROR,
                                      "the loss is still falling but not near zero after %d steps (first %.4g, last "
                                      "10%% at %.4g%s)",
                                      done, cs.initial, cs.final, peak);
            else
                f = dt_report_finding(rep, finding_id(mode), DT_SEV_ERROR,
                                      "the loss %s instead of reaching ~0 on one batch (%d steps: first %.4g, last "
                                      "10%% at %.4g%s)",
                                      dt_curve_mode_name(mode), done, cs.initial, cs.final, peak);
            dt_finding_evidence(f, "initial_loss", cs.initial);
            dt_finding_evidence(f, "tail_loss", cs.final);   /* metrics.final_loss is the last step's */
            dt_finding_evidence(f, "max_loss", cs.max);
            dt_finding_evidence(f, "steps", done);
            dt_finding_evidence(f, "sign_switch_fraction", cs.sign_switch_fraction);
            dt_finding_evidence(f, "relative_amplitude", cs.relative_amplitude);
            dt_finding_evidence(f, "second_half_decrease", cs.second_half_decrease);
            if (cs.nonfinite_step >= 0) dt_finding_evidence(f, "first_nonfinite_step", cs.nonfinite_step);
            if (classification) dt_finding_evidence(f, "batch_accuracy", acc);
            if (mode == DT_CURVE_DECREASING)
                dt_finding_suggest(f, "give it more steps (stages.overfit-batch.max_steps %d)", steps);
            suggest_for(f, mode, cfg);
            dt_report_set_status(rep, DT_VERDICT_FAIL);
        }
    }
    free(rows);
    free(curve);
    dt_model_free(m);
    return st;
}
