/* The search space: drawing trials, coarse-to-fine narrowing, applying a
 * trial to a config, and the importance of each key (docs/tune.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune_runner.h"

const char *dt_trial_status_name(dt_trial_status s)
{
    return s == DT_TRIAL_OK ? "ok" : s == DT_TRIAL_SICK ? "sick" : s == DT_TRIAL_PRUNED ? "pruned" : "failed";
}

int dt_trial_result_cmp(const dt_trial_result *a, const dt_trial_result *b)
{
    int ao = a->status == DT_TRIAL_OK, bo = b->status == DT_TRIAL_OK;
    if (ao != bo) return ao ? -1 : 1;
    if (ao) {
        if (a->score != b->score) return a->score < b->score ? -1 : 1;
        if (a->val_loss != b->val_loss) {
            if (isnan(a->val_loss) != isnan(b->val_loss)) return isnan(a->val_loss) ? 1 : -1;
            return a->val_loss < b->val_loss ? -1 : 1;
        }
    }
    return (a->id > b->id) - (a->id < b->id);
}

int dt_trial_pruned_cmp(const dt_trial_result *x, const dt_trial_result *y)
{
    if (x->rung != y->rung) return x->rung > y->rung ? -1 : 1;
    int xs = isfinite(x->score), ys = isfinite(y->score);
    if (xs != ys) return xs ? -1 : 1;
    if (xs && x->score != y->score) return x->score < y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int dt_tune_round_size(int trials, int rounds, int r)
{
    if (rounds < 1) rounds = 1;
    return trials / rounds + (r < trials % rounds ? 1 : 0);
}

int dt_tune_round_start(int trials, int rounds, int r)
{
    int s = 0;
    for (int i = 0; i < r; i++) s += dt_tune_round_size(trials, rounds, i);
    return s;
}

static int is_log(const dt_space_param *p) { return p->kind == DT_SPACE_LOG_UNIFORM; }
/* Position of a value on the axis that is sampled uniformly. */
static double axis(const dt_space_param *p, double v) { return is_log(p) ? log(v) : v; }
static double unaxis(const dt_space_param *p, double a) { return is_log(p) ? exp(a) : a; }

void dt_tune_ranges_init(const dt_config *cfg, dt_tune_ranges *out)
{
    memset(out, 0, sizeof *out);
    out->n = cfg->stages.tune.n_space;
    for (int i = 0; i < out->n; i++) {
        const dt_space_param *p = &cfg->stages.tune.space[i];
        out->r[i].lo = p->lo;
        out->r[i].hi = p->hi;
        for (int c = 0; c < p->n_choices; c++) out->r[i].allowed[c] = 1;
    }
}

typedef struct { const dt_trial_result *r; int idx; } ranked;

static int cmp_ranked(const void *a, const void *b)
{
    return dt_trial_result_cmp(((const ranked *)a)->r, ((const ranked *)b)->r);
}

static int cmp_pruned_ranked(const void *a, const void *b)
{
    return dt_trial_pruned_cmp(((const ranked *)a)->r, ((const ranked *)b)->r);
}

void dt_tune_ranges_narrow(const dt_config *cfg, const dt_tune_ranges *prev, const dt_trial *trials,
                           const dt_trial_result *results, int n, int top_k, dt_tune_ranges *out)
{
    *out = *prev;
    ranked *rk = malloc((size_t)(n > 0 ? n : 1) * sizeof *rk);
    if (!rk) return;
    int ok = 0, pruned = 0;
    for (int i = 0; i < n; i++)
        if (results[i].status == DT_TRIAL_OK) rk[ok++] = (ranked){&results[i], i};
    qsort(rk, (size_t)ok, sizeof *rk, cmp_ranked);
    /* Under a pruner a round may finish fewer than top_k trials; the pruned
     * ones that got furthest fill up (as TPE's good set does), so the next
     * round is not narrowed around the few trials that happened to finish. */
    for (int i = 0; i < n && ok < top_k; i++)
        if (results[i].status == DT_TRIAL_PRUNED) rk[ok + pruned++] = (ranked){&results[i], i};
    qsort(rk + ok, (size_t)pruned, sizeof *rk, cmp_pruned_ranked);
    int k = ok + pruned < top_k ? ok + pruned : top_k;
    for (int s = 0; s < out->n && k > 0; s++) {
        const dt_space_param *p = &cfg->stages.tune.space[s];
        dt_tune_range *r = &out->r[s];
        if (p->kind == DT_SPACE_CHOICE) {
            memset(r->allowed, 0, sizeof r->allowed);
            for (int j = 0; j < k; j++) r->allowed[trials[rk[j].idx].choice[s]] = 1;
            continue;
        }
        double mn = INFINITY, mx = -INFINITY;
        for (int j = 0; j < k; j++) {
            double a = axis(p, trials[rk[j].idx].num[s]);
            if (a < mn) mn = a;
            if (a > mx) mx = a;
        }
        /* Margin: a quarter of the top-k spread, at least 5% of the original width. */
        double width = axis(p, p->hi) - axis(p, p->lo);
        double margin = fmax(0.25 * (mx - mn), 0.05 * width);
        double lo = unaxis(p, mn - margin), hi = unaxis(p, mx + margin);
        if (p->kind == DT_SPACE_INT) {
            lo = floor(lo);
            hi = ceil(hi);
        }
        lo = fmax(lo, prev->r[s].lo);
        hi = fmin(hi, prev->r[s].hi);
        if (lo <= hi) {
            r->lo = lo;
            r->hi = hi;
        }
    }
    free(rk);
}

void dt_tune_sample(const dt_config *cfg, const dt_tune_ranges *ranges, uint64_t seed, int round, int id,
                    dt_trial *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->round = round;
    out->n = ranges->n;
    dt_rng rng;
    dt_rng_seed(&rng, seed ^ 0x7475AE5EEDull ^ ((uint64_t)(id + 1) * 0x9E3779B97F4A7C15ull) ^
                          ((uint64_t)(round + 1) << 48));
    for (int s = 0; s < ranges->n; s++) {
        const dt_space_param *p = &cfg->stages.tune.space[s];
        const dt_tune_range *r = &ranges->r[s];
        double u = dt_rng_uniform(&rng);
        switch (p->kind) {
        case DT_SPACE_LOG_UNIFORM: out->num[s] = exp(log(r->lo) + u * (log(r->hi) - log(r->lo))); break;
        case DT_SPACE_UNIFORM: out->num[s] = r->lo + u * (r->hi - r->lo); break;
        case DT_SPACE_INT: {
            double lo = ceil(r->lo), hi = floor(r->hi);
            out->num[s] = hi > lo ? lo + floor(u * (hi - lo + 1)) : lo;
            if (out->num[s] > hi) out->num[s] = hi;
            break;
        }
        case DT_SPACE_CHOICE: {
            int allowed[DT_MAX_CHOICES], na = 0;
            for (int c = 0; c < p->n_choices; c++)
                if (r->allowed[c]) allowed[na++] = c;
            int pick = na > 0 ? (int)(u * na) : 0;
            if (pick >= na) pick = na - 1;
            out->choice[s] = na > 0 ? allowed[pick] : 0;
            break;
        }
        }
    }
}

void dt_tune_value_text(const dt_config *cfg, const dt_trial *t, int i, char *buf, size_t size)
{
    const dt_space_param *p = &cfg->stages.tune.space[i];
    if (p->kind == DT_SPACE_CHOICE) snprintf(buf, size, "%s", p->choices[t->choice[i]]);
    else if (p->kind == DT_SPACE_INT) snprintf(buf, size, "%.0f", t->num[i]);
    else snprintf(buf, size, "%.6g", t->num[i]);
}

dt_status dt_tune_apply(dt_config *cfg, const dt_config *base, const dt_trial *t)
{
    *cfg = *base;
    for (int i = 0; i < t->n; i++) {
        const dt_space_param *p = &base->stages.tune.space[i];
        dt_status st = p->kind == DT_SPACE_CHOICE ? dt_config_set(cfg, p->key, p->choices[t->choice[i]])
                                                  : dt_config_set_number(cfg, p->key, t->num[i]);
        if (st) return dt_fail_context(st, "trial %d", t->id);
    }
    return DT_OK;
}

int dt_trial_same_params(const dt_config *cfg, const dt_trial *a, const dt_trial *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        if (cfg->stages.tune.space[i].kind == DT_SPACE_CHOICE) {
            if (a->choice[i] != b->choice[i]) return 0;
        } else if (a->num[i] != b->num[i]) {
            return 0;
        }
    }
    return 1;
}

typedef struct { double x, y; } xy;

static int cmp_xy(const void *a, const void *b)
{
    double u = ((const xy *)a)->x, v = ((const xy *)b)->x;
    return (u > v) - (u < v);
}

void dt_tune_importance(const dt_config *cfg, const dt_trial *trials, const dt_trial_result *results, int n,
                        double *r2, double *share)
{
    int ns = cfg->stages.tune.n_space;
    for (int s = 0; s < ns; s++) r2[s] = share[s] = 0.0;
    xy *pts = malloc((size_t)(n > 0 ? n : 1) * sizeof *pts);
    if (!pts) return;
    for (int s = 0; s < ns; s++) {
        const dt_space_param *p = &cfg->stages.tune.space[s];
        int m = 0;
        double mean = 0.0;
        for (int i = 0; i < n; i++) {
            if (results[i].status != DT_TRIAL_OK || !isfinite(results[i].score)) continue;
            pts[m].x = p->kind == DT_SPACE_CHOICE ? trials[i].choice[s] : axis(p, trials[i].num[s]);
            pts[m].y = results[i].score;
            mean += pts[m++].y;
        }
        if (m < 3) continue;
        mean /= m;
        double tot = 0.0, between = 0.0;
        for (int i = 0; i < m; i++) tot += (pts[i].y - mean) * (pts[i].y - mean);
        if (tot <= 0.0) continue;
        qsort(pts, (size_t)m, sizeof *pts, cmp_xy);
        if (p->kind == DT_SPACE_CHOICE) {
            /* Groups of equal choice (sorted, so contiguous). */
            for (int i = 0; i < m;) {
                int j = i;
                double sum = 0.0;
                while (j < m && pts[j].x == pts[i].x) sum += pts[j++].y;
                double g = sum / (j - i);
                between += (j - i) * (g - mean) * (g - mean);
                i = j;
            }
        } else {
            /* Up to 4 quantile bins of (near) equal counts. */
            int bins = m / 2 < 4 ? m / 2 : 4;
            for (int b = 0; b < bins; b++) {
                int i0 = b * m / bins, i1 = (b + 1) * m / bins;
                double sum = 0.0;
                for (int i = i0; i < i1; i++) sum += pts[i].y;
                double g = sum / (i1 - i0);
                between += (i1 - i0) * (g - mean) * (g - mean);
            }
        }
        r2[s] = between / tot;
    }
    double total = 0.0;
    for (int s = 0; s < ns; s++) total += r2[s];
    for (int s = 0; s < ns; s++) share[s] = total > 0.0 ? r2[s] / total : 0.0;
    free(pts);
}
