/* dnntrouble: command dispatch.  Subcommands live in the files next to
 * this one; everything else is library code that never prints. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "dnntrouble/blas.h"
#include "dnntrouble/names.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

/* SPEC "Performance": never run on a generic OpenBLAS kernel silently.
 * OpenBLAS chose its kernel when it was loaded, before main; if that is
 * below what this CPU runs (a CPU model newer than the library gets
 * `Prescott`) and the user did not choose one, restart this same program
 * once with OPENBLAS_CORETYPE set to the matching kernel.  Called before
 * any BLAS call.  DNNTROUBLE_TEST_BLAS_FALLBACK=1 (tests only) treats
 * OPENBLAS_CORETYPE as OpenBLAS's own choice, so the restart can be tested
 * on CPUs that OpenBLAS recognises. */
static void use_matching_blas_kernel(char **argv, int quiet)
{
    const char *loaded = openblas_get_corename();
    const char *user = getenv("DNNTROUBLE_TEST_BLAS_FALLBACK") ? NULL : getenv("OPENBLAS_CORETYPE");
    dt_cpu_features cpu;
    dt_cpu_detect(&cpu);
    dt_blas_plan p = dt_blas_plan_for(&cpu, loaded, user, getenv(DT_BLAS_RESTART_ENV));
    if (p.restart) {
        char was[64];
        snprintf(was, sizeof was, "%s", loaded ? loaded : "unknown");
        if (setenv("OPENBLAS_CORETYPE", p.core, 1) == 0 && setenv(DT_BLAS_RESTART_ENV, was, 1) == 0) {
            fflush(NULL);
            execv("/proc/self/exe", argv);
        }
        int err = errno;
        unsetenv(DT_BLAS_RESTART_ENV);
        if (user) setenv("OPENBLAS_CORETYPE", user, 1);
        else unsetenv("OPENBLAS_CORETYPE");
        fprintf(stderr,
                "dnntrouble: warning: OpenBLAS runs its generic kernel %s on this CPU; restarting with "
                "OPENBLAS_CORETYPE=%s failed (%s): training will be several times slower (set "
                "OPENBLAS_CORETYPE=%s yourself)\n",
                was, p.core, strerror(err), p.core);
        return;
    }
    if (p.fallback && !quiet) {
        dt_blas_info info;
        char label[128];
        dt_blas_info_get(&info);
        fprintf(stderr, "dnntrouble: warning: BLAS %s is below what this CPU supports (%s): training will be "
                        "several times slower%s\n",
                dt_blas_label(&info, label, sizeof label), cpu.avx512 ? "AVX-512" : "AVX2+FMA",
                p.source == DT_BLAS_BY_USER ? "; unset OPENBLAS_CORETYPE to let dnntrouble choose" : "");
    }
}

int main(int argc, char **argv)
{
    int quiet = 0;
    for (int i = 1; i < argc; i++) quiet |= strcmp(argv[i], "--quiet") == 0;
    use_matching_blas_kernel(argv, quiet);
    if (argc < 2) {
        dt_cli_print_help(NULL, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        dt_blas_info info;
        char label[128];
        dt_blas_info_get(&info);
        printf("%s %s\n%s\n", DT_TOOL_NAME, DT_TOOL_VERSION, dt_blas_label(&info, label, sizeof label));
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
    if (strcmp(cmd, "zoo") == 0) return dt_cli_zoo(argc - 1, argv + 1);

    int is_stage = strcmp(cmd, "run") == 0 || dt_stage_find(cmd) != NULL;
    if (!is_stage && strcmp(cmd, "validate") != 0 && strcmp(cmd, "diff") != 0)
    {
        /* "did you mean": the closest command within two edits. */
        static const char *const extra[] = {"run", "validate", "diff", "bench", "predict", "export", "report", "zoo", NULL};
        const char *best = NULL;
        int bd = 3;
        for (int i = 0; extra[i]; i++)
            if (dt_edit_distance(cmd, extra[i]) < bd) bd = dt_edit_distance(cmd, best = extra[i]);
        for (int i = 0; i < dt_n_stages; i++)
            if (dt_edit_distance(cmd, dt_stages[i].name) < bd) bd = dt_edit_distance(cmd, best = dt_stages[i].name);
        if (best) return dt_cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", cmd, best);
        return dt_cli_usage_error(NULL, "unknown command '%s'", cmd);
    }

    dt_cli cli = {.cmd = cmd};
    int rc = dt_cli_parse(argc - 1, argv + 1, &cli);
    if (rc >= 0) return rc;
    if (strcmp(cmd, "validate") == 0) return dt_cli_validate(&cli);
    if (strcmp(cmd, "diff") == 0) return dt_cli_diff(&cli);
    return dt_cli_stage(&cli);
}
