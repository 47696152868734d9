/* `dnntrouble validate CONFIG`: load and check the config, open the data it
 * names (files, headers, shapes, labels: no training) and build the model on
 * the data's shapes, then print the resolved config. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dnntrouble/stage.h"

int dt_cli_validate(const dt_cli *cli)
{
    dt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return dt_cli_fail(dt_fail(DT_ENOMEM, "out of memory"));
    dt_status st = dt_cli_load_config(cli, cfg);
    dt_stage_ctx ctx = {.cfg = cfg, .quiet = 1};
    dt_preflight pf;
    if (st == DT_OK) st = dt_stage_preflight(&ctx, &pf);
    dt_stage_ctx_release(&ctx);
    if (st != DT_OK) {
        free(cfg);
        return dt_cli_fail(st);
    }
    if (!cli->quiet) {
        char *yaml = dt_config_to_yaml(cfg);
        int defaulted = 0;
        for (int i = 0; i < dt_config_key_count(); i++) defaulted += !dt_config_given(cfg, dt_config_key_name(i));
        printf("%s: valid (name %s, %s data, %d keys defaulted)\n", cli->config, cfg->name,
               dt_format_name(cfg->data.format), defaulted);
        printf("# data: %zu train, %zu train_val, %zu test_val, %zu test rows; %d input field%s; %d classes\n",
               pf.split[0], pf.split[1], pf.split[2], pf.split[3], pf.n_fields, pf.n_fields == 1 ? "" : "s",
               pf.classes);
        printf("# model: %d layers, %zu parameters\n", pf.layers, pf.params);
        if (yaml) fputs(yaml, stdout);
        free(yaml);
    }
    free(cfg);
    return 0;
}
