/* The two map-valued config sections whose keys are free-form:
 *   gates: {overfit-batch: pass, test_error: {max: 0.02}}
 *   stages.tune.space: {train.lr: {log_uniform: [1e-5, 0.1]}, ...} */
#include <math.h>
#include <string.h>

#include "parse.h"

static const char *closest_stage(const char *name)
{
    const char *best = NULL;
    int best_d = 3;
    for (int i = 0; i < dt_n_stage_names; i++) {
        int d = dt_edit_distance(name, dt_stage_names[i]);
        if (d < best_d) { best_d = d; best = dt_stage_names[i]; }
    }
    return best;
}

static int is_stage(const char *name)
{
    for (int i = 0; i < dt_n_stage_names; i++)
        if (strcmp(dt_stage_names[i], name) == 0) return 1;
    return 0;
}

static void remove_gate(dt_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_gates; i++)
        if (strcmp(cfg->gates[i].name, name) == 0) {
            memmove(&cfg->gates[i], &cfg->gates[i + 1], (size_t)(cfg->n_gates - i - 1) * sizeof cfg->gates[0]);
            cfg->n_gates--;
            return;
        }
}

/* Only one entry per name: a later one (e.g. from --set) replaces it. */
static dt_status add_gate(dt_parse_ctx *p, const dt_gate *g, int line)
{
    remove_gate(p->cfg, g->name);
    if (p->cfg->n_gates >= DT_MAX_GATES) return dt_parse_fail(p, line, "more than %d gates", DT_MAX_GATES);
    p->cfg->gates[p->cfg->n_gates++] = *g;
    return DT_OK;
}

dt_status dt_parse_gate_entry(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line)
{
    const char *name = key + strlen("gates.");
    dt_gate g = {.line = line};
    if (strlen(name) >= sizeof g.name) return dt_parse_fail(p, line, "gate name '%s' is too long", name);
    strcpy(g.name, name);
    if (dt_node_is_null(node)) {
        remove_gate(p->cfg, name);
        return DT_OK;
    }
    if (node->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)node->data.scalar.value;
        if (!is_stage(name)) {
            const char *s = closest_stage(name);
            return dt_parse_fail(p, line, "gate '%s': not a stage name%s%s%s (metric gates are {max: x} or {min: x})",
                                 name, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        int verdict = dt_verdict_parse(v);
        if (verdict != DT_VERDICT_PASS && verdict != DT_VERDICT_WARN)
            return dt_parse_fail(p, line, "gate '%s' must be pass or warn (the worst status allowed), got '%s'",
                                 name, v);
        g.kind = DT_GATE_STAGE;
        g.worst = (dt_verdict)verdict;
        return add_gate(p, &g, line);
    }
    if (node->type == YAML_MAPPING_NODE && node->data.mapping.pairs.top - node->data.mapping.pairs.start == 1) {
        yaml_node_pair_t *pr = node->data.mapping.pairs.start;
        yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key), *vn = yaml_document_get_node(p->doc, pr->value);
        const char *k = (const char *)kn->data.scalar.value;
        if (kn->type == YAML_SCALAR_NODE && (strcmp(k, "max") == 0 || strcmp(k, "min") == 0)) {
            g.kind = strcmp(k, "max") == 0 ? DT_GATE_MAX : DT_GATE_MIN;
            if (vn->type != YAML_SCALAR_NODE || !dt_parse_double((const char *)vn->data.scalar.value, &g.limit))
                return dt_parse_fail(p, dt_node_line(vn), "gate '%s': %s must be a number", name, k);
            return add_gate(p, &g, line);
        }
    }
    return dt_parse_fail(p, line, "gate '%s' must be pass | warn (stage) or {max: x} | {min: x} (metric)", name);
}

static const char *const space_kinds[] = {"log_uniform", "uniform", "int", "choice"};

static dt_status parse_bounds(dt_parse_ctx *p, dt_space_param *sp, yaml_node_t *seq)
{
    int n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    double v[2];
    if (n != 2) return dt_parse_fail(p, sp->line, "space '%s': %s takes [low, high]", sp->key, space_kinds[sp->kind]);
    for (int i = 0; i < 2; i++) {
        yaml_node_t *it = yaml_document_get_node(p->doc, seq->data.sequence.items.start[i]);
        if (it->type != YAML_SCALAR_NODE || !dt_parse_double((const char *)it->data.scalar.value, &v[i]))
            return dt_parse_fail(p, dt_node_line(it), "space '%s': bounds must be numbers", sp->key);
    }
    if (v[0] > v[1]) return dt_parse_fail(p, sp->line, "space '%s': low %g is above high %g", sp->key, v[0], v[1]);
    if (sp->kind == DT_SPACE_LOG_UNIFORM && v[0] <= 0)
        return dt_parse_fail(p, sp->line, "space '%s': log_uniform bounds must be > 0", sp->key);
    if (sp->kind == DT_SPACE_INT && (v[0] != floor(v[0]) || v[1] != floor(v[1])))
        return dt_parse_fail(p, sp->line, "space '%s': int bounds must be integers", sp->key);
    sp->lo = v[0];
    sp->hi = v[1];
    return DT_OK;
}

static dt_status parse_choices(dt_parse_ctx *p, dt_space_param *sp, yaml_node_t *seq)
{
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
        yaml_node_t *it = yaml_document_get_node(p->doc, *i);
        if (sp->n_choices >= DT_MAX_CHOICES)
            return dt_parse_fail(p, sp->line, "space '%s': more than %d choices", sp->key, DT_MAX_CHOICES);
        if (it->type != YAML_SCALAR_NODE || strlen((const char *)it->data.scalar.value) >= sizeof sp->choices[0])
            return dt_parse_fail(p, dt_node_line(it), "space '%s': choices must be short single values", sp->key);
        strcpy(sp->choices[sp->n_choices++], (const char *)it->data.scalar.value);
    }
    if (!sp->n_choices) return dt_parse_fail(p, sp->line, "space '%s': choice needs at least one value", sp->key);
    return DT_OK;
}

dt_status dt_parse_space_entry(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line)
{
    dt_config *cfg = p->cfg;
    dt_space_param sp = {.line = line};
    const char *name = key + strlen("stages.tune.space.");
    /* model.layers.NAME.OPTION: checked against the layers when they exist
     * (check.c tries every bound); a preset's layers only exist once expanded. */
    if (dt_key_find(name) < 0 && strncmp(name, "model.layers.", 13) != 0) {
        const char *s = dt_config_suggest_key(name);
        return dt_parse_fail(p, line, "stages.tune.space: unknown key '%s'%s%s%s", name, s ? " (did you mean '" : "",
                             s ? s : "", s ? "'?)" : "");
    }
    snprintf(sp.key, sizeof sp.key, "%s", name);
    if (node->type != YAML_MAPPING_NODE || node->data.mapping.pairs.top - node->data.mapping.pairs.start != 1)
        goto bad;
    yaml_node_t *kn = yaml_document_get_node(p->doc, node->data.mapping.pairs.start->key);
    yaml_node_t *vn = yaml_document_get_node(p->doc, node->data.mapping.pairs.start->value);
    if (kn->type != YAML_SCALAR_NODE || vn->type != YAML_SEQUENCE_NODE) goto bad;
    int kind = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp((const char *)kn->data.scalar.value, space_kinds[i]) == 0) kind = i;
    if (kind < 0) goto bad;
    sp.kind = (dt_space_kind)kind;
    dt_status st = kind == DT_SPACE_CHOICE ? parse_choices(p, &sp, vn) : parse_bounds(p, &sp, vn);
    if (st != DT_OK) return st;
    for (int i = 0; i < cfg->stages.tune.n_space; i++)
        if (strcmp(cfg->stages.tune.space[i].key, sp.key) == 0) {
            cfg->stages.tune.space[i] = sp;
            return DT_OK;
        }
    if (cfg->stages.tune.n_space >= DT_MAX_SPACE)
        return dt_parse_fail(p, line, "stages.tune.space: more than %d keys", DT_MAX_SPACE);
    cfg->stages.tune.space[cfg->stages.tune.n_space++] = sp;
    return DT_OK;
bad:
    return dt_parse_fail(p, line,
                         "space '%s' must be one of {log_uniform: [a, b]}, {uniform: [a, b]}, {int: [a, b]}, "
                         "{choice: [...]}", name);
}

const char *dt_space_kind_name(dt_space_kind k) { return space_kinds[k]; }
