/* Finite-difference gradient check on a compiled float32 graph. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/diag.h"

void dt_gradcheck_defaults(dt_gradcheck_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_elements = 50;
    o->eps = 1e-3;
    o->rtol = 1e-2;
    o->noise = 64.0;
    o->seed = 12345;
}

/* The loss with the random stream rewound, so dropout repeats its masks. */
static dt_status loss_at(dt_graph *g, dt_node *loss, const dt_rng *saved, double *out)
{
    g->rng = *saved;
    dt_status st = dt_graph_forward(g, loss);
    *out = loss->val[0];
    return st;
}

void dt_gradcheck_free(dt_gradcheck_result *r)
{
    if (!r) return;
    free(r->params);
    r->params = NULL;
    r->n_params = 0;
}

dt_status dt_gradcheck(dt_graph *g, dt_node *loss, const dt_gradcheck_opts *opt, dt_gradcheck_result *r)
{
    dt_gradcheck_opts o;
    if (opt) o = *opt;
    else dt_gradcheck_defaults(&o);
    memset(r, 0, sizeof *r);
    if (g->n_params == 0) return DT_OK;
    r->params = calloc((size_t)g->n_params, sizeof *r->params);
    float *analytic = malloc(g->n_param_values * sizeof *analytic + 1);
    if (!r->params || !analytic) {
        free(analytic);
        dt_gradcheck_free(r);
        return dt_fail(DT_ENOMEM, "gradient check: out of memory");
    }
    r->n_params = g->n_params;
    dt_rng saved = g->rng, pick;
    dt_rng_seed(&pick, o.seed);
    double l0;
    dt_status st = loss_at(g, loss, &saved, &l0);
    if (!st) st = dt_graph_backward(g, loss);
    if (st) goto out;
    if (o.tamper) o.tamper(g, o.tamper_ctx);
    memcpy(analytic, g->param_grad, g->n_param_values * sizeof *analytic);

    /* Spread the budget evenly over the tensors (every tensor gets some). */
    int per = o.max_elements > 0 ? (o.max_elements + g->n_params - 1) / g->n_params : 0;
    for (int t = 0; t < g->n_params && !st; t++) {
        dt_node *p = g->params[t];
        dt_gradcheck_param *pr = &r->params[t];
        pr->param = p;
        size_t k = dt_numel(p);
        size_t count = per > 0 && (size_t)per < k ? (size_t)per : k;
        for (size_t c = 0; c < count && !st; c++) {
            size_t i = count == k ? c : (size_t)dt_rng_below(&pick, k);
            float orig = p->val[i];
            double step = o.eps * (fabs(orig) > 1.0 ? fabs(orig) : 1.0), lp, lm;
            float up = (float)(orig + step), down = (float)(orig - step);
            p->val[i] = up;
            st = loss_at(g, loss, &saved, &lp);
            p->val[i] = down;
            if (!st) st = loss_at(g, loss, &saved, &lm);
            p->val[i] = orig;
            if (st) break;
            double hp = (double)up - orig, hm = (double)orig - down; /* the steps really taken */
            double num = (lp - lm) / (hp + hm);
            double right = (lp - l0) / hp, left = (l0 - lm) / hm;
            double a = analytic[p->param_offset + i];
            double scale = fmax(fabs(a), fabs(num));
            double atol = o.noise * FLT_EPSILON * fmax(fabs(l0), 1e-3) / fmin(hp, hm);
            double tol = atol + o.rtol * scale;
            if (!isfinite(num) || fabs(right - left) > 10.0 * tol + 1e-2 * fabs(right + left)) {
                pr->skipped++;
                continue;
            }
            double err = fabs(a - num) / tol;
            pr->checked++;
            if (err > pr->max_err) pr->max_err = err;
            if (err >= 1.0) {
                pr->failed++;
                double rel = scale > 0 ? fabs(a - num) / scale : 0.0;
                if (rel > r->max_rel_err) r->max_rel_err = rel;
            }
            if (err > r->max_err) {
                r->max_err = err;
                snprintf(r->worst_param, sizeof r->worst_param, "%s", p->name);
                r->worst_index = i;
                r->worst_analytic = a;
                r->worst_numeric = num;
            }
        }
        r->checked += pr->checked;
        r->failed += pr->failed;
        r->skipped += pr->skipped;
    }
    /* Leave the graph as the unperturbed forward and backward left it. */
    if (!st) st = loss_at(g, loss, &saved, &l0);
    if (!st) st = dt_graph_backward(g, loss);
out:
    g->rng = saved;
    free(analytic);
    if (st) dt_gradcheck_free(r);
    return st;
}
