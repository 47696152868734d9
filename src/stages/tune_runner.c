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
 * parent.  On Linux a child also dies with its parent (PR_SET_PDEATHSIG).
 *
 * ASHA: a child sends its rung reports up the same pipe (every message is
 * one fixed-size record) and blocks reading the verdict from a second pipe;
 * the parent asks the stage (w->decide) and answers, or holds the report
 * while the stage says WAIT and asks again after every later event. */
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

/* One message up a child's pipe: a rung report or the result. */
typedef struct {
    int is_result;
    dt_rung_report rep;
    dt_trial_result res;
} pipe_msg;

_Static_assert(sizeof(pipe_msg) <= PIPE_BUF, "a pipe message must fit one atomic pipe write");

typedef struct {
    pid_t pid;
    int fd;           /* read end of the child's message pipe */
    int reply;        /* write end of its verdict pipe */
    int id;
    dt_rung_hold hold;   /* a report held while the stage says WAIT */
} slot;

typedef struct {
    int jobs;
    dt_trial_work w;
    /* jobs == 1 */
    int has_pending;
    dt_trial pending;
    dt_status ask_err;
    /* jobs > 1 */
    slot *slots;
    int running;
    struct sigaction old_pipe;   /* restored by close: a verdict written to a child that just died must not kill us */
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

/* In-process, every earlier trial has ended: the stage never says WAIT. */
static dt_status inline_ask(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v)
{
    local_runner *lr = ctx;
    dt_status st = lr->w.decide(lr->w.decide_ctx, rep, v);
    if (!st && *v == DT_RUNG_WAIT)
        st = dt_fail(DT_EINTERNAL, "tune runner: trial %d must wait at rung %d with nothing else running", rep->id,
                     rep->rung);
    if (st) {
        lr->ask_err = st;
        *v = DT_RUNG_PRUNE;
    }
    return st;
}

static dt_status inline_wait(dt_trial_runner *self, dt_trial_result *out)
{
    local_runner *lr = self->impl;
    if (!lr->has_pending) return dt_fail(DT_EINTERNAL, "tune runner: wait with no trial running");
    lr->has_pending = 0;
    lr->ask_err = DT_OK;
    dt_rung_asker ask = {inline_ask, lr};
    dt_status st = lr->w.fn(lr->w.ctx, &lr->pending, lr->w.decide ? &ask : NULL, out);
    return st ? st : lr->ask_err;
}

static int inline_running(dt_trial_runner *self) { return ((local_runner *)self->impl)->has_pending; }

/* --------------------------------------------------------- process pool */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; the count read (less at end of file or an error). */
static size_t read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

typedef struct { int wfd, rfd; } child_pipes;

/* The child's asker: the report up the message pipe, the verdict back. */
static dt_status child_ask(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v)
{
    child_pipes *cp = ctx;
    pipe_msg m;
    memset(&m, 0, sizeof m);
    m.rep = *rep;
    int verdict;
    if (write_all(cp->wfd, &m, sizeof m) != 0 || read_all(cp->rfd, &verdict, sizeof verdict) != sizeof verdict)
        return dt_fail(DT_EIO, "tune worker: lost the parent while asking at rung %d", rep->rung);
    *v = (dt_rung_verdict)verdict;
    return DT_OK;
}

static void child_main(local_runner *lr, const dt_trial *t, int wfd, int rfd)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    for (int i = 0; i < lr->jobs; i++) {
        if (lr->slots[i].fd >= 0) close(lr->slots[i].fd);
        if (lr->slots[i].reply >= 0) close(lr->slots[i].reply);
    }
    openblas_set_num_threads(1);
    pipe_msg m;
    memset(&m, 0, sizeof m);
    m.is_result = 1;
    child_pipes cp = {wfd, rfd};
    dt_rung_asker ask = {child_ask, &cp};
    dt_status st = lr->w.fn(lr->w.ctx, t, lr->w.decide ? &ask : NULL, &m.res);
    if (st != DT_OK) {
        failed_result(&m.res, t->id);
        snprintf(m.res.reason, sizeof m.res.reason, "error: %s", dt_last_error());
    }
    m.res.id = t->id;
    _exit(write_all(wfd, &m, sizeof m) == 0 ? 0 : 3);
}

static dt_status pool_submit(dt_trial_runner *self, const dt_trial *t)
{
    local_runner *lr = self->impl;
    int s = 0;
    while (s < lr->jobs && lr->slots[s].pid > 0) s++;
    if (s == lr->jobs) return dt_fail(DT_EINTERNAL, "tune runner: submit with every slot busy");
    int fds[2], back[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return dt_fail(DT_EINTERNAL, "tune runner: pipe: %s", strerror(errno));
    if (pipe2(back, O_CLOEXEC) != 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return dt_fail(DT_EINTERNAL, "tune runner: pipe: %s", strerror(err));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        close(back[0]);
        close(back[1]);
        return dt_fail(DT_EINTERNAL, "tune runner: fork: %s", strerror(err));
    }
    if (pid == 0) {
        close(fds[0]);
        close(back[1]);
        child_main(lr, t, fds[1], back[0]);
    }
    close(fds[1]);
    close(back[0]);
    lr->slots[s] = (slot){.pid = pid, .fd = fds[0], .reply = back[1], .id = t->id};
    lr->running++;
    return DT_OK;
}

/* Ends slot s's child: its result (got == sizeof *m) or why it has none. */
static void reap(local_runner *lr, int s, const pipe_msg *m, size_t got, dt_trial_result *out)
{
    slot *sl = &lr->slots[s];
    int wst = 0;
    while (waitpid(sl->pid, &wst, 0) < 0 && errno == EINTR) {}
    if (got == sizeof *m && m->is_result) {
        *out = m->res;
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
    close(sl->reply);
    *sl = (slot){0, -1, -1, -1, {0}};
    lr->running--;
}

dt_status dt_rung_hold_ask(const dt_trial_work *w, dt_rung_hold *h, const dt_rung_report *rep, dt_rung_verdict *v)
{
    dt_rung_report r = *rep;
    dt_status st = w->decide ? w->decide(w->decide_ctx, &r, v)
                             : dt_fail(DT_EINTERNAL, "tune runner: a rung report for trial %d with no pruner", r.id);
    if (st) return st;
    h->waiting = *v == DT_RUNG_WAIT;
    h->rep = r;
    return DT_OK;
}

/* Asks the stage about slot s's report; answers the child unless WAIT. */
static dt_status answer(local_runner *lr, int s, const dt_rung_report *rep)
{
    dt_rung_verdict v;
    dt_status st = dt_rung_hold_ask(&lr->w, &lr->slots[s].hold, rep, &v);
    if (st || v == DT_RUNG_WAIT) return st;
    int verdict = (int)v;
    /* A child that died meanwhile shows up as a FAILED result on the next poll. */
    (void)write_all(lr->slots[s].reply, &verdict, sizeof verdict);
    return DT_OK;
}

/* Reports held on WAIT, asked again (an event may have made them decidable). */
static dt_status answer_held(local_runner *lr)
{
    dt_status st = DT_OK;
    for (int i = 0; i < lr->jobs && !st; i++)
        if (lr->slots[i].pid > 0 && lr->slots[i].hold.waiting) st = answer(lr, i, &lr->slots[i].hold.rep);
    return st;
}

static dt_status pool_wait(dt_trial_runner *self, dt_trial_result *out)
{
    local_runner *lr = self->impl;
    if (lr->running == 0) return dt_fail(DT_EINTERNAL, "tune runner: wait with no trial running");
    dt_status st = answer_held(lr);
    if (st) return st;
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
        for (int i = 0; i < n; i++) {
            if (!pfd[i].revents) continue;
            pipe_msg m;
            size_t got = read_all(pfd[i].fd, &m, sizeof m);
            if (got == sizeof m && !m.is_result) {
                if ((st = answer(lr, map[i], &m.rep)) != DT_OK || (st = answer_held(lr)) != DT_OK) return st;
                continue;
            }
            reap(lr, map[i], &m, got, out);
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
            close(lr->slots[i].reply);
        }
        free(lr->slots);
        sigaction(SIGPIPE, &lr->old_pipe, NULL);
    }
    free(lr);
    self->impl = NULL;
}

dt_status dt_trial_runner_local(dt_trial_runner *r, int jobs, const dt_trial_work *w)
{
    memset(r, 0, sizeof *r);
    if (jobs < 1) jobs = 1;
    if (jobs > 64) jobs = 64;
    local_runner *lr = calloc(1, sizeof *lr);
    if (!lr) return dt_fail(DT_ENOMEM, "tune runner: out of memory");
    lr->jobs = jobs;
    lr->w = *w;
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
    for (int i = 0; i < jobs; i++) lr->slots[i] = (slot){0, -1, -1, -1, {0}};
    /* No BLAS thread pool in use across fork (see the top of this file). */
    openblas_set_num_threads(1);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &lr->old_pipe);
    r->submit = pool_submit;
    r->wait_any = pool_wait;
    r->running = pool_running;
    return DT_OK;
}
