/* summary.json for `run`: each stage's status and headline metrics, the
 * gates evaluation, and the overall status CI reads. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct dt_summary {
    const dt_config *cfg;
    char started_at[32];
    struct timespec t0;
    cJSON *stages, *metrics, *gates, *error;
    int failed, warned, tripped;
};

dt_summary *dt_summary_new(const dt_config *cfg)
{
    dt_summary *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = cfg;
    dt_iso8601_now(s->started_at, sizeof s->started_at);
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    s->stages = cJSON_CreateArray();
    s->metrics = cJSON_CreateObject();
    s->gates = cJSON_CreateArray();
    if (!s->stages || !s->metrics || !s->gates) {
        dt_summary_free(s);
        return NULL;
    }
    return s;
}

void dt_summary_free(dt_summary *s)
{
    if (!s) return;
    cJSON_Delete(s->stages);
    cJSON_Delete(s->metrics);
    cJSON_Delete(s->gates);
    cJSON_Delete(s->error);
    free(s);
}

static cJSON *stage_entry(dt_summary *s, const char *stage, const char *status)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "stage", stage);
    cJSON_AddStringToObject(e, "status", status);
    cJSON_AddItemToArray(s->stages, e);
    return e;
}

static void set_number(cJSON *obj, const char *key, double v)
{
    cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (old) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateNumber(v));
    else cJSON_AddNumberToObject(obj, key, v);
}

void dt_summary_add(dt_summary *s, const dt_report *rep)
{
    dt_verdict v = dt_report_status(rep);
    cJSON *full = dt_report_to_json(rep);
    cJSON *e = stage_entry(s, dt_report_stage(rep), dt_verdict_name(v));
    char file[80];
    snprintf(file, sizeof file, "%s.json", dt_report_stage(rep));
    cJSON_AddStringToObject(e, "report", file);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(full, "duration_s");
    cJSON_AddNumberToObject(e, "duration_s", cJSON_IsNumber(d) ? d->valuedouble : 0);
    cJSON *ids = cJSON_AddArrayToObject(e, "findings");
    const cJSON *f, *m;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(full, "findings"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");
        if (cJSON_IsString(id)) cJSON_AddItemToArray(ids, cJSON_CreateString(id->valuestring));
    }
    /* Headline metrics are the plain numbers; nested ones stay in STAGE.json. */
    cJSON *mine = cJSON_AddObjectToObject(e, "metrics");
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(full, "metrics"))
    {
        if (!cJSON_IsNumber(m)) continue;
        cJSON_AddNumberToObject(mine, m->string, m->valuedouble);
        set_number(s->metrics, m->string, m->valuedouble);
    }
    cJSON_Delete(full);
    s->failed |= v == DT_VERDICT_FAIL;
    s->warned |= v == DT_VERDICT_WARN;
}

void dt_summary_skip(dt_summary *s, const char *stage, const char *reason)
{
    cJSON *e = stage_entry(s, stage, "skipped");
    cJSON_AddStringToObject(e, "reason", reason);
}

void dt_summary_error(dt_summary *s, const char *stage, dt_status st, const char *message)
{
    cJSON *e = stage_entry(s, stage, "fail");
    cJSON *err = cJSON_AddObjectToObject(e, "error");
    cJSON_AddStringToObject(err, "kind", dt_status_name(st));
    cJSON_AddNumberToObject(err, "exit_code", dt_status_exit_code(st));
    cJSON_AddStringToObject(err, "message", message);
    if (!s->error) s->error = cJSON_Duplicate(err, 1);
    s->failed = 1;
}

static const cJSON *find_stage(const dt_summary *s, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, s->stages)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "stage");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return e;
    }
    return NULL;
}

/* One gate: appends its evaluation and returns 1 when it trips. */
static int eval_gate(dt_summary *s, const dt_gate *g)
{
    cJSON *o = cJSON_CreateObject();
    int ok;
    cJSON_AddStringToObject(o, "name", g->name);
    if (g->kind == DT_GATE_STAGE) {
        const cJSON *e = find_stage(s, g->name);
        const cJSON *st = e ? cJSON_GetObjectItemCaseSensitive(e, "status") : NULL;
        int v = cJSON_IsString(st) ? dt_verdict_parse(st->valuestring) : -1;
        cJSON_AddStringToObject(o, "kind", "stage");
        cJSON_AddStringToObject(o, "allowed", dt_verdict_name(g->worst));
        if (v >= 0) cJSON_AddStringToObject(o, "actual", dt_verdict_name((dt_verdict)v));
        else cJSON_AddNullToObject(o, "actual");
        /* A skipped or missing stage cannot show it passed. */
        ok = v >= 0 && v != DT_VERDICT_SKIPPED && v <= (int)g->worst;
    } else {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(s->metrics, g->name);
        cJSON_AddStringToObject(o, "kind", g->kind == DT_GATE_MAX ? "max" : "min");
        cJSON_AddNumberToObject(o, "limit", g->limit);
        if (cJSON_IsNumber(m)) cJSON_AddNumberToObject(o, "actual", m->valuedouble);
        else cJSON_AddNullToObject(o, "actual");
        ok = cJSON_IsNumber(m) && (g->kind == DT_GATE_MAX ? m->valuedouble <= g->limit : m->valuedouble >= g->limit);
    }
    cJSON_AddBoolToObject(o, "passed", ok);
    cJSON_AddItemToArray(s->gates, o);
    return !ok;
}

int dt_summary_apply_gates(dt_summary *s, const dt_config *cfg)
{
    int tripped = 0;
    for (int i = 0; i < cfg->n_gates; i++) tripped += eval_gate(s, &cfg->gates[i]);
    s->tripped += tripped;
    return tripped;
}

dt_verdict dt_summary_status(const dt_summary *s)
{
    if (s->failed || s->tripped) return DT_VERDICT_FAIL;
    return s->warned ? DT_VERDICT_WARN : DT_VERDICT_PASS;
}

cJSON *dt_summary_to_json(const dt_summary *s)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double dur = (double)(t.tv_sec - s->t0.tv_sec) + (double)(t.tv_nsec - s->t0.tv_nsec) * 1e-9;
    cJSON *o = dt_report_header("run", dt_summary_status(s), s->started_at, dur, s->cfg);
    if (!o) return NULL;
    cJSON_AddItemToObject(o, "stages", cJSON_Duplicate(s->stages, 1));
    cJSON_AddItemToObject(o, "metrics", cJSON_Duplicate(s->metrics, 1));
    cJSON_AddItemToObject(o, "gates", cJSON_Duplicate(s->gates, 1));
    if (s->error) cJSON_AddItemToObject(o, "error", cJSON_Duplicate(s->error, 1));
    return o;
}

dt_status dt_summary_write(const dt_summary *s, const char *dir)
{
    cJSON *j = dt_summary_to_json(s);
    dt_status st = dt_json_write(j, dir, "summary.json");
    cJSON_Delete(j);
    return st;
}
