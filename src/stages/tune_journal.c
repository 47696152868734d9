/* trials.jsonl: the append-only journal of finished trials.
 *
 * One JSON object per line:
 *   {"trial": 3, "round": 0, "config": "9f0c...", "params": {"train.lr": 0.0031, "train.optimizer": "adam"},
 *    "status": "ok" | "sick" | "failed" | "pruned", "reason": "...", "score": 0.12, "val_loss": 0.4,
 *    "first_loss": 1.38, "last_loss": 0.3, "steps": 120, "budget": 120, "seconds": 0.8}
 * ("rung", "epoch" too when pruned: the score is the one at that rung), and
 * with stages.tune.pruner asha one line per rung report (no "status"):
 *   {"trial": 3, "round": 0, "config": "9f0c...", "params": {...}, "rung": 0, "epoch": 1,
 *    "score": 0.3, "val_loss": 0.8, "verdict": "continue" | "prune"}
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

/* A number that reads back as the same double: cJSON prints 15 digits when
 * they compare equal within an epsilon, which can lose the last bit, and a
 * trial's params must match exactly on resume.  Non-finite: null. */
static void add_num(cJSON *o, const char *key, double v)
{
    char buf[40];
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    snprintf(buf, sizeof buf, "%.17g", v);
    cJSON_AddRawToObject(o, key, buf);
}

/* The fields every line starts with: the trial, its round, the config hash and the params. */
static cJSON *line_head(const dt_config *cfg, uint64_t hash, const dt_trial *t)
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
        else add_num(params, p->key, t->num[i]);
    }
    cJSON_AddItemToObject(o, "params", params);
    return o;
}

static char *print_line(cJSON *o);

static char *entry_line(const dt_config *cfg, uint64_t hash, const dt_trial *t, const dt_trial_result *r)
{
    cJSON *o = line_head(cfg, hash, t);
    cJSON_AddStringToObject(o, "status", dt_trial_status_name(r->status));
    if (r->status != DT_TRIAL_OK) cJSON_AddStringToObject(o, "reason", r->reason);
    if (r->status == DT_TRIAL_PRUNED) {
        cJSON_AddNumberToObject(o, "rung", r->rung);
        cJSON_AddNumberToObject(o, "epoch", r->epoch);
    }
    add_num(o, "score", r->score);
    add_num(o, "val_loss", r->val_loss);
    add_num(o, "first_loss", r->first_loss);
    add_num(o, "last_loss", r->last_loss);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "budget", (double)r->budget);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    return print_line(o);
}

static char *rung_line(const dt_config *cfg, uint64_t hash, const dt_rung_entry *e)
{
    cJSON *o = line_head(cfg, hash, &e->t);
    cJSON_AddNumberToObject(o, "rung", e->rep.rung);
    cJSON_AddNumberToObject(o, "epoch", e->rep.epoch);
    add_num(o, "score", e->rep.score);
    add_num(o, "val_loss", e->rep.val_loss);
    cJSON_AddStringToObject(o, "verdict", e->verdict == DT_RUNG_CONTINUE ? "continue" : "prune");
    return print_line(o);
}

/* The object as one line with its newline; frees o. */
static char *print_line(cJSON *o)
{
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

static int int_or(const cJSON *o, const char *key, int dflt)
{
    double v = num_or_nan(o, key);
    return v >= -1e9 && v <= 1e9 ? (int)v : dflt;
}

/* The head of a line (trial, round, config hash, params); 0 when it is not
 * this config's. */
static int parse_head(const cJSON *o, const dt_config *cfg, uint64_t hash, dt_trial *t)
{
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "trial");
    const cJSON *round = cJSON_GetObjectItemCaseSensitive(o, "round");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "config");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
    if (!cJSON_IsNumber(id) || !cJSON_IsNumber(round) || !cJSON_IsString(h) || strcmp(h->valuestring, hex) != 0 ||
        !cJSON_IsObject(params))
        return 0;
    memset(t, 0, sizeof *t);
    t->id = id->valueint;
    t->round = round->valueint;
    t->n = cfg->stages.tune.n_space;
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, p->key);
        if (p->kind == DT_SPACE_CHOICE) {
            if (!cJSON_IsString(v)) return 0;
            t->choice[i] = -1;
            for (int c = 0; c < p->n_choices; c++)
                if (strcmp(p->choices[c], v->valuestring) == 0) t->choice[i] = c;
            if (t->choice[i] < 0) return 0;
        } else {
            if (!cJSON_IsNumber(v)) return 0;
            t->num[i] = v->valuedouble;
        }
    }
    return 1;
}

/* Parses one line; 0 when it is not a usable trial entry for this config
 * (rung lines have no "status"). */
static int parse_entry(const char *line, const dt_config *cfg, uint64_t hash, dt_trial *t, dt_trial_result *r)
{
    cJSON *o = cJSON_Parse(line);
    if (!o) return 0;
    int ok = 0;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
    if (!cJSON_IsString(status) || !parse_head(o, cfg, hash, t)) goto done;
    memset(r, 0, sizeof *r);
    r->id = t->id;
    if (strcmp(status->valuestring, "ok") == 0) r->status = DT_TRIAL_OK;
    else if (strcmp(status->valuestring, "sick") == 0) r->status = DT_TRIAL_SICK;
    else if (strcmp(status->valuestring, "failed") == 0) r->status = DT_TRIAL_FAILED;
    else if (strcmp(status->valuestring, "pruned") == 0) r->status = DT_TRIAL_PRUNED;
    else goto done;
    if (cJSON_IsString(reason)) snprintf(r->reason, sizeof r->reason, "%s", reason->valuestring);
    r->score = num_or_nan(o, "score");
    r->val_loss = num_or_nan(o, "val_loss");
    r->first_loss = num_or_nan(o, "first_loss");
    r->last_loss = num_or_nan(o, "last_loss");
    r->steps = (long)num_or_nan(o, "steps");
    r->budget = (long)num_or_nan(o, "budget");
    r->seconds = num_or_nan(o, "seconds");
    r->rung = int_or(o, "rung", -1);
    r->epoch = int_or(o, "epoch", -1);
    if (r->status == DT_TRIAL_OK && !isfinite(r->score)) goto done;
    if (r->status == DT_TRIAL_PRUNED && (!isfinite(r->score) || r->rung < 0 || r->rung >= DT_ASHA_MAX_RUNGS)) goto done;
    ok = 1;
done:
    cJSON_Delete(o);
    return ok;
}

/* Calls each(ctx, line) for every whole line (newline stripped) until it
 * returns nonzero; a last line without its newline is the torn tail of an
 * interrupted write and is not read. */
static dt_status read_lines(const char *path, int (*each)(void *ctx, char *line), void *ctx)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return DT_OK;
        return dt_fail(DT_EIO, "cannot read '%s': %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline(&line, &size, f)) > 0) {
        if (line[len - 1] != '\n') break;
        line[len - 1] = '\0';
        if (each(ctx, line)) break;
    }
    free(line);
    fclose(f);
    return DT_OK;
}

typedef struct trial_reader {
    const dt_config *cfg;
    uint64_t hash;
    dt_trial *trials;
    dt_trial_result *results;
    dt_rung_entry *rungs;
    int cap, n;
} trial_reader;

static int read_trial_line(void *ctx, char *line)
{
    trial_reader *tr = ctx;
    if (tr->n >= tr->cap) return 1;
    if (!parse_entry(line, tr->cfg, tr->hash, &tr->trials[tr->n], &tr->results[tr->n])) return 0;
    /* Keep the first entry of an id (the journal never holds two, but be safe). */
    int dup = 0;
    for (int i = 0; i < tr->n; i++) dup |= tr->trials[i].id == tr->trials[tr->n].id;
    if (!dup) tr->n++;
    return 0;
}

dt_status dt_tune_journal_read(const char *path, const dt_config *cfg, uint64_t config_hash, dt_trial *trials,
                               dt_trial_result *results, int cap, int *n)
{
    trial_reader tr = {.cfg = cfg, .hash = config_hash, .trials = trials, .results = results, .cap = cap};
    dt_status st = read_lines(path, read_trial_line, &tr);
    *n = tr.n;
    return st;
}

/* A rung line; 0 when it is not one of this config's. */
static int parse_rung(const char *line, const dt_config *cfg, uint64_t hash, dt_rung_entry *e)
{
    cJSON *o = cJSON_Parse(line);
    if (!o) return 0;
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(o, "verdict");
    int ok = cJSON_IsString(verdict) && !cJSON_GetObjectItemCaseSensitive(o, "status") && parse_head(o, cfg, hash, &e->t);
    if (ok) {
        e->rep = (dt_rung_report){e->t.id, int_or(o, "rung", -1), int_or(o, "epoch", -1), num_or_nan(o, "score"),
                                  num_or_nan(o, "val_loss")};
        ok = e->rep.rung >= 0 && e->rep.rung < DT_ASHA_MAX_RUNGS && isfinite(e->rep.score);
        if (strcmp(verdict->valuestring, "continue") == 0) e->verdict = DT_RUNG_CONTINUE;
        else if (strcmp(verdict->valuestring, "prune") == 0) e->verdict = DT_RUNG_PRUNE;
        else ok = 0;
    }
    cJSON_Delete(o);
    return ok;
}

static int read_rung_line(void *ctx, char *line)
{
    trial_reader *tr = ctx;
    if (tr->n >= tr->cap) return 1;
    dt_rung_entry *e = &tr->rungs[tr->n];
    if (!parse_rung(line, tr->cfg, tr->hash, e)) return 0;
    int dup = 0;
    for (int i = 0; i < tr->n; i++) dup |= tr->rungs[i].rep.id == e->rep.id && tr->rungs[i].rep.rung == e->rep.rung;
    if (!dup) tr->n++;
    return 0;
}

dt_status dt_tune_journal_read_rungs(const char *path, const dt_config *cfg, uint64_t config_hash, dt_rung_entry *out,
                                     int cap, int *n)
{
    trial_reader tr = {.cfg = cfg, .hash = config_hash, .rungs = out, .cap = cap};
    dt_status st = read_lines(path, read_rung_line, &tr);
    *n = tr.n;
    return st;
}

/* Appends line (consumed) to the growing buffer. */
static int buf_add(char **buf, size_t *len, size_t *capb, char *line)
{
    if (!line) return 0;
    size_t l = strlen(line);
    if (*len + l + 1 > *capb) {
        size_t c = (*len + l + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b) {
            free(line);
            return 0;
        }
        *buf = b;
        *capb = c;
    }
    memcpy(*buf + *len, line, l + 1);
    *len += l;
    free(line);
    return 1;
}

dt_status dt_tune_journal_open(dt_tune_journal *j, const char *path, const dt_config *cfg, uint64_t config_hash,
                               const dt_trial *trials, const dt_trial_result *results, int n,
                               const dt_rung_entry *rungs, int n_rungs)
{
    j->fd = -1;
    snprintf(j->path, sizeof j->path, "%s", path);
    size_t len = 0, capb = 1;
    char *buf = malloc(capb);
    if (!buf) return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
    buf[0] = '\0';
    for (int i = 0; i < n + n_rungs; i++) {
        char *line = i < n ? entry_line(cfg, config_hash, &trials[i], &results[i])
                           : rung_line(cfg, config_hash, &rungs[i - n]);
        if (!buf_add(&buf, &len, &capb, line)) {
            free(buf);
            return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
        }
    }
    dt_status st = dt_write_file_atomic(path, buf, len);
    free(buf);
    if (st) return st;
    j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (j->fd < 0) return dt_fail(DT_EIO, "cannot open '%s' for appending: %s", path, strerror(errno));
    return DT_OK;
}

/* One write on the O_APPEND descriptor, then fsync; frees line. */
static dt_status append_line(dt_tune_journal *j, char *line)
{
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

dt_status dt_tune_journal_append(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                 const dt_trial *t, const dt_trial_result *r)
{
    return append_line(j, entry_line(cfg, config_hash, t, r));
}

dt_status dt_tune_journal_append_rung(dt_tune_journal *j, const dt_config *cfg, uint64_t config_hash,
                                      const dt_rung_entry *e)
{
    return append_line(j, rung_line(cfg, config_hash, e));
}

void dt_tune_journal_close(dt_tune_journal *j)
{
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
}
