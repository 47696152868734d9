#include "common.h"

#include <cblas.h>
#include <string.h>

dt_arch dt_stage_auto_arch(dt_modality m)
{
    return m == DT_MODALITY_IMAGE ? DT_ARCH_LENET : m == DT_MODALITY_SEQUENCE ? DT_ARCH_LSTM : DT_ARCH_MLP;
}

dt_status dt_stage_prepare(dt_stage_ctx *ctx, dt_data **d)
{
    openblas_set_num_threads(ctx->cfg->threads > 0 ? ctx->cfg->threads : 1);
    dt_status st = dt_stage_ctx_data(ctx, d);
    if (st) return st;
    dt_config *cfg = ctx->cfg;
    cfg->data.modality = dt_data_modality(*d);
    if (cfg->model.arch == DT_ARCH_AUTO) cfg->model.arch = dt_stage_auto_arch(cfg->data.modality);
    return DT_OK;
}

int dt_stage_classes(const dt_data *d) { return d->task == DT_TASK_CLASSIFICATION ? dt_data_classes(d) : 0; }

void dt_stage_model_spec(const dt_config *cfg, const dt_data *d, int max_batch, dt_model_spec *s)
{
    memset(s, 0, sizeof *s);
    s->arch = cfg->model.arch == DT_ARCH_AUTO ? dt_stage_auto_arch(dt_data_modality(d)) : cfg->model.arch;
    s->in_ndim = dt_data_sample_ndim(d);
    memcpy(s->in_shape, dt_data_sample_shape(d), (size_t)s->in_ndim * sizeof(int));
    /* An MLP sees every input flattened; a sequence model on flat tabular
     * data reads one feature per step. */
    s->outputs = dt_data_classes(d);
    s->hidden = cfg->model.hidden;
    s->depth = cfg->model.depth;
    s->width_mult = 1;
    s->act = cfg->model.activation;
    s->output_softmax = cfg->model.output_activation == DT_OUT_SOFTMAX;
    s->dropout = (float)cfg->train.dropout;
    s->batch_norm = cfg->model.batch_norm;
    s->loss = cfg->loss;
    s->max_batch = max_batch;
}

dt_status dt_stage_build_model(const dt_config *cfg, const dt_data *d, int max_batch, dt_model **m)
{
    dt_model_spec s;
    dt_stage_model_spec(cfg, d, max_batch, &s);
    dt_status st = dt_model_build(&s, m);
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

dt_status dt_stage_fit(const dt_config *cfg, const dt_data *d, dt_model *m, const dt_fit_opts *fo,
                       dt_fit_result *res)
{
    dt_optim_cfg oc = dt_stage_optim_cfg(cfg, dt_fit_planned_steps(d, fo, (size_t)m->g->max_batch));
    dt_optimizer o;
    dt_status st = dt_optim_init(&o, &oc, m->g->n_param_values);
    if (st) return st;
    st = dt_model_fit(m, &o, d, fo, res);
    dt_optim_free(&o);
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
