/* Checks that involve more than one key.  Single-key types and ranges are
 * checked as values are set (value.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

static int key_line(const dt_config *cfg, const char *key)
{
    int k = dt_key_find(key);
    return k >= 0 ? cfg->line[dt_key_canonical(k)] : 0;
}

__attribute__((format(printf, 3, 4)))
static dt_status fail_at(const dt_config *cfg, int line, const char *fmt, ...)
{
    const char *src = cfg->path[0] ? cfg->path : "config";
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (line > 0) return dt_fail(DT_ECONFIG, "%s:%d: %s", src, line, text);
    return dt_fail(DT_ECONFIG, "%s: %s", src, text);
}

/* The files each format reads: data.<split>.<field>, NULL-terminated. */
static const char *const *needed_fields(dt_format f)
{
    static const char *const idx[] = {"images", "labels", NULL}, *const one[] = {"path", NULL},
                             *const npy[] = {"x", "y", NULL}, *const none[] = {NULL};
    switch (f) {
    case DT_FORMAT_IDX: return idx;
    case DT_FORMAT_CSV:
    case DT_FORMAT_TEXT: return one;
    case DT_FORMAT_NPY: return npy;
    default: return none;
    }
}

static dt_status check_sources(const dt_config *cfg)
{
    const char *fmt = dt_format_name(cfg->data.format);
    int line = key_line(cfg, "data.format");
    const char *const *need = needed_fields(cfg->data.format);
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        if (s && !cfg->data.test.present) continue;   /* no data.test: test comes from train */
        for (int i = 0; need[i]; i++) {
            char key[64];
            snprintf(key, sizeof key, "data.%s.%s", split, need[i]);
            if (!dt_config_given(cfg, key)) return fail_at(cfg, line, "data.format %s needs %s", fmt, key);
        }
    }
    if (cfg->data.format == DT_FORMAT_SYNTHETIC && (cfg->data.train.present || cfg->data.test.present))
        return fail_at(cfg, line, "data.format synthetic reads no files; remove data.train / data.test");
    /* A file key the format does not read would be silently ignored (csv with
     * data.train.y trains on the wrong columns): refuse it. */
    static const char *const all[] = {"images", "labels", "path", "x", "y", NULL};
    for (int s = 0; s < 2; s++)
        for (int i = 0; all[i]; i++) {
            char key[64];
            snprintf(key, sizeof key, "data.%s.%s", s ? "test" : "train", all[i]);
            int needed = 0;
            for (int k = 0; need[k]; k++) needed |= !strcmp(need[k], all[i]);
            const dt_source_spec *src = s ? &cfg->data.test : &cfg->data.train;
            if (!strcmp(all[i], "x") && src->n_fields) continue;   /* field maps have their own check */
            if (needed || !dt_config_given(cfg, key)) continue;
            char want[64] = "";
            for (int k = 0; need[k]; k++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", k ? " and " : "", need[k]);
            return fail_at(cfg, key_line(cfg, key), "%s does not apply to data.format %s, which reads %s%s", key, fmt,
                           need[0] ? want : "no files",
                           cfg->data.format == DT_FORMAT_CSV ? " (the label is a column: data.csv.label)" : "");
        }
    /* Options of another format's section likewise. */
    static const struct { const char *prefix; dt_format f; } sections[] = {
        {"data.csv.", DT_FORMAT_CSV}, {"data.text.", DT_FORMAT_TEXT}, {"data.synthetic.", DT_FORMAT_SYNTHETIC}};
    for (int k = 0; k < dt_n_keys; k++)
        for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
            if (cfg->given[k] && !dt_keys[k].alias_of && cfg->data.format != sections[s].f &&
                !strncmp(dt_keys[k].name, sections[s].prefix, strlen(sections[s].prefix)))
                return fail_at(cfg, cfg->line[k], "%s does not apply to data.format %s (it is a %s option)",
                               dt_keys[k].name, fmt, dt_format_name(sections[s].f));
    if (cfg->data.slice_column[0] && cfg->data.format != DT_FORMAT_CSV)
        return fail_at(cfg, key_line(cfg, "data.slice"), "data.slice needs data.format csv, not %s", fmt);
    /* A relative data path is read, and written back, as base_dir/path: that must fit the field. */
    for (int k = 0; k < dt_n_keys; k++) {
        const dt_key *e = &dt_keys[k];
        const char *p = (const char *)cfg + e->offset;
        if (!(e->flags & DT_KF_PATH) || e->alias_of || !p[0] || p[0] == '/') continue;
        size_t n = strlen(cfg->base_dir) + 1 + strlen(p);
        if (n >= e->size)
            return fail_at(cfg, cfg->line[k], "%s is %zu characters long once made absolute (relative to %.200s); "
                           "the limit is %zu", e->name, n, cfg->base_dir, e->size - 1);
    }
    return DT_OK;
}

static int off_default(const dt_config *cfg, const char *key)
{
    int k = dt_key_find(key);
    char buf[64];
    dt_key_format(cfg, k, buf, sizeof buf);
    return strcmp(buf, dt_keys[k].def) != 0;
}

/* Keys that act only under one value of a switch (a sampler's or the
 * pruner's own keys): set to anything but their default under another value
 * they would do nothing, so that is an error.  By value, not by "given": a
 * written-out config (best.yaml) lists every key and must load back. */
static const struct { const char *key, *switch_key, *value; } owned_keys[] = {
    {"stages.tune.rounds", "stages.tune.sampler", "random"},
    {"stages.tune.top_k", "stages.tune.sampler", "random"},
    {"stages.tune.startup_trials", "stages.tune.sampler", "tpe"},
    {"stages.tune.ei_candidates", "stages.tune.sampler", "tpe"},
    {"stages.tune.multivariate", "stages.tune.sampler", "tpe"},
    {"stages.tune.reduction_factor", "stages.tune.pruner", "asha"},
    {"stages.tune.min_resource", "stages.tune.pruner", "asha"},
};

static dt_status check_owned_keys(const dt_config *cfg)
{
    for (size_t i = 0; i < sizeof owned_keys / sizeof owned_keys[0]; i++) {
        char sw[64];
        dt_key_format(cfg, dt_key_find(owned_keys[i].switch_key), sw, sizeof sw);
        if (strcmp(sw, owned_keys[i].value) == 0 || !off_default(cfg, owned_keys[i].key)) continue;
        return fail_at(cfg, key_line(cfg, owned_keys[i].key), "%s has no effect with %s %s (set %s: %s)",
                       owned_keys[i].key, owned_keys[i].switch_key, sw, owned_keys[i].switch_key, owned_keys[i].value);
    }
    return DT_OK;
}

/* Each bound or choice must be a value the key accepts: try it on a copy. */
static dt_status check_space(const dt_config *cfg)
{
    dt_config *tmp = malloc(sizeof *tmp);
    if (!tmp) return dt_fail(DT_ENOMEM, "out of memory checking stages.tune.space");
    dt_status st = DT_OK;
    for (int i = 0; i < cfg->stages.tune.n_space && st == DT_OK; i++) {
        const dt_space_param *sp = &cfg->stages.tune.space[i];
        /* A preset's layers exist once expanded (with the data): tune checks them then. */
        if (!strncmp(sp->key, "model.layers.", 13) && !cfg->model.layers_given) continue;
        *tmp = *cfg;
        if (sp->kind == DT_SPACE_CHOICE) {
            for (int c = 0; c < sp->n_choices && st == DT_OK; c++) st = dt_config_set(tmp, sp->key, sp->choices[c]);
        } else {
            double v;
            st = dt_config_get_number(tmp, sp->key, &v);
            if (st == DT_OK) st = dt_config_set_number(tmp, sp->key, sp->lo);
            if (st == DT_OK) st = dt_config_set_number(tmp, sp->key, sp->hi);
        }
        if (st != DT_OK) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", dt_last_error());
            st = fail_at(cfg, sp->line, "stages.tune.space: %s", msg);
        }
    }
    free(tmp);
    return st;
}

/* A described network leaves the preset keys nothing to do: giving both
 * would silently ignore one. */
static dt_status check_model(const dt_config *cfg)
{
    const dt_model_desc *d = &cfg->model.desc;
    if (cfg->model.arch == DT_ARCH_CUSTOM && !cfg->model.layers_given)
        return fail_at(cfg, key_line(cfg, "model.arch"), "model.arch custom needs model.layers (your network as a "
                       "list of layers, see docs/config.md)");
    if (!cfg->model.layers_given) return DT_OK;
    for (int i = 0; i < cfg->stages.tune.n_space; i++)
        if (dt_config_is_preset_key(cfg->stages.tune.space[i].key))
            return fail_at(cfg, cfg->stages.tune.space[i].line, "stages.tune.space: %s shapes a preset and has no effect "
                           "with model.layers (line %d): search a layer option instead, e.g. model.layers.NAME.units",
                           cfg->stages.tune.space[i].key, cfg->model.layers_line);
    for (int k = 0; k < dt_n_keys; k++)
        if (cfg->given[k] && dt_config_is_preset_key(dt_keys[k].name))
            return fail_at(cfg, cfg->line[k], "%s shapes a preset and has no effect with model.layers (line %d): set "
                           "the layers' own options instead", dt_keys[k].name, cfg->model.layers_line);
    /* Without data the inputs are known only when named: model.inputs, or
     * the one input `x` of single-field formats.  The rest is checked when
     * the model is built. */
    dt_input_shape in[DT_MAX_MODEL_INPUTS];
    memset(in, 0, sizeof in);
    int n = 0;
    for (int i = 0; i < d->n_inputs; i++) snprintf(in[n++].name, sizeof in[0].name, "%s", d->inputs[i].name);
    if (n == 0 && dt_data_spec_fields(&cfg->data) == 1) snprintf(in[n++].name, sizeof in[0].name, "x");
    if (n == 0) return DT_OK;
    dt_model_desc copy = *d;
    return dt_model_desc_check(&copy, in, n, cfg->path[0] ? cfg->path : "config");
}

/* The lr-find sweep needs an increasing range, a divergence factor above 1
 * and enough steps for a curve (src/stages/lr_find.c). */
static dt_status check_lr_find(const dt_config *cfg)
{
    const char *k_min = "stages.lr-find.min_lr", *k_max = "stages.lr-find.max_lr";
    if (cfg->stages.lr_find.min_lr >= cfg->stages.lr_find.max_lr)
        return fail_at(cfg, key_line(cfg, dt_config_given(cfg, k_max) ? k_max : k_min),
                       "%s (%g) must be below %s (%g)", k_min, cfg->stages.lr_find.min_lr, k_max,
                       cfg->stages.lr_find.max_lr);
    if (cfg->stages.lr_find.diverge <= 1)
        return fail_at(cfg, key_line(cfg, "stages.lr-find.diverge"),
                       "stages.lr-find.diverge must be > 1 (the sweep stops when the smoothed loss exceeds this "
                       "many times its minimum), got %g", cfg->stages.lr_find.diverge);
    if (cfg->stages.lr_find.steps < DT_LR_FIND_MIN_STEPS)
        return fail_at(cfg, key_line(cfg, "stages.lr-find.steps"),
                       "stages.lr-find.steps must be >= %d (a curve to read a suggestion from), got %d",
                       DT_LR_FIND_MIN_STEPS, cfg->stages.lr_find.steps);
    return DT_OK;
}

/* ASHA's keys: eta >= 2 (1 would promote everyone); without the pruner
 * they are checked by check_owned_keys. */
static dt_status check_pruner(const dt_config *cfg)
{
    if (cfg->stages.tune.pruner != DT_PRUNER_ASHA) return DT_OK;
    if (cfg->stages.tune.reduction_factor < 2)
        return fail_at(cfg, key_line(cfg, "stages.tune.reduction_factor"),
                       "stages.tune.reduction_factor must be >= 2 (got %d): each rung keeps the top 1/eta",
                       cfg->stages.tune.reduction_factor);
    return DT_OK;
}

dt_status dt_config_check(const dt_config *cfg)
{
    if (!dt_config_given(cfg, "data.format"))
        return fail_at(cfg, 0, "missing required key data.format (idx | csv | npy | text | synthetic)");
    dt_status st = check_sources(cfg);
    if (st != DT_OK) return st;
    if ((st = dt_check_fields(cfg, fail_at)) != DT_OK) return st;
    if (cfg->loss == DT_LOSS_CROSS_ENTROPY && cfg->data.task == DT_TASK_REGRESSION)
        return fail_at(cfg, key_line(cfg, "loss"), "loss cross_entropy needs task classification (use loss: mse)");
    if (cfg->data.format == DT_FORMAT_TEXT && cfg->data.task == DT_TASK_REGRESSION)
        return fail_at(cfg, key_line(cfg, "task"), "data.format text is next-character classification");
    if (cfg->data.task == DT_TASK_CLASSIFICATION && dt_config_given(cfg, "data.standardize_targets"))
        return fail_at(cfg, key_line(cfg, "data.standardize_targets"),
                       "data.standardize_targets applies to task regression (class labels are not scaled)");
    if ((st = check_pruner(cfg)) != DT_OK) return st;
    st = check_model(cfg);
    if (st != DT_OK) return st;
    if (cfg->train.nesterov && cfg->train.momentum == 0 && cfg->train.optimizer == DT_OPT_SGD)
        return fail_at(cfg, key_line(cfg, "train.nesterov"), "train.nesterov needs train.momentum > 0");
    if ((st = check_lr_find(cfg)) != DT_OK) return st;
    st = check_owned_keys(cfg);
    if (st != DT_OK) return st;
    return check_space(cfg);
}

/* One data file: it must exist and be a regular file (a directory would
 * otherwise fail deep inside a reader as "corrupt gzip stream"). */
static dt_status check_file(const dt_config *cfg, const char *key, const char *path, int line)
{
    char full[2100];
    if (path[0] == '/') snprintf(full, sizeof full, "%s", path);
    else snprintf(full, sizeof full, "%s/%s", cfg->base_dir, path);
    struct stat sb;
    const char *src = cfg->path[0] ? cfg->path : "config";
    if (stat(full, &sb) != 0)
        return line > 0 ? dt_fail(DT_EDATA, "%s:%d: %s: %s: %s", src, line, key, full, strerror(errno))
                        : dt_fail(DT_EDATA, "%s: %s: %s: %s", src, key, full, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return line > 0 ? dt_fail(DT_EDATA, "%s:%d: %s: %s is %s, not a file", src, line, key, full,
                                  S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file")
                        : dt_fail(DT_EDATA, "%s: %s: %s is %s, not a file", src, key, full,
                                  S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
    return DT_OK;
}

dt_status dt_config_check_files(const dt_config *cfg)
{
    for (int k = 0; k < dt_n_keys; k++) {
        const dt_key *e = &dt_keys[k];
        const char *p = (const char *)cfg + e->offset;
        if (!(e->flags & DT_KF_PATH) || e->alias_of || !cfg->given[k] || !p[0]) continue;
        dt_status st = check_file(cfg, e->name, p, cfg->line[k]);
        if (st) return st;
    }
    for (int s = 0; s < 2; s++) {
        const dt_source_spec *src = s ? &cfg->data.test : &cfg->data.train;
        for (int i = 0; i < src->n_fields; i++) {
            char key[96];
            snprintf(key, sizeof key, "data.%s.x.%s", s ? "test" : "train", src->fields[i].name);
            dt_status st = check_file(cfg, key, src->fields[i].path, src->fields[i].line);
            if (st) return st;
        }
    }
    return DT_OK;
}
