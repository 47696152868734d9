/* compare on generated data: baselines and the known result.  Random labels
 * are no better than the majority class or the zeroed-input model; a clean
 * problem beats every baseline; a target the model misses is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_stage_util.h"

static void test_random_labels_are_below_baseline(void **state)
{
    char dir[512], train[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    st_write_csv(dir, "train.csv", 1500, 3, 0, 1, train, sizeof train);
    snprintf(k1, sizeof k1, "data.train.path=%s", train);
    const char *base[] = {"data.format=csv", k1, "data.csv.label=label", "data.slice=region", "train.lr=0.01",
                          "train.epochs=10", NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    st_print(r);
    assert_true(dt_report_has_finding(r->rep, "below-baseline") || dt_report_has_finding(r->rep, "input-independent"));
    assert_true(dt_report_has_finding(r->rep, "input-independent"));
    assert_int_equal(dt_report_status(r->rep), DT_VERDICT_FAIL);
    assert_true(st_metric(r, "model_error") > 0.35);
    st_free(r);
    dt_test_rmtree(dir);
}

static void test_clean_problem_beats_baselines(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=1500",
                          "data.synthetic.noise=0.05", "train.lr=0.01", "train.epochs=30", NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    st_print(r);
    assert_int_equal(st_errors(r), 0);
    assert_false(dt_report_has_finding(r->rep, "below-baseline"));
    assert_false(dt_report_has_finding(r->rep, "input-independent"));
    double maj = st_metric(r, "baseline_majority_error"), lin = st_metric(r, "baseline_linear_error");
    double zero = st_metric(r, "baseline_zero_input_error"), model = st_metric(r, "model_error");
    assert_true(maj > 0.6 && lin > 0.3 && zero > 0.6);
    assert_true(model < 0.1);
    assert_true(cJSON_IsNull(st_metric_json(r, "target_error")));
    st_free(r);
}

static void test_missed_target_is_below_known_result(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=spirals", "data.synthetic.samples=1500",
                          "model.hidden=2", "train.lr=0.01", "train.epochs=5", "target.metric=accuracy",
                          "target.value=0.99", "target.source=a paper", NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    assert_true(dt_report_has_finding(r->rep, "below-known-result"));
    assert_true(fabs(st_metric(r, "target_error") - 0.01) < 1e-9);
    st_free(r);
}

/* Separable blobs: the linear baseline starts with every train_val row wrong
 * and a slowly falling loss.  Early stopping must count the falling loss as
 * progress (the error does not move for several epochs); stopping on the
 * error alone left it at 1.0. */
static void test_linear_baseline_learns_blobs(void **state)
{
    const char *base[] = {"data.format=synthetic", "data.synthetic.generator=blobs", "data.synthetic.samples=1200",
                          "data.synthetic.noise=0.1", "model.hidden=32", "train.lr=0.003", "train.epochs=5", NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    assert_true(st_metric(r, "baseline_linear_error") < 0.05);
    assert_true(st_metric(r, "baseline_majority_error") > 0.7);
    st_free(r);
}

/* Regression: the mean baseline and least squares; a linear target is learnt. */
static void test_regression_baselines(void **state)
{
    char dir[512], path[700], k1[760];
    dt_test_tmpdir(dir, sizeof dir);
    char *text = malloc(64 * 1000 + 32);
    size_t len = (size_t)sprintf(text, "a,b,y\n");
    dt_rng rng;
    dt_rng_seed(&rng, 5);
    for (int i = 0; i < 1000; i++) {
        double a = dt_rng_normal(&rng), b = dt_rng_normal(&rng);
        len += (size_t)sprintf(text + len, "%.5f,%.5f,%.5f\n", a, b, 2 * a - b + 0.05 * dt_rng_normal(&rng));
    }
    dt_test_write(dir, "r.csv", text, path, sizeof path);
    free(text);
    snprintf(k1, sizeof k1, "data.train.path=%s", path);
    const char *base[] = {"data.format=csv", k1, "task=regression", "loss=mse", "train.lr=0.01", "train.epochs=20",
                          NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    st_print(r);
    assert_int_equal(st_errors(r), 0);
    assert_true(st_metric(r, "baseline_mean_error") > 2.0);
    assert_true(st_metric(r, "baseline_linear_error") < 0.1);
    assert_true(st_metric(r, "model_error") < 0.2);
    st_free(r);
    dt_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_labels_are_below_baseline),
        cmocka_unit_test(test_clean_problem_beats_baselines),
        cmocka_unit_test(test_missed_target_is_below_known_result),
        cmocka_unit_test(test_linear_baseline_learns_blobs),
        cmocka_unit_test(test_regression_baselines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
