/* Named wrappers over dt_apply: what model builders call. */
#include "dnntrouble/graph.h"

#define IN(...) (dt_node *const[]){__VA_ARGS__}

dt_node *dt_matmul(dt_graph *g, const char *layer, dt_node *x, dt_node *w)
{ return dt_apply(g, DT_OP_MATMUL, layer, 2, IN(x, w), 0, 0, 0, 0); }

dt_node *dt_bias_add(dt_graph *g, const char *layer, dt_node *x, dt_node *b)
{
    /* The channel axis: 1 for NCHW images, otherwise the last (features). */
    int axis = x ? (x->ndim == 4 ? 1 : x->ndim - 1) : 0;
    return dt_apply(g, DT_OP_BIAS_ADD, layer, 2, IN(x, b), &axis, 1, 0, 0);
}

dt_node *dt_add(dt_graph *g, const char *layer, dt_node *a, dt_node *b)
{ return dt_apply(g, DT_OP_ADD, layer, 2, IN(a, b), 0, 0, 0, 0); }

dt_node *dt_mul(dt_graph *g, const char *layer, dt_node *a, dt_node *b)
{ return dt_apply(g, DT_OP_MUL, layer, 2, IN(a, b), 0, 0, 0, 0); }

dt_node *dt_relu(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_RELU, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_tanh(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_TANH, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_sigmoid(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_SIGMOID, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_dropout(dt_graph *g, const char *layer, dt_node *x, float rate)
{ return dt_apply(g, DT_OP_DROPOUT, layer, 1, IN(x), 0, 0, &rate, 1); }

dt_node *dt_softmax(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_SOFTMAX, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_log_softmax(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_LOG_SOFTMAX, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_cross_entropy(dt_graph *g, const char *layer, dt_node *logits, dt_node *labels)
{ return dt_apply(g, DT_OP_CROSS_ENTROPY, layer, 2, IN(logits, labels), 0, 0, 0, 0); }

dt_node *dt_mse(dt_graph *g, const char *layer, dt_node *pred, dt_node *target)
{ return dt_apply(g, DT_OP_MSE, layer, 2, IN(pred, target), 0, 0, 0, 0); }

dt_node *dt_reshape(dt_graph *g, const char *layer, dt_node *x, int ndim, const int *shape)
{
    int arg[1 + DT_MAX_DIMS] = {ndim};
    for (int i = 0; i < ndim && i < DT_MAX_DIMS; i++) arg[1 + i] = shape[i];
    return dt_apply(g, DT_OP_RESHAPE, layer, 1, IN(x), arg, 1 + DT_MAX_DIMS, 0, 0);
}

dt_node *dt_flatten(dt_graph *g, const char *layer, dt_node *x)
{
    if (!x) return NULL;
    int rest = 1;
    for (int i = 1; i < x->ndim; i++) rest *= x->shape[i];
    return dt_reshape(g, layer, x, 2, (int[]){-1, rest});
}

dt_node *dt_concat(dt_graph *g, const char *layer, dt_node *a, dt_node *b, int axis)
{ return dt_apply(g, DT_OP_CONCAT, layer, 2, IN(a, b), &axis, 1, 0, 0); }

dt_node *dt_seq_last(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_SEQ_LAST, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_mean(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_MEAN, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_sum(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_SUM, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_conv2d(dt_graph *g, const char *layer, dt_node *x, dt_node *w, int stride, int pad)
{ return dt_apply(g, DT_OP_CONV2D, layer, 2, IN(x, w), (int[]){stride, pad}, 2, 0, 0); }

dt_node *dt_maxpool(dt_graph *g, const char *layer, dt_node *x, int k, int stride)
{ return dt_apply(g, DT_OP_MAXPOOL, layer, 1, IN(x), (int[]){k, stride}, 2, 0, 0); }

dt_node *dt_avgpool(dt_graph *g, const char *layer, dt_node *x, int k, int stride)
{ return dt_apply(g, DT_OP_AVGPOOL, layer, 1, IN(x), (int[]){k, stride}, 2, 0, 0); }

dt_node *dt_batchnorm(dt_graph *g, const char *layer, dt_node *x, dt_node *gamma, dt_node *beta,
                      float momentum, float eps)
{ return dt_apply(g, DT_OP_BATCHNORM, layer, 3, IN(x, gamma, beta), 0, 0, (float[]){momentum, eps}, 2); }

dt_node *dt_layernorm(dt_graph *g, const char *layer, dt_node *x, dt_node *gamma, dt_node *beta, float eps)
{ return dt_apply(g, DT_OP_LAYERNORM, layer, 3, IN(x, gamma, beta), 0, 0, &eps, 1); }

dt_node *dt_embedding(dt_graph *g, const char *layer, dt_node *ids, dt_node *table)
{ return dt_apply(g, DT_OP_EMBEDDING, layer, 2, IN(ids, table), 0, 0, 0, 0); }

dt_node *dt_lstm(dt_graph *g, const char *layer, dt_node *x, dt_node *w_ih, dt_node *w_hh,
                 dt_node *b_ih, dt_node *b_hh)
{ return dt_apply(g, DT_OP_LSTM, layer, 5, IN(x, w_ih, w_hh, b_ih, b_hh), 0, 0, 0, 0); }

dt_node *dt_leaky_relu(dt_graph *g, const char *layer, dt_node *x, float slope)
{ return dt_apply(g, DT_OP_LEAKY_RELU, layer, 1, IN(x), 0, 0, &slope, 1); }

dt_node *dt_global_avgpool(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_GLOBAL_AVGPOOL, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_seq_mean(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_SEQ_MEAN, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_gelu(dt_graph *g, const char *layer, dt_node *x)
{ return dt_apply(g, DT_OP_GELU, layer, 1, IN(x), 0, 0, 0, 0); }

dt_node *dt_pos_add(dt_graph *g, const char *layer, dt_node *x, dt_node *pos)
{ return dt_apply(g, DT_OP_POS_ADD, layer, 2, IN(x, pos), 0, 0, 0, 0); }

dt_node *dt_attention(dt_graph *g, const char *layer, dt_node *x, dt_node *w_in, dt_node *b_in, dt_node *w_out,
                      dt_node *b_out, int heads, int causal)
{ return dt_apply(g, DT_OP_ATTENTION, layer, 5, IN(x, w_in, b_in, w_out, b_out), (int[]){heads, causal != 0}, 2, 0, 0); }
