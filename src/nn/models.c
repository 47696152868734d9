/* Builders for the starter architectures with PyTorch state_dict names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/model.h"
#include "dnntrouble/ops_norm.h"

const char *dt_arch_label(dt_arch a)
{
    switch (a) {
    case DT_ARCH_MLP: return "mlp";
    case DT_ARCH_LENET: return "lenet";
    case DT_ARCH_LSTM: return "lstm";
    default: return "auto";
    }
}

/* Linear and conv layers followed by ReLU, and the output layer, start as PyTorch's
 * do: weights kaiming_uniform_(a=sqrt(5)), which is U(+-1/sqrt(fan_in)), and biases
 * U(+-1/sqrt(fan_in)) (docs/fidelity.md: on LeNet/MNIST this beat He-normal weights
 * with zero biases, in torch and here).  Layers followed by tanh keep Glorot-uniform
 * weights and zero biases.  Small logits at init keep the initial loss near -log(1/C)
 * (Karpathy: "init well"). */
#define TORCH_DEFAULT DT_INIT_UNIFORM_FAN_IN
#define OUTPUT_INIT TORCH_DEFAULT
#define OUTPUT_BIAS_INIT TORCH_DEFAULT
static dt_init weight_init(dt_activation act) { return act == DT_ACT_RELU ? TORCH_DEFAULT : DT_INIT_GLOROT_UNIFORM; }
static dt_init bias_init(dt_activation act) { return act == DT_ACT_RELU ? TORCH_DEFAULT : DT_INIT_ZERO; }

/* name.weight [out,in] and name.bias [out]: x·Wᵀ + b. */
static dt_node *linear(dt_graph *g, const char *name, dt_node *x, int in, int out, dt_init init, dt_init binit)
{
    char wn[DT_NAME_LEN], bn[DT_NAME_LEN];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    dt_node *w = dt_param(g, wn, name, 2, (int[]){out, in}, init, in, out);
    dt_node *b = dt_param(g, bn, name, 1, (int[]){out}, binit, in, out);
    return dt_bias_add(g, name, dt_matmul(g, name, x, w), b);
}

static dt_node *conv(dt_graph *g, const char *name, dt_node *x, int cin, int cout, int k, int pad, dt_activation act)
{
    char wn[DT_NAME_LEN], bn[DT_NAME_LEN];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int fan_in = cin * k * k, fan_out = cout * k * k;
    dt_node *w = dt_param(g, wn, name, 4, (int[]){cout, cin, k, k}, weight_init(act), fan_in, fan_out);
    dt_node *b = dt_param(g, bn, name, 1, (int[]){cout}, bias_init(act), fan_in, fan_out);
    return dt_bias_add(g, name, dt_conv2d(g, name, x, w, 1, pad), b);
}

/* Optional batch-norm (named bnN like torch attributes), the activation, optional dropout. */
static dt_node *hidden_act(dt_graph *g, const dt_model_spec *s, const char *layer, int bn_index,
                           dt_node *h, int channels)
{
    if (s->batch_norm && h) {
        char name[16], wn[DT_NAME_LEN], bn[DT_NAME_LEN];
        snprintf(name, sizeof name, "bn%d", bn_index);
        snprintf(wn, sizeof wn, "%s.weight", name);
        snprintf(bn, sizeof bn, "%s.bias", name);
        dt_node *gamma = dt_param(g, wn, name, 1, (int[]){channels}, DT_INIT_ONE, channels, channels);
        dt_node *beta = dt_param(g, bn, name, 1, (int[]){channels}, DT_INIT_ZERO, channels, channels);
        h = dt_batchnorm(g, name, h, gamma, beta, 0.1f, 1e-5f);
    }
    h = s->act == DT_ACT_RELU ? dt_relu(g, layer, h) : dt_tanh(g, layer, h);
    if (s->dropout > 0.0f) h = dt_dropout(g, layer, h, s->dropout);
    return h;
}

static dt_node *build_mlp(dt_graph *g, const dt_model_spec *s, dt_node *x)
{
    int d = 1;
    for (int i = 0; i < s->in_ndim; i++) d *= s->in_shape[i];
    dt_node *h = s->in_ndim > 1 ? dt_flatten(g, "flatten", x) : x;
    int in = d;
    char name[16];
    for (int l = 1; l <= s->depth; l++) {
        snprintf(name, sizeof name, "f%d", l);
        h = hidden_act(g, s, name, l, linear(g, name, h, in, s->hidden, weight_init(s->act), bias_init(s->act)), s->hidden);
        in = s->hidden;
    }
    snprintf(name, sizeof name, "f%d", s->depth + 1);
    return linear(g, name, h, in, s->outputs, OUTPUT_INIT, OUTPUT_BIAS_INIT);
}

static dt_node *build_lenet(dt_graph *g, const dt_model_spec *s, dt_node *x)
{
    int m = s->width_mult > 0 ? s->width_mult : 1;
    int c1 = 6 * m, c2 = 16 * m, u1 = 120 * m, u2 = 84 * m;
    dt_node *h = hidden_act(g, s, "c1", 1, conv(g, "c1", x, s->in_shape[0], c1, 5, 2, s->act), c1);
    h = dt_maxpool(g, "pool1", h, 2, 2);
    h = hidden_act(g, s, "c2", 2, conv(g, "c2", h, c1, c2, 5, 0, s->act), c2);
    h = dt_maxpool(g, "pool2", h, 2, 2);
    h = dt_flatten(g, "flatten", h);
    if (!h) return NULL;
    /* Dropout and batch-norm stay off the dense head's names to keep f1/f2/f3. */
    dt_model_spec dense = *s;
    dense.batch_norm = 0;
    h = hidden_act(g, &dense, "f1", 0, linear(g, "f1", h, h->shape[1], u1, weight_init(s->act), bias_init(s->act)), u1);
    h = hidden_act(g, &dense, "f2", 0, linear(g, "f2", h, u1, u2, weight_init(s->act), bias_init(s->act)), u2);
    return linear(g, "f3", h, u2, s->outputs, OUTPUT_INIT, OUTPUT_BIAS_INIT);
}

static dt_node *build_lstm(dt_graph *g, const dt_model_spec *s, dt_node *x)
{
    int D = s->in_ndim == 2 ? s->in_shape[1] : 1, H = s->hidden;
    if (s->in_ndim == 1) x = dt_reshape(g, "lstm", x, 3, (int[]){-1, s->in_shape[0], 1});
    dt_node *w_ih = dt_param(g, "lstm.weight_ih_l0", "lstm", 2, (int[]){4 * H, D}, DT_INIT_GLOROT_UNIFORM, D, H);
    dt_node *w_hh = dt_param(g, "lstm.weight_hh_l0", "lstm", 2, (int[]){4 * H, H}, DT_INIT_GLOROT_UNIFORM, H, H);
    dt_node *b_ih = dt_param(g, "lstm.bias_ih_l0", "lstm", 1, (int[]){4 * H}, DT_INIT_LSTM_BIAS, D, H);
    dt_node *b_hh = dt_param(g, "lstm.bias_hh_l0", "lstm", 1, (int[]){4 * H}, DT_INIT_ZERO, H, H);
    dt_node *h = dt_seq_last(g, "lstm", dt_lstm(g, "lstm", x, w_ih, w_hh, b_ih, b_hh));
    if (s->dropout > 0.0f) h = dt_dropout(g, "lstm", h, s->dropout);
    return linear(g, "fc", h, H, s->outputs, OUTPUT_INIT, OUTPUT_BIAS_INIT);
}

dt_status dt_model_build(const dt_model_spec *spec, dt_model **out)
{
    *out = NULL;
    if (spec->in_ndim < 1 || spec->in_ndim > 3 || spec->outputs < 1 || spec->max_batch < 1)
        return dt_fail(DT_EINTERNAL, "model: bad specification (%d input dims, %d outputs, batch %d)",
                       spec->in_ndim, spec->outputs, spec->max_batch);
    dt_model *m = calloc(1, sizeof *m);
    if (!m || !(m->g = dt_graph_new())) {
        free(m);
        return dt_fail(DT_ENOMEM, "model: out of memory");
    }
    m->spec = *spec;
    if (m->spec.depth < 1) m->spec.depth = 1;
    dt_graph *g = m->g;
    int xs[4] = {spec->max_batch};
    memcpy(xs + 1, spec->in_shape, (size_t)spec->in_ndim * sizeof(int));
    m->x = dt_input(g, "x", spec->in_ndim + 1, xs);
    dt_node *z = NULL;
    switch (spec->arch) {
    case DT_ARCH_MLP: z = build_mlp(g, &m->spec, m->x); break;
    case DT_ARCH_LENET:
        if (spec->in_ndim != 3) {
            dt_model_free(m);
            return dt_fail(DT_ECONFIG, "model: lenet needs image input [C,H,W], got %d-D samples", spec->in_ndim);
        }
        z = build_lenet(g, &m->spec, m->x);
        break;
    case DT_ARCH_LSTM:
        if (spec->in_ndim > 2) {
            dt_model_free(m);
            return dt_fail(DT_ECONFIG, "model: lstm needs sequence input [T,F], got %d-D samples", spec->in_ndim);
        }
        z = build_lstm(g, &m->spec, m->x);
        break;
    default:
        dt_model_free(m);
        return dt_fail(DT_EINTERNAL, "model: architecture not resolved");
    }
    m->out = spec->output_softmax ? dt_softmax(g, "output", z) : z;
    if (spec->loss == DT_LOSS_CROSS_ENTROPY) {
        m->y = dt_input(g, "y", 1, (int[]){spec->max_batch});
        m->loss = dt_cross_entropy(g, "loss", m->out, m->y);
    } else {
        m->y = dt_input(g, "y", 2, (int[]){spec->max_batch, spec->outputs});
        m->loss = dt_mse(g, "loss", m->out, m->y);
    }
    dt_status st = dt_graph_compile(g, spec->max_batch);
    if (st) {
        dt_model_free(m);
        return dt_fail_context(st, "building %s", dt_arch_label(spec->arch));
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
