/* YAML -> dt_config.  libyaml builds the document (so every node keeps its
 * line); this file walks mappings into dotted keys and hands each leaf to
 * the key table, or to the map-valued keys (gates, stages.tune.space). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "internal.h"
#include "layers_config.h"
#include "parse.h"

#define WHERE_LEN 1200

static void where_at(const dt_parse_ctx *p, int line, char *buf)
{
    if (line > 0) snprintf(buf, WHERE_LEN, "%s:%d", p->source, line);
    else snprintf(buf, WHERE_LEN, "%s", p->source);
}

dt_status dt_parse_fail(const dt_parse_ctx *p, int line, const char *fmt, ...)
{
    char where[WHERE_LEN], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    where_at(p, line, where);
    return dt_fail(DT_ECONFIG, "%s: %s", where, msg);
}

int dt_node_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

int dt_node_is_null(const yaml_node_t *n)
{
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static dt_status unknown_key(const dt_parse_ctx *p, const char *key, int line)
{
    /* Format options given per split: they are set once, for both. */
    static const char *const once[][2] = {{"header", "data.csv.header"},   {"label", "data.csv.label"},
                                          {"delimiter", "data.csv.delimiter"}, {"skip_rows", "data.csv.skip_rows"},
                                          {"seq_len", "data.text.seq_len"}};
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "data.test." : "data.train.";
        if (strncmp(key, split, strlen(split))) continue;
        for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
            if (!strcmp(key + strlen(split), once[i][0]))
                return dt_parse_fail(p, line, "unknown key '%s': format options are set once for both splits: %s", key,
                                     once[i][1]);
    }
    const char *s = dt_config_suggest_key(key);
    if (s) return dt_parse_fail(p, line, "unknown key '%s' (did you mean '%s'?)", key, s);
    return dt_parse_fail(p, line, "unknown key '%s'", key);
}

static dt_status set_leaf(dt_parse_ctx *p, int k, yaml_node_t *node, int line)
{
    char where[WHERE_LEN];
    const dt_key *e = &dt_keys[k];
    int c = dt_key_canonical(k);
    dt_status st;
    where_at(p, line, where);
    if (p->from_file && p->seen[c])
        return dt_parse_fail(p, line, "%s is given twice (first on line %d)", e->name, p->cfg->line[c]);
    if (node && node->type == YAML_SEQUENCE_NODE && e->type == DT_KT_INTLIST) {
        long v[DT_MAX_SUBSET_CLASSES + 1];
        int n = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(p->doc, *it);
            long long x;
            if (n > DT_MAX_SUBSET_CLASSES) break;
            if (item->type != YAML_SCALAR_NODE || !dt_parse_long((const char *)item->data.scalar.value, &x) ||
                x < LONG_MIN || x > LONG_MAX)
                return dt_parse_fail(p, dt_node_line(item), "%s must be a list of integers", e->name);
            v[n++] = (long)x;
        }
        st = dt_key_set_intlist(p->cfg, k, v, n, where);
    } else if (node && node->type == YAML_SEQUENCE_NODE && e->type == DT_KT_STRLIST) {
        const char *v[DT_MAX_CLASS_NAMES + 1];
        int n = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(p->doc, *it);
            if (n > DT_MAX_CLASS_NAMES) break;
            if (item->type != YAML_SCALAR_NODE)
                return dt_parse_fail(p, dt_node_line(item), "%s must be a list of names", e->name);
            v[n++] = (const char *)item->data.scalar.value;
        }
        st = dt_key_set_strlist(p->cfg, k, v, n, where);
    } else if (dt_node_is_null(node) && (e->flags & DT_KF_OPTIONAL)) {
        p->cfg->given[c] = 0;        /* explicit null: back to "not given" */
        return DT_OK;
    } else if (node && node->type == YAML_SCALAR_NODE) {
        int quoted = node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        st = dt_key_set_scalar(p->cfg, k, (const char *)node->data.scalar.value, quoted, where);
    } else if (!node) {
        st = dt_key_set_scalar(p->cfg, k, "", 0, where);
    } else {
        return dt_parse_fail(p, line, "%s must be %s, not a %s", e->name,
                             e->type == DT_KT_INTLIST || e->type == DT_KT_STRLIST ? "a list" : "a single value",
                             node->type == YAML_MAPPING_NODE ? "mapping" : "list");
    }
    if (st != DT_OK) return st;
    p->cfg->given[c] = 1;
    p->cfg->line[c] = line;
    p->seen[c] = 1;
    /* A preset key changed: an expanded preset is stale until re-expanded. */
    if (!p->cfg->model.layers_given && dt_config_is_preset_key(dt_keys[c].name)) p->cfg->model.desc.n_layers = 0;
    return DT_OK;
}

dt_status dt_parse_mapping(dt_parse_ctx *p, yaml_node_t *map, const char *prefix, int line,
                           dt_status (*each)(dt_parse_ctx *, const char *, yaml_node_t *, int))
{
    if (dt_node_is_null(map)) return DT_OK;   /* "decompose:" with nothing under it */
    if (map->type != YAML_MAPPING_NODE)
        return dt_parse_fail(p, line, "'%s' must be a mapping of keys", prefix[0] ? prefix : "the config");
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pr->value);
        char key[512];
        if (--p->budget < 0)
            return dt_parse_fail(p, dt_node_line(kn), "YAML aliases repeat mappings too often (more entries than "
                                 "the document holds)");
        if (kn->type != YAML_SCALAR_NODE) return dt_parse_fail(p, dt_node_line(kn), "keys must be plain names");
        int n = snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", (const char *)kn->data.scalar.value);
        if (n >= (int)sizeof key) return dt_parse_fail(p, dt_node_line(kn), "key too long");
        dt_status st = each(p, key, vn, dt_node_line(kn));
        if (st != DT_OK) return st;
    }
    return DT_OK;
}

static int has_prefix(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || s[n] != '.' || !s[n + 1]) return 0;
    *rest = s + n + 1;
    return 1;
}

/* Applies one dotted key and its YAML value. */
dt_status dt_parse_apply(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line)
{
    const char *rest;
    if (strcmp(key, "gates") == 0) return dt_parse_mapping(p, node, key, line, dt_parse_gate_entry);
    if (has_prefix(key, "gates", &rest)) return dt_parse_gate_entry(p, key, node, line);
    if (strcmp(key, "stages.tune.space") == 0) return dt_parse_mapping(p, node, key, line, dt_parse_space_entry);
    if (has_prefix(key, "stages.tune.space", &rest)) return dt_parse_space_entry(p, key, node, line);
    if (strcmp(key, "model.layers") == 0) return dt_parse_layers(p, node, line);
    if (has_prefix(key, "model.layers", &rest)) return dt_parse_layer_option(p, key, node, line);
    if (strcmp(key, "model.inputs") == 0) return dt_parse_inputs(p, node, line);
    int handled;
    dt_status fst = dt_parse_fields(p, key, node, line, &handled);   /* npy x maps (fields.c) */
    if (handled) return fst;
    int k = dt_key_find(key);
    if (k >= 0) return set_leaf(p, k, node, line);
    if (dt_key_is_section(key)) return dt_parse_mapping(p, node, key, line, dt_parse_apply);
    return unknown_key(p, key, line);
}

static dt_status yaml_error(const dt_parse_ctx *p, const yaml_parser_t *y)
{
    int line = (int)y->problem_mark.line + 1;
    if (y->context)
        return dt_parse_fail(p, line, "invalid YAML: %s %s (started on line %d)", y->problem ? y->problem : "error",
                             y->context, (int)y->context_mark.line + 1);
    return dt_parse_fail(p, line, "invalid YAML: %s", y->problem ? y->problem : "parse error");
}

/* Loads one YAML document from text and calls fn with its root node (NULL when empty). */
dt_status dt_parse_text(dt_parse_ctx *p, const char *text, size_t len,
                        dt_status (*fn)(dt_parse_ctx *, yaml_node_t *, void *), void *arg)
{
    yaml_parser_t y;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&y)) return dt_fail(DT_ENOMEM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
    if (!yaml_parser_load(&y, &doc)) {
        dt_status st = yaml_error(p, &y);
        yaml_parser_delete(&y);
        return st;
    }
    /* An alias names a mapping again without repeating its text, so a small
     * file could make the walk quadratic: visit about as many entries as the
     * document holds. */
    p->budget = 1024;
    for (yaml_node_t *n = doc.nodes.start; n < doc.nodes.top; n++)
        if (n->type == YAML_MAPPING_NODE) p->budget += n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    p->doc = &doc;
    dt_status st = fn(p, yaml_document_get_root_node(&doc), arg);
    p->doc = NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&y);
    return st;
}

static dt_status apply_root(dt_parse_ctx *p, yaml_node_t *root, void *arg)
{
    return dt_parse_mapping(p, root, "", 1, dt_parse_apply);
}

static dt_status apply_value(dt_parse_ctx *p, yaml_node_t *root, void *key)
{
    return dt_parse_apply(p, key, root, 0);
}

dt_status dt_config_parse_string(dt_config *cfg, const char *yaml, size_t len, const char *source,
                                 const char *base_dir)
{
    dt_parse_ctx p = {.cfg = cfg, .source = source, .from_file = 1};
    if (base_dir) snprintf(cfg->base_dir, sizeof cfg->base_dir, "%s", base_dir);
    if (source != cfg->path) snprintf(cfg->path, sizeof cfg->path, "%.1023s", source);   /* later checks name it */
    dt_status st = dt_parse_text(&p, yaml, len, apply_root, NULL);
    dt_config_sync(cfg);
    return st;
}

dt_status dt_config_set(dt_config *cfg, const char *key, const char *value)
{
    char source[600];
    snprintf(source, sizeof source, "--set %.500s", key);
    dt_parse_ctx p = {.cfg = cfg, .source = source, .from_file = 0};
    dt_status st = dt_parse_text(&p, value, strlen(value), apply_value, (void *)key);
    dt_config_sync(cfg);
    return st;
}

dt_status dt_config_set_number(dt_config *cfg, const char *key, double v)
{
    char buf[64];
    dt_format_double(v, buf, sizeof buf);
    return dt_config_set(cfg, key, buf);
}

static dt_status read_text(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return dt_fail(DT_ECONFIG, "cannot open config file '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *b = realloc(buf, cap *= 2);
        if (!b) { free(buf); buf = NULL; }
        else buf = b;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return dt_fail(DT_ENOMEM, "out of memory reading '%s'", path);
    if (err) { free(buf); return dt_fail(DT_ECONFIG, "cannot read config file '%s'", path); }
    *out = buf;
    *len = n;
    return DT_OK;
}

/* Absolute folder of path, so data paths keep working after a chdir. */
static void config_dir(const char *path, char *dir, size_t size)
{
    char tmp[1024], abs[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash == tmp) tmp[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(tmp, sizeof tmp, ".");
    if (realpath(tmp, abs)) snprintf(dir, size, "%.1023s", abs);
    else snprintf(dir, size, "%s", tmp);
}

static void name_from_path(dt_config *cfg, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n == 0 || n >= sizeof cfg->name) return;
    memcpy(cfg->name, base, n);
    cfg->name[n] = '\0';
}

dt_status dt_config_load(const char *path, dt_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    char dir[1024];
    dt_config_defaults(cfg);
    dt_status st = read_text(path, &text, &len);
    if (st != DT_OK) return st;
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    config_dir(path, dir, sizeof dir);
    st = dt_config_parse_string(cfg, text, len, path, dir);
    free(text);
    if (st != DT_OK) return st;
    if (!dt_config_given(cfg, "name")) name_from_path(cfg, path);
    return dt_config_check(cfg);
}
