/* FALLBACK until src/cli/bench.c exists: weak, so the real dt_cli_bench
 * (linked as an object next to this one) replaces it. */
#include <stdio.h>

#include "bench.h"

__attribute__((weak)) int dt_cli_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dnntrouble: error: bench is not available in this build\n");
    return 4;
}
