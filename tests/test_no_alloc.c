/* Proves that a training step never allocates once the model is built:
 * malloc/calloc/realloc are wrapped at link time and counted. */
// LDFLAGS: -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "support/test_models.h"
#include "dnntrouble/train.h"

static long allocations;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { allocations++; return __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }

static void steps_do_not_allocate(dt_generator gen, dt_arch arch, int hidden)
{
    dt_data_spec s;
    dt_data_spec_defaults(&s);
    s.format = DT_FORMAT_SYNTHETIC;
    s.generator = gen;
    s.samples = 200;
    dt_data *d = NULL;
    assert_int_equal(dt_data_load(&s, NULL, &d), DT_OK);
    dt_test_model ms = {.arch = arch, .in_ndim = dt_data_sample_ndim(d), .outputs = dt_data_classes(d),
                        .hidden = hidden, .depth = 1, .act = DT_ACT_RELU, .dropout = 0.2f,
                        .loss = DT_LOSS_CROSS_ENTROPY, .max_batch = 16};
    memcpy(ms.in_shape, dt_data_sample_shape(d), (size_t)ms.in_ndim * sizeof(int));
    dt_model *m = dt_test_preset(&ms);
    dt_model_init(m, 1);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-3f);
    oc.clip_grad_norm = 1.0f;
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    size_t rows[16];
    float loss;
    long before = allocations;
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 16; i++) rows[i] = (size_t)(step * 16 + i);
        assert_int_equal(dt_model_load_batch(m, d, DT_SPLIT_TRAIN, rows, step == 2 ? 9 : 16), DT_OK);
        assert_int_equal(dt_model_train_step(m, &o, &loss), DT_OK);
    }
    assert_int_equal(allocations - before, 0);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

static void test_mlp_step(void **state) { steps_do_not_allocate(DT_GEN_BLOBS, DT_ARCH_MLP, 32); }
static void test_lenet_step(void **state) { steps_do_not_allocate(DT_GEN_SHAPES, DT_ARCH_LENET, 0); }
static void test_lstm_step(void **state) { steps_do_not_allocate(DT_GEN_SEQUENCES, DT_ARCH_LSTM, 16); }
static void test_resnet_step(void **state) { steps_do_not_allocate(DT_GEN_SHAPES, DT_ARCH_RESNET, 0); }
static void test_transformer_step(void **state) { steps_do_not_allocate(DT_GEN_SEQUENCES, DT_ARCH_TRANSFORMER, 16); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_step),
        cmocka_unit_test(test_lenet_step),
        cmocka_unit_test(test_lstm_step),
        cmocka_unit_test(test_resnet_step),
        cmocka_unit_test(test_transformer_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
