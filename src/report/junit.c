/* JUnit XML for CI (report.h): the shape GitHub Actions' test reporters,
 * GitLab's `artifacts:reports:junit` and Jenkins' junit step read:
 *
 *   <testsuites><testsuite name tests failures errors skipped time timestamp>
 *     <testcase classname name time> [<failure message type>text</failure> |
 *       <error .../> | <skipped message/>] [<system-out>findings</system-out>]
 *   </testcase>... </testsuite></testsuites>
 *
 * One testcase per stage (classname dnntrouble.NAME.stages) and per gate
 * (dnntrouble.NAME.gates).  Text is escaped for XML, invalid UTF-8 and
 * control characters replaced (src/report/text.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The findings of a report as lines: "[severity] id: message" and its
 * suggestions, ranked. */
static void findings_text(dt_sbuf *b, const cJSON *rep)
{
    const cJSON *f, *s;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rep, "findings"))
    {
        dt_sbuf line = {0};
        dt_sb_printf(&line, "[%s] %s: %s\n", dt_rj_str(f, "severity", "?"), dt_rj_str(f, "id", "?"),
                     dt_rj_str(f, "message", ""));
        int k = 0;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(f, "suggestions"))
            if (cJSON_IsString(s)) dt_sb_printf(&line, "    %d. %s\n", ++k, s->valuestring);
        if (line.p) dt_sb_escape(b, line.p);
        dt_sb_free(&line);
    }
}

/* The first error finding "id: message", for the failure's message attribute. */
static void failure_message(const cJSON *rep, char *out, size_t size)
{
    const cJSON *f;
    snprintf(out, size, "%s failed", dt_rj_str(rep, "stage", "stage"));
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rep, "findings"))
        if (!strcmp(dt_rj_str(f, "severity", ""), "error")) {
            snprintf(out, size, "%s: %s", dt_rj_str(f, "id", "?"), dt_rj_str(f, "message", ""));
            return;
        }
}

typedef struct tcase {
    char name[160];
    const char *status;        /* pass | warn | fail | skipped | error */
    double time;
    const cJSON *report;       /* may be NULL */
    char message[1400];        /* failure / error / skipped message */
    char type[32];
} tcase;

static void emit_case(dt_sbuf *b, const tcase *t, const char *classname)
{
    dt_sb_puts(b, "    <testcase classname=\"");
    dt_sb_escape(b, classname);
    dt_sb_puts(b, "\" name=\"");
    dt_sb_escape(b, t->name);
    dt_sb_printf(b, "\" time=\"%.3f\"", isfinite(t->time) && t->time >= 0 ? t->time : 0.0);
    int has_findings = t->report && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t->report, "findings")) > 0;
    int body = strcmp(t->status, "pass") != 0 || has_findings;
    if (!body) {
        dt_sb_puts(b, "/>\n");
        return;
    }
    dt_sb_puts(b, ">\n");
    if (!strcmp(t->status, "fail") || !strcmp(t->status, "error")) {
        int fail = !strcmp(t->status, "fail");
        dt_sb_printf(b, "      <%s message=\"", fail ? "failure" : "error");
        dt_sb_escape(b, t->message);
        dt_sb_puts(b, "\" type=\"");
        dt_sb_escape(b, t->type);
        dt_sb_puts(b, "\">");
        if (t->report) findings_text(b, t->report);
        else dt_sb_escape(b, t->message);
        dt_sb_printf(b, "</%s>\n", fail ? "failure" : "error");
    } else if (!strcmp(t->status, "skipped")) {
        dt_sb_puts(b, "      <skipped message=\"");
        dt_sb_escape(b, t->message);
        dt_sb_puts(b, "\"/>\n");
    }
    /* Warnings and infos of a passing stage: shown by CI, not a failure. */
    if (has_findings && strcmp(t->status, "fail") != 0) {
        dt_sb_puts(b, "      <system-out>");
        findings_text(b, t->report);
        dt_sb_puts(b, "</system-out>\n");
    }
    dt_sb_puts(b, "    </testcase>\n");
}

char *dt_junit_render(const cJSON *const *reports, int n, const cJSON *summary)
{
    enum { MAX_CASES = 64 };
    tcase *cases = calloc(MAX_CASES, sizeof *cases);
    if (!cases) return NULL;
    int nc = 0, n_stage_cases;
    const cJSON *e, *g;
    if (summary) {
        /* Every stage of the run, reached or not. */
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(summary, "stages"))
        {
            if (nc >= MAX_CASES) break;
            tcase *t = &cases[nc++];
            const char *stage = dt_rj_str(e, "stage", "?");
            snprintf(t->name, sizeof t->name, "%s", stage);
            t->time = dt_rj_num(e, "duration_s", 0);
            t->status = dt_rj_str(e, "status", "pass");
            t->report = dt_rj_stage(reports, n, stage);
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
            if (err) {
                t->status = "error";
                snprintf(t->message, sizeof t->message, "%s", dt_rj_str(err, "message", "error"));
                snprintf(t->type, sizeof t->type, "%s", dt_rj_str(err, "kind", "error"));
            } else if (!strcmp(t->status, "skipped")) {
                snprintf(t->message, sizeof t->message, "not run: %s", dt_rj_str(e, "reason", "skipped"));
            }
        }
    } else {
        for (int i = 0; i < n && nc < MAX_CASES; i++) {
            if (!reports[i]) continue;
            tcase *t = &cases[nc++];
            snprintf(t->name, sizeof t->name, "%s", dt_rj_str(reports[i], "stage", "?"));
            t->time = dt_rj_num(reports[i], "duration_s", 0);
            t->status = dt_rj_str(reports[i], "status", "pass");
            t->report = reports[i];
        }
    }
    for (int i = 0; i < nc; i++)
        if (!strcmp(cases[i].status, "fail") && cases[i].report) {
            failure_message(cases[i].report, cases[i].message, sizeof cases[i].message);
            snprintf(cases[i].type, sizeof cases[i].type, "stage failed");
        } else if (!strcmp(cases[i].status, "fail")) {
            snprintf(cases[i].message, sizeof cases[i].message, "%s failed", cases[i].name);
            snprintf(cases[i].type, sizeof cases[i].type, "stage failed");
        }
    n_stage_cases = nc;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(summary, "gates"))
    {
        if (nc >= MAX_CASES) break;
        tcase *t = &cases[nc++];
        const char *name = dt_rj_str(g, "name", "?"), *kind = dt_rj_str(g, "kind", "?");
        char rule[96], actual[64];
        if (!strcmp(kind, "stage")) snprintf(rule, sizeof rule, "at worst %s", dt_rj_str(g, "allowed", "?"));
        else snprintf(rule, sizeof rule, "%s %.6g", kind, dt_rj_num(g, "limit", NAN));
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(g, "actual");
        if (cJSON_IsNumber(act)) snprintf(actual, sizeof actual, "%.6g", act->valuedouble);
        else if (cJSON_IsString(act)) snprintf(actual, sizeof actual, "%s", act->valuestring);
        else snprintf(actual, sizeof actual, "missing (no stage produced it)");
        snprintf(t->name, sizeof t->name, "gate %s (%s)", name, rule);
        int passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed"));
        t->status = passed ? "pass" : "fail";
        snprintf(t->message, sizeof t->message, "gate %s tripped: %s, actual %s", name, rule, actual);
        snprintf(t->type, sizeof t->type, "gate tripped");
    }
    int failures = 0, errors = 0, skipped = 0;
    double total = 0;
    for (int i = 0; i < nc; i++) {
        failures += !strcmp(cases[i].status, "fail");
        errors += !strcmp(cases[i].status, "error");
        skipped += !strcmp(cases[i].status, "skipped");
        total += cases[i].time;
    }
    const cJSON *head = summary ? summary : (n > 0 ? reports[0] : NULL);
    const char *run = dt_rj_str(head, "config.name", "run");
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%s", dt_rj_str(head, "started_at", "1970-01-01T00:00:00Z"));
    size_t sl = strlen(stamp);
    if (sl && stamp[sl - 1] == 'Z') stamp[sl - 1] = '\0';   /* JUnit's timestamp has no zone */
    if (summary) total = dt_rj_num(summary, "duration_s", total);
    char stage_class[200], gate_class[200];
    snprintf(stage_class, sizeof stage_class, "dnntrouble.%s.stages", run);
    snprintf(gate_class, sizeof gate_class, "dnntrouble.%s.gates", run);

    dt_sbuf b = {0};
    dt_sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    dt_sb_printf(&b, "<testsuites name=\"dnntrouble\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
                     "time=\"%.3f\">\n", nc, failures, errors, skipped, total);
    dt_sb_puts(&b, "  <testsuite name=\"");
    dt_sb_escape(&b, run);
    dt_sb_printf(&b, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\" timestamp=\"", nc,
                 failures, errors, skipped, total);
    dt_sb_escape(&b, stamp);
    dt_sb_puts(&b, "\">\n");
    for (int i = 0; i < nc; i++) emit_case(&b, &cases[i], i < n_stage_cases ? stage_class : gate_class);
    dt_sb_puts(&b, "  </testsuite>\n</testsuites>\n");
    free(cases);
    if (b.oom) {
        dt_sb_free(&b);
        return NULL;
    }
    return b.p;
}

dt_status dt_junit_write(const cJSON *const *reports, int n, const cJSON *summary, const char *path)
{
    /* --junit reports/junit.xml: make its folder, as --out does. */
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        dt_status st = dt_mkdir_p(dir);
        if (st) return st;
    }
    char *xml = dt_junit_render(reports, n, summary);
    if (!xml) return dt_fail(DT_ENOMEM, "out of memory writing the JUnit file '%s'", path);
    dt_status st = dt_write_file_atomic(path, xml, strlen(xml));
    free(xml);
    return st;
}
