/* The plain-words verdict (report.h).  Every sentence people read is in the
 * table below, keyed by finding id or by a situation ("@..."), as a template
 * whose {placeholders} are filled from the finding's evidence (or the
 * situation's numbers):
 *
 *   {key:e}  an error: a percentage for classification, the MSE for regression
 *   {key:p}  a fraction as a percentage      {key:n}  a number (%.4g)
 *   {key:i}  an integer                      {key:s}  a string
 *
 * An id may have several rows: the first whose placeholders all exist is
 * used; a finding without a usable row is told by its own message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct phrase {
    const char *key;
    const char *text;
} phrase;

static const phrase phrases[] = {
    /* decompose */
    {"high-bias", "high bias (underfitting): train error {train_error:e} against an irreducible {irreducible_error:e}"},
    {"high-variance", "high variance (overfitting): train {train_error:e}, train-val {train_val_error:e}"},
    {"distribution-shift", "distribution shift: train-val {train_val_error:e}, test-val {test_val_error:e}"},
    {"val-overfitting", "the validation set was overfit: test-val {test_val_error:e}, test {test_error:e}"},
    {"not-converged", "not converged: train-val error still falling ({val_error_start:e} -> {val_error_end:e} over the last {window:i} epochs)"},
    {"training-oscillates", "training oscillates: {swings:i} swings of the train-val error in {epochs:i} epochs (largest {largest_swing:e})"},
    {"label-noise", "about {estimated_share:p} of the labels look wrong ({flagged:i} of {rows:i} held-out rows, confident learning)"},
    /* compare */
    {"below-baseline", "not clearly better than the {baseline:s} baseline: model {model_error:e}, baseline {baseline_error:e} (it must win by {margin:e})"},
    {"below-baseline", "not clearly better than the {baseline:s} baseline: model {model_error:e}, baseline {baseline_error:e}"},
    {"input-independent", "input '{input:s}' is ignored: error {model_error:e} with it, {zeroed_error:e} with it zeroed"},
    {"input-independent", "the model ignores its inputs: error {model_error:e}, {zero_input_error:e} with the inputs zeroed"},
    {"below-known-result", "worse than the known result ({source:s}): model {model_error:e}, target {target_error:e}"},
    {"below-known-result", "worse than the known result: model {model_error:e}, target {target_error:e}"},
    /* overfit-batch */
    {"overfit-loss-increases", "cannot overfit one batch: the loss goes up ({initial_loss:n} -> {tail_loss:n} in {steps:i} steps)"},
    {"overfit-loss-explodes", "cannot overfit one batch: the loss explodes ({initial_loss:n} -> {max_loss:n} in {steps:i} steps)"},
    {"overfit-loss-explodes", "the loss exploded on the way to fitting one batch ({initial_loss:n} -> {max_loss:n})"},
    {"overfit-loss-oscillates", "cannot overfit one batch: the loss oscillates ({initial_loss:n} -> {tail_loss:n} in {steps:i} steps)"},
    {"overfit-loss-plateaus", "cannot overfit one batch: the loss plateaus ({initial_loss:n} -> {tail_loss:n} in {steps:i} steps)"},
    {"overfit-not-converged", "one batch is not fitted yet: the loss still falls ({initial_loss:n} -> {tail_loss:n} in {steps:i} steps)"},
    /* debug */
    {"labels-out-of-range", "{count:i} {split:s} labels belong to a class the train split never has"},
    {"labels-out-of-range", "{count:i} labels are outside the {classes:i} classes (first in {first_split:s})"},
    {"class-imbalance", "imbalanced classes: {max_count:i} samples against {min_count:i} ({ratio:n}:1)"},
    {"train-test-overlap", "{count:i} test samples ({share:p}) also appear in the training data"},
    {"inputs-not-normalized", "input '{input:s}' is not normalized (max |x| {max_abs:n})"},
    {"inputs-not-normalized", "the inputs are not normalized (max |x| {max_abs:n})"},
    {"nan-or-inf", "NaN or Inf in the {pass:s} pass at layer {layer:s} (op {op:s}, step {step:i})"},
    {"nan-or-inf", "NaN or Inf in input '{input:s}' ({count:i} values)"},
    {"output-shape-mismatch", "the model output has shape {shape:s}, not [batch, {expected_width:i}]"},
    {"softmax-before-logits-loss", "softmax before cross_entropy, which takes logits"},
    {"init-loss-off", "the loss at initialization is {init_loss:n}, expected about {expected:n}"},
    {"vanishing-gradients", "vanishing gradients: median mean |g| over the layers {median_mean_abs:n} ({phase:s})"},
    {"vanishing-gradients", "vanishing gradients: first/last layer gradient norm ratio {ratio:n} ({phase:s})"},
    {"exploding-gradients", "exploding gradients: median mean |g| over the layers {median_mean_abs:n} ({phase:s})"},
    {"exploding-gradients", "exploding gradients: first/last layer gradient norm ratio {ratio:n} ({phase:s})"},
    {"gradient-check-failed", "the gradient check failed on {failed:i} of {checked:i} elements (worst: {worst_param:s})"},
    {"input-unused", "input '{input:s}' does not reach the loss (its gradient is zero)"},
    {"batch-dependency", "samples leak into each other: the output of sample {sample:i} depends on sample {other_sample:i}"},
    {"train-eval-mismatch", "training and evaluation mode disagree"},
    {"update-ratio-off", "updates of {param:s} are off scale: log10(update/weight) = {log10_ratio:n}"},
    {"dead-relu", "dead ReLUs in layer {layer:s}: {zero_fraction:p} of its outputs are zero, {dead_fraction:p} of its units never activate"},
    {"dead-relu", "dead ReLUs: {dead_fraction:p} of the units of layer {layer:s} never activate"},
    {"saturated-activations", "saturated {activation:s}: {saturated_fraction:p} of the units of layer {layer:s} have |pre-activation| >= 5 ({phase:s})"},
    {"symmetric-init", "symmetric init: {identical_units:i} of the {units:i} units of layer {layer:s} stay identical"},
    {"no-nonlinearity", "no activation between layers {first_layer:s} and {second_layer:s}: they compute one linear map"},
    {"output-activation-mismatch", "{activation:s} on the logits of cross_entropy (layer {layer:s}): p <= {max_probability:n}, loss >= {min_loss:n}"},
    {"output-activation-mismatch", "{activation:s} on the logits of cross_entropy over {classes:i} classes (layer {layer:s})"},
    {"output-activation-mismatch", "the {activation:s} output (layer {layer:s}) cannot reach {share_outside:p} of the targets"},
    {"loss-task-mismatch", "cross_entropy on a quantity: errors land {mean_error_distance:n} label units from the truth ({ratio:n} of random)"},
    {"loss-task-mismatch", "task regression on {distinct_targets:i} integer targets: they look like class ids"},
    {"loss-task-mismatch", "loss {loss:s} on class labels (task {task:s}, {classes:i} classes)"},
    /* improve, lr-find, tune */
    {"lr-find-no-suggestion", "the lr range test gives no learning rate to suggest ({points:i} points on its curve)"},
    {"no-remedy-helped", "none of the {attempts:i} remedies tried lowered the error {start_error:e}"},
    {"tune-no-healthy-trial", "every one of the {trials:i} tuning trials was sick or failed"},
    {"tune-failed-trials", "{failed:i} tuning trials failed"},
    {"tune-best-at-edge", "the tuned best lies at the edge of its range ({value:n} in [{lo:n}, {hi:n}])"},

    /* situations */
    {"@clean", "no problem found: test error {test_error:e} (train {train_error:e}, train-val {train_val_error:e})"},
    {"@clean-compare", "no problem found: model error {model_error:e} on train-val beats every baseline"},
    {"@clean-stage", "{stage:s} passed: no problem found"},
    {"@improve-start", "{dominant:s} dominated: {split:s} error {start_error:e} before any remedy"},
    {"@error", "{stage:s} stopped with an error: {message:s}"},
    {"@error-step", "fix what the error names, then run again"},
    {"@stopped", "the run stopped after {stage:s} failed; skipped: {skipped:s} (they would only measure the bug)"},
    {"@also", "{list:s}"},
    {"@hardest-class", "{name:s}: {error:e} error on {split:s} ({share:p} of that split's errors)"},
    {"@kept", "{remedies:s}: {split:s} error {start_error:e} -> {best_error:e}"},
    {"@run-next", "dnntrouble run {file:s}"},
    {"@none-kept", "none of {attempts:i} remedies for {dominant:s} helped (tried: {tried:s})"},
    {"@nothing-to-improve", "nothing to improve: no error term is above its threshold"},
    {"@shift-only", "distribution shift dominates: no training change fixes it (see the test-val error analysis)"},
    {"@tuned", "{params:s}: {metric:s} {score:s} (best of {trials:i} trials); config {file:s}"},
    {"@tuned-nofile", "{params:s}: {metric:s} {score:s} (best of {trials:i} trials)"},
    {"@lr-found", "lr-find suggests {suggested_lr:n} (train.lr {train_lr:n}; range test, {rule:s} rule)"},
    {"@gate", "{name:s} ({rule:s}) tripped: {actual:s}"},
    {"@report", "{file:s}"},
};

/* ----------------------------------------------------------- templates */

typedef struct fill_ctx {
    int regression;
} fill_ctx;

/* Placeholder value as text; 0 when the key is missing or has the wrong type. */
static int placeholder(const cJSON *vars, const char *key, char kind, const fill_ctx *fc, char *out, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(vars, key);
    if (!v) return 0;
    if (kind == 's') {
        if (cJSON_IsString(v)) snprintf(out, size, "%s", v->valuestring);
        else if (cJSON_IsNumber(v)) snprintf(out, size, "%.4g", v->valuedouble);
        else return 0;
        return 1;
    }
    if (!cJSON_IsNumber(v)) return 0;
    double x = v->valuedouble;
    switch (kind) {
    case 'e': dt_fmt_error(x, fc->regression, out, size); break;
    case 'p': snprintf(out, size, "%.0f%%", 100 * x); break;
    case 'i': snprintf(out, size, "%.0f", x); break;
    default: snprintf(out, size, "%.4g", x); break;
    }
    return 1;
}

/* Fills template t from vars into out; 0 when a placeholder is missing. */
static int fill(const char *t, const cJSON *vars, const fill_ctx *fc, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    while (*t) {
        if (*t != '{') {
            if (n + 1 < size) out[n++] = *t;
            t++;
            continue;
        }
        const char *end = strchr(t, '}');
        if (!end) return 0;
        char key[64], val[512];
        size_t klen = (size_t)(end - t - 1);
        if (klen >= sizeof key) return 0;
        memcpy(key, t + 1, klen);
        key[klen] = '\0';
        char kind = 's';
        char *colon = strchr(key, ':');
        if (colon) {
            kind = colon[1];
            *colon = '\0';
        }
        if (!placeholder(vars, key, kind, fc, val, sizeof val)) return 0;
        for (const char *c = val; *c; c++)
            if (n + 1 < size) out[n++] = *c;
        t = end + 1;
    }
    out[n < size ? n : size - 1] = '\0';
    return 1;
}

/* The first row for key whose placeholders vars fills; 0 when none. */
static int say(const char *key, const cJSON *vars, const fill_ctx *fc, char *out, size_t size)
{
    for (size_t i = 0; i < sizeof phrases / sizeof *phrases; i++)
        if (strcmp(phrases[i].key, key) == 0 && fill(phrases[i].text, vars, fc, out, size)) return 1;
    return 0;
}

/* ----------------------------------------------------------- building */

static void note(dt_run_verdict *v, const char *label, const char *text)
{
    if (v->n_notes >= DT_VERDICT_NOTES || !text[0]) return;
    snprintf(v->notes[v->n_notes].label, sizeof v->notes[v->n_notes].label, "%s", label);
    snprintf(v->notes[v->n_notes].text, sizeof v->notes[v->n_notes].text, "%s", text);
    v->n_notes++;
}

static void situation(dt_run_verdict *v, const char *label, const char *key, const cJSON *vars, const fill_ctx *fc)
{
    char text[1200];
    if (say(key, vars, fc, text, sizeof text)) note(v, label, text);
}

/* A finding of a report, in plain words (the table, else its message). */
static void finding_words(const cJSON *f, const fill_ctx *fc, char *out, size_t size)
{
    const char *id = dt_rj_str(f, "id", "?");
    if (!say(id, cJSON_GetObjectItemCaseSensitive(f, "evidence"), fc, out, size))
        snprintf(out, size, "%s", dt_rj_str(f, "message", id));
}

static const char *const term_ids[][2] = {
    {"bias", "high-bias"}, {"variance", "high-variance"}, {"shift", "distribution-shift"},
    {"val_overfit", "val-overfitting"}};

/* Warnings that name a broken set-up or run rather than a model to grow:
 * while one holds, decompose's terms describe the bug (noisy labels inflate
 * bias, an unfinished or symmetric model has not shown its capacity), so it
 * goes before the dominant term. */
static int run_level(const char *id, const char *dominant)
{
    static const char *const ids[] = {"label-noise", "not-converged", "training-oscillates", "loss-task-mismatch",
                                      "no-nonlinearity", "symmetric-init", "saturated-activations"};
    /* Noisy labels explain a high bias (the train error cannot fall below
     * the noise); variance or shift stay the first thing to fix. */
    if (!strcmp(id, "label-noise") && strcmp(dominant, "bias") && strcmp(dominant, "none") && dominant[0]) return 0;
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (!strcmp(id, ids[i])) return 1;
    return 0;
}

/* The diagnosis: the first error finding in run order; else the first
 * run-level warning (run_level); else the finding of decompose's dominant
 * term; else the first warning. */
static const cJSON *pick_diagnosis(const cJSON *const *reports, int n, const cJSON **stage)
{
    for (int pass = 0; pass < 4; pass++)
        for (int i = 0; i < n; i++) {
            const cJSON *r = reports[i], *f;
            if (!r) continue;
            const char *dominant = dt_rj_str(r, "metrics.dominant", "");
            const char *want = NULL;
            if (pass == 2) {
                if (strcmp(dt_rj_str(r, "stage", ""), "decompose") != 0) continue;
                for (size_t t = 0; t < sizeof term_ids / sizeof *term_ids; t++)
                    if (strcmp(term_ids[t][0], dominant) == 0) want = term_ids[t][1];
                if (!want) continue;
            }
            cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r, "findings"))
            {
                const char *sev = dt_rj_str(f, "severity", "");
                int hit = pass == 0   ? strcmp(sev, "error") == 0
                          : pass == 1 ? strcmp(sev, "warning") == 0 && run_level(dt_rj_str(f, "id", ""), dominant)
                          : pass == 2 ? strcmp(dt_rj_str(f, "id", ""), want) == 0
                                      : strcmp(sev, "warning") == 0;
                if (hit) {
                    *stage = r;
                    return f;
                }
            }
        }
    return NULL;
}

static void add_also(dt_run_verdict *v, const cJSON *const *reports, int n, const cJSON *diag, const fill_ctx *fc)
{
    char list[1100] = "";
    int count = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *f;
        if (!reports[i]) continue;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(reports[i], "findings"))
        {
            const char *sev = dt_rj_str(f, "severity", "");
            if (f == diag || (strcmp(sev, "error") && strcmp(sev, "warning"))) continue;
            if (count++ >= 4) continue;
            char words[400];
            finding_words(f, fc, words, sizeof words);
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s (%s, %s)", len ? "; " : "", words,
                     dt_rj_str(reports[i], "stage", "?"), dt_rj_str(f, "id", "?"));
        }
    }
    if (count > 4) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "; and %d more", count - 4);
    }
    if (!count) return;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "list", list);
    situation(v, "Also found", "@also", vars, fc);
    cJSON_Delete(vars);
}

/* The class with the largest error on test_val (else train_val), by name. */
static void add_hardest_class(dt_run_verdict *v, const cJSON *dec, const fill_ctx *fc)
{
    static const char *const splits[] = {"test_val", "train_val"};
    for (int s = 0; s < 2; s++) {
        const cJSON *pc = dt_rj_get(dec, "metrics.per_class"), *e, *worst = NULL;
        pc = cJSON_GetObjectItemCaseSensitive(pc, splits[s]);
        int classes = cJSON_GetArraySize(pc);
        if (classes < 2) continue;
        cJSON_ArrayForEach(e, pc)
            if (dt_rj_num(e, "n", 0) > 0 && (!worst || dt_rj_num(e, "error", 0) > dt_rj_num(worst, "error", 0)))
                worst = e;
        if (!worst || dt_rj_num(worst, "error", 0) <= 0) return;
        cJSON *vars = cJSON_CreateObject();
        char num[32];
        snprintf(num, sizeof num, "%.0f", dt_rj_num(worst, "class", -1));
        cJSON_AddStringToObject(vars, "name", dt_rj_str(worst, "name", num));
        cJSON_AddNumberToObject(vars, "error", dt_rj_num(worst, "error", 0));
        cJSON_AddNumberToObject(vars, "share", dt_rj_num(worst, "share_of_errors", 0));
        cJSON_AddStringToObject(vars, "split", splits[s]);
        situation(v, "Hardest class", "@hardest-class", vars, fc);
        cJSON_Delete(vars);
        return;
    }
}

static void add_improve(dt_run_verdict *v, const cJSON *imp, const char *out_dir, const fill_ctx *fc)
{
    if (!imp) return;
    const cJSON *attempts = dt_rj_get(imp, "metrics.attempts"), *a, *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(imp, "findings"))
    {
        const char *id = dt_rj_str(f, "id", "");
        if (!strcmp(id, "nothing-to-improve")) situation(v, "Improve", "@nothing-to-improve", f, fc);
        if (!strcmp(id, "shift-error-analysis")) situation(v, "Improve", "@shift-only", f, fc);
    }
    char kept[800] = "", tried[800] = "";
    int n_att = 0;
    cJSON_ArrayForEach(a, attempts)
    {
        n_att++;
        char *dst = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "kept")) ? kept : tried;
        size_t len = strlen(dst);
        if (dst == kept)
            snprintf(dst + len, 800 - len, "%s%s (%s)", len ? ", " : "", dt_rj_str(a, "remedy", "?"),
                     dt_rj_str(a, "change", "?"));
        else {
            char after[32];
            dt_fmt_error(dt_rj_num(a, "after", NAN), fc->regression, after, sizeof after);
            snprintf(dst + len, 800 - len, "%s%s -> %s", len ? ", " : "", dt_rj_str(a, "remedy", "?"), after);
        }
    }
    if (!n_att) return;
    cJSON *vars = cJSON_CreateObject();
    const char *split = dt_rj_str(imp, "metrics.split", "train_val");
    cJSON_AddStringToObject(vars, "split", split);
    cJSON_AddNumberToObject(vars, "start_error", dt_rj_num(imp, "metrics.start_error", NAN));
    cJSON_AddNumberToObject(vars, "best_error", dt_rj_num(imp, "metrics.best_error", NAN));
    cJSON_AddStringToObject(vars, "remedies", kept);
    cJSON_AddNumberToObject(vars, "attempts", n_att);
    cJSON_AddStringToObject(vars, "dominant", dt_rj_str(imp, "metrics.dominant", "?"));
    cJSON_AddStringToObject(vars, "tried", tried);
    if (kept[0]) {
        situation(v, "Improve kept", "@kept", vars, fc);
        const char *file = dt_rj_str(imp, "artifacts.best_config", NULL);
        if (file && out_dir) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", out_dir, file);
            cJSON_AddStringToObject(vars, "file", path);
            situation(v, "Run next", "@run-next", vars, fc);
        }
    } else {
        situation(v, "Improve", "@none-kept", vars, fc);
    }
    cJSON_Delete(vars);
}

static void add_tune(dt_run_verdict *v, const cJSON *tune, const char *out_dir, const fill_ctx *fc)
{
    const cJSON *best = dt_rj_get(tune, "metrics.best"), *p;
    if (!cJSON_IsObject(best)) return;
    char params[600] = "", score[32];
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(best, "params"))
    {
        size_t len = strlen(params);
        if (cJSON_IsNumber(p)) snprintf(params + len, sizeof params - len, "%s%s=%.4g", len ? ", " : "", p->string, p->valuedouble);
        else snprintf(params + len, sizeof params - len, "%s%s=%s", len ? ", " : "", p->string, cJSON_GetStringValue(p));
    }
    const char *metric = dt_rj_str(best, "score_metric", "train_val_error");
    double sc = dt_rj_num(best, "score", NAN);
    if (strstr(metric, "accuracy")) snprintf(score, sizeof score, "%.1f%%", 100 * sc);
    else dt_fmt_error(sc, fc->regression, score, sizeof score);
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "params", params[0] ? params : "(no parameters)");
    /* "train_val_error" -> "train_val error": the split keeps its name. */
    char words[64];
    snprintf(words, sizeof words, "%s", metric);
    char *last = strrchr(words, '_');
    if (last) *last = ' ';
    cJSON_AddStringToObject(vars, "metric", words);
    cJSON_AddStringToObject(vars, "score", score);
    cJSON_AddNumberToObject(vars, "trials", dt_rj_num(tune, "metrics.trials", 0));
    const char *file = dt_rj_str(tune, "artifacts.best", NULL);
    if (file && out_dir) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", out_dir, file);
        cJSON_AddStringToObject(vars, "file", path);
        situation(v, "Tuned best", "@tuned", vars, fc);
    } else {
        situation(v, "Tuned best", "@tuned-nofile", vars, fc);
    }
    cJSON_Delete(vars);
}

/* lr-find's suggestion (its absence is a warning finding, said elsewhere). */
static void add_lr_find(dt_run_verdict *v, const cJSON *lf, const fill_ctx *fc)
{
    double lr = dt_rj_num(lf, "metrics.suggested_lr", NAN);
    if (!isfinite(lr)) return;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddNumberToObject(vars, "suggested_lr", lr);
    cJSON_AddNumberToObject(vars, "train_lr", dt_rj_num(lf, "metrics.sweep.train_lr", NAN));
    cJSON_AddStringToObject(vars, "rule", dt_rj_str(lf, "metrics.rule", "?"));
    situation(v, "Learning rate", "@lr-found", vars, fc);
    cJSON_Delete(vars);
}

static void add_summary(dt_run_verdict *v, const cJSON *summary, const fill_ctx *fc)
{
    const cJSON *g, *e;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(summary, "gates"))
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed"))) continue;
        cJSON *vars = cJSON_CreateObject();
        char rule[96], actual[64];
        const char *kind = dt_rj_str(g, "kind", "?");
        if (!strcmp(kind, "stage")) snprintf(rule, sizeof rule, "at worst %s", dt_rj_str(g, "allowed", "?"));
        else snprintf(rule, sizeof rule, "%s %.4g", kind, dt_rj_num(g, "limit", NAN));
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(g, "actual");
        if (cJSON_IsNumber(act)) snprintf(actual, sizeof actual, "%.4g", act->valuedouble);
        else if (cJSON_IsString(act)) snprintf(actual, sizeof actual, "%s", act->valuestring);
        else snprintf(actual, sizeof actual, "missing");
        cJSON_AddStringToObject(vars, "name", dt_rj_str(g, "name", "?"));
        cJSON_AddStringToObject(vars, "rule", rule);
        cJSON_AddStringToObject(vars, "actual", actual);
        situation(v, "Gate", "@gate", vars, fc);
        cJSON_Delete(vars);
    }
    /* Stages the run did not reach, and why. */
    char skipped[400] = "", reason[200] = "";
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(summary, "stages"))
    {
        if (strcmp(dt_rj_str(e, "status", ""), "skipped")) continue;
        size_t len = strlen(skipped);
        snprintf(skipped + len, sizeof skipped - len, "%s%s", len ? ", " : "", dt_rj_str(e, "stage", "?"));
        if (!reason[0]) snprintf(reason, sizeof reason, "%s", dt_rj_str(e, "reason", ""));
    }
    const char *failed = strstr(reason, " failed");
    if (skipped[0] && failed) {
        cJSON *vars = cJSON_CreateObject();
        char stage[64];
        snprintf(stage, sizeof stage, "%.*s", (int)(failed - reason), reason);
        cJSON_AddStringToObject(vars, "stage", stage);
        cJSON_AddStringToObject(vars, "skipped", skipped);
        situation(v, "Stopped", "@stopped", vars, fc);
        cJSON_Delete(vars);
    }
}

void dt_verdict_build(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir,
                      dt_run_verdict *v)
{
    memset(v, 0, sizeof *v);
    fill_ctx fc = {.regression = dt_rj_regression(reports, n)};
    v->status = DT_VERDICT_PASS;
    for (int i = 0; i < n; i++) {
        int s = reports[i] ? dt_verdict_parse(dt_rj_str(reports[i], "status", "")) : -1;
        if (s > (int)v->status && s != DT_VERDICT_SKIPPED) v->status = (dt_verdict)s;
    }
    if (summary) {
        int s = dt_verdict_parse(dt_rj_str(summary, "status", ""));
        if (s >= 0) v->status = (dt_verdict)s;
    }

    const cJSON *err = summary ? cJSON_GetObjectItemCaseSensitive(summary, "error") : NULL;
    const cJSON *stage = NULL, *diag = pick_diagnosis(reports, n, &stage);
    if (err) {
        /* A stage that stopped with an error comes first: nothing after it ran. */
        const cJSON *e, *errored = NULL;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(summary, "stages"))
            if (cJSON_GetObjectItemCaseSensitive(e, "error") && !errored) errored = e;
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "stage", errored ? dt_rj_str(errored, "stage", "a stage") : "a stage");
        cJSON_AddStringToObject(vars, "message", dt_rj_str(err, "message", "?"));
        say("@error", vars, &fc, v->diagnosis, sizeof v->diagnosis);
        snprintf(v->diagnosis_stage, sizeof v->diagnosis_stage, "%s", dt_rj_str(vars, "stage", ""));
        say("@error-step", vars, &fc, v->steps[0], sizeof v->steps[0]);
        v->n_steps = 1;
        cJSON_Delete(vars);
        diag = NULL;
    } else if (diag) {
        snprintf(v->diagnosis_id, sizeof v->diagnosis_id, "%s", dt_rj_str(diag, "id", ""));
        snprintf(v->diagnosis_stage, sizeof v->diagnosis_stage, "%s", dt_rj_str(stage, "stage", ""));
        finding_words(diag, &fc, v->diagnosis, sizeof v->diagnosis);
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(diag, "suggestions"))
            if (v->n_steps < DT_VERDICT_STEPS && cJSON_IsString(s))
                snprintf(v->steps[v->n_steps++], sizeof v->steps[0], "%s", s->valuestring);
    } else {
        const cJSON *dec = dt_rj_stage(reports, n, "decompose"), *cmp = dt_rj_stage(reports, n, "compare");
        const cJSON *imp = dt_rj_stage(reports, n, "improve");
        cJSON *vars = cJSON_CreateObject();
        const char *key = "@clean-stage";
        if (!dec && imp && cJSON_GetArraySize(dt_rj_get(imp, "metrics.attempts")) > 0) {
            /* improve alone: what it worked on is the diagnosis. */
            key = "@improve-start";
            cJSON_AddStringToObject(vars, "dominant", dt_rj_str(imp, "metrics.dominant", "?"));
            cJSON_AddStringToObject(vars, "split", dt_rj_str(imp, "metrics.split", "train_val"));
            cJSON_AddNumberToObject(vars, "start_error", dt_rj_num(imp, "metrics.start_error", NAN));
        } else if (dec) {
            key = "@clean";
            cJSON_AddNumberToObject(vars, "test_error", dt_rj_num(dec, "metrics.test_error", NAN));
            cJSON_AddNumberToObject(vars, "train_error", dt_rj_num(dec, "metrics.train_error", NAN));
            cJSON_AddNumberToObject(vars, "train_val_error", dt_rj_num(dec, "metrics.train_val_error", NAN));
        } else if (cmp) {
            key = "@clean-compare";
            cJSON_AddNumberToObject(vars, "model_error", dt_rj_num(cmp, "metrics.model_error", NAN));
        }
        cJSON_AddStringToObject(vars, "stage", n == 1 && reports[0] ? dt_rj_str(reports[0], "stage", "the run")
                                                                   : "the run");
        say(key, vars, &fc, v->diagnosis, sizeof v->diagnosis);
        cJSON_Delete(vars);
        /* Next steps from the advice the stages gave (no known result, nothing to improve). */
        for (int i = 0; i < n; i++) {
            const cJSON *f, *s;
            if (!reports[i]) continue;
            cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(reports[i], "findings"))
            {
                const char *id = dt_rj_str(f, "id", "");
                if (strcmp(id, "no-known-result") && strcmp(id, "nothing-to-improve")) continue;
                cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(f, "suggestions"))
                {
                    int dup = 0;
                    for (int k = 0; k < v->n_steps; k++) dup |= strcmp(v->steps[k], cJSON_GetStringValue(s)) == 0;
                    if (!dup && v->n_steps < DT_VERDICT_STEPS && cJSON_IsString(s))
                        snprintf(v->steps[v->n_steps++], sizeof v->steps[0], "%s", s->valuestring);
                }
            }
        }
    }
    if (summary) add_summary(v, summary, &fc);
    add_also(v, reports, n, diag, &fc);
    const cJSON *dec = dt_rj_stage(reports, n, "decompose");
    if (dec && !fc.regression) add_hardest_class(v, dec, &fc);
    add_improve(v, dt_rj_stage(reports, n, "improve"), out_dir, &fc);
    add_lr_find(v, dt_rj_stage(reports, n, "lr-find"), &fc);
    add_tune(v, dt_rj_stage(reports, n, "tune"), out_dir, &fc);
    if (out_dir) {
        cJSON *vars = cJSON_CreateObject();
        char path[1200];
        snprintf(path, sizeof path, "%s/report.html", out_dir);
        cJSON_AddStringToObject(vars, "file", path);
        situation(v, "Report", "@report", vars, &fc);
        cJSON_Delete(vars);
    }
}

char *dt_verdict_format(const dt_run_verdict *v)
{
    dt_sbuf b = {0};
    dt_sb_printf(&b, "verdict: %s\n", dt_verdict_name(v->status));
    if (v->diagnosis[0]) {
        dt_sb_printf(&b, "  Diagnosis: %s", v->diagnosis);
        if (v->diagnosis_id[0]) dt_sb_printf(&b, "  [%s: %s]", v->diagnosis_stage, v->diagnosis_id);
        dt_sb_puts(&b, "\n");
    }
    if (v->n_steps) dt_sb_puts(&b, "  Next steps:\n");
    for (int i = 0; i < v->n_steps; i++) dt_sb_printf(&b, "    %d. %s\n", i + 1, v->steps[i]);
    for (int i = 0; i < v->n_notes; i++) dt_sb_printf(&b, "  %s: %s\n", v->notes[i].label, v->notes[i].text);
    if (b.oom) {
        dt_sb_free(&b);
        return NULL;
    }
    if (!b.p) dt_sb_puts(&b, "");
    return b.p;
}
