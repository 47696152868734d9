/* libFuzzer harness: model descriptions.  The input is the YAML of a
 * `model:` section; when it parses, the description must either be refused
 * with a configuration error (DT_ECONFIG / DT_ESHAPE and a message) or build
 * on fixed inputs (x [6]; image [1,8,8] and caption, token ids [5] of a
 * vocabulary of 7, when a layer's `in` names them), run forward and backward on a batch of 2 with finite
 * losses for finite inputs, and come back unchanged through its JSON form
 * (what checkpoints hold).  Anything else abort()s so the fuzzer reports it. */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/config.h"
#include "dnntrouble/model.h"

static dt_config cfg;
static dt_model_spec spec;
static dt_model_desc back;

static void failed(const char *what)
{
    fprintf(stderr, "fuzz_model: %s (%s)\n", what, dt_last_error());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 14) return 0;
    dt_config_defaults(&cfg);
    if (dt_config_parse_string(&cfg, (const char *)data, size, "fuzz.yaml", NULL) != DT_OK) return 0;
    if (!cfg.model.layers_given) return 0;
    memset(&spec, 0, sizeof spec);
    spec.desc = cfg.model.desc;
    const dt_input_shape all[3] = {{.name = "x", .ndim = 1, .shape = {6}},
                                   {.name = "image", .ndim = 3, .shape = {1, 8, 8}},
                                   {.name = "caption", .ndim = 1, .shape = {5}, .tokens = 1, .vocab = 7}};
    int named[3] = {1, 0, 0};
    for (int i = 0; i < cfg.model.desc.n_layers; i++)
        for (int k = 0; k < cfg.model.desc.layers[i].n_in; k++)
            for (int x = 1; x < 3; x++) named[x] |= !strcmp(cfg.model.desc.layers[i].in[k], all[x].name);
    /* x comes first unless the first layer names another input. */
    const dt_layer_desc *l0 = &cfg.model.desc.layers[0];
    if (l0->n_in && strcmp(l0->in[0], "x")) named[0] = 0;
    for (int x = 0; x < 3; x++)
        if (named[x]) {
            spec.field[spec.n_inputs] = spec.n_inputs;
            spec.inputs[spec.n_inputs++] = all[x];
        }
    if (spec.n_inputs == 0) return 0;
    spec.outputs = 3;
    spec.max_batch = 2;
    /* The JSON form reads back to the same description. */
    cJSON *j = dt_model_desc_to_json(&cfg.model.desc);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return 0;
    if (dt_model_desc_from_json(text, "json", &back) != DT_OK) failed("its JSON does not read back");
    if (memcmp(back.layers, cfg.model.desc.layers, sizeof back.layers[0] * (size_t)back.n_layers) != 0 ||
        back.n_layers != cfg.model.desc.n_layers) {
        /* Lines differ by construction (JSON has none): compare without them. */
        for (int i = 0; i < back.n_layers; i++) back.layers[i].line = cfg.model.desc.layers[i].line;
        if (back.n_layers != cfg.model.desc.n_layers ||
            memcmp(back.layers, cfg.model.desc.layers, sizeof back.layers[0] * (size_t)back.n_layers) != 0)
            failed("its JSON reads back different");
    }
    cJSON_free(text);
    dt_model *m = NULL;
    dt_status st = dt_model_build(&spec, &m);
    if (st) {
        if ((st != DT_ECONFIG && st != DT_ESHAPE && st != DT_ENOMEM) || !dt_last_error()[0]) failed("build error");
        return 0;
    }
    for (int i = 0; i < m->n_inputs; i++)
        for (size_t k = 0; k < dt_numel(m->inputs[i]); k++) m->inputs[i]->val[k] = (float)((k * 7 + (size_t)i) % 5);
    for (int b = 0; b < 2; b++) m->y->val[b] = (float)b;
    dt_model_init(m, 1);
    dt_graph_set_train(m->g, 1);
    st = dt_graph_forward(m->g, m->loss);
    if (!st) st = dt_graph_backward(m->g, m->loss);
    if (st) failed("forward/backward failed on a built model");
    dt_model_free(m);
    return 0;
}
