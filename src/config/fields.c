/* npy `x` as a map of named fields, the one data key whose value may be a
 * mapping:
 *   data.train.x: {image: a.npy, caption: b.npy}
 *   data.train.x: {image: a.npy, feats: {path: f.npy, modality: sequence}}
 *   data.train.x.image: a.npy                      (dotted, one field)
 * The map lives in dt_data_spec (train.fields / test.fields); the key
 * data.train.x (or data.test.x) is marked given on the map's line, and its
 * string value stays "".  Parse (with errors naming the line), the checks
 * that need both maps, JSON/YAML output and formatting are here. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "dnntrouble/names.h"
#include "parse.h"

/* Which source a key's value belongs to: the canonical key data.train.x
 * (also spelt data.npy.x) or data.test.x.  NULL when it is neither. */
static dt_source_spec *source_of(dt_config *cfg, int k, const char **canon)
{
    if (k < 0) return NULL;
    const char *name = dt_keys[dt_key_canonical(k)].name;
    if (canon) *canon = name;
    if (!strcmp(name, "data.train.x")) return &cfg->data.train;
    if (!strcmp(name, "data.test.x")) return &cfg->data.test;
    return NULL;
}

/* Splits "data.train.x.image.path" into the x key (k) and "image.path". */
static int split_field_key(const char *key, int *k, const char **rest)
{
    static const char *const roots[] = {"data.train.x", "data.test.x", "data.npy.x"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(roots[i]);
        if (!strncmp(key, roots[i], n) && key[n] == '.' && key[n + 1]) {
            *k = dt_key_find(roots[i]);
            *rest = key + n + 1;
            return 1;
        }
    }
    return 0;
}

static dt_status parse_modality(dt_parse_ctx *p, const char *key, yaml_node_t *n, dt_modality *out)
{
    const char *v = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
    for (int m = DT_MODALITY_AUTO; m <= DT_MODALITY_TABULAR; m++)
        if (!strcmp(v, dt_modality_name((dt_modality)m))) { *out = (dt_modality)m; return DT_OK; }
    return dt_parse_fail(p, n ? dt_node_line(n) : 0, "%s must be auto | image | sequence | tabular, got '%s'", key,
                         n && n->type == YAML_SCALAR_NODE ? v : "a mapping or list");
}

static dt_status set_path(dt_parse_ctx *p, const char *key, yaml_node_t *n, int line, dt_field_spec *f)
{
    if (!n || n->type != YAML_SCALAR_NODE || dt_node_is_null(n))
        return dt_parse_fail(p, n ? dt_node_line(n) : line, "%s must be a file name", key);
    char expanded[2048], where[1300];
    snprintf(where, sizeof where, "%s:%d", p->source, line);
    if (dt_expand_env((const char *)n->data.scalar.value, expanded, sizeof expanded, key, where)) return DT_ECONFIG;
    const char *v = expanded;
    if (strlen(v) >= sizeof f->path)
        return dt_parse_fail(p, line, "%s is longer than %zu characters", key, sizeof f->path - 1);
    snprintf(f->path, sizeof f->path, "%s", v);
    return DT_OK;
}

/* One option of a field given as a mapping ({path: f.npy, modality: sequence}). */
static dt_status field_option(dt_parse_ctx *p, const char *xkey, dt_field_spec *f, const char *opt, yaml_node_t *n,
                              int line)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s.%s", xkey, f->name, opt);
    if (!strcmp(opt, "path")) return set_path(p, key, n, line, f);
    if (!strcmp(opt, "modality")) return parse_modality(p, key, n, &f->modality);
    const char *near = dt_edit_distance(opt, "path") <= 2 ? "path" : dt_edit_distance(opt, "modality") <= 3 ? "modality" : NULL;
    if (near) return dt_parse_fail(p, line, "unknown key '%s' (did you mean '%s.%s.%s'?)", key, xkey, f->name, near);
    return dt_parse_fail(p, line, "unknown key '%s' (a field takes path and modality)", key);
}

/* Sets field `name` of the map from its YAML value (a file, or a mapping of
 * options); `opt` non-NULL sets one option (the dotted form name.opt). */
static dt_status set_field(dt_parse_ctx *p, dt_source_spec *ss, const char *xkey, const char *name, const char *opt,
                           yaml_node_t *n, int line, int replace)
{
    if (!dt_is_identifier(name) || strlen(name) >= DT_FIELD_NAME_LEN)
        return dt_parse_fail(p, line, "%s: field name '%s' must be an identifier (letters, digits and _, not starting "
                             "with a digit) of at most %d characters", xkey, name, DT_FIELD_NAME_LEN - 1);
    dt_field_spec *f = NULL;
    for (int i = 0; i < ss->n_fields; i++)
        if (!strcmp(ss->fields[i].name, name)) f = &ss->fields[i];
    if (f && !replace && !opt)
        return dt_parse_fail(p, line, "%s: field '%s' is given twice (first on line %d)", xkey, name, f->line);
    if (!f) {
        if (ss->n_fields >= DT_MAX_FIELDS) return dt_parse_fail(p, line, "%s: more than %d fields", xkey, DT_MAX_FIELDS);
        f = &ss->fields[ss->n_fields++];
        memset(f, 0, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", name);
    }
    f->line = line;
    if (opt) return field_option(p, xkey, f, opt, n, line);
    if (n && n->type == YAML_MAPPING_NODE) {
        f->path[0] = '\0';
        f->modality = DT_MODALITY_AUTO;
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key), *vn = yaml_document_get_node(p->doc, pr->value);
            if (--p->budget < 0)
                return dt_parse_fail(p, dt_node_line(kn), "YAML aliases repeat mappings too often (more entries than "
                                     "the document holds)");
            if (kn->type != YAML_SCALAR_NODE) return dt_parse_fail(p, dt_node_line(kn), "keys must be plain names");
            dt_status st = field_option(p, xkey, f, (const char *)kn->data.scalar.value, vn, dt_node_line(kn));
            if (st) return st;
        }
        if (!f->path[0]) return dt_parse_fail(p, line, "%s.%s needs a path", xkey, name);
        return DT_OK;
    }
    char key[256];
    snprintf(key, sizeof key, "%s.%s", xkey, name);
    f->modality = DT_MODALITY_AUTO;
    return set_path(p, key, n, line, f);
}

/* The x key is given once, by a map (here) or by a file (set_leaf). */
static dt_status mark_given(dt_parse_ctx *p, int k, const char *canon, int line, int first)
{
    int c = dt_key_canonical(k);
    if (first && p->from_file && p->seen[c])
        return dt_parse_fail(p, line, "%s is given twice (first on line %d)", canon, p->cfg->line[c]);
    p->cfg->given[c] = 1;
    p->cfg->line[c] = line;
    p->seen[c] = 1;
    return DT_OK;
}

dt_status dt_parse_fields(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line, int *handled)
{
    int k;
    const char *rest, *canon = "data.train.x";
    *handled = 1;
    if (split_field_key(key, &k, &rest)) {
        /* Dotted: data.train.x.NAME or data.train.x.NAME.OPTION. */
        dt_source_spec *ss = source_of(p->cfg, k, &canon);
        char name[128];
        const char *dot = strchr(rest, '.');
        size_t n = dot ? (size_t)(dot - rest) : strlen(rest);
        if (n >= sizeof name) return dt_parse_fail(p, line, "%s: field name '%s' is too long", canon, rest);
        memcpy(name, rest, n);
        name[n] = '\0';
        int c = dt_key_canonical(k);
        if (ss->x[0]) {   /* a single file before: the map replaces it */
            if (p->from_file) return dt_parse_fail(p, line, "%s is given twice (first on line %d)", canon, p->cfg->line[c]);
            memset(ss->x, 0, sizeof ss->x);
        }
        dt_status st = set_field(p, ss, canon, name, dot ? dot + 1 : NULL, node, line, !p->from_file);
        if (st) return st;
        return mark_given(p, k, canon, p->cfg->line[c] && p->seen[c] ? p->cfg->line[c] : line, 0);
    }
    k = dt_key_find(key);
    dt_source_spec *ss = source_of(p->cfg, k, &canon);
    if (!ss) {
        *handled = 0;
        return DT_OK;
    }
    if (!node || node->type != YAML_MAPPING_NODE) {
        /* A single file (or null): set_leaf takes it; a map given before is dropped. */
        if (!(p->from_file && p->seen[dt_key_canonical(k)])) {
            ss->n_fields = 0;
            memset(ss->fields, 0, sizeof ss->fields);   /* equal configs stay equal byte for byte */
        }
        *handled = 0;
        return DT_OK;
    }
    dt_status st = mark_given(p, k, canon, line, 1);
    if (st) return st;
    memset(ss->x, 0, sizeof ss->x);
    ss->n_fields = 0;
    memset(ss->fields, 0, sizeof ss->fields);
    if (node->data.mapping.pairs.top == node->data.mapping.pairs.start)
        return dt_parse_fail(p, line, "%s: an empty map names no fields (give {NAME: FILE.npy, ...} or one file)", canon);
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key), *vn = yaml_document_get_node(p->doc, pr->value);
        if (--p->budget < 0)
            return dt_parse_fail(p, dt_node_line(kn), "YAML aliases repeat mappings too often (more entries than the "
                                 "document holds)");
        if (kn->type != YAML_SCALAR_NODE) return dt_parse_fail(p, dt_node_line(kn), "%s: field names must be plain names", canon);
        if ((st = set_field(p, ss, canon, (const char *)kn->data.scalar.value, NULL, vn, dt_node_line(kn), 0))) return st;
    }
    return DT_OK;
}

/* ---------------------------------------------------------------- checks */

static void names_of(const dt_source_spec *ss, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < ss->n_fields && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", ss->fields[i].name);
}

static int find_field(const dt_source_spec *ss, const char *name)
{
    for (int i = 0; i < ss->n_fields; i++)
        if (!strcmp(ss->fields[i].name, name)) return i;
    return -1;
}

dt_status dt_check_fields(const dt_config *cfg, dt_status (*fail)(const dt_config *, int, const char *, ...))
{
    const dt_data_spec *d = &cfg->data;
    int kx = dt_key_canonical(dt_key_find("data.train.x")), kt = dt_key_find("data.test.x");
    int kf = dt_key_find("data.format"), km = dt_key_find("data.modality");
    char names[DT_MAX_FIELDS * DT_FIELD_NAME_LEN + 16];
    int maps = d->train.n_fields || d->test.n_fields;
    int pairs = d->format == DT_FORMAT_SYNTHETIC && d->generator == DT_GEN_PAIRS;
    if (maps && d->format != DT_FORMAT_NPY)
        return fail(cfg, cfg->line[d->train.n_fields ? kx : kt], "data.%s.x as a map of fields needs data.format npy, "
                    "not %s", d->train.n_fields ? "train" : "test", dt_format_name(d->format));
    if ((maps || pairs) && d->modality != DT_MODALITY_AUTO)
        return fail(cfg, cfg->line[km], "data.modality must be auto for data with named fields (%s); a field's "
                    "modality is data.train.x.NAME.modality", pairs ? "the pairs generator" : "data.train.x is a map");
    if (!maps || d->format != DT_FORMAT_NPY) return DT_OK;
    if (!d->train.n_fields)
        return fail(cfg, cfg->line[kx] ? cfg->line[kx] : cfg->line[kt],
                    "data.test.x is a map of fields, so data.train.x must be one too");
    if (d->test.present && !d->test.n_fields)
        return fail(cfg, cfg->line[kt] ? cfg->line[kt] : cfg->line[kf],
                    "data.train.x is a map of fields, so data.test.x must be one too (the same fields)");
    names_of(&d->train, names, sizeof names);
    for (int i = 0; d->test.present && i < d->test.n_fields; i++) {
        const dt_field_spec *f = &d->test.fields[i];
        if (find_field(&d->train, f->name) >= 0) continue;
        const char *near = NULL;
        for (int j = 0; j < d->train.n_fields; j++)
            if (dt_edit_distance(f->name, d->train.fields[j].name) <= 2) near = d->train.fields[j].name;
        if (near)
            return fail(cfg, f->line, "data.test.x: unknown field '%s' (did you mean '%s'?)", f->name, near);
        return fail(cfg, f->line, "data.test.x: unknown field '%s' (data.train.x has %s)", f->name, names);
    }
    for (int i = 0; d->test.present && i < d->train.n_fields; i++)
        if (find_field(&d->test, d->train.fields[i].name) < 0)
            return fail(cfg, cfg->line[kt], "data.test.x lacks field '%s' of data.train.x", d->train.fields[i].name);
    /* A relative path is read, and written back, as base_dir/path: it must fit. */
    for (int s = 0; s < 2; s++) {
        const dt_source_spec *ss = s ? &d->test : &d->train;
        for (int i = 0; i < ss->n_fields; i++) {
            const char *pth = ss->fields[i].path;
            if (pth[0] == '/') continue;
            size_t n = strlen(cfg->base_dir) + 1 + strlen(pth);
            if (n >= sizeof ss->fields[i].path)
                return fail(cfg, ss->fields[i].line, "data.%s.x.%s is %zu characters long once made absolute "
                            "(relative to %.200s); the limit is %zu", s ? "test" : "train", ss->fields[i].name, n,
                            cfg->base_dir, sizeof ss->fields[i].path - 1);
        }
    }
    return DT_OK;
}

/* ---------------------------------------------------------------- output */

cJSON *dt_fields_json(const dt_config *cfg, int k, int absolute)
{
    const dt_source_spec *ss = source_of((dt_config *)cfg, k, NULL);
    if (!ss || !ss->n_fields) return NULL;
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < ss->n_fields; i++) {
        const dt_field_spec *f = &ss->fields[i];
        char buf[2100];
        if (absolute && f->path[0] != '/') snprintf(buf, sizeof buf, "%s/%s", cfg->base_dir, f->path);
        else snprintf(buf, sizeof buf, "%s", f->path);
        if (f->modality == DT_MODALITY_AUTO) {
            cJSON_AddStringToObject(o, f->name, buf);
        } else {
            cJSON *e = cJSON_AddObjectToObject(o, f->name);
            cJSON_AddStringToObject(e, "path", buf);
            cJSON_AddStringToObject(e, "modality", dt_modality_name(f->modality));
        }
    }
    return o;
}

int dt_fields_format(const dt_config *cfg, int k, char *buf, size_t size)
{
    cJSON *o = dt_fields_json(cfg, k, 0);
    if (!o) return 0;
    /* A flow mapping, as a user would write it: {image: a.npy, caption: b.npy}. */
    size_t n = (size_t)snprintf(buf, size, "{");
    for (const cJSON *c = o->child; c && n < size; c = c->next) {
        if (cJSON_IsString(c))
            n += (size_t)snprintf(buf + n, size - n, "%s%s: %s", c == o->child ? "" : ", ", c->string, c->valuestring);
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%s: {path: %s, modality: %s}", c == o->child ? "" : ", ",
                                  c->string, cJSON_GetObjectItem(c, "path")->valuestring,
                                  cJSON_GetObjectItem(c, "modality")->valuestring);
    }
    if (n < size) snprintf(buf + n, size - n, "}");
    cJSON_Delete(o);
    return 1;
}
