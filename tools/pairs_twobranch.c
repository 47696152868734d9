/* Measures what a two-branch net reaches on `synthetic: {generator: pairs}`
 * (docs/data.md): conv on the image, embedding + LSTM on the caption,
 * concatenated, then a hidden linear layer and the output, built directly on
 * the graph API.  Also trains each branch alone (the other input zeroed) to
 * show that one input gives chance.  Not part of `make test` (about a minute
 * per run); build and run with
 *   make && cc -O2 -Iinclude -I/usr/include/cjson -D_GNU_SOURCE tools/pairs_twobranch.c build/libdnntrouble.a \
 *      -o build/pairs_twobranch -lopenblas -lcjson -lyaml -lz -lm -lpthread
 *   build/pairs_twobranch [samples [noise [seed [epochs]]]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/data.h"
#include "dnntrouble/graph.h"
#include "dnntrouble/optim.h"

typedef struct net {
    dt_graph *g;
    dt_node *img, *cap, *y, *out, *loss;
} net;

static dt_node *param(dt_graph *g, const char *name, int ndim, const int *shape, dt_init init, int fi, int fo)
{
    return dt_param(g, name, name, ndim, shape, init, fi, fo);
}

static void build(net *n, const dt_data *d, int B)
{
    const dt_field *fi = dt_data_field(d, 0), *fc = dt_data_field(d, 1);
    int C = fi->shape[0], H = fi->shape[1], W = fi->shape[2], T = fc->shape[0], V = fc->vocab, E = 16, L = 64;
    dt_graph *g = n->g = dt_graph_new();
    n->img = dt_input(g, "image", 4, (int[]){B, C, H, W});
    n->cap = dt_input(g, "caption", 2, (int[]){B, T});
    n->y = dt_input(g, "y", 1, (int[]){B});
    /* image branch: conv 6x5x5 pad 2 -> relu -> maxpool 2 -> flatten */
    dt_node *w1 = param(g, "c1.w", 4, (int[]){6, C, 5, 5}, DT_INIT_HE_NORMAL, C * 25, 6 * 25);
    dt_node *b1 = param(g, "c1.b", 1, (int[]){6}, DT_INIT_ZERO, C * 25, 6 * 25);
    dt_node *h = dt_relu(g, "c1", dt_bias_add(g, "c1", dt_conv2d(g, "c1", n->img, w1, 1, 2), b1));
    dt_node *img = dt_flatten(g, "img", dt_maxpool(g, "p1", h, 2, 2));
    int Fi = 6 * (H / 2) * (W / 2);
    /* caption branch: embedding -> LSTM -> last step */
    dt_node *emb = param(g, "emb.w", 2, (int[]){V, E}, DT_INIT_GLOROT_UNIFORM, V, E);
    dt_node *e = dt_embedding(g, "emb", n->cap, emb);
    dt_node *wih = param(g, "lstm.wih", 2, (int[]){4 * L, E}, DT_INIT_GLOROT_UNIFORM, E, L);
    dt_node *whh = param(g, "lstm.whh", 2, (int[]){4 * L, L}, DT_INIT_GLOROT_UNIFORM, L, L);
    dt_node *bih = param(g, "lstm.bih", 1, (int[]){4 * L}, DT_INIT_LSTM_BIAS, E, L);
    dt_node *bhh = param(g, "lstm.bhh", 1, (int[]){4 * L}, DT_INIT_ZERO, L, L);
    dt_node *txt = dt_seq_last(g, "lstm", dt_lstm(g, "lstm", e, wih, whh, bih, bhh));
    /* fusion: concat -> linear 128 -> relu -> linear K */
    dt_node *cat = dt_concat(g, "cat", img, txt, 1);
    int F = Fi + L, K = dt_data_classes(d);
    dt_node *f1w = param(g, "f1.w", 2, (int[]){128, F}, DT_INIT_HE_NORMAL, F, 128);
    dt_node *f1b = param(g, "f1.b", 1, (int[]){128}, DT_INIT_ZERO, F, 128);
    dt_node *f1 = dt_relu(g, "f1", dt_bias_add(g, "f1", dt_matmul(g, "f1", cat, f1w), f1b));
    dt_node *f2w = param(g, "out.w", 2, (int[]){K, 128}, DT_INIT_UNIFORM_FAN_IN, 128, K);
    dt_node *f2b = param(g, "out.b", 1, (int[]){K}, DT_INIT_ZERO, 128, K);
    n->out = dt_bias_add(g, "out", dt_matmul(g, "out", f1, f2w), f2b);
    n->loss = dt_cross_entropy(g, "loss", n->out, n->y);
}

/* Fills the inputs for rows; `zero` 1 zeroes the image, 2 the caption. */
static void fill(net *n, const dt_data *d, dt_split_id s, const size_t *rows, size_t k, int zero)
{
    dt_graph_set_batch(n->g, (int)k);
    dt_data_batch_field(d, s, 0, rows, k, n->img->val);
    dt_data_batch_field(d, s, 1, rows, k, n->cap->val);
    dt_data_batch_labels(d, s, rows, k, n->y->val);
    if (zero == 1) memset(n->img->val, 0, k * dt_data_field(d, 0)->sample_dim * sizeof(float));
    if (zero == 2) memset(n->cap->val, 0, k * dt_data_field(d, 1)->sample_dim * sizeof(float)); /* id 0 everywhere */
}

static double accuracy(net *n, const dt_data *d, dt_split_id s, int zero, int B)
{
    size_t N = dt_data_split_size(d, s), ok = 0, rows[256];
    int K = dt_data_classes(d);
    dt_graph_set_train(n->g, 0);
    for (size_t i = 0; i < N; i += (size_t)B) {
        size_t k = N - i < (size_t)B ? N - i : (size_t)B;
        for (size_t j = 0; j < k; j++) rows[j] = i + j;
        fill(n, d, s, rows, k, zero);
        dt_graph_forward(n->g, n->out);
        for (size_t j = 0; j < k; j++) {
            int best = 0;
            for (int c = 1; c < K; c++)
                if (n->out->val[j * (size_t)K + (size_t)c] > n->out->val[j * (size_t)K + (size_t)best]) best = c;
            ok += best == (int)n->y->val[j];
        }
    }
    return (double)ok / (double)N;
}

static void run(const dt_data *d, int zero, int epochs, unsigned long long seed)
{
    const int B = 64;
    net n = {0};
    build(&n, d, B);
    if (dt_graph_compile(n.g, B)) { fprintf(stderr, "%s\n", dt_last_error()); exit(4); }
    dt_graph_init_params(n.g, seed);
    const char *lr_env = getenv("PAIRS_LR");
    dt_optim_cfg oc = dt_optim_defaults(DT_OPT_ADAM, lr_env ? (float)atof(lr_env) : 1e-3f);
    dt_optimizer o;
    dt_optim_init(&o, &oc, n.g->n_param_values);
    dt_rng rng;
    dt_rng_seed(&rng, seed + 99);
    dt_batcher b;
    dt_batcher_init(&b, d, DT_SPLIT_TRAIN, B, 1, &rng);
    size_t rows[64], k;
    const char *what = zero == 0 ? "both inputs" : zero == 1 ? "caption only (image zeroed)" : "image only (caption zeroed)";
    for (int ep = 1; ep <= epochs; ep++) {
        double loss = 0;
        int steps = 0;
        dt_graph_set_train(n.g, 1);
        while (dt_batcher_next(&b, rows, &k)) {
            fill(&n, d, DT_SPLIT_TRAIN, rows, k, zero);
            dt_graph_forward(n.g, NULL);
            dt_graph_backward(n.g, n.loss);
            dt_optim_step(&o, n.g->param_val, n.g->param_grad);
            loss += n.loss->val[0];
            steps++;
        }
        if (zero == 0 || ep % 5 == 0 || ep == epochs)
            printf("%-28s epoch %2d  loss %.4f  train_val acc %.4f  test acc %.4f\n", what, ep, loss / steps,
                   accuracy(&n, d, DT_SPLIT_TRAIN_VAL, zero, B), accuracy(&n, d, DT_SPLIT_TEST, zero, B));
        fflush(stdout);
    }
    dt_batcher_free(&b);
    dt_optim_free(&o);
    dt_graph_free(n.g);
}

int main(int argc, char **argv)
{
    dt_data_spec s;
    dt_data_spec_defaults(&s);
    s.format = DT_FORMAT_SYNTHETIC;
    s.generator = DT_GEN_PAIRS;
    s.samples = argc > 1 ? (size_t)atol(argv[1]) : 4000;
    s.noise = argc > 2 ? atof(argv[2]) : 0.1;
    s.seed = argc > 3 ? (unsigned long long)atoll(argv[3]) : 0;
    int epochs = argc > 4 ? atoi(argv[4]) : 20;
    dt_data *d;
    if (dt_data_load(&s, NULL, &d)) { fprintf(stderr, "%s\n", dt_last_error()); return 3; }
    printf("pairs: %zu samples, noise %g, seed %llu: train %zu, train_val %zu, test %zu\n", s.samples, s.noise, s.seed,
           dt_data_split_size(d, DT_SPLIT_TRAIN), dt_data_split_size(d, DT_SPLIT_TRAIN_VAL),
           dt_data_split_size(d, DT_SPLIT_TEST));
    int runs = getenv("PAIRS_BOTH_ONLY") ? 1 : 3;
    for (int zero = 0; zero < runs; zero++) run(d, zero, epochs, s.seed);
    dt_data_free(d);
    return 0;
}
