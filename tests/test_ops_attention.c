/* The transformer ops (src/ops/ops_attention.c): GELU, the position
 * embedding add and fused multi-head self-attention.  Finite-difference
 * gradients for each, the forward against plain double-precision loops
 * (attention) and known values (GELU), the causal mask's reach, and the
 * shape errors naming layer, op and shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/graph.h"
#include "support/gradcheck.h"

/* ------------------------------------------------------------ gelu */

static void test_gelu_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 3, (int[]){2, 3, 4});
    gc_assert_graph(g, dt_gelu(g, "act", x), (dt_node *[]){x}, 1);
}

/* torch.nn.functional.gelu (approximate='none') at a few points, in float64. */
static void test_gelu_values(void **state)
{
    static const double xs[] = {-4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0};
    static const double want[] = {-0.00012668496733247991, -0.15865525393145702, -0.15426876936299344, 0.0,
                                  0.34573123063700656, 0.841344746068543, 2.99595030590511};
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){1, 7});
    dt_node *y = dt_gelu(g, "act", x);
    assert_int_equal(dt_graph_compile(g, 1), DT_OK);
    for (int i = 0; i < 7; i++) x->val[i] = (float)xs[i];
    assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
    for (int i = 0; i < 7; i++) {
        double err = fabs(y->val[i] - want[i]);
        if (err > 1e-6 * fmax(1.0, fabs(want[i]))) fail_msg("gelu(%g) = %.9g, torch %.9g", xs[i], y->val[i], want[i]);
    }
    dt_graph_free(g);
}

/* Forward and backward against erf and exp in double over [-10, 10] (the
 * op uses call-free approximations of both; erf's is within 4.2e-7
 * absolute, so x·Φ(x) within 1e-6 near |x| = 4.7): absolute error <= 1.2e-6
 * forward, 3e-7 backward, and NaN stays NaN. */
static void test_gelu_against_erf(void **state)
{
    enum { N = 20001 };
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 2, (int[]){1, N});
    dt_node *y = dt_gelu(g, "act", x);
    assert_int_equal(dt_graph_compile(g, 1), DT_OK);
    for (int i = 0; i < N; i++) x->val[i] = -10.0f + 20.0f * (float)i / (N - 1);
    assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
    float *seed = malloc(N * sizeof *seed);
    for (int i = 0; i < N; i++) seed[i] = 1.0f;
    assert_int_equal(dt_graph_backward_seeded(g, y, seed), DT_OK);
    double fe = 0, be = 0;
    for (int i = 0; i < N; i++) {
        double v = x->val[i], cdf = 0.5 * (1.0 + erf(v / sqrt(2.0)));
        double want = v * cdf, dwant = cdf + v * exp(-0.5 * v * v) / sqrt(2.0 * M_PI);
        fe = fmax(fe, fabs(y->val[i] - want));
        be = fmax(be, fabs(x->grad[i] - dwant));
    }
    print_message("gelu over [-10, 10]: max abs error forward %.3g, backward %.3g\n", fe, be);
    assert_true(fe <= 1.2e-6);
    assert_true(be <= 3e-7);
    x->val[0] = NAN;
    assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
    assert_true(isnan(y->val[0]));
    free(seed);
    dt_graph_free(g);
}

/* ------------------------------------------------------------ pos_add */

static void test_pos_add_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 3, (int[]){3, 4, 5});
    dt_node *p = dt_param(g, "pos", "pos", 3, (int[]){1, 4, 5}, DT_INIT_UNIFORM_FAN_IN, 5, 5);
    gc_assert_graph(g, dt_pos_add(g, "pos", x, p), (dt_node *[]){x, p}, 2);
}

static void test_pos_add_shape_error(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){2, 4, 5});
    dt_node *p = dt_param(g, "pos", "pos", 3, (int[]){1, 6, 5}, DT_INIT_ZERO, 5, 5);
    assert_null(dt_pos_add(g, "pos", x, p));
    const char *msg = dt_last_error();
    assert_non_null(strstr(msg, "layer 'pos'"));
    assert_non_null(strstr(msg, "pos_add"));
    assert_non_null(strstr(msg, "[2,4,5]"));
    assert_non_null(strstr(msg, "[1,6,5]"));
    dt_graph_free(g);
}

/* ------------------------------------------------------------ attention */

typedef struct attn_net {
    dt_graph *g;
    dt_node *x, *wi, *bi, *wo, *bo, *y;
} attn_net;

static attn_net attn_build(int B, int T, int D, int H, int causal, int x_grad)
{
    attn_net a;
    a.g = dt_graph_new();
    a.x = x_grad ? gc_input(a.g, "x", 3, (int[]){B, T, D}) : dt_input(a.g, "x", 3, (int[]){B, T, D});
    /* U(+-1/sqrt(fan_in)) for every tensor: non-zero biases, O(1) scores */
    a.wi = dt_param(a.g, "attn.in_proj_weight", "attn", 2, (int[]){3 * D, D}, DT_INIT_GLOROT_UNIFORM, D, D);
    a.bi = dt_param(a.g, "attn.in_proj_bias", "attn", 1, (int[]){3 * D}, DT_INIT_UNIFORM_FAN_IN, 4, D);
    a.wo = dt_param(a.g, "attn.out_proj.weight", "attn", 2, (int[]){D, D}, DT_INIT_UNIFORM_FAN_IN, D, D);
    a.bo = dt_param(a.g, "attn.out_proj.bias", "attn", 1, (int[]){D}, DT_INIT_UNIFORM_FAN_IN, 4, D);
    a.y = dt_attention(a.g, "attn", a.x, a.wi, a.bi, a.wo, a.bo, H, causal);
    assert_non_null(a.y);
    return a;
}

static void test_attention_gradient(void **state)
{
    for (int causal = 0; causal <= 1; causal++) {
        attn_net a = attn_build(2, 5, 8, 2, causal, 1);
        gc_assert_graph(a.g, a.y, (dt_node *[]){a.x, a.wi, a.bi, a.wo, a.bo}, 5);
    }
    /* one head over all features, one step */
    attn_net a = attn_build(3, 1, 4, 1, 0, 1);
    gc_assert_graph(a.g, a.y, (dt_node *[]){a.x, a.wi, a.bi, a.wo, a.bo}, 5);
}

/* The forward in double, straight from the definition. */
static void attn_reference(const attn_net *a, int B, int T, int D, int H, int causal, double *y)
{
    int hd = D / H;
    double *qkv = malloc(sizeof(double) * (size_t)B * T * 3 * D), *ctx = malloc(sizeof(double) * (size_t)B * T * D);
    double s[64];
    for (int r = 0; r < B * T; r++)
        for (int o = 0; o < 3 * D; o++) {
            double v = a->bi->val[o];
            for (int i = 0; i < D; i++) v += (double)a->x->val[r * D + i] * a->wi->val[o * D + i];
            qkv[r * 3 * D + o] = v;
        }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                double m = -1e300, sum = 0;
                for (int u = 0; u < T; u++) {
                    double v = 0;
                    for (int e = 0; e < hd; e++)
                        v += qkv[(b * T + t) * 3 * D + h * hd + e] * qkv[(b * T + u) * 3 * D + D + h * hd + e];
                    s[u] = causal && u > t ? -INFINITY : v / sqrt((double)hd);
                    if (s[u] > m) m = s[u];
                }
                for (int u = 0; u < T; u++) sum += (s[u] = exp(s[u] - m));
                for (int e = 0; e < hd; e++) {
                    double v = 0;
                    for (int u = 0; u < T; u++) v += s[u] / sum * qkv[(b * T + u) * 3 * D + 2 * D + h * hd + e];
                    ctx[(b * T + t) * D + h * hd + e] = v;
                }
            }
    for (int r = 0; r < B * T; r++)
        for (int o = 0; o < D; o++) {
            double v = a->bo->val[o];
            for (int i = 0; i < D; i++) v += ctx[r * D + i] * a->wo->val[o * D + i];
            y[r * D + o] = v;
        }
    free(qkv);
    free(ctx);
}

static void test_attention_forward_matches_reference(void **state)
{
    const int B = 3, T = 7, D = 12, H = 3;
    for (int causal = 0; causal <= 1; causal++) {
        attn_net a = attn_build(B, T, D, H, causal, 0);
        assert_int_equal(dt_graph_compile(a.g, B), DT_OK);
        dt_graph_init_params(a.g, 5);
        dt_rng r;
        dt_rng_seed(&r, 9);
        gc_fill(a.x, &r, -2.0f, 2.0f);
        assert_int_equal(dt_graph_forward(a.g, NULL), DT_OK);
        double *want = malloc(sizeof(double) * B * T * D), err = 0, scale = 0;
        attn_reference(&a, B, T, D, H, causal, want);
        for (int i = 0; i < B * T * D; i++) {
            err = fmax(err, fabs(a.y->val[i] - want[i]));
            scale = fmax(scale, fabs(want[i]));
        }
        print_message("attention causal=%d: max |ours - reference| %.3g (scale %.3g)\n", causal, err, scale);
        assert_true(err <= 1e-5 * fmax(scale, 1.0));
        /* A smaller batch reuses the buffers and gives the first sample's rows
         * (to rounding: the projections' sgemm blocks differently). */
        assert_int_equal(dt_graph_set_batch(a.g, 1), DT_OK);
        assert_int_equal(dt_graph_forward(a.g, NULL), DT_OK);
        for (int i = 0; i < T * D; i++) assert_true(fabs(a.y->val[i] - want[i]) <= 1e-5 * fmax(scale, 1.0));
        free(want);
        dt_graph_free(a.g);
    }
}

/* Causal: the output at step t has zero gradient with respect to inputs at
 * steps after t; without the mask every step reaches every step.  Samples
 * never reach each other. */
static void test_attention_causal_reach(void **state)
{
    const int B = 2, T = 6, D = 8, H = 2;
    for (int causal = 0; causal <= 1; causal++) {
        attn_net a = attn_build(B, T, D, H, causal, 1);
        assert_int_equal(dt_graph_compile(a.g, B), DT_OK);
        dt_graph_init_params(a.g, 3);
        dt_rng r;
        dt_rng_seed(&r, 4);
        gc_fill(a.x, &r, -1.0f, 1.0f);
        assert_int_equal(dt_graph_forward(a.g, NULL), DT_OK);
        float seed[B * T * D];
        for (int t = 0; t < T; t++) {
            memset(seed, 0, sizeof seed);
            for (int e = 0; e < D; e++) seed[(0 * T + t) * D + e] = 1.0f;   /* sample 0, step t */
            assert_int_equal(dt_graph_backward_seeded(a.g, a.y, seed), DT_OK);
            for (int b = 0; b < B; b++)
                for (int u = 0; u < T; u++) {
                    double m = 0;
                    for (int e = 0; e < D; e++) m = fmax(m, fabs(a.x->grad[(b * T + u) * D + e]));
                    int reaches = b == 0 && (!causal || u <= t);
                    if (reaches != (m > 0))
                        fail_msg("causal=%d: output (0,%d) and input (%d,%d): max |grad| %g", causal, t, b, u, m);
                }
        }
        dt_graph_free(a.g);
    }
}

static void test_attention_shape_errors(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){2, 4, 6});
    dt_node *wi = dt_param(g, "a.in_proj_weight", "a", 2, (int[]){18, 6}, DT_INIT_ZERO, 6, 6);
    dt_node *bi = dt_param(g, "a.in_proj_bias", "a", 1, (int[]){18}, DT_INIT_ZERO, 6, 6);
    dt_node *wo = dt_param(g, "a.out_proj.weight", "a", 2, (int[]){6, 6}, DT_INIT_ZERO, 6, 6);
    dt_node *bo = dt_param(g, "a.out_proj.bias", "a", 1, (int[]){6}, DT_INIT_ZERO, 6, 6);
    assert_null(dt_attention(g, "a", x, wi, bi, wo, bo, 4, 0));
    assert_non_null(strstr(dt_last_error(), "4 heads do not divide the 6 features"));
    assert_non_null(strstr(dt_last_error(), "layer 'a'"));
    dt_node *wbad = dt_param(g, "a.bad", "a", 2, (int[]){12, 6}, DT_INIT_ZERO, 6, 6);
    assert_null(dt_attention(g, "a", x, wbad, bi, wo, bo, 2, 0));
    assert_non_null(strstr(dt_last_error(), "in_proj_weight must be [3*features, features]"));
    assert_non_null(strstr(dt_last_error(), "[12,6]"));
    dt_node *x2 = dt_input(g, "x2", 2, (int[]){2, 6});
    assert_null(dt_attention(g, "a", x2, wi, bi, wo, bo, 2, 0));
    assert_non_null(strstr(dt_last_error(), "3-D [batch, time, features]"));
    dt_graph_free(g);
}

/* Anomaly mode names the attention layer when its output goes non-finite. */
static void test_attention_anomaly(void **state)
{
    attn_net a = attn_build(1, 3, 4, 2, 0, 0);
    assert_int_equal(dt_graph_compile(a.g, 1), DT_OK);
    dt_graph_init_params(a.g, 1);
    a.g->anomaly_mode = 1;
    for (int i = 0; i < 12; i++) a.x->val[i] = 0.1f * (float)i;
    a.wi->val[0] = INFINITY;
    dt_status st = dt_graph_forward(a.g, NULL);
    assert_int_equal(st, DT_EDATA);
    assert_non_null(strstr(dt_last_error(), "op attention in layer 'attn'"));
    /* a NaN in the scores alone (q, not v) still reaches the output: the softmax keeps it */
    a.g->anomaly.found = 0;
    dt_graph_init_params(a.g, 1);
    a.wi->val[0] = NAN;   /* row 0 of q: head 0's queries */
    assert_int_equal(dt_graph_forward(a.g, NULL), DT_EDATA);
    dt_graph_free(a.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gelu_gradient),
        cmocka_unit_test(test_gelu_values),
        cmocka_unit_test(test_gelu_against_erf),
        cmocka_unit_test(test_pos_add_gradient),
        cmocka_unit_test(test_pos_add_shape_error),
        cmocka_unit_test(test_attention_gradient),
        cmocka_unit_test(test_attention_forward_matches_reference),
        cmocka_unit_test(test_attention_causal_reach),
        cmocka_unit_test(test_attention_shape_errors),
        cmocka_unit_test(test_attention_anomaly),
    };
    return cmocka_run_group_tests_name("ops_attention", tests, NULL, NULL);
}
