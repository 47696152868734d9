/* Config: every key, defaults, errors with line numbers, --set, YAML round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/config.h"
#include "support/test_files.h"

static dt_config *cfg_new(void)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    return c;
}

/* Parses text over defaults; returns the status (message in dt_last_error). */
static dt_status parse(dt_config *c, const char *yaml)
{
    dt_config_defaults(c);
    dt_status st = dt_config_parse_string(c, yaml, strlen(yaml), "test.yaml", "/base");
    return st == DT_OK ? dt_config_check(c) : st;
}

static void assert_error(dt_config *c, const char *yaml, const char *expect)
{
    assert_int_equal(parse(c, yaml), DT_ECONFIG);
    if (!strstr(dt_last_error(), expect)) fail_msg("error '%s' lacks '%s'", dt_last_error(), expect);
}

static const char every_key[] =
    "name: full\n"
    "seed: 42\n"
    "threads: 3\n"
    "task: classification\n"
    "data:\n"
    "  format: csv\n"
    "  train: {path: tr.csv}\n"
    "  test: {path: te.csv}\n"
    "  csv: {label: target, header: false, skip_rows: 2, delimiter: \";\"}\n"
    "  modality: tabular\n"
    "  splits: {train_val: 0.2, test_val: 0.4}\n"
    "  normalize: false\n"
    "  subset: {samples: 1000, classes: [3, 1, 2]}\n"
    "  slice: region\n"
    "model: {arch: mlp, hidden: 128, depth: 3, batch_norm: true, activation: tanh, output_activation: softmax}\n"
    "loss: mse\n"
    "train:\n"
    "  optimizer: sgd\n"
    "  lr: 0.01\n"
    "  momentum: 0.9\n"
    "  nesterov: true\n"
    "  batch_size: 32\n"
    "  epochs: 7\n"
    "  weight_decay: 1.0e-4\n"
    "  dropout: 0.25\n"
    "  clip_grad_norm: 5\n"
    "  schedule: cosine\n"
    "  warmup_steps: 100\n"
    "  early_stopping: {patience: 0}\n"
    "  max_steps: 2000\n"
    "target: {metric: accuracy, value: 0.98, source: \"paper\", human_level: 0.995}\n"
    "stages:\n"
    "  start-simple: {}\n"
    "  overfit-batch: {batch_size: 16, max_steps: 200}\n"
    "  debug: {gradcheck_params: 10}\n"
    "  compare: {}\n"
    "  decompose: {}\n"
    "  improve: {max_attempts: 6}\n"
    "  lr-find: {steps: 50, min_lr: 1.0e-6, max_lr: 1, diverge: 5, smoothing: 0.9, restarts: 2}\n"
    "  tune:\n"
    "    trials: 8\n"
    "    rounds: 3\n"
    "    jobs: 2\n"
    "    top_k: 4\n"
    "    epochs: 2\n"
    "    space:\n"
    "      train.lr: {log_uniform: [1.0e-5, 1.0e-1]}\n"
    "      train.dropout: {uniform: [0, 0.5]}\n"
    "      model.hidden: {int: [16, 256]}\n"
    "      train.optimizer: {choice: [sgd, adam]}\n"
    "gates: {overfit-batch: pass, debug: warn, test_error: {max: 0.02}, test_accuracy: {min: 0.9}}\n";

static void test_every_key(void **state)
{
    dt_config *c = cfg_new();
    if (parse(c, every_key) != DT_OK) fail_msg("%s", dt_last_error());
    assert_string_equal(c->name, "full");
    assert_int_equal(c->seed, 42);
    assert_int_equal(c->data.seed, 42);
    assert_int_equal(c->threads, 3);
    assert_int_equal(c->data.task, DT_TASK_CLASSIFICATION);
    assert_int_equal(c->data.format, DT_FORMAT_CSV);
    assert_string_equal(c->data.train.path, "tr.csv");
    assert_string_equal(c->data.test.path, "te.csv");
    assert_true(c->data.train.present && c->data.test.present);
    assert_string_equal(c->data.csv_label_name, "target");
    assert_int_equal(c->data.csv_header, 0);
    assert_int_equal(c->data.csv_skip_rows, 2);
    assert_int_equal(c->data.csv_delimiter, ';');

    assert_int_equal(c->data.modality, DT_MODALITY_TABULAR);
    assert_true(c->data.train_val_fraction == 0.2 && c->data.test_val_fraction == 0.4);
    assert_int_equal(c->data.normalize, 0);
    assert_int_equal(c->data.subset_samples, 1000);
    assert_int_equal(c->data.n_subset_classes, 3);
    assert_int_equal(c->data.subset_classes[0], 3);
    assert_string_equal(c->data.slice_column, "region");
    assert_int_equal(c->model.arch, DT_ARCH_MLP);
    assert_int_equal(c->model.hidden, 128);
    assert_int_equal(c->model.depth, 3);
    assert_int_equal(c->model.batch_norm, 1);
    assert_int_equal(c->model.activation, DT_ACT_TANH);
    assert_int_equal(c->model.output_activation, DT_OUT_SOFTMAX);
    assert_int_equal(c->loss, DT_LOSS_MSE);
    assert_int_equal(c->train.optimizer, DT_OPT_SGD);
    assert_true(c->train.lr == 0.01 && c->train.momentum == 0.9);
    assert_int_equal(c->train.nesterov, 1);
    assert_int_equal(c->train.batch_size, 32);
    assert_int_equal(c->train.epochs, 7);
    assert_true(c->train.weight_decay == 1e-4 && c->train.dropout == 0.25 && c->train.clip_grad_norm == 5);
    assert_int_equal(c->train.schedule, DT_SCHED_COSINE);
    assert_int_equal(c->train.warmup_steps, 100);
    assert_int_equal(c->train.patience, 0);
    assert_int_equal(c->train.max_steps, 2000);
    assert_int_equal(c->target.metric, DT_TARGET_ACCURACY);
    assert_true(c->target.value == 0.98 && c->target.human_level == 0.995);
    assert_true(dt_config_given(c, "target.value") && dt_config_given(c, "target.human_level"));
    assert_string_equal(c->target.source, "paper");
    assert_int_equal(c->stages.overfit_batch.batch_size, 16);
    assert_int_equal(c->stages.overfit_batch.max_steps, 200);
    assert_int_equal(c->stages.debug.gradcheck_params, 10);
    assert_int_equal(c->stages.improve.max_attempts, 6);
    assert_int_equal(c->stages.lr_find.steps, 50);
    assert_int_equal(c->stages.lr_find.restarts, 2);
    assert_true(c->stages.lr_find.min_lr == 1e-6 && c->stages.lr_find.max_lr == 1);
    assert_true(c->stages.lr_find.diverge == 5 && c->stages.lr_find.smoothing == 0.9);
    assert_int_equal(c->stages.tune.trials, 8);
    assert_int_equal(c->stages.tune.rounds, 3);
    assert_int_equal(c->stages.tune.jobs, 2);
    assert_int_equal(c->stages.tune.top_k, 4);
    assert_int_equal(c->stages.tune.epochs, 2);
    assert_int_equal(c->stages.tune.n_space, 4);
    assert_string_equal(c->stages.tune.space[0].key, "train.lr");
    assert_int_equal(c->stages.tune.space[0].kind, DT_SPACE_LOG_UNIFORM);
    assert_true(c->stages.tune.space[0].lo == 1e-5 && c->stages.tune.space[0].hi == 0.1);
    assert_int_equal(c->stages.tune.space[2].kind, DT_SPACE_INT);
    assert_int_equal(c->stages.tune.space[3].kind, DT_SPACE_CHOICE);
    assert_int_equal(c->stages.tune.space[3].n_choices, 2);
    assert_string_equal(c->stages.tune.space[3].choices[1], "adam");
    assert_int_equal(c->n_gates, 4);
    assert_int_equal(c->gates[0].kind, DT_GATE_STAGE);
    assert_int_equal(c->gates[0].worst, DT_VERDICT_PASS);
    assert_int_equal(c->gates[1].worst, DT_VERDICT_WARN);
    assert_int_equal(c->gates[2].kind, DT_GATE_MAX);
    assert_true(c->gates[2].limit == 0.02);
    assert_int_equal(c->gates[3].kind, DT_GATE_MIN);
    assert_int_equal(c->line[0], 1);   /* name is on line 1 */
    free(c);
}

static void test_defaults(void **state)
{
    dt_config *c = cfg_new();
    assert_int_equal(parse(c, "data: {format: synthetic}\n"), DT_OK);
    assert_int_equal(c->train.optimizer, DT_OPT_ADAM);
    assert_true(c->train.lr == 3e-4);
    assert_int_equal(c->train.batch_size, 64);
    assert_int_equal(c->train.epochs, 10);
    assert_int_equal(c->model.hidden, 64);
    assert_int_equal(c->model.depth, 1);
    assert_int_equal(c->model.arch, DT_ARCH_AUTO);
    assert_int_equal(c->model.activation, DT_ACT_RELU);
    assert_int_equal(c->loss, DT_LOSS_CROSS_ENTROPY);
    assert_true(c->train.weight_decay == 0 && c->train.dropout == 0 && c->train.momentum == 0);
    assert_int_equal(c->train.schedule, DT_SCHED_CONSTANT);
    assert_true(c->data.train_val_fraction == 0.1 && c->data.test_val_fraction == 0.5);
    assert_int_equal(c->data.normalize, 1);
    assert_int_equal(c->data.csv_label_index, -1);
    assert_int_equal(c->data.csv_delimiter, ',');
    assert_int_equal(c->stages.overfit_batch.batch_size, 32);
    assert_int_equal(c->stages.overfit_batch.max_steps, 500);
    assert_int_equal(c->stages.tune.trials, 20);
    assert_int_equal(c->stages.tune.jobs, 1);
    assert_false(c->data.test.present);
    assert_false(dt_config_given(c, "train.lr"));
    assert_true(dt_config_given(c, "data.format"));
    assert_false(dt_config_given(c, "target.value"));
    /* The resolved JSON shows every default and lists it as defaulted. */
    cJSON *j = dt_config_to_json(c);
    const cJSON *lr = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "train"), "lr");
    assert_true(cJSON_IsNumber(lr) && lr->valuedouble == 3e-4);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "target"), "value")));
    int found = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "defaulted")) found |= strcmp(d->valuestring, "train.lr") == 0;
    assert_true(found);
    cJSON_Delete(j);
    /* Regression picks mse unless a loss is given. */
    assert_int_equal(parse(c, "task: regression\ndata: {format: synthetic}\n"), DT_OK);
    assert_int_equal(c->loss, DT_LOSS_MSE);
    free(c);
}

static void test_unknown_key(void **state)
{
    dt_config *c = cfg_new();
    assert_error(c, "data: {format: synthetic}\ntrain:\n  lr: 0.1\n  lrr: 0.3\n",
                 "test.yaml:4: unknown key 'train.lrr' (did you mean 'train.lr'?)");
    assert_error(c, "data: {format: synthetic}\nmodle: {hidden: 3}\n", "test.yaml:2: unknown key 'modle'");
    assert_error(c, "data: {format: synthetic}\nlr: 0.1\n", "did you mean 'train.lr'?");
    assert_error(c, "data: {format: synthetic}\nzzz: 1\n", "unknown key 'zzz'");
    assert_string_equal(dt_config_suggest_key("train.bacth_size"), "train.batch_size");
    assert_null(dt_config_suggest_key("completely.different.thing"));
    free(c);
}

static void test_wrong_type_and_range(void **state)
{
    dt_config *c = cfg_new();
    assert_error(c, "data: {format: synthetic}\ntrain: {lr: -0.1}\n", "test.yaml:2: train.lr must be > 0, got -0.1");
    assert_error(c, "data: {format: synthetic}\ntrain: {lr: fast}\n", "train.lr must be a number, got 'fast'");
    assert_error(c, "data: {format: synthetic}\ntrain: {epochs: 2.5}\n", "train.epochs must be an integer");
    assert_error(c, "data: {format: synthetic}\ntrain: {dropout: 1}\n", "train.dropout must be in [0, 1)");
    assert_error(c, "data: {format: synthetic, splits: {train_val: 0}}\n", "data.splits.train_val must be in (0, 1)");
    assert_error(c, "data: {format: synthetic}\nmodel: {arch: resnet18}\n",
                 "model.arch must be auto | mlp | lenet | lstm | resnet | transformer | custom");
    assert_error(c, "data: {format: synthetic, format: csv}\n", "test.yaml:1: data.format is given twice");
    assert_error(c, "data: {format: synthetic, normalize: maybe}\n", "data.normalize must be true or false");
    assert_error(c, "data: {format: synthetic}\ntrain: 5\n", "'train' must be a mapping");
    assert_error(c, "data: {format: synthetic}\ntrain: {lr: [1, 2]}\n", "train.lr must be a single value");
    assert_error(c, "data: {format: synthetic, subset: {classes: [1, 1]}}\n", "twice");
    assert_error(c, "data: {format: synthetic, subset: {classes: [300]}}\n", "in [0, 255]");
    assert_error(c, "data: {format: synthetic}\nthreads: 0\n", "threads must be >= 1");
    assert_error(c, "data: {format: csv, csv: {delimiter: ab}}\n", "single character");
    free(c);
}

static void test_cross_key_checks(void **state)
{
    dt_config *c = cfg_new();
    assert_error(c, "name: x\n", "missing required key data.format");
    assert_error(c, "data:\n  format: idx\n  train: {images: a.gz}\n", "test.yaml:2: data.format idx needs data.train.labels");
    assert_error(c, "data: {format: npy, npy: {x: x.npy}}\n", "needs data.train.y");
    assert_error(c, "data: {format: csv, train: {path: a.csv}, test: {images: b}}\n", "needs data.test.path");
    assert_error(c, "data: {format: synthetic, train: {path: a.csv}}\n", "reads no files");
    assert_error(c, "task: regression\nloss: cross_entropy\ndata: {format: synthetic}\n", "test.yaml:2: loss cross_entropy");
    assert_error(c, "data: {format: synthetic}\nstages: {tune: {space: {train.lrr: {uniform: [0, 1]}}}}\n",
                 "did you mean 'train.lr'");
    assert_error(c, "data: {format: synthetic}\nstages: {tune: {space: {train.lr: {uniform: [0, 1]}}}}\n",
                 "train.lr must be > 0, got 0");
    assert_error(c, "data: {format: synthetic}\nstages: {tune: {space: {train.lr: {log_uniform: [1, 0.1]}}}}\n",
                 "above high");
    assert_error(c, "data: {format: synthetic}\nstages: {tune: {space: {train.optimizer: {choice: [adam, rmsprop]}}}}\n",
                 "sgd | adam | adamw");
    assert_error(c, "data: {format: synthetic}\nstages: {tune: {space: {train.lr: {normal: [0, 1]}}}}\n",
                 "must be one of {log_uniform");
    assert_error(c, "data: {format: synthetic}\ngates: {overfit-bach: pass}\n", "did you mean 'overfit-batch'");
    assert_error(c, "data: {format: synthetic}\ngates: {debug: fail}\n", "must be pass or warn");
    assert_error(c, "data: {format: synthetic}\ngates: {test_error: {below: 3}}\n", "{max: x}");
    assert_error(c, "data: {format: synthetic}\ntrain: [1\n", "(started on line 2)");
    free(c);
}

static void test_csv_label(void **state)
{
    dt_config *c = cfg_new();
    assert_int_equal(parse(c, "data: {format: csv, csv: {path: a.csv, label: 0}}\n"), DT_OK);
    assert_int_equal(c->data.csv_label_index, 0);
    assert_string_equal(c->data.csv_label_name, "");
    assert_string_equal(c->data.train.path, "a.csv");
    /* A quoted number is a column name. */
    assert_int_equal(parse(c, "data: {format: csv, csv: {path: a.csv, label: \"7\"}}\n"), DT_OK);
    assert_string_equal(c->data.csv_label_name, "7");
    free(c);
}

static void test_missing_file(void **state)
{
    dt_config *c = cfg_new();
    assert_int_equal(dt_config_load("/nonexistent/dir/cfg.yaml", c), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "/nonexistent/dir/cfg.yaml"));
    free(c);
}

static void test_load_file_name_and_base_dir(void **state)
{
    char dir[512], path[600];
    dt_test_tmpdir(dir, sizeof dir);
    dt_test_write(dir, "my-exp.yaml", "data:\n  format: npy\n  npy: {x: d/x.npy, y: d/y.npy}\n", path, sizeof path);
    dt_config *c = cfg_new();
    if (dt_config_load(path, c) != DT_OK) fail_msg("%s", dt_last_error());
    assert_string_equal(c->name, "my-exp");
    assert_string_equal(c->base_dir, dir);
    assert_string_equal(c->data.train.x, "d/x.npy");
    /* Written back, relative data paths become absolute so best.yaml works anywhere. */
    char *yaml = dt_config_to_yaml(c);
    char expect[700];
    snprintf(expect, sizeof expect, "%s/d/x.npy", dir);
    assert_non_null(strstr(yaml, expect));
    free(yaml);
    free(c);
    dt_test_rmtree(dir);
}

static void test_set(void **state)
{
    dt_config *c = cfg_new();
    assert_int_equal(parse(c, "data: {format: synthetic}\n"), DT_OK);
    assert_int_equal(dt_config_set(c, "train.lr", "1e-3"), DT_OK);
    assert_true(c->train.lr == 1e-3);
    assert_true(dt_config_given(c, "train.lr"));
    assert_int_equal(dt_config_set(c, "model.arch", "lenet"), DT_OK);
    assert_int_equal(c->model.arch, DT_ARCH_LENET);
    assert_int_equal(dt_config_set(c, "seed", "9"), DT_OK);
    assert_int_equal(c->data.seed, 9);
    assert_int_equal(dt_config_set(c, "data.subset.classes", "[0, 1]"), DT_OK);
    assert_int_equal(c->data.n_subset_classes, 2);
    assert_int_equal(dt_config_set(c, "gates.test_error", "{max: 0.05}"), DT_OK);
    assert_int_equal(dt_config_set(c, "gates.test_error", "{max: 0.01}"), DT_OK);   /* replaces */
    assert_int_equal(c->n_gates, 1);
    assert_true(c->gates[0].limit == 0.01);
    assert_int_equal(dt_config_set(c, "stages.tune.space.train.lr", "{log_uniform: [1e-4, 1e-2]}"), DT_OK);
    assert_int_equal(c->stages.tune.n_space, 1);
    assert_int_equal(dt_config_set(c, "train", "{epochs: 3, batch_size: 8}"), DT_OK);
    assert_int_equal(c->train.epochs, 3);
    assert_int_equal(dt_config_set(c, "target.value", "0.01"), DT_OK);
    assert_true(dt_config_given(c, "target.value"));
    assert_int_equal(dt_config_set(c, "target.value", "null"), DT_OK);
    assert_false(dt_config_given(c, "target.value"));
    assert_int_equal(dt_config_set_number(c, "train.dropout", 0.125), DT_OK);
    assert_true(c->train.dropout == 0.125);
    assert_int_equal(dt_config_set_number(c, "model.hidden", 48), DT_OK);
    assert_int_equal(c->model.hidden, 48);

    assert_int_equal(dt_config_set(c, "train.lr", "-1"), DT_ECONFIG);
    assert_string_equal(dt_last_error(), "--set train.lr: train.lr must be > 0, got -1");
    assert_true(c->train.lr == 1e-3);   /* unchanged */
    assert_int_equal(dt_config_set(c, "train.lrr", "1"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "did you mean 'train.lr'"));

    double v;
    char buf[64];
    assert_int_equal(dt_config_get_number(c, "train.batch_size", &v), DT_OK);
    assert_true(v == 8);
    assert_int_equal(dt_config_get_number(c, "name", &v), DT_ECONFIG);
    assert_int_equal(dt_config_get_string(c, "train.optimizer", buf, sizeof buf), DT_OK);
    assert_string_equal(buf, "adam");
    assert_int_equal(dt_config_get_string(c, "train.lr", buf, sizeof buf), DT_OK);
    assert_string_equal(buf, "0.001");
    free(c);
}

/* Everything except bookkeeping must survive write + read. */
static void assert_same_config(const dt_config *a, const dt_config *b)
{
    cJSON *ja = dt_config_to_json(a), *jb = dt_config_to_json(b);
    cJSON_DeleteItemFromObject(ja, "defaulted");
    cJSON_DeleteItemFromObject(jb, "defaulted");
    if (!cJSON_Compare(ja, jb, 1)) {
        char *sa = cJSON_Print(ja), *sb = cJSON_Print(jb);
        fail_msg("configs differ:\n%s\n---\n%s", sa, sb);
    }
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

/* Each format reads its own section; keys of another format, or file keys the
 * format does not read, are errors instead of being ignored. */
static void test_format_sections(void **state)
{
    dt_config *c = cfg_new();
    if (parse(c, "data: {format: text, train: {path: /c.txt}, text: {seq_len: 16}}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_int_equal(c->data.seq_len, 16);
    if (parse(c, "data: {format: synthetic, synthetic: {generator: spirals, samples: 500, noise: 0.3}}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_int_equal(c->data.generator, DT_GEN_SPIRALS);
    assert_int_equal(c->data.samples, 500);
    assert_true(c->data.noise == 0.3);
    assert_error(c, "data: {format: csv, train: {path: a.csv, y: t.csv}}\n",
                 "data.train.y does not apply to data.format csv, which reads path (the label is a column: data.csv.label)");
    assert_error(c, "data: {format: csv, train: {path: a.csv}, text: {seq_len: 8}}\n",
                 "data.text.seq_len does not apply to data.format csv (it is a text option)");
    assert_error(c, "data: {format: idx, train: {images: a, labels: b}, csv: {header: false}}\n",
                 "data.csv.header does not apply to data.format idx");
    assert_error(c, "data: {format: csv, train: {path: a.csv, header: false}}\n",
                 "unknown key 'data.train.header': format options are set once for both splits: data.csv.header");
    free(c);
}

/* ${NAME} in data paths. */
static void test_env_in_paths(void **state)
{
    dt_config *c = cfg_new();
    setenv("DT_TEST_ROOT", "/data/here", 1);
    unsetenv("DT_TEST_UNSET");
    if (parse(c, "data: {format: csv, train: {path: \"${DT_TEST_ROOT}/a.csv\"}}\n") != DT_OK) fail_msg("%s", dt_last_error());
    assert_string_equal(c->data.train.path, "/data/here/a.csv");
    if (parse(c, "data: {format: csv, train: {path: \"${DT_TEST_UNSET:-/fallback}/a.csv\"}}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_string_equal(c->data.train.path, "/fallback/a.csv");
    assert_error(c, "data: {format: csv, train: {path: \"${DT_TEST_UNSET}/a.csv\"}}\n",
                 "test.yaml:1: data.train.path names ${DT_TEST_UNSET}, which is not set");
    assert_error(c, "data: {format: csv, train: {path: \"${oops/a.csv\"}}\n", "'${' without a closing '}'");
    free(c);
}

static void test_yaml_round_trip(void **state)
{
    char dir[512], path[600];
    dt_test_tmpdir(dir, sizeof dir);
    dt_config *a = cfg_new(), *b = cfg_new();
    /* Dotted keys work inside files too; tabs, quoted numbers and big seeds survive. */
    const char *variants[] = {every_key,
                              "data: {format: csv, train: {path: /d/a.csv}}\n"
                              "data.csv.delimiter: \"\\t\"\ndata.csv.label: \"-3\"\n",
                              "name: \"123\"\nseed: 18446744073709\ndata: {format: text, text: {path: /c.txt}}\n"
                              "target: {source: \"yes\"}\n"};
    for (int i = 0; i < 3; i++) {
        if (parse(a, variants[i]) != DT_OK) fail_msg("%s", dt_last_error());
        if (i == 1) {
            assert_int_equal(a->data.csv_delimiter, '\t');
            assert_string_equal(a->data.csv_label_name, "-3");
        }
        snprintf(path, sizeof path, "%s/best.yaml", dir);
        assert_int_equal(dt_config_write_yaml(a, path), DT_OK);
        if (dt_config_load(path, b) != DT_OK) fail_msg("reload: %s", dt_last_error());
        assert_same_config(a, b);
    }
    free(a);
    free(b);
    dt_test_rmtree(dir);
}

/* data.class_names: a list of names, written back as a list (quoted where
 * YAML would read a number), checked for empty and repeated names. */
static void test_class_names(void **state)
{
    char dir[512], path[600];
    dt_test_tmpdir(dir, sizeof dir);
    dt_config *a = cfg_new(), *b = cfg_new();
    if (parse(a, "data: {format: synthetic, class_names: [T-shirt, \"1\", Ankle boot, \"caf\xc3\xa9 <&>\"]}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_int_equal(a->data.n_class_names, 4);
    assert_string_equal(dt_data_spec_class_name(&a->data, 0), "T-shirt");
    assert_string_equal(dt_data_spec_class_name(&a->data, 1), "1");
    assert_string_equal(dt_data_spec_class_name(&a->data, 3), "caf\xc3\xa9 <&>");
    assert_null(dt_data_spec_class_name(&a->data, 4));
    assert_true(dt_config_given(a, "data.class_names"));
    cJSON *j = dt_config_to_json(a);
    const cJSON *names = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "class_names");
    assert_int_equal(cJSON_GetArraySize(names), 4);
    assert_string_equal(cJSON_GetArrayItem(names, 1)->valuestring, "1");   /* a string, not the number 1 */
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    assert_int_equal(dt_config_write_yaml(a, path), DT_OK);
    if (dt_config_load(path, b) != DT_OK) fail_msg("reload: %s", dt_last_error());
    assert_int_equal(b->data.n_class_names, 4);
    assert_memory_equal(a->data.class_names, b->data.class_names, sizeof a->data.class_names);
    /* --set takes a YAML list; [] clears. */
    assert_int_equal(dt_config_set(b, "data.class_names", "[a, b]"), DT_OK);
    assert_int_equal(b->data.n_class_names, 2);
    assert_int_equal(dt_config_set(b, "data.class_names", "[]"), DT_OK);
    assert_int_equal(b->data.n_class_names, 0);
    /* Errors name the key, the line and the name. */
    assert_int_equal(parse(a, "data: {format: synthetic,\n  class_names: [a, b, a]}\n"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "test.yaml:2: data.class_names names 'a' twice (labels 0 and 2)"));
    assert_int_equal(parse(a, "data: {format: synthetic, class_names: [a, \"\"]}\n"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "name 1 is empty"));
    assert_int_equal(parse(a, "data: {format: synthetic, class_names: shirt}\n"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "data.class_names must be a list of names"));
    assert_int_equal(parse(a, "data: {format: synthetic, class_names: [[a]]}\n"), DT_ECONFIG);
    free(a);
    free(b);
    dt_test_rmtree(dir);
}

/* Inputs found while fuzzing (tests/fuzz/fuzz_config.c): each written back
 * as YAML must read back to the same values, and none may be undefined
 * behaviour or take quadratic time. */
static void test_fuzz_regressions(void **state)
{
    dt_config *a = cfg_new(), *b = cfg_new();
    /* Integers of 1e15 and up were written as "1e+15" (not an integer), and
     * past 2^53 rounded through a double; 1e300 overflowed a long long cast. */
    const char *yaml[] = {"data: {format: synthetic}\nseed: 1000000000000000\n",
                          "data: {format: synthetic, synthetic: {samples: 9007199254740993}}\n"
                          "seed: 9223372036854775807\n",
                          "data: {format: synthetic}\ntrain: {lr: 1e300, clip_grad_norm: 1.5e19}\n"
                          "stages.tune.space: {train.lr: {uniform: [1, 1e300]}}\n",
                          /* Choices that read as numbers or booleans were written as 1 or true. */
                          "data: {format: csv, train: {path: a.csv}}\nstages.tune.space:\n"
                          "  data.csv.delimiter: {choice: [y, \";\"]}\n"
                          "  name: {choice: [\"01\", yes, 1e-4, 16, true]}\n"};
    for (int i = 0; i < 4; i++) {
        if (parse(a, yaml[i]) != DT_OK) fail_msg("%s", dt_last_error());
        char *text = dt_config_to_yaml(a);
        assert_non_null(text);
        dt_config_defaults(b);
        if (dt_config_parse_string(b, text, strlen(text), "written.yaml", "/base") != DT_OK ||
            dt_config_check(b) != DT_OK)
            fail_msg("%s\n%s", dt_last_error(), text);
        free(text);
        assert_true(a->seed == b->seed && a->data.samples == b->data.samples);
        assert_true(a->train.lr == b->train.lr && a->train.clip_grad_norm == b->train.clip_grad_norm);
        assert_same_config(a, b);
        if (i == 1) assert_true(b->seed == 9223372036854775807ull && b->data.samples == 9007199254740993ull);
        assert_int_equal(a->stages.tune.n_space, b->stages.tune.n_space);
        for (int s = 0; s < a->stages.tune.n_space; s++)
            for (int k = 0; k < a->stages.tune.space[s].n_choices; k++)
                assert_string_equal(a->stages.tune.space[s].choices[k], b->stages.tune.space[s].choices[k]);
    }
    /* int bounds were checked by a long long cast (undefined past 2^63). */
    assert_error(a, "data: {format: synthetic}\nstages.tune.space: {train.epochs: {int: [1, 1e30]}}\n",
                 "train.epochs must be an integer");
    /* A relative data path that does not fit the field once made absolute. */
    char long_path[1100];
    memset(long_path, 'a', 1020);
    long_path[1020] = '\0';
    char text[1200];
    snprintf(text, sizeof text, "data: {format: csv, train: {path: %s}}\n", long_path);
    assert_error(a, text, "data.train.path is 1026 characters long once made absolute");
    /* A null path through an alias counted as given, was written as nothing
     * and read back as missing ("text: {path}"). */
    assert_error(a, "data:\n  format: text\n  text: {path}\n", "data.text.path is empty: give the file's path");
    assert_error(a, "data: {format: csv, csv: {path: \"\"}}\n", "data.csv.path is empty: give the file's path");
    /* fuzz_model: a reshape with no shape parsed (only the config check
     * refused it), and its JSON form, what a checkpoint holds, did not read
     * back: the parse itself refuses it now. */
    const char *no_shape = "data: {format: synthetic}\nmodel:\n  layers:\n    - {type: flatten}\n"
                           "    - {name: out, type: reshape}\n";
    dt_config_defaults(a);
    assert_int_equal(dt_config_parse_string(a, no_shape, strlen(no_shape), "test.yaml", "/base"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "test.yaml:5: model.layers: layer 'out': reshape needs option 'shape'"));
    /* An alias repeating a big mapping many times. */
    size_t cap = 200000, n = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    n += (size_t)snprintf(big + n, cap - n, "data: {format: synthetic}\nstages.tune.space: &s {");
    for (int i = 0; i < 2000; i++) n += (size_t)snprintf(big + n, cap - n, "train.lr: {uniform: [1, 2]}, ");
    n += (size_t)snprintf(big + n, cap - n, "}\n");
    for (int i = 0; i < 2000; i++) n += (size_t)snprintf(big + n, cap - n, "stages.tune.space: *s\n");
    assert_true(n < cap);
    assert_error(a, big, "YAML aliases repeat mappings too often");
    free(big);
    free(a);
    free(b);
}

/* docs/config.md is the reference: every key of the table must be in it. */
static void test_docs_list_every_key(void **state)
{
    char *doc = dt_test_read("docs/config.md");
    if (!doc) fail_msg("docs/config.md not found (tests run from the repository root)");
    for (int i = 0; i < dt_config_key_count(); i++) {
        char quoted[160];
        snprintf(quoted, sizeof quoted, "`%s`", dt_config_key_name(i));
        if (!strstr(doc, quoted)) fail_msg("docs/config.md does not document %s", quoted);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_unknown_key),     cmocka_unit_test(test_wrong_type_and_range),
        cmocka_unit_test(test_cross_key_checks), cmocka_unit_test(test_csv_label),
        cmocka_unit_test(test_missing_file),    cmocka_unit_test(test_load_file_name_and_base_dir),
        cmocka_unit_test(test_set),             cmocka_unit_test(test_format_sections),
        cmocka_unit_test(test_env_in_paths),
        cmocka_unit_test(test_yaml_round_trip),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_fuzz_regressions), cmocka_unit_test(test_docs_list_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
