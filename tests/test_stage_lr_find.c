/* lr-find on generated data: the rules on constructed curves, the
 * suggestion against a grid of short fits, reproducibility, no trace in the
 * model, the divergence stop, the report and its plot, bad keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../src/stages/lr_find.h"
#include "dnntrouble/report.h"
#include "test_stage_util.h"

/* Noisy generated shapes (images), a small MLP, one epoch: trains in
 * milliseconds, and the short budget gives a clear best lr (too low does
 * not get far in one epoch, too high is unstable). */
static const char *const shapes[] = {"data.format=synthetic", "data.synthetic.generator=shapes",
                                    "data.synthetic.samples=1500", "data.synthetic.noise=0.3",
                                    "data.splits.train_val=0.2", "model.arch=mlp", "model.hidden=32",
                                    "train.batch_size=32", "train.epochs=1", NULL};

/* A curve from losses at lr = 1e-6 * 10^(i/10). */
static dt_lr_curve curve_of(const double *loss, int n, double beta)
{
    dt_lr_curve c = {.n = n};
    c.lr = malloc((size_t)n * sizeof *c.lr);
    c.loss = malloc((size_t)n * sizeof *c.loss);
    c.smoothed = malloc((size_t)n * sizeof *c.smoothed);
    assert_true(c.lr && c.loss && c.smoothed);
    for (int i = 0; i < n; i++) {
        c.lr[i] = 1e-6 * pow(10.0, i / 10.0);
        c.loss[i] = loss[i];
    }
    dt_lr_smooth(c.loss, n, beta, c.smoothed);
    return c;
}

static void test_smoothing_is_bias_corrected(void **state)
{
    (void)state;
    double in[50], out[50];
    for (int i = 0; i < 50; i++) in[i] = 2.5;
    dt_lr_smooth(in, 50, 0.98, out);
    /* A plain exponential average starts at 0.05 x the first value; the corrected one is exact. */
    for (int i = 0; i < 50; i++) assert_true(fabs(out[i] - 2.5) < 1e-12);
    in[10] = 12.5;
    dt_lr_smooth(in, 50, 0.9, out);
    assert_true(out[10] > 2.5 && out[10] < 12.5 && out[20] < out[10]);
}

/* A clean curve: flat 2.3 up to 1e-4, falling to 0.3 by 1e-2 (a sigmoid in
 * log lr centred at 1e-3), then rising steeply past 1e-1.  Every rule
 * suggests an lr inside the fall, below the minimum. */
static void test_rules_on_a_constructed_curve(void **state)
{
    (void)state;
    double loss[66];
    for (int i = 0; i < 66; i++) {
        double x = -6.0 + i / 10.0;   /* log10 lr */
        loss[i] = 0.3 + 2.0 / (1.0 + exp(4.0 * (x + 3.0))) + (x > -1.0 ? pow(10.0, 2.0 * (x + 1.0)) - 1.0 : 0.0);
    }
    dt_lr_curve c = curve_of(loss, 66, 0.0);
    assert_null(dt_lr_curve_unusable(&c));
    for (int r = 0; r < DT_LR_RULE_COUNT; r++) {
        double lr;
        int k = dt_lr_suggest(&c, (dt_lr_rule)r, &lr);
        if (k < 0) fail_msg("rule %s: no suggestion", dt_lr_rule_name((dt_lr_rule)r));
        if (!(lr > 1e-4 && lr < 3e-2)) fail_msg("rule %s: %g outside the fall", dt_lr_rule_name((dt_lr_rule)r), lr);
        assert_true(k >= 0 && k < c.n);
    }
    double lr;
    dt_lr_suggest(&c, DT_LR_RULE_STEEPEST, &lr);
    assert_true(fabs(log10(lr) + 3.0) < 0.15);   /* the sigmoid is steepest at its centre */
    dt_lr_suggest(&c, DT_LR_RULE_MIN10, &lr);
    assert_true(fabs(log10(lr) + 2.0) < 0.25);   /* the minimum is near 1e-1 */
    dt_lr_curve_free(&c);
}

static void test_curves_without_a_suggestion(void **state)
{
    (void)state;
    double flat[60], rising[60];
    for (int i = 0; i < 60; i++) {
        flat[i] = 2.3 + 0.01 * sin(i);
        rising[i] = 2.3 + 0.05 * i;
    }
    for (int which = 0; which < 2; which++) {
        dt_lr_curve c = curve_of(which ? rising : flat, 60, 0.9);
        assert_non_null(strstr(dt_lr_curve_unusable(&c), "never fell"));
        for (int r = 0; r < DT_LR_RULE_COUNT; r++) {
            double lr;
            assert_int_equal(dt_lr_suggest(&c, (dt_lr_rule)r, &lr), -1);
            assert_true(isnan(lr));
        }
        dt_lr_curve_free(&c);
    }
    dt_lr_curve c = curve_of(flat, 3, 0.9);
    assert_non_null(strstr(dt_lr_curve_unusable(&c), "diverged within the first steps"));
    dt_lr_curve_free(&c);
}

static void test_sweep_leaves_the_model_untouched(void **state)
{
    (void)state;
    dt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    static const char *const sets[] = {"train.dropout=0.2", "stages.lr-find.restarts=2", "stages.lr-find.steps=40",
                                       NULL};
    st_config(cfg, shapes, sets);
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = "/tmp", .quiet = 1};
    dt_data *d;
    assert_int_equal(dt_stage_prepare(&ctx, &d), DT_OK);
    dt_model *m;
    assert_int_equal(dt_stage_build_model(cfg, d, 32, &m), DT_OK);
    size_t n = dt_model_state_size(m);
    float *before = malloc(n * sizeof *before);
    assert_non_null(before);
    dt_model_state_save(m, before);
    dt_rng rng = m->g->rng;
    dt_lr_curve c;
    assert_int_equal(dt_lr_find_sweep(cfg, d, m, NULL, &c), DT_OK);
    assert_true(c.n > 10 && c.sweeps == 2 && c.steps > 40);
    float *after = malloc(n * sizeof *after);
    assert_non_null(after);
    dt_model_state_save(m, after);
    assert_memory_equal(before, after, n * sizeof *before);
    assert_memory_equal(&rng, &m->g->rng, sizeof rng);   /* the dropout masks of later training too */
    dt_lr_curve_free(&c);
    free(before);
    free(after);
    dt_model_free(m);
    dt_stage_ctx_release(&ctx);
    free(cfg);
}

static double metric_lr(const st_run *r) { return cJSON_GetNumberValue(st_metric_json(r, "suggested_lr")); }

static const cJSON *curve_part(const st_run *r, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "curve"), name);
}

static void test_reproducible_from_the_seed(void **state)
{
    (void)state;
    st_run *a = st_stage(dt_stage_lr_find, "lr-find", shapes, NULL);
    st_run *b = st_stage(dt_stage_lr_find, "lr-find", shapes, NULL);
    static const char *const other[] = {"seed=7", NULL};
    st_run *c = st_stage(dt_stage_lr_find, "lr-find", shapes, other);
    assert_true(isfinite(metric_lr(a)));
    assert_true(metric_lr(a) == metric_lr(b));
    assert_true(cJSON_Compare(st_metric_json(a, "curve"), st_metric_json(b, "curve"), 1));
    /* Another seed: other weights and batches, so another curve. */
    assert_false(cJSON_Compare(curve_part(a, "loss"), curve_part(c, "loss"), 1));
    st_free(a);
    st_free(b);
    st_free(c);
}

#define GRID 17   /* lr = 1e-4 ... 1, a quarter decade apart */

/* train_val error (tune's score) after the tests' short budget at each lr
 * of the grid, averaged over seeds 0-2 (each its own split, init and batches). */
static void grid_errors(const char *const *sets, double *err)
{
    for (int k = 0; k < GRID; k++) err[k] = 0;
    for (int seed = 0; seed < 3; seed++) {
        dt_config *cfg = malloc(sizeof *cfg);
        assert_non_null(cfg);
        st_config(cfg, shapes, sets);
        char v[8];
        snprintf(v, sizeof v, "%d", seed);
        assert_int_equal(dt_config_set(cfg, "seed", v), DT_OK);
        dt_stage_ctx ctx = {.cfg = cfg, .out_dir = "/tmp", .quiet = 1};
        dt_data *d;
        assert_int_equal(dt_stage_prepare(&ctx, &d), DT_OK);
        for (int k = 0; k < GRID; k++) {
            cfg->train.lr = pow(10.0, -4.0 + 0.25 * k);
            dt_model *m;
            assert_int_equal(dt_stage_build_model(cfg, d, cfg->train.batch_size, &m), DT_OK);
            dt_fit_opts fo = dt_stage_fit_opts_cfg(cfg, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN);
            fo.restore_best = 0;
            dt_fit_result fr;
            assert_int_equal(dt_stage_fit(cfg, d, m, &fo, &fr), DT_OK);
            dt_eval ev;
            assert_int_equal(dt_model_evaluate(m, d, DT_SPLIT_TRAIN_VAL, &ev, NULL, NULL), DT_OK);
            err[k] += (isfinite(ev.loss) ? ev.error : 1.0) / 3;
            dt_model_free(m);
        }
        dt_stage_ctx_release(&ctx);
        free(cfg);
    }
}

/* The best lr of a grid of short fits is known by training them; lr-find's
 * suggestion lands within 3x of it. */
static void test_suggestion_near_the_grid_best(void **state)
{
    (void)state;
    static const char *const adam[] = {"train.optimizer=adam", NULL};
    double err[GRID];
    grid_errors(adam, err);
    int best = 0;
    for (int k = 0; k < GRID; k++) {
        if (getenv("LRF_DEBUG")) print_message("  lr %.3g: train_val error %.4f\n", pow(10.0, -4.0 + 0.25 * k), err[k]);
        if (err[k] < err[best]) best = k;
    }
    double best_lr = pow(10.0, -4.0 + 0.25 * best);
    /* A clear optimum: half a decade either side is worse by 2 points or more. */
    assert_true(best >= 2 && best + 2 < GRID && err[best - 2] > err[best] + 0.02 && err[best + 2] > err[best] + 0.02);
    st_run *r = st_stage(dt_stage_lr_find, "lr-find", shapes, adam);
    double lr = metric_lr(r);
    print_message("grid best %.3g (train_val error %.4f), lr-find %.3g\n", best_lr, err[best], lr);
    if (!(lr > best_lr / 3 && lr < best_lr * 3)) fail_msg("suggestion %g not within 3x of %g", lr, best_lr);
    st_free(r);
}

static void test_divergence_stops_the_sweep(void **state)
{
    (void)state;
    static const char *const sets[] = {"train.optimizer=sgd", "stages.lr-find.max_lr=1e6", "stages.lr-find.steps=200",
                                       NULL};
    st_run *r = st_stage(dt_stage_lr_find, "lr-find", shapes, sets);
    const cJSON *sw = st_metric_json(r, "sweep");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw, "diverged")));
    double points = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sw, "points"));
    double steps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sw, "steps"));
    assert_true(points < 200 && steps < 200 && points >= steps - 1);
    /* Stopped at the first point past 4x the minimum (or at a non-finite loss). */
    const cJSON *sm = curve_part(r, "smoothed");
    int n = cJSON_GetArraySize(sm);
    assert_int_equal(n, (int)points);
    double mn = INFINITY;
    for (int i = 0; i < n - 1; i++) {
        double v = cJSON_GetNumberValue(cJSON_GetArrayItem(sm, i));
        if (v < mn) mn = v;
        assert_true(v <= 4 * mn);
    }
    st_free(r);
}

static void test_report_curve_and_plot(void **state)
{
    (void)state;
    st_run *r = st_stage(dt_stage_lr_find, "lr-find", shapes, NULL);
    int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "sweep"), "points"));
    assert_true(n > 10);
    const char *parts[] = {"lr", "loss", "smoothed"};
    for (int i = 0; i < 3; i++) assert_int_equal(cJSON_GetArraySize(curve_part(r, parts[i])), n);
    double lr0 = cJSON_GetNumberValue(cJSON_GetArrayItem(curve_part(r, "lr"), 0));
    assert_true(fabs(lr0 - 1e-7) < 1e-12);
    assert_string_equal(cJSON_GetStringValue(st_metric_json(r, "rule")), dt_lr_rule_name(dt_lr_find_rule));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(st_metric_json(r, "rules"), "steepest")));
    const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->json, "findings"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), "lr-find-suggestion");
    assert_int_equal(dt_report_status(r->rep), DT_VERDICT_PASS);
    const cJSON *reps[1] = {r->json};
    char *html = dt_html_render(reps, 1, NULL, r->dir);
    assert_non_null(html);
    const char *fig = strstr(html, "id=\"plot-lr-find-curve\"");
    assert_non_null(fig);
    const char *end = strstr(fig, "</figure>");
    int marks = 0;
    for (const char *p = fig; (p = strstr(p, "class=\"mark\"")) && p < end; p++) marks++;
    assert_int_equal(marks, 2);   /* the loss and the smoothed loss */
    const char *v = strstr(fig, "class=\"vline\"");
    assert_true(v && v < end);     /* the suggestion marked */
    free(html);
    st_free(r);
}

static void test_loss_that_never_falls(void **state)
{
    (void)state;
    /* An lr range far too low to move the loss. */
    static const char *const sets[] = {"stages.lr-find.min_lr=1e-10", "stages.lr-find.max_lr=1e-8", NULL};
    st_run *r = st_stage(dt_stage_lr_find, "lr-find", shapes, sets);
    assert_true(cJSON_IsNull(st_metric_json(r, "suggested_lr")));
    const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r->json, "findings"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")), "lr-find-no-suggestion");
    assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "message")), "never fell"));
    assert_int_equal(dt_report_status(r->rep), DT_VERDICT_WARN);
    st_free(r);
}

/* run passes the suggestion to tune: its default lr range is a decade each side of it. */
static void test_tune_centres_on_the_suggestion(void **state)
{
    (void)state;
    dt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    static const char *const sets[] = {"stages.tune.trials=2", "stages.tune.rounds=1", NULL};
    st_config(cfg, shapes, sets);
    char dir[512];
    dt_test_tmpdir(dir, sizeof dir);
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1};
    dt_report *lf = dt_report_new("lr-find", cfg), *tu = dt_report_new("tune", cfg);
    assert_int_equal(dt_stage_lr_find(&ctx, lf), DT_OK);
    double lr = ctx.lr_suggested;
    assert_true(lr > 0 && lr != cfg->train.lr);
    assert_int_equal(dt_stage_tune(&ctx, tu), DT_OK);
    assert_int_equal(cfg->stages.tune.n_space, 2);
    assert_string_equal(cfg->stages.tune.space[0].key, "train.lr");
    assert_true(fabs(cfg->stages.tune.space[0].lo - lr / 10) < 1e-9 * lr);
    assert_true(fabs(cfg->stages.tune.space[0].hi - lr * 10) < 1e-9 * lr);
    cJSON *j = dt_report_to_json(tu);
    assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "metrics"), "space")),
                           "lr-find's suggestion"));
    cJSON_Delete(j);
    dt_report_free(lf);
    dt_report_free(tu);
    dt_stage_ctx_release(&ctx);
    dt_test_rmtree(dir);
    free(cfg);
}

static void expect_config_error(const char *yaml, const char *want)
{
    dt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    dt_config_defaults(cfg);
    dt_status st = dt_config_parse_string(cfg, yaml, strlen(yaml), "lf.yaml", "/base");
    if (st == DT_OK) st = dt_config_check(cfg);
    assert_int_equal(st, DT_ECONFIG);
    if (!strstr(dt_last_error(), want)) fail_msg("error '%s' lacks '%s'", dt_last_error(), want);
    free(cfg);
}

static void test_bad_keys(void **state)
{
    (void)state;
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {stepz: 50}\n",
                        "lf.yaml:3: unknown key 'stages.lr-find.stepz' (did you mean 'stages.lr-find.steps'?)");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {steps: 5}\n",
                        "lf.yaml:3: stages.lr-find.steps must be >= 10");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find:\n    min_lr: 1\n    max_lr: 0.1\n",
                        "lf.yaml:5: stages.lr-find.min_lr (1) must be below stages.lr-find.max_lr (0.1)");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {diverge: 1}\n",
                        "lf.yaml:3: stages.lr-find.diverge must be > 1");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {smoothing: 1}\n", "stages.lr-find.smoothing");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {min_lr: 0}\n", "stages.lr-find.min_lr");
    expect_config_error("data: {format: synthetic}\nstages:\n  lr-find: {restarts: 0}\n", "stages.lr-find.restarts");
    expect_config_error("data: {format: synthetic}\ngates: {lr-fnd: pass}\n", "did you mean 'lr-find'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smoothing_is_bias_corrected),
        cmocka_unit_test(test_rules_on_a_constructed_curve),
        cmocka_unit_test(test_curves_without_a_suggestion),
        cmocka_unit_test(test_sweep_leaves_the_model_untouched),
        cmocka_unit_test(test_reproducible_from_the_seed),
        cmocka_unit_test(test_suggestion_near_the_grid_best),
        cmocka_unit_test(test_divergence_stops_the_sweep),
        cmocka_unit_test(test_report_curve_and_plot),
        cmocka_unit_test(test_loss_that_never_falls),
        cmocka_unit_test(test_tune_centres_on_the_suggestion),
        cmocka_unit_test(test_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
