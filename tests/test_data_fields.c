/* Fields (several inputs): the field API on every single-input format, text
 * as token ids, npy x maps (good and broken), per-field normalization from
 * the train split only, the profile per field, and the config side of the
 * maps (parse, errors with lines, YAML round trip). */
#include <math.h>

#include <cJSON.h>

#include "dnntrouble/config.h"
#include "test_data_util.h"

/* Every row of split sp through the field API (normalized or raw). */
static float *field_split(const dt_data *d, dt_split_id sp, int f, int raw)
{
    size_t n = dt_data_split_size(d, sp), D = dt_data_field(d, f)->sample_dim;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    float *x = malloc((n ? n : 1) * D * sizeof *x);
    assert_non_null(rows);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) rows[i] = i;
    if (raw) dt_data_batch_field_raw(d, sp, f, rows, n, x);
    else dt_data_batch_field(d, sp, f, rows, n, x);
    free(rows);
    return x;
}

/* Single-input data: one field "x" that is exactly the single-input view. */
static void assert_single_field(const dt_data *d)
{
    assert_int_equal(dt_data_n_fields(d), 1);
    const dt_field *f = dt_data_field(d, 0);
    assert_non_null(f);
    assert_null(dt_data_field(d, 1));
    assert_null(dt_data_field(d, -1));
    assert_string_equal(f->name, "x");
    assert_int_equal(dt_data_field_index(d, "x"), 0);
    assert_int_equal(dt_data_field_index(d, "image"), -1);
    assert_int_equal(f->tokens, 0);
    assert_int_equal(f->modality, dt_data_modality(d));
    assert_int_equal(f->ndim, dt_data_sample_ndim(d));
    for (int i = 0; i < f->ndim; i++) assert_int_equal(f->shape[i], dt_data_sample_shape(d)[i]);
    assert_int_equal(f->sample_dim, dt_data_sample_dim(d));
    const float *m0, *s0, *m1, *s1;
    int n0 = dt_data_norm_stats(d, &m0, &s0), n1 = dt_data_field_norm_stats(d, 0, &m1, &s1);
    assert_int_equal(n0, n1);
    if (n0) {
        assert_memory_equal(m0, m1, (size_t)n0 * sizeof *m0);
        assert_memory_equal(s0, s1, (size_t)n0 * sizeof *s0);
    }
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) {
        size_t n = dt_data_split_size(d, (dt_split_id)sp), D = f->sample_dim;
        if (!n) continue;
        size_t *rows = malloc(n * sizeof *rows);
        float *a = malloc(n * D * sizeof *a), *b = malloc(n * D * sizeof *b), *ya = malloc(n * sizeof *ya),
              *yb = malloc(n * sizeof *yb);
        for (size_t i = 0; i < n; i++) rows[i] = n - 1 - i;
        dt_data_batch(d, (dt_split_id)sp, rows, n, a, ya);
        dt_data_batch_field(d, (dt_split_id)sp, 0, rows, n, b);
        dt_data_batch_labels(d, (dt_split_id)sp, rows, n, yb);
        assert_memory_equal(a, b, n * D * sizeof *a);
        assert_memory_equal(ya, yb, n * sizeof *ya);
        dt_data_batch_raw(d, (dt_split_id)sp, rows, n, a, NULL);
        dt_data_batch_field_raw(d, (dt_split_id)sp, 0, rows, n, b);
        assert_memory_equal(a, b, n * D * sizeof *a);
        free(rows); free(a); free(b); free(ya); free(yb);
    }
    const dt_data_profile *p = dt_data_get_profile(d);
    assert_int_equal(p->n_fields, 1);
    assert_int_equal(p->fields[0].n_stats, p->n_stats);
    assert_memory_equal(p->fields[0].mean, p->mean, (size_t)p->n_stats * sizeof(float));
    assert_memory_equal(p->fields[0].std, p->std, (size_t)p->n_stats * sizeof(float));
    assert_int_equal(p->fields[0].nan_count, p->nan_count);
    assert_int_equal(p->fields[0].constant_features, p->constant_features);
    assert_int_equal(p->fields[0].input_elements, p->input_elements);
}

static void test_single_input_formats(void **state)
{
    (void)state;
    dt_data *d;
    /* IDX: 30 images 4x5, labels 0..2. */
    uint8_t idx_img[16 + 30 * 20] = {0, 0, 8, 3, 0, 0, 0, 30, 0, 0, 0, 4, 0, 0, 0, 5};
    uint8_t idx_lab[8 + 30] = {0, 0, 8, 1, 0, 0, 0, 30};
    for (int i = 0; i < 30 * 20; i++) idx_img[16 + i] = (uint8_t)(i * 7 % 256);
    for (int i = 0; i < 30; i++) idx_lab[8 + i] = (uint8_t)(i % 3);
    twrite("i.idx", idx_img, sizeof idx_img);
    twrite("l.idx.gz", idx_lab, sizeof idx_lab);
    dt_data_spec s = tspec(DT_FORMAT_IDX);
    s.train.present = 1;
    strcpy(s.train.images, "i.idx");
    strcpy(s.train.labels, "l.idx.gz");
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_single_field(d);
    assert_true(dt_data_field(d, 0)->inputs_u8);
    assert_int_equal(dt_data_field(d, 0)->modality, DT_MODALITY_IMAGE);
    dt_data_free(d);

    /* CSV. */
    char csv[4096] = "a,b,c,label\n";
    for (int i = 0; i < 40; i++) {
        size_t n = strlen(csv);
        snprintf(csv + n, sizeof csv - n, "%d,%g,%d,%d\n", i, i * 0.5, 100 - i, i % 2);
    }
    twrite_str("t.csv", csv);
    s = tspec(DT_FORMAT_CSV);
    s.train.present = 1;
    strcpy(s.train.path, "t.csv");
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_single_field(d);
    assert_int_equal(dt_data_field(d, 0)->modality, DT_MODALITY_TABULAR);
    assert_int_equal(dt_data_field(d, 0)->shape[0], 3);
    dt_data_free(d);

    /* NPY, image and tabular (integers in a single x stay tabular, as before). */
    static uint8_t x[20 * 6 * 6];
    int64_t y[20], xi[20 * 3];
    for (size_t i = 0; i < sizeof x; i++) x[i] = (uint8_t)(i * 13 % 251);
    for (int i = 0; i < 20; i++) y[i] = i % 2;
    for (int i = 0; i < 60; i++) xi[i] = i % 7;
    write_npy("x.npy", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (20, 6, 6), }", x, sizeof x);
    write_npy("xi.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20, 3), }", xi, sizeof xi);
    write_npy("y.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }", y, sizeof y);
    s = tspec(DT_FORMAT_NPY);
    s.train.present = 1;
    strcpy(s.train.x, "x.npy");
    strcpy(s.train.y, "y.npy");
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_single_field(d);
    assert_int_equal(dt_data_field(d, 0)->shape[0], 1);
    assert_int_equal(dt_data_field(d, 0)->shape[2], 6);
    dt_data_free(d);
    strcpy(s.train.x, "xi.npy");
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_single_field(d);
    assert_int_equal(dt_data_field(d, 0)->modality, DT_MODALITY_TABULAR);
    dt_data_free(d);

    /* Generated single-input problems. */
    dt_generator gens[] = {DT_GEN_SHAPES, DT_GEN_BLOBS, DT_GEN_SPIRALS, DT_GEN_SEQUENCES};
    for (int g = 0; g < 4; g++) {
        s = tspec(DT_FORMAT_SYNTHETIC);
        s.generator = gens[g];
        s.samples = 200;
        assert_int_equal(dt_data_load(&s, NULL, &d), DT_OK);
        assert_single_field(d);
        dt_data_free(d);
    }
}

/* Text: field "x" holds the window's token ids [T]; dt_data_batch keeps
 * the one-hot steps [T, V] until text models read ids. */
static void test_text_tokens(void **state)
{
    (void)state;
    twrite_str("train.txt", "abcabcabcabcabcabcabcabcabcabcab\n"); /* 33 bytes */
    twrite_str("test.txt", "cabbage!cab\n");
    dt_data_spec s = tspec(DT_FORMAT_TEXT);
    s.train.present = s.test.present = 1;
    strcpy(s.train.path, "train.txt");
    strcpy(s.test.path, "test.txt");
    s.seq_len = 4;
    dt_data *d;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_n_fields(d), 1);
    const dt_field *f = dt_data_field(d, 0);
    assert_string_equal(f->name, "x");
    assert_int_equal(f->tokens, 1);
    assert_int_equal(f->modality, DT_MODALITY_SEQUENCE);
    assert_int_equal(f->ndim, 1);
    assert_int_equal(f->shape[0], 4);
    assert_int_equal(f->sample_dim, 4);
    assert_int_equal(f->vocab, d->vocab.size);
    assert_int_equal(f->vocab, 5);             /* \n a b c, plus the unknown id of 'g', 'e', '!' */
    assert_false(f->normalized);
    const float *m, *sd;
    assert_int_equal(dt_data_field_norm_stats(d, 0, &m, &sd), 0);
    /* The single-input view is still one-hot. */
    assert_int_equal(dt_data_sample_ndim(d), 2);
    assert_int_equal(dt_data_sample_shape(d)[1], 5);
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) {
        size_t n = dt_data_split_size(d, (dt_split_id)sp);
        float *ids = field_split(d, (dt_split_id)sp, 0, 0), *raw = field_split(d, (dt_split_id)sp, 0, 1);
        float *oh = malloc((n ? n : 1) * 20 * sizeof *oh);
        size_t *rows = malloc((n ? n : 1) * sizeof *rows);
        for (size_t i = 0; i < n; i++) rows[i] = i;
        dt_data_batch(d, (dt_split_id)sp, rows, n, oh, NULL);
        assert_memory_equal(ids, raw, n * 4 * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            for (int t = 0; t < 4; t++) {
                float id = ids[i * 4 + (size_t)t];
                assert_true(id >= 0 && id < 5 && id == floorf(id));
                assert_true(oh[i * 20 + (size_t)t * 5 + (size_t)id] == 1.0f);
            }
        free(ids); free(raw); free(oh); free(rows);
    }
    const dt_data_profile *p = dt_data_get_profile(d);
    assert_int_equal(p->fields[0].n_stats, 1);     /* over the ids */
    assert_int_equal(p->fields[0].input_elements, 4);
    assert_int_equal(p->n_stats, 5);               /* the one-hot view, as before */
    assert_int_equal(p->input_elements, 20);
    dt_data_free(d);
}


/* ------------------------------------------------------------- npy maps */

#define NS 40   /* train samples */
#define NT 20   /* test samples */

static void set_field(dt_source_spec *ss, const char *name, const char *path, dt_modality m)
{
    dt_field_spec *f = &ss->fields[ss->n_fields++];
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->modality = m;
}

/* Writes a train set (NS) and a test set (NT) of four fields:
 * image |u1 (N,1,4,4), caption <i8 (N,6), feats <f4 (N,3), steps <f8 (N,5,2). */
static void write_map_files(void)
{
    static uint8_t img[NS * 16];
    static int64_t cap[NS * 6], y[NS];
    static float feats[NS * 3];
    static double steps[NS * 10];
    for (int w = 0; w < 2; w++) {
        int n = w ? NT : NS;
        for (int i = 0; i < n * 16; i++) img[i] = (uint8_t)((i * 37 + w) % 256);
        for (int i = 0; i < n * 6; i++) cap[i] = (i * 5) % 9;
        if (w) cap[3] = 11;                       /* the largest id is in the test set */
        for (int i = 0; i < n * 3; i++) feats[i] = (float)(w ? 1000 + i : (i % 3) * 10 + i / 3);
        for (int i = 0; i < n * 10; i++) steps[i] = (i % 2) ? -i : i * 0.25;
        for (int i = 0; i < n; i++) y[i] = i % 3;
        char dict[128], name[32];
        snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, 1, 4, 4), }", n);
        snprintf(name, sizeof name, "%s_img.npy", w ? "te" : "tr");
        write_npy(name, 1, dict, img, (size_t)n * 16);
        snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, 6), }", n);
        snprintf(name, sizeof name, "%s_cap.npy", w ? "te" : "tr");
        write_npy(name, 1, dict, cap, (size_t)n * 6 * 8);
        snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 3), }", n);
        snprintf(name, sizeof name, "%s_feats.npy", w ? "te" : "tr");
        write_npy(name, 1, dict, feats, (size_t)n * 3 * 4);
        snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 5, 2), }", n);
        snprintf(name, sizeof name, "%s_steps.npy", w ? "te" : "tr");
        write_npy(name, 1, dict, steps, (size_t)n * 10 * 8);
        snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }", n);
        snprintf(name, sizeof name, "%s_y.npy", w ? "te" : "tr");
        write_npy(name, 1, dict, y, (size_t)n * 8);
    }
}

static dt_data_spec map_spec(void)
{
    dt_data_spec s = tspec(DT_FORMAT_NPY);
    s.train.present = s.test.present = 1;
    set_field(&s.train, "image", "tr_img.npy", DT_MODALITY_AUTO);
    set_field(&s.train, "caption", "tr_cap.npy", DT_MODALITY_AUTO);
    set_field(&s.train, "feats", "tr_feats.npy", DT_MODALITY_AUTO);
    set_field(&s.train, "steps", "tr_steps.npy", DT_MODALITY_SEQUENCE);
    strcpy(s.train.y, "tr_y.npy");
    /* The test map lists the same fields in another order. */
    set_field(&s.test, "steps", "te_steps.npy", DT_MODALITY_SEQUENCE);
    set_field(&s.test, "feats", "te_feats.npy", DT_MODALITY_AUTO);
    set_field(&s.test, "caption", "te_cap.npy", DT_MODALITY_AUTO);
    set_field(&s.test, "image", "te_img.npy", DT_MODALITY_AUTO);
    strcpy(s.test.y, "te_y.npy");
    return s;
}

static void test_npy_map(void **state)
{
    (void)state;
    write_map_files();
    dt_data_spec s = map_spec();
    dt_data *d;
    if (dt_data_load(&s, tdir, &d) != DT_OK) fail_msg("%s", dt_last_error());
    assert_int_equal(dt_data_n_fields(d), 4);
    const char *names[] = {"image", "caption", "feats", "steps"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(dt_data_field(d, i)->name, names[i]);
        assert_int_equal(dt_data_field_index(d, names[i]), i);
    }
    const dt_field *img = dt_data_field(d, 0), *cap = dt_data_field(d, 1), *ft = dt_data_field(d, 2),
                   *st = dt_data_field(d, 3);
    assert_int_equal(img->modality, DT_MODALITY_IMAGE);
    assert_int_equal(img->ndim, 3);
    assert_int_equal(img->shape[0], 1);
    assert_int_equal(img->shape[1], 4);
    assert_true(img->inputs_u8 && img->normalized && !img->tokens);
    assert_int_equal(cap->modality, DT_MODALITY_SEQUENCE);
    assert_true(cap->tokens && !cap->normalized);
    assert_int_equal(cap->ndim, 1);
    assert_int_equal(cap->shape[0], 6);
    assert_int_equal(cap->vocab, 12);                /* max id 11 (in test) + 1 */
    assert_int_equal(ft->modality, DT_MODALITY_TABULAR);
    assert_int_equal(ft->shape[0], 3);
    assert_int_equal(st->modality, DT_MODALITY_SEQUENCE);
    assert_int_equal(st->ndim, 2);
    assert_int_equal(st->shape[0], 5);
    assert_int_equal(st->shape[1], 2);
    assert_int_equal(st->sample_dim, 10);
    /* The single-input view is field 0. */
    assert_int_equal(dt_data_modality(d), DT_MODALITY_IMAGE);
    assert_int_equal(dt_data_sample_dim(d), 16);
    assert_true(d->shift_measurable);

    /* Per-field normalization from the train split only: recompute each
     * statistic from the raw train rows (the test values are far off). */
    for (int f = 0; f < 4; f++) {
        const dt_field *fd = dt_data_field(d, f);
        const float *mean, *sd;
        int n = dt_data_field_norm_stats(d, f, &mean, &sd);
        if (fd->tokens) { assert_int_equal(n, 0); continue; }
        assert_int_equal(n, fd->modality == DT_MODALITY_IMAGE ? 1 : fd->modality == DT_MODALITY_SEQUENCE ? 2 : 3);
        size_t nt = dt_data_split_size(d, DT_SPLIT_TRAIN), D = fd->sample_dim;
        float *raw = field_split(d, DT_SPLIT_TRAIN, f, 1), *norm = field_split(d, DT_SPLIT_TRAIN, f, 0);
        for (int k = 0; k < n; k++) {
            double sum = 0, sq = 0, cnt = 0;
            for (size_t i = 0; i < nt; i++)
                for (size_t e = 0; e < D; e++)
                    if ((int)((e / fd->norm_div) % (size_t)n) == k) { sum += raw[i * D + e]; cnt++; }
            double m = sum / cnt;
            for (size_t i = 0; i < nt; i++)
                for (size_t e = 0; e < D; e++)
                    if ((int)((e / fd->norm_div) % (size_t)n) == k) sq += (raw[i * D + e] - m) * (raw[i * D + e] - m);
            double sdev = sqrt(sq / cnt);
            assert_true(fabs(mean[k] - m) <= 1e-4 * (1 + fabs(m)));
            assert_true(fabs(sd[k] - sdev) <= 1e-4 * (1 + sdev));
            assert_true(fabs(dt_data_get_profile(d)->fields[f].mean[k] - m) <= 1e-4 * (1 + fabs(m)));
        }
        /* Normalized train values have mean ~0 per statistic. */
        double tot = 0;
        for (size_t i = 0; i < nt * D; i++) tot += norm[i];
        assert_true(fabs(tot / (double)(nt * D)) < 1e-3);
        free(raw);
        free(norm);
    }
    /* Token ids come out unchanged, normalized or not. */
    float *a = field_split(d, DT_SPLIT_TEST, 1, 0), *b = field_split(d, DT_SPLIT_TEST, 1, 1);
    assert_memory_equal(a, b, dt_data_split_size(d, DT_SPLIT_TEST) * 6 * sizeof *a);
    free(a);
    free(b);

    /* Profile: per-field blocks, totals at the top. */
    const dt_data_profile *p = dt_data_get_profile(d);
    assert_int_equal(p->n_fields, 4);
    assert_int_equal(p->fields[1].n_stats, 1);
    assert_true(p->fields[1].max[0] <= 8);          /* train ids are 0..8 */
    assert_int_equal(p->input_elements, 16 + 6 + 3 + 10);
    assert_int_equal(p->n_stats, p->fields[0].n_stats);
    assert_int_equal(p->nan_count, 0);
    dt_data_free(d);

    /* Without data.test the train map alone works too. */
    s.test.present = 0;
    s.test.n_fields = 0;
    assert_int_equal(dt_data_load(&s, tdir, &d), DT_OK);
    assert_int_equal(dt_data_field(d, 1)->vocab, 9);
    assert_false(d->shift_measurable);
    dt_data_free(d);
}

static void test_npy_map_errors(void **state)
{
    (void)state;
    write_map_files();
    dt_data *d;
    /* Different N between the fields of one split names both files and counts. */
    dt_data_spec s = map_spec();
    strcpy(s.test.fields[1].path, "tr_feats.npy");   /* 40 rows among 20-row test fields */
    assert_data_error(dt_data_load(&s, tdir, &d), "tr_feats.npy", "field 'feats' has 40 samples, but");
    assert_non_null(strstr(dt_last_error(), "te_img.npy (field 'image') has 20"));
    /* Train and test shapes of a field differ: the field and both shapes. */
    int64_t c7[NT * 7] = {0};
    write_npy("te_cap7.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20, 7), }", c7, sizeof c7);
    s = map_spec();
    strcpy(s.test.fields[2].path, "te_cap7.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "te_cap7.npy", "field 'caption': sample shape (7,) differs from "
                      "the train data's (6,)");
    /* Integers in train, floats in test. */
    float f6[NT * 6] = {0};
    write_npy("te_capf.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (20, 6), }", f6, sizeof f6);
    strcpy(s.test.fields[2].path, "te_capf.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "te_capf.npy", "field 'caption' holds floats");
    /* A negative token id: file and offset (element 8 of an <i8 array after a 64-byte header). */
    int64_t neg[NT * 6] = {0};
    neg[8] = -2;
    write_npy("te_neg.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20, 6), }", neg, sizeof neg);
    strcpy(s.test.fields[2].path, "te_neg.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "te_neg.npy", "offset 192 (sample 1, step 2): token id -2 of "
                      "field 'caption' is negative");
    neg[8] = (int64_t)1 << 40;
    write_npy("te_big.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (20, 6), }", neg, sizeof neg);
    strcpy(s.test.fields[2].path, "te_big.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "te_big.npy", "is too large");
    /* Fields that do not match between train and test are config errors. */
    s = map_spec();
    strcpy(s.test.fields[0].name, "stepz");
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.test.x", "field 'stepz' is not a field of "
                     "data.train.x (image, caption, feats, steps)");
    s = map_spec();
    s.test.n_fields = 3;
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.test.x", "field 'image' of data.train.x is missing");
    s = map_spec();
    strcpy(s.train.fields[2].name, "image");
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.train.x", "field 'image' is given twice");
    s = map_spec();
    strcpy(s.train.fields[2].name, "2x");
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.train.x", "field name '2x' must be an identifier");
    s = map_spec();
    s.test.n_fields = 0;
    strcpy(s.test.x, "te_img.npy");
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.test.x", "must be a map of the same fields");
    /* data.modality is per field with a map. */
    s = map_spec();
    s.modality = DT_MODALITY_IMAGE;
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "data.modality", "leave data.modality at auto");
    /* An explicit field modality the array cannot take names the field. */
    s = map_spec();
    s.train.fields[2].modality = DT_MODALITY_IMAGE;      /* (N, 3): not a square */
    assert_error_msg(dt_data_load(&s, tdir, &d), DT_ECONFIG, "tr_feats.npy", "data.train.x.feats.modality: image "
                     "needs a square number");
    /* A missing file. */
    s = map_spec();
    strcpy(s.train.fields[3].path, "nope.npy");
    assert_data_error(dt_data_load(&s, tdir, &d), "nope.npy", "cannot open");
}

/* Non-finite values and duplicates look at every field. */
static void test_npy_map_profile(void **state)
{
    (void)state;
    float a[10 * 2], b[10 * 3], te_a[6 * 2], te_b[6 * 3];
    int64_t y[10], ty[6];
    for (int i = 0; i < 20; i++) a[i] = (float)i;
    for (int i = 0; i < 30; i++) b[i] = (float)(i * 2);
    for (int i = 0; i < 10; i++) y[i] = i % 2;
    b[4] = NAN;
    /* Test row 0 equals train row 3 in both fields, row 1 only in field a. */
    for (int i = 0; i < 12; i++) te_a[i] = 500 + (float)i;
    for (int i = 0; i < 18; i++) te_b[i] = 900 + (float)i;
    memcpy(te_a, a + 3 * 2, 2 * sizeof *a);
    memcpy(te_b, b + 3 * 3, 3 * sizeof *b);
    memcpy(te_a + 2, a + 4 * 2, 2 * sizeof *a);
    for (int i = 0; i < 6; i++) ty[i] = y[3];
    write_npy("pa.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 2), }", a, sizeof a);
    write_npy("pb.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }", b, sizeof b);
    write_npy("py.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (10,), }", y, sizeof y);
    write_npy("ta.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 2), }", te_a, sizeof te_a);
    write_npy("tb.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3), }", te_b, sizeof te_b);
    write_npy("ty.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", ty, sizeof ty);
    dt_data_spec s = tspec(DT_FORMAT_NPY);
    s.train.present = s.test.present = 1;
    s.train_val_fraction = 0;
    set_field(&s.train, "a", "pa.npy", DT_MODALITY_AUTO);
    set_field(&s.train, "b", "pb.npy", DT_MODALITY_AUTO);
    strcpy(s.train.y, "py.npy");
    set_field(&s.test, "a", "ta.npy", DT_MODALITY_AUTO);
    set_field(&s.test, "b", "tb.npy", DT_MODALITY_AUTO);
    strcpy(s.test.y, "ty.npy");
    dt_data *d;
    if (dt_data_load(&s, tdir, &d) != DT_OK) fail_msg("%s", dt_last_error());
    const dt_data_profile *p = dt_data_get_profile(d);
    assert_int_equal(p->fields[0].nan_count, 0);
    assert_int_equal(p->fields[1].nan_count, 1);
    assert_int_equal(p->nan_count, 1);
    assert_int_equal(p->duplicates, 1);             /* only the row equal in every field */
    assert_int_equal(p->input_elements, 5);
    /* Statistics skip the NaN: field b's feature 1 is 2, 8, 14, ..., 56 without the 8. */
    assert_true(fabsf(p->fields[1].mean[1] - 282.0f / 9) < 1e-4f);
    dt_data_free(d);
}

/* -------------------------------------------------------- config side */

static dt_status cfg_parse(dt_config *c, const char *yaml)
{
    dt_config_defaults(c);
    dt_status st = dt_config_parse_string(c, yaml, strlen(yaml), "f.yaml", tdir);
    return st == DT_OK ? dt_config_check(c) : st;
}

static void cfg_error(dt_config *c, const char *yaml, const char *expect)
{
    dt_status st = cfg_parse(c, yaml);
    if (st != DT_ECONFIG || !strstr(dt_last_error(), expect))
        fail_msg("status %s, error '%s' lacks '%s'", dt_status_name(st), dt_last_error(), expect);
}

static const char map_yaml[] =
    "data:\n"
    "  format: npy\n"
    "  train:\n"
    "    x:\n"
    "      image: tr_img.npy\n"
    "      caption: tr_cap.npy\n"
    "      feats: tr_feats.npy\n"
    "      steps: {path: tr_steps.npy, modality: sequence}\n"
    "    y: tr_y.npy\n"
    "  test: {x: {steps: {path: te_steps.npy, modality: sequence}, feats: te_feats.npy, caption: te_cap.npy,\n"
    "                image: te_img.npy}, y: te_y.npy}\n";

static void test_config_maps(void **state)
{
    (void)state;
    write_map_files();
    dt_config *c = malloc(sizeof *c), *b = malloc(sizeof *b);
    assert_non_null(c);
    assert_non_null(b);
    if (cfg_parse(c, map_yaml) != DT_OK) fail_msg("%s", dt_last_error());
    assert_int_equal(c->data.train.n_fields, 4);
    assert_string_equal(c->data.train.fields[1].name, "caption");
    assert_string_equal(c->data.train.fields[1].path, "tr_cap.npy");
    assert_int_equal(c->data.train.fields[1].line, 6);
    assert_int_equal(c->data.train.fields[3].modality, DT_MODALITY_SEQUENCE);
    assert_string_equal(c->data.train.x, "");
    assert_true(dt_config_given(c, "data.train.x") && dt_config_given(c, "data.test.x"));
    assert_int_equal(c->data.test.n_fields, 4);
    assert_string_equal(c->data.test.fields[0].name, "steps");
    char buf[2100];
    assert_int_equal(dt_config_get_string(c, "data.train.x", buf, sizeof buf), DT_OK);
    assert_string_equal(buf, "{image: tr_img.npy, caption: tr_cap.npy, feats: tr_feats.npy, steps: {path: "
                             "tr_steps.npy, modality: sequence}}");
    /* The spec loads as it is. */
    dt_data *d;
    if (dt_data_load(&c->data, c->base_dir, &d) != DT_OK) fail_msg("%s", dt_last_error());
    assert_int_equal(dt_data_n_fields(d), 4);
    assert_int_equal(dt_data_field(d, 3)->modality, DT_MODALITY_SEQUENCE);
    dt_data_free(d);

    /* Resolved JSON: the map with absolute paths. */
    cJSON *j = dt_config_to_json(c);
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "train"), "x");
    assert_true(cJSON_IsObject(x));
    char want[512];
    snprintf(want, sizeof want, "%s/tr_cap.npy", tdir);
    assert_string_equal(cJSON_GetObjectItem(x, "caption")->valuestring, want);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "steps"), "modality")->valuestring, "sequence");
    cJSON_Delete(j);

    /* YAML round trip: the same config, and a fixed point. */
    char *yaml = dt_config_to_yaml(c);
    assert_non_null(yaml);
    dt_config_defaults(b);
    if (dt_config_parse_string(b, yaml, strlen(yaml), "w.yaml", "/elsewhere") != DT_OK || dt_config_check(b) != DT_OK)
        fail_msg("%s\n%s", dt_last_error(), yaml);
    assert_int_equal(b->data.train.n_fields, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(b->data.train.fields[i].name, c->data.train.fields[i].name);
        snprintf(want, sizeof want, "%s/%s", tdir, c->data.train.fields[i].path);
        assert_string_equal(b->data.train.fields[i].path, want);
        assert_int_equal(b->data.train.fields[i].modality, c->data.train.fields[i].modality);
        assert_string_equal(b->data.test.fields[i].name, c->data.test.fields[i].name);
    }
    char *again = dt_config_to_yaml(b);
    assert_string_equal(yaml, again);
    free(yaml);
    free(again);

    /* Aliases and dotted keys. */
    if (cfg_parse(c, "data: {format: npy, npy: {x: {a: tr_feats.npy, b: tr_cap.npy}, y: tr_y.npy}}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_int_equal(c->data.train.n_fields, 2);
    assert_string_equal(c->data.train.fields[1].name, "b");
    if (cfg_parse(c, "data.format: npy\ndata.train.x.a: tr_feats.npy\ndata.train.x.b.path: tr_cap.npy\n"
                     "data.train.x.b.modality: tabular\ndata.train.y: tr_y.npy\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    assert_int_equal(c->data.train.n_fields, 2);
    assert_int_equal(c->data.train.fields[1].modality, DT_MODALITY_TABULAR);
    assert_string_equal(c->data.train.fields[1].path, "tr_cap.npy");
    assert_true(dt_config_given(c, "data.train.x"));
    /* --set replaces a map, or a single file, either way. */
    assert_int_equal(dt_config_set(c, "data.train.x", "{img: tr_img.npy}"), DT_OK);
    assert_int_equal(c->data.train.n_fields, 1);
    assert_string_equal(c->data.train.fields[0].name, "img");
    assert_int_equal(dt_config_set(c, "data.train.x", "one.npy"), DT_OK);
    assert_int_equal(c->data.train.n_fields, 0);
    assert_string_equal(c->data.train.x, "one.npy");
    assert_int_equal(dt_config_set(c, "data.train.x.cap", "tr_cap.npy"), DT_OK);
    assert_int_equal(c->data.train.n_fields, 1);
    assert_string_equal(c->data.train.x, "");
    assert_int_equal(dt_config_set(c, "data.train.x.cap", "tr_cap2.npy"), DT_OK);
    assert_int_equal(c->data.train.n_fields, 1);
    assert_string_equal(c->data.train.fields[0].path, "tr_cap2.npy");
    /* The generated multi-field set from a config. */
    if (cfg_parse(c, "data: {format: synthetic, synthetic: {generator: pairs, samples: 400}}\n") != DT_OK)
        fail_msg("%s", dt_last_error());
    if (dt_data_load(&c->data, c->base_dir, &d) != DT_OK) fail_msg("%s", dt_last_error());
    assert_int_equal(dt_data_n_fields(d), 2);
    assert_int_equal(dt_data_field_index(d, "caption"), 1);
    dt_data_free(d);
    free(c);
    free(b);
}

static void test_config_map_errors(void **state)
{
    (void)state;
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {}\n    y: y.npy\n", "f.yaml:4: data.train.x: an empty map names no fields");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x:\n      a: a.npy\n      a: b.npy\n    y: y.npy\n",
              "f.yaml:6: data.train.x: field 'a' is given twice (first on line 5)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {a: a.npy, b: b.npy, c: c.npy, d: d.npy, e: e.npy, f: f.npy, "
                 "g: g.npy, h: h.npy, i: i.npy}\n    y: y.npy\n", "f.yaml:4: data.train.x: more than 8 fields");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {2d: a.npy}\n    y: y.npy\n",
              "f.yaml:4: data.train.x: field name '2d' must be an identifier");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {a-b: a.npy}\n    y: y.npy\n", "field name 'a-b' must be");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x:\n      a: {pth: a.npy}\n    y: y.npy\n",
              "f.yaml:5: unknown key 'data.train.x.a.pth' (did you mean 'data.train.x.a.path'?)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x:\n      a: {modality: image}\n    y: y.npy\n",
              "f.yaml:5: data.train.x.a needs a path");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x:\n      a: {path: a.npy, modality: picture}\n    y: y.npy\n",
              "f.yaml:5: data.train.x.a.modality must be auto | image | sequence | tabular, got 'picture'");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {a: [a.npy]}\n    y: y.npy\n", "data.train.x.a must be a file name");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {a: }\n    y: y.npy\n", "data.train.x.a must be a file name");
    /* Train and test must name the same fields. */
    cfg_error(c, "data:\n  format: npy\n  train: {x: {image: a.npy, caption: b.npy}, y: y.npy}\n"
                 "  test:\n    x:\n      image: c.npy\n      captoin: d.npy\n    y: z.npy\n",
              "f.yaml:7: data.test.x: unknown field 'captoin' (did you mean 'caption'?)");
    cfg_error(c, "data:\n  format: npy\n  train: {x: {image: a.npy, caption: b.npy}, y: y.npy}\n"
                 "  test:\n    x:\n      image: c.npy\n      words: d.npy\n    y: z.npy\n",
              "f.yaml:7: data.test.x: unknown field 'words' (data.train.x has image, caption)");
    cfg_error(c, "data:\n  format: npy\n  train: {x: {image: a.npy, caption: b.npy}, y: y.npy}\n"
                 "  test:\n    x: {image: c.npy}\n    y: z.npy\n",
              "f.yaml:5: data.test.x lacks field 'caption' of data.train.x");
    cfg_error(c, "data:\n  format: npy\n  train: {x: {image: a.npy}, y: y.npy}\n  test: {x: c.npy, y: z.npy}\n",
              "f.yaml:4: data.train.x is a map of fields, so data.test.x must be one too");
    cfg_error(c, "data:\n  format: npy\n  train: {x: a.npy, y: y.npy}\n  test: {x: {image: c.npy}, y: z.npy}\n",
              "data.test.x is a map of fields, so data.train.x must be one too");
    /* The rest of the data section. */
    cfg_error(c, "data:\n  format: csv\n  train: {path: t.csv, x: {image: a.npy}}\n",
              "f.yaml:3: data.train.x as a map of fields needs data.format npy, not csv");
    cfg_error(c, "data:\n  format: npy\n  modality: image\n  train: {x: {image: a.npy}, y: y.npy}\n",
              "f.yaml:3: data.modality must be auto for data with named fields");
    cfg_error(c, "data: {format: synthetic, synthetic: {generator: pairs}, modality: tabular}\n",
              "data.modality must be auto for data with named fields (the pairs generator)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: a.npy\n    y: y.npy\n  train.x: {image: b.npy}\n",
              "f.yaml:6: data.train.x is given twice (first on line 4)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: {image: b.npy}\n    y: y.npy\n  train.x: a.npy\n",
              "f.yaml:6: data.train.x is given twice (first on line 4)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    x: a.npy\n    y: y.npy\n  train.x.image: b.npy\n",
              "f.yaml:6: data.train.x is given twice (first on line 4)");
    cfg_error(c, "data:\n  format: npy\n  train:\n    y: y.npy\n", "data.format npy needs data.train.x");
    char long_path[1100], text[1300];
    memset(long_path, 'a', 1020);
    long_path[1020] = '\0';
    snprintf(text, sizeof text, "data:\n  format: npy\n  train:\n    x: {img: %s}\n    y: y.npy\n", long_path);
    cfg_error(c, text, "f.yaml:4: data.train.x.img is");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_input_formats),
        cmocka_unit_test(test_text_tokens),
        cmocka_unit_test(test_npy_map),
        cmocka_unit_test(test_npy_map_errors),
        cmocka_unit_test(test_npy_map_profile),
        cmocka_unit_test(test_config_maps),
        cmocka_unit_test(test_config_map_errors),
    };
    return cmocka_run_group_tests(tests, tdir_setup, tdir_teardown);
}
