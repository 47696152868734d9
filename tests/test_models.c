/* The starter models train: the MLP drives the loss to ~0 on a generated
 * problem, LeNet and the LSTM each fit one small batch, and training is
 * bit-for-bit deterministic for a seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/test_models.h"
#include "dnntrouble/train.h"

static dt_model *model_for(const dt_data *d, dt_arch arch, int hidden, int batch)
{
    dt_test_model s = {0};
    s.arch = arch;
    s.in_ndim = dt_data_sample_ndim(d);
    memcpy(s.in_shape, dt_data_sample_shape(d), (size_t)s.in_ndim * sizeof(int));
    s.outputs = dt_data_classes(d);
    s.hidden = hidden;
    s.depth = 1;
    s.act = arch == DT_ARCH_LSTM ? DT_ACT_TANH : DT_ACT_RELU;
    s.loss = DT_LOSS_CROSS_ENTROPY;
    s.max_batch = batch;
    dt_model *m = dt_test_preset(&s);
    dt_model_init(m, 42);
    return m;
}

static void test_mlp_reaches_near_zero_training_loss(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SPIRALS, 600, 0.0, 1);
    dt_model *m = model_for(d, DT_ARCH_MLP, 128, 64);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-2f);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    dt_fit_opts fo = {.epochs = 300, .train_split = DT_SPLIT_TRAIN, .val_split = DT_SPLIT_TRAIN, .seed = 1};
    dt_fit_result fr;
    assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
    dt_eval ev;
    assert_int_equal(dt_model_evaluate(m, d, DT_SPLIT_TRAIN, &ev, NULL, NULL), DT_OK);
    print_message("mlp on spirals: train loss %.4f, error %.4f after %ld steps\n", ev.loss, ev.error, fr.steps);
    assert_true(ev.loss < 0.05);
    assert_true(ev.error < 0.01);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

/* Trains on one fixed batch: the loss must fall close to zero. */
static void fit_one_batch(dt_data *d, dt_arch arch, int hidden, int batch, int steps, float lr)
{
    dt_model *m = model_for(d, arch, hidden, batch);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, lr);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    size_t rows[64];
    for (int i = 0; i < batch; i++) rows[i] = (size_t)i;
    assert_int_equal(dt_model_load_batch(m, d, DT_SPLIT_TRAIN, rows, (size_t)batch), DT_OK);
    float first = 0, loss = 0;
    for (int s = 0; s < steps; s++) {
        assert_int_equal(dt_model_train_step(m, &o, &loss), DT_OK);
        if (s == 0) first = loss;
    }
    print_message("%s one batch of %d: loss %.4f -> %.5f in %d steps\n", dt_arch_name(arch), batch, first,
                  loss, steps);
    assert_true(loss < 0.01f);
    dt_optim_free(&o);
    dt_model_free(m);
}

static void test_lenet_fits_one_batch(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SHAPES, 200, 0.1, 1);
    fit_one_batch(d, DT_ARCH_LENET, 0, 32, 150, 3e-3f);
    dt_data_free(d);
}

static void test_lstm_fits_one_batch(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SEQUENCES, 200, 0.1, 1);
    fit_one_batch(d, DT_ARCH_LSTM, 32, 32, 300, 1e-2f);
    dt_data_free(d);
}

/* Same seed, one thread: bit-identical weights after N steps. */
static void test_training_is_deterministic(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SHAPES, 200, 0.1, 1);
    float *w[2];
    size_t n = 0;
    for (int run = 0; run < 2; run++) {
        dt_model *m = model_for(d, DT_ARCH_LENET, 0, 16);
        dt_optimizer o;
        dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-3f);
        assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
        dt_fit_opts fo = {.epochs = 1, .max_steps = 5, .train_split = DT_SPLIT_TRAIN,
                          .val_split = DT_SPLIT_TRAIN, .seed = 9};
        dt_fit_result fr;
        assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
        n = m->g->n_param_values;
        w[run] = malloc(n * sizeof(float));
        memcpy(w[run], m->g->param_val, n * sizeof(float));
        dt_optim_free(&o);
        dt_model_free(m);
    }
    assert_memory_equal(w[0], w[1], n * sizeof(float));
    free(w[0]);
    free(w[1]);
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_reaches_near_zero_training_loss),
        cmocka_unit_test(test_lenet_fits_one_batch),
        cmocka_unit_test(test_lstm_fits_one_batch),
        cmocka_unit_test(test_training_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
