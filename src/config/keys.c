/* THE key table.  Every scalar config key is one row here; parsing,
 * defaults, range checks, --set, JSON and YAML output all read this table.
 * docs/config.md documents the same rows (keep them in step). */
#include <string.h>

#include "internal.h"

static const char *const task_names[] = {"classification", "regression", NULL};
static const char *const format_names[] = {"idx", "csv", "npy", "text", "synthetic", NULL};
static const char *const modality_names[] = {"auto", "image", "sequence", "tabular", NULL};
static const char *const generator_names[] = {"shapes", "blobs", "spirals", "sequences", "pairs", NULL};
static const char *const arch_names[] = {"auto", "mlp", "lenet", "lstm", "resnet", "transformer", "custom", NULL};
static const char *const act_names[] = {"relu", "tanh", NULL};
static const char *const outact_names[] = {"none", "softmax", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", NULL};
static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", NULL};
static const char *const metric_names[] = {"error", "accuracy", NULL};
static const char *const verdict_names[] = {"pass", "warn", "fail", "skipped", NULL};

const char *const dt_stage_names[] = {"start-simple", "debug", "overfit-batch", "compare",
                                      "decompose", "improve", "tune"};
const int dt_n_stage_names = (int)(sizeof dt_stage_names / sizeof dt_stage_names[0]);

/* Enums are stored through an int pointer; make sure that is their size. */
_Static_assert(sizeof(dt_format) == sizeof(int) && sizeof(dt_arch) == sizeof(int) &&
                   sizeof(dt_task) == sizeof(int) && sizeof(dt_verdict) == sizeof(int),
               "config enums must be int-sized");

#define FIELD_SIZE(f) sizeof(((dt_config *)0)->f)
#define KEY(n, t, f, r, d, fl) {n, t, offsetof(dt_config, f), FIELD_SIZE(f), NULL, r, d, fl, NULL}
#define ENUMKEY(n, f, names, d) {n, DT_KT_ENUM, offsetof(dt_config, f), FIELD_SIZE(f), names, DT_R_ANY, d, 0, NULL}
#define ALIAS(n, f, of) {n, DT_KT_STR, offsetof(dt_config, f), FIELD_SIZE(f), NULL, DT_R_ANY, NULL, DT_KF_ALIAS | DT_KF_PATH, of}
#define SOURCE(split, field) \
    KEY("data." #split "." #field, DT_KT_STR, data.split.field, DT_R_ANY, NULL, DT_KF_OPTIONAL | DT_KF_PATH)

const dt_key dt_keys[] = {
    KEY("name", DT_KT_STR, name, DT_R_ANY, "run", 0),
    KEY("seed", DT_KT_U64, seed, DT_R_ANY, "0", 0),
    KEY("threads", DT_KT_INT, threads, DT_R_ATLEAST1, "1", 0),
    ENUMKEY("task", data.task, task_names, "classification"),

    {"data.format", DT_KT_ENUM, offsetof(dt_config, data.format), FIELD_SIZE(data.format), format_names,
     DT_R_ANY, NULL, DT_KF_REQUIRED, NULL},
    SOURCE(train, images), SOURCE(train, labels), SOURCE(train, path), SOURCE(train, x), SOURCE(train, y),
    SOURCE(test, images), SOURCE(test, labels), SOURCE(test, path), SOURCE(test, x), SOURCE(test, y),
    ALIAS("data.csv.path", data.train.path, "data.train.path"),
    {"data.csv.label", DT_KT_LABEL, offsetof(dt_config, data.csv_label_index), FIELD_SIZE(data.csv_label_index),
     NULL, DT_R_ANY, "-1", 0, NULL},
    KEY("data.csv.header", DT_KT_BOOL, data.csv_header, DT_R_ANY, "true", 0),
    KEY("data.csv.skip_rows", DT_KT_INT, data.csv_skip_rows, DT_R_NONNEG, "0", 0),
    KEY("data.csv.delimiter", DT_KT_CHAR, data.csv_delimiter, DT_R_ANY, ",", 0),
    ALIAS("data.npy.x", data.train.x, "data.train.x"),
    ALIAS("data.npy.y", data.train.y, "data.train.y"),
    ALIAS("data.text.path", data.train.path, "data.train.path"),
    KEY("data.text.seq_len", DT_KT_INT, data.seq_len, DT_R_ATLEAST1, "32", 0),
    ENUMKEY("data.synthetic.generator", data.generator, generator_names, "blobs"),
    KEY("data.synthetic.samples", DT_KT_SIZE, data.samples, DT_R_ATLEAST1, "3000", 0),
    KEY("data.synthetic.noise", DT_KT_DOUBLE, data.noise, DT_R_NONNEG, "0.1", 0),
    KEY("data.synthetic.label_noise", DT_KT_DOUBLE, data.label_noise, DT_R_HALFOPEN01, "0", 0),
    KEY("data.synthetic.shuffle_labels", DT_KT_BOOL, data.shuffle_labels, DT_R_ANY, "false", 0),
    ENUMKEY("data.modality", data.modality, modality_names, "auto"),
    KEY("data.splits.train_val", DT_KT_DOUBLE, data.train_val_fraction, DT_R_OPEN01, "0.1", 0),
    KEY("data.splits.test_val", DT_KT_DOUBLE, data.test_val_fraction, DT_R_OPEN01, "0.5", 0),
    KEY("data.normalize", DT_KT_BOOL, data.normalize, DT_R_ANY, "true", 0),
    KEY("data.standardize_targets", DT_KT_BOOL, data.standardize_targets, DT_R_ANY, "true", 0),
    KEY("data.subset.samples", DT_KT_SIZE, data.subset_samples, DT_R_NONNEG, "0", 0),
    {"data.subset.classes", DT_KT_INTLIST, offsetof(dt_config, data.subset_classes),
     FIELD_SIZE(data.subset_classes), NULL, DT_R_BYTE, "[]", 0, NULL},
    KEY("data.slice", DT_KT_STR, data.slice_column, DT_R_ANY, "", 0),
    {"data.class_names", DT_KT_STRLIST, offsetof(dt_config, data.class_names), FIELD_SIZE(data.class_names), NULL,
     DT_R_ANY, "[]", 0, NULL},

    ENUMKEY("model.arch", model.arch, arch_names, "auto"),
    KEY("model.hidden", DT_KT_INT, model.hidden, DT_R_ATLEAST1, "64", 0),
    KEY("model.depth", DT_KT_INT, model.depth, DT_R_ATLEAST1, "1", 0),
    KEY("model.batch_norm", DT_KT_BOOL, model.batch_norm, DT_R_ANY, "false", 0),
    ENUMKEY("model.activation", model.activation, act_names, "relu"),
    ENUMKEY("model.output_activation", model.output_activation, outact_names, "none"),
    ENUMKEY("loss", loss, loss_names, "cross_entropy"),

    ENUMKEY("train.optimizer", train.optimizer, opt_names, "adam"),
    KEY("train.lr", DT_KT_DOUBLE, train.lr, DT_R_POS, "0.0003", 0),
    KEY("train.momentum", DT_KT_DOUBLE, train.momentum, DT_R_HALFOPEN01, "0", 0),
    KEY("train.nesterov", DT_KT_BOOL, train.nesterov, DT_R_ANY, "false", 0),
    KEY("train.batch_size", DT_KT_INT, train.batch_size, DT_R_ATLEAST1, "64", 0),
    KEY("train.epochs", DT_KT_INT, train.epochs, DT_R_ATLEAST1, "10", 0),
    KEY("train.weight_decay", DT_KT_DOUBLE, train.weight_decay, DT_R_NONNEG, "0", 0),
    KEY("train.dropout", DT_KT_DOUBLE, train.dropout, DT_R_HALFOPEN01, "0", 0),
    KEY("train.clip_grad_norm", DT_KT_DOUBLE, train.clip_grad_norm, DT_R_NONNEG, "0", 0),
    ENUMKEY("train.schedule", train.schedule, sched_names, "constant"),
    KEY("train.warmup_steps", DT_KT_INT, train.warmup_steps, DT_R_NONNEG, "0", 0),
    KEY("train.early_stopping.patience", DT_KT_INT, train.patience, DT_R_NONNEG, "3", 0),
    KEY("train.max_steps", DT_KT_INT, train.max_steps, DT_R_NONNEG, "0", 0),
    KEY("train.augment.shift", DT_KT_INT, train.augment_shift, DT_R_NONNEG, "0", 0),

    ENUMKEY("target.metric", target.metric, metric_names, "error"),
    KEY("target.value", DT_KT_DOUBLE, target.value, DT_R_NONNEG, NULL, DT_KF_OPTIONAL),
    KEY("target.source", DT_KT_STR, target.source, DT_R_ANY, "", 0),
    KEY("target.human_level", DT_KT_DOUBLE, target.human_level, DT_R_NONNEG, NULL, DT_KF_OPTIONAL),

    KEY("stages.overfit-batch.batch_size", DT_KT_INT, stages.overfit_batch.batch_size, DT_R_ATLEAST1, "32", 0),
    KEY("stages.overfit-batch.max_steps", DT_KT_INT, stages.overfit_batch.max_steps, DT_R_ATLEAST1, "500", 0),
    KEY("stages.debug.gradcheck_params", DT_KT_INT, stages.debug.gradcheck_params, DT_R_ATLEAST1, "50", 0),
    KEY("stages.improve.max_attempts", DT_KT_INT, stages.improve.max_attempts, DT_R_NONNEG, "4", 0),
    KEY("stages.tune.trials", DT_KT_INT, stages.tune.trials, DT_R_ATLEAST1, "20", 0),
    KEY("stages.tune.rounds", DT_KT_INT, stages.tune.rounds, DT_R_ATLEAST1, "2", 0),
    KEY("stages.tune.jobs", DT_KT_INT, stages.tune.jobs, DT_R_ATLEAST1, "1", 0),
    KEY("stages.tune.top_k", DT_KT_INT, stages.tune.top_k, DT_R_ATLEAST1, "5", 0),
    KEY("stages.tune.epochs", DT_KT_INT, stages.tune.epochs, DT_R_NONNEG, "0", 0),
};
const int dt_n_keys = (int)(sizeof dt_keys / sizeof dt_keys[0]);
_Static_assert(sizeof dt_keys / sizeof dt_keys[0] <= DT_CONFIG_MAX_KEYS, "raise DT_CONFIG_MAX_KEYS");

/* Sections that exist but hold no scalar keys (yet): `decompose: {}` is valid. */
static const char *const empty_sections[] = {"stages.start-simple", "stages.compare", "stages.decompose"};

int dt_key_find(const char *name)
{
    for (int i = 0; i < dt_n_keys; i++)
        if (strcmp(dt_keys[i].name, name) == 0) return i;
    return -1;
}

int dt_key_canonical(int k)
{
    return dt_keys[k].alias_of ? dt_key_find(dt_keys[k].alias_of) : k;
}

int dt_key_is_section(const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < dt_n_keys; i++)
        if (strncmp(dt_keys[i].name, name, n) == 0 && dt_keys[i].name[n] == '.') return 1;
    for (size_t i = 0; i < sizeof empty_sections / sizeof empty_sections[0]; i++)
        if (strcmp(empty_sections[i], name) == 0) return 1;
    return 0;
}

const char *dt_range_text(dt_range r)
{
    switch (r) {
    case DT_R_POS: return "> 0";
    case DT_R_NONNEG: return ">= 0";
    case DT_R_ATLEAST1: return ">= 1";
    case DT_R_OPEN01: return "in (0, 1)";
    case DT_R_HALFOPEN01: return "in [0, 1)";
    case DT_R_BYTE: return "in [0, 255]";
    default: return "any";
    }
}

static const char *enum_name(const char *const *names, int count, int v)
{
    return v >= 0 && v < count ? names[v] : "?";
}
const char *dt_arch_name(dt_arch a) { return enum_name(arch_names, 7, (int)a); }
const char *dt_optimizer_name(dt_opt_kind o) { return enum_name(opt_names, 3, (int)o); }
const char *dt_modality_name(dt_modality m) { return enum_name(modality_names, 4, (int)m); }
const char *dt_task_name(dt_task t) { return enum_name(task_names, 2, (int)t); }
const char *dt_format_name(dt_format f) { return enum_name(format_names, 5, (int)f); }
const char *dt_verdict_name(dt_verdict v) { return enum_name(verdict_names, 4, (int)v); }

int dt_verdict_parse(const char *s)
{
    for (int i = 0; verdict_names[i]; i++)
        if (strcmp(verdict_names[i], s) == 0) return i;
    return -1;
}

int dt_config_key_count(void) { return dt_n_keys; }
const char *dt_config_key_name(int i) { return i >= 0 && i < dt_n_keys ? dt_keys[i].name : NULL; }
int dt_config_is_key(const char *key) { return dt_key_find(key) >= 0; }
