/* The training loop (dt_model_fit): restoring the best epoch brings back
 * the whole model state (batch-norm running statistics too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/train.h"

static dt_data *synthetic(dt_generator gen, size_t samples, double noise)
{
    dt_data_spec s;
    dt_data_spec_defaults(&s);
    s.format = DT_FORMAT_SYNTHETIC;
    s.generator = gen;
    s.samples = samples;
    s.noise = noise;
    s.seed = 3;
    dt_data *d = NULL;
    dt_status st = dt_data_load(&s, NULL, &d);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    return d;
}

static dt_model *mlp(const dt_data *d, int hidden, int batch_norm, int batch, uint64_t seed)
{
    dt_model_spec s = {0};
    s.arch = DT_ARCH_MLP;
    s.in_ndim = dt_data_sample_ndim(d);
    memcpy(s.in_shape, dt_data_sample_shape(d), (size_t)s.in_ndim * sizeof(int));
    s.outputs = dt_data_classes(d);
    s.hidden = hidden;
    s.depth = 1;
    s.act = DT_ACT_RELU;
    s.batch_norm = batch_norm;
    s.loss = DT_LOSS_CROSS_ENTROPY;
    s.max_batch = batch;
    dt_model *m = NULL;
    dt_status st = dt_model_build(&s, &m);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_model_init(m, seed);
    return m;
}

/* A batch-norm MLP trained at a high learning rate, so validation error
 * moves up and down and the best epoch is not the last one.  After the
 * restore, evaluating the validation split must give exactly the best
 * epoch's numbers: the same weights *and* the same running statistics.
 * (With only the parameters restored, the statistics of the last epoch
 * stay, and the re-evaluation differs.) */
static void test_restore_best_restores_batchnorm_statistics(void **state)
{
    dt_data *d = synthetic(DT_GEN_SPIRALS, 1200, 0.3);
    dt_model *m = mlp(d, 32, 1, 32, 5);
    assert_true(m->g->state_len > 0);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 0.05f);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    dt_fit_opts fo = {.epochs = 12, .restore_best = 1, .train_split = DT_SPLIT_TRAIN,
                      .val_split = DT_SPLIT_TRAIN_VAL, .seed = 11};
    dt_fit_result fr;
    assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
    print_message("best epoch %d of %d: val error %.4f loss %.6f\n", fr.best_epoch, fr.epochs_run,
                  fr.best_val_error, fr.best_val_loss);
    /* The set-up must put the best epoch before the last, or it tests nothing. */
    assert_true(fr.best_epoch >= 1 && fr.best_epoch < fr.epochs_run);
    dt_eval ev;
    assert_int_equal(dt_model_evaluate(m, d, DT_SPLIT_TRAIN_VAL, &ev, NULL, NULL), DT_OK);
    print_message("re-evaluated after the restore: val error %.4f loss %.6f\n", ev.error, ev.loss);
    assert_true(ev.error == fr.best_val_error);
    assert_true(ev.loss == fr.best_val_loss);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

/* dt_model_state_save / load round-trip parameters and running statistics. */
static void test_state_snapshot_covers_params_and_statistics(void **state)
{
    dt_data *d = synthetic(DT_GEN_BLOBS, 300, 0.1);
    dt_model *m = mlp(d, 8, 1, 16, 1);
    dt_graph *g = m->g;
    assert_int_equal(dt_model_state_size(m), g->n_param_values + g->state_len);
    float *snap = malloc(dt_model_state_size(m) * sizeof *snap);
    float *stats = malloc(g->state_len * sizeof *stats);
    assert_non_null(snap);
    assert_non_null(stats);
    dt_model_state_save(m, snap);
    memcpy(stats, g->state_arena, g->state_len * sizeof *stats);
    float w0 = g->param_val[0];
    for (size_t i = 0; i < g->state_len; i++) g->state_arena[i] += 1.0f;
    g->param_val[0] += 1.0f;
    dt_model_state_load(m, snap);
    assert_true(g->param_val[0] == w0);
    assert_memory_equal(g->state_arena, stats, g->state_len * sizeof *stats);
    free(stats);
    free(snap);
    dt_model_free(m);
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_best_restores_batchnorm_statistics),
        cmocka_unit_test(test_state_snapshot_covers_params_and_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
