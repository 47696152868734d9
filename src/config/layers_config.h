/* Private to src/config: model.layers / model.inputs (layers.c). */
#ifndef DT_CONFIG_LAYERS_H
#define DT_CONFIG_LAYERS_H

#include "parse.h"

typedef struct cJSON cJSON;

dt_status dt_parse_layers(dt_parse_ctx *p, yaml_node_t *node, int line);
dt_status dt_parse_inputs(dt_parse_ctx *p, yaml_node_t *node, int line);
/* model.layers.NAME.OPTION = scalar (key is the full dotted key). */
dt_status dt_parse_layer_option(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line);
int dt_config_is_layer_key(const char *key);
dt_status dt_config_layer_get_number(const dt_config *cfg, const char *key, double *out);
dt_status dt_config_layer_get_string(const dt_config *cfg, const char *key, char *buf, size_t size);
cJSON *dt_model_desc_layers_json(const dt_model_desc *d);
cJSON *dt_model_desc_inputs_json(const dt_model_desc *d);

#endif
