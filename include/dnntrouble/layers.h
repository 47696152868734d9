/* The network as data (SPEC "Models described in the config"): a model
 * description is a list of named layers and the model inputs they read, and
 * the layer table says, per layer type, which options it takes (with their
 * defaults and ranges), how many inputs, and how it builds onto the graph.
 *
 * Adding a layer type is one entry in src/nn/layers.c: its name, its
 * options, its input count, whether it has parameters (and so takes
 * `init`), and a build function that checks the input shapes (naming the
 * layer and both shapes) and applies ops.  Then one test in
 * tests/test_layers.c (build inside a described net, forward/backward,
 * finite differences) and a row in docs/config.md.
 *
 * The description is a plain value (no pointers), so a dt_config holding
 * one still copies with `=` and compares with memcmp (the run's model cache
 * key); the price is a fixed capacity of DT_MAX_LAYERS layers. */
#ifndef DT_LAYERS_H
#define DT_LAYERS_H

#include "dnntrouble/status.h"

#define DT_MAX_LAYERS 128
#define DT_MAX_LAYER_IN 8
#define DT_LAYER_NAME_LEN 40
#define DT_LAYER_MAX_OPTS 5
#define DT_MAX_MODEL_INPUTS 8
#define DT_INPUT_NAME_LEN 32
#define DT_UNITS_CLASSES (-1)   /* `units: classes`: K classes, or the target width */

typedef enum {
    DT_LAYER_LINEAR, DT_LAYER_CONV2D, DT_LAYER_MAXPOOL, DT_LAYER_AVGPOOL, DT_LAYER_GLOBAL_AVGPOOL,
    DT_LAYER_FLATTEN, DT_LAYER_RELU, DT_LAYER_LEAKY_RELU, DT_LAYER_TANH, DT_LAYER_SIGMOID,
    DT_LAYER_SOFTMAX, DT_LAYER_DROPOUT, DT_LAYER_BATCHNORM, DT_LAYER_LAYERNORM, DT_LAYER_EMBEDDING,
    DT_LAYER_LSTM, DT_LAYER_SEQ_POOL, DT_LAYER_ADD, DT_LAYER_CONCAT, DT_LAYER_RESHAPE,
    DT_LAYER_GELU, DT_LAYER_ATTENTION, DT_LAYER_POSITIONAL,
    DT_LAYER_TYPE_COUNT
} dt_layer_type;

/* Per-layer `init` (weights; see dt_layer_param_init for biases). */
typedef enum {
    DT_LINIT_DEFAULT,        /* the engine's documented choice per layer type (docs/config.md) */
    DT_LINIT_HE_NORMAL,      /* N(0, 2/fan_in) */
    DT_LINIT_GLOROT_UNIFORM, /* U(+-sqrt(6/(fan_in+fan_out))) */
    DT_LINIT_TORCH_DEFAULT,  /* what torch.nn's constructor does */
    DT_LINIT_ZEROS,
    DT_LINIT_CONSTANT,       /* {constant: V}: every parameter of the layer */
    DT_LINIT_NORMAL,         /* {normal: STD}: weights N(0, STD^2), biases 0 */
    DT_LINIT_COUNT
} dt_layer_init;

typedef enum {
    DT_LOPT_INT,    /* integer in [lo, hi] */
    DT_LOPT_FLOAT,  /* number in [lo, hi] (lo excluded when lo_open) */
    DT_LOPT_BOOL,
    DT_LOPT_ENUM,   /* one of enums[], stored as its index */
    DT_LOPT_UNITS,  /* integer >= 1 or the word `classes` (DT_UNITS_CLASSES) */
    DT_LOPT_SHAPE   /* list of 1 to 3 integers >= 1 (per sample), in dt_layer_desc.shape */
} dt_lopt_kind;

typedef struct dt_layer_opt_def {
    const char *name;
    dt_lopt_kind kind;
    double def;              /* default (UNITS: DT_UNITS_CLASSES or a number; < -1e300: required) */
    double lo, hi;
    int lo_open;
    const char *const *enums;/* ENUM: NULL-terminated names */
    const char *doc;
} dt_layer_opt_def;

#define DT_LOPT_REQUIRED (-1e308)

/* One layer of a description, as written in the config (defaults filled in). */
typedef struct dt_layer_desc {
    char name[DT_LAYER_NAME_LEN];
    dt_layer_type type;
    int n_in;                                    /* 0: the previous layer (or the first input) */
    char in[DT_MAX_LAYER_IN][DT_LAYER_NAME_LEN]; /* layer or model-input names */
    double opt[DT_LAYER_MAX_OPTS];               /* in the type's option order */
    int shape[3], n_shape;                       /* reshape's per-sample shape */
    dt_layer_init init;
    double init_value;                           /* CONSTANT: the value; NORMAL: the std */
    int line;                                    /* YAML line (0: made by a preset or a remedy) */
} dt_layer_desc;

/* model.inputs: a model input bound to a data field. */
typedef struct dt_model_input_desc {
    char name[DT_INPUT_NAME_LEN];
    char field[DT_INPUT_NAME_LEN];
    int line;
} dt_model_input_desc;

typedef struct dt_model_desc {
    int n_inputs;                                /* 0: one input per data field, named as the field */
    dt_model_input_desc inputs[DT_MAX_MODEL_INPUTS];
    int n_layers;
    dt_layer_desc layers[DT_MAX_LAYERS];
} dt_model_desc;

/* What a model input looks like at build time (per sample, no batch). */
typedef struct dt_input_shape {
    char name[DT_INPUT_NAME_LEN];
    int ndim, shape[3];
    int tokens;              /* integer ids (an `embedding` reads them) */
    int vocab;               /* tokens only */
} dt_input_shape;

typedef struct dt_layer_build dt_layer_build;   /* src/nn/layers.c */
typedef struct dt_node dt_node;

typedef struct dt_layer_def {
    const char *name;
    int n_opts;
    dt_layer_opt_def opts[DT_LAYER_MAX_OPTS];
    int min_in, max_in;      /* inputs it reads */
    int has_params;          /* takes `init`; its name prefixes its tensors */
    const char *doc;
    /* Checks the inputs' shapes and applies ops; NULL on error (message set). */
    dt_node *(*build)(dt_layer_build *b, dt_node *const *in, int n_in);
} dt_layer_def;

const dt_layer_def *dt_layer_def_get(dt_layer_type t);
/* -1 when `name` is not a layer type. */
int dt_layer_type_find(const char *name);
/* Index of option `name` in the type's table, -1 when it has none. */
int dt_layer_opt_find(dt_layer_type t, const char *name);
const char *dt_layer_init_name(dt_layer_init i);
int dt_layer_init_find(const char *name);

/* A layer of type t with every option at its default, named `name`. */
void dt_layer_desc_init(dt_layer_desc *l, dt_layer_type t, const char *name);
/* Appends a layer (NULL when the description is full). */
dt_layer_desc *dt_model_desc_add(dt_model_desc *d, dt_layer_type t, const char *name);
/* Index of the layer called `name`, -1 when none. */
int dt_model_desc_find(const dt_model_desc *d, const char *name);
/* Option value by name (the layer's type must have it). */
double dt_layer_opt(const dt_layer_desc *l, const char *opt);
void dt_layer_set_opt(dt_layer_desc *l, const char *opt, double v);

/* Sets one option from its YAML text (`where` prefixes messages, e.g.
 * "config.yaml:12: layer 'f1'").  Range- and type-checked. */
dt_status dt_layer_parse_opt(dt_layer_desc *l, int opt, const char *value, const char *where);
/* Formats option `opt` of l as YAML text ("128", "classes", "true", "last"). */
void dt_layer_format_opt(const dt_layer_desc *l, int opt, char *buf, unsigned long size);

/* Names left empty become type + position: "relu2" is the second relu of
 * the list (named or not). */
void dt_model_desc_name_layers(dt_model_desc *d);

/* Names left empty become type + position ("relu2": the second relu).  Then
 * checks the description as a graph, without shapes: unique names, every
 * `in` names a layer listed before it or a model input, the right number of
 * inputs per type, every model input read, every layer's output read by a
 * later layer except the last (the model output).  Listing order is the
 * build order, so an `in` naming a later layer (and so any cycle) is an
 * error.  `where` names the source ("config.yaml").  DT_ECONFIG. */
dt_status dt_model_desc_check(dt_model_desc *d, const dt_input_shape *inputs, int n_inputs, const char *where);

#endif
