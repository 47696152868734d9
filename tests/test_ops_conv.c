/* Tests for the image ops: conv2d (im2col + sgemm), maxpool and avgpool.
 * Finite-difference gradients, hand-computed forwards, a direct-loop
 * reference for conv forward and backward (including the chunked path),
 * build-time shape errors, the first-layer path (x without gradient), and a
 * LeNet-sized block that must run without allocating.
 *
 * malloc/calloc/realloc are wrapped (see LDFLAGS) so the no-allocation test
 * can count calls made by the library during forward and backward. */
// LDFLAGS: -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/graph.h"
#include "support/gradcheck.h"
#include "../src/ops/conv_direct.h"

#define EPS 1e-2
#define RTOL 2e-3
#define ATOL 1e-3

/* ---- allocation counting (active only while `counting` is set) ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
static int counting, n_allocs;
void *__wrap_malloc(size_t n) { n_allocs += counting; return __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { n_allocs += counting; return __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { n_allocs += counting; return __real_realloc(p, n); }

/* Input x [dims] with gradients requested. */
static dt_node *x_input(dt_graph *g, const char *name, int ndim, const int *shape)
{
    dt_node *x = dt_input(g, name, ndim, shape);
    x->requires_grad = 1;
    return x;
}

/* Distinct values 0.05 apart in shuffled order: no two elements of a pooling
 * window come within 2*EPS of each other, so max has no kink in reach. */
static void fill_distinct(dt_node *n, dt_rng *r)
{
    size_t k = dt_numel(n);
    size_t *idx = malloc(k * sizeof *idx);
    for (size_t i = 0; i < k; i++) idx[i] = i;
    dt_rng_shuffle(r, idx, k);
    for (size_t i = 0; i < k; i++) n->val[i] = 0.05f * ((float)idx[i] - (float)k / 2);
    free(idx);
}

/* Compiles, fills every input and parameter, checks gradients w.r.t. each of
 * wrt.  `distinct`: the first input gets fill_distinct instead of uniform. */
static void check_graph(dt_graph *g, dt_node *y, dt_node *const *wrt, int n_wrt, int distinct)
{
    dt_rng r;
    dt_node *loss = gc_prepare(g, y, &r);
    if (distinct) fill_distinct(g->nodes[0], &r);
    gc_result res = gc_check(g, loss, wrt, n_wrt, EPS, RTOL, ATOL, 0);
    if (res.failed) print_error("worst: %s\n", res.worst);
    assert_int_equal(res.failed, 0);
    assert_true(res.checked > 0);
    assert_true(res.skipped * 10 <= res.checked);
    dt_graph_free(g);
}

/* ---- direct-loop reference convolution ---- */
typedef struct ref_conv { int B, C, H, W, O, KH, KW, s, p, OH, OW; } ref_conv;

/* Calls f(xi, wi, yi) for every (output, tap) pair that reads a real pixel. */
#define REF_CONV_LOOP(r, BODY)                                                                  \
    for (int b = 0; b < (r)->B; b++)                                                           \
        for (int o = 0; o < (r)->O; o++)                                                       \
            for (int oh = 0; oh < (r)->OH; oh++)                                               \
                for (int ow = 0; ow < (r)->OW; ow++)                                           \
                    for (int c = 0; c < (r)->C; c++)                                           \
                        for (int ki = 0; ki < (r)->KH; ki++)                                   \
                            for (int kj = 0; kj < (r)->KW; kj++) {                             \
                                int ih = oh * (r)->s - (r)->p + ki, iw = ow * (r)->s - (r)->p + kj; \
                                if (ih < 0 || ih >= (r)->H || iw < 0 || iw >= (r)->W) continue; \
                                size_t xi = (((size_t)b * (r)->C + c) * (r)->H + ih) * (r)->W + iw; \
                                size_t wi = (((size_t)o * (r)->C + c) * (r)->KH + ki) * (r)->KW + kj; \
                                size_t yi = (((size_t)b * (r)->O + o) * (r)->OH + oh) * (r)->OW + ow; \
                                BODY;                                                          \
                            }

/* Builds y = conv2d(x, w) compiled for max_batch, runs forward and backward
 * at batch B with a random seed dy, and compares y, dx and dw with the
 * direct loops (in double). */
static void check_against_direct_at(int max_batch, int B, int C, int H, int W, int O, int KH, int KW, int s, int p)
{
    ref_conv r = {B, C, H, W, O, KH, KW, s, p, (H + 2 * p - KH) / s + 1, (W + 2 * p - KW) / s + 1};
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 4, (int[]){B, C, H, W});
    dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){O, C, KH, KW}, DT_INIT_HE_NORMAL, C * KH * KW, O);
    dt_node *y = dt_conv2d(g, "c", x, w, s, p);
    assert_non_null(y);
    assert_int_equal(dt_graph_compile(g, max_batch), DT_OK);
    assert_int_equal(dt_graph_set_batch(g, B), DT_OK);
    assert_int_equal(y->shape[2], r.OH);
    assert_int_equal(y->shape[3], r.OW);
    dt_graph_init_params(g, 11);
    dt_rng rng;
    dt_rng_seed(&rng, 5);
    gc_fill(x, &rng, -1, 1);
    size_t nx = dt_numel(x), nw = dt_numel(w), ny = dt_numel(y);
    float *dy = malloc(ny * sizeof *dy);
    for (size_t i = 0; i < ny; i++) dy[i] = (float)(2 * dt_rng_uniform(&rng) - 1);
    double *ry = calloc(ny, sizeof *ry), *rdx = calloc(nx, sizeof *rdx), *rdw = calloc(nw, sizeof *rdw);
    REF_CONV_LOOP(&r, {
        ry[yi] += (double)x->val[xi] * w->val[wi];
        rdx[xi] += (double)dy[yi] * w->val[wi];
        rdw[wi] += (double)dy[yi] * x->val[xi];
    });
    assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
    assert_int_equal(dt_graph_backward_seeded(g, y, dy), DT_OK);
    for (size_t i = 0; i < ny; i++) assert_float_equal(y->val[i], ry[i], 1e-4 * (1 + fabs(ry[i])));
    for (size_t i = 0; i < nx; i++) assert_float_equal(x->grad[i], rdx[i], 1e-4 * (1 + fabs(rdx[i])));
    for (size_t i = 0; i < nw; i++) assert_float_equal(w->grad[i], rdw[i], 1e-3 * (1 + fabs(rdw[i])));
    free(dy); free(ry); free(rdx); free(rdw);
    dt_graph_free(g);
}

static void check_against_direct(int B, int C, int H, int W, int O, int KH, int KW, int s, int p)
{
    check_against_direct_at(B, B, C, H, W, O, KH, KW, s, p);
}

/* ---- conv2d ---- */
static void test_conv_forward_hand(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 4, (int[]){1, 1, 3, 3});
    dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){1, 1, 2, 2}, DT_INIT_ZERO, 4, 1);
    dt_node *y0 = dt_conv2d(g, "c", x, w, 1, 0); /* 2x2 output, no padding */
    dt_node *y1 = dt_conv2d(g, "d", x, w, 2, 1); /* 2x2 output, one ring of zeros */
    assert_int_equal(dt_graph_compile(g, 1), DT_OK);
    for (int i = 0; i < 9; i++) x->val[i] = (float)(i + 1); /* 1 2 3 / 4 5 6 / 7 8 9 */
    for (int i = 0; i < 4; i++) w->val[i] = (float)(i + 1); /* 1 2 / 3 4 */
    dt_graph_forward(g, NULL);
    const float e0[4] = {37, 47, 67, 77};
    /* Windows at rows/cols {-1,0} and {1,2}: e.g. top-left sees only x[0,0]*w[1,1] = 4. */
    const float e1[4] = {4, 18, 36, 77};
    for (int i = 0; i < 4; i++) {
        assert_float_equal(y0->val[i], e0[i], 0);
        assert_float_equal(y1->val[i], e1[i], 0);
    }
    dt_graph_free(g);
}

static void test_conv_matches_direct_loops(void **state)
{
    check_against_direct(2, 3, 5, 7, 4, 3, 3, 1, 1);
    check_against_direct(3, 2, 6, 5, 3, 3, 2, 2, 0);
    check_against_direct(2, 3, 7, 6, 2, 5, 3, 2, 2);
    check_against_direct(2, 1, 28, 28, 6, 5, 5, 1, 2); /* LeNet c1 geometry */
    check_against_direct(2, 6, 14, 14, 16, 5, 5, 1, 0); /* LeNet c2 geometry */
    check_against_direct(1, 2, 4, 4, 2, 3, 3, 3, 2); /* stride larger than kernel tail */
}

static void test_conv_chunked_batch(void **state)
{
    /* (CKK + O) * OHW = (196 + 2) * 40000 ≈ 7.9M floats per image: the 16M-float
     * workspace cap fits 2 images, so batch 3 runs as passes of 2 and 1. */
    check_against_direct(3, 4, 200, 200, 2, 7, 7, 1, 3);
}

/* A graph compiled for a larger batch runs a smaller one (the last partial
 * batch of an epoch): the columns kept from forward for backward, and the
 * chunked path, agree with the direct loops there too. */
static void test_conv_smaller_batch_than_compiled(void **state)
{
    check_against_direct_at(5, 3, 6, 14, 14, 16, 5, 5, 1, 0); /* LeNet c2: columns kept */
    check_against_direct_at(3, 2, 4, 200, 200, 2, 7, 7, 1, 3); /* too large to keep: recomputed */
}

static void test_conv_gradients(void **state)
{
    /* B, C, H, W, O, KH, KW, stride, pad */
    const int cfg[][9] = {
        {2, 3, 5, 6, 4, 3, 3, 1, 0},
        {2, 3, 5, 6, 4, 3, 3, 1, 1},
        {2, 2, 7, 5, 3, 3, 3, 2, 1},
        {1, 3, 6, 7, 2, 2, 3, 2, 0},
        {2, 2, 5, 4, 3, 5, 5, 1, 2},
        {1, 2, 7, 8, 2, 3, 3, 2, 2},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        dt_graph *g = dt_graph_new();
        dt_node *x = x_input(g, "x", 4, (int[]){c[0], c[1], c[2], c[3]});
        dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){c[4], c[1], c[5], c[6]}, DT_INIT_HE_NORMAL,
                              c[1] * c[5] * c[6], c[4]);
        check_graph(g, dt_conv2d(g, "c", x, w, c[7], c[8]), (dt_node *[]){x, w}, 2, 0);
    }
}

static void test_conv_first_layer_weight_grad(void **state)
{
    /* The same data through a graph whose input wants no gradient (first
     * layer: the dx path is skipped) and one whose input does: dW must agree
     * exactly, since it is computed by the same im2col and sgemm. */
    float dw_ref[4 * 2 * 3 * 3];
    for (int want_dx = 1; want_dx >= 0; want_dx--) {
        dt_graph *g = dt_graph_new();
        dt_node *x = dt_input(g, "x", 4, (int[]){2, 2, 6, 5});
        x->requires_grad = want_dx;
        dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){4, 2, 3, 3}, DT_INIT_HE_NORMAL, 18, 4);
        dt_node *wts, *loss = gc_weighted_sum(g, dt_conv2d(g, "c", x, w, 2, 1), &wts);
        assert_int_equal(dt_graph_compile(g, 2), DT_OK);
        dt_graph_init_params(g, 7);
        dt_rng r;
        dt_rng_seed(&r, 9);
        gc_fill(x, &r, -1, 1);
        gc_fill(wts, &r, -1, 1);
        if (!want_dx) {
            assert_null(x->grad);
            gc_result res = gc_check(g, loss, (dt_node *[]){w}, 1, EPS, RTOL, ATOL, 0);
            assert_int_equal(res.failed, 0);
            assert_int_equal(res.checked, 72);
        }
        dt_graph_forward(g, NULL);
        dt_graph_backward(g, loss);
        for (int i = 0; i < 72; i++) {
            if (want_dx) dw_ref[i] = w->grad[i];
            else assert_float_equal(w->grad[i], dw_ref[i], 0);
        }
        dt_graph_free(g);
    }
}

static void test_conv_batch_change(void **state)
{
    /* Compiled for 4 images, run on 3: geometry follows the current batch. */
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 4, (int[]){4, 1, 4, 4});
    dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){1, 1, 1, 1}, DT_INIT_ONE, 1, 1);
    dt_node *y = dt_conv2d(g, "c", x, w, 1, 0);
    assert_int_equal(dt_graph_compile(g, 4), DT_OK);
    dt_graph_init_params(g, 1);
    assert_int_equal(dt_graph_set_batch(g, 3), DT_OK);
    assert_int_equal(y->shape[0], 3);
    for (int i = 0; i < 48; i++) x->val[i] = (float)i;
    dt_graph_forward(g, NULL);
    for (int i = 0; i < 48; i++) assert_float_equal(y->val[i], (float)i, 0);
    dt_graph_free(g);
}

/* Asserts that the build failed and the kept message names all of `want`. */
static void assert_build_error(dt_graph *g, dt_node *y, const char *const *want, int n_want)
{
    assert_null(y);
    assert_int_equal(dt_graph_compile(g, 1), DT_ESHAPE);
    const char *msg = dt_last_error();
    for (int i = 0; i < n_want; i++) {
        if (!strstr(msg, want[i])) print_error("'%s' not in: %s\n", want[i], msg);
        assert_non_null(strstr(msg, want[i]));
    }
    dt_graph_free(g);
}

static void test_shape_errors(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 4, (int[]){2, 3, 8, 8});
    dt_node *w = dt_param(g, "c1.weight", "c1", 4, (int[]){4, 2, 3, 3}, DT_INIT_HE_NORMAL, 18, 4);
    assert_build_error(g, dt_conv2d(g, "c1", x, w, 1, 0),
                       (const char *[]){"conv2d", "'c1'", "[2,3,8,8]", "[4,2,3,3]", "channels"}, 5);

    g = dt_graph_new();
    x = dt_input(g, "x", 4, (int[]){1, 1, 4, 4});
    w = dt_param(g, "c2.weight", "c2", 4, (int[]){1, 1, 7, 7}, DT_INIT_HE_NORMAL, 49, 1);
    assert_build_error(g, dt_conv2d(g, "c2", x, w, 1, 1),
                       (const char *[]){"conv2d", "'c2'", "[1,1,4,4]", "[1,1,7,7]", "padded input 6x6"}, 5);

    g = dt_graph_new();
    x = dt_input(g, "x", 2, (int[]){2, 16});
    w = dt_param(g, "c3.weight", "c3", 4, (int[]){1, 1, 3, 3}, DT_INIT_HE_NORMAL, 9, 1);
    assert_build_error(g, dt_conv2d(g, "c3", x, w, 1, 0),
                       (const char *[]){"conv2d", "'c3'", "[2,16]", "[1,1,3,3]", "4-D"}, 5);

    g = dt_graph_new();
    x = dt_input(g, "x", 4, (int[]){1, 1, 5, 5});
    w = dt_param(g, "c4.weight", "c4", 4, (int[]){1, 1, 3, 3}, DT_INIT_HE_NORMAL, 9, 1);
    assert_build_error(g, dt_conv2d(g, "c4", x, w, 0, 0), (const char *[]){"'c4'", "stride 0"}, 2);

    g = dt_graph_new();
    x = dt_input(g, "x", 4, (int[]){2, 6, 3, 3});
    assert_build_error(g, dt_maxpool(g, "p1", x, 4, 2),
                       (const char *[]){"maxpool", "'p1'", "[2,6,3,3]", "kernel 4x4"}, 4);

    g = dt_graph_new();
    x = dt_input(g, "x", 3, (int[]){2, 6, 3});
    assert_build_error(g, dt_avgpool(g, "p2", x, 2, 2), (const char *[]){"avgpool", "'p2'", "[2,6,3]"}, 3);

    g = dt_graph_new();
    x = dt_input(g, "x", 4, (int[]){1, 1, 4, 4});
    assert_build_error(g, dt_avgpool(g, "p3", x, 2, 0), (const char *[]){"avgpool", "'p3'", "stride 0"}, 3);
}

/* ---- pooling ---- */
static void test_pool_gradients(void **state)
{
    dt_node *(*fns[])(dt_graph *, const char *, dt_node *, int, int) = {dt_maxpool, dt_avgpool};
    /* B, C, H, W, k, stride: plain 2/2, floor-mode tail (5x7), overlapping windows */
    const int cfg[][6] = {{2, 3, 4, 6, 2, 2}, {2, 2, 5, 7, 2, 2}, {1, 2, 7, 6, 3, 2}, {2, 1, 5, 5, 3, 1}};
    for (size_t f = 0; f < 2; f++)
        for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
            const int *c = cfg[i];
            dt_graph *g = dt_graph_new();
            dt_node *x = x_input(g, "x", 4, (int[]){c[0], c[1], c[2], c[3]});
            check_graph(g, fns[f](g, "pool", x, c[4], c[5]), (dt_node *[]){x}, 1, 1);
        }
}

static void test_pool_forward_hand(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = x_input(g, "x", 4, (int[]){1, 1, 3, 5});
    dt_node *mp = dt_maxpool(g, "mp", x, 2, 2), *ap = dt_avgpool(g, "ap", x, 2, 2);
    dt_node *s = dt_sum(g, "s", dt_add(g, "s", dt_sum(g, "s", mp), dt_sum(g, "s", ap)));
    assert_int_equal(dt_graph_compile(g, 1), DT_OK);
    assert_int_equal(mp->shape[2], 1); /* floor mode: the last row and column are dropped */
    assert_int_equal(mp->shape[3], 2);
    const float xv[15] = {1, 3, 5, 2, 9,
                          3, 0, 5, 5, 9,
                          9, 9, 9, 9, 9};
    memcpy(x->val, xv, sizeof xv);
    dt_graph_forward(g, NULL);
    assert_float_equal(mp->val[0], 3, 0);
    assert_float_equal(mp->val[1], 5, 0);
    assert_float_equal(ap->val[0], 7.0f / 4, 0);
    assert_float_equal(ap->val[1], 17.0f / 4, 0);
    dt_graph_backward(g, s);
    /* Ties go to the first maximum in row-major order (PyTorch): x[0,1] and x[0,2]. */
    const float dx[15] = {0.25f, 1.25f, 1.25f, 0.25f, 0,
                          0.25f, 0.25f, 0.25f, 0.25f, 0,
                          0, 0, 0, 0, 0};
    for (int i = 0; i < 15; i++) assert_float_equal(x->grad[i], dx[i], 0);
    /* A NaN in a window wins, so the anomaly reaches the loss. */
    x->val[5] = NAN;
    dt_graph_forward(g, NULL);
    assert_true(isnan(mp->val[0]));
    dt_graph_free(g);
}

/* ---- the direct kernels (src/ops/conv_direct.c) against the loops and the sgemm path ---- */
static conv_direct_kind kind_for(const int *c)
{
    int OH = (c[2] + 2 * c[8] - c[5]) / c[7] + 1, OW = (c[3] + 2 * c[8] - c[6]) / c[7] + 1;
    conv_geom g = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], OH, OW, c[7], c[8],
                   (size_t)c[1] * c[5] * c[6], (size_t)OH * OW, c[0]};
    return conv_direct_kind_of(&g);
}

static void test_conv_direct_kernels(void **state)
{
    __builtin_cpu_init();
    int cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    /* B, C, H, W, O, KH, KW, stride, pad, kernel (on an AVX2+FMA CPU) */
    const int cfg[][10] = {
        {2, 1, 28, 28, 6, 5, 5, 1, 2, CONV_DIRECT_ROWS},   /* LeNet c1 */
        {2, 3, 20, 21, 5, 3, 3, 1, 1, CONV_DIRECT_ROWS},   /* 3 vectors a row, a 4+1 channel split */
        {2, 2, 10, 40, 7, 3, 4, 1, 0, CONV_DIRECT_ROWS},   /* 37 columns: tiles of 32 and 5 */
        {3, 2, 18, 17, 3, 2, 6, 1, 2, CONV_DIRECT_ROWS},   /* exactly 16 columns, 6-wide kernel */
        {1, 1, 9, 20, 13, 1, 1, 1, 0, CONV_DIRECT_ROWS},   /* 1x1 */
        {9, 2, 16, 16, 3, 3, 3, 1, 1, CONV_DIRECT_ROWS},   /* more images than one dW pass */
        {2, 6, 14, 14, 16, 5, 5, 1, 0, CONV_DIRECT_CHAN},  /* LeNet c2 */
        {2, 3, 9, 9, 8, 3, 3, 2, 1, CONV_DIRECT_CHAN},     /* stride 2: dx on the sgemm path */
        {2, 4, 7, 7, 24, 3, 3, 1, 1, CONV_DIRECT_CHAN},    /* 3 channel vectors */
        {2, 2, 6, 6, 40, 3, 3, 1, 1, CONV_DIRECT_CHAN},    /* 40 channels: 32 + 8 */
        {3, 16, 8, 8, 32, 1, 1, 2, 0, CONV_DIRECT_CHAN},   /* ResNet downsample */
        {10, 3, 5, 5, 16, 5, 5, 1, 2, CONV_DIRECT_CHAN},   /* 5x5 output, 10 images */
        {2, 3, 5, 7, 4, 3, 3, 1, 1, CONV_DIRECT_NONE},     /* neither fits */
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        assert_int_equal(kind_for(c), cpu ? c[9] : CONV_DIRECT_NONE);
        check_against_direct(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        conv_direct_enable(0); /* the same shapes on the sgemm path */
        check_against_direct(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        conv_direct_enable(1);
    }
    /* A graph compiled for more images than it runs, on both kernels. */
    check_against_direct_at(7, 3, 2, 28, 28, 6, 5, 5, 1, 2);
    check_against_direct_at(7, 5, 6, 14, 14, 16, 5, 5, 1, 0);
}

static void test_conv_direct_gradients(void **state)
{
    const int cfg[][9] = {
        {2, 2, 6, 17, 3, 3, 3, 1, 1},  /* rows */
        {2, 2, 5, 5, 8, 3, 3, 1, 1},   /* chan, stride 1 */
        {2, 3, 7, 6, 16, 3, 2, 2, 1},  /* chan, stride 2 */
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        dt_graph *g = dt_graph_new();
        dt_node *x = x_input(g, "x", 4, (int[]){c[0], c[1], c[2], c[3]});
        dt_node *w = dt_param(g, "c.weight", "c", 4, (int[]){c[4], c[1], c[5], c[6]}, DT_INIT_HE_NORMAL,
                              c[1] * c[5] * c[6], c[4]);
        check_graph(g, dt_conv2d(g, "c", x, w, c[7], c[8]), (dt_node *[]){x, w}, 2, 0);
    }
}

/* ---- a LeNet-sized block: conv -> bias -> relu -> maxpool -> conv -> bias -> avgpool ---- */
static void test_lenet_block_no_alloc(void **state)
{
    dt_graph *g = dt_graph_new();
    dt_node *x = dt_input(g, "x", 4, (int[]){64, 1, 28, 28});
    dt_node *w1 = dt_param(g, "c1.weight", "c1", 4, (int[]){6, 1, 5, 5}, DT_INIT_HE_NORMAL, 25, 6);
    dt_node *b1 = dt_param(g, "c1.bias", "c1", 1, (int[]){6}, DT_INIT_UNIFORM_FAN_IN, 25, 6);
    dt_node *w2 = dt_param(g, "c2.weight", "c2", 4, (int[]){16, 6, 5, 5}, DT_INIT_HE_NORMAL, 150, 16);
    dt_node *b2 = dt_param(g, "c2.bias", "c2", 1, (int[]){16}, DT_INIT_UNIFORM_FAN_IN, 150, 16);
    dt_node *h = dt_relu(g, "c1", dt_bias_add(g, "c1", dt_conv2d(g, "c1", x, w1, 1, 2), b1));
    h = dt_maxpool(g, "s2", h, 2, 2);                                   /* [64,6,14,14] */
    h = dt_bias_add(g, "c2", dt_conv2d(g, "c2", h, w2, 1, 0), b2);     /* [64,16,10,10] */
    h = dt_avgpool(g, "s4", h, 2, 2);                                   /* [64,16,5,5] */
    dt_node *loss = dt_mean(g, "loss", h);
    assert_int_equal(dt_graph_compile(g, 64), DT_OK);
    assert_int_equal(h->shape[2], 5);
    /* The largest conv workspace is c1's: (25 + 6) * 784 * 64 floats. */
    assert_int_equal(g->ws_len, (size_t)(25 + 6) * 784 * 64);
    dt_graph_init_params(g, 1);
    dt_rng r;
    dt_rng_seed(&r, 2);
    gc_fill(x, &r, 0, 1);
    counting = 1;
    n_allocs = 0;
    for (int step = 0; step < 2; step++) {
        assert_int_equal(dt_graph_forward(g, NULL), DT_OK);
        assert_int_equal(dt_graph_backward(g, loss), DT_OK);
    }
    counting = 0;
    assert_int_equal(n_allocs, 0);
    assert_true(isfinite(loss->val[0]));
    double s = 0;
    for (int i = 0; i < 150; i++) s += fabs(w1->grad[i]);
    assert_true(s > 0); /* gradient reached the first layer's weights */
    dt_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_forward_hand),
        cmocka_unit_test(test_conv_matches_direct_loops),
        cmocka_unit_test(test_conv_chunked_batch),
        cmocka_unit_test(test_conv_smaller_batch_than_compiled),
        cmocka_unit_test(test_conv_gradients),
        cmocka_unit_test(test_conv_first_layer_weight_grad),
        cmocka_unit_test(test_conv_batch_change),
        cmocka_unit_test(test_conv_direct_kernels),
        cmocka_unit_test(test_conv_direct_gradients),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_pool_gradients),
        cmocka_unit_test(test_pool_forward_hand),
        cmocka_unit_test(test_lenet_block_no_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
