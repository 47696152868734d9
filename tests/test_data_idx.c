/* IDX loader: good files (plain, .gz, any rows x cols) and every malformed
 * case reported as DT_EDATA naming file and offset. */
#include "test_data_util.h"

static size_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
    return 4;
}

/* Images file: n images of r x c, pixel value = (i + k) & 255; returns length. */
static size_t make_images(uint8_t *b, uint32_t n, uint32_t r, uint32_t c)
{
    size_t o = put32(b, 0x803);
    o += put32(b + o, n); o += put32(b + o, r); o += put32(b + o, c);
    for (size_t i = 0; i < (size_t)n * r * c; i++) b[o + i] = (uint8_t)(i * 7);
    return o + (size_t)n * r * c;
}

static size_t make_labels(uint8_t *b, uint32_t n, int classes)
{
    size_t o = put32(b, 0x801);
    o += put32(b + o, n);
    for (uint32_t i = 0; i < n; i++) b[o + i] = (uint8_t)(i % (uint32_t)classes);
    return o + n;
}

static void test_good_plain_and_gz(void **state)
{
    (void)state;
    uint8_t b[4096];
    size_t n = make_images(b, 10, 3, 5);
    const char *names[] = {"img.idx", "img.idx.gz"};
    for (int k = 0; k < 2; k++) {
        const char *p = twrite(names[k], b, n);
        dt_idx x;
        assert_int_equal(dt_idx_load_images(p, &x), DT_OK);
        assert_int_equal(x.count, 10);
        assert_int_equal(x.dims[1], 3);
        assert_int_equal(x.dims[2], 5);
        assert_memory_equal(x.data, b + 16, 150);
        dt_idx_free(&x);
    }
    dt_idx m;
    assert_int_equal(dt_idx_parse(b, n, "mem", &m), DT_OK);
    assert_int_equal(m.ndim, 3);
    dt_idx_free(&m);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    uint8_t b[4096] = {0};   /* "trail.idx" writes bytes past the image: defined ones */
    dt_idx x;
    assert_data_error(dt_idx_load(tpath("nope.idx"), &x), "nope.idx", "cannot open");

    size_t n = make_images(b, 10, 4, 4);
    b[3] = 0x02; /* wrong magic */
    assert_data_error(dt_idx_load(twrite("magic.idx", b, n), &x), "magic.idx", "offset 0");

    n = make_images(b, 10, 4, 4);
    put32(b + 4, 1000); /* header claims more than the data */
    assert_data_error(dt_idx_load(twrite("short.idx", b, n), &x), "short.idx", "offset 176");
    put32(b + 4, 0xFFFFFFFFu); put32(b + 8, 0xFFFFFFFFu); put32(b + 12, 0xFFFFFFFFu); /* lying header */
    assert_data_error(dt_idx_load(twrite("huge.idx.gz", b, n), &x), "huge.idx.gz", "data ends early");

    n = make_images(b, 10, 4, 4);
    assert_data_error(dt_idx_load(twrite("trail.idx", b, n + 3), &x), "trail.idx", "offset 176");
    assert_data_error(dt_idx_load(twrite("hdr.idx", b, 9), &x), "hdr.idx", "offset 9");
    assert_data_error(dt_idx_load(twrite("empty.idx", b, 0), &x), "empty.idx", "offset 0");
    put32(b + 8, 0);
    assert_data_error(dt_idx_load(twrite("zero.idx", b, n), &x), "zero.idx", "offset 8");

    /* A gzip stream cut short. */
    n = make_images(b, 10, 4, 4);
    twrite("cut.idx.gz", b, n);
    FILE *f = fopen(tpath("cut.idx.gz"), "rb");
    uint8_t gz[4096];
    size_t gl = fread(gz, 1, sizeof gz, f);
    fclose(f);
    assert_data_error(dt_idx_load(twrite("cut2.idx.gz.bin", gz, gl - 12), &x), "cut2.idx.gz.bin", "gzip");

    /* Labels where images are expected. */
    n = make_labels(b, 10, 3);
    assert_data_error(dt_idx_load_images(twrite("lab.idx", b, n), &x), "lab.idx", "offset 0");
}

static void test_dataset_and_mismatch(void **state)
{
    (void)state;
    uint8_t b[8192];
    twrite("tr-img.gz", b, make_images(b, 40, 6, 6));
    twrite("tr-lab.gz", b, make_labels(b, 40, 4));
    twrite("te-lab", b, make_labels(b, 39, 4));
    dt_data_spec s = tspec(DT_FORMAT_IDX);
    s.train.present = s.test.present = 1;
    strcpy(s.train.images, "tr-img.gz");
    strcpy(s.train.labels, "tr-lab.gz");
    strcpy(s.test.images, "tr-img.gz");
    strcpy(s.test.labels, "tr-lab.gz");
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_IMAGE);
    assert_int_equal(dt_data_sample_ndim(d), 3);
    assert_int_equal(dt_data_sample_shape(d)[0], 1);
    assert_int_equal(dt_data_sample_shape(d)[1], 6);
    assert_int_equal(dt_data_classes(d), 4);
    assert_true(d->inputs_u8);
    /* The test source is the train file itself: every train sample recurs. */
    assert_int_equal(d->profile.duplicates, dt_data_split_size(d, DT_SPLIT_TRAIN));
    dt_data_free(d);

    s.modality = DT_MODALITY_SEQUENCE;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_sample_ndim(d), 2);
    assert_int_equal(dt_data_sample_shape(d)[0], 6);
    assert_int_equal(dt_data_sample_shape(d)[1], 6);
    dt_data_free(d);

    strcpy(s.test.labels, "te-lab");
    assert_data_error(dt_data_load(&s, tdir, &d), "te-lab", "39 labels");
    assert_null(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plain_and_gz),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_dataset_and_mismatch),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
