/* safetensors reader and writer (float32), see include/dnntrouble/safetensors.h.
 *
 * The reader works on a "source" (a FILE or a memory buffer) through one
 * read-at-offset function, so the file path and the in-memory path (unit
 * tests, fuzzing) share every check.  Order of work: header length vs size,
 * header bytes, JSON, per-entry checks, name uniqueness, offsets sorted and
 * checked against each other and the data block, and only then one
 * allocation for all values (at most the data block's size) and the reads. */
#include "dnntrouble/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dnntrouble/report.h"

typedef unsigned long long ull;

/* ------------------------------------------------------------ byte order */

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Little-endian float32 bytes -> host floats, in place. */
static void floats_from_le(float *x, size_t n)
{
    if (host_is_le()) return;
    unsigned char *b = (unsigned char *)x;
    for (size_t i = 0; i < n; i++, b += 4) {
        unsigned char t0 = b[0], t1 = b[1];
        b[0] = b[3]; b[1] = b[2]; b[2] = t1; b[3] = t0;
    }
}

static void floats_to_le(unsigned char *dst, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int k = 0; k < 4; k++) dst[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
}

const char *dt_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t len)
{
    size_t off = 0;
    if (!len) return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
    return buf;
}

/* ------------------------------------------------------------ sources */

typedef struct st_src {
    const char *label;
    FILE *fp;                       /* file source, or */
    const unsigned char *buf;       /* memory source */
    uint64_t size;
} st_src;

static dt_status src_read(const st_src *s, uint64_t off, void *dst, size_t len)
{
    if (len == 0) return DT_OK;
    if (off > s->size || len > s->size - off)
        return dt_fail(DT_EDATA, "%s: byte %llu: unexpected end of file (%llu bytes)", s->label,
                       (ull)off, (ull)s->size);
    if (s->buf) {
        memcpy(dst, s->buf + off, len);
        return DT_OK;
    }
    if (fseeko(s->fp, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, len, s->fp) != len)
        return dt_fail(DT_EDATA, "%s: byte %llu: cannot read %zu bytes: %s", s->label, (ull)off, len,
                       ferror(s->fp) ? strerror(errno) : "file changed while reading");
    return DT_OK;
}

/* ------------------------------------------------------------ header checks */

typedef struct st_entry {
    const cJSON *item;              /* the tensor's JSON object */
    const char *name;               /* points into the parsed JSON */
    int ndim;
    int64_t shape[DT_ST_MAX_DIMS];
    uint64_t numel, begin, end;
} st_entry;

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static dt_status check_entry(const st_src *s, const cJSON *item, uint64_t data_len, st_entry *e)
{
    const char *nm = item->string;
    e->item = item;
    e->name = nm;
    if (!nm[0]) return dt_fail(DT_EDATA, "%s: header: a tensor has an empty name", s->label);
    if (!cJSON_IsObject(item))
        return dt_fail(DT_EDATA, "%s: tensor '%s': header entry is not a JSON object", s->label, nm);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype))
        return dt_fail(DT_EDATA, "%s: tensor '%s': \"dtype\" missing or not a string", s->label, nm);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return dt_fail(DT_EDATA, "%s: tensor '%s': dtype %s is not supported (only F32)", s->label, nm,
                       dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return dt_fail(DT_EDATA, "%s: tensor '%s': \"shape\" missing or not an array", s->label, nm);
    int nd = cJSON_GetArraySize(shape);
    if (nd > DT_ST_MAX_DIMS)
        return dt_fail(DT_EDATA, "%s: tensor '%s': %d dimensions (at most %d supported)", s->label, nm,
                       nd, DT_ST_MAX_DIMS);
    e->ndim = nd;
    uint64_t numel = 1;
    int too_big = 0, k = 0;
    for (const cJSON *d = shape->child; d; d = d->next, k++) {
        uint64_t v;
        if (!json_u64(d, &v))
            return dt_fail(DT_EDATA, "%s: tensor '%s': shape entry %d is not a non-negative integer",
                           s->label, nm, k);
        e->shape[k] = (int64_t)v;
        if (v == 0) numel = 0;
        else if (numel > UINT64_MAX / v) too_big = 1;
        else numel *= v;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_u64(offs->child, &e->begin) ||
        !json_u64(offs->child->next, &e->end))
        return dt_fail(DT_EDATA, "%s: tensor '%s': \"data_offsets\" must be [begin, end] with "
                       "non-negative integers", s->label, nm);
    if (e->begin > e->end)
        return dt_fail(DT_EDATA, "%s: tensor '%s': data_offsets [%llu,%llu] end before they begin",
                       s->label, nm, (ull)e->begin, (ull)e->end);
    char sh[96];
    dt_st_shape_str(e->shape, nd, sh, sizeof sh);
    if (too_big || numel > UINT64_MAX / 4)
        return dt_fail(DT_EDATA, "%s: tensor '%s': shape %s has more elements than any file can hold",
                       s->label, nm, sh);
    if (numel * 4 != e->end - e->begin)
        return dt_fail(DT_EDATA, "%s: tensor '%s': shape %s of F32 needs %llu bytes but data_offsets "
                       "[%llu,%llu] span %llu", s->label, nm, sh, (ull)(numel * 4), (ull)e->begin,
                       (ull)e->end, (ull)(e->end - e->begin));
    if (e->end > data_len)
        return dt_fail(DT_EDATA, "%s: tensor '%s': data_offsets [%llu,%llu] reach past the end of the "
                       "%llu-byte data block (the file ends at byte %llu)", s->label, nm,
                       (ull)e->begin, (ull)e->end, (ull)data_len, (ull)s->size);
    e->numel = numel;
    return DT_OK;
}

static int by_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static dt_status check_unique(const st_src *s, st_entry *e, int n)
{
    if (n < 2) return DT_OK;
    const st_entry **p = malloc((size_t)n * sizeof *p);
    if (!p) return dt_fail(DT_ENOMEM, "%s: out of memory", s->label);
    for (int i = 0; i < n; i++) p[i] = &e[i];
    qsort(p, (size_t)n, sizeof *p, by_name);
    for (int i = 1; i < n; i++)
        if (!strcmp(p[i]->name, p[i - 1]->name)) {
            dt_status st = dt_fail(DT_EDATA, "%s: tensor '%s' appears twice in the header", s->label,
                                   p[i]->name);
            free(p);
            return st;
        }
    free(p);
    return DT_OK;
}

/* Sorted by begin: each non-empty tensor must start at or after the previous one's end. */
static dt_status check_overlap(const st_src *s, st_entry *e, int n)
{
    qsort(e, (size_t)n, sizeof *e, by_begin);
    const st_entry *prev = NULL;
    for (int i = 0; i < n; i++) {
        if (e[i].begin == e[i].end) continue;
        if (prev && e[i].begin < prev->end)
            return dt_fail(DT_EDATA, "%s: tensor '%s': data_offsets [%llu,%llu] overlap tensor '%s' "
                           "[%llu,%llu]", s->label, e[i].name, (ull)e[i].begin, (ull)e[i].end,
                           prev->name, (ull)prev->begin, (ull)prev->end);
        prev = &e[i];
    }
    return DT_OK;
}

static dt_status check_metadata(const st_src *s, const cJSON *meta, size_t *strbytes)
{
    if (!cJSON_IsObject(meta)) return dt_fail(DT_EDATA, "%s: header: \"__metadata__\" is not an object", s->label);
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return dt_fail(DT_EDATA, "%s: header: __metadata__ value of '%s' is not a string", s->label,
                           kv->string);
        *strbytes += strlen(kv->string) + strlen(kv->valuestring) + 2;
    }
    return DT_OK;
}

/* ------------------------------------------------------------ reading */

static char *pool_put(char **cur, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = memcpy(*cur, s, n);
    *cur += n;
    return p;
}

/* Fills f from the parsed, validated header (entries sorted by offset). */
static dt_status load_values(const st_src *s, uint64_t data_start, const st_entry *e, int n,
                             const cJSON *meta, size_t strbytes, dt_st_file *f)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)e[i].numel; /* <= data block / 4: validated */
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    f->strings_ = malloc(strbytes + 1);
    f->data_ = malloc((total ? total : 1) * sizeof(float));
    int n_meta = meta ? cJSON_GetArraySize(meta) : 0;
    f->meta = calloc((size_t)n_meta + 1, sizeof *f->meta);
    if (!f->tensors || !f->strings_ || !f->data_ || !f->meta)
        return dt_fail(DT_ENOMEM, "%s: out of memory for %zu values", s->label, total);
    char *cur = f->strings_;
    for (const cJSON *kv = meta ? meta->child : NULL; kv; kv = kv->next, f->n_meta++) {
        f->meta[f->n_meta].key = pool_put(&cur, kv->string);
        f->meta[f->n_meta].value = pool_put(&cur, kv->valuestring);
    }
    float *d = f->data_;
    for (int i = 0; i < n; i++) {
        dt_st_tensor *t = &f->tensors[i];
        t->name = pool_put(&cur, e[i].name);
        t->ndim = e[i].ndim;
        memcpy(t->shape, e[i].shape, sizeof t->shape);
        t->numel = (size_t)e[i].numel;
        t->data = d;
        dt_status st = src_read(s, data_start + e[i].begin, d, t->numel * sizeof(float));
        if (st) return dt_fail_context(st, "tensor '%s'", t->name);
        floats_from_le(d, t->numel);
        d += t->numel;
        f->n_tensors++;
    }
    return DT_OK;
}

static dt_status parse_json(const st_src *s, const char *hdr, size_t n, const cJSON **meta,
                            st_entry **entries, int *n_entries, size_t *strbytes, cJSON **root_out)
{
    uint64_t data_len = s->size - 8 - n;
    if (hdr[0] != '{')
        return dt_fail(DT_EDATA, "%s: byte 8: header does not start with '{'", s->label);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        return dt_fail(DT_EDATA, "%s: byte %llu: header is not valid JSON", s->label, (ull)(8 + at));
    }
    *root_out = root;
    for (size_t i = (size_t)(end - hdr); i < n; i++)
        if (hdr[i] != ' ' && hdr[i] != '\t' && hdr[i] != '\n' && hdr[i] != '\r')
            return dt_fail(DT_EDATA, "%s: byte %llu: unexpected bytes after the header's JSON object",
                           s->label, (ull)(8 + i));
    if (!cJSON_IsObject(root)) return dt_fail(DT_EDATA, "%s: byte 8: header is not a JSON object", s->label);
    int count = cJSON_GetArraySize(root);
    st_entry *e = calloc((size_t)count + 1, sizeof *e);
    if (!e) return dt_fail(DT_ENOMEM, "%s: out of memory", s->label);
    *entries = e;
    int k = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (*meta) return dt_fail(DT_EDATA, "%s: header: \"__metadata__\" appears twice", s->label);
            dt_status st = check_metadata(s, item, strbytes);
            if (st) return st;
            *meta = item;
            continue;
        }
        dt_status st = check_entry(s, item, data_len, &e[k]);
        if (st) return st;
        *strbytes += strlen(e[k].name) + 1;
        k++;
    }
    *n_entries = k;
    dt_status st = check_unique(s, e, k);
    return st ? st : check_overlap(s, e, k);
}

static dt_status st_load(const st_src *s, dt_st_file **out)
{
    *out = NULL;
    unsigned char lenb[8];
    if (s->size < 8)
        return dt_fail(DT_EDATA, "%s: byte 0: file is %llu bytes, shorter than the 8-byte header length",
                       s->label, (ull)s->size);
    dt_status st = src_read(s, 0, lenb, 8);
    if (st) return st;
    uint64_t n = le64(lenb);
    if (n > s->size - 8)
        return dt_fail(DT_EDATA, "%s: byte 0: header length %llu exceeds the %llu bytes that follow it "
                       "(not a safetensors file, or truncated)", s->label, (ull)n, (ull)(s->size - 8));
    if (n > DT_ST_MAX_HEADER)
        return dt_fail(DT_EDATA, "%s: byte 0: header length %llu exceeds the limit of %u bytes", s->label,
                       (ull)n, DT_ST_MAX_HEADER);
    if (n < 2) return dt_fail(DT_EDATA, "%s: byte 0: header length %llu is too short for JSON", s->label, (ull)n);
    char *hdr = malloc((size_t)n + 1);
    if (!hdr) return dt_fail(DT_ENOMEM, "%s: out of memory for a %llu-byte header", s->label, (ull)n);
    st = src_read(s, 8, hdr, (size_t)n);
    hdr[n] = '\0';
    cJSON *root = NULL;
    const cJSON *meta = NULL;
    st_entry *e = NULL;
    int ne = 0;
    size_t strbytes = 0;
    if (!st) st = parse_json(s, hdr, (size_t)n, &meta, &e, &ne, &strbytes, &root);
    dt_st_file *f = NULL;
    if (!st && !(f = calloc(1, sizeof *f))) st = dt_fail(DT_ENOMEM, "%s: out of memory", s->label);
    if (!st) st = load_values(s, 8 + n, e, ne, meta, strbytes, f);
    free(e);
    cJSON_Delete(root);
    free(hdr);
    if (st) {
        dt_st_free(f);
        return st;
    }
    *out = f;
    return DT_OK;
}

dt_status dt_st_parse(const void *buf, size_t len, const char *label, dt_st_file **out)
{
    st_src s = {.label = label ? label : "(memory)", .buf = buf, .size = len};
    static const unsigned char empty[1];
    if (!s.buf) s.buf = empty;
    return st_load(&s, out);
}

dt_status dt_st_read(const char *path, dt_st_file **out)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return dt_fail(DT_EDATA, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return dt_fail(DT_EDATA, "%s: not a regular file", path);
    }
    st_src s = {.label = path, .fp = fp, .size = (uint64_t)sb.st_size};
    dt_status st = st_load(&s, out);
    fclose(fp);
    return st;
}

void dt_st_free(dt_st_file *f)
{
    if (!f) return;
    free(f->tensors);
    free(f->meta);
    free(f->strings_);
    free(f->data_);
    free(f);
}

const dt_st_tensor *dt_st_get(const dt_st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *dt_st_meta(const dt_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}

/* ------------------------------------------------------------ writing */

static dt_status check_write_args(const char *path, const dt_st_tensor *t, int n, const dt_st_kv *meta,
                                  int n_meta, size_t *total)
{
    *total = 0;
    if (n < 0 || n_meta < 0 || (n && !t) || (n_meta && !meta))
        return dt_fail(DT_EINTERNAL, "%s: safetensors writer: bad arguments", path);
    for (int i = 0; i < n; i++) {
        const char *nm = t[i].name;
        if (!nm || !nm[0] || !strcmp(nm, "__metadata__"))
            return dt_fail(DT_EINTERNAL, "%s: tensor %d: name '%s' is not allowed", path, i, nm ? nm : "");
        for (int j = 0; j < i; j++)
            if (!strcmp(t[j].name, nm)) return dt_fail(DT_EINTERNAL, "%s: tensor '%s' given twice", path, nm);
        if (t[i].ndim < 0 || t[i].ndim > DT_ST_MAX_DIMS)
            return dt_fail(DT_EINTERNAL, "%s: tensor '%s': %d dimensions", path, nm, t[i].ndim);
        size_t k = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0) return dt_fail(DT_EINTERNAL, "%s: tensor '%s': negative dimension", path, nm);
            k *= (size_t)t[i].shape[d];
        }
        if (k && !t[i].data) return dt_fail(DT_EINTERNAL, "%s: tensor '%s': no data", path, nm);
        *total += k;
    }
    for (int i = 0; i < n_meta; i++)
        if (!meta[i].key || !meta[i].value)
            return dt_fail(DT_EINTERNAL, "%s: metadata entry %d is incomplete", path, i);
    return DT_OK;
}

static size_t numel_of(const dt_st_tensor *t)
{
    size_t k = 1;
    for (int d = 0; d < t->ndim; d++) k *= (size_t)t->shape[d];
    return k;
}

/* The header JSON, unpadded; NULL when out of memory. */
static char *header_json(const dt_st_tensor *t, int n, const dt_st_kv *meta, int n_meta)
{
    cJSON *root = cJSON_CreateObject(), *ok = root;
    if (root && n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < n_meta && ok; i++)
            if (!cJSON_AddStringToObject(m, meta[i].key, meta[i].value)) ok = NULL;
        if (!m) ok = NULL;
    }
    size_t off = 0;
    for (int i = 0; i < n && ok; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name), *shape, *offs;
        if (!e || !cJSON_AddStringToObject(e, "dtype", "F32") ||
            !(shape = cJSON_AddArrayToObject(e, "shape")) || !(offs = cJSON_AddArrayToObject(e, "data_offsets"))) {
            ok = NULL;
            break;
        }
        for (int d = 0; d < t[i].ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
        size_t bytes = numel_of(&t[i]) * sizeof(float);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        if (cJSON_GetArraySize(shape) != t[i].ndim || cJSON_GetArraySize(offs) != 2) ok = NULL;
        off += bytes;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

dt_status dt_st_write(const char *path, const dt_st_tensor *tensors, int n, const dt_st_kv *meta, int n_meta)
{
    size_t total;
    dt_status st = check_write_args(path, tensors, n, meta, n_meta, &total);
    if (st) return st;
    char *json = header_json(tensors, n, meta, n_meta);
    if (!json) return dt_fail(DT_ENOMEM, "%s: out of memory building the safetensors header", path);
    size_t hlen = strlen(json), padded = (hlen + 7) & ~(size_t)7;
    size_t len = 8 + padded + total * sizeof(float);
    unsigned char *buf = malloc(len);
    if (!buf) {
        cJSON_free(json);
        return dt_fail(DT_ENOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)padded >> (8 * k));
    memcpy(buf + 8, json, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    cJSON_free(json);
    unsigned char *p = buf + 8 + padded;
    for (int i = 0; i < n; i++) {
        size_t k = numel_of(&tensors[i]);
        floats_to_le(p, tensors[i].data, k);
        p += k * sizeof(float);
    }
    st = dt_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
