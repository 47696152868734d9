/* CSV tables: numeric features, one label column, an optional string
 * slice column.  Parsed line by line from memory so that every message can
 * name the line and the column (field number, 1-based). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_SLICES 1024

/* Fields of one line, unquoted into a scratch buffer. */
typedef struct fields {
    char *buf;
    size_t buf_cap;
    size_t *off;
    size_t n, cap;
} fields;

static int fields_push(fields *f, size_t off)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        size_t *no = realloc(f->off, nc * sizeof *no);
        if (!no) return -1;
        f->off = no;
        f->cap = nc;
    }
    f->off[f->n++] = off;
    return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Splits s[0..n) into fields.  delim ' ' treats runs of blanks as one
 * separator (space-separated numeric files such as numpy.savetxt output). */
static dt_status split_line(const char *s, size_t n, char delim, fields *f, const char *name, size_t line)
{
    if (f->buf_cap < n + 1) {
        char *nb = realloc(f->buf, n + 1);
        if (!nb) return dt_fail(DT_ENOMEM, "%s: line %zu: out of memory", name, line);
        f->buf = nb;
        f->buf_cap = n + 1;
    }
    f->n = 0;
    size_t i = 0, w = 0;
    int blanks = delim == ' ';
    if (blanks) while (i < n && is_blank(s[i])) i++;
    for (;;) {
        if (fields_push(f, w)) return dt_fail(DT_ENOMEM, "%s: line %zu: out of memory", name, line);
        /* Skip blanks before a quote so that `a, "b"` works. */
        size_t j = i;
        while (j < n && is_blank(s[j]) && s[j] != delim) j++;
        if (j < n && s[j] == '"') {
            i = j + 1;
            for (;;) {
                if (i >= n)
                    return dt_fail(DT_EDATA, "%s: line %zu, column %zu: unterminated quote", name, line, f->n);
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') { f->buf[w++] = '"'; i += 2; continue; }
                    i++;
                    break;
                }
                f->buf[w++] = s[i++];
            }
            while (i < n && is_blank(s[i]) && s[i] != delim) i++;
            if (i < n && s[i] != delim && !(blanks && is_blank(s[i])))
                return dt_fail(DT_EDATA, "%s: line %zu, column %zu: text after closing quote", name, line, f->n);
        } else {
            while (i < n && s[i] != delim && !(blanks && is_blank(s[i]))) f->buf[w++] = s[i++];
        }
        f->buf[w++] = '\0';
        if (i >= n) break;
        i++; /* the delimiter */
        if (blanks) {
            while (i < n && is_blank(s[i])) i++;
            if (i >= n) break; /* trailing blanks */
        }
    }
    return DT_OK;
}

/* Trims blanks in place (NUL-terminated field). */
static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1])) s[--n] = '\0';
    return s;
}

static dt_status parse_number(char *cell, float *v, const char *name, size_t line, size_t col)
{
    char *t = trim(cell), *end;
    if (!*t) return dt_fail(DT_EDATA, "%s: line %zu, column %zu: empty cell", name, line, col);
    double d = strtod(t, &end);
    if (end == t || *end)
        return dt_fail(DT_EDATA, "%s: line %zu, column %zu: not a number: \"%.40s\"", name, line, col, t);
    if (!isfinite(d) || !isfinite((float)d))
        return dt_fail(DT_EDATA, "%s: line %zu, column %zu: NaN or infinite value \"%.40s\"", name, line, col, t);
    *v = (float)d;
    return DT_OK;
}

dt_status dt_check_label(double v, int classification, const char *name, const char *where)
{
    if (!isfinite(v)) return dt_fail(DT_EDATA, "%s: %s: label is NaN or infinite", name, where);
    if (classification && (v != floor(v) || v < 0 || v >= DT_MAX_CLASSES))
        return dt_fail(DT_EDATA, "%s: %s: class label %g is out of range (integers 0..%d)%s", name, where, v,
                       DT_MAX_CLASSES - 1,
                       v != floor(v) ? "; if the label is a quantity, set task: regression (cross_entropy needs class ids)"
                                     : "");
    return DT_OK;
}

static dt_status slice_id(dt_slice_table *t, const char *s, int *id, const char *name, size_t line)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->names[i], s)) { *id = i; return DT_OK; }
    if (t->n >= MAX_SLICES)
        return dt_fail(DT_EDATA, "%s: line %zu: more than %d distinct values in the slice column", name, line,
                       MAX_SLICES);
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 16;
        char **nn = realloc(t->names, (size_t)nc * sizeof *nn);
        if (!nn) return dt_fail(DT_ENOMEM, "%s: out of memory", name);
        t->names = nn;
        t->cap = nc;
    }
    if (!(t->names[t->n] = strdup(s))) return dt_fail(DT_ENOMEM, "%s: out of memory", name);
    *id = t->n++;
    return DT_OK;
}

/* Grows a row-major array to hold `rows` rows of `width` elements. */
static int grow(void **p, size_t *cap, size_t rows, size_t width, size_t elem)
{
    if (rows <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < rows) nc *= 2;
    void *np = realloc(*p, nc * (width ? width : 1) * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

typedef struct layout {
    size_t ncols;
    long label, slice; /* column indices, -1: none */
} layout;

static dt_status resolve_columns(const dt_csv_options *o, const fields *hdr, int have_header, size_t ncols,
                                 const char *name, size_t line, layout *L)
{
    L->ncols = ncols;
    L->label = L->slice = -1;
    if (o->label_name && o->label_name[0]) {
        if (!have_header)
            return dt_fail(DT_ECONFIG, "%s: label column \"%s\" given by name, but the file has no header",
                           name, o->label_name);
        for (size_t c = 0; c < ncols; c++)
            if (!strcmp(trim(hdr->buf + hdr->off[c]), o->label_name)) L->label = (long)c;
        if (L->label < 0)
            return dt_fail(DT_ECONFIG, "%s: line %zu: label column \"%s\" not found in the header", name, line,
                           o->label_name);
    } else if (o->label_index != DT_CSV_NO_LABEL) {
        long idx = o->label_index < 0 ? (long)ncols + o->label_index : o->label_index;
        if (idx < 0 || idx >= (long)ncols)
            return dt_fail(DT_ECONFIG, "%s: line %zu: label column %d does not exist (%zu columns)", name, line,
                           o->label_index, ncols);
        L->label = idx;
    }
    if (o->slice_column && o->slice_column[0]) {
        if (!have_header)
            return dt_fail(DT_ECONFIG, "%s: slice column \"%s\" needs a header row", name, o->slice_column);
        for (size_t c = 0; c < ncols; c++)
            if (!strcmp(trim(hdr->buf + hdr->off[c]), o->slice_column)) L->slice = (long)c;
        if (L->slice < 0)
            return dt_fail(DT_ECONFIG, "%s: line %zu: slice column \"%s\" not found in the header", name, line,
                           o->slice_column);
        if (L->slice == L->label)
            return dt_fail(DT_ECONFIG, "%s: slice column \"%s\" is also the label column", name, o->slice_column);
    }
    size_t used = (L->label >= 0) + (L->slice >= 0);
    if (ncols <= used) return dt_fail(DT_EDATA, "%s: line %zu: no feature columns", name, line);
    return DT_OK;
}

dt_status dt_csv_parse(const uint8_t *buf, size_t len, const char *name, const dt_csv_options *o,
                       dt_slice_table *slices, dt_csv *out)
{
    memset(out, 0, sizeof *out);
    dt_slice_table local = {0};
    if (!slices) slices = &local;
    fields f = {0}, hdr = {0};
    layout L = {0};
    size_t cap_x = 0, cap_y = 0, cap_s = 0, line = 0, header_line = 0, pos = 0;
    int have_layout = 0, need_header = o->header;
    dt_status st = DT_OK;
    char where[96];

    while (pos < len) {
        const char *s = (const char *)buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        line++;
        if (n && s[n - 1] == '\r') n--;
        if ((long)line <= o->skip_rows) continue;
        size_t k = 0;
        while (k < n && (is_blank(s[k]) || s[k] == '\r')) k++;
        if (k == n) continue; /* blank line */
        if (memchr(s, '\0', n)) { st = dt_fail(DT_EDATA, "%s: line %zu: NUL byte in text", name, line); goto fail; }

        if (need_header) {
            if ((st = split_line(s, n, o->delimiter, &hdr, name, line))) goto fail;
            header_line = line;
            need_header = 0;
            if ((st = resolve_columns(o, &hdr, 1, hdr.n, name, line, &L))) goto fail;
            have_layout = 1;
            continue;
        }
        if ((st = split_line(s, n, o->delimiter, &f, name, line))) goto fail;
        if (!have_layout) {
            if ((st = resolve_columns(o, &hdr, 0, f.n, name, line, &L))) goto fail;
            have_layout = 1;
            header_line = line;
        }
        if (f.n != L.ncols) {
            st = dt_fail(DT_EDATA, "%s: line %zu: ragged row: %zu columns, expected %zu (as on line %zu)", name,
                         line, f.n, L.ncols, header_line);
            goto fail;
        }
        size_t cols = L.ncols - (L.label >= 0) - (L.slice >= 0);
        size_t r = out->rows;
        if (grow((void **)&out->x, &cap_x, r + 1, cols, sizeof(float)) ||
            (L.label >= 0 && grow((void **)&out->y, &cap_y, r + 1, 1, sizeof(float))) ||
            (L.slice >= 0 && grow((void **)&out->slice, &cap_s, r + 1, 1, sizeof(int)))) {
            st = dt_fail(DT_ENOMEM, "%s: line %zu: out of memory", name, line);
            goto fail;
        }
        size_t j = 0;
        for (size_t c = 0; c < L.ncols; c++) {
            char *cell = f.buf + f.off[c];
            if ((long)c == L.slice) {
                if ((st = slice_id(slices, trim(cell), &out->slice[r], name, line))) goto fail;
            } else if ((long)c == L.label) {
                if ((st = parse_number(cell, &out->y[r], name, line, c + 1))) goto fail;
                snprintf(where, sizeof where, "line %zu, column %zu", line, c + 1);
                if ((st = dt_check_label(out->y[r], o->classification, name, where))) goto fail;
            } else {
                if ((st = parse_number(cell, &out->x[r * cols + j++], name, line, c + 1))) goto fail;
            }
        }
        out->rows++;
        out->cols = cols;
    }
    if (out->rows == 0) {
        st = line == 0 ? dt_fail(DT_EDATA, "%s: offset 0: empty file", name)
                       : dt_fail(DT_EDATA, "%s: line %zu: no data rows", name, line);
        goto fail;
    }
    free(f.buf); free(f.off); free(hdr.buf); free(hdr.off);
    dt_slice_table_free(&local);
    return DT_OK;
fail:
    free(f.buf); free(f.off); free(hdr.buf); free(hdr.off);
    dt_slice_table_free(&local);
    dt_csv_free(out);
    return st;
}

dt_status dt_csv_load(const char *path, const dt_csv_options *o, dt_slice_table *slices, dt_csv *out)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    dt_status st = dt_read_file(path, DT_MAX_INPUT_BYTES, &buf, &len);
    if (st) return st;
    st = dt_csv_parse(buf, len, path, o, slices, out);
    free(buf);
    return st;
}

void dt_csv_free(dt_csv *c)
{
    free(c->x);
    free(c->y);
    free(c->slice);
    memset(c, 0, sizeof *c);
}
