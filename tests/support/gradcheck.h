/* Finite-difference gradient checking for the tests (genann/ggml habit).
 *
 * The graph is float32; each numeric derivative is a central difference
 * (L(x+e) - L(x-e)) / 2e evaluated in double.  Kinks (relu, max) are found
 * by comparing the two one-sided differences: where they disagree the
 * function is not differentiable within e and the element is skipped. */
#ifndef DT_TEST_GRADCHECK_H
#define DT_TEST_GRADCHECK_H

#include "dnntrouble/graph.h"

typedef struct gc_result {
    int checked, skipped, failed;
    double max_err;          /* largest |a - n| / (atol + rtol * max(|a|, |n|)) seen; < 1 passes */
    char worst[160];         /* node, index, analytic and numeric value of the worst element */
} gc_result;

/* Builds loss = sum(y ⊙ R) with R a fresh input of y's shape: every element
 * of y gets a different, O(1) weight, so errors cannot cancel. */
dt_node *gc_weighted_sum(dt_graph *g, dt_node *y, dt_node **weights);

/* Fills a node's values (current shape) uniformly in [lo, hi). */
void gc_fill(dt_node *n, dt_rng *r, float lo, float hi);

/* Checks d loss / d node for every node in wrt (parameters or inputs with
 * requires_grad), at most max_per_node elements each (0 = all, else a
 * seeded sample). */
gc_result gc_check(dt_graph *g, dt_node *loss, dt_node *const *wrt, int n_wrt, double eps,
                   double rtol, double atol, int max_per_node);

/* Test-suite defaults: central step, relative and absolute tolerance. */
#define GC_EPS 1e-2
#define GC_RTOL 2e-3
#define GC_ATOL 1e-3

/* An input whose gradient is requested. */
dt_node *gc_input(dt_graph *g, const char *name, int ndim, const int *shape);

/* The op tests' common check (cmocka assertions): builds loss = sum(y ⊙ R),
 * compiles, fills inputs in [-1, 1), checks d loss / d wrt with the defaults
 * above, asserts no failure and few kinks, and frees the graph. */
void gc_assert_graph(dt_graph *g, dt_node *y, dt_node *const *wrt, int n_wrt);

/* The set-up gc_assert_graph uses, for tests with their own checks: adds the
 * weighted-sum loss to y, compiles for the first node's batch, initialises
 * the parameters (seed 7) and fills every input uniformly in [-1, 1) from r
 * (seeded 3 here, so callers can draw more from it).  Returns the loss. */
dt_node *gc_prepare(dt_graph *g, dt_node *y, dt_rng *r);

#endif
