/* The whole-sequence LSTM op: finite-difference gradients w.r.t. every
 * input (all steps, and through the recurrence only via a last-step loss),
 * forward against hand and naive double-precision references, shape errors,
 * batch changes after compile, and the forget-gate bias initialiser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "dnntrouble/graph.h"
#include "support/gradcheck.h"


/* An LSTM layer "rnn" with torch's parameter names and default
 * initialisation (everything U(+-1/sqrt(H))), so every bias gate is random. */
typedef struct lstm_layer { dt_node *w_ih, *w_hh, *b_ih, *b_hh; } lstm_layer;

static lstm_layer lstm_params(dt_graph *g, int D, int H)
{
    lstm_layer l;
    l.w_ih = dt_param(g, "rnn.weight_ih_l0", "rnn", 2, (int[]){4 * H, D}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    l.w_hh = dt_param(g, "rnn.weight_hh_l0", "rnn", 2, (int[]){4 * H, H}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    l.b_ih = dt_param(g, "rnn.bias_ih_l0", "rnn", 1, (int[]){4 * H}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    l.b_hh = dt_param(g, "rnn.bias_hh_l0", "rnn", 1, (int[]){4 * H}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    return l;
}

static dt_node *lstm_apply(dt_graph *g, dt_node *x, lstm_layer l)
{
    return dt_lstm(g, "rnn", x, l.w_ih, l.w_hh, l.b_ih, l.b_hh);
}

/* Gradient of sum(y ⊙ R) over the whole sequence w.r.t. x and all four parameters. */
static void check_full_sequence(int B, int T, int D, int H)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 3, (int[]){B, T, D});
    lstm_layer l = lstm_params(g, D, H);
    gc_assert_graph(g, lstm_apply(g, x, l), (dt_node *[]){x, l.w_ih, l.w_hh, l.b_ih, l.b_hh}, 5);
}

static void test_grad_full_sequence(void **state) { check_full_sequence(2, 4, 3, 5); }
static void test_grad_single_step(void **state) { check_full_sequence(2, 1, 3, 5); }
static void test_grad_batch_one(void **state) { check_full_sequence(1, 3, 2, 4); }

/* Loss only on h_{T-1}: every gradient of the earlier steps flows through the
 * recurrence (dh via W_hh, dc via f), so this isolates BPTT. */
static void test_grad_last_step_only(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = gc_input(g, "x", 3, (int[]){2, 5, 3});
    lstm_layer l = lstm_params(g, 3, 4);
    dt_node *last = dt_seq_last(g, "last", lstm_apply(g, x, l));
    gc_assert_graph(g, last, (dt_node *[]){x, l.w_ih, l.w_hh, l.b_ih, l.b_hh}, 5);
}

/* x without requires_grad: its grad is NULL and must be skipped, the
 * parameter gradients unchanged. */
static void test_grad_without_input_grad(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){2, 3, 3});
    lstm_layer l = lstm_params(g, 3, 4);
    dt_node *y = lstm_apply(g, x, l);
    gc_assert_graph(g, y, (dt_node *[]){l.w_ih, l.w_hh, l.b_ih, l.b_hh}, 4);
}

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* One step, B=1, D=2, H=1, worked by hand: gates i,f,g,o are rows 0..3. */
static void test_forward_single_step_by_hand(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){1, 1, 2});
    lstm_layer l = lstm_params(g, 2, 1);
    dt_node *y = lstm_apply(g, x, l);
    assert_int_equal(dt_graph_compile(g, 1), DT_OK);
    const float w_ih[8] = {0.5f, -0.25f, 0.1f, 0.2f, -0.3f, 0.4f, 0.7f, 0.05f};
    const float b_ih[4] = {0.1f, 0.2f, 0.3f, 0.4f}, b_hh[4] = {-0.05f, 0.05f, 0.0f, 0.1f};
    memcpy(l.w_ih->val, w_ih, sizeof w_ih);
    memcpy(l.b_ih->val, b_ih, sizeof b_ih);
    memcpy(l.b_hh->val, b_hh, sizeof b_hh);
    l.w_hh->val[0] = l.w_hh->val[1] = l.w_hh->val[2] = l.w_hh->val[3] = 9.0f; /* h_{-1} = 0: unused */
    x->val[0] = 1.0f;
    x->val[1] = 2.0f;
    dt_graph_forward(g, NULL);
    /* Pre-activations w·x + b_ih + b_hh: i 0.5-0.5+0.05 = 0.05, f 0.1+0.4+0.25 = 0.75,
     * g -0.3+0.8+0.3 = 0.8, o 0.7+0.1+0.5 = 1.3; c = i·g (c_{-1} = 0); h = o·tanh(c). */
    double c = sig(0.05) * tanh(0.8), h = sig(1.3) * tanh(c);
    assert_float_equal(y->val[0], h, 1e-6);
    dt_graph_free(g);
}

/* Forward against a naive double-precision loop over b, t, gates: checks the
 * recurrence, the strided layout and the i,f,g,o order at several sizes. */
static void test_forward_matches_naive_reference(void **state)
{
    enum { B = 3, T = 4, D = 3, H = 5 };
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){B, T, D});
    lstm_layer l = lstm_params(g, D, H);
    dt_node *y = lstm_apply(g, x, l);
    assert_int_equal(dt_graph_compile(g, B), DT_OK);
    dt_graph_init_params(g, 11);
    dt_rng r;
    dt_rng_seed(&r, 4);
    gc_fill(x, &r, -2.0f, 2.0f);
    gc_fill(l.w_hh, &r, -1.0f, 1.0f); /* large enough that the recurrence matters */
    dt_graph_forward(g, NULL);
    for (int b = 0; b < B; b++) {
        double h[H] = {0}, c[H] = {0};
        for (int t = 0; t < T; t++) {
            double z[4 * H], hn[H];
            for (int k = 0; k < 4 * H; k++) {
                z[k] = (double)l.b_ih->val[k] + l.b_hh->val[k];
                for (int j = 0; j < D; j++) z[k] += (double)l.w_ih->val[k * D + j] * x->val[(b * T + t) * D + j];
                for (int j = 0; j < H; j++) z[k] += (double)l.w_hh->val[k * H + j] * h[j];
            }
            for (int j = 0; j < H; j++) {
                c[j] = sig(z[H + j]) * c[j] + sig(z[j]) * tanh(z[2 * H + j]);
                hn[j] = sig(z[3 * H + j]) * tanh(c[j]);
            }
            for (int j = 0; j < H; j++) {
                h[j] = hn[j];
                assert_float_equal(y->val[(b * T + t) * H + j], h[j], 2e-6);
            }
        }
    }
    dt_graph_free(g);
}

/* The fast tanh/sigmoid clamp their argument: a NaN input must still come
 * out as NaN (anomaly detection), and huge finite inputs must saturate. */
static void test_nan_propagates_and_large_saturates(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){2, 1, 1});
    lstm_layer l = lstm_params(g, 1, 1);
    dt_node *y = lstm_apply(g, x, l);
    assert_int_equal(dt_graph_compile(g, 2), DT_OK);
    for (int k = 0; k < 4; k++) {
        l.w_ih->val[k] = 1.0f;
        l.b_ih->val[k] = l.b_hh->val[k] = 0.0f;
    }
    x->val[0] = NAN;
    x->val[1] = 1e30f; /* every gate saturates: i = f = o = 1, g = 1, c = 1 */
    dt_graph_forward(g, NULL);
    assert_true(isnan(y->val[0]));
    assert_float_equal(y->val[1], tanh(1.0), 1e-6);
    dt_graph_free(g);
}

/* The buffers' layout depends on B: after set_batch to a smaller batch the
 * forward and gradients must equal those of a graph built at that batch. */
static void test_smaller_batch_after_compile(void **state)
{
    enum { T = 3, D = 2, H = 3 };
    float y_ref[2 * T * H], dw_ref[4 * H * H];
    for (int pass = 0; pass < 2; pass++) {
        dt_graph *g = dt_graph_new();
        dt_node *x = dt_input(g, "x", 3, (int[]){2, T, D});
        lstm_layer l = lstm_params(g, D, H);
        dt_node *y = lstm_apply(g, x, l);
        dt_node *loss = dt_sum(g, "loss", dt_tanh(g, "sq", y));
        assert_int_equal(dt_graph_compile(g, pass ? 5 : 2), DT_OK);
        if (pass) assert_int_equal(dt_graph_set_batch(g, 2), DT_OK);
        dt_graph_init_params(g, 5);
        for (int i = 0; i < 2 * T * D; i++) x->val[i] = 0.1f * (float)(i % 7) - 0.3f;
        dt_graph_forward(g, NULL);
        dt_graph_backward(g, loss);
        for (int i = 0; i < 2 * T * H; i++) {
            if (pass) assert_float_equal(y->val[i], y_ref[i], 0);
            y_ref[i] = y->val[i];
        }
        for (int i = 0; i < 4 * H * H; i++) {
            if (pass) assert_float_equal(l.w_hh->grad[i], dw_ref[i], 1e-6);
            dw_ref[i] = l.w_hh->grad[i];
        }
        dt_graph_free(g);
    }
}

/* Builds an LSTM from x [xs] and parameters of the given shapes, expects a
 * shape error whose message names the op, the layer and `shape_a`, `shape_b`. */
static void expect_shape_error(int xnd, const int *xs, const int *wih, const int *whh, int bih, int bhh,
                               const char *shape_a, const char *shape_b)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", xnd, xs);
    dt_node *w_ih = dt_param(g, "enc.weight_ih_l0", "enc", 2, wih, DT_INIT_UNIFORM_FAN_IN, 4, 4);
    dt_node *w_hh = dt_param(g, "enc.weight_hh_l0", "enc", 2, whh, DT_INIT_UNIFORM_FAN_IN, 4, 4);
    dt_node *b_ih = dt_param(g, "enc.bias_ih_l0", "enc", 1, &bih, DT_INIT_LSTM_BIAS, 4, 4);
    dt_node *b_hh = dt_param(g, "enc.bias_hh_l0", "enc", 1, &bhh, DT_INIT_LSTM_BIAS, 4, 4);
    assert_null(dt_lstm(g, "enc", x, w_ih, w_hh, b_ih, b_hh));
    assert_int_equal(dt_graph_compile(g, xs[0]), DT_ESHAPE);
    const char *msg = dt_last_error();
    assert_non_null(strstr(msg, "lstm"));
    assert_non_null(strstr(msg, "'enc'"));
    assert_non_null(strstr(msg, shape_a));
    if (shape_b) assert_non_null(strstr(msg, shape_b));
    dt_graph_free(g);
}

static void test_shape_errors(void **state)
{
    /* x not 3-D */
    expect_shape_error(2, (int[]){8, 6}, (int[]){16, 6}, (int[]){16, 4}, 16, 16, "[8,6]", NULL);
    /* w_ih's in-features differ from x's last dim */
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){16, 7}, (int[]){16, 4}, 16, 16, "[8,5,6]", "[16,7]");
    /* w_ih rows not a multiple of 4 */
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){15, 6}, (int[]){16, 4}, 16, 16, "[8,5,6]", "[15,6]");
    /* w_hh not [4H,H] */
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){16, 6}, (int[]){16, 5}, 16, 16, "[16,6]", "[16,5]");
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){16, 6}, (int[]){12, 4}, 16, 16, "[16,6]", "[12,4]");
    /* biases not [4H] */
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){16, 6}, (int[]){16, 4}, 4, 16, "[16,6]", "[4]");
    expect_shape_error(3, (int[]){8, 5, 6}, (int[]){16, 6}, (int[]){16, 4}, 16, 20, "[16,6]", "[20]");
}

/* Output shape [B,T,H] and the forget-gate bias initialiser: torch order
 * i,f,g,o puts f in the second quarter. */
static void test_shape_and_forget_bias_init(void **state)
{
    enum { H = 6 };
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 3, (int[]){2, 7, 3});
    dt_node *w_ih = dt_param(g, "l.weight_ih_l0", "l", 2, (int[]){4 * H, 3}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    dt_node *w_hh = dt_param(g, "l.weight_hh_l0", "l", 2, (int[]){4 * H, H}, DT_INIT_UNIFORM_FAN_IN, H, 4 * H);
    dt_node *b_ih = dt_param(g, "l.bias_ih_l0", "l", 1, (int[]){4 * H}, DT_INIT_LSTM_BIAS, H, 4 * H);
    dt_node *b_hh = dt_param(g, "l.bias_hh_l0", "l", 1, (int[]){4 * H}, DT_INIT_ZERO, H, 4 * H);
    dt_node *y = dt_lstm(g, "l", x, w_ih, w_hh, b_ih, b_hh);
    assert_non_null(y);
    assert_int_equal(y->ndim, 3);
    assert_int_equal(y->shape[0], 2);
    assert_int_equal(y->shape[1], 7);
    assert_int_equal(y->shape[2], H);
    assert_int_equal(dt_graph_compile(g, 2), DT_OK);
    dt_graph_init_params(g, 1);
    for (int k = 0; k < 4 * H; k++) assert_float_equal(b_ih->val[k], (k >= H && k < 2 * H) ? 1.0f : 0.0f, 0);
    dt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_full_sequence),
        cmocka_unit_test(test_grad_single_step),
        cmocka_unit_test(test_grad_batch_one),
        cmocka_unit_test(test_grad_last_step_only),
        cmocka_unit_test(test_grad_without_input_grad),
        cmocka_unit_test(test_forward_single_step_by_hand),
        cmocka_unit_test(test_forward_matches_naive_reference),
        cmocka_unit_test(test_nan_propagates_and_large_saturates),
        cmocka_unit_test(test_smaller_batch_after_compile),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_shape_and_forget_bias_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
