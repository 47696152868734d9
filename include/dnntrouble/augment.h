/* Training-time augmentation (train.augment.shift): random translation of
 * every image input by up to `shift` pixels, zero fill (the mean after
 * normalization); evaluation batches are left alone. */
#ifndef DT_AUGMENT_H
#define DT_AUGMENT_H

#include "dnntrouble/model.h"

typedef struct dt_augment {
    int shift;
    dt_rng rng;
    float *tmp;
    size_t tmp_len;
} dt_augment;

/* DT_ECONFIG when the model has no image input [B,C,H,W]. */
dt_status dt_augment_init(dt_augment *a, const dt_model *m, int shift, uint64_t seed);
/* A dt_batch_fn: n rows of the loaded batch, train = 1 in training. */
void dt_augment_batch(void *a, dt_model *m, size_t n, int train);
void dt_augment_free(dt_augment *a);

#endif
