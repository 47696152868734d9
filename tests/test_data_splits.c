/* Splits, subset, normalization, profile and batching over generated and
 * small CSV data. */
#include <math.h>

#include "test_data_util.h"

static dt_data *blobs(size_t n, unsigned long long seed, size_t subset, const int *classes, int nc)
{
    dt_data_spec s = tspec(DT_FORMAT_SYNTHETIC);
    s.generator = DT_GEN_BLOBS;
    s.samples = n;
    s.seed = seed;
    s.subset_samples = subset;
    for (int k = 0; k < nc; k++) s.subset_classes[k] = classes[k];
    s.n_subset_classes = nc;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, NULL, &d), DT_OK);
    return d;
}

static void test_sizes_stratified_disjoint(void **state)
{
    (void)state;
    dt_data *d = blobs(1000, 1, 0, NULL, 0);
    /* 20% held out as the test source (200), half of it test_val; 10% of the rest train_val. */
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TRAIN), 720);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TRAIN_VAL), 80);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TEST_VAL), 100);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TEST), 100);
    assert_false(d->shift_measurable);
    /* Stratified: classes are balanced (250 each), so every split is too. */
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++)
        for (int c = 0; c < 4; c++)
            assert_int_equal(d->profile.class_count[sp * 4 + c], dt_data_split_size(d, (dt_split_id)sp) / 4);
    /* Disjoint and covering: every source row used exactly once. */
    int seen[1000] = {0};
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) {
        assert_int_equal(d->split_src[sp], 0);
        for (size_t i = 0; i < d->count[sp]; i++) seen[d->rows[sp][i]]++;
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    /* Reproducible; another seed gives another split. */
    dt_data *e = blobs(1000, 1, 0, NULL, 0), *f = blobs(1000, 2, 0, NULL, 0);
    assert_memory_equal(d->rows[DT_SPLIT_TEST], e->rows[DT_SPLIT_TEST], 100 * sizeof(size_t));
    assert_memory_not_equal(d->rows[DT_SPLIT_TEST], f->rows[DT_SPLIT_TEST], 100 * sizeof(size_t));
    dt_data_free(d); dt_data_free(e); dt_data_free(f);
}

static void test_subset(void **state)
{
    (void)state;
    int cls[] = {3, 1};
    dt_data *d = blobs(1000, 1, 100, cls, 2);
    assert_int_equal(dt_data_classes(d), 2);
    assert_int_equal(dt_data_original_class(d, 0), 3);
    assert_int_equal(dt_data_original_class(d, 1), 1);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TRAIN) + dt_data_split_size(d, DT_SPLIT_TRAIN_VAL), 100);
    assert_int_equal(d->profile.class_count[0], 45);
    assert_int_equal(d->profile.class_count[1], 45);
    /* Relabelled class 0 is original class 3: its blob centre is at angle 3*pi/2. */
    for (size_t r = 0; r < dt_data_split_size(d, DT_SPLIT_TRAIN); r++) {
        float x[2], y;
        dt_data_batch_raw(d, DT_SPLIT_TRAIN, &r, 1, x, &y);
        if (y == 0) assert_true(x[1] < -0.5f);
        else assert_true(x[1] > 0.5f);
    }
    assert_true(d->profile.label_min == 0 && d->profile.label_max == 1);
    dt_data_free(d);
}

static void test_normalization_from_train(void **state)
{
    (void)state;
    dt_data *d = blobs(2000, 4, 0, NULL, 0);
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    size_t *rows = malloc(n * sizeof *rows);
    float *x = malloc(n * 2 * sizeof *x);
    for (size_t i = 0; i < n; i++) rows[i] = i;
    dt_data_batch(d, DT_SPLIT_TRAIN, rows, n, x, NULL);
    for (int f = 0; f < 2; f++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < n; i++) { s += x[i * 2 + f]; q += (double)x[i * 2 + f] * x[i * 2 + f]; }
        assert_true(fabs(s / (double)n) < 1e-4);
        assert_true(fabs(q / (double)n - 1) < 1e-3);
    }
    const float *mean, *std;
    assert_int_equal(dt_data_norm_stats(d, &mean, &std), 2);
    assert_true(mean[0] == d->profile.mean[0] && std[1] == d->profile.std[1]);
    free(rows); free(x);
    dt_data_free(d);
}

/* Images: one statistic per channel over every pixel; sequences: one per feature. */
static void test_normalization_image_sequence(void **state)
{
    (void)state;
    dt_generator gens[] = {DT_GEN_SHAPES, DT_GEN_SEQUENCES};
    for (int g = 0; g < 2; g++) {
        dt_data_spec s = tspec(DT_FORMAT_SYNTHETIC);
        s.generator = gens[g];
        s.samples = 300;
        dt_data *d;
        assert_int_equal(dt_data_load(&s, NULL, &d), DT_OK);
        size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN), D = dt_data_sample_dim(d);
        int F = d->n_norm;
        assert_int_equal(F, g == 0 ? 1 : DT_SEQ_CLASSES);
        size_t *rows = malloc(n * sizeof *rows);
        float *x = malloc(n * D * sizeof *x);
        for (size_t i = 0; i < n; i++) rows[i] = i;
        dt_data_batch(d, DT_SPLIT_TRAIN, rows, n, x, NULL);
        for (int f = 0; f < F; f++) {
            double sum = 0, sq = 0, cnt = 0;
            for (size_t e = (size_t)f; e < n * D; e += (size_t)F) { sum += x[e]; sq += (double)x[e] * x[e]; cnt++; }
            assert_true(fabs(sum / cnt) < 1e-3);
            assert_true(fabs(sq / cnt - 1) < 1e-2);
        }
        free(rows); free(x);
        dt_data_free(d);
    }
}

static void test_profile_duplicates_constant(void **state)
{
    (void)state;
    char tr[4096], te[1024];
    size_t a = (size_t)sprintf(tr, "x,c,y\n"), b = (size_t)sprintf(te, "x,c,y\n");
    for (int i = 0; i < 50; i++) a += (size_t)sprintf(tr + a, "%d,5,%d\n", i, i % 2);
    for (int i = 0; i < 10; i++) b += (size_t)sprintf(te + b, "%d,5,%d\n", i < 4 ? i * 10 : 1000 + i, i % 2);
    twrite("tr.csv", tr, a);
    twrite("te.csv", te, b);
    dt_data_spec s = tspec(DT_FORMAT_CSV);
    s.train.present = s.test.present = 1;
    strcpy(s.train.path, "tr.csv");
    strcpy(s.test.path, "te.csv");
    s.train_val_fraction = 0;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    const dt_data_profile *p = dt_data_get_profile(d);
    assert_true(d->shift_measurable);
    assert_int_equal(p->duplicates, 4); /* x = 0, 10, 20, 30 */
    assert_int_equal(p->n_dup_examples, 4);
    assert_int_equal(p->constant_features, 1);
    assert_int_equal(p->n_stats, 2);
    assert_true(p->min[0] == 0 && p->max[0] == 49 && p->std[1] == 0);
    assert_true(d->std[1] == 1); /* constant feature left unscaled */
    assert_int_equal(p->nan_count, 0);
    dt_data_free(d);
}

static void test_batcher(void **state)
{
    (void)state;
    dt_data *d = blobs(500, 1, 0, NULL, 0);
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN), rows[64], got, total = 0;
    dt_rng r1, r2;
    dt_rng_seed(&r1, 9);
    dt_rng_seed(&r2, 9);
    dt_batcher b, c;
    assert_int_equal(dt_batcher_init(&b, d, DT_SPLIT_TRAIN, 64, 1, &r1), DT_OK);
    assert_int_equal(dt_batcher_init(&c, d, DT_SPLIT_TRAIN, 64, 1, &r2), DT_OK);
    int *seen = calloc(n, sizeof *seen);
    for (int epoch = 0; epoch < 2; epoch++) {
        total = 0;
        memset(seen, 0, n * sizeof *seen);
        size_t rows2[64], got2;
        while (dt_batcher_next(&b, rows, &got)) {
            assert_int_equal(dt_batcher_next(&c, rows2, &got2), 1);
            assert_memory_equal(rows, rows2, got * sizeof *rows);
            assert_true(got <= 64);
            for (size_t i = 0; i < got; i++) seen[rows[i]]++;
            total += got;
        }
        assert_int_equal(dt_batcher_next(&c, rows2, &got2), 0);
        assert_int_equal(total, n);
        for (size_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    }
    free(seen);
    dt_batcher_free(&b);
    dt_batcher_free(&c);

    /* Shuffled labels keep the label histogram and can be undone. */
    float before = dt_data_label(d, DT_SPLIT_TRAIN, 0);
    assert_int_equal(dt_data_shuffle_labels(d, DT_SPLIT_TRAIN, &r1), DT_OK);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) moved += dt_data_label(d, DT_SPLIT_TRAIN, i) != d->src[0].y[d->rows[0][i]];
    assert_true(moved > n / 2);
    dt_data_restore_labels(d, DT_SPLIT_TRAIN);
    assert_true(dt_data_label(d, DT_SPLIT_TRAIN, 0) == before);
    dt_data_free(d);
}

static void test_config_errors(void **state)
{
    (void)state;
    dt_data_spec s = tspec(DT_FORMAT_SYNTHETIC);
    dt_data *d;
    s.train_val_fraction = 1.5;
    assert_error_msg(dt_data_load(&s, NULL, &d), DT_ECONFIG, "data.splits.train_val", NULL);
    s = tspec(DT_FORMAT_SYNTHETIC);
    s.n_subset_classes = 1;
    s.subset_classes[0] = 300;
    assert_error_msg(dt_data_load(&s, NULL, &d), DT_ECONFIG, "data.subset.classes", NULL);
    s = tspec(DT_FORMAT_SYNTHETIC);
    s.generator = DT_GEN_BLOBS;
    s.modality = DT_MODALITY_IMAGE; /* 2 features are not a square image */
    assert_error_msg(dt_data_load(&s, NULL, &d), DT_ECONFIG, "data.modality", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_stratified_disjoint),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_normalization_from_train),
        cmocka_unit_test(test_normalization_image_sequence),
        cmocka_unit_test(test_profile_duplicates_constant),
        cmocka_unit_test(test_batcher),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
