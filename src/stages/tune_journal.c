/* trials.jsonl: the append-only journal of finished trials.
 *
 * One JSON object per line:
 *   {"trial": 3, "round": 0, "config": "9f0c...", "params": {"train.lr": 0.0031, "train.optimizer": "adam"},
 *    "status": "ok" | "sick" | "failed", "reason": "...", "score": 0.12, "val_loss": 0.4,
 *    "first_loss": 1.38, "last_loss": 0.3, "steps": 120, "budget": 120, "seconds": 0.8}
 * A line is written with one write() on an O_APPEND descriptor and fsync'd
 * before the stage hands out the next trial, so a kill -9 leaves at most a
 * torn last line, which the reader ignores. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "dnntrouble/report.h"
#include "tune_runner.h"

uint64_t dt_tune_config_hash(const dt_config *cfg)
{
    dt_config *c = malloc(sizeof *c);
    if (!c) return 0;
    *c = *cfg;
    /* How many trials run at once, and BLAS threads, do not change results. */
    c->stages.tune.jobs = 1;
    c->threads = 1;
    for (int i = 0; i < dt_config_key_count() && i < DT_CONFIG_MAX_KEYS; i++) {
        const char *k = dt_config_key_name(i);
        if (strcmp(k, "stages.tune.jobs") == 0 || strcmp(k, "threads") == 0) c->given[i] = 0;
    }
    char *yaml = dt_config_to_yaml(c);
    free(c);
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = yaml ? yaml : ""; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    free(yaml);
    return h;
}

static char *entry_line(const dt_config *cfg, uint64_t hash, const dt_trial *t, const dt_trial_result *r)
{
    cJSON *o = cJSON_CreateObject(), *params = cJSON_CreateObject();
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    cJSON_AddNumberToObject(o, "trial", t->id);
    cJSON_AddNumberToObject(o, "round", t->round);
    cJSON_AddStringToObject(o, "config", hex);
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        if (p->kind == DT_SPACE_CHOICE) cJSON_AddStringToObject(params, p->key, p->choices[t->choice[i]]);
        else cJSON_AddNumberToObject(params, p->key, t->num[i]);
    }
    cJSON_AddItemToObject(o, "params", params);
    cJSON_AddStringToObject(o, "status", dt_trial_status_name(r->status));
    if (r->status != DT_TRIAL_OK) cJSON_AddStringToObject(o, "reason", r->reason);
    /* cJSON writes non-finite numbers as null. */
    cJSON_AddNumberToObject(o, "score", r->score);
    cJSON_AddNumberToObject(o, "val_loss", r->val_loss);
    cJSON_AddNumberToObject(o, "first_loss", r->first_loss);
    cJSON_AddNumberToObject(o, "last_loss", r->last_loss);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "budget", (double)r->budget);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

static double num_or_nan(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Parses one line; 0 when it is not a usable entry for this config. */
static int parse_entry(const char *line, const dt_config *cfg, uint64_t hash, dt_trial *t, dt_trial_result *r)
{
    cJSON *o = cJSON_Parse(line);
    if (!o) return 0;
    int ok = 0;
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "trial");
    const cJSON *round = cJSON_GetObjectItemCaseSensitive(o, "round");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "config");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
    if (!cJSON_IsNumber(id) || !cJSON_IsNumber(round) || !cJSON_IsString(h) || strcmp(h->valuestring, hex) != 0 ||
        !cJSON_IsObject(params) || !cJSON_IsString(status))
        goto done;
    memset(t, 0, sizeof *t);
    memset(r, 0, sizeof *r);
    t->id = r->id = id->valueint;
    t->round = round->valueint;
    t->n = cfg->stages.tune.n_space;
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, p->key);
        if (p->kind == DT_SPACE_CHOICE) {
            if (!cJSON_IsString(v)) goto done;
            t->choice[i] = -1;
            for (int c = 0; c < p->n_choices; c++)
                if (strcmp(p->choices[c], v->valuestring) == 0) t->choice[i] = c;
            if (t->choice[i] < 0) goto done;
        } else {
            if (!cJSON_IsNumber(v)) goto done;
            t->num[i] = v->valuedouble;
        }
    }
    if (strcmp(status->valuestring, "ok") == 0) r->status = DT_TRIAL_OK;
    else if (strcmp(status->valuestring, "sick") == 0) r->status = DT_TRIAL_SICK;
    else if (strcmp(status->valuestring, "failed") == 0) r->status = DT_TRIAL_FAILED;
    else goto done;
    if (cJSON_IsString(reason)) snprintf(r->reason, sizeof r->reason, "%s", reason->valuestring);
    r->score = num_or_nan(o, "score");
    r->val_loss = num_or_nan(o, "val_loss");
    r->first_loss = num_or_nan(o, "first_loss");
    r->last_loss = num_or_nan(o, "last_loss");
    r->steps = (long)num_or_nan(o, "steps");
    r->budget = (long)num_or_nan(o, "budget");
    r->seconds = num_or_nan(o, "seconds");
    if (r->status == DT_TRIAL_OK && !isfinite(r->score)) goto done;
    ok = 1;
done:
    cJSON_Delete(o);
    return ok;
}

dt_status dt_tune_journal_read(const char *path, const dt_config *cfg, uint64_t config_hash, dt_trial *trials,
                               dt_trial_result *results, int cap, int *n)
{
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return DT_OK;
        return dt_fail(DT_EIO, "cannot read '%s': %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline(&line, &size, f)) > 0) {
        /* A line without its newline is the torn tail of an interrupted write. */
        if (line[len - 1] != '\n') break;
        line[len - 1] = '\0';
        if (*n >= cap) break;
        if (!parse_entry(line, cfg, config_hash, &trials[*n], &results[*n])) continue;
        /* Keep the first entry of an id (the journal never holds two, but be safe). */
        int dup = 0;
        for (int i = 0; i < *n; i++) dup |= trials[i].id == trials[*n].id;
        if (!dup) (*n)++;
    }
    free(line);
    fclose(f);
    return DT_OK;
}

dt_status dt_tune_journal_open(dt_tune_journal *j, const char *path, const dt_config *cfg, uint64_t config_hash,
                               const dt_trial *trials, const dt_trial_result *results, int n)
{
    j->fd = -1;
    snprintf(j->path, sizeof j->path, "%s", path);
    size_t len = 0, capb = 1;
    char *buf = malloc(capb);
    if (!buf) return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char *line = entry_line(cfg, config_hash, &trials[i], &results[i]);
        if (!line) {
            free(buf);
            return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
        }
        size_t l = strlen(line);
        if (len + l + 1 > capb) {
            capb = (len + l + 1) * 2;
            char *b = realloc(buf, capb);
            if (!b) {
                free(line);
                free(buf);
                return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
            }
            buf = b;
        }
        memcpy(buf + len, line, l + 1);
        len += l;
        free(line);
    }
    dt_status st = dt_write_file_atomic(path, buf, len);
    free(buf);
    if (st) return st;
    j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (j->fd < 0) return dt_fail(DT_EIO, "cannot open '%s' for appending: %s", path, strerror(errno));
    return DT_OK;
}

dt_status dt_tune_journal_append(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                 const dt_trial *t, const dt_trial_result *r)
{
    char *line = entry_line(cfg, config_hash, t, r);
    if (!line) return dt_fail(DT_ENOMEM, "out of memory writing '%s'", j->path);
    size_t left = strlen(line);
    const char *p = line;
    while (left > 0) {
        ssize_t w = write(j->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? errno : EIO;
            free(line);
            return dt_fail(DT_EIO, "cannot append to '%s': %s", j->path, strerror(err));
        }
        p += w;
        left -= (size_t)w;
    }
    free(line);
    if (fsync(j->fd) != 0) return dt_fail(DT_EIO, "cannot fsync '%s': %s", j->path, strerror(errno));
    return DT_OK;
}

void dt_tune_journal_close(dt_tune_journal *j)
{
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
}
