/* decompose: train the configured model with early stopping on train_val,
 * measure it on the four splits and split the test error into Tobin's terms
 * (irreducible + bias + variance + shift + val_overfit), then analyse the
 * errors (per class, confusion matrix, slices, top losses) and save the model.
 * Rules and margins: docs/findings.md. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/checkpoint.h"
#include "error_analysis.h"

static const char *const finding_ids[DT_TERM_COUNT] = {"high-bias", "high-variance", "distribution-shift",
                                                        "val-overfitting"};

static void add_term_finding(dt_report *rep, const dt_ea_decomp *dc, const dt_ea_errors *e, int t)
{
    static const char *const what[DT_TERM_COUNT] = {
        "train error is %.4f above the irreducible error (underfitting)",
        "train_val error is %.4f above train error (overfitting)",
        "test_val error is %.4f above train_val error (the test distribution differs)",
        "test error is %.4f above test_val error (the validation set was overfit)",
    };
    char msg[200];
    snprintf(msg, sizeof msg, what[t], dc->term[t]);
    /* Bias against an irreducible error nobody gave is a guess: part of the
     * train error may be noise no model can fit.  Say so instead of warning. */
    int guessed = t == DT_TERM_BIAS && !dc->irreducible_known;
    dt_finding *f = dt_report_finding(rep, finding_ids[t], guessed ? DT_SEV_INFO : DT_SEV_WARNING, "%s; threshold %.4f%s%s",
                                      msg, dc->threshold[t], dc->dominant == t ? "; the dominant term" : "",
                                      guessed ? "; the irreducible error is unknown (no target.value or "
                                                "target.human_level), taken as 0, so some of this may be noise" : "");

    dt_finding_evidence(f, dt_ea_term_names[t], dc->term[t]);
    dt_finding_evidence(f, "threshold", dc->threshold[t]);
    dt_finding_evidence(f, "irreducible_error", dc->irreducible);
    static const dt_split_id a[DT_TERM_COUNT] = {DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, DT_SPLIT_TEST_VAL, DT_SPLIT_TEST};
    static const dt_split_id b[DT_TERM_COUNT] = {DT_SPLIT_TRAIN, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, DT_SPLIT_TEST_VAL};
    char key[48];
    snprintf(key, sizeof key, "%s_error", dt_split_name(a[t]));
    dt_finding_evidence(f, key, e->err[a[t]]);
    if (t != DT_TERM_BIAS) {
        snprintf(key, sizeof key, "%s_error", dt_split_name(b[t]));
        dt_finding_evidence(f, key, e->err[b[t]]);
    }
    switch (t) {
    case DT_TERM_BIAS:
        dt_finding_suggest(f, "make the model bigger (model.hidden, model.depth; LeNet: wider layers)");
        dt_finding_suggest(f, "reduce regularization (train.weight_decay, train.dropout)");
        dt_finding_suggest(f, "error analysis: which classes or slices carry the train error");
        dt_finding_suggest(f, "a different, closer-to-state-of-the-art architecture");
        dt_finding_suggest(f, "tune hyperparameters (learning rate first)");
        dt_finding_suggest(f, "add features");
        break;
    case DT_TERM_VARIANCE:
        dt_finding_suggest(f, "add more training data (data.subset.samples, or collect more)");
        dt_finding_suggest(f, "add normalization (model.batch_norm: true)");
        dt_finding_suggest(f, "data augmentation");
        dt_finding_suggest(f, "more regularization (train.weight_decay, train.dropout)");
        dt_finding_suggest(f, "error analysis; a different architecture; tune hyperparameters");
        dt_finding_suggest(f, "early stopping (train.early_stopping.patience), last resort");
        break;
    case DT_TERM_SHIFT:
        dt_finding_suggest(f, "look at the test_val errors (error_analysis.test_val: worst slices and top losses) "
                              "and collect training data like them");
        dt_finding_suggest(f, "synthesize training data like the worst test_val slices");
        dt_finding_suggest(f, "domain adaptation (fine-tune on labelled target data, or CORAL / domain confusion)");
        break;
    default:
        dt_finding_suggest(f, "rebalance: resample test_val from the test distribution (larger data.splits.test_val)");
        dt_finding_suggest(f, "run fewer hyperparameter trials against the same test_val");
        break;
    }
    if (guessed)
        dt_finding_suggest(f, "set target.value (a known result) or target.human_level to measure bias against it");
}

/* With tiny splits the noise margin swallows everything: say that no
 * finding could fire, instead of a silent pass.  A term needs to exceed its
 * threshold; above DT_EA_TOO_SMALL (in error units) the splits decide, not
 * the model. */
#define DT_EA_TOO_SMALL 0.15
static void splits_too_small(dt_report *rep, const dt_ea_decomp *dc, const dt_ea_errors *e)
{
    int worst = -1;
    for (int t = 0; t < DT_TERM_COUNT; t++)
        if (dc->measurable[t] && dc->threshold[t] > DT_EA_TOO_SMALL * dc->scale &&
            (worst < 0 || dc->threshold[t] > dc->threshold[worst]))
            worst = t;
    if (worst < 0) return;
    dt_finding *f = dt_report_finding(
        rep, "splits-too-small", DT_SEV_INFO,
        "the splits are too small to see a problem: %s would have to exceed %.3f to be reported (train %zu, train_val "
        "%zu, test_val %zu, test %zu rows)",
        dt_ea_term_names[worst], dc->threshold[worst], e->n[DT_SPLIT_TRAIN], e->n[DT_SPLIT_TRAIN_VAL],
        e->n[DT_SPLIT_TEST_VAL], e->n[DT_SPLIT_TEST]);
    dt_finding_evidence(f, "threshold", dc->threshold[worst]);
    dt_finding_evidence_str(f, "term", dt_ea_term_names[worst]);
    for (int s = 0; s < DT_SPLIT_COUNT; s++) {
        char key[32];
        snprintf(key, sizeof key, "%s_n", dt_split_name((dt_split_id)s));
        dt_finding_evidence(f, key, (double)e->n[s]);
    }
    dt_finding_suggest(f, "use bigger validation splits (data.splits.train_val, data.splits.test_val) or more data: "
                          "the noise margin shrinks as 1/sqrt(rows)");
}

static dt_status save_model(dt_stage_ctx *ctx, const dt_data *d, const dt_model *m, dt_report *rep)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/model.safetensors", ctx->out_dir);
    /* Each input's own statistics (its data field's), in raw units. */
    dt_ckpt_norm norms[DT_MAX_MODEL_INPUTS] = {{0}};
    for (int i = 0; i < m->n_inputs; i++)
        norms[i].n = dt_data_field_norm_stats(d, m->field[i], &norms[i].mean, &norms[i].std);
    int labels[DT_MAX_CLASSES];
    int K = m->spec.outputs < DT_MAX_CLASSES ? m->spec.outputs : DT_MAX_CLASSES;
    for (int i = 0; i < K; i++) labels[i] = dt_data_original_class(d, i);
    dt_ckpt_meta meta = {.n_norm = norms[0].n, .mean = norms[0].mean, .std = norms[0].std, .inputs = norms,
                         .class_labels = d->task == DT_TASK_CLASSIFICATION ? labels : NULL,
                         .targets_standardized = d->targets_standardized, .target_mean = d->y_mean,
                         .target_std = d->y_std};
    dt_status st = dt_checkpoint_save(m, path, &meta);
    if (st) return dt_fail_context(st, "saving %s", path);
    dt_report_artifact(rep, "model", "model.safetensors");
    return DT_OK;
}

dt_status dt_stage_decompose(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d = NULL;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    dt_ea_errors e;
    dt_model *m = NULL;
    dt_fit_result fr;
    const char *trained_by = NULL;
    if ((st = dt_ea_trained(ctx, "decompose", d, &m, &e, &fr, &trained_by))) return st;
    dt_report_metric_str(rep, "model_trained_by", trained_by);
    dt_report_metric(rep, "epochs_run", fr.epochs_run);
    dt_report_metric(rep, "best_epoch", fr.best_epoch);
    dt_report_metric(rep, "stopped_early", fr.stopped_early);
    dt_report_metric_json(rep, "history", dt_stage_history_json(&fr, DT_SPLIT_TRAIN_VAL));
    dt_ea_decomp dc;
    dt_ea_decompose(ctx->cfg, d, &e, &dc);

    dt_report_metric(rep, "irreducible_error", dc.irreducible);
    dt_report_metric_str(rep, "irreducible_source",
                         dc.irreducible_known ? (dt_config_given(ctx->cfg, "target.value") ? "target" : "human_level")
                                              : "unknown (target.value not given): taken as 0");
    for (int s = 0; s < DT_SPLIT_COUNT; s++) {
        char key[48];
        snprintf(key, sizeof key, "%s_error", dt_split_name((dt_split_id)s));
        dt_report_metric(rep, key, e.err[s]);
        snprintf(key, sizeof key, "%s_n", dt_split_name((dt_split_id)s));
        dt_report_metric(rep, key, (double)e.n[s]);
        /* Sampling noise, so `diff` can tell a change from a reshuffle. */
        snprintf(key, sizeof key, "%s_error_se", dt_split_name((dt_split_id)s));
        dt_report_metric(rep, key, e.se[s]);
    }
    for (int t = 0; t < DT_TERM_COUNT; t++) {
        char key[48];
        snprintf(key, sizeof key, "%s_se", dt_ea_term_names[t]);
        if (dc.measurable[t]) {
            dt_report_metric(rep, dt_ea_term_names[t], dc.term[t]);
            dt_report_metric(rep, key, dc.term_se[t]);
        } else {
            dt_report_metric_json(rep, dt_ea_term_names[t], cJSON_CreateNull());
        }
    }
    if (!dc.measurable[DT_TERM_SHIFT])
        dt_report_metric_str(rep, "shift_note", "not measurable: data.test is absent, so test_val and test are "
                                                "carved from held-out train data (same distribution)");
    dt_report_metric_str(rep, "dominant", dt_ea_dominant_name(&dc));
    cJSON *th = cJSON_CreateObject();
    for (int t = 0; t < DT_TERM_COUNT; t++) cJSON_AddNumberToObject(th, dt_ea_term_names[t], dc.threshold[t]);
    dt_report_metric_json(rep, "thresholds", th);
    if (d->task == DT_TASK_REGRESSION) dt_report_metric(rep, "error_scale", dc.scale);

    for (int t = 0; t < DT_TERM_COUNT; t++)
        if (dc.measurable[t] && dc.term[t] > dc.threshold[t]) add_term_finding(rep, &dc, &e, t);
    splits_too_small(rep, &dc, &e);
    int unfinished = dt_ea_check_convergence(&fr, dt_ea_trained_curve(ctx), d, rep);
    dt_ea_check_oscillation(dt_ea_trained_curve(ctx), d, rep);
    if ((st = dt_ea_check_labels(ctx->cfg, m, d, !dc.measurable[DT_TERM_SHIFT], unfinished, rep))) return st;

    /* Error analysis on train_val and test_val. */
    cJSON *ea = cJSON_CreateObject(), *per_class = NULL, *confusion = NULL;
    static const dt_split_id splits[2] = {DT_SPLIT_TRAIN_VAL, DT_SPLIT_TEST_VAL};
    if (d->task == DT_TASK_CLASSIFICATION) {
        per_class = cJSON_CreateObject();
        confusion = cJSON_CreateObject();
    }
    for (int i = 0; i < 2 && !st; i++) {
        cJSON *a = NULL, *cm = NULL;
        st = dt_ea_analyze_split(ctx->cfg, m, d, splits[i], &a, confusion ? &cm : NULL);
        if (st) {
            cJSON_Delete(a);
            break;
        }
        if (per_class) cJSON_AddItemToObject(per_class, dt_split_name(splits[i]),
                                             cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "per_class"), 1));
        if (confusion && cm) cJSON_AddItemToObject(confusion, dt_split_name(splits[i]), cm);
        cJSON_AddItemToObject(ea, dt_split_name(splits[i]), a);
    }
    /* RMSE, MAE, R^2 (regression) or precision, recall, F1, ROC AUC (binary)
     * per split; the test split's are headline metrics (summary, gates, diff). */
    cJSON *scores = NULL;
    for (int s = 0; s < DT_SPLIT_COUNT && !st; s++) {
        cJSON *one = NULL;
        if (!e.n[s]) continue;
        st = dt_ea_scores(ctx->cfg, m, d, (dt_split_id)s, &one);
        if (!one) continue;
        if (!scores) scores = cJSON_CreateObject();
        cJSON_AddItemToObject(scores, dt_split_name((dt_split_id)s), one);
        if (s == DT_SPLIT_TEST) {
            static const char *const keys[] = {"rmse", "mae", "r2", "precision", "recall", "f1", "roc_auc"};
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(one, keys[k]);
                char key[48];
                snprintf(key, sizeof key, "test_%s", keys[k]);
                if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) dt_report_metric(rep, key, v->valuedouble);
            }
        }
    }
    if (scores) dt_report_metric_json(rep, "scores", scores);
    if (!st && d->task == DT_TASK_CLASSIFICATION) dt_report_metric_json(rep, "class_names", dt_stage_class_names_json(ctx->cfg, d));
    if (!st) {
        dt_report_metric_json(rep, "error_analysis", ea);
        if (per_class) dt_report_metric_json(rep, "per_class", per_class);
        if (confusion) dt_report_metric_json(rep, "confusion_matrix", confusion);
        /* The worst slice on test_val, as a finding that ranks the work. */
        cJSON *tv = cJSON_GetObjectItemCaseSensitive(ea, "test_val");
        cJSON *sl = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tv, "slices"), 0);
        if (sl) {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sl, "slice"));
            double share = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "share_of_error"));
            double rows = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "share_of_rows"));
            dt_finding *f = dt_report_finding(rep, "worst-slice", DT_SEV_INFO,
                                              "slice '%s' holds %.0f%% of the test_val error with %.0f%% of its rows",
                                              name ? name : "?", 100 * share, 100 * rows);
            dt_finding_evidence_str(f, "slice", name ? name : "?");
            dt_finding_evidence(f, "share_of_error", share);
            dt_finding_evidence(f, "share_of_rows", rows);
            dt_finding_evidence(f, "error",
                                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sl, "error")));
            dt_finding_suggest(f, "collect more training data like slice '%s'", name ? name : "?");
            dt_finding_suggest(f, "synthesize or augment data like slice '%s'", name ? name : "?");
        }
    } else {
        cJSON_Delete(ea);
        cJSON_Delete(per_class);
        cJSON_Delete(confusion);
    }
    if (!st) st = save_model(ctx, d, m, rep);
    return st;
}
