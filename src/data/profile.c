/* Train-split statistics (normalization and the profile), class counts,
 * non-finite values and train/test duplicates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Raw bytes of one sample, for exact-match duplicate detection. */
static const uint8_t *sample_bytes(const dt_data *d, const dt_data_source *s, size_t row, size_t *len)
{
    if (s->x_u8) { *len = d->sample_dim; return s->x_u8 + row * d->sample_dim; }
    if (s->x_f32) { *len = d->sample_dim * sizeof(float); return (const uint8_t *)(s->x_f32 + row * d->sample_dim); }
    *len = s->stride; /* text: the window of seq_len ids */
    return s->text + row * s->stride;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
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
        size_t len;
        const uint8_t *b = sample_bytes(d, ts, d->rows[DT_SPLIT_TRAIN][i], &len);
        h[i].h = hash_bytes(b, len);
        h[i].row = i;
    }
    qsort(h, nt, sizeof *h, cmp_hrow);
    for (int s = DT_SPLIT_TEST_VAL; s <= DT_SPLIT_TEST; s++) {
        const dt_data_source *src = &d->src[d->split_src[s]];
        for (size_t i = 0; i < d->count[s]; i++) {
            size_t len, tl;
            const uint8_t *b = sample_bytes(d, src, d->rows[s][i], &len);
            hrow key = {hash_bytes(b, len), 0};
            size_t lo = 0, hi = nt;
            while (lo < hi) { /* first entry with this hash */
                size_t mid = lo + (hi - lo) / 2;
                if (h[mid].h < key.h) lo = mid + 1; else hi = mid;
            }
            for (; lo < nt && h[lo].h == key.h; lo++) {
                const uint8_t *tb = sample_bytes(d, ts, d->rows[DT_SPLIT_TRAIN][h[lo].row], &tl);
                if (tl == len && !memcmp(tb, b, len)) {
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

dt_status dt_data_compute_profile(dt_data *d, int normalize)
{
    dt_data_profile *p = &d->profile;
    size_t D = d->sample_dim;
    int n;
    size_t div = 1;
    if (d->modality == DT_MODALITY_IMAGE) { n = d->shape[0]; div = D / (size_t)n; }
    else if (d->modality == DT_MODALITY_SEQUENCE) n = d->shape[1];
    else n = (int)D;
    d->n_norm = p->n_stats = n;
    d->norm_div = div;
    p->input_elements = D;
    p->min = malloc((size_t)n * sizeof(float));
    p->max = malloc((size_t)n * sizeof(float));
    p->mean = malloc((size_t)n * sizeof(float));
    p->std = malloc((size_t)n * sizeof(float));
    d->mean = malloc((size_t)n * sizeof(float));
    d->std = malloc((size_t)n * sizeof(float));
    double *sum = calloc((size_t)n, sizeof *sum), *sq = calloc((size_t)n, sizeof *sq);
    double *shift = calloc((size_t)n, sizeof *shift);
    size_t *cnt = calloc((size_t)n, sizeof *cnt);
    int *sidx = malloc(D * sizeof *sidx);
    float *buf = malloc(D * sizeof *buf), *emin = malloc(D * sizeof *emin), *emax = malloc(D * sizeof *emax);
    dt_status st = DT_OK;
    if (!p->min || !p->max || !p->mean || !p->std || !d->mean || !d->std || !sum || !sq || !shift || !cnt ||
        !sidx || !buf || !emin || !emax) {
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
        dt_data_fetch_raw(d, ts, d->rows[DT_SPLIT_TRAIN][i], buf);
        for (size_t e = 0; e < D; e++) {
            float v = buf[e];
            if (!isfinite(v)) continue;
            int s = sidx[e];
            /* Shifting by the first value keeps sum-of-squares variance
             * accurate for features far from zero. */
            if (!cnt[s]) shift[s] = v;
            double x = v - shift[s];
            sum[s] += x;
            sq[s] += x * x;
            cnt[s]++;
            if (v < p->min[s]) p->min[s] = v;
            if (v > p->max[s]) p->max[s] = v;
            if (v < emin[e]) emin[e] = v;
            if (v > emax[e]) emax[e] = v;
        }
    }
    for (int s = 0; s < n; s++) {
        double m = cnt[s] ? sum[s] / (double)cnt[s] : 0, var = cnt[s] ? sq[s] / (double)cnt[s] - m * m : 0;
        p->mean[s] = (float)(m + shift[s]);
        p->std[s] = (float)sqrt(var > 0 ? var : 0);
        if (!cnt[s]) p->min[s] = p->max[s] = 0;
        d->mean[s] = normalize ? p->mean[s] : 0;
        /* A constant feature would divide by zero: leave it unscaled. */
        d->std[s] = normalize && p->std[s] > 1e-7f ? p->std[s] : 1;
    }
    d->normalized = normalize;
    for (size_t e = 0; e < D; e++)
        if (!(emin[e] < emax[e])) p->constant_features++;

    /* Counts, labels and non-finite values over every split. */
    for (int s = 0; s < DT_SPLIT_COUNT; s++) p->split_count[s] = d->count[s];
    if (d->task == DT_TASK_CLASSIFICATION) {
        p->class_count = calloc((size_t)DT_SPLIT_COUNT * (size_t)d->classes, sizeof *p->class_count);
        if (!p->class_count) { st = dt_fail(DT_ENOMEM, "profiling data: out of memory"); goto done; }
    }
    p->label_min = INFINITY;
    p->label_max = -INFINITY;
    for (int s = 0; s < DT_SPLIT_COUNT; s++) {
        const dt_data_source *src = &d->src[d->split_src[s]];
        for (size_t i = 0; i < d->count[s]; i++) {
            size_t row = d->rows[s][i];
            double y = src->y[row];
            if (y < p->label_min) p->label_min = y;
            if (y > p->label_max) p->label_max = y;
            if (p->class_count) p->class_count[(size_t)s * (size_t)d->classes + (size_t)y]++;
            if (src->x_f32)
                for (size_t e = 0; e < D; e++) p->nan_count += !isfinite(src->x_f32[row * D + e]);
        }
    }
    st = find_duplicates(d);
done:
    free(sum); free(sq); free(shift); free(cnt); free(sidx); free(buf); free(emin); free(emax);
    return st;
}
