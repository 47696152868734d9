/* `dnntrouble export --torch`: a readable PyTorch module for a checkpoint's
 * network (SPEC "Checkpoints"): class Net, built with no arguments, one
 * attribute per layer with parameters (named as the layer, so state_dict
 * names are the checkpoint's), forward taking one raw tensor per model input
 * and normalizing it with the checkpoint's statistics (non-persistent
 * buffers).  Each layer type is one case of emit_layer. */
#include "dnntrouble/export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/names.h"
#include "dnntrouble/report.h"

typedef struct out {
    char *buf;
    size_t len, cap;
    int oom;
} out;

__attribute__((format(printf, 2, 3))) static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = o->cap - o->len;
        va_start(ap, fmt);
        int n = o->buf ? vsnprintf(o->buf + o->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? 2 * o->cap : 8192;
        while (n >= 0 && cap - o->len <= (size_t)n) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static const char *const keywords[] = {"False", "None", "True", "and", "as", "assert", "async", "await", "break",
                                       "class", "continue", "def", "del", "elif", "else", "except", "finally", "for",
                                       "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or",
                                       "pass", "raise", "return", "try", "while", "with", "yield", "self", "torch",
                                       "nn", "F", NULL};

static int identifier(const char *s)
{
    if (!dt_is_identifier(s)) return 0;
    for (int i = 0; keywords[i]; i++)
        if (!strcmp(keywords[i], s)) return 0;
    return 1;
}

/* The Python expression holding input k of layer i. */
static void arg(const dt_model *m, int i, int k, char *buf, size_t size)
{
    dt_node *n;
    int x = dt_model_layer_input(m, i, k, &n);
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    if (x >= 0) snprintf(buf, size, "%s", m->spec.inputs[x].name);
    else {
        const char *name = l->n_in ? l->in[k] : m->spec.desc.layers[i - 1].name;
        snprintf(buf, size, "h_%s", name);
    }
}

static const char *boolstr(double v) { return v != 0 ? "True" : "False"; }

static void emit_init(out *o, const dt_model *m, int i)
{
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    dt_node *in;
    dt_model_layer_input(m, i, 0, &in);
    const char *n = l->name;
    int last = in ? in->shape[in->ndim - 1] : 0;
    switch (l->type) {
    case DT_LAYER_LINEAR:
        put(o, "        self.%s = nn.Linear(%d, %d, bias=%s)\n", n, last, m->layer_out[i]->shape[m->layer_out[i]->ndim - 1],
            boolstr(dt_layer_opt(l, "bias")));
        break;
    case DT_LAYER_CONV2D:
        put(o, "        self.%s = nn.Conv2d(%d, %d, %d, stride=%d, padding=%d, bias=%s)\n", n, in->shape[1],
            (int)dt_layer_opt(l, "channels"), (int)dt_layer_opt(l, "kernel"), (int)dt_layer_opt(l, "stride"),
            (int)dt_layer_opt(l, "padding"), boolstr(dt_layer_opt(l, "bias")));
        break;
    case DT_LAYER_BATCHNORM:
        put(o, "        self.%s = nn.BatchNorm%dd(%d, eps=%.9g, momentum=%.9g)\n", n, in->ndim == 4 ? 2 : 1, in->shape[1],
            dt_layer_opt(l, "eps"), dt_layer_opt(l, "momentum"));
        break;
    case DT_LAYER_LAYERNORM:
        put(o, "        self.%s = nn.LayerNorm(%d, eps=%.9g)\n", n, last, dt_layer_opt(l, "eps"));
        break;
    case DT_LAYER_EMBEDDING: {
        dt_node *w = NULL;
        for (int p = 0; p < m->g->n_params; p++)
            if (!strcmp(m->g->params[p]->layer, n)) w = m->g->params[p];
        put(o, "        self.%s = nn.Embedding(%d, %d)\n", n, w ? w->shape[0] : 0, (int)dt_layer_opt(l, "dim"));
        break;
    }
    case DT_LAYER_LSTM:
        put(o, "        self.%s = nn.LSTM(%d, %d, num_layers=%d, batch_first=True)\n", n, in->ndim == 3 ? last : 1,
            (int)dt_layer_opt(l, "hidden"), (int)dt_layer_opt(l, "layers"));
        break;
    case DT_LAYER_DROPOUT: put(o, "        self.%s = nn.Dropout(%.9g)\n", n, dt_layer_opt(l, "rate")); break;
    default: break;
    }
}

static void emit_forward(out *o, const dt_model *m, int i)
{
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    char a[DT_LAYER_NAME_LEN + 8], b[DT_LAYER_NAME_LEN + 8];
    arg(m, i, 0, a, sizeof a);
    const char *n = l->name;
    dt_node *in;
    dt_model_layer_input(m, i, 0, &in);
    put(o, "        h_%s = ", n);
    switch (l->type) {
    case DT_LAYER_LINEAR:
    case DT_LAYER_CONV2D:
    case DT_LAYER_BATCHNORM:
    case DT_LAYER_LAYERNORM:
    case DT_LAYER_DROPOUT: put(o, "self.%s(%s)\n", n, a); break;
    case DT_LAYER_EMBEDDING: put(o, "self.%s(%s.long())\n", n, a); break;
    case DT_LAYER_LSTM:
        put(o, "self.%s(%s%s)[0]%s\n", n, a, in->ndim == 2 ? ".unsqueeze(-1)" : "",
            dt_layer_opt(l, "return") == 0 ? "[:, -1]" : "");
        break;
    case DT_LAYER_MAXPOOL:
    case DT_LAYER_AVGPOOL: {
        int k = (int)dt_layer_opt(l, "kernel"), s = (int)dt_layer_opt(l, "stride");
        put(o, "F.%s_pool2d(%s, %d, stride=%d)\n", l->type == DT_LAYER_MAXPOOL ? "max" : "avg", a, k, s > 0 ? s : k);
        break;
    }
    case DT_LAYER_GLOBAL_AVGPOOL: put(o, "%s.mean(dim=(2, 3))\n", a); break;
    case DT_LAYER_FLATTEN: put(o, "torch.flatten(%s, 1)\n", a); break;
    case DT_LAYER_RELU: put(o, "F.relu(%s)\n", a); break;
    case DT_LAYER_LEAKY_RELU: put(o, "F.leaky_relu(%s, %.9g)\n", a, dt_layer_opt(l, "slope")); break;
    case DT_LAYER_TANH: put(o, "torch.tanh(%s)\n", a); break;
    case DT_LAYER_SIGMOID: put(o, "torch.sigmoid(%s)\n", a); break;
    case DT_LAYER_SOFTMAX: put(o, "F.softmax(%s, dim=-1)\n", a); break;
    case DT_LAYER_SEQ_POOL: put(o, dt_layer_opt(l, "how") == 0 ? "%s[:, -1]\n" : "%s.mean(dim=1)\n", a); break;
    case DT_LAYER_ADD:
        arg(m, i, 1, b, sizeof b);
        put(o, "%s + %s\n", a, b);
        break;
    case DT_LAYER_CONCAT:
        put(o, "torch.cat([");
        for (int k = 0; k < l->n_in; k++) {
            arg(m, i, k, b, sizeof b);
            put(o, "%s%s", k ? ", " : "", b);
        }
        put(o, "], dim=1)\n");
        break;
    case DT_LAYER_RESHAPE:
        put(o, "%s.reshape(%s.shape[0]", a, a);
        for (int k = 0; k < l->n_shape; k++) put(o, ", %d", l->shape[k]);
        put(o, ")\n");
        break;
    default: put(o, "None  # unsupported layer type\n"); break;
    }
}

static void floats(out *o, const float *v, int n)
{
    put(o, "[");
    for (int i = 0; i < n; i++) put(o, "%s%.9g", i ? ", " : "", v[i]);
    put(o, "]");
}

dt_status dt_export_torch(const dt_model *m, const dt_ckpt_info *info, const char *ckpt, const char *path)
{
    const dt_model_desc *d = &m->spec.desc;
    for (int i = 0; i < m->n_inputs; i++)
        if (!identifier(m->spec.inputs[i].name))
            return dt_fail(DT_ECONFIG, "export: model input '%s' is not a Python identifier", m->spec.inputs[i].name);
    for (int i = 0; i < d->n_layers; i++)
        if (!identifier(d->layers[i].name))
            return dt_fail(DT_ECONFIG, "export: layer name '%s' is not a Python identifier (torch attribute names are)",
                           d->layers[i].name);
    out o = {0};
    put(&o, "\"\"\"PyTorch module for the network of %s (written by dnntrouble %s).\n\n", ckpt, DT_TOOL_VERSION);
    put(&o, "    from safetensors.torch import load_file\n    net = Net()\n    net.load_state_dict(load_file(\"%s\"), "
            "strict=True)\n    net.eval()\n    logits = net(", ckpt);
    for (int i = 0; i < m->n_inputs; i++) put(&o, "%s%s", i ? ", " : "", m->spec.inputs[i].name);
    put(&o, ")\n\nInputs are raw, as stored in the data (batch first):\n");
    for (int i = 0; i < m->n_inputs; i++) {
        const dt_input_shape *in = &m->spec.inputs[i];
        put(&o, "    %s: [B", in->name);
        for (int k = 0; k < in->ndim; k++) put(&o, ", %d", in->shape[k]);
        put(&o, "] %s (data field '%s')\n", in->tokens ? "int64 token ids" : "float", info ? info->field[i] : in->name);
    }
    put(&o, "forward normalizes them with the training statistics and returns [B, %d] %s.\n\"\"\"\n", m->spec.outputs,
        m->output_softmax ? "probabilities (the network ends in a softmax)" : "outputs (logits)");
    put(&o, "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass Net(nn.Module):\n");
    put(&o, "    def __init__(self):\n        super().__init__()\n");
    for (int i = 0; i < d->n_layers; i++) emit_init(&o, m, i);
    for (int i = 0; info && i < m->n_inputs; i++) {
        if (!info->n_norm[i] || m->spec.inputs[i].tokens) continue;
        const char *view = m->spec.inputs[i].ndim == 3 ? "1, -1, 1, 1" : m->spec.inputs[i].ndim == 2 ? "1, 1, -1" : "1, -1";
        put(&o, "        self.register_buffer(\"%s_mean\", torch.tensor(", m->spec.inputs[i].name);
        floats(&o, info->mean[i], info->n_norm[i]);
        put(&o, ").view(%s), persistent=False)\n", view);
        put(&o, "        self.register_buffer(\"%s_std\", torch.tensor(", m->spec.inputs[i].name);
        floats(&o, info->std[i], info->n_norm[i]);
        put(&o, ").view(%s), persistent=False)\n", view);
    }
    put(&o, "\n    def forward(self");
    for (int i = 0; i < m->n_inputs; i++) put(&o, ", %s", m->spec.inputs[i].name);
    put(&o, "):\n");
    for (int i = 0; i < m->n_inputs; i++) {
        const char *x = m->spec.inputs[i].name;
        if (m->spec.inputs[i].tokens) continue;
        if (info && info->n_norm[i]) put(&o, "        %s = (%s.float() - self.%s_mean) / self.%s_std\n", x, x, x, x);
        else put(&o, "        %s = %s.float()\n", x, x);
    }
    for (int i = 0; i < d->n_layers; i++) emit_forward(&o, m, i);
    if (info && info->targets_standardized)   /* regression: back to the targets' units */
        put(&o, "        return h_%s * %.17g + %.17g\n", d->layers[d->n_layers - 1].name, info->target_std,
            info->target_mean);
    else
        put(&o, "        return h_%s\n", d->layers[d->n_layers - 1].name);
    if (o.oom) {
        free(o.buf);
        return dt_fail(DT_ENOMEM, "export: out of memory");
    }
    dt_status st = dt_write_file_atomic(path, o.buf, o.len);
    free(o.buf);
    return st;
}
