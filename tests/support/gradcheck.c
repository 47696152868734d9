#include "gradcheck.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dt_node *gc_weighted_sum(dt_graph *g, dt_node *y, dt_node **weights)
{
    if (!y) return NULL;
    *weights = dt_input(g, "gc_weights", y->ndim, y->shape);
    (*weights)->batched = y->batched;
    return dt_sum(g, "gc", dt_mul(g, "gc", y, *weights));
}

void gc_fill(dt_node *n, dt_rng *r, float lo, float hi)
{
    size_t k = dt_numel(n);
    for (size_t i = 0; i < k; i++) n->val[i] = lo + (hi - lo) * (float)dt_rng_uniform(r);
}

/* The loss with the graph's random stream rewound, so dropout masks repeat. */
static double loss_at(dt_graph *g, dt_node *loss, dt_rng saved)
{
    g->rng = saved;
    dt_graph_forward(g, loss);
    return loss->val[0];
}

gc_result gc_check(dt_graph *g, dt_node *loss, dt_node *const *wrt, int n_wrt, double eps,
                   double rtol, double atol, int max_per_node)
{
    gc_result res = {0};
    dt_rng saved = g->rng, pick;
    dt_rng_seed(&pick, 12345);
    loss_at(g, loss, saved);
    dt_graph_backward(g, loss);
    for (int w = 0; w < n_wrt; w++) {
        dt_node *p = wrt[w];
        size_t k = dt_numel(p);
        float *analytic = malloc(k * sizeof *analytic);
        memcpy(analytic, p->grad, k * sizeof *analytic);
        size_t count = max_per_node && (size_t)max_per_node < k ? (size_t)max_per_node : k;
        for (size_t c = 0; c < count; c++) {
            size_t i = count == k ? c : (size_t)dt_rng_below(&pick, k);
            float orig = p->val[i];
            double l0 = loss_at(g, loss, saved);
            p->val[i] = orig + (float)eps;
            double lp = loss_at(g, loss, saved);
            p->val[i] = orig - (float)eps;
            double lm = loss_at(g, loss, saved);
            p->val[i] = orig;
            double h = ((float)(orig + (float)eps) - (float)(orig - (float)eps)) / 2.0; /* the step taken */
            double num = (lp - lm) / (2.0 * h);
            double right = (lp - l0) / h, left = (l0 - lm) / h;
            double a = analytic[i];
            double scale = fabs(a) > fabs(num) ? fabs(a) : fabs(num);
            if (fabs(right - left) > 10.0 * (atol + rtol * scale) + 1e-2 * fabs(right + left)) {
                res.skipped++; /* a kink within eps: not differentiable here */
                continue;
            }
            double err = fabs(a - num) / (atol + rtol * scale);
            res.checked++;
            if (err >= 1.0) res.failed++;
            if (err > res.max_err) {
                res.max_err = err;
                snprintf(res.worst, sizeof res.worst, "%s[%zu]: analytic %.6g numeric %.6g", p->name, i,
                         a, num);
            }
        }
        free(analytic);
    }
    loss_at(g, loss, saved);
    dt_graph_backward(g, loss);
    return res;
}

dt_node *gc_input(dt_graph *g, const char *name, int ndim, const int *shape)
{
    dt_node *x = dt_input(g, name, ndim, shape);
    if (x) x->requires_grad = 1;
    return x;
}

dt_node *gc_prepare(dt_graph *g, dt_node *y, dt_rng *r)
{
    dt_node *w;
    dt_node *loss = gc_weighted_sum(g, y, &w);
    assert_non_null(loss);
    assert_int_equal(dt_graph_compile(g, g->nodes[0]->shape[0]), DT_OK);
    dt_graph_init_params(g, 7);
    dt_rng_seed(r, 3);
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == DT_OP_INPUT) gc_fill(g->nodes[i], r, -1.0f, 1.0f);
    return loss;
}

void gc_assert_graph(dt_graph *g, dt_node *y, dt_node *const *wrt, int n_wrt)
{
    dt_rng r;
    dt_node *loss = gc_prepare(g, y, &r);
    gc_result res = gc_check(g, loss, wrt, n_wrt, GC_EPS, GC_RTOL, GC_ATOL, 0);
    if (res.failed) print_error("worst: %s\n", res.worst);
    assert_int_equal(res.failed, 0);
    assert_true(res.checked > 0);
    assert_true(res.skipped * 10 <= res.checked); /* kinks are rare with random inputs */
    dt_graph_free(g);
}
