/* One stage report: findings, metrics, artifacts, status. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct dt_finding {
    dt_report *rep;
    dt_severity sev;
    cJSON *obj, *evidence, *suggestions;
};

struct dt_report {
    char stage[64];
    const dt_config *cfg;
    char started_at[32];
    struct timespec t0;
    cJSON *findings, *metrics, *artifacts;
    dt_finding **fs;
    int n_fs, cap_fs;
    int status_set;
    dt_verdict status;
    int oom;                 /* a cJSON allocation failed: writing reports DT_ENOMEM */
};

static const char *const severity_names[] = {"info", "warning", "error"};

dt_report *dt_report_new(const char *stage, const dt_config *cfg)
{
    dt_report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    r->cfg = cfg;
    dt_iso8601_now(r->started_at, sizeof r->started_at);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->findings = cJSON_CreateArray();
    r->metrics = cJSON_CreateObject();
    r->artifacts = cJSON_CreateObject();
    if (!r->findings || !r->metrics || !r->artifacts) {
        dt_report_free(r);
        return NULL;
    }
    return r;
}

void dt_report_free(dt_report *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_fs; i++) free(r->fs[i]);
    free(r->fs);
    cJSON_Delete(r->findings);
    cJSON_Delete(r->metrics);
    cJSON_Delete(r->artifacts);
    free(r);
}

const char *dt_report_stage(const dt_report *r) { return r->stage; }

static void check(dt_report *r, const void *p)
{
    if (!p && r) r->oom = 1;
}

dt_finding *dt_report_finding(dt_report *r, const char *id, dt_severity sev, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    if (!r) return NULL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->n_fs == r->cap_fs) {
        int cap = r->cap_fs ? r->cap_fs * 2 : 8;
        dt_finding **fs = realloc(r->fs, (size_t)cap * sizeof *fs);
        if (!fs) { r->oom = 1; return NULL; }
        r->fs = fs;
        r->cap_fs = cap;
    }
    dt_finding *f = calloc(1, sizeof *f);
    cJSON *o = cJSON_CreateObject();
    if (!f || !o || !cJSON_AddItemToArray(r->findings, o)) {
        free(f);
        cJSON_Delete(o);
        r->oom = 1;
        return NULL;
    }
    f->rep = r;
    f->sev = sev;
    f->obj = o;
    check(r, cJSON_AddStringToObject(o, "id", id));
    check(r, cJSON_AddStringToObject(o, "severity", severity_names[sev]));
    check(r, cJSON_AddStringToObject(o, "message", msg));
    check(r, f->evidence = cJSON_AddObjectToObject(o, "evidence"));
    check(r, f->suggestions = cJSON_AddArrayToObject(o, "suggestions"));
    r->fs[r->n_fs++] = f;
    return f;
}

/* Replaces key in obj with item (or records the allocation failure). */
static void put(dt_report *r, cJSON *obj, const char *key, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        check(r, NULL);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else if (!cJSON_AddItemToObject(obj, key, item)) { cJSON_Delete(item); check(r, NULL); }
}

void dt_finding_evidence(dt_finding *f, const char *key, double value)
{
    if (f) put(f->rep, f->evidence, key, cJSON_CreateNumber(value));
}

void dt_finding_evidence_str(dt_finding *f, const char *key, const char *value)
{
    if (f) put(f->rep, f->evidence, key, cJSON_CreateString(value));
}

void dt_finding_suggest(dt_finding *f, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!f) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *s = cJSON_CreateString(msg);
    if (!s || !cJSON_AddItemToArray(f->suggestions, s)) { cJSON_Delete(s); f->rep->oom = 1; }
}

int dt_report_has_finding(const dt_report *r, const char *id)
{
    int n = 0;
    for (int i = 0; r && i < r->n_fs; i++) {
        const cJSON *fid = cJSON_GetObjectItemCaseSensitive(r->fs[i]->obj, "id");
        n += cJSON_IsString(fid) && strcmp(fid->valuestring, id) == 0;
    }
    return n;
}

void dt_report_metric(dt_report *r, const char *key, double value)
{
    if (r) put(r, r->metrics, key, cJSON_CreateNumber(value));
}

void dt_report_metric_str(dt_report *r, const char *key, const char *value)
{
    if (r) put(r, r->metrics, key, cJSON_CreateString(value));
}

void dt_report_metric_array(dt_report *r, const char *key, const double *v, size_t n)
{
    if (r) put(r, r->metrics, key, cJSON_CreateDoubleArray(v, (int)n));
}

void dt_report_metric_farray(dt_report *r, const char *key, const float *v, size_t n)
{
    if (r) put(r, r->metrics, key, cJSON_CreateFloatArray(v, (int)n));
}

void dt_report_metric_matrix(dt_report *r, const char *key, const long *m, size_t rows, size_t cols)
{
    if (!r) return;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < rows; i++) {
        cJSON *row = cJSON_CreateArray();
        if (!row || !cJSON_AddItemToArray(a, row)) { cJSON_Delete(row); r->oom = 1; break; }
        for (size_t j = 0; j < cols; j++) {
            cJSON *x = cJSON_CreateNumber((double)m[i * cols + j]);
            if (!x || !cJSON_AddItemToArray(row, x)) { cJSON_Delete(x); r->oom = 1; }
        }
    }
    put(r, r->metrics, key, a);
}

void dt_report_metric_json(dt_report *r, const char *key, cJSON *value)
{
    if (r) put(r, r->metrics, key, value);
    else cJSON_Delete(value);
}

cJSON *dt_report_metrics(dt_report *r) { return r ? r->metrics : NULL; }

int dt_report_get_metric(const dt_report *r, const char *key, double *out)
{
    const cJSON *m = r ? cJSON_GetObjectItemCaseSensitive(r->metrics, key) : NULL;
    if (!cJSON_IsNumber(m)) return 0;
    *out = m->valuedouble;
    return 1;
}

void dt_report_artifact(dt_report *r, const char *name, const char *relpath)
{
    if (r) put(r, r->artifacts, name, cJSON_CreateString(relpath));
}

void dt_report_set_status(dt_report *r, dt_verdict v)
{
    if (!r) return;
    r->status = v;
    r->status_set = 1;
}

dt_verdict dt_report_status(const dt_report *r)
{
    if (r->status_set) return r->status;
    dt_verdict v = DT_VERDICT_PASS;
    for (int i = 0; i < r->n_fs; i++) {
        if (r->fs[i]->sev == DT_SEV_ERROR) return DT_VERDICT_FAIL;
        if (r->fs[i]->sev == DT_SEV_WARNING) v = DT_VERDICT_WARN;
    }
    return v;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* The fields every report and the summary share, in schema order. */
cJSON *dt_report_header(const char *stage, dt_verdict status, const char *started_at, double duration,
                        const dt_config *cfg)
{
    cJSON *o = cJSON_CreateObject(), *tool;
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "schema_version", DT_REPORT_SCHEMA_VERSION);
    tool = cJSON_AddObjectToObject(o, "tool");
    cJSON_AddStringToObject(tool, "name", DT_TOOL_NAME);
    cJSON_AddStringToObject(tool, "version", DT_TOOL_VERSION);
    cJSON_AddStringToObject(o, "stage", stage);
    cJSON_AddStringToObject(o, "status", dt_verdict_name(status));
    cJSON_AddStringToObject(o, "started_at", started_at);
    cJSON_AddNumberToObject(o, "duration_s", duration);
    cJSON_AddNumberToObject(o, "seed", cfg ? (double)cfg->seed : 0);
    cJSON_AddItemToObject(o, "config", cfg ? dt_config_to_json(cfg) : cJSON_CreateObject());
    return o;
}

cJSON *dt_report_to_json(const dt_report *r)
{
    cJSON *o = dt_report_header(r->stage, dt_report_status(r), r->started_at, seconds_since(&r->t0), r->cfg);
    if (!o) return NULL;
    cJSON_AddItemToObject(o, "findings", cJSON_Duplicate(r->findings, 1));
    cJSON_AddItemToObject(o, "metrics", cJSON_Duplicate(r->metrics, 1));
    cJSON_AddItemToObject(o, "artifacts", cJSON_Duplicate(r->artifacts, 1));
    return o;
}

/* Serializes j to DIR/FILE atomically (shared with summary.json). */
dt_status dt_json_write(const cJSON *j, const char *dir, const char *file)
{
    char path[4096];
    dt_status st = dt_mkdir_p(dir);
    if (st != DT_OK) return st;
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return dt_fail(DT_EIO, "path too long: '%s/%s'", dir, file);
    char *text = j ? cJSON_Print(j) : NULL;
    if (!text) return dt_fail(DT_ENOMEM, "out of memory formatting '%s'", path);
    size_t n = strlen(text);
    /* A trailing newline keeps `cat` and diff tools happy. */
    char *withnl = realloc(text, n + 2);
    if (!withnl) { free(text); return dt_fail(DT_ENOMEM, "out of memory formatting '%s'", path); }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    st = dt_write_file_atomic(path, withnl, n + 1);
    free(withnl);
    return st;
}

dt_status dt_report_write(const dt_report *r, const char *dir)
{
    char file[80];
    if (r->oom) return dt_fail(DT_ENOMEM, "out of memory building the %s report", r->stage);
    cJSON *j = dt_report_to_json(r);
    snprintf(file, sizeof file, "%s.json", r->stage);
    dt_status st = dt_json_write(j, dir, file);
    cJSON_Delete(j);
    return st;
}
