/* The op table: one entry per op (kann style).  Each op's shape inference,
 * forward and backward sit side by side in its ops_*.c file. */
#include <stddef.h>

#include "dnntrouble/graph.h"

extern const dt_op_def dt_def_matmul, dt_def_bias_add;
extern const dt_op_def dt_def_add, dt_def_mul, dt_def_relu, dt_def_tanh, dt_def_sigmoid, dt_def_dropout;
extern const dt_op_def dt_def_softmax, dt_def_log_softmax, dt_def_cross_entropy, dt_def_mse;
extern const dt_op_def dt_def_reshape, dt_def_concat, dt_def_seq_last, dt_def_mean, dt_def_sum;
extern const dt_op_def dt_def_conv2d, dt_def_maxpool, dt_def_avgpool;
extern const dt_op_def dt_def_batchnorm, dt_def_layernorm, dt_def_embedding;
extern const dt_op_def dt_def_lstm;
extern const dt_op_def dt_def_leaky_relu, dt_def_global_avgpool, dt_def_seq_mean;
extern const dt_op_def dt_def_gelu, dt_def_pos_add, dt_def_attention;

static const dt_op_def def_input = {"input", 0, 0, 0, 0, 0, 0};
static const dt_op_def def_param = {"param", 0, 0, 0, 0, 0, 0};

static const dt_op_def *const table[DT_OP_COUNT] = {
    [DT_OP_INPUT] = &def_input,
    [DT_OP_PARAM] = &def_param,
    [DT_OP_MATMUL] = &dt_def_matmul,
    [DT_OP_BIAS_ADD] = &dt_def_bias_add,
    [DT_OP_ADD] = &dt_def_add,
    [DT_OP_MUL] = &dt_def_mul,
    [DT_OP_RELU] = &dt_def_relu,
    [DT_OP_TANH] = &dt_def_tanh,
    [DT_OP_SIGMOID] = &dt_def_sigmoid,
    [DT_OP_DROPOUT] = &dt_def_dropout,
    [DT_OP_SOFTMAX] = &dt_def_softmax,
    [DT_OP_LOG_SOFTMAX] = &dt_def_log_softmax,
    [DT_OP_CROSS_ENTROPY] = &dt_def_cross_entropy,
    [DT_OP_MSE] = &dt_def_mse,
    [DT_OP_RESHAPE] = &dt_def_reshape,
    [DT_OP_CONCAT] = &dt_def_concat,
    [DT_OP_SEQ_LAST] = &dt_def_seq_last,
    [DT_OP_MEAN] = &dt_def_mean,
    [DT_OP_SUM] = &dt_def_sum,
    /* ENTRIES-BELOW: ops_conv.c, ops_norm.c, ops_lstm.c add theirs here */
    [DT_OP_CONV2D] = &dt_def_conv2d,
    [DT_OP_MAXPOOL] = &dt_def_maxpool,
    [DT_OP_AVGPOOL] = &dt_def_avgpool,
    [DT_OP_BATCHNORM] = &dt_def_batchnorm,
    [DT_OP_LAYERNORM] = &dt_def_layernorm,
    [DT_OP_EMBEDDING] = &dt_def_embedding,
    [DT_OP_LSTM] = &dt_def_lstm,
    [DT_OP_LEAKY_RELU] = &dt_def_leaky_relu,
    [DT_OP_GLOBAL_AVGPOOL] = &dt_def_global_avgpool,
    [DT_OP_SEQ_MEAN] = &dt_def_seq_mean,
    [DT_OP_GELU] = &dt_def_gelu,
    [DT_OP_POS_ADD] = &dt_def_pos_add,
    [DT_OP_ATTENTION] = &dt_def_attention,
};

const dt_op_def *dt_op_get(dt_op op) { return table[op]; }

/* Ops whose backward assigns (=) a gradient that ex->grad_fresh marks as
 * this pass's first write; any op left out simply gets it zeroed first. */
static const unsigned char fresh_grad[DT_OP_COUNT] = {
    [DT_OP_MATMUL] = 1, [DT_OP_BIAS_ADD] = 1, [DT_OP_ADD] = 1,     [DT_OP_MUL] = 1,
    [DT_OP_RELU] = 1,   [DT_OP_TANH] = 1,     [DT_OP_SIGMOID] = 1, [DT_OP_DROPOUT] = 1,
    [DT_OP_CROSS_ENTROPY] = 1, [DT_OP_RESHAPE] = 1, [DT_OP_SEQ_LAST] = 1, [DT_OP_CONV2D] = 1,
    [DT_OP_MAXPOOL] = 1,
};

int dt_op_fresh_grad(dt_op op) { return op >= 0 && op < DT_OP_COUNT && fresh_grad[op]; }
