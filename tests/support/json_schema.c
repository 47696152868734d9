#include "json_schema.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const cJSON *root; char *err; size_t errlen; } vctx;

static int fail(vctx *c, const char *path, const char *why, const char *detail)
{
    snprintf(c->err, c->errlen, "%s: %s%s%s", path[0] ? path : "(root)", why, detail ? " " : "", detail ? detail : "");
    return 0;
}

static int has_type(const cJSON *d, const char *t)
{
    if (!strcmp(t, "object")) return cJSON_IsObject(d);
    if (!strcmp(t, "array")) return cJSON_IsArray(d);
    if (!strcmp(t, "string")) return cJSON_IsString(d);
    if (!strcmp(t, "number")) return cJSON_IsNumber(d);
    if (!strcmp(t, "integer")) return cJSON_IsNumber(d) && d->valuedouble == floor(d->valuedouble);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(d);
    if (!strcmp(t, "null")) return cJSON_IsNull(d);
    return 0;
}

static int validate(vctx *c, const cJSON *s, const cJSON *d, const char *path);

static int check_type(vctx *c, const cJSON *t, const cJSON *d, const char *path)
{
    if (cJSON_IsString(t)) return has_type(d, t->valuestring) || fail(c, path, "wrong type, want", t->valuestring);
    const cJSON *x;
    cJSON_ArrayForEach(x, t) if (cJSON_IsString(x) && has_type(d, x->valuestring)) return 1;
    return fail(c, path, "wrong type", NULL);
}

static int check_object(vctx *c, const cJSON *s, const cJSON *d, const char *path)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties"), *x;
    char sub[512];
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "required"))
        if (!cJSON_GetObjectItemCaseSensitive(d, x->valuestring)) return fail(c, path, "missing required", x->valuestring);
    cJSON_ArrayForEach(x, d)
    {
        const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, x->string) : NULL;
        snprintf(sub, sizeof sub, "%s/%s", path, x->string);
        if (ps) {
            if (!validate(c, ps, x, sub)) return 0;
        } else if (cJSON_IsFalse(addl)) {
            return fail(c, path, "unexpected property", x->string);
        } else if (cJSON_IsObject(addl) && !validate(c, addl, x, sub)) {
            return 0;
        }
    }
    return 1;
}

static int check_pattern(vctx *c, const char *pattern, const char *s, const char *path)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) return fail(c, path, "bad pattern", pattern);
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok || fail(c, path, "does not match", pattern);
}

static int validate(vctx *c, const cJSON *s, const cJSON *d, const char *path)
{
    const cJSON *k, *x;
    char sub[512];
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "$ref"))) {
        const char *ref = k->valuestring;
        if (strncmp(ref, "#/$defs/", 8) != 0) return fail(c, path, "unsupported $ref", ref);
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c->root, "$defs"), ref + 8);
        if (!target) return fail(c, path, "unresolved $ref", ref);
        if (!validate(c, target, d, path)) return 0;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "type")) && !check_type(c, k, d, path)) return 0;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "const")) && !cJSON_Compare(k, d, 1)) return fail(c, path, "not the const", NULL);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
        int found = 0;
        cJSON_ArrayForEach(x, k) found |= cJSON_Compare(x, d, 1);
        if (!found) return fail(c, path, "not one of the enum", cJSON_IsString(d) ? d->valuestring : NULL);
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minimum")) && cJSON_IsNumber(d) && d->valuedouble < k->valuedouble)
        return fail(c, path, "below minimum", NULL);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "pattern")) && cJSON_IsString(d) &&
        !check_pattern(c, k->valuestring, d->valuestring, path))
        return 0;
    if (cJSON_IsObject(d) && !check_object(c, s, d, path)) return 0;
    if (cJSON_IsArray(d) && (k = cJSON_GetObjectItemCaseSensitive(s, "items"))) {
        int i = 0;
        cJSON_ArrayForEach(x, d)
        {
            snprintf(sub, sizeof sub, "%s/%d", path, i++);
            if (!validate(c, k, x, sub)) return 0;
        }
    }
    return 1;
}

int dt_schema_validate(const cJSON *schema, const cJSON *doc, char *err, size_t errlen)
{
    vctx c = {schema, err, errlen};
    if (errlen) err[0] = '\0';
    return validate(&c, schema, doc, "");
}

cJSON *dt_json_load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[got] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}
