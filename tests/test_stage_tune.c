/* The tune stage: seeded reproducibility (also across --jobs), ranges that
 * narrow round by round around the best, sick trials stopped early, kill -9
 * of a parallel run and resume, and a learning rate as good as a dense grid's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/stages/common.h"
#include "../src/stages/tune_runner.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "support/test_files.h"
#include "support/test_models.h"

static char g_bin[1024];   /* build/dnntrouble next to this test's folder */

/* A small spirals problem with an MLP and plain SGD. */
static dt_config *base_config(void)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    dt_test_set(c, "name", "tune-test");
    dt_test_set(c, "seed", "3");
    dt_test_set(c, "threads", "1");
    dt_test_set(c, "data.format", "synthetic");
    dt_test_set(c, "data.synthetic.generator", "spirals");
    dt_test_set(c, "data.synthetic.samples", "1200");
    dt_test_set(c, "data.synthetic.noise", "0.1");
    dt_test_set(c, "data.splits.train_val", "0.2");
    dt_test_set(c, "model.arch", "mlp");
    dt_test_set(c, "model.hidden", "32");
    dt_test_set(c, "train.optimizer", "sgd");
    dt_test_set(c, "train.batch_size", "32");
    dt_test_set(c, "train.epochs", "4");
    dt_test_set(c, "stages.tune.trials", "6");
    dt_test_set(c, "stages.tune.rounds", "2");
    dt_test_set(c, "stages.tune.top_k", "2");
    dt_test_set(c, "stages.tune.jobs", "1");
    dt_test_set(c, "stages.tune.space.train.lr", "{log_uniform: [1.0e-3, 1.0]}");
    assert_int_equal(dt_config_check(c), DT_OK);
    return c;
}

static void make_dir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/dt_tune_XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void remove_dir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Runs the stage in this process; returns the report (caller frees). */
static dt_report *run_tune(dt_config *cfg, const char *dir)
{
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1};
    dt_report *rep = dt_report_new("tune", cfg);
    assert_non_null(rep);
    dt_status st = dt_stage_tune(&ctx, rep);
    if (st) print_error("tune: %s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(dt_report_write(rep, dir), DT_OK);
    dt_stage_ctx_release(&ctx);
    return rep;
}

/* The journal's entries as JSON objects indexed by trial id (NULL: missing). */
typedef struct journal {
    int lines, dups;
    cJSON *by_id[64];
} journal;

static void read_journal(const char *dir, journal *j)
{
    memset(j, 0, sizeof *j);
    char path[1200];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n')) break;
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        int id = cJSON_GetObjectItem(o, "trial")->valueint;
        assert_true(id >= 0 && id < 64);
        j->lines++;
        if (j->by_id[id]) {
            j->dups++;
            cJSON_Delete(o);
        } else {
            j->by_id[id] = o;
        }
    }
    fclose(f);
}

static void free_journal(journal *j)
{
    for (int i = 0; i < 64; i++) cJSON_Delete(j->by_id[i]);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static double param(const cJSON *entry_or_best, const char *key)
{
    const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(entry_or_best, "params"), key);
    assert_true(cJSON_IsNumber(p));
    return p->valuedouble;
}

/* ------------------------------------------------------------------ tests */

static void test_same_seed_same_trials_and_best(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "stages.tune.space.train.batch_size", "{choice: [16, 32, 64]}");
    char d1[64], d2[64];
    make_dir(d1, sizeof d1);
    make_dir(d2, sizeof d2);
    dt_report *r1 = run_tune(cfg, d1);
    dt_test_set(cfg, "stages.tune.jobs", "2");   /* parallel: the same trials, the same results */
    dt_report *r2 = run_tune(cfg, d2);
    journal j1, j2;
    read_journal(d1, &j1);
    read_journal(d2, &j2);
    assert_int_equal(j1.lines, 6);
    assert_int_equal(j2.lines, 6);
    for (int id = 0; id < 6; id++) {
        assert_non_null(j1.by_id[id]);
        assert_non_null(j2.by_id[id]);
        char *p1 = cJSON_PrintUnformatted(cJSON_GetObjectItem(j1.by_id[id], "params"));
        char *p2 = cJSON_PrintUnformatted(cJSON_GetObjectItem(j2.by_id[id], "params"));
        assert_string_equal(p1, p2);
        free(p1);
        free(p2);
        assert_true(cJSON_GetObjectItem(j1.by_id[id], "score")->valuedouble ==
                    cJSON_GetObjectItem(j2.by_id[id], "score")->valuedouble);
    }
    const cJSON *b1 = cJSON_GetObjectItem(dt_report_metrics(r1), "best");
    const cJSON *b2 = cJSON_GetObjectItem(dt_report_metrics(r2), "best");
    assert_int_equal(cJSON_GetObjectItem(b1, "trial")->valueint, cJSON_GetObjectItem(b2, "trial")->valueint);
    assert_true(param(b1, "train.lr") == param(b2, "train.lr"));
    double trials;
    assert_true(dt_report_get_metric(r1, "trials", &trials) && trials == 6);
    /* best.yaml loads back as a config with the best values. */
    char path[128];
    snprintf(path, sizeof path, "%s/best.yaml", d1);
    dt_config *bc = malloc(sizeof *bc);
    assert_int_equal(dt_config_load(path, bc), DT_OK);
    assert_true(fabs(bc->train.lr - param(b1, "train.lr")) <= 1e-12 * bc->train.lr);
    assert_int_equal(bc->train.epochs, 4);
    free(bc);
    free_journal(&j1);
    free_journal(&j2);
    dt_report_free(r1);
    dt_report_free(r2);
    remove_dir(d1);
    remove_dir(d2);
    free(cfg);
}

/* A described network's layer option is a search key; best.yaml holds the
 * best value in its layers. */
static void test_layer_option_in_the_space(void **state)
{
    dt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    dt_config_defaults(cfg);
    dt_test_set(cfg, "data.format", "synthetic");
    dt_test_set(cfg, "data.synthetic.generator", "spirals");
    dt_test_set(cfg, "data.synthetic.samples", "600");
    dt_test_set(cfg, "model.arch", "custom");
    dt_test_set(cfg, "model.layers", "[{name: f1, type: linear, units: 8}, {type: relu}, {name: out, type: linear}]");
    dt_test_set(cfg, "train.epochs", "2");
    dt_test_set(cfg, "stages.tune.trials", "4");
    dt_test_set(cfg, "stages.tune.rounds", "1");
    dt_test_set(cfg, "stages.tune.space.model.layers.f1.units", "{int: [4, 64]}");
    assert_int_equal(dt_config_check(cfg), DT_OK);
    char d[64];
    make_dir(d, sizeof d);
    dt_report *r = run_tune(cfg, d);
    journal j;
    read_journal(d, &j);
    assert_int_equal(j.lines, 4);
    const cJSON *best = cJSON_GetObjectItem(dt_report_metrics(r), "best");
    double units = param(best, "model.layers.f1.units");
    assert_true(units >= 4 && units <= 64);
    /* The best trial's retrain records its curve; watching train_val does not
     * change the weights: the last epoch's error is the retrain's score. */
    const cJSON *h = cJSON_GetObjectItem(best, "history");
    const cJSON *ve = cJSON_GetObjectItem(h, "val_error");
    assert_int_equal(cJSON_GetArraySize(ve), 2);
    double last = cJSON_GetArrayItem(ve, 1)->valuedouble, score = cJSON_GetObjectItem(best, "retrain_train_val_error")->valuedouble;
    assert_true(fabs(last - score) < 1e-5);
    assert_true(fabs(score - cJSON_GetObjectItem(best, "train_val_error")->valuedouble) < 1e-12);
    char path[128];
    snprintf(path, sizeof path, "%s/best.yaml", d);
    dt_config *bc = malloc(sizeof *bc);
    dt_status st = dt_config_load(path, bc);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_true(dt_layer_opt(&bc->model.desc.layers[0], "units") == units);
    /* A preset key has no effect on a described network: refused at load. */
    dt_test_set(cfg, "stages.tune.space.model.hidden", "{int: [4, 64]}");
    assert_int_equal(dt_config_check(cfg), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "search a layer option instead"));
    free(bc);
    free_journal(&j);
    dt_report_free(r);
    remove_dir(d);
    free(cfg);
}

/* No space named: Tobin's default, the learning rate and the batch size
 * around the configured values, written into the resolved config. */
static void test_default_space(void **state)
{
    dt_config *cfg = base_config();
    cfg->stages.tune.n_space = 0;
    dt_test_set(cfg, "train.lr", "0.01");
    dt_test_set(cfg, "stages.tune.trials", "3");
    dt_test_set(cfg, "stages.tune.rounds", "1");
    char d[64];
    make_dir(d, sizeof d);
    dt_report *r = run_tune(cfg, d);
    assert_int_equal(cfg->stages.tune.n_space, 2);
    assert_string_equal(cfg->stages.tune.space[0].key, "train.lr");
    assert_true(fabs(cfg->stages.tune.space[0].lo - 0.001) < 1e-12 && fabs(cfg->stages.tune.space[0].hi - 0.1) < 1e-12);
    assert_string_equal(cfg->stages.tune.space[1].key, "train.batch_size");
    assert_int_equal(cfg->stages.tune.space[1].n_choices, 3);
    double trials;
    assert_true(dt_report_get_metric(r, "trials", &trials) && trials == 3);
    dt_report_free(r);
    remove_dir(d);
    free(cfg);
}

static void test_ranges_narrow_round_by_round(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "stages.tune.trials", "12");
    dt_test_set(cfg, "stages.tune.rounds", "3");
    dt_test_set(cfg, "stages.tune.top_k", "3");
    dt_test_set(cfg, "stages.tune.space.train.lr", "{log_uniform: [1.0e-4, 1.0]}");
    dt_test_set(cfg, "stages.tune.space.train.batch_size", "{choice: [16, 32, 64]}");
    char dir[64];
    make_dir(dir, sizeof dir);
    dt_report *rep = run_tune(cfg, dir);
    const cJSON *rounds = cJSON_GetObjectItem(dt_report_metrics(rep), "rounds");
    assert_int_equal(cJSON_GetArraySize(rounds), 3);
    double prev_w = INFINITY, prev_lo = 0, prev_hi = INFINITY;
    int prev_choices = 99;
    for (int r = 0; r < 3; r++) {
        const cJSON *ranges = cJSON_GetObjectItem(cJSON_GetArrayItem(rounds, r), "ranges");
        const cJSON *lr = cJSON_GetObjectItem(ranges, "train.lr");
        double lo = cJSON_GetArrayItem(lr, 0)->valuedouble, hi = cJSON_GetArrayItem(lr, 1)->valuedouble;
        double w = log(hi / lo);
        int choices = cJSON_GetArraySize(cJSON_GetObjectItem(ranges, "train.batch_size"));
        print_message("round %d: lr [%.3g, %.3g] (log width %.2f), %d batch sizes\n", r + 1, lo, hi, w, choices);
        if (r == 1) assert_true(w < prev_w);      /* round 2 narrows the whole space */
        assert_true(w <= prev_w + 1e-12);
        assert_true(lo >= prev_lo && hi <= prev_hi);
        assert_true(choices <= prev_choices);
        prev_w = w;
        prev_lo = lo;
        prev_hi = hi;
        prev_choices = choices;
    }
    /* The best trial lies in the last round's range: the search closed in on it. */
    double best = param(cJSON_GetObjectItem(dt_report_metrics(rep), "best"), "train.lr");
    assert_true(best >= prev_lo && best <= prev_hi);
    /* Importance: one share per key, summing to 1, ranked. */
    const cJSON *imp = cJSON_GetObjectItem(dt_report_metrics(rep), "importance");
    assert_int_equal(cJSON_GetArraySize(imp), 2);
    double s0 = cJSON_GetObjectItem(cJSON_GetArrayItem(imp, 0), "share")->valuedouble;
    double s1 = cJSON_GetObjectItem(cJSON_GetArrayItem(imp, 1), "share")->valuedouble;
    assert_true(s0 >= s1);
    assert_true(fabs(s0 + s1 - 1.0) < 1e-9 || s0 + s1 == 0.0);
    dt_report_free(rep);
    remove_dir(dir);
    free(cfg);
}

/* Under a pruner a round may finish fewer than top_k trials: the pruned
 * ones that got furthest fill up, so the next round is not narrowed around
 * the one trial that happened to finish. */
static void test_pruned_trials_fill_the_narrowing(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "stages.tune.space.train.lr", "{log_uniform: [1.0e-4, 1.0]}");
    dt_test_set(cfg, "stages.tune.space.train.batch_size", "{choice: [16, 32, 64]}");
    /* id: lr, batch index, status, rung, score */
    const struct { double lr; int bs; dt_trial_status st; int rung; double score; } rows[] = {
        {1e-3, 0, DT_TRIAL_OK, 0, 0.20},     {1e-2, 1, DT_TRIAL_PRUNED, 1, 0.25},
        {1e-1, 2, DT_TRIAL_PRUNED, 0, 0.10}, {3e-3, 0, DT_TRIAL_PRUNED, 1, 0.22},
        {0.9, 2, DT_TRIAL_SICK, 0, NAN},
    };
    enum { N = sizeof rows / sizeof rows[0] };
    dt_trial t[N];
    dt_trial_result r[N];
    for (int i = 0; i < N; i++) {
        t[i] = (dt_trial){.id = i, .n = 2, .num = {rows[i].lr}, .choice = {0, rows[i].bs}};
        r[i] = (dt_trial_result){.id = i, .status = rows[i].st, .rung = rows[i].rung, .score = rows[i].score,
                                 .val_loss = rows[i].score};
    }
    dt_tune_ranges all, next;
    dt_tune_ranges_init(cfg, &all);
    /* top_k 3: the OK trial 0, then pruned 3 and 1 (rung 1, by score); not
     * 2, the best score but stopped a rung earlier. */
    dt_tune_ranges_narrow(cfg, &all, t, r, N, 3, &next);
    assert_true(next.r[0].lo < 1e-3 && next.r[0].hi > 1e-2 && next.r[0].hi < 1e-1);
    assert_int_equal(next.r[1].allowed[0], 1);
    assert_int_equal(next.r[1].allowed[1], 1);
    assert_int_equal(next.r[1].allowed[2], 0);
    /* top_k 1: the OK trial alone. */
    dt_tune_ranges_narrow(cfg, &all, t, r, N, 1, &next);
    assert_true(next.r[0].hi < 3e-3);
    assert_int_equal(next.r[1].allowed[1], 0);
    free(cfg);
}

static void test_exploding_lr_trials_are_sick_and_stopped_early(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "stages.tune.trials", "8");
    dt_test_set(cfg, "stages.tune.rounds", "1");
    dt_test_set(cfg, "stages.tune.space.train.lr", "{log_uniform: [1.0e-2, 100]}");
    char dir[64];
    make_dir(dir, sizeof dir);
    dt_report *rep = run_tune(cfg, dir);
    journal j;
    read_journal(dir, &j);
    int sick = 0, ok = 0;
    for (int id = 0; id < 8; id++) {
        const cJSON *e = j.by_id[id];
        assert_non_null(e);
        const char *status = cJSON_GetObjectItem(e, "status")->valuestring;
        double lr = param(e, "train.lr");
        long steps = (long)cJSON_GetObjectItem(e, "steps")->valuedouble;
        long budget = (long)cJSON_GetObjectItem(e, "budget")->valuedouble;
        if (strcmp(status, "sick") == 0) {
            const char *reason = cJSON_GetObjectItem(e, "reason")->valuestring;
            print_message("trial %d lr %.3g: sick after %ld/%ld steps: %s\n", id, lr, steps, budget, reason);
            assert_true(strstr(reason, "exploded") || strstr(reason, "nan") || strstr(reason, "inf") ||
                        strstr(reason, "not decreasing"));
            assert_true(steps < budget);
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "score")));
            sick++;
        } else {
            assert_string_equal(status, "ok");
            ok++;
        }
        /* Learning rates of 10 and more blow SGD up on this problem. */
        if (lr >= 10) assert_string_equal(status, "sick");
    }
    assert_true(sick >= 1);
    double m;
    assert_true(dt_report_get_metric(rep, "trials_sick", &m) && m == sick);
    assert_true(dt_report_has_finding(rep, "tune-sick-trials"));
    free_journal(&j);
    dt_report_free(rep);
    remove_dir(dir);
    free(cfg);
}

static void test_learning_rate_too_small_is_not_decreasing(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "stages.tune.trials", "2");
    dt_test_set(cfg, "stages.tune.rounds", "1");
    dt_test_set(cfg, "stages.tune.space.train.lr", "{log_uniform: [1.0e-8, 1.0e-7]}");
    char dir[64];
    make_dir(dir, sizeof dir);
    dt_report *rep = run_tune(cfg, dir);
    journal j;
    read_journal(dir, &j);
    for (int id = 0; id < 2; id++)
        assert_non_null(strstr(cJSON_GetObjectItem(j.by_id[id], "reason")->valuestring, "not decreasing"));
    assert_true(dt_report_has_finding(rep, "tune-no-healthy-trial"));
    assert_int_equal(dt_report_status(rep), DT_VERDICT_FAIL);
    free_journal(&j);
    dt_report_free(rep);
    remove_dir(dir);
    free(cfg);
}

/* ---------------------------------------------------- kill -9 and resume */

static const char kill_yaml[] =
    "name: tune-kill\n"
    "seed: 5\n"
    "threads: 1\n"
    "data:\n"
    "  format: synthetic\n"
    "  synthetic: {generator: spirals, samples: 3000, noise: 0.1}\n"
    "model: {arch: mlp, hidden: 256, depth: 2}\n"
    "train: {optimizer: sgd, lr: 0.01, batch_size: 32, epochs: 3}\n"
    "stages:\n"
    "  tune: {trials: 8, rounds: 2, top_k: 2, jobs: 2,\n"
    "         space: {train.lr: {log_uniform: [1.0e-3, 1.0]}, train.momentum: {uniform: [0.0, 0.9]}}}\n";

static pid_t spawn(const char *config, const char *out, int resume)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        char *argv[] = {g_bin, "tune", (char *)config, "--out", (char *)out, "--jobs", "2", "--quiet",
                        resume ? "--resume" : NULL, NULL};
        execv(g_bin, argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    return o;
}

static void test_kill_9_then_resume_matches_uninterrupted(void **state)
{
    if (access(g_bin, X_OK) != 0) {
        print_message("%s not built: skipped\n", g_bin);
        skip();
    }
    char dir[64], cfgpath[128], killed[128], clean[128], journal_path[160];
    make_dir(dir, sizeof dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/tune.yaml", dir);
    snprintf(killed, sizeof killed, "%s/killed", dir);
    snprintf(clean, sizeof clean, "%s/clean", dir);
    snprintf(journal_path, sizeof journal_path, "%s/trials.jsonl", killed);
    FILE *f = fopen(cfgpath, "w");
    assert_non_null(f);
    fputs(kill_yaml, f);
    fclose(f);

    pid_t pid = spawn(cfgpath, killed, 0);
    int lines = 0;
    for (int i = 0; i < 60000 && lines < 2; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        lines = count_lines(journal_path);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) fail_msg("the tune run ended before it could be killed");
    }
    kill(-pid, SIGKILL);
    assert_int_equal(wait_exit(pid), 128 + SIGKILL);
    int at_kill = count_lines(journal_path);
    print_message("killed with %d of 8 trials in the journal\n", at_kill);
    assert_true(at_kill >= 2 && at_kill < 8);

    assert_int_equal(wait_exit(spawn(cfgpath, killed, 1)), 0);
    assert_int_equal(wait_exit(spawn(cfgpath, clean, 0)), 0);

    journal jk, jc;
    read_journal(killed, &jk);
    read_journal(clean, &jc);
    assert_int_equal(jk.lines, 8);
    assert_int_equal(jk.dups, 0);
    for (int id = 0; id < 8; id++) {
        assert_non_null(jk.by_id[id]);
        assert_non_null(jc.by_id[id]);
        assert_true(param(jk.by_id[id], "train.lr") == param(jc.by_id[id], "train.lr"));
        const cJSON *a = cJSON_GetObjectItem(jk.by_id[id], "score"), *b = cJSON_GetObjectItem(jc.by_id[id], "score");
        assert_true(cJSON_IsNull(a) == cJSON_IsNull(b));
        if (!cJSON_IsNull(a)) assert_true(a->valuedouble == b->valuedouble);
    }
    char p1[200], p2[200];
    snprintf(p1, sizeof p1, "%s/tune.json", killed);
    snprintf(p2, sizeof p2, "%s/tune.json", clean);
    cJSON *rk = load_json(p1), *rc = load_json(p2);
    const cJSON *bk = cJSON_GetObjectItem(cJSON_GetObjectItem(rk, "metrics"), "best");
    const cJSON *bc = cJSON_GetObjectItem(cJSON_GetObjectItem(rc, "metrics"), "best");
    assert_int_equal(cJSON_GetObjectItem(bk, "trial")->valueint, cJSON_GetObjectItem(bc, "trial")->valueint);
    assert_true(param(bk, "train.lr") == param(bc, "train.lr"));
    assert_true(cJSON_GetObjectItem(bk, "score")->valuedouble == cJSON_GetObjectItem(bc, "score")->valuedouble);
    const cJSON *resumed = cJSON_GetObjectItem(cJSON_GetObjectItem(rk, "metrics"), "trials_resumed");
    assert_true(resumed->valuedouble >= 2);
    cJSON_Delete(rk);
    cJSON_Delete(rc);
    free_journal(&jk);
    free_journal(&jc);
    remove_dir(dir);
}

/* A torn last line (a write cut by kill -9) is ignored and the trial re-run. */
static void test_torn_last_line_is_ignored(void **state)
{
    dt_config *cfg = base_config();
    char dir[64], path[128];
    make_dir(dir, sizeof dir);
    dt_report *r1 = run_tune(cfg, dir);
    dt_report_free(r1);
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    /* Keep 3 whole lines and half of the 4th. */
    FILE *f = fopen(path, "r");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t cut = 0;
    for (int k = 0; k < 3; k++) cut = (size_t)(strchr(buf + cut, '\n') - buf) + 1;
    size_t next = (size_t)(strchr(buf + cut, '\n') - buf);
    assert_true(next < n);
    f = fopen(path, "w");
    fwrite(buf, 1, cut + (next - cut) / 2, f);
    fclose(f);
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1, .resume = 1};
    dt_report *rep = dt_report_new("tune", cfg);
    assert_int_equal(dt_stage_tune(&ctx, rep), DT_OK);
    dt_stage_ctx_release(&ctx);
    double resumed, ran;
    assert_true(dt_report_get_metric(rep, "trials_resumed", &resumed) && resumed == 3);
    assert_true(dt_report_get_metric(rep, "trials_run", &ran) && ran == 3);
    journal j;
    read_journal(dir, &j);
    assert_int_equal(j.lines, 6);
    assert_int_equal(j.dups, 0);
    free_journal(&j);
    dt_report_free(rep);
    remove_dir(dir);
    free(cfg);
}

/* ------------------------------------------------ tune vs a dense grid */

static void test_learning_rate_within_3x_of_dense_grid(void **state)
{
    dt_config *cfg = base_config();
    dt_test_set(cfg, "data.synthetic.samples", "2000");
    dt_test_set(cfg, "data.synthetic.noise", "0.3");
    dt_test_set(cfg, "train.epochs", "4");
    dt_test_set(cfg, "stages.tune.trials", "24");
    dt_test_set(cfg, "stages.tune.rounds", "3");
    dt_test_set(cfg, "stages.tune.top_k", "3");
    dt_test_set(cfg, "stages.tune.jobs", "2");
    dt_test_set(cfg, "stages.tune.space.train.lr", "{log_uniform: [1.0e-3, 3.0]}");
    char dir[64];
    make_dir(dir, sizeof dir);
    dt_report *rep = run_tune(cfg, dir);
    double tuned = param(cJSON_GetObjectItem(dt_report_metrics(rep), "best"), "train.lr");

    /* The grid: 40 log-spaced rates over the same range, the same budget and scoring. */
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = dir, .quiet = 1};
    dt_data *d;
    assert_int_equal(dt_stage_prepare(&ctx, &d), DT_OK);
    dt_tune_job job = {.base = cfg, .data = d};
    dt_trial_result best = {0};
    double best_lr = 0;
    for (int i = 0; i < 40; i++) {
        dt_trial t = {.id = i, .n = 1};
        t.num[0] = 1e-3 * pow(3000.0, i / 39.0);
        dt_trial_result r;
        assert_int_equal(dt_tune_run_trial(&job, &t, NULL, &r), DT_OK);
        if (i == 0 || dt_trial_result_cmp(&r, &best) < 0) {
            best = r;
            best_lr = t.num[0];
        }
    }
    dt_stage_ctx_release(&ctx);
    print_message("tuned lr %.4g, dense-grid lr %.4g (ratio %.2f), grid error %.4f\n", tuned, best_lr,
                  tuned / best_lr, best.score);
    assert_true(tuned / best_lr <= 3.0 && best_lr / tuned <= 3.0);
    dt_report_free(rep);
    remove_dir(dir);
    free(cfg);
}

int main(int argc, char **argv)
{
    dt_test_tool_path(argc > 0 ? argv[0] : NULL, g_bin, sizeof g_bin);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_trials_and_best),
        cmocka_unit_test(test_layer_option_in_the_space),
        cmocka_unit_test(test_default_space),
        cmocka_unit_test(test_ranges_narrow_round_by_round),
        cmocka_unit_test(test_pruned_trials_fill_the_narrowing),
        cmocka_unit_test(test_exploding_lr_trials_are_sick_and_stopped_early),
        cmocka_unit_test(test_learning_rate_too_small_is_not_decreasing),
        cmocka_unit_test(test_kill_9_then_resume_matches_uninterrupted),
        cmocka_unit_test(test_torn_last_line_is_ignored),
        cmocka_unit_test(test_learning_rate_within_3x_of_dense_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
