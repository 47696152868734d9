/* `predict` and `export`: commands on a saved model (a run folder or a
 * checkpoint file), rebuilt from the checkpoint alone. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dnntrouble/checkpoint.h"
#include "dnntrouble/data.h"
#include "dnntrouble/export.h"
#include "dnntrouble/report.h"

#define PREDICT_BATCH 256

/* RUN (a folder holding model.safetensors) or the checkpoint itself. */
static void checkpoint_path(const char *arg, char *buf, size_t size)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(buf, size, "%s/model.safetensors", arg);
    else snprintf(buf, size, "%s", arg);
}

/* ------------------------------------------------------------ export */

int dt_cli_export(int argc, char **argv)
{
    static const struct option opts[] = {{"torch", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *torch = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":", opts, NULL)) != -1;) {
        if (c == 'h') {
            dt_cli_print_help("export", stdout);
            return 0;
        }
        if (c == 't') torch = optarg;
        else if (c == ':') return dt_cli_usage_error("export ", "option '%s' needs a value", argv[optind - 1]);
        else return dt_cli_usage_error("export ", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return dt_cli_usage_error("export ", "export needs one RUN folder or checkpoint");
    if (!torch) return dt_cli_usage_error("export ", "say what to write: --torch FILE.py");
    char ckpt[1200];
    checkpoint_path(argv[optind], ckpt, sizeof ckpt);
    dt_model *m = NULL;
    dt_ckpt_info info;
    dt_status st = dt_checkpoint_open(ckpt, 1, &m, &info);
    if (st) return dt_cli_fail(st);
    st = dt_export_torch(m, &info, ckpt, torch);
    dt_model_free(m);
    dt_ckpt_info_free(&info);
    if (st) return dt_cli_fail(st);
    printf("%s: class Net (load with load_state_dict(strict=True) from %s)\n", torch, ckpt);
    return 0;
}

/* ------------------------------------------------------------ predict */

/* One model input's data: n samples of `dim` raw floats (or ids). */
typedef struct column {
    size_t n, dim;
    float *x;
    int ndim, shape[8];
} column;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static dt_status read_column(const char *path, int header, column *c)
{
    memset(c, 0, sizeof *c);
    dt_status st;
    if (ends_with(path, ".npy")) {
        dt_npy a;
        if ((st = dt_npy_load(path, &a))) return st;
        if (a.ndim < 1) {
            dt_npy_free(&a);
            return dt_fail(DT_EDATA, "%s: a 0-d array holds no samples (predict reads one sample per row)", path);
        }
        c->n = a.shape[0];
        c->ndim = a.ndim - 1;
        c->dim = 1;
        for (int i = 1; i < a.ndim && i < 8; i++) {
            c->shape[i - 1] = (int)a.shape[i];
            c->dim *= a.shape[i];
        }
        c->x = malloc((a.count ? a.count : 1) * sizeof *c->x);
        if (!c->x) st = dt_fail(DT_ENOMEM, "%s: out of memory", path);
        for (size_t i = 0; !st && i < a.count; i++) c->x[i] = a.u8 ? (float)a.u8[i] : a.f32[i];
        dt_npy_free(&a);
        return st;
    }
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz")) {
        dt_csv_options o = {.delimiter = ',', .header = header, .label_index = DT_CSV_NO_LABEL};
        dt_csv t;
        if ((st = dt_csv_load(path, &o, NULL, &t))) return st;
        c->n = t.rows;
        c->dim = t.cols;
        c->ndim = 1;
        c->shape[0] = (int)t.cols;
        c->x = t.x;
        t.x = NULL;
        dt_csv_free(&t);
        return DT_OK;
    }
    dt_idx im;
    if ((st = dt_idx_load_images(path, &im)))
        return dt_fail_context(st, "%s: predict reads .npy, .csv or IDX image files", path);
    c->n = im.count;
    c->ndim = 3;
    c->shape[0] = 1;
    c->shape[1] = (int)im.dims[1];
    c->shape[2] = (int)im.dims[2];
    c->dim = (size_t)im.dims[1] * im.dims[2];
    c->x = malloc((c->n * c->dim > 0 ? c->n * c->dim : 1) * sizeof *c->x);
    if (!c->x) st = dt_fail(DT_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; !st && i < c->n * c->dim; i++) c->x[i] = im.data[i];
    dt_idx_free(&im);
    return st;
}

static void shape_text(const int *s, int n, char *buf, size_t size)
{
    size_t off = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && off < size; i++) off += (size_t)snprintf(buf + off, size - off, i ? ",%d" : "%d", s[i]);
    if (off < size) snprintf(buf + off, size - off, "]");
}

/* The data must have the input's per-sample shape ((N,H,W) counts as one channel). */
static dt_status check_shape(const char *path, const dt_input_shape *in, column *c)
{
    if (in->ndim == 3 && c->ndim == 2 && in->shape[0] == 1) {
        c->ndim = 3;
        memmove(c->shape + 1, c->shape, 2 * sizeof(int));
        c->shape[0] = 1;
    }
    int same = c->ndim == in->ndim;
    for (int i = 0; same && i < in->ndim; i++) same = c->shape[i] == in->shape[i];
    if (same) return DT_OK;
    char a[64], b[64];
    shape_text(c->shape, c->ndim, a, sizeof a);
    shape_text(in->shape, in->ndim, b, sizeof b);
    return dt_fail(DT_EDATA, "%s: samples have shape %s, but model input '%s' takes %s", path, a, in->name, b);
}

static dt_status write_predictions(FILE *f, const dt_model *m, const dt_ckpt_info *info, size_t row0, size_t k)
{
    int K = m->spec.outputs;
    for (size_t r = 0; r < k; r++) {
        const float *z = m->out->val + r * (size_t)K;
        fprintf(f, "%zu", row0 + r);
        if (info->loss == DT_LOSS_MSE) {
            /* In the targets' units: the model learnt standardized ones. */
            double sd = info->targets_standardized ? info->target_std : 1, mu = info->targets_standardized ? info->target_mean : 0;
            for (int j = 0; j < K; j++) fprintf(f, ",%.9g", z[j] * sd + mu);
        } else {
            int best = 0;
            double mx = z[0], s = 0;
            for (int j = 1; j < K; j++) if (z[j] > z[best]) best = j;
            mx = z[best];
            for (int j = 0; j < K; j++) s += m->output_softmax ? z[j] : exp(z[j] - mx);
            fprintf(f, ",%d", best < info->n_classes ? info->classes[best] : best);
            for (int j = 0; j < K; j++) fprintf(f, ",%.9g", m->output_softmax ? z[j] / s : exp(z[j] - mx) / s);
        }
        fputc('\n', f);
    }
    return ferror(f) ? dt_fail(DT_EIO, "writing predictions failed") : DT_OK;
}

static dt_status predict(const char *ckpt, int n_data, char **data, int header, const char *out_path, size_t *rows)
{
    dt_model *m = NULL;
    dt_ckpt_info info;
    dt_status st = dt_checkpoint_open(ckpt, PREDICT_BATCH, &m, &info);
    if (st) return st;
    column cols[DT_MAX_MODEL_INPUTS] = {{0}};
    if (n_data != m->n_inputs)
        st = dt_fail(DT_ECONFIG, "the model has %d input%s; give %s", m->n_inputs, m->n_inputs > 1 ? "s" : "",
                     m->n_inputs > 1 ? "one NAME=FILE per input" : "one data file");
    /* FILE for one input, NAME=FILE (NAME an input or its data field) for several. */
    for (int a = 0; !st && a < n_data; a++) {
        const char *eq = strchr(data[a], '='), *path = eq && m->n_inputs > 1 ? eq + 1 : data[a];
        int i = 0;
        if (m->n_inputs > 1) {
            i = -1;
            for (int k = 0; eq && k < m->n_inputs; k++) {
                size_t l = (size_t)(eq - data[a]);
                if ((strlen(m->spec.inputs[k].name) == l && !strncmp(m->spec.inputs[k].name, data[a], l)) ||
                    (strlen(info.field[k]) == l && !strncmp(info.field[k], data[a], l)))
                    i = k;
            }
            if (i < 0) {
                st = dt_fail(DT_ECONFIG, "'%s': say which input it is, NAME=FILE (inputs: %s ...)", data[a],
                             m->spec.inputs[0].name);
                break;
            }
        }
        if (cols[i].x) st = dt_fail(DT_ECONFIG, "input '%s' is given twice", m->spec.inputs[i].name);
        if (!st) st = read_column(path, header, &cols[i]);
        if (!st) st = check_shape(path, &m->spec.inputs[i], &cols[i]);
        if (!st && cols[i].n != cols[0].n && cols[0].x)
            st = dt_fail(DT_EDATA, "%s: %zu samples, but input '%s' has %zu", path, cols[i].n, m->spec.inputs[0].name,
                         cols[0].n);
    }
    FILE *f = NULL;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    if (!st && !(f = fopen(tmp, "w"))) st = dt_fail(DT_EIO, "%s: %s", tmp, strerror(errno));
    if (!st) {
        fprintf(f, "row");
        if (info.loss == DT_LOSS_MSE) for (int j = 0; j < m->spec.outputs; j++) fprintf(f, ",output%d", j);
        else {
            fprintf(f, ",prediction");
            for (int j = 0; j < m->spec.outputs; j++) fprintf(f, ",p_%d", j < info.n_classes ? info.classes[j] : j);
        }
        fputc('\n', f);
    }
    size_t n = cols[0].n;
    dt_graph_set_train(m->g, 0);
    for (size_t start = 0; !st && start < n; start += PREDICT_BATCH) {
        size_t k = n - start < PREDICT_BATCH ? n - start : PREDICT_BATCH;
        st = dt_graph_set_batch(m->g, (int)k);
        for (int i = 0; !st && i < m->n_inputs; i++) {
            size_t dim = cols[i].dim;
            memcpy(m->inputs[i]->val, cols[i].x + start * dim, k * dim * sizeof(float));
            dt_ckpt_normalize(&info, i, &m->spec.inputs[i], m->inputs[i]->val, k);
        }
        if (!st) st = dt_graph_forward(m->g, m->out);
        if (!st) st = write_predictions(f, m, &info, start, k);
    }
    if (f && fclose(f) && !st) st = dt_fail(DT_EIO, "%s: %s", tmp, strerror(errno));
    if (!st && rename(tmp, out_path)) st = dt_fail(DT_EIO, "%s: %s", out_path, strerror(errno));
    if (st && f) remove(tmp);
    *rows = n;
    for (int i = 0; i < DT_MAX_MODEL_INPUTS; i++) free(cols[i].x);
    dt_model_free(m);
    dt_ckpt_info_free(&info);
    return st;
}

int dt_cli_predict(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'}, {"no-header", no_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'}, {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    const char *out = "predictions.csv";
    int header = 1, quiet = 0;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":", opts, NULL)) != -1;) {
        switch (c) {
        case 'h': dt_cli_print_help("predict", stdout); return 0;
        case 'o': out = optarg; break;
        case 'n': header = 0; break;
        case 'q': quiet = 1; break;
        case ':': return dt_cli_usage_error("predict ", "option '%s' needs a value", argv[optind - 1]);
        default: return dt_cli_usage_error("predict ", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind < 2) return dt_cli_usage_error("predict ", "predict needs RUN|CKPT and DATA");
    char ckpt[1200];
    checkpoint_path(argv[optind], ckpt, sizeof ckpt);
    size_t rows = 0;
    dt_status st = predict(ckpt, argc - optind - 1, argv + optind + 1, header, out, &rows);
    if (st) return dt_cli_fail(st);
    if (!quiet) printf("%s: %zu predictions\n", out, rows);
    return 0;
}
