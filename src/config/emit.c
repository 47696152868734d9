/* dt_config -> JSON (the resolved config in every report) and -> YAML
 * (best.yaml).  Both walk the key table; YAML is emitted from the JSON tree
 * by libyaml so quoting is always right. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "dnntrouble/report.h"
#include "internal.h"
#include "layers_config.h"

/* The object that holds the last part of a dotted key, created as needed. */
static cJSON *parent_of(cJSON *root, const char *key, const char **leaf)
{
    char part[128];
    const char *dot;
    while ((dot = strchr(key, '.')) != NULL) {
        size_t n = (size_t)(dot - key) < sizeof part - 1 ? (size_t)(dot - key) : sizeof part - 1;
        memcpy(part, key, n);
        part[n] = '\0';
        cJSON *child = cJSON_GetObjectItemCaseSensitive(root, part);
        if (!child) child = cJSON_AddObjectToObject(root, part);
        if (!child) return NULL;
        root = child;
        key = dot + 1;
    }
    *leaf = key;
    return root;
}

/* A YAML scalar (a tune choice) as JSON: a number or boolean when it is
 * written back as the same text, else a string, so the choice reads back
 * unchanged ("y" or "01" must not come back as true or 1). */
static cJSON *scalar_json(const char *s)
{
    double d;
    char num[64];
    if (dt_parse_double(s, &d)) {
        dt_format_double(d, num, sizeof num);
        if (strcmp(num, s) == 0) return cJSON_CreateNumber(d);
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) return cJSON_CreateBool(s[0] == 't');
    return cJSON_CreateString(s);
}

static cJSON *key_json(const dt_config *cfg, int k)
{
    const dt_key *e = &dt_keys[k];
    const char *p = (const char *)cfg + e->offset;
    char buf[2100];
    cJSON *fields = dt_fields_json(cfg, k, 1);   /* npy x as a map of fields */
    if (fields) return fields;
    switch (e->type) {
    case DT_KT_INT:
    case DT_KT_SIZE:
    case DT_KT_U64:
    case DT_KT_DOUBLE: {
        double v;
        dt_config_get_number(cfg, e->name, &v);
        /* From 2^53 a double rounds integers (a seed would change): write the digits. */
        if (e->type != DT_KT_DOUBLE && v >= 9007199254740992.0) {
            dt_key_format(cfg, k, buf, sizeof buf);
            return cJSON_CreateRaw(buf);
        }
        return cJSON_CreateNumber(v);
    }
    case DT_KT_BOOL: return cJSON_CreateBool(*(const int *)p);
    case DT_KT_LABEL:
        if (!cfg->data.csv_label_name[0]) return cJSON_CreateNumber(cfg->data.csv_label_index);
        return cJSON_CreateString(cfg->data.csv_label_name);
    case DT_KT_INTLIST: return cJSON_CreateIntArray(cfg->data.subset_classes, cfg->data.n_subset_classes);
    case DT_KT_STRLIST: {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < cfg->data.n_class_names; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(dt_data_spec_class_name(&cfg->data, i)));
        return a;
    }
    case DT_KT_STR:
        /* Resolved means resolved: data paths are shown as read (absolute). */
        if ((e->flags & DT_KF_PATH) && p[0] && p[0] != '/') {
            snprintf(buf, sizeof buf, "%s/%s", cfg->base_dir, p);
            return cJSON_CreateString(buf);
        }
        return cJSON_CreateString(p);
    default: dt_key_format(cfg, k, buf, sizeof buf); return cJSON_CreateString(buf);
    }
}

static cJSON *space_json(const dt_space_param *sp)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, dt_space_kind_name(sp->kind));
    if (sp->kind == DT_SPACE_CHOICE) {
        for (int c = 0; c < sp->n_choices; c++) cJSON_AddItemToArray(a, scalar_json(sp->choices[c]));
    } else {
        cJSON_AddItemToArray(a, cJSON_CreateNumber(sp->lo));
        cJSON_AddItemToArray(a, cJSON_CreateNumber(sp->hi));
    }
    return o;
}

static void add_maps(cJSON *root, const dt_config *cfg)
{
    const char *leaf = NULL;
    if (cfg->stages.tune.n_space) {
        cJSON *tune = parent_of(root, "stages.tune.space", &leaf);
        cJSON *space = cJSON_AddObjectToObject(tune, leaf);
        for (int i = 0; i < cfg->stages.tune.n_space; i++)
            cJSON_AddItemToObject(space, cfg->stages.tune.space[i].key, space_json(&cfg->stages.tune.space[i]));
    }
    if (cfg->n_gates) {
        cJSON *gates = cJSON_AddObjectToObject(root, "gates");
        for (int i = 0; i < cfg->n_gates; i++) {
            const dt_gate *g = &cfg->gates[i];
            if (g->kind == DT_GATE_STAGE) {
                cJSON_AddStringToObject(gates, g->name, dt_verdict_name(g->worst));
            } else {
                cJSON *o = cJSON_AddObjectToObject(gates, g->name);
                cJSON_AddNumberToObject(o, g->kind == DT_GATE_MAX ? "max" : "min", g->limit);
            }
        }
    }
}

/* Keys that only shape a preset: once the layers are written out they say
 * nothing more (and a file giving both is refused, check.c). */
static const char *const preset_keys[] = {"model.hidden", "model.depth", "model.batch_norm", "model.activation",
                                          "model.output_activation", "train.dropout", NULL};

int dt_config_is_preset_key(const char *key)
{
    for (int i = 0; preset_keys[i]; i++)
        if (strcmp(preset_keys[i], key) == 0) return 1;
    return 0;
}

/* data.csv.*, data.text.*, data.synthetic.* belong to one format each, and
 * data.standardize_targets to regression; the ASHA keys to pruner asha. */
static int other_format(const dt_config *cfg, const char *key)
{
    if (!strcmp(key, "data.standardize_targets")) return cfg->data.task != DT_TASK_REGRESSION;
    /* ASHA's keys without the pruner: giving them is an error (check.c). */
    if (!strcmp(key, "stages.tune.reduction_factor") || !strcmp(key, "stages.tune.min_resource"))
        return cfg->stages.tune.pruner != DT_PRUNER_ASHA;
    static const struct { const char *prefix; dt_format f; } sections[] = {
        {"data.csv.", DT_FORMAT_CSV}, {"data.text.", DT_FORMAT_TEXT}, {"data.synthetic.", DT_FORMAT_SYNTHETIC}};
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
        if (!strncmp(key, sections[s].prefix, strlen(sections[s].prefix))) return cfg->data.format != sections[s].f;
    return 0;
}

static void add_model(cJSON *root, const dt_config *cfg)
{
    const dt_model_desc *d = &cfg->model.desc;
    const char *leaf;
    cJSON *model = parent_of(root, "model.x", &leaf);
    if (!model) return;
    if (d->n_inputs) cJSON_AddItemToObject(model, "inputs", dt_model_desc_inputs_json(d));
    if (d->n_layers) cJSON_AddItemToObject(model, "layers", dt_model_desc_layers_json(d));
}

static cJSON *config_json(const dt_config *cfg, int for_yaml)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *defaulted = for_yaml ? NULL : cJSON_CreateArray();
    int has_layers = cfg->model.desc.n_layers > 0;
    for (int k = 0; k < dt_n_keys; k++) {
        const dt_key *e = &dt_keys[k];
        const char *leaf;
        if (e->alias_of) continue;
        if (for_yaml && has_layers && dt_config_is_preset_key(e->name)) continue;
        if (other_format(cfg, e->name)) continue;   /* another format's options say nothing */
        int given = cfg->given[k];
        cJSON *v;
        if (has_layers && cfg->model.arch == DT_ARCH_AUTO && strcmp(e->name, "model.arch") == 0) {
            v = cJSON_CreateString(dt_arch_name(DT_ARCH_CUSTOM));   /* auto chose a fusion network */
        } else if ((e->flags & DT_KF_OPTIONAL) && !given) {
            if (for_yaml || (e->flags & DT_KF_PATH)) continue;   /* unused data files are noise */
            v = cJSON_CreateNull();
        } else {
            v = key_json(cfg, k);
        }
        if (!given && !(e->flags & DT_KF_OPTIONAL) && defaulted) cJSON_AddItemToArray(defaulted, cJSON_CreateString(e->name));
        cJSON *parent = parent_of(root, e->name, &leaf);
        if (!parent || !v) { cJSON_Delete(v); continue; }
        cJSON_AddItemToObject(parent, leaf, v);
    }
    add_model(root, cfg);
    add_maps(root, cfg);
    if (defaulted) cJSON_AddItemToObject(root, "defaulted", defaulted);
    return root;
}

cJSON *dt_config_to_json(const dt_config *cfg) { return config_json(cfg, 0); }

/* ------------------------------------------------------------------ YAML */

typedef struct { char *buf; size_t len, cap; int oom; } sink;

static int sink_write(void *data, unsigned char *bytes, size_t n)
{
    sink *s = data;
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *b = realloc(s->buf, cap);
        if (!b) { s->oom = 1; return 0; }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, bytes, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, int force_quote)
{
    yaml_event_t ev;
    double d;
    int b;
    /* Strings that YAML would read back as numbers, booleans or null get quotes. */
    int quote = force_quote && (!*s || dt_parse_double(s, &d) || dt_parse_bool(s, &b) || strcmp(s, "null") == 0 ||
                                strcmp(s, "~") == 0);
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int emit_json(yaml_emitter_t *em, const cJSON *j, int flow)
{
    yaml_event_t ev;
    char num[64];
    if (cJSON_IsObject(j)) {
        /* Small leaves like {max: 0.02} and {log_uniform: [a, b]} read best inline. */
        int inline_map = flow || (j->child && !j->child->next && !cJSON_IsObject(j->child));
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, inline_map ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev)) return 0;
        for (const cJSON *c = j->child; c; c = c->next)
            if (!emit_scalar(em, c->string, 0) || !emit_json(em, c, inline_map)) return 0;
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    if (cJSON_IsArray(j)) {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev)) return 0;
        for (const cJSON *c = j->child; c; c = c->next)
            if (!emit_json(em, c, 1)) return 0;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    if (cJSON_IsNumber(j)) {
        dt_format_double(j->valuedouble, num, sizeof num);
        return emit_scalar(em, num, 0);
    }
    if (cJSON_IsBool(j)) return emit_scalar(em, cJSON_IsTrue(j) ? "true" : "false", 0);
    if (cJSON_IsRaw(j)) return emit_scalar(em, j->valuestring, 0);   /* a big integer's digits */
    if (cJSON_IsString(j)) return emit_scalar(em, j->valuestring, 1);
    return emit_scalar(em, "null", 0);
}

char *dt_config_to_yaml(const dt_config *cfg)
{
    static const char header[] = "# Written by dnntrouble: a complete config (dnntrouble run FILE reads it).\n";
    sink s = {0};
    yaml_emitter_t em;
    yaml_event_t ev;
    cJSON *tree = config_json(cfg, 1);
    if (!tree || !yaml_emitter_initialize(&em)) { cJSON_Delete(tree); return NULL; }
    sink_write(&s, (unsigned char *)header, sizeof header - 1);
    yaml_emitter_set_output(&em, sink_write, &s);
    yaml_emitter_set_width(&em, 120);
    yaml_emitter_set_unicode(&em, 1);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
             emit_json(&em, tree, 0) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
             yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    cJSON_Delete(tree);
    if (!ok || s.oom) { free(s.buf); return NULL; }
    return s.buf;
}

dt_status dt_config_write_yaml(const dt_config *cfg, const char *path)
{
    char *text = dt_config_to_yaml(cfg);
    if (!text) return dt_fail(DT_ENOMEM, "%s: cannot format the config as YAML", path);
    dt_status st = dt_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}
