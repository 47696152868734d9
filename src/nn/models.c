/* Description -> graph: model inputs, each layer's build function from the
 * layer table in listing order, then the loss.  One path for presets and
 * user descriptions alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/model.h"
#include "dnntrouble/ops_norm.h"
#include "layers_internal.h"

/* Which layers read layer i (by `in`, or as the next layer with no `in`). */
static int reads(const dt_layer_desc *l, int j, const char *name)
{
    (void)j;
    for (int k = 0; k < l->n_in; k++)
        if (strcmp(l->in[k], name) == 0) return 1;
    return 0;
}

static int first_reader(const dt_model_desc *d, int i)
{
    for (int j = i + 1; j < d->n_layers; j++) {
        const dt_layer_desc *l = &d->layers[j];
        if ((l->n_in == 0 && j == i + 1) || reads(l, j, d->layers[i].name)) return j;
    }
    return -1;
}

/* `init: default` for a layer's weights and biases: PyTorch's own start
 * (kaiming_uniform(a=sqrt 5) = U(+-1/sqrt fan_in) for weights, U(+-1/sqrt
 * fan_in) for biases) — measured against He-normal with zero biases, it is
 * about 0.2 points better on LeNet/MNIST in torch and here alike
 * (docs/fidelity.md) — except for what tanh or sigmoid reads (through
 * normalisation and dropout layers): Glorot-uniform weights, zero biases.
 * The output layer's U(+-1/sqrt fan_in) keeps the initial logits small, so
 * the initial loss sits near log(K) (Karpathy: "init well"). */
static void default_init(const dt_model_desc *d, int i, dt_init *weight, dt_init *bias)
{
    *weight = *bias = DT_INIT_UNIFORM_FAN_IN;
    for (int j = first_reader(d, i); j >= 0; j = first_reader(d, j)) {
        dt_layer_type t = d->layers[j].type;
        if (t == DT_LAYER_TANH || t == DT_LAYER_SIGMOID) {
            *weight = DT_INIT_GLOROT_UNIFORM;
            *bias = DT_INIT_ZERO;
            return;
        }
        if (t != DT_LAYER_BATCHNORM && t != DT_LAYER_LAYERNORM && t != DT_LAYER_DROPOUT) return;
    }
}

static const char *where_of(const dt_model_spec *s) { return s->source && s->source[0] ? s->source : "model"; }

static dt_status layer_error(const dt_model_spec *s, const dt_layer_desc *l, const char *msg)
{
    const char *type = dt_layer_def_get(l->type)->name;
    if (l->line > 0) return dt_fail(DT_ECONFIG, "%s:%d: layer '%s' (%s): %s", where_of(s), l->line, l->name, type, msg);
    return dt_fail(DT_ECONFIG, "%s: layer '%s' (%s): %s", where_of(s), l->name, type, msg);
}

int dt_model_input_index(const dt_model *m, const char *name)
{
    for (int i = 0; i < m->n_inputs; i++)
        if (strcmp(m->spec.inputs[i].name, name) == 0) return i;
    return -1;
}

int dt_model_layer_input(const dt_model *m, int i, int k, dt_node **node)
{
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    const char *name = l->n_in ? l->in[k] : NULL;
    int s = name ? dt_model_desc_find(&m->spec.desc, name) : i - 1;
    int x = name ? dt_model_input_index(m, name) : (i == 0 ? 0 : -1);
    if (s >= 0 && s < i) {
        *node = m->layer_out[s];
        return -1;
    }
    *node = x >= 0 ? m->inputs[x] : NULL;
    return x;
}

static dt_status build_layers(dt_model *m)
{
    dt_model_desc *d = &m->spec.desc;
    dt_graph *g = m->g;
    for (int i = 0; i < d->n_layers; i++) {
        const dt_layer_desc *l = &d->layers[i];
        const dt_layer_def *def = dt_layer_def_get(l->type);
        dt_layer_build b = {.g = g, .l = l, .classes = m->spec.outputs};
        default_init(d, i, &b.default_weight, &b.default_bias);
        dt_node *in[DT_MAX_LAYER_IN];
        int n_in = l->n_in ? l->n_in : 1;
        for (int k = 0; k < n_in; k++) {
            int x = dt_model_layer_input(m, i, k, &in[k]);
            if (!in[k]) return layer_error(&m->spec, l, "its input is missing (the description was not checked)");
            if (x >= 0 && m->spec.inputs[x].tokens) b.in_vocab[k] = m->spec.inputs[x].vocab;
        }
        dt_node *y = def->build(&b, in, n_in);
        if (!y || g->build_status) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s", g->build_status ? g->build_error : dt_last_error());
            return layer_error(&m->spec, l, msg);
        }
        m->layer_out[i] = y;
    }
    return DT_OK;
}

static dt_status attach_loss(dt_model *m)
{
    const dt_model_spec *s = &m->spec;
    const dt_layer_desc *last = &s->desc.layers[s->desc.n_layers - 1];
    dt_node *z = m->layer_out[s->desc.n_layers - 1];
    char sh[64];
    if (z->ndim != 2 || z->shape[1] != s->outputs) {
        size_t off = (size_t)snprintf(sh, sizeof sh, "[B");
        for (int i = 1; i < z->ndim; i++) off += (size_t)snprintf(sh + off, sizeof sh - off, ",%d", z->shape[i]);
        snprintf(sh + off, sizeof sh - off, "]");
        char msg[300];
        snprintf(msg, sizeof msg, "the model output is %s, but %s needs [B,%d] (%d %s): end with "
                 "a linear layer of `units: classes`", sh, s->loss == DT_LOSS_CROSS_ENTROPY ? "cross_entropy" : "mse",
                 s->outputs, s->outputs, s->loss == DT_LOSS_CROSS_ENTROPY ? "classes" : "targets");
        return layer_error(s, last, msg);
    }
    m->out = z;
    m->output_softmax = z->op == DT_OP_SOFTMAX;
    dt_graph *g = m->g;
    if (s->loss == DT_LOSS_CROSS_ENTROPY) {
        m->y = dt_input(g, "y", 1, (int[]){s->max_batch});
        m->loss = dt_cross_entropy(g, "loss", m->out, m->y);
    } else {
        m->y = dt_input(g, "y", 2, (int[]){s->max_batch, s->outputs});
        m->loss = dt_mse(g, "loss", m->out, m->y);
    }
    return DT_OK;
}

dt_status dt_model_build(const dt_model_spec *spec, dt_model **out)
{
    *out = NULL;
    if (spec->n_inputs < 1 || spec->n_inputs > DT_MAX_MODEL_INPUTS || spec->outputs < 1 || spec->max_batch < 1)
        return dt_fail(DT_EINTERNAL, "model: bad specification (%d inputs, %d outputs, batch %d)", spec->n_inputs,
                       spec->outputs, spec->max_batch);
    dt_model *m = calloc(1, sizeof *m);
    if (!m || !(m->g = dt_graph_new())) {
        free(m);
        return dt_fail(DT_ENOMEM, "model: out of memory");
    }
    m->spec = *spec;
    m->n_inputs = spec->n_inputs;
    dt_status st = dt_model_desc_check(&m->spec.desc, m->spec.inputs, m->n_inputs, where_of(spec));
    for (int i = 0; i < m->n_inputs && !st; i++) {
        const dt_input_shape *in = &spec->inputs[i];
        int xs[4] = {spec->max_batch};
        memcpy(xs + 1, in->shape, (size_t)in->ndim * sizeof(int));
        m->inputs[i] = dt_input(m->g, in->name, in->ndim + 1, xs);
        m->field[i] = spec->field[i];
        if (!m->inputs[i]) st = dt_fail_context(DT_EINTERNAL, "model input '%s'", in->name);
    }
    m->x = m->inputs[0];
    if (!st) st = build_layers(m);
    if (!st) st = attach_loss(m);
    if (!st) {
        st = dt_graph_compile(m->g, spec->max_batch);
        if (st) st = dt_fail_context(st, "building the %s model", spec->arch[0] ? spec->arch : "described");
    }
    if (st) {
        dt_model_free(m);
        return st;
    }
    *out = m;
    return DT_OK;
}

void dt_model_free(dt_model *m)
{
    if (!m) return;
    dt_graph_free(m->g);
    free(m);
}

void dt_model_init(dt_model *m, uint64_t seed)
{
    dt_graph_init_params(m->g, seed);
    dt_rng_seed(&m->g->rng, seed ^ 0xD1B54A32D192ED03ull);
    /* Batch-norm running statistics restart at mean 0, variance 1. */
    for (int i = 0; i < m->g->n_nodes; i++) {
        dt_node *n = m->g->nodes[i];
        if (n->op == DT_OP_BATCHNORM) dt_batchnorm_reset_state(n);
    }
}

dt_status dt_model_train_step(dt_model *m, dt_optimizer *o, float *loss_out)
{
    dt_graph *g = m->g;
    dt_graph_set_train(g, 1);
    dt_status st = dt_graph_forward(g, m->loss);
    if (!st) st = dt_graph_backward(g, m->loss);
    if (st) return st;
    *loss_out = m->loss->val[0];
    dt_optim_step(o, g->param_val, g->param_grad);
    return DT_OK;
}
