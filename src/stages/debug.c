/* The debug stage ("get your model to run", Tobin): the common silent bugs
 * of data and model, checked on the configured model before any real
 * training.  This file runs the stage and holds the data checks; the model
 * checks are in debug_model.c.  Rules and sources: docs/findings.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "debug_internal.h"

/* Class counts / duplicates thresholds (docs/findings.md). */
#define IMBALANCE_RATIO 10.0        /* SageMaker ClassImbalance threshold_imbalance */
#define IMBALANCE_PERPLEXITY 0.5    /* TheDeepChecker: normalized label perplexity */
#define OVERLAP_ERROR_SHARE 0.05    /* Deepchecks TrainTestSamplesMix max_ratio */
/* Input scale (per channel / feature over the fed batch). */
#define INPUT_MEAN_MAX 1.0
#define INPUT_STD_MIN 0.2
#define INPUT_STD_MAX 5.0
#define INPUT_ABS_MAX 10.0
#define INPUT_ABS_ERROR 100.0       /* raw, unnormalized: two decades beyond unit scale */

void dbg_check(dbg_state *s, const char *name, double value, double threshold, int passed)
{
    if (!s->checks) return;
    cJSON *c = cJSON_CreateObject();
    if (!c) return;
    cJSON_AddNumberToObject(c, "value", isfinite(value) ? value : 0.0);
    if (!isfinite(value)) cJSON_AddStringToObject(c, "value_text", isnan(value) ? "nan" : "inf");
    cJSON_AddNumberToObject(c, "threshold", threshold);
    cJSON_AddBoolToObject(c, "passed", passed);
    cJSON_DeleteItemFromObjectCaseSensitive(s->checks, name);
    cJSON_AddItemToObject(s->checks, name, c);
}

/* ------------------------------------------------------------- labels */

void dbg_check_labels(dbg_state *s)
{
    const dt_data *d = s->d;
    if (!s->classes) return;
    int C = s->classes;
    const size_t *cc = d->profile.class_count;
    size_t bad = 0, unseen = 0, total = 0;
    double bad_label = 0;
    int bad_split = -1, unseen_class = -1, unseen_split = -1;
    for (int sp = 0; sp < DT_SPLIT_COUNT; sp++) {
        size_t n = dt_data_split_size(d, (dt_split_id)sp);
        total += n;
        for (size_t i = 0; i < n; i++) {
            float y = dt_data_label(d, (dt_split_id)sp, i);
            if (!isfinite(y) || y != floorf(y) || y < 0 || y >= (float)C) {
                if (!bad++) { bad_label = y; bad_split = sp; }
            }
        }
        /* Classes an evaluation split holds but the model never trains on. */
        if (sp != DT_SPLIT_TRAIN && cc)
            for (int c = 0; c < C; c++)
                if (cc[(size_t)sp * (size_t)C + (size_t)c] && !cc[(size_t)DT_SPLIT_TRAIN * (size_t)C + (size_t)c]) {
                    if (unseen_class < 0) { unseen_class = c; unseen_split = sp; }
                    unseen += cc[(size_t)sp * (size_t)C + (size_t)c];
                }
    }
    dbg_check(s, "labels_out_of_range", (double)(bad + unseen), 0, bad + unseen == 0);
    if (bad) {
        dt_finding *f = dt_report_finding(s->rep, "labels-out-of-range", DT_SEV_ERROR,
                                          "%zu label%s outside the class ids 0..%d or not integers (first: %g in %s)",
                                          bad, bad == 1 ? " is" : "s are", C - 1, (double)bad_label,
                                          dt_split_name((dt_split_id)bad_split));
        dt_finding_evidence(f, "count", (double)bad);
        dt_finding_evidence(f, "classes", C);
        if (isfinite(bad_label)) dt_finding_evidence(f, "first_label", bad_label);
        dt_finding_evidence_str(f, "first_split", dt_split_name((dt_split_id)bad_split));
        dt_finding_suggest(f, "check the label column (data.csv.label) and the label encoding: class ids must be "
                              "integers 0..C-1");
        dt_finding_suggest(f, "remap or drop the offending labels before training");
    }
    if (unseen) {
        int orig = dt_data_original_class(d, unseen_class);
        dt_finding *f = dt_report_finding(
            s->rep, "labels-out-of-range", DT_SEV_ERROR,
            "%zu %s sample%s labelled with class %d (and possibly others) that never occurs in the train split: "
            "the model cannot learn %s",
            unseen, dt_split_name((dt_split_id)unseen_split), unseen == 1 ? " is" : "s are", orig,
            unseen == 1 ? "it" : "them");
        dt_finding_evidence(f, "count", (double)unseen);
        dt_finding_evidence(f, "class", orig);
        dt_finding_evidence(f, "classes", C);
        dt_finding_evidence(f, "share", total ? (double)unseen / (double)total : 0.0);
        dt_finding_evidence_str(f, "split", dt_split_name((dt_split_id)unseen_split));
        dt_finding_suggest(f, "check that train and test files use the same label encoding (class ids)");
        dt_finding_suggest(f, "add training samples of the missing class, or drop the class from the test "
                              "data (data.subset.classes)");
    }
}

/* ---------------------------------------------------------- imbalance */

void dbg_check_imbalance(dbg_state *s)
{
    if (!s->classes || s->classes < 2 || !s->d->profile.class_count) return;
    /* Next-character labels follow the language's letter frequencies: skewed
     * by nature, not a sampling problem to fix. */
    if (s->d->format == DT_FORMAT_TEXT) {
        dbg_check(s, "class_imbalance", 0, 0, 1);
        return;
    }
    int C = s->classes;
    const size_t *cnt = s->d->profile.class_count + (size_t)DT_SPLIT_TRAIN * (size_t)C;
    /* Classes absent from train are labels-out-of-range's business (when
     * evaluation data holds them) or unused ids: only present classes count. */
    size_t mx = 0, mn = (size_t)-1, n = 0;
    int cmax = 0, cmin = 0, present = 0;
    for (int c = 0; c < C; c++) {
        if (!cnt[c]) continue;
        present++;
        n += cnt[c];
        if (cnt[c] > mx) { mx = cnt[c]; cmax = c; }
        if (cnt[c] < mn) { mn = cnt[c]; cmin = c; }
    }
    if (present < 2) return;
    double h = 0.0;
    for (int c = 0; c < C; c++)
        if (cnt[c]) {
            double p = (double)cnt[c] / (double)n;
            h -= p * log(p);
        }
    double perplexity = exp(h) / present, ratio = (double)mx / (double)mn;
    int ratio_bad = ratio >= IMBALANCE_RATIO, perp_bad = perplexity < IMBALANCE_PERPLEXITY;
    dbg_check(s, "class_imbalance_ratio", ratio, IMBALANCE_RATIO, !ratio_bad);
    dbg_check(s, "label_perplexity", perplexity, IMBALANCE_PERPLEXITY, !perp_bad);
    if (!ratio_bad && !perp_bad) return;
    dt_finding *f = dt_report_finding(s->rep, "class-imbalance", DT_SEV_WARNING,
                                      "train classes are imbalanced: class %d has %zu samples, class %d only %zu "
                                      "(%.1f:1); normalized label perplexity %.2f",
                                      dt_data_original_class(s->d, cmax), mx, dt_data_original_class(s->d, cmin), mn,
                                      ratio, perplexity);
    dt_finding_evidence(f, "max_count", (double)mx);
    dt_finding_evidence(f, "min_count", (double)mn);
    dt_finding_evidence(f, "ratio", ratio);
    dt_finding_evidence(f, "normalized_perplexity", perplexity);
    dt_finding_evidence(f, "ratio_threshold", IMBALANCE_RATIO);
    dt_finding_evidence(f, "perplexity_threshold", IMBALANCE_PERPLEXITY);
    dt_finding_suggest(f, "judge the model per class, not by overall error alone (decompose reports per_class)");
    dt_finding_suggest(f, "initialise the output bias to the log class prior so the loss starts at the prior "
                          "(Karpathy: init well)");
    dt_finding_suggest(f, "rebalance the train data: oversample the rare classes or collect more of them");
}

/* ------------------------------------------------------------ overlap */

void dbg_check_overlap(dbg_state *s)
{
    const dt_data *d = s->d;
    const dt_data_profile *p = &d->profile;
    size_t n_test = d->count[DT_SPLIT_TEST_VAL] + d->count[DT_SPLIT_TEST];
    double share = n_test ? (double)p->duplicates / (double)n_test : 0.0;
    dbg_check(s, "train_test_overlap_share", share, OVERLAP_ERROR_SHARE, p->duplicates == 0);
    if (!p->duplicates) return;
    int err = share > OVERLAP_ERROR_SHARE;
    dt_finding *f = dt_report_finding(s->rep, "train-test-overlap", err ? DT_SEV_ERROR : DT_SEV_WARNING,
                                      "%zu of %zu test samples (%.1f%%) are exact copies of train samples: test "
                                      "error will be optimistic",
                                      p->duplicates, n_test, 100.0 * share);
    dt_finding_evidence(f, "count", (double)p->duplicates);
    dt_finding_evidence(f, "test_samples", (double)n_test);
    dt_finding_evidence(f, "share", share);
    dt_finding_evidence(f, "error_share", OVERLAP_ERROR_SHARE);
    char ex[512] = "";
    size_t len = 0;
    for (int i = 0; i < p->n_dup_examples && len < sizeof ex - 1; i++)
        len += (size_t)snprintf(ex + len, sizeof ex - len, "%s%s row %zu = train row %zu", i ? "; " : "",
                                dt_split_name(p->dup_examples[i].split), p->dup_examples[i].row,
                                p->dup_examples[i].train_row);
    dt_finding_evidence_str(f, "examples", ex);
    dt_finding_suggest(f, "remove the duplicated samples from the test data (or from train)");
    dt_finding_suggest(f, "check that the train and test files are different and that no preprocessing step "
                          "copies rows between them");
}

/* ------------------------------------------------------------- inputs */

/* One model input's batch (x: n samples of field fi). */
void dbg_check_inputs(dbg_state *s, int input, const float *x, size_t n)
{
    const dt_data *d = s->d;
    int fi = s->m->field[input];
    const dt_field *fd = dt_data_field(d, fi);
    if (fd->tokens || !n) return; /* token ids are looked up, not scaled */
    const char *name = s->m->spec.inputs[input].name;
    int G = fd->n_norm > 0 ? fd->n_norm : 1;
    size_t D = fd->sample_dim, div = fd->norm_div ? fd->norm_div : 1;
    double *sum = calloc((size_t)G, sizeof *sum), *sq = calloc((size_t)G, sizeof *sq);
    double *amax = calloc((size_t)G, sizeof *amax);
    size_t *cnt = calloc((size_t)G, sizeof *cnt);
    if (!sum || !sq || !amax || !cnt) goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < D; e++) {
            double v = x[i * D + e];
            if (!isfinite(v)) continue; /* nan-or-inf reports these */
            int gi = (int)((e / div) % (size_t)G);
            sum[gi] += v;
            sq[gi] += v * v;
            if (fabs(v) > amax[gi]) amax[gi] = fabs(v);
            cnt[gi]++;
        }
    int normalized = fd->normalized, off = 0, worst = -1, large = 0;
    double worst_score = 0, worst_mean = 0, worst_std = 0, max_abs = 0, max_mean = 0;
    for (int gi = 0; gi < G; gi++) {
        if (!cnt[gi]) continue;
        double m = sum[gi] / (double)cnt[gi], var = sq[gi] / (double)cnt[gi] - m * m;
        double sd = sqrt(var > 0 ? var : 0);
        if (amax[gi] > max_abs) max_abs = amax[gi];
        if (fabs(m) > max_mean) max_mean = fabs(m);
        /* With data.normalize on, train statistics already standardize every
         * feature: only a batch far from 0/1 (broken normalization) counts;
         * heavy tails and rare features are left alone. */
        int bad = fabs(m) > INPUT_MEAN_MAX || sd > INPUT_STD_MAX;
        if (!normalized) bad |= (sd > 0 && sd < INPUT_STD_MIN) || amax[gi] > INPUT_ABS_MAX;
        if (!normalized && amax[gi] >= INPUT_ABS_ERROR) large = 1;
        /* How far off, in decades, for naming the worst group. */
        double score = fmax(fabs(m), fmax(sd, amax[gi] / INPUT_ABS_MAX));
        if (sd > 0 && sd < INPUT_STD_MIN) score = fmax(score, INPUT_STD_MIN / sd);
        if (bad) {
            off++;
            if (worst < 0 || score > worst_score) { worst = gi; worst_score = score; worst_mean = m; worst_std = sd; }
        }
    }
    /* One input keeps the historic check names; several get a suffix each. */
    char k1[96], k2[96], k3[96], who[64] = "";
    int many = s->m->n_inputs > 1;
    snprintf(k1, sizeof k1, "input_max_abs%s%s", many ? "." : "", many ? name : "");
    snprintf(k2, sizeof k2, "input_max_abs_mean%s%s", many ? "." : "", many ? name : "");
    snprintf(k3, sizeof k3, "input_groups_off_scale%s%s", many ? "." : "", many ? name : "");
    if (many) snprintf(who, sizeof who, " of input '%.40s'", name);
    dbg_check(s, k1, max_abs, normalized ? INPUT_ABS_ERROR : INPUT_ABS_MAX,
              off == 0 || (normalized && max_abs < INPUT_ABS_ERROR));
    dbg_check(s, k2, max_mean, INPUT_MEAN_MAX, max_mean <= INPUT_MEAN_MAX);
    dbg_check(s, k3, off, 0, off == 0);
    if (!off) goto done;
    const char *unit = fd->modality == DT_MODALITY_IMAGE ? "channel" : "feature";
    dt_finding *f = dt_report_finding(
        s->rep, "inputs-not-normalized", large ? DT_SEV_ERROR : DT_SEV_WARNING,
        "the inputs%s fed to the model are not on unit scale: %d of %d %ss off (worst: %s %d with mean %.3g, std "
        "%.3g, max |x| %.3g)%s",
        who, off, G, unit, unit, worst, worst_mean, worst_std, amax[worst],
        normalized ? "" : "; data.normalize is false");
    if (many) dt_finding_evidence_str(f, "input", name);
    dt_finding_evidence(f, "groups_off", off);
    dt_finding_evidence(f, "groups", G);
    dt_finding_evidence(f, "worst_index", worst);
    dt_finding_evidence(f, "worst_mean", worst_mean);
    dt_finding_evidence(f, "worst_std", worst_std);
    dt_finding_evidence(f, "worst_max_abs", amax[worst]);
    dt_finding_evidence(f, "max_abs", max_abs);
    dt_finding_evidence(f, "normalize", normalized);
    const dt_field_profile *fp = &d->profile.fields[fi];
    if (fp->min && fp->max && worst < fp->n_stats) {
        dt_finding_evidence(f, "raw_min", fp->min[worst]);
        dt_finding_evidence(f, "raw_max", fp->max[worst]);
    }
    if (!normalized) dt_finding_suggest(f, "set data.normalize: true (standardize with train-split statistics)");
    if (fd->modality == DT_MODALITY_IMAGE)
        dt_finding_suggest(f, "or scale pixels to [0, 1] or [-0.5, 0.5] before training (Tobin)");
    dt_finding_suggest(f, "look for outliers or a wrong unit in %s %d", unit, worst);
    if (normalized)
        dt_finding_suggest(f, "the normalized batch is far from mean 0 / std 1: check that the train split "
                              "represents the data");
done:
    free(sum);
    free(sq);
    free(amax);
    free(cnt);
}

/* -------------------------------------------------------------- stage */

dt_status dt_stage_debug(dt_stage_ctx *ctx, dt_report *rep)
{
    dt_data *d = NULL;
    dt_status st = dt_stage_prepare(ctx, &d);
    if (st) return st;
    dbg_state s = {.ctx = ctx, .cfg = ctx->cfg, .d = d, .rep = rep, .classes = dt_stage_classes(d)};
    size_t n_train = dt_data_split_size(d, DT_SPLIT_TRAIN);
    s.B = (size_t)ctx->cfg->train.batch_size < n_train ? (size_t)ctx->cfg->train.batch_size : n_train;
    s.checks = cJSON_CreateObject();
    s.rows = malloc((s.B ? s.B : 1) * sizeof *s.rows);
    if (!s.checks || !s.rows) {
        cJSON_Delete(s.checks);
        free(s.rows);
        return dt_fail(DT_ENOMEM, "debug: out of memory");
    }
    /* A seeded random sample: split rows may be ordered by class. */
    size_t *perm = malloc((n_train ? n_train : 1) * sizeof *perm);
    if (!perm) {
        cJSON_Delete(s.checks);
        free(s.rows);
        return dt_fail(DT_ENOMEM, "debug: out of memory");
    }
    dt_rng rng;
    dt_rng_seed(&rng, ctx->cfg->seed ^ 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < n_train; i++) perm[i] = i;
    for (size_t i = 0; i < s.B; i++) {
        size_t j = i + (size_t)dt_rng_below(&rng, n_train - i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        s.rows[i] = perm[i];
    }
    free(perm);
    dt_report_metric(rep, "batch_size", (double)s.B);
    dt_report_metric_str(rep, "arch", dt_arch_name(ctx->cfg->model.arch));

    dbg_check_labels(&s);
    dbg_check_imbalance(&s);
    dbg_check_overlap(&s);

    st = dt_stage_build_model(ctx->cfg, d, (int)s.B, &s.m);
    if (!st) st = dt_model_load_batch(s.m, d, DT_SPLIT_TRAIN, s.rows, s.B);
    if (!st) {
        for (int i = 0; i < s.m->n_inputs; i++) dbg_check_inputs(&s, i, s.m->inputs[i]->val, s.B);
        dbg_desc_checks(&s);
        st = dbg_model_checks(&s);
    }
    dt_report_metric_json(rep, "checks", s.checks);
    dt_model_free(s.m);
    free(s.rows);
    return st;
}
