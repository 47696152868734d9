/* The BLAS kernel decision (include/dnntrouble/blas.h). */
#include "dnntrouble/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dt_cpu_detect(dt_cpu_features *cpu)
{
    memset(cpu, 0, sizeof *cpu);
#if defined(__x86_64__) || defined(__i386__)
    /* libgcc's detection also checks that the OS saves the AVX / AVX-512
     * register state (XGETBV), as OpenBLAS's own support_avx512() does. */
    __builtin_cpu_init();
    cpu->vendor = __builtin_cpu_is("intel") ? DT_CPU_INTEL : __builtin_cpu_is("amd") ? DT_CPU_AMD : DT_CPU_OTHER;
    cpu->avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    cpu->avx512 = cpu->avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq");
    if (cpu->vendor == DT_CPU_OTHER) {
        /* Hygon Dhyana is a Zen: OpenBLAS treats it as AMD.  libgcc has no
         * name for it, so read the vendor string. */
        unsigned a, b, c, d;
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
        char v[13];
        memcpy(v, &b, 4);
        memcpy(v + 4, &d, 4);
        memcpy(v + 8, &c, 4);
        v[12] = '\0';
        if (!strcmp(v, "HygonGenuine")) cpu->vendor = DT_CPU_AMD;
    }
#endif
}

int dt_cpu_level(const dt_cpu_features *cpu) { return cpu->avx512 ? 3 : cpu->avx2_fma ? 2 : 0; }

/* OpenBLAS 0.3.x x86 kernel names (driver/others/dynamic.c, corename[]). */
static const struct { const char *name; int level; } kernels[] = {
    {"SkylakeX", 3},    {"Cooperlake", 3}, {"SapphireRapids", 3},
    {"Haswell", 2},     {"Zen", 2},
    {"Sandybridge", 1}, {"Bulldozer", 1},  {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
    {"Unknown", 0},     {"Katmai", 0},     {"Coppermine", 0}, {"Northwood", 0},   {"Prescott", 0},
    {"Banias", 0},      {"Atom", 0},       {"Core2", 0},      {"Penryn", 0},      {"Dunnington", 0},
    {"Nehalem", 0},     {"Athlon", 0},     {"Opteron", 0},    {"Opteron_SSE3", 0}, {"Barcelona", 0},
    {"Nano", 0},        {"Bobcat", 0},
};

int dt_blas_kernel_level(const char *kernel)
{
    if (!kernel) return -1;
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (!strcasecmp(kernel, kernels[i].name)) return kernels[i].level;
    return -1;
}

dt_blas_plan dt_blas_plan_for(const dt_cpu_features *cpu, const char *loaded, const char *user_coretype,
                              const char *replaced)
{
    dt_blas_plan p = {0};
    int want = dt_cpu_level(cpu), have = dt_blas_kernel_level(loaded);
    /* An unknown name is left alone: it is a library newer than this table
     * (or not x86), and overriding what we cannot judge would be worse. */
    int below = have >= 0 && have < want;
    p.source = replaced && *replaced ? DT_BLAS_BY_DNNTROUBLE
               : user_coretype && *user_coretype ? DT_BLAS_BY_USER
                                                 : DT_BLAS_BY_OPENBLAS;
    p.fallback = below;
    if (!below || p.source != DT_BLAS_BY_OPENBLAS) return p;
    p.restart = 1;
    p.core = want == 3 ? "SkylakeX" : cpu->vendor == DT_CPU_AMD ? "Zen" : "Haswell";
    return p;
}

const char *dt_blas_source_name(dt_blas_source s)
{
    switch (s) {
    case DT_BLAS_BY_USER: return "user";
    case DT_BLAS_BY_DNNTROUBLE: return "dnntrouble";
    default: return "openblas";
    }
}

void dt_blas_info_get(dt_blas_info *info)
{
    memset(info, 0, sizeof *info);
    /* openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." */
    const char *cfg = openblas_get_config(), *core = openblas_get_corename();
    char name[16] = "OpenBLAS", version[16] = "";
    if (cfg) sscanf(cfg, "%15s %15s", name, version);
    snprintf(info->name, sizeof info->name, "%s", name);
    snprintf(info->version, sizeof info->version, "%s", version);
    snprintf(info->kernel, sizeof info->kernel, "%s", core ? core : "unknown");
    const char *replaced = getenv(DT_BLAS_RESTART_ENV);
    dt_cpu_features cpu;
    dt_cpu_detect(&cpu);
    dt_blas_plan p = dt_blas_plan_for(&cpu, info->kernel, getenv("OPENBLAS_CORETYPE"), replaced);
    info->source = p.source;
    info->fallback = p.fallback;
    info->cpu_level = dt_cpu_level(&cpu);
    if (p.source == DT_BLAS_BY_DNNTROUBLE) snprintf(info->replaced, sizeof info->replaced, "%s", replaced);
}

const char *dt_blas_label(const dt_blas_info *info, char *buf, size_t len)
{
    int k = snprintf(buf, len, "%s %s, kernel %s", info->name, info->version, info->kernel);
    if (k < 0 || (size_t)k >= len) return buf;
    if (info->source == DT_BLAS_BY_USER)
        snprintf(buf + k, len - (size_t)k, " (set by OPENBLAS_CORETYPE)");
    else if (info->source == DT_BLAS_BY_DNNTROUBLE)
        snprintf(buf + k, len - (size_t)k, " (OpenBLAS chose %s; corrected)", info->replaced);
    return buf;
}
