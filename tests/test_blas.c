/* The BLAS kernel choice (SPEC "Performance"): the decision for CPUs other
 * than this one, then the built binary in child processes on this one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dnntrouble/blas.h"
#include "support/test_files.h"

static const dt_cpu_features intel_avx512 = {DT_CPU_INTEL, 1, 1};
static const dt_cpu_features intel_avx2 = {DT_CPU_INTEL, 1, 0};
static const dt_cpu_features amd_avx2 = {DT_CPU_AMD, 1, 0};
static const dt_cpu_features amd_avx512 = {DT_CPU_AMD, 1, 1};
static const dt_cpu_features old_cpu = {DT_CPU_INTEL, 0, 0};

static void test_kernel_levels(void **state)
{
    assert_int_equal(dt_blas_kernel_level("Prescott"), 0);
    assert_int_equal(dt_blas_kernel_level("Nehalem"), 0);
    assert_int_equal(dt_blas_kernel_level("Unknown"), 0);
    assert_int_equal(dt_blas_kernel_level("Sandybridge"), 1);
    assert_int_equal(dt_blas_kernel_level("Haswell"), 2);
    assert_int_equal(dt_blas_kernel_level("ZEN"), 2);
    assert_int_equal(dt_blas_kernel_level("skylakex"), 3);
    assert_int_equal(dt_blas_kernel_level("Cooperlake"), 3);
    assert_int_equal(dt_blas_kernel_level("NeoverseN1"), -1);
    assert_int_equal(dt_blas_kernel_level(NULL), -1);
    assert_int_equal(dt_cpu_level(&intel_avx512), 3);
    assert_int_equal(dt_cpu_level(&amd_avx2), 2);
    assert_int_equal(dt_cpu_level(&old_cpu), 0);
}

/* The machine: an AVX-512 Xeon that OpenBLAS 0.3.21 does not know. */
static void test_unknown_xeon_gets_skylakex(void **state)
{
    dt_blas_plan p = dt_blas_plan_for(&intel_avx512, "Prescott", NULL, NULL);
    assert_true(p.restart);
    assert_string_equal(p.core, "SkylakeX");
    assert_true(p.fallback);
    assert_int_equal(p.source, DT_BLAS_BY_OPENBLAS);
    /* OpenBLAS's own "no AVX512VL" fallback on such a CPU is below it too. */
    p = dt_blas_plan_for(&intel_avx512, "Haswell", NULL, NULL);
    assert_true(p.restart);
    assert_string_equal(p.core, "SkylakeX");
}

static void test_avx2_cpus(void **state)
{
    dt_blas_plan p = dt_blas_plan_for(&intel_avx2, "Prescott", NULL, NULL);
    assert_true(p.restart);
    assert_string_equal(p.core, "Haswell");
    p = dt_blas_plan_for(&amd_avx2, "Prescott", NULL, NULL);
    assert_true(p.restart);
    assert_string_equal(p.core, "Zen");
    p = dt_blas_plan_for(&amd_avx2, "Sandybridge", NULL, "");
    assert_true(p.restart);
    assert_string_equal(p.core, "Zen");
    p = dt_blas_plan_for(&amd_avx512, "Zen", NULL, NULL);  /* Zen 4 */
    assert_true(p.restart);
    assert_string_equal(p.core, "SkylakeX");
}

static void test_matching_kernels_are_kept(void **state)
{
    const struct { const dt_cpu_features *cpu; const char *core; } ok[] = {
        {&intel_avx512, "SkylakeX"}, {&intel_avx512, "Cooperlake"}, {&intel_avx2, "Haswell"},
        {&amd_avx2, "Zen"},          {&amd_avx2, "Haswell"},        {&intel_avx2, "SkylakeX"},
        {&old_cpu, "Prescott"},      {&old_cpu, "Nehalem"},         {&intel_avx512, "SomethingNewer"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        dt_blas_plan p = dt_blas_plan_for(ok[i].cpu, ok[i].core, NULL, NULL);
        assert_false(p.restart);
        assert_false(p.fallback);
        assert_null(p.core);
        assert_int_equal(p.source, DT_BLAS_BY_OPENBLAS);
    }
}

static void test_user_choice_is_obeyed(void **state)
{
    dt_blas_plan p = dt_blas_plan_for(&intel_avx512, "Prescott", "Prescott", NULL);
    assert_false(p.restart);
    assert_true(p.fallback); /* reported, not overridden */
    assert_int_equal(p.source, DT_BLAS_BY_USER);
    p = dt_blas_plan_for(&intel_avx512, "SkylakeX", "SkylakeX", NULL);
    assert_false(p.restart);
    assert_false(p.fallback);
    assert_int_equal(p.source, DT_BLAS_BY_USER);
}

/* After one restart nothing restarts again, even if the library ignored
 * the request: no loop, and the fallback is still reported. */
static void test_restart_happens_once(void **state)
{
    dt_blas_plan p = dt_blas_plan_for(&intel_avx512, "SkylakeX", "SkylakeX", "Prescott");
    assert_false(p.restart);
    assert_false(p.fallback);
    assert_int_equal(p.source, DT_BLAS_BY_DNNTROUBLE);
    p = dt_blas_plan_for(&intel_avx512, "Prescott", "SkylakeX", "Prescott");
    assert_false(p.restart);
    assert_true(p.fallback);
}

/* ------------------------------------------------ the binary, as a child */

static char bin[1024];

/* Runs `[ENV] dnntrouble ARGS`; stdout into out (stderr into err). */
static int run(const char *env, const char *args, char *out, size_t n, char *err, size_t en)
{
    char cmd[2048], ef[] = "/tmp/dt_test_blas_XXXXXX";
    int fd = mkstemp(ef);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u " DT_BLAS_RESTART_ENV
             " -u DNNTROUBLE_TEST_BLAS_FALLBACK %s %s %s 2>%s </dev/null", env, bin, args, ef);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t k = fread(out, 1, n - 1, f);
    out[k] = '\0';
    int rc = pclose(f);
    FILE *e = fopen(ef, "r");
    k = e ? fread(err, 1, en - 1, e) : 0;
    err[k] = '\0';
    if (e) fclose(e);
    unlink(ef);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* The kernel named on `--version`'s BLAS line ("..., kernel Zen ..."). */
static void kernel_of(const char *out, char *kernel, size_t n)
{
    const char *k = strstr(out, ", kernel ");
    if (!k) fail_msg("no kernel in: %s", out);
    k += strlen(", kernel ");
    size_t i = 0;
    while (k[i] && k[i] != ' ' && k[i] != '\n' && i + 1 < n) { kernel[i] = k[i]; i++; }
    kernel[i] = '\0';
}

static void test_binary_runs_a_matching_kernel(void **state)
{
    char out[4096], err[4096], kernel[64];
    dt_cpu_features cpu;
    dt_cpu_detect(&cpu);
    assert_int_equal(run("", "--version", out, sizeof out, err, sizeof err), 0);
    kernel_of(out, kernel, sizeof kernel);
    print_message("this machine: CPU level %d, OpenBLAS by itself: %s\n", dt_cpu_level(&cpu), out);
    /* Never a kernel below what the CPU runs (unknown names aside). */
    int level = dt_blas_kernel_level(kernel);
    if (level >= 0) assert_true(level >= dt_cpu_level(&cpu));
    if (dt_cpu_level(&cpu) >= 2) assert_true(level != 0);
    assert_null(strstr(err, "warning"));
}

/* The restart itself, on a CPU that OpenBLAS knows: load the generic kernel
 * on purpose and let the binary treat it as OpenBLAS's own choice. */
static void test_binary_replaces_a_generic_kernel(void **state)
{
    char out[4096], err[4096], kernel[64];
    dt_cpu_features cpu;
    /* valgrind answers CPUID for this process with its own CPU model, while the
     * child binary runs natively: the two would name different kernels. */
    if (dt_test_under_valgrind()) {
        print_message("(under valgrind: CPUID is emulated here, not in the child; skipped)\n");
        skip();
    }
    dt_cpu_detect(&cpu);
    if (dt_cpu_level(&cpu) < 2) skip(); /* nothing better to switch to */
    assert_int_equal(run("OPENBLAS_CORETYPE=Prescott DNNTROUBLE_TEST_BLAS_FALLBACK=1", "--version", out,
                         sizeof out, err, sizeof err), 0);
    kernel_of(out, kernel, sizeof kernel);
    assert_true(dt_blas_kernel_level(kernel) >= dt_cpu_level(&cpu));
    assert_non_null(strstr(out, "OpenBLAS chose Prescott; corrected"));
    assert_string_equal(kernel, cpu.avx512 ? "SkylakeX" : cpu.vendor == DT_CPU_AMD ? "Zen" : "Haswell");
    /* The corrected kernel reaches what the program runs: bench --json says it. */
    assert_int_equal(run("OPENBLAS_CORETYPE=Prescott DNNTROUBLE_TEST_BLAS_FALLBACK=1",
                         "bench --model mlp --batch 4 --seconds 0.01 --json", out, sizeof out, err, sizeof err), 0);
    char want[128];
    snprintf(want, sizeof want, "\"blas_kernel\": \"%s\"", kernel);
    if (!strstr(out, want)) fail_msg("bench output lacks %s: %s", want, out);
}

static void test_binary_obeys_the_user(void **state)
{
    char out[4096], err[4096], kernel[64];
    dt_cpu_features cpu;
    dt_cpu_detect(&cpu);
    assert_int_equal(run("OPENBLAS_CORETYPE=Prescott", "--version", out, sizeof out, err, sizeof err), 0);
    kernel_of(out, kernel, sizeof kernel);
    assert_string_equal(kernel, "Prescott");
    assert_non_null(strstr(out, "set by OPENBLAS_CORETYPE"));
    /* ...but not silently, on a CPU that could do better. */
    if (dt_cpu_level(&cpu) >= 2) assert_non_null(strstr(err, "warning: BLAS OpenBLAS"));
}

int main(int argc, char **argv)
{
    /* build[/san]/tests/test_blas -> build[/san]/dnntrouble */
    char self[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bin, sizeof bin, "%s/../dnntrouble", dirname(self));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_levels),
        cmocka_unit_test(test_unknown_xeon_gets_skylakex),
        cmocka_unit_test(test_avx2_cpus),
        cmocka_unit_test(test_matching_kernels_are_kept),
        cmocka_unit_test(test_user_choice_is_obeyed),
        cmocka_unit_test(test_restart_happens_once),
        cmocka_unit_test(test_binary_runs_a_matching_kernel),
        cmocka_unit_test(test_binary_replaces_a_generic_kernel),
        cmocka_unit_test(test_binary_obeys_the_user),
    };
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "test_blas: %s is missing: run `make` first\n", bin);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
