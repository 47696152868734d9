/* `dnntrouble validate CONFIG`: load, check, print the resolved config. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int dt_cli_validate(const dt_cli *cli)
{
    dt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return dt_cli_fail(dt_fail(DT_ENOMEM, "out of memory"));
    dt_status st = dt_cli_load_config(cli, cfg);
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
        if (yaml) fputs(yaml, stdout);
        free(yaml);
    }
    free(cfg);
    return 0;
}
