/* Checkpoints: save -> load round trips (bit-identical parameters and
 * batch-norm statistics, identical outputs), the metadata, load errors that
 * name the tensor and both shapes, and - where /usr/bin/python3 has torch -
 * `dnntrouble export --torch` modules that load our files strictly and whose
 * outputs match ours and `dnntrouble predict`'s (tests/golden/run_export.py):
 * max|ours - torch| / max(max|torch|, 1e-6) <= 1e-4, probabilities within 1e-4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "dnntrouble/checkpoint.h"
#include "dnntrouble/export.h"
#include "dnntrouble/ops_norm.h"
#include "support/test_files.h"
#include "support/test_models.h"

#define BATCH 3

static dt_test_model spec_of(dt_arch arch, int batch_norm)
{
    dt_test_model s = {0};
    s.arch = arch;
    s.outputs = 10;
    s.hidden = 16;
    s.depth = 1;
    s.act = DT_ACT_RELU;
    s.batch_norm = batch_norm;
    s.loss = DT_LOSS_CROSS_ENTROPY;
    s.max_batch = BATCH;
    switch (arch) {
    case DT_ARCH_LENET: s.in_ndim = 3; s.in_shape[0] = 1; s.in_shape[1] = 28; s.in_shape[2] = 28; break;
    case DT_ARCH_LSTM: s.in_ndim = 2; s.in_shape[0] = 7; s.in_shape[1] = 5; s.outputs = 4; break;
    case DT_ARCH_RESNET: s.in_ndim = 3; s.in_shape[0] = 2; s.in_shape[1] = 12; s.in_shape[2] = 10; break;
    case DT_ARCH_TRANSFORMER: s.in_ndim = 2; s.in_shape[0] = 7; s.in_shape[1] = 5; s.outputs = 4; break;
    default: s.in_ndim = 1; s.in_shape[0] = 20; s.depth = 2; s.act = DT_ACT_TANH; s.outputs = 3; break;
    }
    return s;
}

/* Seeded weights, random biases and (with batch-norm) non-trivial running statistics. */
static void randomize(dt_model *m, uint64_t seed)
{
    dt_model_init(m, seed);
    /* biases start at zero: give them values so a mix-up would show */
    dt_rng r;
    dt_rng_seed(&r, seed + 99);
    for (int i = 0; i < m->g->n_params; i++) {
        dt_node *p = m->g->params[i];
        if (strstr(p->name, "bias"))
            for (size_t j = 0; j < dt_numel(p); j++) p->val[j] = (float)(0.2 * (2 * dt_rng_uniform(&r) - 1));
    }
    for (int i = 0; i < m->g->n_nodes; i++) {
        dt_node *n = m->g->nodes[i];
        if (n->op != DT_OP_BATCHNORM) continue;
        float *mean = dt_batchnorm_running_mean(n), *var = dt_batchnorm_running_var(n);
        for (int c = 0; c < dt_batchnorm_channels(n); c++) {
            mean[c] = (float)(0.5 * (2 * dt_rng_uniform(&r) - 1));
            var[c] = (float)(0.5 + dt_rng_uniform(&r));
        }
    }
}

/* A preset model, randomized. */
static dt_model *make(const dt_test_model *s, uint64_t seed)
{
    dt_model *m = dt_test_preset(s);
    randomize(m, seed);
    return m;
}

/* A described model (the `model:` section in yaml) on one float sequence
 * input x [7,5] with 4 outputs, randomized. */
static dt_model *make_described(const char *yaml, uint64_t seed)
{
    static dt_config cfg;
    dt_config_defaults(&cfg);
    dt_status st = dt_config_parse_string(&cfg, yaml, strlen(yaml), "described", NULL);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_model_spec *sp = calloc(1, sizeof *sp);
    sp->desc = cfg.model.desc;
    sp->n_inputs = 1;
    sp->inputs[0] = (dt_input_shape){.name = "x", .ndim = 2, .shape = {7, 5}};
    sp->outputs = 4;
    sp->max_batch = BATCH;
    dt_model *m = NULL;
    st = dt_model_build(sp, &m);
    free(sp);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    randomize(m, seed);
    return m;
}

/* Causal attention and a position embedding under dotted names that mix
 * attributes and list items (nn.Module, nn.ModuleList, holes). */
static const char nested_causal_yaml[] =
    "model:\n  arch: custom\n  layers:\n"
    "    - {name: embed, type: linear, units: 8}\n"
    "    - {name: enc.pos, type: positional}\n"
    "    - {name: enc.blocks.0.attn, type: attention, heads: 2, causal: true}\n"
    "    - {name: enc.blocks.0.res, type: add, in: [enc.pos, enc.blocks.0.attn]}\n"
    "    - {name: enc.blocks.0.ln, type: layernorm}\n"
    "    - {name: enc.blocks.0.mlp.2, type: linear, units: 8}\n"
    "    - {type: gelu}\n"
    "    - {type: seq_pool, how: mean}\n"
    "    - {name: out, type: linear}\n";

/* Eval-mode forward of a fixed input batch; returns m->out's values. */
static const float *forward(dt_model *m, const float *x)
{
    assert_int_equal(dt_graph_set_batch(m->g, BATCH), DT_OK);
    dt_graph_set_train(m->g, 0);
    memcpy(m->x->val, x, dt_numel(m->x) * sizeof(float));
    dt_status st = dt_graph_forward(m->g, m->out);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    return m->out->val;
}

static float *input_batch(const dt_model *m, uint64_t seed)
{
    size_t n = (size_t)BATCH * dt_numel(m->x) / (size_t)m->x->shape[0];
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    dt_rng r;
    dt_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)dt_rng_normal(&r);
    return x;
}

/* Every state_dict value of the model, concatenated: parameters then batch-norm statistics. */
static size_t state_of(dt_model *m, float *out)
{
    size_t n = m->g->n_param_values;
    if (out) memcpy(out, m->g->param_val, n * sizeof(float));
    for (int i = 0; i < m->g->n_nodes; i++) {
        dt_node *b = m->g->nodes[i];
        if (b->op != DT_OP_BATCHNORM) continue;
        size_t c = (size_t)dt_batchnorm_channels(b);
        if (out) {
            memcpy(out + n, dt_batchnorm_running_mean(b), c * sizeof(float));
            memcpy(out + n + c, dt_batchnorm_running_var(b), c * sizeof(float));
        }
        n += 2 * c;
    }
    return n;
}

/* ------------------------------------------------------------ round trip */

static void round_trip(dt_arch arch, int bn)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    dt_test_model s = spec_of(arch, bn);
    dt_model *a = make(&s, 1), *b = make(&s, 2);
    assert_int_equal(dt_checkpoint_save(a, path, NULL), DT_OK);
    assert_int_equal(dt_checkpoint_load(b, path), DT_OK);
    size_t n = state_of(a, NULL);
    assert_int_equal(state_of(b, NULL), n);
    float *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
    state_of(a, sa);
    state_of(b, sb);
    assert_memory_equal(sa, sb, n * sizeof *sa);
    float *x = input_batch(a, 5);
    size_t k = (size_t)BATCH * (size_t)s.outputs;
    memcpy(sa, forward(a, x), k * sizeof(float));
    assert_memory_equal(sa, forward(b, x), k * sizeof(float));
    free(x);
    free(sa);
    free(sb);
    dt_model_free(a);
    dt_model_free(b);
    dt_test_rmtree(dir);
}

static void test_round_trip_lenet(void **state) { round_trip(DT_ARCH_LENET, 0); }
static void test_round_trip_lenet_bn(void **state) { round_trip(DT_ARCH_LENET, 1); }
static void test_round_trip_mlp_bn(void **state) { round_trip(DT_ARCH_MLP, 1); }
static void test_round_trip_lstm(void **state) { round_trip(DT_ARCH_LSTM, 0); }

/* ------------------------------------------------------------ file contents */

static void test_names_and_metadata(void **state)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dt_test_model s = spec_of(DT_ARCH_LENET, 1);
    s.outputs = 3;
    dt_model *m = make(&s, 1);
    float mean[1] = {33.318f}, std[1] = {78.567f};
    int labels[3] = {3, 5, 8};
    dt_st_kv extra[] = {{"dataset", "mnist"}};
    dt_ckpt_meta meta = {.n_norm = 1, .mean = mean, .std = std, .class_labels = labels, .n_extra = 1,
                         .extra = extra};
    assert_int_equal(dt_checkpoint_save(m, path, &meta), DT_OK);
    dt_st_file *f;
    assert_int_equal(dt_st_read(path, &f), DT_OK);
    const char *names[] = {"c1.weight", "c1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean",
                           "bn1.running_var", "c2.weight", "c2.bias", "bn2.weight", "bn2.bias",
                           "bn2.running_mean", "bn2.running_var", "f1.weight", "f1.bias", "f2.weight",
                           "f2.bias", "f3.weight", "f3.bias"};
    assert_int_equal(f->n_tensors, 18);
    for (int i = 0; i < 18; i++) assert_string_equal(f->tensors[i].name, names[i]); /* torch's order */
    const dt_st_tensor *w = dt_st_get(f, "f1.weight");
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], 120);
    assert_int_equal(w->shape[1], 400);
    assert_string_equal(dt_st_meta(f, "arch"), "lenet");
    assert_string_equal(dt_st_meta(f, "input_shape"), "[1,28,28]");
    assert_string_equal(dt_st_meta(f, "classes"), "[3,5,8]");
    assert_string_equal(dt_st_meta(f, "outputs"), "3");
    /* the expanded description rebuilds the net: bn1 sits between c1 and its ReLU */
    dt_model_desc desc;
    assert_int_equal(dt_model_desc_from_json(dt_st_meta(f, "model"), path, &desc), DT_OK);
    assert_int_equal(desc.n_layers, m->spec.desc.n_layers);
    assert_string_equal(desc.layers[1].name, "bn1");
    assert_int_equal(desc.layers[1].type, DT_LAYER_BATCHNORM);
    assert_string_equal(dt_st_meta(f, "dataset"), "mnist");
    /* mean/std: JSON arrays that give back the float values exactly */
    cJSON *jm = cJSON_Parse(dt_st_meta(f, "mean")), *js = cJSON_Parse(dt_st_meta(f, "std"));
    assert_true(cJSON_IsArray(jm) && cJSON_GetArraySize(jm) == 1);
    assert_true((float)cJSON_GetArrayItem(jm, 0)->valuedouble == mean[0]);
    assert_true((float)cJSON_GetArrayItem(js, 0)->valuedouble == std[0]);
    cJSON_Delete(jm);
    cJSON_Delete(js);
    dt_st_free(f);

    /* defaults: no normalization, labels 0..K-1; regression has no classes */
    s = spec_of(DT_ARCH_MLP, 0);
    dt_model *r = make(&s, 1);
    assert_int_equal(dt_checkpoint_save(r, path, NULL), DT_OK);
    assert_int_equal(dt_st_read(path, &f), DT_OK);
    assert_string_equal(dt_st_meta(f, "classes"), "[0,1,2]");
    assert_string_equal(dt_st_meta(f, "mean"), "[]");
    assert_string_equal(dt_st_meta(f, "input_shape"), "[20]");
    assert_non_null(strstr(dt_st_meta(f, "model"), "\"type\":\"tanh\""));   /* the preset's activation */
    assert_non_null(strstr(dt_st_meta(f, "inputs"), "\"x\":{\"field\":\"x\",\"shape\":[20]"));
    dt_st_free(f);
    dt_model_free(r);
    s.loss = DT_LOSS_MSE;
    r = make(&s, 1);
    assert_int_equal(dt_checkpoint_save(r, path, NULL), DT_OK);
    assert_int_equal(dt_st_read(path, &f), DT_OK);
    assert_string_equal(dt_st_meta(f, "classes"), "[]");
    assert_string_equal(dt_st_meta(f, "loss"), "mse");
    dt_st_free(f);
    dt_model_free(r);
    dt_model_free(m);
    dt_test_rmtree(dir);
}

/* ------------------------------------------------------------ load errors */

static void expect_load_error(dt_model *m, const char *path, const char *frag1, const char *frag2)
{
    size_t n = state_of(m, NULL);
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    state_of(m, before);
    dt_status st = dt_checkpoint_load(m, path);
    const char *msg = dt_last_error();
    if (st != DT_EDATA || !strstr(msg, frag1) || (frag2 && !strstr(msg, frag2)))
        print_error("status %d: %s (wanted '%s', '%s')\n", st, msg, frag1, frag2 ? frag2 : "");
    assert_int_equal(st, DT_EDATA);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, frag1));
    if (frag2) assert_non_null(strstr(msg, frag2));
    state_of(m, after);
    assert_memory_equal(before, after, n * sizeof *before); /* a failed load changes nothing */
    free(before);
    free(after);
}

static void test_load_errors(void **state)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    dt_test_model s8 = spec_of(DT_ARCH_MLP, 0), s16 = s8;
    s8.hidden = 8;
    dt_model *m8 = make(&s8, 1), *m16 = make(&s16, 2);
    assert_int_equal(dt_checkpoint_save(m8, path, NULL), DT_OK);
    expect_load_error(m16, path, "'f1.weight'", "[8,20] in the file but [16,20] in the model");

    /* another architecture */
    dt_test_model sl = spec_of(DT_ARCH_LSTM, 0);
    dt_model *ml = make(&sl, 3);
    expect_load_error(ml, path, "checkpoint of a mlp model", "lstm");

    /* a tensor missing, an extra one (no metadata, so names decide) */
    float v[16 * 20] = {0};
    dt_st_tensor t[8];
    int n = 0;
    for (int i = 0; i < m16->g->n_params; i++) {
        dt_node *p = m16->g->params[i];
        if (!strcmp(p->name, "f2.bias")) continue;
        t[n] = (dt_st_tensor){.name = p->name, .ndim = p->ndim, .data = p->val};
        for (int d = 0; d < p->ndim; d++) t[n].shape[d] = p->shape[d];
        n++;
    }
    assert_int_equal(dt_st_write(path, t, n, NULL, 0), DT_OK);
    expect_load_error(m16, path, "tensor 'f2.bias' missing", "[16]");
    t[n++] = (dt_st_tensor){.name = "f2.bias", .ndim = 1, .shape = {16}, .data = v};
    t[n++] = (dt_st_tensor){.name = "f9.weight", .ndim = 1, .shape = {3}, .data = v};
    assert_int_equal(dt_st_write(path, t, n, NULL, 0), DT_OK);
    expect_load_error(m16, path, "unexpected tensor 'f9.weight'", NULL);
    n--;
    assert_int_equal(dt_st_write(path, t, n, NULL, 0), DT_OK);
    assert_int_equal(dt_checkpoint_load(m16, path), DT_OK);

    /* not a checkpoint at all */
    char bad[512];
    dt_test_write(dir, "bad.safetensors", "this is not a safetensors file", bad, sizeof bad);
    expect_load_error(m16, bad, "byte 0", NULL);
    dt_model_free(m8);
    dt_model_free(m16);
    dt_model_free(ml);
    dt_test_rmtree(dir);
}

/* ------------------------------------------------------------ torch */

/* The interpreter: $DT_TEST_PYTHON, else Debian's /usr/bin/python3 (python3-torch). */
static const char *python(void)
{
    const char *p = getenv("DT_TEST_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static int have_torch(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python());
    return system(cmd) == 0;
}

/* tests/golden/run_export.py: $DT_GOLDEN_DIR, else next to this file (run from the repository root). */
static void script_path(char *buf, size_t len)
{
    const char *dir = getenv("DT_GOLDEN_DIR");
    const char *slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 0;
    if (dir && *dir) snprintf(buf, len, "%s/run_export.py", dir);
    else snprintf(buf, len, "%.*s%sgolden/run_export.py", n, __FILE__, n ? "/" : "");
}

/* build/dnntrouble next to build/tests/ */
static void binary_path(char *buf, size_t len)
{
    char self[512];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(k > 0);
    self[k] = '\0';
    snprintf(buf, len, "%s/../dnntrouble", dirname(self));
}

/* A .npy file of shape [n, dims...]: float32, or int64 ids when ids is set. */
static void write_npy_as(const char *path, const float *x, int ndim, const int *shape, int ids)
{
    char sh[128];
    size_t off = (size_t)snprintf(sh, sizeof sh, "("), count = 1;
    for (int i = 0; i < ndim; i++) {
        off += (size_t)snprintf(sh + off, sizeof sh - off, "%d,%s", shape[i], i + 1 < ndim ? " " : "");
        count *= (size_t)shape[i];
    }
    snprintf(sh + off, sizeof sh - off, ")");
    int64_t *v = ids ? malloc(count * sizeof *v) : NULL;
    for (size_t i = 0; v && i < count; i++) v[i] = (int64_t)x[i];
    if (ids) dt_test_write_npy(path, "<i8", sh, v, count * sizeof *v);
    else dt_test_write_npy(path, "<f4", sh, x, count * sizeof *x);
    free(v);
}

static void write_npy(const char *path, const float *x, int ndim, const int *shape)
{
    write_npy_as(path, x, ndim, shape, 0);
}

/* The probabilities `dnntrouble predict` wrote, row by row (K per row). */
static double *read_predictions(const char *path, int rows, int K)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 16];
    double *p = malloc((size_t)rows * (size_t)K * sizeof *p);
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, f));   /* header */
    for (int r = 0; r < rows; r++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *c = strchr(strchr(line, ',') + 1, ',');   /* past row and prediction */
        for (int k = 0; k < K; k++) {
            p[r * K + k] = strtod(c + 1, &c);
        }
    }
    fclose(f);
    return p;
}

/* export --torch, load strictly in torch, run on raw inputs; the softmax of
 * torch's logits matches `dnntrouble predict` on the same raw data, and the
 * logits match ours (the checkpoint's normalization applied by hand). */
static void test_export_matches_predict_in_torch(void **state)
{
    if (!have_torch()) {
        printf("skipped: %s cannot import torch (install python3-torch, or set DT_TEST_PYTHON)\n", python());
        skip();
    }
    char dir[256], script[512], bin[600];
    dt_test_tmpdir(dir, sizeof dir);
    script_path(script, sizeof script);
    binary_path(bin, sizeof bin);
    struct { const char *label; dt_arch arch; int bn, depth; const char *yaml; } cases[] = {
        {"lenet", DT_ARCH_LENET, 0, 1, NULL}, {"mlp/2", DT_ARCH_MLP, 0, 2, NULL}, {"lstm/2", DT_ARCH_LSTM, 0, 2, NULL},
        {"lenet+bn", DT_ARCH_LENET, 1, 1, NULL}, {"mlp+bn", DT_ARCH_MLP, 1, 1, NULL},
        {"resnet", DT_ARCH_RESNET, 0, 1, NULL}, {"transformer", DT_ARCH_TRANSFORMER, 0, 1, NULL},
        {"causal", DT_ARCH_CUSTOM, 0, 1, nested_causal_yaml},
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    dt_model *models[NC];
    float *ours[NC];
    static char cmd[16384];
    int off = snprintf(cmd, sizeof cmd, "'%s' '%s'", python(), script);
    for (int c = 0; c < NC; c++) {
        dt_test_model s = spec_of(cases[c].arch, cases[c].bn);
        s.depth = cases[c].depth;
        dt_model *m = models[c] = cases[c].yaml ? make_described(cases[c].yaml, 10 + (uint64_t)c) : make(&s, 10 + (uint64_t)c);
        s.outputs = m->spec.outputs;
        /* Normalization statistics per channel / feature, as decompose saves them. */
        const dt_input_shape *in = &m->spec.inputs[0];
        int n_norm = in->ndim == 3 ? in->shape[0] : in->shape[in->ndim - 1];
        float mean[64], std[64];
        for (int k = 0; k < n_norm; k++) {
            mean[k] = 0.25f * (float)(k + 1);
            std[k] = 1.5f + 0.1f * (float)k;
        }
        dt_ckpt_meta meta = {.n_norm = n_norm, .mean = mean, .std = std};
        char ck[600], py[600], raw[600], npy[600], pred[600];
        snprintf(ck, sizeof ck, "%s/m%d.safetensors", dir, c);
        snprintf(py, sizeof py, "%s/net%d.py", dir, c);
        snprintf(raw, sizeof raw, "%s/x%d.safetensors", dir, c);
        snprintf(npy, sizeof npy, "%s/x%d.npy", dir, c);
        snprintf(pred, sizeof pred, "%s/p%d.csv", dir, c);
        assert_int_equal(dt_checkpoint_save(m, ck, &meta), DT_OK);
        static char run[8192];
        snprintf(run, sizeof run, "'%s' export '%s' --torch '%s' >/dev/null && '%s' predict '%s' '%s' --out '%s' --quiet",
                 bin, ck, py, bin, ck, npy, pred);
        /* Raw inputs; ours see them normalized. */
        float *x = input_batch(m, 20 + (uint64_t)c);
        size_t dim = dt_numel(m->x) / (size_t)m->x->shape[0];
        int shape[4] = {BATCH};
        for (int d = 0; d < in->ndim; d++) shape[d + 1] = in->shape[d];
        write_npy(npy, x, in->ndim + 1, shape);
        dt_st_tensor tx = {.name = in->name, .ndim = in->ndim + 1, .data = x};
        for (int d = 0; d < tx.ndim; d++) tx.shape[d] = shape[d];
        assert_int_equal(dt_st_write(raw, &tx, 1, NULL, 0), DT_OK);
        assert_int_equal(system(run), 0);
        float *xn = malloc((size_t)BATCH * dim * sizeof *xn);
        size_t div = in->ndim == 3 ? (size_t)in->shape[1] * (size_t)in->shape[2] : 1;
        for (size_t e = 0; e < (size_t)BATCH * dim; e++) {
            size_t k = ((e % dim) / div) % (size_t)n_norm;
            xn[e] = (x[e] - mean[k]) / std[k];
        }
        size_t K = (size_t)BATCH * (size_t)s.outputs;
        ours[c] = malloc(K * sizeof(float));
        memcpy(ours[c], forward(m, xn), K * sizeof(float));
        free(x);
        free(xn);
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " '%s' '%s' '%s'", py, ck, raw);
    }
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char line[1 << 16];
    for (int c = 0; c < NC; c++) {
        if (!fgets(line, sizeof line, p)) {
            pclose(p);
            print_error("run_export.py gave no output for %s (see its error above)\n", cases[c].label);
            fail();
        }
        int K = models[c]->spec.outputs;
        cJSON *j = cJSON_Parse(line);
        cJSON *out = cJSON_GetObjectItem(j, "out");
        assert_true(cJSON_IsArray(out));
        assert_int_equal(cJSON_GetArraySize(out), BATCH * K);
        char pred[600];
        snprintf(pred, sizeof pred, "%s/p%d.csv", dir, c);
        double *prob = read_predictions(pred, BATCH, K);
        double diff = 0, scale = 1e-6, pdiff = 0;
        for (int r = 0; r < BATCH; r++) {
            double z[64], mx = -1e300, sum = 0;
            for (int k = 0; k < K; k++) {
                z[k] = cJSON_GetArrayItem(out, r * K + k)->valuedouble;
                double d = fabs(ours[c][r * K + k] - z[k]);
                if (!(d <= diff)) diff = d;
                if (fabs(z[k]) > scale) scale = fabs(z[k]);
                if (z[k] > mx) mx = z[k];
            }
            for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
            for (int k = 0; k < K; k++) {
                double d = fabs(exp(z[k] - mx) / sum - prob[r * K + k]);
                if (!(d <= pdiff)) pdiff = d;
            }
        }
        printf("torch %-9s [%d,%d]  logits max rel err %.2e, probabilities vs predict max abs err %.2e\n",
               cases[c].label, BATCH, K, diff / scale, pdiff);
        assert_true(diff / scale <= 1e-4);
        assert_true(pdiff <= 1e-4);
        free(prob);
        cJSON_Delete(j);
        free(ours[c]);
        dt_model_free(models[c]);
    }
    assert_int_equal(pclose(p), 0);
    dt_test_rmtree(dir);
}

/* The seed's two-branch net (conv on an image, embedding + LSTM on token
 * ids, concat, dense): export, load strictly in torch, predict with
 * NAME=FILE per input; torch's softmax matches predict's probabilities. */
static void test_export_two_branch_matches_predict(void **state)
{
    if (!have_torch()) {
        printf("skipped: %s cannot import torch (install python3-torch, or set DT_TEST_PYTHON)\n", python());
        skip();
    }
    static const char yaml[] =
        "model:\n  arch: custom\n  layers:\n"
        "    - {name: c1, type: conv2d, in: image, channels: 6, kernel: 5, padding: 2}\n    - {type: relu}\n"
        "    - {type: maxpool, kernel: 2}\n    - {name: img, type: flatten}\n"
        "    - {name: emb, type: embedding, in: caption, dim: 16}\n    - {name: txt, type: lstm, hidden: 32}\n"
        "    - {name: cat, type: concat, in: [img, txt]}\n    - {name: f1, type: linear, units: 64}\n"
        "    - {type: relu}\n    - {name: out, type: linear, units: classes}\n";
    static dt_config cfg;
    dt_config_defaults(&cfg);
    assert_int_equal(dt_config_parse_string(&cfg, yaml, strlen(yaml), "two-branch", NULL), DT_OK);
    dt_model_spec *s = calloc(1, sizeof *s);
    s->desc = cfg.model.desc;
    s->n_inputs = 2;
    s->inputs[0] = (dt_input_shape){.name = "image", .ndim = 3, .shape = {1, 16, 16}};
    s->inputs[1] = (dt_input_shape){.name = "caption", .ndim = 1, .shape = {10}, .tokens = 1, .vocab = 16};
    s->field[1] = 1;
    s->outputs = 4;
    s->max_batch = BATCH;
    dt_model *m = NULL;
    assert_int_equal(dt_model_build(s, &m), DT_OK);
    free(s);
    dt_model_init(m, 5);
    float mean = 30.0f, std = 50.0f;
    dt_ckpt_norm norms[2] = {{1, &mean, &std}, {0}};
    dt_ckpt_meta meta = {.n_norm = 1, .mean = &mean, .std = &std, .inputs = norms};
    char dir[256], ck[400], py[400], xi[400], xc[400], raw[400], pred[400], script[512], bin[600];
    dt_test_tmpdir(dir, sizeof dir);
    script_path(script, sizeof script);
    binary_path(bin, sizeof bin);
    snprintf(ck, sizeof ck, "%s/m.safetensors", dir);
    snprintf(py, sizeof py, "%s/net.py", dir);
    snprintf(xi, sizeof xi, "%s/image.npy", dir);
    snprintf(xc, sizeof xc, "%s/caption.npy", dir);
    snprintf(raw, sizeof raw, "%s/raw.safetensors", dir);
    snprintf(pred, sizeof pred, "%s/p.csv", dir);
    assert_int_equal(dt_checkpoint_save(m, ck, &meta), DT_OK);
    float img[BATCH * 256], cap[BATCH * 10];
    dt_rng r;
    dt_rng_seed(&r, 11);
    for (int i = 0; i < BATCH * 256; i++) img[i] = (float)dt_rng_below(&r, 256);
    for (int i = 0; i < BATCH * 10; i++) cap[i] = (float)dt_rng_below(&r, 16);
    write_npy(xi, img, 4, (int[]){BATCH, 1, 16, 16});
    write_npy_as(xc, cap, 2, (int[]){BATCH, 10}, 1);
    dt_st_tensor t[2] = {{.name = "image", .ndim = 4, .shape = {BATCH, 1, 16, 16}, .data = img},
                         {.name = "caption", .ndim = 2, .shape = {BATCH, 10}, .data = cap}};
    assert_int_equal(dt_st_write(raw, t, 2, NULL, 0), DT_OK);
    static char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' export '%s' --torch '%s' >/dev/null && '%s' predict '%s' caption='%s' image='%s' --out '%s' --quiet",
             bin, ck, py, bin, ck, xc, xi, pred);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' '%s'", python(), script, py, ck, raw);
    FILE *p = popen(cmd, "r");
    static char line[1 << 16];
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    cJSON *j = cJSON_Parse(line);
    cJSON *out = cJSON_GetObjectItem(j, "out");
    assert_int_equal(cJSON_GetArraySize(out), BATCH * 4);
    double *prob = read_predictions(pred, BATCH, 4), pdiff = 0;
    for (int b = 0; b < BATCH; b++) {
        double z[4], mx = -1e300, sum = 0;
        for (int k = 0; k < 4; k++) z[k] = cJSON_GetArrayItem(out, b * 4 + k)->valuedouble, mx = fmax(mx, z[k]);
        for (int k = 0; k < 4; k++) sum += exp(z[k] - mx);
        for (int k = 0; k < 4; k++) pdiff = fmax(pdiff, fabs(exp(z[k] - mx) / sum - prob[b * 4 + k]));
    }
    printf("torch two-branch [%d,4]  probabilities vs predict max abs err %.2e\n", BATCH, pdiff);
    assert_true(pdiff <= 1e-4);
    free(prob);
    cJSON_Delete(j);
    dt_model_free(m);
    dt_test_rmtree(dir);
}

/* Layer names that cannot be torch attributes are refused (exit 2), naming the layer. */
static void test_export_name_errors(void **state)
{
    static const struct { const char *names[2], *want; } cases[] = {
        {{"eval", "out"}, "'eval' cannot be a torch attribute"},
        {{"a.for", "out"}, "'for' cannot be a torch attribute"},
        {{"0.a", "out"}, "starts with a number"},
        {{"a", "a.b"}, "layer 'a.b' is nested inside layer 'a'"},
        {{"m.0", "m.b"}, "mix numbered and named parts"},
        {{"a.01", "out"}, "'01' cannot be a torch attribute"},
    };
    char dir[256], path[400];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.py", dir);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "model:\n  arch: custom\n  layers:\n    - {name: %s, type: linear, units: 6}\n"
                 "    - {name: %s, type: linear, units: 6}\n    - {type: seq_pool}\n    - {name: fc, type: linear}\n",
                 cases[c].names[0], cases[c].names[1]);
        dt_model *m = make_described(yaml, 1);
        dt_status st = dt_export_torch(m, NULL, "ck", path);
        print_message("%s\n", dt_last_error());
        assert_int_equal(st, DT_ECONFIG);
        assert_non_null(strstr(dt_last_error(), cases[c].want));
        assert_int_equal(access(path, F_OK), -1);   /* nothing written */
        dt_model_free(m);
    }
    dt_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_lenet),
        cmocka_unit_test(test_round_trip_lenet_bn),
        cmocka_unit_test(test_round_trip_mlp_bn),
        cmocka_unit_test(test_round_trip_lstm),
        cmocka_unit_test(test_names_and_metadata),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_export_matches_predict_in_torch),
        cmocka_unit_test(test_export_two_branch_matches_predict),
        cmocka_unit_test(test_export_name_errors),
    };
    return cmocka_run_group_tests_name("checkpoints", tests, NULL, NULL);
}
