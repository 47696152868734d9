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

/* The model's state_dict in torch order: parameters in creation order, each
 * batch-norm layer's running statistics after its last parameter. */
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
    *out = it;
    *n_out = n;
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

dt_status dt_checkpoint_save(const dt_model *m, const char *path, const dt_ckpt_meta *meta)
{
    const dt_model_spec *s = &m->spec;
    int n_norm = meta && meta->mean && meta->std ? meta->n_norm : 0;
    int n_extra = meta && meta->extra ? meta->n_extra : 0;
    if (n_norm < 0 || n_extra < 0) return dt_fail(DT_EINTERNAL, "%s: checkpoint: bad metadata counts", path);

    char *shape = json_text(cJSON_CreateIntArray(s->inputs[0].shape, s->inputs[0].ndim));
    char *model = json_text(dt_model_desc_to_json(&s->desc));
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
    };
    int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    dt_st_kv *kv = calloc((size_t)(n_fixed + n_extra), sizeof *kv);
    ckpt_item *items = NULL;
    int n_items = 0;
    dt_status st = DT_OK;
    if (!shape || !model || !classes || !mean || !std || !kv) st = dt_fail(DT_ENOMEM, "%s: checkpoint: out of memory", path);
    if (!st) st = state_dict(m, &items, &n_items);
    dt_st_tensor *t = st ? NULL : calloc((size_t)n_items + 1, sizeof *t);
    if (!st && !t) st = dt_fail(DT_ENOMEM, "%s: checkpoint: out of memory", path);
    if (!st) {
        memcpy(kv, fixed, sizeof fixed);
        for (int i = 0; i < n_extra; i++) kv[n_fixed + i] = meta->extra[i];
        for (int i = 0; i < n_items; i++) t[i] = items[i].t;
        st = dt_st_write(path, t, n_items, kv, n_fixed + n_extra);
    }
    free(t);
    free(items);
    free(kv);
    cJSON_free(shape);
    cJSON_free(model);
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
