/* Helpers for the compare / decompose / improve stage tests: configs built in
 * memory, a stage run in a fresh output folder, CSV files written by the test.
 * Include after cmocka.h. */
#ifndef DT_TEST_STAGE_UTIL_H
#define DT_TEST_STAGE_UTIL_H

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/data.h"
#include "dnntrouble/report.h"
#include "dnntrouble/rng.h"
#include "dnntrouble/stage.h"
#include "support/test_files.h"

/* Defaults, then "key=value" pairs (NULL-terminated lists), then the checks. */
static inline void st_config(dt_config *cfg, const char *const *base, const char *const *sets)
{
    dt_config_defaults(cfg);
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *s = pass ? sets : base; s && *s; s++) {
            char key[128];
            const char *eq = strchr(*s, '=');
            assert_non_null(eq);
            snprintf(key, sizeof key, "%.*s", (int)(eq - *s), *s);
            dt_status st = dt_config_set(cfg, key, eq + 1);
            if (st) print_error("%s: %s\n", *s, dt_last_error());
            assert_int_equal(st, DT_OK);
        }
    dt_status st = dt_config_check(cfg);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
}

typedef struct st_run {
    dt_config cfg;
    char dir[512];
    dt_report *rep;
    cJSON *json;       /* the report as JSON */
} st_run;

/* Runs one stage with out_dir = a fresh temporary folder. */
static inline st_run *st_stage(dt_stage_fn fn, const char *name, const char *const *base, const char *const *sets)
{
    st_run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    st_config(&r->cfg, base, sets);
    dt_test_tmpdir(r->dir, sizeof r->dir);
    dt_stage_ctx ctx = {.cfg = &r->cfg, .out_dir = r->dir, .progress = NULL, .quiet = 1};
    r->rep = dt_report_new(name, &r->cfg);
    dt_status st = fn(&ctx, r->rep);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_stage_ctx_release(&ctx);
    r->json = dt_report_to_json(r->rep);
    return r;
}

static inline void st_free(st_run *r)
{
    cJSON_Delete(r->json);
    dt_report_free(r->rep);
    dt_test_rmtree(r->dir);
    free(r);
}

static inline double st_metric(const st_run *r, const char *key)
{
    double v = NAN;
    if (!dt_report_get_metric(r->rep, key, &v)) fail_msg("metric %s missing", key);
    return v;
}

static inline const cJSON *st_metric_json(const st_run *r, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "metrics"), key);
}

/* Findings with severity error (any id). */
static inline int st_errors(const st_run *r)
{
    int n = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r->json, "findings"))
        n += strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity")), "error") == 0;
    return n;
}

static inline void st_print(const st_run *r)
{
    char *s = cJSON_Print(cJSON_GetObjectItemCaseSensitive(r->json, "metrics"));
    char *f = cJSON_Print(cJSON_GetObjectItemCaseSensitive(r->json, "findings"));
    print_message("%s metrics: %.1500s\nfindings: %.1500s\n", dt_report_stage(r->rep), s, f);
    free(s);
    free(f);
}

/* Two-feature CSV "a,b,region,label": label = (a > 0) in region "same";
 * in region "flip" the feature a is negated when `shift` (test data), so the
 * same rule fails there.  random_labels: labels are coin flips. */
static inline void st_write_csv(const char *dir, const char *name, size_t n, uint64_t seed, int shift, int random_labels,
                         char *path, size_t size)
{
    size_t cap = 64 + n * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "a,b,region,label\n");
    dt_rng r;
    dt_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        double a = dt_rng_normal(&r), b = dt_rng_normal(&r);
        int flip = (i % 2) == 1;
        int label = a > 0;
        if (random_labels) label = (int)dt_rng_below(&r, 2);
        double shown = shift && flip ? -a : a;
        len += (size_t)snprintf(text + len, cap - len, "%.5f,%.5f,%s,%d\n", shown, b, flip ? "flip" : "same", label);
    }
    dt_test_write(dir, name, text, path, size);
    free(text);
}

/* The distribution-shift case: train.csv as is, test.csv with feature a
 * negated in region "flip"; base gets the config keys (k1, k2 hold paths). */
typedef struct st_shift_case {
    char dir[512], train[700], test[700], k1[760], k2[760];
    const char *base[8];
} st_shift_case;

static inline void st_shift_case_init(st_shift_case *c)
{
    dt_test_tmpdir(c->dir, sizeof c->dir);
    st_write_csv(c->dir, "train.csv", 1200, 1, 0, 0, c->train, sizeof c->train);
    st_write_csv(c->dir, "test.csv", 800, 2, 1, 0, c->test, sizeof c->test);
    snprintf(c->k1, sizeof c->k1, "data.train.path=%s", c->train);
    snprintf(c->k2, sizeof c->k2, "data.test.path=%s", c->test);
    const char *b[] = {"data.format=csv", c->k1, c->k2, "data.csv.label=label", "data.slice=region",
                       "train.lr=0.01", "train.epochs=15", NULL};
    memcpy(c->base, b, sizeof b);
}

#endif
