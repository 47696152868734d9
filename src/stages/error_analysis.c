/* Shared measurement code for compare, decompose and improve (see error_analysis.h). */
#include "error_analysis.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const dt_ea_term_names[DT_TERM_COUNT] = {"bias", "variance", "shift", "val_overfit"};

const char *dt_ea_dominant_name(const dt_ea_decomp *dc)
{
    return dc->none_dominant ? "none" : dt_ea_term_names[dc->dominant];
}

int dt_ea_target_error(const dt_config *cfg, double *err)
{
    if (!dt_config_given(cfg, "target.value")) return 0;
    double v = cfg->target.value;
    *err = cfg->target.metric == DT_TARGET_ACCURACY ? 1.0 - v : v;
    return 1;
}

int dt_ea_human_error(const dt_config *cfg, double *err)
{
    if (!dt_config_given(cfg, "target.human_level")) return 0;
    double v = cfg->target.human_level;
    *err = cfg->target.metric == DT_TARGET_ACCURACY ? 1.0 - v : v;
    return 1;
}

double dt_ea_error_scale(const dt_data *d)
{
    if (d->task == DT_TASK_CLASSIFICATION) return 1.0;
    size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double y = dt_data_label(d, DT_SPLIT_TRAIN, i);
        s += y;
        s2 += y * y;
    }
    double var = n ? s2 / (double)n - (s / (double)n) * (s / (double)n) : 0.0;
    return var > 1e-12 ? var : 1e-12;
}

double dt_ea_se(const dt_data *d, double err, size_t n, const float *row_loss)
{
    if (n == 0) return 0.0;
    if (d->task == DT_TASK_CLASSIFICATION || !row_loss) return dt_error_se(err, n);
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += row_loss[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (row_loss[i] - m) * (row_loss[i] - m);
    v = n > 1 ? v / (double)(n - 1) : 0.0;
    return sqrt(v / (double)n);
}

void dt_ea_zero_inputs(void *tctx, dt_model *m, size_t n, int train)
{
    (void)train;
    const int *only = tctx;
    for (int i = 0; i < m->n_inputs; i++) {
        if (only && *only != i) continue;
        size_t per = dt_numel(m->inputs[i]) / (size_t)m->inputs[i]->shape[0];
        memset(m->inputs[i]->val, 0, n * per * sizeof(float));
    }
}

/* ------------------------------------------------------------ training */

dt_status dt_ea_evaluate(dt_model *m, const dt_data *d, dt_split_id s, dt_ea_transform tf, void *tctx,
                         dt_eval *res, int *pred, float *row_loss)
{
    return dt_model_evaluate_with(m, d, s, tf, tctx, res, pred, row_loss);
}

static int curve_epoch(void *ctx, const dt_fit_epoch_info *fe)
{
    dt_ea_curve *c = ctx;
    if (c->n == DT_EA_CURVE_MAX) {
        c->truncated = 1;
        return 0;
    }
    c->train_loss[c->n] = fe->train_loss;
    c->val_loss[c->n] = fe->val_loss;
    c->val_error[c->n] = fe->val_error;
    c->n++;
    return 0;
}

static dt_status ea_fit(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_model *m, dt_split_id train,
                        dt_split_id val, dt_ea_transform tf, void *tctx, dt_fit_result *res, dt_ea_curve *curve)
{
    dt_stage_ctx c = *ctx;
    dt_config copy = *cfg;
    c.cfg = &copy;
    dt_fit_opts fo = dt_stage_fit_opts(&c, train, val);
    fo.transform = tf;
    fo.transform_ctx = tctx;
    if (curve) {
        memset(curve, 0, sizeof *curve);
        fo.on_epoch = curve_epoch;
        fo.epoch_ctx = curve;
    }
    return dt_stage_train_opts(&c, d, m, &fo, res);
}

dt_status dt_ea_fit(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_model *m, dt_split_id train,
                    dt_split_id val, dt_ea_transform tf, void *tctx, dt_fit_result *res)
{
    return ea_fit(ctx, cfg, d, m, train, val, tf, tctx, res, NULL);
}

/* JSON numbers for a curve: NaN (no validation) as null. */
static cJSON *curve_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(v[i]) : cJSON_CreateNull());
    return a;
}

cJSON *dt_ea_curve_json(const dt_ea_curve *c)
{
    cJSON *o = cJSON_CreateObject(), *ep = cJSON_CreateArray();
    if (!o || !ep) {
        cJSON_Delete(o);
        cJSON_Delete(ep);
        return NULL;
    }
    for (int i = 0; i < c->n; i++) cJSON_AddItemToArray(ep, cJSON_CreateNumber(i + 1));
    cJSON_AddItemToObject(o, "epoch", ep);
    cJSON_AddItemToObject(o, "train_loss", curve_array(c->train_loss, c->n));
    cJSON_AddItemToObject(o, "val_loss", curve_array(c->val_loss, c->n));
    cJSON_AddItemToObject(o, "val_error", curve_array(c->val_error, c->n));
    if (c->truncated) cJSON_AddBoolToObject(o, "truncated", 1);
    return o;
}

/* Every input flattened (and joined), then one linear layer: softmax
 * regression for classification, least squares for regression. */
dt_status dt_ea_linear_model(const dt_data *d, dt_loss loss, int max_batch, uint64_t seed, dt_model **out)
{
    *out = NULL;
    dt_model_spec *s = calloc(1, sizeof *s);
    if (!s) return dt_fail(DT_ENOMEM, "linear baseline: out of memory");
    s->n_inputs = dt_data_n_fields(d);
    dt_layer_desc *cat = s->n_inputs > 1 ? &s->desc.layers[s->n_inputs] : NULL;
    for (int i = 0; i < s->n_inputs; i++) {
        const dt_field *f = dt_data_field(d, i);
        dt_input_shape *in = &s->inputs[i];
        snprintf(in->name, sizeof in->name, "%s", f->name);
        in->ndim = f->ndim;
        memcpy(in->shape, f->shape, sizeof in->shape);
        s->field[i] = i;
        char name[DT_LAYER_NAME_LEN];
        snprintf(name, sizeof name, "%.30s_flat", f->name);
        dt_layer_desc *l = dt_model_desc_add(&s->desc, DT_LAYER_FLATTEN, name);
        l->n_in = 1;
        snprintf(l->in[0], sizeof l->in[0], "%s", f->name);
    }
    if (cat) {
        cat = dt_model_desc_add(&s->desc, DT_LAYER_CONCAT, "cat");
        cat->n_in = s->n_inputs;
        for (int i = 0; i < s->n_inputs; i++) snprintf(cat->in[i], sizeof cat->in[i], "%s", s->desc.layers[i].name);
    }
    dt_model_desc_add(&s->desc, DT_LAYER_LINEAR, "f1");
    snprintf(s->arch, sizeof s->arch, "linear");
    s->outputs = dt_data_classes(d);
    s->loss = loss;
    s->max_batch = max_batch;
    s->source = "the linear baseline";
    dt_status st = dt_model_build(s, out);
    free(s);
    if (st) return dt_fail_context(st, "building the linear baseline");
    dt_model_init(*out, seed);
    return DT_OK;
}

/* ------------------------------------------------------------ measuring */

dt_status dt_ea_measure(dt_model *m, const dt_data *d, dt_ea_errors *e)
{
    memset(e, 0, sizeof *e);
    size_t maxn = 0;
    for (int s = 0; s < DT_SPLIT_COUNT; s++)
        if (dt_data_split_size(d, (dt_split_id)s) > maxn) maxn = dt_data_split_size(d, (dt_split_id)s);
    float *loss = malloc((maxn ? maxn : 1) * sizeof *loss);
    if (!loss) return dt_fail(DT_ENOMEM, "measuring errors: out of memory");
    dt_status st = DT_OK;
    for (int s = 0; s < DT_SPLIT_COUNT && !st; s++) {
        dt_eval ev = {0};
        e->n[s] = dt_data_split_size(d, (dt_split_id)s);
        if (!e->n[s]) continue;
        st = dt_model_evaluate(m, d, (dt_split_id)s, &ev, NULL, loss);
        if (st) break;
        e->err[s] = ev.error;
        e->se[s] = dt_ea_se(d, ev.error, e->n[s], loss);
    }
    free(loss);
    return st;
}

void dt_ea_decompose(const dt_config *cfg, const dt_data *d, const dt_ea_errors *e, dt_ea_decomp *out)
{
    memset(out, 0, sizeof *out);
    out->scale = dt_ea_error_scale(d);
    double irr = 0;
    out->irreducible_known = dt_ea_target_error(cfg, &irr) || dt_ea_human_error(cfg, &irr);
    out->irreducible = out->irreducible_known ? irr : 0.0;
    const double *E = e->err, *S = e->se;
    out->term[DT_TERM_BIAS] = E[DT_SPLIT_TRAIN] - out->irreducible;
    out->term[DT_TERM_VARIANCE] = E[DT_SPLIT_TRAIN_VAL] - E[DT_SPLIT_TRAIN];
    out->term[DT_TERM_SHIFT] = E[DT_SPLIT_TEST_VAL] - E[DT_SPLIT_TRAIN_VAL];
    out->term[DT_TERM_VAL_OVERFIT] = E[DT_SPLIT_TEST] - E[DT_SPLIT_TEST_VAL];
    double noise[DT_TERM_COUNT] = {
        S[DT_SPLIT_TRAIN],
        sqrt(S[DT_SPLIT_TRAIN_VAL] * S[DT_SPLIT_TRAIN_VAL] + S[DT_SPLIT_TRAIN] * S[DT_SPLIT_TRAIN]),
        sqrt(S[DT_SPLIT_TEST_VAL] * S[DT_SPLIT_TEST_VAL] + S[DT_SPLIT_TRAIN_VAL] * S[DT_SPLIT_TRAIN_VAL]),
        sqrt(S[DT_SPLIT_TEST] * S[DT_SPLIT_TEST] + S[DT_SPLIT_TEST_VAL] * S[DT_SPLIT_TEST_VAL]),
    };
    out->dominant = DT_TERM_BIAS;
    for (int t = 0; t < DT_TERM_COUNT; t++) {
        double th = DT_EA_ABS_MARGIN * out->scale;
        if (DT_EA_REL_IRREDUCIBLE * out->irreducible > th) th = DT_EA_REL_IRREDUCIBLE * out->irreducible;
        if (DT_EA_NOISE_Z * noise[t] > th) th = DT_EA_NOISE_Z * noise[t];
        out->threshold[t] = th;
        out->term_se[t] = noise[t];
        out->measurable[t] = t != DT_TERM_SHIFT || d->shift_measurable;
        if (out->measurable[t] && out->term[t] > out->term[out->dominant]) out->dominant = t;
    }
    out->none_dominant = out->term[out->dominant] <= 0;
}

dt_status dt_ea_train_measure(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_ea_transform tf,
                              void *tctx, dt_ea_errors *e, dt_model **m_out, dt_fit_result *fit_out)
{
    return dt_ea_train_measure_curve(ctx, cfg, d, tf, tctx, e, m_out, fit_out, NULL);
}

dt_status dt_ea_train_measure_curve(dt_stage_ctx *ctx, const dt_config *cfg, const dt_data *d, dt_ea_transform tf,
                                    void *tctx, dt_ea_errors *e, dt_model **m_out, dt_fit_result *fit_out,
                                    dt_ea_curve *curve)
{
    if (m_out) *m_out = NULL;
    dt_model *m = NULL;
    dt_status st = dt_stage_build_model(cfg, d, cfg->train.batch_size, &m);
    if (st) return st;
    dt_fit_result fr;
    st = ea_fit(ctx, cfg, d, m, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN_VAL, tf, tctx, &fr, curve);
    if (!st) st = dt_ea_measure(m, d, e);
    if (!st && fit_out) *fit_out = fr;
    if (st || !m_out) dt_model_free(m);
    else *m_out = m;
    return st;
}

struct dt_trained {
    dt_config cfg;        /* byte copy of ctx->cfg when trained: the cache key */
    const dt_data *data;
    const char *stage;
    dt_model *m;
    dt_ea_errors e;
    dt_fit_result fr;
    dt_ea_curve curve;
};

void dt_ea_trained_free(struct dt_trained *t)
{
    if (!t) return;
    dt_model_free(t->m);
    free(t);
}

dt_status dt_ea_trained(dt_stage_ctx *ctx, const char *stage, const dt_data *d, dt_model **m, dt_ea_errors *e,
                        dt_fit_result *fr, const char **by)
{
    struct dt_trained *t = ctx->trained;
    if (t && (t->data != d || memcmp(&t->cfg, ctx->cfg, sizeof t->cfg) != 0)) {
        dt_ea_trained_free(t);
        ctx->trained = t = NULL;
    }
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) return dt_fail(DT_ENOMEM, "%s: out of memory", stage);
        memcpy(&t->cfg, ctx->cfg, sizeof t->cfg);
        t->data = d;
        t->stage = stage;
        dt_status st = dt_ea_train_measure_curve(ctx, ctx->cfg, d, NULL, NULL, &t->e, &t->m, &t->fr, &t->curve);
        if (st) {
            free(t);
            return st;
        }
        ctx->trained = t;
    }
    *m = t->m;
    if (e) *e = t->e;
    if (fr) *fr = t->fr;
    if (by) *by = t->stage;
    return DT_OK;
}

const dt_ea_curve *dt_ea_trained_curve(const dt_stage_ctx *ctx)
{
    return ctx->trained ? &((const struct dt_trained *)ctx->trained)->curve : NULL;
}

/* ------------------------------------------------------------ error analysis */

#define TOP_LOSSES 10

typedef struct slice_stat { int id; size_t n; double err; } slice_stat;

static int by_err_desc(const void *a, const void *b)
{
    const slice_stat *x = a, *y = b;
    return x->err < y->err ? 1 : x->err > y->err ? -1 : x->id - y->id;
}

/* The raw inputs of one row, per field, small enough for a report: images
 * as 0..255 pixels (min-max scaled when not stored as bytes), text as its
 * characters, token ids and features as numbers (the first 32). */
#define EA_MAX_VALUES 32
static cJSON *row_inputs(const dt_data *d, dt_split_id s, size_t row)
{
    cJSON *arr = cJSON_CreateArray();
    for (int fi = 0; arr && fi < dt_data_n_fields(d); fi++) {
        const dt_field *f = dt_data_field(d, fi);
        float *x = malloc(f->sample_dim * sizeof *x);
        cJSON *o = cJSON_CreateObject();
        if (!x || !o) {
            free(x);
            cJSON_Delete(o);
            break;
        }
        dt_data_batch_field_raw(d, s, fi, &row, 1, x);
        cJSON_AddStringToObject(o, "field", f->name);
        if (f->tokens && d->format == DT_FORMAT_TEXT) {
            char text[1024];
            size_t n = 0;
            for (size_t i = 0; i < f->sample_dim && n + 1 < sizeof text; i++) {
                int id = (int)x[i];
                unsigned char ch = id >= 0 && id < d->vocab.size ? d->vocab.byte_of[id] : '?';
                text[n++] = ch >= 0x20 || ch == '\n' || ch == '\t' ? (char)ch : '?';
            }
            text[n] = '\0';
            cJSON_AddStringToObject(o, "kind", "text");
            cJSON_AddStringToObject(o, "text", text);
        } else if (f->ndim == 3 && !f->tokens && f->sample_dim <= 3 * 256 * 256) {
            float lo = x[0], hi = x[0];
            for (size_t i = 1; i < f->sample_dim; i++) {
                if (x[i] < lo) lo = x[i];
                if (x[i] > hi) hi = x[i];
            }
            int *px = malloc(f->sample_dim * sizeof *px);
            if (!px) {
                free(x);
                cJSON_Delete(o);
                break;
            }
            for (size_t i = 0; i < f->sample_dim; i++) {
                double v = f->inputs_u8 ? x[i] : hi > lo ? 255.0 * (x[i] - lo) / (hi - lo) : 0.0;
                px[i] = (int)lround(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            cJSON_AddStringToObject(o, "kind", "image");
            cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(f->shape, 3));
            cJSON_AddItemToObject(o, "pixels", cJSON_CreateIntArray(px, (int)f->sample_dim));
            /* Raw units of pixel 0 and 255. */
            double range[2] = {f->inputs_u8 ? 0 : lo, f->inputs_u8 ? 255 : hi};
            cJSON_AddItemToObject(o, "range", cJSON_CreateDoubleArray(range, 2));
            free(px);
        } else {
            int n = f->sample_dim < EA_MAX_VALUES ? (int)f->sample_dim : EA_MAX_VALUES;
            cJSON_AddStringToObject(o, "kind", f->tokens ? "tokens" : "features");
            cJSON_AddItemToObject(o, f->tokens ? "tokens" : "values", cJSON_CreateFloatArray(x, n));
            if ((size_t)n < f->sample_dim) cJSON_AddNumberToObject(o, "of", (double)f->sample_dim);
        }
        cJSON_AddItemToArray(arr, o);
        free(x);
    }
    return arr;
}

/* ------------------------------------------------------------ scores */

typedef struct score_row { float p; int y; } score_row;

static int by_score(const void *a, const void *b)
{
    const score_row *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

/* ROC AUC as the Mann-Whitney statistic, ties counted half. */
static double roc_auc(score_row *r, size_t n)
{
    qsort(r, n, sizeof *r, by_score);
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && r[j].p == r[i].p) j++;
        double mid = (double)(i + j + 1) / 2.0;   /* 1-based mean rank of the tie group */
        for (size_t k = i; k < j; k++)
            if (r[k].y) {
                rank_sum += mid;
                pos++;
            }
        i = j;
    }
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0) return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

typedef struct score_acc {
    const dt_data *d;
    int cls;
    score_row *sr;                    /* classification: P(class 1) and truth per row */
    long tp, fp, fn, right;
    double se, ae, sy, sy2;           /* regression, in the targets' own units */
} score_acc;

static void score_rows(void *ctx, const dt_model *m, size_t start, size_t k)
{
    score_acc *a = ctx;
    const dt_data *d = a->d;
    int K = m->out->shape[1];
    for (size_t i = 0; i < k; i++) {
        const float *z = m->out->val + i * (size_t)K, *y = m->y->val + (a->cls ? i : i * (size_t)K);
        if (a->cls) {
            /* P(class 1): softmax of the logits, or the output when it is a softmax already. */
            double p1 = m->output_softmax ? z[1] : 1.0 / (1.0 + exp((double)z[0] - z[1]));
            int truth = dt_model_class_of(m, i), pred = z[1] > z[0];
            a->sr[start + i] = (score_row){(float)p1, truth == 1};
            a->tp += pred && truth == 1;
            a->fp += pred && truth != 1;
            a->fn += !pred && truth == 1;
            a->right += pred == (truth == 1);
        } else {
            /* In the targets' own units (the model may see standardized ones). */
            double sd = d->targets_standardized ? d->y_std : 1, mu = d->targets_standardized ? d->y_mean : 0;
            for (int j = 0; j < K; j++) {
                double e = ((double)z[j] - y[j]) * sd, yr = y[j] * sd + mu;
                a->se += e * e;
                a->ae += fabs(e);
                a->sy += yr;
                a->sy2 += yr * yr;
            }
        }
    }
}

dt_status dt_ea_scores(const dt_config *cfg, dt_model *m, const dt_data *d, dt_split_id s, cJSON **scores)
{
    *scores = NULL;
    int cls = d->task == DT_TASK_CLASSIFICATION, K = m->out->shape[1];
    if (cls && dt_data_classes(d) != 2) return DT_OK;
    size_t n = dt_data_split_size(d, s);
    if (n == 0) return DT_OK;
    score_acc a = {.d = d, .cls = cls, .sr = cls ? malloc(n * sizeof *a.sr) : NULL};
    if (cls && !a.sr) return dt_fail(DT_ENOMEM, "scores: out of memory");
    dt_status st = dt_model_forward_split(m, d, s, m->loss, NULL, NULL, score_rows, &a);
    cJSON *o = st ? NULL : cJSON_CreateObject();
    if (o && cls) {
        double prec = a.tp + a.fp ? (double)a.tp / (double)(a.tp + a.fp) : NAN;
        double rec = a.tp + a.fn ? (double)a.tp / (double)(a.tp + a.fn) : NAN;
        char buf[32];
        cJSON_AddNumberToObject(o, "error", 1.0 - (double)a.right / (double)n);
        cJSON_AddNumberToObject(o, "accuracy", (double)a.right / (double)n);
        cJSON_AddNumberToObject(o, "precision", prec);
        cJSON_AddNumberToObject(o, "recall", rec);
        cJSON_AddNumberToObject(o, "f1", prec + rec > 0 ? 2 * prec * rec / (prec + rec) : NAN);
        cJSON_AddNumberToObject(o, "roc_auc", roc_auc(a.sr, n));
        cJSON_AddNumberToObject(o, "positives", (double)(a.tp + a.fn));
        cJSON_AddNumberToObject(o, "false_negatives", (double)a.fn);
        cJSON_AddNumberToObject(o, "false_positives", (double)a.fp);
        cJSON_AddStringToObject(o, "positive_class", dt_stage_class_name(cfg, d, 1, buf, sizeof buf));
    } else if (o) {
        double cnt = (double)n * K, mse = a.se / cnt, mean = a.sy / cnt, var = a.sy2 / cnt - mean * mean;
        cJSON_AddNumberToObject(o, "mse", mse);
        cJSON_AddNumberToObject(o, "rmse", sqrt(mse));
        cJSON_AddNumberToObject(o, "mae", a.ae / cnt);
        /* R^2 against predicting this split's mean target. */
        cJSON_AddNumberToObject(o, "r2", var > 0 ? 1.0 - mse / var : NAN);
    }
    free(a.sr);
    *scores = o;
    return st;
}

dt_status dt_ea_analyze_split(const dt_config *cfg, dt_model *m, const dt_data *d, dt_split_id s, cJSON **analysis,
                              cJSON **confusion)
{
    *analysis = NULL;
    if (confusion) *confusion = NULL;
    size_t n = dt_data_split_size(d, s);
    int K = dt_stage_classes(d), cls = K > 0;
    int *pred = malloc((n ? n : 1) * sizeof *pred);
    float *loss = malloc((n ? n : 1) * sizeof *loss);
    long *cm = cls ? calloc((size_t)K * (size_t)K, sizeof *cm) : NULL;
    int n_slices = d->slices.n;
    slice_stat *sl = n_slices ? calloc((size_t)n_slices, sizeof *sl) : NULL;
    dt_status st = DT_OK;
    if (!pred || !loss || (cls && !cm) || (n_slices && !sl)) st = dt_fail(DT_ENOMEM, "error analysis: out of memory");
    dt_eval ev = {0};
    if (!st && n) st = dt_model_evaluate(m, d, s, &ev, pred, loss);
    cJSON *o = st ? NULL : cJSON_CreateObject();
    if (!st && !o) st = dt_fail(DT_ENOMEM, "error analysis: out of memory");
    if (!st) {
        cJSON_AddStringToObject(o, "split", dt_split_name(s));
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "error", ev.error);
        /* Row errors: misclassified (0/1) or the squared error. */
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            double re = cls ? (double)(pred[i] != (int)dt_data_label(d, s, i)) : loss[i];
            total += re;
            if (cls) {
                int y = (int)dt_data_label(d, s, i);
                if (y >= 0 && y < K && pred[i] >= 0 && pred[i] < K) cm[(size_t)y * (size_t)K + (size_t)pred[i]]++;
            }
            int sid = dt_data_slice(d, s, i);
            if (sl && sid >= 0 && sid < n_slices) {
                sl[sid].n++;
                sl[sid].err += re;
            }
        }
        if (cls) {
            cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
            for (int c = 0; c < K; c++) {
                long cnt = 0, wrong = 0;
                for (int p = 0; p < K; p++) {
                    cnt += cm[(size_t)c * (size_t)K + (size_t)p];
                    if (p != c) wrong += cm[(size_t)c * (size_t)K + (size_t)p];
                }
                cJSON *e = cJSON_CreateObject();
                char name[32];
                cJSON_AddNumberToObject(e, "class", dt_data_original_class(d, c));
                cJSON_AddStringToObject(e, "name", dt_stage_class_name(cfg, d, c, name, sizeof name));
                cJSON_AddNumberToObject(e, "n", (double)cnt);
                cJSON_AddNumberToObject(e, "errors", (double)wrong);
                cJSON_AddNumberToObject(e, "error", cnt ? (double)wrong / (double)cnt : 0.0);
                cJSON_AddNumberToObject(e, "share_of_errors", total > 0 ? (double)wrong / total : 0.0);
                cJSON_AddItemToArray(pc, e);
            }
            if (confusion) {
                cJSON *rows = cJSON_CreateArray();
                for (int c = 0; c < K && rows; c++) {
                    cJSON *r = cJSON_CreateArray();
                    for (int p = 0; p < K; p++)
                        cJSON_AddItemToArray(r, cJSON_CreateNumber((double)cm[(size_t)c * (size_t)K + (size_t)p]));
                    cJSON_AddItemToArray(rows, r);
                }
                *confusion = rows;
            }
        }
        if (sl) {
            for (int i = 0; i < n_slices; i++) sl[i].id = i;
            qsort(sl, (size_t)n_slices, sizeof *sl, by_err_desc);
            cJSON *arr = cJSON_AddArrayToObject(o, "slices");
            for (int i = 0; i < n_slices; i++) {
                if (!sl[i].n) continue;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "slice", dt_data_slice_name(d, sl[i].id));
                cJSON_AddNumberToObject(e, "n", (double)sl[i].n);
                cJSON_AddNumberToObject(e, "error", sl[i].err / (double)sl[i].n);
                cJSON_AddNumberToObject(e, "share_of_error", total > 0 ? sl[i].err / total : 0.0);
                cJSON_AddNumberToObject(e, "share_of_rows", n ? (double)sl[i].n / (double)n : 0.0);
                cJSON_AddItemToArray(arr, e);
            }
        }
        /* Top losses: a partial selection of the TOP_LOSSES largest. */
        size_t top[TOP_LOSSES];
        int nt = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(loss[i])) continue;
            int pos = nt < TOP_LOSSES ? nt++ : TOP_LOSSES;
            if (pos == TOP_LOSSES) {
                if (loss[i] <= loss[top[TOP_LOSSES - 1]]) continue;
                pos = TOP_LOSSES - 1;
            }
            while (pos > 0 && loss[top[pos - 1]] < loss[i]) {
                top[pos] = top[pos - 1];
                pos--;
            }
            top[pos] = i;
        }
        cJSON *tl = cJSON_AddArrayToObject(o, "top_losses");
        for (int i = 0; i < nt; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "row", (double)top[i]);
            cJSON_AddNumberToObject(e, "loss", loss[top[i]]);
            if (cls) {
                char name[32];
                int y = (int)dt_data_label(d, s, top[i]);
                cJSON_AddNumberToObject(e, "label", dt_data_original_class(d, y));
                cJSON_AddStringToObject(e, "label_name", dt_stage_class_name(cfg, d, y, name, sizeof name));
                cJSON_AddNumberToObject(e, "predicted", dt_data_original_class(d, pred[top[i]]));
                cJSON_AddStringToObject(e, "predicted_name", dt_stage_class_name(cfg, d, pred[top[i]], name, sizeof name));
            } else {
                cJSON_AddNumberToObject(e, "label", dt_data_label(d, s, top[i]));
            }
            if (i < DT_EA_TOP_INPUTS) cJSON_AddItemToObject(e, "inputs", row_inputs(d, s, top[i]));
            cJSON_AddItemToArray(tl, e);
        }
    }
    free(pred);
    free(loss);
    free(cm);
    free(sl);
    *analysis = o;
    return st;
}
