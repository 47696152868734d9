/* The layer table and model descriptions.
 *
 * Per layer type: the example of docs/config.md (every type has one) is
 * parsed as a config, built inside a described net on generated data, run
 * forward and backward, and its parameter gradients checked against finite
 * differences.  Adding a layer type = one table entry (src/nn/layers.c) and
 * one example in docs/config.md; test_every_type_has_an_example fails until
 * the example exists.
 *
 * Per description mistake: exit 2 (DT_ECONFIG) with the layer's name and
 * its YAML line in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/data.h"
#include "dnntrouble/diag.h"
#include "dnntrouble/edit.h"
#include "dnntrouble/train.h"
#include "support/test_files.h"
#include "../src/stages/common.h"

typedef struct example {
    char type[32], data[32];
    char *yaml;
} example;

/* The ```yaml blocks of docs/config.md that start with "# layer: T, data: D". */
static int read_examples(example *ex, int max)
{
    char *doc = dt_test_read("docs/config.md");
    if (!doc) fail_msg("docs/config.md not found (tests run from the repository root)");
    int n = 0;
    for (char *p = doc; (p = strstr(p, "```yaml\n# layer: ")) != NULL && n < max;) {
        p += strlen("```yaml\n");
        char *end = strstr(p, "```");
        assert_non_null(end);
        assert_int_equal(sscanf(p, "# layer: %31[^,], data: %31s", ex[n].type, ex[n].data), 2);
        ex[n].yaml = strndup(p, (size_t)(end - p));
        n++;
        p = end;
    }
    free(doc);
    return n;
}

static void load_config(dt_config *cfg, const char *generator, const char *yaml)
{
    dt_config_defaults(cfg);
    assert_int_equal(dt_config_set(cfg, "data.format", "synthetic"), DT_OK);
    assert_int_equal(dt_config_set(cfg, "data.synthetic.generator", generator), DT_OK);
    assert_int_equal(dt_config_set(cfg, "data.synthetic.samples", "200"), DT_OK);
    dt_status st = dt_config_parse_string(cfg, yaml, strlen(yaml), "docs/config.md", NULL);
    if (!st) st = dt_config_check(cfg);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
}

static void check_example(const example *e)
{
    static dt_config cfg;
    load_config(&cfg, e->data, e->yaml);
    dt_data *d = NULL;
    dt_status st = dt_data_load(&cfg.data, NULL, &d);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_model *m = NULL;
    st = dt_stage_build_model(&cfg, d, 8, &m);
    if (st) print_error("%s: %s\n", e->type, dt_last_error());
    assert_int_equal(st, DT_OK);
    int has = 0;
    for (int i = 0; i < m->spec.desc.n_layers; i++) has |= (int)m->spec.desc.layers[i].type == dt_layer_type_find(e->type);
    assert_true(has);
    size_t rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(dt_model_load_batch(m, d, DT_SPLIT_TRAIN, rows, 8), DT_OK);
    dt_graph_set_train(m->g, 1);
    assert_int_equal(dt_graph_forward(m->g, m->loss), DT_OK);
    assert_int_equal(dt_graph_backward(m->g, m->loss), DT_OK);
    dt_gradcheck_opts o;
    dt_gradcheck_defaults(&o);
    o.max_elements = 120;
    dt_gradcheck_result r;
    assert_int_equal(dt_gradcheck(m->g, m->loss, &o, &r), DT_OK);
    print_message("%-15s on %-9s %d params checked, %d skipped (kinks), worst %.3f of tolerance\n", e->type, e->data,
                  r.checked, r.skipped, r.max_err);
    if (r.failed) print_error("%s: %s[%zu] analytic %g numeric %g\n", e->type, r.worst_param, r.worst_index,
                              r.worst_analytic, r.worst_numeric);
    assert_int_equal(r.failed, 0);
    assert_true(r.checked >= 10);
    dt_gradcheck_free(&r);
    dt_model_free(m);
    dt_data_free(d);
}

static void test_every_type_has_an_example(void **state)
{
    example ex[64];
    int n = read_examples(ex, 64);
    for (int t = 0; t < DT_LAYER_TYPE_COUNT; t++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= !strcmp(ex[i].type, dt_layer_def_get((dt_layer_type)t)->name);
        if (!found) fail_msg("docs/config.md has no example for layer type %s", dt_layer_def_get((dt_layer_type)t)->name);
    }
    for (int i = 0; i < n; i++) free(ex[i].yaml);
}

static void test_examples_build_and_pass_gradcheck(void **state)
{
    example ex[64];
    int n = read_examples(ex, 64);
    assert_true(n >= DT_LAYER_TYPE_COUNT);
    for (int i = 0; i < n; i++) {
        check_example(&ex[i]);
        free(ex[i].yaml);
    }
}

static void test_docs_list_every_option(void **state)
{
    char *doc = dt_test_read("docs/config.md");
    if (!doc) fail_msg("docs/config.md not found (tests run from the repository root)");
    for (int t = 0; t < DT_LAYER_TYPE_COUNT; t++) {
        const dt_layer_def *def = dt_layer_def_get((dt_layer_type)t);
        char row[64];
        snprintf(row, sizeof row, "| `%s` |", def->name);
        char *line = strstr(doc, row);
        if (!line) fail_msg("docs/config.md: no row for layer type %s", def->name);
        char *eol = strchr(line, '\n');
        for (int o = 0; o < def->n_opts; o++) {
            char opt[64];
            snprintf(opt, sizeof opt, "`%s`", def->opts[o].name);
            char *hit = strstr(line, opt);
            if (!hit || hit > eol) fail_msg("docs/config.md: %s's row lacks option %s", def->name, def->opts[o].name);
        }
    }
    free(doc);
}

/* ------------------------------------------------------------ mistakes */

/* The config (with data: blobs) must fail with DT_ECONFIG, exit 2, and a
 * message containing every fragment. */
static void expect_error(const char *yaml, const char *const *want)
{
    static dt_config cfg;
    dt_config_defaults(&cfg);
    assert_int_equal(dt_config_set(&cfg, "data.format", "synthetic"), DT_OK);
    dt_status st = dt_config_parse_string(&cfg, yaml, strlen(yaml), "config.yaml", NULL);
    if (!st) st = dt_config_check(&cfg);
    dt_data *d = NULL;
    dt_model *m = NULL;
    if (!st) {
        assert_int_equal(dt_data_load(&cfg.data, NULL, &d), DT_OK);
        st = dt_stage_build_model(&cfg, d, 4, &m);
    }
    dt_model_free(m);
    dt_data_free(d);
    const char *msg = dt_last_error();
    print_message("%s\n", msg);
    assert_int_equal(st, DT_ECONFIG);
    assert_int_equal(dt_status_exit_code(st), 2);
    for (const char *const *w = want; *w; w++)
        if (!strstr(msg, *w)) fail_msg("message lacks '%s': %s", *w, msg);
}

#define ERR(yaml, ...) expect_error(yaml, (const char *const[]){__VA_ARGS__, NULL})

static void test_unknown_type(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linaer, units: 8}\n    - {type: linear}\n",
        "config.yaml:4", "layer 'f1'", "unknown type 'linaer'", "did you mean 'linear'");
}

static void test_unknown_option(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, unit: 8}\n    - {type: linear}\n",
        "config.yaml:4", "layer 'f1'", "no option 'unit'", "did you mean 'units'");
}

static void test_option_type_and_range(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, units: many}\n", "config.yaml:4", "'f1'",
        "units must be an integer");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: d, type: dropout, rate: 1.5}\n    - {type: linear}\n",
        "config.yaml:4", "'d'", "rate must be in [0, 1)");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, init: xavier}\n", "config.yaml:4", "'f1'",
        "init must be");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: r, type: relu, init: zeros}\n    - {type: linear}\n",
        "config.yaml:4", "'r'", "takes no init");
}

static void test_key_given_twice(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: e, type: embedding, in: caption, type: flatten}\n",
        "config.yaml:4", "layer 1", "'type' is given twice");
    ERR("model:\n  arch: custom\n  layers:\n    - {type: linear, units: 3, units: 4}\n", "config.yaml:4",
        "'units' is given twice");
}

static void test_in_names_nothing(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, units: 8}\n"
        "    - {name: out, type: linear, in: f9}\n",
        "config.yaml:5", "layer 'out'", "'in' names 'f9'", "inputs: x");
}

static void test_cycle(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: a, type: linear, units: 8, in: b}\n"
        "    - {name: b, type: relu, in: a}\n    - {name: out, type: linear}\n",
        "config.yaml:4", "layer 'a'", "a cycle");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: a, type: add, in: [a, x]}\n    - {type: linear}\n",
        "config.yaml:4", "layer 'a'", "cycle");
}

/* A layer that names a later one is refused; the cycle check walks each
 * layer once.  Here layer i adds layers i+1 and i+2, so there are 2^60-odd
 * routes from the first to the last: walked one by one they never end. */
static void test_cycle_check_is_linear(void **state)
{
    static char yaml[16384];
    int n = snprintf(yaml, sizeof yaml, "model:\n  arch: custom\n  layers:\n");
    for (int i = 0; i < 90; i++)
        n += snprintf(yaml + n, sizeof yaml - (size_t)n, "    - {name: l%d, type: add, in: [l%d, l%d]}\n", i, i + 1, i + 2);
    n += snprintf(yaml + n, sizeof yaml - (size_t)n, "    - {name: l90, type: relu}\n    - {name: l91, type: linear}\n");
    ERR(yaml, "config.yaml:4", "layer 'l0'", "listed after it");
}

static void test_shapes_do_not_fit(void **state)
{
    /* blobs are [B,2]: a conv needs images; an add needs equal shapes. */
    ERR("model:\n  arch: custom\n  layers:\n    - {name: c1, type: conv2d}\n    - {type: linear}\n", "config.yaml:4",
        "layer 'c1'", "image [B,C,H,W]", "[B,2]");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, units: 8}\n"
        "    - {name: s, type: add, in: [f1, x]}\n    - {type: linear}\n",
        "config.yaml:5", "layer 's'", "'f1' [B,8]", "'x' [B,2]");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, units: 8}\n", "config.yaml:4", "layer 'f1'",
        "[B,8]", "needs [B,4]");
    /* blobs as 2 steps of 1 feature: 2 heads cannot split 1 feature; a positional needs steps */
    ERR("model:\n  arch: custom\n  layers:\n    - {type: reshape, shape: [2, 1]}\n"
        "    - {name: a, type: attention, heads: 2}\n    - {type: seq_pool}\n    - {type: linear}\n",
        "config.yaml:5", "layer 'a'", "heads 2 do not divide the 1 features", "[B,2,1]");
    ERR("model:\n  arch: custom\n  layers:\n    - {name: p, type: positional}\n    - {type: linear}\n",
        "config.yaml:4", "layer 'p'", "needs a sequence [B,T,F] input, got [B,2]");
}

static void test_input_nobody_reads(void **state)
{
    ERR("model:\n  arch: custom\n  inputs: {x: {field: x}, y2: {field: x}}\n  layers:\n    - {name: out, type: linear}\n",
        "config.yaml:3: model input 'y2' is read by no layer");
}

static void test_dead_end_layer(void **state)
{
    ERR("model:\n  arch: custom\n  layers:\n    - {name: side, type: linear, units: 3}\n"
        "    - {name: out, type: linear, in: x}\n",
        "config.yaml:4", "layer 'side'", "reaches nothing");
}

static void test_preset_key_with_layers(void **state)
{
    ERR("model:\n  arch: custom\n  hidden: 32\n  layers:\n    - {type: linear}\n", "config.yaml:3", "model.hidden",
        "no effect with model.layers");
    ERR("model:\n  arch: custom\n", "model.arch custom needs model.layers");
}

static void test_names_default_from_type_and_position(void **state)
{
    static dt_config cfg;
    load_config(&cfg, "blobs", "model:\n  arch: custom\n  layers:\n    - {type: linear, units: 4}\n    - {type: relu}\n"
                               "    - {type: linear, units: 4}\n    - {type: relu}\n    - {type: linear}\n");
    dt_model_desc d = cfg.model.desc;
    dt_input_shape in = {.name = "x"};
    assert_int_equal(dt_model_desc_check(&d, &in, 1, "t"), DT_OK);
    assert_string_equal(d.layers[0].name, "linear1");
    assert_string_equal(d.layers[1].name, "relu1");
    assert_string_equal(d.layers[2].name, "linear2");
    assert_string_equal(d.layers[3].name, "relu2");
    assert_string_equal(d.layers[4].name, "linear3");
}

/* --set and tune keys name layer options; the edit marks the layers given. */
static void test_layer_option_keys(void **state)
{
    static dt_config cfg;
    load_config(&cfg, "blobs", "model:\n  arch: custom\n  layers:\n    - {name: f1, type: linear, units: 4}\n"
                               "    - {type: relu}\n    - {name: out, type: linear}\n");
    assert_int_equal(dt_config_set(&cfg, "model.layers.f1.units", "32"), DT_OK);
    double v;
    assert_int_equal(dt_config_get_number(&cfg, "model.layers.f1.units", &v), DT_OK);
    assert_true(v == 32);
    assert_int_equal(dt_config_set(&cfg, "model.layers.f9.units", "32"), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "no layer named 'f9'"));
    assert_int_equal(dt_config_set(&cfg, "model.layers.f1.channels", "3"), DT_ECONFIG);
    /* The YAML round trip keeps every layer. */
    char *y = dt_config_to_yaml(&cfg);
    static dt_config back;
    dt_config_defaults(&back);
    dt_status st = dt_config_parse_string(&back, y, strlen(y), "back.yaml", NULL);
    if (st) print_error("%s\n%s\n", dt_last_error(), y);
    assert_int_equal(st, DT_OK);
    free(y);
    assert_int_equal(back.model.desc.n_layers, 3);
    assert_true(memcmp(&back.model.desc.layers[0].opt, &cfg.model.desc.layers[0].opt, sizeof back.model.desc.layers[0].opt) == 0);
}

/* ------------------------------------------------------------ edits */

static void preset(dt_arch arch, int depth, int bn, double dropout, dt_model_desc *d)
{
    dt_preset_args a = {.arch = arch, .hidden = 16, .depth = depth, .batch_norm = bn, .dropout = dropout};
    dt_input_shape in = {.name = "x", .ndim = 1, .shape = {5}};
    assert_int_equal(dt_preset_expand(&a, &in, 1, d), DT_OK);
    dt_model_desc_name_layers(d);
}

/* Same layers (names, types, options) in the same order. */
static void assert_same_layers(const dt_model_desc *a, const dt_model_desc *b)
{
    assert_int_equal(a->n_layers, b->n_layers);
    for (int i = 0; i < a->n_layers; i++) {
        assert_string_equal(a->layers[i].name, b->layers[i].name);
        assert_int_equal(a->layers[i].type, b->layers[i].type);
        assert_memory_equal(a->layers[i].opt, b->layers[i].opt, sizeof a->layers[i].opt);
    }
}

/* improve's remedies as description edits land on what the preset keys
 * would have built: deeper = depth + 1, batch-norm = model.batch_norm,
 * dropout = train.dropout, wider = hidden x 2. */
static void test_edits_match_the_presets(void **state)
{
    static dt_model_desc d, want;
    char desc[512];
    preset(DT_ARCH_MLP, 1, 0, 0, &d);
    assert_true(dt_desc_deepen(&d, desc, sizeof desc));
    print_message("deeper: %s\n", desc);
    preset(DT_ARCH_MLP, 2, 0, 0, &want);
    assert_same_layers(&d, &want);

    preset(DT_ARCH_MLP, 2, 0, 0, &d);
    assert_true(dt_desc_add_batchnorm(&d, desc, sizeof desc));
    assert_false(dt_desc_add_batchnorm(&d, desc, sizeof desc));   /* once is enough */
    preset(DT_ARCH_MLP, 2, 1, 0, &want);
    assert_int_equal(dt_desc_count(&d, DT_LAYER_BATCHNORM), 2);
    for (int i = 0; i < d.n_layers; i++) assert_int_equal(d.layers[i].type, want.layers[i].type);

    preset(DT_ARCH_MLP, 2, 0, 0, &d);
    assert_true(dt_desc_dropout(&d, 0.2, desc, sizeof desc));
    preset(DT_ARCH_MLP, 2, 0, 0.2, &want);
    for (int i = 0; i < d.n_layers; i++) assert_int_equal(d.layers[i].type, want.layers[i].type);
    assert_true(dt_desc_max_dropout(&d) == 0.2);
    assert_true(dt_desc_dropout(&d, 0.5, desc, sizeof desc));
    assert_true(dt_desc_max_dropout(&d) == 0.5);

    preset(DT_ARCH_MLP, 1, 0, 0, &d);
    assert_true(dt_desc_widen(&d, 2.0, desc, sizeof desc));
    assert_string_equal(desc, "f1.units 16 -> 32");
    assert_true(dt_layer_opt(&d.layers[d.n_layers - 1], "units") == DT_UNITS_CLASSES);   /* the output keeps K */

    /* An LSTM grows by a stacked layer. */
    dt_preset_args a = {.arch = DT_ARCH_LSTM, .hidden = 8, .depth = 1};
    dt_input_shape in = {.name = "x", .ndim = 2, .shape = {6, 3}};
    assert_int_equal(dt_preset_expand(&a, &in, 1, &d), DT_OK);
    assert_true(dt_desc_deepen(&d, desc, sizeof desc));
    assert_string_equal(desc, "lstm.layers 1 -> 2");
}

/* The ramp's presets as SPEC fixes them: names, order and widths. */
static void test_resnet_and_transformer_presets(void **state)
{
    static dt_model_desc d;
    dt_preset_args a = {.arch = DT_ARCH_RESNET, .hidden = 64, .depth = 1};
    dt_input_shape img = {.name = "x", .ndim = 3, .shape = {3, 32, 32}};
    assert_int_equal(dt_preset_expand(&a, &img, 1, &d), DT_OK);
    static const char *const rn[] = {
        "conv1", "bn1", "relu", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1", "layer1.0.conv2", "layer1.0.bn2",
        "layer1.0.add", "layer1.0.relu2", "layer2.0.conv1", "layer2.0.bn1", "layer2.0.relu1", "layer2.0.conv2",
        "layer2.0.bn2", "layer2.0.downsample.0", "layer2.0.downsample.1", "layer2.0.add", "layer2.0.relu2",
        "layer3.0.conv1", "layer3.0.bn1", "layer3.0.relu1", "layer3.0.conv2", "layer3.0.bn2", "layer3.0.downsample.0",
        "layer3.0.downsample.1", "layer3.0.add", "layer3.0.relu2", "avgpool", "fc"};
    assert_int_equal(d.n_layers, (int)(sizeof rn / sizeof *rn));
    for (int i = 0; i < d.n_layers; i++) assert_string_equal(d.layers[i].name, rn[i]);
    /* widths 16/32/64 unless model.hidden is given; then w/2w/4w */
    assert_true(dt_layer_opt(&d.layers[0], "channels") == 16 && dt_layer_opt(&d.layers[0], "bias") == 0);
    assert_true(dt_layer_opt(&d.layers[dt_model_desc_find(&d, "layer3.0.conv2")], "channels") == 64);
    assert_true(dt_layer_opt(&d.layers[dt_model_desc_find(&d, "layer2.0.conv1")], "stride") == 2);
    const dt_layer_desc *sc = &d.layers[dt_model_desc_find(&d, "layer2.0.downsample.0")];
    assert_string_equal(sc->in[0], "layer1.0.relu2");
    assert_true(dt_layer_opt(sc, "kernel") == 1 && dt_layer_opt(sc, "stride") == 2);
    const dt_layer_desc *add1 = &d.layers[dt_model_desc_find(&d, "layer1.0.add")];
    assert_string_equal(add1->in[1], "relu");   /* identity shortcut */
    a.hidden = 8;
    a.hidden_given = 1;
    a.depth = 2;
    assert_int_equal(dt_preset_expand(&a, &img, 1, &d), DT_OK);
    assert_true(dt_layer_opt(&d.layers[0], "channels") == 8);
    assert_true(dt_layer_opt(&d.layers[dt_model_desc_find(&d, "layer3.1.conv2")], "channels") == 32);
    assert_int_equal(dt_model_desc_find(&d, "layer3.1.downsample.0"), -1);   /* same shape: identity */

    dt_preset_args t = {.arch = DT_ARCH_TRANSFORMER, .hidden = 32, .depth = 1};
    dt_input_shape seq = {.name = "x", .ndim = 2, .shape = {10, 3}};
    assert_int_equal(dt_preset_expand(&t, &seq, 1, &d), DT_OK);
    static const char *const tf[] = {"embed", "pos", "blocks.0.ln1", "blocks.0.attn", "blocks.0.res1", "blocks.0.ln2",
                                     "blocks.0.mlp.0", "blocks.0.mlp.1", "blocks.0.mlp.2", "blocks.0.res2",
                                     "blocks.1.ln1", "blocks.1.attn", "blocks.1.res1", "blocks.1.ln2",
                                     "blocks.1.mlp.0", "blocks.1.mlp.1", "blocks.1.mlp.2", "blocks.1.res2",
                                     "ln", "last", "fc"};
    assert_int_equal(d.n_layers, (int)(sizeof tf / sizeof *tf));
    for (int i = 0; i < d.n_layers; i++) assert_string_equal(d.layers[i].name, tf[i]);
    assert_int_equal(d.layers[0].type, DT_LAYER_LINEAR);
    assert_true(dt_layer_opt(&d.layers[6], "units") == 128 && dt_layer_opt(&d.layers[8], "units") == 32);
    assert_true(dt_layer_opt(&d.layers[3], "heads") == 4);
    assert_string_equal(d.layers[4].in[0], "pos");
    assert_string_equal(d.layers[12].in[0], "blocks.0.res2");
    /* improve's dropout remedy reaches the transformer's MLPs (after each GELU) */
    char what[512];
    assert_true(dt_desc_dropout(&d, 0.2, what, sizeof what));
    print_message("dropout: %s\n", what);
    assert_int_equal(dt_desc_count(&d, DT_LAYER_DROPOUT), 2);
    assert_int_equal(d.layers[dt_model_desc_find(&d, "blocks.0.mlp.1") + 1].type, DT_LAYER_DROPOUT);
    assert_int_equal(dt_preset_expand(&t, &seq, 1, &d), DT_OK);
    t.depth = 3;
    t.depth_given = 1;
    dt_input_shape tok = {.name = "x", .ndim = 1, .shape = {10}, .tokens = 1, .vocab = 20};
    assert_int_equal(dt_preset_expand(&t, &tok, 1, &d), DT_OK);
    assert_int_equal(d.layers[0].type, DT_LAYER_EMBEDDING);
    assert_int_equal(dt_model_desc_find(&d, "blocks.3.ln1"), -1);
    assert_true(dt_model_desc_find(&d, "blocks.2.res2") > 0);

    /* what each cannot read */
    dt_input_shape tab = {.name = "x", .ndim = 1, .shape = {5}};
    assert_int_equal(dt_preset_expand(&a, &tab, 1, &d), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "model.arch resnet needs image [C,H,W] input"));
    assert_int_equal(dt_preset_expand(&t, &img, 1, &d), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "model.arch transformer needs sequence [T,F] or token ids [T] input"));
}

/* arch: resnet / transformer in a config build on the generated data, with
 * model.hidden / model.depth applied only when given. */
static void test_ramp_presets_from_config(void **state)
{
    static dt_config cfg;
    static const struct { const char *gen, *yaml, *layer, *opt; double want; } cases[] = {
        {"shapes", "model: {arch: resnet}\n", "layer3.0.conv1", "channels", 64},
        {"shapes", "model: {arch: resnet, hidden: 4}\n", "layer3.0.conv1", "channels", 16},
        {"sequences", "model: {arch: transformer, hidden: 16}\n", "blocks.1.mlp.0", "units", 64},
        {"sequences", "model: {arch: transformer, hidden: 8, depth: 1}\n", "fc", "units", DT_UNITS_CLASSES},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        load_config(&cfg, cases[c].gen, cases[c].yaml);
        dt_data *d = NULL;
        assert_int_equal(dt_data_load(&cfg.data, NULL, &d), DT_OK);
        dt_model *m = NULL;
        dt_status st = dt_stage_build_model(&cfg, d, 4, &m);
        if (st) print_error("%s\n", dt_last_error());
        assert_int_equal(st, DT_OK);
        int i = dt_model_desc_find(&m->spec.desc, cases[c].layer);
        assert_true(i >= 0);
        assert_true(dt_layer_opt(&m->spec.desc.layers[i], cases[c].opt) == cases[c].want);
        if (c == 3) assert_int_equal(dt_model_desc_find(&m->spec.desc, "blocks.1.ln1"), -1);
        dt_model_free(m);
        dt_data_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_has_an_example),
        cmocka_unit_test(test_docs_list_every_option),
        cmocka_unit_test(test_examples_build_and_pass_gradcheck),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_option_type_and_range),
        cmocka_unit_test(test_key_given_twice),
        cmocka_unit_test(test_in_names_nothing),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_cycle_check_is_linear),
        cmocka_unit_test(test_shapes_do_not_fit),
        cmocka_unit_test(test_input_nobody_reads),
        cmocka_unit_test(test_dead_end_layer),
        cmocka_unit_test(test_preset_key_with_layers),
        cmocka_unit_test(test_names_default_from_type_and_position),
        cmocka_unit_test(test_layer_option_keys),
        cmocka_unit_test(test_edits_match_the_presets),
        cmocka_unit_test(test_resnet_and_transformer_presets),
        cmocka_unit_test(test_ramp_presets_from_config),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
