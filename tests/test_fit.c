/* The one training loop (dt_model_fit): restoring the best epoch brings back
 * the whole model state (batch-norm running statistics too), the step hook
 * sees the model and can stop training, a fixed batch trains exactly as
 * repeated steps on it, and the steps-per-epoch helpers. */
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

static dt_model *mlp(const dt_data *d, int hidden, int batch_norm, int batch, uint64_t seed)
{
    dt_test_model s = {0};
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
    dt_model *m = dt_test_preset(&s);
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
    dt_data *d = dt_test_synthetic(DT_GEN_SPIRALS, 1200, 0.3, 3);
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
    /* The history has every epoch, with the validation numbers of each. */
    assert_int_equal(fr.n_history, fr.epochs_run);
    assert_int_equal(fr.history_stride, 1);
    for (int i = 0; i < fr.n_history; i++) {
        assert_int_equal(fr.history[i].epoch, i + 1);
        assert_true(isfinite(fr.history[i].train_loss) && fr.history[i].train_error >= 0 &&
                    fr.history[i].train_error <= 1);
        assert_true(fr.history[i].val_error >= (float)fr.best_val_error);
    }
    assert_true(fr.history[fr.best_epoch - 1].val_error == (float)fr.best_val_error);
    assert_true(fr.history[fr.best_epoch - 1].val_loss == (float)fr.best_val_loss);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

/* Early stopping's patience on a 14-row split (wine's), where one row is 7
 * points of error and two standard errors about 14: one row worse than the
 * lowest error at the lowest loss yet is still learning; three rows worse is
 * not, nor is a loss above the lowest.  On 10000 rows the margin is 0.44
 * points.  Regression never is (its error is its loss). */
static void test_early_stopping_ignores_one_row_of_noise(void **state)
{
    const double row = 1.0 / 14;
    dt_eval one_worse = {.loss = 0.30, .error = 2 * row, .n = 14};
    assert_true(dt_fit_still_learning(0, &one_worse, 1 * row, 0.60));
    dt_eval three_worse = {.loss = 0.30, .error = 4 * row, .n = 14};
    assert_false(dt_fit_still_learning(0, &three_worse, 1 * row, 0.60));
    dt_eval higher_loss = {.loss = 0.70, .error = 1 * row, .n = 14};
    assert_false(dt_fit_still_learning(0, &higher_loss, 1 * row, 0.60));
    dt_eval big_near = {.loss = 0.30, .error = 0.054, .n = 10000}, big_worse = {.loss = 0.30, .error = 0.056, .n = 10000};
    assert_true(dt_fit_still_learning(0, &big_near, 0.05, 0.60));
    assert_false(dt_fit_still_learning(0, &big_worse, 0.05, 0.60));
    dt_eval reg = {.loss = 0.1, .error = 2.1, .n = 14};
    assert_false(dt_fit_still_learning(1, &reg, 2.0, 0.5));
}

/* The epoch hook sees every completed epoch with its mean training loss and
 * validation numbers; the best epoch's are the fit result's. */
typedef struct epochs_seen { int n; double train_loss[32], val_error[32], val_loss[32]; int validated; } epochs_seen;

static int on_epoch(void *ctx, const dt_fit_epoch_info *e)
{
    epochs_seen *s = ctx;
    assert_int_equal(e->epoch, s->n + 1);
    s->train_loss[s->n] = e->train_loss;
    s->val_error[s->n] = e->val_error;
    s->val_loss[s->n] = e->val_loss;
    s->validated += e->validated;
    s->n++;
    return 0;
}

static void test_epoch_hook_sees_each_epoch(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SPIRALS, 600, 0.3, 3);
    dt_model *m = mlp(d, 32, 1, 16, 3);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 0.02f);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    epochs_seen seen = {0};
    dt_fit_opts fo = {.epochs = 6, .restore_best = 1, .train_split = DT_SPLIT_TRAIN, .val_split = DT_SPLIT_TRAIN_VAL,
                      .seed = 3, .on_epoch = on_epoch, .epoch_ctx = &seen};
    dt_fit_result fr;
    assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
    assert_int_equal(seen.n, fr.epochs_run);
    assert_int_equal(seen.validated, fr.epochs_run);
    assert_true(seen.train_loss[seen.n - 1] == fr.last_train_loss);
    assert_true(seen.val_error[fr.best_epoch - 1] == fr.best_val_error);
    assert_true(seen.val_loss[fr.best_epoch - 1] == fr.best_val_loss);
    assert_true(seen.train_loss[seen.n - 1] < seen.train_loss[0]);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

/* An epoch hook that returns nonzero stops the fit after that epoch (a pruner at a rung). */
static int stop_after_2(void *ctx, const dt_fit_epoch_info *e)
{
    (void)ctx;
    return e->epoch == 2;
}

static void test_epoch_hook_can_stop_the_fit(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_SPIRALS, 600, 0.3, 3);
    dt_model *m = mlp(d, 32, 1, 16, 3);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 0.02f);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    for (int validate = 0; validate < 2; validate++) {
        dt_fit_opts fo = {.epochs = 6, .train_split = DT_SPLIT_TRAIN,
                          .val_split = validate ? DT_SPLIT_TRAIN_VAL : DT_SPLIT_TRAIN, .seed = 3,
                          .on_epoch = stop_after_2};
        dt_fit_result fr;
        assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
        assert_int_equal(fr.epochs_run, 2);
        assert_int_equal(fr.stopped_by_hook, 1);
        assert_int_equal(fr.steps, 2 * dt_steps_per_epoch(dt_data_split_size(d, DT_SPLIT_TRAIN), 16));
    }
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

/* dt_model_state_save / load round-trip parameters and running statistics. */
static void test_state_snapshot_covers_params_and_statistics(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_BLOBS, 300, 0.1, 3);
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

typedef struct hook_log {
    long calls, stop_at;
    int last_epoch;
    long last_step, planned;
    int saw_model, loss_matches;
} hook_log;

static int logging_hook(void *ctx, const dt_fit_step *s)
{
    hook_log *h = ctx;
    h->calls++;
    h->last_epoch = s->epoch;
    h->last_step = s->step;
    h->planned = s->steps;
    h->saw_model &= s->m != NULL && s->o != NULL && s->batch > 0;
    /* m->loss still holds this step's forward pass. */
    h->loss_matches &= s->m->loss->val[0] == s->loss;
    return h->stop_at > 0 && s->step >= h->stop_at;
}

static void test_hook_sees_every_step_and_can_stop(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_BLOBS, 300, 0.1, 3);
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    for (int stop = 0; stop < 2; stop++) {
        dt_model *m = mlp(d, 8, 0, 32, 1);
        dt_optimizer o;
        dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-3f);
        assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
        hook_log h = {.stop_at = stop ? 13 : 0, .saw_model = 1, .loss_matches = 1};
        dt_fit_opts fo = {.epochs = 3, .train_split = DT_SPLIT_TRAIN, .val_split = DT_SPLIT_TRAIN_VAL, .seed = 2,
                          .on_step = logging_hook, .ctx = &h};
        dt_fit_result fr;
        assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
        long per_epoch = dt_steps_per_epoch(n, 32);
        assert_int_equal(h.planned, 3 * per_epoch);
        assert_true(h.saw_model);
        assert_true(h.loss_matches);
        if (stop) {
            assert_int_equal(fr.steps, 13);
            assert_int_equal(h.calls, 13);
            assert_true(fr.stopped_by_hook);
            assert_int_equal(fr.epochs_run, (int)((13 + per_epoch - 1) / per_epoch));
            assert_int_equal(o.t, 13);
        } else {
            assert_int_equal(fr.steps, 3 * per_epoch);
            assert_int_equal(h.calls, 3 * per_epoch);
            assert_int_equal(h.last_epoch, 3);
            assert_false(fr.stopped_by_hook);
        }
        dt_optim_free(&o);
        dt_model_free(m);
    }
    dt_data_free(d);
}

/* fixed_rows: every step on the same rows, bit-identical to stepping by hand. */
static void test_fixed_batch_equals_repeated_steps(void **state)
{
    dt_data *d = dt_test_synthetic(DT_GEN_BLOBS, 300, 0.1, 3);
    enum { B = 16, STEPS = 25 };
    size_t rows[B];
    for (int i = 0; i < B; i++) rows[i] = (size_t)(3 * i + 1);
    float curve[2][STEPS];
    float *w[2];
    size_t nw = 0;
    for (int run = 0; run < 2; run++) {
        dt_model *m = mlp(d, 8, 1, B, 4);
        dt_optimizer o;
        dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-2f);
        assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
        if (run == 0) {
            assert_int_equal(dt_model_load_batch(m, d, DT_SPLIT_TRAIN, rows, B), DT_OK);
            for (int s = 0; s < STEPS; s++) assert_int_equal(dt_model_train_step(m, &o, &curve[0][s]), DT_OK);
        } else {
            hook_log h = {.saw_model = 1, .loss_matches = 1};
            dt_fit_opts fo = {.epochs = STEPS, .train_split = DT_SPLIT_TRAIN, .val_split = DT_SPLIT_TRAIN,
                              .fixed_rows = rows, .n_fixed = B, .on_step = logging_hook, .ctx = &h};
            dt_fit_result fr;
            assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
            assert_int_equal(fr.steps, STEPS);
            assert_int_equal(h.planned, STEPS);
            assert_int_equal(dt_fit_planned_steps(d, &fo, B), STEPS);
        }
        nw = m->g->n_param_values + m->g->state_len;
        w[run] = malloc(nw * sizeof(float));
        dt_model_state_save(m, w[run]);
        dt_optim_free(&o);
        dt_model_free(m);
    }
    assert_memory_equal(w[0], w[1], nw * sizeof(float));
    free(w[0]);
    free(w[1]);
    dt_data_free(d);
}

/* Per step of a fixed-batch fit (one step per epoch): the loss and the
 * batch error the hook sees, to compare with the fit's history. */
typedef struct step_log {
    float loss[400], error[400];
} step_log;

static int step_logging_hook(void *ctx, const dt_fit_step *s)
{
    step_log *l = ctx;
    int B = s->m->out->shape[0], K = s->m->out->shape[1], wrong = 0;
    for (int r = 0; r < B; r++) {
        const float *z = s->m->out->val + (size_t)r * (size_t)K;
        int best = 0;
        for (int j = 1; j < K; j++) if (z[j] > z[best]) best = j;
        wrong += best != (int)s->m->y->val[r];
    }
    l->loss[s->step - 1] = s->loss;
    l->error[s->step - 1] = (float)wrong / (float)B;
    return 0;
}

/* A fit longer than the history array keeps evenly spaced epochs and the
 * last one, each with the numbers of that epoch. */
static void test_history_of_a_long_fit(void **state)
{
    enum { EPOCHS = 300, B = 16 };
    dt_data *d = dt_test_synthetic(DT_GEN_SPIRALS, 400, 0.3, 3);
    size_t rows[B];
    for (size_t i = 0; i < B; i++) rows[i] = i;
    dt_model *m = mlp(d, 16, 0, B, 3);
    dt_optimizer o;
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-3f);
    assert_int_equal(dt_optim_init(&o, &oc, m->g->n_param_values), DT_OK);
    step_log *log = calloc(1, sizeof *log);
    dt_fit_opts fo = {.epochs = EPOCHS, .train_split = DT_SPLIT_TRAIN, .val_split = DT_SPLIT_TRAIN,
                      .fixed_rows = rows, .n_fixed = B, .on_step = step_logging_hook, .ctx = log};
    dt_fit_result fr;
    assert_int_equal(dt_model_fit(m, &o, d, &fo, &fr), DT_OK);
    assert_int_equal(fr.epochs_run, EPOCHS);
    /* 300 epochs in 128 entries: stride 4 (1, 5, 9, ..., 297) and the last, 300. */
    assert_int_equal(fr.history_stride, 4);
    assert_int_equal(fr.n_history, 76);
    assert_int_equal(fr.history[0].epoch, 1);
    assert_int_equal(fr.history[fr.n_history - 1].epoch, EPOCHS);
    for (int i = 0; i < fr.n_history; i++) {
        const dt_fit_epoch *h = &fr.history[i];
        if (i < fr.n_history - 1) assert_int_equal(h->epoch, 1 + 4 * i);
        assert_true(h->train_loss == log->loss[h->epoch - 1]);
        assert_true(h->train_error == log->error[h->epoch - 1]);
        assert_true(isnan(h->val_loss) && isnan(h->val_error));   /* no validation split */
    }
    free(log);
    dt_optim_free(&o);
    dt_model_free(m);
    dt_data_free(d);
}

static void test_steps_per_epoch(void **state)
{
    assert_int_equal(dt_steps_per_epoch(54000, 64), 844);
    assert_int_equal(dt_steps_per_epoch(64, 64), 1);
    assert_int_equal(dt_steps_per_epoch(65, 64), 2);
    assert_int_equal(dt_steps_per_epoch(10, 64), 1);
    assert_int_equal(dt_steps_per_epoch(0, 64), 1);
    assert_int_equal(dt_fit_steps(54000, 64, 4, 0), 4 * 844);
    assert_int_equal(dt_fit_steps(54000, 64, 4, 100), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_best_restores_batchnorm_statistics),
        cmocka_unit_test(test_state_snapshot_covers_params_and_statistics),
        cmocka_unit_test(test_early_stopping_ignores_one_row_of_noise),
        cmocka_unit_test(test_epoch_hook_sees_each_epoch),
        cmocka_unit_test(test_epoch_hook_can_stop_the_fit),
        cmocka_unit_test(test_hook_sees_every_step_and_can_stop),
        cmocka_unit_test(test_fixed_batch_equals_repeated_steps),
        cmocka_unit_test(test_history_of_a_long_fit),
        cmocka_unit_test(test_steps_per_epoch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
