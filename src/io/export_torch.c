/* `dnntrouble export --torch`: a readable PyTorch module for a checkpoint's
 * network (SPEC "Checkpoints"): class Net, built with no arguments, one
 * attribute per layer with parameters (named as the layer, so state_dict
 * names are the checkpoint's; dotted names are nested modules, see the
 * module tree below), forward taking one raw tensor per model input
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

/* nn.Module's own attributes: a submodule of one of these names would be
 * shadowed by the method (self.eval(x) calls Module.eval). */
static const char *const module_attrs[] = {
    "add_module", "apply", "bfloat16", "buffers", "children", "cpu", "cuda", "double", "dump_patches", "eval",
    "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half",
    "ipu", "load_state_dict", "modules", "named_buffers", "named_children", "named_modules", "named_parameters",
    "parameters", "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_module", "register_parameter", "requires_grad_", "set_extra_state",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static int identifier(const char *s) { return dt_is_identifier(s) && !in_list(keywords, s); }

/* A non-negative integer without leading zeros ("0", "12"): an index of an nn.ModuleList. */
static int index_segment(const char *s, size_t n)
{
    if (n == 0 || n > 6 || (n > 1 && s[0] == '0')) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* ------------------------------------------------------------ module tree
 *
 * A layer named "layer1.0.conv1" is the submodule conv1 of item 0 of the
 * container layer1, so its tensors come out of state_dict() as
 * "layer1.0.conv1.weight", exactly as the checkpoint names them (and as
 * torchvision does).  Containers whose parts are all numbers are
 * nn.ModuleList (self.layer1[0].conv1), the others plain nn.Module
 * (self.blocks[0].mlp ...); holes in a list are nn.Identity() (no tensors). */

#define MAX_TREE (2 * DT_MAX_LAYERS + 8)

typedef struct tnode {
    char seg[DT_LAYER_NAME_LEN];
    int parent;                   /* -1: the Net itself */
    int layer;                    /* the layer this module is, or -1 for a container */
    int is_index;                 /* seg is a list index */
    int n_children, max_index;
    int emitted;
} tnode;

typedef struct tree {
    tnode n[MAX_TREE];
    int count;
} tree;

static int tree_child(tree *t, int parent, const char *seg, size_t len)
{
    for (int i = 0; i < t->count; i++)
        if (t->n[i].parent == parent && strlen(t->n[i].seg) == len && !strncmp(t->n[i].seg, seg, len)) return i;
    if (t->count == MAX_TREE) return -1;
    tnode *c = &t->n[t->count];
    memset(c, 0, sizeof *c);
    memcpy(c->seg, seg, len);
    c->parent = parent;
    c->layer = -1;
    c->is_index = index_segment(seg, len);
    if (parent >= 0) {
        t->n[parent].n_children++;
        if (c->is_index && atoi(c->seg) > t->n[parent].max_index) t->n[parent].max_index = atoi(c->seg);
    }
    return t->count++;
}

/* Layers whose torch form is an attribute (a module, or a parameter). */
static int has_module(dt_layer_type t)
{
    switch (t) {
    case DT_LAYER_LINEAR: case DT_LAYER_CONV2D: case DT_LAYER_BATCHNORM: case DT_LAYER_LAYERNORM:
    case DT_LAYER_EMBEDDING: case DT_LAYER_LSTM: case DT_LAYER_DROPOUT: case DT_LAYER_ATTENTION:
    case DT_LAYER_POSITIONAL: return 1;
    default: return 0;
    }
}

static dt_status tree_build(const dt_model *m, tree *t, int *node_of)
{
    const dt_model_desc *d = &m->spec.desc;
    t->count = 0;
    for (int i = 0; i < d->n_layers; i++) {
        node_of[i] = -1;
        const char *name = d->layers[i].name;
        if (!has_module(d->layers[i].type)) continue;
        int at = -1;
        for (const char *p = name;;) {
            const char *dot = strchr(p, '.');
            size_t len = dot ? (size_t)(dot - p) : strlen(p);
            char seg[DT_LAYER_NAME_LEN];
            snprintf(seg, sizeof seg, "%.*s", (int)len, p);
            int num = index_segment(p, len);
            if (!num && (!identifier(seg) || in_list(module_attrs, seg)))
                return dt_fail(DT_ECONFIG, "export: layer name '%s': '%s' cannot be a torch attribute (each dotted "
                               "part must be a Python identifier, not a keyword or an nn.Module method, or a number)",
                               name, seg);
            if (num && at < 0)
                return dt_fail(DT_ECONFIG, "export: layer name '%s' starts with a number; the first part must be a "
                               "Python identifier", name);
            if (at >= 0 && t->n[at].layer >= 0)
                return dt_fail(DT_ECONFIG, "export: layer '%s' is nested inside layer '%s', which is a module of "
                               "its own", name, d->layers[t->n[at].layer].name);
            at = tree_child(t, at, p, len);
            if (at < 0) return dt_fail(DT_ECONFIG, "export: too many nested module names");
            if (!dot) break;
            p = dot + 1;
        }
        if (t->n[at].n_children)
            return dt_fail(DT_ECONFIG, "export: layer '%s' is a module and also holds other layers' modules", name);
        t->n[at].layer = i;
        node_of[i] = at;
    }
    /* A container's parts are all list indices or all attribute names. */
    for (int i = 0; i < t->count; i++) {
        int p = t->n[i].parent;
        for (int j = 0; p >= 0 && j < t->count; j++)
            if (t->n[j].parent == p && t->n[j].is_index != t->n[i].is_index)
                return dt_fail(DT_ECONFIG, "export: layers under '%s' mix numbered and named parts ('%s', '%s'); "
                               "torch needs one or the other (nn.ModuleList or attributes)", t->n[p].seg,
                               t->n[i].seg, t->n[j].seg);
    }
    return DT_OK;
}

/* Python expression of tree node i: self.layer1[0].conv1 */
static void tree_expr(const tree *t, int i, char *buf, size_t size)
{
    if (i < 0) {
        snprintf(buf, size, "self");
        return;
    }
    char up[512];
    tree_expr(t, t->n[i].parent, up, sizeof up);
    snprintf(buf, size, t->n[i].is_index ? "%s[%s]" : "%s.%s", up, t->n[i].seg);
}

/* Creates the containers above node i that do not exist yet, outermost first. */
static void emit_containers(out *o, tree *t, int i)
{
    int p = t->n[i].parent;
    if (p < 0 || t->n[p].emitted) return;
    emit_containers(o, t, p);
    if (t->n[p].emitted) return;   /* made as an item of its own list just now */
    char e[512];
    tree_expr(t, p, e, sizeof e);
    int list = 0;
    for (int j = 0; j < t->count; j++) list |= t->n[j].parent == p && t->n[j].is_index;
    if (!list) put(o, "        %s = nn.Module()\n", e);
    else {
        put(o, "        %s = nn.ModuleList([", e);
        for (int k = 0; k <= t->n[p].max_index; k++) {
            int container = 0;
            for (int j = 0; j < t->count; j++)
                if (t->n[j].parent == p && t->n[j].is_index && atoi(t->n[j].seg) == k) container = t->n[j].layer < 0;
            put(o, "%s%s", k ? ", " : "", container ? "nn.Module()" : "nn.Identity()");
        }
        put(o, "])\n");
    }
    t->n[p].emitted = 1;
    /* list items that are containers exist now */
    for (int j = 0; j < t->count; j++)
        if (t->n[j].parent == p && list && t->n[j].layer < 0) t->n[j].emitted = 1;
}

/* The forward's variable of each layer: h_ and the name with other
 * characters as '_', made unique with the layer's position when needed. */
typedef char varname[DT_LAYER_NAME_LEN + 16];

static void make_vars(const dt_model_desc *d, varname *v)
{
    for (int i = 0; i < d->n_layers; i++) {
        char *p = v[i];
        snprintf(p, sizeof v[i], "h_%s", d->layers[i].name);
        for (char *c = p + 2; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
                *c = '_';
        for (int j = 0; j < i; j++)
            if (!strcmp(v[j], p)) {
                size_t n = strlen(p);
                snprintf(p + n, sizeof v[i] - n, "_%d", i);
                break;
            }
    }
}

typedef struct emit_ctx {
    const dt_model *m;
    tree *t;
    const int *node_of;
    const varname *var;
} emit_ctx;

/* The Python expression holding input k of layer i. */
static void arg(const emit_ctx *c, int i, int k, char *buf, size_t size)
{
    dt_node *n;
    const dt_model *m = c->m;
    int x = dt_model_layer_input(m, i, k, &n);
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    if (x >= 0) snprintf(buf, size, "%s", m->spec.inputs[x].name);
    else {
        int s = l->n_in ? dt_model_desc_find(&m->spec.desc, l->in[k]) : i - 1;
        snprintf(buf, size, "%s", c->var[s]);
    }
}

static const char *boolstr(double v) { return v != 0 ? "True" : "False"; }

static void emit_init(out *o, const emit_ctx *c, int i)
{
    const dt_model *m = c->m;
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    if (c->node_of[i] < 0) return;
    dt_node *in;
    dt_model_layer_input(m, i, 0, &in);
    char n[512];
    emit_containers(o, c->t, c->node_of[i]);
    tree_expr(c->t, c->node_of[i], n, sizeof n);
    int last = in ? in->shape[in->ndim - 1] : 0;
    switch (l->type) {
    case DT_LAYER_LINEAR:
        put(o, "        %s = nn.Linear(%d, %d, bias=%s)\n", n, last, m->layer_out[i]->shape[m->layer_out[i]->ndim - 1],
            boolstr(dt_layer_opt(l, "bias")));
        break;
    case DT_LAYER_CONV2D:
        put(o, "        %s = nn.Conv2d(%d, %d, %d, stride=%d, padding=%d, bias=%s)\n", n, in->shape[1],
            (int)dt_layer_opt(l, "channels"), (int)dt_layer_opt(l, "kernel"), (int)dt_layer_opt(l, "stride"),
            (int)dt_layer_opt(l, "padding"), boolstr(dt_layer_opt(l, "bias")));
        break;
    case DT_LAYER_BATCHNORM:
        put(o, "        %s = nn.BatchNorm%dd(%d, eps=%.9g, momentum=%.9g)\n", n, in->ndim == 4 ? 2 : 1, in->shape[1],
            dt_layer_opt(l, "eps"), dt_layer_opt(l, "momentum"));
        break;
    case DT_LAYER_LAYERNORM:
        put(o, "        %s = nn.LayerNorm(%d, eps=%.9g)\n", n, last, dt_layer_opt(l, "eps"));
        break;
    case DT_LAYER_EMBEDDING: {
        dt_node *w = NULL;
        for (int p = 0; p < m->g->n_params; p++)
            if (!strcmp(m->g->params[p]->layer, l->name)) w = m->g->params[p];
        put(o, "        %s = nn.Embedding(%d, %d)\n", n, w ? w->shape[0] : 0, (int)dt_layer_opt(l, "dim"));
        break;
    }
    case DT_LAYER_LSTM:
        put(o, "        %s = nn.LSTM(%d, %d, num_layers=%d, batch_first=True)\n", n, in->ndim == 3 ? last : 1,
            (int)dt_layer_opt(l, "hidden"), (int)dt_layer_opt(l, "layers"));
        break;
    case DT_LAYER_DROPOUT: put(o, "        %s = nn.Dropout(%.9g)\n", n, dt_layer_opt(l, "rate")); break;
    case DT_LAYER_ATTENTION:
        put(o, "        %s = nn.MultiheadAttention(%d, %d, batch_first=True)\n", n, last, (int)dt_layer_opt(l, "heads"));
        break;
    case DT_LAYER_POSITIONAL:
        put(o, "        %s = nn.Parameter(torch.zeros(1, %d, %d))\n", n, in->shape[1], last);
        break;
    default: break;
    }
}

static void emit_forward(out *o, const emit_ctx *c, int i)
{
    const dt_model *m = c->m;
    const dt_layer_desc *l = &m->spec.desc.layers[i];
    char a[DT_LAYER_NAME_LEN + 32], b[DT_LAYER_NAME_LEN + 32], n[512] = "";
    arg(c, i, 0, a, sizeof a);
    if (c->node_of[i] >= 0) tree_expr(c->t, c->node_of[i], n, sizeof n);
    dt_node *in;
    dt_model_layer_input(m, i, 0, &in);
    put(o, "        %s = ", c->var[i]);
    switch (l->type) {
    case DT_LAYER_LINEAR:
    case DT_LAYER_CONV2D:
    case DT_LAYER_BATCHNORM:
    case DT_LAYER_LAYERNORM:
    case DT_LAYER_DROPOUT: put(o, "%s(%s)\n", n, a); break;
    case DT_LAYER_EMBEDDING: put(o, "%s(%s.long())\n", n, a); break;
    case DT_LAYER_LSTM:
        put(o, "%s(%s%s)[0]%s\n", n, a, in->ndim == 2 ? ".unsqueeze(-1)" : "",
            dt_layer_opt(l, "return") == 0 ? "[:, -1]" : "");
        break;
    case DT_LAYER_ATTENTION:
        if (dt_layer_opt(l, "causal") != 0)
            put(o, "%s(%s, %s, %s, need_weights=False,\n            attn_mask=torch.ones(%d, %d, dtype=torch.bool, "
                   "device=%s.device).triu(1))[0]\n", n, a, a, a, in->shape[1], in->shape[1], a);
        else put(o, "%s(%s, %s, %s, need_weights=False)[0]\n", n, a, a, a);
        break;
    case DT_LAYER_POSITIONAL: put(o, "%s + %s\n", a, n); break;
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
    case DT_LAYER_GELU: put(o, "F.gelu(%s)\n", a); break;
    case DT_LAYER_SOFTMAX: put(o, "F.softmax(%s, dim=-1)\n", a); break;
    case DT_LAYER_SEQ_POOL: put(o, dt_layer_opt(l, "how") == 0 ? "%s[:, -1]\n" : "%s.mean(dim=1)\n", a); break;
    case DT_LAYER_ADD:
        arg(c, i, 1, b, sizeof b);
        put(o, "%s + %s\n", a, b);
        break;
    case DT_LAYER_CONCAT:
        put(o, "torch.cat([");
        for (int k = 0; k < l->n_in; k++) {
            arg(c, i, k, b, sizeof b);
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
    tree *t = calloc(1, sizeof *t);
    int node_of[DT_MAX_LAYERS];
    varname *var = calloc((size_t)d->n_layers, sizeof *var);
    if (!t || !var) {
        free(t);
        free(var);
        return dt_fail(DT_ENOMEM, "export: out of memory");
    }
    dt_status st = tree_build(m, t, node_of);
    for (int i = 0; i < m->n_inputs && !st; i++)
        for (int k = 0; k < t->count && !st; k++) {
            char mean[DT_INPUT_NAME_LEN + 8], sd[DT_INPUT_NAME_LEN + 8];
            snprintf(mean, sizeof mean, "%s_mean", m->spec.inputs[i].name);
            snprintf(sd, sizeof sd, "%s_std", m->spec.inputs[i].name);
            if (t->n[k].parent < 0 && (!strcmp(t->n[k].seg, mean) || !strcmp(t->n[k].seg, sd)))
                st = dt_fail(DT_ECONFIG, "export: layer name '%s' is the normalization buffer of input '%s'",
                             t->n[k].seg, m->spec.inputs[i].name);
        }
    if (st) {
        free(t);
        free(var);
        return st;
    }
    make_vars(d, var);
    emit_ctx c = {m, t, node_of, (const varname *)var};
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
    for (int i = 0; i < d->n_layers; i++) emit_init(&o, &c, i);
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
    for (int i = 0; i < d->n_layers; i++) emit_forward(&o, &c, i);
    if (info && info->targets_standardized)   /* regression: back to the targets' units */
        put(&o, "        return %s * %.17g + %.17g\n", var[d->n_layers - 1], info->target_std, info->target_mean);
    else
        put(&o, "        return %s\n", var[d->n_layers - 1]);
    free(t);
    free(var);
    if (o.oom) {
        free(o.buf);
        return dt_fail(DT_ENOMEM, "export: out of memory");
    }
    st = dt_write_file_atomic(path, o.buf, o.len);
    free(o.buf);
    return st;
}
