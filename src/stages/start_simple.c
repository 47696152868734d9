/* start-simple (Tobin: "start simple"): profile the data, apply the
 * simplification, pick the architecture by modality and the sensible
 * defaults, and say why.  Departures from the simple start are findings. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "common.h"
#include "dnntrouble/blas.h"
#include "dnntrouble/edit.h"

/* Tobin's guide: about 10,000 training examples are enough to start. */
#define SIMPLE_TRAIN_SIZE 10000
/* A model this wide is no longer "simple" for a first run. */
#define SIMPLE_MAX_HIDDEN 256

static const char *modality_reason(const dt_data *d)
{
    switch (d->format) {
    case DT_FORMAT_IDX: return "IDX files hold images";
    case DT_FORMAT_TEXT: return "text is read as character sequences";
    case DT_FORMAT_CSV: return "CSV rows are feature vectors";
    case DT_FORMAT_NPY: return d->ndim >= 3 ? "arrays of shape (N, C, H, W) or (N, H, W) are images"
                                             : d->ndim == 2 ? "arrays of shape (N, T, F) are sequences"
                                                            : "arrays of shape (N, D) are feature vectors";
    case DT_FORMAT_SYNTHETIC: return "the generator's own modality";
    }
    return "";
}

static const char *arch_reason(dt_arch a)
{
    switch (a) {
    case DT_ARCH_LENET: return "images: a LeNet-like convnet is the simple start (Tobin)";
    case DT_ARCH_LSTM: return "sequences: an LSTM with one hidden layer is the simple start (Tobin)";
    case DT_ARCH_RESNET: return "images: a ResNet-8, the step after LeNet (Tobin)";
    case DT_ARCH_TRANSFORMER: return "sequences: a small transformer encoder, the step after an LSTM (Tobin)";
    default: return "anything else: a fully-connected net with one hidden layer (Tobin)";
    }
}

/* The ramp's next step after this architecture (improve's "different
 * architecture"), or NULL when it is the last. */
static const char *next_arch(dt_arch a)
{
    switch (a) {
    case DT_ARCH_LENET: return "resnet";
    case DT_ARCH_LSTM: return "transformer";
    case DT_ARCH_MLP: return "a deeper mlp with batch-norm";
    default: return NULL;
    }
}

static void record_profile(dt_report *rep, const dt_data *d)
{
    const dt_data_profile *p = dt_data_get_profile(d);
    cJSON *prof = cJSON_CreateObject(), *splits = cJSON_CreateObject();
    for (int s = 0; s < DT_SPLIT_COUNT; s++)
        cJSON_AddNumberToObject(splits, dt_split_name((dt_split_id)s), (double)dt_data_split_size(d, s));
    cJSON_AddItemToObject(prof, "split_sizes", splits);
    int C = dt_stage_classes(d);
    if (C > 0 && p->class_count) {
        cJSON *cc = cJSON_CreateObject();
        for (int s = 0; s < DT_SPLIT_COUNT; s++) {
            cJSON *arr = cJSON_CreateArray();
            for (int c = 0; c < C; c++)
                cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)p->class_count[(size_t)s * C + c]));
            cJSON_AddItemToObject(cc, dt_split_name((dt_split_id)s), arr);
        }
        cJSON_AddItemToObject(prof, "class_counts", cc);
    }
    cJSON *stats = cJSON_CreateObject();
    cJSON_AddItemToObject(stats, "min", cJSON_CreateFloatArray(p->min, p->n_stats));
    cJSON_AddItemToObject(stats, "max", cJSON_CreateFloatArray(p->max, p->n_stats));
    cJSON_AddItemToObject(stats, "mean", cJSON_CreateFloatArray(p->mean, p->n_stats));
    cJSON_AddItemToObject(stats, "std", cJSON_CreateFloatArray(p->std, p->n_stats));
    cJSON_AddStringToObject(stats, "per", d->modality == DT_MODALITY_IMAGE ? "channel" : "feature");
    cJSON_AddItemToObject(prof, "input_stats", stats);
    cJSON_AddNumberToObject(prof, "nan_count", (double)p->nan_count);
    cJSON_AddNumberToObject(prof, "label_min", p->label_min);
    cJSON_AddNumberToObject(prof, "label_max", p->label_max);
    cJSON_AddNumberToObject(prof, "train_test_duplicates", (double)p->duplicates);
    cJSON_AddNumberToObject(prof, "constant_features", (double)p->constant_features);
    cJSON_AddNumberToObject(prof, "input_elements", (double)p->input_elements);
    cJSON *shape = cJSON_CreateIntArray(d->shape, d->ndim);
    cJSON_AddItemToObject(prof, "sample_shape", shape);
    dt_report_metric_json(rep, "data", prof);
}

/* The BLAS and the kernel it runs (SPEC "Performance"): metric `blas`, and
 * a warning when that kernel is below what the CPU supports. */
static void record_blas(dt_report *rep)
{
    dt_blas_info b;
    char label[160];
    dt_blas_info_get(&b);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", b.name);
    cJSON_AddStringToObject(o, "version", b.version);
    cJSON_AddStringToObject(o, "kernel", b.kernel);
    cJSON_AddStringToObject(o, "kernel_chosen_by", dt_blas_source_name(b.source));
    if (b.replaced[0]) cJSON_AddStringToObject(o, "replaced_kernel", b.replaced);
    cJSON_AddStringToObject(o, "label", dt_blas_label(&b, label, sizeof label));
    dt_report_metric_json(rep, "blas", o);
    if (b.fallback) {
        dt_finding *f = dt_report_finding(rep, "slow-blas-kernel", DT_SEV_WARNING,
                                          "BLAS %s is below what this CPU supports (%s): training runs several "
                                          "times slower than it could", label, b.cpu_level == 3 ? "AVX-512" : "AVX2+FMA");
        dt_finding_evidence_str(f, "kernel", b.kernel);
        dt_finding_evidence(f, "cpu_level", b.cpu_level);
        dt_finding_suggest(f, "unset OPENBLAS_CORETYPE so dnntrouble picks the kernel, or set it to %s",
                           b.cpu_level == 3 ? "SkylakeX" : "Haswell (Intel) or Zen (AMD)");
    }
}

/* One chosen setting with its value and the reason (the report's "choices"). */
static void choice(cJSON *arr, const char *key, const char *value, const char *reason)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "key", key);
    cJSON_AddStringToObject(c, "value", value);
    cJSON_AddStringToObject(c, "reason", reason);
    cJSON_AddItemToArray(arr, c);
}

dt_status dt_stage_start_simple(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d;
    int arch_was_auto = ctx->cfg->model.arch == DT_ARCH_AUTO;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    const dt_config *cfg = ctx->cfg;
    record_profile(rep, d);
    record_blas(rep);

    char buf[64];
    cJSON *choices = cJSON_CreateArray();
    choice(choices, "data.modality", dt_modality_name(d->modality), modality_reason(d));
    const char *next = next_arch(cfg->model.arch);
    char reason[320];
    snprintf(reason, sizeof reason, "%s%s%s%s", arch_was_auto ? arch_reason(cfg->model.arch) : "set in the config",
             next ? "; next: " : "", next ? next : "",
             next ? " (improve's \"different architecture\", once this one is debugged and still underfits or overfits)"
                  : "");
    choice(choices, "model.arch", dt_arch_name(cfg->model.arch), reason);
    choice(choices, "train.optimizer", dt_optimizer_name(cfg->train.optimizer),
           dt_config_given(cfg, "train.optimizer") ? "set in the config" : "Adam is safe (Tobin, Karpathy)");
    snprintf(buf, sizeof buf, "%g", cfg->train.lr);
    choice(choices, "train.lr", buf, dt_config_given(cfg, "train.lr") ? "set in the config" : "3e-4 with Adam (Tobin)");
    const char *act = cfg->model.arch == DT_ARCH_LSTM ? "tanh"
                      : cfg->model.arch == DT_ARCH_TRANSFORMER ? "gelu"
                      : cfg->model.activation == DT_ACT_RELU || cfg->model.arch == DT_ARCH_RESNET ? "relu" : "tanh";
    choice(choices, "model.activation", act,
           cfg->model.arch == DT_ARCH_LSTM ? "LSTMs use tanh (Tobin)"
           : cfg->model.arch == DT_ARCH_TRANSFORMER ? "GELU in the transformer's MLPs (GPT, BERT, ViT)"
                                                    : "ReLU for fully-connected and conv models (Tobin)");
    choice(choices, "init", strcmp(act, "tanh") != 0 ? "he" : "glorot",
           "He init with ReLU, Glorot with tanh; LSTM forget-gate bias 1 (Tobin)");
    choice(choices, "regularization", "none", "no regularization until the model fits (Tobin)");
    choice(choices, "data.normalize", cfg->data.normalize ? "true" : "false",
           "standardize inputs with statistics of the train split only");
    dt_report_metric_json(rep, "choices", choices);
    dt_report_metric_str(rep, "modality", dt_modality_name(d->modality));
    dt_report_metric_str(rep, "arch", dt_arch_name(cfg->model.arch));
    if (next) dt_report_metric_str(rep, "next_arch", next);
    dt_report_metric(rep, "classes", dt_stage_classes(d));
    dt_report_metric(rep, "train_size", (double)dt_data_split_size(d, DT_SPLIT_TRAIN));

    /* Departures from the simple start, read off the network that will run
     * (the expanded description), whatever keys produced it. */
    const dt_model_desc *md = &cfg->model.desc;
    double dropout = dt_desc_max_dropout(md);
    int n_bn = dt_desc_count(md, DT_LAYER_BATCHNORM);
    if (cfg->train.weight_decay > 0 || dropout > 0 || n_bn) {
        dt_finding *f = dt_report_finding(rep, "not-simple-regularization", DT_SEV_WARNING,
                                          "regularization is on before the model is known to fit "
                                          "(weight_decay %g, dropout %g, %d batchnorm layer%s)",
                                          cfg->train.weight_decay, dropout, n_bn, n_bn == 1 ? "" : "s");
        dt_finding_evidence(f, "weight_decay", cfg->train.weight_decay);
        dt_finding_evidence(f, "dropout", dropout);
        dt_finding_evidence(f, "batchnorm_layers", n_bn);
        dt_finding_suggest(f, "turn weight decay, dropout and batch-norm off until overfit-batch passes");
        dt_finding_suggest(f, "add regularization back one piece at a time when decompose shows high variance");
    }
    int widest = 0, hidden_linear = 0;
    for (int i = 0; i < md->n_layers; i++) {
        const dt_layer_desc *l = &md->layers[i];
        double w = l->type == DT_LAYER_LINEAR ? dt_layer_opt(l, "units") : l->type == DT_LAYER_LSTM ? dt_layer_opt(l, "hidden") : 0;
        if (w > widest) widest = (int)w;
        hidden_linear += l->type == DT_LAYER_LINEAR && dt_layer_opt(l, "units") != DT_UNITS_CLASSES;
    }
    /* An MLP starts with one hidden layer; any model starts narrow. */
    int deep_mlp = cfg->model.arch == DT_ARCH_MLP && hidden_linear > 1;
    if (widest > SIMPLE_MAX_HIDDEN || deep_mlp) {
        dt_finding *f = dt_report_finding(rep, "not-simple-model-size", DT_SEV_WARNING,
                                          "the model is larger than a simple start (widest layer %d units, %d hidden "
                                          "linear layers)",
                                          widest, hidden_linear);
        dt_finding_evidence(f, "widest", widest);
        dt_finding_evidence(f, "hidden_linear_layers", hidden_linear);
        dt_finding_evidence(f, "simple_max_hidden", SIMPLE_MAX_HIDDEN);
        dt_finding_suggest(f, "start with one hidden layer of at most %d units; grow it when decompose shows high bias",
                           SIMPLE_MAX_HIDDEN);
    }
    if (cfg->train.optimizer != DT_OPT_ADAM || fabs(cfg->train.lr - 3e-4) > 1e-12) {
        dt_finding *f = dt_report_finding(rep, "not-simple-optimizer", DT_SEV_INFO,
                                          "optimizer %s with lr %g instead of Adam with lr 3e-4",
                                          dt_optimizer_name(cfg->train.optimizer), cfg->train.lr);
        dt_finding_evidence(f, "lr", cfg->train.lr);
        dt_finding_suggest(f, "Adam with lr 3e-4 is the safe default to start from; tune the learning rate later");
    }
    if (cfg->model.output_activation == DT_OUT_SOFTMAX && cfg->loss == DT_LOSS_CROSS_ENTROPY) {
        dt_finding *f = dt_report_finding(rep, "softmax-before-logits-loss", DT_SEV_ERROR,
                                          "model.output_activation is softmax but loss cross_entropy takes logits");
        dt_finding_suggest(f, "set model.output_activation: none; cross_entropy applies log-softmax itself");
    }
    if (!cfg->data.normalize) {
        dt_finding *f = dt_report_finding(rep, "normalization-off", DT_SEV_WARNING,
                                          "data.normalize is false: inputs reach the model unscaled");
        dt_finding_suggest(f, "set data.normalize: true (standardize with train-split statistics)");
    }
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    if (n > SIMPLE_TRAIN_SIZE && cfg->data.subset_samples == 0) {
        dt_finding *f = dt_report_finding(rep, "large-training-set", DT_SEV_INFO,
                                          "%zu training samples; about %d are enough to start", n,
                                          SIMPLE_TRAIN_SIZE);
        dt_finding_evidence(f, "train_size", (double)n);
        dt_finding_suggest(f, "set data.subset.samples: %d while debugging, then use all data", SIMPLE_TRAIN_SIZE);
    }
    const dt_data_profile *p = dt_data_get_profile(d);
    if (p->constant_features > 0 && d->modality == DT_MODALITY_TABULAR) {
        dt_finding *f = dt_report_finding(rep, "constant-features", DT_SEV_INFO,
                                          "%zu input features are constant over the train split",
                                          p->constant_features);
        dt_finding_evidence(f, "count", (double)p->constant_features);
        dt_finding_suggest(f, "drop constant features; they carry no information");
    }
    return DT_OK;
}
