/* NPY loader: the supported dtypes and versions, modality from shape, and
 * malformed headers reported with their byte offset. */
#include "test_data_util.h"

static void test_dtypes(void **state)
{
    (void)state;
    float f4[6] = {1, 2, 3, 4, 5, 6};
    double f8[6] = {1, 2, 3, 4, 5, 6};
    uint8_t u1[6] = {1, 2, 3, 4, 5, 6};
    int32_t i4[6] = {1, 2, 3, 4, 5, 6};
    int64_t i8[6] = {1, 2, 3, 4, 5, 6};
    struct { const char *descr; const void *p; size_t size; int version; } cases[] = {
        {"<f4", f4, 4, 1}, {"<f8", f8, 8, 2}, {"|u1", u1, 1, 3}, {"<i4", i4, 4, 1}, {"<i8", i8, 8, 2}};
    for (size_t k = 0; k < 5; k++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2, 3), }", cases[k].descr);
        const char *p = write_npy("t.npy", cases[k].version, dict, cases[k].p, 6 * cases[k].size);
        dt_npy a;
        assert_int_equal(dt_npy_load(p, &a), DT_OK);
        assert_int_equal(a.ndim, 2);
        assert_int_equal(a.shape[1], 3);
        assert_int_equal(a.count, 6);
        if (a.u8) assert_int_equal(a.u8[5], 6);
        else assert_true(a.f32[5] == 6.0f);
        dt_npy_free(&a);
    }
}

static void test_bad_headers(void **state)
{
    (void)state;
    float f4[8] = {0};
    dt_npy a;
    assert_data_error(dt_npy_load(write_npy("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                            f4, 8), &a), "be.npy", "unsupported NPY dtype '>f4'");
    assert_data_error(dt_npy_load(write_npy("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                                            f4, 4), &a), "f2.npy", "offset 20");
    assert_data_error(dt_npy_load(write_npy("fo.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                            f4, 16), &a), "fo.npy", "fortran_order True");
    assert_data_error(dt_npy_load(write_npy("brace.npy", 1, "'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
                                            f4, 8), &a), "brace.npy", "offset 10: corrupt NPY header");
    assert_data_error(dt_npy_load(write_npy("shape.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
                                            f4, 8), &a), "shape.npy", "corrupt NPY header: expected a dimension");
    assert_data_error(dt_npy_load(write_npy("short.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                                            f4, 8), &a), "short.npy", "data ends early");
    assert_data_error(dt_npy_load(write_npy("lie.npy", 1,
                                            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999), }",
                                            f4, 8), &a), "lie.npy", "offset");
    assert_data_error(dt_npy_load(twrite("magic.npy", "\x93NUMPZ\x01\x00\x10\x00", 10), &a), "magic.npy", "offset 0");
    assert_data_error(dt_npy_load(twrite("hlen.npy", "\x93NUMPY\x01\x00\xff\x00{", 11), &a), "hlen.npy",
                      "offset 8: NPY header length 255");
    assert_data_error(dt_npy_load(twrite("ver.npy", "\x93NUMPY\x09\x00\x10\x00", 10), &a), "ver.npy", "offset 6");
    assert_data_error(dt_npy_load(tpath("absent.npy"), &a), "absent.npy", "cannot open");
}

static void test_dataset_modality(void **state)
{
    (void)state;
    static uint8_t x[20 * 28 * 28];
    int64_t y[20];
    for (size_t i = 0; i < sizeof x; i++) x[i] = (uint8_t)(i % 251);
    for (int i = 0; i < 20; i++) y[i] = i % 2;
    write_npy("x.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (20, 28, 28), }", x, sizeof x);
    write_npy("y.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }", y, sizeof y);
    dt_data_spec s = tspec(DT_FORMAT_NPY);
    s.train.present = 1;
    strcpy(s.train.x, "x.npy");
    strcpy(s.train.y, "y.npy");
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_IMAGE);
    assert_int_equal(dt_data_sample_ndim(d), 3);
    assert_true(d->inputs_u8);
    dt_data_free(d);
    /* Explicit sequence: 28 steps of 28 features. */
    s.modality = DT_MODALITY_SEQUENCE;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_sample_ndim(d), 2);
    assert_int_equal(dt_data_sample_shape(d)[0], 28);
    assert_int_equal(dt_data_sample_shape(d)[1], 28);
    assert_int_equal(d->n_norm, 28);
    dt_data_free(d);
    /* 2-D X is tabular. */
    float xf[20 * 3] = {0};
    for (int i = 0; i < 60; i++) xf[i] = (float)i;
    write_npy("x2.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (20, 3), }", xf, sizeof xf);
    strcpy(s.train.x, "x2.npy");
    s.modality = DT_MODALITY_AUTO;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_TABULAR);
    assert_int_equal(dt_data_sample_dim(d), 3);
    dt_data_free(d);

    /* y length mismatch and labels out of range. */
    write_npy("y19.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (19,), }", y, 19 * 8);
    strcpy(s.train.y, "y19.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "y19.npy", "offset 8");
    y[3] = -1;
    write_npy("yneg.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }", y, sizeof y);
    strcpy(s.train.y, "yneg.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "yneg.npy", "offset 152 (element 3): class label -1");
    y[3] = 300;
    write_npy("ybig.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }", y, sizeof y);
    strcpy(s.train.y, "ybig.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "ybig.npy", "class label 300");
    float yf[20] = {0};
    yf[0] = 0.5f;
    write_npy("yf.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (20,), }", yf, sizeof yf);
    strcpy(s.train.y, "yf.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "yf.npy", "class label 0.5");
    s.task = DT_TASK_REGRESSION;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_classes(d), 1);
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_dataset_modality),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
