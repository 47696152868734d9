/* `tune --mpi`: the trial runner over Open MPI ranks (tune_runner.h,
 * dnntrouble/mpi.h).  All MPI code of dnntrouble is in this file.
 *
 * Rank 0 runs the stage as usual with this runner: one slot per other
 * rank.  Every message is plain bytes on MPI_COMM_WORLD:
 *   0 -> w  TRIAL   {config hash, dt_trial}        w -> 0  REPORT   dt_rung_report
 *   0 -> w  VERDICT int (dt_rung_verdict)          w -> 0  RESULT   dt_trial_result
 *   0 -> w  STOP    (dt_mpi_finish)
 * Each rank reads the config and the data itself (the same files on every
 * machine); a worker whose config hash differs from rank 0's fails the job.
 * Ranks wait by probing and sleeping 0.5 ms rather than spinning in MPI's
 * blocking calls: rank 0 shares a core with trainers when the job is
 * oversubscribed, and a spinning rank 0 would take a trainer's CPU. */
#include <string.h>
#include <time.h>

#include "dnntrouble/mpi.h"
#include "tune_runner.h"

#ifdef DT_HAVE_MPI
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { TAG_TRIAL = 1, TAG_STOP, TAG_REPORT, TAG_VERDICT, TAG_RESULT };

typedef struct {
    uint64_t hash;
    dt_trial t;
} trial_msg;

static int g_rank = -1, g_size = 0;

int dt_mpi_available(void) { return 1; }

dt_status dt_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(argc, argv) != MPI_SUCCESS) return dt_fail(DT_EINTERNAL, "tune --mpi: MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    *rank = g_rank;
    *size = g_size;
    if (g_size < 2)
        return dt_fail(DT_ECONFIG, "tune --mpi needs at least 2 ranks (rank 0 runs the study, the others train): "
                                   "mpirun -np N dnntrouble tune CONFIG --mpi with N >= 2");
    return DT_OK;
}

void dt_mpi_finish(void)
{
    int ok = 0, done = 0;
    MPI_Initialized(&ok);
    MPI_Finalized(&done);
    if (!ok || done) return;
    if (g_rank == 0) {
        int zero = 0;
        for (int r = 1; r < g_size; r++) MPI_Send(&zero, 1, MPI_INT, r, TAG_STOP, MPI_COMM_WORLD);
    }
    MPI_Finalize();
}

void dt_mpi_abort(int code)
{
    int ok = 0;
    MPI_Initialized(&ok);
    if (ok) MPI_Abort(MPI_COMM_WORLD, code);
}

static void nap(void)
{
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL);
}

/* Waits for a message from `source` (or any) with `tag` (or any). */
static void probe(int source, int tag, MPI_Status *status)
{
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, status);
        if (flag) return;
        nap();
    }
}

static dt_status recv_exact(void *buf, int n, int source, int tag, const char *what)
{
    MPI_Status status;
    int count = 0;
    MPI_Recv(buf, n, MPI_BYTE, source, tag, MPI_COMM_WORLD, &status);
    MPI_Get_count(&status, MPI_BYTE, &count);
    if (count != n)
        return dt_fail(DT_EINTERNAL, "tune --mpi: %s from rank %d has %d bytes, want %d (different builds?)", what,
                       source, count, n);
    return DT_OK;
}

/* -------------------------------------------------------------- rank 0 */

typedef struct {
    int busy, id;
    dt_rung_hold hold;           /* a report held while the stage says WAIT */
} rank_slot;

typedef struct {
    dt_trial_work w;
    uint64_t hash;
    rank_slot *ranks;            /* [g_size]; rank 0's unused */
    int running;
} mpi_runner;

static dt_status mpi_submit(dt_trial_runner *self, const dt_trial *t)
{
    mpi_runner *mr = self->impl;
    int r = 1;
    while (r < g_size && mr->ranks[r].busy) r++;
    if (r == g_size) return dt_fail(DT_EINTERNAL, "tune --mpi: submit with every rank busy");
    trial_msg m;
    memset(&m, 0, sizeof m);
    m.hash = mr->hash;
    m.t = *t;
    MPI_Send(&m, (int)sizeof m, MPI_BYTE, r, TAG_TRIAL, MPI_COMM_WORLD);
    mr->ranks[r] = (rank_slot){.busy = 1, .id = t->id};
    mr->running++;
    return DT_OK;
}

static dt_status answer(mpi_runner *mr, int r, const dt_rung_report *rep)
{
    dt_rung_verdict v;
    dt_status st = dt_rung_hold_ask(&mr->w, &mr->ranks[r].hold, rep, &v);
    if (st || v == DT_RUNG_WAIT) return st;
    int verdict = (int)v;
    MPI_Send(&verdict, 1, MPI_INT, r, TAG_VERDICT, MPI_COMM_WORLD);
    return DT_OK;
}

static dt_status answer_held(mpi_runner *mr)
{
    dt_status st = DT_OK;
    for (int r = 1; r < g_size && !st; r++)
        if (mr->ranks[r].busy && mr->ranks[r].hold.waiting) st = answer(mr, r, &mr->ranks[r].hold.rep);
    return st;
}

static dt_status mpi_wait(dt_trial_runner *self, dt_trial_result *out)
{
    mpi_runner *mr = self->impl;
    if (mr->running == 0) return dt_fail(DT_EINTERNAL, "tune --mpi: wait with no trial running");
    dt_status st = answer_held(mr);
    if (st) return st;
    for (;;) {
        MPI_Status status;
        probe(MPI_ANY_SOURCE, MPI_ANY_TAG, &status);
        int r = status.MPI_SOURCE, tag = status.MPI_TAG;
        if (r < 1 || r >= g_size || !mr->ranks[r].busy || (tag != TAG_REPORT && tag != TAG_RESULT))
            return dt_fail(DT_EINTERNAL, "tune --mpi: unexpected message (tag %d) from rank %d", tag, r);
        if (tag == TAG_REPORT) {
            dt_rung_report rep;
            if ((st = recv_exact(&rep, (int)sizeof rep, r, tag, "a rung report")) != DT_OK) return st;
            if (rep.id != mr->ranks[r].id)
                return dt_fail(DT_EINTERNAL, "tune --mpi: rank %d reports trial %d, it runs %d", r, rep.id,
                               mr->ranks[r].id);
            if ((st = answer(mr, r, &rep)) != DT_OK || (st = answer_held(mr)) != DT_OK) return st;
            continue;
        }
        if ((st = recv_exact(out, (int)sizeof *out, r, tag, "a trial result")) != DT_OK) return st;
        out->id = mr->ranks[r].id;
        mr->ranks[r] = (rank_slot){0};
        mr->running--;
        return DT_OK;
    }
}

static int mpi_running(dt_trial_runner *self) { return ((mpi_runner *)self->impl)->running; }

/* Trials still running on other ranks cannot be killed from here: the CLI
 * ends the job (dt_mpi_abort) when the stage fails. */
static void mpi_close(dt_trial_runner *self)
{
    mpi_runner *mr = self->impl;
    if (!mr) return;
    free(mr->ranks);
    free(mr);
    self->impl = NULL;
}

dt_status dt_trial_runner_mpi(dt_trial_runner *r, const dt_trial_work *w, uint64_t config_hash)
{
    memset(r, 0, sizeof *r);
    if (g_rank != 0 || g_size < 2) return dt_fail(DT_EINTERNAL, "tune --mpi: the MPI runner runs on rank 0 of >= 2");
    mpi_runner *mr = calloc(1, sizeof *mr);
    if (mr) mr->ranks = calloc((size_t)g_size, sizeof *mr->ranks);
    if (!mr || !mr->ranks) {
        free(mr);
        return dt_fail(DT_ENOMEM, "tune --mpi: out of memory");
    }
    mr->w = *w;
    mr->hash = config_hash;
    r->impl = mr;
    r->slots = g_size - 1;
    r->submit = mpi_submit;
    r->wait_any = mpi_wait;
    r->running = mpi_running;
    r->close = mpi_close;
    return DT_OK;
}

/* ------------------------------------------------------- worker ranks */

static dt_status worker_ask(void *ctx, const dt_rung_report *rep, dt_rung_verdict *v)
{
    (void)ctx;
    MPI_Send((void *)rep, (int)sizeof *rep, MPI_BYTE, 0, TAG_REPORT, MPI_COMM_WORLD);
    MPI_Status status;
    probe(0, TAG_VERDICT, &status);
    int verdict = 0;
    MPI_Recv(&verdict, 1, MPI_INT, 0, TAG_VERDICT, MPI_COMM_WORLD, &status);
    *v = (dt_rung_verdict)verdict;
    return DT_OK;
}

dt_status dt_tune_mpi_serve(const dt_trial_work *w, uint64_t config_hash)
{
    if (g_rank < 1) return dt_fail(DT_EINTERNAL, "tune --mpi: a worker runs on ranks >= 1");
    openblas_set_num_threads(1);
    for (;;) {
        MPI_Status status;
        probe(0, MPI_ANY_TAG, &status);
        if (status.MPI_TAG == TAG_STOP) {
            int zero;
            MPI_Recv(&zero, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, &status);
            return DT_OK;
        }
        trial_msg m;
        dt_status st = status.MPI_TAG == TAG_TRIAL ? recv_exact(&m, (int)sizeof m, 0, TAG_TRIAL, "a trial")
                                                  : dt_fail(DT_EINTERNAL, "tune --mpi: rank %d: unexpected message "
                                                            "(tag %d) from rank 0", g_rank, status.MPI_TAG);
        if (st) return st;
        if (m.hash != config_hash)
            return dt_fail(DT_ECONFIG, "tune --mpi: rank %d read a different config than rank 0 (hash %016llx, rank "
                                       "0 has %016llx): every rank must read the same config and data",
                           g_rank, (unsigned long long)config_hash, (unsigned long long)m.hash);
        dt_trial_result res;
        memset(&res, 0, sizeof res);
        dt_rung_asker ask = {worker_ask, NULL};
        st = w->fn(w->ctx, &m.t, &ask, &res);
        if (st) {
            /* As a forked worker does: the trial fails, the study goes on. */
            memset(&res, 0, sizeof res);
            res.status = DT_TRIAL_FAILED;
            res.score = res.val_loss = res.first_loss = res.last_loss = NAN;
            snprintf(res.reason, sizeof res.reason, "error on rank %d: %s", g_rank, dt_last_error());
        }
        res.id = m.t.id;
        MPI_Send(&res, (int)sizeof res, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    }
}

#else /* no Open MPI in this build */

int dt_mpi_available(void) { return 0; }

dt_status dt_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    (void)argc;
    (void)argv;
    *rank = 0;
    *size = 1;
    return dt_fail(DT_ECONFIG, "--mpi: this dnntrouble was built without Open MPI; install it "
                               "(apt-get install openmpi-bin libopenmpi-dev) and rebuild (make)");
}

void dt_mpi_finish(void) {}
void dt_mpi_abort(int code) { (void)code; }

dt_status dt_trial_runner_mpi(dt_trial_runner *r, const dt_trial_work *w, uint64_t config_hash)
{
    (void)w;
    (void)config_hash;
    memset(r, 0, sizeof *r);
    return dt_fail(DT_ECONFIG, "--mpi: this dnntrouble was built without Open MPI");
}

dt_status dt_tune_mpi_serve(const dt_trial_work *w, uint64_t config_hash)
{
    (void)w;
    (void)config_hash;
    return dt_fail(DT_ECONFIG, "--mpi: this dnntrouble was built without Open MPI");
}

#endif
