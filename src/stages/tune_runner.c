/* The local trial runner: in-process for one job, a pool of forked worker
 * processes for more (see tune_runner.h).
 *
 * Fork safety: the parent sets OpenBLAS to one thread before the first fork
 * and does no BLAS work while workers run, so a child never inherits a
 * half-used BLAS thread pool; each child sets one thread again and only
 * computes.  The child touches nothing shared on disk (the parent alone
 * writes the journal and reports), sends its result as one fixed-size
 * record (smaller than PIPE_BUF, so one atomic write) and ends with _exit:
 * no atexit handlers, no flushing of stdio buffers inherited from the
 * parent.  On Linux a child also dies with its parent (PR_SET_PDEATHSIG). */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "tune_runner.h"

_Static_assert(sizeof(dt_trial_result) <= PIPE_BUF, "a trial result must fit one atomic pipe write");

typedef struct {
    pid_t pid;
    int fd;           /* read end of the child's result pipe */
    int id;
} slot;

typedef struct {
    int jobs;
    dt_trial_fn fn;
    void *ctx;
    /* jobs == 1 */
    int has_pending;
    dt_trial pending;
    /* jobs > 1 */
    slot *slots;
    int running;
} local_runner;

static void failed_result(dt_trial_result *r, int id)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->status = DT_TRIAL_FAILED;
    r->score = r->val_loss = r->first_loss = r->last_loss = NAN;
}

/* ----------------------------------------------------------- in-process */

static dt_status inline_submit(dt_trial_runner *self, const dt_trial *t)
{
    local_runner *lr = self->impl;
    if (lr->has_pending) return dt_fail(DT_EINTERNAL, "tune runner: submit while a trial is pending");
    lr->pending = *t;
    lr->has_pending = 1;
    return DT_OK;
}

static dt_status inline_wait(dt_trial_runner *self, dt_trial_result *out)
{
    local_runner *lr = self->impl;
    if (!lr->has_pending) return dt_fail(DT_EINTERNAL, "tune runner: wait with no trial running");
    lr->has_pending = 0;
    return lr->fn(lr->ctx, &lr->pending, out);
}

static int inline_running(dt_trial_runner *self) { return ((local_runner *)self->impl)->has_pending; }

/* --------------------------------------------------------- process pool */

static void child_main(local_runner *lr, const dt_trial *t, int wfd)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    for (int i = 0; i < lr->jobs; i++)
        if (lr->slots[i].fd >= 0) close(lr->slots[i].fd);
    openblas_set_num_threads(1);
    dt_trial_result r;
    memset(&r, 0, sizeof r);
    dt_status st = lr->fn(lr->ctx, t, &r);
    if (st != DT_OK) {
        failed_result(&r, t->id);
        snprintf(r.reason, sizeof r.reason, "error: %s", dt_last_error());
    }
    r.id = t->id;
    const char *p = (const char *)&r;
    size_t left = sizeof r;
    while (left > 0) {
        ssize_t w = write(wfd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(3);
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

static dt_status pool_submit(dt_trial_runner *self, const dt_trial *t)
{
    local_runner *lr = self->impl;
    int s = 0;
    while (s < lr->jobs && lr->slots[s].pid > 0) s++;
    if (s == lr->jobs) return dt_fail(DT_EINTERNAL, "tune runner: submit with every slot busy");
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return dt_fail(DT_EINTERNAL, "tune runner: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return dt_fail(DT_EINTERNAL, "tune runner: fork: %s", strerror(err));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(lr, t, fds[1]);
    }
    close(fds[1]);
    lr->slots[s] = (slot){pid, fds[0], t->id};
    lr->running++;
    return DT_OK;
}

static void reap(local_runner *lr, int s, dt_trial_result *out)
{
    slot *sl = &lr->slots[s];
    dt_trial_result r;
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(sl->fd, (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    int wst = 0;
    while (waitpid(sl->pid, &wst, 0) < 0 && errno == EINTR) {}
    if (got == sizeof r) {
        *out = r;
        out->id = sl->id;
    } else if (WIFSIGNALED(wst)) {
        failed_result(out, sl->id);
        snprintf(out->reason, sizeof out->reason, "trial process killed by signal %d", WTERMSIG(wst));
    } else {
        failed_result(out, sl->id);
        snprintf(out->reason, sizeof out->reason, "trial process ended (exit %d) without a result",
                 WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    }
    close(sl->fd);
    *sl = (slot){0, -1, -1};
    lr->running--;
}

static dt_status pool_wait(dt_trial_runner *self, dt_trial_result *out)
{
    local_runner *lr = self->impl;
    if (lr->running == 0) return dt_fail(DT_EINTERNAL, "tune runner: wait with no trial running");
    struct pollfd pfd[64];
    int map[64], n = 0;
    for (int i = 0; i < lr->jobs && n < 64; i++)
        if (lr->slots[i].pid > 0) {
            pfd[n] = (struct pollfd){.fd = lr->slots[i].fd, .events = POLLIN};
            map[n++] = i;
        }
    for (;;) {
        int rc = poll(pfd, (nfds_t)n, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return dt_fail(DT_EINTERNAL, "tune runner: poll: %s", strerror(errno));
        /* Lowest slot first among the ready ones: completion order, ties stable. */
        for (int i = 0; i < n; i++)
            if (pfd[i].revents) {
                reap(lr, map[i], out);
                return DT_OK;
            }
    }
}

static int pool_running(dt_trial_runner *self) { return ((local_runner *)self->impl)->running; }

static void local_close(dt_trial_runner *self)
{
    local_runner *lr = self->impl;
    if (!lr) return;
    if (lr->slots) {
        for (int i = 0; i < lr->jobs; i++) {
            if (lr->slots[i].pid <= 0) continue;
            kill(lr->slots[i].pid, SIGKILL);
            while (waitpid(lr->slots[i].pid, NULL, 0) < 0 && errno == EINTR) {}
            close(lr->slots[i].fd);
        }
        free(lr->slots);
    }
    free(lr);
    self->impl = NULL;
}

dt_status dt_trial_runner_local(dt_trial_runner *r, int jobs, dt_trial_fn fn, void *ctx)
{
    memset(r, 0, sizeof *r);
    if (jobs < 1) jobs = 1;
    if (jobs > 64) jobs = 64;
    local_runner *lr = calloc(1, sizeof *lr);
    if (!lr) return dt_fail(DT_ENOMEM, "tune runner: out of memory");
    lr->jobs = jobs;
    lr->fn = fn;
    lr->ctx = ctx;
    r->impl = lr;
    r->slots = jobs;
    r->close = local_close;
    if (jobs == 1) {
        r->submit = inline_submit;
        r->wait_any = inline_wait;
        r->running = inline_running;
        return DT_OK;
    }
    lr->slots = malloc((size_t)jobs * sizeof *lr->slots);
    if (!lr->slots) {
        local_close(r);
        return dt_fail(DT_ENOMEM, "tune runner: out of memory");
    }
    for (int i = 0; i < jobs; i++) lr->slots[i] = (slot){0, -1, -1};
    /* No BLAS thread pool in use across fork (see the top of this file). */
    openblas_set_num_threads(1);
    r->submit = pool_submit;
    r->wait_any = pool_wait;
    r->running = pool_running;
    return DT_OK;
}
