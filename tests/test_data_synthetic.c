/* Generated problems: shapes, determinism, and that each one is as
 * learnable as docs/data.md claims (checked with a nearest-neighbour rule,
 * which needs no training). */
#include <math.h>

#include "test_data_util.h"

static dt_data *gen(dt_generator g, size_t n, double noise, unsigned long long seed)
{
    dt_data_spec s = tspec(DT_FORMAT_SYNTHETIC);
    s.generator = g;
    s.samples = n;
    s.noise = noise;
    s.seed = seed;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, NULL, &d), DT_OK);
    return d;
}

/* Fetches a whole split (normalized). */
static float *fetch(const dt_data *d, dt_split_id sp, float **y)
{
    size_t n = dt_data_split_size(d, sp), D = dt_data_sample_dim(d);
    size_t *rows = malloc(n * sizeof *rows);
    float *x = malloc(n * D * sizeof *x);
    *y = malloc(n * sizeof **y);
    for (size_t i = 0; i < n; i++) rows[i] = i;
    dt_data_batch(d, sp, rows, n, x, *y);
    free(rows);
    return x;
}

/* 1-nearest-neighbour accuracy of test given train. */
static double knn_accuracy(const dt_data *d)
{
    float *ytr, *yte;
    float *xtr = fetch(d, DT_SPLIT_TRAIN, &ytr), *xte = fetch(d, DT_SPLIT_TEST, &yte);
    size_t ntr = dt_data_split_size(d, DT_SPLIT_TRAIN), nte = dt_data_split_size(d, DT_SPLIT_TEST);
    size_t D = dt_data_sample_dim(d), ok = 0;
    for (size_t i = 0; i < nte; i++) {
        double best = INFINITY;
        float lab = -1;
        for (size_t j = 0; j < ntr; j++) {
            double s = 0;
            for (size_t e = 0; e < D; e++) {
                double t = xte[i * D + e] - xtr[j * D + e];
                s += t * t;
            }
            if (s < best) { best = s; lab = ytr[j]; }
        }
        ok += lab == yte[i];
    }
    free(xtr); free(xte); free(ytr); free(yte);
    return (double)ok / (double)nte;
}

static void test_shapes_and_determinism(void **state)
{
    (void)state;
    dt_data *a = gen(DT_GEN_SHAPES, 400, 0.1, 1), *b = gen(DT_GEN_SHAPES, 400, 0.1, 1), *c = gen(DT_GEN_SHAPES, 400, 0.1, 2);
    assert_int_equal(dt_data_modality(a), DT_MODALITY_IMAGE);
    assert_int_equal(dt_data_sample_shape(a)[0], 1);
    assert_int_equal(dt_data_sample_shape(a)[1], 28);
    assert_int_equal(dt_data_sample_shape(a)[2], 28);
    assert_int_equal(dt_data_classes(a), DT_SHAPES_CLASSES);
    assert_true(a->inputs_u8);
    assert_memory_equal(a->src[0].fx[0].u8, b->src[0].fx[0].u8, 400 * 784);
    assert_memory_equal(a->rows[DT_SPLIT_TRAIN], b->rows[DT_SPLIT_TRAIN], a->count[DT_SPLIT_TRAIN] * sizeof(size_t));
    assert_memory_not_equal(a->src[0].fx[0].u8, c->src[0].fx[0].u8, 400 * 784);
    dt_data_free(a); dt_data_free(b); dt_data_free(c);

    dt_data *s = gen(DT_GEN_SEQUENCES, 100, 0.1, 3);
    assert_int_equal(dt_data_modality(s), DT_MODALITY_SEQUENCE);
    assert_int_equal(dt_data_sample_shape(s)[0], DT_SEQ_STEPS);
    assert_int_equal(dt_data_sample_shape(s)[1], DT_SEQ_CLASSES);
    dt_data_free(s);
    dt_data *t = gen(DT_GEN_SPIRALS, 100, 0.1, 3);
    assert_int_equal(dt_data_modality(t), DT_MODALITY_TABULAR);
    assert_int_equal(dt_data_classes(t), DT_SPIRALS_CLASSES);
    dt_data_free(t);
}

static void test_achievable(void **state)
{
    (void)state;
    dt_data *d = gen(DT_GEN_BLOBS, 1000, 0.1, 5);
    double acc = knn_accuracy(d);
    print_message("blobs noise 0.1: 1-NN test accuracy %.3f\n", acc);
    assert_true(acc >= 0.99);
    dt_data_free(d);
    d = gen(DT_GEN_SPIRALS, 1500, 0.1, 5);
    acc = knn_accuracy(d);
    print_message("spirals noise 0.1: 1-NN test accuracy %.3f\n", acc);
    assert_true(acc >= 0.9);
    dt_data_free(d);
    d = gen(DT_GEN_SHAPES, 1000, 0.1, 5);
    acc = knn_accuracy(d);
    print_message("shapes noise 0.1: 1-NN test accuracy %.3f\n", acc);
    assert_true(acc >= 0.7);
    dt_data_free(d);
    /* Sequences: the label is the arg-max of step 0 (what a model must remember). */
    d = gen(DT_GEN_SEQUENCES, 1000, 0.1, 5);
    float *y, *x = fetch(d, DT_SPLIT_TEST, &y);
    size_t n = dt_data_split_size(d, DT_SPLIT_TEST), D = dt_data_sample_dim(d), ok = 0;
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int f = 1; f < DT_SEQ_CLASSES; f++)
            if (x[i * D + f] > x[i * D + best]) best = f;
        ok += best == (int)y[i];
    }
    print_message("sequences noise 0.1: step-0 rule accuracy %.3f\n", (double)ok / (double)n);
    assert_true(ok >= n - 1);
    free(x); free(y);
    dt_data_free(d);
}


/* pairs: the orientation of the image's bar by its second moments (ink
 * pixels only): 0 horizontal, 1 vertical, 2 down-right, 3 down-left. */
static int bar_orientation(const float *img)
{
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int y = 0; y < DT_PAIRS_SIDE; y++)
        for (int x = 0; x < DT_PAIRS_SIDE; x++)
            if (img[y * DT_PAIRS_SIDE + x] > 100) {
                n++; sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
            }
    if (n < 2) return 0;
    double vx = sxx / n - (sx / n) * (sx / n), vy = syy / n - (sy / n) * (sy / n), c = sxy / n - sx * sy / (n * n);
    if (vx > 3 * vy) return 0;
    if (vy > 3 * vx) return 1;
    return c > 0 ? 2 : 3;
}

/* pairs: the caption's marker, its one id below DT_PAIRS_CLASSES. */
static int caption_marker(const float *ids)
{
    int m = -1;
    for (int t = 0; t < DT_PAIRS_STEPS; t++)
        if (ids[t] < DT_PAIRS_CLASSES) { assert_int_equal(m, -1); m = (int)ids[t]; }
    assert_true(m >= 0);
    return m;
}

/* Orientation and marker of every row of a split, by the rules above. */
static void pairs_features(const dt_data *d, dt_split_id sp, int *o, int *m, int *y)
{
    size_t n = dt_data_split_size(d, sp);
    size_t *rows = malloc(n * sizeof *rows);
    float *img = malloc(n * 256 * sizeof *img), *cap = malloc(n * 10 * sizeof *cap), *lab = malloc(n * sizeof *lab);
    for (size_t i = 0; i < n; i++) rows[i] = i;
    dt_data_batch_field_raw(d, sp, 0, rows, n, img);
    dt_data_batch_field(d, sp, 1, rows, n, cap);
    dt_data_batch_labels(d, sp, rows, n, lab);
    for (size_t i = 0; i < n; i++) {
        o[i] = bar_orientation(img + i * 256);
        m[i] = caption_marker(cap + i * 10);
        y[i] = (int)lab[i];
    }
    free(rows); free(img); free(cap); free(lab);
}

/* Count-based classifier: the most frequent train label for each value of
 * a feature, scored on test. */
static double count_classifier(const int *ftr, const int *ytr, size_t ntr, const int *fte, const int *yte, size_t nte,
                               int nvalues, double *max_share)
{
    int counts[16][DT_PAIRS_CLASSES] = {{0}}, best[16] = {0};
    for (size_t i = 0; i < ntr; i++) counts[ftr[i]][ytr[i]]++;
    *max_share = 0;
    for (int v = 0; v < nvalues; v++) {
        int tot = 0;
        for (int c = 0; c < DT_PAIRS_CLASSES; c++) {
            tot += counts[v][c];
            if (counts[v][c] > counts[v][best[v]]) best[v] = c;
        }
        if (tot && (double)counts[v][best[v]] / tot > *max_share) *max_share = (double)counts[v][best[v]] / tot;
    }
    size_t ok = 0;
    for (size_t i = 0; i < nte; i++) ok += best[fte[i]] == yte[i];
    return (double)ok / (double)nte;
}

static void test_pairs(void **state)
{
    (void)state;
    dt_data *a = gen(DT_GEN_PAIRS, 8000, 0.1, 11), *b = gen(DT_GEN_PAIRS, 8000, 0.1, 11), *c = gen(DT_GEN_PAIRS, 8000, 0.1, 12);
    assert_int_equal(dt_data_n_fields(a), 2);
    assert_int_equal(dt_data_classes(a), DT_PAIRS_CLASSES);
    const dt_field *img = dt_data_field(a, 0), *cap = dt_data_field(a, 1);
    assert_string_equal(img->name, "image");
    assert_int_equal(img->modality, DT_MODALITY_IMAGE);
    assert_int_equal(img->ndim, 3);
    assert_int_equal(img->shape[0], 1);
    assert_int_equal(img->shape[1], DT_PAIRS_SIDE);
    assert_int_equal(img->shape[2], DT_PAIRS_SIDE);
    assert_true(img->inputs_u8 && img->normalized && !img->tokens);
    assert_string_equal(cap->name, "caption");
    assert_int_equal(cap->modality, DT_MODALITY_SEQUENCE);
    assert_true(cap->tokens && !cap->normalized);
    assert_int_equal(cap->ndim, 1);
    assert_int_equal(cap->shape[0], DT_PAIRS_STEPS);
    assert_int_equal(cap->vocab, DT_PAIRS_VOCAB);
    assert_int_equal(dt_data_field_index(a, "caption"), 1);
    /* The single-input view is the image. */
    assert_int_equal(dt_data_modality(a), DT_MODALITY_IMAGE);
    /* Determinism by seed. */
    assert_memory_equal(a->src[0].fx[0].u8, b->src[0].fx[0].u8, 8000 * 256);
    assert_memory_equal(a->src[0].fx[1].u8, b->src[0].fx[1].u8, 8000 * DT_PAIRS_STEPS);
    assert_memory_equal(a->src[0].y, b->src[0].y, 8000 * sizeof(float));
    assert_memory_not_equal(a->src[0].fx[0].u8, c->src[0].fx[0].u8, 8000 * 256);
    assert_memory_not_equal(a->src[0].fx[1].u8, c->src[0].fx[1].u8, 8000 * DT_PAIRS_STEPS);
    dt_data_free(b);
    dt_data_free(c);
    /* Classes are balanced. */
    const dt_data_profile *p = dt_data_get_profile(a);
    for (int k = 0; k < DT_PAIRS_CLASSES; k++)
        assert_true(abs((int)p->class_count[k] - (int)p->split_count[DT_SPLIT_TRAIN] / DT_PAIRS_CLASSES) <= 1);

    size_t ntr = dt_data_split_size(a, DT_SPLIT_TRAIN), nte = dt_data_split_size(a, DT_SPLIT_TEST);
    int *otr = malloc(ntr * sizeof *otr), *mtr = malloc(ntr * sizeof *mtr), *ytr = malloc(ntr * sizeof *ytr);
    int *ote = malloc(nte * sizeof *ote), *mte = malloc(nte * sizeof *mte), *yte = malloc(nte * sizeof *yte);
    pairs_features(a, DT_SPLIT_TRAIN, otr, mtr, ytr);
    pairs_features(a, DT_SPLIT_TEST, ote, mte, yte);
    /* Both inputs together determine the label: (orientation + marker) mod K. */
    size_t ok = 0;
    for (size_t i = 0; i < nte; i++) ok += (ote[i] + mte[i]) % DT_PAIRS_CLASSES == yte[i];
    double both = (double)ok / (double)nte, share_o, share_m;
    /* Each alone: a count-based classifier on the orientation or on the
     * marker is at chance, and every label is about as frequent given either. */
    double img_only = count_classifier(otr, ytr, ntr, ote, yte, nte, DT_PAIRS_CLASSES, &share_o);
    double cap_only = count_classifier(mtr, ytr, ntr, mte, yte, nte, DT_PAIRS_CLASSES, &share_m);
    print_message("pairs noise 0.1, %zu test rows: rule on both %.4f; image alone %.4f (max P(label|orientation) %.3f); "
                  "caption alone %.4f (max P(label|marker) %.3f)\n", nte, both, img_only, share_o, cap_only, share_m);
    assert_true(both >= 0.995);
    assert_true(fabs(img_only - 0.25) < 0.06);
    assert_true(fabs(cap_only - 0.25) < 0.06);
    assert_true(share_o < 0.25 + 0.04 && share_m < 0.25 + 0.04);   /* train: ~1750 rows per value */
    free(otr); free(mtr); free(ytr); free(ote); free(mte); free(yte);
    dt_data_free(a);

    /* Noise only touches the image. */
    dt_data *q = gen(DT_GEN_PAIRS, 200, 0.0, 3), *r = gen(DT_GEN_PAIRS, 200, 0.5, 3);
    for (size_t i = 0; i < 200 * 256; i++) assert_true(q->src[0].fx[0].u8[i] == 0 || q->src[0].fx[0].u8[i] >= 160);
    assert_memory_not_equal(q->src[0].fx[0].u8, r->src[0].fx[0].u8, 200 * 256);
    dt_data_free(q);
    dt_data_free(r);
}

/* Planted label errors: exactly round(share * n) labels changed, each to
 * another class, inputs untouched; shuffling keeps the class counts. */
static void test_label_noise_and_shuffle(void **state)
{
    (void)state;
    dt_data *clean = gen(DT_GEN_BLOBS, 1000, 0.1, 4);
    dt_data_spec s = tspec(DT_FORMAT_SYNTHETIC);
    s.generator = DT_GEN_BLOBS;
    s.samples = 1000;
    s.noise = 0.1;
    s.seed = 4;
    s.label_noise = 0.3;
    dt_data *noisy;
    assert_int_equal(dt_data_load(&s, NULL, &noisy), DT_OK);
    size_t changed = 0;
    for (size_t i = 0; i < 1000; i++) changed += clean->src[0].y[i] != noisy->src[0].y[i];
    assert_int_equal(changed, 300);
    assert_memory_equal(clean->src[0].fx[0].f32, noisy->src[0].fx[0].f32, 1000 * DT_BLOBS_FEATURES * sizeof(float));
    s.label_noise = 0;
    s.shuffle_labels = 1;
    dt_data *shuffled;
    assert_int_equal(dt_data_load(&s, NULL, &shuffled), DT_OK);
    size_t count[2][DT_BLOBS_CLASSES] = {{0}};
    changed = 0;
    for (size_t i = 0; i < 1000; i++) {
        count[0][(int)clean->src[0].y[i]]++;
        count[1][(int)shuffled->src[0].y[i]]++;
        changed += clean->src[0].y[i] != shuffled->src[0].y[i];
    }
    assert_memory_equal(count[0], count[1], sizeof count[0]);
    assert_true(changed > 600);   /* 3/4 expected to differ with 4 classes */
    dt_data_free(clean);
    dt_data_free(noisy);
    dt_data_free(shuffled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_determinism),
        cmocka_unit_test(test_achievable),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_label_noise_and_shuffle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
