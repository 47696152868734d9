/* Debug stage: checks read off the model description and the config alone,
 * before anything runs — linear layers stacked with no activation between
 * them, a squashing activation on the logits, a loss that does not fit the
 * task.  Rules and sources: docs/findings.md "## debug". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_internal.h"

/* Regression targets that are all integers with at most this many distinct
 * values read as class ids (scikit-learn's type_of_target calls integer
 * targets "multiclass"; 10 covers the usual class counts, digits included). */
#define TARGET_CLASS_LIKE_MAX 10
/* Share of the batch's targets outside the output activation's range. */
#define OUTPUT_RANGE_SHARE 0.05

typedef enum { ROLE_LINEAR, ROLE_PASS, ROLE_STOP } layer_role;

/* Linear, conv2d: linear maps.  The layers that keep a composition linear
 * (affine at evaluation, or a reshuffle, sum, mean or selection of values)
 * pass it on; anything nonlinear stops it (an activation, max-pooling,
 * layer-norm's division by the per-sample spread, an LSTM, attention's
 * softmax) and so does an embedding (a lookup, the start of a branch). */
static layer_role role_of(dt_layer_type t)
{
    switch (t) {
    case DT_LAYER_LINEAR:
    case DT_LAYER_CONV2D: return ROLE_LINEAR;
    case DT_LAYER_FLATTEN:
    case DT_LAYER_RESHAPE:
    case DT_LAYER_DROPOUT:
    case DT_LAYER_BATCHNORM:
    case DT_LAYER_AVGPOOL:
    case DT_LAYER_GLOBAL_AVGPOOL:
    case DT_LAYER_CONCAT:
    case DT_LAYER_ADD:
    case DT_LAYER_POSITIONAL:
    case DT_LAYER_SEQ_POOL: return ROLE_PASS;
    default: return ROLE_STOP;
    }
}

/* Index of the layer feeding input k of layer i, -1 for a model input. */
static int source_of(const dt_model_desc *d, int i, int k)
{
    if (d->layers[i].n_in == 0) return i - 1;
    return dt_model_desc_find(d, d->layers[i].in[k]);
}

/* A linear layer reaching layer i's inputs through pass-through layers only
 * (-1: none).  The description is acyclic and `in` names earlier layers.
 * Each layer is walked once (seen): a chain of adds each reading the two
 * before it has 2^layers routes. */
static int linear_feeding(const dt_model_desc *d, int i, int *between, unsigned char *seen)
{
    int n = d->layers[i].n_in ? d->layers[i].n_in : 1;
    for (int k = 0; k < n; k++) {
        int j = source_of(d, i, k);
        if (j < 0 || seen[j]) continue;
        seen[j] = 1;
        layer_role r = role_of(d->layers[j].type);
        if (r == ROLE_LINEAR) return j;
        if (r == ROLE_PASS) {
            int found = linear_feeding(d, j, between, seen);
            if (found >= 0) {
                (*between)++;
                return found;
            }
        }
    }
    return -1;
}

static void check_nonlinearity(dbg_state *s)
{
    const dt_model_desc *d = &s->m->spec.desc;
    int pairs = 0, first = -1, second = -1, between = 0;
    for (int i = 0; i < d->n_layers; i++) {
        if (role_of(d->layers[i].type) != ROLE_LINEAR) continue;
        unsigned char seen[DT_MAX_LAYERS] = {0};
        int b = 0, j = linear_feeding(d, i, &b, seen);
        if (j < 0) continue;
        if (!pairs++) { first = j; second = i; between = b; }
    }
    dbg_check(s, "linear_layers_without_activation", pairs, 0, pairs == 0);
    if (!pairs) return;
    const dt_layer_desc *a = &d->layers[first], *b = &d->layers[second];
    char lines[64] = "";
    if (a->line && b->line && a->line != b->line) snprintf(lines, sizeof lines, " (lines %d and %d)", a->line, b->line);
    else if (b->line) snprintf(lines, sizeof lines, " (line %d)", b->line);
    dt_finding *f = dt_report_finding(
        s->rep, "no-nonlinearity", DT_SEV_WARNING,
        "layers '%s' and '%s'%s are %s with no activation between them%s: together they compute one linear map, "
        "so the extra layer adds parameters but no capacity (%d such pair%s)",
        a->name, b->name, lines, dt_layer_def_get(b->type)->name,
        between ? " (only reshaping, pooling, dropout or normalization)" : "", pairs, pairs == 1 ? "" : "s");
    dt_finding_evidence_str(f, "first_layer", a->name);
    dt_finding_evidence_str(f, "second_layer", b->name);
    dt_finding_evidence(f, "pairs", pairs);
    dt_finding_evidence(f, "layers_between", between);
    if (b->line) dt_finding_evidence(f, "line", b->line);
    dt_finding_suggest(f, "add an activation (e.g. {type: relu}) after layer '%s'", a->name);
    dt_finding_suggest(f, "or drop one of the two layers: a single linear layer is the same model");
}

/* The layer whose output the loss reads, looking through layers that only
 * reshape or drop values. */
static int output_layer(const dt_model_desc *d)
{
    int i = d->n_layers - 1;
    while (i > 0) {
        dt_layer_type t = d->layers[i].type;
        if (t != DT_LAYER_FLATTEN && t != DT_LAYER_RESHAPE && t != DT_LAYER_DROPOUT) break;
        int j = source_of(d, i, 0);
        if (j < 0) break;
        i = j;
    }
    return i;
}

/* The output range of an elementwise activation; 0 for other layers. */
static int act_range(dt_layer_type t, double *lo, double *hi)
{
    switch (t) {
    case DT_LAYER_RELU: *lo = 0; *hi = INFINITY; return 1;
    case DT_LAYER_SIGMOID: *lo = 0; *hi = 1; return 1;
    case DT_LAYER_TANH: *lo = -1; *hi = 1; return 1;
    case DT_LAYER_LEAKY_RELU:
    case DT_LAYER_GELU: *lo = -INFINITY; *hi = INFINITY; return 1; /* squashes negatives only */
    default: return 0;
    }
}

static void check_output_activation(dbg_state *s)
{
    const dt_model *m = s->m;
    const dt_model_desc *d = &m->spec.desc;
    if (d->n_layers < 1) return;
    const dt_layer_desc *l = &d->layers[output_layer(d)];
    double lo, hi;
    int act = act_range(l->type, &lo, &hi);
    const char *type = dt_layer_def_get(l->type)->name;
    char line[32] = "";
    if (l->line) snprintf(line, sizeof line, ", line %d", l->line);
    if (m->spec.loss == DT_LOSS_CROSS_ENTROPY) {
        dbg_check(s, "activation_on_logits", act, 0, !act);
        if (!act) return;
        int K = m->spec.outputs;
        /* A bounded range caps the largest probability the softmax can give:
         * p <= e^hi / (e^hi + (K-1) e^lo), so the loss cannot fall below -log p. */
        double pmax = isfinite(hi) && isfinite(lo) ? 1.0 / (1.0 + (K - 1) * exp(lo - hi)) : 1.0;
        dt_finding *f;
        if (pmax < 1.0)
            f = dt_report_finding(s->rep, "output-activation-mismatch", DT_SEV_ERROR,
                                  "layer '%s' (%s%s) squashes the logits of cross_entropy into [%g, %g]: over %d "
                                  "classes the softmax can give a class at most p = %.3f, so the loss cannot fall "
                                  "below %.3f",
                                  l->name, type, line, lo, hi, K, pmax, -log(pmax));
        else
            f = dt_report_finding(s->rep, "output-activation-mismatch", DT_SEV_ERROR,
                                  "layer '%s' (%s%s) is applied to the logits of cross_entropy over %d classes: "
                                  "negative logits are cut to %s, and their gradient with them",
                                  l->name, type, line, K, l->type == DT_LAYER_RELU ? "0" : "almost nothing");
        dt_finding_evidence_str(f, "layer", l->name);
        dt_finding_evidence_str(f, "activation", type);
        dt_finding_evidence(f, "classes", K);
        if (pmax < 1.0) {
            dt_finding_evidence(f, "max_probability", pmax);
            dt_finding_evidence(f, "min_loss", -log(pmax));
        }
        dt_finding_suggest(f, "remove layer '%s': end the network with the linear layer of `units: classes` "
                              "(cross_entropy applies log-softmax to raw logits itself)", l->name);
        dt_finding_suggest(f, "apply %s, or a softmax, only when reading out predictions, after the loss", type);
        return;
    }
    /* mse: DeepDiagnosis's output-out-of-range rule, targets outside what
     * the output activation can produce. */
    if (!act || !m->y || m->y->ndim != 2) return;
    size_t k = dt_numel(m->y), out = 0;
    for (size_t i = 0; i < k; i++) out += m->y->val[i] < lo || m->y->val[i] > hi;
    double share = k ? (double)out / (double)k : 0;
    dbg_check(s, "targets_outside_output_range", share, OUTPUT_RANGE_SHARE, share <= OUTPUT_RANGE_SHARE);
    if (share <= OUTPUT_RANGE_SHARE) return;
    dt_finding *f = dt_report_finding(s->rep, "output-activation-mismatch", DT_SEV_ERROR,
                                      "layer '%s' (%s%s) limits the output to [%g, %g], but %.0f%% of the debug "
                                      "batch's targets (as the model sees them) lie outside it",
                                      l->name, type, line, lo, hi, 100 * share);
    dt_finding_evidence_str(f, "layer", l->name);
    dt_finding_evidence_str(f, "activation", type);
    dt_finding_evidence(f, "share_outside", share);
    dt_finding_evidence(f, "threshold", OUTPUT_RANGE_SHARE);
    dt_finding_suggest(f, "remove layer '%s': a regression output is a linear layer", l->name);
    dt_finding_suggest(f, "or rescale the targets into the activation's range");
}

/* MSE on class labels; class-id-like regression targets.  (Cross-entropy on
 * a declared regression target is a configuration error, and a quantity
 * read as classes shows in decompose: see dt_ea_check_ordinal_labels.) */
static void check_loss_task(dbg_state *s)
{
    const dt_data *d = s->d;
    int mse_on_classes = d->task == DT_TASK_CLASSIFICATION && s->m->spec.loss == DT_LOSS_MSE;
    int class_like = 0, distinct = 0;
    double vals[TARGET_CLASS_LIKE_MAX + 1], lo = INFINITY, hi = -INFINITY;
    if (d->task == DT_TASK_REGRESSION && dt_data_classes(d) == 1) {
        size_t n = dt_data_split_size(d, DT_SPLIT_TRAIN);
        class_like = n > 0;
        for (size_t i = 0; i < n && class_like; i++) {
            double y = dt_data_label(d, DT_SPLIT_TRAIN, i);
            if (y != floor(y)) { class_like = 0; break; }
            lo = fmin(lo, y);
            hi = fmax(hi, y);
            int seen = 0;
            for (int j = 0; j < distinct && !seen; j++) seen = vals[j] == y;
            if (!seen) {
                if (distinct == TARGET_CLASS_LIKE_MAX) class_like = 0;
                else vals[distinct++] = y;
            }
        }
        if (distinct < 2) class_like = 0;
    }
    dbg_check(s, "loss_task_mismatch", mse_on_classes || class_like, 0, !mse_on_classes && !class_like);
    if (mse_on_classes) {
        dt_finding *f = dt_report_finding(
            s->rep, "loss-task-mismatch", DT_SEV_WARNING,
            "loss mse on class labels (task classification, %d classes): the model regresses one-hot targets, "
            "whose gradient fades as outputs saturate and which scores every wrong class alike",
            s->classes);
        dt_finding_evidence_str(f, "task", "classification");
        dt_finding_evidence_str(f, "loss", "mse");
        dt_finding_evidence(f, "classes", s->classes);
        dt_finding_suggest(f, "set loss: cross_entropy (it takes the logits and the class ids)");
        dt_finding_suggest(f, "if the labels are really a quantity, set task: regression");
    }
    if (class_like) {
        dt_finding *f = dt_report_finding(
            s->rep, "loss-task-mismatch", DT_SEV_WARNING,
            "task regression (loss mse), but the train targets take only %d distinct integer values (%g..%g): "
            "they look like class ids, and mse treats the distance between ids as meaningful",
            distinct, lo, hi);
        dt_finding_evidence_str(f, "task", "regression");
        dt_finding_evidence_str(f, "loss", "mse");
        dt_finding_evidence(f, "distinct_targets", distinct);
        dt_finding_evidence(f, "threshold", TARGET_CLASS_LIKE_MAX);
        dt_finding_suggest(f, "if the targets are class ids, set task: classification (loss: cross_entropy)");
        dt_finding_suggest(f, "if they are counts or ratings, keep regression: this is advice, not an error");
    }
}

void dbg_desc_checks(dbg_state *s)
{
    check_nonlinearity(s);
    check_output_activation(s);
    check_loss_task(s);
}
