/* lr-find's smoothing and the rules that read a suggestion off the
 * smoothed curve (docs/tune.md "lr-find" compares them). */
#include <math.h>
#include <stdlib.h>

#include "lr_find.h"

/* Chosen by measurement (docs/tune.md "lr-find"; tools/lr_find_bench.sh):
 * of the four rules, min/10 is the only one within 3x of a dense grid's
 * best lr on MNIST/LeNet, Fashion-MNIST/LeNet and the digits MLP for every
 * seed and every sweep setting tried; steepest and window jump by decades
 * between seeds when the curve is noisy or falls again after blowing up,
 * and valley starts in the flat noise at tiny lrs and lands 70-190x low. */
const dt_lr_rule dt_lr_find_rule = DT_LR_RULE_MIN10;

/* No suggestion unless the smoothed loss fell below this share of its
 * first value: a curve that never falls says nothing about a good lr. */
#define LR_FIND_FALL 0.9

static const char *const rule_names[DT_LR_RULE_COUNT] = {"steepest", "min/10", "valley", "window"};

const char *dt_lr_rule_name(dt_lr_rule r) { return r >= 0 && r < DT_LR_RULE_COUNT ? rule_names[r] : "?"; }

void dt_lr_smooth(const double *loss, int n, double beta, double *out)
{
    double avg = 0.0, corr = 1.0;
    for (int i = 0; i < n; i++) {
        avg = beta * avg + (1.0 - beta) * loss[i];
        corr *= beta;
        out[i] = avg / (1.0 - corr);
    }
}

int dt_lr_curve_min(const dt_lr_curve *c)
{
    int k = 0;
    for (int i = 1; i < c->n; i++)
        if (c->smoothed[i] < c->smoothed[k]) k = i;
    return k;
}

const char *dt_lr_curve_unusable(const dt_lr_curve *c)
{
    if (c->n < DT_LR_FIND_MIN_POINTS) return "the loss diverged within the first steps of the sweep";
    if (c->smoothed[dt_lr_curve_min(c)] >= LR_FIND_FALL * c->smoothed[0])
        return "the smoothed loss never fell below 90% of its first value";
    return NULL;
}

/* Steepest: the most negative central difference of the smoothed loss
 * against log lr, skipping the first tenth of the curve (where the
 * average is young), as Lightning skips its first 10 points. */
static int rule_steepest(const dt_lr_curve *c)
{
    int best = -1;
    double slope = 0.0;
    for (int i = c->n / 10 > 1 ? c->n / 10 : 1; i + 1 < c->n; i++) {
        double g = (c->smoothed[i + 1] - c->smoothed[i - 1]) / (log(c->lr[i + 1]) - log(c->lr[i - 1]));
        if (g < slope) {
            slope = g;
            best = i;
        }
    }
    return best;
}

/* The longest strictly decreasing subsequence of the smoothed loss (the
 * "valley", fastai's rule); the suggestion is the point halfway along it. */
static int rule_valley(const dt_lr_curve *c)
{
    int n = c->n, *len = malloc((size_t)n * sizeof *len), *start = malloc((size_t)n * sizeof *start);
    if (!len || !start) {
        free(len);
        free(start);
        return -1;
    }
    int end = 0;
    for (int i = 0; i < n; i++) {
        len[i] = 1;
        start[i] = i;
        for (int j = 0; j < i; j++)
            if (c->smoothed[j] > c->smoothed[i] && len[j] + 1 > len[i]) {
                len[i] = len[j] + 1;
                start[i] = start[j];
            }
        if (len[i] > len[end]) end = i;
    }
    int s = start[end];
    free(len);
    free(start);
    return end > s ? s + (end - s) / 2 : -1;
}

/* The window one decade wide over which the smoothed loss falls most; its centre. */
static int rule_window(const dt_lr_curve *c)
{
    int best = -1;
    double fall = 0.0;
    for (int i = 0, j = 0; i < c->n; i++) {
        if (j < i) j = i;
        while (j + 1 < c->n && c->lr[j] < 10.0 * c->lr[i]) j++;
        if (c->lr[j] < 10.0 * c->lr[i]) break;   /* no full decade left */
        double f = c->smoothed[i] - c->smoothed[j];
        if (f > fall) {
            fall = f;
            best = (i + j) / 2;
        }
    }
    return best;
}

int dt_lr_suggest(const dt_lr_curve *c, dt_lr_rule rule, double *lr)
{
    *lr = NAN;
    if (dt_lr_curve_unusable(c)) return -1;
    int k = -1;
    switch (rule) {
    case DT_LR_RULE_STEEPEST: k = rule_steepest(c); break;
    case DT_LR_RULE_VALLEY: k = rule_valley(c); break;
    case DT_LR_RULE_WINDOW: k = rule_window(c); break;
    case DT_LR_RULE_MIN10: {
        *lr = c->lr[dt_lr_curve_min(c)] / 10.0;
        k = 0;
        for (int i = 1; i < c->n; i++)
            if (fabs(log(c->lr[i] / *lr)) < fabs(log(c->lr[k] / *lr))) k = i;
        return k;
    }
    default: return -1;
    }
    if (k >= 0) *lr = c->lr[k];
    return k;
}

