/* CSV loader: header/no header, skip_rows, delimiters, CRLF, label by index
 * or name, slice column, .gz, and every malformed case with line/column. */
#include "test_data_util.h"

static dt_csv_options opts(void)
{
    dt_csv_options o = {',', 1, 0, -1, NULL, NULL, 1};
    return o;
}

static void test_good_variants(void **state)
{
    (void)state;
    dt_csv c;
    dt_csv_options o = opts();
    const char *p = twrite_str("a.csv", "a,b,label\r\n1,2,0\r\n3.5,-4e1,1\r\n\r\n");
    assert_int_equal(dt_csv_load(p, &o, NULL, &c), DT_OK);
    assert_int_equal(c.rows, 2);
    assert_int_equal(c.cols, 2);
    assert_true(c.x[2] == 3.5f && c.x[3] == -40.0f && c.y[1] == 1.0f);
    dt_csv_free(&c);

    /* No header, skip_rows, ';', label first by index 0, gzip. */
    o.header = 0; o.skip_rows = 1; o.delimiter = ';'; o.label_index = 0;
    p = twrite_str("b.csv.gz", "junk line\n2;10;20\n1;30;40");
    assert_int_equal(dt_csv_load(p, &o, NULL, &c), DT_OK);
    assert_int_equal(c.rows, 2);
    assert_true(c.y[0] == 2 && c.x[0] == 10 && c.x[3] == 40);
    dt_csv_free(&c);

    /* Space-separated with runs of blanks (numpy.savetxt style), no label. */
    o = opts(); o.header = 0; o.delimiter = ' '; o.label_index = DT_CSV_NO_LABEL;
    p = twrite_str("c.txt", "  1.0e+00   2.0\n3 4  \n");
    assert_int_equal(dt_csv_load(p, &o, NULL, &c), DT_OK);
    assert_int_equal(c.cols, 2);
    assert_null(c.y);
    assert_true(c.x[3] == 4);
    dt_csv_free(&c);

    /* Label and slice by name, quoted cells. */
    o = opts(); o.label_name = "y"; o.slice_column = "site";
    dt_slice_table t = {0};
    p = twrite_str("d.csv", "site,x1,y,x2\n\"north, A\",1,0,2\nsouth,3,1,4\n\"north, A\",5,1,6\n");
    assert_int_equal(dt_csv_load(p, &o, &t, &c), DT_OK);
    assert_int_equal(c.cols, 2);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.names[0], "north, A");
    assert_int_equal(c.slice[2], 0);
    assert_int_equal(c.slice[1], 1);
    assert_true(c.x[4] == 5 && c.x[5] == 6 && c.y[2] == 1);
    dt_csv_free(&c);
    dt_slice_table_free(&t);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    dt_csv c;
    dt_csv_options o = opts();
    assert_data_error(dt_csv_load(tpath("missing.csv"), &o, NULL, &c), "missing.csv", "cannot open");
    assert_data_error(dt_csv_load(twrite_str("rag.csv", "a,b,y\n1,2,0\n1,2\n"), &o, NULL, &c), "rag.csv",
                      "line 3: ragged row: 2 columns, expected 3");
    assert_data_error(dt_csv_load(twrite_str("txt.csv", "a,b,y\n1,abc,0\n"), &o, NULL, &c), "txt.csv",
                      "line 2, column 2: not a number");
    assert_data_error(dt_csv_load(twrite_str("nan.csv", "a,b,y\n1,2,0\n1,nan,0\n"), &o, NULL, &c), "nan.csv",
                      "line 3, column 2: NaN");
    assert_data_error(dt_csv_load(twrite_str("inf.csv", "a,b,y\r\n-inf,2,0\r\n"), &o, NULL, &c), "inf.csv",
                      "line 2, column 1: NaN or infinite");
    assert_data_error(dt_csv_load(twrite_str("big.csv", "a,y\n1e60,0\n"), &o, NULL, &c), "big.csv",
                      "line 2, column 1");
    assert_data_error(dt_csv_load(twrite_str("emptycell.csv", "a,b,y\n1,,0\n"), &o, NULL, &c), "emptycell.csv",
                      "line 2, column 2: empty cell");
    assert_data_error(dt_csv_load(twrite_str("empty.csv", ""), &o, NULL, &c), "empty.csv", "empty file");
    assert_data_error(dt_csv_load(twrite_str("hdronly.csv", "a,b,y\n\n"), &o, NULL, &c), "hdronly.csv",
                      "no data rows");
    assert_data_error(dt_csv_load(twrite_str("neg.csv", "a,y\n1,0\n2,-1\n"), &o, NULL, &c), "neg.csv",
                      "line 3, column 2: class label -1");
    assert_data_error(dt_csv_load(twrite_str("frac.csv", "a,y\n1,0.5\n"), &o, NULL, &c), "frac.csv",
                      "line 2, column 2");
    assert_data_error(dt_csv_load(twrite_str("256.csv", "a,y\n1,256\n"), &o, NULL, &c), "256.csv", "line 2");
    assert_data_error(dt_csv_load(twrite_str("quote.csv", "a,y\n\"1,0\n"), &o, NULL, &c), "quote.csv",
                      "line 2, column 1: unterminated quote");
    o.classification = 0; /* regression targets may be any finite number */
    assert_int_equal(dt_csv_load(twrite_str("reg.csv", "a,y\n1,-2.5\n"), &o, NULL, &c), DT_OK);
    dt_csv_free(&c);

    /* Configuration problems are DT_ECONFIG. */
    o = opts(); o.label_name = "target";
    assert_error_msg(dt_csv_load(twrite_str("name.csv", "a,y\n1,0\n"), &o, NULL, &c), DT_ECONFIG, "name.csv",
                     "\"target\" not found");
    o = opts(); o.label_index = 5;
    assert_error_msg(dt_csv_load(twrite_str("idx.csv", "a,y\n1,0\n"), &o, NULL, &c), DT_ECONFIG, "idx.csv",
                     "label column 5");
}

static void test_dataset_slices(void **state)
{
    (void)state;
    char buf[8192];
    size_t k = (size_t)sprintf(buf, "x1,x2,grp,label\n");
    for (int i = 0; i < 100; i++)
        k += (size_t)sprintf(buf + k, "%d,%d,%s,%d\n", i, i % 7, i % 3 ? "b" : "a", i % 2);
    twrite("tab.csv", buf, k);
    dt_data_spec s = tspec(DT_FORMAT_CSV);
    s.train.present = 1;
    strcpy(s.train.path, "tab.csv");
    strcpy(s.slice_column, "grp");
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_TABULAR);
    assert_int_equal(dt_data_sample_dim(d), 2);
    assert_int_equal(d->slices.n, 2);
    assert_false(d->shift_measurable);
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++)
        for (size_t r = 0; r < dt_data_split_size(d, (dt_split_id)sp); r++) {
            int id = dt_data_slice(d, (dt_split_id)sp, r);
            float x[2], y;
            dt_data_batch_raw(d, (dt_split_id)sp, &r, 1, x, &y);
            assert_string_equal(dt_data_slice_name(d, id), (int)x[0] % 3 ? "b" : "a");
            assert_int_equal((int)y, (int)x[0] % 2);
        }
    dt_data_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_variants),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_dataset_slices),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
