/* Epochs of seeded mini-batches over one split. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void new_epoch(dt_batcher *b)
{
    for (size_t i = 0; i < b->n; i++) b->order[i] = i;
    if (b->shuffle && b->rng) dt_rng_shuffle(b->rng, b->order, b->n);
    b->pos = 0;
}

dt_status dt_batcher_init(dt_batcher *b, const dt_data *d, dt_split_id s, size_t batch, int shuffle, dt_rng *rng)
{
    memset(b, 0, sizeof *b);
    if (batch == 0) return dt_fail(DT_ECONFIG, "batch size must be at least 1");
    if ((unsigned)s >= DT_SPLIT_COUNT) return dt_fail(DT_EINTERNAL, "batcher: bad split %d", (int)s);
    b->d = d;
    b->split = s;
    b->batch = batch;
    b->n = d->count[s];
    b->shuffle = shuffle;
    b->rng = rng;
    if (!(b->order = malloc((b->n ? b->n : 1) * sizeof *b->order))) return dt_fail(DT_ENOMEM, "batcher: out of memory");
    new_epoch(b);
    return DT_OK;
}

int dt_batcher_next(dt_batcher *b, size_t *rows_out, size_t *n_out)
{
    if (b->pos >= b->n) {
        /* End of epoch: report it once, and prepare the next order. */
        new_epoch(b);
        *n_out = 0;
        return 0;
    }
    size_t n = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
    memcpy(rows_out, b->order + b->pos, n * sizeof *rows_out);
    b->pos += n;
    *n_out = n;
    return 1;
}

void dt_batcher_free(dt_batcher *b)
{
    free(b->order);
    memset(b, 0, sizeof *b);
}
