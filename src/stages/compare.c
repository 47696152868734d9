/* compare: Tobin's "compare to a known result" and Karpathy's dumb baselines.
 *
 * On the same splits as every stage: the majority class (classification) or
 * the mean of the train targets (regression); a linear model (softmax
 * regression / least squares) trained with the engine; the configured model
 * trained on zeroed inputs (input-independent baseline, K1); the configured
 * model itself (dt_stage_train); the known result (target.*) and human level.
 * Every error is measured on train_val.  Rules and margins: docs/findings.md. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error_analysis.h"

/* Linear baseline (softmax regression): Adam at this rate, at least this many
 * epochs and steps, the config's batch size, early stopping (patience 3 when
 * off).  On MNIST, 1e-3 reaches the textbook 7.5% error of softmax regression
 * (7.55% measured); 1e-2 stalled at 9.9%, too weak a bar to beat. */
#define LINEAR_LR 1e-3
#define LINEAR_MIN_EPOCHS 20
#define LINEAR_MIN_STEPS 3000
/* Known result: the model is "below" it beyond max(KNOWN_ABS * scale, Z * SE). */
#define KNOWN_ABS 0.005

/* Majority class / mean target of the train split, scored on train_val. */
static double constant_baseline_error(const dt_data *d, double *value)
{
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN), nv = dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    if (d->task == DT_TASK_CLASSIFICATION) {
        size_t count[DT_MAX_CLASSES] = {0};
        for (size_t i = 0; i < n; i++) {
            int c = (int)dt_data_label(d, DT_SPLIT_TRAIN, i);
            if (c >= 0 && c < DT_MAX_CLASSES) count[c]++;
        }
        int best = 0;
        for (int c = 1; c < DT_MAX_CLASSES; c++) if (count[c] > count[best]) best = c;
        size_t wrong = 0;
        for (size_t i = 0; i < nv; i++) wrong += (int)dt_data_label(d, DT_SPLIT_TRAIN_VAL, i) != best;
        *value = dt_data_original_class(d, best);
        return nv ? (double)wrong / (double)nv : 0.0;
    }
    double mean = 0, se = 0;
    for (size_t i = 0; i < n; i++) mean += dt_data_label(d, DT_SPLIT_TRAIN, i);
    mean = n ? mean / (double)n : 0.0;
    for (size_t i = 0; i < nv; i++) {
        double e = dt_data_label(d, DT_SPLIT_TRAIN_VAL, i) - mean;
        se += e * e;
    }
    *value = mean;
    return nv ? se / (double)nv : 0.0;
}

/* Least squares in closed form (normal equations with a 1e-6 ridge, solved by
 * Cholesky in double): the exact linear baseline for regression.  Returns 0
 * when the problem is too wide for it (then the engine trains it). */
#define LSQ_MAX_DIM 1024
static int least_squares_error(const dt_data *d, double *err)
{
    size_t D = dt_data_sample_dim(d), P = D + 1, n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    size_t nv = dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    if (D > LSQ_MAX_DIM || dt_data_classes(d) != 1 || n == 0) return 0;
    double *A = calloc(P * P, sizeof *A), *b = calloc(P, sizeof *b);
    float *x = malloc(D * sizeof *x);
    if (!A || !b || !x) {
        free(A);
        free(b);
        free(x);
        return 0;
    }
    for (size_t r = 0; r < n; r++) {
        float y;
        dt_data_batch(d, DT_SPLIT_TRAIN, &r, 1, x, &y);
        for (size_t i = 0; i < P; i++) {
            double xi = i < D ? x[i] : 1.0;
            b[i] += xi * y;
            for (size_t j = 0; j <= i; j++) A[i * P + j] += xi * (j < D ? x[j] : 1.0);
        }
    }
    for (size_t i = 0; i < P; i++) A[i * P + i] += 1e-6 * (double)n;
    /* Cholesky A = L L^T in the lower triangle. */
    int ok = 1;
    for (size_t j = 0; j < P && ok; j++) {
        double s = A[j * P + j];
        for (size_t k = 0; k < j; k++) s -= A[j * P + k] * A[j * P + k];
        if (!(s > 0)) { ok = 0; break; }
        A[j * P + j] = sqrt(s);
        for (size_t i = j + 1; i < P; i++) {
            double t = A[i * P + j];
            for (size_t k = 0; k < j; k++) t -= A[i * P + k] * A[j * P + k];
            A[i * P + j] = t / A[j * P + j];
        }
    }
    if (ok) {
        for (size_t i = 0; i < P; i++) { /* L z = b */
            for (size_t k = 0; k < i; k++) b[i] -= A[i * P + k] * b[k];
            b[i] /= A[i * P + i];
        }
        for (size_t i = P; i-- > 0;) { /* L^T w = z */
            for (size_t k = i + 1; k < P; k++) b[i] -= A[k * P + i] * b[k];
            b[i] /= A[i * P + i];
        }
        double se = 0;
        for (size_t r = 0; r < nv; r++) {
            float y;
            dt_data_batch(d, DT_SPLIT_TRAIN_VAL, &r, 1, x, &y);
            double p = b[D];
            for (size_t i = 0; i < D; i++) p += b[i] * x[i];
            se += (p - y) * (p - y);
        }
        *err = nv ? se / (double)nv : 0.0;
    }
    free(A);
    free(b);
    free(x);
    return ok;
}

/* Training steps in one epoch over the train split (at least 1). */
static long steps_per_epoch(const dt_config *c, const dt_data *d)
{
    return dt_steps_per_epoch(dt_data_split_size(d, DT_SPLIT_TRAIN), (size_t)c->train.batch_size);
}

static dt_status linear_baseline_error(dt_stage_ctx *ctx, const dt_data *d, double *err, cJSON *history)
{
    /* Closed form on one input field; several fields go through the engine's linear model. */
    if (d->task == DT_TASK_REGRESSION && ctx->cfg->loss == DT_LOSS_MSE && dt_data_n_fields(d) == 1 &&
        least_squares_error(d, err))
        return DT_OK;
    dt_config c = *ctx->cfg;
    long per_epoch = steps_per_epoch(&c, d), min_epochs = (LINEAR_MIN_STEPS + per_epoch - 1) / per_epoch;
    if (min_epochs < LINEAR_MIN_EPOCHS) min_epochs = LINEAR_MIN_EPOCHS;
    if (c.train.epochs < min_epochs) c.train.epochs = (int)min_epochs;
    c.train.max_steps = 0;
    c.train.lr = LINEAR_LR;
    c.train.optimizer = DT_OPT_ADAM;
    c.train.weight_decay = 0;
    c.train.schedule = DT_SCHED_CONSTANT;
    c.train.warmup_steps = 0;
    c.train.clip_grad_norm = 0;
    if (c.train.patience == 0) c.train.patience = 3;
    dt_model *m = NULL;
    dt_status st = dt_ea_linear_model(d, c.loss, c.train.batch_size, c.seed, &m);
    if (st) return st;
    dt_fit_result fr;
    st = dt_ea_fit(ctx, &c, d, m, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, NULL, NULL, &fr);
    if (!st) cJSON_AddItemToObject(history, "linear", dt_stage_history_json(&fr, DT_SPLIT_TRAIN_VAL));
    dt_eval ev = {0};
    if (!st) st = dt_model_evaluate(m, d, DT_SPLIT_TRAIN_VAL, &ev, NULL, NULL);
    *err = ev.error;
    dt_model_free(m);
    return st;
}

/* The configured model trained on zeroed inputs, scored on train_val.  It
 * can only learn a constant output (the label prior), which takes far less
 * than the model's budget: at most ZERO_INPUT_MAX_EPOCHS epochs, with early
 * stopping after one epoch without improvement. */
#define ZERO_INPUT_MAX_EPOCHS 2
static dt_status zero_input_error(dt_stage_ctx *ctx, const dt_data *d, double *err, int *epochs, cJSON *history)
{
    dt_config c = *ctx->cfg;
    long cap = ZERO_INPUT_MAX_EPOCHS * steps_per_epoch(&c, d);
    if (c.train.epochs > ZERO_INPUT_MAX_EPOCHS) c.train.epochs = ZERO_INPUT_MAX_EPOCHS;
    if (c.train.max_steps > cap) c.train.max_steps = (int)cap;
    c.train.patience = 1;
    dt_model *m = NULL;
    dt_status st = dt_stage_build_model(&c, d, c.train.batch_size, &m);
    if (st) return st;
    dt_fit_result fr = {0};
    st = dt_ea_fit(ctx, &c, d, m, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, dt_ea_zero_inputs, NULL, &fr);
    if (!st) cJSON_AddItemToObject(history, "zero_input", dt_stage_history_json(&fr, DT_SPLIT_TRAIN_VAL));
    dt_eval ev = {0};
    if (!st) st = dt_ea_evaluate(m, d, DT_SPLIT_TRAIN_VAL, dt_ea_zero_inputs, NULL, &ev, NULL, NULL);
    *err = ev.error;
    *epochs = fr.epochs_run;
    dt_model_free(m);
    return st;
}

/* "Better than b by a margin": model < b - margin, margin = max(ABS*scale, Z*SE(b)). */
static double margin_for(const dt_data *d, double baseline, size_t n, double scale, double model_se)
{
    double m = DT_EA_ABS_MARGIN * scale;
    double se = d->task == DT_TASK_CLASSIFICATION ? dt_ea_se(d, baseline, n, NULL) : model_se;
    if (DT_EA_NOISE_Z * se > m) m = DT_EA_NOISE_Z * se;
    return m;
}

/* With several inputs, which one does the trained model ignore?  Each input
 * is zeroed in turn at evaluation (the others intact): an input whose loss
 * costs nothing beyond noise is not used.  Cheaper than retraining with the
 * input removed, and it asks exactly "does this model use it". */
static dt_status per_input_ablation(dt_report *rep, dt_model *m, const dt_data *d, double model_err, double model_se,
                                    size_t nv, double scale)
{
    cJSON *per = cJSON_CreateObject();
    dt_status st = DT_OK;
    for (int i = 0; i < m->n_inputs && !st; i++) {
        dt_eval ev = {0};
        st = dt_ea_evaluate(m, d, DT_SPLIT_TRAIN_VAL, dt_ea_zero_inputs, &i, &ev, NULL, NULL);
        if (st) break;
        const char *name = m->spec.inputs[i].name;
        cJSON_AddNumberToObject(per, name, ev.error);
        double margin = margin_for(d, ev.error, nv, scale, model_se);
        if (model_err > ev.error - margin) {
            dt_finding *f = dt_report_finding(
                rep, "input-independent", DT_SEV_WARNING,
                "input '%s' is ignored: with it zeroed the model's error is %.4f, not worse than its %.4f with it "
                "(margin %.4f)",
                name, ev.error, model_err, margin);
            dt_finding_evidence_str(f, "input", name);
            dt_finding_evidence(f, "model_error", model_err);
            dt_finding_evidence(f, "zeroed_error", ev.error);
            dt_finding_evidence(f, "margin", margin);
            dt_finding_suggest(f, "check that input '%s' carries the signal (its data field, loading, normalization)",
                               name);
            dt_finding_suggest(f, "check that its branch reaches the output (debug: input-unused, dead-relu)");
            dt_finding_suggest(f, "if it is truly uninformative, drop it: a simpler model is easier to debug");
        }
    }
    if (st) cJSON_Delete(per);
    else dt_report_metric_json(rep, "zeroed_input_error", per);
    return st;
}

dt_status dt_stage_compare(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d = NULL;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    const dt_config *cfg = ctx->cfg;
    int cls = d->task == DT_TASK_CLASSIFICATION;
    size_t nv = dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    if (nv == 0) return dt_fail(DT_ECONFIG, "compare: the train_val split is empty (data.splits.train_val)");
    double scale = dt_ea_error_scale(d);

    double const_value, const_err = constant_baseline_error(d, &const_value);
    double lin_err = 0, zero_err = 0;
    int zero_epochs = 0;
    /* Per-epoch curves of every model compare trains (the linear baseline
     * only when the engine trained it, not in closed form). */
    cJSON *history = cJSON_CreateObject();
    dt_report_metric_json(rep, "history", history);
    if ((st = linear_baseline_error(ctx, d, &lin_err, history))) return st;
    if ((st = zero_input_error(ctx, d, &zero_err, &zero_epochs, history))) return st;
    dt_model *m = NULL;
    dt_ea_errors e;
    dt_fit_result fr;
    const char *trained_by = NULL;
    if ((st = dt_ea_trained(ctx, "compare", d, &m, &e, &fr, &trained_by))) return st;
    cJSON_AddItemToObject(history, "model", dt_stage_history_json(&fr, DT_SPLIT_TRAIN_VAL));
    double model_err = e.err[DT_SPLIT_TRAIN_VAL], model_se = e.se[DT_SPLIT_TRAIN_VAL];

    const char *const_name = cls ? "majority" : "mean";
    char key[64];
    snprintf(key, sizeof key, "baseline_%s_error", const_name);
    dt_report_metric(rep, key, const_err);
    dt_report_metric(rep, cls ? "baseline_majority_class" : "baseline_mean_value", const_value);
    if (cls) {
        char name[32];
        int dense = 0;   /* the dense class whose original label is the majority's */
        for (int c = 0; c < dt_data_classes(d); c++)
            if (dt_data_original_class(d, c) == (int)const_value) dense = c;
        dt_report_metric_str(rep, "baseline_majority_class_name", dt_stage_class_name(cfg, d, dense, name, sizeof name));
    }
    dt_report_metric(rep, "baseline_linear_error", lin_err);
    dt_report_metric(rep, "baseline_zero_input_error", zero_err);
    dt_report_metric(rep, "baseline_zero_input_epochs", zero_epochs);
    dt_report_metric(rep, "model_error", model_err);
    dt_report_metric(rep, "model_error_se", model_se);
    dt_report_metric_str(rep, "model_trained_by", trained_by);
    dt_report_metric_str(rep, "split", "train_val");
    dt_report_metric_str(rep, "error_metric", cls ? "misclassified fraction" : "mean squared error");
    double target_err = 0, human_err = 0;
    int has_target = dt_ea_target_error(cfg, &target_err), has_human = dt_ea_human_error(cfg, &human_err);
    if (has_target) {
        dt_report_metric(rep, "target_error", target_err);
        dt_report_metric_str(rep, "target_source", cfg->target.source);
    } else {
        dt_report_metric_json(rep, "target_error", cJSON_CreateNull());
    }
    if (has_human) dt_report_metric(rep, "human_level_error", human_err);

    /* below-baseline: the constant predictor is an error, the linear model a warning. */
    double m_const = margin_for(d, const_err, nv, scale, model_se);
    if (model_err > const_err - m_const) {
        dt_finding *f = dt_report_finding(
            rep, "below-baseline", DT_SEV_ERROR,
            "model error %.4f on train_val is not better than the %s baseline (%.4f) by the margin %.4f",
            model_err, const_name, const_err, m_const);
        dt_finding_evidence_str(f, "baseline", const_name);
        dt_finding_evidence(f, "model_error", model_err);
        dt_finding_evidence(f, "baseline_error", const_err);
        dt_finding_evidence(f, "margin", m_const);
        dt_finding_suggest(f, "check that labels match their inputs (shuffled or misaligned files, wrong label column)");
        dt_finding_suggest(f, "go back to overfit-batch: a model that cannot beat a constant has a bug or cannot learn");
        dt_finding_suggest(f, "check the learning rate and that training ran long enough (train.epochs)");
    }
    /* Only when a linear model leaves room to beat it: its error is above the
     * target (0 when unknown) by the margin. */
    double m_lin = margin_for(d, lin_err, nv, scale, model_se);
    double floor_err = 0;
    if (!dt_ea_target_error(cfg, &floor_err)) floor_err = 0;
    if (model_err > lin_err - m_lin && lin_err > floor_err + m_lin) {
        dt_finding *f = dt_report_finding(
            rep, "below-baseline", DT_SEV_WARNING,
            "model error %.4f on train_val is not better than a linear model's (%.4f) by the margin %.4f",
            model_err, lin_err, m_lin);
        dt_finding_evidence_str(f, "baseline", "linear");
        dt_finding_evidence(f, "model_error", model_err);
        dt_finding_evidence(f, "baseline_error", lin_err);
        dt_finding_evidence(f, "margin", m_lin);
        dt_finding_suggest(f, "if the problem is linear, the linear model may be enough; otherwise the network "
                              "underfits: see decompose (bias) and improve");
        dt_finding_suggest(f, "train longer or raise the learning rate (train.epochs, train.lr)");
    }
    /* input-independent: the model must beat its own zeroed-input version. */
    double m_zero = margin_for(d, zero_err, nv, scale, model_se);
    if (model_err > zero_err - m_zero) {
        dt_finding *f = dt_report_finding(
            rep, "input-independent", DT_SEV_ERROR,
            "model error %.4f is not better than the same model trained on zeroed inputs (%.4f) by the margin "
            "%.4f: it does not use its inputs",
            model_err, zero_err, m_zero);
        dt_finding_evidence(f, "model_error", model_err);
        dt_finding_evidence(f, "zero_input_error", zero_err);
        dt_finding_evidence(f, "margin", m_zero);
        dt_finding_suggest(f, "check that inputs reach the model (loading, normalization, an all-constant feature set)");
        dt_finding_suggest(f, "check that labels belong to their inputs (shuffled labels learn only the class prior)");
        dt_finding_suggest(f, "see debug: batch-dependency, dead-relu and vanishing-gradients");
    }
    if (m->n_inputs > 1) {
        st = per_input_ablation(rep, m, d, model_err, model_se, nv, scale);
        if (st) return st;
    }
    /* below-known-result. */
    if (has_target) {
        double m_known = KNOWN_ABS * scale;
        double se_t = cls ? dt_ea_se(d, target_err, nv, NULL) : model_se;
        if (DT_EA_NOISE_Z * se_t > m_known) m_known = DT_EA_NOISE_Z * se_t;
        dt_report_metric(rep, "target_margin", m_known);
        if (model_err > target_err + m_known) {
            dt_finding *f = dt_report_finding(
                rep, "below-known-result", DT_SEV_WARNING,
                "model error %.4f is worse than the known result %.4f%s%s%s by more than the margin %.4f",
                model_err, target_err, cfg->target.source[0] ? " (" : "", cfg->target.source,
                cfg->target.source[0] ? ")" : "", m_known);
            dt_finding_evidence(f, "model_error", model_err);
            dt_finding_evidence(f, "target_error", target_err);
            dt_finding_evidence(f, "margin", m_known);
            if (cfg->target.source[0]) dt_finding_evidence_str(f, "source", cfg->target.source);
            dt_finding_suggest(f, "run decompose to see whether bias, variance or shift causes the gap");
            dt_finding_suggest(f, "compare the setup with the source's (architecture, epochs, preprocessing, "
                                  "augmentation)");
            dt_finding_suggest(f, "train longer with early stopping (train.epochs, train.early_stopping.patience)");
        }
    } else {
        dt_finding *f = dt_report_finding(rep, "no-known-result", DT_SEV_INFO,
                                          "no target.value given: the model is compared with baselines only");
        dt_finding_suggest(f, "set target: {metric, value, source} from an official implementation on a similar "
                              "dataset, a paper, or human level");
    }
    return DT_OK;
}
