/* Command-line options shared by the subcommands, and their --help. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dnntrouble/mpi.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

static const char common_help[] =
    "options:\n"
    "  --out DIR         output folder (default runs/NAME, NAME from the config)\n"
    "  --seed N          override seed\n"
    "  --threads N       BLAS threads per training run (override threads)\n"
    "  --set KEY=VALUE   override any config key (dotted, YAML value); repeatable\n"
    "  --quiet           no progress, result lines or verdict, errors only\n"
    "  --junit FILE      also write JUnit XML (a testcase per stage and gate) for CI\n"
    "  --help            this help\n";

static const char *command_line(const char *cmd)
{
    if (strcmp(cmd, "run") == 0) return "all stages in order; stops early at a failure that makes the rest moot";
    if (strcmp(cmd, "validate") == 0) return "check the config only and print it resolved";
    if (strcmp(cmd, "diff") == 0) return "compare two run directories (or summary.json files) for CI";
    if (strcmp(cmd, "bench") == 0) return "training throughput of the starter models";
    if (strcmp(cmd, "predict") == 0) return "write predictions of a saved model for a data file (CSV out)";
    if (strcmp(cmd, "export") == 0) return "a PyTorch nn.Module that loads the checkpoint strictly";
    if (strcmp(cmd, "report") == 0) return "(re)write RUN/report.html from the run's JSON reports";
    if (strcmp(cmd, "zoo") == 0) return "the built-in bug zoo: known broken set-ups, detection table";
    const dt_stage_def *s = dt_stage_find(cmd);
    return s ? s->help : NULL;
}

void dt_cli_print_help(const char *cmd, FILE *out)
{
    if (!cmd || !command_line(cmd)) {
        fprintf(out,
                "usage: dnntrouble COMMAND CONFIG [options]\n"
                "\n"
                "Runs Josh Tobin's deep-network troubleshooting decision tree on a dataset.\n"
                "\n"
                "commands:\n"
                "  %-22s %s\n",
                "run CONFIG", command_line("run"));
        for (int i = 0; i < dt_n_stages; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s CONFIG", dt_stages[i].name);
            fprintf(out, "  %-22s %s\n", name, dt_stages[i].help);
        }
        fprintf(out,
                "  validate CONFIG        %s\n"
                "  diff OLD NEW           %s\n"
                "  bench                  %s\n"
                "  predict RUN|CKPT DATA  %s\n"
                "  export RUN|CKPT --torch FILE.py\n"
                "                         %s\n"
                "  report RUN             %s\n"
                "  zoo [--out DIR]        %s\n"
                "\n%s  --version         print the version\n"
                "\nexit codes: 0 passed (warnings allowed), 1 a stage failed or a gate tripped,\n"
                "            2 usage or configuration error, 3 data error, 4 internal or resource error\n"
                "Run 'dnntrouble COMMAND --help' for a command's options.\n",
                command_line("validate"), command_line("diff"), command_line("bench"), command_line("predict"),
                command_line("export"), command_line("report"), command_line("zoo"), common_help);
        return;
    }
    if (strcmp(cmd, "diff") == 0) {
        fprintf(out,
                "usage: dnntrouble diff OLD NEW [options]\n\n%s.\n"
                "OLD and NEW are run folders (holding summary.json) or summary.json files.\n"
                "Lower-is-better metrics (names with error, loss, bias, variance, shift, val_overfit)\n"
                "regress when NEW > OLD + max(ABS, REL * |OLD|); accuracy the other way round;\n"
                "a stage status regresses when it gets worse (pass < warn < fail/skipped).\n"
                "Exit 1 when anything regressed, 0 otherwise.\n\n"
                "options:\n"
                "  --tolerance ABS       absolute tolerance (default %g)\n"
                "  --rel-tolerance REL   relative tolerance (default %g)\n"
                "  --quiet               print nothing, only the exit code tells\n"
                "  --help                this help\n",
                command_line(cmd), DT_DIFF_ABS_TOL, DT_DIFF_REL_TOL);
        return;
    }
    if (strcmp(cmd, "predict") == 0) {
        fprintf(out,
                "usage: dnntrouble predict RUN|CKPT DATA [options]\n\n%s.\n"
                "RUN is a run folder (its model.safetensors) or CKPT a checkpoint.  DATA is a .npy, .csv\n"
                "(features only) or IDX image file in raw units; a model with several inputs takes\n"
                "NAME=FILE per input.  The checkpoint's normalization is applied.  Each CSV row holds\n"
                "the row index, the predicted original label and the class probabilities (regression:\n"
                "the outputs).  Data of the wrong shape is exit 3.\n\n"
                "options:\n"
                "  --out FILE     where to write (default predictions.csv)\n"
                "  --no-header    CSV data has no header row\n"
                "  --quiet        print nothing on success\n"
                "  --help         this help\n",
                command_line(cmd));
        return;
    }
    if (strcmp(cmd, "export") == 0) {
        fprintf(out,
                "usage: dnntrouble export RUN|CKPT --torch FILE.py\n\n%s.\n"
                "FILE.py defines class Net (no arguments), one attribute per layer with parameters;\n"
                "Net().load_state_dict(tensors, strict=True) takes the checkpoint's tensors, and forward\n"
                "takes one raw tensor per model input and applies the checkpoint's normalization.\n",
                command_line(cmd));
        return;
    }
    if (strcmp(cmd, "report") == 0) {
        fprintf(out,
                "usage: dnntrouble report RUN [options]\n\n%s.\n"
                "RUN is a run folder (--out of run or of single stages).  Prints the verdict and\n"
                "writes RUN/report.html: one self-contained page (inline SVG and CSS, no scripts)\n"
                "with the verdict on top, then each stage's findings and plots.  Exit 3 when RUN\n"
                "holds no report.\n\n"
                "options:\n"
                "  --junit FILE   also write JUnit XML of the run\n"
                "  --quiet        print nothing on success\n"
                "  --help         this help\n",
                command_line(cmd));
        return;
    }
    if (strcmp(cmd, "zoo") == 0) {
        fprintf(out,
                "usage: dnntrouble zoo [options]\n\n%s.\n"
                "Each case plants one known bug (from DeepFD, TheDeepChecker, AUTOTRAINER, DeepCrime,\n"
                "UMLAUT) in generated data and a small model, runs the stages that should catch it and\n"
                "checks that its expected finding fires; clean cases must raise no warning or error.\n"
                "Prints the table with recall and precision and writes OUT/zoo.json, OUT/zoo.md,\n"
                "OUT/zoo.html and each case's reports under OUT/cases/NAME/ (docs/zoo.md).\n"
                "Exit 0 when every bug is detected and no clean case raises a false alarm, else 1.\n\n"
                "options:\n"
                "  --out DIR       output folder (default runs/zoo)\n"
                "  --quick         the quick profile: half the data (what make test runs)\n"
                "  --case NAME     run only this case; repeatable\n"
                "  --list          list the cases and exit\n"
                "  --seed N        seed of the data and of every stage (default 0)\n"
                "  --threads N     BLAS threads per training run (default 1)\n"
                "  --quiet         print nothing; only the exit code tells\n"
                "  --help          this help\n",
                command_line(cmd));
        return;
    }
    fprintf(out, "usage: dnntrouble %s CONFIG [options]\n\n%s.\n\n%s", cmd, command_line(cmd), common_help);
    if (strcmp(cmd, "tune") == 0)
        fprintf(out, "  --jobs N          trials trained in parallel (override stages.tune.jobs)\n"
                     "  --resume          continue from OUT/trials.jsonl\n"
                     "  --mpi             one study over an Open MPI job: mpirun -np N dnntrouble tune CONFIG --mpi\n"
                     "                    (rank 0 runs the study, the other N-1 ranks train; docs/tune.md)\n");
    if (strcmp(cmd, "lr-find") == 0)
        fprintf(out, "\nOne sweep of stages.lr-find.steps train batches, the lr growing exponentially from\n"
                     "stages.lr-find.min_lr to max_lr, stopped when the smoothed loss exceeds diverge x its\n"
                     "minimum; suggested lr: the lr of the smoothed minimum / 10.  Leaves the model as it\n"
                     "was.  Writes OUT/lr-find.json (suggested_lr, curve); in 'run', tune's default lr\n"
                     "range centres on the suggestion (docs/tune.md \"lr-find\").\n");
    if (strcmp(cmd, "run") == 0)
        fprintf(out, "\nWrites OUT/STAGE.json per stage and OUT/summary.json; applies gates.\n");
}

int dt_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dnntrouble: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'dnntrouble %s--help'.\n", cmd ? cmd : "");
    return 2;
}

int dt_cli_fail(dt_status st)
{
    fprintf(stderr, "dnntrouble: error: %s\n", dt_last_error()[0] ? dt_last_error() : dt_status_name(st));
    return dt_status_exit_code(st);
}

static int parse_tol(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    if (*end || !*s || *out < 0) return dt_cli_usage_error(cmd, "%s needs a number >= 0, got '%s'", opt, s);
    return -1;
}

enum { OPT_OUT = 256, OPT_SEED, OPT_THREADS, OPT_SET, OPT_QUIET, OPT_HELP, OPT_JOBS, OPT_RESUME, OPT_TOL, OPT_RELTOL,
       OPT_JUNIT, OPT_MPI };

int dt_cli_parse(int argc, char **argv, dt_cli *cli)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, OPT_OUT},     {"seed", required_argument, NULL, OPT_SEED},
        {"threads", required_argument, NULL, OPT_THREADS}, {"set", required_argument, NULL, OPT_SET},
        {"quiet", no_argument, NULL, OPT_QUIET},       {"help", no_argument, NULL, OPT_HELP},
        {"jobs", required_argument, NULL, OPT_JOBS},   {"resume", no_argument, NULL, OPT_RESUME},
        {"tolerance", required_argument, NULL, OPT_TOL}, {"rel-tolerance", required_argument, NULL, OPT_RELTOL},
        {"junit", required_argument, NULL, OPT_JUNIT}, {"mpi", no_argument, NULL, OPT_MPI},
        {NULL, 0, NULL, 0}};
    char cmdsp[64];
    const char *cmd = cli->cmd;
    int is_diff = strcmp(cmd, "diff") == 0, is_tune = strcmp(cmd, "tune") == 0, rc;
    snprintf(cmdsp, sizeof cmdsp, "%s ", cmd);
    cli->abs_tol = DT_DIFF_ABS_TOL;
    cli->rel_tol = DT_DIFF_REL_TOL;
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":", opts, NULL);
        if (c == -1) break;
        /* Options that only make sense for some commands are usage errors elsewhere. */
        int diff_only = c == OPT_TOL || c == OPT_RELTOL, tune_only = c == OPT_JOBS || c == OPT_RESUME || c == OPT_MPI;
        int config_only = c == OPT_OUT || c == OPT_SEED || c == OPT_THREADS || c == OPT_SET;
        int stage_only = c == OPT_JUNIT;
        if ((diff_only && !is_diff) || (tune_only && !is_tune) || (config_only && is_diff) ||
            (stage_only && (is_diff || strcmp(cmd, "validate") == 0)))
            return dt_cli_usage_error(cmdsp, "option '%s' does not apply to '%s'", argv[optind - 1], cmd);
        switch (c) {
        case OPT_OUT: cli->out = optarg; break;
        case OPT_SEED: cli->seed = optarg; break;
        case OPT_THREADS: cli->threads = optarg; break;
        case OPT_JOBS: cli->jobs = optarg; break;
        case OPT_RESUME: cli->resume = 1; break;
        case OPT_MPI: cli->mpi = 1; break;
        case OPT_QUIET: cli->quiet = 1; break;
        case OPT_JUNIT: cli->junit = optarg; break;
        case OPT_HELP: dt_cli_print_help(cmd, stdout); return 0;
        case OPT_SET:
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return dt_cli_usage_error(cmdsp, "--set needs KEY=VALUE, got '%s'", optarg);
            if (cli->n_sets == DT_CLI_MAX_SETS) return dt_cli_usage_error(cmdsp, "too many --set options");
            cli->sets[cli->n_sets++] = optarg;
            break;
        case OPT_TOL:
            if ((rc = parse_tol(cmdsp, "--tolerance", optarg, &cli->abs_tol)) >= 0) return rc;
            break;
        case OPT_RELTOL:
            if ((rc = parse_tol(cmdsp, "--rel-tolerance", optarg, &cli->rel_tol)) >= 0) return rc;
            break;
        case ':': return dt_cli_usage_error(cmdsp, "option '%s' needs a value", argv[optind - 1]);
        default:
            return dt_cli_usage_error(cmdsp, "unknown option '%s'", argv[optind - 1]);
        }
    }
    int npos = argc - optind, want = is_diff ? 2 : 1;
    if (npos != want) {
        if (is_diff) return dt_cli_usage_error(cmdsp, "diff needs OLD and NEW (run folders or summary.json files)");
        if (npos == 0) return dt_cli_usage_error(cmdsp, "missing CONFIG (a YAML file)");
        return dt_cli_usage_error(cmdsp, "unexpected argument '%s'", argv[optind + 1]);
    }
    if (is_diff) {
        cli->old_path = argv[optind];
        cli->new_path = argv[optind + 1];
    } else {
        cli->config = argv[optind];
    }
    if (cli->mpi && cli->jobs)
        return dt_cli_usage_error(cmdsp, "--jobs does not apply with --mpi: the ranks are the workers (mpirun -np N)");
    if (cli->mpi && !dt_mpi_available())
        return dt_cli_usage_error(cmdsp, "--mpi: this dnntrouble was built without Open MPI; install it "
                                         "(apt-get install openmpi-bin libopenmpi-dev) and rebuild (make)");
    return -1;
}
