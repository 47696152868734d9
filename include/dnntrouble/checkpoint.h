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
 *   outputs, loss, format ("pt"), tool
 *   model         the expanded description {"inputs": {...}, "layers": [...]}
 *   target_mean, target_std   regression trained on standardized targets:
 *                 raw prediction = output * target_std + target_mean (absent otherwise)
 *   inputs        per model input, in order: {"NAME": {"field", "shape",
 *                 "tokens", "vocab", "mean", "std"}} (mean/std as above)
 * so a checkpoint alone rebuilds its network (dt_checkpoint_open). */
#ifndef DT_CHECKPOINT_H
#define DT_CHECKPOINT_H

#include "dnntrouble/model.h"
#include "dnntrouble/safetensors.h"

/* One model input's normalization (raw units): x = (raw - mean) / std. */
typedef struct dt_ckpt_norm {
    int n;                       /* values in mean and std; 0: not normalized */
    const float *mean, *std;
} dt_ckpt_norm;

typedef struct dt_ckpt_meta {
    int n_norm;                  /* input 0 (the top-level mean/std keys); 0: not normalized */
    const float *mean, *std;
    const dt_ckpt_norm *inputs;  /* per model input (NULL: input 0 uses n_norm/mean/std, others none) */
    int targets_standardized;    /* regression: outputs are (y - target_mean) / target_std */
    double target_mean, target_std;
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

/* What a checkpoint says besides its tensors (dt_checkpoint_open). */
typedef struct dt_ckpt_info {
    int n_classes;
    int classes[256];            /* output i predicts original label classes[i] */
    dt_loss loss;
    int n_inputs;
    char field[DT_MAX_MODEL_INPUTS][DT_INPUT_NAME_LEN];   /* data field each input read */
    int n_norm[DT_MAX_MODEL_INPUTS];
    int targets_standardized;    /* raw prediction = output * target_std + target_mean */
    double target_mean, target_std;
    float *mean[DT_MAX_MODEL_INPUTS], *std[DT_MAX_MODEL_INPUTS];   /* malloc'd: dt_ckpt_info_free */
} dt_ckpt_info;

/* Rebuilds the network a checkpoint describes (its `model` and `inputs`
 * metadata) for batches up to max_batch and loads its tensors.  DT_EDATA
 * names the file and what is missing or malformed. */
dt_status dt_checkpoint_open(const char *path, int max_batch, dt_model **m, dt_ckpt_info *info);
void dt_ckpt_info_free(dt_ckpt_info *info);
/* Applies input i's normalization to n raw samples of shape `in`, in place
 * (one statistic per image channel, or per feature of a table or a step). */
void dt_ckpt_normalize(const dt_ckpt_info *info, int i, const dt_input_shape *in, float *x, size_t n);

#endif
