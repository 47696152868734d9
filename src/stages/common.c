#include "common.h"

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dt_arch dt_stage_auto_arch(dt_modality m)
{
    return m == DT_MODALITY_IMAGE ? DT_ARCH_LENET : m == DT_MODALITY_SEQUENCE ? DT_ARCH_LSTM : DT_ARCH_MLP;
}

/* data.class_names must name every label the data has (classification only). */
static dt_status check_class_names(const dt_config *cfg, const dt_data *d)
{
    int n = cfg->data.n_class_names;
    if (!n) return DT_OK;
    const char *src = cfg->path[0] ? cfg->path : "config";
    if (d->task != DT_TASK_CLASSIFICATION)
        return dt_fail(DT_ECONFIG, "%s: data.class_names is for classification; this task is regression", src);
    int top = -1;
    for (int c = 0; c < dt_data_classes(d); c++)
        if (dt_data_original_class(d, c) > top) top = dt_data_original_class(d, c);
    if (top >= n)
        return dt_fail(DT_ECONFIG, "%s: data.class_names has %d names (labels 0..%d), but the data has label %d: give "
                                   "one name per label, in label order",
                       src, n, n - 1, top);
    return DT_OK;
}

const char *dt_stage_class_name(const dt_config *cfg, const dt_data *d, int cls, char *buf, size_t size)
{
    int label = dt_data_original_class(d, cls);
    const char *given = dt_data_spec_class_name(&cfg->data, label);
    if (given) return given;
    if (d->format == DT_FORMAT_TEXT && cls >= 0 && cls < d->vocab.size) {
        /* Next-character classes are characters: show them as such. */
        unsigned char ch = d->vocab.byte_of[cls];
        if (ch == ' ') snprintf(buf, size, "space");
        else if (ch == '\n') snprintf(buf, size, "\\n");
        else if (ch == '\t') snprintf(buf, size, "\\t");
        else if (ch >= 0x21 && ch < 0x7F) snprintf(buf, size, "%c", ch);
        else snprintf(buf, size, "0x%02X", ch);
        return buf;
    }
    snprintf(buf, size, "%d", label);
    return buf;
}

cJSON *dt_stage_class_names_json(const dt_config *cfg, const dt_data *d)
{
    if (d->task != DT_TASK_CLASSIFICATION) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (int c = 0; a && c < dt_data_classes(d); c++) {
        char buf[32];
        cJSON_AddItemToArray(a, cJSON_CreateString(dt_stage_class_name(cfg, d, c, buf, sizeof buf)));
    }
    return a;
}

dt_status dt_stage_prepare(dt_stage_ctx *ctx, dt_data **d)
{
    openblas_set_num_threads(ctx->cfg->threads > 0 ? ctx->cfg->threads : 1);
    dt_status st = dt_stage_ctx_data(ctx, d);
    if (st) return st;
    if ((st = check_class_names(ctx->cfg, *d))) return st;
    dt_config *cfg = ctx->cfg;
    cfg->data.modality = dt_data_modality(*d);
    if (cfg->model.arch == DT_ARCH_AUTO && dt_data_n_fields(*d) == 1)
        cfg->model.arch = dt_stage_auto_arch(cfg->data.modality);
    return dt_stage_resolve_model(cfg, *d);
}

int dt_stage_classes(const dt_data *d) { return d->task == DT_TASK_CLASSIFICATION ? dt_data_classes(d) : 0; }

dt_preset_args dt_stage_preset_args(const dt_config *cfg, const dt_data *d)
{
    dt_preset_args a = {0};
    a.arch = cfg->model.arch;
    if (a.arch == DT_ARCH_AUTO && dt_data_n_fields(d) == 1) a.arch = dt_stage_auto_arch(dt_data_modality(d));
    a.hidden = cfg->model.hidden;
    a.depth = cfg->model.depth;
    a.hidden_given = dt_config_given(cfg, "model.hidden");
    a.depth_given = dt_config_given(cfg, "model.depth");
    a.act = cfg->model.activation;
    a.batch_norm = cfg->model.batch_norm;
    a.dropout = cfg->train.dropout;
    a.output_softmax = cfg->model.output_activation == DT_OUT_SOFTMAX;
    return a;
}

/* Model inputs: model.inputs' bindings, or one input per data field named
 * as the field ("x" for single-input data). */
static dt_status model_inputs(const dt_config *cfg, const dt_data *d, dt_model_spec *s)
{
    const dt_model_desc *md = &cfg->model.desc;
    int n = md->n_inputs ? md->n_inputs : dt_data_n_fields(d);
    for (int i = 0; i < n; i++) {
        const char *want = md->n_inputs ? md->inputs[i].field : dt_data_field(d, i)->name;
        int f = dt_data_field_index(d, want);
        if (f < 0) {
            char known[300] = "";
            for (int k = 0; k < dt_data_n_fields(d); k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", dt_data_field(d, k)->name);
            return dt_fail(DT_ECONFIG, "%s:%d: model.inputs.%s: the data has no field '%s' (fields: %s)",
                           cfg->path[0] ? cfg->path : "config", md->inputs[i].line, md->inputs[i].name, want, known);
        }
        const dt_field *fd = dt_data_field(d, f);
        dt_input_shape *in = &s->inputs[i];
        snprintf(in->name, sizeof in->name, "%s", md->n_inputs ? md->inputs[i].name : fd->name);
        in->ndim = fd->ndim;
        memcpy(in->shape, fd->shape, sizeof in->shape);
        in->tokens = fd->tokens;
        in->vocab = fd->vocab;
        s->field[i] = f;
    }
    s->n_inputs = n;
    return DT_OK;
}

dt_status dt_stage_model_spec(const dt_config *cfg, const dt_data *d, int max_batch, dt_model_spec *s)
{
    memset(s, 0, sizeof *s);
    dt_status st = model_inputs(cfg, d, s);
    if (st) return st;
    dt_preset_args a = dt_stage_preset_args(cfg, d);
    if (cfg->model.layers_given) s->desc = cfg->model.desc;
    else if ((st = dt_preset_expand(&a, s->inputs, s->n_inputs, &s->desc)) != DT_OK) return st;
    s->desc.n_inputs = cfg->model.desc.n_inputs;
    memcpy(s->desc.inputs, cfg->model.desc.inputs, sizeof s->desc.inputs);
    snprintf(s->arch, sizeof s->arch, "%s", dt_arch_name(a.arch == DT_ARCH_AUTO ? DT_ARCH_CUSTOM : a.arch));
    s->outputs = dt_data_classes(d);
    s->loss = cfg->loss;
    s->max_batch = max_batch;
    s->source = cfg->path[0] ? cfg->path : "config";
    return DT_OK;
}

dt_status dt_stage_resolve_model(dt_config *cfg, const dt_data *d)
{
    if (cfg->model.layers_given) return DT_OK;
    dt_model_spec *s = malloc(sizeof *s);
    if (!s) return dt_fail(DT_ENOMEM, "out of memory resolving the model");
    dt_status st = dt_stage_model_spec(cfg, d, 1, s);
    if (!st) {
        dt_model_desc_name_layers(&s->desc);
        int n_inputs = cfg->model.desc.n_inputs;
        dt_model_input_desc inputs[DT_MAX_MODEL_INPUTS];
        memcpy(inputs, cfg->model.desc.inputs, sizeof inputs);
        cfg->model.desc = s->desc;
        cfg->model.desc.n_inputs = n_inputs;
        memcpy(cfg->model.desc.inputs, inputs, sizeof inputs);
    }
    free(s);
    return st;
}

dt_status dt_stage_build_model(const dt_config *cfg, const dt_data *d, int max_batch, dt_model **m)
{
    dt_model_spec *s = malloc(sizeof *s);
    if (!s) return dt_fail(DT_ENOMEM, "out of memory building the model");
    dt_status st = dt_stage_model_spec(cfg, d, max_batch, s);
    if (!st) st = dt_model_build(s, m);
    free(s);
    if (st) return st;
    dt_model_init(*m, cfg->seed);
    return DT_OK;
}

dt_optim_cfg dt_stage_optim_cfg(const dt_config *cfg, long total_steps)
{
    dt_optim_cfg o = dt_optim_defaults(cfg->train.optimizer, (float)cfg->train.lr);
    o.momentum = (float)cfg->train.momentum;
    o.nesterov = cfg->train.nesterov;
    o.weight_decay = (float)cfg->train.weight_decay;
    o.clip_grad_norm = (float)cfg->train.clip_grad_norm;
    o.schedule = cfg->train.schedule;
    o.warmup_steps = cfg->train.warmup_steps;
    o.total_steps = total_steps;
    o.step_size = total_steps > 3 ? total_steps / 3 : 1; /* step schedule: three drops of 10x */
    return o;
}

static int progress_step(void *ctx, const dt_fit_step *s)
{
    dt_progress_update(ctx, s->epoch, s->epochs, s->step, s->steps, s->loss);
    return 0;
}

dt_fit_opts dt_stage_fit_opts_cfg(const dt_config *cfg, dt_split_id train, dt_split_id val)
{
    dt_fit_opts fo = {0};
    fo.epochs = cfg->train.epochs;
    fo.max_steps = cfg->train.max_steps;
    fo.patience = cfg->train.patience;
    fo.restore_best = 1;
    fo.train_split = train;
    fo.val_split = val;
    fo.seed = cfg->seed ^ 0xB5297A4D3F1A2C6Bull;
    return fo;
}

dt_fit_opts dt_stage_fit_opts(dt_stage_ctx *ctx, dt_split_id train, dt_split_id val)
{
    dt_fit_opts fo = dt_stage_fit_opts_cfg(ctx->cfg, train, val);
    fo.on_step = ctx->progress ? progress_step : NULL;
    fo.ctx = ctx->progress;
    return fo;
}

int dt_stage_has_images(const dt_data *d)
{
    for (int i = 0; i < dt_data_n_fields(d); i++)
        if (dt_data_field(d, i)->ndim == 3 && !dt_data_field(d, i)->tokens) return 1;
    return 0;
}

/* train.augment.shift, then the stage's own transform (if any). */
typedef struct chain_ctx {
    dt_augment aug;
    dt_batch_fn next;
    void *next_ctx;
} chain_ctx;

static void chain_transform(void *c, dt_model *m, size_t n, int train)
{
    chain_ctx *cc = c;
    dt_augment_batch(&cc->aug, m, n, train);
    if (cc->next) cc->next(cc->next_ctx, m, n, train);
}

dt_status dt_stage_fit(const dt_config *cfg, const dt_data *d, dt_model *m, const dt_fit_opts *fo_in,
                       dt_fit_result *res)
{
    dt_fit_opts copy = *fo_in, *fo = &copy;
    chain_ctx cc = {0};
    if (cfg->train.augment_shift > 0) {
        dt_status st = dt_augment_init(&cc.aug, m, cfg->train.augment_shift, cfg->seed ^ 0xA5A5F00Dull);
        if (st) return st;
        cc.next = fo->transform;
        cc.next_ctx = fo->transform_ctx;
        fo->transform = chain_transform;
        fo->transform_ctx = &cc;
    }
    dt_optim_cfg oc = dt_stage_optim_cfg(cfg, dt_fit_planned_steps(d, fo, (size_t)m->g->max_batch));
    dt_optimizer o;
    dt_status st = dt_optim_init(&o, &oc, m->g->n_param_values);
    if (st) return st;
    st = dt_model_fit(m, &o, d, fo, res);
    dt_optim_free(&o);
    dt_augment_free(&cc.aug);
    return st;
}

dt_status dt_stage_train(dt_stage_ctx *ctx, const dt_data *d, dt_model *m, dt_split_id train,
                         dt_split_id val, dt_fit_result *res)
{
    dt_fit_opts fo = dt_stage_fit_opts(ctx, train, val);
    return dt_stage_fit(ctx->cfg, d, m, &fo, res);
}

dt_status dt_stage_train_opts(dt_stage_ctx *ctx, const dt_data *d, dt_model *m, const dt_fit_opts *fo,
                              dt_fit_result *res)
{
    return dt_stage_fit(ctx->cfg, d, m, fo, res);
}

dt_status dt_stage_preflight(dt_stage_ctx *ctx, dt_preflight *pf)
{
    memset(pf, 0, sizeof *pf);
    dt_status st = dt_config_check_files(ctx->cfg);
    dt_data *d = NULL;
    if (!st) st = dt_stage_prepare(ctx, &d);
    dt_model *m = NULL;
    if (!st) st = dt_stage_build_model(ctx->cfg, d, 1, &m);
    if (st) return st;
    pf->n_fields = dt_data_n_fields(d);
    for (int s = 0; s < DT_SPLIT_COUNT; s++) pf->split[s] = dt_data_split_size(d, (dt_split_id)s);
    pf->classes = dt_stage_classes(d);
    pf->layers = m->spec.desc.n_layers;
    pf->params = m->g->n_param_values;
    dt_model_free(m);
    return DT_OK;
}

cJSON *dt_stage_curve_number(double v)
{
    char buf[32];
    if (!isfinite(v)) return cJSON_CreateNull();
    snprintf(buf, sizeof buf, "%.6g", v);
    return cJSON_CreateNumber(strtod(buf, NULL));
}

cJSON *dt_stage_history_json(const dt_fit_result *fr, dt_split_id val)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int n = fr->n_history, with_val = 0;
    for (int i = 0; i < n; i++) with_val |= !isnan(fr->history[i].val_error);
    cJSON *ep = cJSON_AddArrayToObject(o, "epoch"), *tl = cJSON_AddArrayToObject(o, "train_loss");
    cJSON *te = cJSON_AddArrayToObject(o, "train_error");
    cJSON *vl = with_val ? cJSON_AddArrayToObject(o, "val_loss") : NULL;
    cJSON *ve = with_val ? cJSON_AddArrayToObject(o, "val_error") : NULL;
    for (int i = 0; i < n; i++) {
        const dt_fit_epoch *h = &fr->history[i];
        cJSON_AddItemToArray(ep, cJSON_CreateNumber(h->epoch));
        cJSON_AddItemToArray(tl, dt_stage_curve_number(h->train_loss));   /* NaN/Inf: null */
        cJSON_AddItemToArray(te, dt_stage_curve_number(h->train_error));
        if (vl) cJSON_AddItemToArray(vl, dt_stage_curve_number(h->val_loss));
        if (ve) cJSON_AddItemToArray(ve, dt_stage_curve_number(h->val_error));
    }
    if (with_val) cJSON_AddStringToObject(o, "val_split", dt_split_name(val));
    cJSON_AddNumberToObject(o, "best_epoch", fr->best_epoch);
    cJSON_AddNumberToObject(o, "epochs_run", fr->epochs_run);
    cJSON_AddNumberToObject(o, "stride", fr->history_stride);
    return o;
}
