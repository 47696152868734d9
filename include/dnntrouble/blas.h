/* The BLAS in use and the kernel it runs (SPEC "Performance").
 *
 * OpenBLAS (Debian's DYNAMIC_ARCH build) picks its compute kernel from the
 * CPU model when the library loads.  A CPU model newer than the library is
 * not recognised and gets the generic `Prescott` kernel (SSE3), about 4x
 * slower than the AVX2/AVX-512 ones the CPU could run.  The kernel can only
 * be chosen at load time, through OPENBLAS_CORETYPE, so the CLI (src/cli/
 * main.c) asks dt_blas_plan_for() before any BLAS call and, when it says
 * so, sets OPENBLAS_CORETYPE and re-executes itself once.  The decision is
 * a pure function of (CPU features, loaded kernel, environment) so that it
 * can be tested for CPUs other than the one the tests run on.
 *
 * A user's own OPENBLAS_CORETYPE is always obeyed; reports then say so. */
#ifndef DT_BLAS_H
#define DT_BLAS_H

#include <stddef.h>

/* Environment variable the CLI sets when it re-executes with a corrected
 * kernel; its value is the kernel OpenBLAS had chosen by itself.  Seeing it
 * means "already corrected once": never restart again (no loops). */
#define DT_BLAS_RESTART_ENV "DNNTROUBLE_BLAS_REPLACED"

typedef enum { DT_CPU_OTHER, DT_CPU_INTEL, DT_CPU_AMD } dt_cpu_vendor;

/* What the CPU *and* the operating system support (state saving enabled). */
typedef struct dt_cpu_features {
    dt_cpu_vendor vendor;          /* AMD covers Hygon (same kernels in OpenBLAS) */
    int avx2_fma;                  /* AVX2 and FMA3 */
    int avx512;                    /* AVX-512 F, CD, VL, BW and DQ (OpenBLAS SkylakeX level) */
} dt_cpu_features;

/* This machine's features (all zero on non-x86 machines). */
void dt_cpu_detect(dt_cpu_features *cpu);

/* Vector level of an OpenBLAS x86 kernel name (case-insensitive):
 * 3 AVX-512 (SkylakeX, Cooperlake, SapphireRapids), 2 AVX2 (Haswell, Zen),
 * 1 AVX (Sandybridge, Bulldozer family), 0 SSE-only or generic (Prescott,
 * Nehalem, Core2, Barcelona, ... and "Unknown"), -1 a name this table does
 * not know (a newer library, or another architecture). */
int dt_blas_kernel_level(const char *kernel);
/* The highest level the CPU can run (3, 2 or 0: only AVX2+FMA and AVX-512
 * matter here, SPEC "Performance"). */
int dt_cpu_level(const dt_cpu_features *cpu);

typedef enum {
    DT_BLAS_BY_OPENBLAS,           /* OpenBLAS's own detection, kept */
    DT_BLAS_BY_USER,               /* the user's OPENBLAS_CORETYPE */
    DT_BLAS_BY_DNNTROUBLE          /* corrected by dnntrouble (restart with OPENBLAS_CORETYPE) */
} dt_blas_source;

typedef struct dt_blas_plan {
    int restart;                   /* 1: set OPENBLAS_CORETYPE=core, DT_BLAS_RESTART_ENV=loaded, re-exec */
    const char *core;              /* the kernel matching the CPU (restart), else NULL */
    int fallback;                  /* the loaded kernel is below the CPU's level (after any restart) */
    dt_blas_source source;         /* who chose the loaded kernel */
} dt_blas_plan;

/* The decision.  loaded: the kernel OpenBLAS runs now
 * (openblas_get_corename()); user_coretype: OPENBLAS_CORETYPE as the user
 * set it (NULL when unset); replaced: DT_BLAS_RESTART_ENV (NULL when this
 * process was not restarted).  Restarts only when the user did not choose,
 * no restart happened yet, the CPU has AVX2+FMA or AVX-512, and the loaded
 * kernel is a known one below that level.  The target is SkylakeX for
 * AVX-512 (what later OpenBLAS releases use for AVX-512 Zen 4 too), else
 * Zen on AMD and Haswell elsewhere. */
dt_blas_plan dt_blas_plan_for(const dt_cpu_features *cpu, const char *loaded, const char *user_coretype,
                              const char *replaced);

typedef struct dt_blas_info {
    char name[16];                 /* "OpenBLAS" */
    char version[16];              /* "0.3.21" */
    char kernel[32];               /* "SkylakeX" */
    char replaced[32];             /* the kernel OpenBLAS chose itself when dnntrouble replaced it, else "" */
    dt_blas_source source;
    int fallback;                  /* still below what this CPU supports */
    int cpu_level;                 /* dt_cpu_level of this machine */
} dt_blas_info;

/* The BLAS this process runs, read from the loaded library and the
 * environment (OPENBLAS_CORETYPE, DT_BLAS_RESTART_ENV). */
void dt_blas_info_get(dt_blas_info *info);
/* "OpenBLAS 0.3.21, kernel SkylakeX" (plus " (set by OPENBLAS_CORETYPE)" or
 * " (OpenBLAS chose Prescott; corrected)" when not OpenBLAS's own choice). */
const char *dt_blas_label(const dt_blas_info *info, char *buf, size_t len);
const char *dt_blas_source_name(dt_blas_source s);   /* "openblas", "user", "dnntrouble" */

#endif
