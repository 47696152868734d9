/* dt_data_load: sources -> modality -> subset -> four splits -> profile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *dt_split_name(dt_split_id s)
{
    static const char *names[] = {"train", "train_val", "test_val", "test"};
    return (unsigned)s < DT_SPLIT_COUNT ? names[s] : "?";
}

static void join_path(char *out, size_t cap, const char *base, const char *p)
{
    if (!base || !*base || p[0] == '/') snprintf(out, cap, "%s", p);
    else snprintf(out, cap, "%s/%s", base, p);
}

/* The per-sample shape as the file describes it, before modality. */
typedef struct natural {
    int ndim;
    int shape[4];
} natural;

static dt_status load_idx(const dt_source_spec *ss, const char *base, int cls, dt_data_source *src, natural *nat)
{
    char ip[1040], lp[1040];
    dt_idx im, lb;
    join_path(ip, sizeof ip, base, ss->images);
    join_path(lp, sizeof lp, base, ss->labels);
    snprintf(src->name, sizeof src->name, "%s", ip);
    dt_status st = dt_idx_load_images(ip, &im);
    if (st) return st;
    if ((st = dt_idx_load_labels(lp, &lb))) { dt_idx_free(&im); return st; }
    if (lb.count != im.count) {
        st = dt_fail(DT_EDATA, "%s: offset 4: %zu labels, but %s has %zu images", lp, lb.count, ip, im.count);
        dt_idx_free(&im);
        dt_idx_free(&lb);
        return st;
    }
    src->n = im.count;
    src->x_u8 = im.data;
    nat->ndim = 2;
    nat->shape[0] = (int)im.dims[1];
    nat->shape[1] = (int)im.dims[2];
    if (!(src->y = malloc(src->n * sizeof *src->y))) st = dt_fail(DT_ENOMEM, "%s: out of memory", lp);
    for (size_t i = 0; !st && i < src->n; i++) src->y[i] = lb.data[i];
    (void)cls; /* uint8 labels are always valid class ids */
    dt_idx_free(&lb);
    return st;
}

static dt_status load_csv(const dt_data_spec *spec, const dt_source_spec *ss, const char *base, dt_data *d,
                          dt_data_source *src, natural *nat)
{
    dt_csv_options o = {spec->csv_delimiter ? spec->csv_delimiter : ',', spec->csv_header, spec->csv_skip_rows,
                        spec->csv_label_index, spec->csv_label_name, spec->slice_column,
                        spec->task == DT_TASK_CLASSIFICATION};
    dt_csv c;
    join_path(src->name, sizeof src->name, base, ss->path);
    dt_status st = dt_csv_load(src->name, &o, &d->slices, &c);
    if (st) return st;
    if (!c.y) { dt_csv_free(&c); return dt_fail(DT_ECONFIG, "%s: no label column", src->name); }
    src->n = c.rows;
    src->x_f32 = c.x;
    src->y = c.y;
    src->slice = c.slice;
    nat->ndim = 1;
    nat->shape[0] = (int)c.cols;
    return DT_OK;
}

static dt_status load_npy(const dt_data_spec *spec, const dt_source_spec *ss, const char *base,
                          dt_data_source *src, natural *nat)
{
    char yp[1040], where[96];
    dt_npy x, y;
    join_path(src->name, sizeof src->name, base, ss->x);
    join_path(yp, sizeof yp, base, ss->y);
    dt_status st = dt_npy_load(src->name, &x);
    if (st) return st;
    if (x.ndim < 1 || x.ndim > 4 || x.shape[0] == 0) {
        st = dt_fail(DT_EDATA, "%s: offset 8: X must have shape (N, ...) with N > 0 and at most 4 dimensions",
                     src->name);
        dt_npy_free(&x);
        return st;
    }
    for (int i = 1; i < x.ndim; i++)
        if (x.shape[i] == 0 || x.shape[i] > (1u << 30)) {
            dt_npy_free(&x);
            return dt_fail(DT_EDATA, "%s: offset 8: dimension %d of X is %zu", src->name, i, x.shape[i]);
        }
    if ((st = dt_npy_load(yp, &y))) { dt_npy_free(&x); return st; }
    if (y.ndim == 2 && y.shape[1] == 1) y.ndim = 1; /* (N, 1) column vectors are common */
    if (y.ndim != 1 || y.shape[0] != x.shape[0]) {
        st = dt_fail(DT_EDATA, "%s: offset 8: y must have shape (%zu,) to match X", yp, x.shape[0]);
        goto out;
    }
    src->n = x.shape[0];
    if (!(src->y = malloc(src->n * sizeof *src->y))) { st = dt_fail(DT_ENOMEM, "%s: out of memory", yp); goto out; }
    for (size_t i = 0; i < src->n; i++) {
        src->y[i] = y.u8 ? y.u8[i] : y.f32[i];
        snprintf(where, sizeof where, "offset %zu (element %zu)", y.data_offset + i * y.itemsize, i);
        if ((st = dt_check_label(src->y[i], spec->task == DT_TASK_CLASSIFICATION, yp, where))) goto out;
    }
    nat->ndim = x.ndim - 1;
    for (int i = 1; i < x.ndim; i++) nat->shape[i - 1] = (int)x.shape[i];
    if (nat->ndim == 0) { nat->ndim = 1; nat->shape[0] = 1; }
    src->x_u8 = x.u8;
    src->x_f32 = x.f32;
    x.u8 = NULL;
    x.f32 = NULL;
out:
    dt_npy_free(&x);
    dt_npy_free(&y);
    return st;
}

static dt_status load_text(const dt_data_spec *spec, const dt_source_spec *ss, const char *base, int is_train,
                           dt_data *d, dt_data_source *src)
{
    dt_text t;
    join_path(src->name, sizeof src->name, base, ss->path);
    dt_status st = dt_text_load(src->name, spec->seq_len, &d->vocab, is_train, &t);
    if (st) return st;
    size_t L = (size_t)spec->seq_len;
    src->text = t.ids;
    src->text_len = t.len;
    /* Non-overlapping windows: no two samples share an input character,
     * so duplicates and train/val leakage mean what they say. */
    src->stride = L;
    src->n = (t.len - L - 1) / L + 1;
    if (!(src->y = malloc(src->n * sizeof *src->y))) return dt_fail(DT_ENOMEM, "%s: out of memory", src->name);
    for (size_t i = 0; i < src->n; i++) src->y[i] = t.ids[i * L + L];
    return DT_OK;
}

static dt_status load_source(const dt_data_spec *spec, int which, const char *base, dt_data *d, natural *nat,
                             int *gen_classes)
{
    const dt_source_spec *ss = which ? &spec->test : &spec->train;
    dt_data_source *src = &d->src[which];
    switch (spec->format) {
    case DT_FORMAT_IDX: return load_idx(ss, base, 1, src, nat);
    case DT_FORMAT_CSV: return load_csv(spec, ss, base, d, src, nat);
    case DT_FORMAT_NPY: return load_npy(spec, ss, base, src, nat);
    case DT_FORMAT_TEXT: return load_text(spec, ss, base, which == 0, d, src);
    case DT_FORMAT_SYNTHETIC: {
        dt_rng r;
        dt_rng_seed(&r, spec->seed * 2654435761ull + 17 + (unsigned)which);
        snprintf(src->name, sizeof src->name, "synthetic %s", which ? "test" : "train");
        return dt_synth_generate(spec->generator, spec->samples, spec->noise, &r, src, &nat->ndim, nat->shape,
                                 gen_classes);
    }
    }
    return dt_fail(DT_ECONFIG, "data.format: unknown format %d", (int)spec->format);
}

static dt_modality default_modality(const dt_data_spec *spec, const natural *nat)
{
    switch (spec->format) {
    case DT_FORMAT_IDX: return DT_MODALITY_IMAGE;
    case DT_FORMAT_TEXT: return DT_MODALITY_SEQUENCE;
    case DT_FORMAT_CSV: return DT_MODALITY_TABULAR;
    case DT_FORMAT_SYNTHETIC:
        return spec->generator == DT_GEN_SHAPES      ? DT_MODALITY_IMAGE
               : spec->generator == DT_GEN_SEQUENCES ? DT_MODALITY_SEQUENCE
                                                     : DT_MODALITY_TABULAR;
    case DT_FORMAT_NPY: return nat->ndim >= 2 ? DT_MODALITY_IMAGE : DT_MODALITY_TABULAR;
    }
    return DT_MODALITY_TABULAR;
}

/* Per-sample shape for the chosen modality; memory layout is C order in
 * every case, so only the interpretation changes. */
static dt_status resolve_shape(dt_data *d, dt_modality m, const natural *nat)
{
    size_t dim = 1;
    for (int i = 0; i < nat->ndim; i++) dim *= (size_t)nat->shape[i];
    d->sample_dim = dim;
    d->modality = m;
    if (m == DT_MODALITY_TABULAR) {
        d->ndim = 1;
        d->shape[0] = (int)dim;
    } else if (m == DT_MODALITY_IMAGE) {
        if (d->format == DT_FORMAT_TEXT)
            return dt_fail(DT_ECONFIG, "data.modality: text data cannot be read as images");
        if (nat->ndim == 3) { d->ndim = 3; memcpy(d->shape, nat->shape, 3 * sizeof(int)); }
        else if (nat->ndim == 2) { d->ndim = 3; d->shape[0] = 1; d->shape[1] = nat->shape[0]; d->shape[2] = nat->shape[1]; }
        else {
            int s = (int)lrint(sqrt((double)dim));
            if ((size_t)s * (size_t)s != dim)
                return dt_fail(DT_ECONFIG, "data.modality: image needs a square number of features (have %zu)", dim);
            d->ndim = 3; d->shape[0] = 1; d->shape[1] = d->shape[2] = s;
        }
    } else {
        /* Sequence: first axis is time, the rest are the features per step. */
        d->ndim = 2;
        if (nat->ndim == 1) { d->shape[0] = nat->shape[0]; d->shape[1] = 1; }
        else { d->shape[0] = nat->shape[0]; d->shape[1] = (int)(dim / (size_t)nat->shape[0]); }
    }
    return DT_OK;
}

/* Rows of a source whose class survives the subset; relabels them densely. */
static dt_status make_pool(dt_data *d, const dt_data_spec *spec, int which, size_t **pool, size_t *n)
{
    dt_data_source *s = &d->src[which];
    *pool = malloc((s->n ? s->n : 1) * sizeof **pool);
    if (!*pool) return dt_fail(DT_ENOMEM, "splitting data: out of memory");
    *n = 0;
    int newid[DT_MAX_CLASSES];
    for (int c = 0; c < DT_MAX_CLASSES; c++) newid[c] = -1;
    for (int k = 0; k < d->n_class_map; k++) newid[d->class_map[k]] = k;
    for (size_t r = 0; r < s->n; r++) {
        if (d->n_class_map) {
            int c = (int)s->y[r];
            if (newid[c] < 0) continue;
            s->y[r] = (float)newid[c];
        }
        (*pool)[(*n)++] = r;
    }
    (void)spec;
    return DT_OK;
}

static dt_status check_spec(const dt_data_spec *spec)
{
    if (!(spec->train_val_fraction >= 0 && spec->train_val_fraction < 1))
        return dt_fail(DT_ECONFIG, "data.splits.train_val: must be in [0, 1) (got %g)", spec->train_val_fraction);
    if (!(spec->test_val_fraction >= 0 && spec->test_val_fraction < 1))
        return dt_fail(DT_ECONFIG, "data.splits.test_val: must be in [0, 1) (got %g)", spec->test_val_fraction);
    for (int k = 0; k < spec->n_subset_classes; k++) {
        int c = spec->subset_classes[k];
        if (c < 0 || c >= DT_MAX_CLASSES)
            return dt_fail(DT_ECONFIG, "data.subset.classes: class %d is out of range 0..%d", c, DT_MAX_CLASSES - 1);
        for (int j = 0; j < k; j++)
            if (spec->subset_classes[j] == c)
                return dt_fail(DT_ECONFIG, "data.subset.classes: class %d is listed twice", c);
    }
    if (spec->n_subset_classes && spec->task != DT_TASK_CLASSIFICATION)
        return dt_fail(DT_ECONFIG, "data.subset.classes: only for classification");
    if (spec->format == DT_FORMAT_TEXT && spec->task != DT_TASK_CLASSIFICATION)
        return dt_fail(DT_ECONFIG, "task: text data is next-character classification");
    return DT_OK;
}

/* Splits rows[0..n) of source `which` into splits a (kept) and b (held, a
 * `frac` share).  Takes ownership of rows. */
static dt_status split_two(dt_data *d, int which, size_t *rows, size_t n, double frac, dt_rng *rng, int a, int b)
{
    size_t target = (size_t)llround(frac * (double)n);
    const float *labels = d->task == DT_TASK_CLASSIFICATION ? d->src[which].y : NULL;
    dt_status st = dt_split_count(rows, n, labels, d->classes, target, rng, &d->rows[a], &d->count[a],
                                  &d->rows[b], &d->count[b]);
    d->split_src[a] = d->split_src[b] = which;
    free(rows);
    return st;
}

static dt_status build(dt_data *d, const dt_data_spec *spec, const char *base)
{
    natural nat[2] = {{0}, {0}};
    int gen_classes = 0;
    dt_status st = check_spec(spec);
    if (st) return st;
    d->format = spec->format;
    d->task = spec->task;
    int has_test = spec->test.present != 0;
    if ((st = load_source(spec, 0, base, d, &nat[0], &gen_classes))) return st;
    if (has_test && (st = load_source(spec, 1, base, d, &nat[1], &gen_classes))) return st;
    if (spec->format == DT_FORMAT_TEXT) /* V is final only once the test corpus added any unknown id */
        for (int w = 0; w < 2; w++) { nat[w].ndim = 2; nat[w].shape[0] = spec->seq_len; nat[w].shape[1] = d->vocab.size; }
    if (has_test && (nat[0].ndim != nat[1].ndim || memcmp(nat[0].shape, nat[1].shape, sizeof nat[0].shape)))
        return dt_fail(DT_EDATA, "%s: sample shape differs from the train data's (%s)", d->src[1].name,
                       d->src[0].name);
    dt_modality m = spec->modality == DT_MODALITY_AUTO ? default_modality(spec, &nat[0]) : spec->modality;
    if ((st = resolve_shape(d, m, &nat[0]))) return st;
    d->inputs_u8 = d->src[0].x_u8 != NULL;

    /* Classes: a class subset renames the kept classes 0..k-1. */
    d->n_class_map = spec->n_subset_classes;
    memcpy(d->class_map, spec->subset_classes, (size_t)spec->n_subset_classes * sizeof(int));
    size_t *pool[2] = {NULL, NULL}, npool[2] = {0, 0};
    for (int w = 0; w < 1 + has_test; w++)
        if ((st = make_pool(d, spec, w, &pool[w], &npool[w]))) { free(pool[0]); return st; }
    if (d->task == DT_TASK_CLASSIFICATION) {
        int maxc = -1;
        for (int w = 0; w < 1 + has_test; w++)
            for (size_t i = 0; i < npool[w]; i++)
                if ((int)d->src[w].y[pool[w][i]] > maxc) maxc = (int)d->src[w].y[pool[w][i]];
        d->classes = d->n_class_map ? d->n_class_map : maxc + 1;
        if (!d->n_class_map && gen_classes > d->classes) d->classes = gen_classes;
    } else {
        d->classes = 1;
    }
    if (npool[0] == 0) {
        free(pool[1]);
        free(pool[0]);
        return dt_fail(DT_EDATA, "%s: no samples of the requested classes", d->src[0].name);
    }

    dt_rng rng;
    dt_rng_seed(&rng, spec->seed ^ 0xDA7A5EEDull);
    const float *labels = d->task == DT_TASK_CLASSIFICATION ? d->src[0].y : NULL;
    d->shift_measurable = has_test;
    if (!has_test) {
        /* The test distribution is the train distribution: hold out a
         * stratified share of train to stand in for the test source. */
        size_t *kept, nk, target = (size_t)llround(DT_HOLDOUT_FRACTION * (double)npool[0]);
        st = dt_split_count(pool[0], npool[0], labels, d->classes, target, &rng, &kept, &nk, &pool[1], &npool[1]);
        free(pool[0]);
        pool[0] = kept;
        npool[0] = nk;
        if (st) { free(pool[0]); free(pool[1]); return st; }
    }
    if (spec->subset_samples && spec->subset_samples < npool[0]) {
        size_t *rest, nrest, *sub, nsub;
        st = dt_split_count(pool[0], npool[0], labels, d->classes, spec->subset_samples, &rng, &rest, &nrest, &sub,
                            &nsub);
        free(pool[0]);
        free(rest);
        pool[0] = sub;
        npool[0] = nsub;
        if (st) { free(pool[1]); return st; }
    }
    int test_src = has_test ? 1 : 0;
    st = split_two(d, 0, pool[0], npool[0], spec->train_val_fraction, &rng, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL);
    if (st) { free(pool[1]); return st; }
    if ((st = split_two(d, test_src, pool[1], npool[1], spec->test_val_fraction, &rng, DT_SPLIT_TEST,
                        DT_SPLIT_TEST_VAL)))
        return st;
    if (d->count[DT_SPLIT_TRAIN] == 0)
        return dt_fail(DT_EDATA, "%s: too few samples (%zu) to make a train split", d->src[0].name, npool[0]);
    int normalize = spec->normalize && spec->format != DT_FORMAT_TEXT; /* one-hot is already unit scale */
    return dt_data_compute_profile(d, normalize);
}

dt_status dt_data_load(const dt_data_spec *spec, const char *base_dir, dt_data **out)
{
    *out = NULL;
    dt_data *d = calloc(1, sizeof *d);
    if (!d) return dt_fail(DT_ENOMEM, "loading data: out of memory");
    dt_status st = build(d, spec, base_dir);
    if (st) { dt_data_free(d); return st; }
    *out = d;
    return DT_OK;
}

void dt_data_free(dt_data *d)
{
    if (!d) return;
    for (int w = 0; w < 2; w++) {
        dt_data_source *s = &d->src[w];
        free(s->x_u8); free(s->x_f32); free(s->text); free(s->y); free(s->slice);
    }
    for (int s = 0; s < DT_SPLIT_COUNT; s++) { free(d->rows[s]); free(d->y_override[s]); }
    dt_slice_table_free(&d->slices);
    dt_data_profile *p = &d->profile;
    free(p->class_count); free(p->min); free(p->max); free(p->mean); free(p->std);
    free(d->mean);
    free(d->std);
    free(d);
}
