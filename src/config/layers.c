/* model.layers and model.inputs: YAML -> dt_model_desc, the per-option keys
 * `model.layers.NAME.OPTION` (--set and tune space), and the JSON form
 * written into reports and back into YAML.  What a layer type accepts comes
 * from the layer table (src/nn/layers.c). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers_config.h"

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static dt_status layer_fail(const dt_parse_ctx *p, int line, const dt_layer_desc *l, int index, const char *fmt,
                            const char *a, const char *b)
{
    char msg[700], who[80];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    if (l && l->name[0]) snprintf(who, sizeof who, "layer '%s'", l->name);
    else snprintf(who, sizeof who, "layer %d", index + 1);
    return dt_parse_fail(p, line, "model.layers: %s: %s", who, msg);
}

/* Common keys every layer takes besides its type's options. */
static const char *const common_keys[] = {"name", "type", "in", "init", NULL};

static const char *suggest_opt(dt_layer_type t, const char *key)
{
    const dt_layer_def *def = dt_layer_def_get(t);
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < def->n_opts; i++) {
        int e = dt_edit_distance(key, def->opts[i].name);
        if (e < bd) { bd = e; best = def->opts[i].name; }
    }
    for (int i = 0; common_keys[i]; i++) {
        int e = dt_edit_distance(key, common_keys[i]);
        if (e < bd) { bd = e; best = common_keys[i]; }
    }
    return best;
}

static const char *suggest_type(const char *name)
{
    const char *best = NULL;
    int bd = 3;
    for (int t = 0; t < DT_LAYER_TYPE_COUNT; t++) {
        int e = dt_edit_distance(name, dt_layer_def_get((dt_layer_type)t)->name);
        if (e < bd) {
            bd = e;
            best = dt_layer_def_get((dt_layer_type)t)->name;
        }
    }
    return best;
}

static dt_status parse_init(dt_parse_ctx *p, dt_layer_desc *l, int index, yaml_node_t *v)
{
    int line = dt_node_line(v);
    if (!dt_layer_def_get(l->type)->has_params)
        return layer_fail(p, line, l, index, "%s has no parameters, so it takes no init", dt_layer_def_get(l->type)->name, NULL);
    const char *s = scalar(v);
    if (s) {
        int k = dt_layer_init_find(s);
        if (k < 0 || k == DT_LINIT_CONSTANT || k == DT_LINIT_NORMAL)
            return layer_fail(p, line, l, index, "init must be default | he_normal | glorot_uniform | torch_default | "
                              "zeros | {constant: V} | {normal: STD}, not '%s'", s, NULL);
        l->init = (dt_layer_init)k;
        return DT_OK;
    }
    if (v->type == YAML_MAPPING_NODE && v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1) {
        yaml_node_pair_t *pr = v->data.mapping.pairs.start;
        const char *k = scalar(yaml_document_get_node(p->doc, pr->key));
        const char *x = scalar(yaml_document_get_node(p->doc, pr->value));
        double d;
        if (k && x && (!strcmp(k, "constant") || !strcmp(k, "normal")) && dt_parse_double(x, &d) &&
            (k[0] == 'c' || d > 0)) {
            l->init = k[0] == 'c' ? DT_LINIT_CONSTANT : DT_LINIT_NORMAL;
            l->init_value = d;
            return DT_OK;
        }
    }
    return layer_fail(p, line, l, index, "init must be a name or {constant: V} | {normal: STD} with STD > 0%s%s", NULL,
                      NULL);
}

static dt_status parse_in(dt_parse_ctx *p, dt_layer_desc *l, int index, yaml_node_t *v)
{
    int line = dt_node_line(v);
    const char *s = scalar(v);
    l->n_in = 0;
    if (s) {
        if (!*s || strlen(s) >= DT_LAYER_NAME_LEN) return layer_fail(p, line, l, index, "in: '%s' is not a layer name", s, NULL);
        snprintf(l->in[0], sizeof l->in[0], "%s", s);
        l->n_in = 1;
        return DT_OK;
    }
    if (v->type != YAML_SEQUENCE_NODE) return layer_fail(p, line, l, index, "in must be a name or a list of names%s%s", NULL, NULL);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        const char *n = scalar(yaml_document_get_node(p->doc, *it));
        if (!n || !*n || strlen(n) >= DT_LAYER_NAME_LEN) return layer_fail(p, line, l, index, "in: every entry must be a layer or input name%s%s", NULL, NULL);
        if (l->n_in == DT_MAX_LAYER_IN) {
            char max[16];
            snprintf(max, sizeof max, "%d", DT_MAX_LAYER_IN);
            return layer_fail(p, line, l, index, "in: at most %s inputs%s", max, NULL);
        }
        snprintf(l->in[l->n_in++], sizeof l->in[0], "%s", n);
    }
    if (l->n_in == 0) return layer_fail(p, line, l, index, "in: the list is empty%s%s", NULL, NULL);
    return DT_OK;
}

static dt_status parse_shape(dt_parse_ctx *p, dt_layer_desc *l, int index, yaml_node_t *v)
{
    int line = dt_node_line(v);
    l->n_shape = 0;
    if (v->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
            const char *n = scalar(yaml_document_get_node(p->doc, *it));
            long long x;
            if (!n || !dt_parse_long(n, &x) || x < 1 || x > (1 << 20) || l->n_shape == 3) {
                l->n_shape = 0;
                break;
            }
            l->shape[l->n_shape++] = (int)x;
        }
    if (l->n_shape == 0) return layer_fail(p, line, l, index, "shape must be a list of 1 to 3 sizes >= 1, e.g. [16, 7, 7]%s%s", NULL, NULL);
    return DT_OK;
}

static dt_status parse_layer(dt_parse_ctx *p, yaml_node_t *m, int index, dt_layer_desc *l)
{
    int line = dt_node_line(m);
    if (m->type != YAML_MAPPING_NODE)
        return layer_fail(p, line, NULL, index, "each layer is a mapping such as {type: linear, units: 64}%s%s", NULL, NULL);
    yaml_node_t *type = NULL, *name = NULL;
    /* Every key at most once: YAML would let the last one silently win. */
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
        const char *k = scalar(kn);
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; k && q < pr; q++) {
            const char *k2 = scalar(yaml_document_get_node(p->doc, q->key));
            if (k2 && !strcmp(k, k2)) return layer_fail(p, dt_node_line(kn), NULL, index, "'%s' is given twice%s", k, NULL);
        }
        if (k && !strcmp(k, "type")) type = yaml_document_get_node(p->doc, pr->value);
        if (k && !strcmp(k, "name")) name = yaml_document_get_node(p->doc, pr->value);
    }
    dt_layer_desc probe = {0};
    if (name) {
        const char *n = scalar(name);
        if (!n || !*n || strlen(n) >= DT_LAYER_NAME_LEN || strchr(n, ' '))
            return layer_fail(p, line, NULL, index, "name must be a word of at most 39 characters%s%s", NULL, NULL);
        snprintf(probe.name, sizeof probe.name, "%s", n);
    }
    const char *t = scalar(type);
    if (!t) return layer_fail(p, line, &probe, index, "needs a type (linear, conv2d, relu, ...)%s%s", NULL, NULL);
    int ti = dt_layer_type_find(t);
    if (ti < 0) {
        const char *s = suggest_type(t);
        if (s) return layer_fail(p, dt_node_line(type), &probe, index, "unknown type '%s' (did you mean '%s'?)", t, s);
        return layer_fail(p, dt_node_line(type), &probe, index, "unknown type '%s'%s", t, NULL);
    }
    dt_layer_desc_init(l, (dt_layer_type)ti, probe.name);
    l->line = line;
    const dt_layer_def *def = dt_layer_def_get(l->type);
    unsigned seen = 0;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key), *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = scalar(kn);
        int kl = dt_node_line(kn);
        if (!k) return layer_fail(p, kl, l, index, "keys must be plain names%s%s", NULL, NULL);
        if (!strcmp(k, "type") || !strcmp(k, "name")) continue;
        dt_status st;
        int o = dt_layer_opt_find(l->type, k);
        if (!strcmp(k, "in")) st = parse_in(p, l, index, vn);
        else if (!strcmp(k, "init")) st = parse_init(p, l, index, vn);
        else if (o >= 0 && (seen >> o & 1u))
            return layer_fail(p, kl, l, index, "option '%s' is given twice%s", k, NULL);
        else if (o >= 0 && def->opts[o].kind == DT_LOPT_SHAPE) st = parse_shape(p, l, index, vn);
        else if (o >= 0) {
            const char *v = scalar(vn);
            if (!v) return layer_fail(p, kl, l, index, "%s must be a single value%s", k, NULL);
            char where[600];
            snprintf(where, sizeof where, "%s:%d: model.layers: layer '%s'", p->source, kl,
                     l->name[0] ? l->name : def->name);
            st = dt_layer_parse_opt(l, o, v, where);
        } else {
            const char *s = suggest_opt(l->type, k);
            char msg[200];
            snprintf(msg, sizeof msg, "%s takes no option '%s'", def->name, k);
            if (s) return layer_fail(p, kl, l, index, "%s (did you mean '%s'?)", msg, s);
            return layer_fail(p, kl, l, index, "%s%s", msg, NULL);
        }
        if (st) return st;
        if (o >= 0) seen |= 1u << o;
    }
    /* A required option left out would be written back as an empty value that
     * no reader accepts (a checkpoint's description, the resolved config). */
    for (int o = 0; o < DT_LAYER_MAX_OPTS && def->opts[o].name; o++)
        if (def->opts[o].def <= DT_LOPT_REQUIRED && !(seen >> o & 1u))
            return layer_fail(p, line, l, index, "%s needs option '%s'", def->name, def->opts[o].name);
    return DT_OK;
}

dt_status dt_parse_layers(dt_parse_ctx *p, yaml_node_t *node, int line)
{
    dt_config *cfg = p->cfg;
    if (p->from_file && cfg->model.layers_line > 0)
        return dt_parse_fail(p, line, "model.layers is given twice (first on line %d)", cfg->model.layers_line);
    if (!node || node->type != YAML_SEQUENCE_NODE)
        return dt_parse_fail(p, line, "model.layers must be a list of layers, e.g. [{type: linear, units: 64}, {type: relu}]");
    dt_model_desc *d = &cfg->model.desc;
    d->n_layers = 0;
    int index = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++, index++) {
        if (d->n_layers == DT_MAX_LAYERS)
            return dt_parse_fail(p, line, "model.layers: more than %d layers", DT_MAX_LAYERS);
        dt_status st = parse_layer(p, yaml_document_get_node(p->doc, *it), index, &d->layers[d->n_layers]);
        if (st) return st;
        d->n_layers++;
    }
    if (d->n_layers == 0) return dt_parse_fail(p, line, "model.layers is empty");
    cfg->model.layers_given = 1;
    cfg->model.layers_line = line > 0 ? line : -1;
    return DT_OK;
}

dt_status dt_parse_inputs(dt_parse_ctx *p, yaml_node_t *node, int line)
{
    dt_model_desc *d = &p->cfg->model.desc;
    if (!node || node->type != YAML_MAPPING_NODE)
        return dt_parse_fail(p, line, "model.inputs must be a mapping of input names, e.g. {image: {field: image}}");
    d->n_inputs = 0;
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key), *vn = yaml_document_get_node(p->doc, pr->value);
        const char *name = scalar(kn), *field = NULL;
        int kl = dt_node_line(kn);
        if (!name || !*name || strlen(name) >= DT_INPUT_NAME_LEN)
            return dt_parse_fail(p, kl, "model.inputs: input names are words of at most %d characters", DT_INPUT_NAME_LEN - 1);
        if (vn->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top; q++) {
                const char *k = scalar(yaml_document_get_node(p->doc, q->key));
                if (!k || strcmp(k, "field"))
                    return dt_parse_fail(p, dt_node_line(yaml_document_get_node(p->doc, q->key)),
                                         "model.inputs.%s: unknown key '%s' (an input takes `field`)", name, k ? k : "?");
                field = scalar(yaml_document_get_node(p->doc, q->value));
            }
        }
        if (!field || !*field || strlen(field) >= DT_INPUT_NAME_LEN)
            return dt_parse_fail(p, kl, "model.inputs.%s must be {field: NAME} naming a data field", name);
        for (int i = 0; i < d->n_inputs; i++)
            if (!strcmp(d->inputs[i].name, name))
                return dt_parse_fail(p, kl, "model.inputs: '%s' is given twice", name);
        if (d->n_inputs == DT_MAX_MODEL_INPUTS)
            return dt_parse_fail(p, kl, "model.inputs: at most %d inputs", DT_MAX_MODEL_INPUTS);
        dt_model_input_desc *in = &d->inputs[d->n_inputs++];
        snprintf(in->name, sizeof in->name, "%s", name);
        snprintf(in->field, sizeof in->field, "%s", field);
        in->line = kl;
    }
    if (d->n_inputs == 0) return dt_parse_fail(p, line, "model.inputs is empty");
    p->cfg->model.inputs_line = line > 0 ? line : -1;
    return DT_OK;
}

/* model.layers.NAME.OPTION: one option of a listed layer. */
static dt_status find_layer_opt(const dt_config *cfg, const char *key, int *li, int *oi)
{
    const char *rest = key + strlen("model.layers.");
    const char *dot = strrchr(rest, '.');
    char name[DT_LAYER_NAME_LEN];
    const dt_model_desc *d = &cfg->model.desc;
    if (!dot || (size_t)(dot - rest) >= sizeof name)
        return dt_fail(DT_ECONFIG, "%s: a layer option key is model.layers.NAME.OPTION", key);
    memcpy(name, rest, (size_t)(dot - rest));
    name[dot - rest] = '\0';
    *li = dt_model_desc_find(d, name);
    if (*li < 0) {
        char known[600] = "";
        for (int i = 0; i < d->n_layers && strlen(known) < 500; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", d->layers[i].name);
        return dt_fail(DT_ECONFIG, "%s: no layer named '%s' (layers: %s)", key, name, d->n_layers ? known : "none yet");
    }
    *oi = dt_layer_opt_find(d->layers[*li].type, dot + 1);
    if (*oi < 0)
        return dt_fail(DT_ECONFIG, "%s: a %s layer has no option '%s'", key, dt_layer_def_get(d->layers[*li].type)->name,
                       dot + 1);
    if (dt_layer_def_get(d->layers[*li].type)->opts[*oi].kind == DT_LOPT_SHAPE)
        return dt_fail(DT_ECONFIG, "%s: a shape cannot be set as one value", key);
    return DT_OK;
}

dt_status dt_parse_layer_option(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line)
{
    int li, oi;
    if (find_layer_opt(p->cfg, key, &li, &oi)) return dt_parse_fail(p, line, "%s", dt_last_error());
    const char *v = scalar(node);
    if (!v) return dt_parse_fail(p, line, "%s must be a single value", key);
    char where[700];
    snprintf(where, sizeof where, "%s%s%d", p->source, line > 0 ? ":" : "", line);
    if (line <= 0) snprintf(where, sizeof where, "%s", p->source);
    dt_status st = dt_layer_parse_opt(&p->cfg->model.desc.layers[li], oi, v, where);
    if (!st) p->cfg->model.layers_given = 1;   /* an edited preset is a description of its own */
    return st;
}

int dt_config_is_layer_key(const char *key) { return strncmp(key, "model.layers.", 13) == 0; }

dt_status dt_config_layer_get_number(const dt_config *cfg, const char *key, double *out)
{
    int li, oi;
    dt_status st = find_layer_opt(cfg, key, &li, &oi);
    if (!st) *out = cfg->model.desc.layers[li].opt[oi];
    return st;
}

dt_status dt_config_layer_get_string(const dt_config *cfg, const char *key, char *buf, size_t size)
{
    int li, oi;
    dt_status st = find_layer_opt(cfg, key, &li, &oi);
    if (!st) dt_layer_format_opt(&cfg->model.desc.layers[li], oi, buf, size);
    return st;
}

/* ------------------------------------------------------------ JSON */

cJSON *dt_model_desc_layers_json(const dt_model_desc *d)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < d->n_layers; i++) {
        const dt_layer_desc *l = &d->layers[i];
        const dt_layer_def *def = dt_layer_def_get(l->type);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        if (l->name[0]) cJSON_AddStringToObject(o, "name", l->name);
        cJSON_AddStringToObject(o, "type", def->name);
        if (l->n_in == 1) cJSON_AddStringToObject(o, "in", l->in[0]);
        else if (l->n_in > 1) {
            cJSON *in = cJSON_AddArrayToObject(o, "in");
            for (int k = 0; k < l->n_in; k++) cJSON_AddItemToArray(in, cJSON_CreateString(l->in[k]));
        }
        for (int k = 0; k < def->n_opts; k++) {
            const dt_layer_opt_def *od = &def->opts[k];
            char buf[64];
            switch (od->kind) {
            case DT_LOPT_BOOL: cJSON_AddBoolToObject(o, od->name, l->opt[k] != 0); break;
            case DT_LOPT_ENUM: cJSON_AddStringToObject(o, od->name, od->enums[(int)l->opt[k]]); break;
            case DT_LOPT_UNITS:
                if (l->opt[k] == DT_UNITS_CLASSES) { cJSON_AddStringToObject(o, od->name, "classes"); break; }
                /* fall through */
            case DT_LOPT_INT:
            case DT_LOPT_FLOAT: cJSON_AddNumberToObject(o, od->name, l->opt[k]); break;
            case DT_LOPT_SHAPE: cJSON_AddItemToObject(o, od->name, cJSON_CreateIntArray(l->shape, l->n_shape)); break;
            }
            (void)buf;
        }
        if (l->init == DT_LINIT_CONSTANT || l->init == DT_LINIT_NORMAL) {
            cJSON *init = cJSON_AddObjectToObject(o, "init");
            cJSON_AddNumberToObject(init, dt_layer_init_name(l->init), l->init_value);
        } else if (l->init != DT_LINIT_DEFAULT) {
            cJSON_AddStringToObject(o, "init", dt_layer_init_name(l->init));
        }
    }
    return a;
}

cJSON *dt_model_desc_inputs_json(const dt_model_desc *d)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < d->n_inputs; i++) {
        cJSON *in = cJSON_AddObjectToObject(o, d->inputs[i].name);
        cJSON_AddStringToObject(in, "field", d->inputs[i].field);
    }
    return o;
}

cJSON *dt_model_desc_to_json(const dt_model_desc *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (d->n_inputs) cJSON_AddItemToObject(o, "inputs", dt_model_desc_inputs_json(d));
    cJSON_AddItemToObject(o, "layers", dt_model_desc_layers_json(d));
    return o;
}

dt_status dt_model_desc_from_json(const char *text, const char *source, dt_model_desc *d)
{
    dt_config *tmp = calloc(1, sizeof *tmp);
    if (!tmp) return dt_fail(DT_ENOMEM, "out of memory reading a model description");
    dt_config_defaults(tmp);
    /* JSON is YAML: the config parser reads it with every check of a file. */
    char *yaml = malloc(strlen(text) + 32);
    dt_status st = DT_OK;
    if (!yaml) st = dt_fail(DT_ENOMEM, "out of memory reading a model description");
    if (!st) {
        sprintf(yaml, "{\"model\": %s}", text);
        st = dt_config_parse_string(tmp, yaml, strlen(yaml), source, NULL);
    }
    if (!st) *d = tmp->model.desc;
    free(yaml);
    free(tmp);
    return st;
}
