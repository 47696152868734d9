/* Model checkpoints: safetensors files with PyTorch state_dict names and
 * layouts (SPEC "Checkpoints"), so a trained model loads into the equivalent
 * torch module with load_state_dict, and back.  docs/checkpoints.md has the
 * full contract (tensor names, metadata keys, how to load in torch).
 *
 * Tensors: every parameter of the model's graph, in creation order (c1.weight,
 * c1.bias, ..., fc.bias), and for each batch-norm layer bnN its running
 * statistics bnN.running_mean and bnN.running_var right after bnN.bias, as in
 * torch's state_dict.  bnN.num_batches_tracked (int64 in torch) is not
 * written: the engine does not count batches and its momentum is fixed, and
 * torch fills the key in with 0 when a plain dict lacks it, so
 * load_state_dict(strict=True) still accepts the file.
 *
 * __metadata__ (all strings):
 *   arch          "lenet" | "mlp" | "lstm"
 *   input_shape   JSON array, one sample: "[1,28,28]", "[28,28]", "[784]"
 *   classes       JSON array: classes[i] is the original label predicted by
 *                 output i ("[0,1,...,9]"); "[]" for regression (mse)
 *   mean, std     JSON arrays, one value per image channel or per feature, in
 *                 raw units: x = (raw - mean) / std; "[]" when not normalized
 *   outputs, hidden, depth, width_mult, activation, batch_norm,
 *   output_softmax, loss, format ("pt"), tool    model details to rebuild it */
#ifndef DT_CHECKPOINT_H
#define DT_CHECKPOINT_H

#include "dnntrouble/model.h"
#include "dnntrouble/safetensors.h"

typedef struct dt_ckpt_meta {
    int n_norm;                  /* values in mean and std; 0: inputs not normalized */
    const float *mean, *std;
    const int *class_labels;     /* m->spec.outputs original labels; NULL: 0..K-1 */
    int n_extra;                 /* more metadata strings (keys must not repeat the above) */
    const dt_st_kv *extra;
} dt_ckpt_meta;

/* Writes m's parameters and batch-norm statistics to path (atomically).
 * meta may be NULL (no normalization, labels 0..K-1). */
dt_status dt_checkpoint_save(const dt_model *m, const char *path, const dt_ckpt_meta *meta);

/* Loads a checkpoint into a built model with the same architecture.  Every
 * tensor the model has must be in the file with the same shape, and the file
 * may hold no other tensor (torch's strict mode); on any mismatch nothing is
 * changed and DT_EDATA names the tensor and both shapes. */
dt_status dt_checkpoint_load(dt_model *m, const char *path);

#endif
