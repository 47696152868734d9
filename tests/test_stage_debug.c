/* The debug stage: clean configs raise no errors; each planted bug raises
 * its finding (and no unrelated error); the gradient check catches a wrong
 * backward pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/test_models.h"
#include "dnntrouble/diag.h"
#include "dnntrouble/model.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "dnntrouble/train.h"

static char tmpdir[64];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dt_debug_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void synthetic_config(dt_config *cfg, const char *generator, const char *samples)
{
    dt_config_defaults(cfg);
    dt_test_set(cfg, "data.format", "synthetic");
    dt_test_set(cfg, "data.synthetic.generator", generator);
    dt_test_set(cfg, "data.synthetic.samples", samples);
}

/* Runs the stage; the report is the caller's. */
static dt_report *run_debug(dt_config *cfg)
{
    assert_int_equal(dt_config_check(cfg), DT_OK);
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = tmpdir, .progress = NULL, .quiet = 1};
    dt_report *rep = dt_report_new("debug", cfg);
    assert_non_null(rep);
    dt_status st = dt_stage_debug(&ctx, rep);
    if (st) print_error("debug: %s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(dt_report_write(rep, tmpdir), DT_OK);
    dt_stage_ctx_release(&ctx);
    return rep;
}

/* Error findings other than `allowed` (NULL: none allowed); prints them. */
static int other_errors(const dt_report *rep, const char *allowed)
{
    cJSON *j = dt_report_to_json(rep), *f;
    int n = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings"))
    {
        const char *sev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id"));
        print_message("  %s %s: %s\n", sev, id, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "message")));
        if (!strcmp(sev, "error") && (!allowed || strcmp(id, allowed))) n++;
    }
    cJSON_Delete(j);
    return n;
}

static int finding_severity(const dt_report *rep, const char *id)
{
    cJSON *j = dt_report_to_json(rep), *f;
    int sev = -1;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), id)) continue;
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity"));
        int v = !strcmp(s, "error") ? DT_SEV_ERROR : !strcmp(s, "warning") ? DT_SEV_WARNING : DT_SEV_INFO;
        if (v > sev) sev = v;
    }
    cJSON_Delete(j);
    return sev;
}

/* The checks added with the bug zoo (issue 16): none may fire on a clean set-up. */
static const char *const zoo_ids[] = {"no-nonlinearity", "output-activation-mismatch", "loss-task-mismatch",
                                      "saturated-activations", "symmetric-init", NULL};

static void assert_no_zoo_findings(const dt_report *rep)
{
    for (const char *const *id = zoo_ids; *id; id++)
        if (dt_report_has_finding(rep, *id)) fail_msg("clean set-up raised %s", *id);
}

/* Layer statistics name each of these ops (NULL-terminated) at least once. */
static void assert_layer_ops(dt_report *rep, const char *const *ops)
{
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(dt_report_metrics(rep), "layers"), *l;
    for (const char *const *o = ops; *o; o++) {
        int seen = 0;
        cJSON_ArrayForEach(l, layers)
            seen |= !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "op")), *o);
        if (!seen) fail_msg("debug's layer statistics lack op %s", *o);
    }
}

/* One debug run: no error finding, every check shown, and (ops not NULL)
 * those ops in the layer statistics. */
static void assert_clean(dt_config *cfg, const char *const *ops)
{
    dt_report *rep = run_debug(cfg);
    assert_int_equal(other_errors(rep, NULL), 0);
    assert_no_zoo_findings(rep);
    assert_int_not_equal(dt_report_status(rep), DT_VERDICT_FAIL);
    /* A passing run still shows what was checked. */
    cJSON *checks = cJSON_GetObjectItemCaseSensitive(dt_report_metrics(rep), "checks");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(checks, "gradcheck_failed_share"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(checks, "batch_dependency_leaks"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(checks, "train_eval_max_output_difference"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(checks, "init_loss_relative_deviation"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(dt_report_metrics(rep), "layers"));
    double failed = -1;
    assert_true(dt_report_get_metric(rep, "gradcheck_failed", &failed));
    assert_true(failed == 0);
    if (ops) assert_layer_ops(rep, ops);
    dt_report_free(rep);
}

/* Next-character labels follow letter frequencies: not a class imbalance. */
static void test_text_letters_are_not_imbalanced(void **state)
{
    char path[600];
    FILE *f = fopen((snprintf(path, sizeof path, "%s/corpus.txt", tmpdir), path), "w");
    assert_non_null(f);
    for (int i = 0; i < 80; i++) fputs("the cat sat on the mat; then the quiet zebra ate seven eggs. ", f);
    fclose(f);
    static dt_config cfg;
    dt_config_defaults(&cfg);
    dt_test_set(&cfg, "data.format", "text");
    dt_test_set(&cfg, "data.train.path", path);
    dt_test_set(&cfg, "data.text.seq_len", "8");
    dt_test_set(&cfg, "model.hidden", "16");
    dt_report *rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "class-imbalance"));
    dt_report_free(rep);
}

static void test_clean_blobs_mlp(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "blobs", "600");
    assert_clean(&cfg, NULL);
}

static void test_clean_shapes_lenet(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "shapes", "300");
    dt_test_set(&cfg, "train.batch_size", "32");
    assert_clean(&cfg, NULL);
}

static void test_clean_sequences_lstm(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "sequences", "300");
    dt_test_set(&cfg, "model.activation", "tanh");
    assert_clean(&cfg, NULL);
}

/* The ramp's presets run clean through every debug check: gradient check,
 * batch dependency (attention mixes steps, never samples; evaluation-mode
 * batch-norm mixes nothing), train/eval switch, init loss; their new ops
 * appear in the per-layer statistics. */
static void test_clean_shapes_resnet(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "shapes", "300");
    dt_test_set(&cfg, "model.arch", "resnet");
    dt_test_set(&cfg, "train.batch_size", "16");
    assert_clean(&cfg, (const char *const[]){"conv2d", "batchnorm", "add", "global_avgpool", NULL});
}

static void test_clean_sequences_transformer(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "sequences", "300");
    dt_test_set(&cfg, "model.arch", "transformer");
    dt_test_set(&cfg, "model.hidden", "16");
    dt_test_set(&cfg, "train.batch_size", "16");
    assert_clean(&cfg, (const char *const[]){"pos_add", "attention", "gelu", "layernorm", NULL});
}

/* Dropout and batch-norm: the train/eval switch must reach them, and
 * evaluation-mode batch-norm must not mix samples. */
static void test_clean_mlp_with_batchnorm_and_dropout(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "spirals", "600");
    dt_test_set(&cfg, "model.batch_norm", "true");
    dt_test_set(&cfg, "train.dropout", "0.3");
    dt_test_set(&cfg, "model.depth", "2");
    assert_clean(&cfg, NULL);
}

/* Raw 0..255 pixels. */
static void test_unnormalized_images(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "shapes", "300");
    dt_test_set(&cfg, "train.batch_size", "32");
    dt_test_set(&cfg, "data.normalize", "false");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "inputs-not-normalized"));
    assert_int_equal(finding_severity(rep, "inputs-not-normalized"), DT_SEV_ERROR);
    assert_int_equal(other_errors(rep, "inputs-not-normalized"), 0);
    dt_report_free(rep);
}

static void write_file(const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* n rows "a,b,label" with a seeded pattern; `scale` multiplies feature b. */
static char *csv_rows(int n, int classes, double scale, int offset)
{
    size_t cap = (size_t)n * 64 + 64, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    len += (size_t)snprintf(s, cap, "a,b,label\n");
    for (int i = 0; i < n; i++) {
        int c = i % classes, k = i + offset;
        double a = c + 0.1 * ((k * 37) % 11), b = scale * (c - 1 + 0.05 * ((k * 53) % 17));
        len += (size_t)snprintf(s + len, cap - len, "%.4f,%.4f,%d\n", a, b, c);
    }
    return s;
}

static void csv_config(dt_config *cfg, const char *train, const char *test)
{
    dt_config_defaults(cfg);
    dt_test_set(cfg, "data.format", "csv");
    dt_test_set(cfg, "data.train.path", train);
    if (test) dt_test_set(cfg, "data.test.path", test);
}

static void test_unnormalized_large_tabular(void **state)
{
    char p[256];
    char *rows = csv_rows(300, 3, 5000.0, 0);
    write_file("large.csv", rows, p, sizeof p);
    free(rows);
    dt_config cfg;
    csv_config(&cfg, p, NULL);
    dt_test_set(&cfg, "data.normalize", "false");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "inputs-not-normalized"));
    assert_int_equal(finding_severity(rep, "inputs-not-normalized"), DT_SEV_ERROR);
    assert_int_equal(other_errors(rep, "inputs-not-normalized"), 0);
    dt_report_free(rep);

    /* The same data normalized is clean. */
    csv_config(&cfg, p, NULL);
    rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "inputs-not-normalized"));
    assert_int_equal(other_errors(rep, NULL), 0);
    dt_report_free(rep);
}

static void test_softmax_before_cross_entropy(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "blobs", "600");
    dt_test_set(&cfg, "model.output_activation", "softmax");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "softmax-before-logits-loss"));
    assert_int_equal(other_errors(rep, "softmax-before-logits-loss"), 0);
    assert_int_equal(dt_report_status(rep), DT_VERDICT_FAIL);
    dt_report_free(rep);
}

/* The data layer sizes the classes to cover every label, so an
 * out-of-range label reaches the model as a test label that train never
 * has: train classes 0..2, a test label 7. */
static void test_test_label_outside_train_classes(void **state)
{
    char train[256], test[256];
    char *rows = csv_rows(240, 3, 1.0, 0);
    write_file("train.csv", rows, train, sizeof train);
    free(rows);
    rows = csv_rows(60, 3, 1.0, 1000);
    size_t len = strlen(rows);
    rows = realloc(rows, len + 64);
    assert_non_null(rows);
    snprintf(rows + len, 64, "0.5,0.25,7\n");
    write_file("test.csv", rows, test, sizeof test);
    free(rows);
    dt_config cfg;
    csv_config(&cfg, train, test);
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "labels-out-of-range"));
    assert_int_equal(other_errors(rep, "labels-out-of-range"), 0);
    dt_report_free(rep);
}

/* Test rows copied from train. */
static void test_train_test_overlap(void **state)
{
    char train[256], test[256];
    char *rows = csv_rows(240, 3, 1.0, 0);
    write_file("train2.csv", rows, train, sizeof train);
    /* The test file: every train row again (header included). */
    write_file("test2.csv", rows, test, sizeof test);
    free(rows);
    dt_config cfg;
    csv_config(&cfg, train, test);
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "train-test-overlap"));
    assert_int_equal(finding_severity(rep, "train-test-overlap"), DT_SEV_ERROR);
    assert_int_equal(other_errors(rep, "train-test-overlap"), 0);
    dt_report_free(rep);
}

/* A learning rate of 1e35 sends the weights to ~1e35 on the first step:
 * the next forward overflows, and the finding names op, layer and step. */
static void test_divergence_reports_nan_or_inf(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "blobs", "600");
    dt_test_set(&cfg, "train.lr", "1e35");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "nan-or-inf"));
    assert_int_equal(other_errors(rep, "nan-or-inf"), 0);
    cJSON *j = dt_report_to_json(rep);
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "findings"), 0);
    cJSON *ev = NULL, *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "findings"))
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id")), "nan-or-inf")) f = it;
    ev = cJSON_GetObjectItemCaseSensitive(f, "evidence");
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "layer")));
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "op")));
    assert_true(cJSON_GetObjectItemCaseSensitive(ev, "step")->valuedouble >= 1);
    cJSON_Delete(j);
    dt_report_free(rep);
}

/* ------------------------------------------- checks of the description */

static void custom_config(dt_config *cfg, const char *layers)
{
    synthetic_config(cfg, "blobs", "600");
    dt_test_set(cfg, "model.arch", "custom");
    dt_test_set(cfg, "model.layers", layers);
}

/* A string evidence field of the first finding `id`. */
static char *evidence_str(const dt_report *rep, const char *id, const char *key, char *buf, size_t size)
{
    cJSON *j = dt_report_to_json(rep), *f;
    buf[0] = '\0';
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings"))
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), id)) {
            const char *v = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "evidence"), key));
            snprintf(buf, size, "%s", v ? v : "");
            break;
        }
    cJSON_Delete(j);
    return buf;
}

static double evidence_num(const dt_report *rep, const char *id, const char *key)
{
    cJSON *j = dt_report_to_json(rep), *f;
    double v = NAN;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings"))
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), id)) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "evidence"), key);
            if (cJSON_IsNumber(e)) v = e->valuedouble;
            break;
        }
    cJSON_Delete(j);
    return v;
}

/* Two linear layers with only dropout and batch-norm between them compose
 * to one linear map; a single linear layer, or a ReLU between, is fine. */
static void test_linear_stack_has_no_nonlinearity(void **state)
{
    dt_config cfg;
    char buf[64];
    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: dropout, rate: 0.1}, {type: batchnorm},"
                        " {name: f2, type: linear, units: classes}]");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "no-nonlinearity"));
    assert_string_equal(evidence_str(rep, "no-nonlinearity", "first_layer", buf, sizeof buf), "f1");
    assert_string_equal(evidence_str(rep, "no-nonlinearity", "second_layer", buf, sizeof buf), "f2");
    assert_true(evidence_num(rep, "no-nonlinearity", "layers_between") == 2);
    assert_int_equal(other_errors(rep, NULL), 0);
    dt_report_free(rep);

    custom_config(&cfg, "[{name: out, type: linear, units: classes}]");   /* logistic regression */
    rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "no-nonlinearity"));
    dt_report_free(rep);
    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: relu}, {name: f2, type: linear, units: classes}]");
    rep = run_debug(&cfg);
    assert_no_zoo_findings(rep);
    dt_report_free(rep);
}

/* The check walks each layer once: 60 adds, each of the two before it, give
 * 2^40-odd routes from the output back to the ReLUs, and walked route by
 * route the stage never ended. */
static void test_nonlinearity_check_is_linear(void **state)
{
    static char layers[8192];
    int n = snprintf(layers, sizeof layers, "[{name: f0, type: linear, units: 8}, {name: r0, type: relu}, "
                                            "{name: r1, type: relu}, {name: a0, type: add, in: [r1, r0]}, "
                                            "{name: a1, type: add, in: [a0, r1]}");
    for (int i = 2; i < 60; i++)
        n += snprintf(layers + n, sizeof layers - (size_t)n, ", {name: a%d, type: add, in: [a%d, a%d]}", i, i - 1, i - 2);
    snprintf(layers + n, sizeof layers - (size_t)n, ", {name: out, type: linear, units: classes}]");
    dt_config cfg;
    custom_config(&cfg, layers);
    dt_report *rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "no-nonlinearity"));
    dt_report_free(rep);
}

/* A sigmoid on the logits caps the softmax: over 4 classes p <= 1/(1+3/e). */
static void test_activation_on_logits(void **state)
{
    dt_config cfg;
    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: relu}, {name: f2, type: linear, units: classes},"
                        " {name: squash, type: sigmoid}]");
    dt_report *rep = run_debug(&cfg);
    assert_int_equal(finding_severity(rep, "output-activation-mismatch"), DT_SEV_ERROR);
    char buf[64];
    assert_string_equal(evidence_str(rep, "output-activation-mismatch", "layer", buf, sizeof buf), "squash");
    assert_true(fabs(evidence_num(rep, "output-activation-mismatch", "max_probability") - 1.0 / (1.0 + 3.0 / M_E)) < 1e-9);
    assert_int_equal(other_errors(rep, "output-activation-mismatch"), 0);
    dt_report_free(rep);

    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: relu}, {name: f2, type: linear, units: classes},"
                        " {type: relu}]");
    rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "output-activation-mismatch"));
    dt_report_free(rep);
}

/* mse on class labels (it trains, on one-hot rows); regression targets that
 * are a handful of integers; and the clean counter-cases. */
static void test_loss_task_mismatch(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "blobs", "600");
    dt_test_set(&cfg, "loss", "mse");
    dt_report *rep = run_debug(&cfg);
    assert_int_equal(finding_severity(rep, "loss-task-mismatch"), DT_SEV_WARNING);
    assert_int_equal(other_errors(rep, NULL), 0);
    dt_report_free(rep);

    char p[256];
    char *rows = csv_rows(300, 3, 1.0, 0);
    write_file("ids.csv", rows, p, sizeof p);
    free(rows);
    csv_config(&cfg, p, NULL);
    dt_test_set(&cfg, "task", "regression");
    rep = run_debug(&cfg);
    assert_int_equal(finding_severity(rep, "loss-task-mismatch"), DT_SEV_WARNING);
    assert_true(evidence_num(rep, "loss-task-mismatch", "distinct_targets") == 3);
    dt_report_free(rep);

    /* A real quantity: the label column is a continuous function of a and b. */
    char reg[256];
    size_t cap = 300 * 64 + 64, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "a,b,y\n");
    for (int i = 0; i < 300; i++) {
        double a = 0.01 * ((i * 37) % 101), b = 0.01 * ((i * 53) % 97);
        len += (size_t)snprintf(text + len, cap - len, "%.4f,%.4f,%.4f\n", a, b, 2 * a - b);
    }
    write_file("quantity.csv", text, reg, sizeof reg);
    free(text);
    csv_config(&cfg, reg, NULL);
    dt_test_set(&cfg, "task", "regression");
    rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "loss-task-mismatch"));
    assert_no_zoo_findings(rep);
    dt_report_free(rep);
}

/* tanh after a linear layer with N(0,1) weights on 784 pixels: |z| ~ 28;
 * the default (fan-in scaled) init keeps the same network unsaturated. */
static void test_tanh_saturation(void **state)
{
    dt_config cfg;
    char buf[64];
    synthetic_config(&cfg, "shapes", "300");
    dt_test_set(&cfg, "model.arch", "custom");
    dt_test_set(&cfg, "model.layers", "[{type: flatten}, {name: f1, type: linear, units: 64, init: {normal: 1.0}},"
                              " {name: act, type: tanh}, {name: out, type: linear, units: classes}]");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "saturated-activations"));
    assert_string_equal(evidence_str(rep, "saturated-activations", "layer", buf, sizeof buf), "act");
    assert_true(evidence_num(rep, "saturated-activations", "saturated_fraction") > 0.5);
    assert_int_equal(other_errors(rep, NULL), 0);
    dt_report_free(rep);

    dt_test_set(&cfg, "model.layers", "[{type: flatten}, {name: f1, type: linear, units: 64},"
                              " {name: act, type: tanh}, {name: out, type: linear, units: classes}]");
    rep = run_debug(&cfg);
    assert_no_zoo_findings(rep);
    dt_report_free(rep);
}

/* Every layer at {constant: 0.1}: the hidden units get the same gradient
 * and stay copies of each other.  A constant output layer alone is fine:
 * its units see different labels, so the first step tells them apart. */
static void test_constant_init_stays_symmetric(void **state)
{
    dt_config cfg;
    char buf[64];
    custom_config(&cfg, "[{name: f1, type: linear, units: 32, init: {constant: 0.1}}, {type: relu},"
                        " {name: out, type: linear, units: classes, init: {constant: 0.1}}]");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "symmetric-init"));
    assert_string_equal(evidence_str(rep, "symmetric-init", "layer", buf, sizeof buf), "f1");
    assert_true(evidence_num(rep, "symmetric-init", "identical_units") == 32);
    dt_report_free(rep);

    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: relu},"
                        " {name: out, type: linear, units: classes, init: {constant: 0.1}}]");
    rep = run_debug(&cfg);
    assert_no_zoo_findings(rep);
    dt_report_free(rep);
}

/* ------------------------- gradient-flow and dead-unit thresholds (anchors) */

/* Adam at lr 0.1 on 784 pixels: 96% of the hidden outputs end at zero, yet
 * few units are silent on every sample.  AUTOTRAINER/DeepDiagnosis count
 * outputs (>= 70% zero); the unit rule alone would miss it. */
static void test_dead_relu_by_zero_outputs(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "shapes", "300");
    dt_test_set(&cfg, "model.arch", "custom");
    dt_test_set(&cfg, "model.layers", "[{type: flatten}, {name: f1, type: linear, units: 64}, {name: r1, type: relu},"
                              " {name: out, type: linear, units: classes}]");
    dt_test_set(&cfg, "train.lr", "0.1");
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "dead-relu"));
    assert_true(evidence_num(rep, "dead-relu", "zero_fraction") >= 0.7);
    assert_true(evidence_num(rep, "dead-relu", "dead_fraction") < 0.7);
    dt_report_free(rep);
    dt_test_set(&cfg, "train.lr", "3e-4");
    rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "dead-relu"));
    dt_report_free(rep);
}

#define THREE_LAYERS(std)                                                                                     \
    "[{name: f1, type: linear, units: 32, init: {normal: " std "}}, {type: relu},"                         \
    " {name: f2, type: linear, units: 32, init: {normal: " std "}}, {type: relu},"                         \
    " {name: out, type: linear, units: classes, init: {normal: " std "}}]"

/* Weights of std 1e-4 everywhere, plain SGD: every layer's gradient is ~1e-8
 * while the first/last ratio stays near 1, so only BTTackler's median rule
 * (median mean |g| < 1e-5) sees it.  Std 300: the median exceeds 1e4 (exploding)
 * with the ratio near 1 again. */
static void test_gradient_median_rules(void **state)
{
    dt_config cfg;
    custom_config(&cfg, THREE_LAYERS("1.0e-4"));
    dt_test_set(&cfg, "train.optimizer", "sgd");   /* Adam's scaled steps would lift the weights within 20 steps */
    dt_report *rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "vanishing-gradients"));
    assert_true(evidence_num(rep, "vanishing-gradients", "median_mean_abs") < 1e-5);
    assert_true(evidence_num(rep, "vanishing-gradients", "ratio") > 1e-3);
    assert_false(dt_report_has_finding(rep, "exploding-gradients"));
    dt_report_free(rep);
    custom_config(&cfg, THREE_LAYERS("300"));
    rep = run_debug(&cfg);
    assert_true(dt_report_has_finding(rep, "exploding-gradients"));
    assert_true(evidence_num(rep, "exploding-gradients", "median_mean_abs") > 1e4);
    assert_true(evidence_num(rep, "exploding-gradients", "ratio") < 70);
    assert_false(dt_report_has_finding(rep, "vanishing-gradients"));
    dt_report_free(rep);
    custom_config(&cfg, "[{name: f1, type: linear, units: 32}, {type: relu}, {name: f2, type: linear, units: 32},"
                        " {type: relu}, {name: out, type: linear, units: classes}]");
    rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "vanishing-gradients"));
    assert_false(dt_report_has_finding(rep, "exploding-gradients"));
    dt_report_free(rep);
}

/* An output layer started at zero (a common, healthy choice) stops every
 * gradient at init; its first step gives it weights, so neither
 * input-unused nor vanishing-gradients may fire. */
static void test_zero_output_layer_is_not_a_cut(void **state)
{
    dt_config cfg;
    custom_config(&cfg, "[{name: f1, type: linear, units: 64}, {type: tanh},"
                        " {name: out, type: linear, units: classes, init: zeros}]");
    dt_report *rep = run_debug(&cfg);
    assert_false(dt_report_has_finding(rep, "input-unused"));
    assert_false(dt_report_has_finding(rep, "vanishing-gradients"));
    assert_int_equal(other_errors(rep, NULL), 0);
    dt_report_free(rep);
}

/* ---------------------------------------------------- the gradient check */

static void scale_first_weight_grad(dt_graph *g, void *ctx)
{
    dt_node *w = dt_graph_find(g, (const char *)ctx);
    assert_non_null(w);
    for (size_t i = 0; i < dt_numel(w); i++) w->grad[i] *= 1.5f;
}

static void test_gradcheck_catches_wrong_backward(void **state)
{
    dt_config cfg;
    synthetic_config(&cfg, "spirals", "200");
    dt_data *d = NULL;
    assert_int_equal(dt_data_load(&cfg.data, NULL, &d), DT_OK);
    dt_test_model s = {.arch = DT_ARCH_MLP, .in_ndim = 1, .in_shape = {dt_data_sample_shape(d)[0]},
                       .outputs = dt_data_classes(d), .hidden = 16, .depth = 2, .act = DT_ACT_TANH,
                       .loss = DT_LOSS_CROSS_ENTROPY, .max_batch = 16};
    dt_model *m = dt_test_preset(&s);
    dt_model_init(m, 3);
    size_t rows[16];
    for (size_t i = 0; i < 16; i++) rows[i] = i;
    assert_int_equal(dt_model_load_batch(m, d, DT_SPLIT_TRAIN, rows, 16), DT_OK);
    float before = m->g->params[0]->val[0];

    dt_gradcheck_opts o;
    dt_gradcheck_defaults(&o);
    dt_gradcheck_result r;
    assert_int_equal(dt_gradcheck(m->g, m->loss, &o, &r), DT_OK);
    print_message("correct: %d checked, %d failed, max error %.3f\n", r.checked, r.failed, r.max_err);
    assert_true(r.checked >= 30);
    assert_int_equal(r.failed, 0);
    dt_gradcheck_free(&r);

    o.tamper = scale_first_weight_grad;
    o.tamper_ctx = "f2.weight";
    assert_int_equal(dt_gradcheck(m->g, m->loss, &o, &r), DT_OK);
    print_message("broken f2: %d checked, %d failed, worst %s\n", r.checked, r.failed, r.worst_param);
    assert_true(r.failed > 0);
    assert_string_equal(r.worst_param, "f2.weight");
    int f2 = -1;
    for (int i = 0; i < r.n_params; i++)
        if (!strcmp(r.params[i].param->name, "f2.weight")) f2 = i;
    assert_true(f2 >= 0);
    assert_true(2 * r.params[f2].failed > r.params[f2].checked);
    dt_gradcheck_free(&r);
    assert_true(m->g->params[0]->val[0] == before); /* parameters restored exactly */
    dt_model_free(m);
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_letters_are_not_imbalanced),
        cmocka_unit_test(test_clean_blobs_mlp),
        cmocka_unit_test(test_clean_shapes_lenet),
        cmocka_unit_test(test_clean_sequences_lstm),
        cmocka_unit_test(test_clean_shapes_resnet),
        cmocka_unit_test(test_clean_sequences_transformer),
        cmocka_unit_test(test_clean_mlp_with_batchnorm_and_dropout),
        cmocka_unit_test(test_unnormalized_images),
        cmocka_unit_test(test_unnormalized_large_tabular),
        cmocka_unit_test(test_softmax_before_cross_entropy),
        cmocka_unit_test(test_test_label_outside_train_classes),
        cmocka_unit_test(test_train_test_overlap),
        cmocka_unit_test(test_divergence_reports_nan_or_inf),
        cmocka_unit_test(test_gradcheck_catches_wrong_backward),
        cmocka_unit_test(test_linear_stack_has_no_nonlinearity),
        cmocka_unit_test(test_nonlinearity_check_is_linear),
        cmocka_unit_test(test_activation_on_logits),
        cmocka_unit_test(test_loss_task_mismatch),
        cmocka_unit_test(test_tanh_saturation),
        cmocka_unit_test(test_constant_init_stays_symmetric),
        cmocka_unit_test(test_dead_relu_by_zero_outputs),
        cmocka_unit_test(test_gradient_median_rules),
        cmocka_unit_test(test_zero_output_layer_is_not_a_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
