/* `dnntrouble bench`: training throughput of the starter models (SPEC
 * "Performance"): the same shapes, batch sizes, optimizer (Adam) and thread
 * count as ../shared/bench/torch_ref.py, plus the machine's sgemm ceiling
 * measured in the same run, so the numbers can be set side by side. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cli.h"
#include "dnntrouble/blas.h"
#include "dnntrouble/model.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* sgemm ceiling: 1024^3 products for at least `seconds`. */
static double sgemm_peak(double seconds)
{
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) { free(a); free(b); free(c); return 0.0; }
    for (long i = 0; i < (long)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    int reps = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
        t = now() - t0;
    } while (t < seconds);
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n * reps / t / 1e9;
}

/* Training FLOPs of one step: forward products counted exactly, backward as
 * twice the forward (the usual 3x rule for a training step). */
static double step_flops(const dt_graph *g)
{
    double f = 0.0;
    for (int i = 0; i < g->n_nodes; i++) {
        const dt_node *n = g->nodes[i];
        if (n->op == DT_OP_MATMUL) f += 2.0 * (double)dt_numel(n) * n->in[1]->shape[1];
        else if (n->op == DT_OP_CONV2D)
            f += 2.0 * (double)dt_numel(n) * n->in[1]->shape[1] * n->in[1]->shape[2] * n->in[1]->shape[3];
        else if (n->op == DT_OP_LSTM) {
            const dt_node *x = n->in[0];
            int H = n->shape[2];
            f += 2.0 * x->shape[0] * x->shape[1] * 4.0 * H * (x->shape[2] + H);
        }
    }
    return 3.0 * f;
}

typedef struct bench_result { double samples_per_s, ms_per_step, gflops; } bench_result;

/* --profile: time of each node's forward and backward and of the optimizer
 * over `steps` training steps (the graph's own timers, g->profile), as a
 * table sorted by time. */
static void profile_steps(dt_model *m, dt_optimizer *o, long steps)
{
    dt_graph *g = m->g;
    int n = g->n_nodes;
    double *t = calloc(2 * (size_t)n + 1, sizeof *t), opt = 0.0, total = 0.0;
    int *order = calloc((size_t)n + 1, sizeof *order);
    if (!t || !order) { free(t); free(order); return; }
    g->profile = t;
    double t0 = now();
    for (long s = 0; s < steps; s++) {
        dt_graph_set_train(g, 1);
        if (dt_graph_forward(g, m->loss) || dt_graph_backward(g, m->loss)) break;
        double t1 = now();
        dt_optim_step(o, g->param_val, g->param_grad);
        opt += now() - t1;
    }
    total = now() - t0;
    g->profile = NULL;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (t[i] + t[n + i] > 0) order[k++] = i;
    for (int a = 1; a < k; a++) /* insertion sort, slowest first */
        for (int b = a; b > 0 && t[order[b]] + t[n + order[b]] > t[order[b - 1]] + t[n + order[b - 1]]; b--) {
            int x = order[b]; order[b] = order[b - 1]; order[b - 1] = x;
        }
    double ops = opt;
    printf("  %-28s %10s %10s %6s\n", "node", "fwd ms", "bwd ms", "%step");
    for (int a = 0; a < k; a++) {
        int i = order[a];
        ops += t[i] + t[n + i];
        printf("  %-28s %10.3f %10.3f %5.1f%%\n", g->nodes[i]->name, 1e3 * t[i] / steps, 1e3 * t[n + i] / steps,
               100.0 * (t[i] + t[n + i]) / total);
    }
    printf("  %-28s %10s %10.3f %5.1f%%\n", "(optimizer: adam)", "", 1e3 * opt / steps, 100.0 * opt / total);
    printf("  %-28s %10s %10.3f %5.1f%%\n", "(graph: zeroing, other)", "", 1e3 * (total - ops) / steps,
           100.0 * (total - ops) / total);
    printf("  %-28s %10.3f ms/step over %ld steps\n", "total", 1e3 * total / steps, steps);
    free(t); free(order);
}

static int bench_model(const char *name, int batch, double seconds, int profile, bench_result *r)
{
    dt_preset_args a = {.depth = 1, .act = DT_ACT_RELU};
    dt_input_shape in = {.ndim = 3, .shape = {1, 28, 28}};   /* torch_ref's MLP flattens a [1,28,28] input too */
    if (!strcmp(name, "lenet")) {
        a.arch = DT_ARCH_LENET;
    } else if (!strcmp(name, "mlp")) {
        a.arch = DT_ARCH_MLP;
        a.hidden = 256;
    } else if (!strcmp(name, "resnet")) {
        a.arch = DT_ARCH_RESNET;   /* torch_ref's ResNet8(c=1, w=16) on [1,28,28] */
    } else if (!strcmp(name, "transformer")) {
        a.arch = DT_ARCH_TRANSFORMER;   /* torch_ref's Transformer(f=28, t=28, d=64, h=4, 2 blocks) */
        in = (dt_input_shape){.ndim = 2, .shape = {28, 28}};
        a.hidden = 64;
    } else {
        a.arch = DT_ARCH_LSTM;
        in = (dt_input_shape){.ndim = 2, .shape = {28, 28}};
        a.hidden = 128;
        a.act = DT_ACT_TANH;
    }
    dt_model_spec *s = malloc(sizeof *s);
    dt_model *m = NULL;
    int failed = !s || dt_model_spec_preset(&a, &in, 10, DT_LOSS_CROSS_ENTROPY, batch, s) || dt_model_build(s, &m);
    free(s);
    if (failed) return -1;
    dt_model_init(m, 0);
    dt_rng rng;
    dt_rng_seed(&rng, 0);
    for (size_t i = 0; i < dt_numel(m->x); i++) m->x->val[i] = (float)dt_rng_normal(&rng);
    for (int i = 0; i < batch; i++) m->y->val[i] = (float)dt_rng_below(&rng, 10);
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, 1e-3f);
    dt_optimizer o;
    if (dt_optim_init(&o, &oc, m->g->n_param_values)) { dt_model_free(m); return -1; }
    float loss;
    for (int i = 0; i < 5; i++) dt_model_train_step(m, &o, &loss);
    long steps = 0;
    double t0 = now(), t;
    do {
        dt_model_train_step(m, &o, &loss);
        steps++;
        t = now() - t0;
    } while (t < seconds);
    r->samples_per_s = steps * (double)batch / t;
    r->ms_per_step = 1000.0 * t / steps;
    r->gflops = step_flops(m->g) * steps / t / 1e9;
    if (profile) profile_steps(m, &o, steps);
    dt_optim_free(&o);
    dt_model_free(m);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dnntrouble bench [--model lenet|mlp|lstm|resnet|transformer] [--batch N] [--threads N]\n"
               "                        [--seconds S] [--json] [--profile]\n"
               "Training throughput (Adam, cross-entropy, random data) of the starter models at batch\n"
               "64 and 256, and the sgemm ceiling of this machine measured in the same run.\n"
               "--profile: then as many steps again with each op's forward and backward timed.\n");
}

int dt_cli_bench(int argc, char **argv)
{
    const char *only = NULL;
    int batch = 0, threads = 1, json = 0, profile = 0;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--model") && v) { only = v; i++; }
        else if (!strcmp(a, "--batch") && v) { batch = atoi(v); i++; }
        else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
        else if (!strcmp(a, "--seconds") && v) { seconds = atof(v); i++; }
        else { usage(stderr); fprintf(stderr, "dnntrouble: error: bench: unknown or incomplete option '%s'\n", a); return 2; }
    }
    if ((only && strcmp(only, "lenet") && strcmp(only, "mlp") && strcmp(only, "lstm") && strcmp(only, "resnet") &&
         strcmp(only, "transformer")) || batch < 0 || threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "dnntrouble: error: bench: --model must be lenet, mlp, lstm, resnet or transformer; --batch, "
                        "--threads, --seconds positive\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    dt_blas_info blas;
    char blas_label[160];
    dt_blas_info_get(&blas);
    dt_blas_label(&blas, blas_label, sizeof blas_label);
    double peak = sgemm_peak(seconds < 1.0 ? seconds : 1.0);
    if (!json)
        printf("BLAS: %s%s\nsgemm ceiling: %.1f GFLOP/s (%d thread%s)\n%-6s %6s %12s %10s %8s %6s\n", blas_label,
               blas.fallback ? " -- WARNING: below what this CPU supports" : "", peak, threads,
               threads == 1 ? "" : "s", "model", "batch", "samples/s", "ms/step", "GFLOP/s", "%peak");
    const char *models[] = {"lenet", "mlp", "lstm", "resnet", "transformer"};
    int batches[] = {64, 256};
    for (int bi = 0; bi < 2; bi++) {
        int b = batch ? batch : batches[bi];
        for (int mi = 0; mi < 5; mi++) {
            if (only && strcmp(only, models[mi])) continue;
            bench_result r;
            if (profile && !json) printf("%s, batch %d: per-op profile\n", models[mi], b);
            if (bench_model(models[mi], b, seconds, profile && !json, &r)) {
                fprintf(stderr, "dnntrouble: error: bench %s: %s\n", models[mi], dt_last_error());
                return 4;
            }
            if (json)
                printf("{\"model\": \"%s\", \"batch\": %d, \"threads\": %d, \"samples_per_s\": %.1f, "
                       "\"ms_per_step\": %.3f, \"gflops\": %.2f, \"peak_gflops\": %.1f, \"blas\": \"%s %s\", "
                       "\"blas_kernel\": \"%s\", \"blas_kernel_source\": \"%s\"}\n",
                       models[mi], b, threads, r.samples_per_s, r.ms_per_step, r.gflops, peak, blas.name,
                       blas.version, blas.kernel, dt_blas_source_name(blas.source));
            else
                printf("%-6s %6d %12.0f %10.3f %8.2f %5.1f%%\n", models[mi], b, r.samples_per_s, r.ms_per_step,
                       r.gflops, 100.0 * r.gflops / peak);
            fflush(stdout);
        }
        if (batch) break;
    }
    return 0;
}
