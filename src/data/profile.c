/* Train-split statistics (normalization and the profile), class counts,
 * non-finite values and train/test duplicates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Raw bytes of one field of a sample, for exact-match duplicate detection. */
static const uint8_t *sample_bytes(const dt_data *d, const dt_data_source *s, int f, size_t row, size_t *len)
{
    size_t D = d->fields[f].sample_dim;
    if (s->fx[f].u8) { *len = D; return s->fx[f].u8 + row * D; }
    if (s->fx[f].f32) { *len = D * sizeof(float); return (const uint8_t *)(s->fx[f].f32 + row * D); }
    *len = s->stride; /* text: the window of seq_len ids */
    return s->text + row * s->stride;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull; /* FNV-1a */
    return h;
}

/* One hash over every field of a sample. */
static uint64_t hash_sample(const dt_data *d, const dt_data_source *s, size_t row)
{
    uint64_t h = 1469598103934665603ull;
    for (int f = 0; f < d->n_fields; f++) {
        size_t len;
        const uint8_t *b = sample_bytes(d, s, f, row, &len);
        h = hash_bytes(h, b, len);
    }
    return h;
}

static int same_sample(const dt_data *d, const dt_data_source *a, size_t ra, const dt_data_source *b, size_t rb)
{
    for (int f = 0; f < d->n_fields; f++) {
        size_t la, lb;
        const uint8_t *pa = sample_bytes(d, a, f, ra, &la), *pb = sample_bytes(d, b, f, rb, &lb);
        if (la != lb || memcmp(pa, pb, la)) return 0;
    }
    return 1;
}

typedef struct hrow { uint64_t h; size_t row; } hrow;

static int cmp_hrow(const void *a, const void *b)
{
    const hrow *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static dt_status find_duplicates(dt_data *d)
{
    dt_data_profile *p = &d->profile;
    size_t nt = d->count[DT_SPLIT_TRAIN];
    const dt_data_source *ts = &d->src[d->split_src[DT_SPLIT_TRAIN]];
    hrow *h = malloc((nt ? nt : 1) * sizeof *h);
    if (!h) return dt_fail(DT_ENOMEM, "profiling data: out of memory");
    for (size_t i = 0; i < nt; i++) {
        h[i].h = hash_sample(d, ts, d->rows[DT_SPLIT_TRAIN][i]);
        h[i].row = i;
    }
    qsort(h, nt, sizeof *h, cmp_hrow);
    for (int s = DT_SPLIT_TEST_VAL; s <= DT_SPLIT_TEST; s++) {
        const dt_data_source *src = &d->src[d->split_src[s]];
        for (size_t i = 0; i < d->count[s]; i++) {
            hrow key = {hash_sample(d, src, d->rows[s][i]), 0};
            size_t lo = 0, hi = nt;
            while (lo < hi) { /* first entry with this hash */
                size_t mid = lo + (hi - lo) / 2;
                if (h[mid].h < key.h) lo = mid + 1; else hi = mid;
            }
            for (; lo < nt && h[lo].h == key.h; lo++) {
                if (same_sample(d, ts, d->rows[DT_SPLIT_TRAIN][h[lo].row], src, d->rows[s][i])) {
                    if (p->n_dup_examples < DT_DUP_EXAMPLES) {
                        p->dup_examples[p->n_dup_examples].split = (dt_split_id)s;
                        p->dup_examples[p->n_dup_examples].row = i;
                        p->dup_examples[p->n_dup_examples++].train_row = h[lo].row;
                    }
                    p->duplicates++;
                    break;
                }
            }
        }
    }
    free(h);
    return DT_OK;
}

/* The values one statistics pass reads: a field (field >= 0) or the
 * single-input view (field -1: what dt_data_batch hands out). */
typedef struct view {
    int field;
    dt_modality modality;
    int tokens;
    const int *shape;
    size_t dim;
} view;

static void fetch(const dt_data *d, const view *v, const dt_data_source *src, size_t row, float *out)
{
    if (v->field >= 0) dt_data_fetch_field_raw(d, src, v->field, row, out);
    else dt_data_fetch_raw(d, src, row, out);
}

static const float *stored_f32(const dt_data *d, const view *v, const dt_data_source *src)
{
    if (v->field >= 0) return src->fx[v->field].f32;
    return d->format == DT_FORMAT_TEXT ? NULL : src->fx[0].f32;
}

/* Train-split statistics of one view into p, and its normalization
 * (mean 0 / std 1 when `normalize` is off) into *mean, *std. */
static dt_status view_stats(dt_data *d, const view *v, int normalize, dt_field_profile *p, float **mean, float **std,
                            int *n_norm, size_t *norm_div)
{
    size_t D = v->dim;
    int n;
    size_t div = 1;
    if (v->tokens) { n = 1; div = D; }       /* one statistic over every position: the ids */
    else if (v->modality == DT_MODALITY_IMAGE) { n = v->shape[0]; div = D / (size_t)n; }
    else if (v->modality == DT_MODALITY_SEQUENCE) n = v->shape[1];
    else n = (int)D;
    *n_norm = p->n_stats = n;
    *norm_div = div;
    p->input_elements = D;
    p->min = malloc((size_t)n * sizeof(float));
    p->max = malloc((size_t)n * sizeof(float));
    p->mean = malloc((size_t)n * sizeof(float));
    p->std = malloc((size_t)n * sizeof(float));
    *mean = malloc((size_t)n * sizeof(float));
    *std = malloc((size_t)n * sizeof(float));
    double *sum = calloc((size_t)n, sizeof *sum), *sq = calloc((size_t)n, sizeof *sq);
    double *shift = calloc((size_t)n, sizeof *shift);
    size_t *cnt = calloc((size_t)n, sizeof *cnt);
    int *sidx = malloc(D * sizeof *sidx);
    float *buf = malloc(D * sizeof *buf), *emin = malloc(D * sizeof *emin), *emax = malloc(D * sizeof *emax);
    dt_status st = DT_OK;
    if (!p->min || !p->max || !p->mean || !p->std || !*mean || !*std || !sum || !sq || !shift || !cnt || !sidx ||
        !buf || !emin || !emax) {
        st = dt_fail(DT_ENOMEM, "profiling data: out of memory");
        goto done;
    }
    for (size_t e = 0; e < D; e++) {
        sidx[e] = (int)((e / div) % (size_t)n);
        emin[e] = INFINITY;
        emax[e] = -INFINITY;
    }
    for (int s = 0; s < n; s++) { p->min[s] = INFINITY; p->max[s] = -INFINITY; }
    const dt_data_source *ts = &d->src[d->split_src[DT_SPLIT_TRAIN]];
    for (size_t i = 0; i < d->count[DT_SPLIT_TRAIN]; i++) {
        fetch(d, v, ts, d->rows[DT_SPLIT_TRAIN][i], buf);
        for (size_t e = 0; e < D; e++) {
            float x0 = buf[e];
            if (!isfinite(x0)) continue;
            int s = sidx[e];
            /* Shifting by the first value keeps sum-of-squares variance
             * accurate for features far from zero. */
            if (!cnt[s]) shift[s] = x0;
            double x = x0 - shift[s];
            sum[s] += x;
            sq[s] += x * x;
            cnt[s]++;
            if (x0 < p->min[s]) p->min[s] = x0;
            if (x0 > p->max[s]) p->max[s] = x0;
            if (x0 < emin[e]) emin[e] = x0;
            if (x0 > emax[e]) emax[e] = x0;
        }
    }
    for (int s = 0; s < n; s++) {
        double m = cnt[s] ? sum[s] / (double)cnt[s] : 0, var = cnt[s] ? sq[s] / (double)cnt[s] - m * m : 0;
        p->mean[s] = (float)(m + shift[s]);
        p->std[s] = (float)sqrt(var > 0 ? var : 0);
        if (!cnt[s]) p->min[s] = p->max[s] = 0;
        (*mean)[s] = normalize ? p->mean[s] : 0;
        /* A constant feature would divide by zero: leave it unscaled. */
        (*std)[s] = normalize && p->std[s] > 1e-7f ? p->std[s] : 1;
    }
    for (size_t e = 0; e < D; e++)
        if (!(emin[e] < emax[e])) p->constant_features++;
    /* Non-finite values over every split. */
    for (int s = 0; s < DT_SPLIT_COUNT; s++) {
        const dt_data_source *src = &d->src[d->split_src[s]];
        const float *x = stored_f32(d, v, src);
        for (size_t i = 0; x && i < d->count[s]; i++) {
            size_t row = d->rows[s][i];
            for (size_t e = 0; e < D; e++) p->nan_count += !isfinite(x[row * D + e]);
        }
    }
done:
    free(sum); free(sq); free(shift); free(cnt); free(sidx); free(buf); free(emin); free(emax);
    return st;
}

static float *dup_floats(const float *x, int n)
{
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    if (y) memcpy(y, x, (size_t)n * sizeof *y);
    return y;
}

dt_status dt_data_compute_profile(dt_data *d, int normalize)
{
    dt_data_profile *p = &d->profile;
    dt_status st = DT_OK;
    p->n_fields = d->n_fields;
    for (int i = 0; i < d->n_fields && !st; i++) {
        dt_field *f = &d->fields[i];
        view v = {i, f->modality, f->tokens, f->shape, f->sample_dim};
        f->normalized = normalize && !f->tokens;   /* token ids are never standardized */
        st = view_stats(d, &v, f->normalized, &p->fields[i], &f->mean, &f->std, &f->n_norm, &f->norm_div);
        if (f->tokens) { free(f->mean); free(f->std); f->mean = f->std = NULL; }
    }
    if (st) return st;

    /* The single-input view: field 0, except text's one-hot steps. */
    dt_field_profile top = {0};
    if (d->format == DT_FORMAT_TEXT) {
        view v = {-1, d->modality, 0, d->shape, d->sample_dim};
        st = view_stats(d, &v, 0, &top, &d->mean, &d->std, &d->n_norm, &d->norm_div);
        d->normalized = 0;
    } else {
        const dt_field *f = &d->fields[0];
        const dt_field_profile *f0 = &p->fields[0];
        top = *f0;
        top.min = dup_floats(f0->min, f0->n_stats);
        top.max = dup_floats(f0->max, f0->n_stats);
        top.mean = dup_floats(f0->mean, f0->n_stats);
        top.std = dup_floats(f0->std, f0->n_stats);
        d->mean = dup_floats(f->mean, f->n_norm);
        d->std = dup_floats(f->std, f->n_norm);
        d->n_norm = f->n_norm;
        d->norm_div = f->norm_div;
        d->normalized = f->normalized;
        if (!top.min || !top.max || !top.mean || !top.std || !d->mean || !d->std)
            st = dt_fail(DT_ENOMEM, "profiling data: out of memory");
    }
    p->n_stats = top.n_stats;
    p->min = top.min;
    p->max = top.max;
    p->mean = top.mean;
    p->std = top.std;
    if (st) return st;
    p->nan_count = top.nan_count;
    p->constant_features = top.constant_features;
    p->input_elements = top.input_elements;
    if (d->n_fields > 1) {
        p->nan_count = p->constant_features = p->input_elements = 0;
        for (int i = 0; i < d->n_fields; i++) {
            p->nan_count += p->fields[i].nan_count;
            p->constant_features += p->fields[i].constant_features;
            p->input_elements += p->fields[i].input_elements;
        }
    }

    /* Counts and labels over every split. */
    for (int s = 0; s < DT_SPLIT_COUNT; s++) p->split_count[s] = d->count[s];
    if (d->task == DT_TASK_CLASSIFICATION) {
        p->class_count = calloc((size_t)DT_SPLIT_COUNT * (size_t)d->classes, sizeof *p->class_count);
        if (!p->class_count) return dt_fail(DT_ENOMEM, "profiling data: out of memory");
    }
    p->label_min = INFINITY;
    p->label_max = -INFINITY;
    for (int s = 0; s < DT_SPLIT_COUNT; s++) {
        const dt_data_source *src = &d->src[d->split_src[s]];
        for (size_t i = 0; i < d->count[s]; i++) {
            double y = src->y[d->rows[s][i]];
            if (y < p->label_min) p->label_min = y;
            if (y > p->label_max) p->label_max = y;
            if (p->class_count) p->class_count[(size_t)s * (size_t)d->classes + (size_t)y]++;
        }
    }
    return find_duplicates(d);
}
