/* Exporting a checkpoint's network as a PyTorch module (src/io/export_torch.c). */
#ifndef DT_EXPORT_H
#define DT_EXPORT_H

#include "dnntrouble/checkpoint.h"

/* Writes the module (class Net) to path atomically; ckpt names the
 * checkpoint in its docstring.  info gives the normalization (may be NULL:
 * inputs are taken as already normalized).  DT_ECONFIG when a layer or input
 * name cannot be a Python attribute. */
dt_status dt_export_torch(const dt_model *m, const dt_ckpt_info *info, const char *ckpt, const char *path);

#endif
