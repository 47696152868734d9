/* Private to src/nn: what a layer's build function sees. */
#ifndef DT_LAYERS_INTERNAL_H
#define DT_LAYERS_INTERNAL_H

#include "dnntrouble/graph.h"
#include "dnntrouble/layers.h"

struct dt_layer_build {
    dt_graph *g;
    const dt_layer_desc *l;
    int classes;                  /* what `units: classes` means */
    int in_vocab[DT_MAX_LAYER_IN];/* > 0: that input is a token model input with this vocabulary */
    dt_init default_weight;       /* `init: default` for this layer's weights (models.c decides) */
    dt_init default_bias;         /* ... and its biases */
    int failed;
};

/* Records "needs ..., got ..." style messages (the caller adds layer and line). */
dt_node *dt_layer_fail(dt_layer_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
