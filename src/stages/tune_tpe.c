/* TPE (Bergstra et al. 2011) in the manner of Optuna's TPESampler,
 * univariate (Optuna's default): per searched key, a Parzen estimator l(x)
 * of the good trials and g(x) of the bad ones; candidates drawn from l and
 * the one with the largest log l(x) - log g(x) wins.  Written from the
 * description of optuna/samplers/_tpe (parzen_estimator.py, sampler.py):
 *   - good = the best gamma(n) = min(ceil(0.1 n), 25) healthy trials of the
 *     n finished ones (with fewer healthy ones than that, pruned trials fill
 *     up, the furthest rung first, then by their score there); bad = the
 *     rest, sick and failed trials included, and the trials still running
 *     (the constant liar: a running trial is a bad one, so the next
 *     proposal moves away from it);
 *   - kernel weights: 1 each, except with more than 25 the older ones ramp
 *     up linearly from 1/n (Optuna's default_weights), plus a prior kernel
 *     of weight 1 (the whole range, centred);
 *   - numeric keys: truncated normals on the range (the log axis for
 *     log_uniform; for int the range widened by 1/2 each side and the mass
 *     of [v - 1/2, v + 1/2]), each kernel's sigma the larger distance to its
 *     neighbours among the trials' values and the prior's centre (the first
 *     and last: to their one inner neighbour), clipped to
 *     [range / min(100, kernels + 1), range], the prior counted among the
 *     kernels (the "magic clip"; dt_tpe_sigmas);
 *   - choices: each kernel puts prior_weight / kernels on every choice and
 *     1 more on its own, normalised.
 * With stages.tune.multivariate (Optuna's multivariate=True) l and g are
 * mixtures of products over the keys instead, each key's kernels of one
 * width (Optuna's 0.2 n^(-1/(d+4)) of the range), a candidate takes every
 * value from one kernel of l, and whole candidates are ranked.
 * Beyond Optuna: the winner must differ from every earlier trial (finished
 * or running) in some key; a trial's score is deterministic in its values,
 * so a repeat teaches nothing.  When the best candidate repeats one, the
 * best single-key alternative among the candidates is taken instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune_sampler.h"

#define TPE_PRIOR_WEIGHT 1.0
#define TPE_GAMMA_RATE 0.1
#define TPE_GAMMA_MAX 25
#define TPE_FLAT_WEIGHTS 25
#define TPE_MAX_CANDIDATES 1024
#define TPE_REJECT_TRIES 200

/* One key's Parzen estimator: kernels 0..n-1 (the last is the prior). */
typedef struct parzen {
    int n;
    double *w, *mu, *sigma;      /* [n] numeric */
    double *p;                   /* [n * n_choices] choice: row j = kernel j's probabilities */
    double *lp;                  /* [n] scratch: each kernel's weighted log density */
    int n_choices;
    double lo, hi;               /* the range on the sampled axis (int: widened by 1/2) */
    int kind;
} parzen;

static int gamma_of(int n)
{
    int g = (int)ceil(TPE_GAMMA_RATE * n);
    return g < TPE_GAMMA_MAX ? g : TPE_GAMMA_MAX;
}

/* Optuna's default_weights(n): ones, the oldest n - 25 ramping from 1/n. */
static void default_weights(int n, double *w)
{
    if (n <= TPE_FLAT_WEIGHTS) {
        for (int i = 0; i < n; i++) w[i] = 1.0;
        return;
    }
    int ramp = n - TPE_FLAT_WEIGHTS;
    for (int i = 0; i < ramp; i++) w[i] = ramp > 1 ? 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1) : 1.0 / n;
    for (int i = ramp; i < n; i++) w[i] = 1.0;
}

static double key_axis(const dt_space_param *p, double v) { return p->kind == DT_SPACE_LOG_UNIFORM ? log(v) : v; }

static void key_range(const dt_space_param *p, double *lo, double *hi)
{
    *lo = key_axis(p, p->lo);
    *hi = key_axis(p, p->hi);
    if (p->kind == DT_SPACE_INT) {
        *lo -= 0.5;
        *hi += 0.5;
    }
}

typedef struct { double v; int i; } vi;

static int cmp_vi(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int dt_tpe_sigmas(const double *mu, int m, double lo, double hi, double *sigma)
{
    /* Optuna sorts the trials' values together with the prior's centre and
     * the two ends of the range; a kernel reaches to its farther neighbour.
     * Counting the centre keeps a lone good trial's kernel about as wide as
     * its distance from the middle; without it that kernel spans the range
     * and l(x) hardly differs from the prior. */
    double range = hi - lo, minsigma = range / fmin(100.0, 2.0 + m);
    int n = m + 1;
    vi *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return -1;
    for (int j = 0; j < m; j++) sorted[j] = (vi){mu[j], j};
    sorted[m] = (vi){0.5 * (lo + hi), m};
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_vi);
    for (int q = 0; q < n; q++) {
        double left = q > 0 ? sorted[q - 1].v : lo, right = q + 1 < n ? sorted[q + 1].v : hi;
        double v = sorted[q].v, sg = fmax(v - left, right - v);
        /* consider_endpoints=False: the outermost kernels look inwards only. */
        if (n >= 2 && q == 0) sg = right - v;
        if (n >= 2 && q == n - 1) sg = v - left;
        if (sorted[q].i < m) sigma[sorted[q].i] = fmin(fmax(sg, minsigma), range);
    }
    sigma[m] = range;
    free(sorted);
    return 0;
}

/* Builds key s's estimator over the trials idx[0..m) (sorted by id); dims
 * > 0 is multivariate over that many keys. */
static int parzen_build(parzen *pz, const dt_space_param *p, int s, const dt_trial *t, const int *idx, int m, int dims)
{
    memset(pz, 0, sizeof *pz);
    pz->kind = p->kind;
    pz->n = m + 1;
    pz->w = malloc((size_t)pz->n * sizeof *pz->w);
    pz->lp = malloc((size_t)pz->n * sizeof *pz->lp);
    if (!pz->w || !pz->lp) return -1;
    default_weights(m, pz->w);
    pz->w[m] = TPE_PRIOR_WEIGHT;
    double sum = 0.0;
    for (int j = 0; j < pz->n; j++) sum += pz->w[j];
    for (int j = 0; j < pz->n; j++) pz->w[j] /= sum;
    if (p->kind == DT_SPACE_CHOICE) {
        int k = pz->n_choices = p->n_choices;
        pz->p = malloc((size_t)pz->n * (size_t)k * sizeof *pz->p);
        if (!pz->p) return -1;
        double base = m > 0 ? TPE_PRIOR_WEIGHT / pz->n : 1.0;
        for (int j = 0; j < pz->n; j++) {
            double *row = pz->p + (size_t)j * (size_t)k, rs = 0.0;
            for (int c = 0; c < k; c++) row[c] = base;
            if (j < m) row[t[idx[j]].choice[s]] += 1.0;
            for (int c = 0; c < k; c++) rs += row[c];
            for (int c = 0; c < k; c++) row[c] /= rs;
        }
        return 0;
    }
    key_range(p, &pz->lo, &pz->hi);
    pz->mu = malloc((size_t)pz->n * sizeof *pz->mu);
    pz->sigma = malloc((size_t)pz->n * sizeof *pz->sigma);
    if (!pz->mu || !pz->sigma) return -1;
    for (int j = 0; j < m; j++) pz->mu[j] = key_axis(p, t[idx[j]].num[s]);
    pz->mu[m] = 0.5 * (pz->lo + pz->hi);
    if (!dims) return dt_tpe_sigmas(pz->mu, m, pz->lo, pz->hi, pz->sigma);
    /* Multivariate: one width for every kernel, Scott's rule in d dimensions
     * (Optuna's 0.2 n^(-1/(d+4)) of the range), clipped as above. */
    double range = pz->hi - pz->lo;
    double sg = 0.2 * pow(m > 1 ? m : 1, -1.0 / (dims + 4)) * range;
    sg = fmin(fmax(sg, range / fmin(100.0, 2.0 + m)), range);
    for (int j = 0; j < m; j++) pz->sigma[j] = sg;
    pz->sigma[m] = range;
    return 0;
}

static void parzen_free(parzen *pz)
{
    free(pz->w);
    free(pz->mu);
    free(pz->sigma);
    free(pz->p);
    free(pz->lp);
}

/* Phi(b) - Phi(a), a <= b, computed on the side of the tail for accuracy. */
static double normal_mass(double a, double b)
{
    const double r = M_SQRT1_2;
    if (a >= 0) return 0.5 * (erfc(a * r) - erfc(b * r));
    if (b <= 0) return 0.5 * (erfc(-b * r) - erfc(-a * r));
    return 1.0 - 0.5 * erfc(b * r) - 0.5 * erfc(-a * r);
}

/* Kernel j's log density (numeric: on the sampled axis; int and choice:
 * log mass) at x, without its weight. */
static double kernel_logpdf(const parzen *pz, int j, double x)
{
    if (pz->kind == DT_SPACE_CHOICE) return log(pz->p[(size_t)j * (size_t)pz->n_choices + (size_t)x]);
    double mu = pz->mu[j], sg = pz->sigma[j];
    double z = normal_mass((pz->lo - mu) / sg, (pz->hi - mu) / sg);
    if (pz->kind == DT_SPACE_INT) return log(normal_mass((x - 0.5 - mu) / sg, (x + 0.5 - mu) / sg)) - log(z);
    double u = (x - mu) / sg;
    return -0.5 * u * u - log(sg) - 0.5 * log(2.0 * M_PI) - log(z);
}

/* log sum_j exp(lp[j]), -inf when every term is. */
static double log_sum_exp(const double *lp, int n)
{
    double best = -INFINITY, sum = 0.0;
    for (int j = 0; j < n; j++)
        if (lp[j] > best) best = lp[j];
    if (!isfinite(best)) return -INFINITY;
    for (int j = 0; j < n; j++) sum += exp(lp[j] - best);
    return best + log(sum);
}

/* The mixture's log density at x (one key). */
static double parzen_logpdf(parzen *pz, double x)
{
    for (int j = 0; j < pz->n; j++) pz->lp[j] = log(pz->w[j]) + kernel_logpdf(pz, j, x);
    return log_sum_exp(pz->lp, pz->n);
}

/* The product mixture's log density at the values x[s] of all ns keys (the
 * kernels of every key belong to the same trials, so they share weights). */
static double product_logpdf(parzen *pz, int ns, const double *x)
{
    double *lp = pz[0].lp;
    for (int j = 0; j < pz[0].n; j++) {
        lp[j] = log(pz[0].w[j]);
        for (int s = 0; s < ns; s++) lp[j] += kernel_logpdf(&pz[s], j, x[s]);
    }
    return log_sum_exp(lp, pz[0].n);
}

static int pick_kernel(const parzen *pz, dt_rng *rng)
{
    double u = dt_rng_uniform(rng), acc = 0.0;
    int j = 0;
    for (; j < pz->n - 1; j++) {
        acc += pz->w[j];
        if (u < acc) break;
    }
    return j;
}

/* One draw from kernel j, in value units (choice: the index). */
static double kernel_sample(const parzen *pz, const dt_space_param *p, int j, dt_rng *rng)
{
    if (pz->kind == DT_SPACE_CHOICE) {
        const double *row = pz->p + (size_t)j * (size_t)pz->n_choices;
        double v = dt_rng_uniform(rng), c = 0.0;
        for (int k = 0; k < pz->n_choices - 1; k++) {
            c += row[k];
            if (v < c) return k;
        }
        return pz->n_choices - 1;
    }
    /* Rejection from the untruncated normal: mu lies in the range and
     * sigma <= the range, so at least a third of the draws land inside. */
    double x = NAN;
    for (int k = 0; k < TPE_REJECT_TRIES; k++) {
        double y = pz->mu[j] + pz->sigma[j] * dt_rng_normal(rng);
        if (y >= pz->lo && y <= pz->hi) {
            x = y;
            break;
        }
    }
    if (isnan(x)) x = pz->lo + dt_rng_uniform(rng) * (pz->hi - pz->lo);
    if (p->kind == DT_SPACE_INT) return fmin(fmax(p->lo + round(x - p->lo), p->lo), p->hi);
    if (p->kind == DT_SPACE_LOG_UNIFORM) return fmin(fmax(exp(x), p->lo), p->hi);
    return x;
}

/* One key's candidates, best acquisition first. */
typedef struct cand { double v, acq; int draw; } cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->acq != y->acq) return x->acq > y->acq ? -1 : 1;
    return (x->draw > y->draw) - (x->draw < y->draw);
}

static void set_value(const dt_space_param *p, dt_trial *out, int s, double v)
{
    if (p->kind == DT_SPACE_CHOICE) out->choice[s] = (int)v;
    else out->num[s] = v;
}

static int repeats(const dt_config *cfg, const dt_tune_history *h, const dt_trial *x)
{
    for (int i = 0; i < h->n; i++)
        if (dt_trial_same_params(cfg, &h->t[i], x)) return 1;
    return 0;
}

static int cmp_by_result(const void *a, const void *b, void *ctx)
{
    const dt_trial_result *r = ctx;
    return dt_trial_result_cmp(&r[*(const int *)a], &r[*(const int *)b]);
}

static int cmp_pruned(const void *a, const void *b, void *ctx)
{
    const dt_trial_result *r = ctx;
    return dt_trial_pruned_cmp(&r[*(const int *)a], &r[*(const int *)b]);
}

static int n_candidates(const dt_config *cfg)
{
    return cfg->stages.tune.ei_candidates < TPE_MAX_CANDIDATES ? cfg->stages.tune.ei_candidates : TPE_MAX_CANDIDATES;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Univariate (Optuna's default): key by key, the best of the candidates
 * drawn from that key's l.  0 when out of memory. */
static int propose_univariate(const dt_config *cfg, const dt_tune_history *h, const int *good, int n_good,
                              const int *bad, int n_bad, dt_rng *rng, dt_trial *out)
{
    int ns = cfg->stages.tune.n_space, ne = n_candidates(cfg);
    cand *cs = malloc((size_t)ns * (size_t)ne * sizeof *cs);
    if (!cs) return 0;
    for (int s = 0; s < ns; s++) {
        const dt_space_param *p = &cfg->stages.tune.space[s];
        cand *c = cs + (size_t)s * (size_t)ne;
        parzen l, g;
        int bl = parzen_build(&l, p, s, h->t, good, n_good, 0), bg = bl ? -1 : parzen_build(&g, p, s, h->t, bad, n_bad, 0);
        for (int k = 0; k < ne && !bl && !bg; k++) {
            c[k].draw = k;
            c[k].v = kernel_sample(&l, p, pick_kernel(&l, rng), rng);
            double x = p->kind == DT_SPACE_CHOICE ? c[k].v : key_axis(p, c[k].v);
            c[k].acq = parzen_logpdf(&l, x) - parzen_logpdf(&g, x);
            if (isnan(c[k].acq)) c[k].acq = -INFINITY;
        }
        parzen_free(&l);
        if (!bl) parzen_free(&g);
        if (bl || bg) {
            free(cs);
            return 0;
        }
        qsort(c, (size_t)ne, sizeof *c, cmp_cand);
        set_value(p, out, s, c[0].v);
    }
    if (repeats(cfg, h, out)) {
        /* The best single-key change that gives an unseen trial. */
        dt_trial best = *out, alt;
        double loss = INFINITY;
        for (int s = 0; s < ns; s++) {
            const dt_space_param *p = &cfg->stages.tune.space[s];
            const cand *c = cs + (size_t)s * (size_t)ne;
            for (int k = 1; k < ne; k++) {
                if (c[k].v == c[0].v || c[0].acq - c[k].acq >= loss) continue;
                alt = *out;
                set_value(p, &alt, s, c[k].v);
                if (repeats(cfg, h, &alt)) continue;
                loss = c[0].acq - c[k].acq;
                best = alt;
                break;
            }
        }
        *out = best;
    }
    free(cs);
    return 1;
}

/* Multivariate (Optuna's multivariate=True): l and g are mixtures of
 * products over the keys, one kernel per trial; a candidate takes all its
 * values from one kernel of l, and the best candidate that repeats no
 * earlier trial wins.  0 when out of memory. */
static int propose_multivariate(const dt_config *cfg, const dt_tune_history *h, const int *good, int n_good,
                                const int *bad, int n_bad, dt_rng *rng, dt_trial *out)
{
    int ns = cfg->stages.tune.n_space, ne = n_candidates(cfg), built = 0, ok = 1;
    parzen l[DT_MAX_SPACE], g[DT_MAX_SPACE];
    for (; built < ns && ok; built++) {
        const dt_space_param *p = &cfg->stages.tune.space[built];
        ok = parzen_build(&l[built], p, built, h->t, good, n_good, ns) == 0;
        ok = parzen_build(&g[built], p, built, h->t, bad, n_bad, ns) == 0 && ok;
    }
    /* The best candidate that repeats no earlier trial; with none, the best. */
    double best_acq = -INFINITY;
    int have = 0, best_fresh = 0;
    for (int k = 0; k < ne && ok; k++) {
        dt_trial x = *out;
        double ax[DT_MAX_SPACE];
        int j = pick_kernel(&l[0], rng);
        for (int s = 0; s < ns; s++) {
            const dt_space_param *p = &cfg->stages.tune.space[s];
            double v = kernel_sample(&l[s], p, j, rng);
            set_value(p, &x, s, v);
            ax[s] = p->kind == DT_SPACE_CHOICE ? v : key_axis(p, v);
        }
        double acq = product_logpdf(l, ns, ax) - product_logpdf(g, ns, ax);
        if (isnan(acq)) acq = -INFINITY;
        int fresh = !repeats(cfg, h, &x);
        if (!have || fresh > best_fresh || (fresh == best_fresh && acq > best_acq)) {
            *out = x;
            have = 1;
            best_fresh = fresh;
            best_acq = acq;
        }
    }
    for (int s = 0; s < built; s++) {
        parzen_free(&l[s]);
        parzen_free(&g[s]);
    }
    return ok;
}

void dt_tune_tpe_propose(const dt_config *cfg, const dt_tune_history *h, int lag, dt_trial *out)
{
    int n = h->n;
    memset(out, 0, sizeof *out);
    out->id = n;
    out->n = cfg->stages.tune.n_space;
    dt_rng rng;
    dt_rng_seed(&rng, cfg->seed ^ 0x7E5A3B1DC0FFEEull ^ ((uint64_t)(n + 1) * 0xD1B54A32D192ED03ull));
    int *good = malloc((size_t)(n > 0 ? n : 1) * sizeof *good), *bad = malloc((size_t)(n > 0 ? n : 1) * sizeof *bad);
    int ok = good && bad;
    if (ok) {
        /* Finished: ids 0..n-lag; the healthy ones ranked, the best
         * gamma(finished) are good; pruned ones (ranked in bad[] for now)
         * fill up when too few. */
        int n_ok = 0, n_fin = 0, n_bad = 0, n_pruned = 0;
        for (int i = 0; i < n; i++) {
            int fin = h->done[i] && i <= n - lag;
            n_fin += fin;
            if (fin && h->r[i].status == DT_TRIAL_OK) good[n_ok++] = i;
            if (fin && h->r[i].status == DT_TRIAL_PRUNED) bad[n_pruned++] = i;
        }
        qsort_r(good, (size_t)n_ok, sizeof *good, cmp_by_result, (void *)h->r);
        qsort_r(bad, (size_t)n_pruned, sizeof *bad, cmp_pruned, (void *)h->r);
        int n_good = gamma_of(n_fin) < n_ok ? gamma_of(n_fin) : n_ok;
        for (int k = 0; k < n_pruned && n_good < gamma_of(n_fin); k++) good[n_good++] = bad[k];
        for (int i = 0; i < n; i++) {
            int is_good = 0;
            for (int k = 0; k < n_good && !is_good; k++) is_good = good[k] == i;
            if (!is_good) bad[n_bad++] = i;      /* worse healthy, pruned, sick, failed and running trials */
        }
        qsort(good, (size_t)n_good, sizeof *good, cmp_int);
        ok = cfg->stages.tune.multivariate ? propose_multivariate(cfg, h, good, n_good, bad, n_bad, &rng, out)
                                           : propose_univariate(cfg, h, good, n_good, bad, n_bad, &rng, out);
    }
    free(good);
    free(bad);
    if (!ok) {
        /* Out of memory: a uniform draw (the prior alone) still proposes a trial. */
        dt_tune_ranges rg;
        dt_tune_ranges_init(cfg, &rg);
        dt_tune_sample(cfg, &rg, cfg->seed, 0, n, out);
    }
}
