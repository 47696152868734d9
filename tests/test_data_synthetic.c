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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_determinism),
        cmocka_unit_test(test_achievable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
