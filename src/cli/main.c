/* dnntrouble: command dispatch.  Subcommands live in the files next to
 * this one; everything else is library code that never prints. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        dt_cli_print_help(NULL, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("%s %s\n", DT_TOOL_NAME, DT_TOOL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        dt_cli_print_help(argc > 2 ? argv[2] : NULL, stdout);
        return 0;
    }
    if (strcmp(cmd, "bench") == 0) return dt_cli_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0) return dt_cli_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return dt_cli_export(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return dt_cli_report(argc - 1, argv + 1);

    int is_stage = strcmp(cmd, "run") == 0 || dt_stage_find(cmd) != NULL;
    if (!is_stage && strcmp(cmd, "validate") != 0 && strcmp(cmd, "diff") != 0)
        return dt_cli_usage_error(NULL, "unknown command '%s'", cmd);

    dt_cli cli = {.cmd = cmd};
    int rc = dt_cli_parse(argc - 1, argv + 1, &cli);
    if (rc >= 0) return rc;
    if (strcmp(cmd, "validate") == 0) return dt_cli_validate(&cli);
    if (strcmp(cmd, "diff") == 0) return dt_cli_diff(&cli);
    return dt_cli_stage(&cli);
}
