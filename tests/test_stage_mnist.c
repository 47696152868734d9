/* The first three stages on real MNIST (../shared/data, skipped when absent):
 * the clean LeNet config passes, broken ones give the right finding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

#include "support/test_files.h"

static int have_mnist(void)
{
    char mnist[600];
    snprintf(mnist, sizeof mnist, "%s/mnist/train-images-idx3-ubyte.gz", dt_test_data_root());
    if (access(mnist, R_OK) == 0) return 1;
    print_message("skipped: %s not found (the shared datasets are not on this machine; DNNTROUBLE_DATA names "
                  "another folder)\n", mnist);
    return 0;
}

/* Loads configs/mnist-lenet.yaml with overrides and runs the three stages on
 * one shared dataset; returns the reports (caller frees). */
static void run_three(const char *const *sets, dt_report *reps[3])
{
    static dt_config cfg;
    assert_int_equal(dt_config_load("configs/mnist-lenet.yaml", &cfg), DT_OK);
    for (const char *const *s = sets; s && *s; s++) {
        char key[128];
        const char *eq = strchr(*s, '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - *s), *s);
        assert_int_equal(dt_config_set(&cfg, key, eq + 1), DT_OK);
    }
    dt_stage_ctx ctx = {.cfg = &cfg, .out_dir = "/tmp", .quiet = 1};
    dt_stage_fn fns[3] = {dt_stage_start_simple, dt_stage_debug, dt_stage_overfit_batch};
    const char *names[3] = {"start-simple", "debug", "overfit-batch"};
    for (int i = 0; i < 3; i++) {
        reps[i] = dt_report_new(names[i], &cfg);
        dt_status st = fns[i](&ctx, reps[i]);
        if (st) print_error("%s\n", dt_last_error());
        assert_int_equal(st, DT_OK);
    }
    dt_stage_ctx_release(&ctx);
}

static int error_findings(dt_report *rep)
{
    cJSON *j = dt_report_to_json(rep), *f;
    int n = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(j, "findings"))
        n += !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "severity")), "error");
    cJSON_Delete(j);
    return n;
}

static void free_three(dt_report *reps[3])
{
    for (int i = 0; i < 3; i++) dt_report_free(reps[i]);
}

static void test_clean_lenet_passes(void **state)
{
    if (!have_mnist()) skip();
    dt_report *r[3];
    run_three(NULL, r);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(error_findings(r[i]), 0);
        assert_int_not_equal(dt_report_status(r[i]), DT_VERDICT_FAIL);
    }
    free_three(r);
}

static void test_broken_configs(void **state)
{
    if (!have_mnist()) skip();
    dt_report *r[3];
    const char *raw[] = {"data.normalize=false", NULL};
    run_three(raw, r);
    assert_true(dt_report_has_finding(r[1], "inputs-not-normalized"));
    free_three(r);
    /* Each case loads MNIST and runs the stages afresh: under valgrind (~60x
     * slower) the first shows the paths, the others repeat them. */
    if (dt_test_under_valgrind()) {
        print_message("under valgrind: 1 of 3 broken configs\n");
        return;
    }

    const char *softmax[] = {"model.output_activation=softmax", NULL};
    run_three(softmax, r);
    assert_true(dt_report_has_finding(r[1], "softmax-before-logits-loss"));
    free_three(r);

    const char *slow[] = {"train.lr=1e-7", "stages.overfit-batch.max_steps=100", NULL};
    run_three(slow, r);
    assert_true(dt_report_has_finding(r[2], "overfit-loss-plateaus"));
    assert_int_equal(error_findings(r[1]), 0);
    free_three(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_lenet_passes),
        cmocka_unit_test(test_broken_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
