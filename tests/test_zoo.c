/* The bug zoo (include/dnntrouble/zoo.h, docs/zoo.md): the table itself,
 * every case run in the quick profile (every bug case must be detected by
 * one of its expected findings and every clean case must stay clean: any
 * regression of the table fails here), the outputs, the score and the
 * command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "dnntrouble/zoo.h"
#include "../src/stages/zoo_internal.h"   /* white box: the data recipes */
#include "dnntrouble/data.h"
#include "support/test_files.h"

static char bin[1024];
static char *findings_doc;

/* The zoo of issue 16: these cases must stay in the table. */
static const char *const required[] = {
    "lr-too-high", "lr-too-low", "raw-inputs", "normalized-twice", "relu-on-logits", "sigmoid-on-logits",
    "softmax-then-ce", "mse-on-classes", "ce-on-regression", "sigmoid-stack", "tanh-saturated", "relu-killed",
    "lstm-no-clipping", "constant-init", "sgd-oscillates", "too-few-epochs", "label-noise-30", "shuffled-labels",
    "class-imbalance", "tiny-train-set", "test-leak", "no-nonlinearity", "input-never-used", "shifted-test",
    "clean-mlp", NULL};

static const char *const sources[] = {"DeepFD", "TheDeepChecker", "AUTOTRAINER", "DeepCrime", "UMLAUT",
                                      "FSDL (Tobin)", "clean", NULL};

static int documented(const char *id)
{
    char row[96];
    snprintf(row, sizeof row, "| `%.63s`", id);
    return strstr(findings_doc, row) != NULL;
}

/* Calls fn on each space-separated word of list. */
static int count_words(const char *list, int (*fn)(const char *))
{
    char buf[512];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) n += fn ? fn(w) : 1;
    return n;
}

static int is_stage(const char *s) { return dt_stage_find(s) != NULL; }

static void test_table(void **state)
{
    int clean = 0;
    for (int i = 0; i < dt_n_zoo_cases; i++) {
        const dt_zoo_case *c = &dt_zoo_cases[i];
        assert_ptr_equal(dt_zoo_find(c->name), c);   /* names are unique */
        int known = 0;
        for (int k = 0; sources[k]; k++) known |= strcmp(sources[k], c->source) == 0;
        if (!known) fail_msg("case %s: unknown source '%s'", c->name, c->source);
        int n_stages = count_words(c->stages, NULL);
        if (n_stages == 0 || count_words(c->stages, is_stage) != n_stages)
            fail_msg("case %s: stages '%s' are not all stage names", c->name, c->stages);
        assert_true(strlen(c->bug) > 10);
        if (strcmp(c->source, "clean") == 0) {
            clean++;
            assert_string_equal(c->expected, "");
        } else {
            int n = count_words(c->expected, NULL);
            assert_true(n >= 1);
            if (count_words(c->expected, documented) != n)
                fail_msg("case %s expects '%s': every id needs its row in docs/findings.md", c->name, c->expected);
        }
    }
    for (int k = 0; required[k]; k++)
        if (!dt_zoo_find(required[k])) fail_msg("the zoo lost case %s", required[k]);
    assert_true(clean >= 2);
    assert_null(dt_zoo_find("no-such-case"));
}

static void test_score(void **state)
{
    dt_zoo_case bug = {.name = "b", .expected = "x"}, ok = {.name = "c", .expected = ""};
    dt_zoo_result r[4] = {{.c = &bug, .detected = 1}, {.c = &bug}, {.c = &ok}, {.c = &ok, .false_alarm = 1}};
    dt_zoo_score s = dt_zoo_score_results(r, 4);
    assert_int_equal(s.bugs, 2);
    assert_int_equal(s.detected, 1);
    assert_int_equal(s.clean, 2);
    assert_int_equal(s.false_alarms, 1);
    assert_true(s.recall == 0.5 && s.precision == 0.5);
    assert_false(s.passed);
    r[1].detected = 1;
    r[3].false_alarm = 0;
    s = dt_zoo_score_results(r, 4);
    assert_true(s.recall == 1.0 && s.precision == 1.0 && s.passed);
    /* Nothing flagged at all: no false alarm, nothing detected. */
    s = dt_zoo_score_results(r + 2, 2);
    assert_true(s.precision == 1.0 && s.recall == 1.0 && s.passed);
}

/* The recipe's train or test file (labels, and the first field's values). */
static void load_file(const char *dir, const char *which, dt_npy *x, dt_npy *y)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s_x.npy", dir, which);
    if (dt_npy_load(path, x)) fail_msg("%s", dt_last_error());
    snprintf(path, sizeof path, "%s/%s_y.npy", dir, which);
    if (dt_npy_load(path, y)) fail_msg("%s", dt_last_error());
}

static void make(const dt_zoo_data *z, const char *dir)
{
    char sets[DT_ZOO_DATA_SETS][DT_ZOO_SET_LEN];
    int n = 0;
    if (dt_zoo_make_data(z, 1, 7, dir, sets, &n)) fail_msg("%s", dt_last_error());
    assert_int_equal(n, 5);   /* format, train x/y, test x/y */
    assert_string_equal(sets[0], "data.format=npy");
}

/* Each data bug is what its field says, measured against the same draw without it. */
static void test_data_recipes(void **state)
{
    char base[512], dir[600];
    dt_test_tmpdir(base, sizeof base);
    dt_npy x0, y0, x, y, tx, ty;
    snprintf(dir, sizeof dir, "%s/clean", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SPIRALS, .extra_features = 4}, dir);
    load_file(dir, "train", &x0, &y0);
    assert_int_equal(x0.ndim, 2);
    assert_int_equal(x0.shape[0], 1200);   /* quick profile: half of 2400 */
    assert_int_equal(x0.shape[1], 6);      /* 2 spiral coordinates + 4 noise columns */

    snprintf(dir, sizeof dir, "%s/noise", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SPIRALS, .extra_features = 4, .label_noise = 0.3}, dir);
    load_file(dir, "train", &x, &y);
    size_t changed = 0;
    for (size_t i = 0; i < y.count; i++) changed += y.f32[i] != y0.f32[i];
    assert_memory_equal(x.f32, x0.f32, x.count * sizeof *x.f32);   /* inputs untouched */
    assert_int_equal(changed, 360);   /* exactly 30% of 1200, each moved to another class */
    dt_npy_free(&x);
    dt_npy_free(&y);

    snprintf(dir, sizeof dir, "%s/leak", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SPIRALS, .extra_features = 4, .leak = 0.3}, dir);
    load_file(dir, "train", &x, &y);
    load_file(dir, "test", &tx, &ty);
    assert_int_equal(tx.shape[0], 600);
    assert_int_equal(x.shape[0], 1200 + 180);   /* 30% of the 600 test rows appended */
    assert_memory_equal(x.f32 + 1200 * 6, tx.f32, 180 * 6 * sizeof *x.f32);
    dt_npy_free(&x);
    dt_npy_free(&y);
    dt_npy_free(&tx);
    dt_npy_free(&ty);

    snprintf(dir, sizeof dir, "%s/imbalance", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SPIRALS, .imbalance = 20}, dir);
    load_file(dir, "train", &x, &y);
    size_t count[3] = {0};
    for (size_t i = 0; i < y.count; i++) count[(int)y.f32[i]]++;
    assert_int_equal(count[0], 400);                 /* class 0 keeps every row */
    assert_int_equal(count[1], 89);   /* 400 / sqrt(20) */
    assert_int_equal(count[2], 20);   /* 400 / 20 */
    dt_npy_free(&x);
    dt_npy_free(&y);

    snprintf(dir, sizeof dir, "%s/scale", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SHAPES, .x_scale = 1.0 / 65025}, dir);
    load_file(dir, "train", &x, &y);
    assert_int_equal(x.ndim, 3);                     /* (N, 28, 28) images, now float */
    assert_int_equal(x.dtype, DT_NPY_F4);
    float mx = 0;
    for (size_t i = 0; i < x.count; i++) mx = x.f32[i] > mx ? x.f32[i] : mx;
    assert_true(mx > 0.003f && mx <= 255.0f / 65025 + 1e-7f);
    dt_npy_free(&x);
    dt_npy_free(&y);

    snprintf(dir, sizeof dir, "%s/levels", base);
    make(&(dt_zoo_data){.generator = DT_GEN_SPIRALS, .quantity_levels = 20}, dir);
    load_file(dir, "train", &x, &y);
    float lo = 99, hi = -99;
    for (size_t i = 0; i < y.count; i++) {
        lo = y.f32[i] < lo ? y.f32[i] : lo;
        hi = y.f32[i] > hi ? y.f32[i] : hi;
        /* ids in value order: the level of x0 + 0.5 x1 */
    }
    assert_true(lo == 0 && hi == 19);
    dt_npy_free(&x);
    dt_npy_free(&y);
    dt_npy_free(&x0);
    dt_npy_free(&y0);
    dt_test_rmtree(base);
}

static int leftover_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

/* Every case in the quick profile; under valgrind the clean cases and every
 * third bug case (each case is its own run, so a subset changes none of
 * them: memcheck needs the code paths, not all 28 trainings). */
static void test_quick_profile(void **state)
{
    char dir[512], path[700];
    dt_test_tmpdir(dir, sizeof dir);
    dt_zoo_options o = {.out_dir = dir, .quick = 1, .threads = 1};
    dt_zoo_result *r = calloc((size_t)dt_n_zoo_cases, sizeof *r);
    assert_non_null(r);
    int regressions = 0, n = 0, bug = 0;
    for (int i = 0; i < dt_n_zoo_cases; i++) {
        const dt_zoo_case *c = &dt_zoo_cases[i];
        if (c->expected[0] && dt_test_under_valgrind() && bug++ % 3 != 0) continue;
        dt_status st = dt_zoo_run_case(c, &o, &r[n]);
        if (st) fail_msg("case %s: %s", c->name, dt_last_error());
        if (!c->expected[0]) {
            if (r[n].false_alarm) {
                print_error("clean case %s raised: %s %s\n", c->name, r[n].fired, r[n].error);
                regressions++;
            }
        } else if (!r[n].detected) {
            print_error("case %s missed: expected %s, fired '%s' %s\n", c->name, c->expected, r[n].fired, r[n].error);
            regressions++;
        }
        n++;
    }
    if (n < dt_n_zoo_cases) print_message("under valgrind: %d of %d cases\n", n, dt_n_zoo_cases);
    assert_int_equal(regressions, 0);

    assert_int_equal(dt_zoo_write(r, n, &o), DT_OK);
    assert_int_equal(leftover_temp_files(dir), 0);
    snprintf(path, sizeof path, "%s/zoo.json", dir);
    char *text = dt_test_read(path);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "profile")), "quick");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "cases")), n);
    dt_zoo_score s = dt_zoo_score_results(r, n);
    const cJSON *score = cJSON_GetObjectItem(j, "score");
    assert_int_equal(cJSON_GetObjectItem(score, "detected")->valueint, s.detected);
    assert_int_equal(cJSON_GetObjectItem(score, "false_alarms")->valueint, 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(score, "passed")));
    assert_int_equal(cJSON_GetObjectItem(score, "detected")->valueint, cJSON_GetObjectItem(score, "bugs")->valueint);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cases"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "name")), r[0].c->name);
    assert_non_null(cJSON_GetObjectItem(first, "fired"));
    cJSON_Delete(j);

    /* The page links every case's own report, which exists. */
    snprintf(path, sizeof path, "%s/zoo.html", dir);
    char *html = dt_test_read(path);
    assert_non_null(html);
    assert_non_null(strstr(html, "recall"));
    for (int i = 0; i < n; i++) {
        char link[200], page[800];
        snprintf(link, sizeof link, "href=\"cases/%s/report.html\"", r[i].c->name);
        if (!strstr(html, link)) fail_msg("zoo.html lacks %s", link);
        snprintf(page, sizeof page, "%s/cases/%s/report.html", dir, r[i].c->name);
        if (!r[i].stopped || r[i].fired[0]) assert_int_equal(access(page, R_OK), 0);
    }
    free(html);
    char *table = dt_zoo_table_text(r, n), *md = dt_zoo_table_markdown(r, n);
    assert_non_null(strstr(table, "recall"));
    assert_non_null(strstr(md, "| `clean-mlp` | clean |"));
    fputs(table, stdout);   /* the measured table in the test log (print_message cuts at 1 KiB) */
    free(table);
    free(md);
    free(r);
    dt_test_rmtree(dir);
}

/* Runs `dnntrouble ARGS`; returns the exit code, stdout in out. */
static int dnn(const char *args, char *out, size_t size)
{
    char cmd[3000], tmp[64] = "/tmp/dt_zoo_cliXXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1 </dev/null", bin, args, tmp);
    int rc = system(cmd);
    char *t = dt_test_read(tmp);
    snprintf(out, size, "%s", t ? t : "");
    free(t);
    unlink(tmp);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void test_command_line(void **state)
{
    static char out[1 << 16];
    char dir[512], args[1200];
    assert_int_equal(dnn("zoo --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: dnntrouble zoo"));
    assert_int_equal(dnn("zoo --case no-such-case", out, sizeof out), 2);
    assert_non_null(strstr(out, "no zoo case 'no-such-case'"));
    assert_int_equal(dnn("zoo --threads 0", out, sizeof out), 2);
    assert_int_equal(dnn("zoo extra", out, sizeof out), 2);
    assert_int_equal(dnn("zoo --list", out, sizeof out), 0);
    assert_non_null(strstr(out, "lstm-no-clipping"));
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(args, sizeof args, "zoo --quick --case softmax-then-ce --case clean-mlp --out %s", dir);
    assert_int_equal(dnn(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "recall 1/1 = 1.00   precision 1/1 = 1.00   false alarms 0 of 1 clean case"));
    assert_non_null(strstr(out, "softmax-then-ce"));
    dt_test_rmtree(dir);
}

int main(int argc, char **argv)
{
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bin, sizeof bin, "%s/../dnntrouble", dirname(self));
    findings_doc = dt_test_read("docs/findings.md");
    if (!findings_doc) {
        fprintf(stderr, "test_zoo: docs/findings.md not found (tests run from the repository root)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_score),
        cmocka_unit_test(test_data_recipes),
        cmocka_unit_test(test_quick_profile),
        cmocka_unit_test(test_command_line),
    };
    int rc = cmocka_run_group_tests_name("bug zoo", tests, NULL, NULL);
    free(findings_doc);
    return rc;
}
