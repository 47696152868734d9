#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "test_models.h"

void dt_test_preset_spec(const dt_test_model *t, dt_model_spec *s)
{
    dt_preset_args a = {.arch = t->arch, .hidden = t->hidden, .hidden_given = t->hidden_given, .depth = t->depth > 0 ? t->depth : 1, .act = t->act,
                        .batch_norm = t->batch_norm, .dropout = t->dropout, .output_softmax = t->output_softmax};
    dt_input_shape in = {.ndim = t->in_ndim, .tokens = t->tokens, .vocab = t->vocab};
    memcpy(in.shape, t->in_shape, sizeof in.shape);
    dt_status st = dt_model_spec_preset(&a, &in, t->outputs, t->loss, t->max_batch, s);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
}

dt_model *dt_test_preset(const dt_test_model *t)
{
    dt_model_spec *s = malloc(sizeof *s);
    assert_non_null(s);
    dt_test_preset_spec(t, s);
    dt_model *m = NULL;
    dt_status st = dt_model_build(s, &m);
    free(s);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    return m;
}

void dt_test_set(dt_config *c, const char *key, const char *value)
{
    dt_status st = dt_config_set(c, key, value);
    if (st) print_error("%s=%s: %s\n", key, value, dt_last_error());
    assert_int_equal(st, DT_OK);
}

dt_data *dt_test_synthetic(dt_generator gen, size_t samples, double noise, uint64_t seed)
{
    dt_data_spec s;
    dt_data_spec_defaults(&s);
    s.format = DT_FORMAT_SYNTHETIC;
    s.generator = gen;
    s.samples = samples;
    s.noise = noise;
    s.seed = seed;
    dt_data *d = NULL;
    dt_status st = dt_data_load(&s, NULL, &d);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    return d;
}
