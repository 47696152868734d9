/* Defaults come from the key table's default column, applied through the
 * same setter as user values, so a default can never escape its range. */
#include <string.h>
#include <unistd.h>

#include "internal.h"

void dt_config_defaults(dt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int k = 0; k < dt_n_keys; k++)
        if (dt_keys[k].def && !dt_keys[k].alias_of) dt_key_set_scalar(cfg, k, dt_keys[k].def, 0, "default");
    if (!getcwd(cfg->base_dir, sizeof cfg->base_dir)) strcpy(cfg->base_dir, ".");
    dt_clear_error();
    dt_config_sync(cfg);
}

void dt_config_sync(dt_config *cfg)
{
    cfg->data.seed = cfg->seed;
    /* Regression's natural loss; an explicit loss: is left for check() to judge. */
    int loss_key = dt_key_find("loss");
    if (cfg->data.task == DT_TASK_REGRESSION && !cfg->given[loss_key]) cfg->loss = DT_LOSS_MSE;
    if (cfg->data.task == DT_TASK_CLASSIFICATION && !cfg->given[loss_key]) cfg->loss = DT_LOSS_CROSS_ENTROPY;
    cfg->data.train.present = cfg->data.train.images[0] || cfg->data.train.labels[0] || cfg->data.train.path[0] ||
                              cfg->data.train.x[0] || cfg->data.train.y[0] || cfg->data.train.n_fields;
    cfg->data.test.present = cfg->data.test.images[0] || cfg->data.test.labels[0] || cfg->data.test.path[0] ||
                             cfg->data.test.x[0] || cfg->data.test.y[0] || cfg->data.test.n_fields;
}
