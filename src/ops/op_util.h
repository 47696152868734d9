/* Helpers shared by the op implementations (not public API). */
#ifndef DT_OP_UTIL_H
#define DT_OP_UTIL_H

#include <stdio.h>
#include <string.h>

#include "dnntrouble/graph.h"

/* A shape error naming the op, the layer and both shapes. */
static inline dt_status dt_shape_error(const dt_node *n, const dt_node *a, const dt_node *b,
                                       const char *why)
{
    char sa[64], sb[64 + DT_NAME_LEN] = "";
    dt_shape_str(a, sa, sizeof sa);
    if (b) {
        char tmp[64];
        snprintf(sb, sizeof sb, ", %s %s", b->name, dt_shape_str(b, tmp, sizeof tmp));
    }
    return dt_fail(DT_ESHAPE, "layer '%s', op %s: %s (%s %s%s)", n->layer,
                   dt_op_get(n->op)->name, why, a->name, sa, sb);
}

static inline void dt_set_shape(dt_node *n, int ndim, const int *shape)
{
    n->ndim = ndim;
    memcpy(n->shape, shape, (size_t)ndim * sizeof *shape);
}

static inline int dt_same_shape(const dt_node *a, const dt_node *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Rows when the last axis is the feature axis: numel / shape[last]. */
static inline size_t dt_rows(const dt_node *n) { return dt_numel(n) / (size_t)n->shape[n->ndim - 1]; }

#endif
