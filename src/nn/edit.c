/* Edits of a description that improve's remedies make (wider, deeper,
 * batch-norm, dropout).  Each returns 1 when it changed something and
 * writes what it did in words; the edited description is what improved.yaml
 * holds, so the change reproduces bit for bit. */
#include <stdio.h>
#include <string.h>

#include "dnntrouble/edit.h"

static void note(char *desc, size_t size, const char *fmt, const char *a, double from, double to)
{
    size_t n = strlen(desc);
    if (n < size) snprintf(desc + n, size - n, fmt, n ? ", " : "", a, from, to);
}

/* A hidden layer with a width: a linear layer whose units are not `classes`,
 * a conv2d, an LSTM, an embedding. */
static const char *width_opt(const dt_layer_desc *l)
{
    switch (l->type) {
    case DT_LAYER_LINEAR: return dt_layer_opt(l, "units") == DT_UNITS_CLASSES ? NULL : "units";
    case DT_LAYER_CONV2D: return "channels";
    case DT_LAYER_LSTM: return "hidden";
    case DT_LAYER_EMBEDDING: return "dim";
    default: return NULL;
    }
}

int dt_desc_widen(dt_model_desc *d, double factor, char *desc, size_t size)
{
    desc[0] = '\0';
    int changed = 0;
    for (int i = 0; i < d->n_layers; i++) {
        dt_layer_desc *l = &d->layers[i];
        const char *o = width_opt(l);
        if (!o) continue;
        /* A layer whose output must keep its size (it feeds an `add`) stays. */
        double v = dt_layer_opt(l, o), w = (double)(int)(v * factor + 0.5);
        if (w <= v) continue;
        dt_layer_set_opt(l, o, w);
        char what[DT_LAYER_NAME_LEN + 16];
        snprintf(what, sizeof what, "%s.%s", l->name, o);
        note(desc, size, "%s%s %g -> %g", what, v, w);
        changed = 1;
    }
    return changed;
}

static int is_activation(dt_layer_type t)
{
    return t == DT_LAYER_RELU || t == DT_LAYER_LEAKY_RELU || t == DT_LAYER_TANH || t == DT_LAYER_SIGMOID;
}

static int insert_at(dt_model_desc *d, int at, const dt_layer_desc *l)
{
    if (d->n_layers >= DT_MAX_LAYERS) return 0;
    memmove(&d->layers[at + 1], &d->layers[at], (size_t)(d->n_layers - at) * sizeof d->layers[0]);
    d->layers[at] = *l;
    d->n_layers++;
    return 1;
}

static void unique_name(const dt_model_desc *d, const char *base, char *out)
{
    for (int k = 1; k < 1000; k++) {
        snprintf(out, DT_LAYER_NAME_LEN, "%.30s%d", base, k);
        if (dt_model_desc_find(d, out) < 0) return;
    }
}

int dt_desc_deepen(dt_model_desc *d, char *desc, size_t size)
{
    desc[0] = '\0';
    /* The last hidden linear layer followed by its activation, straight into
     * the rest: repeat that block once (same width). */
    int h = -1;
    for (int i = 0; i + 1 < d->n_layers; i++) {
        const dt_layer_desc *l = &d->layers[i];
        if (l->type == DT_LAYER_LINEAR && dt_layer_opt(l, "units") != DT_UNITS_CLASSES && d->layers[i + 1].n_in == 0 &&
            is_activation(d->layers[i + 1].type))
            h = i;
    }
    if (h < 0) {
        /* A stacked LSTM grows by a layer. */
        for (int i = 0; i < d->n_layers; i++)
            if (d->layers[i].type == DT_LAYER_LSTM && dt_layer_opt(&d->layers[i], "layers") < 16) {
                double v = dt_layer_opt(&d->layers[i], "layers");
                dt_layer_set_opt(&d->layers[i], "layers", v + 1);
                snprintf(desc, size, "%s.layers %g -> %g", d->layers[i].name, v, v + 1);
                return 1;
            }
        return 0;
    }
    int end = h + 2;   /* past the activation; take a dropout along */
    if (end < d->n_layers && d->layers[end].type == DT_LAYER_DROPOUT && d->layers[end].n_in == 0) end++;
    if (end >= d->n_layers || d->layers[end].n_in != 0 || d->n_layers + (end - h) > DT_MAX_LAYERS) return 0;
    dt_layer_desc copy[3];
    int n = end - h;
    for (int k = 0; k < n; k++) {
        copy[k] = d->layers[h + k];
        copy[k].line = 0;
        unique_name(d, dt_layer_def_get(copy[k].type)->name, copy[k].name);
    }
    /* The MLP preset's names continue: f1 f2 (out) becomes f1 f2 f3 (out). */
    dt_layer_desc *out = &d->layers[d->n_layers - 1];
    int a, b;
    char tail;
    if (sscanf(d->layers[h].name, "f%d%c", &a, &tail) == 1 && sscanf(out->name, "f%d%c", &b, &tail) == 1 && b == a + 1 &&
        out->type == DT_LAYER_LINEAR) {
        char old[DT_LAYER_NAME_LEN], fresh[DT_LAYER_NAME_LEN];
        snprintf(old, sizeof old, "%s", out->name);
        snprintf(fresh, sizeof fresh, "f%d", a + 2);
        if (dt_model_desc_find(d, fresh) < 0) {
            snprintf(copy[0].name, sizeof copy[0].name, "f%d", a + 1);
            snprintf(out->name, sizeof out->name, "%s", fresh);
            for (int i = 0; i < d->n_layers; i++)
                for (int k = 0; k < d->layers[i].n_in; k++)
                    if (!strcmp(d->layers[i].in[k], old)) snprintf(d->layers[i].in[k], DT_LAYER_NAME_LEN, "%s", fresh);
        }
    }
    for (int k = 0; k < n; k++)
        if (!insert_at(d, end + k, &copy[k])) return 0;
    snprintf(desc, size, "a hidden layer '%s' (%s units %g) after '%s'", copy[0].name, "linear",
             dt_layer_opt(&copy[0], "units"), d->layers[h].name);
    return 1;
}

int dt_desc_add_batchnorm(dt_model_desc *d, char *desc, size_t size)
{
    desc[0] = '\0';
    int added = 0;
    for (int i = 0; i + 1 < d->n_layers; i++) {
        const dt_layer_desc *l = &d->layers[i];
        int hidden = l->type == DT_LAYER_CONV2D ||
                     (l->type == DT_LAYER_LINEAR && dt_layer_opt(l, "units") != DT_UNITS_CLASSES);
        if (!hidden || d->layers[i + 1].n_in != 0 || !is_activation(d->layers[i + 1].type)) continue;
        dt_layer_desc bn;
        dt_layer_desc_init(&bn, DT_LAYER_BATCHNORM, NULL);
        unique_name(d, "bn", bn.name);
        if (!insert_at(d, i + 1, &bn)) break;
        size_t n = strlen(desc);
        snprintf(desc + n, size - n, "%s%s after %s", n ? ", " : "", bn.name, l->name);
        added = 1;
        i++;
    }
    return added;
}

int dt_desc_dropout(dt_model_desc *d, double rate, char *desc, size_t size)
{
    desc[0] = '\0';
    int changed = 0, any = 0;
    for (int i = 0; i < d->n_layers; i++)
        if (d->layers[i].type == DT_LAYER_DROPOUT) {
            any = 1;
            double v = dt_layer_opt(&d->layers[i], "rate");
            if (v == rate) continue;
            dt_layer_set_opt(&d->layers[i], "rate", rate);
            note(desc, size, "%s%s.rate %g -> %g", d->layers[i].name, v, rate);
            changed = 1;
        }
    if (any || rate <= 0) return changed;
    /* None yet: one after each hidden activation (not the output); GELU
     * counts here (a transformer's MLP), though not for deeper or batch-norm. */
    for (int i = 0; i + 1 < d->n_layers; i++) {
        if (!(is_activation(d->layers[i].type) || d->layers[i].type == DT_LAYER_GELU) || d->layers[i + 1].n_in != 0)
            continue;
        dt_layer_desc dr;
        dt_layer_desc_init(&dr, DT_LAYER_DROPOUT, NULL);
        unique_name(d, "dropout", dr.name);
        dt_layer_set_opt(&dr, "rate", rate);
        if (!insert_at(d, i + 1, &dr)) break;
        size_t n = strlen(desc);
        snprintf(desc + n, size - n, "%s%s (rate %g) after %s", n ? ", " : "", dr.name, rate, d->layers[i].name);
        changed = 1;
        i++;
    }
    return changed;
}

double dt_desc_max_dropout(const dt_model_desc *d)
{
    double m = 0;
    for (int i = 0; i < d->n_layers; i++)
        if (d->layers[i].type == DT_LAYER_DROPOUT && dt_layer_opt(&d->layers[i], "rate") > m)
            m = dt_layer_opt(&d->layers[i], "rate");
    return m;
}

int dt_desc_count(const dt_model_desc *d, dt_layer_type t)
{
    int n = 0;
    for (int i = 0; i < d->n_layers; i++) n += d->layers[i].type == t;
    return n;
}
