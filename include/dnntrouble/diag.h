/* Diagnostics on a compiled graph, shared by the debug stage and tests:
 * a finite-difference gradient check that works on the float32 graph as
 * users run it (dropout masks repeated, kinks skipped). */
#ifndef DT_DIAG_H
#define DT_DIAG_H

#include <stdint.h>

#include "dnntrouble/graph.h"

typedef struct dt_gradcheck_opts {
    int max_elements;    /* parameter elements checked in total, spread over the tensors (0: all) */
    double eps;          /* step h = eps * max(|w|, 1) (default 1e-3) */
    double rtol;         /* relative tolerance (default 1e-2, TheDeepChecker) */
    double noise;        /* float32 loss resolution in ulps: atol = noise * FLT_EPSILON * |L| / h (default 64) */
    uint64_t seed;       /* which elements are sampled */
    /* Tests only: called after the analytic backward, e.g. to break a gradient on purpose. */
    void (*tamper)(dt_graph *g, void *ctx);
    void *tamper_ctx;
} dt_gradcheck_opts;

/* Per parameter tensor. */
typedef struct dt_gradcheck_param {
    const dt_node *param;
    int checked, failed, skipped;
    double max_err;      /* |analytic - numeric| / tolerance; >= 1 fails */
} dt_gradcheck_param;

typedef struct dt_gradcheck_result {
    int checked, failed, skipped;   /* skipped: a kink (ReLU, max-pool) lies within the step */
    double max_err;                 /* worst |a - n| / tolerance */
    double max_rel_err;             /* worst |a - n| / max(|a|, |n|) among failures (0 when none) */
    char worst_param[DT_NAME_LEN];
    size_t worst_index;
    double worst_analytic, worst_numeric;
    int n_params;
    dt_gradcheck_param *params;     /* [n_params], malloc'd: dt_gradcheck_free */
} dt_gradcheck_result;

void dt_gradcheck_defaults(dt_gradcheck_opts *o);

/* Compares d(loss)/d(param) from backward with central differences (in
 * double, on the float32 forward) for a sample of parameter elements, with
 * the batch already in the graph.  The graph's random stream is rewound
 * before every forward so dropout draws the same masks; batch-norm in train
 * mode is deterministic for a fixed batch.  An element whose left and right
 * one-sided differences disagree sits on a kink and is skipped.  Parameters
 * are restored exactly; gradients are those of the unperturbed loss on return. */
dt_status dt_gradcheck(dt_graph *g, dt_node *loss, const dt_gradcheck_opts *o, dt_gradcheck_result *r);
void dt_gradcheck_free(dt_gradcheck_result *r);

#endif
