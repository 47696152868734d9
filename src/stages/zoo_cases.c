/* THE zoo table: one entry per case (docs/zoo.md shows the measured table).
 *
 * Adding a case: append one entry below, and nothing else.
 *   name      a short id (the folder OUT/cases/NAME and the table's first column)
 *   source    where the bug comes from: DeepFD (seeded faults), TheDeepChecker
 *             (buggy_synthetic_programs), AUTOTRAINER (symptoms), DeepCrime
 *             (mutation operators), UMLAUT (checks), or "clean" for a case that
 *             must raise no warning or error (a false-alarm probe)
 *   bug       one line for the table: what is planted
 *   data      the generated data and the data bug (dt_zoo_data in
 *             include/dnntrouble/zoo.h): generator, extra noise columns, label
 *             noise, imbalance, leakage, shift, input scale, train rows
 *   sets      config edits in --set spelling (KEY=VALUE, YAML values) over
 *             dt_zoo_base_sets: model.layers (with each layer's init), loss,
 *             train.optimizer / lr / epochs ...
 *   stages    the stages that should catch it, in run order
 *   expected  the finding ids (docs/findings.md) any one of which, fired as a
 *             warning or an error, detects the case; "" for a clean case
 * tests/test_zoo.c runs every case in the quick profile: a case whose expected
 * id exists in docs/findings.md must be detected, a clean case must stay clean.
 * The data is drawn per profile (zoo_data.c), so a case must be caught at the
 * quick profile's 1200 train rows and at the full profile's 2400. */
#include <stddef.h>
#include <string.h>

#include "dnntrouble/zoo.h"

/* Tobin's starting architectures on every case's data (arch auto: an MLP
 * with one hidden layer of 64 on tables, LeNet on images, an LSTM on
 * sequences) with Adam, at 1e-2 rather than Tobin's 3e-4 so that the small
 * problems fit within 30 epochs: the clean set-up every bug is planted in. */
const char *const dt_zoo_base_sets[] = {
    "train.lr=0.01",
    "train.epochs=30",
    "stages.overfit-batch.max_steps=300",
    NULL,
};

/* The table every tabular case starts from: three interleaved spirals (an MLP
 * needs its hidden layer: a linear model errs on 40%) plus 4 noise columns. */
#define ZOO_TABLE {.generator = DT_GEN_SPIRALS, .extra_features = 4}
#define CUSTOM "model.arch=custom"
#define ZOO_TRAIN_STAGES "debug compare decompose"
#define ZOO_ALL_STAGES "start-simple debug overfit-batch compare decompose"

const dt_zoo_case dt_zoo_cases[] = {
    /* --- optimizer settings ------------------------------------------------------ */
    {"lr-too-high", "DeepFD", "Adam at lr 10 (DeepFD seeds lr 1-10)", ZOO_TABLE,
     {"train.lr=10"}, "debug overfit-batch", "overfit-loss-explodes overfit-loss-increases"},
    {"lr-too-low", "TheDeepChecker", "Adam at lr 1e-7 (low_lr)", ZOO_TABLE,
     {"train.lr=1e-7"}, "debug overfit-batch", "overfit-loss-plateaus"},
    {"sgd-oscillates", "AUTOTRAINER", "plain SGD at lr 0.4 on batches of 2: validation error swings between epochs",
     ZOO_TABLE, {"train.optimizer=sgd", "train.lr=0.4", "train.batch_size=2"}, "decompose",
     "training-oscillates"},
    {"too-few-epochs", "DeepFD", "5 epochs instead of 30 (DeepFD cuts the epochs 10-50x; 6x here)", ZOO_TABLE,
     {"train.epochs=5"}, "decompose", "not-converged"},

    /* --- data ---------------------------------------------------------------------- */
    {"raw-inputs", "TheDeepChecker", "0..255 pixels fed as they are (missing_normalization)",
     {.generator = DT_GEN_SHAPES}, {"data.normalize=false"}, "debug", "inputs-not-normalized"},
    {"normalized-twice", "TheDeepChecker", "pixels divided by 255 twice: max 0.004 (double_normalization)",
     {.generator = DT_GEN_SHAPES, .x_scale = 1.0 / (255.0 * 255.0)}, {"data.normalize=false"}, "debug",
     "inputs-not-normalized"},
    {"label-noise-30", "DeepCrime", "30% of train labels changed to another class (change labels)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .label_noise = 0.3}, {0},
     ZOO_TRAIN_STAGES, "label-noise"},
    {"shuffled-labels", "TheDeepChecker", "labels permuted against the inputs (wrong_labels)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .shuffle_labels = 1}, {"data.splits.train_val=0.3"}, "compare",
     "input-independent"},
    {"class-imbalance", "DeepCrime", "class k keeps 20^(-k/2) of its train rows (unbalance data)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .imbalance = 20}, {0}, "debug", "class-imbalance"},
    {"tiny-train-set", "DeepCrime", "a 256-unit MLP on 120 train rows with 40 noise columns (delete data)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 40, .noise = 0.45, .train_rows = 240},
     {"model.hidden=256", "train.epochs=200", "train.early_stopping.patience=0", "data.splits.train_val=0.5"},
     "decompose", "high-variance"},
    {"test-leak", "UMLAUT", "30% of the test rows copied into train (suspiciously good validation)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .leak = 0.3}, {0}, "debug", "train-test-overlap"},
    {"shifted-test", "FSDL (Tobin)", "test features rotated by 40 degrees (a shifted test distribution)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .shift_degrees = 40}, {0}, "decompose",
     "distribution-shift"},

    /* --- model description and init ------------------------------------------------ */
    {"relu-on-logits", "DeepFD", "ReLU after the output layer of a 3-class cross-entropy (last activation)",
     ZOO_TABLE,
     {CUSTOM, "model.layers=[{type: linear, units: 32}, {type: relu}, {type: linear, units: classes}, {type: relu}]"},
     "debug", "output-activation-mismatch"},
    {"sigmoid-on-logits", "DeepFD", "sigmoid after the output layer of a 3-class cross-entropy", ZOO_TABLE,
     {CUSTOM,
      "model.layers=[{type: linear, units: 32}, {type: relu}, {type: linear, units: classes}, {type: sigmoid}]"},
     "debug", "output-activation-mismatch"},
    {"softmax-then-ce", "TheDeepChecker", "softmax layer before cross_entropy, which takes logits (redundant_softmax)",
     ZOO_TABLE,
     {CUSTOM,
      "model.layers=[{type: linear, units: 32}, {type: relu}, {type: linear, units: classes}, {type: softmax}]"},
     "debug", "softmax-before-logits-loss"},
    {"mse-on-classes", "DeepFD", "loss mse on class labels (loss swapped)", ZOO_TABLE, {"loss=mse"}, "debug",
     "loss-task-mismatch"},
    {"ce-on-regression", "DeepFD", "cross_entropy on a quantity: x0 + 0.5 x1 rounded to 20 levels read as 20 classes",
     {.generator = DT_GEN_SPIRALS, .extra_features = 4, .quantity_levels = 20}, {"data.splits.train_val=0.3"},
     "decompose", "loss-task-mismatch"},
    {"no-nonlinearity", "DeepCrime", "three linear layers with no activation between them (activation removal)",
     ZOO_TABLE,
     {CUSTOM, "model.layers=[{type: linear, units: 32}, {type: linear, units: 32}, {type: linear, units: classes}]"},
     "debug", "no-nonlinearity"},
    {"sigmoid-stack", "AUTOTRAINER", "8 sigmoid layers trained with plain SGD: vanishing gradients", ZOO_TABLE,
     {CUSTOM, "train.optimizer=sgd", "train.lr=0.01",
      "model.layers=[{type: linear, units: 32}, {type: sigmoid}, {type: linear, units: 32}, {type: sigmoid}, "
      "{type: linear, units: 32}, {type: sigmoid}, {type: linear, units: 32}, {type: sigmoid}, "
      "{type: linear, units: 32}, {type: sigmoid}, {type: linear, units: 32}, {type: sigmoid}, "
      "{type: linear, units: 32}, {type: sigmoid}, {type: linear, units: 32}, {type: sigmoid}, "
      "{type: linear, units: classes}]"},
     "debug", "vanishing-gradients"},
    {"tanh-saturated", "TheDeepChecker", "tanh on 200 inputs with N(0,1) weights: units pinned at +-1 (wrong_init)",
     {.generator = DT_GEN_SPIRALS, .extra_features = 198},
     {CUSTOM, "model.layers=[{type: linear, units: 64, init: {normal: 1.0}}, {type: tanh}, {type: linear, units: classes}]"},
     "debug", "saturated-activations"},
    {"relu-killed", "AUTOTRAINER", "two ReLU layers, plain SGD at lr 5: the debug steps kill the second (dying ReLU)",
     ZOO_TABLE, {"model.depth=2", "train.optimizer=sgd", "train.lr=5"}, "debug", "dead-relu"},
    {"constant-init", "DeepCrime", "every weight and bias of both linear layers set to 0.1 (weight init)", ZOO_TABLE,
     {CUSTOM, "model.layers=[{type: linear, units: 32, init: {constant: 0.1}}, {type: relu}, "
              "{type: linear, units: classes, init: {constant: 0.1}}]"},
     "debug", "symmetric-init"},
    {"lstm-no-clipping", "AUTOTRAINER", "an LSTM at Adam lr 3 with no gradient clipping: exploding gradients",
     {.generator = DT_GEN_SEQUENCES}, {"model.arch=lstm", "train.lr=3"}, "debug", "exploding-gradients"},
    {"input-never-used", "TheDeepChecker", "two-input net whose caption branch has all-zero weights",
     {.generator = DT_GEN_PAIRS},
     {CUSTOM, "model.inputs={image: {field: image}, caption: {field: caption}}",
      "model.layers=[{name: img, type: flatten, in: image}, {name: emb, type: embedding, in: caption, dim: 8}, "
      "{name: txt, type: seq_pool, how: mean}, {name: cut, type: linear, units: 8, init: zeros}, "
      "{name: cut_act, type: relu}, {name: cat, type: concat, in: [img, cut_act]}, {type: linear, units: 32}, {type: relu}, "
      "{type: linear, units: classes}]"},
     "debug", "input-unused"},

    /* --- clean set-ups: no warning or error may fire ---------------------------------- */
    {"clean-mlp", "clean", "the base MLP on the spirals table", ZOO_TABLE, {0}, ZOO_ALL_STAGES, ""},
    {"clean-lstm", "clean", "the lstm preset on the sequences set", {.generator = DT_GEN_SEQUENCES},
     {"model.arch=lstm", "train.epochs=15"}, ZOO_ALL_STAGES, ""},
    {"clean-lenet", "clean", "the lenet preset on the shapes images, Adam 3e-3", {.generator = DT_GEN_SHAPES},
     {"train.lr=0.003"}, ZOO_ALL_STAGES, ""},
    {"clean-pairs", "clean", "the two-input fusion (auto) on the pairs set", {.generator = DT_GEN_PAIRS, .rows = 6000},
     {"train.lr=0.001", "train.epochs=15"}, ZOO_ALL_STAGES, ""},
};
const int dt_n_zoo_cases = (int)(sizeof dt_zoo_cases / sizeof dt_zoo_cases[0]);

const dt_zoo_case *dt_zoo_find(const char *name)
{
    for (int i = 0; i < dt_n_zoo_cases; i++)
        if (strcmp(dt_zoo_cases[i].name, name) == 0) return &dt_zoo_cases[i];
    return NULL;
}
