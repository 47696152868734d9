/* Reports: fields, status rules, atomic writes, schema validation (and the
 * schema rejecting broken reports), summary + gates, diff, progress. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/config.h"
#include "dnntrouble/progress.h"
#include "dnntrouble/report.h"
#include "support/json_schema.h"
#include "support/test_files.h"
#include <zlib.h>

#include "../src/report/internal.h"   /* white box: the PNG writer and the escaper */

static dt_config *test_cfg(const char *extra)
{
    char yaml[1024];
    dt_config *c = malloc(sizeof *c);
    dt_config_defaults(c);
    snprintf(yaml, sizeof yaml, "name: t\nseed: 5\ndata: {format: synthetic}\n%s", extra);
    if (dt_config_parse_string(c, yaml, strlen(yaml), "t.yaml", NULL) != DT_OK) fail_msg("%s", dt_last_error());
    return c;
}

static dt_report *sample_report(const dt_config *c)
{
    dt_report *r = dt_report_new("debug", c);
    dt_finding *f = dt_report_finding(r, "dead-relu", DT_SEV_WARNING, "%.0f%% of layer %s never activates", 93.0, "f1");
    dt_finding_evidence(f, "fraction", 0.93);
    dt_finding_evidence_str(f, "layer", "f1");
    dt_finding_suggest(f, "lower the learning rate");
    dt_finding_suggest(f, "use %s", "leaky relu");
    dt_report_finding(r, "class-imbalance", DT_SEV_INFO, "balanced");
    dt_report_metric(r, "init_loss", 1.386);
    dt_report_metric_str(r, "arch", "mlp");
    double a[] = {1, 2, 3};
    float fa[] = {0.5f, 0.25f};
    long m[] = {5, 1, 0, 7};
    dt_report_metric_array(r, "curve", a, 3);
    dt_report_metric_farray(r, "grad_norms", fa, 2);
    dt_report_metric_matrix(r, "confusion_matrix", m, 2, 2);
    cJSON *nested = cJSON_CreateObject();
    cJSON_AddNumberToObject(nested, "score", 0.1);
    dt_report_metric_json(r, "best", nested);
    dt_report_artifact(r, "model", "model.safetensors");
    return r;
}

static void test_fields_and_status(void **state)
{
    dt_config *c = test_cfg("");
    dt_report *r = sample_report(c);
    assert_int_equal(dt_report_status(r), DT_VERDICT_WARN);
    assert_int_equal(dt_report_has_finding(r, "dead-relu"), 1);
    double v;
    assert_true(dt_report_get_metric(r, "init_loss", &v) && v == 1.386);
    assert_false(dt_report_get_metric(r, "arch", &v));
    cJSON *j = dt_report_to_json(r);
    assert_int_equal(cJSON_GetObjectItem(j, "schema_version")->valueint, DT_REPORT_SCHEMA_VERSION);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tool"), "name")->valuestring, "dnntrouble");
    assert_string_equal(cJSON_GetObjectItem(j, "stage")->valuestring, "debug");
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "warn");
    assert_int_equal(cJSON_GetObjectItem(j, "seed")->valueint, 5);
    assert_true(cJSON_GetObjectItem(j, "duration_s")->valuedouble >= 0);
    assert_int_equal(strlen(cJSON_GetObjectItem(j, "started_at")->valuestring), 20);
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "findings"), 0);
    assert_string_equal(cJSON_GetObjectItem(f, "message")->valuestring, "93% of layer f1 never activates");
    assert_string_equal(cJSON_GetObjectItem(f, "severity")->valuestring, "warning");
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(f, "evidence"), "fraction")->valuedouble == 0.93);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(f, "suggestions"), 1)->valuestring, "use leaky relu");
    cJSON *cm = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "confusion_matrix");
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(cm, 1), 1)->valueint, 7);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "artifacts"), "model")->valuestring,
                        "model.safetensors");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "name")->valuestring, "t");
    cJSON_Delete(j);

    /* An error finding fails the stage; an explicit status wins. */
    dt_report_finding(r, "nan-or-inf", DT_SEV_ERROR, "loss is NaN at step %d", 3);
    assert_int_equal(dt_report_status(r), DT_VERDICT_FAIL);
    dt_report_set_status(r, DT_VERDICT_WARN);
    assert_int_equal(dt_report_status(r), DT_VERDICT_WARN);
    dt_report_free(r);

    r = dt_report_new("compare", c);
    assert_int_equal(dt_report_status(r), DT_VERDICT_PASS);
    /* NULL handles are no-ops, so stage code needs no checks. */
    dt_finding_evidence(NULL, "x", 1);
    dt_finding_suggest(NULL, "x");
    dt_report_free(r);
    dt_report_free(NULL);
    free(c);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_atomic_write(void **state)
{
    char dir[512], out[700], path[800];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/a/b", dir);    /* created on demand */
    dt_config *c = test_cfg("");
    dt_report *r = sample_report(c);
    assert_int_equal(dt_report_write(r, out), DT_OK);
    assert_int_equal(dt_report_write(r, out), DT_OK);   /* replaces */
    snprintf(path, sizeof path, "%s/debug.json", out);
    cJSON *j = dt_json_load_file(path);
    assert_non_null(j);
    cJSON_Delete(j);
    assert_int_equal(count_files(out), 1);   /* no temp files left behind */

    /* A folder that cannot exist: an I/O error naming it, and no file. */
    snprintf(path, sizeof path, "%s/debug.json/sub", out);
    assert_int_equal(dt_report_write(r, path), DT_EIO);
    assert_non_null(strstr(dt_last_error(), "debug.json"));
    assert_int_equal(count_files(out), 1);

    snprintf(path, sizeof path, "%s/plain.txt", dir);
    assert_int_equal(dt_write_file_atomic(path, "hello", 5), DT_OK);
    char *text = dt_test_read(path);
    assert_string_equal(text, "hello");
    free(text);
    dt_report_free(r);
    free(c);
    dt_test_rmtree(dir);
}

static cJSON *load_schema(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "schemas/%s", name);
    cJSON *s = dt_json_load_file(path);
    if (!s) fail_msg("cannot read %s (tests run from the repository root)", path);
    return s;
}

static void expect_invalid(const cJSON *schema, cJSON *doc, const char *what)
{
    char err[512];
    if (dt_schema_validate(schema, doc, err, sizeof err)) fail_msg("schema accepted a report with %s", what);
    cJSON_Delete(doc);
}

static void test_schema(void **state)
{
    char err[512];
    cJSON *schema = load_schema("report.schema.json");
    dt_config *c = test_cfg("target: {value: 0.1}\ngates: {debug: warn}\n");
    dt_report *r = sample_report(c);
    cJSON *good = dt_report_to_json(r);
    if (!dt_schema_validate(schema, good, err, sizeof err)) fail_msg("real report rejected: %s", err);

    cJSON *bad = cJSON_Duplicate(good, 1);
    cJSON_DeleteItemFromObject(bad, "status");
    expect_invalid(schema, bad, "no status");
    bad = cJSON_Duplicate(good, 1);
    cJSON_ReplaceItemInObject(bad, "status", cJSON_CreateString("great"));
    expect_invalid(schema, bad, "an unknown status");
    bad = cJSON_Duplicate(good, 1);
    cJSON_ReplaceItemInObject(bad, "duration_s", cJSON_CreateString("1s"));
    expect_invalid(schema, bad, "a string duration");
    bad = cJSON_Duplicate(good, 1);
    cJSON_AddNumberToObject(bad, "extra", 1);
    expect_invalid(schema, bad, "an extra field");
    bad = cJSON_Duplicate(good, 1);
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "findings"), 0);
    cJSON_ReplaceItemInObject(f, "severity", cJSON_CreateString("fatal"));
    expect_invalid(schema, bad, "a bad severity");
    bad = cJSON_Duplicate(good, 1);
    f = cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "findings"), 0);
    cJSON_ReplaceItemInObject(f, "id", cJSON_CreateString("Dead ReLU"));
    expect_invalid(schema, bad, "a malformed finding id");
    bad = cJSON_Duplicate(good, 1);
    cJSON_ReplaceItemInObject(bad, "started_at", cJSON_CreateString("yesterday"));
    expect_invalid(schema, bad, "a bad timestamp");
    cJSON_Delete(good);
    cJSON_Delete(schema);
    dt_report_free(r);
    free(c);
}

static void test_summary_and_gates(void **state)
{
    char dir[512], err[512], path[700];
    dt_test_tmpdir(dir, sizeof dir);
    dt_config *c = test_cfg("gates: {debug: pass, overfit-batch: warn, test_error: {max: 0.05}, "
                            "accuracy: {min: 0.9}, tune: pass}\n");
    dt_summary *s = dt_summary_new(c);
    dt_report *r = sample_report(c);              /* debug: warn -> trips "debug: pass" */
    dt_summary_add(s, r);
    dt_report_free(r);
    r = dt_report_new("decompose", c);
    dt_report_metric(r, "test_error", 0.04);
    dt_report_metric(r, "accuracy", 0.5);      /* trips min 0.9 */
    dt_summary_add(s, r);
    dt_report_free(r);
    dt_summary_skip(s, "tune", "overfit-batch failed");   /* a skipped gated stage trips */
    assert_int_equal(dt_summary_apply_gates(s, c), 4);   /* debug, overfit-batch (missing), accuracy, tune */
    assert_int_equal(dt_summary_status(s), DT_VERDICT_FAIL);
    assert_int_equal(dt_summary_write(s, dir), DT_OK);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *j = dt_json_load_file(path), *schema = load_schema("summary.schema.json");
    if (!dt_schema_validate(schema, j, err, sizeof err)) fail_msg("summary rejected: %s", err);
    cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "gates"), 2);
    assert_string_equal(cJSON_GetObjectItem(g, "name")->valuestring, "test_error");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(g, "passed")));
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "init_loss")->valuedouble == 1.386);
    cJSON_Delete(j);
    dt_summary_free(s);

    /* Without gates and with warnings only: warn. */
    dt_config *plain = test_cfg("");
    s = dt_summary_new(plain);
    r = sample_report(plain);
    dt_summary_add(s, r);
    dt_report_free(r);
    dt_summary_error(s, "compare", DT_EDATA, "x.csv: line 3: bad number");
    assert_int_equal(dt_summary_apply_gates(s, plain), 0);
    assert_int_equal(dt_summary_status(s), DT_VERDICT_FAIL);   /* the error */
    j = dt_summary_to_json(s);
    if (!dt_schema_validate(schema, j, err, sizeof err)) fail_msg("summary with error rejected: %s", err);
    cJSON_Delete(j);
    dt_summary_free(s);
    cJSON_Delete(schema);
    free(plain);
    free(c);
    dt_test_rmtree(dir);
}

/* Writes a summary with the given test_error/accuracy and compare status. */
static void write_run(const char *dir, double test_error, double accuracy, dt_verdict compare)
{
    dt_config *c = test_cfg("");
    dt_summary *s = dt_summary_new(c);
    dt_report *r = dt_report_new("compare", c);
    dt_report_set_status(r, compare);
    dt_report_metric(r, "test_error", test_error);
    dt_report_metric(r, "test_accuracy", accuracy);
    dt_report_metric(r, "epochs_run", 3);
    dt_summary_add(s, r);
    assert_int_equal(dt_summary_write(s, dir), DT_OK);
    dt_report_free(r);
    dt_summary_free(s);
    free(c);
}

/* A decompose-like summary: an error with its standard error, bookkeeping, a data setting. */
static void write_noisy_run(const char *dir, double variance, double se, double gradcheck, const char *samples)
{
    dt_config *c = test_cfg("");
    assert_int_equal(dt_config_set(c, "data.synthetic.samples", samples), DT_OK);
    dt_summary *s = dt_summary_new(c);
    dt_report *r = dt_report_new("decompose", c);
    dt_report_metric(r, "variance", variance);
    dt_report_metric(r, "variance_se", se);
    dt_report_metric(r, "gradcheck_max_error", gradcheck);
    dt_report_metric(r, "gradcheck_checked", 50 + gradcheck);
    dt_summary_add(s, r);
    assert_int_equal(dt_summary_write(s, dir), DT_OK);
    dt_report_free(r);
    dt_summary_free(s);
    free(c);
}

static int regressions(const char *a, const char *b)
{
    dt_diff d;
    assert_int_equal(dt_diff_runs(a, b, DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL, &d), DT_OK);
    int n = d.regressions;
    dt_diff_free(&d);
    return n;
}

static void test_diff(void **state)
{
    char dir[512], a[600], b[600], c[600], e[600], f[600], file[700];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(e, sizeof e, "%s/e", dir);
    snprintf(f, sizeof f, "%s/f", dir);
    write_run(a, 0.100, 0.90, DT_VERDICT_PASS);
    write_run(b, 0.1015, 0.90, DT_VERDICT_PASS);   /* within max(0.002, 2%) */
    write_run(c, 0.120, 0.90, DT_VERDICT_PASS);    /* worse */
    write_run(e, 0.100, 0.80, DT_VERDICT_PASS);    /* accuracy down */
    write_run(f, 0.050, 0.95, DT_VERDICT_FAIL);    /* better numbers, failed stage */
    assert_int_equal(regressions(a, a), 0);
    assert_int_equal(regressions(a, b), 0);
    assert_int_equal(regressions(a, c), 1);
    assert_int_equal(regressions(c, a), 0);
    assert_int_equal(regressions(a, e), 1);
    assert_int_equal(regressions(a, f), 1);
    snprintf(file, sizeof file, "%s/summary.json", c);
    assert_int_equal(regressions(a, file), 1);    /* a summary.json file works too */
    assert_int_equal(dt_metric_direction("train_val_error"), DT_DIR_LOWER);
    assert_int_equal(dt_metric_direction("test_accuracy"), DT_DIR_HIGHER);
    assert_int_equal(dt_metric_direction("epochs_run"), DT_DIR_NONE);
    dt_diff d;
    assert_int_equal(dt_diff_runs(a, "/nonexistent", 0, 0, &d), DT_EDATA);
    /* Noise: variance -0.0078 -> 0 with an SE of 0.05 on each side (14-row splits) is a
     * reshuffle, not a regression; the same change with tiny SEs is one. Bookkeeping
     * (gradcheck tallies) is not compared at all. */
    char g[600], h[600], k[600], l[600];
    snprintf(g, sizeof g, "%s/g", dir);
    snprintf(h, sizeof h, "%s/h", dir);
    snprintf(k, sizeof k, "%s/k", dir);
    snprintf(l, sizeof l, "%s/l", dir);
    write_noisy_run(g, -0.0078, 0.05, 0.1, "300");
    write_noisy_run(h, 0.0, 0.05, 0.9, "300");
    write_noisy_run(k, 0.02, 0.0001, 0.1, "300");
    write_noisy_run(l, 0.02, 0.0001, 0.1, "900");
    assert_int_equal(dt_diff_runs(g, h, DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL, &d), DT_OK);
    assert_int_equal(d.regressions, 0);
    for (int i = 0; i < d.n; i++) assert_null(strstr(d.rows[i].name, "gradcheck"));
    assert_string_equal(d.data_differs, "");
    dt_diff_free(&d);
    assert_int_equal(dt_diff_runs(h, k, DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL, &d), DT_OK);
    assert_int_equal(d.regressions, 0);   /* 0 -> 0.02 within 2 x sqrt(0.05^2 + 0.0001^2) */
    dt_diff_free(&d);
    write_noisy_run(h, 0.0, 0.0001, 0.9, "300");
    assert_int_equal(dt_diff_runs(h, k, DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL, &d), DT_OK);
    assert_int_equal(d.regressions, 1);
    dt_diff_free(&d);
    /* Different data is flagged. */
    assert_int_equal(dt_diff_runs(k, l, DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL, &d), DT_OK);
    assert_string_equal(d.data_differs, "data.synthetic.samples");
    dt_diff_free(&d);
    assert_int_equal(dt_metric_direction("variance_se"), DT_DIR_NONE);
    assert_int_equal(dt_metric_direction("gradcheck_max_error"), DT_DIR_NONE);
    assert_int_equal(dt_metric_direction("test_n"), DT_DIR_NONE);
    dt_test_rmtree(dir);
}

static double fake_now;
static double fake_clock(void) { return fake_now; }

static void test_progress(void **state)
{
    char dir[512], path[700];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/progress.txt", dir);
    FILE *out = fopen(path, "w");
    dt_progress *p = dt_progress_new(out, 0);
    dt_progress_set_clock(p, fake_clock);
    fake_now = 0;
    dt_progress_begin(p, "train");
    /* 1000 steps in 1 epoch, 1 ms each: printed at most every 10 % (time never reaches 2 s). */
    for (long s = 1; s <= 1000; s++) {
        fake_now = (double)s * 0.001;
        dt_progress_update(p, 1, 1, s, 1000, 0.5);
    }
    dt_progress_end(p, "done");
    /* A task timed elsewhere (a forked tune trial) prints its own duration. */
    dt_progress_done(p, "tune trial 3/20", "train_val error 0.0130", 12.34);
    dt_progress_free(p);
    fclose(out);
    char *text = dt_test_read(path);
    int lines = 0;
    for (char *q = text; *q; q++) lines += *q == '\n';
    assert_true(lines >= 10 && lines <= 13);
    assert_non_null(strstr(text, "train: 100% epoch 1/1 step 1000/1000"));
    assert_non_null(strstr(text, "train: done"));
    assert_non_null(strstr(text, "tune trial 3/20: train_val error 0.0130 (12.3s)\n"));
    assert_null(strchr(text, '\r'));   /* no carriage returns in logs */
    free(text);
    /* NULL reporter: every call is a no-op. */
    assert_null(dt_progress_new(NULL, 1));
    dt_progress_begin(NULL, "x");
    dt_progress_update(NULL, 1, 1, 1, 1, 0);
    dt_progress_end(NULL, NULL);
    dt_progress_done(NULL, "x", NULL, 0);
    dt_test_rmtree(dir);
}


static int b64_value(char c)
{
    const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(tab, c);
    return c && p ? (int)(p - tab) : -1;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The PNG writer: base64 of a valid PNG (signature, IHDR, CRCs) whose IDAT
 * inflates (zlib) back to the pixels, each row after a filter byte 0. */
static void test_png(void **state)
{
    enum { W = 5, H = 3 };
    unsigned char px[H][W][3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) px[y][x][c] = (unsigned char)(17 * y + 40 * x + 90 * c);
    dt_sbuf b = {0};
    assert_true(dt_png_base64(&px[0][0][0], W, H, 3, &b));
    size_t n = b.len, m = 0;
    assert_int_equal(n % 4, 0);
    unsigned char *bin = malloc(n);
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = b.p[i + k] == '=' ? 0 : b64_value(b.p[i + k]);
        for (int k = 0; k < 4; k++) assert_true(v[k] >= 0);
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        bin[m++] = (unsigned char)(q >> 16);
        if (b.p[i + 2] != '=') bin[m++] = (unsigned char)(q >> 8);
        if (b.p[i + 3] != '=') bin[m++] = (unsigned char)q;
    }
    assert_memory_equal(bin, "\x89PNG\r\n\x1a\n", 8);
    size_t at = 8;
    unsigned char raw[H * (W * 3 + 1)];
    int seen_idat = 0;
    while (at + 12 <= m) {
        uint32_t len = be32(bin + at);
        const unsigned char *type = bin + at + 4, *data = bin + at + 8;
        assert_true(at + 12 + len <= m);
        assert_int_equal(be32(data + len), (uint32_t)crc32(crc32(0, Z_NULL, 0), type, len + 4));
        if (!memcmp(type, "IHDR", 4)) {
            assert_int_equal(be32(data), W);
            assert_int_equal(be32(data + 4), H);
            assert_int_equal(data[8], 8);
            assert_int_equal(data[9], 2);
        } else if (!memcmp(type, "IDAT", 4)) {
            uLongf rn = sizeof raw;
            assert_int_equal(uncompress(raw, &rn, data, len), Z_OK);
            assert_int_equal(rn, sizeof raw);
            seen_idat = 1;
        }
        at += 12 + len;
        if (!memcmp(type, "IEND", 4)) break;
    }
    assert_int_equal(at, m);
    assert_true(seen_idat);
    for (int y = 0; y < H; y++) {
        assert_int_equal(raw[y * (W * 3 + 1)], 0);
        assert_memory_equal(raw + y * (W * 3 + 1) + 1, px[y], W * 3);
    }
    free(bin);
    dt_sb_free(&b);
}

/* JUnit and HTML escape what they take from reports: markup characters,
 * control characters and bytes that are not UTF-8 (XML 1.0 forbids them). */
static void test_escaping(void **state)
{
    dt_sbuf b = {0};
    dt_sb_escape(&b, "a<b & \"c\" 'd' \x01 \xff caf\xc3\xa9 \xed\xa0\x80!");
    assert_string_equal(b.p, "a&lt;b &amp; &quot;c&quot; &#39;d&#39; \xef\xbf\xbd \xef\xbf\xbd caf\xc3\xa9 "
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
    dt_sb_free(&b);

    dt_config *c = test_cfg("");
    dt_report *r = dt_report_new("compare", c);
    dt_finding *f = dt_report_finding(r, "below-baseline", DT_SEV_ERROR, "model <1> & \"2\" \x02 \xfe");
    dt_finding_evidence_str(f, "baseline", "majority");
    dt_finding_evidence(f, "model_error", 0.5);
    dt_finding_evidence(f, "baseline_error", 0.5);
    dt_finding_suggest(f, "check </failure> and ]]>");
    cJSON *j = dt_report_to_json(r);
    const cJSON *reps[1] = {j};
    char *xml = dt_junit_render(reps, 1, NULL);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<failure message=\"below-baseline: model &lt;1&gt; &amp; &quot;2&quot; \xef\xbf\xbd \xef\xbf\xbd\""));
    assert_non_null(strstr(xml, "check &lt;/failure&gt; and ]]&gt;"));
    assert_null(strchr(xml, '\x02'));
    char dir[512], path[700];
    dt_test_tmpdir(dir, sizeof dir);
    dt_test_write(dir, "j.xml", xml, path, sizeof path);
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "python3 -c \"import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); "
                                  "f=r.find('testsuite/testcase/failure'); assert f.get('message').startswith('below-baseline: model <1> & \\\"2\\\"'), f.get('message')\" %s",
                 path);
        assert_int_equal(system(cmd), 0);
    }
    free(xml);
    /* The page escapes the same text. */
    char *html = dt_html_render(reps, 1, NULL, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "model &lt;1&gt; &amp; &quot;2&quot;"));
    assert_null(strstr(html, "model <1>"));
    free(html);
    cJSON_Delete(j);
    dt_report_free(r);
    free(c);
    dt_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_status), cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_schema),            cmocka_unit_test(test_summary_and_gates),
        cmocka_unit_test(test_diff),              cmocka_unit_test(test_progress),
        cmocka_unit_test(test_png),               cmocka_unit_test(test_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
