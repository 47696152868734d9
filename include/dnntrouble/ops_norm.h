/* Batch-norm running statistics: how model and checkpoint code reach them.
 *
 * A batch-norm node (dt_batchnorm) keeps torch's two buffers in its
 * persistent state, laid out as
 *
 *     state[0 .. C)     running_mean
 *     state[C .. 2C)    running_var
 *     state[2C]         "ready" flag: 0 until the statistics are initialised
 *
 * The graph allocates state zeroed, but torch starts running_var at 1, so the
 * statistics are initialised lazily: the first forward (train or eval) of a
 * node whose flag is 0 sets mean = 0, var = 1 and the flag to 1.  Code that
 * writes the statistics (a checkpoint loader) should go through the two
 * accessors below, which initialise first, so a later forward cannot
 * overwrite what was written.  To start the statistics afresh (a new run on
 * the same compiled graph) call dt_batchnorm_reset_state.
 *
 * All four functions require a compiled graph; n must be a batch-norm node. */
#ifndef DT_OPS_NORM_H
#define DT_OPS_NORM_H

#include "dnntrouble/graph.h"

/* Channels C of a batch-norm node (the length of gamma). */
int dt_batchnorm_channels(const dt_node *n);
/* running_mean = 0, running_var = 1, as a fresh torch BatchNorm. */
void dt_batchnorm_reset_state(dt_node *n);
/* The C running means / variances, initialised first if they were not yet. */
float *dt_batchnorm_running_mean(dt_node *n);
float *dt_batchnorm_running_var(dt_node *n);

#endif
