/* decompose: checks of the trained model's out-of-sample predictions and of
 * its training curve — labels that look wrong (confident learning, with the
 * nearest neighbours as a second opinion), class ids that behave like a
 * number, training stopped while validation error still fell, validation
 * error swinging between epochs.  Rules and thresholds: docs/findings.md
 * "## decompose". */
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_analysis.h"

/* label-noise: the estimated share of wrong labels must exceed this, by more
 * than DT_EA_NOISE_Z standard errors.  Curated benchmarks hold 3-6% wrong
 * labels by this very method (Northcutt, Athalye & Mueller 2021: at least
 * 3.3% on average over ten test sets, at least 6% of ImageNet's validation
 * set), so 10% is well past what careful labelling leaves. */
#define LABEL_NOISE_SHARE 0.10
/* Out-of-sample rows needed before an estimate is worth reporting. */
#define LABEL_NOISE_MIN_ROWS 100
/* The second opinion that does not depend on the model: the majority label
 * of the KNN_K nearest train rows (normalized inputs, at most KNN_TRAIN_MAX
 * of them).  A weak or overfit model disagrees with clean labels where it is
 * wrong; the neighbours do not. */
#define KNN_K 10
#define KNN_TRAIN_MAX 2000
#define KNN_BLOCK 256               /* queries per sgemm */
/* loss-task-mismatch (numeric target read as classes): the mean distance
 * between true and predicted label values of the errors, against the mean
 * distance between two different labels drawn from the class frequencies.
 * Errors on nominal classes land anywhere (ratio ~1); on a quantity they
 * land next door (ratio ~3/(C+1) for off-by-one errors). */
#define ORDINAL_MIN_CLASSES 10
#define ORDINAL_MIN_ERRORS 30
#define ORDINAL_RATIO 0.5
/* not-converged: the last NC_WINDOW epochs of the validation error. */
#define NC_WINDOW 5
/* training-oscillates (AUTOTRAINER "unstable"): peak-to-trough swings of at
 * least OSC_SWING in at least OSC_SHARE of the epochs. */
#define OSC_SWING 0.03
#define OSC_SHARE 0.2
#define OSC_MIN_EPOCHS 5

/* Batch rows -> their softmax probabilities, at row `start` of p (n x K). */
static void probs_rows(void *ctx, const dt_model *m, size_t start, size_t k)
{
    size_t K = (size_t)m->out->shape[1];
    for (size_t i = 0; i < k; i++) {
        const float *z = m->out->val + i * K;
        float *q = (float *)ctx + (start + i) * K;
        if (m->output_softmax) {
            memcpy(q, z, K * sizeof *q);
            continue;
        }
        double mx = z[0], sum = 0;
        for (size_t j = 1; j < K; j++) mx = fmax(mx, z[j]);
        for (size_t j = 0; j < K; j++) sum += exp(z[j] - mx);
        for (size_t j = 0; j < K; j++) q[j] = (float)(exp(z[j] - mx) / sum);
    }
}

/* Softmax probabilities of every row of split s (n x K, malloc'd). */
static dt_status split_probs(dt_model *m, const dt_data *d, dt_split_id s, float **out)
{
    size_t n = dt_data_split_size(d, s), K = (size_t)m->out->shape[1];
    float *p = malloc((n ? n : 1) * K * sizeof *p);
    *out = NULL;
    if (!p) return dt_fail(DT_ENOMEM, "label checks: out of memory");
    dt_status st = dt_model_forward_split(m, d, s, m->out, NULL, NULL, probs_rows, p);
    if (st) free(p);
    else *out = p;
    return st;
}

/* Normalized inputs of rows[0..n) of split s, every non-token field side by
 * side (n x D, malloc'd); D = 0 when every field is token ids. */
static float *inputs_of(const dt_data *d, dt_split_id s, const size_t *rows, size_t n, size_t *D_out)
{
    size_t D = 0;
    for (int f = 0; f < dt_data_n_fields(d); f++)
        if (!dt_data_field(d, f)->tokens) D += dt_data_field(d, f)->sample_dim;
    *D_out = D;
    if (!D) return NULL;
    float *x = malloc(n * D * sizeof *x), *tmp = NULL;
    if (!x) return NULL;
    size_t at = 0;
    for (int f = 0; f < dt_data_n_fields(d); f++) {
        const dt_field *fd = dt_data_field(d, f);
        if (fd->tokens) continue;
        size_t F = fd->sample_dim;
        tmp = realloc(tmp, n * F * sizeof *tmp);
        if (!tmp) { free(x); return NULL; }
        dt_data_batch_field(d, s, f, rows, n, tmp);
        for (size_t r = 0; r < n; r++) memcpy(x + r * D + at, tmp + r * F, F * sizeof *x);
        at += F;
    }
    free(tmp);
    return x;
}

/* inputs_of over every row of splits[0..n_splits) in turn (n rows in all). */
static float *heldout_inputs(const dt_data *d, const dt_split_id *splits, int n_splits, size_t n, size_t *D)
{
    size_t *rows = malloc((n ? n : 1) * sizeof *rows), at = 0;
    float *x = NULL;
    *D = 0;
    for (int i = 0; i < n_splits && rows; i++) {
        size_t ns = dt_data_split_size(d, splits[i]), Ds = 0;
        if (!ns) continue;
        for (size_t r = 0; r < ns; r++) rows[r] = r;
        float *xs = inputs_of(d, splits[i], rows, ns, &Ds);
        if (!xs) break;
        if (!x) x = malloc(n * Ds * sizeof *x);
        if (!x) { free(xs); break; }
        memcpy(x + at * Ds, xs, ns * Ds * sizeof *x);
        free(xs);
        *D = Ds;
        at += ns;
    }
    free(rows);
    if (at != n) {
        free(x);
        return NULL;
    }
    return x;
}

/* Share of the held-out rows (xq, labels y) whose KNN_K nearest train rows
 * vote for another label; -1 when it cannot be measured. */
static double knn_disagreement(const dt_data *d, const float *xq, const int *y, size_t n, size_t D, int K)
{
    size_t nt = dt_data_split_size(d, DT_SPLIT_TRAIN), m = nt < KNN_TRAIN_MAX ? nt : KNN_TRAIN_MAX;
    if (m < KNN_K || !D) return -1;
    size_t *rows = malloc(m * sizeof *rows);
    if (!rows) return -1;
    for (size_t i = 0; i < m; i++) rows[i] = i * nt / m;   /* spread over the split, deterministic */
    size_t Dt = 0;
    float *xt = inputs_of(d, DT_SPLIT_TRAIN, rows, m, &Dt);
    float *dot = malloc(KNN_BLOCK * m * sizeof *dot), *nn = malloc(m * sizeof *nn);
    int *yt = malloc(m * sizeof *yt), *votes = calloc((size_t)K, sizeof *votes);
    double share = -1;
    if (!xt || Dt != D || !dot || !nn || !yt || !votes) goto done;
    for (size_t j = 0; j < m; j++) {
        nn[j] = cblas_sdot((int)D, xt + j * D, 1, xt + j * D, 1);
        int c = (int)dt_data_label(d, DT_SPLIT_TRAIN, rows[j]);
        yt[j] = c >= 0 && c < K ? c : 0;
    }
    size_t wrong = 0;
    for (size_t r0 = 0; r0 < n; r0 += KNN_BLOCK) {
        size_t b = n - r0 < KNN_BLOCK ? n - r0 : KNN_BLOCK;
        /* |q - t|^2 = |t|^2 - 2 q.t + |q|^2; the last term ranks nothing. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)m, (int)D, -2.0f, xq + r0 * D, (int)D, xt,
                    (int)D, 0.0f, dot, (int)m);
        for (size_t q = 0; q < b; q++) {
            float *dq = dot + q * m;
            for (size_t j = 0; j < m; j++) dq[j] += nn[j];
            int best[KNN_K];
            for (int k = 0; k < KNN_K; k++) {
                size_t bj = 0;
                for (size_t j = 1; j < m; j++)
                    if (dq[j] < dq[bj]) bj = j;
                best[k] = (int)bj;
                dq[bj] = INFINITY;
            }
            memset(votes, 0, (size_t)K * sizeof *votes);
            for (int k = 0; k < KNN_K; k++) votes[yt[best[k]]]++;
            int top = 0;
            for (int c = 1; c < K; c++) if (votes[c] > votes[top]) top = c;
            wrong += votes[top] > votes[y[r0 + q]];
        }
    }
    share = (double)wrong / (double)n;
done:
    free(rows);
    free(xt);
    free(dot);
    free(nn);
    free(yt);
    free(votes);
    return share;
}

/* Confident learning (Northcutt, Jiang & Chuang 2021): per class j the
 * threshold t_j = mean predicted p_j over the rows labelled j; a row
 * labelled i is a likely label error when p_i < t_i and p_k >= t_k for some
 * other class k.  Also the ordinal test of the errors (see ORDINAL_*). */
static void judge_labels(const dt_data *d, const float *p, const int *y, size_t n, int K, const char *splits,
                         int unfinished, double knn, dt_report *rep)
{
    double *t = calloc((size_t)K, sizeof *t);
    size_t *cnt = calloc((size_t)K, sizeof *cnt);
    size_t *flag_to = calloc((size_t)K, sizeof *flag_to);
    if (!t || !cnt || !flag_to) goto done;
    for (size_t r = 0; r < n; r++) {
        t[y[r]] += p[r * (size_t)K + (size_t)y[r]];
        cnt[y[r]]++;
    }
    for (int j = 0; j < K; j++) t[j] = cnt[j] ? t[j] / (double)cnt[j] : INFINITY;
    size_t flagged = 0, errors = 0;
    double dist = 0;
    for (size_t r = 0; r < n; r++) {
        const float *q = p + r * (size_t)K;
        int i = y[r], best = -1, pred = 0;
        for (int j = 0; j < K; j++) {
            if (q[j] > q[pred]) pred = j;
            if (j != i && q[j] >= t[j] && (best < 0 || q[j] > q[best])) best = j;
        }
        if (q[i] < t[i] && best >= 0) {
            flagged++;
            flag_to[best]++;
        }
        if (pred != i) {
            errors++;
            dist += fabs((double)dt_data_original_class(d, pred) - dt_data_original_class(d, i));
        }
    }
    double share = (double)flagged / (double)n;
    double se = sqrt(fmax(share * (1 - share), 1.0 / (double)n) / (double)n);
    double margin = DT_EA_NOISE_Z * se;
    cJSON *est = cJSON_CreateObject();
    cJSON_AddNumberToObject(est, "estimated_share", share);
    cJSON_AddNumberToObject(est, "flagged", (double)flagged);
    cJSON_AddNumberToObject(est, "rows", (double)n);
    cJSON_AddNumberToObject(est, "se", se);
    cJSON_AddStringToObject(est, "splits", splits);
    /* A model still learning is wrong where it has not learnt yet, not
     * where the labels are: its disagreements say nothing about them. */
    cJSON_AddBoolToObject(est, "judged", !unfinished);
    double knn_margin = knn >= 0 ? DT_EA_NOISE_Z * sqrt(fmax(knn * (1 - knn), 1.0 / (double)n) / (double)n) : 0;
    if (knn >= 0) cJSON_AddNumberToObject(est, "neighbour_disagreement", knn);
    dt_report_metric_json(rep, "label_noise", est);
    /* The neighbours must not contradict the model (when they can be asked). */
    int neighbours_agree = knn < 0 || knn - knn_margin > LABEL_NOISE_SHARE;
    if (!unfinished && neighbours_agree && n >= LABEL_NOISE_MIN_ROWS && share - margin > LABEL_NOISE_SHARE) {
        int to = 0;
        for (int j = 1; j < K; j++) if (flag_to[j] > flag_to[to]) to = j;
        char knn_words[96] = "";
        if (knn >= 0)
            snprintf(knn_words, sizeof knn_words, "; the %d nearest train rows vote against %.0f%% of those labels",
                     KNN_K, 100 * knn);
        dt_finding *f = dt_report_finding(
            rep, "label-noise", DT_SEV_WARNING,
            "about %.0f%% of the labels look wrong (%zu of %zu out-of-sample rows of %s, +-%.1f%%): the trained "
            "model confidently prefers another class to the given one (confident learning)%s",
            100 * share, flagged, n, splits, 100 * margin, knn_words);
        dt_finding_evidence(f, "estimated_share", share);
        dt_finding_evidence(f, "flagged", (double)flagged);
        dt_finding_evidence(f, "rows", (double)n);
        dt_finding_evidence(f, "margin", margin);
        dt_finding_evidence(f, "threshold", LABEL_NOISE_SHARE);
        dt_finding_evidence(f, "most_flagged_towards_class", dt_data_original_class(d, to));
        if (knn >= 0) dt_finding_evidence(f, "neighbour_disagreement", knn);
        dt_finding_suggest(f, "look at the top-loss rows (error_analysis.*.top_losses): are their labels right?");
        dt_finding_suggest(f, "fix or drop the mislabelled rows, or relabel a sample to measure the noise");
        dt_finding_suggest(f, "check the label pipeline: label column (data.csv.label), class order, rows and labels "
                              "shuffled separately");
        dt_finding_suggest(f, "when the labels are right, the model is too weak to tell: see high-bias");
    }
    /* Cross-entropy on a quantity: errors that land next to the truth. */
    if (K < ORDINAL_MIN_CLASSES || errors < ORDINAL_MIN_ERRORS) goto done;
    double pair = 0, mass = 0;
    for (int a = 0; a < K; a++)
        for (int b = 0; b < K; b++)
            if (a != b && cnt[a] && cnt[b]) {
                double w = (double)cnt[a] * (double)cnt[b];
                pair += w * fabs((double)dt_data_original_class(d, a) - dt_data_original_class(d, b));
                mass += w;
            }
    if (mass <= 0) goto done;
    double mean_err = dist / (double)errors, mean_pair = pair / mass, ratio = mean_err / mean_pair;
    dt_report_metric(rep, "error_label_distance_ratio", ratio);
    if (ratio >= ORDINAL_RATIO) goto done;
    dt_finding *f = dt_report_finding(
        rep, "loss-task-mismatch", DT_SEV_WARNING,
        "the %d classes behave like a number: misclassified rows are off by %.2f label units on average, against "
        "%.2f between two random labels (ratio %.2f < %.2f): this looks like a regression target trained with "
        "cross_entropy",
        K, mean_err, mean_pair, ratio, ORDINAL_RATIO);
    dt_finding_evidence_str(f, "task", "classification");
    dt_finding_evidence_str(f, "loss", "cross_entropy");
    dt_finding_evidence(f, "classes", K);
    dt_finding_evidence(f, "mean_error_distance", mean_err);
    dt_finding_evidence(f, "mean_label_distance", mean_pair);
    dt_finding_evidence(f, "ratio", ratio);
    dt_finding_evidence(f, "threshold", ORDINAL_RATIO);
    dt_finding_suggest(f, "if the label is a quantity, set task: regression (loss: mse): cross_entropy counts an "
                          "off-by-one prediction as wrong as any other");
    dt_finding_suggest(f, "if the classes are ordered categories, keep classification but judge the errors by "
                          "distance (confusion_matrix)");
done:
    free(t);
    free(cnt);
    free(flag_to);
}

dt_status dt_ea_check_labels(const dt_config *cfg, dt_model *m, const dt_data *d, int test_from_train, int unfinished,
                             dt_report *rep)
{
    (void)cfg;
    if (d->task != DT_TASK_CLASSIFICATION || m->spec.loss != DT_LOSS_CROSS_ENTROPY) return DT_OK;
    int K = m->out->shape[1];
    if (K < 2) return DT_OK;
    /* Rows the model never trained on; test rows only when they come from
     * the train distribution (otherwise shift would read as noise). */
    dt_split_id splits[3] = {DT_SPLIT_TRAIN_VAL, DT_SPLIT_TEST_VAL, DT_SPLIT_TEST};
    int n_splits = test_from_train ? 3 : 1;
    size_t n = 0;
    for (int i = 0; i < n_splits; i++) n += dt_data_split_size(d, splits[i]);
    if (!n) return DT_OK;
    float *p = malloc(n * (size_t)K * sizeof *p);
    int *y = malloc(n * sizeof *y);
    if (!p || !y) {
        free(p);
        free(y);
        return dt_fail(DT_ENOMEM, "label checks: out of memory");
    }
    size_t at = 0;
    dt_status st = DT_OK;
    for (int i = 0; i < n_splits && !st; i++) {
        float *q = NULL;
        size_t ns = dt_data_split_size(d, splits[i]);
        if (!ns) continue;
        st = split_probs(m, d, splits[i], &q);
        if (st) break;
        memcpy(p + at * (size_t)K, q, ns * (size_t)K * sizeof *p);
        for (size_t r = 0; r < ns; r++) {
            int c = (int)dt_data_label(d, splits[i], r);
            y[at + r] = c >= 0 && c < K ? c : 0;
        }
        at += ns;
        free(q);
    }
    /* The neighbours' vote, only when the model's is judged. */
    double knn = -1;
    if (!st && !unfinished) {
        size_t D = 0;
        float *xq = heldout_inputs(d, splits, n_splits, n, &D);
        if (xq) knn = knn_disagreement(d, xq, y, n, D, K);
        free(xq);
    }
    if (!st) judge_labels(d, p, y, n, K, test_from_train ? "train_val+test_val+test" : "train_val", unfinished, knn,
                          rep);
    free(p);
    free(y);
    return st;
}

/* Least-squares slope (per epoch) of v[0..n) and its standard error. */
static void slope_of(const double *v, int n, double *slope, double *se)
{
    double mx = (n - 1) / 2.0, my = 0, sxx = 0, sxy = 0, rss = 0;
    for (int i = 0; i < n; i++) my += v[i];
    my /= n;
    for (int i = 0; i < n; i++) {
        sxx += (i - mx) * (i - mx);
        sxy += (i - mx) * (v[i] - my);
    }
    *slope = sxx > 0 ? sxy / sxx : 0;
    for (int i = 0; i < n; i++) {
        double e = v[i] - my - *slope * (i - mx);
        rss += e * e;
    }
    *se = n > 2 && sxx > 0 ? sqrt(rss / (n - 2) / sxx) : INFINITY;
}

int dt_ea_check_convergence(const dt_fit_result *fr, const dt_ea_curve *c, const dt_data *d, dt_report *rep)
{
    size_t val_rows = dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    double scale = dt_ea_error_scale(d);
    int cls = d->task == DT_TASK_CLASSIFICATION;
    if (!val_rows || !c || c->truncated || c->n < 2 || fr->stopped_early || fr->diverged || fr->stopped_by_hook) return 0;
    int n = c->n, w = n < NC_WINDOW ? n : NC_WINDOW;
    for (int i = 0; i < n; i++)
        if (!isfinite(c->val_error[i])) return 0;
    const double *v = c->val_error + (n - w);
    /* The fall over the window must beat the noise of one measurement on
     * the validation split: a binomial SE at the current error (classification)
     * or 2% of the error scale (regression, whose row errors are not kept). */
    double last = v[w - 1], drop = v[0] - last, best = INFINITY;
    for (int i = 0; i < n; i++) best = fmin(best, c->val_error[i]);
    double noise = cls ? DT_EA_NOISE_Z * sqrt(fmax(last * (1 - last), 1.0 / (double)val_rows) / (double)val_rows)
                                : DT_EA_ABS_MARGIN * scale;
    double slope = 0, se = INFINITY;
    if (w >= 3) slope_of(v, w, &slope, &se);
    int at_best = last <= best;
    /* Still falling: best at the last epoch with a fall beyond noise over
     * the window, or a clearly negative slope over the window (when it has
     * at least 3 points). */
    int falling = (at_best && drop > noise) || (w >= 3 && slope < 0 && -slope * (w - 1) > noise && slope + 2 * se < 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "window", w);
    cJSON_AddNumberToObject(o, "val_error_drop", drop);
    cJSON_AddNumberToObject(o, "slope_per_epoch", slope);
    if (isfinite(se)) cJSON_AddNumberToObject(o, "slope_se", se);
    cJSON_AddNumberToObject(o, "noise", noise);
    cJSON_AddBoolToObject(o, "still_falling", falling);
    dt_report_metric_json(rep, "convergence", o);
    if (!falling) return 0;
    dt_finding *f = dt_report_finding(
        rep, "not-converged", DT_SEV_WARNING,
        "training stopped after %d epochs while the validation error was still falling: %.4f -> %.4f over the last %d "
        "epochs (%.4f per epoch; noise %.4f)%s",
        n, v[0], last, w, slope, noise, at_best ? ", best at the last epoch" : "");
    dt_finding_evidence(f, "epochs", n);
    dt_finding_evidence(f, "window", w);
    dt_finding_evidence(f, "val_error_start", v[0]);
    dt_finding_evidence(f, "val_error_end", last);
    dt_finding_evidence(f, "drop", drop);
    dt_finding_evidence(f, "slope_per_epoch", slope);
    dt_finding_evidence(f, "noise", noise);
    dt_finding_evidence(f, "best_epoch", fr->best_epoch);
    dt_finding_suggest(f, "train longer (train.epochs; early stopping keeps the best epoch)");
    dt_finding_suggest(f, "raise the learning rate (train.lr) if each epoch gains little");
    dt_finding_suggest(f, "judge bias and variance only after it converges: the terms above describe an unfinished "
                          "model");
    return 1;
}

void dt_ea_check_oscillation(const dt_ea_curve *c, const dt_data *d, dt_report *rep)
{
    size_t val_rows = dt_data_split_size(d, DT_SPLIT_TRAIN_VAL);
    if (!c || c->n < OSC_MIN_EPOCHS || !val_rows || d->task != DT_TASK_CLASSIFICATION) return;
    int n = c->n;
    for (int i = 0; i < n; i++)
        if (!isfinite(c->val_error[i])) return;
    /* A swing must also beat the noise of a validation error this size:
     * 2 binomial SEs at the curve's mean error. */
    double mean = 0;
    for (int i = 0; i < n; i++) mean += c->val_error[i];
    mean /= n;
    double noise = DT_EA_NOISE_Z * sqrt(fmax(mean * (1 - mean), 1.0 / (double)val_rows) / (double)val_rows);
    double swing_min = fmax(OSC_SWING, noise);
    /* Turning points (plateaus merged), then consecutive peak/trough pairs. */
    double ext[DT_EA_CURVE_MAX];
    int m = 0, dir = 0;
    ext[m++] = c->val_error[0];
    for (int i = 1; i < n; i++) {
        double dv = c->val_error[i] - c->val_error[i - 1];
        int sgn = dv > 0 ? 1 : dv < 0 ? -1 : 0;
        if (!sgn) continue;
        if (sgn == dir) ext[m - 1] = c->val_error[i];
        else ext[m++] = c->val_error[i];
        dir = sgn;
    }
    int swings = 0;
    double largest = 0;
    for (int i = 1; i < m; i++) {
        double sw = fabs(ext[i] - ext[i - 1]);
        largest = fmax(largest, sw);
        swings += sw >= swing_min;
    }
    /* The first move is the fall from the initial error, not a swing. */
    if (m > 1 && ext[1] < ext[0] && fabs(ext[1] - ext[0]) >= swing_min) swings--;
    double share = (double)swings / n;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "swings", swings);
    cJSON_AddNumberToObject(o, "epochs", n);
    cJSON_AddNumberToObject(o, "swing_threshold", swing_min);
    cJSON_AddNumberToObject(o, "largest_swing", largest);
    dt_report_metric_json(rep, "oscillation", o);
    if (share < OSC_SHARE || swings < 2) return;
    dt_finding *f = dt_report_finding(
        rep, "training-oscillates", DT_SEV_WARNING,
        "the validation error swings up and down during training: %d swings of at least %.3f in %d epochs (largest "
        "%.3f)",
        swings, swing_min, n, largest);
    dt_finding_evidence(f, "swings", swings);
    dt_finding_evidence(f, "epochs", n);
    dt_finding_evidence(f, "swing_threshold", swing_min);
    dt_finding_evidence(f, "largest_swing", largest);
    dt_finding_evidence(f, "share_threshold", OSC_SHARE);
    dt_finding_suggest(f, "lower the learning rate (train.lr)");
    dt_finding_suggest(f, "use larger batches (train.batch_size): tiny batches make noisy steps");
    dt_finding_suggest(f, "look at the data for corrupted or shuffled labels (Tobin: error oscillates)");
}
