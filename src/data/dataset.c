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

static dt_status load_idx(const dt_source_spec *ss, const char *base, dt_data_source *src, dt_natural *nat)
{
    char ip[1040], lp[1040];
    dt_idx im, lb;
    join_path(ip, sizeof ip, base, ss->images);
    join_path(lp, sizeof lp, base, ss->labels);
    snprintf(src->name, sizeof src->name, "%s", ip);
    snprintf(src->fx[0].file, sizeof src->fx[0].file, "%s", ip);
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
    src->fx[0].u8 = im.data;
    nat->ndim = 2;
    nat->shape[0] = (int)im.dims[1];
    nat->shape[1] = (int)im.dims[2];
    if (!(src->y = malloc(src->n * sizeof *src->y))) st = dt_fail(DT_ENOMEM, "%s: out of memory", lp);
    for (size_t i = 0; !st && i < src->n; i++) src->y[i] = lb.data[i]; /* uint8 labels are always valid class ids */
    dt_idx_free(&lb);
    return st;
}

static dt_status load_csv(const dt_data_spec *spec, const dt_source_spec *ss, const char *base, dt_data *d,
                          dt_data_source *src, dt_natural *nat)
{
    dt_csv_options o = {spec->csv_delimiter ? spec->csv_delimiter : ',', spec->csv_header, spec->csv_skip_rows,
                        spec->csv_label_index, spec->csv_label_name, spec->slice_column,
                        spec->task == DT_TASK_CLASSIFICATION};
    dt_csv c;
    join_path(src->name, sizeof src->name, base, ss->path);
    memcpy(src->fx[0].file, src->name, sizeof src->fx[0].file);
    dt_status st = dt_csv_load(src->name, &o, &d->slices, &c);
    if (st) return st;
    if (!c.y) { dt_csv_free(&c); return dt_fail(DT_ECONFIG, "%s: no label column", src->name); }
    src->n = c.rows;
    src->fx[0].f32 = c.x;
    src->y = c.y;
    src->slice = c.slice;
    nat->ndim = 1;
    nat->shape[0] = (int)c.cols;
    return DT_OK;
}

/* Loads one X array (N, ...) of at most 4 dimensions into a field's store. */
static dt_status load_x_array(const char *path, dt_field_store *fs, dt_natural *nat, size_t *n)
{
    dt_npy x;
    snprintf(fs->file, sizeof fs->file, "%s", path);
    dt_status st = dt_npy_load(path, &x);
    if (st) return st;
    if (x.ndim < 1 || x.ndim > 4 || x.shape[0] == 0) {
        dt_npy_free(&x);
        return dt_fail(DT_EDATA, "%s: offset 8: X must have shape (N, ...) with N > 0 and at most 4 dimensions",
                       path);
    }
    for (int i = 1; i < x.ndim; i++)
        if (x.shape[i] == 0 || x.shape[i] > (1u << 30)) {
            dt_npy_free(&x);
            return dt_fail(DT_EDATA, "%s: offset 8: dimension %d of X is %zu", path, i, x.shape[i]);
        }
    *n = x.shape[0];
    nat->ndim = x.ndim - 1;
    for (int i = 1; i < x.ndim; i++) nat->shape[i - 1] = (int)x.shape[i];
    /* (N,) is one value per sample: tabular, even when stored as integers. */
    nat->is_int = x.ndim > 1 && (x.dtype == DT_NPY_U1 || x.dtype == DT_NPY_I4 || x.dtype == DT_NPY_I8);
    if (nat->ndim == 0) { nat->ndim = 1; nat->shape[0] = 1; }
    fs->u8 = x.u8;
    fs->f32 = x.f32;
    fs->data_offset = x.data_offset;
    fs->itemsize = x.itemsize;
    return DT_OK;
}

/* Labels (N,) or (N, 1) of an npy source with n samples whose X is `xname`. */
static dt_status load_y(const dt_data_spec *spec, const char *yp, size_t n, dt_data_source *src)
{
    char where[96];
    dt_npy y;
    dt_status st = dt_npy_load(yp, &y);
    if (st) return st;
    if (y.ndim == 2 && y.shape[1] == 1) y.ndim = 1; /* (N, 1) column vectors are common */
    if (y.ndim != 1 || y.shape[0] != n) {
        st = dt_fail(DT_EDATA, "%s: offset 8: y must have shape (%zu,) to match X", yp, n);
        goto out;
    }
    if (!(src->y = malloc(n * sizeof *src->y))) { st = dt_fail(DT_ENOMEM, "%s: out of memory", yp); goto out; }
    for (size_t i = 0; i < n; i++) {
        src->y[i] = y.u8 ? y.u8[i] : y.f32[i];
        snprintf(where, sizeof where, "offset %zu (element %zu)", y.data_offset + i * y.itemsize, i);
        if ((st = dt_check_label(src->y[i], spec->task == DT_TASK_CLASSIFICATION, yp, where))) goto out;
    }
out:
    dt_npy_free(&y);
    return st;
}

static dt_status load_npy(const dt_data_spec *spec, const dt_source_spec *ss, const char *base,
                          dt_data_source *src, dt_natural *nat)
{
    char yp[1040];
    join_path(src->name, sizeof src->name, base, ss->x);
    join_path(yp, sizeof yp, base, ss->y);
    dt_status st = load_x_array(src->name, &src->fx[0], &nat[0], &src->n);
    return st ? st : load_y(spec, yp, src->n, src);
}

/* npy x as a map of named fields, one file each, all with the same N.  The
 * test source's fields are stored in the train source's order. */
static dt_status load_npy_fields(const dt_data_spec *spec, int which, const char *base, dt_data_source *src,
                                 dt_natural *nat)
{
    const dt_source_spec *ss = which ? &spec->test : &spec->train;
    char yp[1040];
    dt_status st = dt_fields_match(spec, which);
    if (st) return st;
    for (int f = 0; f < spec->train.n_fields; f++) {
        const dt_field_spec *fsp = &ss->fields[dt_fields_find(ss, spec->train.fields[f].name)];
        char path[1040];
        size_t n;
        join_path(path, sizeof path, base, fsp->path);
        snprintf(nat[f].name, sizeof nat[f].name, "%s", fsp->name);
        nat[f].modality = fsp->modality;
        if ((st = load_x_array(path, &src->fx[f], &nat[f], &n))) return st;
        if (f == 0) {
            src->n = n;
            snprintf(src->name, sizeof src->name, "%s", path);
        } else if (n != src->n) {
            return dt_fail(DT_EDATA, "%s: offset 8: field '%s' has %zu samples, but %s (field '%s') has %zu", path,
                           fsp->name, n, src->name, nat[0].name, src->n);
        }
    }
    join_path(yp, sizeof yp, base, ss->y);
    return load_y(spec, yp, src->n, src);
}

static dt_status load_text(const dt_data_spec *spec, const dt_source_spec *ss, const char *base, int is_train,
                           dt_data *d, dt_data_source *src)
{
    dt_text t;
    join_path(src->name, sizeof src->name, base, ss->path);
    memcpy(src->fx[0].file, src->name, sizeof src->fx[0].file);
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

/* Loads source `which` and sets its fields' natural shapes; returns the
 * number of fields in *n_fields. */
static dt_status load_source(const dt_data_spec *spec, int which, const char *base, dt_data *d, dt_natural *nat,
                             int *n_fields, int *gen_classes)
{
    const dt_source_spec *ss = which ? &spec->test : &spec->train;
    dt_data_source *src = &d->src[which];
    *n_fields = 1;
    snprintf(nat[0].name, sizeof nat[0].name, "x");
    switch (spec->format) {
    case DT_FORMAT_IDX: return load_idx(ss, base, src, nat);
    case DT_FORMAT_CSV: return load_csv(spec, ss, base, d, src, nat);
    case DT_FORMAT_NPY:
        if (spec->train.n_fields || spec->test.n_fields) {
            *n_fields = spec->train.n_fields;
            return load_npy_fields(spec, which, base, src, nat);
        }
        return load_npy(spec, ss, base, src, nat);
    case DT_FORMAT_TEXT: return load_text(spec, ss, base, which == 0, d, src);
    case DT_FORMAT_SYNTHETIC: {
        dt_rng r;
        dt_rng_seed(&r, spec->seed * 2654435761ull + 17 + (unsigned)which);
        snprintf(src->name, sizeof src->name, "synthetic %s", which ? "test" : "train");
        dt_status st = dt_synth_generate(spec->generator, spec->samples, spec->noise, &r, src, n_fields, nat,
                                         gen_classes);
        if (!st)
            st = dt_synth_corrupt_labels(src, *gen_classes, spec->label_noise, spec->shuffle_labels,
                                         spec->seed * 2654435761ull + 29 + (unsigned)which);
        for (int f = 0; f < *n_fields; f++) memcpy(src->fx[f].file, src->name, sizeof src->fx[f].file);
        return st;
    }
    }
    return dt_fail(DT_ECONFIG, "data.format: unknown format %d", (int)spec->format);
}

static dt_modality default_modality(const dt_data_spec *spec, const dt_natural *nat)
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

/* Resolves every field's modality and shape, and the single-input view. */
static dt_status resolve_fields(dt_data *d, const dt_data_spec *spec, const dt_natural *nat, int named)
{
    dt_status st;
    for (int f = 0; f < d->n_fields; f++) {
        dt_field *fd = &d->fields[f];
        memcpy(fd->name, nat[f].name, sizeof fd->name);
        fd->name[sizeof fd->name - 1] = '\0';
        fd->inputs_u8 = d->src[0].fx[f].u8 != NULL;
        if (named) {
            if ((st = dt_field_resolve(fd, &nat[f], d->src[0].fx[f].file))) return st;
        } else if (d->format == DT_FORMAT_TEXT) {
            /* Text as a field: the window's token ids. */
            fd->modality = DT_MODALITY_SEQUENCE;
            fd->tokens = 1;
            fd->vocab = d->vocab.size;
            fd->ndim = 1;
            fd->shape[0] = spec->seq_len;
            fd->sample_dim = (size_t)spec->seq_len;
        } else {
            dt_modality m = spec->modality == DT_MODALITY_AUTO ? default_modality(spec, &nat[f]) : spec->modality;
            if ((st = dt_field_shape(fd, m, &nat[f], d->format, "data.modality"))) return st;
        }
    }
    if (named && (st = dt_field_vocab(d))) return st;
    /* The single-input view: field 0, or text's one-hot steps [T, V]. */
    dt_field view = d->fields[0];
    if (d->format == DT_FORMAT_TEXT) {
        dt_natural onehot = {.ndim = 2, .shape = {spec->seq_len, d->vocab.size}};
        dt_modality m = spec->modality == DT_MODALITY_AUTO ? DT_MODALITY_SEQUENCE : spec->modality;
        if ((st = dt_field_shape(&view, m, &onehot, d->format, "data.modality"))) return st;
    }
    d->modality = view.modality;
    d->ndim = view.ndim;
    memset(d->shape, 0, sizeof d->shape);
    memcpy(d->shape, view.shape, sizeof view.shape);
    d->sample_dim = view.sample_dim;
    d->inputs_u8 = d->fields[0].inputs_u8;
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

/* Train-split mean and standard deviation of the targets (a constant target
 * keeps std 1, so nothing divides by zero). */
static void standardize_targets(dt_data *d)
{
    size_t n = d->count[DT_SPLIT_TRAIN];
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double y = dt_data_label(d, DT_SPLIT_TRAIN, i);
        s += y;
        s2 += y * y;
    }
    double mean = n ? s / (double)n : 0, var = n ? s2 / (double)n - mean * mean : 0;
    d->y_mean = mean;
    d->y_std = var > 1e-24 ? sqrt(var) : 1.0;
    d->targets_standardized = 1;
}

static dt_status build(dt_data *d, const dt_data_spec *spec, const char *base)
{
    dt_natural nat[2][DT_MAX_FIELDS];
    int gen_classes = 0, nf[2] = {0, 0};
    memset(nat, 0, sizeof nat);
    dt_status st = check_spec(spec);
    if (st) return st;
    d->format = spec->format;
    d->task = spec->task;
    int has_test = spec->test.present != 0;
    int named = (spec->format == DT_FORMAT_NPY && (spec->train.n_fields || spec->test.n_fields)) ||
                (spec->format == DT_FORMAT_SYNTHETIC && spec->generator == DT_GEN_PAIRS);
    if (named && spec->modality != DT_MODALITY_AUTO)
        return dt_fail(DT_ECONFIG, "data.modality: data with named fields takes each field's modality from its "
                       "array (or from data.train.x.NAME.modality); leave data.modality at auto");
    if ((st = load_source(spec, 0, base, d, nat[0], &nf[0], &gen_classes))) return st;
    if (has_test && (st = load_source(spec, 1, base, d, nat[1], &nf[1], &gen_classes))) return st;
    d->n_fields = nf[0];
    if (spec->format == DT_FORMAT_TEXT) /* V is final only once the test corpus added any unknown id */
        for (int w = 0; w < 2; w++) { nat[w][0].ndim = 2; nat[w][0].shape[0] = spec->seq_len; nat[w][0].shape[1] = d->vocab.size; }
    if (has_test && (st = dt_fields_same_shape(d, nat[0], nat[1], named))) return st;
    if ((st = resolve_fields(d, spec, nat[0], named))) return st;

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
    int normalize = spec->normalize && spec->format != DT_FORMAT_TEXT; /* ids / one-hot: never standardized */
    if (spec->task == DT_TASK_REGRESSION && spec->standardize_targets) standardize_targets(d);
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
        for (int f = 0; f < DT_MAX_FIELDS; f++) { free(s->fx[f].u8); free(s->fx[f].f32); }
        free(s->text); free(s->y); free(s->slice);
    }
    for (int f = 0; f < DT_MAX_FIELDS; f++) {
        free(d->fields[f].mean); free(d->fields[f].std);
        dt_field_profile *fp = &d->profile.fields[f];
        free(fp->min); free(fp->max); free(fp->mean); free(fp->std);
    }
    for (int s = 0; s < DT_SPLIT_COUNT; s++) { free(d->rows[s]); free(d->y_override[s]); }
    dt_slice_table_free(&d->slices);
    dt_data_profile *p = &d->profile;
    free(p->class_count); free(p->min); free(p->max); free(p->mean); free(p->std);
    free(d->mean);
    free(d->std);
    free(d);
}
