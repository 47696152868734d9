/* Trajectory tests against PyTorch: the same initial weights (drawn by torch, loaded through
 * safetensors with dt_checkpoint_load) and the same batch order give the same loss at every one
 * of 240 Adam steps and the same final state (weights and batch-norm running statistics), for
 * LeNet, the MLP, the LSTM, the MLP with batch-norm and the ramp's presets (ResNet-8 and the
 * pre-LN transformer, small).  One step (test_golden.c) cannot show a
 * slow drift; 240 steps, 2-40 epochs with a partial last batch in each, can.
 *
 * The torch side is computed at test time by tests/golden/trajectory.py (Debian's python3-torch;
 * the tests skip with a message where it cannot be imported) into a temporary folder: nothing
 * binary is committed, and the reference always comes from the torch that is installed.  The
 * script runs each net from the same float32 start in float64 (the exact trajectory, to within
 * float32 noise) and in float32 (what a PyTorch user gets), plus the float32 runs below.
 *
 * Tolerance.  Both engines compute in float32 with different summation orders (BLAS kernels,
 * im2col against oneDNN convolutions, fused gates), so each step's loss and gradients carry
 * relative rounding differences of about 1e-7..1e-6 (measured at LeNet steps 21 and 98: from the
 * same state, dnntrouble's gradients are within 3e-7 of float64, torch's float32 ones within
 * 1.2e-6).  Over many steps these compound, and training amplifies them where it is sensitive:
 * Adam's first steps are lr * g / (|g| + eps), so a weight whose true gradient is ~1e-9 (a unit
 * active on one sample) moves by lr * (rounding of g) / eps, ~1e-5..1e-4 apart between any two
 * float32 runs; the bias before a batch-norm has a true gradient of 0, so its value is such noise
 * throughout.  In LeNet such offsets then flip a ReLU or max-pool decision somewhere (measured:
 * from two states 1e-5 apart the exact float64 gradient of one c2 channel differs by 28%), and
 * from there the run leaves the float64 trajectory exponentially (x10 in ~5 steps) — torch's own
 * float32 run as much as ours, at events that are coin flips for each run (12 float32 runs of one
 * draw left at steps 137 or 154; of another at 69 or 81 or not at all).  So:
 *
 *  1. Free-running, every step: |L - L64| <= max(LOSS_ATOL + LOSS_RTOL |L64|, K * spread[s]),
 *     spread[s] the largest |L_f32 - L64| so far of torch's own float32 run and of more runs
 *     from the start moved by one unit in the last place (seven for LeNet, three for the others).
 *     A run that leaves at a decision the others happened not to flip is not a different engine:
 *     dnntrouble may leave up to LAG = 60 steps before the first of them (the spread LAG steps
 *     later is used; measured on four LeNet draws, dnntrouble left at most 38 steps before the
 *     first of eight float32 runs, and on two never), and from LAG steps before they leave, the
 *     loss need only stay within CHAOS_RTOL = 50% of float64 (no blow-up, no drift).  Where the
 *     other runs never leave (the stable nets), neither may dnntrouble.  K = 10, floors 20x above
 *     float32 rounding: LOSS_RTOL = 2e-5, LOSS_ATOL = 1e-6.
 *  2. Final state, per tensor: max|w - w64| / max|w64| <= max(W_RTOL = 2e-5, K * the same of
 *     those runs).
 *  3. Anchored windows, the check that chaos cannot blur: at steps 0, 40, ..., 200 the float64
 *     run's whole state (weights, batch-norm statistics, Adam's moments and step count), rounded
 *     to float32, is loaded into both engines, and 8 steps from there must match float64's within
 *     max(floor, K * torch's float32 difference) per step and per final tensor.
 *
 * Where the trajectory is stable (the MLP, the LSTM, every weight of the batch-norm MLP but the
 * no-op bias, LeNet until its first flip) the floors decide and a real difference — an op, Adam's
 * bias correction or eps, the batch-norm statistics, the batch order — shows up at 1e-4..1e-2
 * within a few steps (the learning rate 0.1% off fails the MLP at 140x its tolerance); the test
 * prints how many free-running steps were held to the floor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/test_models.h"
#include "dnntrouble/checkpoint.h"
#include "dnntrouble/model.h"
#include "dnntrouble/safetensors.h"
#include "support/test_files.h"

#define K_SPREAD 10.0
#define LAG 60
#define CHAOS_RTOL 0.5
#define LOSS_RTOL 2e-5
#define LOSS_ATOL 1e-6
#define W_RTOL 2e-5
#define SKIP_STATUS 77

static char g_dir[512];
static int g_status = -1;

/* The interpreter: $DT_TEST_PYTHON, else Debian's /usr/bin/python3 (python3-torch), as test_checkpoint.c. */
static const char *python(void)
{
    const char *p = getenv("DT_TEST_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

/* Runs the torch side once for every net. */
static int group_setup(void **state)
{
    (void)state;
    dt_test_tmpdir(g_dir, sizeof g_dir);
    const char *slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%.*s%sgolden/trajectory.py' '%s'", python(), n, __FILE__, n ? "/" : "", g_dir);
    int rc = system(cmd);
    g_status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dt_test_rmtree(g_dir);
    return 0;
}

static double meta_num(const dt_st_file *f, const char *key)
{
    const char *v = dt_st_meta(f, key);
    assert_non_null(v);
    return atof(v);
}

static const dt_st_tensor *tensor(const dt_st_file *f, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const dt_st_tensor *t = dt_st_get(f, name);
    if (!t) print_error("trajectory fixture has no tensor '%s'\n", name);
    assert_non_null(t);
    return t;
}

/* max|a - ref| / max(max|ref|, 1e-6) over n values (NaN counts as infinitely far). */
static double rel_dist(const float *a, const float *ref, size_t n)
{
    double d = 0.0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= d)) d = isnan(e) ? INFINITY : e;
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    return d / scale;
}

static double loss_floor(double ref) { return LOSS_ATOL + LOSS_RTOL * fabs(ref); }

typedef struct traj {
    const char *net;
    dt_st_file *f;
    const dt_st_tensor *x, *y, *order;
    int steps, B, N;
    size_t per;                  /* floats per sample */
    dt_model *m;
    dt_optimizer o;
    char saved[700];
} traj;

/* One training step on the rows of (0-based) step `s`: epoch after epoch of the fixture's order,
 * the last batch of each partial — trajectory.py's batch_rows. */
static float step(traj *t, int s)
{
    int per_epoch = (t->N + t->B - 1) / t->B, e = s / per_epoch, i = s % per_epoch;
    size_t from = (size_t)e * t->N + (size_t)i * t->B, to = (size_t)e * t->N + (size_t)((i + 1) * t->B < t->N ? (i + 1) * t->B : t->N);
    assert_true(to <= t->order->numel);
    size_t k = to - from;
    assert_int_equal(dt_graph_set_batch(t->m->g, (int)k), DT_OK);
    for (size_t r = 0; r < k; r++) {
        size_t row = (size_t)t->order->data[from + r];
        memcpy(t->m->x->val + r * t->per, t->x->data + row * t->per, t->per * sizeof(float));
        t->m->y->val[r] = t->y->data[row];
    }
    float loss;
    assert_int_equal(dt_model_train_step(t->m, &t->o, &loss), DT_OK);
    return loss;
}

/* The model's state through the checkpoint writer (torch's state_dict names and layouts). */
static dt_st_file *model_state(traj *t)
{
    assert_int_equal(dt_checkpoint_save(t->m, t->saved, NULL), DT_OK);
    dt_st_file *mine = NULL;
    assert_int_equal(dt_st_read(t->saved, &mine), DT_OK);
    return mine;
}

/* Each tensor of the model against `<prefix>64.NAME`, with tolerance max(W_RTOL, K * spread),
 * spread from `spread.NAME` (prefix "final") or from `<prefix>32.NAME` (anchored windows).
 * Returns the number of tensors out of tolerance; judge = 0 only prints. */
static int compare_state(traj *t, const char *prefix, int judge)
{
    dt_st_file *mine = model_state(t);
    int bad = 0;
    for (int i = 0; i < mine->n_tensors; i++) {
        const dt_st_tensor *w = &mine->tensors[i];
        const dt_st_tensor *r64 = tensor(t->f, "%s64.%s", prefix, w->name), *r32 = tensor(t->f, "%s32.%s", prefix, w->name);
        assert_int_equal(w->numel, r64->numel);
        double d = rel_dist(w->data, r64->data, w->numel), d32 = rel_dist(r32->data, r64->data, w->numel);
        double sp = strcmp(prefix, "final") ? d32 : tensor(t->f, "spread.%s", w->name)->data[0];
        double tol = fmax(W_RTOL, K_SPREAD * sp);
        if (judge && !(d <= tol)) {
            print_error("%s: %s %s differs from torch float64 by %.3g (relative), tolerance %.3g\n", t->net, prefix,
                        w->name, d, tol);
            bad++;
        }
        if (!strcmp(prefix, "final"))
            print_message("  %-20s dnntrouble %.2e  torch float32 %.2e  spread %.2e  (tolerance %.2e)\n", w->name, d,
                          d32, sp, tol);
    }
    dt_st_free(mine);
    return bad;
}

/* Loads NET.<what>.safetensors; Adam starts at step `a` with the fixture's moments (a > 0). */
static void load_state(traj *t, const char *what, int a)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.%s.safetensors", g_dir, t->net, what);
    dt_status st = dt_checkpoint_load(t->m, path);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_optim_reset(&t->o);
    t->o.t = a;
    if (a == 0) return;
    const dt_graph *g = t->m->g;
    for (int i = 0; i < g->n_params; i++) {
        const dt_node *p = g->params[i];
        const dt_st_tensor *m = tensor(t->f, "anchor%d.m.%s", a, p->name), *v = tensor(t->f, "anchor%d.v.%s", a, p->name);
        assert_int_equal(m->numel, dt_numel(p));
        memcpy(t->o.m + p->param_offset, m->data, m->numel * sizeof(float));
        memcpy(t->o.v + p->param_offset, v->data, v->numel * sizeof(float));
    }
}

/* Check 1 and 2: the free-running trajectory.  Returns the failures. */
static int free_running(traj *t)
{
    const dt_st_tensor *l32 = tensor(t->f, "loss32"), *l64 = tensor(t->f, "loss64"), *spread = tensor(t->f, "loss_spread");
    assert_int_equal((size_t)t->steps, l64->numel);
    load_state(t, "init", 0);
    float *loss = malloc((size_t)t->steps * sizeof *loss);
    assert_non_null(loss);
    for (int s = 0; s < t->steps; s++) loss[s] = step(t, s);

    double worst = 0.0, ours_rel = 0.0, torch_rel = 0.0;
    int worst_at = 0, at_floor = 0, left = -1, others_left = -1;
    for (int s = 0; s < t->steps; s++)
        if (spread->data[s] > loss_floor(l64->data[s])) { others_left = s; break; }
    for (int s = 0; s < t->steps; s++) {
        double ref = l64->data[s], dev = fabs(loss[s] - ref), floor = loss_floor(ref);
        if (left < 0 && !(dev <= floor)) left = s;
        double tol = fmax(floor, K_SPREAD * spread->data[s + LAG < t->steps ? s + LAG : t->steps - 1]);
        if (others_left >= 0 && s + LAG >= others_left) tol = fmax(tol, CHAOS_RTOL * fabs(ref));
        if (tol == floor && at_floor == s) at_floor = s + 1;
        double r = isnan(dev) ? INFINITY : dev / tol;
        if (r > worst) { worst = r; worst_at = s; }
        ours_rel = fmax(ours_rel, dev / fabs(ref));
        torch_rel = fmax(torch_rel, fabs(l32->data[s] - ref) / fabs(ref));
    }
    char ours_at[24] = "never", others_at[24] = "never";
    if (left >= 0) snprintf(ours_at, sizeof ours_at, "step %d", left + 1);
    if (others_left >= 0) snprintf(others_at, sizeof others_at, "step %d", others_left + 1);
    print_message("%s: %d steps, loss %.4f -> %.4f (torch float64); largest relative loss difference from float64: "
                  "dnntrouble %.2e, torch float32 %.2e; off the floor: dnntrouble %s, the other float32 runs %s; "
                  "steps 1-%d held to the floor; worst step %d at %.2f of its tolerance\n",
                  t->net, t->steps, (double)l64->data[0], (double)l64->data[t->steps - 1], ours_rel, torch_rel,
                  ours_at, others_at, at_floor, worst_at + 1, worst);
    int bad = worst > 1.0;
    if (bad)
        print_error("%s: step %d: loss %.9g, torch float64 %.9g, torch float32 %.9g, float32 spread %.3g\n", t->net,
                    worst_at + 1, (double)loss[worst_at], (double)l64->data[worst_at], (double)l32->data[worst_at],
                    (double)spread->data[worst_at]);
    bad += compare_state(t, "final", 1);
    free(loss);
    return bad;
}

/* Check 3: windows from the float64 run's state at each anchor. */
static int anchored(traj *t)
{
    const char *list = dt_st_meta(t->f, "anchors");
    assert_non_null(list);
    int window = (int)meta_num(t->f, "window"), bad = 0, windows = 0;
    double worst = 0.0;
    for (const char *p = list; *p;) {
        int a = atoi(p);
        char what[32];
        snprintf(what, sizeof what, "anchor%d", a);
        load_state(t, what, a);
        const dt_st_tensor *w64 = tensor(t->f, "anchor%d.loss64", a), *w32 = tensor(t->f, "anchor%d.loss32", a);
        for (int s = 0; s < window; s++) {
            double l = step(t, a + s), ref = w64->data[s];
            double tol = fmax(loss_floor(ref), K_SPREAD * fabs(w32->data[s] - ref)), r = fabs(l - ref) / tol;
            if (!(r <= 1.0)) {
                print_error("%s: window at step %d, step %d: loss %.9g, torch float64 %.9g, float32 %.9g\n", t->net, a,
                            a + s + 1, l, ref, (double)w32->data[s]);
                bad++;
            }
            if (!(r <= worst)) worst = r;
        }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "anchor%d.end", a);
        /* From step 0 Adam's moments are zero, so every element's first update
         * is lr * sign(g) whatever |g|: where g sits at float32 rounding level
         * its sign follows the summation order (our direct conv kernels use
         * FMA, torch's im2col sgemm does not), and the window's end state
         * measures that sign noise, not the step.  Its losses are still
         * checked above; anchors from step 40 on have warm moments. */
        if (a > 0) bad += compare_state(t, prefix, 1);
        windows++;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    print_message("  %d windows of %d steps from float64's state: worst loss at %.2f of its tolerance, %d tensors or "
                  "steps out\n", windows, window, worst, bad);
    return bad;
}

static void run_net(const char *net, dt_arch arch, int batch_norm)
{
    if (g_status == SKIP_STATUS || g_status == 127) { /* 127: the shell found no such interpreter */
        print_message("skipped: %s cannot import torch (install Debian's python3-torch: sh tools/install-deps.sh "
                      "test, or set DT_TEST_PYTHON)\n", python());
        skip();
        return;
    }
    if (g_status != 0) fail_msg("tests/golden/trajectory.py failed (exit status %d)", g_status);
    traj t = {.net = net};
    char path[700];
    snprintf(path, sizeof path, "%s/%s.traj.safetensors", g_dir, net);
    snprintf(t.saved, sizeof t.saved, "%s/%s.dnntrouble.safetensors", g_dir, net);
    if (dt_st_read(path, &t.f)) print_error("%s\n", dt_last_error());
    assert_non_null(t.f);
    t.x = tensor(t.f, "x");
    t.y = tensor(t.f, "y");
    t.order = tensor(t.f, "order");
    t.steps = (int)meta_num(t.f, "steps");
    t.B = (int)meta_num(t.f, "batch");
    t.N = (int)meta_num(t.f, "n");
    t.per = t.x->numel / (size_t)t.N;

    dt_test_model s = {0};
    s.arch = arch;
    s.in_ndim = t.x->ndim - 1;
    for (int i = 0; i < s.in_ndim; i++) s.in_shape[i] = (int)t.x->shape[i + 1];
    s.outputs = (int)meta_num(t.f, "classes");
    s.hidden = (int)meta_num(t.f, "hidden");
    s.hidden_given = 1;
    s.depth = 1;
    s.act = DT_ACT_RELU;
    s.batch_norm = batch_norm;
    s.loss = DT_LOSS_CROSS_ENTROPY;
    s.max_batch = t.B;
    t.m = dt_test_preset(&s);
    dt_model_init(t.m, 0);
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, (float)meta_num(t.f, "lr"));
    assert_int_equal(dt_optim_init(&t.o, &oc, t.m->g->n_param_values), DT_OK);

    int bad = free_running(&t);
    bad += anchored(&t);
    dt_optim_free(&t.o);
    dt_model_free(t.m);
    dt_st_free(t.f);
    assert_int_equal(bad, 0);
}

static void test_lenet_trajectory(void **state) { run_net("lenet", DT_ARCH_LENET, 0); }
static void test_mlp_trajectory(void **state) { run_net("mlp", DT_ARCH_MLP, 0); }
static void test_mlp_batchnorm_trajectory(void **state) { run_net("mlp_bn", DT_ARCH_MLP, 1); }
static void test_lstm_trajectory(void **state) { run_net("lstm", DT_ARCH_LSTM, 0); }
static void test_resnet_trajectory(void **state) { run_net("resnet", DT_ARCH_RESNET, 0); }
static void test_transformer_trajectory(void **state) { run_net("transformer", DT_ARCH_TRANSFORMER, 0); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenet_trajectory),
        cmocka_unit_test(test_mlp_trajectory),
        cmocka_unit_test(test_mlp_batchnorm_trajectory),
        cmocka_unit_test(test_lstm_trajectory),
        cmocka_unit_test(test_resnet_trajectory),
        cmocka_unit_test(test_transformer_trajectory),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
