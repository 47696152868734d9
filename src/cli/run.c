/* Stage commands: one stage, or `run` for all of them with summary.json,
 * early stop and gates. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dnntrouble/mpi.h"
#include "dnntrouble/progress.h"
#include "dnntrouble/report.h"
#include "dnntrouble/stage.h"

/* A failure in these stages makes the rest moot: the data or the model is
 * broken, so training-based stages would only measure the bug. */
static int stops_run(const char *stage)
{
    return strcmp(stage, "start-simple") == 0 || strcmp(stage, "debug") == 0 || strcmp(stage, "overfit-batch") == 0;
}

static void print_result(const dt_report *rep, const char *out_dir)
{
    cJSON *j = dt_report_to_json(rep), *f;
    int n = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings")) n++;
    printf("%-14s %-5s %d finding%s  %s/%s.json\n", dt_report_stage(rep), dt_verdict_name(dt_report_status(rep)), n,
           n == 1 ? "" : "s", out_dir, dt_report_stage(rep));
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "findings"))
    {
        const char *sev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "severity"));
        if (sev && strcmp(sev, "info") == 0) continue;
        printf("  %-7s %s: %s\n", sev ? sev : "?", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "message")));
    }
    cJSON_Delete(j);
}

/* The plain-words verdict (after the per-stage lines), unless --quiet. */
static void print_verdict(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir,
                          const dt_cli *cli)
{
    if (cli->quiet) return;
    dt_run_verdict *v = malloc(sizeof *v);
    if (!v) return;
    dt_verdict_build(reports, n, summary, out_dir, v);
    char *text = dt_verdict_format(v);
    if (text) printf("\n%s", text);
    free(text);
    free(v);
}

/* report.html (always) and the JUnit file (--junit); a failure to write
 * either is an I/O error (exit 4) after the stages' own verdicts. */
static dt_status write_outputs(const cJSON *const *reports, int n, const cJSON *summary, const char *out_dir,
                               const dt_cli *cli)
{
    dt_status st = DT_OK;
    if (cli->junit) st = dt_junit_write(reports, n, summary, cli->junit);
    if (st) return st;
    /* The page covers every report in the folder (stages run one by one
     * build it up); `run` passes exactly its own. */
    if (summary) return dt_html_write(reports, n, summary, out_dir);
    cJSON *all[16] = {0}, *sum = NULL;
    int n_all = 0;
    st = dt_run_load(out_dir, all, 16, &n_all, &sum);
    if (!st) st = dt_html_write((const cJSON *const *)all, n_all, sum, out_dir);
    for (int i = 0; i < n_all; i++) cJSON_Delete(all[i]);
    cJSON_Delete(sum);
    return st;
}

/* Runs one stage and writes its report.  On an error status nothing is
 * written for the stage (the caller reports the error). */
static dt_status run_one(const dt_stage_def *def, dt_stage_ctx *ctx, const dt_cli *cli, dt_report **out)
{
    dt_report *rep = dt_report_new(def->name, ctx->cfg);
    if (!rep) return dt_fail(DT_ENOMEM, "out of memory starting the %s report", def->name);
    dt_progress_begin(ctx->progress, def->name);
    dt_status st = def->run(ctx, rep);
    if (st == DT_OK) st = dt_report_write(rep, ctx->out_dir);
    if (st != DT_OK) {
        dt_report_free(rep);
        return dt_fail_context(st, "%s", def->name);
    }
    if (!cli->quiet) print_result(rep, ctx->out_dir);
    *out = rep;
    return DT_OK;
}

static int print_gates(const dt_summary *sum)
{
    cJSON *j = dt_summary_to_json(sum), *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(j, "gates"))
    {
        const cJSON *actual = cJSON_GetObjectItemCaseSensitive(g, "actual");
        const cJSON *limit = cJSON_GetObjectItemCaseSensitive(g, "limit");
        char a[64] = "missing", l[64];
        if (cJSON_IsNumber(actual)) snprintf(a, sizeof a, "%g", actual->valuedouble);
        else if (cJSON_IsString(actual)) snprintf(a, sizeof a, "%s", actual->valuestring);
        if (cJSON_IsNumber(limit)) snprintf(l, sizeof l, "%g", limit->valuedouble);
        else snprintf(l, sizeof l, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "allowed")));
        /* "gate test_error: passed (0.011 <= max 0.02)", "gate debug: TRIPPED (fail, allowed: warn)" */
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "kind"));
        int passed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "passed"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name"));
        if (kind && !strcmp(kind, "stage"))
            printf("gate %s: %s (%s, allowed: %s)\n", name, passed ? "passed" : "TRIPPED", a, l);
        else
            printf("gate %s: %s (%s %s %s %s)\n", name, passed ? "passed" : "TRIPPED", a,
                   kind && !strcmp(kind, "max") ? (passed ? "<=" : ">") : (passed ? ">=" : "<"), kind ? kind : "", l);
    }
    cJSON_Delete(j);
    return 0;
}

static int run_all(dt_stage_ctx *ctx, const dt_cli *cli)
{
    dt_summary *sum = dt_summary_new(ctx->cfg);
    if (!sum) return dt_cli_fail(dt_fail(DT_ENOMEM, "out of memory"));
    cJSON *done[16] = {0};   /* the reports written, for the verdict, report.html and JUnit */
    int n_done = 0;
    dt_status err = DT_OK;
    const char *skip_reason = NULL;
    char reason[160];
    /* Everything the stages will need (files, data, the model on the data's
     * shapes), checked before the first one trains; a failure is the first
     * stage's error and the rest are skipped. */
    dt_preflight pf;
    dt_status pre = dt_stage_preflight(ctx, &pf);
    if (pre != DT_OK) {
        err = pre;
        dt_summary_error(sum, dt_stages[0].name, pre, dt_last_error());
        if (!cli->quiet) printf("%-14s error (%s; no report)\n", dt_stages[0].name, dt_status_name(pre));
        fprintf(stderr, "dnntrouble: error: %s\n", dt_last_error());
        skip_reason = "the run's checks failed before it";
    }
    for (int i = pre != DT_OK; i < dt_n_stages; i++) {
        const dt_stage_def *def = &dt_stages[i];
        if (skip_reason) {
            dt_summary_skip(sum, def->name, skip_reason);
            if (!cli->quiet) printf("%-14s skipped (%s)\n", def->name, skip_reason);
            continue;
        }
        dt_report *rep = NULL;
        dt_status st = run_one(def, ctx, cli, &rep);
        if (st != DT_OK) {
            err = st;
            dt_summary_error(sum, def->name, st, dt_last_error());
            if (!cli->quiet) printf("%-14s error (%s; no report)\n", def->name, dt_status_name(st));
            fprintf(stderr, "dnntrouble: error: %s\n", dt_last_error());
            snprintf(reason, sizeof reason, "%s stopped with an error", def->name);
            skip_reason = reason;
            continue;
        }
        dt_summary_add(sum, rep);
        if (n_done < 16) done[n_done++] = dt_report_to_json(rep);
        if (dt_report_status(rep) == DT_VERDICT_FAIL && stops_run(def->name)) {
            snprintf(reason, sizeof reason, "%s failed", def->name);
            skip_reason = reason;
        }
        dt_report_free(rep);
    }
    dt_summary_apply_gates(sum, ctx->cfg);
    dt_verdict overall = dt_summary_status(sum);
    dt_status wst = dt_summary_write(sum, ctx->out_dir);
    cJSON *sj = dt_summary_to_json(sum);
    if (!cli->quiet) {
        print_gates(sum);
        printf("run: %s  %s/summary.json\n", dt_verdict_name(overall), ctx->out_dir);
    }
    print_verdict((const cJSON *const *)done, n_done, sj, ctx->out_dir, cli);
    if (wst == DT_OK) wst = write_outputs((const cJSON *const *)done, n_done, sj, ctx->out_dir, cli);
    cJSON_Delete(sj);
    for (int i = 0; i < n_done; i++) cJSON_Delete(done[i]);
    dt_summary_free(sum);
    if (err != DT_OK) return dt_status_exit_code(err);
    if (wst != DT_OK) return dt_cli_fail(wst);
    return overall == DT_VERDICT_FAIL ? 1 : 0;
}

static int stage_command(const dt_cli *cli, int mpi_rank);

/* tune --mpi on a worker rank: train what rank 0 sends; no report. */
static int mpi_worker(dt_stage_ctx *ctx)
{
    dt_report *rep = dt_report_new("tune", ctx->cfg);
    dt_status st = rep ? dt_stage_tune(ctx, rep) : dt_fail(DT_ENOMEM, "out of memory");
    dt_report_free(rep);
    return st != DT_OK ? dt_cli_fail(dt_fail_context(st, "tune rank %d", ctx->mpi_rank)) : 0;
}

int dt_cli_stage(const dt_cli *cli)
{
    int rank = 0, size = 1;
    if (cli->mpi) {
        dt_status st = dt_mpi_init(NULL, NULL, &rank, &size);
        if (st != DT_OK) {
            int rc = dt_cli_fail(st);
            dt_mpi_finish();
            return rc;
        }
    }
    int rc = stage_command(cli, rank);
    /* An error on any rank ends the whole job: no rank is left waiting. */
    if (cli->mpi && rc > 1) dt_mpi_abort(rc);
    if (cli->mpi) dt_mpi_finish();
    return rc;
}

static int stage_command(const dt_cli *cli, int mpi_rank)
{

    dt_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return dt_cli_fail(dt_fail(DT_ENOMEM, "out of memory"));
    dt_status st = dt_cli_load_config(cli, cfg);
    char out_dir[1200];
    if (st == DT_OK) {
        snprintf(out_dir, sizeof out_dir, "%s", cli->out ? cli->out : "runs/");
        if (!cli->out) strncat(out_dir, cfg->name, sizeof out_dir - strlen(out_dir) - 1);
        st = dt_mkdir_p(out_dir);
    }
    if (st != DT_OK) {
        free(cfg);
        return dt_cli_fail(st);
    }
    dt_progress *progress = cli->quiet || mpi_rank > 0 ? NULL : dt_progress_new(stderr, isatty(fileno(stderr)));
    dt_stage_ctx ctx = {.cfg = cfg, .out_dir = out_dir, .progress = progress, .quiet = cli->quiet || mpi_rank > 0,
                        .resume = cli->resume, .mpi = cli->mpi, .mpi_rank = mpi_rank};
    int rc;
    if (mpi_rank > 0) {
        rc = mpi_worker(&ctx);
    } else if (strcmp(cli->cmd, "run") == 0) {
        rc = run_all(&ctx, cli);
    } else {
        dt_report *rep = NULL;
        st = run_one(dt_stage_find(cli->cmd), &ctx, cli, &rep);
        rc = st != DT_OK ? dt_cli_fail(st) : dt_report_status(rep) == DT_VERDICT_FAIL ? 1 : 0;
        if (st == DT_OK) {
            cJSON *j = dt_report_to_json(rep);
            print_verdict((const cJSON *const *)&j, 1, NULL, out_dir, cli);
            dt_status wst = write_outputs((const cJSON *const *)&j, 1, NULL, out_dir, cli);
            if (wst) rc = dt_cli_fail(wst);
            cJSON_Delete(j);
        }
        dt_report_free(rep);
    }
    dt_stage_ctx_release(&ctx);
    dt_progress_free(progress);
    free(cfg);
    return rc;
}
