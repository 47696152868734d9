/* The zoo's outputs (include/dnntrouble/zoo.h): zoo.json, the text table the
 * CLI prints, the Markdown table of docs/zoo.md and zoo.html, all from the
 * same results. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/zoo.h"
#include "internal.h"

/* The buffer's text (the caller frees it), or NULL when an append ran out of memory. */
static char *take(dt_sbuf *b)
{
    if (!b->oom) return b->p;
    dt_sb_free(b);
    return NULL;
}

static const char *result_word(const dt_zoo_result *r)
{
    if (r->c->expected[0]) return r->detected ? "detected" : "missed";
    return r->false_alarm ? "FALSE ALARM" : "clean";
}

/* "a b" -> "a | b" (the expected ids are alternatives). */
static void alternatives(const char *list, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const char *p = list; *p && n + 4 < size; p++) {
        if (*p == ' ') n += (size_t)snprintf(buf + n, size - n, " | ");
        else buf[n++] = *p, buf[n] = '\0';
    }
}

static const char *fired_text(const dt_zoo_result *r, char *buf, size_t size)
{
    if (r->stopped && !r->fired[0]) snprintf(buf, size, "(stopped: %.60s)", r->error);
    else snprintf(buf, size, "%s", r->fired[0] ? r->fired : "-");
    return buf;
}

static cJSON *words_json(const char *list)
{
    cJSON *a = cJSON_CreateArray();
    char buf[DT_ZOO_FIRED_LEN];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        cJSON_AddItemToArray(a, cJSON_CreateString(w));
    return a;
}

static cJSON *data_json(const dt_zoo_data *z)
{
    static const char *const gen[] = {"shapes", "blobs", "spirals", "sequences", "pairs"};
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "generator", gen[z->generator]);
    if (z->noise > 0) cJSON_AddNumberToObject(d, "noise", z->noise);
    if (z->extra_features) cJSON_AddNumberToObject(d, "extra_features", z->extra_features);
    if (z->quantity_levels) cJSON_AddNumberToObject(d, "quantity_levels", z->quantity_levels);
    if (z->x_scale != 0) cJSON_AddNumberToObject(d, "x_scale", z->x_scale);
    if (z->label_noise > 0) cJSON_AddNumberToObject(d, "label_noise", z->label_noise);
    if (z->shuffle_labels) cJSON_AddBoolToObject(d, "shuffle_labels", 1);
    if (z->imbalance > 0) cJSON_AddNumberToObject(d, "imbalance", z->imbalance);
    if (z->leak > 0) cJSON_AddNumberToObject(d, "leak", z->leak);
    if (z->shift_degrees != 0) cJSON_AddNumberToObject(d, "shift_degrees", z->shift_degrees);
    if (z->train_rows) cJSON_AddNumberToObject(d, "train_rows", z->train_rows);
    return d;
}

static cJSON *score_json(const dt_zoo_score *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "bugs", s->bugs);
    cJSON_AddNumberToObject(j, "detected", s->detected);
    cJSON_AddNumberToObject(j, "clean", s->clean);
    cJSON_AddNumberToObject(j, "false_alarms", s->false_alarms);
    cJSON_AddNumberToObject(j, "recall", s->recall);
    cJSON_AddNumberToObject(j, "precision", s->precision);
    cJSON_AddBoolToObject(j, "passed", s->passed);
    return j;
}

cJSON *dt_zoo_to_json(const dt_zoo_result *r, int n, const dt_zoo_options *o)
{
    cJSON *j = cJSON_CreateObject(), *tool = cJSON_CreateObject(), *cases = cJSON_CreateArray();
    char when[32];
    dt_iso8601_now(when, sizeof when);
    cJSON_AddNumberToObject(j, "schema_version", DT_REPORT_SCHEMA_VERSION);
    cJSON_AddStringToObject(tool, "name", DT_TOOL_NAME);
    cJSON_AddStringToObject(tool, "version", DT_TOOL_VERSION);
    cJSON_AddItemToObject(j, "tool", tool);
    cJSON_AddStringToObject(j, "written_at", when);
    cJSON_AddStringToObject(j, "profile", o->quick ? "quick" : "full");
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "threads", o->threads > 0 ? o->threads : 1);
    cJSON *base = cJSON_CreateArray();
    for (int k = 0; dt_zoo_base_sets[k]; k++) cJSON_AddItemToArray(base, cJSON_CreateString(dt_zoo_base_sets[k]));
    cJSON_AddItemToObject(j, "base_sets", base);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const dt_zoo_case *c = r[i].c;
        cJSON *e = cJSON_CreateObject(), *sets = cJSON_CreateArray();
        char page[300];
        cJSON_AddStringToObject(e, "name", c->name);
        cJSON_AddStringToObject(e, "source", c->source);
        cJSON_AddStringToObject(e, "bug", c->bug);
        cJSON_AddItemToObject(e, "data", data_json(&c->data));
        for (int k = 0; k < DT_ZOO_MAX_SETS && c->sets[k]; k++) cJSON_AddItemToArray(sets, cJSON_CreateString(c->sets[k]));
        cJSON_AddItemToObject(e, "sets", sets);
        cJSON_AddItemToObject(e, "stages", words_json(c->stages));
        cJSON_AddItemToObject(e, "expected", words_json(c->expected));
        cJSON_AddItemToObject(e, "fired", words_json(r[i].fired));
        cJSON_AddStringToObject(e, "result", c->expected[0] ? (r[i].detected ? "detected" : "missed")
                                                            : (r[i].false_alarm ? "false_alarm" : "clean"));
        if (r[i].detail[0]) cJSON_AddStringToObject(e, "detail", r[i].detail);
        if (r[i].stopped) cJSON_AddStringToObject(e, "error", r[i].error);
        cJSON_AddNumberToObject(e, "seconds", r[i].seconds);
        snprintf(page, sizeof page, "cases/%s/report.html", c->name);
        cJSON_AddStringToObject(e, "report", page);
        cJSON_AddItemToArray(cases, e);
        total += r[i].seconds;
    }
    cJSON_AddNumberToObject(j, "duration_s", total);
    cJSON_AddItemToObject(j, "cases", cases);
    dt_zoo_score s = dt_zoo_score_results(r, n);
    cJSON_AddItemToObject(j, "score", score_json(&s));
    return j;
}

static void score_line(dt_sbuf *b, const dt_zoo_result *r, int n)
{
    dt_zoo_score s = dt_zoo_score_results(r, n);
    dt_sb_printf(b, "recall %d/%d = %.2f   precision %d/%d = %.2f   false alarms %d of %d clean case%s\n",
                 s.detected, s.bugs, s.recall, s.detected, s.detected + s.false_alarms, s.precision, s.false_alarms,
                 s.clean, s.clean == 1 ? "" : "s");
}

char *dt_zoo_table_text(const dt_zoo_result *r, int n)
{
    dt_sbuf b = {0};
    int wc = 4, ws = 6, we = 8;
    char buf[DT_ZOO_FIRED_LEN + 80];
    for (int i = 0; i < n; i++) {
        int l;
        if ((l = (int)strlen(r[i].c->name)) > wc) wc = l;
        if ((l = (int)strlen(r[i].c->source)) > ws) ws = l;
        alternatives(r[i].c->expected[0] ? r[i].c->expected : "-", buf, sizeof buf);
        if ((l = (int)strlen(buf)) > we) we = l;
    }
    dt_sb_printf(&b, "%-*s  %-*s  %-11s  %-*s  %s\n", wc, "case", ws, "source", "result", we, "expected", "fired");
    for (int i = 0; i < n; i++) {
        char exp[256], fired[DT_ZOO_FIRED_LEN + 80];
        alternatives(r[i].c->expected[0] ? r[i].c->expected : "-", exp, sizeof exp);
        dt_sb_printf(&b, "%-*s  %-*s  %-11s  %-*s  %s\n", wc, r[i].c->name, ws, r[i].c->source, result_word(&r[i]), we,
                     exp, fired_text(&r[i], fired, sizeof fired));
    }
    score_line(&b, r, n);
    return take(&b);
}

/* A Markdown cell: | and newlines would break the row. */
static void md_cell(dt_sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') dt_sb_puts(b, "\\|");
        else if (*s == '\n') dt_sb_puts(b, " ");
        else dt_sb_putn(b, s, 1);
    }
}

static void md_ids(dt_sbuf *b, const char *list, const char *sep)
{
    char buf[DT_ZOO_FIRED_LEN];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    int k = 0;
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save), k++)
        dt_sb_printf(b, "%s`%s`", k ? sep : "", w);
    if (!k) dt_sb_puts(b, "—");
}

char *dt_zoo_table_markdown(const dt_zoo_result *r, int n)
{
    dt_sbuf b = {0};
    dt_sb_puts(&b, "| case | source | planted bug | stages | expected | fired (warnings, errors) | result |\n"
                   "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const dt_zoo_case *c = r[i].c;
        dt_sb_printf(&b, "| `%s` | ", c->name);
        md_cell(&b, c->source);
        dt_sb_puts(&b, " | ");
        md_cell(&b, c->bug);
        dt_sb_puts(&b, " | ");
        md_cell(&b, c->stages);
        dt_sb_puts(&b, " | ");
        md_ids(&b, c->expected, " or ");
        dt_sb_puts(&b, " | ");
        if (r[i].stopped && !r[i].fired[0]) {
            dt_sb_puts(&b, "stopped: ");
            md_cell(&b, r[i].error);
        } else {
            md_ids(&b, r[i].fired, ", ");
        }
        dt_sb_printf(&b, " | %s |\n", c->expected[0] ? (r[i].detected ? "**detected**" : "missed")
                                                     : (r[i].false_alarm ? "false alarm" : "clean"));
    }
    dt_sb_puts(&b, "\n");
    score_line(&b, r, n);
    return take(&b);
}

static char *render_html(const dt_zoo_result *r, int n, const dt_zoo_options *o)
{
    dt_sbuf b = {0};
    dt_zoo_score s = dt_zoo_score_results(r, n);
    double total = 0;
    for (int i = 0; i < n; i++) total += r[i].seconds;
    dt_sb_printf(&b,
                 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<title>dnntrouble bug zoo</title><style>%s</style></head><body><main>\n"
                 "<h1>dnntrouble bug zoo</h1><p class=\"meta\">dnntrouble " DT_TOOL_VERSION
                 " · %s profile · seed %llu · %.1f s</p>\n",
                 dt_html_css, o->quick ? "quick" : "full", o->seed, total);
    dt_sb_printf(&b,
                 "<section class=\"verdict st-%s\"><p class=\"diag\">recall %d/%d = %.2f · precision %d/%d = %.2f · "
                 "false alarms on %d of %d clean cases</p><p class=\"note\">A bug case is detected when one of its "
                 "expected findings fires as a warning or an error; a clean case raises a false alarm when any "
                 "warning or error fires. Each case links to its own report.</p></section>\n",
                 s.passed ? "pass" : "fail", s.detected, s.bugs, s.recall, s.detected, s.detected + s.false_alarms,
                 s.precision, s.false_alarms, s.clean);
    dt_sb_puts(&b, "<section><table><tr><th>case</th><th>source</th><th>planted bug</th><th>expected</th>"
                   "<th>fired (warnings, errors)</th><th>result</th><th>s</th></tr>\n");
    for (int i = 0; i < n; i++) {
        const dt_zoo_case *c = r[i].c;
        const char *w = result_word(&r[i]);
        int good = c->expected[0] ? r[i].detected : !r[i].false_alarm;
        char exp[256], fired[DT_ZOO_FIRED_LEN + 80];
        alternatives(c->expected[0] ? c->expected : "-", exp, sizeof exp);
        dt_sb_puts(&b, "<tr><td><a href=\"cases/");
        dt_sb_escape(&b, c->name);
        dt_sb_puts(&b, "/report.html\"><code>");
        dt_sb_escape(&b, c->name);
        dt_sb_puts(&b, "</code></a></td><td>");
        dt_sb_escape(&b, c->source);
        dt_sb_puts(&b, "</td><td>");
        dt_sb_escape(&b, c->bug);
        dt_sb_puts(&b, "</td><td><code>");
        dt_sb_escape(&b, exp);
        dt_sb_puts(&b, "</code></td><td><code>");
        dt_sb_escape(&b, fired_text(&r[i], fired, sizeof fired));
        dt_sb_puts(&b, "</code>");
        if (r[i].detail[0]) {
            dt_sb_puts(&b, "<div class=\"ev\">");
            dt_sb_escape(&b, r[i].detail);
            dt_sb_puts(&b, "</div>");
        }
        dt_sb_printf(&b, "</td><td><span class=\"badge %s\">%s</span></td><td class=\"num\">%.1f</td></tr>\n",
                     good ? "" : "fail", w, r[i].seconds);
    }
    dt_sb_puts(&b, "</table></section>\n<footer>Written by dnntrouble zoo. One self-contained file: no scripts, "
                   "nothing fetched.</footer>\n</main></body></html>\n");
    return take(&b);
}

static dt_status write_text(const char *dir, const char *file, char *text)
{
    char path[1200];
    if (!text) return dt_fail(DT_ENOMEM, "out of memory writing %s/%s", dir, file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    dt_status st = dt_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

dt_status dt_zoo_write(const dt_zoo_result *r, int n, const dt_zoo_options *o)
{
    cJSON *j = dt_zoo_to_json(r, n, o);
    if (!j) return dt_fail(DT_ENOMEM, "out of memory writing zoo.json");
    dt_status st = dt_json_write(j, o->out_dir, "zoo.json");
    cJSON_Delete(j);
    if (!st) st = write_text(o->out_dir, "zoo.md", dt_zoo_table_markdown(r, n));
    if (!st) st = write_text(o->out_dir, "zoo.html", render_html(r, n, o));
    return st;
}
