/* Debug stage: the checks on the built model (output shape, loss input,
 * loss at init, gradient check, non-finite values, gradient flow, batch
 * dependency, train/eval switch, dead ReLUs, update sizes) and the
 * per-layer statistics.  Rules and sources: docs/findings.md "## debug". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_internal.h"
#include "dnntrouble/diag.h"

#define INIT_LOSS_REL 1.0           /* TheDeepChecker: |L0 - expected| >= 1.0 x expected */
#define SOFTMAX_SUM_TOL 1e-4
#define VANISH_RATIO 1e-3           /* AUTOTRAINER beta1 */
#define VANISH_FIRST 1e-4           /* AUTOTRAINER beta2 */
#define EXPLODE_RATIO 70.0          /* AUTOTRAINER beta3 */
#define EXPLODE_MEAN_ABS 1e6        /* TheDeepChecker / SageMaker: mean |g| */
#define VANISH_MEDIAN 1e-5          /* BTTackler: median over layers of mean |g| */
#define EXPLODE_MEDIAN 1e4          /* BTTackler */
#define DEAD_RELU_SHARE 0.7         /* DeepDiagnosis / AUTOTRAINER gamma: units, or outputs <= 0 */
#define GRADCHECK_FAIL_SHARE 0.1    /* more than 10% of the checked elements */
#define UPDATE_LOG10_MIN (-4.0)     /* TheDeepChecker update/weight ratio range */
#define UPDATE_LOG10_MAX (-1.0)
#define SATURATION_ABS 5.0          /* DeepDiagnosis: |pre-activation| beyond +-5 */
#define SATURATION_SHARE 0.5        /* DeepDiagnosis / SageMaker: more than 50% of a layer's units */
#define TWIN_REL_TOL 1e-4           /* rows equal up to BLAS rounding: |a - b| <= tol * max |a| */

static int is_weight(const dt_node *p) { return p->ndim >= 2; }

/* ------------------------------------------------------- non-finite values */

static void report_anomaly(dbg_state *s, const char *when, long step)
{
    const dt_anomaly *a = &s->m->g->anomaly;
    char v[32];
    snprintf(v, sizeof v, "%g", (double)a->value);
    dt_finding *f = dt_report_finding(s->rep, "nan-or-inf", DT_SEV_ERROR,
                                      "%s appeared in the %s pass of op %s in layer '%s' (tensor '%s', element %zu) %s",
                                      v, a->where, a->op, a->layer, a->node, a->index, when);
    dt_finding_evidence_str(f, "pass", a->where);
    dt_finding_evidence_str(f, "op", a->op);
    dt_finding_evidence_str(f, "layer", a->layer);
    dt_finding_evidence_str(f, "tensor", a->node);
    dt_finding_evidence_str(f, "value", v);
    dt_finding_evidence(f, "index", (double)a->index);
    dt_finding_evidence(f, "step", (double)step);
    if (step > 0) dt_finding_suggest(f, "lower the learning rate (train.lr): the weights diverged while training");
    dt_finding_suggest(f, "look for exp, log or division in layer '%s' (Tobin: numerical instability)", a->layer);
    dt_finding_suggest(f, "normalize the inputs (data.normalize: true) and check them for extreme values");
    dt_finding_suggest(f, "clip the gradient norm (train.clip_grad_norm)");
    s->nan_found = 1;
    dbg_check(s, "nan_or_inf", 1, 0, 0);
}

/* Forward (and backward) of the loss with anomaly mode on.  A non-finite
 * value becomes a finding and sets s->nan_found; other errors propagate. */
static dt_status guarded(dbg_state *s, int train, int backward, const char *when, long step)
{
    dt_graph *g = s->m->g;
    dt_graph_set_train(g, train);
    g->anomaly_mode = 1;
    g->anomaly.found = 0;
    dt_status st = dt_graph_forward(g, s->m->loss);
    if (!st && backward) st = dt_graph_backward(g, s->m->loss);
    g->anomaly_mode = 0;
    if (st && g->anomaly.found) {
        report_anomaly(s, when, step);
        dt_clear_error();
        return DT_OK;
    }
    return st;
}

static int check_inputs_finite(dbg_state *s)
{
    size_t bad = 0, first = 0;
    int in = 0;
    for (int j = 0; j < s->m->n_inputs && !bad; j++) {
        const dt_node *x = s->m->inputs[j];
        size_t k = dt_numel(x);
        for (size_t i = 0; i < k; i++)
            if (!isfinite(x->val[i]) && !bad++) {
                first = i / (k / (size_t)x->shape[0]);
                in = j;
            }
    }
    if (!bad) return 1;
    dt_finding *f = dt_report_finding(s->rep, "nan-or-inf", DT_SEV_ERROR,
                                      "%zu values of input '%s' in the debug batch are NaN or infinite (first: sample "
                                      "%zu)",
                                      bad, s->m->spec.inputs[in].name, first);
    dt_finding_evidence_str(f, "pass", "input");
    dt_finding_evidence_str(f, "input", s->m->spec.inputs[in].name);
    dt_finding_evidence(f, "count", (double)bad);
    dt_finding_evidence(f, "index", (double)first);
    dt_finding_suggest(f, "clean the data: drop or impute the non-finite values");
    s->nan_found = 1;
    dbg_check(s, "nan_or_inf", 1, 0, 0);
    return 0;
}

/* ---------------------------------------------------------- output, loss */

static void check_output_shape(dbg_state *s)
{
    const dt_model *m = s->m;
    int want = dt_data_classes(s->d);
    int ok = m->out->ndim == 2 && (size_t)m->out->shape[0] == s->B && m->out->shape[1] == want;
    if (ok && m->spec.loss == DT_LOSS_MSE) ok = m->y->ndim == 2 && m->y->shape[1] == m->out->shape[1];
    char shape[64];
    dt_shape_str(m->out, shape, sizeof shape);
    dbg_check(s, "output_width", m->out->ndim == 2 ? m->out->shape[1] : -1, want, ok);
    if (ok) return;
    dt_finding *f = dt_report_finding(s->rep, "output-shape-mismatch", DT_SEV_ERROR,
                                      "model output is %s but the data needs [%zu,%d] (%s)", shape, s->B, want,
                                      s->classes ? "one logit per class" : "one value per target");
    dt_finding_evidence(f, "expected_width", want);
    dt_finding_evidence(f, "batch", (double)s->B);
    dt_finding_evidence_str(f, "shape", shape);
    dt_finding_suggest(f, "check that task and loss match the data (classification with cross_entropy, "
                          "regression with mse)");
}

/* Config-based and output-based detection of probabilities fed to a loss
 * that takes logits (Tobin bug 3, Karpathy K2 #4). */
static void check_softmax(dbg_state *s)
{
    const dt_model *m = s->m;
    int from_config = s->cfg->model.output_activation == DT_OUT_SOFTMAX && s->cfg->loss == DT_LOSS_CROSS_ENTROPY;
    int rows_prob = 0;
    double worst = 0;
    if (m->spec.loss == DT_LOSS_CROSS_ENTROPY && m->out->ndim == 2 && m->out->shape[1] > 1) {
        int rows = m->out->shape[0], k = m->out->shape[1];
        rows_prob = rows > 0;
        for (int r = 0; r < rows && rows_prob; r++) {
            double sum = 0;
            for (int j = 0; j < k; j++) {
                float v = m->out->val[(size_t)r * (size_t)k + (size_t)j];
                if (!(v >= 0.0f && v <= 1.0f)) { rows_prob = 0; break; }
                sum += v;
            }
            if (fabs(sum - 1.0) > worst) worst = fabs(sum - 1.0);
            if (fabs(sum - 1.0) > SOFTMAX_SUM_TOL) rows_prob = 0;
        }
    }
    dbg_check(s, "output_rows_are_probabilities", rows_prob, 0, !rows_prob && !from_config);
    if (!from_config && !rows_prob) return;
    dt_finding *f = dt_report_finding(
        s->rep, "softmax-before-logits-loss", DT_SEV_ERROR,
        "%s: cross_entropy takes logits, so the model's probabilities go through a second softmax and the "
        "gradients shrink",
        from_config ? "model.output_activation is softmax with loss cross_entropy"
                    : "every output row of the debug batch is a probability vector (sums to 1)");
    dt_finding_evidence(f, "from_config", from_config);
    dt_finding_evidence(f, "rows_sum_to_one", rows_prob);
    if (rows_prob) dt_finding_evidence(f, "max_row_sum_error", worst);
    dt_finding_suggest(f, "set model.output_activation: none (cross_entropy applies log-softmax itself)");
    dt_finding_suggest(f, "apply softmax only when reading out probabilities, after the loss");
}

static void check_init_loss(dbg_state *s, double l0)
{
    const dt_model *m = s->m;
    double expected;
    const char *rule;
    if (m->spec.loss == DT_LOSS_CROSS_ENTROPY) {
        expected = log((double)m->out->shape[1]);
        rule = "-log(1/C)";
    } else {
        /* Predictions near the target mean give the target variance. */
        int k = m->y->shape[1];
        double var = 0;
        for (int j = 0; j < k; j++) {
            double mu = 0, sq = 0;
            for (size_t i = 0; i < s->B; i++) mu += m->y->val[i * (size_t)k + (size_t)j];
            mu /= (double)s->B;
            for (size_t i = 0; i < s->B; i++) {
                double e = m->y->val[i * (size_t)k + (size_t)j] - mu;
                sq += e * e;
            }
            var += sq / (double)s->B;
        }
        expected = var / k;
        rule = "target variance";
    }
    dt_report_metric(s->rep, "init_loss", l0);
    dt_report_metric(s->rep, "expected_init_loss", expected);
    double dev = fabs(l0 - expected), rel = expected > 0 ? dev / expected : (dev > 1e-6 ? INFINITY : 0);
    int ok = rel < INIT_LOSS_REL;
    dbg_check(s, "init_loss_relative_deviation", rel, INIT_LOSS_REL, ok);
    if (ok) return;
    dt_finding *f = dt_report_finding(s->rep, "init-loss-off", DT_SEV_WARNING,
                                      "loss at initialization is %.4g, expected about %.4g (%s): off by %.0f%%", l0,
                                      expected, rule, 100.0 * rel);
    dt_finding_evidence(f, "init_loss", l0);
    dt_finding_evidence(f, "expected", expected);
    if (isfinite(rel)) dt_finding_evidence(f, "relative_deviation", rel);
    dt_finding_evidence(f, "threshold", INIT_LOSS_REL);
    if (m->spec.loss == DT_LOSS_CROSS_ENTROPY)
        dt_finding_suggest(f, "initialise the last layer so the logits start small, with the bias at the log "
                              "class prior (Karpathy: init well)");
    else
        dt_finding_suggest(f, "initialise the output bias to the target mean, or standardize the targets "
                              "(Karpathy: init well)");
    dt_finding_suggest(f, "normalize the inputs (data.normalize: true): large inputs give large outputs at init");
    dt_finding_suggest(f, "check the loss reduction (mean over the batch, not the sum) and the labels");
}

/* ------------------------------------------------------- gradient flow */

static void param_grad_norms(const dt_graph *g, double *norm, double *mean_abs)
{
    for (int i = 0; i < g->n_params; i++) {
        const dt_node *p = g->params[i];
        size_t k = dt_numel(p);
        double sq = 0, ab = 0;
        for (size_t j = 0; j < k; j++) {
            sq += (double)p->grad[j] * p->grad[j];
            ab += fabs(p->grad[j]);
        }
        norm[i] = sqrt(sq);
        mean_abs[i] = k ? ab / (double)k : 0;
    }
}

/* Each weight's place along the graph: the depth (ops from the nearest
 * model input) of the op that reads it, and which inputs reach that op. */
static void weight_depths(const dt_model *m, int *depth, unsigned *reach)
{
    const dt_graph *g = m->g;
    int *nd = calloc((size_t)g->n_nodes, sizeof *nd);
    unsigned *nr = calloc((size_t)g->n_nodes, sizeof *nr);
    for (int p = 0; p < g->n_params; p++) depth[p] = -1, reach[p] = 0;
    if (!nd || !nr) goto done;
    for (int k = 0; k < g->n_nodes; k++) {   /* creation order is topological */
        const dt_node *n = g->nodes[k];
        for (int i = 0; i < m->n_inputs; i++)
            if (n == m->inputs[i]) nr[k] = 1u << i;
        if (n->op == DT_OP_INPUT || n->op == DT_OP_PARAM) continue;
        for (int j = 0; j < n->n_in; j++) {
            int a = n->in[j]->id;
            if (n->in[j]->op != DT_OP_PARAM && nd[a] + 1 > nd[k]) nd[k] = nd[a] + 1;
            nr[k] |= nr[a];
        }
        for (int j = 0; j < n->n_in; j++)
            for (int p = 0; p < g->n_params; p++)
                if (n->in[j] == g->params[p] && depth[p] < 0) {
                    depth[p] = nd[k];
                    reach[p] = nr[k];
                }
    }
done:
    free(nd);
    free(nr);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over the weight tensors of their mean |g| (1 when none: neutral). */
static double median_mean_abs(const dt_graph *g, const double *mean_abs)
{
    double *v = malloc((size_t)(g->n_params ? g->n_params : 1) * sizeof *v);
    int n = 0;
    if (!v) return 1.0;
    for (int i = 0; i < g->n_params; i++)
        if (is_weight(g->params[i]) && isfinite(mean_abs[i])) v[n++] = mean_abs[i];
    double med = 1.0;
    if (n) {
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    free(v);
    return med;
}

static void check_gradient_flow(dbg_state *s, const double *norm, const double *mean_abs, const char *phase)
{
    const dt_graph *g = s->m->g;
    int first = -1, last = -1, worst = -1;
    int *depth = calloc((size_t)(g->n_params ? g->n_params : 1), sizeof *depth);
    unsigned *reach = calloc((size_t)(g->n_params ? g->n_params : 1), sizeof *reach);
    if (!depth || !reach) {
        free(depth);
        free(reach);
        return;
    }
    weight_depths(s->m, depth, reach);
    /* last: the weight nearest the loss; first: per input branch, the weight
     * nearest that input — the one whose gradient has travelled furthest.
     * The worst branch (smallest first/last ratio) is the one judged. */
    for (int i = 0; i < g->n_params; i++)
        if (is_weight(g->params[i])) {
            if (last < 0 || depth[i] >= depth[last]) last = i;
            if (!isfinite(norm[i]) || mean_abs[i] > EXPLODE_MEAN_ABS) {
                if (worst < 0 || !isfinite(norm[i]) || mean_abs[i] > mean_abs[worst]) worst = i;
            }
        }
    double ratio = 1.0;
    for (int b = 0; b < s->m->n_inputs && last >= 0; b++) {
        int f = -1;
        for (int i = 0; i < g->n_params; i++)
            if (is_weight(g->params[i]) && (reach[i] >> b & 1u) && (f < 0 || depth[i] < depth[f])) f = i;
        if (f < 0) continue;
        double r = norm[last] > 0 ? norm[f] / norm[last] : (norm[f] > 0 ? INFINITY : 1.0);
        if (first < 0 || r < ratio) {
            first = f;
            ratio = r;
        }
    }
    free(depth);
    free(reach);
    if (first < 0) return;
    double gf = norm[first], gl = norm[last];
    char key[64];
    /* BTTackler's layer-wide view: the median over weight tensors of the
     * mean |g| (a whole network gone quiet or loud, not only its ends). */
    double med = median_mean_abs(g, mean_abs);
    int med_vanish = med < VANISH_MEDIAN, med_explode = med > EXPLODE_MEDIAN;
    int vanish = (first != last && ratio < VANISH_RATIO && gf < VANISH_FIRST) || med_vanish;
    int explode = worst >= 0 || (first != last && ratio > EXPLODE_RATIO) || med_explode;
    snprintf(key, sizeof key, "grad_ratio_first_last_%s", phase);
    dbg_check(s, key, ratio, explode ? EXPLODE_RATIO : VANISH_RATIO,
              !(first != last && ratio < VANISH_RATIO && gf < VANISH_FIRST) && !(first != last && ratio > EXPLODE_RATIO));
    snprintf(key, sizeof key, "grad_median_mean_abs_%s", phase);
    dbg_check(s, key, med, med_explode ? EXPLODE_MEDIAN : VANISH_MEDIAN, !med_vanish && !med_explode);
    const char *fn = g->params[first]->name, *ln = g->params[last]->name;
    /* Vanishing is judged after the debug steps: at init an output layer
     * started at zero stops every gradient, and its first step gives it
     * weights (the init value stays in metrics.checks). */
    if (vanish && strcmp(phase, "init") != 0 && !dt_report_has_finding(s->rep, "vanishing-gradients")) {
        dt_finding *f;
        if (!med_vanish)
            f = dt_report_finding(s->rep, "vanishing-gradients", DT_SEV_WARNING,
                                  "gradients vanish towards the input (%s): |g(%s)| = %.3g is %.3g times |g(%s)| = %.3g",
                                  phase, fn, gf, ratio, ln, gl);
        else
            f = dt_report_finding(s->rep, "vanishing-gradients", DT_SEV_WARNING,
                                  "gradients vanish across the network (%s): the median over weight tensors of the "
                                  "mean |g| is %.3g (< %.0e); |g(%s)| = %.3g, |g(%s)| = %.3g",
                                  phase, med, VANISH_MEDIAN, fn, gf, ln, gl);
        if (med_vanish) {
            dt_finding_evidence(f, "median_mean_abs", med);
            dt_finding_evidence(f, "median_threshold", VANISH_MEDIAN);
        }
        dt_finding_evidence(f, "first_norm", gf);
        dt_finding_evidence(f, "last_norm", gl);
        dt_finding_evidence(f, "ratio", ratio);
        dt_finding_evidence(f, "ratio_threshold", VANISH_RATIO);
        dt_finding_evidence(f, "first_threshold", VANISH_FIRST);
        dt_finding_evidence_str(f, "phase", phase);
        dt_finding_suggest(f, "use ReLU (model.activation: relu) with He initialisation");
        dt_finding_suggest(f, "add batch-norm (model.batch_norm: true) or make the model shallower (model.depth)");
        dt_finding_suggest(f, "normalize the inputs so tanh units do not saturate (data.normalize: true)");
    }
    if (explode && !dt_report_has_finding(s->rep, "exploding-gradients")) {
        dt_finding *f;
        if (worst >= 0)
            f = dt_report_finding(s->rep, "exploding-gradients", DT_SEV_WARNING,
                                  "gradient of %s is %s (%s): mean |g| = %.3g", g->params[worst]->name,
                                  isfinite(norm[worst]) ? "huge" : "not finite", phase, mean_abs[worst]);
        else if (med_explode)
            f = dt_report_finding(s->rep, "exploding-gradients", DT_SEV_WARNING,
                                  "gradients are huge across the network (%s): the median over weight tensors of the "
                                  "mean |g| is %.3g (> %.0e)",
                                  phase, med, EXPLODE_MEDIAN);
        else
            f = dt_report_finding(s->rep, "exploding-gradients", DT_SEV_WARNING,
                                  "gradients grow towards the input (%s): |g(%s)| = %.3g is %.3g times "
                                  "|g(%s)| = %.3g",
                                  phase, fn, gf, ratio, ln, gl);
        if (med_explode && worst < 0) {
            dt_finding_evidence(f, "median_mean_abs", med);
            dt_finding_evidence(f, "median_threshold", EXPLODE_MEDIAN);
        }
        dt_finding_evidence(f, "first_norm", isfinite(gf) ? gf : -1);
        dt_finding_evidence(f, "last_norm", isfinite(gl) ? gl : -1);
        if (isfinite(ratio)) dt_finding_evidence(f, "ratio", ratio);
        dt_finding_evidence(f, "ratio_threshold", EXPLODE_RATIO);
        dt_finding_evidence(f, "mean_abs_threshold", EXPLODE_MEAN_ABS);
        dt_finding_evidence_str(f, "phase", phase);
        dt_finding_suggest(f, "normalize the inputs (data.normalize: true)");
        dt_finding_suggest(f, "lower the learning rate (train.lr) and clip the gradient norm (train.clip_grad_norm)");
        dt_finding_suggest(f, "add batch-norm (model.batch_norm: true)");
    }
}

/* -------------------------------------------------------- gradient check */

static dt_status check_gradients_numerically(dbg_state *s)
{
    dt_model *m = s->m;
    size_t nb = s->B < DBG_GRADCHECK_BATCH ? s->B : DBG_GRADCHECK_BATCH;
    dt_status st = dt_model_load_batch(m, s->d, DT_SPLIT_TRAIN, s->rows, nb);
    if (st) return st;
    dt_graph_set_train(m->g, 1);
    dt_gradcheck_opts o;
    dt_gradcheck_defaults(&o);
    o.max_elements = s->cfg->stages.debug.gradcheck_params;
    o.seed = s->cfg->seed ^ 0x6A09E667F3BCC908ull;
    dt_gradcheck_result r;
    st = dt_gradcheck(m->g, m->loss, &o, &r);
    if (st) return st;
    double share = r.checked ? (double)r.failed / r.checked : 0;
    int bad_tensor = -1;
    for (int i = 0; i < r.n_params; i++) {
        const dt_gradcheck_param *p = &r.params[i];
        if (p->checked >= 2 && 2 * p->failed > p->checked && (bad_tensor < 0 || p->failed > r.params[bad_tensor].failed))
            bad_tensor = i;
    }
    dt_report_metric(s->rep, "gradcheck_checked", r.checked);
    dt_report_metric(s->rep, "gradcheck_failed", r.failed);
    dt_report_metric(s->rep, "gradcheck_skipped", r.skipped);
    dt_report_metric(s->rep, "gradcheck_max_error", r.max_err);
    int ok = share <= GRADCHECK_FAIL_SHARE && bad_tensor < 0;
    dbg_check(s, "gradcheck_failed_share", share, GRADCHECK_FAIL_SHARE, ok);
    if (!ok) {
        const char *where = bad_tensor >= 0 ? r.params[bad_tensor].param->name : r.worst_param;
        dt_finding *f = dt_report_finding(
            s->rep, "gradient-check-failed", DT_SEV_ERROR,
            "backprop disagrees with finite differences on %d of %d checked parameter elements (worst in %s: "
            "analytic %.4g, numeric %.4g)",
            r.failed, r.checked, where, r.worst_analytic, r.worst_numeric);
        dt_finding_evidence(f, "checked", r.checked);
        dt_finding_evidence(f, "failed", r.failed);
        dt_finding_evidence(f, "skipped_kinks", r.skipped);
        dt_finding_evidence(f, "failed_share", share);
        dt_finding_evidence(f, "max_relative_error", r.max_rel_err);
        dt_finding_evidence_str(f, "worst_param", r.worst_param);
        dt_finding_evidence(f, "worst_index", (double)r.worst_index);
        dt_finding_suggest(f, "a backward pass is wrong in the layer of %s: this is a bug in dnntrouble's engine; "
                              "please report it with this report attached", where);
        dt_finding_suggest(f, "turn off dropout and batch-norm to narrow it down (train.dropout: 0, "
                              "model.batch_norm: false)");
    }
    dt_gradcheck_free(&r);
    return dt_model_load_batch(m, s->d, DT_SPLIT_TRAIN, s->rows, s->B);
}

/* ------------------------------------------------- batch dependency (K1) */

/* Where the gradient of model input i can be read: the input itself, or for
 * token ids (not differentiable) the embeddings that look them up. */
#define MAX_ENTRIES 16
static int input_entries(const dt_model *m, int i, dt_node **out)
{
    if (!m->spec.inputs[i].tokens) {
        out[0] = m->inputs[i];
        return 1;
    }
    int n = 0;
    for (int k = 0; k < m->g->n_nodes && n < MAX_ENTRIES; k++) {
        dt_node *e = m->g->nodes[k];
        if (e->op == DT_OP_EMBEDDING && e->in[0] == m->inputs[i]) out[n++] = e;
    }
    return n;
}

/* max |grad| over sample j's row of node e */
static double row_max_grad(const dt_node *e, size_t j, size_t B)
{
    if (!e->grad) return 0;
    size_t D = dt_numel(e) / B;
    double mx = 0;
    for (size_t k = 0; k < D; k++) mx = fmax(mx, fabs(e->grad[j * D + k]));
    return mx;
}

static void set_input_grads(dt_model *m, int on)
{
    for (int i = 0; i < m->n_inputs; i++)
        if (!m->spec.inputs[i].tokens) m->inputs[i]->requires_grad = on;
    dt_graph_update_grad_flags(m->g);
}

/* input-unused: d loss / d input identically zero over the debug batch (a
 * branch cut off at run time: dead units, zero weights, a multiplying zero).
 * An input no layer reads is already a configuration error.  Measured at
 * init (*mask gets the inputs whose gradient is zero) and, with `report`,
 * again after the debug steps: only inputs zero both times are reported, so
 * an output layer started at zero (its first step gives it weights) is not. */
static dt_status check_input_unused(dbg_state *s, unsigned *mask, int report)
{
    dt_model *m = s->m;
    set_input_grads(m, 1);
    dt_graph_set_train(m->g, 0);
    dt_status st = dt_graph_forward(m->g, m->loss);
    if (!st) st = dt_graph_backward(m->g, m->loss);
    int unused = 0;
    unsigned before = *mask;
    *mask = 0;
    for (int i = 0; i < m->n_inputs && !st; i++) {
        dt_node *e[MAX_ENTRIES];
        int n = input_entries(m, i, e);
        double mx = 0;
        for (int k = 0; k < n; k++)
            for (size_t j = 0; j < s->B; j++) mx = fmax(mx, row_max_grad(e[k], j, s->B));
        if (n == 0 || mx > 0) continue;
        *mask |= 1u << i;
        if (!report || !(before >> i & 1u)) continue;
        unused++;
        const char *name = m->spec.inputs[i].name;
        dt_finding *f = dt_report_finding(s->rep, "input-unused", DT_SEV_ERROR,
                                          "input '%s' does not reach the loss: its gradient is exactly zero for every "
                                          "sample of the debug batch",
                                          name);
        dt_finding_evidence_str(f, "input", name);
        dt_finding_evidence(f, "max_abs_gradient", 0);
        dt_finding_evidence(f, "samples", (double)s->B);
        dt_finding_suggest(f, "look along '%s''s branch for a layer that outputs zeros: all-zero weights "
                              "(init: zeros), ReLUs that are all dead, a dropout rate near 1",
                           name);
        dt_finding_suggest(f, "see the per-layer statistics (metrics.layers): the first layer whose gradient is 0");
    }
    set_input_grads(m, 0);
    dt_graph_set_train(m->g, 1);
    if (!st && report) dbg_check(s, "inputs_unused", unused, 0, unused == 0);
    return st;
}

static dt_status check_batch_dependency(dbg_state *s)
{
    dt_model *m = s->m;
    dt_graph *g = m->g;
    if (s->B < 2) return DT_OK;
    size_t K = (size_t)m->out->shape[1];
    dt_node *entries[DT_MAX_MODEL_INPUTS * MAX_ENTRIES];
    int n_entries = 0;
    for (int i = 0; i < m->n_inputs; i++) n_entries += input_entries(m, i, entries + n_entries);
    float *seed = calloc(s->B * K, sizeof *seed);
    if (!seed) return dt_fail(DT_ENOMEM, "debug: out of memory");
    set_input_grads(m, 1);
    dt_graph_set_train(g, 0); /* batch-norm in train mode mixes samples on purpose */
    dt_status st = dt_graph_forward(g, m->out);
    size_t probes[2] = {0, s->B - 1}, leak_i = 0, leak_j = 0, leaks = 0, no_own = 0;
    double leak_max = 0;
    for (int t = 0; t < 2 && !st; t++) {
        size_t i = probes[t];
        /* Distinct weights: an all-ones seed would cancel on a softmax output. */
        for (size_t k = 0; k < K; k++) seed[i * K + k] = 1.0f + (float)k;
        st = dt_graph_backward_seeded(g, m->out, seed);
        for (size_t k = 0; k < K; k++) seed[i * K + k] = 0.0f;
        if (st) break;
        for (size_t j = 0; j < s->B; j++) {
            double mx = 0;
            for (int k = 0; k < n_entries; k++) mx = fmax(mx, row_max_grad(entries[k], j, s->B));
            if (j == i) no_own += mx == 0;
            else if (mx > 0) {
                if (!leaks || mx > leak_max) { leak_i = i; leak_j = j; leak_max = mx; }
                leaks++;
            }
        }
    }
    set_input_grads(m, 0);
    dt_graph_set_train(g, 1);
    free(seed);
    if (st) return st;
    dbg_check(s, "batch_dependency_leaks", (double)leaks, 0, leaks == 0);
    dt_report_metric(s->rep, "batch_dependency_mode", 0); /* 0: evaluation mode */
    if (leaks) {
        dt_finding *f = dt_report_finding(s->rep, "batch-dependency", DT_SEV_ERROR,
                                          "the output of sample %zu depends on the input of sample %zu (max |d out_%zu "
                                          "/ d x_%zu| = %.3g): the model mixes samples across the batch",
                                          leak_i, leak_j, leak_i, leak_j, leak_max);
        dt_finding_evidence(f, "sample", (double)leak_i);
        dt_finding_evidence(f, "other_sample", (double)leak_j);
        dt_finding_evidence(f, "pairs", (double)leaks);
        dt_finding_evidence(f, "max_gradient", leak_max);
        dt_finding_evidence_str(f, "mode", "eval");
        dt_finding_suggest(f, "look for a reshape/transpose that moves the batch axis (view vs permute, K2 #6)");
        dt_finding_suggest(f, "checked in evaluation mode, where batch-norm uses running statistics; only "
                              "train-mode batch-norm may mix samples");
    }
    if (no_own)
        dt_report_finding(s->rep, "batch-dependency", DT_SEV_INFO,
                          "the output of a probed sample has zero gradient with respect to its own input at "
                          "initialization (dead units or a disconnected input)");
    return DT_OK;
}

/* --------------------------------------------------- train / eval switch */

static dt_status check_train_eval(dbg_state *s)
{
    dt_graph *g = s->m->g;
    dt_node *out = s->m->out;
    size_t k = dt_numel(out);
    int stochastic = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const dt_node *n = g->nodes[i];
        stochastic |= (n->op == DT_OP_DROPOUT && n->farg[0] > 0.0f) || n->op == DT_OP_BATCHNORM;
    }
    float *a = malloc(3 * k * sizeof *a);
    if (!a) return dt_fail(DT_ENOMEM, "debug: out of memory");
    dt_rng saved = g->rng;
    dt_graph_set_train(g, 0);
    dt_status st = dt_graph_forward(g, out);
    if (!st) memcpy(a, out->val, k * sizeof *a);
    if (!st) st = dt_graph_forward(g, out);
    if (!st) memcpy(a + k, out->val, k * sizeof *a);
    dt_graph_set_train(g, 1);
    if (!st) st = dt_graph_forward(g, out);
    if (!st) memcpy(a + 2 * k, out->val, k * sizeof *a);
    g->rng = saved;
    if (st) { free(a); return st; }
    int eval_same = !memcmp(a, a + k, k * sizeof *a), train_same = !memcmp(a, a + 2 * k, k * sizeof *a);
    double diff = 0;
    for (size_t i = 0; i < k; i++) diff = fmax(diff, fabs((double)a[i] - a[2 * k + i]));
    free(a);
    int ok = eval_same && (stochastic ? !train_same : train_same);
    dbg_check(s, "train_eval_max_output_difference", diff, 0, ok);
    if (ok) return DT_OK;
    dt_finding *f;
    if (!eval_same)
        f = dt_report_finding(s->rep, "train-eval-mismatch", DT_SEV_ERROR,
                              "two evaluation-mode passes on the same batch give different outputs: evaluation "
                              "is not deterministic");
    else if (stochastic)
        f = dt_report_finding(s->rep, "train-eval-mismatch", DT_SEV_ERROR,
                              "the model has dropout or batch-norm but training-mode and evaluation-mode outputs "
                              "are identical: the mode switch does not reach those layers");
    else
        f = dt_report_finding(s->rep, "train-eval-mismatch", DT_SEV_ERROR,
                              "the model has neither dropout nor batch-norm yet training-mode and evaluation-mode "
                              "outputs differ by up to %.3g",
                              diff);
    dt_finding_evidence(f, "eval_repeatable", eval_same);
    dt_finding_evidence(f, "has_dropout_or_batchnorm", stochastic);
    dt_finding_evidence(f, "max_difference", diff);
    dt_finding_suggest(f, "check that every layer reads the train/eval flag (K2 #2: forgot to toggle train/eval)");
    return DT_OK;
}

/* ------------------------------------------ training steps, update sizes */

/* Per-step update sizes |dw|/|w| of each weight, gathered by the step hook. */
typedef struct update_watch {
    const dt_graph *g;
    float *w0;                 /* the weights before this step */
    double *log_ratio_sum;
    int *ratio_steps;
} update_watch;

static int update_step(void *ctx, const dt_fit_step *fs)
{
    update_watch *u = ctx;
    const dt_graph *g = u->g;
    for (int i = 0; i < g->n_params; i++) {
        const dt_node *p = g->params[i];
        if (!is_weight(p)) continue;
        double dw = 0, w = 0;
        for (size_t j = 0; j < dt_numel(p); j++) {
            double a = u->w0[p->param_offset + j], b = p->val[j];
            dw += (b - a) * (b - a);
            w += a * a;
        }
        if (w > 0 && dw > 0) {
            u->log_ratio_sum[i] += 0.5 * log10(dw / w);
            u->ratio_steps[i]++;
        }
    }
    memcpy(u->w0, g->param_val, g->n_param_values * sizeof *u->w0);
    (void)fs;
    return 0;
}

/* DBG_TRAIN_STEPS steps of the configured training (dt_model_fit, with the
 * optimizer's schedule as the full run plans it) in anomaly mode. */
static dt_status train_steps(dbg_state *s, double *log_ratio_sum, int *ratio_steps, long *steps_done)
{
    dt_model *m = s->m;
    dt_graph *g = m->g;
    const dt_config *cfg = s->cfg;
    dt_fit_opts fo = dt_stage_fit_opts_cfg(cfg, DT_SPLIT_TRAIN, DT_SPLIT_TRAIN);
    dt_optim_cfg oc = dt_stage_optim_cfg(cfg, dt_fit_planned_steps(s->d, &fo, s->B));
    fo.max_steps = DBG_TRAIN_STEPS;
    fo.restore_best = 0;
    dt_optimizer o;
    dt_status st = dt_optim_init(&o, &oc, g->n_param_values);
    if (st) return st;
    update_watch u = {g, malloc(g->n_param_values * sizeof(float) + 1), log_ratio_sum, ratio_steps};
    if (!u.w0) {
        dt_optim_free(&o);
        return dt_fail(DT_ENOMEM, "debug: out of memory");
    }
    memcpy(u.w0, g->param_val, g->n_param_values * sizeof *u.w0);
    fo.on_step = update_step;
    fo.ctx = &u;
    dt_fit_result fr;
    g->anomaly_mode = 1;
    g->anomaly.found = 0;
    st = dt_model_fit(m, &o, s->d, &fo, &fr);
    g->anomaly_mode = 0;
    *steps_done = fr.steps;
    if (st && g->anomaly.found) {
        char when[48];
        snprintf(when, sizeof when, "at training step %ld", fr.steps + 1);
        report_anomaly(s, when, fr.steps + 1);
        dt_clear_error();
        st = DT_OK;
    }
    free(u.w0);
    dt_optim_free(&o);
    if (!st) st = dt_model_load_batch(m, s->d, DT_SPLIT_TRAIN, s->rows, s->B);
    return st;
}

static void check_update_ratio(dbg_state *s, const double *log_ratio)
{
    const dt_graph *g = s->m->g;
    int worst = -1;
    double worst_dist = 0, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < g->n_params; i++) {
        if (!isfinite(log_ratio[i])) continue;
        lo = fmin(lo, log_ratio[i]);
        hi = fmax(hi, log_ratio[i]);
        double dist = log_ratio[i] < UPDATE_LOG10_MIN ? UPDATE_LOG10_MIN - log_ratio[i]
                      : log_ratio[i] > UPDATE_LOG10_MAX ? log_ratio[i] - UPDATE_LOG10_MAX : 0;
        if (dist > worst_dist) { worst_dist = dist; worst = i; }
    }
    if (!isfinite(lo)) return;
    dbg_check(s, "update_ratio_log10_min", lo, UPDATE_LOG10_MIN, lo >= UPDATE_LOG10_MIN);
    dbg_check(s, "update_ratio_log10_max", hi, UPDATE_LOG10_MAX, hi <= UPDATE_LOG10_MAX);
    if (worst < 0) return;
    int slow = log_ratio[worst] < UPDATE_LOG10_MIN;
    dt_finding *f = dt_report_finding(s->rep, "update-ratio-off", DT_SEV_WARNING,
                                      "updates of %s are too %s: |dw|/|w| = 10^%.2f per step, outside "
                                      "10^[%.0f, %.0f]",
                                      g->params[worst]->name, slow ? "small" : "large", log_ratio[worst],
                                      UPDATE_LOG10_MIN, UPDATE_LOG10_MAX);
    dt_finding_evidence(f, "log10_ratio", log_ratio[worst]);
    dt_finding_evidence(f, "min_log10", UPDATE_LOG10_MIN);
    dt_finding_evidence(f, "max_log10", UPDATE_LOG10_MAX);
    dt_finding_evidence_str(f, "param", g->params[worst]->name);
    dt_finding_evidence(f, "lr", s->cfg->train.lr);
    if (slow) dt_finding_suggest(f, "raise the learning rate (train.lr)");
    else dt_finding_suggest(f, "lower the learning rate (train.lr)");
    dt_finding_suggest(f, "check the initialisation scale of %s", g->params[worst]->name);
}

/* ------------------------------------------- saturated tanh / sigmoid */

/* Share of the units (features; conv: channels; sequences: the last axis)
 * of a tanh/sigmoid node whose pre-activation has |z| >= SATURATION_ABS for
 * more than half of the batch's values: there the derivative is below
 * 2e-4 (tanh) / 7e-3 (sigmoid), so almost no gradient passes. */
static double saturated_share(const dt_node *n, size_t *units_out, size_t *sat_out, double *mean_abs)
{
    const dt_node *z = n->in[0];
    size_t k = dt_numel(z), B = (size_t)z->shape[0], per = B ? k / B : 0;
    size_t units = z->ndim == 3 ? (size_t)z->shape[2] : z->ndim >= 2 ? (size_t)z->shape[1] : 1;
    size_t spatial = units ? per / units : 0;
    size_t *hits = calloc(units ? units : 1, sizeof *hits), sat = 0;
    double ab = 0;
    if (!hits || !units || !per) {
        free(hits);
        *units_out = *sat_out = 0;
        *mean_abs = 0;
        return 0;
    }
    for (size_t e = 0; e < k; e++) {
        size_t u = z->ndim == 3 ? e % units : (e % per) / spatial;
        double v = fabs(z->val[e]);
        ab += v;
        hits[u] += v >= SATURATION_ABS;
    }
    for (size_t u = 0; u < units; u++) sat += 2 * hits[u] > B * spatial;
    free(hits);
    *units_out = units;
    *sat_out = sat;
    *mean_abs = ab / (double)k;
    return (double)sat / (double)units;
}

/* Run after a forward: every tanh/sigmoid layer's pre-activations. */
static void check_saturation(dbg_state *s, const char *phase)
{
    const dt_graph *g = s->m->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const dt_node *n = g->nodes[i];
        if ((n->op != DT_OP_TANH && n->op != DT_OP_SIGMOID) || !n->n_in) continue;
        size_t units, sat;
        double mean_abs, share = saturated_share(n, &units, &sat, &mean_abs);
        char key[96];
        snprintf(key, sizeof key, "saturated_%s_%s", n->layer, phase);
        dbg_check(s, key, share, SATURATION_SHARE, share <= SATURATION_SHARE);
        if (share <= SATURATION_SHARE || dt_report_has_finding(s->rep, "saturated-activations")) continue;
        const char *op = dt_op_get(n->op)->name;
        dt_finding *f = dt_report_finding(s->rep, "saturated-activations", DT_SEV_WARNING,
                                          "%.0f%% of the units of %s layer '%s' are saturated (%s): |pre-activation| "
                                          ">= %.0f for most samples (mean |z| = %.3g), so almost no gradient passes",
                                          100.0 * share, op, n->layer, phase, SATURATION_ABS, mean_abs);
        dt_finding_evidence_str(f, "layer", n->layer);
        dt_finding_evidence_str(f, "activation", op);
        dt_finding_evidence(f, "saturated_fraction", share);
        dt_finding_evidence(f, "saturated_units", (double)sat);
        dt_finding_evidence(f, "units", (double)units);
        dt_finding_evidence(f, "mean_abs_preactivation", mean_abs);
        dt_finding_evidence(f, "abs_threshold", SATURATION_ABS);
        dt_finding_evidence(f, "threshold", SATURATION_SHARE);
        dt_finding_evidence_str(f, "phase", phase);
        dt_finding_suggest(f, "scale the initial weights to the fan-in (init: glorot_uniform for tanh/sigmoid, "
                              "or default) instead of a fixed large std");
        dt_finding_suggest(f, "normalize the inputs (data.normalize: true) and add batch-norm before '%s'", n->layer);
        dt_finding_suggest(f, "use ReLU (model.activation: relu or {type: relu})");
    }
}

/* ------------------------------------------------------ symmetric init */

/* Layers whose weight rows are output units that only differ by their
 * initialisation (an embedding's rows are tokens, not units). */
static int has_unit_rows(const dt_model *m, const dt_node *p)
{
    if (!is_weight(p)) return 0;
    int i = dt_model_desc_find(&m->spec.desc, p->layer);
    if (i < 0) return 0;
    dt_layer_type t = m->spec.desc.layers[i].type;
    return t == DT_LAYER_LINEAR || t == DT_LAYER_CONV2D || t == DT_LAYER_LSTM;
}

/* Rows (first axis) of p that equal another row: units with a twin. */
static size_t twin_rows(const dt_node *p)
{
    size_t rows = (size_t)p->shape[0], D = rows ? dt_numel(p) / rows : 0, twins = 0;
    if (rows < 2) return 0;
    unsigned char *has = calloc(rows, 1);
    if (!has) return 0;
    for (size_t u = 1; u < rows; u++) {
        const float *a = p->val + u * D;
        double amax = 0;
        for (size_t j = 0; j < D; j++) amax = fmax(amax, fabs(a[j]));
        double tol = TWIN_REL_TOL * amax;
        for (size_t v = 0; v < u; v++) {
            const float *b = p->val + v * D;
            size_t j = 0;
            while (j < D && fabs((double)a[j] - b[j]) <= tol) j++;
            if (j == D) {
                has[u] = has[v] = 1;
                break;
            }
        }
    }
    for (size_t u = 0; u < rows; u++) twins += has[u];
    free(has);
    return twins;
}

/* twins0: per parameter, twin rows before training; judged after the
 * debug steps: units that started equal and are still equal. */
static void check_symmetry(dbg_state *s, const size_t *twins0)
{
    const dt_graph *g = s->m->g;
    int worst = -1;
    size_t worst_twins = 0;
    for (int i = 0; i < g->n_params; i++) {
        const dt_node *p = g->params[i];
        if (!twins0[i] || !has_unit_rows(s->m, p)) continue;
        size_t t = twin_rows(p);
        if (t > worst_twins) { worst_twins = t; worst = i; }
    }
    dbg_check(s, "symmetric_units_after_steps", (double)worst_twins, 0, worst < 0);
    if (worst < 0) return;
    const dt_node *p = g->params[worst];
    size_t rows = (size_t)p->shape[0];
    double share = (double)worst_twins / (double)rows;
    dt_finding *f = dt_report_finding(s->rep, "symmetric-init", DT_SEV_WARNING,
                                      "%zu of the %zu units of layer '%s' (%s) started with identical weights and "
                                      "are still identical after %d training steps: they receive the same gradient, "
                                      "so the copies add nothing",
                                      worst_twins, rows, p->layer, p->name, DBG_TRAIN_STEPS);
    dt_finding_evidence_str(f, "layer", p->layer);
    dt_finding_evidence_str(f, "param", p->name);
    dt_finding_evidence(f, "identical_units", (double)worst_twins);
    dt_finding_evidence(f, "units", (double)rows);
    dt_finding_evidence(f, "identical_share", share);
    dt_finding_evidence(f, "initial_twin_rows", (double)twins0[worst]);
    dt_finding_evidence(f, "steps", DBG_TRAIN_STEPS);
    dt_finding_suggest(f, "initialise '%s' randomly (init: default, he_normal or glorot_uniform) instead of a "
                          "constant or zeros", p->layer);
    dt_finding_suggest(f, "only the last layer may start at zero: its units see different labels");
}

/* --------------------------------------------- activations and dead ReLUs */

static cJSON *layer_stats(dbg_state *s)
{
    dt_graph *g = s->m->g;
    cJSON *arr = cJSON_CreateArray();
    int worst = -1;
    double worst_dead = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const dt_node *n = g->nodes[i];
        if (n->op == DT_OP_INPUT || n->op == DT_OP_PARAM || !strcmp(n->layer, "loss")) continue;
        /* A layer's output: its last node, and every ReLU. */
        int last = 1;
        for (int j = i + 1; j < g->n_nodes && last; j++)
            if (g->nodes[j]->op != DT_OP_PARAM && !strcmp(g->nodes[j]->layer, n->layer)) last = 0;
        if (!last && n->op != DT_OP_RELU) continue;
        size_t k = dt_numel(n), zeros = 0;
        double sum = 0, sq = 0;
        for (size_t j = 0; j < k; j++) {
            sum += n->val[j];
            sq += (double)n->val[j] * n->val[j];
            zeros += n->val[j] == 0.0f;
        }
        double mean = k ? sum / (double)k : 0, var = k ? sq / (double)k - mean * mean : 0;
        char shape[64];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "layer", n->layer);
        cJSON_AddStringToObject(o, "op", dt_op_get(n->op)->name);
        cJSON_AddStringToObject(o, "shape", dt_shape_str(n, shape, sizeof shape));
        cJSON_AddNumberToObject(o, "mean", mean);
        cJSON_AddNumberToObject(o, "std", sqrt(var > 0 ? var : 0));
        if ((n->op == DT_OP_TANH || n->op == DT_OP_SIGMOID) && n->n_in) {
            size_t units, sat;
            double mean_abs;
            cJSON_AddNumberToObject(o, "saturated_fraction", saturated_share(n, &units, &sat, &mean_abs));
        }
        if (n->op == DT_OP_RELU && n->ndim >= 2 && s->B > 0) {
            /* Units: features of a dense layer, channels of a conv layer;
             * dead = zero for every sample (and every position). */
            size_t B = (size_t)n->shape[0], per = k / B, units = (size_t)n->shape[1], spatial = per / units, dead = 0;
            for (size_t u = 0; u < units; u++) {
                int alive = 0;
                for (size_t b = 0; b < B && !alive; b++)
                    for (size_t p = 0; p < spatial && !alive; p++) alive = n->val[b * per + u * spatial + p] != 0.0f;
                dead += !alive;
            }
            double share = units ? (double)dead / (double)units : 0, zf = k ? (double)zeros / (double)k : 0;
            cJSON_AddNumberToObject(o, "zero_fraction", zf);
            cJSON_AddNumberToObject(o, "dead_fraction", share);
            char key[96];
            snprintf(key, sizeof key, "dead_relu_%s", n->layer);
            dbg_check(s, key, share, DEAD_RELU_SHARE, share < DEAD_RELU_SHARE);
            snprintf(key, sizeof key, "relu_zero_outputs_%s", n->layer);
            dbg_check(s, key, zf, DEAD_RELU_SHARE, zf < DEAD_RELU_SHARE);
            /* Whole units silent on the batch, or (AUTOTRAINER, DeepDiagnosis)
             * most outputs cut to zero: a healthy layer cuts about half. */
            int bad = share >= DEAD_RELU_SHARE || zf >= DEAD_RELU_SHARE;
            if (bad && share > worst_dead) { worst_dead = share; worst = i; }
            if (bad) {
                dt_finding *f = share >= DEAD_RELU_SHARE
                    ? dt_report_finding(s->rep, "dead-relu", DT_SEV_WARNING,
                                        "%.0f%% of the units of ReLU layer '%s' output zero for every sample of the "
                                        "batch after %d training steps (%.0f%% of all its outputs are zero)",
                                        100.0 * share, n->layer, DBG_TRAIN_STEPS, 100.0 * zf)
                    : dt_report_finding(s->rep, "dead-relu", DT_SEV_WARNING,
                                        "%.0f%% of the outputs of ReLU layer '%s' are zero after %d training steps "
                                        "(a healthy layer cuts about half); %.0f%% of its units are zero for every "
                                        "sample",
                                        100.0 * zf, n->layer, DBG_TRAIN_STEPS, 100.0 * share);
                dt_finding_evidence_str(f, "layer", n->layer);
                dt_finding_evidence(f, "dead_fraction", share);
                dt_finding_evidence(f, "zero_fraction", zf);
                dt_finding_evidence(f, "dead_units", (double)dead);
                dt_finding_evidence(f, "units", (double)units);
                dt_finding_evidence(f, "threshold", DEAD_RELU_SHARE);
                dt_finding_suggest(f, "lower the learning rate (train.lr): large updates knock units dead");
                dt_finding_suggest(f, "normalize the inputs (data.normalize: true) and keep He initialisation");
                dt_finding_suggest(f, "try model.activation: tanh or add batch-norm (model.batch_norm: true)");
            }
        }
        cJSON_AddItemToArray(arr, o);
    }
    (void)worst;
    return arr;
}

/* ------------------------------------------------------------ the stage */

dt_status dbg_model_checks(dbg_state *s)
{
    dt_model *m = s->m;
    dt_graph *g = m->g;
    int np = g->n_params;
    double *buf = calloc((size_t)(np ? np : 1) * 6, sizeof *buf);
    int *ratio_steps = calloc((size_t)(np ? np : 1), sizeof *ratio_steps);
    size_t *twins0 = calloc((size_t)(np ? np : 1), sizeof *twins0);
    if (!buf || !ratio_steps || !twins0) {
        free(buf);
        free(ratio_steps);
        free(twins0);
        return dt_fail(DT_ENOMEM, "debug: out of memory");
    }
    double *gn0 = buf, *ga0 = buf + np, *gn1 = buf + 2 * np, *ga1 = buf + 3 * np, *lr = buf + 4 * np,
           *wn = buf + 5 * np;
    long steps_done = 0;
    dt_status st = DT_OK;
    check_output_shape(s);
    if (!check_inputs_finite(s)) goto done;

    /* Loss at init as the model predicts: evaluation mode (no dropout),
     * except with batch-norm, whose fresh running statistics would leave
     * the activations unnormalized: then the first training step's view. */
    int has_bn = 0;
    for (int i = 0; i < g->n_nodes; i++) has_bn |= g->nodes[i]->op == DT_OP_BATCHNORM;
    dt_rng saved = g->rng;
    st = guarded(s, has_bn, 0, "at initialization", 0);
    g->rng = saved;
    if (st || s->nan_found) goto done;
    check_saturation(s, "init");
    for (int i = 0; i < np; i++) twins0[i] = has_unit_rows(m, g->params[i]) ? twin_rows(g->params[i]) : 0;
    check_init_loss(s, m->loss->val[0]);
    check_softmax(s);
    st = guarded(s, 1, 1, "at initialization", 0);
    g->rng = saved;
    if (st || s->nan_found) goto done;
    param_grad_norms(g, gn0, ga0);
    for (int i = 0; i < np; i++) wn[i] = dt_l2_norm(g->params[i]->val, dt_numel(g->params[i]));
    check_gradient_flow(s, gn0, ga0, "init");

    if ((st = check_gradients_numerically(s))) goto done;
    if ((st = check_batch_dependency(s))) goto done;
    unsigned unused_mask = 0;
    if ((st = check_input_unused(s, &unused_mask, 0))) goto done;
    if ((st = check_train_eval(s))) goto done;

    if ((st = train_steps(s, lr, ratio_steps, &steps_done))) goto done;
    dt_report_metric(s->rep, "debug_train_steps", (double)steps_done);
    for (int i = 0; i < np; i++) lr[i] = ratio_steps[i] ? lr[i] / ratio_steps[i] : NAN;
    if (!s->nan_found) {
        check_update_ratio(s, lr);
        check_symmetry(s, twins0);
        st = guarded(s, 1, 1, "after the debug training steps", steps_done);
        g->rng = saved;
        if (st || s->nan_found) goto done;
        param_grad_norms(g, gn1, ga1);
        check_gradient_flow(s, gn1, ga1, "trained");
        dt_graph_set_train(g, 0);
        st = dt_graph_forward(g, m->loss);
        dt_graph_set_train(g, 1);
        if (st) goto done;
        check_saturation(s, "trained");
        /* Its evaluation-mode forward leaves the values layer_stats reads. */
        if ((st = check_input_unused(s, &unused_mask, 1))) goto done;
        dt_report_metric_json(s->rep, "layers", layer_stats(s));
        dbg_check(s, "nan_or_inf", 0, 0, 1);
    }

    cJSON *params = cJSON_CreateArray();
    for (int i = 0; i < np && params; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", g->params[i]->name);
        cJSON_AddNumberToObject(o, "numel", (double)dt_numel(g->params[i]));
        cJSON_AddNumberToObject(o, "init_weight_norm", wn[i]);
        cJSON_AddNumberToObject(o, "init_grad_norm", gn0[i]);
        if (!s->nan_found) cJSON_AddNumberToObject(o, "trained_grad_norm", isfinite(gn1[i]) ? gn1[i] : -1);
        if (isfinite(lr[i])) cJSON_AddNumberToObject(o, "update_ratio_log10", lr[i]);
        cJSON_AddItemToArray(params, o);
    }
    dt_report_metric_json(s->rep, "params", params);
done:
    free(buf);
    free(ratio_steps);
    free(twins0);
    return st;
}
