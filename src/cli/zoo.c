/* `dnntrouble zoo`: runs the bug zoo (include/dnntrouble/zoo.h), prints the
 * detection table and writes OUT/zoo.json, zoo.md and zoo.html.  Exit 0 when
 * every bug case is detected and no clean case raises a warning or error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dnntrouble/report.h"
#include "dnntrouble/zoo.h"

static int parse_count(const char *opt, const char *s, long lo, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || !*s || v < lo) return dt_cli_usage_error("zoo ", "%s needs an integer >= %ld, got '%s'", opt, lo, s);
    *out = v;
    return -1;
}

int dt_cli_zoo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},  {"quick", no_argument, NULL, 'k'},
        {"case", required_argument, NULL, 'c'}, {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"list", no_argument, NULL, 'l'},
        {"quiet", no_argument, NULL, 'q'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    dt_zoo_options o = {.out_dir = "runs/zoo", .threads = 1};
    const char **only = calloc((size_t)dt_n_zoo_cases + 1, sizeof *only);
    int n_only = 0, quiet = 0, list = 0, rc = -1;
    long v = 0;
    if (!only) return dt_cli_fail(dt_fail(DT_ENOMEM, "out of memory"));
    opterr = 0;
    optind = 1;
    for (int c; rc < 0 && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1;) {
        switch (c) {
        case 'h': dt_cli_print_help("zoo", stdout); rc = 0; break;
        case 'o': o.out_dir = optarg; break;
        case 'k': o.quick = 1; break;
        case 'q': quiet = 1; break;
        case 'l': list = 1; break;
        case 's': if ((rc = parse_count("--seed", optarg, 0, &v)) < 0) o.seed = (unsigned long long)v; break;
        case 't': if ((rc = parse_count("--threads", optarg, 1, &v)) < 0) o.threads = (int)v; break;
        case 'c':
            if (!dt_zoo_find(optarg)) rc = dt_cli_usage_error("zoo ", "no zoo case '%s' (see dnntrouble zoo --list)", optarg);
            else if (n_only < dt_n_zoo_cases) only[n_only++] = optarg;
            break;
        case ':': rc = dt_cli_usage_error("zoo ", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = dt_cli_usage_error("zoo ", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc < 0 && optind < argc) rc = dt_cli_usage_error("zoo ", "unexpected argument '%s'", argv[optind]);
    if (rc >= 0) {
        free(only);
        return rc;
    }
    if (list) {
        for (int i = 0; i < dt_n_zoo_cases; i++)
            printf("%-20s %-15s %s\n", dt_zoo_cases[i].name, dt_zoo_cases[i].source, dt_zoo_cases[i].bug);
        free(only);
        return 0;
    }
    dt_zoo_result *res = calloc((size_t)dt_n_zoo_cases, sizeof *res);
    dt_status st = res ? dt_mkdir_p(o.out_dir) : dt_fail(DT_ENOMEM, "out of memory");
    int n = 0;
    for (int i = 0; !st && i < dt_n_zoo_cases; i++) {
        const dt_zoo_case *c = &dt_zoo_cases[i];
        int pick = n_only == 0;
        for (int k = 0; k < n_only; k++) pick |= strcmp(only[k], c->name) == 0;
        if (!pick) continue;
        st = dt_zoo_run_case(c, &o, &res[n]);
        if (st) break;
        if (!quiet)
            fprintf(stderr, "zoo: %-20s %-11s %5.1f s  %s\n", c->name,
                    c->expected[0] ? (res[n].detected ? "detected" : "missed")
                                   : (res[n].false_alarm ? "false alarm" : "clean"),
                    res[n].seconds, res[n].fired[0] ? res[n].fired : res[n].stopped ? res[n].error : "-");
        n++;
    }
    if (!st) st = dt_zoo_write(res, n, &o);
    if (st) {
        free(res);
        free(only);
        return dt_cli_fail(st);
    }
    dt_zoo_score s = dt_zoo_score_results(res, n);
    if (!quiet) {
        char *table = dt_zoo_table_text(res, n);
        if (table) fputs(table, stdout);
        free(table);
        printf("wrote %s/zoo.json, zoo.md, zoo.html (%s profile)\n", o.out_dir, o.quick ? "quick" : "full");
    }
    free(res);
    free(only);
    return s.passed ? 0 : 1;
}
