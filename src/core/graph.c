/* Graph construction, compilation (allocation) and execution. */
#include "dnntrouble/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

dt_graph *dt_graph_new(void)
{
    dt_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->max_batch = g->batch = 0;
    g->ex.rng = &g->rng;
    dt_rng_seed(&g->rng, 0);
    return g;
}

void dt_graph_free(dt_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free(g->nodes[i]);
    free(g->nodes);
    free(g->params);
    free(g->param_val);
    free(g->param_grad);
    free(g->arena);
    free(g->aux_arena);
    free(g->state_arena);
    free(g->ws);
    free(g);
}

size_t dt_numel(const dt_node *n)
{
    size_t k = 1;
    for (int i = 0; i < n->ndim; i++) k *= (size_t)n->shape[i];
    return k;
}

const char *dt_shape_str(const dt_node *n, char *buf, size_t len)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < n->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ",%d" : "%d", n->shape[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
    return buf;
}

/* Keeps the first build error: later failures are usually its consequence. */
static dt_node *build_failed(dt_graph *g, dt_status st)
{
    if (g->build_status == DT_OK) {
        g->build_status = st;
        snprintf(g->build_error, sizeof g->build_error, "%s", dt_last_error());
    }
    return NULL;
}

static dt_node *new_node(dt_graph *g, dt_op op, const char *name, const char *layer)
{
    if (g->compiled) {
        dt_fail(DT_EINTERNAL, "graph: node '%s' added after compile", name);
        return build_failed(g, DT_EINTERNAL);
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        dt_node **nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) { dt_fail(DT_ENOMEM, "graph: out of memory"); return build_failed(g, DT_ENOMEM); }
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    dt_node *n = calloc(1, sizeof *n);
    if (!n) { dt_fail(DT_ENOMEM, "graph: out of memory"); return build_failed(g, DT_ENOMEM); }
    n->op = op;
    n->id = g->n_nodes;
    snprintf(n->name, sizeof n->name, "%s", name);
    snprintf(n->layer, sizeof n->layer, "%s", layer ? layer : "");
    g->nodes[g->n_nodes++] = n;
    return n;
}

static dt_status check_shape(const char *what, int ndim, const int *shape)
{
    if (ndim < 1 || ndim > DT_MAX_DIMS)
        return dt_fail(DT_ESHAPE, "%s: %d dimensions (1 to %d supported)", what, ndim, DT_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) return dt_fail(DT_ESHAPE, "%s: dimension %d is %d", what, i, shape[i]);
    return DT_OK;
}

dt_node *dt_input(dt_graph *g, const char *name, int ndim, const int *shape)
{
    if (check_shape(name, ndim, shape)) return build_failed(g, DT_ESHAPE);
    dt_node *n = new_node(g, DT_OP_INPUT, name, name);
    if (!n) return NULL;
    n->ndim = ndim;
    memcpy(n->shape, shape, (size_t)ndim * sizeof *shape);
    n->batched = 1;
    return n;
}

dt_node *dt_param(dt_graph *g, const char *name, const char *layer, int ndim, const int *shape,
                  dt_init init, int fan_in, int fan_out)
{
    if (check_shape(name, ndim, shape)) return build_failed(g, DT_ESHAPE);
    dt_node *n = new_node(g, DT_OP_PARAM, name, layer);
    if (!n) return NULL;
    n->ndim = ndim;
    memcpy(n->shape, shape, (size_t)ndim * sizeof *shape);
    n->init = init;
    n->fan_in = fan_in;
    n->fan_out = fan_out;
    n->param_offset = g->n_param_values;
    g->n_param_values += dt_numel(n);
    dt_node **np = realloc(g->params, (size_t)(g->n_params + 1) * sizeof *np);
    if (!np) { dt_fail(DT_ENOMEM, "graph: out of memory"); return build_failed(g, DT_ENOMEM); }
    g->params = np;
    g->params[g->n_params++] = n;
    return n;
}

dt_node *dt_apply(dt_graph *g, dt_op op, const char *layer, int n_in, dt_node *const *in,
                  const int *iarg, int n_iarg, const float *farg, int n_farg)
{
    for (int i = 0; i < n_in; i++)
        if (!in[i]) return NULL; /* an earlier op failed; its error is kept */
    const dt_op_def *def = dt_op_get(op);
    if (!def) {
        dt_fail(DT_EINTERNAL, "layer '%s': op %d is not available in this build", layer, (int)op);
        return build_failed(g, DT_EINTERNAL);
    }
    char name[DT_NAME_LEN];
    snprintf(name, sizeof name, "%s/%s", layer, def->name);
    dt_node *n = new_node(g, op, name, layer);
    if (!n) return NULL;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        if (in[i]->batched) n->batched = 1;
    }
    if (n_iarg) memcpy(n->iarg, iarg, (size_t)n_iarg * sizeof *iarg);
    if (n_farg) memcpy(n->farg, farg, (size_t)n_farg * sizeof *farg);
    dt_status st = def->infer(n);
    if (st) return build_failed(g, st);
    return n;
}

dt_node *dt_graph_find(const dt_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name)) return g->nodes[i];
    return NULL;
}

static size_t align16(size_t x) { return (x + 15) & ~(size_t)15; }

dt_status dt_graph_set_batch(dt_graph *g, int batch)
{
    if (batch < 1 || (g->compiled && batch > g->max_batch))
        return dt_fail(DT_EINTERNAL, "graph: batch %d outside 1..%d", batch, g->max_batch);
    for (int i = 0; i < g->n_nodes; i++) {
        dt_node *n = g->nodes[i];
        if (n->op == DT_OP_PARAM) continue;
        if (n->op == DT_OP_INPUT) {
            if (n->batched) n->shape[0] = batch;
            continue;
        }
        dt_status st = dt_op_get(n->op)->infer(n);
        if (st) return st;
    }
    g->batch = batch;
    return DT_OK;
}

void dt_graph_update_grad_flags(dt_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        dt_node *n = g->nodes[i];
        if (n->op == DT_OP_PARAM) n->needs_grad = 1;
        else if (n->op == DT_OP_INPUT) n->needs_grad = n->requires_grad;
        else {
            n->needs_grad = 0;
            for (int k = 0; k < n->n_in; k++) n->needs_grad |= n->in[k]->needs_grad;
        }
        n->grad = n->needs_grad ? n->grad_buf : NULL;
    }
}

dt_status dt_graph_compile(dt_graph *g, int max_batch)
{
    if (g->build_status) return dt_fail(g->build_status, "%s", g->build_error);
    if (g->compiled) return dt_fail(DT_EINTERNAL, "graph: compiled twice");
    dt_status st = dt_graph_set_batch(g, max_batch);
    if (st) return st;
    g->max_batch = max_batch;

    size_t act = 0, aux = 0, state = 0, ws = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        dt_node *n = g->nodes[i];
        if (n->op == DT_OP_PARAM) continue;
        const dt_op_def *def = dt_op_get(n->op);
        n->cap = dt_numel(n);
        act += align16(n->cap);
        if (def->aux_bytes) aux += align16(def->aux_bytes(n));
        if (def->state_len) state += def->state_len(n);
        if (def->workspace && def->workspace(n) > ws) ws = def->workspace(n);
    }
    size_t np = g->n_param_values ? g->n_param_values : 1;
    g->param_val = calloc(np, sizeof(float));
    g->param_grad = calloc(np, sizeof(float));
    g->arena = calloc(2 * act + 1, sizeof(float));
    g->aux_arena = calloc(aux + 1, 1);
    g->state_arena = calloc(state + 1, sizeof(float));
    g->ws = calloc(ws + 1, sizeof(float));
    if (!g->param_val || !g->param_grad || !g->arena || !g->aux_arena || !g->state_arena || !g->ws)
        return dt_fail(DT_ENOMEM, "graph: cannot allocate %zu activation floats and %zu parameters",
                       2 * act, g->n_param_values);
    g->arena_len = 2 * act;
    g->grad_begin = g->arena + act;
    g->grad_len = act;
    g->ws_len = ws;
    g->state_len = state;

    size_t a_off = 0, x_off = 0, s_off = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        dt_node *n = g->nodes[i];
        if (n->op == DT_OP_PARAM) {
            n->cap = dt_numel(n);
            n->val = g->param_val + n->param_offset;
            n->grad_buf = g->param_grad + n->param_offset;
            continue;
        }
        const dt_op_def *def = dt_op_get(n->op);
        n->val = g->arena + a_off;
        n->grad_buf = g->grad_begin + a_off;
        a_off += align16(n->cap);
        if (def->aux_bytes) {
            n->aux = g->aux_arena + x_off;
            x_off += align16(def->aux_bytes(n));
        }
        if (def->state_len) {
            n->state = g->state_arena + s_off;
            n->state_len = def->state_len(n);
            s_off += n->state_len;
        }
    }
    /* A reshape is a view: its values are its input's, in place (the MLP's
     * flatten copied 200k floats per step at batch 256).  Gradients stay
     * separate buffers (each node's gradient bookkeeping is its own). */
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == DT_OP_RESHAPE) g->nodes[i]->val = g->nodes[i]->in[0]->val;
    g->ex.ws = g->ws;
    g->ex.train = 1;
    g->compiled = 1;
    dt_graph_update_grad_flags(g);
    return DT_OK;
}

void dt_graph_set_train(dt_graph *g, int train) { g->ex.train = train; }

/* The first non-finite value in x[0..n), or n when all are finite. */
static size_t first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return n;
}

static void note_anomaly(dt_graph *g, const char *where, const dt_node *op_node, const dt_node *bad,
                         size_t idx, float v)
{
    dt_anomaly *a = &g->anomaly;
    a->found = 1;
    snprintf(a->where, sizeof a->where, "%s", where);
    snprintf(a->op, sizeof a->op, "%s", dt_op_get(op_node->op)->name);
    snprintf(a->layer, sizeof a->layer, "%s", op_node->layer);
    snprintf(a->node, sizeof a->node, "%s", bad->name);
    a->index = idx;
    a->value = v;
}

static dt_status anomaly_error(const dt_graph *g)
{
    const dt_anomaly *a = &g->anomaly;
    return dt_fail(DT_EDATA, "anomaly: %s of op %s in layer '%s' produced %g in '%s' at element %zu",
                   a->where, a->op, a->layer, (double)a->value, a->node, a->index);
}

dt_status dt_graph_forward(dt_graph *g, dt_node *upto)
{
    if (!g->compiled) return dt_fail(DT_EINTERNAL, "graph: forward before compile");
    int last = upto ? upto->id : g->n_nodes - 1;
    for (int i = 0; i <= last; i++) {
        dt_node *n = g->nodes[i];
        if (n->op == DT_OP_INPUT || n->op == DT_OP_PARAM) continue;
        if (g->profile) {
            double t0 = seconds_now();
            dt_op_get(n->op)->forward(n, &g->ex);
            g->profile[i] += seconds_now() - t0;
        } else
            dt_op_get(n->op)->forward(n, &g->ex);
        if (g->anomaly_mode && !g->anomaly.found) {
            size_t k = dt_numel(n), bad = first_nonfinite(n->val, k);
            if (bad < k) {
                note_anomaly(g, "forward", n, n, bad, n->val[bad]);
                return anomaly_error(g);
            }
        }
    }
    return DT_OK;
}

/* Gradients are not zeroed up front (a full pass over every activation
 * gradient, 10-13% of a LeNet step): each node's gradient is marked unseen,
 * and the first op to write it is told so (ex->grad_fresh) and assigns
 * instead of adding, or, if it cannot, gets it zeroed just before it runs.
 * Gradients that nothing wrote are zeroed at the end. */
static void prepare_inputs(dt_graph *g, dt_node *n)
{
    const int can_assign = dt_op_fresh_grad(n->op);
    for (int k = 0; k < n->n_in; k++) {
        dt_node *in = n->in[k];
        int fresh = in->grad && !in->grad_seen, dup = 0;
        for (int j = 0; j < n->n_in; j++) dup |= j != k && n->in[j] == in;
        if (fresh && (!can_assign || dup)) {
            memset(in->grad, 0, dt_numel(in) * sizeof(float));
            fresh = 0;
        }
        g->ex.grad_fresh[k] = fresh;
        if (in->grad) in->grad_seen = 1;
    }
}

dt_status dt_graph_backward_seeded(dt_graph *g, dt_node *root, const float *seed)
{
    if (!g->compiled) return dt_fail(DT_EINTERNAL, "graph: backward before compile");
    memset(g->param_grad, 0, g->n_param_values * sizeof(float));
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->grad_seen = g->nodes[i]->op == DT_OP_PARAM;
    dt_status st = DT_OK;
    if (root->grad) {
        memcpy(root->grad, seed, dt_numel(root) * sizeof(float));
        root->grad_seen = 1;
    }
    for (int i = root->grad ? root->id : -1; i >= 0; i--) {
        dt_node *n = g->nodes[i];
        if (!n->grad || n->op == DT_OP_INPUT || n->op == DT_OP_PARAM) continue;
        if (!n->grad_seen) { /* nothing flowed in: its gradient is zero */
            memset(n->grad, 0, dt_numel(n) * sizeof(float));
            n->grad_seen = 1;
        }
        prepare_inputs(g, n);
        if (g->profile) {
            double t0 = seconds_now();
            dt_op_get(n->op)->backward(n, &g->ex);
            g->profile[g->n_nodes + i] += seconds_now() - t0;
        } else
            dt_op_get(n->op)->backward(n, &g->ex);
        if (g->anomaly_mode && !g->anomaly.found) {
            for (int k = 0; k < n->n_in; k++) {
                dt_node *in = n->in[k];
                if (!in->grad) continue;
                size_t m = dt_numel(in), bad = first_nonfinite(in->grad, m);
                if (bad < m) {
                    note_anomaly(g, "backward", n, in, bad, in->grad[bad]);
                    st = anomaly_error(g);
                    break;
                }
            }
            if (st) break;
        }
    }
    /* Nodes nothing reached (after root, or cut off) hold zero gradients. */
    for (int i = 0; i < g->n_nodes; i++) {
        dt_node *n = g->nodes[i];
        if (n->grad && !n->grad_seen) memset(n->grad, 0, dt_numel(n) * sizeof(float));
    }
    return st;
}

dt_status dt_graph_backward(dt_graph *g, dt_node *root)
{
    if (dt_numel(root) != 1)
        return dt_fail(DT_EINTERNAL, "graph: backward from '%s' which is not a scalar", root->name);
    const float one = 1.0f;
    return dt_graph_backward_seeded(g, root, &one);
}

void dt_graph_init_params(dt_graph *g, uint64_t seed)
{
    dt_rng r;
    dt_rng_seed(&r, seed);
    for (int i = 0; i < g->n_params; i++) {
        dt_node *p = g->params[i];
        size_t k = dt_numel(p);
        double a;
        switch (p->init) {
        case DT_INIT_ZERO: memset(p->val, 0, k * sizeof(float)); break;
        case DT_INIT_ONE: for (size_t j = 0; j < k; j++) p->val[j] = 1.0f; break;
        case DT_INIT_HE_NORMAL:
            a = sqrt(2.0 / p->fan_in);
            for (size_t j = 0; j < k; j++) p->val[j] = (float)(a * dt_rng_normal(&r));
            break;
        case DT_INIT_GLOROT_UNIFORM:
            a = sqrt(6.0 / (p->fan_in + p->fan_out));
            for (size_t j = 0; j < k; j++) p->val[j] = (float)(a * (2.0 * dt_rng_uniform(&r) - 1.0));
            break;
        case DT_INIT_UNIFORM_FAN_IN:
            a = 1.0 / sqrt(p->fan_in);
            for (size_t j = 0; j < k; j++) p->val[j] = (float)(a * (2.0 * dt_rng_uniform(&r) - 1.0));
            break;
        case DT_INIT_LSTM_BIAS: /* gates i,f,g,o stacked: the second quarter is f */
            for (size_t j = 0; j < k; j++) p->val[j] = (j >= k / 4 && j < k / 2) ? 1.0f : 0.0f;
            break;
        case DT_INIT_CONSTANT: for (size_t j = 0; j < k; j++) p->val[j] = p->farg[0]; break;
        case DT_INIT_NORMAL:
            for (size_t j = 0; j < k; j++) p->val[j] = (float)(p->farg[0] * dt_rng_normal(&r));
            break;
        }
    }
}
