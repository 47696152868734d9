/* tune's ASHA pruner and tune --mpi: the promotion rule, verdicts that do
 * not depend on the runner or worker count, pruned trials in the journal
 * and the report, rung state that survives a resume (the journal cut at
 * any line), and kill -9 of a rank of an MPI study then --resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/stages/common.h"
#include "../src/stages/tune_runner.h"
#include "dnntrouble/mpi.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "support/test_files.h"
#include "support/test_models.h"

static char g_bin[1024];   /* build/dnntrouble next to this test's folder */

/* Spirals, an MLP, SGD; 9 epochs: rungs at epochs 1 and 3 (eta 3). */
static dt_config *asha_config(void)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    dt_test_set(c, "name", "asha-test");
    dt_test_set(c, "seed", "5");
    dt_test_set(c, "threads", "1");
    dt_test_set(c, "data.format", "synthetic");
    dt_test_set(c, "data.synthetic.generator", "spirals");
    dt_test_set(c, "data.synthetic.samples", "900");
    dt_test_set(c, "data.splits.train_val", "0.2");
    dt_test_set(c, "model.arch", "mlp");
    dt_test_set(c, "model.hidden", "32");
    dt_test_set(c, "train.optimizer", "sgd");
    dt_test_set(c, "train.batch_size", "32");
    dt_test_set(c, "train.epochs", "9");
    dt_test_set(c, "stages.tune.trials", "12");
    dt_test_set(c, "stages.tune.rounds", "2");
    dt_test_set(c, "stages.tune.top_k", "2");
    dt_test_set(c, "stages.tune.jobs", "1");
    dt_test_set(c, "stages.tune.pruner", "asha");
    dt_test_set(c, "stages.tune.space.train.lr", "{log_uniform: [1.0e-3, 1.0]}");
    dt_test_set(c, "stages.tune.space.train.momentum", "{uniform: [0.0, 0.9]}");
    assert_int_equal(dt_config_check(c), DT_OK);
    return c;
}

static dt_report *run_tune(dt_config *cfg, const char *dir)
{
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1};
    dt_report *rep = dt_report_new("tune", cfg);
    assert_non_null(rep);
    dt_status st = dt_stage_tune(&ctx, rep);
    if (st) print_error("tune: %s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    dt_stage_ctx_release(&ctx);
    return rep;
}

/* ------------------------------------------------------ the journal */

/* The journal's lines without "seconds" (the one field that varies), sorted:
 * two runs made the same decisions when these are equal. */
typedef struct lines {
    int n, trials, rungs, dup_trials, dup_rungs, pruned;
    char *line[512];
    int seen_trial[64], seen_rung[64][8];
} lines;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void read_lines(const char *dir, lines *l)
{
    memset(l, 0, sizeof *l);
    char path[1200];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    while (fgets(buf, sizeof buf, f)) {
        assert_non_null(strchr(buf, '\n'));
        cJSON *o = cJSON_Parse(buf);
        assert_non_null(o);
        int id = cJSON_GetObjectItem(o, "trial")->valueint;
        assert_true(id >= 0 && id < 64);
        const cJSON *status = cJSON_GetObjectItem(o, "status");
        if (status) {
            l->trials++;
            l->dup_trials += l->seen_trial[id]++ > 0;
            if (strcmp(status->valuestring, "pruned") == 0) {
                /* A pruned trial: its rung and the score there. */
                l->pruned++;
                assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "rung")));
                assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "score")));
                assert_true(cJSON_GetObjectItem(o, "steps")->valuedouble < cJSON_GetObjectItem(o, "budget")->valuedouble);
            }
        } else {
            int rung = cJSON_GetObjectItem(o, "rung")->valueint;
            assert_true(rung >= 0 && rung < 8);
            assert_non_null(cJSON_GetObjectItem(o, "verdict"));
            l->rungs++;
            l->dup_rungs += l->seen_rung[id][rung]++ > 0;
        }
        cJSON_DeleteItemFromObject(o, "seconds");
        assert_true(l->n < 512);
        l->line[l->n++] = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    fclose(f);
    qsort(l->line, (size_t)l->n, sizeof *l->line, cmp_str);
}

static void free_lines(lines *l)
{
    for (int i = 0; i < l->n; i++) free(l->line[i]);
}

static void assert_same_lines(const lines *a, const lines *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->line[i], b->line[i]) != 0) fail_msg("journals differ:\n  %s\n  %s", a->line[i], b->line[i]);
}

static double metric(const dt_report *rep, const char *key)
{
    double v = NAN;
    assert_true(dt_report_get_metric(rep, key, &v));
    return v;
}

/* ------------------------------------------------------------ tests */

/* Optuna's successive-halving rule over the lower ids, and WAIT while one of
 * them is still on its way to the rung. */
static void test_promotion_rule(void **state)
{
    dt_config *cfg = asha_config();
    dt_asha a;
    assert_int_equal(dt_asha_init(&a, cfg, 10), DT_OK);
    int done[10] = {0};
    int rec;
    /* Rungs at epochs 1, 3 (and 9 is the end) for 9 epochs; none at 2 or 9. */
    assert_int_equal(dt_asha_rung_at(cfg, 1, 9), 0);
    assert_int_equal(dt_asha_rung_at(cfg, 3, 9), 1);
    assert_int_equal(dt_asha_rung_at(cfg, 2, 9), -1);
    assert_int_equal(dt_asha_rung_at(cfg, 9, 9), -1);
    double scores[6] = {0.5, 0.4, 0.6, 0.3, 0.45, 0.35};
    /* n = 1, 2: promoted only when best so far; n = 3..5: top 1; n = 6: top 2. */
    dt_rung_verdict want[6] = {DT_RUNG_CONTINUE, DT_RUNG_CONTINUE, DT_RUNG_PRUNE, DT_RUNG_CONTINUE, DT_RUNG_PRUNE,
                               DT_RUNG_CONTINUE};
    for (int i = 0; i < 6; i++) {
        dt_rung_report rep = {i, 0, 1, scores[i], 1.0};
        dt_rung_verdict v = dt_asha_decide(&a, &rep, done, &rec);
        assert_int_equal(rec, 0);
        assert_int_equal(v, want[i]);
        dt_asha_record(&a, &rep, v);
    }
    /* Asked again (a re-run trial after a resume): the recorded verdict. */
    dt_rung_report again = {2, 0, 1, 0.0, 0.0};
    assert_int_equal(dt_asha_decide(&a, &again, done, &rec), DT_RUNG_PRUNE);
    assert_int_equal(rec, 1);
    /* Trial 7 while trial 6 has not reported: wait; once 6 has ended, decide. */
    dt_rung_report r7 = {7, 0, 1, 0.1, 1.0};
    assert_int_equal(dt_asha_decide(&a, &r7, done, &rec), DT_RUNG_WAIT);
    done[6] = 1;
    assert_int_equal(dt_asha_decide(&a, &r7, done, &rec), DT_RUNG_CONTINUE);
    /* Ties on the error go by the loss. */
    dt_rung_report r8 = {8, 1, 3, 0.5, 2.0}, r9 = {9, 1, 3, 0.5, 1.0};
    for (int i = 0; i < 8; i++) done[i] = 1;
    assert_int_equal(dt_asha_decide(&a, &r8, done, &rec), DT_RUNG_CONTINUE);
    dt_asha_record(&a, &r8, DT_RUNG_CONTINUE);
    done[8] = 1;
    assert_int_equal(dt_asha_decide(&a, &r9, done, &rec), DT_RUNG_CONTINUE);
    r9.val_loss = 3.0;
    assert_int_equal(dt_asha_decide(&a, &r9, done, &rec), DT_RUNG_PRUNE);
    dt_asha_free(&a);
    free(cfg);
}

/* The same seed gives the same rung verdicts and trials in one process and
 * in a pool of 2 (the verdicts are a sequential run's); pruned trials are in
 * the journal with their rung and score, and in the report. */
static void test_same_verdicts_for_any_jobs(void **state)
{
    dt_config *cfg = asha_config();
    char d1[512], d2[512];
    dt_test_tmpdir(d1, sizeof d1);
    dt_test_tmpdir(d2, sizeof d2);
    dt_report *r1 = run_tune(cfg, d1);
    dt_test_set(cfg, "stages.tune.jobs", "2");
    dt_report *r2 = run_tune(cfg, d2);
    lines l1, l2;
    read_lines(d1, &l1);
    read_lines(d2, &l2);
    assert_same_lines(&l1, &l2);
    assert_int_equal(l1.trials, 12);
    assert_int_equal(l1.dup_trials + l1.dup_rungs, 0);
    double pruned = metric(r1, "trials_pruned");
    print_message("%d rung reports, %.0f of 12 trials pruned, %.0f of %.0f steps trained\n", l1.rungs, pruned,
                  metric(r1, "steps_trained"), metric(r1, "steps_budget"));
    assert_true(pruned >= 4 && pruned == l1.pruned);
    assert_true(metric(r1, "trials_ok") >= 1);
    assert_true(metric(r1, "steps_trained") < 0.7 * metric(r1, "steps_budget"));
    /* Pruned trials are listed with their rung and score. */
    int listed = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(dt_report_metrics(r1), "stopped_trials"))
    {
        if (strcmp(cJSON_GetObjectItem(e, "status")->valuestring, "pruned") != 0) continue;
        listed++;
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(e, "rung")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(e, "score")));
    }
    assert_int_equal(listed, (int)pruned);
    const cJSON *b1 = cJSON_GetObjectItem(dt_report_metrics(r1), "best");
    const cJSON *b2 = cJSON_GetObjectItem(dt_report_metrics(r2), "best");
    assert_int_equal(cJSON_GetObjectItem(b1, "trial")->valueint, cJSON_GetObjectItem(b2, "trial")->valueint);
    assert_true(cJSON_GetObjectItem(b1, "score")->valuedouble == cJSON_GetObjectItem(b2, "score")->valuedouble);
    free_lines(&l1);
    free_lines(&l2);
    dt_report_free(r1);
    dt_report_free(r2);
    dt_test_rmtree(d1);
    dt_test_rmtree(d2);
    free(cfg);
}

/* Scoring at the rungs does not change training: a trial promoted to the
 * end scores exactly what it scores with no pruner. */
static void test_promoted_trial_scores_as_unpruned(void **state)
{
    dt_config *cfg = asha_config();
    char dir[512];
    dt_test_tmpdir(dir, sizeof dir);
    dt_report *rep = run_tune(cfg, dir);
    const cJSON *best = cJSON_GetObjectItem(dt_report_metrics(rep), "best");
    double asha_score = cJSON_GetObjectItem(best, "train_val_error")->valuedouble;
    double retrain = cJSON_GetObjectItem(best, "retrain_train_val_error")->valuedouble;
    assert_true(asha_score == retrain);   /* the retrain runs without a pruner */
    dt_report_free(rep);
    dt_test_rmtree(dir);
    free(cfg);
}

/* The journal cut at any line (kill -9 at that moment) and resumed ends with
 * exactly the uninterrupted run's trials and rung verdicts, none twice. */
static void test_rung_state_survives_resume(void **state)
{
    dt_config *cfg = asha_config();
    dt_test_set(cfg, "stages.tune.jobs", "2");
    char clean[512], cut[512], path[600], cpath[600];
    dt_test_tmpdir(clean, sizeof clean);
    dt_test_tmpdir(cut, sizeof cut);
    dt_report *rc = run_tune(cfg, clean);
    lines lc;
    read_lines(clean, &lc);
    snprintf(cpath, sizeof cpath, "%s/trials.jsonl", clean);
    snprintf(path, sizeof path, "%s/trials.jsonl", cut);
    char *text = dt_test_read(cpath);
    assert_non_null(text);
    int total = 0;
    for (char *p = text; *p; p++) total += *p == '\n';
    /* A quarter, half and three quarters in (with a torn half line after the last). */
    for (int q = 1; q <= 3; q++) {
        int keep = total * q / 4;
        size_t at = 0;
        for (int k = 0; k < keep; k++) at = (size_t)(strchr(text + at, '\n') - text) + 1;
        size_t torn = q == 3 ? (size_t)(strchr(text + at, '\n') - (text + at)) / 2 : 0;
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(text, 1, at + torn, f);
        fclose(f);
        dt_stage_ctx ctx = {.cfg = cfg, .out_dir = cut, .quiet = 1, .resume = 1};
        dt_report *rep = dt_report_new("tune", cfg);
        assert_int_equal(dt_stage_tune(&ctx, rep), DT_OK);
        dt_stage_ctx_release(&ctx);
        lines lk;
        read_lines(cut, &lk);
        assert_same_lines(&lk, &lc);
        assert_int_equal(lk.dup_trials + lk.dup_rungs, 0);
        assert_true(metric(rep, "trials_resumed") + metric(rep, "trials_run") == 12);
        const cJSON *bk = cJSON_GetObjectItem(dt_report_metrics(rep), "best");
        const cJSON *bc = cJSON_GetObjectItem(dt_report_metrics(rc), "best");
        assert_int_equal(cJSON_GetObjectItem(bk, "trial")->valueint, cJSON_GetObjectItem(bc, "trial")->valueint);
        print_message("cut after %d of %d lines: %.0f trials resumed, %.0f run, same journal\n", keep, total,
                      metric(rep, "trials_resumed"), metric(rep, "trials_run"));
        free_lines(&lk);
        dt_report_free(rep);
    }
    /* The whole journal: every trial is kept, none is trained again (params read back bit for bit). */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = cut, .quiet = 1, .resume = 1};
    dt_report *rep = dt_report_new("tune", cfg);
    assert_int_equal(dt_stage_tune(&ctx, rep), DT_OK);
    dt_stage_ctx_release(&ctx);
    assert_true(metric(rep, "trials_resumed") == 12 && metric(rep, "trials_run") == 0);
    dt_report_free(rep);
    free(text);
    free_lines(&lc);
    dt_report_free(rc);
    dt_test_rmtree(clean);
    dt_test_rmtree(cut);
    free(cfg);
}

/* ----------------------------------------------------------- the CLI */

static char g_tmp[512];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static int have_mpirun(void) { return sh("command -v mpirun >/dev/null 2>&1") == 0; }

static void test_cli_usage_errors(void **state)
{
    if (access(g_bin, X_OK) != 0) {
        print_message("%s not built: skipped\n", g_bin);
        skip();
    }
    char cfg[600], err[600];
    snprintf(err, sizeof err, "%s/err", g_tmp);
    dt_test_write(g_tmp, "c.yaml", "data: {format: synthetic}\nstages: {tune: {trials: 2, pruner: asha, reduction_factor: 1}}\n",
                  cfg, sizeof cfg);
    assert_int_equal(sh("%s tune %s --out %s/o --quiet 2>%s", g_bin, cfg, g_tmp, err), 2);
    char *e = dt_test_read(err);
    assert_non_null(strstr(e, "stages.tune.reduction_factor must be >= 2"));
    free(e);
    dt_test_write(g_tmp, "c.yaml", "data: {format: synthetic}\nstages: {tune: {trials: 2, min_resource: 2}}\n", cfg,
                  sizeof cfg);
    assert_int_equal(sh("%s tune %s --out %s/o --quiet 2>%s", g_bin, cfg, g_tmp, err), 2);
    e = dt_test_read(err);
    assert_non_null(strstr(e, "stages.tune.min_resource has no effect with stages.tune.pruner none"));
    free(e);
    assert_int_equal(sh("%s tune %s --mpi --jobs 2 --out %s/o 2>%s", g_bin, cfg, g_tmp, err), 2);
    e = dt_test_read(err);
    assert_non_null(strstr(e, "--jobs does not apply with --mpi"));
    free(e);
    assert_int_equal(sh("%s run %s --mpi --out %s/o 2>%s", g_bin, cfg, g_tmp, err), 2);
    if (!dt_mpi_available()) {
        assert_int_equal(sh("%s tune %s --mpi --out %s/o 2>%s", g_bin, cfg, g_tmp, err), 2);
        e = dt_test_read(err);
        assert_non_null(strstr(e, "built without Open MPI"));
        free(e);
        print_message("built without Open MPI: --mpi is a usage error (checked)\n");
    } else {
        /* One rank alone has nobody to train.  (Open MPI's own allocations at exit are no leak of ours.) */
        assert_int_equal(sh("ASAN_OPTIONS=detect_leaks=0 %s tune %s --mpi --out %s/o 2>%s", g_bin, cfg, g_tmp, err), 2);
        e = dt_test_read(err);
        assert_non_null(strstr(e, "needs at least 2 ranks"));
        free(e);
    }
}

static const char mpi_yaml[] =
    "name: asha-mpi\n"
    "seed: 7\n"
    "threads: 1\n"
    "data:\n"
    "  format: synthetic\n"
    "  synthetic: {generator: spirals, samples: 2000, noise: 0.1}\n"
    "model: {arch: mlp, hidden: 128, depth: 2}\n"
    "train: {optimizer: sgd, lr: 0.01, batch_size: 32, epochs: 4}\n"
    "stages:\n"
    "  tune: {trials: 8, rounds: 2, top_k: 2, pruner: asha,\n"
    "         space: {train.lr: {log_uniform: [1.0e-3, 1.0]}, train.momentum: {uniform: [0.0, 0.9]}}}\n";

/* mpirun -np 3 in its own process group (on the slots a hostfile lists,
 * else oversubscribed); stderr to err. */
static pid_t spawn_mpi_on(const char *cfg, const char *out, int resume, const char *err, const char *hostfile)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        FILE *e = freopen(err, "w", stderr);
        (void)e;
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);   /* Open MPI's own allocations at exit */
        char *plain[] = {"mpirun", "--oversubscribe", "-np", "3", g_bin, "tune", (char *)cfg, "--mpi", "--out",
                         (char *)out, "--quiet", resume ? "--resume" : NULL, NULL};
        char *hosts[] = {"mpirun", "--hostfile", (char *)hostfile, "-np", "3", g_bin, "tune", (char *)cfg, "--mpi",
                         "--out", (char *)out, "--quiet", NULL};
        execvp("mpirun", hostfile ? hosts : plain);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static pid_t spawn_mpi(const char *cfg, const char *out, int resume, const char *err)
{
    return spawn_mpi_on(cfg, out, resume, err, NULL);
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_trial_lines(const char *path)
{
    char *t = dt_test_read(path);
    if (!t) return 0;
    int n = 0;
    for (char *p = t; (p = strstr(p, "\"status\"")); p++) n++;
    free(t);
    return n;
}

/* The ranks mpirun started (its children; each in its own process group):
 * pids[r] is rank r's (0 when not found). */
static void find_ranks(pid_t mpirun, pid_t *pids, int n)
{
    memset(pids, 0, (size_t)n * sizeof *pids);
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        pid_t p = (pid_t)atoi(de->d_name);
        if (p <= 0) continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[len] = '\0';
        const char *close_paren = strrchr(stat, ')');
        int ppid = 0;
        if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1 || ppid != mpirun) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)p);
        if (!(f = fopen(path, "r"))) continue;
        static char env[1 << 16];
        size_t m = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        env[m] = '\0';
        for (size_t i = 0; i < m; i += strlen(env + i) + 1) {
            int r;
            if (sscanf(env + i, "OMPI_COMM_WORLD_RANK=%d", &r) == 1 && r >= 0 && r < n) pids[r] = p;
        }
    }
    closedir(d);
}

/* kill -9 of a training rank mid-study ends the job (non-zero, mpirun says
 * which rank died); --resume under MPI then ends with exactly the configured
 * trials, none twice, and the same trials, verdicts and best as an
 * uninterrupted MPI run. */
static void test_mpi_kill_9_then_resume(void **state)
{
    if (access(g_bin, X_OK) != 0 || !dt_mpi_available() || !have_mpirun()) {
        print_message("needs %s built with Open MPI and mpirun (apt-get install openmpi-bin libopenmpi-dev): "
                      "skipped\n", g_bin);
        skip();
    }
    char cfg[600], killed[600], clean[600], journal_path[700], err[600];
    snprintf(killed, sizeof killed, "%s/killed", g_tmp);
    snprintf(clean, sizeof clean, "%s/clean", g_tmp);
    snprintf(journal_path, sizeof journal_path, "%s/trials.jsonl", killed);
    snprintf(err, sizeof err, "%s/mpi.err", g_tmp);
    dt_test_write(g_tmp, "mpi.yaml", mpi_yaml, cfg, sizeof cfg);

    pid_t pid = spawn_mpi(cfg, killed, 0, err);
    int done = 0;
    for (int i = 0; i < 120000 && done < 2; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        done = count_trial_lines(journal_path);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) fail_msg("the MPI study ended before it could be killed");
    }
    pid_t ranks[3];
    find_ranks(pid, ranks, 3);
    assert_true(ranks[0] > 0 && ranks[1] > 0 && ranks[2] > 0);
    kill(ranks[1], SIGKILL);
    int rc = -1;
    for (int i = 0; i < 30000; i++) {   /* mpirun must end the job by itself */
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (int r = 0; r < 3; r++) kill(ranks[r], SIGKILL);   /* whatever is left of the job (ours) */
    if (rc < 0) fail_msg("mpirun did not end the job within 30 s of a rank's death");
    char *e = dt_test_read(err);
    print_message("rank 1 killed with %d of 8 trials done: mpirun exit %d\n", done, rc);
    assert_true(rc != 0);
    assert_non_null(e);
    if (!strstr(e, "signal 9") && !strstr(e, "Killed")) fail_msg("mpirun did not say a rank died: %s", e);
    free(e);
    int at_kill = count_trial_lines(journal_path);
    assert_true(at_kill >= 2 && at_kill < 8);

    assert_int_equal(wait_exit(spawn_mpi(cfg, killed, 1, err)), 0);
    assert_int_equal(wait_exit(spawn_mpi(cfg, clean, 0, err)), 0);
    lines lk, lc;
    read_lines(killed, &lk);
    read_lines(clean, &lc);
    assert_int_equal(lk.trials, 8);
    assert_int_equal(lk.dup_trials + lk.dup_rungs, 0);
    assert_same_lines(&lk, &lc);
    char p1[700], p2[700];
    snprintf(p1, sizeof p1, "%s/tune.json", killed);
    snprintf(p2, sizeof p2, "%s/tune.json", clean);
    char *t1 = dt_test_read(p1), *t2 = dt_test_read(p2);
    cJSON *rk = cJSON_Parse(t1), *rcl = cJSON_Parse(t2);
    assert_non_null(rk);
    assert_non_null(rcl);
    const cJSON *mk = cJSON_GetObjectItem(rk, "metrics"), *mc = cJSON_GetObjectItem(rcl, "metrics");
    const cJSON *bk = cJSON_GetObjectItem(mk, "best"), *bc = cJSON_GetObjectItem(mc, "best");
    assert_int_equal(cJSON_GetObjectItem(bk, "trial")->valueint, cJSON_GetObjectItem(bc, "trial")->valueint);
    assert_true(cJSON_GetObjectItem(bk, "score")->valuedouble == cJSON_GetObjectItem(bc, "score")->valuedouble);
    assert_int_equal(cJSON_GetObjectItem(mk, "jobs")->valueint, 2);
    assert_true(cJSON_GetObjectItem(mk, "trials_resumed")->valuedouble >= 2);
    print_message("resumed: %.0f trials from the journal, %.0f run, %d pruned; same journal and best as "
                  "uninterrupted\n", cJSON_GetObjectItem(mk, "trials_resumed")->valuedouble,
                  cJSON_GetObjectItem(mk, "trials_run")->valuedouble, lk.pruned);
    cJSON_Delete(rk);
    cJSON_Delete(rcl);
    free(t1);
    free(t2);
    free_lines(&lk);
    free_lines(&lc);
}

/* The command for many machines, `mpirun --hostfile HOSTS`, on the one
 * machine there is (HOSTS: localhost with 3 slots): the same trials,
 * verdicts and best as `mpirun -np 3`.  Other hosts (the binary, config
 * and data at the same paths, docs/tune.md) are untested: one machine. */
static void test_mpi_hostfile(void **state)
{
    if (access(g_bin, X_OK) != 0 || !dt_mpi_available() || !have_mpirun()) {
        print_message("needs %s built with Open MPI and mpirun: skipped\n", g_bin);
        skip();
    }
    char cfg[600], hosts[600], viah[600], plain[600], err[600];
    dt_test_write(g_tmp, "hf.yaml", mpi_yaml, cfg, sizeof cfg);
    dt_test_write(g_tmp, "hosts", "localhost slots=3\n", hosts, sizeof hosts);
    snprintf(viah, sizeof viah, "%s/via-hostfile", g_tmp);
    snprintf(plain, sizeof plain, "%s/plain", g_tmp);
    snprintf(err, sizeof err, "%s/hf.err", g_tmp);
    int rc = wait_exit(spawn_mpi_on(cfg, viah, 0, err, hosts));
    if (rc != 0) {
        char *e = dt_test_read(err);
        fail_msg("mpirun --hostfile exit %d: %s", rc, e ? e : "");
    }
    assert_int_equal(wait_exit(spawn_mpi(cfg, plain, 0, err)), 0);
    lines lh, lp;
    read_lines(viah, &lh);
    read_lines(plain, &lp);
    assert_int_equal(lh.trials, 8);
    assert_same_lines(&lh, &lp);
    free_lines(&lh);
    free_lines(&lp);
}

static int setup(void **state)
{
    dt_test_tmpdir(g_tmp, sizeof g_tmp);
    return 0;
}

static int teardown(void **state)
{
    dt_test_rmtree(g_tmp);
    return 0;
}

int main(int argc, char **argv)
{
    dt_test_tool_path(argc > 0 ? argv[0] : NULL, g_bin, sizeof g_bin);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promotion_rule),
        cmocka_unit_test(test_same_verdicts_for_any_jobs),
        cmocka_unit_test(test_promoted_trial_scores_as_unpruned),
        cmocka_unit_test(test_rung_state_survives_resume),
        cmocka_unit_test(test_cli_usage_errors),
        cmocka_unit_test(test_mpi_kill_9_then_resume),
        cmocka_unit_test(test_mpi_hostfile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
