/* report.html and JUnit, end to end through the built binary: the quick
 * start and a constructed high-variance run (images, class names, a tripped
 * gate).  Each page is self-contained (no script, nothing fetched), holds
 * every plot SPEC lists with something drawn in it, and loads in real
 * headless Chromium (Debian's chromium) with no console message; a
 * screenshot of each is kept in build[/san]/tests/screenshots/ to look at.
 * The checks are shown to catch a bad page.  JUnit files parse as JUnit
 * (Python's xml.etree) and name the tripped gate.  Without chromium or
 * python3 the tests that need them skip, saying what to install. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/test_files.h"

static char bin[1024], shots[1024], tmp[512];
static char out_text[1 << 23], err_text[1 << 20];   /* a DOM dump with pictures is large */
static int have_chromium, have_python;

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[8192], o[700], e[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "%s/stdout", tmp);
    snprintf(e, sizeof e, "%s/stderr", tmp);
    char full[9700];
    snprintf(full, sizeof full, "%s >%s 2>%s </dev/null", cmd, o, e);
    int rc = system(full);
    char *t = dt_test_read(o);
    snprintf(out_text, sizeof out_text, "%s", t ? t : "");
    free(t);
    t = dt_test_read(e);
    snprintf(err_text, sizeof err_text, "%s", t ? t : "");
    free(t);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* ------------------------------------------------------------ the runs */

/* A big MLP on 160 noisy 28x28 shapes: high variance, images in the top
 * losses, class names, and a test_error gate it cannot meet. */
static const char hv_yaml[] =
    "name: high-variance\n"
    "seed: 0\n"
    "data:\n"
    "  format: synthetic\n"
    "  synthetic: {generator: shapes, samples: 2000, noise: 0.3}\n"
    "  subset: {samples: 160}\n"
    "  splits: {train_val: 0.5}\n"
    "  class_names: [square, disk, triangle, cross]\n"
    "model: {arch: mlp, hidden: 128}\n"
    "train: {lr: 0.003, epochs: 60, batch_size: 8, early_stopping: {patience: 0}}\n"
    "stages:\n"
    "  improve: {max_attempts: 1}\n"
    "  tune: {trials: 2, rounds: 1, epochs: 5, space: {train.lr: {log_uniform: [1.0e-4, 1.0e-2]}}}\n"
    "gates: {overfit-batch: pass, test_error: {max: 0.05}}\n";

/* The plots SPEC lists, as each page must show them. */
static const char *const common_plots[] = {
    "plot-debug-grad-norms", "plot-debug-activations", "plot-overfit-curve", "plot-compare-baselines",
    "plot-compare-history", "plot-decompose-terms", "plot-decompose-loss", "plot-decompose-error",
    "plot-decompose-confusion-train_val", "plot-decompose-confusion-test_val", "plot-decompose-per-class",
    "plot-decompose-top-losses-test_val", "plot-decompose-top-losses-train_val", "plot-lr-find-curve",
    "plot-tune-train.lr", "plot-tune-importance", "plot-tune-best-history", NULL};
static const char *const qs_plots[] = {"plot-tune-model.hidden", NULL};
static const char *const hv_plots[] = {"plot-improve-attempts", "plot-improve-history", NULL};

static char qs_dir[700], hv_dir[700];

static void run_pipelines(void)
{
    static int done;
    if (done) return;
    done = 1;
    snprintf(qs_dir, sizeof qs_dir, "%s/qs", tmp);
    snprintf(hv_dir, sizeof hv_dir, "%s/hv", tmp);
    int rc = sh("%s run examples/quickstart.yaml --out %s --junit %s/qs.xml", bin, qs_dir, tmp);
    if (rc != 0) fail_msg("quick start: exit %d\n%s\n%s", rc, out_text, err_text);
    char path[800];
    dt_test_write(tmp, "hv.yaml", hv_yaml, path, sizeof path);
    rc = sh("%s run %s --out %s --junit %s/hv.xml", bin, path, hv_dir, tmp);
    if (rc != 1) fail_msg("high-variance run: exit %d, want 1 (a tripped gate)\n%s\n%s", rc, out_text, err_text);
    /* The verdict names the problem and the remedy that helped. */
    if (!strstr(out_text, "Diagnosis: high variance (overfitting): train ")) fail_msg("verdict:\n%s", out_text);
    if (!strstr(out_text, "Improve kept: more data (data.subset.samples 160 -> 640)")) fail_msg("verdict:\n%s", out_text);
    if (!strstr(out_text, "Gate: test_error (max 0.05) tripped")) fail_msg("verdict:\n%s", out_text);
}

static char *read_page(const char *dir)
{
    char path[800];
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = dt_test_read(path);
    if (!html) fail_msg("%s is missing", path);
    return html;
}

/* ------------------------------------------------------------ page checks */

/* "" when the page is self-contained, else what is wrong. */
static const char *self_contained(const char *html)
{
    static char why[200];
    static const char *const banned[] = {"<script", "<link", "@import", "url(", "<iframe", "<object", "<embed",
                                         "src=\"http", "src=\"//", "href=\"http", "href=\"//", "src='http"};
    for (size_t i = 0; i < sizeof banned / sizeof *banned; i++)
        if (strstr(html, banned[i])) {
            snprintf(why, sizeof why, "the page holds '%s'", banned[i]);
            return why;
        }
    /* The only URL allowed is SVG's namespace name, which nothing fetches. */
    const char *p = html;
    while ((p = strstr(p, "http")) != NULL) {
        if (strncmp(p, "http://www.w3.org/2000/svg\"", 27) != 0) {
            snprintf(why, sizeof why, "the page names an address: %.60s", p);
            return why;
        }
        p += 4;
    }
    return "";
}

/* Data marks drawn inside the figure with this id (-1: no such figure). */
static int marks_in(const char *html, const char *id)
{
    char key[200];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *a = strstr(html, key);
    if (!a) return -1;
    const char *b = strstr(a, "</figure>");
    if (!b) return -1;
    int n = 0;
    for (const char *p = a; (p = strstr(p, "class=\"mark\"")) && p < b; p++) n++;
    return n;
}

static void expect_plots(const char *html, const char *const *ids, const char *where)
{
    for (int i = 0; ids[i]; i++) {
        int n = marks_in(html, ids[i]);
        if (n < 0) fail_msg("%s: plot %s is missing", where, ids[i]);
        if (n == 0) fail_msg("%s: plot %s is empty", where, ids[i]);
    }
}

/* Headless Chromium: the DOM after load (dom), console messages (the
 * returned count, printed), and a screenshot (png, when not NULL). */
static int chromium(const char *url, const char *name, char **dom, const char *png)
{
    char profile[700], cmd_common[2000];
    static int runs;
    snprintf(profile, sizeof profile, "%s/chromium-profile-%d", tmp, runs++);
    snprintf(cmd_common, sizeof cmd_common,
             "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
             "--disable-component-update --disable-sync --no-first-run --user-data-dir=%s "
             "--enable-logging=stderr --log-level=0 --window-size=1280,%d",
             profile, png ? 7000 : 1200);
    int rc = sh("%s --dump-dom '%s'", cmd_common, url);
    if (rc != 0) fail_msg("%s: chromium exit %d: %.2000s", name, rc, err_text);
    *dom = strdup(out_text);
    int console = 0;
    for (const char *p = err_text; (p = strstr(p, ":CONSOLE")) != NULL; p++) {
        const char *eol = strchr(p, '\n');
        print_message("%s: console: %.*s\n", name, (int)(eol ? eol - p : 200), p);
        console++;
    }
    if (png) {
        rc = sh("%s --screenshot='%s' '%s'", cmd_common, png, url);
        if (rc != 0) fail_msg("%s: chromium screenshot exit %d: %.2000s", name, rc, err_text);
    }
    return console;
}

static void expect_screenshot(const char *png)
{
    struct stat sb;
    if (stat(png, &sb) != 0) fail_msg("no screenshot %s", png);
    char *bytes = dt_test_read(png);
    assert_non_null(bytes);
    assert_memory_equal(bytes, "\x89PNG\r\n\x1a\n", 8);
    free(bytes);
    assert_true(sb.st_size > 20000);   /* a page with pictures, not a blank one */
    print_message("screenshot: %s (%lld bytes)\n", png, (long long)sb.st_size);
}

static void check_in_chromium(const char *dir, const char *name, const char *const *a, const char *const *b)
{
    if (!have_chromium) skip();
    char url[900], png[1200];
    snprintf(url, sizeof url, "file://%s/report.html", dir);
    snprintf(png, sizeof png, "%s/%s.png", shots, name);
    char *dom = NULL;
    int console = chromium(url, name, &dom, png);
    assert_int_equal(console, 0);
    /* The browser parsed every figure and its marks (a broken tag would swallow the rest). */
    expect_plots(dom, a, name);
    expect_plots(dom, b, name);
    assert_non_null(strstr(dom, "id=\"verdict\""));
    free(dom);
    expect_screenshot(png);
}

/* ------------------------------------------------------------ tests */

static void test_quickstart_page(void **state)
{
    run_pipelines();
    char *html = read_page(qs_dir);
    assert_string_equal(self_contained(html), "");
    expect_plots(html, common_plots, "quick start");
    expect_plots(html, qs_plots, "quick start");
    free(html);
}

static void test_high_variance_page(void **state)
{
    run_pipelines();
    char *html = read_page(hv_dir);
    assert_string_equal(self_contained(html), "");
    expect_plots(html, common_plots, "high variance");
    expect_plots(html, hv_plots, "high variance");
    /* Top losses as pictures (PNG data URLs), labelled with class names. */
    assert_non_null(strstr(html, "<img class=\"mark\" alt=\"x\" src=\"data:image/png;base64,iVBORw0KGgo"));
    assert_true(strstr(html, "true: triangle") || strstr(html, "true: disk") || strstr(html, "true: cross") ||
                strstr(html, "true: square"));
    assert_non_null(strstr(html, "<title>square predicted as "));   /* confusion matrix cells */
    assert_non_null(strstr(html, "high variance (overfitting)"));
    free(html);
}

static void test_quickstart_in_chromium(void **state)
{
    run_pipelines();
    check_in_chromium(qs_dir, "quickstart", common_plots, qs_plots);
}

static void test_high_variance_in_chromium(void **state)
{
    run_pipelines();
    check_in_chromium(hv_dir, "high-variance", common_plots, hv_plots);
}

/* The checks above catch what they look for: a page with a script, an
 * outside address and a failing call, and an empty or missing plot. */
static void test_checks_catch_a_bad_page(void **state)
{
    const char *bad = "<!DOCTYPE html><html><body><figure class=\"plot\" id=\"plot-a\"><svg></svg></figure>"
                      "<img src=\"https://example.invalid/x.png\"><script>console.error('boom'); undefinedFn();"
                      "</script></body></html>";
    assert_string_not_equal(self_contained(bad), "");
    assert_int_equal(marks_in(bad, "plot-a"), 0);
    assert_int_equal(marks_in(bad, "plot-b"), -1);
    if (!have_chromium) skip();
    char path[800], url[900];
    dt_test_write(tmp, "bad.html", bad, path, sizeof path);
    snprintf(url, sizeof url, "file://%s", path);
    char *dom = NULL;
    int console = chromium(url, "bad page", &dom, NULL);
    assert_int_equal(console, 2);   /* console.error and the ReferenceError */
    free(dom);
}

/* `dnntrouble report RUN` rewrites the page from the JSON reports and says
 * the same verdict as the run did. */
static void test_report_command(void **state)
{
    run_pipelines();
    char page[800];
    snprintf(page, sizeof page, "%s/report.html", hv_dir);
    unlink(page);
    assert_int_equal(sh("%s report %s", bin, hv_dir), 0);
    assert_non_null(strstr(out_text, "Diagnosis: high variance (overfitting): train "));
    assert_non_null(strstr(out_text, "Gate: test_error (max 0.05) tripped"));
    char *html = read_page(hv_dir);
    expect_plots(html, common_plots, "report command");
    free(html);
    assert_int_equal(sh("%s report %s/nothing-here", bin, tmp), 3);
    assert_non_null(strstr(err_text, "nothing-here"));
    assert_int_equal(sh("%s report", bin), 2);
    assert_int_equal(sh("%s report %s --quiet", bin, hv_dir), 0);
    assert_string_equal(out_text, "");
}

/* ------------------------------------------------------------ JUnit */

static const char junit_py[] =
    "import sys, xml.etree.ElementTree as ET\n"
    "root = ET.parse(sys.argv[1]).getroot()\n"
    "assert root.tag == 'testsuites', root.tag\n"
    "suites = root.findall('testsuite')\n"
    "assert len(suites) == 1\n"
    "s = suites[0]\n"
    "cases = s.findall('testcase')\n"
    "for c in cases:\n"
    "    assert c.get('classname') and c.get('name') and float(c.get('time')) >= 0\n"
    "fails = [(c.get('name'), f.get('message')) for c in cases for f in c.findall('failure')]\n"
    "assert int(s.get('tests')) == len(cases), (s.get('tests'), len(cases))\n"
    "assert int(s.get('failures')) == len(fails)\n"
    "print('cases', len(cases), 'failures', len(fails))\n"
    "for n, m in fails: print('FAILURE', n, '|', m)\n";

static void parse_junit(const char *file)
{
    if (!have_python) skip();
    char py[800];
    dt_test_write(tmp, "junit_check.py", junit_py, py, sizeof py);
    int rc = sh("python3 %s %s", py, file);
    if (rc != 0) fail_msg("%s does not parse as JUnit: %s", file, err_text);
    print_message("%s", out_text);
}

static void test_junit_with_a_tripped_gate(void **state)
{
    run_pipelines();
    char file[800];
    snprintf(file, sizeof file, "%s/hv.xml", tmp);
    char *xml = dt_test_read(file);
    assert_non_null(xml);
    /* One testcase per stage and per gate; the tripped gate is a failure that names it. */
    assert_non_null(strstr(xml, "name=\"gate test_error (max 0.05)\""));
    assert_non_null(strstr(xml, "<failure message=\"gate test_error tripped: max 0.05, actual "));
    assert_non_null(strstr(xml, "name=\"gate overfit-batch (at worst pass)\" time=\"0.000\"/>"));
    free(xml);
    parse_junit(file);
    assert_non_null(strstr(out_text, "cases 10 failures 1\n"));   /* 8 stages, 2 gates */
    assert_non_null(strstr(out_text, "FAILURE gate test_error (max 0.05) | gate test_error tripped"));
}

static void test_junit_without_failures(void **state)
{
    run_pipelines();
    char file[800];
    snprintf(file, sizeof file, "%s/qs.xml", tmp);
    char *xml = dt_test_read(file);
    assert_non_null(xml);
    assert_null(strstr(xml, "<failure"));
    assert_null(strstr(xml, "<error"));
    assert_non_null(strstr(xml, "failures=\"0\""));
    free(xml);
    parse_junit(file);
    assert_non_null(strstr(out_text, "cases 9 failures 0\n"));   /* 8 stages, 1 gate */
}

/* A failing single stage: its testcase fails with its findings. */
static void test_junit_of_a_failing_stage(void **state)
{
    char cfg[800], file[800];
    dt_test_write(tmp, "low.yaml",
                  "data: {format: synthetic, synthetic: {generator: spirals, samples: 600}}\n"
                  "train: {lr: 1.0e-7}\nstages: {overfit-batch: {max_steps: 100}}\n",
                  cfg, sizeof cfg);
    snprintf(file, sizeof file, "%s/low.xml", tmp);
    assert_int_equal(sh("%s overfit-batch %s --out %s/low --junit %s", bin, cfg, tmp, file), 1);
    assert_non_null(strstr(out_text, "Diagnosis: cannot overfit one batch: the loss plateaus"));
    char *xml = dt_test_read(file);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<failure message=\"overfit-loss-plateaus: "));
    assert_non_null(strstr(xml, "[error] overfit-loss-plateaus: "));
    free(xml);
    parse_junit(file);
    assert_non_null(strstr(out_text, "cases 1 failures 1\n"));
    /* --quiet: errors only, no verdict. */
    assert_int_equal(sh("%s overfit-batch %s --out %s/low --quiet", bin, cfg, tmp), 1);
    assert_string_equal(out_text, "");
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

int main(int argc, char **argv)
{
    /* build[/san]/tests/test_html -> build[/san]/dnntrouble; screenshots next to the tests. */
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    char *dir = dirname(self);
    snprintf(bin, sizeof bin, "%s/../dnntrouble", dir);
    snprintf(shots, sizeof shots, "%s/screenshots", dir);
    mkdir(shots, 0755);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "test_html: %s is missing: run `make` first\n", bin);
        return 1;
    }
    have_chromium = system("command -v chromium >/dev/null 2>&1") == 0;
    have_python = system("command -v python3 >/dev/null 2>&1") == 0;
    if (!have_chromium)
        fprintf(stderr, "test_html: chromium is not installed: the browser tests skip "
                        "(apt-get install chromium, or sh tools/install-deps.sh test as root)\n");
    if (!have_python) fprintf(stderr, "test_html: python3 is not installed: JUnit parsing skips\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quickstart_page),
        cmocka_unit_test(test_high_variance_page),
        cmocka_unit_test(test_quickstart_in_chromium),
        cmocka_unit_test(test_high_variance_in_chromium),
        cmocka_unit_test(test_checks_catch_a_bad_page),
        cmocka_unit_test(test_report_command),
        cmocka_unit_test(test_junit_with_a_tripped_gate),
        cmocka_unit_test(test_junit_without_failures),
        cmocka_unit_test(test_junit_of_a_failing_stage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
