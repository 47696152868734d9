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

/* Generates n samples of a synthetic problem into src (x_f32 or x_u8, y).
 * Sets the natural per-sample shape and the class count. */
dt_status dt_synth_generate(dt_generator g, size_t n, double noise, dt_rng *rng,
                            dt_data_source *src, int *ndim, int shape[4], int *classes);

/* Raw (unnormalized) sample of source `src`, row `row`, into out[sample_dim]. */
void dt_data_fetch_raw(const dt_data *d, const dt_data_source *src, size_t row, float *out);

/* Statistics, normalization and profile over the splits (profile.c). */
dt_status dt_data_compute_profile(dt_data *d, int normalize);

/* Checks one classification label / regression target; `where` names it. */
dt_status dt_check_label(double v, int classification, const char *name, const char *where);

#endif
