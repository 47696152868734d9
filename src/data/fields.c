/* The field view of single-input data (one field "x"). */
#include <stdio.h>
#include <string.h>

#include "dnntrouble/data.h"

static _Thread_local dt_field one;

int dt_data_n_fields(const dt_data *d) { (void)d; return 1; }

const dt_field *dt_data_field(const dt_data *d, int i)
{
    if (i != 0) return NULL;
    memset(&one, 0, sizeof one);
    snprintf(one.name, sizeof one.name, "x");
    one.modality = d->modality;
    one.ndim = d->ndim;
    memcpy(one.shape, d->shape, sizeof one.shape);
    one.sample_dim = d->sample_dim;
    return &one;
}

int dt_data_field_index(const dt_data *d, const char *name) { (void)d; return strcmp(name, "x") == 0 ? 0 : -1; }

void dt_data_batch_field(const dt_data *d, dt_split_id s, int field, const size_t *rows, size_t n, float *x)
{
    (void)field;
    dt_data_batch(d, s, rows, n, x, NULL);
}

void dt_data_batch_labels(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = dt_data_label(d, s, rows[i]);
}
