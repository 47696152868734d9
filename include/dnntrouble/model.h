/* The starter models (SPEC "Checkpoints": exact layouts and state_dict
 * names) built on the graph, plus the training step and evaluation pass.
 *
 *   LeNet: c1 Conv2d(C,6,5,pad 2) → ReLU → MaxPool(2) → c2 Conv2d(6,16,5) → ReLU
 *          → MaxPool(2) → flatten → f1 Linear(16·5·5,120) → ReLU → f2 Linear(120,84)
 *          → ReLU → f3 Linear(84,K)
 *   MLP:   f1 Linear(D,H) → act → f2 Linear(H,K)   (depth d: f1..fd hidden, f(d+1) out)
 *   LSTM:  lstm LSTM(D,H, batch_first) → last step → fc Linear(H,K)
 */
#ifndef DT_MODEL_H
#define DT_MODEL_H

#include "dnntrouble/config.h"
#include "dnntrouble/graph.h"
#include "dnntrouble/optim.h"

typedef struct dt_model_spec {
    dt_arch arch;                 /* MLP, LENET or LSTM (never AUTO here) */
    int in_ndim;
    int in_shape[3];              /* per sample: {C,H,W}, {T,F} or {D} */
    int outputs;                  /* classes (cross-entropy) or target width (mse) */
    int hidden;                   /* MLP width, LSTM hidden size */
    int depth;                    /* MLP hidden layers (>= 1) */
    int width_mult;               /* LeNet channel/unit multiplier (1 = the SPEC sizes) */
    dt_activation act;
    int output_softmax;           /* softmax on the output (wrong with cross-entropy) */
    float dropout;                /* after each hidden activation; 0 = none */
    int batch_norm;               /* batch-norm before each hidden activation */
    dt_loss loss;
    int max_batch;
} dt_model_spec;

typedef struct dt_model {
    dt_model_spec spec;
    dt_graph *g;
    dt_node *x;                   /* [B, ...in_shape] input */
    dt_node *y;                   /* [B] class ids (cross-entropy) or [B, outputs] targets (mse) */
    dt_node *out;                 /* [B, outputs] model output (logits unless output_softmax) */
    dt_node *loss;                /* [1] mean loss over the batch */
} dt_model;

dt_status dt_model_build(const dt_model_spec *spec, dt_model **out);
void dt_model_free(dt_model *m);
/* Re-draws every parameter and resets batch-norm statistics. */
void dt_model_init(dt_model *m, uint64_t seed);
const char *dt_arch_label(dt_arch a);

/* One optimisation step on the batch already in m->x / m->y (batch size set
 * with dt_graph_set_batch): forward, backward, clip, update.  Training mode.
 * Never allocates. */
dt_status dt_model_train_step(dt_model *m, dt_optimizer *o, float *loss_out);

#endif
