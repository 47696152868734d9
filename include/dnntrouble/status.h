/* Status codes and the error message every library call leaves behind.
 *
 * Library code never prints and never exits: a failing call records one
 * message naming what and where (file and offset/line, config key and line,
 * op and layer with shapes) and returns a status.  The CLI maps the status to
 * the exit codes fixed in SPEC (see dt_status_exit_code). */
#ifndef DT_STATUS_H
#define DT_STATUS_H

typedef enum dt_status {
    DT_OK = 0,
    DT_ECONFIG,   /* bad configuration or usage           -> exit 2 */
    DT_EDATA,     /* unreadable or malformed input data    -> exit 3 */
    DT_ESHAPE,    /* shapes do not fit (graph build time)  -> exit 2 */
    DT_ENOMEM,    /* allocation failed                     -> exit 4 */
    DT_EIO,       /* writing an output failed              -> exit 4 */
    DT_EINTERNAL  /* a bug or an impossible state          -> exit 4 */
} dt_status;

/* Records a printf-style message for the calling thread and returns st, so
 * that failures read as `return dt_fail(DT_EDATA, "%s: offset %zu: ...")`. */
dt_status dt_fail(dt_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("loading train: ..."). */
dt_status dt_fail_context(dt_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *dt_last_error(void);
void dt_clear_error(void);

/* Exit code for the CLI (SPEC: 2 usage/config, 3 data, 4 internal/resource). */
int dt_status_exit_code(dt_status st);
const char *dt_status_name(dt_status st);

#endif
