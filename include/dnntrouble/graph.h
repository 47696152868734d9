/* The autograd core: a static graph of float32 nodes, built once per model
 * and reused every step (kann's design, with status returns).
 *
 * Build: create inputs and parameters, apply ops (each checks shapes at once
 * and returns NULL with a message naming the op, the layer and both shapes),
 * then dt_graph_compile() allocates every buffer for the largest batch.
 * After that no training step allocates: forward, backward and the optimizer
 * only touch buffers made at compile time.
 *
 * Memory (llm.c style): all parameter values live in one flat block
 * (g->param_val), their gradients in another of the same size
 * (g->param_grad), in creation order, which is also the checkpoint order.
 * Activations and their gradients live in one arena. */
#ifndef DT_GRAPH_H
#define DT_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "dnntrouble/rng.h"
#include "dnntrouble/status.h"

#define DT_MAX_DIMS 4
#define DT_MAX_INPUTS 5
#define DT_NAME_LEN 64   /* a layer name (< 40) + "." + a tensor suffix */

typedef enum dt_op {
    DT_OP_INPUT, DT_OP_PARAM,
    /* linear algebra */
    DT_OP_MATMUL, DT_OP_BIAS_ADD,
    /* element-wise */
    DT_OP_ADD, DT_OP_MUL, DT_OP_RELU, DT_OP_TANH, DT_OP_SIGMOID, DT_OP_DROPOUT,
    /* normalised outputs and losses */
    DT_OP_SOFTMAX, DT_OP_LOG_SOFTMAX, DT_OP_CROSS_ENTROPY, DT_OP_MSE,
    /* shape and reductions */
    DT_OP_RESHAPE, DT_OP_CONCAT, DT_OP_SEQ_LAST, DT_OP_MEAN, DT_OP_SUM,
    /* images */
    DT_OP_CONV2D, DT_OP_MAXPOOL, DT_OP_AVGPOOL,
    /* normalisation layers and lookups */
    DT_OP_BATCHNORM, DT_OP_LAYERNORM, DT_OP_EMBEDDING,
    /* recurrent */
    DT_OP_LSTM,
    /* layer-table extras (ops_reduce.c) */
    DT_OP_LEAKY_RELU, DT_OP_GLOBAL_AVGPOOL, DT_OP_SEQ_MEAN,
    /* transformers (ops_attention.c) */
    DT_OP_GELU, DT_OP_POS_ADD, DT_OP_ATTENTION,
    DT_OP_COUNT
} dt_op;

typedef enum dt_init {
    DT_INIT_ZERO, DT_INIT_ONE,
    DT_INIT_HE_NORMAL,       /* N(0, 2/fan_in): ReLU layers */
    DT_INIT_GLOROT_UNIFORM,  /* U(+-sqrt(6/(fan_in+fan_out))): tanh/sigmoid layers */
    DT_INIT_UNIFORM_FAN_IN,  /* U(+-1/sqrt(fan_in)): biases, torch's default */
    DT_INIT_LSTM_BIAS,       /* zeros with the forget-gate quarter (i,f,g,o) at 1 */
    DT_INIT_CONSTANT,        /* every value farg[0] */
    DT_INIT_NORMAL           /* N(0, farg[0]^2) */
} dt_init;

typedef struct dt_node dt_node;
struct dt_node {
    dt_op op;
    int id;                        /* creation order = topological order */
    char name[DT_NAME_LEN];        /* parameters: state_dict name, e.g. "c1.weight" */
    char layer[DT_NAME_LEN];       /* the layer it belongs to, for messages and statistics */
    int n_in;
    dt_node *in[DT_MAX_INPUTS];
    int ndim;
    int shape[DT_MAX_DIMS];        /* current shape; dim 0 follows the batch when `batched` */
    int batched;
    size_t cap;                    /* elements allocated: numel at the largest batch */
    float *val;                    /* [cap] */
    float *grad;                   /* [cap], NULL when no gradient reaches this node */
    float *grad_buf;               /* [cap] always allocated; grad points here when needed */
    int needs_grad;
    int requires_grad;             /* inputs: ask for d loss / d input (dependency checks) */
    int iarg[8];                   /* op arguments (stride, padding, axis, ...) */
    float farg[4];                 /* op arguments (dropout rate, epsilon, momentum, ...) */
    void *aux;                     /* op-private state kept from forward for backward */
    float *state;                  /* persistent non-trainable state (batch-norm running stats) */
    size_t state_len;
    dt_init init;                  /* parameters only */
    int fan_in, fan_out;           /* parameters only */
    size_t param_offset;           /* parameters only: offset into the flat blocks */
    int grad_seen;                 /* backward bookkeeping: grad written in this pass */
};

typedef struct dt_exec {
    float *ws;                     /* shared scratch (im2col columns), sized at compile */
    int train;                     /* 1: training mode (dropout on, batch-norm batch stats) */
    dt_rng *rng;                   /* dropout masks */
    /* Set for each backward call of an op with dt_op_fresh_grad:
     * 1 when in[k]->grad holds nothing of this pass yet (stale values from
     * an earlier one), and the op must then *assign* every element of it
     * instead of adding.  Saves zeroing every gradient before backward and
     * reading the zeros back. */
    int grad_fresh[DT_MAX_INPUTS];
} dt_exec;

/* Signature of each op's entry in the op table (one entry per op, kann style):
 * infer checks input shapes and sets the output shape; forward computes val;
 * backward adds this node's contribution into each input's grad (when not
 * NULL); aux_bytes / workspace give the op's private and scratch sizes for
 * the node's current (largest) shape. */
typedef struct dt_op_def {
    const char *name;
    dt_status (*infer)(dt_node *n);
    void (*forward)(dt_node *n, const dt_exec *ex);
    void (*backward)(dt_node *n, const dt_exec *ex);
    size_t (*aux_bytes)(const dt_node *n);
    size_t (*workspace)(const dt_node *n);   /* floats */
    size_t (*state_len)(const dt_node *n);   /* floats of persistent state */
} dt_op_def;

const dt_op_def *dt_op_get(dt_op op);
/* 1 when the op's backward honours ex->grad_fresh (src/ops/table.c); for
 * the others the graph zeroes a fresh input gradient before the call, so
 * they may always add. */
int dt_op_fresh_grad(dt_op op);

typedef struct dt_anomaly {
    int found;
    char where[32];                /* "forward" or "backward" */
    char op[24];
    char layer[DT_NAME_LEN];
    char node[DT_NAME_LEN];
    size_t index;                  /* first non-finite element */
    float value;
} dt_anomaly;

typedef struct dt_graph {
    dt_node **nodes;
    int n_nodes, cap_nodes;
    dt_node **params;              /* trainable, in creation (checkpoint) order */
    int n_params;
    size_t n_param_values;
    float *param_val;              /* [n_param_values] */
    float *param_grad;             /* [n_param_values] */
    float *arena;                  /* activation values, then activation gradients */
    size_t arena_len;
    float *grad_begin;             /* activation gradients: one region, zeroed per backward */
    size_t grad_len;
    unsigned char *aux_arena;
    float *state_arena;            /* [state_len] persistent op state (batch-norm running
                                    * statistics), each node's n->state a slice of it */
    size_t state_len;
    float *ws;
    size_t ws_len;
    int max_batch, batch;
    int compiled;
    dt_status build_status;        /* first build error, kept until compile */
    char build_error[512];
    dt_exec ex;
    dt_rng rng;
    int anomaly_mode;
    dt_anomaly anomaly;
    double *profile;               /* NULL, or [2 * n_nodes]: seconds spent in each node's forward,
                                      then backward, added by every pass (bench --profile) */
} dt_graph;

dt_graph *dt_graph_new(void);
void dt_graph_free(dt_graph *g);

/* Build.  `shape` includes the batch dimension first for batched inputs. */
dt_node *dt_input(dt_graph *g, const char *name, int ndim, const int *shape);
dt_node *dt_param(dt_graph *g, const char *name, const char *layer, int ndim, const int *shape,
                  dt_init init, int fan_in, int fan_out);
/* Generic op application; the named wrappers below are what models use. */
dt_node *dt_apply(dt_graph *g, dt_op op, const char *layer, int n_in, dt_node *const *in,
                  const int *iarg, int n_iarg, const float *farg, int n_farg);

dt_node *dt_matmul(dt_graph *g, const char *layer, dt_node *x, dt_node *w);     /* x[..,K] w[N,K] -> [..,N] */
dt_node *dt_bias_add(dt_graph *g, const char *layer, dt_node *x, dt_node *b);   /* b[C] over axis 1 */
dt_node *dt_add(dt_graph *g, const char *layer, dt_node *a, dt_node *b);
dt_node *dt_mul(dt_graph *g, const char *layer, dt_node *a, dt_node *b);
dt_node *dt_relu(dt_graph *g, const char *layer, dt_node *x);
dt_node *dt_tanh(dt_graph *g, const char *layer, dt_node *x);
dt_node *dt_sigmoid(dt_graph *g, const char *layer, dt_node *x);
dt_node *dt_dropout(dt_graph *g, const char *layer, dt_node *x, float rate);
dt_node *dt_softmax(dt_graph *g, const char *layer, dt_node *x);                /* over the last axis */
dt_node *dt_log_softmax(dt_graph *g, const char *layer, dt_node *x);
dt_node *dt_cross_entropy(dt_graph *g, const char *layer, dt_node *logits, dt_node *labels); /* mean over rows */
dt_node *dt_mse(dt_graph *g, const char *layer, dt_node *pred, dt_node *target);            /* mean over all */
dt_node *dt_reshape(dt_graph *g, const char *layer, dt_node *x, int ndim, const int *shape); /* shape[0] = -1: batch */
dt_node *dt_flatten(dt_graph *g, const char *layer, dt_node *x);                /* [B, ...] -> [B, prod] */
dt_node *dt_concat(dt_graph *g, const char *layer, dt_node *a, dt_node *b, int axis);
dt_node *dt_seq_last(dt_graph *g, const char *layer, dt_node *x);               /* [B,T,H] -> [B,H] */
dt_node *dt_mean(dt_graph *g, const char *layer, dt_node *x);                   /* -> [1] */
dt_node *dt_sum(dt_graph *g, const char *layer, dt_node *x);                    /* -> [1] */
dt_node *dt_conv2d(dt_graph *g, const char *layer, dt_node *x, dt_node *w, int stride, int pad);
dt_node *dt_maxpool(dt_graph *g, const char *layer, dt_node *x, int k, int stride);
dt_node *dt_avgpool(dt_graph *g, const char *layer, dt_node *x, int k, int stride);
dt_node *dt_batchnorm(dt_graph *g, const char *layer, dt_node *x, dt_node *gamma, dt_node *beta,
                      float momentum, float eps);
dt_node *dt_layernorm(dt_graph *g, const char *layer, dt_node *x, dt_node *gamma, dt_node *beta, float eps);
dt_node *dt_embedding(dt_graph *g, const char *layer, dt_node *ids, dt_node *table);
dt_node *dt_lstm(dt_graph *g, const char *layer, dt_node *x, dt_node *w_ih, dt_node *w_hh,
                 dt_node *b_ih, dt_node *b_hh);                                  /* [B,T,D] -> [B,T,H] */
dt_node *dt_leaky_relu(dt_graph *g, const char *layer, dt_node *x, float slope);
dt_node *dt_global_avgpool(dt_graph *g, const char *layer, dt_node *x);         /* [B,C,H,W] -> [B,C] */
dt_node *dt_seq_mean(dt_graph *g, const char *layer, dt_node *x);               /* [B,T,H] -> [B,H] */
dt_node *dt_gelu(dt_graph *g, const char *layer, dt_node *x);                   /* x·Φ(x), the erf form */
dt_node *dt_pos_add(dt_graph *g, const char *layer, dt_node *x, dt_node *pos);  /* [B,T,D] + [1,T,D] */
/* Multi-head self-attention over [B,T,D] with torch's nn.MultiheadAttention
 * parameters (in_proj_weight [3D,D], in_proj_bias [3D], out_proj.weight
 * [D,D], out_proj.bias [D]); causal: step t attends to steps <= t. */
dt_node *dt_attention(dt_graph *g, const char *layer, dt_node *x, dt_node *w_in, dt_node *b_in, dt_node *w_out,
                      dt_node *b_out, int heads, int causal);

/* Allocates every buffer for batches up to max_batch.  Returns the first
 * build error if any op failed to build. */
dt_status dt_graph_compile(dt_graph *g, int max_batch);
/* Draws every parameter from its initialiser, in creation order. */
void dt_graph_init_params(dt_graph *g, uint64_t seed);
/* Changes the batch size (<= max_batch) without allocating. */
dt_status dt_graph_set_batch(dt_graph *g, int batch);
void dt_graph_set_train(dt_graph *g, int train);
/* Forward up to and including `upto` (NULL: the whole graph). */
dt_status dt_graph_forward(dt_graph *g, dt_node *upto);
/* Seeds d(root)=1 (root must have 1 element) and runs backward.  Afterwards
 * every gradient holds this pass's value (0 where nothing flowed). */
dt_status dt_graph_backward(dt_graph *g, dt_node *root);
/* As above with an explicit seed gradient for `root` (numel(root) values). */
dt_status dt_graph_backward_seeded(dt_graph *g, dt_node *root, const float *seed);
/* Recomputes which nodes need gradients (after changing requires_grad). */
void dt_graph_update_grad_flags(dt_graph *g);

dt_node *dt_graph_find(const dt_graph *g, const char *name);
size_t dt_numel(const dt_node *n);
/* "[64,1,28,28]" */
const char *dt_shape_str(const dt_node *n, char *buf, size_t len);

#endif
