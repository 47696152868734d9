/* `dnntrouble diff OLD NEW`: compares two runs' summary.json for CI. */
#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

dt_metric_dir dt_metric_direction(const char *name)
{
    /* Outcomes: errors (and accuracies, decompose's scores) measured on a split, and the terms built from them. */
    static const char *const lower[] = {"error", "bias", "variance", "shift", "val_overfit", "rmse", "mae"};
    static const char *const higher[] = {"accuracy", "_r2", "roc_auc", "_f1", "precision", "recall"};
    /* Not outcomes: bookkeeping, noise estimates, the settings they are judged
     * against, and one-batch or initial-loss diagnostics (debug, overfit-batch). */
    static const char *const not_metric[] = {"gradcheck", "_se", "error_scale", "_n", "margin", "threshold",
                                             "batch_", "init_", "target_", "expected_", "baseline_", "human_", "irreducible"};
    char low[160];
    size_t i;
    for (i = 0; name[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    for (i = 0; i < sizeof not_metric / sizeof not_metric[0]; i++) {
        const char *hit = strstr(low, not_metric[i]);
        size_t k = strlen(not_metric[i]);
        /* "_se", "_n": suffixes; "batch_" ...: prefixes; the rest anywhere */
        if (hit && (not_metric[i][0] == '_' ? hit[k] == '\0' : not_metric[i][k - 1] == '_' ? hit == low : 1))
            return DT_DIR_NONE;
    }
    for (i = 0; i < sizeof higher / sizeof higher[0]; i++)
        if (strstr(low, higher[i])) return DT_DIR_HIGHER;
    for (i = 0; i < sizeof lower / sizeof lower[0]; i++)
        if (strstr(low, lower[i])) return DT_DIR_LOWER;
    return DT_DIR_NONE;
}

static dt_status load_summary(const char *path, cJSON **out)
{
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(file, sizeof file, "%s/summary.json", path);
    else snprintf(file, sizeof file, "%s", path);
    FILE *f = fopen(file, "rb");
    if (!f) return dt_fail(DT_EDATA, "cannot open '%s' (a run folder with summary.json, or the file)", file);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return dt_fail(DT_ENOMEM, "out of memory reading '%s'", file);
    buf[got] = '\0';
    const char *end = NULL;
    *out = cJSON_ParseWithOpts(buf, &end, 1);
    if (!*out) {
        size_t off = end ? (size_t)(end - buf) : 0;
        free(buf);
        return dt_fail(DT_EDATA, "%s: offset %zu: not valid JSON", file, off);
    }
    free(buf);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*out, "metrics"))) {
        cJSON_Delete(*out);
        return dt_fail(DT_EDATA, "%s: no \"metrics\" object (is it a dnntrouble summary.json?)", file);
    }
    return DT_OK;
}

static dt_diff_row *add_row(dt_diff *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->rows[i].name, name) == 0) return &d->rows[i];
    dt_diff_row *rows = realloc(d->rows, (size_t)(d->n + 1) * sizeof *rows);
    if (!rows) return NULL;
    d->rows = rows;
    dt_diff_row *r = &rows[d->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->dir = dt_metric_direction(name);
    return r;
}

static int collect(dt_diff *d, const cJSON *sum, int is_new)
{
    const cJSON *m, *e;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(sum, "metrics"))
    {
        if (!cJSON_IsNumber(m) || dt_metric_direction(m->string) == DT_DIR_NONE) continue;
        dt_diff_row *r = add_row(d, m->string);
        if (!r) return 0;
        if (is_new) { r->has_new = 1; r->new_value = m->valuedouble; }
        else { r->has_old = 1; r->old_value = m->valuedouble; }
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sum, "stages"))
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "stage");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "status");
        char name[160];
        if (!cJSON_IsString(st) || !cJSON_IsString(v)) continue;
        snprintf(name, sizeof name, "status.%s", st->valuestring);
        dt_diff_row *r = add_row(d, name);
        if (!r) return 0;
        r->dir = DT_DIR_NONE;
        if (is_new) { r->has_new = 1; snprintf(r->new_text, sizeof r->new_text, "%s", v->valuestring); }
        else { r->has_old = 1; snprintf(r->old_text, sizeof r->old_text, "%s", v->valuestring); }
    }
    return 1;
}

/* pass = warn < fail: warnings are allowed (exit 0, SPEC), and a finding at
 * its margin may come and go with the seed; a stage that used to run and is
 * now skipped counts as failed. */
static int verdict_rank(const char *s)
{
    int v = dt_verdict_parse(s);
    return v == DT_VERDICT_SKIPPED || v == DT_VERDICT_FAIL ? 1 : 0;
}

/* METRIC_se of a summary, or -1. */
static double se_of(const cJSON *sum, const char *name)
{
    char key[200];
    snprintf(key, sizeof key, "%s_se", name);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "metrics"), key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : -1;
}

static void judge(dt_diff_row *r, const cJSON *a, const cJSON *b, double abs_tol, double rel_tol)
{
    if (r->old_text[0] || r->new_text[0]) {
        /* A stage that ran before must still run and be no worse. */
        r->regressed = r->has_old && (!r->has_new || verdict_rank(r->new_text) > verdict_rank(r->old_text));
        return;
    }
    if (r->dir == DT_DIR_NONE || !r->has_old) return;
    if (!r->has_new) { r->regressed = 1; return; }
    double tol = fmax(abs_tol, rel_tol * fabs(r->old_value));
    double so = se_of(a, r->name), sn = se_of(b, r->name);
    if (so >= 0 && sn >= 0 && DT_DIFF_NOISE_Z * sqrt(so * so + sn * sn) > tol) {
        tol = DT_DIFF_NOISE_Z * sqrt(so * so + sn * sn);
        r->noise_based = 1;
    }
    r->tolerance = tol;
    if (r->dir == DT_DIR_LOWER) r->regressed = r->new_value > r->old_value + tol;
    else r->regressed = r->new_value < r->old_value - tol;
}

/* The first key under `path` whose value differs between two resolved
 * configs (skipping `skip`), written into what; 0 when they agree. */
static int first_difference(const cJSON *x, const cJSON *y, const char *path, const char *skip, char *what, size_t n)
{
    if (cJSON_IsObject(x) && cJSON_IsObject(y)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, x)
        {
            char sub[160];
            snprintf(sub, sizeof sub, "%s.%s", path, c->string);
            if (skip && !strcmp(sub, skip)) continue;
            if (first_difference(c, cJSON_GetObjectItemCaseSensitive(y, c->string), sub, skip, what, n)) return 1;
        }
        cJSON_ArrayForEach(c, y) if (!cJSON_GetObjectItemCaseSensitive(x, c->string))
        {
            snprintf(what, n, "%s.%s", path, c->string);
            return 1;
        }
        return 0;
    }
    if (cJSON_Compare(x, y, 1)) return 0;
    snprintf(what, n, "%s", path);
    return 1;
}

/* Runs on different data or with another network are flagged: their
 * numbers measure different things.  The seed may differ (that is noise). */
static void compare_setups(const cJSON *a, const cJSON *b, dt_diff *out)
{
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, "config"), *cb = cJSON_GetObjectItemCaseSensitive(b, "config");
    if (!ca || !cb) return;
    first_difference(cJSON_GetObjectItemCaseSensitive(ca, "data"), cJSON_GetObjectItemCaseSensitive(cb, "data"), "data",
                     "data.seed", out->data_differs, sizeof out->data_differs);
    const cJSON *la = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ca, "model"), "layers");
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cb, "model"), "layers");
    if ((la || lb) && !cJSON_Compare(la, lb, 1)) snprintf(out->model_differs, sizeof out->model_differs, "model.layers");
}

dt_status dt_diff_runs(const char *old_path, const char *new_path, double abs_tol, double rel_tol, dt_diff *out)
{
    cJSON *a = NULL, *b = NULL;
    memset(out, 0, sizeof *out);
    dt_status st = load_summary(old_path, &a);
    if (st == DT_OK) st = load_summary(new_path, &b);
    if (st == DT_OK && (!collect(out, a, 0) || !collect(out, b, 1))) st = dt_fail(DT_ENOMEM, "out of memory in diff");
    if (st == DT_OK) {
        for (int i = 0; i < out->n; i++) {
            judge(&out->rows[i], a, b, abs_tol, rel_tol);
            out->regressions += out->rows[i].regressed;
        }
        compare_setups(a, b, out);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (st != DT_OK) dt_diff_free(out);
    return st;
}

void dt_diff_free(dt_diff *d)
{
    free(d->rows);
    d->rows = NULL;
    d->n = d->regressions = 0;
}
