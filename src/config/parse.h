/* Private to src/config: the YAML walker shared by parse.c and maps.c. */
#ifndef DT_CONFIG_PARSE_H
#define DT_CONFIG_PARSE_H

#include <yaml.h>

#include "internal.h"

typedef struct dt_parse_ctx {
    dt_config *cfg;
    yaml_document_t *doc;
    const char *source;          /* file name, or "--set KEY" */
    int from_file;               /* messages carry lines; keys may appear only once */
    unsigned char seen[DT_CONFIG_MAX_KEYS];
    long budget;                 /* mapping entries the walk may still visit (YAML aliases repeat them) */
} dt_parse_ctx;

dt_status dt_parse_fail(const dt_parse_ctx *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dt_node_line(const yaml_node_t *n);
int dt_node_is_null(const yaml_node_t *n);
dt_status dt_parse_mapping(dt_parse_ctx *p, yaml_node_t *map, const char *prefix, int line,
                           dt_status (*each)(dt_parse_ctx *, const char *, yaml_node_t *, int));
dt_status dt_parse_apply(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line);
dt_status dt_parse_text(dt_parse_ctx *p, const char *text, size_t len,
                        dt_status (*fn)(dt_parse_ctx *, yaml_node_t *, void *), void *arg);

/* gates.NAME and stages.tune.space.KEY entries (maps.c); key is the full dotted key. */
dt_status dt_parse_gate_entry(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line);
dt_status dt_parse_space_entry(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line);

/* npy x as a map of fields (fields.c): data.train.x / data.test.x / data.npy.x
 * given a mapping, and the dotted data.train.x.NAME[.OPTION].  Sets
 * *handled to 0 for every other key (and for a single file, after dropping
 * a map given before), which the caller then applies as usual. */
dt_status dt_parse_fields(dt_parse_ctx *p, const char *key, yaml_node_t *node, int line, int *handled);

#endif
