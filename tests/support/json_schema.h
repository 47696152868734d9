/* A small JSON Schema validator for the keywords our schemas use: type,
 * enum, const, required, properties, additionalProperties, items, minimum,
 * pattern (POSIX ERE) and local $ref ("#/$defs/NAME").  Tests only. */
#ifndef DT_TEST_JSON_SCHEMA_H
#define DT_TEST_JSON_SCHEMA_H

#include <stddef.h>

#include <cJSON.h>

/* 1 when doc is valid; otherwise 0 with "PATH: reason" in err. */
int dt_schema_validate(const cJSON *schema, const cJSON *doc, char *err, size_t errlen);
/* Parses a JSON file (NULL when missing or invalid). */
cJSON *dt_json_load_file(const char *path);

#endif
