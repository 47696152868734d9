/* Reading, checking and formatting one key's value, driven by its table row. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "layers_config.h"

int dt_parse_double(const char *s, double *out)
{
    char *end;
    if (!*s) return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

int dt_parse_long(const char *s, long long *out)
{
    char *end;
    if (!*s) return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE) return 0;
    *out = v;
    return 1;
}

/* YAML 1.1 booleans, which is what libyaml users write. */
int dt_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y"}, *const no[] = {"false", "no", "off", "n"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 1; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 1; }
    }
    return 0;
}

void dt_format_double(double v, char *buf, size_t size)
{
    if (!buf || !size) return;   /* also keeps GCC's sanitizer build from warning of a null destination */
    /* Whole numbers stay whole ("1200", not "1.2e+03") so int keys read them
     * back, up to 2^53 where a double still holds every integer (the range
     * test comes first: casting a value past 2^63 to long long is undefined). */
    if (fabs(v) <= 9007199254740992.0 && v == (double)(long long)v) {
        snprintf(buf, size, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static int in_range(dt_range r, double v)
{
    switch (r) {
    case DT_R_POS: return v > 0;
    case DT_R_NONNEG: return v >= 0;
    case DT_R_ATLEAST1: return v >= 1;
    case DT_R_OPEN01: return v > 0 && v < 1;
    case DT_R_HALFOPEN01: return v >= 0 && v < 1;
    case DT_R_BYTE: return v >= 0 && v <= 255;
    default: return 1;
    }
}

static dt_status bad_value(const dt_key *k, const char *what, const char *value, const char *where)
{
    return dt_fail(DT_ECONFIG, "%s: %s must be %s, got '%s'", where, k->name, what, value);
}

static dt_status out_of_range(const dt_key *k, const char *value, const char *where)
{
    return dt_fail(DT_ECONFIG, "%s: %s must be %s, got %s", where, k->name, dt_range_text(k->range), value);
}

static dt_status set_integer(dt_config *cfg, const dt_key *k, const char *value, const char *where)
{
    long long v;
    char *p = (char *)cfg + k->offset;
    if (!dt_parse_long(value, &v)) return bad_value(k, "an integer", value, where);
    if (!in_range(k->range, (double)v)) return out_of_range(k, value, where);
    if (k->type == DT_KT_INT) {
        if (v < INT_MIN || v > INT_MAX) return bad_value(k, "a 32-bit integer", value, where);
        *(int *)p = (int)v;
    } else if (k->type == DT_KT_SIZE) {
        if (v < 0) return bad_value(k, "a count >= 0", value, where);
        *(size_t *)p = (size_t)v;
    } else {
        if (v < 0) return bad_value(k, "an integer >= 0", value, where);
        *(unsigned long long *)p = (unsigned long long)v;
    }
    return DT_OK;
}

static dt_status set_enum(dt_config *cfg, const dt_key *k, const char *value, const char *where)
{
    char allowed[256] = "";
    for (int i = 0; k->enum_names[i]; i++) {
        if (strcmp(k->enum_names[i], value) == 0) {
            *(int *)((char *)cfg + k->offset) = i;
            return DT_OK;
        }
        size_t n = strlen(allowed);
        snprintf(allowed + n, sizeof allowed - n, "%s%s", i ? " | " : "", k->enum_names[i]);
    }
    return bad_value(k, allowed, value, where);
}

dt_status dt_key_set_scalar(dt_config *cfg, int ki, const char *value, int quoted, const char *where)
{
    const dt_key *k = &dt_keys[ki];
    char *p = (char *)cfg + k->offset;
    double d;
    long long ll;
    int b;
    switch (k->type) {
    case DT_KT_INT:
    case DT_KT_SIZE:
    case DT_KT_U64: return set_integer(cfg, k, value, where);
    case DT_KT_DOUBLE:
        if (!dt_parse_double(value, &d)) return bad_value(k, "a number", value, where);
        if (!in_range(k->range, d)) return out_of_range(k, value, where);
        *(double *)p = d;
        return DT_OK;
    case DT_KT_BOOL:
        if (!dt_parse_bool(value, &b)) return bad_value(k, "true or false", value, where);
        *(int *)p = b;
        return DT_OK;
    case DT_KT_STR: {
        char expanded[2048];
        if (k->flags & DT_KF_PATH) {
            /* An empty path would resolve to the config's folder (or count as given
             * for a format that needs the file) and fail later, far from the key. */
            if (!value[0]) return dt_fail(DT_ECONFIG, "%s: %s is empty: give the file's path", where, k->name);
            dt_status st = dt_expand_env(value, expanded, sizeof expanded, k->name, where);
            if (st) return st;
            value = expanded;
        }
        if (strlen(value) >= k->size)
            return dt_fail(DT_ECONFIG, "%s: %s is longer than %zu characters", where, k->name, k->size - 1);
        memcpy(p, value, strlen(value) + 1);
        return DT_OK;
    }
    case DT_KT_ENUM: return set_enum(cfg, k, value, where);
    case DT_KT_CHAR:
        if (strcmp(value, "\\t") == 0) value = "\t";   /* written unquoted in YAML it stays two chars */
        if (strlen(value) != 1) return bad_value(k, "a single character", value, where);
        *p = value[0];
        return DT_OK;
    case DT_KT_LABEL:
        /* A plain integer is a column index; anything else (or quoted) a header name. */
        if (!quoted && dt_parse_long(value, &ll)) {
            if (ll < INT_MIN + 1 || ll > INT_MAX) return bad_value(k, "a column index", value, where);
            cfg->data.csv_label_index = (int)ll;
            cfg->data.csv_label_name[0] = '\0';
            return DT_OK;
        }
        if (!*value || strlen(value) >= sizeof cfg->data.csv_label_name)
            return bad_value(k, "a column index or a column name", value, where);
        snprintf(cfg->data.csv_label_name, sizeof cfg->data.csv_label_name, "%s", value);
        return DT_OK;
    case DT_KT_INTLIST:
        /* "[]" is the only scalar spelling (the default); lists come as YAML sequences. */
        if (strcmp(value, "[]") == 0 || !*value) return dt_key_set_intlist(cfg, ki, NULL, 0, where);
        return bad_value(k, "a list of integers", value, where);
    case DT_KT_STRLIST:
        if (strcmp(value, "[]") == 0 || !*value) return dt_key_set_strlist(cfg, ki, NULL, 0, where);
        return bad_value(k, "a list of names, e.g. [T-shirt, Trouser]", value, where);
    }
    return dt_fail(DT_EINTERNAL, "%s: key %s has no type", where, k->name);
}

dt_status dt_key_set_intlist(dt_config *cfg, int ki, const long *v, int n, const char *where)
{
    const dt_key *k = &dt_keys[ki];
    if (n > DT_MAX_SUBSET_CLASSES)
        return dt_fail(DT_ECONFIG, "%s: %s has more than %d entries", where, k->name, DT_MAX_SUBSET_CLASSES);
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", v[i]);
        if (!in_range(k->range, (double)v[i])) return out_of_range(k, buf, where);
        for (int j = 0; j < i; j++)
            if (v[j] == v[i]) return dt_fail(DT_ECONFIG, "%s: %s lists class %ld twice", where, k->name, v[i]);
        cfg->data.subset_classes[i] = (int)v[i];
    }
    cfg->data.n_subset_classes = n;
    return DT_OK;
}

dt_status dt_key_set_strlist(dt_config *cfg, int ki, const char *const *v, int n, const char *where)
{
    const dt_key *k = &dt_keys[ki];
    if (n > DT_MAX_CLASS_NAMES)
        return dt_fail(DT_ECONFIG, "%s: %s has more than %d names", where, k->name, DT_MAX_CLASS_NAMES);
    char pool[DT_CLASS_NAMES_BYTES] = {0};
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(v[i]);
        if (len == 0) return dt_fail(DT_ECONFIG, "%s: %s: name %d is empty", where, k->name, i);
        if (len >= DT_CLASS_NAME_LEN)
            return dt_fail(DT_ECONFIG, "%s: %s: name %d is longer than %d characters", where, k->name, i,
                           DT_CLASS_NAME_LEN - 1);
        if (used + len + 1 > sizeof pool)
            return dt_fail(DT_ECONFIG, "%s: %s: the names take more than %d bytes", where, k->name, DT_CLASS_NAMES_BYTES);
        for (int j = 0; j < i; j++)
            if (strcmp(v[j], v[i]) == 0)
                return dt_fail(DT_ECONFIG, "%s: %s names '%s' twice (labels %d and %d)", where, k->name, v[i], j, i);
        memcpy(pool + used, v[i], len + 1);
        used += len + 1;
    }
    memcpy(cfg->data.class_names, pool, sizeof pool);
    cfg->data.n_class_names = n;
    return DT_OK;
}

void dt_key_format(const dt_config *cfg, int ki, char *buf, size_t size)
{
    const dt_key *k = &dt_keys[ki];
    const char *p = (const char *)cfg + k->offset;
    switch (k->type) {
    case DT_KT_INT: snprintf(buf, size, "%d", *(const int *)p); break;
    case DT_KT_SIZE: snprintf(buf, size, "%zu", *(const size_t *)p); break;
    case DT_KT_U64: snprintf(buf, size, "%llu", *(const unsigned long long *)p); break;
    case DT_KT_DOUBLE: dt_format_double(*(const double *)p, buf, size); break;
    case DT_KT_BOOL: snprintf(buf, size, "%s", *(const int *)p ? "true" : "false"); break;
    case DT_KT_STR:
        if (!dt_fields_format(cfg, ki, buf, size)) snprintf(buf, size, "%s", p);   /* npy x map: {a: f.npy, ...} */
        break;
    case DT_KT_ENUM: snprintf(buf, size, "%s", k->enum_names[*(const int *)p]); break;
    case DT_KT_CHAR: snprintf(buf, size, "%c", *p); break;
    case DT_KT_LABEL:
        if (cfg->data.csv_label_name[0]) snprintf(buf, size, "%s", cfg->data.csv_label_name);
        else snprintf(buf, size, "%d", cfg->data.csv_label_index);
        break;
    case DT_KT_STRLIST: {
        size_t n = (size_t)snprintf(buf, size, "[");
        for (int i = 0; i < cfg->data.n_class_names && n < size; i++)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", dt_data_spec_class_name(&cfg->data, i));
        if (n < size) snprintf(buf + n, size - n, "]");
        break;
    }
    case DT_KT_INTLIST: {
        size_t n = (size_t)snprintf(buf, size, "[");
        for (int i = 0; i < cfg->data.n_subset_classes && n < size; i++)
            n += (size_t)snprintf(buf + n, size - n, "%s%d", i ? ", " : "", cfg->data.subset_classes[i]);
        if (n < size) snprintf(buf + n, size - n, "]");
        break;
    }
    }
}

/* ------------------------------------------------------------ ${NAME} */

dt_status dt_expand_env(const char *in, char *out, size_t size, const char *key, const char *where)
{
    size_t o = 0;
    for (const char *p = in; *p;) {
        if (p[0] != '$' || p[1] != '{') {
            if (o + 1 >= size) return dt_fail(DT_ECONFIG, "%s: %s is too long once expanded", where, key);
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) return dt_fail(DT_ECONFIG, "%s: %s: '${' without a closing '}'", where, key);
        char name[128], def[1024] = "";
        size_t n = (size_t)(end - p - 2);
        if (n == 0 || n >= sizeof name) return dt_fail(DT_ECONFIG, "%s: %s: empty or too long ${...}", where, key);
        memcpy(name, p + 2, n);
        name[n] = '\0';
        int has_def = 0;
        char *dash = strstr(name, ":-");
        if (dash) {
            snprintf(def, sizeof def, "%s", dash + 2);
            *dash = '\0';
            has_def = 1;
        }
        for (const char *c = name; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_'))
                return dt_fail(DT_ECONFIG, "%s: %s: '${%s}' is not an environment variable name", where, key, name);
        const char *v = getenv(name);
        if (!v || !*v) {
            if (!has_def)
                return dt_fail(DT_ECONFIG, "%s: %s names ${%s}, which is not set (set it, or give a default: "
                               "${%s:-path})", where, key, name, name);
            v = def;
        }
        size_t vl = strlen(v);
        if (o + vl >= size) return dt_fail(DT_ECONFIG, "%s: %s is too long once expanded", where, key);
        memcpy(out + o, v, vl);
        o += vl;
        p = end + 1;
    }
    out[o] = '\0';
    return DT_OK;
}

/* ------------------------------------------------------------ public getters */

static int find_known(const char *key)
{
    int k = dt_key_find(key);
    if (k < 0) {
        const char *s = dt_config_suggest_key(key);
        if (s) dt_fail(DT_ECONFIG, "unknown key '%s' (did you mean '%s'?)", key, s);
        else dt_fail(DT_ECONFIG, "unknown key '%s'", key);
    }
    return k;
}

dt_status dt_config_get_number(const dt_config *cfg, const char *key, double *out)
{
    if (dt_config_is_layer_key(key)) return dt_config_layer_get_number(cfg, key, out);
    int k = find_known(key);
    if (k < 0) return DT_ECONFIG;
    const dt_key *e = &dt_keys[k];
    const char *p = (const char *)cfg + e->offset;
    switch (e->type) {
    case DT_KT_INT:
    case DT_KT_BOOL:
    case DT_KT_ENUM: *out = *(const int *)p; return DT_OK;
    case DT_KT_SIZE: *out = (double)*(const size_t *)p; return DT_OK;
    case DT_KT_U64: *out = (double)*(const unsigned long long *)p; return DT_OK;
    case DT_KT_DOUBLE: *out = *(const double *)p; return DT_OK;
    default: return dt_fail(DT_ECONFIG, "%s is not a numeric key", key);
    }
}

dt_status dt_config_get_string(const dt_config *cfg, const char *key, char *buf, size_t size)
{
    if (dt_config_is_layer_key(key)) return dt_config_layer_get_string(cfg, key, buf, size);
    int k = find_known(key);
    if (k < 0) return DT_ECONFIG;
    dt_key_format(cfg, k, buf, size);
    return DT_OK;
}

int dt_config_given(const dt_config *cfg, const char *key)
{
    if (strcmp(key, "model.layers") == 0) return cfg->model.layers_given;
    if (strcmp(key, "model.inputs") == 0) return cfg->model.desc.n_inputs > 0;
    int k = dt_key_find(key);
    return k >= 0 && cfg->given[dt_key_canonical(k)];
}

const char *dt_config_suggest_key(const char *key)
{
    const char *best = NULL;
    int best_d = 1000;
    for (int i = 0; i < dt_n_keys; i++) {
        int d = dt_edit_distance(key, dt_keys[i].name);
        if (d < best_d) { best_d = d; best = dt_keys[i].name; }
    }
    /* Close means a typo or two, not a different key. */
    int limit = (int)strlen(key) / 4;
    if (limit < 2) limit = 2;
    if (best_d <= limit) return best;
    /* A key put in the wrong section ("lr" at top level): same last part. */
    const char *last = strrchr(key, '.');
    last = last ? last + 1 : key;
    for (int i = 0; i < dt_n_keys; i++) {
        const char *kl = strrchr(dt_keys[i].name, '.');
        if (kl && strcmp(kl + 1, last) == 0 && !dt_keys[i].alias_of) return dt_keys[i].name;
    }
    return NULL;
}
