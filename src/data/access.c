/* Reading samples out of a loaded dataset: shape queries, fields, batches
 * (normalization and one-hot expansion happen here, on the fly), labels,
 * slices and label-shuffling experiments. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t dt_data_split_size(const dt_data *d, dt_split_id s) { return (unsigned)s < DT_SPLIT_COUNT ? d->count[s] : 0; }
int dt_data_sample_ndim(const dt_data *d) { return d->ndim; }
const int *dt_data_sample_shape(const dt_data *d) { return d->shape; }
size_t dt_data_sample_dim(const dt_data *d) { return d->sample_dim; }
int dt_data_classes(const dt_data *d) { return d->classes; }
dt_modality dt_data_modality(const dt_data *d) { return d->modality; }
const dt_data_profile *dt_data_get_profile(const dt_data *d) { return &d->profile; }

int dt_data_norm_stats(const dt_data *d, const float **mean, const float **std)
{
    *mean = d->mean;
    *std = d->std;
    return d->normalized ? d->n_norm : 0;
}

int dt_data_n_fields(const dt_data *d) { return d->n_fields; }

const dt_field *dt_data_field(const dt_data *d, int i) { return i >= 0 && i < d->n_fields ? &d->fields[i] : NULL; }

int dt_data_field_index(const dt_data *d, const char *name)
{
    for (int i = 0; name && i < d->n_fields; i++)
        if (!strcmp(d->fields[i].name, name)) return i;
    return -1;
}

int dt_data_field_norm_stats(const dt_data *d, int field, const float **mean, const float **std)
{
    const dt_field *f = dt_data_field(d, field);
    *mean = f ? f->mean : NULL;
    *std = f ? f->std : NULL;
    return f && f->normalized ? f->n_norm : 0;
}

void dt_data_fetch_field_raw(const dt_data *d, const dt_data_source *src, int field, size_t row, float *out)
{
    size_t D = d->fields[field].sample_dim;
    const dt_field_store *fs = &src->fx[field];
    if (fs->u8) {
        const uint8_t *p = fs->u8 + row * D;
        for (size_t e = 0; e < D; e++) out[e] = p[e];
    } else if (fs->f32) {
        memcpy(out, fs->f32 + row * D, D * sizeof *out);
    } else {
        /* Text window: seq_len vocabulary ids. */
        const uint8_t *p = src->text + row * src->stride;
        for (size_t t = 0; t < D; t++) out[t] = p[t];
    }
}

void dt_data_fetch_raw(const dt_data *d, const dt_data_source *src, size_t row, float *out)
{
    if (d->format != DT_FORMAT_TEXT) {
        dt_data_fetch_field_raw(d, src, 0, row, out);
        return;
    }
    /* Text window: seq_len steps of a one-hot over the vocabulary. */
    size_t D = d->sample_dim, V = (size_t)d->vocab.size, L = src->stride;
    const uint8_t *p = src->text + row * L;
    memset(out, 0, D * sizeof *out);
    for (size_t t = 0; t < L; t++) out[t * V + p[t]] = 1;
}

void dt_data_normalize(float *x, size_t D, const float *mean, const float *std, int n_norm, size_t norm_div)
{
    /* Element e uses statistic (e / norm_div) % n_norm: runs of norm_div
     * elements per channel for images, cycling features otherwise; walked
     * without a division per element. */
    size_t k = 0, run = 0;
    for (size_t e = 0; e < D; e++) {
        x[e] = (x[e] - mean[k]) / std[k];
        if (++run == norm_div) {
            run = 0;
            if (++k == (size_t)n_norm) k = 0;
        }
    }
}

float dt_data_label(const dt_data *d, dt_split_id s, size_t row)
{
    if (d->y_override[s]) return d->y_override[s][row];
    return d->src[d->split_src[s]].y[d->rows[s][row]];
}

static void batch(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *x, float *y, int norm)
{
    const dt_data_source *src = &d->src[d->split_src[s]];
    size_t D = d->sample_dim;
    for (size_t i = 0; i < n; i++) {
        float *xi = x + i * D;
        dt_data_fetch_raw(d, src, d->rows[s][rows[i]], xi);
        if (norm && d->normalized) dt_data_normalize(xi, D, d->mean, d->std, d->n_norm, d->norm_div);
        if (y) y[i] = dt_data_label(d, s, rows[i]);
    }
}

void dt_data_batch(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *x, float *y)
{
    batch(d, s, rows, n, x, y, 1);
}

void dt_data_batch_raw(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *x, float *y)
{
    batch(d, s, rows, n, x, y, 0);
}

static void batch_field(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x, int norm)
{
    const dt_field *f = &d->fields[field];
    const dt_data_source *src = &d->src[d->split_src[s]];
    size_t D = f->sample_dim;
    for (size_t i = 0; i < n; i++) {
        float *xi = x + i * D;
        dt_data_fetch_field_raw(d, src, field, d->rows[s][rows[i]], xi);
        if (norm && f->normalized) dt_data_normalize(xi, D, f->mean, f->std, f->n_norm, f->norm_div);
    }
}

void dt_data_batch_field(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x)
{
    batch_field(d, s, field, rows, n, x, 1);
}

void dt_data_batch_field_raw(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x)
{
    batch_field(d, s, field, rows, n, x, 0);
}

void dt_data_batch_labels(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = dt_data_label(d, s, rows[i]);
    if (d->targets_standardized)
        for (size_t i = 0; i < n; i++) y[i] = (float)((y[i] - d->y_mean) / d->y_std);
}

int dt_data_slice(const dt_data *d, dt_split_id s, size_t row)
{
    const dt_data_source *src = &d->src[d->split_src[s]];
    return src->slice ? src->slice[d->rows[s][row]] : -1;
}

const char *dt_data_slice_name(const dt_data *d, int id)
{
    return id >= 0 && id < d->slices.n ? d->slices.names[id] : "";
}

int dt_data_original_class(const dt_data *d, int cls)
{
    return d->n_class_map && cls >= 0 && cls < d->n_class_map ? d->class_map[cls] : cls;
}

dt_status dt_data_shuffle_labels(dt_data *d, dt_split_id s, dt_rng *rng)
{
    size_t n = d->count[s];
    float *y = malloc((n ? n : 1) * sizeof *y);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!y || !perm) { free(y); free(perm); return dt_fail(DT_ENOMEM, "shuffling labels: out of memory"); }
    for (size_t i = 0; i < n; i++) perm[i] = i;
    dt_rng_shuffle(rng, perm, n);
    for (size_t i = 0; i < n; i++) y[i] = d->src[d->split_src[s]].y[d->rows[s][perm[i]]];
    free(perm);
    free(d->y_override[s]);
    d->y_override[s] = y;
    return DT_OK;
}

void dt_data_restore_labels(dt_data *d, dt_split_id s)
{
    free(d->y_override[s]);
    d->y_override[s] = NULL;
}
