/* improve walks the remedies for the dominant term: on a big model trained on
 * a tiny subset (variance) more data lowers the train_val error and is kept;
 * improved.yaml is written and loads back; a shifted test set gets error-analysis
 * advice instead of training changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_stage_util.h"

static const char *const variance_case[] = {
    "data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=3000",
    "data.synthetic.noise=0.6", "data.subset.samples=60", "data.splits.train_val=0.5", "model.hidden=256",
    "model.depth=2", "train.lr=0.01", "train.epochs=200", "train.batch_size=8",
    "train.early_stopping.patience=0", "stages.improve.max_attempts=2", NULL};

static void test_variance_remedy_lowers_train_val_error(void **state)
{
    st_run *r = st_stage(dt_stage_improve, "improve", variance_case, NULL);
    st_print(r);
    assert_string_equal(cJSON_GetStringValue(st_metric_json(r, "dominant")), "variance");
    double start = st_metric(r, "start_error"), best = st_metric(r, "best_error");
    assert_true(best < start - 0.05);
    assert_true(dt_report_has_finding(r->rep, "remedy-helped"));
    /* The ladder: the first attempt is "more data", kept. */
    const cJSON *a = cJSON_GetArrayItem(st_metric_json(r, "attempts"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "remedy")), "more data");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "kept")));
    assert_true(cJSON_GetArraySize(st_metric_json(r, "attempts")) <= 2);
    /* improved.yaml loads back with the raised subset. */
    char path[700];
    snprintf(path, sizeof path, "%s/improved.yaml", r->dir);
    dt_config bc;
    dt_status st = dt_config_load(path, &bc);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(bc.data.subset_samples, 240);
    /* ... and the expanded layers (the preset's f1 at model.hidden 256). */
    int f1 = dt_model_desc_find(&bc.model.desc, "f1");
    assert_true(f1 >= 0);
    assert_int_equal((int)dt_layer_opt(&bc.model.desc.layers[f1], "units"), 256);
    st_free(r);
}

static void test_shift_gets_error_analysis(void **state)
{
    st_shift_case c;
    st_shift_case_init(&c);
    st_run *r = st_stage(dt_stage_improve, "improve", c.base, NULL);
    st_print(r);
    assert_string_equal(cJSON_GetStringValue(st_metric_json(r, "dominant")), "shift");
    assert_true(dt_report_has_finding(r->rep, "shift-error-analysis"));
    assert_int_equal(cJSON_GetArraySize(st_metric_json(r, "attempts")), 0);
    char *js = cJSON_PrintUnformatted(r->json);
    assert_non_null(strstr(js, "slice 'flip'"));
    free(js);
    st_free(r);
    dt_test_rmtree(c.dir);
}

/* improved.yaml run again gives the kept attempt's error bit for bit: the
 * remedy lives in its layers. */
static void rerun_matches(const st_run *r, double want)
{
    char path[700];
    snprintf(path, sizeof path, "%s/improved.yaml", r->dir);
    static dt_config cfg;
    dt_status st = dt_config_load(path, &cfg);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_true(cfg.model.layers_given);
    char dir[512];
    dt_test_tmpdir(dir, sizeof dir);
    dt_stage_ctx ctx = {.cfg = &cfg, .out_dir = dir, .quiet = 1};
    dt_report *rep = dt_report_new("decompose", &cfg);
    assert_int_equal(dt_stage_decompose(&ctx, rep), DT_OK);
    double got = NAN;
    assert_true(dt_report_get_metric(rep, "train_val_error", &got));
    print_message("improved.yaml rerun: train_val error %.17g, the kept attempt had %.17g\n", got, want);
    assert_true(got == want);
    dt_report_free(rep);
    dt_stage_ctx_release(&ctx);
    dt_test_rmtree(dir);
}

static void test_bias_ladder_makes_the_model_bigger(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=1500",
                          "data.synthetic.noise=0.05", "model.hidden=4", "train.lr=0.01", "train.epochs=20",
                          "stages.improve.max_attempts=1", NULL};
    st_run *r = st_stage(dt_stage_improve, "improve", base, NULL);
    st_print(r);
    assert_string_equal(cJSON_GetStringValue(st_metric_json(r, "dominant")), "bias");
    const cJSON *a = cJSON_GetArrayItem(st_metric_json(r, "attempts"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "change")), "f1.units 4 -> 8");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "kept")));
    rerun_matches(r, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "after")));
    st_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variance_remedy_lowers_train_val_error),
        cmocka_unit_test(test_shift_gets_error_analysis),
        cmocka_unit_test(test_bias_ladder_makes_the_model_bigger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
