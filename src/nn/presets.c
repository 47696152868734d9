/* The presets as descriptions (model.h lists their layouts).  Names are the
 * checkpoint's tensor prefixes, as SPEC "Checkpoints" fixes them. */
#include <stdio.h>
#include <string.h>

#include "dnntrouble/model.h"

typedef struct {
    dt_model_desc *d;
    int full;
} builder;

static dt_layer_desc *add(builder *b, dt_layer_type t, const char *name)
{
    dt_layer_desc *l = dt_model_desc_add(b->d, t, name);
    if (!l) b->full = 1;
    return l;
}

static dt_layer_desc *add_in(builder *b, dt_layer_type t, const char *name, const char *in)
{
    /* Reading the layer just before is the default: no `in` for that. */
    if (in && b->d->n_layers && !strcmp(b->d->layers[b->d->n_layers - 1].name, in)) in = NULL;
    dt_layer_desc *l = add(b, t, name);
    if (l && in) {
        l->n_in = 1;
        snprintf(l->in[0], sizeof l->in[0], "%s", in);
    }
    return l;
}

static dt_layer_desc *linear(builder *b, const char *name, double units)
{
    dt_layer_desc *l = add(b, DT_LAYER_LINEAR, name);
    if (l) dt_layer_set_opt(l, "units", units);
    return l;
}

/* [bnN] → activation → [dropout] after a hidden layer. */
static void hidden_tail(builder *b, const dt_preset_args *a, const char *prefix, int bn_index)
{
    if (a->batch_norm && bn_index > 0) {
        char name[DT_LAYER_NAME_LEN];
        snprintf(name, sizeof name, "%sbn%d", prefix, bn_index);
        add(b, DT_LAYER_BATCHNORM, name);
    }
    add(b, a->act == DT_ACT_TANH ? DT_LAYER_TANH : DT_LAYER_RELU, NULL);
    if (a->dropout > 0) {
        dt_layer_desc *l = add(b, DT_LAYER_DROPOUT, NULL);
        if (l) dt_layer_set_opt(l, "rate", a->dropout);
    }
}

static dt_layer_desc *conv(builder *b, const char *name, const char *in, int channels, int kernel, int pad)
{
    dt_layer_desc *l = add_in(b, DT_LAYER_CONV2D, name, in);
    if (l) {
        dt_layer_set_opt(l, "channels", channels);
        dt_layer_set_opt(l, "kernel", kernel);
        dt_layer_set_opt(l, "padding", pad);
    }
    return l;
}

/* LeNet's feature extractor: c1 → pool1 → c2 → pool2 → flatten.  Small
 * images keep c2's padding so a 5x5 kernel still fits. */
static void lenet_features(builder *b, const dt_preset_args *a, const char *prefix, const char *in, int h)
{
    char n[5][DT_LAYER_NAME_LEN];
    const char *base[5] = {"c1", "pool1", "c2", "pool2", "flatten"};
    for (int i = 0; i < 5; i++) snprintf(n[i], sizeof n[i], "%s%s", prefix, base[i]);
    conv(b, n[0], in, 6, 5, 2);
    hidden_tail(b, a, prefix, 1);
    add(b, DT_LAYER_MAXPOOL, n[1]);
    conv(b, n[2], NULL, 16, 5, h / 2 >= 5 ? 0 : 2);
    hidden_tail(b, a, prefix, 2);
    add(b, DT_LAYER_MAXPOOL, n[3]);
    add(b, DT_LAYER_FLATTEN, n[4]);
}

/* [emb] → lstm (depth layers) → [dropout]: a sequence encoder ending in [B,H]. */
static void lstm_features(builder *b, const dt_preset_args *a, const char *prefix, const dt_input_shape *in)
{
    char emb[DT_LAYER_NAME_LEN], lstm[DT_LAYER_NAME_LEN];
    snprintf(emb, sizeof emb, "%semb", prefix);
    snprintf(lstm, sizeof lstm, "%slstm", prefix);
    const char *src = in->name;
    if (in->tokens) {
        dt_layer_desc *e = add_in(b, DT_LAYER_EMBEDDING, emb, src);
        if (e) dt_layer_set_opt(e, "dim", a->hidden);
        src = NULL;
    }
    dt_layer_desc *l = add_in(b, DT_LAYER_LSTM, lstm, src);
    if (l) {
        dt_layer_set_opt(l, "hidden", a->hidden);
        dt_layer_set_opt(l, "layers", a->depth > 0 ? a->depth : 1);
    }
    if (a->dropout > 0) {
        dt_layer_desc *d = add(b, DT_LAYER_DROPOUT, NULL);
        if (d) dt_layer_set_opt(d, "rate", a->dropout);
    }
}

static void output(builder *b, const dt_preset_args *a, const char *name)
{
    linear(b, name, DT_UNITS_CLASSES);
    if (a->output_softmax) add(b, DT_LAYER_SOFTMAX, NULL);
}

static dt_layer_desc *add_ins(builder *b, dt_layer_type t, const char *name, const char *in0, const char *in1)
{
    dt_layer_desc *l = add(b, t, name);
    if (l) {
        l->n_in = 2;
        snprintf(l->in[0], sizeof l->in[0], "%s", in0);
        snprintf(l->in[1], sizeof l->in[1], "%s", in1);
    }
    return l;
}

/* prefix.part; presets keep prefixes short ("layer3.0", "blocks.15"), so it fits. */
static void named(char *buf, const char *prefix, const char *part)
{
    snprintf(buf, DT_LAYER_NAME_LEN, "%.20s.%.18s", prefix, part);
}

/* torchvision's BasicBlock `prefix` (e.g. "layer2.0") reading layer `in`
 * with cin channels: conv1 (stride s) → bn1 → relu → conv2 → bn2, plus the
 * shortcut (downsample.0 1x1 conv stride s → downsample.1, when the shape
 * changes), added, → relu.  Writes the name of its output into out. */
static void basic_block(builder *b, const char *prefix, const char *in, int cin, int cout, int stride, char *out)
{
    char n[8][DT_LAYER_NAME_LEN];
    const char *part[8] = {"conv1", "bn1", "relu1", "conv2", "bn2", "downsample.0", "downsample.1", "add"};
    for (int i = 0; i < 8; i++) named(n[i], prefix, part[i]);
    dt_layer_desc *c = conv(b, n[0], in, cout, 3, 1);
    if (c) {
        dt_layer_set_opt(c, "stride", stride);
        dt_layer_set_opt(c, "bias", 0);
    }
    add(b, DT_LAYER_BATCHNORM, n[1]);
    add(b, DT_LAYER_RELU, n[2]);
    if ((c = conv(b, n[3], NULL, cout, 3, 1))) dt_layer_set_opt(c, "bias", 0);
    add(b, DT_LAYER_BATCHNORM, n[4]);
    const char *shortcut = in;
    if (stride != 1 || cin != cout) {
        if ((c = conv(b, n[5], in, cout, 1, 0))) {
            dt_layer_set_opt(c, "stride", stride);
            dt_layer_set_opt(c, "bias", 0);
        }
        add(b, DT_LAYER_BATCHNORM, n[6]);
        shortcut = n[6];
    }
    add_ins(b, DT_LAYER_ADD, n[7], n[4], shortcut);
    named(out, prefix, "relu2");
    add(b, DT_LAYER_RELU, out);
}

/* SPEC's `resnet`: a ResNet-8 in torchvision's names.  conv1 3x3 → bn1 →
 * relu → layer1..3 (model.depth BasicBlocks each, the first of layers 2
 * and 3 at stride 2; widths w, 2w, 4w with w = 16, or model.hidden when
 * given) → global average pool → fc. */
static void resnet(builder *b, const dt_preset_args *a, int channels)
{
    int w = a->hidden_given && a->hidden > 0 ? a->hidden : 16, blocks = a->depth > 0 ? a->depth : 1;
    dt_layer_desc *c = conv(b, "conv1", NULL, w, 3, 1);
    if (c) dt_layer_set_opt(c, "bias", 0);
    add(b, DT_LAYER_BATCHNORM, "bn1");
    add(b, DT_LAYER_RELU, "relu");
    char in[DT_LAYER_NAME_LEN] = "relu", out[DT_LAYER_NAME_LEN];
    int cin = w;
    (void)channels;
    for (int stage = 1; stage <= 3; stage++) {
        int cout = w << (stage - 1);
        for (int k = 0; k < blocks; k++) {
            char prefix[DT_LAYER_NAME_LEN];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage, k);
            basic_block(b, prefix, in, cin, cout, stage > 1 && k == 0 ? 2 : 1, out);
            memcpy(in, out, sizeof in);
            cin = cout;
        }
    }
    add(b, DT_LAYER_GLOBAL_AVGPOOL, "avgpool");
    output(b, a, "fc");
}

/* SPEC's `transformer`: a pre-LayerNorm encoder.  embed (Linear(F, d), or
 * Embedding(V, d) for token ids) → pos → blocks.N: ln1 → attn (4 heads) →
 * res1 = in + attn → ln2 → mlp.0 Linear(d, 4d) → mlp.1 GELU → mlp.2
 * Linear(4d, d) → res2 = res1 + mlp.2; then ln → last step → fc.  d =
 * model.hidden; blocks: model.depth when given, else 2. */
static void transformer(builder *b, const dt_preset_args *a, const dt_input_shape *in)
{
    int d = a->hidden > 0 ? a->hidden : 64, blocks = a->depth_given && a->depth > 0 ? a->depth : 2;
    dt_layer_desc *l = add(b, in->tokens ? DT_LAYER_EMBEDDING : DT_LAYER_LINEAR, "embed");
    if (l) dt_layer_set_opt(l, in->tokens ? "dim" : "units", d);
    add(b, DT_LAYER_POSITIONAL, "pos");
    char x[DT_LAYER_NAME_LEN] = "pos";
    for (int k = 0; k < blocks; k++) {
        char p[DT_LAYER_NAME_LEN], n[8][DT_LAYER_NAME_LEN];
        const char *part[8] = {"ln1", "attn", "res1", "ln2", "mlp.0", "mlp.1", "mlp.2", "res2"};
        snprintf(p, sizeof p, "blocks.%d", k);
        for (int i = 0; i < 8; i++) named(n[i], p, part[i]);
        add_in(b, DT_LAYER_LAYERNORM, n[0], x);
        if ((l = add(b, DT_LAYER_ATTENTION, n[1]))) dt_layer_set_opt(l, "heads", 4);
        add_ins(b, DT_LAYER_ADD, n[2], x, n[1]);
        add(b, DT_LAYER_LAYERNORM, n[3]);
        linear(b, n[4], 4.0 * d);
        add(b, DT_LAYER_GELU, n[5]);
        linear(b, n[6], d);
        add_ins(b, DT_LAYER_ADD, n[7], n[2], n[6]);
        memcpy(x, n[7], sizeof x);
    }
    add(b, DT_LAYER_LAYERNORM, "ln");
    add(b, DT_LAYER_SEQ_POOL, "last");
    output(b, a, "fc");
}

static dt_status need(int ok, const char *arch, const dt_input_shape *in, const char *what)
{
    if (ok) return DT_OK;
    char s[48] = "[";
    for (int i = 0; i < in->ndim; i++) snprintf(s + strlen(s), sizeof s - strlen(s), i ? ",%d" : "%d", in->shape[i]);
    strcat(s, "]");
    return dt_fail(DT_ECONFIG, "model.arch %s needs %s input, but input '%s' is %s%s", arch, what, in->name, s,
                   in->tokens ? " token ids" : "");
}

/* The seed's "two images and a sentence": one encoder per input, flattened,
 * concatenated, then a hidden layer and the output. */
static void fusion(builder *b, const dt_preset_args *a, const dt_input_shape *inputs, int n)
{
    dt_layer_desc *cat;
    char last[DT_MAX_MODEL_INPUTS][DT_LAYER_NAME_LEN];
    for (int i = 0; i < n; i++) {
        const dt_input_shape *in = &inputs[i];
        char prefix[DT_LAYER_NAME_LEN];
        snprintf(prefix, sizeof prefix, "%.30s_", in->name);
        if (in->ndim == 3 && !in->tokens) {
            lenet_features(b, a, prefix, in->name, in->shape[1]);
        } else if (in->tokens || in->ndim == 2) {
            lstm_features(b, a, prefix, in);
        } else {
            char f[DT_LAYER_NAME_LEN + 4];
            snprintf(f, sizeof f, "%.30sf1", prefix);
            dt_layer_desc *l = add_in(b, DT_LAYER_LINEAR, f, in->name);
            if (l) dt_layer_set_opt(l, "units", a->hidden);
            hidden_tail(b, a, prefix, 0);
        }
        /* Auto-named tails (relu1, ...) get their names now so `in` can point at them. */
        dt_model_desc_name_layers(b->d);
        if (b->d->n_layers) memcpy(last[i], b->d->layers[b->d->n_layers - 1].name, sizeof last[i]);
    }
    cat = add(b, DT_LAYER_CONCAT, "cat");
    if (cat) {
        cat->n_in = n;
        for (int i = 0; i < n; i++) memcpy(cat->in[i], last[i], sizeof cat->in[i]);
    }
    linear(b, "f1", a->hidden);
    add(b, DT_LAYER_RELU, NULL);
    output(b, a, "out");
}

dt_status dt_preset_expand(const dt_preset_args *a, const dt_input_shape *inputs, int n_inputs, dt_model_desc *out)
{
    memset(out, 0, sizeof *out);
    builder b = {.d = out};
    if (n_inputs < 1) return dt_fail(DT_EINTERNAL, "preset: no model inputs");
    const dt_input_shape *in = &inputs[0];
    const char *arch = dt_arch_name(a->arch);
    if (n_inputs > 1 && a->arch != DT_ARCH_AUTO)
        return dt_fail(DT_ECONFIG, "model.arch %s reads one input, but the data has %d fields: use arch auto (one "
                       "encoder per field) or describe the network in model.layers", arch, n_inputs);
    dt_status st = DT_OK;
    if (n_inputs > 1) {
        fusion(&b, a, inputs, n_inputs);
    } else if (a->arch == DT_ARCH_LENET) {
        st = need(in->ndim == 3 && !in->tokens && in->shape[1] >= 4 && in->shape[2] >= 4, arch, in,
                  "image [C,H,W] (at least 4x4)");
        if (!st) {
            lenet_features(&b, a, "", NULL, in->shape[1]);
            dt_preset_args dense = *a;
            dense.batch_norm = 0;   /* batch-norm stays off the dense head to keep f1/f2/f3 */
            linear(&b, "f1", 120);
            hidden_tail(&b, &dense, "", 0);
            linear(&b, "f2", 84);
            hidden_tail(&b, &dense, "", 0);
            output(&b, a, "f3");
        }
    } else if (a->arch == DT_ARCH_RESNET) {
        st = need(in->ndim == 3 && !in->tokens, arch, in, "image [C,H,W]");
        if (!st) resnet(&b, a, in->shape[0]);
    } else if (a->arch == DT_ARCH_TRANSFORMER) {
        st = need((in->tokens && in->ndim == 1) || (!in->tokens && in->ndim == 2), arch, in,
                  "sequence [T,F] or token ids [T]");
        if (!st) transformer(&b, a, in);
    } else if (a->arch == DT_ARCH_LSTM) {
        st = need(in->tokens || in->ndim <= 2, arch, in, "sequence [T,F], token ids [T] or tabular [D]");
        if (!st) {
            lstm_features(&b, a, "", in);
            output(&b, a, "fc");
        }
    } else {
        if (in->ndim > 1 || in->tokens) add(&b, DT_LAYER_FLATTEN, "flatten");
        int depth = a->depth > 0 ? a->depth : 1;
        char name[16];
        for (int l = 1; l <= depth; l++) {
            snprintf(name, sizeof name, "f%d", l);
            linear(&b, name, a->hidden);
            hidden_tail(&b, a, "", l);
        }
        snprintf(name, sizeof name, "f%d", depth + 1);
        output(&b, a, name);
    }
    if (st) return st;
    if (b.full) return dt_fail(DT_ECONFIG, "model.arch %s: the preset needs more than %d layers", arch, DT_MAX_LAYERS);
    return DT_OK;
}

dt_status dt_model_spec_preset(const dt_preset_args *a, const dt_input_shape *in, int outputs, dt_loss loss,
                               int max_batch, dt_model_spec *s)
{
    memset(s, 0, sizeof *s);
    s->n_inputs = 1;
    s->inputs[0] = *in;
    if (!s->inputs[0].name[0]) snprintf(s->inputs[0].name, sizeof s->inputs[0].name, "x");
    s->outputs = outputs;
    s->loss = loss;
    s->max_batch = max_batch;
    snprintf(s->arch, sizeof s->arch, "%s", dt_arch_name(a->arch));
    return dt_preset_expand(a, s->inputs, 1, &s->desc);
}
