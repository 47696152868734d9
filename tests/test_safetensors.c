/* safetensors: write/read round trip, layout details, writer argument
 * errors, atomic replace, and the reader's rejection of corrupt files (each
 * with DT_EDATA and a message naming the file and the place). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnntrouble/safetensors.h"
#include "support/test_files.h"

/* ------------------------------------------------------------ helpers */

/* 8-byte little-endian length, the JSON, then data_len bytes of data. */
static unsigned char *craft(const char *json, size_t data_len, size_t *len)
{
    size_t n = strlen(json);
    *len = 8 + n + data_len;
    unsigned char *b = calloc(*len, 1);
    assert_non_null(b);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(b + 8, json, n);
    for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (unsigned char)i;
    return b;
}

/* Parses crafted bytes, expects DT_EDATA with each fragment in the message. */
static void expect_bad(const unsigned char *b, size_t len, const char *frag1, const char *frag2)
{
    dt_st_file *f = (dt_st_file *)1;
    dt_status st = dt_st_parse(b, len, "bad.safetensors", &f);
    const char *msg = dt_last_error();
    if (st != DT_EDATA || !strstr(msg, "bad.safetensors") || (frag1 && !strstr(msg, frag1)) ||
        (frag2 && !strstr(msg, frag2)))
        print_error("status %d, message: %s (wanted '%s', '%s')\n", st, msg, frag1 ? frag1 : "",
                    frag2 ? frag2 : "");
    assert_int_equal(st, DT_EDATA);
    assert_null(f);
    assert_non_null(strstr(msg, "bad.safetensors"));
    if (frag1) assert_non_null(strstr(msg, frag1));
    if (frag2) assert_non_null(strstr(msg, frag2));
}

static void expect_bad_json(const char *json, size_t data_len, const char *frag1, const char *frag2)
{
    size_t len;
    unsigned char *b = craft(json, data_len, &len);
    expect_bad(b, len, frag1, frag2);
    free(b);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ------------------------------------------------------------ round trip */

static void test_round_trip(void **state)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f}, b[4] = {7, 8, 9, 10}, s[1] = {42.0f};
    a[3] = 1.0f / 3.0f;
    dt_st_tensor t[] = {
        {.name = "z.weight", .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "a.bias", .ndim = 4, .shape = {1, 2, 1, 2}, .data = b},
        {.name = "scalar", .ndim = 0, .data = s},
        {.name = "empty", .ndim = 2, .shape = {0, 3}, .data = NULL},
    };
    dt_st_kv meta[] = {{"arch", "lenet"}, {"mean", "[0.1307]"}, {"quote", "say \"hi\"\n"}};
    assert_int_equal(dt_st_write(path, t, 4, meta, 3), DT_OK);
    assert_int_equal(count_files(dir), 1); /* no temp file left behind */

    dt_st_file *f;
    dt_status st = dt_st_read(path, &f);
    if (st) print_error("%s\n", dt_last_error());
    assert_int_equal(st, DT_OK);
    assert_int_equal(f->n_tensors, 4);
    /* file (data) order is the order written */
    assert_string_equal(f->tensors[0].name, "z.weight");
    assert_string_equal(f->tensors[1].name, "a.bias");
    const dt_st_tensor *ta = dt_st_get(f, "z.weight"), *tb = dt_st_get(f, "a.bias");
    const dt_st_tensor *ts = dt_st_get(f, "scalar"), *te = dt_st_get(f, "empty");
    assert_true(ta && tb && ts && te);
    assert_int_equal(ta->ndim, 2);
    assert_int_equal(ta->shape[0], 2);
    assert_int_equal(ta->shape[1], 3);
    assert_int_equal(ta->numel, 6);
    assert_memory_equal(ta->data, a, sizeof a);
    assert_int_equal(tb->ndim, 4);
    assert_memory_equal(tb->data, b, sizeof b);
    assert_int_equal(ts->ndim, 0);
    assert_int_equal(ts->numel, 1);
    assert_true(ts->data[0] == 42.0f);
    assert_int_equal(te->numel, 0);
    assert_null(dt_st_get(f, "missing"));
    assert_int_equal(f->n_meta, 3);
    assert_string_equal(dt_st_meta(f, "arch"), "lenet");
    assert_string_equal(dt_st_meta(f, "mean"), "[0.1307]");
    assert_string_equal(dt_st_meta(f, "quote"), "say \"hi\"\n");
    assert_null(dt_st_meta(f, "nope"));
    dt_st_free(f);

    /* layout: header length little-endian, padded to 8, data little-endian right after */
    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | raw[k];
    assert_int_equal(n % 8, 0);
    assert_int_equal(len, 8 + n + (6 + 4 + 1) * 4);
    assert_int_equal(raw[8], '{');
    const unsigned char *d = raw + 8 + n; /* 1.5f = 0x3FC00000 */
    assert_int_equal(d[0], 0x00);
    assert_int_equal(d[1], 0x00);
    assert_int_equal(d[2], 0xC0);
    assert_int_equal(d[3], 0x3F);
    free(raw);

    /* rewriting replaces the file atomically and leaves nothing else */
    assert_int_equal(dt_st_write(path, t, 1, NULL, 0), DT_OK);
    assert_int_equal(dt_st_read(path, &f), DT_OK);
    assert_int_equal(f->n_tensors, 1);
    assert_int_equal(f->n_meta, 0);
    dt_st_free(f);
    assert_int_equal(count_files(dir), 1);
    dt_test_rmtree(dir);
}

static void test_empty_file_and_parse(void **state)
{
    size_t len;
    unsigned char *b = craft("{}      ", 0, &len);
    dt_st_file *f;
    assert_int_equal(dt_st_parse(b, len, "e", &f), DT_OK);
    assert_int_equal(f->n_tensors, 0);
    assert_int_equal(f->n_meta, 0);
    dt_st_free(f);
    free(b);
    /* tensors listed out of data order come back sorted by offset; whitespace in JSON is fine */
    b = craft("{ \"b\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\n"
              "  \"a\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]} }", 8, &len);
    assert_int_equal(dt_st_parse(b, len, "e", &f), DT_OK);
    assert_int_equal(f->n_tensors, 2);
    assert_string_equal(f->tensors[0].name, "a");
    assert_string_equal(f->tensors[1].name, "b");
    /* craft() fills data bytes 0,1,2,...: b is bytes 4..7 read little-endian */
    uint32_t u;
    memcpy(&u, f->tensors[1].data, 4);
    assert_int_equal(u, 0x07060504u);
    dt_st_free(f);
    free(b);
}

/* ------------------------------------------------------------ writer errors */

static void test_writer_errors(void **state)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    float v[2] = {1, 2};
    dt_st_tensor dup[] = {{.name = "w", .ndim = 1, .shape = {2}, .data = v},
                          {.name = "w", .ndim = 1, .shape = {2}, .data = v}};
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    assert_int_equal(dt_st_write(path, dup, 2, NULL, 0), DT_EINTERNAL);
    assert_non_null(strstr(dt_last_error(), "'w'"));
    dt_st_tensor reserved[] = {{.name = "__metadata__", .ndim = 1, .shape = {2}, .data = v}};
    assert_int_equal(dt_st_write(path, reserved, 1, NULL, 0), DT_EINTERNAL);
    dt_st_tensor empty_name[] = {{.name = "", .ndim = 1, .shape = {2}, .data = v}};
    assert_int_equal(dt_st_write(path, empty_name, 1, NULL, 0), DT_EINTERNAL);
    dt_st_tensor neg[] = {{.name = "n", .ndim = 1, .shape = {-2}, .data = v}};
    assert_int_equal(dt_st_write(path, neg, 1, NULL, 0), DT_EINTERNAL);
    assert_int_equal(count_files(dir), 0);

    /* a folder that does not exist: DT_EIO naming the path, nothing written */
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", dir);
    assert_int_equal(dt_st_write(path, dup, 1, NULL, 0), DT_EIO);
    assert_non_null(strstr(dt_last_error(), path));
    assert_int_equal(count_files(dir), 0);
    dt_test_rmtree(dir);
}

/* ------------------------------------------------------------ corrupt files */

static void test_corrupt_lengths(void **state)
{
    unsigned char tiny[5] = {1, 0, 0, 0, 0};
    expect_bad(tiny, sizeof tiny, "byte 0", "shorter than the 8-byte");
    expect_bad(NULL, 0, "byte 0", NULL);

    /* a header length far beyond the file (a lying header must not allocate it) */
    size_t len;
    unsigned char *b = craft("{}", 0, &len);
    memset(b, 0xFF, 8);
    expect_bad(b, len, "byte 0", "header length 18446744073709551615");
    b[0] = 3; memset(b + 1, 0, 7);  /* one byte more than there is */
    expect_bad(b, len, "byte 0", "exceeds");
    b[0] = 1;
    expect_bad(b, len, "byte 0", "too short");
    free(b);

    /* data block shorter than the header says (truncated file) */
    b = craft("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12, &len);
    expect_bad(b, len, "tensor 'w'", "past the end");
    free(b);
}

static void test_corrupt_json(void **state)
{
    expect_bad_json("[1,2,3,4]", 0, "byte 8", "does not start with '{'");
    expect_bad_json("{\"w\": {\"dtype\": \"F32\",", 0, "byte ", "not valid JSON");
    expect_bad_json("{} xyz", 0, "byte 11", "after the header");
    expect_bad_json("{\"w\": 3}", 0, "tensor 'w'", "not a JSON object");
    expect_bad_json("{\"\": {\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "empty name", NULL);
    expect_bad_json("{\"__metadata__\": {\"k\": 1}}", 0, "__metadata__", "'k' is not a string");
    expect_bad_json("{\"__metadata__\": [1]}", 0, "__metadata__", "not an object");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                    "tensor 'w'", "twice");
}

static void test_corrupt_tensors(void **state)
{
    expect_bad_json("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "dtype");
    expect_bad_json("{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "tensor 'h'",
                    "dtype F16 is not supported (only F32)");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "\"shape\"");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "tensor 'w'",
                    "shape entry 0");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "tensor 'w'",
                    "shape entry 0");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                    "tensor 'w'", "9 dimensions");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20, "tensor 'w'",
                    "shape [2,3] of F32 needs 24 bytes but data_offsets [0,20] span 20");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,4]}}", 4, "tensor 'w'",
                    "needs 0 bytes");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                    "\"data_offsets\":[0,4]}}", 4, "tensor 'w'", "more elements");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "tensor 'w'",
                    "data_offsets");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "tensor 'w'",
                    "end before they begin");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "tensor 'w'",
                    "data_offsets");
    expect_bad_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, "tensor 'w'",
                    "past the end");
    expect_bad_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensor 'b'",
                    "overlap tensor 'a'");
}

/* Every prefix of a valid file fails cleanly (no crash, DT_EDATA, nothing returned). */
static void test_truncations(void **state)
{
    char dir[256], path[512];
    dt_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    float v[5] = {1, 2, 3, 4, 5};
    dt_st_tensor t[] = {{.name = "a", .ndim = 1, .shape = {3}, .data = v},
                        {.name = "b", .ndim = 2, .shape = {1, 2}, .data = v + 3}};
    dt_st_kv meta[] = {{"k", "v"}};
    assert_int_equal(dt_st_write(path, t, 2, meta, 1), DT_OK);
    size_t len;
    unsigned char *raw = slurp(path, &len);
    for (size_t cut = 0; cut < len; cut++) {
        dt_st_file *f = (dt_st_file *)1;
        assert_int_equal(dt_st_parse(raw, cut, "cut", &f), DT_EDATA);
        assert_null(f);
    }
    /* and a real truncated file on disk */
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(raw, 1, len - 3, fp);
    fclose(fp);
    dt_st_file *f;
    assert_int_equal(dt_st_read(path, &f), DT_EDATA);
    assert_non_null(strstr(dt_last_error(), path));
    assert_non_null(strstr(dt_last_error(), "tensor 'b'"));
    free(raw);
    dt_test_rmtree(dir);
}

static void test_missing_file(void **state)
{
    dt_st_file *f = (dt_st_file *)1;
    assert_int_equal(dt_st_read("/nonexistent/dir/m.safetensors", &f), DT_EDATA);
    assert_null(f);
    assert_non_null(strstr(dt_last_error(), "/nonexistent/dir/m.safetensors"));
    assert_int_equal(dt_st_read("/", &f), DT_EDATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty_file_and_parse),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_corrupt_lengths),
        cmocka_unit_test(test_corrupt_json),
        cmocka_unit_test(test_corrupt_tensors),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
