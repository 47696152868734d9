/* Text buffers, escaping and JSON lookups shared by the verdict, the HTML
 * report and the JUnit file. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int sb_reserve(dt_sbuf *b, size_t extra)
{
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void dt_sb_putn(dt_sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void dt_sb_puts(dt_sbuf *b, const char *s) { dt_sb_putn(b, s, strlen(s)); }

void dt_sb_printf(dt_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n <= 1) return n;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    unsigned cp = n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (int i = 1; i < n; i++) cp = cp << 6 | (s[i] & 0x3F);
    /* Overlong forms, surrogates and code points past U+10FFFF are not UTF-8. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp == 0xFFFE || cp == 0xFFFF) return 0;   /* not XML characters */
    return n;
}

void dt_sb_escape(dt_sbuf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            dt_sb_puts(b, rep);
            s++;
            continue;
        }
        if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') {
            dt_sb_puts(b, "\xEF\xBF\xBD");
            s++;
            continue;
        }
        int n = utf8_len(s);
        if (n == 0) {
            dt_sb_puts(b, "\xEF\xBF\xBD");
            s++;
            continue;
        }
        dt_sb_putn(b, (const char *)s, (size_t)n);
        s += n;
    }
}

void dt_sb_free(dt_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

const cJSON *dt_rj_get(const cJSON *o, const char *path)
{
    char part[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, part);
        path += n + (path[n] == '.');
    }
    return o;
}

double dt_rj_num(const cJSON *o, const char *path, double fallback)
{
    const cJSON *v = dt_rj_get(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

const char *dt_rj_str(const cJSON *o, const char *path, const char *fallback)
{
    const cJSON *v = dt_rj_get(o, path);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

const cJSON *dt_rj_stage(const cJSON *const *reports, int n, const char *stage)
{
    for (int i = 0; i < n; i++)
        if (reports[i] && strcmp(dt_rj_str(reports[i], "stage", ""), stage) == 0) return reports[i];
    return NULL;
}

int dt_rj_regression(const cJSON *const *reports, int n)
{
    for (int i = 0; i < n; i++) {
        const char *t = reports[i] ? dt_rj_str(reports[i], "config.task", NULL) : NULL;
        if (t) return strcmp(t, "regression") == 0;
    }
    return 0;
}

void dt_fmt_error(double v, int regression, char *buf, size_t size)
{
    if (!isfinite(v)) snprintf(buf, size, "n/a");
    else if (regression) snprintf(buf, size, "%.4g", v);
    else if (v != 0 && fabs(v) < 0.001) snprintf(buf, size, "%.2f%%", 100 * v);
    else snprintf(buf, size, "%.1f%%", 100 * v);
}
