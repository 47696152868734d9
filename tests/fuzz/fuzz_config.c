/* libFuzzer harness: YAML config.  Parses the input over the defaults; when
 * it parses and checks, the config is written back as YAML, and that text
 * must parse and check again, give every key the same value (relative data
 * paths come back absolute) and write back to the same text, or abort() so
 * the fuzzer reports it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/config.h"

static dt_config a, b;

static void round_trip_failed(const char *what, const char *yaml)
{
    fprintf(stderr, "fuzz_config: %s (%s)\n--- written YAML:\n%s\n", what, dt_last_error(), yaml ? yaml : "(none)");
    abort();
}

/* npy x field maps: the same names, modalities and files (relative paths come back absolute). */
static void compare_fields(const dt_source_spec *sa, const dt_source_spec *sb, const char *yaml)
{
    if (sa->n_fields != sb->n_fields) round_trip_failed("field map changed size", yaml);
    for (int i = 0; i < sa->n_fields; i++) {
        char abs[1100];
        snprintf(abs, sizeof abs, "/fuzz/%s", sa->fields[i].path);
        if (strcmp(sa->fields[i].name, sb->fields[i].name) || sa->fields[i].modality != sb->fields[i].modality ||
            (strcmp(sa->fields[i].path, sb->fields[i].path) && strcmp(abs, sb->fields[i].path)))
            round_trip_failed("field map changed", yaml);
    }
}

/* Every scalar key of b (read back from a's YAML) as in a. */
static void compare_keys(const char *yaml)
{
    compare_fields(&a.data.train, &b.data.train, yaml);
    compare_fields(&a.data.test, &b.data.test, yaml);
    for (int k = 0; k < dt_config_key_count(); k++) {
        const char *key = dt_config_key_name(k);
        if (!strcmp(key, "data.train.x") || !strcmp(key, "data.test.x") || !strcmp(key, "data.npy.x")) {
            const dt_source_spec *s = key[5] == 't' && key[6] == 'e' ? &a.data.test : &a.data.train;
            if (s->n_fields) continue;   /* compared above */
        }
        char va[2100], vb[2100], abs[2200];
        if (dt_config_get_string(&a, key, va, sizeof va) != DT_OK ||
            dt_config_get_string(&b, key, vb, sizeof vb) != DT_OK)
            round_trip_failed("dt_config_get_string failed", yaml);
        snprintf(abs, sizeof abs, "/fuzz/%s", va);   /* a relative data path, made absolute */
        if (strcmp(va, vb) != 0 && strcmp(abs, vb) != 0) {
            fprintf(stderr, "fuzz_config: %s was '%s', reads back as '%s'\n", key, va, vb);
            round_trip_failed("value changed", yaml);
        }
        if (dt_config_given(&a, key) && !dt_config_given(&b, key)) {
            fprintf(stderr, "fuzz_config: %s\n", key);
            round_trip_failed("given key not written", yaml);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dt_config_defaults(&a);
    if (dt_config_parse_string(&a, (const char *)data, size, "fuzz.yaml", "/fuzz") != DT_OK) return 0;
    if (dt_config_check(&a) != DT_OK) return 0;
    char *yaml = dt_config_to_yaml(&a);
    if (!yaml) round_trip_failed("dt_config_to_yaml failed", NULL);
    dt_config_defaults(&b);
    if (dt_config_parse_string(&b, yaml, strlen(yaml), "written.yaml", "/elsewhere") != DT_OK)
        round_trip_failed("written config does not parse", yaml);
    if (dt_config_check(&b) != DT_OK) round_trip_failed("written config does not check", yaml);
    compare_keys(yaml);
    char *again = dt_config_to_yaml(&b);
    if (!again) round_trip_failed("dt_config_to_yaml failed on the reread config", yaml);
    if (strcmp(yaml, again) != 0) {
        fprintf(stderr, "fuzz_config: the reread config writes differently:\n%s\n", again);
        round_trip_failed("not a fixed point", yaml);
    }
    free(again);
    free(yaml);
    return 0;
}
