/* The TPE sampler (tune_tpe.c) driven directly on known functions (no
 * training): reproducible from the seed, independent of which of the last
 * `lag` trials came back first, no repeated point among running trials (the
 * constant liar), and better than random search at a fixed budget.  Then
 * the stage with sampler tpe: the same study twice with two workers, and a
 * resume from a cut journal that ends as the uninterrupted study. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/stages/common.h"
#include "../src/stages/tune_sampler.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"
#include "support/test_files.h"
#include "support/test_models.h"

#define MAX_TRIALS 64

/* A config that only holds a space (the proposer reads nothing else). */
static dt_config *space_config(const char *sampler, unsigned long long seed)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    c->seed = seed;
    dt_test_set(c, "stages.tune.sampler", sampler);
    dt_test_set(c, "stages.tune.space.train.lr", "{log_uniform: [1.0e-5, 1.0]}");
    dt_test_set(c, "stages.tune.space.train.dropout", "{uniform: [0, 0.9]}");
    dt_test_set(c, "stages.tune.space.model.hidden", "{int: [8, 512]}");
    dt_test_set(c, "stages.tune.space.train.optimizer", "{choice: [sgd, adam, adamw]}");
    return c;
}

static int key_index(const dt_config *c, const char *key)
{
    for (int i = 0; i < c->stages.tune.n_space; i++)
        if (strcmp(c->stages.tune.space[i].key, key) == 0) return i;
    fail_msg("no key %s in the space", key);
    return -1;
}

/* A bowl with its minimum at lr 3e-3, dropout 0.2, hidden 128, adam;
 * lr above 0.3 "diverges" (a sick trial). */
static void bowl(const dt_config *c, const dt_trial *t, dt_trial_result *r)
{
    double lr = t->num[key_index(c, "train.lr")], dr = t->num[key_index(c, "train.dropout")];
    double h = t->num[key_index(c, "model.hidden")];
    int opt = t->choice[key_index(c, "train.optimizer")];
    memset(r, 0, sizeof *r);
    r->id = t->id;
    if (lr > 0.3) {
        r->status = DT_TRIAL_SICK;
        r->score = r->val_loss = NAN;
        return;
    }
    double a = log10(lr / 3e-3), b = (dr - 0.2) / 0.3, d = log2(h / 128.0) / 2;
    r->status = DT_TRIAL_OK;
    r->score = a * a + b * b + d * d + (opt == 1 ? 0.0 : 0.5);
    r->val_loss = r->score;
}

typedef void (*objective)(const dt_config *c, const dt_trial *t, dt_trial_result *r);

/* n trials of cfg's sampler one after the other (one worker); the best score. */
static double drive(const dt_config *cfg, objective f, int n, dt_trial *t, dt_trial_result *r)
{
    int done[MAX_TRIALS] = {0};
    dt_tune_ranges ranges[MAX_TRIALS];
    dt_tune_sampler s;
    assert_true(n <= MAX_TRIALS);
    dt_tune_sampler_init(&s, cfg, n, dt_tune_sampler_rounds(cfg, n), ranges);
    double best = INFINITY;
    for (int id = 0; id < n; id++) {
        dt_tune_history h = {.n = id, .t = t, .r = r, .done = done};
        assert_int_equal(dt_tune_propose(&s, &h, &t[id]), 1);
        assert_int_equal(t[id].id, id);
        assert_true(dt_tune_in_space(cfg, &t[id]));
        f(cfg, &t[id], &r[id]);
        done[id] = 1;
        if (r[id].status == DT_TRIAL_OK && r[id].score < best) best = r[id].score;
    }
    return best;
}

static int same_trials(const dt_config *c, const dt_trial *a, const dt_trial *b, int from, int n)
{
    for (int i = from; i < n; i++)
        if (!dt_trial_same_params(c, &a[i], &b[i])) return 0;
    return 1;
}

/* Kernel widths by Optuna's rule (parzen_estimator.py, univariate), worked
 * by hand on [0, 10]: the values sorted with the prior's centre 5 and the
 * ends, each kernel as wide as its farther neighbour, the outermost ones
 * looking inwards, clipped below at 10 / min(100, m + 2). */
static void test_kernel_widths_count_the_prior_centre(void **state)
{
    double sg[4];
    /* 1, 2, (5), 9: 1 -> 1 clipped to 2; 2 -> max(1, 3); 9 -> 9 - 5. */
    assert_int_equal(dt_tpe_sigmas((double[]){9, 1, 2}, 3, 0, 10, sg), 0);
    assert_float_equal(sg[0], 4.0, 1e-12);
    assert_float_equal(sg[1], 2.0, 1e-12);
    assert_float_equal(sg[2], 3.0, 1e-12);
    assert_float_equal(sg[3], 10.0, 1e-12);
    /* A lone good trial at 9 reaches to the centre, not across the range
     * (which would make l(x) about as flat as the prior). */
    assert_int_equal(dt_tpe_sigmas((double[]){9}, 1, 0, 10, sg), 0);
    assert_float_equal(sg[0], 4.0, 1e-12);
    /* Next to the centre: the clip, 10 / 3. */
    assert_int_equal(dt_tpe_sigmas((double[]){5.5}, 1, 0, 10, sg), 0);
    assert_float_equal(sg[0], 10.0 / 3.0, 1e-12);
}

static void test_reproducible_from_the_seed(void **state)
{
    for (int mv = 0; mv < 2; mv++) {
        dt_config *c1 = space_config("tpe", 7), *c2 = space_config("tpe", 8);
        c1->stages.tune.multivariate = c2->stages.tune.multivariate = mv;
        dt_trial a[30], b[30], d[30];
        dt_trial_result ra[30], rb[30], rd[30];
        drive(c1, bowl, 30, a, ra);
        drive(c1, bowl, 30, b, rb);
        drive(c2, bowl, 30, d, rd);
        assert_true(same_trials(c1, a, b, 0, 30));
        /* Another seed: other start-up trials, and other TPE proposals too. */
        assert_false(same_trials(c1, a, d, 0, 10));
        for (int i = 10; i < 30; i++) assert_false(dt_trial_same_params(c1, &a[i], &d[i]));
        free(c1);
        free(c2);
    }
}

/* With two workers trial k sees trials 0..k-2 finished and k-1 running,
 * whether or not k-1 has come back yet: so the study does not depend on
 * which worker was faster. */
static void test_proposal_ignores_the_last_lag_results(void **state)
{
    dt_config *c = space_config("tpe", 3);
    dt_trial t[21], x, y, z;
    dt_trial_result r[21];
    drive(c, bowl, 20, t, r);
    int done[21];
    for (int i = 0; i < 20; i++) done[i] = 1;
    dt_tune_history h = {.n = 20, .t = t, .r = r, .done = done};
    dt_tune_tpe_propose(c, &h, 2, &x);
    done[19] = 0;
    dt_tune_tpe_propose(c, &h, 2, &y);
    assert_true(dt_trial_same_params(c, &x, &y));
    /* With one worker trial 19's result counts: made the best, it changes the proposal. */
    done[19] = 1;
    r[19].status = DT_TRIAL_OK;
    r[19].score = r[19].val_loss = -1.0;
    dt_tune_tpe_propose(c, &h, 1, &z);
    assert_false(dt_trial_same_params(c, &x, &z));
    /* The seam waits: with lag 2, trial 20 needs trial 18. */
    dt_tune_ranges ranges[1];
    dt_tune_sampler s;
    dt_tune_sampler_init(&s, c, 30, 1, ranges);
    s.lag = 2;
    done[18] = 0;
    assert_int_equal(dt_tune_propose(&s, &h, &z), 0);
    done[18] = 1;
    assert_int_equal(dt_tune_propose(&s, &h, &z), 1);
    assert_true(dt_trial_same_params(c, &x, &z));
    free(c);
}

/* One integer key with its optimum at 37. */
static void valley(const dt_config *c, const dt_trial *t, dt_trial_result *r)
{
    memset(r, 0, sizeof *r);
    r->id = t->id;
    r->status = DT_TRIAL_OK;
    r->score = fabs(t->num[0] - 37.0);
    r->val_loss = r->score;
}

static int count_repeats(const dt_config *c, const dt_trial *t, int from, int n)
{
    int rep = 0;
    for (int i = from; i < n; i++)
        for (int j = 0; j < i; j++)
            if (dt_trial_same_params(c, &t[i], &t[j])) {
                rep++;
                break;
            }
    return rep;
}

static void constant_liar(int multivariate)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    c->seed = 11;
    dt_test_set(c, "stages.tune.sampler", "tpe");
    dt_test_set(c, "stages.tune.space.model.hidden", "{int: [1, 200]}");
    c->stages.tune.multivariate = multivariate;
    enum { FIN = 14, RUN = 24 };
    dt_trial t[FIN + RUN];
    dt_trial_result r[FIN + RUN];
    drive(c, valley, FIN, t, r);
    /* 24 workers ask in turn while all the others are still running. */
    int done[FIN + RUN] = {0};
    for (int i = 0; i < FIN; i++) done[i] = 1;
    for (int id = FIN; id < FIN + RUN; id++) {
        dt_tune_history h = {.n = id, .t = t, .r = r, .done = done};
        dt_tune_tpe_propose(c, &h, 1, &t[id]);
    }
    int liar = count_repeats(c, t, FIN, FIN + RUN);
    /* Without the liar (each proposal sees only the finished trials), the
     * same workers pile onto the good region. */
    dt_trial u[FIN + RUN];
    memcpy(u, t, FIN * sizeof *t);
    for (int k = 0; k < RUN; k++) {
        dt_tune_history h = {.n = FIN, .t = t, .r = r, .done = done};
        dt_config cc = *c;
        cc.seed = c->seed + 1000 + (unsigned long long)k;
        dt_tune_tpe_propose(&cc, &h, 1, &u[FIN + k]);
    }
    int blind = count_repeats(c, u, FIN, FIN + RUN);
    print_message("%s: %d workers asking while the others run: %d repeated points with the liar, %d without\n",
                  multivariate ? "multivariate" : "univariate", RUN, liar, blind);
    assert_int_equal(liar, 0);
    assert_true(blind >= RUN / 4);
    free(c);
}

static void test_constant_liar_proposes_no_running_point_twice(void **state)
{
    constant_liar(0);
    constant_liar(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_tpe_beats_random_at_a_fixed_budget(void **state)
{
    enum { SEEDS = 101, BUDGET = 30 };
    double tpe[SEEDS], mv[SEEDS], rnd[SEEDS];
    for (int k = 0; k < SEEDS; k++) {
        dt_config *ct = space_config("tpe", 100 + (unsigned long long)k), *cr = space_config("random", 100 + (unsigned long long)k);
        dt_trial t[BUDGET];
        dt_trial_result r[BUDGET];
        tpe[k] = drive(ct, bowl, BUDGET, t, r);
        ct->stages.tune.multivariate = 1;
        mv[k] = drive(ct, bowl, BUDGET, t, r);
        rnd[k] = drive(cr, bowl, BUDGET, t, r);
        free(ct);
        free(cr);
    }
    qsort(tpe, SEEDS, sizeof *tpe, cmp_double);
    qsort(mv, SEEDS, sizeof *mv, cmp_double);
    qsort(rnd, SEEDS, sizeof *rnd, cmp_double);
    print_message("best of %d trials over %d seeds (median, worst): tpe %.4f, %.4f; multivariate tpe %.4f, %.4f; "
                  "random %.4f, %.4f\n", BUDGET, SEEDS, tpe[SEEDS / 2], tpe[SEEDS - 1], mv[SEEDS / 2], mv[SEEDS - 1],
                  rnd[SEEDS / 2], rnd[SEEDS - 1]);
    assert_true(tpe[SEEDS / 2] < rnd[SEEDS / 2]);
    assert_true(mv[SEEDS / 2] < rnd[SEEDS / 2]);
}

/* ------------------------------------------------------ the stage with tpe */

static dt_config *stage_config(void)
{
    dt_config *c = malloc(sizeof *c);
    assert_non_null(c);
    dt_config_defaults(c);
    dt_test_set(c, "seed", "5");
    dt_test_set(c, "data.format", "synthetic");
    dt_test_set(c, "data.synthetic.generator", "spirals");
    dt_test_set(c, "data.synthetic.samples", "800");
    dt_test_set(c, "data.splits.train_val", "0.2");
    dt_test_set(c, "model.arch", "mlp");
    dt_test_set(c, "model.hidden", "16");
    dt_test_set(c, "train.optimizer", "sgd");
    dt_test_set(c, "train.batch_size", "32");
    dt_test_set(c, "train.epochs", "2");
    dt_test_set(c, "stages.tune.sampler", "tpe");
    dt_test_set(c, "stages.tune.trials", "9");
    dt_test_set(c, "stages.tune.startup_trials", "4");
    dt_test_set(c, "stages.tune.jobs", "2");
    dt_test_set(c, "stages.tune.space.train.lr", "{log_uniform: [1.0e-3, 1.0]}");
    dt_test_set(c, "stages.tune.space.train.momentum", "{uniform: [0, 0.9]}");
    assert_int_equal(dt_config_check(c), DT_OK);
    return c;
}

/* Runs the stage; the journal's lines sorted by trial id, joined, without
 * the seconds (the caller frees). */
static char *run_stage(dt_config *c, const char *dir, double *best_score, double *resumed)
{
    dt_stage_ctx ctx = {.cfg = c, .out_dir = dir, .quiet = 1};
    dt_report *rep = dt_report_new("tune", c);
    assert_non_null(rep);
    dt_status st = dt_stage_tune(&ctx, rep);
    if (st) print_error("tune: %s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    const cJSON *m = dt_report_metrics(rep);
    *best_score = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "best"), "score")->valuedouble;
    *resumed = cJSON_GetObjectItem(m, "trials_resumed")->valuedouble;
    dt_report_free(rep);
    dt_stage_ctx_release(&ctx);
    char path[1200];
    snprintf(path, sizeof path, "%s/trials.jsonl", dir);
    char *text = dt_test_read(path);
    assert_non_null(text);
    cJSON *by_id[MAX_TRIALS] = {0};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        int id = cJSON_GetObjectItem(o, "trial")->valueint;
        assert_true(id >= 0 && id < MAX_TRIALS && !by_id[id]);
        cJSON_DeleteItemFromObject(o, "seconds");
        by_id[id] = o;
    }
    free(text);
    size_t cap = 1, len = 0;
    char *out = calloc(1, 1);
    for (int id = 0; id < MAX_TRIALS; id++) {
        if (!by_id[id]) continue;
        char *s = cJSON_PrintUnformatted(by_id[id]);
        cap += strlen(s) + 1;
        out = realloc(out, cap);
        len += (size_t)sprintf(out + len, "%s\n", s);
        free(s);
        cJSON_Delete(by_id[id]);
    }
    return out;
}

static int count_char(const char *s, char ch)
{
    int n = 0;
    for (; *s; s++) n += *s == ch;
    return n;
}

static void test_stage_two_workers_reproducible_and_resumable(void **state)
{
    dt_config *c = stage_config();
    char d1[512], d2[512], d3[512];
    dt_test_tmpdir(d1, sizeof d1);
    dt_test_tmpdir(d2, sizeof d2);
    dt_test_tmpdir(d3, sizeof d3);
    double b1, b2, b3, r1, r2, r3;
    char *j1 = run_stage(c, d1, &b1, &r1);
    char *j2 = run_stage(c, d2, &b2, &r2);
    assert_int_equal(count_char(j1, '\n'), 9);
    assert_string_equal(j1, j2);
    assert_true(b1 == b2);
    /* A journal cut after its first 5 lines (as a kill -9 leaves it: the
     * trials that had finished, in completion order) resumes to the same study. */
    char path[1200], *full;
    snprintf(path, sizeof path, "%s/trials.jsonl", d1);
    full = dt_test_read(path);
    char *cut = full;
    for (int k = 0; k < 5; k++) cut = strchr(cut, '\n') + 1;
    *cut = '\0';
    char ignored[1200];
    dt_test_write(d3, "trials.jsonl", full, ignored, sizeof ignored);
    char *j3 = run_stage(c, d3, &b3, &r3);
    print_message("two workers, 9 trials: identical twice; resumed %g of 9 from a cut journal\n", r3);
    assert_true(r3 == 5);
    assert_string_equal(j1, j3);
    assert_true(b1 == b3);
    free(full);
    free(j1);
    free(j2);
    free(j3);
    dt_test_rmtree(d1);
    dt_test_rmtree(d2);
    dt_test_rmtree(d3);
    free(c);
}

static void test_sampler_keys_checked(void **state)
{
    dt_config *c = stage_config();
    dt_test_set(c, "stages.tune.rounds", "3");
    assert_int_equal(dt_config_check(c), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "stages.tune.rounds has no effect with stages.tune.sampler tpe"));
    dt_test_set(c, "stages.tune.sampler", "random");
    dt_test_set(c, "stages.tune.startup_trials", "10");
    assert_int_equal(dt_config_check(c), DT_OK);
    dt_test_set(c, "stages.tune.ei_candidates", "48");
    assert_int_equal(dt_config_check(c), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "stages.tune.ei_candidates has no effect with stages.tune.sampler random"));
    dt_test_set(c, "stages.tune.ei_candidates", "24");
    dt_test_set(c, "stages.tune.multivariate", "true");
    assert_int_equal(dt_config_check(c), DT_ECONFIG);
    assert_non_null(strstr(dt_last_error(), "stages.tune.multivariate has no effect with stages.tune.sampler random"));
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_widths_count_the_prior_centre),
        cmocka_unit_test(test_reproducible_from_the_seed),
        cmocka_unit_test(test_proposal_ignores_the_last_lag_results),
        cmocka_unit_test(test_constant_liar_proposes_no_running_point_twice),
        cmocka_unit_test(test_tpe_beats_random_at_a_fixed_budget),
        cmocka_unit_test(test_stage_two_workers_reproducible_and_resumable),
        cmocka_unit_test(test_sampler_keys_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
