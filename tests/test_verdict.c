/* The plain-words verdict of each constructed case: it names the diagnosis
 * (with the numbers that show it) and ranks the finding's suggestions as
 * next steps; improve's kept change, the file to run next, class names and
 * regression units come out as people read them.  The cases are the stage
 * tests' own (tests/test_stage_*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_stage_util.h"

static dt_run_verdict *verdict_of(const st_run *r, const char *out_dir)
{
    dt_run_verdict *v = malloc(sizeof *v);
    assert_non_null(v);
    const cJSON *reports[1] = {r->json};
    dt_verdict_build(reports, 1, NULL, out_dir, v);
    char *text = dt_verdict_format(v);
    assert_non_null(text);
    print_message("%s", text);
    free(text);
    return v;
}

/* The diagnosis is finding `id` of the stage, its words contain `words`,
 * and the next steps are that finding's suggestions in their order. */
static void expect_diagnosis(const st_run *r, const dt_run_verdict *v, const char *id, const char *words)
{
    assert_string_equal(v->diagnosis_id, id);
    assert_string_equal(v->diagnosis_stage, dt_report_stage(r->rep));
    if (!strstr(v->diagnosis, words)) fail_msg("diagnosis '%s' lacks '%s'", v->diagnosis, words);
    const cJSON *f, *diag = NULL;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r->json, "findings"))
        if (!diag && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), id)) diag = f;
    assert_non_null(diag);
    const cJSON *sug = cJSON_GetObjectItemCaseSensitive(diag, "suggestions");
    int n = cJSON_GetArraySize(sug);
    assert_true(n > 0);
    assert_int_equal(v->n_steps, n < DT_VERDICT_STEPS ? n : DT_VERDICT_STEPS);
    for (int i = 0; i < v->n_steps; i++) assert_string_equal(v->steps[i], cJSON_GetArrayItem(sug, i)->valuestring);
    char *text = dt_verdict_format(v);
    char first[700];
    snprintf(first, sizeof first, "    1. %s\n", v->steps[0]);
    assert_non_null(strstr(text, "  Diagnosis: "));
    assert_non_null(strstr(text, first));
    free(text);
}

static const char *note_of(const dt_run_verdict *v, const char *label)
{
    for (int i = 0; i < v->n_notes; i++)
        if (!strcmp(v->notes[i].label, label)) return v->notes[i].text;
    return NULL;
}

static const char *const spirals[] = {"data.format=synthetic", "data.synthetic.generator=spirals",
                                      "data.synthetic.samples=1500", "data.synthetic.noise=0.05",
                                      "train.lr=0.01", "train.epochs=30", NULL};

static void test_bias(void **state)
{
    const char *sets[] = {"model.hidden=2", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", spirals, sets);
    dt_run_verdict *v = verdict_of(r, r->dir);
    expect_diagnosis(r, v, "high-bias", "high bias (underfitting): train error ");
    /* The number shown is the train error, as a percentage. */
    char pct[32];
    snprintf(pct, sizeof pct, "%.1f%%", 100 * st_metric(r, "train_error"));
    assert_non_null(strstr(v->diagnosis, pct));
    assert_non_null(strstr(v->steps[0], "make the model bigger"));
    /* Where the page is. */
    char html[700];
    snprintf(html, sizeof html, "%s/report.html", r->dir);
    assert_string_equal(note_of(v, "Report"), html);
    free(v);
    st_free(r);
}

static const char *const variance_case[] = {
    "data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=3000",
    "data.synthetic.noise=0.6", "data.subset.samples=60", "data.splits.train_val=0.5",
    "model.hidden=256", "model.depth=2", "train.lr=0.01", "train.epochs=200",
    "train.batch_size=8", "train.early_stopping.patience=0", NULL};

static void test_variance_with_class_names(void **state)
{
    const char *sets[] = {"data.class_names=[red arm, green arm, blue arm]", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", variance_case, sets);
    dt_run_verdict *v = verdict_of(r, NULL);
    expect_diagnosis(r, v, "high-variance", "high variance (overfitting): train ");
    char want[96];
    snprintf(want, sizeof want, "train-val %.1f%%", 100 * st_metric(r, "train_val_error"));
    assert_non_null(strstr(v->diagnosis, want));
    assert_non_null(strstr(v->steps[0], "add more training data"));
    /* The hardest class by its name, and no "Report" line without a folder. */
    const char *hard = note_of(v, "Hardest class");
    assert_non_null(hard);
    assert_true(!strncmp(hard, "red arm: ", 9) || !strncmp(hard, "green arm: ", 11) || !strncmp(hard, "blue arm: ", 10));
    assert_null(note_of(v, "Report"));
    /* The names are in the report too: class_names, per_class and top losses. */
    const cJSON *names = st_metric_json(r, "class_names");
    assert_string_equal(cJSON_GetArrayItem(names, 1)->valuestring, "green arm");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "per_class"), "test_val");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pc, 2), "name")),
                        "blue arm");
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "error_analysis"), "test_val"), "top_losses");
    const char *ln = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tl, 0), "label_name"));
    assert_non_null(ln);
    assert_non_null(strstr(ln, " arm"));
    free(v);
    st_free(r);
}

static void test_shift(void **state)
{
    st_shift_case c;
    st_shift_case_init(&c);
    st_run *r = st_stage(dt_stage_decompose, "decompose", c.base, NULL);
    dt_run_verdict *v = verdict_of(r, NULL);
    expect_diagnosis(r, v, "distribution-shift", "distribution shift: train-val ");
    assert_non_null(strstr(v->diagnosis, "test-val "));
    assert_non_null(strstr(v->steps[0], "test_val errors"));
    free(v);
    st_free(r);
    dt_test_rmtree(c.dir);
}

static void test_below_baseline(void **state)
{
    char dir[512], train[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    st_write_csv(dir, "train.csv", 1500, 3, 0, 1, train, sizeof train);
    snprintf(k1, sizeof k1, "data.train.path=%s", train);
    const char *base[] = {"data.format=csv", k1, "data.csv.label=label", "data.slice=region", "train.lr=0.01",
                          "train.epochs=10", NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    dt_run_verdict *v = verdict_of(r, NULL);
    /* The first error finding of the stage is the diagnosis: the constant
     * baseline (when the model does not beat it) or the zeroed inputs. */
    const cJSON *first = NULL, *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r->json, "findings"))
        if (!first && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity")), "error")) first = f;
    assert_non_null(first);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "id"));
    if (!strcmp(id, "below-baseline")) expect_diagnosis(r, v, id, "not clearly better than the majority baseline: model ");
    if (!strcmp(id, "below-baseline")) expect_diagnosis(r, v, id, "(it must win by ");   /* why "not clearly" */
    else expect_diagnosis(r, v, "input-independent", "the model ignores its inputs");
    assert_int_equal(v->status, DT_VERDICT_FAIL);
    free(v);
    st_free(r);
    dt_test_rmtree(dir);
}

static void test_overfit_failure_modes(void **state)
{
    static const char *const base[] = {"data.format=synthetic", "data.synthetic.generator=spirals",
                                       "data.synthetic.samples=600", "model.hidden=64", "train.lr=0.01",
                                       "stages.overfit-batch.max_steps=300", NULL};
    const char *low[] = {"train.lr=1e-7", NULL};
    st_run *r = st_stage(dt_stage_overfit_batch, "overfit-batch", base, low);
    dt_run_verdict *v = verdict_of(r, NULL);
    expect_diagnosis(r, v, "overfit-loss-plateaus", "cannot overfit one batch: the loss plateaus (");
    assert_non_null(strstr(v->diagnosis, "in 300 steps"));
    assert_non_null(strstr(v->steps[0], "learning rate too low"));
    free(v);
    st_free(r);

    const char *high[] = {"train.optimizer=sgd", "train.lr=50", NULL};
    r = st_stage(dt_stage_overfit_batch, "overfit-batch", base, high);
    v = verdict_of(r, NULL);
    const char *id = dt_report_has_finding(r->rep, "overfit-loss-explodes") ? "overfit-loss-explodes"
                                                                             : "overfit-loss-oscillates";
    expect_diagnosis(r, v, id, "the loss ");
    assert_non_null(strstr(v->steps[0], "learning rate too high"));
    free(v);
    st_free(r);
}

/* improve's kept change, before -> after, and improved.yaml to run next. */
static void test_improve_kept(void **state)
{
    static const char *const improve_case[] = {
        "data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=3000",
        "data.synthetic.noise=0.6", "data.subset.samples=60", "data.splits.train_val=0.5", "model.hidden=256",
        "model.depth=2", "train.lr=0.01", "train.epochs=200", "train.batch_size=8",
        "train.early_stopping.patience=0", "stages.improve.max_attempts=1", NULL};
    st_run *r = st_stage(dt_stage_improve, "improve", improve_case, NULL);
    dt_run_verdict *v = verdict_of(r, r->dir);
    const char *kept = note_of(v, "Improve kept"), *next = note_of(v, "Run next");
    assert_non_null(kept);
    char want[800];
    snprintf(want, sizeof want, "more data (data.subset.samples 60 -> 240): train_val error %.1f%% -> %.1f%%",
             100 * st_metric(r, "start_error"), 100 * st_metric(r, "best_error"));
    assert_string_equal(kept, want);
    snprintf(want, sizeof want, "dnntrouble run %s/improved.yaml", r->dir);
    assert_string_equal(next, want);
    /* Each attempt carries its per-epoch curve. */
    const cJSON *a = cJSON_GetArrayItem(st_metric_json(r, "attempts"), 0);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(a, "history");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "val_error")), 100 + 1);
    free(v);
    st_free(r);
}

/* A clean problem: no diagnosis id, the headline numbers, no invented steps. */
static void test_clean_and_regression_units(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=blobs", "data.synthetic.samples=2000",
                          "data.synthetic.noise=0.1", "train.lr=0.01", "train.epochs=5", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", base, NULL);
    dt_run_verdict *v = verdict_of(r, NULL);
    assert_string_equal(v->diagnosis_id, "");
    assert_non_null(strstr(v->diagnosis, "no problem found: test error "));
    assert_int_equal(v->status, DT_VERDICT_PASS);
    free(v);
    st_free(r);

    /* Regression: errors are MSE numbers, not percentages; RMSE, MAE and R^2 are reported. */
    char dir[512], path[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    size_t cap = 64 * 1024;
    char *csv = malloc(cap);
    size_t len = (size_t)snprintf(csv, cap, "a,b,y\n");
    dt_rng g;
    dt_rng_seed(&g, 4);
    for (int i = 0; i < 800; i++) {
        double a = dt_rng_normal(&g), b = dt_rng_normal(&g);
        len += (size_t)snprintf(csv + len, cap - len, "%.4f,%.4f,%.4f\n", a, b, 3 * a - b + 0.3 * dt_rng_normal(&g));
    }
    dt_test_write(dir, "r.csv", csv, path, sizeof path);
    free(csv);
    snprintf(k1, sizeof k1, "data.train.path=%s", path);
    const char *reg[] = {"data.format=csv", k1, "task=regression", "loss=mse", "model.hidden=1", "train.lr=0.001",
                         "train.epochs=2", NULL};
    r = st_stage(dt_stage_decompose, "decompose", reg, NULL);
    v = verdict_of(r, NULL);
    assert_null(strchr(v->diagnosis, '%'));
    double rmse = st_metric(r, "test_rmse"), mse = st_metric(r, "test_error");
    assert_true(fabs(rmse - sqrt(mse)) < 1e-4 * (1 + rmse));
    (void)st_metric(r, "test_mae");
    assert_true(st_metric(r, "test_r2") < 1.0);
    free(v);
    st_free(r);
    dt_test_rmtree(dir);
}

/* Binary classification: precision, recall, F1 and ROC AUC beside error. */
static void test_binary_scores(void **state)
{
    char dir[512], train[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    st_write_csv(dir, "train.csv", 1200, 5, 0, 0, train, sizeof train);
    snprintf(k1, sizeof k1, "data.train.path=%s", train);
    const char *base[] = {"data.format=csv", k1, "data.csv.label=label", "data.slice=region", "train.lr=0.01",
                          "train.epochs=10", "data.class_names=[negative, positive]", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", base, NULL);
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "scores"), "test_val");
    assert_non_null(tv);
    double err = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(tv, "error"));
    assert_true(fabs(err - st_metric(r, "test_val_error")) < 1e-12);   /* the same rows, the same error */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tv, "positive_class")), "positive");
    /* label = (a > 0): a trained model ranks nearly perfectly. */
    assert_true(st_metric(r, "test_roc_auc") > 0.97);
    assert_true(st_metric(r, "test_f1") > 0.9);
    double p = st_metric(r, "test_precision"), rc = st_metric(r, "test_recall");
    assert_true(fabs(st_metric(r, "test_f1") - 2 * p * rc / (p + rc)) < 1e-12);
    st_free(r);
    dt_test_rmtree(dir);
}

/* Text data: next-character classes are named by their characters. */
static void test_text_classes_are_characters(void **state)
{
    char dir[512], path[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    char text[4096];
    size_t n = 0;
    while (n + 12 < sizeof text) n += (size_t)snprintf(text + n, sizeof text - n, "the cat sat\n");
    dt_test_write(dir, "c.txt", text, path, sizeof path);
    snprintf(k1, sizeof k1, "data.train.path=%s", path);
    const char *base[] = {"data.format=text", k1, "data.text.seq_len=4", "model.hidden=8", "train.epochs=1",
                          "train.lr=0.01", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", base, NULL);
    const cJSON *names = st_metric_json(r, "class_names"), *e;
    int space = 0, newline = 0, t = 0;
    cJSON_ArrayForEach(e, names)
    {
        space |= !strcmp(e->valuestring, "space");
        newline |= !strcmp(e->valuestring, "\\n");
        t |= !strcmp(e->valuestring, "t");
    }
    assert_true(space && newline && t);
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "error_analysis"), "train_val"), "top_losses");
    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tl, 0), "inputs"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "kind")), "text");
    assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "text"))), 4);
    st_free(r);
    dt_test_rmtree(dir);
}

/* 30% planted label noise: the diagnosis is label-noise, not the bias the
 * noise inflates (making the model bigger would not help). */
static void test_label_noise_before_bias(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=blobs", "data.synthetic.samples=3000",
                          "data.synthetic.label_noise=0.3", "train.epochs=10", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", base, NULL);
    assert_true(dt_report_has_finding(r->rep, "high-bias"));
    dt_run_verdict *v = verdict_of(r, r->dir);
    expect_diagnosis(r, v, "label-noise", "of the labels look wrong");
    free(v);
    st_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias),
        cmocka_unit_test(test_variance_with_class_names),
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_below_baseline),
        cmocka_unit_test(test_overfit_failure_modes),
        cmocka_unit_test(test_improve_kept),
        cmocka_unit_test(test_clean_and_regression_units),
        cmocka_unit_test(test_binary_scores),
        cmocka_unit_test(test_text_classes_are_characters),
        cmocka_unit_test(test_label_noise_before_bias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
