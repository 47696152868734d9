/* THE layer table (include/dnntrouble/layers.h says how to add a type).
 * Every layer type of SPEC "Models described in the config" is one entry:
 * options with defaults and ranges, how many inputs it reads, whether it has
 * parameters, and a build function that checks its input shapes and applies
 * ops.  The config parser, docs/config.md, the graph builder (models.c) and
 * the checkpoint names all follow this table. */
#include "layers_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const return_names[] = {"last", "sequence", NULL};
static const char *const how_names[] = {"last", "mean", NULL};

#define NOOPTS 0, {{0}}
#define INT_OPT(n, d, lo, hi, doc) {n, DT_LOPT_INT, d, lo, hi, 0, NULL, doc}
#define BOOL_OPT(n, d, doc) {n, DT_LOPT_BOOL, d, 0, 1, 0, NULL, doc}
#define FLOAT_OPT(n, d, lo, hi, open, doc) {n, DT_LOPT_FLOAT, d, lo, hi, open, NULL, doc}

/* ------------------------------------------------------------ helpers */

dt_node *dt_layer_fail(dt_layer_build *b, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dt_fail(DT_ECONFIG, "%s", msg);
    b->failed = 1;
    return NULL;
}

static const char *shape_of(const dt_node *n, char *buf, size_t len)
{
    /* Shown with B for the batch: the user writes per-sample shapes. */
    size_t off = (size_t)snprintf(buf, len, "[B");
    for (int i = 1; i < n->ndim && off < len; i++) off += (size_t)snprintf(buf + off, len - off, ",%d", n->shape[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
    return buf;
}

static dt_node *need_ndim(dt_layer_build *b, const dt_node *x, int lo, int hi, const char *what)
{
    if (x->ndim >= lo && x->ndim <= hi) return (dt_node *)x;
    char s[64];
    return dt_layer_fail(b, "needs %s input, got %s", what, shape_of(x, s, sizeof s));
}

/* name.suffix: a layer name (< 40) and a suffix (<= 20) always fit DT_NAME_LEN. */
_Static_assert(DT_LAYER_NAME_LEN + 22 <= DT_NAME_LEN, "tensor names must fit");
static const char *tensor_name(dt_layer_build *b, char *buf, const char *suffix)
{
    snprintf(buf, DT_NAME_LEN, "%.39s.%.20s", b->l->name, suffix);
    return buf;
}

static dt_init weight_init(const dt_layer_build *b, dt_node *p)
{
    switch (b->l->init) {
    case DT_LINIT_HE_NORMAL: return DT_INIT_HE_NORMAL;
    case DT_LINIT_GLOROT_UNIFORM: return DT_INIT_GLOROT_UNIFORM;
    case DT_LINIT_TORCH_DEFAULT: return DT_INIT_UNIFORM_FAN_IN;   /* kaiming_uniform(a=sqrt 5) = U(+-1/sqrt fan_in) */
    case DT_LINIT_ZEROS: return DT_INIT_ZERO;
    case DT_LINIT_CONSTANT: p->farg[0] = (float)b->l->init_value; return DT_INIT_CONSTANT;
    case DT_LINIT_NORMAL: p->farg[0] = (float)b->l->init_value; return DT_INIT_NORMAL;
    default: return b->default_weight;
    }
}

static dt_init bias_init(const dt_layer_build *b, dt_node *p)
{
    switch (b->l->init) {
    case DT_LINIT_TORCH_DEFAULT: return DT_INIT_UNIFORM_FAN_IN;
    case DT_LINIT_CONSTANT: p->farg[0] = (float)b->l->init_value; return DT_INIT_CONSTANT;
    case DT_LINIT_DEFAULT: return b->default_bias;
    default: return DT_INIT_ZERO;
    }
}

/* A weight (kind 'w') or bias ('b') tensor of the layer, initialised per `init`. */
static dt_node *param(dt_layer_build *b, const char *suffix, int kind, int ndim, const int *shape, int fan_in,
                      int fan_out)
{
    char name[DT_NAME_LEN];
    dt_node *p = dt_param(b->g, tensor_name(b, name, suffix), b->l->name, ndim, shape, DT_INIT_ZERO, fan_in, fan_out);
    if (p) p->init = kind == 'w' ? weight_init(b, p) : bias_init(b, p);
    return p;
}

/* Normalisation layers: scale 1 and shift 0 unless the user asked otherwise. */
static dt_node *norm_param(dt_layer_build *b, const char *suffix, int n, int scale)
{
    char name[DT_NAME_LEN];
    dt_node *p = dt_param(b->g, tensor_name(b, name, suffix), b->l->name, 1, (int[]){n},
                          scale ? DT_INIT_ONE : DT_INIT_ZERO, n, n);
    if (p && (b->l->init == DT_LINIT_CONSTANT || b->l->init == DT_LINIT_ZEROS)) {
        p->init = b->l->init == DT_LINIT_ZEROS ? DT_INIT_ZERO : DT_INIT_CONSTANT;
        p->farg[0] = (float)b->l->init_value;
    }
    return p;
}

static int units_of(const dt_layer_build *b, double v) { return v == DT_UNITS_CLASSES ? b->classes : (int)v; }
#define OPT(i) (b->l->opt[i])

/* ------------------------------------------------------------ builders */

static dt_node *build_linear(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    char s[64];
    if (x->ndim == 4)
        return dt_layer_fail(b, "needs features [B,F] (or steps [B,T,F]), got %s: put a flatten before it",
                             shape_of(x, s, sizeof s));
    if (!need_ndim(b, x, 2, 3, "[B,F] or [B,T,F]")) return NULL;
    int K = x->shape[x->ndim - 1], N = units_of(b, OPT(0));
    dt_node *w = param(b, "weight", 'w', 2, (int[]){N, K}, K, N);
    dt_node *y = dt_matmul(b->g, b->l->name, x, w);
    if (OPT(1) != 0) y = dt_bias_add(b->g, b->l->name, y, param(b, "bias", 'b', 1, (int[]){N}, K, N));
    return y;
}

static dt_node *build_conv2d(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    if (!need_ndim(b, x, 4, 4, "image [B,C,H,W]")) return NULL;
    int cin = x->shape[1], cout = (int)OPT(0), k = (int)OPT(1), stride = (int)OPT(2), pad = (int)OPT(3);
    if (x->shape[2] + 2 * pad < k || x->shape[3] + 2 * pad < k) {
        char s[64];
        return dt_layer_fail(b, "kernel %d does not fit input %s with padding %d", k, shape_of(x, s, sizeof s), pad);
    }
    int fan_in = cin * k * k, fan_out = cout * k * k;
    dt_node *w = param(b, "weight", 'w', 4, (int[]){cout, cin, k, k}, fan_in, fan_out);
    dt_node *y = dt_conv2d(b->g, b->l->name, x, w, stride, pad);
    if (OPT(4) != 0) y = dt_bias_add(b->g, b->l->name, y, param(b, "bias", 'b', 1, (int[]){cout}, fan_in, fan_out));
    return y;
}

static dt_node *build_pool(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    if (!need_ndim(b, x, 4, 4, "image [B,C,H,W]")) return NULL;
    int k = (int)OPT(0), s = OPT(1) > 0 ? (int)OPT(1) : k;
    if (x->shape[2] < k || x->shape[3] < k) {
        char sh[64];
        return dt_layer_fail(b, "kernel %d is larger than the input %s", k, shape_of(x, sh, sizeof sh));
    }
    return b->l->type == DT_LAYER_MAXPOOL ? dt_maxpool(b->g, b->l->name, x, k, s) : dt_avgpool(b->g, b->l->name, x, k, s);
}

static dt_node *build_global_avgpool(dt_layer_build *b, dt_node *const *in, int n_in)
{
    if (!need_ndim(b, in[0], 4, 4, "image [B,C,H,W]")) return NULL;
    return dt_global_avgpool(b->g, b->l->name, in[0]);
}

static dt_node *build_flatten(dt_layer_build *b, dt_node *const *in, int n_in)
{
    return in[0]->ndim == 2 ? in[0] : dt_flatten(b->g, b->l->name, in[0]);
}

static dt_node *build_activation(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_graph *g = b->g;
    const char *n = b->l->name;
    switch (b->l->type) {
    case DT_LAYER_RELU: return dt_relu(g, n, in[0]);
    case DT_LAYER_LEAKY_RELU: return dt_leaky_relu(g, n, in[0], (float)OPT(0));
    case DT_LAYER_TANH: return dt_tanh(g, n, in[0]);
    case DT_LAYER_SIGMOID: return dt_sigmoid(g, n, in[0]);
    case DT_LAYER_SOFTMAX: return dt_softmax(g, n, in[0]);
    case DT_LAYER_GELU: return dt_gelu(g, n, in[0]);
    default: return dt_dropout(g, n, in[0], (float)OPT(0));
    }
}

static dt_node *build_batchnorm(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    if (x->ndim != 2 && x->ndim != 4) {
        char s[64];
        return dt_layer_fail(b, "normalises features [B,F] or channels of [B,C,H,W], got %s", shape_of(x, s, sizeof s));
    }
    int c = x->shape[1];
    dt_node *gamma = norm_param(b, "weight", c, 1), *beta = norm_param(b, "bias", c, 0);
    return dt_batchnorm(b->g, b->l->name, x, gamma, beta, (float)OPT(0), (float)OPT(1));
}

static dt_node *build_layernorm(dt_layer_build *b, dt_node *const *in, int n_in)
{
    int f = in[0]->shape[in[0]->ndim - 1];
    dt_node *gamma = norm_param(b, "weight", f, 1), *beta = norm_param(b, "bias", f, 0);
    return dt_layernorm(b->g, b->l->name, in[0], gamma, beta, (float)OPT(0));
}

static dt_node *build_embedding(dt_layer_build *b, dt_node *const *in, int n_in)
{
    char s[64];
    if (b->in_vocab[0] <= 0)
        return dt_layer_fail(b, "reads integer token ids, but '%s' (%s) is not a token sequence; an embedding reads "
                             "a model input of token ids directly", b->l->n_in ? b->l->in[0] : "its input",
                             shape_of(in[0], s, sizeof s));
    int V = b->in_vocab[0], D = (int)OPT(0);
    char name[DT_NAME_LEN];
    /* torch's nn.Embedding draws N(0, 1). */
    dt_node *w = dt_param(b->g, tensor_name(b, name, "weight"), b->l->name, 2, (int[]){V, D}, DT_INIT_NORMAL, V, D);
    if (w) {
        w->farg[0] = 1.0f;
        if (b->l->init != DT_LINIT_DEFAULT && b->l->init != DT_LINIT_TORCH_DEFAULT) w->init = weight_init(b, w);
    }
    return dt_embedding(b->g, b->l->name, in[0], w);
}

static dt_node *build_lstm(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    char s[64];
    if (x->ndim == 2) x = dt_reshape(b->g, b->l->name, x, 3, (int[]){-1, x->shape[1], 1}); /* one feature per step */
    else if (x->ndim != 3) return dt_layer_fail(b, "needs a sequence [B,T,F], got %s", shape_of(x, s, sizeof s));
    if (!x) return NULL;
    int H = (int)OPT(0), L = (int)OPT(1);
    for (int l = 0; l < L && x; l++) {
        int D = x->shape[2];
        char wi[24], wh[24], bi[24], bh[24];
        snprintf(wi, sizeof wi, "weight_ih_l%d", l);
        snprintf(wh, sizeof wh, "weight_hh_l%d", l);
        snprintf(bi, sizeof bi, "bias_ih_l%d", l);
        snprintf(bh, sizeof bh, "bias_hh_l%d", l);
        dt_node *w_ih = param(b, wi, 'w', 2, (int[]){4 * H, D}, D, H);
        dt_node *w_hh = param(b, wh, 'w', 2, (int[]){4 * H, H}, H, H);
        dt_node *b_ih = param(b, bi, 'b', 1, (int[]){4 * H}, D, H);
        dt_node *b_hh = param(b, bh, 'b', 1, (int[]){4 * H}, H, H);
        /* Default: Glorot weights and the forget gate's bias at 1 (Jozefowicz et al. 2015). */
        if (b_ih && b->l->init == DT_LINIT_DEFAULT) {
            w_ih->init = w_hh->init = DT_INIT_GLOROT_UNIFORM;
            b_ih->init = DT_INIT_LSTM_BIAS;
            b_hh->init = DT_INIT_ZERO;
        }
        /* torch draws every LSTM tensor from U(+-1/sqrt(hidden)). */
        if (b_ih && b->l->init == DT_LINIT_TORCH_DEFAULT) {
            w_ih->fan_in = w_hh->fan_in = b_ih->fan_in = b_hh->fan_in = H;
        }
        x = dt_lstm(b->g, b->l->name, x, w_ih, w_hh, b_ih, b_hh);
    }
    return OPT(2) == 0 ? dt_seq_last(b->g, b->l->name, x) : x;
}

static dt_node *build_seq_pool(dt_layer_build *b, dt_node *const *in, int n_in)
{
    if (!need_ndim(b, in[0], 3, 3, "a sequence [B,T,F]")) return NULL;
    return OPT(0) == 0 ? dt_seq_last(b->g, b->l->name, in[0]) : dt_seq_mean(b->g, b->l->name, in[0]);
}

/* torch's nn.MultiheadAttention(D, heads, batch_first=True) as self-attention:
 * NAME.in_proj_weight [3D,D], NAME.in_proj_bias [3D], NAME.out_proj.weight
 * [D,D], NAME.out_proj.bias [D].  `init: default` (and torch_default) is
 * torch's own: xavier_uniform in_proj_weight, out_proj.weight U(+-1/sqrt D),
 * biases zero. */
static dt_node *build_attention(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    char s[64];
    if (!need_ndim(b, x, 3, 3, "a sequence [B,T,F]")) return NULL;
    int D = x->shape[2], H = (int)OPT(0);
    if (D % H)
        return dt_layer_fail(b, "heads %d do not divide the %d features of its input %s: make the features a multiple "
                             "of the heads", H, D, shape_of(x, s, sizeof s));
    dt_node *wi = param(b, "in_proj_weight", 'w', 2, (int[]){3 * D, D}, D, 3 * D);
    dt_node *bi = param(b, "in_proj_bias", 'b', 1, (int[]){3 * D}, D, 3 * D);
    dt_node *wo = param(b, "out_proj.weight", 'w', 2, (int[]){D, D}, D, D);
    dt_node *bo = param(b, "out_proj.bias", 'b', 1, (int[]){D}, D, D);
    if (bo && (b->l->init == DT_LINIT_DEFAULT || b->l->init == DT_LINIT_TORCH_DEFAULT)) {
        wi->init = DT_INIT_GLOROT_UNIFORM;
        wo->init = DT_INIT_UNIFORM_FAN_IN;
        bi->init = bo->init = DT_INIT_ZERO;
    }
    return dt_attention(b->g, b->l->name, x, wi, bi, wo, bo, H, OPT(1) != 0);
}

/* A learned [1,T,D] tensor added to every sample; named as the layer itself
 * (torch: an nn.Parameter attribute, `self.pos`).  Default init N(0, 0.02^2)
 * (GPT-2, ViT); torch_default: zeros, as torch.zeros(1, T, D) would be. */
static dt_node *build_positional(dt_layer_build *b, dt_node *const *in, int n_in)
{
    dt_node *x = in[0];
    if (!need_ndim(b, x, 3, 3, "a sequence [B,T,F]")) return NULL;
    int T = x->shape[1], D = x->shape[2];
    dt_node *p = dt_param(b->g, b->l->name, b->l->name, 3, (int[]){1, T, D}, DT_INIT_NORMAL, T, D);
    if (p) {
        p->farg[0] = 0.02f;
        if (b->l->init == DT_LINIT_TORCH_DEFAULT) p->init = DT_INIT_ZERO;
        else if (b->l->init != DT_LINIT_DEFAULT) p->init = weight_init(b, p);
    }
    return dt_pos_add(b->g, b->l->name, x, p);
}

static dt_node *build_add(dt_layer_build *b, dt_node *const *in, int n_in)
{
    char s0[64], s1[64];
    if (in[0]->ndim != in[1]->ndim || memcmp(in[0]->shape + 1, in[1]->shape + 1, (size_t)(in[0]->ndim - 1) * sizeof(int)))
        return dt_layer_fail(b, "adds inputs of equal shape, got '%s' %s and '%s' %s", b->l->in[0],
                             shape_of(in[0], s0, sizeof s0), b->l->in[1], shape_of(in[1], s1, sizeof s1));
    return dt_add(b->g, b->l->name, in[0], in[1]);
}

static dt_node *build_concat(dt_layer_build *b, dt_node *const *in, int n_in)
{
    for (int i = 0; i < n_in; i++)
        if (in[i]->ndim != 2) {
            char s[64];
            return dt_layer_fail(b, "joins features [B,F]; '%s' is %s: flatten (or pool) it first", b->l->in[i],
                                 shape_of(in[i], s, sizeof s));
        }
    dt_node *y = in[0];
    for (int i = 1; i < n_in && y; i++) y = dt_concat(b->g, b->l->name, y, in[i], 1);
    return y;
}

static dt_node *build_reshape(dt_layer_build *b, dt_node *const *in, int n_in)
{
    size_t have = dt_numel(in[0]) / (size_t)in[0]->shape[0], want = 1;
    int shape[4] = {-1};
    for (int i = 0; i < b->l->n_shape; i++) {
        want *= (size_t)b->l->shape[i];
        shape[i + 1] = b->l->shape[i];
    }
    if (have != want) {
        char s[64];
        return dt_layer_fail(b, "shape of %zu values per sample does not fit the input %s (%zu values)", want,
                             shape_of(in[0], s, sizeof s), have);
    }
    return dt_reshape(b->g, b->l->name, in[0], b->l->n_shape + 1, shape);
}

/* ------------------------------------------------------------ the table */

static const dt_layer_def table[DT_LAYER_TYPE_COUNT] = {
    [DT_LAYER_LINEAR] = {"linear", 2, {
        {"units", DT_LOPT_UNITS, DT_UNITS_CLASSES, 1, 1 << 20, 0, NULL, "outputs; `classes` = K classes or the target width"},
        BOOL_OPT("bias", 1, "add a learned bias")}, 1, 1, 1,
        "x·Wᵀ + b over the last axis (torch nn.Linear: weight [units, in], bias [units])", build_linear},
    [DT_LAYER_CONV2D] = {"conv2d", 5, {
        INT_OPT("channels", 16, 1, 1 << 16, "output channels"),
        INT_OPT("kernel", 3, 1, 64, "square kernel size"),
        INT_OPT("stride", 1, 1, 64, "step between windows"),
        INT_OPT("padding", 0, 0, 64, "zeros added on each side"),
        BOOL_OPT("bias", 1, "add a learned bias per channel")}, 1, 1, 1,
        "2-D convolution over [B,C,H,W] (torch nn.Conv2d: weight [channels, C, k, k])", build_conv2d},
    [DT_LAYER_MAXPOOL] = {"maxpool", 2, {
        INT_OPT("kernel", 2, 1, 64, "square window"),
        INT_OPT("stride", 0, 0, 64, "step; 0 = the kernel size")}, 1, 1, 0, "max over each window", build_pool},
    [DT_LAYER_AVGPOOL] = {"avgpool", 2, {
        INT_OPT("kernel", 2, 1, 64, "square window"),
        INT_OPT("stride", 0, 0, 64, "step; 0 = the kernel size")}, 1, 1, 0, "mean over each window", build_pool},
    [DT_LAYER_GLOBAL_AVGPOOL] = {"global_avgpool", NOOPTS, 1, 1, 0, "[B,C,H,W] -> [B,C], the mean over positions",
        build_global_avgpool},
    [DT_LAYER_FLATTEN] = {"flatten", NOOPTS, 1, 1, 0, "[B, ...] -> [B, product]", build_flatten},
    [DT_LAYER_RELU] = {"relu", NOOPTS, 1, 1, 0, "max(x, 0)", build_activation},
    [DT_LAYER_LEAKY_RELU] = {"leaky_relu", 1, {FLOAT_OPT("slope", 0.01, 0, 1, 0, "slope for x < 0")}, 1, 1, 0,
        "x > 0 ? x : slope·x", build_activation},
    [DT_LAYER_TANH] = {"tanh", NOOPTS, 1, 1, 0, "tanh(x)", build_activation},
    [DT_LAYER_SIGMOID] = {"sigmoid", NOOPTS, 1, 1, 0, "1 / (1 + e^-x)", build_activation},
    [DT_LAYER_SOFTMAX] = {"softmax", NOOPTS, 1, 1, 0,
        "softmax over the last axis (before a logits loss this is the classic silent bug)", build_activation},
    [DT_LAYER_DROPOUT] = {"dropout", 1, {FLOAT_OPT("rate", 0.5, 0, 1, 0, "share of units zeroed in training, in [0, 1)")},
        1, 1, 0, "inverted dropout (scaled in training, identity in evaluation)", build_activation},
    [DT_LAYER_BATCHNORM] = {"batchnorm", 2, {
        FLOAT_OPT("momentum", 0.1, 0, 1, 0, "running-statistics update (torch's convention)"),
        FLOAT_OPT("eps", 1e-5, 0, 1, 1, "added to the variance")}, 1, 1, 1,
        "batch normalisation over features of [B,F] or channels of [B,C,H,W] (torch BatchNorm1d/2d)", build_batchnorm},
    [DT_LAYER_LAYERNORM] = {"layernorm", 1, {FLOAT_OPT("eps", 1e-5, 0, 1, 1, "added to the variance")}, 1, 1, 1,
        "layer normalisation over the last axis (torch nn.LayerNorm)", build_layernorm},
    [DT_LAYER_EMBEDDING] = {"embedding", 1, {INT_OPT("dim", 64, 1, 1 << 16, "vector size per token")}, 1, 1, 1,
        "token ids [B,T] -> vectors [B,T,dim]; the vocabulary comes from the data", build_embedding},
    [DT_LAYER_LSTM] = {"lstm", 3, {
        INT_OPT("hidden", 64, 1, 1 << 14, "hidden size"),
        INT_OPT("layers", 1, 1, 16, "stacked layers (torch num_layers: weight_ih_lN ...)"),
        {"return", DT_LOPT_ENUM, 0, 0, 1, 0, return_names, "last: [B,H] of the last step; sequence: [B,T,H]"}}, 1, 1, 1,
        "LSTM over [B,T,F] with torch's gate order i,f,g,o (nn.LSTM, batch_first)", build_lstm},
    [DT_LAYER_SEQ_POOL] = {"seq_pool", 1, {{"how", DT_LOPT_ENUM, 0, 0, 1, 0, how_names, "last step or mean over steps"}},
        1, 1, 0, "[B,T,F] -> [B,F]", build_seq_pool},
    [DT_LAYER_ADD] = {"add", NOOPTS, 2, 2, 0, "element-wise sum of two equal shapes (a residual)", build_add},
    [DT_LAYER_CONCAT] = {"concat", NOOPTS, 2, DT_MAX_LAYER_IN, 0, "joins [B,F] inputs along the features", build_concat},
    [DT_LAYER_RESHAPE] = {"reshape", 1, {{"shape", DT_LOPT_SHAPE, DT_LOPT_REQUIRED, 1, 1 << 20, 0, NULL,
        "per-sample shape, 1 to 3 sizes"}}, 1, 1, 0, "[B, ...] -> [B, shape...] (same number of values)", build_reshape},
    [DT_LAYER_GELU] = {"gelu", NOOPTS, 1, 1, 0, "x·Φ(x), the exact (erf) form (torch nn.GELU)", build_activation},
    [DT_LAYER_ATTENTION] = {"attention", 2, {
        INT_OPT("heads", 4, 1, 1024, "attention heads; they divide the features"),
        BOOL_OPT("causal", 0, "step t attends to steps <= t only")}, 1, 1, 1,
        "multi-head self-attention over [B,T,F] with its input and output projections (torch nn.MultiheadAttention, "
        "batch_first: in_proj_weight [3F,F], in_proj_bias, out_proj.weight [F,F], out_proj.bias)", build_attention},
    [DT_LAYER_POSITIONAL] = {"positional", NOOPTS, 1, 1, 1,
        "adds a learned position embedding [1,T,F] to [B,T,F]; its tensor is named as the layer (torch: an "
        "nn.Parameter)", build_positional},
};

const dt_layer_def *dt_layer_def_get(dt_layer_type t)
{
    return (int)t >= 0 && t < DT_LAYER_TYPE_COUNT ? &table[t] : NULL;
}

int dt_layer_type_find(const char *name)
{
    for (int t = 0; t < DT_LAYER_TYPE_COUNT; t++)
        if (strcmp(table[t].name, name) == 0) return t;
    return -1;
}

int dt_layer_opt_find(dt_layer_type t, const char *name)
{
    const dt_layer_def *d = dt_layer_def_get(t);
    for (int i = 0; d && i < d->n_opts; i++)
        if (strcmp(d->opts[i].name, name) == 0) return i;
    return -1;
}

static const char *const init_names[DT_LINIT_COUNT] = {"default", "he_normal", "glorot_uniform", "torch_default",
                                                       "zeros", "constant", "normal"};
const char *dt_layer_init_name(dt_layer_init i) { return (int)i >= 0 && i < DT_LINIT_COUNT ? init_names[i] : "?"; }
int dt_layer_init_find(const char *name)
{
    for (int i = 0; i < DT_LINIT_COUNT; i++)
        if (strcmp(init_names[i], name) == 0) return i;
    return -1;
}

void dt_layer_desc_init(dt_layer_desc *l, dt_layer_type t, const char *name)
{
    memset(l, 0, sizeof *l);
    l->type = t;
    snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    const dt_layer_def *d = &table[t];
    for (int i = 0; i < d->n_opts; i++) l->opt[i] = d->opts[i].kind == DT_LOPT_SHAPE ? 0 : d->opts[i].def;
}

dt_layer_desc *dt_model_desc_add(dt_model_desc *d, dt_layer_type t, const char *name)
{
    if (d->n_layers >= DT_MAX_LAYERS) return NULL;
    dt_layer_desc *l = &d->layers[d->n_layers++];
    dt_layer_desc_init(l, t, name);
    return l;
}

int dt_model_desc_find(const dt_model_desc *d, const char *name)
{
    for (int i = 0; i < d->n_layers; i++)
        if (strcmp(d->layers[i].name, name) == 0) return i;
    return -1;
}

double dt_layer_opt(const dt_layer_desc *l, const char *opt)
{
    int i = dt_layer_opt_find(l->type, opt);
    return i >= 0 ? l->opt[i] : 0.0;
}

void dt_layer_set_opt(dt_layer_desc *l, const char *opt, double v)
{
    int i = dt_layer_opt_find(l->type, opt);
    if (i >= 0) l->opt[i] = v;
}

/* ------------------------------------------------------------ option text */

static int parse_num(const char *s, double *out)
{
    char *end;
    if (!*s) return 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

dt_status dt_layer_parse_opt(dt_layer_desc *l, int opt, const char *value, const char *where)
{
    const dt_layer_opt_def *o = &table[l->type].opts[opt];
    double v;
    switch (o->kind) {
    case DT_LOPT_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on")) v = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off")) v = 0;
        else return dt_fail(DT_ECONFIG, "%s: %s must be true or false, not '%s'", where, o->name, value);
        break;
    case DT_LOPT_ENUM: {
        int k = -1;
        for (int i = 0; o->enums[i]; i++)
            if (!strcmp(o->enums[i], value)) k = i;
        if (k < 0) {
            char list[128] = "";
            for (int i = 0; o->enums[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? " | " : "", o->enums[i]);
            return dt_fail(DT_ECONFIG, "%s: %s must be %s, not '%s'", where, o->name, list, value);
        }
        v = k;
        break;
    }
    case DT_LOPT_UNITS:
        if (!strcmp(value, "classes")) {
            v = DT_UNITS_CLASSES;
            break;
        }
        __attribute__((fallthrough));   /* otherwise a number */
    case DT_LOPT_INT:
        if (!parse_num(value, &v) || v != floor(v))
            return dt_fail(DT_ECONFIG, "%s: %s must be an integer%s, not '%s'", where, o->name,
                           o->kind == DT_LOPT_UNITS ? " or `classes`" : "", value);
        if (v < o->lo || v > o->hi)
            return dt_fail(DT_ECONFIG, "%s: %s must be in [%g, %g], not %s", where, o->name, o->lo, o->hi, value);
        break;
    case DT_LOPT_FLOAT:
        if (!parse_num(value, &v)) return dt_fail(DT_ECONFIG, "%s: %s must be a number, not '%s'", where, o->name, value);
        if ((o->lo_open ? v <= o->lo : v < o->lo) || (o->lo_open ? v > o->hi : v >= o->hi))
            return dt_fail(DT_ECONFIG, "%s: %s must be in %s%g, %g%s, not %s", where, o->name, o->lo_open ? "(" : "[",
                           o->lo, o->hi, o->lo_open ? "]" : ")", value);
        break;
    default:
        return dt_fail(DT_ECONFIG, "%s: %s must be a list of 1 to 3 sizes, e.g. [16, 7, 7]", where, o->name);
    }
    l->opt[opt] = v;
    return DT_OK;
}

void dt_layer_format_opt(const dt_layer_desc *l, int opt, char *buf, unsigned long size)
{
    const dt_layer_opt_def *o = &table[l->type].opts[opt];
    double v = l->opt[opt];
    switch (o->kind) {
    case DT_LOPT_BOOL: snprintf(buf, size, "%s", v != 0 ? "true" : "false"); break;
    case DT_LOPT_ENUM: snprintf(buf, size, "%s", o->enums[(int)v]); break;
    case DT_LOPT_UNITS:
        if (v == DT_UNITS_CLASSES) {
            snprintf(buf, size, "classes");
            break;
        }
        __attribute__((fallthrough));
    case DT_LOPT_INT: snprintf(buf, size, "%d", (int)v); break;
    case DT_LOPT_FLOAT: snprintf(buf, size, "%.17g", v); break;
    default: snprintf(buf, size, "[]"); break;
    }
}

/* ------------------------------------------------------------ graph check */

/* 1 when layer j depends on layer i through `in` links (listing order
 * aside).  Each layer is walked once (seen): layers that read each other by
 * many routes would otherwise cost one walk per route, 2^layers (fuzz_model:
 * 9 layers reading [r1, f2] ran past the fuzzer's timeout). */
static int depends_on(const dt_model_desc *d, int j, int i, unsigned char *seen)
{
    if (j == i) return 1;
    if (seen[j]) return 0;
    seen[j] = 1;
    const dt_layer_desc *l = &d->layers[j];
    if (l->n_in == 0) return j > 0 && depends_on(d, j - 1, i, seen);
    for (int k = 0; k < l->n_in; k++) {
        int s = dt_model_desc_find(d, l->in[k]);
        if (s >= 0 && depends_on(d, s, i, seen)) return 1;
    }
    return 0;
}

static dt_status desc_fail(const char *where, const dt_layer_desc *l, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l && l->line > 0) return dt_fail(DT_ECONFIG, "%s:%d: layer '%s': %s", where, l->line, l->name, msg);
    if (l) return dt_fail(DT_ECONFIG, "%s: layer '%s': %s", where, l->name, msg);
    return dt_fail(DT_ECONFIG, "%s: model: %s", where, msg);
}

static int input_index(const dt_input_shape *inputs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(inputs[i].name, name) == 0) return i;
    return -1;
}

void dt_model_desc_name_layers(dt_model_desc *d)
{
    int count[DT_LAYER_TYPE_COUNT] = {0};
    for (int i = 0; i < d->n_layers; i++) {
        dt_layer_desc *l = &d->layers[i];
        count[l->type]++;
        if (!l->name[0]) snprintf(l->name, sizeof l->name, "%s%d", table[l->type].name, count[l->type]);
    }
}

dt_status dt_model_desc_check(dt_model_desc *d, const dt_input_shape *inputs, int n_inputs, const char *where)
{
    if (d->n_layers == 0) return desc_fail(where, NULL, "model.layers is empty");
    dt_model_desc_name_layers(d);
    int used_input[DT_MAX_MODEL_INPUTS] = {0}, read[DT_MAX_LAYERS] = {0};
    for (int i = 0; i < d->n_layers; i++) {
        dt_layer_desc *l = &d->layers[i];
        const dt_layer_def *def = &table[l->type];
        if (input_index(inputs, n_inputs, l->name) >= 0)
            return desc_fail(where, l, "the name is also a model input's; give the layer another name");
        for (int j = 0; j < i; j++)
            if (strcmp(d->layers[j].name, l->name) == 0)
                return desc_fail(where, l, "the name is used twice (first by the layer on line %d)", d->layers[j].line);
        for (int o = 0; o < def->n_opts; o++)
            if (def->opts[o].kind == DT_LOPT_SHAPE && l->n_shape == 0)
                return desc_fail(where, l, "%s needs option '%s'", def->name, def->opts[o].name);
        int n_in = l->n_in ? l->n_in : 1;
        if (n_in < def->min_in || n_in > def->max_in) {
            if (def->min_in == def->max_in)
                return desc_fail(where, l, "%s reads %d input%s, got %d (list them in `in`)", def->name, def->min_in,
                                 def->min_in > 1 ? "s" : "", n_in);
            return desc_fail(where, l, "%s reads %d to %d inputs, got %d (list them in `in`)", def->name, def->min_in,
                             def->max_in, n_in);
        }
        if (l->n_in == 0) {
            if (i > 0) read[i - 1] = 1;
            else if (n_inputs > 0) used_input[0] = 1;
            continue;
        }
        for (int k = 0; k < l->n_in; k++) {
            int s = dt_model_desc_find(d, l->in[k]), x = input_index(inputs, n_inputs, l->in[k]);
            if (s == i) return desc_fail(where, l, "'in' names the layer itself (a cycle)");
            if (s > i) {
                unsigned char seen[DT_MAX_LAYERS] = {0};
                if (depends_on(d, s, i, seen))
                    return desc_fail(where, l, "'in' names '%s', which itself reads this layer: a cycle", l->in[k]);
                return desc_fail(where, l, "'in' names '%s', listed after it (line %d): list each layer after its inputs",
                                 l->in[k], d->layers[s].line);
            }
            if (s >= 0) read[s] = 1;
            else if (x >= 0) used_input[x] = 1;
            else {
                char known[400] = "";
                for (int j = 0; j < n_inputs; j++)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", j ? ", " : "", inputs[j].name);
                return desc_fail(where, l, "'in' names '%s', which is neither a layer listed before it nor a model "
                                 "input (inputs: %s)", l->in[k], known);
            }
        }
    }
    for (int j = 0; j < n_inputs; j++)
        if (!used_input[j]) {
            int line = 0;   /* model.inputs' line for it, when it was given there */
            for (int k = 0; k < d->n_inputs; k++)
                if (!strcmp(d->inputs[k].name, inputs[j].name)) line = d->inputs[k].line;
            if (line > 0)
                return dt_fail(DT_ECONFIG, "%s:%d: model input '%s' is read by no layer (name it in a layer's `in`, or "
                               "drop it from model.inputs)", where, line, inputs[j].name);
            return desc_fail(where, NULL, "model input '%s' is read by no layer (name it in a layer's `in`, or drop it "
                             "from model.inputs)", inputs[j].name);
        }
    for (int i = 0; i + 1 < d->n_layers; i++)
        if (!read[i])
            return desc_fail(where, &d->layers[i], "its output reaches nothing (no later layer reads it; only the last "
                             "layer is the model output)");
    return DT_OK;
}
