/* The zoo's runner: one case = its data files, its config (the base sets,
 * the data's sets, the case's edits, all through dt_config_set as --set
 * would apply them), its stages run as `dnntrouble STAGE` runs them, and
 * the finding ids that fired.  The table of cases is zoo_cases.c. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "zoo_internal.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 1 when `id` is one of the space-separated words of list. */
static int in_list(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; (p = strstr(p, id)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static void add_word(char *list, size_t size, const char *id)
{
    if (in_list(list, id)) return;
    size_t len = strlen(list);
    snprintf(list + len, size - len, "%s%s", len ? " " : "", id);
}

/* KEY=VALUE through dt_config_set; a failure is the case's config error. */
static dt_status apply_set(dt_config *cfg, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[256];
    if (!eq || (size_t)(eq - kv) >= sizeof key) return dt_fail(DT_EINTERNAL, "zoo: bad config edit '%.200s'", kv);
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    return dt_config_set(cfg, key, eq + 1);
}

static dt_status build_config(const dt_zoo_case *c, const dt_zoo_options *o,
                              char data_sets[DT_ZOO_DATA_SETS][DT_ZOO_SET_LEN], int n_data, dt_config *cfg)
{
    dt_config_defaults(cfg);
    char kv[300];
    dt_status st = DT_OK;
    snprintf(kv, sizeof kv, "name=zoo-%s", c->name);
    if (!st) st = apply_set(cfg, kv);
    if (!st) st = dt_config_set_number(cfg, "seed", (double)o->seed);
    if (!st) st = dt_config_set_number(cfg, "threads", o->threads > 0 ? o->threads : 1);
    for (int i = 0; !st && dt_zoo_base_sets[i]; i++) st = apply_set(cfg, dt_zoo_base_sets[i]);
    for (int i = 0; !st && i < n_data; i++) st = apply_set(cfg, data_sets[i]);
    for (int i = 0; !st && i < DT_ZOO_MAX_SETS && c->sets[i]; i++) st = apply_set(cfg, c->sets[i]);
    if (!st) st = dt_config_check(cfg);
    return st;
}

/* Records the warning/error findings of one report in r. */
static void collect(const cJSON *rep, dt_zoo_result *r)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rep, "findings"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id"));
        const char *sev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "message"));
        if (!id || !sev || strcmp(sev, "info") == 0) continue;
        add_word(r->fired, sizeof r->fired, id);
        int expected = r->c->expected[0] && in_list(r->c->expected, id);
        if (!r->detail[0] || (expected && !r->detail_expected)) {
            snprintf(r->detail, sizeof r->detail, "%s: %s", id, msg ? msg : "");
            r->detail_expected = expected;
        }
    }
}

static int is_resource(dt_status st) { return st == DT_ENOMEM || st == DT_EIO; }

dt_status dt_zoo_run_case(const dt_zoo_case *c, const dt_zoo_options *o, dt_zoo_result *r)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    double t0 = now_s();
    char dir[1100];
    if (snprintf(dir, sizeof dir, "%s/cases/%s", o->out_dir, c->name) >= (int)sizeof dir)
        return dt_fail(DT_EIO, "zoo: output path too long: '%s'", o->out_dir);
    char(*data_sets)[DT_ZOO_SET_LEN] = malloc(DT_ZOO_DATA_SETS * sizeof *data_sets);
    dt_config *cfg = malloc(sizeof *cfg);
    if (!data_sets || !cfg) {
        free(data_sets);
        free(cfg);
        return dt_fail(DT_ENOMEM, "zoo: out of memory");
    }
    int n_data = 0;
    dt_status st = dt_zoo_make_data(&c->data, o->quick, o->seed, dir, data_sets, &n_data);
    if (st) {
        free(data_sets);
        free(cfg);
        return dt_fail_context(st, "zoo case %s", c->name);
    }
    st = build_config(c, o, data_sets, n_data, cfg);
    free(data_sets);
    if (st) {
        /* The tool refused the set-up before any stage (exit 2 on the command line). */
        r->stopped = 1;
        snprintf(r->error, sizeof r->error, "%s", dt_last_error());
        free(cfg);
        r->seconds = now_s() - t0;
        return DT_OK;
    }
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1};
    cJSON *reports[16] = {0};
    int n_rep = 0;
    dt_status err = DT_OK;
    char stages[256];
    snprintf(stages, sizeof stages, "%s", c->stages);
    char *save = NULL;
    for (char *name = strtok_r(stages, " ", &save); name && n_rep < 16; name = strtok_r(NULL, " ", &save)) {
        const dt_stage_def *def = dt_stage_find(name);
        if (!def) {
            err = dt_fail(DT_EINTERNAL, "zoo case %s: unknown stage '%s'", c->name, name);
            break;
        }
        dt_report *rep = dt_report_new(def->name, cfg);
        if (!rep) {
            err = dt_fail(DT_ENOMEM, "zoo: out of memory");
            break;
        }
        st = def->run(&ctx, rep);
        if (!st) st = dt_report_write(rep, dir);
        if (st) {
            dt_report_free(rep);
            if (is_resource(st)) {
                err = dt_fail_context(st, "zoo case %s", c->name);
                break;
            }
            r->stopped = 1;
            snprintf(r->error, sizeof r->error, "%s: %s", def->name, dt_last_error());
            break;
        }
        reports[n_rep] = dt_report_to_json(rep);
        dt_report_free(rep);
        if (!reports[n_rep]) {
            err = dt_fail(DT_ENOMEM, "zoo: out of memory");
            break;
        }
        collect(reports[n_rep++], r);
    }
    /* The case's own page, as `dnntrouble report` would write it. */
    if (!err && n_rep) err = dt_html_write((const cJSON *const *)reports, n_rep, NULL, dir);
    for (int i = 0; i < n_rep; i++) cJSON_Delete(reports[i]);
    dt_stage_ctx_release(&ctx);
    free(cfg);
    if (err) return err;
    if (c->expected[0]) {
        char want[256];
        snprintf(want, sizeof want, "%s", c->expected);
        char *s2 = NULL;
        for (char *id = strtok_r(want, " ", &s2); id; id = strtok_r(NULL, " ", &s2))
            r->detected |= in_list(r->fired, id);
    } else {
        r->false_alarm = r->fired[0] != '\0' || r->stopped;
    }
    r->seconds = now_s() - t0;
    return DT_OK;
}

dt_zoo_score dt_zoo_score_results(const dt_zoo_result *r, int n)
{
    dt_zoo_score s = {0};
    for (int i = 0; i < n; i++) {
        if (r[i].c->expected[0]) {
            s.bugs++;
            s.detected += r[i].detected;
        } else {
            s.clean++;
            s.false_alarms += r[i].false_alarm;
        }
    }
    s.recall = s.bugs ? (double)s.detected / s.bugs : 1.0;
    s.precision = s.detected + s.false_alarms ? (double)s.detected / (s.detected + s.false_alarms) : 1.0;
    s.passed = s.detected == s.bugs && s.false_alarms == 0;
    return s;
}
