/* The real datasets in ../shared/data (see its SOURCES.md): counts, shapes,
 * label ranges, and the memory footprint of full MNIST.  Skipped when the
 * folder is absent.  Nothing from those files is copied into the repo. */
#include "support/test_files.h"
#include "test_data_util.h"

#define DATA dt_test_data_root()

static const char *data_path(const char *rel)
{
    static char p[2][512];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", DATA, rel);
    return p[k];
}

static int have(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", DATA, rel);
    if (access(p, R_OK) == 0) return 1;
    print_message("skipping: %s not found (run from the repo root with ../shared/data present, or set "
                  "DNNTROUBLE_DATA)\n", p);
    return 0;
}

/* Peak resident set size of this process in kB (VmHWM). */
static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

/* Loads an IDX train/test pair, checks counts and shapes and the first ten
 * labels of each file (SOURCES.md). */
static dt_data *load_idx_pair(const char *dir, const int first[10], const int tfirst[10])
{
    dt_data_spec s = tspec(DT_FORMAT_IDX);
    s.train.present = s.test.present = 1;
    snprintf(s.train.images, sizeof s.train.images, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(s.train.labels, sizeof s.train.labels, "%s/train-labels-idx1-ubyte.gz", dir);
    snprintf(s.test.images, sizeof s.test.images, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(s.test.labels, sizeof s.test.labels, "%s/t10k-labels-idx1-ubyte.gz", dir);
    dt_data *d;
    dt_status st = dt_data_load(&s, DATA, &d);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(d->src[0].n, 60000);
    assert_int_equal(d->src[1].n, 10000);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TRAIN) + dt_data_split_size(d, DT_SPLIT_TRAIN_VAL), 60000);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TEST_VAL) + dt_data_split_size(d, DT_SPLIT_TEST), 10000);
    assert_int_equal(dt_data_split_size(d, DT_SPLIT_TRAIN_VAL), 6000);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_IMAGE);
    assert_int_equal(dt_data_sample_dim(d), 784);
    assert_int_equal(dt_data_sample_shape(d)[1], 28);
    assert_int_equal(dt_data_classes(d), 10);
    assert_true(d->inputs_u8 && d->shift_measurable);
    assert_true(d->profile.label_min == 0 && d->profile.label_max == 9);
    assert_true(d->profile.min[0] == 0 && d->profile.max[0] == 255);
    for (int i = 0; i < 10; i++) {
        assert_int_equal((int)d->src[0].y[i], first[i]);
        assert_int_equal((int)d->src[1].y[i], tfirst[i]);
    }
    return d;
}

static void test_mnist_and_rss(void **state)
{
    (void)state;
    if (!have("mnist/train-images-idx3-ubyte.gz")) { skip(); return; }
    const int first[] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, tfirst[] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    dt_data *d = load_idx_pair("mnist", first, tfirst);
    /* MNIST pixel mean / std are the well-known 33.3 / 78.6 (0.1307 / 0.3081 x 255). */
    assert_true(d->mean[0] > 32 && d->mean[0] < 35 && d->std[0] > 77 && d->std[0] < 80);
    long kb = peak_rss_kb();
    print_message("MNIST train+test loaded: peak RSS (VmHWM) %.1f MB; train mean %.2f std %.2f; %zu train/test duplicates; "
                  "%zu constant pixels\n",
                  (double)kb / 1024.0, d->mean[0], d->std[0], d->profile.duplicates, d->profile.constant_features);
    dt_data_free(d);
#if defined(__SANITIZE_ADDRESS__)
    print_message("(ASan build: shadow memory and quarantine inflate RSS; the 100 MB bound is checked without it)\n");
#else
    if (dt_test_under_valgrind()) print_message("(under valgrind: its own memory inflates RSS; bound not checked)\n");
    else assert_true(kb > 0 && kb < 100 * 1024);
#endif
}

static void test_fashion(void **state)
{
    (void)state;
    if (!have("fashion-mnist/train-images-idx3-ubyte.gz")) { skip(); return; }
    const int first[] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, tfirst[] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    dt_data_free(load_idx_pair("fashion-mnist", first, tfirst));
}

/* Loads a sklearn CSV through dt_data_load and checks rows, features and
 * per-class counts (over all four splits). */
static void check_csv(const char *file, int skip, char delim, size_t rows, size_t feats, const int *counts, int k)
{
    dt_data_spec s = tspec(DT_FORMAT_CSV);
    s.train.present = 1;
    snprintf(s.train.path, sizeof s.train.path, "tabular/%s", file);
    s.csv_header = 0; /* sklearn's first line is metadata ("150,4,setosa,..."), not names */
    s.csv_skip_rows = skip;
    s.csv_delimiter = delim;
    dt_data *d;
    dt_status st = dt_data_load(&s, DATA, &d);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(d->src[0].n, rows);
    assert_int_equal(dt_data_sample_dim(d), feats);
    assert_int_equal(dt_data_classes(d), k);
    for (int c = 0; c < k; c++) {
        size_t n = 0;
        for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) n += d->profile.class_count[sp * k + c];
        if (counts) assert_int_equal(n, counts[c]);
    }
    assert_false(d->shift_measurable);
    dt_data_free(d);
}

static void test_tabular(void **state)
{
    (void)state;
    if (!have("tabular/iris.csv")) { skip(); return; }
    const int iris[] = {50, 50, 50}, wine[] = {59, 71, 48}, bc[] = {212, 357};
    check_csv("iris.csv", 1, ',', 150, 4, iris, 3);
    check_csv("wine_data.csv", 1, ',', 178, 13, wine, 3);
    check_csv("breast_cancer.csv", 1, ',', 569, 30, bc, 2);
    check_csv("digits.csv.gz", 0, ',', 1797, 64, NULL, 10);

    /* Diabetes: features and target in two space-separated gzip files. */
    dt_csv_options o = {' ', 0, 0, DT_CSV_NO_LABEL, NULL, NULL, 0};
    dt_csv x, y;
    assert_int_equal(dt_csv_load(data_path("tabular/diabetes_data.csv.gz"), &o, NULL, &x), DT_OK);
    assert_int_equal(x.rows, 442);
    assert_int_equal(x.cols, 10);
    assert_int_equal(dt_csv_load(data_path("tabular/diabetes_target.csv.gz"), &o, NULL, &y), DT_OK);
    assert_int_equal(y.rows, 442);
    float lo = 1e9f, hi = -1e9f;
    for (size_t i = 0; i < y.rows; i++) { lo = y.x[i] < lo ? y.x[i] : lo; hi = y.x[i] > hi ? y.x[i] : hi; }
    assert_true(lo == 25 && hi == 346);
    dt_csv_free(&x);
    dt_csv_free(&y);
}

static void test_shakespeare(void **state)
{
    (void)state;
    if (!have("text/tinyshakespeare.txt")) { skip(); return; }
    dt_data_spec s = tspec(DT_FORMAT_TEXT);
    s.train.present = 1;
    strcpy(s.train.path, "text/tinyshakespeare.txt");
    s.seq_len = 64;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, DATA, &d), DT_OK);
    assert_int_equal(d->vocab.size, 65);
    assert_int_equal(d->vocab.unk, -1);
    assert_int_equal(d->src[0].text_len, 1115394);
    assert_int_equal(d->src[0].n, (1115394 - 65) / 64 + 1);
    assert_int_equal(dt_data_sample_shape(d)[0], 64);
    assert_int_equal(dt_data_sample_shape(d)[1], 65);
    assert_int_equal(dt_data_classes(d), 65);
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist_and_rss), /* first: VmHWM must reflect MNIST alone */
        cmocka_unit_test(test_fashion),
        cmocka_unit_test(test_tabular),
        cmocka_unit_test(test_shakespeare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
