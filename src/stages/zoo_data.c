/* The zoo's data: the data module's generators (spirals, blobs, shapes, sequences,
 * pairs) draw a train file and a test file, the case's data bug is planted
 * in them, and they are written as .npy files that the case's config reads,
 * exactly as a user's broken files would be. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/data.h"
#include "dnntrouble/report.h"
#include "dnntrouble/rng.h"
#include "zoo_internal.h"

/* Train-file rows of the full profile unless the case says; the quick
 * profile (make test) draws half, and a test file is half its train file. */
#define ZOO_TRAIN_ROWS 2400

typedef struct zfield {
    char name[DT_FIELD_NAME_LEN];
    size_t dim;              /* values per sample */
    int ndim;                /* per-sample shape as stored in the npy file */
    size_t shape[3];
    int kind;                /* 0 float32, 1 uint8, 2 int64 ids */
    float *x;                /* n * dim */
} zfield;

typedef struct zset {
    size_t n;
    int nf;
    zfield f[2];
    float *y;
} zset;

static void zset_free(zset *s)
{
    for (int i = 0; i < s->nf; i++) free(s->f[i].x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

static dt_status oom(void) { return dt_fail(DT_ENOMEM, "zoo: out of memory generating data"); }

/* One file's worth of generated rows, copied out of the data module. */
static dt_status generate(const dt_zoo_data *z, size_t n, unsigned long long seed, zset *out, int *classes)
{
    dt_data_spec spec;
    dt_data_spec_defaults(&spec);
    spec.format = DT_FORMAT_SYNTHETIC;
    spec.generator = z->generator;
    spec.samples = n;
    spec.noise = z->noise > 0 ? z->noise : z->generator == DT_GEN_BLOBS ? 0.3 : 0.1;
    spec.normalize = 0;
    spec.seed = seed;
    dt_data *d = NULL;
    dt_status st = dt_data_load(&spec, NULL, &d);
    if (st) return dt_fail_context(st, "zoo: generating data");
    const dt_data_source *src = &d->src[0];
    memset(out, 0, sizeof *out);
    out->n = src->n;
    out->nf = d->n_fields;
    *classes = d->classes;
    out->y = malloc(out->n * sizeof *out->y);
    if (!out->y) goto fail;
    memcpy(out->y, src->y, out->n * sizeof *out->y);
    for (int f = 0; f < d->n_fields; f++) {
        const dt_field *fd = &d->fields[f];
        zfield *zf = &out->f[f];
        snprintf(zf->name, sizeof zf->name, "%s", fd->name);
        zf->dim = fd->sample_dim;
        zf->kind = fd->tokens ? 2 : src->fx[f].u8 ? 1 : 0;
        /* Images are stored (N, H, W): one channel, as the generators draw them. */
        zf->ndim = fd->modality == DT_MODALITY_IMAGE ? 2 : fd->ndim;
        for (int k = 0; k < zf->ndim; k++)
            zf->shape[k] = (size_t)(fd->modality == DT_MODALITY_IMAGE ? fd->shape[k + 1] : fd->shape[k]);
        zf->x = malloc(out->n * zf->dim * sizeof *zf->x);
        if (!zf->x) goto fail;
        for (size_t i = 0; i < out->n * zf->dim; i++)
            zf->x[i] = src->fx[f].u8 ? (float)src->fx[f].u8[i] : src->fx[f].f32[i];
    }
    dt_data_free(d);
    return DT_OK;
fail:
    dt_data_free(d);
    zset_free(out);
    return oom();
}

/* Tabular data: N(0,1) columns after the two real features. */
static dt_status widen(zset *s, int extra, dt_rng *r)
{
    zfield *f = &s->f[0];
    size_t D = f->dim + (size_t)extra;
    float *x = malloc(s->n * D * sizeof *x);
    if (!x) return oom();
    for (size_t i = 0; i < s->n; i++) {
        memcpy(x + i * D, f->x + i * f->dim, f->dim * sizeof *x);
        for (size_t e = f->dim; e < D; e++) x[i * D + e] = (float)dt_rng_normal(r);
    }
    free(f->x);
    f->x = x;
    f->dim = D;
    f->shape[0] = D;
    return DT_OK;
}

/* Keeps rows keep[0..m) (indices into s, repeats allowed) in that order. */
static dt_status select_rows(zset *s, const size_t *keep, size_t m)
{
    float *y = malloc((m ? m : 1) * sizeof *y);
    if (!y) return oom();
    for (size_t i = 0; i < m; i++) y[i] = s->y[keep[i]];
    for (int f = 0; f < s->nf; f++) {
        zfield *zf = &s->f[f];
        float *x = malloc((m ? m : 1) * zf->dim * sizeof *x);
        if (!x) {
            free(y);
            return oom();
        }
        for (size_t i = 0; i < m; i++) memcpy(x + i * zf->dim, zf->x + keep[i] * zf->dim, zf->dim * sizeof *x);
        free(zf->x);
        zf->x = x;
    }
    free(s->y);
    s->y = y;
    s->n = m;
    return DT_OK;
}

static void shuffle_labels(zset *s, dt_rng *r)
{
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)dt_rng_below(r, i);
        float t = s->y[i - 1];
        s->y[i - 1] = s->y[j];
        s->y[j] = t;
    }
}

/* The planted quantity of row i: a smooth function of the two real features. */
static double quantity(const zset *s, size_t i)
{
    const float *x = s->f[0].x + i * s->f[0].dim;
    return x[0] + 0.5 * x[1];
}

/* Plants the train-file bugs (and the test-file ones: shift, shuffle). */
static dt_status plant(const dt_zoo_data *z, zset *tr, zset *te, int K, dt_rng *r)
{
    dt_status st;
    if (z->quantity_levels > 1) {
        /* Levels span the train file's range; test values beyond it take the end levels. */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < tr->n; i++) {
            double q = quantity(tr, i);
            lo = fmin(lo, q);
            hi = fmax(hi, q);
        }
        double w = (hi - lo) / z->quantity_levels;
        for (int k = 0; k < 2; k++) {
            zset *s = k ? te : tr;
            for (size_t i = 0; i < s->n; i++) {
                double l = floor((quantity(s, i) - lo) / (w > 0 ? w : 1));
                s->y[i] = (float)(l < 0 ? 0 : l >= z->quantity_levels ? z->quantity_levels - 1 : l);
            }
        }
    }
    if (z->shift_degrees != 0) {
        double a = z->shift_degrees * 3.141592653589793 / 180.0, c = cos(a), sn = sin(a);
        for (size_t i = 0; i < te->n; i++) {
            float *x = te->f[0].x + i * te->f[0].dim;
            double x0 = x[0], x1 = x[1];
            x[0] = (float)(c * x0 - sn * x1);
            x[1] = (float)(sn * x0 + c * x1);
        }
    }
    if (z->label_noise > 0 && K > 1) {
        /* Exactly round(share * n) rows, drawn without replacement (a partial shuffle). */
        size_t *idx = malloc(tr->n * sizeof *idx), m = (size_t)llround(z->label_noise * (double)tr->n);
        if (!idx) return oom();
        for (size_t i = 0; i < tr->n; i++) idx[i] = i;
        for (size_t i = 0; i < m && i < tr->n; i++) {
            size_t j = i + (size_t)dt_rng_below(r, tr->n - i), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            float *y = &tr->y[idx[i]];
            *y = (float)(((int)*y + 1 + (int)dt_rng_below(r, (uint64_t)(K - 1))) % K);
        }
        free(idx);
    }
    if (z->shuffle_labels) {
        shuffle_labels(tr, r);
        shuffle_labels(te, r);
    }
    if (z->imbalance > 1 && K > 1 && K <= DT_MAX_CLASSES) {
        /* Class k keeps its first round(n_k * imbalance^(-k/(K-1))) rows: an exact ratio. */
        size_t total[DT_MAX_CLASSES] = {0}, kept[DT_MAX_CLASSES] = {0}, m = 0;
        for (size_t i = 0; i < tr->n; i++) total[(int)tr->y[i]]++;
        size_t *keep = malloc(tr->n * sizeof *keep);
        if (!keep) return oom();
        for (size_t i = 0; i < tr->n; i++) {
            int k = (int)tr->y[i];
            if (kept[k] < (size_t)llround((double)total[k] * pow(z->imbalance, -(double)k / (K - 1)))) {
                kept[k]++;
                keep[m++] = i;
            }
        }
        st = select_rows(tr, keep, m);
        free(keep);
        if (st) return st;
    }
    if (z->train_rows > 0 && (size_t)z->train_rows < tr->n) {
        size_t *keep = malloc((size_t)z->train_rows * sizeof *keep);
        if (!keep) return oom();
        for (size_t i = 0; i < (size_t)z->train_rows; i++) keep[i] = i;
        st = select_rows(tr, keep, (size_t)z->train_rows);
        free(keep);
        if (st) return st;
    }
    if (z->leak > 0) {
        /* Test rows copied into the train file, appended at the end. */
        size_t nl = (size_t)llround(z->leak * (double)te->n), m = tr->n + nl;
        float *y = realloc(tr->y, m * sizeof *y);
        if (!y) return oom();
        tr->y = y;
        for (size_t i = 0; i < nl; i++) tr->y[tr->n + i] = te->y[i];
        for (int f = 0; f < tr->nf; f++) {
            float *x = realloc(tr->f[f].x, m * tr->f[f].dim * sizeof *x);
            if (!x) return oom();
            tr->f[f].x = x;
            memcpy(x + tr->n * tr->f[f].dim, te->f[f].x, nl * tr->f[f].dim * sizeof *x);
        }
        tr->n = m;
    }
    if (z->x_scale != 0)
        for (int w = 0; w < 2; w++) {
            zset *s = w ? te : tr;
            for (int f = 0; f < s->nf; f++) {
                if (s->f[f].kind == 2) continue; /* token ids stay ids */
                s->f[f].kind = 0;
                for (size_t i = 0; i < s->n * s->f[f].dim; i++) s->f[f].x[i] *= (float)z->x_scale;
            }
        }
    return DT_OK;
}

/* Writes an .npy file (format 1.0, C order): float32, uint8 or int64. */
static dt_status write_npy(const char *path, int kind, const float *v, size_t n, int ndim, const size_t *shape)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,",
                       kind == 0 ? "<f4" : kind == 1 ? "|u1" : "<i8", n);
    size_t count = n;
    for (int k = 0; k < ndim; k++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, " %zu,", shape[k]);
        count *= shape[k];
    }
    if (ndim > 0) dict[--len] = '\0';  /* (N, D) not (N, D,) */
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    size_t item = kind == 0 ? 4 : kind == 1 ? 1 : 8;
    size_t head = 10 + (size_t)len + 1, pad = (64 - head % 64) % 64;
    size_t total = head + pad + count * item;
    unsigned char *buf = malloc(total);
    if (!buf) return oom();
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hl = (size_t)len + pad + 1;
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', pad);
    buf[head + pad - 1] = '\n';
    unsigned char *p = buf + head + pad;
    for (size_t i = 0; i < count; i++) {
        if (kind == 0) {
            float f = v[i];
            memcpy(p + 4 * i, &f, 4);
        } else if (kind == 1) {
            float c = v[i] < 0 ? 0 : v[i] > 255 ? 255 : v[i];
            p[i] = (unsigned char)lrintf(c);
        } else {
            long long q = llrintf(v[i]);
            for (int b = 0; b < 8; b++) p[8 * i + (size_t)b] = (unsigned char)((unsigned long long)q >> (8 * b));
        }
    }
    dt_status st = dt_write_file_atomic(path, buf, total);
    free(buf);
    return st;
}

/* path as a YAML single-quoted scalar ('' stands for a quote). */
static int yaml_quoted(char *buf, size_t size, const char *path)
{
    size_t n = 0;
    if (size < 3) return 0;
    buf[n++] = '\'';
    for (const char *p = path; *p && n + 3 < size; p++) {
        if (*p == '\'') buf[n++] = '\'';
        buf[n++] = *p;
    }
    buf[n++] = '\'';
    buf[n] = '\0';
    return (int)n;
}

static dt_status write_set(const zset *s, const char *dir, const char *which, char *xset,
                           char *yset, size_t size)
{
    char path[1200], q[1300];
    dt_status st;
    int n = snprintf(xset, size, "data.%s.x=", which);
    if (s->nf > 1) n += snprintf(xset + n, size - (size_t)n, "{");
    for (int f = 0; f < s->nf; f++) {
        snprintf(path, sizeof path, "%s/%s_%s.npy", dir, which, s->f[f].name);
        if ((st = write_npy(path, s->f[f].kind, s->f[f].x, s->n, s->f[f].ndim, s->f[f].shape))) return st;
        yaml_quoted(q, sizeof q, path);
        if ((size_t)n + strlen(q) + 64 >= size) return dt_fail(DT_EIO, "zoo: output path too long: '%s'", dir);
        if (s->nf > 1) n += snprintf(xset + n, size - (size_t)n, "%s%s: %s", f ? ", " : "", s->f[f].name, q);
        else n += snprintf(xset + n, size - (size_t)n, "%s", q);
    }
    if (s->nf > 1) snprintf(xset + n, size - (size_t)n, "}");
    snprintf(path, sizeof path, "%s/%s_y.npy", dir, which);
    if ((st = write_npy(path, 2, s->y, s->n, 0, NULL))) return st;
    yaml_quoted(q, sizeof q, path);
    snprintf(yset, size, "data.%s.y=%s", which, q);
    return DT_OK;
}

dt_status dt_zoo_make_data(const dt_zoo_data *z, int quick, unsigned long long seed, const char *dir,
                           char sets[DT_ZOO_DATA_SETS][DT_ZOO_SET_LEN], int *n)
{
    zset tr = {0}, te = {0};
    int K = 0;
    dt_rng r;
    dt_rng_seed(&r, seed * 0x9E3779B97F4A7C15ull + 0x200);
    dt_status st = dt_mkdir_p(dir);
    size_t rows = (size_t)(z->rows > 0 ? z->rows : ZOO_TRAIN_ROWS) / (quick ? 2 : 1);
    if (!st) st = generate(z, rows, 2 * seed + 1, &tr, &K);
    if (!st) st = generate(z, rows / 2, 2 * seed + 2, &te, &K);
    if (!st && z->extra_features > 0 && tr.nf == 1 && tr.f[0].kind == 0) {
        st = widen(&tr, z->extra_features, &r);
        if (!st) st = widen(&te, z->extra_features, &r);
    }
    if (!st) st = plant(z, &tr, &te, K, &r);
    *n = 0;
    if (!st) {
        snprintf(sets[(*n)++], DT_ZOO_SET_LEN, "data.format=npy");
        st = write_set(&tr, dir, "train", sets[*n], sets[*n + 1], DT_ZOO_SET_LEN);
        *n += 2;
    }
    if (!st) {
        st = write_set(&te, dir, "test", sets[*n], sets[*n + 1], DT_ZOO_SET_LEN);
        *n += 2;
    }
    if (!st && z->generator == DT_GEN_SEQUENCES) snprintf(sets[(*n)++], DT_ZOO_SET_LEN, "data.modality=sequence");
    zset_free(&tr);
    zset_free(&te);
    return st;
}
