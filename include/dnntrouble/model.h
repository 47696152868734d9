/* A model: a description (layers.h) built onto the graph, plus the loss,
 * the training step and the presets.
 *
 * Presets (SPEC "Checkpoints": exact layouts and state_dict names) are
 * functions that *produce descriptions*; there is no second build path:
 *   lenet: c1 Conv2d(C,6,5,pad 2) → ReLU → MaxPool(2) → c2 Conv2d(6,16,5) → ReLU
 *          → MaxPool(2) → flatten → f1 Linear(16·5·5,120) → ReLU → f2 Linear(120,84)
 *          → ReLU → f3 Linear(84,K)
 *   mlp:   f1 Linear(D,H) → act → f2 Linear(H,K)   (depth d: f1..fd hidden, f(d+1) out)
 *   lstm:  [emb Embedding(V,H) for token input →] lstm LSTM(D,H, depth layers) → last step
 *          → fc Linear(H,K)
 *   resnet: conv1 Conv2d(C,w,3,pad 1,no bias) → bn1 → ReLU → layer1.0 BasicBlock(w→w)
 *          → layer2.0 BasicBlock(w→2w, stride 2) → layer3.0 BasicBlock(2w→4w, stride 2)
 *          → global average pool → fc Linear(4w,K); torchvision's names (conv1, bn1,
 *          conv2, bn2, downsample.0/.1); w = 16, or model.hidden when given;
 *          model.depth BasicBlocks per stage (1: ResNet-8)
 *   transformer: embed Linear(F,d) (Embedding(V,d) for token ids) → pos [1,T,d] →
 *          blocks.N {ln1 → attn MultiheadAttention(d, 4) → + → ln2 → mlp.0 Linear(d,4d)
 *          → GELU → mlp.2 Linear(4d,d) → +} (2 blocks, or model.depth when given)
 *          → ln → last step → fc Linear(d,K); d = model.hidden (64)
 *   auto on several inputs: one encoder per input, flattened, concatenated,
 *          f1 Linear(·,H) → ReLU → out Linear(H,K) (the seed's fusion network) */
#ifndef DT_MODEL_H
#define DT_MODEL_H

#include "dnntrouble/config.h"
#include "dnntrouble/graph.h"
#include "dnntrouble/layers.h"
#include "dnntrouble/optim.h"

typedef struct dt_model_spec {
    dt_model_desc desc;           /* the expanded layer list */
    char arch[16];                /* the family it came from ("lenet", "custom", ...) */
    int n_inputs;
    dt_input_shape inputs[DT_MAX_MODEL_INPUTS];   /* in desc/model.inputs order */
    int outputs;                  /* classes (cross-entropy) or target width (mse) */
    dt_loss loss;
    int max_batch;
    int field[DT_MAX_MODEL_INPUTS];              /* the data field each input reads */
    const char *source;           /* names the description in messages ("config.yaml"); may be NULL */
} dt_model_spec;

typedef struct dt_model {
    dt_model_spec spec;
    dt_graph *g;
    int n_inputs;
    dt_node *inputs[DT_MAX_MODEL_INPUTS];   /* [B, ...shape] per model input */
    int field[DT_MAX_MODEL_INPUTS];         /* data field each input reads (set by whoever feeds it) */
    dt_node *x;                   /* inputs[0] */
    dt_node *y;                   /* [B] class ids (cross-entropy) or [B, outputs] targets (mse) */
    dt_node *out;                 /* [B, outputs] model output (logits unless output_softmax) */
    dt_node *loss;                /* [1] mean loss over the batch */
    int output_softmax;           /* the output layer is a softmax (wrong with cross-entropy) */
    int onehot_targets;           /* mse on class labels: y holds one-hot rows (set by dt_model_load_batch) */
    dt_node *layer_out[DT_MAX_LAYERS];      /* each described layer's output node */
} dt_model;

/* Builds and compiles the graph of spec->desc (checked with
 * dt_model_desc_check first).  Errors are DT_ECONFIG naming the layer, its
 * YAML line and the shapes. */
dt_status dt_model_build(const dt_model_spec *spec, dt_model **out);
void dt_model_free(dt_model *m);
/* Re-draws every parameter and resets batch-norm statistics. */
void dt_model_init(dt_model *m, uint64_t seed);
/* The node feeding input k of described layer i; returns the model input's
 * index when it is one, else -1 (a layer's output). */
int dt_model_layer_input(const dt_model *m, int i, int k, dt_node **node);
/* Index of the model input called name, -1 when none. */
int dt_model_input_index(const dt_model *m, const char *name);

/* One optimisation step on the batch already in the inputs and m->y (batch
 * size set with dt_graph_set_batch): forward, backward, clip, update.
 * Training mode.  Never allocates. */
dt_status dt_model_train_step(dt_model *m, dt_optimizer *o, float *loss_out);

/* ------------------------------------------------------------ presets */

typedef struct dt_preset_args {
    dt_arch arch;                 /* MLP, LENET, LSTM, RESNET, TRANSFORMER, or AUTO for the multi-input fusion */
    int hidden, depth;
    int hidden_given, depth_given;/* set by the user: resnet's widths follow hidden only then,
                                   * the transformer's block count depth only then */
    dt_activation act;
    int batch_norm;               /* before each hidden activation */
    double dropout;               /* after each hidden activation; 0 = none */
    int output_softmax;           /* a softmax on the output (model.output_activation) */
} dt_preset_args;

/* The description a preset stands for, for these inputs.  DT_ECONFIG when
 * the preset cannot read them (lenet on tabular data ...). */
dt_status dt_preset_expand(const dt_preset_args *a, const dt_input_shape *inputs, int n_inputs, dt_model_desc *out);
/* A whole spec for a preset on one input (bench, tests); the input's name
 * defaults to "x". */
dt_status dt_model_spec_preset(const dt_preset_args *a, const dt_input_shape *in, int outputs, dt_loss loss,
                               int max_batch, dt_model_spec *s);

#endif
