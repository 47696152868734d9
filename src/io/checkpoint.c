/* Checkpoints: the model's state_dict as safetensors (see checkpoint.h). */
#include "dnntrouble/checkpoint.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/ops_norm.h"
#include "dnntrouble/report.h"

/* One state_dict entry of the model: a name and where its values live. */
typedef struct ckpt_item {
    char name[DT_NAME_LEN + 16];
    dt_st_tensor t;
} ckpt_item;

static dt_node *batchnorm_of_layer(const dt_graph *g, const char *layer)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == DT_OP_BATCHNORM && !strcmp(g->nodes[i]->layer, layer)) return g->nodes[i];
    return NULL;
}

static void item_set(ckpt_item *it, const char *name, int ndim, const int *shape, float *data)
{
    snprintf(it->name, sizeof it->name, "%s", name);
    memset(&it->t, 0, sizeof it->t);
    it->t.name = it->name;
    it->t.ndim = ndim;
    it->t.numel = 1;
    for (int d = 0; d < ndim; d++) {
        it->t.shape[d] = shape[d];
        it->t.numel *= (size_t)shape[d];
    }
    it->t.data = data;
}

/* Number of '.'-separated parts of name before its last one (the owner module's depth). */
static int owner_depth(const char *name)
{
    int k = 0;
    for (const char *p = name; *p; p++) k += *p == '.';
    return k;
}

/* 1 when the first `parts` parts of a and b are equal. */
static int same_prefix(const char *a, const char *b, int parts)
{
    for (int seen = 0; seen < parts; a++, b++) {
        if (*a != *b) return 0;
        if (*a == '\0') return 0;
        if (*a == '.') seen++;
    }
    return 1;
}

/* Appends to out, in torch's state_dict() order, the items under the module
 * whose path is the first `depth` parts of in[first]'s name: that module's
 * own tensors first (in creation order), then each child module's, children
 * in the order they first appear.  done[] marks what is placed. */
static void torch_order(const ckpt_item *in, int n, int first, int depth, unsigned char *done, ckpt_item *out, int *k)
{
    for (int i = first; i < n; i++)
        if (!done[i] && owner_depth(in[i].name) == depth && same_prefix(in[i].name, in[first].name, depth)) {
            out[(*k)++] = in[i];
            done[i] = 1;
        }
    for (int i = first; i < n; i++)
        if (!done[i] && owner_depth(in[i].name) > depth && same_prefix(in[i].name, in[first].name, depth))
            torch_order(in, n, i, depth + 1, done, out, k);
}

/* The model's state_dict in torch's order.  Items are made in creation order
 * (each batch-norm layer's running statistics after its last parameter),
 * then ordered as torch.nn.Module.state_dict() lists the equivalent module,
 * dotted names being nested modules: a module's own tensors before its
 * children's (a positional layer `pos` is a tensor of the root, so it comes
 * before `embed.weight`), children in the order they first appear. */
static dt_status state_dict(const dt_model *m, ckpt_item **out, int *n_out)
{
    const dt_graph *g = m->g;
    int n_bn = 0;
    for (int i = 0; i < g->n_nodes; i++) n_bn += g->nodes[i]->op == DT_OP_BATCHNORM;
    ckpt_item *it = calloc((size_t)(g->n_params + 2 * n_bn) + 1, sizeof *it);
    if (!it) return dt_fail(DT_ENOMEM, "checkpoint: out of memory");
    int n = 0;
    for (int i = 0; i < g->n_params; i++) {
        dt_node *p = g->params[i];
        item_set(&it[n++], p->name, p->ndim, p->shape, p->val);
        int last_of_layer = i + 1 == g->n_params || strcmp(g->params[i + 1]->layer, p->layer) != 0;
        dt_node *bn = last_of_layer ? batchnorm_of_layer(g, p->layer) : NULL;
        if (bn) {
            char nm[DT_NAME_LEN + 16];
            int c = dt_batchnorm_channels(bn);
            snprintf(nm, sizeof nm, "%s.running_mean", bn->layer);
            item_set(&it[n++], nm, 1, &c, dt_batchnorm_running_mean(bn));
            snprintf(nm, sizeof nm, "%s.running_var", bn->layer);
            item_set(&it[n++], nm, 1, &c, dt_batchnorm_running_var(bn));
        }
    }
    ckpt_item *sorted = calloc((size_t)n + 1, sizeof *sorted);
    unsigned char *done = calloc((size_t)n + 1, 1);
    if (!sorted || !done) {
        free(it);
        free(sorted);
        free(done);
        return dt_fail(DT_ENOMEM, "checkpoint: out of memory");
    }
    int k = 0;
    if (n) torch_order(it, n, 0, 0, done, sorted, &k);
    for (int i = 0; i < n; i++) sorted[i].t.name = sorted[i].name;   /* names live in the items */
    free(it);
    free(done);
    *out = sorted;
    *n_out = k;
    return DT_OK;
}

/* ------------------------------------------------------------ save */

/* JSON text of a cJSON array (owned by the caller), or NULL. */
static char *json_text(cJSON *arr)
{
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static cJSON *class_array(const dt_model *m, const dt_ckpt_meta *meta)
{
    cJSON *a = cJSON_CreateArray();
    if (!a || m->spec.loss != DT_LOSS_CROSS_ENTROPY) return a;
    for (int k = 0; k < m->spec.outputs; k++) {
        cJSON *v = cJSON_CreateNumber(meta && meta->class_labels ? meta->class_labels[k] : k);
        if (!v) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, v);
    }
    return a;
}

static cJSON *inputs_json(const dt_model *m, const dt_ckpt_meta *meta)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < m->n_inputs; i++) {
        const dt_input_shape *in = &m->spec.inputs[i];
        dt_ckpt_norm nm = {0};
        if (meta && meta->inputs) nm = meta->inputs[i];
        else if (meta && i == 0 && meta->mean && meta->std) nm = (dt_ckpt_norm){meta->n_norm, meta->mean, meta->std};
        cJSON *e = cJSON_AddObjectToObject(o, in->name);
        const dt_model_desc *d = &m->spec.desc;
        const char *field = in->name;
        for (int k = 0; k < d->n_inputs; k++)
            if (!strcmp(d->inputs[k].name, in->name)) field = d->inputs[k].field;
        cJSON_AddStringToObject(e, "field", field);
        cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(in->shape, in->ndim));
        cJSON_AddBoolToObject(e, "tokens", in->tokens);
        cJSON_AddNumberToObject(e, "vocab", in->vocab);
        cJSON_AddItemToObject(e, "mean", nm.n ? cJSON_CreateFloatArray(nm.mean, nm.n) : cJSON_CreateArray());
        cJSON_AddItemToObject(e, "std", nm.n ? cJSON_CreateFloatArray(nm.std, nm.n) : cJSON_CreateArray());
    }
    return o;
}

dt_status dt_checkpoint_save(const dt_model *m, const char *path, const dt_ckpt_meta *meta)
{
    const dt_model_spec *s = &m->spec;
    int n_norm = meta && meta->mean && meta->std ? meta->n_norm : 0;
    int n_extra = meta && meta->extra ? meta->n_extra : 0;
    if (n_norm < 0 || n_extra < 0) return dt_fail(DT_EINTERNAL, "%s: checkpoint: bad metadata counts", path);

    char *shape = json_text(cJSON_CreateIntArray(s->inputs[0].shape, s->inputs[0].ndim));
    char *model = json_text(dt_model_desc_to_json(&s->desc));
    char *inputs = json_text(inputs_json(m, meta));
    char *classes = json_text(class_array(m, meta));
    char *mean = json_text(n_norm ? cJSON_CreateFloatArray(meta->mean, n_norm) : cJSON_CreateArray());
    char *std = json_text(n_norm ? cJSON_CreateFloatArray(meta->std, n_norm) : cJSON_CreateArray());
    char num[24];
    snprintf(num, sizeof num, "%d", s->outputs);
    dt_st_kv fixed[] = {
        {"format", "pt"},
        {"tool", "dnntrouble " DT_TOOL_VERSION},
        {"arch", s->arch},
        {"input_shape", shape},
        {"classes", classes},
        {"mean", mean},
        {"std", std},
        {"outputs", num},
        {"loss", s->loss == DT_LOSS_CROSS_ENTROPY ? "cross_entropy" : "mse"},
        {"model", model},
        {"inputs", inputs},
    };
    int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    char tm[40], ts[40];
    int targets = meta && meta->targets_standardized && s->loss == DT_LOSS_MSE;
    snprintf(tm, sizeof tm, "%.17g", targets ? meta->target_mean : 0.0);
    snprintf(ts, sizeof ts, "%.17g", targets ? meta->target_std : 1.0);
    dt_st_kv target_kv[2] = {{"target_mean", tm}, {"target_std", ts}};
    if (targets) n_extra += 2;
    dt_st_kv *kv = calloc((size_t)(n_fixed + n_extra), sizeof *kv);
    ckpt_item *items = NULL;
    int n_items = 0;
    dt_status st = DT_OK;
    if (!shape || !model || !inputs || !classes || !mean || !std || !kv) st = dt_fail(DT_ENOMEM, "%s: checkpoint: out of memory", path);
    if (!st) st = state_dict(m, &items, &n_items);
    dt_st_tensor *t = st ? NULL : calloc((size_t)n_items + 1, sizeof *t);
    if (!st && !t) st = dt_fail(DT_ENOMEM, "%s: checkpoint: out of memory", path);
    if (!st) {
        memcpy(kv, fixed, sizeof fixed);
        int k = n_fixed;
        for (int i = 0; i < (meta && meta->extra ? meta->n_extra : 0); i++) kv[k++] = meta->extra[i];
        if (targets) {
            kv[k++] = target_kv[0];
            kv[k++] = target_kv[1];
        }
        for (int i = 0; i < n_items; i++) t[i] = items[i].t;
        st = dt_st_write(path, t, n_items, kv, n_fixed + n_extra);
    }
    free(t);
    free(items);
    free(kv);
    cJSON_free(shape);
    cJSON_free(model);
    cJSON_free(inputs);
    cJSON_free(classes);
    cJSON_free(mean);
    cJSON_free(std);
    return st;
}

/* ------------------------------------------------------------ load */

static int same_shape(const dt_st_tensor *a, const dt_st_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Every check before the first value is copied, so a failed load changes nothing. */
static dt_status check_file(const dt_model *m, const char *path, const dt_st_file *f, const ckpt_item *items,
                            int n)
{
    const char *arch = dt_st_meta(f, "arch"), *want = m->spec.arch;
    if (arch && strcmp(arch, want) != 0)
        return dt_fail(DT_EDATA, "%s: checkpoint of a %s model cannot be loaded into a %s model", path, arch, want);
    for (int i = 0; i < n; i++) {
        const dt_st_tensor *ft = dt_st_get(f, items[i].name);
        char a[96], b[96];
        dt_st_shape_str(items[i].t.shape, items[i].t.ndim, b, sizeof b);
        if (!ft)
            return dt_fail(DT_EDATA, "%s: tensor '%s' missing (the %s model has it with shape %s)", path,
                           items[i].name, want, b);
        if (!same_shape(ft, &items[i].t))
            return dt_fail(DT_EDATA, "%s: tensor '%s' has shape %s in the file but %s in the model", path,
                           items[i].name, dt_st_shape_str(ft->shape, ft->ndim, a, sizeof a), b);
    }
    for (int k = 0; k < f->n_tensors; k++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(items[i].name, f->tensors[k].name);
        if (!known)
            return dt_fail(DT_EDATA, "%s: unexpected tensor '%s' (not part of the %s model)", path,
                           f->tensors[k].name, want);
    }
    return DT_OK;
}

dt_status dt_checkpoint_load(dt_model *m, const char *path)
{
    dt_st_file *f = NULL;
    dt_status st = dt_st_read(path, &f);
    if (st) return st;
    ckpt_item *items = NULL;
    int n = 0;
    st = state_dict(m, &items, &n);
    if (!st) st = check_file(m, path, f, items, n);
    if (!st)
        for (int i = 0; i < n; i++)
            memcpy(items[i].t.data, dt_st_get(f, items[i].name)->data, items[i].t.numel * sizeof(float));
    free(items);
    dt_st_free(f);
    return st;
}

/* ------------------------------------------------------------ open */

static dt_status meta_json(const dt_st_file *f, const char *path, const char *key, cJSON **out)
{
    const char *s = dt_st_meta(f, key);
    if (!s) return dt_fail(DT_EDATA, "%s: metadata '%s' missing (not a dnntrouble checkpoint of this version?)", path, key);
    *out = cJSON_Parse(s);
    if (!*out) return dt_fail(DT_EDATA, "%s: metadata '%s' is not JSON", path, key);
    return DT_OK;
}

static int int_array(const cJSON *a, int *v, int max)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsNumber(e) || n == max) return -1;
        v[n++] = (int)e->valuedouble;
    }
    return n;
}

static float *float_array(const cJSON *a, int *n)
{
    *n = cJSON_GetArraySize(a);
    float *v = malloc(((size_t)*n + 1) * sizeof *v);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) if (v) v[i++] = (float)e->valuedouble;
    return v;
}

static dt_status read_inputs(const cJSON *inputs, const char *path, dt_model_spec *s, dt_ckpt_info *info)
{
    const cJSON *in;
    int n = 0;
    cJSON_ArrayForEach(in, inputs)
    {
        if (n == DT_MAX_MODEL_INPUTS) return dt_fail(DT_EDATA, "%s: metadata 'inputs': too many inputs", path);
        dt_input_shape *x = &s->inputs[n];
        snprintf(x->name, sizeof x->name, "%s", in->string ? in->string : "");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
        x->ndim = int_array(shape, x->shape, 3);
        x->tokens = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "tokens"));
        x->vocab = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(in, "vocab"));
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "field"));
        if (!x->name[0] || x->ndim < 1 || !field || (x->tokens && x->vocab < 1))
            return dt_fail(DT_EDATA, "%s: metadata 'inputs': input %d lacks a name, shape, field or vocabulary", path, n);
        snprintf(info->field[n], sizeof info->field[n], "%s", field);
        info->mean[n] = float_array(cJSON_GetObjectItemCaseSensitive(in, "mean"), &info->n_norm[n]);
        int ns;
        info->std[n] = float_array(cJSON_GetObjectItemCaseSensitive(in, "std"), &ns);
        if (!info->mean[n] || !info->std[n]) return dt_fail(DT_ENOMEM, "%s: out of memory", path);
        if (ns != info->n_norm[n]) return dt_fail(DT_EDATA, "%s: metadata 'inputs.%s': mean and std differ in length", path, x->name);
        s->field[n] = n;
        n++;
    }
    s->n_inputs = info->n_inputs = n;
    if (n == 0) return dt_fail(DT_EDATA, "%s: metadata 'inputs' names no input", path);
    return DT_OK;
}

dt_status dt_checkpoint_open(const char *path, int max_batch, dt_model **m, dt_ckpt_info *info)
{
    *m = NULL;
    memset(info, 0, sizeof *info);
    dt_st_file *f = NULL;
    dt_status st = dt_st_read(path, &f);
    if (st) return st;
    dt_model_spec *s = calloc(1, sizeof *s);
    cJSON *inputs = NULL, *classes = NULL;
    if (!s) st = dt_fail(DT_ENOMEM, "%s: out of memory", path);
    const char *model = dt_st_meta(f, "model"), *outputs = dt_st_meta(f, "outputs"), *loss = dt_st_meta(f, "loss");
    if (!st && (!model || !outputs || !loss))
        st = dt_fail(DT_EDATA, "%s: metadata 'model', 'outputs' or 'loss' missing: not a checkpoint dnntrouble wrote", path);
    if (!st) st = meta_json(f, path, "inputs", &inputs);
    if (!st) st = meta_json(f, path, "classes", &classes);
    if (!st) {
        st = dt_model_desc_from_json(model, path, &s->desc);
        if (st) st = dt_fail_context(DT_EDATA, "metadata 'model'");
    }
    if (!st) st = read_inputs(inputs, path, s, info);
    if (!st) {
        s->outputs = atoi(outputs);
        s->loss = info->loss = strcmp(loss, "mse") == 0 ? DT_LOSS_MSE : DT_LOSS_CROSS_ENTROPY;
        s->max_batch = max_batch;
        s->source = path;
        snprintf(s->arch, sizeof s->arch, "%s", dt_st_meta(f, "arch") ? dt_st_meta(f, "arch") : "custom");
        info->n_classes = int_array(classes, info->classes, 256);
        const char *tm = dt_st_meta(f, "target_mean"), *ts = dt_st_meta(f, "target_std");
        if (tm && ts) {
            info->targets_standardized = 1;
            info->target_mean = atof(tm);
            info->target_std = atof(ts);
        }
        if (s->outputs < 1 || info->n_classes < 0)
            st = dt_fail(DT_EDATA, "%s: metadata 'outputs' or 'classes' is malformed", path);
    }
    if (!st) {
        st = dt_model_build(s, m);
        if (st) st = dt_fail_context(DT_EDATA, "%s: rebuilding the network", path);
    }
    if (!st) {
        ckpt_item *items = NULL;
        int n = 0;
        st = state_dict(*m, &items, &n);
        if (!st) st = check_file(*m, path, f, items, n);
        for (int i = 0; !st && i < n; i++)
            memcpy(items[i].t.data, dt_st_get(f, items[i].name)->data, items[i].t.numel * sizeof(float));
        free(items);
    }
    if (st) {
        dt_model_free(*m);
        *m = NULL;
        dt_ckpt_info_free(info);
    }
    cJSON_Delete(inputs);
    cJSON_Delete(classes);
    free(s);
    dt_st_free(f);
    return st;
}

void dt_ckpt_info_free(dt_ckpt_info *info)
{
    for (int i = 0; i < DT_MAX_MODEL_INPUTS; i++) {
        free(info->mean[i]);
        free(info->std[i]);
        info->mean[i] = info->std[i] = NULL;
    }
}

void dt_ckpt_normalize(const dt_ckpt_info *info, int i, const dt_input_shape *in, float *x, size_t n)
{
    int k = info->n_norm[i];
    if (!k || in->tokens) return;
    size_t dim = 1;
    for (int d = 0; d < in->ndim; d++) dim *= (size_t)in->shape[d];
    size_t div = in->ndim == 3 && k == in->shape[0] ? (size_t)in->shape[1] * (size_t)in->shape[2] : 1;
    for (size_t r = 0; r < n; r++)
        for (size_t e = 0; e < dim; e++) {
            size_t s = (e / div) % (size_t)k;
            x[r * dim + e] = (x[r * dim + e] - info->mean[i][s]) / info->std[i][s];
        }
}
