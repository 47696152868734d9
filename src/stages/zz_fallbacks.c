#include "dnntrouble/stage.h"

/* FALLBACKS for stages missing from a build, so the tool links before every
 * stage is written.  Each is weak: the real dt_stage_* in
 * src/stages/<stage>.c replaces it.  They report an honest error (exit 4),
 * never a made-up result.
 *
 * Why a separate file named zz_*: the binary links libdnntrouble.a, and the
 * linker never pulls an archive member to replace a weak definition it
 * already has.  Members are searched in archive order (sorted paths), so the
 * real stage objects must come first; in registry.c (which sorts before
 * start_simple.c and tune.c) the fallbacks would silently win.  Linking the
 * library with --whole-archive would remove this constraint. */
#define DT_STAGE_FALLBACK(fn, name)                                                     \
    __attribute__((weak)) dt_status fn(dt_stage_ctx *ctx, dt_report *rep)              \
    {                                                                                   \
        (void)ctx;                                                                      \
        (void)rep;                                                                      \
        return dt_fail(DT_EINTERNAL, "stage '%s' is not implemented in this build", name); \
    }
