/* Finite-difference gradient tests for the dense, element-wise, loss and
 * shape ops, plus the graph's build-time shape errors and fan-out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "dnntrouble/graph.h"
#include "support/gradcheck.h"


static void test_matmul(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 3, (int[]){2, 3, 4});
    dt_node *w = dt_param(g, "f.weight", "f", 2, (int[]){5, 4}, DT_INIT_HE_NORMAL, 4, 5);
    gc_assert_graph(g, dt_matmul(g, "f", x, w), (dt_node *[]){x, w}, 2);
}

static void test_bias_add_2d_and_4d(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 2, (int[]){3, 4});
    dt_node *b = dt_param(g, "f.bias", "f", 1, (int[]){4}, DT_INIT_UNIFORM_FAN_IN, 4, 4);
    gc_assert_graph(g, dt_bias_add(g, "f", x, b), (dt_node *[]){x, b}, 2);

    g = dt_graph_new();
    x = gc_input(g, "x", 4, (int[]){2, 3, 2, 2});
    b = dt_param(g, "c.bias", "c", 1, (int[]){3}, DT_INIT_UNIFORM_FAN_IN, 4, 4);
    gc_assert_graph(g, dt_bias_add(g, "c", x, b), (dt_node *[]){x, b}, 2);
}

static void test_add_mul(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *a = gc_input(g, "a", 2, (int[]){3, 4}), *b = gc_input(g, "b", 2, (int[]){3, 4});
    gc_assert_graph(g, dt_add(g, "l", a, b), (dt_node *[]){a, b}, 2);
    g = dt_graph_new();
    a = gc_input(g, "a", 2, (int[]){3, 4});
    b = gc_input(g, "b", 2, (int[]){3, 4});
    gc_assert_graph(g, dt_mul(g, "l", a, b), (dt_node *[]){a, b}, 2);
}

static void test_activations(void **state)
{
    dt_node *(*fns[])(dt_graph *, const char *, dt_node *) = {dt_relu, dt_tanh, dt_sigmoid, dt_softmax,
                                                             dt_log_softmax};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        dt_graph *g = dt_graph_new();
        dt_node *x = gc_input(g, "x", 2, (int[]){4, 5});
        gc_assert_graph(g, fns[f](g, "act", x), (dt_node *[]){x}, 1);
    }
}

static void test_dropout_train_gradient(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 2, (int[]){4, 8});
    gc_assert_graph(g, dt_dropout(g, "drop", x, 0.5f), (dt_node *[]){x}, 1);
}

static void test_dropout_modes(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){10, 100});
    dt_node *y = dt_dropout(g, "drop", x, 0.5f);
    assert_int_equal(dt_graph_compile(g, 10), DT_OK);
    for (int i = 0; i < 1000; i++) x->val[i] = 1.0f;
    dt_graph_set_train(g, 1);
    dt_graph_forward(g, NULL);
    int zeros = 0;
    double sum = 0;
    for (int i = 0; i < 1000; i++) { zeros += y->val[i] == 0.0f; sum += y->val[i]; }
    assert_true(zeros > 400 && zeros < 600);  /* rate 0.5 */
    assert_true(fabs(sum / 1000 - 1.0) < 0.1); /* inverted scaling keeps the mean */
    dt_graph_set_train(g, 0);
    dt_graph_forward(g, NULL);
    for (int i = 0; i < 1000; i++) assert_true(y->val[i] == 1.0f);
    dt_graph_free(g);
}

static void test_cross_entropy(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *z = gc_input(g, "logits", 2, (int[]){4, 5});
    dt_node *y = dt_input(g, "labels", 1, (int[]){4});
    dt_node *loss = dt_cross_entropy(g, "loss", z, y);
    assert_int_equal(dt_graph_compile(g, 4), DT_OK);
    dt_rng r;
    dt_rng_seed(&r, 1);
    gc_fill(z, &r, -2, 2);
    for (int i = 0; i < 4; i++) y->val[i] = (float)(i % 5);
    gc_result res = gc_check(g, loss, (dt_node *[]){z}, 1, GC_EPS, GC_RTOL, GC_ATOL, 0);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.checked, 20);
    /* Uniform logits give -log(1/C). */
    memset(z->val, 0, 20 * sizeof(float));
    dt_graph_forward(g, NULL);
    assert_float_equal(loss->val[0], logf(5.0f), 1e-5);
    /* Huge logits stay finite (stable log-sum-exp). */
    z->val[0] = 1e30f;
    dt_graph_forward(g, NULL);
    assert_true(isfinite(loss->val[0]));
    /* A label out of range gives NaN rather than a wild read. */
    y->val[0] = 7.0f;
    dt_graph_forward(g, NULL);
    assert_true(isnan(loss->val[0]));
    dt_graph_free(g);
}

static void test_mse(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *p = gc_input(g, "pred", 2, (int[]){4, 3});
    dt_node *t = gc_input(g, "target", 2, (int[]){4, 3});
    dt_node *loss = dt_mse(g, "loss", p, t);
    assert_int_equal(dt_graph_compile(g, 4), DT_OK);
    dt_rng r;
    dt_rng_seed(&r, 2);
    gc_fill(p, &r, -1, 1);
    gc_fill(t, &r, -1, 1);
    gc_result res = gc_check(g, loss, (dt_node *[]){p, t}, 2, GC_EPS, GC_RTOL, GC_ATOL, 0);
    assert_int_equal(res.failed, 0);
    dt_graph_free(g);
}

static void test_shape_ops(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 4, (int[]){2, 3, 2, 2});
    gc_assert_graph(g, dt_flatten(g, "flat", x), (dt_node *[]){x}, 1);

    g = dt_graph_new();
    dt_node *a = gc_input(g, "a", 2, (int[]){3, 2}), *b = gc_input(g, "b", 2, (int[]){3, 4});
    gc_assert_graph(g, dt_concat(g, "cat", a, b, 1), (dt_node *[]){a, b}, 2);

    g = dt_graph_new();
    x = gc_input(g, "x", 3, (int[]){2, 4, 3});
    gc_assert_graph(g, dt_seq_last(g, "last", x), (dt_node *[]){x}, 1);

    g = dt_graph_new();
    x = gc_input(g, "x", 2, (int[]){3, 4});
    dt_node *m = dt_mean(g, "mean", x);
    assert_int_equal(dt_graph_compile(g, 3), DT_OK);
    dt_rng r;
    dt_rng_seed(&r, 5);
    gc_fill(x, &r, -1, 1);
    gc_result res = gc_check(g, m, (dt_node *[]){x}, 1, GC_EPS, GC_RTOL, GC_ATOL, 0);
    assert_int_equal(res.failed, 0);
    dt_graph_free(g);
}

/* x feeds two branches: its gradient must be the sum of both (accumulation). */
static void test_fan_out_accumulates(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 2, (int[]){3, 4});
    dt_node *y = dt_add(g, "l", dt_tanh(g, "a", x), dt_mul(g, "b", x, x));
    gc_assert_graph(g, y, (dt_node *[]){x}, 1);

    g = dt_graph_new();
    x = gc_input(g, "x", 2, (int[]){2, 2});
    dt_node *s = dt_sum(g, "s", dt_add(g, "l", x, x));
    assert_int_equal(dt_graph_compile(g, 2), DT_OK);
    dt_graph_forward(g, NULL);
    dt_graph_backward(g, s);
    for (int i = 0; i < 4; i++) assert_float_equal(x->grad[i], 2.0f, 0);
    dt_graph_free(g);
}

static void test_shape_error_names_op_layer_and_shapes(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){8, 10});
    dt_node *w = dt_param(g, "f1.weight", "f1", 2, (int[]){4, 12}, DT_INIT_HE_NORMAL, 12, 4);
    dt_node *y = dt_matmul(g, "f1", x, w);
    assert_null(y);
    assert_null(dt_relu(g, "after", y)); /* failure propagates */
    assert_int_equal(dt_graph_compile(g, 8), DT_ESHAPE);
    const char *msg = dt_last_error();
    assert_non_null(strstr(msg, "matmul"));
    assert_non_null(strstr(msg, "'f1'"));
    assert_non_null(strstr(msg, "[8,10]"));
    assert_non_null(strstr(msg, "[4,12]"));
    dt_graph_free(g);

    g = dt_graph_new();
    dt_node *a = dt_input(g, "a", 2, (int[]){3, 4}), *b = dt_input(g, "b", 2, (int[]){4, 3});
    assert_null(dt_add(g, "sum", a, b)); /* no implicit broadcasting */
    dt_graph_free(g);
}

static void test_set_batch_reinfers_without_allocating(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){8, 3});
    dt_node *w = dt_param(g, "f.weight", "f", 2, (int[]){2, 3}, DT_INIT_HE_NORMAL, 3, 2);
    dt_node *y = dt_matmul(g, "f", x, w);
    assert_int_equal(dt_graph_compile(g, 8), DT_OK);
    float *before = y->val;
    assert_int_equal(dt_graph_set_batch(g, 5), DT_OK);
    assert_int_equal(y->shape[0], 5);
    assert_ptr_equal(y->val, before);
    assert_int_not_equal(dt_graph_set_batch(g, 9), DT_OK);
    dt_graph_free(g);
}

static void test_anomaly_names_layer(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 2, (int[]){2, 2});
    dt_node *w = dt_param(g, "f.weight", "f", 2, (int[]){2, 2}, DT_INIT_HE_NORMAL, 2, 2);
    dt_node *h = dt_tanh(g, "act", dt_matmul(g, "f", x, w));
    dt_node *loss = dt_mean(g, "loss", h);
    assert_int_equal(dt_graph_compile(g, 2), DT_OK);
    dt_graph_init_params(g, 1);
    g->anomaly_mode = 1;
    x->val[0] = NAN;
    assert_int_not_equal(dt_graph_forward(g, loss), DT_OK);
    assert_true(g->anomaly.found);
    assert_string_equal(g->anomaly.layer, "f");
    assert_string_equal(g->anomaly.op, "matmul");
    assert_non_null(strstr(dt_last_error(), "layer 'f'"));
    dt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_bias_add_2d_and_4d),
        cmocka_unit_test(test_add_mul),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_dropout_train_gradient),
        cmocka_unit_test(test_dropout_modes),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_shape_ops),
        cmocka_unit_test(test_fan_out_accumulates),
        cmocka_unit_test(test_shape_error_names_op_layer_and_shapes),
        cmocka_unit_test(test_set_batch_reinfers_without_allocating),
        cmocka_unit_test(test_anomaly_names_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
