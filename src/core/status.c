#include "dnntrouble/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[2048];

dt_status dt_fail(dt_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return st;
}

dt_status dt_fail_context(dt_status st, const char *fmt, ...)
{
    char prefix[512], old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    int n = snprintf(err_buf, sizeof err_buf, "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof err_buf) {
        size_t room = sizeof err_buf - (size_t)n, len = strlen(old);
        memcpy(err_buf + n, old, len < room ? len + 1 : room);
        err_buf[sizeof err_buf - 1] = '\0';
    }
    return st;
}

const char *dt_last_error(void) { return err_buf; }

void dt_clear_error(void) { err_buf[0] = '\0'; }

int dt_status_exit_code(dt_status st)
{
    switch (st) {
    case DT_OK: return 0;
    case DT_ECONFIG:
    case DT_ESHAPE: return 2;
    case DT_EDATA: return 3;
    default: return 4;
    }
}

const char *dt_status_name(dt_status st)
{
    static const char *names[] = {"ok", "config error", "data error", "shape error",
                                  "out of memory", "i/o error", "internal error"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown error";
}
