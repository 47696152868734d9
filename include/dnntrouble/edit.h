/* Edits of a model description (src/nn/edit.c): what improve's remedies do
 * to the network.  Each returns 1 when it changed the description and
 * writes the change in words into desc (size bytes). */
#ifndef DT_EDIT_H
#define DT_EDIT_H

#include <stddef.h>

#include "dnntrouble/layers.h"

/* Every hidden width (linear units except `classes`, conv channels, LSTM
 * hidden, embedding dim) times factor. */
int dt_desc_widen(dt_model_desc *d, double factor, char *desc, size_t size);
/* Repeats the last hidden linear block (linear → activation [→ dropout]);
 * on a net without one, stacks one more LSTM layer. */
int dt_desc_deepen(dt_model_desc *d, char *desc, size_t size);
/* A batchnorm between each hidden conv/linear layer and its activation. */
int dt_desc_add_batchnorm(dt_model_desc *d, char *desc, size_t size);
/* Sets every dropout layer's rate, or adds one after each hidden activation
 * when there is none (and rate > 0). */
int dt_desc_dropout(dt_model_desc *d, double rate, char *desc, size_t size);
/* The largest dropout rate in the description (0 when none). */
double dt_desc_max_dropout(const dt_model_desc *d);
/* Layers of type t. */
int dt_desc_count(const dt_model_desc *d, dt_layer_type t);

#endif
