/* The built binary: exit codes, messages, validate, --help/--version, diff.
 * Runs build/.../dnntrouble (found next to this test's folder). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnntrouble/config.h"
#include "dnntrouble/report.h"
#include "support/json_schema.h"
#include "support/test_files.h"

static char bin[1024];
static char tmp[512];
static char out_text[1 << 16], err_text[1 << 16];

/* Runs `dnntrouble ARGS`; returns the exit code, output in out_text/err_text. */
__attribute__((format(printf, 1, 2))) static int dnn(const char *fmt, ...)
{
    char args[2048], cmd[8192], o[700], e[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/stdout", tmp);
    snprintf(e, sizeof e, "%s/stderr", tmp);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin, args, o, e);
    int rc = system(cmd);
    char *t = dt_test_read(o);
    snprintf(out_text, sizeof out_text, "%s", t ? t : "");
    free(t);
    t = dt_test_read(e);
    snprintf(err_text, sizeof err_text, "%s", t ? t : "");
    free(t);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void expect(int rc, int want, const char *in_stderr)
{
    if (rc != want) fail_msg("exit %d, want %d; stderr: %s", rc, want, err_text);
    if (in_stderr && !strstr(err_text, in_stderr)) fail_msg("stderr lacks '%s': %s", in_stderr, err_text);
}

static const char *write_cfg(const char *name, const char *text)
{
    static char path[700];
    dt_test_write(tmp, name, text, path, sizeof path);
    return path;
}

static void test_version_and_help(void **state)
{
    expect(dnn("--version"), 0, NULL);
    assert_non_null(strstr(out_text, "dnntrouble " DT_TOOL_VERSION));
    expect(dnn("--help"), 0, NULL);
    assert_non_null(strstr(out_text, "exit codes"));
    const char *cmds[] = {"predict", "export", "run", "start-simple", "debug", "overfit-batch", "compare", "decompose",
                          "improve", "lr-find", "tune", "validate", "diff"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char want[64];
        expect(dnn("%s --help", cmds[i]), 0, NULL);
        snprintf(want, sizeof want, "usage: dnntrouble %s", cmds[i]);
        if (!strstr(out_text, want)) fail_msg("%s --help: %s", cmds[i], out_text);
    }
    assert_non_null(strstr(out_text, "--tolerance"));
    expect(dnn("tune --help"), 0, NULL);
    assert_non_null(strstr(out_text, "--jobs"));
}

static void test_usage_errors(void **state)
{
    const char *cfg = write_cfg("ok.yaml", "data: {format: synthetic}\n");
    expect(dnn("%s", ""), 2, "usage: dnntrouble");
    expect(dnn("frobnicate x.yaml"), 2, "unknown command 'frobnicate'");
    expect(dnn("runn x.yaml"), 2, "unknown command 'runn' (did you mean 'run'?)");
    expect(dnn("decompse x.yaml"), 2, "(did you mean 'decompose'?)");
    expect(dnn("debug"), 2, "missing CONFIG");
    expect(dnn("debug %s extra", cfg), 2, "unexpected argument 'extra'");
    expect(dnn("debug %s --bogus", cfg), 2, "unknown option '--bogus'");
    expect(dnn("debug %s --out", cfg), 2, "needs a value");
    expect(dnn("debug %s --jobs 2", cfg), 2, "does not apply");
    expect(dnn("validate %s --set train.lr", cfg), 2, "--set needs KEY=VALUE");
    expect(dnn("diff onlyone"), 2, "diff needs OLD and NEW");
    expect(dnn("diff a b --tolerance -1"), 2, "--tolerance needs a number");
    expect(dnn("diff a b --junit x.xml"), 2, "does not apply");
    expect(dnn("validate %s --junit x.xml", cfg), 2, "does not apply");
    expect(dnn("debug %s --junit", cfg), 2, "needs a value");
    expect(dnn("report"), 2, "report needs one RUN folder");
    expect(dnn("report a b"), 2, "report needs one RUN folder");
    expect(dnn("report --help"), 0, NULL);
    assert_non_null(strstr(out_text, "usage: dnntrouble report RUN"));
}

static void test_config_errors(void **state)
{
    const char *cfg = write_cfg("typo.yaml", "name: typo\ndata: {format: synthetic}\ntrain:\n  lrr: 0.1\n");
    expect(dnn("validate %s", cfg), 2, "typo.yaml:4: unknown key 'train.lrr' (did you mean 'train.lr'?)");
    assert_non_null(strstr(err_text, "dnntrouble: error: "));
    expect(dnn("run %s/missing.yaml", tmp), 2, "missing.yaml");
    cfg = write_cfg("ok.yaml", "data: {format: synthetic}\n");
    expect(dnn("validate %s --set train.lr=-1", cfg), 2, "train.lr must be > 0, got -1");
    expect(dnn("debug %s --seed abc --out %s/o", cfg, tmp), 2, "--seed: seed must be an integer");
    expect(dnn("validate %s --set model.arch=resnet18", cfg), 2, "auto | mlp | lenet | lstm | resnet | transformer | custom");
    /* A label without a name is a configuration error once the data is read (blobs have 4 classes). */
    expect(dnn("debug %s --out %s/o --set 'data.class_names=[a, b, c]'", cfg, tmp), 2,
           "data.class_names has 3 names (labels 0..2), but the data has label 3");
    expect(dnn("debug %s --out %s/o --set task=regression --set loss=mse --set 'data.class_names=[a]'", cfg, tmp), 2,
           "data.class_names is for classification");
}

static void test_validate(void **state)
{
    const char *cfg = write_cfg("good.yaml", "name: good\ndata: {format: synthetic}\ntrain: {lr: 0.01}\n");
    expect(dnn("validate %s --set train.epochs=3 --threads 2", cfg), 0, NULL);
    assert_non_null(strstr(out_text, "valid"));
    assert_non_null(strstr(out_text, "epochs: 3"));
    assert_non_null(strstr(out_text, "threads: 2"));
    assert_non_null(strstr(out_text, "lr: 0.01"));
    /* The printed config is itself a valid config. */
    char path[700];
    const char *yaml = strchr(out_text, '\n') + 1;
    dt_test_write(tmp, "printed.yaml", yaml, path, sizeof path);
    expect(dnn("validate %s --quiet", path), 0, NULL);
    assert_string_equal(out_text, "");
}

/* A stage that cannot read its data stops with an error: exit 3 (or 4 while
 * stages are missing from the build), no report for it, a summary naming it. */
static void test_run_error_leaves_no_report(void **state)
{
    char file[800];
    const char *cfg = write_cfg("nodata.yaml", "data: {format: csv, csv: {path: does-not-exist.csv}}\n");
    int rc = dnn("run %s --out %s/run --quiet", cfg, tmp);
    if (rc != 3 && rc != 4) fail_msg("exit %d; stderr %s", rc, err_text);
    assert_non_null(strstr(err_text, "dnntrouble: error: "));
    snprintf(file, sizeof file, "%s/run/start-simple.json", tmp);
    assert_int_equal(access(file, F_OK), -1);
    snprintf(file, sizeof file, "%s/run/summary.json", tmp);
    cJSON *sum = dt_json_load_file(file), *schema = dt_json_load_file("schemas/summary.schema.json");
    char err[512];
    assert_non_null(sum);
    if (!dt_schema_validate(schema, sum, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(cJSON_GetObjectItem(sum, "status")->valuestring, "fail");
    assert_non_null(cJSON_GetObjectItem(sum, "error"));
    cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItem(sum, "stages"), 6);
    assert_string_equal(cJSON_GetObjectItem(last, "status")->valuestring, "skipped");
    cJSON_Delete(sum);
    cJSON_Delete(schema);
}

static void write_summary(const char *dir, double test_error)
{
    dt_config c;
    dt_config_defaults(&c);
    dt_summary *s = dt_summary_new(&c);
    dt_report *r = dt_report_new("decompose", &c);
    dt_report_metric(r, "test_error", test_error);
    dt_summary_add(s, r);
    assert_int_equal(dt_summary_write(s, dir), DT_OK);
    dt_report_free(r);
    dt_summary_free(s);
}

static void test_diff(void **state)
{
    char a[600], b[600], c[600];
    snprintf(a, sizeof a, "%s/diff-a", tmp);
    snprintf(b, sizeof b, "%s/diff-b", tmp);
    snprintf(c, sizeof c, "%s/diff-c", tmp);
    write_summary(a, 0.10);
    write_summary(b, 0.10);
    write_summary(c, 0.15);
    expect(dnn("diff %s %s", a, b), 0, NULL);
    assert_non_null(strstr(out_text, "0 regressions"));
    expect(dnn("diff %s %s", a, c), 1, NULL);
    assert_non_null(strstr(out_text, "REGRESSED"));
    expect(dnn("diff %s %s/summary.json --tolerance 0.1", a, c), 0, NULL);
    expect(dnn("diff %s %s/nothing", a, tmp), 3, "summary.json");
}

/* The same config with another seed on small noisy data is not a regression
 * (each error's standard error sets its tolerance); other data is flagged. */
static void test_diff_seed_noise(void **state)
{
    const char *cfg = write_cfg("noisy.yaml", "data: {format: synthetic, synthetic: {generator: blobs, samples: 160, "
                                              "noise: 0.7}, splits: {train_val: 0.2}}\n"
                                              "train: {epochs: 3, lr: 0.01}\n"
                                              "stages: {overfit-batch: {max_steps: 3000}, tune: {trials: 2, rounds: 1, "
                                              "epochs: 1}, improve: {max_attempts: 1}}\n");
    int rc0 = dnn("run %s --out %s/s0 --quiet --seed 0", cfg, tmp), rc1 = dnn("run %s --out %s/s1 --quiet --seed 1", cfg, tmp);
    if (rc0 > 1 || rc1 > 1) fail_msg("runs failed: %d %d; %s", rc0, rc1, err_text);
    expect(dnn("diff %s/s0 %s/s1", tmp, tmp), 0, NULL);
    assert_non_null(strstr(out_text, "(noise)"));
    assert_null(strstr(out_text, "gradcheck"));
    assert_null(strstr(out_text, "different data"));
    expect(dnn("run %s --out %s/s2 --quiet --set data.synthetic.samples=200", cfg, tmp), rc0, NULL);
    dnn("diff %s/s0 %s/s2", tmp, tmp);
    assert_non_null(strstr(out_text, "warning: the runs are on different data (data.synthetic.samples differs)"));
}

/* The issue's own case: wine (validation splits of 14-18 rows) with seed 0
 * and seed 1.  Early stopping on the error alone stopped seed 1 at epoch 4
 * of 50 (one row's noise), and its train error, 3.3 SE above seed 0's, made
 * diff fail CI.  Skipped without ../shared/data. */
static void test_diff_seeds_on_wine(void **state)
{
    char rel[600], path[PATH_MAX], text[PATH_MAX + 600];
    snprintf(rel, sizeof rel, "%s/tabular/wine_data.csv", dt_test_data_root());
    if (!realpath(rel, path)) { /* the config is read from tmp: an absolute path */
        print_message("skipping: %s not found (set DNNTROUBLE_DATA)\n", rel);
        skip();
    }
    snprintf(text, sizeof text,
             "data:\n  format: csv\n  csv: {path: \"%s\", label: -1, header: false, skip_rows: 1}\n"
             "model: {arch: mlp, hidden: 16}\ntrain: {lr: 1.0e-2, batch_size: 16, epochs: 50}\n"
             "stages: {tune: {trials: 2, rounds: 1, epochs: 2}, improve: {max_attempts: 1}}\n", path);
    const char *cfg = write_cfg("wine.yaml", text);
    int rc0 = dnn("run %s --out %s/w0 --quiet --seed 0", cfg, tmp), rc1 = dnn("run %s --out %s/w1 --quiet --seed 1", cfg, tmp);
    if (rc0 > 1 || rc1 > 1) fail_msg("runs failed: %d %d; %s", rc0, rc1, err_text);
    expect(dnn("diff %s/w0 %s/w1", tmp, tmp), 0, NULL);
}

static int setup(void **state)
{
    dt_test_tmpdir(tmp, sizeof tmp);
    return 0;
}

static int teardown(void **state)
{
    dt_test_rmtree(tmp);
    return 0;
}

/* validate opens what the config names; run checks it all before the first stage. */
static void test_validate_reads_the_data(void **state)
{
    const char *cfg = write_cfg("dir.yaml", "data: {format: idx, train: {images: /tmp, labels: /tmp/none.gz}}\n");
    expect(dnn("validate %s", cfg), 3, "dir.yaml:1: data.train.images: /tmp is a directory, not a file");
    cfg = write_cfg("missing.yaml", "data:\n  format: csv\n  train: {path: nowhere.csv}\n");
    expect(dnn("validate %s", cfg), 3, "missing.yaml:3: data.train.path:");
    assert_non_null(strstr(err_text, "nowhere.csv: No such file or directory"));
    /* The model is built on the data's shapes: a LeNet on 2-feature blobs is refused. */
    cfg = write_cfg("lenet.yaml", "data: {format: synthetic, synthetic: {generator: blobs}}\nmodel: {arch: lenet}\n");
    expect(dnn("validate %s", cfg), 2, "model.arch lenet needs image [C,H,W]");
    expect(dnn("run %s --out %s/pre --quiet", cfg, tmp), 2, "model.arch lenet needs image [C,H,W]");
    char file[800];
    snprintf(file, sizeof file, "%s/pre/start-simple.json", tmp);
    assert_int_equal(access(file, F_OK), -1);   /* no stage ran */
    cfg = write_cfg("fine.yaml", "data: {format: synthetic, synthetic: {generator: blobs}}\n");
    expect(dnn("validate %s", cfg), 0, NULL);
    assert_non_null(strstr(out_text, "# data: "));
    assert_non_null(strstr(out_text, "# model: 3 layers"));
}

/* Gate lines say what was measured against what. */
static void test_gate_lines(void **state)
{
    const char *cfg = write_cfg("gates.yaml", "data: {format: synthetic, synthetic: {generator: blobs, samples: 300}}\n"
                                              "train: {epochs: 2}\n"
                                              "stages: {tune: {trials: 2, rounds: 1, epochs: 1}}\n"
                                              "gates: {start-simple: pass, test_error: {max: -1}}\n");
    expect(dnn("run %s --out %s/gates", cfg, tmp), 1, NULL);
    assert_non_null(strstr(out_text, "gate start-simple: passed (pass, allowed: pass)"));
    if (!strstr(out_text, "gate test_error: TRIPPED (") || !strstr(out_text, " > max -1)"))
        fail_msg("no tripped test_error gate line in: %s", out_text);
}

/* predict and export on decompose's checkpoint, and their errors. */
static void test_predict_and_export(void **state)
{
    const char *cfg = write_cfg("blobs.yaml", "data: {format: synthetic, synthetic: {generator: blobs, samples: 400}}\n"
                                              "train: {epochs: 3}\n");
    expect(dnn("decompose %s --out %s/pe --quiet", cfg, tmp), 0, NULL);
    char ok[800], bad[800], out[800];
    dt_test_write(tmp, "ok.csv", "f0,f1\n0.5,-1\n2,0.25\n-3,1\n", ok, sizeof ok);
    dt_test_write(tmp, "bad.csv", "a,b,c\n1,2,3\n", bad, sizeof bad);
    snprintf(out, sizeof out, "%s/p.csv", tmp);
    expect(dnn("predict %s/pe %s --out %s", tmp, ok, out), 0, NULL);
    assert_non_null(strstr(out_text, "3 predictions"));
    char *csv = dt_test_read(out);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "row,prediction,p_0,p_1,p_2,p_3\n0,"));
    free(csv);
    expect(dnn("predict %s/pe %s --out %s", tmp, bad, out), 3, "samples have shape [3], but model input 'x' takes [2]");
    expect(dnn("predict %s/pe %s/none.csv --out %s", tmp, tmp, out), 3, "none.csv");
    expect(dnn("predict %s/nothing %s", tmp, ok), 3, "nothing");
    expect(dnn("predict %s/pe", tmp), 2, "needs RUN|CKPT and DATA");
    expect(dnn("export %s/pe", tmp), 2, "--torch FILE.py");
    expect(dnn("export %s/pe --torch %s/net.py", tmp, tmp), 0, NULL);
    char net[800];
    snprintf(net, sizeof net, "%s/net.py", tmp);
    char *py = dt_test_read(net);
    assert_non_null(py);
    assert_non_null(strstr(py, "class Net(nn.Module):"));
    assert_non_null(strstr(py, "self.f1 = nn.Linear(2, 64, bias=True)"));
    free(py);
}

int main(int argc, char **argv)
{
    /* build[/san]/tests/test_cli -> build[/san]/dnntrouble */
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bin, sizeof bin, "%s/../dnntrouble", dirname(self));
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "test_cli: %s is missing: run `make` first\n", bin);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_help), cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_config_errors),    cmocka_unit_test(test_validate),
        cmocka_unit_test(test_run_error_leaves_no_report), cmocka_unit_test(test_diff),
        cmocka_unit_test(test_predict_and_export),
        cmocka_unit_test(test_gate_lines),
        cmocka_unit_test(test_validate_reads_the_data),
        cmocka_unit_test(test_diff_seed_noise),
        cmocka_unit_test(test_diff_seeds_on_wine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
