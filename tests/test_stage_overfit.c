/* start-simple and overfit-batch verdicts on generated data: a clean config
 * passes; broken ones give the right finding and no unrelated errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "dnntrouble/curve.h"
#include "dnntrouble/data.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

/* A config on generated data: key=value pairs applied with dt_config_set. */
static void make_config(dt_config *cfg, const char *const *sets)
{
    dt_config_defaults(cfg);
    static const char *base[] = {"data.format=synthetic", "data.synthetic.generator=spirals",
                                 "data.synthetic.samples=600", "model.hidden=64", "train.lr=0.01",
                                 "stages.overfit-batch.max_steps=300", NULL};
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *s = pass ? sets : base; s && *s; s++) {
            char key[128];
            const char *eq = strchr(*s, '=');
            snprintf(key, sizeof key, "%.*s", (int)(eq - *s), *s);
            dt_status st = dt_config_set(cfg, key, eq + 1);
            if (st) print_error("%s\n", dt_last_error());
            assert_int_equal(st, DT_OK);
        }
    assert_int_equal(dt_config_check(cfg), DT_OK);
}

/* Runs one stage; returns its report (caller frees). */
static dt_report *run_stage(dt_stage_fn fn, const char *name, const char *const *sets)
{
    static dt_config cfg;
    make_config(&cfg, sets);
    dt_stage_ctx ctx = {.cfg = &cfg, .out_dir = "/tmp", .quiet = 1};
    dt_report *rep = dt_report_new(name, &cfg);
    dt_status st = fn(&ctx, rep);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_stage_ctx_release(&ctx);
    return rep;
}

static int has_error_other_than(dt_report *rep, const char *allowed)
{
    cJSON *j = dt_report_to_json(rep), *f;
    int other = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "findings"))
    {
        const char *sev = cJSON_GetStringValue(cJSON_GetObjectItem(f, "severity"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(f, "id"));
        if (!strcmp(sev, "error") && (!allowed || strcmp(id, allowed))) other = 1;
    }
    cJSON_Delete(j);
    return other;
}

static void test_clean_overfit_passes(void **state)
{
    dt_report *rep = run_stage(dt_stage_overfit_batch, "overfit-batch", NULL);
    assert_int_equal(dt_report_status(rep), DT_VERDICT_PASS);
    double acc;
    assert_true(dt_report_get_metric(rep, "batch_accuracy", &acc));
    assert_true(acc == 1.0);
    dt_report_free(rep);
}

static void test_lr_far_too_high_explodes_or_oscillates(void **state)
{
    /* Adam at lr 100 can still memorise 32 samples, after the loss blew up
     * by orders of magnitude: the stage says so with a warning. */
    const char *sets[] = {"train.lr=100", NULL};
    dt_report *rep = run_stage(dt_stage_overfit_batch, "overfit-batch", sets);
    assert_int_not_equal(dt_report_status(rep), DT_VERDICT_PASS);
    int hit = dt_report_has_finding(rep, "overfit-loss-explodes") + dt_report_has_finding(rep, "overfit-loss-oscillates");
    assert_int_equal(hit, 1);
    dt_report_free(rep);

    const char *sgd[] = {"train.optimizer=sgd", "train.lr=50", NULL};
    rep = run_stage(dt_stage_overfit_batch, "overfit-batch", sgd);
    hit = dt_report_has_finding(rep, "overfit-loss-explodes") + dt_report_has_finding(rep, "overfit-loss-oscillates");
    assert_int_equal(hit, 1);
    /* The message quotes the evidence, peak included: no "3.2 -> 2.1" hiding a 7e6 spike. */
    cJSON *j = dt_report_to_json(rep), *f0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "findings"), 0);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(f0, "evidence");
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f0, "message"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(ev, "tail_loss"));
    assert_null(cJSON_GetObjectItemCaseSensitive(ev, "final_loss"));
    double mx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "max_loss"));
    double l0 = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "initial_loss"));
    char peak[64];
    snprintf(peak, sizeof peak, "peak %.4g", mx);
    if (mx > 2 * l0 && !strstr(msg, peak)) fail_msg("message '%s' lacks '%s'", msg, peak);
    cJSON_Delete(j);
    dt_report_free(rep);
}

static void test_lr_far_too_low_plateaus(void **state)
{
    const char *sets[] = {"train.lr=1e-7", NULL};
    dt_report *rep = run_stage(dt_stage_overfit_batch, "overfit-batch", sets);
    assert_int_equal(dt_report_status(rep), DT_VERDICT_FAIL);
    assert_true(dt_report_has_finding(rep, "overfit-loss-plateaus"));
    assert_false(has_error_other_than(rep, "overfit-loss-plateaus"));
    dt_report_free(rep);
}

static void test_heavy_weight_decay_plateaus(void **state)
{
    const char *sets[] = {"train.weight_decay=10", NULL};
    dt_report *rep = run_stage(dt_stage_overfit_batch, "overfit-batch", sets);
    assert_true(dt_report_has_finding(rep, "overfit-loss-plateaus"));
    assert_false(has_error_other_than(rep, "overfit-loss-plateaus"));
    cJSON *j = dt_report_to_json(rep);
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "findings"), 0);
    const char *first = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(f, "suggestions"), 0));
    assert_non_null(strstr(first, "regularization")); /* the evidence puts it first */
    cJSON_Delete(j);
    dt_report_free(rep);
}

static void test_start_simple_clean_and_departures(void **state)
{
    dt_report *rep = run_stage(dt_stage_start_simple, "start-simple", NULL);
    assert_false(has_error_other_than(rep, NULL));
    assert_false(dt_report_has_finding(rep, "not-simple-regularization"));
    dt_report_free(rep);

    const char *sets[] = {"train.weight_decay=0.01", "model.hidden=1024", "model.output_activation=softmax", NULL};
    rep = run_stage(dt_stage_start_simple, "start-simple", sets);
    assert_true(dt_report_has_finding(rep, "not-simple-regularization"));
    assert_true(dt_report_has_finding(rep, "not-simple-model-size"));
    assert_true(dt_report_has_finding(rep, "softmax-before-logits-loss"));
    dt_report_free(rep);
}

/* start-simple names the ramp's next step in its choices: lenet -> resnet,
 * lstm -> transformer, mlp -> a deeper mlp with batch-norm; none after a transformer. */
static void test_start_simple_names_the_next_step(void **state)
{
    static const struct { const char *gen, *arch, *next; } cases[] = {
        {"data.synthetic.generator=shapes", "model.arch=auto", "resnet"},
        {"data.synthetic.generator=sequences", "model.arch=auto", "transformer"},
        {"data.synthetic.generator=spirals", "model.arch=auto", "a deeper mlp with batch-norm"},
        {"data.synthetic.generator=sequences", "model.arch=transformer", NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *sets[] = {cases[c].gen, cases[c].arch, NULL};
        dt_report *rep = run_stage(dt_stage_start_simple, "start-simple", sets);
        cJSON *j = dt_report_to_json(rep);
        cJSON *m = cJSON_GetObjectItem(j, "metrics");
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(m, "next_arch"));
        const char *reason = NULL;
        cJSON *ch;
        cJSON_ArrayForEach(ch, cJSON_GetObjectItem(m, "choices"))
            if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ch, "key")), "model.arch"))
                reason = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "reason"));
        assert_non_null(reason);
        print_message("%s: %s\n", cases[c].arch, reason);
        if (cases[c].next) {
            assert_non_null(next);
            assert_string_equal(next, cases[c].next);
            char want[128];
            snprintf(want, sizeof want, "next: %s", cases[c].next);
            assert_non_null(strstr(reason, want));
        } else {
            assert_null(next);
            assert_null(strstr(reason, "next:"));
        }
        cJSON_Delete(j);
        dt_report_free(rep);
    }
}

/* The curve rules on hand-made curves. */
static void test_curve_classifier(void **state)
{
    float c[100];
    dt_curve_stats s;
    for (int i = 0; i < 100; i++) c[i] = 2.0f * expf(-i / 20.0f);
    assert_int_equal(dt_curve_classify(c, 100, &s), DT_CURVE_DECREASING);
    for (int i = 0; i < 100; i++) c[i] = 1.0f + 0.001f * (i % 2);
    assert_int_equal(dt_curve_classify(c, 100, &s), DT_CURVE_PLATEAUS);
    for (int i = 0; i < 100; i++) c[i] = 1.0f + 0.02f * i;
    assert_int_equal(dt_curve_classify(c, 100, &s), DT_CURVE_INCREASES);
    for (int i = 0; i < 100; i++) c[i] = i == 50 ? NAN : 1.0f;
    assert_int_equal(dt_curve_classify(c, 100, &s), DT_CURVE_EXPLODES);
    assert_int_equal(s.nonfinite_step, 50);
    for (int i = 0; i < 100; i++) c[i] = i ? 1.0f + 0.5f * (i % 2) : 2.0f;
    assert_int_equal(dt_curve_classify(c, 100, &s), DT_CURVE_OSCILLATES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_classifier),
        cmocka_unit_test(test_clean_overfit_passes),
        cmocka_unit_test(test_lr_far_too_high_explodes_or_oscillates),
        cmocka_unit_test(test_lr_far_too_low_plateaus),
        cmocka_unit_test(test_heavy_weight_decay_plateaus),
        cmocka_unit_test(test_start_simple_clean_and_departures),
        cmocka_unit_test(test_start_simple_names_the_next_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
