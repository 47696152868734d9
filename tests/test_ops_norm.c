/* Batch-norm, layer-norm and embedding: finite-difference gradients, the
 * train/eval statistics against torch's formulas (hand-computed), and bad
 * ids giving NaN rows instead of out-of-bounds reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dnntrouble/graph.h"
#include "dnntrouble/ops_norm.h"
#include "support/gradcheck.h"

#define EPS 1e-2
#define RTOL 2e-3
#define ATOL 1e-3

/* Input x [dims] with gradients requested. */
static dt_node *x_input(dt_graph *g, const char *name, int ndim, const int *shape)
{
    dt_node *x = dt_input(g, name, ndim, shape);
    x->requires_grad = 1;
    return x;
}

static dt_node *prepare(dt_graph *g, dt_node *y)
{
    dt_rng r;
    return gc_prepare(g, y, &r);
}

/* Checks gradients w.r.t. each of wrt, then frees the graph. */
static void check_prepared(dt_graph *g, dt_node *loss, dt_node *const *wrt, int n_wrt)
{
    gc_result res = gc_check(g, loss, wrt, n_wrt, EPS, RTOL, ATOL, 0);
    if (res.failed) print_error("worst: %s\n", res.worst);
    assert_int_equal(res.failed, 0);
    assert_true(res.checked > 0);
    assert_true(res.skipped * 10 <= res.checked);
    dt_graph_free(g);
}

static void check_graph(dt_graph *g, dt_node *y, dt_node *const *wrt, int n_wrt)
{
    check_prepared(g, prepare(g, y), wrt, n_wrt);
}

/* gamma, beta [c] with non-trivial values (the defaults 1 and 0 would hide
 * a missing gamma factor or beta term). */
static void affine_params(dt_graph *g, const char *layer, int c, dt_node **gamma, dt_node **beta)
{
    char name[DT_NAME_LEN];
    snprintf(name, sizeof name, "%s.weight", layer);
    *gamma = dt_param(g, name, layer, 1, (int[]){c}, DT_INIT_UNIFORM_FAN_IN, 1, c);
    snprintf(name, sizeof name, "%s.bias", layer);
    *beta = dt_param(g, name, layer, 1, (int[]){c}, DT_INIT_UNIFORM_FAN_IN, 1, c);
}

/* ---- batchnorm gradients ---- */

static void test_batchnorm_train_gradient_2d(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 2, (int[]){5, 3}), *gamma, *beta;
    affine_params(g, "bn", 3, &gamma, &beta);
    check_graph(g, dt_batchnorm(g, "bn", x, gamma, beta, 0.1f, 1e-5f), (dt_node *[]){x, gamma, beta}, 3);
}

static void test_batchnorm_train_gradient_4d(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 4, (int[]){2, 3, 2, 3}), *gamma, *beta;
    affine_params(g, "bn", 3, &gamma, &beta);
    check_graph(g, dt_batchnorm(g, "bn", x, gamma, beta, 0.1f, 1e-5f), (dt_node *[]){x, gamma, beta}, 3);
}

static void test_batchnorm_eval_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 4, (int[]){2, 3, 2, 2}), *gamma, *beta;
    affine_params(g, "bn", 3, &gamma, &beta);
    dt_node *y = dt_batchnorm(g, "bn", x, gamma, beta, 0.1f, 1e-5f);
    dt_node *loss = prepare(g, y);
    float *rm = dt_batchnorm_running_mean(y), *rv = dt_batchnorm_running_var(y);
    for (int c = 0; c < 3; c++) {
        rm[c] = 0.2f * (float)c - 0.1f;
        rv[c] = 0.5f + 0.3f * (float)c;
    }
    dt_graph_set_train(g, 0);
    check_prepared(g, loss, (dt_node *[]){x, gamma, beta}, 3);
}

/* ---- batchnorm forward and statistics ---- */

/* x [4,2,1,3]: 12 values a channel. */
static const float bn_x[24] = {
    0.5f, -1.0f, 2.0f,  3.0f, 1.0f, -2.0f,  1.5f, 0.0f, -0.5f,  4.0f, 2.5f, 1.0f,
    -1.5f, 0.25f, 1.0f, 0.0f, 2.0f, 5.0f,   0.75f, -0.25f, 1.25f, -3.0f, 2.0f, 0.5f,
};

static dt_node *bn_fixture(dt_graph *g, float momentum, dt_node **x_out)
{
    dt_node *x = dt_input(g, "x", 4, (int[]){4, 2, 1, 3}), *gamma, *beta;
    affine_params(g, "bn", 2, &gamma, &beta);
    dt_node *y = dt_batchnorm(g, "bn", x, gamma, beta, momentum, 1e-5f);
    assert_int_equal(dt_graph_compile(g, 4), DT_OK);
    memcpy(x->val, bn_x, sizeof bn_x);
    gamma->val[0] = 1.0f;
    gamma->val[1] = 1.0f;
    beta->val[0] = 0.0f;
    beta->val[1] = 0.0f;
    *x_out = x;
    return y;
}

/* Batch mean and biased variance of channel c of bn_x, by hand. */
static void bn_x_moments(int c, double *mean, double *var)
{
    double s = 0.0, q = 0.0;
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 3; i++) s += bn_x[(b * 2 + c) * 3 + i];
    *mean = s / 12.0;
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 3; i++) q += pow(bn_x[(b * 2 + c) * 3 + i] - *mean, 2);
    *var = q / 12.0;
}

static void test_batchnorm_train_normalises(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x, *y = bn_fixture(g, 0.1f, &x);
    dt_graph_set_train(g, 1);
    assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
    for (int c = 0; c < 2; c++) {
        double s = 0.0, q = 0.0;
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < 3; i++) s += y->val[(b * 2 + c) * 3 + i];
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < 3; i++) q += pow(y->val[(b * 2 + c) * 3 + i] - s / 12, 2);
        assert_float_equal(s / 12, 0.0, 1e-6);
        assert_float_equal(q / 12, 1.0, 1e-4); /* var / (var + eps) */
    }
    /* The affine transform: y = gamma * x̂ + beta. */
    dt_node *gamma = g->params[0], *beta = g->params[1];
    float plain[24];
    memcpy(plain, y->val, sizeof plain);
    gamma->val[1] = 2.0f;
    beta->val[1] = -3.0f;
    dt_graph_forward(g, NULL);
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 3; i++) {
            int k0 = (b * 2) * 3 + i, k1 = (b * 2 + 1) * 3 + i;
            assert_float_equal(y->val[k0], plain[k0], 1e-6);
            assert_float_equal(y->val[k1], 2.0f * plain[k1] - 3.0f, 1e-5);
        }
    dt_graph_free(g);
}

static void test_batchnorm_running_stats_follow_torch(void **state)
{
    const float m = 0.1f;
    dt_graph *g = dt_graph_new();
    dt_node *x, *y = bn_fixture(g, m, &x);
    /* Fresh statistics are torch's: mean 0, var 1, before any forward. */
    assert_int_equal(y->state_len, 5);
    for (int c = 0; c < 2; c++) {
        assert_float_equal(dt_batchnorm_running_mean(y)[c], 0.0f, 0);
        assert_float_equal(dt_batchnorm_running_var(y)[c], 1.0f, 0);
    }
    dt_graph_set_train(g, 1);
    dt_graph_forward(g, NULL);
    double mean[2], var[2];
    for (int c = 0; c < 2; c++) {
        bn_x_moments(c, &mean[c], &var[c]);
        /* running = (1 - m) running + m batch; the variance unbiased (n / (n - 1)). */
        assert_float_equal(y->state[c], (1 - m) * 0.0 + m * mean[c], 1e-6);
        assert_float_equal(y->state[2 + c], (1 - m) * 1.0 + m * var[c] * 12.0 / 11.0, 1e-6);
    }
    /* A second step compounds from the first. */
    dt_graph_forward(g, NULL);
    for (int c = 0; c < 2; c++) {
        double rm1 = m * mean[c], rv1 = (1 - m) + m * var[c] * 12.0 / 11.0;
        assert_float_equal(y->state[c], (1 - m) * rm1 + m * mean[c], 1e-6);
        assert_float_equal(y->state[2 + c], (1 - m) * rv1 + m * var[c] * 12.0 / 11.0, 1e-6);
    }
    /* Eval leaves the statistics alone; reset restores torch's defaults. */
    float saved[5];
    memcpy(saved, y->state, sizeof saved);
    dt_graph_set_train(g, 0);
    dt_graph_forward(g, NULL);
    assert_memory_equal(saved, y->state, sizeof saved);
    dt_batchnorm_reset_state(y);
    assert_float_equal(y->state[1], 0.0f, 0);
    assert_float_equal(y->state[3], 1.0f, 0);
    dt_graph_free(g);
}

static void test_batchnorm_eval_uses_running_stats(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x, *y = bn_fixture(g, 0.1f, &x);
    float train_out[24];
    dt_graph_set_train(g, 1);
    dt_graph_forward(g, NULL);
    memcpy(train_out, y->val, sizeof train_out);
    float rm[2] = {y->state[0], y->state[1]}, rv[2] = {y->state[2], y->state[3]};

    dt_graph_set_train(g, 0);
    dt_graph_forward(g, NULL);
    int differ = 0;
    for (int b = 0; b < 4; b++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 3; i++) {
                int k = (b * 2 + c) * 3 + i;
                float want = (bn_x[k] - rm[c]) / sqrtf(rv[c] + 1e-5f);
                assert_float_equal(y->val[k], want, 1e-5);
                differ += fabsf(y->val[k] - train_out[k]) > 1e-3f;
            }
    assert_true(differ > 20); /* one step of momentum 0.1 is far from the batch statistics */

    /* Statistics written through the accessors before the first forward survive it. */
    dt_graph *g2 = dt_graph_new();
    dt_node *x2, *y2 = bn_fixture(g2, 0.1f, &x2);
    dt_batchnorm_running_mean(y2)[0] = 2.0f;
    dt_batchnorm_running_var(y2)[0] = 4.0f;
    dt_graph_set_train(g2, 0);
    dt_graph_forward(g2, NULL);
    assert_float_equal(y2->val[0], (bn_x[0] - 2.0f) / sqrtf(4.0f + 1e-5f), 1e-6);
    dt_graph_free(g2);
    dt_graph_free(g);
}

/* The backward follows the mode the forward ran in: eval is the affine map only. */
static void test_batchnorm_eval_backward_is_affine(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 2, (int[]){3, 2}), *gamma, *beta;
    affine_params(g, "bn", 2, &gamma, &beta);
    dt_node *y = dt_batchnorm(g, "bn", x, gamma, beta, 0.1f, 1e-5f);
    dt_node *s = dt_sum(g, "s", y);
    assert_int_equal(dt_graph_compile(g, 3), DT_OK);
    dt_rng r;
    dt_rng_seed(&r, 9);
    gc_fill(x, &r, -1, 1);
    gamma->val[0] = 2.0f;
    gamma->val[1] = -0.5f;
    dt_batchnorm_running_var(y)[0] = 3.0f;
    dt_graph_set_train(g, 0);
    dt_graph_forward(g, NULL);
    dt_graph_backward(g, s);
    for (int b = 0; b < 3; b++) {
        assert_float_equal(x->grad[b * 2], 2.0f / sqrtf(3.0f + 1e-5f), 1e-6);
        assert_float_equal(x->grad[b * 2 + 1], -0.5f / sqrtf(1.0f + 1e-5f), 1e-6);
    }
    assert_float_equal(beta->grad[0], 3.0f, 0);
    /* In train mode a plain sum has zero gradient w.r.t. x (the mean absorbs it). */
    dt_graph_set_train(g, 1);
    dt_graph_forward(g, NULL);
    dt_graph_backward(g, s);
    for (int i = 0; i < 6; i++) assert_float_equal(x->grad[i], 0.0f, 1e-6);
    dt_graph_free(g);
}

static void test_batchnorm_shape_errors(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 4, (int[]){2, 3, 4, 4}), *gamma, *beta;
    affine_params(g, "bn", 4, &gamma, &beta);
    assert_null(dt_batchnorm(g, "bn", x, gamma, beta, 0.1f, 1e-5f));
    assert_int_equal(dt_graph_compile(g, 2), DT_ESHAPE);
    assert_non_null(strstr(dt_last_error(), "batchnorm"));
    assert_non_null(strstr(dt_last_error(), "'bn'"));
    assert_non_null(strstr(dt_last_error(), "[2,3,4,4]"));
    dt_graph_free(g);

    g = dt_graph_new();
    x = dt_input(g, "x", 2, (int[]){2, 3});
    affine_params(g, "bn", 3, &gamma, &beta);
    assert_null(dt_batchnorm(g, "bn", x, gamma, beta, 1.5f, 1e-5f));
    assert_non_null(strstr(dt_last_error(), "momentum"));
    dt_graph_free(g);
}

/* ---- layernorm ---- */

static void test_layernorm_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 3, (int[]){2, 3, 5}), *gamma, *beta;
    affine_params(g, "ln", 5, &gamma, &beta);
    check_graph(g, dt_layernorm(g, "ln", x, gamma, beta, 1e-5f), (dt_node *[]){x, gamma, beta}, 3);
}

static void test_layernorm_forward(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){2, 4}), *gamma, *beta;
    affine_params(g, "ln", 4, &gamma, &beta);
    dt_node *y = dt_layernorm(g, "ln", x, gamma, beta, 1e-5f);
    assert_int_equal(dt_graph_compile(g, 2), DT_OK);
    const float xv[8] = {1, 2, 3, 4, -10, 0, 10, 20};
    memcpy(x->val, xv, sizeof xv);
    for (int j = 0; j < 4; j++) {
        gamma->val[j] = 1.0f + (float)j;
        beta->val[j] = 0.5f * (float)j;
    }
    dt_graph_forward(g, NULL);
    for (int r = 0; r < 2; r++) {
        double m = 0, v = 0;
        for (int j = 0; j < 4; j++) m += xv[r * 4 + j] / 4.0;
        for (int j = 0; j < 4; j++) v += pow(xv[r * 4 + j] - m, 2) / 4.0; /* biased, as torch */
        for (int j = 0; j < 4; j++)
            assert_float_equal(y->val[r * 4 + j],
                               (xv[r * 4 + j] - m) / sqrt(v + 1e-5) * gamma->val[j] + beta->val[j], 1e-5);
    }
    dt_graph_free(g);

    g = dt_graph_new();
    x = dt_input(g, "x", 2, (int[]){2, 4});
    affine_params(g, "ln", 3, &gamma, &beta);
    assert_null(dt_layernorm(g, "ln", x, gamma, beta, 1e-5f));
    assert_non_null(strstr(dt_last_error(), "layernorm"));
    dt_graph_free(g);
}

/* ---- embedding ---- */

static void test_embedding_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *ids = dt_input(g, "ids", 2, (int[]){2, 3});
    dt_node *table = dt_param(g, "emb.weight", "emb", 2, (int[]){5, 4}, DT_INIT_HE_NORMAL, 2, 4);
    dt_node *y = dt_embedding(g, "emb", ids, table);
    assert_int_equal(y->ndim, 3);
    assert_int_equal(y->shape[2], 4);
    dt_node *loss = prepare(g, y);
    const float idv[6] = {1, 3, 1, 0, 4, 1}; /* row 1 three times: gradients accumulate; row 2 unused */
    memcpy(ids->val, idv, sizeof idv);
    check_prepared(g, loss, (dt_node *[]){table}, 1);
}

static void test_embedding_forward_and_bad_ids(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *ids = dt_input(g, "ids", 1, (int[]){4});
    dt_node *table = dt_param(g, "emb.weight", "emb", 2, (int[]){3, 2}, DT_INIT_ZERO, 3, 2);
    dt_node *y = dt_embedding(g, "emb", ids, table);
    dt_node *s = dt_sum(g, "s", y);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(dt_graph_compile(g, 4), DT_OK);
    for (int i = 0; i < 6; i++) table->val[i] = (float)(10 * (i / 2) + i % 2);
    const float idv[4] = {2, 0, 2, 1};
    memcpy(ids->val, idv, sizeof idv);
    dt_graph_forward(g, NULL);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) assert_float_equal(y->val[i * 2 + j], 10 * idv[i] + j, 0);
    dt_graph_backward(g, s);
    const float want[6] = {1, 1, 1, 1, 2, 2}; /* how often each row was looked up */
    for (int i = 0; i < 6; i++) assert_float_equal(table->grad[i], want[i], 0);

    /* Out of range (both sides), a fraction, NaN: NaN rows, no read outside the table (ASan). */
    const float bad[4][4] = {{0, 3, 1, 2}, {-1, 0, 1, 2}, {0, 1, 1.5f, 2}, {0, 1, 2, NAN}};
    const int bad_row[4] = {1, 0, 2, 3};
    for (int t = 0; t < 4; t++) {
        memcpy(ids->val, bad[t], sizeof bad[t]);
        dt_graph_forward(g, NULL);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++)
                assert_true(i == bad_row[t] ? isnan(y->val[i * 2 + j]) : isfinite(y->val[i * 2 + j]));
        assert_true(isnan(s->val[0]));
    }
    ids->val[0] = 1e30f;
    dt_graph_forward(g, NULL);
    assert_true(isnan(y->val[0]));
    dt_graph_free(g);

    g = dt_graph_new();
    ids = dt_input(g, "ids", 1, (int[]){4});
    table = dt_param(g, "emb.weight", "emb", 1, (int[]){3}, DT_INIT_ZERO, 3, 2);
    assert_null(dt_embedding(g, "emb", ids, table));
    assert_non_null(strstr(dt_last_error(), "embedding"));
    dt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm_train_gradient_2d),
        cmocka_unit_test(test_batchnorm_train_gradient_4d),
        cmocka_unit_test(test_batchnorm_eval_gradient),
        cmocka_unit_test(test_batchnorm_train_normalises),
        cmocka_unit_test(test_batchnorm_running_stats_follow_torch),
        cmocka_unit_test(test_batchnorm_eval_uses_running_stats),
        cmocka_unit_test(test_batchnorm_eval_backward_is_affine),
        cmocka_unit_test(test_batchnorm_shape_errors),
        cmocka_unit_test(test_layernorm_gradient),
        cmocka_unit_test(test_layernorm_forward),
        cmocka_unit_test(test_embedding_gradient),
        cmocka_unit_test(test_embedding_forward_and_bad_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
