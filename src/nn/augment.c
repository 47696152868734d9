/* Random translation of image inputs (see augment.h). */
#include "dnntrouble/augment.h"

#include <stdlib.h>
#include <string.h>

dt_status dt_augment_init(dt_augment *a, const dt_model *m, int shift, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < m->n_inputs; i++) {
        const dt_node *x = m->inputs[i];
        if (x->ndim == 4 && (size_t)x->shape[2] * (size_t)x->shape[3] > a->tmp_len)
            a->tmp_len = (size_t)x->shape[2] * (size_t)x->shape[3];
    }
    if (!a->tmp_len) return dt_fail(DT_ECONFIG, "train.augment.shift needs an image input [C,H,W]; this model has none");
    a->tmp = malloc(a->tmp_len * sizeof *a->tmp);
    if (!a->tmp) return dt_fail(DT_ENOMEM, "augmentation: out of memory");
    a->shift = shift;
    dt_rng_seed(&a->rng, seed);
    return DT_OK;
}

void dt_augment_batch(void *ctx, dt_model *m, size_t n, int train)
{
    dt_augment *a = ctx;
    if (!train || a->shift <= 0) return;
    for (int i = 0; i < m->n_inputs; i++) {
        dt_node *xn = m->inputs[i];
        if (xn->ndim != 4) continue;
        int C = xn->shape[1], H = xn->shape[2], W = xn->shape[3];
        for (size_t b = 0; b < n; b++) {
            int dy = (int)dt_rng_below(&a->rng, 2 * (uint64_t)a->shift + 1) - a->shift;
            int dx = (int)dt_rng_below(&a->rng, 2 * (uint64_t)a->shift + 1) - a->shift;
            if (!dx && !dy) continue;
            for (int c = 0; c < C; c++) {
                float *img = xn->val + ((b * (size_t)C + (size_t)c) * (size_t)H) * (size_t)W;
                memcpy(a->tmp, img, (size_t)H * (size_t)W * sizeof(float));
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        int sy = y - dy, sx = x - dx;
                        img[y * W + x] = sy >= 0 && sy < H && sx >= 0 && sx < W ? a->tmp[sy * W + sx] : 0.0f;
                    }
            }
        }
    }
}

void dt_augment_free(dt_augment *a)
{
    free(a->tmp);
    a->tmp = NULL;
}
