/* Loading the config with the command line's overrides on top. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static dt_status set_option(dt_config *cfg, const char *opt, const char *key, const char *value)
{
    dt_status st = dt_config_set(cfg, key, value);
    if (st != DT_OK) {
        /* Name the option, not the --set spelling dt_config_set reports. */
        char msg[1024];
        const char *m = dt_last_error(), *rest = strstr(m, ": ");
        snprintf(msg, sizeof msg, "%s", rest ? rest + 2 : m);
        return dt_fail(st, "%s: %s", opt, msg);
    }
    return DT_OK;
}

dt_status dt_cli_load_config(const dt_cli *cli, dt_config *cfg)
{
    dt_status st = dt_config_load(cli->config, cfg);
    if (st != DT_OK) return st;
    for (int i = 0; i < cli->n_sets; i++) {
        char key[512];
        const char *eq = strchr(cli->sets[i], '=');
        size_t n = (size_t)(eq - cli->sets[i]);
        if (n >= sizeof key) return dt_fail(DT_ECONFIG, "--set: key too long");
        memcpy(key, cli->sets[i], n);
        key[n] = '\0';
        st = dt_config_set(cfg, key, eq + 1);
        if (st != DT_OK) return st;
    }
    /* Dedicated options win over --set (they are the more specific spelling). */
    if (cli->seed && (st = set_option(cfg, "--seed", "seed", cli->seed)) != DT_OK) return st;
    if (cli->threads && (st = set_option(cfg, "--threads", "threads", cli->threads)) != DT_OK) return st;
    if (cli->jobs && (st = set_option(cfg, "--jobs", "stages.tune.jobs", cli->jobs)) != DT_OK) return st;
    return dt_config_check(cfg);
}
