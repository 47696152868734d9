/* Training progress for people watching a terminal.
 *
 * Library code must not print, so the CLI creates the reporter with the
 * stream to use; stages only call dt_progress_* and a NULL reporter is a
 * no-op everywhere.  On a TTY: one line redrawn with '\r' (epoch, step,
 * loss, ETA).  Otherwise: plain lines at most every 2 s or every 10 % of
 * the work, so logs stay short.  Safe to call from several threads. */
#ifndef DT_PROGRESS_H
#define DT_PROGRESS_H

#include <stdio.h>

typedef struct dt_progress dt_progress;

/* out NULL means quiet (returns NULL, which every call accepts). */
dt_progress *dt_progress_new(FILE *out, int is_tty);
void dt_progress_free(dt_progress *p);

/* Starts a task ("overfit-batch", "tune trial 3/20"): resets the clock. */
void dt_progress_begin(dt_progress *p, const char *label);
/* epoch in 1..epochs, step in 1..steps (steps per epoch); loss may be NAN. */
void dt_progress_update(dt_progress *p, int epoch, int epochs, long step, long steps, double loss);
/* Ends the task's line with a short note ("done", "loss 0.01"). */
void dt_progress_end(dt_progress *p, const char *note);
/* One finished line for a task that ran elsewhere (a tune trial in a worker
 * process), with the duration it measured itself. */
void dt_progress_done(dt_progress *p, const char *label, const char *note, double seconds);

/* For tests: replaces the clock (seconds, monotonic). */
void dt_progress_set_clock(dt_progress *p, double (*now)(void));

#endif
