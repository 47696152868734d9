/* improve: walk Tobin's ranked remedies for the dominant error term, one
 * change at a time, each trained and measured on the relevant validation
 * split, keeping a change only when it helps by a margin.
 *
 *   bias:     bigger model (wider, then deeper) → less regularization → a different
 *             architecture → learning rate ×3, ÷3
 *   variance: more data → batch-norm → augmentation (images) → weight decay → dropout
 *             → a different architecture → early stopping
 *   (a different architecture: the ramp, lenet → resnet, lstm → transformer,
 *   mlp → a deeper MLP with batch-norm)
 *   shift:    error analysis of test_val (ranked slices, classes) → collect / synthesize data
 *   val_overfit: rebalance (resample test_val)
 *
 * The decomposition is decompose's (error_analysis.c).  Rules: docs/findings.md. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/edit.h"
#include "error_analysis.h"

/* A change is kept when the error on the relevant split falls by more than
 * max(KEEP_ABS * scale, KEEP_Z * SE of the error before). */
#define KEEP_ABS 0.005
#define KEEP_Z 1.0
/* Pixels of random translation for the augmentation remedy. */
#define AUG_SHIFT 2

typedef struct trial {
    dt_config cfg;
} trial;

/* A remedy edits `t` (a copy of the current best) and describes the change;
 * returns 0 when it does not apply (then no attempt is spent). */
typedef int (*remedy_fn)(trial *t, const dt_data *d, char *desc, size_t size);

typedef struct remedy {
    const char *name;
    remedy_fn apply;
} remedy;

static int set_num(trial *t, const char *key, double v)
{
    return dt_config_set_number(&t->cfg, key, v) == DT_OK;
}

/* Network remedies edit the description (stage_prepare expanded any
 * preset into it), which then counts as given: improved.yaml holds it. */
static int edited(trial *t, int changed)
{
    if (changed) t->cfg.model.layers_given = 1;
    return changed;
}

static int r_wider(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    return edited(t, dt_desc_widen(&t->cfg.model.desc, 2.0, desc, size));
}

static int r_deeper(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    return edited(t, dt_desc_deepen(&t->cfg.model.desc, desc, size));
}

static int r_less_reg(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    double p = dt_desc_max_dropout(&t->cfg.model.desc);
    if (p > 0) return edited(t, dt_desc_dropout(&t->cfg.model.desc, p >= 0.1 ? p / 2 : 0, desc, size));
    if (t->cfg.train.weight_decay > 0) {
        snprintf(desc, size, "train.weight_decay %g -> 0", t->cfg.train.weight_decay);
        return set_num(t, "train.weight_decay", 0);
    }
    return 0;
}

static int lr_times(trial *t, double f, char *desc, size_t size)
{
    double lr = t->cfg.train.lr * f;
    snprintf(desc, size, "train.lr %g -> %g", t->cfg.train.lr, lr);
    return set_num(t, "train.lr", lr);
}
static int r_lr_up(trial *t, const dt_data *d, char *desc, size_t size) { (void)d; return lr_times(t, 3.0, desc, size); }
static int r_lr_down(trial *t, const dt_data *d, char *desc, size_t size) { (void)d; return lr_times(t, 1.0 / 3.0, desc, size); }

static int r_more_data(trial *t, const dt_data *d, char *desc, size_t size)
{
    size_t s = t->cfg.data.subset_samples;
    /* Only when the subset held data back: the train source has more rows. */
    size_t used = dt_data_split_size(d, DT_SPLIT_TRAIN) + dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    size_t available = d->src[0].n;
    if (s == 0 || used >= available || d->format == DT_FORMAT_TEXT) return 0;
    snprintf(desc, size, "data.subset.samples %zu -> %zu", s, 4 * s);
    return set_num(t, "data.subset.samples", (double)(4 * s));
}

static int r_batch_norm(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    if (dt_desc_count(&t->cfg.model.desc, DT_LAYER_BATCHNORM)) return 0;
    return edited(t, dt_desc_add_batchnorm(&t->cfg.model.desc, desc, size));
}

static int r_augment(trial *t, const dt_data *d, char *desc, size_t size)
{
    if (t->cfg.train.augment_shift > 0 || !dt_stage_has_images(d)) return 0;
    snprintf(desc, size, "train.augment.shift 0 -> %d (random translation of training images)", AUG_SHIFT);
    return set_num(t, "train.augment.shift", AUG_SHIFT);
}

static int r_weight_decay(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    double wd = t->cfg.train.weight_decay, v = wd < 1e-4 ? 1e-4 : wd * 10;
    if (wd >= 1e-2) return 0;
    snprintf(desc, size, "train.weight_decay %g -> %g", wd, v);
    return set_num(t, "train.weight_decay", v);
}

static int r_dropout(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    double p = dt_desc_max_dropout(&t->cfg.model.desc), v = p < 0.2 ? 0.2 : 0.5;
    if (p >= 0.5) return 0;
    return edited(t, dt_desc_dropout(&t->cfg.model.desc, v, desc, size));
}

static int r_early_stop(trial *t, const dt_data *d, char *desc, size_t size)
{
    (void)d;
    if (t->cfg.train.patience > 0) return 0;
    snprintf(desc, size, "train.early_stopping.patience 0 -> 3");
    return set_num(t, "train.early_stopping.patience", 3);
}

/* Hidden linear layers of a description and their widest `units`. */
static int hidden_linears(const dt_model_desc *d, int *width)
{
    int n = 0;
    *width = 0;
    for (int i = 0; i < d->n_layers; i++) {
        const dt_layer_desc *l = &d->layers[i];
        if (l->type != DT_LAYER_LINEAR || dt_layer_opt(l, "units") == DT_UNITS_CLASSES) continue;
        n++;
        if (dt_layer_opt(l, "units") > *width) *width = (int)dt_layer_opt(l, "units");
    }
    return n;
}

/* Tobin's "choose a different model architecture" (on both lists): the
 * ramp's next step, lenet -> resnet, lstm -> transformer, mlp -> a deeper
 * MLP with batch-norm (at least 3 hidden layers, one more than now, at the
 * widest current width, batch-norm before each activation).  The new
 * preset's description replaces the network (layers given, arch the new
 * family), so improved.yaml reproduces it; train.* (the budget) stays.  Not
 * for custom networks, the multi-input fusion, or data the new preset
 * cannot read (a transformer needs a sequence or token ids). */
static int r_architecture(trial *t, const dt_data *d, char *desc, size_t size)
{
    const dt_config *c = &t->cfg;
    dt_arch from = c->model.arch;
    if (dt_data_n_fields(d) != 1 || c->model.desc.n_inputs > 1) return 0;
    if (from != DT_ARCH_LENET && from != DT_ARCH_LSTM && from != DT_ARCH_MLP) return 0;
    dt_config *nc = malloc(sizeof *nc);
    if (!nc) return 0;
    *nc = *c;
    nc->model.layers_given = 0;
    nc->model.desc.n_layers = 0;
    int width = 0, n_hidden = hidden_linears(&c->model.desc, &width);
    if (from == DT_ARCH_LENET) nc->model.arch = DT_ARCH_RESNET;
    else if (from == DT_ARCH_LSTM) nc->model.arch = DT_ARCH_TRANSFORMER;
    else {
        nc->model.depth = n_hidden + 1 > 3 ? n_hidden + 1 : 3;
        if (width > 0) nc->model.hidden = width;
        nc->model.batch_norm = 1;
        nc->train.dropout = dt_desc_max_dropout(&c->model.desc);
    }
    int ok = dt_stage_resolve_model(nc, d) == DT_OK;
    if (ok) {
        nc->model.layers_given = 1;
        const dt_model_desc *nd = &nc->model.desc;
        int w = nd->n_layers ? (int)dt_layer_opt(&nd->layers[0], "channels") : 0;
        if (from == DT_ARCH_LENET)
            snprintf(desc, size, "lenet -> resnet (ResNet-8: conv1, 3 BasicBlocks of widths %d/%d/%d, global average "
                     "pool, fc; %d layers)", w, 2 * w, 4 * w, nd->n_layers);
        else if (from == DT_ARCH_LSTM)
            snprintf(desc, size, "lstm -> transformer (%d pre-LayerNorm encoder blocks, d %d, 4 heads; %d layers)",
                     dt_desc_count(nd, DT_LAYER_ATTENTION), nc->model.hidden, nd->n_layers);
        else
            snprintf(desc, size, "mlp -> mlp of %d hidden layers (%d units) with batch-norm (%d hidden layers before)",
                     nc->model.depth, nc->model.hidden, n_hidden);
        t->cfg = *nc;
    }
    free(nc);
    return ok;
}

/* Tobin's lists, in his order.  "Choose a different model architecture"
 * is on both: after the size and regularization changes for bias, after
 * regularization for variance (before early stopping). */
static const remedy bias_ladder[] = {
    {"bigger model: wider", r_wider},   {"bigger model: deeper", r_deeper},
    {"less regularization", r_less_reg}, {"different architecture", r_architecture},
    {"learning rate x3", r_lr_up},      {"learning rate /3", r_lr_down},
};
static const remedy variance_ladder[] = {
    {"more data", r_more_data},         {"batch normalization", r_batch_norm},
    {"data augmentation", r_augment},   {"weight decay", r_weight_decay},
    {"dropout", r_dropout},             {"different architecture", r_architecture},
    {"early stopping", r_early_stop},
};

/* ------------------------------------------------------------ the ladder */

/* Trains and measures one trial; *d_trial is the data it used (owned when
 * it differs from base, i.e. after a data change); its per-epoch curve and
 * parameter count. */
static dt_status run_trial(dt_stage_ctx *ctx, const trial *t, dt_data *base, dt_data **d_trial, int *owned,
                           dt_ea_errors *e, dt_fit_result *fr, dt_ea_curve *curve, double *params)
{
    *d_trial = base;
    *owned = 0;
    dt_status st;
    if (t->cfg.data.subset_samples != ctx->cfg->data.subset_samples) {
        st = dt_data_load(&t->cfg.data, t->cfg.base_dir, d_trial);
        if (st) return st;
        *owned = 1;
    }
    dt_model *m = NULL;
    st = dt_ea_train_measure_curve(ctx, &t->cfg, *d_trial, NULL, NULL, e, &m, fr, curve);
    if (!st) *params = (double)m->g->n_param_values;
    dt_model_free(m);
    if (st && *owned) {
        dt_data_free(*d_trial);
        *d_trial = NULL;
        *owned = 0;
    }
    return st;
}

/* m: the configured model, trained. */
static dt_status shift_advice(const dt_config *cfg, dt_report *rep, dt_model *m, const dt_data *d,
                              const dt_ea_decomp *dc)
{
    cJSON *a = NULL;
    dt_status st = dt_ea_analyze_split(cfg, m, d, DT_SPLIT_TEST_VAL, &a, NULL);
    if (st == DT_OK) {
        dt_finding *f = dt_report_finding(rep, "shift-error-analysis", DT_SEV_INFO,
                                          "distribution shift dominates (%.4f): no training change fixes it; work "
                                          "on the test_val errors ranked below",
                                          dc->term[DT_TERM_SHIFT]);
        dt_finding_evidence(f, "shift", dc->term[DT_TERM_SHIFT]);
        const cJSON *sl, *pc;
        int ranked = 0;
        cJSON_ArrayForEach(sl, cJSON_GetObjectItemCaseSensitive(a, "slices"))
        {
            if (ranked++ >= 3) break;
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sl, "slice"));
            double share = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "share_of_error"));
            dt_finding_suggest(f, "collect or synthesize training data like test_val slice '%s' (%.0f%% of its error)",
                               name ? name : "?", 100 * share);
        }
        if (!ranked) {
            /* Without slices, rank the classes by their share of the error. */
            double best_share = -1;
            const char *best_class = NULL;
            cJSON_ArrayForEach(pc, cJSON_GetObjectItemCaseSensitive(a, "per_class"))
            {
                double s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pc, "share_of_errors"));
                if (s > best_share) {
                    best_share = s;
                    best_class = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pc, "name"));
                }
            }
            if (best_class)
                dt_finding_suggest(f, "collect or synthesize training data like the test_val examples of class %s "
                                      "(%.0f%% of its error)",
                                   best_class, 100 * best_share);
            dt_finding_suggest(f, "look at the top-loss test_val examples (metrics.error_analysis.top_losses) by hand");
        }
        dt_finding_suggest(f, "domain adaptation: fine-tune with labelled target data, or unsupervised (CORAL, "
                              "domain confusion)");
        dt_report_metric_json(rep, "error_analysis", a);
        a = NULL;
    }
    cJSON_Delete(a);
    return st;
}

dt_status dt_stage_improve(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d = NULL;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    trial best = {.cfg = *ctx->cfg};
    dt_ea_errors e;
    dt_model *m0 = NULL;
    const char *trained_by = NULL;
    if ((st = dt_ea_trained(ctx, "improve", d, &m0, &e, NULL, &trained_by))) return st;
    dt_report_metric_str(rep, "model_trained_by", trained_by);
    dt_ea_decomp dc;
    dt_ea_decompose(ctx->cfg, d, &e, &dc);
    dt_report_metric_str(rep, "dominant", dt_ea_dominant_name(&dc));
    for (int t = 0; t < DT_TERM_COUNT; t++)
        if (dc.measurable[t]) {
            char key[48];
            snprintf(key, sizeof key, "start_%s", dt_ea_term_names[t]);
            dt_report_metric(rep, key, dc.term[t]);
            snprintf(key, sizeof key, "start_%s_se", dt_ea_term_names[t]);
            dt_report_metric(rep, key, dc.term_se[t]);
        }

    if (dc.term[dc.dominant] <= dc.threshold[dc.dominant]) {
        /* Nothing is high: no list to work on.  improved.yaml is the config as is. */
        dt_finding *f = dt_report_finding(rep, "nothing-to-improve", DT_SEV_INFO,
                                          "no term is above its threshold (largest: %s %.4f <= %.4f); no remedy tried",
                                          dt_ea_term_names[dc.dominant], dc.term[dc.dominant],
                                          dc.threshold[dc.dominant]);
        dt_finding_evidence(f, dt_ea_term_names[dc.dominant], dc.term[dc.dominant]);
        dt_finding_evidence(f, "threshold", dc.threshold[dc.dominant]);
        if (!dt_config_given(ctx->cfg, "target.value"))
            dt_finding_suggest(f, "set target.value to a known result to measure bias against it");
        dt_finding_suggest(f, "tune hyperparameters (dnntrouble tune)");
        dt_report_metric_json(rep, "attempts", cJSON_CreateArray());
        dt_report_metric(rep, "start_error", e.err[DT_SPLIT_TRAIN_VAL]);
        dt_report_metric(rep, "best_error", e.err[DT_SPLIT_TRAIN_VAL]);
        dt_report_metric(rep, "start_error_se", e.se[DT_SPLIT_TRAIN_VAL]);
        dt_report_metric(rep, "best_error_se", e.se[DT_SPLIT_TRAIN_VAL]);
        char path[1400];
        snprintf(path, sizeof path, "%s/improved.yaml", ctx->out_dir);
        if ((st = dt_config_write_yaml(&best.cfg, path))) return dt_fail_context(st, "writing %s", path);
        dt_report_artifact(rep, "best_config", "improved.yaml");
        return DT_OK;
    }
    if (dc.dominant == DT_TERM_SHIFT) st = shift_advice(ctx->cfg, rep, m0, d, &dc);
    if (st) return st;
    if (dc.dominant == DT_TERM_SHIFT) {
        dt_report_metric_json(rep, "attempts", cJSON_CreateArray());
        return DT_OK;
    }
    if (dc.dominant == DT_TERM_VAL_OVERFIT) {
        dt_finding *f = dt_report_finding(rep, "rebalance-validation", DT_SEV_INFO,
                                          "test error is %.4f above test_val error: the validation set was overfit",
                                          dc.term[DT_TERM_VAL_OVERFIT]);
        dt_finding_evidence(f, "val_overfit", dc.term[DT_TERM_VAL_OVERFIT]);
        dt_finding_suggest(f, "resample test_val from the test distribution; make it larger (data.splits.test_val)");
        dt_finding_suggest(f, "run fewer hyperparameter trials against one test_val");
        dt_report_metric_json(rep, "attempts", cJSON_CreateArray());
        return DT_OK;
    }

    const remedy *ladder = dc.dominant == DT_TERM_BIAS ? bias_ladder : variance_ladder;
    int n_ladder = dc.dominant == DT_TERM_BIAS ? (int)(sizeof bias_ladder / sizeof *bias_ladder)
                                               : (int)(sizeof variance_ladder / sizeof *variance_ladder);
    /* Bias and variance both show in train_val error (= irreducible + bias + variance). */
    const dt_split_id split = DT_SPLIT_TRAIN_VAL;
    double start_err = e.err[split], best_err = start_err, best_se = e.se[split];
    double scale = dc.scale;
    dt_report_metric_str(rep, "split", dt_split_name(split));
    dt_report_metric(rep, "start_error", start_err);
    dt_report_metric(rep, "start_error_se", e.se[split]);

    dt_data *best_d = d;
    int best_owned = 0;
    cJSON *attempts = cJSON_CreateArray(), *kept = cJSON_CreateArray();
    char kept_text[1024] = "";
    int n_attempts = 0, max_attempts = ctx->cfg->stages.improve.max_attempts;
    /* Curves of the current best and of the trial: the before and after of each attempt. */
    dt_ea_curve *curves = calloc(2, sizeof *curves), *best_curve = curves, *trial_curve = curves + 1;
    if (!curves) {
        cJSON_Delete(attempts);
        cJSON_Delete(kept);
        return dt_fail(DT_ENOMEM, "improve: out of memory");
    }
    if (dt_ea_trained_curve(ctx)) *best_curve = *dt_ea_trained_curve(ctx);
    double best_params = (double)m0->g->n_param_values, best_train = e.err[DT_SPLIT_TRAIN];
    for (int i = 0; i < n_ladder && n_attempts < max_attempts && !st; i++) {
        trial t = best;
        char desc[256];
        if (!ladder[i].apply(&t, best_d, desc, sizeof desc)) continue;
        n_attempts++;
        dt_progress_begin(ctx->progress, ladder[i].name);
        dt_data *td = NULL;
        int owned = 0;
        dt_ea_errors te;
        dt_fit_result tfr;
        double params = 0;
        st = run_trial(ctx, &t, d, &td, &owned, &te, &tfr, trial_curve, &params);
        if (st) break;
        double after = te.err[split];
        double margin = KEEP_ABS * scale > KEEP_Z * best_se ? KEEP_ABS * scale : KEEP_Z * best_se;
        int keep = after < best_err - margin;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "remedy", ladder[i].name);
        cJSON_AddStringToObject(a, "change", desc);
        cJSON_AddNumberToObject(a, "before", best_err);
        cJSON_AddNumberToObject(a, "after", after);
        cJSON_AddNumberToObject(a, "margin", margin);
        cJSON_AddNumberToObject(a, "train_error_before", best_train);
        cJSON_AddNumberToObject(a, "train_error", te.err[DT_SPLIT_TRAIN]);
        cJSON_AddNumberToObject(a, "params_before", best_params);
        cJSON_AddNumberToObject(a, "params_after", params);
        cJSON_AddItemToObject(a, "before_curve", dt_ea_curve_json(best_curve));
        cJSON_AddItemToObject(a, "after_curve", dt_ea_curve_json(trial_curve));
        cJSON_AddBoolToObject(a, "kept", keep);
        cJSON_AddItemToObject(a, "history", dt_stage_history_json(&tfr, DT_SPLIT_TRAIN_VAL));
        cJSON_AddItemToArray(attempts, a);
        dt_progress_end(ctx->progress, keep ? "kept" : "not kept");
        if (ladder[i].apply == r_architecture) {
            dt_finding *f = dt_report_finding(rep, "different-architecture", DT_SEV_INFO,
                                              "%s on the same budget: %s error %.4f -> %.4f, train error %.4f -> "
                                              "%.4f (%s: the margin is %.4f)",
                                              desc, dt_split_name(split), best_err, after, best_train,
                                              te.err[DT_SPLIT_TRAIN], keep ? "kept" : "not kept", margin);
            dt_finding_evidence_str(f, "change", desc);
            dt_finding_evidence(f, "before", best_err);
            dt_finding_evidence(f, "after", after);
            dt_finding_evidence(f, "margin", margin);
            dt_finding_evidence(f, "train_error_before", best_train);
            dt_finding_evidence(f, "train_error_after", te.err[DT_SPLIT_TRAIN]);
            dt_finding_evidence(f, "epochs_before", best_curve->n);
            dt_finding_evidence(f, "epochs_after", trial_curve->n);
            dt_finding_evidence(f, "kept", keep);
            if (!keep) {
                dt_finding_suggest(f, "the new architecture may need its own learning rate or more epochs: tune "
                                      "train.lr and train.epochs for it (dnntrouble tune)");
                dt_finding_suggest(f, "compare the two curves in metrics.attempts (before_curve, after_curve)");
            }
        }
        if (keep) {
            best = t;
            best_err = after;
            best_se = te.se[split];
            best_train = te.err[DT_SPLIT_TRAIN];
            best_params = params;
            dt_ea_curve *swap = best_curve;
            best_curve = trial_curve;
            trial_curve = swap;
            if (best_owned) dt_data_free(best_d);
            best_d = td;
            best_owned = owned;
            cJSON_AddItemToArray(kept, cJSON_CreateString(desc));
            size_t len = strlen(kept_text);
            snprintf(kept_text + len, sizeof kept_text - len, "%s%s (%s)", len ? "; " : "", ladder[i].name, desc);
        } else if (owned) {
            dt_data_free(td);
        }
    }
    if (best_owned) dt_data_free(best_d);
    free(curves);
    if (st) {
        cJSON_Delete(attempts);
        cJSON_Delete(kept);
        return st;
    }
    dt_report_metric_json(rep, "attempts", attempts);
    dt_report_metric_json(rep, "kept", kept);
    dt_report_metric(rep, "best_error", best_err);
    dt_report_metric(rep, "best_error_se", best_se);
    dt_report_metric(rep, "improvement", start_err - best_err);
    dt_report_metric(rep, "n_attempts", n_attempts);

    char path[1400];
    snprintf(path, sizeof path, "%s/improved.yaml", ctx->out_dir);
    if ((st = dt_config_write_yaml(&best.cfg, path))) return dt_fail_context(st, "writing %s", path);
    dt_report_artifact(rep, "best_config", "improved.yaml");

    if (kept_text[0]) {
        dt_finding *f = dt_report_finding(rep, "remedy-helped", DT_SEV_INFO,
                                          "%s error %.4f -> %.4f (%s): kept %s", dt_split_name(split), start_err,
                                          best_err, dt_ea_term_names[dc.dominant], kept_text);
        dt_finding_evidence(f, "start_error", start_err);
        dt_finding_evidence(f, "best_error", best_err);
        dt_finding_evidence_str(f, "kept", kept_text);
        dt_finding_suggest(f, "use improved.yaml (dnntrouble run %s/improved.yaml)", ctx->out_dir);
    } else {
        dt_finding *f = dt_report_finding(rep, "no-remedy-helped", DT_SEV_WARNING,
                                          "none of the %d remedies tried for %s lowered %s error %.4f by the margin",
                                          n_attempts, dt_ea_term_names[dc.dominant], dt_split_name(split), start_err);
        dt_finding_evidence(f, "attempts", n_attempts);
        dt_finding_evidence(f, "start_error", start_err);
        dt_finding_suggest(f, "raise stages.improve.max_attempts to walk further down the list");
        dt_finding_suggest(f, "error analysis (decompose): which classes or slices carry the error");
        dt_finding_suggest(f, "tune hyperparameters (dnntrouble tune)");
    }
    return DT_OK;
}
