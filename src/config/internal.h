/* Private to src/config: the key table every config operation is derived from. */
#ifndef DT_CONFIG_INTERNAL_H
#define DT_CONFIG_INTERNAL_H

#include <stddef.h>

#include "dnntrouble/config.h"
#include "dnntrouble/names.h"

typedef enum {
    DT_KT_INT,      /* int */
    DT_KT_SIZE,     /* size_t */
    DT_KT_U64,      /* unsigned long long */
    DT_KT_DOUBLE,
    DT_KT_BOOL,     /* int 0/1 */
    DT_KT_STR,      /* char[size] */
    DT_KT_ENUM,     /* int-sized enum, names in enum_names */
    DT_KT_CHAR,     /* one character given as a one-character string */
    DT_KT_LABEL,    /* data.csv.label: column index (int) or column name (string) */
    DT_KT_INTLIST,  /* data.subset.classes: sequence of ints */
    DT_KT_STRLIST   /* data.class_names: sequence of strings */
} dt_key_type;

/* Allowed ranges; the text in dt_range_text is what error messages say. */
typedef enum {
    DT_R_ANY,
    DT_R_POS,        /* > 0 */
    DT_R_NONNEG,     /* >= 0 */
    DT_R_ATLEAST1,   /* >= 1 */
    DT_R_OPEN01,     /* 0 < x < 1 */
    DT_R_HALFOPEN01, /* 0 <= x < 1 */
    DT_R_BYTE        /* 0 .. 255 (class labels) */
} dt_range;

enum {
    DT_KF_OPTIONAL = 1,  /* no default: absent unless given (shown as null) */
    DT_KF_ALIAS = 2,     /* another spelling of alias_of; never written back */
    DT_KF_PATH = 4,      /* data file: relative to base_dir, made absolute when written */
    DT_KF_REQUIRED = 8   /* must be given */
};

typedef struct dt_key {
    const char *name;
    dt_key_type type;
    size_t offset, size;
    const char *const *enum_names;   /* NULL-terminated */
    dt_range range;
    const char *def;                 /* default as a YAML scalar; NULL: none */
    int flags;
    const char *alias_of;
} dt_key;

extern const dt_key dt_keys[];
extern const int dt_n_keys;

/* Index of a key (aliases resolve to themselves), or -1. */
int dt_key_find(const char *name);
/* The entry that holds the value (the canonical key for aliases). */
int dt_key_canonical(int k);
/* 1 when name is a section that holds keys (e.g. "train", "stages.decompose"). */
int dt_key_is_section(const char *name);
const char *dt_range_text(dt_range r);

/* Sets one key from a YAML scalar (quoted: the scalar was quoted, which
 * makes data.csv.label a column name).  `where` prefixes messages. */
dt_status dt_key_set_scalar(dt_config *cfg, int k, const char *value, int quoted, const char *where);
dt_status dt_key_set_intlist(dt_config *cfg, int k, const long *v, int n, const char *where);
dt_status dt_key_set_strlist(dt_config *cfg, int k, const char *const *v, int n, const char *where);
/* Formats the value of key k as a YAML scalar. */
void dt_key_format(const dt_config *cfg, int k, char *buf, size_t size);
/* Shortest "%.*g" that reads back as exactly v. */
void dt_format_double(double v, char *buf, size_t size);
/* Parses a whole string as a number / int / bool; 0 on failure. */
int dt_parse_double(const char *s, double *out);
int dt_parse_long(const char *s, long long *out);
int dt_parse_bool(const char *s, int *out);
/* dt_edit_distance and dt_is_identifier live in names.h. */
/* Expands ${NAME} and ${NAME:-default} from the environment (data paths). */
dt_status dt_expand_env(const char *in, char *out, size_t size, const char *key, const char *where);
/* npy x as a map of fields (fields.c).  The field map of key k
 * (data.train.x / data.test.x) as JSON (paths made absolute when asked), or
 * NULL when k holds no map; the same as a YAML flow mapping into buf
 * (returns 0 when k holds no map); the checks that need both maps. */
typedef struct cJSON cJSON;
cJSON *dt_fields_json(const dt_config *cfg, int k, int absolute);
int dt_fields_format(const dt_config *cfg, int k, char *buf, size_t size);
dt_status dt_check_fields(const dt_config *cfg, dt_status (*fail)(const dt_config *, int, const char *, ...));
/* Copies cfg->seed into the data spec and similar derived fields. */
void dt_config_sync(dt_config *cfg);

#endif
