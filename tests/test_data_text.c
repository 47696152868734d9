/* Text corpora: vocabulary, windows, labels, one-hot batches, unknown
 * characters in the test corpus, and corpora too short for seq_len. */
#include "test_data_util.h"

static void test_windows_and_onehot(void **state)
{
    (void)state;
    twrite_str("train.txt", "abcabcabcabcabcabcabcabcabcabcab\n"); /* 33 bytes */
    dt_data_spec s = tspec(DT_FORMAT_TEXT);
    s.train.present = 1;
    strcpy(s.train.path, "train.txt");
    s.seq_len = 4;
    s.train_val_fraction = 0;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_modality(d), DT_MODALITY_SEQUENCE);
    assert_int_equal(d->vocab.size, 4); /* '\n' a b c */
    assert_int_equal(dt_data_classes(d), 4);
    assert_int_equal(dt_data_sample_shape(d)[0], 4);
    assert_int_equal(dt_data_sample_shape(d)[1], 4);
    assert_false(d->normalized);
    /* (33 - 4 - 1) / 4 + 1 = 8 windows, 20% held out as the test source. */
    size_t total = 0;
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) total += dt_data_split_size(d, (dt_split_id)sp);
    assert_int_equal(total, 8);
    float x[16], y;
    size_t r = 0;
    dt_data_batch(d, DT_SPLIT_TRAIN, &r, 1, x, &y);
    size_t w = d->rows[DT_SPLIT_TRAIN][0];
    /* Window w starts at 4w: characters follow "abc" cyclically; ids: \n=0 a=1 b=2 c=3. */
    for (int t = 0; t < 4; t++) {
        int want = 1 + (int)((4 * w + (size_t)t) % 3);
        for (int v = 0; v < 4; v++) assert_true(x[t * 4 + v] == (v == want ? 1.0f : 0.0f));
    }
    assert_int_equal((int)y, 1 + (int)((4 * w + 4) % 3));
    dt_data_free(d);
}

static void test_unknown_and_short(void **state)
{
    (void)state;
    twrite_str("tr.txt", "hello world, hello world");
    twrite_str("te.txt", "hello there!");
    dt_data_spec s = tspec(DT_FORMAT_TEXT);
    s.train.present = s.test.present = 1;
    strcpy(s.train.path, "tr.txt");
    strcpy(s.test.path, "te.txt");
    s.seq_len = 3;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    /* 't' and '!' are unseen in train: they share one unknown id. */
    assert_true(d->vocab.unk >= 0);
    assert_int_equal(d->vocab.size, 10);
    assert_int_equal(dt_data_sample_shape(d)[1], 10);
    assert_true(d->shift_measurable);
    dt_data_free(d);

    dt_vocab v;
    dt_text t;
    dt_vocab_build(&v, (const uint8_t *)"abc", 3);
    assert_data_error(dt_text_parse((const uint8_t *)"abc", 3, "mem.txt", 3, &v, &t), "mem.txt", "offset 3");
    s.seq_len = 30;
    assert_data_error(dt_data_load(&s, tdir, &d), "tr.txt", "shorter than seq_len");
    twrite_str("empty.txt", "");
    strcpy(s.train.path, "empty.txt");
    assert_data_error(dt_data_load(&s, tdir, &d), "empty.txt", "offset 0");
    strcpy(s.train.path, "gone.txt");
    assert_data_error(dt_data_load(&s, tdir, &d), "gone.txt", "cannot open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_and_onehot),
        cmocka_unit_test(test_unknown_and_short),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
