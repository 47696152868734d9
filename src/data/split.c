/* Seeded, stratified selection of rows: the building block for the four
 * splits, the held-out test source and the subset draw. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

dt_status dt_split_count(const size_t *rows, size_t n, const float *labels, int classes,
                         size_t target, dt_rng *rng, size_t **kept, size_t *nk, size_t **held,
                         size_t *nh)
{
    if (target > n) target = n;
    int k = labels && classes > 0 ? classes : 1;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    size_t *count = calloc((size_t)k, sizeof *count), *quota = calloc((size_t)k, sizeof *quota);
    double *frac = calloc((size_t)k, sizeof *frac);
    *kept = malloc((n - target ? n - target : 1) * sizeof **kept);
    *held = malloc((target ? target : 1) * sizeof **held);
    if (!order || !count || !quota || !frac || !*kept || !*held) {
        free(order); free(count); free(quota); free(frac); free(*kept); free(*held);
        *kept = *held = NULL;
        return dt_fail(DT_ENOMEM, "splitting data: out of memory");
    }
#define CLASS_OF(r) (k == 1 ? 0 : (int)labels[r])
    memcpy(order, rows, n * sizeof *order);
    dt_rng_shuffle(rng, order, n);
    for (size_t i = 0; i < n; i++) count[CLASS_OF(order[i])]++;
    /* Largest-remainder quotas: each class gives its share, and the total
     * is exactly `target`, so split sizes are predictable. */
    size_t given = 0;
    for (int c = 0; c < k; c++) {
        double want = n ? (double)target * (double)count[c] / (double)n : 0;
        quota[c] = (size_t)floor(want);
        frac[c] = want - floor(want);
        given += quota[c];
    }
    while (given < target) {
        int best = -1;
        for (int c = 0; c < k; c++)
            if (quota[c] < count[c] && (best < 0 || frac[c] > frac[best])) best = c;
        if (best < 0) break;
        quota[best]++;
        frac[best] = -1;
        given++;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        int c = CLASS_OF(order[i]);
        if (quota[c]) { quota[c]--; (*held)[b++] = order[i]; }
        else (*kept)[a++] = order[i];
    }
#undef CLASS_OF
    /* Ascending order keeps memory access sequential and makes the split
     * independent of the shuffle's visiting order. */
    qsort(*kept, a, sizeof **kept, cmp_size);
    qsort(*held, b, sizeof **held, cmp_size);
    *nk = a;
    *nh = b;
    free(order); free(count); free(quota); free(frac);
    return DT_OK;
}
