/* Learning-rate schedules and gradient clipping (the update rules themselves
 * are checked against PyTorch in test_golden). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "dnntrouble/optim.h"

static void test_schedules(void **state)
{
    dt_optim_cfg c = dt_optim_defaults(DT_OPT_ADAM, 1.0f);
    assert_float_equal(dt_optim_lr_at(&c, 1000), 1.0f, 0);
    c.schedule = DT_SCHED_STEP;
    c.step_size = 10;
    c.gamma = 0.5f;
    assert_float_equal(dt_optim_lr_at(&c, 9), 1.0f, 1e-7);
    assert_float_equal(dt_optim_lr_at(&c, 10), 0.5f, 1e-7);
    assert_float_equal(dt_optim_lr_at(&c, 25), 0.25f, 1e-7);
    c.schedule = DT_SCHED_COSINE;
    c.total_steps = 100;
    assert_float_equal(dt_optim_lr_at(&c, 0), 1.0f, 1e-7);
    assert_float_equal(dt_optim_lr_at(&c, 50), 0.5f, 1e-6);
    assert_float_equal(dt_optim_lr_at(&c, 100), 0.0f, 1e-7);
    c.schedule = DT_SCHED_CONSTANT;
    c.warmup_steps = 4; /* linear warm-up: lr/4, 2lr/4, 3lr/4, lr */
    assert_float_equal(dt_optim_lr_at(&c, 0), 0.25f, 1e-7);
    assert_float_equal(dt_optim_lr_at(&c, 2), 0.75f, 1e-7);
    assert_float_equal(dt_optim_lr_at(&c, 4), 1.0f, 1e-7);
}

static void test_clipping_scales_to_the_global_norm(void **state)
{
    dt_optim_cfg c = dt_optim_defaults(DT_OPT_SGD, 1.0f);
    c.clip_grad_norm = 1.0f;
    dt_optimizer o;
    assert_int_equal(dt_optim_init(&o, &c, 2), DT_OK);
    float w[2] = {0, 0}, g[2] = {3, 4};
    dt_optim_step(&o, w, g);
    assert_float_equal(o.last_grad_norm, 5.0f, 1e-6);
    assert_float_equal(w[0], -0.6f, 1e-5); /* g scaled to norm 1 */
    assert_float_equal(w[1], -0.8f, 1e-5);
    dt_optim_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clipping_scales_to_the_global_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
