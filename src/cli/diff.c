/* `dnntrouble diff OLD NEW`: prints the comparison table; exit 1 on a regression. */
#include <stdio.h>

#include "cli.h"
#include "dnntrouble/report.h"

static void print_row(const dt_diff_row *r)
{
    char o[32] = "-", n[32] = "-", delta[32] = "";
    if (r->old_text[0] || r->new_text[0]) {
        if (r->has_old) snprintf(o, sizeof o, "%s", r->old_text);
        if (r->has_new) snprintf(n, sizeof n, "%s", r->new_text);
    } else {
        if (r->has_old) snprintf(o, sizeof o, "%.6g", r->old_value);
        if (r->has_new) snprintf(n, sizeof n, "%.6g", r->new_value);
        if (r->has_old && r->has_new) snprintf(delta, sizeof delta, "%+.3g", r->new_value - r->old_value);
    }
    const char *dir = r->dir == DT_DIR_LOWER ? "lower" : r->dir == DT_DIR_HIGHER ? "higher" : "";
    char tol[40] = "";
    if (r->tolerance > 0) snprintf(tol, sizeof tol, "%.3g%s", r->tolerance, r->noise_based ? " (noise)" : "");
    printf("%-28s %12s %12s %10s  %-6s %-16s %s\n", r->name, o, n, delta, dir, tol, r->regressed ? "REGRESSED" : "ok");
}

int dt_cli_diff(const dt_cli *cli)
{
    dt_diff d;
    dt_status st = dt_diff_runs(cli->old_path, cli->new_path, cli->abs_tol, cli->rel_tol, &d);
    if (st != DT_OK) return dt_cli_fail(st);
    if (!cli->quiet) {
        if (d.data_differs[0])
            printf("warning: the runs are on different data (%s differs): their numbers measure different things\n",
                   d.data_differs);
        if (d.model_differs[0]) printf("note: the network differs (%s)\n", d.model_differs);
        printf("%-28s %12s %12s %10s  %-6s %-16s %s\n", "metric", "old", "new", "delta", "better", "tolerance",
               "verdict");
        for (int i = 0; i < d.n; i++) print_row(&d.rows[i]);
        printf("%d regression%s (tolerance: max(%g, %g x |old|, %g x the combined standard error when both runs "
               "report one))\n",
               d.regressions, d.regressions == 1 ? "" : "s", cli->abs_tol, cli->rel_tol, DT_DIFF_NOISE_Z);
    }
    int rc = d.regressions ? 1 : 0;
    dt_diff_free(&d);
    return rc;
}
