/* Building a preset model in a test with the old one-struct call:
 *   dt_model *m = dt_test_preset(&(dt_test_model){.arch = DT_ARCH_MLP, .in_ndim = 1, .in_shape = {20}, ...});
 * Fails the test (with the library's message) when the build fails. */
#ifndef DT_TEST_MODELS_H
#define DT_TEST_MODELS_H

#include "dnntrouble/config.h"
#include "dnntrouble/data.h"
#include "dnntrouble/model.h"

typedef struct dt_test_model {
    dt_arch arch;
    int in_ndim, in_shape[3];
    int tokens, vocab;
    int outputs, hidden, depth;
    int hidden_given;                /* resnet: widths follow hidden only when set (dt_preset_args) */
    dt_activation act;
    int batch_norm, output_softmax;
    float dropout;
    dt_loss loss;
    int max_batch;
} dt_test_model;

/* The spec (depth 0 is taken as 1). */
void dt_test_preset_spec(const dt_test_model *t, dt_model_spec *s);
/* Built, not initialised. */
dt_model *dt_test_preset(const dt_test_model *t);
/* Generated data (dt_data_load of a synthetic spec) with the given generator, size, noise and
 * seed; fails the test when it cannot be made. */
dt_data *dt_test_synthetic(dt_generator gen, size_t samples, double noise, uint64_t seed);
/* dt_config_set that fails the test (with the key, value and the library's message). */
void dt_test_set(dt_config *c, const char *key, const char *value);

#endif
