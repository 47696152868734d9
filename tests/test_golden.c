/* Golden tests against PyTorch: the fixtures in tests/golden/ (one safetensors file per op family)
 * (made by tests/golden/make_fixtures.py with torch, in float64 from float32
 * inputs) hold inputs, weights, outputs and gradients; each test rebuilds the
 * same computation with the engine and compares.
 *
 * Error measure, per tensor: max|got - ref| / max(max|ref|, 1e-6), which must
 * be <= 1e-4.  Gradients come from loss = sum(out * R) with the fixture's R.
 * Optimizers: three steps with the fixture's gradients; the parameters after
 * step 1 and step 3 and the total change w3 - w0 (which isolates the update
 * from the much larger weights) are each compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/checkpoint.h"
#include "dnntrouble/graph.h"
#include "dnntrouble/model.h"
#include "dnntrouble/ops_norm.h"
#include "dnntrouble/optim.h"
#include "dnntrouble/safetensors.h"
#include "support/test_files.h"

#define TOL 1e-4

typedef struct golden {
    const char *family;
    dt_st_file *f;
    int tensors;
    double worst;
    char worst_at[96];
} golden;

static dt_st_file *open_fixture(const char *family)
{
    char path[512];
    const char *dir = getenv("DT_GOLDEN_DIR");
    if (dir) snprintf(path, sizeof path, "%s/%s.safetensors", dir, family);
    else {
        /* __FILE__ is tests/test_golden.c (relative to the repository root) */
        const char *slash = strrchr(__FILE__, '/');
        int n = slash ? (int)(slash - __FILE__) : 0;
        snprintf(path, sizeof path, "%.*s%sgolden/%s.safetensors", n, __FILE__, n ? "/" : "", family);
    }
    dt_st_file *f = NULL;
    if (dt_st_read(path, &f)) print_error("%s\n", dt_last_error());
    assert_non_null(f);
    return f;
}

static const dt_st_tensor *T(golden *gd, const char *cs, const char *name)
{
    char key[336];
    snprintf(key, sizeof key, "%.127s.%.200s", cs, name);
    const dt_st_tensor *t = dt_st_get(gd->f, key);
    if (!t) print_error("%s: fixture has no tensor '%s'\n", gd->family, key);
    assert_non_null(t);
    return t;
}

static double meta_num(golden *gd, const char *cs, const char *name, double dflt)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", cs, name);
    const char *v = dt_st_meta(gd->f, key);
    return v ? atof(v) : dflt;
}

static const char *meta_str(golden *gd, const char *cs, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", cs, name);
    const char *v = dt_st_meta(gd->f, key);
    if (!v) print_error("%s: fixture has no metadata '%s'\n", gd->family, key);
    assert_non_null(v);
    return v;
}

/* Shape of a fixture tensor as ints for the graph API. */
static int dims(const dt_st_tensor *t, int *shape)
{
    for (int d = 0; d < t->ndim; d++) shape[d] = (int)t->shape[d];
    return t->ndim;
}

static dt_node *input_like(dt_graph *g, const char *name, const dt_st_tensor *t, int requires_grad)
{
    int s[DT_ST_MAX_DIMS];
    dt_node *n = dt_input(g, name, dims(t, s), s);
    assert_non_null(n);
    n->requires_grad = requires_grad;
    return n;
}

static dt_node *param_like(dt_graph *g, const char *name, const dt_st_tensor *t)
{
    int s[DT_ST_MAX_DIMS];
    dt_node *n = dt_param(g, name, "golden", dims(t, s), s, DT_INIT_ZERO, 1, 1);
    assert_non_null(n);
    return n;
}

static void set_values(dt_node *n, const dt_st_tensor *t)
{
    assert_int_equal(dt_numel(n), t->numel);
    memcpy(n->val, t->data, t->numel * sizeof(float));
}

/* Compares got[0..ref->numel) with the reference; asserts the error bound. */
static void check(golden *gd, const char *cs, const char *what, const float *got, const dt_st_tensor *ref)
{
    double diff = 0.0, scale = 1e-6;
    size_t at = 0;
    for (size_t i = 0; i < ref->numel; i++) {
        double d = fabs((double)got[i] - ref->data[i]);
        if (!(d <= diff)) { diff = d; at = i; }   /* NaN counts as the worst */
        if (fabs(ref->data[i]) > scale) scale = fabs(ref->data[i]);
    }
    double err = diff / scale;
    gd->tensors++;
    if (!(err <= gd->worst)) {
        gd->worst = err;
        snprintf(gd->worst_at, sizeof gd->worst_at, "%s %s", cs, what);
    }
    if (!(err <= TOL))
        print_error("%s %s %s: relative error %.3g > %g (element %zu: got %.9g, torch %.9g)\n", gd->family, cs,
                    what, err, TOL, at, (double)got[at], (double)ref->data[at]);
    assert_true(err <= TOL);
}

/* A fixture tensor that sets a node (inputs, parameters) or that a node's
 * value (grad = 0) or gradient (grad = 1) is compared with. */
typedef struct bind {
    const char *tensor;
    dt_node *node;
    int grad;
} bind;

/* Completes one case up to its run: loss = sum(out * R) when the case has R,
 * else out itself; compiles at the batch of the first bound input and sets
 * every node of `in`.  Returns the loss node. */
static dt_node *prepare_case(golden *gd, const char *cs, dt_graph *g, dt_node *out, const bind *in, int n_in)
{
    char key[128];
    snprintf(key, sizeof key, "%s.R", cs);
    const dt_st_tensor *tr = dt_st_get(gd->f, key);
    dt_node *r = tr ? input_like(g, "R", tr, 0) : NULL;
    dt_node *loss = r ? dt_sum(g, "loss", dt_mul(g, "loss", out, r)) : out;
    if (!loss) print_error("%s %s: %s\n", gd->family, cs, dt_last_error());
    assert_non_null(loss);
    dt_status st = dt_graph_compile(g, in[0].node->shape[0]);
    if (st) print_error("%s %s: %s\n", gd->family, cs, dt_last_error());
    assert_int_equal(st, DT_OK);
    for (int i = 0; i < n_in; i++) set_values(in[i].node, T(gd, cs, in[i].tensor));
    if (r) set_values(r, tr);
    return loss;
}

/* Runs forward and backward of a prepared case and compares every entry of `expect`. */
static void run_prepared(golden *gd, const char *cs, dt_graph *g, dt_node *loss, const bind *expect, int n_expect)
{
    dt_status st = dt_graph_forward(g, NULL);
    if (!st) st = dt_graph_backward(g, loss);
    if (st) print_error("%s %s: %s\n", gd->family, cs, dt_last_error());
    assert_int_equal(st, DT_OK);
    for (int i = 0; i < n_expect; i++) {
        const bind *e = &expect[i];
        assert_true(!e->grad || e->node->grad);
        check(gd, cs, e->tensor, e->grad ? e->node->grad : e->node->val, T(gd, cs, e->tensor));
    }
}

/* prepare_case + run_prepared, then frees the graph. */
static void run_case(golden *gd, const char *cs, dt_graph *g, dt_node *out, const bind *in, int n_in,
                     const bind *expect, int n_expect)
{
    dt_node *loss = prepare_case(gd, cs, g, out, in, n_in);
    run_prepared(gd, cs, g, loss, expect, n_expect);
    dt_graph_free(g);
}

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Walks the comma-separated "cases" list of the fixture. */
#define FOR_CASES(gd, cs)                                                                              \
    char cases_[512], *save_ = NULL;                                                                   \
    snprintf(cases_, sizeof cases_, "%s", dt_st_meta((gd)->f, "cases") ? dt_st_meta((gd)->f, "cases") : ""); \
    for (char *cs = strtok_r(cases_, ",", &save_); cs; cs = strtok_r(NULL, ",", &save_))

static void begin(golden *gd, const char *family)
{
    memset(gd, 0, sizeof *gd);
    gd->family = family;
    gd->f = open_fixture(family);
    assert_non_null(dt_st_meta(gd->f, "cases"));
}

static void finish(golden *gd)
{
    printf("golden %-14s %3d tensors  max rel err %.2e (%s)\n", gd->family, gd->tensors, gd->worst, gd->worst_at);
    assert_true(gd->tensors > 0);
    dt_st_free(gd->f);
}

/* ------------------------------------------------------------ ops */

static void test_conv2d(void **state)
{
    golden gd;
    begin(&gd, "conv2d");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *x = input_like(g, "x", T(&gd, cs, "x"), 1);
        dt_node *w = param_like(g, "c.weight", T(&gd, cs, "w")), *b = param_like(g, "c.bias", T(&gd, cs, "b"));
        int stride = (int)meta_num(&gd, cs, "stride", 1), pad = (int)meta_num(&gd, cs, "pad", 0);
        dt_node *y = dt_bias_add(g, "c", dt_conv2d(g, "c", x, w, stride, pad), b);
        bind in[] = {{"x", x, 0}, {"w", w, 0}, {"b", b, 0}};
        bind ex[] = {{"y", y, 0}, {"dx", x, 1}, {"dw", w, 1}, {"db", b, 1}};
        run_case(&gd, cs, g, y, in, N_OF(in), ex, N_OF(ex));
    }
    finish(&gd);
}

static void test_pool(void **state)
{
    golden gd;
    begin(&gd, "pool");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *x = input_like(g, "x", T(&gd, cs, "x"), 1);
        int k = (int)meta_num(&gd, cs, "k", 2), stride = (int)meta_num(&gd, cs, "stride", 2);
        int is_max = !strcmp(meta_str(&gd, cs, "op"), "max");
        dt_node *y = is_max ? dt_maxpool(g, "p", x, k, stride) : dt_avgpool(g, "p", x, k, stride);
        bind in[] = {{"x", x, 0}};
        bind ex[] = {{"y", y, 0}, {"dx", x, 1}};
        run_case(&gd, cs, g, y, in, N_OF(in), ex, N_OF(ex));
    }
    finish(&gd);
}

static void test_lstm(void **state)
{
    golden gd;
    begin(&gd, "lstm");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *x = input_like(g, "x", T(&gd, cs, "x"), 1);
        dt_node *wi = param_like(g, "lstm.weight_ih_l0", T(&gd, cs, "w_ih"));
        dt_node *wh = param_like(g, "lstm.weight_hh_l0", T(&gd, cs, "w_hh"));
        dt_node *bi = param_like(g, "lstm.bias_ih_l0", T(&gd, cs, "b_ih"));
        dt_node *bh = param_like(g, "lstm.bias_hh_l0", T(&gd, cs, "b_hh"));
        dt_node *y = dt_lstm(g, "lstm", x, wi, wh, bi, bh);
        bind in[] = {{"x", x, 0}, {"w_ih", wi, 0}, {"w_hh", wh, 0}, {"b_ih", bi, 0}, {"b_hh", bh, 0}};
        bind ex[] = {{"y", y, 0}, {"dx", x, 1}, {"dw_ih", wi, 1}, {"dw_hh", wh, 1}, {"db_ih", bi, 1},
                     {"db_hh", bh, 1}};
        run_case(&gd, cs, g, y, in, N_OF(in), ex, N_OF(ex));
    }
    finish(&gd);
}

static void test_cross_entropy(void **state)
{
    golden gd;
    begin(&gd, "cross_entropy");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *z = input_like(g, "logits", T(&gd, cs, "logits"), 1);
        dt_node *y = input_like(g, "labels", T(&gd, cs, "labels"), 0);
        dt_node *loss = dt_cross_entropy(g, "loss", z, y);
        bind in[] = {{"logits", z, 0}, {"labels", y, 0}};
        bind ex[] = {{"loss", loss, 0}, {"dlogits", z, 1}};
        run_case(&gd, cs, g, loss, in, N_OF(in), ex, N_OF(ex));
    }
    finish(&gd);
}

/* ------------------------------------------------------------ the ramp's blocks */

/* A parameter bound to fixture tensor p.NAME, its gradient compared with g.NAME. */
typedef struct named_param {
    char p[96], g[96];
    dt_node *node;
} named_param;

static dt_node *named(golden *gd, const char *cs, dt_graph *g, const char *name, named_param *np)
{
    snprintf(np->p, sizeof np->p, "p.%s", name);
    snprintf(np->g, sizeof np->g, "g.%s", name);
    np->node = param_like(g, name, T(gd, cs, np->p));
    return np->node;
}

/* nn.MultiheadAttention (self-attention, with and without the causal mask)
 * and one pre-LN encoder block of the transformer preset, built from ops. */
static void test_attention(void **state)
{
    golden gd;
    begin(&gd, "attention");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *x = input_like(g, "x", T(&gd, cs, "x"), 1);
        int heads = (int)meta_num(&gd, cs, "heads", 1);
        if (strcmp(cs, "block")) {
            dt_node *wi = param_like(g, "attn.in_proj_weight", T(&gd, cs, "w_in"));
            dt_node *bi = param_like(g, "attn.in_proj_bias", T(&gd, cs, "b_in"));
            dt_node *wo = param_like(g, "attn.out_proj.weight", T(&gd, cs, "w_out"));
            dt_node *bo = param_like(g, "attn.out_proj.bias", T(&gd, cs, "b_out"));
            dt_node *y = dt_attention(g, "attn", x, wi, bi, wo, bo, heads, (int)meta_num(&gd, cs, "causal", 0));
            bind in[] = {{"x", x, 0}, {"w_in", wi, 0}, {"b_in", bi, 0}, {"w_out", wo, 0}, {"b_out", bo, 0}};
            bind ex[] = {{"y", y, 0}, {"dx", x, 1}, {"dw_in", wi, 1}, {"db_in", bi, 1}, {"dw_out", wo, 1},
                         {"db_out", bo, 1}};
            run_case(&gd, cs, g, y, in, N_OF(in), ex, N_OF(ex));
            continue;
        }
        static const char *const names[] = {"ln1.weight", "ln1.bias", "attn.in_proj_weight", "attn.in_proj_bias",
                                            "attn.out_proj.weight", "attn.out_proj.bias", "ln2.weight", "ln2.bias",
                                            "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"};
        enum { NP = sizeof names / sizeof names[0] };
        assert_string_equal(meta_str(&gd, cs, "names"),
                            "ln1.weight,ln1.bias,attn.in_proj_weight,attn.in_proj_bias,attn.out_proj.weight,"
                            "attn.out_proj.bias,ln2.weight,ln2.bias,mlp.0.weight,mlp.0.bias,mlp.2.weight,mlp.2.bias");
        named_param p[NP];
        for (int i = 0; i < NP; i++) named(&gd, cs, g, names[i], &p[i]);
        dt_node *h = dt_layernorm(g, "ln1", x, p[0].node, p[1].node, 1e-5f);
        h = dt_attention(g, "attn", h, p[2].node, p[3].node, p[4].node, p[5].node, heads, 0);
        dt_node *r1 = dt_add(g, "res1", x, h);
        h = dt_layernorm(g, "ln2", r1, p[6].node, p[7].node, 1e-5f);
        h = dt_bias_add(g, "mlp.0", dt_matmul(g, "mlp.0", h, p[8].node), p[9].node);
        h = dt_gelu(g, "mlp.1", h);
        h = dt_bias_add(g, "mlp.2", dt_matmul(g, "mlp.2", h, p[10].node), p[11].node);
        dt_node *y = dt_add(g, "res2", r1, h);
        bind in[1 + NP], ex[2 + NP];
        in[0] = (bind){"x", x, 0};
        ex[0] = (bind){"y", y, 0};
        ex[1] = (bind){"dx", x, 1};
        for (int i = 0; i < NP; i++) {
            in[1 + i] = (bind){p[i].p, p[i].node, 0};
            ex[2 + i] = (bind){p[i].g, p[i].node, 1};
        }
        run_case(&gd, cs, g, y, in, 1 + NP, ex, 2 + NP);
    }
    finish(&gd);
}

/* Sets a batch-norm node's running statistics from before.<layer>.running_mean/var
 * and compares them after the forward with after.<layer>.running_mean/var. */
static void bn_stats(golden *gd, const char *cs, dt_node *bn, const char *when, int compare)
{
    char key[128];
    float *stat[2] = {dt_batchnorm_running_mean(bn), dt_batchnorm_running_var(bn)};
    const char *what[2] = {"running_mean", "running_var"};
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "%s.%s.%s", when, bn->layer, what[k]);
        const dt_st_tensor *t = T(gd, cs, key);
        assert_int_equal(t->numel, (size_t)dt_batchnorm_channels(bn));
        if (compare) check(gd, cs, key, stat[k], t);
        else memcpy(stat[k], t->data, t->numel * sizeof(float));
    }
}

/* torchvision's BasicBlock with a downsample (stride 2), training mode:
 * output, every gradient, and the running statistics' update. */
static void test_resblock(void **state)
{
    golden gd;
    begin(&gd, "resblock");
    FOR_CASES(&gd, cs) {
        dt_graph *g = dt_graph_new();
        dt_node *x = input_like(g, "x", T(&gd, cs, "x"), 1);
        static const char *const names[] = {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight",
                                            "bn2.weight", "bn2.bias", "downsample.0.weight", "downsample.1.weight",
                                            "downsample.1.bias"};
        enum { NP = sizeof names / sizeof names[0] };
        assert_string_equal(meta_str(&gd, cs, "names"), "conv1.weight,bn1.weight,bn1.bias,conv2.weight,bn2.weight,"
                                                        "bn2.bias,downsample.0.weight,downsample.1.weight,downsample.1.bias");
        named_param p[NP];
        for (int i = 0; i < NP; i++) named(&gd, cs, g, names[i], &p[i]);
        dt_node *h = dt_conv2d(g, "conv1", x, p[0].node, 2, 1);
        dt_node *bn1 = dt_batchnorm(g, "bn1", h, p[1].node, p[2].node, 0.1f, 1e-5f);
        h = dt_conv2d(g, "conv2", dt_relu(g, "relu1", bn1), p[3].node, 1, 1);
        dt_node *bn2 = dt_batchnorm(g, "bn2", h, p[4].node, p[5].node, 0.1f, 1e-5f);
        dt_node *ds = dt_batchnorm(g, "downsample.1", dt_conv2d(g, "downsample.0", x, p[6].node, 2, 0), p[7].node,
                                   p[8].node, 0.1f, 1e-5f);
        dt_node *y = dt_relu(g, "relu2", dt_add(g, "add", bn2, ds));
        bind in[1 + NP], ex[2 + NP];
        in[0] = (bind){"x", x, 0};
        ex[0] = (bind){"y", y, 0};
        ex[1] = (bind){"dx", x, 1};
        for (int i = 0; i < NP; i++) {
            in[1 + i] = (bind){p[i].p, p[i].node, 0};
            ex[2 + i] = (bind){p[i].g, p[i].node, 1};
        }
        dt_node *loss = prepare_case(&gd, cs, g, y, in, 1 + NP);
        dt_node *bns[] = {bn1, bn2, ds};
        for (int i = 0; i < 3; i++) bn_stats(&gd, cs, bns[i], "before", 0);
        dt_graph_set_train(g, 1);
        run_prepared(&gd, cs, g, loss, ex, 2 + NP);
        for (int i = 0; i < 3; i++) bn_stats(&gd, cs, bns[i], "after", 1);
        dt_graph_free(g);
    }
    finish(&gd);
}

/* The whole resnet and transformer presets as dnntrouble builds them
 * (dt_model_spec_preset, the one build path), loaded by name from torch's
 * state_dict: the checkpoint's tensor names are torch's, in torch's order;
 * logits, loss, every parameter gradient and the running statistics after
 * a training-mode step match. */
static void test_presets(void **state)
{
    golden gd;
    begin(&gd, "presets");
    char dir[256], path[400];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    FOR_CASES(&gd, cs) {
        const dt_st_tensor *tx = T(&gd, cs, "x");
        int B = (int)tx->shape[0];
        dt_preset_args a = {.depth = 1, .act = DT_ACT_RELU};
        dt_input_shape in = {.ndim = tx->ndim - 1};
        for (int k = 1; k < tx->ndim; k++) in.shape[k - 1] = (int)tx->shape[k];
        int outputs = (int)meta_num(&gd, cs, "n", 0);
        if (!strcmp(cs, "resnet")) {
            a.arch = DT_ARCH_RESNET;
            a.hidden = (int)meta_num(&gd, cs, "w", 16);
            a.hidden_given = 1;
        } else {
            a.arch = DT_ARCH_TRANSFORMER;
            a.hidden = (int)meta_num(&gd, cs, "d", 64);
        }
        dt_model_spec *sp = malloc(sizeof *sp);
        assert_int_equal(dt_model_spec_preset(&a, &in, outputs, DT_LOSS_CROSS_ENTROPY, B, sp), DT_OK);
        dt_model *m = NULL;
        dt_status st = dt_model_build(sp, &m);
        free(sp);
        if (st) print_error("%s: %s\n", cs, dt_last_error());
        assert_int_equal(st, DT_OK);
        dt_graph *g = m->g;
        for (int i = 0; i < g->n_params; i++) {
            char key[96];
            snprintf(key, sizeof key, "p.%s", g->params[i]->name);
            set_values(g->params[i], T(&gd, cs, key));
        }
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == DT_OP_BATCHNORM) bn_stats(&gd, cs, g->nodes[i], "p", 0);
        /* the file's tensors, in order, are torch's state_dict */
        assert_int_equal(dt_checkpoint_save(m, path, NULL), DT_OK);
        dt_st_file *f = NULL;
        assert_int_equal(dt_st_read(path, &f), DT_OK);
        char names[8192] = "";
        for (int i = 0; i < f->n_tensors; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "", f->tensors[i].name);
        dt_st_free(f);
        if (strcmp(names, meta_str(&gd, cs, "names")))
            print_error("%s: checkpoint names\n  ours  %s\n  torch %s\n", cs, names, meta_str(&gd, cs, "names"));
        assert_string_equal(names, meta_str(&gd, cs, "names"));
        set_values(m->x, tx);
        set_values(m->y, T(&gd, cs, "labels"));
        dt_graph_set_train(g, 1);
        st = dt_graph_forward(g, m->loss);
        if (!st) st = dt_graph_backward(g, m->loss);
        assert_int_equal(st, DT_OK);
        check(&gd, cs, "logits", m->out->val, T(&gd, cs, "logits"));
        check(&gd, cs, "loss", m->loss->val, T(&gd, cs, "loss"));
        for (int i = 0; i < g->n_params; i++) {
            char key[96];
            snprintf(key, sizeof key, "g.%s", g->params[i]->name);
            check(&gd, cs, key, g->params[i]->grad, T(&gd, cs, key));
        }
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == DT_OP_BATCHNORM) bn_stats(&gd, cs, g->nodes[i], "after", 1);
        dt_model_free(m);
    }
    dt_test_rmtree(dir);
    finish(&gd);
}

/* ------------------------------------------------------------ optimizers */

static void test_optim(void **state)
{
    golden gd;
    begin(&gd, "optim");
    FOR_CASES(&gd, cs) {
        const char *kind = meta_str(&gd, cs, "kind");
        dt_opt_kind k = !strcmp(kind, "sgd") ? DT_OPT_SGD : !strcmp(kind, "adamw") ? DT_OPT_ADAMW : DT_OPT_ADAM;
        assert_true(!strcmp(kind, "sgd") || !strcmp(kind, "adam") || !strcmp(kind, "adamw"));
        dt_optim_cfg c = dt_optim_defaults(k, (float)meta_num(&gd, cs, "lr", 0));
        c.momentum = (float)meta_num(&gd, cs, "momentum", 0);
        c.nesterov = (int)meta_num(&gd, cs, "nesterov", 0);
        c.weight_decay = (float)meta_num(&gd, cs, "weight_decay", k == DT_OPT_ADAMW ? 0.01 : 0.0);
        c.clip_grad_norm = (float)meta_num(&gd, cs, "clip", 0);
        const dt_st_tensor *tw0 = T(&gd, cs, "w0");
        size_t n = tw0->numel;
        dt_optimizer o;
        assert_int_equal(dt_optim_init(&o, &c, n), DT_OK);
        float *w = malloc(n * sizeof *w), *gr = malloc(n * sizeof *gr), *delta = malloc(n * sizeof *delta);
        assert_true(w && gr && delta);
        memcpy(w, tw0->data, n * sizeof *w);
        int steps = (int)meta_num(&gd, cs, "steps", 3);
        assert_int_equal(steps, 3);
        for (int t = 0; t < steps; t++) {
            char gn[16];
            snprintf(gn, sizeof gn, "g%d", t);
            const dt_st_tensor *tg = T(&gd, cs, gn);
            assert_int_equal(tg->numel, n);
            memcpy(gr, tg->data, n * sizeof *gr);
            dt_optim_step(&o, w, gr);
            if (t == 0) check(&gd, cs, "w1", w, T(&gd, cs, "w1"));
        }
        check(&gd, cs, "w3", w, T(&gd, cs, "w3"));
        for (size_t i = 0; i < n; i++) delta[i] = (float)((double)w[i] - tw0->data[i]);
        check(&gd, cs, "w3-w0", delta, T(&gd, cs, "delta"));
        free(w);
        free(gr);
        free(delta);
        dt_optim_free(&o);
    }
    finish(&gd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_optim),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_resblock),
        cmocka_unit_test(test_presets),
    };
    return cmocka_run_group_tests_name("golden (PyTorch fixtures)", tests, NULL, NULL);
}
