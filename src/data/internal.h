/* Private helpers shared by the data modules (not installed API). */
#ifndef DT_DATA_INTERNAL_H
#define DT_DATA_INTERNAL_H

#include "dnntrouble/data.h"

/* Picks exactly `target` of rows[0..n) into *held (the rest into *kept),
 * stratified by class (largest-remainder quotas) when labels is non-NULL,
 * in a seeded random draw.  Both outputs are sorted ascending. */
dt_status dt_split_count(const size_t *rows, size_t n, const float *labels, int classes,
                         size_t target, dt_rng *rng, size_t **kept, size_t *nk, size_t **held,
                         size_t *nh);

/* A field's per-sample shape as stored, before a modality reads it. */
typedef struct dt_natural {
    char name[DT_FIELD_NAME_LEN];
    int ndim;
    int shape[4];
    int is_int;              /* stored as integers (npy |u1 <i4 <i8): may be token ids */
    dt_modality modality;    /* AUTO, or what the generator / field spec fixes */
    int tokens;              /* generator: this field is token ids ... */
    int vocab;               /* ... with at least this vocabulary */
} dt_natural;

/* Generates n samples of a synthetic problem into src (fx[i].u8 or .f32, y).
 * Sets the fields' natural shapes and the class count. */
dt_status dt_synth_generate(dt_generator g, size_t n, double noise, dt_rng *rng, dt_data_source *src,
                            int *n_fields, dt_natural nat[DT_MAX_FIELDS], int *classes);

/* Planted label errors (data.synthetic.label_noise / shuffle_labels), drawn
 * from their own seeded stream so the inputs stay those of the clean set:
 * exactly round(share * n) labels, chosen at random, each replaced by a
 * uniformly drawn other class; then, when shuffle, all labels permuted. */
dt_status dt_synth_corrupt_labels(dt_data_source *src, int classes, double share, int shuffle, uint64_t seed);

/* Raw (unnormalized) values of field `field` of source `src`, row `row`,
 * into out[field sample_dim] (token ids as floats). */
void dt_data_fetch_field_raw(const dt_data *d, const dt_data_source *src, int field, size_t row, float *out);
/* The single-input view of the same row into out[d->sample_dim]: field 0,
 * or text's one-hot steps. */
void dt_data_fetch_raw(const dt_data *d, const dt_data_source *src, size_t row, float *out);
/* Standardizes one sample of D elements in place with a field's statistics. */
void dt_data_normalize(float *x, size_t D, const float *mean, const float *std, int n_norm, size_t norm_div);

/* Statistics, normalization and profile over the splits (profile.c). */
dt_status dt_data_compute_profile(dt_data *d, int normalize);

/* Fields (fields.c). */
/* Index of the field called `name` in a source spec, or -1. */
int dt_fields_find(const dt_source_spec *ss, const char *name);
/* Checks the field map of source `which` (0 train, 1 test): names, count,
 * and that test names the same fields as train. */
dt_status dt_fields_match(const dt_data_spec *spec, int which);
/* Train and test fields must have the same stored per-sample shapes. */
dt_status dt_fields_same_shape(const dt_data *d, const dt_natural *train, const dt_natural *test, int named);
/* Shape of a field read with modality m (memory is C order in every case,
 * so only the interpretation changes); `what` names the key in messages. */
dt_status dt_field_shape(dt_field *f, dt_modality m, const dt_natural *nat, dt_format fmt, const char *what);
/* A named field (npy map, generator): modality from nat (AUTO: from the
 * array's dtype and shape), tokens for integer (N, T) arrays. */
dt_status dt_field_resolve(dt_field *f, const dt_natural *nat, const char *file);
/* Token fields: every id in [0, DT_MAX_VOCAB) in both sources (else a data
 * error naming file and offset); vocab = max id + 1. */
dt_status dt_field_vocab(dt_data *d);

/* Checks one classification label / regression target; `where` names it. */
dt_status dt_check_label(double v, int classification, const char *name, const char *where);

#endif
