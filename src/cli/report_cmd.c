/* `dnntrouble report RUN`: the verdict and RUN/report.html, rewritten from
 * the run's JSON reports (so an old run, or one made stage by stage, gets
 * the page too). */
#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dnntrouble/report.h"

#define MAX_REPORTS 16

int dt_cli_report(int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {"junit", required_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int quiet = 0;
    const char *junit = NULL;
    opterr = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, ":", opts, NULL)) != -1;) {
        if (c == 'h') {
            dt_cli_print_help("report", stdout);
            return 0;
        }
        if (c == 'q') quiet = 1;
        else if (c == 'j') junit = optarg;
        else if (c == ':') return dt_cli_usage_error("report ", "option '%s' needs a value", argv[optind - 1]);
        else return dt_cli_usage_error("report ", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return dt_cli_usage_error("report ", "report needs one RUN folder");
    const char *dir = argv[optind];
    cJSON *reports[MAX_REPORTS] = {0}, *summary = NULL;
    int n = 0;
    dt_status st = dt_run_load(dir, reports, MAX_REPORTS, &n, &summary);
    if (st) return dt_cli_fail(st == DT_EIO ? DT_EDATA : st);
    const cJSON *const *rs = (const cJSON *const *)reports;
    if (!quiet) {
        dt_run_verdict *v = malloc(sizeof *v);
        if (v) {
            dt_verdict_build(rs, n, summary, dir, v);
            char *text = dt_verdict_format(v);
            if (text) fputs(text, stdout);
            free(text);
            free(v);
        }
    }
    st = dt_html_write(rs, n, summary, dir);
    if (!st && junit) st = dt_junit_write(rs, n, summary, junit);
    for (int i = 0; i < n; i++) cJSON_Delete(reports[i]);
    cJSON_Delete(summary);
    if (st) return dt_cli_fail(st);
    if (!quiet) printf("wrote %s/report.html\n", dir);
    return 0;
}
