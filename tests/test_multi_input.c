/* Several inputs (SPEC "Multi-input data") through the stages, on the
 * generated `pairs` set (an image and a token sequence; the label needs
 * both, docs/data.md):
 *   - the two-branch net of examples/pairs.yaml reaches >= 95% test accuracy;
 *   - with the caption replaced by noise, compare's input-independent names it;
 *   - with the caption branch cut off at run time (a zero-initialised linear
 *     layer then a ReLU), debug's input-unused names it and not the image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_stage_util.h"

#define TWO_BRANCH(caption_tail)                                                                                   \
    "[{name: c1, type: conv2d, in: image, channels: 6, kernel: 5, padding: 2}, {type: relu},"                    \
    " {type: maxpool, kernel: 2}, {name: img, type: flatten},"                                                    \
    " {name: emb, type: embedding, in: caption, dim: 16}, {name: txt, type: lstm, hidden: 64}," caption_tail     \
    " {name: cat, type: concat, in: [img, TXT]}, {name: f1, type: linear, units: 128}, {type: relu},"            \
    " {name: out, type: linear, units: classes}]"

static const char *const pairs_base[] = {
    "data.format=synthetic", "data.synthetic.generator=pairs", "data.synthetic.samples=6000", "model.arch=custom",
    "train.lr=1e-3", "train.epochs=15", "train.early_stopping.patience=5", NULL};

/* TWO_BRANCH with the caption branch's last layer named. */
static void layers_key(char *buf, size_t size, const char *tail, const char *txt)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "model.layers=" TWO_BRANCH("%s"), tail);
    char *p = strstr(tmp, "TXT");
    assert_non_null(p);
    snprintf(buf, size, "%.*s%s%s", (int)(p - tmp), tmp, txt, p + 3);
}

static void test_two_branch_net_learns_pairs(void **state)
{
    char layers[1400];
    layers_key(layers, sizeof layers, "", "txt");
    /* Under valgrind (memcheck is several hundred times slower on the LSTM
     * branch) two epochs on 1200 samples walk the same code; the bound needs 15. */
    int vg = dt_test_under_valgrind();
    const char *full[] = {layers, NULL}, *light[] = {layers, "train.epochs=2", "data.synthetic.samples=1200", NULL};
    st_run *r = st_stage(dt_stage_decompose, "decompose", pairs_base, vg ? light : full);
    double test_err = st_metric(r, "test_error");
    print_message("two-branch net on pairs: test error %.4f (train %.4f)\n", test_err, st_metric(r, "train_error"));
    if (vg) print_message("(under valgrind: 2 epochs on 1200 samples; bound not checked)\n");
    else assert_true(test_err <= 0.05);
    st_free(r);
}

/* The pairs images and labels as .npy files, with the captions replaced by
 * random tokens of the same vocabulary. */
static void noise_caption_files(const char *dir, char *img, char *cap, char *y, size_t size)
{
    dt_data_spec sp;
    dt_data_spec_defaults(&sp);
    sp.format = DT_FORMAT_SYNTHETIC;
    sp.generator = DT_GEN_PAIRS;
    sp.samples = 4000;
    sp.seed = 3;
    dt_data *d = NULL;
    assert_int_equal(dt_data_load(&sp, NULL, &d), DT_OK);
    const dt_data_source *src = &d->src[0];
    const dt_field *fi = dt_data_field(d, 0), *fc = dt_data_field(d, 1);
    size_t n = src->n, T = fc->sample_dim;
    assert_non_null(src->fx[0].u8);
    int64_t *ids = malloc(n * T * sizeof *ids), *labels = malloc(n * sizeof *labels);
    dt_rng r;
    dt_rng_seed(&r, 9);
    for (size_t i = 0; i < n * T; i++) ids[i] = (int64_t)dt_rng_below(&r, (uint64_t)fc->vocab);
    for (size_t i = 0; i < n; i++) labels[i] = (int64_t)src->y[i];
    char shape[64];
    snprintf(img, size, "%s/image.npy", dir);
    snprintf(cap, size, "%s/caption.npy", dir);
    snprintf(y, size, "%s/y.npy", dir);
    snprintf(shape, sizeof shape, "(%zu, %d, %d, %d)", n, fi->shape[0], fi->shape[1], fi->shape[2]);
    dt_test_write_npy(img, "|u1", shape, src->fx[0].u8, n * fi->sample_dim);
    snprintf(shape, sizeof shape, "(%zu, %zu)", n, T);
    dt_test_write_npy(cap, "<i8", shape, ids, n * T * sizeof *ids);
    snprintf(shape, sizeof shape, "(%zu,)", n);
    dt_test_write_npy(y, "<i8", shape, labels, n * sizeof *labels);
    free(ids);
    free(labels);
    dt_data_free(d);
}

static int names_input(const st_run *r, const char *id, const char *input)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r->json, "findings"))
    {
        const char *fid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id"));
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(f, "evidence");
        const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "input"));
        if (fid && in && !strcmp(fid, id) && !strcmp(in, input)) return 1;
    }
    return 0;
}

static void test_noise_caption_is_input_independent(void **state)
{
    char dir[256], img[400], cap[400], y[400];
    dt_test_tmpdir(dir, sizeof dir);
    noise_caption_files(dir, img, cap, y, sizeof img);
    char kx[600], kc[600], ky[600], layers[1400];
    snprintf(kx, sizeof kx, "data.train.x.image=%s", img);
    snprintf(kc, sizeof kc, "data.train.x.caption=%s", cap);
    snprintf(ky, sizeof ky, "data.train.y=%s", y);
    layers_key(layers, sizeof layers, "", "txt");
    const char *base[] = {"data.format=npy", kx, kc, ky, "model.arch=custom", "train.lr=1e-3", "train.epochs=8",
                          layers, NULL};
    st_run *r = st_stage(dt_stage_compare, "compare", base, NULL);
    char *zeroed = cJSON_PrintUnformatted(st_metric_json(r, "zeroed_input_error"));
    print_message("zeroed-input errors: %s\n", zeroed ? zeroed : "(missing)");
    free(zeroed);
    assert_true(names_input(r, "input-independent", "caption"));
    st_free(r);
    dt_test_rmtree(dir);
}

static void test_cut_branch_is_input_unused(void **state)
{
    char layers[1400];
    layers_key(layers, sizeof layers, " {name: cut, type: linear, units: 16, init: zeros}, {name: cut_relu, type: relu},",
               "cut_relu");
    const char *sets[] = {layers, "data.synthetic.samples=600", NULL};
    st_run *r = st_stage(dt_stage_debug, "debug", pairs_base, sets);
    assert_true(names_input(r, "input-unused", "caption"));
    assert_false(names_input(r, "input-unused", "image"));
    st_free(r);
    /* The healthy net: no input-unused at all. */
    layers_key(layers, sizeof layers, "", "txt");
    r = st_stage(dt_stage_debug, "debug", pairs_base, sets);
    assert_false(dt_report_has_finding(r->rep, "input-unused"));
    st_free(r);
}

/* arch auto on several fields: the seed's fusion, one encoder per field. */
static void test_auto_builds_the_fusion_network(void **state)
{
    const char *sets[] = {"model.arch=auto", "train.epochs=1", "data.synthetic.samples=600", NULL};
    st_run *r = st_stage(dt_stage_start_simple, "start-simple", pairs_base, sets);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "config"), "model"), "layers");
    char *js = cJSON_PrintUnformatted(layers);
    print_message("%s\n", js);
    const char *want[] = {"\"name\":\"image_c1\"", "\"name\":\"image_flatten\"", "\"name\":\"caption_emb\"",
                          "\"name\":\"caption_lstm\"", "\"in\":[\"image_flatten\",\"caption_lstm\"]",
                          "\"name\":\"out\""};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(js, want[i])) fail_msg("fusion lacks %s", want[i]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "config"), "model"),
                            "arch")),
                        "custom");
    free(js);
    st_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_builds_the_fusion_network),
        cmocka_unit_test(test_cut_branch_is_input_unused),
        cmocka_unit_test(test_noise_caption_is_input_independent),
        cmocka_unit_test(test_two_branch_net_learns_pairs),
    };
    return cmocka_run_group_tests_name("multi-input", tests, NULL, NULL);
}
