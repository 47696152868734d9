/* NumPy .npy arrays (format versions 1-3).  The header is a Python dict
 * literal; we parse just the three keys numpy writes, strictly, so that a
 * corrupt header is reported with its offset instead of misread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct cursor {
    const char *s;
    size_t n, i, base; /* base: file offset of s[0] */
    const char *name;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n')) c->i++;
}

static dt_status bad(cursor *c, const char *what)
{
    return dt_fail(DT_EDATA, "%s: offset %zu: corrupt NPY header: %s", c->name, c->base + c->i, what);
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == ch) { c->i++; return 1; }
    return 0;
}

/* A quoted Python string (no escapes: numpy never writes them here). */
static dt_status string(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->i >= c->n || (c->s[c->i] != '\'' && c->s[c->i] != '"')) return bad(c, "expected a quoted string");
    char q = c->s[c->i++];
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (k + 1 >= cap) return bad(c, "string too long");
        out[k++] = c->s[c->i++];
    }
    if (c->i >= c->n) return bad(c, "unterminated string");
    c->i++;
    out[k] = '\0';
    return DT_OK;
}

static dt_status parse_dict(cursor *c, dt_npy *out, int *fortran)
{
    int seen_descr = 0, seen_order = 0, seen_shape = 0;
    if (!accept(c, '{')) return bad(c, "expected '{'");
    while (!accept(c, '}')) {
        char key[32], val[32];
        dt_status st = string(c, key, sizeof key);
        if (st) return st;
        if (!accept(c, ':')) return bad(c, "expected ':'");
        if (!strcmp(key, "descr")) {
            skip_ws(c);
            size_t at = c->i;
            if ((st = string(c, val, sizeof val))) return st;
            static const struct { const char *s; dt_npy_dtype t; size_t size; } types[] = {
                {"<f4", DT_NPY_F4, 4}, {"<f8", DT_NPY_F8, 8}, {"|u1", DT_NPY_U1, 1},
                {"<u1", DT_NPY_U1, 1}, {"<i4", DT_NPY_I4, 4}, {"<i8", DT_NPY_I8, 8}};
            int found = 0;
            for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
                if (!strcmp(val, types[t].s)) { out->dtype = types[t].t; out->itemsize = types[t].size; found = 1; }
            if (!found)
                return dt_fail(DT_EDATA,
                               "%s: offset %zu: unsupported NPY dtype '%s' (supported: <f4 <f8 |u1 <i4 <i8)",
                               c->name, c->base + at, val);
            seen_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            skip_ws(c);
            if (c->n - c->i >= 4 && !memcmp(c->s + c->i, "True", 4)) { *fortran = 1; c->i += 4; }
            else if (c->n - c->i >= 5 && !memcmp(c->s + c->i, "False", 5)) { *fortran = 0; c->i += 5; }
            else return bad(c, "fortran_order must be True or False");
            seen_order = 1;
        } else if (!strcmp(key, "shape")) {
            if (!accept(c, '(')) return bad(c, "expected '(' for shape");
            out->ndim = 0;
            while (!accept(c, ')')) {
                skip_ws(c);
                if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9') return bad(c, "expected a dimension");
                size_t v = 0;
                while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
                    if (v > (SIZE_MAX - 9) / 10) return bad(c, "dimension too large");
                    v = v * 10 + (size_t)(c->s[c->i++] - '0');
                }
                if (out->ndim >= 8) return bad(c, "more than 8 dimensions");
                out->shape[out->ndim++] = v;
                if (!accept(c, ',')) {
                    if (!accept(c, ')')) return bad(c, "expected ',' or ')' in shape");
                    break;
                }
            }
            seen_shape = 1;
        } else {
            return bad(c, "unknown key");
        }
        if (!accept(c, ',')) {
            if (!accept(c, '}')) return bad(c, "expected ',' or '}'");
            break;
        }
    }
    if (!seen_descr || !seen_order || !seen_shape) return bad(c, "missing descr, fortran_order or shape");
    return DT_OK;
}

/* Validates magic, version and header; sets everything but the data. */
static dt_status parse_header(const uint8_t *buf, size_t len, const char *name, dt_npy *out)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return dt_fail(DT_EDATA, "%s: offset 0: not an NPY file (bad magic)", name);
    int major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return dt_fail(DT_EDATA, "%s: offset %zu: truncated NPY header", name, len);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return dt_fail(DT_EDATA, "%s: offset 6: unsupported NPY version %d", name, major);
    }
    if (hlen > len - hstart)
        return dt_fail(DT_EDATA, "%s: offset %zu: NPY header length %zu runs past the end of the file (%zu bytes)",
                       name, hstart - 2, hlen, len);
    cursor c = {(const char *)buf + hstart, hlen, 0, hstart, name};
    int fortran = 0;
    dt_status st = parse_dict(&c, out, &fortran);
    if (st) return st;
    if (fortran)
        return dt_fail(DT_EDATA, "%s: offset %zu: fortran_order True is not supported (save with C order)", name,
                       hstart);
    size_t count = 1;
    for (int i = 0; i < out->ndim; i++)
        if (__builtin_mul_overflow(count, out->shape[i], &count))
            return dt_fail(DT_EDATA, "%s: offset %zu: NPY shape overflows", name, hstart);
    out->count = count;
    out->data_offset = hstart + hlen;
    size_t have = len - out->data_offset, bytes;
    if (__builtin_mul_overflow(count, out->itemsize, &bytes) || bytes > have)
        return dt_fail(DT_EDATA, "%s: offset %zu: data ends early: shape needs %zu elements, file has %zu bytes",
                       name, len, count, have);
    if (bytes < have)
        return dt_fail(DT_EDATA, "%s: offset %zu: %zu trailing bytes after the array data", name,
                       out->data_offset + bytes, have - bytes);
    return DT_OK;
}

static void convert(const uint8_t *p, dt_npy_dtype t, size_t count, float *dst)
{
    for (size_t i = 0; i < count; i++) {
        switch (t) {
        case DT_NPY_F4: { float v; memcpy(&v, p + 4 * i, 4); dst[i] = v; break; }
        case DT_NPY_F8: { double v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case DT_NPY_I4: { int32_t v; memcpy(&v, p + 4 * i, 4); dst[i] = (float)v; break; }
        case DT_NPY_I8: { int64_t v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case DT_NPY_U1: dst[i] = p[i]; break;
        }
    }
}

/* Fills out->u8 / out->f32 from the payload.  When `own` is set the
 * caller's buffer is reused for uint8 data (no second copy). */
static dt_status take_data(uint8_t *buf, const char *name, dt_npy *out, int own)
{
    const uint8_t *p = buf + out->data_offset;
    size_t n = out->count ? out->count : 1;
    if (out->dtype == DT_NPY_U1) {
        if (own) {
            memmove(buf, p, out->count);
            uint8_t *s = realloc(buf, n);
            out->u8 = s ? s : buf;
            return DT_OK;
        }
        if (!(out->u8 = malloc(n))) return dt_fail(DT_ENOMEM, "%s: out of memory", name);
        memcpy(out->u8, p, out->count);
    } else {
        if (!(out->f32 = malloc(n * sizeof(float)))) {
            if (own) free(buf);
            return dt_fail(DT_ENOMEM, "%s: out of memory", name);
        }
        convert(p, out->dtype, out->count, out->f32);
        if (own) free(buf);
    }
    return DT_OK;
}

dt_status dt_npy_parse(const uint8_t *buf, size_t len, const char *name, dt_npy *out)
{
    dt_status st = parse_header(buf, len, name, out);
    if (st) return st;
    return take_data((uint8_t *)buf, name, out, 0);
}

dt_status dt_npy_load(const char *path, dt_npy *out)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    dt_status st = dt_read_file(path, DT_MAX_INPUT_BYTES, &buf, &len);
    if (st) return st;
    if ((st = parse_header(buf, len, path, out))) { free(buf); return st; }
    return take_data(buf, path, out, 1);
}

void dt_npy_free(dt_npy *a)
{
    free(a->u8);
    free(a->f32);
    memset(a, 0, sizeof *a);
}
