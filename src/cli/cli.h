/* Private to src/cli: parsed command line and the subcommand runners. */
#ifndef DT_CLI_H
#define DT_CLI_H

#include <stdio.h>

#include "dnntrouble/config.h"
#include "dnntrouble/status.h"

#define DT_CLI_MAX_SETS 256

typedef struct dt_cli {
    const char *cmd;
    const char *config;          /* CONFIG (stage commands, validate) */
    const char *old_path, *new_path;   /* diff */
    const char *out;             /* --out; NULL: runs/NAME */
    const char *seed, *threads, *jobs;  /* as given, applied through dt_config_set */
    const char *junit;           /* --junit FILE: JUnit XML of the stage or run */
    const char *sets[DT_CLI_MAX_SETS];
    int n_sets;
    int quiet, resume, mpi;     /* mpi: tune --mpi */
    double abs_tol, rel_tol;     /* diff */
} dt_cli;

/* Parses argv after the subcommand.  Returns -1 to go on, otherwise the
 * exit code (0 after --help, 2 after a usage error, already reported). */
int dt_cli_parse(int argc, char **argv, dt_cli *cli);
/* Prints "dnntrouble: error: ..." and returns 2. */
int dt_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the library's last error and returns the exit code for st. */
int dt_cli_fail(dt_status st);
void dt_cli_print_help(const char *cmd, FILE *out);

/* Loads CONFIG and applies --set/--seed/--threads/--jobs (cfg is filled). */
dt_status dt_cli_load_config(const dt_cli *cli, dt_config *cfg);

int dt_cli_validate(const dt_cli *cli);
int dt_cli_stage(const dt_cli *cli);   /* one stage, or `run` for all */
int dt_cli_diff(const dt_cli *cli);
/* Commands on a saved model (model_cmds.c); argv[0] is the command. */
int dt_cli_predict(int argc, char **argv);
int dt_cli_export(int argc, char **argv);
/* `dnntrouble report RUN`: rewrites RUN/report.html from its JSON reports (report_cmd.c). */
int dt_cli_report(int argc, char **argv);
/* `dnntrouble zoo`: the bug zoo's detection table (zoo.c). */
int dt_cli_zoo(int argc, char **argv);

#endif
