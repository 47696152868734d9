/* Generated problems with a known achievable accuracy (docs/data.md), so
 * `make demo` and the tests run the whole pipeline with no downloads.
 * Labels cycle through the classes, so classes are exactly balanced. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SHAPE_SIDE 28
static const double TAU = 6.283185307179586;

/* Is pixel (x, y) ink for shape class c centred at (cx, cy), half-size h? */
static int shape_ink(int c, int x, int y, int cx, int cy, int h)
{
    int dx = x - cx, dy = y - cy, ax = abs(dx), ay = abs(dy);
    switch (c) {
    case 0: { int m = ax > ay ? ax : ay; return m <= h && m >= h - 1; }    /* square outline */
    case 1: return dx * dx + dy * dy <= h * h;                               /* disk */
    case 2: return dy >= -h && dy <= h && 2 * ax <= dy + h;                  /* triangle, apex up */
    default: return (ax <= 1 && ay <= h) || (ay <= 1 && ax <= h);            /* plus-shaped cross */
    }
}

static void gen_shape(uint8_t *img, int c, double noise, dt_rng *r)
{
    int h = 4 + (int)dt_rng_below(r, 6);                        /* half-size 4..9 */
    int lo = h + 1, span = SHAPE_SIDE - 2 * (h + 1);            /* keep the shape inside */
    int cx = lo + (int)dt_rng_below(r, (uint64_t)span), cy = lo + (int)dt_rng_below(r, (uint64_t)span);
    double ink = 180 + dt_rng_below(r, 76);
    for (int y = 0; y < SHAPE_SIDE; y++)
        for (int x = 0; x < SHAPE_SIDE; x++) {
            double v = shape_ink(c, x, y, cx, cy, h) ? ink : 0;
            v += noise * 255.0 * dt_rng_normal(r);
            img[y * SHAPE_SIDE + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v));
        }
}

/* pairs, image: a bar of length 8..12 and thickness 2 in orientation o
 * (0 horizontal, 1 vertical, 2 diagonal down-right, 3 diagonal down-left)
 * at a random position fully inside, ink 160..255 on 0, pixel noise. */
static void gen_bar(uint8_t *img, int o, double noise, dt_rng *r)
{
    enum { S = DT_PAIRS_SIDE };
    int len = 8 + (int)dt_rng_below(r, 5);
    int w = o == 0 ? len : o == 1 ? 2 : len + 1, h = o == 0 ? 2 : len;
    int x0 = (int)dt_rng_below(r, (uint64_t)(S - w + 1)), y0 = (int)dt_rng_below(r, (uint64_t)(S - h + 1));
    double ink = 160 + dt_rng_below(r, 96);
    double v[S * S] = {0};
    for (int t = 0; t < len; t++) {
        int x, y;
        switch (o) {
        case 0: x = x0 + t; y = y0; v[y * S + x] = v[(y + 1) * S + x] = ink; break;
        case 1: x = x0; y = y0 + t; v[y * S + x] = v[y * S + x + 1] = ink; break;
        case 2: x = x0 + t; y = y0 + t; v[y * S + x] = v[y * S + x + 1] = ink; break;
        default: x = x0 + len - 1 - t; y = y0 + t; v[y * S + x] = v[y * S + x + 1] = ink; break;
        }
    }
    for (int i = 0; i < S * S; i++) {
        double p = v[i] + noise * 255.0 * dt_rng_normal(r);
        img[i] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : lrint(p));
    }
}

/* pairs, caption: DT_PAIRS_STEPS ids, one marker m (0..3) at a random step,
 * fillers drawn from 4..DT_PAIRS_VOCAB-1 elsewhere. */
static void gen_caption(uint8_t *ids, int m, dt_rng *r)
{
    int at = (int)dt_rng_below(r, DT_PAIRS_STEPS);
    for (int t = 0; t < DT_PAIRS_STEPS; t++)
        ids[t] = (uint8_t)(t == at ? m : DT_PAIRS_CLASSES + (int)dt_rng_below(r, DT_PAIRS_VOCAB - DT_PAIRS_CLASSES));
}

static dt_status gen_pairs(size_t n, double noise, dt_rng *rng, dt_data_source *src, int *n_fields,
                           dt_natural nat[DT_MAX_FIELDS], int *classes)
{
    const size_t dim = DT_PAIRS_SIDE * DT_PAIRS_SIDE;
    *n_fields = 2;
    *classes = DT_PAIRS_CLASSES;
    nat[0] = (dt_natural){.name = "image", .ndim = 2, .shape = {DT_PAIRS_SIDE, DT_PAIRS_SIDE},
                          .modality = DT_MODALITY_IMAGE};
    nat[1] = (dt_natural){.name = "caption", .ndim = 1, .shape = {DT_PAIRS_STEPS}, .is_int = 1,
                          .modality = DT_MODALITY_SEQUENCE, .tokens = 1, .vocab = DT_PAIRS_VOCAB};
    src->n = n;
    src->y = malloc(n * sizeof *src->y);
    src->fx[0].u8 = malloc(n * dim);
    src->fx[1].u8 = malloc(n * DT_PAIRS_STEPS);
    if (!src->y || !src->fx[0].u8 || !src->fx[1].u8) return dt_fail(DT_ENOMEM, "synthetic data: out of memory");
    for (size_t i = 0; i < n; i++) {
        /* The label cycles through the classes; the orientation is drawn
         * independently of it and the marker completes the sum, so each of
         * orientation and marker alone is independent of the label. */
        int c = (int)(i % DT_PAIRS_CLASSES), o = (int)dt_rng_below(rng, DT_PAIRS_CLASSES);
        int m = (c - o + DT_PAIRS_CLASSES) % DT_PAIRS_CLASSES;
        src->y[i] = (float)c;
        gen_bar(src->fx[0].u8 + i * dim, o, noise, rng);
        gen_caption(src->fx[1].u8 + i * DT_PAIRS_STEPS, m, rng);
    }
    return DT_OK;
}

dt_status dt_synth_generate(dt_generator g, size_t n, double noise, dt_rng *rng, dt_data_source *src,
                            int *n_fields, dt_natural nat[DT_MAX_FIELDS], int *classes)
{
    size_t dim;
    int *ndim = &nat[0].ndim, *shape = nat[0].shape;
    *n_fields = 1;
    switch (g) {
    case DT_GEN_SHAPES: *ndim = 2; shape[0] = shape[1] = SHAPE_SIDE; *classes = DT_SHAPES_CLASSES; break;
    case DT_GEN_BLOBS: *ndim = 1; shape[0] = DT_BLOBS_FEATURES; *classes = DT_BLOBS_CLASSES; break;
    case DT_GEN_SPIRALS: *ndim = 1; shape[0] = 2; *classes = DT_SPIRALS_CLASSES; break;
    case DT_GEN_SEQUENCES: *ndim = 2; shape[0] = DT_SEQ_STEPS; shape[1] = DT_SEQ_CLASSES; *classes = DT_SEQ_CLASSES; break;
    case DT_GEN_PAIRS: break;
    default: return dt_fail(DT_ECONFIG, "data.synthetic.generator: unknown generator %d", (int)g);
    }
    if (n == 0) return dt_fail(DT_ECONFIG, "data.synthetic.samples: must be at least 1");
    if (!(noise >= 0) || noise > 10) return dt_fail(DT_ECONFIG, "data.synthetic.noise: must be in [0, 10]");
    if (g == DT_GEN_PAIRS) return gen_pairs(n, noise, rng, src, n_fields, nat, classes);
    dim = (size_t)shape[0] * (size_t)(*ndim == 2 ? shape[1] : 1);
    src->n = n;
    src->y = malloc(n * sizeof *src->y);
    if (g == DT_GEN_SHAPES) src->fx[0].u8 = malloc(n * dim);
    else src->fx[0].f32 = malloc(n * dim * sizeof *src->fx[0].f32);
    if (!src->y || (!src->fx[0].u8 && !src->fx[0].f32)) return dt_fail(DT_ENOMEM, "synthetic data: out of memory");
    int K = *classes;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % (size_t)K);
        src->y[i] = (float)c;
        float *x = src->fx[0].f32 ? src->fx[0].f32 + i * dim : NULL;
        switch (g) {
        case DT_GEN_SHAPES: gen_shape(src->fx[0].u8 + i * dim, c, noise, rng); break;
        case DT_GEN_BLOBS: {
            /* Centres on the unit circle; neighbours are sqrt(2) apart, so
             * the Bayes boundary is 0.707 / noise standard deviations away. */
            double a = TAU * c / K;
            x[0] = (float)(cos(a) + noise * dt_rng_normal(rng));
            x[1] = (float)(sin(a) + noise * dt_rng_normal(rng));
            break;
        }
        case DT_GEN_SPIRALS: {
            /* Three interleaved arms 2.09 rad apart; noise perturbs the angle. */
            double t = 0.1 + 0.9 * dt_rng_uniform(rng);
            double a = TAU * c / K + 4.0 * t + noise * dt_rng_normal(rng);
            x[0] = (float)(t * cos(a));
            x[1] = (float)(t * sin(a));
            break;
        }
        case DT_GEN_SEQUENCES: {
            /* The label is the symbol at step 0; later steps are random
             * distractor symbols, so a model must remember 11 steps back. */
            for (int t = 0; t < DT_SEQ_STEPS; t++) {
                int sym = t == 0 ? c : (int)dt_rng_below(rng, DT_SEQ_CLASSES);
                for (int f = 0; f < DT_SEQ_CLASSES; f++)
                    x[t * DT_SEQ_CLASSES + f] = (float)((f == sym) + noise * dt_rng_normal(rng));
            }
            break;
        }
        case DT_GEN_PAIRS: break; /* gen_pairs */
        }
    }
    return DT_OK;
}

dt_status dt_synth_corrupt_labels(dt_data_source *src, int classes, double share, int shuffle, uint64_t seed)
{
    if (!(share >= 0) || share >= 1) return dt_fail(DT_ECONFIG, "data.synthetic.label_noise: must be in [0, 1)");
    size_t n = src->n, flips = (size_t)llround(share * (double)n);
    if ((!flips && !shuffle) || n == 0) return DT_OK;
    if (flips && classes < 2)
        return dt_fail(DT_ECONFIG, "data.synthetic.label_noise: needs at least 2 classes");
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return dt_fail(DT_ENOMEM, "synthetic labels: out of memory");
    dt_rng r;
    dt_rng_seed(&r, seed ^ 0xA5A5F00DCAFEull);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    dt_rng_shuffle(&r, idx, n);
    for (size_t i = 0; i < flips; i++) {
        float *y = &src->y[idx[i]];
        int other = (int)dt_rng_below(&r, (uint64_t)(classes - 1));
        *y = (float)(other >= (int)*y ? other + 1 : other);
    }
    if (shuffle) {
        float *y = malloc(n * sizeof *y);
        if (!y) { free(idx); return dt_fail(DT_ENOMEM, "synthetic labels: out of memory"); }
        dt_rng_shuffle(&r, idx, n);
        for (size_t i = 0; i < n; i++) y[i] = src->y[idx[i]];
        memcpy(src->y, y, n * sizeof *y);
        free(y);
    }
    free(idx);
    return DT_OK;
}
