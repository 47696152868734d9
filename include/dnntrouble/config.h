/* The run configuration: a typed view of the YAML config file.
 *
 * One key table (src/config/keys.c) describes every scalar key: its dotted
 * path, type, place in dt_config, range and default.  Parsing, defaults,
 * range checks, `--set KEY=VALUE`, the resolved-config JSON and writing a
 * config back as YAML are all derived from that table, so a key added there
 * is accepted, checked, documented in reports and round-tripped everywhere.
 *
 * dt_config is a plain value (no pointers): copy it with `*dst = *src`, e.g.
 * to try a tuned variant.  Stages resolve `auto` values by writing the
 * fields directly (cfg->model.arch = DT_ARCH_LENET); the JSON shows what is
 * in the struct.  See docs/config.md for every key. */
#ifndef DT_CONFIG_H
#define DT_CONFIG_H

#include <stddef.h>

#include "dnntrouble/data_spec.h"
#include "dnntrouble/layers.h"
#include "dnntrouble/optim.h"
#include "dnntrouble/status.h"

typedef struct cJSON cJSON;

typedef enum { DT_ARCH_AUTO, DT_ARCH_MLP, DT_ARCH_LENET, DT_ARCH_LSTM, DT_ARCH_RESNET, DT_ARCH_TRANSFORMER, DT_ARCH_CUSTOM } dt_arch;
typedef enum { DT_ACT_RELU, DT_ACT_TANH } dt_activation;
typedef enum { DT_OUT_NONE, DT_OUT_SOFTMAX } dt_output_activation;
typedef enum { DT_LOSS_CROSS_ENTROPY, DT_LOSS_MSE } dt_loss;
/* dt_opt_kind and dt_sched_kind come from optim.h (the optimizer owns them). */
typedef enum { DT_TARGET_ERROR, DT_TARGET_ACCURACY } dt_target_metric;

/* A report's verdict.  Declared here because `gates` name the worst verdict
 * a stage may have; report.h uses the same type. */
typedef enum { DT_VERDICT_PASS, DT_VERDICT_WARN, DT_VERDICT_FAIL, DT_VERDICT_SKIPPED } dt_verdict;

/* stages.tune.pruner: none, or asynchronous successive halving over epochs (docs/tune.md). */
typedef enum { DT_PRUNER_NONE, DT_PRUNER_ASHA } dt_pruner_kind;
/* stages.tune.space: one searched key. */
typedef enum { DT_SPACE_LOG_UNIFORM, DT_SPACE_UNIFORM, DT_SPACE_INT, DT_SPACE_CHOICE } dt_space_kind;
/* stages.tune.sampler: coarse-to-fine random rounds, or TPE (docs/tune.md). */
typedef enum { DT_SAMPLER_RANDOM, DT_SAMPLER_TPE } dt_sampler_kind;
#define DT_MAX_SPACE 32
#define DT_MAX_CHOICES 16
typedef struct dt_space_param {
    char key[128];                        /* dotted config key, e.g. "train.lr" */
    dt_space_kind kind;
    double lo, hi;                        /* log_uniform / uniform / int bounds (inclusive) */
    int n_choices;
    char choices[DT_MAX_CHOICES][64];     /* choice: YAML scalars, applied with dt_config_set */
    int line;
} dt_space_param;

/* gates: either "STAGE: pass|warn" (worst verdict allowed) or
 * "METRIC: {max: x}" / "METRIC: {min: x}" checked against summary metrics. */
typedef enum { DT_GATE_STAGE, DT_GATE_MAX, DT_GATE_MIN } dt_gate_kind;
#define DT_MAX_GATES 32
typedef struct dt_gate {
    char name[128];
    dt_gate_kind kind;
    dt_verdict worst;                     /* DT_GATE_STAGE */
    double limit;                         /* DT_GATE_MAX / DT_GATE_MIN */
    int line;
} dt_gate;

#define DT_CONFIG_MAX_KEYS 128
/* Fewest steps stages.lr-find.steps accepts. */
#define DT_LR_FIND_MIN_STEPS 10

typedef struct dt_config {
    char name[128];
    unsigned long long seed;
    int threads;
    dt_data_spec data;                    /* `task` lives in data.task */
    struct {
        dt_arch arch;
        int hidden;
        int depth;                        /* hidden layers of an mlp */
        int batch_norm;
        dt_activation activation;
        dt_output_activation output_activation;
        /* model.layers / model.inputs.  With layers_given the description is
         * the user's (or an edited one: a remedy, a tuned layer option) and
         * the preset keys above no longer apply; otherwise stages expand the
         * preset into desc (dt_stage_resolve_model) and re-expand it when a
         * preset key changes. */
        dt_model_desc desc;
        int layers_given, layers_line, inputs_line;
    } model;
    dt_loss loss;
    struct {
        dt_opt_kind optimizer;
        double lr, momentum;
        int nesterov;
        int batch_size, epochs;
        double weight_decay, dropout, clip_grad_norm;
        dt_sched_kind schedule;
        int warmup_steps;
        int patience;                     /* train.early_stopping.patience; 0 = off */
        int max_steps;                    /* 0: epochs decide */
        int augment_shift;                /* train.augment.shift: random translation (px) of training images */
    } train;
    struct {
        dt_target_metric metric;
        double value;                     /* meaningful when dt_config_given(cfg, "target.value") */
        char source[256];
        double human_level;               /* likewise "target.human_level" */
    } target;
    struct {
        struct { int batch_size, max_steps; } overfit_batch;
        struct { int gradcheck_params; } debug;
        struct { int max_attempts; } improve;
        struct dt_lr_find_cfg {
            int steps, restarts;          /* sweep length; sweeps averaged */
            double min_lr, max_lr;        /* the sweep's first and last lr */
            double diverge;               /* stop when the smoothed loss > diverge x its minimum */
            double smoothing;             /* beta of the bias-corrected exponential average */
        } lr_find;
        struct {
            int trials, rounds, jobs, top_k, epochs;   /* epochs 0: train.epochs */
            dt_sampler_kind sampler;
            int startup_trials, ei_candidates;        /* tpe */
            int multivariate;                         /* tpe: one joint estimator over the keys */
            int n_space;
            dt_space_param space[DT_MAX_SPACE];
            dt_pruner_kind pruner;
            int reduction_factor, min_resource;       /* asha: eta, and the first rung's epoch */
        } tune;
    } stages;
    int n_gates;
    dt_gate gates[DT_MAX_GATES];

    char path[1024];                      /* the config file as given ("" when built in memory) */
    char base_dir[1024];                  /* absolute folder relative data paths are resolved against */
    unsigned char given[DT_CONFIG_MAX_KEYS];  /* per key-table entry: 1 when set by file or --set */
    int line[DT_CONFIG_MAX_KEYS];             /* line it was set on (0: default or --set) */
} dt_config;

/* Every key at its default; base_dir is the current directory. */
void dt_config_defaults(dt_config *cfg);

/* Defaults, then the file, then the cross-key checks.  Errors (DT_ECONFIG)
 * read "FILE:LINE: message", e.g.
 *   config.yaml:7: unknown key 'train.lrr' (did you mean 'train.lr'?) */
dt_status dt_config_load(const char *path, dt_config *cfg);

/* Parses YAML text over cfg (call dt_config_defaults first).  `source` names
 * the text in messages; base_dir may be NULL (keeps cfg->base_dir). */
dt_status dt_config_parse_string(dt_config *cfg, const char *yaml, size_t len, const char *source,
                                 const char *base_dir);

/* Sets any key from a YAML value, e.g. ("train.lr", "1e-3"),
 * ("data.subset.classes", "[0, 1]"), ("gates.test_error", "{max: 0.02}"),
 * ("stages.tune.space.train.lr", "{log_uniform: [1e-5, 0.1]}").
 * Range-checked; marks the key as given.  Run dt_config_check afterwards. */
dt_status dt_config_set(dt_config *cfg, const char *key, const char *value);
/* The same for a number (formatted so that it reads back exactly). */
dt_status dt_config_set_number(dt_config *cfg, const char *key, double v);

/* Cross-key checks (sources the format needs, tune space keys exist and
 * accept their bounds, gates name stages).  dt_config_load calls it. */
dt_status dt_config_check(const dt_config *cfg);

/* Every data file the config names exists and is a regular file; DT_EDATA
 * (exit 3) naming the config key, its line and the path otherwise. */
dt_status dt_config_check_files(const dt_config *cfg);

/* Numeric value of a scalar key (ints, floats, bools; enums give their
 * index).  DT_ECONFIG for unknown or string keys. */
dt_status dt_config_get_number(const dt_config *cfg, const char *key, double *out);
/* Any scalar key formatted as a YAML scalar ("0.0003", "adam", "true"). */
dt_status dt_config_get_string(const dt_config *cfg, const char *key, char *buf, size_t size);

/* 1 when the key was set by the file or dt_config_set, 0 when defaulted
 * ("model.layers": a description was given or edited). */
int dt_config_given(const dt_config *cfg, const char *key);
/* 1 for keys that only shape a preset (model.hidden, model.depth,
 * model.activation, model.batch_norm, model.output_activation, train.dropout). */
int dt_config_is_preset_key(const char *key);
/* 1 when `key` is a scalar key of the table. */
int dt_config_is_key(const char *key);
/* Closest known key to a misspelt one, or NULL when nothing is close. */
const char *dt_config_suggest_key(const char *key);
/* The key table, for docs and tests. */
int dt_config_key_count(void);
const char *dt_config_key_name(int i);

/* Resolved config as JSON: every key (defaults included; optional keys not
 * given are null), tune space, gates, and "defaulted": [keys not given]. */
cJSON *dt_config_to_json(const dt_config *cfg);
/* A model description as JSON {"inputs": {...}, "layers": [...]} (the form
 * reports and checkpoints hold) and back, with every check of a config file. */
cJSON *dt_model_desc_to_json(const dt_model_desc *d);
dt_status dt_model_desc_from_json(const char *text, const char *source, dt_model_desc *d);

/* The config as YAML text (malloc'd; caller frees) that dt_config_load reads
 * back to the same values.  Relative data paths are made absolute so the
 * file works from any folder. */
char *dt_config_to_yaml(const dt_config *cfg);
/* dt_config_to_yaml written atomically to path. */
dt_status dt_config_write_yaml(const dt_config *cfg, const char *path);

/* Names of enum values as written in configs ("lenet", "adam", ...). */
const char *dt_arch_name(dt_arch a);
const char *dt_optimizer_name(dt_opt_kind o);
const char *dt_modality_name(dt_modality m);
const char *dt_task_name(dt_task t);
const char *dt_format_name(dt_format f);
const char *dt_verdict_name(dt_verdict v);
/* "pass" -> DT_VERDICT_PASS ...; -1 when not a verdict name. */
int dt_verdict_parse(const char *s);

const char *dt_space_kind_name(dt_space_kind k);   /* "log_uniform", ... */

/* Stage names in run order (start-simple ... lr-find, tune), for gates and the CLI. */
extern const char *const dt_stage_names[];
extern const int dt_n_stage_names;

#endif
