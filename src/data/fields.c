/* Fields: the named inputs of a sample.  Matching the field maps of the
 * train and test sources, each field's modality and shape, and the
 * vocabulary of token fields. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dnntrouble/names.h"
#include "internal.h"

int dt_fields_find(const dt_source_spec *ss, const char *name)
{
    for (int i = 0; i < ss->n_fields; i++)
        if (!strcmp(ss->fields[i].name, name)) return i;
    return -1;
}

static void list_names(const dt_source_spec *ss, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < ss->n_fields && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", ss->fields[i].name);
}

dt_status dt_fields_match(const dt_data_spec *spec, int which)
{
    const dt_source_spec *ss = which ? &spec->test : &spec->train;
    const char *key = which ? "data.test.x" : "data.train.x";
    char names[DT_MAX_FIELDS * DT_FIELD_NAME_LEN + 16];
    if (ss->n_fields < 1) {
        if (which) return dt_fail(DT_ECONFIG, "data.test.x: must be a map of the same fields as data.train.x");
        return dt_fail(DT_ECONFIG, "data.train.x: must be a map of fields when data.test.x is one");
    }
    if (ss->n_fields > DT_MAX_FIELDS)
        return dt_fail(DT_ECONFIG, "%s: more than %d fields", key, DT_MAX_FIELDS);
    for (int i = 0; i < ss->n_fields; i++) {
        const dt_field_spec *f = &ss->fields[i];
        if (!dt_is_identifier(f->name) || strlen(f->name) >= DT_FIELD_NAME_LEN)
            return dt_fail(DT_ECONFIG, "%s: field name '%s' must be an identifier (letters, digits and _, not "
                           "starting with a digit)", key, f->name);
        if (dt_fields_find(ss, f->name) != i)
            return dt_fail(DT_ECONFIG, "%s: field '%s' is given twice", key, f->name);
        if (!f->path[0]) return dt_fail(DT_ECONFIG, "%s.%s: no file given", key, f->name);
    }
    if (!which) return DT_OK;
    list_names(&spec->train, names, sizeof names);
    for (int i = 0; i < ss->n_fields; i++)
        if (dt_fields_find(&spec->train, ss->fields[i].name) < 0)
            return dt_fail(DT_ECONFIG, "data.test.x: field '%s' is not a field of data.train.x (%s)",
                           ss->fields[i].name, names);
    for (int i = 0; i < spec->train.n_fields; i++)
        if (dt_fields_find(ss, spec->train.fields[i].name) < 0)
            return dt_fail(DT_ECONFIG, "data.test.x: field '%s' of data.train.x is missing",
                           spec->train.fields[i].name);
    return DT_OK;
}

static void shape_text(const dt_natural *n, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < n->ndim && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? ", " : "", n->shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "%s)", n->ndim == 1 ? "," : "");
}

dt_status dt_fields_same_shape(const dt_data *d, const dt_natural *train, const dt_natural *test, int named)
{
    for (int f = 0; f < d->n_fields; f++) {
        const dt_natural *a = &train[f], *b = &test[f];
        char sa[96], sb[96];
        if (a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape) && a->is_int == b->is_int) continue;
        shape_text(a, sa, sizeof sa);
        shape_text(b, sb, sizeof sb);
        if (!named)
            return dt_fail(DT_EDATA, "%s: sample shape %s differs from the train data's %s (%s)", d->src[1].name, sb,
                           sa, d->src[0].name);
        if (a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof a->shape))
            return dt_fail(DT_EDATA, "%s: field '%s' holds %s, but in the train data (%s) it holds %s",
                           d->src[1].fx[f].file, a->name, b->is_int ? "integers" : "floats", d->src[0].fx[f].file,
                           a->is_int ? "integers" : "floats");
        return dt_fail(DT_EDATA, "%s: field '%s': sample shape %s differs from the train data's %s (%s)",
                       d->src[1].fx[f].file, a->name, sb, sa, d->src[0].fx[f].file);
    }
    return DT_OK;
}

dt_status dt_field_shape(dt_field *f, dt_modality m, const dt_natural *nat, dt_format fmt, const char *what)
{
    size_t dim = 1;
    for (int i = 0; i < nat->ndim; i++) dim *= (size_t)nat->shape[i];
    f->sample_dim = dim;
    f->modality = m;
    memset(f->shape, 0, sizeof f->shape);
    if (m == DT_MODALITY_TABULAR) {
        if (dim > (size_t)1 << 30) return dt_fail(DT_EDATA, "field '%s': %zu values per sample is too many", f->name, dim);
        f->ndim = 1;
        f->shape[0] = (int)dim;
    } else if (m == DT_MODALITY_IMAGE) {
        if (fmt == DT_FORMAT_TEXT) return dt_fail(DT_ECONFIG, "%s: text data cannot be read as images", what);
        if (nat->ndim == 3) { f->ndim = 3; memcpy(f->shape, nat->shape, 3 * sizeof(int)); }
        else if (nat->ndim == 2) { f->ndim = 3; f->shape[0] = 1; f->shape[1] = nat->shape[0]; f->shape[2] = nat->shape[1]; }
        else if (nat->ndim == 1) {
            int s = (int)lrint(sqrt((double)dim));
            if ((size_t)s * (size_t)s != dim)
                return dt_fail(DT_ECONFIG, "%s: image needs a square number of features (have %zu)", what, dim);
            f->ndim = 3; f->shape[0] = 1; f->shape[1] = f->shape[2] = s;
        } else {
            return dt_fail(DT_ECONFIG, "%s: a %d-dimensional sample cannot be read as an image (C, H, W)", what,
                           nat->ndim);
        }
    } else {
        /* Sequence: first axis is time, the rest are the features per step. */
        f->ndim = 2;
        if (nat->ndim == 1) { f->shape[0] = nat->shape[0]; f->shape[1] = 1; }
        else { f->shape[0] = nat->shape[0]; f->shape[1] = (int)(dim / (size_t)nat->shape[0]); }
    }
    return DT_OK;
}

dt_status dt_field_resolve(dt_field *f, const dt_natural *nat, const char *file)
{
    dt_modality m = nat->modality;
    /* Integer (N, T): token ids, unless the field is explicitly image or tabular. */
    int tokens = nat->tokens || (nat->is_int && nat->ndim == 1 && (m == DT_MODALITY_AUTO || m == DT_MODALITY_SEQUENCE));
    if (tokens) {
        f->modality = DT_MODALITY_SEQUENCE;
        f->tokens = 1;
        f->vocab = nat->vocab;
        f->ndim = 1;
        f->shape[0] = nat->shape[0];
        f->sample_dim = (size_t)nat->shape[0];
        return DT_OK;
    }
    if (m == DT_MODALITY_AUTO) m = nat->ndim == 1 ? DT_MODALITY_TABULAR : DT_MODALITY_IMAGE;
    char what[128];
    snprintf(what, sizeof what, "data.train.x.%s.modality", f->name);
    dt_status st = dt_field_shape(f, m, nat, DT_FORMAT_NPY, what);
    return st ? dt_fail_context(st, "%s", file) : DT_OK;
}

dt_status dt_field_vocab(dt_data *d)
{
    for (int f = 0; f < d->n_fields; f++) {
        dt_field *fd = &d->fields[f];
        if (!fd->tokens) continue;
        double top = fd->vocab - 1;
        for (int w = 0; w < 2; w++) {
            const dt_data_source *src = &d->src[w];
            const dt_field_store *fs = &src->fx[f];
            size_t count = src->n * fd->sample_dim;
            if (fs->u8) {
                for (size_t i = 0; i < count; i++)
                    if (fs->u8[i] > top) top = fs->u8[i];
                continue;
            }
            for (size_t i = 0; fs->f32 && i < count; i++) {
                float v = fs->f32[i];
                if (v >= 0 && v < DT_MAX_VOCAB) {
                    if (v > top) top = v;
                    continue;
                }
                size_t row = i / fd->sample_dim, t = i % fd->sample_dim;
                if (v < 0)
                    return dt_fail(DT_EDATA, "%s: offset %zu (sample %zu, step %zu): token id %.0f of field '%s' is "
                                   "negative", fs->file, fs->data_offset + i * fs->itemsize, row, t, v, fd->name);
                return dt_fail(DT_EDATA, "%s: offset %zu (sample %zu, step %zu): token id %.0f of field '%s' is too "
                               "large (ids must be below %d)", fs->file, fs->data_offset + i * fs->itemsize, row, t, v,
                               fd->name, DT_MAX_VOCAB);
            }
        }
        fd->vocab = (int)top + 1;
    }
    return DT_OK;
}
